"""Offer groups are looked up once per distinct offer: the same tables and metrics, bit for bit, as
when every listed row was looked up as text (the definitions before, kept here as references)."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import pandas as pd
import pytest

from recsys.core import columns as C
from recsys.metrics import beyond
from recsys.metrics.base import GROUP_COLUMN, MISSING, UNKNOWN_ITEM, check_frame, user_lists
from recsys.metrics.beyond import ExposureParity, exposure_parity, offer_group_table


def item_group_codes_reference(items: np.ndarray, item_groups: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Group code of each item (items without a group get ``(not in offer table)``)."""
    lookup = pd.Series(item_groups.astype("string").fillna(MISSING).astype(object).to_numpy(object),
                       index=pd.Index(item_groups.index.astype(str), dtype=object))
    lookup = lookup[~lookup.index.duplicated()]
    labels = lookup.reindex(items).fillna(UNKNOWN_ITEM).to_numpy(object)
    codes, groups = pd.factorize(labels, sort=True)
    return codes.astype(np.int64), pd.Index(groups, dtype=object)


def offer_group_table_reference(
    reco: pd.DataFrame,
    item_groups: pd.Series,
    k: int | None,
    catalog: Iterable[Any] | None = None,
    train: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The definition before: every row's offer looked up as text."""
    _, _, items = user_lists(reco, k)
    cat = beyond._catalogue(catalog, "offer_group_table") if catalog is not None else pd.Index(pd.unique(items), dtype=object)
    universe = cat.union(pd.Index(pd.unique(items), dtype=object), sort=False)
    codes, groups = item_group_codes_reference(universe.to_numpy(object), item_groups)
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
        pairs = check_frame(train, "train", (C.USER_ID, C.ITEM_ID))[[C.USER_ID, C.ITEM_ID]].astype(str).drop_duplicates()
        t_codes, t_groups = item_group_codes_reference(pairs[C.ITEM_ID].to_numpy(object), item_groups)
        per = pd.Series(np.bincount(t_codes, minlength=len(t_groups)), index=t_groups)
        table["interaction_share"] = per.reindex(groups).fillna(0).to_numpy(np.float64) / max(len(pairs), 1)
    else:
        table["interaction_share"] = np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        table["exposure_ratio"] = np.where(table["catalogue_share"] > 0, table["slot_share"] / table["catalogue_share"], np.nan)
        table["vs_history"] = np.where(table["interaction_share"] > 0, table["slot_share"] / table["interaction_share"], np.nan)
        table["coverage"] = np.where(n_cat > 0, shown_in_cat / np.maximum(n_cat, 1), np.nan)
    return table.sort_values(["slot_share", GROUP_COLUMN], ascending=[False, True], kind="stable").reset_index(drop=True)



def lists(seed: int) -> tuple[pd.DataFrame, pd.Series, list[str], pd.DataFrame]:
    rng = np.random.default_rng(seed)
    items = [f"o{i}" for i in range(15)] + ["满减", "10", "9"]
    n = 400
    reco = pd.DataFrame({C.USER_ID: rng.choice([f"c{i}" for i in range(50)], n), C.ITEM_ID: rng.choice(items, n),
                         C.RANK: rng.integers(1, 12, n)}).drop_duplicates([C.USER_ID, C.ITEM_ID])
    # o0, o1 missing from the offers table; a missing group value; catalogue without o2 but with an unshown offer
    groups = pd.Series(rng.choice(["food", "fashion", "beauty", None], len(items) - 2), index=items[2:])
    catalog = [i for i in items if i != "o2"] + ["never shown"]
    train = pd.DataFrame({C.USER_ID: rng.choice([f"c{i}" for i in range(60)], 300), C.ITEM_ID: rng.choice(items, 300)})
    return reco, groups, catalog, train


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_offer_groups_equal_the_text_definition(seed: int) -> None:
    reco, groups, catalog, train = lists(seed)
    for k in (3, 10, None):
        got = offer_group_table(reco, groups, k, catalog, train)
        assert got["slots"].sum() > 0 and (got[GROUP_COLUMN] == UNKNOWN_ITEM).any() and (got[GROUP_COLUMN] == MISSING).any()
        pd.testing.assert_frame_equal(got, offer_group_table_reference(reco, groups, k, catalog, train), check_exact=True)
        pd.testing.assert_frame_equal(offer_group_table(reco, groups, k), offer_group_table_reference(reco, groups, k),
                                      check_exact=True)
    _, _, items = user_lists(reco, 5)
    codes, labels = beyond._item_group_codes(items, groups)
    expected_codes, expected_labels = item_group_codes_reference(items, groups)
    np.testing.assert_array_equal(codes, expected_codes)
    pd.testing.assert_index_equal(labels, expected_labels)
    assert len(labels) >= 3


def test_group_metrics_of_lists_with_a_missing_offer_id() -> None:
    reco, groups, catalog, train = lists(3)
    reco.loc[reco.index[:2], C.ITEM_ID] = None
    _, _, items = user_lists(reco, 10)
    codes, labels = beyond._item_group_codes(items, groups)
    expected_codes, expected_labels = item_group_codes_reference(items, groups)
    np.testing.assert_array_equal(codes, expected_codes)
    pd.testing.assert_index_equal(labels, expected_labels)
    pd.testing.assert_frame_equal(offer_group_table(reco, groups, 10, catalog, train),
                                  offer_group_table_reference(reco, groups, 10, catalog, train), check_exact=True)


@pytest.mark.parametrize("seed", [0, 1])
def test_exposure_parity_of_the_table_with_history_is_the_metric(seed: int) -> None:
    reco, groups, catalog, train = lists(seed)
    for k in (2, 6):
        metric = ExposureParity(k, item_groups=groups).calc(reco, catalog=catalog)
        table = offer_group_table(reco[reco[C.RANK] <= k], groups, k, catalog, train)
        assert 0 < metric < 1
        assert exposure_parity(table) == metric
