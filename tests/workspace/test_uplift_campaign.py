"""Campaign lists by uplift and profit: learned from the sample's past control groups, money with intervals."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from recsys.cli import EXIT_BAD_INPUT, main
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
