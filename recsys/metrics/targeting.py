"""Judge the targeting decision: for each offer, how well are its customers ranked?

Every other evaluation in PromoLens ranks offers *within* a customer. A campaign does the opposite:
it picks customers for an offer. :func:`evaluate_targeting` takes the rows of a later held-out
period (one row per eligible customer x offer, labelled by whether the customer responded), any
number of named scores for those rows, and reports per offer and averaged over offers with seeded
bootstrap intervals (offers resampled):

* customer-ranking AUC (a responder outranks a non-responder), precision@N and lift@N (responders
  among the top N against the offer's base rate, i.e. a random N);
* for the scores that are probabilities: Brier score, log loss and expected vs actual responders per
  decile (the reliability curve);
* paired differences against each baseline (same bootstrap resamples) and a plain-words verdict.

The rows and the contenders' scores are built on the learning side
(:mod:`recsys.learn.targeting_eval`): this module only measures, and imports nothing but
:mod:`recsys.core`.

>>> rows = pd.DataFrame({"user_id": list("abcd"), "item_id": ["o"] * 4, "label": [1, 1, 0, 0]})
>>> report = evaluate_targeting(rows, {"perfect": np.array([4., 3, 2, 1])}, n_values=(2,), n_boot=50)
>>> float(report.summary.loc[("perfect", "auc"), "mean"])
1.0
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from recsys.core import columns as C

OURS = "probability"
RANDOM = "random"
PAST_RATE = "past response rate"
SEGMENT_TYPE = "segment x offer type"
RAW_SCORE = "raw score"
AUC = "auc"
#: Row columns of the judged (customer, offer) rows: 1 = responded, and the positive-only sampling weight.
LABEL = "label"
ROW_WEIGHT = "row_weight"
BRIER = "brier"
LOG_LOSS = "log_loss"
_EPS = 1e-6


@dataclass
class TargetingReport:
    """What :func:`evaluate_targeting` measured.

    Attributes
    ----------
    per_offer
        One row per (model, offer): rows, responders, base rate, ``auc``, ``precision@N``, ``lift@N``.
    summary
        Index (model, metric); columns ``mean``, ``low``, ``high`` (bootstrap over offers) and ``offers``.
    differences
        Index (baseline, metric): the reference model minus the baseline, paired bootstrap ``mean``,
        ``low``, ``high``.
    deciles
        The reference model's reliability table (expected vs actual responders per decile).
    calibration
        Per probability model: ``brier``, ``log_loss``; and ``largest_decile_gap`` of the reference.
    verdict
        A plain-words sentence.
    """

    per_offer: pd.DataFrame
    summary: pd.DataFrame
    differences: pd.DataFrame
    deciles: pd.DataFrame
    calibration: dict[str, dict[str, float]]
    verdict: str
    reference: str
    n_offers: int
    n_rows: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly (no frames of one row per offer)."""
        def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
            return frame.reset_index().to_dict(orient="records")
        return {"summary": records(self.summary), "differences": records(self.differences),
                "deciles": records(self.deciles), "calibration": self.calibration, "verdict": self.verdict,
                "reference": self.reference, "n_offers": self.n_offers, "n_rows": self.n_rows}


