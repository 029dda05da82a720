"""Campaign audiences: who is eligible, how many coupons, who gets which, and who is held out.

:func:`build_audience` turns a plain frame of model scores (``user_id``, ``item_id``, ``score``)
into a targeting list in four steps:

1. **Eligibility** (:class:`AudienceSpec`): the chosen offers; members of saved segments; filters on
   customer columns; customers active since a date; no customer contacted in the last N days; no
   coupon for a customer who already redeemed that offer; a minimum score.
2. **How many**: per-offer budgets in coupons (top N) or in money (the offer's cost per coupon from
   an items column), a campaign-wide total in coupons or money, and a per-customer cap of at most
   ``c`` coupons across offers.
3. **Allocation** (:func:`allocate`): which eligible (customer, offer) pairs get a coupon. It
   maximises the total allocation weight

   .. math:: \\max_x \\sum_{ij} w_{ij} x_{ij} \\quad \\text{s.t.} \\quad \\sum_j x_{ij} \\le c,\\;
             \\sum_i x_{ij} \\le B_j,\\; \\sum_{ij} x_{ij} \\le K,\\; \\sum_{ij} d_j x_{ij} \\le M,\\;
             x_{ij} \\in \\{0, 1\\}

   where ``w`` is the score (after the optional fairness adjustment). Raw model scores live on an
   arbitrary scale (LightFM's can be negative), so when some eligible weight is <= 0 every weight
   is shifted by one constant, :math:`w = s - s_{min} + \\delta` with :math:`\\delta` = 1% of the
   score range: the order of pairs is kept and every eligible coupon is worth sending, i.e. the
   allocation maximises :math:`\\sum s_{ij} x_{ij} + (\\delta - s_{min}) \\sum x_{ij}`.
   The result is never worse than greedy by score (see :func:`allocate` for the methods).
4. **Holdout** (:func:`assign_holdout`): a random control group of a chosen share of customers,
   stratified by offer and score decile and reproducible from a seed. Controls get no coupon but
   stay in the list with ``group = control`` so results can be joined later.

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

from recsys.core.errors import PromoLensError
import difflib
import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import linprog

from recsys.core import columns as C

#: Events that count as "the customer redeemed this offer".
DEFAULT_REDEEM_EVENTS: tuple[str, ...] = (C.REDEEM,)
#: Events that count as "the customer received a coupon" (contact-fatigue exclusion).
DEFAULT_CONTACT_EVENTS: tuple[str, ...] = (C.IMPRESSION,)
#: Largest number of candidate pairs solved exactly by linear programming (HiGHS, ~2 s).
EXACT_MAX_PAIRS = 100_000
#: Share of the score range added to shifted weights so the weakest eligible pair is worth > 0.
WEIGHT_FLOOR_SHARE = 0.01

Method = Literal["auto", "exact", "greedy", "fast"]
FilterOp = Literal["in", "not_in", "==", "!=", ">", ">=", "<", "<=", "between"]
FILTER_OPS: tuple[str, ...] = ("in", "not_in", "==", "!=", ">", ">=", "<", "<=", "between")
_UNLIMITED = np.iinfo(np.int64).max // 4
_FILL_PASSES = 5


class TargetingError(PromoLensError, ValueError):
    """A targeting parameter or input column is wrong; the message names it and the fix."""


# ============================================================================== the spec
@dataclass(frozen=True)
class UserFilter:
    """Keep customers whose ``column`` satisfies ``op value`` (e.g. ``tier in [gold, silver]``).

    ``op`` is one of :data:`FILTER_OPS`; ``in``/``not_in`` take a list, ``between`` a pair
    ``[low, high]`` (both inclusive). Values are compared as numbers for numeric columns, as dates
    for date columns and as text otherwise. Customers missing from the users table, or with a
    missing value, are not kept (except by ``!=`` and ``not_in``).
    """

    column: str
    op: FilterOp
    value: Any

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "op": self.op, "value": _jsonable(self.value)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "UserFilter":
        return cls(str(data["column"]), data["op"], data["value"])

    def mask(self, users: pd.DataFrame) -> np.ndarray:
        """Boolean mask over the rows of ``users``."""
        if self.op not in FILTER_OPS:
            raise TargetingError(f"User filter on '{self.column}': unknown operator {self.op!r}; use one of {', '.join(FILTER_OPS)}.")
        if self.column not in users.columns:
            raise TargetingError(
                f"User filter: the customers table has no column '{self.column}'{_did_you_mean(self.column, users.columns)}. "
                f"Fix: choose one of {', '.join(map(str, users.columns[:20]))}."
            )
        column = users[self.column]
        if self.op in ("in", "not_in"):
            values = list(self.value) if isinstance(self.value, (list, tuple, set)) else [self.value]
            hit = column.astype(str).isin([str(v) for v in values]).to_numpy() & column.notna().to_numpy()
            return hit if self.op == "in" else ~hit
        if self.op == "between":
            if not isinstance(self.value, (list, tuple)) or len(self.value) != 2:
                raise TargetingError(f"User filter on '{self.column}': 'between' needs [low, high], got {self.value!r}.")
            low, high = (self._coerce(column, v) for v in self.value)
            values = self._comparable(column)
            return ((values >= low) & (values <= high)).fillna(False).to_numpy(bool)
        target = self._coerce(column, self.value)
        values = self._comparable(column)
        result = {
            "==": values == target, "!=": values != target, ">": values > target,
            ">=": values >= target, "<": values < target, "<=": values <= target,
        }[self.op]
        return result.fillna(self.op == "!=").to_numpy(bool)

    def _comparable(self, column: pd.Series) -> pd.Series:
        if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_datetime64_any_dtype(column):
            return column
        return column.astype(str).where(column.notna())

    def _coerce(self, column: pd.Series, value: Any) -> Any:
        try:
            if pd.api.types.is_bool_dtype(column):
                return str(value).strip().lower() in ("1", "true", "yes")
            if pd.api.types.is_numeric_dtype(column):
                return float(value)
            if pd.api.types.is_datetime64_any_dtype(column):
                return pd.Timestamp(value)
        except (TypeError, ValueError) as exc:
            raise TargetingError(
                f"User filter on '{self.column}': {value!r} cannot be compared with this "
                f"{column.dtype} column. Fix: give a {'number' if pd.api.types.is_numeric_dtype(column) else 'date'}."
            ) from exc
        return str(value)


@dataclass(frozen=True)
class AudienceSpec:
    """Everything that defines a targeting list. JSON round-trip: :meth:`to_dict` / :meth:`from_dict`.

    Attributes
    ----------
    offers
        Offer (item) ids to target; empty = every offer in the scores.
    segments
        Saved segment ids; a customer is eligible when a member of *any* of them (empty = everyone).
        Pass their members to :func:`build_audience` (``segment_members``, see :func:`segment_members`).
    user_filters
        Filters on customer columns, all of which must hold.
    active_since
        Only customers with an interaction on or after this date (ISO text).
    exclude_contacted_days
        Drop customers who received a coupon (an event in ``contact_events``, or a treatment row
        of a recent export passed as ``recent_recipients``) in the last N days before ``as_of``.
    contact_events
        Event types that mean "received a coupon".
    exclude_redeemed
        Never give an offer to a customer who already redeemed it (an event in ``redeem_events``).
    redeem_events
        Event types that mean "redeemed".
    as_of
        Reference date for "the last N days" (ISO text); default: the latest interaction.
    top_n
        Most coupons per offer: one number for every offer, or ``{offer: n}``.
    offer_budget
        Money per offer (one number or ``{offer: amount}``), spent at ``cost_column`` per coupon.
    total_coupons
        Most coupons in the whole campaign.
    total_budget
        Most money in the whole campaign, at ``cost_column`` per coupon.
    cost_column
        Items column with the cost of one coupon of each offer (e.g. its discount value).
    min_score
        Only pairs whose model score is at least this.
    max_per_customer
        Most coupons any one customer gets across offers (the cap ``c``).
    holdout_share
        Share of targeted customers held out as a control group (0 = none, < 1).
    score_bins
        Score bins per offer used to stratify the holdout (10 = deciles).
    seed
        Seed of the holdout (and of the sample used by the ``fast`` allocation).
    method
        ``auto`` (exact LP up to ``exact_max_pairs`` candidate pairs, else ``fast``), ``exact``,
        ``greedy`` or ``fast``; see :func:`allocate`.
    exact_max_pairs
        Largest problem solved exactly by ``auto``.
    """

    offers: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    user_filters: tuple[UserFilter, ...] = ()
    active_since: str | None = None
    exclude_contacted_days: int | None = None
    contact_events: tuple[str, ...] = DEFAULT_CONTACT_EVENTS
    exclude_redeemed: bool = True
    redeem_events: tuple[str, ...] = DEFAULT_REDEEM_EVENTS
    as_of: str | None = None
    top_n: int | dict[str, int] | None = None
    offer_budget: float | dict[str, float] | None = None
    total_coupons: int | None = None
    total_budget: float | None = None
    cost_column: str | None = None
    min_score: float | None = None
    max_per_customer: int = 1
    holdout_share: float = 0.1
    score_bins: int = 10
    seed: int = 0
    method: Method = "auto"
    exact_max_pairs: int = EXACT_MAX_PAIRS

    def __post_init__(self) -> None:
        for name in ("offers", "segments", "contact_events", "redeem_events"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = (value,)
            object.__setattr__(self, name, tuple(str(v) for v in value))
        filters = tuple(f if isinstance(f, UserFilter) else UserFilter.from_dict(f) for f in self.user_filters)
        object.__setattr__(self, "user_filters", filters)

    def validate(self) -> None:
        """Raise :class:`TargetingError` naming the first bad parameter and its fix."""
        def bad(name: str, why: str, fix: str) -> TargetingError:
            return TargetingError(f"Audience parameter '{name}': {why}. Fix: {fix}")

        if not isinstance(self.max_per_customer, (int, np.integer)) or self.max_per_customer < 1:
            raise bad("max_per_customer", f"must be a whole number >= 1, got {self.max_per_customer!r}", "give at least 1 coupon per customer")
        if not 0.0 <= float(self.holdout_share) < 1.0:
            raise bad("holdout_share", f"must be in [0, 1), got {self.holdout_share!r}", "use e.g. 0.1 for a 10% control group")
        if self.score_bins < 1:
            raise bad("score_bins", f"must be >= 1, got {self.score_bins}", "use 10 for deciles")
        for name in ("top_n", "offer_budget"):
            value = getattr(self, name)
            values = value.values() if isinstance(value, Mapping) else ([] if value is None else [value])
            if any(v is None or float(v) < 0 for v in values):
                raise bad(name, "budgets must be >= 0", "give a number of coupons / an amount per offer")
        for name in ("total_coupons", "total_budget", "exclude_contacted_days"):
            value = getattr(self, name)
            if value is not None and float(value) < 0:
                raise bad(name, f"must be >= 0, got {value}", "give a positive number or leave it empty")
        if (self.offer_budget is not None or self.total_budget is not None) and not self.cost_column:
            raise bad(
                "cost_column", "a money budget needs the cost of one coupon of each offer",
                "name the offers column that holds it (e.g. cost_column='discount_value') or budget in coupons",
            )
        if self.method not in ("auto", "exact", "greedy", "fast"):
            raise bad("method", f"unknown method {self.method!r}", "use auto, exact, greedy or fast")
        for name in ("active_since", "as_of"):
            value = getattr(self, name)
            if value is not None:
                try:
                    pd.Timestamp(value)
                except (TypeError, ValueError) as exc:
                    raise bad(name, f"{value!r} is not a date", "write it as YYYY-MM-DD") from exc

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["user_filters"] = [f.to_dict() for f in self.user_filters]
        return _jsonable(data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "AudienceSpec":
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise TargetingError(f"Unknown audience parameter(s): {', '.join(sorted(unknown))}. Fix: use {', '.join(sorted(known))}.")
        return cls(**dict(data))


# ============================================================================== results
@dataclass(frozen=True)
class AllocationReport:
    """How the coupons were allocated and how good the allocation is.

    Attributes
    ----------
    method
        ``exact`` (LP, optimal), ``exact+rounding`` (LP with a money budget, rounded down and
        refilled), ``fast`` (sampled dual prices + deferred acceptance) or ``greedy``.
    objective
        What was maximised, in words.
    candidates
        Eligible (customer, offer) pairs.
    allocated
        Pairs that got a coupon (treatment and control).
    weight
        Total allocation weight of the chosen pairs.
    greedy_weight
        Total weight of greedy by score on the same problem (the allocation is never below it).
    upper_bound
        A proven upper bound on the best possible total weight (the LP relaxation or its dual);
        ``weight / upper_bound`` is a lower bound on the share of the optimum reached.
    shift
        Constant added to scores to make weights positive (0 when scores were already > 0).
    notes
        Plain-language remarks (fallbacks, rounding).
    total_score
        Sum of the (unshifted) scores of the chosen pairs: ``weight - shift * allocated``.
    """

    method: str
    objective: str
    candidates: int
    allocated: int
    weight: float
    greedy_weight: float
    upper_bound: float
    shift: float
    notes: tuple[str, ...] = ()
    total_score: float = 0.0

    @property
    def optimality(self) -> float:
        """Lower bound on weight / optimum (1.0 = proven optimal)."""
        if self.upper_bound <= 0:
            return 1.0
        return float(min(1.0, self.weight / self.upper_bound))

    def to_dict(self) -> dict[str, Any]:
        data = _jsonable(asdict(self))
        data["optimality"] = round(self.optimality, 6)
        return data


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
            "funnel": _jsonable(self.funnel.to_dict("records")),
            "holdout": {"share": self.spec.holdout_share, "seed": self.spec.seed,
                        "stratified_by": [C.ITEM_ID, f"score bin (of {self.spec.score_bins})"],
                        "unit": "customer"},
        }


ScoreAdjuster = Callable[[pd.DataFrame], "pd.Series | np.ndarray"]


# ============================================================================== building
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
    user_codes, user_index = _factorize(scores[C.USER_ID], "scores", C.USER_ID)
    item_codes, item_index = _factorize(scores[C.ITEM_ID], "scores", C.ITEM_ID)
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
                "Fix: pass segment_members=targeting.segment_members(workspace, spec)."
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
    order = _global_order(weights[chosen])  # 0 = best pair; the customer's rank follows it
    frame = pd.DataFrame({
        C.USER_ID: user_index.take(user_codes[picked]),
        C.ITEM_ID: item_index.take(item_codes[picked]),
        C.SCORE: score[picked],
    })
    frame[C.RANK] = _rank_within(user_codes[picked], order)
    frame[C.SCORE_DECILE] = _score_bins(item_codes[picked], score[picked], spec.score_bins)
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


# ============================================================================== allocation
def allocate(
    users: np.ndarray,
    offers: np.ndarray,
    weights: np.ndarray,
    *,
    n_users: int | None = None,
    n_offers: int | None = None,
    cap: int = 1,
    budgets: np.ndarray | None = None,
    total_coupons: int | None = None,
    costs: np.ndarray | None = None,
    total_money: float | None = None,
    method: Method = "auto",
    exact_max_pairs: int = EXACT_MAX_PAIRS,
    seed: int = 0,
) -> tuple[np.ndarray, AllocationReport]:
    """Choose which (customer, offer) pairs get a coupon, maximising the total weight.

    Solves

    .. math:: \\max \\sum_p w_p x_p \\;\\text{s.t.}\\; \\sum_{p \\ni i} x_p \\le c \\;\\forall i,\\;
              \\sum_{p \\ni j} x_p \\le B_j \\;\\forall j,\\; \\sum_p x_p \\le K,\\;
              \\sum_p d_{j(p)} x_p \\le M,\\; x_p \\in \\{0,1\\}

    over the candidate pairs ``p = (users[p], offers[p])``. Weights <= 0 are first shifted by one
    constant (see the module docstring). Methods:

    * ``exact`` - the LP relaxation solved by HiGHS (dual simplex, a vertex solution). Without a
      money total the constraint matrix is that of a network flow (totally unimodular), so the LP
      optimum is integral and the allocation is optimal. With a money total (a knapsack side
      constraint) fractional pairs are rounded down and the money left is refilled greedily; the
      LP value is reported as the upper bound.
    * ``greedy`` - greedy by weight: pairs in decreasing weight, each taken when its customer and
      offer still have room. Computed by vectorised deferred acceptance (customers propose to
      offers in their order, offers keep their best ``B_j``), which gives exactly the greedy
      result because both sides rank pairs by the same weights. A coupon total keeps the first K
      greedy picks; a money total keeps greedy picks while the money lasts, then refills.
    * ``fast`` - for problems too large for the LP: offer prices (and prices of the totals) are
      taken from the LP duals of a random sample of customers with budgets scaled to the sample;
      every customer is then allocated by deferred acceptance on price-adjusted weights
      :math:`w_{ij} - p_j - \\lambda_K - \\lambda_M d_j`, and leftover room is refilled greedily.
      The dual bound :math:`\\sum_j B_j p_j + K\\lambda_K + M\\lambda_M + \\sum_i \\mathrm{top}_c(w_i - p)^+`
      is a proven upper bound on the optimum.
    * ``auto`` - ``exact`` up to ``exact_max_pairs`` candidate pairs, ``fast`` above.

    Every method also computes the greedy allocation and returns whichever is better, so the
    result is never below greedy by score.

    Parameters
    ----------
    users, offers
        Integer codes (0-based) of each candidate pair's customer and offer.
    weights
        Weight of each pair (higher is better).
    n_users, n_offers
        Number of codes (default: max + 1).
    cap
        Most coupons per customer.
    budgets
        Most coupons per offer (length ``n_offers``; negative = unlimited); None = unlimited.
    total_coupons, total_money
        Campaign-wide limits; None = none.
    costs
        Cost of one coupon per offer (length ``n_offers``), needed with ``total_money``.
    method, exact_max_pairs, seed
        See above.

    Returns
    -------
    chosen : np.ndarray of bool
        One flag per candidate pair.
    report : AllocationReport

    Examples
    --------
    >>> chosen, report = allocate(np.array([0, 0, 1]), np.array([0, 1, 0]), np.array([3.0, 2.0, 2.5]),
    ...                           cap=1, budgets=np.array([1, 1]))
    >>> chosen.tolist(), report.weight
    ([False, True, True], 4.5)
    """
    users = np.asarray(users, dtype=np.int64)
    offers = np.asarray(offers, dtype=np.int64)
    raw = np.asarray(weights, dtype=np.float64)
    n_users = int(n_users if n_users is not None else (users.max() + 1 if len(users) else 0))
    n_offers = int(n_offers if n_offers is not None else (offers.max() + 1 if len(offers) else 0))
    budget = _budget_array(budgets, n_offers)
    if total_money is not None and costs is None:
        raise TargetingError("A money total needs the cost of each offer (costs=). Fix: pass costs or budget in coupons.")
    cost = None if costs is None else np.asarray(costs, dtype=np.float64)
    w, shift = _positive_weights(raw)
    objective = (
        "total score of the coupons sent" if shift == 0 else
        f"total score + {shift:.4g} per coupon (scores shifted by one constant so every eligible coupon counts)"
    )
    problem = _Problem(users, offers, w, n_users, n_offers, int(cap), budget,
                       None if total_coupons is None else int(total_coupons), cost,
                       None if total_money is None else float(total_money))
    if len(w) == 0:
        return np.zeros(0, dtype=bool), AllocationReport("greedy", objective, 0, 0, 0.0, 0.0, 0.0, shift)

    greedy = _greedy(problem)
    greedy_weight = float(w[greedy].sum())
    notes: list[str] = []
    chosen, used, bound = greedy, "greedy", np.inf
    if method == "auto":
        method = "exact" if len(w) <= exact_max_pairs else "fast"
        if method == "fast":
            notes.append(f"{len(w):,} candidate pairs is more than the exact limit of {exact_max_pairs:,}: "
                         "used sampled dual prices + deferred acceptance.")
    if method == "exact":
        solved = _solve_lp(problem)
        if solved is None:
            notes.append("The LP solver did not finish; kept greedy by score.")
        else:
            candidate, lp_value, rounded = solved
            bound = min(bound, lp_value)
            if rounded:
                notes.append("A money total makes this a knapsack: the LP solution was rounded down and refilled.")
            if _feasible(problem, candidate) and w[candidate].sum() >= greedy_weight - 1e-9:
                chosen, used = candidate, "exact+rounding" if rounded else "exact"
    elif method == "fast":
        candidate, dual_bound = _fast(problem, exact_max_pairs, seed)
        bound = min(bound, dual_bound)
        if _feasible(problem, candidate) and w[candidate].sum() > greedy_weight:
            chosen, used = candidate, "fast"
        else:
            notes.append("Greedy by score was at least as good as the price-adjusted allocation; kept greedy.")
    elif method != "greedy":
        raise TargetingError(f"Unknown allocation method {method!r}. Fix: use auto, exact, greedy or fast.")
    weight = float(w[chosen].sum())
    if not np.isfinite(bound):  # greedy only: the bound with zero prices (every customer's top c)
        bound = _dual_bound(problem, np.zeros(n_offers), 0.0, 0.0)
    bound = max(bound, weight)
    report = AllocationReport(used, objective, len(w), int(chosen.sum()), weight, greedy_weight, float(bound),
                              shift, tuple(notes), float(raw[chosen].sum()))
    return chosen, report


def greedy_allocation(
    users: np.ndarray,
    offers: np.ndarray,
    weights: np.ndarray,
    *,
    cap: int = 1,
    budgets: np.ndarray | None = None,
    total_coupons: int | None = None,
) -> np.ndarray:
    """Greedy by weight (ties: earlier row first), vectorised; see :func:`allocate`.

    ``budgets`` has one entry per offer code (negative = unlimited).
    """
    users = np.asarray(users, dtype=np.int64)
    offers = np.asarray(offers, dtype=np.int64)
    n_offers = max(int(offers.max() + 1) if len(offers) else 0, 0 if budgets is None else len(budgets))
    problem = _Problem(users, offers, np.asarray(weights, dtype=np.float64),
                       int(users.max() + 1) if len(users) else 0, n_offers, int(cap),
                       _budget_array(budgets, n_offers), total_coupons, None, None)
    return _greedy(problem)


@dataclass(frozen=True)
class _Problem:
    users: np.ndarray
    offers: np.ndarray
    weights: np.ndarray
    n_users: int
    n_offers: int
    cap: int
    budgets: np.ndarray  # int64, _UNLIMITED where unlimited
    total_coupons: int | None
    costs: np.ndarray | None  # per offer
    total_money: float | None

    def pair_costs(self) -> np.ndarray:
        assert self.costs is not None
        return self.costs[self.offers]


def _greedy(problem: _Problem) -> np.ndarray:
    """Greedy by weight under the caps and budgets, then the totals (see :func:`allocate`)."""
    order = _global_order(problem.weights)
    picked = _deferred_acceptance(problem.users, problem.offers, order,
                                  np.full(problem.n_users, problem.cap, dtype=np.int64), problem.budgets.copy(),
                                  problem.n_users)
    chosen = np.zeros(len(problem.weights), dtype=bool)
    chosen[_truncate(picked, order[picked], problem, problem.total_coupons, problem.total_money)] = True
    return _refill(problem, chosen) if problem.total_money is not None else chosen


def _truncate(rows: np.ndarray, order: np.ndarray, problem: _Problem, coupons_left: int | None,
              money_left: float | None) -> np.ndarray:
    """Keep the best-ordered picks while the coupon and money totals last (a prefix in order)."""
    rows = rows[np.argsort(order, kind="stable")]
    if coupons_left is not None:
        rows = rows[: max(int(coupons_left), 0)]
    if money_left is not None:
        spent = np.cumsum(problem.pair_costs()[rows])
        rows = rows[spent <= money_left + 1e-9]
    return rows


def _refill(problem: _Problem, chosen: np.ndarray) -> np.ndarray:
    """Add pairs greedily into the room (cap, budgets, totals) left by ``chosen``."""
    chosen = chosen.copy()
    passes = _FILL_PASSES if problem.total_money is not None else 1  # money: later passes fit cheaper pairs
    for _ in range(passes):
        cap_left = problem.cap - np.bincount(problem.users[chosen], minlength=problem.n_users)
        budget_left = problem.budgets - np.bincount(problem.offers[chosen], minlength=problem.n_offers)
        coupons_left = None if problem.total_coupons is None else problem.total_coupons - int(chosen.sum())
        money_left = None
        allowed = ~chosen & (cap_left[problem.users] > 0) & (budget_left[problem.offers] > 0)
        if problem.total_money is not None:
            money_left = problem.total_money - float(problem.pair_costs()[chosen].sum())
            allowed &= problem.pair_costs() <= money_left + 1e-9
        if (coupons_left is not None and coupons_left <= 0) or not allowed.any():
            break
        rows = np.flatnonzero(allowed)
        order = _global_order(problem.weights[rows])
        picked = _deferred_acceptance(problem.users[rows], problem.offers[rows], order, cap_left, budget_left,
                                      problem.n_users)
        added = _truncate(rows[picked], order[picked], problem, coupons_left, money_left)
        if len(added) == 0:
            break
        chosen[added] = True
    return chosen


def _deferred_acceptance(users: np.ndarray, offers: np.ndarray, order: np.ndarray, cap_left: np.ndarray,
                         budget_left: np.ndarray, n_users: int) -> np.ndarray:
    """Customer-proposing deferred acceptance; ``order`` ranks pairs (0 = best) for both sides.

    Each round every customer with room proposes to their next-best offers; each offer keeps its
    best proposals up to its budget and rejects the rest. With both sides ranking by one strict
    pair order the stable result is unique and equals greedy in that order. At most one round per
    offer a customer can propose to; each round is vectorised. Returns the indices of kept pairs.
    """
    n = len(users)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    by_user = _sort_by_group(users, order)  # customer-major, best first
    counts = np.bincount(users, minlength=n_users)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pointer = np.zeros(n_users, dtype=np.int64)
    held = np.zeros(0, dtype=np.int64)
    held_per_user = np.zeros(n_users, dtype=np.int64)
    cap_left = np.maximum(cap_left, 0)
    while True:
        need = np.minimum(cap_left - held_per_user, counts - pointer)
        active = np.flatnonzero(need > 0)
        if len(active) == 0:
            break
        k = need[active]
        proposer = np.repeat(active, k)
        step = np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k)
        new = by_user[start[proposer] + pointer[proposer] + step]
        pointer[active] += k
        pool = np.concatenate([held, new])
        pool = pool[_sort_by_group(offers[pool], order[pool])]
        offer_of = offers[pool]
        position = np.arange(len(pool)) - np.searchsorted(offer_of, offer_of, side="left")
        held = pool[position < budget_left[offer_of]]
        held_per_user = np.bincount(users[held], minlength=n_users)
    return held


def _run_lp(problem: _Problem) -> tuple[Any, np.ndarray, int] | None:
    """Solve the LP relaxation with HiGHS dual simplex (a vertex solution).

    Only constraints that can bind are written: customers with more candidate pairs than the cap,
    offers with more candidates than their budget, and the totals. Returns the solver result, the
    offers that have a row and the number of customer rows, or None when nothing can bind.
    """
    n = len(problem.weights)
    per_user = np.bincount(problem.users, minlength=problem.n_users)
    per_offer = np.bincount(problem.offers, minlength=problem.n_offers)
    user_rows = np.flatnonzero(per_user > problem.cap)
    offer_rows = np.flatnonzero(per_offer > problem.budgets)
    blocks, bounds = [], []
    for rows, codes, size, limits in (
        (user_rows, problem.users, problem.n_users, np.full(len(user_rows), problem.cap, dtype=np.float64)),
        (offer_rows, problem.offers, problem.n_offers, problem.budgets[offer_rows].astype(np.float64)),
    ):
        if len(rows):
            remap = -np.ones(size, dtype=np.int64)
            remap[rows] = np.arange(len(rows))
            row_of = remap[codes]
            member = row_of >= 0
            blocks.append(sp.csr_array((np.ones(member.sum()), (row_of[member], np.flatnonzero(member))),
                                       shape=(len(rows), n)))
            bounds.append(limits)
    if problem.total_coupons is not None:
        blocks.append(sp.csr_array(np.ones((1, n))))
        bounds.append(np.array([problem.total_coupons], dtype=np.float64))
    if problem.total_money is not None:
        blocks.append(sp.csr_array(problem.pair_costs()[None, :]))
        bounds.append(np.array([problem.total_money], dtype=np.float64))
    if not blocks:
        return None
    result = linprog(-problem.weights, A_ub=sp.vstack(blocks, format="csr"), b_ub=np.concatenate(bounds),
                     bounds=(0, 1), method="highs-ds")
    return result, offer_rows, len(user_rows)


def _solve_lp(problem: _Problem) -> tuple[np.ndarray, float, bool] | None:
    """LP allocation: (chosen, LP value, was rounded), or None when the solver failed."""
    solved = _run_lp(problem)
    if solved is None:  # nothing binds: every pair is taken
        return np.ones(len(problem.weights), dtype=bool), float(problem.weights.sum()), False
    result = solved[0]
    if result.status != 0 or result.x is None:
        return None
    x = result.x
    if problem.total_money is None:  # totally unimodular: the vertex is integral
        return x > 0.5, float(-result.fun), False
    rounded = bool(((x > 1e-7) & (x < 1 - 1e-7)).any())
    return _refill(problem, x > 1 - 1e-7), float(-result.fun), rounded


def _fast(problem: _Problem, sample_pairs: int, seed: int) -> tuple[np.ndarray, float]:
    """Sampled LP dual prices, then deferred acceptance on price-adjusted weights, then refill."""
    prices, price_k, price_m = _sampled_prices(problem, sample_pairs, seed)
    adjusted = problem.weights - prices[problem.offers] - price_k
    if problem.costs is not None:
        adjusted = adjusted - price_m * problem.pair_costs()
    rows = np.flatnonzero(adjusted > 0)
    order = _global_order(adjusted[rows])
    picked = _deferred_acceptance(problem.users[rows], problem.offers[rows], order,
                                  np.full(problem.n_users, problem.cap, dtype=np.int64), problem.budgets.copy(),
                                  problem.n_users)
    kept = _truncate(rows[picked], order[picked], problem, problem.total_coupons, problem.total_money)
    chosen = np.zeros(len(adjusted), dtype=bool)
    chosen[kept] = True
    return _refill(problem, chosen), _dual_bound(problem, prices, price_k, price_m)


def _sampled_prices(problem: _Problem, sample_pairs: int, seed: int) -> tuple[np.ndarray, float, float]:
    """Offer prices and prices of the totals from the LP duals of a random sample of customers.

    Customers are sampled by a keyed hash (reproducible from ``seed``) so the sample has about
    ``sample_pairs`` candidate pairs; budgets and totals are scaled by the sampled share of
    customers. A dual value is the worth of one more unit of that limit: the price of the offer.
    """
    prices = np.zeros(problem.n_offers)
    share = min(1.0, sample_pairs / max(len(problem.weights), 1))
    draw = _uniform_hash(np.arange(problem.n_users), f"promolens/allocation-sample/{seed}")
    rows = np.flatnonzero(draw[problem.users] < share)
    if len(rows) == 0:
        return prices, 0.0, 0.0
    sampled, codes = np.unique(problem.users[rows], return_inverse=True)
    scale = len(sampled) / max(int((np.bincount(problem.users, minlength=problem.n_users) > 0).sum()), 1)
    limited = problem.budgets < _UNLIMITED
    budgets = problem.budgets.copy()
    budgets[limited] = np.ceil(problem.budgets[limited] * scale).astype(np.int64)
    sub = _Problem(
        codes.astype(np.int64), problem.offers[rows], problem.weights[rows], len(sampled), problem.n_offers,
        problem.cap, budgets, None if problem.total_coupons is None else int(np.ceil(problem.total_coupons * scale)),
        problem.costs, None if problem.total_money is None else problem.total_money * scale,
    )
    solved = _run_lp(sub)
    if solved is None or solved[0].status != 0:
        return prices, 0.0, 0.0
    result, offer_rows, n_user_rows = solved
    duals = np.maximum(-np.asarray(result.ineqlin.marginals), 0.0)
    at = n_user_rows
    prices[offer_rows] = duals[at: at + len(offer_rows)]
    at += len(offer_rows)
    price_k = price_m = 0.0
    if sub.total_coupons is not None:
        price_k = float(duals[at])
        at += 1
    if sub.total_money is not None:
        price_m = float(duals[at])
    return prices, price_k, price_m


def _dual_bound(problem: _Problem, prices: np.ndarray, price_k: float, price_m: float) -> float:
    """Upper bound on the optimum from LP weak duality, valid for any prices >= 0.

    .. math:: \\sum_j B_j p_j + K\\lambda_K + M\\lambda_M + \\sum_i \\text{top}_c\\{(w_{ij} - p_j - \\lambda_K - \\lambda_M d_j)^+\\}
    """
    prices = np.where(problem.budgets >= _UNLIMITED, 0.0, prices)
    adjusted = problem.weights - prices[problem.offers] - price_k
    bound = float((problem.budgets[problem.budgets < _UNLIMITED] * prices[problem.budgets < _UNLIMITED]).sum())
    if problem.total_coupons is not None:
        bound += problem.total_coupons * price_k
    if problem.costs is not None and problem.total_money is not None:
        adjusted = adjusted - price_m * problem.pair_costs()
        bound += problem.total_money * price_m
    positive = np.flatnonzero(adjusted > 0)
    if len(positive):
        order = _global_order(adjusted[positive])
        rank = _rank_within(problem.users[positive], order)
        bound += float(adjusted[positive][rank <= problem.cap].sum())
    return bound


def _feasible(problem: _Problem, chosen: np.ndarray) -> bool:
    if (np.bincount(problem.users[chosen], minlength=problem.n_users) > problem.cap).any():
        return False
    if (np.bincount(problem.offers[chosen], minlength=problem.n_offers) > problem.budgets).any():
        return False
    if problem.total_coupons is not None and chosen.sum() > problem.total_coupons:
        return False
    if problem.total_money is not None and problem.pair_costs()[chosen].sum() > problem.total_money + 1e-6:
        return False
    return True


# ============================================================================== holdout
def assign_holdout(frame: pd.DataFrame, share: float, seed: int = 0, score_bins: int = 10) -> pd.Series:
    """Hold out a random, stratified share of customers as controls.

    The unit is the customer: all of a control customer's rows are ``control``. Customers are
    stratified by their best allocated offer (``rank == 1``) and the score bin of that pair within
    the offer (``score_decile`` when present, else computed with ``score_bins`` bins). Inside the
    list sorted by (offer, bin, random key) every ``1/share``-th customer is a control (systematic
    sampling from a random start), so each stratum holds ``floor`` or ``ceil`` of ``share * size``
    controls and the whole list ``share * customers`` (+-1). The random key is a keyed hash of the
    customer id and the seed: the same customers, offers and seed always give the same groups,
    whatever the row order.

    Parameters
    ----------
    frame
        ``user_id``, ``item_id``, ``score`` and ``rank`` (``score_decile`` optional).
    share
        Share of customers to hold out, in [0, 1).
    seed
        Any integer.

    Returns
    -------
    pd.Series
        ``treatment`` or ``control`` per row, aligned with ``frame``.
    """
    groups = pd.Series(C.TREATMENT, index=frame.index, dtype=object)
    if share <= 0 or frame.empty:
        return groups
    if not 0 < share < 1:
        raise TargetingError(f"Holdout share must be in [0, 1), got {share}. Fix: use e.g. 0.1 for 10%.")
    primary = frame[frame[C.RANK] == 1]
    item_codes, _ = pd.factorize(primary[C.ITEM_ID], sort=True)
    if C.SCORE_DECILE in primary.columns:
        bins = primary[C.SCORE_DECILE].to_numpy(np.int64)
    else:
        bins = _score_bins(item_codes, primary[C.SCORE].to_numpy(np.float64), score_bins)
    key = _uniform_hash(primary[C.USER_ID], f"promolens/holdout/{seed}")
    order = np.lexsort((key, bins, item_codes))
    start = np.random.default_rng(np.random.SeedSequence([seed, 7])).random()
    position = np.arange(len(order), dtype=np.float64)
    is_control = np.floor((position + 1) * share + start) - np.floor(position * share + start) >= 1
    control_users = primary[C.USER_ID].to_numpy()[order][is_control]
    groups[frame[C.USER_ID].isin(control_users).to_numpy()] = C.CONTROL
    return groups


# ============================================================================== helpers
class _Funnel:
    """Customers and pairs left after each eligibility step."""

    def __init__(self, user_codes: np.ndarray) -> None:
        self._users = user_codes
        self._rows: list[dict[str, Any]] = []
        self.add("scored", np.ones(len(user_codes), dtype=bool))

    def add(self, step: str, mask: np.ndarray) -> None:
        self._rows.append({"step": step, "customers": int(len(np.unique(self._users[mask]))), "pairs": int(mask.sum())})

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
    codes = _lookup(user_index, interactions[C.USER_ID])
    known = codes >= 0
    timestamps = None
    as_of = None
    if spec.active_since or spec.exclude_contacted_days is not None:
        if C.TIMESTAMP not in interactions.columns:
            raise TargetingError(
                "interactions: 'active_since' and 'exclude_contacted_days' need a timestamp column. "
                "Fix: import the data with dates, or leave those rules off."
            )
        timestamps = pd.to_datetime(interactions[C.TIMESTAMP], errors="coerce")
        as_of_ts = pd.Timestamp(spec.as_of) if spec.as_of else timestamps.max()
        as_of = None if pd.isna(as_of_ts) else as_of_ts.isoformat()
    user_codes_of_pairs = funnel._users
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
        contact = interactions[C.EVENT].astype(str).str.lower().isin([e.lower() for e in spec.contact_events]).to_numpy()
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
        redeemed = interactions[C.EVENT].astype(str).str.lower().isin([e.lower() for e in spec.redeem_events]).to_numpy()
        items = _lookup(item_index, interactions[C.ITEM_ID])
        hit = redeemed & known & (items >= 0)
        block = np.unique(codes[hit].astype(np.int64) * len(item_index) + items[hit])
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


def _budget_array(budgets: np.ndarray | None, n_offers: int) -> np.ndarray:
    if budgets is None:
        return np.full(n_offers, _UNLIMITED, dtype=np.int64)
    out = np.asarray(budgets, dtype=np.float64)
    if out.shape != (n_offers,):
        raise TargetingError(f"budgets must have one entry per offer ({n_offers}), got shape {out.shape}.")
    return np.where((out < 0) | ~np.isfinite(out), _UNLIMITED, np.floor(out)).astype(np.int64)


def _positive_weights(weights: np.ndarray) -> tuple[np.ndarray, float]:
    """Weights shifted by one constant so the smallest is > 0 (see the module docstring)."""
    if len(weights) == 0 or weights.min() > 0:
        return weights, 0.0
    spread = float(weights.max() - weights.min())
    floor = WEIGHT_FLOOR_SHARE * spread if spread > 0 else 1.0
    shift = float(floor - weights.min())
    return weights + shift, shift


def _global_order(weights: np.ndarray) -> np.ndarray:
    """Rank of each pair in decreasing weight (0 = best); ties keep the earlier row first."""
    order = np.argsort(-weights, kind="stable")
    rank = np.empty(len(weights), dtype=np.int64)
    rank[order] = np.arange(len(weights))
    return rank


def _rank_within(groups: np.ndarray, order: np.ndarray) -> np.ndarray:
    """1-based rank of each row within its group by ``order`` (distinct ints, smaller = better)."""
    if len(groups) == 0:
        return np.zeros(0, dtype=np.int64)
    sorter = _sort_by_group(groups, order)
    g = groups[sorter]
    position = np.arange(len(g)) - np.searchsorted(g, g, side="left")
    rank = np.empty(len(g), dtype=np.int64)
    rank[sorter] = position + 1
    return rank


def _sort_by_group(groups: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Permutation sorting rows by group, then by ``order`` (one argsort of a combined int64 key).

    ``order`` holds distinct integers, so the key ``group * span + order`` is unique and any sort
    algorithm gives the same result (and it fits in int64 for any realistic size).
    """
    if len(order) == 0:
        return np.zeros(0, dtype=np.int64)
    low = order.min()
    span = np.int64(order.max() - low + 1)
    return np.argsort(groups.astype(np.int64) * span + (order - low))


