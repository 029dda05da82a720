"""Paired comparisons of two models on the same customers: bootstrap intervals and a three-way verdict.

Two models judged on the same test customers give two per-customer values of a metric (e.g.
precision@10). Their difference is judged on the per-customer *differences* ``d_u = a_u - b_u``:
the mean of ``d``, and a percentile interval from resampling customers with replacement (the
same resample for both models, hence "paired": customer-to-customer noise cancels). The verdict:

* ``better``: the whole interval is above 0;
* ``worse``: the whole interval is below 0;
* ``no clear difference``: the interval contains 0.

>>> a = np.array([1.0, 0.5, 0.2, 0.9] * 50); b = a - 0.1
>>> r = paired_difference(a, b, seed=0)
>>> round(r.mean, 3), r.verdict
(0.1, 'better')
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BETTER = "better"
WORSE = "worse"
NO_CLEAR_DIFFERENCE = "no clear difference"
#: Resamples of the customers (2,000 keeps the 95% bounds within about 0.1 standard errors).
N_BOOTSTRAP = 2000
#: Resamples drawn per block (bounds memory: block x customers integers at a time).
BOOT_BLOCK = 100


@dataclass(frozen=True)
class PairedDifference:
    """Mean of ``a - b`` over customers with a ``1 - alpha`` bootstrap interval, and its verdict."""

    mean: float
    low: float
    high: float
    n: int
    verdict: str

    def to_dict(self) -> dict[str, float | int | str]:
        return {"diff": self.mean, "low": self.low, "high": self.high, "n": self.n, "verdict": self.verdict}


def verdict_of(low: float, high: float) -> str:
    """``better`` when the interval is above 0, ``worse`` when below, else ``no clear difference``."""
    if low > 0:
        return BETTER
    if high < 0:
        return WORSE
    return NO_CLEAR_DIFFERENCE


def paired_difference(
    a: np.ndarray, b: np.ndarray, n_bootstrap: int = N_BOOTSTRAP, alpha: float = 0.05, seed: int = 42,
) -> PairedDifference:
    """Paired bootstrap of ``mean(a - b)`` over customers (module docstring).

    ``a`` and ``b`` hold one value per customer, in the same order; customers where either is
    missing (NaN) are left out. Fewer than 2 customers give a NaN interval and no clear difference.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired values need the same customers: {a.shape} vs {b.shape}")
    if not (0 < alpha < 1):
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    d = (a - b)[~(np.isnan(a) | np.isnan(b))]
    n = len(d)
    if n < 2:
        mean = float(d.mean()) if n else float("nan")
        return PairedDifference(mean, float("nan"), float("nan"), n, NO_CLEAR_DIFFERENCE)
    rng = np.random.default_rng(seed)
    means = np.empty(n_bootstrap)
    for start in range(0, n_bootstrap, BOOT_BLOCK):  # blocks of resamples, each one vectorised draw
        size = min(BOOT_BLOCK, n_bootstrap - start)
        means[start:start + size] = d[rng.integers(0, n, size=(size, n))].mean(axis=1)
    low, high = (float(x) for x in np.quantile(means, [alpha / 2, 1 - alpha / 2]))
    return PairedDifference(float(d.mean()), low, high, n, verdict_of(low, high))


__all__ = [
    "BETTER", "NO_CLEAR_DIFFERENCE", "N_BOOTSTRAP", "PairedDifference", "WORSE", "paired_difference", "verdict_of",
]
