"""Batch scoring at scale: the local engine against Spark, 1M and 10M customers x 200 live offers.

For each size a synthetic customer table (the flat table a batch scores: customer part of the
logit, LightFM bias and embedding, see :func:`recsys.campaign.batch.customer_table`) is written
once as Parquet, as a lake would hold it. Each engine then runs in its own process:

* ``local`` - reads the Parquet into pandas, scores every bucket, writes the top-k parts
  (:func:`recsys.workspace.batch.score_and_target`);
* ``spark`` - ``spark.read.parquet`` + ``mapInPandas`` / ``applyInPandas`` on ``local[N]``, the same
  functions on the executors.

Timed: the work only (reading, scoring, top-k, writing; the audience step where asked). Spark's
session start is reported apart. Peak memory is the largest resident set of the engine's whole
process tree (JVM and Python workers included), sampled every 0.2 s from /proc. The per-bucket
cost of Spark (``scoring / customers``) is what docs/batch.md scales to 100M customers.

    python bench/bench_batch.py --sizes 1000000 10000000 --offers 200 --k 10
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_customers(n: int, dim: int, folder: Path, seed: int = 0, per_file: int = 1_000_000) -> None:
    """Write ``n`` synthetic customers as Parquet parts of ``per_file`` rows (bounded memory)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from recsys.campaign import batch as B

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for part, start in enumerate(range(0, n, per_file)):
        m = min(per_file, n - start)
        ids = np.char.add("C", np.char.zfill(np.arange(start, start + m).astype(str), 10)).astype(object)
        table = B.customer_table(ids, rng.normal(-0.5, 0.6, m), rng.normal(0, 0.3, m), rng.normal(0, 0.3, (m, dim)),
                                 rng.random(m) < 0.9)
        pq.write_table(pa.Table.from_pandas(table, preserve_index=False), folder / f"part-{part:05d}.parquet")


def make_offers(n_offers: int, dim: int, seed: int = 1):
    from recsys.learn.scoring import OfferArrays

    rng = np.random.default_rng(seed)
    ids = np.array([f"OFF{j:05d}" for j in range(n_offers)], dtype=object)
    return OfferArrays(item_ids=ids, bias=rng.normal(0, 0.5, n_offers), emb=rng.normal(0, 0.3, (n_offers, dim)),
                       known=rng.random(n_offers) < 0.95, in_live=np.ones(n_offers, bool), columns=np.arange(n_offers),
                       item_part=rng.normal(0, 0.4, n_offers), intercept=-2.0, fit_coef=0.8, temperature=1.3)


