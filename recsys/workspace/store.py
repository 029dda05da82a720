"""The workspace: one DuckDB catalogue + Parquet tables + model and export files.

Layout of a workspace directory::

    catalog.duckdb            datasets, runs, segments, exports, measurements (one row each)
    secret.key                the keyed-pseudonymisation key (created on first use, mode 0600)
    datasets/<id>/            interactions.parquet, users.parquet, items.parquet (as imported)
    datasets/<id>/appends/<seq>/  the same three tables of each later append (0001, 0002, ...)
    runs/<id>/                model files of one training run
    exports/<id>/             targeting CSV + manifest
    segments/<id>.parquet     member lists of saved segments

Writes are atomic: files are written into a staging directory owned by the writing process, moved
into place with one ``os.replace`` and only then recorded in the catalogue, in one transaction, all
under the workspace's writer lock (see :mod:`recsys.workspace.locks`). A failed or interrupted
import leaves no catalogue row; on open, staging directories of dead writers and directories
without a row are swept (the latter only while holding the writer lock, so never a live write's).
A full disk becomes a plain "disk full" message, with the workspace unchanged.

A dataset grows by *appends* (:meth:`Workspace.append_dataset`): each batch of new interactions,
customers and offers is kept in its own folder with one ``appends`` row, so the dataset keeps its
history. ``DatasetInfo.version`` counts the appends; the fingerprint changes with every append, and
:meth:`Workspace.load_dataset` can return the dataset as of any version.

DuckDB allows one process at a time; writing connections here are short-lived, reads are answered
from this process's in-memory copy of the catalogue, refreshed only when a writer changed it
(:mod:`recsys.workspace.catalog`), and a lock held by another process (or the writer lock, beyond
a bounded wait) becomes a :class:`WorkspaceBusy` error with a plain message.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from recsys.core import columns as C
from recsys.core.jsonio import dumps
from recsys.data.coded import write_coded_table
from recsys.data.dataset import DatasetInfo
from recsys.data.schema import TableSchema
from recsys.workspace.appends import APPENDS_DIR, AppendsMixin
from recsys.workspace.catalog import bump_version, columns_of, mirror, schema_columns
from recsys.workspace.locks import (
    TMP_PREFIX, WorkspaceBusy, WorkspaceError, busy_message, disk_errors, owned_staging, sweep_staging, writer_lock,
)
from recsys.workspace.records import (
    DATASET_COLUMNS, DATASETS_SQL, SCHEMA_SQL, dataset_info, decode_row, file_sha256, folder_digests, now, rollback,
)

DEFAULT_WORKSPACE = "workspace"
CATALOG_FILE = "catalog.duckdb"
KEY_FILE = "secret.key"
_TMP_PREFIX = TMP_PREFIX
_LOCK_WAIT_SECONDS = 10.0
# DuckDB shares one database instance per file inside a process; two threads (two app sessions)
# attaching or detaching the same file at once get "Unique file handle conflict". Serialise both.
_ATTACH_LOCK = threading.Lock()

_ID_PREFIX = {"datasets": "d", "runs": "r", "segments": "s", "exports": "e", "measurements": "m"}


class NotFound(WorkspaceError, KeyError):
    """An id that the workspace does not know."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def _dumps(value: Any) -> str:
    return dumps(value)


