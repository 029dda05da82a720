"""Many sessions against one server: page times, server memory and session isolation.

One ``streamlit run app.py`` on 127.0.0.1 with a fresh workspace (the sample shop, plus a second copy
of it, one model trained up front). Headless Chromium opens ``--sessions`` pages, each in its own
browser context (its own cookies, its own Streamlit session over its own WebSocket):

- every session but one browses the Recommendations page: it types a new customer id (one page view:
  the top offers, the explanation of offer #1 and all its tabs) and then opens two other offers'
  explanations (two more page views), again and again with a different customer each time;
- one session trains on the Train page (``--trainings`` times, the form's defaults) while the
  others browse; after that it switches its sidebar to the second dataset and uploads a file on the
  Data page without importing it;
- at the end every browsing session checks that it still shows its own dataset and customer and that
  its Data page shows no trace of the other session's upload (name, preview, column mapping), while
  the uploading session still shows it (the positive control).

A sampler reads the server's resident memory (the process and any children, from /proc) every
0.25 s, with the number of page views done so far. "Memory growth" is the slope of a straight line
through the samples taken after the warm-up (training, dataset switch and upload over, and every
browsing session past its first customer), in MB per 100 page views. Page times are reported as the
median and 95th percentile of every view and of each kind of view (new customer, another offer's
explanation, training, upload), also apart for the views made while a training ran.

``--think S``: after each page view a browsing session reads the page for S seconds on average (uniform
in [S/2, 3S/2], seeded), as people do; without it (the default) every session clicks again the moment
a page is drawn, which measures the machine saturated rather than 8 people using it.

``--client protocol``: the browsing sessions are not Chromium pages but ``bench/st_protocol.py`` clients
speaking Streamlit's own WebSocket protocol from this process, so the clients' CPU stays off the server's
cores (on this 2-core machine eight Chromium pages took most of it); each of their views is checked from
the deltas it received, and the isolation checks are made over the protocol. A view's time then leaves
out the browser's drawing of the page. The training session stays a Chromium page (it uploads a file).

Run: ``.venv/bin/python bench/bench_load.py [--sessions 8] [--views 15] [--views-after-training 9] [--trainings 2] [--think 0]
[--client browser|protocol] [--workdir DIR]`` (prints figures; it asserts nothing about timings).
tests/e2e/test_load.py runs a small version, tests/e2e/test_load_protocol.py a small protocol one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-renderer-backgrounding", "--disable-background-timer-throttling",
                 "--disable-backgrounding-occluded-windows"]
SECOND_NAME = "Second shop"
UPLOAD_MARKER = "colleague_upload_7f3a"  # in the uploaded file's name and in its cells
PAGE_TIMEOUT_MS = 240_000
#: A training (baselines tuned, response model fitted, refit) shares the cores with every browsing session.
TRAIN_TIMEOUT_MS = 1_200_000


# ------------------------------------------------------------------------------- set-up
def prepare_workspace(path: Path, epochs: int | None = None) -> list[str]:
    """Import the sample shop twice and train one model on the newest copy; return customer ids.

    The sample is imported last so that it is the sidebar's default (datasets are newest first).
    """
    from recsys.core import columns as C
    from recsys.workspace.ingest import SAMPLE_NAME, import_files, sample_files
    from recsys.learn.config import ModelConfig
    from recsys.learn.pipeline import TrainConfig
    from recsys.workspace.runs import train_run
    from recsys.workspace.store import Workspace

    ws = Workspace(path)
    files = sample_files()
    import_files(ws, files["interactions"], files["users"], files["items"], name=SECOND_NAME)
    sample, _ = import_files(ws, files["interactions"], files["users"], files["items"], name=SAMPLE_NAME,
                             is_sample=True)
    config = TrainConfig(model=ModelConfig(epochs=epochs)) if epochs else None
    train_run(ws, sample.id, config)
    users = ws.load_dataset(sample.id).users
    return users[C.USER_ID].astype(str).tolist()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(workspace: Path, port: int, log: Path | None = None) -> subprocess.Popen:
    """``streamlit run app.py`` on 127.0.0.1:port; returns once the port answers."""
    env = {**os.environ, "PROMOLENS_WORKSPACE": str(workspace)}
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.headless", "true", "--server.address", "127.0.0.1"],
        cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server stopped at start (exit {proc.returncode})")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("the server did not answer within 90 s")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return found


def cpu_seconds(pid: int, leave_out: int | None = None) -> float:
    """CPU time (user + system) used so far by a process and its descendants (from /proc), without the
    process ``leave_out`` and its own descendants."""
    ticks = 0
    skip = set(_descendants(leave_out)) if leave_out is not None else set()
    for p in _descendants(pid):
        if p in skip:
            continue
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of one process alone, every thread of it, no children (from /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU time every core of the machine spent busy so far (all processes: server, browsers, others)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    """Resident memory of a process and its descendants (from /proc; 0 once it is gone)."""
    total = 0
    for p in _descendants(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


# ------------------------------------------------------------------------------- the load
@dataclass
class PageView:
    session: int
    kind: str  # "customer" | "explanation" | "train" | "upload"
    seconds: float
    while_training: bool


@dataclass
class LoadResult:
    sessions: int
    views: list[PageView] = field(default_factory=list)
    samples: list[tuple[float, int, int]] = field(default_factory=list)  # (seconds, views done, rss bytes)
    trainings: list[float] = field(default_factory=list)
    training_window: tuple[float, float] = (0.0, 0.0)
    warm_views: int = 0
    #: When the training session's one-off work (trainings, its switch to the second dataset and the
    #: upload) was over: a first load of the second dataset is a cache filling once, not growth per view.
    one_offs_done: float = 0.0
    isolation: dict[str, bool] = field(default_factory=dict)
    wall: float = 0.0
    #: CPU seconds over the run: the server (process and children) and the whole machine (every core busy).
    server_cpu: float = 0.0
    machine_cpu: float = 0.0
    #: The clients' CPU seconds: this process (the protocol clients, Playwright's Python side) and its other
    #: children (Playwright's driver and Chromium); ``client`` says which client the browsing sessions used.
    bench_cpu: float = 0.0
    browsers_cpu: float = 0.0
    client: str = "browser"

    def browse_views(self) -> list[PageView]:
        return [v for v in self.views if v.kind in ("customer", "explanation")]

    def summary(self) -> dict[str, float]:
        """The figures of the run (memory in MB)."""
        views = self.browse_views()
        mb = [r / 1024**2 for _, _, r in self.samples]
        after = [(n, r / 1024**2) for t, n, r in self.samples
                 if t >= max(self.training_window[1], self.one_offs_done) and n >= self.warm_views]
        slope = _slope(after)
        half = len(after) // 2
        first, second = [r for _, r in after[:half]], [r for _, r in after[half:]]
        return {
            "sessions": self.sessions,
            "page_views": len(views),
            "trainings": len(self.trainings),
            "training_s_max": max(self.trainings, default=0.0),
            "rss_start_mb": mb[0] if mb else 0.0,
            "rss_peak_mb": max(mb, default=0.0),
            "rss_end_mb": mb[-1] if mb else 0.0,
            "rss_after_warmup_first_half_mb": statistics.median(first) if first else 0.0,
            "rss_after_warmup_second_half_mb": statistics.median(second) if second else 0.0,
            "views_after_warmup": (after[-1][0] - after[0][0]) if after else 0,
            "growth_mb_per_100_views": slope * 100,
            "page_median_s": statistics.median(v.seconds for v in views) if views else 0.0,
            "page_p95_s": _quantile([v.seconds for v in views], 0.95),
            "page_slowest_s": max((v.seconds for v in views), default=0.0),
            "page_slowest_while_training_s": max((v.seconds for v in views if v.while_training), default=0.0),
            "page_slowest_quiet_s": max((v.seconds for v in views if not v.while_training), default=0.0),
            **self.by_kind(),
            "wall_s": self.wall,
            # Where the machine's CPU went: the server's part, the rest being the browsers (every session's
            # Chromium renders its charts on the same two cores) and any other job.
            "server_cpu_s": self.server_cpu,
            "machine_busy_cpu_s": self.machine_cpu,
            "server_share_of_busy_cpu": self.server_cpu / self.machine_cpu if self.machine_cpu else 0.0,
            "server_cpu_s_per_page_view": self.server_cpu / len(views) if views else 0.0,
            # The clients' part: this process (with --client protocol, the browsing sessions' protocol clients)
            # and Chromium with Playwright's driver (every session, or only the training one with protocol).
            "bench_process_cpu_s": self.bench_cpu,
            "chromium_and_driver_cpu_s": self.browsers_cpu,
            "clients_share_of_busy_cpu": (self.bench_cpu + self.browsers_cpu) / self.machine_cpu if self.machine_cpu else 0.0,
            "other_cpu_s": self.machine_cpu - self.server_cpu - self.bench_cpu - self.browsers_cpu,
        }

    def by_kind(self) -> dict[str, float]:
        """Median and 95th percentile of each kind of page view (a new customer, another offer's
        explanation, a training, an upload), also apart for the views made while a training ran."""
        out: dict[str, float] = {}
        for kind in ("customer", "explanation", "train", "upload"):
            for label, views in (("", [v for v in self.views if v.kind == kind]),
                                 ("_while_training", [v for v in self.views if v.kind == kind and v.while_training]),
                                 ("_quiet", [v for v in self.views if v.kind == kind and not v.while_training])):
                if not views or (label and kind in ("train", "upload")):
                    continue
                seconds = [v.seconds for v in views]
                out[f"{kind}{label}_views"] = len(seconds)
                out[f"{kind}{label}_median_s"] = statistics.median(seconds)
                out[f"{kind}{label}_p95_s"] = _quantile(seconds, 0.95)
        return out


def _slope(points: list[tuple[int, float]]) -> float:
    """Least-squares slope of memory (MB) per page view; 0 with fewer than 2 distinct view counts."""
    if len({n for n, _ in points}) < 2:
        return 0.0
    mx = statistics.fmean(n for n, _ in points)
    my = statistics.fmean(r for _, r in points)
    sxx = sum((n - mx) ** 2 for n, _ in points)
    return sum((n - mx) * (r - my) for n, r in points) / sxx


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


async def _settled(page) -> None:  # noqa: ANN001 - playwright Page
    """Wait until the app's script run is over (Streamlit marks the root element)."""
    await page.locator("[data-testid=stApp][data-test-script-state=notRunning]").wait_for(timeout=PAGE_TIMEOUT_MS)


