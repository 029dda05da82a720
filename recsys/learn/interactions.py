"""Interactions as a weighted user x item matrix, and the id indices of its rows and columns.

Each event gets the weight of its type (:data:`recsys.core.columns.DEFAULT_EVENT_WEIGHTS`,
changeable; or the imported ``weight`` column on request), times an optional time decay
``0.5 ** (age_days / half_life_days)``. Duplicates of a user-item pair are aggregated by
**summing** their weights; pairs whose sum is > 0 are the positives. See
:func:`interaction_weights`, :func:`build_interactions` and :func:`relevant_pairs`. Everything is
vectorised over whole columns (Arrow dictionary encoding, numpy, scipy.sparse). Columns loaded
from a stored dataset carry integer codes (:mod:`recsys.core.codes`): then only their distinct
ids are sorted and looked up, and every row is handled as an integer; the result is the same.

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
from recsys.core.codes import IdCodes, codes_of, positions_in
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
        #: Each position's code in a vocabulary (when the ids came from coded columns), else None.
        self.codes: IdCodes | None = None

    @classmethod
    def from_unique(cls, index: pd.Index, codes: IdCodes | None = None) -> "IdIndex":
        """Wrap an index already known to be unique strings (no copy, no re-check)."""
        obj = cls.__new__(cls)
        obj._index, obj.ids, obj._arrow, obj.codes = index, np.asarray(index, dtype=object), None, codes
        return obj

    @classmethod
    def from_codes(cls, vocabulary: pa.Array, positions: np.ndarray) -> "IdIndex":
        """The ids ``vocabulary[positions]`` (distinct), in that order, remembering their codes."""
        positions = np.asarray(positions, dtype=np.int32)
        ids = vocabulary.take(pa.array(positions)).to_numpy(zero_copy_only=False) if len(positions) else np.zeros(0, object)
        return cls.from_unique(pd.Index(np.asarray(ids, dtype=object), dtype=object), IdCodes(vocabulary, positions))

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

        Coded values (:mod:`recsys.core.codes`) are matched by integer arithmetic when this index
        has codes in the same vocabulary, else only their distinct ids are looked up. Text ids are
        looked up by Arrow's hash table (several times faster than pandas' on millions of ids);
        other values are factorized once and only the distinct ones looked up.
        """
        coded = codes_of(values)
        if coded is not None:
            found = positions_in(self.codes, coded) if self.codes is not None else None
            return found if found is not None else self.positions(coded.vocabulary)[coded.codes]
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

    def head(self, n: int) -> "IdIndex":
        """The first ``n`` ids (unique already: no re-check), with their codes."""
        codes = None if self.codes is None else IdCodes(self.codes.vocabulary, self.codes.codes[:n])
        return IdIndex.from_unique(self._index[:n], codes)

    def lookup(self, other: "IdIndex") -> np.ndarray:
        """Position here of each id of ``other`` (-1: unknown); integer arithmetic when both are coded alike."""
        if self.codes is not None and other.codes is not None:
            found = positions_in(self.codes, other.codes)
            if found is not None:
                return found
        return self.positions(other.index)

    def extend(self, values: Iterable[Any]) -> "IdIndex":
        """A new index: these ids followed by the values not yet present (in sorted order)."""
        coded = codes_of(values)
        if coded is not None and self.codes is not None and coded.vocabulary is self.codes.vocabulary:
            known = np.zeros(len(coded.vocabulary), dtype=bool)
            known[self.codes.codes] = True
            extra = coded.present()
            extra = sorted_codes(coded.vocabulary, extra[~known[extra]])
            added = IdIndex.from_codes(coded.vocabulary, extra)
            return IdIndex.from_unique(pd.Index(np.concatenate([self.ids, added.ids]), dtype=object),
                                       IdCodes(coded.vocabulary, np.concatenate([self.codes.codes, added.codes.codes])))
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


def sorted_codes(vocabulary: pa.Array, positions: np.ndarray) -> np.ndarray:
    """``positions`` (into ``vocabulary``) ordered by their ids, as Arrow sorts text (by code point)."""
    positions = np.asarray(positions, dtype=np.int32)
    if len(positions) < 2:
        return positions
    return positions[pc.array_sort_indices(vocabulary.take(pa.array(positions))).to_numpy()]


def arrow_strings(values: Any) -> pa.Array | None:
    """The values as one Arrow string array when they are all text (or missing), else None."""
    if isinstance(values, pa.Array):
        return values.cast(pa.string()) if pa.types.is_string(values.type) or pa.types.is_large_string(values.type) else None
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
    coded = codes_of(values)
    if coded is not None:  # sort only the distinct ids present; every row is an integer lookup
        order = sorted_codes(coded.vocabulary, coded.present())
        rank = np.full(len(coded.vocabulary), -1, dtype=np.int32)
        rank[order] = np.arange(len(order), dtype=np.int32)
        return IdIndex.from_codes(coded.vocabulary, order), rank[coded.codes]
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
        lut = config.weights()
        coded = codes_of(interactions[C.EVENT])
        if coded is not None:  # the distinct events of a stored dataset, without hashing every row
            categories, codes = pd.Index(coded.vocabulary.to_numpy(zero_copy_only=False), dtype=object), coded.codes
        else:
            events = interactions[C.EVENT].astype("category")
            categories, codes = events.cat.categories, events.cat.codes.to_numpy()
        cats = pd.Series(categories.astype(str), dtype=object).str.strip().str.lower()
        cat_w = cats.map(lut).fillna(config.unknown_event_weight).to_numpy(np.float64)
        missing_w = lut.get(C.INTERACTION, config.unknown_event_weight)
        if coded is not None:  # never missing: one lookup, no temporary arrays of every row
            w = cat_w[codes]
        else:
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
    return pd.Series(w, index=interactions.index, name=C.WEIGHT, copy=False)  # w is ours: no copy of every row


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
    # Integer codes in text order (Arrow sorts by code point, as Python compares str), so one int64 key
    # per pair is grouped instead of two columns of Python strings; same pairs in the same (user, item)
    # order, same sums (the grouped sum adds each pair's rows in row order either way). Missing ids
    # form no pair.
    users, u_ids = factorize(interactions[C.USER_ID].astype(str), sort=True)
    items, i_ids = factorize(interactions[C.ITEM_ID].astype(str), sort=True)
    known = (users >= 0) & (items >= 0)
    width = max(len(i_ids), 1)
    key = users[known] * width + items[known]
    total = pd.Series(w[known]).groupby(key, sort=False).sum()  # hashing the keys; only the positives are sorted
    pairs = np.sort(total.index.to_numpy(np.int64)[total.to_numpy() > 0])
    return pd.DataFrame({C.USER_ID: u_ids.to_numpy(object)[pairs // width],
                         C.ITEM_ID: i_ids.to_numpy(object)[pairs % width]})


__all__ = [
    "IdIndex", "InteractionMatrix", "arrow_strings", "as_series", "build_interactions", "interaction_weights", "latest_timestamp",
    "relevant_pairs", "sorted_codes",
]
