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
from recsys.charts import audience as audience_charts
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
from recsys.core.i18n import N_, current_language, format_date
from recsys.core.i18n import gettext as _

charts = shared.CachedCharts(audience_charts)  # figures built once per content and language

REQUEST_KEY = "campaign_request"
EXPORTS_AT_KEY = "campaign_exports_at"
LAST_EXPORT_KEY = "campaign_last_export"
LIMITS = {
    "top": N_("Top N customers per offer"),
    "coupons": N_("A budget in coupons (whole campaign)"),
    "money": N_("A budget in money (whole campaign)"),
    "threshold": N_("Everyone above a chance to redeem (%)"),
}
AMOUNT_HELP = N_(
    "Top N: coupons per offer. Coupon budget: coupons in the whole campaign. Money budget: the amount "
    "to spend, at the cost per coupon chosen below. Chance to redeem: the lowest chance (in %, e.g. 5) that a "
    "customer redeems the offer if sent (runs trained before response probabilities: the lowest model score)."
)
AS_MONEY = N_("(it is already a money amount)")  # an option value: shown translated, compared as is
GROUP_KINDS = {ColumnKind.CATEGORICAL, ColumnKind.BOOLEAN}
MAX_FILTER_VALUES = 60
PREVIEW_ROWS = 500
CONTROL_TEXT = N_(
    "**The control group is there to measure what the campaign changed.** {control} customers were "
    "chosen exactly like the others, then drawn at random to get **no coupon**: these customers get no "
    "coupon so we can measure the lift later on the Measure page (the coupon's effect = what the "
    "treatment group does minus what this control group does). Keep them in the file, do not send them anything."
)

shared.sidebar()
st.title(_("Campaign"))
st.caption(_(
    "Who should get which coupon? Choose offers and who is eligible, preview the audience the model picks "
    "(sizes, scores, mix and fairness), then export the list with a control group for measuring the lift."
))
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
    payload = [request.to_dict(), fingerprint, run_created, segments, made_before, str(ws.path),
               current_language()]  # the preview's notes are written in the session's language
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


# ------------------------------------------------------------------------------- the form
def group_columns(info: Any) -> list[str]:  # noqa: ANN401 - data.dataset.DatasetInfo
    """Customer columns with groups to filter or audit by (sensitive ones included)."""
    return [c.name for c in info.user_schema.columns if c.kind in GROUP_KINDS]


def column_label(info: Any, name: str) -> str:  # noqa: ANN401
    sensitive = set(info.user_schema.sensitive())
    return _("{name} (sensitive)").format(name=name) if name in sensitive else name