def _score_bins(groups: np.ndarray, scores: np.ndarray, n_bins: int) -> np.ndarray:
    """Score bin 1..n_bins of each row within its group (equal-count bins, 1 = lowest scores)."""
    if len(groups) == 0:
        return np.zeros(0, dtype=np.int64)
    ascending = _rank_within(groups, _global_order(-scores))  # rank 1 = lowest score
    sizes = np.bincount(groups)[groups]
    return np.minimum(np.ceil(ascending * n_bins / sizes), n_bins).astype(np.int64)


def _uniform_hash(ids: Any, context: str) -> np.ndarray:
    """A uniform number in [0, 1) per id from a keyed hash of its text: order-independent."""
    key = hashlib.sha256(context.encode()).hexdigest()[:16]
    texts = np.asarray(pd.Index(ids).astype(str), dtype=object)
    hashed = pd.util.hash_array(texts, hash_key=key, categorize=True)
    return (hashed >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _mask(n: int, rows: np.ndarray) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[rows] = True
    return mask


def _factorize(values: pd.Series, table: str, column: str) -> tuple[np.ndarray, pd.Index]:
    if values.isna().any():
        raise TargetingError(f"{table}: {int(values.isna().sum()):,} rows have no '{column}'. Fix: drop or fill them.")
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy(np.int64), pd.Index(values.cat.categories)
    codes, uniques = pd.factorize(values, sort=False)
    return codes.astype(np.int64), pd.Index(uniques)


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
            f"{table}: missing column(s) {', '.join(missing)}{_did_you_mean(missing[0], frame.columns)}. "
            f"Fix: rename your columns to {', '.join(columns)} (it has {', '.join(map(str, frame.columns[:10]))})."
        )


def _did_you_mean(name: str, options: Iterable[Any]) -> str:
    close = difflib.get_close_matches(str(name), [str(o) for o in options], n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _jsonable(value: Any) -> Any:
    """Plain JSON types: tuples to lists, numpy scalars to Python numbers, keys to text."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, (pd.Timestamp,)):
        return value.isoformat()
    return value


__all__ = [
    "AudienceSpec", "UserFilter", "Audience", "AllocationReport", "TargetingError", "build_audience",
    "allocate", "greedy_allocation", "assign_holdout", "segment_members", "FILTER_OPS",
]
