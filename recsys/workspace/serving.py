"""Which model serves a run, and its lists: the best validated model by default, the hybrid on request.

When a baseline (EASE, item-kNN, ALS, recent popularity) beats the hybrid on validation, the run
keeps it refitted on all data (:data:`~recsys.workspace.runs.VALIDATED_MODEL_FILE`) together with a
response model fitted and judged on *its* scores (:data:`~recsys.workspace.runs.VALIDATED_RESPONSE_FILE`,
``extra["validated_targeting"]``), and records ``extra["serving_model"] = "validated"``. The serving
model is then what recommendations, targeting probabilities and exports use:

* :func:`recsys.workspace.runs.load_response_model` and :func:`recsys.workspace.recommend.response_scorer`
  give the serving model's response probabilities (campaigns, exports, the Recommendations page);
* :func:`served_recommendations` gives a customer's list from the served baseline: its own top-k
  among the live offers, each with the exact reason of :func:`recsys.learn.serve.explain_list`
  (the history offers that make up an EASE / item-kNN score, or the offer's popularity) and its
  response probability.

:func:`set_serving` switches a run back to the hybrid (or to the validated model again); nothing
is refitted, both response models were fitted at train time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from recsys.core import columns as C
from recsys.core.errors import PromoLensError
from recsys.insight import recommend as R
from recsys.learn.serve import explain_list
from recsys.workspace import runs

#: The two serving choices of a run.
VALIDATED, HYBRID = "validated", runs.HYBRID
SERVE_CHOICES = (VALIDATED, HYBRID)
SERVING_KEY = "serving_model"


class ServingError(PromoLensError, ValueError):
    """The serving model cannot be set this way (the message says why and what to do)."""


def serving_choice(ws: Any, run_id: str) -> str:
    """``"validated"`` when the run serves its best validated baseline, else ``"hybrid"``."""
    return runs.get_run(ws, run_id).serving_model


def validated_name(ws: Any, run_id: str) -> str | None:
    """The baseline that won validation and is kept to serve (e.g. ``"ease"``), or None."""
    name = runs.get_run(ws, run_id).extra.get("validated_model")
    return str(name) if name else None


def serving_label(ws: Any, run_id: str) -> str:
    """The serving model in words, e.g. ``"EASE"`` or ``"Our model (hybrid)"``."""
    name = validated_name(ws, run_id) if serving_choice(ws, run_id) == VALIDATED else HYBRID
    return runs.MODEL_LABELS.get(str(name), str(name))


def set_serving(ws: Any, run_id: str, which: str) -> None:
    """Make ``which`` (``"validated"`` or ``"hybrid"``) the run's serving model."""
    if which not in SERVE_CHOICES:
        raise ServingError(f"the serving model is one of {SERVE_CHOICES}, got {which!r}")
    if which == VALIDATED and validated_name(ws, run_id) is None:
        raise ServingError(f"run {run_id} has no validated baseline to serve: the hybrid won validation (or the run "
                           "was trained before the choice), so the hybrid serves")
    ws.update_run_extra(run_id, {SERVING_KEY: which})


def load_serving_model(ws: Any, run_id: str) -> tuple[str, Any]:
    """The serving model and its name (``"hybrid"`` or the baseline's, e.g. ``"ease"``)."""
    if serving_choice(ws, run_id) == VALIDATED:
        return runs.load_validated_model(ws, run_id)
    return HYBRID, runs.load_model(ws, run_id)


@dataclass(frozen=True)
class ServedList:
    """A customer's list from the served baseline: ``item_id, score, rank, reason`` (+ ``probability``)."""

    model: str
    user_id: str
    recommendations: pd.DataFrame
    horizon_days: int | None
    note: str | None


