"""Long jobs (training, tuning, updates) run in a worker thread at a lower CPU priority than page views.

A training takes every core it is given for minutes; at the same priority, the colleagues browsing
the dashboard meanwhile wait for it. The worker lowers its own thread's priority (Linux: ``nice`` is
per thread, and the OpenMP threads LightFM and ALS start from it inherit it), so whenever a page
view wants the CPU it gets it first, and the training has every idle cycle. The caller's thread
stays free to draw the job's progress, which the worker only records: the page polls
:meth:`Job.wait` and shows the newest progress and epochs (the worker never touches the UI).
:meth:`Job.cancel` stops the job at its next progress report (a page that reruns mid-training
abandons it, as before).

>>> job = Job(lambda progress, on_epoch: (progress("half", 0.5), on_epoch({"epoch": 1}), 42)[-1])
>>> while not job.wait(0.05):
...     pass
>>> job.result(), job.progress, job.take_epochs()
(42, ('half', 0.5), [{'epoch': 1}])
>>> bad = Job(lambda progress, on_epoch: 1 / 0)
>>> bad.wait(5.0)
True
>>> bad.result()
Traceback (most recent call last):
...
ZeroDivisionError: division by zero
"""

from __future__ import annotations

import contextvars
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from recsys.core.progress import EpochCallback, ProgressCallback

#: How much nicer than page views a background job is (Linux nice: 10 = about a tenth of a page
#: view's share of a contended core).
BACKGROUND_NICE = 10


class Cancelled(Exception):
    """Raised inside a job's progress report after :meth:`Job.cancel`; the job ends with it."""


def lower_this_thread(by: int = BACKGROUND_NICE) -> bool:
    """Lower the calling thread's CPU priority by ``by`` nice steps; whether it could (Linux only).

    ``setpriority(PRIO_PROCESS, tid)`` sets one thread's nice value on Linux; elsewhere it would be
    the whole process's, so nothing is done there.
    """
    if not sys.platform.startswith("linux") or by <= 0:
        return False
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + by))
        return True
    except (OSError, AttributeError):
        return False


class Job:
    """``work(progress, on_epoch)`` running in a lower-priority daemon thread, started at once."""

    def __init__(self, work: Callable[[ProgressCallback, EpochCallback], Any], nice: int = BACKGROUND_NICE) -> None:
        self._work, self._nice = work, nice
        self._lock = threading.Lock()
        self._epochs: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._done = threading.Event()
        self._result: Any = None
        self._error: BaseException | None = None
        self.progress: tuple[str, float] | None = None
        self.lowered = False
        context = contextvars.copy_context()  # the caller's language and the like, in the worker too
        self._thread = threading.Thread(target=context.run, args=(self._run,), name="promolens-background-job", daemon=True)
        self._thread.start()

    def _report(self, label: str, fraction: float) -> None:
        if self._stop.is_set():
            raise Cancelled("the job was cancelled")
        self.progress = (label, fraction)  # one tuple, replaced whole: readers see an old or a new one

    def _epoch(self, record: dict[str, Any]) -> None:
        if self._stop.is_set():
            raise Cancelled("the job was cancelled")
        with self._lock:
            self._epochs.append(record)

    def _run(self) -> None:
        self.lowered = lower_this_thread(self._nice)
        try:
            self._result = self._work(self._report, self._epoch)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller by result()
            self._error = exc
        finally:
            self._done.set()

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; whether the job is over."""
        return self._done.wait(timeout)

    def take_epochs(self) -> list[dict[str, Any]]:
        """The epoch records reported since the last call."""
        with self._lock:
            out, self._epochs = self._epochs, []
        return out

    def cancel(self) -> None:
        """Ask the job to stop at its next progress report (it is not waited for)."""
        self._stop.set()

    def result(self) -> Any:
        """The job's return value, or its exception raised here; only once it is over."""
        if not self._done.is_set():
            raise RuntimeError("the job is still running: wait() until it returns True")
        if self._error is not None:
            raise self._error
        return self._result


__all__ = ["BACKGROUND_NICE", "Cancelled", "Job", "lower_this_thread"]
