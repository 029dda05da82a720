"""Train: fit the hybrid model, see honestly whether it beats simple baselines, compare runs."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pages import shared
from recsys.charts import training as training_charts
from recsys.core.words import metric_label
from recsys.data.files import display_name
from recsys.workspace import runs, update
from recsys.workspace import serving
from recsys.core import columns as C
from recsys.core import i18n
from recsys.core.i18n import N_
from recsys.core.i18n import gettext as _
from recsys.workspace.ingest import append_files
from recsys.learn.config import FeatureConfig, InteractionConfig, ModelConfig
from recsys.learn.pipeline import TrainConfig
from recsys.learn.update import FINE, RETRAIN, UPDATE, UpdateConfig
from recsys.data.schema import ColumnKind
from recsys.learn.split import SplitConfig
from recsys.data.validate import DataError

charts = shared.CachedCharts(training_charts)  # figures built once per content and language

SPLITS = {
    "temporal": N_("Predict the future: train on the past, test on the latest period (recommended)"),
    "cold_items": N_("New offers: hold out a share of offers entirely, as if launched tomorrow"),
    "leave_last_n": N_("Each customer's latest response is the test"),
    "random": N_("Random share of customer-offer pairs (optimistic: the model sees the future)"),
}
HEADLINE_METRICS = ["precision@{k}", "recall@{k}", "ndcg@{k}", "hit_rate@{k}", "auc"]
ACCURACY_METRICS = [*HEADLINE_METRICS, "map@{k}"]
SPLIT_TITLES = {
    "temporal": N_("tested on the latest period"), "cold_items": N_("tested on held-out new offers"),
    "leave_last_n": N_("tested on each customer's latest response"), "random": N_("tested on a random share"),
}
GLOSSARY = N_("""
- **precision@k**: share of the top k offers the customer went on to respond to.
- **recall@k**: share of the customer's held-out responses found in their top k.
- **ndcg@k**: like recall, but a hit near the top counts more.
- **hit_rate@k**: share of customers with at least one hit in their top k.
- **map@k**: mean average precision, another rank-aware accuracy.
- **auc**: chance that a responded offer is ranked above one that was not (0.5 = coin flip); computed on a
  seeded sample of the test customers when there are many (the caption says how many).