def audience_form(info: Any, dataset: Any, model: Any, run_id: str) -> CampaignRequest | None:  # noqa: ANN401
    """The audience spec as a form; the request when submitted and valid (else None, message shown)."""
    start, end = reco.date_window_columns(info.item_schema, dataset.items)
    campaign_day = reco.default_campaign_day(dataset)
    choices = campaign.offer_choices(dataset.items, model, start=start, end=end, day=campaign_day)
    status = campaign.offer_status(dataset.items, list(choices), start, end, campaign_day)
    ended = int((status == campaign.ENDED).sum())
    if ended and not st.toggle(_("Show the {n} ended offers too").format(n=f"{ended:,}"), False, key="campaign_show_ended",
                               help=_("Offers whose end date is before {day} (the data's last day).").format(
                                   day=format_date(campaign_day))):
        choices = {i: label for i, label in choices.items() if status.get(i) != campaign.ENDED}
    has_probability = runs.get_run(ws, run_id).targeting.get("status") == "ok"
    numeric_items = [c for c in dataset.items.columns
                     if c != C.ITEM_ID and pd.api.types.is_numeric_dtype(dataset.items[c])]
    segments = ws.segments(info.id)
    segment_labels = {s["id"]: _("{name} ({n} customers)").format(name=s["name"], n=f"{int(s['n_members']):,}")
                      for s in segments}
    filter_columns = group_columns(info)
    with st.form("campaign_form"):
        offers = st.multiselect(_("Offers to target"), list(choices), format_func=choices.get, key="campaign_offers",
                                placeholder=_("Type to search offers by name"))
        st.markdown(_("**Who is eligible**"))
        left, right = st.columns(2)
        chosen_segments = left.multiselect(
            _("Only members of these saved segments (any of them)"), list(segment_labels), format_func=segment_labels.get,
            key="campaign_segments",
            placeholder=_("Everyone") if segments else _("No saved segments (see the Segments page)"),
        )
        active_since = right.date_input(_("Only customers active since (optional)"), value=None, key="campaign_active_since")
        contacted = left.number_input(
            _("Leave out customers sent a coupon in the last N days (0 = off)"), 0, 3650, 0, key="campaign_contacted",
            help=_("Counts coupon impressions in the data and the customers sent coupons by exports made here."),
        )
        exclude_redeemed = right.checkbox(_("Leave out customers who already redeemed the offer"), True,
                                          key="campaign_redeemed")
        filters: dict[str, list[str]] = {}
        if filter_columns:
            with st.expander(_("Customer filters (empty = everyone)")):
                cols = st.columns(min(3, len(filter_columns)))
                for i, column in enumerate(filter_columns):
                    values = sorted(dataset.users[column].dropna().astype(str).unique().tolist())[:MAX_FILTER_VALUES]
                    filters[column] = cols[i % len(cols)].multiselect(
                        shared.md(column_label(info, column)), values, key=f"campaign_filter_{column}",
                        placeholder=_("Any"),
                    )
        st.markdown(_("**How many**"))
        left, middle, right = st.columns(3)
        limit = left.radio(_("Limit"), list(LIMITS), format_func=translated_labels(LIMITS), key="campaign_limit")
        amount = middle.number_input(_("Amount"), value=500.0, step=50.0, format="%g", key="campaign_amount",
                                     help=_(AMOUNT_HELP))
        cap = right.number_input(_("Most coupons per customer"), 1, max(1, len(choices)), 1, key="campaign_cap")
        cost_column = middle.selectbox(
            _("Cost of one coupon (money budget)"), numeric_items or [_("(no number column)")], key="campaign_cost_column",
            help=_("The offers column with the discount value of one coupon."),
        )
        percent_of = right.selectbox(
            _("...as a percentage of"), [AS_MONEY, *numeric_items], key="campaign_percent_of",
            format_func={AS_MONEY: _(AS_MONEY), **{c: c for c in numeric_items}}.get,
            help=_("When the cost column holds a percentage (e.g. discount depth), the column it is a percentage "
                   "of (e.g. minimum spend): cost = percentage / 100 x that column."),
        )
        holdout = left.slider(_("Control group: % of customers who get no coupon"), 0, 50, 10, 1, format="%d%%",
                              key="campaign_holdout")
        default_day = reco.default_campaign_day(dataset)
        day = None
        if default_day is not None:
            day = middle.date_input(_("Campaign day"), value=default_day.date(), key="campaign_day",
                                    help=_("Only offers live on this day can be targeted; chances are as of this day."))
        all_offers = right.checkbox(_("Allow offers that are not live on the campaign day"), False,
                                    key="campaign_all_offers")
        ab_test = left.checkbox(
            _("A/B test: split the customers at random between the chosen offers"), False, key="campaign_ab",
            help=_("Every customer of the audience gets exactly one of the chosen offers, drawn at random (the same "
                   "draw for the same seed), and the control-group share of each offer's customers gets no coupon. "
                   "The file's arm column names each customer's arm; the Measure page compares every arm with the "
                   "control."),
        )
        arm_text = middle.text_input(_("A/B arm sizes, one number per offer in order (empty = equal)"), "",
                                     key="campaign_arm_shares", placeholder=_("e.g. 2 1 = twice as many on the first"))
        st.caption(_("Control group: these customers get no coupon so we can measure the lift later on the Measure page. "
                     "Budgets count them too: with a 10% control group about 90% of the budget is sent."))
        with st.expander(_("Advanced")):
            a, b, c = st.columns(3)
            seed = a.number_input(_("Seed of the control-group draw"), 0, 2**31 - 1, 0, key="campaign_seed")
            n_reasons = b.number_input(_("Reasons per row in the file"), 0, 5, 2, key="campaign_reasons")
            view = c.selectbox(_("Reasons explain"), list(campaign.REASON_VIEWS),
                               format_func=translated_labels(campaign.REASON_VIEWS), key="campaign_reasons_view")
        objective, margin_rate = objective_inputs()
        submitted = st.form_submit_button(_("Preview audience"), type="primary")
    if not submitted:
        return None
    if not offers:
        st.error(_("Choose at least one offer to target."))
        return None
    if limit in ("top", "coupons") and (amount < 1 or not float(amount).is_integer()):
        st.error(_("{limit}: the amount must be a whole number of coupons of at least 1 (got {amount}).").format(
            limit=_(LIMITS[limit]), amount=f"{amount:g}"))
        return None
    if limit == "money" and (amount <= 0 or not numeric_items):
        st.error(_("A money budget needs an amount above 0 and an offers column with the cost of a coupon.")
                 if numeric_items
                 else _("A money budget needs an offers column with the cost of one coupon; this dataset has none. "
                        "Budget in coupons instead."))
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
        st.error(_("A/B arm sizes: write one number per offer separated by spaces (e.g. 2 1), got {text}.").format(
            text=shared.md(arm_text)))
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
    "response": N_("Chance to respond if sent (today's ranking)"),
    "uplift": N_("Uplift: the change the coupon makes (learned from past control groups)"),
    "profit": N_("Profit: expected incremental profit (uplift x margin - discount paid by every redeemer)"),
}


