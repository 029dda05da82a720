"""Judge the targeting decision honestly, and fit the response model the product scores with.

:mod:`recsys.metrics.targeting` measures; this module builds what it measures, on the learning side:

* :func:`targeting_rows`: the eligible (customer, offer) rows of a held-out period, labelled. On data
  with exposures, the customers the offer was actually sent or shown to in the period
  (:func:`~recsys.learn.response.exposure_rows`: the only customers whose response "if sent" is
  observed); on positive-only data, every customer active before the period x every offer live in it
  with at least one responder (the response model's stated assumption).
* :func:`targeting_scores`: the contenders for those rows: the response model (``probability``), and
  the baselines ``random``, ``past response rate`` (the customer's smoothed rate), ``segment x offer
  type`` (the smoothed rate of the customer's segment on offers of that type) and ``raw score`` (the
  hybrid's raw LightFM score: what the product ranked by before).
* :func:`judge_targeting`: the train-time judgement, leak-free. With ``cutoff`` the start of the test
  period and ``t0 = cutoff - window_days``: the hybrid is refitted (same config, the run's best number
  of epochs) on the events before ``t0``; the response model is fitted on ``[t0, cutoff)``; both score
  the test period as of ``cutoff`` and :func:`~recsys.metrics.targeting.evaluate_targeting` judges the
  ranking of customers per offer against the baselines.
* :func:`fit_production_response`: the response model the product uses, fitted on everything from
  ``t0`` to the end of the data (the judged window and the test period) with the scores of the same
  hybrid trained before ``t0`` (no refit: the judgement's). Production scoring pairs it with the
  run's production hybrid (refitted on all data) as of the campaign day: the softmax fit term only
  uses the order of a customer's scores, and the history features are recomputed as of that day.
  On the bundled sample this beats fitting on the test period alone with the hybrid of the train
  split: the top-500 lists of the deep discounts OFF0004 / OFF0050 / OFF0108 hold 1.86x / 2.14x /
  1.85x the base share of bargain hunters, against 1.45x / 1.70x / 1.49x.
* :func:`judgement_record`: the report as JSON-friendly entries a run keeps, with a plain statement of
  what the figures can and cannot say (positive-only data has no record of who was sent what).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd

from recsys.core import columns as C
from recsys.core.jsonio import jsonable
from recsys.core.progress import ProgressCallback, report as report_progress
from recsys.data.schema import TableSchema
from recsys.learn.pipeline import TrainConfig, fit_final
from recsys.learn.recommender import BaseRecommender
from recsys.learn.response import (
    EXPOSURE, ResponseConfig, ResponseContext, ResponseModel, event_roles, exposure_rows, live_mask,
)
from recsys.metrics.targeting import (
    AUC, LABEL, OURS, PAST_RATE, RANDOM, RAW_SCORE, SEGMENT_TYPE, TargetingReport, evaluate_targeting,
)

#: The N of precision@N and lift@N a run reports.
N_VALUES = (50, 100)
#: Offers with fewer responders in the test period are not judged.
MIN_RESPONDERS = 5


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
                     hybrid: BaseRecommender, interactions: pd.DataFrame, users: pd.DataFrame | None,
                     items: pd.DataFrame | None, segment_column: str | None = "segment",
                     offer_type_column: str | None = "campaign_type", seed: int = 0) -> dict[str, np.ndarray]:
    """The response model's probability and the four baselines for ``rows`` (history: before ``ctx.as_of``)."""
    uid, iid = rows[C.USER_ID].astype(str).to_numpy(object), rows[C.ITEM_ID].astype(str).to_numpy(object)
    upos, ipos = ctx.user_positions(uid), ctx.item_positions(iid)
    # the probability per pair: blocks of (a chunk of the distinct customers) x (every distinct offer),
    # so each customer's softmax normaliser over the live offers is computed once per chunk (a loop
    # over chunks of customers, not rows), with bounded memory
    prob = np.empty(len(rows))
    uu, uinv = np.unique(upos, return_inverse=True)
    ii, iinv = np.unique(ipos, return_inverse=True)
    order = np.argsort(uinv, kind="stable")
    chunk = max(1, (1 << 22) // max(len(ii), 1))
    for start in range(0, len(uu), chunk):
        lo, hi = np.searchsorted(uinv[order], [start, start + chunk])
        sel = order[lo:hi]
        block = response_model.predict_block(ctx, ctx.user_ids[uu[start:start + chunk]], ctx.item_ids[ii])
        prob[sel] = block[uinv[sel] - start, iinv[sel]]
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
    if users is not None and items is not None and segment_column in users.columns \
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


# ------------------------------------------------------------------------------------------------
# train time: the judgement and the production response model
# ------------------------------------------------------------------------------------------------
@dataclass
class TargetingJudgement:
    """What :func:`judge_targeting` measured and fitted.

    ``report`` is the evaluation of the test period; ``model`` the response model fitted on
    ``[window_start, cutoff)`` and ``hybrid`` the recommender whose scores it uses, refitted on the
    events before ``window_start``: the hybrid, or the served baseline (``scorer`` of :func:`judge_targeting`).
    """

    report: TargetingReport
    model: ResponseModel
    hybrid: BaseRecommender
    window_start: pd.Timestamp
    cutoff: pd.Timestamp
    timings: dict[str, float] = field(default_factory=dict)


def judge_targeting(
    interactions: pd.DataFrame,
    users: pd.DataFrame | None,
    user_schema: TableSchema | None,
    items: pd.DataFrame | None,
    item_schema: TableSchema | None,
    config: TrainConfig,
    epochs: int,
    cutoff: Any,
    response_config: ResponseConfig | None = None,
    n_boot: int = 1000,
    progress: ProgressCallback | None = None,
    scorer: Callable[[pd.DataFrame], BaseRecommender] | None = None,
) -> TargetingJudgement:
    """Judge the ranking of customers per offer on the period after ``cutoff``, leak-free (module doc).

    ``scorer`` fits the recommender whose scores the response model uses on the events it is given
    (those before the window start); default: the hybrid with ``config`` and ``epochs``. A run that
    serves a baseline passes a refit of that baseline, so its probabilities are judged on its scores.

    Raises :class:`~recsys.learn.response.ResponseModelError` when the window has too few responses.
    """
    rcfg = response_config or ResponseConfig()
    cut = pd.Timestamp(cutoff)
    if cut.tzinfo is not None:
        cut = cut.tz_localize(None)
    t0 = cut - pd.Timedelta(days=rcfg.window_days)
    ts = pd.to_datetime(interactions[C.TIMESTAMP])
    if ts.dt.tz is not None:
        ts = ts.dt.tz_localize(None)
    timings: dict[str, float] = {}
    report_progress(progress, f"Refitting the model on the events before {t0.date()}", 0.0)
    t = time.perf_counter()
    before = interactions[(ts < t0).to_numpy()]
    hybrid = (scorer(before) if scorer is not None
              else fit_final(before, users, user_schema, items, item_schema, config, epochs=epochs))
    timings["targeting_hybrid_before_window"] = time.perf_counter() - t
    report_progress(progress, "Fitting response probabilities", 0.6)
    t = time.perf_counter()
    known = interactions[(ts < cut).to_numpy()]
    rm = ResponseModel(rcfg).fit(known, users, user_schema, items, item_schema, hybrid, t0, cut)
    timings["targeting_response_fit"] = time.perf_counter() - t
    report_progress(progress, "Judging the targeting decision on the test period", 0.8)
    t = time.perf_counter()
    rows = targeting_rows(interactions, items, cut, horizon_days=rcfg.horizon_days)
    ctx = rm.context(interactions, users, items, hybrid, cut)
    scores = targeting_scores(rows, rm, ctx, hybrid, interactions, users, items, seed=rcfg.seed)
    report = evaluate_targeting(rows, scores, n_values=N_VALUES, n_boot=n_boot, seed=rcfg.seed,
                                probability_models=[OURS, PAST_RATE, SEGMENT_TYPE], min_responders=MIN_RESPONDERS)
    timings["targeting_evaluate"] = time.perf_counter() - t
    report_progress(progress, "Done", 1.0)
    return TargetingJudgement(report, rm, hybrid, t0, cut, {k: round(v, 4) for k, v in timings.items()})


def fit_production_response(
    interactions: pd.DataFrame,
    users: pd.DataFrame | None,
    user_schema: TableSchema | None,
    items: pd.DataFrame | None,
    item_schema: TableSchema | None,
    judgement: TargetingJudgement,
) -> ResponseModel:
    """The response model fitted on ``[judgement.window_start, end]`` (history before the window
    start) with the scores of ``judgement.hybrid``, trained on the events before it (module doc)."""
    return ResponseModel(judgement.model.config_).fit(
        interactions, users, user_schema, items, item_schema, judgement.hybrid, judgement.window_start)


def honest_note(report: TargetingReport, model: ResponseModel) -> str:
    """What the figures can and cannot say, in plain words (the data kind decides)."""
    if (OURS, AUC) in report.summary.index:
        s = report.summary.loc[(OURS, AUC)]
        auc = f"customer-ranking AUC {s['mean']:.2f} [{s['low']:.2f}, {s['high']:.2f}]"
    else:
        auc = "no customer-ranking AUC (no offer of the test period had enough responders)"
    if model.data_kind_ == EXPOSURE:
        return (f"Judged on who was actually sent or shown each offer in the test period "
                f"({report.n_rows:,} customer x offer pairs, {report.n_offers} offers): {auc}.")
    return ("This data has no record of who was sent what: the probabilities assume every active customer "
            "saw every live offer, so they say who is likely to take an offer, not how many more respond "
            f"because it was sent; the percentages are best read as relative. Judged on all active customers "
            f"x the {report.n_offers} offers taken in the test period: {auc}.")


def judgement_record(judgement: TargetingJudgement, production: ResponseModel | None = None) -> dict[str, Any]:
    """JSON-friendly entries of a judgement (what a run keeps in ``extra["targeting"]``)."""
    rep, rm = judgement.report, judgement.model
    ref = rep.calibration.get(rep.reference, {})
    return jsonable({
        "status": "ok",
        "verdict": rep.verdict,
        "note": honest_note(rep, rm),
        "data_kind": rm.data_kind_,
        "assumption": rm.assumption_,
        "horizon_days": rm.config_.horizon_days,
        "window": {"start": judgement.window_start.isoformat(), "cutoff": judgement.cutoff.isoformat()},
        "reference": rep.reference,
        "n_offers": rep.n_offers,
        "n_rows": rep.n_rows,
        "n_values": list(N_VALUES),
        "summary": rep.summary.reset_index().to_dict(orient="records"),
        "differences": rep.differences.reset_index().to_dict(orient="records"),
        "deciles": rep.deciles.to_dict(orient="records"),
        "calibration": rep.calibration,
        "largest_decile_gap": ref.get("largest_decile_gap"),
        "production_window": None if production is None else production.window_,
        "timings": judgement.timings,
    })


__all__ = [
    "targeting_rows", "targeting_scores", "TargetingJudgement", "judge_targeting", "fit_production_response",
    "honest_note", "judgement_record", "N_VALUES", "MIN_RESPONDERS",
]