- **coverage@k**: share of the catalogue that appears in anyone's top k.
- **diversity@k**: how different the offers in one list are (by offer facts).
- **novelty@k**: how un-popular the recommended offers are (higher = less obvious).
- **personalization@k**: how different lists are between customers (0 = everyone gets the same).
- **arp@k**: average popularity (past customers) of the recommended offers.
""")
#: Column kinds as the feature pickers name them.
KIND_WORDS = {"categorical": N_("categorical"), "numeric": N_("numeric"), "text": N_("text"), "date": N_("date"),
              "tags": N_("tags"), "boolean": N_("boolean"), "identifier": N_("identifier"), "ignore": N_("ignore")}
UNUSABLE = {ColumnKind.IDENTIFIER, ColumnKind.IGNORE}
#: The settings search's headers (tune.settings_of names), translated when shown.
TRIAL_LABELS = {"learning_rate": N_("learning rate"), "no_components": N_("components"),
                "normalize": N_("normalize features"), "click_weight": N_("click weight"),
                "half_life_days": N_("half-life (days)")}
#: The run comparison's own column headers (runs.compare), translated when shown; metrics get metric_label.
COMPARE_HEADERS = {N_("run"), N_("split"), N_("loss"), N_("components"), N_("epochs"), N_("sensitive used")}
#: Words shown as they are in English and translated otherwise: the comparison table's headers, the
#: evaluation's candidate kinds and the step names of a run's timings.
SHOWN_WORDS = [
    N_("customers"), N_("compared with"), N_("measure"), N_("difference"), N_("95% interval"), N_("verdict"),
    N_("all items"), N_("held-out items"), N_("offers live in the test period"),
    N_("split"), N_("fit_hybrid"), N_("fit_collaborative"), N_("fit_popularity"), N_("fit_random"),
    N_("fit_recent_popularity"), N_("fit_ease"), N_("fit_item_knn"), N_("fit_als"), N_("tune_baselines"),
    N_("evaluate"), N_("total"), N_("fit_final"), N_("targeting"), N_("targeting_validated"),
]

shared.sidebar()
st.title(_("Train a model"))
ws = shared.workspace()
dataset_id = shared.dataset_id()
if dataset_id is None:
    st.info(_("Import a dataset on the Data page first."))
    st.stop()
info = ws.dataset(dataset_id)


@st.cache_data(max_entries=8, show_spinner=False)
def _events(workspace_path: str, dataset: str, fingerprint: str) -> list[str]:
    return runs.event_types(ws, dataset)


def feature_choices(schema) -> tuple[list[str], list[str], dict[str, str]]:  # noqa: ANN001 - TableSchema
    usable = [c for c in schema.columns if c.kind not in UNUSABLE]
    labels = {c.name: _("{name} ({kind}{sensitive})").format(
        name=c.name, kind=_(KIND_WORDS.get(c.kind.value, c.kind.value)), sensitive=_(", sensitive") if c.sensitive else "")
        for c in usable}
    default = [c.name for c in usable if not c.sensitive]
    return [c.name for c in usable], default, labels


def train_form() -> None:
    events = _events(str(ws.path), dataset_id, info.fingerprint)
    with st.form("train_form"):
        split = st.radio(_("How to test the model"), list(SPLITS), format_func=shared.in_this_language(lambda s: _(SPLITS[s])),
                         key="train_split")
        test_share = st.slider(_("Share held out for testing"), 0.05, 0.5, 0.2, 0.05, key="train_test_share")
        st.markdown(_("**What counts as a positive signal** (weight per event; 0 ignores the event)"))
        weights = st.data_editor(
            pd.DataFrame({"event": events, "weight": [C.DEFAULT_EVENT_WEIGHTS.get(e, 1.0) for e in events]}),
            disabled=["event"], hide_index=True, key="train_weights",
            column_config={"event": st.column_config.TextColumn(_("event")),
                           "weight": st.column_config.NumberColumn(_("weight"))},
        )
        left, right = st.columns(2)
        u_all, u_default, u_labels = feature_choices(info.user_schema)
        i_all, i_default, i_labels = feature_choices(info.item_schema)
        user_cols = left.multiselect(
            _("Customer facts used by the model"), u_all, default=u_default, format_func=u_labels.get,
            help=_("Sensitive columns are left out by default; the Fairness page audits them either way."),
            key="train_user_cols",
        )
        item_cols = right.multiselect(
            _("Offer facts used by the model"), i_all, default=i_default, format_func=i_labels.get,
            key="train_item_cols",
        )
        with st.expander(_("Model settings")):
            a, b, c = st.columns(3)
            loss = a.selectbox(_("Loss"), ["warp", "bpr", "logistic", "warp-kos"], key="train_loss",
                               format_func=str if i18n.current_language() == i18n.SOURCE_LANGUAGE else str.upper)
            components = b.number_input(_("Embedding size"), 4, 256, 32, 4, key="train_components")
            epochs = c.number_input(_("Max epochs (early stopping)"), 1, 300, 30, key="train_epochs")
            learning_rate = a.number_input(_("Learning rate"), 0.001, 1.0, ModelConfig().learning_rate, format="%.3f",
                                           key="train_lr")
            alpha = b.number_input(_("Regularisation (L2)"), 0.0, 0.1, 0.0, format="%.5f", key="train_alpha")
            k = c.number_input(_("List length k"), 1, 100, 10, key="train_k")
            seed = a.number_input(_("Seed"), 0, 2**31 - 1, 42, key="train_seed")
            half_life = b.number_input(_("Time decay half-life (days, 0 = off)"), 0.0, 3650.0, 0.0,
                                       key="train_half_life")
            refit = c.checkbox(_("Refit on all data after evaluation"), True, key="train_refit")
            tune = a.checkbox(_("Search the best settings first"), False, key="train_tune",
                              help=_("Tries learning rates, sizes, losses, normalisation, event weights and time "
                                     "decay on the validation slice (never the test period), then trains with the best."))
            budget = b.number_input(_("Search time budget (minutes)"), 0.5, 120.0, 5.0, 0.5, key="train_tune_minutes")
        submitted = st.form_submit_button(_("Train and evaluate"), type="primary")
    if not submitted:
        return
    sensitive = {c.name for c in [*info.user_schema.columns, *info.item_schema.columns] if c.sensitive}
    config = TrainConfig(
        split=SplitConfig(kind=split, test_share=float(test_share)),
        interactions=InteractionConfig(
            event_weights=dict(zip(weights["event"], weights["weight"].astype(float))),
            half_life_days=float(half_life) or None,
        ),
        features=FeatureConfig(include_sensitive=bool(sensitive & {*user_cols, *item_cols})),
        model=ModelConfig(
            loss=loss, no_components=int(components), epochs=int(epochs), learning_rate=float(learning_rate),
            item_alpha=float(alpha), user_alpha=float(alpha),
        ),
        k=int(k), seed=int(seed),
    )
    run_training(config, list(user_cols), list(item_cols), bool(refit), float(budget) if tune else None)


def run_training(config: TrainConfig, user_cols: list[str], item_cols: list[str], refit: bool,
                 tune_minutes: float | None = None) -> None:
    rows: list[dict] = []
    with st.status(_("Training..."), expanded=True) as status:
        bar = st.progress(0.0, text=_("Starting"))
        curve = st.empty()

        def on_epoch(row: dict) -> None:
            rows.append(row)
            metric = f"{config.model.early_stopping_metric}@{config.model.eval_k}"
            frame = pd.DataFrame(rows)
            if metric in frame.columns:
                curve.plotly_chart(charts.epoch_curve(frame, metric), width="stretch", key=f"live_curve_{len(rows)}")

        try:
            new_run = shared.in_background(lambda progress, epoch: runs.train_run(
                ws, dataset_id, config, refit_all=refit, user_columns=user_cols, item_columns=item_cols,
                progress=progress, on_epoch=epoch, tune_minutes=tune_minutes,
            ), bar, on_epoch)
        except ValueError as exc:
            status.update(label=_("Training stopped"), state="error")
            st.error(_("Training stopped: {error}").format(error=shared.md(exc)))
            return
        status.update(label=_("Trained run {run}").format(run=new_run), state="complete")
    shared.select_run(new_run)
    st.rerun()


def show_run(run_id: str) -> None:
    run = runs.get_run(ws, run_id)
    k, split = run.k, run.split_kind
    metrics = runs.metrics_frame(run)
    st.subheader(_("Run {run} · {split}").format(run=run_id, split=_(SPLIT_TITLES[split]) if split in SPLIT_TITLES else split))
    parent = run.parent_run
    if parent:
        u = run.extra.get("update", {})
        st.caption(_(
            "Updated from run {parent} with {rows} new events ({epochs} epochs, {seconds} s). The test figures below "
            "are those measured when run {source} was trained: an update has no held-out test of its own; "
            "its freshness on the next new data shows how it holds up."
        ).format(parent=parent, rows=f"{u.get('new_rows', 0):,}", epochs=u.get("epochs", "?"),
                 seconds=f"{u.get('seconds', 0):.1f}", source=run.extra.get("metrics_from", parent)))
    choice = run.validation_choice
    comparisons = run.comparisons
    words = runs.verdict(metrics, k, split, comparisons, choice)
    (st.warning if choice != "hybrid" else st.info)(words)
    show_comparisons(run)
    show_serving(run)
    names = [m.format(k=k) for m in HEADLINE_METRICS]
    st.plotly_chart(charts.model_comparison(metrics, names), width="stretch")
    accuracy = [m.format(k=k) for m in ACCURACY_METRICS if m.format(k=k) in metrics.columns]
    renamed = {"auc": _("auc (sampled)")} if run.split.get("auc_sampled") else {}
    renamed = {m: renamed.get(m, metric_label(m)) for m in metrics.columns}
    labelled = metrics.rename(index=lambda m: _(runs.MODEL_LABELS[m]) if m in runs.MODEL_LABELS else m).rename(
        columns=renamed)
    accuracy = [renamed.get(m, m) for m in accuracy]
    st.dataframe(
        labelled.style.format("{:.4f}").highlight_max(axis=0, subset=accuracy, color="#d4edda"), width="stretch"
    )
    with st.expander(_("What do these numbers mean?")):
        st.markdown(_(GLOSSARY))
    show_tuning(run)
    show_targeting(run)
    sizes = run.split
    kind = sizes.get("candidate_kind", "")
    st.caption(
        _("Evaluated on {users} customers with {pairs} held-out responses over {candidates} candidate offers "
          "({kind}). ").format(users=f"{sizes.get('eval_users', 0):,}", pairs=f"{sizes.get('test_pairs', 0):,}",
                               candidates=f"{sizes.get('candidates', 0):,}", kind=_(kind) if kind else kind)
        + (_("AUC on a seeded sample of {n} of them. ").format(n=f"{sizes['auc_users']:,}")
           if "auc_users" in sizes and sizes["auc_users"] < sizes.get("eval_users", 0) else "")
        + _("Timings: ") + ", ".join(_("{step} {seconds}s").format(step=_(name), seconds=f"{sec:.1f}")
                                     for name, sec in run.timings.items())
    )
    epochs = pd.DataFrame(run.epochs)
    curve_metric = next((c for c in epochs.columns if c.startswith("ndcg@")), None)
    left, right = st.columns(2)
    if curve_metric:
        left.plotly_chart(charts.epoch_curve(epochs, curve_metric), width="stretch")
    group_cols = [c.name for c in info.user_schema.columns if c.kind in (ColumnKind.CATEGORICAL, ColumnKind.BOOLEAN)]
    if group_cols:
        column = right.selectbox(_("Metrics by customer group"), group_cols, key="train_group_col")
        metric = right.selectbox(_("Metric"), names[:4], key="train_group_metric", format_func=shared.in_this_language(metric_label))
        by_group = _by_group(str(ws.path), run_id, str(run.created_at), info.fingerprint, column, metric)
        right.plotly_chart(charts.metric_by_group(by_group, column, metric), width="stretch")


@st.cache_data(max_entries=16, show_spinner="Averaging the metric by customer group...")
def _by_group(workspace_path: str, run: str, stamp: str, fingerprint: str, column: str, metric: str) -> pd.DataFrame:
    """A run's per-customer metric by customer group; key: run id + creation time (ids are reused after a delete)."""
    return runs.metrics_by_group(ws, run, _dataset(workspace_path, dataset_id, fingerprint), column, metric)


