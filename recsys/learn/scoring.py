"""The scoring kernel: response probabilities of a block of customers from plain arrays.

:class:`recsys.learn.response.ResponseModel` computes the calibrated logit of a (customer, offer)
pair as

.. math:: \\text{logit}_{ij} = b_0 + u_i + o_j + \\beta \\log \\operatorname{softmax}_{\\ell \\in L}
          (s_{i\\ell} / \\tau)_j

where ``u_i`` is the customer's part (history and facts times their coefficients), ``o_j`` the
offer's part, ``s`` the LightFM score over the live offers ``L`` and ``tau`` the fitted temperature.
This module holds that arithmetic on arrays only (no pandas, no context, no Spark), so the one-machine
path (:meth:`ResponseModel.logit_block`) and a batch over partitions (``mapInPandas`` on Spark,
:mod:`recsys.campaign.batch`) run the same code on the same numbers: one implementation of the math.

* :class:`OfferArrays` is everything offer-side (small: what a cluster broadcasts once);
* :func:`fit_term` and :func:`logit_rows` score a block of customers given their arrays;
* :func:`top_k_rows` keeps each row's ``k`` best columns with ties broken by the lower column, so
  the result does not depend on how rows are split into blocks.

>>> offers = OfferArrays(item_ids=np.array(["a", "b"], dtype=object), bias=np.zeros(2), emb=np.eye(2),
...                      known=np.ones(2, bool), in_live=np.ones(2, bool), columns=np.arange(2),
...                      item_part=np.zeros(2), intercept=0.0, fit_coef=1.0, temperature=1.0)
>>> np.round(np.exp(fit_term(np.zeros(1), np.array([[1.0, 0.0]]), np.ones(1, bool), offers)), 3).tolist()
[[0.731, 0.269]]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit


@dataclass(frozen=True)
class OfferArrays:
    """The offer side of the kernel over a block of offers ``B`` (the live ones plus the targets).

    Attributes
    ----------
    item_ids
        Ids of the *target* offers (the columns of :func:`logit_rows`), in output order.
    bias, emb, known
        LightFM bias, embedding and "known to the hybrid" flag of every offer of ``B``.
    in_live
        Which offers of ``B`` the softmax runs over.
    columns
        Position in ``B`` of each target offer.
    item_part
        Offer part of the logit of each target (facts and track record times coefficients); None when
        only the fit term is needed.
    intercept, fit_coef, temperature
        ``b_0``, ``beta`` and ``tau`` of the formula above.
    """

    item_ids: np.ndarray
    bias: np.ndarray
    emb: np.ndarray
    known: np.ndarray
    in_live: np.ndarray
    columns: np.ndarray
    item_part: np.ndarray | None
    intercept: float
    fit_coef: float
    temperature: float


def fit_term(user_bias: np.ndarray, user_emb: np.ndarray, user_known: np.ndarray, offers: OfferArrays,
             temperature: float | None = None) -> np.ndarray:
    """``log softmax`` of each customer's LightFM scores over the live offers, at the target offers.

    Shape (customers, targets). A pair the hybrid cannot score (unknown customer or offer) sits at
    the customer's median live score: no evidence either way.
    """
    scores = user_emb @ offers.emb.T + offers.bias[None, :] + user_bias[:, None]
    return log_softmax_live(scores, user_known[:, None] & offers.known[None, :], offers, temperature)


def log_softmax_live(scores: np.ndarray, known: np.ndarray, offers: OfferArrays,
                     temperature: float | None = None) -> np.ndarray:
    """``log softmax`` of each row of ``scores`` (customers x every offer of ``B``) over the live
    offers, at the target offers: the fit term of any recommender's scores (:func:`fit_term` gives
    it the hybrid's; a served baseline gives its own score block). ``known`` marks the pairs the
    model can score; the others sit at the customer's median live score."""
    tau = offers.temperature if temperature is None else temperature
    z = np.where(known, scores / tau, np.nan)
    in_live = offers.in_live
    missing = np.isnan(z)
    if missing.any():
        rows = np.flatnonzero(missing.any(axis=1))  # only rows with a pair the hybrid cannot score
        fill = row_median(z[np.ix_(rows, np.flatnonzero(in_live))]) if in_live.any() else np.zeros(len(rows))
        z[rows] = np.where(missing[rows], np.nan_to_num(fill)[:, None], z[rows])
    if not in_live.any():
        return (z - z.max(axis=1, keepdims=True))[:, offers.columns]
    live = z[:, in_live]
    top = live.max(axis=1, keepdims=True)
    lse = top + np.log(np.exp(live - top).sum(axis=1, keepdims=True))  # log-sum-exp, shifted by the row max
    return (z - lse)[:, offers.columns]


