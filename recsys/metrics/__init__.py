"""Metrics of recommendation lists, all on one API (:class:`recsys.metrics.base.Metric`).

Every metric is a small frozen object with ``calc_per_user(reco, test, *, train, catalog,
item_features) -> pd.Series`` and ``calc(...) -> float`` over a ``reco`` frame of ``user_id``,
``item_id``, ``rank``.

Modules
-------
base
    The ``Metric`` base class, ``ItemFeatures``, group labels and the shared vectorised helpers
    (``check_frame``, ``top_k``, ``user_lists``, ``per_user_series``, ``train_popularity``).
ranking
    Accuracy (precision, recall, NDCG, MAP, hit rate, AUC) and the pipeline's beyond-accuracy
    metrics (coverage, novelty, popularity, intra-list diversity, personalisation).
beyond
    Diversity, exposure and calibration: embedding diversity, category entropy, miscalibration,
    the Gini coefficient of exposure, long-tail share, exposure parity, exposure by offer group.
fairness
    Group fairness of the favourable offers: favourable share, disparate impact, mean offered value.
"""

__all__ = [
    "base",
    "ranking",
    "beyond",
    "fairness",
]
