"""Recommendations: find a customer, see their top offers and exactly why, with evidence and what-ifs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from pages import shared
from recsys.charts import attribution as attribution_charts
from recsys.core import columns as C
from recsys.core.i18n import N_
from recsys.core.i18n import gettext as _
from recsys.core.words import contributor_labels, event_word
from recsys.insight import attribution as A
from recsys.insight import chance as CH
from recsys.insight import drivers as D
from recsys.insight import recommend as R
from recsys.insight import whatif as W
from recsys.data.schema import ColumnKind
from recsys.workspace.recommend import saved_rerank_hook, with_chances
from recsys.workspace import serving
from recsys.workspace.store import WorkspaceError

charts = shared.CachedCharts(attribution_charts)  # figures built once per content and language

SHOWN_CONTRIBUTORS = 8
MAX_PICK = 500  # customers offered in the segment picker (the most active first)
MAX_DRIVER_CUSTOMERS = 20_000  # global drivers of an offer: a seeded sample beyond this
GROUP_KINDS = {ColumnKind.CATEGORICAL, ColumnKind.BOOLEAN}
FIND_SEGMENT, FIND_ID = "From a segment", "By customer id"
FIND_LABELS = {FIND_SEGMENT: N_("From a segment"), FIND_ID: N_("By customer id")}
VIEW_LABELS = {
    A.OFFER_VIEW: N_("this customer with the average offer: why this offer ranks here (recommended)"),
    A.SCORE_VIEW: N_("the average customer with the average offer: the whole score"),
}
EXCLUDE_LABELS = {
    R.EXCLUDE_REDEEMED: N_("offers they already redeemed"),
    R.EXCLUDE_RESPONDED: N_("offers they responded to in any way"),
    R.EXCLUDE_NONE: N_("nothing"),
}
#: Why an explanation is in shares of the score's gap, not chance points, although the list shows a chance.
RAW_SERVED = N_("The chance in the list comes from the serving model's response model, not from this model's score, "
                "so this explanation cannot be in chance points: each bar is a fact's share of the gap between this "
                "offer's score and the base. Serve the hybrid model (Train page) to see it in chance points.")
RAW_NEW = N_("This customer's chance rests on their facts and history, not on this score (the model did not train "
             "with them), so this explanation cannot be in chance points: each bar is a fact's share of the gap "
             "between this offer's score and the base.")
RAW_VIEW = N_("Compared with the average customer, the explanation cannot be in chance points: the customer-only "
              "part of a score moves all of their offers alike and does not change their chance. Each bar is a "
              "fact's share of the gap instead; compare with their average offer to see it in chance points.")
#: The caption of each reason an explanation is not in chance points (none for a run without a chance).
WHY_NOT_CHANCE = {CH.OTHER_SCORES: RAW_SERVED, CH.NEW_CUSTOMER: RAW_NEW, CH.CUSTOMER_PART: RAW_VIEW}
EVENT_WORDS = {C.REDEEM: N_("redeemed"), C.PURCHASE: N_("bought with"), C.CLICK: N_("clicked"), C.VIEW: N_("viewed")}
#: Table headers of this page's tables (their columns keep canonical names; the headers are translated).
HEADERS = [N_("rank"), N_("offer"), N_("item_id"), N_("score"), N_("why (strongest lifts)"), N_("note"), N_("value"),
           N_("timestamp"), N_("event"), N_("why (exact)"), N_("contributor"), N_("side"), N_("attribution"),
           N_("user_id"), N_("similarity"), N_("rank before"), N_("rank after"), N_("change"), N_("score before"),
           N_("score after"), N_("change in chance (pt)"), N_("chance before"), N_("chance after"),
           N_("share of the gap (%)")]
#: Columns of the explanation in chance points (percentage points of the response probability).
POINTS, CHANCE_BEFORE, CHANCE_AFTER = "change in chance (pt)", "chance before", "chance after"
#: The column of an explanation in shares of the gap between the score and its base (percent of that gap).
SHARE = "share of the gap (%)"


#: The header of a canonical column name that is not itself a word (shown as it is in English).
LABELS = {W.RANK_BEFORE: N_("rank before"), W.RANK_AFTER: N_("rank after"), W.SCORE_BEFORE: N_("score before"),
          W.SCORE_AFTER: N_("score after")}


def head(column: str) -> str:
    """The header of ``column`` in the session's language (a canonical name through :data:`LABELS`)."""
    return _(LABELS.get(column, column))  # English: the label's own words ("rank before", not "rank_before")


def headers(frame: pd.DataFrame, **config: Any) -> dict[str, Any]:
    """``column_config`` that shows ``frame``'s headers in the session's language (``config`` overrides)."""
    shown = {c: st.column_config.Column(head(str(c))) for c in frame.columns}
    return {**shown, **config}

shared.sidebar()
st.title(_("Recommendations"))
st.caption(_(
    "Which offers fit a customer, and exactly why: each score is split into what every customer and offer "
    "fact adds (exact Shapley values of the model, no sampling), with the evidence behind the customer's own "
    "history and what would change if one of their facts were different."
))
ws = shared.workspace()
dataset_id, run_id = shared.dataset_id(), shared.run_id()
if dataset_id is None:
    st.info(_("Import a dataset on the Data page first."))
    st.stop()
