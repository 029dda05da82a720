"""End-to-end: the hybrid model beats the baselines on the synthetic shop, honestly evaluated."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from recsys.core import columns as C
from recsys.data import synth, synth_vocab
from recsys.learn.config import FeatureConfig, InteractionConfig
from recsys.learn.config import ModelConfig
from recsys.learn.model import HybridRecommender
from recsys.learn.pipeline import MODEL_NAMES, TrainConfig, fit_final, train_and_evaluate
from recsys.data.schema import infer_schema
from recsys.learn.split import SplitConfig

N_USERS = 2000
MODEL = ModelConfig(epochs=20, early_stopping_patience=3)


@pytest.fixture(scope="module")
def shop():
    s = synth.generate(n_users=N_USERS, seed=7)
    return s, infer_schema(s.users, C.USER_ID, identifiers={synth_vocab.EMAIL}), infer_schema(s.items, C.ITEM_ID)


@pytest.fixture(scope="module")
def temporal(shop):
    s, us, its = shop
    progress, epochs = [], []
    result = train_and_evaluate(
        s.interactions, s.users, us, s.items, its, TrainConfig(model=MODEL, seed=42),
        progress=lambda msg, frac: progress.append((msg, frac)), on_epoch=epochs.append,
    )
    return result, progress, epochs


@pytest.fixture(scope="module")
def cold(shop):
    s, us, its = shop
    cfg = TrainConfig(split=SplitConfig(kind="cold_items", test_share=0.2), model=MODEL, seed=42)
    return train_and_evaluate(s.interactions, s.users, us, s.items, its, cfg)


def test_hybrid_beats_popularity_and_random_on_temporal_split(temporal) -> None:
    result, _, _ = temporal
    m = result.metrics
    for metric in ("precision@10", "ndcg@10"):
        assert m.loc["hybrid", metric] > m.loc["popularity", metric], metric
        assert m.loc["hybrid", metric] > m.loc["random", metric], metric


def test_hybrid_beats_collaborative_on_cold_start_items(cold) -> None:
    m = cold.metrics
    for metric in ("precision@10", "ndcg@10"):
        assert m.loc["hybrid", metric] > m.loc["collaborative", metric], metric
    assert cold.split_summary["candidate_kind"] == "held-out items"
    assert cold.split_summary["test_items_unseen_in_train"] == cold.split_summary["test_items"]


def test_result_shape_and_json(shop, temporal) -> None:
    result, progress, epochs = temporal
    assert list(result.metrics.index) == list(MODEL_NAMES)
    assert {"precision@10", "recall@10", "ndcg@10", "map@10", "hit_rate@10", "auc", "coverage@10",
            "novelty@10", "diversity@10", "personalization@10", "arp@10"} == set(result.metrics.columns)
    assert np.isfinite(result.metrics.to_numpy()).all()
    assert ((result.metrics.drop(columns=["novelty@10", "arp@10"]) >= 0) & (result.metrics.drop(columns=["novelty@10", "arp@10"]) <= 1)).all().all()
    per = result.per_user["hybrid"]
    assert per.index.name == C.USER_ID and len(per) == result.split_summary["eval_users"]
    assert per["precision@10"].mean() == pytest.approx(result.metrics.loc["hybrid", "precision@10"])
    # per-user frames can be cut by segment
    seg = per.join(pd.DataFrame(shop_users_segment(shop[0])).set_index(C.USER_ID))
    assert seg.groupby("segment")["ndcg@10"].mean().notna().all()
    assert set(result.epochs["model"]) == {"hybrid", "collaborative"}
    assert {"early_stopping", "refit"} <= set(result.epochs["phase"])
    assert len(epochs) == len(result.epochs) and epochs[0]["model"] == "hybrid"
    assert progress[0][1] == 0.0 and progress[-1] == ("Done", 1.0)
    assert all(b >= a for (_, a), (_, b) in zip(progress, progress[1:]))
    assert {"split", "fit_hybrid", "evaluate", "total"} <= set(result.timings)
    s = result.split_summary
    assert s["kind"] == "temporal" and s["train_rows"] + s["test_rows"] > 0 and s["eval_users"] >= 2
    json.dumps(result.to_dict())  # JSON-friendly
    assert result.best_epochs["hybrid"] >= 1


def shop_users_segment(s: synth.SyntheticShop) -> dict:
    return {C.USER_ID: s.users[C.USER_ID], "segment": s.users[synth_vocab.SEGMENT]}


def test_train_config_roundtrip() -> None:
    cfg = TrainConfig(
        split=SplitConfig(kind="leave_last_n", n_last=2), interactions=InteractionConfig(half_life_days=30.0),
        features=FeatureConfig(include_sensitive=True), model=ModelConfig(loss="bpr"), k=5, seed=3,
        baselines=("popularity",), max_eval_users=100,
    )
    again = TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg
    with pytest.raises(ValueError, match="baselines"):
        TrainConfig(baselines=("oracle",)).validate()
    with pytest.raises(ValueError, match="unknown TrainConfig fields"):
        TrainConfig.from_dict({"kk": 1})


def test_other_splits_and_options_run(shop) -> None:
    s, us, its = shop
    small = s.interactions[s.interactions[C.USER_ID].isin(s.users[C.USER_ID].iloc[:400])]
    cfg = TrainConfig(split=SplitConfig(kind="leave_last_n"), model=ModelConfig(epochs=2), k=5,
                      baselines=("popularity",), early_stopping=False, max_eval_users=50)
    r = train_and_evaluate(small, s.users, us, s.items, its, cfg)
    assert list(r.metrics.index) == ["hybrid", "popularity"] and r.split_summary["eval_users"] == 50
    r2 = train_and_evaluate(small, None, None, None, None, TrainConfig(split=SplitConfig(kind="random"), model=ModelConfig(epochs=2), baselines=()))
    assert "diversity@10" not in r2.metrics.columns  # no item features, no diversity
    assert np.isfinite(r2.metrics.to_numpy()).all()


def test_fit_final_uses_all_data(shop, temporal) -> None:
    s, us, its = shop
    result, _, _ = temporal
    small = s.interactions.iloc[: len(s.interactions) // 4]
    model = fit_final(small, s.users, us, s.items, its, TrainConfig(model=MODEL), epochs=result.best_epochs["hybrid"])
    assert isinstance(model, HybridRecommender)
    assert len(model.epochs_) == result.best_epochs["hybrid"]
    assert model.n_warm_users_ == small[C.USER_ID].nunique()
    assert model.reference_time_ == small[C.TIMESTAMP].max()


def test_auc_is_computed_on_a_seeded_user_sample_when_there_are_many(shop, monkeypatch) -> None:
    import recsys.learn.pipeline as pipeline

    s, us, its = shop
    monkeypatch.setattr(pipeline, "AUC_MAX_USERS", 50)
    config = TrainConfig(model=ModelConfig(epochs=2, no_components=8, early_stopping_patience=0), seed=3,
                         early_stopping=False, baselines=("popularity",))
    first = train_and_evaluate(s.interactions, s.users, us, s.items, its, config)
    again = train_and_evaluate(s.interactions, s.users, us, s.items, its, config)
    assert first.split_summary["auc_users"] == 50 < first.split_summary["eval_users"]
    per_user = first.per_user["hybrid"]
    assert per_user["auc"].notna().sum() == 50 and per_user["precision@10"].notna().all()
    assert 0.5 < first.metrics.loc["hybrid", "auc"] <= 1.0
    assert first.metrics.loc["hybrid", "auc"] == again.metrics.loc["hybrid", "auc"]  # same seed, same sample
