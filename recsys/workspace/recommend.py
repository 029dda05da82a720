"""Recommendations of a saved run: the pieces of a customer's list that live in the workspace.

The explained list itself (:func:`recsys.insight.recommend.recommend_for_customer`) takes frames
and a model; this module adds what needs the workspace, such as the run's saved fairness
re-ranking, so that the Recommendations page and ``promolens recommend`` apply the same one.
"""

from __future__ import annotations

from typing import Any, Callable

import pandas as pd

from recsys.insight import rerank
from recsys.workspace import audit


def saved_rerank_hook(ws: Any, run_id: str, k: int, model: Any = None, dataset: Any = None
                      ) -> tuple[Callable[[pd.DataFrame], pd.DataFrame] | None, int | None, str | None]:
    """The run's saved fairness re-ranking as ``(rerank, pool, description)``, or Nones without one."""
    settings = audit.saved_rerank(ws, run_id)
    if settings is None:
        return None, None, None

    def apply(reco: pd.DataFrame) -> pd.DataFrame:
        return audit.rerank_for_run(ws, run_id, reco, k=k, model=model, dataset=dataset, settings=settings)

    return apply, rerank.pool_size(settings, k), f"{settings.kind} re-ranking, strength {settings.strength:g}"


__all__ = ["saved_rerank_hook"]
