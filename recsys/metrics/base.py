"""The one metric API every PromoLens metric shares (RecTools style), and its vectorised helpers.

A metric is a small frozen object with

* ``calc_per_user(reco, test=None, *, train=None, catalog=None, item_features=None) -> pd.Series``
  (index ``user_id``), and
* ``calc(...) -> float``: the mean of the per-user values (catalogue-level metrics such as
  coverage or the Gini coefficient of exposure have no per-user value and override ``calc``).

Inputs are plain frames: ``reco`` (``user_id``, ``item_id``, ``rank``, 1 = best), ``test`` (the
relevant pairs), ``train`` (the training positives). The helpers here are what the ranking,
beyond-accuracy and fairness metrics share: frame checks (:func:`check_frame`), the top-k rows
(:func:`top_k`, :func:`user_lists`), one per-user Series (:func:`per_user_series`), training
popularity (:func:`train_popularity`) and group labels (:func:`label_users`, with the labels
``(missing)`` and ``(not in customer table)``).

>>> reco = pd.DataFrame({"user_id": ["a", "a"], "item_id": ["x", "y"], "rank": [1, 2]})
>>> len(top_k(reco, 1))
1
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Iterable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.core import columns as C
from recsys.core.arrays import text_codes

#: Label of a missing group value.
MISSING = "(missing)"
#: Group of a customer absent from the customers table.
NOT_IN_TABLE = "(not in customer table)"
#: Group of an offer absent from the offers table.
UNKNOWN_ITEM = "(not in offer table)"
#: Column of group labels in every group table (not a data-contract column, so it lives here).
GROUP_COLUMN = "group"


@dataclass(frozen=True)
class ItemFeatures:
    """Item feature vectors for intra-list diversity: ``matrix[j]`` describes ``item_ids[j]``."""

    item_ids: np.ndarray
    matrix: sp.csr_matrix


# --------------------------------------------------------------------------------------------
# Shared vectorised preparation
# --------------------------------------------------------------------------------------------


def check_frame(frame: pd.DataFrame | None, name: str, required: tuple[str, ...]) -> pd.DataFrame:
    """``frame`` itself, after checking it is given and has the ``required`` columns."""
    if frame is None:
        raise ValueError(f"this metric needs `{name}`")
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(f"`{name}` needs the column(s) {missing}; found {list(frame.columns)}")
    return frame


def top_k(reco: pd.DataFrame, k: int | None) -> pd.DataFrame:
    """The rows of ``reco`` with ``rank <= k`` (all rows when ``k`` is None)."""
    check_frame(reco, "reco", (C.USER_ID, C.ITEM_ID, C.RANK))
    return reco if k is None else reco[reco[C.RANK].to_numpy() <= k]


def user_lists(reco: pd.DataFrame, k: int | None) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    """Users (in order of appearance), the user position and the item id (text) of every top-k row."""
    top = top_k(reco, k)
    users, items = text_codes(top[C.USER_ID]), text_codes(top[C.ITEM_ID])
    if users is not None and items is not None:
        return pd.Index(users[1], dtype=object), users[0], items[1][items[0]]
    codes, distinct = pd.factorize(top[C.USER_ID].astype(str).to_numpy(object))
    return pd.Index(distinct, dtype=object), codes.astype(np.int64), top[C.ITEM_ID].astype(str).to_numpy(object)


def per_user_series(values: np.ndarray, users: pd.Index, name: str) -> pd.Series:
    """A metric's per-user values as a float Series indexed by ``user_id``."""
    return pd.Series(values.astype(np.float64), index=pd.Index(users, name=C.USER_ID, dtype=object), name=name)


def train_popularity(train: pd.DataFrame | None) -> tuple[pd.Series, int]:
    """Number of distinct training users per item, and the number of training users."""
    train = check_frame(train, "train", (C.USER_ID, C.ITEM_ID))
    pairs = train[[C.USER_ID, C.ITEM_ID]].astype(str).drop_duplicates()
    return pairs[C.ITEM_ID].value_counts(), int(pairs[C.USER_ID].nunique())


def label_users(users: pd.Index | np.ndarray, groups: pd.Series) -> pd.Series:
    """Group label of each user (``user_id`` -> label in ``groups``); absent users: ``(not in customer table)``."""
    g = pd.Series(groups.astype("string").fillna(MISSING).astype(object).to_numpy(object),
                  index=pd.Index(pd.Index(groups.index).astype(str), dtype=object))
    g = g[~g.index.duplicated()]
    return g.reindex(pd.Index(users).astype(str)).fillna(NOT_IN_TABLE)


# --------------------------------------------------------------------------------------------
# The base class
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    """Base class: ``calc`` is the mean of ``calc_per_user`` over the users it defines."""

    k: int = 10
    per_user: ClassVar[bool] = True  # has a per-user value

    @property
    def name(self) -> str:
        return f"{self._label}@{self.k}"

    _label = "metric"

    def _check_k(self) -> None:
        if not isinstance(self.k, (int, np.integer)) or self.k < 1:
            raise ValueError(f"{type(self).__name__}.k must be a positive integer, got {self.k!r}")

    def calc_per_user(
        self, reco: pd.DataFrame, test: pd.DataFrame | None = None, *,
        train: pd.DataFrame | None = None, catalog: Iterable[Any] | None = None,
        item_features: ItemFeatures | None = None,
    ) -> pd.Series:
        raise NotImplementedError

    def calc(
        self, reco: pd.DataFrame, test: pd.DataFrame | None = None, *,
        train: pd.DataFrame | None = None, catalog: Iterable[Any] | None = None,
        item_features: ItemFeatures | None = None,
    ) -> float:
        per = self.calc_per_user(reco, test, train=train, catalog=catalog, item_features=item_features)
        if per.empty:
            raise ValueError(f"{self.name}: no user to average over (no test users / recommendations)")
        return float(per.mean())


__all__ = [
    "MISSING", "NOT_IN_TABLE", "UNKNOWN_ITEM", "GROUP_COLUMN", "ItemFeatures", "Metric",
    "check_frame", "top_k", "user_lists", "per_user_series", "train_popularity", "label_users",
]
