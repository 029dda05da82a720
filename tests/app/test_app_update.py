"""AppTests after an append: the Train page's freshness advice and update, and new customers on Recommendations."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from recsys.core import columns as C
from recsys.workspace import ingest
from tests import freshdata

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def appended(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    ws, dataset_id, run_id, files = freshdata.workspace_with_run(tmp_path)
    monkeypatch.setenv("PROMOLENS_WORKSPACE", str(ws.path))
    monkeypatch.chdir(ROOT)
    return ws, dataset_id, run_id, files


def _page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / "train.py"), default_timeout=300)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_fresh_model_says_so_and_offers_no_update(appended) -> None:
    at = _page()
    assert any("No new events" in s.value for s in at.success)
    assert not any(b.label == "Update the model with the new data" for b in at.button)
    assert any(b.label == "Check and add" for b in at.button)  # the append form is there


def test_after_an_append_the_page_advises_and_updates(appended) -> None:
    ws, dataset_id, run_id, files = appended
    ingest.append_files(ws, dataset_id, files / "new_interactions.csv", files / "new_users.csv", files / "new_items.csv")
    at = _page()
    advice = [m.value for m in [*at.success, *at.warning, *at.error]]
    assert any("new offers" in a or "beats 'most popular'" in a for a in advice), advice
    assert any(m.label == "New events since training" for m in at.metric)
    at.number_input(key="update_epochs").set_value(2)
    next(b for b in at.button if b.label == "Update the model with the new data").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    new_runs = [r for r in ws.runs() if r["id"] != run_id]
    assert len(new_runs) == 1 and new_runs[0]["extra"]["parent_run"] == run_id
    assert new_runs[0]["extra"]["update"]["epochs"] == 2
    assert at.sidebar.selectbox(key="run_id").value == new_runs[0]["id"]
    assert any(f"Updated from run {run_id}" in c.value for c in at.caption)
    assert any("No new events" in s.value for s in at.success)  # the updated model is fresh


def test_recommendations_for_a_customer_appended_after_training(appended) -> None:
    ws, dataset_id, run_id, files = appended
    ingest.append_files(ws, dataset_id, files / "new_interactions.csv", files / "new_users.csv", files / "new_items.csv")
    newcomer = pd.read_csv(files / "new_users.csv")[C.USER_ID].iloc[0]
    at = AppTest.from_file(str(ROOT / "pages" / "recommendations.py"), default_timeout=300)
    at.run()
    at.radio(key="reco_find").set_value("By customer id")
    at.run()
    at.text_input(key="reco_user_id").set_value(newcomer)
    at.run()
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    assert any(f"arrived after run {run_id} was trained" in i.value for i in at.info)
    assert at.dataframe  # the list and its explanation
    at.text_input(key="reco_user_id").set_value("NOBODY-AT-ALL")
    at.run()
    assert any("No customer **NOBODY-AT-ALL**" in w.value for w in at.warning)
