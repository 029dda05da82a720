"""Fairness and diversity audits, and re-ranking that fixes what they find.

Three kinds of questions, one metric API (:class:`recsys.metrics.ranking.Metric`: ``calc`` and
``calc_per_user`` over a ``reco`` frame of ``user_id``, ``item_id``, ``rank``):

* **By customer group** (any users column, sensitive ones included): accuracy per group with the
  gap and ratio between the best and the worst group and stratified bootstrap intervals
  (:func:`group_table`, :func:`group_gaps`); for an offer list or a targeting list, the rate at
  which each group is offered *favourable* offers (e.g. ``discount_depth >= 30``) and the mean
  value offered, with the disparate-impact ratio against the most-offered group and the
  four-fifths rule (:func:`offer_rates`, :class:`FavourableShare`, :class:`DisparateImpact`).
* **By offer group** (any items column): share of recommendation slots against share of the
  catalogue and of past interactions (:func:`offer_group_table`), the Gini coefficient of exposure
  (:class:`ExposureGini`), the long-tail share (:class:`LongTailShare`), exposure parity
  (:class:`ExposureParity`) and catalogue coverage (``recsys.metrics.ranking.CatalogCoverage``).
* **Per list**: intra-list diversity by offer facts (``recsys.metrics.ranking.IntraListDiversity``) and by
  embeddings (:class:`EmbeddingDiversity`), category entropy (:class:`CategoryEntropy`), novelty
  (``recsys.metrics.ranking.Novelty``), calibration (:class:`Calibration`) and personalisation
  (``recsys.metrics.ranking.Personalization``).

Re-ranking (:class:`RerankSettings`, :func:`rerank`): maximal marginal relevance for diversity,
and exposure-aware boosting or capping of an offer group (optionally for chosen customer groups
only), each with one ``strength`` in [0, 1] (0 = the model's own order). :func:`tradeoff_sweep`
measures accuracy on held-out data (:func:`evaluation_setup` rebuilds the run's split) against
diversity and parity over a range of strengths. A chosen setting is stored with the run
(:func:`save_rerank`) and applied to recommendation lists by :func:`rerank_for_run` /
:func:`recommend_for_run`, and to campaign allocation through :func:`score_adjuster`.

:func:`audit` runs everything for a workspace run and words its findings (:func:`audit_flags`);
:func:`tradeoff_template` and :func:`audit_tradeoff` turn an audit into a trade-off curve. The
Fairness page and ``promolens audit`` call exactly these functions.

Group labels: a missing value is ``(missing)``; a customer absent from the customers table is
``(not in customer table)``.

>>> reco = pd.DataFrame({"user_id": ["a", "a", "b", "b"], "item_id": ["x", "y", "x", "z"],
...                      "rank": [1, 2, 1, 2]})
>>> FavourableShare(k=2, favourable=("x",)).calc_per_user(reco).to_dict()
{'a': 0.5, 'b': 0.5}
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.core import columns as C
from recsys.metrics.ranking import (
    NDCG,
    CatalogCoverage,
    IntraListDiversity,
    ItemFeatures,
    Metric,
    Novelty,
    Personalization,
    Precision,
    Recall,
    _check_frame,
    _per_user,
    _top_k,
    _train_popularity,
)

#: The four-fifths rule: a group offered less than this share of the best group's rate is flagged.
FOUR_FIFTHS = 0.8
MISSING = "(missing)"
NOT_IN_TABLE = "(not in customer table)"
UNKNOWN_ITEM = "(not in offer table)"
#: Column of group labels in every group table (not a data-contract column, so it lives here).
GROUP_COLUMN = "group"
#: Default favourable offers: the deep discounts.
DEFAULT_FAVOURABLE_COLUMN = "discount_depth"
DEFAULT_FAVOURABLE_MIN = 30.0
#: Unique pool items up to which MMR uses a dense item x item similarity matrix.
DENSE_SIMILARITY_MAX_ITEMS = 4096
#: About this many cells (users x pool items) are re-ranked at once.
RERANK_BLOCK_CELLS = 1 << 21
ProgressCallback = Callable[[str, float], None]


# ============================================================================================
# Which offers and which customers: small JSON-able rules
# ============================================================================================


@dataclass(frozen=True)
class ItemRule:
    """A group of offers defined on one items column (favourable offers, offers to boost or cap).

    Text columns: the offers whose value is in ``values``. Number columns: the offers with
    ``min_value <= value <= max_value`` (either bound may be left out).

    >>> items = pd.DataFrame({"item_id": ["a", "b"], "discount_depth": [10.0, 40.0]})
    >>> ItemRule("discount_depth", min_value=30).item_ids(items).tolist()
    ['b']
    """

    column: str
    values: tuple[str, ...] = ()
    min_value: float | None = None
    max_value: float | None = None

    def __post_init__(self) -> None:
        values = (self.values,) if isinstance(self.values, str) else self.values
        object.__setattr__(self, "values", tuple(str(v) for v in values))

    @property
    def numeric(self) -> bool:
        return self.min_value is not None or self.max_value is not None

    def validate(self, items: pd.DataFrame | None = None) -> None:
        if not self.column:
            raise ValueError("an offer rule needs a column")
        if self.numeric and self.values:
            raise ValueError(f"offer rule on '{self.column}': give either values or a min/max range, not both")
        if not self.numeric and not self.values:
            raise ValueError(f"offer rule on '{self.column}': give the values (or a min/max range) that define the group")
        if items is not None and self.column not in items.columns:
            raise ValueError(
                f"the offers table has no column '{self.column}'. Fix: choose one of "
                f"{', '.join(c for c in items.columns if c != C.ITEM_ID) or 'none'}."
            )
        if items is not None and self.numeric and not pd.api.types.is_numeric_dtype(items[self.column]):
            raise ValueError(f"offers column '{self.column}' is not a number column: define the group by its values instead")

    def mask(self, items: pd.DataFrame) -> np.ndarray:
        """Boolean mask over the rows of ``items``."""
        self.validate(items)
        column = items[self.column]
        if self.numeric:
            values = pd.to_numeric(column, errors="coerce").to_numpy(np.float64)
            ok = np.isfinite(values)
            if self.min_value is not None:
                ok &= values >= float(self.min_value)
            if self.max_value is not None:
                ok &= values <= float(self.max_value)
            return ok
        return column.astype("string").isin(self.values).fillna(False).to_numpy(bool)

    def item_ids(self, items: pd.DataFrame) -> np.ndarray:
        """Ids (as text) of the offers in the group."""
        return items.loc[self.mask(items), C.ITEM_ID].astype(str).to_numpy(object)

    def label(self, items: pd.DataFrame | None = None) -> str:
        """Plain words: ``discount_depth 30-60`` (the range actually found) or ``category home, toys``."""
        if not self.numeric:
            return f"{self.column.replace('_', ' ')} {', '.join(self.values)}"
        if items is not None and self.column in items.columns:
            found = pd.to_numeric(items.loc[self.mask(items), self.column], errors="coerce").dropna()
            if len(found):
                low, high = float(found.min()), float(found.max())
                return f"{self.column.replace('_', ' ')} {_num(low)}" + (f"-{_num(high)}" if high > low else "")
        low = "" if self.min_value is None else f">= {_num(float(self.min_value))}"
        high = "" if self.max_value is None else f"<= {_num(float(self.max_value))}"
        return f"{self.column.replace('_', ' ')} {' and '.join(p for p in (low, high) if p)}"

    def phrase(self, items: pd.DataFrame | None = None) -> str:
        """The offers in a sentence: ``30-80% discounts`` for a discount column, else ``offers with ...``."""
        words = self.column.lower().replace("-", "_").split("_")
        if self.numeric and items is not None and ("discount" in words or "percent" in words) and self.column in items.columns:
            found = pd.to_numeric(items.loc[self.mask(items), self.column], errors="coerce").dropna()
            if len(found):
                low, high = float(found.min()), float(found.max())
                return f"{_num(low)}" + (f"-{_num(high)}" if high > low else "") + "% discounts"
        return f"offers with {self.label(items)}"

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "values": list(self.values), "min_value": self.min_value, "max_value": self.max_value}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ItemRule":
        return cls(str(data["column"]), tuple(data.get("values") or ()), data.get("min_value"), data.get("max_value"))

    @classmethod
    def parse(cls, text: str) -> "ItemRule":
        """``"discount_depth>=30"``, ``"discount_depth<=10"``, ``"category=home,toys"``."""
        for op in (">=", "<=", "="):
            if op in text:
                column, value = (part.strip() for part in text.split(op, 1))
                if not column or not value:
                    break
                if op == "=":
                    return cls(column, tuple(v.strip() for v in value.split(",") if v.strip()))
                try:
                    number = float(value)
                except ValueError:
                    raise ValueError(f"offer rule {text!r}: {value!r} is not a number") from None
                return cls(column, min_value=number) if op == ">=" else cls(column, max_value=number)
        raise ValueError(f"offer rule {text!r}: write COLUMN>=NUMBER, COLUMN<=NUMBER or COLUMN=VALUE[,VALUE...]")


@dataclass(frozen=True)
class UserRule:
    """A group of customers: those whose ``column`` value is in ``values``."""

    column: str
    values: tuple[str, ...]

    def __post_init__(self) -> None:
        values = (self.values,) if isinstance(self.values, str) else self.values
        object.__setattr__(self, "values", tuple(str(v) for v in values))

    def validate(self, users: pd.DataFrame | None = None) -> None:
        if not self.column or not self.values:
            raise ValueError("a customer rule needs a column and at least one value")
        if users is not None and self.column not in users.columns:
            raise ValueError(
                f"the customers table has no column '{self.column}'. Fix: choose one of "
                f"{', '.join(c for c in users.columns if c != C.USER_ID) or 'none'}."
            )

    def user_ids(self, users: pd.DataFrame) -> np.ndarray:
        self.validate(users)
        labels = group_labels(users, self.column)
        return labels.index[labels.isin(self.values).to_numpy()].to_numpy(object)

    def label(self) -> str:
        return customers_phrase(self.column, ", ".join(self.values))

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "values": list(self.values)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "UserRule":
        return cls(str(data["column"]), tuple(data.get("values") or ()))


def default_favourable(items: pd.DataFrame | None) -> ItemRule | None:
    """``discount_depth >= 30`` when the offers table has a numeric ``discount_depth``, else None."""
    if items is not None and DEFAULT_FAVOURABLE_COLUMN in items.columns and pd.api.types.is_numeric_dtype(items[DEFAULT_FAVOURABLE_COLUMN]):
        return ItemRule(DEFAULT_FAVOURABLE_COLUMN, min_value=DEFAULT_FAVOURABLE_MIN)
    return None


def group_labels(table: pd.DataFrame, column: str, key: str = C.USER_ID) -> pd.Series:
    """Text group label per id (index: the ids as text); missing values are ``(missing)``.

    Numeric columns with more than 12 distinct values are cut into quintiles (``[a, b]`` labels).
    """
    _check_frame(table, "table", (key, column))
    values = table[column]
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values) and values.nunique() > 12:
        values = pd.qcut(values, 5, duplicates="drop").astype("string")
    labels = values.astype("string").fillna(MISSING).astype(object)
    out = pd.Series(labels.to_numpy(object), index=pd.Index(table[key].astype(str).to_numpy(object), name=key), name=column)
    return out[~out.index.duplicated()]


def customers_phrase(column: str, value: str) -> str:
    """``customers aged 55+`` for an age column, else ``customers with region = north``."""
    words = column.lower().replace("-", "_").split("_")
    if "age" in words:
        return f"customers aged {value}"
    return f"customers with {column.replace('_', ' ')} = {value}"


def _num(x: float) -> str:
    return f"{x:g}"


# ============================================================================================
# Metrics (same API as recsys.metrics.ranking)
# ============================================================================================


def _lists(reco: pd.DataFrame, k: int | None) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    """Users (in order of appearance), the user position and the item id (text) of every top-k row."""
    top = _top_k(reco, k)
    codes, users = pd.factorize(top[C.USER_ID].astype(str).to_numpy(object))
    return pd.Index(users, dtype=object), codes.astype(np.int64), top[C.ITEM_ID].astype(str).to_numpy(object)


def _item_group_codes(items: np.ndarray, item_groups: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Group code of each item (items without a group get ``(not in offer table)``)."""
    lookup = pd.Series(item_groups.astype("string").fillna(MISSING).astype(object).to_numpy(object),
                       index=pd.Index(item_groups.index.astype(str), dtype=object))
    lookup = lookup[~lookup.index.duplicated()]
    labels = lookup.reindex(items).fillna(UNKNOWN_ITEM).to_numpy(object)
    codes, groups = pd.factorize(labels, sort=True)
    return codes.astype(np.int64), pd.Index(groups, dtype=object)


