"""The sample shop's past randomised campaigns: reproducible, randomised, with the planted effects."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys.core import columns as cols
from recsys.data import past_campaigns as pc
from recsys.data import synth, synth_vocab


def test_past_campaigns_are_randomised_and_reproducible():
    shop = synth.generate(n_users=400, n_items=40, seed=3)
    again = synth.generate(n_users=400, n_items=40, seed=3)
    pd.testing.assert_frame_equal(shop.past_campaigns, again.past_campaigns)
    table = shop.past_campaigns
    assert list(table.columns) == list(pc.COLUMNS)
    assert set(table[pc.GROUP]) == {cols.TREATMENT, cols.CONTROL}
    assert 0.4 < table[pc.GROUP].eq(cols.CONTROL).mean() < 0.6
    assert not table.duplicated([pc.CAMPAIGN_ID, cols.USER_ID]).any()
    signup = shop.users.set_index(cols.USER_ID)[synth_vocab.SIGNUP_DATE].reindex(table[cols.USER_ID]).to_numpy()
    assert (signup < table[pc.SENT_DATE].to_numpy()).all()
    assert (table.loc[table[pc.CONVERTED].eq(0), pc.ORDER_VALUE] == 0).all()
    assert (table.loc[table[pc.CONVERTED].eq(1), pc.ORDER_VALUE] > 0).all()


def test_sample_past_campaigns_show_the_planted_effects(sample_shop):
    table = sample_shop.past_campaigns
    truth = sample_shop.truth
    depth = table[cols.ITEM_ID].map({v["item_id"]: v["discount_depth"] for v in truth["past_campaigns"]["campaigns"].values()})
    persona = pd.Series(truth["user_persona"]).reindex(table[cols.USER_ID]).to_numpy()
    rates = table.assign(persona=persona, deep=depth >= 30).groupby(["persona", "deep", pc.GROUP])[pc.CONVERTED].mean()
    lift = rates.xs(cols.TREATMENT, level=pc.GROUP) - rates.xs(cols.CONTROL, level=pc.GROUP)
    assert lift["bargain_hunter", True] > 0.2  # planted: they redeem deep discounts because of them
    assert abs(lift["brand_loyal", True]) < 0.05  # planted: they buy anyway
    assert lift["premium", True] < 0  # planted: put off by deep discounts


def test_true_uplift_and_profit_follow_the_planted_model(sample_shop):
    truth = sample_shop.truth
    ids = pd.Series(truth["user_persona"])
    one = {p: ids.index[ids.eq(p)][0] for p in ("bargain_hunter", "brand_loyal", "premium")}
    deep = pc.true_uplift(truth, list(one.values()), 40.0, "grocery")
    assert deep[0] > 0.15 and abs(deep[1]) < 0.01 and deep[2] < 0
    shallow = pc.true_uplift(truth, one["bargain_hunter"], 10.0, "grocery")
    assert shallow[0] < deep[0] / 3
    # Deeper than needed only adds cost: 30% earns more than 50% for a bargain hunter.
    profit = pc.true_incremental_profit(truth, one["bargain_hunter"], np.array([30.0, 50.0]), "grocery")
    assert profit[0] > profit[1]
    assert pc.true_incremental_profit(truth, one["brand_loyal"], 30.0, "grocery")[0] < 0
