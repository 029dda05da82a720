"""Integer codes of text ids, kept beside the immutable Arrow column they describe.

A stored dataset's id columns are dictionary-encoded in Parquet; reading them that way
(:func:`recsys.data.coded.read_coded_tables`) gives every row an integer code into a vocabulary
of the distinct ids, found by hashing only the distinct ids. The frames callers see are unchanged
(ids as Arrow-backed text); the codes travel beside them: :func:`attach` files an
:class:`IdCodes` under the column's Arrow data (a ``pyarrow.ChunkedArray``, immutable, so the codes
can never go stale), and :func:`codes_of` finds them again for that very column (pandas' copies
share it). A subset or a changed column is other Arrow data and simply has no codes: callers then fall back to hashing
the text (:func:`subset_rows` keeps the codes of a row subset it makes itself). Columns coded
against the same vocabulary object (a customers vocabulary shared by the interactions and the
users table) are matched by integer arithmetic alone (:func:`positions_in`).

>>> import pandas as pd, pyarrow as pa, numpy as np
>>> col = pd.Series(pd.array(["b", "a", "b"], dtype="str"))
>>> attach(col, IdCodes(pa.array(["a", "b"]), np.array([1, 0, 1], dtype=np.int32)))
>>> codes_of(col).codes.tolist(), codes_of(col[:2]) is None
([1, 0, 1], True)
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


@dataclass(frozen=True, eq=False)
class IdCodes:
    """Each row's position in ``vocabulary`` (distinct text ids), as int32; never missing.

    Two columns are comparable by code when their ``vocabulary`` is the same object.
    """

    vocabulary: pa.Array
    codes: np.ndarray

    def __post_init__(self) -> None:
        if self.codes.dtype != np.int32 or self.codes.ndim != 1:
            raise TypeError(f"codes must be a 1-d int32 array, got {self.codes.dtype} with {self.codes.ndim} dimensions")

    def __len__(self) -> int:
        return len(self.codes)

    def take(self, rows: np.ndarray) -> "IdCodes":
        """The codes of these rows (positions or a boolean mask), same vocabulary."""
        return IdCodes(self.vocabulary, self.codes[rows])

    def present(self) -> np.ndarray:
        """The vocabulary positions that occur in the rows (sorted)."""
        return np.flatnonzero(np.bincount(self.codes, minlength=len(self.vocabulary)))

    def is_unique(self) -> bool:
        """Whether no id occurs twice."""
        return len(self.codes) == 0 or int(np.bincount(self.codes, minlength=1).max()) <= 1


class _Pending:
    """Columns whose codes share one vocabulary, found on first need (one hash pass each)."""

    def __init__(self, columns: list[pa.ChunkedArray]) -> None:
        self.columns = [weakref.ref(c) for c in columns]
        self.lock = threading.Lock()
        self.done = False


# Arrow data object id -> (weak reference to it, its codes or their pending group). The weak reference
# both proves the id still names the same object and removes the entry when the column is freed.
_REGISTRY: dict[int, tuple[weakref.ref, "IdCodes | _Pending"]] = {}
_LOCK = threading.Lock()


def arrow_data(values: Any) -> pa.ChunkedArray | None:
    """The Arrow data pandas keeps for an Arrow-backed text column (the object itself), else None."""
    if isinstance(values, (pd.Series, pd.Index)):
        values = values.array
    if isinstance(getattr(values, "dtype", None), (pd.StringDtype, pd.ArrowDtype)) and hasattr(values, "__arrow_array__"):
        data = values.__arrow_array__()
        return data if isinstance(data, pa.ChunkedArray) else None
    return None


def attach(values: Any, codes: IdCodes) -> None:
    """File ``codes`` under the Arrow data of ``values`` (an Arrow-backed text column of the same length)."""
    data = arrow_data(values)
    if data is None:
        raise TypeError("codes can only be attached to an Arrow-backed text column")
    if len(data) != len(codes):
        raise ValueError(f"{len(codes):,} codes for a column of {len(data):,} rows")
    _register(data, codes)


def attach_lazily(columns: list[Any]) -> None:
    """Promise codes for these Arrow-backed text columns, in one shared vocabulary, made on first need.

    Loading stays as fast as before; the first :func:`codes_of` of any of them hashes each column
    once (:func:`hashed_codes`) and files all their codes. A column with a missing value gets none.
    """
    data = [arrow_data(c) for c in columns]
    if any(d is None for d in data):
        raise TypeError("codes can only be promised for Arrow-backed text columns")
    pending = _Pending(data)
    for d in data:
        _register(d, pending)


def _register(data: pa.ChunkedArray, value: "IdCodes | _Pending") -> None:
    key = id(data)

    def forget(_ref: weakref.ref, key: int = key) -> None:
        with _LOCK:
            entry = _REGISTRY.get(key)
            if entry is not None and entry[0] is _ref:
                del _REGISTRY[key]

    with _LOCK:
        _REGISTRY[key] = (weakref.ref(data, forget), value)


def codes_of(values: Any) -> IdCodes | None:
    """The codes attached to exactly this column's Arrow data, or None."""
    data = arrow_data(values)
    if data is None:
        return None
    with _LOCK:
        entry = _REGISTRY.get(id(data))
    if entry is None or entry[0]() is not data:
        return None
    if isinstance(entry[1], _Pending):
        _resolve(entry[1])
        with _LOCK:
            entry = _REGISTRY.get(id(data))
        if entry is None or isinstance(entry[1], _Pending):
            return None
    return entry[1]


