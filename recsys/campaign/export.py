"""Safe targeting exports: a CSV that spreadsheets cannot be tricked by, plus a JSON manifest.

An export is a directory with three files:

``targets.csv``
    UTF-8 with a byte-order mark (so Excel on Windows reads "30–90" and accents right) and a header:
    ``user_id, item_id, score, probability, rank, group, reasons``, with ``offer_name, offer_start,
    offer_end`` after ``item_id`` when the offers are known, ``arm`` after ``group`` in an A/B test's list
    (the offer id, or ``control``; :mod:`recsys.campaign.arms`) (+ any extra customer columns asked for).
    Scores and probabilities are rounded to 4 decimals (the Parquet file keeps them exact). ``score`` is what the list was ranked by: the response
    ``probability`` (in [0, 1]) when the run has response probabilities, else the raw model score
    (``probability`` empty). One row per allocated (customer, offer); control customers are listed with
    ``group = control`` and must not be sent a coupon.
``targets.parquet``
    The same rows with the original, un-neutralised values: what :mod:`recsys.campaign.measure` joins
    outcomes to.
``manifest.json``
    Export and run ids, dataset fingerprint, every parameter, counts per group and offer, the
    creation time and the sha256 of the CSV.

Safety:

* **Quoting.** Every text cell is quoted (RFC 4180, CRLF line ends), numbers are not, so commas,
  quotes and line breaks inside ids survive pandas and Python's ``csv`` module.
* **Formula injection.** A text cell that starts with ``=``, ``+``, ``-``, ``@``, tab, carriage
  return or line feed is run as a formula by Excel / Sheets / LibreOffice. Such cells get a leading
  apostrophe (``=1+1`` is written ``'=1+1``), as OWASP recommends; so do cells that already start
  with apostrophes followed by one of those characters, which makes :func:`restore` exact.
  Numeric columns (score, rank, numeric ids) are written as numbers, never altered.
* **No direct identifiers.** Extra columns that hold e-mails, phones, names, ... (found by
  :mod:`recsys.data.privacy` or listed by the caller) are dropped and named in the manifest; customer
  ids that themselves look like e-mails or phone numbers stop the export.
* **Atomic.** Files are written to a temporary name and moved into place with ``os.replace``; in a
  workspace the whole directory is staged and moved, then recorded in the catalogue in one
  transaction (:meth:`recsys.workspace.store.Workspace.save_export`).

>>> import pandas as pd
>>> neutralise(pd.Series(["=HYPERLINK(1)", "ok", "-5", "'+x"])).tolist()
["'=HYPERLINK(1)", 'ok', "'-5", "''+x"]
>>> restore(neutralise(pd.Series(["=1", "'=2", "a"]))).tolist()
['=1', "'=2", 'a']
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsys.core import columns as C
from recsys.core.errors import PromoLensError
from recsys.core.jsonio import jsonable
from recsys.data import privacy

FORMAT = "promolens-export/1"
CSV_FILE = "targets.csv"
ROWS_FILE = "targets.parquet"
MANIFEST_FILE = "manifest.json"
#: First characters that make a spreadsheet treat a cell as a formula.
FORMULA_TRIGGERS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r", "\n")
#: The columns of every export, in order.
#: P(the customer responds within the horizon if sent), in [0, 1]; empty for lists ranked by raw scores.
PROBABILITY = "probability"
EXPORT_COLUMNS: tuple[str, ...] = (C.USER_ID, C.ITEM_ID, C.SCORE, PROBABILITY, C.RANK, C.GROUP, C.REASONS)
#: The offer's name and the days it runs, written after ``item_id`` when ``offers`` are given.
OFFER_NAME, OFFER_START, OFFER_END = "offer_name", "offer_start", "offer_end"
OFFER_COLUMNS: tuple[str, ...] = (OFFER_NAME, OFFER_START, OFFER_END)
#: The CSV's encoding: UTF-8 with a byte-order mark, which spreadsheets need to read UTF-8 right.
CSV_ENCODING = "utf-8-sig"
#: Decimals of the CSV's numbers (score, probability); the Parquet rows keep every digit.
CSV_DECIMALS = 4
REASONS_SEPARATOR = "; "

_TRIGGER_CLASS = r"[=+\-@\t\r\n]"  # FORMULA_TRIGGERS as a regex character class
_NEEDS_PREFIX = "^'*" + _TRIGGER_CLASS
_PREFIXED = "^'+" + _TRIGGER_CLASS


class ExportError(PromoLensError, ValueError):
    """The export cannot be written safely; the message says why and what to do."""


@dataclass(frozen=True)
class ExportResult:
    """Where an export was written and what its manifest says."""

    directory: Path
    manifest: dict[str, Any]

    @property
    def export_id(self) -> str | None:
        return self.manifest.get("export_id")

    @property
    def csv_path(self) -> Path:
        return self.directory / CSV_FILE

    @property
    def manifest_path(self) -> Path:
        return self.directory / MANIFEST_FILE


# ============================================================================== cell safety
def neutralise(values: pd.Series) -> pd.Series:
    """Prefix ``'`` to text cells a spreadsheet would run as a formula (see the module docstring).

    Missing values stay missing; non-text values are returned unchanged.
    """
    if not _is_text(values):
        return values
    text = values.astype("string")
    risky = text.str.contains(_NEEDS_PREFIX, regex=True, na=False)
    if not risky.any():
        return values
    out = values.astype(object).copy()
    out[risky.to_numpy(bool)] = ("'" + text[risky]).to_numpy(object)
    return out


def restore(values: pd.Series) -> pd.Series:
    """Undo :func:`neutralise` (drop one leading ``'`` before apostrophes + a trigger)."""
    if not _is_text(values):
        return values
    text = values.astype("string")
    prefixed = text.str.contains(_PREFIXED, regex=True, na=False)
    if not prefixed.any():
        return values
    out = values.astype(object).copy()
    out[prefixed.to_numpy(bool)] = text[prefixed].str.slice(1).to_numpy(object)
    return out


def _is_text(values: pd.Series) -> bool:
    return bool(
        pd.api.types.is_string_dtype(values) or pd.api.types.is_object_dtype(values)
        or isinstance(values.dtype, pd.CategoricalDtype)
    )


# ============================================================================== the table
def export_table(
    audience: Any,
    *,
    reasons: pd.DataFrame | pd.Series | None = None,
    extra_columns: pd.DataFrame | None = None,
    identifiers: Iterable[str] = (),
    offers: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, dict[str, str]]:
    """The rows to export (original values) and the identifier columns that were dropped.

    Parameters
    ----------
    audience
        A :class:`recsys.campaign.audience.Audience` or a frame with ``user_id``, ``item_id``, ``score``,
        ``rank`` and ``group``.
    reasons
        The top reasons of each pair: a frame with ``user_id``, ``item_id`` and ``reasons`` (text or
        a list of texts, joined with ``"; "``), or a Series aligned with the audience rows.
    extra_columns
        ``user_id`` + customer columns to add (e.g. region, tier for the CRM). Direct identifiers
        among them are dropped.
    identifiers
        Column names known to be direct identifiers (e.g. ``DatasetInfo.identifiers["users"]``).
    offers
        ``item_id`` + any of ``offer_name``, ``offer_start``, ``offer_end`` (days as ``YYYY-MM-DD``
        text): written after ``item_id`` so the file names what each coupon is and when it runs.
    """
    frame = getattr(audience, "frame", audience)
    missing = [c for c in (C.USER_ID, C.ITEM_ID, C.SCORE, C.RANK, C.GROUP) if c not in frame.columns]
    if missing:
        raise ExportError(f"The targeting list has no column(s) {', '.join(missing)}. Fix: build it with audience.build_audience.")
    bad_groups = ~frame[C.GROUP].isin([C.TREATMENT, C.CONTROL])
    if bad_groups.any():
        raise ExportError(f"Column '{C.GROUP}' must be '{C.TREATMENT}' or '{C.CONTROL}'; found {frame.loc[bad_groups, C.GROUP].iloc[0]!r}.")
    _refuse_identifying_ids(frame[C.USER_ID])
    table = frame[[C.USER_ID, C.ITEM_ID, C.SCORE]].reset_index(drop=True)
    table[PROBABILITY] = frame[PROBABILITY].to_numpy(np.float64) if PROBABILITY in frame.columns else np.nan
    for column in (C.RANK, C.GROUP, *((C.ARM,) if C.ARM in frame.columns else ())):  # arm: an A/B test's lists
        table[column] = frame[column].reset_index(drop=True)
    table[C.REASONS] = _reasons_column(table, reasons)
    if offers is not None and len(offers):
        wanted = [c for c in OFFER_COLUMNS if c in offers.columns]
        lookup = offers.assign(**{C.ITEM_ID: offers[C.ITEM_ID].astype(str)}).drop_duplicates(C.ITEM_ID)
        keys = table[C.ITEM_ID].astype(str)
        for n, column in enumerate(wanted):  # a loop over at most three columns
            values = keys.map(lookup.set_index(C.ITEM_ID)[column]).astype(object)
            table.insert(2 + n, column, values.where(values.notna(), "").astype(str))
    dropped: dict[str, str] = {}
    if extra_columns is not None and len(extra_columns.columns) > 1:
        if C.USER_ID not in extra_columns.columns:
            raise ExportError(f"extra_columns needs a '{C.USER_ID}' column to join on. Fix: include it.")
        extra = extra_columns.drop_duplicates(C.USER_ID)
        known = {str(c) for c in identifiers}
        found = privacy.find_identifiers(extra.drop(columns=[C.USER_ID]))
        dropped = {c: found.get(c, "marked as a direct identifier") for c in extra.columns
                   if c != C.USER_ID and (c in known or c in found)}
        clash = [c for c in extra.columns if c in (*EXPORT_COLUMNS, C.ARM) and c != C.USER_ID]
        extra = extra.drop(columns=list(dropped) + clash)
        if len(extra.columns) > 1:
            table = table.merge(extra, on=C.USER_ID, how="left", validate="many_to_one")
    for column in [C.REASONS] + [c for c in table.columns if c not in (*EXPORT_COLUMNS, C.ARM)]:  # free text: mask identifiers
        if table[column].dtype == object or pd.api.types.is_string_dtype(table[column]):
            table[column] = privacy.mask_identifiers(table[column])
    return table, dropped


def _refuse_identifying_ids(ids: pd.Series) -> None:
    reason = privacy.id_identifier_reason(C.USER_ID, ids)
    if reason is not None:
        raise ExportError(
            f"Column '{C.USER_ID}': customer ids are direct identifiers ({reason}); PromoLens never exports them. "
            "Fix: re-import the data with pseudonymised customer ids (--pseudonymise / the Data page option), "
            "or map a customer number as the customer id."
        )


def _reasons_column(table: pd.DataFrame, reasons: pd.DataFrame | pd.Series | None) -> pd.Series:
    empty = pd.Series("", index=table.index, dtype=object)
    if reasons is None:
        return empty
    if isinstance(reasons, pd.Series):
        if len(reasons) != len(table):
            raise ExportError(f"reasons: got {len(reasons):,} values for {len(table):,} rows. Fix: pass one per row, or a frame with user_id, item_id, reasons.")
        values = reasons.reset_index(drop=True)
    else:
        missing = [c for c in (C.USER_ID, C.ITEM_ID, C.REASONS) if c not in reasons.columns]
        if missing:
            raise ExportError(f"reasons: missing column(s) {', '.join(missing)}. Fix: pass user_id, item_id, reasons.")
        joined = table[[C.USER_ID, C.ITEM_ID]].merge(
            reasons[[C.USER_ID, C.ITEM_ID, C.REASONS]].drop_duplicates([C.USER_ID, C.ITEM_ID]),
            on=[C.USER_ID, C.ITEM_ID], how="left",
        )
        values = joined[C.REASONS]
    is_list = values.map(lambda v: isinstance(v, (list, tuple)), na_action="ignore").fillna(False).astype(bool)
    text = values.astype(object).where(~is_list, values.astype(object).where(is_list).str.join(REASONS_SEPARATOR))
    return text.where(text.notna(), "").astype(str).set_axis(table.index)


# ============================================================================== writing
def write_export(
    audience: Any,
    directory: str | os.PathLike[str],
    *,
    run_id: str | None = None,
    dataset_fingerprint: str | None = None,
    params: Mapping[str, Any] | None = None,
    reasons: pd.DataFrame | pd.Series | None = None,
    extra_columns: pd.DataFrame | None = None,
    identifiers: Iterable[str] = (),
    export_id: str | None = None,
    created_at: datetime | None = None,
    offers: pd.DataFrame | None = None,
) -> ExportResult:
    """Write ``targets.csv``, ``targets.parquet`` and ``manifest.json`` into ``directory``.

    Each file is written under a temporary name and moved into place with ``os.replace``; the
    manifest is written last, so a directory with a manifest is complete. To record the export in
    a workspace use :func:`recsys.workspace.exports.save_export` instead.

    Parameters
    ----------
    audience
        A :class:`recsys.campaign.audience.Audience` (its parameters go into the manifest) or a frame.
    directory
        Where to write (created when absent).
    run_id, dataset_fingerprint
        The trained model run and the data it was trained on.
    params
        More parameters for the manifest (merged over the audience's).
    reasons, extra_columns, identifiers, offers
        See :func:`export_table`.
    export_id, created_at
        Filled in by :func:`recsys.workspace.exports.save_export`.

    Returns
    -------
    ExportResult

    Examples
    --------
    >>> frame = pd.DataFrame({"user_id": ["=cmd"], "item_id": ["x"], "score": [0.5], "rank": [1],
    ...                       "group": ["treatment"]})
    >>> import tempfile
    >>> result = write_export(frame, tempfile.mkdtemp())
    >>> print(result.csv_path.read_text().splitlines()[1])
    "'=cmd","x",0.5,"",1,"treatment",""
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    table, dropped = export_table(audience, reasons=reasons, extra_columns=extra_columns, identifiers=identifiers,
                                  offers=offers)
    staged = write_data(table, directory, atomic=True)
    manifest = build_manifest(audience, table, dropped, staged, run_id, dataset_fingerprint, params, export_id,
                         created_at or datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0))
    _atomic_write_text(directory / MANIFEST_FILE, json.dumps(manifest, indent=2, sort_keys=False))
    return ExportResult(directory, manifest)


def write_data(table: pd.DataFrame, directory: Path, atomic: bool) -> dict[str, Any]:
    """Write the CSV (neutralised) and the Parquet rows (original) of ``table`` into ``directory``.

    ``table`` comes from :func:`export_table`. With ``atomic`` each file is written under a
    temporary name and moved into place; without it the caller stages the whole directory.
    Returns the CSV facts for the manifest (file, sha256, bytes, rows, neutralised cells).
    """
    safe = table.copy()
    neutralised = 0
    for column in safe.columns:  # a loop over a few columns; each is vectorised
        if _is_text(safe[column]):
            before = safe[column]
            safe[column] = neutralise(before)
            neutralised += int((safe[column].astype("string") != before.astype("string")).fillna(False).sum())

    for column in (C.SCORE, PROBABILITY):  # 4 decimals are plenty to read; 15 are noise in a spreadsheet
        if column in safe.columns:
            safe[column] = safe[column].astype(np.float64).round(CSV_DECIMALS)

    def write_csv(path: Path) -> None:
        safe.to_csv(path, index=False, encoding=CSV_ENCODING, lineterminator="\r\n", quoting=csv.QUOTE_NONNUMERIC)

    def write_rows(path: Path) -> None:
        rows = table.copy()
        for column in rows.columns:
            if rows[column].dtype == object:
                rows[column] = rows[column].astype("string")
        rows.to_parquet(path, index=False)

    for name, writer in ((CSV_FILE, write_csv), (ROWS_FILE, write_rows)):
        if atomic:
            _atomic_write(directory / name, writer)
        else:
            writer(directory / name)
    csv_path = directory / CSV_FILE
    return {"file": CSV_FILE, "sha256": sha256_file(csv_path), "bytes": csv_path.stat().st_size,
            "rows": int(len(safe)), "encoding": "utf-8 with byte-order mark", "decimals": CSV_DECIMALS,
            "neutralised_cells": neutralised}


def build_manifest(
    audience: Any,
    table: pd.DataFrame,
    dropped: Mapping[str, str],
    csv_facts: Mapping[str, Any],
    run_id: str | None,
    dataset_fingerprint: str | None,
    params: Mapping[str, Any] | None,
    export_id: str | None,
    created_at: datetime,
) -> dict[str, Any]:
    """The manifest of an export: ids, every parameter, counts per group and offer, the CSV's facts."""
    base = audience.params() if hasattr(audience, "params") else {}
    merged = {**base, **dict(params or {})}
    by_offer = pd.crosstab(table[C.ITEM_ID].astype(str), table[C.GROUP])
    per_user = table.drop_duplicates(C.USER_ID)[C.GROUP].value_counts()
    rows = table[C.GROUP].value_counts()
    groups = (C.TREATMENT, C.CONTROL)
    return jsonable({
        "format": FORMAT,
        "export_id": export_id,
        "run_id": run_id,
        "dataset_fingerprint": dataset_fingerprint,
        "created_at": created_at.isoformat(),
        "params": merged,
        "counts": {
            "rows": int(len(table)),
            "rows_by_group": {g: int(rows.get(g, 0)) for g in groups},
            "customers_by_group": {g: int(per_user.get(g, 0)) for g in groups},
            "by_offer": {
                str(offer): {g: int(by_offer.at[offer, g]) if g in by_offer.columns else 0 for g in groups}
                for offer in by_offer.index
            },
        },
        "columns": [str(c) for c in table.columns],
        "csv": dict(csv_facts),
        "rows_file": ROWS_FILE,
        "privacy": {
            "dropped_identifier_columns": dict(dropped),
            "neutralised_cells": csv_facts.get("neutralised_cells", 0),
            "formula_triggers": list(FORMULA_TRIGGERS),
        },
        "groups": {C.TREATMENT: "send the coupon", C.CONTROL: "do NOT send: held out to measure the lift"},
    })


# ============================================================================== reading
def sha256_file(path: str | os.PathLike[str]) -> str:
    """sha256 (hex) of a file, read in 1 MB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def readbuild_manifest(directory: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(directory) / MANIFEST_FILE
    if not path.exists():
        raise ExportError(f"{path} does not exist: the export is missing or incomplete. Fix: export the campaign again.")
    return json.loads(path.read_text(encoding="utf-8"))


def verify(directory: str | os.PathLike[str]) -> bool:
    """True when the CSV's sha256 matches the manifest's."""
    manifest = readbuild_manifest(directory)
    return sha256_file(Path(directory) / manifest["csv"]["file"]) == manifest["csv"]["sha256"]


def read_csv(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read an export CSV back with its original text (ids as text, neutralised cells restored)."""
    frame = pd.read_csv(path, dtype={C.USER_ID: str, C.ITEM_ID: str, C.GROUP: str, C.ARM: str, C.REASONS: str,
                                     **dict.fromkeys(OFFER_COLUMNS, str)},
                        keep_default_na=False, encoding=CSV_ENCODING)  # reads files with or without the mark
    for column in frame.columns:
        if _is_text(frame[column]):
            frame[column] = restore(frame[column])
    return frame


def read_targets(directory: str | os.PathLike[str]) -> pd.DataFrame:
    """The exported rows with their original values (from ``targets.parquet``)."""
    path = Path(directory) / ROWS_FILE
    if not path.exists():
        raise ExportError(f"{path} does not exist. Fix: export the campaign again with this version of PromoLens.")
    return pd.read_parquet(path)


# ============================================================================== helpers
def _atomic_write(path: Path, writer: Callable[[Path], None]) -> None:
    tmp = path.with_name(f".tmp-{secrets.token_hex(6)}-{path.name}")
    try:
        writer(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _atomic_write_text(path: Path, text: str) -> None:
    _atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))