if run_id is None:
    st.info(_("Train a model on the Train page first: the recommendations come from it."))
    st.stop()


# ------------------------------------------------------------------------------- loading
_dataset = shared.cached_dataset  # one cache for every page


@st.cache_resource(max_entries=2, show_spinner=False)
def _explainer(workspace_path: str, run: str, created: str) -> A.ScoreExplainer:  # never mutated
    return A.ScoreExplainer(shared.cached_model(workspace_path, run, created))


@st.cache_data(max_entries=4, show_spinner="Counting each customer's interactions...")
def _activity(workspace_path: str, dataset: str, fingerprint: str) -> pd.Series:
    """Interactions per customer (to offer the most active customers of a segment first)."""
    return _dataset(workspace_path, dataset, fingerprint).interactions[C.USER_ID].astype(str).value_counts()


@st.cache_data(max_entries=16, show_spinner="Finding which customers this offer suits...")
def _drivers(workspace_path: str, run: str, created: str, fingerprint: str, day: str | None, item_id: str,
             view: str) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """One offer explained for (a sample of) every customer, each in their own explanation's unit (chance
    points when the run's response model allows it, else shares of their gap): summary, spread, unit."""
    explainer = _explainer(workspace_path, run, created)
    drivers = D.offer_drivers(explainer, item_id, max_users=MAX_DRIVER_CUSTOMERS, seed=0, view=view)  # type: ignore[arg-type]
    rm, ctx, _note = _scorer(workspace_path, run, created, fingerprint, day)
    drivers, unit = CH.drivers_in_unit(drivers, explainer, rm, ctx)
    return drivers.summary(), drivers.spread(), unit


def _scorer(workspace_path: str, run: str, created: str, fingerprint: str, day: str | None):  # noqa: ANN202 - never mutated
    """The run's response model and its context as of the campaign day (``None``s for an older run)."""
    return shared.cached_response_scorer(workspace_path, run, created, dataset_id, fingerprint, day)


try:
    info = ws.dataset(dataset_id)
    run = ws.run(run_id)
    dataset = _dataset(str(ws.path), dataset_id, info.fingerprint)
    explainer = _explainer(str(ws.path), run_id, str(run["created_at"]))
except (ValueError, WorkspaceError) as exc:  # a damaged or tampered model file, a busy workspace
    st.error(_("The model of run {run} could not be loaded: {error}").format(run=run_id, error=shared.md(exc)))
    st.stop()
model = explainer.model
key = (str(ws.path), run_id, str(run["created_at"]))


def _known(user: str) -> bool:
    """Whether the model has this customer (customers appended after training are scored from facts)."""
    return bool(model.user_index_.positions([user])[0] >= 0)


def in_words(frame: pd.DataFrame) -> pd.DataFrame:
    """An explanation's frame with its contributors in the current language (the data's names stay)."""
    return frame.assign(**{A.CONTRIBUTOR: contributor_labels(frame[A.CONTRIBUTOR])})


def names_of(item_ids: Any) -> np.ndarray:
    return R.item_names(dataset.items, item_ids)


# ------------------------------------------------------------------------------- finding a customer
def pick_customer() -> str | None:
    groups = [c.name for c in info.user_schema.columns if c.kind in GROUP_KINDS and c.name in dataset.users.columns]
    modes = [FIND_SEGMENT, FIND_ID] if groups else [FIND_ID]
    mode = st.radio(_("Find a customer"), modes, horizontal=True, key="reco_find", format_func=shared.in_this_language(lambda m: _(FIND_LABELS[m])))
    if mode == FIND_ID:
        typed = st.text_input(_("Customer id"), key="reco_user_id",
                              placeholder=_("e.g. {id}").format(id=model.user_index_.ids[0])).strip()
        if not typed:
            st.info(_("Type a customer id."))
            return None
        if not _known(typed) and not (dataset.users[C.USER_ID].astype(str) == typed).any():
            st.warning(_("No customer **{id}** in this dataset or model. Ids are matched exactly (case and leading "
                         "zeros count).").format(id=shared.md(typed)))
            return None
        return typed
    left, middle, right = st.columns(3)
    column = left.selectbox(_("Segment column"), groups, key="reco_group_col")
    values = sorted(dataset.users[column].dropna().astype(str).unique())
    if not values:
        st.info(_("No customer has a value in **{column}**.").format(column=shared.md(column)))
        return None
    value = middle.selectbox(_("Segment"), values, key="reco_group_value")
    members = dataset.users.loc[dataset.users[column].astype(str) == value, C.USER_ID].astype(str)
    activity = _activity(*key[:1], dataset_id, info.fingerprint).reindex(members).fillna(0).astype(int)
    ids = activity.sort_values(ascending=False, kind="stable").index[:MAX_PICK].tolist()
    return right.selectbox(
        _("Customer ({n} in this segment; the {listed} most active listed)").format(
            n=f"{len(members):,}", listed=min(len(members), MAX_PICK)), ids,
        format_func=shared.in_this_language(lambda u: _("{id} · {n} interactions").format(id=u, n=activity.get(u, 0))),
        key="reco_pick_user",
    )


