"""Benchmark of the segment tools at shop scale. Prints figures; never asserts timings.

A random shop (default 100,000 customers, 500 offers, 2,000,000 interactions with impressions,
clicks, redeems and purchases over six months) goes through every step the Segments page runs:
RFM (and its monthly trend), segments by columns, trait / offer lifts, the response table, active
customers over time; then a small LightFM model is fitted (timed apart: it is the Train page's
job) and the behavioural clusters, the 2-D maps and a profile's top offers are timed.

Usage::

    .venv/bin/python bench/bench_segments.py                   # 100k customers
    .venv/bin/python bench/bench_segments.py --users 20000 --interactions 400000
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys.core import columns as C  # noqa: E402
from recsys.insight import clusters as K  # noqa: E402
from recsys.insight import lift as L  # noqa: E402
from recsys.insight import profiles as P  # noqa: E402
from recsys.insight import rfm as R  # noqa: E402
from recsys.insight import segments as S  # noqa: E402
from recsys.learn.config import ModelConfig  # noqa: E402
from recsys.learn.model import HybridRecommender  # noqa: E402
from recsys.data.schema import ColumnKind, ColumnSpec, TableSchema  # noqa: E402

EVENTS = np.array([C.IMPRESSION, C.CLICK, C.REDEEM, C.PURCHASE], dtype=object)
USER_SCHEMA = TableSchema((
    ColumnSpec("segment", ColumnKind.CATEGORICAL), ColumnSpec("region", ColumnKind.CATEGORICAL),
    ColumnSpec("spend", ColumnKind.NUMERIC),
))
ITEM_SCHEMA = TableSchema((
    ColumnSpec("campaign_type", ColumnKind.CATEGORICAL), ColumnSpec("category", ColumnKind.CATEGORICAL),
    ColumnSpec("discount_depth", ColumnKind.NUMERIC),
))


def make_shop(n_users: int, n_items: int, n_interactions: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    user_ids = np.char.add("u", np.arange(n_users).astype(str)).astype(object)
    item_ids = np.char.add("i", np.arange(n_items).astype(str)).astype(object)
    activity = rng.lognormal(0, 1, n_users)
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.8
    u = rng.choice(n_users, n_interactions, p=activity / activity.sum())
    i = rng.choice(n_items, n_interactions, p=popularity / popularity.sum())
    event = rng.choice(4, n_interactions, p=[0.7, 0.2, 0.05, 0.05])
    interactions = pd.DataFrame({
        C.USER_ID: user_ids[u], C.ITEM_ID: item_ids[i], C.EVENT: EVENTS[event],
        C.TIMESTAMP: pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 182 * 86400, n_interactions), unit="s"),
        C.WEIGHT: np.array([0.0, 2.0, 5.0, 5.0])[event],
        C.VALUE: np.where(event == 3, rng.gamma(2.0, 30.0, n_interactions).round(2), 0.0),
    })
    users = pd.DataFrame({
        C.USER_ID: user_ids,
        "segment": rng.choice(["deal_seeker", "loyalist", "explorer", "premium", "casual"], n_users),
        "region": rng.choice(["north", "south", "east", "west"], n_users),
        "spend": rng.gamma(2.0, 60.0, n_users).round(2),
    })
    items = pd.DataFrame({
        C.ITEM_ID: item_ids,
        "campaign_type": rng.choice(["percent_off", "fixed_amount", "free_shipping", "bundle", "flash_sale"], n_items),
        "category": rng.choice(["fashion", "shoes", "electronics", "beauty", "home", "grocery"], n_items),
        "discount_depth": rng.choice([5, 10, 15, 20, 30, 40, 50], n_items).astype(float),
    })
    return interactions, users, items


def timed(rows: list[dict[str, Any]], name: str, fn: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    out = fn()
    rows.append({"step": name, "seconds": round(time.perf_counter() - start, 2)})
    print(f"{name:<42} {rows[-1]['seconds']:>8.2f}s", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--interactions", type=int, default=2_000_000)
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    inter, users, items = timed(rows, "make the shop (not part of segments)",
                                lambda: make_shop(args.users, args.items, args.interactions))
    print(f"{len(users):,} customers, {len(items):,} offers, {len(inter):,} interactions")

    result = timed(rows, "rfm", lambda: R.rfm(inter, users=users))
    seg = result.segmentation()
    timed(rows, "rfm_sizes_over_time (6 months)", lambda: R.rfm_sizes_over_time(inter, users=users))
    timed(rows, "by_columns (region x segment)", lambda: S.by_columns(users, ["region", "segment"], schema=USER_SCHEMA))
    traits = timed(rows, "trait_lift (3 columns)", lambda: L.trait_lift(seg, users, schema=USER_SCHEMA))
    offers = timed(rows, "offer_lift (3 columns)", lambda: L.offer_lift(seg, inter, items, schema=ITEM_SCHEMA))
    timed(rows, "response_rates (campaign_type)", lambda: L.response_rates(seg, inter, items, "campaign_type", schema=ITEM_SCHEMA))
    timed(rows, "sizes_over_time (monthly)", lambda: S.sizes_over_time(seg, inter))

    model = timed(rows, "fit LightFM, 2 epochs (not part of segments)", lambda: HybridRecommender(
        ModelConfig(epochs=2, no_components=32, early_stopping_patience=0)).fit(inter, users, USER_SCHEMA, items, ITEM_SCHEMA))
    clusters = timed(rows, "cluster_users (silhouette k in 3..10)", lambda: K.cluster_users(model))
    print(f"  suggested k = {clusters.suggested_k}")
    timed(rows, "cluster_users (k = 6)", lambda: K.cluster_users(model, 6))
    emap = timed(rows, "embedding_map PCA (5,000 drawn)", lambda: K.embedding_map(model, sample_size=5000))
    print(f"  {emap.note}")
    timed(rows, "embedding_map t-SNE (2,000 drawn)", lambda: K.embedding_map(model, method="tsne", sample_size=2000))
    timed(rows, "profile incl. top offers (largest segment)", lambda: P.profile(
        seg, seg.order[0], interactions=inter, trait_lifts=traits, offer_lifts=offers, model=model, items=items))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory {peak_mb:,.0f} MB")


if __name__ == "__main__":
    main()