async def _open(context, url: str, heading: str):  # noqa: ANN001, ANN202 - playwright types
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    page = await context.new_page()
    await page.goto(url)
    await page.get_by_role("heading", name=heading).first.wait_for()
    await _settled(page)
    return page


class _Clock:
    def __init__(self) -> None:
        self.start = time.monotonic()
        self.training = False
        self.trained = False
        self.views_done = 0
        self.finished = False

    def now(self) -> float:
        return time.monotonic() - self.start


class _PageViews:
    """The browsing session's steps in a Chromium page (what a marketer clicks)."""

    def __init__(self, page) -> None:  # noqa: ANN001 - playwright Page
        self.page = page

    async def start(self) -> None:
        page = self.page
        await page.get_by_role("heading", name=re.compile("^Top ")).first.wait_for()
        await page.get_by_text("By customer id", exact=True).click()
        await page.get_by_role("textbox", name="Customer id").wait_for(timeout=PAGE_TIMEOUT_MS)

    async def customer(self, customer: str) -> None:
        page = self.page
        box = page.get_by_role("textbox", name="Customer id")
        await box.fill(customer)
        await box.press("Enter")
        await page.get_by_role("heading", name=f"Customer {customer}", exact=True).wait_for(timeout=PAGE_TIMEOUT_MS)
        await _settled(page)

    def _rank_metric(self):  # noqa: ANN202 - playwright Locator
        return self.page.get_by_test_id("stMetric").filter(has_text="Rank").get_by_test_id("stMetricValue")

    async def rank(self) -> str:
        return (await self._rank_metric().first.inner_text()).strip()

    async def explanation(self, rank: str) -> None:
        await _choose(self.page, "Open the explanation of", re.compile(rf"^#{rank} ·"))
        await _wait_text(self._rank_metric(), rank)
        await _settled(self.page)

    async def verify(self) -> None:
        """Nothing more: each step waited for what it should show."""


