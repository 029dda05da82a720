"""Import files into a workspace: read + validate + clean (``recsys.data``) then store atomically (``store``).

The CLI and the Data page both go through :func:`import_files`, so a dataset imported either way
is the same dataset. :func:`append_files` adds a batch of new data to a stored dataset, validated
the same way and checked against what the dataset already holds. :func:`stage_upload` and
:func:`preview_file` are the file handling behind the Data page's upload widgets.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from recsys.core import columns as C
from recsys.core.errors import PromoLensError
from recsys.data import privacy
from recsys.data.dataset import DatasetInfo, PreparedDataset, SourceInfo
from recsys.data.engine_import import EngineImport, engine_interactions
from recsys.data.files import LoadedTable, ReadLimits, Source, display_name
from recsys.data.mapping import ImportOptions, load_source
from recsys.data.prepare import prepare_dataset, prepare_tables
from recsys.data.read import read_table
from recsys.data.schema import TableSchema
from recsys.data.validate import DataError, Problem, example_rows, to_number
from recsys.workspace.locks import owned_staging
from recsys.workspace.store import Workspace

#: The sample shop shipped with the project (made by ``promolens sample --out sample_data``).
SAMPLE_DIR = Path(__file__).resolve().parents[2] / "sample_data"
SAMPLE_NAME = "Sample shop"
#: The dataset name of the Chinese sample shop (:func:`import_chinese_sample`).
SAMPLE_ZH_NAME = "中文示例店铺"


def sample_files(sample_dir: Path = SAMPLE_DIR) -> dict[str, Path]:
    """Paths of the sample's interactions, users and items files."""
    interactions = next(
        (sample_dir / n for n in ("interactions.csv", "interactions.csv.gz", "interactions.parquet")
         if (sample_dir / n).exists()),
        None,
    )
    if interactions is None:
        raise FileNotFoundError(
            f"No sample interactions file in {sample_dir}. Recreate it with "
            f"`promolens sample --out {sample_dir}`."
        )
    return {"interactions": interactions, "users": sample_dir / "users.csv", "items": sample_dir / "items.csv"}


class DuplicateImportError(PromoLensError):
    """The same files, read the same way, are already a dataset of the workspace: nothing was saved.

    ``existing`` is that dataset; import again with ``refuse_duplicate=False`` to keep a second copy.
    """

    def __init__(self, existing: DatasetInfo) -> None:
        self.existing = existing
        super().__init__(
            f"These files were already imported as '{existing.name}' ({existing.id}, "
            f"{existing.created_at:%d %b %Y %H:%M}) with the same column mapping and options, so nothing was "
            "saved. Pick that dataset in the sidebar, or confirm that you want a second copy."
        )


def find_duplicate(workspace: Workspace, fingerprint: str) -> DatasetInfo | None:
    """The dataset first imported from the same files, mapping and options (same fingerprint), if any."""
    return next(
        (d for d in workspace.datasets() if (d.base_fingerprint or d.fingerprint) == fingerprint), None
    )


def import_files(
    workspace: Workspace,
    interactions: str | Path,
    users: str | Path | None = None,
    items: str | Path | None = None,
    *,
    name: str | None = None,
    mapping: dict[str, dict[str, str]] | None = None,
    options: ImportOptions | None = None,
    names: dict[str, str] | None = None,
    pseudonymise: bool = False,
    is_sample: bool = False,
    progress: Callable[[str, float], None] | None = None,
    refuse_duplicate: bool = False,
) -> tuple[DatasetInfo, PreparedDataset]:
    """Read, validate, clean and store one dataset; raises ``validate.DataError`` on bad input.

    Nothing is written to the workspace unless every file passes. With ``refuse_duplicate``, files
    already imported the same way (same fingerprint) raise :class:`DuplicateImportError` instead of
    becoming a second, untrained copy (a double click on the Data page's import button).

    A clean interactions-only CSV is imported in DuckDB (:mod:`recsys.data.engine_import`): the same
    dataset, messages and report, at the engine's speed; the returned ``PreparedDataset`` then has an
    empty ``interactions`` frame (the rows are in the workspace: ``Workspace.load_dataset``). Any file
    the engine path does not handle, or in which it finds anything to clean, goes the pandas way.
    """
    options = options or ImportOptions()
    if pseudonymise:
        options = ImportOptions(**{**vars(options), "pseudonymise_key": workspace.secret_key()})
    if progress:
        progress("Reading and checking the files", 0.1)
    label = name or Path((names or {}).get("interactions", str(interactions))).name
    if users is None and items is None and isinstance(interactions, (str, Path)) and ENGINE_IMPORT:
        with owned_staging(workspace.path / "datasets") as folder:
            given = (names or {}).get("interactions")
            shown = display_name(given) if given is not None else Path(interactions).name
            overrides = {str(k): dict(v) for k, v in (mapping or {}).items()}
            engine = engine_interactions(interactions, shown, overrides, options, folder)
            if engine.prepared is not None:
                return _save(workspace, engine.prepared, label, is_sample, options, progress, refuse_duplicate,
                             engine)
    prepared = prepare_dataset(interactions, users, items, mapping=mapping, options=options, names=names)
    return _save(workspace, prepared, label, is_sample, options, progress, refuse_duplicate, None)


