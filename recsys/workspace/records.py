"""The workspace catalogue's schema, and its rows as Python.

The DuckDB schema (``SCHEMA_SQL``: datasets, runs, segments, exports, measurements, appends), the
query of the datasets with their latest append, rows decoded into ``DatasetInfo`` and dicts, a
dataset's info as of one version, batches of tables stacked and merged (``merge_facts``), file
digests, and the timestamp and rollback every write uses. :class:`recsys.workspace.store.Workspace`
is the one user.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from recsys.core import columns as C
from recsys.data.dataset import DatasetInfo
from recsys.data.schema import TableSchema

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS datasets (
    id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL,
    fingerprint VARCHAR NOT NULL, sources VARCHAR, mapping VARCHAR, report VARCHAR,
    warnings VARCHAR, identifiers VARCHAR, user_schema VARCHAR, item_schema VARCHAR,
    n_interactions BIGINT, n_users BIGINT, n_items BIGINT, is_sample BOOLEAN DEFAULT FALSE
);
CREATE TABLE IF NOT EXISTS runs (
    id VARCHAR PRIMARY KEY, dataset_id VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL,
    config VARCHAR, metrics VARCHAR, epochs VARCHAR, timings VARCHAR, split VARCHAR,
    extra VARCHAR, model_dir VARCHAR
);
CREATE TABLE IF NOT EXISTS segments (
    id VARCHAR PRIMARY KEY, dataset_id VARCHAR NOT NULL, name VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL, definition VARCHAR, n_members BIGINT, members_file VARCHAR
);
CREATE TABLE IF NOT EXISTS exports (
    id VARCHAR PRIMARY KEY, run_id VARCHAR, created_at TIMESTAMP NOT NULL, params VARCHAR,
    manifest VARCHAR, csv_file VARCHAR, sha256 VARCHAR, n_rows BIGINT
);
CREATE TABLE IF NOT EXISTS measurements (
    id VARCHAR PRIMARY KEY, export_id VARCHAR, created_at TIMESTAMP NOT NULL, params VARCHAR,
    results VARCHAR
);
CREATE TABLE IF NOT EXISTS appends (
    dataset_id VARCHAR NOT NULL, seq BIGINT NOT NULL, created_at TIMESTAMP NOT NULL, name VARCHAR,
    n_rows BIGINT, n_new_users BIGINT, n_new_items BIGINT, n_updated_users BIGINT,
    n_updated_items BIGINT, first_event TIMESTAMP, last_event TIMESTAMP, fingerprint VARCHAR NOT NULL,
    batch_fingerprint VARCHAR, report VARCHAR, sources VARCHAR, warnings VARCHAR,
    n_user_rows BIGINT, n_item_rows BIGINT, n_interactions BIGINT, n_users BIGINT, n_items BIGINT,
    PRIMARY KEY (dataset_id, seq)
);
-- Added with appends: the import options that decide what a file means (event weights, leading
-- zeros, the pseudonymisation key's label), so an append reads its files the same way.
ALTER TABLE datasets ADD COLUMN IF NOT EXISTS import_options VARCHAR;
-- Added to bind model files to their run: the sha256 of every file of the run's folder and the
-- fingerprint of the data it was trained on, checked on every load.
ALTER TABLE runs ADD COLUMN IF NOT EXISTS files_sha256 VARCHAR;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS dataset_fingerprint VARCHAR;
"""


DATASET_COLUMNS = (
    "id, name, created_at, fingerprint, sources, mapping, report, warnings, identifiers, user_schema, "
    "item_schema, n_interactions, n_users, n_items, is_sample, import_options"
)


#: The datasets with their latest append (if any): version, fingerprint and counts come from it.
DATASETS_SQL = """
SELECT d.*, a.seq AS latest_seq, a.fingerprint AS latest_fingerprint,
       a.n_interactions AS latest_n_interactions, a.n_users AS latest_n_users, a.n_items AS latest_n_items
FROM datasets d
LEFT JOIN (
    SELECT * FROM appends QUALIFY row_number() OVER (PARTITION BY dataset_id ORDER BY seq DESC) = 1
) a ON a.dataset_id = d.id
"""


_APPEND_JSON_FIELDS = ("report", "sources", "warnings")


def decode_row(row: dict[str, Any], json_fields: tuple[str, ...]) -> dict[str, Any]:
    out = dict(row)
    for field_name in json_fields:
        value = out.get(field_name)
        out[field_name] = json.loads(value) if isinstance(value, str) and value else {}
    if isinstance(out.get("created_at"), pd.Timestamp):
        out["created_at"] = out["created_at"].to_pydatetime()
    return out


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value) or value is pd.NA or value is pd.NaT


