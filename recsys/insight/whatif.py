"""What-if: a customer's explained list before and after changing one of their facts.

The customer keeps every other feature, their own history included; only the features of the
changed column move, and both lists are ranked by the float64 score of
:class:`recsys.insight.attribution.ScoreExplainer` over the same candidates, so every difference
comes from the changed fact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.core import columns as C
from recsys.core.i18n import N_
from recsys.core.i18n import gettext as _
from recsys.insight.attribution import LIST_VIEW, UNKNOWN, Explanation, ScoreExplainer, View, reasons
from recsys.insight.recommend import REASON, ExplainedRecommendations, candidate_ids

RANK_BEFORE, RANK_AFTER = "rank_before", "rank_after"
SCORE_BEFORE, SCORE_AFTER = "score_before", "score_after"
CHANGE = "change"


@dataclass(frozen=True, eq=False)
class WhatIf:
    """A customer's list before and after changing one of their facts.

    ``changes`` has one row per offer in either list: ``item_id``, ``rank_before``,
    ``rank_after`` (NaN: not in that list), ``score_before``, ``score_after``, ``change``.
    """

    column: str
    old_value: str
    new_value: str
    before: ExplainedRecommendations
    after: ExplainedRecommendations
    changes: pd.DataFrame
    row_before: np.ndarray  # the customer's feature row, dense
    row_after: np.ndarray

    def explain(self, explainer: ScoreExplainer, item_id: Any) -> tuple[Explanation, Explanation]:
        """One offer's explanation before and after the change (whether or not it is listed)."""
        item = explainer.item_rows([item_id])
        rows = sp.csr_matrix(np.vstack([self.row_before, self.row_after]))
        ex = explainer.explain_rows(rows, sp.vstack([item, item]).tocsr(), view=self.before.view)  # type: ignore[arg-type]
        return ex[0:1], ex[1:2]


def changeable_columns(explainer: ScoreExplainer) -> list[str]:
    """Customer columns a what-if can change: single-valued ones (not tags, text or identity)."""
    g = explainer.user_groups
    return [str(s) for s, multi, ident in zip(g.sources, g.multi, g.identity) if not multi and not ident]


def column_choices(explainer: ScoreExplainer, column: str) -> list[str]:
    """The values (feature labels) a customer column can take in this model."""
    g = explainer.user_groups
    hit = np.flatnonzero(g.sources.astype(str) == column)
    if not len(hit):
        raise ValueError(f"{column!r} is not a customer column of this model; choose from {changeable_columns(explainer)}")
    return [str(v) for v in g.feature_labels[g.code == hit[0]]]


def what_if(
    explainer: ScoreExplainer,
    user_id: Any,
    column: str,
    value: str | None,
    k: int = 10,
    *,
    candidates: Iterable[Any] | None = None,
    exclude: Iterable[Any] | None = None,
    exclude_seen: bool = True,
    view: View = LIST_VIEW,
) -> WhatIf:
    """The customer's top-``k`` and its explanation if ``column`` had ``value`` (None: unknown).

    The customer keeps every other feature, their identity (own history) included; only the
    features of ``column`` change. Both lists are ranked by the float64 score over the same
    candidates, so every difference comes from the changed fact.
    """
    if column not in changeable_columns(explainer):
        raise ValueError(f"{column!r} cannot be changed in a what-if; choose from {changeable_columns(explainer)}")
    g = explainer.user_groups
    gcode = int(np.flatnonzero(g.sources.astype(str) == column)[0])
    members = np.flatnonzero(g.code == gcode)
    labels = g.feature_labels[members].astype(str)
    if value is not None and value not in set(labels):
        raise ValueError(f"{value!r} is not a value of {column!r}; choose from {labels.tolist()}")
    before_row = explainer.user_rows([user_id]).toarray().ravel()
    after_row = before_row.copy()
    after_row[members] = 0.0
    if value is not None:
        after_row[members[labels == value]] = 1.0
    old = before_row[members]
    old_value = ", ".join(labels[old > 0]) or UNKNOWN
    model = explainer.model
    cand = candidate_ids(model, candidates, exclude)
    if cand is None:
        pos = np.flatnonzero(np.diff(model.item_features_.indptr) > 0)
    else:
        pos = model.item_index_.positions(cand)
        pos = pos[pos >= 0]
    if exclude_seen:
        upos = model.user_index_.positions([str(user_id)])[0]
        if 0 <= upos < model.seen_.shape[0]:
            pos = np.setdiff1d(pos, model.seen_[upos].indices)
    lists = [_explained_top_k(explainer, str(user_id), row, pos, k, view) for row in (before_row, after_row)]
    b, a = (e.recommendations[[C.ITEM_ID, C.RANK, C.SCORE]] for e in lists)
    changes = b.merge(a, on=C.ITEM_ID, how="outer", suffixes=("_before", "_after")).rename(columns={
        f"{C.RANK}_before": RANK_BEFORE, f"{C.RANK}_after": RANK_AFTER,
        f"{C.SCORE}_before": SCORE_BEFORE, f"{C.SCORE}_after": SCORE_AFTER,
    })
    # scores of every listed offer on both sides, also where it left the other list
    all_pos = model.item_index_.positions(changes[C.ITEM_ID])
    changes[SCORE_BEFORE] = explainer.score_all_items(before_row)[all_pos]
    changes[SCORE_AFTER] = explainer.score_all_items(after_row)[all_pos]
    moved = changes[RANK_BEFORE] - changes[RANK_AFTER]
    steps = moved.abs().fillna(0).astype(int).astype(str)
    up, down = (_(word).split("{n}") for word in (N_("up {n}"), N_("down {n}")))  # in the current language
    changes[CHANGE] = np.select(
        [changes[RANK_BEFORE].isna(), changes[RANK_AFTER].isna(), moved > 0, moved < 0],
        [_("new in the list"), _("drops out"), up[0] + steps + up[-1], down[0] + steps + down[-1]], _("same place"),
    )
    changes = changes.sort_values([RANK_AFTER, RANK_BEFORE], na_position="last", kind="stable").reset_index(drop=True)
    return WhatIf(column, old_value, UNKNOWN if value is None else value, lists[0], lists[1], changes, before_row, after_row)


def _explained_top_k(
    explainer: ScoreExplainer, user_id: str, row: np.ndarray, pos: np.ndarray, k: int, view: View
) -> ExplainedRecommendations:
    scores = explainer.score_all_items(row)[pos]
    top = pos[np.argsort(-scores, kind="stable")[:k]]
    model = explainer.model
    user_rows = sp.csr_matrix(row[None, :])[np.zeros(len(top), dtype=np.int64)]  # the row k times, sparse
    ex = explainer.explain_rows(user_rows, model.item_features_[top], view=view,
                                instance_names=[f"{user_id} × {i}" for i in model.item_index_.ids[top]])
    reco = pd.DataFrame({
        C.USER_ID: pd.array(np.full(len(top), user_id, dtype=object), dtype="str"),
        C.ITEM_ID: pd.array(model.item_index_.ids[top], dtype="str"),
        C.SCORE: ex.base_values + np.asarray(ex.values).sum(axis=1),
        C.RANK: np.arange(1, len(top) + 1, dtype=np.int64),
        REASON: reasons(ex),
    })
    return ExplainedRecommendations(user_id, reco, ex, view, explainer.baseline.compared_with(view), dict(explainer.sides))


__all__ = ["WhatIf", "what_if", "changeable_columns", "column_choices", "RANK_BEFORE", "RANK_AFTER", "SCORE_BEFORE",
           "SCORE_AFTER", "CHANGE"]
