"""Campaign: pick offers and who is eligible, preview the audience, export the list, download past lists."""

from __future__ import annotations

import hashlib
import json
import shlex
from datetime import date
from typing import Any

import pandas as pd
import streamlit as st

from pages import shared
from pages.shared import charts  # figures built once per content and language
from recsys.workspace import campaign
from recsys.campaign import arms as ab
from recsys.campaign import export
from recsys.core import columns as C
from recsys.workspace.campaign import Campaign, CampaignError, CampaignRequest
from recsys.data.schema import ColumnKind
from recsys.insight import recommend as reco
from recsys.workspace import exports, runs
from recsys.workspace.store import WorkspaceError
from recsys.campaign.spec import AudienceSpec, UserFilter

REQUEST_KEY = "campaign_request"
EXPORTS_AT_KEY = "campaign_exports_at"
LAST_EXPORT_KEY = "campaign_last_export"
LIMITS = {
    "top": "Top N customers per offer",
    "coupons": "A budget in coupons (whole campaign)",
    "money": "A budget in money (whole campaign)",
    "threshold": "Everyone above a chance to redeem (%)",
}
AMOUNT_HELP = (
    "Top N: coupons per offer. Coupon budget: coupons in the whole campaign. Money budget: the amount "
    "to spend, at the cost per coupon chosen below. Chance to redeem: the lowest chance (in %, e.g. 5) that a "
    "customer redeems the offer if sent (runs trained before response probabilities: the lowest model score)."
)
AS_MONEY = "(it is already a money amount)"
GROUP_KINDS = {ColumnKind.CATEGORICAL, ColumnKind.BOOLEAN}
MAX_FILTER_VALUES = 60
PREVIEW_ROWS = 500
CONTROL_TEXT = (
    "**The control group is there to measure what the campaign changed.** {control:,} customers were "
    "chosen exactly like the others, then drawn at random to get **no coupon**: these customers get no "
    "coupon so we can measure the lift later on the Measure page (the coupon's effect = what the "
    "treatment group does minus what this control group does). Keep them in the file, do not send them anything."
)

shared.sidebar()
st.title("Campaign")
st.caption(
    "Who should get which coupon? Choose offers and who is eligible, preview the audience the model picks "
    "(sizes, scores, mix and fairness), then export the list with a control group for measuring the lift."
)
ws = shared.workspace()


# ------------------------------------------------------------------------------- loading
_dataset = shared.cached_dataset  # one cache for every page


_model = shared.cached_model


@st.cache_data(max_entries=4, show_spinner="Listing the customers...")
def _base(workspace_path: str, dataset: str, fingerprint: str) -> pd.Index:
    return campaign.customer_universe(_dataset(workspace_path, dataset, fingerprint))


class _NotBuilt(LookupError):
    """The campaign of a key is not in the cache (yet, or any more)."""


@st.cache_data(max_entries=4, show_spinner=False)
def _built(key: str, _campaign: Campaign | None = None) -> Campaign:
    # Only `key` is hashed: called with a campaign it stores it, called without it returns the
    # stored one or raises. The build itself runs outside the cache so its progress bar can live
    # in the page (elements updated from inside a cached function cannot be replayed).
    if _campaign is None:
        raise _NotBuilt(key)
    return _campaign


def newest_export() -> str | None:
    past = ws.exports()
    return past[0]["id"] if past else None


def campaign_key(request: CampaignRequest, fingerprint: str, run_created: str, exports_at: str | None) -> str:
    """What the list depends on: the request, the data, the run, the segments and (for the contact rule)
    the exports made before the preview was asked for (so exporting it does not change it)."""
    spec = request.spec
    segments = [(s["id"], str(s["created_at"]), s["n_members"]) for s in ws.segments() if s["id"] in spec.segments]
    made_before = exports_at if spec.exclude_contacted_days is not None else None
    payload = [request.to_dict(), fingerprint, run_created, segments, made_before, str(ws.path)]
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


# ------------------------------------------------------------------------------- the form
def group_columns(info: Any) -> list[str]:  # noqa: ANN401 - data.dataset.DatasetInfo
    """Customer columns with groups to filter or audit by (sensitive ones included)."""
    return [c.name for c in info.user_schema.columns if c.kind in GROUP_KINDS]