# ------------------------------------------------------------------------------------------------
# per-offer metrics (vectorised with grouped ranks: no loop over offers or rows)
# ------------------------------------------------------------------------------------------------
def per_offer_metrics(offer: np.ndarray, label: np.ndarray, score: np.ndarray,
                      n_values: Sequence[int] = (50, 100)) -> pd.DataFrame:
    """Customer-ranking AUC, precision@N and lift@N of one score, one row per offer.

    Ties are broken at random-free average ranks for AUC and by row order for the top N. AUC is NaN
    for an offer without both responders and non-responders; precision@N for an offer with fewer
    than N eligible customers.
    """
    frame = pd.DataFrame({"offer": np.asarray(offer, dtype=object), "y": np.asarray(label, float),
                          "s": np.asarray(score, float)})
    g = frame.groupby("offer", sort=True)
    out = pd.DataFrame({"rows": g.size(), "responders": g["y"].sum()})
    out["base_rate"] = out["responders"] / out["rows"]
    ranks = g["s"].rank(method="average")
    pos_rank_sum = (ranks * frame["y"]).groupby(frame["offer"]).sum()
    n_pos, n_neg = out["responders"], out["rows"] - out["responders"]
    auc = (pos_rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    out[AUC] = auc.where((n_pos > 0) & (n_neg > 0))
    order = frame.sort_values(["offer", "s"], ascending=[True, False], kind="stable")
    position = order.groupby("offer").cumcount().to_numpy()
    for n in n_values:
        top = order[position < n].groupby("offer")["y"].mean().reindex(out.index)
        enough = out["rows"] >= n
        out[f"precision@{n}"] = top.where(enough)
        out[f"lift@{n}"] = (top / out["base_rate"]).where(enough & (out["base_rate"] > 0))
    return out


def _bootstrap_means(values: pd.DataFrame, draws: np.ndarray) -> np.ndarray:
    """Means over resampled offers (rows) of every column, NaN-aware: shape (draws, columns)."""
    v = values.to_numpy(float)
    ok = ~np.isnan(v)
    filled = np.where(ok, v, 0.0)
    counts = np.zeros((len(draws), len(v)))
    np.add.at(counts, (np.repeat(np.arange(len(draws)), draws.shape[1]), draws.ravel()), 1.0)
    num = counts @ filled
    den = counts @ ok.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den


def evaluate_targeting(
    rows: pd.DataFrame,
    scores: Mapping[str, np.ndarray],
    reference: str | None = None,
    n_values: Sequence[int] = (50, 100),
    n_boot: int = 1000,
    seed: int = 0,
    probability_models: Sequence[str] | None = None,
    min_responders: int = 1,
) -> TargetingReport:
    """Judge each named score as a way to rank customers for each offer.

    Parameters
    ----------
    rows
        ``user_id``, ``item_id``, ``label`` (1 = responded), optionally ``row_weight`` (positive-only
        sampling weights; the ranking metrics ignore it).
    scores
        Name -> one score per row (higher = more likely to respond).
    reference
        The model the verdict is about (default: the first of ``scores``).
    n_values
        The N of precision@N and lift@N.
    n_boot, seed
        Bootstrap resamples of the offers and their seed.
    probability_models
        Scores that are probabilities (get Brier, log loss and deciles); default: the reference.
    min_responders
        Offers with fewer responders in the period are left out.
    """
    names = list(scores)
    reference = reference or names[0]
    probability_models = list(probability_models or [reference])
    label = rows[LABEL].to_numpy(float)
    offer = rows[C.ITEM_ID].astype(str).to_numpy(object)
    per_model = {name: per_offer_metrics(offer, label, scores[name], n_values) for name in names}
    keep = per_model[reference].index[per_model[reference]["responders"] >= min_responders]
    metrics = [AUC] + [f"{kind}@{n}" for n in n_values for kind in ("precision", "lift")]
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(keep), size=(n_boot, len(keep))) if len(keep) else np.zeros((n_boot, 0), int)
    summary, boots = [], {}
    for name in names:
        table = per_model[name].loc[keep, metrics]
        boots[name] = _bootstrap_means(table, draws) if len(keep) else np.full((n_boot, len(metrics)), np.nan)
        for k, metric in enumerate(metrics):
            b = boots[name][:, k]
            summary.append({"model": name, "metric": metric, "mean": float(table[metric].mean()),
                            "low": float(np.nanpercentile(b, 2.5)) if np.isfinite(b).any() else np.nan,
                            "high": float(np.nanpercentile(b, 97.5)) if np.isfinite(b).any() else np.nan,
                            "offers": int(table[metric].notna().sum())})
    summary_frame = pd.DataFrame(summary).set_index(["model", "metric"])
    diffs = []
    for name in names:
        if name == reference:
            continue
        d = boots[reference] - boots[name]
        for k, metric in enumerate(metrics):
            mean = float(per_model[reference].loc[keep, metric].mean() - per_model[name].loc[keep, metric].mean())
            finite = np.isfinite(d[:, k]).any()
            diffs.append({"baseline": name, "metric": metric, "mean": mean,
                          "low": float(np.nanpercentile(d[:, k], 2.5)) if finite else np.nan,
                          "high": float(np.nanpercentile(d[:, k], 97.5)) if finite else np.nan})
    diff_frame = pd.DataFrame(diffs, columns=["baseline", "metric", "mean", "low", "high"]).set_index(["baseline", "metric"])
    in_kept = np.isin(offer, np.asarray(keep, dtype=object))
    weight = rows[ROW_WEIGHT].to_numpy(float) if ROW_WEIGHT in rows.columns else np.ones(len(rows))
    calibration: dict[str, dict[str, float]] = {}
    for name in probability_models:
        p = np.clip(np.asarray(scores[name], float)[in_kept], _EPS, 1 - _EPS)
        y, w = label[in_kept], weight[in_kept]
        calibration[name] = {
            BRIER: float(np.average((p - y) ** 2, weights=w)),
            LOG_LOSS: float(-np.average(y * np.log(p) + (1 - y) * np.log1p(-p), weights=w)),
        }
    deciles = reliability_table(np.asarray(scores[reference], float)[in_kept], label[in_kept], weight[in_kept]) \
        if reference in probability_models else pd.DataFrame()
    if len(deciles):
        calibration[reference]["largest_decile_gap"] = float(deciles["gap"].abs().max())
        calibration[reference]["largest_decile_gap_responders"] = float((deciles["actual"] - deciles["expected"]).abs().max())
    per_offer = pd.concat({n: t.loc[keep] for n, t in per_model.items()}, names=["model", "offer"])
    return TargetingReport(per_offer, summary_frame, diff_frame, deciles, calibration,
                           verdict(summary_frame, diff_frame, reference), reference, len(keep), int(in_kept.sum()))


