"""Train and evaluate, honestly: split -> features on train only -> fit -> the same metrics for all.

:func:`train_and_evaluate` splits the interactions (temporal by default), carves a validation part
out of train for early stopping, fits the hybrid model and the baselines (collaborative-only
LightFM, all-time popularity, random, and the strong baselines a practitioner reaches for first:
recent popularity, EASE, item-kNN and ALS, each tuned on the validation slice by
:mod:`recsys.learn.select`) on the train part only, and evaluates every model on the test part
with the same metrics and the same candidate items. :func:`fit_final` then refits the hybrid model
on all the data for production scoring.

Which model serves is chosen on validation, never on test: ``TrainResult.production`` is the model
with the best validation score (hybrid, collaborative, popularity or a strong baseline), and
``TrainResult.comparisons`` holds the paired bootstrap interval of the test difference between it
and every other model (precision, NDCG and recall at k), for all, warm and cold customers apart
(:mod:`recsys.metrics.paired`).

Evaluation protocol
-------------------
The split, the relevant test pairs and the candidates follow :mod:`recsys.learn.protocol` (the
one protocol every accuracy figure uses). Users evaluated: every user with at least one relevant
test pair (optionally a seeded sample); users unseen in train are scored from their features
alone (or as no-history users). :class:`TrainResult` keeps the split's test-row flags and the
evaluated test pairs, so a run can store them and the evaluation can be rebuilt exactly.

Everything here is Streamlit-free; configs and results convert to JSON-friendly dicts.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from recsys.core import columns as C
from recsys.core.config import ConfigBase
from recsys.core.errors import ConfigError
from recsys.core.jsonio import jsonable
from recsys.core.progress import EpochCallback, ProgressCallback, report as report_progress
from recsys.data.schema import TableSchema
from recsys.learn.baselines import CollaborativeRecommender, PopularityRecommender, RandomRecommender
from recsys.learn.config import FeatureConfig, InteractionConfig, ModelConfig
from recsys.learn.interactions import relevant_pairs
from recsys.learn.model import HybridRecommender
from recsys.learn.protocol import drop_seen, evaluation_split
from recsys.learn.recommender import BaseRecommender
from recsys.learn.select import (
    STRONG_BASELINES,
    Tuned,
    choose_production,
    compare_models,
    tune_baselines,
    validation_score,
)
from recsys.learn.split import SplitConfig
from recsys.metrics.base import ItemFeatures, Metric
from recsys.metrics.ranking import (
    AUC,
    calc_metrics,
    calc_metrics_per_user,
    default_metrics,
)

HYBRID = "hybrid"
COLLABORATIVE = "collaborative"
POPULARITY = "popularity"
RANDOM = "random"
MODEL_NAMES: tuple[str, ...] = (HYBRID, *STRONG_BASELINES, COLLABORATIVE, POPULARITY, RANDOM)
#: Models that may serve when they win on validation (random never does).
SERVABLE: tuple[str, ...] = (HYBRID, *STRONG_BASELINES, COLLABORATIVE, POPULARITY)
# Columns of TrainResult.epochs (not data-contract columns, so they live here).
MODEL = "model"
PHASE = "phase"
EPOCH = "epoch"

#: Users per evaluation chunk are chosen so that a chunk's full rankings hold about this many rows.
EVAL_BLOCK_ROWS = 2_000_000
#: AUC (which needs full rankings) is computed on a seeded sample of at most this many test users.
AUC_MAX_USERS = 500


@dataclass(frozen=True)
class TrainConfig(ConfigBase):
    """Everything that defines a training run, independent of the dataset.

    Parameters
    ----------
    split
        :class:`SplitConfig` (kind and its parameters, validation share).
    interactions
        :class:`InteractionConfig` (event weights, time decay).
    features
        :class:`FeatureConfig` (include_sensitive, identity features, bins, ...).
    model
        :class:`ModelConfig` (loss, size, learning rate, max epochs, early stopping patience, ...).
    k
        Length of the evaluated lists (precision@k, NDCG@k, ...).
    seed
        The one seed of the run: it replaces the split's and the model's seeds.
    baselines
        Which baselines to fit: any of ``"recent_popularity"``, ``"ease"``, ``"item_knn"``, ``"als"``
        (tuned on validation), ``"collaborative"``, ``"popularity"`` (all time), ``"random"``.
    early_stopping
        Carve a validation split out of train and stop when its metric stops improving.
    refit_on_train
        After early stopping, refit on the whole train part for the best number of epochs (so
        the most recent training data is not lost to validation).
    max_eval_users
        Evaluate on at most this many test users (seeded sample); ``None``: all.
    """

    split: SplitConfig = field(default_factory=SplitConfig)
    interactions: InteractionConfig = field(default_factory=InteractionConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    k: int = 10
    seed: int = 42
    baselines: tuple[str, ...] = (*STRONG_BASELINES, COLLABORATIVE, POPULARITY, RANDOM)
    early_stopping: bool = True
    refit_on_train: bool = True
    max_eval_users: int | None = None

    def validate(self) -> None:
        self.split.validate()
        self.interactions.validate()
        self.features.validate()
        self.model.validate()
        if not isinstance(self.k, (int, np.integer)) or self.k < 1:
            raise ConfigError(f"TrainConfig.k must be a positive integer, got {self.k!r}")
        if not isinstance(self.seed, (int, np.integer)):
            raise ConfigError(f"TrainConfig.seed must be an integer, got {self.seed!r}")
        bad = [b for b in self.baselines if b not in MODEL_NAMES[1:]]
        if bad:
            raise ConfigError(f"TrainConfig.baselines: unknown {bad}; choose from {MODEL_NAMES[1:]}")
        if self.max_eval_users is not None and (not isinstance(self.max_eval_users, (int, np.integer)) or self.max_eval_users < 2):
            raise ConfigError(f"TrainConfig.max_eval_users must be None or an integer >= 2, got {self.max_eval_users!r}")

    def to_dict(self) -> dict[str, Any]:
        parts = {name: getattr(self, name).to_dict() for name in ("split", "interactions", "features", "model")}
        return {**super().to_dict(), **parts, "baselines": list(self.baselines)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TrainConfig":
        d = cls.known_fields(data)
        parts = {"split": SplitConfig, "interactions": InteractionConfig, "features": FeatureConfig, "model": ModelConfig}
        for name, typ in parts.items():
            if name in d and isinstance(d[name], Mapping):
                d[name] = typ.from_dict(d[name])
        if "baselines" in d:
            d["baselines"] = tuple(d["baselines"])
        return cls(**d)


@dataclass
class TrainResult:
    """What a run produced.

    Attributes
    ----------
    model
        The hybrid model fitted on the train part (the one evaluated).
    baselines
        The fitted baselines by name.
    metrics
        One row per model (``hybrid``, ``collaborative``, ``popularity``, ``random``), one column
        per metric (``precision@10``, ``ndcg@10``, ..., ``auc``, ``coverage@10``, ...).
    per_user
        Per model, the per-user metric values (index ``user_id``), to cut metrics by segment.
    epochs
        Per-epoch curve: ``model``, ``phase`` ("early_stopping" / "refit" / "fit"), ``epoch``,
        ``seconds`` and the validation metrics.
    timings
        Seconds per stage.
    split_summary
        Sizes of the parts, cutoff, users/items unseen in train, evaluation users and candidates.
    best_epochs
        Epochs kept per LightFM model (use them for :func:`fit_final`).
    config
        The :class:`TrainConfig` of the run.
    is_test
        One flag per interaction row: the rows of the test part (rebuilds the split exactly).
    test_pairs
        The test pairs every model was judged on (``user_id``, ``item_id``).
    validation
        Validation score of every model that has one (the metric of ``config.model.early_stopping_metric``).
    tuned
        Per strong baseline: its chosen setting, validation grid, fallback (JSON-friendly).
    production
        The model with the best validation score (the one that should serve), ``hybrid`` without validation.
    comparisons
        Paired bootstrap of the test differences between ``production`` and every other model:
        ``reference``, ``model``, ``metric``, ``group`` (all / warm / cold), ``diff``, ``low``,
        ``high``, ``n``, ``verdict``.
    """

    model: HybridRecommender
    baselines: dict[str, BaseRecommender]
    metrics: pd.DataFrame
    per_user: dict[str, pd.DataFrame]
    epochs: pd.DataFrame
    timings: dict[str, float]
    split_summary: dict[str, Any]
    best_epochs: dict[str, int]
    config: TrainConfig
    is_test: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    test_pairs: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=[C.USER_ID, C.ITEM_ID]))
    validation: dict[str, float | None] = field(default_factory=dict)
    tuned: dict[str, dict[str, Any]] = field(default_factory=dict)
    production: str = HYBRID
    comparisons: pd.DataFrame = field(default_factory=pd.DataFrame)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly summary (no model, no per-user frames)."""
        return {
            "validation": jsonable(self.validation),
            "tuned": jsonable(self.tuned),
            "production": self.production,
            "comparisons": jsonable(self.comparisons.to_dict(orient="records")),
            "metrics": jsonable(self.metrics.to_dict(orient="index")),
            "epochs": jsonable(self.epochs.to_dict(orient="records")),
            "timings": {k: float(v) for k, v in self.timings.items()},
            "split_summary": self.split_summary,
            "best_epochs": {k: int(v) for k, v in self.best_epochs.items()},
            "config": self.config.to_dict(),
        }


