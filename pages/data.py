"""Data: look at the current dataset, or bring in new files (upload, map columns, check, save)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from pages import shared
from recsys.charts import overview as overview_charts
from recsys.core import columns as C
from recsys.core import i18n
from recsys.core.i18n import N_
from recsys.core.i18n import gettext as _
from recsys.data.dataset import DatasetInfo
from recsys.data.files import ReadLimits
from recsys.data.mapping import ImportOptions, guess_mapping
from recsys.data.schema import ColumnKind, ColumnSpec, TableSchema
from recsys.data.clean import report_summary
from recsys.data.privacy import identifier_warning_in_words, reason_in_words
from recsys.data.validate import CleaningReport, DataError
from recsys.workspace import overview
from recsys.workspace.ingest import (
    SAMPLE_NAME, SAMPLE_ZH_NAME, DuplicateImportError, StagedUpload, discard_uploads, import_chinese_sample,
    import_files, preview_file, sample_files, stage_upload,
)

charts = shared.CachedCharts(overview_charts)  # figures built once per content and language

UPLOAD_TYPES = ["csv", "gz", "tsv", "txt", "parquet", "xlsx", "xls"]
NOT_MAPPED = "(none)"
#: The canonical columns of the mapping form (their labels; the keys stay the canonical names).
MAPPABLE_WORDS = [N_("(none)"), N_("user_id"), N_("item_id"), N_("event"), N_("timestamp"), N_("weight"), N_("value"),
                  N_("quantity"), N_("unit_price"), N_("order_id")]
ROLE_TABLE = {"interactions": C.Table.INTERACTIONS, "users": C.Table.USERS, "items": C.Table.ITEMS}
ROLE_LABEL = {
    "interactions": N_("Interactions (required): who saw, clicked, redeemed or bought what"),
    "users": N_("Customer facts (optional): segment, region, tier, ..."),
    "items": N_("Offer / product facts (optional): type, category, discount, ..."),
}
#: What each file is, in the mapping form's headings.
ROLE_NOUN = {
    "interactions": N_("interactions (required)"), "users": N_("customer facts (optional)"),
    "items": N_("offer / product facts (optional)"),
}
UPLOAD, SAMPLE, SAMPLE_ZH = "Upload my files", "Use the sample shop", "Use the Chinese sample shop"
SOURCE_LABELS = {UPLOAD: N_("Upload my files"), SAMPLE: N_("Use the sample shop"),
                 SAMPLE_ZH: N_("Use the Chinese sample shop")}
ZEROS_LABELS = {"error": N_("stop and tell me"), "merge": N_("are the same id"), "keep": N_("are different ids")}
#: The column-types table's words: its tables and the column kinds (canonical in code, translated when shown).
TABLE_WORDS = {"customers": N_("Customers"), "offers": N_("Offers")}
KIND_WORDS = {"categorical": N_("categorical"), "numeric": N_("numeric"), "tags": N_("tags"), "boolean": N_("boolean"),
              "date": N_("date"), "text": N_("text"), "identifier": N_("identifier"), "ignore": N_("ignore")}

shared.sidebar()
st.title(_("Data"))
ws = shared.workspace()
tab_overview, tab_import, tab_manage = st.tabs([_("Overview"), _("Import new data"), _("Manage datasets")])


# ------------------------------------------------------------------------------- overview
@st.cache_data(max_entries=8, show_spinner="Summarising the dataset...")
def _overview(workspace_path: str, dataset_id: str, fingerprint: str) -> dict[str, object]:
    info = ws.dataset(dataset_id)
    label_column = C.name_column(info.item_schema.kinds())
    user_columns = [
        c.name for c in info.user_schema.columns if c.kind.value in ("categorical", "boolean")
    ]
    return {
        "headline": overview.headline(ws, dataset_id),
        "mix": overview.event_mix(ws, dataset_id),
        "time": overview.events_over_time(ws, dataset_id, "week"),
        "top": overview.top_items(ws, dataset_id, 15, label_column),
        "activity": overview.activity_distribution(ws, dataset_id),
        "user_columns": user_columns,
    }


@st.cache_data(max_entries=16, show_spinner=False)
def _users_by(workspace_path: str, dataset_id: str, fingerprint: str, column: str) -> pd.DataFrame:
    return overview.users_by_column(ws, dataset_id, column)


def render_overview() -> None:
    dataset_id = shared.dataset_id()
    if dataset_id is None:
        st.info(_("No dataset yet. Import one in the **Import new data** tab."))
        return
    info = ws.dataset(dataset_id)
    data = _overview(str(ws.path), dataset_id, info.fingerprint)
    head = data["headline"]
    cols = st.columns(5)
    cols[0].metric(_("Customers"), f"{info.n_users:,}")
    cols[1].metric(_("Offers"), f"{info.n_items:,}")
    cols[2].metric(_("Interactions"), f"{head['interactions']:,}")
    cols[3].metric(_("Revenue"), shared.money(head["revenue"], 0))
    if head["first"] is not None:
        first, last = pd.Timestamp(head["first"]), pd.Timestamp(head["last"])
        cols[4].metric(_("Days covered"), f"{(last - first).days + 1:,}")
        st.caption(_("From {first} to {last}.").format(first=shared.day(first), last=shared.day(last)))
    else:
        cols[4].metric(_("Days covered"), _("no dates"))

    left, right = st.columns([3, 2])
    if not data["time"].empty:
        left.plotly_chart(charts.events_over_time(data["time"]), width="stretch")
    else:
        left.info(_("This dataset has no timestamps, so there is no timeline."))
    right.plotly_chart(charts.event_mix(data["mix"]), width="stretch")

    left, right = st.columns([3, 2])
    left.plotly_chart(charts.top_items(data["top"]), width="stretch")
    right.plotly_chart(charts.activity_distribution(data["activity"]), width="stretch")
    if data["user_columns"]:
        column = right.selectbox(_("Customers per"), data["user_columns"], key="overview_user_column")
        right.plotly_chart(
            charts.users_by_column(_users_by(str(ws.path), dataset_id, info.fingerprint, column)),
            width="stretch",
        )
    current = shared.currency()
    options = list(dict.fromkeys([current, *shared.CURRENCIES]))
    st.selectbox(_("Currency of the money amounts"), options, index=options.index(current), key="currency_choice",
                 format_func=shared.in_this_language(lambda c: _(shared.CURRENCIES[c]) if c in shared.CURRENCIES else c),
                 on_change=lambda: st.session_state.__setitem__(shared.CURRENCY_KEY, st.session_state["currency_choice"]),
                 help=_("Shown with revenue, budgets and costs on every page (default: ${env}).").format(
                     env=shared.CURRENCY_ENV))
    with st.expander(_("How this dataset was imported: cleaning report, column types, identifiers")):
        render_import_record(info, editable=True)


def render_import_record(info: DatasetInfo, editable: bool = False) -> None:
    if info.report.get("steps"):
        render_cleaning_report(info)
    for warning in info.warnings:  # stored in English at import: shown in the session's language
        message, fix = identifier_warning_in_words(warning.get("message")), warning.get("fix", "")
        st.warning(f"{shared.md(warning.get('file'))}: {shared.md(message)} {shared.md(_(fix) if fix else fix)}")
    if info.user_schema.columns or info.item_schema.columns:
        render_column_types(info, editable)
    found = {f"{t}.{c}": why for t, cols in info.identifiers.items() for c, why in cols.items()}
    if found:
        st.markdown(_("**Direct identifiers found** (never used as features, never exported)"))
        why = {column: reason_in_words(reason) for column, reason in found.items()}
        st.table(pd.Series(why, name=_("why")).rename_axis(_("column")).reset_index())


def render_cleaning_report(info: DatasetInfo) -> None:
    """Only the rules that dropped rows, with their share of the rows read, adding up to the total."""
    report = CleaningReport.from_dict(info.report)
    summary = report_summary(report)
    if summary.empty:
        st.caption(_("Cleaning dropped no row."))
    else:
        st.markdown(_("**Cleaning report**: the rules that dropped rows (a row dropped for two reasons counts once)."))
        shared.table(summary.assign(share=100 * summary["share"]), hide_index=True, width="stretch",
                     labels={"what": N_("why")}, column_config={
            "rule": st.column_config.TextColumn(_("rule")),
            "rows": st.column_config.NumberColumn(_("rows"), format="%d"),
            "share": st.column_config.NumberColumn(_("% of rows read"), format="%.1f%%"),
            "what": st.column_config.TextColumn(_("why"), width="large"),
        })
    steps = report.to_frame()
    other = steps[(steps["action"] != "dropped") & (steps["count"] > 0)]
    if not other.empty:
        st.caption(_("Kept or fixed, not dropped: ") + "; ".join(
            f"{r.name} {r.count:,} ({r.action})" for r in other.itertuples(index=False)) + ".")


def render_column_types(info: DatasetInfo, editable: bool = False) -> None:
    """Column kinds and sensitivity, editable in a form (kept for the next training run)."""
    kinds = pd.DataFrame(
        [{"table": "customers", **c.to_dict()} for c in info.user_schema.columns]
        + [{"table": "offers", **c.to_dict()} for c in info.item_schema.columns]
    )
    st.markdown(_(
        "**Column types.** Sensitive columns (gender, age, ...) are kept out of models unless you opt "
        "in on the Train page, and are always available to fairness audits. Direct identifiers are "
        "never used."
    ))
    english = i18n.current_language() == i18n.SOURCE_LANGUAGE  # English shows the canonical words
    table_words = {t: t if english else _(w) for t, w in TABLE_WORDS.items()}
    kind_words = {k.value: k.value if english else _(KIND_WORDS.get(k.value, k.value)) for k in ColumnKind}
    canonical = kinds
    kinds = kinds.assign(table=kinds["table"].map(table_words), kind=kinds["kind"].map(kind_words))
    headers = {"table": st.column_config.TextColumn(_("table")), "name": st.column_config.TextColumn(_("name"))}
    if not editable:
        shared.table(kinds, hide_index=True, width="stretch", column_config={
            **headers, "kind": st.column_config.TextColumn(_("kind")),
            "sensitive": st.column_config.CheckboxColumn(_("sensitive"))})
        return
    with st.form(f"column_types_{info.id}"):
        shown, config = shared.shown_headers(kinds, {
            **headers,
            "kind": st.column_config.SelectboxColumn(_("kind"), options=list(kind_words.values()), required=True),
            "sensitive": st.column_config.CheckboxColumn(_("sensitive")),
        })
        edited = st.data_editor(
            shown, hide_index=True, width="stretch", key=f"kinds_{info.id}", column_config=config,
            disabled=[s for s, c in zip(shown.columns, kinds.columns) if c in ("table", "name")],
        ).set_axis(kinds.columns, axis=1)  # back to the canonical names and words
        edited = edited.assign(table=canonical["table"].to_numpy(),
                               kind=edited["kind"].map({w: k for k, w in kind_words.items()}))
        if st.form_submit_button(_("Save column types")):
            specs = {t: [ColumnSpec(r["name"], ColumnKind(r["kind"]), bool(r["sensitive"]))
                         for r in edited[edited["table"] == t].to_dict("records")] for t in ("customers", "offers")}
            ws.update_schemas(info.id, TableSchema(tuple(specs["customers"])), TableSchema(tuple(specs["offers"])))
            st.success(_("Saved. The next training run uses these column types."))


# ------------------------------------------------------------------------------- import
def _import_limits() -> ReadLimits:
    """The import guards, with a deployment's overrides from the environment (PROMOLENS_MAX_FILE_MB, ...)."""
    try:
        return ReadLimits.from_env()
    except ValueError as exc:
        st.error(_("The server's import limits are set wrongly: {error}. Ask whoever runs PromoLens to fix it.").format(
            error=shared.md(exc)))
        st.stop()


