"""The whole marketer's journey in a real browser, page by page, against ``streamlit run app.py``.

Upload the sample files through the file chooser, match the columns, train a small model, open a
customer and the explanation of one offer, audit fairness, look at segments, build an audience,
export it and check the downloaded CSV, then upload outcomes of that campaign and read the lift.
One screenshot per page goes to ``tests/e2e/output/`` (and, curated, into docs/img/ for the guide).

Everything happens in one browser tab, so one Streamlit session: the dataset and the model picked
in the sidebar stay picked, as they do for a marketer clicking through the menu.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys.core import columns as C
from recsys.campaign.export import FORMULA_TRIGGERS
from recsys.insight.rerank import RerankSettings
from recsys.insight.rules import ItemRule
from recsys.workspace.audit import save_rerank
from recsys.workspace.store import Workspace

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data"
SAMPLE_FILES = {
    "Interactions": SAMPLE / "interactions.csv.gz",
    "Customer facts": SAMPLE / "users.csv",
    "Offer / product facts": SAMPLE / "items.csv",
}
DATASET_NAME = "Spring shop upload"
ENDED_OFFER = "OFF0001"  # ended on 2026-05-31, before the data's last day (2026-06-30)
#: Every page at the two screen sizes of the guide's screenshots (docs/img/<width>/<page>.png).
SCREENS = ({"width": 1440, "height": 1000}, {"width": 1280, "height": 720})
PAGES = {"Data": "Data", "Train": "Train a model", "Fairness": "Fairness and diversity",
         "Recommendations": "Recommendations", "Segments": "Customer segments", "Campaign": "Campaign",
         "Measure": "Measure"}
OFFERS = ("OFF0004", "OFF0050")  # the campaign's two coupons (deep discounts live on the data's last day)
PER_OFFER = 300  # top N customers per offer
CONVERSION = {C.TREATMENT: 0.30, C.CONTROL: 0.10}  # the planted effect of the coupon
SLOW = 600_000  # ms: import and training on a slow 2-core machine
MEDIUM = 240_000
APP_ERROR = "This app has encountered an error"

pytestmark = pytest.mark.slow


# ------------------------------------------------------------------------------- helpers
class Journey:
    """One tab of the app, with the few moves a marketer makes: go to a page, pick, type, click."""

    def __init__(self, page, output: Path, server) -> None:  # noqa: ANN001 - playwright Page, conftest.Server
        self.page = page
        self.output = output
        self.server = server
        self.step = "start"

    # ---- waiting
    def idle(self, timeout: int = MEDIUM) -> None:
        """Wait until the script has stopped running (no running indicator for a full second)."""
        self.page.evaluate("window.__busyAt = performance.now()")
        self.page.wait_for_function(
            """() => {
                const now = performance.now();
                if (document.querySelector('[data-testid=stStatusWidget]')) { window.__busyAt = now; return false; }
                return now - window.__busyAt > 1000;
            }""",
            polling=100, timeout=timeout,
        )

    def see(self, text: str | re.Pattern[str], timeout: int = MEDIUM):  # noqa: ANN201 - Locator
        """Wait for a visible element of the page with this text; fail at once on an app error."""
        main = self.page.locator("[data-testid=stMain]")
        found = main.get_by_text(text).first
        crashed = main.locator("[data-testid=stException]").or_(main.get_by_text(APP_ERROR)).first
        found.or_(crashed).first.wait_for(state="visible", timeout=timeout)
        if not found.is_visible() and crashed.is_visible():
            raise AssertionError(f"The {self.step} page shows an error instead of {text!r}: {crashed.inner_text()}")
        return found

    # ---- moving around
    def go(self, title: str, heading: str) -> None:
        self.step = title
        self.page.locator(f"[data-testid=stSidebarNavLink]:has(span[label='{title}'])").click()
        self.page.get_by_role("heading", name=heading).first.wait_for(timeout=MEDIUM)
        self.idle()

    def choose(self, label: str, option: str | re.Pattern[str], within=None) -> None:  # noqa: ANN001
        """Open the select box called ``label`` and click ``option``."""
        scope = within or self.page
        box = scope.get_by_role("combobox", name=label, exact=True)
        box.click()
        if box.get_attribute("aria-expanded") != "true":  # a click on the text does not always open it
            box.press("ArrowDown")
        self.page.get_by_role("option", name=option, exact=isinstance(option, str)).first.click()
        self.idle()

    def radio(self, option: str) -> None:
        self.page.locator("[data-testid=stRadio]").get_by_text(option, exact=True).click()
        self.idle()

    def number(self, label: str, value: float) -> None:
        box = self.page.get_by_label(label, exact=True)
        box.fill(str(value))
        box.press("Tab")

    def button(self, name: str) -> None:
        self.page.get_by_role("button", name=name).click()

    def upload(self, label: str, path: Path) -> None:
        """Upload ``path`` through the operating system's file chooser of the uploader ``label``."""
        uploader = self.page.locator("[data-testid=stFileUploader]").filter(has_text=label)
        with self.page.expect_file_chooser() as chooser:
            uploader.locator("[data-testid=stFileUploaderDropzone] button").click()
        chooser.value.set_files(path)
        uploader.get_by_text(path.name, exact=True).wait_for(timeout=MEDIUM)
        self.idle()

    def metric(self, label: str) -> str:
        box = self.page.locator("[data-testid=stMetric]").filter(
            has=self.page.locator("[data-testid=stMetricLabel]").get_by_text(label, exact=True))
        return box.locator("[data-testid=stMetricValue]").inner_text().strip()

    def shot(self, name: str, *, top: str | re.Pattern[str] | None = None) -> Path:
        """Screenshot of the screen, optionally scrolled so that the text ``top`` is at its top."""
        if top is not None:  # put this text at the top of the screen
            self.page.locator("[data-testid=stMain]").get_by_text(top).first.evaluate(
                "e => e.scrollIntoView({block: 'start'})")
            self.page.wait_for_timeout(300)
        self.page.mouse.move(1385, 500)  # off the content: no hover toolbar over a chart, no sidebar button
        self.page.wait_for_timeout(300)
        path = self.output / f"{name}.png"
        self.page.screenshot(path=str(path), animations="disabled")
        return path

    @contextmanager
    def failing_shot(self) -> Iterator[None]:
        try:
            yield
        except BaseException as exc:
            self.page.screenshot(path=str(self.output / f"FAILED-{self.step}.png"))
            raise AssertionError(f"{exc}\n\nServer log (last lines):\n{self.server.log()}") from exc


