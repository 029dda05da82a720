"""What sets a segment apart: trait and offer-type lift, and response rates per offer type.

:func:`trait_lift` compares how common every customer trait is in each segment with the whole
base; :func:`offer_lift` does the same for the offer types a segment responds to; and
:func:`response_rates` gives click, redeem and purchase rates and value per customer for every
segment x offer type. All are sparse products over whole columns.

Definitions
-----------
response
    A distinct (customer, offer) pair with at least one row that is not an exposure.
lift
    Share of a segment with a trait (or of its responses going to an offer type) divided by the
    same share over the whole base. 1 = like everyone; 2 = twice as common.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.core import columns as C
from recsys.core.arrays import factorize
from recsys.core.i18n import gettext as _
from recsys.data.schema import ColumnKind, TableSchema
from recsys.insight.segments import (
    COLUMN, CUSTOMERS, MISSING, SEGMENT, SHARE, VALUE_LABEL, Segmentation, column_kinds, id_index, is_response,
    long_values, natural_order, usable_columns,
)

# --- output columns (not data-contract columns) --------------------------------------------------
BASE_SHARE = "base_share"
LIFT = "lift"
RESPONSES = "responses"
EXPOSED = "exposed"
CLICK_RATE = "click_rate"
REDEEM_RATE = "redeem_rate"
PURCHASE_RATE = "purchase_rate"
VALUE_PER_CUSTOMER = "value_per_customer"


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
    kinds = column_kinds(users[[C.USER_ID, *columns]], C.USER_ID, schema)
    universe = segmentation.labels
    table = users.drop_duplicates(C.USER_ID)
    table = table.assign(**{C.USER_ID: table[C.USER_ID].astype(str)}).set_index(C.USER_ID).reindex(universe.index)
    table = table.rename_axis(C.USER_ID).reset_index()
    long = long_values(table, C.USER_ID, columns, kinds, bins)
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


def responses(interactions: pd.DataFrame) -> pd.DataFrame:
    """Distinct (customer, offer) pairs with a row that is not an exposure (string ids)."""
    rows = interactions[is_response(interactions)]
    user, users = factorize(rows[C.USER_ID])
    users = id_index(users)  # ids are strings in the workspace
    item, items = factorize(rows[C.ITEM_ID])
    items = id_index(items)  # ids are strings in the workspace
    n_items = max(len(items), 1)
    keys = np.unique(user * n_items + item)
    return pd.DataFrame({C.USER_ID: users.to_numpy()[keys // n_items], C.ITEM_ID: items.to_numpy()[keys % n_items]})


def _value_matrix(items: pd.DataFrame, item_index: pd.Index, column: str, kind: ColumnKind, bins: int) -> tuple[sp.csr_matrix, pd.Index]:
    """Sparse (offer x value label) indicator of one offer column, rows in ``item_index`` order.

    A tag column has one entry per tag; offers missing from ``items`` get ``"(missing)"``.
    """
    long = long_values(items.drop_duplicates(C.ITEM_ID), C.ITEM_ID, [column], {column: kind}, bins)
    rows = item_index.get_indexer(pd.Index(long[C.ITEM_ID].astype(str)))
    keep = rows >= 0
    labels = long[VALUE_LABEL].to_numpy()[keep]
    rows = rows[keep]
    missing = np.setdiff1d(np.arange(len(item_index)), rows)
    rows = np.r_[rows, missing]
    labels = np.r_[labels, np.full(len(missing), MISSING, dtype=object)]
    codes, values = factorize(labels)
    values = id_index(values)  # the labels as strings
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
    kinds = column_kinds(items[[C.ITEM_ID, *columns]], C.ITEM_ID, schema)
    empty = pd.DataFrame(columns=[SEGMENT, COLUMN, VALUE_LABEL, RESPONSES, SHARE, BASE_SHARE, LIFT])
    pairs = responses(interactions)
    seg = segmentation.codes(pairs[C.USER_ID])
    pairs, seg = pairs[seg >= 0], seg[seg >= 0]
    if pairs.empty or not columns:
        return empty
    item, item_index = factorize(pairs[C.ITEM_ID])
    item_index = id_index(item_index)  # ids are strings in the workspace
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


def compare_lifts(lifts: pd.DataFrame, a: str, b: str, column: str) -> pd.DataFrame:
    """Shares of every value of ``column`` in segments ``a`` and ``b`` and in the base (long frame
    ``value_label``, ``who``, ``share`` for a grouped bar chart)."""
    mine = lifts[(lifts[COLUMN] == column) & lifts[SEGMENT].isin([a, b])]
    base = mine.drop_duplicates(VALUE_LABEL)[[VALUE_LABEL, BASE_SHARE]].rename(columns={BASE_SHARE: SHARE}).assign(who="everyone")
    side = mine[[VALUE_LABEL, SEGMENT, SHARE]].rename(columns={SEGMENT: "who"})
    out = pd.concat([side, base], ignore_index=True)
    full = pd.MultiIndex.from_product([out[VALUE_LABEL].unique(), [a, b, "everyone"]], names=[VALUE_LABEL, "who"])
    return out.drop_duplicates([VALUE_LABEL, "who"]).set_index([VALUE_LABEL, "who"]).reindex(full, fill_value=0.0).reset_index()


# =================================================================================================
# responses per segment and offer type
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
    kind = column_kinds(items[[C.ITEM_ID, column]], C.ITEM_ID, schema)[column]
    if kind in (ColumnKind.TEXT, ColumnKind.IDENTIFIER, ColumnKind.TAGS):
        raise ValueError(f"offer column {column!r} holds free text or tags; pick a column with one value per offer "
                         "(type, category, channel, discount, ...)")
    user, user_index = factorize(interactions[C.USER_ID])
    user_index = id_index(user_index)  # ids are strings in the workspace
    item, item_index = factorize(interactions[C.ITEM_ID])
    item_index = id_index(item_index)  # ids are strings in the workspace
    seg = segmentation.codes(user_index)[user]
    matrix, values = _value_matrix(items, item_index, column, kind, bins)
    if not (np.diff(matrix.indptr) == 1).all():
        raise ValueError(f"offer column {column!r} has several values per offer")
    val = matrix.indices.astype(np.int64)[item]  # CSR with one entry per row: the row's value code
    # events as codes into their few distinct names: every test below compares integers, not each row's text
    if C.EVENT in interactions.columns:
        event_code, found = factorize(interactions[C.EVENT].astype(str))
        kinds = np.asarray([*map(str, found), None], dtype=object)  # None: a row without an event (code -1)
        event_code = np.where(event_code < 0, len(kinds) - 1, event_code)
    else:
        event_code, kinds = np.zeros(len(interactions), dtype=np.int64), np.array([C.INTERACTION], dtype=object)
    value = (interactions[C.VALUE].astype("float64").fillna(0.0).to_numpy() if C.VALUE in interactions.columns
             else np.zeros(len(interactions)))
    inside = seg >= 0
    user, item, seg, val = user[inside], item[inside], seg[inside], val[inside]
    event_code, value = event_code[inside], value[inside]
    present = np.bincount(event_code, minlength=len(kinds)) > 0  # the event names rows of the segments have

    def is_event(name: str) -> np.ndarray:
        return np.isin(event_code, np.flatnonzero(kinds == name))

    n_seg, n_val = len(segmentation.order), len(values)
    has_exposures = bool(present[np.isin(kinds, C.EXPOSURE_EVENTS)].any())
    # the unit of a rate: a (customer, offer) pair when exposures are recorded, else a (customer, value); a
    # unit's rows share their customer's segment and their offer's value, so any row of it gives its cell
    unit = user * len(item_index) + item if has_exposures else user * n_val + val
    inverse, units = pd.factorize(unit)
    first = np.empty(len(units), dtype=np.int64)
    first[inverse] = np.arange(len(inverse))
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
        hit = np.bincount(inverse, weights=is_event(event).astype(np.float64), minlength=len(units)) > 0
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
    basis = (_("Rates per exposed customer-offer pair (pairs with the event / pairs shown or interacted with).")
             if has_exposures else
             _("The data records no impressions or views: rates are the share of the segment's customers "
               "with the event on an offer of that type."))
    missing = [name for name, e in rate_events.items() if not present[kinds == e].any()]
    if missing:
        basis += _(" Events missing from the data show as 0: {events}.").format(events=", ".join(missing))
    return out, basis


__all__ = [
    "trait_lift", "trait_columns", "offer_lift", "top_lifts", "describe", "compare_lifts", "response_rates", "responses",
    "BASE_SHARE", "LIFT", "RESPONSES", "EXPOSED", "CLICK_RATE", "REDEEM_RATE", "PURCHASE_RATE", "VALUE_PER_CUSTOMER",
]
