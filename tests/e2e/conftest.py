"""Shared set-up of the browser tests: a real ``streamlit run app.py`` server and Debian's Chromium.

Every test module gets its own server on a free port of 127.0.0.1 with its own empty workspace
(``PROMOLENS_WORKSPACE``), so modules never see each other's datasets. The browser is the system's
Chromium driven by Playwright (no browser download); without it the tests skip and say why.
Screenshots go to ``tests/e2e/output/`` (git-ignored).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = Path(__file__).resolve().parent / "output"
CHROMIUM = next(
    (p for p in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium")
     if p and os.access(p, os.X_OK)),
    None,
)
VIEWPORT = {"width": 1400, "height": 1000}
SERVER_START_SECONDS = 90


def _skip_reason() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    if CHROMIUM is None:
        return "no Chromium on this machine (apt-get install chromium, or run `make test` as root)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = _skip_reason()
    if reason is None:
        return
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.skip(reason=reason))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running ``streamlit run app.py`` on 127.0.0.1; ``log()`` is its output so far."""

    def __init__(self, workspace: Path, log_path: Path) -> None:
        self.workspace = workspace
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = log_path.open("wb")
        env = {**os.environ, "PROMOLENS_WORKSPACE": str(workspace), "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(self.port),
             "--server.headless", "true", "--server.address", "127.0.0.1",
             "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )
        self._wait_until_listening()

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.process.returncode}:\n{self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"streamlit did not listen on port {self.port} within {SERVER_START_SECONDS}s:\n{self.log()}")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-5000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()


@pytest.fixture(scope="module")
def server_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of its own for each test module, on an empty temporary workspace."""
    root = tmp_path_factory.mktemp("e2e")
    workspace = root / "workspace"
    workspace.mkdir()
    running = Server(workspace, root / "streamlit.log")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def server(server_process: Server) -> str:
    """The base URL of this module's server."""
    return server_process.url


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update"],
        )
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def output_dir() -> Path:
    """Where the browser tests save screenshots and downloads (git-ignored)."""
    OUTPUT.mkdir(exist_ok=True)
    return OUTPUT


@pytest.fixture
def open_app(browser) -> Iterator[object]:  # noqa: ANN001 - playwright Browser
    """``open_app(url)``: a new tab in a context of its own (so a Streamlit session of its own) at
    ``url``, once the app's menu is drawn. Closed after the test."""
    contexts = []

    def _open(url: str):  # noqa: ANN202 - playwright Page
        context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
        contexts.append(context)
        page = context.new_page()
        page.goto(url)
        page.wait_for_selector("[data-testid=stSidebarNav]", timeout=90_000)
        return page

    yield _open
    for context in contexts:
        context.close()