def most_active_customer() -> str:
    interactions = pd.read_csv(SAMPLE / "interactions.csv.gz", usecols=[C.USER_ID], dtype=str)
    return str(interactions[C.USER_ID].value_counts().index[0])


def planted_outcomes(export: pd.DataFrame, seed: int = 8) -> pd.DataFrame:
    """One row per exported customer: converted (0/1) at the planted rate of their group, and revenue."""
    customers = export.drop_duplicates(C.USER_ID)[[C.USER_ID, C.GROUP]].reset_index(drop=True)
    rng = np.random.default_rng(seed)
    rate = customers[C.GROUP].map(CONVERSION).to_numpy(float)
    converted = (rng.random(len(customers)) < rate).astype(int)
    return pd.DataFrame({
        "customer_id": customers[C.USER_ID],
        "converted": converted,
        "revenue": np.round(converted * rng.uniform(20, 80, len(customers)), 2),
        C.GROUP: customers[C.GROUP],  # kept for the test's own sums, dropped before the upload
    })


def formula_cells(text: str) -> list[str]:
    """Cells a spreadsheet would run as formulas: text starting with = + - @ tab or a line break.
    A negative number (-28.1) is a number, not a formula; an escaped cell starts with an apostrophe."""
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row
            if cell.startswith(FORMULA_TRIGGERS) and not _is_number(cell)]


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


# ------------------------------------------------------------------------------- the journey
def test_marketer_journey(server_process, open_app, output_dir: Path, tmp_path: Path) -> None:  # noqa: ANN001
    app = Journey(open_app(server_process.url), output_dir, server_process)
    with app.failing_shot():
        import_the_sample_files(app)
        train_a_small_model(app)
        open_a_customer(app)
        audit_fairness(app)
        look_at_segments(app)
        export = build_and_export_an_audience(app)
        measure_the_lift(app, export, tmp_path)
        every_page_at_two_sizes(app)


