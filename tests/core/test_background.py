"""Long jobs in a lower-priority worker thread: priority, inheritance, cancel, errors, language."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from recsys.core import i18n
from recsys.core.background import BACKGROUND_NICE, Cancelled, Job


def _nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def _finish(job: Job) -> None:
    assert job.wait(30.0), "the job did not end within 30 s"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are a Linux feature")
def test_the_job_and_the_threads_it_starts_run_nicer_than_the_caller():
    before = _nice()
    seen: dict[str, int] = {}

    def child() -> None:  # as an OpenMP or DuckDB worker started by the training would be
        seen["child"] = _nice()

    def work(progress, on_epoch):  # noqa: ANN001
        seen["job"] = _nice()
        t = threading.Thread(target=child)
        t.start()
        t.join()
        return "done"

    job = Job(work)
    _finish(job)
    assert job.result() == "done"
    expected = min(19, before + BACKGROUND_NICE)
    assert job.lowered is (expected > before)
    assert seen == {"job": expected, "child": expected}
    assert _nice() == before, "the caller's own priority must not change"


def test_progress_and_epochs_are_recorded_for_the_caller_to_draw():
    release = threading.Event()

    def work(progress, on_epoch):  # noqa: ANN001
        progress("Training", 0.25)
        on_epoch({"epoch": 1})
        on_epoch({"epoch": 2})
        release.wait(10.0)
        progress("Refit", 0.9)
        return 7

    job = Job(work)
    for _ in range(200):
        if job.progress == ("Training", 0.25) and not job.wait(0.0):
            break
        job.wait(0.05)
    assert job.progress == ("Training", 0.25)
    assert job.take_epochs() == [{"epoch": 1}, {"epoch": 2}]
    assert job.take_epochs() == []  # each record is handed over once
    with pytest.raises(RuntimeError, match="still running"):
        job.result()
    release.set()
    _finish(job)
    assert job.progress == ("Refit", 0.9) and job.result() == 7


def test_cancel_stops_the_job_at_its_next_report():
    started, steps = threading.Event(), []

    def work(progress, on_epoch):  # noqa: ANN001
        started.set()
        for step in range(1000):
            progress("epoch", step / 1000)
            steps.append(step)
            threading.Event().wait(0.01)
        return "never"

    job = Job(work)
    assert started.wait(10.0)
    job.cancel()
    _finish(job)
    with pytest.raises(Cancelled):
        job.result()
    assert len(steps) < 1000


def test_the_jobs_error_is_raised_to_the_caller():
    job = Job(lambda progress, on_epoch: (_ for _ in ()).throw(ValueError("the dataset has no timestamps")))
    _finish(job)
    with pytest.raises(ValueError, match="no timestamps"):
        job.result()


def test_the_job_speaks_the_callers_language():
    with i18n.use_language("zh_CN"):
        job = Job(lambda progress, on_epoch: i18n.current_language())
    _finish(job)
    assert job.result() == "zh_CN"