@st.cache_data(max_entries=6, show_spinner="Reading the first rows of the file...")
def _preview(path: str, digest: str, name: str, limits_key: str, _limits: ReadLimits) -> tuple[list[str], pd.DataFrame]:
    columns, head = preview_file(path, name, _limits)
    # Shown as text: real files mix types in one column (StockCode 85123A next to 22423).
    mixed = [c for c in head.columns if head[c].dtype == object]
    return columns, head.astype({c: "string" for c in mixed})


def render_import() -> None:
    render_last_import()
    source = st.radio(
        _("Where is the data?"), list(SOURCE_LABELS), format_func=shared.in_this_language(lambda s: _(SOURCE_LABELS[s])), horizontal=True,
        key="import_source",
    )
    if source == SAMPLE:
        st.write(_(
            "A synthetic shop of customers, offers and six months of impressions, clicks, redemptions "
            "and purchases, with structure planted on purpose (see `sample_data/README.md`)."
        ))
        again = st.checkbox(_("Import a second copy even if it is already in the workspace"), key="sample_again")
        if st.button(_("Import the sample shop"), type="primary"):
            files = sample_files()
            run_import(files["interactions"], files["users"], files["items"], name=SAMPLE_NAME, names={},
                       allow_duplicate=again)
        return
    if source == SAMPLE_ZH:
        st.write(_(
            "The same synthetic shop as a Chinese shop: Chinese segment names, regions, offer titles and "
            "descriptions (满减券, 折扣券, 包邮, 限时秒杀 ...), with the same planted structure "
            "(made like `promolens sample --locale zh`)."
        ))
        again = st.checkbox(_("Import a second copy even if it is already in the workspace"), key="sample_zh_again")
        if st.button(_("Import the Chinese sample shop"), type="primary", key="import_sample_zh"):
            run_import(None, None, None, name=SAMPLE_ZH_NAME, names={}, allow_duplicate=again, chinese_sample=True)
        return

    # The uploaders' keys change after a successful import, so the form starts empty again.
    generation = st.session_state.get(_UPLOAD_GENERATION, 0)
    uploads = {
        role: st.file_uploader(_(ROLE_LABEL[role]), type=UPLOAD_TYPES, key=f"upload_{role}" + (f"_{generation}" if generation else ""))
        for role in ROLE_TABLE
    }
    if uploads["interactions"] is None:
        st.caption(_(
            "CSV (any delimiter, UTF-8/UTF-16/Latin-1, .gz), Parquet or Excel. "
            "Column names are matched for you; you can change the mapping before saving."
        ))
        return
    saved: dict[str, StagedUpload] = {}
    names: dict[str, str] = {}
    previews: dict[str, tuple[list[str], pd.DataFrame]] = {}
    problems: list[DataError] = []
    for role, upload in uploads.items():
        if upload is None:
            continue
        saved[role] = stage_upload(upload.getvalue(), upload.name)
        names[role] = saved[role].name
        limits = _import_limits()
        try:
            previews[role] = _preview(str(saved[role].path), saved[role].sha256, names[role], repr(limits), limits)
        except DataError as exc:
            problems.append(exc)
    if problems:
        for exc in problems:
            shared.show_data_error(exc)
        return

    with st.form("import_form"):
        st.markdown(_("#### 1. Match your columns"))
        mapping: dict[str, dict[str, str]] = {}
        for role, (cols, head) in previews.items():
            table = ROLE_TABLE[role]
            guessed = guess_mapping(cols, table)
            st.markdown(f"**{shared.md(names[role])}** — {_(ROLE_NOUN[role])}")
            st.dataframe(head, hide_index=True, width="stretch", height=180)
            wanted = C.MAPPABLE_COLUMNS[table]
            grid = st.columns(min(len(wanted), 5))
            choice: dict[str, str] = {}
            for n, canonical in enumerate(wanted):
                options = [NOT_MAPPED, *cols]
                default = guessed.get(canonical, NOT_MAPPED)
                picked = grid[n % len(grid)].selectbox(
                    _(canonical), options, index=options.index(default), key=f"map_{role}_{canonical}",
                    format_func=shared.in_this_language(lambda o: _(NOT_MAPPED) if o == NOT_MAPPED else o),
                )
                if picked != NOT_MAPPED:
                    choice[canonical] = picked
            mapping[table.value] = choice
        inter_cols = previews["interactions"][0]
        st.markdown(_("#### 2. Options"))
        left, right = st.columns(2)
        user_cols = left.multiselect(
            _("Customer facts inside the interactions file (e.g. Country)"), inter_cols, default=None,
            help=_("Leave empty to let PromoLens pick columns that have one value per customer."),
        )
        item_cols = right.multiselect(
            _("Offer facts inside the interactions file (e.g. Description)"), inter_cols, default=None,
            help=_("Leave empty to let PromoLens pick columns that have one value per offer."),
        )
        zeros = left.selectbox(
            _("Ids like 007 and 7 in one column"), list(ZEROS_LABELS), format_func=shared.in_this_language(lambda z: _(ZEROS_LABELS[z])),
        )
        bad_share = left.number_input(
            _("Rows with a bad date that may be dropped (%)"), 0.0, 100.0, 100 * ImportOptions.max_bad_share, 0.5,
            help=_("Rows whose date is empty, unreadable or in the future are dropped and reported up to this share "
                   "of the file; above it the import stops so you can fix the dates."),
        )
        pseudonymise = right.checkbox(_("Replace customer ids by keyed pseudonyms"))
        keep_lines = right.checkbox(
            _("Keep non-product lines (postage, fees, manual adjustments)"),
            help=_("Off: lines such as POST, DOT, M or BANK CHARGES are left out of the offers; the cleaning "
                   "report shows the rule and the codes it found."),
        )
        name = st.text_input(_("Dataset name"), value=Path(names["interactions"]).stem)
        again = st.checkbox(
            _("Import a second copy if these exact files were already imported"),
            help=_("Off: importing the same files with the same column mapping again is refused, so a double "
                   "click never makes an untrained duplicate."),
        )
        submitted = st.form_submit_button(_("Check and import"), type="primary")
    if submitted:
        options = ImportOptions(
            limits=_import_limits(),
            leading_zero_ids=zeros,
            user_columns=tuple(user_cols) or None,
            item_columns=tuple(item_cols) or None,
            keep_non_product_lines=keep_lines,
            max_bad_share=float(bad_share) / 100,
        )
        paths = {role: staged.path for role, staged in saved.items()}
        try:
            run_import(
                paths["interactions"], paths.get("users"), paths.get("items"), name=name, names=names,
                mapping=mapping, options=options, pseudonymise=pseudonymise, allow_duplicate=again,
            )
        finally:
            discard_uploads(saved.values())  # customer data: never left in the temp folder


