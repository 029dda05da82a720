"""The reasons column of a targeting list: why this customer gets this offer, as short text.

Two sources, both exact and additive: the response model's log-odds parts (:func:`probability_reasons`,
what differs between customers of one offer's list) and LightFM's Shapley attributions per source
column (:func:`top_reasons`, for lists ranked by the raw score). :func:`reason_text` turns a block of
attributions into "label +0.82; label +0.41" column-wise, never looping over pairs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from recsys.campaign import export
from recsys.core import columns as C
from recsys.core.i18n import N_
from recsys.core.i18n import gettext as _
from recsys.core.progress import ProgressCallback
from recsys.core.words import reason_label
from recsys.learn.response import BASELINE, LOGIT, OFFER_PREFIX, PROBABILITY, TRACK_GROUP

#: Targeted pairs explained per block.
REASON_CHUNK_ROWS = 20_000
#: Views of an attribution (see :meth:`recsys.insight.attribution.ScoreExplainer.column_values`).
REASON_VIEWS: dict[str, str] = {
    "customer": N_("what about this customer fits this offer (compared with the average customer)"),
    "score": N_("the whole score (compared with the average customer and the average offer)"),
    "offer": N_("why this offer rather than the average offer for this customer"),
}
DEFAULT_REASON_VIEW = "customer"

REASONS_OF_PROBABILITY = ("why this customer's chance to respond is above or below the average exposed customer's: "
                          "each reason's number is how many percentage points the chance would drop without it "
                          "(from the exact additive parts of the probability's log-odds)")
#: The unit of the reasons of a probability, written after each number ("past responses +3.1 pt").
POINTS = "pt"
#: What the reasons' numbers mean, per kind of list (the manifest records it).
REASON_UNITS = {
    "probability": "percentage points of the chance to respond: the chance minus the chance without this part",
    "score": "points of the model's raw score (the Recommendations page's advanced scale; not a probability)",
    "uplift": "percentage points of the predicted uplift (exact TreeSHAP parts), then the control-group evidence",
}


def probability_points(parts: np.ndarray, logit: np.ndarray) -> np.ndarray:
    """Percentage points the chance would drop without each part: ``100 (s(logit) - s(logit - part))``.

    ``parts`` are (rows, parts) additive log-odds parts, ``logit`` the pairs' log-odds; ``s`` is the
    logistic function. A part that lowers the chance gives a negative number.

    >>> probability_points(np.array([[0.0, 1.0]]), np.array([0.0])).round(1).tolist()
    [[0.0, 23.1]]
    """
    from scipy.special import expit

    logit = np.asarray(logit, dtype=np.float64)[:, None]
    return 100.0 * (expit(logit) - expit(logit - np.asarray(parts, dtype=np.float64)))


def probability_reasons(response_model: Any, context: Any, user_ids: Iterable[Any], item_ids: Iterable[Any],
                        *, n: int = 2, chunk_rows: int = REASON_CHUNK_ROWS, offer_parts: bool = False) -> pd.Series:
    """The ``n`` strongest parts of each pair's probability that differ between customers, as text
    ("customer history: past responses +3.1 pt; customer: segment +1.2 pt"): why *this customer*
    rather than another gets the coupon. Parts are the exact additive parts of the log-odds; each is
    shown as the percentage points the chance would drop without it (:func:`probability_points`),
    the unit a marketer reads next to the chance. The offer's own facts and track record are the
    same for every customer of an offer's list, so they never make a reason; the LightFM customer
    offset has no part (it cancels in the fit term). With ``offer_parts`` (one customer's list of
    offers, the Recommendations page) the offer's facts and track record are reasons too."""
    users_arr = np.asarray(pd.Index(user_ids).astype(str), dtype=object)
    items_arr = np.asarray(pd.Index(item_ids).astype(str), dtype=object)
    out = np.empty(len(users_arr), dtype=object)
    skip = {C.USER_ID, C.ITEM_ID, BASELINE, LOGIT, PROBABILITY}
    for start in range(0, len(users_arr), chunk_rows):  # blocks of pairs, each vectorised
        stop = min(start + chunk_rows, len(users_arr))
        explained = response_model.explain_pairs(context, users_arr[start:stop], items_arr[start:stop])
        parts = explained[[c for c in explained.columns
                           if c not in skip and (offer_parts or (c != TRACK_GROUP and not c.startswith(OFFER_PREFIX)))]]
        labels = np.broadcast_to(np.asarray([reason_label(c) for c in parts.columns], dtype=object), parts.shape)
        points = probability_points(parts.to_numpy(np.float64), explained[LOGIT].to_numpy(np.float64))
        out[start:stop] = reason_text(points, labels, n, unit=_(POINTS))
    return pd.Series(out, dtype=object)