def column_label(info: Any, name: str) -> str:  # noqa: ANN401
    sensitive = set(info.user_schema.sensitive())
    return f"{name} (sensitive)" if name in sensitive else name


def audience_form(info: Any, dataset: Any, model: Any, run_id: str) -> CampaignRequest | None:  # noqa: ANN401
    """The audience spec as a form; the request when submitted and valid (else None, message shown)."""
    start, end = reco.date_window_columns(info.item_schema, dataset.items)
    campaign_day = reco.default_campaign_day(dataset)
    choices = campaign.offer_choices(dataset.items, model, start=start, end=end, day=campaign_day)
    status = campaign.offer_status(dataset.items, list(choices), start, end, campaign_day)
    ended = int((status == campaign.ENDED).sum())
    if ended and not st.toggle(f"Show the {ended:,} ended offers too", False, key="campaign_show_ended",
                               help=f"Offers whose end date is before {campaign_day:%d %b %Y} (the data's last day)."):
        choices = {i: label for i, label in choices.items() if status.get(i) != campaign.ENDED}
    has_probability = runs.get_run(ws, run_id).targeting.get("status") == "ok"
    numeric_items = [c for c in dataset.items.columns
                     if c != C.ITEM_ID and pd.api.types.is_numeric_dtype(dataset.items[c])]
    segments = ws.segments(info.id)
    segment_labels = {s["id"]: f"{s['name']} ({int(s['n_members']):,} customers)" for s in segments}
    filter_columns = group_columns(info)
    with st.form("campaign_form"):
        offers = st.multiselect("Offers to target", list(choices), format_func=choices.get, key="campaign_offers",
                                placeholder="Type to search offers by name")
        st.markdown("**Who is eligible**")
        left, right = st.columns(2)
        chosen_segments = left.multiselect(
            "Only members of these saved segments (any of them)", list(segment_labels), format_func=segment_labels.get,
            key="campaign_segments", placeholder="Everyone" if segments else "No saved segments (see the Segments page)",
        )
        active_since = right.date_input("Only customers active since (optional)", value=None, key="campaign_active_since")
        contacted = left.number_input(
            "Leave out customers sent a coupon in the last N days (0 = off)", 0, 3650, 0, key="campaign_contacted",
            help="Counts coupon impressions in the data and the customers sent coupons by exports made here.",
        )
        exclude_redeemed = right.checkbox("Leave out customers who already redeemed the offer", True, key="campaign_redeemed")
        filters: dict[str, list[str]] = {}
        if filter_columns:
            with st.expander("Customer filters (empty = everyone)"):
                cols = st.columns(min(3, len(filter_columns)))
                for i, column in enumerate(filter_columns):
                    values = sorted(dataset.users[column].dropna().astype(str).unique().tolist())[:MAX_FILTER_VALUES]
                    filters[column] = cols[i % len(cols)].multiselect(
                        shared.md(column_label(info, column)), values, key=f"campaign_filter_{column}", placeholder="Any"
                    )
        st.markdown("**How many**")
        left, middle, right = st.columns(3)
        limit = left.radio("Limit", list(LIMITS), format_func=LIMITS.get, key="campaign_limit")
        amount = middle.number_input("Amount", value=500.0, step=50.0, format="%g", key="campaign_amount", help=AMOUNT_HELP)
        cap = right.number_input("Most coupons per customer", 1, max(1, len(choices)), 1, key="campaign_cap")
        cost_column = middle.selectbox(
            "Cost of one coupon (money budget)", numeric_items or ["(no number column)"], key="campaign_cost_column",
            help="The offers column with the discount value of one coupon.",
        )
        percent_of = right.selectbox(
            "...as a percentage of", [AS_MONEY, *numeric_items], key="campaign_percent_of",
            help="When the cost column holds a percentage (e.g. discount depth), the column it is a percentage "
                 "of (e.g. minimum spend): cost = percentage / 100 x that column.",
        )
        holdout = left.slider("Control group: % of customers who get no coupon", 0, 50, 10, 1, format="%d%%",
                              key="campaign_holdout")
        default_day = reco.default_campaign_day(dataset)
        day = None
        if default_day is not None:
            day = middle.date_input("Campaign day", value=default_day.date(), key="campaign_day",
                                    help="Only offers live on this day can be targeted; chances are as of this day.")
        all_offers = right.checkbox("Allow offers that are not live on the campaign day", False, key="campaign_all_offers")
        ab_test = left.checkbox(
            "A/B test: split the customers at random between the chosen offers", False, key="campaign_ab",
            help="Every customer of the audience gets exactly one of the chosen offers, drawn at random (the same "
                 "draw for the same seed), and the control-group share of each offer's customers gets no coupon. "
                 "The file's arm column names each customer's arm; the Measure page compares every arm with the control.",
        )
        arm_text = middle.text_input("A/B arm sizes, one number per offer in order (empty = equal)", "",
                                     key="campaign_arm_shares", placeholder="e.g. 2 1 = twice as many on the first")
        st.caption("Control group: these customers get no coupon so we can measure the lift later on the Measure page. "
                   "Budgets count them too: with a 10% control group about 90% of the budget is sent.")
        with st.expander("Advanced"):
            a, b, c = st.columns(3)
            seed = a.number_input("Seed of the control-group draw", 0, 2**31 - 1, 0, key="campaign_seed")
            n_reasons = b.number_input("Reasons per row in the file", 0, 5, 2, key="campaign_reasons")
            view = c.selectbox("Reasons explain", list(campaign.REASON_VIEWS), format_func=campaign.REASON_VIEWS.get,
                               key="campaign_reasons_view")
        objective, margin_rate = objective_inputs()
        submitted = st.form_submit_button("Preview audience", type="primary")
    if not submitted:
        return None
    if not offers:
        st.error("Choose at least one offer to target.")
        return None
    if limit in ("top", "coupons") and (amount < 1 or not float(amount).is_integer()):
        st.error(f"{LIMITS[limit]}: the amount must be a whole number of coupons of at least 1 (got {amount:g}).")
        return None
    if limit == "money" and (amount <= 0 or not numeric_items):
        st.error("A money budget needs an amount above 0 and an offers column with the cost of a coupon." if numeric_items
                 else "A money budget needs an offers column with the cost of one coupon; this dataset has none. "
                      "Budget in coupons instead.")
        return None
    user_filters = tuple(UserFilter(column, "in", list(values)) for column, values in filters.items() if values)
    spec = AudienceSpec(
        offers=tuple(offers), segments=tuple(chosen_segments), user_filters=user_filters,
        active_since=active_since.isoformat() if isinstance(active_since, date) else None,
        exclude_contacted_days=int(contacted) or None, exclude_redeemed=bool(exclude_redeemed),
        top_n=int(amount) if limit == "top" else None, total_coupons=int(amount) if limit == "coupons" else None,
        total_budget=float(amount) if limit == "money" else None,
        cost_column=cost_column if limit == "money" else None,
        min_score=(float(amount) / 100 if has_probability else float(amount)) if limit == "threshold" else None,
        as_of=day.isoformat() if isinstance(day, date) and default_day is not None and day != default_day.date() else None,
        max_per_customer=1 if ab_test else int(cap), holdout_share=int(holdout) / 100, seed=int(seed),
    )
    try:
        arm_shares = tuple(float(part) for part in arm_text.replace(",", " ").split()) if ab_test else ()
    except ValueError:
        st.error(f"A/B arm sizes: write one number per offer separated by spaces (e.g. 2 1), got {shared.md(arm_text)!s}.")
        return None
    request = CampaignRequest(
        run_id, spec, cost_percent_of=percent_of if limit == "money" and percent_of != AS_MONEY else None,
        reasons=int(n_reasons), reasons_view=view, all_offers=bool(all_offers),
        objective=objective, margin_rate=float(margin_rate) / 100, ab_test=bool(ab_test), arm_shares=arm_shares,
    )
    try:
        request.validate()
    except CampaignError as exc:
        st.error(shared.md(exc))
        return None
    return request