def options() -> tuple[int, str, Any, str]:
    a, b, c = st.columns([1, 2, 2])
    k = int(a.number_input(_("Offers to show"), 1, 50, 10, key="reco_k"))
    exclude = b.selectbox(_("Leave out"), list(EXCLUDE_LABELS), format_func=shared.in_this_language(lambda x: _(EXCLUDE_LABELS[x])),
                          key="reco_exclude")
    default_day = R.default_campaign_day(dataset)
    active_on = None
    if default_day is not None:
        if c.checkbox(_("Only offers live on the campaign day"), value=True, key="reco_active",
                      help=_("Offers whose start and end dates contain the day; the chances are as of that day.")):
            active_on = c.date_input(_("Campaign day"), value=default_day.date(), key="reco_active_day")
    view = st.radio(_("Compare each score with"), list(VIEW_LABELS), format_func=shared.in_this_language(lambda v: _(VIEW_LABELS[v])),
                    key="reco_view",
                    help=_("Both are exact. The customer-only part of a score (the same for all of their offers) "
                           "does not change which offers they get, and LightFM's ranking losses leave it arbitrary; "
                           "the first choice leaves it out."))
    return k, exclude, active_on, view


# ------------------------------------------------------------------------------- the customer
def profile(user: str) -> None:
    left, right = st.columns([2, 3])
    facts = dataset.users[dataset.users[C.USER_ID].astype(str) == user]
    hidden = {c.name for c in info.user_schema.columns if c.kind == ColumnKind.IDENTIFIER}
    with left:
        st.markdown(_("#### Customer {id}").format(id=shared.md(user)))
        if not _known(user):
            st.info(_("New customer: they arrived after run {run} was trained, so the model scores them by their "
                      "facts alone. Update the model on the Train page to learn from their responses.").format(run=run_id))
        elif model.user_index_.positions([user])[0] >= model.n_warm_users_:
            st.info(_("New customer: no history in training, so the model knows them by their facts alone."))
        if len(facts):
            shown = facts.drop(columns=[c for c in facts.columns if c in hidden or c == C.USER_ID]).iloc[0]
            shared.table(shown.astype(str).rename("value").to_frame(), width="stretch", labels=LABELS,
                         column_config={"value": st.column_config.Column(_("value"))})
    with right:
        st.markdown(_("#### Recent history"))
        history = R.recent_history(dataset.interactions, user, n=8)
        if history.empty:
            st.caption(_("No interactions."))
        else:
            events = {e: event_word(e) for e in pd.unique(history[C.EVENT].astype(str))}  # the vocabulary, translated
            history = history.assign(offer=names_of(history[C.ITEM_ID]), **{C.EVENT: history[C.EVENT].astype(str).map(events)})
            shown = [c for c in (C.TIMESTAMP, C.EVENT, "offer", C.ITEM_ID, C.VALUE) if c in history.columns]
            shared.table(history[shown], hide_index=True, width="stretch", labels=LABELS,
                         column_config=headers(history[shown]))


def top_list(listed: R.ExplainedRecommendations, horizon: int | None) -> None:
    reco = listed.recommendations
    chance = _("likely to redeem within {days} days").format(days=horizon) if horizon else _("likely to redeem")
    table = pd.DataFrame({
        C.RANK: reco[C.RANK], "offer": names_of(reco[C.ITEM_ID]), C.ITEM_ID: reco[C.ITEM_ID],
        **({chance: 100 * reco[R.PROBABILITY]} if R.PROBABILITY in reco.columns else {}),
        C.SCORE: reco[C.SCORE], "why (strongest lifts)": reco[R.REASON],
        "note": np.where(model.item_index_.positions(reco[C.ITEM_ID]) >= model.n_warm_items_,
                         _("new offer: no track record yet"), ""),
    })
    scores_apart(table, chance, _("The raw score orders offers for one customer; it is not a probability and does "
                                  "not compare across customers. The explanations below split it into its parts."))


def scores_apart(table: pd.DataFrame, chance: str, note: str, **config: Any) -> None:
    """A list with its chance column: the model's raw score behind "Advanced" (shown only without a chance)."""
    advanced = chance in table.columns  # with a probability, the raw score is for the curious only
    shared.table(table.drop(columns=[C.SCORE]) if advanced else table, hide_index=True, width="stretch", labels=LABELS,
                 **config, column_config=headers(table, **{
                     C.SCORE: st.column_config.NumberColumn(head(C.SCORE), format="%.4f"),
                     chance: st.column_config.NumberColumn(chance, format="%.1f%%")}))
    if advanced:
        with st.expander(_("Advanced: the model's raw scores")):
            st.caption(note)
            shared.table(table[[C.RANK, "offer", C.SCORE]], hide_index=True, width="stretch", labels=LABELS,
                         column_config=headers(table[[C.RANK, "offer", C.SCORE]], **{
                             C.SCORE: st.column_config.NumberColumn(head(C.SCORE), format="%.4f")}))