def run_one(engine: str, customers: Path, out: Path, n: int, args: argparse.Namespace) -> dict:
    """One engine on one size (in this process); prints nothing, returns the figures."""
    import pandas as pd

    from recsys.campaign import batch as B
    from recsys.workspace.batch import score_and_target

    offers = make_offers(args.offers, args.dim)
    spec = B.BatchAudienceSpec(top_n=max(1, n // 200), max_per_customer=1, total_coupons=n // 10, holdout_share=0.1)
    figures: dict = {"engine": engine, "customers": n}
    start = time.perf_counter()
    spark = None
    if engine == "spark":
        from recsys.campaign import spark_batch

        spark = spark_batch.spark_session(args.master, shuffle_partitions=args.buckets or None,
                                          driver_memory=args.driver_memory)
        spark.range(1).collect()
        figures["session_s"] = round(time.perf_counter() - start, 2)
    clock = time.perf_counter()
    if engine == "spark":
        table = spark.read.parquet(str(customers))
    else:
        table = pd.read_parquet(customers)
    buckets = args.buckets or max(2, n // 1_000_000)
    if n > args.audience_max:  # scoring only: the audience step of this size is not asked for
        if engine == "spark":
            from recsys.campaign import spark_batch

            summary = spark_batch.score_spark(spark, table, offers, args.k, str(out), buckets)
        else:
            summary = B.run_local(table, offers, args.k, str(out), buckets)
        figures["scoring_s"] = round(time.perf_counter() - clock, 2)
        figures["audience_s"] = None
    else:
        parts = score_and_target(table, offers, spec, k=args.k, out=str(out), engine=engine, spark=spark,
                                 n_buckets=buckets, n_customers=n)
        summary = parts["summary"]
        figures["scoring_s"] = round(time.perf_counter() - clock - parts["timings"]["audience"], 2)
        figures["audience_s"] = parts["timings"]["audience"]
        figures["coupons"] = parts["allocation"]["coupons"]
        figures["audience_sha"] = __import__("hashlib").sha256(
            parts["audience"].to_csv(index=False).encode()).hexdigest()[:16]
    figures["buckets"] = buckets
    figures["rows"] = int(summary["rows"].sum())
    figures["probability_sum"] = round(float(summary["probability_sum"].sum()), 6)
    figures["total_s"] = round(time.perf_counter() - clock, 2)
    if spark is not None:
        spark.stop()
    return figures


def tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants (from /proc)."""
    total, stack = 0, [pid]
    while stack:  # a process tree: a handful of processes
        p = stack.pop()
        try:
            with open(f"/proc/{p}/status") as fh:
                total += next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmRSS:"))
            with open(f"/proc/{p}/task/{p}/children") as fh:
                stack.extend(int(c) for c in fh.read().split())
        except (OSError, StopIteration):
            continue
    return total


def measure(engine: str, customers: Path, n: int, args: argparse.Namespace) -> dict:
    out = Path(tempfile.mkdtemp(prefix=f"promolens-batch-{engine}-", dir=args.workdir))
    argv = [sys.executable, __file__, "--one", engine, str(customers), str(out), str(n), *args.passthrough]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")})
    peak, done = [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss(proc.pid))
            time.sleep(0.2)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    stdout, _ = proc.communicate()
    done.set()
    thread.join()
    subprocess.run(["rm", "-rf", str(out)], check=False)
    if proc.returncode != 0:
        return {"engine": engine, "customers": n, "error": f"exit {proc.returncode}"}
    figures = json.loads(stdout.strip().splitlines()[-1])
    figures["peak_rss_gb"] = round(peak[0] / 2**30, 2)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--offers", type=int, default=200)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--dim", type=int, default=32, help="LightFM components (ModelConfig's default)")
    parser.add_argument("--engines", nargs="+", default=["local", "spark"])
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--buckets", type=int, default=None)
    parser.add_argument("--driver-memory", default="6g")
    parser.add_argument("--audience-max", type=int, default=1_000_000,
                        help="run the audience step for sizes up to this (the local greedy holds the whole pool)")
    parser.add_argument("--workdir", default=tempfile.gettempdir())
    parser.add_argument("--one", nargs=4, metavar=("ENGINE", "CUSTOMERS", "OUT", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.passthrough = ["--offers", str(args.offers), "--k", str(args.k), "--dim", str(args.dim), "--master", args.master,
                        "--driver-memory", args.driver_memory, "--audience-max", str(args.audience_max)]
    if args.buckets:
        args.passthrough += ["--buckets", str(args.buckets)]
    if args.one:
        engine, customers, out, n = args.one
        print(json.dumps(run_one(engine, Path(customers), Path(out), int(n), args)))
        return
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start; "
          f"{args.offers} live offers, k={args.k}, {args.dim} components, Spark {args.master}")
    results = []
    for n in args.sizes:
        folder = Path(tempfile.mkdtemp(prefix=f"promolens-customers-{n}-", dir=args.workdir))
        clock = time.perf_counter()
        make_customers(n, args.dim, folder)
        print(f"\n{n:,} customers written as Parquet in {time.perf_counter() - clock:.1f} s "
              f"({sum(f.stat().st_size for f in folder.iterdir()) / 2**20:,.0f} MiB)", flush=True)
        for engine in args.engines:
            figures = measure(engine, folder, n, args)
            results.append(figures)
            print("  " + json.dumps(figures), flush=True)
        by_engine = {r["engine"]: r for r in results if r["customers"] == n and "error" not in r}
        if {"local", "spark"} <= set(by_engine):
            lo, sp = by_engine["local"], by_engine["spark"]
            same = lo.get("audience_sha") == sp.get("audience_sha") and lo["probability_sum"] == sp["probability_sum"]
            print(f"  spark / local wall time (work only): {sp['total_s'] / lo['total_s']:.2f}; "
                  f"+ session start: {(sp['total_s'] + sp.get('session_s', 0)) / lo['total_s']:.2f}; "
                  f"peak memory spark / local: {sp['peak_rss_gb'] / max(lo['peak_rss_gb'], 1e-9):.2f}; "
                  f"same results: {same}; Spark scoring per million customers: "
                  f"{sp['scoring_s'] / (n / 1e6):.1f} s", flush=True)
        subprocess.run(["rm", "-rf", str(folder)], check=False)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
