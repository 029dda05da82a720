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
without identity features, 58% with them; see tests/insight/test_explain.py).
Everything runs as matrix products over whole blocks of customers (chunked), never a Python loop
over customers: :meth:`ScoreExplainer.explain` for any list of pairs; :func:`contributions` and
:func:`reasons` read one explanation. Built on it: :mod:`recsys.insight.recommend` (a customer's
explained top-k), :mod:`recsys.insight.drivers` (one offer over every customer, and the evidence
that identity features cannot name) and :mod:`recsys.insight.whatif` (a changed customer fact).

>>> explainer = ScoreExplainer(model)  # doctest: +SKIP
>>> ex = explainer.explain(["C000004"], ["OFF0042"])  # doctest: +SKIP
>>> float(ex.base_values[0] + ex.values[0].sum())  # equals model.score(...) # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.core import columns as C
from recsys.core.i18n import N_
from recsys.core.words import NO_ITEM_HISTORY, NO_USER_HISTORY, UNKNOWN
from recsys.data.schema import ColumnKind
from recsys.learn.encoders import FeatureIndex
from recsys.learn.features import IDENTITY_KIND

if TYPE_CHECKING:  # pragma: no cover
    import shap

    from recsys.learn.model import HybridRecommender

# Columns of the frames this module returns (not data-contract columns, so they live here).
CONTRIBUTOR = "contributor"  # what a marketer reads: "segment = deal_seeker"
COLUMN = "column"  # the source column (the shap feature name)
VALUE = "value"  # the entity's value of that column: "deal_seeker"
SIDE = "side"  # CUSTOMER or OFFER
ATTRIBUTION = "attribution"

CUSTOMER_SIDE = "customer"
OFFER_SIDE = "offer"
OTHER = "other"

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
    SCORE_VIEW: N_("the average customer with the average offer"),
    OFFER_VIEW: N_("this customer with the average offer"),
    CUSTOMER_VIEW: N_("the average customer with this offer"),
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
class ColumnGroups:
    """The source columns of one side's features: group code of every feature, names, kinds.

    Built by :class:`ScoreExplainer` (``user_groups``, ``item_groups``); labels explanations.
    """

    side: str
    sources: np.ndarray  # (G,) source column
    names: np.ndarray  # (G,) display name (suffixed with the side when both sides share a column)
    multi: np.ndarray  # (G,) multi-valued column (tags, text): several features per row
    identity: np.ndarray  # (G,) the identity group
    code: np.ndarray  # (F,) group of each feature
    feature_names: np.ndarray  # (F,)
    feature_labels: np.ndarray  # (F,)

    @classmethod
    def build(cls, index: FeatureIndex, side: str, clash: set[str]) -> "ColumnGroups":
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