#: Import a clean interactions-only CSV in DuckDB (``recsys.data.engine_import``); False: always pandas.
ENGINE_IMPORT = True


def _save(
    workspace: Workspace, prepared: PreparedDataset, label: str, is_sample: bool, options: ImportOptions,
    progress: Callable[[str, float], None] | None, refuse_duplicate: bool, engine: EngineImport | None,
) -> tuple[DatasetInfo, PreparedDataset]:
    if refuse_duplicate and (existing := find_duplicate(workspace, prepared.fingerprint)) is not None:
        raise DuplicateImportError(existing)
    if progress:
        progress("Saving to the workspace", 0.8)
    info = workspace.save_dataset(prepared, label, is_sample=is_sample, import_options=options.fingerprint_dict(),
                                  engine=engine)
    if progress:
        progress("Done", 1.0)
    return info, prepared


def ensure_sample_dataset(workspace: Workspace, sample_dir: Path = SAMPLE_DIR) -> DatasetInfo | None:
    """Import the sample shop when the workspace has no dataset yet (first start)."""
    if workspace.datasets():
        return None
    files = sample_files(sample_dir)
    info, _ = import_files(
        workspace, files["interactions"], files["users"], files["items"], name=SAMPLE_NAME, is_sample=True
    )
    return info


def import_chinese_sample(
    workspace: Workspace, *, refuse_duplicate: bool = False, progress: Callable[[str, float], None] | None = None,
    **shop: Any,
) -> DatasetInfo:
    """Make the Chinese sample shop and import it as :data:`SAMPLE_ZH_NAME` (the Data page's choice).

    The shop is what ``promolens sample --locale zh`` writes: the default synthetic shop (``shop``
    overrides its :class:`~recsys.data.synth.SynthConfig`, e.g. ``n_users``) with Chinese labels,
    offer titles and descriptions (:func:`recsys.data.synth_zh.to_chinese`), same planted truth. Its
    files live in a temporary folder only while they are imported.
    """
    from recsys.data import synth, synth_zh

    if progress:
        progress("Making the Chinese sample shop", 0.05)
    chinese = synth_zh.to_chinese(synth.generate(**shop))
    with tempfile.TemporaryDirectory(prefix="promolens-sample-zh-") as folder:
        files = synth.write_sample(chinese, folder, compress=False)
        info, _ = import_files(
            workspace, files["interactions"], files["users"], files["items"], name=SAMPLE_ZH_NAME, is_sample=True,
            refuse_duplicate=refuse_duplicate, progress=progress,
        )
    return info


# --------------------------------------------------------------------------------------- uploads
#: Uploads wait in a private folder of this server process (``promolens-uploads-<random>`` under the
#: system's temp folder, mode 0700, made fresh by ``mkdtemp`` so no other user can pre-create it or
#: plant a symlink) until they are imported; :func:`discard_uploads` deletes them, and the folder goes
#: when the process ends.
UPLOAD_FOLDER = "promolens-uploads"
_UPLOAD_DIR: list[Path] = []
_UPLOAD_LOCK = threading.Lock()


def upload_folder() -> Path:
    """This process's private upload folder (created on first use)."""
    with _UPLOAD_LOCK:
        base = Path(tempfile.gettempdir())
        if not _UPLOAD_DIR or not _UPLOAD_DIR[0].is_dir() or _UPLOAD_DIR[0].parent != base:
            folder = Path(tempfile.mkdtemp(prefix=UPLOAD_FOLDER + "-", dir=base))
            atexit.register(shutil.rmtree, folder, True)
            _UPLOAD_DIR[:] = [folder]
        return _UPLOAD_DIR[0]