@dataclass(frozen=True)
class FavourableShare(Metric):
    """Share of favourable offers in each list.

    ``fav_u = |top-k_u ∩ F| / |top-k_u|`` for the favourable offers ``F`` (e.g. the deep
    discounts); lists shorter than ``k`` (a small catalogue) are divided by their own length.
    ``calc`` is the mean over users with a list.
    """

    favourable: tuple[str, ...] = ()
    _label = "favourable_share"

    def calc_per_user(self, reco, test=None, *, train=None, catalog=None, item_features=None):  # type: ignore[override]
        self._check_k()
        users, u, items = _lists(reco, self.k)
        fav = pd.Index(pd.unique(np.asarray(self.favourable, dtype=object).astype(str))).get_indexer(items) >= 0
        m = np.bincount(u, minlength=len(users))
        return _per_user(np.bincount(u, weights=fav, minlength=len(users)) / np.maximum(m, 1), users, self.name)


@dataclass(frozen=True)
class DisparateImpact(Metric):
    """Disparate-impact ratio of favourable offers across customer groups (four-fifths rule).

    With ``fav_u`` of :class:`FavourableShare` and ``rate_g = mean_{u in g} fav_u`` over the
    customers of group ``g`` that have a list, ``DI_g = rate_g / max_h rate_h``; ``calc`` is
    ``min_g DI_g`` over the non-empty groups (1 = parity, < 0.8 fails the four-fifths rule).
    ``groups`` maps ``user_id`` to a group label (customers missing from it form the group
    ``(not in customer table)``). ``calc_per_user`` gives ``fav_u``.
    """

    favourable: tuple[str, ...] = ()
    groups: pd.Series | None = field(default=None, compare=False, hash=False)
    _label = "disparate_impact"

    def calc_per_user(self, reco, test=None, *, train=None, catalog=None, item_features=None):  # type: ignore[override]
        return FavourableShare(self.k, self.favourable).calc_per_user(reco)

    def calc_per_group(self, reco: pd.DataFrame) -> pd.DataFrame:
        """``group``, ``customers``, ``rate`` and ``ratio`` (DI_g) per group, worst first."""
        if self.groups is None:
            raise ValueError(f"{self.name} needs `groups` (a Series mapping user_id to a group)")
        fav = self.calc_per_user(reco)
        label = _label_users(fav.index, self.groups)
        table = fav.groupby(label.to_numpy(object)).agg(["size", "mean"])
        table.columns = ["customers", "rate"]
        best = table["rate"].max()
        table["ratio"] = table["rate"] / best if best > 0 else np.nan
        return table.rename_axis(GROUP_COLUMN).reset_index().sort_values("ratio", kind="stable").reset_index(drop=True)

    def calc(self, reco, test=None, *, train=None, catalog=None, item_features=None) -> float:  # type: ignore[override]
        table = self.calc_per_group(reco)
        if table.empty:
            raise ValueError(f"{self.name}: no customer with a list")
        return float(table["ratio"].min()) if table["rate"].max() > 0 else 1.0


def _label_users(users: pd.Index | np.ndarray, groups: pd.Series) -> pd.Series:
    g = pd.Series(groups.astype("string").fillna(MISSING).astype(object).to_numpy(object),
                  index=pd.Index(pd.Index(groups.index).astype(str), dtype=object))
    g = g[~g.index.duplicated()]
    return g.reindex(pd.Index(users).astype(str)).fillna(NOT_IN_TABLE)


@dataclass(frozen=True)
class MeanItemValue(Metric):
    """Mean of a numeric offer column (e.g. discount depth) over each list.

    ``value_u = mean_{i in top-k_u, v_i known} v_i``; users whose listed offers all lack a value
    are left out. ``values`` maps ``item_id`` to the number.
    """

    values: pd.Series | None = field(default=None, compare=False, hash=False)
    _label = "mean_value"

    def calc_per_user(self, reco, test=None, *, train=None, catalog=None, item_features=None):  # type: ignore[override]
        self._check_k()
        if self.values is None:
            raise ValueError(f"{self.name} needs `values` (a Series mapping item_id to a number)")
        users, u, items = _lists(reco, self.k)
        lookup = pd.Series(pd.to_numeric(self.values, errors="coerce").to_numpy(np.float64),
                           index=pd.Index(self.values.index.astype(str), dtype=object))
        v = lookup[~lookup.index.duplicated()].reindex(items).to_numpy(np.float64)
        ok = np.isfinite(v)
        n = np.bincount(u[ok], minlength=len(users))
        total = np.bincount(u[ok], weights=v[ok], minlength=len(users))
        keep = n > 0
        return _per_user(total[keep] / n[keep], users[keep], self.name)


class EmbeddingDiversity(IntraListDiversity):
    """Intra-list diversity@k by the model's offer embeddings (cosine distance).

    The formula of :class:`recsys.metrics.ranking.IntraListDiversity` with ``x_i`` the embedding of
    offer ``i``: pass ``item_features=embedding_features(model)``. Embeddings can point in opposite
    directions, so values range over [0, 2].
    """

    _label = "diversity_emb"


