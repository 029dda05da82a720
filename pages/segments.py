"""Segments: who the customers are, how the groups change, and which offers each group wants."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import streamlit as st

from pages import shared
from recsys.charts import segments as segments_charts
from recsys.core import columns as C
from recsys.core.i18n import N_, current_language, format_date
from recsys.core.i18n import gettext as _
from recsys.core.words import event_word
from recsys.insight import clusters as K
from recsys.insight import lift as L
from recsys.insight import profiles as P
from recsys.insight.recommend import default_campaign_day
from recsys.learn.response import ResponseModelError
from recsys.insight import rfm as R
from recsys.insight import segments as S
from recsys.data.schema import ColumnKind
from recsys.workspace import segments as jobs
from recsys.workspace.store import WorkspaceError

charts = shared.CachedCharts(segments_charts)  # figures built once per content and language

METHODS = {
    "rfm": N_("Value and recency (RFM)"),
    "columns": N_("Customer facts"),
    "clusters": N_("Behaviour (model clusters)"),
    "saved": N_("A saved segment"),
}
AUTO_K = "auto"
MAP_SAMPLE = 5000
TSNE_SAMPLE = 2000
GROUPABLE = {ColumnKind.CATEGORICAL, ColumnKind.BOOLEAN, ColumnKind.NUMERIC, ColumnKind.DATE}
NOT_SEGMENTED = "(not segmented)"
#: What RFM counts as a conversion when no purchase / redeem events exist (``insight.rfm``), translated when shown.
CONVERSION_WORDS = {"value > 0": N_("value > 0"), "any response": N_("any response")}


def conversion_words(conversion: str) -> str:
    """What RFM counted as a conversion ("purchase, redeem", "value > 0", "any response") in the current language."""
    if conversion in CONVERSION_WORDS:
        return _(CONVERSION_WORDS[conversion])
    return _(", ").join(event_word(e) for e in conversion.split(", "))  # a few event names


def offer_config() -> dict[str, Any]:
    """Headers of the top-offers tables (in the session's language)."""
    return {
        C.ITEM_ID: st.column_config.Column(_("offer id")),
        "offer": st.column_config.Column(_("offer")),
        "chance": st.column_config.NumberColumn(_("likely to redeem"), format="percent"),
        "chance_uplift": st.column_config.NumberColumn(_("vs everyone"), format="%+.1f pt"),
        "top_k_share": st.column_config.NumberColumn(_("in their top 10"), format="percent"),
        "base_top_k_share": st.column_config.NumberColumn(_("in everyone's top 10"), format="percent"),
    }


#: Table headers and figure names translated by :func:`header` (marked here for the catalogue).
HEADERS = (N_("segment"), N_("meaning"), N_("median recency days"), N_("share of customers"), N_("share of value"),
           N_("share who responded"), N_("id"), N_("name"), N_("kind"), N_("created at"))


def header(column: object) -> str:
    """A table's column (or row) name in the session's language; English keeps the name as it is."""
    return str(column) if current_language() == "en" else _(str(column).replace("_", " "))


def words(frame: pd.DataFrame, column: str = S.SEGMENT) -> pd.DataFrame:
    """``frame`` with its segment labels in the session's language (for charts; the labels stay keys)."""
    return frame.assign(**{column: frame[column].map(jobs.label_words)}) if column in frame.columns else frame


shared.sidebar()
st.title(_("Customer segments"))
ws = shared.workspace()
dataset_id = shared.dataset_id()
if dataset_id is None:
    st.info(_("Import a dataset on the Data page first."))
    st.stop()
info = ws.dataset(dataset_id)
run_id = shared.run_id()
WS = str(ws.path)


# ------------------------------------------------------------------------------- cached work
_dataset = shared.cached_dataset  # one cache for every page


_model = shared.cached_model


def _stamp(run: str | None) -> str:
    """When the run was made: ids can be reused after a delete, so caches key on id + stamp."""
    return "" if run is None else str(ws.run(run)["created_at"])


@st.cache_data(max_entries=8, show_spinner=False)
def _date_range(workspace_path: str, dataset: str, fingerprint: str) -> tuple[Any, Any]:
    return jobs.date_range(ws, dataset)


@st.cache_data(max_entries=12, show_spinner=False)
def _result(workspace_path: str, dataset: str, fingerprint: str, spec: str) -> jobs.SegmentsResult:
    """The segmentation described by ``spec`` (a small JSON string: the cache key)."""
    s = json.loads(spec)
    if s["method"] == "saved":
        return jobs.segment_by_saved(ws, dataset, s["segment_id"], data=_dataset(workspace_path, dataset, fingerprint))
    run = s.get("run_id")
    return jobs.segment_dataset(
        ws, dataset, s["method"], columns=s.get("columns"), k=s.get("k"), run_id=run,
        reference_date=s.get("reference_date"), seed=0, data=_dataset(workspace_path, dataset, fingerprint),
        model=_model(workspace_path, run, s["run_stamp"]) if s["method"] == "clusters" else None,
    )


@st.cache_data(max_entries=12, show_spinner="Finding what sets each segment apart...")
def _lifts(workspace_path: str, dataset: str, fingerprint: str, spec: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    data = _dataset(workspace_path, dataset, fingerprint)
    seg = _result(workspace_path, dataset, fingerprint, spec).segmentation
    traits = L.trait_lift(seg, data.users, L.trait_columns(seg, data.users, info.user_schema), schema=info.user_schema)
    offers = L.offer_lift(seg, data.interactions, data.items, schema=info.item_schema)
    return traits, offers


@st.cache_data(max_entries=12, show_spinner="Counting segment sizes month by month...")
def _trend(workspace_path: str, dataset: str, fingerprint: str, spec: str) -> pd.DataFrame:
    data = _dataset(workspace_path, dataset, fingerprint)
    result = _result(workspace_path, dataset, fingerprint, spec)
    if result.rfm is not None:
        return R.rfm_sizes_over_time(data.interactions, users=data.users)
    return S.sizes_over_time(result.segmentation, data.interactions)


@st.cache_data(max_entries=24, show_spinner="Counting responses by segment and offer...")
def _rates(workspace_path: str, dataset: str, fingerprint: str, spec: str, column: str) -> tuple[pd.DataFrame, str]:
    data = _dataset(workspace_path, dataset, fingerprint)
    seg = _result(workspace_path, dataset, fingerprint, spec).segmentation
    return L.response_rates(seg, data.interactions, data.items, column, schema=info.item_schema)


@st.cache_data(max_entries=6, show_spinner=False)
def _map(workspace_path: str, run: str, stamp: str, method: str, sample: int, language: str) -> K.EmbeddingMap:
    # ``language``: the map's note is written in it
    return K.embedding_map(_model(workspace_path, run, stamp), method=method, sample_size=sample, seed=0)


def _response(workspace_path: str, dataset: str, fingerprint: str, run: str | None, stamp: str) -> tuple[Any, Any] | None:
    """The run's response model and its context as of the campaign day the Recommendations page uses (shared
    with it), or None (no run, or a run without one): the profile's offers are then shown by top-10 shares."""
    if not run:
        return None
    day = default_campaign_day(_dataset(workspace_path, dataset, fingerprint))
    rm, ctx, _note = shared.cached_response_scorer(workspace_path, run, stamp, dataset, fingerprint,
                                                   None if day is None else str(day))
    return None if rm is None else (rm, ctx)


@st.cache_data(max_entries=6, show_spinner=False)
def _basis(workspace_path: str, dataset: str, fingerprint: str, spec: str, run: str | None, stamp: str) -> P.ProfileBasis:
    """What every profile card of this segmentation shares (value, responders, everyone's scores and chances):
    once, not per card."""
    data = _dataset(workspace_path, dataset, fingerprint)
    seg = _result(workspace_path, dataset, fingerprint, spec).segmentation
    model = _model(workspace_path, run, stamp) if run else None
    try:
        return P.profile_basis(seg, data.interactions, model, seed=0,
                               response=_response(workspace_path, dataset, fingerprint, run, stamp))
    except ResponseModelError:  # the run's response model cannot score this dataset's customers or offers
        return P.profile_basis(seg, data.interactions, model, seed=0)


@st.cache_data(max_entries=24, show_spinner="Profiling the segment...")
def _profile(
    workspace_path: str, dataset: str, fingerprint: str, spec: str, label: str, run: str | None, stamp: str,
) -> P.SegmentProfile:
    data = _dataset(workspace_path, dataset, fingerprint)
    seg = _result(workspace_path, dataset, fingerprint, spec).segmentation
    traits, offers = _lifts(workspace_path, dataset, fingerprint, spec)
    model = _model(workspace_path, run, stamp) if run else None
    basis = _basis(workspace_path, dataset, fingerprint, spec, run, stamp)
    response = _response(workspace_path, dataset, fingerprint, run, stamp) if basis.base is not None and \
        basis.base[2] is not None else None  # chances only where everyone's could be had
    return P.profile(seg, label, interactions=data.interactions, trait_lifts=traits, offer_lifts=offers,
                     model=model, items=data.items, seed=0, basis=basis, response=response)


# ------------------------------------------------------------------------------- choosing
def _offer_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """The offers table a marketer reads: chances (and points above everyone) and top-10 shares, no raw scores.
    Without a response model, the shares of members and of everyone with the offer in their top 10."""
    if "chance" in frame.columns:
        frame = frame.assign(chance_uplift=100 * frame["chance_uplift"])
        hidden = set(P.OFFER_SCORE_COLUMNS) - {"top_k_share"} | {"base_chance"}
    else:
        hidden = set(P.OFFER_SCORE_COLUMNS) - {"top_k_share", "base_top_k_share"}
    return frame[[c for c in frame.columns if c not in hidden]]


def usable(schema, kinds: set[ColumnKind]) -> list[str]:  # noqa: ANN001 - TableSchema
    return [c.name for c in schema.columns if c.kind in kinds]


def choose_spec() -> dict[str, Any] | None:
    """Widgets that say how to segment; returns the spec (or None when it cannot be built yet)."""
    method = st.radio(_("Segment customers by"), list(METHODS), format_func={k: _(v) for k, v in METHODS.items()}.get, horizontal=True,
                      key="seg_method")
    spec: dict[str, Any] = {"method": method}
    if method == "rfm":
        first, last = _date_range(WS, dataset_id, info.fingerprint)
        if last is None:
            st.warning(_("This dataset has no dates, so RFM cannot be computed. Segment by customer facts instead."))
            return None
        default = (last.normalize() + pd.Timedelta(days=1)).date()
        chosen = st.date_input(
            _("Reference date (RFM as of the start of this day)"), value=default,
            min_value=(first.normalize() + pd.Timedelta(days=1)).date(), max_value=default, key="seg_ref_date",
            help=_("Recency counts days up to this date; only purchases and redeems before it count."),
        )
        spec["reference_date"] = pd.Timestamp(chosen).date().isoformat()
    elif method == "columns":
        options = usable(info.user_schema, GROUPABLE)
        if not options:
            st.info(_("This dataset has no customer columns to group by. Import a customer facts file on the Data page."))
            return None
        picked = st.multiselect(_("Customer columns (combine several for finer groups)"), options,
                                default=options[:1], key="seg_columns")
        if not picked:
            st.info(_("Pick at least one customer column."))
            return None
        spec["columns"] = list(picked)
    elif method == "clusters":
        if run_id is None:
            st.info(_("Behavioural clusters come from a trained model's view of each customer: train one on the Train "
                      "page."))
            return None
        k = st.selectbox(_("Number of clusters"), [AUTO_K, *range(2, 13)], key="seg_k",
                         format_func={AUTO_K: _("suggested by the silhouette score"), **{v: str(v) for v in range(2, 13)}}.get)
        spec.update(run_id=run_id, run_stamp=_stamp(run_id), k=None if k == AUTO_K else int(k))
    else:
        saved = jobs.saved_segments(ws, dataset_id)
        if saved.empty:
            st.info(_("No saved segments yet: save one from a profile card or a map selection below."))
            return None
        names = dict(zip(saved["id"], saved["name"] + saved["customers"].map(
            lambda n: _(" ({n} customers)").format(n=f"{n:,}"))))
        spec["segment_id"] = st.selectbox(_("Saved segment"), list(names), format_func=names.get, key="seg_saved")
        # ids can be reused after a delete: the creation time makes the cache key unique
        spec["saved_at"] = str(saved.set_index("id").loc[spec["segment_id"], "created_at"])
    return spec


# ------------------------------------------------------------------------------- sections
def overview(result: jobs.SegmentsResult, spec: str) -> None:
    seg = result.segmentation
    order = list(seg.order)
    for note in seg.notes:
        st.info(shared.md(note))
    left, right = st.columns(2)
    shown_order = [jobs.label_words(s) for s in order]
    left.plotly_chart(charts.segment_sizes(words(seg.sizes()), shown_order), width="stretch")
    trend = _trend(WS, dataset_id, info.fingerprint, spec)
    title = (_("Segment sizes at the start of each month") if result.rfm is not None
             else _("Active customers per month (customers who responded)"))
    right.plotly_chart(charts.segment_trend(words(trend), shown_order, title), width="stretch")
    if result.rfm is not None:
        rfm = result.rfm
        st.caption(_(
            "RFM as of {day}. Recency = days since the last purchase occasion; frequency = number of days with a "
            "conversion ({conversion}); monetary = sum of value. Scores 1–5 by quintile. The monthly sizes recompute "
            "RFM as of the start of each month.").format(
                day=f"{rfm.reference_date:%d %b %Y}" if current_language() == "en" else format_date(rfm.reference_date),
                conversion=conversion_words(rfm.conversion)))
        with st.expander(_("RFM grid and segment figures")):
            a, b = st.columns([3, 2])
            a.plotly_chart(charts.rfm_grid(words(rfm.grid())), width="stretch")
            summary = rfm.summary()
            summary.insert(1, "meaning", summary["segment"].map(lambda s: _(R.RFM_MEANING[s]) if s in R.RFM_MEANING else None))
            b.dataframe(hide_index=True, width="stretch", **shared.headed(words(summary), {
                **{c: st.column_config.Column(header(c)) for c in summary.columns},
                "share": st.column_config.NumberColumn(_("share"), format="percent"),
                "value_share": st.column_config.NumberColumn(_("value share"), format="percent"),
                "value": st.column_config.NumberColumn(_("value"), format="%.0f"),
                "mean_frequency": st.column_config.NumberColumn(_("mean frequency"), format="%.1f"),
            }))
    if result.clusters is not None:
        c = result.clusters
        how = (_("the silhouette score suggested {k}").format(k=c.suggested_k) if c.suggested_k is not None
               else _("your choice"))
        st.caption(_("{k} clusters ({how}) of the model's customer embeddings (run {run_id}), k-means, seed 0.").format(
            k=c.k, how=how, run_id=result.run_id))
        if not c.silhouette.empty:
            with st.expander(_("Why this number of clusters?")):
                st.plotly_chart(charts.silhouette_curve(c.silhouette, c.k), width="stretch")


def offers_heatmap(result: jobs.SegmentsResult, spec: str) -> None:
    st.subheader(_("Which offers each group responds to"))
    options = usable(info.item_schema, {ColumnKind.CATEGORICAL, ColumnKind.BOOLEAN, ColumnKind.NUMERIC})
    if not options:
        st.info(_("This dataset has no offer columns (type, category, ...): import an offers file to see this."))
        return
    preferred = next((c for c in ("campaign_type", "category", "channel") if c in options), options[0])
    left, right = st.columns([1, 2])
    column = left.selectbox(_("Offer column"), options, index=options.index(preferred), key="seg_offer_column")
    metric = right.radio(_("Show"), list(charts.RESPONSE_METRICS), format_func={k: _(v) for k, v in charts.RESPONSE_METRICS.items()}.get,
                         horizontal=True, key="seg_metric")
    try:
        rates, basis = _rates(WS, dataset_id, info.fingerprint, spec, column)
    except ValueError as exc:
        st.warning(shared.md(exc))
        return
    st.plotly_chart(charts.response_heatmap(words(rates), column, metric,
                                            [jobs.label_words(s) for s in result.segmentation.order]), width="stretch")
    st.caption(shared.md(basis) + _(" Value per customer = the segment's revenue on those offers / its customers."))


def customer_map(result: jobs.SegmentsResult) -> None:
    st.subheader(_("Map of customers"))
    if run_id is None:
        st.info(_("The map places customers by the model's view of them: train a model on the Train page to see it."))
        return
    left, right = st.columns([1, 3])
    method = left.radio(_("Projection"), ["pca", "tsne"], key="seg_map_method",
                        format_func={"pca": _("PCA (fast)"), "tsne": _("t-SNE (slower, keeps neighbours)")}.get)
    sample = MAP_SAMPLE if method == "pca" else TSNE_SAMPLE
    with st.spinner(_("Placing customers on the map...")):
        emap = _map(WS, run_id, _stamp(run_id), method, sample, current_language())
    seg = result.segmentation
    frame = emap.frame.assign(**{S.SEGMENT: emap.frame[C.USER_ID].map(seg.labels).fillna(NOT_SEGMENTED)})
    order = list(seg.order) + ([NOT_SEGMENTED] if (frame[S.SEGMENT] == NOT_SEGMENTED).any() else [])
    not_segmented = _(NOT_SEGMENTED)
    shown = words(frame).replace({S.SEGMENT: {NOT_SEGMENTED: not_segmented}})
    event = right.plotly_chart(
        charts.customer_map(shown, S.SEGMENT, [not_segmented if s == NOT_SEGMENTED else jobs.label_words(s) for s in order],
                            _("Customers, coloured by segment")), width="stretch",
        on_select="rerun", selection_mode=("lasso", "box"), key="seg_map",
    )
    right.caption(_(
        "{note} Each dot is a customer; at most {n} are drawn (a random sample) so the map stays quick at any size. "
        "Draw a lasso or a box to select customers and save them as a segment.").format(note=emap.note, n=f"{sample:,}"))
    points = event.get("selection", {}).get("points", []) if isinstance(event, dict) else []
    selected = K.selected_user_ids(points)
    if not selected:
        return
    with left.form("seg_save_selection"):
        st.markdown(_("**{n} customers selected**").format(n=f"{len(selected):,}"))
        name = st.text_input(_("Segment name"), key="seg_selection_name")
        if st.form_submit_button(_("Save selection as a segment"), type="primary"):
            definition = {"kind": S.SELECTION, "run_id": run_id, "projection": method,
                          "coloured_by": seg.definition, "drawn_sample": len(frame)}
            save(name, selected, definition)


def save(name: str, members: list[str] | pd.Series, definition: dict[str, Any]) -> None:
    try:
        segment_id = jobs.save_segment(ws, dataset_id, name, members, definition)
    except ValueError as exc:
        st.error(_("Not saved: {error}.").format(error=shared.md(exc)))
        return
    st.toast(_("Saved segment {id}: {name} ({n} customers).").format(id=segment_id, name=shared.md(name.strip()),
                                                                       n=f"{len(members):,}"))
    st.success(_("Saved **{name}** as segment {id}. Use it as an audience when targeting a campaign.").format(
        name=shared.md(name.strip()), id=segment_id))


def profile_card(result: jobs.SegmentsResult, spec: str) -> None:
    seg = result.segmentation
    st.subheader(_("Segment profile"))
    names = jobs.saved_names(ws, dataset_id, seg)  # "cluster 2" shows the name it was saved under
    label = st.selectbox(_("Segment"), list(seg.order), key="seg_profile_label",
                         format_func={value: jobs.segment_label(value, names) for value in seg.order}.get)
    prof = _profile(WS, dataset_id, info.fingerprint, spec, label, run_id, _stamp(run_id))
    with st.container(border=True):
        cols = st.columns(5)
        na = _("n/a")
        cols[0].metric(_("Customers"), f"{prof.customers:,}", _("{share} of all").format(share=f"{prof.share:.1%}"),
                       delta_color="off", delta_arrow="off")
        cols[1].metric(_("Share of value"), na if prof.value_share is None else f"{prof.value_share:.1%}")
        cols[2].metric(_("Value per customer"), na if prof.value_per_customer is None else f"{prof.value_per_customer:,.1f}")
        cols[3].metric(_("Responded"), f"{prof.active_share:.0%}", help=_("Share of the segment with a click, redeem or purchase"))
        if result.rfm is not None and label in R.RFM_MEANING:
            cols[4].caption(_(R.RFM_MEANING[label]))
        left, right = st.columns(2)
        left.plotly_chart(charts.segment_lift_bars(prof.traits, _("Traits that set it apart")), width="stretch")
        right.plotly_chart(charts.segment_lift_bars(prof.offer_types, _("Offer types it responds to more")), width="stretch")
        if prof.top_offers is not None and not prof.top_offers.empty:
            left, right = st.columns(2)
            chances = "chance" in prof.top_offers.columns
            left.markdown((_("**Offers they are most likely to redeem** (model run {run_id})") if chances else
                           _("**Offers the model picks for them** (model run {run_id})")).format(run_id=run_id))
            left.dataframe(**shared.headed(_offer_columns(prof.top_offers), offer_config()),
                           hide_index=True, width="stretch")
            right.markdown(_("**Offers they are more likely to redeem than everyone**") if chances else
                           _("**Offers picked for them more than for everyone**"))
            right.dataframe(**shared.headed(_offer_columns(prof.distinctive_offers), offer_config()),
                            hide_index=True, width="stretch")
            st.caption(_("'Likely to redeem' = the chance that a customer redeems the offer if it is sent on the "
                         "campaign day, averaged over up to 2,000 customers of the segment; 'vs everyone' = the "
                         "same for up to 2,000 of all customers subtracted, in percentage points; 'in their top 10' "
                         "= share of them whose own top 10 has it.") if chances else
                       _("This run has no response model, so there are no chances to show: offers are ranked by "
                         "the model's own preference, averaged over up to 2,000 customers of the segment; 'in their "
                         "top 10' = share of them whose own top 10 has it (of everyone: next to it)."))
        elif run_id is None:
            st.caption(_("Train a model to see the offers it would pick for this segment."))
    if result.segmentation.kind != "saved":
        with st.form("seg_save_profile"):
            # one key per label, so the suggested name follows the chosen segment
            suggested = label
            if result.segmentation.kind == "clusters":  # "cluster 2" says nothing: name it by its top traits
                suggested = P.business_name(prof.traits, prof.offer_types, fallback=label)
            name = st.text_input(_("Save this segment as"), value=suggested, key=f"seg_profile_name::{label}",
                                 help=_("Suggested from the traits that set it apart most; edit it as you like."))
            if st.form_submit_button(_("Save segment")):
                save(name, seg.members(label), {**seg.definition, "segment": label})


def compare(result: jobs.SegmentsResult, spec: str) -> None:
    seg = result.segmentation
    if len(seg.order) < 2:
        return
    st.subheader(_("Compare two segments"))
    a_col, b_col, c_col = st.columns(3)
    names = jobs.saved_names(ws, dataset_id, seg)

    shown = {value: jobs.segment_label(value, names) for value in seg.order}.get  # translated now (see offer_config)

    a = a_col.selectbox(_("Segment A"), list(seg.order), index=0, key="seg_compare_a", format_func=shown)
    b = b_col.selectbox(_("Segment B"), list(seg.order), index=1, key="seg_compare_b", format_func=shown)
    traits = _lifts(WS, dataset_id, info.fingerprint, spec)[0]
    columns = list(dict.fromkeys(traits[S.COLUMN]))
    left, right = st.columns([2, 3])
    stamp = _stamp(run_id)
    pa = _profile(WS, dataset_id, info.fingerprint, spec, a, run_id, stamp)
    pb = _profile(WS, dataset_id, info.fingerprint, spec, b, run_id, stamp)
    table = P.compare_profiles(pa, pb)
    left.dataframe(_formatted(table), width="stretch")
    if columns:
        column = c_col.selectbox(_("Compare by"), columns, key="seg_compare_column")
        wa, wb = jobs.label_words(a), jobs.label_words(b)
        lifts = L.compare_lifts(traits, a, b, column)
        lifts = lifts.assign(who=lifts["who"].replace({a: wa, b: wb})) if "who" in lifts.columns else lifts
        right.plotly_chart(charts.segment_comparison(lifts, column, wa, wb), width="stretch")


def _formatted(table: pd.DataFrame) -> pd.DataFrame:
    """Headline figures as text: shares as percentages, counts as integers."""
    def fmt(row: str, value: Any) -> str:
        if value is None or pd.isna(value):
            return _("n/a")
        if row.startswith("share"):
            return f"{value:.1%}"
        return f"{value:,.0f}" if row == "customers" else f"{value:,.1f}"

    out = pd.DataFrame({c: [fmt(r, v) for r, v in table[c].items()] for c in table.columns}, index=table.index)
    return out.rename(index=header, columns=jobs.label_words)


def saved_list() -> None:
    saved = jobs.saved_segments(ws, dataset_id)
    with st.expander(_("Saved segments ({n})").format(n=len(saved)), expanded=False):
        if saved.empty:
            st.caption(_("None yet. Saved segments keep their member list as of saving and can be used as campaign "
                         "audiences."))
            return
        st.dataframe(**shared.headed(saved, {c: st.column_config.Column(header(c)) for c in saved.columns}),
                     hide_index=True, width="stretch")
        with st.form("seg_delete"):
            target = st.selectbox(_("Delete a saved segment"), list(saved["id"]), key="seg_delete_id",
                                  format_func=dict(zip(saved["id"], saved["name"])).get)
            sure = st.checkbox(_("Yes, delete it"), key="seg_delete_sure")
            if st.form_submit_button(_("Delete segment")) and sure:
                jobs.delete_segment(ws, target)
                st.rerun()


# ------------------------------------------------------------------------------- the screen
spec = choose_spec()
if spec is not None:
    key = json.dumps({**spec, "language": current_language()}, sort_keys=True)  # the results' notes are in it
    try:
        with st.spinner(_("Segmenting customers...")):
            result = _result(WS, dataset_id, info.fingerprint, key)
    except (ValueError, WorkspaceError) as exc:
        st.error(_("Cannot segment: {error}").format(error=shared.md(exc)))
        result = None
    if result is not None:
        overview(result, key)
        offers_heatmap(result, key)
        customer_map(result)
        profile_card(result, key)
        compare(result, key)
saved_list()