def _resolve(pending: _Pending) -> None:
    with pending.lock:
        if pending.done:
            return
        alive = [c for c in (ref() for ref in pending.columns) if c is not None]
        for column, codes in zip(alive, hashed_codes(alive)):
            with _LOCK:
                entry = _REGISTRY.get(id(column))
                stale = entry is None or entry[0]() is not column or entry[1] is not pending
            if not stale:
                if codes is None:
                    with _LOCK:
                        _REGISTRY.pop(id(column), None)
                else:
                    _register(column, codes)
        pending.done = True


def hashed_codes(columns: list[pa.ChunkedArray]) -> list[IdCodes | None]:
    """One vocabulary for text columns, every row hashed once; the ids in order of first appearance.

    Ids of at most 15 bytes (customer numbers such as ``C000123`` or ``4711000012345``) are packed
    into integers and those are hashed: a table of integers is several times cheaper than one of
    strings. Up to 7 bytes an id and its length make one 64-bit integer (distinct ids, distinct
    integers); up to 15 bytes two, mixed into one 64-bit key, and every row is checked against the
    first of its key (two ids sharing a key, unlikely as it is, send the columns the text way).
    Columns holding a longer id are dictionary-encoded as text. Either way the same vocabulary and
    codes; None for a column with a missing value (its ids are left out of the vocabulary).

    >>> a, b = hashed_codes([pa.chunked_array([["b", "a"], ["b", ""]]), pa.chunked_array([["c", "a"]])])
    >>> a.vocabulary.to_pylist(), a.codes.tolist(), b.codes.tolist(), b.vocabulary is a.vocabulary
    (['b', 'a', '', 'c'], [0, 1, 0, 2], [3, 1], True)
    """
    whole = [c for c in columns if not c.null_count]
    coded = _packed_codes(whole)
    if coded is None:
        coded = shared_codes([pc.dictionary_encode(c) for c in whole])
    found = iter(coded)
    return [None if c.null_count else next(found) for c in columns]


_WORD = 7  # bytes of an id packed with its length into 64 bits; up to 2 * _WORD + 1 in two words
_MASKS = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)
_MIX = np.uint64(0x9E3779B97F4A7C15)  # odd: for a given high word, the key is a bijection of the low one