def show_serving(run: runs.RunRecord) -> None:
    """Which model serves the run when a baseline won validation: the marketer's switch."""
    name = run.extra.get("validated_model")
    if not name:
        return
    label = _(runs.MODEL_LABELS[str(name)]) if str(name) in runs.MODEL_LABELS else str(name)
    labels = {serving.VALIDATED: _("Serve {model} (validated best)").format(model=label),
              serving.HYBRID: _("Serve the hybrid model")}
    serving_words = {serving.VALIDATED: _("{model} (validated best)").format(model=label),
                     serving.HYBRID: _("the hybrid model")}
    current = run.serving_model
    chosen = st.radio(_("Model that serves this run"), list(labels), format_func=labels.get, horizontal=True,
                      index=list(labels).index(current), key=f"train_serving_{run.id}",
                      help=_("The serving model makes the Recommendations page's lists, the campaign probabilities "
                             "and the exports; each has its own response probabilities, fitted and judged on its own "
                             "scores."))
    if chosen != current:
        serving.set_serving(ws, run.id, chosen)
        st.rerun()
    st.caption(_("Serving now: {model}. Recommendations, campaign probabilities and exports use it; the targeting "
                 "figures below are its own.").format(model=shared.md(serving_words[current])))


def show_comparisons(run: runs.RunRecord) -> None:
    """The paired test differences of the validation choice against every other model, warm and cold apart."""
    table = runs.comparison_table(run)
    if table.empty:
        st.caption(_("This run was recorded before differences had intervals: retrain to see which are clear."))
        return
    choice = run.validation_choice
    label = _(runs.MODEL_LABELS[choice]) if choice in runs.MODEL_LABELS else choice
    st.markdown(_("**{model} against every other model on the test period** (difference = {model} minus the "
                  "other; 95% interval over customers; *no clear difference* when it contains 0)").format(model=label))
    groups = [_(g) for g in runs.GROUP_WORDS.values()]
    tabs = st.tabs([g[:1].upper() + g[1:] for g in groups])
    headers = {c: st.column_config.Column(_(c)) for c in table.columns}
    for tab, group in zip(tabs, groups):
        part = table[table["customers"] == group].drop(columns="customers")
        if part.empty:
            tab.caption(_("No {group} among the test customers.").format(group=group))
        else:
            shared.table(part.assign(measure=part["measure"].map(metric_label)), tab, headers, hide_index=True,
                         width="stretch")
    validation = run.extra.get("validation") or {}
    if validation:
        metric = run.extra.get("validation_metric", "ndcg")
        frame = pd.DataFrame({_("model"): [_(runs.MODEL_LABELS[m]) if m in runs.MODEL_LABELS else m
                                           for m in validation],
                              _("validation {metric}").format(metric=metric_label(metric)):
                                  list(validation.values()),
                              _("setting chosen on validation"): [
                                  ", ".join(f"{k}={v}" for k, v in ((run.extra.get("tuned") or {}).get(m) or {})
                                            .get("params", {}).items()) for m in validation]})
        with st.expander(_("How the model was chosen (validation slice, before the test period)")):
            st.dataframe(frame, hide_index=True, width="stretch")
            for name, tuned in (run.extra.get("tuned") or {}).items():
                if tuned.get("fallback"):
                    st.caption(_("{model}: {fallback}.").format(
                        model=_(runs.MODEL_LABELS[name]) if name in runs.MODEL_LABELS else name,
                        fallback=_(tuned["fallback"])))


