"""Recommendations: find a customer, see their top offers and exactly why, with evidence and what-ifs."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from pages import shared
from pages.shared import charts  # figures built once per content and language
from recsys.core import columns as C
from recsys.insight import attribution as A
from recsys.insight import drivers as D
from recsys.insight import recommend as R
from recsys.insight import whatif as W
from recsys.data.schema import ColumnKind
from recsys.workspace.campaign import probability_reasons
from recsys.workspace.recommend import response_scorer, saved_rerank_hook
from recsys.workspace import serving
from recsys.workspace.store import WorkspaceError

SHOWN_CONTRIBUTORS = 8
MAX_PICK = 500  # customers offered in the segment picker (the most active first)
MAX_DRIVER_CUSTOMERS = 20_000  # global drivers of an offer: a seeded sample beyond this
GROUP_KINDS = {ColumnKind.CATEGORICAL, ColumnKind.BOOLEAN}
FIND_SEGMENT, FIND_ID = "From a segment", "By customer id"
VIEW_LABELS = {
    A.OFFER_VIEW: "this customer with the average offer: why this offer ranks here (recommended)",
    A.SCORE_VIEW: "the average customer with the average offer: the whole score",
}
EXCLUDE_LABELS = {
    R.EXCLUDE_REDEEMED: "offers they already redeemed",
    R.EXCLUDE_RESPONDED: "offers they responded to in any way",
    R.EXCLUDE_NONE: "nothing",
}
EVENT_WORDS = {C.REDEEM: "redeemed", C.PURCHASE: "bought with", C.CLICK: "clicked", C.VIEW: "viewed"}

shared.sidebar()
st.title("Recommendations")
st.caption(
    "Which offers fit a customer, and exactly why: each score is split into what every customer and offer "
    "fact adds (exact Shapley values of the model, no sampling), with the evidence behind the customer's own "
    "history and what would change if one of their facts were different."
)
ws = shared.workspace()
dataset_id, run_id = shared.dataset_id(), shared.run_id()
if dataset_id is None:
    st.info("Import a dataset on the Data page first.")
    st.stop()
if run_id is None:
    st.info("Train a model on the Train page first: the recommendations come from it.")
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
def _drivers(workspace_path: str, run: str, created: str, item_id: str, view: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    explainer = _explainer(workspace_path, run, created)
    drivers = D.offer_drivers(explainer, item_id, max_users=MAX_DRIVER_CUSTOMERS, seed=0, view=view)  # type: ignore[arg-type]
    return drivers.summary(), drivers.points(max_points=250)


@st.cache_resource(max_entries=4, show_spinner="Computing response probabilities...")
def _scorer(workspace_path: str, run: str, created: str, fingerprint: str, day: str | None):  # noqa: ANN202 - never mutated
    """The run's response model and its context as of the campaign day (``None``s for an older run)."""
    return response_scorer(ws, run, dataset, model, None if day is None else pd.Timestamp(day))


try:
    info = ws.dataset(dataset_id)
    run = ws.run(run_id)
    dataset = _dataset(str(ws.path), dataset_id, info.fingerprint)
    explainer = _explainer(str(ws.path), run_id, str(run["created_at"]))
except (ValueError, WorkspaceError) as exc:  # a damaged or tampered model file, a busy workspace
    st.error(f"The model of run {run_id} could not be loaded: {shared.md(exc)}")
    st.stop()
model = explainer.model
key = (str(ws.path), run_id, str(run["created_at"]))


def _known(user: str) -> bool:
    """Whether the model has this customer (customers appended after training are scored from facts)."""
    return bool(model.user_index_.positions([user])[0] >= 0)


def names_of(item_ids: Any) -> np.ndarray:
    return R.item_names(dataset.items, item_ids)


