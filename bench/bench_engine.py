"""Engine bench: allocation, LightFM's matrices and import, each against a reference in the same run.

Sections (``--only alloc,matrices,import``; all by default):

* **alloc** - :func:`recsys.campaign.allocation.allocate` (``auto``, ``exact``, ``greedy``) against
  bare greedy by score (:func:`greedy_allocation`, the reference) on random problems with
  budgets that bind on popular offers: the sample's shape (4,000 customers x 150 offers, 500
  coupons per offer, 1 per customer), 100k pairs (2,000 x 50, 100 per offer) and 5M pairs
  (50,000 x 100, 1,000 per offer). Time, total weight, the method used and the proven bound.
* **matrices** - from one stored dataset (bench_train's shop saved by ``Workspace.save_dataset``),
  at 1M and 10M interactions: ``build_interactions`` + ``FeatureBuilder`` fit/transform for users
  and items on the frames ``load_dataset`` gives (ids with their stored codes) against
  ``lightfm.data.Dataset`` (``fit`` + ``build_interactions`` + ``build_*_features``) fed the same
  frames as ``pandas.read_parquet`` reads them (its Python inputs prepared outside its timer, in its
  favour); the build alone, and load + build (each side's own load). Also ours without codes. The
  same tables stored two ways: as ``save_dataset`` writes them today, and with one dictionary per
  column (the codes then come free with the file).
* **import** - ``promolens import`` of a generated CSV against DuckDB's own
  ``COPY (SELECT * FROM read_csv(...)) TO ... (FORMAT parquet)`` of the same file, each in its own
  child process (after imports, opening the workspace and a 1,000-row warm-up import into it), time
  and peak RSS of the child; ``pandas`` is the import path without the engine (``ENGINE_IMPORT =
  False``), the "before" in the same run.

Medians of ``--repeat`` runs (3 by default), the methods / sides interleaved, work only (data
generation, module imports and warm-ups are not timed); wall and CPU time (all threads of the
process: the fairer figure when the shared machine is loaded). The load average is printed with
every section.

    .venv/bin/python bench/bench_engine.py [--only alloc] [--repeat 3] [--import-rows 5000000]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

ALLOC_SHAPES = {  # name: (customers, offers, coupons per offer)
    "sample 4,000 x 150": (4_000, 150, 500),
    "100k pairs 2,000 x 50": (2_000, 50, 100),
    "5M pairs 50,000 x 100": (50_000, 100, 1_000),
}


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def once(fn):
    """(result, wall seconds, CPU seconds of this process, all threads) of one run."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def median_time(fn, repeat: int):
    """(last result, median wall time of ``repeat`` runs)."""
    times, out = [], None
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return out, float(np.median(times))


# --------------------------------------------------------------------------------------- allocation
def allocation_problem(n_users: int, n_offers: int, budget: int, seed: int = 0):
    """Every customer x offer pair; chances = logistic(offer popularity + customer activity + noise)."""
    rng = np.random.default_rng(seed)
    u = np.repeat(np.arange(n_users), n_offers)
    j = np.tile(np.arange(n_offers), n_users)
    popularity, activity = rng.normal(0, 1, n_offers), rng.normal(0, 1, n_users)
    w = 1 / (1 + np.exp(-(popularity[j] + 0.5 * activity[u] + rng.normal(0, 1, len(u)) - 3)))
    return u, j, w, np.full(n_offers, budget)


