"""AppTest of the Segments page: RFM, customer facts, behavioural clusters, saving and comparing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from recsys.core import columns as C
from recsys.insight import rfm as R
from recsys.insight import segments as S
from recsys.workspace.ingest import ensure_sample_dataset
from recsys.data.prepare import prepare_dataset
from recsys.workspace.store import Workspace

if TYPE_CHECKING:
    from tests.conftest import TrainedWorkspace

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "segments.py")


@pytest.fixture(scope="module")
def plain_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample shop, no model yet."""
    path = tmp_path_factory.mktemp("segments") / "ws"
    ensure_sample_dataset(Workspace(path))
    return path


@pytest.fixture()
def trained_ws(sample_workspace: TrainedWorkspace) -> tuple[Path, str]:
    """The sample shop with one tiny, fast model run (a fresh copy of the session's sample workspace)."""
    return sample_workspace.path, sample_workspace.run_id


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


def charts(at: AppTest) -> int:
    return len(at.get("plotly_chart"))


def test_rfm_is_the_default_with_sizes_trend_heatmap_profile_and_comparison(plain_ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(plain_ws, monkeypatch)
    assert at.radio(key="seg_method").value == "rfm"
    assert [s.value for s in at.subheader] == [
        "Which offers each group responds to", "Map of customers", "Segment profile", "Compare two segments",
    ]
    assert charts(at) >= 7  # sizes, trend, RFM grid, heatmap, two lift bars, comparison
    assert any("RFM as of 01 Jul 2026" in c.value for c in at.caption)
    assert any("exposed customer-offer pair" in c.value for c in at.caption)
    assert any("train a model" in i.value for i in at.info)  # the map needs a model
    labels = at.selectbox(key="seg_profile_label").options
    assert labels[:2] == ["champions", "loyal"] and labels[-1] == R.NO_PURCHASE
    assert [m.label for m in at.metric][:4] == ["Customers", "Share of value", "Value per customer", "Responded"]
    at.radio(key="seg_metric").set_value("value_per_customer")
    at.selectbox(key="seg_offer_column").set_value("discount_depth")
    at.selectbox(key="seg_compare_b").set_value("hibernating")
    at.run()
    assert_clean(at)
    compare_table = at.dataframe[-1].value
    assert list(compare_table.columns) == ["champions", "hibernating"]


def test_an_earlier_reference_date_changes_the_segments(plain_ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(plain_ws, monkeypatch)
    at.date_input(key="seg_ref_date").set_value(pd.Timestamp("2026-03-01").date())
    at.run()
    assert_clean(at)
    assert any("RFM as of 01 Mar 2026" in c.value for c in at.caption)
    first_metric = at.metric[0].value
    ws = Workspace(plain_ws)
    data = ws.load_dataset(ws.datasets()[0].id)
    expected = R.rfm(data.interactions, "2026-03-01", users=data.users).table[S.SEGMENT]
    label = at.selectbox(key="seg_profile_label").value
    assert first_metric == f"{(expected == label).sum():,}"


def test_save_a_profile_segment_view_it_and_delete_it(plain_ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(plain_ws, monkeypatch)
    ws = Workspace(plain_ws)
    before = len(ws.segments())
    at.selectbox(key="seg_profile_label").set_value("champions")
    at.run()
    at.text_input(key="seg_profile_name::champions").set_value("Best customers")
    next(b for b in at.button if b.label == "Save segment").click()
    at.run()
    assert_clean(at)
    assert any("Saved **Best customers**" in s.value for s in at.success)
    saved = ws.segments()
    assert len(saved) == before + 1
    newest = saved[0]
    data = ws.load_dataset(newest["dataset_id"])
    champions = R.rfm(data.interactions, users=data.users).segmentation().members("champions")
    assert newest["name"] == "Best customers" and newest["definition"]["segment"] == "champions"
    assert sorted(ws.segment_members(newest["id"])) == sorted(champions)

    at.radio(key="seg_method").set_value("saved")
    at.run()
    assert_clean(at)
    assert at.selectbox(key="seg_profile_label").options == ["Best customers", "everyone else"]
    assert at.metric[0].value == f"{len(champions):,}"

    at.selectbox(key="seg_delete_id").set_value(newest["id"])
    at.checkbox(key="seg_delete_sure").check()
    next(b for b in at.button if b.label == "Delete segment").click()
    at.run()
    assert_clean(at)
    assert len(ws.segments()) == before


def test_segments_by_a_combination_of_customer_columns(plain_ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(plain_ws, monkeypatch)
    at.radio(key="seg_method").set_value("columns")
    at.run()
    at.multiselect(key="seg_columns").set_value(["region", "loyalty_tier"])
    at.run()
    assert_clean(at)
    options = at.selectbox(key="seg_profile_label").options
    assert all(" · " in o for o in options) and len(options) == 20  # 5 regions x 4 tiers
    assert "region" not in at.selectbox(key="seg_compare_column").options  # not a trait of its own split
    at.multiselect(key="seg_columns").set_value([])
    at.run()
    assert_clean(at)
    assert any("at least one customer column" in i.value for i in at.info)


def test_clusters_without_a_model_invite_training(plain_ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(plain_ws, monkeypatch)
    at.radio(key="seg_method").set_value("clusters")
    at.run()
    assert_clean(at)
    assert any("train one on the Train page" in i.value for i in at.info)


def test_behavioural_clusters_map_and_top_offers_with_a_tiny_run(trained_ws: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    path, run_id = trained_ws
    at = open_page(path, monkeypatch)
    assert at.sidebar.selectbox(key="run_id").value == run_id
    # RFM segments on the map too, since a model exists
    assert any("at most 5,000 are drawn" in c.value for c in at.caption)
    at.radio(key="seg_method").set_value("clusters")
    at.run()
    assert_clean(at)
    assert any("the silhouette score suggested" in c.value for c in at.caption)
    suggested = at.selectbox(key="seg_profile_label").options
    assert suggested[0] == "cluster 1" and 3 <= len(suggested) <= 10
    at.selectbox(key="seg_k").set_value(4)
    at.run()
    assert_clean(at)
    assert at.selectbox(key="seg_profile_label").options == [f"cluster {i}" for i in range(1, 5)]
    assert any("4 clusters (your choice)" in c.value for c in at.caption)
    top_offers, distinctive = [d.value for d in at.dataframe if "top_k_share" in d.value.columns]
    assert len(top_offers) == 5 and top_offers["item_id"].str.startswith("OFF").all()
    # what a marketer reads: the chance of redeeming and points above everyone, no raw scores
    assert not {"mean_score", "base_mean_score", "uplift", "base_chance"} & (set(top_offers.columns) | set(distinctive.columns))
    assert top_offers["chance"].is_monotonic_decreasing and top_offers["chance"].between(0, 1).all()
    assert distinctive["chance_uplift"].is_monotonic_decreasing and distinctive["chance_uplift"].abs().max() <= 100
    assert distinctive["chance_uplift"].iloc[0] >= top_offers["chance_uplift"].max()  # ranked by the points
    assert any("Offers they are most likely to redeem" in m.value for m in at.markdown)
    # a cluster saved under a name shows that name in the pickers from then on
    at.selectbox(key="seg_profile_label").set_value("cluster 2")
    at.run()
    at.text_input(key="seg_profile_name::cluster 2").set_value("Young deal seekers")
    next(b for b in at.button if b.label == "Save segment").click()
    at.run()
    assert_clean(at)
    at.run()  # the next interaction
    assert at.selectbox(key="seg_profile_label").options[:2] == ["cluster 1", "Young deal seekers (cluster 2)"]
    assert "Young deal seekers (cluster 2)" in at.selectbox(key="seg_compare_b").options


def test_a_dataset_without_dates_or_customer_facts_gets_plain_messages(plain_ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws_path = tmp_path / "bare"
    ws = Workspace(ws_path)
    bare = pd.DataFrame({C.USER_ID: ["a", "b", "a"], C.ITEM_ID: ["x", "y", "y"]})
    ws.save_dataset(prepare_dataset(bare), "bare")
    at = open_page(ws_path, monkeypatch)
    assert any("no dates" in w.value for w in at.warning)
    at.radio(key="seg_method").set_value("columns")
    at.run()
    assert_clean(at)
    assert any("no customer columns" in i.value for i in at.info)