def row_median(values: np.ndarray) -> np.ndarray:
    """Median of each row's non-NaN values (NaN for a row with none), like ``np.nanmedian(axis=1)``
    but by one row-wise sort.

    >>> row_median(np.array([[1.0, np.nan, 3.0, 2.0], [np.nan, np.nan, np.nan, np.nan], [4.0, 1.0, np.nan, np.nan]])).tolist()
    [2.0, nan, 2.5]
    """
    ordered = np.sort(values, axis=1)  # NaN last
    count = (~np.isnan(values)).sum(axis=1)
    low = np.take_along_axis(ordered, np.maximum((count - 1) // 2, 0)[:, None], axis=1)[:, 0]
    high = np.take_along_axis(ordered, np.minimum(count // 2, np.maximum(count - 1, 0))[:, None], axis=1)[:, 0]
    return np.where(count > 0, (low + high) / 2, np.nan)


def logit_rows(user_part: np.ndarray, user_bias: np.ndarray, user_emb: np.ndarray, user_known: np.ndarray,
               offers: OfferArrays) -> np.ndarray:
    """Calibrated logit of every customer x target offer, shape (customers, targets)."""
    return logit_from_fit(user_part, fit_term(user_bias, user_emb, user_known, offers), offers)


def logit_from_fit(user_part: np.ndarray, fit: np.ndarray, offers: OfferArrays) -> np.ndarray:
    """Calibrated logit from the customers' part and their fit term (customers x targets)."""
    assert offers.item_part is not None, "the logit needs the offers' item_part"
    return offers.intercept + user_part[:, None] + offers.item_part[None, :] + offers.fit_coef * fit


def probability_rows(user_part: np.ndarray, user_bias: np.ndarray, user_emb: np.ndarray, user_known: np.ndarray,
                     offers: OfferArrays) -> np.ndarray:
    """P(response within the horizon | sent) of every customer x target offer."""
    return expit(logit_rows(user_part, user_bias, user_emb, user_known, offers))


def top_k_rows(values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` largest values, best first: (columns, values), both (rows, min(k, columns)).

    Ties go to the lower column (at the cut and in the order), so the answer is a function of the row
    alone. O(rows x columns): one partition, one threshold, one small sort.

    >>> cols, vals = top_k_rows(np.array([[0.1, 0.5, 0.5, 0.2]]), 2)
    >>> cols.tolist(), vals.tolist()
    ([[1, 2]], [[0.5, 0.5]])
    """
    n, m = values.shape
    k = int(min(k, m))
    if k <= 0 or n == 0:
        return np.zeros((n, 0), dtype=np.int64), np.zeros((n, 0))
    if k < m:
        part = np.argpartition(-values, k - 1, axis=1)[:, :k]
        kth = np.take_along_axis(values, part, axis=1).min(axis=1, keepdims=True)
        above = values > kth
        tie = values == kth
        take = above | (tie & (np.cumsum(tie, axis=1) <= k - above.sum(axis=1, keepdims=True)))
        cols = np.nonzero(take)[1].reshape(n, k)  # row-major: each row's columns in ascending order
    else:
        cols = np.broadcast_to(np.arange(m), (n, m))
    vals = np.take_along_axis(values, cols, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")  # stable: equal values keep the lower column first
    return np.take_along_axis(cols, order, axis=1).astype(np.int64), np.take_along_axis(vals, order, axis=1)


__all__ = ["OfferArrays", "fit_term", "log_softmax_live", "logit_from_fit", "row_median", "logit_rows", "probability_rows", "top_k_rows"]
