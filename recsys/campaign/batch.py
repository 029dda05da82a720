"""Batch targeting at scale, engine-agnostic: score every customer in buckets, keep top-k, allocate.

A batch run has three steps, each written once and run by either engine (:mod:`recsys.campaign.spark_batch`
runs the same functions inside ``applyInPandas`` on Spark):

1. **Buckets.** Every customer falls in bucket ``floor(h(id) * n_buckets)`` with ``h`` a keyed hash
   (:func:`recsys.campaign.holdout.uniform_hash`): a bucket's customers are the same whatever the
   engine, partitioning or row order.
2. **Score and keep top-k** (:func:`score_bucket`): a bucket's customers, sorted by id, scored in
   chunks by :func:`recsys.learn.scoring.probability_rows` (the one implementation of the
   probabilities) against the live offers, each customer's ``k`` best kept by
   :func:`recsys.learn.scoring.top_k_rows` and written by pyarrow as ``topk/part-NNNNN.parquet``
   (``user_id``, ``item_id``, ``probability``, ``rank``). Same data, same writer: byte-identical
   files from both engines.
3. **Audience** from the top-k pool: eligible pairs (``probability >= min_probability``), greedy by
   probability under a per-offer top-N, a per-customer cap and a total in coupons
   (:func:`recsys.campaign.allocation.greedy_allocation`, ties to the lower customer id then offer
   id), then the control group drawn customer by customer from a hash of (seed, id)
   (:func:`recsys.campaign.holdout.hash_holdout`).

The greedy's proven bound (:func:`upper_bound`) is the least of three relaxations: each customer's
``cap`` best pairs, each offer's ``N`` best, the ``K`` best pairs within the offers' top-N.

>>> bucket_of(np.array(["C1", "C2", "C3"], dtype=object), 4).tolist() == bucket_of(np.array(["C3", "C2", "C1"], dtype=object), 4)[::-1].tolist()
True
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import fs as pafs

from recsys.campaign.allocation import greedy_allocation
from recsys.campaign.holdout import hash_holdout, uniform_hash
from recsys.campaign.spec import TargetingError
from recsys.core import columns as C
from recsys.core.config import ConfigBase
from recsys.learn.scoring import OfferArrays, probability_rows, top_k_rows

#: Columns of the customer table a batch scores (besides ``user_id``); see :func:`customer_table`.
CUSTOMER_PART, KNOWN, BIAS, EMB_PREFIX = "customer_part", "lightfm_known", "lightfm_bias", "lightfm_"
BUCKET = "bucket"
PROBABILITY = "probability"
TOPK_DIR = "topk"
#: Customers scored per block inside a bucket (bounds memory: block x offers float64).
SCORE_CHUNK = 50_000


class BatchError(TargetingError):
    """A batch run cannot go ahead (the message names the setting and the fix)."""


@dataclass(frozen=True)
class BatchAudienceSpec(ConfigBase):
    """The audience rules of a batch run. JSON round-trip.

    Attributes
    ----------
    top_n
        Most coupons per offer (None: no limit).
    max_per_customer
        Most coupons per customer.
    total_coupons
        Most coupons in all (None: no limit).
    min_probability
        Pairs below this response probability are not eligible.
    holdout_share, seed
        Share of customers held out as controls, drawn by a hash of (seed, customer id).
    """

    top_n: int | None = None
    max_per_customer: int = 1
    total_coupons: int | None = None
    min_probability: float = 0.0
    holdout_share: float = 0.1
    seed: int = 0

    def validate(self) -> None:
        if self.top_n is not None and self.top_n < 0:
            raise BatchError(f"top_n must be >= 0, got {self.top_n}. Fix: --top 1000 (coupons per offer).")
        if self.max_per_customer < 1:
            raise BatchError(f"max_per_customer must be >= 1, got {self.max_per_customer}. Fix: --cap 1.")
        if self.total_coupons is not None and self.total_coupons < 0:
            raise BatchError(f"total_coupons must be >= 0, got {self.total_coupons}. Fix: --budget 50000.")
        if not 0.0 <= self.min_probability <= 1.0:
            raise BatchError(f"min_probability is a probability from 0 to 1, got {self.min_probability}. "
                             "Fix: --min-probability 0.05.")
        if not 0.0 <= self.holdout_share < 1.0:
            raise BatchError(f"holdout share must be in [0, 1), got {self.holdout_share}. Fix: --holdout 0.1.")


# ============================================================================== customers and buckets
def emb_columns(dim: int) -> list[str]:
    """Names of the embedding columns of a customer table with ``dim`` LightFM components."""
    return [f"{EMB_PREFIX}{i}" for i in range(dim)]


def customer_table(user_ids: np.ndarray, part: np.ndarray, bias: np.ndarray, emb: np.ndarray,
                   known: np.ndarray) -> pd.DataFrame:
    """The customer side of the kernel as a flat table (what a lake would hold, one row per customer)."""
    frame = pd.DataFrame({C.USER_ID: np.asarray(user_ids, dtype=object).astype(str), CUSTOMER_PART: part,
                          KNOWN: np.asarray(known, dtype=bool), BIAS: bias})
    return pd.concat([frame, pd.DataFrame(np.asarray(emb, dtype=np.float64), columns=emb_columns(emb.shape[1]))], axis=1)


def bucket_of(user_ids: Any, n_buckets: int) -> np.ndarray:
    """Bucket 0..n_buckets-1 of each customer id (a keyed hash: engine- and order-independent)."""
    u = uniform_hash(user_ids, "promolens/batch/bucket")
    return np.minimum((u * n_buckets).astype(np.int64), n_buckets - 1)


def with_bucket(frame: pd.DataFrame, n_buckets: int) -> pd.DataFrame:
    """``frame`` with its ``bucket`` column (what ``mapInPandas`` runs on every partition)."""
    return frame.assign(**{BUCKET: bucket_of(frame[C.USER_ID], n_buckets)})


# ============================================================================== scoring
def score_customers(frame: pd.DataFrame, offers: OfferArrays, k: int, chunk: int = SCORE_CHUNK) -> pd.DataFrame:
    """Top-k offers of each customer of ``frame`` (a customer table): ``user_id``, ``item_id``,
    ``probability``, ``rank`` (1 = best), sorted by customer id then rank."""
    frame = frame.sort_values(C.USER_ID, kind="stable", ignore_index=True)
    dim = offers.emb.shape[1]
    emb_cols = emb_columns(dim)
    missing = [c for c in [C.USER_ID, CUSTOMER_PART, KNOWN, BIAS, *emb_cols] if c not in frame.columns]
    if missing:
        raise BatchError(f"The customer table lacks column(s) {', '.join(missing)}. Fix: build it with customer_table().")
    ids = frame[C.USER_ID].to_numpy(object)
    kk = int(min(k, len(offers.item_ids)))
    cols = np.empty((len(frame), kk), dtype=np.int64)
    vals = np.empty((len(frame), kk))
    for start in range(0, len(frame), chunk):  # blocks of customers, each one matrix product
        part = frame.iloc[start:start + chunk]
        p = probability_rows(part[CUSTOMER_PART].to_numpy(np.float64), part[BIAS].to_numpy(np.float64),
                             part[emb_cols].to_numpy(np.float64), part[KNOWN].to_numpy(bool), offers)
        cols[start:start + chunk], vals[start:start + chunk] = top_k_rows(p, kk)
    return pd.DataFrame({
        C.USER_ID: np.repeat(ids, kk), C.ITEM_ID: np.asarray(offers.item_ids, dtype=object)[cols.ravel()],
        PROBABILITY: vals.ravel(), C.RANK: np.tile(np.arange(1, kk + 1, dtype=np.int32), len(frame)),
    })


def part_name(bucket: int) -> str:
    return f"part-{int(bucket):05d}.parquet"


def write_part(table: pd.DataFrame, out: str, bucket: int) -> str:
    """Write one bucket's top-k with pyarrow (local path or any URI pyarrow opens: s3://, hdfs://, gs://)."""
    filesystem, root = pafs.FileSystem.from_uri(str(out) if "://" in str(out) else os.path.abspath(out))
    directory = f"{root.rstrip('/')}/{TOPK_DIR}"
    filesystem.create_dir(directory, recursive=True)
    path = f"{directory}/{part_name(bucket)}"
    pq.write_table(pa.Table.from_pandas(table, preserve_index=False), path, filesystem=filesystem)
    return path


