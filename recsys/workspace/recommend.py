"""Recommendations of a saved run: the pieces of a customer's list that live in the workspace.

The explained list itself (:func:`recsys.insight.recommend.recommend_for_customer`) takes frames
and a model; this module adds what needs the workspace, such as the run's saved fairness
re-ranking, so that the Recommendations page and ``promolens recommend`` apply the same one, and the
run's response probabilities as of a campaign day (:func:`response_scorer`) and a list's chances with
their reasons in percentage points of them (:func:`with_chances`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

import pandas as pd

from recsys.campaign.reasons import probability_reasons
from recsys.core import columns as C

from recsys.insight import rerank
from recsys.insight.recommend import REASON, ExplainedRecommendations, with_probabilities
from recsys.learn.response import scorer_name
from recsys.workspace import audit, runs

#: Shown when a run has no response model (trained before response probabilities, or data that could not fit them).
NO_PROBABILITY_NOTE = ("this run has no response probabilities (retrain it to get them): offers are ranked by the "
                       "model's raw score, which says which offers fit a customer, not how likely they are to respond")


def saved_rerank_hook(ws: Any, run_id: str, k: int, model: Any = None, dataset: Any = None
                      ) -> tuple[Callable[[pd.DataFrame], pd.DataFrame] | None, int | None, str | None]:
    """The run's saved fairness re-ranking as ``(rerank, pool, description)``, or Nones without one."""
    settings = audit.saved_rerank(ws, run_id)
    if settings is None:
        return None, None, None

    def apply(reco: pd.DataFrame) -> pd.DataFrame:
        return audit.rerank_for_run(ws, run_id, reco, k=k, model=model, dataset=dataset, settings=settings)

    return apply, rerank.pool_size(settings, k), f"{settings.kind} re-ranking, strength {settings.strength:g}"


def response_scorer(ws: Any, run_id: str, dataset: Any, model: Any, as_of: Any) -> tuple[Any, Any, str | None]:
    """The run's response model and its context as of ``as_of`` (history before it), or
    ``(None, None, note)`` for a run without one (callers fall back to the raw score and show the note).

    The response model is the serving model's (:mod:`recsys.workspace.serving`): when the run serves
    its validated baseline, the probabilities come from the response model fitted on that baseline's
    scores, and its context scores with the baseline (loaded here). ``model`` is the run's production
    hybrid (:func:`recsys.workspace.runs.load_model`), used when the hybrid serves; ``as_of``
    defaults to the day after the data's last event.
    """
    rm = runs.load_response_model(ws, run_id)
    if rm is None:
        return None, None, NO_PROBABILITY_NOTE
    if as_of is None:
        as_of = pd.to_datetime(dataset.interactions[C.TIMESTAMP]).max().normalize() + pd.Timedelta(days=1)
    if scorer_name(model) != rm.scores_from_:  # the run serves its validated baseline: score with it
        model = runs.load_validated_model(ws, run_id)[1]
    return rm, rm.context(dataset.interactions, dataset.users, dataset.items, model, as_of), None


def with_chances(listed: ExplainedRecommendations, response_model: Any, context: Any) -> ExplainedRecommendations:
    """``listed`` with each offer's response probability and, as its reasons, the parts of that
    probability in percentage points (the offer's facts included), as the Campaign page's file words
    them: the list of the Recommendations page and of ``promolens recommend``."""
    listed = with_probabilities(listed, response_model, context)
    reco = listed.recommendations
    if reco.empty:
        return listed
    reasons = probability_reasons(response_model, context, [listed.user_id] * len(reco), reco[C.ITEM_ID], offer_parts=True)
    return replace(listed, recommendations=reco.assign(**{REASON: reasons.to_numpy()}))


__all__ = ["saved_rerank_hook", "response_scorer", "with_chances", "NO_PROBABILITY_NOTE"]
