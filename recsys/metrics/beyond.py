"""Beyond-accuracy metrics of recommendation lists: diversity, exposure, long tail, calibration.

Same API as every metric (:class:`recsys.metrics.base.Metric`: ``calc`` and ``calc_per_user`` over a
``reco`` frame of ``user_id``, ``item_id``, ``rank``):

* **By offer group** (any items column): share of recommendation slots against share of the
  catalogue and of past interactions (:func:`offer_group_table`), the Gini coefficient of exposure
  (:class:`ExposureGini`, :func:`gini`, :func:`exposure_counts`), the long-tail share
  (:class:`LongTailShare`, :func:`head_items`), exposure parity (:class:`ExposureParity`) and
  catalogue coverage (:class:`recsys.metrics.ranking.CatalogCoverage`).
* **Per list**: intra-list diversity by offer facts (:class:`recsys.metrics.ranking.IntraListDiversity`)
  and by embeddings (:class:`EmbeddingDiversity`), category entropy (:class:`CategoryEntropy`),
  novelty (:class:`recsys.metrics.ranking.Novelty`), calibration (:class:`Calibration`) and
  personalisation (:class:`recsys.metrics.ranking.Personalization`).

:func:`list_metrics` is the set an audit reports. Offers missing from an ``item_groups`` Series
form the group ``(not in offer table)``.

>>> gini([1, 1, 1, 1]), round(gini([0, 0, 0, 4]), 2)
(0.0, 0.75)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterable, Protocol

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.core import columns as C
from recsys.metrics.base import (
    GROUP_COLUMN,
    MISSING,
    UNKNOWN_ITEM,
    ItemFeatures,
    Metric,
    check_frame,
    per_user_series,
    train_popularity,
    user_lists,
)
from recsys.metrics.ranking import CatalogCoverage, IntraListDiversity, Novelty, Personalization



class HybridRecommender(Protocol):
    """What the feature helpers read of a fitted hybrid model (metrics import only ``recsys.core``)."""

    item_index_: Any

    def item_representations(self) -> tuple[np.ndarray, np.ndarray]: ...

    def item_side_features(self) -> Any: ...


def _item_group_codes(items: np.ndarray, item_groups: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Group code of each item (items without a group get ``(not in offer table)``)."""
    lookup = pd.Series(item_groups.astype("string").fillna(MISSING).astype(object).to_numpy(object),
                       index=pd.Index(item_groups.index.astype(str), dtype=object))
    lookup = lookup[~lookup.index.duplicated()]
    # each distinct offer is looked up once (lists repeat a few hundred offers over many rows)
    rows, distinct = pd.factorize(np.asarray(items, dtype=object), use_na_sentinel=False)
    labels = lookup.reindex(distinct).fillna(UNKNOWN_ITEM).to_numpy(object)
    codes, groups = pd.factorize(labels, sort=True)
    return codes.astype(np.int64)[rows], pd.Index(groups, dtype=object)


class EmbeddingDiversity(IntraListDiversity):
    """Intra-list diversity@k by the model's offer embeddings (cosine distance).

    The formula of :class:`recsys.metrics.ranking.IntraListDiversity` with ``x_i`` the embedding of
    offer ``i``: pass ``item_features=embedding_features(model)``. Embeddings can point in opposite
    directions, so values range over [0, 2].
    """

    _label = "diversity_emb"


def embedding_features(model: HybridRecommender) -> ItemFeatures:
    """The model's offer embeddings as :class:`ItemFeatures` (for :class:`EmbeddingDiversity`)."""
    _, vectors = model.item_representations()
    return ItemFeatures(np.asarray(model.item_index_.ids, dtype=object), sp.csr_matrix(np.asarray(vectors, dtype=np.float64)))


def side_features(model: HybridRecommender) -> ItemFeatures | None:
    """The model's offer facts (no identity columns) as :class:`ItemFeatures`, or None without any."""
    mat = model.item_side_features()
    if mat.shape[1] == 0:
        return None
    return ItemFeatures(np.asarray(model.item_index_.ids, dtype=object), sp.csr_matrix(mat, dtype=np.float64))


