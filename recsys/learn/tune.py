"""Tune the hybrid model on the validation slice within a time budget.

The search never looks at the test part: the train part of the run's split is cut again into
``fit_part`` and the validation slice (:func:`recsys.learn.protocol.evaluation_split` with early
stopping), every trial fits the hybrid on ``fit_part`` with early stopping on the validation slice,
and its score is the best validation value of the early-stopping metric (NDCG@k by default).

Trials: the run's own settings first (so "better than the defaults" is measured on the same
slice), then settings drawn without replacement, in a seeded order, from :data:`SPACE`: learning
rate, embedding size, loss, feature normalisation, event weights (clicks count or not) and time
decay. The epochs are chosen by early stopping (with its minimum and its patience scaled to the
validation size). The search stops when the next trial would likely overrun the budget (the
longest trial so far is the estimate). :func:`tune_hybrid` returns the best :class:`TrainConfig`
and every trial (kept in the run).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from recsys.core import columns as C
from recsys.core.progress import ProgressCallback, report as report_progress
from recsys.data.schema import TableSchema
from recsys.learn.model import HybridRecommender
from recsys.learn.pipeline import TrainConfig
from recsys.learn.protocol import evaluation_split

#: The search space: each trial takes one value of each.
SPACE: dict[str, tuple[Any, ...]] = {
    "learning_rate": (0.01, 0.02, 0.05, 0.1),
    "no_components": (16, 32, 64),
    "loss": ("warp", "bpr"),
    "normalize": (False, True),
    "click_weight": (None, 0.0),
    "half_life_days": (None, 30.0, 90.0),
}


@dataclass
class TuneResult:
    """The best configuration found, the trials (settings, validation score, epochs, seconds)."""

    config: TrainConfig
    trials: list[dict[str, Any]]
    budget_seconds: float
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        scored = [t for t in self.trials if t["validation"] is not None]
        best = max(scored, key=lambda t: t["validation"]) if scored else None
        return {
            "budget_minutes": round(self.budget_seconds / 60, 2), "seconds": round(self.seconds, 1),
            "trials": self.trials, "chosen": None if best is None else best["settings"],
            "default_validation": self.trials[0]["validation"] if self.trials else None,
            "best_validation": None if best is None else best["validation"],
        }


def settings_of(config: TrainConfig) -> dict[str, Any]:
    """The searched settings of a config (``click_weight`` None: the configured event weights)."""
    return {"learning_rate": config.model.learning_rate, "no_components": config.model.no_components,
            "loss": config.model.loss, "normalize": config.features.normalize, "click_weight": None,
            "half_life_days": config.interactions.half_life_days}


def apply_settings(config: TrainConfig, s: dict[str, Any]) -> TrainConfig:
    """``config`` with the searched settings ``s``."""
    icfg = replace(config.interactions, half_life_days=s["half_life_days"])
    if s.get("click_weight") is not None:
        icfg = replace(icfg, event_weights={**icfg.weights(), C.CLICK: float(s["click_weight"])})
    return replace(
        config, interactions=icfg, features=replace(config.features, normalize=bool(s["normalize"])),
        model=replace(config.model, learning_rate=float(s["learning_rate"]), no_components=int(s["no_components"]),
                      loss=str(s["loss"])),
    )


def candidate_settings(config: TrainConfig) -> list[dict[str, Any]]:
    """The run's settings first, then every combination of :data:`SPACE` in a seeded random order."""
    first = settings_of(config)
    combos = [dict(zip(SPACE, values)) for values in itertools.product(*SPACE.values())]
    order = np.random.default_rng(int(config.seed)).permutation(len(combos))
    return [first] + [combos[i] for i in order if combos[i] != first]


def tune_hybrid(
    interactions: pd.DataFrame, users: pd.DataFrame | None, user_schema: TableSchema | None,
    items: pd.DataFrame | None, item_schema: TableSchema | None, config: TrainConfig,
    budget_seconds: float, progress: ProgressCallback | None = None, max_trials: int | None = None,
) -> TuneResult:
    """Search :data:`SPACE` on the validation slice of ``config``'s split for ``budget_seconds`` (module doc)."""
    if not (budget_seconds > 0):
        raise ValueError(f"the tuning budget must be a positive number of minutes, got {budget_seconds / 60:g}")
    config.validate()
    t_start = time.perf_counter()
    split_cfg = replace(config.split, seed=int(config.seed))
    outer = evaluation_split(interactions, split_cfg, config.interactions, early_stopping=True, items=items)
    trials: list[dict[str, Any]] = []
    longest = 0.0
    for n, settings in enumerate(candidate_settings(config)):
        elapsed = time.perf_counter() - t_start
        if (n > 0 and elapsed + longest > budget_seconds) or (max_trials is not None and n >= max_trials):
            break
        report_progress(progress, f"Trial {n + 1}: {settings} ({elapsed / 60:.1f} of {budget_seconds / 60:.1f} min)",
                        min(elapsed / budget_seconds, 0.99))
        cfg = apply_settings(config, settings)
        t0 = time.perf_counter()
        model = HybridRecommender(replace(cfg.model, random_state=int(config.seed)), cfg.features, cfg.interactions).fit(
            outer.fit_part, users, user_schema, items, item_schema, validation=outer.validation,
            reference_time=outer.reference_time, validation_candidates=outer.validation_candidates,
        )
        seconds = time.perf_counter() - t0
        longest = max(longest, seconds)
        metric = f"{cfg.model.early_stopping_metric}@{cfg.model.eval_k}"
        values = [r[metric] for r in model.epochs_ if metric in r]
        trials.append({"settings": settings, "validation": round(float(max(values)), 6) if values else None,
                       "epochs": int(model.best_epoch_), "seconds": round(seconds, 2)})
    scored = [t for t in trials if t["validation"] is not None]
    best = max(scored, key=lambda t: t["validation"]) if scored else {"settings": settings_of(config), "epochs": 0}
    chosen = apply_settings(config, best["settings"])
    report_progress(progress, f"Tuning done: {len(trials)} trials", 1.0)
    return TuneResult(chosen, trials, float(budget_seconds), time.perf_counter() - t_start)


__all__ = ["SPACE", "TuneResult", "apply_settings", "candidate_settings", "settings_of", "tune_hybrid"]
