"""Streamlit's own WebSocket protocol without a browser (bench/st_protocol.py), and the load bench over it.

A small ``bench/bench_load.py --client protocol`` run (two browsing sessions over the protocol, one
Chromium session that switches dataset and uploads a file; the workspace's model trained with 1 epoch, and
no training on the Train page during the run: tests/e2e/test_load.py covers browsing while a model trains,
and a training here would double this file's time) keeps its workspace; a server of
this module's own then serves that workspace (the sample shop, two runs) to the client's tests: it
opens the Recommendations page, follows a customer typed into the text input, keeps two sessions
apart (one of them uploads a file over the protocol), resolves the elements the server sends by
reference, and switches pages. The customers are
fixed ids of the sample shop (it is generated with a fixed seed). Nothing here asserts a timing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("websockets", reason="websockets is not installed (pip install -e '.[dev]')")

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from bench_load import UPLOAD_MARKER, free_port, start_server, stop_server  # noqa: E402
from st_protocol import ProtocolError, Session  # noqa: E402

SESSIONS, VIEWS, VIEWS_AFTER_TRAINING, EPOCHS, TRAININGS = 3, 3, 1, 1, 0
#: Seconds each browsing session reads a page: the Chromium session's upload gets the cores between views.
THINK = 1.0
#: Customers of the sample shop the model trained with (ids from its seeded generator).
FIRST, SECOND, THIRD = "C000042", "C001337", "C002718"
OFFER_PICKER = "Open the explanation of"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def load(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    """The small protocol run's figures and checks, and the folder it kept (workspace, server log)."""
    workdir = tmp_path_factory.mktemp("load-protocol") / "run"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_load.py"), "--json", "--client", "protocol",
         "--sessions", str(SESSIONS), "--views", str(VIEWS), "--views-after-training", str(VIEWS_AFTER_TRAINING),
         "--trainings", str(TRAININGS), "--epochs", str(EPOCHS), "--think", str(THINK), "--workdir", str(workdir)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(json.dumps(result, indent=1))
    return result, workdir


@pytest.fixture(scope="module")
def server(load: tuple[dict, Path]) -> Iterator[str]:
    """A server of this module on the small run's workspace (its sample shop has a trained model)."""
    workdir = load[1]
    port = free_port()
    process = start_server(workdir / "workspace", port, log=workdir / "protocol_tests_server.log")
    yield f"http://127.0.0.1:{port}"
    stop_server(process)


def run(coroutine):  # noqa: ANN001, ANN201 - a coroutine and its result
    """The coroutine's result, from an event loop of its own in a thread: earlier browser tests in the same
    process (Playwright's sync API) can leave a loop running in the main thread, where asyncio.run refuses."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, asyncio.wait_for(coroutine, 180)).result()


async def _on_customer(url: str, customer: str) -> Session:
    session = Session(url)
    await session.open("recommendations")
    await session.choose("Find a customer", "By customer id")
    await session.type("Customer id", customer)
    return session


def _explained_for(session: Session) -> list[str]:
    """The explanation charts' titles on one line each ("Why <offer> for customer <id>")."""
    return [re.sub(r"\s+", " ", t.replace("<br>", " ")) for t in session.texts() if t.startswith("Why ")]


def _top_offers(session: Session) -> tuple[str, ...]:
    return session.widget(OFFER_PICKER, kinds=("selectbox",)).options


def test_the_client_opens_the_recommendations_page_of_a_customer(server: str) -> None:
    async def scenario() -> tuple[list[str], list[str], list[str], list[str], str, tuple[str, ...]]:
        async with Session(server) as session:
            await session.open("recommendations")
            opened = session.headings()
            await session.choose("Find a customer", "By customer id")
            await session.type("Customer id", FIRST)
            return (opened, session.headings(), _explained_for(session), session.errors, session.metric("Rank"),
                    _top_offers(session))

    opened, headings, explained, errors, rank, offers = run(scenario())
    assert opened[0] == "Recommendations", opened
    assert f"Customer {FIRST}" in headings, headings
    assert any(re.fullmatch(r"Top \d+ offers", h) for h in headings), headings
    assert rank == "1" and offers[0].startswith("#1 · ") and len(offers) >= 4, (rank, offers)
    assert any(t.endswith(f"for customer {FIRST}") for t in explained), explained
    assert errors == []


def test_typing_another_customer_changes_the_heading_and_the_top_offers(server: str) -> None:
    async def scenario() -> tuple[list[str], tuple[str, ...], list[str], tuple[str, ...], str, str]:
        session = await _on_customer(server, FIRST)
        try:
            before, offers_before = session.headings(), _top_offers(session)
            await session.type("Customer id", SECOND)
            return (before, offers_before, session.headings(), _top_offers(session), session.text(),
                    session.value("Customer id"))
        finally:
            await session.close()

    before, offers_before, after, offers_after, text, typed = run(scenario())
    assert f"Customer {FIRST}" in before
    assert f"Customer {SECOND}" in after and f"Customer {FIRST}" not in after, after
    assert offers_after != offers_before, offers_after
    assert f"customer {FIRST}" not in text  # the first customer's explanation is gone with its run
    assert typed == SECOND


