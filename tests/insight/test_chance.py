"""The explanation in chance points: the bars add up exactly to the change in chance, and keep the sign and the
order of the model's exact raw-score contributions; without a chance of the score, in shares of its gap to the
base, which add up exactly to the whole gap."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from recsys.charts import attribution as attribution_charts
from recsys.insight.attribution import ATTRIBUTION, CONTRIBUTOR, SIDE
from recsys.core.i18n import use_language
from recsys.insight.chance import (
    CHANCE_POINTS, GAP_SHARES, OTHER_SCORES, RAW_ATTRIBUTION, explanation_lines, in_chance_points, in_gap_shares,
)


def waterfall(raw: np.ndarray) -> pd.DataFrame:
    order = np.argsort(-np.abs(raw), kind="stable")
    return pd.DataFrame({CONTRIBUTOR: [f"fact {i}" for i in order], SIDE: "customer", ATTRIBUTION: raw[order]})


def random_waterfall(seed: int) -> tuple[np.ndarray, pd.DataFrame, float, float]:
    """Raw contributions of many sizes, their waterfall, and the base and score they go between."""
    rng = np.random.default_rng(seed)
    raw = rng.normal(0, 1, rng.integers(1, 12)) * rng.choice([0.01, 1.0, 30.0])
    parts = waterfall(raw)
    base = float(rng.normal(-18, 2))
    return raw, parts, base, base + float(parts[ATTRIBUTION].sum())


@pytest.mark.parametrize("seed", range(20))
def test_bars_add_up_exactly_and_keep_sign_and_order(seed: int) -> None:
    raw, parts, base, score = random_waterfall(seed)
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


# ------------------------------------------------------------------ shares of the gap (no chance of this score)
@pytest.mark.parametrize("seed", range(20))
def test_gap_shares_add_up_to_the_whole_gap_and_keep_sign_and_order(seed: int) -> None:
    raw, parts, base, score = random_waterfall(seed)
    shown = in_gap_shares(parts, base, score)
    bars = shown[ATTRIBUTION].to_numpy()
    whole = float(np.sign(score - base))  # +100% above the base, -100% below it
    assert math.fsum(bars) == pytest.approx(whole, rel=0, abs=1e-14 * max(1.0, np.abs(bars).max()))  # float rounding
    np.testing.assert_array_equal(shown[RAW_ATTRIBUTION].to_numpy(), parts[ATTRIBUTION].to_numpy())  # raw kept
    assert (np.sign(bars) == np.sign(parts[ATTRIBUTION].to_numpy())).all()  # a lift stays a lift, above or below
    assert (np.argsort(-np.abs(bars), kind="stable") == np.arange(len(bars))).all()  # largest first, still
    np.testing.assert_allclose(bars, parts[ATTRIBUTION].to_numpy() / abs(score - base), rtol=1e-12, atol=1e-15)


def test_no_gap_has_no_shares() -> None:
    assert in_gap_shares(waterfall(np.array([0.5, -0.5])), -3.0, -3.0)[ATTRIBUTION].tolist() == [0.0, 0.0]
    assert in_gap_shares(waterfall(np.zeros(0)), 1.0, 1.0).empty


def test_the_waterfall_in_shares_is_drawn_in_percent_of_the_gap() -> None:
    parts = in_gap_shares(waterfall(np.array([3.0, -1.0])), -19.03, -17.03)
    fig = attribution_charts.attribution_waterfall(parts, 0.0, 1.0, "base", "why", share=True)
    assert list(fig.data[0].x) == pytest.approx([150.0, -50.0]) and fig.data[0].base == pytest.approx(0.0)
    assert list(fig.data[0].text) == ["+150%", "-50%"]
    notes = [a.text for a in fig.layout.annotations]
    assert notes == ["base: 0%", "this offer: 100%"]  # no raw score anywhere on the chart
    assert "share of the gap" in fig.layout.xaxis.title.text


def test_the_cli_lines_say_their_unit_and_add_up() -> None:
    parts = in_gap_shares(waterfall(np.array([3.0, -1.0])), -19.03, -17.03)
    row = {"explanation": {"unit": GAP_SHARES, "start": 0.0, "end": 1.0, "why_not": OTHER_SCORES,
                           "parts": [{"name": c, "side": s, "value": v} for c, s, v
                                     in zip(parts[CONTRIBUTOR], parts[SIDE], parts[ATTRIBUTION])]}}
    head, *bars = explanation_lines(row, indent="")
    assert head == "share of the gap between this offer's score and its base (100% = the whole gap):"
    assert bars == ["+150.0%  fact 0 (customer)", " -50.0%  fact 1 (customer)"]
    chance = {"explanation": {"unit": CHANCE_POINTS, "start": 0.05, "end": 0.25, "why_not": None,
                              "parts": [{"name": "segment = a", "side": "customer", "value": 0.3},
                                        {"name": "other (2 more facts)", "side": "", "value": -0.1}]}}
    assert explanation_lines(chance, indent="") == [
        "percentage points of the chance of redeeming, from 5.0% to 25.0%:",
        "+30.00 pt  segment = a (customer)", "-10.00 pt  other (2 more facts)"]
    with use_language("zh_CN"):
        head, *_bars = explanation_lines(row, indent="")
    assert head != "share of the gap between this offer's score and its base (100% = the whole gap):"
    assert all("\u4e00" <= ch <= "\u9fff" for ch in head[:2]), head  # translated
