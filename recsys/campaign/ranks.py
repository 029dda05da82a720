"""Ranks of pairs within groups (customers, offers) by one vectorised sort.

Allocation, the holdout and the targeting list all order (customer, offer) pairs by weight and
then need each pair's place within its customer or offer; these helpers do it for millions of
pairs without a Python loop.

>>> import numpy as np
>>> rank_within(np.array([0, 0, 1, 0]), global_order(np.array([0.2, 0.9, 0.5, 0.4]))).tolist()
[3, 1, 1, 2]
"""

from __future__ import annotations

import numpy as np


def global_order(weights: np.ndarray) -> np.ndarray:
    """Rank of each pair in decreasing weight (0 = best); ties keep the earlier row first."""
    order = np.argsort(-weights, kind="stable")
    rank = np.empty(len(weights), dtype=np.int64)
    rank[order] = np.arange(len(weights))
    return rank


def rank_within(groups: np.ndarray, order: np.ndarray) -> np.ndarray:
    """1-based rank of each row within its group by ``order`` (distinct ints, smaller = better)."""
    if len(groups) == 0:
        return np.zeros(0, dtype=np.int64)
    sorter = sort_by_group(groups, order)
    g = groups[sorter]
    position = np.arange(len(g)) - np.searchsorted(g, g, side="left")
    rank = np.empty(len(g), dtype=np.int64)
    rank[sorter] = position + 1
    return rank


def sort_by_group(groups: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Permutation sorting rows by group, then by ``order`` (one argsort of a combined int64 key).

    ``order`` holds distinct integers, so the key ``group * span + order`` is unique and any sort
    algorithm gives the same result (and it fits in int64 for any realistic size).
    """
    if len(order) == 0:
        return np.zeros(0, dtype=np.int64)
    low = order.min()
    span = np.int64(order.max() - low + 1)
    return np.argsort(groups.astype(np.int64) * span + (order - low))


def score_bins(groups: np.ndarray, scores: np.ndarray, n_bins: int) -> np.ndarray:
    """Score bin 1..n_bins of each row within its group (equal-count bins, 1 = lowest scores)."""
    if len(groups) == 0:
        return np.zeros(0, dtype=np.int64)
    ascending = rank_within(groups, global_order(-scores))  # rank 1 = lowest score
    sizes = np.bincount(groups)[groups]
    return np.minimum(np.ceil(ascending * n_bins / sizes), n_bins).astype(np.int64)


__all__ = ["global_order", "rank_within", "sort_by_group", "score_bins"]
