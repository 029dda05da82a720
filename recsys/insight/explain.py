"""Exact Shapley explanations of the hybrid model's scores, evidence, global drivers and what-ifs.

Why the model wants to send *this* offer to *this* customer has an exact answer, because LightFM's
score is bilinear in the feature weights. With ``x`` the customer's row of the user feature matrix,
``y`` the offer's row of the item feature matrix, per-feature embeddings ``E_u``, ``E_i`` and
biases ``b_u``, ``b_i``::

    p = x E_u,   q = y E_i,   score(x, y) = p · q + x · b_u + y · b_i

Against a baseline customer ``x'`` and offer ``y'`` (default: the average feature rows) with
``p' = x' E_u``, ``q' = y' E_i``, the players of the game are the features, each moved from its
baseline weight to its actual weight. The game ``v(S) = score(x_S, y_S) - score(x', y')`` has only
first-order terms and customer-feature x offer-feature pair terms, so its Shapley values are, in
closed form (no sampling)::

    φ_f = (x_f - x'_f) · [b_u,f + e_f · (q' + ½ (q - q'))]      customer feature f
    φ_g = (y_g - y'_g) · [b_i,g + e_g · (p' + ½ (p - p'))]      offer feature g

and ``score(x', y') + Σ φ = score(x, y)`` exactly. Features with the same weight in ``x`` and
``x'`` get 0; features the customer lacks but the average customer has (the other segments) do
count: "not being a loyalist" is part of being a deal seeker.

For display the features are grouped by their source column ("segment", "discount_depth", the
identity feature "this customer's own history", ...). A group's value is the sum of its features'
Shapley values, which here is also the exact Shapley value of the game whose players are the
columns (features of one column never interact with each other: interactions only pair a customer
feature with an offer feature).

The average baseline has a second reading: the score is multilinear, so
``score(x', y') = mean over all customers u and offers i of score(u, i)``, and the attributions
equal the interventional SHAP values against the background "every customer x every offer".

Each feature's value splits into a main effect and half of its interactions with the other side:
``φ_f = (x_f - x'_f)(b_u,f + e_f · q')  +  (x_f - x'_f) e_f · ½ (q - q')``. Three *views* keep
different parts, each the exact Shapley value of its own game with the same players (see
:data:`VIEWS`): ``"score"`` (the above: base = the baseline pair), ``"offer"`` (the game
``score(x, y) - score(x, y')``: base = this customer with the baseline offer; customer columns keep
only their interactions with the offer) and ``"customer"`` (symmetric). The offer view is what
ranks one customer's list (:data:`LIST_VIEW`): the customer-only terms are the same for all of
their offers, and LightFM's ranking losses (WARP, BPR) never constrain them. On the sample shop the
user biases reach 9 in size, so in the score view segment and signup date "explain" every score
by several units that change no ranking, while in the offer view the planted drivers lead
(segment x discount_depth is the largest interaction of 92% of deal-seeker x deep-discount pairs
without identity features, 58% with them; see tests/test_explain.py).

Everything runs as matrix products over whole blocks of customers (chunked), never a Python loop
over customers: :meth:`ScoreExplainer.explain` for any list of pairs, :func:`offer_drivers` for one
offer over every customer, :func:`recommend_explained` for a customer's top-k, :func:`what_if` for a
changed customer fact, and :func:`similar_history` / :func:`similar_responders` for the evidence
that identity features cannot name.

>>> explainer = ScoreExplainer(model)  # doctest: +SKIP
>>> ex = explainer.explain(["C000004"], ["OFF0042"])  # doctest: +SKIP
>>> float(ex.base_values[0] + ex.values[0].sum())  # equals model.score(...) # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.core import columns as C
from recsys.learn.features import IDENTITY_KIND, FeatureIndex
from recsys.data.schema import ColumnKind, TableSchema

if TYPE_CHECKING:  # pragma: no cover
    import shap

    from recsys.data.dataset import Dataset
    from recsys.learn.model import HybridRecommender

# Columns of the frames this module returns (not data-contract columns, so they live here).
CONTRIBUTOR = "contributor"  # what a marketer reads: "segment = deal_seeker"
COLUMN = "column"  # the source column (the shap feature name)
VALUE = "value"  # the entity's value of that column: "deal_seeker"
SIDE = "side"  # CUSTOMER or OFFER
ATTRIBUTION = "attribution"
REASON = "reason"
SIMILARITY = "similarity"
CUSTOMERS = "customers"
MEAN = "mean"
SHARE_UP = "share_up"
OFFER = "offer"
RANK_BEFORE, RANK_AFTER = "rank_before", "rank_after"
SCORE_BEFORE, SCORE_AFTER = "score_before", "score_after"
CHANGE = "change"

CUSTOMER_SIDE = "customer"
OFFER_SIDE = "offer"
OTHER = "other"
NO_USER_HISTORY = "no own history yet (new customer)"
NO_ITEM_HISTORY = "no track record yet (new offer)"
UNKNOWN = "unknown"

#: Which interactions to leave out of a customer's list.
EXCLUDE_REDEEMED = "redeemed"  # offers the customer already redeemed or bought with
EXCLUDE_RESPONDED = "responded"  # offers with any positive response in training (the model's "seen")
EXCLUDE_NONE = "none"
EXCLUDE_CHOICES: tuple[str, ...] = (EXCLUDE_REDEEMED, EXCLUDE_RESPONDED, EXCLUDE_NONE)
REDEEM_EVENTS: tuple[str, ...] = (C.REDEEM, C.PURCHASE)

#: Columns that name an offer for people, tried in order (otherwise the id is shown).
NAME_COLUMNS: tuple[str, ...] = ("title", "name", "offer_name", "campaign_name", "product_name", "description")
_START_WORDS = ("start", "begin", "from", "launch", "valid_from", "open")
_END_WORDS = ("end", "expir", "until", "valid_to", "stop", "close")
_MULTI_KINDS = (ColumnKind.TAGS.value, ColumnKind.TEXT.value)
#: Rows of customers per block of the chunked computations (bounds memory to ~rows x columns x d).
CHUNK_ROWS = 16_384
#: At most this many pairs are explained feature by feature at once (a dense pairs x features block).
FEATURE_LEVEL_ROWS = 2_048

Level = Literal["column", "feature"]
View = Literal["score", "offer", "customer"]
SCORE_VIEW: View = "score"
OFFER_VIEW: View = "offer"
CUSTOMER_VIEW: View = "customer"
#: What each view compares the score with (its base), in words, for the average baseline.
VIEWS: dict[str, str] = {
    SCORE_VIEW: "the average customer with the average offer",
    OFFER_VIEW: "this customer with the average offer",
    CUSTOMER_VIEW: "the average customer with this offer",
}
#: The view of a customer's list on the Recommendations page and in ``promolens recommend``:
#: what makes an offer rank where it does for this customer. (In the "score" view the customer-only
#: terms, identical for all of one customer's offers, dominate: LightFM's ranking losses leave the
#: user biases unconstrained, and they reach several units on the sample shop.)
LIST_VIEW: View = OFFER_VIEW


# --------------------------------------------------------------------------------------------
# Baseline
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Baseline:
    """The reference customer ``x'`` and offer ``y'`` the attributions are measured against.

    Parameters
    ----------
    user_weights, item_weights
        Dense feature rows (length = number of user / item features of the model).
    customer, offer
        How the reference customer and offer are named on screen ("the average customer").
    """

    user_weights: np.ndarray
    item_weights: np.ndarray
    customer: str = "the average customer"
    offer: str = "the average offer"

    @property
    def description(self) -> str:
        return f"{self.customer} and {self.offer}"

    def compared_with(self, view: str) -> str:
        """What the scores of a view are compared with, in words (the view's base)."""
        if view not in VIEWS:
            raise ValueError(f"view must be one of {tuple(VIEWS)}, got {view!r}")
        customer = "this customer" if view == OFFER_VIEW else self.customer
        offer = "this offer" if view == CUSTOMER_VIEW else self.offer
        return f"{customer} with {offer}"

    @classmethod
    def average(
        cls, model: "HybridRecommender", user_ids: Iterable[Any] | None = None, item_ids: Iterable[Any] | None = None
    ) -> "Baseline":
        """Mean feature rows over the model's customers and offers (or over the given ids).

        ``score(x', y')`` of this baseline is the mean score over all customer x offer pairs.
        """
        users = model.user_features_ if user_ids is None else model.user_feature_matrix(user_ids)
        items = model.item_features_ if item_ids is None else model.item_feature_matrix(item_ids)
        if users.shape[0] == 0 or items.shape[0] == 0:
            raise ValueError("the baseline needs at least one customer and one offer")
        return cls(_col_mean(users), _col_mean(items))

    @classmethod
    def reference(cls, model: "HybridRecommender", user_id: Any, item_id: Any) -> "Baseline":
        """A real customer and offer as the reference ("compared with customer U and offer I")."""
        x = model.user_feature_matrix([user_id]).toarray().ravel().astype(np.float64)
        y = model.item_feature_matrix([item_id]).toarray().ravel().astype(np.float64)
        return cls(x, y, f"customer {user_id}", f"offer {item_id}")


def _col_mean(mat: sp.csr_matrix) -> np.ndarray:
    return np.asarray(mat.sum(axis=0), dtype=np.float64).ravel() / mat.shape[0]


def _row_keys(rows: sp.csr_matrix) -> np.ndarray:
    """A 64-bit key per row, equal for equal rows (order-free sum of hashes of (column, weight))."""
    entries = pd.DataFrame({"c": rows.indices.astype(np.int64), "w": rows.data.astype(np.float64)})
    h = pd.util.hash_pandas_object(entries, index=False).to_numpy(np.uint64)
    total = np.concatenate([np.zeros(1, np.uint64), np.cumsum(h, dtype=np.uint64)])
    return total[rows.indptr[1:]] - total[rows.indptr[:-1]]


# --------------------------------------------------------------------------------------------
# Feature groups (source columns)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Groups:
    """The source columns of one side's features: group code of every feature, names, kinds."""

    side: str
    sources: np.ndarray  # (G,) source column
    names: np.ndarray  # (G,) display name (suffixed with the side when both sides share a column)
    multi: np.ndarray  # (G,) multi-valued column (tags, text): several features per row
    identity: np.ndarray  # (G,) the identity group
    code: np.ndarray  # (F,) group of each feature
    feature_names: np.ndarray  # (F,)
    feature_labels: np.ndarray  # (F,)

    @classmethod
    def build(cls, index: FeatureIndex, side: str, clash: set[str]) -> "_Groups":
        code, sources = pd.factorize(pd.Series(index.sources, dtype=object), sort=False)
        sources = np.asarray(sources, dtype=object)
        first = np.unique(code, return_index=True)[1]
        kinds = np.asarray(index.kinds, dtype=object)[first] if len(first) else np.zeros(0, object)
        names = np.array([f"{s} ({side})" if s in clash else str(s) for s in sources], dtype=object)
        return cls(
            side, sources, names, np.isin(kinds, _MULTI_KINDS), kinds == IDENTITY_KIND, code.astype(np.int64),
            np.asarray(index.names, dtype=object), np.asarray(index.labels, dtype=object).astype(str).astype(object),
        )

    def __len__(self) -> int:
        return len(self.sources)

    def expand(self, rows: sp.csr_matrix) -> sp.csr_matrix:
        """``S`` with ``S[r * G + g, f] = rows[r, f]`` for the features f of group g.

        ``S @ E`` then holds, for every row and group, the group's share of the row's embedding
        sum: ``(S @ E)[r * G + g] = sum over f in g of x_rf e_f`` (one sparse product).
        """
        coo = rows.tocoo()
        g = len(self)
        return sp.csr_matrix(
            (coo.data.astype(np.float64), (coo.row.astype(np.int64) * g + self.code[coo.col], coo.col)),
            shape=(rows.shape[0] * g, rows.shape[1]),
        )

    def dominant(self, rows: sp.csr_matrix) -> np.ndarray:
        """(n, G) feature with the largest weight of each row in each group; -1 where none."""
        coo = rows.tocoo()
        g = len(self)
        out = np.full(rows.shape[0] * g, -1, dtype=np.int64)
        if coo.nnz:
            key = coo.row.astype(np.int64) * g + self.code[coo.col]
            order = np.lexsort((coo.col, -coo.data, key))
            keys, first = np.unique(key[order], return_index=True)
            out[keys] = coo.col[order][first]
        return out.reshape(rows.shape[0], g)

    def joined_labels(self, rows: sp.csr_matrix) -> np.ndarray:
        """(n, G) labels of every feature of each row in each group, heaviest first, joined by ", ".

        Strings are built once per distinct row (a list of pairs repeats its offers).
        """
        rows = sp.csr_matrix(rows)
        first, inverse = np.unique(_row_keys(rows), return_index=True, return_inverse=True)[1:]
        coo = rows[first].tocoo()
        g = len(self)
        out = np.full(len(first) * g, "", dtype=object)
        if coo.nnz:
            key = coo.row.astype(np.int64) * g + self.code[coo.col]
            labels = self.feature_labels[coo.col]
            order = np.lexsort((labels.astype(str), -coo.data, key))
            key, labels = key[order], labels[order]
            starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
            pieces = np.split(labels, starts[1:])
            out[key[starts]] = [", ".join(p) for p in pieces]  # one join per distinct (row, column)
        return out.reshape(len(first), g)[inverse.ravel()]

    def labels(self, rows: sp.csr_matrix, full: bool) -> tuple[np.ndarray, np.ndarray]:
        """(value labels, contributor labels) of every row in every group, both (n, G).

        With ``full`` False a multi-valued column shows its heaviest value only.
        """
        dom = self.dominant(rows)
        joined = self.joined_labels(rows) if full and self.multi.any() else None
        return self.describe(np.broadcast_to(np.arange(len(self)), dom.shape), dom, joined)

    def describe(self, group: np.ndarray, feature: np.ndarray, joined: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(value, contributor) labels of a feature (-1: none) of each group, any shape.

        The value is the entity's value of the column ("deal_seeker", "27–40", "flash, sale"
        from ``joined``); the contributor is what a marketer reads ("segment = deal_seeker",
        "this customer's own history", "no own history yet (new customer)").
        """
        has = feature >= 0
        safe = np.maximum(feature, 0)
        src = self.sources.astype(str).astype(object)[group]
        multi, ident = self.multi[group], self.identity[group]
        value = np.where(has, self.feature_labels[safe], UNKNOWN).astype(object)
        if joined is not None:
            value = np.where(multi & has, joined, value)
        contributor = np.where(has, np.where(multi, src + ": " + value.astype(str), self.feature_names[safe]),
                               src + ": " + UNKNOWN)
        missing = NO_USER_HISTORY if self.side == CUSTOMER_SIDE else NO_ITEM_HISTORY
        value = np.where(ident, np.where(has, "in training", "new"), value)
        contributor = np.where(ident, np.where(has, src, missing), contributor)
        return value.astype(object), contributor.astype(object)


# --------------------------------------------------------------------------------------------
# The explainer
# --------------------------------------------------------------------------------------------


class ScoreExplainer:
    """Exact Shapley values of the hybrid model's scores (closed form, vectorised).

    Parameters
    ----------
    model
        A fitted :class:`recsys.learn.model.HybridRecommender`.
    baseline
        The reference customer and offer; default :meth:`Baseline.average`.

    Attributes
    ----------
    base_value : float
        ``score(x', y') = p' · q' + x' · b_u + y' · b_i``: where every explanation starts.
    column_names : list of str
        The shap feature names at column level: customer columns first, then offer columns.
    sides : dict
        Side (``"customer"`` / ``"offer"``) of every column name.

    Notes
    -----
    Scores are recomputed in float64 from the model's parameters; they agree with the model's own
    float32 scores to about 1e-5 and exactly satisfy ``base_value + sum(attributions) = score``.
    """

    def __init__(self, model: "HybridRecommender", baseline: Baseline | None = None) -> None:
        user_index, item_index = model.user_feature_index_, model.item_feature_index_  # raises if not fitted
        self.model = model
        self.baseline = baseline or Baseline.average(model)
        self._eu = np.asarray(model.user_embeddings_, dtype=np.float64)
        self._bu = np.asarray(model.user_biases_, dtype=np.float64)
        self._ei = np.asarray(model.item_embeddings_, dtype=np.float64)
        self._bi = np.asarray(model.item_biases_, dtype=np.float64)
        x0, y0 = self.baseline.user_weights, self.baseline.item_weights
        if x0.shape != (len(self._bu),) or y0.shape != (len(self._bi),):
            raise ValueError("the baseline's feature rows do not match this model's features")
        self._p0, self._q0 = x0 @ self._eu, y0 @ self._ei
        self._bu0, self._bi0 = float(x0 @ self._bu), float(y0 @ self._bi)
        self.base_value = float(self._p0 @ self._q0 + self._bu0 + self._bi0)
        clash = set(map(str, user_index.sources)) & set(map(str, item_index.sources))
        self.user_groups = _Groups.build(user_index, CUSTOMER_SIDE, clash)
        self.item_groups = _Groups.build(item_index, OFFER_SIDE, clash)
        # each group's share of the baseline: (G, d) embedding sums and (G,) bias sums
        self._up0, self._ub0 = self._group_parts(self.user_groups, sp.csr_matrix(x0[None, :]), self._eu, self._bu)
        self._ip0, self._ib0 = self._group_parts(self.item_groups, sp.csr_matrix(y0[None, :]), self._ei, self._bi)
        self.column_names = [*self.user_groups.names, *self.item_groups.names]
        self.sides = {**dict.fromkeys(self.user_groups.names, CUSTOMER_SIDE), **dict.fromkeys(self.item_groups.names, OFFER_SIDE)}
        items = sp.csr_matrix(model.item_features_, dtype=np.float64)
        self._item_vectors, self._item_bias = np.asarray(items @ self._ei), np.asarray(items @ self._bi)

    # -- feature rows ----------------------------------------------------------------------------

    def user_rows(self, user_ids: Iterable[Any], new_users: pd.DataFrame | None = None) -> sp.csr_matrix:
        """Feature rows of customers (known: the model's rows; others: built from ``new_users``)."""
        ids = _known_or_new(user_ids, self.model.user_index_.positions, new_users, C.USER_ID, "customer")
        return sp.csr_matrix(self.model.user_feature_matrix(ids, new_users), dtype=np.float64)

    def item_rows(self, item_ids: Iterable[Any], new_items: pd.DataFrame | None = None) -> sp.csr_matrix:
        """Feature rows of offers (known: the model's rows; others: built from ``new_items``)."""
        ids = _known_or_new(item_ids, self.model.item_index_.positions, new_items, C.ITEM_ID, "offer")
        return sp.csr_matrix(self.model.item_feature_matrix(ids, new_items), dtype=np.float64)

    # -- the closed form -------------------------------------------------------------------------

    @staticmethod
    def _group_parts(groups: _Groups, rows: sp.csr_matrix, emb: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n, G, d) per-group embedding sums and (n, G) per-group bias sums of ``rows``."""
        s = groups.expand(rows)
        n, g = rows.shape[0], len(groups)
        return np.asarray(s @ emb).reshape(n, g, emb.shape[1]), np.asarray(s @ bias).reshape(n, g)

    def column_values(
        self, user_rows: sp.csr_matrix, item_rows: sp.csr_matrix, view: View = SCORE_VIEW
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Exact Shapley values per source column of aligned pairs of rows, their bases and scores.

        ``item_rows`` may have one row (the same offer for every customer). With ``R_g`` a
        column's share of ``p - p'`` (its features' ``(x_f - x'_f) e_f``) and ``β_g`` its share
        of ``x · b_u - x' · b_u``, a customer column's value splits into a main effect and half of
        its interaction with the offer::

            M_g = β_g + R_g · q'          I_g = R_g · ½ (q - q')

        and an offer column's likewise (``M_h = β_h + R_h · p'``, ``I_h = R_h · ½ (p - p')``).
        The views keep (see :data:`VIEWS`): ``"score"`` all of them (base ``score(x', y')``);
        ``"offer"`` the offer columns' ``M + I`` and the customer columns' ``I`` (base
        ``score(x, y')``); ``"customer"`` the customer columns' ``M + I`` and the offer columns'
        ``I`` (base ``score(x', y)``). Chunked over rows.

        Returns
        -------
        values : np.ndarray
            (n, G_customer + G_offer), columns in :attr:`column_names` order.
        base : np.ndarray
            (n,) base value of each row (``base + values.sum(1) == scores``).
        scores : np.ndarray
            (n,) ``score(x, y)`` computed directly.
        """
        if view not in VIEWS:
            raise ValueError(f"view must be one of {tuple(VIEWS)}, got {view!r}")
        n = user_rows.shape[0]
        if item_rows.shape[0] not in (1, n):
            raise ValueError(f"item_rows must have 1 or {n} rows, got {item_rows.shape[0]}")
        gu = len(self.user_groups)
        out = np.empty((n, len(self.column_names)), dtype=np.float64)
        base = np.full(n, self.base_value, dtype=np.float64)
        scores = np.empty(n, dtype=np.float64)
        same_item = item_rows.shape[0] == 1 and n != 1
        if same_item:
            ir, ib = self._group_parts(self.item_groups, item_rows, self._ei, self._bi)
        for start in range(0, max(n, 1), CHUNK_ROWS):  # blocks of rows, one sparse product each
            stop = min(start + CHUNK_ROWS, n)
            ur, ub = self._group_parts(self.user_groups, user_rows[start:stop], self._eu, self._bu)
            if not same_item:
                ir, ib = self._group_parts(self.item_groups, item_rows[start:stop], self._ei, self._bi)
            ur, ub = ur - self._up0, ub - self._ub0
            m = stop - start
            irr = np.broadcast_to(ir - self._ip0, (m, *ir.shape[1:]))  # one offer for all: a view
            ibb = np.broadcast_to(ib - self._ib0, (m, ib.shape[1]))
            dp, dq = ur.sum(axis=1), irr.sum(axis=1)  # p - p', q - q'
            main_u = ub + np.einsum("ngd,d->ng", ur, self._q0)
            inter_u = np.einsum("ngd,nd->ng", ur, 0.5 * dq)
            main_i = ibb + np.einsum("ngd,d->ng", irr, self._p0)
            inter_i = np.einsum("ngd,nd->ng", irr, 0.5 * dp)
            keep_main_u, keep_main_i = view != OFFER_VIEW, view != CUSTOMER_VIEW
            out[start:stop, :gu] = main_u + inter_u if keep_main_u else inter_u
            out[start:stop, gu:] = main_i + inter_i if keep_main_i else inter_i
            if not keep_main_u:
                base[start:stop] += main_u.sum(axis=1)
            if not keep_main_i:
                base[start:stop] += main_i.sum(axis=1)
            scores[start:stop] = (np.einsum("nd,nd->n", self._p0 + dp, self._q0 + dq)
                                  + self._bu0 + ub.sum(axis=1) + self._bi0 + ibb.sum(axis=1))
        return out, base, scores

    def feature_values(
        self, user_rows: sp.csr_matrix, item_rows: sp.csr_matrix, view: View = SCORE_VIEW
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Exact Shapley value of every single feature: (n, F_u), (n, F_i) dense arrays and the bases.

        ``φ_f = (x_f - x'_f)(b_u,f + e_f · q') + (x_f - x'_f) e_f · ½(q - q')`` (main effect +
        interaction half), ``φ_g`` likewise with ``p``; ``view`` drops main effects as in
        :meth:`column_values`. Dense in the features, so meant for few pairs (at most
        :data:`FEATURE_LEVEL_ROWS`).
        """
        if view not in VIEWS:
            raise ValueError(f"view must be one of {tuple(VIEWS)}, got {view!r}")
        n = user_rows.shape[0]
        if n > FEATURE_LEVEL_ROWS:
            raise ValueError(f"feature-level values are dense: explain at most {FEATURE_LEVEL_ROWS} pairs at once, got {n}")
        dx = user_rows.toarray() - self.baseline.user_weights
        dy = np.broadcast_to(item_rows.toarray() - self.baseline.item_weights, (n, len(self._bi)))
        dp = np.asarray(user_rows @ self._eu) - self._p0
        dq = np.broadcast_to(np.asarray(item_rows @ self._ei) - self._q0, dp.shape)
        main_u = dx * (self._bu + self._eu @ self._q0)
        main_i = dy * (self._bi + self._ei @ self._p0)
        phi_u = dx * (0.5 * dq @ self._eu.T) + (main_u if view != OFFER_VIEW else 0.0)
        phi_i = dy * (0.5 * dp @ self._ei.T) + (main_i if view != CUSTOMER_VIEW else 0.0)
        base = np.full(n, self.base_value)
        if view == OFFER_VIEW:
            base = base + main_u.sum(axis=1)
        elif view == CUSTOMER_VIEW:
            base = base + main_i.sum(axis=1)
        return phi_u, phi_i, base

    def column_interactions(self, user_rows: sp.csr_matrix, item_rows: sp.csr_matrix) -> np.ndarray:
        """(n, G_customer, G_offer) Shapley interaction index of every customer x offer column pair.

        The only interactions of the game pair a customer column G with an offer column H, and
        their index is the whole pair term ``R_G · R_H`` (see :meth:`column_values`); a customer
        column's interaction half is ``I_G = ½ Σ_H R_G · R_H``. Meant for few pairs.
        """
        ur = self._group_parts(self.user_groups, sp.csr_matrix(user_rows, dtype=np.float64), self._eu, self._bu)[0] - self._up0
        ir = self._group_parts(self.item_groups, sp.csr_matrix(item_rows, dtype=np.float64), self._ei, self._bi)[0] - self._ip0
        return np.einsum("ngd,nhd->ngh", ur, np.broadcast_to(ir, (ur.shape[0], *ir.shape[1:])))

    def interaction_table(self, user_id: Any, item_id: Any, new_users: pd.DataFrame | None = None,
                          new_items: pd.DataFrame | None = None) -> pd.DataFrame:
        """Which customer fact meets which offer fact: one pair's interactions as a labelled table.

        Rows are the customer's facts ("segment = deal_seeker"), columns the offer's facts
        ("discount_depth ≥ 40"); cell = ``R_G · R_H``.
        """
        urow, irow = self.user_rows([user_id], new_users), self.item_rows([item_id], new_items)
        table = self.column_interactions(urow, irow)[0]
        rows = self.user_groups.labels(urow, full=True)[1][0]
        cols = self.item_groups.labels(irow, full=True)[1][0]
        return pd.DataFrame(table, index=pd.Index(rows, name=CUSTOMER_SIDE), columns=pd.Index(cols, name=OFFER_SIDE))

    # -- shap Explanations -----------------------------------------------------------------------

    def explain(
        self,
        user_ids: Iterable[Any],
        item_ids: Iterable[Any],
        *,
        new_users: pd.DataFrame | None = None,
        new_items: pd.DataFrame | None = None,
        level: Level = "column",
        view: View = SCORE_VIEW,
    ) -> "shap.Explanation":
        """Exact Shapley explanation of ``score(user_ids[j], item_ids[j])`` for every pair j.

        Parameters
        ----------
        user_ids, item_ids
            Aligned lists of the same length (customers / offers known to the model, or found in
            ``new_users`` / ``new_items``: unseen ones are explained from their features alone).
        level
            ``"column"`` (default): one value per source column (``feature_names`` = columns,
            ``data`` = the pair's value of each column, ``display_data`` = readable contributor).
            ``"feature"``: one value per model feature (``data`` = feature weights).
        view
            What the score is compared with (:data:`VIEWS`). ``"score"`` (default): the baseline
            customer with the baseline offer; every feature's full Shapley value. ``"offer"``:
            this customer with the baseline offer, i.e. Shapley values of
            ``score(x, y) - score(x, y')``: what makes this offer rank where it does in the
            customer's list (customer-only terms, identical for all of their offers, drop out).
            ``"customer"``: the baseline customer with this offer (offer-only terms drop out).

        Returns
        -------
        shap.Explanation
            ``values`` (n, columns or features), ``base_values`` (n,) (the view's base);
            ``base_values[j] + values[j].sum() == score`` of pair j.
        """
        users = np.asarray(list(user_ids) if not isinstance(user_ids, (np.ndarray, pd.Series, pd.Index)) else user_ids, dtype=object)
        items = np.asarray(list(item_ids) if not isinstance(item_ids, (np.ndarray, pd.Series, pd.Index)) else item_ids, dtype=object)
        if len(users) != len(items):
            raise ValueError(f"user_ids ({len(users)}) and item_ids ({len(items)}) must have the same length")
        names = (pd.Series(users, dtype=object).astype(str) + " × " + pd.Series(items, dtype=object).astype(str)).to_numpy(object)
        return self.explain_rows(self.user_rows(users, new_users), self.item_rows(items, new_items), level=level,
                                 view=view, instance_names=names)

    def explain_rows(
        self,
        user_rows: sp.csr_matrix,
        item_rows: sp.csr_matrix,
        *,
        level: Level = "column",
        view: View = SCORE_VIEW,
        instance_names: Iterable[str] | None = None,
        full_labels: bool = True,
    ) -> "shap.Explanation":
        """:meth:`explain` for feature rows given directly (e.g. a customer with a changed fact)."""
        import shap

        user_rows = sp.csr_matrix(user_rows, dtype=np.float64)
        item_rows = sp.csr_matrix(item_rows, dtype=np.float64)
        n = user_rows.shape[0]
        names = None if instance_names is None else list(instance_names)
        if level == "feature":
            phi_u, phi_i, base = self.feature_values(user_rows, item_rows, view)
            data = np.hstack([user_rows.toarray(), np.broadcast_to(item_rows.toarray(), (n, item_rows.shape[1]))])
            return shap.Explanation(
                values=np.hstack([phi_u, phi_i]), base_values=base, data=data,
                feature_names=self.feature_names(), instance_names=names,
            )
        if level != "column":
            raise ValueError(f"level must be 'column' or 'feature', got {level!r}")
        values, base, _ = self.column_values(user_rows, item_rows, view)
        uv, uc = self.user_groups.labels(user_rows, full_labels)
        iv, ic = self.item_groups.labels(item_rows, full_labels)
        iv, ic = np.broadcast_to(iv, (n, iv.shape[1])), np.broadcast_to(ic, (n, ic.shape[1]))
        return shap.Explanation(
            values=values, base_values=base,
            data=np.hstack([uv, iv]).astype(str), display_data=np.hstack([uc, ic]).astype(str),
            feature_names=list(self.column_names), instance_names=names,
        )

    def feature_names(self) -> list[str]:
        """Names of the model features in ``level="feature"`` explanations (side added on clashes)."""
        u, i = self.user_groups.feature_names.astype(str), self.item_groups.feature_names.astype(str)
        clash = set(u) & set(i)
        return [f"{n} ({CUSTOMER_SIDE})" if n in clash else n for n in u] + [f"{n} ({OFFER_SIDE})" if n in clash else n for n in i]

    # -- scoring a customer against every offer (what-if) ------------------------------------------

    def score_all_items(self, user_row: np.ndarray) -> np.ndarray:
        """float64 scores of one customer feature row (dense) against every offer of the model."""
        return self._item_vectors @ (user_row @ self._eu) + self._item_bias + float(user_row @ self._bu)


def _known_or_new(ids: Iterable[Any], positions: Any, table: pd.DataFrame | None, key: str, noun: str) -> np.ndarray:
    """The ids as strings; raises on ids neither known to the model nor rows of ``table``."""
    ids = pd.Series(list(ids) if not isinstance(ids, (np.ndarray, pd.Series, pd.Index)) else ids, dtype=object)
    if ids.isna().any():
        raise ValueError(f"{noun} ids contain missing values")
    ids = ids.astype(str).to_numpy(object)
    unknown = positions(ids) < 0
    if unknown.any() and table is not None and key in table.columns:
        unknown &= ~pd.Index(ids).isin(table[key].astype(str))
    if unknown.any():
        raise ValueError(
            f"{int(unknown.sum())} {noun} id(s) unknown to the model, e.g. {ids[unknown][:3].tolist()}: "
            f"pass their rows as new_{noun.replace('customer', 'user').replace('offer', 'item')}s"
        )
    return ids


# --------------------------------------------------------------------------------------------
# Reading an explanation
# --------------------------------------------------------------------------------------------


def contributions(row: "shap.Explanation", top: int = 6, sides: dict[str, str] | None = None) -> pd.DataFrame:
    """The ``top`` largest contributors of one explained score (by size), the rest as "other".

    Parameters
    ----------
    row
        One row of a column-level explanation (``explanation[j]``).
    top
        Contributors shown by name; the others are summed into one "other (n columns)" line.
    sides
        Side of every column (:attr:`ScoreExplainer.sides`) for the ``side`` column.

    Returns
    -------
    pd.DataFrame
        ``contributor``, ``column``, ``value``, ``side``, ``attribution``: largest first, "other"
        last. ``row.base_values + attribution.sum()`` is the score.
    """
    values = np.asarray(row.values, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError("contributions() explains one score: pass explanation[j]")
    names = np.asarray(row.feature_names, dtype=object)
    display = np.asarray(row.display_data if row.display_data is not None else names, dtype=object)
    data = np.asarray(row.data if row.data is not None else np.full(len(values), ""), dtype=object)
    order = np.argsort(-np.abs(values), kind="stable")
    shown, rest = order[:top], order[top:]
    frame = pd.DataFrame({
        CONTRIBUTOR: display[shown], COLUMN: names[shown], VALUE: data[shown],
        SIDE: [(sides or {}).get(n, "") for n in names[shown]], ATTRIBUTION: values[shown],
    })
    if len(rest):
        other = pd.DataFrame({CONTRIBUTOR: [f"{OTHER} ({len(rest)} more facts)"], COLUMN: [OTHER], VALUE: [""],
                              SIDE: [""], ATTRIBUTION: [float(values[rest].sum())]})
        frame = pd.concat([frame, other], ignore_index=True)
    return frame


def reasons(explanation: "shap.Explanation", n: int = 2) -> list[str]:
    """One line per explained score: its ``n`` strongest lifts ("segment = deal_seeker +0.82 · ...").

    Lifts are the largest positive attributions; a score with none names its largest contributor.
    """
    values = np.asarray(explanation.values, dtype=np.float64)
    if values.ndim == 1:
        values = values[None, :]
    display = np.asarray(explanation.display_data, dtype=object).reshape(values.shape)
    order = np.argsort(-values, axis=1, kind="stable")[:, :n]
    top_vals = np.take_along_axis(values, order, axis=1)
    top_names = np.take_along_axis(display, order, axis=1)
    lines = []
    for names, vals in zip(top_names, top_vals):  # one line per listed offer (a top-k list is short)
        keep = vals > 0
        if not keep.any():
            keep = np.arange(len(vals)) == 0
        lines.append(" · ".join(f"{name} {val:+.2f}" for name, val in zip(names[keep], vals[keep])))
    return lines


# --------------------------------------------------------------------------------------------
# A customer's top-k with explanations
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ExplainedRecommendations:
    """A customer's top-k and the exact explanation of each score.

    ``recommendations`` has ``user_id``, ``item_id``, ``score``, ``rank``, ``reason``; row j of
    ``explanation`` explains row j (``explanation.base_values[j] + explanation.values[j].sum()
    == score``). ``view`` and ``compared_with`` say what the scores are compared with.
    """

    user_id: str
    recommendations: pd.DataFrame
    explanation: "shap.Explanation"
    view: str
    compared_with: str
    sides: dict[str, str] = field(default_factory=dict)

    def base_value(self, item_id: Any) -> float:
        """Where the explanation of one listed offer starts (the view's base)."""
        return float(np.asarray(self.explanation.base_values)[self.row(item_id)])

    def row(self, item_id: Any) -> int:
        hits = np.flatnonzero(self.recommendations[C.ITEM_ID].astype(str).to_numpy() == str(item_id))
        if not len(hits):
            raise ValueError(f"offer {item_id!r} is not in this customer's list")
        return int(hits[0])

    def contributions(self, item_id: Any, top: int = 6) -> pd.DataFrame:
        """Top contributors of one listed offer's score, the rest as "other"."""
        return contributions(self.explanation[self.row(item_id)], top, self.sides)

    def drivers(self) -> pd.DataFrame:
        """Attribution of every column (rows) for every listed offer (columns, in rank order)."""
        frame = pd.DataFrame(np.asarray(self.explanation.values).T, index=pd.Index(self.explanation.feature_names, name=COLUMN),
                             columns=self.recommendations[C.ITEM_ID].astype(str).to_numpy())
        frame.insert(0, SIDE, [self.sides.get(c, "") for c in frame.index])
        return frame


def recommend_explained(
    explainer: ScoreExplainer,
    user_id: Any,
    k: int = 10,
    *,
    candidates: Iterable[Any] | None = None,
    exclude: Iterable[Any] | None = None,
    exclude_seen: bool = True,
    new_users: pd.DataFrame | None = None,
    view: View = SCORE_VIEW,
    rerank: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    pool: int | None = None,
) -> ExplainedRecommendations:
    """One customer's top-``k`` (the model's own ``recommend``) with an exact explanation of each.

    With ``rerank`` (e.g. the run's saved fairness re-ranking), the model's top ``pool`` are
    re-ordered by it and cut at ``k``; each score and its explanation stay the model's own.

    Parameters
    ----------
    candidates
        Offers allowed in the list (default: every offer the model can score).
    exclude
        Offers left out (e.g. already redeemed).
    exclude_seen
        Also leave out offers with a positive response in training.
    new_users
        Feature rows of a customer the model has not seen (explained from their features alone).
    view
        What the scores are compared with (:data:`VIEWS`); :data:`LIST_VIEW` answers "why this
        offer in this customer's list".

    Returns
    -------
    ExplainedRecommendations
        ``score`` is the float64 score ``base_value + sum of attributions`` (the model's own
        float32 score agrees to about 1e-5; ranks are the model's).
    """
    model = explainer.model
    cand = _candidates(model, candidates, exclude)
    reco = model.recommend([user_id], k=max(k, pool or k) if rerank else k, exclude_seen=exclude_seen,
                           candidates=cand, new_users=new_users)
    if rerank is not None:
        reco = rerank(reco).head(k).reset_index(drop=True)
    ex = explainer.explain(reco[C.USER_ID].to_numpy(object), reco[C.ITEM_ID].to_numpy(object),
                           new_users=new_users, view=view)
    reco = reco.assign(**{C.SCORE: ex.base_values + np.asarray(ex.values).sum(axis=1), REASON: reasons(ex)})
    return ExplainedRecommendations(str(user_id), reco, ex, view, explainer.baseline.compared_with(view), dict(explainer.sides))


def saved_rerank_hook(ws: Any, run_id: str, k: int, model: Any = None, dataset: Any = None
                      ) -> tuple[Callable[[pd.DataFrame], pd.DataFrame] | None, int | None, str | None]:
    """The run's saved fairness re-ranking as ``(rerank, pool, description)``, or Nones without one."""
    from recsys.insight import fairness

    settings = fairness.saved_rerank(ws, run_id)
    if settings is None:
        return None, None, None

    def apply(reco: pd.DataFrame) -> pd.DataFrame:
        return fairness.rerank_for_run(ws, run_id, reco, k=k, model=model, dataset=dataset, settings=settings)

    return apply, fairness.pool_size(settings, k), f"{settings.kind} re-ranking, strength {settings.strength:g}"


def recommendations_report(
    explained: ExplainedRecommendations, items: pd.DataFrame | None = None, attributions: bool = True
) -> dict[str, Any]:
    """A customer's explained list as JSON-friendly data (what ``promolens recommend --json`` prints).

    Every offer has ``rank``, ``item_id``, ``offer`` (its name), ``score``, ``reason`` and, with
    ``attributions``, its ``baseline`` and one ``{"name", "column", "side", "value"}`` per
    column (largest first), so that ``baseline + sum(value) == score``.
    """
    reco = explained.recommendations
    ex = explained.explanation
    base = np.asarray(ex.base_values, dtype=np.float64)
    names = item_names(items, reco[C.ITEM_ID])
    rows = []
    for j in range(len(reco)):  # one entry per listed offer (a short list)
        row: dict[str, Any] = {
            C.RANK: int(reco[C.RANK].iloc[j]), C.ITEM_ID: str(reco[C.ITEM_ID].iloc[j]), OFFER: str(names[j]),
            C.SCORE: float(reco[C.SCORE].iloc[j]), REASON: str(reco[REASON].iloc[j]),
        }
        if attributions:
            parts = contributions(ex[j], top=len(ex.feature_names), sides=explained.sides)
            row["baseline"] = float(base[j])
            row["attributions"] = [
                {"name": str(c), "column": str(col), "side": str(s), "value": float(v)}
                for c, col, s, v in zip(parts[CONTRIBUTOR], parts[COLUMN], parts[SIDE], parts[ATTRIBUTION])
            ]
        rows.append(row)
    same_base = len(base) > 0 and bool(np.allclose(base, base[0], rtol=0, atol=1e-12))
    return {
        C.USER_ID: explained.user_id,
        "view": explained.view,
        "baseline": {"compared_with": explained.compared_with, C.SCORE: float(base[0]) if same_base else None},
        "recommendations": rows,
    }


def _candidates(model: "HybridRecommender", candidates: Iterable[Any] | None, exclude: Iterable[Any] | None) -> np.ndarray | None:
    """Candidate ids: the given ones known to the model (or every offer with features) minus ``exclude``."""
    if candidates is None and exclude is None:
        return None
    if candidates is None:
        scorable = np.diff(model.item_features_.indptr) > 0  # what the model recommends by default
        candidates = model.item_index_.ids[scorable]
    cand = pd.Index(pd.Series(list(candidates), dtype=object).astype(str)).unique()
    cand = cand[model.item_index_.positions(cand.to_numpy(object)) >= 0]
    if exclude is not None:
        cand = cand.difference(pd.Index(pd.Series(list(exclude), dtype=object).astype(str)), sort=False)
    return cand.to_numpy(object)


def recommend_for_customer(
    explainer: ScoreExplainer,
    user_id: Any,
    dataset: "Dataset | None" = None,
    *,
    k: int = 10,
    exclude: str = EXCLUDE_REDEEMED,
    active_on: Any = None,
    view: View = LIST_VIEW,
    rerank: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    pool: int | None = None,
) -> ExplainedRecommendations:
    """The Recommendations page's and ``promolens recommend``'s list: same inputs, same numbers.

    Parameters
    ----------
    dataset
        The run's dataset (for already-redeemed offers and offer date windows).
    exclude
        ``"redeemed"`` (offers the customer redeemed or bought with, from the dataset),
        ``"responded"`` (any positive response in training) or ``"none"``.
    active_on
        Only offers whose date window (start/end columns of the offers table) contains this day.
    view
        What the scores are compared with; default :data:`LIST_VIEW`.
    rerank, pool
        A re-ranking of the model's top ``pool`` (see :func:`saved_rerank_hook`).
    """
    if exclude not in EXCLUDE_CHOICES:
        raise ValueError(f"exclude must be one of {EXCLUDE_CHOICES}, got {exclude!r}")
    if exclude == EXCLUDE_REDEEMED and dataset is None:
        raise ValueError("leaving out redeemed offers needs the dataset's interactions")
    candidates = None
    if active_on is not None:
        if dataset is None:
            raise ValueError("filtering on active offers needs the dataset's offers table")
        start, end = date_window_columns(dataset.info.item_schema, dataset.items)
        if start is None and end is None:
            raise ValueError("the offers table has no start or end date column, so 'active on' cannot be checked")
        candidates = active_items(dataset.items, active_on, start, end)
    known = explainer.model.user_index_.positions([str(user_id)])[0] >= 0
    facts = None
    if not known:  # e.g. a customer appended after the model was trained: scored from their facts
        users = dataset.users if dataset is not None else None
        facts = users[users[C.USER_ID].astype(str) == str(user_id)] if users is not None and C.USER_ID in users.columns else None
        if facts is None or facts.empty:
            raise ValueError(f"customer {user_id!r} is not known to this model and has no row in the customers table")
    redeemed = redeemed_items(dataset.interactions, user_id) if exclude == EXCLUDE_REDEEMED else None  # type: ignore[union-attr]
    return recommend_explained(explainer, user_id, k, candidates=candidates, exclude=redeemed,
                               exclude_seen=exclude == EXCLUDE_RESPONDED, new_users=facts, view=view, rerank=rerank,
                               pool=pool)


# --------------------------------------------------------------------------------------------
# Global drivers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class OfferDrivers:
    """Attributions of one offer's score for many customers (see :func:`offer_drivers`).

    Attributes
    ----------
    values : np.ndarray
        (n, columns) attributions, columns in ``column_names`` order (customer columns first).
    base_values : np.ndarray
        (n,) base of each customer's explanation.
    features : np.ndarray
        (n, customer columns) each customer's feature in each customer column (the heaviest for
        multi-valued columns), -1 where they have none: what :meth:`summary` groups by.
    user_ids : np.ndarray or None
        The customers' ids (None when explained from feature rows given directly).
    item_values, item_contributors : np.ndarray
        The offer's value and readable label of every offer column.
    """

    item_id: str
    view: str
    values: np.ndarray
    base_values: np.ndarray
    features: np.ndarray
    user_ids: np.ndarray | None
    column_names: list[str]
    sides: dict[str, str]
    groups: _Groups
    item_values: np.ndarray
    item_contributors: np.ndarray

    def _long(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(column code, trait key, attribution) of every customer x customer column, flat.

        The trait key is the feature index, or ``-1`` (no value) / ``-2`` (identity present), so
        that a customer column's identity features form one trait ("their own history").
        """
        g = self.groups
        n, gu = self.features.shape
        trait = np.where(g.identity[None, :] & (self.features >= 0), -2, self.features)
        return np.tile(np.arange(gu), n), trait.ravel(), self.values[:, :gu].ravel()

    def _labels(self, column: np.ndarray, trait: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(value, contributor) labels of traits (identity: any feature of the group stands for it)."""
        return self.groups.describe(column, np.where(trait == -2, 0, trait))

    def summary(self) -> pd.DataFrame:
        """Per customer trait (column = value): how many customers have it and what it does.

        Returns
        -------
        pd.DataFrame
            ``column``, ``contributor``, ``value``, ``customers``, ``mean`` (mean attribution),
            ``share_up`` (share of those customers it lifts); strongest lift first.
        """
        column, trait, value = self._long()
        frame = pd.DataFrame({"c": column, "t": trait, "v": value, "up": value > 0})
        agg = frame.groupby(["c", "t"], sort=True).agg(n=("v", "size"), mean=("v", "mean"), up=("up", "mean")).reset_index()
        label, contributor = self._labels(agg["c"].to_numpy(), agg["t"].to_numpy())
        out = pd.DataFrame({
            COLUMN: np.asarray(self.column_names, dtype=object)[agg["c"].to_numpy()], CONTRIBUTOR: contributor,
            VALUE: label, CUSTOMERS: agg["n"].to_numpy(), MEAN: agg["mean"].to_numpy(), SHARE_UP: agg["up"].to_numpy(),
        })
        return out.sort_values(MEAN, ascending=False, kind="stable").reset_index(drop=True)

    def points(self, max_points: int = 300, seed: int = 0) -> pd.DataFrame:
        """A seeded sample of at most ``max_points`` customers per trait, for a beeswarm chart.

        Columns: ``column``, ``contributor``, ``value``, ``attribution``.
        """
        column, trait, value = self._long()
        key = column.astype(np.int64) * (len(self.groups.feature_names) + 2) + (trait + 2)
        order = np.lexsort((np.random.default_rng(seed).random(len(key)), key))
        starts = np.r_[0, np.flatnonzero(np.diff(key[order])) + 1]
        rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
        keep = np.sort(order[rank < max_points])
        label, contributor = self._labels(column[keep], trait[keep])
        return pd.DataFrame({
            COLUMN: np.asarray(self.column_names, dtype=object)[column[keep]], CONTRIBUTOR: contributor,
            VALUE: label, ATTRIBUTION: value[keep],
        })

    def explanation(self) -> "shap.Explanation":
        """The same attributions as a shap ``Explanation`` (``data``: each customer's values).

        Building shap's object over many customers takes a while (its string handling); the
        summary and points above do not need it.
        """
        import shap

        n, gu = self.features.shape
        column, trait, _ = self._long()
        label, contributor = self._labels(column, trait)
        return shap.Explanation(
            values=self.values, base_values=self.base_values,
            data=np.hstack([label.reshape(n, gu).astype(str), np.broadcast_to(self.item_values, (n, len(self.item_values)))]),
            display_data=np.hstack([contributor.reshape(n, gu).astype(str),
                                    np.broadcast_to(self.item_contributors, (n, len(self.item_contributors)))]),
            feature_names=list(self.column_names), instance_names=None if self.user_ids is None else [str(u) for u in self.user_ids],
        )


def offer_drivers(
    explainer: ScoreExplainer,
    item_id: Any,
    user_ids: Iterable[Any] | None = None,
    *,
    user_rows: sp.csr_matrix | None = None,
    new_items: pd.DataFrame | None = None,
    max_users: int | None = None,
    seed: int = 0,
    view: View = LIST_VIEW,
) -> OfferDrivers:
    """Attributions of one offer's score for many customers: what pushes it up or down, and for whom.

    Matrix products over blocks of customers (:meth:`ScoreExplainer.column_values`), no loop over
    customers; labels are only made for the traits of the summary.

    Parameters
    ----------
    user_ids
        Customers (default: every customer of the model). Ignored when ``user_rows`` is given.
    user_rows
        Feature rows of the customers directly (e.g. a large audience of new customers).
    max_users
        Explain a seeded random sample of at most this many customers.
    view
        Default :data:`LIST_VIEW`: a customer column's value is then its interaction with this
        offer, i.e. how much the trait lifts this offer *within* the customer's own list. (In the
        ``"score"`` view customer-only terms such as LightFM's user biases, which a ranking loss
        leaves unconstrained, would swamp the traits.)
    """
    model = explainer.model
    rng = np.random.default_rng(seed)
    if user_rows is None:
        ids = model.user_index_.ids if user_ids is None else _known_or_new(user_ids, model.user_index_.positions, None, C.USER_ID, "customer")
        if max_users is not None and len(ids) > max_users:
            ids = ids[np.sort(rng.choice(len(ids), max_users, replace=False))]
        rows = sp.csr_matrix(model.user_features_[model.user_index_.positions(ids)], dtype=np.float64)
    else:
        rows, ids = sp.csr_matrix(user_rows, dtype=np.float64), None
        if max_users is not None and rows.shape[0] > max_users:
            rows = rows[np.sort(rng.choice(rows.shape[0], max_users, replace=False))]
    item_row = explainer.item_rows([item_id], new_items)
    values, base, _ = explainer.column_values(rows, item_row, view)
    item_values, item_contributors = explainer.item_groups.labels(item_row, full=True)
    return OfferDrivers(str(item_id), view, values, base, explainer.user_groups.dominant(rows), ids,
                        list(explainer.column_names), dict(explainer.sides), explainer.user_groups,
                        item_values[0].astype(str), item_contributors[0].astype(str))


# --------------------------------------------------------------------------------------------
# Evidence for the identity parts
# --------------------------------------------------------------------------------------------


def _unit(rows: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(rows, axis=-1, keepdims=True)
    return np.divide(rows, norm, out=np.zeros_like(rows, dtype=np.float64), where=norm > 0)


def similar_history(
    model: "HybridRecommender", user_id: Any, item_id: Any, *, history: pd.DataFrame | None = None, n: int = 3
) -> pd.DataFrame:
    """The customer's past responses most similar to ``item_id`` in the model's offer space.

    Similarity is the cosine of the offers' representations ``q = y E_i`` (identity included), so
    it says "this offer sits next to what they responded to" even where no fact names why.

    Parameters
    ----------
    history
        The customer's interactions (canonical columns); each offer then carries the customer's
        strongest event on it (``event``). Default: the model's training positives.

    Returns
    -------
    pd.DataFrame
        ``item_id``, ``similarity`` (cosine, -1..1), and ``event`` when ``history`` is given.
    """
    upos = model.user_index_.positions([str(user_id)])[0]
    events = None
    if history is not None and len(history):
        h = history[history[C.USER_ID].astype(str) == str(user_id)]
        weights = model.interactions_config_.weights()
        ev = h[C.EVENT].astype(str).str.strip().str.lower() if C.EVENT in h.columns else pd.Series(C.INTERACTION, index=h.index)
        w = ev.map(weights).fillna(model.interactions_config_.unknown_event_weight)
        best = pd.DataFrame({C.ITEM_ID: h[C.ITEM_ID].astype(str), C.EVENT: ev, C.WEIGHT: w})
        best = best[best[C.WEIGHT] > 0].sort_values(C.WEIGHT, ascending=False, kind="stable").drop_duplicates(C.ITEM_ID)
        past, events = best[C.ITEM_ID].to_numpy(object), best[C.EVENT].to_numpy(object)
    elif 0 <= upos < model.seen_.shape[0]:
        past = model.item_index_.ids[model.seen_[upos].indices]
    else:
        past = np.zeros(0, dtype=object)
    pos = model.item_index_.positions(past)
    keep = (pos >= 0) & (past.astype(str) != str(item_id))
    past, pos = past[keep], pos[keep]
    events = None if events is None else events[keep]
    cols = [C.ITEM_ID, SIMILARITY] + ([C.EVENT] if events is not None else [])
    if not len(pos):
        return pd.DataFrame(columns=cols)
    _, target = model.item_representations([str(item_id)])
    _, vectors = model.item_representations(past)
    sim = _unit(vectors.astype(np.float64)) @ _unit(target.astype(np.float64))[0]
    frame = pd.DataFrame({C.ITEM_ID: past.astype(str), SIMILARITY: sim})
    if events is not None:
        frame[C.EVENT] = events
    return frame.sort_values(SIMILARITY, ascending=False, kind="stable").head(n).reset_index(drop=True)[cols]


def similar_responders(model: "HybridRecommender", user_id: Any, item_id: Any, n: int = 5) -> pd.DataFrame:
    """Customers most like this one (cosine of ``p = x E_u``) who responded to ``item_id`` in training.

    Returns
    -------
    pd.DataFrame
        ``user_id``, ``similarity``; empty for an offer nobody responded to (e.g. a new offer).
    """
    ipos = model.item_index_.positions([str(item_id)])[0]
    if ipos < 0:
        raise ValueError(f"offer {item_id!r} is not known to this model")
    if ipos >= model.seen_.shape[1]:
        return pd.DataFrame(columns=[C.USER_ID, SIMILARITY])
    responders = model.seen_[:, [ipos]].tocoo().row
    _, vectors = model.user_representations()
    me = model.user_index_.positions([str(user_id)])[0]
    if me >= 0:
        target = vectors[me].astype(np.float64)
    else:
        raise ValueError(f"customer {user_id!r} is not known to this model")
    responders = responders[responders != me]
    if not len(responders):
        return pd.DataFrame(columns=[C.USER_ID, SIMILARITY])
    sim = _unit(vectors[responders].astype(np.float64)) @ _unit(target)
    frame = pd.DataFrame({C.USER_ID: model.user_index_.ids[responders].astype(str), SIMILARITY: sim})
    return frame.sort_values(SIMILARITY, ascending=False, kind="stable").head(n).reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# What-if
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class WhatIf:
    """A customer's list before and after changing one of their facts.

    ``changes`` has one row per offer in either list: ``item_id``, ``rank_before``,
    ``rank_after`` (NaN: not in that list), ``score_before``, ``score_after``, ``change``.
    """

    column: str
    old_value: str
    new_value: str
    before: ExplainedRecommendations
    after: ExplainedRecommendations
    changes: pd.DataFrame
    row_before: np.ndarray  # the customer's feature row, dense
    row_after: np.ndarray

    def explain(self, explainer: ScoreExplainer, item_id: Any) -> tuple["shap.Explanation", "shap.Explanation"]:
        """One offer's explanation before and after the change (whether or not it is listed)."""
        item = explainer.item_rows([item_id])
        rows = sp.csr_matrix(np.vstack([self.row_before, self.row_after]))
        ex = explainer.explain_rows(rows, sp.vstack([item, item]).tocsr(), view=self.before.view)  # type: ignore[arg-type]
        return ex[0:1], ex[1:2]


def changeable_columns(explainer: ScoreExplainer) -> list[str]:
    """Customer columns a what-if can change: single-valued ones (not tags, text or identity)."""
    g = explainer.user_groups
    return [str(s) for s, multi, ident in zip(g.sources, g.multi, g.identity) if not multi and not ident]


def column_choices(explainer: ScoreExplainer, column: str) -> list[str]:
    """The values (feature labels) a customer column can take in this model."""
    g = explainer.user_groups
    hit = np.flatnonzero(g.sources.astype(str) == column)
    if not len(hit):
        raise ValueError(f"{column!r} is not a customer column of this model; choose from {changeable_columns(explainer)}")
    return [str(v) for v in g.feature_labels[g.code == hit[0]]]


def what_if(
    explainer: ScoreExplainer,
    user_id: Any,
    column: str,
    value: str | None,
    k: int = 10,
    *,
    candidates: Iterable[Any] | None = None,
    exclude: Iterable[Any] | None = None,
    exclude_seen: bool = True,
    view: View = LIST_VIEW,
) -> WhatIf:
    """The customer's top-``k`` and its explanation if ``column`` had ``value`` (None: unknown).

    The customer keeps every other feature, their identity (own history) included; only the
    features of ``column`` change. Both lists are ranked by the float64 score over the same
    candidates, so every difference comes from the changed fact.
    """
    if column not in changeable_columns(explainer):
        raise ValueError(f"{column!r} cannot be changed in a what-if; choose from {changeable_columns(explainer)}")
    g = explainer.user_groups
    gcode = int(np.flatnonzero(g.sources.astype(str) == column)[0])
    members = np.flatnonzero(g.code == gcode)
    labels = g.feature_labels[members].astype(str)
    if value is not None and value not in set(labels):
        raise ValueError(f"{value!r} is not a value of {column!r}; choose from {labels.tolist()}")
    before_row = explainer.user_rows([user_id]).toarray().ravel()
    after_row = before_row.copy()
    after_row[members] = 0.0
    if value is not None:
        after_row[members[labels == value]] = 1.0
    old = before_row[members]
    old_value = ", ".join(labels[old > 0]) or UNKNOWN
    model = explainer.model
    cand = _candidates(model, candidates, exclude)
    if cand is None:
        pos = np.flatnonzero(np.diff(model.item_features_.indptr) > 0)
    else:
        pos = model.item_index_.positions(cand)
        pos = pos[pos >= 0]
    if exclude_seen:
        upos = model.user_index_.positions([str(user_id)])[0]
        if 0 <= upos < model.seen_.shape[0]:
            pos = np.setdiff1d(pos, model.seen_[upos].indices)
    lists = [_explained_top_k(explainer, str(user_id), row, pos, k, view) for row in (before_row, after_row)]
    b, a = (e.recommendations[[C.ITEM_ID, C.RANK, C.SCORE]] for e in lists)
    changes = b.merge(a, on=C.ITEM_ID, how="outer", suffixes=("_before", "_after")).rename(columns={
        f"{C.RANK}_before": RANK_BEFORE, f"{C.RANK}_after": RANK_AFTER,
        f"{C.SCORE}_before": SCORE_BEFORE, f"{C.SCORE}_after": SCORE_AFTER,
    })
    # scores of every listed offer on both sides, also where it left the other list
    all_pos = model.item_index_.positions(changes[C.ITEM_ID])
    changes[SCORE_BEFORE] = explainer.score_all_items(before_row)[all_pos]
    changes[SCORE_AFTER] = explainer.score_all_items(after_row)[all_pos]
    moved = changes[RANK_BEFORE] - changes[RANK_AFTER]
    changes[CHANGE] = np.select(
        [changes[RANK_BEFORE].isna(), changes[RANK_AFTER].isna(), moved > 0, moved < 0],
        ["new in the list", "drops out", "up " + moved.abs().fillna(0).astype(int).astype(str),
         "down " + moved.abs().fillna(0).astype(int).astype(str)], "same place",
    )
    changes = changes.sort_values([RANK_AFTER, RANK_BEFORE], na_position="last", kind="stable").reset_index(drop=True)
    return WhatIf(column, old_value, UNKNOWN if value is None else value, lists[0], lists[1], changes, before_row, after_row)


def _explained_top_k(
    explainer: ScoreExplainer, user_id: str, row: np.ndarray, pos: np.ndarray, k: int, view: View
) -> ExplainedRecommendations:
    scores = explainer.score_all_items(row)[pos]
    top = pos[np.argsort(-scores, kind="stable")[:k]]
    model = explainer.model
    user_rows = sp.csr_matrix(row[None, :])[np.zeros(len(top), dtype=np.int64)]  # the row k times, sparse
    ex = explainer.explain_rows(user_rows, model.item_features_[top], view=view,
                                instance_names=[f"{user_id} × {i}" for i in model.item_index_.ids[top]])
    reco = pd.DataFrame({
        C.USER_ID: pd.array(np.full(len(top), user_id, dtype=object), dtype="str"),
        C.ITEM_ID: pd.array(model.item_index_.ids[top], dtype="str"),
        C.SCORE: ex.base_values + np.asarray(ex.values).sum(axis=1),
        C.RANK: np.arange(1, len(top) + 1, dtype=np.int64),
        REASON: reasons(ex),
    })
    return ExplainedRecommendations(user_id, reco, ex, view, explainer.baseline.compared_with(view), dict(explainer.sides))


# --------------------------------------------------------------------------------------------
# Data helpers for the page and the CLI
# --------------------------------------------------------------------------------------------


def date_window_columns(schema: TableSchema | None, items: pd.DataFrame | None = None) -> tuple[str | None, str | None]:
    """The offers table's start and end date columns, guessed from names ("start_date", "valid_to")."""
    names: list[str] = []
    if schema is not None:
        names = [c.name for c in schema.columns if c.kind == ColumnKind.DATE]
    if not names and items is not None:
        names = [c for c in items.columns if pd.api.types.is_datetime64_any_dtype(items[c])]

    def pick(words: tuple[str, ...]) -> str | None:
        return next((n for w in words for n in names if w in n.lower()), None)

    return pick(_START_WORDS), pick(_END_WORDS)


def parse_day(text: Any) -> pd.Timestamp:
    """A day from "2026-06-15" (or a date / timestamp), with a clear error otherwise."""
    try:
        day = pd.Timestamp(text)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{text!r} is not a date: write it as YYYY-MM-DD, e.g. 2026-06-15") from exc
    if pd.isna(day):
        raise ValueError(f"{text!r} is not a date: write it as YYYY-MM-DD, e.g. 2026-06-15")
    return day.normalize()


def active_items(items: pd.DataFrame, when: Any, start_column: str | None, end_column: str | None) -> np.ndarray:
    """Ids of the offers whose date window contains day ``when`` (both ends inclusive; missing = open)."""
    day = pd.Timestamp(when).normalize()
    ok = np.ones(len(items), dtype=bool)
    if start_column is not None:
        start = pd.to_datetime(items[start_column], errors="coerce").dt.normalize()
        ok &= (start.isna() | (start <= day)).to_numpy()
    if end_column is not None:
        end = pd.to_datetime(items[end_column], errors="coerce").dt.normalize()
        ok &= (end.isna() | (end >= day)).to_numpy()
    return items.loc[ok, C.ITEM_ID].astype(str).to_numpy(object)


def redeemed_items(interactions: pd.DataFrame, user_id: Any, events: tuple[str, ...] = REDEEM_EVENTS) -> np.ndarray:
    """Offers this customer redeemed or bought with (any of ``events``)."""
    if C.EVENT not in interactions.columns:
        return np.zeros(0, dtype=object)
    mine = interactions[C.USER_ID].astype(str).to_numpy() == str(user_id)
    hits = interactions.loc[mine]
    hits = hits[hits[C.EVENT].astype(str).str.strip().str.lower().isin(events)]
    return pd.unique(hits[C.ITEM_ID].astype(str).to_numpy(object))


def recent_history(interactions: pd.DataFrame, user_id: Any, n: int = 10) -> pd.DataFrame:
    """The customer's ``n`` latest interactions, newest first."""
    mine = interactions[interactions[C.USER_ID].astype(str).to_numpy() == str(user_id)]
    if C.TIMESTAMP in mine.columns:
        mine = mine.sort_values(C.TIMESTAMP, ascending=False, kind="stable")
    return mine.head(n).reset_index(drop=True)


def name_column(items: pd.DataFrame | None) -> str | None:
    """The offers table's column that names an offer for people (title, name, ...), if any."""
    if items is None:
        return None
    return next((c for c in NAME_COLUMNS if c in items.columns), None)


def item_names(items: pd.DataFrame | None, item_ids: Iterable[Any]) -> np.ndarray:
    """Readable names of offers ("Spring Shoes 20% off"); the id where there is none."""
    ids = pd.Series(list(item_ids) if not isinstance(item_ids, (pd.Series, np.ndarray)) else item_ids, dtype=object).astype(str)
    col = name_column(items)
    if col is None:
        return ids.to_numpy(object)
    lookup = items.assign(**{C.ITEM_ID: items[C.ITEM_ID].astype(str)}).drop_duplicates(C.ITEM_ID).set_index(C.ITEM_ID)[col]
    named = ids.map(lookup)
    return named.where(named.notna() & (named.astype(str).str.strip() != ""), ids).astype(str).to_numpy(object)