@dataclass(frozen=True)
class CategoryEntropy(Metric):
    """Shannon entropy (bits) of the offer groups in each list.

    ``H_u = - sum_c p_uc log2 p_uc`` with ``p_uc`` the share of ``u``'s top-k offers in group
    ``c`` of ``item_groups`` (an ``item_id`` -> group Series; offers missing from it form one
    group). 0 = one group only; ``log2(m)`` = ``m`` offers from ``m`` different groups.
    """

    item_groups: pd.Series | None = field(default=None, compare=False, hash=False)
    _label = "entropy"

    def calc_per_user(self, reco, test=None, *, train=None, catalog=None, item_features=None):  # type: ignore[override]
        self._check_k()
        if self.item_groups is None:
            raise ValueError(f"{self.name} needs `item_groups` (a Series mapping item_id to a group)")
        users, u, items = user_lists(reco, self.k)
        g, groups = _item_group_codes(items, self.item_groups)
        counts = sp.csr_matrix((np.ones(len(u)), (u, g)), shape=(len(users), max(len(groups), 1)))
        counts.sum_duplicates()
        m = np.asarray(counts.sum(axis=1)).ravel()
        coo = counts.tocoo()
        p = coo.data / m[coo.row]
        h = np.bincount(coo.row, weights=-p * np.log2(p), minlength=len(users))
        return per_user_series(h, users, self.name)


@dataclass(frozen=True)
class Calibration(Metric):
    """Miscalibration (KL divergence, bits) between a customer's history mix and their list mix.

    With ``p_u(c)`` the share of ``u``'s distinct training offers in group ``c`` and ``q_u(c)``
    the share of their top-k offers in ``c`` (Steck 2018):
    ``KL_u = sum_{c: p_u(c) > 0} p_u(c) log2(p_u(c) / q~_u(c))``, ``q~ = (1 - alpha) q + alpha p``
    (the smoothing keeps it finite). 0 = the list has the history's mix. Users with no training
    history or no list are left out.
    """

    item_groups: pd.Series | None = field(default=None, compare=False, hash=False)
    alpha: float = 0.01
    _label = "miscalibration"

    def calc_per_user(self, reco, test=None, *, train=None, catalog=None, item_features=None):  # type: ignore[override]
        self._check_k()
        if self.item_groups is None:
            raise ValueError(f"{self.name} needs `item_groups` (a Series mapping item_id to a group)")
        if not 0 < self.alpha < 1:
            raise ValueError(f"{self.name}: alpha must be in (0, 1), got {self.alpha!r}")
        train = check_frame(train, "train", (C.USER_ID, C.ITEM_ID))
        users, u, items = user_lists(reco, self.k)
        hist = train[[C.USER_ID, C.ITEM_ID]].astype(str).drop_duplicates()
        hu = users.get_indexer(hist[C.USER_ID].to_numpy(object))
        keep = hu >= 0
        h_items = hist[C.ITEM_ID].to_numpy(object)[keep]
        codes, groups = _item_group_codes(np.concatenate([items, h_items]), self.item_groups)
        shape = (len(users), max(len(groups), 1))
        q = _row_shares(sp.csr_matrix((np.ones(len(u)), (u, codes[: len(u)])), shape=shape))
        p = _row_shares(sp.csr_matrix((np.ones(int(keep.sum())), (hu[keep], codes[len(u):])), shape=shape)).tocoo()
        q_at = np.asarray(q[p.row, p.col]).ravel()
        smoothed = (1 - self.alpha) * q_at + self.alpha * p.data
        kl = np.bincount(p.row, weights=p.data * np.log2(p.data / smoothed), minlength=len(users))
        has_history = np.bincount(p.row, minlength=len(users)) > 0
        return per_user_series(kl[has_history], users[has_history], self.name)


def _row_shares(mat: sp.csr_matrix) -> sp.csr_matrix:
    mat = sp.csr_matrix(mat)
    mat.sum_duplicates()
    sums = np.asarray(mat.sum(axis=1)).ravel()
    return sp.csr_matrix(sp.diags(np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)) @ mat)


def _catalogue(catalog: Iterable[Any] | None, name: str) -> pd.Index:
    if catalog is None:
        raise ValueError(f"{name} needs `catalog` (the ids of all recommendable items)")
    cat = pd.Index(pd.unique(pd.Series(list(catalog), dtype=object).astype(str)), dtype=object)
    if len(cat) == 0:
        raise ValueError(f"{name}: the catalogue is empty")
    return cat


def exposure_counts(reco: pd.DataFrame, k: int | None, catalog: Iterable[Any] | None = None) -> pd.Series:
    """Top-k slots per offer (index ``item_id``); with ``catalog``, every catalogue offer (0 if unshown)."""
    _, _, items = user_lists(reco, k)
    counts = pd.Series(items, dtype=object).value_counts()
    if catalog is not None:
        cat = _catalogue(catalog, "exposure_counts")
        counts = counts.reindex(cat.union(counts.index, sort=False), fill_value=0)
    return counts.rename_axis(C.ITEM_ID).rename("slots")


