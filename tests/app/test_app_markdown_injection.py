"""Stored Markdown injection: a crafted dataset shown on every page renders no link and no image.

The small shop with markup in its data: offer titles that are Markdown images pointing at a tracker,
customer ids, a customer column's values and a column name that are links, a dataset name with both.
Every page is run with it (AppTest); every text Streamlit renders as Markdown (markdown, captions,
alerts, headings, widget labels and help, expander and status labels) is collected, and none may
hold live markup: an unescaped ``](`` or ``![``, a raw ``https://`` or ``www.`` (autolinks), a tag.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from recsys.core import columns as C
from recsys.core.markdown import escape_markdown
from recsys.learn.pipeline import TrainConfig
from recsys.workspace import runs
from recsys.workspace.ingest import import_files
from recsys.workspace.store import Workspace
from tests.conftest import tiny_model_config

ROOT = Path(__file__).resolve().parents[2]
PAGES = ["data", "train", "recommendations", "segments", "fairness", "campaign", "measure"]
IMAGE = "![pixel](https://tracker.example/p.png)"
LINK = "[win a prize](https://evil.example/x)"
CRAFTED = re.compile(r"(?<!\\)\]\(|(?<!\\)!(?<!\\)\[|https?://|(?i:www\.)|(?<!\\)<[A-Za-z/]|\w(?<!\\)@[\w-]+\.\w")


@pytest.fixture(scope="module")
def crafted_ws(small_shop, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    out = tmp_path_factory.mktemp("crafted")
    users = small_shop.users.drop(columns=["email"]).copy()
    inter = small_shop.interactions.copy()
    items = small_shop.items.copy()
    items["title"] = [f"{IMAGE} {t}" for t in items["title"]]
    users["region"] = users["region"].map(lambda r: f"{r} {LINK}")
    users = users.rename(columns={"loyalty_tier": f"tier {LINK}"})
    crafted = {u: f"{u}{LINK}" for u in users[C.USER_ID]}
    users[C.USER_ID] = users[C.USER_ID].replace(crafted)
    inter[C.USER_ID] = inter[C.USER_ID].replace(crafted)
    paths = {k: out / f"{k}.csv" for k in ("interactions", "users", "items")}
    inter.to_csv(paths["interactions"], index=False)
    users.to_csv(paths["users"], index=False)
    items.to_csv(paths["items"], index=False)
    ws = Workspace(out / "ws")
    info, _ = import_files(ws, paths["interactions"], paths["users"], paths["items"], name=f"shop {LINK} {IMAGE}")
    run_id = runs.train_run(ws, info.id, TrainConfig(model=tiny_model_config(), baselines=(), early_stopping=False),
                            refit_all=False)
    return ws.path, info.id, run_id


def _markdown_texts(node: object) -> Iterator[tuple[str, str]]:
    """(element type, text) of everything under ``node`` that Streamlit renders as Markdown."""
    proto = getattr(node, "proto", None)
    if proto is not None:
        for field in ("body", "label", "help", "placeholder"):
            try:
                value = getattr(proto, field)
            except AttributeError:
                continue
            if isinstance(value, str) and value:
                yield type(node).__name__, value
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        for child in children.values():
            yield from _markdown_texts(child)


def test_the_escaper_breaks_links_images_and_autolinks() -> None:
    for value in (IMAGE, LINK, "https://evil.example", "www.evil.example", ":red[alarm]", "<img src=x>", "$x$", "a\n# b"):
        escaped = escape_markdown(value)
        assert not CRAFTED.search(escaped) and "\n" not in escaped
        assert re.sub(r"\\(.)", r"\1", escaped) == value.replace("\n", " ")  # shows exactly the value
    assert escape_markdown(":red[alarm] :material/home:") == r"\:red\[alarm\] \:material/home:"  # no colour, no icon


@pytest.mark.parametrize("page", PAGES)
def test_no_page_renders_markup_from_the_data(page: str, crafted_ws, monkeypatch: pytest.MonkeyPatch) -> None:
    ws_path, dataset_id, run_id = crafted_ws
    monkeypatch.setenv("PROMOLENS_WORKSPACE", str(ws_path))
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "pages" / f"{page}.py"), default_timeout=300)
    at.session_state["dataset_id"] = dataset_id
    at.session_state["run_id"] = run_id
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    texts = list(_markdown_texts(at._tree))
    assert texts, "nothing rendered"
    lazy = {"recommendations": "reco_tab", "fairness": "fair_tab"}.get(page)  # tabs that render only the open one
    for label in [t.label for t in at.tabs] if lazy else []:
        at.session_state[lazy] = label
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        texts += _markdown_texts(at._tree)
    leaks = [(kind, text[:160]) for kind, text in texts if CRAFTED.search(text)]
    assert leaks == []
