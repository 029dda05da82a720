"""The Chinese sample shop as a workspace job (the Data page's "Use the Chinese sample shop"): the same
shop as ``promolens sample --locale zh``, imported with its Chinese labels, refused as a duplicate."""

from __future__ import annotations

from pathlib import Path

import pytest

from recsys.data import synth_zh
from recsys.workspace.ingest import SAMPLE_ZH_NAME, DuplicateImportError, import_chinese_sample
from recsys.workspace.store import Workspace

SHOP = {"n_users": 150, "n_items": 12, "seed": 5}


def test_the_chinese_sample_imports_with_chinese_labels_and_is_not_imported_twice(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    steps: list[str] = []
    info = import_chinese_sample(ws, refuse_duplicate=True, progress=lambda text, share: steps.append(text), **SHOP)
    assert info.name == SAMPLE_ZH_NAME and info.is_sample and info.n_users == SHOP["n_users"]
    data = ws.load_dataset(info.id)
    assert set(data.users["segment"].astype(str)) <= set(synth_zh.SEGMENTS_ZH.values())
    assert set(data.users["region"].astype(str)) <= set(synth_zh.REGIONS_ZH.values())
    titles = data.items["title"].astype(str)
    assert titles.str.contains(r"[\u4e00-\u9fff]").all(), titles.head().tolist()  # every title is Chinese
    assert steps[0] == "Making the Chinese sample shop" and steps[-1] == "Done"
    # its files lived in a temporary folder only: nothing is left next to the workspace
    assert [p.name for p in tmp_path.iterdir()] == ["ws"]
    # a second click on the Data page's button (the same shop again) is refused, naming the first
    with pytest.raises(DuplicateImportError) as refused:
        import_chinese_sample(ws, refuse_duplicate=True, **SHOP)
    assert refused.value.existing.id == info.id and len(ws.datasets()) == 1
