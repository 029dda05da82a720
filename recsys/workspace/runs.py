"""Training runs in the workspace: train, evaluate, keep, compare and load.

One run = one call of :func:`train_run`: the dataset's tables go through
``pipeline.train_and_evaluate`` (honest evaluation against baselines on a held-out split), then,
unless switched off, the hybrid model is refitted on *all* interactions for the best number of
epochs (the production model used for recommendations and exports). The workspace keeps the
config, data fingerprint, split summary, metrics of every model, the per-epoch curve, timings,
per-user metrics (to cut by segment) and the model file. It also keeps what rebuilds its
evaluation exactly (:func:`load_evaluation`): the split's test-row flags, the test pairs every
model was judged on and, when the production model was refitted on all data, the evaluated model
of the train part.

When the interactions have timestamps, a run also judges the targeting decision (ranking customers
for an offer) and fits response probabilities (:mod:`recsys.learn.targeting_eval`):

* the judgement, leak-free: the hybrid refitted with the run's config and best epoch count on the
  events before ``t0 = cutoff - window_days``, a response model fitted on ``[t0, cutoff)``, both
  judged on the test period; its report (verdict, AUC / precision / lift with intervals against the
  baselines, expected vs actual responders per decile, largest calibration gap, and an honest note
  of what the data can say) is kept in ``extra["targeting"]`` and :data:`TARGETING_FILE`;
* the production response model (:data:`RESPONSE_FILE`), fitted on ``[t0, end]`` with the scores of
  the same hybrid trained before ``t0``. Production scoring (:func:`load_response_model`) pairs it
  with the run's production model, as of the campaign date. Runs recorded before this have none:
  callers fall back to the raw score and say so. When a baseline wins validation, it gets its own
  judgement and response model on its scores, and serves by default (:mod:`recsys.workspace.serving`).

A run is read as a :class:`RunRecord` (:func:`get_run`, :func:`list_runs`), a typed view of the
workspace's row.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsys.core import columns as C
from recsys.core.errors import PromoLensError
from recsys.core.i18n import gettext as _
from recsys.core.jsonio import dumps
from recsys.core.progress import EpochCallback, ProgressCallback, report as report_progress
from recsys.data.schema import ColumnKind, TableSchema
from recsys.learn.interactions import relevant_pairs
from recsys.learn.model import HybridRecommender
from recsys.learn.pipeline import (
    COLLABORATIVE,
    HYBRID,
    MODEL_NAMES,
    POPULARITY,
    RANDOM,
    TrainConfig,
    fit_final,
    train_and_evaluate,
)
from recsys.learn.protocol import LIVE_ITEMS, drop_seen_pairs, evaluation_split, rebuild_split
from recsys.learn import serve
from recsys.learn.recommender import BaseRecommender
from recsys.learn.select import ALS, EASE, ITEM_KNN, RECENT_POPULARITY
from recsys.data.dataset import Dataset, DatasetInfo
from recsys.learn.response import ResponseConfig, ResponseModel, ResponseModelError
from recsys.learn.targeting_eval import fit_production_response, judge_targeting, judgement_record
from recsys.workspace.run_words import (  # noqa: F401 - re-exported: runs.verdict, runs.MODEL_LABELS ...
    BASELINE_WORDS, GROUP_WORDS, MODEL_LABELS, TARGETING_BASELINE_WORDS, VERDICT_WORDS, TargetingStatement,
    interval_verdict, model_label, targeting_note, targeting_statement, verdict,
)
from recsys.workspace.store import Workspace

MODEL_FILE = "model.npz"
PER_USER_FILE = "per_user_{model}.parquet"
#: The model evaluated on the test split (fitted on the train part), kept when the production
#: model was refitted on all data.
EVALUATED_MODEL_FILE = "evaluated_model.npz"
#: The split's test-row flags (packed bits) and the number of interaction rows they cover.
SPLIT_FILE = "split.npz"
#: The test pairs (user_id, item_id) every model of the run was judged on.
TEST_PAIRS_FILE = "test_pairs.parquet"

#: The production response model (``.npz`` + ``.json``), next to :data:`MODEL_FILE`.
RESPONSE_FILE = "response.npz"
#: The targeting judgement (JSON) and its per-offer figures.
TARGETING_FILE = "targeting.json"
TARGETING_PER_OFFER_FILE = "targeting_per_offer.parquet"

#: The best validated model when it is a baseline (``.npz`` + ``.json``, :mod:`recsys.learn.serve`).
VALIDATED_MODEL_FILE = "validated_model.npz"
#: Its response model and targeting judgement (fitted and judged on its scores; :mod:`recsys.workspace.serving`).
VALIDATED_RESPONSE_FILE = "validated_response.npz"
VALIDATED_TARGETING_FILE = "targeting_validated.json"

#: ``extra["production_model"]`` of a run whose production model is the evaluated one.
TRAIN_SPLIT_MODEL = "train split"


@dataclass(frozen=True)
class RunRecord:
    """One training run as the workspace keeps it (see :meth:`from_row`).

    ``config``, ``metrics``, ``epochs``, ``timings``, ``split`` and ``extra`` are the JSON entries
    recorded by :func:`train_run` / :func:`recsys.workspace.update.update_run`; the properties
    read the entries of ``extra`` that several screens use, with their defaults for older runs.
    """

    id: str
    dataset_id: str
    created_at: Any
    config: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    epochs: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    split: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: "Mapping[str, Any] | RunRecord") -> "RunRecord":
        """A record from a row of ``Workspace.run`` / ``Workspace.runs`` (a dict with decoded JSON).

        Missing or null JSON entries become empty; a :class:`RunRecord` is returned as it is.

        >>> RunRecord.from_row({"id": "r1", "dataset_id": "d", "created_at": None, "extra": None}).k
        10
        """
        if isinstance(row, RunRecord):
            return row
        return cls(
            id=str(row["id"]), dataset_id=str(row["dataset_id"]), created_at=row.get("created_at"),
            config=dict(row.get("config") or {}), metrics=dict(row.get("metrics") or {}),
            epochs=list(row.get("epochs") or []), timings=dict(row.get("timings") or {}),
            split=dict(row.get("split") or {}), extra=dict(row.get("extra") or {}),
        )

    @property
    def k(self) -> int:
        """Length of the evaluated lists."""
        return int(self.config.get("k", 10))

    @property
    def seed(self) -> int:
        return int(self.config.get("seed", 42))

    @property
    def split_kind(self) -> str:
        return str((self.config.get("split") or {}).get("kind", "?"))

    @property
    def dataset_version(self) -> int | None:
        value = self.extra.get("dataset_version")
        return None if value is None else int(value)

    @property
    def dataset_fingerprint(self) -> str | None:
        return self.extra.get("dataset_fingerprint")

    @property
    def best_epochs(self) -> dict[str, int]:
        return dict(self.extra.get("best_epochs") or {})

    @property
    def production_model(self) -> str | None:
        return self.extra.get("production_model")

    @property
    def validation_choice(self) -> str:
        """The model with the best validation score (``hybrid`` for runs recorded before the choice)."""
        return str(self.extra.get("validation_choice") or HYBRID)

    @property
    def comparisons(self) -> pd.DataFrame:
        """Paired test differences between the validation choice and every other model (empty for older runs)."""
        return pd.DataFrame(self.extra.get("comparisons") or [])

    @property
    def parent_run(self) -> str | None:
        """The run this one was updated from (``None`` for a trained run)."""
        return self.extra.get("parent_run")

    @property
    def targeting(self) -> dict[str, Any]:
        """The targeting judgement of the serving model (``{}`` for runs recorded before it; ``status``
        says if it ran): the served baseline's when the run serves one, else the hybrid's."""
        if self.serving_model == "validated" and self.extra.get("validated_targeting"):
            return dict(self.extra["validated_targeting"])
        return dict(self.extra.get("targeting") or {})

    @property
    def serving_model(self) -> str:
        """``"validated"`` when the run serves its best validated baseline, else ``"hybrid"``."""
        return "validated" if self.extra.get("validated_model") and self.extra.get("serving_model") == "validated" else HYBRID

    def metric(self, model: str, name: str) -> float | None:
        """One recorded test metric of one model (``None`` when the run has none)."""
        value = (self.metrics.get(model) or {}).get(name)
        return None if value is None else float(value)


def get_run(ws: Workspace, run_id: str) -> RunRecord:
    """The run ``run_id`` (``NotFound`` when the workspace has none)."""
    return RunRecord.from_row(ws.run(run_id))


def list_runs(ws: Workspace, dataset_id: str | None = None) -> list[RunRecord]:
    """The runs of one dataset (or all), newest first."""
    return [RunRecord.from_row(row) for row in ws.runs(dataset_id)]

@dataclass(frozen=True)
class RunSummary:
    """A run as listed on the Train page and by ``promolens runs``."""

    id: str
    dataset_id: str
    created_at: Any
    split: str
    k: int
    metrics: pd.DataFrame
    timings: dict[str, float]

    def headline(self, metric: str) -> float | None:
        if HYBRID in self.metrics.index and metric in self.metrics.columns:
            return float(self.metrics.loc[HYBRID, metric])
        return None


def train_run(
    ws: Workspace,
    dataset_id: str,
    config: TrainConfig | None = None,
    *,
    refit_all: bool = True,
    user_columns: list[str] | None = None,
    item_columns: list[str] | None = None,
    progress: ProgressCallback | None = None,
    on_epoch: EpochCallback | None = None,
    response: ResponseConfig | None = None,
    targeting: bool = True,
    tune_minutes: float | None = None,
) -> str:
    """Train, evaluate against baselines, refit on all data and record the run; return its id.

    ``user_columns`` / ``item_columns`` restrict the feature columns (default: every usable column;
    sensitive ones only if ``config.features.include_sensitive``). With ``targeting`` and timestamped
    interactions, the targeting decision is judged and response probabilities are fitted (module
    doc; ``response`` sets their horizon and window); the production model scores with them.
    With ``tune_minutes``, the hybrid's settings are first searched on the validation slice within
    that budget (:mod:`recsys.learn.tune`); the run trains with the best and keeps every trial.
    """
    config = config or TrainConfig()
    dataset = ws.load_dataset(dataset_id)
    user_schema = restrict_schema(dataset.info.user_schema, user_columns)
    item_schema = restrict_schema(dataset.info.item_schema, item_columns)
    tuning: dict[str, Any] | None = None
    if tune_minutes is not None:
        from recsys.learn.tune import tune_hybrid

        tuned = tune_hybrid(dataset.interactions, dataset.users, user_schema, dataset.items, item_schema, config,
                            60.0 * float(tune_minutes), progress=lambda m, f: report_progress(progress, m, 0.3 * f))
        config, tuning = tuned.config, tuned.to_dict()
        outer = progress

        def progress(message: str, fraction: float) -> None:  # the rest of the run after the search
            report_progress(outer, message, 0.3 + 0.7 * fraction)

    def report(message: str, fraction: float) -> None:
        report_progress(progress, message, fraction)

    share_eval = 0.6 if refit_all else 0.8
    share_final = 0.8

    result = train_and_evaluate(
        dataset.interactions, dataset.users, user_schema, dataset.items, item_schema, config,
        progress=lambda message, share: report(message, share * share_eval), on_epoch=on_epoch,
    )
    timings = dict(result.timings)
    model = result.model
    if refit_all:
        t0 = time.perf_counter()
        model = fit_final(
            dataset.interactions, dataset.users, user_schema, dataset.items, item_schema, config,
            epochs=result.best_epochs[HYBRID],
            progress=lambda message, share: report(message, share_eval + share * (share_final - share_eval)),
            on_epoch=on_epoch,
        )
        timings["fit_final"] = round(time.perf_counter() - t0, 4)
    validated = result.baselines.get(result.production) if result.production in serve.KINDS else None
    if validated is not None and refit_all:  # the best validated baseline, refitted on all data like the hybrid
        validated = serve.refit_like(validated, dataset.interactions, dataset.users, dataset.items)
    judged: dict[str, Any] = {}
    response_model: ResponseModel | None = None
    per_offer: pd.DataFrame | None = None
    if targeting:
        t0 = time.perf_counter()
        judged, response_model, per_offer = targeting_judgement(
            dataset, user_schema, item_schema, config, result, response,
            progress=lambda message, share: report(message, share_final + share * (0.95 - share_final)),
        )
        timings["targeting"] = round(time.perf_counter() - t0, 4)
    served: tuple[dict[str, Any], ResponseModel | None, Any] = ({}, None, None)
    if targeting and validated is not None:  # the baseline's own probabilities: fitted and judged on its scores
        t0 = time.perf_counter()
        base = result.baselines[result.production]
        served = targeting_judgement(
            dataset, user_schema, item_schema, config, result, response, progress=lambda m, f: report(m, 0.95),
            scorer=lambda before: serve.refit_like(base, before, dataset.users, dataset.items))
        timings["targeting_validated"] = round(time.perf_counter() - t0, 4)
    report("Saving the run", 0.97)
    summary = result.to_dict()
    record = {
        "config": config.to_dict(),
        "metrics": summary["metrics"],
        "epochs": summary["epochs"],
        "timings": timings,
        "split": summary["split_summary"],
        "extra": {
            "best_epochs": summary["best_epochs"],
            "dataset_fingerprint": dataset.info.fingerprint,
            "dataset_version": dataset.info.version,
            "production_model": "all interactions" if refit_all else TRAIN_SPLIT_MODEL,
            "user_features": user_schema.feature_columns(config.features.include_sensitive),
            "item_features": item_schema.feature_columns(config.features.include_sensitive),
            "validation": summary["validation"],
            "validation_metric": f"{config.model.early_stopping_metric}@{config.k}",
            "tuned": summary["tuned"],
            "validation_choice": summary["production"],
            "comparisons": summary["comparisons"],
            "validated_model": None if validated is None else result.production,
            "serving_model": HYBRID if validated is None else "validated",  # validation's choice serves by default
        },
    }
    if served[0]:
        record["extra"]["validated_targeting"] = served[0]
    if judged:
        record["extra"]["targeting"] = judged
    if tuning is not None:
        record["extra"]["tuning"] = tuning

    def write(directory: Path) -> None:
        model.save(directory / MODEL_FILE)
        if model is not result.model:
            result.model.save(directory / EVALUATED_MODEL_FILE)
        np.savez(directory / SPLIT_FILE, is_test=np.packbits(result.is_test), n_rows=np.int64(len(result.is_test)))
        result.test_pairs[[C.USER_ID, C.ITEM_ID]].to_parquet(directory / TEST_PAIRS_FILE, index=False)
        for name, frame in result.per_user.items():
            frame.reset_index().to_parquet(directory / PER_USER_FILE.format(model=name), index=False)
        if validated is not None:
            serve.save_baseline(validated, directory / VALIDATED_MODEL_FILE)
        if response_model is not None:
            response_model.save(directory / RESPONSE_FILE)
        if judged:
            (directory / TARGETING_FILE).write_text(dumps(judged, indent=1), encoding="utf-8")
        if per_offer is not None:
            per_offer.reset_index().to_parquet(directory / TARGETING_PER_OFFER_FILE, index=False)
        if served[1] is not None:
            served[1].save(directory / VALIDATED_RESPONSE_FILE)
        if served[0]:
            (directory / VALIDATED_TARGETING_FILE).write_text(dumps(served[0], indent=1), encoding="utf-8")

    run_id = ws.save_run(dataset_id, record, write)
    report("Done", 1.0)
    return run_id


def targeting_judgement(
    dataset: Dataset, user_schema: TableSchema, item_schema: TableSchema, config: TrainConfig, result: Any,
    response: ResponseConfig | None = None, progress: ProgressCallback | None = None, scorer: Any = None,
) -> tuple[dict[str, Any], ResponseModel | None, pd.DataFrame | None]:
    """Judge the targeting decision and fit the production response model (module doc); ``scorer``:
    see :func:`~recsys.learn.targeting_eval.judge_targeting` (default: the hybrid's scores).

    Returns the JSON record for ``extra["targeting"]``, the production response model and the
    per-offer figures. Data without timestamps, or with too few responses, gets a record with
    ``status`` "unavailable" and the reason (the run itself still succeeds).
    """
    inter = dataset.interactions
    if C.TIMESTAMP not in inter.columns or pd.to_datetime(inter[C.TIMESTAMP]).isna().all():
        return ({"status": "unavailable", "reason": "the interactions have no timestamps, so response "
                 "probabilities cannot tell history from outcome"}, None, None)
    ts = pd.to_datetime(inter[C.TIMESTAMP])
    try:
        if result.split_summary.get("cutoff"):
            cutoff = pd.Timestamp(result.split_summary["cutoff"])
        else:  # not a temporal split: judge on the last test_share of the time, like the temporal split
            cutoff = pd.Timestamp(ts.quantile(1 - config.split.test_share))
        judgement = judge_targeting(
            inter, dataset.users, user_schema, dataset.items, item_schema, config, result.best_epochs[HYBRID],
            cutoff, response, progress=lambda m, f: report_progress(progress, m, 0.8 * f), scorer=scorer)
        report_progress(progress, "Fitting the response probabilities the campaigns use", 0.85)
        production = fit_production_response(inter, dataset.users, user_schema, dataset.items, item_schema, judgement)
    except (PromoLensError, ValueError) as exc:
        return {"status": "unavailable", "reason": str(exc)}, None, None
    report_progress(progress, "Done", 1.0)
    return judgement_record(judgement, production), production, judgement.report.per_offer


def load_response_model(ws: Workspace, run_id: str, which: str | None = None) -> ResponseModel | None:
    """The run's production response model, or ``None`` for a run without one (recorded before
    response probabilities, or on data that could not fit them): callers then rank by the raw
    score and say so. ``which``: ``"hybrid"`` or ``"validated"`` (default: the serving model's,
    fitted on that model's scores)."""
    which = which or get_run(ws, run_id).serving_model
    path = ws.run_dir(run_id) / (VALIDATED_RESPONSE_FILE if which == "validated" else RESPONSE_FILE)
    if not path.exists() or not path.with_suffix(".json").exists():
        return None
    ws.check_run_files(run_id)
    try:
        return ResponseModel.load(path)
    except ResponseModelError:  # written by an older format: retrain to get probabilities
        return None


@dataclass(frozen=True)
class RunData:
    """Which version of its dataset a run was trained on, against the dataset's latest version.

    ``version`` is None when the run cannot tell (recorded before versions existed, with a data
    fingerprint matching no version).
    """

    version: int | None
    latest: int

    @property
    def appends_since(self) -> int | None:
        return None if self.version is None else self.latest - self.version

    def describe(self) -> str:
        """E.g. "trained on the latest data" or "trained before the last 2 appends"."""
        if self.version is None:
            return _("trained on an earlier state of the data")
        n = self.latest - self.version
        if n == 0:
            return _("trained on the latest data")
        return _("trained before the last append") if n == 1 else _("trained before the last {n} appends").format(n=n)


def run_data(
    ws: Workspace, run: "RunRecord | Mapping[str, Any]", history: list[dict[str, Any]] | None = None,
    info: DatasetInfo | None = None,
) -> RunData:
    """The dataset version a run saw (see :class:`RunData`).

    Runs record ``dataset_version``; older runs are matched by their data fingerprint. Pass the
    dataset's ``info`` and ``history`` (``ws.appends(...)``) when at hand, to spare the catalogue.
    """
    run = RunRecord.from_row(run)
    info = ws.dataset(run.dataset_id) if info is None else info
    if run.dataset_version is not None:
        return RunData(run.dataset_version, info.version)
    history = ws.appends(info.id) if history is None else history
    fingerprints = [info.base_fingerprint or info.fingerprint] + [r["fingerprint"] for r in history]
    seen = run.dataset_fingerprint
    if seen in fingerprints:
        return RunData(fingerprints.index(seen), info.version)
    return RunData(None, info.version)


def load_run_dataset(ws: Workspace, run_id: str) -> Dataset:
    """The dataset as the run saw it (its version; the latest when the run cannot tell)."""
    run = get_run(ws, run_id)
    return ws.load_dataset(run.dataset_id, version=run_data(ws, run).version)


def restrict_schema(schema: TableSchema, keep: list[str] | None) -> TableSchema:
    """``schema`` with every column outside ``keep`` set to IGNORE (``None`` keeps all)."""
    if keep is None:
        return schema
    unknown = sorted(set(keep) - {c.name for c in schema.columns})
    if unknown:
        known = ", ".join(c.name for c in schema.columns) or "none"
        raise ValueError(f"unknown feature column(s) {unknown}; this dataset has: {known}")
    return schema.with_overrides(kinds={c.name: ColumnKind.IGNORE for c in schema.columns if c.name not in keep})


def load_model(ws: Workspace, run_id: str) -> HybridRecommender:
    """The run's production model (refused if tampered with, or if its files are not the run's own)."""
    model = HybridRecommender.load(ws.run_dir(ws.run(run_id)["id"]) / MODEL_FILE)
    ws.check_run_files(run_id)
    return model


def load_validated_model(ws: Workspace, run_id: str) -> tuple[str, BaseRecommender | HybridRecommender]:
    """The run's best validated model and its name: the saved baseline that won on validation, or
    the production hybrid (runs where the hybrid won, or recorded before the choice)."""
    run = get_run(ws, run_id)
    name = run.extra.get("validated_model")
    if name:
        return str(name), serve.load_baseline(ws.run_dir(run_id) / VALIDATED_MODEL_FILE)
    return HYBRID, load_model(ws, run_id)


def metrics_frame(run: "RunRecord | Mapping[str, Any]") -> pd.DataFrame:
    """A run's metrics as a frame: one row per model, one column per metric."""
    frame = pd.DataFrame.from_dict(RunRecord.from_row(run).metrics, orient="index")
    order = [m for m in MODEL_NAMES if m in frame.index]
    return frame.loc[order]


def summaries(ws: Workspace, dataset_id: str | None = None) -> list[RunSummary]:
    return [
        RunSummary(
            id=r.id, dataset_id=r.dataset_id, created_at=r.created_at, split=r.split_kind, k=r.k,
            metrics=metrics_frame(r), timings=r.timings,
        )
        for r in list_runs(ws, dataset_id)
    ]


def compare(ws: Workspace, run_ids: list[str], metrics: list[str] | None = None) -> pd.DataFrame:
    """The hybrid model's metrics of several runs side by side, with what differs in their configs."""
    rows = []
    for run_id in run_ids:
        run = get_run(ws, run_id)
        frame = metrics_frame(run)
        cfg = run.config
        row = {
            "run": run_id, "split": run.split_kind, "loss": cfg["model"].get("loss"),
            "components": cfg["model"].get("no_components"), "epochs": run.best_epochs.get(HYBRID),
            "sensitive used": cfg["features"].get("include_sensitive"),
        }
        if HYBRID in frame.index:
            row.update({m: frame.loc[HYBRID, m] for m in (metrics or frame.columns)})
        rows.append(row)
    return pd.DataFrame(rows).set_index("run")


def comparison_table(run: "RunRecord | Mapping[str, Any]") -> pd.DataFrame:
    """The paired test differences of a run in plain labels (empty for runs recorded before them).

    Columns: ``customers`` (all / with a history / new), ``compared with``, ``measure``,
    ``difference``, ``95% interval``, ``verdict``; the difference is the validation choice minus the model.
    """
    run = RunRecord.from_row(run)
    c = run.comparisons
    cols = ["customers", "compared with", "measure", "difference", "95% interval", "verdict"]
    if c.empty:
        return pd.DataFrame(columns=cols)
    low, high = c["low"].astype(float), c["high"].astype(float)
    return pd.DataFrame({
        "customers": c["group"].map(lambda g: _(GROUP_WORDS[g]) if g in GROUP_WORDS else g),
        "compared with": c["model"].map(model_label),
        "measure": c["metric"],
        "difference": c["diff"].astype(float).round(4),
        "95% interval": [f"[{a:+.4f}, {b:+.4f}]" if pd.notna(a) else _("n/a") for a, b in zip(low, high)],
        "verdict": c["verdict"].map(lambda v: _(VERDICT_WORDS[v]) if v in VERDICT_WORDS else v),
    })[cols]


def metrics_by_group(ws: Workspace, run_id: str, dataset: Dataset, column: str, metric: str) -> pd.DataFrame:
    """Per-user metric of every model averaged by the values of one customer column."""
    run_dir = ws.run_dir(run_id)
    groups = dataset.users.set_index(C.USER_ID)[column].astype("string").fillna("(missing)")
    frames = []
    for model in MODEL_NAMES:
        path = run_dir / PER_USER_FILE.format(model=model)
        if not path.exists():
            continue
        per_user = pd.read_parquet(path)
        if metric not in per_user.columns:
            continue
        g = per_user[C.USER_ID].map(groups).fillna("(not in customer table)")
        agg = per_user.groupby(g.to_numpy())[metric].agg(["mean", "count"])
        frames.append(agg.assign(model=model).rename_axis(column).reset_index())
    if not frames:
        return pd.DataFrame(columns=[column, "mean", "count", "model"])
    out = pd.concat(frames, ignore_index=True)
    out["mean"] = out["mean"].astype(float).fillna(np.nan)
    return out


@dataclass
class RunEvaluation:
    """What a run was evaluated on, rebuilt without refitting anything (see :func:`load_evaluation`).

    Attributes
    ----------
    train, test
        The interactions of the train part (what the evaluated model was fitted on) and of the test part.
    test_pairs
        The relevant test pairs (``user_id``, ``item_id``) the run's metrics were measured on.
    train_pairs
        The positive (user, item) pairs of the train part.
    candidates
        The items every model ranked (``None``: every item the model can score).
    reference_time
        "Now" of the evaluation: the latest training timestamp.
    model
        The model that was evaluated (fitted on the train part), or ``None`` when the run did not
        keep it (runs recorded before it was kept, updated runs): refit the run's settings on
        ``train`` to measure accuracy honestly.
    exact
        The split was rebuilt from the test rows the run stored (``False``: recomputed from the
        run's config, for runs recorded before the split was kept).
    """

    train: pd.DataFrame
    test: pd.DataFrame
    test_pairs: pd.DataFrame
    train_pairs: pd.DataFrame
    candidates: np.ndarray | None
    reference_time: pd.Timestamp | None
    model: HybridRecommender | None
    exact: bool


def load_evaluation(ws: Workspace, run_id: str, dataset: Dataset | None = None) -> RunEvaluation:
    """The run's train part, test pairs, candidates and evaluated model, as they were at training time.

    Uses the split the run stored (:data:`SPLIT_FILE`, :data:`TEST_PAIRS_FILE`,
    :data:`EVALUATED_MODEL_FILE`); runs recorded before these files existed get their split
    recomputed from their config (the split is seeded, so it is the same on the same data).
    ``dataset`` is the run's dataset at its version (:func:`load_run_dataset`), when at hand.
    """
    run = get_run(ws, run_id)
    config = TrainConfig.from_dict(run.config)
    split_cfg, icfg = replace(config.split, seed=int(config.seed)), config.interactions
    dataset = load_run_dataset(ws, run_id) if dataset is None else dataset
    directory = ws.run_dir(run_id)
    split_path = directory / SPLIT_FILE
    live_from = dataset.items if run.split.get("candidate_kind") == LIVE_ITEMS else None  # older runs: all items
    if split_path.exists():
        with np.load(split_path, allow_pickle=False) as z:
            n_rows = int(z["n_rows"])
            is_test = np.unpackbits(z["is_test"], count=n_rows).astype(bool)
        split = rebuild_split(dataset.interactions, is_test, split_cfg, icfg, items=live_from)
    else:
        split = evaluation_split(dataset.interactions, split_cfg, icfg, items=live_from)
    train_pairs = relevant_pairs(split.train, icfg, split.reference_time)
    pairs_path = directory / TEST_PAIRS_FILE
    if pairs_path.exists():
        test_pairs = pd.read_parquet(pairs_path)
    else:
        test_pairs = drop_seen_pairs(split.test_pairs, train_pairs)
    model: HybridRecommender | None = None
    if (directory / EVALUATED_MODEL_FILE).exists():
        model = HybridRecommender.load(directory / EVALUATED_MODEL_FILE)
    elif run.production_model == TRAIN_SPLIT_MODEL:
        model = load_model(ws, run_id)
    return RunEvaluation(
        train=split.train, test=split.test, test_pairs=test_pairs, train_pairs=train_pairs, candidates=split.candidates,
        reference_time=split.reference_time, model=model, exact=split_path.exists(),
    )


def event_types(ws: Workspace, dataset_id: str) -> list[str]:
    """The distinct event types of a dataset's interactions, sorted (what the train form weighs)."""
    frame = ws.query(
        f"SELECT DISTINCT {C.EVENT} AS e FROM read_parquet(?) ORDER BY 1",
        [str(ws.table_path(dataset_id, C.Table.INTERACTIONS))],
    )
    return frame["e"].astype(str).tolist()