def bench_alloc(repeat: int, exact_at_5m: bool) -> None:
    from recsys.campaign.allocation import allocate, greedy_allocation

    print(f"\n== allocation (cap 1 coupon per customer; median of {repeat}, methods interleaved; {load()})")
    for name, (n_users, n_offers, budget) in ALLOC_SHAPES.items():
        u, j, w, budgets = allocation_problem(n_users, n_offers, budget)
        methods = ["auto", "greedy", "exact"] if exact_at_5m or len(w) <= 1_000_000 else ["auto", "greedy"]
        runs = {"reference": lambda: greedy_allocation(u, j, w, cap=1, budgets=budgets)}
        for method in methods:
            runs[method] = lambda method=method: allocate(u, j, w, cap=1, budgets=budgets, method=method)
        times: dict[str, list[float]] = {key: [] for key in runs}
        cpus: dict[str, list[float]] = {key: [] for key in runs}
        results = {}
        for _ in range(repeat):  # interleaved, so a burst of load on the shared machine hits every method
            for key, fn in runs.items():
                results[key], wall, cpu = once(fn)
                times[key].append(wall)
                cpus[key].append(cpu)
        t_ref, c_ref = float(np.median(times["reference"])), float(np.median(cpus["reference"]))
        ref_total = float(w[results["reference"]].sum())
        print(f"{name}: {len(w):,} pairs; reference greedy_allocation {t_ref:.3f} s wall, {c_ref:.3f} s CPU, "
              f"total {ref_total:,.2f}")
        for method in methods:
            report, t, c = results[method][1], float(np.median(times[method])), float(np.median(cpus[method]))
            print(f"  {method:>6} -> {report.method:<15} {t:7.3f} s = x{t / t_ref:5.2f} greedy (CPU {c:7.3f} s = "
                  f"x{c / c_ref:5.2f}) | total {report.weight:,.2f} = {report.weight / ref_total - 1:+.2%} vs greedy | "
                  f"proven bound {report.upper_bound:,.2f} (within {1 - report.optimality:.2%})", flush=True)


