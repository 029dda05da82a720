"""Many sessions at once (a small run of bench/bench_load.py): memory plateaus, sessions stay apart.

Three Chromium sessions against one server: two browse customers' recommendations and explanations
while the third trains, then switches dataset and uploads a file it does not import. The load runs
in a subprocess (bench/bench_load.py uses Playwright's async API; this process may hold the sync one).
Nothing here asserts a timing: the figures are printed for the log.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SESSIONS, VIEWS, VIEWS_AFTER_TRAINING, EPOCHS = 3, 3, 4, 3
# The plateau bounds. A leak of one copy of the sample's interactions frame (~7 MB) per page view,
# injected on purpose, measured +660 MB per 100 views here and fails; clean runs measured between
# -110 and +0 (memory given back after the training counts as negative growth).
MAX_GROWTH_MB_PER_100_VIEWS = 250.0
MAX_SECOND_HALF_ABOVE_FIRST_MB = 150.0

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def load(output_dir: Path) -> dict:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_load.py"), "--json", "--sessions", str(SESSIONS),
         "--views", str(VIEWS), "--views-after-training", str(VIEWS_AFTER_TRAINING), "--trainings", "1",
         "--epochs", str(EPOCHS), "--screenshots", str(output_dir / "load")],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(json.dumps(result, indent=1))
    return result


def test_every_session_browsed_while_one_trained(load: dict) -> None:
    summary = load["summary"]
    assert summary["trainings"] == 1
    assert summary["page_views"] >= (SESSIONS - 1) * VIEWS
    assert summary["views_after_warmup"] >= 1


def test_memory_plateaus_instead_of_growing_with_page_views(load: dict) -> None:
    summary = load["summary"]
    assert summary["growth_mb_per_100_views"] < MAX_GROWTH_MB_PER_100_VIEWS, summary
    second_over_first = summary["rss_after_warmup_second_half_mb"] - summary["rss_after_warmup_first_half_mb"]
    assert second_over_first < MAX_SECOND_HALF_ABOVE_FIRST_MB, summary


def test_no_session_sees_another_sessions_upload_or_choices(load: dict) -> None:
    failed = [check for check, ok in load["isolation"].items() if not ok]
    assert failed == [], failed
    assert len(load["isolation"]) == 5
