"""How per-customer work and RFM grow with the data: 100k, 1M and 5M interactions. Prints figures.

The model: the committed sample shop (4,000 customers, 150 offers), ``--epochs`` epochs, seed 0.
The data at each size: the sample shop's own interactions plus synthetic customers with about 25
interactions each (random offers, events, days and values from one seeded numpy generator), so
the number of customers grows with the data, as it does in a real shop. The explained customer is
the sample's busiest customer (the same one at every size, with the same rows).

Timed (work only, median of ``--repeats``, imports and data building excluded):

* ``history``: one customer's latest interactions (``recommend.recent_history``);
* ``explain one customer``: everything the Recommendations page does for one customer that can
  depend on the data's size: recent history, the explained top-10 without already redeemed
  offers, the evidence (their rows, their closest past offers, customers like them), the
  redeemed offers again for the what-if, and the what-if itself;
* ``RFM``: ``rfm.rfm`` of every customer.

Then the fitted growth exponent (slope of log time on log rows; 0 = independent of size, 1 = linear)
and the ratio of the largest to the smallest size. The load average is printed with the figures.
``--first`` also times the first explanation of a fresh process (heavy lazy imports included).

Usage::

    .venv/bin/python bench/bench_scaling.py
    .venv/bin/python bench/bench_scaling.py --sizes 100000 1000000 5000000 --repeats 5 --first
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys.core import columns as C  # noqa: E402
from recsys.data import synth  # noqa: E402
from recsys.data import synth_vocab  # noqa: E402
from recsys.data.dataset import Dataset  # noqa: E402
from recsys.data.schema import infer_schema  # noqa: E402
from recsys.insight import attribution as A  # noqa: E402
from recsys.insight import drivers as D  # noqa: E402
from recsys.insight import recommend as R  # noqa: E402
from recsys.insight import rfm as RFM  # noqa: E402
from recsys.insight import whatif as W  # noqa: E402
from recsys.learn.config import ModelConfig  # noqa: E402
from recsys.learn.model import HybridRecommender  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ROWS_PER_CUSTOMER = 25


def timed(fn, repeats: int) -> tuple[float, float]:  # noqa: ANN001
    """Median wall and CPU seconds of ``repeats`` calls (after one warm-up call).

    CPU time (this process, all threads) moves less than wall time when other jobs share the machine.
    """
    fn()
    walls, cpus = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus)


def grown(base: pd.DataFrame, n_rows: int, n_items: list[str], user: str, seed: int = 0) -> pd.DataFrame:
    """``base`` plus synthetic customers (about 25 rows each) up to ``n_rows`` rows.

    When ``base`` is larger than ``n_rows``, the rows of a seeded random subset of its customers
    (``user`` always among them) that fits in ``n_rows``.
    """
    if len(base) > n_rows:
        ids = base[C.USER_ID].astype(str)
        counts = ids.value_counts()
        order = pd.Index([user]).append(counts.index.drop(user)[np.random.default_rng(seed).permutation(len(counts) - 1)])
        kept = order[np.cumsum(counts.loc[order].to_numpy()) <= n_rows]
        base = base[ids.isin(kept).to_numpy()].reset_index(drop=True)
    extra = max(n_rows - len(base), 0)
    rng = np.random.default_rng(seed)
    n_users = max(extra // ROWS_PER_CUSTOMER, 1)
    users = pd.Index([f"x{i}" for i in range(n_users)], dtype=object)
    events = np.array(["impression", "click", "redeem", "purchase"], dtype=object)
    start = pd.Timestamp(base[C.TIMESTAMP].min()).value
    span = pd.Timestamp(base[C.TIMESTAMP].max()).value - start
    filler = pd.DataFrame({
        C.USER_ID: users[rng.integers(0, n_users, extra)],
        C.ITEM_ID: np.asarray(n_items, dtype=object)[rng.integers(0, len(n_items), extra)],
        C.EVENT: events[rng.choice(len(events), extra, p=[0.6, 0.25, 0.1, 0.05])],
        C.TIMESTAMP: pd.to_datetime(start + rng.integers(0, span, extra)),
        C.VALUE: np.round(rng.gamma(2.0, 20.0, extra), 2),
    })
    keep = [c for c in filler.columns if c in base.columns]
    out = pd.concat([base[keep], filler[keep]], ignore_index=True)
    for column in (C.USER_ID, C.ITEM_ID, C.EVENT):
        out[column] = out[column].astype("str")  # as the workspace loads them (Arrow-backed text)
    return out


def customer_rows(interactions: pd.DataFrame, user: str) -> pd.DataFrame:
    """The customer's rows as the Recommendations page reads them for the evidence."""
    lookup = getattr(R, "customer_interactions", None)
    if lookup is not None:
        return lookup(interactions, user)
    return interactions[interactions[C.USER_ID].astype(str).to_numpy() == user]  # the page before issue 17


