"""Reading a dataset's stored tables with integer codes for their id columns.

Parquet keeps text columns dictionary-encoded; pyarrow's ``read_dictionary`` hands that encoding
over instead of expanding it, so each row's code comes from the file and only the distinct ids are
hashed (to merge the dictionaries of row groups and of tables into one vocabulary). One vocabulary
per id column is shared by every table that has the column: customers by the interactions and
the users table, offers by the interactions and the items table. The frames are the ones
``pandas.read_parquet`` gives (ids as Arrow-backed text); each coded column carries its
:class:`~recsys.core.codes.IdCodes` beside it (:func:`recsys.core.codes.codes_of`), so training
starts from integer codes instead of hashing every interaction's ids again.

The codes cost 4 bytes a row per coded column; a column with a missing value is left uncoded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Hashable, Mapping, Sequence, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from recsys.core import columns as C
from recsys.core.codes import IdCodes, attach

K = TypeVar("K", bound=Hashable)

#: The coded columns of a stored dataset and the tables that share each one's vocabulary.
DATASET_CODES: dict[str, tuple[C.Table, ...]] = {
    C.USER_ID: (C.Table.INTERACTIONS, C.Table.USERS),
    C.ITEM_ID: (C.Table.INTERACTIONS, C.Table.ITEMS),
    C.EVENT: (C.Table.INTERACTIONS,),
}


def read_coded_tables(paths: Mapping[K, Path], shared: Mapping[str, Sequence[K]]) -> dict[K, pd.DataFrame]:
    """Each Parquet file as a frame; the columns of ``shared`` (column -> tables) coded by one vocabulary.

    >>> import tempfile, pandas as pd
    >>> from recsys.core.codes import codes_of
    >>> d = Path(tempfile.mkdtemp())
    >>> pd.DataFrame({"user_id": ["b", "a", "b"]}).to_parquet(d / "i.parquet")
    >>> pd.DataFrame({"user_id": ["c", "a"]}).to_parquet(d / "u.parquet")
    >>> f = read_coded_tables({"i": d / "i.parquet", "u": d / "u.parquet"}, {"user_id": ["i", "u"]})
    >>> a, b = codes_of(f["i"]["user_id"]), codes_of(f["u"]["user_id"])
    >>> a.vocabulary is b.vocabulary, a.vocabulary.take(b.codes).to_pylist()
    (True, ['c', 'a'])
    """
    tables: dict[K, pa.Table] = {}
    for key, path in paths.items():
        schema = pq.read_schema(path)
        wanted = [col for col, keys in shared.items() if key in keys and col in schema.names
                  and _is_text(schema.field(col).type)]
        tables[key] = pq.read_table(path, read_dictionary=wanted or None)
    codes: dict[tuple[K, str], IdCodes] = {}
    for col, keys in shared.items():
        parts = [k for k in keys if k in tables and col in tables[k].column_names
                 and pa.types.is_dictionary(tables[k].schema.field(col).type)]
        if parts:
            codes.update({(k, col): c for k, c in zip(parts, _shared_codes([tables[k].column(col) for k in parts]))
                          if c is not None})
    frames: dict[K, pd.DataFrame] = {}
    for key, table in tables.items():
        for i, field in enumerate(table.schema):
            if pa.types.is_dictionary(field.type):
                table = table.set_column(i, pa.field(field.name, field.type.value_type, field.nullable, field.metadata),
                                         table.column(i).cast(field.type.value_type))
        frames[key] = frame = table.to_pandas()
        for (k, col), c in codes.items():
            if k == key:
                attach(frame[col], c)
    return frames


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _shared_codes(columns: list[pa.ChunkedArray]) -> list[IdCodes | None]:
    """One vocabulary for dictionary-encoded columns: only their dictionaries are hashed.

    None for a column with a missing value (codes never are).
    """
    # The reader hands every chunk of a column the same dictionary: each distinct one is hashed once.
    slot: dict[tuple, int] = {}
    dictionaries: list[pa.Array] = []
    for column in columns:
        for chunk in column.chunks:
            if _identity(chunk.dictionary) not in slot:
                slot[_identity(chunk.dictionary)] = len(dictionaries)
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
            start = starts[slot[_identity(chunk.dictionary)]]
            parts.append(to_vocabulary[start:start + len(chunk.dictionary)][chunk.indices.to_numpy(zero_copy_only=False)])
        out.append(IdCodes(vocabulary, np.concatenate(parts) if parts else np.zeros(0, np.int32)))
    return out


def _identity(array: pa.Array) -> tuple:
    """Where an array's data lives: equal for the very same dictionary (shared buffers), cheap to take."""
    return (array.type, array.offset, len(array)) + tuple(None if b is None else (b.address, b.size) for b in array.buffers())


__all__ = ["DATASET_CODES", "read_coded_tables"]
