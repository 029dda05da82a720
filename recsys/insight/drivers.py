"""What drives one offer's score across many customers, and the evidence behind identity features.

:func:`offer_drivers` explains one offer's score for every customer (or a sample) at once, with
:meth:`recsys.insight.attribution.ScoreExplainer.column_values` over blocks of customers, and
summarises it per customer trait (:meth:`OfferDrivers.summary`; where the customers of a trait sit,
binned, in :meth:`OfferDrivers.spread`; a beeswarm sample in :meth:`OfferDrivers.points`). An identity feature ("this customer's own history") cannot say *why*;
:func:`similar_history` and :func:`similar_responders` give the evidence in the model's own space:
the customer's past responses closest to the offer, and the customers most like them who responded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.core import columns as C
from recsys.data.lookup import customer_interactions
from recsys.insight.attribution import (
    ATTRIBUTION, COLUMN, CONTRIBUTOR, LIST_VIEW, VALUE, ColumnGroups, Explanation, ScoreExplainer, View, known_or_new_ids,
)

if TYPE_CHECKING:  # pragma: no cover
    from recsys.learn.model import HybridRecommender

SIMILARITY = "similarity"
CUSTOMERS = "customers"
MEAN = "mean"
SHARE_UP = "share_up"


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
    groups: ColumnGroups
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

    def spread(self, bins: int = 40) -> pd.DataFrame:
        """Where every customer of each trait sits, binned: a few rows per trait instead of a dot per customer.

        Each trait's range of attributions is cut into ``bins`` equal bins; one row per bin that has
        customers, at their mean attribution, with how many they are. A trait that adds the same to
        everyone who has it (a segment, in a bilinear model) is one row; the customers' own history
        spreads over up to ``bins`` rows. Every customer counts (no sample), and a chart of it costs the
        same for 500 customers as for 20,000.

        Returns
        -------
        pd.DataFrame
            ``column``, ``contributor``, ``value``, ``attribution`` (the bin's mean), ``customers``;
            by column, trait and attribution.
        """
        column, trait, value = self._long()
        key = column.astype(np.int64) * (len(self.groups.feature_names) + 2) + (trait + 2)
        by_trait = pd.Series(value).groupby(key)
        low, high = by_trait.transform("min").to_numpy(), by_trait.transform("max").to_numpy()
        width = (high - low) / bins
        spread = width > 1e-12 * np.maximum(1.0, np.abs(high))  # rounding noise of one value is one bin
        slot = np.where(spread, (value - low) / np.where(spread, width, 1.0), 0.0).astype(np.int64).clip(0, bins - 1)
        frame = pd.DataFrame({"k": key, "b": slot, "c": column, "t": trait, "v": value})
        agg = frame.groupby(["k", "b"], sort=True).agg(c=("c", "first"), t=("t", "first"), v=("v", "mean"),
                                                        n=("v", "size")).reset_index()
        label, contributor = self._labels(agg["c"].to_numpy(), agg["t"].to_numpy())
        return pd.DataFrame({
            COLUMN: np.asarray(self.column_names, dtype=object)[agg["c"].to_numpy()], CONTRIBUTOR: contributor,
            VALUE: label, ATTRIBUTION: agg["v"].to_numpy(), CUSTOMERS: agg["n"].to_numpy(),
        })

    def explanation(self) -> Explanation:
        """The same attributions as an :class:`Explanation` (``data``: each customer's values).

        Its labels over many customers take a while to build (string handling); the summary and
        points above do not need them. ``.to_shap()`` gives shap's object for its plots.
        """
        n, gu = self.features.shape
        column, trait, _ = self._long()
        label, contributor = self._labels(column, trait)
        return Explanation(
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

    Matrix products over blocks of customers
    (:meth:`~recsys.insight.attribution.ScoreExplainer.column_values`), no loop over customers;
    labels are only made for the traits of the summary.

    Parameters
    ----------
    user_ids
        Customers (default: every customer of the model). Ignored when ``user_rows`` is given.
    user_rows
        Feature rows of the customers directly (e.g. a large audience of new customers).
    max_users
        Explain a seeded random sample of at most this many customers.
    view
        Default :data:`~recsys.insight.attribution.LIST_VIEW`: a customer column's value is then its interaction with this
        offer, i.e. how much the trait lifts this offer *within* the customer's own list. (In the
        ``"score"`` view customer-only terms such as LightFM's user biases, which a ranking loss
        leaves unconstrained, would swamp the traits.)
    """
    model = explainer.model
    rng = np.random.default_rng(seed)
    if user_rows is None:
        ids = model.user_index_.ids if user_ids is None else known_or_new_ids(user_ids, model.user_index_.positions, None, C.USER_ID, "customer")
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
        h = customer_interactions(history, user_id)
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


__all__ = ["OfferDrivers", "offer_drivers", "similar_history", "similar_responders", "SIMILARITY", "CUSTOMERS", "MEAN",
           "SHARE_UP"]
