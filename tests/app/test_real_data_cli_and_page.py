"""UCI Online Retail through the CLI and through the Data page (skipped when ../shared is absent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from recsys.cli import main
from recsys.data.clean import OVERLAP_LINE, TOTAL_LINE
from recsys.workspace.store import Workspace
from recsys.data.validate import CleaningReport

ROOT = Path(__file__).resolve().parents[2]
RETAIL = ROOT.parent / "shared" / "data" / "online_retail"
PARQUET = RETAIL / "online_retail.parquet"
XLSX = RETAIL / "Online_Retail_prefix_70051rows.xlsx"

pytestmark = pytest.mark.slow  # half a million real rows through import (and a training)


def _count(report: dict, name_part: str) -> int:
    frame = CleaningReport.from_dict(report).to_frame()
    hits = frame[frame["name"].str.contains(name_part, case=False)]
    assert len(hits) >= 1, f"no cleaning step named like {name_part!r}: {frame['name'].tolist()}"
    return int(hits["count"].iloc[0])


@pytest.mark.skipif(not PARQUET.exists(), reason=f"{PARQUET} is absent (real data lives in ../shared/data)")
def test_online_retail_parquet_through_the_cli(tmp_path: Path, capsys) -> None:
    code = main(["import", "--workspace", str(tmp_path / "ws"), "--interactions", str(PARQUET), "--json"])
    assert code == 0, capsys.readouterr().err
    dataset = json.loads(capsys.readouterr().out)["dataset"]
    assert dataset["report"]["rows_in"]["interactions"] == 541_909
    assert _count(dataset["report"], "without a customer id") == 135_080
    assert _count(dataset["report"], "cancel") == 9_288
    assert _count(dataset["report"], "negative quantity") == 10_624
    assert dataset["n_users"] >= 4_300
    user_facts = {c["name"] for c in dataset["user_schema"]}
    assert "Country" in user_facts


@pytest.mark.skipif(not XLSX.exists(), reason=f"{XLSX} is absent (real data lives in ../shared/data)")
def test_online_retail_xlsx_through_the_data_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMOLENS_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "pages" / "data.py"), default_timeout=300)
    at.run()
    at.file_uploader(key="upload_interactions").set_value(
        (XLSX.name, XLSX.read_bytes(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    )
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="map_interactions_user_id").value == "CustomerID"
    next(b for b in at.button if b.label == "Check and import").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    info = Workspace(tmp_path / "ws").datasets()[0]
    assert info.sources[0]["name"] == XLSX.name
    assert info.report["rows_in"]["interactions"] == 70_051
    assert _count(info.report, "without a customer id") == 27_275
    assert _count(info.report, "cancel") == 1_175
    assert _count(info.report, "negative quantity") == 1_287
    shown = next(df.value for df in at.dataframe if "rule" in df.value.columns)  # the cleaning report is on screen
    rules = shown[~shown["rule"].isin([OVERLAP_LINE, TOTAL_LINE])]
    assert (rules["rows"] > 0).all()  # only rules that dropped rows, and the lines add up to the rows dropped
    assert shown["rows"].iloc[-1] == shown["rows"].iloc[:-1].sum() == 70_051 - info.n_interactions
    assert shown["share"].iloc[-1] == pytest.approx(100 * (70_051 - info.n_interactions) / 70_051)
    postage = shown[shown["rule"].str.startswith("non-product lines")]
    assert len(postage) == 1 and "POST" in postage["what"].iloc[0]


@pytest.mark.skipif(not PARQUET.exists(), reason=f"{PARQUET} is absent (real data lives in ../shared/data)")
def test_online_retail_trains_through_the_cli(tmp_path: Path, capsys) -> None:
    ws = str(tmp_path / "ws")
    assert main(["import", "--workspace", ws, "--interactions", str(PARQUET), "--json"]) == 0
    dataset_id = json.loads(capsys.readouterr().out)["dataset"]["id"]
    code = main(["train", "--workspace", ws, "--dataset", dataset_id, "--epochs", "2", "--components", "8",
                 "--no-refit", "--json"])
    assert code == 0, capsys.readouterr().err
    out = json.loads(capsys.readouterr().out)
    metrics = out["metrics"]
    assert set(metrics) == {"hybrid", "collaborative", "popularity", "random", "recent_popularity", "ease",
                            "item_knn", "als"}
    # every model against the validation choice, with a paired interval and a three-way verdict, warm and cold
    comparisons = out["comparisons"]
    assert {c["group"] for c in comparisons} == {"all", "warm", "cold"}
    assert all(c["low"] <= c["diff"] <= c["high"] for c in comparisons if c["n"] >= 2)
    assert out["validation_choice"] == max(out["validation"], key=lambda m: out["validation"][m] or -1)
    # customers x products with Country and description keywords: better than random, clearly
    assert metrics["hybrid"]["precision@10"] > 3 * metrics["random"]["precision@10"]
    run = Workspace(ws).run(out["run_id"])
    assert run["extra"]["user_features"] == ["Country"] and run["extra"]["item_features"] == ["Description"]
    # positive-only data: the targeting judgement says what it can and cannot say
    targeting = out["targeting"]
    print("targeting:", json.dumps({k: targeting.get(k) for k in ("status", "reason", "verdict", "note", "timings")}))
    assert targeting["status"] == "ok", targeting
    assert targeting["data_kind"] == "positive_only" and "no record of who was sent what" in targeting["note"]
