"""The one evaluation protocol: which rows train, which pairs count as hits, which offers compete.

Every accuracy figure of PromoLens (the run's metrics, the fairness audit, freshness on new
events) is measured the same way:

* split: the interactions go into train and test (:mod:`recsys.learn.split`, temporal by
  default); with early stopping a validation part is carved out of train the same way;
* reference time: "now" for time decay is the latest *train* timestamp (the test part is the future);
* relevant test pairs: (user, item) pairs of the test part whose summed event weight is > 0
  (:func:`~recsys.learn.interactions.relevant_pairs`), minus pairs the user already had a positive
  interaction with in train (:func:`drop_seen`: lists exclude seen items, so those could never be hit);
* candidates: every item the model can score; for the ``cold_items`` split only the held-out
  offers (the question is "which new offer fits this customer?"); for the temporal split, when the
  offers table has start / end dates, only the offers live at some moment of the test period
  (an expired offer cannot be sent; offers without dates count as always live). The validation
  slice gets the offers live in it the same way (``validation_candidates``).

:func:`evaluation_split` applies the protocol to a dataset's interactions; :func:`rebuild_split`
rebuilds it exactly from the test-row flags a run stores (see
:func:`recsys.workspace.runs.load_evaluation`), without refitting anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from recsys.core import columns as C
from recsys.core.codes import subset_rows
from recsys.learn.config import InteractionConfig
from recsys.learn.interactions import interaction_weights, latest_timestamp, relevant_pairs
from recsys.learn.response import OFFER_END, OFFER_START, live_mask
from recsys.learn.split import Split, SplitConfig, split_interactions, validation_split

COLD_ITEMS = "cold_items"
TEMPORAL = "temporal"
#: ``EvaluationSplit.candidate_kind`` values.
ALL_ITEMS, HELD_OUT_ITEMS, LIVE_ITEMS = "all items", "held-out items", "offers live in the test period"


@dataclass
class EvaluationSplit:
    """The parts of the protocol for one dataset.

    Attributes
    ----------
    train, test
        The two parts of the split (original columns and index).
    fit_part, validation
        ``train`` minus the validation part, and the validation part (``train`` and ``None``
        without early stopping).
    reference_time
        The latest training timestamp ("now" for time decay), or ``None``.
    test_pairs
        The relevant test pairs (``user_id``, ``item_id``), before :func:`drop_seen`.
    candidates
        The items every model ranks (``None``: all the items a model can score).
    is_test
        One flag per interaction row: the test rows (what a run stores to rebuild the split).
    summary
        JSON-friendly sizes of the parts (see :func:`recsys.learn.split.split_interactions`).
    validation_candidates
        The items ranked on the validation slice (``None``: all).
    candidate_kind
        :data:`ALL_ITEMS`, :data:`HELD_OUT_ITEMS` or :data:`LIVE_ITEMS`.
    """

    train: pd.DataFrame
    test: pd.DataFrame
    fit_part: pd.DataFrame
    validation: pd.DataFrame | None
    reference_time: pd.Timestamp | None
    test_pairs: pd.DataFrame
    candidates: np.ndarray | None
    is_test: np.ndarray
    summary: dict[str, Any]
    validation_candidates: np.ndarray | None = None
    candidate_kind: str = ALL_ITEMS


def evaluation_split(
    interactions: pd.DataFrame,
    split_config: SplitConfig,
    interaction_config: InteractionConfig,
    early_stopping: bool = False,
    items: pd.DataFrame | None = None,
) -> EvaluationSplit:
    """Split ``interactions`` for an honest evaluation (see the module docstring).

    ``items`` (the offers table) restricts the candidates of a temporal split to the offers live in
    the test period when it has start / end dates.
    """
    positive = interaction_weights(interactions, interaction_config).to_numpy() > 0
    split = split_interactions(interactions, split_config, positive)
    return _protocol(split, split_config, interaction_config, early_stopping, items)


def rebuild_split(
    interactions: pd.DataFrame,
    is_test: np.ndarray,
    split_config: SplitConfig,
    interaction_config: InteractionConfig,
    items: pd.DataFrame | None = None,
) -> EvaluationSplit:
    """The evaluation split whose test rows are ``is_test`` (stored by a run), without validation part."""
    is_test = np.asarray(is_test, dtype=bool)
    if len(is_test) != len(interactions):
        raise ValueError(
            f"the stored split flags {len(is_test):,} rows but the interactions have {len(interactions):,}: "
            "they are not the data the run was trained on"
        )
    train, test = subset_rows(interactions, ~is_test), subset_rows(interactions, is_test)
    split = Split(train, test, {"train_rows": int(len(train)), "test_rows": int(len(test))}, is_test)
    return _protocol(split, split_config, interaction_config, early_stopping=False, items=items)


def _protocol(split: Split, split_config: SplitConfig, icfg: InteractionConfig, early_stopping: bool,
              items: pd.DataFrame | None = None) -> EvaluationSplit:
    train, test = split.train, split.test
    reference_time = latest_timestamp(train)
    fit_part, valid = train, None
    if early_stopping:
        inner = validation_split(train, split_config, interaction_weights(train, icfg).to_numpy() > 0)
        fit_part, valid = inner.train, inner.test
    candidates, val_candidates, kind = None, None, ALL_ITEMS
    if split_config.kind == COLD_ITEMS:
        candidates, kind = held_out_items(test), HELD_OUT_ITEMS
        val_candidates = None if valid is None else held_out_items(valid)
    elif split_config.kind == TEMPORAL and has_offer_dates(items):
        candidates, kind = live_items(train, items, test), LIVE_ITEMS
        val_candidates = None if valid is None else live_items(fit_part, items, valid)
    return EvaluationSplit(
        train=train, test=test, fit_part=fit_part, validation=valid, reference_time=reference_time,
        test_pairs=relevant_pairs(test, icfg, reference_time), candidates=candidates,
        is_test=split.is_test, summary=dict(split.summary), validation_candidates=val_candidates, candidate_kind=kind,
    )


def has_offer_dates(items: pd.DataFrame | None) -> bool:
    """Whether the offers table has start or end dates (with at least one value)."""
    if items is None or not len(items):
        return False
    cols = [c for c in (OFFER_START, OFFER_END) if c in items.columns]
    return any(pd.to_datetime(items[c], errors="coerce").notna().any() for c in cols)


def live_items(train: pd.DataFrame, items: pd.DataFrame | None, period: pd.DataFrame) -> np.ndarray:
    """The offers a model fitted on ``train`` (+ the offers table) knows that are live during ``period``.

    Offers without a row or without dates in ``items`` count as always live.
    """
    known = pd.unique(np.concatenate([
        train[C.ITEM_ID].astype(str).to_numpy(object),
        np.zeros(0, object) if items is None else items[C.ITEM_ID].astype(str).to_numpy(object),
    ]))
    ts = pd.to_datetime(period[C.TIMESTAMP]) if C.TIMESTAMP in period.columns else pd.Series(dtype="datetime64[ns]")
    if ts.isna().all():
        return known
    return known[live_mask(items, known, ts.min(), ts.max())]


def held_out_items(part: pd.DataFrame) -> np.ndarray:
    """The distinct item ids of a part, in order of appearance (the candidates of a cold-items split)."""
    return pd.unique(part[C.ITEM_ID].astype(str).to_numpy(object))


def drop_seen(test_pairs: pd.DataFrame, model: Any) -> pd.DataFrame:
    """Remove test pairs the user already had a positive interaction with in ``model``'s training data.

    ``model`` is any fitted recommender (it has ``user_index_``, ``item_index_`` and ``seen_``).
    """
    upos = model.user_index_.positions(test_pairs[C.USER_ID])
    ipos = model.item_index_.positions(test_pairs[C.ITEM_ID])
    both = (upos >= 0) & (ipos >= 0)
    seen = np.zeros(len(test_pairs), dtype=bool)
    if both.any():
        seen[both] = np.asarray(model.seen_[upos[both], ipos[both]]).ravel() > 0
    return test_pairs[~seen].reset_index(drop=True)


def drop_seen_pairs(test_pairs: pd.DataFrame, train_pairs: pd.DataFrame) -> pd.DataFrame:
    """:func:`drop_seen` without a model: remove the pairs of ``train_pairs`` (the train positives)."""
    key = [C.USER_ID, C.ITEM_ID]
    seen = pd.MultiIndex.from_frame(test_pairs[key].astype(str)).isin(pd.MultiIndex.from_frame(train_pairs[key].astype(str)))
    return test_pairs[~seen].reset_index(drop=True)


__all__ = [
    "ALL_ITEMS", "HELD_OUT_ITEMS", "LIVE_ITEMS", "TEMPORAL", "has_offer_dates", "live_items",
    "COLD_ITEMS", "EvaluationSplit", "drop_seen", "drop_seen_pairs", "evaluation_split", "held_out_items",
    "rebuild_split",
]
