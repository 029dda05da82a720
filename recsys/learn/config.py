"""The configurations of learning: how events weigh, how facts become features, how LightFM trains.

Three frozen dataclasses on :class:`~recsys.core.config.ConfigBase` (``validate``, ``to_dict`` and a
strict ``from_dict`` that refuses unknown fields): :class:`InteractionConfig` (event weights, time
decay), :class:`FeatureConfig` (side features, identity features, bins, vocabularies) and
:class:`ModelConfig` (LightFM's hyper-parameters and the training loop). The split's config lives
with the split (:mod:`recsys.learn.split`), the run's with the pipeline (:mod:`recsys.learn.pipeline`).

>>> ModelConfig.from_dict(ModelConfig(epochs=5).to_dict()).epochs
5
>>> FeatureConfig.from_dict({"date_bins_days": [7, 30]}).date_bins_days
(7, 30)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from recsys.core import columns as C
from recsys.core.config import ConfigBase
from recsys.core.errors import ConfigError

LOSSES: tuple[str, ...] = ("warp", "bpr", "logistic", "warp-kos")


@dataclass(frozen=True)
class InteractionConfig(ConfigBase):
    """How raw events become interaction strengths.

    Parameters
    ----------
    event_weights
        Weight of each event type (compared after lower-casing and stripping). ``None`` means
        :data:`recsys.core.columns.DEFAULT_EVENT_WEIGHTS` (impressions weigh 0, i.e. are not positives).
    unknown_event_weight
        Weight of an event type not listed in ``event_weights``.
    half_life_days
        Optional exponential time decay: an event ``a`` days older than the reference time
        weighs ``0.5 ** (a / half_life_days)`` of a fresh one. ``None`` means no decay.
    use_weight_column
        Use the imported ``weight`` column instead of the event weights (rows where it is missing
        fall back to their event weight). The import layer already folds its own event weights
        into that column, so turn this on for files that came with their own weights or ratings;
        off (default), the event weights here decide, so changing them changes the model.
    """

    event_weights: dict[str, float] | None = None
    unknown_event_weight: float = 1.0
    half_life_days: float | None = None
    use_weight_column: bool = False

    def weights(self) -> dict[str, float]:
        source = C.DEFAULT_EVENT_WEIGHTS if self.event_weights is None else self.event_weights
        return {str(k).strip().lower(): float(v) for k, v in source.items()}

    def validate(self) -> None:
        for name, w in self.weights().items():
            if not math.isfinite(w):
                raise ConfigError(f"event_weights[{name!r}] must be a finite number, got {w!r}")
        if not math.isfinite(self.unknown_event_weight):
            raise ConfigError(f"unknown_event_weight must be finite, got {self.unknown_event_weight!r}")
        if self.half_life_days is not None and not (self.half_life_days > 0):
            raise ConfigError(f"half_life_days must be > 0 or None, got {self.half_life_days!r}")


@dataclass(frozen=True)
class FeatureConfig(ConfigBase):
    """Options of the side-feature matrices.

    Parameters
    ----------
    use_side_features
        Build features from the users/items columns (False gives a collaborative-only model).
    include_sensitive
        Also use columns marked sensitive (gender, age, ...). Off by default.
    user_identity, item_identity
        Add one identity feature per user / item seen in training (LightFM's "hybrid" setup).
    normalize
        Also scale each row to sum to 1 (LightFM ``Dataset``'s habit). Off by default: every
        source column already weighs 1 in total (a multi-valued column splits its 1 among its
        values), and full row normalisation divides each feature's gradient by the number of
        features, which on shop data made the model learn little beyond popularity.
    n_bins
        Number of quantile bins of a numeric column (columns with at most ``n_bins`` distinct
        values get one feature per value instead).
    date_bins_days
        Increasing edges in days of the recency bins of a date column.
    max_categories
        Keep at most this many most frequent values of a categorical or tags column.
    min_count
        A category, tag or keyword needs at least this many training rows to become a feature.
    max_keywords
        Size of the keyword vocabulary of a free-text column.
    """

    use_side_features: bool = True
    include_sensitive: bool = False
    user_identity: bool = True
    item_identity: bool = True
    normalize: bool = False
    n_bins: int = 5
    date_bins_days: tuple[int, ...] = (30, 90, 180, 365, 730)
    max_categories: int = 1000
    min_count: int = 1
    max_keywords: int = 200

    def validate(self) -> None:
        for name in ("n_bins", "max_categories", "min_count", "max_keywords"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ConfigError(f"FeatureConfig.{name} must be a positive integer, got {value!r}")
        edges = list(self.date_bins_days)
        if not edges or any(b <= a for a, b in zip(edges, edges[1:])) or edges[0] <= 0:
            raise ConfigError(
                f"FeatureConfig.date_bins_days must be positive and increasing, got {edges!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "date_bins_days": list(self.date_bins_days)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "FeatureConfig":
        d = cls.known_fields(data)
        if "date_bins_days" in d:
            d["date_bins_days"] = tuple(int(x) for x in d["date_bins_days"])
        return cls(**d)


@dataclass(frozen=True)
class ModelConfig(ConfigBase):
    """Hyper-parameters of the LightFM model and its training loop.

    Parameters
    ----------
    loss
        ``"warp"`` (default, optimises the top of the list), ``"bpr"``, ``"logistic"`` (observed
        pairs with a total weight <= 0, e.g. ignored impressions, become negatives) or
        ``"warp-kos"`` (no sample weights).
    no_components
        Embedding size.
    learning_rate, learning_schedule
        SGD step size and schedule (``"adagrad"`` or ``"adadelta"``). The one default of the CLI,
        the Train page and this class. Measured (2026-12, validation NDCG@10 of the hybrid, early
        stopping): bundled sample 0.352 at 0.02 vs 0.341 at 0.05; Online Retail 0.0699 at 0.02 (still
        rising at the 30-epoch cap) vs 0.0735 at 0.05: a tie on average (geometric mean of the ratios
        1.008 for 0.05), so 0.02 stays (better on the sample, more stable), at the cost of about twice
        the epochs. ``promolens train --tune`` searches 0.01-0.1 per dataset.
    item_alpha, user_alpha
        L2 penalties on item / user feature embeddings.
    epochs
        Maximum number of epochs.
    max_sampled
        Maximum negatives sampled per positive by WARP.
    num_threads
        Training threads. With more than 1, LightFM's lock-free updates make runs not bit-for-bit
        reproducible; 1 (default) keeps every number reproducible from the same seed.
    random_state
        Seed of initialisation, shuffling and negative sampling.
    kos_k, kos_n
        k-OS loss parameters.
    early_stopping_patience
        Stop after this many epochs without improvement of the validation metric (0: never), on a
        validation slice of :data:`PATIENCE_REFERENCE_USERS` customers or more. A smaller slice is
        noisier, so the patience grows as ``sqrt(PATIENCE_REFERENCE_USERS / users)`` (at most 3x):
        with 137 validation customers, 3 becomes 9 (see :func:`effective_patience`).
    min_epochs
        Early stopping never stops before this many epochs (a noisy first epoch cannot end training).
    early_stopping_metric
        ``"ndcg"`` or ``"precision"`` (at ``eval_k``) on the validation split.
    eval_k
        ``k`` of the per-epoch validation metrics.
    max_validation_users
        Validation metrics are computed on at most this many users (seeded sample).
    """

    loss: str = "warp"
    no_components: int = 32
    learning_rate: float = 0.02
    learning_schedule: str = "adagrad"
    item_alpha: float = 0.0
    user_alpha: float = 0.0
    epochs: int = 30
    max_sampled: int = 10
    num_threads: int = 1
    random_state: int = 42
    kos_k: int = 5
    kos_n: int = 10
    early_stopping_patience: int = 3
    min_epochs: int = 5
    early_stopping_metric: str = "ndcg"
    eval_k: int = 10
    max_validation_users: int = 5000

    def validate(self) -> None:
        if self.loss not in LOSSES:
            raise ConfigError(f"ModelConfig.loss must be one of {LOSSES}, got {self.loss!r}")
        if self.learning_schedule not in ("adagrad", "adadelta"):
            raise ConfigError(f"ModelConfig.learning_schedule must be 'adagrad' or 'adadelta', got {self.learning_schedule!r}")
        if self.early_stopping_metric not in ("ndcg", "precision"):
            raise ConfigError(f"ModelConfig.early_stopping_metric must be 'ndcg' or 'precision', got {self.early_stopping_metric!r}")
        for name in ("no_components", "epochs", "max_sampled", "num_threads", "kos_k", "kos_n", "eval_k", "max_validation_users"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ConfigError(f"ModelConfig.{name} must be a positive integer, got {v!r}")
        if not isinstance(self.min_epochs, (int, np.integer)) or isinstance(self.min_epochs, bool) or self.min_epochs < 0:
            raise ConfigError(f"ModelConfig.min_epochs must be an integer >= 0, got {self.min_epochs!r}")
        if not isinstance(self.early_stopping_patience, (int, np.integer)) or self.early_stopping_patience < 0:
            raise ConfigError(f"ModelConfig.early_stopping_patience must be >= 0, got {self.early_stopping_patience!r}")
        if not (isinstance(self.learning_rate, (int, float)) and math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ConfigError(f"ModelConfig.learning_rate must be a positive number, got {self.learning_rate!r}")
        for name in ("item_alpha", "user_alpha"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ConfigError(f"ModelConfig.{name} must be a number >= 0, got {v!r}")
        if not isinstance(self.random_state, (int, np.integer)):
            raise ConfigError(f"ModelConfig.random_state must be an integer seed, got {self.random_state!r}")


#: Validation customers at which the configured patience applies as is (smaller slices get more).
PATIENCE_REFERENCE_USERS = 1000


def effective_patience(patience: int, validation_users: int) -> int:
    """The patience used on a validation slice of ``validation_users`` customers.

    >>> effective_patience(3, 5000), effective_patience(3, 137), effective_patience(0, 10)
    (3, 9, 0)
    """
    if patience <= 0 or validation_users >= PATIENCE_REFERENCE_USERS:
        return int(patience)
    scale = min(3.0, math.sqrt(PATIENCE_REFERENCE_USERS / max(validation_users, 1)))
    return int(min(3 * patience, math.ceil(patience * scale)))


def config_with_seed(config: ModelConfig, seed: int) -> ModelConfig:
    """The same model config with another random seed."""
    return replace(config, random_state=int(seed))


__all__ = [
    "LOSSES", "PATIENCE_REFERENCE_USERS", "InteractionConfig", "FeatureConfig", "ModelConfig", "config_with_seed",
    "effective_patience",
]