def gini(counts: np.ndarray | pd.Series) -> float:
    """Gini coefficient of non-negative counts: 0 = equal, (n - 1) / n = all on one.

    With the counts sorted ascending, ``x_(1) <= ... <= x_(n)``:
    ``G = sum_i (2 i - n - 1) x_(i) / (n sum_i x_i)``; 0 for no counts or an all-zero vector.
    """
    x = np.sort(np.asarray(counts, dtype=np.float64))
    n, total = len(x), x.sum()
    if n == 0 or total <= 0:
        return 0.0
    return float(np.sum((2 * np.arange(1, n + 1) - n - 1) * x) / (n * total))


@dataclass(frozen=True)
class ExposureGini(Metric):
    """Gini coefficient of exposure@k over the catalogue (no per-user value).

    ``x_i`` = number of top-k slots of offer ``i`` (0 for catalogue offers never shown);
    ``G = sum_i (2 i - n - 1) x_(i) / (n sum x)`` over the ascending counts (see :func:`gini`).
    0 = every offer shown equally often; near 1 = a few offers take every slot.
    """

    per_user: ClassVar[bool] = False
    _label = "exposure_gini"

    def calc_per_user(self, reco, test=None, *, train=None, catalog=None, item_features=None):  # type: ignore[override]
        raise ValueError(f"{self.name} is a catalogue-level metric: use calc(), it has no per-user value")

    def calc(self, reco, test=None, *, train=None, catalog=None, item_features=None) -> float:  # type: ignore[override]
        self._check_k()
        return gini(exposure_counts(reco, self.k, _catalogue(catalog, self.name)).to_numpy())


def head_items(train: pd.DataFrame | None, catalog: Iterable[Any] | None, head_share: float) -> pd.Index:
    """The "short head": the ``ceil(head_share * |catalog|)`` most popular catalogue offers.

    Popularity = distinct training users per offer; ties go to the smaller id (text order).
    """
    if not 0 < head_share < 1:
        raise ValueError(f"head_share must be in (0, 1), got {head_share!r}")
    pop, _ = train_popularity(train)
    cat = _catalogue(catalog, "long-tail share")
    frame = pd.DataFrame({C.ITEM_ID: cat.to_numpy(object), "n": pop.reindex(cat).fillna(0).to_numpy(np.float64)})
    frame = frame.sort_values(["n", C.ITEM_ID], ascending=[False, True], kind="stable")
    return pd.Index(frame[C.ITEM_ID].iloc[: math.ceil(head_share * len(cat))], dtype=object)


@dataclass(frozen=True)
class LongTailShare(Metric):
    """Long-tail share@k: the share of each list outside the short head.

    ``tail_u = |top-k_u \\ H| / |top-k_u|`` with ``H`` the ``ceil(head_share * |catalog|)`` most
    popular catalogue offers by distinct training users (:func:`head_items`). Needs ``train`` and
    ``catalog``.
    """

    head_share: float = 0.2
    _label = "long_tail"

    def calc_per_user(self, reco, test=None, *, train=None, catalog=None, item_features=None):  # type: ignore[override]
        self._check_k()
        head = head_items(train, catalog, self.head_share)
        users, u, items = user_lists(reco, self.k)
        tail = head.get_indexer(items) < 0
        m = np.bincount(u, minlength=len(users))
        return per_user_series(np.bincount(u, weights=tail, minlength=len(users)) / np.maximum(m, 1), users, self.name)


@dataclass(frozen=True)
class ExposureParity(Metric):
    """Exposure parity@k across offer groups (no per-user value).

    Per offer group ``c``: ``E_c = slot_share_c / catalogue_share_c`` (1 = the group gets its fair
    share of the top-k slots); ``calc = min_c E_c / max_c E_c`` over the groups of the catalogue
    (1 = every group exposed in proportion to its size, 0 = some group never shown).
    """

    item_groups: pd.Series | None = field(default=None, compare=False, hash=False)
    per_user: ClassVar[bool] = False
    _label = "exposure_parity"

    def calc_per_user(self, reco, test=None, *, train=None, catalog=None, item_features=None):  # type: ignore[override]
        raise ValueError(f"{self.name} is a catalogue-level metric: use calc(), it has no per-user value")

    def calc(self, reco, test=None, *, train=None, catalog=None, item_features=None) -> float:  # type: ignore[override]
        self._check_k()
        if self.item_groups is None:
            raise ValueError(f"{self.name} needs `item_groups` (a Series mapping item_id to a group)")
        return exposure_parity(offer_group_table(reco, self.item_groups, self.k, catalog))


def exposure_parity(table: pd.DataFrame) -> float:
    """:class:`ExposureParity` of an :func:`offer_group_table` (its ``exposure_ratio``, whatever its ``train``)."""
    e = table["exposure_ratio"].to_numpy(np.float64)
    e = e[np.isfinite(e)]
    return float(e.min() / e.max()) if len(e) and e.max() > 0 else 0.0


