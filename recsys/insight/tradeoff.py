"""Held-out evaluation of re-ranked lists: accuracy against diversity and parity, per strength.

:class:`EvalSetup` is what it takes to score re-ranked lists on held-out data as a run was
evaluated (a model that has not seen the test period, the held-out pairs, the catalogue);
:func:`recsys.workspace.audit.evaluation_setup` rebuilds it for a run. :func:`tradeoff_sweep`
re-ranks one set of candidate pools at a range of strengths and measures each.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recsys.core import columns as C
from recsys.core.progress import ProgressCallback
from recsys.insight.groups import offer_rates
from recsys.insight.rerank import RerankSettings, rerank
from recsys.insight.rules import ItemRule, group_labels, item_group_labels
from recsys.metrics.base import GROUP_COLUMN, Metric
from recsys.metrics.beyond import ExposureGini, ExposureParity, LongTailShare, side_features
from recsys.metrics.fairness import FavourableShare
from recsys.metrics.ranking import NDCG, CatalogCoverage, IntraListDiversity, Precision, Recall

if TYPE_CHECKING:
    from recsys.learn.model import HybridRecommender


@dataclass
class EvalSetup:
    """What it takes to score re-ranked lists on held-out data, as the run was evaluated.

    Attributes
    ----------
    model
        A model that has not seen the test period: the run's own model when it was kept on the
        train split, else a refit on the train split with the run's config, seed and best epochs
        (what the run's evaluation fitted).
    test
        Relevant held-out pairs (``user_id``, ``item_id``), minus pairs seen in training.
    train
        Training positives (``user_id``, ``item_id``), for novelty and long-tail metrics.
    candidates
        Offers to rank (held-out offers for a cold-start split), or None for all.
    catalog
        Ids of every offer that can be recommended.
    note
        Plain words on where the model came from.
    """

    model: HybridRecommender
    test: pd.DataFrame
    train: pd.DataFrame
    candidates: np.ndarray | None
    catalog: np.ndarray
    note: str
    seconds: float = 0.0


def tradeoff_sweep(
    setup: EvalSetup,
    template: RerankSettings,
    strengths: Iterable[float],
    *,
    k: int,
    users: Iterable[Any] | None = None,
    items: pd.DataFrame | None = None,
    customers: pd.DataFrame | None = None,
    user_column: str | None = None,
    favourable: ItemRule | None = None,
    offer_k: int | None = None,
    item_column: str | None = None,
    min_size: int = 1,
    progress: ProgressCallback | None = None,
) -> pd.DataFrame:
    """Accuracy against diversity and parity, for the template re-ranking at each strength.

    The evaluation model (``setup``) recommends one pool per customer (one vectorised call);
    every strength re-ranks the same pools. Accuracy is measured on the held-out pairs of the
    customers in ``users`` (default: every customer with held-out pairs).

    Returns
    -------
    pd.DataFrame
        One row per strength: ``strength``, ``precision@k``, ``recall@k``, ``ndcg@k``,
        ``ndcg_change`` (relative to strength 0), ``diversity@k`` (by offer facts),
        ``coverage@k``, ``exposure_gini@k``, ``long_tail@k`` and, when given: ``favourable_share``,
        ``di_min`` (lowest disparate-impact ratio over customer groups of ``user_column`` with at
        least ``min_size`` customers), ``di_focus`` (lowest over the template's ``users`` groups)
        and ``exposure_parity@k`` (offer groups of ``item_column``).
    """
    report = progress or (lambda message, share: None)
    strengths = sorted({round(float(s), 6) for s in [0.0, *strengths]})
    template.validate(items, customers)
    model = setup.model
    population = np.asarray(pd.unique(pd.Series(list(users) if users is not None else setup.test[C.USER_ID], dtype=object).astype(str)), dtype=object)
    if len(population) == 0:
        raise ValueError("no customers to evaluate the re-ranking on")
    test = setup.test[setup.test[C.USER_ID].isin(population)]
    report("Scoring the candidate pools", 0.1)
    pool = model.recommend(population, k=max(int(template.pool), k), candidates=setup.candidates, unknown="cold")
    vectors = side_features(model)
    groups = group_labels(customers, user_column) if customers is not None and user_column else None
    fav_ids = favourable.item_ids(items) if favourable is not None and items is not None else None
    item_groups = item_group_labels(items, item_column) if items is not None and item_column else None
    metrics: list[Metric] = [Precision(k), Recall(k), NDCG(k), CatalogCoverage(k), ExposureGini(k), LongTailShare(k)]
    if vectors is not None:
        metrics.append(IntraListDiversity(k))
    if item_groups is not None:
        metrics.append(ExposureParity(k, item_groups=item_groups))
    rows = []
    ctx_model = model if template.kind == "mmr" else None
    for step, s in enumerate(strengths):  # a handful of points on the curve
        report(f"Re-ranking at strength {s:.2f}", 0.2 + 0.75 * step / len(strengths))
        lists = rerank(pool, replace(template, strength=s), k, items=items, users=customers, model=ctx_model,
                       vectors=vectors if template.kind == "mmr" and template.similarity == "features" else None)
        row: dict[str, Any] = {"strength": s}
        for metric in metrics:
            if isinstance(metric, (Precision, Recall, NDCG)):
                row[metric.name] = metric.calc(lists, test) if len(test) else np.nan
            else:
                row[metric.name] = metric.calc(lists, train=setup.train, catalog=setup.catalog, item_features=vectors)
        if fav_ids is not None:
            row["favourable_share"] = FavourableShare(offer_k or k, tuple(fav_ids)).calc(lists)
            if groups is not None:
                table = offer_rates(lists, groups, fav_ids, k=offer_k or k, min_size=min_size, n_boot=0)
                judged = table[table["judged"]]
                row["di_min"] = float(judged["ratio"].min()) if len(judged) else np.nan
                if template.users is not None and template.users.column == user_column:
                    focus = table[table[GROUP_COLUMN].isin(template.users.values)]
                    row["di_focus"] = float(focus["ratio"].min()) if len(focus) else np.nan
        rows.append(row)
    out = pd.DataFrame(rows)
    ndcg = NDCG(k).name
    base = out.loc[out["strength"] == 0.0, ndcg]
    out["ndcg_change"] = out[ndcg] / float(base.iloc[0]) - 1.0 if len(base) and float(base.iloc[0]) > 0 else np.nan
    out.attrs.update({"kind": template.kind, "k": k, "note": setup.note, "users": int(len(population)),
                      "test_users": int(test[C.USER_ID].nunique())})
    report("Done", 1.0)
    return out


__all__ = ["EvalSetup", "tradeoff_sweep"]
