"""A hybrid model on disk: one ``.npz`` of arrays (never pickled) and a JSON sidecar, checked on load.

:func:`write_model` stores every array of a fitted :class:`~recsys.learn.model.HybridRecommender`
(ids, feature matrices, LightFM's parameters and optimiser state, seen items) in ``model.npz`` and
its configs, encoder states and training record in ``model.json``, with a format name, a format
version and a sha256 checksum of the arrays. :func:`read_model` refuses anything else: a missing
sidecar, a pickle or any non-zip file, another format or version, pickled objects inside the
archive (``allow_pickle=False``) and arrays that no longer match their checksum.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.core.errors import PromoLensError
from recsys.core.jsonio import dumps
from recsys.learn.config import FeatureConfig, InteractionConfig, ModelConfig
from recsys.learn.features import FeatureBuilder
from recsys.learn.interactions import IdIndex
from recsys.learn.lightfm_backend import OPTIMISER_STATE, PARAMS, new_lightfm, set_params

if TYPE_CHECKING:
    from recsys.learn.model import HybridRecommender

MODEL_FORMAT = "promolens-hybrid-lightfm"
MODEL_FORMAT_VERSION = 1
_ZIP_MAGIC = b"PK\x03\x04"
#: The sidecar keys a model needs, with their JSON types (checked before anything is built).
_REQUIRED_KEYS: dict[str, type | tuple[type, ...]] = {
    "format": str, "format_version": int, "config": dict, "features": dict, "interactions": dict,
    "user_builder": dict, "item_builder": dict, "arrays": list, "sha256": str,
}


class ModelFileError(PromoLensError, ValueError):
    """A model file that is missing, damaged, tampered with, or not a PromoLens model."""


def write_model(model: "HybridRecommender", path: str | Path) -> Path:
    """Write ``path`` (.npz, no pickled objects) and ``path`` with suffix .json (metadata).

    Returns the path of the .npz file.
    """
    npz = npz_path(path)
    arrays = model_arrays(model)
    meta = {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "model": type(model).__name__,
        "config": model.config_.to_dict(),
        "features": model.features_config_.to_dict(),
        "interactions": model.interactions_config_.to_dict(),
        "reference_time": None if model.reference_time_ is None else pd.Timestamp(model.reference_time_).isoformat(),
        "user_builder": model.user_builder_.state(),
        "item_builder": model.item_builder_.state(),
        "epochs": model.epochs_,
        "best_epoch": int(model.best_epoch_),
        "updates": list(getattr(model, "updates_", [])),
        "arrays": sorted(arrays),
        "sha256": arrays_checksum(arrays),
    }
    npz.parent.mkdir(parents=True, exist_ok=True)
    np.savez(npz, **arrays)
    npz.with_suffix(".json").write_text(dumps(meta, indent=1, sort_keys=False, strict=True), encoding="utf-8")
    return npz


def model_arrays(model: "HybridRecommender") -> dict[str, np.ndarray]:
    """Every array of a fitted hybrid model, by the name it has in the .npz file."""
    arrays: dict[str, np.ndarray] = {
        "user_ids": model.user_index_.to_array(),
        "item_ids": model.item_index_.to_array(),
        "n_warm": np.array([model.n_warm_users_, model.n_warm_items_], dtype=np.int64),
        "user_embeddings": model.user_embeddings_, "user_biases": model.user_biases_,
        "item_embeddings": model.item_embeddings_, "item_biases": model.item_biases_,
    }
    for prefix, mat in (("user_features", model.user_features_), ("item_features", model.item_features_), ("seen", model.seen_)):
        arrays.update(csr_arrays(prefix, sp.csr_matrix(mat)))
    # The optimiser state, so that an update (fit_partial) of a loaded model continues exactly
    # where training stopped. Momentum is only used by adadelta.
    states = OPTIMISER_STATE if model.config_.learning_schedule == "adadelta" else ("embedding_gradients", "bias_gradients")
    for side in ("user", "item"):
        for state in states:
            value = getattr(model.lightfm_, f"{side}_{state}", None)
            if value is not None:
                arrays[f"optimiser_{side}_{state}"] = np.asarray(value, dtype=np.float32)
    return arrays


def read_model(path: str | Path, cls: "type[HybridRecommender]") -> "HybridRecommender":
    """Load a model written by :func:`write_model` as an instance of ``cls``, refusing pickles and tampered files."""
    npz = npz_path(path)
    meta_path = npz.with_suffix(".json")
    for p in (npz, meta_path):
        if not p.is_file():
            raise ModelFileError(f"model file {p} does not exist")
    with open(npz, "rb") as fh:
        head = fh.read(4)
    if head != _ZIP_MAGIC:
        kind = "a pickle" if head[:1] == b"\x80" else "not an .npz archive"
        raise ModelFileError(f"{npz} is {kind}: PromoLens only loads its own .npz model files (never pickles)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{meta_path} is not valid JSON: {exc}") from exc
    if meta.get("format") != MODEL_FORMAT:
        raise ModelFileError(f"{meta_path} is not a PromoLens hybrid model (format {meta.get('format')!r})")
    if meta.get("format_version") != MODEL_FORMAT_VERSION:
        raise ModelFileError(
            f"{npz} has model format version {meta.get('format_version')!r}; this PromoLens reads "
            f"version {MODEL_FORMAT_VERSION}: retrain the model"
        )
    try:
        with np.load(npz, allow_pickle=False) as z:
            arrays = {name: z[name] for name in z.files}
    except ValueError as exc:
        raise ModelFileError(f"{npz} holds pickled objects and was refused: {exc}") from exc
    except Exception as exc:  # a damaged zip raises several kinds of errors
        raise ModelFileError(f"{npz} could not be read: {exc}") from exc
    missing = [k for k in _REQUIRED_KEYS if k not in meta]
    if missing:
        raise ModelFileError(f"{meta_path} lacks the key(s) {', '.join(missing)}: it is damaged or not written by PromoLens")
    wrong = [k for k, kind in _REQUIRED_KEYS.items() if not isinstance(meta[k], kind)]
    if wrong:
        raise ModelFileError(f"{meta_path} has key(s) of the wrong type: {', '.join(wrong)}; it is damaged")
    if sorted(arrays) != list(meta.get("arrays", [])) or arrays_checksum(arrays) != meta.get("sha256"):
        raise ModelFileError(f"{npz} does not match its checksum: it was changed after it was saved; refusing to load it")
    try:
        return model_from_arrays(cls, arrays, meta)
    except (KeyError, AttributeError, TypeError, ValueError, IndexError) as exc:
        raise ModelFileError(f"{npz} does not hold a complete PromoLens model ({type(exc).__name__}: {exc})") from exc


def model_from_arrays(cls: "type[HybridRecommender]", a: dict[str, np.ndarray], meta: dict[str, Any]) -> "HybridRecommender":
    """A fitted ``cls`` from the arrays and sidecar of a model file (already checked)."""
    model = cls.__new__(cls)  # subclasses may have other constructors
    model.config = ModelConfig.from_dict(meta["config"])
    model.features = FeatureConfig.from_dict(meta["features"])
    model.interactions = InteractionConfig.from_dict(meta["interactions"])
    model.config_, model.features_config_, model.interactions_config_ = model.config, model.features, model.interactions
    ref = meta.get("reference_time")
    model.reference_time_ = None if ref is None else pd.Timestamp(ref)
    model.user_index_ = IdIndex(a["user_ids"].astype(object))
    model.item_index_ = IdIndex(a["item_ids"].astype(object))
    model.n_warm_users_, model.n_warm_items_ = (int(x) for x in a["n_warm"])
    fcfg = model.features_config_
    uid = model.user_index_.ids[: model.n_warm_users_] if fcfg.user_identity else np.zeros(0, object)
    iid = model.item_index_.ids[: model.n_warm_items_] if fcfg.item_identity else np.zeros(0, object)
    model.user_builder_ = FeatureBuilder.from_state(meta["user_builder"], uid)
    model.item_builder_ = FeatureBuilder.from_state(meta["item_builder"], iid)
    model.user_features_ = csr_from(a, "user_features")
    model.item_features_ = csr_from(a, "item_features")
    model.seen_ = csr_from(a, "seen")
    lfm = new_lightfm(model.config_)
    set_params(lfm, {k: a[k] for k in PARAMS}, init_optimizer=True)
    for name in a:  # files written before the optimiser state was kept start from a fresh one
        if name.startswith("optimiser_"):
            setattr(lfm, name[len("optimiser_"):], np.ascontiguousarray(a[name], dtype=np.float32))
    model.lightfm_ = lfm
    model.epochs_ = list(meta.get("epochs", []))
    model.updates_ = list(meta.get("updates", []))
    model.best_epoch_ = int(meta.get("best_epoch", 0))
    model.cache_representations()
    return model


def npz_path(path: str | Path) -> Path:
    """``path`` with the .npz suffix (added when missing)."""
    p = Path(path)
    return p if p.suffix == ".npz" else p.with_name(p.name + ".npz")


def csr_arrays(prefix: str, mat: sp.csr_matrix) -> dict[str, np.ndarray]:
    return {
        f"{prefix}_data": np.asarray(mat.data, dtype=np.float32),
        f"{prefix}_indices": np.asarray(mat.indices, dtype=np.int64),
        f"{prefix}_indptr": np.asarray(mat.indptr, dtype=np.int64),
        f"{prefix}_shape": np.asarray(mat.shape, dtype=np.int64),
    }


def csr_from(a: dict[str, np.ndarray], prefix: str) -> sp.csr_matrix:
    shape = tuple(int(x) for x in a[f"{prefix}_shape"])
    return sp.csr_matrix((a[f"{prefix}_data"], a[f"{prefix}_indices"], a[f"{prefix}_indptr"]), shape=shape)


def arrays_checksum(arrays: dict[str, np.ndarray]) -> str:
    """sha256 over every array's name, dtype, shape and bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        arr = np.ascontiguousarray(arrays[name])
        h.update(name.encode())
        h.update(str(arr.dtype).encode())
        h.update(str(arr.shape).encode())
        h.update(arr.tobytes())
    return h.hexdigest()


__all__ = [
    "MODEL_FORMAT", "MODEL_FORMAT_VERSION", "ModelFileError", "arrays_checksum", "csr_arrays", "csr_from",
    "model_arrays", "model_from_arrays", "npz_path", "read_model", "write_model",
]