def list_metrics(
    k: int, *, item_groups: pd.Series | None = None, with_features: bool = True, with_embeddings: bool = True,
) -> list[Metric]:
    """The beyond-accuracy metrics of an audit, in display order."""
    out: list[Metric] = [CatalogCoverage(k), ExposureGini(k), LongTailShare(k), Novelty(k)]
    if with_features:
        out.append(IntraListDiversity(k))
    if with_embeddings:
        out.append(EmbeddingDiversity(k))
    if item_groups is not None:
        out += [CategoryEntropy(k, item_groups=item_groups), Calibration(k, item_groups=item_groups),
                ExposureParity(k, item_groups=item_groups)]
    out.append(Personalization(k))
    return out


def offer_group_table(
    reco: pd.DataFrame,
    item_groups: pd.Series,
    k: int | None,
    catalog: Iterable[Any] | None = None,
    train: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Exposure of each offer group: share of recommendation slots vs catalogue vs history.

    Per group ``c`` of ``item_groups`` (``item_id`` -> group):

    * ``slot_share = slots_c / sum slots`` over the top-k rows;
    * ``catalogue_share = |catalog ∩ c| / |catalog|`` (needs ``catalog``);
    * ``interaction_share`` = share of the distinct training (user, offer) pairs in ``c``
      (needs ``train``);
    * ``exposure_ratio = slot_share / catalogue_share`` (1 = exposed in proportion to its size),
      ``vs_history = slot_share / interaction_share``;
    * ``coverage`` = share of the group's catalogue offers shown at least once.

    Returns
    -------
    pd.DataFrame
        One row per group with ``offers`` (catalogue offers), ``shown`` (distinct shown),
        ``slots`` and the shares, most-exposed first.
    """
    _, _, items = user_lists(reco, k)
    cat = _catalogue(catalog, "offer_group_table") if catalog is not None else pd.Index(pd.unique(items), dtype=object)
    universe = cat.union(pd.Index(pd.unique(items), dtype=object), sort=False)
    codes, groups = _item_group_codes(universe.to_numpy(object), item_groups)
    item_code = pd.Series(codes, index=universe)
    G = len(groups)
    rows, shown_items = pd.factorize(items, use_na_sentinel=False)  # the distinct shown offers
    slots = np.bincount(item_code.reindex(shown_items).to_numpy(np.int64)[rows], minlength=G) if len(items) else np.zeros(G, np.int64)
    in_cat = universe.isin(cat)
    n_cat = np.bincount(codes[in_cat], minlength=G)
    shown = np.bincount(item_code.reindex(pd.Index(shown_items, dtype=object)).to_numpy(np.int64), minlength=G) if len(items) else np.zeros(G, np.int64)
    shown_in_cat = np.bincount(item_code.reindex(cat.intersection(pd.Index(shown_items, dtype=object))).to_numpy(np.int64), minlength=G)
    table = pd.DataFrame({GROUP_COLUMN: groups.to_numpy(object), "offers": n_cat, "shown": shown, "slots": slots})
    total = max(int(slots.sum()), 1)
    table["slot_share"] = slots / total
    table["catalogue_share"] = n_cat / max(len(cat), 1) if catalog is not None else np.nan
    if train is not None:
        pairs = check_frame(train, "train", (C.USER_ID, C.ITEM_ID))[[C.USER_ID, C.ITEM_ID]].astype(str).drop_duplicates()
        t_codes, t_groups = _item_group_codes(pairs[C.ITEM_ID].to_numpy(object), item_groups)
        per = pd.Series(np.bincount(t_codes, minlength=len(t_groups)), index=t_groups)
        table["interaction_share"] = per.reindex(groups).fillna(0).to_numpy(np.float64) / max(len(pairs), 1)
    else:
        table["interaction_share"] = np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        table["exposure_ratio"] = np.where(table["catalogue_share"] > 0, table["slot_share"] / table["catalogue_share"], np.nan)
        table["vs_history"] = np.where(table["interaction_share"] > 0, table["slot_share"] / table["interaction_share"], np.nan)
        table["coverage"] = np.where(n_cat > 0, shown_in_cat / np.maximum(n_cat, 1), np.nan)
    return table.sort_values(["slot_share", GROUP_COLUMN], ascending=[False, True], kind="stable").reset_index(drop=True)


__all__ = [
    "EmbeddingDiversity", "embedding_features", "side_features", "CategoryEntropy", "Calibration",
    "exposure_counts", "gini", "ExposureGini", "head_items", "LongTailShare", "ExposureParity", "exposure_parity",
    "offer_group_table", "list_metrics",
]
