"""Browser tests: the real server in headless Chromium (skipped where no Chromium is installed)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine (apt-get install chromium)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    port = _free_port()
    env = {**os.environ, "PROMOLENS_WORKSPACE": str(tmp_path_factory.mktemp("ws"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true",
         "--server.address", "127.0.0.1"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.5)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        yield b
        b.close()


def _open(browser, url: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    page.wait_for_selector("[data-testid=stSidebarNav]", timeout=90_000)
    return page


def test_deep_link_first_uses_the_app_navigation(server: str, browser) -> None:
    # The first request of a fresh server is a deep link: it must get app.py's menu, not a list of files.
    page = _open(browser, f"{server}/train")
    page.get_by_role("heading", name="Train a model").wait_for(timeout=90_000)
    nav = page.locator("[data-testid=stSidebarNav]").inner_text()
    assert "Segments" in nav and "Measure" in nav
    assert "shared" not in nav.split()


def test_home_shows_the_sample_shop(server: str, browser) -> None:
    page = _open(browser, server)
    page.get_by_text("Customers", exact=True).first.wait_for(timeout=90_000)
    page.get_by_text("4,000").first.wait_for(timeout=30_000)
    picker = page.get_by_role("combobox", name="Dataset")
    assert picker.input_value().startswith("Sample shop")