def explain_one(explainer: A.ScoreExplainer, dataset: Dataset, user: str) -> None:
    """The Recommendations page's per-customer work that reads the interactions."""
    R.recent_history(dataset.interactions, user, n=8)
    listed = R.recommend_for_customer(explainer, user, dataset, k=10, exclude=R.EXCLUDE_REDEEMED)
    item = str(listed.recommendations[C.ITEM_ID].iloc[0])
    mine = customer_rows(dataset.interactions, user)
    D.similar_history(explainer.model, user, item, history=mine, n=3)
    D.similar_responders(explainer.model, user, item, n=5)
    excluded = R.redeemed_items(dataset.interactions, user)
    column = W.changeable_columns(explainer)[0]
    value = W.column_choices(explainer, column)[0]
    W.what_if(explainer, user, column, value, 10, exclude=excluded)


FIRST = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from recsys.insight import attribution as A, recommend as R
    from recsys.learn.model import HybridRecommender
    from recsys.data import synth
    from recsys.data.dataset import Dataset
    model = HybridRecommender.load({path!r})
    shop = synth.load_sample({sample!r})
    explainer = A.ScoreExplainer(model)
    t0 = time.perf_counter()
    R.recommend_explained(explainer, {user!r}, 10)
    t1 = time.perf_counter()
    R.recommend_explained(explainer, {user!r}, 10)
    t2 = time.perf_counter()
    print(f"{{t1 - t0:.3f}} {{t2 - t1:.3f}}")
""")


def first_explanation(model: HybridRecommender, user: str, repeats: int) -> tuple[float, float]:
    """Median seconds of the first and of the second explanation in fresh processes."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = str(model.save(Path(tmp) / "model.npz"))
        code = FIRST.format(root=str(ROOT), path=path, sample=str(ROOT / "sample_data"), user=user)
        runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
                for _ in range(repeats)]
    return statistics.median(float(r[0]) for r in runs), statistics.median(float(r[1]) for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 5_000_000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--first", action="store_true", help="also time the first explanation of a fresh process")
    args = parser.parse_args()

    shop = synth.load_sample(ROOT / "sample_data")
    us = infer_schema(shop.users, C.USER_ID, identifiers={synth_vocab.EMAIL})
    its = infer_schema(shop.items, C.ITEM_ID)
    model = HybridRecommender(ModelConfig(epochs=args.epochs, no_components=32, random_state=0)).fit(
        shop.interactions, shop.users, us, shop.items, its)
    explainer = A.ScoreExplainer(model)
    user = str(shop.interactions[C.USER_ID].astype(str).value_counts().index[0])
    items = shop.items[C.ITEM_ID].astype(str).tolist()
    print(f"load average before: {os.getloadavg()}")
    print(f"sample shop: {len(shop.interactions):,} interactions; customer {user} "
          f"({int((shop.interactions[C.USER_ID].astype(str) == user).sum())} rows)")

    rows: list[dict[str, float]] = []
    for size in args.sizes:
        inter = grown(shop.interactions, size, items, user)
        dataset = Dataset(None, inter, shop.users, shop.items)  # type: ignore[arg-type]
        R.redeemed_items(inter, user)  # builds any per-dataset index once (cached per dataset, not timed)
        timings = {
            "history": timed(lambda: R.recent_history(inter, user, n=8), args.repeats),
            "explain one customer": timed(lambda: explain_one(explainer, dataset, user), args.repeats),
            "RFM": timed(lambda: RFM.rfm(inter), max(args.repeats // 2, 3)),
        }
        row = {"rows": float(len(inter))}
        for name, (wall, cpu) in timings.items():
            row[name], row[f"{name} (CPU)"] = wall, cpu
        rows.append(row)
        print(f"{len(inter):>10,} rows: " + ", ".join(f"{k} {v * 1000:,.1f} ms" for k, v in row.items() if k != "rows"),
              flush=True)
        del inter, dataset

    table = pd.DataFrame(rows).set_index("rows")
    x = np.log(table.index.to_numpy(float))
    print(f"\nmedian ms of {args.repeats} repeats (wall, and CPU of this process); load average after: {os.getloadavg()}")
    print(f"{'work':<28}" + "".join(f"{int(n):>12,}" for n in table.index) + f"{'exponent':>10}{'largest/smallest':>18}")
    for name in table.columns:
        t = table[name].to_numpy(float)
        slope = float(np.polyfit(x, np.log(t), 1)[0]) if len(t) > 1 else float("nan")
        print(f"{name:<28}" + "".join(f"{v * 1000:>12.1f}" for v in t) + f"{slope:>10.2f}{t[-1] / t[0]:>18.2f}")
    if args.first:
        first, second = first_explanation(model, user, 3)
        print(f"\nfresh process: first explanation {first * 1000:,.0f} ms, second {second * 1000:,.0f} ms "
              f"(median of 3 processes; load {os.getloadavg()})")


if __name__ == "__main__":
    main()