def reliability_table(p: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None, bins: int = 10) -> pd.DataFrame:
    """Deciles of predicted probability: rows, expected and actual responders, mean predicted and
    observed rate, and their gap (the reliability curve)."""
    w = np.ones(len(p)) if weight is None else np.asarray(weight, float)
    order = np.argsort(p, kind="stable")
    decile = np.empty(len(p), dtype=np.int64)
    decile[order] = np.minimum((np.arange(len(p)) * bins) // max(len(p), 1), bins - 1)
    frame = pd.DataFrame({"decile": decile + 1, "w": w, "ep": w * p, "ey": w * np.asarray(y, float)})
    g = frame.groupby("decile").sum()
    out = pd.DataFrame({"rows": g["w"], "expected": g["ep"], "actual": g["ey"]})
    out["mean_predicted"] = out["expected"] / out["rows"]
    out["observed_rate"] = out["actual"] / out["rows"]
    out["gap"] = out["observed_rate"] - out["mean_predicted"]
    return out.reset_index()


def verdict(summary: pd.DataFrame, differences: pd.DataFrame, reference: str, metric: str = AUC) -> str:
    """Plain words from the paired intervals of ``metric``: which baselines the reference beats
    (interval of the difference above 0), loses to, or cannot be told apart from.

    >>> s = pd.DataFrame({"mean": [.7, .5], "low": [.68, .48], "high": [.72, .52]},
    ...                  index=pd.MultiIndex.from_tuples([("ours", "auc"), ("random", "auc")]))
    >>> d = pd.DataFrame({"mean": [.2], "low": [.17], "high": [.23]}, index=pd.MultiIndex.from_tuples([("random", "auc")]))
    >>> verdict(s, d, "ours")
    'Customer-ranking AUC 0.700 [0.680, 0.720]: beats every baseline: random 0.500 (+0.200 [+0.170, +0.230]).'
    """
    if (reference, metric) not in summary.index:
        return "Nothing to judge: no offer of the period had responders."
    ref = summary.loc[(reference, metric)]
    head = f"Customer-ranking {metric.upper()} {ref['mean']:.3f} [{ref['low']:.3f}, {ref['high']:.3f}]"
    beats, worse, unclear = [], [], []
    for base in differences.index.get_level_values(0).unique():
        d = differences.loc[(base, metric)]
        text = f"{base} {summary.loc[(base, metric), 'mean']:.3f} ({d['mean']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}])"
        (beats if d["low"] > 0 else worse if d["high"] < 0 else unclear).append(text)
    parts = []
    if beats and not worse and not unclear:
        parts.append("beats every baseline: " + "; ".join(beats))
    else:
        if beats:
            parts.append("beats " + "; ".join(beats))
        if unclear:
            parts.append("no clear difference with " + "; ".join(unclear))
        if worse:
            parts.append("worse than " + "; ".join(worse))
    return head + ": " + "; ".join(parts) + "."


__all__ = [
    "TargetingReport", "evaluate_targeting", "per_offer_metrics", "reliability_table", "verdict", "LABEL", "ROW_WEIGHT",
    "OURS", "RANDOM", "PAST_RATE", "SEGMENT_TYPE", "RAW_SCORE",
]