# ------------------------------------------------------------------------------- one offer, explained
def explanation(listed: R.ExplainedRecommendations, item: str, rank: int) -> None:
    explained = CH.explain_offer(listed, item, explainer, rm, ctx, scores_row, top=SHOWN_CONTRIBUTORS)
    base, score = explained.base_score, explained.score
    shown = in_words(explained.parts)
    parts = shown.assign(**{A.ATTRIBUTION: shown[CH.RAW_ATTRIBUTION]})  # the raw score's, for "Advanced"
    a, b, c = st.columns(3)
    compared_with = _(listed.compared_with)
    a.metric(_("Rank"), rank)
    if explained.unit == CH.GAP_SHARES:
        gap_explanation(listed, item, explained, shown, b, compared_with)
    else:
        chance_explanation(listed, item, explained, shown, b, c)
    with st.expander(_("Advanced: the model's raw scores")):
        raw_explanation(parts, base, score, compared_with)


def chance_explanation(listed: R.ExplainedRecommendations, item: str, explained: CH.OfferExplanation,
                       shown: pd.DataFrame, b: Any, c: Any) -> None:
    """The explanation in chance points: each fact's share of the change in this offer's chance."""
    p0, p1 = explained.start, explained.end
    b.metric(chance_label, f"{100 * p1:.1f}%", f"{100 * (p1 - p0):+.1f} {_('pt')}",
             help=_("The chance that this customer redeems this offer within the horizon if it is sent on the "
                    "campaign day (as in the list above)."))
    c.metric(_("Compared with"), f"{100 * p0:.1f}%",
             help=_("The chance this offer would have if it suited this customer only as well as their average "
                    "offer: its score moved to that of their average offer, everything else the same."))
    st.plotly_chart(
        charts.attribution_waterfall(shown, p0, p1, _("compared with"), _("Why {offer} for customer {id}").format(
            offer=names_of([item])[0], id=listed.user_id), chance=True),
        width="stretch", key="reco_waterfall",
    )
    st.caption(_(
        "Starts at the chance this offer would have if it suited this customer only as well as their average offer "
        "({base}); each bar is what one customer or offer fact adds, in percentage points; together they make this "
        "offer's chance ({chance}) exactly. The model adds the facts up in its own raw score, and the chance does not "
        "grow in a straight line with that score, so each fact gets the share of the change in chance that its share "
        "of the change in score is. Facts of one column are summed (e.g. a customer who is not in the other segments)."
    ).format(base=f"{100 * p0:.1f}%", chance=f"{100 * p1:.1f}%"))
    with st.expander(_("The numbers")):
        table = shown[[A.CONTRIBUTOR, A.SIDE]].assign(**{
            A.SIDE: shown[A.SIDE].map(lambda s: _(s) if s else s), POINTS: 100 * shown[A.ATTRIBUTION]})
        shared.table(table, hide_index=True, width="stretch", labels=LABELS, key="reco_points",
                     column_config=headers(table, **{POINTS: st.column_config.NumberColumn(head(POINTS), format="%+.2f")}))


def gap_explanation(listed: R.ExplainedRecommendations, item: str, explained: CH.OfferExplanation,
                    shown: pd.DataFrame, metric_column: Any, compared_with: str) -> None:
    """The explanation when no chance of this score exists: each fact's share of the score's gap to its base."""
    row = listed.row(item)
    if R.PROBABILITY in listed.recommendations.columns:  # the list's chance (the serving response model's)
        metric_column.metric(chance_label, f"{100 * float(listed.recommendations[R.PROBABILITY].iloc[row]):.1f}%",
                             help=_("The chance in the list above."))
    if why_not in WHY_NOT_CHANCE:
        st.caption(_(WHY_NOT_CHANCE[why_not]))
    st.plotly_chart(
        charts.attribution_waterfall(shown, explained.start, explained.end, _("compared with"), _(
            "Why {offer} for customer {id}").format(offer=names_of([item])[0], id=listed.user_id), share=True),
        width="stretch", key="reco_waterfall",
    )
    above = explained.end >= 0
    st.caption((_(
        "The base is {what}. This offer's score stands above it; each bar is the share of that gap one customer or "
        "offer fact makes, in percent: together they make the whole gap (100%) exactly. A fact above 100% is offset "
        "by facts that hold the offer back. Facts of one column are summed (e.g. a customer who is not in the other "
        "segments).") if above else _(
        "The base is {what}. This offer's score stands below it; each bar is the share of that gap one customer or "
        "offer fact makes, in percent: together they make the whole gap (-100%) exactly. Facts of one column are "
        "summed (e.g. a customer who is not in the other segments).")).format(what=compared_with))
    with st.expander(_("The numbers")):
        table = shown[[A.CONTRIBUTOR, A.SIDE]].assign(**{
            A.SIDE: shown[A.SIDE].map(lambda s: _(s) if s else s), SHARE: 100 * shown[A.ATTRIBUTION]})
        shared.table(table, hide_index=True, width="stretch", labels=LABELS, key="reco_shares",
                     column_config=headers(table, **{SHARE: st.column_config.NumberColumn(head(SHARE), format="%+.1f%%")}))


def raw_explanation(parts: pd.DataFrame, base: float, score: float, compared_with: str) -> None:
    """The explanation in the model's raw score: its exact Shapley values."""
    st.caption(_("The raw score of this offer is {score}, against {base} for {what}. It orders offers for one "
                 "customer and is not a probability; the model's exact contributions to it (Shapley values):").format(
        score=f"{score:.4f}", base=f"{base:.4f}", what=compared_with))
    shown = parts[[A.CONTRIBUTOR, A.SIDE, A.ATTRIBUTION]]
    shared.table(shown.assign(**{A.SIDE: shown[A.SIDE].map(lambda s: _(s) if s else s)}), hide_index=True,
                 width="stretch", labels=LABELS, key="reco_parts", column_config=headers(shown, **{
                     A.ATTRIBUTION: st.column_config.NumberColumn(head(A.ATTRIBUTION), format="%+.4f")}))


