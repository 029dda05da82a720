"""RFM: recency, frequency and monetary value of every customer, and the named RFM segments.

:func:`rfm` scores every customer at a reference date in quintiles and names them with the usual
grid (champions, loyal customers, at risk, ...); :func:`rfm_sizes_over_time` recomputes it at the
start of each month. The day-level activity is built once, so each reference date is a few
vectorised passes.

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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from recsys.core import columns as C
from recsys.core.arrays import factorize
from recsys.core.i18n import N_
from recsys.core.i18n import gettext as _
from recsys.insight.segments import CUSTOMERS, PERIOD, SEGMENT, SHARE, Segmentation, id_index

# --- output columns (not data-contract columns) --------------------------------------------------
RECENCY = "recency"
FREQUENCY = "frequency"
MONETARY = "monetary"
R_SCORE = "r_score"
F_SCORE = "f_score"
M_SCORE = "m_score"
RFM_CODE = "rfm_code"

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
    "champions": N_("bought recently and often"),
    "loyal": N_("buy often, fairly recently"),
    "potential loyalist": N_("recent, a few occasions"),
    "new": N_("first occasion very recently"),
    "promising": N_("recent, one occasion"),
    "need attention": N_("middling recency and frequency"),
    "about to sleep": N_("fading: not recent, few occasions"),
    "can't lose them": N_("used to buy very often, not for a long time"),
    "at risk": N_("bought often, long ago"),
    "hibernating": N_("few occasions, long ago"),
    NO_PURCHASE: N_("no conversion before the reference date"),
}
#: The RFM segments' names in the current language (the labels themselves stay canonical: they are keys).
RFM_NAMES: dict[str, str] = {
    "champions": N_("champions"), "loyal": N_("loyal"), "potential loyalist": N_("potential loyalist"), "new": N_("new"),
    "promising": N_("promising"), "need attention": N_("need attention"), "about to sleep": N_("about to sleep"),
    "can't lose them": N_("can't lose them"), "at risk": N_("at risk"), "hibernating": N_("hibernating"),
    NO_PURCHASE: N_("no purchase yet"),
}


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
        notes.append(_("The data has no value (revenue) column, so this is RF: recency and frequency only."))
    # Events by their few distinct names (one dictionary encoding), not by comparing every row's text.
    events: pd.Index | None = None
    if C.EVENT in interactions.columns:
        event_codes, events = factorize(interactions[C.EVENT].astype(str))
        events = pd.Index(np.asarray(events, dtype=object).astype(str), dtype=object)

    def rows_with(names: Sequence[str]) -> np.ndarray:  # missing events (code -1) match nothing
        return np.append(np.asarray(events.isin(names)), False)[event_codes]

    converted: np.ndarray
    if events is not None and events.isin(conversion_events).any():
        converted = rows_with(conversion_events)
        conversion = ", ".join(sorted(e for e in conversion_events if e in set(events)))
    elif has_value and (value > 0).any():
        converted = value > 0
        conversion = "value > 0"
        notes.append(_("No purchase or redeem events: a row with a positive value counts as a conversion."))
    else:
        converted = ~rows_with(C.EXPOSURE_EVENTS) if events is not None else np.ones(len(ts), bool)
        conversion = "any response"
        notes.append(_("No purchases, redeems or values: every response (not an impression or view) counts as an "
                       "occasion."))
    user, uniques = factorize(interactions[C.USER_ID])
    uniques = id_index(uniques)  # ids are strings in the workspace
    universe = uniques
    if users is not None and C.USER_ID in users.columns:
        extra = pd.Index(users[C.USER_ID].astype(str).unique(), dtype=object)
        universe = uniques.append(extra[~extra.isin(uniques)])
    known = ts.notna().to_numpy()
    day = ts.to_numpy(dtype="datetime64[ns]")[known].astype("datetime64[D]").astype(np.int64)
    first = int(day.min())
    span = int(day.max()) - first + 1
    key = user[known] * span + (day - first)
    # One stable sort of the rows by (customer, day), then sums over runs of equal keys read in
    # order (np.unique's inverse and two scattered bincounts touched memory at random).
    order = np.argsort(key, kind="stable")
    sorted_keys = key[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]) if len(key) else np.zeros(0, np.int64)
    keys = sorted_keys[starts]
    return _DailyActivity(
        user=keys // span, day=keys % span + first,
        converted=np.logical_or.reduceat(converted[known][order], starts) if len(keys) else np.zeros(0, bool),
        value=np.add.reduceat(value[known][order], starts) if len(keys) else np.zeros(0),
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
        notes.append(_("No customer converted before {day}: pick a later reference date.").format(day=f"{ref:%Y-%m-%d}"))
    return RFMResult(table, ref, activity.has_monetary, activity.conversion, tuple(notes))


def rfm(
    interactions: pd.DataFrame,
    reference_date: Any | None = None,
    *,
    users: pd.DataFrame | None = None,
    conversion_events: Sequence[str] = C.RESPONSE_EVENTS,
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
    conversion_events: Sequence[str] = C.RESPONSE_EVENTS,
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


__all__ = [
    "RFMResult", "rfm", "rfm_sizes_over_time", "RFM_GRID", "RFM_SEGMENTS", "RFM_MEANING", "NO_PURCHASE",
    "RECENCY", "FREQUENCY", "MONETARY", "R_SCORE", "F_SCORE", "M_SCORE", "RFM_CODE",
]
