"""Fairness jobs on a workspace run: the audit, the saved re-ranking, and held-out evaluation.

These are the only fairness functions that take a :class:`~recsys.workspace.store.Workspace`;
they load what a run saw (its dataset version, its model, its held-out per-customer metrics) and
call the frame-level code of :mod:`recsys.insight`:

* :func:`audit` loads the run and runs :func:`recsys.insight.audit.compute_audit`;
* :func:`save_rerank` / :func:`saved_rerank` store and read a run's chosen
  :class:`~recsys.insight.rerank.RerankSettings` (``extra["rerank"]``, with the trade-off point
  chosen as evidence); :func:`rerank_for_run` and :func:`recommend_for_run` apply it to
  recommendation lists (campaign allocation applies it through
  :func:`recsys.insight.rerank.score_adjuster`);
* :func:`evaluation_setup` rebuilds the run's train/test split and a model of the train part,
  for :func:`recsys.insight.tradeoff.tradeoff_sweep`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from recsys.core import columns as C
from recsys.core.i18n import N_
from recsys.core.jsonio import jsonable
from recsys.core.progress import ProgressCallback, report
from recsys.insight.audit import AuditConfig, AuditLists, AuditResult, audit_columns, audit_lists, compute_audit
from recsys.insight.rerank import RERANK_EVIDENCE_KEY, RERANK_KEY, RerankSettings, pool_size, rerank
from recsys.insight.tradeoff import EvalSetup
from recsys.learn.model import HybridRecommender
from recsys.learn.pipeline import HYBRID, TrainConfig
from recsys.workspace.runs import PER_USER_FILE, load_model, load_run_dataset
from recsys.data.dataset import Dataset
from recsys.workspace.store import Workspace


# ============================================================================================
# Re-ranking saved with a run
# ============================================================================================


def saved_rerank(ws: Workspace, run_id: str) -> RerankSettings | None:
    """The re-ranking saved with a run (``extra["rerank"]``), or None."""
    data = (ws.run(run_id).get("extra") or {}).get(RERANK_KEY)
    return RerankSettings.from_dict(data) if data else None


def save_rerank(ws: Workspace, run_id: str, settings: RerankSettings | None, evidence: Mapping[str, Any] | None = None) -> None:
    """Store (or, with None, remove) the run's re-ranking; ``evidence``: the trade-off point chosen."""
    if settings is not None:
        settings.validate()
    ws.update_run_extra(run_id, {
        RERANK_KEY: None if settings is None else settings.to_dict(),
        RERANK_EVIDENCE_KEY: None if settings is None else jsonable(dict(evidence or {})),
    })


def _run_tables(ws: Workspace, run_id: str, dataset: Dataset | None) -> Dataset:
    """``dataset``, or the run's dataset as the run saw it (appends made later are left out)."""
    return dataset if dataset is not None else load_run_dataset(ws, run_id)


def rerank_for_run(
    ws: Workspace,
    run_id: str,
    reco: pd.DataFrame,
    *,
    k: int | None = None,
    model: HybridRecommender | None = None,
    dataset: Dataset | None = None,
    settings: RerankSettings | None = None,
) -> pd.DataFrame:
    """Apply the run's saved re-ranking (if any) to recommendation pools and keep the top ``k``.

    ``reco`` is what ``model.recommend(users, k=pool)`` returns (use :func:`pool_size` for the pool;
    :func:`recommend_for_run` does both). Without a saved re-ranking the lists are returned as
    they are, cut at ``k``. ``k`` defaults to the run's list length.
    """
    settings = settings or saved_rerank(ws, run_id)
    k = int(k or ws.run(run_id)["config"].get("k", 10))
    if settings is None:
        return reco[reco[C.RANK].to_numpy() <= k].reset_index(drop=True) if C.RANK in reco.columns else reco
    dataset = _run_tables(ws, run_id, dataset)
    if model is None and settings.kind == "mmr":
        model = load_model(ws, run_id)
    return rerank(reco, settings, k, items=dataset.items, users=dataset.users, model=model)


def recommend_for_run(
    ws: Workspace,
    run_id: str,
    user_ids: Iterable[Any],
    k: int = 10,
    *,
    model: HybridRecommender | None = None,
    dataset: Dataset | None = None,
    **recommend_kwargs: Any,
) -> pd.DataFrame:
    """The run's recommendations with its saved re-ranking applied (one vectorised ``recommend``)."""
    settings = saved_rerank(ws, run_id)
    model = model if model is not None else load_model(ws, run_id)
    pool = model.recommend(user_ids, k=pool_size(settings, k), **recommend_kwargs)
    return rerank_for_run(ws, run_id, pool, k=k, model=model, dataset=dataset, settings=settings)


# ============================================================================================
# Held-out evaluation of re-ranked lists
# ============================================================================================