class ViewCheckFailed(AssertionError):
    """A page view over the protocol did not show what it should (its customer, offer or dataset)."""


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<br\s*/?>", " ", text)).strip()


class _ProtocolViews:
    """The same steps over Streamlit's WebSocket protocol (bench/st_protocol.py), each view checked from the
    deltas it received: the customer's heading, the chosen rank's offer and its explanation, the dataset."""

    def __init__(self, session) -> None:  # noqa: ANN001 - st_protocol.Session
        self.session = session
        self.customer_id = ""
        self._pending: tuple[str | None, str | None] = (None, None)

    async def start(self) -> None:
        await self.session.choose("Find a customer", "By customer id")
        self.session.widget("Customer id", kinds=("text_input",))

    async def customer(self, customer: str) -> None:
        await self.session.type("Customer id", customer)
        self.customer_id, self._pending = customer, (None, None)

    async def rank(self) -> str:
        return self.session.metric("Rank")

    async def explanation(self, rank: str) -> None:
        chosen = await self.session.choose("Open the explanation of", re.compile(rf"^#{rank} ·"))
        self._pending = (rank, chosen.split(" · ", 1)[1])

    async def verify(self) -> None:
        """Check the last view (after its time is taken: reading Arrow tables is the client's work)."""
        self.check(*self._pending)

    def check(self, rank: str | None = None, offer: str | None = None) -> None:
        """This session's own dataset and customer, its top offers, and the explanation of the chosen offer."""
        s, customer = self.session, self.customer_id
        problems = []
        if f"Customer {customer}" not in s.headings():
            problems.append(f"no heading 'Customer {customer}' in {s.headings()}")
        if not str(s.value("Dataset")).startswith("Sample shop"):
            problems.append(f"dataset {s.value('Dataset')!r}")
        if not any(h.startswith("Top ") and h.endswith(" offers") for h in s.headings()):
            problems.append("no top offers")
        offers = s.widget("Open the explanation of", kinds=("selectbox",)).options
        if not offers or not offers[0].startswith("#1 · "):
            problems.append(f"no ranked offers: {offers[:3]}")
        shown = s.metric("Rank")
        titles = [_one_line(t) for t in s.texts() if t.startswith("Why ")]
        if not any(t.endswith(f"for customer {customer}") for t in titles):
            problems.append(f"no explanation for customer {customer}: {titles}")
        if rank is not None and (shown != rank or not str(s.value("Open the explanation of")).startswith(f"#{rank} · ")):
            problems.append(f"rank {shown} shown, {rank} chosen")
        if offer is not None and f"Why {_one_line(offer)} for customer {customer}" not in titles:
            problems.append(f"the explanation is not of {offer!r}: {titles}")
        if problems:
            raise ViewCheckFailed("; ".join(problems))


