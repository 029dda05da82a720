"""Benchmark: import a generated interactions CSV through the full PromoLens path.

Prints rows/s and peak memory of (1) a bare ``pandas.read_csv(engine="pyarrow")`` of the same file,
the reference, and (2) ``promolens import`` (read + map + validate + clean + save to a workspace),
each in its own child process so peak memory is its own. Both are measured in the same run and
the ratios are taken against that run's reference. Nothing is asserted.

Only the work is timed: each child first imports its modules and does the same work once on a
1,000-row file (which loads anything imported lazily: pyarrow's CSV reader, DuckDB, ...), and
starts the clock after that. Counting interpreter and module start-up (about a second for pandas,
more for PromoLens) on both sides made a 12x gap look like 3.3x on a small file.

    .venv/bin/python bench/bench_import.py --rows 10000000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv


def make_file(path: Path, rows: int, users: int, items: int, seed: int = 0) -> None:
    """A realistic interactions CSV: Zipf-skewed offers, four event types, six months, revenue."""
    rng = np.random.default_rng(seed)
    chunk = 2_000_000
    start = np.datetime64("2026-01-01T00:00:00")
    events = np.array(["impression", "click", "redeem", "purchase"])
    with pacsv.CSVWriter(str(path), pa.schema([
        ("customer_id", pa.string()), ("offer_id", pa.string()), ("event_type", pa.string()),
        ("event_time", pa.string()), ("revenue", pa.float64()),
    ])) as writer:
        for lo in range(0, rows, chunk):
            n = min(chunk, rows - lo)
            user = rng.integers(0, users, n)
            item = np.minimum(rng.zipf(1.3, n) - 1, items - 1)
            event = rng.choice(4, n, p=[0.6, 0.25, 0.08, 0.07])
            seconds = rng.integers(0, 182 * 86400, n)
            value = np.where(event == 3, np.round(rng.gamma(2.0, 20.0, n), 2), np.nan)
            writer.write_table(pa.table({
                "customer_id": pa.array(np.char.add("C", user.astype(str))),
                "offer_id": pa.array(np.char.add("OFF", item.astype(str))),
                "event_type": pa.array(events[event]),
                "event_time": pa.array((start + seconds.astype("timedelta64[s]")).astype(str)),
                "revenue": pa.array(value),
            }))


def _rss_mb() -> float:
    """Resident memory of this process now (Linux /proc), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _child(mode: str, csv: str, warmup_csv: str, workspace: str) -> None:
    """Warm up on the small file, then time one read / import of the big one (imports excluded)."""
    if mode == "pandas":
        import pandas as pd

        def work(path: str, _ws: str) -> int:
            return len(pd.read_csv(path, engine="pyarrow"))
    else:
        from recsys.workspace.ingest import import_files
        from recsys.workspace.store import Workspace

        def work(path: str, ws: str) -> int:
            info, _ = import_files(Workspace(ws), path, name="bench")
            return info.n_interactions

    work(warmup_csv, workspace + "-warmup")
    base_mb = _rss_mb()
    t0 = time.perf_counter()
    rows = work(csv, workspace)
    seconds = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"mode": mode, "rows": rows, "seconds": seconds, "peak_mb": peak_mb,
                      "base_mb": base_mb}))


def measure(mode: str, csv: Path, warmup_csv: Path, workspace: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--csv", str(csv), "--warmup-csv", str(warmup_csv),
         "--workspace", str(workspace)],
        capture_output=True, text=True, check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=1, help="best of this many runs of each side (interleaved)")
    parser.add_argument("--child", choices=["pandas", "promolens"], default=None)
    parser.add_argument("--csv", default=None)
    parser.add_argument("--warmup-csv", default=None)
    parser.add_argument("--workspace", default=None)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.csv, args.warmup_csv, args.workspace)
        return
    best: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        csv, warmup = Path(tmp) / "interactions.csv", Path(tmp) / "warmup.csv"
        t0 = time.perf_counter()
        make_file(csv, args.rows, args.users, args.items)
        make_file(warmup, 1_000, min(args.users, 500), args.items, seed=1)
        print(f"generated {args.rows:,} rows ({csv.stat().st_size / 1e6:,.0f} MB) in {time.perf_counter() - t0:.1f} s")
        for run in range(max(1, args.repeat)):
            for mode in ("pandas", "promolens"):
                r = measure(mode, csv, warmup, Path(tmp) / f"ws-{mode}-{run}")
                if mode not in best or r["seconds"] < best[mode]["seconds"]:
                    best[mode] = r
    ref, ours = best["pandas"], best["promolens"]
    print(f"timed after imports and a 1,000-row warm-up, best of {max(1, args.repeat)}; peak = whole process, "
          f"work = peak above the resident memory after the warm-up")
    for r in (ref, ours):
        print(f"{r['mode']:>10}: {r['rows']:>12,} rows in {r['seconds']:7.2f} s = "
              f"{r['rows'] / r['seconds']:>12,.0f} rows/s, peak memory {r['peak_mb']:,.0f} MB "
              f"(work {r['peak_mb'] - r['base_mb']:,.0f} MB)")
    print(f"promolens import / bare pandas read, same run: time x{ours['seconds'] / ref['seconds']:.2f}, "
          f"peak memory x{ours['peak_mb'] / ref['peak_mb']:.2f} "
          f"(work memory x{(ours['peak_mb'] - ours['base_mb']) / max(1.0, ref['peak_mb'] - ref['base_mb']):.2f})")


if __name__ == "__main__":
    main()
