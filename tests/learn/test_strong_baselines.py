"""EASE, item-kNN, ALS and recent popularity on tiny hand-made frames, and their validation tuning."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.core import columns as C
from recsys.learn.als import ALSRecommender
from recsys.learn.baselines import RecentPopularityRecommender
from recsys.learn.history import EASERecommender, ItemKNNRecommender
from recsys.learn.select import choose_production, tune_baselines
from recsys.learn.config import InteractionConfig


def frame(pairs: list[tuple[str, str, str]]) -> pd.DataFrame:
    """(user, item, date) rows of purchases."""
    users, items, dates = zip(*pairs)
    return pd.DataFrame({C.USER_ID: users, C.ITEM_ID: items, C.EVENT: "purchase", C.TIMESTAMP: pd.to_datetime(dates)})


BASKETS = frame([
    ("u1", "a", "2024-01-01"), ("u1", "b", "2024-01-02"), ("u2", "a", "2024-01-03"), ("u2", "b", "2024-01-03"),
    ("u2", "c", "2024-01-04"), ("u3", "b", "2024-01-05"), ("u3", "c", "2024-01-05"), ("u4", "d", "2024-01-30"),
    ("u5", "d", "2024-01-31"), ("u6", "a", "2024-01-02"), ("u6", "c", "2024-01-06"),
])


def test_ease_matches_its_closed_form_and_attributions_are_exact() -> None:
    model = EASERecommender(l2=2.0).fit(BASKETS)
    ids = model.item_index_.ids
    x = np.zeros((len(model.user_index_), len(ids)))
    for u, i in BASKETS[[C.USER_ID, C.ITEM_ID]].itertuples(index=False):
        x[model.user_index_.positions([u])[0], model.item_index_.positions([i])[0]] = 1
    p = np.linalg.inv(x.T @ x + 2.0 * np.eye(len(ids)))
    w = -p / np.diag(p)[None, :]
    np.fill_diagonal(w, 0)
    np.testing.assert_allclose(model.weights_, w, rtol=1e-4, atol=1e-6)
    scores = model.score(["u1"] * len(ids), ids)
    expected = x[model.user_index_.positions(["u1"])[0]] @ w
    np.testing.assert_allclose(scores, expected, atol=1e-5)  # + the tie-break (<= 1e-6)
    parts = model.attributions("u1", ids).groupby(C.ITEM_ID)["contribution"].sum()
    np.testing.assert_allclose(parts.reindex(ids, fill_value=0).to_numpy(), expected, atol=1e-6)
    assert set(model.attributions("u1", ids)["history_item"]) <= {"a", "b"}


def test_item_knn_keeps_k_nearest_by_cosine() -> None:
    model = ItemKNNRecommender(k=1).fit(BASKETS)
    w = model.weights_.toarray()
    assert ((w > 0).sum(axis=0) <= 1).all()  # one neighbour per target offer
    c = model.item_index_.positions(["c"])[0]
    b = model.item_index_.positions(["b"])[0]
    a = model.item_index_.positions(["a"])[0]
    # customers of c: u2, u3, u6; of b: u1, u2, u3; of a: u1, u2, u6 -> cos(c, b) = cos(c, a) = 2/3
    assert w[:, c].max() == pytest.approx(2 / 3, abs=1e-6)
    assert w[b, c] > 0 or w[a, c] > 0
    top = model.recommend(["u4"], k=1)  # u4 took only d, whose only neighbour is d's co-buyers: none
    assert len(top) == 1


def test_cold_customers_get_recent_popularity_and_warm_ones_their_history() -> None:
    model = EASERecommender(l2=1.0, fallback_days=7).fit(BASKETS)
    cold = model.recommend(["stranger"], k=2, unknown="cold")
    assert cold[C.ITEM_ID].tolist()[0] == "d"  # the only offer taken in the last 7 days (2 customers)
    assert not model.has_history(["stranger"])[0] and model.has_history(["u1"])[0]
    warm = model.recommend(["u1"], k=1)
    assert warm[C.ITEM_ID].tolist() == ["c"]  # bought with a and b, never with d


def test_recent_popularity_window_changes_the_order() -> None:
    recent = RecentPopularityRecommender(window_days=7).fit(BASKETS)
    ever = RecentPopularityRecommender(window_days=None).fit(BASKETS)
    assert recent.recommend(["x"], k=1, unknown="cold")[C.ITEM_ID].tolist() == ["d"]
    assert ever.recommend(["x"], k=1, unknown="cold")[C.ITEM_ID].tolist()[0] in {"a", "b", "c"}
    with pytest.raises(ValueError, match="window_days"):
        RecentPopularityRecommender(window_days=0).fit(BASKETS)


def test_als_is_seeded_and_scores_warm_customers_from_factors() -> None:
    one = ALSRecommender(factors=4, iterations=5, seed=1).fit(BASKETS)
    two = ALSRecommender(factors=4, iterations=5, seed=1).fit(BASKETS)
    np.testing.assert_array_equal(one.item_factors_, two.item_factors_)
    ids = one.item_index_.ids
    s_warm = one.score(["u1"] * len(ids), ids)
    s_cold = one.score(["nobody"] * len(ids), ids, unknown="cold")
    assert not np.allclose(s_warm, s_cold)
    np.testing.assert_allclose(s_cold, one.fallback_[one.item_index_.positions(ids)])


def test_tuning_picks_the_best_validation_setting_and_refits_on_train() -> None:
    fit_part = BASKETS[BASKETS[C.TIMESTAMP] < "2024-01-30"]
    validation = frame([("u1", "c", "2024-02-01"), ("u3", "a", "2024-02-01"), ("u6", "b", "2024-02-02")])
    tuned = tune_baselines(["recent_popularity", "ease"], fit_part, validation, BASKETS, None, None, None, None,
                           InteractionConfig(), None, 2, "ndcg", None, 100, 0)
    ease = tuned["ease"]
    best = max(g["validation"] for g in ease.grid)
    assert ease.validation == pytest.approx(best)
    assert ease.params["l2"] == next(g["l2"] for g in ease.grid if g["validation"] == best)
    assert ease.model is not None and "u4" in set(ease.model.user_index_.ids)  # refitted on all of train
    assert choose_production({"hybrid": 0.2, "ease": 0.3, "als": None}) == "ease"
    assert choose_production({"hybrid": 0.3, "ease": 0.3}) == "hybrid"  # ties keep the first listed
    assert choose_production({}) is None