# ------------------------------------------------------------------------------- finding a customer
def pick_customer() -> str | None:
    groups = [c.name for c in info.user_schema.columns if c.kind in GROUP_KINDS and c.name in dataset.users.columns]
    modes = [FIND_SEGMENT, FIND_ID] if groups else [FIND_ID]
    mode = st.radio("Find a customer", modes, horizontal=True, key="reco_find")
    if mode == FIND_ID:
        typed = st.text_input("Customer id", key="reco_user_id", placeholder="e.g. " + str(model.user_index_.ids[0])).strip()
        if not typed:
            st.info("Type a customer id.")
            return None
        if not _known(typed) and not (dataset.users[C.USER_ID].astype(str) == typed).any():
            st.warning(f"No customer **{shared.md(typed)}** in this dataset or model. Ids are matched exactly (case and leading zeros count).")
            return None
        return typed
    left, middle, right = st.columns(3)
    column = left.selectbox("Segment column", groups, key="reco_group_col")
    values = sorted(dataset.users[column].dropna().astype(str).unique())
    if not values:
        st.info(f"No customer has a value in **{shared.md(column)}**.")
        return None
    value = middle.selectbox("Segment", values, key="reco_group_value")
    members = dataset.users.loc[dataset.users[column].astype(str) == value, C.USER_ID].astype(str)
    activity = _activity(*key[:1], dataset_id, info.fingerprint).reindex(members).fillna(0).astype(int)
    ids = activity.sort_values(ascending=False, kind="stable").index[:MAX_PICK].tolist()
    return right.selectbox(
        f"Customer ({len(members):,} in this segment; the {min(len(members), MAX_PICK)} most active listed)", ids,
        format_func=lambda u: f"{u} · {activity.get(u, 0)} interactions", key="reco_pick_user",
    )


def options() -> tuple[int, str, Any, str]:
    a, b, c = st.columns([1, 2, 2])
    k = int(a.number_input("Offers to show", 1, 50, 10, key="reco_k"))
    exclude = b.selectbox("Leave out", list(EXCLUDE_LABELS), format_func=EXCLUDE_LABELS.get, key="reco_exclude")
    default_day = R.default_campaign_day(dataset)
    active_on = None
    if default_day is not None:
        if c.checkbox("Only offers live on the campaign day", value=True, key="reco_active",
                      help="Offers whose start and end dates contain the day; the chances are as of that day."):
            active_on = c.date_input("Campaign day", value=default_day.date(), key="reco_active_day")
    view = st.radio("Compare each score with", list(VIEW_LABELS), format_func=VIEW_LABELS.get, key="reco_view",
                    help="Both are exact. The customer-only part of a score (the same for all of their offers) "
                         "does not change which offers they get, and LightFM's ranking losses leave it arbitrary; "
                         "the first choice leaves it out.")
    return k, exclude, active_on, view


# ------------------------------------------------------------------------------- the customer
def profile(user: str) -> None:
    left, right = st.columns([2, 3])
    facts = dataset.users[dataset.users[C.USER_ID].astype(str) == user]
    hidden = {c.name for c in info.user_schema.columns if c.kind == ColumnKind.IDENTIFIER}
    with left:
        st.markdown(f"#### Customer {shared.md(user)}")
        if not _known(user):
            st.info(f"New customer: they arrived after run {run_id} was trained, so the model scores them by their "
                    "facts alone. Update the model on the Train page to learn from their responses.")
        elif model.user_index_.positions([user])[0] >= model.n_warm_users_:
            st.info("New customer: no history in training, so the model knows them by their facts alone.")
        if len(facts):
            shown = facts.drop(columns=[c for c in facts.columns if c in hidden or c == C.USER_ID]).iloc[0]
            st.dataframe(shown.astype(str).rename("value").to_frame(), width="stretch")
    with right:
        st.markdown("#### Recent history")
        history = R.recent_history(dataset.interactions, user, n=8)
        if history.empty:
            st.caption("No interactions.")
        else:
            history = history.assign(offer=names_of(history[C.ITEM_ID]))
            shown = [c for c in (C.TIMESTAMP, C.EVENT, "offer", C.ITEM_ID, C.VALUE) if c in history.columns]
            st.dataframe(history[shown], hide_index=True, width="stretch")


def top_list(listed: R.ExplainedRecommendations, horizon: int | None) -> None:
    reco = listed.recommendations
    chance = f"likely to redeem within {horizon} days" if horizon else "likely to redeem"
    table = pd.DataFrame({
        C.RANK: reco[C.RANK], "offer": names_of(reco[C.ITEM_ID]), C.ITEM_ID: reco[C.ITEM_ID],
        **({chance: 100 * reco[R.PROBABILITY]} if R.PROBABILITY in reco.columns else {}),
        C.SCORE: reco[C.SCORE], "why (strongest lifts)": reco[R.REASON],
        "note": np.where(model.item_index_.positions(reco[C.ITEM_ID]) >= model.n_warm_items_,
                         "new offer: no track record yet", ""),
    })
    advanced = chance in table.columns  # with a probability, the raw score is for the curious only
    st.dataframe(table.drop(columns=[C.SCORE]) if advanced else table, hide_index=True, width="stretch",
                 column_config={C.SCORE: st.column_config.NumberColumn(format="%.4f"),
                                chance: st.column_config.NumberColumn(format="%.1f%%")})
    if advanced:
        with st.expander("Advanced: the model's raw scores"):
            st.caption("The raw score orders offers for one customer; it is not a probability and does not "
                       "compare across customers. The explanations below split it into its parts.")
            st.dataframe(table[[C.RANK, "offer", C.SCORE]], hide_index=True, width="stretch",
                         column_config={C.SCORE: st.column_config.NumberColumn(format="%.4f")})


