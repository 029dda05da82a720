"""Fairness: who is offered what, how well the model serves each group, and a knob to fix it."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import streamlit as st

from pages import shared
from recsys.charts import fairness as fairness_charts
from recsys.core import columns as C
from recsys.core.i18n import N_, current_language
from recsys.core.i18n import gettext as _
from recsys.insight.audit import STRENGTHS, AuditConfig, AuditLists, AuditResult, audit_tradeoff, default_item_column, tradeoff_template
from recsys.insight.rerank import RerankSettings
from recsys.insight.rules import ItemRule, column_words, default_favourable
from recsys.insight.tradeoff import EvalSetup
from recsys.workspace import audit as audit_jobs
from recsys.workspace.runs import run_data
from recsys.data.schema import ColumnKind
from recsys.workspace.store import WorkspaceError

charts = shared.CachedCharts(fairness_charts)  # figures built once per content and language

KINDS = {
    "boost": N_("Offer the favourable offers more often to chosen customer groups"),
    "cap": N_("Cap an over-exposed offer group in each list"),
    "mmr": N_("Diversify each list (maximal marginal relevance)"),
}
GROUPABLE = {ColumnKind.CATEGORICAL, ColumnKind.BOOLEAN, ColumnKind.NUMERIC}
SHOW = {"high": st.error, "medium": st.warning, "info": st.info, "ok": st.success}
ICONS = {"high": ":material/gpp_bad:", "medium": ":material/warning:", "info": ":material/info:", "ok": ":material/verified:"}
GLOSSARY = N_("""
- **rate**: share of a group's first offers that are favourable (with one coupon each: the share of the group given one).
- **ratio**: a group's rate divided by the most-offered group's. Below **0.80** fails the *four-fifths rule*
  used in US employment law and widely borrowed for pricing and credit: a warning sign, not a verdict.
