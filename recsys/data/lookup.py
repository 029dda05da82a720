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
    return interactions.iloc[customer_rows(interactions).positions(user_id)]


__all__ = ["CustomerRows", "customer_rows", "customer_interactions", "CACHED_TABLES"]
