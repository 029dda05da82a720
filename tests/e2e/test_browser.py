"""Browser tests: the real server in headless Chromium (skipped where no Chromium is installed).

Fixtures (``server``, ``browser``) live in conftest.py; the full marketer's walk is test_journey.py.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow  # a real server and a real browser: tens of seconds before the first page


def test_deep_link_first_uses_the_app_navigation(server: str, open_app) -> None:  # noqa: ANN001
    # The first request of a fresh server is a deep link: it must get app.py's menu, not a list of files.
    page = open_app(f"{server}/train")
    page.get_by_role("heading", name="Train a model").wait_for(timeout=90_000)
    nav = page.locator("[data-testid=stSidebarNav]").inner_text()
    assert "Segments" in nav and "Measure" in nav
    assert "shared" not in nav.split()


def test_home_shows_the_sample_shop(server: str, open_app) -> None:  # noqa: ANN001
    page = open_app(server)
    page.get_by_text("Customers", exact=True).first.wait_for(timeout=90_000)
    page.get_by_text("4,000").first.wait_for(timeout=30_000)
    picker = page.get_by_role("combobox", name="Dataset")
    assert picker.input_value().startswith("Sample shop")