def import_the_sample_files(app: Journey) -> None:
    page = app.page
    app.step = "data"
    app.see("4,000", timeout=SLOW)  # the sample shop imported on first start
    app.idle()
    page.get_by_role("tab", name="Import new data").click()
    for label, path in SAMPLE_FILES.items():
        app.upload(label, path)
    app.see("1. Match your columns")
    form = page.locator("[data-testid=stForm]").filter(has_text="1. Match your columns")
    # The columns of the sample files are matched for us; confirm the revenue column by hand.
    assert form.get_by_role("combobox", name="user_id", exact=True).first.input_value() == C.USER_ID
    app.choose("value", C.VALUE, within=form)
    assert form.get_by_role("combobox", name="value", exact=True).input_value() == C.VALUE
    name = form.get_by_label("Dataset name")
    name.fill(DATASET_NAME)
    app.shot("01-data-import", top="1. Match your columns")
    before = [d.id for d in Workspace(app.server.workspace).datasets()]
    form.get_by_role("button", name="Check and import").click()
    # These are the sample shop's own files, imported on first start: refused, nothing saved ...
    app.see(re.compile(r"already imported as 'Sample shop'"), timeout=SLOW)
    app.idle(timeout=SLOW)
    assert [d.id for d in Workspace(app.server.workspace).datasets()] == before
    # ... unless a second copy is asked for on purpose.
    form.get_by_text("Import a second copy if these exact files were already imported").click()
    form.get_by_role("button", name="Check and import").click()
    app.see(f"Saved {DATASET_NAME}", timeout=SLOW)
    app.idle()
    # The new dataset is picked in the sidebar for us; pick it by hand as a marketer would check.
    app.choose("Dataset", re.compile(rf"^{DATASET_NAME} "), within=page.locator("[data-testid=stSidebar]"))
    assert page.get_by_role("combobox", name="Dataset").input_value().startswith(DATASET_NAME)
    page.get_by_role("tab", name="Overview").click()
    app.see("Days covered")
    app.idle()
    assert app.metric("Customers") == "4,000"
    app.shot("01-data")
    import_twice_makes_no_duplicate(app)


def import_twice_makes_no_duplicate(app: Journey) -> None:
    """A double click on an import button makes no second, untrained copy: it is refused in plain words."""
    page = app.page
    before = [d.id for d in Workspace(app.server.workspace).datasets()]
    page.get_by_role("tab", name="Import new data").click()
    app.radio("Use the sample shop")
    page.get_by_role("button", name="Import the sample shop").dblclick()
    app.see(re.compile(r"already imported as '(Sample shop|Spring shop upload)'"), timeout=SLOW)
    app.idle(timeout=SLOW)
    assert [d.id for d in Workspace(app.server.workspace).datasets()] == before
    page.get_by_role("tab", name="Overview").click()


def train_a_small_model(app: Journey) -> None:
    page = app.page
    app.go("Train", "Train a model")
    page.get_by_text("Model settings").click()
    app.number("Embedding size", 8)
    app.number("Max epochs (early stopping)", 4)
    app.button("Train and evaluate")
    # While it trains, the toolbar shows the running indicator and its Stop button (toolbarMode "viewer").
    page.locator("[data-testid=stStatusWidget]").wait_for(state="visible", timeout=MEDIUM)
    assert page.locator("[data-testid=stStatusWidgetRunningIcon]").or_(
        page.locator("[data-testid=stStatusWidget]").get_by_role("button", name="Stop")).first.is_visible()
    app.shot("02-train-running")
    app.see(re.compile(r"^Run \S+ · tested on the latest period$"), timeout=SLOW)
    app.idle(timeout=SLOW)
    assert page.get_by_role("combobox", name="Model run").is_visible()
    app.see("All runs on this dataset")
    app.shot("02-train", top="Run ")


def open_a_customer(app: Journey) -> None:
    page = app.page
    customer = most_active_customer()
    app.go("Recommendations", "Recommendations")
    app.radio("By customer id")
    box = page.get_by_role("textbox", name="Customer id", exact=True)
    box.fill(customer)
    box.press("Enter")
    app.see(f"Customer {customer}")
    app.see("Top 10 offers")
    app.idle()
    app.choose("Open the explanation of", re.compile(r"^#2 · "))
    chart = page.locator("[data-testid=stPlotlyChart]").filter(has_text=f"for customer {customer}")
    chart.first.wait_for(timeout=MEDIUM)
    page.get_by_role("tab", name="Evidence").click()
    app.see("Because they responded to")
    app.shot("03-recommendations", top="Top 10 offers")


def audit_fairness(app: Journey) -> None:
    app.go("Fairness", "Fairness and diversity")
    app.see(re.compile(r"What the audit found · run \S+ · [\d,]+ customers"))
    app.choose("Group customers by", "gender (sensitive)")
    app.see(re.compile(r"Who is offered .*, by gender"))
    app.idle()
    assert app.page.get_by_role("combobox", name="Group customers by").input_value() == "gender (sensitive)"
    app.shot("04-fairness")


def look_at_segments(app: Journey) -> None:
    app.go("Segments", "Customer segments")
    app.see("Segment profile")
    app.idle()
    app.shot("05-segments")


