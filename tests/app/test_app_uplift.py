"""AppTest of the uplift / ROI parts: the Campaign page by profit, the Measure page's Qini curve of an export."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pages import shared

ROOT = Path(__file__).resolve().parents[2]
#: The real e-mail test beside the checkout (as tests/campaign/test_measure.py finds it); $PROMOLENS_HILLSTROM wins.
HILLSTROM = ROOT.parent / "shared" / "data" / "hillstrom" / "hillstrom.csv"
TIMEOUT = 240


def open_page(name: str, workspace: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("PROMOLENS_WORKSPACE", str(workspace))
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(shared, "ensure_sample_dataset", lambda ws: None)
    at = AppTest.from_file(str(ROOT / "pages" / name), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_campaign_page_by_profit_shows_the_money_against_response_targeting(sample_workspace, monkeypatch):
    at = open_page("campaign.py", sample_workspace.path, monkeypatch)
    at.multiselect(key="campaign_offers").set_value(["OFF0015", "OFF0046", "OFF0132"])
    at.radio(key="campaign_limit").set_value("coupons")
    at.number_input(key="campaign_amount").set_value(300)
    at.radio(key="campaign_objective").set_value("profit")
    next(b for b in at.button if b.label == "Preview audience").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    metrics = {m.label: m for m in at.metric}
    for label in ("Incremental responders", "Incremental revenue", "Discount cost", "Roi (profit / discount cost)"):
        assert label in metrics, list(metrics)
    assert "response targeting" in metrics["Discount cost"].delta
    assert any("customer(s) left out" in c.value for c in at.caption)
    assert any("Qini coefficient" in c.value for c in at.caption)
    [command] = [c.value for c in at.code if c.value.startswith("promolens export")]
    assert "--objective profit" in command and "--margin-rate 0.5" in command


def test_measure_page_shows_the_qini_curve_of_a_measured_export(tmp_path, monkeypatch):
    import numpy as np
    import pandas as pd

    from recsys.core import columns as C
    from recsys.workspace import exports
    from recsys.workspace.store import Workspace

    ws = Workspace(tmp_path / "ws")
    n = 4000
    rng = np.random.default_rng(0)
    score = rng.random(n)
    group = np.where(rng.random(n) < 0.3, C.CONTROL, C.TREATMENT)
    targets = pd.DataFrame({C.USER_ID: [f"c{i}" for i in range(n)], C.ITEM_ID: "A", C.SCORE: score, C.RANK: 1, C.GROUP: group})
    exports.save_export(ws, targets, params={"spec": {"holdout_share": 0.3}})
    # the coupon moves only the top-scored customers; everyone buys 5% of the time anyway
    converted = rng.random(n) < 0.05 + 0.3 * (group == C.TREATMENT) * (score > 0.7)
    outcomes = pd.DataFrame({"user_id": targets[C.USER_ID][converted], "redeemed": 1}).to_csv(index=False).encode()
    at = open_page("measure.py", tmp_path / "ws", monkeypatch)
    at.radio(key="measure_source").set_value("export")
    at.run()
    at.file_uploader(key="measure_outcomes_upload").set_value(("redeemed.csv", outcomes, "text/csv"))
    at.run()
    next(b for b in at.button if b.label == "Measure lift").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    [caption] = [c.value for c in at.caption if c.value.startswith("Qini coefficient of the score")]
    coefficient = float(caption.split()[5])
    assert coefficient > 0.02  # the ideal here: 0.09 * 0.7 / 2 = 0.0315
    assert len(at.get("plotly_chart")) >= 4  # means, lift, deciles and the Qini curve


def test_cli_uplift_on_a_randomised_file(tmp_path, capsys):
    import json

    import numpy as np
    import pandas as pd

    from recsys.cli import main
    from recsys.cli.common import EXIT_BAD_INPUT

    rng = np.random.default_rng(1)
    n = 3000
    frame = pd.DataFrame({"arm": rng.choice(["mail", "none"], n), "x": rng.random(n), "kind": rng.choice(["a", "b"], n)})
    frame["bought"] = (rng.random(n) < 0.05 + 0.3 * (frame["x"] > 0.6) * frame["arm"].eq("mail")).astype(int)
    path = tmp_path / "test.csv"
    frame.to_csv(path, index=False)
    base = ["uplift", "--data", str(path), "--treatment", "arm", "--control", "none", "--outcome", "bought", "--bootstrap", "50"]
    assert main([*base, "--json"]) == 0
    [arm] = json.loads(capsys.readouterr().out)["arms"]
    scores = {s["score"]: s for s in arm["scores"]}
    assert arm["arm"] == "mail" and scores["x_learner"]["qini_low"] > 0
    assert main(base) == 0
    text = capsys.readouterr().out
    assert "Qini coefficient" in text and "uplift@30%" in text and "-> better" in text
    assert main([*base[:-4], "--outcome", "nope"]) == EXIT_BAD_INPUT
    assert "column 'nope'" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_uplift_on_hillstrom(capsys):
    from recsys.campaign.measure import hillstrom_path
    from recsys.cli import main

    path = hillstrom_path() or (HILLSTROM if HILLSTROM.is_file() else None)
    if path is None:
        pytest.skip(f"the Hillstrom file is not available ({HILLSTROM} or $PROMOLENS_HILLSTROM)")
    assert main(["uplift", "--data", str(path), "--treatment", "segment", "--control", "No E-Mail", "--outcome", "visit",
                 "--bootstrap", "50", "--features", "recency", "history", "mens", "womens", "zip_code", "newbie", "channel"]) == 0
    text = capsys.readouterr().out
    assert "Mens E-Mail vs control" in text and "Womens E-Mail vs control" in text
    assert text.count("uplift@30%") == 2
