"""Customer segments: one label per customer, and the column segments everything else builds on.

A *segmentation* (:class:`Segmentation`) gives every customer one label. Four kinds, each in its
own module:

* **RFM** (:func:`recsys.insight.rfm.rfm`): recency, frequency and monetary value of each customer
  at a reference date, scored in quintiles and named with the usual grid (champions, at risk, ...);
* **customer facts** (:func:`by_columns`, here): the values of one or several customer columns;
* **behavioural clusters** (:func:`recsys.insight.clusters.cluster_users`): k-means on the model's
  customer embeddings, the number of clusters suggested by the silhouette score unless given;
* **saved segments** (:mod:`recsys.workspace.segments`): a name, a definition and the member list
  at save time, kept in the workspace and usable as an audience filter.

Every segmentation is described by the same vectorised tools: sizes and their trend
(:func:`sizes_over_time`, :func:`recsys.insight.rfm.rfm_sizes_over_time`), the traits and offer
types that set a segment apart and the segment x offer-type response table
(:mod:`recsys.insight.lift`), a 2-D map of the embeddings
(:func:`recsys.insight.clusters.embedding_map`), one profile card per segment and a side-by-side
comparison (:mod:`recsys.insight.profiles`).

Definitions
-----------
response
    A row that is not an exposure (impression, view); every row when the data has no event column
    or only exposures. A customer who responded in a period is *active* in it.
readable value
    Categorical / boolean values as text, numbers in quantile bins (``"20–35"``), dates by year,
    ``"(missing)"`` for missing values (:func:`readable_values`).

Conversions, occasions and the RFM scores are defined in :mod:`recsys.insight.rfm`; responses to
offers and lift in :mod:`recsys.insight.lift`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from recsys.core import columns as C
from recsys.data.dataset import customer_ids
from recsys.data.schema import ColumnKind, TableSchema, infer_kind, split_tags

# --- output columns (not data-contract columns) --------------------------------------------------
SEGMENT = "segment"
CUSTOMERS = "customers"
SHARE = "share"
COLUMN = "column"
VALUE_LABEL = "value_label"
PERIOD = "period"

# --- vocabulary --------------------------------------------------------------------------------
MISSING = "(missing)"
OTHER = "(other)"
UNUSABLE_KINDS = {ColumnKind.IDENTIFIER, ColumnKind.IGNORE, ColumnKind.TEXT}
SELECTION = "selection"


# =================================================================================================
# Segmentation
# =================================================================================================
@dataclass(frozen=True)
class Segmentation:
    """One label per customer.

    Attributes
    ----------
    labels
        Index ``user_id`` (str), values the segment label (str). Every customer of the universe.
    kind
        ``"rfm"``, ``"columns"``, ``"clusters"`` or ``"saved"``.
    definition
        JSON-able description (enough to recompute it, or to say how a saved segment was made).
    order
        Labels in display order (every label that occurs, and only those).
    notes
        Plain-language caveats (e.g. "no value column: RF only").
    """

    labels: pd.Series
    kind: str
    definition: dict[str, Any]
    order: tuple[str, ...]
    notes: tuple[str, ...] = ()

    @classmethod
    def from_labels(
        cls, labels: pd.Series, kind: str, definition: dict[str, Any],
        order: Sequence[str] | None = None, notes: Sequence[str] = (),
    ) -> "Segmentation":
        """Build from any label series (index = user ids); ``order`` defaults to largest first."""
        labels = pd.Series(labels.astype(str).to_numpy(dtype=object), index=id_index(labels.index).rename(C.USER_ID),
                           name=SEGMENT)
        present = labels.value_counts(sort=True)
        if order is None:
            ordered = [str(v) for v in present.index]
        else:
            ordered = [str(v) for v in order if v in present.index]
            seen = set(ordered)
            ordered += [str(v) for v in present.index if v not in seen]
        return cls(labels, kind, dict(definition), tuple(ordered), tuple(notes))

    @property
    def n_customers(self) -> int:
        return len(self.labels)

    def members(self, label: str) -> pd.Series:
        """The user ids with this label."""
        if label not in self.order:
            raise ValueError(f"no segment {label!r} here; segments: {', '.join(self.order)}")
        return pd.Series(self.labels.index[self.labels.to_numpy() == label], name=C.USER_ID)

    def sizes(self) -> pd.DataFrame:
        """``segment``, ``customers``, ``share`` in display order."""
        counts = self.labels.value_counts().reindex(list(self.order), fill_value=0)
        return pd.DataFrame({SEGMENT: counts.index, CUSTOMERS: counts.to_numpy(),
                             SHARE: counts.to_numpy() / max(len(self.labels), 1)})

    def codes(self, user_ids: Iterable[Any]) -> np.ndarray:
        """Position in :attr:`order` of each user's label; -1 for users outside the universe."""
        pos = self.labels.index.get_indexer(id_index(user_ids))
        label_codes = pd.Categorical(self.labels.to_numpy(), categories=list(self.order)).codes
        return np.where(pos >= 0, label_codes[np.maximum(pos, 0)], -1).astype(np.int64)