def evaluation_setup(ws: Workspace, run_id: str, *, dataset: Dataset | None = None, model: HybridRecommender | None = None,
                     progress: ProgressCallback | None = None) -> EvalSetup:
    """The run's own held-out evaluation (see :class:`EvalSetup`), from the split it stored.

    A run keeps its split, its test pairs and the model that was judged on them
    (:func:`recsys.workspace.runs.load_evaluation`), so the audit measures re-ranked lists on exactly
    the pairs the Train page reported. Only runs recorded before runs kept those files are refitted
    on their training period.
    """
    from recsys.learn.model import HybridRecommender
    from recsys.learn.pipeline import HYBRID, TrainConfig
    from recsys.workspace.runs import load_evaluation, restrict_schema

    t0 = time.perf_counter()
    report = progress or (lambda message, share: None)
    run = ws.run(run_id)
    extra = run.get("extra") or {}
    config = TrainConfig.from_dict(run["config"])
    dataset = _run_tables(ws, run_id, dataset)
    report("Loading the run's train/test split", 0.05)
    evaluation = load_evaluation(ws, run_id, dataset=dataset)
    if evaluation.model is not None:
        model = evaluation.model
        note = N_("the model the run was judged with, trained on the training period only")  # cached: shown translated
    else:
        report("Refitting the model on the training period (to measure accuracy honestly)", 0.1)
        epochs = max(int((extra.get("best_epochs") or {}).get(HYBRID, config.model.epochs)), 1)
        cfg = replace(config.model, random_state=int(config.seed), epochs=epochs, early_stopping_patience=0)
        user_schema = restrict_schema(dataset.info.user_schema, extra.get("user_features"))
        item_schema = restrict_schema(dataset.info.item_schema, extra.get("item_features"))
        model = HybridRecommender(cfg, config.features, config.interactions).fit(
            evaluation.train, dataset.users, user_schema, dataset.items, item_schema,
            reference_time=evaluation.reference_time)
        note = (f"the run's settings refitted on the training period ({epochs} epochs, seed {config.seed}), "
                "because this older run did not keep the model it was judged with")
    candidates = evaluation.candidates
    catalog = candidates if candidates is not None else model.item_index_.ids[model.default_candidates()]
    return EvalSetup(model, evaluation.test_pairs, evaluation.train_pairs, candidates, np.asarray(catalog, dtype=object),
                     note, time.perf_counter() - t0)


# ============================================================================================
# The audit of a run
# ============================================================================================


def audit(
    ws: Workspace,
    run_id: str,
    config: AuditConfig,
    *,
    model: HybridRecommender | None = None,
    dataset: Dataset | None = None,
    progress: ProgressCallback | None = None,
    lists: AuditLists | None = None,
) -> AuditResult:
    """Audit a run's recommendations for fairness across customer and offer groups.

    The run's dataset (as the run saw it) and model, unless given; accuracy by group comes from
    the run's stored held-out per-customer metrics. See :func:`recsys.insight.audit.compute_audit`;
    ``lists``: :func:`run_audit_lists` of the same run and config (any ``user_column``), to reuse.
    """
    config.validate()
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    run = ws.run(run_id)
    dataset = _run_tables(ws, run_id, dataset)
    audit_columns(config, dataset.users, dataset.items)  # a wrong column fails before the model loads
    train_config = TrainConfig.from_dict(run["config"])
    if model is None:
        report(progress, "Loading the model", 0.05)
        model = load_model(ws, run_id)
    per_user_path = ws.run_dir(run_id) / PER_USER_FILE.format(model=HYBRID)
    per_user = pd.read_parquet(per_user_path) if per_user_path.exists() else None
    timings["load"] = time.perf_counter() - clock
    return compute_audit(
        run_id, config, dataset, model, k=int(config.k or train_config.k), interactions=train_config.interactions,
        per_user=per_user, timings=timings, progress=progress, lists=lists,
    )


def run_audit_lists(ws: Workspace, run_id: str, config: AuditConfig, *, model: HybridRecommender | None = None,
                    dataset: Dataset | None = None) -> AuditLists:
    """The part of a run's audit that does not depend on the customer grouping
    (:func:`recsys.insight.audit.audit_lists`): computed once, it serves every ``user_column``."""
    config.validate()
    dataset = _run_tables(ws, run_id, dataset)
    train_config = TrainConfig.from_dict(ws.run(run_id)["config"])
    model = load_model(ws, run_id) if model is None else model
    return audit_lists(config, dataset, model, k=int(config.k or train_config.k), interactions=train_config.interactions)


__all__ = [
    "saved_rerank", "save_rerank", "rerank_for_run", "recommend_for_run", "evaluation_setup", "audit", "run_audit_lists",
]