- **vs rest**: a group's rate divided by everyone else's.
- **coverage**: share of offers in anyone's list. **Gini**: 0 = every offer shown equally, near 1 = a few take all.
- **long tail**: share of slots for offers outside the 20% most popular. **novelty**: how unexpected the offers are (bits).
- **diversity**: how different the offers of one list are (by offer facts; *emb*: by the model's embeddings).
- **entropy**: how many offer groups a list spans (bits). **miscalibration**: how far a list's mix is from the
  customer's own history (0 = the same mix). **parity**: least- over most-exposed offer group, per offer.
- **personalization**: how different lists are between customers (1 = no overlap).
""")
#: The choices of the Customers and Fix it tabs that outlive a look at another tab (the consent to save an
#: aimless re-ranking does not).
KEPT = {0: ("fair_metric",), 3: ("fair_kind", "fair_boost_groups", "fair_cap_values", "fair_similarity", "fair_strength")}
PCT = "{:.1%}"
RATIO = "{:.2f}"

shared.sidebar()
st.title(_("Fairness and diversity"))
st.caption(_("Before a campaign goes out: is any customer group offered less, served worse, or shown the same few offers?"))
ws = shared.workspace()
WS = str(ws.path)
dataset_id = shared.dataset_id()
run_id = shared.run_id()
if dataset_id is None:
    st.info(_("Import a dataset on the Data page first."))
    st.stop()
if run_id is None:
    st.info(_("Train a model on the Train page first: the audit checks a model's recommendations."))
    st.stop()
info = ws.dataset(dataset_id)


# ------------------------------------------------------------------------------- cached work
def _stamp(run: str) -> str:
    """When the run was made: ids can be reused after a delete, so caches key on id + stamp."""
    return str(ws.run(run)["created_at"])


_dataset = shared.cached_dataset  # one cache for every page


_model = shared.cached_model


@st.cache_data(max_entries=8, show_spinner=False)
def _audit(workspace_path: str, run: str, stamp: str, fingerprint: str, config: str, language: str) -> AuditResult:
    """The audit described by ``config`` (a small JSON string: the cache key); its findings are written in
    ``language``."""
    chosen = AuditConfig.from_dict(json.loads(config))
    lists = _lists(workspace_path, run, stamp, fingerprint, json.dumps({**json.loads(config), "user_column": None}, sort_keys=True), chosen)
    return audit_jobs.audit(ws, run, chosen, model=_model(workspace_path, run, stamp),
                   dataset=_dataset(workspace_path, dataset_id, fingerprint), lists=lists)


@st.cache_resource(max_entries=4, show_spinner=False)
def _lists(workspace_path: str, run: str, stamp: str, fingerprint: str, key: str, _config: AuditConfig) -> AuditLists:  # never mutated
    """The audit's lists and list metrics, whatever the customer grouping (``key``: the config but its user column)."""
    return audit_jobs.run_audit_lists(ws, run, _config, model=_model(workspace_path, run, stamp),
                                      dataset=_dataset(workspace_path, dataset_id, fingerprint))


@st.cache_resource(max_entries=2, show_spinner=False)
def _evaluation(workspace_path: str, run: str, stamp: str, fingerprint: str) -> EvalSetup:  # never mutated
    # The run's split is rebuilt on the data the run saw: without the appends made after it.
    current = run_data(ws, ws.run(run)).appends_since == 0
    return audit_jobs.evaluation_setup(ws, run, dataset=_dataset(workspace_path, dataset_id, fingerprint) if current else None,
                              model=_model(workspace_path, run, stamp))


@st.cache_data(max_entries=8, show_spinner=False)
def _sweep(workspace_path: str, run: str, stamp: str, fingerprint: str, audit_config: str, template: str) -> pd.DataFrame:
    """The trade-off curve of one re-ranking (``template`` JSON) after one audit (``audit_config`` JSON)."""
    data = _dataset(workspace_path, dataset_id, fingerprint)
    result = _audit(workspace_path, run, stamp, fingerprint, audit_config, current_language())
    return audit_tradeoff(_evaluation(workspace_path, run, stamp, fingerprint), result,
                            RerankSettings.from_dict(json.loads(template)), data, STRENGTHS)


# ------------------------------------------------------------------------------- settings
def _columns(schema: Any, table: pd.DataFrame) -> tuple[list[str], dict[str, str]]:
    specs = {c.name: c for c in schema.columns}
    names = [c for c in table.columns if c in specs and specs[c].kind in GROUPABLE]
    labels = {c: _("{name} (sensitive)").format(name=c) if specs[c].sensitive else c for c in names}
    return names, labels


def audit_settings(data: Any, k: int, saved: RerankSettings | None) -> AuditConfig | None:
    users, items = data.users, data.items
    user_cols, user_labels = _columns(info.user_schema, users)
    item_cols, item_labels = _columns(info.item_schema, items)
    if not user_cols:
        st.warning(_("The customers table has no column to group by (segment, region, age band, ...): "
                     "import customer facts on the Data page to audit fairness across groups."))
        return None
    sensitive = [c for c in user_cols if user_labels[c] != c]
    a, b, c = st.columns(3)
    user_col = a.selectbox(_("Group customers by"), user_cols, index=user_cols.index(sensitive[0]) if sensitive else 0,
                           format_func=user_labels.get, key="fair_user_col",
                           help=_("Sensitive columns are kept out of the model, and audited here."))
    default_item = default_item_column(items)
    item_col = b.selectbox(_("Group offers by"), item_cols or [None],
                           index=item_cols.index(default_item) if default_item in item_cols else 0,
                           format_func={None: _("(none)"), **item_labels}.get, key="fair_item_col")
    offer_k = c.slider(_("Offers per customer to judge"), 1, max(k, 3), min(3, k), key="fair_offer_k",
                       help=_("The first offers each customer would see; 1 = the single coupon of a one-coupon campaign."))
    default_rule = default_favourable(items)
    fav_cols = [x for x in items.columns if x != C.ITEM_ID
                and (pd.api.types.is_numeric_dtype(items[x]) or items[x].nunique() <= 50)]
    fav_default = default_rule.column if default_rule is not None else (item_col or fav_cols[0])
    d, e = st.columns([1, 2])
    fav_col = d.selectbox(_("A favourable offer is one whose"), fav_cols, index=fav_cols.index(fav_default) if fav_default in fav_cols else 0,
                          key="fair_fav_col")
    if pd.api.types.is_numeric_dtype(items[fav_col]):
        low = float(pd.to_numeric(items[fav_col], errors="coerce").min())
        high = float(pd.to_numeric(items[fav_col], errors="coerce").max())
        start = float(default_rule.min_value) if default_rule is not None and default_rule.column == fav_col else (low + high) / 2
        threshold = e.number_input(_("{column} is at least").format(column=fav_col), min_value=low, max_value=high, value=min(max(start, low), high),
                                   key=f"fair_fav_min_{fav_col}")
        rule = ItemRule(fav_col, min_value=float(threshold))
    else:
        values = sorted(items[fav_col].dropna().astype(str).unique())
        chosen = e.multiselect(_("{column} is one of").format(column=fav_col), values, default=values[:1],
                               key=f"fair_fav_values_{fav_col}")
        rule = ItemRule(fav_col, tuple(chosen)) if chosen else None
        if not chosen:
            e.caption(_("None chosen: the default rule (deep discounts) is used when the offers have a discount depth."))
    after = False
    if saved is not None:
        after = st.toggle(_("Audit the lists after the saved re-ranking: {rerank}").format(
            rerank=shared.md(saved.describe(items))), value=False, key="fair_after")
    return AuditConfig(user_column=user_col, item_column=item_col, favourable=rule, offer_k=int(offer_k),
                         rerank=saved if after else None)


# ------------------------------------------------------------------------------- sections
def show_flags(result: AuditResult) -> None:
    for flag in result.flags:
        SHOW.get(flag.severity, st.info)(flag.text, icon=ICONS.get(flag.severity))
    for note in result.notes:
        st.caption(shared.md(note))


def customers_tab(result: AuditResult) -> None:
    col = result.config.user_column
    what = result.favourable_phrase or _("favourable offers")
    if not result.offers.empty:
        left, right = st.columns(2)
        left.plotly_chart(charts.disparate_impact(result.offers, col, what, result.config.threshold), width="stretch")
        series = {"shown in the past": result.history_shown, "responded in the past": result.history_responded,
                  "offered by the model": result.offers}
        right.plotly_chart(charts.favourable_history(series, col, what), width="stretch")
        mean_value = _("mean {value}").format(value=result.value_label or _("value"))
        table = result.offers.rename(columns={"group": col, "mean_value": mean_value})
        table = table.assign(rate=table["rate"] * 100)
        st.dataframe(
            **shared.headed(table.drop(columns=["judged", "offered"]), {
                "rate": st.column_config.NumberColumn(_("rate"), format="%.1f%%"),
                "rate_low": None, "rate_high": None,
                "ratio": st.column_config.NumberColumn(_("ratio to top"), format="%.2f"),
                "ratio_low": st.column_config.NumberColumn(_("ratio low (95%)"), format="%.2f"),
                "ratio_high": st.column_config.NumberColumn(_("ratio high (95%)"), format="%.2f"),
                "vs_rest": st.column_config.NumberColumn(_("vs rest"), format="%.2f"),
                mean_value: st.column_config.NumberColumn(format="%.1f"),
                "flagged": st.column_config.CheckboxColumn(_("below 4/5")),
                **{c: st.column_config.Column(_(c)) for c in (N_("customers"), N_("offers"), N_("favourable"))
                   if c in table.columns},
            }),
            hide_index=True, width="stretch",
        )
    if result.accuracy.empty:
        st.caption(_("No held-out accuracy per customer for this run."))
        return
    st.markdown(_("**How well the model serves each group** (held-out responses, 95% bootstrap intervals)"))
    metrics = list(dict.fromkeys(result.accuracy["metric"]))
    metric = st.selectbox(_("Accuracy metric"), metrics, index=len(metrics) - 1, key="fair_metric")
    left, right = st.columns([3, 2])
    left.plotly_chart(charts.group_metric_intervals(result.accuracy, col, metric), width="stretch")
    gaps = result.accuracy_gaps[["metric", "best", "worst", "gap", "gap_low", "gap_high", "ratio"]]
    right.dataframe(**shared.headed(gaps, {c: st.column_config.NumberColumn(_(GAP_HEADERS[c]), format="%.3f")
                                           for c in ("gap", "gap_low", "gap_high", "ratio")}
                                    | {c: st.column_config.Column(_(GAP_HEADERS[c])) for c in ("metric", "best", "worst")}),
                    hide_index=True, width="stretch")


#: Headers of the accuracy-gap table.
GAP_HEADERS = {"metric": N_("metric"), "best": N_("best"), "worst": N_("worst"), "gap": N_("gap"),
               "gap_low": N_("gap low"), "gap_high": N_("gap high"), "ratio": N_("ratio")}
#: Headers of the offer-group table.
GROUP_HEADERS = {"slot_share": N_("share of slots"), "catalogue_share": N_("share of catalogue"),
                 "interaction_share": N_("share of interactions"), "coverage": N_("coverage"),
                 "exposure_ratio": N_("exposure ratio"), "vs_history": N_("vs history"), "offers": N_("offers"),
                 "slots": N_("slots"), "interactions": N_("interactions"), "shown": N_("shown")}


def offers_tab(result: AuditResult) -> None:
    item_col = result.config.item_column or default_item_column(_dataset(WS, dataset_id, info.fingerprint).items)
    left, right = st.columns(2)
    if not result.offer_groups.empty and item_col:
        left.plotly_chart(charts.exposure_shares(result.offer_groups, item_col), width="stretch")
    right.plotly_chart(charts.lorenz_curve(result.exposure, result.list_metrics.get(f"exposure_gini@{result.k}")), width="stretch")
    if not result.offer_groups.empty:
        shares = ["slot_share", "catalogue_share", "interaction_share", "coverage"]
        st.dataframe(
            **shared.headed(result.offer_groups.rename(columns={"group": item_col or "group"}).assign(
                **{c: result.offer_groups[c] * 100 for c in shares}),
                {c: st.column_config.Column(_(GROUP_HEADERS[c])) for c in GROUP_HEADERS
                 if c in result.offer_groups.columns}
                | {c: st.column_config.NumberColumn(_(GROUP_HEADERS[c]), format="%.1f%%") for c in
                   ("slot_share", "catalogue_share", "interaction_share", "coverage")}
                | {c: st.column_config.NumberColumn(_(GROUP_HEADERS[c]), format="%.2f") for c in ("exposure_ratio", "vs_history")},
                {"group": N_("group")}), hide_index=True, width="stretch",
        )


def lists_tab(result: AuditResult) -> None:
    values = result.list_metrics
    cols = st.columns(min(5, max(len(values), 1)))
    for i, (name, value) in enumerate(values.items()):
        label, tip = shared.metric_words(name)
        cols[i % len(cols)].metric(label, f"{value:.3f}", help=tip)
    with st.expander(_("What do these numbers mean?")):
        st.markdown(_(GLOSSARY))
    with st.expander(_("Advanced: every list measure for each {column} group").format(
            column=shared.md(column_words(result.config.user_column)))):
        wide = result.lists_by_group.pivot_table(index="group", columns="metric", values="mean", sort=False)
        st.dataframe(**shared.headed(wide, {
            c: st.column_config.NumberColumn(measure_label(c), help=shared.metric_words(c)[1], format="%.3f")
            for c in wide.columns}), width="stretch")


#: Headers of the trade-off table besides the list measures.
SWEEP_HEADERS = {"strength": N_("strength"), "ndcg_change": N_("ranking quality change"),
                 "di_min": N_("lowest ratio, all groups"), "di_focus": N_("lowest ratio to the top group, boosted groups")}


def measure_label(name: object) -> str:
    """The header of a list measure ("exposure_gini@10", "favourable_share@3", "mean discount_depth@3")."""
    base, _at, k = str(name).partition("@")
    if base in SWEEP_HEADERS:
        label = _(SWEEP_HEADERS[base])
    elif base == "favourable_share":
        label = _("share of favourable offers")
    elif base.startswith(("mean ", "mean_")) and base not in shared.METRIC_WORDS:  # the audit's "mean <column>@k"
        label = _("mean {value}").format(value=column_words(base[len("mean "):]))
    else:
        return shared.metric_words(name)[0]
    return label + (_(" (top {k})").format(k=k) if k else "")


def _template(result: AuditResult, data: Any) -> tuple[RerankSettings, str, str] | None:
    """The re-ranking to sweep, and the chart's x axis (column, words)."""
    cfg = result.config
    kind = st.radio(_("What should the re-ranking do?"), list(KINDS), format_func={k: _(v) for k, v in KINDS.items()}.get, key="fair_kind")
    try:
        if kind == "boost":
            groups = sorted(result.offers["group"].astype(str)) if not result.offers.empty else []
            default = tradeoff_template(result, "boost", data.items)[0]
            chosen = st.multiselect(_("For which {column} groups? (none = everyone)").format(
                                        column=shared.md(column_words(cfg.user_column))), groups,
                                    default=[g for g in (default.users.values if default.users else ()) if g in groups],
                                    key="fair_boost_groups")
            return tradeoff_template(result, "boost", data.items, boost_groups=chosen)
        if kind == "cap":
            default = tradeoff_template(result, "cap", data.items)[0]
            order = list(result.offer_groups.sort_values("exposure_ratio", ascending=False)["group"].astype(str))
            chosen = st.multiselect(_("Which {column} values to cap?").format(
                                        column=shared.md(column_words(default.items.column))), order,
                                    default=list(default.items.values), key="fair_cap_values")
            return tradeoff_template(result, "cap", data.items, cap_values=chosen)
        similarity = st.radio(_("Judge similarity by"), ["features", "embeddings"], horizontal=True, key="fair_similarity",
                              format_func={"features": _("offer facts"), "embeddings": _("the model's embeddings")}.get)
        return tradeoff_template(result, "mmr", data.items, similarity=similarity)
    except ValueError as exc:
        st.info(shared.md(exc))
        return None


def addresses_a_flag(result: AuditResult, chosen: RerankSettings) -> bool:
    """Whether a re-ranking aims at something the audit flagged: a boost for a flagged customer group,
    or a cap / diversification when the audit flagged anything."""
    flagged = set()
    if not result.offers.empty and "flagged" in result.offers.columns:
        flagged = set(result.offers.loc[result.offers["flagged"].astype(bool), "group"].astype(str))
    if chosen.kind == "boost":
        return chosen.users is not None and bool(flagged & {str(v) for v in chosen.users.values})
    return bool(flagged) or any(f.severity != "info" for f in result.flags)


def fix_tab(result: AuditResult, data: Any, stamp: str) -> None:
    saved = audit_jobs.saved_rerank(ws, run_id)
    if saved is not None:
        st.success(_("Saved with run {run_id}: {rerank}. Recommendations and campaign lists use it.").format(
                       run_id=run_id, rerank=shared.md(saved.describe(data.items))), icon=":material/check_circle:")
        if st.button(_("Remove the saved re-ranking"), key="fair_remove"):
            audit_jobs.save_rerank(ws, run_id, None)
            st.rerun()
    picked = _template(result, data)
    if picked is None:
        return
    template, x, x_label = picked
    audit_key = json.dumps(result.config.to_dict(), sort_keys=True)
    spec = json.dumps({"audit": audit_key, "template": template.to_dict()}, sort_keys=True)
    if st.button(_("Draw the trade-off curve"), type="primary", key="fair_draw"):
        st.session_state["fair_sweep_spec"] = spec
    if st.session_state.get("fair_sweep_spec") != spec:
        st.caption(_("The curve re-ranks each customer's 50 best offers at strengths 0 to 1 and scores the lists on the "
                     "held-out period (it may refit the model on the training period once)."))
        return
    try:
        with st.spinner(_("Re-ranking at every strength and scoring on held-out data...")):
            sweep = _sweep(WS, run_id, stamp, info.fingerprint, audit_key, json.dumps(template.to_dict(), sort_keys=True))
    except (ValueError, RuntimeError) as exc:
        st.error(_("The trade-off could not be drawn: {error}").format(error=shared.md(exc)))
        return
    y = f"ndcg@{result.k}"
    st.plotly_chart(charts.tradeoff_curve(sweep, x, y, chosen=st.session_state.get("fair_strength"),
                                          x_label=_(x_label), y_label=_("{metric} (held-out)").format(metric=y),
                                          threshold=result.config.threshold if x.startswith("di_") else None,
                                          also={"di_min": _("lowest ratio, all groups")} if x == "di_focus" else None),
                    width="stretch")
    st.caption(_("Accuracy measured with {note}, on {test_users} customers with held-out responses; the other figures "
                 "on {users} customers.").format(note=_(str(sweep.attrs.get("note"))),
                                                 test_users=f"{sweep.attrs.get('test_users', 0):,}",
                                                 users=f"{sweep.attrs.get('users', 0):,}"))
    strength = st.select_slider(_("Strength"), options=list(sweep["strength"]), value=0.0, key="fair_strength",
                                format_func=lambda s: f"{s:.2f}")
    row = sweep[sweep["strength"] == strength].iloc[0]
    base = sweep[sweep["strength"] == 0.0].iloc[0]
    change = row["ndcg_change"]
    words = [_("{metric} {value} ({change} against the model's own order)").format(
                 metric=y, value=f"{row[y]:.4f}", change=f"{change:+.1%}") if pd.notna(change) else f"{y} {row[y]:.4f}"]
    for column, label in ((x, _(x_label)), ("di_min", _("lowest ratio, all groups"))):
        if column in sweep.columns and pd.notna(row.get(column)) and (column == x or x == "di_focus"):
            words.append(_("{label} {value} (from {start})").format(label=shared.md(label), value=f"{row[column]:.2f}",
                                                                    start=f"{base[column]:.2f}"))
    st.markdown(_("**At strength {strength}:** ").format(strength=f"{strength:.2f}") + "; ".join(words) + ".")
    with st.expander(_("Every point of the curve")):
        st.dataframe(**shared.headed(sweep, labels={c: measure_label(c) for c in sweep.columns}), hide_index=True,
                     width="stretch")
    chosen = RerankSettings.from_dict({**template.to_dict(), "strength": float(strength)})
    aimless = not addresses_a_flag(result, chosen)
    if aimless:
        st.warning(_("This re-ranking addresses no group the audit flagged (a boost for everyone, or nothing was "
                     "flagged): it would still change every recommendation and campaign list of this run. "
                     "*Fix:* pick a flagged group above, or tick the box to save it anyway."), icon=":material/warning:")
        aimless = not st.checkbox(_("Save it anyway"), key="fair_save_anyway")
    if st.button(_("Save this re-ranking with run {run_id}").format(run_id=run_id), disabled=strength == 0.0 or aimless,
                 key="fair_save",
                 help=_("Recommendations and campaign exports of this run will use it; remove it here at any time.")):
        audit_jobs.save_rerank(ws, run_id, chosen, evidence={name: row[name] for name in sweep.columns})
        st.rerun()


# ------------------------------------------------------------------------------- the screen
try:
    stamp = _stamp(run_id)
    data = _dataset(WS, dataset_id, info.fingerprint)
    run_k = int(ws.run(run_id)["config"].get("k", 10))
    config = audit_settings(data, run_k, audit_jobs.saved_rerank(ws, run_id))
    if config is None:
        st.stop()
    with st.spinner(_("Auditing every customer's recommendations...")):
        result = _audit(WS, run_id, stamp, info.fingerprint, json.dumps(config.to_dict(), sort_keys=True),
                        current_language())
except (ValueError, WorkspaceError) as exc:
    st.error(_("The audit could not run: {error}").format(error=shared.md(exc)))
    st.stop()

st.subheader(_("What the audit found · run {run_id} · {n} customers").format(run_id=run_id, n=f"{result.users:,}"))
show_flags(result)
opened, tab = shared.lazy_tabs([_("Customers"), _("Offers"), _("Lists"), _("Fix it")], key="fair_tab", keep=KEPT)
with tab:  # only the open tab is computed and sent
    if opened == 0:
        customers_tab(result)
    elif opened == 1:
        offers_tab(result)
    elif opened == 2:
        lists_tab(result)
    else:
        fix_tab(result, data, stamp)
