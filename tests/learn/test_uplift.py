"""Uplift models recover the sample shop's planted effects; learners and the arm evaluation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.core import columns as cols
from recsys.learn import uplift as U


@pytest.fixture(scope="module")
def shop_uplift(sample_shop):
    return U.ShopUplift().fit(sample_shop.past_campaigns, sample_shop.interactions, sample_shop.users, sample_shop.items)


def test_uplift_recovers_the_planted_effects_for_deep_discounts(sample_shop, shop_uplift):
    users = sample_shop.users[cols.USER_ID].to_numpy()
    deep = sample_shop.items.query("campaign_type == 'percent_off' and discount_depth == 40")[cols.ITEM_ID].iloc[0]
    pred = shop_uplift.predict_pairs(users, np.full(len(users), deep), "2026-06-30", sample_shop.interactions,
                                     sample_shop.users, sample_shop.items)
    persona = pd.Series(sample_shop.truth["user_persona"]).reindex(users).to_numpy()
    top = pred["uplift"].to_numpy() >= np.quantile(pred["uplift"], 0.9)
    assert (persona[top] == "bargain_hunter").mean() > 0.7  # the top uplift decile: mostly bargain hunters
    by = pred["uplift"].groupby(persona).mean()
    assert by["bargain_hunter"] > 0.12
    assert abs(by["brand_loyal"]) < 0.05 and abs(by["brand_loyal"]) < by["bargain_hunter"] / 4  # they buy anyway
    assert by["premium"] < 0  # put off by deep discounts
    # The response ranking (P(convert | sent)) would put loyal customers high; uplift does not.
    assert pred["p_with"].groupby(persona).mean()["brand_loyal"] > pred["p_with"].groupby(persona).mean()["premium"]


def test_attributions_are_exact(sample_shop, shop_uplift):
    users = sample_shop.users[cols.USER_ID].to_numpy()[:20]
    item = sample_shop.items[cols.ITEM_ID].iloc[0]
    values, base = shop_uplift.explain_pairs(users, [item] * 20, "2026-06-30", sample_shop.interactions,
                                             sample_shop.users, sample_shop.items)
    pred = shop_uplift.predict_pairs(users, [item] * 20, "2026-06-30", sample_shop.interactions,
                                     sample_shop.users, sample_shop.items)
    np.testing.assert_allclose(base + values.sum(axis=1).to_numpy(), pred["uplift"].to_numpy(), atol=1e-6)


def test_evaluate_arms_on_a_randomised_table():
    rng = np.random.default_rng(0)
    n = 4000
    frame = pd.DataFrame({"arm": rng.choice(["mail", "none"], n), "x": rng.random(n), "kind": rng.choice(["a", "b"], n)})
    effect = 0.3 * (frame["x"] > 0.6) * frame["arm"].eq("mail")
    frame["bought"] = (rng.random(n) < 0.05 + effect).astype(int)
    (result,) = U.evaluate_arms(frame, "arm", "none", "bought", n_boot=50)
    assert result.arm == "mail"
    table = result.evaluation.table
    assert table.loc["x_learner", "qini_low"] > 0 and table.loc["t_learner", "qini_low"] > 0
    assert "x_learner" in U.format_arms([result], "bought")
    with pytest.raises(U.UpliftError, match="no row has arm"):
        U.evaluate_arms(frame, "arm", "control", "bought")
    with pytest.raises(U.UpliftError, match="fitted"):
        U.TLearner().predict(np.zeros((2, 2)))
