"""The Spark engine of a batch run: the functions of :mod:`recsys.campaign.batch` over a cluster.

Nothing here computes a probability or chooses a coupon by itself; it moves data so the same
functions run where the data is:

* **scoring** - the customer table is bucketed by ``mapInPandas`` (:func:`recsys.campaign.batch.with_bucket`),
  grouped by bucket and each bucket scored and written by ``applyInPandas``
  (:func:`recsys.campaign.batch.score_bucket`). The offer arrays (:class:`recsys.learn.scoring.OfferArrays`,
  a few hundred rows) travel once per executor as a broadcast variable;
* **audience** - the top-k pool is read back and reduced on the cluster to each offer's best
  ``M = factor x N`` pairs (a window per offer) and, with a total, the best ``G = factor x K`` of those;
  the reduced pool (a few times the coupons sent) comes to the driver, where the same greedy runs
  (:func:`recsys.campaign.batch.allocate_reduced`). When the reduction could have changed the answer
  the factor grows and the step repeats, so the result is always the one-machine greedy's.
  The bound's per-customer and per-offer sums are aggregated on the cluster.

pyspark is an optional dependency (``pip install promolens[spark]``, and a Java 17 runtime); it is
imported only inside these functions.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np
import pandas as pd

from recsys.campaign import batch as B
from recsys.core import columns as C
from recsys.learn.scoring import OfferArrays

#: First reduction factor of the audience step (pairs kept per offer = factor x top_n).
REDUCE_FACTOR = 4
_MAX_ROUNDS = 6


def spark_available() -> str | None:
    """None when pyspark and a Java runtime are there, else why not (for a clear message or a skip)."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install 'promolens[spark]')"
    import shutil

    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        return "no Java runtime found (install Java 17, e.g. apt-get install openjdk-17-jre-headless)"
    return None


def spark_session(master: str | None = None, *, shuffle_partitions: int | None = None,
                  driver_memory: str | None = None) -> Any:
    """A SparkSession on ``master`` whose Python workers run this interpreter and import this ``recsys``.

    ``master`` None: the one ``spark-submit --master`` gave, else ``local[*]``. An active session is
    returned as it is (ship PromoLens to the executors with ``--py-files`` or install the wheel there).
    """
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(B.__file__))))
    path = os.environ.get("PYTHONPATH", "")
    if root not in path.split(os.pathsep):  # local workers import the same recsys as the driver
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (root, path) if p)
    builder = SparkSession.builder if master is None else SparkSession.builder.master(master)
    builder = (builder.appName("promolens-batch")
               .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               .config("spark.sql.shuffle.partitions", str(shuffle_partitions or 8))
               .config("spark.executorEnv.PYTHONPATH", os.environ["PYTHONPATH"]))
    if driver_memory:
        builder = builder.config("spark.driver.memory", driver_memory)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def customer_schema(dim: int) -> str:
    """Spark DDL of a customer table with ``dim`` embedding columns."""
    cols = [f"{C.USER_ID} string", f"{B.CUSTOMER_PART} double", f"{B.KNOWN} boolean", f"{B.BIAS} double"]
    return ", ".join(cols + [f"{c} double" for c in B.emb_columns(dim)])


def score_spark(spark: Any, customers: Any, offers: OfferArrays, k: int, out: str, n_buckets: int) -> pd.DataFrame:
    """Score every customer of ``customers`` (a Spark or pandas customer table), write the top-k
    parts under ``out``; the per-bucket summary comes back (one row per bucket)."""
    dim = offers.emb.shape[1]
    if isinstance(customers, pd.DataFrame):
        customers = spark.createDataFrame(customers, schema=customer_schema(dim))
    shared = spark.sparkContext.broadcast(offers)  # a few hundred offers: sent once per executor

    def add_bucket(frames):  # runs on the executors
        for frame in frames:
            yield B.with_bucket(frame, n_buckets)

    def score(frame: pd.DataFrame) -> pd.DataFrame:  # runs on the executors, one bucket at a time
        return B.score_bucket(frame, shared.value, k, out)

    bucketed = customers.mapInPandas(add_bucket, schema=f"{customer_schema(dim)}, {B.BUCKET} long")
    summary = bucketed.groupBy(B.BUCKET).applyInPandas(
        score, schema=f"{B.BUCKET} long, customers long, rows long, probability_sum double")
    result = summary.toPandas().sort_values(B.BUCKET, ignore_index=True)
    shared.unpersist()
    return result


