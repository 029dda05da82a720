"""AppTest of the Recommendations page: find a customer, open an explanation, check its sums."""

from __future__ import annotations

import base64


import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import numpy as np
import plotly.io

from recsys.core import columns as C
from recsys.workspace import runs
from recsys.workspace.ingest import ensure_sample_dataset
from recsys.learn.config import ModelConfig
from recsys.learn.pipeline import TrainConfig
from recsys.workspace.store import Workspace

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "recommendations.py")
TINY = TrainConfig(model=ModelConfig(epochs=3, no_components=8), baselines=(), early_stopping=False)


@pytest.fixture(scope="module")
def trained_ws(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The sample shop with one tiny, fast model run."""
    path = tmp_path_factory.mktemp("reco") / "ws"
    ws = Workspace(path)
    info = ensure_sample_dataset(ws)
    assert info is not None
    return path, runs.train_run(ws, info.id, TINY, refit_all=False)


def open_page(ws_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("PROMOLENS_WORKSPACE", str(ws_path))
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(PAGE, default_timeout=300)
    at.run()
    assert_clean(at)
    return at


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def open_tab(at: AppTest, label: str) -> AppTest:
    """Open one of the explanation's tabs (only the open tab's content is rendered)."""
    at.session_state["reco_tab"] = label
    at.run()
    assert_clean(at)
    return at


def metric(at: AppTest, label: str) -> float:
    return float(next(m for m in at.metric if m.label == label).value)


def shown_parts(at: AppTest):  # noqa: ANN201 - the attribution table as a DataFrame
    return next(d.value for d in at.dataframe if "attribution" in d.value.columns)


def percent(at: AppTest, label: str) -> float:
    """A metric shown as a percentage ("9.6%"), as a number."""
    value = next(m for m in at.metric if m.label == label).value
    assert re.fullmatch(r"\d+\.\d%", value), value
    return float(value[:-1])


CHANCE = "likely to redeem within 14 days"
POINTS = "change in chance (pt)"
SHARE = "share of the gap (%)"
RAW_NUMBER = re.compile(r"-?\d+\.\d{3,}")  # how the page writes a raw score (4 decimals): never outside "Advanced"


def shown_shares(at: AppTest):  # noqa: ANN201 - the explanation in shares of the gap, as a DataFrame
    return next(d.value for d in at.dataframe if SHARE in d.value.columns)


def assert_no_raw_score(at: AppTest) -> None:
    """No metric, caption or chart text outside the "Advanced" expanders shows a raw model score."""
    advanced = [e for e in at.expander if e.label.startswith("Advanced")]
    hidden = {c.value for e in advanced for c in e.caption} | {str(t) for e in advanced for m in e.metric
                                                                for t in (m.value, m.delta)}
    shown = [m.value for m in at.metric] + [str(m.delta) for m in at.metric] + [c.value for c in at.caption]
    raw = [t for t in shown if t not in hidden and RAW_NUMBER.search(t)]
    assert not raw, raw
    waterfalls = [c.proto.spec for c in at.get("plotly_chart") if '"type":"waterfall"' in c.proto.spec]
    assert waterfalls
    for spec in waterfalls:  # the explanation's and the what-if's bars and ends: points or percent, never a score
        assert "score " not in spec and not re.search(r'"text":\["[+-]\d+\.\d{3}"', spec), spec[:400]


def test_pick_a_customer_open_an_explanation_and_it_adds_up(trained_ws: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(trained_ws[0], monkeypatch)
    # default: a customer picked from the first segment, the top offer explained
    assert at.selectbox(key="reco_pick_user").value is not None
    at.radio(key="reco_find").set_value("By customer id").run()
    at.text_input(key="reco_user_id").set_value("C000004").run()
    assert_clean(at)
    listed = next(d.value for d in at.dataframe if "why (strongest lifts)" in d.value.columns)
    assert len(listed) == 10 and listed[C.RANK].tolist() == list(range(1, 11))
    # reasons in percentage points of the chance shown next to them, worded as in the Campaign page's file
    assert listed["why (strongest lifts)"].str.fullmatch(r"[^;]+ [+-]\d+\.\d pt(; [^;]+ [+-]\d+\.\d pt)*").all(), listed.iloc[0]
    second = at.selectbox(key="reco_offer").options[1]
    at.selectbox(key="reco_offer").set_value(listed[C.ITEM_ID].iloc[1]).run()
    assert_clean(at)
    assert second.startswith("#2 · ")
    assert metric(at, "Rank") == 2
    # the explanation speaks the list's chance: this offer's, its base's, and bars in chance points between them
    chance, base_chance = percent(at, CHANCE), percent(at, "Compared with")
    assert chance == pytest.approx(listed[CHANCE].iloc[1], abs=0.051)  # the list's number, to its 1 decimal
    assert not any(m.label == "Score" for m in at.metric)  # the raw score is behind "Advanced"
    points = next(d.value for d in at.dataframe if POINTS in d.value.columns)
    assert points[POINTS].sum() == pytest.approx(chance - base_chance, abs=0.11)  # both metrics rounded to 0.1
    parts = shown_parts(at)  # the exact raw-score contributions, kept under "Advanced"
    assert parts["contributor"].tolist() == points["contributor"].tolist()
    assert parts["contributor"].iloc[-1].startswith("other (")  # the rest summed as "other"
    assert (np.sign(points[POINTS]) == np.sign(parts["attribution"])).all()  # same sign, same order
    raw_caption = next(c.value for c in at.caption if c.value.startswith("The raw score of this offer is "))
    score, base = (float(x) for x in re.findall(r"-?\d+\.\d{4}", raw_caption)[:2])
    assert base + parts["attribution"].sum() == pytest.approx(score, abs=2e-4)  # captions show 4 decimals
    assert C.SCORE not in listed.columns  # with a probability shown, the raw score is behind "Advanced"
    raw = next(d.value for d in at.dataframe if list(d.value.columns) == [C.RANK, "offer", C.SCORE])
    assert raw[C.SCORE].iloc[1] == pytest.approx(score, abs=1e-4)
    assert_no_raw_score(at)
    # the offer's waterfall, and each tab's own chart once that tab is open (the others are not rendered)
    assert [t.label for t in at.tabs] == ["Evidence", "What if", "Across the list", "Who else is it for", "Fact x fact"]
    assert len(at.get("plotly_chart")) == 1 and any("Because they responded to" in m.value for m in at.markdown)
    for label in ["What if", "Across the list", "Who else is it for", "Fact x fact"]:
        open_tab(at, label)
        assert len(at.get("plotly_chart")) == 2, label  # waterfall + what-if / list heatmap / drivers / pair heatmap
        assert not any("Because they responded to" in m.value for m in at.markdown), label
    drivers_caption = next(c.value for c in open_tab(at, "Who else is it for").caption
                           if "One row per customer trait" in c.value)
    assert "chance of redeeming this offer, in percentage points" in drivers_caption  # not raw score units
    drivers_chart = plotly.io.from_json(at.get("plotly_chart")[-1].proto.spec)
    assert "percentage points" in drivers_chart.layout.xaxis.title.text
    x = drivers_chart.data[0].x  # plotly 6 sends a float array as {"dtype", "bdata"} (base64)
    means = np.frombuffer(base64.b64decode(x["bdata"]), dtype=x["dtype"]) if isinstance(x, dict) else np.asarray(x, float)
    # mean lifts, drawn in points: a chance moves by at most 100 points, and raw scores were not in percent
    assert len(means) and np.abs(means).max() <= 100 and np.abs(means).max() > 0.01
    assert metric(at, "Rank") == 2 and percent(at, CHANCE) == chance  # the same offer explained
    # the whole-score view adds up too (from the average customer and offer), in shares of the score's gap to that
    # base, not chance points: the customer-only part of a score does not move their chance
    at.radio(key="reco_view").set_value("score").run()
    assert_clean(at)
    assert any(c.value.startswith("Compared with the average customer, the explanation cannot be in chance points")
               for c in at.caption)
    shares, parts = shown_shares(at), shown_parts(at)
    assert percent(at, CHANCE) == chance and not any(m.label in ("Score", "Compared with") for m in at.metric)
    raw_caption = next(c.value for c in at.caption if c.value.startswith("The raw score of this offer is "))
    score2, base2 = (float(x) for x in re.findall(r"-?\d+\.\d{4}", raw_caption)[:2])  # under "Advanced"
    assert score2 == pytest.approx(score, abs=1e-4) and base2 != pytest.approx(base, abs=1e-3)
    assert base2 + parts["attribution"].sum() == pytest.approx(score2, abs=2e-4)
    assert shares[SHARE].sum() == pytest.approx(100.0 * np.sign(score2 - base2), abs=1e-9)  # the whole gap, exactly
    assert shares[SHARE].to_numpy() == pytest.approx(100 * parts["attribution"].to_numpy() / abs(score2 - base2),
                                                     rel=1e-3)  # score and base read at 4 decimals
    assert_no_raw_score(at)


def test_what_if_and_filters(trained_ws: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(trained_ws[0], monkeypatch)
    at.radio(key="reco_find").set_value("By customer id").run()
    at.text_input(key="reco_user_id").set_value("C000004").run()
    assert "reco_whatif_column" not in [s.key for s in at.selectbox]  # its tab is closed: not rendered
    open_tab(at, "What if")
    at.selectbox(key="reco_whatif_column").set_value("segment").run()
    at.selectbox(key="reco_whatif_value").set_value("premium").run()
    assert_clean(at)
    assert any(m.label.startswith("Score of this offer with segment = premium") for m in at.metric)
    open_tab(open_tab(at, "Evidence"), "What if")  # the what-if's choice outlives a look at another tab
    assert (at.selectbox(key="reco_whatif_column").value, at.selectbox(key="reco_whatif_value").value) == ("segment", "premium")
    assert any(m.label.startswith("Score of this offer with segment = premium") for m in at.metric)  # "Advanced"
    chance = next(m for m in at.metric if m.label == "Chance of this offer with segment = premium")
    assert re.fullmatch(r"\d+\.\d%", chance.value) and re.fullmatch(r"[+-]\d+\.\d pt \(was \w+\)", chance.delta), chance
    changes = next(d.value for d in at.dataframe if "change" in d.value.columns)
    assert {"chance before", "chance after"} <= set(changes.columns) and changes["chance after"].between(0, 100).all()
    listed = next(d.value for d in at.dataframe if "why (strongest lifts)" in d.value.columns)
    before = changes.dropna(subset=["rank_before"]).sort_values("rank_before")  # the list above, by the same chances
    assert before["chance before"].to_numpy() == pytest.approx(listed[CHANCE].to_numpy()[:len(before)], abs=1e-6)
    assert len(changes) >= 10
    at.checkbox(key="reco_active").check().run()
    assert_clean(at)
    at.number_input(key="reco_k").set_value(3).run()
    assert_clean(at)
    listed = next(d.value for d in at.dataframe if "why (strongest lifts)" in d.value.columns)
    assert len(listed) <= 3


def test_unknown_customer_is_a_plain_message(trained_ws: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(trained_ws[0], monkeypatch)
    at.radio(key="reco_find").set_value("By customer id").run()
    at.text_input(key="reco_user_id").set_value("nobody").run()
    assert_clean(at)
    assert any("No customer **" in w.value for w in at.warning)


def test_without_a_run_the_page_invites_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(tmp_path / "ws", monkeypatch)  # the sample shop is imported on first start
    assert any("Train a model" in i.value for i in at.info)


def test_cli_recommend_gives_the_pages_numbers(trained_ws: tuple[Path, str], monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import json

    from recsys.insight import attribution as A
    from recsys.insight import recommend as R
    from recsys.cli import main
    from recsys.cli.common import EXIT_BAD_INPUT

    ws_path, run_id = trained_ws
    assert main(["recommend", "--workspace", str(ws_path), "--run", run_id, "--user", "C000004", "-k", "5", "--explain", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["run"] == run_id and report["view"] == A.LIST_VIEW and len(report["recommendations"]) == 5
    for row in report["recommendations"]:
        assert row["baseline"] + sum(a["value"] for a in row["attributions"]) == pytest.approx(row["score"], abs=1e-9)
        assert {a["side"] for a in row["attributions"]} == {"customer", "offer"}
    assert report["baseline"]["score"] == pytest.approx(report["recommendations"][0]["baseline"])
    assert report["as_of"] == "2026-06-30" and report["horizon_days"] == 14
    assert all(0.0 <= row["probability"] <= 1.0 for row in report["recommendations"])
    # the page shows the same list and scores
    at = open_page(ws_path, monkeypatch)
    at.radio(key="reco_find").set_value("By customer id").run()
    at.text_input(key="reco_user_id").set_value("C000004").run()
    at.number_input(key="reco_k").set_value(5).run()
    listed = next(d.value for d in at.dataframe if "why (strongest lifts)" in d.value.columns)
    assert listed[C.ITEM_ID].tolist() == [r["item_id"] for r in report["recommendations"]]
    raw = next(d.value for d in at.dataframe if list(d.value.columns) == [C.RANK, "offer", C.SCORE])
    assert raw[C.SCORE].tolist() == pytest.approx([r["score"] for r in report["recommendations"]], abs=1e-12)
    chance = "likely to redeem within 14 days"
    assert listed[chance].tolist() == pytest.approx([100 * r["probability"] for r in report["recommendations"]], abs=1e-9)
    # --explain speaks the page's units: the explained offer in chance points, from the page's base to its chance
    opened = at.selectbox(key="reco_offer").value  # the offer the page explains (kept from the first customer's list)
    first = next(r for r in report["recommendations"] if r["item_id"] == opened)["explanation"]
    assert first["unit"] == "chance_points" and first["why_not"] is None
    assert f"{100 * first['end']:.1f}%" == next(m.value for m in at.metric if m.label == chance)
    assert f"{100 * first['start']:.1f}%" == next(m.value for m in at.metric if m.label == "Compared with")
    for row in report["recommendations"]:
        parts = row["explanation"]["parts"]
        assert row["explanation"]["start"] + sum(a["value"] for a in parts) == pytest.approx(row["explanation"]["end"], abs=1e-12)
        assert [a["raw"] for a in parts] == pytest.approx([a["value"] for a in row["attributions"]], abs=1e-12)
    assert listed["why (strongest lifts)"].tolist() == [r["reason"] for r in report["recommendations"]]  # the page's
    assert main(["recommend", "--workspace", str(ws_path), "--run", run_id, "--user", "C000004", "-k", "2", "--explain"]) == 0
    text = capsys.readouterr().out
    assert "percentage points of the chance of redeeming, from " in text and not re.search(r"[+-]?\d+\.\d{4}", text), text
    for block in re.findall(r"from (\d+\.\d)% to (\d+\.\d)%:\n((?: +[+-]\d+\.\d\d pt .*\n)+)", text):
        bars = [float(b) for b in re.findall(r"^ +([+-]\d+\.\d\d) pt", block[2], flags=re.M)]
        assert sum(bars) == pytest.approx(float(block[1]) - float(block[0]), abs=0.06 + 0.005 * len(bars))
    assert len(re.findall(r"from \d+\.\d% to", text)) == 2
    assert main(["recommend", "--workspace", str(ws_path), "--run", run_id, "--user", "C000004", "-k", "2", "--explain",
                 "--view", "score"]) == 0
    text = capsys.readouterr().out  # no chance of the whole score: shares of its gap, 100% in all
    assert text.count("share of the gap between this offer's score and its base (100% = the whole gap):") == 2, text
    assert not re.search(r"[+-]?\d+\.\d{4}", text) and " pt  " not in text.split("because")[-1], text
    shares = [float(x) for x in re.findall(r"^ +([+-]\d+\.\d)%  ", text, flags=re.M)]
    assert sum(shares) == pytest.approx(200.0, abs=0.05 * len(shares))  # two offers, each 100% to rounding
    assert main(["recommend", "--workspace", str(ws_path), "--run", run_id, "--user", "C000004", "-k", "3"]) == 0
    assert "% likely to redeem within 14 days" in capsys.readouterr().out
    # no live offer on the campaign day: a clear message and a non-zero exit, not "Top 0 offers"
    assert main(["recommend", "--workspace", str(ws_path), "--run", run_id, "--user", "C000004", "--as-of", "2027-01-01"]) == EXIT_BAD_INPUT
    assert "no offer is live on 2027-01-01: the last one ended on 2026-06-30" in capsys.readouterr().err
    at.date_input(key="reco_active_day").set_value(__import__("datetime").date(2027, 1, 1)).run()
    assert not at.exception
    assert any("no offer is live on 2027-01-01" in w.value for w in at.warning)
    # plain text, the other views and clear errors
    assert main(["recommend", "--workspace", str(ws_path), "--run", run_id, "--user", "C000004", "--view", "score"]) == 0
    assert "the average customer with the average offer" in capsys.readouterr().out
    assert main(["recommend", "--workspace", str(ws_path), "--run", run_id, "--user", "nobody"]) == EXIT_BAD_INPUT
    assert "not known to this model" in capsys.readouterr().err
    assert main(["recommend", "--workspace", str(ws_path), "--run", "R9999", "--user", "C000004"]) == EXIT_BAD_INPUT
    assert main(["recommend", "--workspace", str(ws_path), "--run", run_id, "--user", "C000004", "--active-on", "soon"]) == EXIT_BAD_INPUT
    assert "YYYY-MM-DD" in capsys.readouterr().err
    # the CLI's literal choices are the library's
    from recsys.cli import build_parser

    sub = build_parser()._subparsers._group_actions[0].choices["recommend"]  # type: ignore[union-attr]
    choices = {a.dest: set(a.choices or ()) for a in sub._actions}
    assert choices["view"] == set(A.VIEWS) and choices["exclude"] == set(R.EXCLUDE_CHOICES)


def test_the_explanation_speaks_the_chance_in_chinese(trained_ws: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMOLENS_WORKSPACE", str(trained_ws[0]))
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(PAGE, default_timeout=300)
    at.session_state["language"] = "zh_CN"
    at.run()
    assert_clean(at)
    chance = next(m for m in at.metric if m.label == "14 天内核销概率")
    assert re.fullmatch(r"\d+\.\d%", chance.value) and chance.delta.endswith(" 个百分点"), (chance.value, chance.delta)
    assert re.fullmatch(r"\d+\.\d%", next(m for m in at.metric if m.label == "比较基准").value)
    assert any(c.value.startswith("起点是此优惠只与该客户的平均优惠一样合适时的核销概率") for c in at.caption)
    assert any("概率变化(百分点)" in d.value.columns for d in at.dataframe)  # the points table, its header translated


def test_a_new_customer_opens_at_their_first_offer_and_the_browser_is_told(trained_ws: tuple[Path, str],
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The "Open the explanation of" choice: a new customer opens at their #1 even when the offer open before is
    in their list too (at another rank: its label, which carries the rank, would be stale in the browser); the
    same customer keeps the open offer in a shorter list. Whenever the list changes the page sets the choice,
    so the server tells the browser (set_value) instead of leaving it the old label."""
    def listed_items() -> list[str]:
        return next(d.value for d in at.dataframe if "why (strongest lifts)" in d.value.columns)[C.ITEM_ID].tolist()

    at = open_page(trained_ws[0], monkeypatch)
    at.radio(key="reco_find").set_value("By customer id").run()
    at.text_input(key="reco_user_id").set_value("C000004").run()
    first = listed_items()
    at.selectbox(key="reco_offer").set_value(first[1]).run()
    assert metric(at, "Rank") == 2 and not at.selectbox(key="reco_offer").proto.set_value  # the browser's own choice
    at.number_input(key="reco_k").set_value(5).run()  # the same customer, a shorter list: the open offer stays
    assert at.selectbox(key="reco_offer").value == first[1] and metric(at, "Rank") == 2
    assert at.selectbox(key="reco_offer").proto.set_value
    at.number_input(key="reco_k").set_value(10).run()
    others = [u for u in (f"C{n:06d}" for n in range(5, 60))]
    for other in others:  # a customer whose list also has the open offer, at another rank (the case that went stale)
        at.text_input(key="reco_user_id").set_value(other).run()
        second = listed_items()
        if first[1] in second and second.index(first[1]) != 1:
            break
        at.text_input(key="reco_user_id").set_value("C000004").run()
        at.selectbox(key="reco_offer").set_value(first[1]).run()
    else:
        pytest.fail("no customer among C000005-C000059 lists C000004's #2 at another rank")
    assert_clean(at)
    box = at.selectbox(key="reco_offer")
    assert box.value == second[0] and metric(at, "Rank") == 1 and box.proto.set_value
    assert box.proto.raw_value == box.options[0] and box.options[0].startswith("#1 · ")