#: The objective's name in the ROI heading.
OBJECTIVE_WORDS = {"response": N_("response"), "uplift": N_("uplift"), "profit": N_("profit")}
#: The ROI preview's measures (rows of its summary) -> their headings.
ROI_MEASURES = {"incremental responders": N_("Incremental responders"), "incremental revenue": N_("Incremental revenue"),
                "discount cost": N_("Discount cost"), "ROI (profit / discount cost)": N_("Roi (profit / discount cost)")}


def translated_labels(mapping: dict[str, str]) -> Any:  # noqa: ANN401 - a format_func
    """A widget's ``format_func`` showing ``mapping``'s words translated now: AppTest and Streamlit may call
    it outside this script run, where the session's language is not set."""
    return {key: _(text) for key, text in mapping.items()}.get


def objective_inputs() -> tuple[str, float]:
    """What the list maximises, and the margin a profit objective uses."""
    with st.expander(_("Objective: response, uplift or profit")):
        left, right = st.columns([2, 1])
        objective = left.radio(_("Rank and allocate by"), list(OBJECTIVES), format_func=translated_labels(OBJECTIVES),
                               key="campaign_objective")
        margin = right.number_input(_("Gross margin (% of the order)"), 0, 100, 50, key="campaign_margin",
                                    help=_("Used by the profit objective: the share of an order's value that is profit "
                                           "before the discount."))
        st.caption(_("Uplift and profit learn from past campaigns with a control group (the sample shop has its own); "
                     "a customer whose coupon has a negative expected value is never sent one, and of offers that "
                     "differ only in depth each customer gets the cheapest depth that still moves them."))
    return str(objective), float(margin)


def show_roi(result: Campaign) -> None:
    """Incremental responders, revenue, discount cost and ROI of the list vs response targeting."""
    preview = result.roi
    if preview is None:
        return
    table = preview.summary.set_index("measure")
    st.markdown(_("**What this list is worth** (objective: {objective}; margin {margin})").format(
        objective=_(OBJECTIVE_WORDS.get(preview.objective, preview.objective)), margin=preview.margin))
    cols = st.columns(4)
    for col, name, fmt in zip(cols, ROI_MEASURES, ("{:,.0f}", "{:,.0f}", "{:,.0f}", "{:.0%}")):
        row = table.loc[name]
        col.metric(_(ROI_MEASURES[name]), fmt.format(row["observed"]),
                   delta=_("response targeting: {value}").format(value=fmt.format(row["response_observed"])),
                   delta_color="off",
                   help=_("95% interval {low} to {high} (calibrated on customers held out of past campaigns); the "
                          "model alone says {model}.").format(low=fmt.format(row["low"]), high=fmt.format(row["high"]),
                                                              model=fmt.format(row["model"])))
    shown = preview.summary.assign(measure=preview.summary["measure"].map(  # English: the measure's own name
        lambda m: _(ROI_MEASURES[m]) if m in ROI_MEASURES and _(ROI_MEASURES[m]) != ROI_MEASURES[m] else m))
    shown = shown.rename(columns={
        "measure": _("measure"), "model": _("this list (model)"), "observed": _("this list (control groups)"),
        "low": _("low"), "high": _("high"), "response_model": _("response targeting (model)"),
        "response_observed": _("response targeting (control groups)"), "response_low": _("response low"),
        "response_high": _("response high")})
    st.dataframe(shown, hide_index=True, width="stretch")
    st.caption(_("{note} Response targeting = the same number of coupons to the customers most likely to respond. "
                 "Intervals: {rows} past randomised rows, customers like these converted this often with and without "
                 "the coupon.").format(note=preview.selection_note, rows=f"{preview.history_rows:,}"))
    evaluation = preview.evaluation.table
    st.caption(_("On customers held out of the past campaigns, Qini coefficient (higher = finds the customers the "
                 "coupon moves): ") + "; ".join(f"{name} {row['qini']:+.4f} [{row['qini_low']:+.4f}, {row['qini_high']:+.4f}]"
                                              for name, row in evaluation.iterrows()) + ".")


