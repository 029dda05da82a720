"""Every page in Chinese (issue 19): rendered with AppTest on the Chinese small shop, with the session's
language set to Simplified Chinese, no English is left outside the data's own names and the product,
format and method names of ``zh_text.KEEP``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.zh_text import english_leftovers

ROOT = Path(__file__).resolve().parents[2]


def _nothing(at: AppTest) -> None:
    """Open the page only."""


#: (page, what to do on it before checking) per page; each page is added once it is translated.
PAGES_A: list[tuple[str, Callable[[AppTest], None]]] = []
PAGES_B: list[tuple[str, Callable[[AppTest], None]]] = []


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
            if frame[column].dtype == object or isinstance(frame[column].dtype, pd.CategoricalDtype):
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


@pytest.mark.parametrize(("page", "action"), PAGES_A + PAGES_B, ids=[p for p, _ in PAGES_A + PAGES_B])
def test_page_speaks_chinese(page: str, action: Callable[[AppTest], None], zh_workspace, monkeypatch) -> None:  # noqa: ANN001
    at = open_in_chinese(page, zh_workspace.path, monkeypatch)
    action(at)
    assert not at.exception, [e.value for e in at.exception]
    left = english_leftovers(at, data_names(zh_workspace.path, zh_workspace.dataset_id))
    assert not left, left


def test_the_sidebar_switches_language_and_remembers_it(zh_workspace, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("PROMOLENS_WORKSPACE", str(zh_workspace.path))
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "pages" / "data.py"), default_timeout=300)
    at.run()
    assert at.session_state["language"] == "en"  # AppTest has no browser locale: English
    at.sidebar.selectbox(key="language").set_value("zh_CN").run()
    assert at.session_state["language"] == "zh_CN"
    at.run()
    assert at.sidebar.selectbox(key="language").value == "zh_CN"