def score_bucket(frame: pd.DataFrame, offers: OfferArrays, k: int, out: str, bucket: int | None = None) -> pd.DataFrame:
    """Score one bucket (its customers, in any order), write its part file; one summary row back.

    ``bucket`` defaults to the frame's ``bucket`` column (all rows share it)."""
    if bucket is None:
        bucket = int(frame[BUCKET].iloc[0])
    top = score_customers(frame.drop(columns=BUCKET) if BUCKET in frame.columns else frame, offers, k)
    write_part(top, out, bucket)
    return pd.DataFrame({BUCKET: [int(bucket)], "customers": [len(frame)], "rows": [len(top)],
                         "probability_sum": [float(top[PROBABILITY].sum())]})


def run_local(customers: pd.DataFrame, offers: OfferArrays, k: int, out: str, n_buckets: int) -> pd.DataFrame:
    """The one-machine engine: every bucket in turn through :func:`score_bucket`."""
    buckets = bucket_of(customers[C.USER_ID], n_buckets)
    order = np.argsort(buckets, kind="stable")
    edges = np.searchsorted(buckets[order], np.arange(n_buckets + 1))
    parts = [score_bucket(customers.take(order[edges[b]:edges[b + 1]]), offers, k, out, b)
             for b in range(n_buckets) if edges[b + 1] > edges[b]]  # one per bucket (a handful), not per customer
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[BUCKET, "customers", "rows"])


