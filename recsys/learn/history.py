"""Item-to-item models of customers' histories: EASE and item-kNN.

Both score a (customer, offer) pair as a sum over the offers in the customer's training history:

``score(u, i) = sum_j x_uj W_ji``, with ``x_u`` the customer's binary history row.

* :class:`EASERecommender` (Steck, 2019, "Embarrassingly Shallow Autoencoders"): ``W`` is the
  closed-form solution of ``min ||X - X W||² + λ ||W||²`` subject to ``diag(W) = 0``:
  ``P = (XᵀX + λI)⁻¹``, ``W = -P / diag(P)`` (column-wise), ``diag(W) = 0``. One knob, ``λ``.
* :class:`ItemKNNRecommender`: ``W_ji`` is the cosine similarity of offers ``j`` and ``i`` (their
  columns of ``X``) when ``j`` is among the ``k`` most similar offers of ``i``, else 0.

Because the score is a sum over history items, :meth:`HistoryRecommender.attributions` is exact:
the contributions of the history items add up to the score (minus the stated tie-break).
Customers without a training history get recent popularity (:class:`~recsys.learn.baselines.FallbackRecommender`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.linalg as la
import scipy.sparse as sp

from recsys.core import columns as C
from recsys.learn.baselines import FallbackRecommender
from recsys.learn.config import InteractionConfig
from recsys.learn.recommender import as_id_array

#: Target offers per chunk when computing item-item similarities (bounds memory).
KNN_CHUNK = 1024


class HistoryRecommender(FallbackRecommender):
    """Scores as sums over the customer's history items of an item x item weight matrix ``W``."""

    def _weights(self) -> Any:
        return self.weights_

    def _history_scores(self, rows: np.ndarray, items: np.ndarray) -> np.ndarray:
        hist = self.history_[rows]
        w = self._weights()
        part = hist @ (w[:, items] if not sp.issparse(w) else w[:, items])
        return np.asarray(part.toarray() if sp.issparse(part) else part, dtype=np.float32)

    def attributions(self, user_id: Any, item_ids: Any) -> pd.DataFrame:
        """Exact contribution of each of the customer's history offers to each offer's score.

        Returns a frame ``item_id`` (the scored offer), ``history_item``, ``contribution``; for a
        customer with a history the contributions of one offer sum to its score (minus the tie-break).
        A customer without a history gets an empty frame (their list is recent popularity).
        """
        self._check_fitted()
        items = as_id_array(item_ids, "item_ids")
        upos = self.user_index_.positions([str(user_id)])[0]
        cols = [C.ITEM_ID, "history_item", "contribution"]
        if upos < 0 or upos >= self.n_warm_users_:
            return pd.DataFrame(columns=cols)
        hist = self.history_[upos].indices
        ipos = self.item_index_.positions(items)
        warm = (ipos >= 0) & (ipos < self.n_warm_items_)
        w = self._weights()
        block = np.zeros((len(hist), len(items)), dtype=np.float64)
        if warm.any() and len(hist):
            sub = w[hist][:, ipos[warm]]
            block[:, warm] = sub.toarray() if sp.issparse(sub) else sub
        frame = pd.DataFrame({
            C.ITEM_ID: np.tile(items, len(hist)),
            "history_item": np.repeat(self.item_index_.ids[hist], len(items)),
            "contribution": block.ravel(),
        })
        return frame[frame["contribution"] != 0].reset_index(drop=True)


class EASERecommender(HistoryRecommender):
    """EASE: the closed-form item-item linear model with a zero diagonal (module docstring).

    Parameters
    ----------
    interactions
        Event weights (a positive pair enters ``X`` as 1).
    l2
        ``λ``, the only knob: larger shrinks the weights towards popularity-like co-occurrence.
    fallback_days
        Window of the recent popularity given to customers without a history.
    """

    name = "ease"

    def __init__(self, interactions: InteractionConfig | None = None, l2: float = 250.0,
                 fallback_days: float | None = 30.0) -> None:
        super().__init__(interactions, fallback_days)
        self.l2 = l2

    def _fit_history(self, history: sp.csr_matrix) -> None:
        if not (float(self.l2) > 0):
            raise ValueError(f"EASERecommender.l2 must be > 0, got {self.l2!r}")
        x = history[:, : self.n_warm_items_]
        gram = np.asarray((x.T @ x).toarray(), dtype=np.float64)
        gram[np.diag_indices_from(gram)] += float(self.l2)
        p = la.inv(gram, overwrite_a=True, check_finite=False)
        w = -p / np.diag(p)[None, :]
        np.fill_diagonal(w, 0.0)
        self.weights_ = w.astype(np.float32)

    def params(self) -> dict[str, Any]:
        return {"l2": float(self.l2)}


class ItemKNNRecommender(HistoryRecommender):
    """Item-kNN: cosine similarity of offers over customers, the ``k`` nearest per offer.

    Parameters
    ----------
    interactions
        Event weights (a positive pair enters ``X`` as 1).
    k
        Neighbours kept per offer (its ``k`` most similar other offers).
    fallback_days
        Window of the recent popularity given to customers without a history.
    """

    name = "item_knn"

    def __init__(self, interactions: InteractionConfig | None = None, k: int = 50,
                 fallback_days: float | None = 30.0) -> None:
        super().__init__(interactions, fallback_days)
        self.k = k

    def _fit_history(self, history: sp.csr_matrix) -> None:
        if not isinstance(self.k, (int, np.integer)) or self.k < 1:
            raise ValueError(f"ItemKNNRecommender.k must be a positive integer, got {self.k!r}")
        x = sp.csc_matrix(history[:, : self.n_warm_items_], dtype=np.float32)
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel())
        xn = sp.csc_matrix(x @ sp.diags(np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)))
        xt = sp.csr_matrix(xn.T)
        n = xn.shape[1]
        k = min(int(self.k), max(n - 1, 1))
        rows, cols, vals = [], [], []
        for start in range(0, n, KNN_CHUNK):  # chunks of target offers, one sparse product each
            stop = min(start + KNN_CHUNK, n)
            sim = np.asarray((xt @ xn[:, start:stop]).toarray(), dtype=np.float32)  # (n, chunk)
            sim[np.arange(start, stop), np.arange(stop - start)] = 0.0
            if k < n:
                top = np.argpartition(-sim, k - 1, axis=0)[:k]
            else:
                top = np.broadcast_to(np.arange(n)[:, None], sim.shape)
            v = np.take_along_axis(sim, top, axis=0)
            keep = v > 0
            rows.append(top[keep])
            cols.append(np.broadcast_to(np.arange(start, stop)[None, :], top.shape)[keep])
            vals.append(v[keep])
        self.weights_ = sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n), dtype=np.float32
        )

    def params(self) -> dict[str, Any]:
        return {"k": int(self.k)}


__all__ = ["EASERecommender", "HistoryRecommender", "ItemKNNRecommender", "KNN_CHUNK"]
