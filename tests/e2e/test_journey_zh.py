"""The app in Chinese, in a real browser: a Chinese shop, a browser whose locale is zh-CN, every page.

The server's workspace holds a Chinese shop (``synth_zh.to_chinese``) imported and trained before the
server starts. The browser context asks for ``zh-CN``, so ``st.context.locale`` is Chinese and the app
opens in Chinese without anyone touching the language switch. Every page's navigation title and
heading are the catalogue's Chinese, no page shows an error, and each page's screenshot goes to
``tests/e2e/output/zh-<page>.png`` (the guide's are in docs/img/zh/).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from recsys.core.i18n import _, use_language
from tests.e2e.conftest import VIEWPORT, Server
from tests.e2e.test_journey import PAGES, Journey

pytestmark = pytest.mark.slow
HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def zh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server on a workspace holding a trained Chinese shop (800 customers, 60 offers)."""
    from recsys.data import synth, synth_zh
    from recsys.learn.pipeline import TrainConfig
    from recsys.workspace import runs
    from recsys.workspace.ingest import import_files
    from recsys.workspace.store import Workspace
    from tests.conftest import tiny_model_config

    root = tmp_path_factory.mktemp("e2e-zh")
    shop = synth_zh.to_chinese(synth.generate(n_users=800, n_items=60, seed=5))
    files = synth.write_sample(shop, root / "shop")
    workspace = root / "workspace"
    ws = Workspace(workspace)
    info, _report = import_files(ws, files["interactions"], files["users"], files["items"], name="中文示例店")
    runs.train_run(ws, info.id, TrainConfig(model=tiny_model_config()))
    running = Server(workspace, root / "streamlit.log")
    yield running
    running.stop()


def test_every_page_opens_in_chinese_from_the_browser_locale(zh_server: Server, browser, output_dir: Path) -> None:  # noqa: ANN001
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    try:
        page = context.new_page()
        page.goto(zh_server.url)
        page.wait_for_selector("[data-testid=stSidebarNav]", timeout=90_000)
        app = Journey(page, output_dir, zh_server)
        with use_language("zh_CN"):
            pages = {_(title): _(heading) for title, heading in PAGES.items()}
            english = {_(title): title for title in PAGES}
            switch_label = _("Language / 语言")
        sidebar = page.locator("[data-testid=stSidebar]")
        first = next(iter(pages))  # the Data page opens first: wait until app.py's menu has replaced the first draw
        page.locator(f"[data-testid=stSidebarNavLink]:has(span[label='{first}'])").wait_for(timeout=90_000)
        nav = page.locator("[data-testid=stSidebarNav]").inner_text()
        for title in pages:
            assert title in nav, (title, nav)
            assert HAN.search(title), f"page title {title!r} is not translated"
        with app.failing_shot():
            for title, heading in pages.items():
                app.go(title, heading)
                page.wait_for_timeout(500)
                assert page.locator("[data-testid=stException]").count() == 0, title
                main = page.locator("[data-testid=stMain]").inner_text()
                assert HAN.search(main), f"no Chinese on {title}"
                switch = sidebar.get_by_role("combobox", name=switch_label, exact=True).input_value()
                assert switch == "简体中文", (title, switch)  # the switch shows the session's language on every page
                page.mouse.move(VIEWPORT["width"] - 20, VIEWPORT["height"] // 2)
                page.screenshot(path=str(output_dir / f"zh-{english[title].lower()}.png"), animations="disabled")
            # English chosen in the sidebar stays English on every page that follows
            app.choose(switch_label, "English", within=sidebar)
            for title, heading in list(PAGES.items())[:3]:
                app.go(title, heading)
                switch = sidebar.get_by_role("combobox", name="Language / 语言", exact=True).input_value()
                assert switch == "English", (title, switch)
    finally:
        context.close()

