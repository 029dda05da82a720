"""The two callback types long jobs accept, so pages and the CLI can show progress.

>>> seen = []
>>> report(lambda label, fraction: seen.append((label, fraction)), "Training", 1.5)
>>> seen
[('Training', 1.0)]
>>> report(None, "nobody listens", 1.0)  # no callback: nothing happens
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: ``progress(label, fraction)``: a short label of the current step and the share done, in [0, 1].
ProgressCallback = Callable[[str, float], None]
#: ``on_epoch(record)``: one dict per training epoch (``epoch``, validation metrics, seconds).
EpochCallback = Callable[[dict[str, Any]], None]


def report(progress: ProgressCallback | None, label: str, fraction: float) -> None:
    """Call ``progress`` if there is one, with ``fraction`` clipped to [0, 1]."""
    if progress is not None:
        progress(label, min(1.0, max(0.0, float(fraction))))


__all__ = ["ProgressCallback", "EpochCallback", "report"]
