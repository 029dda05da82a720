"""The LightFM hybrid recommender: customers and offers as sums of their features' embeddings.

:class:`HybridRecommender` learns one embedding (and bias) per *feature*: a customer's
representation is the weighted sum of the embeddings of their features (segment, region, ...,
plus, for customers seen in training, an identity feature); an offer's likewise. The score of a
(customer, offer) pair is ``score(u, i) = p_u · q_i + b_u + b_i``, with
``p_u = sum_f x_uf e_f`` and ``b_u = sum_f x_uf β_f`` over the user feature matrix ``x``.

Scoring is done with matrix products over cached representations, chunked over users, never with
a per-user ``predict`` loop. Customers and offers unseen in training are scored from their
features alone. The pieces live next door: the shared top-k in :mod:`recsys.learn.recommender`,
LightFM itself (the only import of ``lightfm``) in :mod:`recsys.learn.lightfm_backend`, growth to
new ids and features in :mod:`recsys.learn.grow`, and the ``.npz`` + JSON model file (format
version, sha256 checksum, never a pickle) in :mod:`recsys.learn.modelfile`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.core import columns as C
from recsys.core.progress import EpochCallback
from recsys.data.schema import TableSchema
from recsys.learn.config import FeatureConfig, InteractionConfig, ModelConfig, effective_patience
from recsys.learn.encoders import FeatureIndex
from recsys.learn.features import FeatureBuilder
from recsys.learn.grow import grow_model
from recsys.learn.interactions import IdIndex, build_interactions, latest_timestamp, relevant_pairs
from recsys.learn.lightfm_backend import copy_params, new_lightfm, set_params, training_data
from recsys.learn.modelfile import read_model, write_model
from recsys.learn.recommender import (
    BaseRecommender,
    Unknown,
    as_id_array,
    mask_seen,
    raise_unknown,
    reco_frame,
    top_k_rows,
)
from recsys.metrics.ranking import NDCG, Precision


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
        :class:`recsys.learn.config.FeatureConfig` (identity features, sensitive columns, bins, ...).
    interactions
        :class:`recsys.learn.config.InteractionConfig` (event weights, time decay).

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
        warm_users = self.user_index_.head(self.n_warm_users_)
        warm_items = self.item_index_.head(self.n_warm_items_)
        self.user_builder_ = FeatureBuilder(user_schema, C.USER_ID, fcfg, self.reference_time_).fit(users, warm_users)
        self.item_builder_ = FeatureBuilder(item_schema, C.ITEM_ID, fcfg, self.reference_time_).fit(items, warm_items)
        self.user_features_ = self.user_builder_.transform(users, self.user_index_)
        self.item_features_ = self.item_builder_.transform(items, self.item_index_)

        train, weights = training_data(im.matrix, cfg.loss)
        lfm = new_lightfm(cfg)
        uf = self.user_features_[: self.n_warm_users_]
        itf = self.item_features_[: self.n_warm_items_]
        monitor = ValidationMonitor(self, validation, cfg, validation_candidates) if validation is not None else None
        self.epochs_: list[dict[str, Any]] = []
        best_value, best_epoch, best_params, stale = -np.inf, 0, None, 0
        patience = effective_patience(cfg.early_stopping_patience, len(monitor.users)) if monitor is not None else 0
        self.patience_ = patience
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
                    best_params = copy_params(lfm)
                else:
                    stale += 1
            self.epochs_.append(record)
            if on_epoch is not None:
                on_epoch(dict(record))
            if monitor is not None and patience and stale >= patience and epoch >= cfg.min_epochs:
                break
        if monitor is not None and best_params is not None and best_epoch != self.epochs_[-1]["epoch"]:
            set_params(lfm, best_params)
        self.best_epoch_ = best_epoch if monitor is not None else len(self.epochs_)
        self.lightfm_ = lfm
        self.cache_representations()
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
        return grow_model(self, interactions, users, items, new_user_rows=new_user_rows,
                          new_item_rows=new_item_rows, seed=seed)

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
        ones (see :func:`recsys.learn.update.update_model`), so that the model does not forget.
        ``note`` (JSON-friendly) is recorded in ``updates_`` with the epochs' timings.
        """
        self._check_fitted()
        if not isinstance(epochs, (int, np.integer)) or epochs < 1:
            raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
        cfg = self.config_
        warm_u = IdIndex.from_unique(pd.Index(self.user_index_.ids[: self.n_warm_users_], dtype=object))
        warm_i = IdIndex.from_unique(pd.Index(self.item_index_.ids[: self.n_warm_items_], dtype=object))
        for col, index in ((C.USER_ID, warm_u), (C.ITEM_ID, warm_i)):
            pos = index.positions(interactions[col])
            if (pos < 0).any():
                bad = interactions[col].to_numpy(object)[pos < 0][:5].tolist()
                raise ValueError(f"{int((pos < 0).sum())} interaction(s) with ids the model has not grown to, "
                                 f"e.g. {bad}: call grown(...) with these interactions first")
        ref = reference_time if reference_time is not None else latest_timestamp(interactions)
        im = build_interactions(interactions, self.interactions_config_, warm_u, warm_i, ref)
        train, weights = training_data(im.matrix, cfg.loss)
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
        self.cache_representations()
        return self

    def cache_representations(self) -> None:
        """Refresh the cached embeddings and user / item representations from LightFM's parameters."""
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
                             as_id_array(user_ids, "user_ids"), new_users)

    def item_feature_matrix(self, item_ids: Iterable[Any], new_items: pd.DataFrame | None = None) -> sp.csr_matrix:
        """Feature rows of these items (known items: stored rows; others: from ``new_items``)."""
        self._check_fitted()
        return _feature_rows(self.item_builder_, self.item_features_, self.item_index_,
                             as_id_array(item_ids, "item_ids"), new_items)

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
            raise_unknown(user_ids, pos)
        return pos

    def _item_positions(self, candidates: Iterable[Any] | None, ctx: Any) -> tuple[np.ndarray, np.ndarray]:
        if ctx is None or not len(ctx.item_ids):
            return super()._item_positions(candidates, ctx)
        if candidates is None:
            pos = np.r_[self.default_candidates(), len(self.item_index_) + np.arange(len(ctx.item_ids))]
            return pos, np.concatenate([self.item_index_.ids, ctx.item_ids.ids])[pos]
        ids = pd.unique(as_id_array(candidates, "candidates"))
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

    def default_candidates(self) -> np.ndarray:
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
        pos = self.user_index_.positions(as_id_array(user_ids, "user_ids"))
        if (pos < 0).any():
            raise ValueError("user_representations: some user ids are unknown to the model")
        return self.user_bias_rep_[pos], self.user_vectors_[pos]

    def item_representations(self, item_ids: Iterable[Any] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(biases, vectors) of these known items (all items by default)."""
        self._check_fitted()
        if item_ids is None:
            return self.item_bias_rep_, self.item_vectors_
        pos = self.item_index_.positions(as_id_array(item_ids, "item_ids"))
        if (pos < 0).any():
            raise ValueError("item_representations: some item ids are unknown to the model")
        return self.item_bias_rep_[pos], self.item_vectors_[pos]

    # -- persistence (see recsys.learn.modelfile) ------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write ``path`` (.npz, no pickled objects) and ``path`` with suffix .json (metadata).

        Returns the path of the .npz file.
        """
        self._check_fitted()
        return write_model(self, path)

    @classmethod
    def load(cls, path: str | Path) -> "HybridRecommender":
        """Load a model saved by :meth:`save`, refusing pickles and tampered files."""
        return read_model(path, cls)


def _feature_rows(
    builder: FeatureBuilder, features: sp.csr_matrix, index: IdIndex, ids: np.ndarray, table: pd.DataFrame | None
) -> sp.csr_matrix:
    pos = index.positions(ids)
    known = pos >= 0
    parts = [features[pos[known]], builder.transform(table, ids[~known])]
    order = np.r_[np.flatnonzero(known), np.flatnonzero(~known)]
    return sp.csr_matrix(sp.vstack(parts).tocsr()[np.argsort(order, kind="stable")], dtype=np.float32)


class ValidationMonitor:
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

    def evaluate(self, lfm: Any) -> dict[str, float]:
        m = self.model
        known = self.upos >= 0
        ub, uv = lfm.get_user_representations(m.user_features_[np.maximum(self.upos, 0)])
        uv = np.where(known[:, None], uv, 0).astype(np.float32)
        ub = np.where(known, ub, 0).astype(np.float32)
        ib, iv = lfm.get_item_representations(m.item_features_[self.ipos])
        scores = uv @ np.asarray(iv, np.float32).T + ib[None, :] + ub[:, None]
        mask_seen(scores, m.seen_, self.upos, self.cand_of_item)
        k = min(self.k, scores.shape[1])
        top, top_scores = top_k_rows(scores, k)
        ok = np.isfinite(top_scores)
        reco = reco_frame(np.repeat(self.users, ok.sum(axis=1)), self.item_ids[top[ok]], top_scores[ok],
                           np.broadcast_to(np.arange(1, k + 1), top.shape)[ok])
        return {metric.name: round(metric.calc(reco, self.test), 6) for metric in self.metrics.values()}


__all__ = ["HybridRecommender", "ValidationMonitor"]