def read_topk(out: str) -> pd.DataFrame:
    """The whole top-k pool of a batch output (one machine), sorted by customer then rank."""
    frame = pq.read_table(f"{str(out).rstrip('/')}/{TOPK_DIR}").to_pandas()
    return frame.sort_values([C.USER_ID, C.RANK], kind="stable", ignore_index=True)


# ============================================================================== audience
def eligible(pool: pd.DataFrame, spec: BatchAudienceSpec) -> pd.DataFrame:
    """Pairs of the pool at or above the minimum probability, sorted by (customer id, offer id): the
    row order that breaks ties in the greedy."""
    keep = pool[pool[PROBABILITY] >= spec.min_probability]
    return keep.sort_values([C.USER_ID, C.ITEM_ID], kind="stable", ignore_index=True)


def greedy_pairs(pairs: pd.DataFrame, spec: BatchAudienceSpec, total: int | None) -> np.ndarray:
    """Greedy by probability over ``pairs`` (sorted as :func:`eligible` sorts): a flag per row."""
    users, _ = pd.factorize(pairs[C.USER_ID])
    offers, offer_ids = pd.factorize(pairs[C.ITEM_ID])
    budgets = None if spec.top_n is None else np.full(len(offer_ids), int(spec.top_n), dtype=np.int64)
    return greedy_allocation(users, offers, pairs[PROBABILITY].to_numpy(np.float64), cap=spec.max_per_customer,
                             budgets=budgets, total_coupons=total)


def allocate_local(pool: pd.DataFrame, spec: BatchAudienceSpec) -> pd.DataFrame:
    """The chosen pairs of the whole pool on one machine."""
    pairs = eligible(pool, spec)
    return pairs[greedy_pairs(pairs, spec, spec.total_coupons)].reset_index(drop=True)


