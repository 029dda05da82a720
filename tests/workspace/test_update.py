"""Keeping a model fresh: growing LightFM's spaces, updating with fit_partial, freshness advice."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys.core import columns as C
from tests import freshdata
from recsys.data import synth, synth_vocab
from recsys.learn.config import ModelConfig
from recsys.learn.model import HybridRecommender
from recsys.learn.modelfile import arrays_checksum, npz_path
from recsys.learn.pipeline import TrainConfig
from recsys.data.schema import infer_schema
from recsys.learn.update import (
    FINE,
    RETRAIN,
    UPDATE,
    Freshness,
    UpdateConfig,
    advise,
    backtest,
    freshness,
    precision_on,
    replay_sample,
    update_model,
)

SEED = freshdata.SEED


@pytest.fixture(scope="module")
def shop():
    s, old, new = freshdata.shop()
    us = infer_schema(s.users, C.USER_ID, identifiers={synth_vocab.EMAIL})
    its = infer_schema(s.items, C.ITEM_ID)
    return s, us, its, old, new


@pytest.fixture(scope="module")
def base(shop):
    """A model trained on the old events, knowing only the customers and offers seen in them."""
    s, us, its, old, new = shop
    users = s.users[s.users[C.USER_ID].isin(old[C.USER_ID])]
    items = s.items[s.items[C.ITEM_ID].isin(old[C.ITEM_ID])]
    model = HybridRecommender(ModelConfig(epochs=4, no_components=8, random_state=SEED)).fit(old, users, us, items, its)
    return model, users, items


def _all_scores(model: HybridRecommender, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    return model.score(np.repeat(users, len(items)), np.tile(items, len(users)))


def _new_customer(s: synth.SyntheticShop, known: np.ndarray, segment: str | None = None) -> pd.DataFrame:
    row = s.users[~s.users[C.USER_ID].isin(known)].head(1).copy()
    row[C.USER_ID] = "BRAND_NEW"
    if segment is not None:
        row["segment"] = segment
    return row


def test_growing_keeps_every_old_score_and_optimiser_state(shop, base) -> None:
    s, _, _, _, new = shop
    model, users, items = base
    brand_new = _new_customer(s, model.user_index_.ids, segment="never_seen_segment")
    grown = model.grown(new, pd.concat([s.users, brand_new]), s.items, seed=1)
    u, i = model.user_index_.ids, model.item_index_.ids
    assert np.array_equal(_all_scores(grown, u, i), _all_scores(model, u, i))
    # new customers and offers (of the new events) became warm, with identity features
    new_users = set(new[C.USER_ID]) - set(model.user_index_.ids[: model.n_warm_users_])
    new_items = set(new[C.ITEM_ID]) - set(model.item_index_.ids[: model.n_warm_items_])
    assert new_users and new_items, "the fixture should bring new customers and offers"
    assert grown.n_warm_users_ == model.n_warm_users_ + len(new_users)
    assert grown.n_warm_items_ == model.n_warm_items_ + len(new_items)
    assert set(grown.user_index_.ids[: grown.n_warm_users_]) == set(model.user_index_.ids[: model.n_warm_users_]) | new_users
    # the unseen segment value is a new feature, initialised as LightFM would
    names = list(grown.user_feature_index_.names)
    assert "segment = never_seen_segment" in names and "segment = never_seen_segment" not in list(model.user_feature_index_.names)
    row = names.index("segment = never_seen_segment")
    assert grown.user_biases_[row] == 0
    assert np.abs(grown.user_embeddings_[row]).max() <= 0.5 / model.config_.no_components
    # known features keep their parameters and adagrad state
    old_names = list(model.user_feature_index_.names)
    pos = [names.index(n) for n in old_names]
    assert np.array_equal(grown.user_embeddings_[pos], model.user_embeddings_)
    assert np.array_equal(grown.lightfm_.user_embedding_gradients[pos], model.lightfm_.user_embedding_gradients)
    assert (grown.lightfm_.user_embedding_gradients[row] == 1).all()
    # the old model is untouched
    assert "segment = never_seen_segment" not in list(model.user_feature_index_.names)
    assert model.n_warm_users_ < grown.n_warm_users_


def test_new_ids_are_scored_from_their_facts_at_once(shop, base) -> None:
    s, _, _, _, new = shop
    model, users, items = base
    brand_new = _new_customer(s, model.user_index_.ids)
    grown = model.grown(new.iloc[:0], pd.concat([users, brand_new]), items)
    assert "BRAND_NEW" in set(grown.user_index_.ids)
    via_growth = grown.recommend(["BRAND_NEW"], k=5)
    via_facts = model.recommend(["BRAND_NEW"], k=5, new_users=brand_new)
    assert via_growth[C.ITEM_ID].tolist() == via_facts[C.ITEM_ID].tolist()
    assert np.allclose(via_growth[C.SCORE], via_facts[C.SCORE], atol=1e-5)
    # a customer with no facts at all would rank by offer bias only: facts change the list
    cold = model.recommend(["NOBODY"], k=5, unknown="cold")
    assert not np.allclose(cold[C.SCORE].to_numpy(), via_growth[C.SCORE].to_numpy())


def test_update_trains_on_new_events_and_replay(shop, base) -> None:
    s, _, _, old, new = shop
    model, _, _ = base
    cfg = UpdateConfig(epochs=2, replay_ratio=0.5, seed=SEED)
    updated = update_model(model, new, old, s.users, s.items, config=cfg)
    note = updated.updates_[-1]
    n_pos = int((pd.Series(new[C.EVENT]).map({"view": 0}).fillna(1) > 0).sum())
    assert note["new_rows"] == len(new) and note["replay_rows"] == round(0.5 * note["new_positive_rows"])
    assert note["new_positive_rows"] <= n_pos and len(note["epochs"]) == 2
    assert note["new_warm_users"] > 0 and note["new_warm_items"] > 0
    u, i = model.user_index_.ids[:50], model.item_index_.ids
    assert not np.allclose(_all_scores(updated, u, i), _all_scores(model, u, i))  # it did train
    # same inputs and seed -> same model
    again = update_model(model, new, old, s.users, s.items, config=cfg)
    assert np.array_equal(again.user_embeddings_, updated.user_embeddings_)
    # the seen items now include the new events' positives
    pos = updated.user_index_.positions(new[C.USER_ID]), updated.item_index_.positions(new[C.ITEM_ID])
    redeemed = (new[C.EVENT] == "redeem").to_numpy()
    assert (np.asarray(updated.seen_[pos[0][redeemed], pos[1][redeemed]]).ravel() == 1).all()


def test_replay_sample_is_seeded_positive_and_sized(shop, base) -> None:
    _, _, _, old, _ = shop
    model, _, _ = base
    a = replay_sample(old, 100, model, UpdateConfig(replay_ratio=2.0, seed=1))
    b = replay_sample(old, 100, model, UpdateConfig(replay_ratio=2.0, seed=1))
    assert len(a) == 200 and a.index.equals(b.index)
    assert not a[C.EVENT].isin(["view", "impression"]).any()
    assert replay_sample(old, 100, model, UpdateConfig(replay_ratio=0)).empty


def test_fit_update_refuses_ids_the_model_has_not_grown_to(shop, base) -> None:
    _, _, _, _, new = shop
    model, _, _ = base
    with pytest.raises(ValueError, match="has not grown to"):
        model.grown(new.iloc[:0]).fit_update(new, epochs=1)
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        model.grown(new).fit_update(new, epochs=0)


def test_updated_model_round_trips_with_its_optimiser_state(shop, base, tmp_path: Path) -> None:
    s, _, _, old, new = shop
    model, _, _ = base
    updated = update_model(model, new, old, s.users, s.items, config=UpdateConfig(epochs=1))
    loaded = HybridRecommender.load(updated.save(tmp_path / "m"))
    u, i = updated.user_index_.ids[:40], updated.item_index_.ids
    assert np.array_equal(_all_scores(loaded, u, i), _all_scores(updated, u, i))
    assert np.array_equal(loaded.lightfm_.item_bias_gradients, updated.lightfm_.item_bias_gradients)
    assert loaded.updates_ == json.loads(json.dumps(updated.updates_))
    # updating the loaded model continues exactly like updating the one in memory
    more = new.sample(200, random_state=0)
    a = updated.grown(more).fit_update(more, epochs=1)
    b = loaded.grown(more).fit_update(more, epochs=1)
    assert np.allclose(a.item_embeddings_, b.item_embeddings_, atol=1e-6)


def test_model_files_without_optimiser_state_still_load(base, tmp_path: Path) -> None:
    model, _, _ = base
    npz = model.save(tmp_path / "old")
    with np.load(npz, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if not k.startswith("optimiser_")}
    assert len(arrays) < len(np.load(npz).files)
    np.savez(npz, **arrays)
    meta = json.loads(npz.with_suffix(".json").read_text())
    meta.update(arrays=sorted(arrays), sha256=arrays_checksum(arrays))
    meta.pop("updates")
    npz.with_suffix(".json").write_text(json.dumps(meta))
    loaded = HybridRecommender.load(npz_path(npz))
    assert (loaded.lightfm_.user_embedding_gradients == 1).all() and loaded.updates_ == []
    u, i = model.user_index_.ids[:20], model.item_index_.ids
    assert np.allclose(_all_scores(loaded, u, i), _all_scores(model, u, i))


def _freshness(**kw) -> Freshness:
    base = dict(k=10, new_events=1000, new_positive_events=300, eval_users=200, precision_new=0.08,
                popularity_precision_new=0.04, precision_at_training=0.08, popularity_precision_at_training=0.04,
                unseen_user_share=0.0, unseen_item_share=0.0, new_users=0, new_items=0, growth=0.05,
                recommendation=FINE)
    base.update(kw)
    return Freshness(**base)


@pytest.mark.parametrize(
    ("changes", "expected", "words"),
    [
        ({}, FINE, "still beats"),
        ({"new_events": 0}, FINE, "No new events"),
        ({"precision_new": 0.06}, UPDATE, "1.50x, against 2.00x"),  # lift share 0.75
        ({"precision_new": 0.04}, RETRAIN, "lost most of its edge"),  # lift share 0.5
        ({"unseen_item_share": 0.3, "new_items": 12}, UPDATE, "12 new offers"),
        ({"growth": 0.8}, RETRAIN, "grown by 80%"),
        ({"eval_users": 5, "precision_new": 0.0}, FINE, "too few"),
    ],
)
def test_freshness_advice(changes, expected, words) -> None:
    f = _freshness(**changes)
    rec, reasons = advise(f)
    assert rec == expected
    assert words in " ".join(reasons)


def test_freshness_of_a_stale_model_on_real_new_events(shop, base) -> None:
    s, _, _, old, new = shop
    model, _, _ = base
    f = freshness(model, new, old, s.users, s.items, k=10, precision_at_training=0.1,
                  popularity_precision_at_training=0.05, trained_rows=len(old))
    assert f.new_events == len(new) and f.eval_users > 0
    assert 0 < f.unseen_item_share < 1 and f.new_items > 0  # offers launched after training
    assert f.precision_new == precision_on(model, new, 10, s.users, s.items)[0]
    assert f.recommendation in (UPDATE, RETRAIN) and f.reasons
    assert f.to_dict()["lift_share"] == pytest.approx(f.lift_share, abs=1e-6)
    nothing = freshness(model, new.iloc[:0], old, s.users, s.items)
    assert nothing.recommendation == FINE and nothing.precision_new is None


#: Updating batch by batch must stay within this of retraining from scratch (mean precision@10
#: over the batches, absolute). The bench (bench/bench_update.py) prints the full curves.
TOLERANCE = 0.01


def test_updating_batch_by_batch_keeps_up_with_retraining(shop) -> None:
    s, us, its, _, _ = shop
    ts = pd.to_datetime(s.interactions[C.TIMESTAMP])
    cfg = TrainConfig(model=ModelConfig(no_components=8), seed=SEED)
    curves = backtest(s.interactions, s.users, us, s.items, its, cfg, ts.max().normalize() - pd.Timedelta(days=12),
                      steps=3, batch="3D", epochs=8, update_config=UpdateConfig(epochs=3, seed=SEED))
    assert len(curves) == 3 and (curves["judged_users"] > 0).all()
    assert curves["precision_update"].mean() >= curves["precision_scratch"].mean() - TOLERANCE
    assert curves["precision_update"].mean() > curves["precision_popularity"].mean()


# ------------------------------------------------------------------------------------------------
# Workspace and CLI: append, freshness, update
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workspace_with_run(tmp_path_factory):
    """A workspace: the old events imported and trained on (run r1); the new ones ready to append."""
    return freshdata.workspace_with_run(tmp_path_factory.mktemp("fresh"))


def test_a_run_keeps_what_rebuilds_its_evaluation(workspace_with_run) -> None:
    from recsys.learn.interactions import relevant_pairs
    from recsys.learn.protocol import drop_seen, drop_seen_pairs
    from recsys.metrics.ranking import Precision
    from recsys.workspace import runs

    ws, dataset_id, run_id, files = workspace_with_run
    run = runs.get_run(ws, run_id)
    evaluation = runs.load_evaluation(ws, run_id)
    assert evaluation.exact and evaluation.model is not None
    # offers with dates: the candidates are the offers live in the test period, rebuilt exactly
    assert run.split["candidate_kind"] == "offers live in the test period"
    assert len(evaluation.candidates) == run.split["candidates"]
    assert len(evaluation.train) + len(evaluation.test) == len(runs.load_run_dataset(ws, run_id).interactions)
    key = [C.USER_ID, C.ITEM_ID]
    stored = evaluation.test_pairs.sort_values(key).reset_index(drop=True)
    fresh = relevant_pairs(evaluation.test, evaluation.model.interactions_config_, evaluation.reference_time)
    for rebuilt in (drop_seen(fresh, evaluation.model), drop_seen_pairs(fresh, evaluation.train_pairs)):
        pd.testing.assert_frame_equal(rebuilt.sort_values(key).reset_index(drop=True), stored, check_dtype=False)
    assert len(stored) == run.split["test_pairs"]
    users = stored[C.USER_ID].unique()
    reco = evaluation.model.recommend(users, k=run.k, unknown="cold", candidates=evaluation.candidates)
    assert Precision(run.k).calc(reco, stored) == pytest.approx(run.metric("hybrid", f"precision@{run.k}"), abs=1e-6)


def test_freshness_and_update_of_a_run_after_an_append(workspace_with_run) -> None:
    from recsys.workspace import ingest, runs
    from recsys.workspace.update import freshness_report, update_run

    ws, dataset_id, run_id, files = workspace_with_run
    assert freshness_report(ws, run_id).recommendation == FINE  # nothing appended yet
    with pytest.raises(ValueError, match="Nothing new for run"):
        update_run(ws, run_id)
    ingest.append_files(ws, dataset_id, files / "new_interactions.csv", files / "new_users.csv", files / "new_items.csv")
    report = freshness_report(ws, run_id)
    assert report.new_events > 0 and report.new_items > 0 and report.eval_users > 0
    assert report.precision_at_training == pytest.approx(ws.run(run_id)["metrics"]["hybrid"]["precision@10"])
    new_run = update_run(ws, run_id, config=UpdateConfig(epochs=2, seed=SEED))
    record = ws.run(new_run)
    assert record["extra"]["parent_run"] == run_id and record["extra"]["dataset_version"] == 1
    assert record["extra"]["update"]["new_rows"] == report.new_events
    assert record["extra"]["freshness_before_update"]["precision_new"] == pytest.approx(report.precision_new)
    assert runs.run_data(ws, record).describe() == "trained on the latest data"
    assert runs.run_data(ws, ws.run(run_id)).describe() == "trained before the last append"
    model = runs.load_model(ws, new_run)
    late_items = set(ws.load_appended(dataset_id, 0).items[C.ITEM_ID])
    assert late_items <= set(model.item_index_.ids)
    assert freshness_report(ws, new_run).new_events == 0


def test_cli_update_and_freshness(workspace_with_run, capsys) -> None:
    from recsys import cli

    ws, dataset_id, run_id, files = workspace_with_run
    if ws.dataset(dataset_id).version == 0:
        assert cli.main(["append", "--workspace", str(ws.path), "--dataset", dataset_id,
                         "--interactions", str(files / "new_interactions.csv")]) == 0
    capsys.readouterr()
    assert cli.main(["freshness", "--workspace", str(ws.path), "--run", run_id, "--json"]) == 0
    fresh = json.loads(capsys.readouterr().out)
    assert fresh["recommendation"] in (FINE, UPDATE, RETRAIN) and fresh["summary"]
    assert cli.main(["update", "--workspace", str(ws.path), "--run", run_id, "--epochs", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["parent_run"] == run_id and out["update"]["epochs"] == 1
    assert cli.main(["update", "--workspace", str(ws.path), "--run", out["run_id"]]) == 2
    assert "Nothing new" in capsys.readouterr().err
    assert cli.main(["update", "--workspace", str(ws.path), "--run", run_id, "--epochs", "0"]) == 2
