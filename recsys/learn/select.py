"""Validation: tune each strong baseline on the validation slice, and pick the model that serves.

Every model is judged on the *same* validation slice the hybrid's early stopping uses (carved out
of the train part by :mod:`recsys.learn.protocol`): a model is fitted on ``fit_part`` (train minus
validation), its top-k lists of the validation customers are scored with the run's validation
metric (NDCG@k by default, :class:`~recsys.learn.config.ModelConfig`), and each baseline keeps the
setting of its small grid (:data:`GRIDS`) that scores best. The winner is refitted on the whole
train part (so the most recent data is not lost) and then evaluated on test like every other model.

:func:`choose_production` picks the model with the best validation score: test figures never
choose anything, so the test comparison stays honest.

The baselines (names as in :mod:`recsys.learn.pipeline`):

* ``recent_popularity``: the most taken offers of the last ``window_days`` (grid: 7 .. 90 days, all time);
* ``ease``: EASE, grid over ``l2``;
* ``item_knn``: cosine item-kNN, grid over ``k``;
* ``als``: implicit ALS, grid over ``factors`` x ``alpha``.

The last three give customers without a training history the tuned recent popularity.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd

from recsys.core import columns as C
from recsys.core.i18n import N_
from recsys.data.schema import TableSchema
from recsys.learn.als import ALSRecommender
from recsys.learn.baselines import RecentPopularityRecommender
from recsys.learn.config import InteractionConfig
from recsys.learn.history import EASERecommender, ItemKNNRecommender
from recsys.learn.interactions import relevant_pairs
from recsys.learn.protocol import drop_seen
from recsys.learn.recommender import BaseRecommender
from recsys.metrics.paired import paired_difference
from recsys.metrics.ranking import NDCG, Precision

RECENT_POPULARITY = "recent_popularity"
EASE = "ease"
ITEM_KNN = "item_knn"
ALS = "als"
STRONG_BASELINES: tuple[str, ...] = (RECENT_POPULARITY, EASE, ITEM_KNN, ALS)

#: The validation grid of each strong baseline (small on purpose: a few fits each).
GRIDS: dict[str, list[dict[str, Any]]] = {
    RECENT_POPULARITY: [{"window_days": w} for w in (7.0, 14.0, 30.0, 90.0, None)],
    EASE: [{"l2": v} for v in (10.0, 50.0, 200.0, 500.0, 1000.0, 3000.0)],
    ITEM_KNN: [{"k": v} for v in (10, 25, 50, 100, 200)],
    ALS: [{"factors": f, "alpha": a} for f in (16, 64) for a in (1.0, 10.0)],
}
#: Setting used when there is no validation slice to tune on (early stopping off).
DEFAULTS: dict[str, dict[str, Any]] = {
    RECENT_POPULARITY: {"window_days": 30.0}, EASE: {"l2": 500.0}, ITEM_KNN: {"k": 50},
    ALS: {"factors": 64, "alpha": 10.0},
}
#: What each baseline does for customers it cannot score from their history (shown with the figures).
FALLBACKS: dict[str, str] = {
    RECENT_POPULARITY: N_("everyone gets the recent best-sellers; offers new in the test period score 0"),
    EASE: N_("customers without a history get recent popularity; new offers score 0"),
    ITEM_KNN: N_("customers without a history get recent popularity; new offers score 0"),
    ALS: N_("customers without a history get recent popularity; new offers score 0"),
}


def make_baseline(name: str, icfg: InteractionConfig, params: dict[str, Any], fallback_days: float | None,
                  seed: int) -> BaseRecommender:
    """An unfitted strong baseline ``name`` with ``params`` (and the fallback window of the others)."""
    if name == RECENT_POPULARITY:
        return RecentPopularityRecommender(icfg, **params)
    if name == EASE:
        return EASERecommender(icfg, fallback_days=fallback_days, **params)
    if name == ITEM_KNN:
        return ItemKNNRecommender(icfg, fallback_days=fallback_days, **params)
    if name == ALS:
        return ALSRecommender(icfg, seed=seed, fallback_days=fallback_days, **params)
    raise ValueError(f"unknown baseline {name!r}; choose from {STRONG_BASELINES}")


def validation_score(
    model: BaseRecommender, validation: pd.DataFrame, icfg: InteractionConfig, k: int, metric: str,
    candidates: np.ndarray | None = None, max_users: int = 5000, seed: int = 42,
) -> float:
    """The validation metric (``"ndcg"`` or ``"precision"`` at ``k``) of a model fitted on ``fit_part``.

    Relevant pairs of the validation slice minus what the customer already had, restricted to the
    candidates; at most ``max_users`` customers (seeded sample), as the hybrid's early stopping.
    """
    pairs = drop_seen(relevant_pairs(validation, icfg, model.reference_time_), model)
    known = model.item_index_.positions(pairs[C.ITEM_ID]) >= 0
    if candidates is not None:
        known &= pairs[C.ITEM_ID].isin(set(candidates)).to_numpy()
    pairs = pairs[known]
    users = pd.unique(pairs[C.USER_ID].to_numpy(object))
    if len(users) == 0:
        return float("nan")
    if len(users) > max_users:
        users = np.sort(np.random.default_rng(seed).choice(users, max_users, replace=False))
        pairs = pairs[pairs[C.USER_ID].isin(users)]
    reco = model.recommend(users, k=k, candidates=candidates, unknown="cold")
    scorer = NDCG(k) if metric == "ndcg" else Precision(k)
    return float(scorer.calc(reco, pairs))


@dataclass
class Tuned:
    """The result of tuning one baseline: its chosen setting, validation scores, the model refitted on train."""

    name: str
    params: dict[str, Any]
    validation: float | None
    grid: list[dict[str, Any]] = field(default_factory=list)
    model: BaseRecommender | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"params": self.params, "validation": self.validation, "grid": self.grid,
                "seconds": round(self.seconds, 3), "fallback": FALLBACKS.get(self.name, "")}


def tune_baselines(
    names: list[str], fit_part: pd.DataFrame, validation: pd.DataFrame | None, train: pd.DataFrame,
    users: pd.DataFrame | None, user_schema: TableSchema | None, items: pd.DataFrame | None,
    item_schema: TableSchema | None, icfg: InteractionConfig, reference_time: pd.Timestamp | None,
    k: int, metric: str, candidates: np.ndarray | None, max_users: int, seed: int,
    progress: Callable[[str, float], None] | None = None,
) -> dict[str, Tuned]:
    """Tune each baseline of ``names`` on the validation slice, refit the best on ``train``.

    Recent popularity is tuned first: its window is the fallback of the others. Without a
    validation slice every baseline keeps :data:`DEFAULTS` (and says so: ``validation`` None).
    """
    order = [n for n in STRONG_BASELINES if n in names]
    out: dict[str, Tuned] = {}
    fallback_days: float | None = DEFAULTS[RECENT_POPULARITY]["window_days"]
    side = dict(users=users, user_schema=user_schema, items=items, item_schema=item_schema)
    for step, name in enumerate(order):
        if progress is not None:
            progress(f"Tuning the {name.replace('_', ' ')} baseline on the validation slice", step / max(len(order), 1))
        t0 = time.perf_counter()
        grid_scores: list[dict[str, Any]] = []
        best_params, best_value = DEFAULTS[name], None
        if validation is not None:
            for params in GRIDS[name]:
                model = make_baseline(name, icfg, params, fallback_days, seed).fit(fit_part, **side)
                value = validation_score(model, validation, icfg, k, metric, candidates, max_users, seed)
                grid_scores.append({**params, "validation": None if np.isnan(value) else round(value, 6)})
                if not np.isnan(value) and (best_value is None or value > best_value):
                    best_params, best_value = params, value
        final = make_baseline(name, icfg, best_params, fallback_days, seed).fit(train, reference_time=reference_time, **side)
        out[name] = Tuned(name, dict(best_params), best_value, grid_scores, final, time.perf_counter() - t0)
        if name == RECENT_POPULARITY:
            fallback_days = best_params["window_days"]
    return out


def choose_production(validation: dict[str, float | None]) -> str | None:
    """The model with the best validation score (ties: the first listed), ``None`` without scores."""
    scored = {k: v for k, v in validation.items() if v is not None and not np.isnan(v)}
    if not scored:
        return None
    return max(scored, key=lambda name: (scored[name], -list(scored).index(name)))


#: The metrics whose differences get a paired interval (formatted with k).
COMPARED_METRICS: tuple[str, ...] = ("precision@{k}", "ndcg@{k}", "recall@{k}")
#: Customer groups of the comparison: all, those with a training history (warm), those without (cold).
GROUPS: tuple[str, ...] = ("all", "warm", "cold")


def compare_models(per_user: dict[str, pd.DataFrame], reference: str, warm: pd.Series, k: int,
                   seed: int = 42) -> pd.DataFrame:
    """Paired bootstrap of ``reference`` minus every other model, per metric and customer group.

    ``per_user`` holds each model's per-customer test metrics (same customers, index ``user_id``);
    ``warm`` flags the customers with a training history. Returns one row per (model, metric,
    group): ``reference``, ``model``, ``metric``, ``group``, ``diff``, ``low``, ``high``, ``n``, ``verdict``.
    """
    cols = ["reference", "model", "metric", "group", "diff", "low", "high", "n", "verdict"]
    if reference not in per_user:
        return pd.DataFrame(columns=cols)
    ref = per_user[reference]
    flags = warm.reindex(ref.index).fillna(False).to_numpy(bool)
    masks = {"all": np.ones(len(ref), dtype=bool), "warm": flags, "cold": ~flags}
    rows = []
    for name, frame in per_user.items():
        if name == reference:
            continue
        other = frame.reindex(ref.index)
        for metric in (m.format(k=k) for m in COMPARED_METRICS):
            if metric not in ref.columns or metric not in other.columns:
                continue
            a, b = ref[metric].to_numpy(float), other[metric].to_numpy(float)
            for group, mask in masks.items():
                if not mask.any():
                    continue
                r = paired_difference(a[mask], b[mask], seed=seed)
                rows.append({"reference": reference, "model": name, "metric": metric, "group": group, **r.to_dict()})
    return pd.DataFrame(rows, columns=cols)


__all__ = [
    "COMPARED_METRICS", "GROUPS", "compare_models",
    "ALS", "DEFAULTS", "EASE", "FALLBACKS", "GRIDS", "ITEM_KNN", "RECENT_POPULARITY", "STRONG_BASELINES",
    "Tuned", "choose_production", "make_baseline", "tune_baselines", "validation_score",
]
