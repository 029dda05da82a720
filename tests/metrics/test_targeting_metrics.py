"""Targeting metrics on tiny hand-made frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.metrics.targeting import evaluate_targeting, per_offer_metrics


def _rows(offers: list[str], labels: list[int]) -> pd.DataFrame:
    return pd.DataFrame({"user_id": [f"u{k}" for k in range(len(labels))], "item_id": offers, "label": labels})


def test_auc_of_a_perfect_ranking_is_one_and_of_a_reversed_one_zero():
    m = per_offer_metrics(np.array(["o"] * 4), np.array([1, 1, 0, 0]), np.array([4.0, 3, 2, 1]), n_values=(2,))
    assert m.loc["o", "auc"] == 1.0 and m.loc["o", "precision@2"] == 1.0 and m.loc["o", "lift@2"] == 2.0
    m = per_offer_metrics(np.array(["o"] * 4), np.array([1, 1, 0, 0]), np.array([1.0, 2, 3, 4]), n_values=(2,))
    assert m.loc["o", "auc"] == 0.0 and m.loc["o", "lift@2"] == 0.0


def test_ties_count_half_and_offers_without_both_classes_have_no_auc():
    m = per_offer_metrics(np.array(["a"] * 2 + ["b"] * 2), np.array([1, 0, 1, 1]), np.array([1.0, 1.0, 2, 3]), n_values=(5,))
    assert m.loc["a", "auc"] == 0.5
    assert np.isnan(m.loc["b", "auc"]) and np.isnan(m.loc["a", "precision@5"])


def test_random_scores_give_auc_near_half_and_lift_near_one():
    rng = np.random.default_rng(0)
    n = 20_000
    offers = np.repeat([f"o{k}" for k in range(20)], n // 20)
    labels = (rng.random(n) < 0.1).astype(int)
    report = evaluate_targeting(pd.DataFrame({"user_id": np.arange(n).astype(str), "item_id": offers, "label": labels}),
                                {"random": rng.random(n), "oracle": labels + 0.01 * rng.random(n)},
                                reference="oracle", n_values=(100,), n_boot=200)
    assert report.summary.loc[("random", "auc"), "mean"] == pytest.approx(0.5, abs=0.02)
    assert report.summary.loc[("random", "lift@100"), "mean"] == pytest.approx(1.0, abs=0.15)
    assert report.summary.loc[("oracle", "auc"), "mean"] == 1.0
    assert report.verdict.split(": ", 1)[1].startswith("beats every baseline")


def test_decile_table_sums_to_the_rows_and_responders_and_a_calibrated_score_has_small_gaps():
    rng = np.random.default_rng(1)
    p = rng.uniform(0.01, 0.5, 50_000)
    y = (rng.random(len(p)) < p).astype(int)
    rows = pd.DataFrame({"user_id": np.arange(len(p)).astype(str), "item_id": "o", "label": y})
    report = evaluate_targeting(rows, {"p": p}, n_values=(10,), n_boot=20)
    assert report.deciles["rows"].sum() == len(p) and report.deciles["actual"].sum() == y.sum()
    assert report.deciles["expected"].sum() == pytest.approx(p.sum())
    assert report.calibration["p"]["largest_decile_gap"] < 0.02
    assert report.calibration["p"]["brier"] == pytest.approx(np.mean((p - y) ** 2))


def test_verdict_says_no_clear_difference_when_intervals_cover_zero():
    rng = np.random.default_rng(2)
    n = 4000
    offers = np.repeat([f"o{k}" for k in range(8)], n // 8)
    labels = (rng.random(n) < 0.2).astype(int)
    report = evaluate_targeting(pd.DataFrame({"user_id": np.arange(n).astype(str), "item_id": offers, "label": labels}),
                                {"a": rng.random(n), "b": rng.random(n)}, n_values=(50,), n_boot=300)
    assert "no clear difference with b" in report.verdict
    assert set(report.to_dict()) >= {"summary", "differences", "deciles", "calibration", "verdict"}