def dataset_info(row: dict[str, Any]) -> DatasetInfo:
    d = decode_row(row, ("sources", "mapping", "report", "warnings", "identifiers", "user_schema", "item_schema",
                      "import_options"))
    appended = not _missing(d.get("latest_seq"))
    latest = (lambda name: d[f"latest_{name}"]) if appended else (lambda name: d[name])  # noqa: E731
    return DatasetInfo(
        id=d["id"], name=d["name"], created_at=d["created_at"], fingerprint=latest("fingerprint"),
        sources=d["sources"] or [], mapping=d["mapping"] or {}, report=d["report"] or {},
        warnings=d["warnings"] or [], identifiers=d["identifiers"] or {},
        user_schema=TableSchema.from_list(d["user_schema"] or []),
        item_schema=TableSchema.from_list(d["item_schema"] or []),
        n_interactions=int(latest("n_interactions")), n_users=int(latest("n_users")),
        n_items=int(latest("n_items")), is_sample=bool(d["is_sample"]),
        version=int(d["latest_seq"]) if appended else 0, base_fingerprint=d["fingerprint"],
        import_options=d.get("import_options") or {},
    )


def append_record(row: dict[str, Any]) -> dict[str, Any]:
    out = decode_row(row, _APPEND_JSON_FIELDS)
    out["sources"] = out["sources"] or []
    out["warnings"] = out["warnings"] or []
    for name in ("first_event", "last_event"):
        value = out.get(name)
        out[name] = None if _missing(value) else pd.Timestamp(value).to_pydatetime()
    for name, value in list(out.items()):
        if name.startswith("n_") or name == "seq":
            out[name] = int(value)
    return out


def info_at(info: DatasetInfo, record: dict[str, Any] | None, base: dict[C.Table, pd.DataFrame]) -> DatasetInfo:
    """``info`` as of one append (``record``), or as imported (None; counts from the ``base`` tables)."""
    if record is None:
        if info.version == 0:
            return info
        inter = base[C.Table.INTERACTIONS]
        return replace(
            info, version=0, fingerprint=info.base_fingerprint, n_interactions=len(inter),
            n_users=int(pd.concat([inter[C.USER_ID], base[C.Table.USERS][C.USER_ID]]).nunique()),
            n_items=int(pd.concat([inter[C.ITEM_ID], base[C.Table.ITEMS][C.ITEM_ID]]).nunique()),
        )
    return replace(
        info, version=int(record["seq"]), fingerprint=record["fingerprint"],
        n_interactions=int(record["n_interactions"]), n_users=int(record["n_users"]), n_items=int(record["n_items"]),
    )


def concat_batches(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f.columns)]
    if len(frames) == 1:
        return frames[0]
    non_empty = [f for f in frames if len(f)] or frames[:1]
    columns = list(dict.fromkeys(c for f in frames for c in f.columns))
    return pd.concat(non_empty, ignore_index=True).reindex(columns=columns)


def merge_facts(frames: list[pd.DataFrame], key: str) -> pd.DataFrame:
    """Users or items tables of successive batches as one table: one row per id.

    New ids are added (in order of first appearance); for an id in several tables, each column
    takes its latest non-missing value. Vectorised: only the ids seen more than once are grouped.

    Examples
    --------
    >>> a = pd.DataFrame({"user_id": ["u1", "u2"], "tier": ["gold", "silver"]})
    >>> b = pd.DataFrame({"user_id": ["u2", "u3"], "tier": ["gold", None]})
    >>> merged = merge_facts([a, b], "user_id")
    >>> merged["user_id"].tolist(), merged["tier"].tolist()[:2], merged["tier"].isna().tolist()
    (['u1', 'u2', 'u3'], ['gold', 'gold'], [False, False, True])
    """
    stacked = concat_batches(frames)
    if len(frames) == 1:
        return stacked
    repeated = stacked[key].duplicated(keep=False).to_numpy()
    if not repeated.any():
        return stacked
    touched = stacked[repeated]
    first_rows = touched.index[~touched[key].duplicated(keep="first").to_numpy()]
    merged = touched.groupby(key, sort=False, dropna=False).last().reset_index()
    merged.index = first_rows  # groups come in order of first appearance, like first_rows
    out = pd.concat([stacked[~repeated], merged[stacked.columns]]).sort_index(kind="stable")
    return out.reset_index(drop=True)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def folder_digests(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder``, by relative path."""
    return {str(p.relative_to(folder)): file_sha256(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Undo the open transaction; one that DuckDB already aborted (disk full) must not hide the cause."""
    try:
        con.execute("ROLLBACK")
    except duckdb.Error:
        pass
