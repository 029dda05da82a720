"""Benchmark of model updates: batch-by-batch updates vs retraining from scratch. Prints figures.

The sample shop is split in time: a model is trained on everything before the last
``--days`` days; then each day's events arrive as one batch. At every step the updated model
(grown + ``fit_partial`` on the day's events plus a replay sample, see ``recsys.learn.update``) and a
model retrained from scratch on everything so far (same epochs as the first model, chosen by
early stopping as the app does) are judged on the *next* day's events (precision@10, pairs
already seen in training excluded). The never-updated first model ("stale") and a popularity
baseline are printed as references. Time ratio = update seconds / retrain seconds, same run.

Usage::

    .venv/bin/python bench/bench_update.py                   # 14 daily batches of the sample
    .venv/bin/python bench/bench_update.py --days 6 --epochs 3 --replay 0
    .venv/bin/python bench/bench_update.py --half-life 14   # retrains that favour recent events too
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys.core import columns as C  # noqa: E402
from recsys.data.prepare import prepare_dataset  # noqa: E402
from recsys.learn.config import InteractionConfig  # noqa: E402
from recsys.workspace.ingest import sample_files  # noqa: E402
from recsys.learn.pipeline import HYBRID, TrainConfig, train_and_evaluate  # noqa: E402
from recsys.learn.update import UpdateConfig, backtest  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=14, help="daily batches replayed (default 14)")
    parser.add_argument("--epochs", type=int, default=UpdateConfig.epochs, help="update epochs per batch")
    parser.add_argument("--replay", type=float, default=UpdateConfig.replay_ratio, help="replayed old events per new one")
    parser.add_argument("--half-life", type=float, default=None,
                        help="time-decay half-life in days for every model (default: none, as the app)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    files = sample_files()
    prepared = prepare_dataset(files["interactions"], files["users"], files["items"])
    inter = prepared.interactions
    ts = pd.to_datetime(inter[C.TIMESTAMP])
    start = ts.max().normalize() - pd.Timedelta(days=args.days)
    config = TrainConfig(seed=args.seed, interactions=InteractionConfig(half_life_days=args.half_life))

    t0 = time.perf_counter()
    first = inter[(ts < start).to_numpy()]
    result = train_and_evaluate(first, prepared.users, prepared.user_schema, prepared.items, prepared.item_schema,
                                replace(config, baselines=()))
    epochs = result.best_epochs[HYBRID]
    print(f"sample: {len(inter):,} events; first model on {len(first):,} events before {start.date()}, "
          f"{epochs} epochs (early stopping, {time.perf_counter() - t0:.0f} s)")

    curves = backtest(
        inter, prepared.users, prepared.user_schema, prepared.items, prepared.item_schema, config, start,
        steps=args.days - 1, batch="1D", epochs=epochs,
        update_config=UpdateConfig(epochs=args.epochs, replay_ratio=args.replay, seed=args.seed),
    )
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 20)
    shown = curves.assign(day=curves["batch_start"].dt.date).drop(columns=["batch_start"])
    print(shown.round(4).to_string(index=False))
    means = curves[["precision_update", "precision_scratch", "precision_stale", "precision_popularity"]].mean()
    print("\nmean precision@10 on the next day:", ", ".join(f"{k.split('_')[1]} {v:.4f}" for k, v in means.items()))
    print(f"update - retrain: {means['precision_update'] - means['precision_scratch']:+.4f} "
          f"(worst day {(curves['precision_update'] - curves['precision_scratch']).min():+.4f})")
    ratio = curves["seconds_update"].sum() / curves["seconds_scratch"].sum()
    print(f"time: updates {curves['seconds_update'].sum():.1f} s, retrains {curves['seconds_scratch'].sum():.1f} s "
          f"-> ratio {ratio:.3f} ({1 / ratio:.0f}x faster)")


if __name__ == "__main__":
    main()
