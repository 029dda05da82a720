"""Customer segments: RFM, customer facts, behavioural clusters of the model, saved segments.

A *segmentation* (:class:`Segmentation`) gives every customer one label. Four kinds:

* **RFM** (:func:`rfm`): recency, frequency and monetary value of each customer at a reference date,
  scored in quintiles and named with the usual grid (champions, loyal customers, at risk, ...);
* **customer facts** (:func:`by_columns`): the values of one or several customer columns;
* **behavioural clusters** (:func:`cluster_users`): k-means on the model's customer embeddings,
  the number of clusters suggested by the silhouette score unless given;
* **saved segments** (:func:`save_segment`, :func:`saved_segmentation`): a name, a definition and
  the member list at save time, kept in the workspace and usable as an audience filter.

Every segmentation is described by the same vectorised tools: sizes and their trend
(:func:`sizes_over_time`, :func:`rfm_sizes_over_time`), the traits and offer types that set a
segment apart (:func:`trait_lift`, :func:`offer_lift`), the segment x offer-type response table
(:func:`response_rates`), a 2-D map of the embeddings (:func:`embedding_map`), one profile card per
segment (:func:`profile`) and a side-by-side comparison (:func:`compare_profiles`).

Definitions
-----------
conversion
    A row whose event is ``purchase`` or ``redeem``. Data without those events: a row with a
    positive ``value``; data with neither: every row that is not an exposure (impression, view).
occasion
    A calendar day on which a customer converted at least once. A redeem and the purchase that
    follows it on the same day, or several orders on one day, are one occasion (the workspace keeps
    no order ids after cleaning, and timestamps of the lines of one order may differ by minutes).
recency
    Whole days from the customer's last occasion to the reference date (the reference date itself
    is excluded: RFM "as of the start of" that day). 1 = bought the day before.
frequency
    Number of occasions before the reference date.
monetary
    Sum of ``value`` of the customer's rows before the reference date (revenue). When the data has
    no value column, RFM falls back to RF: monetary is missing and the result says so.
quintile score
    ``score = 1 + floor(5 * share of buyers with a strictly worse value)``, 1..5, 5 best (for
    recency, lower is better). Tied customers share a score; the lowest value always scores 1.
response
    A distinct (customer, offer) pair with at least one row that is not an exposure.
lift
    Share of a segment with a trait (or of its responses going to an offer type) divided by the
    same share over the whole base. 1 = like everyone; 2 = twice as common.

>>> import pandas as pd
>>> inter = pd.DataFrame({
...     "user_id": ["a", "a", "b"], "item_id": ["x", "y", "x"], "event": ["purchase"] * 3,
...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-05", "2024-01-02"]), "value": [10.0, 5.0, 7.0]})
>>> rfm(inter, "2024-01-06").table[["recency", "frequency", "monetary", "segment"]].reset_index()
  user_id  recency  frequency  monetary         segment
0       a        1          2      15.0  need attention
1       b        4          1       7.0     hibernating
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from recsys.core import columns as C
from recsys.data.schema import ColumnKind, TableSchema, infer_kind, split_tags

# --- output columns of this module (not data-contract columns) -----------------------------------
SEGMENT = "segment"
CUSTOMERS = "customers"
SHARE = "share"
BASE_SHARE = "base_share"
LIFT = "lift"
COLUMN = "column"
VALUE_LABEL = "value_label"
PERIOD = "period"
RECENCY = "recency"
FREQUENCY = "frequency"
MONETARY = "monetary"
R_SCORE = "r_score"
F_SCORE = "f_score"
M_SCORE = "m_score"
RFM_CODE = "rfm_code"
RESPONSES = "responses"
EXPOSED = "exposed"
CLICK_RATE = "click_rate"
REDEEM_RATE = "redeem_rate"
PURCHASE_RATE = "purchase_rate"
VALUE_PER_CUSTOMER = "value_per_customer"
X, Y = "x", "y"

# --- vocabulary --------------------------------------------------------------------------------
CONVERSION_EVENTS: tuple[str, ...] = (C.PURCHASE, C.REDEEM)
EXPOSURE_EVENTS: tuple[str, ...] = (C.IMPRESSION, C.VIEW)
MISSING = "(missing)"
OTHER = "(other)"
NO_PURCHASE = "no purchase yet"
#: The usual named RFM segments on the recency x frequency score grid (rows R 1..5, columns F 1..5).
RFM_GRID: tuple[tuple[str, ...], ...] = (
    ("hibernating", "hibernating", "at risk", "at risk", "can't lose them"),
    ("hibernating", "hibernating", "at risk", "at risk", "can't lose them"),
    ("about to sleep", "about to sleep", "need attention", "loyal", "loyal"),
    ("promising", "potential loyalist", "potential loyalist", "loyal", "loyal"),
    ("new", "potential loyalist", "potential loyalist", "champions", "champions"),
)
#: Named RFM segments, best first (the display order).
RFM_SEGMENTS: tuple[str, ...] = (
    "champions", "loyal", "potential loyalist", "new", "promising", "need attention",
    "about to sleep", "can't lose them", "at risk", "hibernating", NO_PURCHASE,
)
#: What each RFM segment means, for the page and the CLI.
RFM_MEANING: dict[str, str] = {
    "champions": "bought recently and often",
    "loyal": "buy often, fairly recently",
    "potential loyalist": "recent, a few occasions",
    "new": "first occasion very recently",
    "promising": "recent, one occasion",
    "need attention": "middling recency and frequency",
    "about to sleep": "fading: not recent, few occasions",
    "can't lose them": "used to buy very often, not for a long time",
    "at risk": "bought often, long ago",
    "hibernating": "few occasions, long ago",
    NO_PURCHASE: "no conversion before the reference date",
}
DEFAULT_K_RANGE: tuple[int, ...] = tuple(range(3, 11))
#: scikit-learn's OpenMP threads per fit. One: on a shared machine two busy threads made k-means
#: 50x and t-SNE 3x slower than one (measured), and the app serves several people at once.
SKLEARN_THREADS = 1
TSNE_MAX_ITER = 500
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
        labels = pd.Series(labels.astype(str).to_numpy(dtype=object), index=_id_index(labels.index).rename(C.USER_ID),
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
        pos = self.labels.index.get_indexer(_id_index(user_ids))
        label_codes = pd.Categorical(self.labels.to_numpy(), categories=list(self.order)).codes
        return np.where(pos >= 0, label_codes[np.maximum(pos, 0)], -1).astype(np.int64)


# =================================================================================================
# RFM
# =================================================================================================
@dataclass(frozen=True)
class RFMResult:
    """RFM of every customer at one reference date (see the module docstring for definitions).

    Attributes
    ----------
    table
        Index ``user_id``; ``recency`` (days), ``frequency`` (occasions), ``monetary`` (sum of
        value, NaN in RF mode), ``r_score``, ``f_score``, ``m_score`` (1..5, NA for customers
        without a conversion or in RF mode), ``rfm_code`` (e.g. ``"545"``; ``"54"`` in RF mode) and
        ``segment``.
    reference_date
        Rows strictly before this day count.
    has_monetary
        False when the data has no value column (RF only).
    conversion
        What counted as a conversion (``"purchase, redeem"``, ``"value > 0"`` or ``"any response"``).
    notes
        Plain-language caveats.
    """

    table: pd.DataFrame
    reference_date: pd.Timestamp
    has_monetary: bool
    conversion: str
    notes: tuple[str, ...] = ()

    def segmentation(self) -> Segmentation:
        return Segmentation.from_labels(
            self.table[SEGMENT], "rfm",
            {"kind": "rfm", "reference_date": self.reference_date.date().isoformat(), "conversion": self.conversion},
            order=RFM_SEGMENTS, notes=self.notes,
        )

    def summary(self) -> pd.DataFrame:
        """Per named segment: customers, share, median recency, mean frequency, value and value share."""
        t = self.table
        grouped = t.groupby(SEGMENT, observed=True)
        out = pd.DataFrame({
            CUSTOMERS: grouped.size(),
            "median_recency_days": grouped[RECENCY].median(),
            "mean_frequency": grouped[FREQUENCY].mean(),
            "value": grouped[MONETARY].sum(min_count=1),
        })
        out[SHARE] = out[CUSTOMERS] / max(len(t), 1)
        total = t[MONETARY].sum()
        out["value_share"] = out["value"] / total if self.has_monetary and total > 0 else np.nan
        order = [s for s in RFM_SEGMENTS if s in out.index]
        return out.loc[order].rename_axis(SEGMENT).reset_index()[
            [SEGMENT, CUSTOMERS, SHARE, "median_recency_days", "mean_frequency", "value", "value_share"]
        ]

    def grid(self) -> pd.DataFrame:
        """Customers per (r_score, f_score) cell with the cell's segment name (for a grid chart)."""
        buyers = self.table.dropna(subset=[R_SCORE, F_SCORE])
        counts = buyers.groupby([R_SCORE, F_SCORE]).size()
        r, f = np.meshgrid(np.arange(1, 6), np.arange(1, 6), indexing="ij")
        frame = pd.DataFrame({R_SCORE: r.ravel(), F_SCORE: f.ravel()})
        frame[CUSTOMERS] = counts.reindex(pd.MultiIndex.from_frame(frame), fill_value=0).to_numpy()
        frame[SEGMENT] = np.asarray(RFM_GRID, dtype=object)[frame[R_SCORE] - 1, frame[F_SCORE] - 1]
        return frame


