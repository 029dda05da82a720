"""ROI-aware targeting: the money of a pair, positive-value selection, cheapest sufficient depth, intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.campaign import roi
from recsys.campaign.spec import TargetingError
from recsys.core import columns as C


def _pairs() -> pd.DataFrame:
    # customer a: moved by the 30% coupon nearly as much as by the 50% one; b: buys anyway; c: put off.
    return pd.DataFrame({
        C.USER_ID: ["a", "a", "b", "b", "c"], C.ITEM_ID: ["d30", "d50", "d30", "d50", "d30"],
        "p_with": [0.30, 0.32, 0.40, 0.40, 0.05], "p_without": [0.05, 0.05, 0.40, 0.40, 0.10],
        "uplift": [0.25, 0.27, 0.0, 0.0, -0.05], "order_value": [100.0] * 5, "depth": [0.3, 0.5, 0.3, 0.5, 0.3],
    })


ITEMS = pd.DataFrame({C.ITEM_ID: ["d30", "d50"], "title": ["30% off shoes", "50% off shoes"], "category": ["shoes"] * 2,
                      "discount_depth": [30.0, 50.0]})


def test_pair_values_by_hand():
    v = roi.pair_values(_pairs(), 0.5)
    a30 = v.iloc[0]
    assert a30["incremental_revenue"] == pytest.approx(0.25 * 100 * 0.7)
    assert a30["discount_cost"] == pytest.approx(0.30 * 0.3 * 100)  # paid by every redeemer
    assert a30["incremental_profit"] == pytest.approx(0.25 * 0.5 * 100 - 9.0)
    assert v.iloc[2]["incremental_profit"] == pytest.approx(-12.0)  # buys anyway: pure cost


def test_selection_drops_negative_value_and_keeps_the_cheapest_sufficient_depth():
    v = roi.pair_values(_pairs(), 0.5)
    for objective in ("uplift", "profit"):
        sel = roi.select_pairs(v, ITEMS, objective)
        assert sel.values[C.USER_ID].tolist() == ["a"] and sel.values[C.ITEM_ID].tolist() == ["d30"]
        assert sel.negative_customers == 2 and "2 customer(s) left out" in sel.note()
    everyone = roi.select_pairs(v, ITEMS, "response")
    assert len(everyone.values) == len(v) and everyone.negative_customers == 0
    with pytest.raises(TargetingError, match="Unknown objective"):
        roi.select_pairs(v, ITEMS, "clicks")


def test_depth_families_group_offers_that_differ_only_in_depth():
    items = pd.concat([ITEMS, pd.DataFrame({C.ITEM_ID: ["bag30"], "title": ["30% off bags"], "category": ["bags"],
                                            "discount_depth": [30.0]})])
    fam = roi.depth_families(items, "discount_depth")
    assert fam["d30"] == fam["d50"] != fam["bag30"]


def test_calibration_and_summary_intervals():
    rng = np.random.default_rng(0)
    n = 4000
    pred = rng.random(n)
    t = rng.random(n) < 0.5
    y = (rng.random(n) < 0.1 + 0.2 * t * pred).astype(float)
    cal = roi.calibration(pred, t, y, n_bins=5, n_boot=100)
    assert cal.treated_rate.shape == (101, 5)
    top = cal.treated_rate[0, -1] - cal.control_rate[0, -1]
    assert top == pytest.approx(0.18, abs=0.05)
    v = roi.pair_values(pd.DataFrame({C.USER_ID: ["x"] * 3, C.ITEM_ID: ["o"] * 3, "p_with": 0.3, "p_without": 0.1,
                                      "uplift": [0.95, 0.9, 0.1], "order_value": 50.0, "depth": 0.2}), 0.5)
    summary = roi.roi_summary(v, cal).set_index("measure")
    row = summary.loc["incremental responders"]
    assert row["low"] < row["observed"] < row["high"] and row["model"] == pytest.approx(1.95)
    assert roi.control_evidence(v, cal).iloc[0].startswith("among ")


def test_expected_order_value_grosses_up_the_discount_and_shrinks():
    inter = pd.DataFrame({C.USER_ID: ["a", "b"], C.ITEM_ID: ["d50", "d30"], C.VALUE: [50.0, 70.0]})
    v = roi.expected_order_value(inter, ITEMS, ["a", "new"], ["d30", "d30"])
    assert v[1] == pytest.approx(100.0)  # a new customer: the category's mean gross order (100 and 100)
    with pytest.raises(TargetingError, match="order values"):
        roi.expected_order_value(inter.assign(**{C.VALUE: 0.0}), ITEMS, ["a"], ["d30"])
