"""AppTest of the Train page: a small, fast training run end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from recsys.workspace.store import Workspace

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("PROMOLENS_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "pages" / "train.py"), default_timeout=300)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_train_small_config_shows_verdict_and_baselines(page: AppTest, tmp_path: Path) -> None:
    page.number_input(key="train_epochs").set_value(3)
    page.number_input(key="train_components").set_value(8)
    page.multiselect(key="train_user_cols").set_value(["segment", "region"])
    next(b for b in page.button if b.label == "Train and evaluate").click()
    page.run()
    assert not page.exception, [e.value for e in page.exception]
    ws = Workspace(tmp_path / "ws")
    [run] = ws.runs()
    assert run["config"]["model"]["epochs"] == 3
    assert run["extra"]["user_features"] == ["segment", "region"]
    assert set(run["metrics"]) == {"hybrid", "collaborative", "popularity", "random", "recent_popularity", "ease",
                                   "item_knn", "als"}
    assert page.sidebar.selectbox(key="run_id").value == run["id"]
    extra = run["extra"]
    choice = extra["validation_choice"]
    assert choice == max(extra["validation"], key=lambda m: extra["validation"][m])
    verdicts = [i.value for i in page.info] + [w.value for w in page.warning]
    lead = ("The hybrid model is the best on validation" if choice == "hybrid"
            else "beats the hybrid on validation")
    assert any(lead in v and "95% interval over customers" in v for v in verdicts), verdicts
    assert page.dataframe  # the metrics table is shown
    # the paired comparison table: every other model, with intervals and a three-way verdict, warm/cold apart
    shown_tables = [d.value for d in page.dataframe]
    comparison = next(t for t in shown_tables if "verdict" in t.columns)
    assert set(comparison["verdict"]) <= {"better", "worse", "no clear difference"}
    assert comparison["95% interval"].str.match(r"^\[[+-]\d\.\d{4}, [+-]\d\.\d{4}\]$").all()
    assert len(comparison) == 7 * 3  # 7 other models x 3 measures, for all customers
    assert [t.label for t in page.tabs][:3] == ["All customers", "Customers with a history", "New customers"]
    targeting = run["extra"]["targeting"]
    assert targeting["status"] == "ok", targeting
    assert (tmp_path / "ws" / "runs" / run["id"] / "response.npz").exists()
    shown = [s.value for s in page.success] + [w.value for w in page.warning]
    assert any("Picking customers for an offer" in v and "of the time" in v for v in shown), shown
    assert any("as many as in 50 customers picked at random" in m.value for m in page.markdown)


def test_train_page_without_runs_invites_training(page: AppTest) -> None:
    assert any("No model trained" in c.value for c in page.sidebar.caption)
    assert any(b.label == "Train and evaluate" for b in page.button)
