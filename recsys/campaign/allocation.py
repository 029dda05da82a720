"""Allocation: which eligible (customer, offer) pairs get a coupon, under caps and budgets.

:func:`allocate` maximises the total allocation weight

.. math:: \\max_x \\sum_{ij} w_{ij} x_{ij} \\quad \\text{s.t.} \\quad \\sum_j x_{ij} \\le c,\\;
          \\sum_i x_{ij} \\le B_j,\\; \\sum_{ij} x_{ij} \\le K,\\; \\sum_{ij} d_j x_{ij} \\le M,\\;
          x_{ij} \\in \\{0, 1\\}

where ``w`` is the score (after the optional fairness adjustment), ``c`` the per-customer cap,
``B_j`` the budget of offer ``j`` in coupons, ``K`` the campaign total in coupons and ``M`` the
campaign total in money at ``d_j`` per coupon. Raw model scores live on an arbitrary scale
(LightFM's can be negative), so when some eligible weight is <= 0 every weight is shifted by one
constant, :math:`w = s - s_{min} + \\delta` with :math:`\\delta` = 1% of the score range: the order
of pairs is kept and every eligible coupon is worth sending, i.e. the allocation maximises
:math:`\\sum s_{ij} x_{ij} + (\\delta - s_{min}) \\sum x_{ij}`.

Methods: the exact LP (HiGHS, by column generation over each customer's best pairs), greedy by
weight (vectorised deferred acceptance), and ``fast`` (sampled LP dual prices + deferred
acceptance); each reports a proven upper bound (:class:`AllocationReport`) and the result is never
worse than greedy by score. Greedy runs first; when its total already reaches the proven bound
(every customer's best ``c`` pairs, or the best ``K`` of them: the usual case when budgets do not
bind) it *is* the optimum and no solver runs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from recsys.campaign.holdout import uniform_hash
from recsys.campaign.ranks import global_order, rank_within, sort_by_group
from recsys.campaign.spec import EXACT_MAX_PAIRS, Method, TargetingError
from recsys.core.i18n import gettext as _
from recsys.core.jsonio import jsonable

#: Share of the score range added to shifted weights so the weakest eligible pair is worth > 0.
WEIGHT_FLOOR_SHARE = 0.01
_UNLIMITED = np.iinfo(np.int64).max // 4
_FILL_PASSES = 5
#: Pairs beyond the cap each customer brings to the first LP of the column generation.
CORE_EXTRA = 2
_MAX_ROUNDS = 30


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
        data = jsonable(asdict(self))
        data["optimality"] = round(self.optimality, 6)
        return data


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
      LP value is reported as the upper bound. The LP is solved by column generation: first over
      each customer's best ``c + 2`` pairs, then, priced with that LP's duals, every customer's best
      pairs by price-adjusted weight are added until none is missing; the dual bound then equals
      the restricted LP's value, which proves it optimal for the whole problem.
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
    * ``auto`` - greedy when it reaches the proven bound (then it is optimal and reported as
      ``exact``), else ``exact`` up to ``exact_max_pairs`` candidate pairs and greedy by score with
      its proven bound above (an exact or price-adjusted pass there costs several times greedy for
      a gain of a few percent; ask for ``exact`` or ``fast`` explicitly to pay for it).

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

    greedy, greedy_bound = _greedy(problem)
    greedy_weight = float(w[greedy].sum())
    notes: list[str] = []
    chosen, used, bound = greedy, "greedy", greedy_bound
    if method not in ("auto", "exact", "greedy", "fast"):
        raise TargetingError(f"Unknown allocation method {method!r}. Fix: use auto, exact, greedy or fast.")
    proven = greedy_weight >= greedy_bound - 1e-9 * max(1.0, abs(greedy_bound))
    if proven and method != "greedy":
        used = "exact" if method in ("auto", "exact") else "greedy"
        notes.append(_("Greedy by score reaches the proven upper bound (every customer's best pairs): it is optimal."))
        method = "greedy"
    if method == "auto":
        method = "exact" if len(w) <= exact_max_pairs else "greedy"
        if method == "greedy":
            notes.append(_("{pairs} candidate pairs is more than the exact limit of {limit}: kept greedy by score, "
                           "within {gap} of the proven upper bound (method 'exact' or 'fast' may gain a little for "
                           "several times the time).").format(
                pairs=f"{len(w):,}", limit=f"{exact_max_pairs:,}",
                gap=f"{1 - greedy_weight / max(greedy_bound, 1e-300):.1%}"))
    if method == "exact":
        solved = _solve_lp(problem)
        if solved is None:
            notes.append(_("The LP solver did not finish; kept greedy by score."))
        else:
            candidate, lp_bound, rounded = solved
            bound = min(bound, lp_bound)
            if rounded:
                notes.append(_("A money total makes this a knapsack: the LP solution was rounded down and refilled."))
            if _feasible(problem, candidate) and w[candidate].sum() >= greedy_weight - 1e-9:
                chosen, used = candidate, "exact+rounding" if rounded else "exact"
    elif method == "fast":
        candidate, dual_bound = _fast(problem, exact_max_pairs, seed)
        bound = min(bound, dual_bound)
        if _feasible(problem, candidate) and w[candidate].sum() > greedy_weight:
            chosen, used = candidate, "fast"
        else:
            notes.append(_("Greedy by score was at least as good as the price-adjusted allocation; kept greedy."))
    weight = float(w[chosen].sum())
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
    return _greedy(problem)[0]


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


def _greedy(problem: _Problem) -> tuple[np.ndarray, float]:
    """Greedy by weight under the caps and budgets, then the totals (see :func:`allocate`).

    Also returns a proven upper bound from the same sort: the sum of every customer's best ``c``
    weights (weights are > 0), or of the best ``K`` of those under a coupon total ``K`` (any
    feasible allocation takes at most ``c`` pairs per customer and ``K`` in all).
    """
    order = global_order(problem.weights)
    by_user = sort_by_group(problem.users, order)
    picked = _deferred_acceptance(problem.users, problem.offers, order,
                                  np.full(problem.n_users, problem.cap, dtype=np.int64), problem.budgets.copy(),
                                  problem.n_users, by_user)
    chosen = np.zeros(len(problem.weights), dtype=bool)
    chosen[_truncate(picked, order[picked], problem, problem.total_coupons, problem.total_money)] = True
    sorted_users = problem.users[by_user]
    top = by_user[np.arange(len(by_user)) - np.searchsorted(sorted_users, sorted_users, side="left") < problem.cap]
    best = problem.weights[top]
    if problem.total_coupons is not None and problem.total_coupons < len(best):
        keep = max(problem.total_coupons, 0)
        best = np.partition(best, len(best) - keep)[len(best) - keep:] if keep else best[:0]
    bound = float(best.sum())
    return (_refill(problem, chosen) if problem.total_money is not None else chosen), bound


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
        order = global_order(problem.weights[rows])
        picked = _deferred_acceptance(problem.users[rows], problem.offers[rows], order, cap_left, budget_left,
                                      problem.n_users)
        added = _truncate(rows[picked], order[picked], problem, coupons_left, money_left)
        if len(added) == 0:
            break
        chosen[added] = True
    return chosen


def _deferred_acceptance(users: np.ndarray, offers: np.ndarray, order: np.ndarray, cap_left: np.ndarray,
                         budget_left: np.ndarray, n_users: int, by_user: np.ndarray | None = None) -> np.ndarray:
    """Customer-proposing deferred acceptance; ``order`` ranks pairs (0 = best) for both sides.

    Each round every customer with room proposes to their next-best offers; each offer keeps its
    best proposals up to its budget and rejects the rest. With both sides ranking by one strict
    pair order the stable result is unique and equals greedy in that order. At most one round per
    offer a customer can propose to; each round is vectorised. Returns the indices of kept pairs.
    ``by_user`` is ``sort_by_group(users, order)`` when the caller has it already.
    """
    n = len(users)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if by_user is None:
        by_user = sort_by_group(users, order)  # customer-major, best first
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
        pool = pool[sort_by_group(offers[pool], order[pool])]
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
    """LP allocation by column generation: (chosen, proven bound, was rounded), or None on failure.

    The LP is solved over a core of pairs (each customer's best ``c + CORE_EXTRA``), priced with
    its duals (offer prices and prices of the totals), and every customer's best pairs by
    price-adjusted weight that are missing from the core are added, until none is missing. Then
    the weak-duality bound :func:`_dual_bound` at those prices equals the core LP's value: the core
    solution is optimal for the whole LP.
    """
    n = len(problem.weights)
    core = _best_per_customer(problem, problem.weights, problem.cap + CORE_EXTRA)
    for _ in range(_MAX_ROUNDS):
        sub = _restrict(problem, core)
        solved = _run_lp(sub)
        if solved is None:  # nothing binds in the core: every core pair is taken, prices are 0
            x, value, prices, price_k, price_m = np.ones(len(core)), float(sub.weights.sum()), np.zeros(problem.n_offers), 0.0, 0.0
        else:
            result = solved[0]
            if result.status != 0 or result.x is None:
                return None
            x, value = result.x, float(-result.fun)
            prices, price_k, price_m = _duals(sub, *solved)
        bound = _dual_bound(problem, prices, price_k, price_m)
        adjusted = problem.weights - prices[problem.offers] - price_k
        if problem.costs is not None:
            adjusted = adjusted - price_m * problem.pair_costs()
        wanted = _best_per_customer(problem, adjusted, problem.cap + CORE_EXTRA, positive_only=True)
        missing = np.setdiff1d(wanted, core, assume_unique=True)
        if len(missing) == 0 or bound <= value + 1e-9 * max(1.0, abs(value)):
            break
        core = np.union1d(core, missing)
    bound = max(bound, value)
    if problem.total_money is None:  # totally unimodular: the vertex is integral
        chosen = np.zeros(n, dtype=bool)
        chosen[core[x > 0.5]] = True
        return chosen, bound, False
    rounded = bool(((x > 1e-7) & (x < 1 - 1e-7)).any())
    chosen = np.zeros(n, dtype=bool)
    chosen[core[x > 1 - 1e-7]] = True
    return _refill(problem, chosen), bound, rounded


def _best_per_customer(problem: _Problem, values: np.ndarray, k: int, positive_only: bool = False) -> np.ndarray:
    """Sorted indices of every customer's ``k`` best pairs by ``values`` (only values > 0 if asked)."""
    rows = np.flatnonzero(values > 0) if positive_only else np.arange(len(values))
    if len(rows) == 0:
        return rows
    rank = rank_within(problem.users[rows], global_order(values[rows]))
    return np.sort(rows[rank <= k])


def _restrict(problem: _Problem, rows: np.ndarray) -> _Problem:
    """The same problem over a subset of its candidate pairs."""
    return replace(problem, users=problem.users[rows], offers=problem.offers[rows], weights=problem.weights[rows])


def _duals(problem: _Problem, result: Any, offer_rows: np.ndarray, n_user_rows: int) -> tuple[np.ndarray, float, float]:
    """Offer prices and prices of the coupon and money totals from an LP solved by :func:`_run_lp`.

    A dual value is the worth of one more unit of that limit: the price of the offer.
    """
    prices = np.zeros(problem.n_offers)
    duals = np.maximum(-np.asarray(result.ineqlin.marginals), 0.0)
    at = n_user_rows
    prices[offer_rows] = duals[at: at + len(offer_rows)]
    at += len(offer_rows)
    price_k = price_m = 0.0
    if problem.total_coupons is not None:
        price_k = float(duals[at])
        at += 1
    if problem.total_money is not None:
        price_m = float(duals[at])
    return prices, price_k, price_m


def _fast(problem: _Problem, sample_pairs: int, seed: int) -> tuple[np.ndarray, float]:
    """Sampled LP dual prices, then deferred acceptance on price-adjusted weights, then refill."""
    prices, price_k, price_m = _sampled_prices(problem, sample_pairs, seed)
    adjusted = problem.weights - prices[problem.offers] - price_k
    if problem.costs is not None:
        adjusted = adjusted - price_m * problem.pair_costs()
    rows = np.flatnonzero(adjusted > 0)
    order = global_order(adjusted[rows])
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
    customers (see :func:`_duals`).
    """
    prices = np.zeros(problem.n_offers)
    share = min(1.0, sample_pairs / max(len(problem.weights), 1))
    draw = uniform_hash(np.arange(problem.n_users), f"promolens/allocation-sample/{seed}")
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
    return _duals(sub, *solved)


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
        order = global_order(adjusted[positive])
        rank = rank_within(problem.users[positive], order)
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


__all__ = ["allocate", "greedy_allocation", "AllocationReport", "WEIGHT_FLOOR_SHARE"]
