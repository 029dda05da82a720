"""The LightFM hybrid recommender: the only module of PromoLens that imports ``lightfm``.

:class:`HybridRecommender` learns one embedding (and bias) per *feature*: a customer's
representation is the weighted sum of the embeddings of their features (segment, region, ...,
plus, for customers seen in training, an identity feature); an offer's likewise. The score of a
(customer, offer) pair is ``score(u, i) = p_u · q_i + b_u + b_i``, with
``p_u = sum_f x_uf e_f`` and ``b_u = sum_f x_uf β_f`` over the user feature matrix ``x``.

Scoring is done with matrix products over cached representations, chunked over users, never with
a per-user ``predict`` loop. Customers and offers unseen in training are scored from their
features alone. Models are saved as ``.npz`` (loaded with ``allow_pickle=False``) plus a JSON
sidecar holding a format version and a sha256 checksum of the arrays; anything else is refused.

:class:`BaseRecommender` holds what every recommender shares (id universe, seen items, the
vectorised top-k loop), so baselines answer ``recommend`` exactly the same way.
"""

from __future__ import annotations

from recsys.core.errors import PromoLensError
import copy
import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from lightfm import LightFM
from sklearn.exceptions import NotFittedError

from recsys.core import columns as C
from recsys.learn.features import (
    FeatureBuilder,
    FeatureConfig,
    FeatureIndex,
    IdIndex,
    InteractionConfig,
    InteractionMatrix,
    build_interactions,
    interaction_weights,
    latest_timestamp,
)
from recsys.metrics.ranking import NDCG, Precision
from recsys.data.schema import TableSchema

LOSSES: tuple[str, ...] = ("warp", "bpr", "logistic", "warp-kos")
MODEL_FORMAT = "promolens-hybrid-lightfm"
MODEL_FORMAT_VERSION = 1
_ZIP_MAGIC = b"PK\x03\x04"
#: Scores computed per chunk of users: about this many floats at a time (bounds memory).
SCORE_BLOCK_CELLS = 1 << 23

Unknown = Literal["raise", "cold"]
EpochCallback = Callable[[dict[str, Any]], None]


