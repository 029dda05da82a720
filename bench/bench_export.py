"""Benchmark: a campaign for 1M customers x 50 offers with per-customer caps, budgets and a holdout.

Builds a dense score table (every customer scored for every offer), then times

1. the reference: a plain ``sort_values`` + ``groupby().head(N)`` top-N per offer (no caps, no
   holdout, no export) on the same scores;
2. ``audience.build_audience``: eligibility, allocation under the caps and budgets (the ``fast``
   method at this size: sampled LP prices + deferred acceptance, never below greedy), stratified
   holdout;
3. ``export.write_export``: the safe CSV, the Parquet rows and the manifest.

Prints timings and the allocation's quality (its total score, greedy's, and a proven upper bound
on the optimum). Nothing is asserted.

    .venv/bin/python bench/bench_export.py                 # 1,000,000 x 50
    .venv/bin/python bench/bench_export.py --users 100000  # quicker
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys.core import columns as C  # noqa: E402
from recsys.campaign.export import write_export  # noqa: E402
from recsys.campaign.audience import build_audience  # noqa: E402
from recsys.campaign.spec import AudienceSpec  # noqa: E402


def make_scores(users: int, offers: int, seed: int = 0) -> pd.DataFrame:
    """Dense scores with a customer effect, an offer effect and noise (offers differ in appeal)."""
    rng = np.random.default_rng(seed)
    user_ids = pd.Categorical.from_codes(np.repeat(np.arange(users, dtype=np.int32), offers),
                                         categories=pd.Index([f"C{i:07d}" for i in range(users)]))
    item_ids = pd.Categorical.from_codes(np.tile(np.arange(offers, dtype=np.int8), users),
                                         categories=pd.Index([f"OFF{j:03d}" for j in range(offers)]))
    appeal = np.linspace(0.0, 1.0, offers, dtype=np.float32)
    score = (np.repeat(rng.normal(size=users).astype(np.float32), offers) * 0.5
             + np.tile(appeal, users) + rng.normal(size=users * offers).astype(np.float32))
    return pd.DataFrame({C.USER_ID: user_ids, C.ITEM_ID: item_ids, C.SCORE: score})


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--offers", type=int, default=50)
    parser.add_argument("--top-n", type=int, default=None, help="coupons per offer (default: users * 1.2 / offers)")
    parser.add_argument("--cap", type=int, default=2, help="most coupons per customer")
    parser.add_argument("--holdout", type=float, default=0.1)
    args = parser.parse_args()
    top_n = args.top_n or int(args.users * 1.2 / args.offers)

    t0 = time.perf_counter()
    scores = make_scores(args.users, args.offers)
    print(f"scores: {len(scores):,} pairs ({args.users:,} customers x {args.offers} offers) "
          f"made in {time.perf_counter() - t0:.1f}s")

    t0 = time.perf_counter()
    reference = scores.sort_values(C.SCORE, ascending=False).groupby(C.ITEM_ID, observed=True).head(top_n)
    t_ref = time.perf_counter() - t0
    print(f"reference  sort + groupby top-{top_n:,} per offer: {t_ref:7.1f}s  ({len(reference):,} rows; "
          f"max {reference.groupby(C.USER_ID, observed=True).size().max()} coupons per customer: no cap)")
    del reference

    spec = AudienceSpec(top_n=top_n, max_per_customer=args.cap, holdout_share=args.holdout, seed=1)
    t0 = time.perf_counter()
    audience = build_audience(scores, None, None, None, spec)
    t_build = time.perf_counter() - t0
    frame = audience.frame
    report = audience.allocation
    print(f"build_audience (caps {args.cap}, budgets {top_n:,}/offer, holdout {args.holdout:.0%}): {t_build:7.1f}s  "
          f"({len(frame):,} rows, {frame[C.USER_ID].nunique():,} customers)")
    print(f"  allocation: method {report.method}; total weight {report.weight:,.1f} vs greedy {report.greedy_weight:,.1f} "
          f"({report.weight / report.greedy_weight - 1:+.3%}); proven >= {report.optimality:.3%} of the optimum")
    for note in report.notes:
        print(f"  note: {note}")
    per_user = frame.groupby(C.USER_ID).size().max()
    per_offer = frame.groupby(C.ITEM_ID).size().max()
    print(f"  checks: max coupons per customer {per_user} (cap {args.cap}), max per offer {per_offer:,} (budget {top_n:,}); "
          f"control share {audience.customers()[C.CONTROL] / frame[C.USER_ID].nunique():.3f}")

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        result = write_export(audience, Path(tmp) / "export", run_id="bench", dataset_fingerprint="synthetic")
        t_write = time.perf_counter() - t0
        size = result.csv_path.stat().st_size / 1024**2
    print(f"write_export (CSV + Parquet + manifest): {t_write:7.1f}s  ({size:,.0f} MB CSV)")
    print(f"total campaign (build + export): {t_build + t_write:.1f}s = {(t_build + t_write) / t_ref:.1f}x the reference; "
          f"peak memory {peak_mb():,.0f} MB")


if __name__ == "__main__":
    main()