def show_tuning(run: runs.RunRecord) -> None:
    """The settings search of a tuned run: every trial's validation score, the chosen settings."""
    tuning = run.extra.get("tuning")
    if not tuning:
        return
    trials = pd.DataFrame([{**t["settings"], "validation": t["validation"], "epochs": t["epochs"],
                            "seconds": t["seconds"]} for t in tuning.get("trials", [])])
    default, best = tuning.get("default_validation"), tuning.get("best_validation")
    with st.expander(_("Settings search: {n} trials in {used} of {budget} minutes").format(
            n=len(trials), used=f"{tuning.get('seconds', 0) / 60:.1f}", budget=f"{tuning.get('budget_minutes', 0):g}")):
        if default is not None and best is not None:
            st.markdown(_("Validation score of the starting settings {default}, of the chosen ones {best} "
                          "(the first row is the starting settings; the test figures above are of the chosen ones)."
                          ).format(default=f"{default:.4f}", best=f"{best:.4f}"))
        shared.table(trials, hide_index=True, width="stretch", labels=TRIAL_LABELS)


def show_targeting(run: runs.RunRecord) -> None:
    """The targeting verdict: how well the run picks customers for an offer (what a campaign does)."""
    words = runs.targeting_statement(run.targeting)
    st.markdown(_("**Picking customers for a campaign**"))
    if not words.available:
        st.warning(words.headline)
        return
    (st.success if words.beats_all else st.warning)(words.headline)
    for line in (words.lift, words.calibration):
        if line:
            st.markdown(line)
    if words.note:
        st.caption(words.note)
    deciles = run.targeting.get("deciles") or []
    if deciles:
        st.plotly_chart(charts.reliability_chart(pd.DataFrame(deciles)), width="stretch", key="train_reliability")