def evidence(user: str, item: str) -> None:
    st.markdown(_("**Because they responded to** (their past offers closest to this one in the model's eyes)"))
    mine = R.customer_interactions(dataset.interactions, user)
    similar = D.similar_history(model, user, item, history=mine, n=3)
    if similar.empty:
        st.caption(_("No past responses to compare with (a new customer)."))
    for r in similar.itertuples(index=False):
        st.markdown(_("- {offer}: {event} (similarity {similarity})").format(
            offer=shared.md(names_of([r.item_id])[0]),
            event=shared.md(_(EVENT_WORDS[r.event]) if r.event in EVENT_WORDS else r.event),
            similarity=f"{r.similarity:.2f}"))
    st.markdown(_("**Customers most like this one who responded to this offer**"))
    try:
        peers = D.similar_responders(model, user, item, n=5)
    except ValueError as exc:
        st.caption(shared.md(exc))
        return
    if peers.empty:
        st.caption(_("Nobody responded to this offer in training (a new offer): its score rests on its facts."))
        return
    shown = [c.name for c in info.user_schema.columns if c.kind in GROUP_KINDS and not c.sensitive][:3]
    facts = dataset.users.assign(**{C.USER_ID: dataset.users[C.USER_ID].astype(str)}).set_index(C.USER_ID)
    table = peers.join(facts[shown], on=C.USER_ID)
    shared.table(table, hide_index=True, width="stretch", labels=LABELS,
                 column_config=headers(table[list(peers.columns)], **{
        D.SIMILARITY: st.column_config.NumberColumn(head(D.SIMILARITY), format="%.2f")}))


def what_if(listed: R.ExplainedRecommendations, item: str, k: int, exclude_ids: Any, candidates: Any, view: str) -> None:
    user = listed.user_id
    columns = W.changeable_columns(explainer)
    if not columns:
        st.caption(_("This model has no customer facts to change."))
        return
    left, right = st.columns(2)
    column = left.selectbox(_("Change this fact"), columns, key="reco_whatif_column")
    choices = W.column_choices(explainer, column)
    current = str(listed.explanation.data[0][list(listed.explanation.feature_names).index(column)])
    others = [c for c in choices if c != current]
    value = right.selectbox(_("to (now: {value})").format(value=current), others or choices, key="reco_whatif_value")
    changed = shared.busy(_("Re-scoring the offers with the changed fact..."), W.what_if)(explainer, user, column, value, k, candidates=candidates, exclude=exclude_ids,
                        exclude_seen=False, view=view)  # type: ignore[arg-type]
    before, after = changed.explain(explainer, item)
    s0, s1 = (float(e.base_values[0] + e.values[0].sum()) for e in (before, after))
    base1 = float(after.base_values[0])
    parts = in_words(A.contributions(after[0], SHOWN_CONTRIBUTORS, explainer.sides))
    moved = changed.changes.assign(offer=names_of(changed.changes[C.ITEM_ID]))
    a, b = st.columns(2)
    b.metric(_("Offers that enter the list"), int(moved[W.RANK_BEFORE].isna().sum()))
    title = _("Why this offer if {column} were {value}").format(column=column, value=value)
    if scores_row is None:  # no chance of this score: shares of its gap, as the explanation above
        ranks = moved.loc[moved[C.ITEM_ID].astype(str) == str(item), [W.RANK_BEFORE, W.RANK_AFTER]]
        now, was = (ranks.iloc[0] if len(ranks) else pd.Series({W.RANK_BEFORE: np.nan, W.RANK_AFTER: np.nan}))[
            [W.RANK_AFTER, W.RANK_BEFORE]]
        out = _("not in the top {k}").format(k=k)
        a.metric(_("Rank of this offer with {column} = {value}").format(column=column, value=value),
                 out if pd.isna(now) else f"#{int(now)}",
                 _("was {rank} ({value})").format(rank=out if pd.isna(was) else f"#{int(was)}", value=changed.old_value),
                 delta_color="off")
        shown = moved[["offer", W.RANK_BEFORE, W.RANK_AFTER, W.CHANGE]]
        shared.table(shown, hide_index=True, width="stretch", labels=LABELS, column_config=headers(shown))
        st.plotly_chart(charts.attribution_waterfall(CH.in_gap_shares(parts, base1, s1), 0.0, float(np.sign(s1 - base1)),
                                                     _("compared with"), title, share=True),
                        width="stretch", key="reco_whatif_waterfall")
        st.caption(_("Ranks follow the model's order, as in the list above; each bar is a fact's share of the gap "
                     "between this offer's score and the base, as in the explanation above."))
        with st.expander(_("Advanced: the model's raw scores")):
            raw_what_if(changed, moved, column, value, s0, s1)
        return
    # the chance with the changed fact: every offer's score moves with it, and so does the response model's own
    # use of the fact (a one-hot column; a number or date range it cannot set is held and said)
    facts = {column: value} if rm.sets_fact(column) else None
    after_row = explainer.score_all_items(changed.row_after)
    p_was = float(CH.offer_chances(rm, ctx, explainer, user, item, scores_row, [s0])[0])
    q0, q1 = (float(p) for p in CH.offer_chances(rm, ctx, explainer, user, item, after_row, [base1, s1], facts))
    a.metric(_("Chance of this offer with {column} = {value}").format(column=column, value=value), f"{100 * q1:.1f}%",
             _("{change} (was {value})").format(change=f"{100 * (q1 - p_was):+.1f} {_('pt')}", value=changed.old_value),
             help=_("{label}, if this customer's {column} were {value}.").format(label=chance_label, column=column,
                                                                                 value=value))
    offers = moved[C.ITEM_ID].astype(str).to_numpy(object)
    before_p = rm.probability_of_scores(ctx, user, offers, scores_row[None, :])[0]
    after_p = rm.probability_of_scores(ctx, user, offers, after_row[None, :], facts=facts)[0]
    shown = moved[["offer", W.RANK_BEFORE, W.RANK_AFTER, W.CHANGE]].assign(**{
        CHANCE_BEFORE: 100 * before_p, CHANCE_AFTER: 100 * after_p})
    shared.table(shown, hide_index=True, width="stretch", labels=LABELS, column_config=headers(shown, **{
        CHANCE_BEFORE: st.column_config.NumberColumn(head(CHANCE_BEFORE), format="%.1f%%"),
        CHANCE_AFTER: st.column_config.NumberColumn(head(CHANCE_AFTER), format="%.1f%%")}))
    st.plotly_chart(charts.attribution_waterfall(CH.in_chance_points(parts, base1, s1, q0, q1), q0, q1,
                                                 _("compared with"), title, chance=True),
                    width="stretch", key="reco_whatif_waterfall")
    st.caption(_("Ranks follow the model's order, as in the list above; each bar is a fact's share of the change in "
                 "chance, as in the explanation above."))
    if facts is None:
        st.caption(_("The chance uses {column} through the model's scores only: the response model's own use of it "
                     "(a number or a date) is held at the customer's value.").format(column=column))
    with st.expander(_("Advanced: the model's raw scores")):
        raw_what_if(changed, moved, column, value, s0, s1)