# ------------------------------------------------------------------------------- building
def built_campaign(request: CampaignRequest, key: str, dataset: Any, model: Any) -> Campaign | None:  # noqa: ANN401
    """The campaign of this request: from the cache, or built now with a progress bar."""
    try:
        return _built(key)
    except _NotBuilt:
        pass
    failure: str | None = None
    with st.status(_("Building the audience..."), expanded=True) as status:
        bar = st.progress(0.0, text=_("Starting"))
        try:
            result = campaign.build_campaign(
                ws, request, dataset=dataset, model=model,
                progress=lambda text, share: bar.progress(min(max(float(share), 0.0), 1.0), text=text),
                scorer=lambda day: shared.cached_response_scorer(  # shared with Recommendations and other audiences
                    str(ws.path), run_id, run_created, dataset_id, info.fingerprint, None if day is None else str(day)),
            )
        except (ValueError, WorkspaceError) as exc:
            failure = shared.md(exc)
        except Exception as exc:  # noqa: BLE001 - never a traceback in the UI
            failure = _("Something went wrong while building the audience: {error}. Nothing was saved.").format(
                error=shared.md(exc))
        if failure is not None:  # folded: the half-filled bar says nothing; the reason and its fix show below
            status.update(label=_("The audience could not be built: see why below"), state="error", expanded=False)
        else:
            status.update(label=_("Audience ready ({seconds} s)").format(seconds=f"{sum(result.timings.values()):.1f}"),
                          state="complete", expanded=False)
    if failure is not None:
        st.error(failure, icon=":material/error:")
        return None
    return _built(key, result)


# ------------------------------------------------------------------------------- preview
def show_preview(result: Campaign, info: Any, dataset: Any) -> None:  # noqa: ANN401
    summary = result.summary()
    st.subheader(_("Preview"))
    cols = st.columns(4)
    cols[0].metric(_("Customers getting a coupon"), f"{summary['treatment_customers']:,}")
    cols[1].metric(_("Control group (no coupon)"), f"{summary['control_customers']:,}")
    cols[2].metric(_("Coupons to send"), f"{summary['coupons']:,}")
    if summary["money"] is not None:
        cols[3].metric(_("Cost of the coupons sent"), shared.money(summary["money"]),
                       help=_("Budget used including the control group's slots: {money}.").format(
                           money=shared.money(summary["budget_used"])))
    else:
        cols[3].metric(_("Offers"), summary["offers"])
    if result.audience.frame.empty:
        st.warning(_("No customer is left after these rules. Loosen them (see which rule removed everyone below)."))
        st.plotly_chart(charts.audience_funnel(result.audience.funnel), width="stretch", key="campaign_funnel")
        return
    st.info(_(CONTROL_TEXT).format(control=f"{summary['control_customers']:,}"))
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
    st.markdown(_("**The list** (first rows; the file has them all)"))
    table = result.frame.drop(columns=[C.SCORE_DECILE]).head(PREVIEW_ROWS)
    groups = {g: _(w) for g, w in charts.GROUP_NAMES.items()}  # the file keeps the canonical names
    table = table.assign(**{c: table[c].replace(groups) for c in ("group", "arm") if c in table.columns})
    if result.has_probability:  # the score is the probability: show it once, as a %
        table = table.drop(columns=[C.SCORE]).assign(**{reco.PROBABILITY: 100 * table[reco.PROBABILITY]})
    st.dataframe(**shared.headed(table, {
        C.SCORE: st.column_config.NumberColumn(format="%.3f"),
        reco.PROBABILITY: st.column_config.NumberColumn(
            _("chance to redeem within {days} days").format(days=result.horizon_days), format="%.1f%%"),
        C.REASONS: st.column_config.TextColumn(width="large"),
    }, LIST_HEADERS), hide_index=True, width="stretch")


