"""Baselines behind the same ``fit`` / ``recommend`` interface as :class:`~recsys.learn.model.HybridRecommender`.

* :class:`PopularityRecommender`: the same most popular offers for everyone (minus what they have seen);
* :class:`RandomRecommender`: a seeded random order, reproducible per (customer, offer);
* :class:`CollaborativeRecommender`: LightFM with identity features only (no customer or offer
  columns), so it cannot score offers unseen in training.

All share :class:`~recsys.learn.recommender.BaseRecommender`'s vectorised top-k, candidate and seen-item handling,
so every metric is computed on lists made the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from recsys.core.progress import EpochCallback
from recsys.data.schema import TableSchema
from recsys.learn.config import FeatureConfig, InteractionConfig, ModelConfig
from recsys.learn.model import HybridRecommender
from recsys.learn.recommender import BaseRecommender

POPULARITY_BY = ("users", "weight")


class PopularityRecommender(BaseRecommender):
    """Recommends the offers with the most training customers (or the largest total weight).

    ``score(u, i) = n_i``: the number of distinct customers with a positive interaction with ``i``
    in training (``by="users"``), or the sum of their positive weights (``by="weight"``).
    Offers unseen in training score 0.
    """

    name = "popularity"

    def __init__(self, interactions: InteractionConfig | None = None, by: str = "users") -> None:
        self.interactions = interactions
        self.by = by

    def fit(
        self,
        interactions: pd.DataFrame,
        users: pd.DataFrame | None = None,
        user_schema: TableSchema | None = None,
        items: pd.DataFrame | None = None,
        item_schema: TableSchema | None = None,
        validation: pd.DataFrame | None = None,
        on_epoch: EpochCallback | None = None,
        reference_time: pd.Timestamp | None = None,
    ) -> "PopularityRecommender":
        """Count popularity on the training interactions (side tables only add ids)."""
        if self.by not in POPULARITY_BY:
            raise ValueError(f"PopularityRecommender.by must be one of {POPULARITY_BY}, got {self.by!r}")
        icfg = self.interactions or InteractionConfig()
        icfg.validate()
        im = self._fit_universe(interactions, users, items, icfg, reference_time)
        if self.by == "users":
            counts = np.bincount(im.positives().indices, minlength=im.matrix.shape[1]).astype(np.float64)
        else:
            m = im.matrix.tocoo()
            counts = np.bincount(m.col, weights=np.clip(m.data, 0, None), minlength=m.shape[1])
        self.popularity_ = np.zeros(len(self.item_index_), dtype=np.float32)
        self.popularity_[: len(counts)] = counts
        return self

    def _score_block(self, ctx: Any, user_pos: np.ndarray, item_pos: np.ndarray, user_ids: np.ndarray) -> np.ndarray:
        return np.tile(self.popularity_[item_pos], (len(user_pos), 1))


def _hash_ids(ids: np.ndarray, seed: int) -> np.ndarray:
    return pd.util.hash_array(np.asarray(ids, dtype=object), hash_key=f"{seed:016d}"[-16:])


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a well-spread uint64 from a uint64 (vectorised)."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


class RandomRecommender(BaseRecommender):
    """A random order of the offers, seeded and reproducible per (customer, offer) pair.

    ``score(u, i) = U(hash(seed, u, i))`` in [0, 1): independent of batching and of which other
    customers or offers are scored alongside.
    """

    name = "random"

    def __init__(self, interactions: InteractionConfig | None = None, seed: int = 42) -> None:
        self.interactions = interactions
        self.seed = seed

    def fit(
        self,
        interactions: pd.DataFrame,
        users: pd.DataFrame | None = None,
        user_schema: TableSchema | None = None,
        items: pd.DataFrame | None = None,
        item_schema: TableSchema | None = None,
        validation: pd.DataFrame | None = None,
        on_epoch: EpochCallback | None = None,
        reference_time: pd.Timestamp | None = None,
    ) -> "RandomRecommender":
        """Index the ids (the order itself needs no training)."""
        if not isinstance(self.seed, (int, np.integer)):
            raise ValueError(f"RandomRecommender.seed must be an integer, got {self.seed!r}")
        icfg = self.interactions or InteractionConfig()
        icfg.validate()
        self._fit_universe(interactions, users, items, icfg, reference_time)
        self.item_hashes_ = _hash_ids(self.item_index_.ids, int(self.seed))
        return self

    def _score_block(self, ctx: Any, user_pos: np.ndarray, item_pos: np.ndarray, user_ids: np.ndarray) -> np.ndarray:
        uh = _hash_ids(user_ids, int(self.seed) + 1)
        with np.errstate(over="ignore"):
            mixed = _mix(uh[:, None] * np.uint64(0x9E3779B97F4A7C15) + self.item_hashes_[item_pos][None, :])
        return ((mixed >> np.uint64(40)).astype(np.float32) / np.float32(1 << 24))


class CollaborativeRecommender(HybridRecommender):
    """LightFM on identity features only: pure collaborative filtering.

    Customers and offers unseen in training have no representation: offers unseen in training are
    not recommended by default, and unknown customers are ranked by item bias alone.
    """

    name = "collaborative"

    def __init__(self, config: ModelConfig | None = None, interactions: InteractionConfig | None = None) -> None:
        super().__init__(config, FeatureConfig(use_side_features=False), interactions)
