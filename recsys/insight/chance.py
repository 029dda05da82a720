"""The explanation of one offer's score in chance points: what each fact adds to the chance of a response.

:mod:`recsys.insight.attribution` splits LightFM's raw score exactly (Shapley values, additive in score
units). A marketer reads the response probability of :mod:`recsys.learn.response` instead: with the
customer's history, facts and other offers' scores held, it is a curved, rising function of this offer's
score (a softmax over the live offers, then a logistic), not a straight line. So the score's bars cannot
simply be rescaled by one exchange rate read off the curve at one point; this module converts them honestly:

* :func:`offer_chances` asks the response model for the chance at the two ends of the waterfall: this offer's
  score moved to the base of its explanation (e.g. the customer's average offer), and its own score;
* :func:`in_chance_points` gives every contributor the share of the change in chance that its share of the
  change in score is. That is the Aumann-Shapley (integrated gradients) attribution of the chance along the
  path on which every fact moves in step from the base to the score: it adds up exactly to the change in
  chance, and because the chance rises with the score it keeps every bar's sign and the bars' order. It is
  not the Shapley value of the chance over the score's coalition game, which would need the chance of every
  coalition of facts (exponential in the facts); the raw-score Shapley values are kept next to it.

The chance is a function of this score only when the response model scores with this model (the hybrid,
not a served baseline), knows the customer (one the model trained with) and the explanation starts at the
customer's own average offer (the customer-only part of a score moves all of their offers alike and cancels
in the chance). Otherwise (:func:`why_not_chance`) no chance of the score exists to split, and
:func:`in_gap_shares` gives every contributor its share of the gap between the score and its base instead:
a fact with +60% made 60% of how far this offer stands above the average offer. Shares add up exactly to
100% (-100% when the offer is below its base) and keep the sign and order of the raw-score Shapley values;
they are unit-free, so the raw score itself never has to be read. :func:`explain_offer` picks the unit and
gives the bars with their two ends; :func:`explained_report` and :func:`explanation_lines` put the same
numbers into ``promolens recommend --explain``.

Pure numpy / pandas: the page and the CLI call it alike.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recsys.core import columns as C
from recsys.core.i18n import N_
from recsys.core.i18n import gettext as _
from recsys.insight.attribution import ATTRIBUTION, COLUMN, CONTRIBUTOR, OFFER_VIEW, SIDE, ScoreExplainer

if TYPE_CHECKING:  # pragma: no cover
    from recsys.insight.drivers import OfferDrivers
    from recsys.insight.recommend import ExplainedRecommendations

#: The score units attribution of each contributor, kept next to the chance points (``attribution``).
RAW_ATTRIBUTION = "raw_attribution"
#: The two units an offer's explanation is shown in: percentage points of its chance, or shares of its score gap.
CHANCE_POINTS, GAP_SHARES = "chance_points", "gap_shares"
#: Why an explanation is in shares of the gap, not chance points (:func:`why_not_chance`).
NO_CHANCE, OTHER_SCORES, NEW_CUSTOMER, CUSTOMER_PART = "no_chance", "other_scores", "new_customer", "customer_part"
#: Customers per response-model call when one offer's explanations for many customers go to chance points.
DRIVERS_BLOCK = 2_000
#: The words of a unit in ``promolens recommend --explain`` (and their short form after a number).
UNIT_WORDS = {CHANCE_POINTS: N_("percentage points of the chance of redeeming"),
              GAP_SHARES: N_("share of the gap between this offer's score and its base")}


def in_chance_points(parts: pd.DataFrame, base_score: float, score: float, base_chance: float,
                     chance: float) -> pd.DataFrame:
    """``parts`` (a waterfall's contributors, ``attribution`` in score units, summing to ``score -
    base_score``) with ``attribution`` in chance units (summing to ``chance - base_chance``) and the
    score units kept as :data:`RAW_ATTRIBUTION`.

    Each contributor gets ``(chance - base_chance) * attribution / (score - base_score)``; the float
    rounding left over goes to the largest bar, so the bars add up to ``chance - base_chance``. When
    the score equals its base, the chance does too and every bar is 0.

    >>> parts = pd.DataFrame({"contributor": ["a", "b"], "attribution": [3.0, -1.0]})
    >>> in_chance_points(parts, 0.0, 2.0, 0.10, 0.30)["attribution"].round(12).tolist()
    [0.3, -0.1]
    """
    raw = parts[ATTRIBUTION].to_numpy(np.float64)
    change, total = float(chance) - float(base_chance), float(score) - float(base_score)
    bars = raw * (change / total) if total != 0.0 and len(raw) else np.zeros(len(raw))
    if len(bars):
        biggest = int(np.argmax(np.abs(raw)))
        bars[biggest] += change - float(np.sum(bars))  # float rounding, ~1e-17: the bars end at the chance
    return parts.assign(**{ATTRIBUTION: bars, RAW_ATTRIBUTION: raw})


def in_gap_shares(parts: pd.DataFrame, base_score: float, score: float) -> pd.DataFrame:
    """``parts`` (``attribution`` in score units, summing to ``score - base_score``) with ``attribution``
    as each contributor's share of the size of that gap (summing to 1, or -1 when the score is below
    its base) and the score units kept as :data:`RAW_ATTRIBUTION`.

    Each contributor gets ``attribution / |score - base_score|``, so a lift stays positive; the float
    rounding left over goes to the largest bar. When the score equals its base there is no gap to
    share and every bar is 0.

    >>> parts = pd.DataFrame({"contributor": ["a", "b"], "attribution": [3.0, -1.0]})
    >>> in_gap_shares(parts, -19.0, -17.0)["attribution"].tolist()
    [1.5, -0.5]
    >>> in_gap_shares(parts.assign(attribution=[-3.0, 1.0]), -17.0, -19.0)["attribution"].tolist()
    [-1.5, 0.5]
    """
    raw = parts[ATTRIBUTION].to_numpy(np.float64)
    gap = float(score) - float(base_score)
    bars = raw / abs(gap) if gap != 0.0 and len(raw) else np.zeros(len(raw))
    if gap != 0.0 and len(bars):
        bars[int(np.argmax(np.abs(raw)))] += np.sign(gap) - float(np.sum(bars))  # float rounding: exactly +-100%
    return parts.assign(**{ATTRIBUTION: bars, RAW_ATTRIBUTION: raw})


def why_not_chance(response_model: Any, explainer: ScoreExplainer, user_id: Any, view: str) -> str | None:
    """None when ``user_id``'s explanations in ``view`` can be given in chance points, else why not:
    :data:`NO_CHANCE` (no response model), :data:`OTHER_SCORES` (its chance comes from another model's
    scores, e.g. a served baseline's), :data:`NEW_CUSTOMER` (a customer the model did not train with:
    their chance rests on facts and history, not this score) or :data:`CUSTOMER_PART` (a view whose base is
    the average customer: the customer-only part of a score does not move their chance)."""
    from recsys.learn.response import scorer_name

    if response_model is None:
        return NO_CHANCE
    if response_model.scores_from_ != scorer_name(explainer.model):
        return OTHER_SCORES
    if explainer.model.user_index_.positions([str(user_id)])[0] < 0:
        return NEW_CUSTOMER
    return None if view == OFFER_VIEW else CUSTOMER_PART


@dataclass(frozen=True)
class OfferExplanation:
    """One listed offer's explanation in the unit a marketer reads.

    ``parts`` are the contributors (largest first, "other" last) with ``attribution`` in ``unit`` as a
    fraction (0.012 = 1.2 percentage points, or 1.2% of the gap) and the raw score's kept as
    :data:`RAW_ATTRIBUTION`; the bars go from ``start`` to ``end`` exactly: the chance at the base and
    this offer's chance, or 0 and +-1 (the whole gap). ``base_score`` and ``score`` are the raw ends,
    for "Advanced"; ``why_not`` says why the unit is not chance points (None when it is).
    """

    parts: pd.DataFrame
    unit: str
    start: float
    end: float
    base_score: float
    score: float
    why_not: str | None


def explain_offer(listed: "ExplainedRecommendations", item_id: Any, explainer: ScoreExplainer,
                  response_model: Any = None, context: Any = None, scores: np.ndarray | None = None,
                  top: int = 8) -> OfferExplanation:
    """The explanation of ``item_id`` in ``listed`` in chance points when the chance is a function of
    its score (:func:`why_not_chance`), else in shares of the score's gap to its base.

    ``scores`` is the customer's float64 score of every offer (computed here when needed and not
    given: pass it for many offers of one customer); ``top`` contributors are named, the rest summed.
    """
    row = listed.row(item_id)
    score = float(np.asarray(listed.explanation.base_values)[row] + np.asarray(listed.explanation.values)[row].sum())
    base = listed.base_value(item_id)
    parts = listed.contributions(item_id, top=top)
    why_not = why_not_chance(response_model, explainer, listed.user_id, listed.view)
    if why_not is None:
        if scores is None:
            scores = explainer.score_all_items(explainer.user_rows([listed.user_id]).toarray().ravel())
        p0, p1 = (float(p) for p in offer_chances(response_model, context, explainer, listed.user_id, item_id,
                                                  scores, [base, score]))
        return OfferExplanation(in_chance_points(parts, base, score, p0, p1), CHANCE_POINTS, p0, p1, base, score, None)
    end = float(np.sign(score - base))
    return OfferExplanation(in_gap_shares(parts, base, score), GAP_SHARES, 0.0, end, base, score, why_not)


def explained_report(report: dict[str, Any], listed: "ExplainedRecommendations", explainer: ScoreExplainer,
                     response_model: Any = None, context: Any = None) -> dict[str, Any]:
    """``report`` (:func:`recsys.insight.recommend.recommendations_report` of ``listed`` with its
    attributions) with every offer's ``explanation`` in the page's unit: ``unit``, ``start``, ``end``,
    ``why_not`` and one ``{"name", "column", "side", "value", "raw"}`` per contributor (``value`` a
    fraction in ``unit``, ``raw`` the Shapley value in score units; every contributor named)."""
    scores = None
    if why_not_chance(response_model, explainer, listed.user_id, listed.view) is None:
        scores = explainer.score_all_items(explainer.user_rows([listed.user_id]).toarray().ravel())
    rows = []
    for row in report["recommendations"]:  # a short list
        shown = explain_offer(listed, row["item_id"], explainer, response_model, context, scores,
                              top=len(listed.explanation.feature_names))
        parts = shown.parts
        rows.append({**row, "explanation": {
            "unit": shown.unit, "start": shown.start, "end": shown.end, "why_not": shown.why_not,
            "parts": [{"name": str(c), "column": str(col), "side": str(s), "value": float(v), "raw": float(r)}
                      for c, col, s, v, r in zip(parts[CONTRIBUTOR], parts["column"], parts[SIDE], parts[ATTRIBUTION],
                                                 parts[RAW_ATTRIBUTION])]}})
    return {**report, "recommendations": rows}


def explanation_lines(row: dict[str, Any], indent: str = "       ") -> list[str]:
    """The lines of one offer's ``explanation`` (:func:`explained_report`) as ``promolens recommend
    --explain`` prints them: where the bars start and end, then one bar a line, in the current language.

    >>> row = {"explanation": {"unit": GAP_SHARES, "start": 0.0, "end": 1.0, "why_not": OTHER_SCORES,
    ...        "parts": [{"name": "segment", "side": "customer", "value": 1.25, "raw": 2.5},
    ...                  {"name": "category", "side": "offer", "value": -0.25, "raw": -0.5}]}}
    >>> print("\\n".join(explanation_lines(row, indent="")))
    share of the gap between this offer's score and its base (100% = the whole gap):
    +125.0%  segment (customer)
     -25.0%  category (offer)
    """
    shown = row["explanation"]
    if shown["unit"] == CHANCE_POINTS:
        head = _("{unit}, from {start} to {end}:").format(unit=_(UNIT_WORDS[CHANCE_POINTS]),
                                                          start=f"{100 * shown['start']:.1f}%",
                                                          end=f"{100 * shown['end']:.1f}%")
        bars = [f"{100 * p['value']:+.2f} {_('pt')}" for p in shown["parts"]]
    else:
        whole = _("100% = the whole gap") if shown["end"] >= 0 else _("-100% = the whole gap, below its base")
        head = f"{_(UNIT_WORDS[GAP_SHARES])} ({whole}):"
        bars = [f"{100 * p['value']:+.1f}%" for p in shown["parts"]]
    width = max((len(b) for b in bars), default=0)
    return [indent + head] + [f"{indent}{b:>{width}}  {p['name']}" + (f" ({_(p['side'])})" if p["side"] else "")
                              for b, p in zip(bars, shown["parts"])]


def list_in_unit(listed: "ExplainedRecommendations", explainer: ScoreExplainer, response_model: Any = None,
                 context: Any = None, scores: np.ndarray | None = None) -> tuple[pd.DataFrame, str]:
    """Every listed offer's attributions (rows: the facts, columns: the offers in rank order) in the unit
    of its own explanation (:func:`explain_offer`), and that unit.

    In chance points, each offer's column is scaled by its own ``(chance - chance at base) / (score -
    base)``: the two ends of every offer come from one call of the response model (two rows per offer);
    else each column is divided by the size of that offer's gap to its base. A column whose score equals
    its base is all 0. ``scores`` as for :func:`explain_offer`.
    """
    raw = np.asarray(listed.explanation.values, dtype=np.float64)  # (offers, facts)
    base = np.asarray(listed.explanation.base_values, dtype=np.float64).reshape(-1)
    score = base + raw.sum(axis=1)
    gap = score - base
    items = listed.recommendations[C.ITEM_ID].astype(str).to_numpy()
    unit = CHANCE_POINTS if why_not_chance(response_model, explainer, listed.user_id, listed.view) is None else GAP_SHARES
    if unit == CHANCE_POINTS and len(items):
        if scores is None:
            scores = explainer.score_all_items(explainer.user_rows([listed.user_id]).toarray().ravel())
        columns = explainer.model.item_index_.positions(items)
        if (columns < 0).any():
            raise ValueError(f"offers the model cannot score: {items[columns < 0].tolist()}")
        rows = np.repeat(np.asarray(scores, dtype=np.float64)[None, :], 2 * len(items), axis=0)
        at = np.arange(len(items))
        rows[2 * at, columns], rows[2 * at + 1, columns] = base, score  # each offer at its base, at its score
        chances = response_model.probability_of_scores(context, listed.user_id, items, rows)
        change = chances[2 * at + 1, at] - chances[2 * at, at]
        factor = np.divide(change, gap, out=np.zeros_like(gap), where=gap != 0.0)
    else:
        factor = np.divide(1.0, np.abs(gap), out=np.zeros_like(gap), where=gap != 0.0)
    frame = pd.DataFrame((raw * factor[:, None]).T, index=pd.Index(listed.explanation.feature_names, name=COLUMN),
                         columns=items)
    return frame, unit


def drivers_in_unit(drivers: "OfferDrivers", explainer: ScoreExplainer, response_model: Any = None,
                    context: Any = None) -> tuple["OfferDrivers", str]:
    """``drivers`` (:func:`recsys.insight.drivers.offer_drivers`: one offer explained for many customers)
    with every customer's attributions in the unit of their own explanation of this offer, and that unit.

    In chance points (:func:`why_not_chance` allows it: the hybrid's response model, the offer view,
    customers the model trained with) each customer's row is scaled by their own ``(chance - chance at
    base) / (score - base)``, as :func:`list_in_unit` does for one customer's offers; both ends of every
    customer come from one response-model call per block of :data:`DRIVERS_BLOCK` customers (two rows
    each), with their other offers' scores held. Else each row is divided by the size of that customer's
    gap (shares, +-100% a customer). A customer whose score equals its base is all 0. Means and spreads
    taken afterwards (:meth:`~recsys.insight.drivers.OfferDrivers.summary`) are then in that unit.
    """
    base = np.asarray(drivers.base_values, dtype=np.float64)
    gap = np.asarray(drivers.values, dtype=np.float64).sum(axis=1)
    ids = drivers.user_ids
    column = int(explainer.model.item_index_.positions([drivers.item_id])[0])
    unit = GAP_SHARES
    if ids is not None and len(ids) and column >= 0 and \
            why_not_chance(response_model, explainer, ids[0], drivers.view) is None:
        unit = CHANCE_POINTS  # offer_drivers explains only customers the model knows, when given ids
    if unit == GAP_SHARES:
        factor = np.divide(1.0, np.abs(gap), out=np.zeros_like(gap), where=gap != 0.0)
        return replace(drivers, values=drivers.values * factor[:, None]), unit
    model = explainer.model
    rows = model.user_index_.positions(np.asarray(ids, dtype=object).astype(str))
    change = np.empty_like(gap)
    for start in range(0, len(ids), DRIVERS_BLOCK):  # blocks of customers: memory (2 x block x offers floats)
        block = slice(start, start + DRIVERS_BLOCK)
        ends = np.repeat(explainer.score_rows(model.user_features_[rows[block]]), 2, axis=0)
        ends[0::2, column], ends[1::2, column] = base[block], base[block] + gap[block]  # at the base, at the score
        chances = response_model.probability_of_score_rows(context, np.repeat(np.asarray(ids[block], dtype=object), 2),
                                                           drivers.item_id, ends)
        change[block] = chances[1::2] - chances[0::2]
    factor = np.divide(change, gap, out=np.zeros_like(gap), where=gap != 0.0)
    return replace(drivers, values=drivers.values * factor[:, None]), unit


def offer_chances(response_model: Any, context: Any, explainer: ScoreExplainer, user_id: Any, item_id: Any,
                  scores: np.ndarray, at: Any, facts: dict[str, str] | None = None) -> np.ndarray:
    """The chance of ``item_id`` for ``user_id`` with this offer's score at each value of ``at``.

    ``scores`` is the customer's float64 score of every offer of the model
    (:meth:`ScoreExplainer.score_all_items`, e.g. of a what-if row); every other offer keeps its
    score, and ``facts`` moves the response model's own use of a customer fact
    (:meth:`recsys.learn.response.ResponseModel.probability_of_scores`). Raises ``ValueError``
    (a :class:`~recsys.learn.response.ResponseModelError`) unless the response model scores with the
    hybrid.
    """
    at = np.atleast_1d(np.asarray(at, dtype=np.float64))
    column = int(explainer.model.item_index_.positions([str(item_id)])[0])
    if column < 0:
        raise ValueError(f"offer {item_id!r} is not one the model can score")
    rows = np.repeat(np.asarray(scores, dtype=np.float64)[None, :], len(at), axis=0)  # a few rows, one per end
    rows[:, column] = at
    return response_model.probability_of_scores(context, user_id, [item_id], rows, facts=facts)[:, 0]


__all__ = ["RAW_ATTRIBUTION", "CHANCE_POINTS", "GAP_SHARES", "NO_CHANCE", "OTHER_SCORES", "NEW_CUSTOMER",
           "CUSTOMER_PART", "UNIT_WORDS", "OfferExplanation", "in_chance_points", "in_gap_shares", "why_not_chance",
           "explain_offer", "explained_report", "explanation_lines", "list_in_unit", "drivers_in_unit", "offer_chances",
           "DRIVERS_BLOCK"]