def _packed_codes(columns: list[pa.ChunkedArray]) -> list[IdCodes] | None:
    """:func:`hashed_codes` by packed integers, or None when an id is too long or two share a key."""
    packed = _pack(columns)
    if packed is None:
        return None
    low, high = packed
    # With one high word for every row (ids of 8 bytes, or of one length up to 15), the key is a bijection
    # of the low word: no two ids can share it, and the rows need no check.
    checked = high is None or not len(high) or bool((high == high[0]).all())
    encoded = pc.dictionary_encode(pa.array(low if high is None else low ^ (high * _MIX)))
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
    if high is None:
        keys = encoded.dictionary.to_numpy(zero_copy_only=False)
        vocabulary = _unpack(keys & _MASKS[_WORD], None, keys >> np.uint64(56))
    else:
        first = np.zeros(len(encoded.dictionary), dtype=np.int64)
        first[codes] = np.arange(len(codes))  # a row of each key (any one)
        if not checked:
            row = first[codes]
            if not (np.array_equal(low[row], low) and np.array_equal(high[row], high)):
                return None
        vocabulary = _unpack(low[first], high[first] & _MASKS[_WORD], high[first] >> np.uint64(56))
    ends = np.cumsum([len(c) for c in columns], dtype=np.int64)
    return [IdCodes(vocabulary, part) for part in np.split(codes, ends[:-1])]


def _pack(columns: list[pa.ChunkedArray]) -> tuple[np.ndarray, np.ndarray | None] | None:
    """Every id as its bytes in little-endian 64-bit words, the length in the top byte of the last one.

    (low words, None) when no id is longer than 7 bytes, (low, high) up to 15 bytes, else None. A chunk
    whose ids all have one length (customer numbers such as ``C000123``) is copied as a block into its
    words; other chunks gather each id's words from where it starts.
    """
    parts = []
    for column in columns:
        for chunk in column.chunks:
            if not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)):
                return None
            if len(chunk):
                width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
                _, offsets, data = chunk.buffers()
                offsets = np.frombuffer(offsets, width, len(chunk) + 1, chunk.offset * np.dtype(width).itemsize)
                lengths = np.diff(offsets)
                longest = int(lengths.max())
                parts.append((offsets, data, lengths, longest if int(lengths.min()) == longest else None))
    longest = max((part[3] if part[3] is not None else int(part[2].max()) for part in parts), default=0)
    if longest > 2 * _WORD + 1:
        return None
    words = 1 if longest <= _WORD else 2
    low, high = [], []
    for offsets, data, lengths, uniform in parts:
        start, size = int(offsets[0]), int(offsets[-1] - offsets[0])
        if uniform is not None:
            packed = _pack_uniform(data, start, len(lengths), uniform, words)
            low.append(packed[:, 0])
            if words == 2:
                high.append(packed[:, 1])
            continue
        padded = np.zeros(size + 16, np.uint8)  # the 16 bytes from any id's start can be read, the last one's too
        if size:
            padded[:size] = np.frombuffer(data, np.uint8, size, start)
        view = np.ndarray((size + 9,), dtype="<u8", buffer=padded, strides=(1,))  # the 8 bytes from each byte
        at, lengths = (offsets[:-1] - start).astype(np.int64), lengths.astype(np.int64)  # int64: no index copies
        tag = lengths.astype(np.uint64) << np.uint64(56)
        if words == 1:
            low.append(view[at] & _MASKS[lengths] | tag)
        else:
            low.append(view[at] & _MASKS[np.minimum(lengths, 8)])
            high.append(view[at + 8] & _MASKS[np.clip(lengths - 8, 0, _WORD)] | tag)
    empty = np.zeros(0, np.uint64)
    return (np.concatenate(low) if low else empty), (None if words == 1 else np.concatenate(high) if high else empty)