@dataclass(frozen=True)
class _DailyActivity:
    """Per (customer, day) with a row: converted or not, and the value of the rows; built once.

    ``user`` is a position in ``universe``; ``day`` counts days since 1970-01-01. Rows are sorted
    by user, then day.
    """

    user: np.ndarray
    day: np.ndarray
    converted: np.ndarray
    value: np.ndarray
    universe: pd.Index
    has_monetary: bool
    conversion: str
    notes: tuple[str, ...]
    last_day: pd.Timestamp


def _id_index(values: Iterable[Any]) -> pd.Index:
    """Ids as an object Index of strings (vectorised for Series, Index and arrays)."""
    if not isinstance(values, (pd.Series, pd.Index, np.ndarray)):
        values = list(values)
    return pd.Index(pd.Series(values, dtype=object).astype(str).to_numpy(dtype=object), dtype=object)


def _factorize(values: pd.Series | np.ndarray) -> tuple[np.ndarray, pd.Index]:
    """Integer codes and the distinct values as strings (ids are strings in the workspace)."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object) if not isinstance(values, pd.Series) else values)
    return codes.astype(np.int64), pd.Index(pd.Index(uniques).astype(str), dtype=object)


def _daily_activity(
    interactions: pd.DataFrame, users: pd.DataFrame | None, conversion_events: Sequence[str],
) -> _DailyActivity:
    if C.TIMESTAMP not in interactions.columns or interactions[C.TIMESTAMP].notna().sum() == 0:
        raise ValueError(
            "RFM needs dates: the interactions have no timestamp column (or it is empty). "
            "Map a date column on import (e.g. InvoiceDate -> timestamp), or segment by customer facts instead."
        )
    ts = pd.to_datetime(interactions[C.TIMESTAMP])
    notes: list[str] = []
    has_value = C.VALUE in interactions.columns and interactions[C.VALUE].notna().any()
    value = (interactions[C.VALUE].astype("float64").fillna(0.0).to_numpy()
             if has_value else np.zeros(len(interactions)))
    if not has_value:
        notes.append("The data has no value (revenue) column, so this is RF: recency and frequency only.")
    events = interactions[C.EVENT].astype(str) if C.EVENT in interactions.columns else None
    converted: np.ndarray
    if events is not None and events.isin(conversion_events).any():
        converted = events.isin(conversion_events).to_numpy()
        conversion = ", ".join(e for e in conversion_events if (events == e).any())
    elif has_value and (value > 0).any():
        converted = value > 0
        conversion = "value > 0"
        notes.append("No purchase or redeem events: a row with a positive value counts as a conversion.")
    else:
        converted = ~events.isin(EXPOSURE_EVENTS).to_numpy() if events is not None else np.ones(len(ts), bool)
        conversion = "any response"
        notes.append("No purchases, redeems or values: every response (not an impression or view) counts as an occasion.")
    user, uniques = _factorize(interactions[C.USER_ID])
    universe = uniques
    if users is not None and C.USER_ID in users.columns:
        extra = pd.Index(users[C.USER_ID].astype(str).unique(), dtype=object)
        universe = uniques.append(extra[~extra.isin(uniques)])
    known = ts.notna().to_numpy()
    day = ts.to_numpy(dtype="datetime64[ns]")[known].astype("datetime64[D]").astype(np.int64)
    first = int(day.min())
    span = int(day.max()) - first + 1
    key = user[known] * span + (day - first)
    keys, inverse = np.unique(key, return_inverse=True)  # sorted: by user, then day
    inverse = inverse.ravel()
    return _DailyActivity(
        user=keys // span, day=keys % span + first,
        converted=np.bincount(inverse, weights=converted[known].astype(np.float64), minlength=len(keys)) > 0,
        value=np.bincount(inverse, weights=value[known], minlength=len(keys)),
        universe=universe, has_monetary=bool(has_value), conversion=conversion, notes=tuple(notes),
        last_day=pd.Timestamp(ts.max()),
    )


def _quintile_score(goodness: np.ndarray, mask: np.ndarray) -> pd.arrays.IntegerArray:
    """``1 + floor(5 * share of values strictly worse)`` among ``mask`` (NA elsewhere): ties share a
    score and the worst value scores 1."""
    out = np.zeros(len(goodness), dtype=np.int64)
    n = int(mask.sum())
    if n:
        worse = pd.Series(goodness[mask]).rank(method="min").to_numpy() - 1  # values strictly below
        out[mask] = np.clip(1 + np.floor(5 * worse / n).astype(np.int64), 1, 5)
    return pd.arrays.IntegerArray(out, ~mask)


def _rfm_at(activity: _DailyActivity, reference_date: Any | None) -> RFMResult:
    ref = (pd.Timestamp(reference_date).normalize() if reference_date is not None
           else activity.last_day.normalize() + pd.Timedelta(days=1))
    ref_day = int(np.datetime64(ref.date(), "D").astype(np.int64))
    n = len(activity.universe)
    before = activity.day < ref_day
    conv = before & activity.converted
    frequency = np.bincount(activity.user[conv], minlength=n)
    last = np.full(n, np.iinfo(np.int64).min)
    conv_user, conv_day = activity.user[conv], activity.day[conv]
    ends = np.flatnonzero(np.r_[conv_user[1:] != conv_user[:-1], True]) if len(conv_user) else np.zeros(0, np.int64)
    last[conv_user[ends]] = conv_day[ends]  # rows are sorted by user then day: the last row is the latest
    buyers = frequency > 0
    table = pd.DataFrame(index=pd.Index(activity.universe, name=C.USER_ID))
    table[RECENCY] = pd.array(np.where(buyers, ref_day - last, 0), dtype="Int64")
    table.loc[~buyers, RECENCY] = pd.NA
    table[FREQUENCY] = frequency.astype(np.int64)
    if activity.has_monetary:
        table[MONETARY] = np.bincount(activity.user[before], weights=activity.value[before], minlength=n)
    else:
        table[MONETARY] = np.nan
    table[R_SCORE] = _quintile_score(np.where(buyers, last, ref_day).astype(np.float64), buyers)  # later = better
    table[F_SCORE] = _quintile_score(frequency.astype(np.float64), buyers)
    if activity.has_monetary:
        table[M_SCORE] = _quintile_score(table[MONETARY].to_numpy(np.float64), buyers)
    else:
        table[M_SCORE] = pd.arrays.IntegerArray(np.zeros(n, np.int64), np.ones(n, bool))
    code = table[R_SCORE].astype("string") + table[F_SCORE].astype("string")
    if activity.has_monetary:
        code = code + table[M_SCORE].astype("string")
    table[RFM_CODE] = code
    grid = np.asarray(RFM_GRID, dtype=object)
    names = np.full(len(table), NO_PURCHASE, dtype=object)
    names[buyers] = grid[table[R_SCORE].to_numpy(dtype=np.int64, na_value=1)[buyers] - 1,
                         table[F_SCORE].to_numpy(dtype=np.int64, na_value=1)[buyers] - 1]
    table[SEGMENT] = names
    notes = list(activity.notes)
    if not buyers.any():
        notes.append(f"No customer converted before {ref:%Y-%m-%d}: pick a later reference date.")
    return RFMResult(table, ref, activity.has_monetary, activity.conversion, tuple(notes))


def rfm(
    interactions: pd.DataFrame,
    reference_date: Any | None = None,
    *,
    users: pd.DataFrame | None = None,
    conversion_events: Sequence[str] = CONVERSION_EVENTS,
) -> RFMResult:
    """Recency, frequency, monetary value and the named RFM segment of every customer.

    Parameters
    ----------
    interactions
        The interactions (``user_id``, ``timestamp``, optionally ``event`` and ``value``).
    reference_date
        RFM as of the start of this day (rows from this day on are ignored). Default: the day
        after the last interaction.
    users
        Optional customers table: its customers without any conversion are included as
        ``"no purchase yet"``.
    conversion_events
        Events that count as a purchase occasion (default purchase and redeem).

    Returns
    -------
    RFMResult
        See the module docstring for the exact definitions.

    Raises
    ------
    ValueError
        When the interactions have no dates.
    """
    return _rfm_at(_daily_activity(interactions, users, conversion_events), reference_date)


def rfm_sizes_over_time(
    interactions: pd.DataFrame,
    *,
    users: pd.DataFrame | None = None,
    periods: int = 6,
    freq: str = "MS",
    conversion_events: Sequence[str] = CONVERSION_EVENTS,
) -> pd.DataFrame:
    """Size of every named RFM segment at the start of each of the last ``periods`` periods.

    Returns a long frame ``period``, ``segment``, ``customers`` (the RFM is recomputed at each
    date; the day-level activity is built once).
    """
    activity = _daily_activity(interactions, users, conversion_events)
    end = activity.last_day.normalize() + pd.Timedelta(days=1)
    first = pd.Timestamp(np.datetime64(int(activity.day.min()), "D"))
    dates = pd.date_range(end=end, periods=periods, freq=freq)
    dates = [d for d in dates if d > first] + ([end] if end not in dates else [])
    frames = []
    for date in dates:  # a handful of reference dates
        counts = _rfm_at(activity, date).table[SEGMENT].value_counts()
        frames.append(pd.DataFrame({PERIOD: date, SEGMENT: counts.index, CUSTOMERS: counts.to_numpy()}))
    if not frames:
        return pd.DataFrame(columns=[PERIOD, SEGMENT, CUSTOMERS])
    out = pd.concat(frames, ignore_index=True)
    order = out[SEGMENT].map({s: i for i, s in enumerate(RFM_SEGMENTS)})
    return out.assign(_o=order).sort_values([PERIOD, "_o"]).drop(columns="_o").reset_index(drop=True)


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


def _column_kinds(table: pd.DataFrame, key: str, schema: TableSchema | None) -> dict[str, ColumnKind]:
    kinds = schema.kinds() if schema is not None else {}
    return {
        str(c): kinds.get(str(c)) or infer_kind(table[c]) for c in table.columns if c != key
    }


def usable_columns(table: pd.DataFrame, key: str, schema: TableSchema | None = None) -> list[str]:
    """Columns that can describe a segment (not identifiers, free text or ignored columns)."""
    return [c for c, k in _column_kinds(table, key, schema).items() if k not in UNUSABLE_KINDS]


def _long_values(
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
    kinds = _column_kinds(users[[C.USER_ID, *columns]], C.USER_ID, schema)
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
        universe = _id_index(user_ids).unique()
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
# behavioural clusters of the model's customer embeddings
# =================================================================================================
@dataclass(frozen=True)
class ClusterResult:
    """k-means clusters of the model's customers.

    Attributes
    ----------
    segmentation
        Labels ``"cluster 1"`` (largest) ... ``"cluster k"``.
    k, suggested_k
        The number of clusters used and the one the silhouette score suggested.
    silhouette
        ``k``, ``silhouette`` for every k tried (empty when k was given and not searched).
    vectors
        The (scaled) vectors that were clustered, one row per customer of ``segmentation.labels``.
    """

    segmentation: Segmentation
    k: int
    suggested_k: int | None
    silhouette: pd.DataFrame
    vectors: np.ndarray = field(repr=False)


def behaviour_vectors(model: Any, user_ids: Iterable[Any] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(user ids, vectors) to cluster: the model's customer embeddings, in two balanced views.

    LightFM represents a customer as the sum of the embeddings of their facts (segment, region,
    ...) and of their own identity (learnt from their history alone). The identity part is
    mostly personal taste and, on shop data, carries most of the variance (70% on the sample
    shop), so k-means on the raw sum groups people by idiosyncrasies. Each view is therefore
    centred and scaled to unit root-mean-square norm and the two are concatenated, so both weigh
    the same. A model with only one view (no side features, or no identity features) gives that
    view alone.
    """
    index = model.user_index_
    ids = np.asarray(index.ids, dtype=object)
    if user_ids is not None:
        pos = index.positions(list(user_ids))
        ids = ids[pos[pos >= 0]]
    else:
        pos = np.arange(len(ids))
    pos = pos[pos >= 0]
    feats = model.user_features_[pos]
    emb = np.asarray(model.user_embeddings_, dtype=np.float64)
    is_identity = np.asarray(model.user_feature_index_.kinds, dtype=object) == "identity"
    views = []
    for mask in (is_identity, ~is_identity):
        if not mask.any():
            continue
        part = np.asarray(feats[:, mask] @ emb[mask], dtype=np.float64)
        part -= part.mean(axis=0)
        rms = float(np.sqrt((part**2).sum(axis=1).mean()))
        if rms > 0:
            views.append(part / rms)
    if not views:
        _, vectors = model.user_representations(ids)
        views = [np.asarray(vectors, dtype=np.float64) - np.asarray(vectors).mean(axis=0)]
    return ids, np.hstack(views)


