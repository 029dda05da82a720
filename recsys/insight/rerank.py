"""Re-ranking that fixes what an audit finds: diversity (MMR), and boosting or capping an offer group.

:class:`RerankSettings` holds one re-ranking with one ``strength`` in [0, 1] (0 = the model's own
order): maximal marginal relevance for diversity, and exposure-aware boosting or capping of an
offer group (optionally for chosen customer groups only). :func:`rerank` applies it to the
model's candidate pools (:func:`pool_size` candidates per customer), vectorised over blocks of
customers; :func:`score_adjuster` applies it to campaign allocation
(:func:`recsys.campaign.audience.build_audience`). A chosen setting is stored with a run by
:func:`recsys.workspace.audit.save_rerank` under ``extra["rerank"]`` (:data:`RERANK_KEY`).

>>> pools = pd.DataFrame({"user_id": ["a"] * 3, "item_id": ["x", "y", "w"], "score": [3.0, 2.0, 1.0]})
>>> items = pd.DataFrame({"item_id": ["x", "y", "w"], "discount_depth": [10.0, 40.0, 10.0]})
>>> boost = RerankSettings("boost", 1.0, items=ItemRule.parse("discount_depth>=30"))
>>> rerank(pools, boost, 2, items=items)["item_id"].tolist()
['y', 'x']
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.core import columns as C
from recsys.core.i18n import gettext as _
from recsys.insight.rules import ItemRule, UserRule
from recsys.metrics.base import ItemFeatures, check_frame
from recsys.metrics.beyond import embedding_features, side_features

if TYPE_CHECKING:
    from recsys.learn.model import HybridRecommender

#: Unique pool items up to which MMR uses a dense item x item similarity matrix.
DENSE_SIMILARITY_MAX_ITEMS = 4096
#: About this many cells (users x pool items) are re-ranked at once.
RERANK_BLOCK_CELLS = 1 << 21
#: The kinds of re-ranking, and what MMR measures similarity by.
RERANK_KINDS: tuple[str, ...] = ("mmr", "boost", "cap")
SIMILARITIES: tuple[str, ...] = ("features", "embeddings")
#: Key of a run's saved re-ranking in ``extra`` (and of the evidence behind the choice).
RERANK_KEY = "rerank"
RERANK_EVIDENCE_KEY = "rerank_evidence"


@dataclass(frozen=True)
class RerankSettings:
    """A re-ranking of the model's lists, with one ``strength`` in [0, 1] (0 = the model's order).

    Kinds
    -----
    ``mmr``
        Maximal marginal relevance (Carbonell & Goldstein 1998), greedy per position:
        ``next = argmax_{i not chosen} (1 - s) z_ui - s max_{j chosen} cos(x_i, x_j)``, where
        ``z_ui`` is the model score min-max scaled to [0, 1] within the customer's candidate pool
        and ``x`` are offer facts (``similarity="features"``) or embeddings (``"embeddings"``).
    ``boost``
        ``z_ui + s * [i in items]`` (only for customers in ``users`` when given): ``s = 1`` puts
        every offer of the group ahead of the others. In campaign allocation the boost is
        ``s * (max score - min score)`` on the model score.
    ``cap``
        At most ``floor((1 - s) k + 1/2)`` offers of the group per list; the surplus moves below
        the other offers. In campaign allocation (one or few coupons per customer, where a
        per-list cap has nothing to bite on) it demotes the group by ``s * (max - min score)``.

    ``pool`` is how many of the model's best offers per customer are candidates.
    """

    kind: str = "mmr"
    strength: float = 0.0
    pool: int = 50
    similarity: str = "features"
    items: ItemRule | None = None
    users: UserRule | None = None

    def __post_init__(self) -> None:
        if isinstance(self.items, Mapping):
            object.__setattr__(self, "items", ItemRule.from_dict(self.items))
        if isinstance(self.users, Mapping):
            object.__setattr__(self, "users", UserRule.from_dict(self.users))

    def validate(self, items: pd.DataFrame | None = None, users: pd.DataFrame | None = None) -> None:
        if self.kind not in RERANK_KINDS:
            raise ValueError(f"re-ranking kind must be one of {', '.join(RERANK_KINDS)}, got {self.kind!r}")
        if not isinstance(self.strength, (int, float)) or not 0.0 <= float(self.strength) <= 1.0:
            raise ValueError(f"re-ranking strength must be between 0 and 1, got {self.strength!r}")
        if not isinstance(self.pool, (int, np.integer)) or isinstance(self.pool, bool) or self.pool < 1:
            raise ValueError(f"re-ranking pool must be a positive whole number, got {self.pool!r}")
        if self.similarity not in SIMILARITIES:
            raise ValueError(f"re-ranking similarity must be one of {', '.join(SIMILARITIES)}, got {self.similarity!r}")
        if self.kind in ("boost", "cap"):
            if self.items is None:
                raise ValueError(f"a {self.kind} re-ranking needs the offers to {self.kind} (an offer rule)")
            self.items.validate(items)
        if self.users is not None:
            if self.kind != "boost":
                raise ValueError("only a boost can be limited to some customers")
            self.users.validate(users)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "strength": float(self.strength), "pool": int(self.pool), "similarity": self.similarity,
            "items": None if self.items is None else self.items.to_dict(),
            "users": None if self.users is None else self.users.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RerankSettings":
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown re-ranking settings {sorted(unknown)}; known: {sorted(known)}")
        return cls(**dict(data))

    def describe(self, items: pd.DataFrame | None = None) -> str:
        """One plain sentence, e.g. ``Boost discount depth 30-60 for customers aged 55+ (strength 0.30)``."""
        s = _("(strength {strength})").format(strength=f"{float(self.strength):.2f}")
        if self.kind == "mmr":
            by = _("offer facts") if self.similarity == "features" else _("the model's embeddings")
            return _("Diversify each list by {by} (maximal marginal relevance) {strength}").format(by=by, strength=s)
        group = self.items.label(items) if self.items is not None else "?"
        if self.kind == "cap":
            return _("Cap offers with {group} in each list {strength}").format(group=group, strength=s)
        if self.users is not None:
            return _("Boost offers with {group} for {who} {strength}").format(group=group, who=self.users.label(),
                                                                                strength=s)
        return _("Boost offers with {group} {strength}").format(group=group, strength=s)


def _as_settings(settings: RerankSettings | Mapping[str, Any]) -> RerankSettings:
    return settings if isinstance(settings, RerankSettings) else RerankSettings.from_dict(settings)


@dataclass
class _Block:
    """A block of customers' candidate pools as padded arrays (sorted best score first)."""

    users: np.ndarray  # (B,) ids
    items: np.ndarray  # (B, N) item codes, -1 = padding
    scores: np.ndarray  # (B, N) model scores, -inf = padding
    rows: np.ndarray  # (B, N) row of the input frame, -1 = padding

    def relevance(self) -> np.ndarray:
        """Scores min-max scaled to [0, 1] within each pool (1 when all are equal); padding 0."""
        valid = self.items >= 0
        low = np.min(np.where(valid, self.scores, np.inf), axis=1, keepdims=True)
        high = np.max(np.where(valid, self.scores, -np.inf), axis=1, keepdims=True)
        spread = high - low
        with np.errstate(invalid="ignore"):
            z = np.divide(self.scores - low, spread, out=np.ones_like(self.scores), where=spread > 0)
        return np.where(valid, z, 0.0)


