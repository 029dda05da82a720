"""Measure: what did the campaign really change? Upload results, read the lift with its uncertainty."""

from __future__ import annotations

import hashlib
import json
import shlex

import pandas as pd
import streamlit as st

from pages import shared
from recsys.charts import measurement as measurement_charts
from recsys.campaign import measure
from recsys.data.files import ReadLimits, display_name
from recsys.data.mapping import guess_mapping
from recsys.data.read import read_table
from recsys.core import columns as C
from recsys.core.i18n import N_, current_language, format_date
from recsys.core.i18n import gettext as _
from recsys.data.validate import DataError
from recsys.workspace import exports
from recsys.workspace import uplift as uplift_jobs

charts = shared.CachedCharts(measurement_charts)  # figures built once per content and language

UPLOAD_TYPES = ["csv", "gz", "tsv", "txt", "parquet", "xlsx", "xls"]
SOURCES = {
    "upload": N_("Upload a results table"),
    "export": N_("Outcomes of a past export"),
    "example": N_("Example e-mail test"),
}
NO_SCORE = "(none)"  # an option value: shown translated
#: Headers of the table of arms (the frame keeps these names; they are shown translated).
ARM_HEADERS = (N_("arm"), N_("customers"), N_("rate"), N_("mean"), N_("lift pts"), N_("lift"), N_("95% CI low"),
               N_("95% CI high"), N_("relative lift"), N_("p-value"), N_("incremental"))
PARAMS_KEY = "measure_params"

shared.sidebar()
st.title(_("Measure"))
st.caption(_(
    "Did the campaign change behaviour, or would these customers have bought anyway? Compare each arm "
    "with the control group that got nothing: the lift, its 95% interval and a plain verdict."
))
ws = shared.workspace()


# ------------------------------------------------------------------------------- loading
@st.cache_data(max_entries=4, show_spinner="Reading the file...")
def _read(digest: str, name: str, limits_key: str, _content: bytes, _limits: ReadLimits) -> pd.DataFrame:
    return read_table(_content, name=name, limits=_limits)


@st.cache_data(max_entries=2, show_spinner=False)
def _example(name: str) -> tuple[pd.DataFrame, str]:
    return measure.example_table(name)




@st.cache_data(max_entries=8, show_spinner=False)
def _measure(digest: str, params: str, language: str, _frame: pd.DataFrame) -> measure.Measurement:
    # ``language``: the verdicts are written in it
    p = json.loads(params)
    return measure.measure(_frame, p["arm"], p["control"], p["outcomes"], score=p["score"], source=p["source"])


@st.cache_data(max_entries=8, show_spinner=False)
def _measure_export(workspace_path: str, export_stamp: str, digest: str, params: str, language: str,
                    _frame: pd.DataFrame) -> measure.Measurement:
    """Keyed by workspace and export (id + creation time): export ids repeat across workspaces and
    after a delete, and the cache is shared by every session of the server."""
    p = json.loads(params)
    return exports.measure_outcomes(ws, p["export_id"], _frame, p["outcomes"], user_column=p["user_column"],
                                    source=p["source"])


def show_problems(error: DataError, what: str) -> None:
    """Every problem of a bad file, naming file, column and fix; nothing was changed."""
    shared.show_data_error(error, what)


def uploaded_table(label: str, key: str) -> tuple[pd.DataFrame, str, str] | None:
    """The uploaded file as a frame with its name and content hash, or None (message shown)."""
    upload = st.file_uploader(label, type=UPLOAD_TYPES, key=key)
    if upload is None:
        return None
    content = upload.getvalue()
    digest = hashlib.sha256(content).hexdigest()
    name = display_name(upload.name)  # the browser's name, e.g. "../../x.csv", is only ever shown
    try:
        limits = ReadLimits.from_env()
        return _read(digest, name, repr(limits), content, limits), name, digest
    except DataError as exc:
        show_problems(exc, _("{name} could not be read").format(name=name))
    except Exception as exc:  # noqa: BLE001 - never a traceback in the UI
        st.error(_("**{name}** could not be read: {error}. Fix: save it as CSV (UTF-8) or Excel and upload again.").format(
            name=shared.md(name), error=shared.md(exc)))
    return None


