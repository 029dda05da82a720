"""Growing a trained hybrid model to new customers, offers and feature values, without retraining.

LightFM cannot grow its embeddings by itself; :func:`grow_model` does it outside LightFM (it is
what :meth:`recsys.learn.model.HybridRecommender.grown` does). Customers and offers of the new
events become "warm" (they get identity features); ids only in the side tables are scored from
their facts; unseen values of the new side-table rows become new features. New embedding rows
are initialised as LightFM initialises them and every known parameter keeps its value and its
optimiser state, so before any further training every known score is unchanged.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.core import columns as C
from recsys.learn.interactions import IdIndex, build_interactions, latest_timestamp
from recsys.learn.lightfm_backend import grown_lightfm

if TYPE_CHECKING:
    from recsys.learn.model import HybridRecommender


def grow_model(
    base: "HybridRecommender",
    interactions: pd.DataFrame,
    users: pd.DataFrame | None = None,
    items: pd.DataFrame | None = None,
    *,
    new_user_rows: pd.DataFrame | None = None,
    new_item_rows: pd.DataFrame | None = None,
    seed: int | None = None,
) -> "HybridRecommender":
    """A copy of the fitted ``base`` whose id and feature spaces also cover new data.

    See :meth:`recsys.learn.model.HybridRecommender.grown` for the parameters; ``base`` is not changed.
    """
    for col in (C.USER_ID, C.ITEM_ID):
        if col not in interactions.columns:
            raise ValueError(f"interactions need a {col!r} column; found {list(interactions.columns)}")
    cfg = base.config_
    model = copy.copy(base)
    warm_u = IdIndex(base.user_index_.ids[: base.n_warm_users_]).extend(interactions[C.USER_ID])
    warm_i = IdIndex(base.item_index_.ids[: base.n_warm_items_]).extend(interactions[C.ITEM_ID])
    user_index = with_side_ids(warm_u, base.user_index_.ids[base.n_warm_users_:], users, C.USER_ID)
    item_index = with_side_ids(warm_i, base.item_index_.ids[base.n_warm_items_:], items, C.ITEM_ID)
    if new_user_rows is None and users is not None:
        new_user_rows = users[base.user_index_.positions(users[C.USER_ID]) < 0]
    if new_item_rows is None and items is not None:
        new_item_rows = items[base.item_index_.positions(items[C.ITEM_ID]) < 0]
    model.user_builder_ = copy.deepcopy(base.user_builder_)
    model.item_builder_ = copy.deepcopy(base.item_builder_)
    user_map = model.user_builder_.grow(new_user_rows, warm_u.ids[base.n_warm_users_:])
    item_map = model.item_builder_.grow(new_item_rows, warm_i.ids[base.n_warm_items_:])
    model.user_index_, model.item_index_ = user_index, item_index
    model.n_warm_users_, model.n_warm_items_ = len(warm_u), len(warm_i)
    model.user_features_ = model.user_builder_.transform(users, user_index.ids)
    model.item_features_ = model.item_builder_.transform(items, item_index.ids)
    new_positives = build_interactions(
        interactions, base.interactions_config_, user_index, item_index, latest_timestamp(interactions)
    ).positives()
    old = base.seen_.tocoo()
    rows = user_index.positions(base.user_index_.ids)[old.row]
    cols = item_index.positions(base.item_index_.ids)[old.col]
    seen = sp.coo_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=new_positives.shape).tocsr() + new_positives
    seen.data[:] = 1.0
    model.seen_ = seen.astype(np.float32)
    rng = np.random.RandomState(cfg.random_state if seed is None else int(seed))
    model.lightfm_ = grown_lightfm(
        base.lightfm_, cfg, user_map, model.user_builder_.n_features_, item_map, model.item_builder_.n_features_, rng
    )
    model.epochs_ = list(base.epochs_)
    model.updates_ = list(getattr(base, "updates_", []))
    model.cache_representations()
    return model


def with_side_ids(warm: IdIndex, old_cold: np.ndarray, table: pd.DataFrame | None, key: str) -> IdIndex:
    """Warm ids first, then the old side-table-only ids, then ids new in the side table."""
    index = warm.extend(old_cold) if len(old_cold) else warm
    if table is not None and key in table.columns:
        index = index.extend(table[key])
    return index


__all__ = ["grow_model", "with_side_ids"]