def _blocks(frame: pd.DataFrame, item_ids: pd.Index, block_cells: int = RERANK_BLOCK_CELLS) -> Iterable[_Block]:
    """Candidate pools of all customers, in blocks of about ``block_cells`` cells."""
    check_frame(frame, "reco", (C.USER_ID, C.ITEM_ID, C.SCORE))
    u_codes, users = pd.factorize(frame[C.USER_ID].astype(str).to_numpy(object))
    i_codes = item_ids.get_indexer(frame[C.ITEM_ID].astype(str).to_numpy(object))
    scores = pd.to_numeric(frame[C.SCORE], errors="coerce").to_numpy(np.float64)
    if not np.isfinite(scores).all():
        raise ValueError("re-ranking needs a finite score on every row")
    tie = frame[C.RANK].to_numpy(np.float64) if C.RANK in frame.columns else np.arange(len(frame), dtype=np.float64)
    order = np.lexsort((tie, -scores, u_codes))
    u_sorted = u_codes[order]
    counts = np.bincount(u_sorted, minlength=len(users))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    width = int(counts.max()) if len(counts) else 0
    pos = np.arange(len(order)) - starts[u_sorted]
    step = max(1, block_cells // max(width, 1))
    for b0 in range(0, len(users), step):  # blocks of customers, each one set of array operations
        b1 = min(b0 + step, len(users))
        lo, hi = starts[b0], (starts[b1] if b1 < len(users) else len(order))
        r, p = u_sorted[lo:hi] - b0, pos[lo:hi]
        shape = (b1 - b0, width)
        items = np.full(shape, -1, dtype=np.int64)
        sc = np.full(shape, -np.inf)
        rows = np.full(shape, -1, dtype=np.int64)
        items[r, p] = i_codes[order[lo:hi]]
        sc[r, p] = scores[order[lo:hi]]
        rows[r, p] = order[lo:hi]
        yield _Block(np.asarray(users[b0:b1], dtype=object), items, sc, rows)


class _Similarity:
    """Cosine similarity between offers, looked up for (picked offer, candidate offers) pairs."""

    def __init__(self, vectors: ItemFeatures | None, item_ids: pd.Index) -> None:
        n = len(item_ids)
        if vectors is None:
            self.dense = np.zeros((n, n), dtype=np.float32)
            return
        x = sp.csr_matrix(vectors.matrix, dtype=np.float64)
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
        x = sp.csr_matrix(sp.diags(np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)) @ x)
        pos = pd.Index(pd.Series(vectors.item_ids, dtype=object).astype(str), dtype=object).get_indexer(item_ids)
        rows = sp.csr_matrix(sp.diags((pos >= 0).astype(np.float64)) @ x[np.maximum(pos, 0)]) if len(pos) else x[:0]
        self.x = rows
        self.dense = (rows @ rows.T).toarray().astype(np.float32) if n <= DENSE_SIMILARITY_MAX_ITEMS else None

    def __call__(self, picked: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """``sim[b, n] = cos(picked[b], candidates[b, n])`` (0 for padding)."""
        valid = candidates >= 0
        safe = np.where(valid, candidates, 0)
        if self.dense is not None:
            sims = self.dense[picked[:, None], safe]
        else:
            left = self.x[np.repeat(picked, candidates.shape[1])]
            sims = np.asarray(left.multiply(self.x[safe.ravel()]).sum(axis=1)).reshape(candidates.shape)
        return np.where(valid, sims, 0.0)


def _mmr_order(block: _Block, k: int, strength: float, similarity: _Similarity) -> np.ndarray:
    """Pool columns chosen at positions 1..k (-1 when the pool runs out), greedy MMR.

    The loop runs over list positions; every step is vectorised over the block's customers.
    """
    z = block.relevance()
    B, N = z.shape
    k = min(k, N)
    chosen = np.full((B, k), -1, dtype=np.int64)
    available = block.items >= 0
    max_sim = np.zeros((B, N))
    rows = np.arange(B)
    for t in range(k):
        gain = (1.0 - strength) * z - (strength * max_sim if t else 0.0)
        pick = np.argmax(np.where(available, gain, -np.inf), axis=1)  # ties: best model score first
        ok = available[rows, pick]
        chosen[ok, t] = pick[ok]
        available[rows, pick] = False
        sims = similarity(block.items[rows, pick], block.items)
        max_sim = np.where(ok[:, None], np.maximum(max_sim if t else -np.inf, sims), max_sim)
    return chosen


def _sort_order(key: np.ndarray, valid: np.ndarray, k: int) -> np.ndarray:
    """Pool columns of the k largest keys per row (stable: earlier column first on ties)."""
    order = np.argsort(np.where(valid, -key, np.inf), axis=1, kind="stable")[:, :k]
    return np.where(np.take_along_axis(valid, order, axis=1), order, -1)


def _in_group(codes: np.ndarray, members: np.ndarray) -> np.ndarray:
    return np.where(codes >= 0, members[np.maximum(codes, 0)], False)


def _boost_order(block: _Block, k: int, strength: float, boosted_items: np.ndarray, boosted_users: np.ndarray | None) -> np.ndarray:
    z = block.relevance()
    bonus = _in_group(block.items, boosted_items)
    if boosted_users is not None:
        bonus &= boosted_users[:, None]
    return _sort_order(z + strength * bonus, block.items >= 0, min(k, z.shape[1]))


def cap_count(k: int, strength: float) -> int:
    """Offers of a capped group allowed in a list of ``k``: ``floor((1 - s) k + 1/2)``."""
    return int(math.floor((1.0 - float(strength)) * k + 0.5))


def _cap_order(block: _Block, k: int, strength: float, capped_items: np.ndarray) -> np.ndarray:
    valid = block.items >= 0
    group = _in_group(block.items, capped_items) & valid
    surplus = group & (np.cumsum(group, axis=1) > cap_count(k, strength))
    width = block.items.shape[1]
    position = np.broadcast_to(np.arange(width), block.items.shape)
    return _sort_order(-(surplus * width + position).astype(np.float64), valid, min(k, width))


@dataclass
class _RerankContext:
    item_ids: pd.Index
    similarity: _Similarity | None = None
    item_members: np.ndarray | None = None  # per item code: in the rule's group
    user_members: pd.Index | None = None  # customers a boost applies to


def _context(
    settings: RerankSettings, frame: pd.DataFrame, *, items: pd.DataFrame | None, users: pd.DataFrame | None,
    vectors: ItemFeatures | None = None, model: HybridRecommender | None = None,
) -> _RerankContext:
    item_ids = pd.Index(pd.unique(frame[C.ITEM_ID].astype(str).to_numpy(object)), dtype=object)
    ctx = _RerankContext(item_ids)
    if settings.kind == "mmr":
        if vectors is None and model is not None:
            vectors = side_features(model) if settings.similarity == "features" else embedding_features(model)
            if vectors is None:  # no offer facts at all: embeddings are the only description
                vectors = embedding_features(model)
        if vectors is None:
            raise ValueError("diversity re-ranking needs offer vectors: pass the model (or vectors=ItemFeatures)")
        ctx.similarity = _Similarity(vectors, item_ids)
    else:
        if items is None:
            raise ValueError(f"a {settings.kind} re-ranking needs the offers table (items=)")
        ctx.item_members = item_ids.isin(pd.Index(settings.items.item_ids(items), dtype=object))
        if settings.users is not None:
            if users is None:
                raise ValueError("a boost limited to some customers needs the customers table (users=)")
            ctx.user_members = pd.Index(settings.users.user_ids(users), dtype=object)
    return ctx


def _order(block: _Block, k: int, settings: RerankSettings, ctx: _RerankContext) -> np.ndarray:
    s = float(settings.strength)
    if settings.kind == "mmr":
        assert ctx.similarity is not None
        return _mmr_order(block, k, s, ctx.similarity)
    assert ctx.item_members is not None
    if settings.kind == "cap":
        return _cap_order(block, k, s, ctx.item_members)
    boosted_users = None if ctx.user_members is None else ctx.user_members.get_indexer(block.users) >= 0
    return _boost_order(block, k, s, ctx.item_members, boosted_users)


def rerank(
    reco: pd.DataFrame,
    settings: RerankSettings | Mapping[str, Any],
    k: int,
    *,
    items: pd.DataFrame | None = None,
    users: pd.DataFrame | None = None,
    model: HybridRecommender | None = None,
    vectors: ItemFeatures | None = None,
) -> pd.DataFrame:
    """Re-rank each customer's candidate pool and keep the top ``k``.

    Parameters
    ----------
    reco
        Candidate pools: ``user_id``, ``item_id``, ``score`` (and ``rank``), e.g.
        ``model.recommend(users, k=settings.pool)``. Pools longer than ``k`` leave room to move.
    settings
        :class:`RerankSettings` (or its dict).
    k
        List length.
    items, users
        The offers table (boost / cap rules) and the customers table (a boost for some customers).
    model, vectors
        Offer vectors for MMR: the model's offer facts or embeddings, or explicit ``vectors``.

    Returns
    -------
    pd.DataFrame
        ``user_id``, ``item_id``, ``score`` (the model's), ``rank`` (the new order, 1 = first), in
        the customers' order of appearance.
    """
    settings = _as_settings(settings)
    settings.validate(items, users)
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if len(reco) == 0:
        return pd.DataFrame({C.USER_ID: pd.array([], dtype="str"), C.ITEM_ID: pd.array([], dtype="str"),
                             C.SCORE: np.zeros(0), C.RANK: np.zeros(0, np.int64)})
    ctx = _context(settings, reco, items=items, users=users, vectors=vectors, model=model)
    parts = []
    for block in _blocks(reco, ctx.item_ids):
        order = _order(block, k, settings, ctx)
        ok = order >= 0
        cols = np.where(ok, order, 0)
        b_rows = np.broadcast_to(np.arange(len(block.users))[:, None], order.shape)
        parts.append((
            np.repeat(block.users, ok.sum(axis=1)),
            ctx.item_ids.to_numpy(object)[block.items[b_rows, cols][ok]],
            block.scores[b_rows, cols][ok],
            np.broadcast_to(np.arange(1, order.shape[1] + 1), order.shape)[ok],
        ))
    u, i, s, r = (np.concatenate([p[j] for p in parts]) for j in range(4))
    return pd.DataFrame({C.USER_ID: pd.array(u, dtype="str"), C.ITEM_ID: pd.array(i, dtype="str"),
                         C.SCORE: s.astype(np.float64), C.RANK: r.astype(np.int64)})


ScoreAdjuster = Callable[[pd.DataFrame], np.ndarray]


def score_adjuster(
    settings: RerankSettings | Mapping[str, Any],
    *,
    model: HybridRecommender | None = None,
    users: pd.DataFrame | None = None,
    items: pd.DataFrame | None = None,
    vectors: ItemFeatures | None = None,
) -> ScoreAdjuster:
    """A ``score_adjuster`` for :func:`recsys.campaign.audience.build_audience` that applies ``settings``.

    The returned function maps the eligible pairs (``user_id``, ``item_id``, ``score``) to one
    adjusted score per row (a float array aligned with its input), with ``D = max score - min
    score`` over the pairs (1 when all are equal) and ``s`` the strength:

    * ``boost``: ``score + s * D * [item in group] * [customer in users]`` (moves the group's
      pairs ahead *across* customers too, so per-offer budgets reach the boosted customers);
    * ``cap``: ``score - s * D * [item in group]``;
    * ``mmr``: each customer's own scores, reassigned in their MMR order over all their eligible
      offers (diversity within a customer; comparisons across customers are unchanged).
    """
    settings = _as_settings(settings)
    settings.validate(items, users)

    def adjust(pairs: pd.DataFrame) -> np.ndarray:
        check_frame(pairs, "pairs", (C.USER_ID, C.ITEM_ID, C.SCORE))
        score = pd.to_numeric(pairs[C.SCORE], errors="coerce").to_numpy(np.float64)
        if len(score) == 0:
            return score
        spread = float(score.max() - score.min()) or 1.0
        s = float(settings.strength)
        frame = pairs[[C.USER_ID, C.ITEM_ID]].assign(**{C.SCORE: score}).reset_index(drop=True)
        ctx = _context(settings, frame, items=items, users=users, vectors=vectors, model=model)
        codes = ctx.item_ids.get_indexer(frame[C.ITEM_ID].astype(str).to_numpy(object))
        if settings.kind in ("boost", "cap"):
            in_group = ctx.item_members[codes]
            if settings.kind == "cap":
                return score - s * spread * in_group
            if ctx.user_members is not None:
                in_group &= ctx.user_members.get_indexer(frame[C.USER_ID].astype(str).to_numpy(object)) >= 0
            return score + s * spread * in_group
        out = score.copy()
        for block in _blocks(frame, ctx.item_ids):
            order = _order(block, block.items.shape[1], settings, ctx)
            ok = order >= 0
            b_rows = np.broadcast_to(np.arange(len(block.users))[:, None], order.shape)
            target_rows = block.rows[b_rows, np.where(ok, order, 0)][ok]
            # the customer's scores, best first, handed out in the new order
            out[target_rows] = block.scores[ok]
        return out

    adjust.__name__ = f"fairness_{settings.kind}_{float(settings.strength):.2f}"
    return adjust


def pool_size(settings: RerankSettings | None, k: int) -> int:
    """Candidates per customer to ask the model for: ``max(k, settings.pool)`` (``k`` without one)."""
    return k if settings is None else max(k, int(settings.pool))


__all__ = [
    "RERANK_KINDS", "SIMILARITIES", "RERANK_KEY", "RERANK_EVIDENCE_KEY", "RerankSettings", "rerank",
    "cap_count", "pool_size", "ScoreAdjuster", "score_adjuster",
]