async def _browse(index: int, views_of, customers: list[str], views: int, views_after_training: int,  # noqa: ANN001
                  clock: _Clock, result: LoadResult, started: asyncio.Event, warm: asyncio.Event, think: float = 0.0) -> str:
    """Customer after customer: type the id, then open two other offers' explanations.

    At least ``views`` page views, and at least ``views_after_training`` of them once training is over.
    After each view the session reads the page for ``think`` seconds on average (uniform between half
    and one and a half times it, seeded by the session), as a marketer does; 0 clicks on at once.
    ``views_of`` does the steps: a Chromium page (:class:`_PageViews`) or the protocol (:class:`_ProtocolViews`).
    """
    import random

    reader = random.Random(index)

    async def read() -> None:
        if think > 0:
            await asyncio.sleep(think * reader.uniform(0.5, 1.5))
    await views_of.start()
    done, after, last = 0, 0, ""
    for customer in customers:
        if done >= views and clock.trained and after >= views_after_training:
            break
        t0, training = time.monotonic(), clock.training
        await views_of.customer(customer)
        after += clock.trained and not training
        _record(result, clock, PageView(index, "customer", time.monotonic() - t0, training or clock.training))
        await views_of.verify()
        done, last = done + 1, customer
        await read()
        for _ in range(2):
            current = await views_of.rank()
            rank = next(r for r in ("3", "2", "4") if r != current)  # another offer: a real rerun
            t0, training = time.monotonic(), clock.training
            await views_of.explanation(rank)
            after += clock.trained and not training
            _record(result, clock, PageView(index, "explanation", time.monotonic() - t0, training or clock.training))
            await views_of.verify()
            done += 1
            await read()
        started.set()
        if done >= 3:
            warm.set()
    return last


