"""Splits: each kind on tiny hand-written frames, plus leakage checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.core import columns as C
from recsys.learn.config import FeatureConfig
from recsys.learn.config import ModelConfig
from recsys.learn.model import HybridRecommender
from recsys.data.schema import ColumnKind, ColumnSpec, TableSchema
from recsys.learn.split import SplitConfig, split_interactions, validation_split


def frame() -> pd.DataFrame:
    days = [1, 2, 3, 4, 5, 1, 2, 9, 3, 10]
    return pd.DataFrame({
        C.USER_ID: ["a", "a", "a", "a", "a", "b", "b", "b", "c", "d"],
        C.ITEM_ID: ["x", "y", "z", "w", "x", "x", "y", "z", "x", "v"],
        C.EVENT: ["click", "click", "purchase", "impression", "click", "click", "click", "click", "click", "click"],
        C.TIMESTAMP: pd.to_datetime([f"2024-01-{d:02d}" for d in days]),
    })


def test_temporal_by_quantile_and_by_date() -> None:
    df = frame()
    s = split_interactions(df, SplitConfig(test_share=0.2))
    assert s.test[C.TIMESTAMP].min() > s.train[C.TIMESTAMP].max()
    assert sorted(s.test.index) == [7, 9]  # days 9 and 10
    assert s.summary["cutoff"] == "2024-01-05T00:00:00"
    by_date = split_interactions(df, SplitConfig(cutoff="2024-01-03"))
    assert set(by_date.test.index) == {3, 4, 7, 9}
    assert by_date.summary["test_items_unseen_in_train"] == 2  # w and v appear only after the cutoff
    assert by_date.summary["test_users_unseen_in_train"] == 1  # d


def test_temporal_without_timestamps_is_a_clear_error() -> None:
    df = frame().assign(**{C.TIMESTAMP: pd.NaT})
    with pytest.raises(ValueError, match="temporal split needs timestamps"):
        split_interactions(df)
    partly = frame()
    partly.loc[0, C.TIMESTAMP] = pd.NaT
    s = split_interactions(partly, SplitConfig(test_share=0.2))
    assert 0 in s.train.index and s.summary["rows_without_timestamp"] == 1


def test_leave_last_n_uses_positive_events() -> None:
    df = frame()
    positive = (df[C.EVENT] != "impression").to_numpy()
    s = split_interactions(df, SplitConfig(kind="leave_last_n", n_last=1), positive)
    # a: everything after its 2nd-last positive (day 3): the impression of day 4 and the click of
    # day 5; b: day 9 (row 7); c and d have only one positive each: wholly train
    assert sorted(s.test.index) == [3, 4, 7]
    s2 = split_interactions(df, SplitConfig(kind="leave_last_n", n_last=2), positive)
    # a: everything after its 3rd-last positive (day 2): day 3, the impression of day 4, day 5
    # b (3 positives): its last two, days 2 and 9 (rows 6, 7)
    assert sorted(s2.test.index) == [2, 3, 4, 6, 7]


def test_random_split_keeps_pairs_together_and_is_seeded() -> None:
    df = frame()
    s = split_interactions(df, SplitConfig(kind="random", test_share=0.4, seed=3))
    pairs = lambda f: set(zip(f[C.USER_ID], f[C.ITEM_ID]))  # noqa: E731
    assert not pairs(s.train) & pairs(s.test)  # the duplicated (a, x) never straddles
    again = split_interactions(df, SplitConfig(kind="random", test_share=0.4, seed=3))
    assert s.test.index.equals(again.test.index)


def test_cold_items_holds_out_whole_items() -> None:
    df = frame()
    s = split_interactions(df, SplitConfig(kind="cold_items", test_share=0.4, seed=1))
    held = set(s.test[C.ITEM_ID])
    assert held and not held & set(s.train[C.ITEM_ID])
    assert s.summary["held_out_items"] == len(held) == 2


def test_validation_split_is_carved_from_train() -> None:
    df = frame()
    s = split_interactions(df, SplitConfig(test_share=0.2, validation_share=0.25))
    v = validation_split(s.train, SplitConfig(test_share=0.2, validation_share=0.25))
    assert set(v.train.index) | set(v.test.index) == set(s.train.index)
    assert v.test[C.TIMESTAMP].min() > v.train[C.TIMESTAMP].max()
    assert v.test[C.TIMESTAMP].max() <= s.train[C.TIMESTAMP].max()


def test_config_validation_and_roundtrip() -> None:
    cfg = SplitConfig(kind="random", test_share=0.3, seed=9)
    assert SplitConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="split kind"):
        split_interactions(frame(), SplitConfig(kind="by_magic"))
    with pytest.raises(ValueError, match="test_share"):
        split_interactions(frame(), SplitConfig(test_share=1.5))
    with pytest.raises(ValueError, match="cutoff"):
        split_interactions(frame(), SplitConfig(cutoff="not a date"))
    with pytest.raises(ValueError, match="test part empty"):
        split_interactions(frame(), SplitConfig(cutoff="2030-01-01"))


def test_no_leakage_into_features_or_model() -> None:
    """Test interactions must not shape bin edges, vocabularies, categories, popularity or ids."""
    df = frame()
    items = pd.DataFrame({
        C.ITEM_ID: ["x", "y", "z", "w", "v"],
        "discount": [10.0, 20.0, 30.0, 40.0, 99.0],
        "description": ["shoes sale", "bags sale", "shoes bags", "garden", "zeppelin rides"],
        "category": ["fashion", "fashion", "fashion", "home", "airships"],
    })
    schema = TableSchema((ColumnSpec("discount", ColumnKind.NUMERIC), ColumnSpec("description", ColumnKind.TEXT),
                          ColumnSpec("category", ColumnKind.CATEGORICAL)))
    s = split_interactions(df, SplitConfig(cutoff="2024-01-05"))
    assert set(s.test[C.ITEM_ID]) == {"z", "v"} and "v" not in set(s.train[C.ITEM_ID])
    model = HybridRecommender(ModelConfig(epochs=2), FeatureConfig(n_bins=2)).fit(s.train, items=items, item_schema=schema)
    names = model.item_feature_index_.names.tolist()
    assert not any("zeppelin" in n or "airships" in n for n in names)  # only the test item has them
    assert not any("99" in n for n in names)  # the test item's discount never set a bin edge
    assert model.n_warm_items_ == 4 and "v" in model.item_index_.ids[model.n_warm_items_:]
    # v is scored from its features alone (no identity feature), and was never a training positive
    v_row = model.item_feature_matrix(["v"])
    identity = model.item_feature_index_.kinds == "identity"
    assert v_row[:, identity].nnz == 0 and v_row.nnz > 0
    assert model.seen_[:, model.item_index_.positions(["v"])[0]].nnz == 0
    assert model.reference_time_ == s.train[C.TIMESTAMP].max()