# ------------------------------------------------------------------------------- one offer, explained
def explanation(listed: R.ExplainedRecommendations, item: str, rank: int) -> None:
    row = listed.row(item)
    score = float(listed.recommendations[C.SCORE].iloc[row])
    base = listed.base_value(item)
    parts = listed.contributions(item, top=SHOWN_CONTRIBUTORS)
    a, b, c = st.columns(3)
    a.metric("Rank", rank)
    b.metric("Score", f"{score:.4f}")
    c.metric("Compared with", f"{base:.4f}", help=f"The score of {shared.md(listed.compared_with)}.")
    st.plotly_chart(
        charts.attribution_waterfall(parts, base, score, "compared with", f"Why {names_of([item])[0]} for customer {listed.user_id}"),
        width="stretch", key="reco_waterfall",
    )
    st.caption(
        f"Starts at the score of {listed.compared_with} ({base:.4f}); each bar is what one customer or offer "
        f"fact adds; together they make this score ({score:.4f}) exactly. Facts of one column are summed "
        "(e.g. a customer who is not in the other segments)."
    )
    with st.expander("The numbers"):
        st.dataframe(parts[[A.CONTRIBUTOR, A.SIDE, A.ATTRIBUTION]], hide_index=True, width="stretch", key="reco_parts",
                     column_config={A.ATTRIBUTION: st.column_config.NumberColumn(format="%+.4f")})


def evidence(user: str, item: str) -> None:
    st.markdown("**Because they responded to** (their past offers closest to this one in the model's eyes)")
    mine = dataset.interactions[dataset.interactions[C.USER_ID].astype(str).to_numpy() == user]
    similar = D.similar_history(model, user, item, history=mine, n=3)
    if similar.empty:
        st.caption("No past responses to compare with (a new customer).")
    for r in similar.itertuples(index=False):
        st.markdown(f"- {shared.md(names_of([r.item_id])[0])}: {shared.md(EVENT_WORDS.get(r.event, r.event))} (similarity {r.similarity:.2f})")
    st.markdown("**Customers most like this one who responded to this offer**")
    try:
        peers = D.similar_responders(model, user, item, n=5)
    except ValueError as exc:
        st.caption(shared.md(exc))
        return
    if peers.empty:
        st.caption("Nobody responded to this offer in training (a new offer): its score rests on its facts.")
        return
    shown = [c.name for c in info.user_schema.columns if c.kind in GROUP_KINDS and not c.sensitive][:3]
    facts = dataset.users.assign(**{C.USER_ID: dataset.users[C.USER_ID].astype(str)}).set_index(C.USER_ID)
    st.dataframe(peers.join(facts[shown], on=C.USER_ID), hide_index=True, width="stretch",
                 column_config={D.SIMILARITY: st.column_config.NumberColumn(format="%.2f")})


def what_if(listed: R.ExplainedRecommendations, item: str, k: int, exclude_ids: Any, candidates: Any, view: str) -> None:
    user = listed.user_id
    columns = W.changeable_columns(explainer)
    if not columns:
        st.caption("This model has no customer facts to change.")
        return
    left, right = st.columns(2)
    column = left.selectbox("Change this fact", columns, key="reco_whatif_column")
    choices = W.column_choices(explainer, column)
    current = str(listed.explanation.data[0][list(listed.explanation.feature_names).index(column)])
    others = [c for c in choices if c != current]
    value = right.selectbox(f"to (now: {current})", others or choices, key="reco_whatif_value")
    changed = shared.busy("Re-scoring the offers with the changed fact...", W.what_if)(explainer, user, column, value, k, candidates=candidates, exclude=exclude_ids,
                        exclude_seen=False, view=view)  # type: ignore[arg-type]
    before, after = changed.explain(explainer, item)
    s0, s1 = (float(e.base_values[0] + e.values[0].sum()) for e in (before, after))
    a, b = st.columns(2)
    a.metric(f"Score of this offer with {column} = {value}", f"{s1:.4f}", f"{s1 - s0:+.4f} (was {changed.old_value})")
    moved = changed.changes.assign(offer=names_of(changed.changes[C.ITEM_ID]))
    b.metric("Offers that enter the list", int(moved[W.RANK_BEFORE].isna().sum()))
    st.dataframe(moved[["offer", W.RANK_BEFORE, W.RANK_AFTER, W.CHANGE, W.SCORE_BEFORE, W.SCORE_AFTER]],
                 hide_index=True, width="stretch",
                 column_config={W.SCORE_BEFORE: st.column_config.NumberColumn(format="%.4f"),
                                W.SCORE_AFTER: st.column_config.NumberColumn(format="%.4f")})
    parts = A.contributions(after[0], SHOWN_CONTRIBUTORS, explainer.sides)
    st.plotly_chart(
        charts.attribution_waterfall(parts, float(after.base_values[0]), s1, "compared with",
                                     f"Why this offer if {column} were {value}"),
        width="stretch", key="reco_whatif_waterfall",
    )