async def _choose(page, label: str, option: re.Pattern[str]) -> None:  # noqa: ANN001
    """Open a select box and click an option (a click that only moves the focus is repeated)."""
    box = page.get_by_role("combobox", name=label)
    for _ in range(20):
        if await box.get_attribute("aria-expanded") != "true":
            await box.click()
        try:
            await page.get_by_role("option", name=option).first.click(timeout=1000)
            return
        except Exception:  # noqa: BLE001 - the list did not open, or the click landed but the rerun it
            # started kept the option busy past the timeout (seen at load average 26): picked if the box shows it
            try:
                if option.search((await page.get_by_test_id("stSelectbox").filter(has=box).first.inner_text(timeout=1000))
                                 .split("\n")[-1].strip()):
                    await page.keyboard.press("Escape")
                    return
            except Exception:  # noqa: BLE001 - being redrawn: try again
                pass
            continue
    raise TimeoutError(f"could not pick {option.pattern} in {label}")


async def _wait_text(locator, text: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + PAGE_TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        try:
            if (await locator.first.inner_text(timeout=1000)).strip() == text:
                return
        except Exception:  # noqa: BLE001 - the element is being replaced by the rerun
            pass
        await asyncio.sleep(0.05)
    raise TimeoutError(f"'{text}' did not appear")


def _record(result: LoadResult, clock: _Clock, view: PageView) -> None:
    result.views.append(view)
    clock.views_done += 1


async def _train(index: int, page, trainings: int, clock: _Clock, result: LoadResult,  # noqa: ANN001
                 epochs: int | None = None) -> None:
    """Train (the form's defaults, or ``epochs`` at most) ``trainings`` times in a row while the others browse."""
    for _ in range(trainings):
        before = await page.get_by_role("combobox", name="Model run").input_value()
        number = int(re.sub(r"\D", "", before.split("·")[0]) or 0) + 1
        expander = page.get_by_text("Train a new model", exact=True)
        if not await page.get_by_role("button", name="Train and evaluate").is_visible():
            await expander.click()
        if epochs is not None:
            field = page.get_by_role("spinbutton", name="Max epochs (early stopping)")
            if not await field.is_visible():
                await page.get_by_text("Model settings", exact=True).click()
            await field.fill(str(epochs))
        t0 = time.monotonic()
        clock.training = True
        await page.get_by_role("button", name="Train and evaluate").click()
        await page.get_by_role("heading", name=re.compile(rf"^Run r{number} ")).wait_for(timeout=TRAIN_TIMEOUT_MS)
        await _settled(page)
        clock.training = False
        result.trainings.append(time.monotonic() - t0)
        result.views.append(PageView(index, "train", time.monotonic() - t0, True))


async def _upload(page, base_url: str, upload: Path) -> None:  # noqa: ANN001
    """Switch this session to the second dataset, then upload a file on the Data page (not imported)."""
    await page.goto(base_url)
    await page.wait_for_selector("[data-testid=stSidebarNav]", timeout=PAGE_TIMEOUT_MS)
    await _settled(page)
    await _choose(page, "Dataset", re.compile(rf"^{SECOND_NAME}"))
    await _settled(page)
    await page.get_by_role("tab", name="Import new data").click()
    await page.locator("[data-testid=stFileUploaderDropzoneInput]").first.set_input_files(str(upload))
    await page.get_by_text("1. Match your columns").wait_for(timeout=PAGE_TIMEOUT_MS)
    await _settled(page)


async def _import_tab_text(page, base_url: str) -> tuple[str, int]:  # noqa: ANN001
    """The Data page's Import tab as this session sees it: its text and the number of files listed."""
    await page.get_by_role("link", name="Data").first.click()
    await page.get_by_role("tab", name="Import new data").wait_for(timeout=PAGE_TIMEOUT_MS)
    await _settled(page)
    await page.get_by_role("tab", name="Import new data").click()
    await _settled(page)
    # An uploaded file shows as a chip with its size ("2.5KB") in the uploader.
    files = await page.get_by_test_id("stFileUploader").get_by_text(re.compile(r"^[\d.]+\s?(B|KB|MB|GB)$")).count()
    values = await page.locator("input").evaluate_all("els => els.map(e => e.value).join(' ')")
    return await page.locator("[data-testid=stApp]").inner_text() + " " + values, files


async def _protocol_isolation(session, last: str) -> tuple[bool, bool, bool]:  # noqa: ANN001 - st_protocol.Session
    """A browsing session over the protocol: (own dataset kept, own customer kept, no trace of the upload).

    The trace is looked for everywhere the session's Data page holds it: every text (tables' cells
    included), every element's bytes, every widget's value, and any file an uploader holds for it."""
    own_dataset = str(session.value("Dataset")).startswith("Sample shop")
    own_customer = f"Customer {last}" in session.headings()
    await session.goto("Data")
    text = session.text()
    files = sum(len(w.value or []) for w in session.widgets() if w.kind == "file_uploader")
    no_trace = (files == 0 and UPLOAD_MARKER not in text and not session.raw_contains(UPLOAD_MARKER)
                and "Match your columns" not in text and "Data" in session.headings())
    return own_dataset and str(session.value("Dataset")).startswith("Sample shop"), own_customer, no_trace


async def run_load(base_url: str, server_pid: int, customers: list[str], *, sessions: int, views: int,
                   views_after_training: int, trainings: int, upload: Path, chromium: str, epochs: int | None = None,
                   screenshots: Path | None = None, think: float = 0.0, client: str = "browser") -> LoadResult:
    """Drive ``sessions`` sessions (one trains and uploads, the others browse) against a running server.

    ``client="browser"``: every session is a Chromium page. ``client="protocol"``: the browsing sessions
    speak Streamlit's WebSocket protocol (bench/st_protocol.py: no browser, so the clients' CPU stays off
    the server's cores); the training session stays a Chromium page (it uploads a file)."""
    from playwright.async_api import async_playwright

    from st_protocol import Session

    result = LoadResult(sessions=sessions, client=client)
    clock = _Clock()
    browsers = sessions - 1
    share = len(customers) // max(browsers, 1)
    protocol = client == "protocol"
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        contexts = [await browser.new_context(viewport={"width": 1280, "height": 900})
                    for _ in range(1 if protocol else sessions)]

        async def sample() -> None:
            while not clock.finished:
                result.samples.append((clock.now(), clock.views_done, rss_bytes(server_pid)))
                await asyncio.sleep(0.25)

        async def open_protocol() -> Session:
            session = Session(base_url, timeout=PAGE_TIMEOUT_MS / 1000)
            await session.open("recommendations")
            if "Recommendations" not in session.headings():
                raise ViewCheckFailed(f"the Recommendations page did not open: {session.headings()}")
            return session

        sampler = asyncio.create_task(sample())
        pages = await asyncio.gather(
            _open(contexts[0], f"{base_url}/train", "Train a model"),
            *(open_protocol() if protocol else _open(c, f"{base_url}/recommendations", "Recommendations")
              for c in (range(browsers) if protocol else contexts[1:])),
        )
        clock.start = time.monotonic()
        result.samples.clear()
        cpu_start, machine_start = cpu_seconds(server_pid), machine_busy_seconds()
        bench_start, browsers_start = own_cpu_seconds(os.getpid()), _children_cpu(server_pid)
        warms = [asyncio.Event() for _ in range(browsers)]
        starts = [asyncio.Event() for _ in range(browsers)]

        async def trainer() -> None:
            await asyncio.gather(*(s.wait() for s in starts))  # train while every other session browses
            result.training_window = (clock.now(), result.training_window[1])
            await _train(0, pages[0], trainings, clock, result, epochs)
            result.training_window = (result.training_window[0], clock.now())
            await _upload(pages[0], base_url, upload)
            # The browsing sessions' views after training count from here, past every one-off step: under
            # load few views fell between the upload's first load of the second dataset (~40 MB, once)
            # and the end, and that step read as 439 MB of growth per 100 views.
            result.one_offs_done = clock.now()
            clock.trained = True

        async def warmed() -> None:
            await asyncio.gather(*(w.wait() for w in warms))
            result.warm_views = clock.views_done

        views_of = [(_ProtocolViews if protocol else _PageViews)(pages[i]) for i in range(1, sessions)]
        tasks = [
            asyncio.create_task(trainer()), asyncio.create_task(warmed()),
            *(asyncio.create_task(_browse(i, views_of[i - 1], customers[(i - 1) * share:i * share], views,
                                          views_after_training, clock, result, starts[i - 1], warms[i - 1], think))
              for i in range(1, sessions)),
        ]
        try:
            done = await asyncio.gather(*tasks)
        except BaseException:
            clock.finished = True
            for task in tasks:
                task.cancel()
            folder = screenshots or Path(tempfile.gettempdir()) / "promolens-load-failure"
            folder.mkdir(parents=True, exist_ok=True)
            for i, page in enumerate(pages):
                if protocol and i > 0:
                    (folder / f"failed_session_{i}.txt").write_text(
                        "\n".join(page.headings()) + "\n\n" + page.text(), encoding="utf-8")
                else:
                    await page.screenshot(path=str(folder / f"failed_session_{i}.png"))
            print(f"screenshots (and protocol sessions' texts) of the failure: {folder}", file=sys.stderr)
            raise
        lasts = done[2:]
        result.wall = clock.now()
        result.server_cpu = cpu_seconds(server_pid) - cpu_start
        result.machine_cpu = machine_busy_seconds() - machine_start
        result.bench_cpu = own_cpu_seconds(os.getpid()) - bench_start
        result.browsers_cpu = _children_cpu(server_pid) - browsers_start
        clock.finished = True
        await sampler

        # Isolation: own dataset and customer kept; no trace of the upload elsewhere; the uploader sees it.
        own_dataset, own_customer, no_trace = True, True, True
        for i, last in zip(range(1, sessions), lasts, strict=True):
            page = pages[i]
            if protocol:
                dataset_kept, customer_kept, untouched = await _protocol_isolation(page, last)
                own_dataset &= dataset_kept
                own_customer &= customer_kept
                no_trace &= untouched
                continue
            own_dataset &= (await page.get_by_role("combobox", name="Dataset").input_value()).startswith("Sample shop")
            own_customer &= await page.get_by_role("heading", name=f"Customer {last}", exact=True).is_visible()
            text, files = await _import_tab_text(page, base_url)
            no_trace &= files == 0 and UPLOAD_MARKER not in text and "Match your columns" not in text
        uploader_text, uploader_files = await _import_tab_text(pages[0], base_url)
        result.isolation = {
            "browsing sessions keep their own dataset": own_dataset,
            "browsing sessions keep their own customer": own_customer,
            "no other session sees the upload": no_trace,
            "the uploading session sees its upload": uploader_files == 1 and UPLOAD_MARKER in uploader_text,
            "the uploading session kept its dataset": (
                await pages[0].get_by_role("combobox", name="Dataset").input_value()).startswith(SECOND_NAME),
        }
        if screenshots is not None:
            screenshots.mkdir(parents=True, exist_ok=True)
            for i, page in enumerate(pages[:1] if protocol else pages):
                await page.screenshot(path=str(screenshots / f"load_session_{i}.png"), full_page=False)
        if protocol:
            await asyncio.gather(*(session.close() for session in pages[1:]))
        await browser.close()
    return result


def _children_cpu(server_pid: int) -> float:
    """CPU seconds of this process's children but the server (Playwright's driver, Chromium)."""
    return cpu_seconds(os.getpid(), leave_out=server_pid) - own_cpu_seconds(os.getpid())


def write_upload(folder: Path) -> Path:
    """A small interactions file that only the uploading session has."""
    path = folder / f"{UPLOAD_MARKER}.csv"
    rows = [f"{UPLOAD_MARKER}_{i},OFF{i % 7:04d},click,2026-01-{1 + i % 28:02d}" for i in range(50)]
    path.write_text("customer,offer,event,time\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def load_test(*, sessions: int, views: int, views_after_training: int, trainings: int, epochs: int | None = None,
              workdir: Path | None = None, screenshots: Path | None = None, think: float = 0.0,
              client: str = "browser") -> LoadResult:
    """Set up a workspace, start the server, run the load, stop the server.

    With ``workdir`` the workspace, the uploaded file and the server's log are kept there (else in a
    temporary folder, removed at the end)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise RuntimeError("no Chromium on this machine (apt-get install chromium)")
    own = workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="promolens-load-")) if own else workdir
    workdir.mkdir(parents=True, exist_ok=True)
    if not own and (workdir / "workspace").exists():
        raise RuntimeError(f"{workdir / 'workspace'} exists already: give an empty or new --workdir")
    try:
        customers = prepare_workspace(workdir / "workspace", epochs=epochs)
        upload = write_upload(workdir)
        port = free_port()
        server = start_server(workdir / "workspace", port, log=workdir / "server.log")
        try:
            return asyncio.run(run_load(
                f"http://127.0.0.1:{port}", server.pid, customers, sessions=sessions, views=views,
                views_after_training=views_after_training,
                trainings=trainings, upload=upload, chromium=chromium, epochs=epochs, screenshots=screenshots,
                think=think, client=client,
            ))
        finally:
            stop_server(server)
    finally:
        if own:
            shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=8, help="concurrent sessions (one of them trains)")
    parser.add_argument("--views", type=int, default=15, help="page views per browsing session (at least)")
    parser.add_argument("--views-after-training", type=int, default=9,
                        help="page views per browsing session after the last training (at least)")
    parser.add_argument("--trainings", type=int, default=2, help="trainings run by the training session")
    parser.add_argument("--epochs", type=int, default=None, help="max epochs of every training (default: the form's)")
    parser.add_argument("--screenshots", type=Path, default=None, help="save one screenshot per session here")
    parser.add_argument("--json", action="store_true", help="print the figures and checks as one JSON object")
    parser.add_argument("--think", type=float, default=0.0,
                        help="mean seconds a browsing session reads each page before its next action (0: none)")
    parser.add_argument("--client", choices=("browser", "protocol"), default="browser",
                        help="what the browsing sessions are: Chromium pages (default) or bench/st_protocol.py "
                             "clients speaking Streamlit's WebSocket protocol (no browser on the server's cores)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the workspace, the uploaded file and the server's log in this (new) folder")
    args = parser.parse_args()
    result = load_test(sessions=args.sessions, views=args.views, views_after_training=args.views_after_training,
                       trainings=args.trainings, epochs=args.epochs, screenshots=args.screenshots, think=args.think,
                       client=args.client, workdir=args.workdir)
    if args.json:
        print(json.dumps({"client": result.client, "summary": result.summary(), "isolation": result.isolation}))
        return
    print(f"{'client':36s} {result.client}")
    for name, value in result.summary().items():
        print(f"{name:36s} {value:,.2f}" if isinstance(value, float) else f"{name:36s} {value:,}")
    for check, ok in result.isolation.items():
        print(f"{'ok  ' if ok else 'FAIL'} {check}")


if __name__ == "__main__":
    main()
