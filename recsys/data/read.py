"""Read the user's files safely: one CSV, Parquet or Excel file into a DataFrame.

:func:`read_table` / :func:`load_table` read one CSV (any of ``, ; tab |``; UTF-8 with or without
BOM, UTF-16, Windows-1252/Latin-1; plain or ``.gz``), Parquet or Excel file. The format is found
from the content (the extension is only a hint), and size, row and memory guards refuse a file
*before* it is read when possible. Every file-level problem raises :class:`~recsys.data.validate.DataError`.
CSV reading lives in :mod:`recsys.data.csv_reader`, zip and Excel in :mod:`recsys.data.excel_reader`;
Parquet is read here.

Row numbers in messages are those a spreadsheet shows: header = row 1, first data row = row 2.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Collection, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from recsys.data.csv_reader import read_csv_file
from recsys.data.excel_reader import read_excel_file, unzip_table
from recsys.data.files import (
    BINARY_MAGIC,
    LIMIT_FIX,
    LoadedTable,
    RawFile,
    ReadLimits,
    file_error,
    size_text,
    tidy_columns,
    too_many_columns,
)
from recsys.data.validate import DataError, Problem, check_duplicate_columns, long_cell_problems

# Parquet -> pandas needs the Arrow table and the frame at once for a moment.
_CONVERSION_PEAK = 2.0

_TEXT_NOT_CSV: tuple[tuple[bytes, str], ...] = (
    (b"<!doctype html", "a web page (HTML), e.g. a download that failed"),
    (b"<html", "a web page (HTML), e.g. a download that failed"),
    (b"<?xml", "an XML document"),
    (b"{", "JSON data"),
    (b"[{", "JSON data"),
)
_COMPRESSION_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bz2"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)


def _sniff_format(raw: RawFile, head: bytes) -> tuple[str, str | None]:
    """``(format, compression)`` from the first bytes; raises for known non-table formats."""
    if head.startswith(b"PAR1"):
        return "parquet", None
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip", None
    for magic, codec in _COMPRESSION_MAGIC:
        if head.startswith(magic) and (codec != "bz2" or head[3:4].isdigit()):
            return "csv", codec
    for magic, what in BINARY_MAGIC:
        if head.startswith(magic):
            fix = ("Save it from Excel as .xlsx or CSV and import that."
                   if "xls" in what else "Export the data as CSV, Parquet or Excel (.xlsx) and import that file.")
            raise file_error(raw.name, f"this is not a data table: it is {what}", fix)
    start = head[:512].lstrip(codecs.BOM_UTF8 + b" \t\r\n").lower()
    for prefix, what in _TEXT_NOT_CSV:
        if start.startswith(prefix):
            raise file_error(raw.name, f"this is not a CSV table: it looks like {what}",
                             "Export the data as CSV, Parquet or Excel (.xlsx) and import that file.")
    return "csv", None


def _format_warning(raw: RawFile, fmt: str) -> list[Problem]:
    suffixes = raw.suffixes
    expected = {
        "parquet": {".parquet", ".pq", ".parq"},
        "excel": {".xlsx", ".xlsm"},
        "csv": {".csv", ".tsv", ".txt", ".gz", ".bz2", ".zst", ".dat", ".psv"},
    }[fmt]
    if not suffixes or any(s in expected for s in suffixes) or raw.data is not None and raw.name == "upload":
        return []
    shown = {"parquet": "a Parquet file", "excel": "an Excel workbook", "csv": "a text (CSV) file"}[fmt]
    return [Problem(raw.name, None, (), 0,
                    f"the file is named '{suffixes[-1]}' but is {shown}; it was read as such",
                    "Nothing to do; renaming the file to match its format avoids confusion.", "warning")]


def load_table(
    source: str | Path | bytes,
    name: str | None = None,
    limits: ReadLimits = ReadLimits(),
    *,
    text_columns: Collection[str] | Callable[[Sequence[str]], Collection[str]] = (),
    delimiter: str | None = None,
) -> LoadedTable:
    """Read one CSV, Parquet or Excel file; raise :class:`DataError` for file-level problems.

    Parameters
    ----------
    source
        A path or the file's bytes.
    name
        The file name shown in messages (default: the path's name, or "upload").
    limits
        Size, row and memory guards, checked before reading where possible.
    text_columns
        Columns to keep as text (ids: so that "007" stays "007"), or a function of the header
        returning them.
    delimiter
        Force a CSV delimiter instead of detecting it.

    Returns
    -------
    LoadedTable
        The frame (the user's column names, header whitespace stripped) and how it was read.
    """
    raw = RawFile.of(source, name)
    if raw.size > limits.max_file_bytes:
        raise file_error(raw.name, f"the file is {size_text(raw.size)}, over the limit of {size_text(limits.max_file_bytes)}",
                         LIMIT_FIX.format(field="max_file_bytes"))
    if raw.size == 0:
        raise file_error(raw.name, "the file is empty", "Choose the file that holds the data, or export it again.")
    head = raw.head()
    fmt, compression = _sniff_format(raw, head)
    if fmt == "parquet":
        frame, warnings = _read_parquet(raw, limits)
        loaded = LoadedTable(frame, raw.name, "parquet", raw.sha256(), raw.size, warnings=warnings)
    elif fmt == "zip":
        loaded = _read_zip(raw, limits, text_columns, delimiter)
    else:
        loaded = read_csv_file(raw, head, compression, limits, text_columns, delimiter)
    problems = long_cell_problems(loaded.frame, raw.name, limits.max_cell_chars)
    if problems:
        raise DataError(problems)
    loaded.warnings = _format_warning(raw, loaded.format) + loaded.warnings
    return loaded


def read_table(
    source: str | Path | bytes,
    name: str | None = None,
    limits: ReadLimits = ReadLimits(),
    *,
    text_columns: Collection[str] | Callable[[Sequence[str]], Collection[str]] = (),
    delimiter: str | None = None,
) -> pd.DataFrame:
    """Read one CSV / CSV.gz / TSV / Parquet / Excel file into a DataFrame.

    The format is found from the content (a Parquet file named ``.csv`` is still read); encoding
    and delimiter are detected from the first 64 KB. See :func:`load_table` for the parameters and
    for the warnings found while reading.

    Raises
    ------
    DataError
        Empty file, header only, binary junk, too big, over the memory guard, duplicate column
        names, wrong delimiter, rows with the wrong number of fields, ...

    Examples
    --------
    >>> read_table(b"user;item\\n1;a\\n2;b\\n", "orders.csv").shape
    (2, 2)
    """
    return load_table(source, name, limits, text_columns=text_columns, delimiter=delimiter).frame


# --- Parquet ----------------------------------------------------------------------------------


def _arrow_width(dtype: pa.DataType) -> float:
    """Bytes per value of an Arrow type in memory (strings: offsets + a short text)."""
    if pa.types.is_dictionary(dtype):
        return _arrow_width(dtype.value_type)
    if pa.types.is_boolean(dtype):
        return 1.0
    try:
        return max(dtype.bit_width / 8, 1.0)
    except ValueError:  # variable width
        return 16.0


def parquet_memory_estimate(metadata: pq.FileMetaData, schema: pa.Schema) -> int:
    """Bytes a Parquet file is expected to take once read, from its metadata only.

    Per column the larger of the uncompressed page size and rows x the type's width, so a
    dictionary- or run-length-encoded column that is tiny on disk still counts at full size.
    """
    n_rows = metadata.num_rows
    uncompressed = np.zeros(metadata.num_columns)
    for g in range(metadata.num_row_groups):  # metadata only: row groups x columns
        group = metadata.row_group(g)
        for c in range(group.num_columns):
            uncompressed[c] += group.column(c).total_uncompressed_size
    widths = []
    for i in range(metadata.num_columns):
        path = metadata.schema.column(i).path.split(".")[0]
        dtype = schema.field(path).type if path in schema.names else pa.string()
        widths.append(_arrow_width(dtype))
    estimate = np.maximum(uncompressed, n_rows * np.asarray(widths, dtype=float)).sum()
    return int(estimate * _CONVERSION_PEAK)


def _scalar_kind(dtype: pa.DataType) -> str | None:
    """None for a plain value type; else what the values are, in words."""
    if pa.types.is_dictionary(dtype):
        return _scalar_kind(dtype.value_type)
    if pa.types.is_struct(dtype):
        return "structs"
    if pa.types.is_map(dtype):
        return "maps"
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype) or pa.types.is_fixed_size_list(dtype):
        return "lists"
    if pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype) or pa.types.is_fixed_size_binary(dtype):
        return "binary data"
    if pa.types.is_union(dtype):
        return "mixed-type unions"
    return None


def _non_scalar_columns(schema: pa.Schema) -> list[tuple[str, str]]:
    """(column, kind) of every column that is not one plain value per cell."""
    return [(str(f.name), kind) for f in schema if (kind := _scalar_kind(f.type)) is not None]


def _read_parquet(raw: RawFile, limits: ReadLimits) -> tuple[pd.DataFrame, list[Problem]]:
    try:
        handle = pq.ParquetFile(raw.arrow_input())
    except (pa.ArrowException, OSError) as exc:
        raise file_error(raw.name, f"the Parquet file is damaged and cannot be read ({str(exc)[:120]})",
                         "Write the Parquet file again, or export the data as CSV.") from None
    names = [str(n) for n in handle.schema_arrow.names]
    if len(names) > limits.max_columns:
        raise too_many_columns(raw.name, len(names), limits)
    problems = check_duplicate_columns(names, raw.name)
    if problems:
        raise DataError(problems)
    nested = _non_scalar_columns(handle.schema_arrow)
    if nested:
        shown = ", ".join(f"'{n}' ({kind})" for n, kind in nested[:5])
        raise file_error(raw.name,
                         f"{len(nested)} column{'s' if len(nested) != 1 else ''} hold{'s' if len(nested) == 1 else ''} "
                         f"nested or binary values, not plain values: {shown}",
                         "Write one plain value per cell (text, number, date or true/false): flatten structs into "
                         "columns, join lists into text (e.g. 'a|b|c' for tags), drop binary columns, and save again.",
                         column=nested[0][0], count=len(nested))
    meta = handle.metadata
    if not names:
        raise file_error(raw.name, "the Parquet file has no columns", "Write the data into the file and try again.")
    if meta.num_rows == 0:
        raise file_error(raw.name, "the Parquet file has columns but no rows",
                         "Export the data again, including the rows, and import that file.")
    if meta.num_rows > limits.max_rows:
        raise file_error(raw.name, f"the file has {meta.num_rows:,} rows, over the limit of {limits.max_rows:,}",
                         LIMIT_FIX.format(field="max_rows"))
    estimate = parquet_memory_estimate(meta, handle.schema_arrow)
    if estimate > limits.max_memory_bytes:
        raise file_error(raw.name,
                         f"the file's {meta.num_rows:,} rows x {len(names)} columns would take about "
                         f"{size_text(estimate)} of memory once read, over the limit of {size_text(limits.max_memory_bytes)} "
                         f"(the file itself is only {size_text(raw.size)}: it is highly compressed)",
                         LIMIT_FIX.format(field="max_memory_bytes"))
    try:
        table = handle.read()
    except (pa.ArrowException, OSError) as exc:
        raise file_error(raw.name, f"the Parquet file is damaged and cannot be read ({str(exc)[:120]})",
                         "Write the Parquet file again, or export the data as CSV.") from None
    frame = table.to_pandas(split_blocks=True, self_destruct=True)
    del table
    if not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index()
    frame, warnings = tidy_columns(frame, raw.name)
    return frame, warnings


def _read_zip(
    raw: RawFile, limits: ReadLimits,
    text_columns: Collection[str] | Callable[[Sequence[str]], Collection[str]], delimiter: str | None,
) -> LoadedTable:
    """An Excel workbook, or the one CSV inside a zip archive (named and hashed as the archive)."""
    inner = unzip_table(raw, limits)
    if inner is None:
        frame, warnings = read_excel_file(raw, limits, text_columns)
        return LoadedTable(frame, raw.name, "excel", raw.sha256(), raw.size, warnings=warnings)
    loaded = load_table(inner, raw.name, limits, text_columns=text_columns, delimiter=delimiter)
    loaded.sha256, loaded.bytes = raw.sha256(), raw.size
    return loaded


__all__ = ["load_table", "read_table", "parquet_memory_estimate"]