def allocate_reduced(reduced: pd.DataFrame, spec: BatchAudienceSpec, truncated_offers: set[str],
                     truncated_globally: bool) -> pd.DataFrame | None:
    """Greedy on a reduced pool (each offer's top M pairs and the G best overall), or None when the
    reduction could have changed the answer.

    The result equals greedy on the whole pool when every offer that lost pairs is full and, if
    pairs were cut globally, the greedy without the total reaches the total: the first pair the cut
    removed that the full greedy would take comes after all kept pairs of its offer (or all kept
    pairs), and by then the offer (or the total) is already full in both runs.
    """
    pairs = eligible(reduced, spec)
    unlimited = greedy_pairs(pairs, spec, None)
    if truncated_globally and spec.total_coupons is not None and unlimited.sum() < spec.total_coupons:
        return None
    if truncated_offers and spec.top_n is not None:
        taken = pairs.loc[unlimited, C.ITEM_ID].value_counts()
        if any(int(taken.get(o, 0)) < spec.top_n for o in truncated_offers):  # a loop over a few offers
            return None
    if spec.total_coupons is None:
        return pairs[unlimited].reset_index(drop=True)
    return pairs[greedy_pairs(pairs, spec, spec.total_coupons)].reset_index(drop=True)


def upper_bound(per_customer_top: float, per_offer_top: float | None, top_total: float | None) -> float:
    """The least of the relaxations' values (each a proven bound on any allocation's total)."""
    return float(min(v for v in (per_customer_top, per_offer_top, top_total) if v is not None))


def local_bound(pool: pd.DataFrame, spec: BatchAudienceSpec) -> float:
    """:func:`upper_bound` of the whole pool, on one machine."""
    pairs = eligible(pool, spec)
    p = pairs[PROBABILITY]
    per_customer = float(p[pairs[C.RANK] <= spec.max_per_customer].sum())  # the pool is each customer's best, in rank order
    offer_rank = offer_ranks(pairs)
    within = offer_rank <= (spec.top_n if spec.top_n is not None else np.inf)
    per_offer = float(p[within].sum()) if spec.top_n is not None else None
    top_total = None
    if spec.total_coupons is not None:
        top_total = float(np.sort(p[within].to_numpy())[::-1][:spec.total_coupons].sum())
    return upper_bound(per_customer, per_offer, top_total)


def offer_ranks(pairs: pd.DataFrame) -> np.ndarray:
    """1-based rank of each pair within its offer by (probability desc, customer id, offer id)."""
    order = pairs.sort_values([C.ITEM_ID, PROBABILITY, C.USER_ID], ascending=[True, False, True], kind="stable")
    ranks = order.groupby(C.ITEM_ID, sort=False).cumcount().to_numpy() + 1
    out = np.empty(len(pairs), dtype=np.int64)
    out[pairs.index.get_indexer(order.index)] = ranks
    return out


def finish_audience(chosen: pd.DataFrame, spec: BatchAudienceSpec) -> pd.DataFrame:
    """The targeting list: ``user_id``, ``item_id``, ``score`` (= probability), ``probability``,
    ``rank`` (within the customer's coupons) and ``group`` (control drawn by (seed, id) hash)."""
    frame = chosen.sort_values([C.USER_ID, PROBABILITY, C.ITEM_ID], ascending=[True, False, True],
                               kind="stable", ignore_index=True)
    rank = frame.groupby(C.USER_ID, sort=False).cumcount().to_numpy() + 1
    control = hash_holdout(frame[C.USER_ID], spec.holdout_share, spec.seed) if spec.holdout_share > 0 \
        else np.zeros(len(frame), dtype=bool)
    return pd.DataFrame({
        C.USER_ID: frame[C.USER_ID].to_numpy(object), C.ITEM_ID: frame[C.ITEM_ID].to_numpy(object),
        C.SCORE: frame[PROBABILITY].to_numpy(np.float64), PROBABILITY: frame[PROBABILITY].to_numpy(np.float64),
        C.RANK: rank.astype(np.int64), C.GROUP: np.where(control, C.CONTROL, C.TREATMENT).astype(object),
    })


__all__ = [
    "BatchAudienceSpec", "BatchError", "customer_table", "emb_columns", "bucket_of", "with_bucket", "score_customers",
    "score_bucket", "write_part", "run_local", "read_topk", "eligible", "greedy_pairs", "allocate_local",
    "allocate_reduced", "upper_bound", "local_bound", "offer_ranks", "finish_audience", "CUSTOMER_PART", "KNOWN",
    "BIAS", "EMB_PREFIX", "BUCKET", "PROBABILITY", "TOPK_DIR", "part_name",
]
