"""A dataset imported without an offers file can be exported (no offers table to look offers up in).

Regression: the offer check built ``in_table = False`` for a missing offers table, and ``~False == -1``
turned the boolean mask into integer indexing ("Offer(s) OFF0001, OFF0001 are neither known ...").
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from recsys import cli
from recsys.core import columns as C
from recsys.workspace.store import Workspace


def test_export_of_a_dataset_without_offers_file(small_shop_files, tmp_path: Path, capsys) -> None:
    ws = tmp_path / "ws"
    assert cli.main(["import", "--workspace", str(ws), "--interactions", str(small_shop_files["interactions"]),
                     "--name", "no offers"]) == 0
    dataset = Workspace(ws).datasets()[0]
    assert cli.main(["train", "--workspace", str(ws), "--dataset", dataset.id, "--epochs", "2", "--components", "4",
                     "--no-refit"]) == 0
    run_id = Workspace(ws).runs()[0]["id"]
    offers = Workspace(ws).load_dataset(dataset.id).interactions[C.ITEM_ID].value_counts().index[:2].tolist()
    capsys.readouterr()
    out = tmp_path / "targets.csv"
    code = cli.main(["export", "--workspace", str(ws), "--run", run_id, "--item", offers[0], "--item", offers[1],
                     "--top", "30", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    exported = pd.read_csv(out)
    assert set(exported[C.ITEM_ID]) <= set(offers) and len(exported) > 0
    assert "neither known" not in capsys.readouterr().err
