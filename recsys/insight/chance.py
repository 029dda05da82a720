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

Pure numpy / pandas: the page and any report call it alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from recsys.insight.attribution import ATTRIBUTION, ScoreExplainer

#: The score units attribution of each contributor, kept next to the chance points (``attribution``).
RAW_ATTRIBUTION = "raw_attribution"


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


__all__ = ["RAW_ATTRIBUTION", "in_chance_points", "offer_chances"]
