"""ALS for implicit feedback (Hu, Koren & Volinsky, 2008) via the maintained ``implicit`` package (CPU).

The only module that imports ``implicit``. Confidence ``c_ui = 1 + alpha * x_ui`` on the binary
history matrix; ``score(u, i) = p_u · q_i`` for customers with a training history, recent popularity
for customers without one (:class:`~recsys.learn.baselines.FallbackRecommender`); offers unseen in
training have no factors and score 0 on the history part.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from recsys.learn.baselines import FallbackRecommender
from recsys.learn.config import InteractionConfig


class ALSRecommender(FallbackRecommender):
    """Implicit-feedback matrix factorisation (ALS, conjugate gradient), single-threaded and seeded.

    Parameters
    ----------
    factors, regularization, alpha, iterations
        ``implicit.cpu.als.AlternatingLeastSquares``' parameters.
    seed
        Its ``random_state`` (the run's seed): one thread, so runs are reproducible.
    fallback_days
        Window of the recent popularity given to customers without a history.
    """

    name = "als"

    def __init__(self, interactions: InteractionConfig | None = None, factors: int = 64,
                 regularization: float = 0.05, alpha: float = 10.0, iterations: int = 15, seed: int = 42,
                 fallback_days: float | None = 30.0) -> None:
        super().__init__(interactions, fallback_days)
        self.factors, self.regularization, self.alpha = factors, regularization, alpha
        self.iterations, self.seed = iterations, seed

    def _fit_history(self, history: sp.csr_matrix) -> None:
        from threadpoolctl import threadpool_limits
        from implicit.cpu.als import AlternatingLeastSquares

        x = sp.csr_matrix(history[: self.n_warm_users_, : self.n_warm_items_], dtype=np.float32)
        model = AlternatingLeastSquares(
            factors=int(self.factors), regularization=float(self.regularization), alpha=float(self.alpha),
            iterations=int(self.iterations), random_state=int(self.seed), num_threads=1,
        )
        with threadpool_limits(1, "blas"):  # implicit warns (and slows) with threaded BLAS
            model.fit(x, show_progress=False)
        self.user_factors_ = np.asarray(model.user_factors, dtype=np.float32)
        self.item_factors_ = np.asarray(model.item_factors, dtype=np.float32)

    def _history_scores(self, rows: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self.user_factors_[rows] @ self.item_factors_[items].T

    def params(self) -> dict[str, Any]:
        return {"factors": int(self.factors), "regularization": float(self.regularization),
                "alpha": float(self.alpha), "iterations": int(self.iterations)}


__all__ = ["ALSRecommender"]
