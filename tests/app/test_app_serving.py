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


def test_the_hybrids_explanation_beside_a_served_baseline_is_in_shares_of_the_gap(served, monkeypatch) -> None:  # noqa: ANN001
    """The served baseline's chance is no function of the hybrid's score: the hybrid's explanation "for comparison"
    is each fact's share of the gap between the offer's score and the customer's average offer, adding up to 100%,
    with the raw scores behind "Advanced" only."""
    import re

    import numpy as np

    from tests.app.test_app_recommendations import CHANCE, SHARE, assert_no_raw_score, shown_parts, shown_shares

    ws, small = served
    user = str(ws.load_dataset(small.dataset_id).interactions[C.USER_ID].iloc[0])
    at = open_page("recommendations.py", small.path, monkeypatch)
    at.radio(key="reco_find").set_value("By customer id").run()
    at.text_input(key="reco_user_id").set_value(user).run()
    clean(at)
    assert any(c.value.startswith("The chance in the list comes from the serving model's response model")
               and "share of the gap" in c.value for c in at.caption)
    listed = next(d.value for d in at.dataframe if "why (strongest lifts)" in d.value.columns)
    served_list = next(d.value for d in at.dataframe if "why (exact)" in d.value.columns)
    assert C.SCORE not in listed.columns and C.SCORE not in served_list.columns  # raw scores behind "Advanced"
    chance = next(m for m in at.metric if m.label == CHANCE)  # the list's chance, as the list shows it
    assert chance.value == f"{listed[CHANCE].iloc[0]:.1f}%"
    assert not any(m.label in ("Score", "Compared with") for m in at.metric)
    shares, parts = shown_shares(at), shown_parts(at)
    raw_caption = next(c.value for c in at.caption if c.value.startswith("The raw score of this offer is "))
    score, base = (float(x) for x in re.findall(r"-?\d+\.\d{4}", raw_caption)[:2])
    assert shares[SHARE].sum() == pytest.approx(100.0 * np.sign(score - base), abs=1e-9)  # exactly the whole gap
    assert (np.sign(shares[SHARE]) == np.sign(parts["attribution"])).all()  # a lift stays a lift
    assert shares["contributor"].tolist() == parts["contributor"].tolist()
    waterfall = at.get("plotly_chart")[0].proto.spec
    assert "this offer: 100%" in waterfall and "share of the gap" in waterfall
    assert_no_raw_score(at)
    # the what-if speaks ranks and shares too
    at.session_state["reco_tab"] = "What if"
    at.run()
    clean(at)
    assert any(m.label.startswith("Rank of this offer with ") for m in at.metric)
    assert not any(m.label.startswith("Score of this offer") for m in at.metric if m not in
                   [x for e in at.expander for x in e.metric])
    changes = next(d.value for d in at.dataframe if "change" in d.value.columns)
    assert "score_before" not in changes.columns and "score_after" not in changes.columns
    assert_no_raw_score(at)


def test_cli_recommend_explain_beside_a_served_baseline_prints_the_pages_shares(served, capsys) -> None:  # noqa: ANN001
    import json
    import re

    from recsys.cli import main

    ws, small = served
    user = str(ws.load_dataset(small.dataset_id).interactions[C.USER_ID].iloc[0])
    args = ["recommend", "--workspace", str(small.path), "--run", small.run_id, "--user", user, "-k", "3", "--explain"]
    assert main([*args, "--model", "hybrid"]) == 0
    text = capsys.readouterr().out
    assert text.count("share of the gap between this offer's score and its base (") == 3, text
    assert not re.search(r"[+-]?\d+\.\d{4}", text), text  # no raw score, no raw Shapley value
    assert main([*args, "--model", "hybrid", "--json"]) == 0
    for row in json.loads(capsys.readouterr().out)["recommendations"]:
        shown = row["explanation"]
        assert shown["unit"] == "gap_shares" and shown["why_not"] == "other_scores" and shown["start"] == 0.0
        assert sum(p["value"] for p in shown["parts"]) == pytest.approx(shown["end"], abs=1e-12) and abs(shown["end"]) == 1
        gap = sum(p["raw"] for p in shown["parts"])
        assert [p["value"] for p in shown["parts"]] == pytest.approx([p["raw"] / abs(gap) for p in shown["parts"]])
    assert main(args) == 0  # the served list: its own exact reasons, and where the hybrid's explanations are
    assert "for the hybrid's explanations (the Recommendations page's comparison), add --model hybrid" in (
        capsys.readouterr().out)