# --------------------------------------------------------------------------------------- matrices
def store_shop(n: int, folder: Path):
    """bench_train's shop with n interactions (users = n / 10, 2,000 offers) stored as a workspace dataset."""
    import bench_train as bt
    from recsys.data.dataset import PreparedDataset
    from recsys.data.validate import CleaningReport
    from recsys.workspace.store import Workspace

    interactions, users, items = bt.make_shop(n, n // 10, 2_000)
    prepared = PreparedDataset(interactions, users, items, bt.USER_SCHEMA, bt.ITEM_SCHEMA, mapping={},
                               report=CleaningReport(), warnings=[], sources=[], identifiers={}, fingerprint=f"bench-{n}")
    ws = Workspace(folder)
    return ws, ws.save_dataset(prepared, "bench").id


def bench_matrices(sizes: list[int], repeat: int) -> None:
    """Both sides start from the same stored dataset (the workspace's Parquet files).

    ours = ``Workspace.load_dataset`` (catalogue lookup + the files with their ids' codes; also timed:
    the files alone, ``read_coded_tables``) + ``build_interactions`` + ``FeatureBuilder`` fit /
    transform for users and items (when the codes are only promised, the build's clock includes
    making them); reference = ``pandas.read_parquet`` of the same files (what ``load_dataset`` did
    before) + ``lightfm.data.Dataset`` (fit, build_interactions, build_user_features,
    build_item_features), whose Python inputs (triples, feature lists) are made from the loaded
    frames outside its timer, in its favour. Also timed: ours from the plain frames (no codes).
    Two ways of storing the same tables: as ``save_dataset`` writes them (one dictionary per text
    column up to 2^24 rows: the codes come with the read), and with the interactions rewritten by
    DuckDB's COPY, as the engine import stores a clean CSV (row groups of 122,880 rows: customer ids
    plain, hashed when the build first needs their codes; offers and events as dictionaries).
    """
    import pandas as pd

    import bench_train as bt
    from recsys.core import columns as C
    from recsys.data.coded import DATASET_CODES, read_coded_tables
    from recsys.learn.config import FeatureConfig
    from recsys.learn.features import FeatureBuilder

    print(f"\n== LightFM matrices from a stored dataset (interactions + user and item features; median of {repeat}, "
          f"interleaved; {load()})")
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            ws, dataset_id = store_shop(n, Path(tmp) / "ws")
            files = [ws.table_path(dataset_id, t) for t in C.Table]
            paths = {t: ws.table_path(dataset_id, t) for t in C.Table}
            plain = [pd.read_parquet(f) for f in files]
            im, _, _ = bt.ours_build(*plain)
            ub = FeatureBuilder(bt.USER_SCHEMA, C.USER_ID, FeatureConfig()).fit(plain[1], im.user_index)
            ib = FeatureBuilder(bt.ITEM_SCHEMA, C.ITEM_ID, FeatureConfig()).fit(plain[2], im.item_index)
            inputs = bt.lightfm_inputs(*plain, ub, ib)
            print(f"{n:>11,} interactions, {n // 10:,} users, nnz {im.matrix.nnz:,}", flush=True)
            del ub, ib
            for layout in ("as save_dataset writes it", "interactions as the engine import writes them (DuckDB COPY)"):
                if layout != "as save_dataset writes it":  # DuckDB's row groups: customers plain, offers and events dictionaries
                    import duckdb

                    with duckdb.connect() as con:
                        con.register("frame", plain[0])
                        con.execute(f"COPY frame TO '{files[0]}' (FORMAT parquet)")
                row_groups = [pq_row_groups(f) for f in files]
                runs = {
                    "load coded": lambda: ws.load_dataset(dataset_id),
                    "read coded": lambda: read_coded_tables(paths, DATASET_CODES),
                    "load plain": lambda: [pd.read_parquet(f) for f in files],
                }
                keys = ("load coded", "read coded", "load plain", "ours", "ours, no codes", "lightfm")
                results, times = {}, {key: [] for key in keys}
                for _ in range(repeat):  # interleaved, so a burst of load on the shared machine hits every side
                    for key, fn in runs.items():
                        results[key], wall, cpu = once(fn)
                        times[key].append((wall, cpu))
                    ds, frames = results["load coded"], results["load plain"]
                    times["ours"].append(once(lambda: bt.ours_build(ds.interactions, ds.users, ds.items))[1:])
                    times["ours, no codes"].append(once(lambda: bt.ours_build(*frames))[1:])
                    times["lightfm"].append(once(lambda: bt.lightfm_build(frames[0], *inputs))[1:])
                    del ds, frames
                    results.clear()
                med = {key: np.median(v, axis=0) for key, v in times.items()}
                print(f"  stored {layout} (row groups per table {row_groups}; {load()})")
                for key in keys:
                    print(f"    {key:>15}: {med[key][0]:7.2f} s wall, {med[key][1]:7.2f} s CPU")
                for label, ours, ref in (("build only", med["ours"], med["lightfm"]),
                                         ("build, ours without codes", med["ours, no codes"], med["lightfm"]),
                                         ("load_dataset + build", med["load coded"] + med["ours"], med["load plain"] + med["lightfm"]),
                                         ("files read + build", med["read coded"] + med["ours"], med["load plain"] + med["lightfm"])):
                    print(f"    speed-up vs lightfm Dataset, {label}: x{ref[0] / ours[0]:.2f} wall, x{ref[1] / ours[1]:.2f} CPU")
                print(f"    with codes / plain read_parquet: load_dataset x{med['load coded'][1] / med['load plain'][1]:.2f} CPU, "
                      f"the files alone x{med['read coded'][1] / med['load plain'][1]:.2f} CPU", flush=True)
            del ws, plain, inputs, im
            gc.collect()


def pq_row_groups(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_row_groups


# --------------------------------------------------------------------------------------- import
def _peak_mb() -> float:
    """Peak resident memory of this process's own address space (Linux ``VmHWM``), in MB.

    Not ``ru_maxrss``: Linux carries it over ``exec``, so a child started by ``subprocess`` (vfork +
    exec) reports at least the parent's peak (here the parent's, from writing the CSV: the same
    figure for every side).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _import_child(mode: str, csv: str, warmup_csv: str, out: str) -> None:
    if mode == "duckdb":
        import duckdb

        def work(path: str, target: str) -> int:
            con = duckdb.connect()
            con.execute(f"COPY (SELECT * FROM read_csv('{path}')) TO '{target}.parquet' (FORMAT parquet)")
            return int(con.execute(f"SELECT count(*) FROM '{target}.parquet'").fetchone()[0])
    else:
        from recsys.workspace import ingest
        from recsys.workspace.store import Workspace

        ingest.ENGINE_IMPORT = mode == "promolens"  # "pandas": the import path before the engine
        workspace = Workspace(out + "-workspace")  # opened (created) before the clock, like the warm-up

        def work(path: str, target: str) -> int:
            info, _ = ingest.import_files(workspace, path, name="bench")
            return int(info.n_interactions)

    work(warmup_csv, out + "-warmup")
    t, cpu = time.perf_counter(), time.process_time()
    rows = work(csv, out)
    seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
    peak_mb = _peak_mb()
    print(json.dumps({"mode": mode, "rows": rows, "seconds": seconds, "cpu": cpu, "peak_mb": peak_mb}))


def bench_import(rows: int, repeat: int, modes: list[str]) -> None:
    from bench_import import make_file

    print(f"\n== import of a {rows:,}-row CSV vs DuckDB COPY to Parquet (child processes; median of {repeat}; {load()})")
    with tempfile.TemporaryDirectory() as tmp:
        csv, warmup = Path(tmp) / "interactions.csv", Path(tmp) / "warmup.csv"
        make_file(csv, rows, max(rows // 10, 1), 2_000)
        make_file(warmup, 1_000, 500, 2_000, seed=1)
        runs: dict[str, list[dict]] = {mode: [] for mode in modes}
        for run in range(repeat):
            for mode in runs:  # interleaved
                out = subprocess.run(
                    [sys.executable, __file__, "--child", mode, "--csv", str(csv), "--warmup-csv", str(warmup),
                     "--out", str(Path(tmp) / f"{mode}-{run}")],
                    capture_output=True, text=True, check=True,
                )
                runs[mode].append(json.loads(out.stdout.strip().splitlines()[-1]))
    med = {m: {k: float(np.median([r[k] for r in rs])) for k in ("seconds", "cpu", "peak_mb")} for m, rs in runs.items()}
    for mode, r in med.items():
        label = {"duckdb": "duckdb COPY", "promolens": "promolens", "pandas": "pandas path"}[mode]
        print(f"{label:>12}: {r['seconds']:6.2f} s wall, {r['cpu']:6.2f} s CPU (all threads), peak RSS {r['peak_mb']:,.0f} MB"
              f"  (runs: {', '.join(format(x['seconds'], '.2f') for x in runs[mode])} s)")
    for mode in (m for m in modes if m != "duckdb"):
        print(f"{mode} / DuckDB COPY: time x{med[mode]['seconds'] / med['duckdb']['seconds']:.2f} "
              f"(CPU x{med[mode]['cpu'] / med['duckdb']['cpu']:.2f}), "
              f"peak memory x{med[mode]['peak_mb'] / med['duckdb']['peak_mb']:.2f}")
    print(load())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="alloc,matrices,import")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000], help="matrices")
    parser.add_argument("--import-rows", type=int, default=5_000_000)
    parser.add_argument("--exact-at-5m", action="store_true", help="also time method='exact' at 5M pairs")
    parser.add_argument("--import-modes", default="duckdb,promolens,pandas",
                        help="import: duckdb (the reference), promolens (engine path), pandas (the path before)")
    parser.add_argument("--child", choices=["duckdb", "promolens", "pandas"], default=None)
    parser.add_argument("--csv")
    parser.add_argument("--warmup-csv")
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.child:
        _import_child(args.child, args.csv, args.warmup_csv, args.out)
        return
    only = set(args.only.split(","))
    print(load())
    if "alloc" in only:
        bench_alloc(args.repeat, args.exact_at_5m)
    if "matrices" in only:
        bench_matrices(args.sizes, args.repeat)
    if "import" in only:
        bench_import(args.import_rows, args.repeat, args.import_modes.split(","))


if __name__ == "__main__":
    main()