def _sample_rows(n: int, size: int, seed: int) -> np.ndarray:
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def suggest_k(
    vectors: np.ndarray, k_range: Sequence[int] = DEFAULT_K_RANGE, *, sample_size: int = 4000, seed: int = 0,
) -> tuple[int, pd.DataFrame]:
    """The k of ``k_range`` with the highest mean silhouette score on a seeded sample.

    Returns the chosen k and a frame ``k``, ``silhouette`` of every k tried. The silhouette of a
    point is ``(b - a) / max(a, b)`` with ``a`` its mean distance to its own cluster and ``b`` to
    the nearest other cluster; higher means better separated clusters. k starts at 3 by default
    because silhouette favours a two-way split on noisy data and two groups are rarely a
    segmentation a marketer can act on.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    sample = vectors[_sample_rows(len(vectors), sample_size, seed)]
    ks = [int(k) for k in k_range if 2 <= int(k) < len(sample)]
    if not ks:
        raise ValueError(f"too few customers ({len(sample)}) to try {list(k_range)} clusters")
    scores = []
    with threadpool_limits(SKLEARN_THREADS):
        for k in ks:  # a handful of k values
            labels = KMeans(k, n_init=4, random_state=seed).fit_predict(sample)
            scores.append(float(silhouette_score(sample, labels)) if len(np.unique(labels)) > 1 else -1.0)
    table = pd.DataFrame({"k": ks, "silhouette": scores})
    return int(table.loc[table["silhouette"].idxmax(), "k"]), table


def cluster_users(
    model: Any,
    k: int | None = None,
    *,
    k_range: Sequence[int] = DEFAULT_K_RANGE,
    seed: int = 0,
    sample_size: int = 4000,
    fit_size: int = 50_000,
) -> ClusterResult:
    """Behavioural clusters: k-means on the model's customer embeddings (see :func:`behaviour_vectors`).

    Parameters
    ----------
    model
        A fitted ``HybridRecommender`` (every customer it knows is clustered).
    k
        Number of clusters; default: the silhouette suggestion over ``k_range``.
    seed
        Seed of the samples and of k-means.
    sample_size
        Customers sampled to compute silhouette scores.
    fit_size
        k-means is fitted on at most this many customers (seeded sample), then every customer is
        assigned to the nearest centre: bounded time at millions of customers.
    """
    from sklearn.cluster import KMeans

    ids, vectors = behaviour_vectors(model)
    suggested, table = None, pd.DataFrame(columns=["k", "silhouette"])
    if k is None:
        suggested, table = suggest_k(vectors, k_range, sample_size=sample_size, seed=seed)
        k = suggested
    if not 1 <= int(k) <= len(vectors):
        raise ValueError(f"the number of clusters must be between 1 and the number of customers ({len(vectors)}), got {k}")
    k = int(k)
    fit_rows = _sample_rows(len(vectors), fit_size, seed)
    with threadpool_limits(SKLEARN_THREADS):
        km = KMeans(k, n_init=4, random_state=seed).fit(vectors[fit_rows])
        raw = km.predict(vectors)
    sizes = np.bincount(raw, minlength=k)
    rank = np.empty(k, dtype=np.int64)
    rank[np.argsort(-sizes, kind="stable")] = np.arange(k)  # cluster 1 = the largest
    names = np.array([f"cluster {i + 1}" for i in range(k)], dtype=object)
    labels = pd.Series(names[rank[raw]], index=pd.Index(ids.astype(str), name=C.USER_ID))
    definition = {"kind": "clusters", "k": k, "suggested_k": suggested, "seed": seed,
                  "representation": "balanced facts + history views of the model's customer embeddings"}
    segmentation = Segmentation.from_labels(labels, "clusters", definition, order=list(names))
    return ClusterResult(segmentation, k, suggested, table, vectors)


# =================================================================================================
# what sets a segment apart
# =================================================================================================
def _shares_long(counts: pd.DataFrame, group_total: pd.Series, base_total: float) -> pd.DataFrame:
    """Add share, base share and lift to a (segment, column, value_label, n) count frame."""
    base = counts.groupby([COLUMN, VALUE_LABEL], observed=True)["n"].sum()
    out = counts.copy()
    out[SHARE] = out["n"] / out[SEGMENT].map(group_total).astype(float)
    out[BASE_SHARE] = pd.MultiIndex.from_frame(out[[COLUMN, VALUE_LABEL]]).map(base).to_numpy(dtype=float) / base_total
    out[LIFT] = out[SHARE] / out[BASE_SHARE]
    return out


def trait_lift(
    segmentation: Segmentation,
    users: pd.DataFrame,
    columns: Sequence[str] | None = None,
    *,
    schema: TableSchema | None = None,
    bins: int = 4,
) -> pd.DataFrame:
    """How much more (or less) common each customer trait is in each segment than in the base.

    Returns a long frame ``segment``, ``column``, ``value_label``, ``customers`` (of the segment
    with the trait), ``share`` (of the segment), ``base_share`` (of everyone) and ``lift``
    (``share / base_share``). Customers absent from the table count as ``"(missing)"``.
    """
    columns = list(columns) if columns is not None else usable_columns(users, C.USER_ID, schema)
    kinds = _column_kinds(users[[C.USER_ID, *columns]], C.USER_ID, schema)
    universe = segmentation.labels
    table = users.drop_duplicates(C.USER_ID)
    table = table.assign(**{C.USER_ID: table[C.USER_ID].astype(str)}).set_index(C.USER_ID).reindex(universe.index)
    table = table.rename_axis(C.USER_ID).reset_index()
    long = _long_values(table, C.USER_ID, columns, kinds, bins)
    long[SEGMENT] = long[C.USER_ID].map(universe)
    counts = long.groupby([SEGMENT, COLUMN, VALUE_LABEL], observed=True).size().rename("n").reset_index()
    group_total = universe.value_counts()
    out = _shares_long(counts, group_total, float(len(universe))).rename(columns={"n": CUSTOMERS})
    return _ordered(out, segmentation)


def trait_columns(segmentation: Segmentation, users: pd.DataFrame, schema: TableSchema | None = None) -> list[str]:
    """Customer columns worth describing a segmentation with: the usable ones, minus those it was
    made from (a segment by region is trivially all one region)."""
    used = set(segmentation.definition.get("columns", []))
    return [c for c in usable_columns(users, C.USER_ID, schema) if c not in used]


def _ordered(frame: pd.DataFrame, segmentation: Segmentation) -> pd.DataFrame:
    order = {s: i for i, s in enumerate(segmentation.order)}
    return (frame.assign(_o=frame[SEGMENT].map(order)).sort_values(["_o", COLUMN, LIFT], ascending=[True, True, False])
            .drop(columns="_o").reset_index(drop=True))


def _is_response(interactions: pd.DataFrame) -> np.ndarray:
    """Rows that are not exposures (all rows when there is no event column or only exposures)."""
    if C.EVENT not in interactions.columns:
        return np.ones(len(interactions), dtype=bool)
    is_response = ~interactions[C.EVENT].astype(str).isin(EXPOSURE_EVENTS).to_numpy()
    return is_response if is_response.any() else np.ones(len(interactions), dtype=bool)


def _responses(interactions: pd.DataFrame) -> pd.DataFrame:
    """Distinct (customer, offer) pairs with a row that is not an exposure (string ids)."""
    rows = interactions[_is_response(interactions)]
    user, users = _factorize(rows[C.USER_ID])
    item, items = _factorize(rows[C.ITEM_ID])
    n_items = max(len(items), 1)
    keys = np.unique(user * n_items + item)
    return pd.DataFrame({C.USER_ID: users.to_numpy()[keys // n_items], C.ITEM_ID: items.to_numpy()[keys % n_items]})


def _value_matrix(items: pd.DataFrame, item_index: pd.Index, column: str, kind: ColumnKind, bins: int) -> tuple[sp.csr_matrix, pd.Index]:
    """Sparse (offer x value label) indicator of one offer column, rows in ``item_index`` order.

    A tag column has one entry per tag; offers missing from ``items`` get ``"(missing)"``.
    """
    long = _long_values(items.drop_duplicates(C.ITEM_ID), C.ITEM_ID, [column], {column: kind}, bins)
    rows = item_index.get_indexer(pd.Index(long[C.ITEM_ID].astype(str)))
    keep = rows >= 0
    labels = long[VALUE_LABEL].to_numpy()[keep]
    rows = rows[keep]
    missing = np.setdiff1d(np.arange(len(item_index)), rows)
    rows = np.r_[rows, missing]
    labels = np.r_[labels, np.full(len(missing), MISSING, dtype=object)]
    codes, values = _factorize(labels)
    matrix = sp.csr_matrix((np.ones(len(rows)), (rows, codes)), shape=(len(item_index), len(values)))
    return matrix, values


def offer_lift(
    segmentation: Segmentation,
    interactions: pd.DataFrame,
    items: pd.DataFrame,
    columns: Sequence[str] | None = None,
    *,
    schema: TableSchema | None = None,
    bins: int = 4,
) -> pd.DataFrame:
    """Which offer types each segment responds to more than the base does.

    A response is a distinct (customer, offer) pair with a click, redeem, purchase or any other
    non-exposure event. Returns a long frame ``segment``, ``column``, ``value_label``,
    ``responses``, ``share`` (of the segment's responses going to offers with that value),
    ``base_share`` (the same over everyone) and ``lift``. A tag column counts a response once per
    tag of the offer, so its shares are "share of responses with this tag".
    """
    columns = list(columns) if columns is not None else usable_columns(items, C.ITEM_ID, schema)
    kinds = _column_kinds(items[[C.ITEM_ID, *columns]], C.ITEM_ID, schema)
    empty = pd.DataFrame(columns=[SEGMENT, COLUMN, VALUE_LABEL, RESPONSES, SHARE, BASE_SHARE, LIFT])
    pairs = _responses(interactions)
    seg = segmentation.codes(pairs[C.USER_ID])
    pairs, seg = pairs[seg >= 0], seg[seg >= 0]
    if pairs.empty or not columns:
        return empty
    item, item_index = _factorize(pairs[C.ITEM_ID])
    n_seg = len(segmentation.order)
    # responses per (segment, offer), then per (segment, value) through each column's indicator
    per_item = sp.csr_matrix((np.ones(len(item)), (seg, item)), shape=(n_seg, len(item_index)))
    frames = []
    for column in columns:  # a handful of offer columns
        matrix, values = _value_matrix(items, item_index, column, kinds[column], bins)
        counts = (per_item @ matrix).toarray()
        s_idx, v_idx = np.nonzero(counts)
        frames.append(pd.DataFrame({
            SEGMENT: np.asarray(segmentation.order, dtype=object)[s_idx], COLUMN: column,
            VALUE_LABEL: values.to_numpy()[v_idx], "n": counts[s_idx, v_idx],
        }))
    counts = pd.concat(frames, ignore_index=True)
    group_total = pd.Series(np.bincount(seg, minlength=n_seg), index=list(segmentation.order))
    out = _shares_long(counts, group_total, float(len(pairs)))
    out["n"] = out["n"].astype(np.int64)
    return _ordered(out.rename(columns={"n": RESPONSES})[[SEGMENT, COLUMN, VALUE_LABEL, RESPONSES, SHARE, BASE_SHARE, LIFT]],
                    segmentation)


def top_lifts(lifts: pd.DataFrame, segment: str, n: int = 5, *, min_share: float = 0.1) -> pd.DataFrame:
    """The ``n`` values that most set ``segment`` apart: highest lift among values held by at least
    ``min_share`` of the segment (falling back to any share when none qualifies)."""
    mine = lifts[(lifts[SEGMENT] == segment) & (lifts[VALUE_LABEL] != MISSING)]
    common = mine[mine[SHARE] >= min_share]
    pool = common if not common.empty else mine
    return pool.sort_values([LIFT, SHARE], ascending=False).head(n).reset_index(drop=True)


def describe(
    segmentation: Segmentation, trait_lifts: pd.DataFrame, offer_lifts: pd.DataFrame | None = None, *, n: int = 3,
) -> pd.DataFrame:
    """One line per segment: size, share and its top traits and offer types in words."""
    sizes = segmentation.sizes().set_index(SEGMENT)

    def words(frame: pd.DataFrame) -> str:
        return ", ".join(f"{r[COLUMN]} {r[VALUE_LABEL]} (×{r[LIFT]:.1f})" for r in frame.to_dict("records"))

    rows = []
    for segment in segmentation.order:  # one row per segment: a handful
        row = {SEGMENT: segment, CUSTOMERS: int(sizes.loc[segment, CUSTOMERS]), SHARE: float(sizes.loc[segment, SHARE]),
               "top traits": words(top_lifts(trait_lifts, segment, n))}
        if offer_lifts is not None:
            row["top offer types"] = words(top_lifts(offer_lifts, segment, n))
        rows.append(row)
    return pd.DataFrame(rows)


# =================================================================================================
# responses per segment and offer type; sizes over time
# =================================================================================================
def response_rates(
    segmentation: Segmentation,
    interactions: pd.DataFrame,
    items: pd.DataFrame,
    column: str,
    *,
    schema: TableSchema | None = None,
    bins: int = 4,
) -> tuple[pd.DataFrame, str]:
    """Click, redeem and purchase rates and value per customer for each segment x offer type.

    When the data records exposures (impressions or views), a rate is the share of exposed
    (customer, offer) pairs that reached the event: ``pairs with a click / pairs with any row``.
    Otherwise it is the share of the segment's customers who had the event on an offer of that
    type. ``value_per_customer`` is the segment's revenue on those offers divided by the number
    of customers in the segment. Returns the long frame and a sentence saying which basis was used.
    """
    if column not in items.columns or column == C.ITEM_ID:
        known = ", ".join(c for c in items.columns if c != C.ITEM_ID) or "none"
        raise ValueError(f"unknown offer column {column!r}; the offers table has: {known}")
    kind = _column_kinds(items[[C.ITEM_ID, column]], C.ITEM_ID, schema)[column]
    if kind in (ColumnKind.TEXT, ColumnKind.IDENTIFIER, ColumnKind.TAGS):
        raise ValueError(f"offer column {column!r} holds free text or tags; pick a column with one value per offer "
                         "(type, category, channel, discount, ...)")
    user, user_index = _factorize(interactions[C.USER_ID])
    item, item_index = _factorize(interactions[C.ITEM_ID])
    seg = segmentation.codes(user_index)[user]
    matrix, values = _value_matrix(items, item_index, column, kind, bins)
    if not (np.diff(matrix.indptr) == 1).all():
        raise ValueError(f"offer column {column!r} has several values per offer")
    val = matrix.indices.astype(np.int64)[item]  # CSR with one entry per row: the row's value code
    events = (interactions[C.EVENT].astype(str).to_numpy() if C.EVENT in interactions.columns
              else np.full(len(interactions), C.INTERACTION, dtype=object))
    value = (interactions[C.VALUE].astype("float64").fillna(0.0).to_numpy() if C.VALUE in interactions.columns
             else np.zeros(len(interactions)))
    inside = seg >= 0
    user, item, seg, val, events, value = user[inside], item[inside], seg[inside], val[inside], events[inside], value[inside]
    n_seg, n_val = len(segmentation.order), len(values)
    has_exposures = bool(np.isin(events, EXPOSURE_EVENTS).any())
    # the unit of a rate: a (customer, offer) pair when exposures are recorded, else a (customer, value)
    unit = user * len(item_index) + item if has_exposures else user * n_val + val
    units, first, inverse = np.unique(unit, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    cell_of_unit = seg[first] * n_val + val[first]
    size = n_seg * n_val
    exposed = np.bincount(cell_of_unit, minlength=size)
    rate_events = {CLICK_RATE: C.CLICK, REDEEM_RATE: C.REDEEM, PURCHASE_RATE: C.PURCHASE}
    sizes = np.bincount(segmentation.codes(segmentation.labels.index), minlength=n_seg).astype(np.float64)
    seg_of_cell = np.repeat(np.arange(n_seg), n_val)
    out = pd.DataFrame({
        SEGMENT: np.asarray(segmentation.order, dtype=object)[seg_of_cell],
        column: np.tile(values.to_numpy(), n_seg), EXPOSED: exposed,
    })
    for name, event in rate_events.items():  # three event types
        hit = np.bincount(inverse, weights=(events == event).astype(np.float64), minlength=len(units)) > 0
        hits = np.bincount(cell_of_unit[hit], minlength=size).astype(np.float64)
        denominator = exposed if has_exposures else sizes[seg_of_cell]
        out[name] = hits / np.maximum(denominator, 1)
    out[VALUE_PER_CUSTOMER] = np.bincount(seg * n_val + val, weights=value, minlength=size) / np.maximum(sizes[seg_of_cell], 1)
    out[CUSTOMERS] = sizes[seg_of_cell].astype(np.int64)
    out = out[out[EXPOSED] > 0]
    value_order = {v: i for i, v in enumerate(natural_order(out[column]))}
    out = (out.assign(_o=pd.Categorical(out[SEGMENT], categories=list(segmentation.order)).codes,
                      _v=out[column].map(value_order))
           .sort_values(["_o", "_v"]).drop(columns=["_o", "_v"]).reset_index(drop=True))
    basis = ("Rates per exposed customer-offer pair (pairs with the event / pairs shown or interacted with)."
             if has_exposures else
             "The data records no impressions or views: rates are the share of the segment's customers "
             "with the event on an offer of that type.")
    missing = [name for name, e in rate_events.items() if not (events == e).any()]
    if missing:
        basis += " Events missing from the data show as 0: " + ", ".join(missing) + "."
    return out, basis


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
    rows = interactions[_is_response(interactions)]
    ts = pd.to_datetime(rows[C.TIMESTAMP])
    known = ts.notna().to_numpy()
    periods = ts[known].dt.to_period(freq)
    frame = pd.DataFrame({C.USER_ID: _id_index(rows[C.USER_ID].to_numpy()[known]), PERIOD: periods.dt.start_time.to_numpy(),
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


# =================================================================================================
# 2-D map of the embeddings
# =================================================================================================
@dataclass(frozen=True)
class EmbeddingMap:
    """2-D coordinates of a sample of the model's customers.

    ``frame`` has ``user_id``, ``x``, ``y``; ``n_total`` customers exist, ``len(frame)`` are drawn.
    """

    frame: pd.DataFrame
    n_total: int
    method: str
    note: str


MAP_METHODS = ("pca", "tsne")


def embedding_map(
    model: Any, *, method: str = "pca", sample_size: int = 5000, seed: int = 0,
) -> EmbeddingMap:
    """Project the customer vectors that :func:`cluster_users` uses to 2-D for a map.

    PCA is fitted on every customer (fast) and a seeded sample of ``sample_size`` is returned for
    drawing; t-SNE (slower, keeps neighbours together) runs on the sample only.
    """
    if method not in MAP_METHODS:
        raise ValueError(f"method must be one of {MAP_METHODS}, got {method!r}")
    ids, vectors = behaviour_vectors(model)
    rows = _sample_rows(len(ids), sample_size, seed)
    if method == "pca":
        from sklearn.decomposition import PCA

        n_comp = min(2, vectors.shape[1], len(vectors))
        with threadpool_limits(SKLEARN_THREADS):
            pca = PCA(n_components=n_comp, random_state=seed).fit(vectors)
            xy = pca.transform(vectors[rows])
        explained = float(pca.explained_variance_ratio_.sum())
        note = f"PCA of the customer embeddings ({explained:.0%} of their variance shown)."
    else:
        from sklearn.manifold import TSNE

        sample = vectors[rows]
        perplexity = float(min(30.0, max(2.0, (len(sample) - 1) / 3)))
        with threadpool_limits(SKLEARN_THREADS):
            xy = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed,
                      max_iter=TSNE_MAX_ITER).fit_transform(sample)
        note = "t-SNE of the customer embeddings: near points are similar customers; distances between far groups mean little."
    if xy.shape[1] < 2:
        xy = np.c_[xy, np.zeros(len(xy))]
    if len(rows) < len(ids):
        note += f" Showing a random sample of {len(rows):,} of {len(ids):,} customers."
    frame = pd.DataFrame({C.USER_ID: ids[rows].astype(str), X: xy[:, 0], Y: xy[:, 1]})
    return EmbeddingMap(frame, len(ids), method, note)


def selected_user_ids(points: Iterable[dict[str, Any]]) -> list[str]:
    """User ids of the points of a Plotly selection event (their first ``customdata`` value)."""
    ids = []
    for point in points:  # the points a person selected on screen
        custom = point.get("customdata")
        if isinstance(custom, (list, tuple)) and custom:
            ids.append(str(custom[0]))
        elif custom is not None and not isinstance(custom, (list, tuple)):
            ids.append(str(custom))
    return list(dict.fromkeys(ids))


# =================================================================================================
# profiles
# =================================================================================================
@dataclass(frozen=True)
class SegmentProfile:
    """The profile card of one segment."""

    name: str
    customers: int
    share: float
    value: float | None
    value_share: float | None
    value_per_customer: float | None
    active_share: float
    traits: pd.DataFrame
    offer_types: pd.DataFrame
    top_offers: pd.DataFrame | None
    distinctive_offers: pd.DataFrame | None = None

    def headline(self) -> dict[str, Any]:
        return {
            "customers": self.customers, "share of customers": self.share, "value": self.value,
            "share of value": self.value_share, "value per customer": self.value_per_customer,
            "share who responded": self.active_share,
        }


OFFER_SCORE_COLUMNS = ("mean_score", "base_mean_score", "uplift", "top_k_share", "base_top_k_share")
_SCORE_BLOCK = 20_000_000  # scores held in memory at once (customers x offers)


def _score_summary(model: Any, user_ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean score of every offer over ``user_ids`` and the share of them with it in their top k."""
    item_bias, item_vec = model.item_representations()
    item_bias = np.asarray(item_bias, np.float64)
    n_items = len(item_bias)
    kk = min(k, n_items)
    total, in_top = np.zeros(n_items), np.zeros(n_items)
    step = max(1, _SCORE_BLOCK // max(n_items, 1))
    for start in range(0, len(user_ids), step):  # blocks of customers bound the memory
        _, vectors = model.user_representations(user_ids[start:start + step])
        scores = item_bias[None, :] + np.asarray(vectors, np.float64) @ np.asarray(item_vec, np.float64).T
        total += scores.sum(axis=0)
        top = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
        in_top += np.bincount(top.ravel(), minlength=n_items)
    return total / max(len(user_ids), 1), in_top / max(len(user_ids), 1)


def offer_scores(
    model: Any, members: Iterable[Any], *, k: int = 10, sample_size: int = 2000, seed: int = 0,
    base_ids: Iterable[Any] | None = None,
) -> pd.DataFrame:
    """How the model scores every offer for a segment, against everyone.

    For a seeded sample of members and of ``base_ids`` (default: every customer the model knows),
    the score of an offer is ``b_i + p_u·q_i`` (the customer's own bias ``b_u`` is left out: it is
    the same for all their offers and does not change their ranking). Returns one row per offer:
    ``item_id``, ``mean_score`` (members), ``base_mean_score`` (everyone), ``uplift`` (the
    difference), ``top_k_share`` (share of members with the offer in their own top ``k``) and
    ``base_top_k_share``.
    """
    index = model.user_index_
    member_ids = _id_index(members).unique()
    known = member_ids[index.positions(member_ids) >= 0]
    if len(known) == 0:
        return pd.DataFrame(columns=[C.ITEM_ID, *OFFER_SCORE_COLUMNS])
    sample = np.asarray(known[_sample_rows(len(known), sample_size, seed)], dtype=object)
    everyone = np.asarray(index.ids if base_ids is None else _id_index(base_ids), dtype=object)
    everyone = everyone[index.positions(everyone) >= 0]
    base = everyone[_sample_rows(len(everyone), sample_size, seed + 1)]
    mean, top_share = _score_summary(model, sample, k)
    base_mean, base_top = _score_summary(model, base, k)
    return pd.DataFrame({
        C.ITEM_ID: np.asarray(model.item_index_.ids, dtype=object).astype(str),
        "mean_score": mean, "base_mean_score": base_mean, "uplift": mean - base_mean,
        "top_k_share": top_share, "base_top_k_share": base_top,
    })


def predicted_top_offers(
    model: Any, members: Iterable[Any], *, n: int = 5, k: int = 10, rank_by: str = "score", sample_size: int = 2000,
    seed: int = 0, base_ids: Iterable[Any] | None = None,
) -> pd.DataFrame:
    """The ``n`` offers the model scores highest for a segment (``rank_by="score"``), or scores
    most above everyone else (``rank_by="uplift"``); columns as in :func:`offer_scores`."""
    if rank_by not in ("score", "uplift"):
        raise ValueError(f"rank_by must be 'score' or 'uplift', got {rank_by!r}")
    scores = offer_scores(model, members, k=k, sample_size=sample_size, seed=seed, base_ids=base_ids)
    return _top_offers(scores, n, rank_by)


def _top_offers(scores: pd.DataFrame, n: int, rank_by: str) -> pd.DataFrame:
    key = ["mean_score", "top_k_share"] if rank_by == "score" else ["uplift", "mean_score"]
    return scores.sort_values(key, ascending=False).head(n).reset_index(drop=True)


def _value_by_user(interactions: pd.DataFrame) -> pd.Series:
    if C.VALUE not in interactions.columns or not interactions[C.VALUE].notna().any():
        return pd.Series(dtype=float)
    user, users = _factorize(interactions[C.USER_ID])
    return pd.Series(np.bincount(user, weights=interactions[C.VALUE].astype("float64").fillna(0.0).to_numpy(),
                                 minlength=len(users)), index=users)


def profile(
    segmentation: Segmentation,
    segment: str,
    *,
    interactions: pd.DataFrame,
    trait_lifts: pd.DataFrame,
    offer_lifts: pd.DataFrame,
    model: Any | None = None,
    items: pd.DataFrame | None = None,
    n: int = 5,
    seed: int = 0,
) -> SegmentProfile:
    """The profile card of ``segment``: size, value share, top traits and offer types, top offers
    (highest predicted score) and distinctive offers (scored most above everyone else).

    ``trait_lifts`` / ``offer_lifts`` come from :func:`trait_lift` / :func:`offer_lift` on the same
    segmentation (computed once for all segments). Top offers by predicted score need ``model``;
    ``items`` adds a readable title when it has one.
    """
    members = segmentation.members(segment)
    n_all = segmentation.n_customers
    values = _value_by_user(interactions)
    value = value_share = per_customer = None
    if not values.empty:
        in_universe = values.reindex(segmentation.labels.index).fillna(0.0)
        total = float(in_universe.sum())
        value = float(in_universe.reindex(members).sum())
        value_share = value / total if total > 0 else None
        per_customer = value / max(len(members), 1)
    responders = _responses(interactions)[C.USER_ID].unique()
    active = float(pd.Index(members).isin(responders).mean()) if len(members) else 0.0
    top_offers = distinctive_offers = None
    if model is not None:
        scores = offer_scores(model, members, seed=seed, base_ids=segmentation.labels.index)
        label = item_label_column(items) if items is not None else None
        if label is not None and not scores.empty:
            unique_items = items.drop_duplicates(C.ITEM_ID)
            titles = pd.Series(unique_items[label].to_numpy(), index=_id_index(unique_items[C.ITEM_ID]))
            scores.insert(1, label, scores[C.ITEM_ID].map(titles).to_numpy())
        top_offers, distinctive_offers = _top_offers(scores, n, "score"), _top_offers(scores, n, "uplift")
    return SegmentProfile(
        name=segment, customers=len(members), share=len(members) / max(n_all, 1), value=value,
        value_share=value_share, value_per_customer=per_customer, active_share=active,
        traits=top_lifts(trait_lifts, segment, n), offer_types=top_lifts(offer_lifts, segment, n),
        top_offers=top_offers, distinctive_offers=distinctive_offers,
    )


def compare_profiles(a: SegmentProfile, b: SegmentProfile) -> pd.DataFrame:
    """Headline figures of two segments side by side (rows: figures; columns: the two segments)."""
    names = [a.name, b.name] if a.name != b.name else [f"{a.name} (A)", f"{b.name} (B)"]
    return pd.DataFrame({names[0]: a.headline(), names[1]: b.headline()})


def compare_lifts(lifts: pd.DataFrame, a: str, b: str, column: str) -> pd.DataFrame:
    """Shares of every value of ``column`` in segments ``a`` and ``b`` and in the base (long frame
    ``value_label``, ``who``, ``share`` for a grouped bar chart)."""
    mine = lifts[(lifts[COLUMN] == column) & lifts[SEGMENT].isin([a, b])]
    base = mine.drop_duplicates(VALUE_LABEL)[[VALUE_LABEL, BASE_SHARE]].rename(columns={BASE_SHARE: SHARE}).assign(who="everyone")
    side = mine[[VALUE_LABEL, SEGMENT, SHARE]].rename(columns={SEGMENT: "who"})
    out = pd.concat([side, base], ignore_index=True)
    full = pd.MultiIndex.from_product([out[VALUE_LABEL].unique(), [a, b, "everyone"]], names=[VALUE_LABEL, "who"])
    return out.drop_duplicates([VALUE_LABEL, "who"]).set_index([VALUE_LABEL, "who"]).reindex(full, fill_value=0.0).reset_index()


def item_label_column(items: pd.DataFrame) -> str | None:
    """The offers' readable name column (``title``, ``name`` or ``description``), if any."""
    return next((c for c in ("title", "name", "description") if c in items.columns), None)


# =================================================================================================
# saved segments (kept in the workspace)
# =================================================================================================
def save_segment(
    ws: Any, dataset_id: str, name: str, members: Iterable[Any], definition: dict[str, Any],
) -> str:
    """Save a named segment with its member list as of now; return its id.

    ``definition`` says how it was made (e.g. ``{"kind": "rfm", "segment": "champions",
    "reference_date": "2026-07-01"}``); the member list is what later audiences use, even if the
    data or the model changes.

    Raises
    ------
    ValueError
        On an empty name, no members, or members that are not customers of the dataset.
    """
    name = (name or "").strip()
    if not name:
        raise ValueError("give the segment a name")
    ids = pd.Series(_id_index(members)).drop_duplicates()
    if ids.empty:
        raise ValueError(f"segment '{name}' has no customers; select some before saving")
    known = _dataset_user_ids(ws, dataset_id)
    unknown = ids[~ids.isin(known)]
    if len(unknown):
        raise ValueError(
            f"{len(unknown):,} of the {len(ids):,} customers are not in dataset {dataset_id} "
            f"(e.g. {', '.join(unknown.head(3))}); segments hold customers of their own dataset only"
        )
    return ws.save_segment(dataset_id, name, {**definition, "n_members": int(len(ids))}, ids.rename(C.USER_ID))


def _dataset_user_ids(ws: Any, dataset_id: str) -> pd.Index:
    path = lambda t: str(ws.table_path(dataset_id, t))  # noqa: E731 - two paths
    frame = ws.query(
        f"SELECT DISTINCT CAST({C.USER_ID} AS VARCHAR) AS u FROM read_parquet(?) "
        f"UNION SELECT DISTINCT CAST({C.USER_ID} AS VARCHAR) FROM read_parquet(?)",
        [path(C.Table.INTERACTIONS), path(C.Table.USERS)],
    )
    return pd.Index(frame["u"].astype(str))


def saved_segments(ws: Any, dataset_id: str) -> pd.DataFrame:
    """The dataset's saved segments, newest first: ``id``, ``name``, ``customers``, ``kind``, ``created_at``."""
    rows = ws.segments(dataset_id)
    return pd.DataFrame({
        "id": [r["id"] for r in rows], "name": [r["name"] for r in rows],
        CUSTOMERS: [int(r["n_members"]) for r in rows],
        "kind": [r["definition"].get("kind", "") for r in rows],
        "created_at": [r["created_at"] for r in rows],
    })


def segment_members(ws: Any, segment_id: str) -> pd.Series:
    """The member ids of a saved segment (as saved)."""
    return ws.segment_members(segment_id).astype(str).rename(C.USER_ID)


def delete_segment(ws: Any, segment_id: str) -> None:
    ws.delete_segment(segment_id)


def audience(ws: Any, segment_ids: Sequence[str], *, combine: str = "union") -> pd.Series:
    """Members of one or several saved segments, combined by ``"union"`` or ``"intersection"``.

    The audience filter of a campaign: ``user_ids[in_audience(...)]``.
    """
    if combine not in ("union", "intersection"):
        raise ValueError(f"combine must be 'union' or 'intersection', got {combine!r}")
    if not segment_ids:
        raise ValueError("pick at least one saved segment")
    result: pd.Index | None = None
    for segment_id in segment_ids:  # a few saved segments
        members = pd.Index(segment_members(ws, segment_id))
        result = members if result is None else (result.union(members, sort=False) if combine == "union"
                                                 else result.intersection(members, sort=False))
    assert result is not None
    return pd.Series(result, name=C.USER_ID)


def in_audience(user_ids: Iterable[Any], members: Iterable[Any]) -> np.ndarray:
    """Boolean mask: which ``user_ids`` belong to ``members`` (vectorised)."""
    return _id_index(user_ids).isin(_id_index(members))


def saved_segmentation(ws: Any, segment_id: str, user_ids: Iterable[Any]) -> Segmentation:
    """A saved segment against everyone else, over the universe ``user_ids``."""
    members = segment_members(ws, segment_id)  # raises NotFound with the workspace's message
    row = next(s for s in ws.segments() if s["id"] == segment_id)
    universe = _id_index(user_ids).unique()
    inside = str(row["name"])
    outside = "everyone else" if inside != "everyone else" else "the rest"
    labels = pd.Series(np.where(universe.isin(members), inside, outside), index=universe)
    return Segmentation.from_labels(labels, "saved", {"kind": "saved", "segment_id": segment_id, **row["definition"]},
                                    order=[inside, outside])


# =================================================================================================
# one entry point for the page and the CLI
# =================================================================================================
METHODS = ("rfm", "columns", "clusters")


@dataclass(frozen=True)
class SegmentsResult:
    """A segmentation of a dataset with what the page and the CLI show about it."""

    segmentation: Segmentation
    rfm: RFMResult | None = None
    clusters: ClusterResult | None = None
    run_id: str | None = None


def segment_dataset(
    ws: Any,
    dataset_id: str,
    method: str = "rfm",
    *,
    columns: Sequence[str] | None = None,
    k: int | None = None,
    run_id: str | None = None,
    reference_date: Any | None = None,
    seed: int = 0,
) -> SegmentsResult:
    """Segment a stored dataset by ``method`` (``"rfm"``, ``"columns"`` or ``"clusters"``).

    ``columns`` are the customer columns of ``"columns"``; ``k`` (default: silhouette) and
    ``run_id`` (default: the dataset's newest run) are for ``"clusters"``; ``reference_date`` for
    ``"rfm"``. The same call backs the page and ``promolens segments``.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method == "clusters":
        from recsys.workspace.runs import load_model

        run_id = run_id or next((r["id"] for r in ws.runs(dataset_id)), None)
        if run_id is None:
            raise ValueError(f"behavioural clusters need a trained model: train one on dataset {dataset_id} first")
        if ws.run(run_id)["dataset_id"] != dataset_id:
            raise ValueError(f"run {run_id} was trained on another dataset, not {dataset_id}")
        result = cluster_users(load_model(ws, run_id), k, seed=seed)
        definition = {**result.segmentation.definition, "run_id": run_id}
        seg = dataclasses.replace(result.segmentation, definition=definition)
        return SegmentsResult(seg, clusters=dataclasses.replace(result, segmentation=seg), run_id=run_id)
    data = ws.load_dataset(dataset_id)
    if method == "rfm":
        result_rfm = rfm(data.interactions, reference_date, users=data.users)
        return SegmentsResult(result_rfm.segmentation(), rfm=result_rfm)
    universe = pd.Index(data.users[C.USER_ID].astype(str)).union(pd.Index(data.interactions[C.USER_ID].astype(str).unique()))
    return SegmentsResult(by_columns(data.users, columns or [], schema=data.info.user_schema, user_ids=universe))


def report(ws: Any, dataset_id: str, result: SegmentsResult, *, n: int = 3) -> dict[str, Any]:
    """JSON-able summary: definition, notes, and per segment its size, top traits and offer types."""
    data = ws.load_dataset(dataset_id)
    seg = result.segmentation
    traits = trait_lift(seg, data.users, trait_columns(seg, data.users, data.info.user_schema), schema=data.info.user_schema)
    offers = offer_lift(seg, data.interactions, data.items, schema=data.info.item_schema)
    table = describe(seg, traits, offers, n=n)
    out: dict[str, Any] = {
        "dataset_id": dataset_id, "definition": seg.definition, "notes": list(seg.notes),
        "customers": seg.n_customers, "segments": table.to_dict("records"),
    }
    if result.rfm is not None:
        summary = result.rfm.summary()
        out["rfm"] = {
            "reference_date": result.rfm.reference_date.date().isoformat(), "has_monetary": result.rfm.has_monetary,
            "conversion": result.rfm.conversion, "summary": json.loads(summary.to_json(orient="records")),
        }
    if result.clusters is not None:
        out["clusters"] = {"k": result.clusters.k, "suggested_k": result.clusters.suggested_k,
                           "silhouette": result.clusters.silhouette.to_dict("records")}
    return out


__all__ = [
    "Segmentation", "RFMResult", "ClusterResult", "EmbeddingMap", "SegmentProfile",
    "rfm", "rfm_sizes_over_time", "by_columns", "cluster_users", "suggest_k", "behaviour_vectors",
    "trait_lift", "offer_lift", "top_lifts", "describe", "response_rates", "sizes_over_time",
    "embedding_map", "selected_user_ids", "predicted_top_offers", "offer_scores", "profile", "compare_profiles",
    "compare_lifts", "readable_values", "natural_order", "trait_columns", "usable_columns", "item_label_column",
    "save_segment", "saved_segments", "segment_members", "delete_segment", "audience", "in_audience",
    "saved_segmentation", "segment_dataset", "report", "SegmentsResult", "RFM_SEGMENTS", "RFM_GRID", "RFM_MEANING",
]