OBJECTIVES = {
    "response": "Chance to respond if sent (today's ranking)",
    "uplift": "Uplift: the change the coupon makes (learned from past control groups)",
    "profit": "Profit: expected incremental profit (uplift x margin - discount paid by every redeemer)",
}


def objective_inputs() -> tuple[str, float]:
    """What the list maximises, and the margin a profit objective uses."""
    with st.expander("Objective: response, uplift or profit"):
        left, right = st.columns([2, 1])
        objective = left.radio("Rank and allocate by", list(OBJECTIVES), format_func=OBJECTIVES.get, key="campaign_objective")
        margin = right.number_input("Gross margin (% of the order)", 0, 100, 50, key="campaign_margin",
                                    help="Used by the profit objective: the share of an order's value that is profit "
                                         "before the discount.")
        st.caption("Uplift and profit learn from past campaigns with a control group (the sample shop has its own); "
                   "a customer whose coupon has a negative expected value is never sent one, and of offers that "
                   "differ only in depth each customer gets the cheapest depth that still moves them.")
    return str(objective), float(margin)


def show_roi(result: Campaign) -> None:
    """Incremental responders, revenue, discount cost and ROI of the list vs response targeting."""
    preview = result.roi
    if preview is None:
        return
    table = preview.summary.set_index("measure")
    st.markdown(f"**What this list is worth** (objective: {preview.objective}; margin {preview.margin})")
    cols = st.columns(4)
    for col, name, fmt in zip(cols, ("incremental responders", "incremental revenue", "discount cost",
                                     "ROI (profit / discount cost)"), ("{:,.0f}", "{:,.0f}", "{:,.0f}", "{:.0%}")):
        row = table.loc[name]
        col.metric(name.capitalize(), fmt.format(row["observed"]),
                   delta=f"response targeting: {fmt.format(row['response_observed'])}", delta_color="off",
                   help=f"95% interval {fmt.format(row['low'])} to {fmt.format(row['high'])} (calibrated on customers "
                        f"held out of past campaigns); the model alone says {fmt.format(row['model'])}.")
    shown = preview.summary.rename(columns={
        "model": "this list (model)", "observed": "this list (control groups)", "low": "low", "high": "high",
        "response_model": "response targeting (model)", "response_observed": "response targeting (control groups)",
        "response_low": "response low", "response_high": "response high"})
    st.dataframe(shown, hide_index=True, width="stretch")
    st.caption(f"{preview.selection_note} Response targeting = the same number of coupons to the customers most "
               f"likely to respond. Intervals: {preview.history_rows:,} past randomised rows, customers like these "
               "converted this often with and without the coupon.")
    evaluation = preview.evaluation.table
    st.caption("On customers held out of the past campaigns, Qini coefficient (higher = finds the customers the "
               "coupon moves): " + "; ".join(f"{name} {row['qini']:+.4f} [{row['qini_low']:+.4f}, {row['qini_high']:+.4f}]"
                                              for name, row in evaluation.iterrows()) + ".")


