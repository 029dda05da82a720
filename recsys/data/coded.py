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
A column read as dictionaries (files of one row group, or small dictionaries in every row group:
offers, events) gets its codes for the cost of merging the dictionaries; a column whose dictionaries
are as large as its rows (customer ids spread over many row groups) is hashed once, when training
first needs its codes (:func:`cheap_dictionaries` decides, from each file's first row group).
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

    A shared column is read as its files' dictionaries when that is cheap in every table that has
    it (:func:`cheap_dictionaries`: one row group, or small dictionaries such as the offers' and
    the events'); only the dictionaries are then hashed to merge them into one vocabulary, and each
    row's code comes from the file. Otherwise (a customer id column of many row groups, each with
    most of the customers in its dictionary, or written plain) merging would cost a hash of every
    row anyway: the column is read as plain text, as fast as before, and its codes are promised
    (:func:`recsys.core.codes.attach_lazily`), made by one hash pass when training first needs them.

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
    holders = {col: [k for k in keys if k in files and col in files[k].schema_arrow.names
                     and _is_text(files[k].schema_arrow.field(col).type)] for col, keys in shared.items()}
    from_file = {col: keys for col, keys in holders.items() if keys and all(cheap_dictionaries(paths[k], col) for k in keys)}
    tables: dict[K, pa.Table] = {}
    for key, f in files.items():
        wanted = [col for col, keys in from_file.items() if key in keys]
        tables[key] = pq.read_table(paths[key], read_dictionary=wanted) if wanted else f.read()
    codes: dict[tuple[K, str], IdCodes] = {}
    for col, keys in from_file.items():
        parts = [k for k in keys if pa.types.is_dictionary(tables[k].schema.field(col).type)]
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
    promise_codes(frames, {col: keys for col, keys in holders.items() if keys and col not in from_file})
    return frames


#: Most distinct values per row of a row group for a column to be read as its dictionaries: an offer or
#: event column repeats each value many times per row group; a customer column whose row groups each
#: hold most of the customers has about one dictionary entry per row or two.
MAX_ENTRIES_PER_ROW = 0.25


def cheap_dictionaries(path: Path, column: str) -> bool:
    """Whether reading ``column`` as its dictionaries gives codes for less than hashing every row.

    True for a file of one row group (its dictionary is the codes). Otherwise the first row group
    of the column is read as a dictionary (about 1 / row groups of the column): its distinct values
    must be at most :data:`MAX_ENTRIES_PER_ROW` of its rows. Either way the codes are the same; this
    only decides when they are made, and at what cost.

    >>> import tempfile, pandas as pd
    >>> d = Path(tempfile.mkdtemp())
    >>> many = pd.DataFrame({"user_id": [f"u{i}" for i in range(4000)], "item_id": ["a", "b"] * 2000})
    >>> many.to_parquet(d / "f.parquet", row_group_size=1000)
    >>> cheap_dictionaries(d / "f.parquet", "item_id"), cheap_dictionaries(d / "f.parquet", "user_id")
    (True, False)
    """
    file = pq.ParquetFile(path)
    if file.metadata.num_row_groups <= 1:
        return True
    if column not in file.schema_arrow.names:
        return False
    probe = pq.ParquetFile(path, read_dictionary=[column]).read_row_group(0, columns=[column]).column(0)
    if not pa.types.is_dictionary(probe.type):
        return False
    return sum(len(chunk.dictionary) for chunk in probe.chunks) <= MAX_ENTRIES_PER_ROW * max(len(probe), 1)


#: Rows per row group of a stored table: up to this many rows (16.8M; a few hundred MB, the size
#: Parquet's own guidance gives a row group) each text column has one dictionary, so its codes come
#: with the read. Larger tables get more row groups and their customers are hashed on first need.
ROW_GROUP_ROWS = 1 << 24


def write_coded_table(frame: pd.DataFrame, path: Path) -> None:
    """Store a dataset table so that reading it gives its ids' codes (:func:`read_coded_tables`).

    Its text columns are dictionary-encoded with no cap on the dictionary page (pyarrow's default
    gives up after 1 MB and writes the rest as plain text, whose codes must then be hashed), in row
    groups of :data:`ROW_GROUP_ROWS`; other columns are written plain (a dictionary of timestamps or
    amounts would be as large as the column). Same frame back from ``pandas.read_parquet``.

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> ids = [f"{i * 2654435761 % 2 ** 32:08x}{i:06d}" for i in range(100_000)]  # 1.4 MB of distinct ids
    >>> frame = pd.DataFrame({"user_id": pd.array(ids, dtype="str"), "value": np.arange(100_000.0)})
    >>> write_coded_table(frame, d / "t.parquet")
    >>> chunk = pq.ParquetFile(d / "t.parquet").metadata.row_group(0).column(0)
    >>> chunk.data_page_offset - chunk.dictionary_page_offset > 1 << 20   # more than pyarrow's 1 MB cap
    True
    >>> pd.read_parquet(d / "t.parquet").equals(frame)
    True
    """
    table = pa.Table.from_pandas(frame, preserve_index=False)
    text = [f.name for f in table.schema if _is_text(f.type)]
    pq.write_table(table, path, row_group_size=ROW_GROUP_ROWS, use_dictionary=text or False,
                   dictionary_pagesize_limit=1 << 30)


def promise_codes(frames: Mapping[K, pd.DataFrame], shared: Mapping[str, Sequence[K]]) -> None:
    """Promise codes for the ``shared`` columns (column -> tables) of these frames, one vocabulary each."""
    for col, keys in shared.items():
        columns = [frames[k][col] for k in keys if k in frames and col in frames[k].columns]
        if columns and all(arrow_data(c) is not None for c in columns):
            attach_lazily(columns)


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


__all__ = ["DATASET_CODES", "MAX_ENTRIES_PER_ROW", "cheap_dictionaries", "promise_codes", "read_coded_tables", "ROW_GROUP_ROWS", "write_coded_table"]