#: Headers of the list's preview in other languages (the CSV and English keep the canonical names).
LIST_HEADERS = {C.USER_ID: N_("customer id"), C.ITEM_ID: N_("offer id"), "offer": N_("offer"), C.SCORE: N_("score"),
                reco.PROBABILITY: N_("response probability"), "rank": N_("rank"), "group": N_("group"),
                "arm": N_("arm"), C.REASONS: N_("reasons")}


def show_arms(result: Campaign) -> None:
    """An A/B test's arms: planned share, customers sent each offer and its controls."""
    if not result.request.ab_test:
        return
    arms = pd.DataFrame(ab.manifest_entry(result.audience, result.request.arm_shares)["arms"])
    arms["share_of_treated"] *= 100
    arms.insert(1, "offer", arms[C.ITEM_ID].map(result.offer_names))
    st.markdown(_("**A/B test: {n} arms.** Each customer is in exactly one arm, drawn at random "
                  "(same seed, same draw); the file's *arm* column says which.").format(n=len(arms)))
    planned = _("planned share")
    st.dataframe(arms.rename(columns={"share_of_treated": planned, C.TREATMENT: _("customers sent it"),
                                      C.CONTROL: _("its controls (no coupon)"), "offer": _("offer"),
                                      "arm": _("arm")}),
                 hide_index=True, width="stretch",
                 column_config={planned: st.column_config.NumberColumn(format="%.0f%%")})


def show_rerank_cost(result: Campaign) -> None:
    """What the run's saved fairness re-ranking did to this list, in expected responders."""
    effect = result.rerank
    if not effect:
        return
    changed = _("{changed} of the {coupons} coupons go to other customers or offers").format(
        changed=f"{effect['pairs_changed']:,}", coupons=f"{result.summary()['coupons']:,}")
    if effect["expected_with"] is None:
        st.warning(_("Fairness re-ranking in this list: {changed} than the model alone would choose.").format(
            changed=changed))
        return
    with_it, without = effect["expected_with"], effect["expected_without"]
    share = (with_it / without - 1) if without else 0.0
    st.warning(
        _("**Cost of the fairness re-ranking:** {with_it} expected responders with it, {without} with the "
          "model alone ({difference}, {share}); {changed}.").format(
            with_it=f"{with_it:,.0f}", without=f"{without:,.0f}", difference=f"{with_it - without:+,.0f}",
            share=f"{share:+.1%}", changed=changed), icon=":material/balance:",
    )


def show_expected(result: Campaign, summary: dict[str, Any]) -> None:
    """Expected responders of the coupons sent, with their 95% interval (lists ranked by probability)."""
    if summary[campaign.EXPECTED] is None:
        return
    low, high = summary[campaign.EXPECTED_LOW], summary[campaign.EXPECTED_HIGH]
    st.metric(_("Expected responders within {days} days").format(days=result.horizon_days),
              f"{summary[campaign.EXPECTED]:,.0f}",
              help=_("95% interval {low}-{high}: the sum of each sent coupon's chance to be redeemed.").format(
                  low=f"{low:,.0f}", high=f"{high:,.0f}"))
    per_offer = result.expected_responders()
    st.caption(
        _("Expected responders: {expected} (95% interval {low}-{high}) among the {coupons} coupons sent, if sent "
          "on {day}. Per offer: ").format(expected=f"{summary[campaign.EXPECTED]:,.0f}", low=f"{low:,.0f}",
                                         high=f"{high:,.0f}", coupons=f"{summary['coupons']:,}",
                                         day=result.campaign_day)
        + "; ".join(f"{r.offer} {r.expected_responders:,.0f} [{r.expected_low:,.0f}-{r.expected_high:,.0f}]"
                    for r in per_offer.iloc[:-1].itertuples(index=False))
        + _(". Customers are ranked by their chance to redeem, which compares across customers.")
    )


