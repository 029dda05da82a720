"""Uplift metrics on randomised data: Qini curve, Qini coefficient, AUUC, uplift@k, with intervals.

A targeting score is judged on held-out *randomised* rows: each row has an outcome ``y`` (0/1 or an
amount), whether it was treated ``t`` (sent the coupon) and the score. Sorting by score and taking
the top fraction :math:`\\phi` of rows (treated and control alike, the "overall" convention of
scikit-uplift), with :math:`Y_t, N_t, Y_c, N_c` the outcome sums and counts of treated and control
rows among them and :math:`N` all rows:

* **Qini curve** :math:`Q(\\phi) = (Y_t - Y_c N_t / N_c) / N_T` (:math:`N_T` all treated rows): the
  incremental outcomes per customer of the whole list gained by treating only its top :math:`\\phi`
  (Radcliffe's Qini curve scaled so that its end :math:`Q(1)` is the average effect).
  Random targeting is the straight line :math:`\\phi\\,Q(1)`.
* **Qini coefficient** :math:`\\int_0^1 (Q(\\phi) - \\phi Q(1))\\,d\\phi`: the area between the
  curve and random targeting (0 = no better than random; in outcome units per customer).
* **AUUC** :math:`\\int_0^1 \\phi\\,(\\bar y_t(\\phi) - \\bar y_c(\\phi))\\,d\\phi`: the area under the
  uplift curve (the same idea with each arm's own mean, as causalml and scikit-uplift draw it).
* **uplift@k** :math:`\\bar y_t - \\bar y_c` among the top ``k`` share of rows.

Intervals come from a Poisson bootstrap (each row gets a Poisson(1) weight per replicate), which
keeps the score order fixed, so every replicate of every curve is one weighted cumulative sum over
the sorted rows: no loop over rows. Differences between two scores are paired (the same weights).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> t = rng.random(4000) < 0.5
>>> x = rng.random(4000)
>>> y = (rng.random(4000) < 0.1 + 0.2 * t * x).astype(float)
>>> result = evaluate_uplift(y, t, {"x": x, "random": rng.random(4000)}, n_boot=50, seed=1)
>>> bool(result.table.loc["x", "qini"] > result.table.loc["random", "qini"])
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from recsys.core.errors import PromoLensError

GRID = 101
N_BOOT = 200
ALPHA = 0.05
K = 0.3
METRICS: tuple[str, ...] = ("qini", "auuc", "uplift_at_k")


class UpliftMetricError(PromoLensError, ValueError):
    """The rows cannot be judged (no treated or no control rows, lengths differ, ...)."""


@dataclass(frozen=True)
class UpliftEvaluation:
    """Metrics of several scores on the same randomised rows.

    ``table``: one row per score, columns ``qini, qini_low, qini_high, auuc, ..., uplift_at_k, ...``;
    ``differences``: each score minus ``reference`` per metric with a paired interval and a verdict;
    ``curves``: long frame ``score, fraction, qini, qini_low, qini_high`` (plus the random line);
    ``k``: the share used by uplift@k; ``n``: rows; ``average_effect``: :math:`Q(1)` with interval.
    """

    table: pd.DataFrame
    differences: pd.DataFrame
    curves: pd.DataFrame
    k: float
    n: int
    n_treated: int
    average_effect: tuple[float, float, float]
    reference: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n, "n_treated": self.n_treated, "k": self.k, "reference": self.reference,
            "average_effect": list(self.average_effect),
            "scores": self.table.reset_index().to_dict("records"),
            "differences": self.differences.to_dict("records"),
        }


def _check(y: np.ndarray, t: np.ndarray, scores: dict[str, Any]) -> None:
    if len(y) != len(t) or any(len(np.asarray(s)) != len(y) for s in scores.values()):
        raise UpliftMetricError("outcome, treatment and every score must have the same number of rows.")
    if t.sum() < 2 or (~t).sum() < 2:
        raise UpliftMetricError(f"uplift needs at least 2 treated and 2 control rows; got {int(t.sum())} treated "
                                f"and {int((~t).sum())} control.")
    if not np.isfinite(y).all():
        raise UpliftMetricError("the outcome has missing or infinite values.")


def _curves(y: np.ndarray, t: np.ndarray, order: np.ndarray, weights: np.ndarray, grid: np.ndarray,
            k: float) -> dict[str, np.ndarray]:
    """Qini curve on ``grid``, Qini coefficient, AUUC and uplift@k for each weight row (B x n)."""
    w = weights[:, order]
    yt, tt = (y * t)[order], t[order].astype("float64")
    cum_nt = np.cumsum(w * tt, axis=1)
    cum_nc = np.cumsum(w * (1.0 - tt), axis=1)
    cum_yt = np.cumsum(w * yt * tt, axis=1)
    cum_yc = np.cumsum(w * y[order] * (1.0 - tt), axis=1)
    n = len(y)
    at = np.clip(np.ceil(grid * n).astype(np.int64) - 1, 0, n - 1)
    nt, nc, ytot, yctot = cum_nt[:, at], cum_nc[:, at], cum_yt[:, at], cum_yc[:, at]
    total = cum_nt[:, -1:] + cum_nc[:, -1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        qini = np.where(nc > 0, ytot - yctot * nt / nc, 0.0) / cum_nt[:, -1:]
        uplift_curve = np.where((nt > 0) & (nc > 0), (ytot / nt - yctot / nc), 0.0) * (nt + nc) / total
    qini[:, 0] = 0.0 if grid[0] == 0 else qini[:, 0]
    uplift_curve[:, 0] = 0.0 if grid[0] == 0 else uplift_curve[:, 0]
    end = qini[:, -1:]
    qini_coef = np.trapezoid(qini - grid * end, grid, axis=1)
    auuc = np.trapezoid(uplift_curve, grid, axis=1)
    top = min(max(int(np.ceil(k * n)) - 1, 0), n - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        at_k = cum_yt[:, top] / cum_nt[:, top] - cum_yc[:, top] / cum_nc[:, top]
    return {"curve": qini, "qini": qini_coef, "auuc": auuc, "uplift_at_k": at_k, "average": end[:, 0]}


def _interval(values: np.ndarray, alpha: float) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return float("nan"), float("nan")
    return float(np.quantile(finite, alpha / 2)), float(np.quantile(finite, 1 - alpha / 2))


def evaluate_uplift(
    outcome: Any, treated: Any, scores: dict[str, Any], k: float = K, n_boot: int = N_BOOT, seed: int = 0,
    alpha: float = ALPHA, reference: str | None = None, grid_points: int = GRID,
) -> UpliftEvaluation:
    """Qini coefficient, AUUC and uplift@k of each score (higher = more uplift) with bootstrap intervals.

    Parameters
    ----------
    outcome
        0/1 conversions or amounts per row.
    treated
        True where the row was treated (sent), False for control rows; assignment must be random.
    scores
        Name -> score per row (predicted uplift, response probability, random numbers, ...).
    k
        Share of rows for uplift@k.
    reference
        Name of the score the others are compared with (paired intervals); default the last one.
    """
    y = np.asarray(outcome, dtype="float64")
    t = np.asarray(treated, dtype=bool)
    _check(y, t, scores)
    if not scores:
        raise UpliftMetricError("give at least one score to judge.")
    if not 0 < k <= 1:
        raise UpliftMetricError(f"k must be a share in (0, 1]; got {k}.")
    names = list(scores)
    reference = reference if reference is not None else names[-1]
    if reference not in scores:
        raise UpliftMetricError(f"reference {reference!r} is not one of the scores {names}.")
    rng = np.random.default_rng(seed)
    n = len(y)
    weights = np.vstack([np.ones(n), rng.poisson(1.0, size=(n_boot, n)).astype("float64")])
    grid = np.linspace(0.0, 1.0, grid_points)
    tie_break = rng.random(n)
    results = {}
    for name in names:  # a handful of scores
        score = np.asarray(scores[name], dtype="float64")
        order = np.lexsort((tie_break, -np.nan_to_num(score, nan=-np.inf)))
        results[name] = _curves(y, t, order, weights, grid, k)
    rows, diffs, curves = [], [], []
    for name in names:
        r = results[name]
        row: dict[str, Any] = {"score": name}
        for m in METRICS:
            row[m] = float(r[m][0])
            row[f"{m}_low"], row[f"{m}_high"] = _interval(r[m][1:], alpha)
        rows.append(row)
        low, high = np.quantile(r["curve"][1:], [alpha / 2, 1 - alpha / 2], axis=0)
        curves.append(pd.DataFrame({"score": name, "fraction": grid, "qini": r["curve"][0],
                                    "qini_low": low, "qini_high": high}))
        if name != reference:
            for m in METRICS:
                d = r[m] - results[reference][m]
                lo, hi = _interval(d[1:], alpha)
                diffs.append({"score": name, "reference": reference, "metric": m, "difference": float(d[0]),
                              "low": lo, "high": hi, "verdict": difference_verdict(lo, hi)})
    average = results[names[0]]["average"]
    curves.append(pd.DataFrame({"score": "random targeting", "fraction": grid, "qini": grid * average[0],
                                "qini_low": np.nan, "qini_high": np.nan}))
    lo, hi = _interval(average[1:], alpha)
    return UpliftEvaluation(
        table=pd.DataFrame(rows).set_index("score"),
        differences=pd.DataFrame(diffs, columns=["score", "reference", "metric", "difference", "low", "high", "verdict"]),
        curves=pd.concat(curves, ignore_index=True), k=k, n=n, n_treated=int(t.sum()),
        average_effect=(float(average[0]), lo, hi), reference=reference,
    )


def difference_verdict(low: float, high: float) -> str:
    """Plain words for a difference interval: better, worse, or no clear difference."""
    if np.isfinite(low) and low > 0:
        return "better"
    if np.isfinite(high) and high < 0:
        return "worse"
    return "no clear difference"


def interval_text(table: pd.DataFrame, metric: str) -> pd.Series:
    """Each row's ``metric`` with its interval as text, ``"+0.1234 [+0.0567, +0.1890]"`` (a column at a time).

    >>> table = pd.DataFrame({"qini": [0.5, -0.25], "qini_low": [0.125, -0.5], "qini_high": [1.0, 0.0]}, index=["a", "b"])
    >>> interval_text(table, "qini").tolist()
    ['+0.5000 [+0.1250, +1.0000]', '-0.2500 [-0.5000, +0.0000]']
    """
    value, low, high = (table[c].map("{:+.4f}".format).astype(str) for c in (metric, f"{metric}_low", f"{metric}_high"))
    return value + " [" + low + ", " + high + "]"