_UPLOAD_GENERATION = "upload_generation"


def run_import(  # noqa: ANN001
    interactions, users, items, *, name, names, mapping=None, options=None, pseudonymise=False, allow_duplicate=False,
    chinese_sample=False,
) -> None:
    failure: DataError | None = None
    duplicate: DuplicateImportError | None = None
    with st.status(_("Importing..."), expanded=True) as status:
        bar = st.progress(0.0)
        try:
            if chinese_sample:
                info = import_chinese_sample(ws, refuse_duplicate=not allow_duplicate,
                                             progress=lambda text, share: bar.progress(share, text=_(text)))
            else:
                info, _prepared = import_files(
                    ws, interactions, users, items, name=name, names=names, mapping=mapping,
                    options=options, pseudonymise=pseudonymise, refuse_duplicate=not allow_duplicate,
                    progress=lambda text, share: bar.progress(share, text=_(text)),
                )
            status.update(label=_("Imported '{name}' as {id}").format(name=shared.md(info.name), id=info.id),
                          state="complete")
        except DuplicateImportError as exc:
            status.update(label=_("Already imported: nothing was saved"), state="complete", expanded=False)
            duplicate = exc
        except DataError as exc:
            status.update(label=_("Import stopped: the files need fixing"), state="error", expanded=False)
            failure = exc
    if duplicate is not None:
        st.warning(_("{problem}  \n*Fix:* tick 'Import a second copy' above to keep two copies.").format(
            problem=shared.md(duplicate)), icon=":material/content_copy:")
        if st.button(_("Open '{name}'").format(name=shared.md(duplicate.existing.name)), key="open_duplicate"):
            shared.select_dataset(duplicate.existing.id)
            st.rerun()
        return
    if failure is not None:
        shared.show_data_error(failure)
        return
    shared.select_dataset(info.id)
    st.session_state[shared.LAST_IMPORT_KEY] = info.id
    st.session_state[_UPLOAD_GENERATION] = st.session_state.get(_UPLOAD_GENERATION, 0) + 1
    st.rerun()


