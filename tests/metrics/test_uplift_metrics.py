"""Qini, AUUC and uplift@k against hand-computed values and their known properties."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.metrics.uplift import UpliftMetricError, evaluate_uplift


def test_uplift_at_k_and_average_effect_by_hand():
    # Sorted by score: rows 0-3 (2 treated: 1,1; 2 control: 0,0), rows 4-7 (2 treated: 0,0; 2 control: 1,0).
    y = np.array([1, 0, 1, 0, 0, 1, 0, 0], dtype=float)
    t = np.array([1, 0, 1, 0, 1, 0, 1, 0], dtype=bool)
    score = np.arange(8)[::-1].astype(float)
    e = evaluate_uplift(y, t, {"s": score}, k=0.5, n_boot=20)
    assert e.table.loc["s", "uplift_at_k"] == pytest.approx(1.0 - 0.0)
    assert e.average_effect[0] == pytest.approx((2 - 1 * 4 / 4) / 4)  # (Y_t - Y_c N_t/N_c) / N_T
    curve = e.curves[e.curves["score"].eq("s")]
    assert curve["qini"].iloc[0] == 0.0 and curve["qini"].iloc[-1] == pytest.approx(e.average_effect[0])


def test_a_score_that_finds_the_effect_beats_random_and_the_reversed_score():
    rng = np.random.default_rng(3)
    n = 6000
    x = rng.random(n)
    t = rng.random(n) < 0.5
    y = (rng.random(n) < 0.05 + 0.3 * t * (x > 0.7)).astype(float)
    e = evaluate_uplift(y, t, {"x": x, "reversed": -x, "random": rng.random(n)}, n_boot=100, seed=1)
    assert e.table.loc["x", "qini"] == pytest.approx(0.0315, abs=0.008)  # the ideal: 0.09 * (1 - 0.3) / 2
    assert e.table.loc["x", "qini_low"] > 0
    assert e.table.loc["reversed", "qini"] < 0
    verdicts = e.differences.set_index(["score", "metric"])["verdict"]
    assert verdicts["x", "qini"] == "better" and verdicts["reversed", "qini"] == "worse"
    assert e.table.loc["x", "uplift_at_k"] == pytest.approx(0.3, abs=0.05)  # top 30% = the x > 0.7 rows


def test_bad_input_is_named():
    with pytest.raises(UpliftMetricError, match="control"):
        evaluate_uplift([1, 0, 1], [1, 1, 1], {"s": [1, 2, 3]})
    with pytest.raises(UpliftMetricError, match="same number"):
        evaluate_uplift([1, 0, 1, 0], [1, 0, 1, 0], {"s": [1, 2]})