class ModelFileError(PromoLensError, ValueError):
    """A model file that is missing, damaged, tampered with, or not a PromoLens model."""


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelConfig:
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
        SGD step size and schedule (``"adagrad"`` or ``"adadelta"``). 0.02 (LightFM's default is
        0.05) gave better validation ranking on the synthetic shops at the cost of a few more epochs.
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
        Stop after this many epochs without improvement of the validation metric (0: never).
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
    early_stopping_metric: str = "ndcg"
    eval_k: int = 10
    max_validation_users: int = 5000

    def validate(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"ModelConfig.loss must be one of {LOSSES}, got {self.loss!r}")
        if self.learning_schedule not in ("adagrad", "adadelta"):
            raise ValueError(f"ModelConfig.learning_schedule must be 'adagrad' or 'adadelta', got {self.learning_schedule!r}")
        if self.early_stopping_metric not in ("ndcg", "precision"):
            raise ValueError(f"ModelConfig.early_stopping_metric must be 'ndcg' or 'precision', got {self.early_stopping_metric!r}")
        for name in ("no_components", "epochs", "max_sampled", "num_threads", "kos_k", "kos_n", "eval_k", "max_validation_users"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"ModelConfig.{name} must be a positive integer, got {v!r}")
        if not isinstance(self.early_stopping_patience, (int, np.integer)) or self.early_stopping_patience < 0:
            raise ValueError(f"ModelConfig.early_stopping_patience must be >= 0, got {self.early_stopping_patience!r}")
        if not (isinstance(self.learning_rate, (int, float)) and math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError(f"ModelConfig.learning_rate must be a positive number, got {self.learning_rate!r}")
        for name in ("item_alpha", "user_alpha"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ValueError(f"ModelConfig.{name} must be a number >= 0, got {v!r}")
        if not isinstance(self.random_state, (int, np.integer)):
            raise ValueError(f"ModelConfig.random_state must be an integer seed, got {self.random_state!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown ModelConfig fields: {sorted(unknown)}")
        return cls(**data)


# --------------------------------------------------------------------------------------------
# Shared recommender machinery
# --------------------------------------------------------------------------------------------


def _pad_csr(mat: sp.csr_matrix, shape: tuple[int, int]) -> sp.csr_matrix:
    """``mat`` as the top-left block of a larger all-zero matrix (no copy of the data)."""
    indptr = np.concatenate([mat.indptr, np.full(shape[0] - mat.shape[0], mat.indptr[-1], dtype=mat.indptr.dtype)])
    return sp.csr_matrix((mat.data, mat.indices, indptr), shape=shape)


def _as_id_array(values: Iterable[Any], what: str) -> np.ndarray:
    if isinstance(values, (str, bytes)):
        raise ValueError(f"{what} must be a list of ids, not a single string")
    arr = pd.Series(list(values) if not isinstance(values, (pd.Series, pd.Index, np.ndarray)) else values, dtype=object)
    if arr.isna().any():
        raise ValueError(f"{what} contains missing ids")
    return arr.astype(str).to_numpy(object)


class BaseRecommender:
    """What every recommender shares: the id universe, the seen items, and a vectorised top-k.

    Subclasses implement ``fit`` (calling :meth:`_fit_universe`) and :meth:`_score_block`.
    """

    #: Name used in reports.
    name = "base"

    # -- fitting helpers -----------------------------------------------------------------------

    def _fit_universe(
        self,
        interactions: pd.DataFrame,
        users: pd.DataFrame | None,
        items: pd.DataFrame | None,
        interaction_config: InteractionConfig,
        reference_time: pd.Timestamp | None,
    ) -> InteractionMatrix:
        """Index training ids first (rows/cols of the training matrix), then side-table-only ids."""
        self.reference_time_ = reference_time if reference_time is not None else latest_timestamp(interactions)
        im = build_interactions(interactions, interaction_config, reference_time=self.reference_time_)
        if im.matrix.nnz == 0:
            raise ValueError("there are no training interactions")
        self.n_warm_users_ = len(im.user_index)
        self.n_warm_items_ = len(im.item_index)
        self.user_index_ = im.user_index.extend(users[C.USER_ID]) if users is not None and C.USER_ID in users.columns else im.user_index
        self.item_index_ = im.item_index.extend(items[C.ITEM_ID]) if items is not None and C.ITEM_ID in items.columns else im.item_index
        self.seen_ = _pad_csr(im.positives(), (len(self.user_index_), len(self.item_index_)))
        return im

    def _check_fitted(self) -> None:
        if not hasattr(self, "seen_"):
            raise NotFittedError(
                f"{type(self).__name__} is not fitted yet: call fit(...) (or load(...)) before using it"
            )

    # -- scoring -------------------------------------------------------------------------------

    def _context(self, **kwargs: Any) -> Any:
        for k, v in kwargs.items():
            if v is not None:
                raise ValueError(f"{type(self).__name__} does not accept {k}")
        return None

    def _user_positions(self, user_ids: np.ndarray, unknown: Unknown, ctx: Any) -> np.ndarray:
        """Universe position of each user; -1 = unknown, scored as a user with no features."""
        if unknown not in ("raise", "cold"):
            raise ValueError(f"unknown must be 'raise' or 'cold', got {unknown!r}")
        pos = self.user_index_.positions(user_ids)
        if unknown == "raise" and (pos < 0).any():
            _raise_unknown(user_ids, pos)
        return pos

    def _item_positions(self, candidates: Iterable[Any] | None, ctx: Any) -> tuple[np.ndarray, np.ndarray]:
        """Universe positions and ids of the candidate items (all items by default)."""
        if candidates is None:
            pos = self._default_candidates()
            return pos, self.item_index_.ids[pos]
        ids = pd.unique(_as_id_array(candidates, "candidates"))
        pos = self.item_index_.positions(ids)
        if (pos < 0).any():
            raise ValueError(f"candidates contain item ids unknown to the model, e.g. {ids[pos < 0][:5].tolist()}")
        return pos, ids

    def _default_candidates(self) -> np.ndarray:
        """Universe positions of the items recommended when no candidates are given: all of them."""
        return np.arange(len(self.item_index_))

    def _score_block(self, ctx: Any, user_pos: np.ndarray, item_pos: np.ndarray, user_ids: np.ndarray) -> np.ndarray:
        """Dense (len(user_pos), len(item_pos)) float32 scores. ``user_pos`` -1 = no history."""
        raise NotImplementedError

    def score(
        self, user_ids: Iterable[Any], item_ids: Iterable[Any], unknown: Unknown = "raise", **kwargs: Any
    ) -> np.ndarray:
        """Score of each (user_ids[j], item_ids[j]) pair, as a float64 array."""
        self._check_fitted()
        users = _as_id_array(user_ids, "user_ids")
        items = _as_id_array(item_ids, "item_ids")
        if len(users) != len(items):
            raise ValueError(f"user_ids ({len(users)}) and item_ids ({len(items)}) must have the same length")
        ctx = self._context(**kwargs)
        upos = self._user_positions(users, unknown, ctx)
        ipos = self._pair_item_positions(items, ctx)
        return self._score_pairs(ctx, users, upos, ipos)

    def _pair_item_positions(self, items: np.ndarray, ctx: Any) -> np.ndarray:
        pos = self.item_index_.positions(items)
        if (pos < 0).any():
            raise ValueError(f"item ids unknown to the model, e.g. {items[pos < 0][:5].tolist()}")
        return pos

    def _score_pairs(self, ctx: Any, users: np.ndarray, upos: np.ndarray, ipos: np.ndarray) -> np.ndarray:
        out = np.empty(len(upos), dtype=np.float64)
        step = 1 << 12
        for start in range(0, len(upos), step):  # chunks of pairs, not rows
            u, i = users[start:start + step], ipos[start:start + step]
            first, uinv = np.unique(u, return_index=True, return_inverse=True)[1:]
            ii, iinv = np.unique(i, return_inverse=True)
            block = self._score_block(ctx, upos[start:start + step][first], ii, u[first])
            out[start:start + step] = block[uinv.ravel(), iinv.ravel()]
        return out

    def recommend(
        self,
        user_ids: Iterable[Any],
        k: int = 10,
        exclude_seen: bool = True,
        candidates: Iterable[Any] | None = None,
        unknown: Unknown = "raise",
        **kwargs: Any,
    ) -> pd.DataFrame:
        """Top-``k`` items for every user, vectorised over users (chunked to bound memory).

        Parameters
        ----------
        user_ids
            Users to recommend for (duplicates are answered once each time they appear).
        k
            List length; users with fewer eligible candidates get shorter lists.
        exclude_seen
            Leave out items the user already had a positive interaction with in training.
        candidates
            Restrict the lists to these item ids (default: every item the model knows).
        unknown
            ``"raise"`` on user ids the model does not know, or ``"cold"`` to score them as
            customers with no history and no features.

        Returns
        -------
        pd.DataFrame
            ``user_id``, ``item_id``, ``score``, ``rank`` (1 = best), sorted by user order, rank.
        """
        self._check_fitted()
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        users = _as_id_array(user_ids, "user_ids")
        ctx = self._context(**kwargs)
        upos = self._user_positions(users, unknown, ctx)
        ipos, item_ids = self._item_positions(candidates, ctx)
        return self._top_k(ctx, users, upos, ipos, np.asarray(item_ids, dtype=object), int(k), exclude_seen)

    def _top_k(
        self, ctx: Any, users: np.ndarray, upos: np.ndarray, ipos: np.ndarray, item_ids: np.ndarray,
        k: int, exclude_seen: bool,
    ) -> pd.DataFrame:
        n_cand = len(ipos)
        if n_cand == 0 or len(users) == 0:
            return _reco_frame(np.zeros(0, object), np.zeros(0, object), np.zeros(0), np.zeros(0, np.int64))
        k = min(k, n_cand)
        # Columns in a fixed pseudo-random order (hash of the item id), so ties are broken
        # independently of how the ids happen to be named or sorted.
        perm = np.argsort(pd.util.hash_array(item_ids), kind="stable")
        ipos, item_ids = ipos[perm], item_ids[perm]
        # candidate position of each universe item (-1: not a candidate), for seen-masking
        cand_of_item = np.full(len(self.item_index_), -1, dtype=np.int64)
        in_universe = (ipos >= 0) & (ipos < len(self.item_index_))  # new items were never seen
        cand_of_item[ipos[in_universe]] = np.flatnonzero(in_universe)
        chunk = max(1, SCORE_BLOCK_CELLS // n_cand)
        out_u, out_i, out_s, out_r = [], [], [], []
        for start in range(0, len(users), chunk):  # chunks of users: one matrix product each
            up = upos[start:start + chunk]
            scores = self._score_block(ctx, up, ipos, users[start:start + chunk])
            if exclude_seen:
                _mask_seen(scores, self.seen_, up, cand_of_item)
            top, top_scores = _top_k_rows(scores, k)
            ok = np.isfinite(top_scores)
            counts = ok.sum(axis=1)
            out_u.append(np.repeat(users[start:start + chunk], counts))
            out_i.append(item_ids[top[ok]])
            out_s.append(top_scores[ok])
            out_r.append(np.broadcast_to(np.arange(1, k + 1), top.shape)[ok])
        return _reco_frame(
            np.concatenate(out_u), np.concatenate(out_i), np.concatenate(out_s), np.concatenate(out_r)
        )


def _mask_seen(scores: np.ndarray, seen: sp.csr_matrix, user_pos: np.ndarray, cand_of_item: np.ndarray) -> None:
    known = np.flatnonzero((user_pos >= 0) & (user_pos < seen.shape[0]))  # new users saw nothing
    if len(known) == 0 or seen.nnz == 0:
        return
    sub = seen[user_pos[known]].tocoo()
    cols = cand_of_item[sub.col]
    keep = cols >= 0
    scores[known[sub.row[keep]], cols[keep]] = -np.inf


def _top_k_rows(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and scores of the k best entries of each row, best first."""
    if k < scores.shape[1]:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        part_scores = np.take_along_axis(scores, part, axis=1)
    else:
        part, part_scores = np.broadcast_to(np.arange(scores.shape[1]), scores.shape), scores
    order = np.argsort(-part_scores, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(part_scores, order, axis=1)


def _reco_frame(users: np.ndarray, items: np.ndarray, scores: np.ndarray, ranks: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({
        C.USER_ID: pd.array(users, dtype="str"),
        C.ITEM_ID: pd.array(items, dtype="str"),
        C.SCORE: scores.astype(np.float64),
        C.RANK: ranks.astype(np.int64),
    })


# --------------------------------------------------------------------------------------------
# The hybrid model
# --------------------------------------------------------------------------------------------


@dataclass
class _NewEntities:
    """Representations of users / items passed at scoring time (not stored on the model)."""

    user_ids: IdIndex
    user_vectors: np.ndarray
    user_biases: np.ndarray
    item_ids: IdIndex
    item_vectors: np.ndarray
    item_biases: np.ndarray


class HybridRecommender(BaseRecommender):
    """LightFM hybrid recommender over user and item features.

    Parameters
    ----------
    config
        :class:`ModelConfig` (loss, size, learning rate, epochs, early stopping, ...).
    features
        :class:`recsys.learn.features.FeatureConfig` (identity features, sensitive columns, bins, ...).
    interactions
        :class:`recsys.learn.features.InteractionConfig` (event weights, time decay).

    Attributes
    ----------
    user_index_, item_index_ : IdIndex
        All ids the model can score: training ids first, then ids found only in the side tables.
    user_features_, item_features_ : scipy.sparse.csr_matrix
        Feature matrices, one row per id of the index, one column per feature.
    user_feature_index_, item_feature_index_ : FeatureIndex
        Readable name, source column and value label of every feature.
    user_embeddings_, user_biases_, item_embeddings_, item_biases_ : np.ndarray
        LightFM's per-feature embeddings and biases.
    epochs_ : list of dict
        Per-epoch record (epoch, seconds, validation metrics when a validation split was given).
    best_epoch_ : int
        Number of epochs whose parameters the model keeps.

    Examples
    --------
    >>> model = HybridRecommender(ModelConfig(epochs=5)).fit(train, users, user_schema, items, item_schema)  # doctest: +SKIP
    >>> model.recommend(["u1", "u2"], k=10)  # doctest: +SKIP
    """

    name = "hybrid"

    def __init__(
        self,
        config: ModelConfig | None = None,
        features: FeatureConfig | None = None,
        interactions: InteractionConfig | None = None,
    ) -> None:
        self.config = config
        self.features = features
        self.interactions = interactions

    # -- fit -----------------------------------------------------------------------------------

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
        validation_candidates: Iterable[Any] | None = None,
    ) -> "HybridRecommender":
        """Fit on training interactions (and the users / items tables).

        Parameters
        ----------
        interactions
            Training interactions only (canonical columns).
        users, user_schema, items, item_schema
            Side tables and their typed columns; feature encoders are learned on the rows of the
            ids present in ``interactions`` only.
        validation
            Held-out interactions for per-epoch metrics and early stopping (``config.epochs`` is
            then a maximum and the best epoch's parameters are kept).
        on_epoch
            Called after every epoch with a JSON-friendly dict: ``epoch``, ``seconds`` and, with
            validation, ``precision@k`` and ``ndcg@k``.
        reference_time
            "Now" for time decay and date features; default: the latest training timestamp.
        validation_candidates
            Rank only these items in the validation metrics (e.g. the held-out offers of a
            cold-start split); default: every item the model can score.
        """
        cfg = self.config or ModelConfig()
        cfg.validate()
        fcfg = self.features or FeatureConfig()
        fcfg.validate()
        icfg = self.interactions or InteractionConfig()
        icfg.validate()
        self.config_, self.features_config_, self.interactions_config_ = cfg, fcfg, icfg

        im = self._fit_universe(interactions, users, items, icfg, reference_time)
        warm_users = IdIndex(self.user_index_.ids[: self.n_warm_users_])
        warm_items = IdIndex(self.item_index_.ids[: self.n_warm_items_])
        self.user_builder_ = FeatureBuilder(user_schema, C.USER_ID, fcfg, self.reference_time_).fit(users, warm_users)
        self.item_builder_ = FeatureBuilder(item_schema, C.ITEM_ID, fcfg, self.reference_time_).fit(items, warm_items)
        self.user_features_ = self.user_builder_.transform(users, self.user_index_.ids)
        self.item_features_ = self.item_builder_.transform(items, self.item_index_.ids)

        train, weights = _lightfm_training_data(im.matrix, cfg.loss)
        lfm = _new_lightfm(cfg)
        uf = self.user_features_[: self.n_warm_users_]
        itf = self.item_features_[: self.n_warm_items_]
        monitor = _ValidationMonitor(self, validation, cfg, validation_candidates) if validation is not None else None
        self.epochs_: list[dict[str, Any]] = []
        best_value, best_epoch, best_params, stale = -np.inf, 0, None, 0
        t0 = time.perf_counter()
        for epoch in range(1, cfg.epochs + 1):
            lfm.fit_partial(train, user_features=uf, item_features=itf, sample_weight=weights,
                            epochs=1, num_threads=cfg.num_threads)
            record: dict[str, Any] = {"epoch": epoch, "seconds": round(time.perf_counter() - t0, 4)}
            if monitor is not None:
                record.update(monitor.evaluate(lfm))
                value = record[monitor.monitored]
                if value > best_value:
                    best_value, best_epoch, stale = value, epoch, 0
                    best_params = _copy_params(lfm)
                else:
                    stale += 1
            self.epochs_.append(record)
            if on_epoch is not None:
                on_epoch(dict(record))
            if monitor is not None and cfg.early_stopping_patience and stale >= cfg.early_stopping_patience:
                break
        if monitor is not None and best_params is not None and best_epoch != self.epochs_[-1]["epoch"]:
            _set_params(lfm, best_params)
        self.best_epoch_ = best_epoch if monitor is not None else len(self.epochs_)
        self.lightfm_ = lfm
        self._cache_representations()
        return self

    # -- growing and updating (new customers, offers and events without retraining) -------------

    def grown(
        self,
        interactions: pd.DataFrame,
        users: pd.DataFrame | None = None,
        items: pd.DataFrame | None = None,
        *,
        new_user_rows: pd.DataFrame | None = None,
        new_item_rows: pd.DataFrame | None = None,
        seed: int | None = None,
    ) -> "HybridRecommender":
        """A copy of this model whose id and feature spaces also cover new data.

        LightFM cannot grow its embeddings by itself; this does it outside LightFM. Customers and
        offers of ``interactions`` not yet trained on become "warm" (they get identity features);
        ids only in ``users`` / ``items`` are scored from their facts; values of ``new_user_rows`` /
        ``new_item_rows`` (default: the side-table rows of ids new to the model) that the encoders
        have not seen become new features. New embedding rows are initialised as LightFM
        initialises them (uniform in ±0.5 / no_components, biases 0, fresh optimiser state);
        every known parameter and its optimiser state is kept. So before any further training,
        every known customer's score for every known offer is unchanged (given unchanged facts).

        Parameters
        ----------
        interactions
            The new events (canonical columns); only their ids are used here.
        users, items
            The current side tables (facts of every id); feature rows are rebuilt from them.
        new_user_rows, new_item_rows
            Rows whose values may add features (e.g. the rows of an append).
        seed
            Seed of the new rows' initialisation (default: the model's ``random_state``).
        """
        self._check_fitted()
        for col in (C.USER_ID, C.ITEM_ID):
            if col not in interactions.columns:
                raise ValueError(f"interactions need a {col!r} column; found {list(interactions.columns)}")
        cfg = self.config_
        model = copy.copy(self)
        warm_u = IdIndex(self.user_index_.ids[: self.n_warm_users_]).extend(interactions[C.USER_ID])
        warm_i = IdIndex(self.item_index_.ids[: self.n_warm_items_]).extend(interactions[C.ITEM_ID])
        user_index = _with_side_ids(warm_u, self.user_index_.ids[self.n_warm_users_:], users, C.USER_ID)
        item_index = _with_side_ids(warm_i, self.item_index_.ids[self.n_warm_items_:], items, C.ITEM_ID)
        if new_user_rows is None and users is not None:
            new_user_rows = users[self.user_index_.positions(users[C.USER_ID]) < 0]
        if new_item_rows is None and items is not None:
            new_item_rows = items[self.item_index_.positions(items[C.ITEM_ID]) < 0]
        model.user_builder_ = copy.deepcopy(self.user_builder_)
        model.item_builder_ = copy.deepcopy(self.item_builder_)
        user_map = model.user_builder_.grow(new_user_rows, warm_u.ids[self.n_warm_users_:])
        item_map = model.item_builder_.grow(new_item_rows, warm_i.ids[self.n_warm_items_:])
        model.user_index_, model.item_index_ = user_index, item_index
        model.n_warm_users_, model.n_warm_items_ = len(warm_u), len(warm_i)
        model.user_features_ = model.user_builder_.transform(users, user_index.ids)
        model.item_features_ = model.item_builder_.transform(items, item_index.ids)
        new_positives = build_interactions(
            interactions, self.interactions_config_, user_index, item_index, latest_timestamp(interactions)
        ).positives()
        old = self.seen_.tocoo()
        rows = user_index.positions(self.user_index_.ids)[old.row]
        cols = item_index.positions(self.item_index_.ids)[old.col]
        seen = sp.coo_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=new_positives.shape).tocsr() + new_positives
        seen.data[:] = 1.0
        model.seen_ = seen.astype(np.float32)
        rng = np.random.RandomState(cfg.random_state if seed is None else int(seed))
        model.lightfm_ = _grown_lightfm(
            self.lightfm_, cfg, user_map, model.user_builder_.n_features_, item_map, model.item_builder_.n_features_, rng
        )
        model.epochs_ = list(self.epochs_)
        model.updates_ = list(getattr(self, "updates_", []))
        model._cache_representations()
        return model

    def fit_update(
        self,
        interactions: pd.DataFrame,
        epochs: int,
        on_epoch: EpochCallback | None = None,
        reference_time: pd.Timestamp | None = None,
        note: dict[str, Any] | None = None,
    ) -> "HybridRecommender":
        """Continue training (LightFM ``fit_partial``) on these interactions, in place.

        Every customer and offer of ``interactions`` must already be warm: call :meth:`grown`
        with them first. ``interactions`` is usually the new events plus a replay sample of old
        ones (see :func:`recsys.workspace.update.update_model`), so that the model does not forget.
        ``note`` (JSON-friendly) is recorded in ``updates_`` with the epochs' timings.
        """
        self._check_fitted()
        if not isinstance(epochs, (int, np.integer)) or epochs < 1:
            raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
        cfg = self.config_
        warm_u = IdIndex._from_unique(pd.Index(self.user_index_.ids[: self.n_warm_users_], dtype=object))
        warm_i = IdIndex._from_unique(pd.Index(self.item_index_.ids[: self.n_warm_items_], dtype=object))
        for col, index in ((C.USER_ID, warm_u), (C.ITEM_ID, warm_i)):
            pos = index.positions(interactions[col])
            if (pos < 0).any():
                bad = interactions[col].to_numpy(object)[pos < 0][:5].tolist()
                raise ValueError(f"{int((pos < 0).sum())} interaction(s) with ids the model has not grown to, "
                                 f"e.g. {bad}: call grown(...) with these interactions first")
        ref = reference_time if reference_time is not None else latest_timestamp(interactions)
        im = build_interactions(interactions, self.interactions_config_, warm_u, warm_i, ref)
        train, weights = _lightfm_training_data(im.matrix, cfg.loss)
        uf = self.user_features_[: self.n_warm_users_]
        itf = self.item_features_[: self.n_warm_items_]
        lfm = self.lightfm_
        records: list[dict[str, Any]] = []
        t0 = time.perf_counter()
        for epoch in range(1, int(epochs) + 1):
            lfm.fit_partial(train, user_features=uf, item_features=itf, sample_weight=weights,
                            epochs=1, num_threads=cfg.num_threads)
            record = {"epoch": epoch, "seconds": round(time.perf_counter() - t0, 4)}
            records.append(record)
            if on_epoch is not None:
                on_epoch(dict(record))
        self.updates_ = list(getattr(self, "updates_", [])) + [
            {**(note or {}), "rows": int(len(interactions)), "pairs": int(train.nnz), "epochs": records}
        ]
        self._cache_representations()
        return self

    def _cache_representations(self) -> None:
        lfm = self.lightfm_
        self.user_embeddings_, self.user_biases_ = lfm.user_embeddings, lfm.user_biases
        self.item_embeddings_, self.item_biases_ = lfm.item_embeddings, lfm.item_biases
        self.user_bias_rep_, self.user_vectors_ = lfm.get_user_representations(self.user_features_)
        self.item_bias_rep_, self.item_vectors_ = lfm.get_item_representations(self.item_features_)
        self.user_vectors_ = np.ascontiguousarray(self.user_vectors_, dtype=np.float32)
        self.item_vectors_ = np.ascontiguousarray(self.item_vectors_, dtype=np.float32)

    # -- what the explanation module needs -----------------------------------------------------

    @property
    def user_feature_index_(self) -> FeatureIndex:
        self._check_fitted()
        return self.user_builder_.feature_index_

    @property
    def item_feature_index_(self) -> FeatureIndex:
        self._check_fitted()
        return self.item_builder_.feature_index_

    def user_feature_matrix(self, user_ids: Iterable[Any], new_users: pd.DataFrame | None = None) -> sp.csr_matrix:
        """Feature rows of these users (known users: stored rows; others: from ``new_users``)."""
        self._check_fitted()
        return _feature_rows(self.user_builder_, self.user_features_, self.user_index_,
                             _as_id_array(user_ids, "user_ids"), new_users)

    def item_feature_matrix(self, item_ids: Iterable[Any], new_items: pd.DataFrame | None = None) -> sp.csr_matrix:
        """Feature rows of these items (known items: stored rows; others: from ``new_items``)."""
        self._check_fitted()
        return _feature_rows(self.item_builder_, self.item_features_, self.item_index_,
                             _as_id_array(item_ids, "item_ids"), new_items)

    def item_side_features(self) -> sp.csr_matrix:
        """Item feature matrix without identity columns (e.g. for intra-list diversity)."""
        self._check_fitted()
        return self.item_builder_.side_features(self.item_features_)

    # -- scoring -------------------------------------------------------------------------------

    def _context(self, new_users: pd.DataFrame | None = None, new_items: pd.DataFrame | None = None) -> _NewEntities | None:  # type: ignore[override]
        if new_users is None and new_items is None:
            return None
        d = self.user_vectors_.shape[1]

        def reps(builder: FeatureBuilder, table: pd.DataFrame | None, key: str, index: IdIndex, emb: np.ndarray, bias: np.ndarray):
            if table is None:
                return IdIndex([]), np.zeros((0, d), np.float32), np.zeros(0, np.float32)
            if key not in table.columns:
                raise ValueError(f"new {key.split('_')[0]}s need a {key!r} column; found {list(table.columns)}")
            ids = pd.unique(table[key].astype(str).to_numpy(object))
            ids = ids[index.positions(ids) < 0]  # known ids keep their trained representation
            x = builder.transform(table, ids)
            return IdIndex(ids), np.asarray(x @ emb, dtype=np.float32), np.asarray(x @ bias, dtype=np.float32)

        u = reps(self.user_builder_, new_users, C.USER_ID, self.user_index_, self.user_embeddings_, self.user_biases_)
        i = reps(self.item_builder_, new_items, C.ITEM_ID, self.item_index_, self.item_embeddings_, self.item_biases_)
        return _NewEntities(*u, *i)

    def _user_positions(self, user_ids: np.ndarray, unknown: Unknown, ctx: Any) -> np.ndarray:
        pos = super()._user_positions(user_ids, "cold", ctx)
        if unknown not in ("raise", "cold"):
            raise ValueError(f"unknown must be 'raise' or 'cold', got {unknown!r}")
        if ctx is not None and len(ctx.user_ids):
            new = ctx.user_ids.positions(user_ids)
            pos = np.where((pos < 0) & (new >= 0), len(self.user_index_) + new, pos)
        if unknown == "raise" and (pos < 0).any():
            _raise_unknown(user_ids, pos)
        return pos

    def _item_positions(self, candidates: Iterable[Any] | None, ctx: Any) -> tuple[np.ndarray, np.ndarray]:
        if ctx is None or not len(ctx.item_ids):
            return super()._item_positions(candidates, ctx)
        if candidates is None:
            pos = np.r_[self._default_candidates(), len(self.item_index_) + np.arange(len(ctx.item_ids))]
            return pos, np.concatenate([self.item_index_.ids, ctx.item_ids.ids])[pos]
        ids = pd.unique(_as_id_array(candidates, "candidates"))
        return self._pair_item_positions(ids, ctx), ids

    def _pair_item_positions(self, items: np.ndarray, ctx: Any) -> np.ndarray:
        pos = self.item_index_.positions(items)
        if ctx is not None and len(ctx.item_ids):
            new = ctx.item_ids.positions(items)
            pos = np.where((pos < 0) & (new >= 0), len(self.item_index_) + new, pos)
        if (pos < 0).any():
            raise ValueError(f"item ids unknown to the model, e.g. {items[pos < 0][:5].tolist()}: pass their feature rows as new_items")
        return pos

    def _gather(self, pos: np.ndarray, vectors: np.ndarray, biases: np.ndarray, new_vectors: np.ndarray | None, new_biases: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        n = len(vectors)
        out_v = np.zeros((len(pos), vectors.shape[1]), dtype=np.float32)
        out_b = np.zeros(len(pos), dtype=np.float32)
        known = (pos >= 0) & (pos < n)
        out_v[known] = vectors[pos[known]]
        out_b[known] = biases[pos[known]]
        if new_vectors is not None and len(new_vectors):
            new = pos >= n
            out_v[new] = new_vectors[pos[new] - n]
            out_b[new] = new_biases[pos[new] - n]  # type: ignore[index]
        return out_v, out_b

    def _default_candidates(self) -> np.ndarray:
        """Items the model can score: those with at least one feature (a collaborative-only model
        cannot score offers unseen in training, so it does not recommend them)."""
        return np.flatnonzero(np.diff(self.item_features_.indptr) > 0)

    def _score_block(self, ctx: _NewEntities | None, user_pos: np.ndarray, item_pos: np.ndarray, user_ids: np.ndarray) -> np.ndarray:
        uv, ub = self._gather(user_pos, self.user_vectors_, self.user_bias_rep_,
                              None if ctx is None else ctx.user_vectors, None if ctx is None else ctx.user_biases)
        if ctx is None and np.array_equal(item_pos, np.arange(len(self.item_vectors_))):
            iv, ib = self.item_vectors_, self.item_bias_rep_
        else:
            iv, ib = self._gather(item_pos, self.item_vectors_, self.item_bias_rep_,
                                  None if ctx is None else ctx.item_vectors, None if ctx is None else ctx.item_biases)
        scores = uv @ iv.T
        scores += ib[None, :]
        scores += ub[:, None]
        return scores

    def recommend(  # type: ignore[override]
        self,
        user_ids: Iterable[Any],
        k: int = 10,
        exclude_seen: bool = True,
        candidates: Iterable[Any] | None = None,
        unknown: Unknown = "raise",
        new_users: pd.DataFrame | None = None,
        new_items: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """Top-``k`` offers per customer (see :meth:`BaseRecommender.recommend`).

        ``new_users`` / ``new_items`` are feature rows (same columns as the training tables) of
        customers / offers the model has not seen; they are scored from their features alone.
        New items join the candidates.
        """
        return super().recommend(user_ids, k, exclude_seen, candidates, unknown, new_users=new_users, new_items=new_items)

    def score(  # type: ignore[override]
        self, user_ids: Iterable[Any], item_ids: Iterable[Any], unknown: Unknown = "raise",
        new_users: pd.DataFrame | None = None, new_items: pd.DataFrame | None = None,
    ) -> np.ndarray:
        """``score(u, i) = p_u · q_i + b_u + b_i`` for each pair (equals LightFM's ``predict``)."""
        return super().score(user_ids, item_ids, unknown, new_users=new_users, new_items=new_items)

    def user_representations(self, user_ids: Iterable[Any] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(biases, vectors) of these known users (all users by default)."""
        self._check_fitted()
        if user_ids is None:
            return self.user_bias_rep_, self.user_vectors_
        pos = self.user_index_.positions(_as_id_array(user_ids, "user_ids"))
        if (pos < 0).any():
            raise ValueError("user_representations: some user ids are unknown to the model")
        return self.user_bias_rep_[pos], self.user_vectors_[pos]

    def item_representations(self, item_ids: Iterable[Any] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(biases, vectors) of these known items (all items by default)."""
        self._check_fitted()
        if item_ids is None:
            return self.item_bias_rep_, self.item_vectors_
        pos = self.item_index_.positions(_as_id_array(item_ids, "item_ids"))
        if (pos < 0).any():
            raise ValueError("item_representations: some item ids are unknown to the model")
        return self.item_bias_rep_[pos], self.item_vectors_[pos]

    # -- persistence ---------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write ``path`` (.npz, no pickled objects) and ``path`` with suffix .json (metadata).

        Returns the path of the .npz file.
        """
        self._check_fitted()
        npz = _npz_path(path)
        arrays = self._arrays()
        meta = {
            "format": MODEL_FORMAT,
            "format_version": MODEL_FORMAT_VERSION,
            "model": type(self).__name__,
            "config": self.config_.to_dict(),
            "features": self.features_config_.to_dict(),
            "interactions": self.interactions_config_.to_dict(),
            "reference_time": None if self.reference_time_ is None else pd.Timestamp(self.reference_time_).isoformat(),
            "user_builder": self.user_builder_.state(),
            "item_builder": self.item_builder_.state(),
            "epochs": self.epochs_,
            "best_epoch": int(self.best_epoch_),
            "updates": list(getattr(self, "updates_", [])),
            "arrays": sorted(arrays),
            "sha256": _arrays_checksum(arrays),
        }
        npz.parent.mkdir(parents=True, exist_ok=True)
        np.savez(npz, **arrays)
        npz.with_suffix(".json").write_text(json.dumps(meta, indent=1, default=_json_default), encoding="utf-8")
        return npz

    def _arrays(self) -> dict[str, np.ndarray]:
        arrays: dict[str, np.ndarray] = {
            "user_ids": self.user_index_.to_array(),
            "item_ids": self.item_index_.to_array(),
            "n_warm": np.array([self.n_warm_users_, self.n_warm_items_], dtype=np.int64),
            "user_embeddings": self.user_embeddings_, "user_biases": self.user_biases_,
            "item_embeddings": self.item_embeddings_, "item_biases": self.item_biases_,
        }
        for prefix, mat in (("user_features", self.user_features_), ("item_features", self.item_features_), ("seen", self.seen_)):
            arrays.update(_csr_arrays(prefix, sp.csr_matrix(mat)))
        # The optimiser state, so that an update (fit_partial) of a loaded model continues exactly
        # where training stopped. Momentum is only used by adadelta.
        states = _OPTIMISER_STATE if self.config_.learning_schedule == "adadelta" else ("embedding_gradients", "bias_gradients")
        for side in ("user", "item"):
            for state in states:
                value = getattr(self.lightfm_, f"{side}_{state}", None)
                if value is not None:
                    arrays[f"optimiser_{side}_{state}"] = np.asarray(value, dtype=np.float32)
        return arrays

    @classmethod
    def load(cls, path: str | Path) -> "HybridRecommender":
        """Load a model saved by :meth:`save`, refusing pickles and tampered files."""
        npz = _npz_path(path)
        meta_path = npz.with_suffix(".json")
        for p in (npz, meta_path):
            if not p.is_file():
                raise ModelFileError(f"model file {p} does not exist")
        with open(npz, "rb") as fh:
            head = fh.read(4)
        if head != _ZIP_MAGIC:
            kind = "a pickle" if head[:1] == b"\x80" else "not an .npz archive"
            raise ModelFileError(f"{npz} is {kind}: PromoLens only loads its own .npz model files (never pickles)")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ModelFileError(f"{meta_path} is not valid JSON: {exc}") from exc
        if meta.get("format") != MODEL_FORMAT:
            raise ModelFileError(f"{meta_path} is not a PromoLens hybrid model (format {meta.get('format')!r})")
        if meta.get("format_version") != MODEL_FORMAT_VERSION:
            raise ModelFileError(
                f"{npz} has model format version {meta.get('format_version')!r}; this PromoLens reads "
                f"version {MODEL_FORMAT_VERSION}: retrain the model"
            )
        try:
            with np.load(npz, allow_pickle=False) as z:
                arrays = {name: z[name] for name in z.files}
        except ValueError as exc:
            raise ModelFileError(f"{npz} holds pickled objects and was refused: {exc}") from exc
        except Exception as exc:  # a damaged zip raises several kinds of errors
            raise ModelFileError(f"{npz} could not be read: {exc}") from exc
        if sorted(arrays) != list(meta.get("arrays", [])) or _arrays_checksum(arrays) != meta.get("sha256"):
            raise ModelFileError(f"{npz} does not match its checksum: it was changed after it was saved; refusing to load it")
        return cls._from_arrays(arrays, meta)

    @classmethod
    def _from_arrays(cls, a: dict[str, np.ndarray], meta: dict[str, Any]) -> "HybridRecommender":
        model = cls.__new__(cls)  # subclasses may have other constructors
        model.config = ModelConfig.from_dict(meta["config"])
        model.features = FeatureConfig.from_dict(meta["features"])
        model.interactions = InteractionConfig.from_dict(meta["interactions"])
        model.config_, model.features_config_, model.interactions_config_ = model.config, model.features, model.interactions
        ref = meta.get("reference_time")
        model.reference_time_ = None if ref is None else pd.Timestamp(ref)
        model.user_index_ = IdIndex(a["user_ids"].astype(object))
        model.item_index_ = IdIndex(a["item_ids"].astype(object))
        model.n_warm_users_, model.n_warm_items_ = (int(x) for x in a["n_warm"])
        fcfg = model.features_config_
        uid = model.user_index_.ids[: model.n_warm_users_] if fcfg.user_identity else np.zeros(0, object)
        iid = model.item_index_.ids[: model.n_warm_items_] if fcfg.item_identity else np.zeros(0, object)
        model.user_builder_ = FeatureBuilder.from_state(meta["user_builder"], uid)
        model.item_builder_ = FeatureBuilder.from_state(meta["item_builder"], iid)
        model.user_features_ = _csr_from(a, "user_features")
        model.item_features_ = _csr_from(a, "item_features")
        model.seen_ = _csr_from(a, "seen")
        cfg = model.config_
        lfm = _new_lightfm(cfg)
        _set_params(lfm, {k: a[k] for k in ("user_embeddings", "user_biases", "item_embeddings", "item_biases")}, init_optimizer=True)
        for name in a:  # files written before the optimiser state was kept start from a fresh one
            if name.startswith("optimiser_"):
                setattr(lfm, name[len("optimiser_"):], np.ascontiguousarray(a[name], dtype=np.float32))
        model.lightfm_ = lfm
        model.epochs_ = list(meta.get("epochs", []))
        model.updates_ = list(meta.get("updates", []))
        model.best_epoch_ = int(meta.get("best_epoch", 0))
        model._cache_representations()
        return model


def _feature_rows(
    builder: FeatureBuilder, features: sp.csr_matrix, index: IdIndex, ids: np.ndarray, table: pd.DataFrame | None
) -> sp.csr_matrix:
    pos = index.positions(ids)
    known = pos >= 0
    parts = [features[pos[known]], builder.transform(table, ids[~known])]
    order = np.r_[np.flatnonzero(known), np.flatnonzero(~known)]
    return sp.csr_matrix(sp.vstack(parts).tocsr()[np.argsort(order, kind="stable")], dtype=np.float32)


def _raise_unknown(user_ids: np.ndarray, pos: np.ndarray) -> None:
    bad = user_ids[pos < 0][:5].tolist()
    raise ValueError(
        f"{int((pos < 0).sum())} user id(s) unknown to the model, e.g. {bad}: pass unknown='cold' "
        "to score them as customers with no history, or their feature rows as new_users"
    )


# --------------------------------------------------------------------------------------------
# Training helpers
# --------------------------------------------------------------------------------------------


def _lightfm_training_data(weights: sp.csr_matrix, loss: str) -> tuple[sp.coo_matrix, sp.coo_matrix | None]:
    """LightFM's interactions (int32 COO) and sample weights from the aggregated weight matrix.

    Positives are pairs with a total weight > 0; their sample weights are the totals divided by
    their mean (only relative weights matter; this keeps the effective learning rate comparable
    to unweighted training). For the logistic loss, observed pairs with a total <= 0 become
    negatives (-1) with sample weight 1. The k-OS loss takes no sample weights.
    """
    w = weights.tocoo()
    pos = w.data > 0
    if not pos.any():
        raise ValueError(
            "no positive interactions in training: every event type has weight 0 or less "
            "(check the event weights, e.g. impressions weigh 0 by default)"
        )
    keep = pos | (loss == "logistic")
    rows, cols, data = w.row[keep].astype(np.int32), w.col[keep].astype(np.int32), w.data[keep]
    labels = np.where(data > 0, 1.0, -1.0).astype(np.float32)
    sw = np.where(data > 0, data / data[data > 0].mean(), 1.0).astype(np.float32)
    inter = sp.coo_matrix((labels, (rows, cols)), shape=weights.shape)
    if loss == "warp-kos":
        return inter, None
    return inter, sp.coo_matrix((sw, (rows, cols)), shape=weights.shape)


def _copy_params(lfm: LightFM) -> dict[str, np.ndarray]:
    return {k: getattr(lfm, k).copy() for k in ("user_embeddings", "user_biases", "item_embeddings", "item_biases")}


def _set_params(lfm: LightFM, params: dict[str, np.ndarray], init_optimizer: bool = False) -> None:
    if init_optimizer:  # a loaded model: give LightFM the optimiser state it checks for (unused)
        for k in ("user_embeddings", "user_biases", "item_embeddings", "item_biases"):
            arr = np.ascontiguousarray(params[k], dtype=np.float32)
            setattr(lfm, k, arr)
            setattr(lfm, k.replace("embeddings", "embedding").replace("biases", "bias") + "_gradients", np.ones_like(arr))
            setattr(lfm, k.replace("embeddings", "embedding").replace("biases", "bias") + "_momentum", np.zeros_like(arr))
        return
    for k, v in params.items():
        getattr(lfm, k)[...] = v  # in place: LightFM's optimiser arrays stay consistent


def _new_lightfm(cfg: ModelConfig, random_state: int | np.random.RandomState | None = None) -> LightFM:
    """An unfitted LightFM with the config's hyper-parameters (seed: ``cfg.random_state`` by default)."""
    return LightFM(no_components=cfg.no_components, k=cfg.kos_k, n=cfg.kos_n, learning_schedule=cfg.learning_schedule,
                   loss=cfg.loss, learning_rate=cfg.learning_rate, item_alpha=cfg.item_alpha,
                   user_alpha=cfg.user_alpha, max_sampled=cfg.max_sampled,
                   random_state=cfg.random_state if random_state is None else random_state)


def _with_side_ids(warm: IdIndex, old_cold: np.ndarray, table: pd.DataFrame | None, key: str) -> IdIndex:
    """Warm ids first, then the old side-table-only ids, then ids new in the side table."""
    index = warm.extend(old_cold) if len(old_cold) else warm
    if table is not None and key in table.columns:
        index = index.extend(table[key])
    return index


_OPTIMISER_STATE = ("embedding_gradients", "embedding_momentum", "bias_gradients", "bias_momentum")


def _grown_lightfm(
    lfm: LightFM, cfg: ModelConfig, user_map: np.ndarray, n_user_features: int,
    item_map: np.ndarray, n_item_features: int, rng: np.random.RandomState,
) -> LightFM:
    """A LightFM with more feature rows: old rows (at ``*_map``) keep parameters and optimiser
    state; new rows are initialised as ``LightFM._initialize`` does."""
    grown = _new_lightfm(cfg, random_state=rng)
    d = cfg.no_components
    fresh_accumulator = 1.0 if cfg.learning_schedule == "adagrad" else 0.0
    for side, mapping, n in (("item", item_map, n_item_features), ("user", user_map, n_user_features)):
        emb = ((rng.rand(n, d) - 0.5) / d).astype(np.float32)
        emb[mapping] = getattr(lfm, f"{side}_embeddings")
        bias = np.zeros(n, dtype=np.float32)
        bias[mapping] = getattr(lfm, f"{side}_biases")
        setattr(grown, f"{side}_embeddings", emb)
        setattr(grown, f"{side}_biases", bias)
        for state in _OPTIMISER_STATE:
            shape = emb.shape if state.startswith("embedding") else bias.shape
            start = fresh_accumulator if state.endswith("gradients") else 0.0
            arr = np.full(shape, start, dtype=np.float32)
            old = getattr(lfm, f"{side}_{state}", None)
            if old is not None:
                arr[mapping] = old
            setattr(grown, f"{side}_{state}", arr)
    return grown


class _ValidationMonitor:
    """Validation precision@k / NDCG@k of the current parameters, for early stopping."""

    def __init__(self, model: HybridRecommender, validation: pd.DataFrame, cfg: ModelConfig,
                 candidates: Iterable[Any] | None) -> None:
        self.ipos, self.item_ids = model._item_positions(candidates, None)
        self.cand_of_item = np.full(len(model.item_index_), -1, dtype=np.int64)
        self.cand_of_item[self.ipos] = np.arange(len(self.ipos))
        pos = relevant_pairs(validation, model.interactions_config_, model.reference_time_)
        upos = model.user_index_.positions(pos[C.USER_ID])
        ipos = model.item_index_.positions(pos[C.ITEM_ID])
        seen = np.zeros(len(pos), dtype=bool)
        both = (upos >= 0) & (ipos >= 0)
        if both.any():
            seen[both] = np.asarray(model.seen_[upos[both], ipos[both]]).ravel() > 0
        pos = pos[~seen & (ipos >= 0) & np.isin(ipos, self.ipos)]
        users = pd.unique(pos[C.USER_ID].to_numpy(object))
        if len(users) > cfg.max_validation_users:
            rng = np.random.default_rng(cfg.random_state)
            users = np.sort(rng.choice(users, cfg.max_validation_users, replace=False))
            pos = pos[pos[C.USER_ID].isin(users)]
        if len(users) == 0:
            raise ValueError("the validation split has no positive interaction of a new user-item pair: "
                             "use a larger validation_share or turn early stopping off")
        self.model, self.test, self.users, self.k = model, pos, users, cfg.eval_k
        self.upos = model.user_index_.positions(users)
        self.metrics = {"precision": Precision(cfg.eval_k), "ndcg": NDCG(cfg.eval_k)}
        self.monitored = self.metrics[cfg.early_stopping_metric].name

    def evaluate(self, lfm: LightFM) -> dict[str, float]:
        m = self.model
        known = self.upos >= 0
        ub, uv = lfm.get_user_representations(m.user_features_[np.maximum(self.upos, 0)])
        uv = np.where(known[:, None], uv, 0).astype(np.float32)
        ub = np.where(known, ub, 0).astype(np.float32)
        ib, iv = lfm.get_item_representations(m.item_features_[self.ipos])
        scores = uv @ np.asarray(iv, np.float32).T + ib[None, :] + ub[:, None]
        _mask_seen(scores, m.seen_, self.upos, self.cand_of_item)
        k = min(self.k, scores.shape[1])
        top, top_scores = _top_k_rows(scores, k)
        ok = np.isfinite(top_scores)
        reco = _reco_frame(np.repeat(self.users, ok.sum(axis=1)), self.item_ids[top[ok]], top_scores[ok],
                           np.broadcast_to(np.arange(1, k + 1), top.shape)[ok])
        return {metric.name: round(metric.calc(reco, self.test), 6) for metric in self.metrics.values()}


def relevant_pairs(
    interactions: pd.DataFrame, config: InteractionConfig | None = None, reference_time: pd.Timestamp | None = None
) -> pd.DataFrame:
    """Distinct (user_id, item_id) pairs whose summed interaction weight is > 0 (the positives)."""
    w = interaction_weights(interactions, config, reference_time).to_numpy()
    pairs = pd.DataFrame({
        C.USER_ID: interactions[C.USER_ID].astype(str).to_numpy(object),
        C.ITEM_ID: interactions[C.ITEM_ID].astype(str).to_numpy(object),
        C.WEIGHT: w,
    })
    total = pairs.groupby([C.USER_ID, C.ITEM_ID], sort=True, observed=True)[C.WEIGHT].sum()
    return total[total > 0].reset_index()[[C.USER_ID, C.ITEM_ID]]


# --------------------------------------------------------------------------------------------
# File helpers
# --------------------------------------------------------------------------------------------


def _npz_path(path: str | Path) -> Path:
    p = Path(path)
    return p if p.suffix == ".npz" else p.with_name(p.name + ".npz")


def _csr_arrays(prefix: str, mat: sp.csr_matrix) -> dict[str, np.ndarray]:
    return {
        f"{prefix}_data": np.asarray(mat.data, dtype=np.float32),
        f"{prefix}_indices": np.asarray(mat.indices, dtype=np.int64),
        f"{prefix}_indptr": np.asarray(mat.indptr, dtype=np.int64),
        f"{prefix}_shape": np.asarray(mat.shape, dtype=np.int64),
    }


def _csr_from(a: dict[str, np.ndarray], prefix: str) -> sp.csr_matrix:
    shape = tuple(int(x) for x in a[f"{prefix}_shape"])
    return sp.csr_matrix((a[f"{prefix}_data"], a[f"{prefix}_indices"], a[f"{prefix}_indptr"]), shape=shape)


def _arrays_checksum(arrays: dict[str, np.ndarray]) -> str:
    """sha256 over every array's name, dtype, shape and bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        arr = np.ascontiguousarray(arrays[name])
        h.update(name.encode())
        h.update(str(arr.dtype).encode())
        h.update(str(arr.shape).encode())
        h.update(arr.tobytes())
    return h.hexdigest()


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, (pd.Timestamp,)):
        return obj.isoformat()
    raise TypeError(f"cannot store {type(obj).__name__} in the model's JSON sidecar")


def config_with_seed(config: ModelConfig, seed: int) -> ModelConfig:
    """The same model config with another random seed."""
    return replace(config, random_state=int(seed))
