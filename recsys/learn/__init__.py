"""recsys.learn: from interactions and facts to a trained, evaluated, updatable LightFM model.

Nothing here takes a ``Workspace``: every function takes frames, schemas, configs and models
(the workspace jobs that store runs live in :mod:`recsys.workspace.runs` and
:mod:`recsys.workspace.update`).

Catalogue
---------
:mod:`~recsys.learn.config`
    ``InteractionConfig`` (event weights, time decay), ``FeatureConfig`` (side features),
    ``ModelConfig`` (LightFM hyper-parameters): frozen, validated, round-trip through JSON.
:mod:`~recsys.learn.interactions`
    ``IdIndex`` (ids <-> positions), ``interaction_weights``, ``build_interactions`` (the weighted
    user x item matrix), ``relevant_pairs`` (the positives).
:mod:`~recsys.learn.encoders`
    One encoder per column kind (categorical, numeric, tags, boolean, date, text) and
    ``FeatureIndex`` (readable feature names).
:mod:`~recsys.learn.features`
    ``FeatureBuilder``: a users or items table -> a feature matrix, learned on training entities only.
:mod:`~recsys.learn.split`
    ``SplitConfig`` and ``split_interactions``: temporal, leave-last-n, random and cold-items splits.
:mod:`~recsys.learn.protocol`
    The one evaluation protocol: ``evaluation_split``, ``rebuild_split``, ``drop_seen``.
:mod:`~recsys.learn.recommender`
    ``BaseRecommender``: id universe, seen items and the vectorised top-k every model shares.
:mod:`~recsys.learn.model`
    ``HybridRecommender``: the LightFM hybrid model (fit, score, recommend, grow, update, save, load).
:mod:`~recsys.learn.lightfm_backend`
    The only module that imports ``lightfm``: estimator, training data, parameters, growth.
:mod:`~recsys.learn.grow`
    ``grow_model``: a trained model extended to new customers, offers and feature values.
:mod:`~recsys.learn.modelfile`
    The ``.npz`` + JSON model file with format version and checksum (``ModelFileError``).
:mod:`~recsys.learn.baselines`
    ``PopularityRecommender``, ``RandomRecommender``, ``CollaborativeRecommender``.
:mod:`~recsys.learn.pipeline`
    ``TrainConfig``, ``train_and_evaluate`` (the hybrid against the baselines, honestly) and ``fit_final``.
:mod:`~recsys.learn.update`
    ``update_model`` (grow + ``fit_partial`` with replay), ``freshness`` (fine / update / retrain),
    ``precision_on`` and ``backtest``.
"""

__all__ = [
    "baselines",
    "config",
    "encoders",
    "features",
    "grow",
    "interactions",
    "lightfm_backend",
    "model",
    "modelfile",
    "pipeline",
    "protocol",
    "recommender",
    "split",
    "update",
]