def test_two_sessions_stay_apart(server: str, tmp_path: Path) -> None:
    """One session changes dataset and uploads a file (over the protocol, as the frontend does); the other
    keeps its dataset, customer and offer, and its Data page shows no trace of the upload."""
    upload = tmp_path / f"{UPLOAD_MARKER}.csv"
    upload.write_text("customer,offer,event\n" + "".join(f"{UPLOAD_MARKER}_{i},OFF0001,click\n" for i in range(5)))

    async def scenario() -> dict[str, object]:
        one, two = await asyncio.gather(_on_customer(server, FIRST), _on_customer(server, THIRD))
        try:
            await one.choose(OFFER_PICKER, re.compile(r"^#3 · "))
            await two.choose("Dataset", re.compile(r"^Second shop"))  # the other session changes dataset
            await two.goto("Data")
            await two.upload(next(w.label for w in two.widgets() if w.kind == "file_uploader"), upload)
            await one.choose(OFFER_PICKER, re.compile(r"^#2 · "))  # a rerun of the first after all that
            seen: dict[str, object] = {
                "one_headings": one.headings(), "one_dataset": one.value("Dataset"), "one_rank": one.metric("Rank"),
                "one_text": one.text(), "two_dataset": two.value("Dataset"), "two_headings": two.headings(),
                "two_text": two.text(), "two_has_file": two.raw_contains(UPLOAD_MARKER)}
            await one.goto("Data")
            seen.update(one_data=one.text(), one_has_file=one.raw_contains(UPLOAD_MARKER),
                        one_files=[w.value for w in one.widgets() if w.kind == "file_uploader" and w.value])
            return seen
        finally:
            await asyncio.gather(one.close(), two.close())

    seen = run(scenario())
    assert f"Customer {FIRST}" in seen["one_headings"], seen["one_headings"]
    assert str(seen["one_dataset"]).startswith("Sample shop"), seen["one_dataset"]
    assert seen["one_rank"] == "2"
    assert THIRD not in seen["one_text"]
    assert str(seen["two_dataset"]).startswith("Second shop"), seen["two_dataset"]
    assert "Data" in seen["two_headings"] and f"Customer {THIRD}" not in seen["two_headings"]  # page switched
    assert FIRST not in seen["two_text"]
    # The positive control: the uploading session sees its file's column mapping and its cells.
    assert "Match your columns" in str(seen["two_text"]) and seen["two_has_file"]
    assert "Match your columns" not in str(seen["one_data"]) and UPLOAD_MARKER not in str(seen["one_data"])
    assert not seen["one_has_file"] and seen["one_files"] == []


def test_elements_sent_by_reference_are_rebuilt_from_the_clients_cache(server: str) -> None:
    """The segment picker's customer list (500 options) is large enough for the server's ForwardMsg cache:
    the rerun names it among the cached hashes and gets a ``ref_hash`` back."""
    async def scenario() -> tuple[tuple[str, ...], tuple[str, ...], int, str]:
        async with Session(server) as session:
            await session.open("recommendations")  # "From a segment" is the default way to find a customer
            label = next(w.label for w in session.widgets() if w.label.startswith("Customer ("))
            before = session.widget(label).options
            await session.choose(OFFER_PICKER, re.compile(r"^#2 · "))
            return before, session.widget(label).options, session.references, session.metric("Rank")

    before, after, references, rank = run(scenario())
    assert len(before) > 100
    assert references >= 1
    assert after == before and rank == "2"


def test_a_page_that_is_not_there_is_an_error(server: str) -> None:
    async def scenario() -> None:
        async with Session(server) as session:
            await session.open("recommendations")
            await session.goto("no-such-page")

    with pytest.raises(KeyError, match="no page 'no-such-page'"):
        run(scenario())

    async def typed_address() -> None:
        async with Session(server) as session:
            await session.open("no-such-page")

    with pytest.raises(ProtocolError, match="page not found: no-such-page"):
        run(typed_address())


def test_the_small_protocol_load_passes_every_isolation_check(load: tuple[dict, Path]) -> None:
    result, workdir = load
    failed = [check for check, ok in result["isolation"].items() if not ok]
    assert failed == [], failed
    assert len(result["isolation"]) == 5
    assert result["client"] == "protocol"
    summary = result["summary"]
    assert summary["trainings"] == TRAININGS
    assert summary["page_views"] >= (SESSIONS - 1) * VIEWS
    assert summary["customer_views"] >= SESSIONS - 1 and summary["explanation_views"] >= 2 * (SESSIONS - 1)
    assert (workdir / "server.log").exists() and (workdir / "workspace").is_dir()  # --workdir kept them