# ------------------------------------------------------------------------------- choosing
def choose_table() -> tuple[pd.DataFrame, str, str] | None:
    source = st.session_state.get("measure_source", "upload")
    if source == "upload":
        return uploaded_table(
            _("Results table: one row per customer with the arm (e.g. control / coupon) and outcome columns"),
            "measure_upload",
        )
    options = {"example": _("Synthetic e-mail test (30,000 customers, with model scores)")}
    if measure.hillstrom_path() is not None:
        options["hillstrom"] = _("Hillstrom e-mail test (real, 64,000 customers, 2008)")
    name = st.selectbox(_("Example"), list(options), format_func=options.__getitem__, key="measure_example")
    frame, shown = _example(name)
    return frame, shown, f"example-{name}"


def measure_table() -> None:
    chosen = choose_table()
    if chosen is None:
        return
    frame, name, digest = chosen
    st.dataframe(frame.head(5), hide_index=True, width="stretch")
    columns = [str(c) for c in frame.columns]
    guessed = measure.guess_arm_column(frame)
    arm = st.selectbox(_("Arm column (who got what)"), columns, index=columns.index(guessed) if guessed in columns else 0,
                       key="measure_arm")
    arm_values = sorted(frame[arm].dropna().astype(str).str.strip().unique().tolist())[:50]
    outcome_options = measure.outcome_candidates(frame, exclude=[arm])
    with st.form("measure_form"):
        left, right = st.columns(2)
        guess = measure.guess_control(arm_values)
        control = left.selectbox(_("Control arm (got nothing)"), arm_values,
                                 index=arm_values.index(guess) if guess in arm_values else 0, key="measure_control")
        defaults = [c for c in outcome_options if "score" not in c.lower()][:3]
        outcomes = right.multiselect(_("Outcomes"), outcome_options, default=defaults, key="measure_outcomes")
        score_options = [NO_SCORE, *outcome_options]
        score_guess = next((c for c in score_options if "score" in c.lower()), NO_SCORE)
        score = left.selectbox(_("Model score column (optional: lift by score decile)"), score_options,
                               index=score_options.index(score_guess), key="measure_score",
                               format_func={NO_SCORE: _(NO_SCORE), **{c: c for c in outcome_options}}.get)
        submitted = st.form_submit_button(_("Measure lift"), type="primary")
    if submitted:
        st.session_state[PARAMS_KEY] = {
            "kind": "table", "digest": digest, "source": name, "arm": arm, "control": control,
            "outcomes": outcomes, "score": None if score == NO_SCORE else score,
        }
    params = st.session_state.get(PARAMS_KEY)
    if not params or params.get("kind") != "table" or params["digest"] != digest:
        return
    try:
        result = _measure(digest, json.dumps(params, sort_keys=True), current_language(), frame)
    except DataError as exc:
        show_problems(exc, _("{name} could not be measured").format(name=name))
        return
    except Exception as exc:  # noqa: BLE001
        st.error(_("{name} could not be measured: {error}").format(name=shared.md(name), error=shared.md(exc)))
        return
    command = ["promolens", "measure", "--data", name, "--arm", params["arm"], "--control", params["control"]]
    if params["digest"] == "example-example":
        st.caption(_("The synthetic example is `recsys.campaign.measure.example_results()`: save it with "
                     "`.to_csv('example_results.csv', index=False)` to run the command below."))
    command += [part for o in params["outcomes"] for part in ("--outcome", o)]
    command += ["--score", params["score"]] if params["score"] else []
    render(result, " ".join(shlex.quote(c) for c in command))


