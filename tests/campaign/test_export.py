"""Safe exports: CSV round trips, formula neutralisation, manifest, identifiers, workspace records."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from recsys.core import columns as C
from recsys.campaign import export
from recsys.campaign.export import ExportError, neutralise, restore, write_export
from recsys.workspace import exports
from recsys.workspace.exports import save_export
from recsys.workspace.store import Workspace
from recsys.campaign.audience import build_audience
from recsys.campaign.spec import AudienceSpec

NASTY_IDS = [
    "plain", "a,b", 'say "hi"', "two\nlines", "carriage\rreturn", "crlf\r\ninside", "=SUM(A1:A9)", "+44",
    "-1", "@cmd", "\tleading tab", "\rleading cr", "\nleading lf", "'=already quoted", "ünïcode ✓", "=", "",
]


def nasty_frame() -> pd.DataFrame:
    n = len(NASTY_IDS)
    return pd.DataFrame({
        C.USER_ID: NASTY_IDS,
        C.ITEM_ID: ["=offer", "-10% off"] + ["B"] * (n - 2),
        C.SCORE: [-0.25 + 0.1 * i for i in range(n)],
        C.RANK: [1] * n,
        C.GROUP: [C.TREATMENT, C.CONTROL] * (n // 2) + [C.TREATMENT] * (n % 2),
    })


def test_neutralise_and_restore_are_inverse() -> None:
    values = pd.Series(NASTY_IDS + ["''+x", None])
    safe = neutralise(values)
    assert not safe.dropna().str.match(r"^[=+\-@\t\r\n]").any()
    assert safe.iloc[6] == "'=SUM(A1:A9)" and safe.iloc[0] == "plain"
    assert restore(safe).tolist() == values.tolist()
    numbers = pd.Series([-1.5, 2.0])
    assert neutralise(numbers) is numbers  # numbers stay numbers


def test_csv_round_trip_through_pandas_and_csv_module(tmp_path: Path) -> None:
    frame = nasty_frame()
    reasons = pd.Series([["=bought before", "likes tea"]] + ["-20% fan"] + [""] * (len(frame) - 2))
    result = write_export(frame, tmp_path / "out", reasons=reasons)
    via_pandas = pd.read_csv(result.csv_path, dtype=str, keep_default_na=False)
    assert result.csv_path.read_bytes().startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    with open(result.csv_path, newline="", encoding="utf-8-sig") as fh:
        via_csv = list(csv.reader(fh))
    assert via_csv[0] == list(export.EXPORT_COLUMNS)
    assert [row[0] for row in via_csv[1:]] == via_pandas[C.USER_ID].tolist()
    assert len(via_pandas) == len(frame)
    # every text cell is safe to open in a spreadsheet ...
    for column in (C.USER_ID, C.ITEM_ID, C.GROUP, C.REASONS):
        assert not via_pandas[column].str.match(r"^[=+\-@\t\r\n]").any(), column
    # ... and the originals come back exactly
    back = export.read_csv(result.csv_path)
    assert back[C.USER_ID].tolist() == NASTY_IDS
    assert back[C.ITEM_ID].tolist()[:2] == ["=offer", "-10% off"]
    assert back[C.REASONS].iloc[0] == "=bought before; likes tea"
    assert back[C.SCORE].tolist() == pytest.approx(frame[C.SCORE].tolist(), abs=5e-5)  # negative scores stay numbers
    assert pd.read_csv(result.csv_path)[C.SCORE].dtype.kind == "f"
    assert export.read_targets(tmp_path / "out")[C.USER_ID].tolist() == NASTY_IDS


def test_numeric_ids_stay_numbers(tmp_path: Path) -> None:
    frame = pd.DataFrame({C.USER_ID: [-7, 12], C.ITEM_ID: ["A", "B"], C.SCORE: [0.5, -0.5], C.RANK: [1, 1],
                          C.GROUP: [C.TREATMENT, C.CONTROL]})
    result = write_export(frame, tmp_path)
    lines = result.csv_path.read_text(encoding="utf-8").splitlines()
    assert lines[1].startswith("-7,") and lines[2].startswith("12,")


def test_manifest_sha256_counts_and_parameters(tmp_path: Path) -> None:
    scores = pd.DataFrame({C.USER_ID: [f"c{i}" for i in range(40)] * 2, C.ITEM_ID: ["A"] * 40 + ["B"] * 40,
                           C.SCORE: [i / 80 for i in range(80)]})
    audience = build_audience(scores, None, None, None, AudienceSpec(top_n=15, holdout_share=0.2, seed=3))
    result = write_export(audience, tmp_path / "e", run_id="r7", dataset_fingerprint="abc123",
                          params={"note": "spring"})
    manifest = json.loads(result.manifest_path.read_text(encoding="utf-8"))
    assert manifest["csv"]["sha256"] == export.sha256_file(result.csv_path)
    assert export.verify(tmp_path / "e")
    assert manifest["run_id"] == "r7" and manifest["dataset_fingerprint"] == "abc123" and manifest["created_at"]
    assert manifest["params"]["spec"]["top_n"] == 15 and manifest["params"]["note"] == "spring"
    assert manifest["params"]["allocation"]["method"] == "exact"
    by_offer = manifest["counts"]["by_offer"]
    frame = audience.frame
    for offer in ("A", "B"):
        for group in (C.TREATMENT, C.CONTROL):
            assert by_offer[offer][group] == int(((frame[C.ITEM_ID] == offer) & (frame[C.GROUP] == group)).sum())
    assert sum(manifest["counts"]["rows_by_group"].values()) == len(frame) == manifest["csv"]["rows"]
    result.csv_path.write_text(result.csv_path.read_text() + "tampered\n")
    assert not export.verify(tmp_path / "e")
    assert not [p for p in (tmp_path / "e").iterdir() if p.name.startswith(".tmp-")]


def test_direct_identifiers_are_never_written(tmp_path: Path) -> None:
    frame = nasty_frame().iloc[:4]
    extra = pd.DataFrame({C.USER_ID: frame[C.USER_ID], "email": [f"p{i}@example.com" for i in range(4)],
                          "region": ["north", "south", "east", "west"], "nickname": ["a", "b", "c", "d"]})
    result = write_export(frame, tmp_path, extra_columns=extra, identifiers=["nickname"])
    header = result.csv_path.read_text(encoding="utf-8").splitlines()[0]
    assert "region" in header and "email" not in header and "nickname" not in header
    assert set(result.manifest["privacy"]["dropped_identifier_columns"]) == {"email", "nickname"}
    assert "example.com" not in result.csv_path.read_text(encoding="utf-8")
    emails = frame.assign(**{C.USER_ID: [f"x{i}@shop.com" for i in range(4)]})
    with pytest.raises(ExportError, match="pseudonymise"):
        write_export(emails, tmp_path / "refused")
    assert not (tmp_path / "refused" / export.CSV_FILE).exists()


def test_reasons_frame_is_joined_by_customer_and_offer(tmp_path: Path) -> None:
    frame = nasty_frame().iloc[:3]
    reasons = pd.DataFrame({C.USER_ID: ["a,b", "plain"], C.ITEM_ID: ["-10% off", "=offer"],
                            C.REASONS: ["bought tea twice", ["gold tier", "likes =deals"]]})
    table, _ = export.export_table(frame, reasons=reasons)
    assert table[C.REASONS].tolist() == ["gold tier; likes =deals", "bought tea twice", ""]


def test_workspace_export_is_recorded_and_loadable(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    frame = nasty_frame()
    result = save_export(ws, frame, run_id="r1", dataset_fingerprint="fp", params={"spec": {"holdout_share": 0.5}})
    assert result.export_id == "e1" and result.directory == ws.export_dir("e1")
    record = ws.export("e1")
    assert record["sha256"] == export.sha256_file(result.csv_path) and record["n_rows"] == len(frame)
    assert record["manifest"]["export_id"] == "e1" and record["run_id"] == "r1"
    assert [e["id"] for e in ws.exports()] == ["e1"]
    assert exports.load_targets(ws, "e1")[C.USER_ID].tolist() == NASTY_IDS
    recipients = exports.recent_recipients(ws, days=1)
    assert set(recipients) == set(frame.loc[frame[C.GROUP] == C.TREATMENT, C.USER_ID])


def test_failed_workspace_export_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = Workspace(tmp_path / "ws")
    before = ws.snapshot()

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(exports, "build_manifest", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        save_export(ws, nasty_frame())
    assert ws.snapshot() == before


def test_csv_names_the_offers_with_their_days_and_rounds_numbers(tmp_path: Path) -> None:
    frame = pd.DataFrame({C.USER_ID: ["u1", "u2", "u3"], C.ITEM_ID: ["A", "B", "A"],
                          C.SCORE: [0.123456789, -34.18000000001, 0.5], "probability": [0.0123456, 0.9, 0.5],
                          C.RANK: [1, 1, 2], C.GROUP: [C.TREATMENT, C.TREATMENT, C.CONTROL]})
    offers = pd.DataFrame({C.ITEM_ID: ["A", "B"], export.OFFER_NAME: ["Spring 30–90% off", "=Winter"],
                           export.OFFER_START: ["2026-03-01", "2026-01-01"], export.OFFER_END: ["2026-03-31", ""]})
    result = write_export(frame, tmp_path, offers=offers)
    raw = result.csv_path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and "30–90".encode("utf-8") in raw
    header, first, second = raw.decode("utf-8-sig").splitlines()[:3]
    assert header.split(",")[:5] == [f'"{c}"' for c in (C.USER_ID, C.ITEM_ID, *export.OFFER_COLUMNS)]
    assert first.startswith('"u1","A","Spring 30–90% off","2026-03-01","2026-03-31",0.1235,0.0123,')
    assert second.startswith('"u2","B","\'=Winter","2026-01-01","",-34.18,0.9,')  # names are neutralised too
    back = export.read_csv(result.csv_path)
    assert back[export.OFFER_NAME].tolist() == ["Spring 30–90% off", "=Winter", "Spring 30–90% off"]
    assert export.read_targets(tmp_path)[C.SCORE].iloc[0] == 0.123456789  # the Parquet rows keep every digit
