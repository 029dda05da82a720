"""PromoLens' library: personalised campaign targeting that explains itself.

The packages, from the bottom up (``docs/ARCHITECTURE.md`` is the map):

- ``recsys.core``: column names and the event vocabulary, errors, JSON, config base.
- ``recsys.data``: datasets, safe file reading, column mapping, validation, privacy, the synthetic shop.
- ``recsys.metrics``: ranking, beyond-accuracy, fairness and targeting-decision metrics.
- ``recsys.learn``: features, splits, the LightFM hybrid, baselines, evaluation, response probabilities.
- ``recsys.insight``: explanations, segments, fairness audits and re-ranking.
- ``recsys.campaign``: audiences, allocation, holdout groups, exports, lift measurement.
- ``recsys.workspace``: the stored workspace and the jobs the pages and the CLI call.

The names a notebook needs are importable from here; each is loaded on first use, so
``import recsys`` stays cheap:

>>> import recsys
>>> recsys.PromoLensError.__module__
'recsys.core.errors'
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "PromoLensError": "recsys.core.errors",
    "Dataset": "recsys.data.dataset",
    "generate_shop": "recsys.data.synth:generate",
    "FeatureConfig": "recsys.learn.config",
    "InteractionConfig": "recsys.learn.config",
    "ModelConfig": "recsys.learn.config",
    "HybridRecommender": "recsys.learn.model",
    "TrainConfig": "recsys.learn.pipeline",
    "train_and_evaluate": "recsys.learn.pipeline",
    "ResponseModel": "recsys.learn.response",
    "ResponseConfig": "recsys.learn.response",
    "ScoreExplainer": "recsys.insight.attribution",
    "Workspace": "recsys.workspace.store",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'recsys' has no attribute {name!r}")
    module, _, attr = target.partition(":")
    value = getattr(importlib.import_module(module), attr or name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
