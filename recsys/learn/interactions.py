"""Interactions as a weighted user x item matrix, and the id indices of its rows and columns.

Each event gets the weight of its type (:data:`recsys.core.columns.DEFAULT_EVENT_WEIGHTS`,
changeable; or the imported ``weight`` column on request), times an optional time decay
``0.5 ** (age_days / half_life_days)``. Duplicates of a user-item pair are aggregated by
**summing** their weights; pairs whose sum is > 0 are the positives. See
:func:`interaction_weights`, :func:`build_interactions` and :func:`relevant_pairs`. Everything is
vectorised over whole columns (Arrow dictionary encoding, numpy, scipy.sparse).

>>> import pandas as pd
>>> frame = pd.DataFrame({"user_id": ["a", "a", "b"], "item_id": ["x", "x", "y"], "event": ["view", "redeem", "impression"]})
>>> build_interactions(frame).matrix.toarray().tolist()
[[6.0, 0.0], [0.0, 0.0]]
>>> relevant_pairs(frame).values.tolist()
[['a', 'x']]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from recsys.core import columns as C
from recsys.core.arrays import factorize
from recsys.learn.config import InteractionConfig

_DAY = np.timedelta64(1, "D")


class IdIndex:
    """Maps external ids (strings) to integer positions 0..n-1 and back, vectorised.

    >>> idx = IdIndex.from_values(pd.Series(["b", "a", "b"]))
    >>> list(idx.ids), idx.positions(["a", "zz"]).tolist()
    (['a', 'b'], [0, -1])
    """

    def __init__(self, ids: Iterable[Any]) -> None:
        arr = np.asarray(pd.Index(ids).astype(str), dtype=object)
        self._index = pd.Index(arr, dtype=object)
        if not self._index.is_unique:
            dup = self._index[self._index.duplicated()][:5].tolist()
            raise ValueError(f"IdIndex ids must be unique; duplicated: {dup}")
        self.ids = arr
        self._arrow: pa.Array | None = None

    @classmethod
    def from_unique(cls, index: pd.Index) -> "IdIndex":
        """Wrap an index already known to be unique strings (no copy, no re-check)."""
        obj = cls.__new__(cls)
        obj._index, obj.ids, obj._arrow = index, np.asarray(index, dtype=object), None
        return obj

    @classmethod
    def from_values(cls, values: Iterable[Any]) -> "IdIndex":
        """Sorted unique ids of a column (one hash pass: pandas factorize, as Categorical does)."""
        _, uniques = pd.factorize(as_series(values), sort=True)
        return cls(pd.Index(uniques).astype(str).unique())

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def index(self) -> pd.Index:
        """The ids as a unique ``pd.Index`` (its hash table is built once and reused)."""
        return self._index

    def positions(self, values: Iterable[Any]) -> np.ndarray:
        """Integer position of each value, -1 where the id is unknown (or missing).

        Text ids are looked up by Arrow's hash table (several times faster than pandas' on millions
        of ids); other values are factorized once and only the distinct ones looked up.
        """
        arrow = arrow_strings(values)
        if arrow is not None:
            if self._arrow is None:
                self._arrow = pa.array(self.ids, type=pa.string())
            found = pc.index_in(arrow, value_set=self._arrow)
            return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        codes, uniques = factorize(as_series(values))
        if len(uniques) == 0:
            return np.full(len(codes), -1, dtype=np.int64)
        mapped = self._index.get_indexer(pd.Index(pd.Index(uniques).astype(str), dtype=object))
        return np.where(codes >= 0, mapped[np.maximum(codes, 0)], -1).astype(np.int64)

    def extend(self, values: Iterable[Any]) -> "IdIndex":
        """A new index: these ids followed by the values not yet present (in sorted order)."""
        extra = IdIndex.from_values(values).ids
        extra = extra[self._index.get_indexer(pd.Index(extra, dtype=object)) < 0]
        return IdIndex(np.concatenate([self.ids, extra]))

    def to_array(self) -> np.ndarray:
        """The ids as a fixed-width unicode array (storable with ``allow_pickle=False``)."""
        return np.asarray(self.ids, dtype=str) if len(self.ids) else np.zeros(0, dtype="<U1")


def as_series(values: Iterable[Any]) -> pd.Series:
    if isinstance(values, pd.Series):
        return values
    if isinstance(values, (np.ndarray, pd.Index, pd.api.extensions.ExtensionArray)):
        return pd.Series(values)
    return pd.Series(list(values), dtype=object)


def arrow_strings(values: Any) -> pa.Array | None:
    """The values as one Arrow string array when they are all text (or missing), else None."""
    if isinstance(values, (pd.Series, pd.Index)):
        dtype = values.dtype
        if (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow") or \
                (isinstance(dtype, pd.ArrowDtype) and pa.types.is_string(dtype.pyarrow_dtype)):
            arr = values.array.__arrow_array__()
            if isinstance(arr, pa.ChunkedArray):
                arr = arr.combine_chunks() if arr.num_chunks else pa.array([], type=pa.string())
            return arr.cast(pa.string())
        values = values.to_numpy()
    if isinstance(values, np.ndarray) and values.dtype == object:
        try:
            return pa.array(values, type=pa.string(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return None
    return None


def _index_and_positions(values: pd.Series, index: IdIndex | None) -> tuple[IdIndex, np.ndarray]:
    """The given index (or the sorted unique values) and each value's position, in one pass."""
    if index is not None:
        return index, index.positions(values)
    codes, uniques = factorize(values, sort=True)
    if codes.min(initial=0) < 0:
        raise ValueError(f"column {values.name!r} has missing ids in rows {np.flatnonzero(codes < 0)[:5].tolist()}")
    dtype = values.dtype
    if isinstance(dtype, pd.StringDtype) or (isinstance(dtype, pd.ArrowDtype) and dtype.kind in "OSU"):
        # distinct strings already: no second hash pass to check uniqueness
        return IdIndex.from_unique(pd.Index(np.asarray(uniques, dtype=object), dtype=object)), codes
    return IdIndex(pd.Index(uniques).astype(str)), codes.astype(np.int64)


