"""The control group of a targeting list: a random, stratified, reproducible share of customers.

Controls get no coupon but stay in the list with ``group = control`` so results can be joined
later (:mod:`recsys.campaign.measure`). Randomness comes from a keyed hash of each id
(:func:`uniform_hash`), so the same customers, offers and seed give the same groups whatever the
row order.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd

from recsys.campaign import ranks
from recsys.campaign.spec import TargetingError
from recsys.core import columns as C


def uniform_hash(ids: Any, context: str) -> np.ndarray:
    """A uniform number in [0, 1) per id from a keyed hash of its text: order-independent."""
    key = hashlib.sha256(context.encode()).hexdigest()[:16]
    texts = np.asarray(pd.Index(ids).astype(str), dtype=object)
    hashed = pd.util.hash_array(texts, hash_key=key, categorize=True)
    return (hashed >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def assign_holdout(frame: pd.DataFrame, share: float, seed: int = 0, score_bins: int = 10) -> pd.Series:
    """Hold out a random, stratified share of customers as controls.

    The unit is the customer: all of a control customer's rows are ``control``. Customers are
    stratified by their best allocated offer (``rank == 1``) and the score bin of that pair within
    the offer (``score_decile`` when present, else computed with ``score_bins`` bins). Inside the
    list sorted by (offer, bin, random key) every ``1/share``-th customer is a control (systematic
    sampling from a random start), so each stratum holds ``floor`` or ``ceil`` of ``share * size``
    controls and the whole list ``share * customers`` (+-1). The random key is a keyed hash of the
    customer id and the seed: the same customers, offers and seed always give the same groups,
    whatever the row order.

    Parameters
    ----------
    frame
        ``user_id``, ``item_id``, ``score`` and ``rank`` (``score_decile`` optional).
    share
        Share of customers to hold out, in [0, 1).
    seed
        Any integer.

    Returns
    -------
    pd.Series
        ``treatment`` or ``control`` per row, aligned with ``frame``.
    """
    groups = pd.Series(C.TREATMENT, index=frame.index, dtype=object)
    if share <= 0 or frame.empty:
        return groups
    if not 0 < share < 1:
        raise TargetingError(f"Holdout share must be in [0, 1), got {share}. Fix: use e.g. 0.1 for 10%.")
    primary = frame[frame[C.RANK] == 1]
    item_codes, _ = pd.factorize(primary[C.ITEM_ID], sort=True)
    if C.SCORE_DECILE in primary.columns:
        bins = primary[C.SCORE_DECILE].to_numpy(np.int64)
    else:
        bins = ranks.score_bins(item_codes, primary[C.SCORE].to_numpy(np.float64), score_bins)
    key = uniform_hash(primary[C.USER_ID], f"promolens/holdout/{seed}")
    order = np.lexsort((key, bins, item_codes))
    start = np.random.default_rng(np.random.SeedSequence([seed, 7])).random()
    position = np.arange(len(order), dtype=np.float64)
    is_control = np.floor((position + 1) * share + start) - np.floor(position * share + start) >= 1
    control_users = primary[C.USER_ID].to_numpy()[order][is_control]
    groups[frame[C.USER_ID].isin(control_users).to_numpy()] = C.CONTROL
    return groups


def hash_holdout(user_ids: Any, share: float, seed: int = 0) -> np.ndarray:
    """Controls drawn customer by customer: ``uniform_hash(id, seed) < share`` (one flag per id).

    The mode of batch runs (:mod:`recsys.campaign.batch`): each customer's group depends on its id
    and the seed alone, so any engine, partitioning or row order gives the same control group, and
    a customer is a control in every list made with that seed. The share is met in expectation
    (binomial), not stratified like :func:`assign_holdout`, which the dashboard's exports keep.

    >>> hash_holdout(["a", "b", "a"], 0.5, seed=1).tolist() == hash_holdout(["b", "a", "a"], 0.5, seed=1)[[1, 0, 2]].tolist()
    True
    """
    if not 0 <= share < 1:
        raise TargetingError(f"Holdout share must be in [0, 1), got {share}. Fix: use e.g. 0.1 for 10%.")
    return uniform_hash(user_ids, f"promolens/holdout-by-customer/{seed}") < share


__all__ = ["assign_holdout", "hash_holdout", "uniform_hash"]
