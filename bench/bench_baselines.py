"""Fit + score time of every strong baseline next to LightFM's, same data, same run. Never asserts timings.

Data: a synthetic purchase log with popularity-skewed offers (Zipf) and customers with a few
dozen purchases on average, at 100k and 1M interactions (``--sizes``). Each model is fitted once
with its default setting (no validation grid: the time of one fit) and then scores top-10 lists of
``--score-users`` customers over every offer (the same customers for every model). The reference is
the hybrid LightFM model (no side features here, so the collaborative setup, ``--epochs`` epochs);
each line prints the ratio to it.

Usage::

    .venv/bin/python bench/bench_baselines.py                      # 100k and 1M interactions
    .venv/bin/python bench/bench_baselines.py --sizes 100000       # quick
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys.core import columns as C  # noqa: E402
from recsys.learn.baselines import PopularityRecommender  # noqa: E402
from recsys.learn.config import InteractionConfig, ModelConfig  # noqa: E402
from recsys.learn.model import HybridRecommender  # noqa: E402
from recsys.learn.select import DEFAULTS, STRONG_BASELINES, make_baseline  # noqa: E402


def purchases(n_rows: int, seed: int = 0) -> pd.DataFrame:
    """``n_rows`` purchases: n_rows/20 customers, n_rows/250 offers (at least 2,000), Zipf popularity."""
    rng = np.random.default_rng(seed)
    n_users, n_items = max(n_rows // 20, 100), max(n_rows // 250, 2000)
    item_p = 1.0 / np.arange(1, n_items + 1) ** 0.9
    item_p /= item_p.sum()
    users = rng.integers(0, n_users, n_rows)
    items = rng.choice(n_items, n_rows, p=item_p)
    days = rng.integers(0, 365, n_rows)
    return pd.DataFrame({
        C.USER_ID: pd.Series(users).map("C{:07d}".format).to_numpy(object),
        C.ITEM_ID: pd.Series(items).map("P{:06d}".format).to_numpy(object),
        C.EVENT: C.PURCHASE,
        C.TIMESTAMP: pd.Timestamp("2024-01-01") + pd.to_timedelta(days, unit="D"),
    })


def timed(make, data: pd.DataFrame, users: np.ndarray) -> tuple[float, float]:
    t0 = time.perf_counter()
    model = make().fit(data)
    fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    model.recommend(users, k=10)
    return fit, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--score-users", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    icfg = InteractionConfig()
    print(f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, load average {os.getloadavg()[0]:.2f}")
    for n in args.sizes:
        data = purchases(n)
        all_users = pd.unique(data[C.USER_ID].to_numpy(object))
        users = np.random.default_rng(1).choice(all_users, min(args.score_users, len(all_users)), replace=False)
        print(f"\n{n:,} interactions: {len(all_users):,} customers x {data[C.ITEM_ID].nunique():,} offers; "
              f"top-10 of {len(users):,} customers over every offer")
        lightfm = lambda: HybridRecommender(ModelConfig(epochs=args.epochs, early_stopping_patience=0))  # noqa: E731
        ref_fit, ref_score = timed(lightfm, data, users)
        print(f"{'model':<44}{'fit s':>9}{'score s':>9}{'total s':>9}{'x LightFM':>11}")
        print(f"{'LightFM (reference, ' + str(args.epochs) + ' epochs)':<44}{ref_fit:>9.2f}{ref_score:>9.2f}{ref_fit + ref_score:>9.2f}{1.0:>11.2f}")
        contenders = {"popularity (all time)": lambda: PopularityRecommender(icfg)}
        for name in STRONG_BASELINES:
            contenders[f"{name} {DEFAULTS[name]}".replace("'", "")] = (
                lambda name=name: make_baseline(name, icfg, DEFAULTS[name], DEFAULTS["recent_popularity"]["window_days"], 0))
        for label, make in contenders.items():
            fit, score = timed(make, data, users)
            print(f"{label[:43]:<44}{fit:>9.2f}{score:>9.2f}{fit + score:>9.2f}{(fit + score) / (ref_fit + ref_score):>11.2f}")


if __name__ == "__main__":
    main()
