"""Facts about customers and items found in extra columns of the interactions file.

A column is a fact about each customer (item) when it holds one value per customer (item) for
most of them, e.g. Country or Description; each gets its most frequent value. Vectorised over
(key, value) code pairs; the guess looks at a seeded sample of keys.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from recsys.core import columns as C
from recsys.core.arrays import factorize
from recsys.data.clean import ImportContext
from recsys.data.validate import Problem

# How many users/items are inspected to guess which columns are per-user/per-item facts.
_FACT_SAMPLE = 20_000
_FACT_SHARE = 0.9  # real item descriptions get renamed now and then: 94% of StockCodes keep one
_FACT_MIN_GROUPS = 10  # users or items with two or more rows needed to guess at all


def _pairs(key_codes: np.ndarray, value_codes: np.ndarray, n_values: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (key, value) code pairs with their row counts."""
    valid = (key_codes >= 0) & (value_codes >= 0)
    pair = key_codes[valid] * max(n_values, 1) + value_codes[valid]
    distinct, counts = np.unique(pair, return_counts=True)
    return distinct // max(n_values, 1), distinct % max(n_values, 1), counts


def _most_frequent(key_codes: np.ndarray, keys: pd.Index, values: pd.Series, key: str) -> pd.DataFrame:
    """Per key, its most frequent non-missing value (ties: the value seen first), vectorised."""
    value_codes, distinct_values = factorize(values)
    if isinstance(values.dtype, pd.StringDtype | pd.ArrowDtype):  # factorize gives Arrow values as object
        distinct_values = distinct_values.astype(values.dtype)
    k, v, counts = _pairs(key_codes, value_codes, len(distinct_values))
    order = np.lexsort((v, -counts, k))
    k, v = k[order], v[order]
    first = np.ones(len(k), dtype=bool)
    first[1:] = k[1:] != k[:-1]
    return pd.DataFrame({
        key: keys.take(k[first]),
        values.name: distinct_values.take(v[first]),
    })


def _guess_fact_columns(
    key_codes: np.ndarray, n_keys: int, raw: pd.DataFrame, positions: np.ndarray, candidates: Sequence[str],
) -> list[str]:
    """Columns with one value per key for most keys, judged on a sample of keys.

    ``key_codes`` are the codes of the kept rows, found at ``positions`` of ``raw``. Only keys with
    two or more rows tell anything; at least :data:`_FACT_MIN_GROUPS` of them are needed.
    """
    if n_keys > _FACT_SAMPLE:
        chosen = np.zeros(n_keys, dtype=bool)
        chosen[np.random.default_rng(0).choice(n_keys, _FACT_SAMPLE, replace=False)] = True
        in_sample = chosen[key_codes]
        key_codes, positions = key_codes[in_sample], positions[in_sample]
    rows_per_key = np.bincount(key_codes, minlength=n_keys)
    found = []
    for col in candidates:  # a loop over columns
        value_codes, distinct_values = factorize(raw[col].iloc[positions])
        if len(distinct_values) < 2:
            continue
        valid = value_codes >= 0
        k, _, _ = _pairs(key_codes, value_codes, len(distinct_values))
        n_values = np.bincount(k, minlength=n_keys)
        n_rows = np.bincount(key_codes[valid], minlength=n_keys)
        informative = (n_rows >= 2) & (rows_per_key > 0)
        if informative.sum() < _FACT_MIN_GROUPS:
            continue
        if float((n_values[informative] == 1).mean()) >= _FACT_SHARE:
            found.append(col)
    return found


def fact_table(
    ctx: ImportContext, raw: pd.DataFrame, keep: np.ndarray, id_codes: tuple[np.ndarray, pd.Index],
    chosen: tuple[str, ...] | None, excluded: set[str], key: str, file: str,
) -> pd.DataFrame | None:
    """User or item facts taken from extra columns of the interactions file (most frequent value)."""
    candidates = [c for c in raw.columns if c not in excluded]
    positions = np.flatnonzero(keep)
    if chosen is not None:
        for c in chosen:
            if c not in raw.columns:
                ctx.add(Problem(file, c, (), 0,
                                f"column '{c}' was chosen as a fact about each "
                                f"{'customer' if key == C.USER_ID else 'item'}, but the interactions file has no "
                                "such column", f"Choose among: {', '.join(candidates[:20])}."))
        chosen = tuple(c for c in chosen if c in raw.columns)
    if chosen == () or (chosen is None and not candidates):
        return None
    key_codes, keys = id_codes[0][keep], id_codes[1]
    columns = list(chosen) if chosen is not None else _guess_fact_columns(
        key_codes, len(keys), raw, positions, candidates)
    if not columns:
        return None
    facts = None
    for c in columns:  # a loop over columns
        part = _most_frequent(key_codes, keys, raw[c].iloc[positions].rename(c), key)
        facts = part if facts is None else facts.merge(part, on=key, how="outer", sort=False)
    return facts


__all__ = ["fact_table"]
