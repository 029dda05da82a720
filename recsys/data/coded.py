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
Files written with one dictionary per column (one row group, dictionary pages not capped) give
their codes for free; others are hashed once, when training first needs the codes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Hashable, Mapping, Sequence, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from recsys.core import columns as C
from recsys.core.codes import IdCodes, arrow_data, attach, attach_lazily, shared_codes

K = TypeVar("K", bound=Hashable)

#: The coded columns of a stored dataset and the tables that share each one's vocabulary.
DATASET_CODES: dict[str, tuple[C.Table, ...]] = {
    C.USER_ID: (C.Table.INTERACTIONS, C.Table.USERS),
    C.ITEM_ID: (C.Table.INTERACTIONS, C.Table.ITEMS),
    C.EVENT: (C.Table.INTERACTIONS,),
}


def read_coded_tables(paths: Mapping[K, Path], shared: Mapping[str, Sequence[K]]) -> dict[K, pd.DataFrame]:
    """Each Parquet file as a frame; the columns of ``shared`` (column -> tables) coded by one vocabulary.

    When every file is one row group, its dictionaries are the codes (read as they are; a column
    whose dictionary the writer gave up on is hashed by the reader). Otherwise each row group has
    its own dictionary and merging them costs a hash of every row: the files are read as plain
    text, as fast as before, and the codes are promised (:func:`recsys.core.codes.attach_lazily`),
    made by one hash pass per column when training first needs them.

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
    files = {key: pq.ParquetFile(path) for key, path in paths.items()}
    from_file = all(f.metadata.num_row_groups <= 1 for f in files.values())
    tables: dict[K, pa.Table] = {}
    for key, f in files.items():
        schema = f.schema_arrow
        wanted = [col for col, keys in shared.items() if key in keys and col in schema.names
                  and _is_text(schema.field(col).type)]
        tables[key] = pq.read_table(paths[key], read_dictionary=wanted or None) if from_file else f.read()
    codes: dict[tuple[K, str], IdCodes] = {}
    if from_file:
        for col, keys in shared.items():
            parts = [k for k in keys if k in tables and col in tables[k].column_names
                     and pa.types.is_dictionary(tables[k].schema.field(col).type)]
            codes.update({(k, col): c for k, c in zip(parts, shared_codes([tables[k].column(col) for k in parts]))
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
    if not from_file:
        promise_codes(frames, shared)
    return frames


def promise_codes(frames: Mapping[K, pd.DataFrame], shared: Mapping[str, Sequence[K]]) -> None:
    """Promise codes for the ``shared`` columns (column -> tables) of these frames, one vocabulary each."""
    for col, keys in shared.items():
        columns = [frames[k][col] for k in keys if k in frames and col in frames[k].columns]
        if columns and all(arrow_data(c) is not None for c in columns):
            attach_lazily(columns)


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


__all__ = ["DATASET_CODES", "promise_codes", "read_coded_tables"]