def interaction_weights(
    interactions: pd.DataFrame,
    config: InteractionConfig | None = None,
    reference_time: pd.Timestamp | None = None,
) -> pd.Series:
    """Weight of every interaction row.

    ``w = base * 0.5 ** (age_days / half_life_days)``, where ``base`` is the event type's weight
    (or, with ``use_weight_column``, the row's ``weight`` when present), the decay applies only
    with a half-life, ``age_days = (reference_time - timestamp)`` in days (``reference_time``
    defaults to the latest timestamp; rows without a timestamp are not decayed) and a missing
    ``event`` counts as ``"interaction"``.
    """
    config = config or InteractionConfig()
    config.validate()
    n = len(interactions)
    if C.EVENT in interactions.columns:
        events = interactions[C.EVENT].astype("category")
        lut = config.weights()
        cats = pd.Series(events.cat.categories.astype(str), dtype=object).str.strip().str.lower()
        cat_w = cats.map(lut).fillna(config.unknown_event_weight).to_numpy(np.float64)
        codes = events.cat.codes.to_numpy()
        missing_w = lut.get(C.INTERACTION, config.unknown_event_weight)
        w = np.where(codes >= 0, cat_w[np.maximum(codes, 0)] if len(cat_w) else 0.0, missing_w)
    else:
        w = np.full(n, config.weights().get(C.INTERACTION, config.unknown_event_weight))
    w = np.asarray(w, dtype=np.float64)
    if config.use_weight_column and C.WEIGHT in interactions.columns:
        own = pd.to_numeric(interactions[C.WEIGHT], errors="coerce").to_numpy(np.float64)
        bad = ~np.isfinite(own) & ~np.isnan(own)
        if bad.any():
            raise ValueError(f"column {C.WEIGHT!r} has infinite values in rows {np.flatnonzero(bad)[:5].tolist()}")
        w = np.where(np.isnan(own), w, own)
    if config.half_life_days is not None and C.TIMESTAMP in interactions.columns:
        ts = pd.to_datetime(interactions[C.TIMESTAMP]).to_numpy("datetime64[ns]")
        ref = _reference_time(ts, reference_time)
        if ref is not None:
            age = (np.datetime64(ref, "ns") - ts) / _DAY
            decay = np.where(np.isnan(age), 1.0, 0.5 ** (np.maximum(age, 0.0) / config.half_life_days))
            w = w * decay
    return pd.Series(w, index=interactions.index, name=C.WEIGHT)


