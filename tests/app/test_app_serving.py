"""AppTest: the Train page's serving switch and the Recommendations page with a served baseline (EASE)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from recsys.core import columns as C
from recsys.workspace import runs, serving
from recsys.workspace.store import Workspace

ROOT = Path(__file__).resolve().parents[2]


def open_page(name: str, ws_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("PROMOLENS_WORKSPACE", str(ws_path))
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "pages" / name), default_timeout=300)
    at.run()
    clean(at)
    return at


def clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


@pytest.fixture()
def served(small_workspace):  # noqa: ANN001, ANN201
    ws = Workspace(small_workspace.path)
    if runs.get_run(ws, small_workspace.run_id).extra.get("validated_model") != "ease":
        pytest.skip("the small shop's validation did not choose EASE")
    return ws, small_workspace


def test_train_page_switches_the_serving_model(served, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    ws, small = served
    at = open_page("train.py", small.path, monkeypatch)
    key = f"train_serving_{small.run_id}"
    switch = at.radio(key=key)
    assert switch.value == serving.VALIDATED and "Serve EASE (validated best)" in switch.options[0]
    assert any("Serving now: EASE" in c.value for c in at.caption)
    switch.set_value(serving.HYBRID).run()
    clean(at)
    assert serving.serving_choice(ws, small.run_id) == serving.HYBRID
    assert at.radio(key=key).value == serving.HYBRID
    at.radio(key=key).set_value(serving.VALIDATED).run()
    assert serving.serving_choice(ws, small.run_id) == serving.VALIDATED


def test_recommendations_page_lists_the_served_baseline_with_exact_reasons(served, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    ws, small = served
    dataset = ws.load_dataset(small.dataset_id)
    user = str(dataset.interactions[C.USER_ID].iloc[0])
    at = open_page("recommendations.py", small.path, monkeypatch)
    at.radio(key="reco_find").set_value("By customer id").run()
    at.text_input(key="reco_user_id").set_value(user).run()
    clean(at)
    listed = next(d.value for d in at.dataframe if "why (exact)" in d.value.columns)
    expected = serving.served_recommendations(ws, small.run_id, dataset, user, k=10,
                                              active_on=at.date_input(key="reco_active_day").value
                                              if at.checkbox(key="reco_active").value else None)
    assert listed[C.ITEM_ID].tolist() == expected.recommendations[C.ITEM_ID].tolist()
    assert any("not serving this run" in m.value for m in at.markdown)
    assert any("explains the hybrid model's own list" in c.value for c in at.caption)
    serving.set_serving(ws, small.run_id, serving.HYBRID)  # the hybrid serves: no served section
    at.run()
    clean(at)
    assert not any("why (exact)" in d.value.columns for d in at.dataframe)
