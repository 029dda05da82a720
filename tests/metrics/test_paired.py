"""Paired bootstrap of per-customer differences and its three-way verdict."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.metrics.paired import BETTER, NO_CLEAR_DIFFERENCE, WORSE, paired_difference


def test_clear_gain_loss_and_noise() -> None:
    rng = np.random.default_rng(0)
    base = rng.random(400)
    assert paired_difference(base + 0.05, base).verdict == BETTER
    assert paired_difference(base - 0.05, base).verdict == WORSE
    noise = paired_difference(base + rng.normal(0, 0.2, 400), base, seed=1)
    assert noise.low < 0 < noise.high and noise.verdict == NO_CLEAR_DIFFERENCE


def test_interval_covers_the_mean_and_pairs_cancel_customer_noise() -> None:
    rng = np.random.default_rng(3)
    customer = rng.random(300) * 10  # large between-customer spread, identical for both models
    r = paired_difference(customer + 0.01 + rng.normal(0, 0.01, 300), customer)
    assert r.low < r.mean < r.high
    assert r.mean == pytest.approx(0.01, abs=0.003) and r.verdict == BETTER  # unpaired, 0.01 would drown in spread


def test_missing_values_are_left_out_and_tiny_samples_say_no_clear_difference() -> None:
    r = paired_difference(np.array([1.0, np.nan, 0.0, 1.0]), np.array([0.0, 0.0, np.nan, 0.0]))
    assert r.n == 2
    assert paired_difference(np.array([1.0]), np.array([0.0])).verdict == NO_CLEAR_DIFFERENCE
    with pytest.raises(ValueError, match="same customers"):
        paired_difference(np.zeros(3), np.zeros(4))