def show_mix_and_fairness(result: Campaign, info: Any, dataset: Any) -> None:  # noqa: ANN401
    columns = [c for c in group_columns(info) if c in dataset.users.columns]
    if not columns:
        st.caption(_("The customers table has no category columns: no mix or fairness check to show."))
        return
    left, right = st.columns(2)
    default_mix = columns.index("segment") if "segment" in columns else 0
    mix_column = left.selectbox(_("Show who is targeted by"), columns, index=default_mix, key="campaign_mix_column",
                                format_func={c: column_label(info, c) for c in columns}.get)
    left.plotly_chart(charts.group_mix(campaign.group_mix(result, dataset.users, mix_column), mix_column),
                      width="stretch", key="campaign_mix")
    sensitive = [c for c in columns if c in set(info.user_schema.sensitive())]
    default_fair = columns.index(sensitive[0]) if sensitive else 0
    fair_column = right.selectbox(_("Check fairness by"), columns, index=default_fair, key="campaign_fair_column",
                                  format_func={c: column_label(info, c) for c in columns}.get)
    check = campaign.selection_by_group(result, dataset.users, fair_column, _base(str(ws.path), info.id, info.fingerprint))
    right.plotly_chart(charts.selection_rates(check.table, fair_column), width="stretch", key="campaign_fairness")
    for warning in check.warnings:
        st.warning(shared.md(warning))
    if check.verdict:
        st.success(shared.md(check.verdict))
    for note in check.notes:
        st.caption(shared.md(note))
    with st.expander(_("Fairness table by {column} and what the four-fifths rule is").format(
            column=shared.md(fair_column))):
        st.markdown(_(
            "Share of each group of the customer base that the campaign targets (control group included: "
            "they were chosen the same way). The **four-fifths rule** of thumb flags a group whose share is "
            "under 80% of the most targeted group's share: a sign the targeting may disadvantage it. "
            "Sensitive columns are never used by the model, but are always available to this check."
        ))
        st.dataframe(**shared.headed(check.table, {
            "value": st.column_config.Column(_("value")),
            "base": st.column_config.NumberColumn(_("base")),
            "targeted": st.column_config.NumberColumn(_("targeted")),
            campaign.RATE: st.column_config.NumberColumn(_("targeted share"), format="percent"),
            campaign.RATIO: st.column_config.NumberColumn(_("ratio to top group"), format="%.2f"),
            campaign.SHARE_OF_BASE: st.column_config.NumberColumn(_("share of base"), format="percent"),
            campaign.SHARE_TARGETED: st.column_config.NumberColumn(_("share of targeted"), format="percent"),
            campaign.FLAG: st.column_config.CheckboxColumn(_("below four-fifths")),
        }), hide_index=True, width="stretch")


def export_section(result: Campaign, key: str) -> None:
    st.subheader(_("Export"))
    with st.expander(_("The same list from the command line")):
        argv = result.request.command(workspace=ws.path)
        fair_column = st.session_state.get("campaign_fair_column")
        if fair_column:  # the fairness figures shown above, printed by the command too
            argv[-2:-2] = ["--check-fairness", fair_column]
        st.code(shlex.join(argv), language="bash")
    if result.audience.frame.empty:
        st.caption(_("Nothing to export yet."))
        return
    last = st.session_state.get(LAST_EXPORT_KEY) or {}
    done = last.get("key") == key  # this very preview was exported already: no accidental duplicate
    if st.button(_("Export targeting list"), type="primary", key="campaign_export", disabled=done,
                 help=_("Already exported: change the settings and preview again for another list.") if done else None):
        try:
            saved = campaign.export_campaign(ws, result)
        except (ValueError, WorkspaceError) as exc:
            st.error(_("The list was not exported: {error}").format(error=shared.md(exc)))
            return
        except Exception as exc:  # noqa: BLE001 - never a traceback in the UI
            st.error(_("The list was not exported: {error}. Nothing was saved.").format(error=shared.md(exc)))
            return
        last = {"key": key, "id": saved.export_id}
        st.session_state[LAST_EXPORT_KEY] = last
        st.session_state["campaign_history_pick"] = saved.export_id
        st.rerun()  # redraw the button as done
    if last.get("key") == key:
        st.success(_("Exported **{id}**: download it from the history below. After the campaign, upload the "
                     "results on the Measure page to read the lift.").format(id=last["id"]))