# ------------------------------------------------------------------------------- building
def built_campaign(request: CampaignRequest, key: str, dataset: Any, model: Any) -> Campaign | None:  # noqa: ANN401
    """The campaign of this request: from the cache, or built now with a progress bar."""
    try:
        return _built(key)
    except _NotBuilt:
        pass
    failure: str | None = None
    with st.status("Building the audience...", expanded=True) as status:
        bar = st.progress(0.0, text="Starting")
        try:
            result = campaign.build_campaign(
                ws, request, dataset=dataset, model=model,
                progress=lambda text, share: bar.progress(min(max(float(share), 0.0), 1.0), text=text),
            )
        except (ValueError, WorkspaceError) as exc:
            failure = shared.md(exc)
        except Exception as exc:  # noqa: BLE001 - never a traceback in the UI
            failure = f"Something went wrong while building the audience: {shared.md(exc)}. Nothing was saved."
        if failure is not None:  # folded: the half-filled bar says nothing; the reason and its fix show below
            status.update(label="The audience could not be built: see why below", state="error", expanded=False)
        else:
            status.update(label=f"Audience ready ({sum(result.timings.values()):.1f} s)", state="complete",
                          expanded=False)
    if failure is not None:
        st.error(failure, icon=":material/error:")
        return None
    return _built(key, result)