class Workspace(AppendsMixin):
    """A PromoLens workspace directory.

    Parameters
    ----------
    path
        The directory; created on first use.

    Examples
    --------
    >>> ws = Workspace("/tmp/promolens-doc-ws")   # doctest: +SKIP
    >>> [d.name for d in ws.datasets()]           # doctest: +SKIP
    ['sample shop']
    """

    def __init__(self, path: str | os.PathLike[str] = DEFAULT_WORKSPACE) -> None:
        self.path = Path(path).expanduser().resolve()
        self._ensure()

    # ------------------------------------------------------------------ plumbing
    @property
    def catalog_path(self) -> Path:
        return self.path / CATALOG_FILE

    def _ensure(self) -> None:
        if self.path.exists() and not self.path.is_dir():
            raise WorkspaceError(f"Workspace path {self.path} is a file, not a directory. Choose another path.")
        self.path.mkdir(parents=True, exist_ok=True)
        for sub in ("datasets", "runs", "exports", "segments"):
            (self.path / sub).mkdir(exist_ok=True)
        # The schema is created (or brought up to date) only when it lacks something: a write
        # would make every process re-read the catalogue.
        with self.connect(read_only=True) as con:
            current = columns_of(con)
        if not schema_columns(SCHEMA_SQL) <= current:
            with self.connect() as con:
                con.execute(SCHEMA_SQL)
        self._sweep_leftovers()
        self.secret_key()

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A DuckDB connection; a lock held elsewhere becomes :class:`WorkspaceBusy`.

        A reading connection (``read_only=True``) is a cursor on this process's in-memory copy of
        the catalogue (:mod:`recsys.workspace.catalog`), re-read from the file only when it has
        changed; ``read_parquet`` works there too. A writing connection is a short-lived
        connection to the file that also holds the workspace's writer lock, so writers of all
        processes take turns, and turns "no space left" into a plain message; when it closes after a
        successful write, every process's copy is marked stale.
        """
        if read_only:
            with mirror(self.catalog_path).cursor(self._connect) as con:
                yield con
            return
        with writer_lock(self.path), disk_errors(self.path):
            with self._connect() as con:
                yield con
            # Only after a write that went through: a failed one is rolled back and changes no
            # file (should it have committed something first, the catalogue file's own change
            # is in the copies' key too).
            bump_version(self.catalog_path)

    @contextmanager
    def _connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        deadline = time.monotonic() + _LOCK_WAIT_SECONDS
        while True:
            try:
                # Always read-write: DuckDB refuses two connections with different configurations
                # to one file inside a process, and ours are short-lived anyway.
                with _ATTACH_LOCK:
                    con = duckdb.connect(str(self.catalog_path))
                break
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower():
                    raise WorkspaceError(f"Cannot open the workspace catalogue {self.catalog_path}: {exc}") from exc
                if time.monotonic() > deadline:
                    raise WorkspaceBusy(busy_message(
                        self.path, "it has the catalogue open; DuckDB allows one process at a time"
                    )) from exc
                time.sleep(0.2)
        try:
            yield con
        finally:
            with _ATTACH_LOCK:
                con.close()

    def _sweep_leftovers(self) -> None:
        """Remove what interrupted writes left: only what is provably abandoned.

        Staging folders whose owner process is gone (its lock is free) are removed at once. Folders
        in place but without a catalogue row (a kill between the move and the COMMIT) are removed
        only while this process holds the writer lock: every move-and-commit happens under it, so
        such a folder cannot belong to a live write. If another writer holds it, the sweep waits
        for a later open.
        """
        for sub in ("datasets", "runs", "exports", "segments"):
            sweep_staging(self.path / sub)
        with writer_lock(self.path, wait=0) as held:
            if not held:
                return
            with self.connect(read_only=True) as con:  # up to date: every write happens under this lock
                rows = {
                    table: {r[0] for r in con.execute(f"SELECT {column} FROM {table}").fetchall()}
                    for table, column in (("datasets", "id"), ("runs", "model_dir"), ("exports", "id"),
                                          ("segments", "members_file"))
                }
                appends = set(con.execute("SELECT dataset_id, seq FROM appends").fetchall())
            for table, pattern in (("datasets", r"d\d+"), ("runs", r"r\d+"), ("exports", r"e\d+"),
                                   ("segments", r"s\d+\.parquet")):
                for folder in (self.path / table).iterdir():
                    if re.fullmatch(pattern, folder.name) and folder.name not in rows[table]:
                        shutil.rmtree(folder, ignore_errors=True) if folder.is_dir() else folder.unlink(missing_ok=True)
            # An append interrupted between its move and its commit leaves a folder without a row.
            for folder in (self.path / "datasets").glob(f"*/{APPENDS_DIR}/*"):
                dataset_id = folder.parent.parent.name
                if not (folder.name.isdigit() and (dataset_id, int(folder.name)) in appends):
                    shutil.rmtree(folder, ignore_errors=True)

    def _next_id(self, con: duckdb.DuckDBPyConnection, table: str) -> str:
        prefix = _ID_PREFIX[table]
        ids = [row[0] for row in con.execute(f"SELECT id FROM {table}").fetchall()]
        numbers = [int(m.group(1)) for i in ids if (m := re.fullmatch(prefix + r"(\d+)", i))]
        taken = set(ids) | {p.name for p in (self.path / table).glob(prefix + "*")}
        n = max(numbers, default=0) + 1
        while f"{prefix}{n}" in taken:
            n += 1
        return f"{prefix}{n}"

    @contextmanager
    def _staging(self, sub: str) -> Iterator[Path]:
        """A staging folder owned (locked) by this process; a full disk becomes a plain message."""
        with owned_staging(self.path / sub) as tmp, disk_errors(self.path):
            yield tmp

    def secret_key(self) -> bytes:
        """The workspace's pseudonymisation key (created with mode 0600 on first use).

        Two processes creating it at once agree on one key: each writes its own file and links it
        into place, which fails for the second (that one then reads the first's key).
        """
        key_path = self.path / KEY_FILE
        if not key_path.exists():
            tmp = key_path.with_name(f"{_TMP_PREFIX}{os.getpid()}-{secrets.token_hex(6)}.key")
            fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            try:
                os.write(fd, secrets.token_bytes(32))
            finally:
                os.close(fd)
            try:
                os.link(tmp, key_path)
            except FileExistsError:
                pass
            finally:
                tmp.unlink(missing_ok=True)
        return key_path.read_bytes()

    def query(self, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
        """Run a read-only SQL query (e.g. over ``read_parquet`` of a dataset) and return a frame."""
        with self.connect(read_only=True) as con:
            return con.execute(sql, params or []).df()

    # ------------------------------------------------------------------ datasets
    def dataset_dir(self, dataset_id: str) -> Path:
        return self.inside(self.path / "datasets" / dataset_id)

    def table_path(self, dataset_id: str, table: C.Table | str) -> Path:
        return self.dataset_dir(dataset_id) / f"{C.Table(table).value}.parquet"

    def save_dataset(
        self, prepared: Any, name: str, is_sample: bool = False, *, import_options: dict[str, Any] | None = None,
        engine: Any = None,
    ) -> DatasetInfo:
        """Store a prepared dataset (see ``prepare.prepare_dataset``) atomically and return its info.

        ``import_options`` (``mapping.ImportOptions.fingerprint_dict()``) are kept so that later appends
        read their files the same way (event weights, leading zeros, pseudonymisation). ``engine`` (an
        ``engine_import.EngineImport``) brings the interactions as a Parquet file already written by
        DuckDB, with their counts; it is moved in, and ``prepared.interactions`` is not used.
        """
        name = name.strip() or "dataset"
        inter = prepared.interactions
        with self._staging("datasets") as tmp:
            if engine is None:
                write_coded_table(inter, tmp / f"{C.Table.INTERACTIONS.value}.parquet")
            else:
                shutil.move(engine.path, tmp / f"{C.Table.INTERACTIONS.value}.parquet")
            write_coded_table(prepared.users, tmp / f"{C.Table.USERS.value}.parquet")
            write_coded_table(prepared.items, tmp / f"{C.Table.ITEMS.value}.parquet")
            if engine is None:
                n_rows = len(inter)
                n_users = int(pd.concat([inter[C.USER_ID], prepared.users[C.USER_ID]]).nunique())
                n_items = int(pd.concat([inter[C.ITEM_ID], prepared.items[C.ITEM_ID]]).nunique())
            else:  # the users and items tables hold no ids beyond the interactions' (engine_import)
                n_rows, n_users, n_items = engine.rows, engine.n_users, engine.n_items
            dataset_id = ""
            with self.connect() as con:
                con.execute("BEGIN TRANSACTION")
                try:
                    dataset_id = self._next_id(con, "datasets")
                    con.execute(
                        f"INSERT INTO datasets ({DATASET_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        [
                            dataset_id, name, now(), prepared.fingerprint,
                            _dumps([vars(s) for s in prepared.sources]), _dumps(prepared.mapping),
                            _dumps(prepared.report.to_dict()),
                            _dumps([w.to_dict() for w in prepared.warnings]),
                            _dumps(prepared.identifiers), _dumps(prepared.user_schema.to_list()),
                            _dumps(prepared.item_schema.to_list()), n_rows, n_users, n_items,
                            is_sample, None if import_options is None else _dumps(import_options),
                        ],
                    )
                    # read back on this connection: the row as committed, and no re-copy of the
                    # catalogue for this process's readers just to return it
                    row = con.execute(DATASETS_SQL + " WHERE d.id = ?", [dataset_id]).df().iloc[0].to_dict()
                    os.replace(tmp, self.dataset_dir(dataset_id))
                    con.execute("COMMIT")
                except BaseException:
                    rollback(con)
                    if dataset_id and self.dataset_dir(dataset_id).exists() and not tmp.exists():
                        os.replace(self.dataset_dir(dataset_id), tmp)  # undo the move
                    raise
        return dataset_info(row)

    def datasets(self) -> list[DatasetInfo]:
        """All datasets, newest first (each as of its latest append)."""
        with self.connect(read_only=True) as con:
            frame = con.execute(DATASETS_SQL + " ORDER BY d.created_at DESC, d.id DESC").df()
        return [dataset_info(row) for row in frame.to_dict("records")]

    def dataset(self, dataset_id: str) -> DatasetInfo:
        """One dataset's info as of its latest append; :class:`NotFound` names the known ids."""
        with self.connect(read_only=True) as con:
            frame = con.execute(DATASETS_SQL + " WHERE d.id = ?", [dataset_id]).df()
        if frame.empty:
            known = ", ".join(d.id for d in self.datasets()) or "none yet"
            raise NotFound(f"No dataset '{dataset_id}' in workspace {self.path} (known: {known}).")
        return dataset_info(frame.iloc[0].to_dict())

    def rename_dataset(self, dataset_id: str, name: str) -> None:
        self.dataset(dataset_id)
        with self.connect() as con:
            con.execute("UPDATE datasets SET name = ? WHERE id = ?", [name.strip(), dataset_id])

    def update_schemas(self, dataset_id: str, user_schema: TableSchema, item_schema: TableSchema) -> None:
        """Change column kinds / sensitivity of a stored dataset."""
        self.dataset(dataset_id)
        with self.connect() as con:
            con.execute(
                "UPDATE datasets SET user_schema = ?, item_schema = ? WHERE id = ?",
                [_dumps(user_schema.to_list()), _dumps(item_schema.to_list()), dataset_id],
            )

    def delete_dataset(self, dataset_id: str) -> None:
        """Delete a dataset and everything built on it (runs, segments)."""
        self.dataset(dataset_id)
        for run in self.runs(dataset_id):
            self.delete_run(run["id"])
        with self.connect() as con:
            con.execute("DELETE FROM segments WHERE dataset_id = ?", [dataset_id])
            con.execute("DELETE FROM appends WHERE dataset_id = ?", [dataset_id])
            con.execute("DELETE FROM datasets WHERE id = ?", [dataset_id])
        shutil.rmtree(self.dataset_dir(dataset_id), ignore_errors=True)

    def find_dataset_by_fingerprint(self, fingerprint: str) -> DatasetInfo | None:
        return next((d for d in self.datasets() if d.fingerprint == fingerprint), None)

    # ------------------------------------------------------------------ runs
    def run_dir(self, run_id: str) -> Path:
        return self.inside(self.path / "runs" / run_id)

    def save_run(
        self,
        dataset_id: str,
        record: dict[str, Any],
        write_model: Any,
    ) -> str:
        """Record one training run. ``write_model(directory)`` writes the model files.

        ``record`` holds JSON-able ``config``, ``metrics``, ``epochs``, ``timings``, ``split`` and
        ``extra`` entries.
        """
        info = self.dataset(dataset_id)
        trained_on = (record.get("extra") or {}).get("dataset_fingerprint") or info.fingerprint
        with self._staging("runs") as tmp:
            write_model(tmp)
            digests = folder_digests(tmp)
            with self.connect() as con:
                con.execute("BEGIN TRANSACTION")
                try:
                    run_id = self._next_id(con, "runs")
                    con.execute(
                        "INSERT INTO runs (id, dataset_id, created_at, config, metrics, epochs, timings, split, extra, "
                        "model_dir, files_sha256, dataset_fingerprint) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                        [
                            run_id, dataset_id, now(), _dumps(record.get("config")),
                            _dumps(record.get("metrics")), _dumps(record.get("epochs")),
                            _dumps(record.get("timings")), _dumps(record.get("split")),
                            _dumps(record.get("extra", {})), run_id, _dumps(digests), trained_on,
                        ],
                    )
                    os.replace(tmp, self.run_dir(run_id))
                    con.execute("COMMIT")
                except BaseException:
                    rollback(con)
                    raise
        return run_id

    def check_run_files(self, run_id: str) -> None:
        """Refuse a run whose files are not those it saved, or whose data is gone from its dataset.

        Every file written by the run was hashed (sha256) into its catalogue row, with the
        fingerprint of the data it was trained on. A model file copied over from another run or
        workspace, or edited, no longer matches; a run of data that no version of its dataset has
        is refused too. Runs recorded before this check (no hashes) are not checked.
        """
        from recsys.learn.modelfile import ModelFileError  # the CLI and pages show it as a model-file problem

        row = self.run(run_id)
        digests = json.loads(row["files_sha256"]) if isinstance(row.get("files_sha256"), str) else None
        fix = f"Fix: train a new model (Train page or `promolens train --dataset {row['dataset_id']}`)."
        if digests:
            folder = self.run_dir(run_id)
            for name, digest in digests.items():
                path = self.inside(folder / name)
                if not path.is_file() or file_sha256(path) != digest:
                    raise ModelFileError(
                        f"The model files of run {run_id} are not the ones it saved ({name} was changed, replaced or "
                        f"removed after training), so they were not used. {fix}"
                    )
        trained_on = row.get("dataset_fingerprint")
        if isinstance(trained_on, str) and trained_on:
            info = self.dataset(row["dataset_id"])
            versions = {info.base_fingerprint or info.fingerprint, info.fingerprint}
            versions |= {r["fingerprint"] for r in self.appends(info.id)}
            if trained_on not in versions:
                raise ModelFileError(
                    f"Run {run_id} was trained on data that no version of dataset {info.id} has, so its model does not "
                    f"belong to this dataset. {fix}"
                )

    def inside(self, path: Path) -> Path:
        """``path`` resolved; a :class:`WorkspaceError` when it leads outside the workspace."""
        resolved = Path(path).resolve()
        if not resolved.is_relative_to(self.path):
            raise WorkspaceError(
                f"The catalogue of workspace {self.path} points outside it ({path}); refusing to use that path. "
                "Fix: restore the workspace from a backup, or delete the entry that points there."
            )
        return resolved

    def runs(self, dataset_id: str | None = None) -> list[dict[str, Any]]:
        """Runs (newest first), each a dict with decoded JSON fields."""
        sql = "SELECT * FROM runs" + (" WHERE dataset_id = ?" if dataset_id else "")
        with self.connect(read_only=True) as con:
            frame = con.execute(sql + " ORDER BY created_at DESC, id DESC", [dataset_id] if dataset_id else []).df()
        return [decode_row(row, ("config", "metrics", "epochs", "timings", "split", "extra")) for row in frame.to_dict("records")]

    def run(self, run_id: str) -> dict[str, Any]:
        with self.connect(read_only=True) as con:
            frame = con.execute("SELECT * FROM runs WHERE id = ?", [run_id]).df()
        if frame.empty:
            raise NotFound(f"No run '{run_id}' in workspace {self.path}.")
        return decode_row(frame.iloc[0].to_dict(), ("config", "metrics", "epochs", "timings", "split", "extra"))

    def update_run_extra(self, run_id: str, extra: dict[str, Any]) -> None:
        """Merge ``extra`` into a run's extra settings (e.g. a chosen re-ranking)."""
        merged = {**self.run(run_id)["extra"], **extra}
        with self.connect() as con:
            con.execute("UPDATE runs SET extra = ? WHERE id = ?", [_dumps(merged), run_id])

    def delete_run(self, run_id: str) -> None:
        self.run(run_id)
        with self.connect() as con:
            con.execute("DELETE FROM runs WHERE id = ?", [run_id])
        shutil.rmtree(self.run_dir(run_id), ignore_errors=True)

    # ------------------------------------------------------------------ segments
    def save_segment(self, dataset_id: str, name: str, definition: dict[str, Any], members: pd.Series) -> str:
        """Save a named segment with its member list at save time."""
        self.dataset(dataset_id)
        members = pd.Series(members, name=C.USER_ID).drop_duplicates().astype(str)
        with self._staging("segments") as staging:
            tmp = staging / "members.parquet"
            members.to_frame().to_parquet(tmp, index=False)
            with self.connect() as con:
                con.execute("BEGIN TRANSACTION")
                try:
                    segment_id = self._next_id(con, "segments")
                    target = self.path / "segments" / f"{segment_id}.parquet"
                    con.execute(
                        "INSERT INTO segments VALUES (?,?,?,?,?,?,?)",
                        [segment_id, dataset_id, name.strip(), now(), _dumps(definition), len(members), target.name],
                    )
                    os.replace(tmp, target)
                    con.execute("COMMIT")
                except BaseException:
                    rollback(con)
                    raise
        return segment_id

    def segments(self, dataset_id: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM segments" + (" WHERE dataset_id = ?" if dataset_id else "")
        with self.connect(read_only=True) as con:
            frame = con.execute(sql + " ORDER BY created_at DESC, id DESC", [dataset_id] if dataset_id else []).df()
        return [decode_row(row, ("definition",)) for row in frame.to_dict("records")]

    def segment_members(self, segment_id: str) -> pd.Series:
        rows = [s for s in self.segments() if s["id"] == segment_id]
        if not rows:
            raise NotFound(f"No segment '{segment_id}' in workspace {self.path}.")
        return pd.read_parquet(self.inside(self.path / "segments" / rows[0]["members_file"]))[C.USER_ID]

    def delete_segment(self, segment_id: str) -> None:
        rows = [s for s in self.segments() if s["id"] == segment_id]
        if not rows:
            raise NotFound(f"No segment '{segment_id}' in workspace {self.path}.")
        members = self.inside(self.path / "segments" / rows[0]["members_file"])
        with self.connect() as con:
            con.execute("DELETE FROM segments WHERE id = ?", [segment_id])
        members.unlink(missing_ok=True)

    # ------------------------------------------------------------------ exports
    def export_dir(self, export_id: str) -> Path:
        return self.inside(self.path / "exports" / export_id)

    def save_export(
        self,
        write_files: Callable[[Path], None],
        write_manifest: Callable[[Path, str, datetime], dict[str, Any]],
        run_id: str | None = None,
    ) -> str:
        """Record one targeting export (see ``exports.save_export``) atomically; return its id.

        ``write_files(directory)`` writes the bulky files into a staging directory before the
        catalogue is opened; ``write_manifest(directory, export_id, created_at)`` then writes the
        small manifest inside the transaction and returns it as a dict with ``params``,
        ``csv.file``, ``csv.sha256`` and ``csv.rows``. The directory is moved into place with one
        ``os.replace`` before the row is committed.
        """
        with self._staging("exports") as tmp:
            write_files(tmp)
            export_id = ""
            with self.connect() as con:
                con.execute("BEGIN TRANSACTION")
                try:
                    export_id = self._next_id(con, "exports")
                    created_at = now()
                    manifest = write_manifest(tmp, export_id, created_at)
                    csv = manifest.get("csv", {})
                    con.execute(
                        "INSERT INTO exports VALUES (?,?,?,?,?,?,?,?)",
                        [
                            export_id, run_id, created_at, _dumps(manifest.get("params", {})),
                            _dumps(manifest), csv.get("file"), csv.get("sha256"), csv.get("rows"),
                        ],
                    )
                    os.replace(tmp, self.export_dir(export_id))
                    con.execute("COMMIT")
                except BaseException:
                    rollback(con)
                    if export_id and self.export_dir(export_id).exists() and not tmp.exists():
                        os.replace(self.export_dir(export_id), tmp)  # undo the move
                    raise
        return export_id

    def exports(self, run_id: str | None = None) -> list[dict[str, Any]]:
        """Exports (newest first), each a dict with decoded ``params`` and ``manifest``."""
        sql = "SELECT * FROM exports" + (" WHERE run_id = ?" if run_id else "")
        with self.connect(read_only=True) as con:
            frame = con.execute(sql + " ORDER BY created_at DESC, id DESC", [run_id] if run_id else []).df()
        return [decode_row(row, ("params", "manifest")) for row in frame.to_dict("records")]

    def export(self, export_id: str) -> dict[str, Any]:
        with self.connect(read_only=True) as con:
            frame = con.execute("SELECT * FROM exports WHERE id = ?", [export_id]).df()
        if frame.empty:
            known = ", ".join(e["id"] for e in self.exports()) or "none yet"
            raise NotFound(f"No export '{export_id}' in workspace {self.path} (known: {known}).")
        return decode_row(frame.iloc[0].to_dict(), ("params", "manifest"))

    # ------------------------------------------------------------------ measurements
    def save_measurement(
        self, params: dict[str, Any], results: dict[str, Any], export_id: str | None = None
    ) -> str:
        """Record one measurement (JSON-able ``params`` and ``results``); return its id."""
        if export_id is not None:
            self.export(export_id)
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                measurement_id = self._next_id(con, "measurements")
                con.execute(
                    "INSERT INTO measurements VALUES (?,?,?,?,?)",
                    [measurement_id, export_id, now(), _dumps(params), _dumps(results)],
                )
                con.execute("COMMIT")
            except BaseException:
                rollback(con)
                raise
        return measurement_id

    def measurements(self, export_id: str | None = None) -> list[dict[str, Any]]:
        """Measurements (newest first), each a dict with decoded ``params`` and ``results``."""
        sql = "SELECT * FROM measurements" + (" WHERE export_id = ?" if export_id else "")
        with self.connect(read_only=True) as con:
            frame = con.execute(sql + " ORDER BY created_at DESC, id DESC", [export_id] if export_id else []).df()
        return [decode_row(row, ("params", "results")) for row in frame.to_dict("records")]

    # ------------------------------------------------------------------ snapshot
    def snapshot(self) -> dict[str, Any]:
        """Everything observable about the workspace: catalogue rows and file listing.

        Tests compare snapshots before and after a failed operation to prove nothing changed.
        """
        tables = {}
        with self.connect(read_only=True) as con:
            for table in _ID_PREFIX:
                tables[table] = con.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
            tables["appends"] = con.execute("SELECT * FROM appends ORDER BY dataset_id, seq").fetchall()
        files = sorted(
            str(p.relative_to(self.path)) for p in self.path.rglob("*")
            if p.is_file() and not p.name.startswith(CATALOG_FILE)
        )
        return {"tables": tables, "files": files}


def default_workspace_path() -> Path:
    """``$PROMOLENS_WORKSPACE`` or ``./workspace``."""
    return Path(os.environ.get("PROMOLENS_WORKSPACE", DEFAULT_WORKSPACE))
