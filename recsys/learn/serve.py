"""The best validated baseline on disk and serving it: ``.npz`` (``allow_pickle=False``) + JSON, no pickle.

When a baseline beats the hybrid on validation (:func:`recsys.learn.select.choose_production`), the
run keeps it (:func:`save_baseline`) so it can serve: :func:`load_baseline` rebuilds the fitted
model (any :class:`~recsys.learn.recommender.BaseRecommender`: ``recommend`` and ``score`` answer
exactly as before saving). The JSON sidecar names the kind, its setting and the sha256 of the
arrays; a changed file is refused.

:func:`explain_list` gives a served list its reasons: for EASE and item-kNN the exact contribution
of each history offer (the score is their sum), for the popularity models and the customers they
fall back on, the offer's popularity.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.core import columns as C
from recsys.core.errors import PromoLensError
from recsys.core.i18n import gettext as _
from recsys.core.jsonio import dumps
from recsys.learn.als import ALSRecommender
from recsys.learn.baselines import FallbackRecommender, PopularityRecommender, RecentPopularityRecommender
from recsys.learn.config import InteractionConfig
from recsys.learn.history import EASERecommender, HistoryRecommender, ItemKNNRecommender
from recsys.learn.interactions import IdIndex
from recsys.learn.recommender import BaseRecommender

FORMAT_VERSION = 1
KINDS: dict[str, type[BaseRecommender]] = {
    "ease": EASERecommender, "item_knn": ItemKNNRecommender, "als": ALSRecommender,
    "recent_popularity": RecentPopularityRecommender, "popularity": PopularityRecommender,
}
_ARRAYS = ("popularity_", "fallback_", "user_factors_", "item_factors_")
_MATRICES = ("seen_", "history_", "weights_")


class BaselineFileError(PromoLensError, ValueError):
    """A saved baseline that cannot be read (missing, changed or of an unknown kind)."""


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_baseline(model: BaseRecommender, path: str | Path) -> Path:
    """Write a fitted baseline to ``path`` (.npz) and ``path`` with suffix .json."""
    kind = next((k for k, cls in KINDS.items() if type(model) is cls), None)
    if kind is None:
        raise BaselineFileError(f"cannot save a {type(model).__name__}: only {sorted(KINDS)} are saved this way")
    path = Path(path)
    arrays: dict[str, np.ndarray] = {
        "user_ids": model.user_index_.ids.astype(str), "item_ids": model.item_index_.ids.astype(str),
        "n_warm": np.array([model.n_warm_users_, model.n_warm_items_], dtype=np.int64),
    }
    for name in _ARRAYS:
        if hasattr(model, name):
            arrays[name] = np.asarray(getattr(model, name))
    for name in _MATRICES:
        if hasattr(model, name):
            m = getattr(model, name)
            if sp.issparse(m):
                m = sp.csr_matrix(m)
                arrays.update({f"{name}data": m.data, f"{name}indices": m.indices, f"{name}indptr": m.indptr,
                               f"{name}shape": np.array(m.shape, dtype=np.int64)})
            else:
                arrays[f"{name}dense"] = np.asarray(m)
    np.savez(path, **arrays)
    params = model.params() if hasattr(model, "params") else {}
    meta = {
        "format_version": FORMAT_VERSION, "kind": kind, "params": params,
        "fallback_days": getattr(model, "fallback_days", None),
        "interactions": (getattr(model, "interactions", None) or InteractionConfig()).to_dict(),
        "reference_time": None if model.reference_time_ is None else pd.Timestamp(model.reference_time_).isoformat(),
        "sha256": _digest(path),
    }
    path.with_suffix(".json").write_text(dumps(meta, indent=1), encoding="utf-8")
    return path


def load_baseline(path: str | Path) -> BaseRecommender:
    """The baseline saved by :func:`save_baseline` (refused when missing, changed or unknown)."""
    path = Path(path)
    side = path.with_suffix(".json")
    if not path.exists() or not side.exists():
        raise BaselineFileError(f"no saved baseline at {path.name}")
    meta = json.loads(side.read_text(encoding="utf-8"))
    if meta.get("format_version") != FORMAT_VERSION or meta.get("kind") not in KINDS:
        raise BaselineFileError(f"{path.name} is not a baseline this version can read")
    if meta.get("sha256") != _digest(path):
        raise BaselineFileError(f"{path.name} was changed after it was saved: retrain the run")
    icfg = InteractionConfig.from_dict(meta["interactions"])
    cls = KINDS[meta["kind"]]
    kwargs: dict[str, Any] = dict(meta.get("params") or {})
    if issubclass(cls, FallbackRecommender):
        kwargs["fallback_days"] = meta.get("fallback_days")
    model = cls(icfg, **kwargs)  # type: ignore[call-arg]
    with np.load(path, allow_pickle=False) as z:
        model.user_index_ = IdIndex(z["user_ids"].astype(object))
        model.item_index_ = IdIndex(z["item_ids"].astype(object))
        model.n_warm_users_, model.n_warm_items_ = (int(v) for v in z["n_warm"])
        for name in _ARRAYS:
            if name in z.files:
                setattr(model, name, z[name])
        for name in _MATRICES:
            if f"{name}dense" in z.files:
                setattr(model, name, z[f"{name}dense"])
            elif f"{name}data" in z.files:
                shape = tuple(int(v) for v in z[f"{name}shape"])
                setattr(model, name, sp.csr_matrix((z[f"{name}data"], z[f"{name}indices"], z[f"{name}indptr"]), shape=shape))
    model.reference_time_ = None if meta.get("reference_time") is None else pd.Timestamp(meta["reference_time"])
    return model


def explain_list(model: BaseRecommender, user_id: Any, reco: pd.DataFrame, top: int = 3,
                 names: Callable[[np.ndarray], np.ndarray] | None = None) -> pd.Series:
    """One plain reason per listed offer (index of ``reco``).

    EASE / item-kNN, customer with a history: the history offers that add most to the score, with
    their exact share, by name when ``names`` (offer ids -> readable names) is given, else by id;
    otherwise: the offer's popularity, the whole reason of the score.
    """
    items = reco[C.ITEM_ID].astype(str).to_numpy(object)
    if isinstance(model, ALSRecommender) and model.has_history([str(user_id)])[0]:
        return pd.Series(_("customers who took what they took also took it (ALS: no per-offer breakdown)"), index=reco.index)
    if isinstance(model, HistoryRecommender) and model.has_history([str(user_id)])[0]:
        parts = model.attributions(user_id, items)
        total = parts.groupby(C.ITEM_ID)["contribution"].sum()
        parts = parts[parts["contribution"] > 0].sort_values([C.ITEM_ID, "contribution"], ascending=[True, False])
        parts = parts.groupby(C.ITEM_ID).head(top)
        # astype: when no listed offer has a positive part, the empty map keeps the ids' text dtype
        share = parts["contribution"] / parts[C.ITEM_ID].map(total).astype(float)
        before, rest = _("because they took {offer} ({share} of the score)").split("{offer}", 1)
        middle, after = rest.split("{share}", 1)  # a translation keeps the offer before its share
        took = parts["history_item"].astype(str)
        if names is not None and len(took):
            took = pd.Series(np.asarray(names(took.to_numpy(object)), dtype=object), index=took.index).astype(str)
        text = (before + took + middle
                + (100 * share).round(0).astype(int).astype(str) + "%" + after)
        reasons = text.groupby(parts[C.ITEM_ID]).agg(_("; ").join)
        return pd.Series(pd.Series(items).map(reasons).fillna(_("no history offer points to it")).to_numpy(),
                         index=reco.index)
    how = (_("recent best-seller") if isinstance(model, (RecentPopularityRecommender, FallbackRecommender))
           else _("best-seller"))
    return pd.Series(_("{how}: ranked by how many customers took it").format(how=how), index=reco.index)


def refit_like(model: BaseRecommender, interactions: pd.DataFrame, users: pd.DataFrame | None = None,
               items: pd.DataFrame | None = None) -> BaseRecommender:
    """A new model of the same kind and setting as ``model``, fitted on ``interactions`` (e.g. all of them)."""
    kind = next((k for k, cls in KINDS.items() if type(model) is cls), None)
    if kind is None:
        raise BaselineFileError(f"cannot refit a {type(model).__name__} this way")
    kwargs: dict[str, Any] = dict(model.params()) if hasattr(model, "params") else {}
    if isinstance(model, FallbackRecommender):
        kwargs["fallback_days"] = model.fallback_days
    if isinstance(model, ALSRecommender):
        kwargs["seed"] = model.seed
    fresh = KINDS[kind](model.interactions, **kwargs)  # type: ignore[call-arg]
    return fresh.fit(interactions, users=users, items=items)


__all__ = ["refit_like", "BaselineFileError", "FORMAT_VERSION", "KINDS", "explain_list", "load_baseline", "save_baseline"]