def render_last_import() -> None:
    """The result of the import just done (kept across the rerun that selects the new dataset)."""
    last = st.session_state.get(shared.LAST_IMPORT_KEY)
    if last is None or last not in {d.id for d in ws.datasets()}:
        return
    info = ws.dataset(last)
    st.success(_(
        "Saved **{name}** ({id}): {interactions} interactions, {customers} customers, {offers} offers. "
        "It is now selected in the sidebar."
    ).format(name=shared.md(info.name), id=info.id, interactions=f"{info.n_interactions:,}",
             customers=f"{info.n_users:,}", offers=f"{info.n_items:,}"))
    if info.report.get("steps"):
        report = CleaningReport.from_dict(info.report).to_frame()
        dropped = report[(report["action"] == "dropped") & (report["count"] > 0)]
        if not dropped.empty:
            st.plotly_chart(charts.cleaning_report(dropped), width="stretch")
    render_import_record(info)


# ------------------------------------------------------------------------------- manage
def render_manage() -> None:
    datasets = ws.datasets()
    if not datasets:
        st.info(_("No datasets yet."))
        return
    table = pd.DataFrame(
        [{"id": d.id, "name": d.name, "interactions": d.n_interactions, "customers": d.n_users,
          "offers": d.n_items, "imported": d.created_at} for d in datasets]
    )
    shared.table(table, hide_index=True, width="stretch",
                 column_config={c: st.column_config.Column(_(c)) for c in table.columns})
    with st.form("delete_dataset"):
        target = st.selectbox(_("Delete a dataset (and the runs trained on it)"), [d.id for d in datasets])
        sure = st.checkbox(_("Yes, delete it"))
        clicked = st.form_submit_button(_("Delete"))
        if clicked and not sure:
            st.warning(_("Nothing was deleted: tick 'Yes, delete it' first."))
        elif clicked:
            ws.delete_dataset(target)
            shared.select_dataset(None)
            st.success(_("Deleted {dataset}.").format(dataset=shared.md(target)))
            st.rerun()


with tab_overview:
    render_overview()
with tab_import:
    render_import()
with tab_manage:
    render_manage()