def embedding_features(model: Any) -> ItemFeatures:
    """The model's offer embeddings as :class:`ItemFeatures` (for :class:`EmbeddingDiversity`)."""
    _, vectors = model.item_representations()
    return ItemFeatures(np.asarray(model.item_index_.ids, dtype=object), sp.csr_matrix(np.asarray(vectors, dtype=np.float64)))


def side_features(model: Any) -> ItemFeatures | None:
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
        users, u, items = _lists(reco, self.k)
        g, groups = _item_group_codes(items, self.item_groups)
        counts = sp.csr_matrix((np.ones(len(u)), (u, g)), shape=(len(users), max(len(groups), 1)))
        counts.sum_duplicates()
        m = np.asarray(counts.sum(axis=1)).ravel()
        coo = counts.tocoo()
        p = coo.data / m[coo.row]
        h = np.bincount(coo.row, weights=-p * np.log2(p), minlength=len(users))
        return _per_user(h, users, self.name)


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
        train = _check_frame(train, "train", (C.USER_ID, C.ITEM_ID))
        users, u, items = _lists(reco, self.k)
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
        return _per_user(kl[has_history], users[has_history], self.name)


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
    _, _, items = _lists(reco, k)
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
    pop, _ = _train_popularity(train)
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
        users, u, items = _lists(reco, self.k)
        tail = head.get_indexer(items) < 0
        m = np.bincount(u, minlength=len(users))
        return _per_user(np.bincount(u, weights=tail, minlength=len(users)) / np.maximum(m, 1), users, self.name)


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
        table = offer_group_table(reco, self.item_groups, self.k, catalog)
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


# ============================================================================================
# Customer groups: per-group means with bootstrap intervals, gaps and ratios
# ============================================================================================