@dataclass(frozen=True)
class StagedUpload:
    """An uploaded file saved for reading: where it is, its content hash and the name to show."""

    path: Path
    sha256: str
    name: str


def stage_upload(content: bytes, name: str | None) -> StagedUpload:
    """Write an upload to a temp file named by its content hash only.

    The browser's file name is never part of the path (it can be ``../../x.csv``); it is only
    shown, through :func:`~recsys.data.files.display_name`. The folder is private to this server
    process (0700, see :func:`upload_folder`) and the file is readable by its user only (0600): it
    holds customer data. The same content is written once; symlinks are never followed.

    Examples
    --------
    >>> staged = stage_upload(b"user,item\\n1,a\\n", "../../orders.csv")  # doctest: +SKIP
    >>> staged.name, staged.path.name == staged.sha256[:32] + ".upload"  # doctest: +SKIP
    ('orders.csv', True)
    """
    digest = hashlib.sha256(content).hexdigest()
    path = upload_folder() / f"{digest[:32]}.upload"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return StagedUpload(path, digest, display_name(name))
    with os.fdopen(fd, "wb") as fh:
        fh.write(content)
    return StagedUpload(path, digest, display_name(name))


def discard_uploads(staged: Iterable[StagedUpload]) -> None:
    """Delete staged uploads once they are imported (or the import was refused)."""
    for upload in staged:
        if upload.path.parent == upload_folder():
            upload.path.unlink(missing_ok=True)


def preview_file(path: str | Path, name: str, limits: ReadLimits, rows: int = 8) -> tuple[list[str], pd.DataFrame]:
    """A file's column names and its first ``rows`` rows, read with the import's guards.

    Raises ``validate.DataError`` for a file that cannot be imported at all.
    """
    frame = read_table(path, name=name, limits=limits)
    return [str(c) for c in frame.columns], frame.head(rows)


# --------------------------------------------------------------------------------------- appends
_APPEND_FIX_NEW_DATASET = (
    "A dataset's columns are fixed at import so that its models stay comparable: remove the column "
    "from this file, or import all the data as a new dataset to use it."
)
#: The file's role in messages when no file name is known.
_NO_FILE = "append"
_PSEUDONYM = r"u_[0-9a-f]{16}"


