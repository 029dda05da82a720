"""AppTest of the Campaign page: preview an audience, export it, find it in the history and download it."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pages import shared
from recsys import cli
from recsys.campaign import export
from recsys.workspace import runs
from recsys.data import synth
from recsys.core import columns as C
from recsys.workspace.ingest import import_files
from recsys.learn.config import ModelConfig
from recsys.learn.pipeline import TrainConfig
from recsys.workspace.store import Workspace

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 180
CONTROL_PURPOSE = "these customers get no coupon so we can measure the lift later on the Measure page"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with a small shop (300 customers, 30 offers) and a tiny run, made once."""
    root = tmp_path_factory.mktemp("campaign_page")
    files = synth.write_sample(synth.generate(n_users=300, n_items=30, seed=3), root / "shop")
    ws = Workspace(root / "ws")
    info, _ = import_files(ws, files["interactions"], files["users"], files["items"], name="small shop")
    runs.train_run(ws, info.id, TrainConfig(model=ModelConfig(epochs=3, no_components=8)))
    return root / "ws"


def open_page(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("PROMOLENS_WORKSPACE", str(workspace))
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(shared, "ensure_sample_dataset", lambda ws: None)  # keep the test fast
    at = AppTest.from_file(str(ROOT / "pages" / "campaign.py"), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture()
def page(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    shutil.copytree(template, tmp_path / "ws")
    return open_page(tmp_path / "ws", monkeypatch)


def click(at: AppTest, label: str) -> None:
    next(b for b in at.button if b.label == label).click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def test_preview_export_history_and_download(page: AppTest, tmp_path: Path) -> None:
    offers = page.multiselect(key="campaign_offers")
    assert not [o for o in offers.options if "(OFF0001)" in o]  # an ended offer is not offered by default
    assert offers.options and all(o.endswith((" · live", " · upcoming")) for o in offers.options)
    page.toggle(key="campaign_show_ended").set_value(True)
    page.run()
    offers = page.multiselect(key="campaign_offers")
    [spring] = [o for o in offers.options if "(OFF0001)" in o]  # names, dates and status, not bare ids
    assert spring.startswith("Spring Beauty 20% off (OFF0001) · 2026-") and spring.endswith(" to 2026-05-10 · ended")
    offers.set_value(["OFF0001", "OFF0004"])
    click(page, "Preview audience")  # OFF0001 ended before the campaign day (the data's last day): a clear message
    assert any("offer OFF0001 ended on 2026-05-10" in e.value for e in page.error), [e.value for e in page.error]
    page.checkbox(key="campaign_all_offers").check()
    page.number_input(key="campaign_amount").set_value(30)
    page.slider(key="campaign_holdout").set_value(20)
    page.multiselect(key="campaign_filter_age_band").set_value(["18-24", "25-34"])
    click(page, "Preview audience")
    metrics = {m.label: m.value for m in page.metric}
    assert metrics["Customers getting a coupon"] == "48" and metrics["Control group (no coupon)"] == "12"
    assert any(CONTROL_PURPOSE in i.value for i in page.info)
    assert any(CONTROL_PURPOSE in c.value for c in page.caption)
    expected = float(metrics["Expected responders within 14 days"].replace(",", ""))
    assert 0 < expected < 48
    assert any(c.value.startswith("Expected responders: ") and "95% interval" in c.value for c in page.caption)
    assert page.selectbox(key="campaign_fair_column").value == "age_band"  # a sensitive column, audited by default
    assert any("four-fifths" in w.value and "age band = " in w.value for w in page.warning)  # only two bands targeted
    preview = next(d.value for d in page.dataframe if C.REASONS in d.value.columns)
    assert len(preview) == 60 and preview[C.REASONS].str.len().gt(0).all()
    assert set(preview["offer"]) == {"Spring Beauty 20% off", "Winter Grocery Flash sale 30% off"}
    [command] = [c.value for c in page.code if c.value.startswith("promolens export")]
    assert "--item OFF0001 --item OFF0004" in command and "--filter age_band in 18-24,25-34" in command
    assert "--check-fairness age_band" in command and "--all-offers" in command
    chances = preview["probability"]  # shown as a % (0-100)
    assert chances.between(0, 100).all() and C.SCORE not in preview.columns

    click(page, "Export targeting list")
    assert any("Exported **e1**" in s.value for s in page.success)
    assert page.button(key="campaign_export").disabled  # the same preview is not exported twice
    ws = Workspace(tmp_path / "ws")
    [record] = ws.exports()
    assert record["id"] == "e1" and record["n_rows"] == 60
    assert export.verify(ws.export_dir("e1"))
    assert page.selectbox(key="campaign_history_pick").value == "e1"
    history = page.dataframe[-1].value
    assert history["export"].tolist() == ["e1"] and history["treatment"].tolist() == [48]
    downloads = [d.proto.label for d in page.get("download_button")]
    assert downloads == ["Download e1 (CSV)", "Download its manifest (JSON)"]

    # the command shown on the page makes the very same file
    out = tmp_path / "cli.csv"
    argv = shlex.split(command)[1:]
    argv[argv.index("--out") + 1] = str(out)
    assert cli.main(argv) == 0
    assert export.sha256_file(out) == record["sha256"]


def test_bad_settings_get_a_message_not_a_traceback(page: AppTest) -> None:
    page.toggle(key="campaign_show_ended").set_value(True)
    page.run()
    page.checkbox(key="campaign_all_offers").check()
    click(page, "Preview audience")
    assert any("Choose at least one offer" in e.value for e in page.error)
    page.multiselect(key="campaign_offers").set_value(["OFF0001"])
    page.number_input(key="campaign_amount").set_value(2.5)
    click(page, "Preview audience")
    assert any("whole number of coupons" in e.value for e in page.error)
    page.number_input(key="campaign_amount").set_value(100)
    page.radio(key="campaign_limit").set_value("money")
    page.selectbox(key="campaign_cost_column").set_value("discount_depth")
    page.selectbox(key="campaign_percent_of").set_value("min_spend")
    page.multiselect(key="campaign_offers").set_value(["OFF0004"])  # a flash sale: minimum spend 0
    click(page, "Preview audience")
    assert any("costs nothing" in e.value for e in page.error)
    assert not page.metric and not [b for b in page.button if b.label == "Export targeting list"]


def test_without_a_run_the_page_asks_for_training(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(template, tmp_path / "ws")
    ws = Workspace(tmp_path / "ws")
    for run in ws.runs():
        ws.delete_run(run["id"])
    at = open_page(tmp_path / "ws", monkeypatch)
    assert any("Train a model on the Train page first" in i.value for i in at.info)
    assert any("No exports yet" in c.value for c in at.caption)


def test_exporting_keeps_the_preview_and_the_next_preview_skips_those_just_sent(page: AppTest) -> None:
    page.toggle(key="campaign_show_ended").set_value(True)
    page.run()
    page.checkbox(key="campaign_all_offers").check()
    page.multiselect(key="campaign_offers").set_value(["OFF0001"])
    page.number_input(key="campaign_amount").set_value(25)
    page.number_input(key="campaign_contacted").set_value(1)
    click(page, "Preview audience")

    def listed(group: str | None = None) -> set[str]:
        table = next(d.value for d in page.dataframe if C.REASONS in d.value.columns)
        return set(table.loc[table[C.GROUP] == group, C.USER_ID] if group else table[C.USER_ID])

    before, sent = listed(), listed(C.TREATMENT)
    click(page, "Export targeting list")
    assert listed() == before  # what was exported is still what is shown
    click(page, "Preview audience")  # a new preview: customers just sent a coupon are left out (controls got none)
    assert sent and not listed() & sent
    assert not page.button(key="campaign_export").disabled


def test_a_saved_re_ranking_is_in_view_and_in_the_manifest(page: AppTest, tmp_path: Path) -> None:
    import json

    from recsys.insight.rerank import RerankSettings
    from recsys.insight.rules import ItemRule
    from recsys.workspace.audit import save_rerank

    ws = Workspace(tmp_path / "ws")
    [run] = ws.runs()
    save_rerank(ws, run["id"], RerankSettings(kind="boost", strength=1.0, pool=30,
                                              items=ItemRule.parse("discount_depth>=30")))
    page.toggle(key="campaign_show_ended").set_value(True)
    page.run()
    assert any("Fairness re-ranking on:" in w.value and "Boost offers with" in w.value for w in page.warning)
    page.checkbox(key="campaign_all_offers").check()
    page.multiselect(key="campaign_offers").set_value(["OFF0001", "OFF0004"])
    page.number_input(key="campaign_amount").set_value(40)
    click(page, "Preview audience")
    [cost] = [w.value for w in page.warning if "Cost of the fairness re-ranking" in w.value]
    assert "expected responders with it" in cost and "with the model alone" in cost
    click(page, "Export targeting list")
    manifest = json.loads((ws.export_dir("e1") / "manifest.json").read_text(encoding="utf-8"))
    recorded = manifest["params"]["fairness_rerank"]
    assert recorded["settings"]["kind"] == "boost" and recorded["description"].startswith("Boost offers with")
    assert recorded["expected_with"] <= recorded["expected_without"] + 1e-9  # the model alone maximises the sum


def test_an_ab_test_splits_the_audience_between_offers_and_exports_the_arm_column(page: AppTest, tmp_path: Path) -> None:
    page.toggle(key="campaign_show_ended").set_value(True)
    page.run()
    page.multiselect(key="campaign_offers").set_value(["OFF0001", "OFF0004"])
    page.checkbox(key="campaign_all_offers").check()
    page.checkbox(key="campaign_ab").check()
    page.text_input(key="campaign_arm_shares").set_value("3 1")
    page.slider(key="campaign_holdout").set_value(25)
    click(page, "Preview audience")
    assert not page.error, [e.value for e in page.error]
    assert any("A/B test: 2 arms" in m.value for m in page.markdown)
    arms = next(d.value for d in page.dataframe if "planned share" in d.value.columns).set_index(C.ITEM_ID)
    assert arms["planned share"].round().tolist() == [75, 25]
    total = arms["customers sent it"] + arms["its controls (no coupon)"]
    assert abs(total["OFF0001"] - 3 * total["OFF0004"]) <= 4
    metrics = {m.label: m.value for m in page.metric}
    assert int(metrics["Control group (no coupon)"]) == arms["its controls (no coupon)"].sum()
    [command] = [c.value for c in page.code if c.value.startswith("promolens export")]
    assert "--ab --arm-shares 3 1" in command
    click(page, "Export targeting list")
    ws = Workspace(tmp_path / "ws")
    [record] = ws.exports()
    frame = export.read_targets(ws.export_dir(record["id"]))
    assert frame[C.USER_ID].is_unique and set(frame[C.ARM]) == {"OFF0001", "OFF0004", C.CONTROL}
