"""Online Retail in a real browser: recommendations name products (Description, whatever its case)
and never recommend postage (POST) or other non-product lines. Skipped when the data is absent."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from recsys.learn.config import ModelConfig
from recsys.learn.pipeline import TrainConfig
from recsys.workspace import runs
from recsys.workspace.ingest import import_files
from recsys.workspace.store import Workspace

from tests.e2e.conftest import Server

RETAIL = Path(os.environ.get("PROMOLENS_ONLINE_RETAIL", Path(__file__).resolve().parents[3]
                             / "shared" / "data" / "online_retail" / "online_retail.parquet"))
NON_PRODUCT = ("POST", "DOT", "M", "C2", "BANK CHARGES", "POSTAGE", "CARRIAGE", "Manual")

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not RETAIL.exists(), reason=f"{RETAIL} is absent (real data lives in ../shared/data)")]


@pytest.fixture(scope="module")
def retail_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("retail_e2e")
    ws = Workspace(root / "workspace")
    info, _ = import_files(ws, RETAIL, name="Online Retail")
    runs.train_run(ws, info.id, TrainConfig(baselines=(), model=ModelConfig(epochs=2, no_components=8)),
                   refit_all=False, targeting=False)
    running = Server(root / "workspace", root / "streamlit.log")
    yield running
    running.stop()


def test_recommendations_show_product_names_and_no_postage(retail_server: Server, open_app) -> None:  # noqa: ANN001
    page = open_app(f"{retail_server.url}/recommendations")
    page.get_by_role("heading", name="Recommendations").first.wait_for(timeout=120_000)
    page.get_by_text("Top 10 offers").first.wait_for(timeout=300_000)  # a customer of the first country, picked for us
    page.evaluate("window.__busyAt = performance.now()")  # the script has stopped running for a full second
    page.wait_for_function(
        """() => {
            const now = performance.now();
            if (document.querySelector('[data-testid=stStatusWidget]')) { window.__busyAt = now; return false; }
            return now - window.__busyAt > 1000;
        }""",
        polling=100, timeout=300_000,
    )
    box = page.get_by_role("combobox", name="Open the explanation of")
    box.scroll_into_view_if_needed()  # a click that first scrolls the page can land before the list opens
    box.click()
    try:
        page.get_by_role("option").first.wait_for(timeout=10_000)
    except Exception:  # noqa: BLE001 - playwright's TimeoutError: open the list from the keyboard instead
        box.press("ArrowDown")
        page.get_by_role("option").first.wait_for(timeout=60_000)
    options = [o.strip() for o in page.get_by_role("option").all_inner_texts()]  # one read: no re-query per option
    page.keyboard.press("Escape")
    assert len(options) == 10, options
    names = [o.split(" · ", 1)[1] for o in options]  # "#1 · WHITE HANGING HEART T-LIGHT HOLDER"
    assert all(any(ch.isalpha() for ch in n) and " " in n for n in names), names  # product names, not stock codes
    assert not [n for n in names if n in NON_PRODUCT or n.upper().startswith(("POST", "DOTCOM"))], names
