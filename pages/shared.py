"""Page glue shared by every page: the workspace, the sidebar, session keys and error display.

Session state holds ids only (never frames): ``dataset_id`` and later ``run_id``.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import os
import types
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from recsys.core import i18n
from recsys.core.background import Job
from recsys.core.i18n import N_
from recsys.core.i18n import gettext as _
from recsys.charts.style import use_template_by_default
from recsys.core.i18n import current_language
from recsys.core.markdown import escape_markdown
from recsys.core.money import CURRENCY_ENV, default_currency, format_money  # noqa: F401  CURRENCY_ENV: pages read it here
from recsys.workspace.ingest import ensure_sample_dataset
from recsys.workspace.store import Workspace, WorkspaceError, default_workspace_path
from recsys.data.validate import DataError

DATASET_KEY = "dataset_id"
_PENDING_DATASET = "pending_dataset_id"
RUN_KEY = "run_id"
_PENDING_RUN = "pending_run_id"
LAST_IMPORT_KEY = "last_import_id"
#: The session's language (``"en"`` or ``"zh_CN"``): the browser's locale at first, then the sidebar's choice.
LANGUAGE_KEY = "language"
_LANGUAGE_PICKER = "language_picker"
#: Set to 1 to give every logged-in user a workspace of their own (needs [auth] in secrets.toml).
PER_USER_ENV = "PROMOLENS_WORKSPACE_PER_USER"
#: File types the upload widgets accept (the readers in ``recsys.data.read`` handle each).
UPLOAD_TYPES = ["csv", "gz", "tsv", "txt", "parquet", "xlsx", "xls"]


@st.cache_resource(show_spinner=False)
def _workspace(path: str) -> Workspace:
    return Workspace(path)


@st.cache_resource(max_entries=2, show_spinner="Loading the dataset...")
def cached_dataset(workspace_path: str, dataset: str, fingerprint: str):  # noqa: ANN201 - data.dataset.Dataset
    """A dataset's tables, loaded once for every page (never mutated). Key: path, id, fingerprint."""
    return _workspace(workspace_path).load_dataset(dataset)


@st.cache_resource(max_entries=2, show_spinner="Loading the model...")
def cached_model(workspace_path: str, run: str, created: str):  # noqa: ANN201 - HybridRecommender
    """A run's production model, loaded once for every page (never mutated). ``created`` is the
    run's creation time: ids can be reused after a delete, so the key is id + time."""
    from recsys.workspace.runs import load_model

    return load_model(_workspace(workspace_path), run)


@st.cache_resource(max_entries=4, show_spinner="Computing response probabilities...")
def cached_response_scorer(workspace_path: str, run: str, created: str, dataset: str, fingerprint: str,
                           day: str | None):  # noqa: ANN201 - (response model, context, note), never mutated
    """The run's response model and its context as of ``day`` (``recsys.workspace.recommend.response_scorer``):
    built once per (run, dataset version, day) for every page and session (0.3-0.5 s on the sample shop),
    so the Recommendations page and every audience the Campaign page previews share it."""
    from recsys.workspace.recommend import response_scorer

    return response_scorer(_workspace(workspace_path), run, cached_dataset(workspace_path, dataset, fingerprint),
                           cached_model(workspace_path, run, created), None if day is None else pd.Timestamp(day))


def workspace() -> Workspace:
    """The workspace of this app (``$PROMOLENS_WORKSPACE`` or ./workspace), or of the logged-in user
    when ``$PROMOLENS_WORKSPACE_PER_USER`` is on (see :func:`user_workspace_path`)."""
    base = Path(os.environ.get("PROMOLENS_WORKSPACE", default_workspace_path())).resolve()
    if not per_user_workspaces():
        return _workspace(str(base))
    logged_in = login_configured() and st.user.get("is_logged_in")
    if not logged_in:
        raise WorkspaceError(
            f"{PER_USER_ENV} is on, so every user has a workspace of their own, but nobody is logged in: "
            "configure [auth] in .streamlit/secrets.toml (see the README, 'Running it for a team') or unset it."
        )
    identity = user_identity(dict(st.user.to_dict()) if hasattr(st.user, "to_dict") else dict(st.user))
    if identity is None:
        raise WorkspaceError(
            "Your login does not prove who you are well enough for a workspace of your own: the identity provider "
            "sent neither an issuer and subject ('iss', 'sub') nor a verified e-mail ('email_verified'). "
            "Ask whoever runs PromoLens to use an OpenID Connect provider that sends them."
        )
    return _workspace(str(user_workspace_path(base, identity)))


