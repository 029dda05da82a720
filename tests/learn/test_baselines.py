"""Baselines share the recommend interface and behave as documented."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from recsys.core import columns as C
from recsys.learn.baselines import CollaborativeRecommender, PopularityRecommender, RandomRecommender
from recsys.learn.config import ModelConfig
from recsys.data.schema import ColumnKind, ColumnSpec, TableSchema


def data() -> tuple[pd.DataFrame, pd.DataFrame, TableSchema]:
    inter = pd.DataFrame({
        C.USER_ID: ["a", "a", "b", "b", "c", "c", "d", "d", "d"],
        C.ITEM_ID: ["x", "y", "x", "z", "x", "y", "w", "w", "x"],
        C.EVENT: ["click", "click", "click", "click", "purchase", "impression", "click", "click", "impression"],
    })
    items = pd.DataFrame({C.ITEM_ID: ["x", "y", "z", "w", "new"], "category": ["a", "b", "a", "b", "a"]})
    return inter, items, TableSchema((ColumnSpec("category", ColumnKind.CATEGORICAL),))


def test_popularity_counts_distinct_positive_users() -> None:
    inter, items, schema = data()
    model = PopularityRecommender().fit(inter, items=items, item_schema=schema)
    pop = dict(zip(model.item_index_.ids, model.popularity_))
    # x: a, b, c (d's impression is not a positive); y: a (c's impression is not); w: d counted once
    assert pop == {"x": 3, "y": 1, "z": 1, "w": 1, "new": 0}
    reco = model.recommend(["d", "zz"], k=2, unknown="cold")
    assert reco[reco[C.USER_ID] == "zz"][C.ITEM_ID].iloc[0] == "x"
    assert "w" not in set(reco.loc[reco[C.USER_ID] == "d", C.ITEM_ID])  # seen
    by_weight = PopularityRecommender(by="weight").fit(inter)
    assert dict(zip(by_weight.item_index_.ids, by_weight.popularity_))["w"] == 4.0  # two clicks
    with pytest.raises(ValueError, match="by must be one of"):
        PopularityRecommender(by="revenue").fit(inter)


def test_random_is_seeded_and_independent_of_batching() -> None:
    inter, items, _ = data()
    model = RandomRecommender(seed=7).fit(inter, items=items)
    together = model.recommend(["a", "b", "c"], k=3, exclude_seen=False)
    alone = model.recommend(["b"], k=3, exclude_seen=False)
    pd.testing.assert_frame_equal(together[together[C.USER_ID] == "b"].reset_index(drop=True), alone)
    other = RandomRecommender(seed=8).fit(inter, items=items).score(["a"] * 5, ["x", "y", "z", "w", "new"])
    assert not np.allclose(other, model.score(["a"] * 5, ["x", "y", "z", "w", "new"]))
    big = RandomRecommender(seed=1).fit(inter, items=items)
    firsts = big.recommend([f"u{i}" for i in range(500)], k=1, unknown="cold")[C.ITEM_ID].value_counts()
    assert len(firsts) == 5 and firsts.min() > 50  # roughly uniform


def test_collaborative_has_identity_features_only_and_skips_cold_items() -> None:
    inter, items, schema = data()
    model = CollaborativeRecommender(ModelConfig(epochs=3, no_components=4)).fit(inter, items=items, item_schema=schema)
    assert set(model.item_feature_index_.kinds) == {"identity"}
    assert "new" in set(model.item_index_.ids)
    reco = model.recommend(["a", "b"], k=10, exclude_seen=False)
    assert "new" not in set(reco[C.ITEM_ID])  # it cannot score an offer unseen in training
    forced = model.recommend(["a"], k=10, candidates=["new", "x"], exclude_seen=False)
    assert set(forced[C.ITEM_ID]) == {"new", "x"}


@pytest.mark.parametrize("cls", [PopularityRecommender, RandomRecommender, CollaborativeRecommender])
def test_same_interface(cls) -> None:
    inter, items, schema = data()
    model = cls()
    with pytest.raises(NotFittedError):
        model.recommend(["a"])
    assert model.fit(inter, None, None, items, schema) is model
    reco = model.recommend(["a", "b"], k=2)
    assert list(reco.columns) == [C.USER_ID, C.ITEM_ID, C.SCORE, C.RANK]
    assert reco.groupby(C.USER_ID)[C.RANK].apply(list).tolist() == [[1, 2], [1, 2]]
