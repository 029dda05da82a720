"""Every page in Chinese (issue 19): rendered with AppTest on the Chinese small shop, with the session's
language set to Simplified Chinese, no English is left outside the data's own names and the product,
format and method names of ``zh_text.KEEP``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.zh_text import english_leftovers

ROOT = Path(__file__).resolve().parents[2]


def _nothing(at: AppTest) -> None:
    """Open the page only."""


def _submit(at: AppTest, form: str) -> None:
    """Click the submit button of ``form`` (its label is translated: found by its form)."""
    next(b for b in at.button if b.proto.form_id == form).click()
    at.run()


def _campaign(at: AppTest) -> None:
    """Preview an A/B audience for two live offers, so every preview table, chart and banner renders; export it."""
    at.toggle(key="campaign_show_ended").set_value(True).run()
    offers = at.multiselect(key="campaign_offers")
    live = [o for o in offers.options if "进行中" in o][:2]  # labels "name (id) · dates · status", in Chinese
    assert len(live) == 2, offers.options[:5]
    offers.set_value([o.rsplit("(", 1)[1].split(")")[0] for o in live])
    at.checkbox(key="campaign_ab").check()
    at.number_input(key="campaign_amount").set_value(30)
    _submit(at, "campaign_form")
    assert at.metric and at.get("plotly_chart"), "the preview did not render"
    at.button(key="campaign_export").click().run()
    assert at.success, "the export was not confirmed"


def _fairness(at: AppTest) -> None:
    """The audit runs on opening; draw the re-ranking trade-off curve too (in the last tab, "Fix it")."""
    _open_tab(at, "fair_tab", at.tabs[-1].label)
    at.button(key="fair_draw").click().run()
    assert at.select_slider(key="fair_strength") is not None


def _rfm(at: AppTest) -> None:
    """RFM segments (the default view): sizes, trend, grid, figures, profile card and comparison."""
    assert at.radio(key="seg_method").value == "rfm" and at.get("plotly_chart"), "the RFM view did not render"


def _clusters(at: AppTest) -> None:
    """Behavioural clusters of the run: sizes, silhouette, customer map, profile with top offers, comparison."""
    at.radio(key="seg_method").set_value("clusters").run()
    assert at.selectbox(key="seg_k") is not None and at.get("plotly_chart")


def _measure(at: AppTest) -> None:
    """Upload a results table written in Chinese (arm values and outcome columns) and measure the lift."""
    rng = np.random.default_rng(0)
    n = 3000
    group = np.where(np.arange(n) % 5 == 0, "对照组", "优惠券")
    score = rng.random(n)
    bought = rng.random(n) < np.where(group == "优惠券", 0.10 + 0.1 * score, 0.05)
    frame = pd.DataFrame({"客户": [f"c{i}" for i in range(n)], "组别": group, "是否购买": bought.astype(int),
                          "金额": np.where(bought, 30.0, 0.0), "得分": score})
    at.file_uploader(key="measure_upload").set_value(("结果.csv", frame.to_csv(index=False).encode(), "text/csv")).run()
    at.selectbox(key="measure_control").set_value("对照组")
    at.multiselect(key="measure_outcomes").set_value(["是否购买", "金额"])
    at.selectbox(key="measure_score").set_value("得分")
    _submit(at, "measure_form")
    assert at.success, "no verdict was rendered"




def _run(at: AppTest) -> None:
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def _open_tab(at: AppTest, key: str, label: str) -> None:
    """Open a tab of the tabs kept under ``key`` (only the open tab's content is rendered)."""
    at.session_state[key] = label
    _run(at)


#: The pages whose tabs render only the open one (``shared.lazy_tabs``), by the tabs' session key.
LAZY_TABS = {"recommendations": "reco_tab", "fairness": "fair_tab"}


def _data(at: AppTest) -> None:
    """The overview (first tab), then a Chinese shop's GBK export uploaded: the mapping form and its options."""
    at.selectbox(key="overview_user_column").set_value("region")
    _run(at)
    orders = pd.DataFrame({
        "会员编号": ["A01", "A01", "A02", "A03"], "商品编码": ["P1", "P2", "P1", "P3"],
        "下单时间": ["2026-03-01 10:00:00", "2026-03-02 11:00:00", "2026-03-02 12:00:00", "2026-03-03 09:30:00"],
        "订单金额": [199.0, 59.5, 199.0, 25.0], "城市": ["上海", "上海", "北京", "广州"],
    })
    at.file_uploader(key="upload_interactions").set_value(
        ("订单.csv", orders.to_csv(index=False).encode("gbk"), "text/csv"))
    _run(at)
    # the GBK file is read as Chinese and its Chinese headers are mapped without help
    assert at.selectbox(key="map_interactions_user_id").value == "会员编号"
    assert at.selectbox(key="map_interactions_item_id").value == "商品编码"
    assert at.selectbox(key="map_interactions_timestamp").value == "下单时间"


def _train(at: AppTest) -> None:
    """A tiny model trained from the form (3 epochs, 8 components): verdicts, tables and charts of the new run."""
    at.number_input(key="train_epochs").set_value(3)
    at.number_input(key="train_components").set_value(8)
    next(b for b in at.button if b.label == "训练并评估").click()
    _run(at)
    assert at.session_state["run_id"] == "r2"
    at.selectbox(key="train_group_col").set_value("region")
    _run(at)


def _recommendations(at: AppTest) -> None:
    """A customer picked from a segment, every offer (not only the campaign day's), the second offer explained."""
    at.checkbox(key="reco_active").uncheck()
    _run(at)
    assert at.selectbox(key="reco_offer").options, "the customer has a list"
    reasons = [v for df in at.dataframe for c in df.value.columns if str(c).startswith(("why", "原因")) for v in df.value[c]]
    assert reasons and all(" pt" not in r and "because" not in r for r in reasons), reasons  # the reasons too
    events = [v for df in at.dataframe if "事件" in df.value.columns for v in df.value["事件"]]
    assert events and not {"impression", "view", "click", "redeem", "purchase"} & set(events), events  # the vocabulary's
    at.selectbox(key="reco_offer").set_value(at.selectbox(key="reco_offer").options[1])
    _run(at)
    at.radio(key="reco_find").set_value("By customer id")
    _run(at)
    at.text_input(key="reco_user_id").set_value("C000004")
    _run(at)
    _open_tab(at, "reco_tab", at.tabs[1].label)  # "What if"
    assert at.selectbox(key="reco_whatif_column").options


#: (page, what to do on it before checking): every page, with its main interactions.
PAGES: list[tuple[str, Callable[[AppTest], None]]] = [
    ("data", _data), ("train", _train), ("recommendations", _recommendations),
    ("campaign", _campaign), ("fairness", _fairness), ("segments", _rfm), ("segments", _clusters),
    ("measure", _measure),
]


def data_names(ws_path: Path, dataset_id: str) -> set[str]:
    """The shop's own names: column names and the text values of its customer and offer tables."""
    from recsys.workspace.store import Workspace

    data = Workspace(ws_path).load_dataset(dataset_id)
    names: set[str] = set()
    for frame in (data.interactions, data.users, data.items):
        if frame is None:
            continue
        names.update(map(str, frame.columns))
        for column in frame.columns:
            dtype = frame[column].dtype  # text columns: object, pandas strings or categories
            if dtype == object or pd.api.types.is_string_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):
                names.update(map(str, frame[column].dropna().unique()[:500]))
    return names


