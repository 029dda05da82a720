"""Campaign lists ranked by response probability on the bundled sample, trained with the defaults.

The issue's acceptance check: after `import` + `train` (the product's defaults) + `export --top 500`,
each deep-discount list (OFF0004 50%, OFF0050 80%, OFF0108 50%) holds at least 1.5x the base share
of bargain hunters (the generator's hidden persona), and a shallow offer's list does not.
The campaign day is 2026-06-28: OFF0108 ended on that day, after it the export refuses it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from recsys import cli
from recsys.cli.common import EXIT_BAD_INPUT
from recsys.campaign import export
from recsys.core import columns as C
from recsys.data.synth import load_sample, user_personas
from recsys.workspace import runs
from recsys.workspace.ingest import ensure_sample_dataset
from recsys.workspace.store import Workspace

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"
DEEP = ("OFF0004", "OFF0050", "OFF0108")
SHALLOW = "OFF0093"  # 8% off, live on the campaign day
DAY = "2026-06-28"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("sample_campaign") / "ws"
    info = ensure_sample_dataset(Workspace(path))
    assert info is not None
    assert cli.main(["train", "--workspace", str(path), "--dataset", info.id, "--json"]) == 0  # the CLI's defaults
    [run] = Workspace(path).runs()
    assert run["extra"]["targeting"]["status"] == "ok"
    return path, run["id"]


@pytest.fixture(scope="module")
def hunters() -> pd.Series:
    return user_personas(load_sample(SAMPLE)) == "bargain_hunter"


def export_list(ws: Path, run_id: str, offer: str, out: Path, *extra: str) -> pd.DataFrame:
    argv = ["export", "--workspace", str(ws), "--run", run_id, "--item", offer, "--top", "500", "--as-of", DAY,
            "--out", str(out), *extra]
    assert cli.main(argv) == 0
    return export.read_csv(out)


def test_deep_discount_lists_over_represent_bargain_hunters_and_a_shallow_list_does_not(trained, hunters, tmp_path) -> None:
    ws, run_id = trained
    base = hunters.mean()
    for offer in (*DEEP, SHALLOW):
        frame = export_list(ws, run_id, offer, tmp_path / f"{offer}.csv")
        assert len(frame) == 500
        share = hunters.reindex(frame[C.USER_ID].astype(str)).mean()
        if offer in DEEP:
            assert share >= 1.5 * base, (offer, share, base)
        else:
            assert share < 1.5 * base, (offer, share, base)
        assert frame[export.PROBABILITY].between(0, 1).all()
        assert (frame[export.PROBABILITY] == frame[C.SCORE]).all()  # ranked by the probability
        assert not frame[C.REASONS].str.startswith("offer").any()  # reasons say why this customer


def test_export_json_and_text_carry_probabilities_and_expected_responders(trained, tmp_path, capsys) -> None:
    ws, run_id = trained
    capsys.readouterr()
    assert cli.main(["export", "--workspace", str(ws), "--run", run_id, "--item", "OFF0004", "--top", "200",
                     "--min-probability", "0.05", "--out", str(tmp_path / "a.csv"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ranked_by"] == "response probability" and report["campaign_day"] == "2026-06-30"
    assert report["scored_by"] == runs.load_response_model(Workspace(ws), run_id).scores_from_  # which recommender ranked it
    p = report["probability"]
    assert 0.05 <= p["min"] <= p["mean"] <= p["max"] <= 1
    [offer, total] = p["expected_responders"]
    assert offer["item_id"] == "OFF0004" and total["item_id"] == "all"
    assert total["expected_low"] < total["expected_responders"] < total["expected_high"]
    assert cli.main(["export", "--workspace", str(ws), "--run", run_id, "--item", "OFF0004", "--top", "200",
                     "--out", str(tmp_path / "b.csv")]) == 0
    assert "Expected responders within 14 days of the campaign day 2026-06-30" in capsys.readouterr().out
    # an offer that ended before the campaign day is refused, saying when it ended
    assert cli.main(["export", "--workspace", str(ws), "--run", run_id, "--item", "OFF0108", "--top", "10",
                     "--out", str(tmp_path / "c.csv")]) == EXIT_BAD_INPUT
    assert "offer OFF0108 ended on 2026-06-28, before the campaign day 2026-06-30" in capsys.readouterr().err
    # a probability threshold outside [0, 1] is a clear error
    assert cli.main(["export", "--workspace", str(ws), "--run", run_id, "--item", "OFF0004", "--min-score", "-40",
                     "--out", str(tmp_path / "d.csv")]) == EXIT_BAD_INPUT
    assert "probability from 0 to 1" in capsys.readouterr().err
