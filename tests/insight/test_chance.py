"""The explanation in chance points: the bars add up exactly to the change in chance, and keep the sign and the
order of the model's exact raw-score contributions."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from recsys.charts import attribution as attribution_charts
from recsys.insight.attribution import ATTRIBUTION, CONTRIBUTOR, SIDE
from recsys.insight.chance import RAW_ATTRIBUTION, in_chance_points


def waterfall(raw: np.ndarray) -> pd.DataFrame:
    order = np.argsort(-np.abs(raw), kind="stable")
    return pd.DataFrame({CONTRIBUTOR: [f"fact {i}" for i in order], SIDE: "customer", ATTRIBUTION: raw[order]})


@pytest.mark.parametrize("seed", range(20))
def test_bars_add_up_exactly_and_keep_sign_and_order(seed: int) -> None:
    rng = np.random.default_rng(seed)
    raw = rng.normal(0, 1, rng.integers(1, 12)) * rng.choice([0.01, 1.0, 30.0])
    parts = waterfall(raw)
    base = float(rng.normal(-18, 2))
    score = base + float(parts[ATTRIBUTION].sum())
    curve = lambda s: float(expit(0.7 * (s + 17.5)))  # a rising, curved chance of the score  # noqa: E731
    p0, p1 = curve(base), curve(score)
    shown = in_chance_points(parts, base, score, p0, p1)
    bars = shown[ATTRIBUTION].to_numpy()
    assert math.fsum(bars) == pytest.approx(p1 - p0, rel=0, abs=1e-15)  # exact up to float rounding
    assert p0 + bars.sum() == pytest.approx(p1, rel=0, abs=1e-15)  # the waterfall ends at the chance
    np.testing.assert_array_equal(shown[RAW_ATTRIBUTION].to_numpy(), parts[ATTRIBUTION].to_numpy())  # raw kept
    if abs(p1 - p0) > 1e-12:
        assert (np.sign(bars) == np.sign(raw[np.argsort(-np.abs(raw), kind="stable")])).all()
        assert (np.argsort(-np.abs(bars), kind="stable") == np.arange(len(bars))).all()  # largest first, still
    np.testing.assert_allclose(bars, parts[ATTRIBUTION].to_numpy() * (p1 - p0) / (score - base), rtol=1e-12, atol=1e-18)


def test_a_fact_gets_its_share_of_the_chance_not_the_slope_at_one_end() -> None:
    parts = waterfall(np.array([3.0, -1.0]))  # the score rises by 2 from the base
    shown = in_chance_points(parts, -20.0, -18.0, 0.05, 0.25)
    assert shown[ATTRIBUTION].tolist() == pytest.approx([0.30, -0.10], abs=1e-15)
    assert shown[CONTRIBUTOR].tolist() == parts[CONTRIBUTOR].tolist()


def test_no_change_in_score_is_no_change_in_chance() -> None:
    shown = in_chance_points(waterfall(np.array([0.5, -0.5])), -3.0, -3.0, 0.2, 0.2)
    assert shown[ATTRIBUTION].tolist() == [0.0, 0.0]
    assert in_chance_points(waterfall(np.zeros(0)), 1.0, 1.0, 0.2, 0.2).empty


def test_the_waterfall_in_chance_points_is_drawn_in_percent() -> None:
    parts = in_chance_points(waterfall(np.array([3.0, -1.0])), -20.0, -18.0, 0.05, 0.25)
    fig = attribution_charts.attribution_waterfall(parts, 0.05, 0.25, "compared with", "why", chance=True)
    assert list(fig.data[0].x) == pytest.approx([30.0, -10.0]) and fig.data[0].base == pytest.approx(5.0)
    assert list(fig.data[0].text) == ["+30.0 pt", "-10.0 pt"]
    notes = [a.text for a in fig.layout.annotations]
    assert "compared with: 5.0%" in notes and "chance 25.0%" in notes
    raw = attribution_charts.attribution_waterfall(waterfall(np.array([3.0, -1.0])), -20.0, -18.0, "compared with", "why")
    assert list(raw.data[0].text) == ["+3.000", "-1.000"]  # without a chance: the raw score, as before