def open_in_chinese(page: str, ws_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("PROMOLENS_WORKSPACE", str(ws_path))
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "pages" / f"{page}.py"), default_timeout=300)
    at.session_state["language"] = "zh_CN"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize(("page", "action"), PAGES, ids=[f"{p}-{a.__name__.strip('_')}" for p, a in PAGES])
def test_page_speaks_chinese(page: str, action: Callable[[AppTest], None], zh_workspace, monkeypatch) -> None:  # noqa: ANN001
    at = open_in_chinese(page, zh_workspace.path, monkeypatch)
    action(at)
    assert not at.exception, [e.value for e in at.exception]
    names = data_names(zh_workspace.path, zh_workspace.dataset_id)
    left = english_leftovers(at, names)
    if page in LAZY_TABS:  # every tab's content, one open tab at a time
        labels = [t.label for t in at.tabs]
        assert len(labels) >= 4, labels
        for label in labels:
            _open_tab(at, LAZY_TABS[page], label)
            assert [t.label for t in at.tabs] == labels
            left |= english_leftovers(at, names)
    assert not left, left


def test_the_sidebar_switches_language_and_remembers_it(zh_workspace, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("PROMOLENS_WORKSPACE", str(zh_workspace.path))
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "pages" / "data.py"), default_timeout=300)
    at.run()
    assert at.session_state["language"] == "en"  # AppTest has no browser locale: English
    at.sidebar.selectbox(key="language_picker").set_value("zh_CN").run()
    assert at.session_state["language"] == "zh_CN"
    at.run()
    assert at.sidebar.selectbox(key="language_picker").value == "zh_CN"
