"""At-a-glance summaries of a stored dataset, computed by DuckDB straight from its Parquet files.

Each function returns a small frame (tens of rows) whatever the size of the dataset, so pages can
cache and chart them cheaply.
"""

from __future__ import annotations

import pandas as pd

from recsys.core import columns as C
from recsys.workspace.store import Workspace

#: Buckets of the interactions-per-customer distribution (lower bounds; the last is open).
ACTIVITY_BUCKETS: tuple[int, ...] = (1, 2, 3, 6, 11, 21, 51, 101)


def _src(ws: Workspace, dataset_id: str, table: C.Table) -> str:
    path = str(ws.table_path(dataset_id, table)).replace("'", "''")
    return f"read_parquet('{path}')"


def headline(ws: Workspace, dataset_id: str) -> dict[str, object]:
    """Counts and date range of the interactions."""
    row = ws.query(
        f"""SELECT count(*) AS interactions, count(DISTINCT {C.USER_ID}) AS customers,
                   count(DISTINCT {C.ITEM_ID}) AS offers, min({C.TIMESTAMP}) AS first,
                   max({C.TIMESTAMP}) AS last, sum({C.VALUE}) AS revenue
            FROM {_src(ws, dataset_id, C.Table.INTERACTIONS)}"""
    ).iloc[0]
    return {k: (None if pd.isna(v) else v) for k, v in row.to_dict().items()}


def event_mix(ws: Workspace, dataset_id: str) -> pd.DataFrame:
    """Rows, customers and revenue per event type, most frequent first."""
    return ws.query(
        f"""SELECT {C.EVENT} AS event, count(*) AS rows, count(DISTINCT {C.USER_ID}) AS customers,
                   coalesce(sum({C.VALUE}), 0) AS revenue
            FROM {_src(ws, dataset_id, C.Table.INTERACTIONS)} GROUP BY 1 ORDER BY rows DESC"""
    )


def events_over_time(ws: Workspace, dataset_id: str, period: str = "week") -> pd.DataFrame:
    """Rows per period and event type (rows without a timestamp are left out).

    The column ``complete`` is False for a first or last period that the data covers only in part
    (a dip there is an artefact of the cut, not of the business).
    """
    if period not in {"day", "week", "month"}:
        raise ValueError(f"period must be day, week or month, not {period!r}")
    frame = ws.query(
        f"""WITH t AS (SELECT {C.TIMESTAMP} AS ts, {C.EVENT} AS event
                       FROM {_src(ws, dataset_id, C.Table.INTERACTIONS)} WHERE {C.TIMESTAMP} IS NOT NULL),
                 span AS (SELECT min(ts) AS first, max(ts) AS last FROM t)
            SELECT date_trunc('{period}', ts) AS period, event, count(*) AS rows,
                   (date_trunc('{period}', ts) >= date_trunc('day', any_value(span.first))
                    AND date_trunc('{period}', ts) + INTERVAL 1 {period} <= any_value(span.last) + INTERVAL 1 day) AS complete
            FROM t, span GROUP BY 1, 2 ORDER BY 1, 2"""
    )
    return frame


def top_items(ws: Workspace, dataset_id: str, n: int = 15, label_column: str | None = None) -> pd.DataFrame:
    """The ``n`` offers with most interacting customers, with an optional readable label."""
    frame = ws.query(
        f"""SELECT {C.ITEM_ID} AS item_id, count(DISTINCT {C.USER_ID}) AS customers, count(*) AS rows,
                   coalesce(sum({C.VALUE}), 0) AS revenue
            FROM {_src(ws, dataset_id, C.Table.INTERACTIONS)} GROUP BY 1
            ORDER BY customers DESC, item_id LIMIT ?""",
        [int(n)],
    )
    frame["label"] = frame["item_id"].astype(str)
    if label_column:
        items = pd.read_parquet(ws.table_path(dataset_id, C.Table.ITEMS), columns=[C.ITEM_ID, label_column])
        labels = items.set_index(C.ITEM_ID)[label_column].astype(str)
        mapped = frame["item_id"].map(labels)
        frame["label"] = mapped.where(mapped.notna(), frame["label"]).str.slice(0, 40)
    return frame


def activity_distribution(ws: Workspace, dataset_id: str) -> pd.DataFrame:
    """How many customers have 1, 2, 3-5, 6-10, ... interactions."""
    per_user = ws.query(
        f"""SELECT n, count(*) AS customers FROM (
                SELECT count(*) AS n FROM {_src(ws, dataset_id, C.Table.INTERACTIONS)} GROUP BY {C.USER_ID}
            ) GROUP BY n"""
    )
    bounds = list(ACTIVITY_BUCKETS)
    labels = [
        str(lo) if hi - lo == 1 else f"{lo}-{hi - 1}" for lo, hi in zip(bounds[:-1], bounds[1:])
    ] + [f"{bounds[-1]}+"]
    bucket = pd.cut(per_user["n"], bins=bounds + [float("inf")], right=False, labels=labels)
    out = per_user.groupby(bucket, observed=False)["customers"].sum().reset_index()
    return out.rename(columns={"n": "interactions per customer"})


def users_by_column(ws: Workspace, dataset_id: str, column: str, top: int = 20) -> pd.DataFrame:
    """Customers per value of a customer column (the ``top`` most common, the rest as 'other')."""
    users = pd.read_parquet(ws.table_path(dataset_id, C.Table.USERS), columns=[column])
    counts = users[column].astype("string").fillna("(missing)").value_counts()
    if len(counts) > top:
        counts = pd.concat([counts.iloc[:top], pd.Series({"(other)": counts.iloc[top:].sum()})])
    return counts.rename_axis(column).reset_index(name="customers")
