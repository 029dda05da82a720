"""Baselines behind the same ``fit`` / ``recommend`` interface as :class:`~recsys.learn.model.HybridRecommender`.

* :class:`PopularityRecommender`: the same most popular offers for everyone (minus what they have seen);
* :class:`RandomRecommender`: a seeded random order, reproducible per (customer, offer);
* :class:`CollaborativeRecommender`: LightFM with identity features only (no customer or offer
  columns), so it cannot score offers unseen in training;
* :class:`RecentPopularityRecommender`: the offers most customers took in the last ``window_days``
  before "now" (all-time popularity is a strawman when the catalogue changes);
* :class:`FallbackRecommender`: the base of the history-based baselines (EASE, item-kNN, ALS in
  :mod:`recsys.learn.history` and :mod:`recsys.learn.als`): customers without a training history are
  scored by recent popularity, and every score gets a tiny popularity tie-break, so every customer
  gets a full, deterministic list.

All share :class:`~recsys.learn.recommender.BaseRecommender`'s vectorised top-k, candidate and seen-item handling,
so every metric is computed on lists made the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

import scipy.sparse as sp

from recsys.core import columns as C
from recsys.core.progress import EpochCallback
from recsys.data.schema import TableSchema
from recsys.learn.config import FeatureConfig, InteractionConfig, ModelConfig
from recsys.learn.interactions import IdIndex, InteractionMatrix, interaction_weights
from recsys.learn.model import HybridRecommender
from recsys.learn.recommender import BaseRecommender

POPULARITY_BY = ("users", "weight")
#: Weight of the popularity tie-break added to history-based scores (far below any real score gap).
TIE_BREAK = 1e-6


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


def recent_counts(
    interactions: pd.DataFrame, config: InteractionConfig, reference_time: pd.Timestamp | None,
    window_days: float | None, item_index: IdIndex,
) -> np.ndarray:
    """Distinct customers with a positive interaction per item of ``item_index`` in the last
    ``window_days`` before ``reference_time`` (``None``: all time; no timestamps: all time)."""
    rows = interactions
    if window_days is not None and reference_time is not None and C.TIMESTAMP in rows.columns:
        ts = pd.to_datetime(rows[C.TIMESTAMP])
        rows = rows[(ts > reference_time - pd.Timedelta(days=float(window_days))).to_numpy() & (ts <= reference_time).to_numpy()]
    positive = interaction_weights(rows, config).to_numpy() > 0
    pairs = pd.DataFrame({C.USER_ID: rows[C.USER_ID].astype(str).to_numpy(object)[positive],
                          C.ITEM_ID: rows[C.ITEM_ID].astype(str).to_numpy(object)[positive]}).drop_duplicates()
    pos = item_index.positions(pairs[C.ITEM_ID])
    return np.bincount(pos[pos >= 0], minlength=len(item_index)).astype(np.float64)


def popularity_order(counts: np.ndarray, tie: np.ndarray | None = None) -> np.ndarray:
    """``counts`` plus ``tie`` scaled below one count (a secondary order), as float32 scores."""
    out = np.asarray(counts, np.float64).copy()
    if tie is not None and tie.max(initial=0) > 0:
        out += 0.5 * tie / tie.max()
    return out.astype(np.float32)


class RecentPopularityRecommender(BaseRecommender):
    """The offers most customers took in the last ``window_days`` days before "now".

    ``score(u, i) = n_i(window) + 0.5 * n_i(all time) / max n(all time)``: recent customers first,
    all-time popularity breaking ties (so offers nobody took recently still come in a sensible order).
    ``window_days=None`` is all-time popularity. Offers unseen in training score 0.
    """

    name = "recent_popularity"

    def __init__(self, interactions: InteractionConfig | None = None, window_days: float | None = 30.0) -> None:
        self.interactions = interactions
        self.window_days = window_days

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
    ) -> "RecentPopularityRecommender":
        """Count recent and all-time customers per offer on the training interactions."""
        if self.window_days is not None and not (float(self.window_days) > 0):
            raise ValueError(f"RecentPopularityRecommender.window_days must be > 0 or None, got {self.window_days!r}")
        icfg = self.interactions or InteractionConfig()
        icfg.validate()
        self._fit_universe(interactions, users, items, icfg, reference_time)
        recent = recent_counts(interactions, icfg, self.reference_time_, self.window_days, self.item_index_)
        ever = recent_counts(interactions, icfg, self.reference_time_, None, self.item_index_)
        self.popularity_ = popularity_order(recent, ever)
        return self

    def _score_block(self, ctx: Any, user_pos: np.ndarray, item_pos: np.ndarray, user_ids: np.ndarray) -> np.ndarray:
        return np.tile(self.popularity_[item_pos], (len(user_pos), 1))

    def params(self) -> dict[str, Any]:
        return {"window_days": self.window_days}


class FallbackRecommender(BaseRecommender):
    """A model of customers' training histories, with recent popularity for customers without one.

    Subclasses implement :meth:`_fit_history` (given the binary customer x offer matrix of the
    training part) and :meth:`_history_scores` (scores of customers with a history over the
    training offers). ``score(u, i)`` is then:

    * customers with a training history: the model's score + ``TIE_BREAK`` x normalised recent
      popularity (a tie-break far below any real score gap);
    * customers without one (new, or only in the customers table): recent popularity in the last
      ``fallback_days`` days (the stated fallback: nothing else is known about them);
    * offers unseen in training: no history mentions them, so the history part is 0.
    """

    def __init__(self, interactions: InteractionConfig | None = None, fallback_days: float | None = 30.0) -> None:
        self.interactions = interactions
        self.fallback_days = fallback_days

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
    ) -> "FallbackRecommender":
        """Fit the history model on the training interactions (side tables only add ids)."""
        icfg = self.interactions or InteractionConfig()
        icfg.validate()
        im = self._fit_universe(interactions, users, items, icfg, reference_time)
        recent = recent_counts(interactions, icfg, self.reference_time_, self.fallback_days, self.item_index_)
        ever = recent_counts(interactions, icfg, self.reference_time_, None, self.item_index_)
        self.fallback_ = popularity_order(recent, ever)
        self.history_ = self._history_matrix(im)
        self._fit_history(self.history_)
        return self

    def _history_matrix(self, im: InteractionMatrix) -> sp.csr_matrix:
        return sp.csr_matrix(im.positives(), dtype=np.float32)

    def _fit_history(self, history: sp.csr_matrix) -> None:
        raise NotImplementedError

    def _history_scores(self, rows: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Dense float32 scores of warm customer rows ``rows`` for warm offer columns ``items``."""
        raise NotImplementedError

    def _score_block(self, ctx: Any, user_pos: np.ndarray, item_pos: np.ndarray, user_ids: np.ndarray) -> np.ndarray:
        fallback = self.fallback_[item_pos]
        top = fallback.max(initial=0)
        tie = (fallback / top if top > 0 else fallback) * np.float32(TIE_BREAK)
        out = np.tile(fallback, (len(user_pos), 1))
        warm_rows = (user_pos >= 0) & (user_pos < self.n_warm_users_)
        if warm_rows.any():
            up = user_pos[warm_rows]
            has = np.diff(self.history_.indptr)[up] > 0
            rows = np.flatnonzero(warm_rows)[has]
            if len(rows):
                warm_items = item_pos < self.n_warm_items_
                block = np.zeros((len(rows), len(item_pos)), dtype=np.float32)
                block[:, warm_items] = self._history_scores(user_pos[rows], item_pos[warm_items])
                out[rows] = block + tie[None, :]
        return out

    def has_history(self, user_ids: Any) -> np.ndarray:
        """Whether each customer has a training history (else they get the popularity fallback)."""
        self._check_fitted()
        pos = self.user_index_.positions(user_ids)
        ok = (pos >= 0) & (pos < self.n_warm_users_)
        out = np.zeros(len(pos), dtype=bool)
        out[ok] = np.diff(self.history_.indptr)[pos[ok]] > 0
        return out
