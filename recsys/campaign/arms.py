"""A/B tests in one export: two or more offers randomised into arms for one audience, plus a control group.

The audience (who is eligible, how many) is built as for any list with one coupon per customer.
:func:`assign_arms` then gives every customer exactly one arm (an offer) and, inside each arm, a
random share of customers become controls (no coupon). :func:`ab_frame` turns that into the rows of
the export: one row per customer with the arm's offer, its score, ``group`` (treatment / control)
and ``arm`` (the offer id for treated customers, ``control`` for controls), so
:func:`recsys.campaign.measure.measure_export` measures every arm against the control out of the box.

The audience's rules (segments, filters, activity, budgets, minimum probability, not already redeemed)
pick the customers on their best arm; the arm they are then drawn into may be another one.

The draw is the holdout's (:mod:`recsys.campaign.holdout`): customers are sorted by score bin (the
decile of their mean score over the arms) and a keyed hash of their id and the seed, then systematic
sampling from a seeded random start picks each arm in turn among the customers left (nested
systematic sampling), so every arm holds ``share * customers`` (+-1) and every score bin holds its
share of each arm (floor or ceil). Controls are drawn the same way inside each arm (sorted by arm,
bin, key), so each arm's controls are ``control_share`` of it (+-1) and the control group is the
same mix of arms and scores as the treated customers. Same customers, scores and seed: same arms,
whatever the row order.

>>> import pandas as pd
>>> ids = [f"c{i}" for i in range(1000)]
>>> arms = assign_arms(ids, [0.5] * 1000, ["A", "B"], control_share=0.2, seed=3)
>>> arms[ARM_OFFER].value_counts().sort_index().tolist(), int(arms[CONTROL_FLAG].sum())
([500, 500], 200)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from recsys.campaign import ranks
from recsys.campaign.holdout import uniform_hash
from recsys.campaign.spec import TargetingError
from recsys.core import columns as C

#: Columns of :func:`assign_arms`' result.
ARM_OFFER, CONTROL_FLAG = "arm_offer", "is_control"
#: Score bins the draw is stratified by.
ARM_BINS = 10


def check_arms(arms: Sequence[str], shares: Sequence[float], control_share: float) -> tuple[float, ...]:
    """The arms' shares of the treated customers, summing to 1 (equal when ``shares`` is empty).

    Raises :class:`TargetingError` naming the fix when fewer than two arms, an offer twice, shares
    that do not match the arms or are not above 0, or a control share outside (0, 1).
    """
    if len(arms) < 2:
        raise TargetingError(f"An A/B test needs at least two offers as arms, got {len(arms)}. Fix: pick two or more offers.")
    if len(set(arms)) != len(arms):
        raise TargetingError("An offer is an arm twice. Fix: list each offer once.")
    if not 0 < control_share < 1:
        raise TargetingError(f"An A/B test needs a control group: its share must be between 0 and 1 (exclusive), "
                             f"got {control_share:g}. Fix: e.g. 0.1 for 10% (CLI: --holdout 0.1).")
    if not len(shares):
        return tuple(1.0 / len(arms) for _ in arms)
    weights = np.asarray(shares, dtype=np.float64)
    if len(weights) != len(arms) or not np.isfinite(weights).all() or (weights <= 0).any():
        raise TargetingError(f"Arm shares must be one number above 0 per arm ({len(arms)} arms), got "
                             f"{', '.join(f'{s:g}' for s in weights)}. Fix: e.g. --arm-shares 1 1 for equal arms.")
    return tuple(float(w) for w in weights / weights.sum())


def systematic(n: int, share: float, start: float) -> np.ndarray:
    """Flags of a systematic sample of ``share`` of ``n`` ordered units from a random ``start`` in [0, 1).

    Any contiguous run of ``m`` units holds ``floor`` or ``ceil`` of ``share * m`` flagged units.
    """
    position = np.arange(n, dtype=np.float64)
    return np.floor((position + 1) * share + start) - np.floor(position * share + start) >= 1


def assign_arms(
    user_ids: Sequence[Any], scores: Sequence[float], arms: Sequence[str], *, shares: Sequence[float] = (),
    control_share: float = 0.1, seed: int = 0, bins: int = ARM_BINS,
) -> pd.DataFrame:
    """Give every customer one arm and flag the controls (see the module docstring).

    Parameters
    ----------
    user_ids
        One id per customer (unique).
    scores
        One number per customer to stratify by (e.g. the mean response probability over the arms).
    arms
        The arms' offers (two or more).
    shares
        The arms' relative sizes (empty: equal).
    control_share
        Share of the customers of every arm held out as controls, in (0, 1).
    seed
        Any integer: the same seed gives the same arms.

    Returns
    -------
    pd.DataFrame
        ``user_id``, ``arm_offer`` and ``is_control``, in the order of ``user_ids``.
    """
    weights = check_arms(arms, shares, control_share)
    ids = pd.Index(user_ids).astype(str)
    if ids.has_duplicates:
        raise TargetingError("A customer is listed twice for the A/B draw. Fix: one row per customer.")
    n = len(ids)
    values = np.asarray(scores, dtype=np.float64)
    stratum = ranks.score_bins(np.zeros(n, dtype=np.int64), values, bins) if n else np.zeros(0, dtype=np.int64)
    key = uniform_hash(ids, f"promolens/ab/{seed}")
    starts = np.random.default_rng(np.random.SeedSequence([seed, 11])).random(len(arms) + 1)
    order = np.lexsort((key, stratum))
    arm_of = np.full(n, len(arms) - 1, dtype=np.int64)
    left = order
    remaining = 1.0
    for k, weight in enumerate(weights[:-1]):  # a handful of arms; each draw is vectorised
        picked = systematic(len(left), min(weight / remaining, 1.0), starts[k])
        arm_of[left[picked]] = k
        left = left[~picked]
        remaining -= weight
    by_arm = np.lexsort((key, stratum, arm_of))
    is_control = np.zeros(n, dtype=bool)
    is_control[by_arm[systematic(n, control_share, starts[-1])]] = True
    return pd.DataFrame({C.USER_ID: ids.to_numpy(object), ARM_OFFER: np.asarray(arms, dtype=object)[arm_of],
                         CONTROL_FLAG: is_control})


def ab_frame(
    customers: Sequence[Any], scores: pd.DataFrame, arms: Sequence[str], *, shares: Sequence[float] = (),
    control_share: float = 0.1, seed: int = 0,
) -> pd.DataFrame:
    """The rows of an A/B export: one per customer, its arm's offer and score, ``group`` and ``arm``.

    ``scores`` holds ``user_id``, ``item_id``, ``score`` of every customer x arm (what the audience
    was built from); ``customers`` are the audience's customers. Rows are sorted by arm, then score
    (best first); ``rank`` is 1 (one coupon per customer) and ``score_decile`` is the decile of the
    score within the arm's offer, as in any list.
    """
    ids = pd.Index(pd.unique(np.asarray(pd.Index(customers).astype(str), dtype=object)))
    table = scores.assign(**{C.USER_ID: scores[C.USER_ID].astype(str), C.ITEM_ID: scores[C.ITEM_ID].astype(str)})
    table = table[table[C.USER_ID].isin(ids) & table[C.ITEM_ID].isin(list(arms))]
    wide = table.pivot_table(index=C.USER_ID, columns=C.ITEM_ID, values=C.SCORE, aggfunc="first").reindex(
        index=ids, columns=list(arms))
    missing = wide.isna().any(axis=1)
    if missing.any():
        raise TargetingError(f"{int(missing.sum()):,} customer(s) of the audience have no score for every arm "
                             f"(e.g. {wide.index[missing][0]}). Fix: choose offers every customer can be scored for.")
    drawn = assign_arms(ids, wide.mean(axis=1).to_numpy(), arms, shares=shares, control_share=control_share, seed=seed)
    column = pd.Index(list(arms)).get_indexer(drawn[ARM_OFFER])
    frame = pd.DataFrame({
        C.USER_ID: drawn[C.USER_ID].to_numpy(object), C.ITEM_ID: drawn[ARM_OFFER].to_numpy(object),
        C.SCORE: wide.to_numpy(np.float64)[np.arange(len(ids)), column], C.RANK: np.ones(len(ids), dtype=np.int64),
        C.GROUP: np.where(drawn[CONTROL_FLAG], C.CONTROL, C.TREATMENT).astype(object),
    })
    frame[C.ARM] = frame[C.ITEM_ID].where(frame[C.GROUP] == C.TREATMENT, C.CONTROL)
    codes, _ = pd.factorize(frame[C.ITEM_ID], sort=True)
    frame[C.SCORE_DECILE] = ranks.score_bins(codes, frame[C.SCORE].to_numpy(np.float64), ARM_BINS) if len(frame) else 0
    order = np.lexsort((-frame[C.SCORE].to_numpy(), pd.Index(list(arms)).get_indexer(frame[C.ITEM_ID])))
    return frame.iloc[order].reset_index(drop=True)


def arm_sizes(frame: pd.DataFrame, arms: Sequence[str], shares: Sequence[float], control_share: float) -> list[dict[str, Any]]:
    """Per arm: offer, planned share of the treated, treated and control customers (for the manifest and page)."""
    weights = check_arms(arms, shares, control_share)
    counts = pd.crosstab(frame[C.ITEM_ID].astype(str), frame[C.GROUP]).reindex(index=list(arms), fill_value=0)
    return [{C.ITEM_ID: str(offer), "share_of_treated": round(w, 6),
             C.TREATMENT: int(counts.at[offer, C.TREATMENT]) if C.TREATMENT in counts.columns else 0,
             C.CONTROL: int(counts.at[offer, C.CONTROL]) if C.CONTROL in counts.columns else 0}
            for offer, w in zip(arms, weights)]


def check_request(request: Any) -> None:
    """Refuse an A/B campaign request that cannot be drawn (a ``workspace.campaign.CampaignRequest``)."""
    if not request.ab_test:
        raise TargetingError("Arm shares are only used by an A/B test. Fix: turn the A/B test on (CLI: --ab).")
    check_arms(request.spec.offers, request.arm_shares, request.spec.holdout_share)
    if request.objective != "response":
        raise TargetingError("An A/B test draws its arms at random: it cannot also maximise uplift or profit. "
                             "Fix: use the response objective (CLI: --objective response).")
    if request.spec.max_per_customer != 1:
        raise TargetingError("In an A/B test every customer gets exactly one arm. Fix: one coupon per customer (CLI: --cap 1).")


def command_args(request: Any) -> list[str]:
    """The ``promolens export`` arguments of an A/B request (none for a plain list)."""
    if not request.ab_test:
        return []
    shares = [f"{s:g}" for s in request.arm_shares]
    return ["--ab", *(["--arm-shares", *shares] if shares else [])]


def ab_audience(audience: Any, scores: pd.DataFrame, shares: Sequence[float] = ()) -> Any:
    """The audience (built with one coupon per customer, no holdout) with its customers drawn into arms.

    The arms are ``audience.spec.offers``, the control share ``audience.spec.holdout_share``, the seed
    ``audience.spec.seed``.
    """
    spec = audience.spec
    frame = ab_frame(audience.frame[C.USER_ID], scores, spec.offers, shares=shares,
                     control_share=spec.holdout_share, seed=spec.seed)
    return replace(audience, frame=frame)


def manifest_entry(audience: Any, shares: Sequence[float] = ()) -> dict[str, Any]:
    """What the manifest records of an A/B test: the arms, their sizes, the control share, the seed, how to read it."""
    spec = audience.spec
    return {
        "arms": arm_sizes(audience.frame, spec.offers, shares, spec.holdout_share),
        "control_share": spec.holdout_share, "seed": spec.seed, "arm_column": C.ARM,
        "design": "each customer is drawn into exactly one arm (stratified by score decile, seeded), and "
                  "control_share of every arm is held out as the control group (arm = control, no coupon)",
    }


__all__ = ["ARM_OFFER", "CONTROL_FLAG", "ab_audience", "ab_frame", "check_request", "command_args", "manifest_entry", "arm_sizes", "assign_arms", "check_arms", "systematic"]
