"""Every page's first run, rerun and main interactions, server side (Streamlit's AppTest).

The sample shop with one trained model, set up once in a temporary workspace (or ``--workspace``: a
prepared one, copied first so the bench never writes into it). For each page and each repetition:

- **first run**: Streamlit's caches are cleared (``st.cache_data`` and ``st.cache_resource``: a page
  opened for the first time since the server started, its modules already imported), then the page is
  run once;
- **rerun**: the page run again with nothing changed (what every widget click pays on top of its own work);
- the page's **main interactions**, each from the state the first run left: Recommendations: another
  customer typed in (a different one every time), the "Who else is it for" tab opened; Segments:
  behavioural clusters; Fairness: the audit grouped by another customer column, the "Fix it" tab opened;
  Campaign: the audience for 2 offers and for all offers. (A tab opened on a page with plain ``st.tabs``
  is a plain rerun: its content was already sent by the first run.)

One warm-up repetition (not counted) imports every module a page needs: its first-run time is printed
separately ("cold"), as a server's very first visitor pays it. Medians of ``--repeats`` repetitions,
printed as a table with the machine's load (``os.getloadavg``) before and after. Only the page runs are
timed; the pages are compiled once (as a server does; AppTest alone would compile them at every run), and
Streamlit's custom components are discovered once (as a server does at start-up; each AppTest would
otherwise scan every installed package's metadata at its first run, 0.1-0.25 s in every first run before
2026-12-05 session 14).
Nothing is asserted about timings; a page that raises stops the bench.

Run: ``.venv/bin/python bench/bench_pages.py [--repeats 5] [--pages recommendations segments]``.
``--root DIR`` runs the pages of another checkout (e.g. a ``git worktree`` of an earlier commit: set
``PYTHONPATH=DIR`` too so its ``recsys`` is imported), to measure before and after a change.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PAGES = ["data", "train", "fairness", "recommendations", "segments", "campaign", "measure"]


def prepare_workspace(path: Path, epochs: int) -> None:
    """The sample shop and one trained model (``epochs`` epochs; the page work does not depend on it)."""
    from recsys.learn.config import ModelConfig
    from recsys.learn.pipeline import TrainConfig
    from recsys.workspace.ingest import ensure_sample_dataset
    from recsys.workspace.runs import train_run
    from recsys.workspace.store import Workspace

    ws = Workspace(path)
    info = ensure_sample_dataset(ws)
    train_run(ws, info.id, TrainConfig(model=ModelConfig(epochs=epochs)))


def customers(path: Path) -> list[str]:
    from recsys.core import columns as C
    from recsys.workspace.store import Workspace

    ws = Workspace(path)
    [info] = ws.datasets()
    return ws.load_dataset(info.id).users[C.USER_ID].astype(str).tolist()


def share_script_cache() -> None:
    """One compiled copy of each page for every run, as a server keeps it (AppTest compiles the page anew
    at every run: 0.1-0.2 s that no user pays)."""
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache
    from streamlit.testing.v1 import app_test, local_script_runner

    shared = ScriptCache()
    app_test.ScriptCache = local_script_runner.ScriptCache = lambda: shared


def clear_caches() -> None:
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()


_COMPONENTS: list[object] = []


def shared_components() -> object:
    """One registry of Streamlit's custom components for every AppTest, as a server has one.

    AppTest scans every installed package's metadata for component manifests at its first run
    (0.2-0.25 s here); a server does that once at start-up, so the pages' first runs must not pay it.
    """
    if not _COMPONENTS:
        from streamlit.components.v2.component_manager import BidiComponentManager

        manager = BidiComponentManager()
        manager.discover_and_register_components(start_file_watching=False)
        _COMPONENTS.append(manager)
    return _COMPONENTS[0]


class Page:
    """One page under AppTest; ``timed`` runs it and returns the seconds."""

    def __init__(self, root: Path, name: str) -> None:
        from streamlit.testing.v1 import AppTest

        self.at = AppTest.from_file(str(root / "pages" / f"{name}.py"), default_timeout=600)
        if hasattr(self.at, "_bidi_component_manager"):  # Streamlit >= 1.5x: AppTest's own scan, once per AppTest
            self.at._bidi_component_manager = shared_components()

    def timed(self, change: Callable[[object], None] | None = None) -> float:
        if change is not None:
            change(self.at)
        start = time.perf_counter()
        self.at.run()
        seconds = time.perf_counter() - start
        if self.at.exception:
            raise RuntimeError(f"the page raised: {[e.value for e in self.at.exception]}")
        return seconds


def click(label: str) -> Callable[[object], None]:
    def change(at) -> None:  # noqa: ANN001 - AppTest
        next(b for b in at.button if b.label == label).click()
    return change


def open_tab(key: str, label: str) -> Callable[[Page], float]:
    """Open a tab of ``shared.lazy_tabs`` (a rerun that renders that tab; pages with plain tabs just rerun)."""
    def run(page: Page) -> float:
        def change(at) -> None:  # noqa: ANN001 - AppTest
            at.session_state[key] = label
        return page.timed(change)
    return run


def interactions(name: str, rep: int, users: list[str]) -> list[tuple[str, Callable[[Page], float]]]:
    """(label, action) of a page's main interactions; each action starts from the page's first run."""
    if name == "recommendations":
        def other_customer(page: Page) -> float:
            page.timed(lambda at: at.radio(key="reco_find").set_value("By customer id"))
            page.timed(lambda at: at.text_input(key="reco_user_id").set_value(users[3]))
            return page.timed(lambda at: at.text_input(key="reco_user_id").set_value(users[10 + 7 * rep]))
        return [("another customer", other_customer), ("open Who else is it for", open_tab("reco_tab", "Who else is it for"))]
    if name == "segments":
        return [("behavioural clusters",
                 lambda page: page.timed(lambda at: at.radio(key="seg_method").set_value("clusters")))]
    if name == "fairness":
        def audit(page: Page) -> float:
            column = page.at.selectbox(key="fair_user_col")
            other = next(o for o in column.options if o != column.value)
            return page.timed(lambda at: at.selectbox(key="fair_user_col").set_value(other))
        return [("audit by another column", audit), ("open Fix it", open_tab("fair_tab", "Fix it"))]
    if name == "campaign":
        def audience(count: int | None) -> Callable[[Page], float]:
            def run(page: Page) -> float:
                page.timed(lambda at: at.toggle(key="campaign_show_ended").set_value(True))
                labels = page.at.multiselect(key="campaign_offers").options  # "name (id) · dates · status"
                ids = [re.findall(r"\(([^()]+)\) · ", label)[-1] for label in labels]
                chosen = ids if count is None else ids[:count]

                def fill(at) -> None:  # noqa: ANN001 - AppTest
                    at.checkbox(key="campaign_all_offers").check()
                    at.multiselect(key="campaign_offers").set_value(chosen)
                    click("Preview audience")(at)
                return page.timed(fill)
            return run
        return [("audience, 2 offers", audience(2)), ("audience, all offers", audience(None))]
    return []


def bench_page(root: Path, name: str, repeats: int, users: list[str]) -> dict[str, list[float]]:
    """Times of one page: "cold" (the warm-up's first run), "first run", "rerun" and each interaction."""
    times: dict[str, list[float]] = {}
    for rep in range(repeats + 1):
        clear_caches()
        page = Page(root, name)
        first = page.timed()
        rerun = page.timed()
        if rep == 0:
            times["cold"] = [first]
        else:
            times.setdefault("first run", []).append(first)
            times.setdefault("rerun", []).append(rerun)
        for label, action in interactions(name, rep, users):
            page = Page(root, name)
            page.timed()  # the state every interaction starts from (caches of this repetition kept)
            seconds = action(page)
            if rep:
                times.setdefault(label, []).append(seconds)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--pages", nargs="*", default=PAGES, choices=PAGES)
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout whose pages/ to run (default: this one)")
    parser.add_argument("--workspace", type=Path, help="a prepared workspace (sample + one model), copied first")
    parser.add_argument("--keep", type=Path, help="also save the prepared workspace here (for --workspace later)")
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    root = args.root.resolve()
    sys.path.insert(0, str(root))
    os.chdir(root)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    tmp = Path(tempfile.mkdtemp(prefix="bench_pages_"))
    try:
        ws_path = tmp / "ws"
        if args.workspace:
            shutil.copytree(args.workspace, ws_path)
        else:
            start = time.perf_counter()
            prepare_workspace(ws_path, args.epochs)
            print(f"set-up (import the sample, train one model): {time.perf_counter() - start:.1f} s", flush=True)
            if args.keep:
                shutil.copytree(ws_path, args.keep)
        os.environ["PROMOLENS_WORKSPACE"] = str(ws_path)
        users = customers(ws_path)
        share_script_cache()
        load_before = os.getloadavg()
        rows: list[tuple[str, str, float, float, float, int]] = []
        for name in args.pages:
            times = bench_page(root, name, args.repeats, users)
            for label, values in times.items():
                rows.append((name, label, statistics.median(values), min(values), max(values), len(values)))
                print(f"  {name:16s} {label:24s} median {statistics.median(values):6.2f} s", flush=True)
        load_after = os.getloadavg()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"\npages of {root}; {os.cpu_count()} cores; load average (1, 5, 15 min) "
          f"before {load_before[0]:.1f} {load_before[1]:.1f} {load_before[2]:.1f}, "
          f"after {load_after[0]:.1f} {load_after[1]:.1f} {load_after[2]:.1f}")
    print("| page | what | median s | min s | max s | runs |")
    print("|---|---|---|---|---|---|")
    for name, label, median, low, high, n in rows:
        print(f"| {name} | {label} | {median:.2f} | {low:.2f} | {high:.2f} | {n} |")


if __name__ == "__main__":
    main()
