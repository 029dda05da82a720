"""Every bad input of tests/badfiles.py, imported into a workspace that already holds a dataset:
the import is refused with its message and the workspace is exactly as it was."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from recsys.workspace.ingest import import_files
from recsys.workspace.store import Workspace
from recsys.data.validate import DataError
from tests.badfiles import ALL_BAD_CASES, BadCase


@pytest.fixture()
def ws(tmp_path: Path) -> Workspace:
    ws = Workspace(tmp_path / "ws")
    good = tmp_path / "existing.csv"
    pd.DataFrame({"user_id": ["a", "b"], "item_id": ["x", "y"], "event": ["click", "redeem"]}).to_csv(good, index=False)
    import_files(ws, good, name="existing")
    return ws


@pytest.mark.parametrize("make", ALL_BAD_CASES, ids=lambda f: f.__name__.removeprefix("make_"))
def test_bad_input_is_refused_and_changes_nothing(make: Callable[[Path], BadCase], ws: Workspace, tmp_path: Path) -> None:
    case_dir = tmp_path / "case"
    case_dir.mkdir()
    case = make(case_dir)
    before = ws.snapshot()
    with pytest.raises(DataError, match=case.expect) as caught:
        import_files(ws, **case.inputs(), options=case.import_options())
    assert case.name in str(caught.value)
    if case.column is not None:
        assert any(p.column == case.column for p in caught.value.problems)
    assert ws.snapshot() == before
    assert [d.name for d in ws.datasets()] == ["existing"]
