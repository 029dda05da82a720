"""Training runs in the workspace: train, evaluate, keep, compare and load.

One run = one call of :func:`train_run`: the dataset's tables go through
``pipeline.train_and_evaluate`` (honest evaluation against baselines on a held-out split), then,
unless switched off, the hybrid model is refitted on *all* interactions for the best number of
epochs (the production model used for recommendations and exports). The workspace keeps the
config, data fingerprint, split summary, metrics of every model, the per-epoch curve, timings,
per-user metrics (to cut by segment) and the model file.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsys.core import columns as C
from recsys.learn.model import HybridRecommender
from recsys.learn.pipeline import (
    COLLABORATIVE,
    HYBRID,
    POPULARITY,
    RANDOM,
    TrainConfig,
    fit_final,
    train_and_evaluate,
)
from recsys.data.dataset import Dataset, DatasetInfo
from recsys.data.schema import ColumnKind, TableSchema
from recsys.workspace.store import Workspace

MODEL_FILE = "model.npz"
PER_USER_FILE = "per_user_{model}.parquet"

ProgressCallback = Callable[[str, float], None]
EpochCallback = Callable[[dict[str, Any]], None]

#: Words for the baselines in verdicts.
BASELINE_WORDS = {
    POPULARITY: "recommending the most popular offers",
    RANDOM: "picking offers at random",
    COLLABORATIVE: "the same model without customer and offer facts",
}


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
) -> str:
    """Train, evaluate against baselines, refit on all data and record the run; return its id.

    ``user_columns`` / ``item_columns`` restrict the feature columns (default: every usable column;
    sensitive ones only if ``config.features.include_sensitive``).
    """
    config = config or TrainConfig()
    dataset = ws.load_dataset(dataset_id)
    user_schema = restrict_schema(dataset.info.user_schema, user_columns)
    item_schema = restrict_schema(dataset.info.item_schema, item_columns)
    report = progress or (lambda message, share: None)
    share_eval = 0.7 if refit_all else 0.95

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
            progress=lambda message, share: report(message, share_eval + share * (0.95 - share_eval)),
            on_epoch=on_epoch,
        )
        timings["fit_final"] = round(time.perf_counter() - t0, 4)
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
            "production_model": "all interactions" if refit_all else "train split",
            "user_features": user_schema.feature_columns(config.features.include_sensitive),
            "item_features": item_schema.feature_columns(config.features.include_sensitive),
        },
    }

    def write(directory: Path) -> None:
        model.save(directory / MODEL_FILE)
        for name, frame in result.per_user.items():
            frame.reset_index().to_parquet(directory / PER_USER_FILE.format(model=name), index=False)

    run_id = ws.save_run(dataset_id, record, write)
    report("Done", 1.0)
    return run_id


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
            return "trained on an earlier state of the data"
        n = self.latest - self.version
        if n == 0:
            return "trained on the latest data"
        return "trained before the last append" if n == 1 else f"trained before the last {n} appends"


def run_data(
    ws: Workspace, run: dict[str, Any], history: list[dict[str, Any]] | None = None, info: DatasetInfo | None = None,
) -> RunData:
    """The dataset version a run saw (see :class:`RunData`).

    Runs record ``dataset_version``; older runs are matched by their data fingerprint. Pass the
    dataset's ``info`` and ``history`` (``ws.appends(...)``) when at hand, to spare the catalogue.
    """
    info = ws.dataset(run["dataset_id"]) if info is None else info
    extra = run.get("extra") or {}
    recorded = extra.get("dataset_version")
    if recorded is not None:
        return RunData(int(recorded), info.version)
    history = ws.appends(info.id) if history is None else history
    fingerprints = [info.base_fingerprint or info.fingerprint] + [r["fingerprint"] for r in history]
    seen = extra.get("dataset_fingerprint")
    if seen in fingerprints:
        return RunData(fingerprints.index(seen), info.version)
    return RunData(None, info.version)


def load_run_dataset(ws: Workspace, run_id: str) -> Dataset:
    """The dataset as the run saw it (its version; the latest when the run cannot tell)."""
    run = ws.run(run_id)
    return ws.load_dataset(run["dataset_id"], version=run_data(ws, run).version)


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
    """The run's production model (refused if tampered with)."""
    ws.run(run_id)
    return HybridRecommender.load(ws.run_dir(run_id) / MODEL_FILE)