def top_reasons(
    model: Any,
    user_ids: Iterable[Any],
    item_ids: Iterable[Any],
    *,
    n: int = 2,
    view: str = DEFAULT_REASON_VIEW,
    users: pd.DataFrame | None = None,
    items: pd.DataFrame | None = None,
    chunk_rows: int = REASON_CHUNK_ROWS,
    progress: ProgressCallback | None = None,
) -> pd.Series:
    """The ``n`` strongest lifts of each pair's score, as text ("segment = deal_seeker +0.82; ...").

    Exact Shapley attributions per source column (:class:`recsys.insight.attribution.ScoreExplainer`),
    computed for blocks of ``chunk_rows`` pairs; the text is assembled column-wise (a loop over
    the ``n`` reasons, never over pairs). A pair with no positive contributor names its largest
    one. Customers / offers unknown to the model are explained from their rows in ``users`` /
    ``items``.
    """
    from recsys.insight.attribution import ScoreExplainer

    report = progress or (lambda message, share: None)
    users_arr = np.asarray(pd.Index(user_ids).astype(str), dtype=object)
    items_arr = np.asarray(pd.Index(item_ids).astype(str), dtype=object)
    if len(users_arr) != len(items_arr):
        raise ValueError(f"user_ids ({len(users_arr)}) and item_ids ({len(items_arr)}) must have the same length")
    if n < 1 or len(users_arr) == 0:
        return pd.Series("", index=range(len(users_arr)), dtype=object)
    explainer = ScoreExplainer(model)
    new_users = _unknown_rows(users, C.USER_ID, users_arr, model.user_index_)
    new_items = _unknown_rows(items, C.ITEM_ID, items_arr, model.item_index_)
    out = np.empty(len(users_arr), dtype=object)
    for start in range(0, len(users_arr), chunk_rows):  # blocks of pairs, each vectorised
        stop = min(start + chunk_rows, len(users_arr))
        report(_("Explaining pairs {first}-{last} of {total}").format(
            first=f"{start + 1:,}", last=f"{stop:,}", total=f"{len(users_arr):,}"), start / len(users_arr))
        explanation = explainer.explain_rows(
            explainer.user_rows(users_arr[start:stop], new_users), explainer.item_rows(items_arr[start:stop], new_items),
            view=view, full_labels=False,  # type: ignore[arg-type]
        )
        out[start:stop] = reason_text(np.asarray(explanation.values, dtype=np.float64),
                                      np.asarray(explanation.display_data, dtype=object), n)
    report(_("Explained"), 1.0)
    return pd.Series(out, dtype=object)


def reason_text(values: np.ndarray, labels: np.ndarray, n: int, unit: str = "") -> np.ndarray:
    """Join the ``n`` largest positive attributions of each row: ``"label +0.82; label +0.41"``.

    ``values`` and ``labels`` are (rows, contributors). Rows with no positive value name their
    largest contributor. With a ``unit`` (percentage points: :data:`POINTS`) numbers get one
    decimal and the unit: ``"label +3.1 pt"``.

    >>> reason_text(np.array([[0.5, -0.1, 0.2], [-0.3, -0.1, -0.2]]),
    ...             np.array([["a", "b", "c"], ["a", "b", "c"]], dtype=object), 2).tolist()
    ['a +0.50; c +0.20', 'b -0.10']
    >>> reason_text(np.array([[3.14, 0.5]]), np.array([["a", "b"]], dtype=object), 2, unit=POINTS).tolist()
    ['a +3.1 pt; b +0.5 pt']
    """
    rows = values.shape[0]
    k = min(n, values.shape[1])
    order = np.argsort(-values, axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(values, order, axis=1)
    names = np.take_along_axis(labels.reshape(values.shape), order, axis=1)
    none_positive = ~(top > 0).any(axis=1)
    text = pd.Series("", index=range(rows), dtype=object)
    for j in range(k):  # a loop over the n reasons; each step is vectorised over rows
        keep = (top[:, j] > 0) | ((j == 0) & none_positive)
        number = np.char.mod("%+.1f " + unit, top[:, j]) if unit else np.char.mod("%+.2f", top[:, j])
        part = pd.Series(names[:, j], dtype=object).astype(str) + " " + pd.Series(number)
        joined = np.where(text == "", part, text + export.REASONS_SEPARATOR + part)
        text = pd.Series(np.where(keep, joined, text), dtype=object)
    return text.to_numpy(object)


def _unknown_rows(table: pd.DataFrame | None, key: str, ids: np.ndarray, index: Any) -> pd.DataFrame | None:
    if table is None:
        return None
    unknown = pd.unique(ids[index.positions(ids) < 0])
    if len(unknown) == 0:
        return None
    rows = table[table[key].astype(str).isin(unknown)]
    return rows.assign(**{key: rows[key].astype(str)})
