"""HybridRecommender: equivalence with LightFM, vectorised scoring, cold start, early stopping, files."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from recsys.core import columns as C
from recsys.data import synth, synth_vocab
from recsys.learn.config import FeatureConfig, ModelConfig
from recsys.learn.interactions import build_interactions
from recsys.learn.lightfm_backend import training_data
from recsys.learn.model import HybridRecommender
from recsys.learn.modelfile import ModelFileError
from recsys.data.schema import infer_schema
from recsys.learn.split import SplitConfig, split_interactions


@pytest.fixture(scope="module")
def shop():
    s = synth.generate(n_users=300, n_items=40, seed=3)
    users_schema = infer_schema(s.users, C.USER_ID, identifiers={synth_vocab.EMAIL})
    items_schema = infer_schema(s.items, C.ITEM_ID)
    return s, users_schema, items_schema


@pytest.fixture(scope="module")
def fitted(shop):
    s, us, its = shop
    train = s.interactions[s.interactions[C.USER_ID] != "C000001"]  # one user only in the users table
    model = HybridRecommender(ModelConfig(epochs=3, no_components=8)).fit(train, s.users, us, s.items, its)
    return model, train


def test_config_roundtrip_and_validation() -> None:
    cfg = ModelConfig(loss="bpr", no_components=16, epochs=7, random_state=3)
    assert ModelConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    df = pd.DataFrame({C.USER_ID: ["a"], C.ITEM_ID: ["x"]})
    for bad, match in [({"loss": "hinge"}, "loss"), ({"no_components": 0}, "no_components"),
                       ({"learning_rate": -1.0}, "learning_rate"), ({"item_alpha": -0.1}, "item_alpha"),
                       ({"early_stopping_metric": "auc"}, "early_stopping_metric")]:
        with pytest.raises(ValueError, match=match):
            HybridRecommender(ModelConfig(**bad)).fit(df)
    with pytest.raises(ValueError, match="unknown ModelConfig fields"):
        ModelConfig.from_dict({"epochs": 2, "bogus": 1})


def test_not_fitted_errors() -> None:
    model = HybridRecommender()
    with pytest.raises(NotFittedError, match="not fitted"):
        model.recommend(["a"])
    with pytest.raises(NotFittedError, match="not fitted"):
        model.save("/tmp/never.npz")
    with pytest.raises(NotFittedError, match="not fitted"):
        _ = model.user_feature_index_


def test_no_positive_interactions_is_a_clear_error() -> None:
    df = pd.DataFrame({C.USER_ID: ["a", "b"], C.ITEM_ID: ["x", "y"], C.EVENT: ["impression", "impression"]})
    with pytest.raises(ValueError, match="no positive interactions"):
        HybridRecommender(ModelConfig(epochs=1)).fit(df)


def test_fit_loop_equals_bare_lightfm(shop) -> None:
    from lightfm import LightFM

    s, us, its = shop
    cfg = ModelConfig(epochs=3, no_components=8, random_state=5)
    model = HybridRecommender(cfg).fit(s.interactions, s.users, us, s.items, its)
    assert model.fit(s.interactions, s.users, us, s.items, its) is model  # fit returns self
    train, weights = training_data(build_interactions(s.interactions).matrix, "warp")
    bare = LightFM(no_components=8, loss="warp", learning_rate=cfg.learning_rate, random_state=5)
    bare.fit(train, user_features=model.user_features_[: model.n_warm_users_],
             item_features=model.item_features_[: model.n_warm_items_], sample_weight=weights, epochs=3)
    np.testing.assert_allclose(model.user_embeddings_, bare.user_embeddings, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.item_biases_, bare.item_biases, rtol=1e-5, atol=1e-6)
    # and our score is LightFM's predict
    uu = np.array([0, 1, 2, 3], dtype=np.int32)
    ii = np.array([0, 5, 7, 1], dtype=np.int32)
    expected = bare.predict(uu, ii, user_features=model.user_features_[: model.n_warm_users_],
                            item_features=model.item_features_[: model.n_warm_items_])
    got = model.score(model.user_index_.ids[uu], model.item_index_.ids[ii])
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_recommend_equals_brute_force(fitted) -> None:
    model, train = fitted
    users = model.user_index_.ids[:25]
    reco = model.recommend(users, k=5)
    assert list(reco.columns) == [C.USER_ID, C.ITEM_ID, C.SCORE, C.RANK]
    seen = set(zip(*[a.tolist() for a in np.nonzero(model.seen_)]))
    for u in users:
        items = model.item_index_.ids
        scores = model.score([u] * len(items), items)
        upos = model.user_index_.positions([u])[0]
        order = [j for j in np.argsort(-scores, kind="stable") if (upos, j) not in seen][:5]
        got = reco[reco[C.USER_ID] == u]
        assert got[C.ITEM_ID].tolist() == items[order].tolist()
        np.testing.assert_allclose(got[C.SCORE].to_numpy(), scores[order], rtol=1e-5)
        assert got[C.RANK].tolist() == [1, 2, 3, 4, 5]


def test_exclude_seen_candidates_and_unknown(fitted) -> None:
    model, train = fitted
    u = train[C.USER_ID].iloc[0]
    seen_items = set(train.loc[(train[C.USER_ID] == u) & (train[C.EVENT] != C.IMPRESSION), C.ITEM_ID])
    all_items = model.recommend([u], k=len(model.item_index_), exclude_seen=False)
    assert seen_items <= set(all_items[C.ITEM_ID])
    unseen = model.recommend([u], k=len(model.item_index_))
    assert not seen_items & set(unseen[C.ITEM_ID])
    cands = model.item_index_.ids[:4]
    only = model.recommend([u], k=10, candidates=cands, exclude_seen=False)
    assert set(only[C.ITEM_ID]) == set(cands)
    with pytest.raises(ValueError, match="unknown to the model"):
        model.recommend(["nobody"], k=3)
    cold = model.recommend(["nobody"], k=3, unknown="cold")
    assert len(cold) == 3 and (cold[C.USER_ID] == "nobody").all()
    with pytest.raises(ValueError, match="k must be a positive integer"):
        model.recommend([u], k=0)
    with pytest.raises(ValueError, match="candidates contain item ids unknown"):
        model.recommend([u], candidates=["no-such-offer"])


def test_cold_users_and_items_are_scored_from_features(fitted, shop) -> None:
    model, train = fitted
    s, _, _ = shop
    # C000001 has no training interactions but a users-table row: a cold user with features only
    pos = model.user_index_.positions(["C000001"])[0]
    assert pos >= model.n_warm_users_
    row = model.user_features_[pos]
    assert row.nnz > 0 and (model.user_feature_index_.kinds[row.indices] != "identity").all()
    # a brand-new customer passed at scoring time gets the same score as that stored cold user
    new = s.users[s.users[C.USER_ID] == "C000001"].assign(**{C.USER_ID: "brand-new"})
    items = model.item_index_.ids[:6]
    a = model.score(["C000001"] * 6, items)
    b = model.score(["brand-new"] * 6, items, new_users=new)
    np.testing.assert_allclose(a, b, rtol=1e-5)
    # a new offer joins the candidates and is scored from its features
    new_item = s.items.iloc[[0]].assign(**{C.ITEM_ID: "NEW-OFFER"})
    reco = model.recommend(["C000001"], k=len(model.item_index_) + 1, new_items=new_item)
    assert "NEW-OFFER" in set(reco[C.ITEM_ID])
    x = model.item_feature_matrix(["NEW-OFFER"], new_items=new_item)
    assert (model.item_feature_index_.kinds[x.indices] != "identity").all()
    q = np.asarray(x @ model.item_embeddings_).ravel()
    expected = float(model.user_vectors_[pos] @ q + (x @ model.item_biases_)[0] + model.user_bias_rep_[pos])
    got = reco.loc[reco[C.ITEM_ID] == "NEW-OFFER", C.SCORE].iloc[0]
    assert got == pytest.approx(expected, rel=1e-4, abs=1e-4)


def test_feature_index_and_parameters_exposed(fitted) -> None:
    model, _ = fitted
    fi = model.item_feature_index_
    assert len(fi) == model.item_features_.shape[1] == model.item_embeddings_.shape[0]
    assert "this offer's own track record" in set(fi.sources)
    assert any(n.startswith("category = ") for n in fi.names)
    assert model.user_embeddings_.shape == (model.user_features_.shape[1], 8)
    b, v = model.user_representations(model.user_index_.ids[:3])
    assert v.shape == (3, 8) and b.shape == (3,)


def test_early_stopping_with_callback_keeps_best_epoch(shop) -> None:
    s, us, its = shop
    split = split_interactions(s.interactions, SplitConfig(test_share=0.2))
    records = []
    cfg = ModelConfig(epochs=12, no_components=8, early_stopping_patience=2, learning_rate=0.2)
    model = HybridRecommender(cfg).fit(split.train, s.users, us, s.items, its, validation=split.test, on_epoch=records.append)
    assert [r["epoch"] for r in records] == list(range(1, len(records) + 1))
    assert {"epoch", "seconds", "precision@10", "ndcg@10"} <= set(records[0])
    best = max(records, key=lambda r: r["ndcg@10"])
    assert model.best_epoch_ == best["epoch"]
    if len(records) < 12:  # stopped after `patience` epochs without gain (scaled up on a small validation slice)
        assert len(records) >= cfg.min_epochs
        assert len(records) - model.best_epoch_ == model.patience_ or len(records) == cfg.min_epochs
    from recsys.learn.model import ValidationMonitor

    again = ValidationMonitor(model, split.test, cfg, None).evaluate(model.lightfm_)
    assert again["ndcg@10"] == pytest.approx(best["ndcg@10"], abs=1e-6)  # best parameters restored


def test_save_load_roundtrip(fitted, tmp_path: Path) -> None:
    model, _ = fitted
    path = model.save(tmp_path / "model")
    assert path.suffix == ".npz" and path.with_suffix(".json").is_file()
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["format_version"] == 1 and len(meta["sha256"]) == 64
    loaded = HybridRecommender.load(path)
    users = model.user_index_.ids[:20]
    pd.testing.assert_frame_equal(model.recommend(users, k=5), loaded.recommend(users, k=5))
    assert loaded.item_feature_index_.names.tolist() == model.item_feature_index_.names.tolist()
    assert loaded.config_ == model.config_
    new = pd.DataFrame({C.USER_ID: ["zz"], "segment": ["premium"], "region": ["north"]})
    loaded.recommend(["zz"], k=2, new_users=new)  # cold scoring still works after load


def test_load_refuses_tampered_pickled_and_foreign_files(fitted, tmp_path: Path) -> None:
    model, _ = fitted
    path = model.save(tmp_path / "m.npz")
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["item_biases"] = arrays["item_biases"] + 1.0
    tampered = tmp_path / "t.npz"
    np.savez(tampered, **arrays)
    tampered.with_suffix(".json").write_text(path.with_suffix(".json").read_text())
    with pytest.raises(ModelFileError, match="checksum"):
        HybridRecommender.load(tampered)

    pickled = tmp_path / "p.npz"
    pickled.write_bytes(pickle.dumps({"evil": True}))
    pickled.with_suffix(".json").write_text(path.with_suffix(".json").read_text())
    with pytest.raises(ModelFileError, match="pickle"):
        HybridRecommender.load(pickled)

    objects = tmp_path / "o.npz"
    np.savez(objects, **{**arrays, "user_ids": np.array([{"a": 1}], dtype=object)})
    objects.with_suffix(".json").write_text(path.with_suffix(".json").read_text())
    with pytest.raises(ModelFileError, match="pickled objects"):
        HybridRecommender.load(objects)

    meta = json.loads(path.with_suffix(".json").read_text())
    meta["format_version"] = 99
    path.with_suffix(".json").write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match="format version 99"):
        HybridRecommender.load(path)
    with pytest.raises(ModelFileError, match="does not exist"):
        HybridRecommender.load(tmp_path / "missing.npz")