def measure_past_export() -> None:
    past = ws.exports()
    if not past:
        st.info(_("No exports yet. Export a campaign on the Campaign page, send it, then come back with the results."))
        return
    labels = {
        e["id"]: _("{id} — {when}, {rows} rows").format(
            id=e["id"], when=f"{format_date(e['created_at'])} {e['created_at']:%H:%M}", rows=f"{int(e['n_rows'] or 0):,}")
        for e in past
    }
    export_id = st.selectbox(_("Export"), list(labels), format_func=labels.__getitem__, key="measure_export")
    manifest = ws.export(export_id)["manifest"] or {}
    counts = manifest.get("counts", {}).get("customers_by_group", {})
    st.caption(_("{treated} treated and {control} control customers.").format(
        treated=f"{counts.get(C.TREATMENT, 0):,}", control=f"{counts.get(C.CONTROL, 0):,}"))
    chosen = uploaded_table(_("Outcomes: customer id + converted / redeemed / revenue columns"), "measure_outcomes_upload")
    if chosen is None:
        return
    frame, name, digest = chosen
    columns = [str(c) for c in frame.columns]
    guessed = guess_mapping(columns, C.Table.USERS).get(C.USER_ID)
    with st.form("measure_export_form"):
        left, right = st.columns(2)
        user_column = left.selectbox(_("Customer id column"), columns,
                                     index=columns.index(guessed) if guessed in columns else 0, key="measure_user_column")
        options = measure.outcome_candidates(frame, exclude=[user_column] if user_column else [])
        defaults = [c for c in options if "score" not in c.lower()][:3]
        outcomes = right.multiselect(_("Outcomes"), options, default=defaults, key="measure_export_outcomes")
        submitted = st.form_submit_button(_("Measure lift"), type="primary")
    if submitted:
        st.session_state[PARAMS_KEY] = {
            "kind": "export", "digest": digest, "source": name, "export_id": export_id, "user_column": user_column,
            "outcomes": outcomes,
        }
    params = st.session_state.get(PARAMS_KEY)
    if not params or params.get("kind") != "export" or params["digest"] != digest or params["export_id"] != export_id:
        return
    try:
        stamp = str(ws.export(export_id)["created_at"])
        result = _measure_export(str(ws.path), stamp, digest, json.dumps(params, sort_keys=True), current_language(),
                                 frame)
    except DataError as exc:
        show_problems(exc, _("{name} could not be measured").format(name=name))
        return
    except Exception as exc:  # noqa: BLE001
        st.error(_("{name} could not be measured: {error}").format(name=shared.md(name), error=shared.md(exc)))
        return
    if submitted:
        ws.save_measurement(result.params, result.to_dict(), export_id=export_id)
        if params["outcomes"]:
            kept = uplift_jobs.record_export_outcomes(ws, export_id, exports.load_targets(ws, export_id), frame,
                                                      params["outcomes"][0], params["user_column"])
            st.caption(_("{n} customers of {export} (treated and control) with their {outcome} will train the next "
                         "uplift model (Campaign page, objective uplift or profit).").format(
                n=f"{kept:,}", export=export_id, outcome=params["outcomes"][0]))
    command = ["promolens", "measure", "--export", export_id, "--outcomes", name, "--user-column", params["user_column"]]
    command += [part for o in params["outcomes"] for part in ("--outcome", o)]
    render(result, " ".join(shlex.quote(c) for c in command))


# ------------------------------------------------------------------------------- rendering
def render(result: measure.Measurement, command: str) -> None:
    for warning in result.warnings:
        st.warning(shared.md(warning))
    arms = result.arms
    for outcome in result.outcomes():
        part = arms[arms["outcome"] == outcome]
        st.subheader(shared.md(outcome))
        for row in part[~part["is_control"]].itertuples(index=False):
            if row.p_value < result.params["alpha"]:
                (st.success if row.lift > 0 else st.warning)(row.verdict)
            else:
                st.info(shared.md(row.verdict))
        rate = bool((part["kind"] == "rate").all())
        st.dataframe(arm_table(part).rename(columns=_), hide_index=True, width="stretch", placeholder="", column_config={
            _("rate"): st.column_config.NumberColumn(format="percent"),
            _("mean"): st.column_config.NumberColumn(format="%.4f"),
            _("relative lift"): st.column_config.NumberColumn(format="percent"),
            _("p-value"): st.column_config.NumberColumn(format="%.2g"),
            _("incremental"): st.column_config.NumberColumn(format="%.0f" if rate else "%.2f"),
            **{_(c): st.column_config.NumberColumn(format="%.2f" if rate else "%.4f")
               for c in ("lift pts", "lift", "95% CI low", "95% CI high")},
        })
        left, right = st.columns(2)
        left.plotly_chart(charts.arm_means(arms, outcome), width="stretch", key=f"means_{outcome}")
        right.plotly_chart(charts.lift_bars(arms, outcome), width="stretch", key=f"lift_{outcome}")
        if result.deciles is not None and not result.deciles.empty:
            st.plotly_chart(charts.lift_by_decile(result.deciles, outcome), width="stretch", key=f"deciles_{outcome}")
            if result.uplift is not None and not result.uplift.empty:
                for text in result.uplift.loc[result.uplift["outcome"] == outcome, "verdict"]:
                    st.markdown(f"- {shared.md(text)}")
        show_qini(result, outcome)
    if result.by_offer is not None and not result.by_offer.empty and result.by_offer[C.ITEM_ID].nunique() > 1:
        with st.expander(_("Lift per offer (customers grouped by their best offer)")):
            st.dataframe(**shared.headed(result.by_offer, labels=BY_OFFER_HEADERS), hide_index=True, width="stretch")
    with st.expander(_("How this is computed, and the same numbers from the command line")):
        st.markdown(_(
            "Lift = arm mean − control mean, with a Welch 95% interval and p-value (unequal variances); "
            "relative lift with a delta-method interval; incremental = lift × customers in the arm; "
            "p-values are also Holm-adjusted for the number of comparisons. A test that could not "
            "detect the lift it saw (power below 80%) is flagged with the control size it would need."
        ))
        st.code(command, language="bash")


