"""Keep a model fresh: grow it to new customers, offers and events, and tell when it is stale.

Retraining from scratch every day is slow, and LightFM cannot grow its embeddings by itself.
:func:`update_model` grows a trained :class:`~recsys.learn.model.HybridRecommender` to the ids and
feature values of new data (:meth:`~recsys.learn.model.HybridRecommender.grown`: existing parameters
kept, new rows initialised as LightFM would) and continues training with ``fit_partial`` on the
new events plus a *replay* sample of old positive events, so the model does not forget what the
new batch does not mention.

:func:`freshness` answers "has the model gone stale?" on events that arrived after training:
the model's precision@k on them, its lift over a popularity baseline on the same events against
the lift it had on its test split at training time (raw precision depends on how many events a
window holds, the lift much less), and how much of the new data involves ids the model never
trained on. It ends in one plain recommendation: fine as it is, update, or retrain.

The workspace side (:func:`recsys.workspace.update.update_run`,
:func:`recsys.workspace.update.freshness_report`) reads the appends a dataset received after a
run was trained and records an updated model as a new run.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from recsys.core import columns as C
from recsys.core.config import ConfigBase
from recsys.core.errors import ConfigError
from recsys.core.i18n import gettext as _
from recsys.core.progress import EpochCallback, ProgressCallback, report as report_progress
from recsys.data.schema import TableSchema
from recsys.learn.baselines import PopularityRecommender
from recsys.learn.config import InteractionConfig
from recsys.learn.interactions import interaction_weights, latest_timestamp, relevant_pairs
from recsys.learn.model import HybridRecommender
from recsys.learn.pipeline import TrainConfig, fit_final
from recsys.learn.protocol import drop_seen
from recsys.metrics.ranking import Precision

#: Recommendation words of :class:`Freshness`.
FINE, UPDATE, RETRAIN = "fine", "update", "retrain"

#: The lift over popularity on new events may fall to this share of the lift at training time
#: before an update is advised, and to :data:`RETRAIN_LIFT_SHARE` before a retrain is.
UPDATE_LIFT_SHARE = 0.85
RETRAIN_LIFT_SHARE = 0.6
#: An update is advised when at least this share of new positive events involves a customer or
#: offer the model never trained on.
UPDATE_UNSEEN_SHARE = 0.1
#: A retrain is advised once the data appended since training is this large relative to the
#: data the model was trained on (updates drift; a periodic full retrain re-tunes everything).
RETRAIN_GROWTH = 0.5
#: Fewer evaluable customers than this: precision on the new events is too noisy to judge.
MIN_EVAL_USERS = 30


@dataclass(frozen=True)
class UpdateConfig(ConfigBase):
    """How an update continues training.

    Parameters
    ----------
    epochs
        ``fit_partial`` passes over the new events plus the replay sample.
    replay_ratio
        Old positive events replayed per new positive event (0: none). Replay keeps the model
        from drifting towards whatever the newest batch happens to contain.
    seed
        Seed of the replay sample and of the new embedding rows.
    """

    epochs: int = 5
    replay_ratio: float = 1.0
    seed: int = 42

    def validate(self) -> None:
        if not isinstance(self.epochs, (int, np.integer)) or isinstance(self.epochs, bool) or self.epochs < 1:
            raise ConfigError(f"UpdateConfig.epochs must be a positive integer, got {self.epochs!r}")
        if not (isinstance(self.replay_ratio, (int, float)) and np.isfinite(self.replay_ratio) and self.replay_ratio >= 0):
            raise ConfigError(f"UpdateConfig.replay_ratio must be a number >= 0, got {self.replay_ratio!r}")
        if not isinstance(self.seed, (int, np.integer)):
            raise ConfigError(f"UpdateConfig.seed must be an integer, got {self.seed!r}")


def replay_sample(old: pd.DataFrame, n_new_positive: int, model: HybridRecommender, config: UpdateConfig) -> pd.DataFrame:
    """A seeded uniform sample of old *positive* events, ``replay_ratio`` per new positive event."""
    n = int(round(config.replay_ratio * n_new_positive))
    if n == 0 or old.empty:
        return old.iloc[:0]
    positive = np.flatnonzero(interaction_weights(old, model.interactions_config_).to_numpy() > 0)
    if len(positive) == 0:
        return old.iloc[:0]
    rng = np.random.default_rng(int(config.seed))
    take = rng.choice(positive, size=min(n, len(positive)), replace=False)
    return old.iloc[np.sort(take)]


def update_model(
    model: HybridRecommender,
    new: pd.DataFrame,
    old: pd.DataFrame,
    users: pd.DataFrame | None = None,
    items: pd.DataFrame | None = None,
    *,
    new_user_rows: pd.DataFrame | None = None,
    new_item_rows: pd.DataFrame | None = None,
    config: UpdateConfig | None = None,
    on_epoch: EpochCallback | None = None,
) -> HybridRecommender:
    """A new model: ``model`` grown to the new data and trained on it (the input is not changed).

    Parameters
    ----------
    model
        A fitted hybrid model.
    new
        Interactions that arrived after the model was trained.
    old
        Interactions the model was trained on (the replay sample is drawn from them).
    users, items
        The current side tables (every id's facts, including new customers and offers).
    new_user_rows, new_item_rows
        Side-table rows that arrived with the new data (new or changed facts); their unseen
        values become new features. Default: the rows of ids new to the model.
    config
        :class:`UpdateConfig`.
    on_epoch
        Called after every epoch with ``{"epoch", "seconds"}``.

    Examples
    --------
    >>> fresh = update_model(model, yesterday, history, users, items)  # doctest: +SKIP
    >>> fresh.recommend(["C000123"], k=10)  # doctest: +SKIP
    """
    config = config or UpdateConfig()
    config.validate()
    grown = model.grown(new, users, items, new_user_rows=new_user_rows, new_item_rows=new_item_rows, seed=config.seed)
    if new.empty:
        return grown
    n_positive = int((interaction_weights(new, model.interactions_config_).to_numpy() > 0).sum())
    replay = replay_sample(old, n_positive, model, config)
    batch = pd.concat([new, replay], ignore_index=True) if len(replay) else new
    ends = [t for t in (latest_timestamp(old), latest_timestamp(new)) if t is not None]
    reference = max(ends) if ends else None  # "now" for time decay: the newest event (no copy of the columns)
    note = {
        "new_rows": int(len(new)), "new_positive_rows": n_positive, "replay_rows": int(len(replay)),
        "replay_ratio": config.replay_ratio, "seed": int(config.seed),
        "new_warm_users": int(grown.n_warm_users_ - model.n_warm_users_),
        "new_warm_items": int(grown.n_warm_items_ - model.n_warm_items_),
        "new_user_features": int(grown.user_builder_.n_features_ - model.user_builder_.n_features_),
        "new_item_features": int(grown.item_builder_.n_features_ - model.item_builder_.n_features_),
    }
    return grown.fit_update(batch, config.epochs, on_epoch=on_epoch, reference_time=reference, note=note)


# ------------------------------------------------------------------------------------------------
# Freshness
# ------------------------------------------------------------------------------------------------


@dataclass
class Freshness:
    """How a model does on events that arrived after it was trained, and what to do about it."""

    k: int
    new_events: int
    new_positive_events: int
    eval_users: int
    precision_new: float | None
    popularity_precision_new: float | None
    precision_at_training: float | None
    popularity_precision_at_training: float | None
    unseen_user_share: float
    unseen_item_share: float
    new_users: int
    new_items: int
    growth: float
    recommendation: str
    reasons: list[str] = field(default_factory=list)

    @property
    def lift_new(self) -> float | None:
        return _ratio(self.precision_new, self.popularity_precision_new)

    @property
    def lift_at_training(self) -> float | None:
        return _ratio(self.precision_at_training, self.popularity_precision_at_training)

    @property
    def lift_share(self) -> float | None:
        """Lift over popularity now, as a share of the lift at training time (1 = as good as then)."""
        return _ratio(self.lift_new, self.lift_at_training)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(lift_new=self.lift_new, lift_at_training=self.lift_at_training, lift_share=self.lift_share)
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in out.items()}

    def summary(self) -> str:
        """The recommendation and its reasons, in a marketer's words."""
        head = {
            FINE: _("The model is fine as it is."),
            UPDATE: _("Update the model with the new data."),
            RETRAIN: _("Retrain the model from scratch."),
        }[self.recommendation]
        return " ".join([head, *self.reasons])


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not np.isfinite(a) or not np.isfinite(b) or b <= 0:
        return None
    return float(a / b)


def freshness(
    model: HybridRecommender,
    new: pd.DataFrame,
    old: pd.DataFrame,
    users: pd.DataFrame | None = None,
    items: pd.DataFrame | None = None,
    *,
    k: int = 10,
    precision_at_training: float | None = None,
    popularity_precision_at_training: float | None = None,
    trained_rows: int | None = None,
) -> Freshness:
    """Judge ``model`` on ``new`` events (after its training data ``old``).

    Customers and offers the model never trained on are scored from their facts in ``users`` /
    ``items`` (the current tables), as the app would score them. Pairs already positive in
    training are not counted as hits. The popularity baseline is fitted on ``old``.
    """
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    icfg = model.interactions_config_
    warm_users = pd.Index(model.user_index_.ids[: model.n_warm_users_])
    warm_items = pd.Index(model.item_index_.ids[: model.n_warm_items_])
    positive_rows = new[interaction_weights(new, icfg).to_numpy() > 0] if len(new) else new
    unseen_u = ~positive_rows[C.USER_ID].astype(str).isin(warm_users)
    unseen_i = ~positive_rows[C.ITEM_ID].astype(str).isin(warm_items)
    n_new_users = int(pd.Index(new[C.USER_ID].astype(str).unique()).difference(warm_users).size)
    n_new_items = int(pd.Index(new[C.ITEM_ID].astype(str).unique()).difference(warm_items).size)
    precision_new, eval_users = precision_on(model, new, k, users, items)
    pop_new = None
    if eval_users:
        popularity = PopularityRecommender(icfg).fit(old, users, None, items, None)
        pop_new, _n = precision_on(popularity, new, k, interaction_config=icfg)  # same customers: both were fitted on ``old``
    growth = float(len(new) / trained_rows) if trained_rows else 0.0
    result = Freshness(
        k=int(k), new_events=int(len(new)), new_positive_events=int(len(positive_rows)), eval_users=int(eval_users),
        precision_new=precision_new, popularity_precision_new=pop_new,
        precision_at_training=precision_at_training, popularity_precision_at_training=popularity_precision_at_training,
        unseen_user_share=float(unseen_u.mean()) if len(unseen_u) else 0.0,
        unseen_item_share=float(unseen_i.mean()) if len(unseen_i) else 0.0,
        new_users=n_new_users, new_items=n_new_items, growth=growth, recommendation=FINE,
    )
    result.recommendation, result.reasons = advise(result)
    return result


def _rows_of(table: pd.DataFrame | None, key: str, ids: Any, known: np.ndarray) -> pd.DataFrame | None:
    """Side-table rows of the ``ids`` the model does not know (to score them from their facts)."""
    if table is None or key not in table.columns:
        return None
    ids = pd.Index(pd.Series(ids, dtype=object).astype(str)).difference(pd.Index(known))
    if ids.empty:
        return None
    rows = table[table[key].astype(str).isin(ids)]
    return rows if len(rows) else None


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def advise(f: Freshness) -> tuple[str, list[str]]:
    """The recommendation and the reasons behind it, most serious first."""
    if f.new_events == 0:
        return FINE, [_("No new events have arrived since it was trained.")]
    retrain: list[str] = []
    update: list[str] = []
    share = f.lift_share
    if f.eval_users < MIN_EVAL_USERS:
        update_note = _("Only {n} customer(s) responded to something new since training, too few to "
                        "measure how well it still ranks.").format(n=f.eval_users)
    else:
        update_note = ""
        if share is not None and share < RETRAIN_LIFT_SHARE:
            retrain.append(_("On the new events it beats 'most popular' by {new}x, against {then}x on its test split: "
                             "it has lost most of its edge.").format(new=f"{f.lift_new:.2f}",
                                                                     then=f"{f.lift_at_training:.2f}"))
        elif share is not None and share < UPDATE_LIFT_SHARE:
            update.append(_("On the new events it beats 'most popular' by {new}x, against {then}x on its test split."
                            ).format(new=f"{f.lift_new:.2f}", then=f"{f.lift_at_training:.2f}"))
    if f.growth >= RETRAIN_GROWTH:
        retrain.append(_("The data has grown by {share} since it was trained; a full retrain re-tunes "
                         "everything (updates only nudge it).").format(share=_pct(f.growth)))
    unseen = max(f.unseen_user_share, f.unseen_item_share)
    if unseen >= UPDATE_UNSEEN_SHARE:
        update.append(_("{users} of the new responses come from customers and {items} concern offers it never "
                        "trained on ({new_users} new customers, {new_items} new offers).").format(
                            users=_pct(f.unseen_user_share), items=_pct(f.unseen_item_share),
                            new_users=f"{f.new_users:,}", new_items=f"{f.new_items:,}"))
    if retrain:
        return RETRAIN, retrain + update
    if update:
        return UPDATE, update + ([update_note] if update_note else [])
    reasons = [update_note] if update_note else []
    if share is not None:
        reasons.append(_("On the new events it still beats 'most popular' by {new}x ({then}x at training time)."
                         ).format(new=f"{f.lift_new:.2f}", then=f"{f.lift_at_training:.2f}"))
    if f.new_users or f.new_items:
        reasons.append(_("Until an update, its {users} new customers and {items} new offers are scored from their "
                         "facts alone.").format(users=f"{f.new_users:,}", items=f"{f.new_items:,}"))
    return FINE, reasons


def precision_on(
    model: Any, events: pd.DataFrame, k: int, users: pd.DataFrame | None = None, items: pd.DataFrame | None = None,
    interaction_config: InteractionConfig | None = None,
) -> tuple[float | None, int]:
    """Precision@k of ``model`` on the positive pairs of ``events`` it had not already seen.

    Returns (precision or None when no customer has such a pair, number of customers judged).
    Works for any recommender of :mod:`recsys.learn.model` / :mod:`recsys.learn.baselines`; hybrid models
    score customers and offers they do not know from their rows in ``users`` / ``items``.
    """
    if events.empty:
        return None, 0
    pairs = relevant_pairs(events, interaction_config or getattr(model, "interactions_config_", None))
    test = drop_seen(pairs, model)
    eval_users = pd.unique(test[C.USER_ID].to_numpy(object))
    if len(eval_users) == 0:
        return None, 0
    extra: dict[str, Any] = {}
    if isinstance(model, HybridRecommender) and type(model).name == HybridRecommender.name:
        extra = {"new_users": _rows_of(users, C.USER_ID, eval_users, model.user_index_.ids),
                 "new_items": _rows_of(items, C.ITEM_ID, test[C.ITEM_ID].unique(), model.item_index_.ids)}
    reco = model.recommend(eval_users, k=k, unknown="cold", **extra)
    return float(Precision(k).calc(reco, test)), int(len(eval_users))


def backtest(
    interactions: pd.DataFrame,
    users: pd.DataFrame | None,
    user_schema: TableSchema | None,
    items: pd.DataFrame | None,
    item_schema: TableSchema | None,
    train_config: TrainConfig,
    start: pd.Timestamp,
    *,
    steps: int,
    batch: str = "1D",
    epochs: int | None = None,
    update_config: UpdateConfig | None = None,
    k: int = 10,
    progress: ProgressCallback | None = None,
) -> pd.DataFrame:
    """Replay history in batches: update batch by batch versus retraining from scratch each time.

    The model is first trained on the events before ``start``. Then, for each of ``steps``
    batches of length ``batch`` (a pandas offset, "1D" = daily): the updated model takes the
    batch (:func:`update_model`), a model is retrained from scratch on everything so far with the
    same number of epochs, and both (plus the never-updated first model and a popularity
    baseline) are judged on the *next* batch with :func:`precision_on`.

    Returns one row per step: ``step``, ``batch_start``, ``batch_rows``, ``judged_users``,
    ``precision_update``, ``precision_scratch``, ``precision_stale``, ``precision_popularity``,
    ``seconds_update``, ``seconds_scratch``.
    """
    update_config = update_config or UpdateConfig()
    def report(message: str, fraction: float) -> None:
        report_progress(progress, message, fraction)

    ts = pd.to_datetime(interactions[C.TIMESTAMP])
    start = pd.Timestamp(start)
    step_length = pd.tseries.frequencies.to_offset(batch)
    fit = lambda frame: fit_final(frame, users, user_schema, items, item_schema, train_config, epochs=epochs)  # noqa: E731
    report("Training the first model", 0.0)
    so_far = interactions[(ts < start).to_numpy()]
    first = fit(so_far)
    updated = first
    rows = []
    for step in range(steps):
        lo, hi = start + step * step_length, start + (step + 1) * step_length
        new = interactions[((ts >= lo) & (ts < hi)).to_numpy()]
        nxt = interactions[((ts >= hi) & (ts < hi + step_length)).to_numpy()]
        t0 = time.perf_counter()
        updated = update_model(updated, new, so_far, users, items, config=update_config)
        t_update = time.perf_counter() - t0
        so_far = pd.concat([so_far, new], ignore_index=True)
        t0 = time.perf_counter()
        scratch = fit(so_far)
        t_scratch = time.perf_counter() - t0
        p_update, n_users = precision_on(updated, nxt, k, users, items)
        p_scratch, _n = precision_on(scratch, nxt, k, users, items)
        p_stale, _n = precision_on(first, nxt, k, users, items)
        popularity = PopularityRecommender(first.interactions_config_).fit(so_far, users, None, items, None)
        p_pop, _n = precision_on(popularity, nxt, k, interaction_config=first.interactions_config_)
        rows.append({
            "step": step + 1, "batch_start": lo, "batch_rows": int(len(new)), "judged_users": n_users,
            "precision_update": p_update, "precision_scratch": p_scratch, "precision_stale": p_stale,
            "precision_popularity": p_pop, "seconds_update": round(t_update, 3), "seconds_scratch": round(t_scratch, 3),
        })
        report(f"Batch {step + 1} of {steps}", (step + 1) / steps)
    return pd.DataFrame(rows)


__all__ = [
    "FINE", "UPDATE", "RETRAIN", "Freshness", "UpdateConfig", "advise", "backtest", "freshness", "precision_on",
    "replay_sample", "update_model",
]
