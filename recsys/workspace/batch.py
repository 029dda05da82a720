"""A batch run: score every customer of a run against the live offers, keep top-k, target, export.

``promolens batch`` calls :func:`run_batch`; notebooks and the bench call :func:`score_and_target`
with a customer table they already have. The single-machine engine (``local``) is the default and
what the dashboard's campaign uses; ``spark`` runs the same functions over partitions
(:mod:`recsys.campaign.spark_batch`) for shops whose customers outgrow one machine.

What is computed where:

* the response model's customer part, LightFM customer arrays and offer arrays come from the run
  (its response model and context as of the campaign day, :mod:`recsys.learn.response`): the
  customer table (:func:`recsys.campaign.batch.customer_table`) is one flat row per customer;
* the probabilities are :func:`recsys.learn.scoring.probability_rows`, the very function behind
  :meth:`recsys.learn.response.ResponseModel.predict_block`, so a batch gives the dashboard's numbers;
* the output folder holds ``topk/part-NNNNN.parquet`` (each customer's ``k`` best live offers),
  ``audience/`` (the safe CSV, the rows as Parquet and the export manifest of
  :func:`recsys.campaign.export.write_export`) and ``batch.json`` (request, engine, sha256 of every
  file, the allocation's weight and proven bound, timings).

>>> result = run_batch(Workspace("ws"), BatchRequest("r1", out="batch-out", engine="spark"))  # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from recsys.campaign import batch as B
from recsys.campaign.export import sha256_file, write_export
from recsys.core import columns as C
from recsys.core.config import ConfigBase
from recsys.core.jsonio import dumps
from recsys.core.progress import ProgressCallback
from recsys.learn.response import ResponseModelError
from recsys.learn.scoring import OfferArrays

ENGINES = ("local", "spark")
#: Customers per bucket when the number of buckets is not given.
CUSTOMERS_PER_BUCKET = 1_000_000
MANIFEST = "batch.json"
AUDIENCE_DIR = "audience"


@dataclass(frozen=True)
class BatchRequest(ConfigBase):
    """What a batch run does. JSON round-trip.

    Attributes
    ----------
    run_id
        The trained run (its production model and response model score the customers).
    out
        Output folder (absent or empty), a local path or a URI the engine can write.
    k
        Offers kept per customer (the top-k file and the audience's candidate pool).
    as_of
        Campaign day (ISO); offers live that day are scored, history counts before it; default the data's
        last day (as the Campaign page).
    customers
        Parquet file or folder with a ``user_id`` column: who to score (default: every customer of the run's dataset).
    engine, spark_master
        ``local`` (one machine) or ``spark`` on ``spark_master`` (None: the ``spark-submit`` master, else ``local[*]``).
    buckets
        Number of top-k part files (default: one per million customers).
    audience
        The audience rules (:class:`recsys.campaign.batch.BatchAudienceSpec`).
    """

    run_id: str
    out: str
    k: int = 10
    as_of: str | None = None
    customers: str | None = None
    engine: str = "local"
    spark_master: str | None = None
    buckets: int | None = None
    audience: B.BatchAudienceSpec = field(default_factory=B.BatchAudienceSpec)

    def validate(self) -> None:
        if self.engine not in ENGINES:
            raise B.BatchError(f"Unknown engine {self.engine!r}. Fix: --engine local or --engine spark.")
        if not 1 <= int(self.k) <= 1000:
            raise B.BatchError(f"k must be a whole number from 1 to 1000, got {self.k!r}. Fix: -k 10.")
        if self.buckets is not None and not 1 <= int(self.buckets) <= 100_000:
            raise B.BatchError(f"buckets must be from 1 to 100000, got {self.buckets!r}.")
        self.audience.validate()

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["audience"] = self.audience.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "BatchRequest":
        values = cls.known_fields(data)
        values["audience"] = B.BatchAudienceSpec.from_dict(values.get("audience") or {})
        return cls(**values)


@dataclass(frozen=True)
class BatchResult:
    """What a batch run wrote: the folder, its manifest (``batch.json``) and the audience frame."""

    out: Path
    manifest: dict[str, Any]
    audience: pd.DataFrame


# ============================================================================== the engine-level job
def score_and_target(customers: Any, offers: OfferArrays, spec: B.BatchAudienceSpec, *, k: int, out: str,
                     engine: str = "local", spark: Any = None, spark_master: str | None = None,
                     n_buckets: int | None = None, n_customers: int | None = None) -> dict[str, Any]:
    """Score ``customers`` (a customer table: pandas, or Spark with the spark engine), write the
    top-k parts under ``out``, build the audience; returns the pieces and timings (nothing else written)."""
    timings: dict[str, float] = {}
    n = n_customers if n_customers is not None else len(customers)
    buckets = int(n_buckets or max(1, math.ceil(n / CUSTOMERS_PER_BUCKET)))
    clock = time.perf_counter()
    info: dict[str, Any] = {}
    if engine == "spark":
        from recsys.campaign import spark_batch

        why = spark_batch.spark_available()
        if why:
            raise B.BatchError(f"The Spark engine cannot run here: {why}. Fix: install it, or use --engine local.")
        spark = spark or spark_batch.spark_session(spark_master)
        timings["session"] = round(time.perf_counter() - clock, 3)
        clock = time.perf_counter()
        summary = spark_batch.score_spark(spark, customers, offers, k, out, buckets)
        timings["scoring"] = round(time.perf_counter() - clock, 3)
        clock = time.perf_counter()
        chosen, bound, info = spark_batch.audience_spark(spark, out, spec)
    else:
        summary = B.run_local(customers, offers, k, out, buckets)
        timings["scoring"] = round(time.perf_counter() - clock, 3)
        clock = time.perf_counter()
        pool = B.read_topk(out)
        chosen = B.allocate_local(pool, spec)
        bound = B.local_bound(pool, spec)
        info = {"eligible_pairs": int((pool[B.PROBABILITY] >= spec.min_probability).sum())}
    audience = B.finish_audience(chosen, spec)
    timings["audience"] = round(time.perf_counter() - clock, 3)
    weight = float(audience[B.PROBABILITY].sum())
    return {"summary": summary, "audience": audience, "buckets": buckets, "timings": timings,
            "allocation": {"method": "greedy by probability", "coupons": int(len(audience)), "weight": weight,
                           "upper_bound": bound, "optimality": 1.0 if bound <= 0 else min(1.0, weight / bound), **info}}


# ============================================================================== the workspace job
def run_batch(workspace: Any, request: BatchRequest, *, spark: Any = None,
              progress: ProgressCallback | None = None) -> BatchResult:
    """Run a batch: customers x live offers -> top-k files -> audience export + ``batch.json``.

    Raises
    ------
    BatchError
        A setting or input that cannot be used (the message names it and the fix); nothing is
        written to the workspace, and nothing to ``out`` when the inputs are refused.
    """
    from recsys.insight import recommend as reco
    from recsys.workspace import runs
    from recsys.workspace.recommend import response_scorer

    report = progress or (lambda message, share: None)
    request.validate()
    started = time.perf_counter()
    out = Path(request.out) if "://" not in request.out else None
    if out is not None and out.exists() and any(out.iterdir()):
        raise B.BatchError(f"The output folder {request.out} is not empty. Fix: choose a new or empty folder (--out).")
    report("Loading the run", 0.02)
    run = workspace.run(request.run_id)
    dataset = workspace.load_dataset(run["dataset_id"])
    model = runs.load_model(workspace, request.run_id)
    try:
        day = reco.default_campaign_day(dataset) if request.as_of is None else reco.parse_day(request.as_of)
    except ValueError as exc:
        raise B.BatchError(f"--as-of: {exc}") from None
    rm, ctx, note = response_scorer(workspace, request.run_id, dataset, model, day)
    if rm is None:
        raise B.BatchError(f"Run {request.run_id} has no response model, so no probabilities to target by ({note}). "
                           "Fix: retrain the run (promolens train) and batch the new one.")
    if rm.scores_from_ != "hybrid":  # the batch kernel broadcasts LightFM embeddings; a served baseline has none
        raise B.BatchError(f"Run {request.run_id} serves its validated {rm.scores_from_} model; batch runs score with "
                           f"the hybrid's embeddings only. Fix: promolens serve {request.run_id} hybrid (or use "
                           "promolens campaign, which scores with the served model).")
    live = np.sort(ctx.item_ids[ctx.live].astype(str))
    if len(live) == 0:
        raise B.BatchError(f"No offer is live on {pd.Timestamp(ctx.as_of).date()}. Fix: choose a campaign day "
                           "within the offers' dates (--as-of).")
    report("Building the customer table", 0.1)
    ids = customer_ids(request.customers, ctx)
    upos = ctx.user_positions(ids)
    bias, emb, known = rm.customer_arrays(ctx, upos)
    customers = B.customer_table(ids, rm.customer_part(ctx, upos), bias, emb, known)
    offers = rm.offer_arrays(ctx, ctx.item_positions(live))
    report(f"Scoring {len(ids):,} customers x {len(live)} live offers ({request.engine})", 0.2)
    target = str(out) if out is not None else request.out
    parts = score_and_target(customers, offers, request.audience, k=request.k, out=target, engine=request.engine,
                             spark=spark, spark_master=request.spark_master, n_buckets=request.buckets)
    report("Writing the audience", 0.9)
    audience = parts["audience"]
    params = {"batch": request.to_dict(), "ranked_by": "response probability",
              "horizon_days": int(rm.config_.horizon_days), "campaign_day": str(pd.Timestamp(ctx.as_of).date()),
              "holdout": "customer by customer: hash of (seed, customer id) < share"}
    written = write_export(audience, f"{target}/{AUDIENCE_DIR}", run_id=request.run_id,
                           dataset_fingerprint=dataset.info.fingerprint, params=params)
    manifest = {
        "format": "promolens-batch", "request": request.to_dict(), "engine": request.engine,
        "run_id": request.run_id, "dataset_fingerprint": dataset.info.fingerprint,
        "campaign_day": params["campaign_day"], "horizon_days": params["horizon_days"],
        "customers": int(len(ids)), "live_offers": [str(o) for o in live], "k": int(request.k),
        "buckets": parts["buckets"], "topk": topk_files(target, parts["summary"]),
        "allocation": parts["allocation"], "audience": {
            "dir": AUDIENCE_DIR, "rows": int(len(audience)),
            "customers_by_group": {g: int(audience.loc[audience[C.GROUP] == g, C.USER_ID].nunique())
                                   for g in (C.TREATMENT, C.CONTROL)},
            "csv_sha256": written.manifest["csv"].get("sha256")},
        "timings": {**parts["timings"], "total": round(time.perf_counter() - started, 3)},
    }
    if out is not None:
        (out / MANIFEST).write_text(dumps(manifest), encoding="utf-8")
    report("Done", 1.0)
    return BatchResult(Path(target), manifest, audience)


def customer_ids(path: str | None, ctx: Any) -> np.ndarray:
    """Who to score: the ``user_id`` column of the Parquet at ``path``, else every customer the
    response context knows (the run's dataset). Ids the run does not know are refused by name."""
    if path is None:
        return np.asarray(ctx.user_ids, dtype=object).astype(str)
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, ValueError) as exc:
        raise B.BatchError(f"Cannot read the customers file {path}: {exc}. Fix: give a Parquet file or folder.") from None
    if C.USER_ID not in table.column_names:
        raise B.BatchError(f"The customers file {path} has no column '{C.USER_ID}' (it has "
                           f"{', '.join(table.column_names[:10])}). Fix: name the customer id column '{C.USER_ID}'.")
    ids = pd.unique(np.asarray(table.column(C.USER_ID).to_pandas().astype(str), dtype=object))
    try:
        ctx.user_positions(ids)
    except ResponseModelError:
        unknown = ids[pd.Index(ctx.user_ids).get_indexer(ids) < 0]
        rows = np.flatnonzero(pd.Index(ids).isin(unknown))[:5] + 1
        raise B.BatchError(
            f"The customers file {path} holds {len(unknown):,} customer id(s) the run's dataset does not know "
            f"(column '{C.USER_ID}', e.g. {', '.join(map(str, unknown[:5]))} at rows {', '.join(map(str, rows))}). "
            "Fix: import them first (promolens import --append) or leave them out.") from None
    return np.asarray(ids, dtype=object)


def topk_files(out: str, summary: pd.DataFrame) -> list[dict[str, Any]]:
    """Name, rows, customers and sha256 of each top-k part (sha256 only for local folders)."""
    files = []
    for row in summary.sort_values(B.BUCKET).itertuples(index=False):  # one per bucket file, not per customer
        name = f"{B.TOPK_DIR}/{B.part_name(row.bucket)}"
        path = Path(out) / name
        files.append({"file": name, "rows": int(row.rows), "customers": int(row.customers),
                      "sha256": sha256_file(path) if "://" not in out and path.exists() else None})
    return files


__all__ = ["BatchRequest", "BatchResult", "run_batch", "score_and_target", "customer_ids", "topk_files", "ENGINES"]