_dataset = shared.cached_dataset  # one cache for every page

ADVICE_STYLE = {FINE: st.success, UPDATE: st.warning, RETRAIN: st.error}


@st.cache_data(max_entries=16, show_spinner="Checking the model on the new events...")
def _freshness(workspace_path: str, run: str, fingerprint: str, language: str) -> dict:  # language: the summary's
    report = update.freshness_report(shared.workspace(), run)
    return {**report.to_dict(), "summary": report.summary()}


def show_freshness(run_id: str) -> None:
    run = runs.get_run(ws, run_id)
    k = run.k
    st.subheader(_("Keep the model fresh"))
    st.caption(_(
        "This model was {state}. Add the events, customers and offers that arrived "
        "since, see whether the model still holds up on them, and update it in seconds instead of retraining."
    ).format(state=runs.run_data(ws, run).describe()))
    with st.expander(_("Add new data to this dataset")):
        append_form()
    try:
        report = _freshness(str(ws.path), run_id, info.fingerprint, i18n.current_language())
    except ValueError as exc:
        st.warning(shared.md(exc))
        return
    ADVICE_STYLE[report["recommendation"]](report["summary"])
    if report["new_events"] == 0:
        return
    left, right = st.columns([3, 2])
    if report.get("precision_new") is not None:
        left.plotly_chart(charts.freshness_bars(report, k), width="stretch")
    right.metric(_("New events since training"), f"{report['new_events']:,}")
    right.metric(_("Customers who responded to something new"), f"{report['eval_users']:,}")
    right.metric(_("New customers / new offers"), f"{report['new_users']:,} / {report['new_items']:,}")
    update_form(run_id)