# ------------------------------------------------------------------------------- preview
def show_preview(result: Campaign, info: Any, dataset: Any) -> None:  # noqa: ANN401
    summary = result.summary()
    st.subheader("Preview")
    cols = st.columns(4)
    cols[0].metric("Customers getting a coupon", f"{summary['treatment_customers']:,}")
    cols[1].metric("Control group (no coupon)", f"{summary['control_customers']:,}")
    cols[2].metric("Coupons to send", f"{summary['coupons']:,}")
    if summary["money"] is not None:
        cols[3].metric("Cost of the coupons sent", shared.money(summary["money"]),
                       help=f"Budget used including the control group's slots: {shared.money(summary['budget_used'])}.")
    else:
        cols[3].metric("Offers", summary["offers"])
    if result.audience.frame.empty:
        st.warning("No customer is left after these rules. Loosen them (see which rule removed everyone below).")
        st.plotly_chart(charts.audience_funnel(result.audience.funnel), width="stretch", key="campaign_funnel")
        return
    st.info(CONTROL_TEXT.format(control=summary["control_customers"]))
    show_arms(result)
    show_rerank_cost(result)
    show_expected(result, summary)
    show_roi(result)
    for note in result.notes:
        st.warning(shared.md(note))
    left, right = st.columns(2)
    left.plotly_chart(charts.audience_funnel(result.audience.funnel), width="stretch", key="campaign_funnel")
    right.plotly_chart(charts.audience_sizes(result.sizes()), width="stretch", key="campaign_sizes")
    st.plotly_chart(charts.score_distribution(result.histogram, result.offer_names, probability=result.has_probability), width="stretch", key="campaign_scores")
    show_mix_and_fairness(result, info, dataset)
    st.markdown("**The list** (first rows; the file has them all)")
    table = result.frame.drop(columns=[C.SCORE_DECILE]).head(PREVIEW_ROWS)
    if result.has_probability:  # the score is the probability: show it once, as a %
        table = table.drop(columns=[C.SCORE]).assign(**{reco.PROBABILITY: 100 * table[reco.PROBABILITY]})
    st.dataframe(table, hide_index=True, width="stretch", column_config={
        C.SCORE: st.column_config.NumberColumn(format="%.3f"),
        reco.PROBABILITY: st.column_config.NumberColumn(f"chance to redeem within {result.horizon_days} days",
                                                       format="%.1f%%"),
        C.REASONS: st.column_config.TextColumn(width="large"),
    })


def show_arms(result: Campaign) -> None:
    """An A/B test's arms: planned share, customers sent each offer and its controls."""
    if not result.request.ab_test:
        return
    arms = pd.DataFrame(ab.manifest_entry(result.audience, result.request.arm_shares)["arms"])
    arms["share_of_treated"] *= 100
    arms.insert(1, "offer", arms[C.ITEM_ID].map(result.offer_names))
    st.markdown(f"**A/B test: {len(arms)} arms.** Each customer is in exactly one arm, drawn at random "
                "(same seed, same draw); the file's *arm* column says which.")
    st.dataframe(arms.rename(columns={"share_of_treated": "planned share", C.TREATMENT: "customers sent it",
                                      C.CONTROL: "its controls (no coupon)"}),
                 hide_index=True, width="stretch",
                 column_config={"planned share": st.column_config.NumberColumn(format="%.0f%%")})


def show_rerank_cost(result: Campaign) -> None:
    """What the run's saved fairness re-ranking did to this list, in expected responders."""
    effect = result.rerank
    if not effect:
        return
    changed = f"{effect['pairs_changed']:,} of the {result.summary()['coupons']:,} coupons go to other customers or offers"
    if effect["expected_with"] is None:
        st.warning(f"Fairness re-ranking in this list: {changed} than the model alone would choose.")
        return
    with_it, without = effect["expected_with"], effect["expected_without"]
    share = (with_it / without - 1) if without else 0.0
    st.warning(
        f"**Cost of the fairness re-ranking:** {with_it:,.0f} expected responders with it, {without:,.0f} with the "
        f"model alone ({with_it - without:+,.0f}, {share:+.1%}); {changed}.", icon=":material/balance:",
    )


