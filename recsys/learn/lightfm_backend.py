"""Everything that touches LightFM itself: the only module of PromoLens that imports ``lightfm``.

LightFM learns one embedding and one bias per feature; this module builds its estimator from a
:class:`~recsys.learn.config.ModelConfig` (:func:`new_lightfm`), turns an aggregated weight matrix
into its training data (:func:`training_data`), copies and restores its parameters (early
stopping, loading a saved model) and grows its parameter arrays to new features while keeping the
optimiser state (:func:`grown_lightfm`), which LightFM cannot do by itself.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from lightfm import LightFM

from recsys.learn.config import ModelConfig

#: LightFM's parameter arrays, saved with every model.
PARAMS: tuple[str, ...] = ("user_embeddings", "user_biases", "item_embeddings", "item_biases")
#: LightFM's per-side optimiser state (``user_`` / ``item_`` prefix); momentum is only used by adadelta.
OPTIMISER_STATE: tuple[str, ...] = ("embedding_gradients", "embedding_momentum", "bias_gradients", "bias_momentum")


def training_data(weights: sp.csr_matrix, loss: str) -> tuple[sp.coo_matrix, sp.coo_matrix | None]:
    """LightFM's interactions (int32 COO) and sample weights from the aggregated weight matrix.

    Positives are pairs with a total weight > 0; their sample weights are the totals divided by
    their mean (only relative weights matter; this keeps the effective learning rate comparable
    to unweighted training). For the logistic loss, observed pairs with a total <= 0 become
    negatives (-1) with sample weight 1. The k-OS loss takes no sample weights.
    """
    w = weights.tocoo()
    pos = w.data > 0
    if not pos.any():
        raise ValueError(
            "no positive interactions in training: every event type has weight 0 or less "
            "(check the event weights, e.g. impressions weigh 0 by default)"
        )
    keep = pos | (loss == "logistic")
    rows, cols, data = w.row[keep].astype(np.int32), w.col[keep].astype(np.int32), w.data[keep]
    labels = np.where(data > 0, 1.0, -1.0).astype(np.float32)
    sw = np.where(data > 0, data / data[data > 0].mean(), 1.0).astype(np.float32)
    inter = sp.coo_matrix((labels, (rows, cols)), shape=weights.shape)
    if loss == "warp-kos":
        return inter, None
    return inter, sp.coo_matrix((sw, (rows, cols)), shape=weights.shape)


def copy_params(lfm: LightFM) -> dict[str, np.ndarray]:
    return {k: getattr(lfm, k).copy() for k in PARAMS}


def set_params(lfm: LightFM, params: dict[str, np.ndarray], init_optimizer: bool = False) -> None:
    if init_optimizer:  # a loaded model: give LightFM the optimiser state it checks for (unused)
        for k in PARAMS:
            arr = np.ascontiguousarray(params[k], dtype=np.float32)
            setattr(lfm, k, arr)
            setattr(lfm, k.replace("embeddings", "embedding").replace("biases", "bias") + "_gradients", np.ones_like(arr))
            setattr(lfm, k.replace("embeddings", "embedding").replace("biases", "bias") + "_momentum", np.zeros_like(arr))
        return
    for k, v in params.items():
        getattr(lfm, k)[...] = v  # in place: LightFM's optimiser arrays stay consistent


def new_lightfm(cfg: ModelConfig, random_state: int | np.random.RandomState | None = None) -> LightFM:
    """An unfitted LightFM with the config's hyper-parameters (seed: ``cfg.random_state`` by default)."""
    return LightFM(no_components=cfg.no_components, k=cfg.kos_k, n=cfg.kos_n, learning_schedule=cfg.learning_schedule,
                   loss=cfg.loss, learning_rate=cfg.learning_rate, item_alpha=cfg.item_alpha,
                   user_alpha=cfg.user_alpha, max_sampled=cfg.max_sampled,
                   random_state=cfg.random_state if random_state is None else random_state)


def grown_lightfm(
    lfm: LightFM, cfg: ModelConfig, user_map: np.ndarray, n_user_features: int,
    item_map: np.ndarray, n_item_features: int, rng: np.random.RandomState,
) -> LightFM:
    """A LightFM with more feature rows: old rows (at ``*_map``) keep parameters and optimiser
    state; new rows are initialised as ``LightFM._initialize`` does."""
    grown = new_lightfm(cfg, random_state=rng)
    d = cfg.no_components
    fresh_accumulator = 1.0 if cfg.learning_schedule == "adagrad" else 0.0
    for side, mapping, n in (("item", item_map, n_item_features), ("user", user_map, n_user_features)):
        emb = ((rng.rand(n, d) - 0.5) / d).astype(np.float32)
        emb[mapping] = getattr(lfm, f"{side}_embeddings")
        bias = np.zeros(n, dtype=np.float32)
        bias[mapping] = getattr(lfm, f"{side}_biases")
        setattr(grown, f"{side}_embeddings", emb)
        setattr(grown, f"{side}_biases", bias)
        for state in OPTIMISER_STATE:
            shape = emb.shape if state.startswith("embedding") else bias.shape
            start = fresh_accumulator if state.endswith("gradients") else 0.0
            arr = np.full(shape, start, dtype=np.float32)
            old = getattr(lfm, f"{side}_{state}", None)
            if old is not None:
                arr[mapping] = old
            setattr(grown, f"{side}_{state}", arr)
    return grown


__all__ = ["PARAMS", "OPTIMISER_STATE", "copy_params", "grown_lightfm", "new_lightfm", "set_params", "training_data"]
