"""Batch runs: the local engine against the dashboard's probabilities, and Spark ``local[2]`` against local.

The Spark tests share one module-scoped SparkSession and skip with the reason when pyspark or a
Java runtime is missing (``make test`` installs both where it can).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys.campaign import batch as B
from recsys.core import columns as C
from recsys.learn.scoring import top_k_rows
from recsys.workspace.batch import BatchRequest, run_batch
from recsys.workspace.store import Workspace

AUDIENCE = B.BatchAudienceSpec(top_n=60, max_per_customer=2, total_coupons=150, min_probability=0.0,
                               holdout_share=0.2, seed=7)


def _request(out: Path, engine: str, run_id: str, **kw) -> BatchRequest:
    return BatchRequest(run_id=run_id, out=str(out), k=3, engine=engine, spark_master="local[2]", buckets=3,
                        audience=AUDIENCE, **kw)


@pytest.fixture(scope="module")
def local_run(sample_workspace_template, tmp_path_factory):
    out = tmp_path_factory.mktemp("batch") / "local"
    ws = Workspace(sample_workspace_template.path)
    return ws, run_batch(ws, _request(out, "local", sample_workspace_template.run_id))


def test_top_k_rows_breaks_ties_by_column_whatever_the_block():
    rng = np.random.default_rng(0)
    values = rng.integers(0, 4, size=(50, 12)).astype(float)  # many ties
    cols, vals = top_k_rows(values, 5)
    ref = np.argsort(-values, axis=1, kind="stable")[:, :5]
    np.testing.assert_array_equal(cols, ref)
    np.testing.assert_array_equal(vals, np.take_along_axis(values, ref, axis=1))
    top_a = top_k_rows(values[:17], 5)[0]
    np.testing.assert_array_equal(top_a, cols[:17])


def test_local_batch_gives_the_dashboards_probabilities(local_run):
    from recsys.workspace import runs
    from recsys.workspace.campaign import probability_scores
    from recsys.workspace.recommend import response_scorer

    ws, result = local_run
    manifest = result.manifest
    run_id = manifest["run_id"]
    dataset = ws.load_dataset(ws.run(run_id)["dataset_id"])
    model = runs.load_model(ws, run_id)
    rm, ctx, _ = response_scorer(ws, run_id, dataset, model, pd.Timestamp(manifest["campaign_day"]))
    live = manifest["live_offers"]
    ids = np.asarray(ctx.user_ids, dtype=object)
    scores = probability_scores(rm, ctx, ids, live)  # the dashboard's one-machine path
    topk = B.read_topk(str(result.out))
    assert topk[C.USER_ID].nunique() == len(ids) == manifest["customers"]
    assert (topk.groupby(C.USER_ID).size() == min(3, len(live))).all()
    best = (scores.assign(**{C.USER_ID: scores[C.USER_ID].astype(str), C.ITEM_ID: scores[C.ITEM_ID].astype(str)})
            .sort_values([C.USER_ID, C.SCORE, C.ITEM_ID], ascending=[True, False, True], kind="stable")
            .groupby(C.USER_ID, sort=False).head(3).reset_index(drop=True))
    np.testing.assert_array_equal(topk[C.USER_ID].to_numpy(), best[C.USER_ID].to_numpy())
    np.testing.assert_allclose(topk[B.PROBABILITY].to_numpy(), best[C.SCORE].to_numpy(), atol=1e-9)
    same_offer = topk[C.ITEM_ID].to_numpy() == best[C.ITEM_ID].to_numpy()
    assert same_offer.mean() > 0.999  # offers agree except where two probabilities tie to 1e-9


def test_local_audience_respects_caps_budget_and_bound(local_run):
    _, result = local_run
    audience, alloc = result.audience, result.manifest["allocation"]
    assert len(audience) == AUDIENCE.total_coupons
    assert audience.groupby(C.USER_ID).size().max() <= AUDIENCE.max_per_customer
    assert audience.groupby(C.ITEM_ID).size().max() <= AUDIENCE.top_n
    assert alloc["weight"] <= alloc["upper_bound"] + 1e-9 and 0.5 < alloc["optimality"] <= 1.0
    share = (audience.drop_duplicates(C.USER_ID)[C.GROUP] == C.CONTROL).mean()
    assert 0.05 < share < 0.4
    assert Path(result.out, "audience", "targets.csv").exists() and Path(result.out, "batch.json").exists()


def test_batch_refuses_a_customers_file_with_unknown_ids(sample_workspace_template, tmp_path):
    path = tmp_path / "customers.parquet"
    pd.DataFrame({C.USER_ID: ["NOBODY-1", "NOBODY-2"]}).to_parquet(path)
    ws = Workspace(sample_workspace_template.path)
    with pytest.raises(B.BatchError, match="NOBODY-1.*Fix"):
        run_batch(ws, _request(tmp_path / "out", "local", sample_workspace_template.run_id, customers=str(path)))
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------------ Spark
@pytest.fixture(scope="module")
def spark():
    from recsys.campaign import spark_batch

    why = spark_batch.spark_available()
    if why:
        pytest.skip(f"Spark tests skipped: {why}")
    session = spark_batch.spark_session("local[2]", shuffle_partitions=3)
    yield session
    session.stop()


def test_spark_engine_gives_byte_identical_files(local_run, spark, tmp_path):
    ws, local = local_run
    run_id = local.manifest["run_id"]
    remote = run_batch(ws, _request(tmp_path / "spark", "spark", run_id), spark=spark)
    for entry_local, entry_spark in zip(local.manifest["topk"], remote.manifest["topk"], strict=True):
        assert entry_local["file"] == entry_spark["file"] and entry_local["sha256"] == entry_spark["sha256"]
    for name in ("targets.csv", "targets.parquet"):
        assert Path(local.out, "audience", name).read_bytes() == Path(remote.out, "audience", name).read_bytes()
    a, b = B.read_topk(str(local.out)), B.read_topk(str(remote.out))
    pd.testing.assert_frame_equal(a, b)
    controls = local.audience[local.audience[C.GROUP] == C.CONTROL][C.USER_ID]
    assert len(controls) and set(controls) == set(remote.audience[remote.audience[C.GROUP] == C.CONTROL][C.USER_ID])
    assert remote.manifest["allocation"]["upper_bound"] == pytest.approx(local.manifest["allocation"]["upper_bound"], rel=1e-9)


def test_spark_reduced_audience_matches_one_machine_greedy(spark, tmp_path):
    """Tight per-offer limits, a low cap, a total and many exact ties: the cluster's reduced pool
    gives the greedy of the whole pool, and the same bound."""
    from recsys.campaign import spark_batch

    rng = np.random.default_rng(3)
    n, m = 400, 6
    pool = pd.DataFrame({C.USER_ID: np.repeat([f"U{i:04d}" for i in range(n)], m),
                         C.ITEM_ID: np.tile([f"O{j}" for j in range(m)], n),
                         B.PROBABILITY: np.round(rng.random(n * m), 2)})  # many exact ties
    pool[C.RANK] = pool.sort_values([C.USER_ID, B.PROBABILITY, C.ITEM_ID], ascending=[True, False, True]) \
        .groupby(C.USER_ID).cumcount().reindex(pool.index).to_numpy() + 1
    (tmp_path / B.TOPK_DIR).mkdir()
    pool.to_parquet(tmp_path / B.TOPK_DIR / B.part_name(0))
    spec = B.BatchAudienceSpec(top_n=5, max_per_customer=1, total_coupons=20, holdout_share=0.0)
    chosen, bound, info = spark_batch.audience_spark(spark, str(tmp_path), spec)
    local = B.allocate_local(pool, spec)
    pd.testing.assert_frame_equal(chosen.reset_index(drop=True), local.reset_index(drop=True))
    assert bound == pytest.approx(B.local_bound(pool, spec), rel=1e-9)
    assert info["pairs_to_driver"] < len(pool)


def test_cli_batch_writes_the_same_files_as_the_api(local_run, tmp_path, capsys):
    from recsys.cli import main

    ws, local = local_run
    out = tmp_path / "cli"
    code = main(["batch", "--workspace", str(ws.path), "--run", local.manifest["run_id"], "-k", "3", "--buckets", "3",
                 "--top", "60", "--cap", "2", "--budget", "150", "--holdout", "0.2", "--seed", "7", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    assert "150 coupons" in capsys.readouterr().out
    assert (out / "audience" / "targets.csv").read_bytes() == (local.out / "audience" / "targets.csv").read_bytes()
    assert main(["batch", "--workspace", str(ws.path), "--run", local.manifest["run_id"], "--out", str(out)]) == 2
    assert "not empty" in capsys.readouterr().err