def metrics_frame(run: dict[str, Any]) -> pd.DataFrame:
    """A run's metrics as a frame: one row per model, one column per metric."""
    frame = pd.DataFrame.from_dict(run["metrics"], orient="index")
    order = [m for m in (HYBRID, COLLABORATIVE, POPULARITY, RANDOM) if m in frame.index]
    return frame.loc[order]


def summaries(ws: Workspace, dataset_id: str | None = None) -> list[RunSummary]:
    return [
        RunSummary(
            id=r["id"], dataset_id=r["dataset_id"], created_at=r["created_at"],
            split=r["config"].get("split", {}).get("kind", "?"), k=int(r["config"].get("k", 10)),
            metrics=metrics_frame(r), timings=r["timings"],
        )
        for r in ws.runs(dataset_id)
    ]


def compare(ws: Workspace, run_ids: list[str], metrics: list[str] | None = None) -> pd.DataFrame:
    """The hybrid model's metrics of several runs side by side, with what differs in their configs."""
    rows = []
    for run_id in run_ids:
        run = ws.run(run_id)
        frame = metrics_frame(run)
        cfg = run["config"]
        row = {
            "run": run_id, "split": cfg["split"]["kind"], "loss": cfg["model"].get("loss"),
            "components": cfg["model"].get("no_components"), "epochs": run["extra"].get("best_epochs", {}).get(HYBRID),
            "sensitive used": cfg["features"].get("include_sensitive"),
        }
        if HYBRID in frame.index:
            row.update({m: frame.loc[HYBRID, m] for m in (metrics or frame.columns)})
        rows.append(row)
    return pd.DataFrame(rows).set_index("run")


def verdict(metrics: pd.DataFrame, k: int, split: str) -> str:
    """One plain-language sentence on whether the model beats the obvious alternatives."""
    key = f"precision@{k}"
    if HYBRID not in metrics.index or key not in metrics.columns:
        return "No evaluation figures for this run."
    ours = float(metrics.loc[HYBRID, key])
    horizon = {
        "temporal": "the later, held-out period's responses",
        "cold_items": "the responses to held-out new offers",
        "leave_last_n": "customers' latest responses",
        "random": "the held-out responses",
    }.get(split, "the held-out responses")
    parts = []
    for name in (POPULARITY, RANDOM, COLLABORATIVE):
        if name not in metrics.index:
            continue
        theirs = float(metrics.loc[name, key])
        if theirs > 0:
            of = f" of {horizon}" if not parts else ""
            ratio = ours / theirs
            size = f"{ratio:.2f}x" if 0.9 <= ratio < 1.1 else f"{ratio:.1f}x"
            parts.append(f"{size} as many{of} as {BASELINE_WORDS[name]}")
        else:
            parts.append(f"{BASELINE_WORDS[name]} finds none")
    best_baseline = max((float(metrics.loc[n, key]) for n in metrics.index if n != HYBRID), default=0.0)
    lead = "The model beats every baseline" if ours > best_baseline else "The model does NOT beat the best baseline"
    return (
        f"{lead}: among each customer's top {k} it finds " + ", ".join(parts)
        + f" (precision@{k} = {ours:.3f})."
    )


def metrics_by_group(ws: Workspace, run_id: str, dataset: Dataset, column: str, metric: str) -> pd.DataFrame:
    """Per-user metric of every model averaged by the values of one customer column."""
    run_dir = ws.run_dir(run_id)
    groups = dataset.users.set_index(C.USER_ID)[column].astype("string").fillna("(missing)")
    frames = []
    for model in (HYBRID, COLLABORATIVE, POPULARITY, RANDOM):
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
