"""Campaign lists by uplift and profit: learned from the sample's past control groups, money with intervals."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from recsys.cli import main
from recsys.cli.common import EXIT_BAD_INPUT
from recsys.core import columns as C

OFFERS = ("OFF0015", "OFF0046", "OFF0132")  # the percent-off offers live on the sample's last day (25%, 35%, 15%)


def test_export_by_profit_leaves_out_negative_value_and_beats_response_targeting(sample_workspace, tmp_path, capsys):
    out = tmp_path / "targets.csv"
    args = ["export", "--workspace", str(sample_workspace.path), "--run", sample_workspace.run_id, "--budget", "300",
            "--objective", "profit", "--reasons", "1", "--out", str(out), "--json"]
    for offer in OFFERS:
        args += ["--item", offer]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    roi = result["roi"]
    assert result["objective"] == "profit" and roi["left_out_customers"] > 0
    summary = {r["measure"]: r for r in roi["summary"]}
    profit = summary["incremental profit"]
    assert profit["model"] > 0 > summary["incremental profit"]["response_model"]  # response targeting loses money
    assert profit["low"] <= profit["observed"] <= profit["high"]
    frame = pd.read_csv(out, dtype=str)
    sent = frame[frame[C.GROUP] == C.TREATMENT]
    assert 0 < len(sent) <= 300
    reasons = frame[C.REASONS].dropna()
    assert reasons.str.contains("past customers like this").all() and reasons.str.startswith("uplift: ").all()


def test_an_uplift_objective_without_past_campaigns_is_refused(small_workspace, tmp_path, capsys):
    args = ["export", "--workspace", str(small_workspace.path), "--run", small_workspace.run_id, "--item", "OFF0001",
            "--all-offers", "--objective", "uplift", "--out", str(tmp_path / "t.csv")]
    assert main(args) == EXIT_BAD_INPUT
    assert "--past-campaigns" in capsys.readouterr().err


def test_a_measured_export_becomes_training_data_for_the_next_uplift_model(small_workspace, tmp_path):
    import numpy as np

    from recsys.workspace import exports
    from recsys.workspace import uplift as jobs
    from recsys.workspace.store import Workspace

    ws = Workspace(small_workspace.path)
    users = ws.load_dataset(small_workspace.dataset_id).users[C.USER_ID].astype(str).to_numpy()[:200]
    targets = pd.DataFrame({C.USER_ID: users, C.ITEM_ID: "OFF0001", C.SCORE: np.linspace(0, 1, len(users)), C.RANK: 1,
                            C.GROUP: np.where(np.arange(len(users)) % 2 == 0, C.CONTROL, C.TREATMENT)})
    exports.save_export(ws, targets, params={"spec": {"holdout_share": 0.5}})
    outcomes = pd.DataFrame({"customer": users[:30], "redeemed": "yes"})
    assert jobs.record_export_outcomes(ws, "e1", targets, outcomes, "redeemed", "customer") == 200
    [path] = jobs.measured_history(ws)
    history = pd.read_parquet(path)
    assert history["converted"].sum() == 30 and set(history[C.GROUP]) == {C.TREATMENT, C.CONTROL}
    assert list(history.columns) == ["user_id", "item_id", "group", "sent_date", "converted"]