def show_qini(result: measure.Measurement, outcome: str) -> None:
    """The Qini curve of the list's score: did it find the customers the coupon moved?"""
    if result.qini_curves is None or result.qini is None:
        return
    for arm, curves in result.qini_curves[result.qini_curves["outcome"] == outcome].groupby("arm", sort=False):
        st.plotly_chart(charts.qini_curve(curves, _("{outcome}: Qini curve of the score, {arm} vs control").format(
                            outcome=outcome, arm=arm)),
                        width="stretch", key=f"qini_{outcome}_{arm}")
        rows = result.qini[(result.qini["outcome"] == outcome) & (result.qini["arm"] == arm)].set_index("score")
        q = rows.loc["score"]
        st.caption(_("Qini coefficient of the score {qini} (95% interval {low} to {high}; random targeting about 0): "
                     "above 0 means the top of the list held the customers the coupon moved. Uplift in the top 30%: "
                     "{uplift} [{uplift_low}, {uplift_high}].").format(
            qini=f"{q['qini']:+.4f}", low=f"{q['qini_low']:+.4f}", high=f"{q['qini_high']:+.4f}",
            uplift=f"{q['uplift_at_k']:+.4f}", uplift_low=f"{q['uplift_at_k_low']:+.4f}",
            uplift_high=f"{q['uplift_at_k_high']:+.4f}"))


#: Headers of the lift-per-offer table in other languages (English keeps the canonical names).
BY_OFFER_HEADERS = {"outcome": N_("outcome"), "kind": N_("kind"), "arm": N_("arm"), C.ITEM_ID: N_("offer id"),
                    "n_treated": N_("customers in the arm"), "mean_treated": N_("arm mean"),
                    "n_control": N_("control customers"), "mean_control": N_("control mean"), "lift": N_("lift"),
                    "lift_low": N_("95% CI low"), "lift_high": N_("95% CI high"), "p_value": N_("p-value")}


def arm_table(part: pd.DataFrame) -> pd.DataFrame:
    rate = bool((part["kind"] == "rate").all())
    scale, unit = (100.0, " pts") if rate else (1.0, "")
    return pd.DataFrame({
        # "(control)" marks the control arm, unless its name already says so ("control (control)")
        "arm": part["arm"].where(~part["is_control"] | part["arm"].str.contains(
            "|".join(sorted({"control", _("control")})), case=False, regex=True),
                                 part["arm"] + _(" (control)")),
        "customers": part["n"],
        "rate" if rate else "mean": part["mean"],
        f"lift{unit}": part["lift"] * scale,
        "95% CI low": part["lift_low"] * scale,
        "95% CI high": part["lift_high"] * scale,
        "relative lift": part["rel_lift"],
        "p-value": part["p_value"],
        "incremental": part["incremental"],
    })


st.radio(_("What do you want to measure?"), list(SOURCES), format_func={k: _(v) for k, v in SOURCES.items()}.get, horizontal=True,
         key="measure_source")
if st.session_state.get("measure_source") == "export":
    measure_past_export()
else:
    measure_table()
