"""Audiences: eligibility rules, caps and budgets, allocation quality, holdout groups."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog

from recsys.core import columns as C
from recsys.campaign.allocation import allocate, greedy_allocation
from recsys.campaign.audience import build_audience
from recsys.campaign.holdout import assign_holdout
from recsys.campaign.spec import AudienceSpec, TargetingError, UserFilter


# ------------------------------------------------------------------------------ references
def reference_greedy(u, j, w, cap, budgets, total=None, costs=None, money=None) -> np.ndarray:
    """Slow, obviously-correct greedy by weight: take each pair in order if everything has room."""
    chosen = np.zeros(len(w), dtype=bool)
    per_user: dict[int, int] = {}
    per_offer: dict[int, int] = {}
    spent = 0.0
    for p in np.argsort(-w, kind="stable"):
        if per_user.get(u[p], 0) >= cap or per_offer.get(j[p], 0) >= budgets[j[p]]:
            continue
        if total is not None and chosen.sum() >= total:
            break
        if money is not None and spent + costs[j[p]] > money + 1e-9:
            continue
        chosen[p] = True
        per_user[u[p]] = per_user.get(u[p], 0) + 1
        per_offer[j[p]] = per_offer.get(j[p], 0) + 1
        spent += 0.0 if costs is None else costs[j[p]]
    return chosen


def brute_force_best(u, j, w, cap, budgets) -> float:
    best = 0.0
    for picks in itertools.product([False, True], repeat=len(w)):
        x = np.array(picks)
        if np.bincount(u[x], minlength=u.max() + 1).max(initial=0) > cap:
            continue
        if (np.bincount(j[x], minlength=len(budgets)) > budgets).any():
            continue
        best = max(best, float(w[x].sum()))
    return best


def random_instance(rng: np.random.Generator, max_users: int = 40, max_offers: int = 7):
    n_users, n_offers = int(rng.integers(2, max_users)), int(rng.integers(1, max_offers))
    u, j = (a.ravel() for a in np.meshgrid(np.arange(n_users), np.arange(n_offers), indexing="ij"))
    keep = rng.random(len(u)) < rng.uniform(0.3, 1.0)
    keep[0] = True
    u, j = u[keep], j[keep]
    w = rng.random(len(u)).round(3) + 0.001
    return u, j, w, int(rng.integers(1, 4)), rng.integers(0, n_users, size=n_offers), n_offers


def assert_feasible(u, j, chosen, cap, budgets, total=None, costs=None, money=None) -> None:
    assert np.bincount(u[chosen], minlength=1).max(initial=0) <= cap
    assert (np.bincount(j[chosen], minlength=len(budgets)) <= budgets).all()
    if total is not None:
        assert chosen.sum() <= total
    if money is not None:
        assert costs[j[chosen]].sum() <= money + 1e-9


# ------------------------------------------------------------------------------ allocation
def test_exact_beats_greedy_where_greedy_is_short_sighted() -> None:
    # a-x is the best single pair, but giving x to b and y to a is worth more
    u, j, w = np.array([0, 0, 1]), np.array([0, 1, 0]), np.array([10.0, 9.0, 8.0])
    greedy = greedy_allocation(u, j, w, cap=1, budgets=np.array([1, 1]))
    assert greedy.tolist() == [True, False, False]
    chosen, report = allocate(u, j, w, cap=1, budgets=np.array([1, 1]))
    assert chosen.tolist() == [False, True, True]
    assert report.method == "exact" and report.weight == 17.0 and report.greedy_weight == 10.0
    assert report.optimality == pytest.approx(1.0)


@pytest.mark.parametrize("seed", range(60))
def test_vectorised_greedy_is_greedy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    u, j, w, cap, budgets, _ = random_instance(rng)
    total = int(rng.integers(1, len(w) + 1)) if seed % 3 == 0 else None
    expected = reference_greedy(u, j, w, cap, budgets, total)
    assert greedy_allocation(u, j, w, cap=cap, budgets=budgets, total_coupons=total).tolist() == expected.tolist()


@pytest.mark.parametrize("method", ["exact", "fast", "greedy"])
@pytest.mark.parametrize("seed", range(40))
def test_caps_and_budgets_hold_and_allocation_is_at_least_greedy(method: str, seed: int) -> None:
    rng = np.random.default_rng(1000 + seed)
    u, j, w, cap, budgets, n_offers = random_instance(rng)
    total = int(rng.integers(1, len(w) + 1)) if seed % 4 == 0 else None
    chosen, report = allocate(u, j, w, n_offers=n_offers, cap=cap, budgets=budgets, total_coupons=total,
                              method=method, exact_max_pairs=max(4, len(w) // 3))
    assert_feasible(u, j, chosen, cap, budgets, total)
    greedy_total = w[reference_greedy(u, j, w, cap, budgets, total)].sum()
    assert w[chosen].sum() >= greedy_total - 1e-9
    assert report.upper_bound >= report.weight - 1e-9
    assert report.weight == pytest.approx(w[chosen].sum())


@pytest.mark.parametrize("seed", range(25))
def test_exact_allocation_is_optimal_on_tiny_instances(seed: int) -> None:
    rng = np.random.default_rng(seed)
    u, j, w, cap, budgets, n_offers = random_instance(rng, max_users=5, max_offers=4)
    if len(w) > 12:
        u, j, w = u[:12], j[:12], w[:12]
    chosen, report = allocate(u, j, w, n_offers=n_offers, cap=cap, budgets=budgets, method="exact")
    assert w[chosen].sum() == pytest.approx(brute_force_best(u, j, w, cap, budgets))
    assert report.optimality == pytest.approx(1.0)


@pytest.mark.parametrize("seed", range(40))
def test_money_total_is_never_exceeded_and_beats_greedy_by_score(seed: int) -> None:
    rng = np.random.default_rng(2000 + seed)
    u, j, w, cap, budgets, n_offers = random_instance(rng)
    costs = rng.integers(1, 10, size=n_offers).astype(float)
    money = float(rng.integers(5, 80))
    chosen, report = allocate(u, j, w, n_offers=n_offers, cap=cap, budgets=budgets, costs=costs, total_money=money)
    assert_feasible(u, j, chosen, cap, budgets, costs=costs, money=money)
    greedy = reference_greedy(u, j, w, cap, budgets, costs=costs, money=money)
    assert w[chosen].sum() >= w[greedy].sum() - 1e-9
    assert report.upper_bound >= report.weight - 1e-9


def test_fast_method_is_near_optimal_and_reports_a_valid_bound() -> None:
    rng = np.random.default_rng(5)
    n_users, n_offers = 3000, 8
    u = np.repeat(np.arange(n_users), n_offers)
    j = np.tile(np.arange(n_offers), n_users)
    w = rng.random(len(u)) * (1 + j / n_offers)  # later offers score higher: budgets bind there
    budgets = np.full(n_offers, 400)
    exact, exact_report = allocate(u, j, w, cap=2, budgets=budgets, method="exact")
    fast, fast_report = allocate(u, j, w, cap=2, budgets=budgets, method="fast", exact_max_pairs=3000)
    assert_feasible(u, j, fast, 2, budgets)
    assert fast_report.method in ("fast", "greedy")
    assert fast_report.upper_bound >= exact_report.weight - 1e-6  # a bound on the true optimum
    assert fast_report.weight >= 0.99 * exact_report.weight
    assert fast_report.weight >= fast_report.greedy_weight


@pytest.mark.parametrize("cap", [1, 2])
def test_column_generation_reaches_the_full_lp_optimum(cap: int) -> None:
    # budgets bind hard on the popular offers, so customers are pushed far down their lists
    rng = np.random.default_rng(11)
    n_users, n_offers = 600, 12
    u = np.repeat(np.arange(n_users), n_offers)
    j = np.tile(np.arange(n_offers), n_users)
    w = rng.random(len(u)) * (1 + 3 * j / n_offers)
    budgets = np.full(n_offers, 30)
    full = linprog(-w, A_ub=sp.vstack([sp.csr_array((np.ones(len(u)), (u, np.arange(len(u))))),
                                       sp.csr_array((np.ones(len(u)), (j, np.arange(len(u)))))]),
                   b_ub=np.concatenate([np.full(n_users, cap), budgets]), bounds=(0, 1), method="highs-ds")
    chosen, report = allocate(u, j, w, cap=cap, budgets=budgets, method="exact")
    assert_feasible(u, j, chosen, cap, budgets)
    assert report.method == "exact" and report.weight > report.greedy_weight
    assert report.weight == pytest.approx(-full.fun, rel=1e-9)
    assert report.optimality == pytest.approx(1.0, abs=1e-9)


def test_greedy_meeting_its_bound_is_reported_optimal_and_large_problems_keep_greedy() -> None:
    rng = np.random.default_rng(3)
    u, j = np.repeat(np.arange(300), 4), np.tile(np.arange(4), 300)
    w = rng.random(len(u))
    _, loose = allocate(u, j, w, cap=1, budgets=np.full(4, 300))  # budgets never bind: greedy is optimal
    assert loose.method == "exact" and loose.weight == loose.greedy_weight == pytest.approx(loose.upper_bound)
    assert "it is optimal" in " ".join(loose.notes)
    chosen, tight = allocate(u, j, w * (1 + j), cap=1, budgets=np.full(4, 40), exact_max_pairs=100)
    assert tight.method == "greedy" and "exact limit" in " ".join(tight.notes)
    assert tight.weight == tight.greedy_weight < tight.upper_bound
    assert chosen.tolist() == greedy_allocation(u, j, w * (1 + j), cap=1, budgets=np.full(4, 40)).tolist()


def test_negative_scores_are_shifted_and_every_budget_slot_is_used() -> None:
    u, j, w = np.array([0, 1, 2]), np.array([0, 0, 0]), np.array([-3.0, -1.0, -2.0])
    chosen, report = allocate(u, j, w, cap=1, budgets=np.array([2]))
    assert chosen.tolist() == [False, True, True]
    assert report.shift > 0 and "per coupon" in report.objective
    assert report.total_score == pytest.approx(-3.0)
    assert report.weight == pytest.approx(-3.0 + 2 * report.shift)


# ------------------------------------------------------------------------------ audiences
@pytest.fixture()
def shop() -> dict[str, pd.DataFrame]:
    users = pd.DataFrame({
        C.USER_ID: ["u1", "u2", "u3", "u4"],
        "tier": ["gold", "silver", "gold", "bronze"],
        "age": [25, 41, 33, 58],
    })
    items = pd.DataFrame({C.ITEM_ID: ["A", "B"], "discount_value": [5.0, 10.0]})
    scores = pd.DataFrame({
        C.USER_ID: ["u1", "u1", "u2", "u2", "u3", "u3", "u4", "u4"],
        C.ITEM_ID: ["A", "B"] * 4,
        C.SCORE: [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2],
    })
    interactions = pd.DataFrame({
        C.USER_ID: ["u1", "u2", "u3", "u4"],
        C.ITEM_ID: ["A", "B", "A", "A"],
        C.EVENT: [C.REDEEM, C.IMPRESSION, C.CLICK, C.CLICK],
        C.TIMESTAMP: pd.to_datetime(["2026-03-01", "2026-03-28", "2026-01-05", "2026-03-30"]),
    })
    return {"users": users, "items": items, "scores": scores, "interactions": interactions}


def pairs(audience) -> set[tuple[str, str]]:
    return set(zip(audience.frame[C.USER_ID], audience.frame[C.ITEM_ID]))


def build(shop, **spec) -> object:
    spec.setdefault("holdout_share", 0.0)
    return build_audience(shop["scores"], shop["users"], shop["items"], shop["interactions"], AudienceSpec(**spec))


def test_default_rules_exclude_pairs_already_redeemed(shop) -> None:
    audience = build(shop, max_per_customer=2)
    assert ("u1", "A") not in pairs(audience) and ("u1", "B") in pairs(audience)
    assert len(audience.frame) == 7
    assert audience.funnel["step"].tolist()[:2] == ["scored", "not already redeemed"]


def test_the_redeemed_rule_reads_only_redeem_rows_in_any_case_with_or_without_the_customer_rules(shop) -> None:
    extra = pd.DataFrame({C.USER_ID: ["u2", "u3", "nobody", "u4", None], C.ITEM_ID: ["A", "B", "A", "nowhere", "B"],
                          C.EVENT: ["REDEEM", "Purchase", "redeem", "redeem", "redeem"],
                          C.TIMESTAMP: pd.to_datetime(["2026-03-02"] * 5)})
    with_more = {**shop, "interactions": pd.concat([shop["interactions"], extra], ignore_index=True)}
    blocked = {("u1", "A"), ("u2", "A")}  # redeems in any case; a purchase, unknown ids and no id are not
    everyone = {(u, i) for u in ["u1", "u2", "u3", "u4"] for i in "AB"}
    assert pairs(build(with_more, max_per_customer=2)) == everyone - blocked
    # the per-customer rules look every row's customer up: the redeemed pairs are the same
    loose = build(with_more, max_per_customer=2, active_since="2026-01-01", exclude_contacted_days=0)
    assert pairs(loose) == everyone - blocked


def test_user_filters_segments_and_offers(shop) -> None:
    audience = build(shop, user_filters=(UserFilter("tier", "in", ["gold"]), UserFilter("age", "<", 30)),
                     exclude_redeemed=False)
    assert {u for u, _ in pairs(audience)} == {"u1"}
    audience = build_audience(
        shop["scores"], shop["users"], shop["items"], shop["interactions"],
        AudienceSpec(segments=("s1", "s2"), offers=("B",), holdout_share=0.0),
        segment_members={"s1": ["u2"], "s2": pd.Series(["u4", "nobody"])},
    )
    assert pairs(audience) == {("u2", "B"), ("u4", "B")}


def test_contacted_recently_and_active_since(shop) -> None:
    # as_of = latest interaction (2026-03-30): u2 had an impression 2 days before
    audience = build(shop, exclude_contacted_days=7, exclude_redeemed=False)
    assert "u2" not in {u for u, _ in pairs(audience)}
    assert audience.as_of.startswith("2026-03-30")
    audience = build(shop, active_since="2026-02-01", exclude_redeemed=False)
    assert {u for u, _ in pairs(audience)} == {"u1", "u2", "u4"}
    audience = build_audience(shop["scores"], shop["users"], shop["items"], shop["interactions"],
                              AudienceSpec(exclude_contacted_days=7, holdout_share=0.0, exclude_redeemed=False),
                              recent_recipients=["u3"])
    assert {u for u, _ in pairs(audience)} == {"u1", "u4"}


def test_budgets_in_coupons_money_and_threshold(shop) -> None:
    audience = build(shop, top_n={"A": 1, "B": 2}, exclude_redeemed=False)
    counts = audience.frame[C.ITEM_ID].value_counts()
    assert counts["A"] == 1 and counts["B"] == 2
    audience = build(shop, offer_budget=10.0, cost_column="discount_value", exclude_redeemed=False)
    counts = audience.frame[C.ITEM_ID].value_counts()
    assert counts.get("A", 0) <= 2 and counts.get("B", 0) <= 1
    audience = build(shop, total_budget=15.0, cost_column="discount_value", max_per_customer=2, exclude_redeemed=False)
    costs = audience.frame[C.ITEM_ID].map({"A": 5.0, "B": 10.0})
    assert costs.sum() <= 15.0 and len(audience.frame) >= 2
    audience = build(shop, min_score=0.55, max_per_customer=2, exclude_redeemed=False)
    assert audience.frame[C.SCORE].min() >= 0.55 and len(audience.frame) == 4


def test_rank_is_the_customers_order_of_offers(shop) -> None:
    audience = build(shop, max_per_customer=2, exclude_redeemed=False)
    u1 = audience.frame[audience.frame[C.USER_ID] == "u1"].set_index(C.ITEM_ID)
    assert u1.loc["A", C.RANK] == 1 and u1.loc["B", C.RANK] == 2


def test_fairness_hook_changes_allocation_but_not_exported_score(shop) -> None:
    def favour_b(pairs_frame: pd.DataFrame) -> pd.Series:
        return pairs_frame[C.SCORE] + (pairs_frame[C.ITEM_ID] == "B") * 1.0

    audience = build_audience(shop["scores"], None, None, None, AudienceSpec(holdout_share=0.0),
                              score_adjuster=favour_b)
    assert set(audience.frame[C.ITEM_ID]) == {"B"}
    assert audience.frame[C.SCORE].max() == pytest.approx(0.8)  # the model's score, not the adjusted one
    assert audience.fairness_hook == "favour_b"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (dict(total_budget=10.0), "cost_column"),
        (dict(max_per_customer=0), "max_per_customer"),
        (dict(holdout_share=1.0), "holdout_share"),
        (dict(user_filters=(UserFilter("tire", "in", ["gold"]),)), "did you mean 'tier'"),
        (dict(offers=("Z",)), "no scores for Z"),
        (dict(segments=("s9",)), "segment_members"),
        (dict(active_since="last tuesday"), "YYYY-MM-DD"),
    ],
)
def test_bad_parameters_name_the_parameter_and_the_fix(shop, spec: dict, message: str) -> None:
    with pytest.raises(TargetingError, match=message):
        build(shop, **spec)


def test_missing_score_column_is_named(shop) -> None:
    with pytest.raises(TargetingError, match="missing column.*score"):
        build_audience(shop["scores"].rename(columns={C.SCORE: "prob"}), None, None, None, AudienceSpec())


def test_spec_round_trips_through_json() -> None:
    import json

    spec = AudienceSpec(offers=("A",), user_filters=(UserFilter("tier", "in", ["gold"]),), top_n={"A": 3},
                        exclude_contacted_days=14, holdout_share=0.2, seed=9)
    assert AudienceSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


# ------------------------------------------------------------------------------ holdout
@pytest.fixture()
def big_list() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 5000
    frame = pd.DataFrame({
        C.USER_ID: [f"c{i}" for i in range(n)],
        C.ITEM_ID: rng.choice(["A", "B", "C"], size=n, p=[0.5, 0.3, 0.2]),
        C.SCORE: rng.random(n),
        C.RANK: 1,
    })
    second = frame.sample(1000, random_state=1).assign(**{C.ITEM_ID: "D", C.RANK: 2})
    return pd.concat([frame, second], ignore_index=True)


def test_holdout_share_and_stratification(big_list: pd.DataFrame) -> None:
    groups = assign_holdout(big_list, 0.2, seed=11)
    per_user = pd.DataFrame({C.USER_ID: big_list[C.USER_ID], C.GROUP: groups}).drop_duplicates()
    assert per_user[C.USER_ID].is_unique  # the unit is the customer: all their rows share a group
    n_control = int((per_user[C.GROUP] == C.CONTROL).sum())
    assert abs(n_control - 0.2 * 5000) <= 1
    primary = big_list[big_list[C.RANK] == 1].assign(group=groups[big_list[C.RANK] == 1])
    primary["decile"] = primary.groupby(C.ITEM_ID)[C.SCORE].rank(pct=True).mul(10).apply(np.ceil)
    strata = primary.groupby([C.ITEM_ID, "decile"])["group"].agg(size="size", control=lambda g: (g == C.CONTROL).sum())
    assert ((strata["control"] - 0.2 * strata["size"]).abs() <= 1).all()


def test_holdout_is_reproducible_and_order_independent(big_list: pd.DataFrame) -> None:
    first = assign_holdout(big_list, 0.1, seed=4)
    assert first.equals(assign_holdout(big_list, 0.1, seed=4))
    shuffled = big_list.sample(frac=1.0, random_state=8)
    again = assign_holdout(shuffled, 0.1, seed=4).reindex(big_list.index)
    assert again.equals(first)
    other = assign_holdout(big_list, 0.1, seed=5)
    assert not other.equals(first)


def test_audience_marks_controls_and_budgets_count_them(shop) -> None:
    rng = np.random.default_rng(0)
    n = 400
    scores = pd.DataFrame({C.USER_ID: np.repeat([f"c{i}" for i in range(n)], 2), C.ITEM_ID: ["A", "B"] * n,
                           C.SCORE: rng.random(2 * n)})
    audience = build_audience(scores, None, None, None, AudienceSpec(top_n=150, holdout_share=0.2, seed=1))
    counts = audience.counts().set_index(C.ITEM_ID)
    assert ((counts[C.TREATMENT] + counts[C.CONTROL]) <= 150).all()
    customers = audience.customers()
    assert abs(customers[C.CONTROL] - 0.2 * (customers[C.CONTROL] + customers[C.TREATMENT])) <= 1
    assert audience.params()["allocation"]["method"] == "exact"


def test_recent_export_recipients_are_excluded_without_interactions(shop) -> None:
    audience = build_audience(shop["scores"], None, None, None,
                              AudienceSpec(exclude_contacted_days=30, holdout_share=0.0), recent_recipients=["u1", "u3"])
    assert {u for u, _ in pairs(audience)} == {"u2", "u4"}
    with pytest.raises(TargetingError, match="recent_recipients"):
        build_audience(shop["scores"], None, None, None, AudienceSpec(exclude_contacted_days=30))


def test_score_histogram_numbers_categorical_offers_as_their_text_would_be() -> None:
    """The audience's scores hold categorical ids: the histogram reads their codes (no string per row) and
    gives the frame it gives for the same ids as text, unused categories and missing ids included."""
    from recsys.campaign.preview import offer_codes, score_histogram

    rng = np.random.default_rng(0)
    ids = rng.choice(["OFF9", "OFF1", "OFF5"], size=400).astype(object)
    ids[::37] = None
    as_text = pd.Series(ids, dtype=object)
    as_categories = pd.Series(pd.Categorical(ids, categories=["unused", "OFF5", "OFF9", "OFF1"]))
    codes, offers = offer_codes(as_categories)
    expected_codes, expected_offers = pd.factorize(as_text.astype(str), sort=False)
    assert codes.tolist() == expected_codes.tolist() and offers.tolist() == expected_offers.tolist()
    scores = pd.DataFrame({C.USER_ID: np.arange(400).astype(str), C.SCORE: rng.random(400)})
    targeted = scores.iloc[::3]
    histogram = score_histogram(scores.assign(**{C.ITEM_ID: as_categories}), targeted.assign(**{C.ITEM_ID: as_text[::3]}))
    assert histogram.equals(score_histogram(scores.assign(**{C.ITEM_ID: as_text}), targeted.assign(**{C.ITEM_ID: as_text[::3]})))
    assert histogram["scored"].sum() == 400 - len(ids[::37]) and set(histogram[C.ITEM_ID]) == {"OFF9", "OFF1", "OFF5"}
