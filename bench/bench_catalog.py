"""How often a page run reads the workspace catalogue, and what each read costs. Prints figures.

The sample shop imported into a fresh workspace with one tiny run (3 epochs, no baselines), then
every page run with Streamlit's AppTest: its first run and one rerun with nothing changed,
``--repeats`` times each in a fresh AppTest. Counted per page run (median over the repeats):

* ``opens``: DuckDB connections opened on the catalogue file (``duckdb.connect(<catalog>)``) and
  the milliseconds spent opening + closing them;
* ``reads``: calls of the workspace's catalogue reads (``datasets``, ``dataset``, ``runs``,
  ``run``, ``appends``, ``segments``, ``exports``, ``export``, ``measurements``, ``snapshot``,
  ``query``) and their mean milliseconds per call.

Usage::

    .venv/bin/python bench/bench_catalog.py
    .venv/bin/python bench/bench_catalog.py --pages recommendations segments --repeats 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from functools import wraps
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys.learn.config import ModelConfig  # noqa: E402
from recsys.learn.pipeline import TrainConfig  # noqa: E402
from recsys.workspace import runs  # noqa: E402
from recsys.workspace import store  # noqa: E402
from recsys.workspace.ingest import ensure_sample_dataset  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PAGES = ("data", "train", "recommendations", "segments", "fairness", "campaign", "measure")
READS = ("datasets", "dataset", "runs", "run", "appends", "segments", "exports", "export", "measurements",
         "snapshot", "query")
COUNTS: dict[str, float] = defaultdict(float)
DEPTH = [0]


def count_catalogue_opens() -> None:
    real = duckdb.connect

    @wraps(real)
    def connect(database: str = ":memory:", *args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        if str(database).endswith(store.CATALOG_FILE):
            COUNTS["opens"] += 1
            t0 = time.perf_counter()
            con = real(database, *args, **kwargs)
            COUNTS["open_s"] += time.perf_counter() - t0
            close = con.close

            def timed_close() -> None:
                t1 = time.perf_counter()
                close()
                COUNTS["open_s"] += time.perf_counter() - t1
            return _Closing(con, timed_close)
        return real(database, *args, **kwargs)

    duckdb.connect = connect  # type: ignore[assignment]


class _Closing:
    """A connection whose ``close`` (and context exit) is timed."""

    def __init__(self, con: duckdb.DuckDBPyConnection, close) -> None:  # noqa: ANN001
        self._con, self.close = con, close

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self._con, name)

    def __enter__(self):  # noqa: ANN204
        return self

    def __exit__(self, *exc) -> None:  # noqa: ANN002
        self.close()


def count_reads() -> None:
    for name in READS:
        real = getattr(store.Workspace, name)

        def wrapper(*args, _real=real, **kwargs):  # noqa: ANN002, ANN003, ANN202
            if DEPTH[0]:  # a read inside a read (dataset() inside load_dataset()) counts once
                return _real(*args, **kwargs)
            DEPTH[0] += 1
            t0 = time.perf_counter()
            try:
                return _real(*args, **kwargs)
            finally:
                DEPTH[0] -= 1
                COUNTS["reads"] += 1
                COUNTS["read_s"] += time.perf_counter() - t0
        setattr(store.Workspace, name, wraps(real)(wrapper))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", nargs="+", default=list(PAGES))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from streamlit.testing.v1 import AppTest

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ws"
        ws = store.Workspace(path)
        info = ensure_sample_dataset(ws)
        assert info is not None
        runs.train_run(ws, info.id, TrainConfig(model=ModelConfig(epochs=3, no_components=8), baselines=(),
                                                 early_stopping=False), refit_all=False)
        os.environ["PROMOLENS_WORKSPACE"] = str(path)
        os.chdir(ROOT)
        count_catalogue_opens()
        count_reads()
        print(f"load average before: {os.getloadavg()}")
        print(f"{'page':<16}{'run':<7}{'opens':>7}{'open ms':>9}{'ms/open':>9}{'reads':>7}{'ms/read':>9}{'run s':>8}")
        total = defaultdict(list)
        for page in args.pages:
            per: dict[str, list[dict[str, float]]] = {"first": [], "rerun": []}
            for _ in range(args.repeats):
                at = AppTest.from_file(str(ROOT / "pages" / f"{page}.py"), default_timeout=600)
                for kind in ("first", "rerun"):
                    COUNTS.clear()
                    t0 = time.perf_counter()
                    at.run()
                    per[kind].append({**COUNTS, "run_s": time.perf_counter() - t0})
                    if at.exception:
                        print(f"  {page} {kind}: exception {at.exception[0].value}")
            for kind, rows in per.items():
                def med(key: str) -> float:
                    return statistics.median(r.get(key, 0.0) for r in rows)
                opens, reads = med("opens"), med("reads")
                total[kind].append((opens, med("open_s"), reads, med("read_s")))
                print(f"{page:<16}{kind:<7}{opens:>7.0f}{med('open_s') * 1000:>9.0f}"
                      f"{(med('open_s') / opens * 1000 if opens else 0):>9.1f}{reads:>7.0f}"
                      f"{(med('read_s') / reads * 1000 if reads else 0):>9.2f}{med('run_s'):>8.2f}", flush=True)
        for kind, rows in total.items():
            opens, open_s = sum(r[0] for r in rows), sum(r[1] for r in rows)
            reads, read_s = sum(r[2] for r in rows), sum(r[3] for r in rows)
            print(f"all pages, {kind} run: {opens:.0f} opens ({open_s * 1000:.0f} ms), {reads:.0f} reads "
                  f"({read_s * 1000 / max(reads, 1):.2f} ms each)")
        print(f"load average after: {os.getloadavg()} (median of {args.repeats} per page)")


if __name__ == "__main__":
    main()