def list_drivers(listed: R.ExplainedRecommendations) -> None:
    drivers = listed.drivers().drop(columns=A.SIDE)
    drivers.columns = [f"#{r} {n}" for r, n in zip(listed.recommendations[C.RANK], names_of(drivers.columns))]
    order = drivers.abs().mean(axis=1).sort_values(ascending=False).index
    st.plotly_chart(charts.attribution_heatmap(drivers.loc[order], "Which facts matter across the whole list"),
                    width="stretch", key="reco_list_heatmap")


def offer_drivers(item: str, view: str) -> None:
    summary, points = _drivers(*key, item, view)
    st.plotly_chart(
        charts.attribution_beeswarm(points, summary, f"Who is {names_of([item])[0]} for? Customer traits that lift it or hold it back"),
        width="stretch", key="reco_beeswarm",
    )
    n = int(summary[D.CUSTOMERS].groupby(summary[A.COLUMN]).sum().max()) if len(summary) else 0
    st.caption(
        f"One row per customer trait, the bar at its mean over the customers who have it ({n:,} customers"
        f"{', a random sample' if n >= MAX_DRIVER_CUSTOMERS else ''}), one dot per customer. A trait's value is what "
        "it adds to this offer's score for that customer, compared with their average offer: right means this offer "
        "rises in their list. A fact such as a segment adds the same to everyone who has it; their own history "
        "differs from customer to customer."
    )


def pair_interactions(user: str, item: str) -> None:
    table = explainer.interaction_table(user, item).T  # offer facts as rows: there are more of them
    st.plotly_chart(charts.attribution_heatmap(table, "Which customer fact meets which offer fact", "customer facts", "offer facts"),
                    width="stretch", key="reco_pair_heatmap")
    st.caption("Each cell is the exact interaction of one customer fact with one offer fact; half of it goes to each "
               "in the explanation above.")


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
    """The served baseline and its response model + context: built once per (run, day), not per customer viewed."""
    return serving.served_scorer(ws, run, dataset, None if day is None else pd.Timestamp(day))


def served_section(served: serving.ServedList) -> None:
    """The list campaigns and exports use when the run serves its validated baseline, with its exact reasons."""
    label = serving.serving_label(ws, run_id)
    reco = served.recommendations
    st.markdown(f"#### Top {len(reco)} offers from {shared.md(label)} (serving this run)")
    chance = f"likely to redeem within {served.horizon_days} days" if served.horizon_days else "likely to redeem"
    table = pd.DataFrame({
        C.RANK: reco[C.RANK], "offer": names_of(reco[C.ITEM_ID]), C.ITEM_ID: reco[C.ITEM_ID],
        **({chance: 100 * reco[R.PROBABILITY]} if R.PROBABILITY in reco.columns else {}),
        C.SCORE: reco[C.SCORE], "why (exact)": reco[R.REASON],
    })
    st.dataframe(table, hide_index=True, width="stretch", key="reco_served",
                 column_config={C.SCORE: st.column_config.NumberColumn(format="%.4f"),
                                chance: st.column_config.NumberColumn(format="%.1f%%")})
    st.caption(
        f"{shared.md(label)} beat the hybrid on validation, so it serves this run (switch on the Train page). Its score "
        "of an offer is a sum over the offers in the customer's history, so each reason gives the exact share of the "
        "history offers that add most; customers without a history get recent best-sellers, and that is the whole "
        "reason. " + (f"Note: {shared.md(served.note)}." if served.note else
                      "The chance comes from response probabilities fitted on this model's own scores."))
    st.markdown("---")
    st.markdown("#### For comparison: the hybrid model (not serving this run)")
    st.caption("Everything below explains the hybrid model's own list: its Shapley attributions, evidence, what-ifs "
               "and drivers are the hybrid's, not the serving model's. The chances shown are the serving response "
               "model's for the hybrid's offers.")


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
        st.warning(f"No list from the serving model: {shared.md(exc)}")
