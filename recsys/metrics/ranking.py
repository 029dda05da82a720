"""Ranking metrics, and the beyond-accuracy metrics the pipeline reports, on one small API (RecTools style).

Every metric is a small frozen object (:class:`recsys.metrics.base.Metric`) with

* ``calc_per_user(reco, test=None, *, train=None, catalog=None, item_features=None) -> pd.Series``
  (index ``user_id``), and
* ``calc(...) -> float``: the mean of the per-user values (catalogue coverage is a whole-list
  metric and has no per-user value).

Inputs are plain frames:

* ``reco``: ``user_id``, ``item_id``, ``rank`` (1 = best), as returned by every recommender's
  ``recommend``; only rows with ``rank <= k`` are used (AUC uses all rows: the full ranking).
* ``test``: relevant ``user_id``, ``item_id`` pairs (duplicates are ignored).
* ``train``: the training positives (``user_id``, ``item_id``), for popularity-based metrics.

Ranking metrics are averaged over the users that have at least one test item; users with no test
items are excluded, not counted as 0. Users of ``test`` with no recommendations count as 0.
Notation: for user ``u``, ``T_u`` = test items, ``rel_u(r) = 1`` when the item at rank ``r`` is in
``T_u``, ``hits_u = sum_{r<=k} rel_u(r)``.

>>> reco = pd.DataFrame({"user_id": ["a", "a"], "item_id": ["x", "y"], "rank": [1, 2]})
>>> test = pd.DataFrame({"user_id": ["a"], "item_id": ["y"]})
>>> Precision(k=2).calc(reco, test), round(NDCG(k=2).calc(reco, test), 4)
(0.5, 0.6309)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Iterable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.core import columns as C
from recsys.core.arrays import text_codes
from recsys.metrics.base import (
    ItemFeatures,
    Metric,
    check_frame,
    per_user_series,
    top_k,
    train_popularity,
)


@dataclass
class _Matched:
    """Reco rows of test users, encoded as integers, with their hit flags."""

    users: pd.Index  # evaluation users (those with test items)
    n_rel: np.ndarray  # |T_u| per evaluation user
    user: np.ndarray  # per reco row: user position
    rank: np.ndarray  # per reco row
    hit: np.ndarray  # per reco row: item in T_u


def _match(reco: pd.DataFrame, test: pd.DataFrame | None, k: int | None) -> _Matched:
    test = check_frame(test, "test", (C.USER_ID, C.ITEM_ID))
    top = top_k(reco, k)
    t_user = test[C.USER_ID].astype(str).to_numpy(object)
    t_item = test[C.ITEM_ID].astype(str).to_numpy(object)
    users = pd.Index(pd.unique(t_user), dtype=object)
    tu = users.get_indexer(t_user)
    ru = users.get_indexer(top[C.USER_ID].astype(str).to_numpy(object))
    keep = ru >= 0
    r_item = top[C.ITEM_ID].astype(str).to_numpy(object)[keep]
    # hash-based codes: np.unique would sort millions of Python strings
    codes, items = pd.factorize(np.concatenate([t_item, r_item]))
    n_items = max(len(items), 1)
    t_key = np.unique(tu.astype(np.int64) * n_items + codes[: len(t_item)])
    r_key = ru[keep].astype(np.int64) * n_items + codes[len(t_item):]
    if len(np.unique(r_key)) != len(r_key):
        raise ValueError("`reco` lists the same item twice for a user: keep one row per user and item")
    n_rel = np.bincount(t_key // n_items, minlength=len(users))
    return _Matched(users, n_rel, ru[keep], top[C.RANK].to_numpy(np.int64)[keep], np.isin(r_key, t_key))


def _discount_table(k: int) -> np.ndarray:
    """D[m] = sum_{r=1}^{m} 1 / log2(r + 1), D[0] = 0."""
    return np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))])


# --------------------------------------------------------------------------------------------
# Metric objects
# --------------------------------------------------------------------------------------------


class _Ranking(Metric):
    def calc_per_user(self, reco, test=None, *, train=None, catalog=None, item_features=None):  # type: ignore[override]
        self._check_k()
        m = _match(reco, test, self.k)
        return per_user_series(self._values(m), m.users, self.name)

    def _values(self, m: _Matched) -> np.ndarray:
        raise NotImplementedError


@dataclass(frozen=True)
class Precision(_Ranking):
    """Precision@k: ``hits_u / k`` (like ``lightfm.evaluation.precision_at_k``)."""

    _label = "precision"

    def _values(self, m: _Matched) -> np.ndarray:
        return np.bincount(m.user, weights=m.hit, minlength=len(m.users)) / self.k


@dataclass(frozen=True)
class Recall(_Ranking):
    """Recall@k: ``hits_u / |T_u|`` (like ``lightfm.evaluation.recall_at_k``)."""

    _label = "recall"

    def _values(self, m: _Matched) -> np.ndarray:
        return np.bincount(m.user, weights=m.hit, minlength=len(m.users)) / m.n_rel


@dataclass(frozen=True)
class HitRate(_Ranking):
    """Hit rate@k: ``1 if hits_u > 0 else 0``."""

    _label = "hit_rate"

    def _values(self, m: _Matched) -> np.ndarray:
        return (np.bincount(m.user, weights=m.hit, minlength=len(m.users)) > 0).astype(np.float64)


@dataclass(frozen=True)
class NDCG(_Ranking):
    """NDCG@k with binary relevance.

    ``DCG_u = sum_{r<=k} rel_u(r) / log2(r + 1)``,
    ``IDCG_u = sum_{r=1}^{min(k, |T_u|)} 1 / log2(r + 1)``, ``NDCG_u = DCG_u / IDCG_u``.
    """

    _label = "ndcg"

    def _values(self, m: _Matched) -> np.ndarray:
        dcg = np.bincount(m.user, weights=m.hit / np.log2(m.rank + 1.0), minlength=len(m.users))
        idcg = _discount_table(self.k)[np.minimum(m.n_rel, self.k)]
        return dcg / idcg


@dataclass(frozen=True)
class MAP(_Ranking):
    """MAP@k (mean of average precision).

    ``AP_u = (1 / min(k, |T_u|)) * sum_{r<=k} rel_u(r) * P_u@r``, where
    ``P_u@r = (number of hits at ranks <= r) / r``.
    """

    _label = "map"

    def _values(self, m: _Matched) -> np.ndarray:
        order = np.lexsort((m.rank, m.user))
        user, rank, hit = m.user[order], m.rank[order], m.hit[order].astype(np.int64)
        cum_hits = pd.Series(hit).groupby(user).cumsum().to_numpy()
        contrib = np.where(hit > 0, cum_hits / rank, 0.0)
        total = np.bincount(user, weights=contrib, minlength=len(m.users))
        return total / np.minimum(m.n_rel, self.k)


@dataclass(frozen=True)
class AUC(Metric):
    """ROC AUC of each user's full ranking (``k`` is ignored: pass every candidate's rank).

    With ``N_u`` the listed items that are not test items and ``above(p)`` the number of them
    ranked above test item ``p``:
    ``AUC_u = (1 / |T_u|) * sum_{p in T_u listed} (1 - above(p) / |N_u|)``.
    Test items missing from the list count as ranked below every listed item (they add 0), the
    convention of ``lightfm.evaluation.auc_score``. Users with no listed non-test item are excluded.
    """

    k: int = 0

    @property
    def name(self) -> str:
        return "auc"

    def calc_per_user(self, reco, test=None, *, train=None, catalog=None, item_features=None):  # type: ignore[override]
        m = _match(reco, test, None)
        order = np.lexsort((m.rank, m.user))
        user, hit = m.user[order], m.hit[order].astype(np.int64)
        listed = np.bincount(user, minlength=len(m.users))
        n_pos_listed = np.bincount(user, weights=hit, minlength=len(m.users))
        n_neg = listed - n_pos_listed
        # items ranked above each row in its user's list = position within the user's list
        start = np.concatenate([[0], np.cumsum(listed)[:-1]])
        position = np.arange(len(user)) - start[user]
        pos_before = pd.Series(hit).groupby(user).cumsum().to_numpy() - hit
        neg_above = position - pos_before
        with np.errstate(divide="ignore", invalid="ignore"):
            contrib = np.where(hit > 0, 1.0 - neg_above / n_neg[user], 0.0)
        auc = np.bincount(user, weights=contrib, minlength=len(m.users)) / m.n_rel
        ok = n_neg > 0
        return per_user_series(auc[ok], m.users[ok], self.name)


def _reco_matrix(reco: pd.DataFrame, k: int) -> tuple[pd.Index, pd.Index, sp.csr_matrix]:
    """Binary users x items matrix of the top-k lists."""
    top = top_k(reco, k)
    user_codes, item_codes = text_codes(top[C.USER_ID]), text_codes(top[C.ITEM_ID])
    if user_codes is not None and item_codes is not None:
        (u_codes, users), (i_codes, items) = user_codes, item_codes
    else:
        u_codes, users = pd.factorize(top[C.USER_ID].astype(str).to_numpy(object))
        i_codes, items = pd.factorize(top[C.ITEM_ID].astype(str).to_numpy(object))
    mat = sp.csr_matrix(
        (np.ones(len(u_codes)), (u_codes, i_codes)), shape=(len(users), len(items))
    )
    mat.data = np.ones_like(mat.data)  # a duplicated row counts once
    return pd.Index(users, dtype=object), pd.Index(items, dtype=object), mat


@dataclass(frozen=True)
class CatalogCoverage(Metric):
    """Catalogue coverage@k: ``|union_u top-k_u ∩ catalog| / |catalog|`` (no per-user value)."""

    per_user: ClassVar[bool] = False
    _label = "coverage"

    def calc_per_user(self, reco, test=None, *, train=None, catalog=None, item_features=None):  # type: ignore[override]
        raise ValueError(f"{self.name} is a catalogue-level metric: use calc(), it has no per-user value")

    def calc(self, reco, test=None, *, train=None, catalog=None, item_features=None) -> float:  # type: ignore[override]
        self._check_k()
        if catalog is None:
            raise ValueError(f"{self.name} needs `catalog` (the ids of all recommendable items)")
        cat = pd.Index(pd.unique(pd.Series(list(catalog), dtype=object).astype(str)))
        if len(cat) == 0:
            raise ValueError(f"{self.name}: the catalogue is empty")
        shown = pd.unique(top_k(reco, self.k)[C.ITEM_ID].astype(str).to_numpy(object))
        return float(cat.isin(shown).sum() / len(cat))


@dataclass(frozen=True)
class Novelty(Metric):
    """Novelty@k (mean self-information of the recommended items).

    ``novelty_u = mean_{i in top-k_u} -log2((n_i + 1) / (n_users + 1))`` where ``n_i`` is the
    number of training users with item ``i`` and ``n_users`` the number of training users
    (add-one smoothing keeps never-seen items finite).
    """

    _label = "novelty"

    def calc_per_user(self, reco, test=None, *, train=None, catalog=None, item_features=None):  # type: ignore[override]
        self._check_k()
        pop, n_users = train_popularity(train)
        top = top_k(reco, self.k)
        n_i = pop.reindex(top[C.ITEM_ID].astype(str).to_numpy(object)).fillna(0).to_numpy(np.float64)
        info = -np.log2((n_i + 1.0) / (n_users + 1.0))
        s = pd.Series(info).groupby(top[C.USER_ID].astype(str).to_numpy(object), sort=False).mean()
        return per_user_series(s.to_numpy(), s.index, self.name)


@dataclass(frozen=True)
class AvgRecPopularity(Metric):
    """Average recommended popularity@k: ``mean_{i in top-k_u} n_i`` (training users per item)."""

    _label = "arp"

    def calc_per_user(self, reco, test=None, *, train=None, catalog=None, item_features=None):  # type: ignore[override]
        self._check_k()
        pop, _ = train_popularity(train)
        top = top_k(reco, self.k)
        n_i = pop.reindex(top[C.ITEM_ID].astype(str).to_numpy(object)).fillna(0).to_numpy(np.float64)
        s = pd.Series(n_i).groupby(top[C.USER_ID].astype(str).to_numpy(object), sort=False).mean()
        return per_user_series(s.to_numpy(), s.index, self.name)


@dataclass(frozen=True)
class IntraListDiversity(Metric):
    """Intra-list diversity@k: mean cosine distance between the items of a list.

    ``ILD_u = 1 - (1 / (m (m - 1))) * sum_{i != j in top-k_u} cos(x_i, x_j)`` with ``m`` the
    list length, computed as ``(||sum_i x̂_i||^2 - sum_i ||x̂_i||^2) / (m (m - 1))`` over the
    unit-normalised feature vectors ``x̂`` (items without features count as dissimilar to all).
    Lists shorter than 2 are excluded.
    """

    _label = "diversity"

    def calc_per_user(self, reco, test=None, *, train=None, catalog=None, item_features=None):  # type: ignore[override]
        self._check_k()
        if item_features is None:
            raise ValueError(f"{self.name} needs `item_features` (an ItemFeatures of item vectors)")
        users, items, r = _reco_matrix(reco, self.k)
        x = sp.csr_matrix(item_features.matrix, dtype=np.float64)
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
        x = sp.diags(np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)) @ x
        pos = pd.Index(pd.Series(item_features.item_ids, dtype=object).astype(str)).get_indexer(items)
        sel = np.where(pos >= 0, pos, 0)
        xr = sp.diags((pos >= 0).astype(np.float64)) @ x[sel]  # rows aligned with `items`
        s = r @ xr
        sq_sum = np.asarray(s.multiply(s).sum(axis=1)).ravel()
        self_sq = r @ np.asarray(xr.multiply(xr).sum(axis=1)).ravel()
        m = np.asarray(r.sum(axis=1)).ravel()
        ok = m >= 2
        sim = (sq_sum[ok] - self_sq[ok]) / (m[ok] * (m[ok] - 1))
        return per_user_series(1.0 - sim, users[ok], self.name)


@dataclass(frozen=True)
class Personalization(Metric):
    """Personalisation@k: how different users' lists are.

    ``pers_u = 1 - (1 / (n - 1)) * sum_{v != u} cos(R_u, R_v)`` where ``R_u`` is the binary item
    vector of ``u``'s top-k list and ``n`` the number of users with a list; ``calc`` is the mean,
    i.e. one minus the mean pairwise cosine similarity of the lists.
    """

    _label = "personalization"

    def calc_per_user(self, reco, test=None, *, train=None, catalog=None, item_features=None):  # type: ignore[override]
        self._check_k()
        users, _, r = _reco_matrix(reco, self.k)
        if len(users) < 2:
            raise ValueError(f"{self.name} needs at least 2 users with recommendations")
        m = np.asarray(r.sum(axis=1)).ravel()
        rn = sp.diags(1.0 / np.sqrt(m)) @ r
        total = np.asarray(rn.sum(axis=0)).ravel()
        sim = (rn @ total - 1.0) / (len(users) - 1)
        return per_user_series(1.0 - sim, users, self.name)


# --------------------------------------------------------------------------------------------
# Convenience
# --------------------------------------------------------------------------------------------


def default_metrics(k: int = 10) -> list[Metric]:
    """The metrics the pipeline reports, in display order."""
    return [
        Precision(k), Recall(k), NDCG(k), MAP(k), HitRate(k), AUC(),
        CatalogCoverage(k), Novelty(k), IntraListDiversity(k), Personalization(k), AvgRecPopularity(k),
    ]


def calc_metrics(
    metrics: Iterable[Metric], reco: pd.DataFrame, test: pd.DataFrame | None = None, *,
    train: pd.DataFrame | None = None, catalog: Iterable[Any] | None = None,
    item_features: ItemFeatures | None = None,
) -> dict[str, float]:
    """``{metric.name: metric.calc(...)}`` for every metric."""
    kw = dict(train=train, catalog=catalog, item_features=item_features)
    return {m.name: m.calc(reco, test, **kw) for m in metrics}


def calc_metrics_per_user(
    metrics: Iterable[Metric], reco: pd.DataFrame, test: pd.DataFrame | None = None, *,
    train: pd.DataFrame | None = None, catalog: Iterable[Any] | None = None,
    item_features: ItemFeatures | None = None,
) -> pd.DataFrame:
    """One column per metric that has per-user values, one row per user (outer-joined)."""
    kw = dict(train=train, catalog=catalog, item_features=item_features)
    cols = [m.calc_per_user(reco, test, **kw) for m in metrics if m.per_user]
    if not cols:
        return pd.DataFrame(index=pd.Index([], name=C.USER_ID, dtype=object))
    return pd.concat(cols, axis=1)


__all__ = [
    "Precision", "Recall", "HitRate", "NDCG", "MAP", "AUC", "CatalogCoverage", "Novelty", "AvgRecPopularity",
    "IntraListDiversity", "Personalization", "default_metrics", "calc_metrics", "calc_metrics_per_user",
]