def _reference_time(ts: np.ndarray, reference_time: Any) -> pd.Timestamp | None:
    if reference_time is not None:
        return pd.Timestamp(reference_time).tz_localize(None) if pd.Timestamp(reference_time).tzinfo else pd.Timestamp(reference_time)
    if len(ts) == 0 or np.isnat(ts).all():
        return None
    return pd.Timestamp(np.nanmax(ts[~np.isnat(ts)]))


def latest_timestamp(interactions: pd.DataFrame) -> pd.Timestamp | None:
    """The latest timestamp of the interactions, or None when there is none."""
    if C.TIMESTAMP not in interactions.columns or interactions.empty:
        return None
    ts = pd.to_datetime(interactions[C.TIMESTAMP])
    return None if ts.isna().all() else pd.Timestamp(ts.max())


@dataclass
class InteractionMatrix:
    """Aggregated user x item weights plus the id indices of its rows and columns.

    ``matrix[u, i] = sum of the weights of all rows of (u, i)``; explicit entries are kept for every
    observed pair (a pair whose weights sum to 0 or less is observed but not a positive).
    """

    matrix: sp.csr_matrix
    user_index: IdIndex
    item_index: IdIndex

    def positives(self) -> sp.csr_matrix:
        """Binary matrix of the pairs with a total weight > 0."""
        m = self.matrix.copy()
        m.data = (m.data > 0).astype(np.float32)
        m.eliminate_zeros()
        return m


def build_interactions(
    interactions: pd.DataFrame,
    config: InteractionConfig | None = None,
    user_index: IdIndex | None = None,
    item_index: IdIndex | None = None,
    reference_time: pd.Timestamp | None = None,
) -> InteractionMatrix:
    """Weighted, de-duplicated user x item matrix (duplicates are summed).

    Ids come from ``user_index`` / ``item_index`` when given (rows with other ids are dropped),
    otherwise from the sorted unique ids of the data (pandas Categorical codes).
    """
    for col in (C.USER_ID, C.ITEM_ID):
        if col not in interactions.columns:
            raise ValueError(f"interactions need a {col!r} column; found {list(interactions.columns)}")
    w = interaction_weights(interactions, config, reference_time).to_numpy()
    user_index, rows = _index_and_positions(interactions[C.USER_ID], user_index)
    item_index, cols = _index_and_positions(interactions[C.ITEM_ID], item_index)
    keep = (rows >= 0) & (cols >= 0)
    if not keep.all():
        rows, cols, w = rows[keep], cols[keep], w[keep]
    shape = (len(user_index), len(item_index))
    # Sum duplicates explicitly (scipy's COO -> CSR sums them in C); every observed pair stays an
    # explicit entry, even one whose weights sum to 0.
    mat = sp.coo_matrix((w, (rows, cols)), shape=shape).tocsr()
    mat.sum_duplicates()
    return InteractionMatrix(mat, user_index, item_index)


def relevant_pairs(
    interactions: pd.DataFrame, config: InteractionConfig | None = None, reference_time: pd.Timestamp | None = None
) -> pd.DataFrame:
    """Distinct (user_id, item_id) pairs whose summed interaction weight is > 0 (the positives)."""
    w = interaction_weights(interactions, config, reference_time).to_numpy()
    pairs = pd.DataFrame({
        C.USER_ID: interactions[C.USER_ID].astype(str).to_numpy(object),
        C.ITEM_ID: interactions[C.ITEM_ID].astype(str).to_numpy(object),
        C.WEIGHT: w,
    })
    total = pairs.groupby([C.USER_ID, C.ITEM_ID], sort=True, observed=True)[C.WEIGHT].sum()
    return total[total > 0].reset_index()[[C.USER_ID, C.ITEM_ID]]


__all__ = [
    "IdIndex", "InteractionMatrix", "arrow_strings", "as_series", "build_interactions", "interaction_weights", "latest_timestamp",
    "relevant_pairs",
]