def id_index(values: Iterable[Any]) -> pd.Index:
    """Ids as an object Index of strings (vectorised for Series, Index and arrays)."""
    if not isinstance(values, (pd.Series, pd.Index, np.ndarray)):
        values = list(values)
    return pd.Index(pd.Series(values, dtype=object).astype(str).to_numpy(dtype=object), dtype=object)


def sample_rows(n: int, size: int, seed: int) -> np.ndarray:
    """Sorted positions of a seeded sample of ``size`` of ``n`` rows (all rows when ``n <= size``)."""
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def customer_universe(users: pd.DataFrame, interactions: pd.DataFrame) -> pd.Index:
    """Every customer of a dataset (:func:`recsys.data.dataset.customer_ids`), sorted for stable segment tables."""
    return customer_ids(users, interactions).sort_values()


def in_audience(user_ids: Iterable[Any], members: Iterable[Any]) -> np.ndarray:
    """Boolean mask: which ``user_ids`` belong to ``members`` (vectorised)."""
    return id_index(user_ids).isin(id_index(members))


# =================================================================================================
# readable values of customer / offer columns
# =================================================================================================
def _format_number(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 or float(x).is_integer() else f"{x:,.2g}" if abs(x) < 1 else f"{x:,.1f}"


def readable_values(values: pd.Series, kind: ColumnKind | None = None, bins: int = 4) -> pd.Series:
    """One readable label per row of a single-valued column (numbers binned, dates by year).

    Categorical / boolean: the value as text; numeric: ``bins`` quantile bins such as
    ``"20–35"`` (columns with at most ``bins`` distinct values keep their values); date: the year;
    missing: ``"(missing)"``.
    """
    kind = kind or infer_kind(values)
    out: pd.Series
    if kind == ColumnKind.NUMERIC:
        x = pd.to_numeric(values, errors="coerce")
        uniq = np.unique(x.dropna().to_numpy())
        if len(uniq) <= bins:
            out = x.map({v: _format_number(v) for v in uniq})  # a few distinct values
        else:
            edges = np.unique(np.quantile(x.dropna(), np.linspace(0, 1, bins + 1)))
            labels = [f"{_format_number(a)}–{_format_number(b)}" for a, b in zip(edges[:-1], edges[1:])]
            out = pd.cut(x, edges, labels=labels, include_lowest=True, duplicates="drop").astype(object)
    elif kind == ColumnKind.DATE:
        d = pd.to_datetime(values, errors="coerce", format="mixed")
        out = d.dt.year.astype("Int64").astype("string").astype(object)
    else:
        out = values.astype("string").str.strip().astype(object)
    out = pd.Series(out, index=values.index, dtype=object)
    return out.where(out.notna() & (out.astype(str) != "") & (out.astype(str) != "<NA>"), MISSING).astype(str)


def natural_order(labels: Iterable[Any]) -> list[str]:
    """Distinct labels sorted naturally: by their leading number when they have one ("5–10" before
    "10–20"), then as text; ``"(missing)"`` and ``"(other)"`` last."""
    uniq = pd.Series(pd.unique(pd.Series(list(labels), dtype=object).astype(str)))
    number = pd.to_numeric(uniq.str.extract(r"^\s*[<≥>]?\s*(-?[\d,]*\.?\d+)", expand=False).str.replace(",", ""),
                           errors="coerce")
    key = pd.DataFrame({"special": uniq.isin([MISSING, OTHER]), "no_number": number.isna(),
                        "number": number.fillna(0.0), "text": uniq})
    return key.sort_values(["special", "no_number", "number", "text"])["text"].tolist()


def column_kinds(table: pd.DataFrame, key: str, schema: TableSchema | None) -> dict[str, ColumnKind]:
    """Kind of every column but ``key``: from the schema, inferred where it has none."""
    kinds = schema.kinds() if schema is not None else {}
    return {
        str(c): kinds.get(str(c)) or infer_kind(table[c]) for c in table.columns if c != key
    }


def usable_columns(table: pd.DataFrame, key: str, schema: TableSchema | None = None) -> list[str]:
    """Columns that can describe a segment (not identifiers, free text or ignored columns)."""
    return [c for c, k in column_kinds(table, key, schema).items() if k not in UNUSABLE_KINDS]


def long_values(
    table: pd.DataFrame, key: str, columns: Sequence[str], kinds: dict[str, ColumnKind], bins: int,
) -> pd.DataFrame:
    """(key, column, value_label) rows: one per entity and column, one per tag for tag columns."""
    frames = []
    table = table.reset_index(drop=True)
    ids = table[key].astype(str)
    for column in columns:  # a loop over a handful of columns
        kind = kinds.get(column, ColumnKind.CATEGORICAL)
        if kind == ColumnKind.TAGS:
            tags = split_tags(table[column]).explode()
            tags = tags[tags.notna()]
            frames.append(pd.DataFrame({key: ids.loc[tags.index].to_numpy(), COLUMN: column, VALUE_LABEL: tags.astype(str).to_numpy()}))
        else:
            frames.append(pd.DataFrame({key: ids.to_numpy(), COLUMN: column,
                                        VALUE_LABEL: readable_values(table[column], kind, bins).to_numpy()}))
    if not frames:
        return pd.DataFrame(columns=[key, COLUMN, VALUE_LABEL])
    return pd.concat(frames, ignore_index=True)


# =================================================================================================
# segments by customer columns
# =================================================================================================
def by_columns(
    users: pd.DataFrame,
    columns: Sequence[str],
    *,
    schema: TableSchema | None = None,
    user_ids: Iterable[Any] | None = None,
    bins: int = 4,
    max_segments: int = 20,
) -> Segmentation:
    """Segments by the values of one customer column or a combination of columns.

    Parameters
    ----------
    users
        The customers table.
    columns
        One or more columns; a combination gives labels such as ``"north · deal_seeker"``.
    schema
        The table's schema (column kinds); inferred when absent.
    user_ids
        The universe of customers (default: the customers table); customers missing from the
        table get ``"(missing)"``.
    bins
        Quantile bins of a numeric column.
    max_segments
        Combinations beyond the largest ``max_segments - 1`` are pooled into ``"(other)"``.
    """
    columns = list(columns)
    if not columns:
        raise ValueError("pick at least one customer column to segment by")
    unknown = [c for c in columns if c not in users.columns or c == C.USER_ID]
    if unknown:
        known = ", ".join(usable_columns(users, C.USER_ID, schema)) or "none"
        raise ValueError(f"unknown customer column(s) {unknown}; the customers table has: {known}")
    kinds = column_kinds(users[[C.USER_ID, *columns]], C.USER_ID, schema)
    multi = [c for c in columns if kinds[c] in (ColumnKind.TAGS, ColumnKind.TEXT, ColumnKind.IDENTIFIER)]
    if multi:
        raise ValueError(f"column(s) {multi} hold tags, free text or identifiers and cannot split customers into groups")
    parts = [readable_values(users[c], kinds[c], bins) for c in columns]
    label = parts[0]
    for part in parts[1:]:
        label = label + " · " + part
    labels = pd.Series(label.to_numpy(), index=users[C.USER_ID].astype(str))
    labels = labels[~labels.index.duplicated()]
    if user_ids is not None:
        universe = id_index(user_ids).unique()
        labels = labels.reindex(universe).fillna(" · ".join([MISSING] * len(columns)))
    notes: list[str] = []
    counts = labels.value_counts()
    if len(counts) > max_segments:
        keep = set(counts.index[: max_segments - 1])
        labels = labels.where(labels.isin(keep), OTHER)
        notes.append(f"{len(counts) - max_segments + 1} small combinations are pooled into {OTHER}.")
    definition = {"kind": "columns", "columns": columns, "bins": bins}
    return Segmentation.from_labels(labels, "columns", definition, notes=notes)


# =================================================================================================
# active customers over time
# =================================================================================================
def is_response(interactions: pd.DataFrame) -> np.ndarray:
    """Rows that are not exposures (all rows when there is no event column or only exposures)."""
    if C.EVENT not in interactions.columns:
        return np.ones(len(interactions), dtype=bool)
    is_response = ~interactions[C.EVENT].astype(str).isin(C.EXPOSURE_EVENTS).to_numpy()
    return is_response if is_response.any() else np.ones(len(interactions), dtype=bool)


def sizes_over_time(
    segmentation: Segmentation, interactions: pd.DataFrame, *, freq: str = "M", complete_only: bool = True,
) -> pd.DataFrame:
    """Active customers per period and segment (a customer is active when they responded).

    Returns ``period`` (start of the period), ``segment``, ``customers``. Rows without a date are
    left out; an empty frame when the data has no dates. With ``complete_only``, a first or last
    period that the data covers only in part is dropped (its dip would be an artefact of the cut),
    unless no period is complete.
    """
    empty = pd.DataFrame(columns=[PERIOD, SEGMENT, CUSTOMERS])
    if C.TIMESTAMP not in interactions.columns:
        return empty
    all_ts = pd.to_datetime(interactions[C.TIMESTAMP])
    if all_ts.notna().sum() == 0:
        return empty
    rows = interactions[is_response(interactions)]
    ts = pd.to_datetime(rows[C.TIMESTAMP])
    known = ts.notna().to_numpy()
    periods = ts[known].dt.to_period(freq)
    frame = pd.DataFrame({C.USER_ID: id_index(rows[C.USER_ID].to_numpy()[known]), PERIOD: periods.dt.start_time.to_numpy(),
                          "_end": periods.dt.end_time.to_numpy()}).drop_duplicates([C.USER_ID, PERIOD])
    frame[SEGMENT] = frame[C.USER_ID].map(segmentation.labels)
    out = frame.dropna(subset=[SEGMENT]).groupby([PERIOD, SEGMENT]).agg(**{CUSTOMERS: (C.USER_ID, "size"), "_end": ("_end", "first")})
    out = out.reset_index()
    if complete_only and not out.empty:
        first, last = all_ts.min().normalize(), all_ts.max().normalize() + pd.Timedelta(days=1)
        complete = (out[PERIOD] >= first) & (out["_end"] < last)
        if complete.any():
            out = out[complete]
    return out.drop(columns="_end").reset_index(drop=True)


__all__ = [
    "Segmentation", "by_columns", "sizes_over_time", "readable_values", "natural_order", "usable_columns",
    "column_kinds", "long_values", "is_response", "id_index", "sample_rows", "customer_universe", "in_audience",
    "SEGMENT", "CUSTOMERS", "SHARE", "COLUMN", "VALUE_LABEL", "PERIOD", "MISSING", "OTHER", "SELECTION",
]