def raw_what_if(changed: W.WhatIf, moved: pd.DataFrame, column: str, value: str, s0: float, s1: float) -> None:
    """The what-if in the model's raw scores (for "Advanced")."""
    st.metric(_("Score of this offer with {column} = {value}").format(column=column, value=value), f"{s1:.4f}",
              _("{change} (was {value})").format(change=f"{s1 - s0:+.4f}", value=changed.old_value))
    raw = moved[["offer", W.SCORE_BEFORE, W.SCORE_AFTER]]
    shared.table(raw, hide_index=True, width="stretch", labels=LABELS, column_config=headers(raw, **{
        W.SCORE_BEFORE: st.column_config.NumberColumn(head(W.SCORE_BEFORE), format="%.4f"),
        W.SCORE_AFTER: st.column_config.NumberColumn(head(W.SCORE_AFTER), format="%.4f")}))


def list_drivers(listed: R.ExplainedRecommendations) -> None:
    drivers, unit = CH.list_in_unit(listed, explainer, rm, ctx, scores_row)
    drivers.index = contributor_labels(drivers.index)
    drivers.columns = [f"#{r} {n}" for r, n in zip(listed.recommendations[C.RANK], names_of(drivers.columns))]
    order = drivers.abs().mean(axis=1).sort_values(ascending=False).index
    points = unit == CH.CHANCE_POINTS
    st.plotly_chart(charts.attribution_heatmap(drivers.loc[order], _("Which facts matter across the whole list"),
                                               unit="points" if points else "share"),
                    width="stretch", key="reco_list_heatmap")
    st.caption(_("Each column is one listed offer's explanation: what each fact adds to its chance, in percentage "
                 "points.") if points else
               _("Each column is one listed offer's explanation: each fact's share of how far the offer's score "
                 "stands from its base (a column adds up to 100%, or -100% below it)."))


def offer_drivers(item: str, view: str) -> None:
    day = None if campaign_day is None else str(campaign_day)
    summary, spread, unit = _drivers(*key, info.fingerprint, day, item, view)
    summary, spread = in_words(summary), in_words(spread)
    points = unit == CH.CHANCE_POINTS
    st.plotly_chart(
        charts.attribution_spread(spread, summary, _("Who is {offer} for? Customer traits that lift it or hold it "
                                                     "back").format(offer=names_of([item])[0]),
                                  unit="points" if points else "share"),
        width="stretch", key="reco_drivers",
    )
    n = int(summary[D.CUSTOMERS].groupby(summary[A.COLUMN]).sum().max()) if len(summary) else 0
    what = (_("A trait's value is what it adds to that customer's chance of redeeming this offer, in percentage "
              "points, compared with their average offer: right means more likely.") if points else
            _("A trait's value is its share of how far this offer's score stands from that customer's base "
              "(100% is the whole gap): right means it lifts the offer in their list."))
    st.caption(_(
        "One row per customer trait, the bar at its mean over the customers who have it ({n} customers{sample}), "
        "dots where its customers sit (bigger: more customers). {what} A fact such as a segment adds the same "
        "score to everyone who has it; their own history differs from customer to customer."
    ).format(n=f"{n:,}", sample=_(", a random sample") if n >= MAX_DRIVER_CUSTOMERS else "", what=what))