try:
    rerank, pool, rerank_note = saved_rerank_hook(ws, run_id, k, model=explainer.model, dataset=dataset)
    listed = shared.busy("Ranking the offers for this customer...", R.recommend_for_customer)(explainer, user, dataset, k=k, exclude=exclude, active_on=active_on, view=view,
                                      rerank=rerank, pool=pool)
except R.NoLiveOffer as exc:
    st.warning(f"No list for this customer: {shared.md(exc)}")
    st.stop()
except ValueError as exc:
    st.error(f"No list for this customer: {shared.md(exc)}")
    st.stop()
campaign_day = active_on if active_on is not None else R.default_campaign_day(dataset)
rm, ctx, probability_note = _scorer(*key, info.fingerprint, None if campaign_day is None else str(campaign_day))
if rm is not None:  # the chance, and its reasons in percentage points of it (as in the Campaign page's file)
    listed = R.with_probabilities(listed, rm, ctx)
    listed = replace(listed, recommendations=listed.recommendations.assign(**{R.REASON: probability_reasons(
        rm, ctx, [user] * len(listed.recommendations), listed.recommendations[C.ITEM_ID], offer_parts=True).to_numpy()}))
if rerank is not None:
    cost = None
    if rm is not None:  # this customer's list by the model alone, to price the re-ranking in expected responses
        plain = R.with_probabilities(R.recommend_for_customer(explainer, user, dataset, k=k, exclude=exclude,
                                                              active_on=active_on, view=view), rm, ctx)
        with_it = float(listed.recommendations[R.PROBABILITY].sum())
        without = float(plain.recommendations[R.PROBABILITY].sum())
        cost = (f"For this customer's top {k}: {with_it:.2f} expected responses with it, {without:.2f} with the "
                f"model alone ({with_it - without:+.2f}).")
    shared.rerank_banner(ws, run_id, dataset.items, cost)
profile(user)
if served is not None:
    served_section(served)
st.markdown(f"#### Top {len(listed.recommendations)} offers")
if listed.recommendations.empty:
    st.warning("No offer is left after the filters: widen them above.")
    st.stop()
if rerank_note:
    st.caption(f"Order set by the {shared.md(rerank_note)} saved with this run on the Fairness page; scores and "
               "explanations are the model's own.")
if probability_note:
    st.caption(f"Note: {shared.md(probability_note)}.")
else:
    st.caption("The chance is the probability that this customer redeems the offer within the horizon if it is sent "
               "on the campaign day; it compares across customers. The order within the list is the model's own "
               "(it predicts a customer's choice among offers better than re-ranking by the chance).")
top_list(listed, None if rm is None else rm.config_.horizon_days)
ranked = listed.recommendations[C.ITEM_ID].tolist()
titles = dict(zip(ranked, names_of(ranked)))
item = st.selectbox("Open the explanation of", ranked, key="reco_offer",
                    format_func=lambda i: f"#{ranked.index(i) + 1} · {titles[i]}")
explanation(listed, item, ranked.index(item) + 1)
if not _known(user):
    tabs = st.tabs(["Across the list", "Who else is it for"])
    with tabs[0]:
        list_drivers(listed)
    with tabs[1]:
        offer_drivers(item, view)
    st.caption("Evidence, what-ifs and fact x fact tables need a customer the model was trained with: "
               "update the model on the Train page.")
    st.stop()
tabs = st.tabs(["Evidence", "What if", "Across the list", "Who else is it for", "Fact x fact"])
with tabs[0]:
    evidence(user, item)
with tabs[1]:
    excluded = R.redeemed_items(dataset.interactions, user) if exclude == R.EXCLUDE_REDEEMED else None
    if exclude == R.EXCLUDE_RESPONDED:
        upos = model.user_index_.positions([user])[0]
        excluded = model.item_index_.ids[model.seen_[upos].indices] if upos < model.seen_.shape[0] else None
    start, end = R.date_window_columns(info.item_schema, dataset.items)
    candidates = None if active_on is None else R.active_items(dataset.items, active_on, start, end)
    what_if(listed, item, k, excluded, candidates, view)
with tabs[2]:
    list_drivers(listed)
with tabs[3]:
    offer_drivers(item, view)
with tabs[4]:
    pair_interactions(user, item)