def audience_spark(spark: Any, out: str, spec: B.BatchAudienceSpec) -> tuple[pd.DataFrame, float, dict[str, Any]]:
    """The greedy audience of the top-k pool under ``out``: chosen pairs, the proven bound, and what
    the reduction kept (rounds, pairs brought to the driver)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    pool = spark.read.parquet(f"{str(out).rstrip('/')}/{B.TOPK_DIR}")
    pool = pool.where(F.col(B.PROBABILITY) >= F.lit(float(spec.min_probability)))
    by_offer = Window.partitionBy(C.ITEM_ID).orderBy(F.col(B.PROBABILITY).desc(), F.col(C.USER_ID), F.col(C.ITEM_ID))
    ranked = pool.select(C.USER_ID, C.ITEM_ID, B.PROBABILITY, C.RANK,
                         F.row_number().over(by_offer).alias("offer_rank"),
                         F.count(F.lit(1)).over(Window.partitionBy(C.ITEM_ID)).alias("offer_pairs")).cache()
    top_n = np.inf if spec.top_n is None else spec.top_n
    sums = ranked.agg(
        F.sum(F.when(F.col(C.RANK) <= spec.max_per_customer, F.col(B.PROBABILITY)).otherwise(0.0)).alias("customers"),
        F.sum(F.when(F.col("offer_rank") <= F.lit(float(top_n)), F.col(B.PROBABILITY)).otherwise(0.0)).alias("offers"),
        F.count(F.lit(1)).alias("pairs"),
    ).collect()[0]
    factor, chosen, reduced = REDUCE_FACTOR, None, pd.DataFrame()
    rounds = 0
    while chosen is None and rounds < _MAX_ROUNDS:  # almost always one round; each retry keeps 4x more
        rounds += 1
        kept = ranked
        if spec.top_n is not None:
            kept = kept.where(F.col("offer_rank") <= F.lit(factor * spec.top_n))
        global_cut = None
        if spec.total_coupons is not None:
            global_cut = factor * spec.total_coupons
            kept = kept.orderBy(F.col(B.PROBABILITY).desc(), F.col(C.USER_ID), F.col(C.ITEM_ID)).limit(global_cut)
        reduced = kept.toPandas()
        truncated = set()
        if spec.top_n is not None:
            over = reduced[reduced["offer_pairs"] > factor * spec.top_n]
            truncated = set(over[C.ITEM_ID].astype(str).unique())
        cut_globally = global_cut is not None and int(sums["pairs"]) > global_cut
        chosen = B.allocate_reduced(reduced[[C.USER_ID, C.ITEM_ID, B.PROBABILITY, C.RANK]], spec, truncated, cut_globally)
        factor *= 4
    if chosen is None:  # the last resort: the whole pool on the driver
        reduced = ranked.toPandas()
        chosen = B.allocate_local(reduced[[C.USER_ID, C.ITEM_ID, B.PROBABILITY, C.RANK]], spec)
    top_total = None
    if spec.total_coupons is not None:  # the K best pairs within the offers' top-N
        within = ranked.where(F.col("offer_rank") <= F.lit(float(top_n)))
        best = within.orderBy(F.col(B.PROBABILITY).desc()).limit(int(spec.total_coupons))
        top_total = float(best.agg(F.sum(B.PROBABILITY)).collect()[0][0] or 0.0)
    ranked.unpersist()
    bound = B.upper_bound(float(sums["customers"] or 0.0), None if spec.top_n is None else float(sums["offers"] or 0.0),
                          top_total)
    return chosen, bound, {"rounds": rounds, "pairs_to_driver": int(len(reduced)), "eligible_pairs": int(sums["pairs"])}


__all__ = ["spark_available", "spark_session", "customer_schema", "score_spark", "audience_spark", "REDUCE_FACTOR"]