@dataclass(frozen=True, eq=False)
class Explanation:
    """Attributions of explained scores: the fields of shap's ``Explanation``, without importing shap.

    ``import shap`` takes 1-2 s (numba, scikit-learn, ...), and the explanations here are exact
    closed forms that only need a container, so this is one: ``values`` (n, m) or (m,) for one
    score, ``base_values`` (n,) or a float, ``data`` and ``display_data`` (the pair's value and
    readable contributor of each column), ``feature_names`` (m) and ``instance_names``.
    ``base_values[j] + values[j].sum()`` is score j. Rows are selected with ``explanation[j]``,
    ``explanation[a:b]`` or an index array; :meth:`to_shap` gives shap's own object for its
    plots and tools (``shap.plots.waterfall(e.to_shap()[0])``).
    """

    values: np.ndarray
    base_values: Any
    data: np.ndarray | None = None
    display_data: np.ndarray | None = None
    feature_names: list[str] | None = None
    instance_names: list[str] | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        return np.shape(self.values)

    def __len__(self) -> int:
        return int(np.shape(self.values)[0])

    def __getitem__(self, rows: Any) -> "Explanation":
        if np.ndim(self.values) != 2:
            raise TypeError("this explains one score already; index an explanation of several")
        if isinstance(rows, tuple):
            raise TypeError("select rows (explanation[j], explanation[a:b]); for shap's column indexing use .to_shap()")

        def take(a: Any) -> Any:
            return None if a is None else np.asarray(a)[rows]

        names = None if self.instance_names is None else np.asarray(self.instance_names, dtype=object)[rows]
        names = names.tolist() if isinstance(names, np.ndarray) else names
        return Explanation(values=take(self.values), base_values=take(self.base_values), data=take(self.data),
                           display_data=take(self.display_data), feature_names=self.feature_names, instance_names=names)

    def to_shap(self) -> "shap.Explanation":
        """The same explanation as a ``shap.Explanation`` (imports shap)."""
        import shap

        return shap.Explanation(values=self.values, base_values=self.base_values, data=self.data,
                                display_data=self.display_data, feature_names=self.feature_names,
                                instance_names=self.instance_names)


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
        self.user_groups = ColumnGroups.build(user_index, CUSTOMER_SIDE, clash)
        self.item_groups = ColumnGroups.build(item_index, OFFER_SIDE, clash)
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
        ids = known_or_new_ids(user_ids, self.model.user_index_.positions, new_users, C.USER_ID, "customer")
        return sp.csr_matrix(self.model.user_feature_matrix(ids, new_users), dtype=np.float64)

    def item_rows(self, item_ids: Iterable[Any], new_items: pd.DataFrame | None = None) -> sp.csr_matrix:
        """Feature rows of offers (known: the model's rows; others: built from ``new_items``)."""
        ids = known_or_new_ids(item_ids, self.model.item_index_.positions, new_items, C.ITEM_ID, "offer")
        return sp.csr_matrix(self.model.item_feature_matrix(ids, new_items), dtype=np.float64)

    # -- the closed form -------------------------------------------------------------------------

    @staticmethod
    def _group_parts(groups: ColumnGroups, rows: sp.csr_matrix, emb: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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

    # -- Explanations -----------------------------------------------------------------------

    def explain(
        self,
        user_ids: Iterable[Any],
        item_ids: Iterable[Any],
        *,
        new_users: pd.DataFrame | None = None,
        new_items: pd.DataFrame | None = None,
        level: Level = "column",
        view: View = SCORE_VIEW,
    ) -> Explanation:
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
        Explanation
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
    ) -> Explanation:
        """:meth:`explain` for feature rows given directly (e.g. a customer with a changed fact)."""
        user_rows = sp.csr_matrix(user_rows, dtype=np.float64)
        item_rows = sp.csr_matrix(item_rows, dtype=np.float64)
        n = user_rows.shape[0]
        names = None if instance_names is None else list(instance_names)
        if level == "feature":
            phi_u, phi_i, base = self.feature_values(user_rows, item_rows, view)
            data = np.hstack([user_rows.toarray(), np.broadcast_to(item_rows.toarray(), (n, item_rows.shape[1]))])
            return Explanation(
                values=np.hstack([phi_u, phi_i]), base_values=base, data=data,
                feature_names=self.feature_names(), instance_names=names,
            )
        if level != "column":
            raise ValueError(f"level must be 'column' or 'feature', got {level!r}")
        values, base, _ = self.column_values(user_rows, item_rows, view)
        uv, uc = self.user_groups.labels(user_rows, full_labels)
        iv, ic = self.item_groups.labels(item_rows, full_labels)
        iv, ic = np.broadcast_to(iv, (n, iv.shape[1])), np.broadcast_to(ic, (n, ic.shape[1]))
        return Explanation(
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

    def score_rows(self, user_rows: sp.csr_matrix) -> np.ndarray:
        """float64 scores of many customer feature rows against every offer of the model, (rows, offers):
        :meth:`score_all_items` of each row, by two matrix products."""
        rows = sp.csr_matrix(user_rows, dtype=np.float64)
        return (np.asarray(rows @ self._eu) @ self._item_vectors.T + self._item_bias[None, :]
                + np.asarray(rows @ self._bu).reshape(-1, 1))


def known_or_new_ids(ids: Iterable[Any], positions: Any, table: pd.DataFrame | None, key: str, noun: str) -> np.ndarray:
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


def contributions(row: Explanation, top: int = 6, sides: dict[str, str] | None = None) -> pd.DataFrame:
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


def reasons(explanation: Explanation, n: int = 2) -> list[str]:
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


__all__ = [
    "Baseline", "ColumnGroups", "ScoreExplainer", "contributions", "reasons", "known_or_new_ids",
    "VIEWS", "SCORE_VIEW", "OFFER_VIEW", "CUSTOMER_VIEW", "LIST_VIEW", "CHUNK_ROWS", "FEATURE_LEVEL_ROWS",
    "CONTRIBUTOR", "COLUMN", "VALUE", "SIDE", "ATTRIBUTION", "CUSTOMER_SIDE", "OFFER_SIDE", "OTHER", "UNKNOWN",
    "NO_USER_HISTORY", "NO_ITEM_HISTORY",
]
