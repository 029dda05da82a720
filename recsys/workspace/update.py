"""Keep a run's model fresh: what arrived since it was trained, how it does on that, and an update.

The learning side lives in :mod:`recsys.learn.update` (growing a model, ``fit_partial`` on the
new events plus a replay sample, freshness advice, backtests). This module is the workspace job:
:func:`new_data` reads the appends a dataset received after a run was trained,
:func:`freshness_report` judges the run's model on them, and :func:`update_run` records an updated
model as a new run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from recsys.core import columns as C
from recsys.core.progress import EpochCallback, ProgressCallback, report as report_progress
from recsys.learn.interactions import latest_timestamp
from recsys.learn.update import Freshness, UpdateConfig, freshness, update_model
from recsys.workspace.runs import MODEL_FILE, PER_USER_FILE, get_run, load_model, run_data
from recsys.workspace.store import Workspace


@dataclass
class NewData:
    """What arrived after a run was trained, and what it was trained on."""

    dataset_id: str
    since_version: int
    version: int
    new: pd.DataFrame
    old: pd.DataFrame
    users: pd.DataFrame
    items: pd.DataFrame
    new_users: pd.DataFrame | None
    new_items: pd.DataFrame | None


def new_data(ws: Workspace, run_id: str, dataset_id: str | None = None) -> NewData:
    """The events that arrived after run ``run_id`` was trained, and its training events.

    With the run's own dataset (the default): the appends made after the run. With another
    dataset (e.g. a fresh full export imported as a new dataset): its events later than the
    run's newest training event. Side tables are the dataset's current ones.
    """
    run = get_run(ws, run_id)
    own = run.dataset_id
    dataset_id = dataset_id or own
    since = run_data(ws, run).version
    if since is None:
        raise ValueError(
            f"Run {run_id} was trained on an earlier state of dataset '{own}' that no longer matches any of its "
            "versions, so what is new since cannot be told. Fix: train a new run on the current data."
        )
    trained = ws.load_dataset(own, version=since)
    if dataset_id == own:
        latest = ws.load_dataset(own)
        appended = ws.load_appended(own, since)
        return NewData(own, since, latest.info.version, appended.interactions, trained.interactions,
                       latest.users, latest.items, appended.users, appended.items)
    other = ws.load_dataset(dataset_id)
    end = latest_timestamp(trained.interactions)
    if end is None or C.TIMESTAMP not in other.interactions.columns:
        raise ValueError(
            f"Dataset '{dataset_id}' is not the one run {run_id} was trained on ('{own}'), and without timestamps "
            f"the events that are new cannot be told apart. Fix: append the new files to dataset '{own}' "
            f"(`promolens append --dataset {own} ...`) and update from that."
        )
    later = pd.to_datetime(other.interactions[C.TIMESTAMP]) > end
    return NewData(dataset_id, 0, other.info.version, other.interactions[later.to_numpy()].reset_index(drop=True),
                   trained.interactions, other.users, other.items, None, None)


def freshness_report(ws: Workspace, run_id: str, dataset_id: str | None = None, k: int | None = None) -> Freshness:
    """:func:`freshness` of a run's model on what arrived after it was trained."""
    run = get_run(ws, run_id)
    k = int(k or run.k)
    data = new_data(ws, run_id, dataset_id)
    model = load_model(ws, run_id)
    return freshness(
        model, data.new, data.old, data.users, data.items, k=k,
        precision_at_training=run.metric("hybrid", f"precision@{k}"),
        popularity_precision_at_training=run.metric("popularity", f"precision@{k}"),
        trained_rows=len(data.old),
    )


def update_run(
    ws: Workspace,
    run_id: str,
    dataset_id: str | None = None,
    config: UpdateConfig | None = None,
    *,
    progress: ProgressCallback | None = None,
    on_epoch: EpochCallback | None = None,
) -> str:
    """Update run ``run_id``'s model with what arrived since; record it as a new run, return its id.

    The new run keeps the parent's configuration and its test metrics (measured when the parent
    was trained, on its held-out split: an update has no held-out split of its own), records the
    parent's freshness on the new events *before* the update, and what the update did.
    """
    config = config or UpdateConfig()
    config.validate()
    def report(message: str, fraction: float) -> None:
        report_progress(progress, message, fraction)

    run = get_run(ws, run_id)
    report("Reading the new data", 0.02)
    data = new_data(ws, run_id, dataset_id)
    if data.new.empty and (data.new_users is None or data.new_users.empty) and (data.new_items is None or data.new_items.empty):
        raise ValueError(
            f"Nothing new for run {run_id}: dataset '{data.dataset_id}' has no events, customers or offers added "
            f"since it was trained. Fix: append new files first (`promolens append --dataset {data.dataset_id} ...`)."
        )
    model = load_model(ws, run_id)
    k = run.k
    report("Checking the model on the new events", 0.1)
    before = freshness(
        model, data.new, data.old, data.users, data.items, k=k,
        precision_at_training=run.metric("hybrid", f"precision@{k}"),
        popularity_precision_at_training=run.metric("popularity", f"precision@{k}"),
        trained_rows=len(data.old),
    )
    report("Growing the model and training on the new events", 0.2)

    def epoch_done(r: dict[str, Any]) -> None:
        report(f"Update epoch {r['epoch']} of {config.epochs}", 0.2 + 0.7 * r["epoch"] / config.epochs)
        if on_epoch is not None:
            on_epoch({"model": "hybrid", "phase": "update", **r})

    t0 = time.perf_counter()
    updated = update_model(model, data.new, data.old, data.users, data.items, new_user_rows=data.new_users,
                           new_item_rows=data.new_items, config=config, on_epoch=epoch_done)
    seconds = round(time.perf_counter() - t0, 4)
    report("Saving the run", 0.95)
    parent_extra = dict(run.extra)
    update_note = dict(updated.updates_[-1]) if len(updated.updates_) > len(model.updates_) else {}
    record = {
        "config": run.config,
        "metrics": run.metrics,
        "epochs": [{"model": "hybrid", "phase": "update", **e} for e in update_note.get("epochs", [])],
        "timings": {"update": seconds, "total": seconds},
        "split": run.split,
        "extra": {
            **{key: parent_extra[key] for key in ("best_epochs", "user_features", "item_features") if key in parent_extra},
            "dataset_fingerprint": ws.dataset(data.dataset_id).fingerprint,
            "dataset_version": data.version,
            "production_model": f"updated from run {run_id}",
            "parent_run": run_id,
            "metrics_from": parent_extra.get("metrics_from", run_id),
            "update": {**config.to_dict(), **{k: v for k, v in update_note.items() if k != "epochs"},
                       "since_version": data.since_version, "seconds": seconds},
            "freshness_before_update": before.to_dict(),
        },
    }
    parent_dir = Path(ws.run_dir(run_id))

    def write(directory: Path) -> None:
        updated.save(directory / MODEL_FILE)
        for per_user in parent_dir.glob(PER_USER_FILE.format(model="*")):
            (directory / per_user.name).write_bytes(per_user.read_bytes())

    new_id = ws.save_run(data.dataset_id, record, write)
    report("Done", 1.0)
    return new_id


__all__ = ["NewData", "freshness_report", "new_data", "update_run"]