def show_expected(result: Campaign, summary: dict[str, Any]) -> None:
    """Expected responders of the coupons sent, with their 95% interval (lists ranked by probability)."""
    if summary[campaign.EXPECTED] is None:
        return
    low, high = summary[campaign.EXPECTED_LOW], summary[campaign.EXPECTED_HIGH]
    st.metric(f"Expected responders within {result.horizon_days} days", f"{summary[campaign.EXPECTED]:,.0f}",
              help=f"95% interval {low:,.0f}-{high:,.0f}: the sum of each sent coupon's chance to be redeemed.")
    per_offer = result.expected_responders()
    st.caption(
        f"Expected responders: {summary[campaign.EXPECTED]:,.0f} (95% interval {low:,.0f}-{high:,.0f}) among the "
        f"{summary['coupons']:,} coupons sent, if sent on {result.campaign_day}. Per offer: "
        + "; ".join(f"{r.offer} {r.expected_responders:,.0f} [{r.expected_low:,.0f}-{r.expected_high:,.0f}]"
                    for r in per_offer.iloc[:-1].itertuples(index=False))
        + ". Customers are ranked by their chance to redeem, which compares across customers."
    )


def show_mix_and_fairness(result: Campaign, info: Any, dataset: Any) -> None:  # noqa: ANN401
    columns = [c for c in group_columns(info) if c in dataset.users.columns]
    if not columns:
        st.caption("The customers table has no category columns: no mix or fairness check to show.")
        return
    left, right = st.columns(2)
    default_mix = columns.index("segment") if "segment" in columns else 0
    mix_column = left.selectbox("Show who is targeted by", columns, index=default_mix, key="campaign_mix_column",
                                format_func=lambda c: column_label(info, c))
    left.plotly_chart(charts.group_mix(campaign.group_mix(result, dataset.users, mix_column), mix_column),
                      width="stretch", key="campaign_mix")
    sensitive = [c for c in columns if c in set(info.user_schema.sensitive())]
    default_fair = columns.index(sensitive[0]) if sensitive else 0
    fair_column = right.selectbox("Check fairness by", columns, index=default_fair, key="campaign_fair_column",
                                  format_func=lambda c: column_label(info, c))
    check = campaign.selection_by_group(result, dataset.users, fair_column, _base(str(ws.path), info.id, info.fingerprint))
    right.plotly_chart(charts.selection_rates(check.table, fair_column), width="stretch", key="campaign_fairness")
    for warning in check.warnings:
        st.warning(shared.md(warning))
    if check.verdict:
        st.success(shared.md(check.verdict))
    for note in check.notes:
        st.caption(shared.md(note))
    with st.expander(f"Fairness table by {shared.md(fair_column)} and what the four-fifths rule is"):
        st.markdown(
            "Share of each group of the customer base that the campaign targets (control group included: "
            "they were chosen the same way). The **four-fifths rule** of thumb flags a group whose share is "
            "under 80% of the most targeted group's share: a sign the targeting may disadvantage it. "
            "Sensitive columns are never used by the model, but are always available to this check."
        )
        st.dataframe(check.table, hide_index=True, width="stretch", column_config={
            campaign.RATE: st.column_config.NumberColumn("targeted share", format="percent"),
            campaign.RATIO: st.column_config.NumberColumn("ratio to top group", format="%.2f"),
            campaign.SHARE_OF_BASE: st.column_config.NumberColumn("share of base", format="percent"),
            campaign.SHARE_TARGETED: st.column_config.NumberColumn("share of targeted", format="percent"),
            campaign.FLAG: st.column_config.CheckboxColumn("below four-fifths"),
        })