def bootstrap_group_means(
    values: np.ndarray, codes: np.ndarray, n_groups: int, n_boot: int = 200, seed: int = 0,
) -> np.ndarray:
    """Group means of ``values`` over ``n_boot`` stratified bootstrap resamples.

    Each draw resamples, with replacement, as many customers as each group has from that group
    (group sizes stay fixed), so a group of one always gives its one value. Vectorised over
    customers and over blocks of draws (no loop over customers).

    Returns
    -------
    np.ndarray
        ``(n_boot, n_groups)``; ``nan`` for empty groups.
    """
    values = np.asarray(values, dtype=np.float64)
    codes = np.asarray(codes, dtype=np.int64)
    order = np.argsort(codes, kind="stable")
    v, c = values[order], codes[order]
    sizes = np.bincount(c, minlength=n_groups)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    rng = np.random.default_rng(seed)
    out = np.full((n_boot, n_groups), np.nan)
    if len(v) == 0:
        return out
    block = max(1, (1 << 22) // len(v))
    denom = np.where(sizes > 0, sizes, np.nan)
    for b0 in range(0, n_boot, block):  # blocks of draws, each fully vectorised
        nb = min(block, n_boot - b0)
        draw = starts[c] + np.floor(rng.random((nb, len(v))) * sizes[c]).astype(np.int64)
        flat = (np.arange(nb)[:, None] * n_groups + c[None, :]).ravel()
        sums = np.bincount(flat, weights=v[draw].ravel(), minlength=nb * n_groups).reshape(nb, n_groups)
        out[b0:b0 + nb] = sums / denom
    return out


def _codes(labels: pd.Series, levels: Iterable[str] | None) -> tuple[np.ndarray, pd.Index]:
    observed = pd.Index(sorted(pd.unique(labels.to_numpy(object)), key=str), dtype=object)
    groups = observed if levels is None else pd.Index(list(dict.fromkeys([*map(str, levels), *observed])), dtype=object)
    return groups.get_indexer(labels.to_numpy(object)).astype(np.int64), groups


def group_table(
    per_user: pd.DataFrame | pd.Series,
    groups: pd.Series,
    metrics: Iterable[str] | None = None,
    *,
    levels: Iterable[str] | None = None,
    n_boot: int = 200,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Mean of per-user metrics by customer group, with stratified bootstrap intervals.

    Parameters
    ----------
    per_user
        One row per user (index ``user_id`` or a ``user_id`` column), one column per metric (a
        Series is one metric).
    groups
        ``user_id`` -> group label (e.g. :func:`group_labels`); users missing from it form the
        group ``(not in customer table)``.
    metrics
        Columns to summarise (default: all numeric columns).
    levels
        Groups to report even when empty (e.g. every category of the column).
    n_boot, confidence, seed
        Bootstrap draws, interval level and seed (percentile intervals of
        :func:`bootstrap_group_means`).

    Returns
    -------
    pd.DataFrame
        ``metric``, ``group``, ``customers``, ``mean``, ``ci_low``, ``ci_high``: per metric, the
        users with a value (``nan`` metric values are left out). Empty groups have
        ``customers = 0`` and ``nan`` statistics.
    """
    frame = per_user.to_frame() if isinstance(per_user, pd.Series) else per_user
    if C.USER_ID in frame.columns:
        frame = frame.set_index(C.USER_ID)
    names = list(metrics) if metrics is not None else [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    missing = [m for m in names if m not in frame.columns]
    if missing:
        raise ValueError(f"per-user metrics have no column(s) {missing}; found {list(frame.columns)}")
    label = _label_users(frame.index, groups)
    codes, group_index = _codes(label, levels)
    tail = (1 - confidence) / 2
    rows = []
    for name in names:  # a handful of metrics
        v = pd.to_numeric(frame[name], errors="coerce").to_numpy(np.float64)
        ok = np.isfinite(v)
        n = np.bincount(codes[ok], minlength=len(group_index))
        sums = np.bincount(codes[ok], weights=v[ok], minlength=len(group_index))
        means = np.divide(sums, n, out=np.full(len(n), np.nan), where=n > 0)
        boot = bootstrap_group_means(v[ok], codes[ok], len(group_index), n_boot, seed)
        low, high = _col_quantile(boot, tail, n), _col_quantile(boot, 1 - tail, n)
        rows.append(pd.DataFrame({"metric": name, GROUP_COLUMN: group_index.to_numpy(object), "customers": n,
                                  "mean": means, "ci_low": low, "ci_high": high}))
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["metric", GROUP_COLUMN, "customers", "mean", "ci_low", "ci_high"])
    out.attrs["bootstrap"] = {"n_boot": n_boot, "confidence": confidence, "seed": seed}
    return out


def group_gaps(
    per_user: pd.DataFrame | pd.Series,
    groups: pd.Series,
    metrics: Iterable[str] | None = None,
    *,
    min_size: int = 1,
    n_boot: int = 200,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Best and worst customer group per metric, their gap and ratio, with bootstrap intervals.

    Among groups with at least ``min_size`` users with a value: ``best = argmax_g mean_g``,
    ``worst = argmin_g mean_g``, ``gap = mean_best - mean_worst``, ``ratio = mean_worst / mean_best``
    (``nan`` when ``mean_best`` is 0). The intervals are percentiles of the same two statistics
    of the fixed best and worst groups over stratified bootstrap draws. A metric with fewer than
    two such groups has ``nan`` gap and ratio.

    Returns
    -------
    pd.DataFrame
        ``metric``, ``best``, ``worst``, ``best_mean``, ``worst_mean``, ``gap``, ``gap_low``,
        ``gap_high``, ``ratio``, ``ratio_low``, ``ratio_high``, ``groups`` (groups judged).
    """
    frame = per_user.to_frame() if isinstance(per_user, pd.Series) else per_user
    if C.USER_ID in frame.columns:
        frame = frame.set_index(C.USER_ID)
    names = list(metrics) if metrics is not None else [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    codes, group_index = _codes(_label_users(frame.index, groups), None)
    tail = (1 - confidence) / 2
    rows = []
    for name in names:
        v = pd.to_numeric(frame[name], errors="coerce").to_numpy(np.float64)
        ok = np.isfinite(v)
        n = np.bincount(codes[ok], minlength=len(group_index))
        means = np.divide(np.bincount(codes[ok], weights=v[ok], minlength=len(group_index)), n,
                          out=np.full(len(n), np.nan), where=n > 0)
        judged = np.flatnonzero((n >= max(min_size, 1)))
        row: dict[str, Any] = {"metric": name, "groups": int(len(judged))}
        if len(judged) < 2:
            rows.append({**row, "best": None, "worst": None, "best_mean": np.nan, "worst_mean": np.nan,
                         "gap": np.nan, "gap_low": np.nan, "gap_high": np.nan,
                         "ratio": np.nan, "ratio_low": np.nan, "ratio_high": np.nan})
            continue
        best = judged[np.argmax(means[judged])]
        worst = judged[np.argmin(means[judged])]
        boot = bootstrap_group_means(v[ok], codes[ok], len(group_index), n_boot, seed)
        gaps = boot[:, best] - boot[:, worst]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = boot[:, worst] / boot[:, best]
            ratio = means[worst] / means[best] if means[best] != 0 else np.nan
        rows.append({
            **row, "best": group_index[best], "worst": group_index[worst],
            "best_mean": means[best], "worst_mean": means[worst], "gap": means[best] - means[worst],
            "gap_low": _quantile(gaps, tail), "gap_high": _quantile(gaps, 1 - tail),
            "ratio": ratio, "ratio_low": _quantile(ratios, tail), "ratio_high": _quantile(ratios, 1 - tail),
        })
    columns = ["metric", "best", "worst", "best_mean", "worst_mean", "gap", "gap_low", "gap_high",
               "ratio", "ratio_low", "ratio_high", "groups"]
    return pd.DataFrame(rows, columns=columns)


def _quantile(x: np.ndarray, q: float) -> float:
    x = x[np.isfinite(x)]
    return float(np.quantile(x, q)) if len(x) else np.nan


def offer_rates(
    reco: pd.DataFrame,
    groups: pd.Series,
    favourable: Iterable[Any],
    *,
    k: int | None = None,
    item_values: pd.Series | None = None,
    population: Iterable[Any] | None = None,
    levels: Iterable[str] | None = None,
    threshold: float = FOUR_FIFTHS,
    min_size: int = 1,
    n_boot: int = 200,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """How often each customer group is offered favourable offers: the four-fifths rule.

    Works for recommendation lists (``k`` = how many offers per customer to judge) and for a
    targeting list (one row per coupon; ``population`` = every customer who could have been
    targeted, so the untargeted count as offered nothing).

    Per customer ``u`` of the population: ``m_u`` offers in their (top-k) list, ``f_u`` of them
    favourable, ``fav_u = f_u / m_u`` (0 when ``m_u = 0``). Per group ``g`` of ``n_g`` customers:

    * ``offered = |{u in g: m_u > 0}| / n_g`` (the selection rate of a targeting list);
    * ``rate = mean_{u in g} fav_u`` (with one coupon per customer: the share of the group given a
      favourable coupon);
    * ``mean_value = sum_{u in g} sum_{i in list_u} v_i / sum_{u in g} |{i in list_u: v_i known}|``,
      the mean ``item_values`` (e.g. discount depth) over the group's offers;
    * ``ratio = rate_g / max_h rate_h`` over the judged groups (``n_h >= min_size``): the
      disparate-impact ratio; ``vs_rest = rate_g / rate_(population \\ g)``;
    * ``flagged = judged and ratio < threshold`` (the four-fifths rule);
    * ``ratio_low``/``ratio_high``: stratified bootstrap interval of ``rate_g / rate_best``.

    Returns
    -------
    pd.DataFrame
        One row per group (``group``, ``customers``, ``offered``, ``offers``, ``favourable``,
        ``rate``, ``rate_low``, ``rate_high``, ``mean_value``, ``ratio``, ``ratio_low``,
        ``ratio_high``, ``vs_rest``, ``judged``, ``flagged``), sorted by ``ratio``; ``attrs["best"]``
        names the most-offered group. Empty groups (from ``levels``) have ``nan`` rates.
    """
    top = _top_k(reco, k) if k is not None else _check_frame(reco, "reco", (C.USER_ID, C.ITEM_ID))
    r_users = top[C.USER_ID].astype(str).to_numpy(object)
    r_items = top[C.ITEM_ID].astype(str).to_numpy(object)
    pop = pd.Index(pd.unique(r_users) if population is None else pd.unique(pd.Series(list(population), dtype=object).astype(str)), dtype=object)
    u = pop.get_indexer(r_users)
    inside = u >= 0
    u, r_items = u[inside], r_items[inside]
    fav = pd.Index(pd.unique(pd.Series(list(favourable), dtype=object).astype(str)), dtype=object).get_indexer(r_items) >= 0
    m = np.bincount(u, minlength=len(pop))
    f = np.bincount(u, weights=fav, minlength=len(pop))
    share = np.divide(f, m, out=np.zeros(len(pop)), where=m > 0)
    codes, group_index = _codes(_label_users(pop, groups), levels)
    G = len(group_index)
    n = np.bincount(codes, minlength=G)
    rate = np.divide(np.bincount(codes, weights=share, minlength=G), n, out=np.full(G, np.nan), where=n > 0)
    offered = np.divide(np.bincount(codes, weights=m > 0, minlength=G), n, out=np.full(G, np.nan), where=n > 0)
    value = np.full(G, np.nan)
    if item_values is not None:
        lookup = pd.Series(pd.to_numeric(item_values, errors="coerce").to_numpy(np.float64),
                           index=pd.Index(item_values.index.astype(str), dtype=object))
        v = lookup[~lookup.index.duplicated()].reindex(r_items).to_numpy(np.float64)
        ok = np.isfinite(v)
        cnt = np.bincount(codes[u[ok]], minlength=G)
        value = np.divide(np.bincount(codes[u[ok]], weights=v[ok], minlength=G), cnt, out=np.full(G, np.nan), where=cnt > 0)
    judged = n >= max(min_size, 1)
    best_rate = np.nanmax(np.where(judged, rate, np.nan)) if judged.any() else np.nan
    best = int(np.flatnonzero(judged & (rate == best_rate))[0]) if judged.any() and np.isfinite(best_rate) else -1
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(n > 0, rate / best_rate, np.nan) if best_rate and np.isfinite(best_rate) and best_rate > 0 else np.where(n > 0, 1.0, np.nan)
        total_f, total_n = share.sum(), len(pop)
        rest = (total_f - np.bincount(codes, weights=share, minlength=G)) / (total_n - n)
        vs_rest = np.where(n > 0, rate / rest, np.nan)
    tail = (1 - confidence) / 2
    boot = bootstrap_group_means(share, codes, G, n_boot, seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        boot_ratio = boot / boot[:, [best]] if best >= 0 else np.full_like(boot, np.nan)
    table = pd.DataFrame({
        GROUP_COLUMN: group_index.to_numpy(object), "customers": n, "offered": offered,
        "offers": np.bincount(codes, weights=m, minlength=G).astype(np.int64),
        "favourable": np.bincount(codes, weights=f, minlength=G).astype(np.int64),
        "rate": rate, "rate_low": _col_quantile(boot, tail, n), "rate_high": _col_quantile(boot, 1 - tail, n),
        "mean_value": value, "ratio": ratio,
        "ratio_low": _col_quantile(boot_ratio, tail, n), "ratio_high": _col_quantile(boot_ratio, 1 - tail, n),
        "vs_rest": vs_rest, "judged": judged, "flagged": judged & (ratio < threshold),
    })
    table = table.sort_values(["ratio", GROUP_COLUMN], kind="stable", na_position="last").reset_index(drop=True)
    table.attrs.update({"best": group_index[best] if best >= 0 else None, "threshold": threshold, "k": k})
    return table


def _col_quantile(boot: np.ndarray, q: float, n: np.ndarray) -> np.ndarray:
    out = np.full(boot.shape[1], np.nan)
    for g in np.flatnonzero(n > 0):  # one per group (a handful)
        out[g] = _quantile(boot[:, g], q)
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
    _, _, items = _lists(reco, k)
    cat = _catalogue(catalog, "offer_group_table") if catalog is not None else pd.Index(pd.unique(items), dtype=object)
    universe = cat.union(pd.Index(pd.unique(items), dtype=object), sort=False)
    codes, groups = _item_group_codes(universe.to_numpy(object), item_groups)
    item_code = pd.Series(codes, index=universe)
    G = len(groups)
    slots = np.bincount(item_code.reindex(items).to_numpy(np.int64), minlength=G) if len(items) else np.zeros(G, np.int64)
    in_cat = universe.isin(cat)
    n_cat = np.bincount(codes[in_cat], minlength=G)
    shown_items = pd.unique(items)
    shown = np.bincount(item_code.reindex(pd.Index(shown_items, dtype=object)).to_numpy(np.int64), minlength=G) if len(items) else np.zeros(G, np.int64)
    shown_in_cat = np.bincount(item_code.reindex(cat.intersection(pd.Index(shown_items, dtype=object))).to_numpy(np.int64), minlength=G)
    table = pd.DataFrame({GROUP_COLUMN: groups.to_numpy(object), "offers": n_cat, "shown": shown, "slots": slots})
    total = max(int(slots.sum()), 1)
    table["slot_share"] = slots / total
    table["catalogue_share"] = n_cat / max(len(cat), 1) if catalog is not None else np.nan
    if train is not None:
        pairs = _check_frame(train, "train", (C.USER_ID, C.ITEM_ID))[[C.USER_ID, C.ITEM_ID]].astype(str).drop_duplicates()
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


# ============================================================================================
# Re-ranking: MMR diversity, exposure boost and cap
# ============================================================================================

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
        s = f"(strength {float(self.strength):.2f})"
        if self.kind == "mmr":
            by = "offer facts" if self.similarity == "features" else "the model's embeddings"
            return f"Diversify each list by {by} (maximal marginal relevance) {s}"
        group = self.items.label(items) if self.items is not None else "?"
        if self.kind == "cap":
            return f"Cap offers with {group} in each list {s}"
        who = f" for {self.users.label()}" if self.users is not None else ""
        return f"Boost offers with {group}{who} {s}"


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
    _check_frame(frame, "reco", (C.USER_ID, C.ITEM_ID, C.SCORE))
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
    vectors: ItemFeatures | None = None, model: Any = None,
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
    model: Any = None,
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
    model: Any = None,
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
        _check_frame(pairs, "pairs", (C.USER_ID, C.ITEM_ID, C.SCORE))
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


# ============================================================================================
# Re-ranking saved with a run
# ============================================================================================


def saved_rerank(ws: Any, run_id: str) -> RerankSettings | None:
    """The re-ranking saved with a run (``extra["rerank"]``), or None."""
    data = (ws.run(run_id).get("extra") or {}).get(RERANK_KEY)
    return RerankSettings.from_dict(data) if data else None


def save_rerank(ws: Any, run_id: str, settings: RerankSettings | None, evidence: Mapping[str, Any] | None = None) -> None:
    """Store (or, with None, remove) the run's re-ranking; ``evidence``: the trade-off point chosen."""
    if settings is not None:
        settings.validate()
    ws.update_run_extra(run_id, {
        RERANK_KEY: None if settings is None else settings.to_dict(),
        RERANK_EVIDENCE_KEY: None if settings is None else _jsonable(dict(evidence or {})),
    })


def _run_tables(ws: Any, run_id: str, dataset: Any) -> Any:
    """``dataset``, or the run's dataset as the run saw it (appends made later are left out)."""
    from recsys.workspace.runs import load_run_dataset

    return dataset if dataset is not None else load_run_dataset(ws, run_id)


def rerank_for_run(
    ws: Any,
    run_id: str,
    reco: pd.DataFrame,
    *,
    k: int | None = None,
    model: Any = None,
    dataset: Any = None,
    settings: RerankSettings | None = None,
) -> pd.DataFrame:
    """Apply the run's saved re-ranking (if any) to recommendation pools and keep the top ``k``.

    ``reco`` is what ``model.recommend(users, k=pool)`` returns (use :func:`pool_size` for the pool;
    :func:`recommend_for_run` does both). Without a saved re-ranking the lists are returned as
    they are, cut at ``k``. ``k`` defaults to the run's list length.
    """
    settings = settings or saved_rerank(ws, run_id)
    k = int(k or ws.run(run_id)["config"].get("k", 10))
    if settings is None:
        return reco[reco[C.RANK].to_numpy() <= k].reset_index(drop=True) if C.RANK in reco.columns else reco
    dataset = _run_tables(ws, run_id, dataset)
    if model is None and settings.kind == "mmr":
        from recsys.workspace.runs import load_model

        model = load_model(ws, run_id)
    return rerank(reco, settings, k, items=dataset.items, users=dataset.users, model=model)


def pool_size(settings: RerankSettings | None, k: int) -> int:
    """Candidates per customer to ask the model for: ``max(k, settings.pool)`` (``k`` without one)."""
    return k if settings is None else max(k, int(settings.pool))


def recommend_for_run(
    ws: Any,
    run_id: str,
    user_ids: Iterable[Any],
    k: int = 10,
    *,
    model: Any = None,
    dataset: Any = None,
    **recommend_kwargs: Any,
) -> pd.DataFrame:
    """The run's recommendations with its saved re-ranking applied (one vectorised ``recommend``)."""
    from recsys.workspace.runs import load_model

    settings = saved_rerank(ws, run_id)
    model = model if model is not None else load_model(ws, run_id)
    pool = model.recommend(user_ids, k=pool_size(settings, k), **recommend_kwargs)
    return rerank_for_run(ws, run_id, pool, k=k, model=model, dataset=dataset, settings=settings)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, np.ndarray)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ============================================================================================
# Held-out evaluation of re-ranked lists, and the trade-off sweep
# ============================================================================================


@dataclass
class EvalSetup:
    """What it takes to score re-ranked lists on held-out data, as the run was evaluated.

    Attributes
    ----------
    model
        A model that has not seen the test period: the run's own model when it was kept on the
        train split, else a refit on the train split with the run's config, seed and best epochs
        (what the run's evaluation fitted).
    test
        Relevant held-out pairs (``user_id``, ``item_id``), minus pairs seen in training.
    train
        Training positives (``user_id``, ``item_id``), for novelty and long-tail metrics.
    candidates
        Offers to rank (held-out offers for a cold-start split), or None for all.
    catalog
        Ids of every offer that can be recommended.
    note
        Plain words on where the model came from.
    """

    model: Any
    test: pd.DataFrame
    train: pd.DataFrame
    candidates: np.ndarray | None
    catalog: np.ndarray
    note: str
    seconds: float = 0.0


def evaluation_setup(ws: Any, run_id: str, *, dataset: Any = None, model: Any = None,
                     progress: ProgressCallback | None = None) -> EvalSetup:
    """Rebuild the run's train/test split and a model of the train part (see :class:`EvalSetup`)."""
    from recsys.learn.features import interaction_weights, latest_timestamp
    from recsys.learn.model import HybridRecommender, relevant_pairs
    from recsys.learn.pipeline import HYBRID, TrainConfig
    from recsys.workspace.runs import load_model, restrict_schema
    from recsys.learn.split import split_interactions

    t0 = time.perf_counter()
    report = progress or (lambda message, share: None)
    run = ws.run(run_id)
    extra = run.get("extra") or {}
    config = TrainConfig.from_dict(run["config"])
    dataset = _run_tables(ws, run_id, dataset)
    inter = dataset.interactions
    icfg = config.interactions
    report("Rebuilding the run's train/test split", 0.05)
    positive = interaction_weights(inter, icfg).to_numpy() > 0
    split = split_interactions(inter, replace(config.split, seed=int(config.seed)), positive)
    reference = latest_timestamp(split.train)
    if extra.get("production_model") == "train split":
        model = model if model is not None else load_model(ws, run_id)
        note = "the run's model, trained on the training period only"
    else:
        report("Refitting the model on the training period (to measure accuracy honestly)", 0.1)
        epochs = max(int((extra.get("best_epochs") or {}).get(HYBRID, config.model.epochs)), 1)
        cfg = replace(config.model, random_state=int(config.seed), epochs=epochs, early_stopping_patience=0)
        user_schema = restrict_schema(dataset.info.user_schema, extra.get("user_features"))
        item_schema = restrict_schema(dataset.info.item_schema, extra.get("item_features"))
        model = HybridRecommender(cfg, config.features, icfg).fit(
            split.train, dataset.users, user_schema, dataset.items, item_schema, reference_time=reference)
        note = (f"the run's settings refitted on the training period ({epochs} epochs, seed {config.seed}), "
                "because the run's own model has also learned from the test period")
    test = relevant_pairs(split.test, icfg, reference)
    upos = model.user_index_.positions(test[C.USER_ID])
    ipos = model.item_index_.positions(test[C.ITEM_ID])
    both = (upos >= 0) & (ipos >= 0)
    seen = np.zeros(len(test), dtype=bool)
    if both.any():
        seen[both] = np.asarray(model.seen_[upos[both], ipos[both]]).ravel() > 0
    test = test[~seen].reset_index(drop=True)
    cold = config.split.kind == "cold_items"
    candidates = pd.unique(split.test[C.ITEM_ID].astype(str).to_numpy(object)) if cold else None
    catalog = candidates if candidates is not None else model.item_index_.ids[model._default_candidates()]
    train = relevant_pairs(split.train, icfg, reference)
    return EvalSetup(model, test, train, candidates, np.asarray(catalog, dtype=object), note, time.perf_counter() - t0)


def tradeoff_sweep(
    setup: EvalSetup,
    template: RerankSettings,
    strengths: Iterable[float],
    *,
    k: int,
    users: Iterable[Any] | None = None,
    items: pd.DataFrame | None = None,
    customers: pd.DataFrame | None = None,
    user_column: str | None = None,
    favourable: ItemRule | None = None,
    offer_k: int | None = None,
    item_column: str | None = None,
    min_size: int = 1,
    progress: ProgressCallback | None = None,
) -> pd.DataFrame:
    """Accuracy against diversity and parity, for the template re-ranking at each strength.

    The evaluation model (``setup``) recommends one pool per customer (one vectorised call);
    every strength re-ranks the same pools. Accuracy is measured on the held-out pairs of the
    customers in ``users`` (default: every customer with held-out pairs).

    Returns
    -------
    pd.DataFrame
        One row per strength: ``strength``, ``precision@k``, ``recall@k``, ``ndcg@k``,
        ``ndcg_change`` (relative to strength 0), ``diversity@k`` (by offer facts),
        ``coverage@k``, ``exposure_gini@k``, ``long_tail@k`` and, when given: ``favourable_share``,
        ``di_min`` (lowest disparate-impact ratio over customer groups of ``user_column`` with at
        least ``min_size`` customers), ``di_focus`` (lowest over the template's ``users`` groups)
        and ``exposure_parity@k`` (offer groups of ``item_column``).
    """
    report = progress or (lambda message, share: None)
    strengths = sorted({round(float(s), 6) for s in [0.0, *strengths]})
    template.validate(items, customers)
    model = setup.model
    population = np.asarray(pd.unique(pd.Series(list(users) if users is not None else setup.test[C.USER_ID], dtype=object).astype(str)), dtype=object)
    if len(population) == 0:
        raise ValueError("no customers to evaluate the re-ranking on")
    test = setup.test[setup.test[C.USER_ID].isin(population)]
    report("Scoring the candidate pools", 0.1)
    pool = model.recommend(population, k=max(int(template.pool), k), candidates=setup.candidates, unknown="cold")
    vectors = side_features(model)
    groups = group_labels(customers, user_column) if customers is not None and user_column else None
    fav_ids = favourable.item_ids(items) if favourable is not None and items is not None else None
    item_groups = _item_series(items, item_column) if items is not None and item_column else None
    metrics: list[Metric] = [Precision(k), Recall(k), NDCG(k), CatalogCoverage(k), ExposureGini(k), LongTailShare(k)]
    if vectors is not None:
        metrics.append(IntraListDiversity(k))
    if item_groups is not None:
        metrics.append(ExposureParity(k, item_groups=item_groups))
    rows = []
    ctx_model = model if template.kind == "mmr" else None
    for step, s in enumerate(strengths):  # a handful of points on the curve
        report(f"Re-ranking at strength {s:.2f}", 0.2 + 0.75 * step / len(strengths))
        lists = rerank(pool, replace(template, strength=s), k, items=items, users=customers, model=ctx_model,
                       vectors=vectors if template.kind == "mmr" and template.similarity == "features" else None)
        row: dict[str, Any] = {"strength": s}
        for metric in metrics:
            if isinstance(metric, (Precision, Recall, NDCG)):
                row[metric.name] = metric.calc(lists, test) if len(test) else np.nan
            else:
                row[metric.name] = metric.calc(lists, train=setup.train, catalog=setup.catalog, item_features=vectors)
        if fav_ids is not None:
            row["favourable_share"] = FavourableShare(offer_k or k, tuple(fav_ids)).calc(lists)
            if groups is not None:
                table = offer_rates(lists, groups, fav_ids, k=offer_k or k, min_size=min_size, n_boot=0)
                judged = table[table["judged"]]
                row["di_min"] = float(judged["ratio"].min()) if len(judged) else np.nan
                if template.users is not None and template.users.column == user_column:
                    focus = table[table[GROUP_COLUMN].isin(template.users.values)]
                    row["di_focus"] = float(focus["ratio"].min()) if len(focus) else np.nan
        rows.append(row)
    out = pd.DataFrame(rows)
    ndcg = NDCG(k).name
    base = out.loc[out["strength"] == 0.0, ndcg]
    out["ndcg_change"] = out[ndcg] / float(base.iloc[0]) - 1.0 if len(base) and float(base.iloc[0]) > 0 else np.nan
    out.attrs.update({"kind": template.kind, "k": k, "note": setup.note, "users": int(len(population)),
                      "test_users": int(test[C.USER_ID].nunique())})
    report("Done", 1.0)
    return out


def _item_series(items: pd.DataFrame, column: str) -> pd.Series:
    _check_frame(items, "items", (C.ITEM_ID, column))
    labels = items[column].astype("string").fillna(MISSING).astype(object)
    out = pd.Series(labels.to_numpy(object), index=pd.Index(items[C.ITEM_ID].astype(str).to_numpy(object)), name=column)
    return out[~out.index.duplicated()]


# ============================================================================================
# The audit of a run
# ============================================================================================


@dataclass(frozen=True)
class AuditConfig:
    """What to audit.

    Parameters
    ----------
    user_column
        Customers column to group by (sensitive columns allowed: they are audited, not modelled).
    item_column
        Offers column for exposure by offer group (default: ``category`` when present, else the
        first text column of the offers table).
    favourable
        The offers that count as favourable (default: ``discount_depth >= 30`` when present).
    value_column
        Number column whose mean offered value is reported per group (default: the favourable
        rule's column when it is a number column).
    k
        List length of accuracy and list metrics (default: the run's ``k``).
    offer_k
        Offers per customer judged by the four-fifths rule: the first few a customer sees
        (1 = the single coupon of a one-coupon campaign).
    max_users
        Audit at most this many customers (a seeded sample); None = all.
    n_boot, confidence, seed
        Bootstrap draws and level of the intervals; seed of the sample and the bootstrap.
    threshold
        The four-fifths line.
    min_group_size
        Groups with fewer customers are shown but not judged (too few to tell).
    rerank
        Audit the lists after this re-ranking (e.g. the one saved with the run) instead of the
        model's own order.
    """

    user_column: str
    item_column: str | None = None
    favourable: ItemRule | None = None
    value_column: str | None = None
    k: int | None = None
    offer_k: int = 3
    max_users: int | None = 20_000
    n_boot: int = 200
    confidence: float = 0.95
    seed: int = 0
    threshold: float = FOUR_FIFTHS
    min_group_size: int = 30
    rerank: RerankSettings | None = None

    def __post_init__(self) -> None:
        if isinstance(self.favourable, Mapping):
            object.__setattr__(self, "favourable", ItemRule.from_dict(self.favourable))
        if isinstance(self.rerank, Mapping):
            object.__setattr__(self, "rerank", RerankSettings.from_dict(self.rerank))

    def validate(self) -> None:
        if not self.user_column:
            raise ValueError("choose a customers column to group by")
        for name in ("offer_k", "n_boot", "min_group_size"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < (0 if name == "n_boot" else 1):
                raise ValueError(f"audit setting {name} must be a whole number >= {0 if name == 'n_boot' else 1}, got {v!r}")
        if self.k is not None and (not isinstance(self.k, (int, np.integer)) or self.k < 1):
            raise ValueError(f"audit setting k must be a positive whole number, got {self.k!r}")
        if self.max_users is not None and self.max_users < 2:
            raise ValueError(f"audit setting max_users must be at least 2, got {self.max_users!r}")
        if not 0 < self.threshold <= 1 or not 0 < self.confidence < 1:
            raise ValueError("audit threshold must be in (0, 1] and confidence in (0, 1)")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["favourable"] = None if self.favourable is None else self.favourable.to_dict()
        d["rerank"] = None if self.rerank is None else self.rerank.to_dict()
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "AuditConfig":
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown audit settings {sorted(unknown)}")
        return cls(**dict(data))


@dataclass(frozen=True)
class Flag:
    """One finding in plain language. ``severity``: ``high``, ``medium``, ``info`` or ``ok``."""

    severity: str
    topic: str
    text: str


@dataclass
class AuditResult:
    """Everything an audit found (JSON: :meth:`to_dict`).

    Attributes
    ----------
    accuracy, accuracy_gaps
        :func:`group_table` / :func:`group_gaps` of the run's held-out per-customer accuracy.
    offers
        :func:`offer_rates` of the model's first ``offer_k`` offers per customer.
    history_shown, history_responded
        :func:`offer_rates` of past impressions (the shop's own past targeting) and of past
        positive responses; empty when the data has none.
    lists_by_group
        :func:`group_table` of per-customer list metrics (favourable share, mean value, diversity,
        novelty).
    offer_groups
        :func:`offer_group_table` by ``item_column``.
    exposure
        Top-k slots per catalogue offer (for a Lorenz curve).
    list_metrics
        Beyond-accuracy metrics of the lists (coverage, Gini, long tail, novelty, diversity,
        entropy, calibration, parity, personalisation).
    flags
        Findings, most severe first.
    """

    run_id: str
    config: AuditConfig
    k: int
    users: int
    favourable_label: str | None
    favourable_phrase: str | None
    value_label: str | None
    accuracy: pd.DataFrame
    accuracy_gaps: pd.DataFrame
    offers: pd.DataFrame
    history_shown: pd.DataFrame
    history_responded: pd.DataFrame
    lists_by_group: pd.DataFrame
    offer_groups: pd.DataFrame
    exposure: pd.Series
    list_metrics: dict[str, float]
    flags: list[Flag]
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
            return _jsonable(frame.to_dict("records"))

        return {
            "run_id": self.run_id, "config": self.config.to_dict(), "k": self.k, "users": self.users,
            "favourable": self.favourable_label, "favourable_phrase": self.favourable_phrase, "value": self.value_label,
            "flags": [asdict(f) for f in self.flags], "notes": list(self.notes),
            "accuracy": records(self.accuracy), "accuracy_gaps": records(self.accuracy_gaps),
            "offers": records(self.offers), "offers_best_group": self.offers.attrs.get("best"),
            "history_shown": records(self.history_shown), "history_responded": records(self.history_responded),
            "lists_by_group": records(self.lists_by_group), "offer_groups": records(self.offer_groups),
            "list_metrics": _jsonable(self.list_metrics), "timings": _jsonable(self.timings),
        }


def customer_universe(dataset: Any) -> np.ndarray:
    """Every customer id of a dataset (customers table first, then interactions), as text."""
    ids = pd.concat([dataset.users[C.USER_ID].astype(str), dataset.interactions[C.USER_ID].astype(str)], ignore_index=True)
    return pd.unique(ids.to_numpy(object))


def sample_users(ids: np.ndarray, max_users: int | None, seed: int) -> np.ndarray:
    """All ids, or a seeded sample of ``max_users`` of them (sorted)."""
    if max_users is None or len(ids) <= max_users:
        return np.asarray(ids, dtype=object)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(np.asarray(ids, dtype=object), int(max_users), replace=False))


def default_item_column(items: pd.DataFrame) -> str | None:
    """``category`` when present, else the first text column of the offers table (None without)."""
    if "category" in items.columns:
        return "category"
    text = [c for c in items.columns if c != C.ITEM_ID and not pd.api.types.is_numeric_dtype(items[c])
            and items[c].nunique() <= max(50, len(items) // 5)]
    return text[0] if text else None


def audit(
    ws: Any,
    run_id: str,
    config: AuditConfig,
    *,
    model: Any = None,
    dataset: Any = None,
    progress: ProgressCallback | None = None,
) -> AuditResult:
    """Audit a run's recommendations for fairness across customer and offer groups.

    One vectorised ``recommend`` call (chunked inside the model) for every audited customer;
    accuracy by group comes from the run's stored held-out per-customer metrics.
    """
    from recsys.learn.model import relevant_pairs
    from recsys.learn.pipeline import HYBRID, TrainConfig
    from recsys.workspace.runs import PER_USER_FILE, load_model

    config.validate()
    report = progress or (lambda message, share: None)
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    run = ws.run(run_id)
    dataset = _run_tables(ws, run_id, dataset)
    users_table, items_table = dataset.users, dataset.items
    if config.user_column not in users_table.columns or config.user_column == C.USER_ID:
        choices = ", ".join(c for c in users_table.columns if c != C.USER_ID) or "none"
        raise ValueError(f"the customers table has no column '{config.user_column}'. Fix: choose one of {choices}.")
    item_column = config.item_column or default_item_column(items_table)
    if item_column is not None and item_column not in items_table.columns:
        choices = ", ".join(c for c in items_table.columns if c != C.ITEM_ID) or "none"
        raise ValueError(f"the offers table has no column '{item_column}'. Fix: choose one of {choices}.")
    rule = config.favourable or default_favourable(items_table)
    if rule is not None:
        rule.validate(items_table)
    value_column = config.value_column or (rule.column if rule is not None and rule.numeric else None)
    if value_column is not None and (value_column not in items_table.columns or not pd.api.types.is_numeric_dtype(items_table[value_column])):
        raise ValueError(f"'{value_column}' is not a number column of the offers table: choose another value column")
    train_config = TrainConfig.from_dict(run["config"])
    k = int(config.k or train_config.k)
    offer_k = int(config.offer_k)
    notes: list[str] = []
    if model is None:
        report("Loading the model", 0.05)
        model = load_model(ws, run_id)
    timings["load"] = time.perf_counter() - clock

    clock = time.perf_counter()
    universe = customer_universe(dataset)
    population = sample_users(universe, config.max_users, config.seed)
    if len(population) < len(universe):
        notes.append(f"Audited a random sample of {len(population):,} of {len(universe):,} customers (seed {config.seed}).")
    groups = group_labels(users_table, config.user_column)
    report(f"Scoring {len(population):,} customers", 0.15)
    length = max(k, offer_k)
    if config.rerank is None:
        reco = model.recommend(population, k=length, unknown="cold")
    else:
        pool = model.recommend(population, k=pool_size(config.rerank, length), unknown="cold")
        reco = rerank(pool, config.rerank, length, items=items_table, users=users_table, model=model)
        notes.append(f"Lists after the re-ranking: {config.rerank.describe(items_table)}.")
    timings["recommend"] = time.perf_counter() - clock

    clock = time.perf_counter()
    report("Accuracy by group", 0.4)
    boot = dict(n_boot=config.n_boot, confidence=config.confidence, seed=config.seed)
    accuracy_names = [Precision(k).name, Recall(k).name, NDCG(k).name]
    per_user_path = ws.run_dir(run_id) / PER_USER_FILE.format(model=HYBRID)
    accuracy = pd.DataFrame(columns=["metric", GROUP_COLUMN, "customers", "mean", "ci_low", "ci_high"])
    gaps = pd.DataFrame(columns=["metric", "best", "worst", "gap", "ratio"])
    if per_user_path.exists():
        per_user = pd.read_parquet(per_user_path)
        present = [m for m in accuracy_names if m in per_user.columns]
        if present:
            accuracy = group_table(per_user, groups, present, **boot)
            gaps = group_gaps(per_user, groups, present, min_size=config.min_group_size, **boot)
        else:
            notes.append(f"The run's held-out metrics are at another list length than {k}: accuracy by group is not shown.")
    else:
        notes.append("This run has no held-out per-customer metrics: accuracy by group is not shown.")
    timings["accuracy"] = time.perf_counter() - clock

    clock = time.perf_counter()
    report("Favourable offers by group", 0.55)
    positives = relevant_pairs(dataset.interactions, train_config.interactions)
    values = pd.Series(pd.to_numeric(items_table[value_column], errors="coerce").to_numpy(np.float64),
                       index=items_table[C.ITEM_ID].astype(str).to_numpy(object)) if value_column else None
    empty = pd.DataFrame(columns=[GROUP_COLUMN, "customers", "rate", "ratio", "flagged"])
    offers, shown, responded = empty, empty, empty
    fav_label = None
    fav_ids: np.ndarray | None = None
    rate_kw = dict(item_values=values, threshold=config.threshold, min_size=config.min_group_size, **boot)
    if rule is not None:
        fav_ids = rule.item_ids(items_table)
        fav_label = rule.label(items_table)
        offers = offer_rates(reco, groups, fav_ids, k=offer_k, population=population, **rate_kw)
        history = dataset.interactions[dataset.interactions[C.USER_ID].astype(str).isin(population)]
        if C.EVENT in history.columns:
            impressions = history[history[C.EVENT].astype(str).str.lower() == C.IMPRESSION]
            if len(impressions):
                shown = offer_rates(impressions[[C.USER_ID, C.ITEM_ID]].astype(str).drop_duplicates(), groups, fav_ids, **rate_kw)
        sample_pos = positives[positives[C.USER_ID].isin(population)]
        if len(sample_pos):
            responded = offer_rates(sample_pos, groups, fav_ids, **rate_kw)
    else:
        notes.append("No favourable-offer rule (the offers table has no discount_depth): choose the column and "
                     "values that define a favourable offer to apply the four-fifths rule.")
    timings["offers"] = time.perf_counter() - clock

    clock = time.perf_counter()
    report("Offer exposure and list metrics", 0.7)
    top = reco[reco[C.RANK].to_numpy() <= k]
    catalog = model.item_index_.ids[model._default_candidates()]
    item_groups = _item_series(items_table, item_column) if item_column else None
    offer_groups = offer_group_table(top, item_groups, k, catalog, positives) if item_groups is not None else pd.DataFrame()
    feats, emb = side_features(model), embedding_features(model)
    metrics_list = list_metrics(k, item_groups=item_groups, with_features=feats is not None)
    list_values: dict[str, float] = {}
    for metric in metrics_list:
        features = emb if isinstance(metric, EmbeddingDiversity) else feats
        try:
            list_values[metric.name] = metric.calc(top, train=positives, catalog=catalog, item_features=features)
        except ValueError as exc:  # e.g. personalisation of a single customer
            notes.append(f"{metric.name} not computed: {exc}")
    per_list = [Novelty(k).calc_per_user(top, train=positives)]
    if fav_ids is not None:
        per_list.insert(0, FavourableShare(offer_k, tuple(fav_ids)).calc_per_user(reco))
    if values is not None:
        per_list.insert(1, MeanItemValue(offer_k, values=values).calc_per_user(reco).rename(f"mean {value_column}@{offer_k}"))
    if feats is not None:
        per_list.append(IntraListDiversity(k).calc_per_user(top, item_features=feats))
    lists_by_group = group_table(pd.concat(per_list, axis=1), groups, **boot)
    exposure = exposure_counts(top, k, catalog).sort_values(ascending=False)
    timings["lists"] = time.perf_counter() - clock

    result = AuditResult(
        run_id=run_id, config=config, k=k, users=int(len(population)), favourable_label=fav_label,
        favourable_phrase=rule.phrase(items_table) if rule is not None else None,
        value_label=value_column, accuracy=accuracy, accuracy_gaps=gaps, offers=offers, history_shown=shown,
        history_responded=responded, lists_by_group=lists_by_group, offer_groups=offer_groups, exposure=exposure,
        list_metrics=list_values, flags=[], notes=notes, timings={n: round(v, 3) for n, v in timings.items()},
    )
    result.flags = audit_flags(result, item_column)
    report("Done", 1.0)
    return result


_SEVERITY = {"high": 0, "medium": 1, "info": 2, "ok": 3}


def audit_flags(result: AuditResult, item_column: str | None = None) -> list[Flag]:
    """Plain-language findings of an audit, most severe first."""
    cfg = result.config
    col = cfg.user_column
    flags: list[Flag] = []
    thr = cfg.threshold
    what = result.favourable_phrase or "favourable offers"
    first = "as their first offer" if cfg.offer_k == 1 else f"among their first {cfg.offer_k} offers"

    def rate_flags(table: pd.DataFrame, verb: str, where: str, topic: str) -> list[str]:
        out = []
        if table.empty or "flagged" not in table.columns:
            return out
        best = table.attrs.get("best")
        for row in table[table["flagged"]].itertuples(index=False):
            interval = (f" (95% interval {row.ratio_low:.2f}-{row.ratio_high:.2f})"
                        if np.isfinite(row.ratio_low) and np.isfinite(row.ratio_high) else "")
            rest = f"; {row.vs_rest:.2f}x the rate of all other customers" if np.isfinite(row.vs_rest) else ""
            who = customers_phrase(col, row.group)
            text = (f"{who[:1].upper()}{who[1:]} {verb} {what} {row.ratio:.2f}x as often as "
                    f"{customers_phrase(col, best)} (the most-{verb.split()[-1]} group){where}: below the four-fifths line"
                    f"{interval}{rest}.")
            severity = "high" if np.isfinite(row.ratio_high) and row.ratio_high < thr else "medium"
            flags.append(Flag(severity, topic, text))
            out.append(row.group)
        return out

    model_flagged = rate_flags(result.offers, "are offered", f" {first}", "favourable offers")
    past_flagged = rate_flags(result.history_shown, "were shown", " in the past (impressions: the shop's own targeting)", "past targeting")
    both = sorted(set(model_flagged) & set(past_flagged))
    if both:
        flags.append(Flag("info", "favourable offers",
                          f"The model's lists repeat the past targeting for {', '.join(customers_phrase(col, g) for g in both)}: "
                          "it learned from what the shop chose to show them. A boost re-ranking for them can correct it."))
    elif past_flagged and not result.offers.empty:
        flags.append(Flag("info", "past targeting",
                          f"The model's lists do not repeat the past under-exposure of {', '.join(customers_phrase(col, g) for g in past_flagged)} "
                          f"(none of them falls below the four-fifths line {first})."))
    for row in result.accuracy_gaps.itertuples(index=False):
        if row.best is None or not np.isfinite(row.ratio):
            continue
        if row.ratio < thr and np.isfinite(row.gap_low) and row.gap_low > 0:
            flags.append(Flag("medium", "accuracy",
                              f"The model is less accurate for {customers_phrase(col, row.worst)}: {row.metric} "
                              f"{row.worst_mean:.3f} against {row.best_mean:.3f} for {customers_phrase(col, row.best)} "
                              f"({row.ratio:.2f}x; gap 95% interval {row.gap_low:.3f}-{row.gap_high:.3f})."))
    og = result.offer_groups
    if item_column and not og.empty:
        for row in og.itertuples(index=False):
            if row.offers < 3 or not np.isfinite(row.exposure_ratio):
                continue
            name = f"{item_column.replace('_', ' ')} = {row.group}"
            if row.exposure_ratio < 0.5:
                flags.append(Flag("medium", "offer exposure",
                                  f"Offers with {name} are {row.catalogue_share:.0%} of the catalogue but get "
                                  f"{row.slot_share:.0%} of recommendation slots ({row.exposure_ratio:.2f}x their share)."))
            elif row.exposure_ratio > 2.0:
                flags.append(Flag("info", "offer exposure",
                                  f"Offers with {name} take {row.slot_share:.0%} of recommendation slots while being "
                                  f"{row.catalogue_share:.0%} of the catalogue ({row.exposure_ratio:.1f}x their share)."))
    lm, k = result.list_metrics, result.k
    g = lm.get(f"exposure_gini@{k}")
    if g is not None and g >= 0.6 and len(result.exposure):
        counts = result.exposure.sort_values(ascending=False).to_numpy(np.float64)
        top_share = counts[: max(1, math.ceil(0.1 * len(counts)))].sum() / max(counts.sum(), 1)
        flags.append(Flag("medium", "offer exposure",
                          f"Exposure is concentrated: the 10% most-shown offers take {top_share:.0%} of all slots "
                          f"(Gini {g:.2f}; 0 = every offer shown equally)."))
    cov = lm.get(f"coverage@{k}")
    if cov is not None and cov < 0.5:
        flags.append(Flag("medium", "offer exposure", f"Only {cov:.0%} of the offers appear in anyone's top {k}."))
    pers = lm.get(f"personalization@{k}")
    if pers is not None and pers < 0.5:
        flags.append(Flag("medium", "diversity",
                          f"Lists look alike: two customers' top {k} lists share {(1 - pers) * k:.1f} offers on average."))
    if not any(f.severity in ("high", "medium") for f in flags):
        flags.append(Flag("ok", "summary",
                          f"No {col.replace('_', ' ')} group falls below the four-fifths line "
                          "and no accuracy or exposure gap stands out."))
    return sorted(flags, key=lambda f: _SEVERITY.get(f.severity, 9))


# ============================================================================================
# The trade-off of an audit: one helper for the page and the CLI
# ============================================================================================

#: Strengths drawn on the trade-off curve (dense near 0: a boost already moves lists at a few hundredths).
STRENGTHS: tuple[float, ...] = (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.85, 1.0)


def tradeoff_template(
    result: AuditResult,
    kind: str,
    items: pd.DataFrame,
    *,
    boost_groups: Iterable[str] | None = None,
    cap_values: Iterable[str] | None = None,
    similarity: str = "features",
) -> tuple[RerankSettings, str, str]:
    """The re-ranking to sweep after an audit, and the trade-off curve's x axis (column, words).

    ``boost``: the favourable offers, for ``boost_groups`` of the audited customer column
    (default: the groups the audit flagged in the model's lists, else in the past targeting; an
    empty list = everyone). ``cap``: the offer-group values ``cap_values`` of the audited offer
    column (default: the most over-exposed group). ``mmr``: diversity by ``similarity``.
    """
    cfg, k = result.config, result.k
    if kind == "boost":
        rule = cfg.favourable or default_favourable(items)
        if rule is None:
            raise ValueError("a boost needs favourable offers: define them (e.g. discount_depth>=30)")
        if boost_groups is None:
            flagged = [] if result.offers.empty else list(result.offers.loc[result.offers["flagged"], GROUP_COLUMN])
            past = [] if result.history_shown.empty else list(result.history_shown.loc[result.history_shown["flagged"], GROUP_COLUMN])
            boost_groups = flagged or past
        groups = tuple(str(g) for g in boost_groups)
        users = UserRule(cfg.user_column, groups) if groups else None
        x, label = ("di_focus", "lowest ratio to the top group, boosted groups") if groups else ("favourable_share", "share of favourable offers")
        return RerankSettings("boost", 0.0, items=rule, users=users), x, label
    if kind == "cap":
        column = cfg.item_column or default_item_column(items)
        if column is None or result.offer_groups.empty:
            raise ValueError("a cap needs an offer column to group by (e.g. category)")
        if cap_values is None:
            cap_values = list(result.offer_groups.sort_values("exposure_ratio", ascending=False)[GROUP_COLUMN].astype(str))[:1]
        values = tuple(str(v) for v in cap_values)
        if not values:
            raise ValueError(f"choose the {column} values to cap")
        return RerankSettings("cap", 0.0, items=ItemRule(column, values)), f"exposure_parity@{k}", "exposure parity of offer groups"
    if kind == "mmr":
        return RerankSettings("mmr", 0.0, similarity=similarity), f"diversity@{k}", "intra-list diversity (offer facts)"
    raise ValueError(f"re-ranking kind must be one of {', '.join(RERANK_KINDS)}, got {kind!r}")


def audit_tradeoff(
    setup: EvalSetup,
    result: AuditResult,
    template: RerankSettings,
    dataset: Any,
    strengths: Iterable[float] = STRENGTHS,
    progress: ProgressCallback | None = None,
) -> pd.DataFrame:
    """:func:`tradeoff_sweep` with the audit's customers (same seeded sample), columns and rule."""
    cfg = result.config
    population = sample_users(customer_universe(dataset), cfg.max_users, cfg.seed)
    return tradeoff_sweep(
        setup, template, strengths, k=result.k, users=population, items=dataset.items, customers=dataset.users,
        user_column=cfg.user_column, favourable=cfg.favourable or default_favourable(dataset.items),
        offer_k=cfg.offer_k, item_column=cfg.item_column or default_item_column(dataset.items),
        min_size=cfg.min_group_size, progress=progress,
    )
