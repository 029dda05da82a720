"""The generator's true response probability agrees with what the shop it generated shows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.core import columns as C
from recsys.data.synth import (
    generate, true_response_block, true_response_probability, user_personas, with_hidden,
)


@pytest.fixture(scope="module")
def shop():
    return generate(n_users=1500, n_items=60, seed=5)


def _impressions_with_outcome(shop) -> pd.DataFrame:
    inter = shop.interactions
    imp = inter[inter[C.EVENT] == C.IMPRESSION]
    redeemed = inter[inter[C.EVENT] == C.REDEEM][[C.USER_ID, C.ITEM_ID]].drop_duplicates()
    pairs = imp[[C.USER_ID, C.ITEM_ID]].drop_duplicates().merge(redeemed.assign(y=1), how="left")
    return pairs.fillna({"y": 0})


def test_probabilities_are_in_range_and_broadcast(shop):
    p = true_response_probability(shop, ["C000001", "C000002", "C000003"], "OFF0001")
    assert p.shape == (3,) and ((p > 0) & (p < 1)).all()
    block = true_response_block(shop, ["C000001", "C000002"], ["OFF0001", "OFF0002", "OFF0003"])
    assert block.shape == (2, 3)
    assert block[1, 2] == pytest.approx(true_response_probability(shop, "C000002", "OFF0003")[0])


def test_unknown_ids_are_named(shop):
    with pytest.raises(ValueError, match="C999999"):
        true_response_probability(shop, ["C999999"], ["OFF0001"])


def test_mean_true_probability_matches_the_observed_response_rate(shop):
    """Per (customer, offer) pair with impressions, P(redeemed at least once) = 1 - prod(1 - p) over its
    impressions (single-use coupons); the coupon running out makes the observed rate a little lower."""
    inter = shop.interactions
    imp = inter[inter[C.EVENT] == C.IMPRESSION]
    n_imp = imp.groupby([C.USER_ID, C.ITEM_ID]).size().rename("n").reset_index()
    pairs = _impressions_with_outcome(shop).merge(n_imp)
    p = true_response_probability(shop, pairs[C.USER_ID], pairs[C.ITEM_ID])
    expected = 1.0 - (1.0 - p) ** pairs["n"].to_numpy()
    observed = pairs["y"].mean()
    assert observed == pytest.approx(expected.mean(), rel=0.12)
    # and it ranks: pairs in the top true-probability quintile respond far more than the bottom one
    q = pd.qcut(expected, 5, labels=False)
    rates = pairs["y"].groupby(q).mean()
    assert rates.iloc[-1] > 4 * rates.iloc[0]


def test_bargain_hunters_respond_more_to_deep_discounts(shop):
    persona = user_personas(shop)
    hunters = persona.index[persona == "bargain_hunter"].to_numpy()
    depth = shop.items.set_index(C.ITEM_ID)["discount_depth"]
    deep = depth.index[depth >= 30].to_numpy()
    shallow = depth.index[depth < 20].to_numpy()
    block = true_response_block(shop, hunters, np.concatenate([deep, shallow]))
    assert block[:, : len(deep)].mean() > 2 * block[:, len(deep):].mean()
    premium = persona.index[persona == "premium"].to_numpy()
    assert true_response_block(shop, premium, deep).mean() < block[:, : len(deep)].mean()


def test_a_loaded_shop_is_regenerated_from_its_config():
    small = generate(n_users=60, n_items=10, seed=9)
    bare = type(small)(small.interactions, small.users, small.items, small.truth)
    assert bare.hidden is None and with_hidden(bare).hidden is not None
    np.testing.assert_array_equal(
        true_response_probability(bare, ["C000001", "C000010"], ["OFF0002", "OFF0003"]),
        true_response_probability(small, ["C000001", "C000010"], ["OFF0002", "OFF0003"]),
    )
