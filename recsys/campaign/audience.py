"""Campaign audiences: who is eligible, how many coupons, who gets which, and who is held out.

:func:`build_audience` turns a plain frame of model scores (``user_id``, ``item_id``, ``score``)
into a targeting list in four steps:

1. **Eligibility** (:class:`~recsys.campaign.spec.AudienceSpec`): the chosen offers; members of
   saved segments; filters on customer columns; customers active since a date; no customer
   contacted in the last N days; no coupon for a customer who already redeemed that offer; a
   minimum score.
2. **How many**: per-offer budgets in coupons (top N) or in money (the offer's cost per coupon from
   an items column), a campaign-wide total in coupons or money, and a per-customer cap of at most
   ``c`` coupons across offers.
3. **Allocation** (:func:`recsys.campaign.allocation.allocate`): which eligible (customer, offer)
   pairs get a coupon, maximising the total score (after the optional fairness adjustment) under
   the caps and budgets; never worse than greedy by score.
4. **Holdout** (:func:`recsys.campaign.holdout.assign_holdout`): a random control group of a
   chosen share of customers, stratified by offer and score decile and reproducible from a seed.
   Controls get no coupon but stay in the list with ``group = control`` so results can be joined
   later.

Budgets count every allocated slot, controls included: with a 10% holdout about 90% of a budget is
actually sent, and no budget or cap can be exceeded by the coupons that are sent.

>>> import pandas as pd
>>> scores = pd.DataFrame({"user_id": ["a", "a", "b", "b"], "item_id": ["x", "y", "x", "y"],
...                        "score": [0.9, 0.8, 0.7, 0.1]})
>>> spec = AudienceSpec(top_n=1, max_per_customer=1, holdout_share=0.0)
>>> audience = build_audience(scores, None, None, None, spec)
>>> sorted(zip(audience.frame["user_id"], audience.frame["item_id"]))
[('a', 'y'), ('b', 'x')]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from recsys.campaign.allocation import AllocationReport, allocate
from recsys.campaign.holdout import assign_holdout
from recsys.campaign.ranks import global_order, rank_within, score_bins
from recsys.campaign.spec import AudienceSpec, TargetingError, did_you_mean
from recsys.core import columns as C
from recsys.core.arrays import factorize
from recsys.core.jsonio import jsonable


@dataclass(frozen=True)
class Audience:
    """A targeting list.

    Attributes
    ----------
    frame
        One row per allocated (customer, offer): ``user_id``, ``item_id``, ``score`` (the model's),
        ``rank`` (1 = the customer's best allocated offer), ``group`` (treatment / control) and
        ``score_decile`` (score bin of the pair within its offer, 1 = lowest).
    spec
        The parameters.
    funnel
        Customers and pairs left after each eligibility step.
    allocation
        How the allocation was made and how good it is.
    as_of
        The reference date used for "the last N days" (ISO text, or None).
    fairness_hook
        Name of the score adjuster used, or None.
    """

    frame: pd.DataFrame
    spec: AudienceSpec
    funnel: pd.DataFrame
    allocation: AllocationReport
    as_of: str | None = None
    fairness_hook: str | None = None

    def counts(self) -> pd.DataFrame:
        """Pairs per offer and group (columns ``item_id``, ``treatment``, ``control``)."""
        table = pd.crosstab(self.frame[C.ITEM_ID], self.frame[C.GROUP])
        for group in (C.TREATMENT, C.CONTROL):
            if group not in table.columns:
                table[group] = 0
        return table[[C.TREATMENT, C.CONTROL]].reset_index().rename_axis(columns=None)

    def customers(self) -> dict[str, int]:
        """Distinct customers per group."""
        per_user = self.frame.drop_duplicates(C.USER_ID)[C.GROUP].value_counts()
        return {g: int(per_user.get(g, 0)) for g in (C.TREATMENT, C.CONTROL)}

    def params(self) -> dict[str, Any]:
        """Every parameter and derived setting, for an export manifest."""
        return {
            "spec": self.spec.to_dict(),
            "as_of": self.as_of,
            "fairness_hook": self.fairness_hook,
            "allocation": self.allocation.to_dict(),
            "funnel": jsonable(self.funnel.to_dict("records")),
            "holdout": {"share": self.spec.holdout_share, "seed": self.spec.seed,
                        "stratified_by": [C.ITEM_ID, f"score bin (of {self.spec.score_bins})"],
                        "unit": "customer"},
        }


ScoreAdjuster = Callable[[pd.DataFrame], "pd.Series | np.ndarray"]


def build_audience(
    scores: pd.DataFrame,
    users: pd.DataFrame | None,
    items: pd.DataFrame | None,
    interactions: pd.DataFrame | None,
    spec: AudienceSpec,
    *,
    segment_members: Mapping[str, Iterable[Any]] | None = None,
    recent_recipients: Iterable[Any] | None = None,
    score_adjuster: ScoreAdjuster | None = None,
) -> Audience:
    """Build a targeting list from model scores.

    Parameters
    ----------
    scores
        ``user_id``, ``item_id``, ``score``: one row per scored (customer, offer) pair. Ids may be
        text, numbers or categoricals; only the pairs present can be allocated.
    users
        ``user_id`` + customer columns (for ``user_filters``); may be None without filters.
    items
        ``item_id`` + offer columns (for ``cost_column``); may be None without money budgets.
    interactions
        ``user_id``, ``item_id``, ``event``, ``timestamp`` (for the redeemed / contacted / active
        rules); may be None when none of them is used.
    spec
        The parameters (:class:`AudienceSpec`).
    segment_members
        ``{segment id: member ids}`` for every id in ``spec.segments``
        (``segment_members(workspace, spec)`` loads them).
    recent_recipients
        Customer ids who received a coupon from a recent export (``export.recent_recipients``);
        dropped when ``spec.exclude_contacted_days`` is set.
    score_adjuster
        Optional fairness hook: called with the eligible pairs (``user_id``, ``item_id``,
        ``score``) and returning one adjusted score per row, used for the allocation (the exported
        ``score`` stays the model's). ``min_score`` applies to the model's score.

    Returns
    -------
    Audience

    Raises
    ------
    TargetingError
        A bad parameter, a missing column or id; the message says which and how to fix it.
    """
    spec.validate()
    _require(scores, (C.USER_ID, C.ITEM_ID, C.SCORE), "scores")
    score = pd.to_numeric(scores[C.SCORE], errors="coerce").to_numpy(np.float64)
    if not np.isfinite(score).all():
        bad = int((~np.isfinite(score)).sum())
        raise TargetingError(f"scores: {bad:,} rows have a missing or non-numeric '{C.SCORE}'. Fix: score every pair or drop those rows.")
    user_codes, user_index = _factorize_ids(scores[C.USER_ID], "scores", C.USER_ID)
    item_codes, item_index = _factorize_ids(scores[C.ITEM_ID], "scores", C.ITEM_ID)
    n_users, n_items = len(user_index), len(item_index)
    funnel = _Funnel(user_codes)
    keep = np.ones(len(score), dtype=bool)

    if spec.offers:
        wanted = _lookup(item_index, pd.Series(spec.offers))
        missing = [o for o, code in zip(spec.offers, wanted) if code < 0]
        if missing:
            raise TargetingError(
                f"Audience parameter 'offers': no scores for {', '.join(map(str, missing[:5]))}"
                f"{' ...' if len(missing) > 5 else ''}. Fix: pick offers the model scored ({', '.join(map(str, item_index[:5]))}, ...)."
            )
        keep &= np.isin(item_codes, wanted)
        funnel.add("chosen offers", keep)

    user_ok = np.ones(n_users, dtype=bool)
    if spec.segments:
        members = segment_members or {}
        absent = [s for s in spec.segments if s not in members]
        if absent:
            raise TargetingError(
                f"Audience parameter 'segments': members of {', '.join(absent)} were not given. "
                "Fix: pass segment_members=audience.segment_members(workspace, spec)."
            )
        in_any = np.zeros(n_users, dtype=bool)
        for segment in spec.segments:  # a handful of segments; each lookup is vectorised
            codes = _lookup(user_index, pd.Series(list(members[segment])))
            in_any[codes[codes >= 0]] = True
        user_ok &= in_any
        funnel.add("in segments", keep & user_ok[user_codes])

    if spec.user_filters:
        if users is None:
            raise TargetingError("User filters need the customers table. Fix: pass users= or remove the filters.")
        _require(users, (C.USER_ID,), "users")
        passes = np.ones(len(users), dtype=bool)
        for user_filter in spec.user_filters:
            passes &= user_filter.mask(users)
        codes = _lookup(user_index, users[C.USER_ID])
        ok = np.zeros(n_users, dtype=bool)
        ok[codes[(codes >= 0) & passes]] = True
        user_ok &= ok
        funnel.add("customer filters", keep & user_ok[user_codes])

    as_of = None
    has_history = interactions is not None and len(interactions) > 0
    if spec.active_since and not has_history:
        raise TargetingError(
            "Audience parameter 'active_since' needs the interactions table. Fix: pass interactions= or leave it off."
        )
    if spec.exclude_contacted_days is not None and not has_history and recent_recipients is None:
        raise TargetingError(
            "Audience parameter 'exclude_contacted_days' needs the interactions table or recent_recipients "
            "(export.recent_recipients). Fix: pass one of them, or leave the rule off."
        )
    if has_history and (spec.active_since or spec.exclude_contacted_days is not None or spec.exclude_redeemed):
        as_of, user_mask, pair_block = _history_rules(
            interactions, spec, user_index, item_index, recent_recipients, funnel, keep & user_ok[user_codes]
        )
        user_ok &= user_mask
        if pair_block is not None:
            keep &= ~np.isin(user_codes * n_items + item_codes, pair_block)
            funnel.add("not already redeemed", keep & user_ok[user_codes])
    elif spec.exclude_contacted_days is not None:  # recent exports only
        codes = _lookup(user_index, pd.Series(list(recent_recipients)))
        user_ok[codes[codes >= 0]] = False
        funnel.add(f"not sent a coupon in {spec.exclude_contacted_days} days", keep & user_ok[user_codes])
    keep &= user_ok[user_codes]

    if spec.min_score is not None:
        keep &= score >= float(spec.min_score)
        funnel.add(f"score >= {spec.min_score:g}", keep)

    rows = np.flatnonzero(keep)
    u, j, s = user_codes[rows], item_codes[rows], score[rows]
    weights = s
    hook_name = None
    if score_adjuster is not None and len(rows):
        hook_name = getattr(score_adjuster, "__name__", type(score_adjuster).__name__)
        eligible = pd.DataFrame({C.USER_ID: user_index.take(u), C.ITEM_ID: item_index.take(j), C.SCORE: s})
        adjusted = np.asarray(score_adjuster(eligible), dtype=np.float64)
        if adjusted.shape != s.shape or not np.isfinite(adjusted).all():
            raise TargetingError(
                f"The score adjuster {hook_name} must return one finite score per eligible pair "
                f"({len(s):,}), got shape {adjusted.shape}. Fix: return a Series aligned to its input."
            )
        weights = adjusted

    budgets, costs = _budgets(spec, item_index, items)
    chosen, report = allocate(
        u, j, weights, n_users=n_users, n_offers=n_items, cap=int(spec.max_per_customer), budgets=budgets,
        total_coupons=spec.total_coupons, costs=costs, total_money=spec.total_budget,
        method=spec.method, exact_max_pairs=spec.exact_max_pairs, seed=spec.seed,
    )
    picked = rows[chosen]
    order = global_order(weights[chosen])  # 0 = best pair; the customer's rank follows it
    frame = pd.DataFrame({
        C.USER_ID: user_index.take(user_codes[picked]),
        C.ITEM_ID: item_index.take(item_codes[picked]),
        C.SCORE: score[picked],
    })
    frame[C.RANK] = rank_within(user_codes[picked], order)
    frame[C.SCORE_DECILE] = score_bins(item_codes[picked], score[picked], spec.score_bins)
    frame[C.GROUP] = assign_holdout(frame, spec.holdout_share, spec.seed, spec.score_bins)
    frame = frame.sort_values([C.ITEM_ID, C.GROUP, C.SCORE], ascending=[True, False, False], kind="stable")
    frame = frame.reset_index(drop=True)[[C.USER_ID, C.ITEM_ID, C.SCORE, C.RANK, C.GROUP, C.SCORE_DECILE]]
    funnel.add("allocated", _mask(len(user_codes), picked))
    treated = frame[C.GROUP].to_numpy() == C.TREATMENT
    funnel.add_counts(C.TREATMENT, frame.loc[treated, C.USER_ID].nunique(), int(treated.sum()))
    funnel.add_counts(C.CONTROL, frame.loc[~treated, C.USER_ID].nunique(), int((~treated).sum()))
    return Audience(frame, spec, funnel.frame(), report, as_of, hook_name)


def segment_members(workspace: Any, spec: AudienceSpec) -> dict[str, pd.Series]:
    """Load the members of every segment in ``spec.segments`` from a workspace."""
    return {segment: workspace.segment_members(segment) for segment in spec.segments}


class _Funnel:
    """Customers and pairs left after each eligibility step."""

    def __init__(self, user_codes: np.ndarray) -> None:
        self.users = user_codes  # the customer code of each scored pair
        self._rows: list[dict[str, Any]] = []
        self.add("scored", np.ones(len(user_codes), dtype=bool))

    def add(self, step: str, mask: np.ndarray) -> None:
        self._rows.append({"step": step, "customers": int(len(np.unique(self.users[mask]))), "pairs": int(mask.sum())})

    def add_counts(self, step: str, customers: int, pairs: int) -> None:
        self._rows.append({"step": step, "customers": int(customers), "pairs": int(pairs)})

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self._rows, columns=["step", "customers", "pairs"])


def _history_rules(
    interactions: pd.DataFrame,
    spec: AudienceSpec,
    user_index: pd.Index,
    item_index: pd.Index,
    recent_recipients: Iterable[Any] | None,
    funnel: _Funnel,
    keep: np.ndarray,
) -> tuple[str | None, np.ndarray, np.ndarray | None]:
    """Apply active-since and contacted-recently (per customer) and redeemed (per pair) rules."""
    _require(interactions, (C.USER_ID, C.ITEM_ID), "interactions")
    n_users = len(user_index)
    user_ok = np.ones(n_users, dtype=bool)
    per_customer = bool(spec.active_since or spec.exclude_contacted_days is not None)
    # every row's customer only for the per-customer rules; the redeemed rule looks up its own rows alone
    codes = _lookup(user_index, interactions[C.USER_ID]) if per_customer else None
    known = codes >= 0 if codes is not None else None
    timestamps = None
    as_of = None
    if per_customer:
        if C.TIMESTAMP not in interactions.columns:
            raise TargetingError(
                "interactions: 'active_since' and 'exclude_contacted_days' need a timestamp column. "
                "Fix: import the data with dates, or leave those rules off."
            )
        timestamps = pd.to_datetime(interactions[C.TIMESTAMP], errors="coerce")
        as_of_ts = pd.Timestamp(spec.as_of) if spec.as_of else timestamps.max()
        as_of = None if pd.isna(as_of_ts) else as_of_ts.isoformat()
    user_codes_of_pairs = funnel.users
    if spec.active_since:
        recent = (timestamps >= pd.Timestamp(spec.active_since)).to_numpy(bool) & known
        active = np.zeros(n_users, dtype=bool)
        active[codes[recent]] = True
        user_ok &= active
        funnel.add(f"active since {spec.active_since}", keep & user_ok[user_codes_of_pairs])
    if spec.exclude_contacted_days is not None:
        if C.EVENT not in interactions.columns:
            raise TargetingError(
                "interactions: 'exclude_contacted_days' needs an event column to know who received a coupon. "
                "Fix: import the data with event types, or leave that rule off."
            )
        since = pd.Timestamp(as_of) - pd.Timedelta(days=int(spec.exclude_contacted_days))
        contact = _has_event(interactions[C.EVENT], spec.contact_events)
        contacted_rows = contact & (timestamps > since).to_numpy(bool) & (timestamps <= pd.Timestamp(as_of)).to_numpy(bool) & known
        contacted = np.zeros(n_users, dtype=bool)
        contacted[codes[contacted_rows]] = True
        if recent_recipients is not None:
            extra = _lookup(user_index, pd.Series(list(recent_recipients)))
            contacted[extra[extra >= 0]] = True
        user_ok &= ~contacted
        funnel.add(f"not contacted in {spec.exclude_contacted_days} days", keep & user_ok[user_codes_of_pairs])
    block = None
    if spec.exclude_redeemed and C.EVENT in interactions.columns:
        redeemed = np.flatnonzero(_has_event(interactions[C.EVENT], spec.redeem_events))
        users = codes[redeemed] if codes is not None else _lookup(user_index, interactions[C.USER_ID].iloc[redeemed])
        items = _lookup(item_index, interactions[C.ITEM_ID].iloc[redeemed])
        hit = (users >= 0) & (items >= 0)
        block = np.unique(users[hit].astype(np.int64) * len(item_index) + items[hit])
    return as_of, user_ok, block


def _budgets(spec: AudienceSpec, item_index: pd.Index, items: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-offer coupon budgets (-1 = unlimited) and costs per coupon from the spec."""
    n = len(item_index)
    budgets = np.full(n, -1, dtype=np.int64)

    def per_offer(value: Any, name: str) -> np.ndarray:
        out = np.full(n, np.nan)
        if isinstance(value, Mapping):
            codes = _lookup(item_index, pd.Series(list(value.keys())))
            unknown = [k for k, c in zip(value.keys(), codes) if c < 0]
            if unknown:
                raise TargetingError(f"Audience parameter '{name}': unknown offer(s) {', '.join(map(str, unknown[:5]))}. Fix: use offer ids from the scores.")
            out[codes] = np.asarray(list(value.values()), dtype=np.float64)
        else:
            out[:] = float(value)
        return out

    if spec.top_n is not None:
        top = per_offer(spec.top_n, "top_n")
        budgets = np.where(np.isnan(top), budgets, np.floor(np.nan_to_num(top, nan=0)).astype(np.int64))
    costs = None
    if spec.cost_column:
        if items is None:
            raise TargetingError(f"Audience parameter 'cost_column' ('{spec.cost_column}') needs the offers table. Fix: pass items=.")
        _require(items, (C.ITEM_ID, spec.cost_column), "items")
        codes = _lookup(item_index, items[C.ITEM_ID])
        values = pd.to_numeric(items[spec.cost_column], errors="coerce").to_numpy(np.float64)
        costs = np.full(n, np.nan)
        costs[codes[codes >= 0]] = values[codes >= 0]
        bad = ~np.isfinite(costs) | (costs <= 0)
        if bad.any():
            offenders = ", ".join(map(str, item_index[bad][:5]))
            raise TargetingError(
                f"items, column '{spec.cost_column}': offers {offenders} have no positive cost per coupon. "
                "Fix: fill in a cost > 0 for every targeted offer, or budget in coupons."
            )
    if spec.offer_budget is not None:
        money = per_offer(spec.offer_budget, "offer_budget")
        assert costs is not None
        affordable = np.floor(money / costs + 1e-9)
        limited = ~np.isnan(affordable)
        budgets = np.where(limited & ((budgets < 0) | (affordable < budgets)), np.nan_to_num(affordable).astype(np.int64), budgets)
    return budgets, costs


def _mask(n: int, rows: np.ndarray) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[rows] = True
    return mask


def _has_event(events: pd.Series, names: Iterable[str]) -> np.ndarray:
    """Rows whose event is one of ``names`` (any case), testing each distinct event once, not every row's text."""
    wanted = {str(e).lower() for e in names}
    codes, kinds = factorize(events)
    hits = np.array([str(k).lower() in wanted for k in kinds], dtype=bool)  # a handful of event types
    return np.append(hits, False)[codes]  # code -1 (missing) is the appended False


def _factorize_ids(values: pd.Series, table: str, column: str) -> tuple[np.ndarray, pd.Index]:
    """:func:`recsys.core.arrays.factorize` of an id column; a missing id is an error naming it."""
    if values.isna().any():
        raise TargetingError(f"{table}: {int(values.isna().sum()):,} rows have no '{column}'. Fix: drop or fill them.")
    return factorize(values)


def _lookup(index: pd.Index, values: pd.Series | Iterable[Any]) -> np.ndarray:
    """Codes of ``values`` in ``index`` (-1 when absent); numbers and text ids are matched as text."""
    values = pd.Series(values) if not isinstance(values, pd.Series) else values
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(values.cat.categories.dtype)
    if pd.api.types.is_numeric_dtype(index.dtype) == pd.api.types.is_numeric_dtype(values.dtype):
        return index.get_indexer(values)
    return pd.Index(index.astype(str)).get_indexer(values.astype(str))


def _require(frame: pd.DataFrame, columns: Iterable[str], table: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise TargetingError(
            f"{table}: missing column(s) {', '.join(missing)}{did_you_mean(missing[0], frame.columns)}. "
            f"Fix: rename your columns to {', '.join(columns)} (it has {', '.join(map(str, frame.columns[:10]))})."
        )


__all__ = ["Audience", "ScoreAdjuster", "build_audience", "segment_members"]
