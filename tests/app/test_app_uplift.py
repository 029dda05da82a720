"""AppTest of the uplift / ROI parts: the Campaign page by profit, the Measure page's Qini curve of an export."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pages import shared

ROOT = Path(__file__).resolve().parents[2]
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