def pair_interactions(user: str, item: str) -> None:
    table = explainer.interaction_table(user, item).T  # offer facts as rows: there are more of them
    table.index, table.columns = contributor_labels(table.index), contributor_labels(table.columns)
    st.plotly_chart(charts.attribution_heatmap(table, _("Which customer fact meets which offer fact"),
                                               _("customer facts"), _("offer facts")),
                    width="stretch", key="reco_pair_heatmap")
    st.caption(_("Each cell is the exact interaction of one customer fact with one offer fact; half of it goes to "
                 "each in the explanation above."))


# ------------------------------------------------------------------------------- the served baseline
@st.cache_data(max_entries=16, show_spinner="Listing the serving model's offers...")
def _served(workspace_path: str, run: str, created: str, fingerprint: str, user: str, k: int, exclude: str,
            day: str | None) -> serving.ServedList:
    model, response = _served_scorer(workspace_path, run, created, fingerprint, day)
    return serving.served_recommendations(ws, run, dataset, user, k=k, exclude=exclude,
                                          active_on=None if day is None else pd.Timestamp(day),
                                          model=model, response=response)


@st.cache_resource(max_entries=2, show_spinner="Loading the serving model...")
def _served_scorer(workspace_path: str, run: str, created: str, fingerprint: str, day: str | None):  # noqa: ANN202
    """The served baseline and its response model + context: built once per (run, day), not per customer viewed.

    They are those of the chances the page shows next to the hybrid's list (``shared.cached_response_scorer``:
    the serving model's response model, scoring with the served baseline, as of the same day), so that one
    context serves both lists instead of being built twice."""
    default = R.default_campaign_day(dataset)
    if day is not None or default is not None:
        rm, ctx, _note = shared.cached_response_scorer(workspace_path, run, created, dataset_id, fingerprint,
                                                       day if day is not None else str(default))
        if rm is not None and ctx is not None and rm.scores_from_ != serving.HYBRID:
            return ctx.model, (rm, ctx)
    return serving.served_scorer(ws, run, dataset, None if day is None else pd.Timestamp(day))


def served_section(served: serving.ServedList) -> None:
    """The list campaigns and exports use when the run serves its validated baseline, with its exact reasons."""
    label = serving.serving_label(ws, run_id)
    reco = served.recommendations
    st.markdown(_("#### Top {n} offers from {model} (serving this run)").format(n=len(reco), model=shared.md(label)))
    chance = (_("likely to redeem within {days} days").format(days=served.horizon_days) if served.horizon_days
              else _("likely to redeem"))
    table = pd.DataFrame({
        C.RANK: reco[C.RANK], "offer": names_of(reco[C.ITEM_ID]), C.ITEM_ID: reco[C.ITEM_ID],
        **({chance: 100 * reco[R.PROBABILITY]} if R.PROBABILITY in reco.columns else {}),
        C.SCORE: reco[C.SCORE], "why (exact)": reco[R.REASON],
    })
    scores_apart(table, chance, _("{model}'s raw score orders offers for one customer; it is not a probability and "
                                  "does not compare across customers.").format(model=shared.md(label)), key="reco_served")
    st.caption(
        _("{model} beat the hybrid on validation, so it serves this run (switch on the Train page). Its score "
          "of an offer is a sum over the offers in the customer's history, so each reason gives the exact share of the "
          "history offers that add most; customers without a history get recent best-sellers, and that is the whole "
          "reason. ").format(model=shared.md(label))
        + (_("Note: {note}.").format(note=shared.md(_(served.note))) if served.note else
           _("The chance comes from response probabilities fitted on this model's own scores.")))
    st.markdown("---")
    st.markdown(_("#### For comparison: the hybrid model (not serving this run)"))
    st.caption(_("Everything below explains the hybrid model's own list: its Shapley attributions, evidence, what-ifs "
                 "and drivers are the hybrid's, not the serving model's. The chances shown are the serving response "
                 "model's for the hybrid's offers."))


# ------------------------------------------------------------------------------- the screen
user = pick_customer()
if user is None:
    st.stop()
k, exclude, active_on, view = options()
served = None
if serving.serving_choice(ws, run_id) == serving.VALIDATED:
    try:
        served = _served(*key, info.fingerprint, user, k, exclude, None if active_on is None else str(active_on))
    except ValueError as exc:  # a customer or day the served model cannot list for (the hybrid list below may)
        st.warning(_("No list from the serving model: {error}").format(error=shared.md(exc)))
try:
    rerank, pool, rerank_note = saved_rerank_hook(ws, run_id, k, model=explainer.model, dataset=dataset)
    listed = shared.busy(_("Ranking the offers for this customer..."), R.recommend_for_customer)(explainer, user, dataset, k=k, exclude=exclude, active_on=active_on, view=view,
                                      rerank=rerank, pool=pool)
except R.NoLiveOffer as exc:
    st.warning(_("No list for this customer: {error}").format(error=shared.md(exc)))
    st.stop()
