"""AppTest of the Fairness page: audit a small run, change the grouping, draw the trade-off, save it."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from recsys.insight.rules import UserRule
from recsys.workspace.audit import saved_rerank
from recsys.workspace import runs
from recsys.learn.config import ModelConfig
from recsys.learn.pipeline import TrainConfig
from recsys.workspace.store import Workspace

ROOT = Path(__file__).resolve().parents[2]


def _page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("PROMOLENS_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "pages" / "fairness.py"), default_timeout=300)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _open_tab(at: AppTest, label: str) -> AppTest:
    """Open one of the audit's tabs (only the open tab's content is rendered)."""
    at.session_state["fair_tab"] = label
    at.run()
    _ok(at)
    return at


def test_fairness_page_without_a_run_asks_for_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _page(tmp_path, monkeypatch)
    assert any("Train a model on the Train page first" in i.value for i in at.info)


def test_fairness_page_audits_draws_the_tradeoff_and_saves_a_reranking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _page(tmp_path, monkeypatch)  # first start: the sample shop is imported
    ws = Workspace(tmp_path / "ws")
    dataset_id = ws.datasets()[0].id
    run_id = runs.train_run(ws, dataset_id, TrainConfig(baselines=(), model=ModelConfig(epochs=3, no_components=8)))
    at.run()
    _ok(at)
    assert at.selectbox(key="fair_user_col").value == "age_band"  # the first sensitive column
    assert any("What the audit found" in s.value for s in at.subheader)
    flags = [*at.error, *at.warning, *at.success]
    assert flags and all("Traceback" not in f.value for f in flags)
    assert [t.label for t in at.tabs] == ["Customers", "Offers", "Lists", "Fix it"]
    assert len(at.dataframe) >= 2  # the Customers tab: offers by group, accuracy gaps
    assert "rate" in at.dataframe[0].value.columns and "gap" in at.dataframe[1].value.columns
    assert not any("slot_share" in d.value.columns for d in at.dataframe)  # the other tabs are not rendered
    _open_tab(at, "Offers")
    assert [list(d.value.columns).count("slot_share") for d in at.dataframe] == [1]  # offer groups
    _open_tab(at, "Lists")
    assert at.metric and len(at.dataframe) == 1  # list measures, and per customer group
    assert "rate" not in at.dataframe[0].value.columns
    for language in ("zh_CN", "en"):  # another language renames every tab: the open one stays open
        at.session_state["language"] = language
        at.run()
        _ok(at)
        assert at.metric and len(at.dataframe) == 1, language
    assert at.session_state["fair_tab"] == "Lists"
    _open_tab(at, "Customers")

    at.selectbox(key="fair_user_col").set_value("region").run()
    _ok(at)
    at.slider(key="fair_offer_k").set_value(1).run()
    _ok(at)
    offers = at.dataframe[0].value
    assert "region" in offers.columns and offers["offers"].sum() == 4000  # one first offer per customer
    deep = int(offers["favourable"].sum())
    at.selectbox(key="fair_fav_col").set_value("category").run()  # a favourable offer by a text column
    at.multiselect(key="fair_fav_values_category").set_value(["home"]).run()
    _ok(at)
    home = int(at.dataframe[0].value["favourable"].sum())
    assert 0 < home != deep
    at.selectbox(key="fair_fav_col").set_value("discount_depth").run()
    _ok(at)
    flagged = set(at.dataframe[0].value.query("flagged")["region"].astype(str))

    assert "fair_kind" not in [r.key for r in at.radio]  # the Fix it tab is closed
    _open_tab(at, "Fix it")
    assert at.radio(key="fair_kind").value == "boost"
    at.multiselect(key="fair_boost_groups").set_value(["north"]).run()
    at.button(key="fair_draw").click().run()
    _ok(at)
    assert any("Accuracy measured with" in c.value for c in at.caption)
    at.select_slider(key="fair_strength").set_value(0.1).run()
    _ok(at)
    assert any("At strength 0.10" in m.value for m in at.markdown)
    _open_tab(at, "Lists")  # a look at another tab keeps the re-ranking's choices and its curve
    assert "fair_strength" not in [s.key for s in at.select_slider]
    _open_tab(at, "Fix it")
    assert at.multiselect(key="fair_boost_groups").value == ["north"] and at.select_slider(key="fair_strength").value == 0.1
    assert any("At strength 0.10" in m.value for m in at.markdown)
    if "north" not in flagged:  # a fix that addresses no flagged group is warned about and needs a tick
        assert any("addresses no group the audit flagged" in w.value for w in at.warning)
        assert at.button(key="fair_save").disabled
        at.checkbox(key="fair_save_anyway").check().run()
    at.button(key="fair_save").click().run()
    _ok(at)
    saved = saved_rerank(ws, run_id)
    assert saved is not None and saved.kind == "boost" and saved.strength == pytest.approx(0.1)
    assert saved.users == UserRule("region", ("north",))
    assert ws.run(run_id)["extra"]["rerank_evidence"]["strength"] == pytest.approx(0.1)
    assert any("Saved with run" in s.value for s in at.success)

    at.toggle(key="fair_after").set_value(True).run()  # audit the re-ranked lists
    _ok(at)
    assert any("Lists after the re-ranking" in c.value for c in at.caption)
    at.button(key="fair_remove").click().run()
    _ok(at)
    assert saved_rerank(ws, run_id) is None
