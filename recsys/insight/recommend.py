"""A customer's top-k with the exact explanation of each score, and the data helpers around it.

:func:`recommend_for_customer` is the list of the Recommendations page and of ``promolens
recommend`` (same inputs, same numbers): the model's own ranking over the offers that are allowed
(not already redeemed, active on a day), each score split into its drivers by
:class:`recsys.insight.attribution.ScoreExplainer`. :func:`recommendations_report` turns it into
the JSON the CLI prints. :func:`with_probabilities` adds each listed offer's response probability
(the run's response model, :mod:`recsys.learn.response`) next to its rank. The helpers below it read
the frames: offer date windows and the campaign day, what a customer redeemed, their latest
interactions and readable offer names; a customer's rows are found by index
(:mod:`recsys.data.lookup`, built once per interactions table), not by reading every row.

Only offers live on the campaign day are listed by default (the CLI's ``--as-of``, default the data's
last day, :func:`default_campaign_day`); when none is live, :class:`NoLiveOffer` says so and when
the last one ended.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Iterable

import numpy as np
import pandas as pd

from recsys.core import columns as C
from recsys.core.errors import PromoLensError
from recsys.data.lookup import customer_interactions
from recsys.data.schema import ColumnKind, TableSchema
from recsys.insight.attribution import (
    ATTRIBUTION, COLUMN, CONTRIBUTOR, LIST_VIEW, SCORE_VIEW, SIDE, Explanation, ScoreExplainer, View, contributions, reasons,
)

if TYPE_CHECKING:  # pragma: no cover
    from recsys.learn.model import HybridRecommender
    from recsys.data.dataset import Dataset

REASON = "reason"
OFFER = "offer"
#: P(the customer responds within the response model's horizon if the offer is sent), in [0, 1].
PROBABILITY = "probability"


class NoLiveOffer(PromoLensError, ValueError):
    """No offer is live on the campaign day (the message says when the last one ended)."""

#: Which interactions to leave out of a customer's list.
EXCLUDE_REDEEMED = "redeemed"  # offers the customer already redeemed or bought with
EXCLUDE_RESPONDED = "responded"  # offers with any positive response in training (the model's "seen")
EXCLUDE_NONE = "none"
EXCLUDE_CHOICES: tuple[str, ...] = (EXCLUDE_REDEEMED, EXCLUDE_RESPONDED, EXCLUDE_NONE)
_START_WORDS = ("start", "begin", "from", "launch", "valid_from", "open")
_END_WORDS = ("end", "expir", "until", "valid_to", "stop", "close")



@dataclass(frozen=True, eq=False)
class ExplainedRecommendations:
    """A customer's top-k and the exact explanation of each score.

    ``recommendations`` has ``user_id``, ``item_id``, ``score``, ``rank``, ``reason``; row j of
    ``explanation`` explains row j (``explanation.base_values[j] + explanation.values[j].sum()
    == score``). ``view`` and ``compared_with`` say what the scores are compared with.
    """

    user_id: str
    recommendations: pd.DataFrame
    explanation: Explanation
    view: str
    compared_with: str
    sides: dict[str, str] = field(default_factory=dict)

    def base_value(self, item_id: Any) -> float:
        """Where the explanation of one listed offer starts (the view's base)."""
        return float(np.asarray(self.explanation.base_values)[self.row(item_id)])

    def row(self, item_id: Any) -> int:
        hits = np.flatnonzero(self.recommendations[C.ITEM_ID].astype(str).to_numpy() == str(item_id))
        if not len(hits):
            raise ValueError(f"offer {item_id!r} is not in this customer's list")
        return int(hits[0])

    def contributions(self, item_id: Any, top: int = 6) -> pd.DataFrame:
        """Top contributors of one listed offer's score, the rest as "other"."""
        return contributions(self.explanation[self.row(item_id)], top, self.sides)

    def drivers(self) -> pd.DataFrame:
        """Attribution of every column (rows) for every listed offer (columns, in rank order)."""
        frame = pd.DataFrame(np.asarray(self.explanation.values).T, index=pd.Index(self.explanation.feature_names, name=COLUMN),
                             columns=self.recommendations[C.ITEM_ID].astype(str).to_numpy())
        frame.insert(0, SIDE, [self.sides.get(c, "") for c in frame.index])
        return frame


def recommend_explained(
    explainer: ScoreExplainer,
    user_id: Any,
    k: int = 10,
    *,
    candidates: Iterable[Any] | None = None,
    exclude: Iterable[Any] | None = None,
    exclude_seen: bool = True,
    new_users: pd.DataFrame | None = None,
    view: View = SCORE_VIEW,
    rerank: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    pool: int | None = None,
) -> ExplainedRecommendations:
    """One customer's top-``k`` (the model's own ``recommend``) with an exact explanation of each.

    With ``rerank`` (e.g. the run's saved fairness re-ranking), the model's top ``pool`` are
    re-ordered by it and cut at ``k``; each score and its explanation stay the model's own.

    Parameters
    ----------
    candidates
        Offers allowed in the list (default: every offer the model can score).
    exclude
        Offers left out (e.g. already redeemed).
    exclude_seen
        Also leave out offers with a positive response in training.
    new_users
        Feature rows of a customer the model has not seen (explained from their features alone).
    view
        What the scores are compared with (:data:`recsys.insight.attribution.VIEWS`);
        :data:`~recsys.insight.attribution.LIST_VIEW` answers "why this offer in this customer's list".

    Returns
    -------
    ExplainedRecommendations
        ``score`` is the float64 score ``base_value + sum of attributions`` (the model's own
        float32 score agrees to about 1e-5; ranks are the model's).
    """
    model = explainer.model
    cand = candidate_ids(model, candidates, exclude)
    reco = model.recommend([user_id], k=max(k, pool or k) if rerank else k, exclude_seen=exclude_seen,
                           candidates=cand, new_users=new_users)
    if rerank is not None:
        reco = rerank(reco).head(k).reset_index(drop=True)
    ex = explainer.explain(reco[C.USER_ID].to_numpy(object), reco[C.ITEM_ID].to_numpy(object),
                           new_users=new_users, view=view)
    reco = reco.assign(**{C.SCORE: ex.base_values + np.asarray(ex.values).sum(axis=1), REASON: reasons(ex)})
    return ExplainedRecommendations(str(user_id), reco, ex, view, explainer.baseline.compared_with(view), dict(explainer.sides))


def recommendations_report(
    explained: ExplainedRecommendations, items: pd.DataFrame | None = None, attributions: bool = True
) -> dict[str, Any]:
    """A customer's explained list as JSON-friendly data (what ``promolens recommend --json`` prints).

    Every offer has ``rank``, ``item_id``, ``offer`` (its name), ``score``, ``reason``, its
    ``probability`` when the list has one (:func:`with_probabilities`) and, with
    ``attributions``, its ``baseline`` and one ``{"name", "column", "side", "value"}`` per
    column (largest first), so that ``baseline + sum(value) == score``.
    """
    reco = explained.recommendations
    ex = explained.explanation
    base = np.asarray(ex.base_values, dtype=np.float64)
    names = item_names(items, reco[C.ITEM_ID])
    rows = []
    for j in range(len(reco)):  # one entry per listed offer (a short list)
        row: dict[str, Any] = {
            C.RANK: int(reco[C.RANK].iloc[j]), C.ITEM_ID: str(reco[C.ITEM_ID].iloc[j]), OFFER: str(names[j]),
            C.SCORE: float(reco[C.SCORE].iloc[j]), REASON: str(reco[REASON].iloc[j]),
        }
        if PROBABILITY in reco.columns:
            row[PROBABILITY] = float(reco[PROBABILITY].iloc[j])
        if attributions:
            parts = contributions(ex[j], top=len(ex.feature_names), sides=explained.sides)
            row["baseline"] = float(base[j])
            row["attributions"] = [
                {"name": str(c), "column": str(col), "side": str(s), "value": float(v)}
                for c, col, s, v in zip(parts[CONTRIBUTOR], parts[COLUMN], parts[SIDE], parts[ATTRIBUTION])
            ]
        rows.append(row)
    same_base = len(base) > 0 and bool(np.allclose(base, base[0], rtol=0, atol=1e-12))
    return {
        C.USER_ID: explained.user_id,
        "view": explained.view,
        "baseline": {"compared_with": explained.compared_with, C.SCORE: float(base[0]) if same_base else None},
        "recommendations": rows,
    }


def candidate_ids(model: "HybridRecommender", candidates: Iterable[Any] | None, exclude: Iterable[Any] | None) -> np.ndarray | None:
    """Candidate ids: the given ones known to the model (or every offer with features) minus ``exclude``."""
    if candidates is None and exclude is None:
        return None
    if candidates is None:
        scorable = np.diff(model.item_features_.indptr) > 0  # what the model recommends by default
        candidates = model.item_index_.ids[scorable]
    cand = pd.Index(pd.Series(list(candidates), dtype=object).astype(str)).unique()
    cand = cand[model.item_index_.positions(cand.to_numpy(object)) >= 0]
    if exclude is not None:
        cand = cand.difference(pd.Index(pd.Series(list(exclude), dtype=object).astype(str)), sort=False)
    return cand.to_numpy(object)


def recommend_for_customer(
    explainer: ScoreExplainer,
    user_id: Any,
    dataset: "Dataset | None" = None,
    *,
    k: int = 10,
    exclude: str = EXCLUDE_REDEEMED,
    active_on: Any = None,
    view: View = LIST_VIEW,
    rerank: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    pool: int | None = None,
) -> ExplainedRecommendations:
    """The Recommendations page's and ``promolens recommend``'s list: same inputs, same numbers.

    Parameters
    ----------
    dataset
        The run's dataset (for already-redeemed offers and offer date windows).
    exclude
        ``"redeemed"`` (offers the customer redeemed or bought with, from the dataset),
        ``"responded"`` (any positive response in training) or ``"none"``.
    active_on
        Only offers whose date window (start/end columns of the offers table) contains this day.
    view
        What the scores are compared with; default :data:`~recsys.insight.attribution.LIST_VIEW`.
    rerank, pool
        A re-ranking of the model's top ``pool`` (see :func:`recsys.workspace.recommend.saved_rerank_hook`).
    """
    if exclude not in EXCLUDE_CHOICES:
        raise ValueError(f"exclude must be one of {EXCLUDE_CHOICES}, got {exclude!r}")
    if exclude == EXCLUDE_REDEEMED and dataset is None:
        raise ValueError("leaving out redeemed offers needs the dataset's interactions")
    candidates = None
    if active_on is not None:
        if dataset is None:
            raise ValueError("filtering on active offers needs the dataset's offers table")
        start, end = date_window_columns(dataset.info.item_schema, dataset.items)
        if start is None and end is None:
            raise ValueError("the offers table has no start or end date column, so 'active on' cannot be checked")
        candidates = active_items(dataset.items, active_on, start, end)
        if not len(candidates):
            raise NoLiveOffer(no_live_offer_message(dataset.items, active_on, start, end))
    known = explainer.model.user_index_.positions([str(user_id)])[0] >= 0
    facts = None
    if not known:  # e.g. a customer appended after the model was trained: scored from their facts
        users = dataset.users if dataset is not None else None
        facts = users[users[C.USER_ID].astype(str) == str(user_id)] if users is not None and C.USER_ID in users.columns else None
        if facts is None or facts.empty:
            raise ValueError(f"customer {user_id!r} is not known to this model and has no row in the customers table")
    redeemed = redeemed_items(dataset.interactions, user_id) if exclude == EXCLUDE_REDEEMED else None  # type: ignore[union-attr]
    return recommend_explained(explainer, user_id, k, candidates=candidates, exclude=redeemed,
                               exclude_seen=exclude == EXCLUDE_RESPONDED, new_users=facts, view=view, rerank=rerank,
                               pool=pool)


def with_probabilities(explained: ExplainedRecommendations, response_model: Any, context: Any) -> ExplainedRecommendations:
    """The list with each offer's response probability (column :data:`PROBABILITY`, in [0, 1]).

    ``response_model`` is a fitted :class:`recsys.learn.response.ResponseModel` and ``context`` its
    :meth:`~recsys.learn.response.ResponseModel.context` as of the campaign day. The order of the
    offers within the customer stays the LightFM order: it validates better. On the bundled sample's
    test period (1,461 customers with a new response among the 42 offers live at the cutoff; model
    and response model fitted before it), a customer's live offers ranked by LightFM give
    precision@10 0.087 (recall@10 0.68) against 0.078 (0.61) when re-ranked by the probability
    (precision@5 0.131 against 0.112). So the probability is shown next to the rank, and used to
    compare customers, not to re-order a customer's list.
    """
    reco = explained.recommendations
    if reco.empty:
        return replace(explained, recommendations=reco.assign(**{PROBABILITY: np.zeros(0)}))
    p = response_model.predict_block(context, [explained.user_id], reco[C.ITEM_ID].astype(str).to_numpy(object))[0]
    return replace(explained, recommendations=reco.assign(**{PROBABILITY: p}))


# --------------------------------------------------------------------------------------------
# Data helpers for the page and the CLI
# --------------------------------------------------------------------------------------------


def date_window_columns(schema: TableSchema | None, items: pd.DataFrame | None = None) -> tuple[str | None, str | None]:
    """The offers table's start and end date columns, guessed from names ("start_date", "valid_to")."""
    names: list[str] = []
    if schema is not None:
        names = [c.name for c in schema.columns if c.kind == ColumnKind.DATE]
    if not names and items is not None:
        names = [c for c in items.columns if pd.api.types.is_datetime64_any_dtype(items[c])]

    def pick(words: tuple[str, ...]) -> str | None:
        return next((n for w in words for n in names if w in n.lower()), None)

    return pick(_START_WORDS), pick(_END_WORDS)


def parse_day(text: Any) -> pd.Timestamp:
    """A day from "2026-06-15" (or a date / timestamp), with a clear error otherwise."""
    try:
        day = pd.Timestamp(text)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{text!r} is not a date: write it as YYYY-MM-DD, e.g. 2026-06-15") from exc
    if pd.isna(day):
        raise ValueError(f"{text!r} is not a date: write it as YYYY-MM-DD, e.g. 2026-06-15")
    return day.normalize()


def active_items(items: pd.DataFrame, when: Any, start_column: str | None, end_column: str | None) -> np.ndarray:
    """Ids of the offers whose date window contains day ``when`` (both ends inclusive; missing = open)."""
    day = pd.Timestamp(when).normalize()
    ok = np.ones(len(items), dtype=bool)
    if start_column is not None:
        start = pd.to_datetime(items[start_column], errors="coerce").dt.normalize()
        ok &= (start.isna() | (start <= day)).to_numpy()
    if end_column is not None:
        end = pd.to_datetime(items[end_column], errors="coerce").dt.normalize()
        ok &= (end.isna() | (end >= day)).to_numpy()
    return items.loc[ok, C.ITEM_ID].astype(str).to_numpy(object)


def default_campaign_day(dataset: "Dataset") -> pd.Timestamp | None:
    """The data's last day when the offers table has date windows (``None``: every offer counts as live)."""
    start, end = date_window_columns(dataset.info.item_schema, dataset.items)
    if (start is None and end is None) or C.TIMESTAMP not in dataset.interactions.columns:
        return None
    last = pd.to_datetime(dataset.interactions[C.TIMESTAMP]).max()
    if pd.isna(last):
        return None
    return (last.tz_localize(None) if last.tzinfo is not None else last).normalize()


def no_live_offer_message(items: pd.DataFrame, when: Any, start_column: str | None, end_column: str | None) -> str:
    """Why no offer is live on ``when``: the last one ended, or the next starts later."""
    day = pd.Timestamp(when).normalize()
    text = f"no offer is live on {day.date()}"
    if end_column is not None:
        ends = pd.to_datetime(items[end_column], errors="coerce").dt.normalize()
        ended = ends[ends < day]
        if len(ended):
            text += f": the last one ended on {ended.max().date()}"
    if start_column is not None:
        starts = pd.to_datetime(items[start_column], errors="coerce").dt.normalize()
        later = starts[starts > day]
        if len(later):
            text += f"; the next starts on {later.min().date()}"
    return text + ". Pick another campaign day (YYYY-MM-DD) or include the offers that are not live."


def offer_ended_message(items: pd.DataFrame, item_id: Any, when: Any, start_column: str | None,
                        end_column: str | None) -> str | None:
    """A sentence when offer ``item_id`` is not live on ``when`` (ended or not started), else ``None``."""
    day = pd.Timestamp(when).normalize()
    row = items[items[C.ITEM_ID].astype(str) == str(item_id)]
    if row.empty:
        return None
    if end_column is not None:
        end = pd.to_datetime(row[end_column].iloc[0], errors="coerce")
        if pd.notna(end) and end.normalize() < day:
            return f"offer {item_id} ended on {end.date()}, before the campaign day {day.date()}"
    if start_column is not None:
        start = pd.to_datetime(row[start_column].iloc[0], errors="coerce")
        if pd.notna(start) and start.normalize() > day:
            return f"offer {item_id} starts on {start.date()}, after the campaign day {day.date()}"
    return None


def redeemed_items(interactions: pd.DataFrame, user_id: Any, events: tuple[str, ...] = C.RESPONSE_EVENTS) -> np.ndarray:
    """Offers this customer redeemed or bought with (any of ``events``)."""
    if C.EVENT not in interactions.columns:
        return np.zeros(0, dtype=object)
    hits = customer_interactions(interactions, user_id)
    hits = hits[hits[C.EVENT].astype(str).str.strip().str.lower().isin(events)]
    return pd.unique(hits[C.ITEM_ID].astype(str).to_numpy(object))


def recent_history(interactions: pd.DataFrame, user_id: Any, n: int = 10) -> pd.DataFrame:
    """The customer's ``n`` latest interactions, newest first."""
    mine = customer_interactions(interactions, user_id)
    if C.TIMESTAMP in mine.columns:
        mine = mine.sort_values(C.TIMESTAMP, ascending=False, kind="stable")
    return mine.head(n).reset_index(drop=True)


def item_names(items: pd.DataFrame | None, item_ids: Iterable[Any]) -> np.ndarray:
    """Readable names of offers ("Spring Shoes 20% off"); the id where there is none."""
    ids = pd.Series(list(item_ids) if not isinstance(item_ids, (pd.Series, np.ndarray)) else item_ids, dtype=object).astype(str)
    col = None if items is None else C.name_column(items.columns)
    if col is None:
        return ids.to_numpy(object)
    lookup = items.assign(**{C.ITEM_ID: items[C.ITEM_ID].astype(str)}).drop_duplicates(C.ITEM_ID).set_index(C.ITEM_ID)[col]
    named = ids.map(lookup)
    return named.where(named.notna() & (named.astype(str).str.strip() != ""), ids).astype(str).to_numpy(object)


__all__ = [
    "ExplainedRecommendations", "recommend_explained", "recommend_for_customer", "recommendations_report",
    "candidate_ids", "date_window_columns", "parse_day", "active_items", "redeemed_items", "recent_history",
    "customer_interactions",
    "item_names", "with_probabilities", "default_campaign_day", "no_live_offer_message", "offer_ended_message",
    "NoLiveOffer", "PROBABILITY", "REASON", "OFFER", "EXCLUDE_REDEEMED", "EXCLUDE_RESPONDED", "EXCLUDE_NONE", "EXCLUDE_CHOICES",
]