def _pack_uniform(data: pa.Buffer, start: int, n: int, length: int, words: int) -> np.ndarray:
    """n ids of ``length`` bytes each, back to back from ``start``: their words, (n, words) little-endian."""
    block = np.zeros((n, 8 * words), np.uint8)
    if length:
        block[:, :length] = np.frombuffer(data, np.uint8, n * length, start).reshape(n, length)
    block[:, -1] = length  # the length in the top byte of the last word (the id's bytes never reach it)
    return block.view("<u8")


def _unpack(low: np.ndarray, high: np.ndarray | None, lengths: np.ndarray) -> pa.Array:
    """The text ids whose bytes are in these words (``high``: bytes 9-15, if any) and these lengths."""
    words = [low] if high is None else [low, high]
    raw = np.stack(words, axis=1).astype("<u8").view(np.uint8).reshape(len(low), 8 * len(words))
    lengths = lengths.astype(np.int64)
    data = raw[np.arange(raw.shape[1]) < lengths[:, None]]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    return pa.StringArray.from_buffers(len(low), pa.py_buffer(offsets), pa.py_buffer(data.tobytes()))


def shared_codes(columns: list[pa.ChunkedArray]) -> list[IdCodes | None]:
    """One vocabulary for dictionary-encoded columns: only their dictionaries are hashed.

    None for a column with a missing value (codes never are).
    """
    # Readers and encoders hand every chunk of a column the same dictionary: each distinct one is hashed once.
    slot: dict[tuple, int] = {}
    dictionaries: list[pa.Array] = []
    for column in columns:
        for chunk in column.chunks:
            if _where(chunk.dictionary) not in slot:
                slot[_where(chunk.dictionary)] = len(dictionaries)
                dictionaries.append(chunk.dictionary.cast(pa.string()))
    merged = pc.dictionary_encode(pa.concat_arrays(dictionaries) if dictionaries else pa.array([], pa.string()))
    vocabulary = merged.dictionary
    to_vocabulary = merged.indices.to_numpy(zero_copy_only=False).astype(np.int32)
    starts = np.cumsum([0] + [len(d) for d in dictionaries])
    out: list[IdCodes | None] = []
    for column in columns:
        if column.null_count:
            out.append(None)
            continue
        parts = []
        for chunk in column.chunks:
            start = starts[slot[_where(chunk.dictionary)]]
            parts.append(to_vocabulary[start:start + len(chunk.dictionary)][chunk.indices.to_numpy(zero_copy_only=False)])
        out.append(IdCodes(vocabulary, np.concatenate(parts) if parts else np.zeros(0, np.int32)))
    return out


def _where(array: pa.Array) -> tuple:
    """Where an array's data lives: equal for the very same dictionary (shared buffers), cheap to take."""
    return (array.type, array.offset, len(array)) + tuple(None if b is None else (b.address, b.size) for b in array.buffers())


def subset_rows(frame: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """``frame`` restricted to ``rows`` (a boolean mask or positions), its columns' codes kept."""
    rows = np.asarray(rows)
    out = frame[rows] if rows.dtype == bool else frame.iloc[rows]
    for column in frame.columns:
        codes = codes_of(frame[column])
        if codes is not None:
            attach(out[column], codes.take(rows))
    return out


def positions_in(haystack: IdCodes, needles: IdCodes) -> np.ndarray | None:
    """Row of ``haystack`` holding each needle's id (-1: none), when both share a vocabulary, else None.

    ``haystack`` must not hold an id twice (its last row wins).
    """
    if haystack.vocabulary is not needles.vocabulary:
        return None
    where = np.full(len(haystack.vocabulary), -1, dtype=np.int64)
    where[haystack.codes] = np.arange(len(haystack.codes), dtype=np.int64)
    return where[needles.codes]


__all__ = ["IdCodes", "arrow_data", "attach", "attach_lazily", "codes_of", "hashed_codes", "positions_in", "shared_codes",
           "subset_rows"]
