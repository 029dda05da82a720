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

Eligible rows: on data with exposures, the customers the offer was actually sent or shown to in the
period (``exposure_rows``: the only customers whose response "if sent" is observed); on positive-only
data, every customer active before the period x every offer live in it with at least one responder
(the response model's stated assumption).

:func:`targeting_scores` computes the usual contenders: the response model (``probability``), and
the baselines ``random``, ``past response rate`` (the customer's smoothed rate), ``segment x offer
type`` (the smoothed rate of the customer's segment on offers of that type) and ``raw score`` (the
hybrid's raw LightFM score: what the product ranked by before).

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
from recsys.learn.model import HybridRecommender
from recsys.learn.response import (
    LABEL, ROW_WEIGHT, ResponseContext, ResponseModel, event_roles, exposure_rows, live_mask, reliability_table,
)

OURS = "probability"
RANDOM = "random"
PAST_RATE = "past response rate"
SEGMENT_TYPE = "segment x offer type"
RAW_SCORE = "raw score"
AUC = "auc"
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


# ------------------------------------------------------------------------------------------------
# the rows and the contenders of a held-out period
# ------------------------------------------------------------------------------------------------
def targeting_rows(interactions: pd.DataFrame, items: pd.DataFrame | None, cutoff: Any, end: Any | None = None,
                   horizon_days: int = 14, max_offers: int = 200) -> pd.DataFrame:
    """The eligible (customer, offer) rows of the period after ``cutoff``, labelled (see module doc)."""
    ts = pd.to_datetime(interactions[C.TIMESTAMP])
    end = pd.Timestamp(end) if end is not None else ts.max() + pd.Timedelta(seconds=1)
    _, is_resp, has_exposure = event_roles(interactions)
    if has_exposure:
        return exposure_rows(interactions, cutoff, end, horizon_days)
    cut = pd.Timestamp(cutoff)
    uid = interactions[C.USER_ID].astype(str).to_numpy(object)
    iid = interactions[C.ITEM_ID].astype(str).to_numpy(object)
    after = is_resp & (ts > cut).to_numpy() & (ts < end).to_numpy()
    users = np.unique(uid[(ts <= cut).to_numpy()])
    counts = pd.Series(iid[after]).value_counts()
    offers = counts.index.to_numpy(object)
    offers = offers[live_mask(items, offers, cut, end)][:max_offers]
    pos = pd.DataFrame({C.USER_ID: uid[after], C.ITEM_ID: iid[after]}).drop_duplicates()
    grid = pd.DataFrame({C.USER_ID: np.repeat(users, len(offers)), C.ITEM_ID: np.tile(offers, len(users))})
    grid = grid.merge(pos.assign(**{LABEL: np.int8(1)}), how="left", on=[C.USER_ID, C.ITEM_ID])
    grid[LABEL] = grid[LABEL].fillna(0).astype(np.int8)
    return grid


def _smoothed_rate(k: pd.Series, n: pd.Series, prior: float, strength: float = 20.0) -> pd.Series:
    return (k + strength * prior) / (n + strength)


def targeting_scores(rows: pd.DataFrame, response_model: ResponseModel, ctx: ResponseContext,
                     hybrid: HybridRecommender, interactions: pd.DataFrame, users: pd.DataFrame | None,
                     items: pd.DataFrame | None, segment_column: str | None = "segment",
                     offer_type_column: str | None = "campaign_type", seed: int = 0) -> dict[str, np.ndarray]:
    """The response model's probability and the four baselines for ``rows`` (history: before ``ctx.as_of``)."""
    uid, iid = rows[C.USER_ID].astype(str).to_numpy(object), rows[C.ITEM_ID].astype(str).to_numpy(object)
    upos, ipos = ctx.user_positions(uid), ctx.item_positions(iid)
    # the probability per pair: logit blocks of the distinct customers x distinct offers would be
    # large; score offer by offer over its own customers instead (a loop over offers, not rows)
    prob = np.empty(len(rows))
    order = np.argsort(ipos, kind="stable")
    bounds = np.flatnonzero(np.diff(ipos[order])) + 1
    for chunk in np.split(order, bounds):
        prob[chunk] = response_model.predict_block(ctx, ctx.user_ids[upos[chunk]], [ctx.item_ids[ipos[chunk[0]]]])[:, 0]
    ts = pd.to_datetime(interactions[C.TIMESTAMP]).to_numpy("datetime64[ns]")
    is_exp, is_resp, has_exposure = event_roles(interactions)
    hist = ts < ctx.as_of
    h = pd.DataFrame({C.USER_ID: interactions[C.USER_ID].astype(str).to_numpy(object)[hist],
                      C.ITEM_ID: interactions[C.ITEM_ID].astype(str).to_numpy(object)[hist],
                      "exp": is_exp[hist].astype(float), "resp": is_resp[hist].astype(float)})
    if not has_exposure:
        h["exp"] = 1.0
    prior = h["resp"].sum() / max(h["exp"].sum(), 1.0)
    per_user = h.groupby(C.USER_ID)[["exp", "resp"]].sum()
    past = _smoothed_rate(per_user["resp"], per_user["exp"], prior).reindex(uid).fillna(prior).to_numpy()
    seg_type = np.full(len(rows), prior)
    if users is not None and items is not None and segment_column in (users.columns if users is not None else []) \
            and offer_type_column in items.columns:
        seg = users.drop_duplicates(C.USER_ID).set_index(users.drop_duplicates(C.USER_ID)[C.USER_ID].astype(str))[segment_column].astype(str)
        typ = items.drop_duplicates(C.ITEM_ID).set_index(items.drop_duplicates(C.ITEM_ID)[C.ITEM_ID].astype(str))[offer_type_column].astype(str)
        h["seg"], h["typ"] = seg.reindex(h[C.USER_ID]).to_numpy(), typ.reindex(h[C.ITEM_ID]).to_numpy()
        cell = h.groupby(["seg", "typ"])[["exp", "resp"]].sum()
        rate = _smoothed_rate(cell["resp"], cell["exp"], prior)
        key = pd.MultiIndex.from_arrays([seg.reindex(uid).to_numpy(), typ.reindex(iid).to_numpy()])
        seg_type = rate.reindex(key).fillna(prior).to_numpy()
    known_u = hybrid.user_index_.positions(uid) >= 0
    known_i = hybrid.item_index_.positions(iid) >= 0
    raw = np.full(len(rows), -np.inf)
    ok = known_u & known_i
    raw[ok] = hybrid.score(uid[ok], iid[ok])
    return {OURS: prob, RANDOM: np.random.default_rng(seed).random(len(rows)), PAST_RATE: past,
            SEGMENT_TYPE: seg_type, RAW_SCORE: raw}


__all__ = [
    "TargetingReport", "evaluate_targeting", "per_offer_metrics", "verdict", "targeting_rows", "targeting_scores",
    "OURS", "RANDOM", "PAST_RATE", "SEGMENT_TYPE", "RAW_SCORE",
]
