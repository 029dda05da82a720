"""Response probabilities: P(customer responds to an offer within ``horizon_days`` if it is sent).

LightFM's WARP loss only orders offers *within* a customer; anything that shifts all of a customer's
scores (the customer's feature biases, ``u . mean(v)``) is unconstrained and dominates raw scores
across customers. A targeting list compares customers, so it needs a number that means the same for
everyone. :class:`ResponseModel` keeps the hybrid as the preference core and stacks it with what
makes numbers comparable, in one logistic regression fitted on a LATER held-out window:

* customer history as of the window start (past responses and exposures, recency, smoothed past
  response rate) and customer facts (one-hot / standardised columns of the users table, sensitive
  columns excluded);
* offer facts and the offer's own track record (smoothed log-odds of its past response rate);
* the customer's fit with the offer: ``log P(offer | customer responds)`` = a softmax over the
  customer's LightFM scores of the live offers, with a fitted temperature. Any per-customer shift of
  the scores cancels in the softmax, so the unconstrained offset never enters the probability.
  When a run serves a baseline (EASE, item-kNN, ALS, recent popularity), the same softmax runs over
  that model's scores (``BaseRecommender.score_block``); the model keeps which scores it was fitted
  on (``scores_from_``) and refuses another.

The stacker's logit is then Platt-calibrated on the later part of the window (Platt, not isotonic,
keeps the logit linear, so :meth:`ResponseModel.explain_pairs` attributes it exactly, additive to
rounding, over named contributors). The reliability table of that held-out part is kept.

Data kinds:

* **exposure** data (``impression`` / ``view`` events, see :mod:`recsys.core.columns`): one row per
  (customer, offer) first exposed in the window, label = a response (``redeem`` / ``purchase``) of
  that customer to that offer within ``horizon_days`` of the exposure (and before the window end);
* **positive-only** data (no exposure events, e.g. invoice lines): the stated assumption is that every
  customer active before the window was exposed to every offer live in it; rows are the responded
  pairs against a uniform sample of the other (active customer, live offer) pairs, weighted back to
  their true count, so the probability is P(any) x P(offer | any) under that assumption.

Only the response model's coefficients, temperature and vocabularies are stored (``.npz`` +
``.json``, no pickle); history features are recomputed from the interactions at scoring time, as of
the campaign date, by :meth:`ResponseModel.context`.

>>> rm = ResponseModel(ResponseConfig(horizon_days=14)).fit(  # doctest: +SKIP
...     interactions, users, user_schema, items, item_schema, hybrid, window_start="2026-04-01")
>>> ctx = rm.context(interactions, users, items, hybrid, as_of="2026-05-01")  # doctest: +SKIP
>>> rm.predict_block(ctx, ctx.user_ids, ["OFF0004"])  # doctest: +SKIP
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar
from scipy.special import expit, logsumexp
from sklearn.linear_model import LogisticRegression

from recsys.core import columns as C
from recsys.core.arrays import factorize, text_codes
from recsys.core.config import ConfigBase
from recsys.core.errors import ConfigError, PromoLensError
from recsys.core.jsonio import dumps
from recsys.data.schema import TableSchema
from recsys.learn.fact_encoder import OFFER_END, OFFER_START, FactEncoder
from recsys.learn import scoring
from recsys.learn.model import HybridRecommender
from recsys.learn.recommender import BaseRecommender
from recsys.learn.scoring import OfferArrays
from recsys.metrics.targeting import LABEL, ROW_WEIGHT, reliability_table

RESPONSE_FORMAT = "promolens-response-model"
RESPONSE_FORMAT_VERSION = 2  # 2: encoder columns as ordered lists (1 lost their order)
EXPOSURE = "exposure"
POSITIVE_ONLY = "positive_only"
FIT_GROUP = "fit with this customer's tastes (LightFM)"
#: Prefixes of the contributors from customer facts and offer facts.
CUSTOMER_PREFIX = "customer: "
OFFER_PREFIX = "offer: "
TRACK_GROUP = "offer track record"
BASELINE = "baseline"
LOGIT = "logit"
PROBABILITY = "probability"
ROW_TIME = "row_time"
POSITIVE_ONLY_ASSUMPTION = (
    "no exposure events: every customer active before the window is assumed to have been exposed to "
    "every offer live in it, so p = P(responds to anything) x P(this offer | responds)"
)
_DAY = np.timedelta64(1, "D")
_MEMO_CELLS = 1 << 25  # score cells a baseline's temperature search keeps in memory (256 MB of float64)


class ResponseModelError(PromoLensError, ValueError):
    """The response model cannot be fitted or used on these inputs (the message says why)."""


@dataclass(frozen=True)
class ResponseConfig(ConfigBase):
    """Parameters of :class:`ResponseModel`.

    Parameters
    ----------
    horizon_days
        A response counts when it follows the exposure within this many days.
    calibration_share
        The latest share of the window's rows (by time) held out for Platt calibration.
    prior_strength
        Pseudo-exposures of the smoothed past response rates (customer and offer).
    negatives_per_positive
        Positive-only data: sampled non-responded (customer, live offer) pairs per response.
    l2
        Inverse L2 strength ``C`` of the stacker's logistic regression.
    seed
        Seed of the negative sampling.
    window_days
        Length of the fitting window used at train time (:mod:`recsys.learn.targeting_eval`): the
        judged model is fitted on the ``window_days`` before the test period.
    """

    horizon_days: int = 14
    calibration_share: float = 0.35
    prior_strength: float = 20.0
    negatives_per_positive: int = 20
    l2: float = 1.0
    seed: int = 0
    window_days: int = 28

    def validate(self) -> None:
        if self.horizon_days < 1:
            raise ConfigError(f"ResponseConfig.horizon_days must be >= 1, got {self.horizon_days!r}")
        if not 0.05 <= self.calibration_share <= 0.8:
            raise ConfigError(f"ResponseConfig.calibration_share must be in [0.05, 0.8], got {self.calibration_share!r}")
        if self.window_days < 7:
            raise ConfigError(f"ResponseConfig.window_days must be >= 7, got {self.window_days!r}")
        if self.prior_strength <= 0 or self.l2 <= 0 or self.negatives_per_positive < 1:
            raise ConfigError("ResponseConfig.prior_strength and l2 must be > 0, negatives_per_positive >= 1")


# ------------------------------------------------------------------------------------------------
# events, live offers and labelled rows (public: the targeting evaluation builds its rows the same way)
# ------------------------------------------------------------------------------------------------
def event_roles(interactions: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, bool]:
    """(is exposure, is response, data has exposures) per row.

    Responses are ``RESPONSE_EVENTS``; data with no such event (e.g. invoice lines, a file without an
    event column) counts every non-exposure row as a response.
    """
    if C.EVENT not in interactions.columns:
        n = len(interactions)
        return np.zeros(n, dtype=bool), np.ones(n, dtype=bool), False
    event = interactions[C.EVENT].astype(str).str.lower()
    is_exposure = event.isin(C.EXPOSURE_EVENTS).to_numpy()
    is_response = event.isin(C.RESPONSE_EVENTS).to_numpy()
    if not is_response.any():
        is_response = ~is_exposure
    return is_exposure, is_response, bool(is_exposure.any())


def _times(interactions: pd.DataFrame) -> np.ndarray:
    if C.TIMESTAMP not in interactions.columns:
        raise ResponseModelError(f"response probabilities need a {C.TIMESTAMP!r} column to tell history from outcome")
    ts = pd.to_datetime(interactions[C.TIMESTAMP])
    if ts.dt.tz is not None:
        ts = ts.dt.tz_localize(None)
    return ts.to_numpy("datetime64[ns]")


def _as_time(value: Any) -> np.datetime64:
    t = pd.Timestamp(value)
    if t.tzinfo is not None:
        t = t.tz_localize(None)
    return t.to_datetime64().astype("datetime64[ns]")


def live_mask(items: pd.DataFrame | None, item_ids: np.ndarray, start: Any, end: Any | None = None) -> np.ndarray:
    """Which offers are live at some moment of ``[start, end]`` (``end`` defaults to ``start``).

    Offers without ``start_date`` / ``end_date`` (or with them missing) count as always live.
    """
    live = np.ones(len(item_ids), dtype=bool)
    if items is None or not len(items):
        return live
    table = items.drop_duplicates(C.ITEM_ID).set_index(items.drop_duplicates(C.ITEM_ID)[C.ITEM_ID].astype(str))
    table = table.reindex(pd.Index(np.asarray(item_ids, dtype=object).astype(str)))
    s, e = _as_time(start), _as_time(end if end is not None else start)
    if OFFER_START in table.columns:
        first = pd.to_datetime(table[OFFER_START], errors="coerce").to_numpy("datetime64[ns]")
        live &= np.isnat(first) | (first <= e)
    if OFFER_END in table.columns:
        last = pd.to_datetime(table[OFFER_END], errors="coerce").to_numpy("datetime64[ns]")
        live &= np.isnat(last) | (last + _DAY > s)  # end dates are inclusive days
    return live


def exposure_rows(interactions: pd.DataFrame, start: Any, end: Any, horizon_days: int) -> pd.DataFrame:
    """One row per (customer, offer) first exposed in ``[start, end)``: ``user_id, item_id,
    row_time`` (the first exposure), ``label`` (a response within the horizon and before ``end``)
    and ``row_weight`` (1). Pairs that responded before the exposure are left out (single use)."""
    ts = _times(interactions)
    is_exp, is_resp, _ = event_roles(interactions)
    s, e = _as_time(start), _as_time(end)
    frame = pd.DataFrame({
        C.USER_ID: interactions[C.USER_ID].astype(str).to_numpy(object),
        C.ITEM_ID: interactions[C.ITEM_ID].astype(str).to_numpy(object), ROW_TIME: ts,
    })
    exp = frame[is_exp & (ts >= s) & (ts < e)]
    first = exp.groupby([C.USER_ID, C.ITEM_ID], sort=False)[ROW_TIME].min().reset_index()
    before = frame[is_resp & (ts < s)][[C.USER_ID, C.ITEM_ID]].drop_duplicates()
    first = first.merge(before.assign(_gone=True), how="left", on=[C.USER_ID, C.ITEM_ID])
    first = first[first["_gone"].isna()].drop(columns="_gone")
    # the first response at or after the first exposure (responses can only follow exposures here)
    after = frame[is_resp & (ts >= s) & (ts < e)].merge(first, on=[C.USER_ID, C.ITEM_ID], suffixes=("", "_exp"))
    after = after[after[ROW_TIME] >= after[f"{ROW_TIME}_exp"]]
    first_resp = after.groupby([C.USER_ID, C.ITEM_ID], sort=False)[ROW_TIME].min().rename("_resp").reset_index()
    rows = first.merge(first_resp, how="left", on=[C.USER_ID, C.ITEM_ID])
    horizon = np.timedelta64(int(horizon_days), "D")
    rows[LABEL] = (rows["_resp"].notna() & (rows["_resp"] - rows[ROW_TIME] <= horizon)).astype(np.int8)
    rows[ROW_WEIGHT] = 1.0
    return rows.drop(columns="_resp").sort_values([ROW_TIME, C.USER_ID, C.ITEM_ID], ignore_index=True)


def positive_only_rows(interactions: pd.DataFrame, items: pd.DataFrame | None, start: Any, end: Any,
                       negatives_per_positive: int, seed: int, item_ids: np.ndarray | None = None) -> pd.DataFrame:
    """Responded (customer, live offer) pairs of ``[start, end)`` against a uniform sample of the
    other pairs of customers active before ``start`` x offers live in the window, each sampled pair
    weighted by (pairs it stands for / sample size). Same columns as :func:`exposure_rows`."""
    ts = _times(interactions)
    _, is_resp, _ = event_roles(interactions)
    s, e = _as_time(start), _as_time(end)
    users = np.unique(interactions[C.USER_ID].astype(str).to_numpy(object)[ts < s])
    if item_ids is None:
        item_ids = np.unique(interactions[C.ITEM_ID].astype(str).to_numpy(object))
    item_ids = np.asarray(item_ids, dtype=object)[live_mask(items, np.asarray(item_ids, dtype=object), s, e - _DAY)]
    win = is_resp & (ts >= s) & (ts < e)
    pos = pd.DataFrame({C.USER_ID: interactions[C.USER_ID].astype(str).to_numpy(object)[win],
                        C.ITEM_ID: interactions[C.ITEM_ID].astype(str).to_numpy(object)[win], ROW_TIME: ts[win]})
    pos = pos[pos[C.USER_ID].isin(users) & pos[C.ITEM_ID].isin(item_ids)]
    pos = pos.groupby([C.USER_ID, C.ITEM_ID], sort=False)[ROW_TIME].min().reset_index()
    total = len(users) * len(item_ids)
    n_neg = int(min(total - len(pos), negatives_per_positive * max(len(pos), 1)))
    rng = np.random.default_rng(seed)
    cand = pd.DataFrame({C.USER_ID: users[rng.integers(0, len(users), n_neg)] if len(users) else [],
                         C.ITEM_ID: item_ids[rng.integers(0, len(item_ids), n_neg)] if len(item_ids) else []})
    cand = cand.merge(pos[[C.USER_ID, C.ITEM_ID]].assign(_pos=True), how="left", on=[C.USER_ID, C.ITEM_ID])
    cand = cand[cand["_pos"].isna()].drop(columns="_pos")
    weight = (total - len(pos)) / max(len(cand), 1)
    rows = pd.concat([
        pos.assign(**{LABEL: np.int8(1), ROW_WEIGHT: 1.0}),
        cand.assign(**{ROW_TIME: s, LABEL: np.int8(0), ROW_WEIGHT: weight}),
    ], ignore_index=True)
    return rows


# ------------------------------------------------------------------------------------------------
# features
# ------------------------------------------------------------------------------------------------
_HISTORY = ("past responses (log)", "past exposures (log)", "past activity (log)",
            "days since last response (log)", "days since last activity (log)", "past response rate (smoothed log-odds)")
_HISTORY_GROUP = "customer history: "


def _counts(codes: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(codes[mask], minlength=n).astype(float)


def _last(codes: np.ndarray, ts: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    if mask.any():
        last = pd.Series(ts[mask]).groupby(codes[mask]).max()
        out[last.index.to_numpy()] = last.to_numpy("datetime64[ns]")
    return out


def _log_days_since(t: np.ndarray, as_of: np.datetime64) -> np.ndarray:
    days = np.where(np.isnat(t), 365.0, np.clip((as_of - t) / _DAY, 0, 365))
    return np.log1p(days)


def _smoothed_logit(k: np.ndarray, n: np.ndarray, prior: float, strength: float) -> np.ndarray:
    rate = (k + strength * prior) / (n + strength)
    rate = np.clip(rate, 1e-6, 1 - 1e-6)
    return np.log(rate) - np.log1p(-rate)


def _id_universe(events: pd.Series, table: pd.DataFrame | None, key: str) -> tuple[np.ndarray, np.ndarray]:
    """Each event row's position among the ids, and the ids as text: the events' ids in order of first
    appearance, then the table's others (what ``pd.unique`` over both gives).

    The events' column is factorized once (Arrow hashes its distinct ids; no Python string per row, no
    second lookup of every row in the universe): a third of building a context at 300k rows.
    """
    found = text_codes(events)
    codes, seen = found if found is not None else factorize(events.astype(str).to_numpy(object))  # a missing id: as text
    seen = np.asarray(seen, dtype=object)
    if table is None:
        return codes, seen
    others = pd.unique(table[key].astype(str).to_numpy(object))
    others = others[~pd.Index(others).isin(seen)]
    return codes, np.concatenate([seen, np.asarray(others, dtype=object)])


@dataclass
class ResponseContext:
    """Everything a response model needs to score customers x offers as of one moment.

    Built by :meth:`ResponseModel.context`; history features use events strictly before ``as_of``.
    """

    as_of: np.datetime64
    user_ids: np.ndarray
    item_ids: np.ndarray
    user_matrix: np.ndarray  # history + facts per customer (columns of the response model's customer part)
    item_matrix: np.ndarray  # facts + track record per offer
    live: np.ndarray  # offers live at as_of
    responded: pd.MultiIndex  # (customer, offer) pairs that responded before as_of (single-use coupons)
    model: BaseRecommender  # the scores of the fit term: the hybrid, or the served baseline (any score interface)

    def user_positions(self, user_ids: Iterable[Any]) -> np.ndarray:
        return _positions(self.user_ids, user_ids, "customer")

    def item_positions(self, item_ids: Iterable[Any]) -> np.ndarray:
        return _positions(self.item_ids, item_ids, "offer")


def compared_offers(live: np.ndarray) -> np.ndarray:
    """The offers a customer's scores are compared over (the fit term's softmax): those live, or every
    offer when none is, so that a pair's chance never depends on which other offers a caller asked for.

    >>> compared_offers(np.array([False, True, False])).tolist(), compared_offers(np.zeros(2, bool)).tolist()
    ([False, True, False], [True, True])
    """
    live = np.asarray(live, dtype=bool)
    return live if live.any() else np.ones_like(live)


def scorer_name(model: BaseRecommender) -> str:
    """The name a response model keeps of the recommender whose scores it was fitted on."""
    return str(getattr(model, "name", type(model).__name__))


def _positions(universe: np.ndarray, ids: Iterable[Any], what: str) -> np.ndarray:
    ids = np.asarray(list(ids) if not isinstance(ids, (np.ndarray, pd.Series, pd.Index)) else ids, dtype=object).astype(str)
    pos = pd.Index(universe).get_indexer(ids)
    if (pos < 0).any():
        raise ResponseModelError(f"unknown {what} id(s): {ids[pos < 0][:5].tolist()}")
    return pos


# ------------------------------------------------------------------------------------------------
# the model
# ------------------------------------------------------------------------------------------------
class ResponseModel:
    """Calibrated P(response within the horizon | offer sent), comparable across customers and offers.

    See the module docstring for the design. ``fit`` returns self; fitted attributes end in ``_``.
    """

    def __init__(self, config: ResponseConfig | None = None) -> None:
        self.config = config

    # -- context ---------------------------------------------------------------------------------
    def context(self, interactions: pd.DataFrame, users: pd.DataFrame | None, items: pd.DataFrame | None,
                model: BaseRecommender, as_of: Any) -> ResponseContext:
        """Customer and offer features as of ``as_of`` (history: events strictly before it).

        ``model`` gives the fit term's scores: the kind of recommender the response model was
        fitted with (its temperature and coefficient are on that model's score scale)."""
        self._check_fitted()
        if scorer_name(model) != self.scores_from_:
            raise ResponseModelError(f"this response model was fitted on the scores of {self.scores_from_}, "
                                     f"not {scorer_name(model)}: score with the model it was fitted with")
        t = _as_time(as_of)
        ts = _times(interactions)
        is_exp, is_resp, _ = event_roles(interactions)
        u, user_ids = _id_universe(interactions[C.USER_ID], users, C.USER_ID)
        i, item_ids = _id_universe(interactions[C.ITEM_ID], items, C.ITEM_ID)
        before = ts < t
        nu, ni = len(user_ids), len(item_ids)
        n_resp, n_exp, n_any = _counts(u, before & is_resp, nu), _counts(u, before & is_exp, nu), _counts(u, before, nu)
        prior = self.global_rate_
        history = np.column_stack([
            np.log1p(n_resp), np.log1p(n_exp), np.log1p(n_any),
            _log_days_since(_last(u, ts, before & is_resp, nu), t), _log_days_since(_last(u, ts, before, nu), t),
            _smoothed_logit(n_resp, np.maximum(n_exp, n_resp), prior, self.config_.prior_strength)
            if self.data_kind_ == EXPOSURE else np.zeros(nu),
        ])
        i_resp, i_exp = _counts(i, before & is_resp, ni), _counts(i, before & is_exp, ni)
        if self.data_kind_ == EXPOSURE:
            track = _smoothed_logit(i_resp, np.maximum(i_exp, i_resp), prior, self.config_.prior_strength)
        else:
            track = np.log((i_resp + 1.0) / (i_resp.sum() + ni))
        user_matrix = np.hstack([history, self.user_encoder_.transform(users, user_ids, t)])
        item_matrix = np.hstack([self.item_encoder_.transform(items, item_ids, t), track[:, None]])
        done = before & is_resp
        responded = pd.MultiIndex.from_arrays([user_ids[u[done]], item_ids[i[done]]]).unique()
        return ResponseContext(t, user_ids, item_ids, user_matrix, item_matrix, live_mask(items, item_ids, t),
                               responded, model)

    # -- the LightFM fit term (the arithmetic lives in recsys.learn.scoring, shared with batch runs) ----
    @staticmethod
    def customer_arrays(ctx: ResponseContext, upos: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """LightFM bias, embedding and "known to the hybrid" flag of customers ``upos`` (positions in ``ctx``).

        Only a hybrid has these arrays (a batch run broadcasts them); a served baseline's scores come
        from the model itself (:meth:`ResponseModel.logit_block`)."""
        if not isinstance(ctx.model, HybridRecommender):
            raise ResponseModelError(f"{scorer_name(ctx.model)} has no LightFM embeddings: this scoring path "
                                     "(batch over partitions) serves the hybrid only")
        mu = ctx.model.user_index_.positions(ctx.user_ids[upos])
        ub, uv = ctx.model.user_representations()
        rows = np.maximum(mu, 0)  # float64 (LightFM keeps float32): the same numbers whatever the block size
        return ub[rows].astype(np.float64), uv[rows].astype(np.float64), mu >= 0

    def offer_arrays(self, ctx: ResponseContext, ipos: np.ndarray, live: np.ndarray | None = None,
                     temperature: float | None = None) -> OfferArrays:
        """The offer side of :mod:`recsys.learn.scoring` for target offers ``ipos`` (positions in
        ``ctx``), the softmax running over ``live`` (default ``ctx.live``; every offer when none is
        live: :func:`compared_offers`) plus the targets."""
        live = compared_offers(ctx.live if live is None else live)
        live_pos = np.flatnonzero(live)
        all_pos = np.union1d(live_pos, ipos)
        mi = ctx.model.item_index_.positions(ctx.item_ids[all_pos])
        if isinstance(ctx.model, HybridRecommender):
            ib, iv = ctx.model.item_representations()
        else:  # a baseline: the scores come from the model (see _fit_rows), no embedding here
            ib, iv = np.zeros(max(len(ctx.model.item_index_), 1)), np.zeros((max(len(ctx.model.item_index_), 1), 0))
        fitted = hasattr(self, "coef_")  # not yet while the temperature is being fitted
        _, coef_item, coef_fit = self._parts() if fitted else (None, None, 0.0)
        return OfferArrays(
            item_ids=ctx.item_ids[ipos], bias=ib[np.maximum(mi, 0)].astype(np.float64),
            emb=iv[np.maximum(mi, 0)].astype(np.float64), known=mi >= 0,
            in_live=np.isin(all_pos, live_pos), columns=np.searchsorted(all_pos, ipos),
            item_part=ctx.item_matrix[ipos] @ coef_item if fitted else None,
            intercept=float(self.intercept_) if fitted else 0.0, fit_coef=float(coef_fit),
            temperature=float(self.temperature_ if temperature is None else temperature))

    def customer_part(self, ctx: ResponseContext, upos: np.ndarray) -> np.ndarray:
        """The customer part of the logit (history and facts times their coefficients) of customers ``upos``."""
        return ctx.user_matrix[upos] @ self._parts()[0]

    def _fit_term_block(self, ctx: ResponseContext, upos: np.ndarray, ipos: np.ndarray,
                        live: np.ndarray, temperature: float | None = None) -> np.ndarray:
        """``log softmax`` of each customer's scores over the live offers, at the offers ``ipos``."""
        live = ctx.live if live is None else live
        return self._fit_rows(ctx, upos, self.offer_arrays(ctx, ipos, live, temperature), live, ipos)

    def _fit_rows(self, ctx: ResponseContext, upos: np.ndarray, offers: OfferArrays, live: np.ndarray,
                  ipos: np.ndarray) -> np.ndarray:
        """The fit term of customers ``upos`` at ``offers``: the hybrid's from its embeddings
        (:func:`~recsys.learn.scoring.fit_term`), any other recommender's from its score block; the
        same softmax (:func:`~recsys.learn.scoring.log_softmax_live`) either way."""
        if isinstance(ctx.model, HybridRecommender):
            return scoring.fit_term(*self.customer_arrays(ctx, upos), offers)
        return scoring.log_softmax_live(*self._model_scores(ctx, upos, live, ipos), offers)

    @staticmethod
    def _model_scores(ctx: ResponseContext, upos: np.ndarray, live: np.ndarray,
                      ipos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A non-hybrid recommender's scores of customers ``upos`` over the live offers and targets
        (the columns of :meth:`offer_arrays`), and which pairs carry evidence of the customer's tastes.

        A customer without a history in the baseline (its popularity fallback: counts, on another
        scale than its history scores) gets no fit evidence, like a customer unknown to the hybrid:
        the offer's track record term already carries its popularity."""
        all_pos = np.union1d(np.flatnonzero(compared_offers(live)), ipos)
        offer_ids = ctx.item_ids[all_pos]
        known = ctx.model.item_index_.positions(offer_ids) >= 0
        users = ctx.user_ids[upos]
        has = ctx.model.has_history(users) if hasattr(ctx.model, "has_history") else np.ones(len(upos), dtype=bool)
        scores = np.zeros((len(upos), len(all_pos)))
        if known.any():
            scores[:, known] = ctx.model.score_block(users, offer_ids[known], unknown="cold")
        return scores, has[:, None] & known[None, :]

    # -- fit -------------------------------------------------------------------------------------
    def fit(self, interactions: pd.DataFrame, users: pd.DataFrame | None, user_schema: TableSchema | None,
            items: pd.DataFrame | None, item_schema: TableSchema | None, model: BaseRecommender,
            window_start: Any, window_end: Any | None = None) -> "ResponseModel":
        """Fit on the window ``[window_start, window_end)`` with history before ``window_start``.

        ``model`` must have been trained on events before ``window_start`` only (else the window's
        responses leak into its scores). ``window_end`` defaults to just after the last event.
        """
        cfg = self.config or ResponseConfig()
        cfg.validate()
        self.config_ = cfg
        ts = _times(interactions)
        start = _as_time(window_start)
        end = _as_time(window_end) if window_end is not None else ts.max() + np.timedelta64(1, "s")
        is_exp, is_resp, has_exposure = event_roles(interactions)
        self.data_kind_ = EXPOSURE if has_exposure else POSITIVE_ONLY
        self.assumption_ = None if has_exposure else POSITIVE_ONLY_ASSUMPTION
        before = ts < start
        self.global_rate_ = float(np.clip(is_resp[before].sum() / max(is_exp[before].sum(), 1), 1e-4, 0.5)) \
            if has_exposure else 0.01
        self.user_encoder_ = FactEncoder.fit(users, user_schema, C.USER_ID, CUSTOMER_PREFIX, start)
        self.item_encoder_ = FactEncoder.fit(items, item_schema, C.ITEM_ID, OFFER_PREFIX, start)
        self.temperature_ = 1.0
        self.scores_from_ = scorer_name(model)
        if has_exposure:
            rows = exposure_rows(interactions, start, end, cfg.horizon_days)
        else:
            rows = positive_only_rows(interactions, items, start, end, cfg.negatives_per_positive, cfg.seed)
        ctx = self.context(interactions, users, items, model, start)
        if rows[LABEL].sum() < 10 or (rows[LABEL] == 0).sum() < 10:
            raise ResponseModelError(
                f"the window {pd.Timestamp(start).date()}..{pd.Timestamp(end).date()} has "
                f"{int(rows[LABEL].sum())} responses among {len(rows)} rows: too few to fit response "
                "probabilities; use an earlier window start or more data")
        upos, ipos = ctx.user_positions(rows[C.USER_ID]), ctx.item_positions(rows[C.ITEM_ID])
        days = rows[ROW_TIME].to_numpy("datetime64[ns]").astype("datetime64[D]")
        self.temperature_ = self._fit_temperature(ctx, items, upos, ipos, days, rows[LABEL].to_numpy() == 1)
        fit_term = self._fit_term_rows(ctx, items, upos, ipos, days)
        x = np.hstack([ctx.user_matrix[upos], ctx.item_matrix[ipos], fit_term[:, None]])
        y, w = rows[LABEL].to_numpy(), rows[ROW_WEIGHT].to_numpy(float)
        cut = np.quantile(rows[ROW_TIME].to_numpy("datetime64[ns]").astype(np.int64), 1 - cfg.calibration_share)
        late = rows[ROW_TIME].to_numpy("datetime64[ns]").astype(np.int64) > cut
        if not has_exposure or late.sum() < 50 or y[late].sum() < 5 or y[~late].sum() < 5:
            late = np.random.default_rng(cfg.seed).random(len(rows)) < cfg.calibration_share  # no usable time order
        lr = LogisticRegression(C=cfg.l2, max_iter=2000)
        lr.fit(x[~late], y[~late], sample_weight=w[~late])
        z = x[late] @ lr.coef_[0] + lr.intercept_[0]
        platt = LogisticRegression(C=1e6, max_iter=1000).fit(z[:, None], y[late], sample_weight=w[late])
        a, b = float(platt.coef_[0, 0]), float(platt.intercept_[0])
        self.coef_ = a * lr.coef_[0]
        self.intercept_ = a * float(lr.intercept_[0]) + b
        self.x_mean_ = np.average(x[~late], axis=0, weights=w[~late])
        names = [(n, _HISTORY_GROUP + n.split(" (")[0]) for n in _HISTORY] + self.user_encoder_.names() \
            + self.item_encoder_.names() + [("offer past response rate", TRACK_GROUP), ("log P(offer | customer responds)",
               FIT_GROUP if self.scores_from_ == "hybrid" else f"fit with this customer's tastes ({self.scores_from_})")]
        self.feature_names_ = [n for n, _ in names]
        self.feature_groups_ = [g for _, g in names]
        p_late = expit(x[late] @ self.coef_ + self.intercept_)
        self.reliability_ = reliability_table(p_late, y[late], w[late])
        self.platt_ = {"a": a, "b": b}
        self.window_ = {"start": str(pd.Timestamp(start)), "end": str(pd.Timestamp(end)), "rows": int(len(rows)),
                        "responses": int(y.sum()), "calibration_rows": int(late.sum())}
        return self

    def _day_blocks(self, items: pd.DataFrame | None, ctx: ResponseContext, days: np.ndarray):
        """Row groups by calendar day with the offers live that day (a loop over days, not rows)."""
        for day in np.unique(days):
            yield np.flatnonzero(days == day), live_mask(items, ctx.item_ids, day)

    def _fit_term_rows(self, ctx: ResponseContext, items: pd.DataFrame | None, upos: np.ndarray,
                       ipos: np.ndarray, days: np.ndarray, temperature: float | None = None,
                       memo: dict[Any, Any] | None = None) -> np.ndarray:
        """The fit term of each row; ``memo`` keeps a non-hybrid model's score blocks across calls
        (the temperature search rescales the same scores: they are computed once)."""
        out = np.empty(len(upos))
        for n, (rows, live) in enumerate(self._day_blocks(items, ctx, days)):
            uu, inv = np.unique(upos[rows], return_inverse=True)
            ii, jnv = np.unique(ipos[rows], return_inverse=True)
            if memo is None or (n not in memo and memo.get("cells", 0) > _MEMO_CELLS):
                block = self._fit_term_block(ctx, uu, ii, live, temperature)
            else:
                if n not in memo:
                    memo[n] = (self._model_scores(ctx, uu, live, ii), self.offer_arrays(ctx, ii, live, temperature))
                    memo["cells"] = memo.get("cells", 0) + memo[n][0][0].size
                (scores, known), offers = memo[n]
                block = scoring.log_softmax_live(scores, known, offers, temperature)
            out[rows] = block[inv, jnv]
        return out

    def _fit_temperature(self, ctx: ResponseContext, items: pd.DataFrame | None, upos: np.ndarray,
                         ipos: np.ndarray, days: np.ndarray, positive: np.ndarray) -> float:
        """The softmax temperature that best predicts WHICH live offer a responding customer took."""
        up, ip, dp = upos[positive], ipos[positive], days[positive]
        if len(up) > 20_000:
            keep = np.sort(np.random.default_rng(self.config_.seed).choice(len(up), 20_000, replace=False))
            up, ip, dp = up[keep], ip[keep], dp[keep]

        memo: dict[Any, Any] | None = None if isinstance(ctx.model, HybridRecommender) else {}

        def loss(log_tau: float) -> float:
            return -float(self._fit_term_rows(ctx, items, up, ip, dp, float(np.exp(log_tau)), memo).mean())

        res = minimize_scalar(loss, bounds=(np.log(0.05), np.log(50.0)), method="bounded", options={"xatol": 0.02})
        return float(np.exp(res.x))

    # -- predict and explain ---------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "user_encoder_"):
            raise ResponseModelError("this ResponseModel is not fitted yet: call fit() or ResponseModel.load()")

    def _parts(self) -> tuple[np.ndarray, np.ndarray, float]:
        nu = len(_HISTORY) + len(self.user_encoder_.names())
        return self.coef_[:nu], self.coef_[nu:-1], float(self.coef_[-1])

    def logit_block(self, ctx: ResponseContext, user_ids: Iterable[Any], item_ids: Iterable[Any]) -> np.ndarray:
        """Calibrated logit of every customer x offer pair, shape (customers, offers); the softmax
        runs over the offers live at ``ctx.as_of`` (plus the requested ones)."""
        self._check_fitted()
        upos, ipos = ctx.user_positions(user_ids), ctx.item_positions(item_ids)
        offers = self.offer_arrays(ctx, ipos)
        out = np.empty((len(upos), len(ipos)))
        chunk = max(1, (1 << 22) // max(len(ctx.item_ids), 1))
        for s in range(0, len(upos), chunk):  # bounded memory: the score block is made per chunk of customers
            rows = upos[s:s + chunk]
            out[s:s + chunk] = scoring.logit_from_fit(self.customer_part(ctx, rows),
                                                      self._fit_rows(ctx, rows, offers, ctx.live, ipos), offers)
        return out

    def predict_block(self, ctx: ResponseContext, user_ids: Iterable[Any], item_ids: Iterable[Any]) -> np.ndarray:
        """P(response within the horizon | sent) of every customer x offer pair, in [0, 1]."""
        return expit(self.logit_block(ctx, user_ids, item_ids))

    def probability_of_scores(self, ctx: ResponseContext, user_id: Any, item_ids: Any, scores: Any,
                              facts: dict[str, str] | None = None) -> np.ndarray:
        """P(response within the horizon | sent) of ONE customer and offers ``item_ids``, shape (rows,
        offers), if the hybrid's scores of this customer over its offers were each row of ``scores``,
        all else as in ``ctx``.

        ``scores`` is (rows, offers of the hybrid, in ``ctx.model.item_index_`` order), e.g. the
        customer's float64 scores (:meth:`recsys.insight.attribution.ScoreExplainer.score_all_items`)
        with this offer's moved to the base of its explanation, or a what-if customer's scores. The
        fit term is the same softmax over the live offers as :meth:`predict_block`'s, so the row of
        the customer's own scores gives the listed probability (to float32 rounding of the
        embeddings). ``facts`` ({customer column: value}) also moves this model's own one-hot of
        those columns (:meth:`sets_fact` says which it can set); history and other facts are held.
        Only a response model fitted on the hybrid's scores can answer (ResponseModelError otherwise).
        """
        self._check_fitted()
        if not isinstance(ctx.model, HybridRecommender):
            raise ResponseModelError(f"this response model scores with {scorer_name(ctx.model)}, not the hybrid's scores")
        scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
        upos = ctx.user_positions([user_id])
        row = ctx.user_matrix[upos[0]].copy()
        start = len(_HISTORY)
        for column, values in self.user_encoder_.categorical.items():  # the one-hot blocks, in names() order
            if facts and column in facts:
                row[start:start + len(values)] = (np.asarray(values, dtype=object) == str(facts[column])).astype(float)
            start += len(values)
        return self._probability_of_score_rows(ctx, np.repeat(upos, len(scores)), np.repeat(row[None, :], len(scores), 0),
                                               np.atleast_1d(np.asarray(item_ids, dtype=object)), scores)

    def probability_of_score_rows(self, ctx: ResponseContext, user_ids: Any, item_id: Any, scores: Any) -> np.ndarray:
        """P(response within the horizon | sent) of offer ``item_id``, shape (rows,): row ``r`` is customer
        ``user_ids[r]`` if the hybrid's scores of them over its offers were ``scores[r]`` (rows, offers of
        the hybrid), all else as in ``ctx``. :meth:`probability_of_scores` for many customers at once (a
        customer may have many rows), e.g. each customer's chance with this offer's score at the two ends
        of its explanation. Only a response model fitted on the hybrid's scores can answer."""
        self._check_fitted()
        if not isinstance(ctx.model, HybridRecommender):
            raise ResponseModelError(f"this response model scores with {scorer_name(ctx.model)}, not the hybrid's scores")
        scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
        upos = ctx.user_positions(np.atleast_1d(np.asarray(user_ids, dtype=object)))
        if len(upos) != len(scores):
            raise ResponseModelError(f"{len(upos)} customers for {len(scores)} rows of scores")
        return self._probability_of_score_rows(ctx, upos, ctx.user_matrix[upos], np.asarray([item_id], dtype=object),
                                               scores)[:, 0]

    def _probability_of_score_rows(self, ctx: ResponseContext, upos: np.ndarray, user_rows: np.ndarray,
                                   item_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """(rows, offers) chances of customers ``upos`` (one per row of ``scores``; ``user_rows`` their
        customer part's inputs) for ``item_ids`` with the hybrid's scores of them set to ``scores``."""
        ipos = ctx.item_positions(item_ids)
        offers = self.offer_arrays(ctx, ipos)
        all_pos = np.union1d(np.flatnonzero(compared_offers(ctx.live)), ipos)
        mi = ctx.model.item_index_.positions(ctx.item_ids[all_pos])
        if scores.shape[1] != len(ctx.model.item_index_):
            raise ResponseModelError(f"scores have {scores.shape[1]} offers; the hybrid has {len(ctx.model.item_index_)}")
        known_user = ctx.model.user_index_.positions(ctx.user_ids[upos]) >= 0
        known = known_user[:, None] & (mi >= 0)[None, :]
        fit = scoring.log_softmax_live(scores[:, np.maximum(mi, 0)], known, offers)
        return expit(scoring.logit_from_fit(user_rows @ self._parts()[0], fit, offers))

    def sets_fact(self, column: str) -> bool:
        """Whether :meth:`probability_of_scores` can move this model's own use of customer ``column``
        (a one-hot column, or one it does not use); a number or a date column is held."""
        enc = self.user_encoder_
        return column in enc.categorical or (column not in enc.numeric and column not in enc.dates)

    def explain_pairs(self, ctx: ResponseContext, user_ids: Iterable[Any], item_ids: Iterable[Any]) -> pd.DataFrame:
        """Exact attribution of each pair's logit: ``baseline + sum(contributors) == logit``.

        Contributions are ``coef * (x - mean of x over the fitting rows)``, summed per named group
        (``customer history: ...``, ``customer: <column>``, ``offer: <column>``, ``offer track
        record`` and ``fit with this customer's tastes (LightFM)``), so they say why this customer
        scores above or below the average exposed customer. The LightFM customer offset cancels
        inside the softmax and has no contributor of its own.
        """
        self._check_fitted()
        users = np.asarray(list(user_ids) if not isinstance(user_ids, (np.ndarray, pd.Series)) else user_ids, dtype=object)
        items = np.asarray(list(item_ids) if not isinstance(item_ids, (np.ndarray, pd.Series)) else item_ids, dtype=object)
        upos, ipos = ctx.user_positions(users), ctx.item_positions(items)
        fit_term = np.empty(len(upos))
        uu, inv = np.unique(upos, return_inverse=True)
        ii, jnv = np.unique(ipos, return_inverse=True)
        fit_term[:] = self._fit_term_block(ctx, uu, ii, ctx.live)[inv, jnv]
        x = np.hstack([ctx.user_matrix[upos], ctx.item_matrix[ipos], fit_term[:, None]])
        contrib = (x - self.x_mean_) * self.coef_
        groups = pd.Index(self.feature_groups_)
        codes, names = pd.factorize(groups)
        summed = contrib @ (codes[:, None] == np.arange(len(names))[None, :])  # feature columns summed per group
        baseline = self.intercept_ + float(self.x_mean_ @ self.coef_)
        frame = pd.DataFrame(summed, columns=list(names))
        frame.insert(0, BASELINE, baseline)
        frame.insert(0, C.ITEM_ID, items.astype(str))
        frame.insert(0, C.USER_ID, users.astype(str))
        frame[LOGIT] = baseline + contrib.sum(axis=1)
        frame[PROBABILITY] = expit(frame[LOGIT].to_numpy())
        return frame

    # -- persistence -----------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write ``path`` (.npz, arrays only) and ``path`` with suffix .json; returns the .npz path."""
        self._check_fitted()
        npz = Path(path).with_suffix(".npz")
        np.savez(npz, coef=self.coef_, x_mean=self.x_mean_)
        meta = {
            "format": RESPONSE_FORMAT, "format_version": RESPONSE_FORMAT_VERSION, "config": self.config_.to_dict(),
            "data_kind": self.data_kind_, "assumption": self.assumption_, "global_rate": self.global_rate_,
            "temperature": self.temperature_, "intercept": self.intercept_, "platt": self.platt_,
            "feature_names": self.feature_names_, "feature_groups": self.feature_groups_,
            "user_encoder": self.user_encoder_.state(), "item_encoder": self.item_encoder_.state(),
            "window": self.window_, "reliability": self.reliability_.to_dict(orient="records"),
            "scores_from": self.scores_from_,
        }
        npz.with_suffix(".json").write_text(dumps(meta), encoding="utf-8")
        return npz

    @classmethod
    def load(cls, path: str | Path) -> "ResponseModel":
        """Read a model written by :meth:`save` (no pickle)."""
        npz = Path(path).with_suffix(".npz")
        try:
            meta = json.loads(npz.with_suffix(".json").read_text(encoding="utf-8"))
            with np.load(npz, allow_pickle=False) as arrays:
                coef, x_mean = arrays["coef"], arrays["x_mean"]
        except (OSError, ValueError, KeyError) as exc:
            raise ResponseModelError(f"cannot read the response model at {npz}: {exc}") from None
        if meta.get("format") != RESPONSE_FORMAT:
            raise ResponseModelError(f"{npz} is not a PromoLens response model")
        if meta.get("format_version") != RESPONSE_FORMAT_VERSION:
            raise ResponseModelError(f"{npz} was written by an older PromoLens (format {meta.get('format_version')}): "
                                     "retrain the run to get response probabilities")
        rm = cls(ResponseConfig.from_dict(meta["config"]))
        rm.config_ = rm.config
        rm.coef_, rm.x_mean_ = coef, x_mean
        rm.data_kind_, rm.assumption_, rm.global_rate_ = meta["data_kind"], meta["assumption"], meta["global_rate"]
        rm.temperature_, rm.intercept_, rm.platt_ = meta["temperature"], meta["intercept"], meta["platt"]
        rm.feature_names_, rm.feature_groups_ = meta["feature_names"], meta["feature_groups"]
        rm.user_encoder_ = FactEncoder.from_state(meta["user_encoder"])
        rm.item_encoder_ = FactEncoder.from_state(meta["item_encoder"])
        rm.window_, rm.reliability_ = meta["window"], pd.DataFrame(meta["reliability"])
        rm.scores_from_ = str(meta.get("scores_from") or "hybrid")  # files written before served baselines: the hybrid
        return rm


__all__ = [
    "ResponseConfig", "ResponseModel", "ResponseContext", "ResponseModelError", "compared_offers", "scorer_name", "event_roles", "live_mask",
    "exposure_rows", "positive_only_rows", "FIT_GROUP", "CUSTOMER_PREFIX", "OFFER_PREFIX", "TRACK_GROUP", "BASELINE", "LOGIT",
    "PROBABILITY", "POSITIVE_ONLY_ASSUMPTION",
]
