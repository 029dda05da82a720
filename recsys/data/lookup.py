"""One customer's interactions by index: the same cost at 5 million rows as at 100 thousand.

A customer's history, their already-redeemed offers, the evidence behind an explanation: each
needs the rows of one customer. Comparing every row's id with theirs reads the whole table (and
turns every id into text) each time, several times per page view. :class:`CustomerRows` instead
sorts the row positions by customer once (integer codes of the ids, a stable sort, one offset per
customer); a customer's rows are then one hash lookup and one slice, in the table's own order.

:func:`customer_rows` keeps the index of the last few interactions tables it saw, keyed by the
table itself (a weak reference: an index never outlives its table, and never serves another
table). The tables of a loaded dataset are never mutated (the app caches them as they are), so an
index built once serves every later lookup of that dataset version; a new version is a new table.

>>> import pandas as pd
>>> inter = pd.DataFrame({"user_id": ["a", "b", "a", "c"], "item_id": ["x", "y", "z", "x"]})
>>> customer_interactions(inter, "a")[["user_id", "item_id"]].values.tolist()
[['a', 'x'], ['a', 'z']]
>>> len(customer_interactions(inter, "nobody"))
0
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from recsys.core import columns as C
from recsys.core.arrays import factorize

#: Interactions tables whose index is kept (the app holds at most two datasets at once).
CACHED_TABLES = 4


class CustomerRows:
    """Row positions of an interactions table grouped by customer (ids compared as text).

    Parameters
    ----------
    interactions
        A table with a ``user_id`` column.
    """

    def __init__(self, interactions: pd.DataFrame) -> None:
        ids = interactions[C.USER_ID]
        if not (pd.api.types.is_string_dtype(ids.dtype) or isinstance(ids.dtype, pd.CategoricalDtype)):
            ids = ids.astype(str)
        codes, uniques = factorize(ids)
        self.customers = pd.Index(np.asarray(uniques, dtype=object).astype(str), dtype=object)
        counts = np.bincount(codes[codes >= 0], minlength=len(self.customers))
        self.offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        # Stable: each customer's rows keep the table's order. Missing ids (code -1) sort first and are skipped.
        order = np.argsort(codes, kind="stable")
        self.order = order[int((codes < 0).sum()):]
        self.n_rows = len(interactions)

    def positions(self, user_id: Any) -> np.ndarray:
        """Row positions (``iloc``) of ``user_id``'s interactions, in the table's order."""
        code = int(self.customers.get_indexer([str(user_id)])[0])
        if code < 0:
            return np.zeros(0, dtype=np.int64)
        return self.order[self.offsets[code]:self.offsets[code + 1]]


_CACHE: OrderedDict[int, tuple[weakref.ref[pd.DataFrame], int, CustomerRows]] = OrderedDict()
_CACHE_LOCK = threading.Lock()


def customer_rows(interactions: pd.DataFrame) -> CustomerRows:
    """The :class:`CustomerRows` of this table, built on first use and kept while the table lives."""
    key = id(interactions)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None and hit[0]() is interactions and hit[1] == len(interactions):
            _CACHE.move_to_end(key)
            return hit[2]
        index = CustomerRows(interactions)
        _CACHE[key] = (weakref.ref(interactions), len(interactions), index)
        while len(_CACHE) > CACHED_TABLES:
            _CACHE.popitem(last=False)
        return index


def customer_interactions(interactions: pd.DataFrame, user_id: Any) -> pd.DataFrame:
    """``user_id``'s rows of ``interactions`` (original index and order), found by index."""
    return take_rows(interactions, customer_rows(interactions).positions(user_id))


def take_rows(frame: pd.DataFrame, positions: np.ndarray) -> pd.DataFrame:
    """``frame.iloc[positions]`` for ascending ``positions``, in time proportional to their number.

    Arrow's take on a text column of several chunks (a table read from Parquet, or concatenated)
    first joins every chunk, which reads the whole column; such columns are taken chunk by chunk.
    """
    chunked = {name: _chunks(frame[name]) for name in frame.columns} if not frame.columns.has_duplicates else {}
    many = [name for name, c in chunked.items() if c is not None and c.num_chunks > 1]
    if not many:
        return frame.iloc[positions]
    out = frame.drop(columns=many).iloc[positions]
    for name in many:
        out[name] = pd.array(_take_chunked(chunked[name], positions), dtype=frame[name].dtype)
    return out[frame.columns]


def _chunks(column: pd.Series) -> pa.ChunkedArray | None:
    values = column.array
    if isinstance(column.dtype, pd.StringDtype | pd.ArrowDtype) and hasattr(values, "__arrow_array__"):
        arr = values.__arrow_array__()
        return arr if isinstance(arr, pa.ChunkedArray) else None
    return None


def _take_chunked(chunked: pa.ChunkedArray, positions: np.ndarray) -> pa.ChunkedArray:
    bounds = np.cumsum([0] + [len(c) for c in chunked.chunks])
    chunk_of = np.searchsorted(bounds, positions, side="right") - 1
    parts = [chunked.chunk(int(c)).take(pa.array(positions[chunk_of == c] - bounds[c])) for c in np.unique(chunk_of)]
    return pa.chunked_array(parts, type=chunked.type)


__all__ = ["CustomerRows", "customer_rows", "customer_interactions", "take_rows", "CACHED_TABLES"]
