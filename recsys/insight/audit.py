"""The fairness audit of a model's recommendations, its findings in words, and its trade-off curve.

Three kinds of questions, one metric API (:class:`recsys.metrics.base.Metric`):

* **By customer group** (any users column, sensitive ones included): accuracy per group with the
  gap and ratio between the best and the worst group (:mod:`recsys.insight.groups`); for the
  model's first offers, the rate at which each group is offered *favourable* offers and the mean
  value offered, with the four-fifths rule, also for the shop's past impressions and responses.
* **By offer group** (any items column): exposure against catalogue and history shares, the Gini
  coefficient of exposure, the long-tail share, exposure parity (:mod:`recsys.metrics.beyond`).
* **Per list**: diversity, category entropy, novelty, calibration, personalisation.

:func:`compute_audit` runs everything on a dataset and a model (the workspace job
:func:`recsys.workspace.audit.audit` loads them for a run) and words its findings
(:func:`audit_flags`); :func:`tradeoff_template` and :func:`audit_tradeoff` turn an audit into a
trade-off curve (:func:`recsys.insight.tradeoff.tradeoff_sweep`). The Fairness page and
``promolens audit`` call exactly these functions.

Group labels: a missing value is ``(missing)``; a customer absent from the customers table is
``(not in customer table)``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recsys.core import columns as C
from recsys.core.arrays import isin
from recsys.data.dataset import customer_ids
from recsys.core.i18n import N_
from recsys.core.i18n import gettext as _
from recsys.core.jsonio import jsonable
from recsys.core.progress import ProgressCallback, report
from recsys.insight.groups import FOUR_FIFTHS, group_table, group_table_and_gaps, offer_rates
from recsys.insight.rerank import RERANK_KINDS, RerankSettings, pool_size, rerank
from recsys.insight.rules import (
    ItemRule, UserRule, column_words, customers_phrase, default_favourable, group_labels, item_group_labels,
)
from recsys.insight.tradeoff import EvalSetup, tradeoff_sweep
from recsys.learn.model import relevant_pairs
from recsys.metrics.base import GROUP_COLUMN
from recsys.metrics.beyond import (
    EmbeddingDiversity,
    ExposureParity,
    embedding_features,
    exposure_counts,
    exposure_parity,
    list_metrics,
    offer_group_table,
    side_features,
)
from recsys.metrics.fairness import FavourableShare, MeanItemValue
from recsys.metrics.ranking import NDCG, IntraListDiversity, Novelty, Precision, Recall

if TYPE_CHECKING:
    from recsys.learn.config import InteractionConfig
    from recsys.learn.model import HybridRecommender
    from recsys.data.dataset import Dataset


@dataclass(frozen=True)
class AuditConfig:
    """What to audit.

    Parameters
    ----------
    user_column
        Customers column to group by (sensitive columns allowed: they are audited, not modelled).
    item_column
        Offers column for exposure by offer group (default: ``category`` when present, else the
        first text column of the offers table).
    favourable
        The offers that count as favourable (default: ``discount_depth >= 30`` when present).
    value_column
        Number column whose mean offered value is reported per group (default: the favourable
        rule's column when it is a number column).
    k
        List length of accuracy and list metrics (default: the run's ``k``).
    offer_k
        Offers per customer judged by the four-fifths rule: the first few a customer sees
        (1 = the single coupon of a one-coupon campaign).
    max_users
        Audit at most this many customers (a seeded sample); None = all.
    n_boot, confidence, seed
        Bootstrap draws and level of the intervals; seed of the sample and the bootstrap.
    threshold
        The four-fifths line.
    min_group_size
        Groups with fewer customers are shown but not judged (too few to tell).
    rerank
        Audit the lists after this re-ranking (e.g. the one saved with the run) instead of the
        model's own order.
    """

    user_column: str
    item_column: str | None = None
    favourable: ItemRule | None = None
    value_column: str | None = None
    k: int | None = None
    offer_k: int = 3
    max_users: int | None = 20_000
    n_boot: int = 200
    confidence: float = 0.95
    seed: int = 0
    threshold: float = FOUR_FIFTHS
    min_group_size: int = 30
    rerank: RerankSettings | None = None

    def __post_init__(self) -> None:
        if isinstance(self.favourable, Mapping):
            object.__setattr__(self, "favourable", ItemRule.from_dict(self.favourable))
        if isinstance(self.rerank, Mapping):
            object.__setattr__(self, "rerank", RerankSettings.from_dict(self.rerank))

    def validate(self) -> None:
        if not self.user_column:
            raise ValueError("choose a customers column to group by")
        for name in ("offer_k", "n_boot", "min_group_size"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < (0 if name == "n_boot" else 1):
                raise ValueError(f"audit setting {name} must be a whole number >= {0 if name == 'n_boot' else 1}, got {v!r}")
        if self.k is not None and (not isinstance(self.k, (int, np.integer)) or self.k < 1):
            raise ValueError(f"audit setting k must be a positive whole number, got {self.k!r}")
        if self.max_users is not None and self.max_users < 2:
            raise ValueError(f"audit setting max_users must be at least 2, got {self.max_users!r}")
        if not 0 < self.threshold <= 1 or not 0 < self.confidence < 1:
            raise ValueError("audit threshold must be in (0, 1] and confidence in (0, 1)")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["favourable"] = None if self.favourable is None else self.favourable.to_dict()
        d["rerank"] = None if self.rerank is None else self.rerank.to_dict()
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "AuditConfig":
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown audit settings {sorted(unknown)}")
        return cls(**dict(data))


@dataclass(frozen=True)
class Flag:
    """One finding in plain language. ``severity``: ``high``, ``medium``, ``info`` or ``ok``."""

    severity: str
    topic: str
    text: str


@dataclass
class AuditResult:
    """Everything an audit found (JSON: :meth:`to_dict`).

    Attributes
    ----------
    accuracy, accuracy_gaps
        :func:`group_table` / :func:`group_gaps` of the run's held-out per-customer accuracy.
    offers
        :func:`offer_rates` of the model's first ``offer_k`` offers per customer.
    history_shown, history_responded
        :func:`offer_rates` of past impressions (the shop's own past targeting) and of past
        positive responses; empty when the data has none.
    lists_by_group
        :func:`group_table` of per-customer list metrics (favourable share, mean value, diversity,
        novelty).
    offer_groups
        :func:`offer_group_table` by ``item_column``.
    exposure
        Top-k slots per catalogue offer (for a Lorenz curve).
    list_metrics
        Beyond-accuracy metrics of the lists (coverage, Gini, long tail, novelty, diversity,
        entropy, calibration, parity, personalisation).
    flags
        Findings, most severe first.
    """

    run_id: str
    config: AuditConfig
    k: int
    users: int
    favourable_label: str | None
    favourable_phrase: str | None
    value_label: str | None
    accuracy: pd.DataFrame
    accuracy_gaps: pd.DataFrame
    offers: pd.DataFrame
    history_shown: pd.DataFrame
    history_responded: pd.DataFrame
    lists_by_group: pd.DataFrame
    offer_groups: pd.DataFrame
    exposure: pd.Series
    list_metrics: dict[str, float]
    flags: list[Flag]
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
            return jsonable(frame.to_dict("records"))

        return {
            "run_id": self.run_id, "config": self.config.to_dict(), "k": self.k, "users": self.users,
            "favourable": self.favourable_label, "favourable_phrase": self.favourable_phrase, "value": self.value_label,
            "flags": [asdict(f) for f in self.flags], "notes": list(self.notes),
            "accuracy": records(self.accuracy), "accuracy_gaps": records(self.accuracy_gaps),
            "offers": records(self.offers), "offers_best_group": self.offers.attrs.get("best"),
            "history_shown": records(self.history_shown), "history_responded": records(self.history_responded),
            "lists_by_group": records(self.lists_by_group), "offer_groups": records(self.offer_groups),
            "list_metrics": jsonable(self.list_metrics), "timings": jsonable(self.timings),
        }


def customer_universe(dataset: Dataset) -> np.ndarray:
    """Every customer id of a dataset, in the one order of :func:`recsys.data.dataset.customer_ids`."""
    return customer_ids(dataset.users, dataset.interactions).to_numpy(object)


def sample_users(ids: np.ndarray, max_users: int | None, seed: int) -> np.ndarray:
    """All ids, or a seeded sample of ``max_users`` of them (sorted)."""
    if max_users is None or len(ids) <= max_users:
        return np.asarray(ids, dtype=object)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(np.asarray(ids, dtype=object), int(max_users), replace=False))


def default_item_column(items: pd.DataFrame) -> str | None:
    """``category`` when present, else the first text column of the offers table (None without)."""
    if "category" in items.columns:
        return "category"
    text = [c for c in items.columns if c != C.ITEM_ID and not pd.api.types.is_numeric_dtype(items[c])
            and items[c].nunique() <= max(50, len(items) // 5)]
    return text[0] if text else None


def audit_columns(config: AuditConfig, users: pd.DataFrame, items: pd.DataFrame) -> tuple[str | None, ItemRule | None, str | None]:
    """The audit's offer column, favourable-offer rule and value column, checked against the tables.

    Raises a ``ValueError`` that names the missing column and the choices when a column of
    ``config`` is not in the customers or offers table.
    """
    if config.user_column not in users.columns or config.user_column == C.USER_ID:
        choices = ", ".join(c for c in users.columns if c != C.USER_ID) or "none"
        raise ValueError(f"the customers table has no column '{config.user_column}'. Fix: choose one of {choices}.")
    item_column = config.item_column or default_item_column(items)
    if item_column is not None and item_column not in items.columns:
        choices = ", ".join(c for c in items.columns if c != C.ITEM_ID) or "none"
        raise ValueError(f"the offers table has no column '{item_column}'. Fix: choose one of {choices}.")
    rule = config.favourable or default_favourable(items)
    if rule is not None:
        rule.validate(items)
    value_column = config.value_column or (rule.column if rule is not None and rule.numeric else None)
    if value_column is not None and (value_column not in items.columns or not pd.api.types.is_numeric_dtype(items[value_column])):
        raise ValueError(f"'{value_column}' is not a number column of the offers table: choose another value column")
    return item_column, rule, value_column


@dataclass(frozen=True)
class AuditLists:
    """The part of an audit that does not depend on how customers are grouped (``user_column``).

    The audited customers' lists, the favourable offers, the past impressions and responses of those
    customers, the list metrics and the per-list figures. Grouping customers by another column
    reuses it (:func:`compute_audit`'s ``lists``): only the group tables are computed again.
    Never mutated.
    """

    population: np.ndarray
    reco: pd.DataFrame
    fav_ids: np.ndarray | None
    fav_label: str | None
    fav_phrase: str | None
    values: pd.Series | None
    shown_pairs: pd.DataFrame | None
    responded_pairs: pd.DataFrame | None
    offer_groups: pd.DataFrame
    list_values: dict[str, float]
    per_list: pd.DataFrame
    exposure: pd.Series
    notes: tuple[str, ...]
    timings: dict[str, float]


def audit_lists(
    config: AuditConfig,
    dataset: Dataset,
    model: HybridRecommender,
    *,
    k: int,
    interactions: InteractionConfig,
    progress: ProgressCallback | None = None,
) -> AuditLists:
    """Everything of :func:`compute_audit` but the grouping of customers (``config.user_column`` is not read)."""
    item_column, rule, value_column = audit_columns(config, dataset.users, dataset.items)
    users_table, items_table = dataset.users, dataset.items
    timings: dict[str, float] = {}
    offer_k = int(config.offer_k)
    notes: list[str] = []
    clock = time.perf_counter()
    universe = customer_universe(dataset)
    population = sample_users(universe, config.max_users, config.seed)
    if len(population) < len(universe):
        notes.append(_("Audited a random sample of {n} of {total} customers (seed {seed}).").format(
            n=f"{len(population):,}", total=f"{len(universe):,}", seed=config.seed))
    report(progress, f"Scoring {len(population):,} customers", 0.15)
    length = max(k, offer_k)
    if config.rerank is None:
        reco = model.recommend(population, k=length, unknown="cold")
    else:
        pool = model.recommend(population, k=pool_size(config.rerank, length), unknown="cold")
        reco = rerank(pool, config.rerank, length, items=items_table, users=users_table, model=model)
        notes.append(_("Lists after the re-ranking: {rerank}.").format(rerank=config.rerank.describe(items_table)))
    timings["recommend"] = time.perf_counter() - clock

    clock = time.perf_counter()
    report(progress, "Favourable offers", 0.4)
    positives = relevant_pairs(dataset.interactions, interactions)
    values = pd.Series(pd.to_numeric(items_table[value_column], errors="coerce").to_numpy(np.float64),
                       index=items_table[C.ITEM_ID].astype(str).to_numpy(object)) if value_column else None
    fav_ids = fav_label = fav_phrase = shown_pairs = responded_pairs = None
    if rule is not None:
        fav_ids = rule.item_ids(items_table)
        fav_label = rule.label(items_table)
        fav_phrase = rule.phrase(items_table)
        history = dataset.interactions[isin(dataset.interactions[C.USER_ID].astype(str), population)]
        if C.EVENT in history.columns:
            impressions = history[history[C.EVENT].astype(str).str.lower() == C.IMPRESSION]
            if len(impressions):
                shown_pairs = impressions[[C.USER_ID, C.ITEM_ID]].astype(str).drop_duplicates()
        sample_pos = positives[isin(positives[C.USER_ID], population)]
        if len(sample_pos):
            responded_pairs = sample_pos
    else:
        notes.append(_("No favourable-offer rule (the offers table has no discount_depth): choose the column and "
                       "values that define a favourable offer to apply the four-fifths rule."))
    timings["offers"] = time.perf_counter() - clock

    clock = time.perf_counter()
    report(progress, "Offer exposure and list metrics", 0.6)
    top = reco[reco[C.RANK].to_numpy() <= k]
    catalog = model.item_index_.ids[model.default_candidates()]
    item_groups = item_group_labels(items_table, item_column) if item_column else None
    offer_groups = offer_group_table(top, item_groups, k, catalog, positives) if item_groups is not None else pd.DataFrame()
    feats, emb = side_features(model), embedding_features(model)
    metrics_list = list_metrics(k, item_groups=item_groups, with_features=feats is not None)
    list_values: dict[str, float] = {}
    for metric in metrics_list:
        features = emb if isinstance(metric, EmbeddingDiversity) else feats
        if isinstance(metric, ExposureParity) and not offer_groups.empty:  # the table above, by the same groups
            list_values[metric.name] = exposure_parity(offer_groups)
            continue
        try:
            list_values[metric.name] = metric.calc(top, train=positives, catalog=catalog, item_features=features)
        except ValueError as exc:  # e.g. personalisation of a single customer
            notes.append(f"{metric.name} not computed: {exc}")
    per_list = [Novelty(k).calc_per_user(top, train=positives)]
    if fav_ids is not None:
        per_list.insert(0, FavourableShare(offer_k, tuple(fav_ids)).calc_per_user(reco))
    if values is not None:
        per_list.insert(1, MeanItemValue(offer_k, values=values).calc_per_user(reco).rename(f"mean {value_column}@{offer_k}"))
    if feats is not None:
        per_list.append(IntraListDiversity(k).calc_per_user(top, item_features=feats))
    exposure = exposure_counts(top, k, catalog).sort_values(ascending=False)
    timings["lists"] = time.perf_counter() - clock
    return AuditLists(
        population=population, reco=reco, fav_ids=fav_ids, fav_label=fav_label, fav_phrase=fav_phrase, values=values,
        shown_pairs=shown_pairs, responded_pairs=responded_pairs, offer_groups=offer_groups, list_values=list_values,
        per_list=pd.concat(per_list, axis=1), exposure=exposure, notes=tuple(notes), timings=timings,
    )


def compute_audit(
    run_id: str,
    config: AuditConfig,
    dataset: Dataset,
    model: HybridRecommender,
    *,
    k: int,
    interactions: InteractionConfig,
    per_user: pd.DataFrame | None = None,
    timings: dict[str, float] | None = None,
    progress: ProgressCallback | None = None,
    lists: AuditLists | None = None,
) -> AuditResult:
    """Audit a model's recommendations for fairness across customer and offer groups.

    One vectorised ``recommend`` call (chunked inside the model) for every audited customer
    (``config.max_users`` of :func:`customer_universe`, a seeded sample). Accuracy by group comes
    from ``per_user``, the run's stored held-out per-customer metrics (None: not shown, with a
    note). ``interactions`` says which interactions are positive responses; ``k`` is the list
    length of the list metrics; ``timings`` (seconds per step) is completed in place. ``lists``:
    :func:`audit_lists` of the same config but for ``user_column`` (computed here when None).
    """
    config.validate()
    item_column, _, value_column = audit_columns(config, dataset.users, dataset.items)
    timings = {} if timings is None else timings
    if lists is None:
        lists = audit_lists(config, dataset, model, k=k, interactions=interactions, progress=progress)
        timings.update(lists.timings)
    notes = list(lists.notes)
    groups = group_labels(dataset.users, config.user_column)

    clock = time.perf_counter()
    report(progress, "Accuracy by group", 0.7)
    boot = dict(n_boot=config.n_boot, confidence=config.confidence, seed=config.seed)
    accuracy_names = [Precision(k).name, Recall(k).name, NDCG(k).name]
    accuracy = pd.DataFrame(columns=["metric", GROUP_COLUMN, "customers", "mean", "ci_low", "ci_high"])
    gaps = pd.DataFrame(columns=["metric", "best", "worst", "gap", "ratio"])
    if per_user is not None:
        present = [m for m in accuracy_names if m in per_user.columns]
        if present:
            accuracy, gaps = group_table_and_gaps(per_user, groups, present, min_size=config.min_group_size, **boot)
        else:
            notes.append(_("The run's held-out metrics are at another list length than {k}: accuracy by group is not "
                           "shown.").format(k=k))
    else:
        notes.append(_("This run has no held-out per-customer metrics: accuracy by group is not shown."))

    report(progress, "Favourable offers and lists by group", 0.85)
    empty = pd.DataFrame(columns=[GROUP_COLUMN, "customers", "rate", "ratio", "flagged"])
    offers, shown, responded = empty, empty, empty
    rate_kw = dict(item_values=lists.values, threshold=config.threshold, min_size=config.min_group_size, **boot)
    if lists.fav_ids is not None:
        offers = offer_rates(lists.reco, groups, lists.fav_ids, k=int(config.offer_k), population=lists.population, **rate_kw)
        if lists.shown_pairs is not None:
            shown = offer_rates(lists.shown_pairs, groups, lists.fav_ids, **rate_kw)
        if lists.responded_pairs is not None:
            responded = offer_rates(lists.responded_pairs, groups, lists.fav_ids, **rate_kw)
    lists_by_group = group_table(lists.per_list, groups, **boot)
    timings["groups"] = time.perf_counter() - clock

    result = AuditResult(
        run_id=run_id, config=config, k=k, users=int(len(lists.population)), favourable_label=lists.fav_label,
        favourable_phrase=lists.fav_phrase, value_label=value_column, accuracy=accuracy, accuracy_gaps=gaps,
        offers=offers, history_shown=shown, history_responded=responded, lists_by_group=lists_by_group,
        offer_groups=lists.offer_groups, exposure=lists.exposure, list_metrics=lists.list_values, flags=[], notes=notes,
        timings={n: round(v, 3) for n, v in timings.items()},
    )
    result.flags = audit_flags(result, item_column)
    report(progress, "Done", 1.0)
    return result


_SEVERITY = {"high": 0, "medium": 1, "info": 2, "ok": 3}


def audit_flags(result: AuditResult, item_column: str | None = None) -> list[Flag]:
    """Plain-language findings of an audit, most severe first."""
    cfg = result.config
    col = cfg.user_column
    flags: list[Flag] = []
    thr = cfg.threshold
    what = result.favourable_phrase or _("favourable offers")
    first = _("as their first offer") if cfg.offer_k == 1 else _("among their first {n} offers").format(n=cfg.offer_k)

    def rate_flags(table: pd.DataFrame, template: str, where: str, topic: str) -> list[str]:
        out = []
        if table.empty or "flagged" not in table.columns:
            return out
        best = table.attrs.get("best")
        for row in table[table["flagged"]].itertuples(index=False):
            interval = (_(" (95% interval {low}-{high})").format(low=f"{row.ratio_low:.2f}", high=f"{row.ratio_high:.2f}")
                        if np.isfinite(row.ratio_low) and np.isfinite(row.ratio_high) else "")
            rest = (_("; {ratio}x the rate of all other customers").format(ratio=f"{row.vs_rest:.2f}")
                    if np.isfinite(row.vs_rest) else "")
            text = _(template).format(who=customers_phrase(col, row.group), what=what, ratio=f"{row.ratio:.2f}",
                                      best=customers_phrase(col, best), where=where, interval=interval, rest=rest)
            text = text[:1].upper() + text[1:]
            severity = "high" if np.isfinite(row.ratio_high) and row.ratio_high < thr else "medium"
            flags.append(Flag(severity, topic, text))
            out.append(row.group)
        return out

    model_flagged = rate_flags(result.offers, N_("{who} are offered {what} {ratio}x as often as {best} (the most-offered "
                                                 "group){where}: below the four-fifths line{interval}{rest}."),
                               " " + first, "favourable offers")
    past_flagged = rate_flags(result.history_shown, N_("{who} were shown {what} {ratio}x as often as {best} (the most-shown "
                                                       "group){where}: below the four-fifths line{interval}{rest}."),
                              _(" in the past (impressions: the shop's own targeting)"), "past targeting")
    both = sorted(set(model_flagged) & set(past_flagged))
    if both:
        flags.append(Flag("info", "favourable offers",
                          _("The model's lists repeat the past targeting for {who}: it learned from what the shop chose "
                            "to show them. A boost re-ranking for them can correct it.").format(
                              who=", ".join(customers_phrase(col, g) for g in both))))
    elif past_flagged and not result.offers.empty:
        flags.append(Flag("info", "past targeting",
                          _("The model's lists do not repeat the past under-exposure of {who} (none of them falls below "
                            "the four-fifths line {first}).").format(
                              who=", ".join(customers_phrase(col, g) for g in past_flagged), first=first)))
    for row in result.accuracy_gaps.itertuples(index=False):
        if row.best is None or not np.isfinite(row.ratio):
            continue
        if row.ratio < thr and np.isfinite(row.gap_low) and row.gap_low > 0:
            flags.append(Flag("medium", "accuracy",
                              _("The model is less accurate for {worst}: {metric} {worst_mean} against {best_mean} for "
                                "{best} ({ratio}x; gap 95% interval {low}-{high}).").format(
                                  worst=customers_phrase(col, row.worst), metric=row.metric,
                                  worst_mean=f"{row.worst_mean:.3f}", best_mean=f"{row.best_mean:.3f}",
                                  best=customers_phrase(col, row.best), ratio=f"{row.ratio:.2f}",
                                  low=f"{row.gap_low:.3f}", high=f"{row.gap_high:.3f}")))
    og = result.offer_groups
    if item_column and not og.empty:
        for row in og.itertuples(index=False):
            if row.offers < 3 or not np.isfinite(row.exposure_ratio):
                continue
            name = f"{column_words(item_column)} = {row.group}"
            if row.exposure_ratio < 0.5:
                flags.append(Flag("medium", "offer exposure",
                                  _("Offers with {name} are {catalogue} of the catalogue but get {slots} of "
                                    "recommendation slots ({ratio}x their share).").format(
                                      name=name, catalogue=f"{row.catalogue_share:.0%}", slots=f"{row.slot_share:.0%}",
                                      ratio=f"{row.exposure_ratio:.2f}")))
            elif row.exposure_ratio > 2.0:
                flags.append(Flag("info", "offer exposure",
                                  _("Offers with {name} take {slots} of recommendation slots while being {catalogue} of "
                                    "the catalogue ({ratio}x their share).").format(
                                      name=name, slots=f"{row.slot_share:.0%}", catalogue=f"{row.catalogue_share:.0%}",
                                      ratio=f"{row.exposure_ratio:.1f}")))
    lm, k = result.list_metrics, result.k
    g = lm.get(f"exposure_gini@{k}")
    if g is not None and g >= 0.6 and len(result.exposure):
        counts = result.exposure.sort_values(ascending=False).to_numpy(np.float64)
        top_share = counts[: max(1, math.ceil(0.1 * len(counts)))].sum() / max(counts.sum(), 1)
        flags.append(Flag("medium", "offer exposure",
                          _("Exposure is concentrated: the 10% most-shown offers take {share} of all slots "
                            "(Gini {gini}; 0 = every offer shown equally).").format(share=f"{top_share:.0%}",
                                                                                   gini=f"{g:.2f}")))
    cov = lm.get(f"coverage@{k}")
    if cov is not None and cov < 0.5:
        flags.append(Flag("medium", "offer exposure", _("Only {share} of the offers appear in anyone's top {k}.").format(
            share=f"{cov:.0%}", k=k)))
    pers = lm.get(f"personalization@{k}")
    if pers is not None and pers < 0.5:
        flags.append(Flag("medium", "diversity",
                          _("Lists look alike: two customers' top {k} lists share {n} offers on average.").format(
                              k=k, n=f"{(1 - pers) * k:.1f}")))
    if not any(f.severity in ("high", "medium") for f in flags):
        flags.append(Flag("ok", "summary",
                          _("No {column} group falls below the four-fifths line and no accuracy or exposure gap "
                            "stands out.").format(column=column_words(col))))
    return sorted(flags, key=lambda f: _SEVERITY.get(f.severity, 9))


# ============================================================================================
# The trade-off of an audit: one helper for the page and the CLI
# ============================================================================================

#: Strengths drawn on the trade-off curve (dense near 0: a boost already moves lists at a few hundredths).
STRENGTHS: tuple[float, ...] = (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.85, 1.0)


def tradeoff_template(
    result: AuditResult,
    kind: str,
    items: pd.DataFrame,
    *,
    boost_groups: Iterable[str] | None = None,
    cap_values: Iterable[str] | None = None,
    similarity: str = "features",
) -> tuple[RerankSettings, str, str]:
    """The re-ranking to sweep after an audit, and the trade-off curve's x axis (column, words).

    ``boost``: the favourable offers, for ``boost_groups`` of the audited customer column
    (default: the groups the audit flagged in the model's lists, else in the past targeting; an
    empty list = everyone). ``cap``: the offer-group values ``cap_values`` of the audited offer
    column (default: the most over-exposed group). ``mmr``: diversity by ``similarity``.
    """
    cfg, k = result.config, result.k
    if kind == "boost":
        rule = cfg.favourable or default_favourable(items)
        if rule is None:
            raise ValueError("a boost needs favourable offers: define them (e.g. discount_depth>=30)")
        if boost_groups is None:
            flagged = [] if result.offers.empty else list(result.offers.loc[result.offers["flagged"], GROUP_COLUMN])
            past = [] if result.history_shown.empty else list(result.history_shown.loc[result.history_shown["flagged"], GROUP_COLUMN])
            boost_groups = flagged or past
        groups = tuple(str(g) for g in boost_groups)
        users = UserRule(cfg.user_column, groups) if groups else None
        x, label = (("di_focus", N_("lowest ratio to the top group, boosted groups")) if groups
                    else ("favourable_share", N_("share of favourable offers")))
        return RerankSettings("boost", 0.0, items=rule, users=users), x, label
    if kind == "cap":
        column = cfg.item_column or default_item_column(items)
        if column is None or result.offer_groups.empty:
            raise ValueError("a cap needs an offer column to group by (e.g. category)")
        if cap_values is None:
            cap_values = list(result.offer_groups.sort_values("exposure_ratio", ascending=False)[GROUP_COLUMN].astype(str))[:1]
        values = tuple(str(v) for v in cap_values)
        if not values:
            raise ValueError(f"choose the {column} values to cap")
        return (RerankSettings("cap", 0.0, items=ItemRule(column, values)), f"exposure_parity@{k}",
                N_("exposure parity of offer groups"))
    if kind == "mmr":
        return RerankSettings("mmr", 0.0, similarity=similarity), f"diversity@{k}", N_("intra-list diversity (offer facts)")
    raise ValueError(f"re-ranking kind must be one of {', '.join(RERANK_KINDS)}, got {kind!r}")


def audit_tradeoff(
    setup: EvalSetup,
    result: AuditResult,
    template: RerankSettings,
    dataset: Dataset,
    strengths: Iterable[float] = STRENGTHS,
    progress: ProgressCallback | None = None,
) -> pd.DataFrame:
    """:func:`tradeoff_sweep` with the audit's customers (same seeded sample), columns and rule."""
    cfg = result.config
    population = sample_users(customer_universe(dataset), cfg.max_users, cfg.seed)
    return tradeoff_sweep(
        setup, template, strengths, k=result.k, users=population, items=dataset.items, customers=dataset.users,
        user_column=cfg.user_column, favourable=cfg.favourable or default_favourable(dataset.items),
        offer_k=cfg.offer_k, item_column=cfg.item_column or default_item_column(dataset.items),
        min_size=cfg.min_group_size, progress=progress,
    )


__all__ = [
    "AuditConfig", "Flag", "AuditResult", "customer_universe", "sample_users", "default_item_column",
    "audit_columns", "AuditLists", "audit_lists", "compute_audit", "audit_flags", "STRENGTHS", "tradeoff_template", "audit_tradeoff",
]