# ------------------------------------------------------------------------------- history
#: Headers of the history table (its columns keep their canonical names).
HISTORY_HEADERS = {"export": N_("export"), "created": N_("created"), "run": N_("run"), "offers": N_("offers"),
                   "treatment": N_("treatment"), "control": N_("control"), "rows": N_("rows")}


def show_history() -> None:
    st.subheader(_("Past exports"))
    history = exports.export_history(ws)
    if history.empty:
        st.caption(_("No exports yet."))
        return
    st.dataframe(**shared.headed(history, {
        **{c: st.column_config.Column(_(HISTORY_HEADERS.get(c, c))) for c in history.columns if c != exports.CREATED},
        exports.CREATED: st.column_config.DatetimeColumn(_(HISTORY_HEADERS[exports.CREATED]), format="D MMM YYYY, HH:mm"),
    }), hide_index=True, width="stretch")
    ids = history[exports.EXPORT].tolist()
    if st.session_state.get("campaign_history_pick") not in ids:
        st.session_state["campaign_history_pick"] = ids[0]
    pick = st.selectbox(_("Export to download"), ids, key="campaign_history_pick")
    try:
        files = exports.export_files(ws, pick)
    except (export.ExportError, OSError, KeyError) as exc:
        st.error(_("Export {id} cannot be read: {error}").format(id=pick, error=shared.md(exc)))
        return
    if not files.intact:
        st.error(_("The CSV of export {id} no longer matches the sha256 in its manifest: it was changed after export. "
                   "Do not send it; export the campaign again.").format(id=pick))
        return
    left, right = st.columns(2)
    left.download_button(
        _("Download {id} (CSV)").format(id=pick), data=files.csv_bytes, file_name=f"promolens-{pick}.csv",
        mime="text/csv", on_click="ignore", key="campaign_download_csv", type="primary",
    )
    right.download_button(
        _("Download its manifest (JSON)"), data=files.manifest_bytes,
        file_name=f"promolens-{pick}-manifest.json", mime="application/json", on_click="ignore",
        key="campaign_download_manifest",
    )
    st.caption(_("The manifest records the run, the data fingerprint, every setting and the CSV's sha256."))


# ------------------------------------------------------------------------------- the screen
dataset_id = shared.dataset_id()
run_id = shared.run_id()
if dataset_id is None:
    st.info(_("Import a dataset on the Data page first."))
    show_history()
    st.stop()
if run_id is None:
    st.info(_("Train a model on the Train page first: the campaign list is ranked by a trained model."))
    show_history()
    st.stop()
info = ws.dataset(dataset_id)
run_created = str(ws.run(run_id)["created_at"])
try:
    with st.spinner(_("Loading the data and the model...")):
        dataset = _dataset(str(ws.path), dataset_id, info.fingerprint)
        model = _model(str(ws.path), run_id, run_created)
except (ValueError, OSError, WorkspaceError) as exc:
    st.error(_("Run {run_id} cannot be used: {error}. Fix: train the model again on the Train page.").format(
        run_id=run_id, error=shared.md(exc)))
    st.stop()

shared.rerank_banner(ws, run_id, dataset.items, _("Its cost in expected responders is shown with the preview."))
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
# The response context of the default campaign day, built once the page is drawn (the form is usable meanwhile):
# the first audience previewed then costs only its own selection. A problem shows when an audience is built.
try:
    default_day = reco.default_campaign_day(dataset)
    shared.cached_response_scorer(str(ws.path), run_id, run_created, dataset_id, info.fingerprint,
                                  None if default_day is None else str(default_day))
except (ValueError, OSError, WorkspaceError):
    pass