def export_section(result: Campaign, key: str) -> None:
    st.subheader("Export")
    with st.expander("The same list from the command line"):
        argv = result.request.command(workspace=ws.path)
        fair_column = st.session_state.get("campaign_fair_column")
        if fair_column:  # the fairness figures shown above, printed by the command too
            argv[-2:-2] = ["--check-fairness", fair_column]
        st.code(shlex.join(argv), language="bash")
    if result.audience.frame.empty:
        st.caption("Nothing to export yet.")
        return
    last = st.session_state.get(LAST_EXPORT_KEY) or {}
    done = last.get("key") == key  # this very preview was exported already: no accidental duplicate
    if st.button("Export targeting list", type="primary", key="campaign_export", disabled=done,
                 help="Already exported: change the settings and preview again for another list." if done else None):
        try:
            saved = campaign.export_campaign(ws, result)
        except (ValueError, WorkspaceError) as exc:
            st.error(f"The list was not exported: {shared.md(exc)}")
            return
        except Exception as exc:  # noqa: BLE001 - never a traceback in the UI
            st.error(f"The list was not exported: {shared.md(exc)}. Nothing was saved.")
            return
        last = {"key": key, "id": saved.export_id}
        st.session_state[LAST_EXPORT_KEY] = last
        st.session_state["campaign_history_pick"] = saved.export_id
        st.rerun()  # redraw the button as done
    if last.get("key") == key:
        st.success(f"Exported **{last['id']}**: download it from the history below. After the campaign, upload the "
                   f"results on the Measure page to read the lift.")


# ------------------------------------------------------------------------------- history
def show_history() -> None:
    st.subheader("Past exports")
    history = exports.export_history(ws)
    if history.empty:
        st.caption("No exports yet.")
        return
    st.dataframe(history, hide_index=True, width="stretch", column_config={
        exports.CREATED: st.column_config.DatetimeColumn(format="D MMM YYYY, HH:mm"),
    })
    ids = history[exports.EXPORT].tolist()
    if st.session_state.get("campaign_history_pick") not in ids:
        st.session_state["campaign_history_pick"] = ids[0]
    pick = st.selectbox("Export to download", ids, key="campaign_history_pick")
    try:
        files = exports.export_files(ws, pick)
    except (export.ExportError, OSError, KeyError) as exc:
        st.error(f"Export {pick} cannot be read: {shared.md(exc)}")
        return
    if not files.intact:
        st.error(f"The CSV of export {pick} no longer matches the sha256 in its manifest: it was changed after export. "
                 "Do not send it; export the campaign again.")
        return
    left, right = st.columns(2)
    left.download_button(
        f"Download {pick} (CSV)", data=files.csv_bytes, file_name=f"promolens-{pick}.csv",
        mime="text/csv", on_click="ignore", key="campaign_download_csv", type="primary",
    )
    right.download_button(
        "Download its manifest (JSON)", data=files.manifest_bytes,
        file_name=f"promolens-{pick}-manifest.json", mime="application/json", on_click="ignore",
        key="campaign_download_manifest",
    )
    st.caption("The manifest records the run, the data fingerprint, every setting and the CSV's sha256.")


# ------------------------------------------------------------------------------- the screen
dataset_id = shared.dataset_id()
run_id = shared.run_id()
if dataset_id is None:
    st.info("Import a dataset on the Data page first.")
    show_history()
    st.stop()
if run_id is None:
    st.info("Train a model on the Train page first: the campaign list is ranked by a trained model.")
    show_history()
    st.stop()
info = ws.dataset(dataset_id)
run_created = str(ws.run(run_id)["created_at"])
try:
    with st.spinner("Loading the data and the model..."):
        dataset = _dataset(str(ws.path), dataset_id, info.fingerprint)
        model = _model(str(ws.path), run_id, run_created)
except (ValueError, OSError, WorkspaceError) as exc:
    st.error(f"Run {run_id} cannot be used: {shared.md(exc)}. Fix: train the model again on the Train page.")
    st.stop()

shared.rerank_banner(ws, run_id, dataset.items, "Its cost in expected responders is shown with the preview.")
submitted = audience_form(info, dataset, model, run_id)
if submitted is not None:
    st.session_state[REQUEST_KEY] = submitted.to_dict()
    st.session_state[EXPORTS_AT_KEY] = newest_export()
stored = st.session_state.get(REQUEST_KEY)
request = CampaignRequest.from_dict(stored) if stored else None
if request is not None and request.run_id == run_id:
    key = campaign_key(request, info.fingerprint, run_created, st.session_state.get(EXPORTS_AT_KEY))
    built = built_campaign(request, key, dataset, model)
    if built is not None:
        show_preview(built, info, dataset)
        export_section(built, key)
show_history()