def train_and_evaluate(
    interactions: pd.DataFrame,
    users: pd.DataFrame | None,
    user_schema: TableSchema | None,
    items: pd.DataFrame | None,
    item_schema: TableSchema | None,
    config: TrainConfig | None = None,
    progress: ProgressCallback | None = None,
    on_epoch: EpochCallback | None = None,
) -> TrainResult:
    """Split, fit the hybrid model and the baselines on train, evaluate all on test.

    Parameters
    ----------
    interactions, users, user_schema, items, item_schema
        The canonical tables and the typed columns of the side tables (either may be ``None``).
    config
        :class:`TrainConfig`.
    progress
        Called with (message, fraction done in [0, 1]) between stages.
    on_epoch
        Called after every training epoch with a dict (``model``, ``phase``, ``epoch``,
        ``seconds`` and validation metrics).

    Returns
    -------
    TrainResult
    """
    config = config or TrainConfig()
    config.validate()
    def report(message: str, fraction: float) -> None:
        report_progress(progress, message, fraction)

    timings: dict[str, float] = {}
    t_start = time.perf_counter()
    split_cfg = replace(config.split, seed=int(config.seed))
    model_cfg = replace(config.model, random_state=int(config.seed))
    icfg = config.interactions

    report("Splitting the interactions", 0.0)
    t = time.perf_counter()
    split = evaluation_split(interactions, split_cfg, icfg, early_stopping=config.early_stopping, items=items)
    train, fit_part, valid = split.train, split.fit_part, split.validation
    reference_time, test_pairs, candidates = split.reference_time, split.test_pairs, split.candidates
    timings["split"] = time.perf_counter() - t

    epochs: list[dict[str, Any]] = []
    models: dict[str, BaseRecommender] = {}
    best_epochs: dict[str, int] = {}
    lightfm_models = [(HYBRID, config.features)] + ([(COLLABORATIVE, None)] if COLLABORATIVE in config.baselines else [])
    n_stages = len(lightfm_models) + 2
    validation: dict[str, float | None] = {}
    mcfg = config.model
    val_metric = dict(icfg=icfg, k=config.k, metric=mcfg.early_stopping_metric, candidates=split.validation_candidates,
                      max_users=mcfg.max_validation_users, seed=int(config.seed))
    for stage, (name, fcfg) in enumerate(lightfm_models):
        report(f"Training the {name} model", 0.05 + 0.6 * stage / n_stages)
        t = time.perf_counter()
        models[name], best_epochs[name], val_model = _fit_lightfm(
            name, fcfg, model_cfg, icfg, fit_part, valid, train, users, user_schema, items, item_schema,
            reference_time, config, epochs, on_epoch, split.validation_candidates,
        )
        if valid is not None:
            validation[name] = validation_score(val_model, valid, **val_metric)
        timings[f"fit_{name}"] = time.perf_counter() - t
    for name in (POPULARITY, RANDOM):
        if name in config.baselines:
            t = time.perf_counter()
            base = PopularityRecommender(icfg) if name == POPULARITY else RandomRecommender(icfg, seed=int(config.seed))
            models[name] = base.fit(train, users, user_schema, items, item_schema, reference_time=reference_time)
            if name == POPULARITY and valid is not None:
                validation[name] = validation_score(PopularityRecommender(icfg).fit(fit_part, users, user_schema, items, item_schema),
                                                    valid, **val_metric)
            timings[f"fit_{name}"] = time.perf_counter() - t
    strong = [n for n in STRONG_BASELINES if n in config.baselines]
    tuned: dict[str, Tuned] = {}
    if strong:
        t = time.perf_counter()
        tuned = tune_baselines(
            strong, fit_part, valid, train, users, user_schema, items, item_schema, icfg, reference_time,
            config.k, mcfg.early_stopping_metric, val_metric["candidates"], mcfg.max_validation_users, int(config.seed),
            progress=lambda message, share: report(message, 0.65 + 0.15 * share),
        )
        for name, tb in tuned.items():
            assert tb.model is not None
            models[name] = tb.model
            if valid is not None:
                validation[name] = tb.validation
            timings[f"fit_{name}"] = tb.seconds
        timings["tune_baselines"] = time.perf_counter() - t
    production = choose_production({n: validation.get(n) for n in SERVABLE if n in validation}) or HYBRID

    report("Evaluating on the test split", 0.8)
    t = time.perf_counter()
    hybrid = models[HYBRID]
    assert isinstance(hybrid, HybridRecommender)
    test_pairs = drop_seen(test_pairs, hybrid)
    eval_users = pd.unique(test_pairs[C.USER_ID].to_numpy(object))
    if config.max_eval_users is not None and len(eval_users) > config.max_eval_users:
        rng = np.random.default_rng(int(config.seed))
        eval_users = np.sort(rng.choice(eval_users, config.max_eval_users, replace=False))
        test_pairs = test_pairs[test_pairs[C.USER_ID].isin(eval_users)]
    if len(eval_users) < 2:
        raise ValueError(
            f"only {len(eval_users)} test user(s) with a new positive interaction: the test split is too "
            "small to evaluate; use a larger test_share or an earlier cutoff"
        )
    train_pairs = relevant_pairs(train, icfg, reference_time)
    catalog = candidates if candidates is not None else hybrid.item_index_.ids
    side = hybrid.item_side_features()
    item_features = ItemFeatures(hybrid.item_index_.ids, side) if side.shape[1] > 0 else None
    metrics = [m for m in default_metrics(config.k) if item_features is not None or m.name != f"diversity@{config.k}"]
    rows, per_user = {}, {}
    auc_users = eval_users
    if len(eval_users) > AUC_MAX_USERS:
        auc_users = np.sort(np.random.default_rng(int(config.seed)).choice(eval_users, AUC_MAX_USERS, replace=False))
    for name in MODEL_NAMES:
        if name in models:
            rows[name], per_user[name] = _evaluate(
                models[name], eval_users, test_pairs, train_pairs, candidates, catalog, item_features, metrics,
                config.k, auc_users,
            )
    warm = hybrid.user_index_.positions(eval_users) < hybrid.n_warm_users_
    warm &= hybrid.user_index_.positions(eval_users) >= 0
    comparisons = compare_models(per_user, production, pd.Series(warm, index=pd.Index(eval_users, name=C.USER_ID)),
                                 config.k, seed=int(config.seed))
    timings["evaluate"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t_start
    report("Done", 1.0)

    summary = dict(split.summary)
    summary.update({
        "validation_rows": 0 if valid is None else int(len(valid)),
        "reference_time": None if reference_time is None else reference_time.isoformat(),
        "eval_users": int(len(eval_users)),
        "test_pairs": int(len(test_pairs)),
        "candidates": int(len(catalog)),
        "candidate_kind": split.candidate_kind,
        "auc_users": int(len(auc_users)),
        "auc_sampled": bool(len(auc_users) < len(eval_users)),
        "warm_users": int(warm.sum()),
        "cold_users": int((~warm).sum()),
    })
    metric_frame = pd.DataFrame.from_dict(rows, orient="index")
    metric_frame.index.name = MODEL
    return TrainResult(
        model=hybrid,
        baselines={k: v for k, v in models.items() if k != HYBRID},
        metrics=metric_frame,
        per_user=per_user,
        epochs=pd.DataFrame(epochs, columns=_epoch_columns(epochs)),
        timings={k: round(v, 4) for k, v in timings.items()},
        split_summary=summary,
        best_epochs=best_epochs,
        config=config,
        is_test=split.is_test,
        test_pairs=test_pairs.reset_index(drop=True),
        validation={k: (None if v is None or np.isnan(v) else round(float(v), 6)) for k, v in validation.items()},
        tuned={k: v.to_dict() for k, v in tuned.items()},
        production=production,
        comparisons=comparisons,
    )


def _epoch_columns(epochs: list[dict[str, Any]]) -> list[str]:
    cols = [MODEL, PHASE, EPOCH, "seconds"]
    for r in epochs:
        cols += [c for c in r if c not in cols]
    return cols


def _fit_lightfm(
    name: str, fcfg: FeatureConfig | None, model_cfg: ModelConfig, icfg: InteractionConfig,
    fit_part: pd.DataFrame, valid: pd.DataFrame | None, train: pd.DataFrame,
    users: pd.DataFrame | None, user_schema: TableSchema | None,
    items: pd.DataFrame | None, item_schema: TableSchema | None,
    reference_time: pd.Timestamp | None, config: TrainConfig, epochs: list[dict[str, Any]],
    on_epoch: EpochCallback | None, val_candidates: np.ndarray | None,
) -> tuple[HybridRecommender, int, HybridRecommender]:
    """Fit one LightFM model; return (the model fitted on train, its epochs, the model judged on validation)."""
    def make(cfg: ModelConfig) -> HybridRecommender:
        return HybridRecommender(cfg, fcfg, icfg) if name == HYBRID else CollaborativeRecommender(cfg, icfg)

    def recorder(phase: str) -> EpochCallback:
        def record(r: dict[str, Any]) -> None:
            row = {MODEL: name, PHASE: phase, **r}
            epochs.append(row)
            if on_epoch is not None:
                on_epoch(dict(row))
        return record

    common = dict(users=users, user_schema=user_schema, items=items, item_schema=item_schema, reference_time=reference_time)
    if valid is None:
        model = make(replace(model_cfg, early_stopping_patience=0)).fit(train, on_epoch=recorder("fit"), **common)
        return model, model.best_epoch_, model
    model = make(model_cfg).fit(fit_part, validation=valid, on_epoch=recorder("early_stopping"),
                                validation_candidates=val_candidates, **common)
    best = max(int(model.best_epoch_), 1)
    if not config.refit_on_train:
        return model, best, model
    final = make(replace(model_cfg, epochs=best, early_stopping_patience=0))
    return final.fit(train, on_epoch=recorder("refit"), **common), best, model


def _evaluate(
    model: BaseRecommender, users: np.ndarray, test_pairs: pd.DataFrame, train_pairs: pd.DataFrame,
    candidates: np.ndarray | None, catalog: np.ndarray, item_features: ItemFeatures | None,
    metrics: list[Metric], k: int, auc_users: np.ndarray,
) -> tuple[dict[str, float], pd.DataFrame]:
    """Top-k lists for every evaluation user; full rankings (for AUC) for ``auc_users`` only.

    AUC needs every candidate ranked, which costs users x candidates rows: on a large catalogue
    that dominates the whole run, so it is computed on a seeded sample of the evaluation users
    (:data:`AUC_MAX_USERS`, standard error of the mean about 0.01); every other metric uses all of them.
    """
    n_cand = len(candidates) if candidates is not None else len(model.item_index_)
    top_parts = []
    top_chunk = max(1, EVAL_BLOCK_ROWS // max(k, 1))
    for start in range(0, len(users), top_chunk):  # chunks of users, each one vectorised call
        top_parts.append(model.recommend(users[start:start + top_chunk], k=k, candidates=candidates, unknown="cold"))
    auc = AUC()
    auc_parts = []
    full_chunk = max(1, EVAL_BLOCK_ROWS // max(n_cand, 1))
    for start in range(0, len(auc_users), full_chunk):
        part = auc_users[start:start + full_chunk]
        full = model.recommend(part, k=n_cand, candidates=candidates, unknown="cold")
        auc_parts.append(auc.calc_per_user(full, test_pairs[test_pairs[C.USER_ID].isin(part)]))
    top = pd.concat(top_parts, ignore_index=True)
    others = [m for m in metrics if not isinstance(m, AUC)]
    values = calc_metrics(others, top, test_pairs, train=train_pairs, catalog=catalog, item_features=item_features)
    auc_user = pd.concat(auc_parts)
    values[auc.name] = float(auc_user.mean())
    per_user = calc_metrics_per_user(others, top, test_pairs, train=train_pairs, item_features=item_features)
    per_user = per_user.join(auc_user, how="left").reindex(pd.Index(users, name=C.USER_ID))
    ordered = {m.name: values[m.name] for m in metrics}
    return ordered, per_user


def fit_final(
    interactions: pd.DataFrame,
    users: pd.DataFrame | None,
    user_schema: TableSchema | None,
    items: pd.DataFrame | None,
    item_schema: TableSchema | None,
    config: TrainConfig | None = None,
    epochs: int | None = None,
    progress: ProgressCallback | None = None,
    on_epoch: EpochCallback | None = None,
) -> HybridRecommender:
    """Refit the hybrid model on *all* interactions for production scoring.

    ``epochs`` is usually ``TrainResult.best_epochs["hybrid"]`` from the evaluation run; default
    ``config.model.epochs``. No validation split and no early stopping.
    """
    config = config or TrainConfig()
    config.validate()
    n_epochs = int(epochs if epochs is not None else config.model.epochs)
    model_cfg = replace(config.model, random_state=int(config.seed), epochs=n_epochs, early_stopping_patience=0)
    def report(message: str, fraction: float) -> None:
        report_progress(progress, message, fraction)

    report("Training the production model on all data", 0.0)

    def record(r: dict[str, Any]) -> None:
        report(f"Epoch {r['epoch']} of {n_epochs}", r["epoch"] / n_epochs)
        if on_epoch is not None:
            on_epoch({MODEL: HYBRID, PHASE: "final", **r})

    model = HybridRecommender(model_cfg, config.features, config.interactions).fit(
        interactions, users, user_schema, items, item_schema, on_epoch=record
    )
    report("Done", 1.0)
    return model
