"""Benchmarks of the explanation path. Prints figures; never asserts timings.

(a) loading a saved model and building its explainer;
(b) one customer's top-10 with exact explanations (the Recommendations page's list), from the
    loaded model, in the list view and the whole-score view, plus the evidence and a what-if;
(c) global drivers of one offer over ``--customers`` customers (default 100,000): the feature
    rows of the sample shop's customers drawn with replacement (so every row is a real customer,
    identity feature included), explained in chunks, then summarised per trait.

The model: the committed sample shop (4,000 customers, 150 offers), ``--epochs`` epochs of
``--components`` components, seed 0, saved to a temporary folder and loaded back.

Usage::

    .venv/bin/python bench/bench_explain.py
    .venv/bin/python bench/bench_explain.py --customers 1000000 --repeats 5
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys.core import columns as C  # noqa: E402
from recsys.insight import attribution as A  # noqa: E402
from recsys.insight import drivers as D  # noqa: E402
from recsys.insight import recommend as R  # noqa: E402
from recsys.insight import whatif as W  # noqa: E402
from recsys.data import synth  # noqa: E402
from recsys.data import synth_vocab  # noqa: E402
from recsys.learn.config import ModelConfig  # noqa: E402
from recsys.learn.model import HybridRecommender  # noqa: E402
from recsys.data.schema import infer_schema  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def timed(fn, repeats: int) -> tuple[float, object]:  # noqa: ANN001
    """Median wall seconds of ``repeats`` calls, and the last result."""
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000, help="customers of the global-drivers run")
    parser.add_argument("--repeats", type=int, default=7, help="repeats per timing (median shown)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--components", type=int, default=32)
    args = parser.parse_args()

    shop = synth.load_sample(ROOT / "sample_data")
    us = infer_schema(shop.users, C.USER_ID, identifiers={synth_vocab.EMAIL})
    its = infer_schema(shop.items, C.ITEM_ID)
    t0 = time.perf_counter()
    fitted = HybridRecommender(ModelConfig(epochs=args.epochs, no_components=args.components, random_state=0)).fit(
        shop.interactions, shop.users, us, shop.items, its)
    print(f"model: sample shop, {len(shop.interactions):,} interactions, {args.epochs} epochs x {args.components} "
          f"components, fitted in {time.perf_counter() - t0:.1f}s; {fitted.user_features_.shape[1]:,} customer and "
          f"{fitted.item_features_.shape[1]:,} offer features")

    with tempfile.TemporaryDirectory() as tmp:
        path = fitted.save(Path(tmp) / "model.npz")
        load_s, model = timed(lambda: HybridRecommender.load(path), 3)
    build_s, explainer = timed(lambda: A.ScoreExplainer(model), 3)
    print(f"(a) load the model {load_s * 1000:.0f} ms; build the explainer (baseline, column groups) {build_s * 1000:.1f} ms")

    rng = np.random.default_rng(0)
    users = rng.choice(model.user_index_.ids[: model.n_warm_users_], args.repeats, replace=False)
    first = R.recommend_explained(explainer, users[0], 10, view=A.LIST_VIEW)  # warm-up (imports shap)
    for view in (A.LIST_VIEW, A.SCORE_VIEW):
        it = iter(users)
        sec, listed = timed(lambda: R.recommend_explained(explainer, next(it), 10, view=view), args.repeats)  # noqa: B023
        print(f"(b) one customer's top-10 with exact explanations ({view} view): {sec * 1000:.1f} ms "
              f"(median of {args.repeats} customers)")
    plain_s, _ = timed(lambda: model.recommend([users[0]], k=10), args.repeats)
    print(f"    the same top-10 without explanations: {plain_s * 1000:.1f} ms")
    item = first.recommendations[C.ITEM_ID].iloc[0]
    hist_s, _ = timed(lambda: D.similar_history(model, users[0], item, n=3), args.repeats)
    peers_s, _ = timed(lambda: D.similar_responders(model, users[0], item, n=5), args.repeats)
    whatif_s, _ = timed(lambda: W.what_if(explainer, users[0], "segment", "premium", 10), args.repeats)
    print(f"    evidence: similar past offers {hist_s * 1000:.1f} ms, similar customers who responded "
          f"{peers_s * 1000:.1f} ms; what-if (two explained top-10s) {whatif_s * 1000:.1f} ms")

    n = args.customers
    rows = model.user_features_[rng.integers(0, model.n_warm_users_, n)]
    drivers_s, drivers = timed(lambda: D.offer_drivers(explainer, item, user_rows=rows), max(1, args.repeats // 3))
    values_s, _ = timed(lambda: explainer.column_values(rows, explainer.item_rows([item]), A.LIST_VIEW),
                        max(1, args.repeats // 3))
    summary_s, summary = timed(drivers.summary, max(1, args.repeats // 3))
    points_s, _ = timed(drivers.points, max(1, args.repeats // 3))
    peak = peak_mb()
    shap_s, _ = timed(drivers.explanation, 1)
    print(f"(c) global drivers of offer {item} over {n:,} customers: {drivers_s:.2f}s "
          f"(the attributions alone {values_s:.2f}s, the rest each customer's value of each column); "
          f"trait summary {summary_s:.2f}s; beeswarm sample {points_s:.2f}s; "
          f"{len(summary)} traits, e.g. {summary[A.CONTRIBUTOR].iloc[0]} {summary[D.MEAN].iloc[0]:+.3f}; "
          f"as a shap Explanation (optional) {shap_s:.2f}s")
    print(f"peak memory {peak:,.0f} MB before the optional shap Explanation, {peak_mb():,.0f} MB after")


if __name__ == "__main__":
    main()