def append_files(
    workspace: Workspace,
    dataset_id: str,
    interactions: Source | None = None,
    users: Source | None = None,
    items: Source | None = None,
    *,
    name: str | None = None,
    names: dict[str, str] | None = None,
    options: ImportOptions | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> tuple[dict[str, Any], PreparedDataset]:
    """Validate a batch of new data like an import and append it to a dataset, atomically.

    Any of the three files may be given (new customers or new offers may come before any
    interaction of theirs). The files are read with the dataset's column mapping, event weights,
    leading-zero rule and pseudonymisation, go through every check of ``prepare_dataset`` and
    are then checked against the stored dataset:

    * users / items columns must be the dataset's (a new or missing column is an error);
    * a number column of the dataset must get numbers;
    * event types the dataset never had are a *warning* (training weighs them with the Train
      page's weights; unknown ones weigh 1), so a misspelt event type does not go unnoticed;
    * interaction rows identical to a row already in the dataset are dropped and counted in the
      report (when the data has dates or order ids; without them, repeats may be real and are
      kept, as on import); a batch whose every file was already added is refused;
    * interactions of unknown customers or offers are fine: they are new.

    Returns the append's record (see ``Workspace.appends``) and the prepared batch. Raises
    ``validate.DataError`` on bad input and ``store.NotFound`` for an unknown dataset; either
    way nothing in the workspace changes.

    Examples
    --------
    >>> record, batch = append_files(ws, "d1", interactions="orders_2026-05-02.csv")   # doctest: +SKIP
    >>> record["seq"], ws.dataset("d1").version                                       # doctest: +SKIP
    (1, 1)
    """
    info = workspace.dataset(dataset_id)
    inputs = {t: s for t, s in ((C.Table.INTERACTIONS, interactions), (C.Table.USERS, users), (C.Table.ITEMS, items))
              if s is not None}
    if not inputs:
        raise DataError([Problem(_NO_FILE, None, (), 0, "no file was given to append",
                                 "Give at least one of: an interactions file, a customers file, an offers file.")])
    if progress:
        progress("Reading and checking the files", 0.1)
    options = _append_options(workspace, info, options or ImportOptions())
    shown = {t: (names or {}).get(t.value) or (Path(s).name if isinstance(s, (str, Path)) else f"{t.value} table")
             for t, s in inputs.items()}
    overrides = _append_mapping(info, inputs)
    loaded = _load_batch(inputs, shown, overrides, options)
    options = replace(options, **_fact_columns(info, loaded.get(C.Table.INTERACTIONS), overrides))
    load_warnings = [w for table in loaded.values() for w in table.warnings]
    try:
        if C.Table.INTERACTIONS in loaded:
            prepared = prepare_dataset(
                *(loaded[t].frame if t in loaded else None for t in C.Table),
                mapping=overrides, options=options, names={t.value: n for t, n in shown.items()},
            )
            prepared.warnings = [w for w in prepared.warnings if "appear in the interactions" not in w.message]
        else:
            prepared = prepare_tables(loaded, overrides, options)
    except DataError as exc:
        raise DataError(exc.problems, load_warnings + exc.warnings) from None
    prepared.warnings = load_warnings + prepared.warnings
    prepared.sources = [SourceInfo(t.value, lt.name, lt.sha256, lt.bytes, len(lt.frame)) for t, lt in loaded.items()]
    _check_against_dataset(workspace, info, prepared, loaded)
    if progress:
        progress("Saving to the workspace", 0.8)
    label = name or " + ".join(shown.values())
    record = workspace.append_dataset(dataset_id, prepared, label)
    if progress:
        progress("Done", 1.0)
    return record, prepared


def _append_options(workspace: Workspace, info: DatasetInfo, options: ImportOptions) -> ImportOptions:
    """The caller's options with what decides a file's meaning taken from the dataset's import."""
    stored = info.import_options
    changes: dict[str, Any] = {}
    if stored:
        changes["event_weights"] = stored.get("event_weights")
        changes["leading_zero_ids"] = stored.get("leading_zero_ids", options.leading_zero_ids)
        label = stored.get("pseudonym_key")
    else:  # imported before appends existed: ids that all look like our pseudonyms were made with this key
        label = None
        sample = _parquet_query(
            f"SELECT {C.USER_ID} FROM read_parquet(?) LIMIT 1000", [str(workspace.table_path(info.id, C.Table.INTERACTIONS))],
        )[C.USER_ID].astype("str")
        if len(sample) and sample.str.fullmatch(_PSEUDONYM).all():
            label = privacy.key_fingerprint(workspace.secret_key())
    given = options.pseudonymise_key
    if label is None:
        if given is not None:
            raise DataError([Problem(_NO_FILE, C.USER_ID, (), 0,
                                     f"dataset '{info.id}' keeps its customer ids as they are, but a "
                                     "pseudonymisation key was given for this append",
                                     "Append without a pseudonymisation key, so the ids match the dataset's.")])
        changes["pseudonymise_key"] = None
    elif given is not None and privacy.key_fingerprint(given) == label:
        changes["pseudonymise_key"] = given
    elif privacy.key_fingerprint(workspace.secret_key()) == label:
        changes["pseudonymise_key"] = workspace.secret_key()
    else:
        raise DataError([Problem(_NO_FILE, C.USER_ID, (), 0,
                                 f"dataset '{info.id}' replaced its customer ids by pseudonyms made with a key that "
                                 f"is not this workspace's (key label {label})",
                                 "Pass that key (ImportOptions.pseudonymise_key) so the new ids get the same "
                                 "pseudonyms.")])
    return replace(options, **changes)


def _append_mapping(info: DatasetInfo, inputs: dict[C.Table, Source]) -> dict[str, dict[str, str | None]]:
    """The dataset's column mapping; canonical columns it did not map stay unmapped."""
    mapping: dict[str, dict[str, str | None]] = {}
    for table in inputs:
        stored = info.mapping.get(table.value)
        if stored:
            mapping[table.value] = {c: stored.get(c) for c in C.MAPPABLE_COLUMNS[table]}
    return mapping


def _load_batch(
    inputs: dict[C.Table, Source], shown: dict[C.Table, str], overrides: dict[str, dict[str, str | None]],
    options: ImportOptions,
) -> dict[C.Table, LoadedTable]:
    """Read every file once (the header decides which columns are facts); all file problems at once."""
    loaded, problems, warnings = {}, [], []
    for table, source in inputs.items():
        try:
            loaded[table] = load_source(source, shown[table], table, overrides.get(table.value), options)
        except DataError as exc:
            problems += exc.problems
            warnings += exc.warnings
    problems += options.problems()
    if problems:
        raise DataError(problems, warnings + [w for t in loaded.values() for w in t.warnings])
    return loaded


def _fact_columns(
    info: DatasetInfo, loaded: LoadedTable | None, overrides: dict[str, dict[str, str | None]],
) -> dict[str, tuple[str, ...]]:
    """Columns of the interactions file that are customer / offer facts of the dataset (and only those)."""
    if loaded is None:
        return {"user_columns": (), "item_columns": ()}
    mapped = {v for v in overrides.get(C.Table.INTERACTIONS.value, {}).values() if v}
    free = [c for c in loaded.frame.columns if c not in mapped]
    user_names = {c.name for c in info.user_schema.columns}
    item_names = {c.name for c in info.item_schema.columns}
    return {"user_columns": tuple(c for c in free if c in user_names),
            "item_columns": tuple(c for c in free if c in item_names and c not in user_names)}


def _check_against_dataset(
    workspace: Workspace, info: DatasetInfo, prepared: PreparedDataset, loaded: dict[C.Table, LoadedTable],
) -> None:
    """Checks of a prepared batch against the stored dataset; fixes the batch in place or raises."""
    problems: list[Problem] = []
    history = workspace.appends(info.id)
    folders = workspace.batch_folders(info.id, history)
    inter_file = loaded[C.Table.INTERACTIONS].name if C.Table.INTERACTIONS in loaded else _NO_FILE
    for table, key, schema in ((C.Table.USERS, C.USER_ID, info.user_schema), (C.Table.ITEMS, C.ITEM_ID, info.item_schema)):
        frame = getattr(prepared, table.value)
        problems += _column_problems(frame, key, schema, loaded.get(table), inter_file, table)
        problems += _number_problems(workspace, info, table, frame, loaded.get(table))
    if problems:
        raise DataError(problems, prepared.warnings)
    inter = prepared.interactions
    if len(inter):
        prepared.warnings += _new_event_warnings(folders, inter, inter_file, prepared.mapping)
        _drop_known_rows(folders, prepared)
    _refuse_nothing_new(info, history, prepared)


def _column_problems(
    frame: pd.DataFrame, key: str, schema: TableSchema, loaded: LoadedTable | None, inter_file: str, table: C.Table,
) -> list[Problem]:
    expected = [c.name for c in schema.columns]
    have = [c for c in frame.columns if c != key]
    what, a_what = ("customer", "a customer") if table == C.Table.USERS else ("offer", "an offer")
    problems = []
    for column in (c for c in have if c not in expected):
        file = loaded.name if loaded is not None and column in loaded.frame.columns else inter_file
        problems.append(Problem(
            file, column, (), 0,
            f"column '{column}' is not {a_what} column of this dataset (its {what} columns are "
            f"{', '.join(repr(c) for c in expected) or 'none'})", _APPEND_FIX_NEW_DATASET))
    if loaded is not None:  # a users / items file must bring every column, so facts are not half-updated
        for column in (c for c in expected if c not in have):
            problems.append(Problem(
                loaded.name, column, (), 0,
                f"the {table.value} file has no column '{column}', which every {what} of this dataset has",
                f"Add a column named '{column}' to the file (empty cells are fine where it is unknown)."))
    return problems


def _stored_types(workspace: Workspace, dataset_id: str, table: C.Table) -> dict[str, str]:
    """Column -> 'number' / 'other' of a stored table (from the Parquet schema; no data read)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(workspace.table_path(dataset_id, table))
    return {f.name: "number" if pa.types.is_integer(f.type) or pa.types.is_floating(f.type) else "other"
            for f in schema}


def _number_problems(
    workspace: Workspace, info: DatasetInfo, table: C.Table, frame: pd.DataFrame, loaded: LoadedTable | None,
) -> list[Problem]:
    """Number columns of the dataset must get numbers (text in them is refused, row by row)."""
    types = _stored_types(workspace, info.id, table)
    problems = []
    for column in frame.columns:  # a loop over columns
        if types.get(column) != "number" or pd.api.types.is_numeric_dtype(frame[column]):
            continue
        numbers, bad = to_number(frame[column])
        if bad.any():
            raw_bad = bad
            if loaded is not None and column in loaded.frame.columns:  # spreadsheet rows of the file
                raw_bad = to_number(loaded.frame[column])[1]
            problems.append(Problem(
                loaded.name if loaded is not None else _NO_FILE, column, example_rows(raw_bad), int(raw_bad.sum()),
                f"column '{column}' holds numbers in this dataset, but {int(raw_bad.sum()):,} rows of the file "
                "hold text that is not a number", "Correct or empty those cells, then append the file again."))
        else:
            frame[column] = numbers
    return problems


def _parquet_query(sql: str, params: list[Any]) -> pd.DataFrame:
    """A query over the workspace's Parquet files in an in-memory DuckDB (the catalogue stays closed)."""
    with duckdb.connect() as con:
        return con.execute(sql, params).df()


def _new_event_warnings(
    folders: list[Path], inter: pd.DataFrame, file: str, mapping: dict[str, dict[str, str]],
) -> list[Problem]:
    """A warning per batch naming the event types the dataset never had."""
    files = [str(f / f"{C.Table.INTERACTIONS.value}.parquet") for f in folders]
    known = set(_parquet_query(f"SELECT DISTINCT {C.EVENT} FROM read_parquet(?)", [files])[C.EVENT].astype("str"))
    counts = inter[C.EVENT].value_counts()
    new = counts[~counts.index.isin(list(known))]
    if new.empty:
        return []
    listed = ", ".join(f"'{e}' ({n:,} row{'s' if n != 1 else ''})" for e, n in new.items())
    column = mapping.get(C.Table.INTERACTIONS.value, {}).get(C.EVENT)
    return [Problem(
        file, column, (), int(new.sum()),
        f"event types this dataset never had: {listed}; known ones are "
        f"{', '.join(repr(e) for e in sorted(known))}. Training weighs them with the Train page's event weights "
        "(an event type without a weight there weighs 1)",
        "If one is a misspelling, fix the file and append it again; otherwise give it a weight on the Train page.",
        "warning")]


def _drop_known_rows(folders: list[Path], prepared: PreparedDataset) -> None:
    """Drop batch interactions identical to a row already in the dataset (re-sent data), with a report step."""
    inter = prepared.interactions
    mapped = prepared.mapping.get(C.Table.INTERACTIONS.value, {})
    dated = C.TIMESTAMP in mapped or C.ORDER_ID in mapped
    ids = list(pd.unique(inter[C.USER_ID]))
    known = []
    for folder in folders:  # a loop over files: only rows of the batch's customers are read
        path = folder / f"{C.Table.INTERACTIONS.value}.parquet"
        known.append(pd.read_parquet(path, filters=[(C.USER_ID, "in", ids)]))
    columns = list(C.INTERACTION_COLUMNS)
    stored = pd.concat(known, ignore_index=True)[columns].drop_duplicates()
    stored[C.TIMESTAMP] = stored[C.TIMESTAMP].astype(inter[C.TIMESTAMP].dtype)
    hits = inter[columns].reset_index().merge(stored, on=columns, how="inner")["index"].to_numpy()
    repeated = np.zeros(len(inter), dtype=bool)
    repeated[hits] = True
    table = C.Table.INTERACTIONS.value
    if not dated:
        prepared.report.add(table, "rows already in the dataset", int(repeated.sum()),
                            "Rows identical to a row already in the dataset were kept: without a date or order "
                            "column they may be real repeat interactions.", action="kept")
        return
    prepared.report.add(table, "rows already in the dataset", int(repeated.sum()),
                        "Rows identical in every column to a row already in the dataset (sent again) were dropped.")
    if repeated.any():
        prepared.interactions = inter[~repeated].reset_index(drop=True)
        prepared.report.rows_out[table] = len(prepared.interactions)


def _refuse_nothing_new(info: DatasetInfo, history: list[dict[str, Any]], prepared: PreparedDataset) -> None:
    """A batch that adds nothing, or whose every file was already added, is refused."""
    earlier = {s.get("sha256"): "the import" for s in info.sources}
    for record in history:
        earlier.update({s.get("sha256"): f"append {record['seq']} ('{record['name']}')" for s in record["sources"]})
    seen = [earlier.get(s.sha256) for s in prepared.sources]
    files = ", ".join(s.name for s in prepared.sources)
    if all(seen):
        raise DataError([Problem(files, None, (), 0,
                                 f"{'this file was' if len(seen) == 1 else 'these files were'} already added to "
                                 f"dataset '{info.id}' ({', '.join(dict.fromkeys(seen))})",
                                 "Nothing to do; append only new data.")], prepared.warnings)
    if len(prepared.interactions) == 0 and len(prepared.users) == 0 and len(prepared.items) == 0:
        raise DataError([Problem(files, None, (), 0,
                                 f"nothing new: every row is already in dataset '{info.id}'",
                                 "Nothing to do; append only new data.")], prepared.warnings)
