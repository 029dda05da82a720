"""The promolens command: sample, import, datasets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from recsys.core import columns as C
from recsys.cli import main
from recsys.cli.common import EXIT_BAD_INPUT
from recsys.cli.data import parse_mapping
from recsys.workspace.store import Workspace


def test_parse_mapping_routes_tables() -> None:
    assert parse_mapping(["user_id=CustomerID", "items.item_id=sku", "users.user_id = cid"]) == {
        "interactions": {"user_id": "CustomerID"}, "items": {"item_id": "sku"}, "users": {"user_id": "cid"},
    }


@pytest.mark.parametrize(
    ("pair", "message"),
    [("user_id", "CANONICAL=THEIRS"), ("orders.user_id=x", "unknown table 'orders'"), ("users.segment=x", "not a column of users")],
)
def test_parse_mapping_rejects_bad_pairs(pair: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_mapping([pair])


@pytest.fixture()
def small_sample(tmp_path: Path) -> Path:
    out = tmp_path / "sample"
    assert main(["sample", "--out", str(out), "--users", "300", "--items", "30", "--seed", "3"]) == 0
    return out


def test_sample_then_import_then_list(tmp_path: Path, small_sample: Path, capsys) -> None:
    inter = next(small_sample.glob("interactions.*"))
    ws = tmp_path / "ws"
    code = main([
        "import", "--workspace", str(ws), "--interactions", str(inter), "--users", str(small_sample / "users.csv"),
        "--items", str(small_sample / "items.csv"), "--name", "tiny shop", "--json",
    ])
    assert code == 0
    imported = json.loads(capsys.readouterr().out)["dataset"]
    assert imported["name"] == "tiny shop" and imported["n_users"] >= 250
    assert main(["datasets", "--workspace", str(ws), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [d["id"] for d in listed] == [imported["id"]]
    # the e-mail column of the sample is found and kept out of the model
    user_kinds = {c["name"]: c["kind"] for c in listed[0]["user_schema"]}
    assert user_kinds.get("email") == "identifier"


def test_bad_file_exits_2_with_report_and_no_dataset(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "orders.csv"
    pd.DataFrame({"who": ["a", "b"], "what": ["x", "y"]}).to_csv(bad, index=False)
    ws = tmp_path / "ws"
    assert main(["import", "--workspace", str(ws), "--interactions", str(bad)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "orders.csv" in err and C.USER_ID in err
    assert Workspace(ws).datasets() == []


def test_console_script_is_installed(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "promolens"
    out = subprocess.run([str(exe), "datasets", "--workspace", str(tmp_path / "ws")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "No datasets yet" in out.stdout