def user_identity(claims: dict) -> str | None:
    """The stable key of a logged-in user: issuer + subject (OpenID Connect's unique, never reassigned
    id), else a *verified* e-mail address; None when neither is there (an unverified e-mail claim could
    be anyone's address).

    >>> user_identity({"iss": "https://accounts.example", "sub": "123", "email": "a@b.c"})
    'https://accounts.example|123'
    >>> user_identity({"email": "a@b.c"}) is None, user_identity({"email": "A@b.c", "email_verified": True})
    (True, 'a@b.c')
    """
    if claims.get("iss") and claims.get("sub"):
        return f"{claims['iss']}|{claims['sub']}"
    if claims.get("email") and claims.get("email_verified") is True:
        return str(claims["email"]).strip().lower()
    return None


def per_user_workspaces() -> bool:
    return os.environ.get(PER_USER_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def user_workspace_path(base: Path, email: str) -> Path:
    """A user's own workspace under ``base``: named by a hash of the e-mail (no address on disk).

    >>> user_workspace_path(Path("/ws"), "Ann@Example.com") == user_workspace_path(Path("/ws"), "ann@example.com ")
    True
    """
    digest = hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()[:20]
    return base / "users" / digest


def login_configured() -> bool:
    """Whether ``.streamlit/secrets.toml`` has an ``[auth]`` section (no secrets file: False)."""
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001 - a missing or unreadable secrets file means no login
        return False


def require_login() -> None:
    """With ``[auth]`` configured, stop here until the user has logged in (st.login, OIDC); without
    it, do nothing: the app then trusts whoever can reach it (bind address, proxy)."""
    if not login_configured():
        return
    if not st.user.get("is_logged_in"):
        st.title("PromoLens")
        st.write(_("Log in with your company account to see the dashboard."))
        st.button(_("Log in"), type="primary", on_click=st.login)
        st.stop()
    with st.sidebar:
        st.caption(_("Logged in as {who}").format(who=md(st.user.get("email") or st.user.get("name") or _("you"))))
        st.button(_("Log out"), on_click=st.logout)


def _first_start(ws: Workspace) -> None:
    if ws.datasets():
        return
    with st.spinner(_("First start: importing the sample shop so you can look around...")):
        info = ensure_sample_dataset(ws)
    if info is not None:
        st.session_state[_PENDING_DATASET] = info.id
        st.toast(_("Imported the sample shop ({n} interactions).").format(n=i18n.format_number(info.n_interactions)))


def _route_through_app() -> None:
    """Send a deep link (e.g. /train on a fresh server) through app.py's st.navigation.

    Streamlit treats a ``pages/`` folder next to the entry script as an old-style multipage app
    until the first ``st.navigation`` call of the process. A first request for /train therefore runs
    pages/train.py directly, with an auto-generated menu listing every file of pages/ (this one
    too). Switching that mode off and rerunning lets app.py route the request instead.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def apply_language() -> str:
    """Set this script run's language: the session's choice, else the browser's locale (``st.context.locale``).

    Streamlit runs each session's script in its own thread and ``recsys.core.i18n`` keeps the language
    per thread, so every ``_()`` of this run (pages, charts, workspace messages) speaks it. Called first
    by :func:`sidebar`, i.e. at the top of every page.
    """
    chosen = st.session_state.get(LANGUAGE_KEY)
    if chosen not in i18n.LANGUAGES:
        chosen = i18n.negotiate(st.context.locale)
        st.session_state[LANGUAGE_KEY] = chosen
    i18n.set_language(chosen)
    return chosen


def in_this_language(format_func: Callable[[Any], str]) -> Callable[[Any], str]:
    """``format_func`` (one that translates) bound to this script run's language: Streamlit and AppTest may
    call a widget's format_func later, from another thread, where another language is current."""
    language = i18n.current_language()

    def bound(value: Any) -> str:
        with i18n.use_language(language):
            return format_func(value)

    return bound


def shown_headers(frame: pd.DataFrame, column_config: dict[str, Any] | None = None,
                  labels: dict[str, str] | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``frame`` and ``column_config`` as a table shows them, headers in the session's language.

    In English both come back as they are (code and tests keep the canonical names; the config's labels
    are the headers). In another language hidden columns (config ``None``) are dropped and every column is
    renamed: to its config label when it has one (already translated by the page), else to the
    translation of ``labels[name]`` (a msgid), else of the name itself; the config is keyed by the shown
    headers. So the table itself carries no English.
    """
    config = dict(column_config or {})
    if i18n.current_language() == i18n.SOURCE_LANGUAGE:
        return frame, config
    frame = frame.drop(columns=[c for c, v in config.items() if v is None and c in frame.columns])
    labels = labels or {}
    names = {c: _(labels.get(str(c), str(c))) for c in frame.columns}
    names |= {c: v["label"] for c, v in config.items() if v and v.get("label") and c in frame.columns}
    names = {c: name for c, name in names.items() if name == c or name not in frame.columns}
    return frame.rename(columns=names), {names.get(c, c): v for c, v in config.items() if v is not None}


def table(frame: pd.DataFrame, where: Any = None, column_config: dict[str, Any] | None = None,
          labels: dict[str, str] | None = None, **options: Any) -> Any:
    """``st.dataframe`` (or ``where.dataframe``) of ``frame`` with its headers in the session's language."""
    shown, config = shown_headers(frame, column_config, labels)
    return (where or st).dataframe(shown, column_config=config or None, **options)


def _keep_language() -> None:
    st.session_state[LANGUAGE_KEY] = st.session_state[_LANGUAGE_PICKER]


def language_picker() -> None:
    """The sidebar's language switch. Its choice is kept under :data:`LANGUAGE_KEY`, a key no widget owns:
    every page draws its own copy of the switch, and Streamlit drops a widget's key when a page without
    that widget runs, which lost the choice on every other page (seen in the browser: the switch showed
    English on alternate pages of a Chinese session)."""
    st.session_state[_LANGUAGE_PICKER] = st.session_state[LANGUAGE_KEY]
    st.sidebar.selectbox(_("Language / 语言"), list(i18n.LANGUAGES), format_func=i18n.LANGUAGES.__getitem__,
                         key=_LANGUAGE_PICKER, on_change=_keep_language)


def sidebar() -> None:
    """Language, dataset picker (and, once models exist, the run picker)."""
    apply_language()
    _route_through_app()
    require_login()
    try:
        ws = workspace()
        _first_start(ws)
        datasets = ws.datasets()
    except WorkspaceError as exc:
        st.sidebar.error(str(exc))
        st.stop()
    with st.sidebar:
        st.markdown("### PromoLens")
        language_picker()
        if not datasets:
            st.info(_("No dataset yet: import one on the Data page."))
            return
        ids = [d.id for d in datasets]
        # The name and id fit the sidebar; the size goes below (a full label was cut off at 300 px).
        labels = {d.id: f"{d.name} ({d.id})" for d in datasets}
        current = st.session_state.pop(_PENDING_DATASET, None) or st.session_state.get(DATASET_KEY)
        st.session_state[DATASET_KEY] = current if current in ids else _opening_dataset(ws, ids)
        st.selectbox(_("Dataset"), ids, format_func=labels.__getitem__, key=DATASET_KEY,
                     help=md("; ".join(d.label() for d in datasets)))
        chosen = next(d for d in datasets if d.id == st.session_state[DATASET_KEY])
        st.caption(md(chosen.label().removeprefix(chosen.name).strip(" ()").replace(f"{chosen.id}: ", "", 1)))
        _run_picker(ws, st.session_state[DATASET_KEY])
        st.caption(_("Workspace: {path}").format(path=code(ws.path)))


def _opening_dataset(ws: Workspace, ids: list[str]) -> str:
    """A new session opens on the newest dataset that has a trained model (else the newest): a fresh,
    untrained import must not send colleagues to "Train a model first"."""
    return next((d for d in ids if ws.runs(d)), ids[0])


def _run_picker(ws: Workspace, dataset: str) -> None:
    runs = ws.runs(dataset)
    if not runs:
        st.session_state.pop(RUN_KEY, None)
        st.caption(_("No model trained on this dataset yet: see the Train page."))
        return
    from recsys.workspace.runs import run_data

    ids = [r["id"] for r in runs]
    info, history = ws.dataset(dataset), ws.appends(dataset)
    labels = {
        r["id"]: _("{run} · {split} split · {time}").format(
            run=r["id"], split=_(SPLIT_WORDS.get(kind := r["config"].get("split", {}).get("kind", "?"), kind)),
            time=short_time(r["created_at"]))
        + _staleness(run_data(ws, r, history, info))
        for r in runs
    }
    current = st.session_state.pop(_PENDING_RUN, None) or st.session_state.get(RUN_KEY)
    st.session_state[RUN_KEY] = current if current in ids else ids[0]
    st.selectbox(_("Model run"), ids, format_func=labels.__getitem__, key=RUN_KEY)


#: The split kinds' short names (run picker).
SPLIT_WORDS = {"temporal": N_("temporal"), "cold_items": N_("cold_items"), "leave_last_n": N_("leave_last_n"),
               "random": N_("random")}


def short_time(when) -> str:  # noqa: ANN001 - a datetime or Timestamp
    """Day, month and time of ``when``: "03 Dec 16:42" in English, "12月3日 16:42" in Chinese."""
    if i18n.current_language() == i18n.SOURCE_LANGUAGE:
        return f"{when:%d %b %H:%M}"
    from babel import dates

    return dates.format_datetime(when, "MMMd日 HH:mm", locale=i18n.babel_locale())


def day(when) -> str:  # noqa: ANN001 - a date, datetime or Timestamp
    """A day: "31 Dec 2025" in English, "2025年12月31日" in Chinese."""
    if i18n.current_language() == i18n.SOURCE_LANGUAGE:
        return f"{when:%d %b %Y}"
    return i18n.format_date(when, "long")


def headed(frame: pd.DataFrame, config: dict | None = None, labels: dict | None = None) -> dict[str, Any]:
    """``data=`` and ``column_config=`` for ``st.dataframe(**headed(...))``: :func:`shown_headers` as keywords."""
    shown, shown_config = shown_headers(frame, config, labels)
    return {"data": shown, "column_config": shown_config}


def _staleness(data) -> str:  # noqa: ANN001 - runs.RunData
    """" · trained before the last 2 appends" for a run older than its data; "" when it is current."""
    return "" if data.appends_since == 0 else f" · {data.describe()}"


def select_dataset(dataset_id: str | None) -> None:
    """Make ``dataset_id`` the sidebar's choice from the next run on (call ``st.rerun`` after)."""
    st.session_state[_PENDING_DATASET] = dataset_id


def select_run(run_id: str | None) -> None:
    """Make ``run_id`` the sidebar's run from the next run on (call ``st.rerun`` after)."""
    st.session_state[_PENDING_RUN] = run_id


def run_id() -> str | None:
    """The model run picked in the sidebar (None when the dataset has no run)."""
    return st.session_state.get(RUN_KEY)


def dataset_id() -> str | None:
    """The dataset picked in the sidebar."""
    return st.session_state.get(DATASET_KEY)


def show_data_error(error: DataError, headline: str | None = None) -> None:
    """Every problem of a refused file, in plain words; nothing was saved.

    File names, column names and values come from the user's files: they are escaped, so a header
    like ``[click](http://...)`` shows as text, never as a link.
    """
    problems = error.problems
    what = headline or _("The files were not imported")
    count = (_("{n} problem") if len(problems) == 1 else _("{n} problems")).format(n=len(problems))
    st.error(_("**{what}: {count} to fix.** Nothing in your workspace changed.").format(what=md(what), count=count))
    for problem in problems:
        rows = _(" (rows {rows})").format(rows=", ".join(map(str, problem.rows))) if problem.rows else ""
        column = _(", column **{column}**").format(column=md(problem.column)) if problem.column else ""
        st.markdown(_("- **{file}**{column}: {message}{rows}  \n  *Fix:* {fix}").format(
            file=md(problem.file), column=column, message=md(problem.message), rows=rows, fix=md(problem.fix)))


def code(text: object) -> str:
    """``text`` as a code span (shown literally, in a fixed font): a path, a command."""
    return "`" + str(text).replace("`", "'") + "`"


def md(text: object) -> str:
    """``text`` shown literally by st.markdown, captions, alerts and labels (``core.markdown``)."""
    return escape_markdown(text)


def rerank_banner(ws: Workspace, run: str, items, cost: str | None = None) -> bool:  # noqa: ANN001 - items frame
    """A banner naming the run's saved fairness re-ranking (it changes every list of the run) and its
    cost; nothing without one. Returns whether a re-ranking is on."""
    from recsys.workspace.audit import saved_rerank

    saved = saved_rerank(ws, run)
    if saved is None:
        return False
    st.warning(
        _("**Fairness re-ranking on:** {rule}, saved with run {run} on the Fairness page. "
          "It changes who gets which offer in every list of this run. ").format(rule=md(saved.describe(items)), run=run)
        + (cost or "")
        + _(" Remove it on the Fairness page (Fix it tab) to rank by the model alone."),
        icon=":material/balance:",
    )
    return True


#: The library's progress messages, shown translated (``_(text)``) in the pages' progress bars.
PROGRESS_WORDS = [
    N_("Reading and checking the files"), N_("Saving to the workspace"), N_("Done"), N_("Making the Chinese sample shop"),
    N_("Splitting the interactions"), N_("Evaluating on the test split"), N_("Training the production model on all data"),
    N_("Saving the run"), N_("Fitting the response probabilities the campaigns use"), N_("Fitting response probabilities"),
    N_("Judging the targeting decision on the test period"), N_("Reading the new data"),
    N_("Checking the model on the new events"), N_("Growing the model and training on the new events"),
]


#: Environment default of the money currency ("GBP", "€", ...); the Data page can change it per session.
CURRENCY_KEY = "currency"
#: Currencies offered on the Data page: symbol written before the amount, or a code after it.
CURRENCIES = {"": N_("no currency"), "£": "£ (GBP)", "$": "$ (USD)", "€": "€ (EUR)", "CHF": "CHF", "¥": "¥ (JPY/CNY)"}


def currency() -> str:
    """The currency shown with money amounts: the Data page's choice, else $PROMOLENS_CURRENCY, else none."""
    chosen = st.session_state.get(CURRENCY_KEY)
    return default_currency() if chosen is None else str(chosen)


def money(amount: float | None, decimals: int = 2) -> str:
    """``amount`` with its currency and thousands separators: "£1,234.50", "1,234.50 CHF"; "n/a" for None.

    >>> money(1234.5)  # no currency chosen  # doctest: +SKIP
    '1,234.50'
    """
    return format_money(amount, currency(), decimals)


#: Plain label and glossary tooltip of each list metric (the part of its name before "@k").
METRIC_WORDS: dict[str, tuple[str, str]] = {
    "precision": (N_("hits per slot"), N_("Share of the list's offers the customer went on to respond to.")),
    "recall": (N_("responses found"), N_("Share of the customer's later responses that the list held.")),
    "ndcg": (N_("ranking quality"), N_("Responses near the top of the list count most (0 to 1, higher is better).")),
    "map": (N_("ranking quality (MAP)"), N_("Mean average precision: how early the responses come (higher is better).")),
    "hit_rate": (N_("customers with a hit"), N_("Share of customers with at least one response in their list.")),
    "coverage": (N_("offers used"), N_("Share of all offers that appear in anyone's list.")),
    "catalog_coverage": (N_("offers used"), N_("Share of all offers that appear in anyone's list.")),
    "exposure_gini": (N_("exposure inequality"), N_("0 = every offer shown equally; near 1 = a few offers take all.")),
    "gini": (N_("exposure inequality"), N_("0 = every offer shown equally; near 1 = a few offers take all.")),
    "long_tail_share": (N_("less popular offers"), N_("Share of slots for offers outside the 20% most popular.")),
    "long_tail": (N_("less popular offers"), N_("Share of slots for offers outside the 20% most popular.")),
    "arp": (N_("average popularity"), N_("Average popularity (past interactions) of the offers shown.")),
    "novelty": (N_("novelty"), N_("How unexpected the offers are, in bits (higher = less obvious).")),
    "ild": (N_("variety within a list"), N_("How different the offers of one list are, by offer facts.")),
    "ild_emb": (N_("variety within a list (model)"), N_("How different the offers of one list are, by the model's embeddings.")),
    "diversity": (N_("variety within a list"), N_("How different the offers of one list are, by offer facts.")),
    "diversity_emb": (N_("variety within a list (model)"), N_("How different the offers of one list are, by the model's embeddings.")),
    "entropy": (N_("offer groups spanned"), N_("How many offer groups a list spans, in bits.")),
    "miscalibration": (N_("distance from own history"), N_("How far a list's mix is from the customer's own history (0 = same mix).")),
    "parity": (N_("exposure parity"), N_("Least- over most-exposed offer group (1 = equal).")),
    "exposure_parity": (N_("exposure parity"), N_("Least- over most-exposed offer group (1 = equal).")),
    "personalization": (N_("personalisation"), N_("How different lists are between customers (1 = no overlap).")),
}


def metric_words(name: str) -> tuple[str, str]:
    """("plain label @k", tooltip) of a metric name such as "exposure_gini@10"; the name itself when unknown."""
    base, _at, k = str(name).partition("@")
    label, tip = METRIC_WORDS.get(base.lower(), (base.replace("_", " "), ""))
    label, tip = (_(label), _(tip)) if tip else (label, tip)
    suffix = _(" (top {k})").format(k=k) if k else ""
    technical = _("Technical name: {name}.").format(name=f"`{name}`")  # code: the name as the CLI and files spell it
    return label + suffix, (f"{tip} {technical}" if tip else technical)


def lazy_tabs(labels: list[str], key: str, keep: dict[int, tuple[str, ...]] | None = None) -> tuple[int, Any]:
    """Tabs whose hidden ones cost nothing: (index of the open tab, its container).

    Plain ``st.tabs`` runs and sends every tab's content on every run; these track which tab is open
    (``st.session_state[key]`` holds its label; switching tabs reruns the page), so a page renders only the
    open tab's content. The first tab is open at first. When the labels change (another language), the tab at
    the same place stays open; a tab set of another length opens the tab of the same label, else the first.
    Streamlit forgets the state of widgets a run does not draw: ``keep`` names, per tab index, the widget keys
    whose choices outlive a visit to another tab (handed back to session state while their tab is closed;
    a kept value that is no longer an option falls back to the widget's default)."""
    memo = f"{key}.open"  # (labels, index) of the last run's open tab: a language switch renames every tab
    last = st.session_state.get(memo)
    if st.session_state.get(key) not in labels and last is not None and len(last[0]) == len(labels):
        st.session_state[key] = labels[last[1]]
    tabs = st.tabs(labels, key=key, on_change="rerun")
    opened = next((i for i, tab in enumerate(tabs) if tab.open), 0)
    st.session_state[memo] = (tuple(labels), opened)
    for index, keys in (keep or {}).items():
        for name in keys if index != opened else ():
            if name in st.session_state:
                st.session_state[name] = st.session_state[name]
    return opened, tabs[opened]


def busy(message: str, work: Callable[..., Any]) -> Callable[..., Any]:
    """``work`` that shows a spinner with ``message`` while it runs: ``busy("Ranking...", rank)(user, k=10)``."""
    @functools.wraps(work)
    def run(*args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
        with st.spinner(message):
            return work(*args, **kwargs)
    return run


def in_background(work: Callable[[Any, Any], Any], bar: Any, on_epoch: Callable[[dict], None] | None = None,  # noqa: ANN401
                  poll: float = 0.25) -> Any:  # noqa: ANN401 - the job's result
    """Run ``work(progress, on_epoch)`` at a lower CPU priority than page views; draw its progress here.

    The job (:class:`recsys.core.background.Job`) only records its progress; this thread draws it on
    ``bar`` and passes new epochs to ``on_epoch``, so a click elsewhere (Streamlit stops or reruns this
    script at its next element call) cancels the job as before, and colleagues' pages stay quick.
    Returns the job's result or raises its error.
    """
    job = Job(work)
    shown: tuple[str, float] | None = None

    def draw() -> None:
        nonlocal shown
        if job.progress is not None and job.progress != shown:
            shown = job.progress
            bar.progress(shown[1], text=_(shown[0]))
        for record in job.take_epochs():
            if on_epoch is not None:
                on_epoch(record)

    try:
        while not job.wait(poll):
            draw()
        draw()
    except BaseException:  # the script is stopped or rerun: the job stops at its next progress report
        job.cancel()
        raise
    return job.result()


# ------------------------------------------------------------------------------- figures, built once
class _Unkeyable(TypeError):
    """An argument the figure cache cannot fingerprint (the figure is then built every time)."""


def _feed(value: Any, digest: Any) -> None:  # noqa: ANN401 - any chart argument
    """Feed ``value`` into ``digest``: every row of a frame (pandas' row hashes), arrays by their bytes."""
    if isinstance(value, pd.DataFrame):
        digest.update(repr((value.shape, list(value.columns), [str(t) for t in value.dtypes])).encode())
        digest.update(pd.util.hash_pandas_object(value, index=True).to_numpy().tobytes())
    elif isinstance(value, (pd.Series, pd.Index)):
        digest.update(repr((type(value).__name__, value.name, str(value.dtype), len(value))).encode())
        digest.update(pd.util.hash_pandas_object(value, index=isinstance(value, pd.Series)).to_numpy().tobytes())
    elif isinstance(value, np.ndarray) and value.dtype != object:
        digest.update(repr((value.dtype.str, value.shape)).encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, dict):
        digest.update(b"{")
        for k, v in value.items():
            _feed(k, digest)
            _feed(v, digest)
        digest.update(b"}")
    elif isinstance(value, (list, tuple, set, frozenset)):
        digest.update(type(value).__name__.encode() + b"[")
        for v in sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value:
            _feed(v, digest)
        digest.update(b"]")
    elif value is None or isinstance(value, (str, bytes, bool, int, float, np.generic, date, datetime, pd.Timestamp)):
        digest.update(f"{type(value).__name__}:{value!r};".encode())
    else:
        raise _Unkeyable(type(value).__name__)


def figure_key(build: Callable[..., Any], args: tuple, kwargs: dict) -> str | None:
    """A fingerprint of one chart: the builder, the session's language (titles and axes are text) and every
    argument's content; None when an argument cannot be fingerprinted (or a frame cell cannot be hashed)."""
    digest = hashlib.blake2b(digest_size=20)
    digest.update(f"{build.__module__}.{build.__qualname__}|{current_language()}|".encode())
    try:
        _feed(args, digest)
        _feed(sorted(kwargs.items()), digest)
    except TypeError:  # _Unkeyable, or a frame holding lists (pandas cannot hash those)
        return None
    return digest.hexdigest()


@st.cache_resource(max_entries=128, show_spinner=False)
def _figure(key: str, _build: Callable[..., Any], _args: tuple, _kwargs: dict) -> Any:  # noqa: ANN401 - go.Figure
    return _build(*_args, **_kwargs)


def cached_figure(build: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401 - go.Figure
    """``build(*args, **kwargs)``, built once per content and language for every session and rerun.

    Building a Plotly figure costs 0.1-0.3 s (validation, template copies); sending a built one costs
    a few ms. The figure is shared: callers hand it to ``st.plotly_chart`` (which copies it) and never
    change it. At most 128 figures are kept (the least recently used go first).
    """
    key = figure_key(build, args, kwargs)
    return build(*args, **kwargs) if key is None else _figure(key, build, args, kwargs)


use_template_by_default()  # one template copy per figure, at creation (see recsys.charts.style)


class CachedCharts:
    """A module of ``recsys.charts`` whose figure builders go through :func:`cached_figure`; everything else
    as is.

    Pages draw with ``charts = shared.CachedCharts(<their recsys.charts module>)``: ``charts.segment_sizes(...)``
    then costs one build per content and language, not one per rerun.
    """

    def __init__(self, module: types.ModuleType) -> None:
        self.module = module

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401
        value = getattr(self.module, name)
        if inspect.isfunction(value) and inspect.signature(value).return_annotation in ("go.Figure", "Figure"):
            value = functools.partial(cached_figure, value)
        setattr(self, name, value)
        return value
