"""`promolens train --tune` and `promolens recommend --model validated` on the small shop."""

from __future__ import annotations

import json

import pytest

from recsys.cli import main
from recsys.cli.common import EXIT_BAD_INPUT
from recsys.workspace.store import Workspace


@pytest.mark.slow  # two trainings of the small shop with every baseline and the targeting judgement
def test_tune_keeps_its_trials_and_the_validated_model_serves(small_workspace, capsys) -> None:  # noqa: ANN001
    ws = str(small_workspace.path)
    args = ["train", "--workspace", ws, "--dataset", small_workspace.dataset_id, "--epochs", "2", "--components", "8",
            "--no-refit", "--json"]
    assert main([*args, "--tune", "--budget-minutes", "0"]) == EXIT_BAD_INPUT  # a budget must be positive
    assert "budget" in capsys.readouterr().err
    assert main([*args, "--tune", "--budget-minutes", "0.01"]) == 0
    out = json.loads(capsys.readouterr().out)
    tuning = out["tuning"]
    trials = tuning["trials"]
    assert len(trials) >= 1  # the first trial is always the run's own settings, whatever the budget
    assert tuning["default_validation"] == trials[0]["validation"]
    assert tuning["best_validation"] == max(t["validation"] for t in trials)
    # a further trial starts only while the budget (0.6 s) is not spent
    assert sum(t["seconds"] for t in trials[:-1]) <= 0.6 + 0.01
    assert out["validation_choice"] in out["validation"] and out["verdict"]
    run = Workspace(small_workspace.path).run(out["run_id"])
    assert run["extra"]["tuning"]["budget_minutes"] == 0.01
    user = Workspace(small_workspace.path).load_dataset(small_workspace.dataset_id).interactions["user_id"].iloc[0]
    assert main(["recommend", "--workspace", ws, "--run", out["run_id"], "--user", str(user), "--model", "validated",
                 "-k", "3", "--all-offers", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    offers = listed.get("offers") or listed.get("recommendations") or listed
    assert len(offers) >= 1