except ValueError as exc:
    st.error(_("No list for this customer: {error}").format(error=shared.md(exc)))
    st.stop()
campaign_day = active_on if active_on is not None else R.default_campaign_day(dataset)
rm, ctx, probability_note = _scorer(*key, info.fingerprint, None if campaign_day is None else str(campaign_day))
if rm is not None:  # the chance, and its reasons in percentage points of it (as in the Campaign page's file)
    listed = with_chances(listed, rm, ctx)
# The explanation speaks the chance of the list above when that chance is a function of the explained score:
# a response model fitted on the hybrid's scores, a customer the hybrid trained with, the customer's own average
# offer as the base (the customer-only part of a score shifts every offer alike and cancels in the chance);
# otherwise each fact's share of the gap between the score and its base (recsys.insight.chance).
chance_label = (_("likely to redeem within {days} days").format(days=rm.config_.horizon_days)
                if rm is not None and rm.config_.horizon_days else _("likely to redeem"))
why_not = CH.why_not_chance(rm, explainer, user, view)  # None: the explanation can be in chance points
scores_row = (explainer.score_all_items(explainer.user_rows([user]).toarray().ravel())  # every offer, float64
              if why_not is None else None)
if rerank is not None:
    cost = None
    if rm is not None:  # this customer's list by the model alone, to price the re-ranking in expected responses
        plain = R.with_probabilities(R.recommend_for_customer(explainer, user, dataset, k=k, exclude=exclude,
                                                              active_on=active_on, view=view), rm, ctx)
        with_it = float(listed.recommendations[R.PROBABILITY].sum())
        without = float(plain.recommendations[R.PROBABILITY].sum())
        cost = _("For this customer's top {k}: {with_it} expected responses with it, {without} with the "
                 "model alone ({change}).").format(k=k, with_it=f"{with_it:.2f}", without=f"{without:.2f}",
                                                   change=f"{with_it - without:+.2f}")
    shared.rerank_banner(ws, run_id, dataset.items, cost)
profile(user)
if served is not None:
    served_section(served)
st.markdown(_("#### Top {n} offers").format(n=len(listed.recommendations)))
if listed.recommendations.empty:
    st.warning(_("No offer is left after the filters: widen them above."))
    st.stop()
if rerank_note:
    st.caption(_("Order set by the {rule} saved with this run on the Fairness page; scores and "
                 "explanations are the model's own.").format(rule=shared.md(_(rerank_note))))
if probability_note:
    st.caption(_("Note: {note}.").format(note=shared.md(_(probability_note))))
else:
    st.caption(_("The chance is the probability that this customer redeems the offer within the horizon if it is sent "
                 "on the campaign day; it compares across customers. The order within the list is the model's own "
                 "(it predicts a customer's choice among offers better than re-ranking by the chance)."))
top_list(listed, None if rm is None else rm.config_.horizon_days)
ranked = listed.recommendations[C.ITEM_ID].tolist()
titles = dict(zip(ranked, names_of(ranked)))
# A new customer's explanation opens at their #1; the same customer keeps the open offer while it is listed. The
# choice is set here whenever the list changes, so that the browser is told (set_value) and shows the new label:
# the label carries the rank, which the same offer need not keep in a new list.
shown_for = (user, tuple(ranked))
if st.session_state.get("reco_offer_list") != shown_for:
    kept, before = st.session_state.get("reco_offer"), st.session_state.get("reco_offer_list")
    st.session_state["reco_offer"] = kept if before is not None and before[0] == user and kept in ranked else ranked[0]
    st.session_state["reco_offer_list"] = shown_for
item = st.selectbox(_("Open the explanation of"), ranked, key="reco_offer",
                    format_func=lambda i: f"#{ranked.index(i) + 1} · {titles[i]}")
explanation(listed, item, ranked.index(item) + 1)
if not _known(user):
    opened, tab = shared.lazy_tabs([_("Across the list"), _("Who else is it for")], key="reco_tab")
    with tab:  # only the open tab is computed and sent
        if opened == 0:
            list_drivers(listed)
        else:
            offer_drivers(item, view)
    st.caption(_("Evidence, what-ifs and fact x fact tables need a customer the model was trained with: "
                 "update the model on the Train page."))
    st.stop()
opened, tab = shared.lazy_tabs([_("Evidence"), _("What if"), _("Across the list"), _("Who else is it for"),
                                _("Fact x fact")], key="reco_tab",
                                keep={1: ("reco_whatif_column", "reco_whatif_value")})
with tab:  # only the open tab is computed and sent
    if opened == 0:
        evidence(user, item)
    elif opened == 1:
        excluded = R.redeemed_items(dataset.interactions, user) if exclude == R.EXCLUDE_REDEEMED else None
        if exclude == R.EXCLUDE_RESPONDED:
            upos = model.user_index_.positions([user])[0]
            excluded = model.item_index_.ids[model.seen_[upos].indices] if upos < model.seen_.shape[0] else None
        start, end = R.date_window_columns(info.item_schema, dataset.items)
        candidates = None if active_on is None else R.active_items(dataset.items, active_on, start, end)
        what_if(listed, item, k, excluded, candidates, view)
    elif opened == 2:
        list_drivers(listed)
    elif opened == 3:
        offer_drivers(item, view)
    else:
        pair_interactions(user, item)