def build_and_export_an_audience(app: Journey) -> pd.DataFrame:
    page = app.page
    ws = Workspace(app.server.workspace)
    run_id = ws.runs(ws.datasets()[0].id)[0]["id"]
    save_rerank(ws, run_id, RerankSettings(kind="boost", strength=0.3, pool=30,
                                           items=ItemRule.parse("discount_depth>=30")))
    app.go("Campaign", "Campaign")
    app.see("Fairness re-ranking on:")  # a saved re-ranking that changes every list is named on the page
    form = page.locator("[data-testid=stForm]").filter(has_text="Who is eligible")
    offers = form.get_by_role("combobox", name="Offers to target")
    offers.click()
    offers.fill(ENDED_OFFER)  # ended before the campaign day: not offered unless asked for
    assert page.get_by_role("option", name=re.compile(rf"\({ENDED_OFFER}\)")).count() == 0
    offers.fill("")
    for offer in OFFERS:
        offers.click()
        offers.fill(offer)
        page.get_by_role("option", name=re.compile(rf"\({offer}\) · .* · live$")).click()
    page.keyboard.press("Escape")
    app.number("Amount", PER_OFFER)
    form.get_by_role("button", name="Preview audience").click()
    app.see("Customers getting a coupon", timeout=SLOW)
    app.idle(timeout=SLOW)
    app.see("Cost of the fairness re-ranking")
    treated = int(app.metric("Customers getting a coupon").replace(",", ""))
    control = int(app.metric("Control group (no coupon)").replace(",", ""))
    coupons = int(app.metric("Coupons to send").replace(",", ""))
    assert treated > 0 and control > 0
    expected = float(app.metric("Expected responders within 14 days").replace(",", ""))
    assert 0 < expected < coupons, "expected responders: the sum of the sent coupons' chances"
    app.shot("06-campaign", top=re.compile(r"^Preview$"))

    app.button("Export targeting list")
    exported = app.see(re.compile(r"^Exported \S+: download it"))
    export_id = exported.inner_text().split()[1].rstrip(":")
    app.idle()
    with page.expect_download(timeout=MEDIUM) as download:
        page.get_by_role("button", name=f"Download {export_id} (CSV)").click()
    saved = app.output / Path(download.value.suggested_filename).name
    download.value.save_as(saved)

    assert saved.read_bytes().startswith(b"\xef\xbb\xbf"), "UTF-8 with a BOM, so Excel reads it right"
    text = saved.read_text(encoding="utf-8-sig")
    rows = pd.read_csv(io.StringIO(text), dtype=str)
    assert list(rows.columns) == [C.USER_ID, C.ITEM_ID, "offer_name", "offer_start", "offer_end", C.SCORE,
                                  "probability", C.RANK, C.GROUP, C.REASONS]
    assert rows["offer_name"].str.len().gt(0).all() and not rows["offer_name"].isin(OFFERS).any()
    assert rows["probability"].astype(float).between(0, 1).all()
    assert len(rows) == coupons + control, "one row per coupon sent, plus the control group's rows"
    customers = rows.drop_duplicates(C.USER_ID)[C.GROUP].value_counts()
    assert customers.get(C.TREATMENT) == treated and customers.get(C.CONTROL) == control
    assert set(rows[C.GROUP]) == {C.TREATMENT, C.CONTROL}
    assert set(rows[C.ITEM_ID]) <= set(OFFERS)
    assert formula_cells(text) == [], "a cell would run as a spreadsheet formula"
    return rows


def measure_the_lift(app: Journey, export: pd.DataFrame, tmp_path: Path) -> None:
    page = app.page
    outcomes = planted_outcomes(export)
    path = tmp_path / "campaign_results.csv"
    outcomes.drop(columns=C.GROUP).to_csv(path, index=False)
    rate = outcomes.groupby(C.GROUP)["converted"].mean()
    app.go("Measure", "Measure")
    app.radio("Outcomes of a past export")
    app.upload("Outcomes", path)
    form = page.locator("[data-testid=stForm]").filter(has_text="Customer id column")
    assert form.get_by_role("combobox", name="Customer id column").input_value() == "customer_id"
    form.get_by_role("button", name="Measure lift").click()
    treated, control = rate[C.TREATMENT], rate[C.CONTROL]
    verdict = app.see(re.compile(r"^treatment raised the converted rate"))
    app.idle()
    text = verdict.inner_text()
    assert f"{treated:.2%} vs {control:.2%} in the control group" in text
    assert f"({(treated - control) * 100:+.2f} points" in text
    qini = app.see(re.compile(r"^Qini coefficient of the score"))  # the list's Qini curve is drawn above it
    assert "95% interval" in qini.inner_text()
    app.shot("07-measure", top="Outcomes: customer id")


def every_page_at_two_sizes(app: Journey) -> None:
    """A screenshot of every page at 1440x1000 and 1280x720 (the guide's), each page without an error."""
    for size in SCREENS:
        app.page.set_viewport_size(size)
        for title, heading in PAGES.items():
            app.go(title, heading)
            app.page.wait_for_timeout(500)
            assert app.page.locator("[data-testid=stException]").count() == 0, title
            app.page.mouse.move(size["width"] - 20, size["height"] // 2)
            app.page.screenshot(path=str(app.output / f"{size['width']}-{title.lower()}.png"), animations="disabled")
