"""Group-fairness metrics of recommendation lists: who is offered the favourable offers.

Same API as every metric (:class:`recsys.metrics.base.Metric`: ``calc`` and ``calc_per_user`` over a
``reco`` frame of ``user_id``, ``item_id``, ``rank``):

* :class:`FavourableShare`: the share of favourable offers (e.g. the deep discounts) in each list;
* :class:`DisparateImpact`: the favourable-offer rate of each customer group against the
  most-offered group, the ratio behind the four-fifths rule (``calc_per_group`` gives the table);
* :class:`MeanItemValue`: the mean of a number column of the offers (e.g. discount depth) per list.

The per-group tables with bootstrap intervals built on them live in :mod:`recsys.insight.groups`.
Customers absent from ``groups`` form the group ``(not in customer table)``.

>>> reco = pd.DataFrame({"user_id": ["a", "a", "b", "b"], "item_id": ["x", "y", "x", "z"],
...                      "rank": [1, 2, 1, 2]})
>>> FavourableShare(k=2, favourable=("x",)).calc_per_user(reco).to_dict()
{'a': 0.5, 'b': 0.5}
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from recsys.metrics.base import GROUP_COLUMN, Metric, label_users, per_user_series, user_lists


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
        users, u, items = user_lists(reco, self.k)
        fav = pd.Index(pd.unique(np.asarray(self.favourable, dtype=object).astype(str))).get_indexer(items) >= 0
        m = np.bincount(u, minlength=len(users))
        return per_user_series(np.bincount(u, weights=fav, minlength=len(users)) / np.maximum(m, 1), users, self.name)


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
        label = label_users(fav.index, self.groups)
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
        users, u, items = user_lists(reco, self.k)
        lookup = pd.Series(pd.to_numeric(self.values, errors="coerce").to_numpy(np.float64),
                           index=pd.Index(self.values.index.astype(str), dtype=object))
        v = lookup[~lookup.index.duplicated()].reindex(items).to_numpy(np.float64)
        ok = np.isfinite(v)
        n = np.bincount(u[ok], minlength=len(users))
        total = np.bincount(u[ok], weights=v[ok], minlength=len(users))
        keep = n > 0
        return per_user_series(total[keep] / n[keep], users[keep], self.name)


__all__ = ["FavourableShare", "DisparateImpact", "MeanItemValue"]
