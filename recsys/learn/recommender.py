"""What every recommender shares: the id universe, the seen items and one vectorised top-k.

:class:`BaseRecommender` holds the ids a model can score (training ids first, then ids found only
in the side tables), the items each customer already had in training, and the loop that turns
scores into top-k lists: chunked over users, one matrix of scores per chunk, seen items masked,
ties broken by a fixed hash of the item id. Subclasses (:class:`~recsys.learn.model.HybridRecommender`
and the baselines of :mod:`recsys.learn.baselines`) implement ``fit`` (calling ``_fit_universe``)
and ``_score_block``, so every model answers ``recommend`` and ``score`` exactly the same way.
"""

from __future__ import annotations

from typing import Any, Iterable, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError

from recsys.core import columns as C
from recsys.learn.config import InteractionConfig
from recsys.learn.interactions import InteractionMatrix, build_interactions, latest_timestamp

#: Scores computed per chunk of users: about this many floats at a time (bounds memory).
SCORE_BLOCK_CELLS = 1 << 23

#: What to do with user ids a model does not know: refuse, or score them as no-history customers.
Unknown = Literal["raise", "cold"]


def pad_csr(mat: sp.csr_matrix, shape: tuple[int, int]) -> sp.csr_matrix:
    """``mat`` as the top-left block of a larger all-zero matrix (no copy of the data)."""
    indptr = np.concatenate([mat.indptr, np.full(shape[0] - mat.shape[0], mat.indptr[-1], dtype=mat.indptr.dtype)])
    return sp.csr_matrix((mat.data, mat.indices, indptr), shape=shape)


def as_id_array(values: Iterable[Any], what: str) -> np.ndarray:
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
        self.seen_ = pad_csr(im.positives(), (len(self.user_index_), len(self.item_index_)))
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
            raise_unknown(user_ids, pos)
        return pos

    def _item_positions(self, candidates: Iterable[Any] | None, ctx: Any) -> tuple[np.ndarray, np.ndarray]:
        """Universe positions and ids of the candidate items (all items by default)."""
        if candidates is None:
            pos = self.default_candidates()
            return pos, self.item_index_.ids[pos]
        ids = pd.unique(as_id_array(candidates, "candidates"))
        pos = self.item_index_.positions(ids)
        if (pos < 0).any():
            raise ValueError(f"candidates contain item ids unknown to the model, e.g. {ids[pos < 0][:5].tolist()}")
        return pos, ids

    def default_candidates(self) -> np.ndarray:
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
        users = as_id_array(user_ids, "user_ids")
        items = as_id_array(item_ids, "item_ids")
        if len(users) != len(items):
            raise ValueError(f"user_ids ({len(users)}) and item_ids ({len(items)}) must have the same length")
        ctx = self._context(**kwargs)
        upos = self._user_positions(users, unknown, ctx)
        ipos = self._pair_item_positions(items, ctx)
        return self._score_pairs(ctx, users, upos, ipos)

    def score_block(self, user_ids: Iterable[Any], item_ids: Iterable[Any], unknown: Unknown = "cold") -> np.ndarray:
        """Dense (users, items) float64 scores of every customer x offer, as ``score`` gives them
        pair by pair (customers unknown to the model are scored as having no history by default)."""
        self._check_fitted()
        users = as_id_array(user_ids, "user_ids")
        ctx = self._context()
        upos = self._user_positions(users, unknown, ctx)
        ipos = self._pair_item_positions(as_id_array(item_ids, "item_ids"), ctx)
        return np.asarray(self._score_block(ctx, upos, ipos, users), dtype=np.float64)

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
        users = as_id_array(user_ids, "user_ids")
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
            return reco_frame(np.zeros(0, object), np.zeros(0, object), np.zeros(0), np.zeros(0, np.int64))
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
                mask_seen(scores, self.seen_, up, cand_of_item)
            top, top_scores = top_k_rows(scores, k)
            ok = np.isfinite(top_scores)
            counts = ok.sum(axis=1)
            out_u.append(np.repeat(users[start:start + chunk], counts))
            out_i.append(item_ids[top[ok]])
            out_s.append(top_scores[ok])
            out_r.append(np.broadcast_to(np.arange(1, k + 1), top.shape)[ok])
        return reco_frame(
            np.concatenate(out_u), np.concatenate(out_i), np.concatenate(out_s), np.concatenate(out_r)
        )


def mask_seen(scores: np.ndarray, seen: sp.csr_matrix, user_pos: np.ndarray, cand_of_item: np.ndarray) -> None:
    known = np.flatnonzero((user_pos >= 0) & (user_pos < seen.shape[0]))  # new users saw nothing
    if len(known) == 0 or seen.nnz == 0:
        return
    sub = seen[user_pos[known]].tocoo()
    cols = cand_of_item[sub.col]
    keep = cols >= 0
    scores[known[sub.row[keep]], cols[keep]] = -np.inf


def top_k_rows(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and scores of the k best entries of each row, best first."""
    if k < scores.shape[1]:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        part_scores = np.take_along_axis(scores, part, axis=1)
    else:
        part, part_scores = np.broadcast_to(np.arange(scores.shape[1]), scores.shape), scores
    order = np.argsort(-part_scores, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(part_scores, order, axis=1)


def reco_frame(users: np.ndarray, items: np.ndarray, scores: np.ndarray, ranks: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({
        C.USER_ID: pd.array(users, dtype="str"),
        C.ITEM_ID: pd.array(items, dtype="str"),
        C.SCORE: scores.astype(np.float64),
        C.RANK: ranks.astype(np.int64),
    })


def raise_unknown(user_ids: np.ndarray, pos: np.ndarray) -> None:
    bad = user_ids[pos < 0][:5].tolist()
    raise ValueError(
        f"{int((pos < 0).sum())} user id(s) unknown to the model, e.g. {bad}: pass unknown='cold' "
        "to score them as customers with no history, or their feature rows as new_users"
    )


__all__ = [
    "SCORE_BLOCK_CELLS", "Unknown", "BaseRecommender", "as_id_array", "mask_seen", "pad_csr", "raise_unknown",
    "reco_frame", "top_k_rows",
]