def served_recommendations(ws: Any, run_id: str, dataset: Any, user_id: Any, *, k: int = 10,
                           exclude: str = R.EXCLUDE_REDEEMED, active_on: Any = None,
                           model: Any = None, response: tuple[Any, Any] | None = None) -> ServedList:
    """The validated baseline's top ``k`` for ``user_id`` among the offers live on ``active_on``
    (all offers without it), with exact reasons and, when the run has them, the response
    probabilities fitted on the baseline's scores (the order stays the baseline's own).

    ``exclude`` as in :func:`recsys.insight.recommend.recommend_for_customer`: ``"responded"`` leaves
    out the offers of the customer's training history, ``"redeemed"`` also those they redeemed or
    bought with later, ``"none"`` nothing.
    """
    if exclude not in R.EXCLUDE_CHOICES:
        raise ValueError(f"exclude must be one of {R.EXCLUDE_CHOICES}, got {exclude!r}")
    name = validated_name(ws, run_id)
    if name is None:
        raise ServingError(f"run {run_id} has no validated baseline: the hybrid serves")
    if model is None:
        model = runs.load_validated_model(ws, run_id)[1]
    user = str(user_id)
    if model.user_index_.positions([user])[0] < 0 and not (dataset.users[C.USER_ID].astype(str) == user).any():
        raise ValueError(f"customer {user!r} is not in this dataset")
    offers = model.item_index_.ids
    if active_on is not None:
        start, end = R.date_window_columns(dataset.info.item_schema, dataset.items)
        if start is None and end is None:
            raise ValueError("the offers table has no start or end date column, so 'active on' cannot be checked")
        live = R.active_items(dataset.items, active_on, start, end)
        if not len(live):
            raise R.NoLiveOffer(R.no_live_offer_message(dataset.items, active_on, start, end))
        offers = offers[np.isin(offers, np.asarray(live, dtype=object).astype(str))]
    if exclude == R.EXCLUDE_REDEEMED:
        offers = offers[~np.isin(offers, R.redeemed_items(dataset.interactions, user))]
    reco = model.recommend([user], k=k, candidates=offers, unknown="cold", exclude_seen=exclude != R.EXCLUDE_NONE)
    reco = reco.drop(columns=C.USER_ID).assign(**{R.REASON: explain_list(model, user, reco, names=lambda ids: R.item_names(dataset.items, ids))})
    rm, ctx = response if response is not None else (runs.load_response_model(ws, run_id, VALIDATED), None)
    if rm is None:
        return ServedList(name, user, reco, None, "this run has no response probabilities for its validated model "
                          "(data without timestamps, or too few responses): the order is the model's own score")
    day = active_on if active_on is not None else R.default_campaign_day(dataset)
    if day is None:
        day = pd.to_datetime(dataset.interactions[C.TIMESTAMP]).max().normalize() + pd.Timedelta(days=1)
    if ctx is None:
        ctx = served_context(rm, dataset, model, day)
    if len(reco):
        reco = reco.assign(**{R.PROBABILITY: rm.predict_block(ctx, [user], reco[C.ITEM_ID].astype(str).to_numpy(object))[0]})
    return ServedList(name, user, reco, int(rm.config_.horizon_days), None)


def served_scorer(ws: Any, run_id: str, dataset: Any, active_on: Any = None) -> tuple[Any, tuple[Any, Any] | None]:
    """The run's validated baseline and ``(response model, its context as of the campaign day)`` (None
    without response probabilities or offer dates): what :func:`served_recommendations` needs, loaded
    once for a caller that lists many customers."""
    model = runs.load_validated_model(ws, run_id)[1]
    rm = runs.load_response_model(ws, run_id, VALIDATED)
    day = active_on if active_on is not None else R.default_campaign_day(dataset)
    if rm is None or day is None:
        return model, None
    return model, (rm, served_context(rm, dataset, model, day))


def served_context(response_model: Any, dataset: Any, model: Any, day: Any) -> Any:
    """The response model's context over every customer as of ``day`` for the served baseline: built
    once per (run, day) by a caller that lists many customers (the page caches it), not per customer."""
    return response_model.context(dataset.interactions, dataset.users, dataset.items, model, day)


__all__ = [
    "VALIDATED", "served_context", "served_scorer",
    "HYBRID", "SERVE_CHOICES", "SERVING_KEY", "ServingError", "serving_choice", "validated_name",
    "serving_label", "set_serving", "load_serving_model", "ServedList", "served_recommendations",
]
