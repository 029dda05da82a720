"""Targeting bench: are the customers we pick for an offer the ones who would respond?

On the bundled sample (`sample_data/`, the generator's defaults, seed 0) with the product defaults
(`TrainConfig()`: temporal split, test = last 20% of rows), leak-free:

1. `train_and_evaluate` on the whole sample (what `promolens train` does) gives the hybrid's best
   number of epochs;
2. the hybrid is refit with those epochs on the events before `t0 = cutoff - window` only;
3. the response model is fitted on the window `[t0, cutoff)` (stacker on its first part, Platt on its
   last part);
4. audiences are scored as of the cutoff (history before it) and judged by the generator's TRUE
   response probability (`recsys.data.synth.true_response_probability`), and the targeting decision is
   judged on the exposures after the cutoff against the baselines.

Run: `.venv/bin/python bench/bench_targeting.py [--window-days 28] [--horizon-days 14]`.
Only the work is timed (loading the sample is not).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from recsys.core import columns as C
from recsys.data.schema import infer_schema
from recsys.data.synth import load_sample, true_response_block, user_personas
from recsys.learn.pipeline import TrainConfig, fit_final, train_and_evaluate
from recsys.learn.response import ResponseConfig, ResponseModel
from recsys.learn.targeting_eval import targeting_rows, targeting_scores
from recsys.metrics.targeting import OURS, PAST_RATE, SEGMENT_TYPE, evaluate_targeting

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
DEEP_OFFERS = ("OFF0004", "OFF0050", "OFF0108")
SIZES = (200, 500, 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window-days", type=int, default=28)
    parser.add_argument("--horizon-days", type=int, default=14)
    parser.add_argument("--boot", type=int, default=1000)
    args = parser.parse_args()

    shop = load_sample(SAMPLE)
    inter, users, items = shop.interactions, shop.users, shop.items
    user_schema, item_schema = infer_schema(users, C.USER_ID), infer_schema(items, C.ITEM_ID)
    timings: dict[str, float] = {}

    t = time.perf_counter()
    config = TrainConfig()
    run = train_and_evaluate(inter, users, user_schema, items, item_schema, config)
    timings["train_and_evaluate (product defaults)"] = time.perf_counter() - t
    cutoff = pd.Timestamp(run.split_summary["cutoff"])
    t0 = cutoff - pd.Timedelta(days=args.window_days)
    t = time.perf_counter()
    hybrid = fit_final(inter[inter[C.TIMESTAMP] < t0], users, user_schema, items, item_schema, config,
                       epochs=run.best_epochs["hybrid"])
    timings["hybrid refit before the window"] = time.perf_counter() - t
    t = time.perf_counter()
    known = inter[inter[C.TIMESTAMP] < cutoff]
    rm = ResponseModel(ResponseConfig(horizon_days=args.horizon_days)).fit(
        known, users, user_schema, items, item_schema, hybrid, t0, cutoff)
    timings["response model fit"] = time.perf_counter() - t

    t = time.perf_counter()
    ctx = rm.context(known, users, items, hybrid, cutoff)
    uids = users[C.USER_ID].astype(str).to_numpy(object)
    depth = items.set_index(C.ITEM_ID)["discount_depth"]
    live = pd.Index(ctx.item_ids[ctx.live])
    shallow = [o for o in depth.index[depth <= 10] if o in live][:2]
    offers = list(DEEP_OFFERS) + shallow
    prob = rm.predict_block(ctx, uids, offers)
    timings[f"probabilities {len(uids)} customers x {len(offers)} offers"] = time.perf_counter() - t
    raw = hybrid.score(np.repeat(uids, len(offers)), np.tile(offers, len(uids))).reshape(len(uids), len(offers))
    truth = true_response_block(shop, uids, offers)
    hunter = user_personas(shop).reindex(uids).to_numpy() == "bargain_hunter"

    print(f"sample: {len(uids)} customers, {len(items)} offers; cutoff {cutoff}, window from {t0.date()}, "
          f"horizon {args.horizon_days} days; hybrid {run.best_epochs['hybrid']} epochs; "
          f"softmax temperature {rm.temperature_:.2f}")
    print(f"\nbase share of bargain hunters: {hunter.mean():.1%}")
    print(f"{'offer':8} {'depth':>5} {'N':>5} | {'hunters ours':>12} {'raw score':>9} | "
          f"{'true resp. ours':>15} {'random':>7} {'oracle':>7} {'raw':>7} | {'ours/oracle':>11} {'ours/random':>11}")
    for j, offer in enumerate(offers):
        for n in SIZES:
            ours, by_raw, oracle = (np.argsort(-m[:, j], kind="stable")[:n] for m in (prob, raw, truth))
            e_ours, e_oracle, e_raw = truth[ours, j].sum(), truth[oracle, j].sum(), truth[by_raw, j].sum()
            e_rand = truth[:, j].mean() * n
            print(f"{offer:8} {depth[offer]:5.0f} {n:5d} | {hunter[ours].mean():12.1%} {hunter[by_raw].mean():9.1%} | "
                  f"{e_ours:15.1f} {e_rand:7.1f} {e_oracle:7.1f} {e_raw:7.1f} | {e_ours / e_oracle:11.2f} {e_ours / e_rand:11.2f}")

    t = time.perf_counter()
    rows = targeting_rows(inter, items, cutoff, horizon_days=args.horizon_days)
    ctx_test = rm.context(inter, users, items, hybrid, cutoff)
    scores = targeting_scores(rows, rm, ctx_test, hybrid, inter, users, items)
    report = evaluate_targeting(rows, scores, n_values=(50, 100), n_boot=args.boot,
                                probability_models=[OURS, PAST_RATE, SEGMENT_TYPE], min_responders=5)
    timings["targeting evaluation"] = time.perf_counter() - t
    print(f"\ndecision metrics on the test period ({report.n_offers} offers with >= 5 responders, {report.n_rows} "
          "exposed customer x offer rows; mean over offers [95% bootstrap interval])")
    table = report.summary.apply(lambda r: f"{r['mean']:.3f} [{r['low']:.3f}, {r['high']:.3f}]", axis=1).unstack()
    print(table.to_string())
    print("\ncalibration:", {m: {k: round(v, 4) for k, v in c.items()} for m, c in report.calibration.items()})
    print(report.deciles.round(4).to_string(index=False))
    print("\nheld-out reliability of the calibration window (last part of the fit window):")
    print(rm.reliability_.round(4).to_string(index=False))
    print("\nverdict:", report.verdict)
    print("\ntimings (s):", {k: round(v, 2) for k, v in timings.items()})


if __name__ == "__main__":
    main()