def append_form() -> None:
    with st.form("append_form"):
        st.markdown(_("Files with the **same columns** as this dataset; any of the three may be left empty."))
        uploads = {
            "interactions": st.file_uploader(_("New events"), type=shared.UPLOAD_TYPES, key="append_interactions"),
            "users": st.file_uploader(_("New or changed customers"), type=shared.UPLOAD_TYPES, key="append_users"),
            "items": st.file_uploader(_("New or changed offers"), type=shared.UPLOAD_TYPES, key="append_items"),
        }
        submitted = st.form_submit_button(_("Check and add"))
    if not submitted:
        return
    given = {role: f for role, f in uploads.items() if f is not None}
    if not given:
        st.warning(_("Choose at least one file to add."))
        return
    with st.status(_("Adding the new data..."), expanded=True) as status:
        bar = st.progress(0.0)
        try:
            record, _prepared = append_files(
                ws, dataset_id, **{role: f.getvalue() for role, f in given.items()},
                names={role: display_name(f.name) for role, f in given.items()},
                progress=lambda text, share: bar.progress(share, text=_(text)),
            )
        except DataError as exc:
            status.update(label=_("Nothing was added: the files need fixing"), state="error", expanded=False)
            shared.show_data_error(exc)
            return
        status.update(label=_("Added {n} events to {dataset}").format(n=f"{record['n_rows']:,}", dataset=dataset_id),
                      state="complete")
    st.rerun()


def update_form(run_id: str) -> None:
    defaults = UpdateConfig()
    with st.form("update_form"):
        a, b = st.columns(2)
        epochs = a.number_input(_("Training passes over the new events"), 1, 50, defaults.epochs, key="update_epochs")
        replay = b.number_input(
            _("Old events replayed per new event"), 0.0, 10.0, defaults.replay_ratio, 0.5, key="update_replay",
            help=_("Replaying a sample of older responses keeps the model from forgetting them."),
        )
        submitted = st.form_submit_button(_("Update the model with the new data"), type="primary")
    if not submitted:
        return
    config = UpdateConfig(epochs=int(epochs), replay_ratio=float(replay), seed=runs.get_run(ws, run_id).seed)
    with st.status(_("Updating..."), expanded=True) as status:
        bar = st.progress(0.0, text=_("Starting"))
        try:
            new_run = shared.in_background(lambda progress, _epoch: update.update_run(
                ws, run_id, config=config, progress=progress), bar)
        except ValueError as exc:
            status.update(label=_("Update stopped"), state="error")
            st.error(_("Update stopped: {error}").format(error=shared.md(exc)))
            return
        status.update(label=_("Updated: run {run}").format(run=new_run), state="complete")
    shared.select_run(new_run)
    st.rerun()



def run_list() -> None:
    all_runs = runs.summaries(ws, dataset_id)
    if not all_runs:
        return
    st.subheader(_("All runs on this dataset"))
    chosen = st.multiselect(
        _("Compare runs"), [r.id for r in all_runs], default=[r.id for r in all_runs[:2]], key="train_compare"
    )
    if chosen:
        table = runs.compare(ws, chosen)
        if "split" in table.columns:  # the split's name as the run's title says it
            table = table.assign(split=table["split"].map(lambda s: _(SPLIT_TITLES[s]) if s in SPLIT_TITLES else s))
        st.dataframe(table.rename(columns=lambda c: _(c) if c in COMPARE_HEADERS else metric_label(c))
                     .rename_axis(_(table.index.name)), width="stretch")
    with st.form("delete_run"):
        target = st.selectbox(_("Delete a run"), [r.id for r in all_runs])
        sure = st.checkbox(_("Yes, delete this run and its model"))
        if st.form_submit_button(_("Delete run")) and sure:
            ws.delete_run(target)
            shared.select_run(None)
            st.rerun()


with st.expander(_("Train a new model"), expanded=shared.run_id() is None):
    train_form()
if shared.run_id() is not None:
    show_run(shared.run_id())
    show_freshness(shared.run_id())
    run_list()
