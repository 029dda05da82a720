"""The validation search of the hybrid's settings: starts from the run's settings, keeps the best, never tests."""

from __future__ import annotations

import pytest

from recsys.learn.pipeline import TrainConfig
from recsys.learn.tune import apply_settings, candidate_settings, settings_of, tune_hybrid
from tests.conftest import tiny_model_config


def test_search_starts_from_the_run_settings_and_keeps_the_best(small_shop, small_shop_schemas) -> None:  # noqa: ANN001
    us, its = small_shop_schemas
    config = TrainConfig(model=tiny_model_config(epochs=2, min_epochs=1))
    result = tune_hybrid(small_shop.interactions, small_shop.users, us, small_shop.items, its, config,
                         budget_seconds=600, max_trials=3)
    assert len(result.trials) == 3
    assert result.trials[0]["settings"] == settings_of(config)
    best = max(result.trials, key=lambda t: t["validation"])
    assert settings_of(result.config) | {"click_weight": best["settings"]["click_weight"]} == best["settings"]
    summary = result.to_dict()
    assert summary["best_validation"] == best["validation"] >= summary["default_validation"]


def test_settings_apply_and_the_order_is_seeded() -> None:
    config = TrainConfig()
    s = {"learning_rate": 0.1, "no_components": 16, "loss": "bpr", "normalize": True, "click_weight": 0.0,
         "half_life_days": 30.0}
    applied = apply_settings(config, s)
    assert (applied.model.learning_rate, applied.model.loss, applied.features.normalize) == (0.1, "bpr", True)
    assert applied.interactions.weights()["click"] == 0.0 and applied.interactions.half_life_days == 30.0
    assert candidate_settings(config)[:5] == candidate_settings(TrainConfig())[:5]
    assert candidate_settings(config)[1:4] != candidate_settings(TrainConfig(seed=7))[1:4]
    with pytest.raises(ValueError, match="budget"):
        tune_hybrid(None, None, None, None, None, config, budget_seconds=0)  # type: ignore[arg-type]
