"""AppTest of the Measure page: upload results and read the lift; bad uploads; past exports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from pages import shared
from recsys.core import columns as C
from recsys.workspace import exports
from recsys.workspace.store import Workspace

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120


@pytest.fixture()
def page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("PROMOLENS_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.chdir(ROOT)
    # the Measure page needs no dataset: skip the first-start sample import to keep the test fast
    monkeypatch.setattr(shared, "ensure_sample_dataset", lambda ws: None)
    at = AppTest.from_file(str(ROOT / "pages" / "measure.py"), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def results_csv(n: int = 4000, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    group = np.where(np.arange(n) % 5 == 0, "control", "coupon")
    converted = rng.random(n) < np.where(group == "coupon", 0.15, 0.05)
    frame = pd.DataFrame({
        "customer": [f"c{i}" for i in range(n)], "group": group,
        "converted": np.where(converted, "yes", "no"), "revenue": np.where(converted, 30.0, 0.0),
    })
    return frame.to_csv(index=False).encode()


def click(at: AppTest, label: str) -> None:
    next(b for b in at.button if b.label == label).click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def test_uploaded_results_show_the_lift(page: AppTest) -> None:
    page.file_uploader(key="measure_upload").set_value(("campaign.csv", results_csv(), "text/csv"))
    page.run()
    assert not page.exception, [e.value for e in page.exception]
    assert page.selectbox(key="measure_arm").value == "group"
    assert page.selectbox(key="measure_control").value == "control"
    assert page.multiselect(key="measure_outcomes").value == ["converted", "revenue"]
    click(page, "Measure lift")
    verdicts = " ".join(s.value for s in page.success)
    assert "coupon raised the converted rate" in verdicts and "p < 0.001" in verdicts
    assert "coupon raised revenue per customer" in verdicts
    table = page.dataframe[1].value
    coupon = table[table["arm"] == "coupon"].iloc[0]
    assert coupon["customers"] == 3200 and 7 < coupon["lift pts"] < 13
    assert coupon["95% CI low"] < coupon["lift pts"] < coupon["95% CI high"]
    assert "promolens measure --data campaign.csv --arm group --control control" in page.code[0].value


def test_bad_upload_names_file_column_and_fix(page: AppTest, tmp_path: Path) -> None:
    before = Workspace(tmp_path / "ws").snapshot()
    bad = pd.DataFrame({"group": ["control", "coupon", "coupon", "control"], "revenue": [10.0, None, 5.0, 0.0]})
    page.file_uploader(key="measure_upload").set_value(("bad.csv", bad.to_csv(index=False).encode(), "text/csv"))
    page.run()
    assert page.multiselect(key="measure_outcomes").value == ["revenue"]
    click(page, "Measure lift")
    assert any("bad.csv could not be measured" in e.value for e in page.error)
    problem = next(m.value for m in page.markdown if "**bad.csv**" in m.value)
    assert "column **revenue**" in problem and "rows 3" in problem and "*Fix:*" in problem
    assert not page.success
    assert Workspace(tmp_path / "ws").snapshot() == before


def test_binary_junk_upload_is_refused_with_a_message(page: AppTest) -> None:
    page.file_uploader(key="measure_upload").set_value(("photo.csv", bytes(range(256)) * 40, "text/csv"))
    page.run()
    assert not page.exception
    assert any("photo.csv" in e.value for e in page.error)
    assert not [b for b in page.button if b.label == "Measure lift"]


def test_outcomes_of_a_past_export_are_measured_and_recorded(page: AppTest, tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    n = 2000
    targets = pd.DataFrame({
        C.USER_ID: [f"c{i}" for i in range(n)], C.ITEM_ID: "A", C.SCORE: np.linspace(0, 1, n), C.RANK: 1,
        C.GROUP: np.where(np.arange(n) % 10 == 0, C.CONTROL, C.TREATMENT),
    })
    exports.save_export(ws, targets, params={"spec": {"holdout_share": 0.1}})
    buyers = targets.loc[(targets[C.GROUP] == C.TREATMENT) & (np.arange(n) % 3 == 0), C.USER_ID]
    outcomes = pd.DataFrame({"user_id": buyers, "redeemed": 1}).to_csv(index=False).encode()
    page.radio(key="measure_source").set_value("export")
    page.run()
    assert page.selectbox(key="measure_export").value == "e1"
    page.file_uploader(key="measure_outcomes_upload").set_value(("redeemed.csv", outcomes, "text/csv"))
    page.run()
    assert page.selectbox(key="measure_user_column").value == "user_id"
    click(page, "Measure lift")
    assert any("treatment raised the redeemed rate" in s.value for s in page.success)
    assert [m["export_id"] for m in ws.measurements()] == ["e1"]
