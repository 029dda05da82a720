"""Segment profile cards: size, value, traits, offer types and the offers the model picks for them.

:func:`profile` assembles one segment's card from the lifts of :mod:`recsys.insight.lift` and,
with a model, the offers it scores highest for the segment (:func:`predicted_top_offers`, from a
seeded sample of members scored in blocks); :func:`compare_profiles` puts two cards side by side.
With the run's response model (``response``: the model and its context) the card's offers are
ranked and shown by what a marketer reads, the members' mean chance of redeeming each offer and how
far it stands above everyone's (``chance``, ``base_chance``, ``chance_uplift``), not by raw scores.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from recsys.core import columns as C
from recsys.core.arrays import factorize
from recsys.core.i18n import gettext as _
from recsys.insight.lift import top_lifts
from recsys.insight.segments import VALUE_LABEL, Segmentation, id_index, is_response, sample_rows


@dataclass(frozen=True)
class SegmentProfile:
    """The profile card of one segment."""

    name: str
    customers: int
    share: float
    value: float | None
    value_share: float | None
    value_per_customer: float | None
    active_share: float
    traits: pd.DataFrame
    offer_types: pd.DataFrame
    top_offers: pd.DataFrame | None
    distinctive_offers: pd.DataFrame | None = None

    def headline(self) -> dict[str, Any]:
        return {
            "customers": self.customers, "share of customers": self.share, "value": self.value,
            "share of value": self.value_share, "value per customer": self.value_per_customer,
            "share who responded": self.active_share,
        }


OFFER_SCORE_COLUMNS = ("mean_score", "base_mean_score", "uplift", "top_k_share", "base_top_k_share")
#: With a response model: the mean chance of redeeming each offer (members, everyone) and their difference.
OFFER_CHANCE_COLUMNS = ("chance", "base_chance", "chance_uplift")
_SCORE_BLOCK = 20_000_000  # scores held in memory at once (customers x offers)


def _score_summary(model: Any, user_ids: np.ndarray, k: int,
                   response: tuple[Any, Any] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Mean score of every offer over ``user_ids``, the share of them with it in their top k and, with
    ``response`` (a response model and its context), their mean chance of redeeming it (else None)."""
    item_bias, item_vec = model.item_representations()
    item_bias = np.asarray(item_bias, np.float64)
    n_items = len(item_bias)
    kk = min(k, n_items)
    total, in_top = np.zeros(n_items), np.zeros(n_items)
    chance = None if response is None else np.zeros(n_items)
    items = np.asarray(model.item_index_.ids, dtype=object)
    step = max(1, _SCORE_BLOCK // max(n_items, 1))
    for start in range(0, len(user_ids), step):  # blocks of customers bound the memory
        _, vectors = model.user_representations(user_ids[start:start + step])
        scores = item_bias[None, :] + np.asarray(vectors, np.float64) @ np.asarray(item_vec, np.float64).T
        total += scores.sum(axis=0)
        top = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
        in_top += np.bincount(top.ravel(), minlength=n_items)
        if response is not None:
            chance += response[0].predict_block(response[1], user_ids[start:start + step], items).sum(axis=0)
    n = max(len(user_ids), 1)
    return total / n, in_top / n, None if chance is None else chance / n


def base_scores(model: Any, base_ids: Iterable[Any] | None = None, *, k: int = 10, sample_size: int = 2000,
                seed: int = 0, response: tuple[Any, Any] | None = None,
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Everyone's side of :func:`offer_scores`: the mean score of every offer over a seeded sample of
    ``base_ids`` (default: every customer the model knows), the share with it in their top ``k`` and,
    with ``response``, their mean chance of redeeming it."""
    index = model.user_index_
    everyone = np.asarray(index.ids if base_ids is None else id_index(base_ids), dtype=object)
    everyone = everyone[index.positions(everyone) >= 0]
    base = everyone[sample_rows(len(everyone), sample_size, seed + 1)]
    return _score_summary(model, base, k, response)


def offer_scores(
    model: Any, members: Iterable[Any], *, k: int = 10, sample_size: int = 2000, seed: int = 0,
    base_ids: Iterable[Any] | None = None, base: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None,
    response: tuple[Any, Any] | None = None,
) -> pd.DataFrame:
    """How the model scores every offer for a segment, against everyone.

    For a seeded sample of members and of ``base_ids`` (default: every customer the model knows),
    the score of an offer is ``b_i + p_u·q_i`` (the customer's own bias ``b_u`` is left out: it is
    the same for all their offers and does not change their ranking). Returns one row per offer:
    ``item_id``, ``mean_score`` (members), ``base_mean_score`` (everyone), ``uplift`` (the
    difference), ``top_k_share`` (share of members with the offer in their own top ``k``) and
    ``base_top_k_share``. ``base`` is :func:`base_scores` with the same settings when the caller already has it
    (every segment of a segmentation shares it). With ``response`` (a response model and its context:
    :meth:`recsys.learn.response.ResponseModel.predict_block`) also :data:`OFFER_CHANCE_COLUMNS`, the same
    samples' mean chance of redeeming each offer.
    """
    index = model.user_index_
    member_ids = id_index(members).unique()
    known = member_ids[index.positions(member_ids) >= 0]
    if len(known) == 0:
        return pd.DataFrame(columns=[C.ITEM_ID, *OFFER_SCORE_COLUMNS,
                                     *(OFFER_CHANCE_COLUMNS if response is not None else ())])
    sample = np.asarray(known[sample_rows(len(known), sample_size, seed)], dtype=object)
    mean, top_share, chance = _score_summary(model, sample, k, response)
    if base is None or (response is not None and base[2] is None):
        base = base_scores(model, base_ids, k=k, sample_size=sample_size, seed=seed, response=response)
    base_mean, base_top, base_chance = base
    out = pd.DataFrame({
        C.ITEM_ID: np.asarray(model.item_index_.ids, dtype=object).astype(str),
        "mean_score": mean, "base_mean_score": base_mean, "uplift": mean - base_mean,
        "top_k_share": top_share, "base_top_k_share": base_top,
    })
    if chance is not None:
        out = out.assign(chance=chance, base_chance=base_chance, chance_uplift=chance - base_chance)
    return out


def predicted_top_offers(
    model: Any, members: Iterable[Any], *, n: int = 5, k: int = 10, rank_by: str = "score", sample_size: int = 2000,
    seed: int = 0, base_ids: Iterable[Any] | None = None,
) -> pd.DataFrame:
    """The ``n`` offers the model scores highest for a segment (``rank_by="score"``), or scores
    most above everyone else (``rank_by="uplift"``); columns as in :func:`offer_scores`."""
    if rank_by not in ("score", "uplift"):
        raise ValueError(f"rank_by must be 'score' or 'uplift', got {rank_by!r}")
    scores = offer_scores(model, members, k=k, sample_size=sample_size, seed=seed, base_ids=base_ids)
    return _top_offers(scores, n, rank_by)


def _top_offers(scores: pd.DataFrame, n: int, rank_by: str) -> pd.DataFrame:
    """The ``n`` first offers by score (or by chance, when ``scores`` has it) or by how far they stand above everyone."""
    if "chance" in scores.columns:
        key = ["chance", "top_k_share"] if rank_by == "score" else ["chance_uplift", "chance"]
    else:
        key = ["mean_score", "top_k_share"] if rank_by == "score" else ["uplift", "mean_score"]
    return scores.sort_values(key, ascending=False).head(n).reset_index(drop=True)


@dataclass(frozen=True)
class ProfileBasis:
    """What every profile card of one segmentation shares, computed once by :func:`profile_basis` instead of
    once per card: each customer's value, who responded, and the model's scores for everyone."""

    value: pd.Series  # value per customer of the universe (0 without any); empty when the data has no value
    responders: pd.Index  # customers with a response (a row that is not an exposure)
    base: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None  # :func:`base_scores` over the universe; None without a model


def profile_basis(segmentation: Segmentation, interactions: pd.DataFrame, model: Any | None = None, *,
                  seed: int = 0, response: tuple[Any, Any] | None = None) -> ProfileBasis:
    """The shared part of :func:`profile` for every segment of ``segmentation`` (one pass over the interactions);
    ``response`` as for :func:`offer_scores`."""
    values = _value_by_user(interactions)
    value = values.reindex(segmentation.labels.index).fillna(0.0) if not values.empty else values
    rows = interactions[is_response(interactions)]
    responders = id_index(factorize(rows[C.USER_ID])[1])  # ids are strings in the workspace
    base = base_scores(model, segmentation.labels.index, seed=seed, response=response) if model is not None else None
    return ProfileBasis(value, responders, base)


def _value_by_user(interactions: pd.DataFrame) -> pd.Series:
    if C.VALUE not in interactions.columns or not interactions[C.VALUE].notna().any():
        return pd.Series(dtype=float)
    user, users = factorize(interactions[C.USER_ID])
    users = id_index(users)  # ids are strings in the workspace
    return pd.Series(np.bincount(user, weights=interactions[C.VALUE].astype("float64").fillna(0.0).to_numpy(),
                                 minlength=len(users)), index=users)


def profile(
    segmentation: Segmentation,
    segment: str,
    *,
    interactions: pd.DataFrame,
    trait_lifts: pd.DataFrame,
    offer_lifts: pd.DataFrame,
    model: Any | None = None,
    items: pd.DataFrame | None = None,
    n: int = 5,
    seed: int = 0,
    basis: ProfileBasis | None = None,
    response: tuple[Any, Any] | None = None,
) -> SegmentProfile:
    """The profile card of ``segment``: size, value share, top traits and offer types, top offers
    (highest predicted score) and distinctive offers (scored most above everyone else).

    ``trait_lifts`` / ``offer_lifts`` come from :func:`~recsys.insight.lift.trait_lift` /
    :func:`~recsys.insight.lift.offer_lift` on the same segmentation (computed once for all
    segments). Top offers by predicted score need ``model``; ``items`` adds a readable name when it
    has one (:func:`recsys.core.columns.name_column`). ``basis`` is :func:`profile_basis` of the same
    segmentation, interactions, model and seed (computed here when absent): the part every card shares.
    ``response`` (the run's response model and its context) ranks and shows the offers by the members'
    mean chance of redeeming them (:func:`offer_scores`).
    """
    members = segmentation.members(segment)
    n_all = segmentation.n_customers
    basis = basis if basis is not None else profile_basis(segmentation, interactions, model, seed=seed,
                                                          response=response)
    value = value_share = per_customer = None
    if not basis.value.empty:
        total = float(basis.value.sum())
        value = float(basis.value.reindex(members).sum())
        value_share = value / total if total > 0 else None
        per_customer = value / max(len(members), 1)
    active = float(pd.Index(members).isin(basis.responders).mean()) if len(members) else 0.0
    top_offers = distinctive_offers = None
    if model is not None:
        scores = offer_scores(model, members, seed=seed, base_ids=segmentation.labels.index, base=basis.base,
                              response=response)
        label = C.name_column(items.columns) if items is not None else None
        if label is not None and not scores.empty:
            unique_items = items.drop_duplicates(C.ITEM_ID)
            titles = pd.Series(unique_items[label].to_numpy(), index=id_index(unique_items[C.ITEM_ID]))
            scores.insert(1, label, scores[C.ITEM_ID].map(titles).to_numpy())
        top_offers, distinctive_offers = _top_offers(scores, n, "score"), _top_offers(scores, n, "uplift")
    return SegmentProfile(
        name=segment, customers=len(members), share=len(members) / max(n_all, 1), value=value,
        value_share=value_share, value_per_customer=per_customer, active_share=active,
        traits=top_lifts(trait_lifts, segment, n), offer_types=top_lifts(offer_lifts, segment, n),
        top_offers=top_offers, distinctive_offers=distinctive_offers,
    )


def compare_profiles(a: SegmentProfile, b: SegmentProfile) -> pd.DataFrame:
    """Headline figures of two segments side by side (rows: figures; columns: the two segments)."""
    names = [a.name, b.name] if a.name != b.name else [f"{a.name} (A)", f"{b.name} (B)"]
    return pd.DataFrame({names[0]: a.headline(), names[1]: b.headline()})


__all__ = ["SegmentProfile", "ProfileBasis", "profile", "profile_basis", "compare_profiles", "offer_scores", "base_scores",
           "predicted_top_offers", "OFFER_SCORE_COLUMNS"]


#: A trait counts for a segment's name when the segment holds it this many times more than everyone.
NAME_MIN_LIFT = 1.2


def business_name(traits: pd.DataFrame, offer_types: pd.DataFrame | None = None, *, fallback: str = "",
                  n: int = 2) -> str:
    """A segment name in business words from its top traits: "deal seeker · north · likes food offers".

    ``traits`` / ``offer_types`` are a profile's lift tables (``column``, ``value_label``, ``lift``,
    best first). Only values held at least 1.2 times more often than by everyone count; ``fallback``
    (e.g. "cluster 2") when none does. The marketer can edit it before saving.

    >>> traits = pd.DataFrame({"column": ["segment", "region", "age"], "value_label": ["deal_seeker", "north", "55+"],
    ...                        "lift": [2.1, 1.6, 1.1]})
    >>> business_name(traits, pd.DataFrame({"column": ["category"], "value_label": ["food"], "lift": [1.8]}))
    'deal seeker · north · likes food offers'
    """
    def strong(frame: pd.DataFrame | None, k: int) -> list[str]:
        if frame is None or frame.empty or "lift" not in frame.columns:
            return []
        kept = frame[frame["lift"] >= NAME_MIN_LIFT].head(k)
        return [str(v).replace("_", " ").strip() for v in kept[VALUE_LABEL]] if VALUE_LABEL in kept.columns else []

    words = strong(traits, n) + [_("likes {offer} offers").format(offer=v) for v in strong(offer_types, 1)]
    return " · ".join(words) or fallback
