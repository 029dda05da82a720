"""Read the user's files safely and turn them into a clean, canonical dataset.

Two layers:

* :func:`read_table` / :func:`load_table` read one CSV (any of ``, ; tab |``; UTF-8 with or without
  BOM, UTF-16, Windows-1252/Latin-1; plain or ``.gz``), Parquet or Excel file. The format is found
  from the content (the extension is only a hint), and size, row and memory guards refuse a file
  *before* it is read when possible. Every file-level problem raises :class:`~recsys.data.validate.DataError`.
* :func:`prepare_dataset` reads the interactions file and the optional users and items files,
  maps their columns onto the canonical ones (:func:`guess_mapping` + the user's overrides),
  validates them (collecting every blocking problem of every file before raising), cleans them
  with a :class:`~recsys.data.validate.CleaningReport`, finds direct identifiers and types the feature
  columns.

Row numbers in messages are those a spreadsheet shows: header = row 1, first data row = row 2.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io as _io
import json
import os
import re
import struct
import warnings as _warnings
import zipfile
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pa_compute
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from pandas.tseries.api import guess_datetime_format

from recsys.core import columns as C
from recsys.data import privacy
from recsys.data.schema import TableSchema, infer_schema
from recsys.data.validate import (
    INVISIBLE_CHARACTERS,
    CleaningReport,
    DataError,
    Problem,
    bad_share_problem,
    check_duplicate_columns,
    check_mapping,
    duplicate_key_problem,
    empty_id_problem,
    example_rows,
    invisible_id_problem,
    label,
    leading_zero_problem,
    long_cell_problems,
    long_id_problem,
    negative_problem,
    non_number_problem,
    normalise_name,
    strip_leading_zeros,
    to_number,
    visible,
)

#: Bump when cleaning changes what a given file and options produce (part of the fingerprint).
IMPORT_VERSION = 1
#: Bytes inspected to find the format, encoding and delimiter.
SNIFF_BYTES = 64 * 1024
#: Most bytes read to find the end of a very long header row (thousands of columns).
HEADER_BYTES = 16 * 1024**2
#: Delimiters recognised in CSV files, in order of preference.
DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
# Characters that separate fields in some exports but that PromoLens does not read.
_FOREIGN_SEPARATORS: tuple[str, ...] = (":", "~", "^", "#", "/")
_DELIMITER_NAMES = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "'|'", ":": "':'", "~": "'~'",
                    "^": "'^'", "#": "'#'", "/": "'/'"}
# Parquet -> pandas needs the Arrow table and the frame at once for a moment.
_CONVERSION_PEAK = 2.0
# In-memory bytes per byte of CSV text (Arrow table + frame while converting).
_CSV_EXPANSION = 2.0
# Python objects openpyxl creates per Excel cell while reading, roughly.
_EXCEL_BYTES_PER_CELL = 200
# Bytes in memory per byte of sheet XML while openpyxl reads it (a cell is ~40 bytes of XML), roughly.
_EXCEL_XML_EXPANSION = 4.0
# Parts of a zip smaller than this once unpacked are never a threat, whatever their ratio.
_UNPACKED_MIN_BYTES = 1024**2
# Sheet XML is scanned for formulas in pieces of about this size.
_XML_CHUNK = 16 * 1024**2
# How many users/items are inspected to guess which columns are per-user/per-item facts.
_FACT_SAMPLE = 20_000
_FACT_SHARE = 0.9  # real item descriptions get renamed now and then: 94% of StockCodes keep one
_FACT_MIN_GROUPS = 10  # users or items with two or more rows needed to guess at all

TableName = Literal["interactions", "users", "items"]
Source = str | Path | bytes | pd.DataFrame


def _mb(n: float) -> str:
    """A size in words: bytes, KB, MB or GB."""
    if n < 1024:
        return f"{int(n):,} bytes"
    if n < 1024**2:
        return f"{n / 1024:,.1f} KB"
    return f"{n / 1024**2:,.1f} MB" if n < 1024**3 else f"{n / 1024**3:,.2f} GB"


_PATH_SEPARATORS = re.compile(r"[/\\]")
_INVISIBLE_IN_NAME = re.compile(INVISIBLE_CHARACTERS)
_MAX_NAME_CHARS = 120


def display_name(name: str | None, default: str = "upload") -> str:
    r"""A file name safe to show and to use in messages: the last part of ``name``, made visible.

    Uploaded files arrive with a name the browser (or an attacker) chose, e.g. ``../../x.csv``.
    PromoLens never uses it as a path; it shows only its last part, with control characters and
    direction marks written out (``[U+202E]``), at most 120 characters.

    >>> display_name("../../x.csv"), display_name("C:\\Users\\ann\\orders.csv"), display_name("..")
    ('x.csv', 'orders.csv', 'upload')
    >>> display_name("invoice\u202eslx.csv")
    'invoice[U+202E]slx.csv'
    """
    if name is None:
        return default
    last = _PATH_SEPARATORS.split(str(name))[-1].strip()
    shown = _INVISIBLE_IN_NAME.sub(lambda m: f"[U+{ord(m.group()):04X}]", last)  # idempotent: no backslashes
    if shown in ("", ".", ".."):
        return default
    return shown if len(shown) <= _MAX_NAME_CHARS else shown[: _MAX_NAME_CHARS - 3] + "..."


# --- options ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadLimits:
    """Guards that refuse a file before it can exhaust the machine.

    Attributes
    ----------
    max_file_bytes
        Largest file accepted (on disk, compressed or not).
    max_rows
        Most data rows accepted.
    max_memory_bytes
        Largest estimated in-memory size while reading.
    max_columns
        Most columns accepted (checked on the header, before the rows are read).
    max_unpacked_ratio
        Largest ratio of unpacked to packed size of a part of an Excel workbook or zip archive
        (parts over 1 MB unpacked). Real workbooks pack 5-20 times; a zip bomb about 1,000 times.
    max_cell_chars
        Longest text cell accepted, in characters (an Excel cell holds 32,767).
    """

    max_file_bytes: int = 2 * 1024**3
    max_rows: int = 50_000_000
    max_memory_bytes: int = 6 * 1024**3
    max_columns: int = 1_000
    max_unpacked_ratio: float = 100.0
    max_cell_chars: int = 32_767

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ReadLimits:
        """The default limits with the overrides a deployment sets in the environment.

        ``PROMOLENS_MAX_FILE_MB``, ``PROMOLENS_MAX_MEMORY_MB``, ``PROMOLENS_MAX_ROWS`` and
        ``PROMOLENS_MAX_COLUMNS``; unset or empty variables keep the defaults. The app and the CLI
        read them on every import, so a team server can be made stricter without a code change.

        >>> ReadLimits.from_env({"PROMOLENS_MAX_ROWS": "1000"}).max_rows
        1000
        """
        environ = os.environ if environ is None else environ
        changes: dict[str, int] = {}
        for variable, field_name, scale in (
            ("PROMOLENS_MAX_FILE_MB", "max_file_bytes", 1024**2), ("PROMOLENS_MAX_MEMORY_MB", "max_memory_bytes", 1024**2),
            ("PROMOLENS_MAX_ROWS", "max_rows", 1), ("PROMOLENS_MAX_COLUMNS", "max_columns", 1),
        ):
            text = (environ.get(variable) or "").strip()
            if not text:
                continue
            try:
                value = float(text)
            except ValueError:
                raise ValueError(f"{variable}={text!r} is not a number; set it to a number or unset it") from None
            if not value > 0:
                raise ValueError(f"{variable}={text!r} must be more than 0")
            changes[field_name] = int(round(value * scale))
        return cls(**{**{f: getattr(cls(), f) for f in cls.__dataclass_fields__}, **changes})


@dataclass(frozen=True)
class ImportOptions:
    """How :func:`prepare_dataset` treats the data.

    Attributes
    ----------
    event_weights
        Weight of each event type; None uses :data:`recsys.core.columns.DEFAULT_EVENT_WEIGHTS`. Event
        names are compared in lower case; unknown events weigh 1.
    leading_zero_ids
        What to do when ids such as ``"007"`` and ``"7"`` occur in the same column: ``"error"``
        (stop and ask), ``"merge"`` (they are one id: leading zeros are removed everywhere) or
        ``"keep"`` (they are different ids).
    max_bad_share
        Unparseable or future timestamps are dropped (and reported) when they are at most this
        share of the rows; above it they block the import.
    now
        The present, for the future-date check (default: the current UTC time). One day of slack
        is allowed.
    pseudonymise_key
        When given, customer ids are replaced by keyed pseudonyms (see :mod:`recsys.data.privacy`).
    user_columns, item_columns
        Columns of the interactions file to turn into user / item facts. None guesses them: columns
        with a single value per user (item) for at least 95% of users (items), such as Country.
        ``()`` turns them off.
    limits
        The size, row and memory guards.
    delimiter
        The CSV delimiter; None detects it.
    """

    event_weights: dict[str, float] | None = None
    leading_zero_ids: Literal["error", "merge", "keep"] = "error"
    max_bad_share: float = 0.01
    now: pd.Timestamp | None = None
    pseudonymise_key: bytes | None = None
    user_columns: tuple[str, ...] | None = None
    item_columns: tuple[str, ...] | None = None
    limits: ReadLimits = field(default_factory=ReadLimits)
    delimiter: str | None = None

    def weights(self) -> dict[str, float]:
        """Event weights with lower-case event names."""
        weights = C.DEFAULT_EVENT_WEIGHTS if self.event_weights is None else self.event_weights
        return {str(k).strip().lower(): float(v) for k, v in weights.items()}

    def problems(self) -> list[Problem]:
        """Problems with the options themselves."""
        found = []
        if self.leading_zero_ids not in ("error", "merge", "keep"):
            found.append(Problem("import options", None, (), 0,
                                 f"leading_zero_ids is '{self.leading_zero_ids}'",
                                 "Use 'error', 'merge' or 'keep'."))
        if not 0.0 <= float(self.max_bad_share) <= 1.0:
            found.append(Problem("import options", None, (), 0,
                                 f"max_bad_share is {self.max_bad_share}", "Use a share between 0 and 1."))
        negative = {k: v for k, v in self.weights().items() if not v >= 0}
        if negative:
            found.append(Problem("import options", None, (), 0,
                                 f"event weights must be 0 or more, got {negative}",
                                 "Set every event weight to 0 or more."))
        if self.delimiter is not None and len(self.delimiter) != 1:
            found.append(Problem("import options", None, (), 0,
                                 f"the delimiter must be one character, got {self.delimiter!r}",
                                 "Use ',', ';', '|' or a tab, or leave it empty to detect it."))
        return found

    def fingerprint_dict(self) -> dict[str, object]:
        """The options that change what an import produces, in a JSON-friendly form."""
        return {
            "event_weights": dict(sorted(self.weights().items())),
            "leading_zero_ids": self.leading_zero_ids,
            "max_bad_share": float(self.max_bad_share),
            "now": None if self.now is None else str(pd.Timestamp(self.now)),
            "pseudonym_key": None if self.pseudonymise_key is None else privacy.key_fingerprint(self.pseudonymise_key),
            "user_columns": None if self.user_columns is None else list(self.user_columns),
            "item_columns": None if self.item_columns is None else list(self.item_columns),
            "delimiter": self.delimiter,
        }


# --- reading one file -------------------------------------------------------------------------


@dataclass
class LoadedTable:
    """One file as read, before mapping: the frame plus what was learned while reading it."""

    frame: pd.DataFrame
    name: str
    format: str  # "csv", "parquet", "excel" or "frame"
    sha256: str
    bytes: int
    encoding: str | None = None
    delimiter: str | None = None
    warnings: list[Problem] = field(default_factory=list)


def file_fingerprint(path: str | Path | bytes) -> str:
    """sha256 (hex) of a file's bytes, read in 1 MB chunks."""
    digest = hashlib.sha256()
    if isinstance(path, (bytes, bytearray, memoryview)):
        digest.update(path)
        return digest.hexdigest()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def frame_fingerprint(frame: pd.DataFrame) -> str:
    """sha256 (hex) of a DataFrame's column names, dtypes and values (vectorised hashing)."""
    digest = hashlib.sha256()
    digest.update(json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode())
    if len(frame) and len(frame.columns):
        try:
            hashed = pd.util.hash_pandas_object(frame, index=False)
        except TypeError:  # unhashable values (lists): hash their text
            hashed = pd.util.hash_pandas_object(frame.astype(str), index=False)
        digest.update(np.ascontiguousarray(hashed.to_numpy()).tobytes())
    return digest.hexdigest()


def _fail(name: str, message: str, fix: str, column: str | None = None,
          rows: tuple[int, ...] = (), count: int = 0) -> DataError:
    return DataError([Problem(name, column, rows, count, message, fix)])


_LIMIT_FIX = ("Split the file into smaller ones, drop columns you do not need, or raise the limit "
              "(ReadLimits.{field}).")


@dataclass
class _Raw:
    """A source as bytes on disk or in memory, with cheap access to its first bytes."""

    name: str
    path: Path | None
    data: bytes | None
    size: int

    @classmethod
    def of(cls, source: str | Path | bytes, name: str | None) -> _Raw:
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
            return cls(display_name(name), None, data, len(data))
        path = Path(source)
        shown = display_name(name) if name else display_name(path.name, default=str(path))
        if not path.exists():
            raise _fail(shown, f"the file {path} does not exist", "Check the path and try again.")
        if path.is_dir():
            raise _fail(shown, f"{path} is a folder, not a file", "Choose a CSV, Parquet or Excel file.")
        return cls(shown, path, None, path.stat().st_size)

    def head(self, n: int = SNIFF_BYTES) -> bytes:
        if self.data is not None:
            return self.data[:n]
        assert self.path is not None
        with open(self.path, "rb") as fh:
            return fh.read(n)

    def tail(self, n: int) -> bytes:
        if self.data is not None:
            return self.data[-n:]
        assert self.path is not None
        with open(self.path, "rb") as fh:
            fh.seek(max(0, self.size - n))
            return fh.read(n)

    def arrow_input(self) -> pa.NativeFile:
        return pa.BufferReader(self.data) if self.data is not None else pa.OSFile(str(self.path))

    def python_input(self) -> _io.BufferedIOBase:
        return _io.BytesIO(self.data) if self.data is not None else open(self.path, "rb")  # type: ignore[arg-type]

    def sha256(self) -> str:
        return file_fingerprint(self.data if self.data is not None else self.path)  # type: ignore[arg-type]

    @property
    def suffixes(self) -> list[str]:
        return [s.lower() for s in Path(self.name).suffixes]


_BINARY_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"SQLite format 3", "an SQLite database"),
    (b"\x7fELF", "a program"),
    (b"MZ", "a Windows program"),
    (b"\xd0\xcf\x11\xe0", "an old Excel 97-2003 (.xls) or other Office file"),
    (b"ARROW1", "an Arrow/Feather file"),
)
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


def _sniff_format(raw: _Raw, head: bytes) -> tuple[str, str | None]:
    """``(format, compression)`` from the first bytes; raises for known non-table formats."""
    if head.startswith(b"PAR1"):
        return "parquet", None
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip", None
    for magic, codec in _COMPRESSION_MAGIC:
        if head.startswith(magic) and (codec != "bz2" or head[3:4].isdigit()):
            return "csv", codec
    for magic, what in _BINARY_MAGIC:
        if head.startswith(magic):
            fix = ("Save it from Excel as .xlsx or CSV and import that."
                   if "xls" in what else "Export the data as CSV, Parquet or Excel (.xlsx) and import that file.")
            raise _fail(raw.name, f"this is not a data table: it is {what}", fix)
    start = head[:512].lstrip(codecs.BOM_UTF8 + b" \t\r\n").lower()
    for prefix, what in _TEXT_NOT_CSV:
        if start.startswith(prefix):
            raise _fail(raw.name, f"this is not a CSV table: it looks like {what}",
                        "Export the data as CSV, Parquet or Excel (.xlsx) and import that file.")
    return "csv", None


def _format_warning(raw: _Raw, fmt: str) -> list[Problem]:
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
    raw = _Raw.of(source, name)
    if raw.size > limits.max_file_bytes:
        raise _fail(raw.name, f"the file is {_mb(raw.size)}, over the limit of {_mb(limits.max_file_bytes)}",
                    _LIMIT_FIX.format(field="max_file_bytes"))
    if raw.size == 0:
        raise _fail(raw.name, "the file is empty", "Choose the file that holds the data, or export it again.")
    head = raw.head()
    fmt, compression = _sniff_format(raw, head)
    if fmt == "parquet":
        frame, warnings = _read_parquet(raw, limits)
        loaded = LoadedTable(frame, raw.name, "parquet", raw.sha256(), raw.size, warnings=warnings)
    elif fmt == "zip":
        loaded = _read_zip(raw, limits, text_columns, delimiter)
    else:
        loaded = _read_csv(raw, head, compression, limits, text_columns, delimiter)
    problems = long_cell_problems(loaded.frame, raw.name, limits.max_cell_chars)
    if problems:
        raise DataError(problems)
    loaded.warnings = _format_warning(raw, loaded.format) + loaded.warnings
    return loaded


def _too_many_columns(
    name: str, n_columns: int, limits: ReadLimits, where: str = "the file", at_least: bool = False,
) -> DataError:
    count = f"more than {n_columns:,}" if at_least else f"{n_columns:,}"
    return _fail(name, f"{where} has {count} columns, over the limit of {limits.max_columns:,}",
                 ("Keep only the columns PromoLens needs (customer id, item id, event, date, revenue and the facts "
                  "you want as features) and import again, or raise the limit (ReadLimits.max_columns)."),
                 rows=(1,))


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


# --- CSV --------------------------------------------------------------------------------------


def _detect_encoding(head: bytes, name: str) -> str:
    """The encoding of a text file from its first bytes; raises when the bytes are not text."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    sample = head[:4096]
    if len(sample) >= 8:
        even, odd = sample[0::2], sample[1::2]
        if odd.count(0) > 0.3 * len(odd) and even.count(0) < 0.05 * len(even):
            return "utf-16-le"
        if even.count(0) > 0.3 * len(even) and odd.count(0) < 0.05 * len(odd):
            return "utf-16-be"
    controls = sum(head.count(bytes([b])) for b in (*range(0, 9), 11, *range(14, 32), 127))
    if controls > max(2, 0.01 * len(head)):
        raise _fail(name, "this is not a text (CSV) file: it holds binary data",
                    "Choose the CSV, Parquet or Excel (.xlsx) file that holds the data; if this is an "
                    "export from another program, export it again as CSV.")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        head.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


_QUOTED = re.compile(r'"(?:[^"]|"")*"')


def _field_counts(lines: Sequence[str], delimiter: str) -> np.ndarray:
    return np.array([_QUOTED.sub('""', line).count(delimiter) for line in lines])  # a few lines only


def _sniff_delimiter(lines: Sequence[str], name: str) -> str:
    """The delimiter of a CSV from its first lines; raises when header and rows disagree."""
    header, data = lines[0], [line for line in lines[1:41] if line.strip()]
    header_counts = {d: int(_field_counts([header], d)[0]) for d in DELIMITERS}
    candidates = [d for d in DELIMITERS if header_counts[d] > 0]

    def agreement(d: str) -> float:
        return float((_field_counts(data, d) == header_counts[d]).mean()) if data else 1.0

    if candidates:
        best = max(candidates, key=lambda d: (agreement(d), header_counts[d]))
        if agreement(best) >= 0.5:
            return best
    for d in DELIMITERS:  # does another delimiter fit the data rows?
        counts = _field_counts(data, d) if data else np.array([0])
        if counts.min() > 0 and (counts == counts[0]).mean() >= 0.9 and (not candidates or d != best):
            header_by = _DELIMITER_NAMES[candidates[0]] if candidates else "nothing"
            raise _fail(
                name,
                f"the header row is separated by {header_by} but the data rows by {_DELIMITER_NAMES[d]}",
                "Save the file again with one separator throughout (e.g. commas) and import it again.",
                rows=(1, 2), count=0,
            )
    if candidates:
        return best
    for d in _FOREIGN_SEPARATORS:  # a file separated by something PromoLens does not read
        counts = _field_counts(lines[: len(data) + 1], d)
        if counts.min() > 0 and (counts == counts[0]).all():
            raise _fail(
                name,
                f"the file seems to be separated by {_DELIMITER_NAMES[d]}, which is not a CSV delimiter "
                f"(it was read as a single column '{header[:60]}')",
                "Save the file as CSV with commas, semicolons, tabs or '|' between the columns.",
                rows=(1,),
            )
    return ","


def _compressed_stream(raw: _Raw, compression: str | None) -> pa.NativeFile:
    stream = raw.arrow_input()
    return pa.CompressedInputStream(stream, compression) if compression else stream


def _head_bytes(raw: _Raw, compression: str | None, n: int) -> bytes:
    """The first ``n`` bytes of the text, unpacked when compressed."""
    if not compression:
        return raw.head(n)
    with _compressed_stream(raw, compression) as stream:
        return stream.read(n)


def _text_size_estimate(raw: _Raw, compression: str | None) -> int:
    if compression is None:
        return raw.size
    if compression == "gzip" and raw.size >= 18:
        (isize,) = struct.unpack("<I", raw.tail(4))  # the uncompressed size modulo 4 GB
        return max(isize, raw.size * 3) if raw.size > isize else isize
    return raw.size * 6


_ARROW_ENCODING = {"utf-8": "utf8", "utf-8-sig": "utf8"}


def _read_csv(
    raw: _Raw,
    head: bytes,
    compression: str | None,
    limits: ReadLimits,
    text_columns: Collection[str] | Callable[[Sequence[str]], Collection[str]],
    delimiter: str | None,
) -> LoadedTable:
    if compression:
        try:
            with _compressed_stream(raw, compression) as stream:
                head = stream.read(SNIFF_BYTES)
        except (OSError, pa.ArrowException) as exc:
            raise _fail(raw.name, f"the {compression} file is damaged and cannot be unpacked ({exc})",
                        "Compress the file again, or import the uncompressed CSV.") from None
        if head.startswith(b"PAR1") or head.startswith(b"PK\x03\x04"):
            raise _fail(raw.name, f"this is a {compression}-compressed Parquet or Excel file",
                        "Unpack it first and import the Parquet or Excel file itself.")
        for magic, what in _BINARY_MAGIC:
            if head.startswith(magic):
                raise _fail(raw.name, f"this is not a data table: it is {what}, {compression}-compressed",
                            "Export the data as CSV, Parquet or Excel (.xlsx) and import that file.")
    text_bytes = _text_size_estimate(raw, compression)
    if text_bytes * _CSV_EXPANSION > limits.max_memory_bytes:
        raise _fail(raw.name,
                    f"reading this file would need about {_mb(text_bytes * _CSV_EXPANSION)} of memory, over "
                    f"the limit of {_mb(limits.max_memory_bytes)}",
                    _LIMIT_FIX.format(field="max_memory_bytes"))
    if not head.strip(b" \t\r\n\x00" + codecs.BOM_UTF8):
        raise _fail(raw.name, "the file is empty", "Choose the file that holds the data, or export it again.")
    encoding = _detect_encoding(head, raw.name)
    wanted_bytes = SNIFF_BYTES
    complete = len(head) < wanted_bytes or len(head) == text_bytes or (compression is None and len(head) == raw.size)
    if not complete and b"\n" not in head and b"\r" not in head:  # one very long header row
        wanted_bytes = HEADER_BYTES
        head = _head_bytes(raw, compression, wanted_bytes)
        complete = len(head) < wanted_bytes or (compression is None and len(head) == raw.size)
    text = head.decode(encoding, errors="replace")
    lines = text.splitlines()
    header_cut = not complete and len(lines) == 1
    if not complete and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut
    lines = [line for line in lines if line.strip()]
    if not lines:
        raise _fail(raw.name, "the file is empty", "Choose the file that holds the data, or export it again.")
    if len(lines) == 1 and complete:
        raise _fail(raw.name, "the file has a header row but no data rows",
                    "Export the data again, including the rows, and import that file.", rows=(1,))
    delim = delimiter or _sniff_delimiter(lines, raw.name)
    header = [h for h in next(csv.reader([lines[0]], delimiter=delim))]
    if len(header) > limits.max_columns:
        raise _too_many_columns(raw.name, len(header), limits, at_least=header_cut)
    stripped = [h.strip() for h in header]
    problems = check_duplicate_columns([h for h in stripped if h], raw.name)
    if problems:
        raise DataError(problems)
    # Estimate the rows from the head, to refuse a file over the row limit before reading it.
    if not complete and len(lines) > 10:
        est_rows = text_bytes / (len("\n".join(lines).encode(encoding, errors="replace")) / len(lines))
        if est_rows > 1.5 * limits.max_rows:
            raise _fail(raw.name, f"the file has about {est_rows:,.0f} rows, over the limit of {limits.max_rows:,}",
                        _LIMIT_FIX.format(field="max_rows"))
    wanted = text_columns(stripped) if callable(text_columns) else text_columns
    wanted = set(wanted)
    column_types = {raw_name: pa.string() for raw_name, clean in zip(header, stripped, strict=True) if clean in wanted}

    arrow_encoding = _ARROW_ENCODING.get(encoding, encoding)
    warnings: list[Problem] = []
    table = _arrow_read_csv(raw, compression, delim, arrow_encoding, column_types, len(header))
    if any(pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type) for f in table.schema):
        # Not UTF-8 after all (only past the first 64 KB): read again as Windows-1252.
        table = _arrow_read_csv(raw, compression, delim, "cp1252", column_types, len(header))
        encoding = "cp1252"
        warnings.append(Problem(raw.name, None, (), 0,
                                "the file is not valid UTF-8 throughout; it was read as Windows-1252 (Latin-1)",
                                "Check accented letters in the result; save the file as UTF-8 to be sure.",
                                "warning"))
    if table.num_rows == 0:
        raise _fail(raw.name, "the file has a header row but no data rows",
                    "Export the data again, including the rows, and import that file.", rows=(1,))
    if table.num_rows > limits.max_rows:
        raise _fail(raw.name, f"the file has {table.num_rows:,} rows, over the limit of {limits.max_rows:,}",
                    _LIMIT_FIX.format(field="max_rows"))
    frame = table.to_pandas(split_blocks=True, self_destruct=True)
    del table
    frame, more = _tidy_columns(frame, raw.name)
    warnings += more
    if frame.shape[1] == 1:
        only = str(frame.columns[0])
        found = [d for d in DELIMITERS if d in only and d != delim]
        if found:
            raise _fail(raw.name,
                        f"the file was read as a single column '{only[:60]}': it seems to be separated by "
                        f"{_DELIMITER_NAMES[found[0]]}, not {_DELIMITER_NAMES.get(delim, repr(delim))}",
                        "Choose the right delimiter (or let PromoLens detect it) and import again.",
                        column=only, rows=(1,))
    return LoadedTable(frame, raw.name, "csv", raw.sha256(), raw.size, encoding, delim, warnings)


def _arrow_read_csv(
    raw: _Raw, compression: str | None, delimiter: str, encoding: str,
    column_types: dict[str, pa.DataType], n_header: int,
) -> pa.Table:
    """Read with pyarrow; rows with a wrong number of fields become one clear DataError."""
    invalid: list[tuple[int | None, int, str]] = []  # the first few bad rows
    counts = {"rows": 0}
    field_counts: set[int] = set()

    def on_invalid(row: pa_csv.InvalidRow) -> str:  # called for bad rows only
        counts["rows"] += 1
        field_counts.add(row.actual_columns)
        if len(invalid) < 5:
            invalid.append((row.number, row.actual_columns, row.text[:80]))
        return "skip"

    def attempt(newlines_in_values: bool, threads: bool) -> pa.Table:
        invalid.clear()
        field_counts.clear()
        counts["rows"] = 0
        with _compressed_stream(raw, compression) as stream:
            return pa_csv.read_csv(
                stream,
                read_options=pa_csv.ReadOptions(encoding=encoding, use_threads=threads,
                                                block_size=16 * 1024 * 1024),
                parse_options=pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=newlines_in_values,
                                                  invalid_row_handler=on_invalid),
                convert_options=pa_csv.ConvertOptions(column_types=column_types, strings_can_be_null=True),
            )

    try:
        table = attempt(False, True)
        if invalid:  # maybe quoted text with line breaks; else find the row numbers single-threaded
            table = attempt(True, True)
            if invalid:
                attempt(True, False)
    except (pa.ArrowInvalid, UnicodeDecodeError, OSError) as exc:
        message = str(exc).split("\n")[0]
        raise _fail(raw.name, f"the file could not be read as CSV ({message})",
                    "Open it in a spreadsheet program and save it again as CSV (UTF-8).") from None
    if invalid:
        numbers = tuple(n for n, _, _ in invalid if n is not None)
        fields = sorted(field_counts)[:4]
        shown = "; ".join(f"'{t}'" for _, _, t in invalid[:2])
        n_bad = counts["rows"]
        raise _fail(
            raw.name,
            f"{n_bad:,} row{'s' if n_bad != 1 else ''} {'has' if n_bad == 1 else 'have'} "
            f"{' or '.join(map(str, fields))} fields but the header has {n_header} (e.g. {shown})",
            (f"Text that contains {_DELIMITER_NAMES.get(delimiter, repr(delimiter))} must be in double quotes; "
             "fix or delete these rows, or save the file again from a spreadsheet program."),
            rows=numbers, count=n_bad,
        )
    return table


def _tidy_columns(frame: pd.DataFrame, name: str) -> tuple[pd.DataFrame, list[Problem]]:
    """Column names as text with surrounding whitespace removed; unnamed columns get a name."""
    names = [str(c).strip() for c in frame.columns]
    warnings = []
    unnamed = [i for i, n in enumerate(names) if not n or re.fullmatch(r"Unnamed: \d+", n)]
    drop = [i for i in unnamed if frame.iloc[:, i].isna().all()]
    for i in unnamed:
        if i not in drop:
            names[i] = f"column_{i + 1}"
    if [i for i in unnamed if i not in drop]:
        warnings.append(Problem(name, None, (1,), 0,
                                f"{len(unnamed) - len(drop)} column(s) have no name in the header; they are "
                                f"called {', '.join(names[i] for i in unnamed if i not in drop)}",
                                "Give every column a name in the header row.", "warning"))
    problems = check_duplicate_columns([n for i, n in enumerate(names) if i not in drop], name)
    if problems:
        raise DataError(problems)
    frame = frame.set_axis(names, axis=1)
    if drop:
        frame = frame.drop(columns=[names[i] for i in drop])
    return frame, warnings


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


def _read_parquet(raw: _Raw, limits: ReadLimits) -> tuple[pd.DataFrame, list[Problem]]:
    try:
        handle = pq.ParquetFile(raw.arrow_input())
    except (pa.ArrowException, OSError) as exc:
        raise _fail(raw.name, f"the Parquet file is damaged and cannot be read ({str(exc)[:120]})",
                    "Write the Parquet file again, or export the data as CSV.") from None
    names = [str(n) for n in handle.schema_arrow.names]
    if len(names) > limits.max_columns:
        raise _too_many_columns(raw.name, len(names), limits)
    problems = check_duplicate_columns(names, raw.name)
    if problems:
        raise DataError(problems)
    meta = handle.metadata
    if not names:
        raise _fail(raw.name, "the Parquet file has no columns", "Write the data into the file and try again.")
    if meta.num_rows == 0:
        raise _fail(raw.name, "the Parquet file has columns but no rows",
                    "Export the data again, including the rows, and import that file.")
    if meta.num_rows > limits.max_rows:
        raise _fail(raw.name, f"the file has {meta.num_rows:,} rows, over the limit of {limits.max_rows:,}",
                    _LIMIT_FIX.format(field="max_rows"))
    estimate = parquet_memory_estimate(meta, handle.schema_arrow)
    if estimate > limits.max_memory_bytes:
        raise _fail(raw.name,
                    f"the file's {meta.num_rows:,} rows x {len(names)} columns would take about "
                    f"{_mb(estimate)} of memory once read, over the limit of {_mb(limits.max_memory_bytes)} "
                    f"(the file itself is only {_mb(raw.size)}: it is highly compressed)",
                    _LIMIT_FIX.format(field="max_memory_bytes"))
    try:
        table = handle.read()
    except (pa.ArrowException, OSError) as exc:
        raise _fail(raw.name, f"the Parquet file is damaged and cannot be read ({str(exc)[:120]})",
                    "Write the Parquet file again, or export the data as CSV.") from None
    frame = table.to_pandas(split_blocks=True, self_destruct=True)
    del table
    if not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index()
    frame, warnings = _tidy_columns(frame, raw.name)
    return frame, warnings


# --- Excel and zip ----------------------------------------------------------------------------


def _read_zip(
    raw: _Raw, limits: ReadLimits,
    text_columns: Collection[str] | Callable[[Sequence[str]], Collection[str]], delimiter: str | None,
) -> LoadedTable:
    try:
        with raw.python_input() as fh, zipfile.ZipFile(fh) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            names = [m.filename for m in members]
            is_excel = any(n.startswith("xl/") for n in names)
            _check_unpacked_sizes(raw.name, members, limits, is_excel)
            if not is_excel:
                is_excel = False
                tables = [m for m in members if Path(m.filename).suffix.lower() in {".csv", ".tsv", ".txt"}
                          and not Path(m.filename).name.startswith(".")]
                if "mimetype" in names and archive.read("mimetype").startswith(b"application/vnd.oasis"):
                    raise _fail(raw.name, "this is an OpenDocument (LibreOffice) file",
                                "Save it as Excel (.xlsx) or CSV and import that.")
                if len(tables) != 1:
                    raise _fail(raw.name, f"this is a zip archive with {len(names)} files, not one table",
                                "Unpack it and import the CSV, Parquet or Excel file itself.")
                member = tables[0]
                if member.file_size > limits.max_file_bytes:
                    raise _fail(raw.name, f"the CSV inside the zip is {_mb(member.file_size)}, over the "
                                f"limit of {_mb(limits.max_file_bytes)}", _LIMIT_FIX.format(field="max_file_bytes"))
                if member.file_size * _CSV_EXPANSION > limits.max_memory_bytes:
                    raise _fail(raw.name, f"reading the CSV inside the zip would need about "
                                f"{_mb(member.file_size * _CSV_EXPANSION)} of memory, over the limit of "
                                f"{_mb(limits.max_memory_bytes)}", _LIMIT_FIX.format(field="max_memory_bytes"))
                inner = archive.read(member)
    except zipfile.BadZipFile:
        raise _fail(raw.name, "the file looks like a zip archive or Excel workbook but is damaged",
                    "Save or export it again and import the new file.") from None
    if is_excel:
        frame, warnings = _read_excel(raw, limits, text_columns)
        return LoadedTable(frame, raw.name, "excel", raw.sha256(), raw.size, warnings=warnings)
    loaded = load_table(inner, raw.name, limits, text_columns=text_columns, delimiter=delimiter)
    loaded.sha256, loaded.bytes = raw.sha256(), raw.size
    return loaded


def _check_unpacked_sizes(name: str, members: Sequence[zipfile.ZipInfo], limits: ReadLimits, excel: bool) -> None:
    """Refuse a zip bomb from the sizes the archive declares, before anything is unpacked.

    Python's zipfile never unpacks more than a part's declared size, so the declared sizes bound
    what reading can cost.
    """
    what = "Excel workbook" if excel else "zip archive"
    for member in members:  # a loop over the archive's parts
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > _UNPACKED_MIN_BYTES and ratio > limits.max_unpacked_ratio:
            raise _fail(
                name,
                f"part '{visible(member.filename)}' of this {what} unpacks from {_mb(member.compress_size)} to "
                f"{_mb(member.file_size)} ({ratio:,.0f} times its packed size; real workbooks pack 5 to 20 times): "
                "it looks like a zip bomb, a file made to exhaust the memory of whoever opens it, and it was not "
                "unpacked",
                ("If you made this file, open it in Excel and save it again, or save the sheet as CSV and import "
                 "that; otherwise delete it. (The limit is ReadLimits.max_unpacked_ratio.)"),
            )
    unpacked = sum(m.file_size for m in members)
    if excel and unpacked * _EXCEL_XML_EXPANSION > limits.max_memory_bytes:
        raise _fail(name, f"the workbook unpacks to {_mb(unpacked)}; reading it would need about "
                    f"{_mb(unpacked * _EXCEL_XML_EXPANSION)} of memory, over the limit of {_mb(limits.max_memory_bytes)}",
                    "Save the sheet as CSV (or Parquet) and import that: both read much faster. "
                    + _LIMIT_FIX.format(field="max_memory_bytes"))


# One formula cell of sheet XML: <c r="B3" ...><f>A3*2</f><v>42</v></c> (the <v> cached result may be absent).
_FORMULA_CELL = re.compile(
    rb'<(?:\w+:)?c\b([^>]*?)(?<!/)>\s*<(?:\w+:)?f\b[^>]*?(?:/>|>([^<]*)</(?:\w+:)?f>)\s*'
    rb'(?:<(?:\w+:)?v\s*/>|<(?:\w+:)?v>([^<]*)</(?:\w+:)?v>)?'
)
_ANY_FORMULA = re.compile(rb"<(?:\w+:)?f[\s/>]")
_CELL_REF = re.compile(rb'\br="([A-Z]{1,3})([0-9]+)"')


def _column_number(letters: np.ndarray) -> np.ndarray:
    """Excel column letters ("A", "AB") -> 0-based column numbers, vectorised."""
    padded = np.char.rjust(letters.astype("U3"), 3)
    codes = padded.view(np.uint32).reshape(-1, 3).astype(np.int64)
    digits = np.where(codes == ord(" "), 0, codes - ord("A") + 1)
    return digits[:, 0] * 676 + digits[:, 1] * 26 + digits[:, 2] - 1


def _formula_cells(fh: _io.BufferedIOBase) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Formula cells of one sheet's XML: column numbers, row numbers, whether a result was saved,
    and the formula texts. Read in pieces that end at a row boundary; the regex does the work."""
    columns, rows, saved, texts = [], [], [], []
    carry = b""
    while True:
        chunk = fh.read(_XML_CHUNK)
        data = carry + chunk
        cut = len(data) if not chunk else data.rfind(b"row>") + 4
        if chunk and cut < 4:  # no row boundary yet: read on
            carry = data
            continue
        part, carry = data[:cut], data[cut:]
        if _ANY_FORMULA.search(part):
            found = _FORMULA_CELL.findall(part)
            refs = [_CELL_REF.search(attrs) for attrs, _, _ in found]
            columns += [r.group(1).decode() if r else "" for r in refs]
            rows += [int(r.group(2)) if r else 0 for r in refs]
            saved += [bool(value.strip()) for _, _, value in found]
            texts += [formula.decode("utf-8", "replace") for _, formula, _ in found]
        if not chunk:
            break
    letters = np.array(columns, dtype="U3")
    numbers = np.where(letters == "", -1, _column_number(letters)) if len(letters) else np.zeros(0, np.int64)
    return numbers, np.array(rows, dtype=np.int64), np.array(saved, dtype=bool), texts


def _formula_problems(raw: _Raw, sheet: str, sheet_path: str | None, names: Sequence[str]) -> list[Problem]:
    """Formulas in the sheet: an error for those without a saved result, else one warning.

    PromoLens reads the results the spreadsheet program saved (what Excel shows) and never runs a
    formula; a formula without a saved result (files written by scripts) has no value to read.
    """
    from xml.sax.saxutils import unescape

    with raw.python_input() as fh, zipfile.ZipFile(fh) as archive:
        paths = [sheet_path] if sheet_path in archive.namelist() else [
            n for n in archive.namelist() if n.startswith("xl/worksheets/") and n.endswith(".xml")]
        found = [_formula_cells(archive.open(p)) for p in paths]  # a loop over sheets (usually one)
    columns = np.concatenate([f[0] for f in found]) if found else np.zeros(0, np.int64)
    if len(columns) == 0:
        return []
    rows = np.concatenate([f[1] for f in found])
    saved = np.concatenate([f[2] for f in found])
    texts = [t for f in found for t in f[3]]

    def column_name(number: int) -> str | None:
        return names[number] or None if 0 <= number < len(names) else None

    problems = []
    unsaved = ~saved
    for number in pd.unique(columns[unsaved])[:20]:  # a loop over columns
        in_column = unsaved & (columns == number)
        positions = np.flatnonzero(in_column)
        example = unescape(texts[positions[0]])[:40]
        name = column_name(int(number))
        problems.append(Problem(
            raw.name, name, tuple(int(r) for r in rows[positions][:5] if r > 0), int(in_column.sum()),
            (f"sheet '{sheet}': {int(in_column.sum()):,} cell{'s' if in_column.sum() != 1 else ''} of "
             f"{f'column {name!r}' if name else 'a column without a name'} hold{'s' if in_column.sum() == 1 else ''} "
             f"a formula (e.g. ={visible(example)}) with no saved result, so "
             f"{'its value is' if in_column.sum() == 1 else 'their values are'} unknown; PromoLens reads the "
             "results a spreadsheet program saved and never runs formulas"),
            ("Open the workbook in Excel or LibreOffice and save it (that stores every formula's result), or "
             "copy the cells and paste them as values, then import again."),
        ))
    if not problems:
        named = [n for n in (column_name(int(c)) for c in pd.unique(columns)[:3]) if n]
        problems.append(Problem(
            raw.name, None, (), int(len(columns)),
            (f"sheet '{sheet}' has {len(columns):,} formula cell{'s' if len(columns) != 1 else ''}"
             + (f" (in {', '.join(repr(n) for n in named)})" if named else "")
             + "; the results saved in the workbook were read, the formulas themselves were neither run nor kept"),
            "Nothing to do if the workbook was saved after its last change; otherwise open it and save it again.",
            "warning",
        ))
    return problems


def _read_excel(
    raw: _Raw, limits: ReadLimits,
    text_columns: Collection[str] | Callable[[Sequence[str]], Collection[str]],
) -> tuple[pd.DataFrame, list[Problem]]:
    import openpyxl  # only needed for Excel files

    warnings: list[Problem] = []
    try:
        with raw.python_input() as fh:
            book = openpyxl.load_workbook(fh, read_only=True, data_only=True)
            try:
                sheets = []
                for ws in book.worksheets:  # a loop over sheets
                    if ws.max_row is None:  # no stored dimension: count the rows once
                        ws.calculate_dimension(force=True)
                    sheets.append((ws.title, ws.max_row or 0, ws.max_column or 0))
                chosen = next((s for s in sheets if s[1] > 0), None)
                header: list[object] = []
                second: list[object] = []
                sheet_path = None
                if chosen is not None:
                    sheet_path = getattr(book[chosen[0]], "_worksheet_path", None)  # openpyxl's, read-only mode
                    rows = book[chosen[0]].iter_rows(min_row=1, max_row=2, values_only=True)
                    header = list(next(rows, ()))
                    second = list(next(rows, ()))
            finally:
                book.close()
    except Exception as exc:  # openpyxl raises many kinds of errors for damaged files
        raise _fail(raw.name, f"the Excel file is damaged or protected and cannot be read ({str(exc)[:120]})",
                    "Open it in Excel, save it again as .xlsx (without a password) or as CSV, and import "
                    "that.") from None
    if chosen is None or not any(v is not None for v in header):
        raise _fail(raw.name, "the Excel workbook is empty", "Choose the workbook that holds the data.")
    sheet, n_rows, n_cols = chosen
    width = max((i + 1 for i, v in enumerate(header) if v is not None), default=0)
    if width > limits.max_columns:
        raise _too_many_columns(raw.name, width, limits, where=f"sheet '{sheet}'")
    if not any(v is not None for v in second):
        raise _fail(raw.name, f"sheet '{sheet}' has a header row but no data rows",
                    "Put the data under the header row and import again.", rows=(1,))
    others = [s[0] for s in sheets if s[0] != sheet and s[1] > 0]
    if others:
        warnings.append(Problem(raw.name, None, (), 0,
                                f"the workbook has several sheets; sheet '{sheet}' was read and "
                                f"{', '.join(repr(o) for o in others)} ignored",
                                "Put the data in the first sheet, or save that sheet as its own file.", "warning"))
    if n_rows - 1 > limits.max_rows:
        raise _fail(raw.name, f"sheet '{sheet}' has {n_rows - 1:,} rows, over the limit of {limits.max_rows:,}",
                    _LIMIT_FIX.format(field="max_rows"))
    estimate = n_rows * max(n_cols, len(header)) * _EXCEL_BYTES_PER_CELL
    if estimate > limits.max_memory_bytes:
        raise _fail(raw.name, f"reading sheet '{sheet}' ({n_rows:,} rows x {n_cols} columns) would need about "
                    f"{_mb(estimate)} of memory, over the limit of {_mb(limits.max_memory_bytes)}",
                    _LIMIT_FIX.format(field="max_memory_bytes"))
    names = ["" if v is None else str(v).strip() for v in header]
    problems = check_duplicate_columns([n for n in names if n], raw.name)
    if problems:
        raise DataError(problems)
    formulas = _formula_problems(raw, sheet, sheet_path, names)
    errors = [p for p in formulas if p.severity == "error"]
    if errors:
        raise DataError(errors)
    warnings += formulas
    # Excel keeps text cells as text ("007" stays "007"), so text_columns need no special reading;
    # numeric ids come back as numbers and are normalised after mapping.
    with raw.python_input() as fh, _warnings.catch_warnings():
        _warnings.simplefilter("ignore")  # openpyxl warns about styles and data validation
        frame = pd.read_excel(fh, sheet_name=sheet, engine="openpyxl", header=0)
    frame, more = _tidy_columns(frame, raw.name)
    frame = frame.dropna(how="all")
    return frame, warnings + more


# --- mapping ----------------------------------------------------------------------------------

# Canonical columns also matched when a column name *ends with* one of their (long) aliases,
# e.g. "web_customer_id" -> user_id, "purchase_date" -> timestamp.
_SUFFIX_MATCHED = (C.USER_ID, C.ITEM_ID, C.TIMESTAMP, C.ORDER_ID)
_SUFFIX_ENDINGS = ("id", "no", "number", "code", "date", "time", "timestamp", "datetime")


def guess_mapping(columns: Sequence[str], table: C.Table | str) -> dict[str, str]:
    """Guess which of the user's columns hold the canonical ones.

    Names are compared after lower-casing and removing everything but letters and digits, against
    :data:`recsys.core.columns.ALIASES`. Aliases are tried in order (``customerid`` before ``customer``);
    each user column is used at most once.

    Parameters
    ----------
    columns
        The user's column names.
    table
        Which table the file is.

    Returns
    -------
    dict
        canonical name -> the user's column name, for every column that could be guessed.

    Examples
    --------
    >>> guess_mapping(["InvoiceNo", "StockCode", "InvoiceDate", "CustomerID"], "interactions")
    {'user_id': 'CustomerID', 'item_id': 'StockCode', 'timestamp': 'InvoiceDate', 'order_id': 'InvoiceNo'}
    """
    table = C.Table(table)
    columns = [str(c) for c in columns]
    normalised = [normalise_name(c) for c in columns]
    used: set[str] = set()
    mapping: dict[str, str] = {}
    for canonical in C.MAPPABLE_COLUMNS[table]:
        aliases = (normalise_name(canonical), *C.ALIASES.get(canonical, ()))
        choice = next(
            (col for alias in aliases for col, norm in zip(columns, normalised, strict=True)
             if norm == alias and col not in used),
            None,
        )
        if choice is None and canonical in _SUFFIX_MATCHED:
            long_aliases = [a for a in aliases if len(a) >= 4 and a.endswith(_SUFFIX_ENDINGS)]
            choice = next(
                (col for alias in long_aliases for col, norm in zip(columns, normalised, strict=True)
                 if norm.endswith(alias) and col not in used),
                None,
            )
        if choice is not None:
            mapping[canonical] = choice
            used.add(choice)
    return mapping


def resolve_mapping(
    columns: Sequence[str], table: C.Table | str, overrides: Mapping[str, str | None] | None = None,
) -> dict[str, str]:
    """The guessed mapping with the user's overrides applied.

    An override maps a canonical column to one of the user's columns; ``None`` or ``""`` unmaps it.
    A column the user assigns explicitly is removed from any other guessed role.
    """
    mapping = guess_mapping(columns, table)
    for canonical, theirs in (overrides or {}).items():
        if theirs is None or theirs == "":
            mapping.pop(canonical, None)
            continue
        for other in [k for k, v in mapping.items() if v == theirs and k != canonical]:
            if other not in (overrides or {}):
                mapping.pop(other)
        mapping[canonical] = str(theirs)
    return mapping


# --- the dataset ------------------------------------------------------------------------------


@dataclass
class SourceInfo:
    """One file that went into a dataset."""

    table: str
    name: str
    sha256: str
    bytes: int
    rows: int

    def to_dict(self) -> dict[str, object]:
        return {"table": self.table, "name": self.name, "sha256": self.sha256, "bytes": self.bytes, "rows": self.rows}


@dataclass
class PreparedDataset:
    """A clean, canonical dataset ready for the workspace.

    Attributes
    ----------
    interactions
        Exactly :data:`recsys.core.columns.INTERACTION_COLUMNS`: ``user_id``/``item_id`` text, ``event``
        text, ``timestamp`` datetime64[ns] (NaT everywhere when the file has no time column),
        ``weight`` float64, ``value`` float64 (NaN when unknown).
    users, items
        The id column + feature columns (from the users/items file and/or facts taken from the
        interactions file). Empty (id column only) when there are none. Direct identifiers stay in
        these frames but are typed IDENTIFIER: never features, never exported.
    user_schema, item_schema
        Typed feature columns.
    mapping
        table -> canonical column -> the user's column.
    report
        What cleaning did, with counts.
    warnings
        Non-blocking problems.
    sources
        The files read.
    identifiers
        table -> column -> why it is a direct identifier.
    fingerprint
        sha256 over the source hashes, the mapping and the options (stable across runs).
    """

    interactions: pd.DataFrame
    users: pd.DataFrame
    items: pd.DataFrame
    user_schema: TableSchema
    item_schema: TableSchema
    mapping: dict[str, dict[str, str]]
    report: CleaningReport
    warnings: list[Problem]
    sources: list[SourceInfo]
    identifiers: dict[str, dict[str, str]]
    fingerprint: str
    user_facts: tuple[str, ...] = ()
    item_facts: tuple[str, ...] = ()


_TEXT_ROLES = (C.USER_ID, C.ITEM_ID, C.ORDER_ID)


def _load_any(
    source: Source, name: str, table: C.Table, overrides: Mapping[str, str | None] | None, options: ImportOptions,
) -> LoadedTable:
    if isinstance(source, pd.DataFrame):
        frame = source.set_axis([str(c) for c in source.columns], axis=1)
        problems = check_duplicate_columns(list(frame.columns), name)
        if problems:
            raise DataError(problems)
        if frame.shape[1] == 0:
            raise _fail(name, "the table is empty", "Provide a table with columns and rows.")
        if frame.shape[1] > options.limits.max_columns:
            raise _too_many_columns(name, frame.shape[1], options.limits, where="the table")
        if len(frame) == 0:
            raise _fail(name, "the table has columns but no rows", "Provide a table with rows.")
        if len(frame) > options.limits.max_rows:
            raise _fail(name, f"the table has {len(frame):,} rows, over the limit of {options.limits.max_rows:,}",
                        _LIMIT_FIX.format(field="max_rows"))
        problems = long_cell_problems(frame, name, options.limits.max_cell_chars)
        if problems:
            raise DataError(problems)
        return LoadedTable(frame, name, "frame", frame_fingerprint(frame), int(frame.memory_usage(deep=False).sum()))

    def text_columns(header: Sequence[str]) -> set[str]:
        mapping = resolve_mapping(header, table, overrides)
        return {mapping[r] for r in _TEXT_ROLES if r in mapping}

    return load_table(source, name, options.limits, text_columns=text_columns, delimiter=options.delimiter)


def normalise_ids(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Ids as clean text: integral numbers without ``.0``, whitespace stripped, blanks missing.

    Returns
    -------
    ids, stripped
        The ids (``str`` dtype, NaN when missing) and a mask of the values that had surrounding
        whitespace.

    Examples
    --------
    >>> ids, stripped = normalise_ids(pd.Series([17850.0, None, 13047.0]))
    >>> ids.tolist()
    ['17850', nan, '13047']
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(values.cat.categories.dtype)
    if pd.api.types.is_float_dtype(values):
        numbers = values.to_numpy(dtype="float64", na_value=np.nan)
        finite = np.isfinite(numbers)
        integral = finite & (np.floor(numbers) == numbers) & (np.abs(numbers) < 2**53)
        if integral.sum() == finite.sum():
            values = pd.Series(numbers, index=values.index).astype("Int64")
    if pd.api.types.is_datetime64_any_dtype(values):
        values = values.dt.strftime("%Y-%m-%d %H:%M:%S").where(values.notna())
    text = values.astype("str")
    trimmed = text.str.strip()
    had_space = ((trimmed != text) & text.notna()).to_numpy(dtype=bool, na_value=False)
    if had_space.any():
        text = trimmed
    blank = (text == "").to_numpy(dtype=bool, na_value=False)
    if blank.any():
        text = text.where(~blank)
    if text.str.endswith(".0").any():
        integral_text = text.str.fullmatch(r"-?\d+\.0+").to_numpy(dtype=bool, na_value=False)
        text = text.where(~integral_text, text.str.replace(r"\.0+$", "", regex=True))
    return text, had_space


def _merge_leading_zeros(ids: pd.Series) -> tuple[pd.Series, np.ndarray]:
    starts = ids.str.startswith("0").to_numpy(dtype=bool, na_value=False)
    if not starts.any():
        return ids, starts
    stripped = strip_leading_zeros(ids)
    changed = ((stripped != ids) & ids.notna()).to_numpy(dtype=bool, na_value=False)
    return stripped, changed


_DATE_FIX = ("Correct or delete these rows, map a different column to the date/time, or allow more "
             "rows to be dropped (ImportOptions.max_bad_share, now {share:.1%}).")


def _naive_utc(values: pd.Series) -> pd.Series:
    """Time-zone-aware datetimes converted to UTC and made naive; others unchanged."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").dt.tz_localize(None)
    return values


def _strptime_with_guessed_format(text: pd.Series, sample_size: int = 500) -> pd.Series | None:
    """Parse text dates with Arrow's C++ strptime, in the format that fits a sample best.

    Candidate formats are guessed (month-first and day-first) from a few values; the one that
    parses most of an evenly spread sample wins. None when no candidate parses anything (the
    caller then falls back to pandas).
    """
    values = text.dropna()
    values = values[values != ""]
    if values.empty:
        return None
    sample = values.iloc[:: max(1, len(values) // sample_size)].iloc[:sample_size]
    formats: list[str] = []
    for value in pd.unique(sample)[:10]:  # a few values, two guesses each
        for dayfirst in (False, True):
            guessed = guess_datetime_format(str(value), dayfirst=dayfirst)
            if guessed and "%f" not in guessed and guessed not in formats:
                formats.append(guessed)
    sample_array = pa.array(sample.to_numpy(dtype=object), type=pa.string())
    best, best_parsed = None, 0
    for fmt in formats:  # a loop over candidate formats
        try:
            failed = pa_compute.strptime(sample_array, format=fmt, unit="s", error_is_null=True).null_count
            parsed = len(sample) - failed
        except (pa.ArrowException, ValueError):
            continue
        if parsed > best_parsed:
            best, best_parsed = fmt, parsed
    if best is None:
        return None
    column = pa.array(text.to_numpy(dtype=object), type=pa.string()) if not isinstance(
        text.array, pd.arrays.ArrowStringArray) else pa.array(text.array)
    result = pa_compute.strptime(column, format=best, unit="s", error_is_null=True)
    return _naive_utc(pd.Series(result.to_pandas(), index=text.index))


def parse_timestamps(values: pd.Series) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Parse a date/time column to naive UTC datetimes (not yet nanoseconds).

    Text is parsed with the format pandas infers; if that leaves values unparsed, day-first and
    then mixed formats are tried on the distinct failing values only. Numbers are Unix epochs (unit
    guessed from their size). Dates before 1900 count as unparseable.

    Returns
    -------
    parsed, missing, bad
        The datetimes (NaT where missing or bad) and masks of missing and unparseable values.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(values.cat.categories.dtype)
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
        missing = values.isna().to_numpy()
    elif pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = values.astype("float64")
        missing = numbers.isna().to_numpy()
        magnitude = float(np.nanmedian(np.abs(numbers))) if (~missing).any() else 0.0
        unit = "ns" if magnitude > 1e17 else "us" if magnitude > 1e14 else "ms" if magnitude > 1e11 else "s"
        parsed = pd.to_datetime(numbers, unit=unit, errors="coerce")
    else:
        text = values.astype("str").str.strip()
        missing = (text.isna() | (text == "")).to_numpy(dtype=bool, na_value=True)
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore")  # "could not infer format" and friends
            parsed = _strptime_with_guessed_format(text)
            if parsed is None:
                parsed = _naive_utc(pd.to_datetime(text, errors="coerce", utc=True))
                if (parsed.isna().to_numpy() & ~missing).any():
                    dayfirst = _naive_utc(pd.to_datetime(text, errors="coerce", utc=True, dayfirst=True))
                    if int(dayfirst.isna().sum()) < int(parsed.isna().sum()):
                        parsed = dayfirst
            failed = parsed.isna().to_numpy() & ~missing
            if failed.any():  # several formats in one column: parse each distinct failing value
                distinct = pd.unique(text[failed])
                if len(distinct) <= 200_000:
                    mixed = _naive_utc(pd.to_datetime(pd.Series(distinct, dtype="str"), errors="coerce", utc=True,
                                                      format="mixed"))
                    lookup = pd.Series(mixed.to_numpy(), index=pd.Index(distinct))
                    fills = lookup.reindex(text[failed].to_numpy()).to_numpy().astype(parsed.dtype)
                    parsed = parsed.copy()
                    parsed.iloc[np.flatnonzero(failed)] = fills
    parsed = _naive_utc(parsed)
    parsed = pd.Series(parsed, index=values.index) if not isinstance(parsed, pd.Series) else parsed
    too_old = (parsed < pd.Timestamp("1900-01-01")).to_numpy(dtype=bool, na_value=False)
    if too_old.any():
        parsed = parsed.where(~too_old)
    bad = parsed.isna().to_numpy() & ~missing
    return parsed, missing, bad


class _Context:
    """Per-import state shared by the table steps: problems, warnings and the report."""

    def __init__(self, options: ImportOptions) -> None:
        self.options = options
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.report = CleaningReport()

    def add(self, problem: Problem | None) -> None:
        if problem is None:
            return
        (self.warnings if problem.severity == "warning" else self.problems).append(problem)

    def step(self, table: str, name: str, mask: np.ndarray, description: str, action: str = "dropped") -> None:
        count = int(np.count_nonzero(mask))
        self.report.add(table, name, count, description, example_rows(mask) if count else (), action)


def _id_column(
    ctx: _Context, raw: pd.DataFrame, theirs: str, canonical: str, file: str, table: str,
) -> tuple[pd.Series, np.ndarray] | None:
    """Normalised ids of one mapped id column with the checks every table shares."""
    ids, had_space = normalise_ids(raw[theirs])
    missing = ids.isna().to_numpy()
    if missing.all():
        ctx.add(empty_id_problem(file=file, column=theirs, canonical=canonical, rows=len(raw)))
        return None
    ctx.add(invisible_id_problem(ids, file=file, column=theirs, canonical=canonical))
    ctx.add(long_id_problem(ids, file=file, column=theirs, canonical=canonical))
    ctx.step(table, f"{label(canonical)}: surrounding spaces removed", had_space,
             f"{label(canonical).capitalize()}s such as ' 123 ' were trimmed to '123' (column '{theirs}'), so "
             "ids that differ only by spaces are one id.", action="fixed")
    mode = ctx.options.leading_zero_ids
    if mode == "error":
        ctx.add(leading_zero_problem(ids, file=file, column=theirs, canonical=canonical))
    elif mode == "merge":
        ids, changed = _merge_leading_zeros(ids)
        ctx.step(table, f"{label(canonical)}: leading zeros removed", changed,
                 f"Leading zeros were removed from {label(canonical)}s (column '{theirs}'), so '007' and '7' are "
                 "one id (leading_zero_ids='merge').", action="fixed")
    return ids, missing


def _check_personal_user_ids(ctx: _Context, ids: pd.Series, theirs: str, file: str) -> str | None:
    reason = privacy.identifier_reason(theirs, ids)
    if reason is None:
        return None
    if ctx.options.pseudonymise_key is None:
        ctx.add(Problem(
            file, theirs, (), 0,
            f"the customer ids in column '{theirs}' are personal data ({reason})",
            ("Turn on pseudonymisation (the Data page switch 'Pseudonymise customer ids', or "
             "ImportOptions.pseudonymise_key=privacy.new_key()) so they are replaced by keyed pseudonyms, "
             "or map a customer number column to user_id instead."),
        ))
    else:
        ctx.add(Problem(file, theirs, (), 0,
                        f"the customer ids in column '{theirs}' are personal data ({reason}); "
                        "they were replaced by keyed pseudonyms",
                        "Keep the pseudonymisation key safe to match results back to customers.", "warning"))
    return reason


def _numeric_column(
    ctx: _Context, raw: pd.DataFrame, mapping: dict[str, str], canonical: str, file: str,
) -> pd.Series | None:
    theirs = mapping.get(canonical)
    if theirs is None:
        return None
    numbers, bad = to_number(raw[theirs])
    ctx.add(non_number_problem(raw[theirs], bad, file=file, column=theirs, canonical=canonical))
    return numbers


def _factorize(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes (int64, -1 = missing) and the distinct values, in order of first appearance.

    Arrow-backed text is dictionary-encoded by Arrow (several times faster than pandas here).
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy().astype(np.int64)
        return codes, pd.Index(values.cat.categories)
    if isinstance(values.array, pd.arrays.ArrowStringArray):
        chunked = pa.chunked_array(pa.array(values.array))
        if chunked.num_chunks == 0 or len(chunked) == 0:
            return np.full(len(values), -1, dtype=np.int64), pd.Index([], dtype="str")
        if chunked.num_chunks > 1 and chunked.nbytes < 1024**3:  # one dictionary: no costly unification
            chunked = pa.chunked_array([chunked.combine_chunks()])
        encoded = pa_compute.dictionary_encode(chunked).unify_dictionaries()
        codes = np.concatenate([  # a loop over Arrow chunks, not rows
            chunk.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
            for chunk in encoded.chunks
        ])
        return codes, pd.Index(encoded.chunks[0].dictionary.to_pandas())
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return np.asarray(codes, dtype=np.int64), pd.Index(uniques)


def _take_text(categories: Sequence[str], codes: np.ndarray) -> pd.Series:
    """A text column from category names and codes (built by Arrow: no per-row Python objects)."""
    dictionary = pa.array(list(categories), type=pa.string())
    return dictionary.take(pa.array(codes, type=pa.int64())).to_pandas().astype("str").reset_index(drop=True)


def _events(
    ctx: _Context, raw: pd.DataFrame, mapping: dict[str, str], default: str, table: str,
) -> tuple[np.ndarray, list[str]]:
    """Event codes per row and the event names (lower case, trimmed; missing -> ``default``)."""
    theirs = mapping.get(C.EVENT)
    if theirs is None:
        return np.zeros(len(raw), dtype=np.int64), [default]
    codes, distinct = _factorize(raw[theirs])
    names = pd.Series(distinct.astype(str), dtype="str").str.strip().str.lower()  # distinct values only
    blank = (names == "").to_numpy(dtype=bool, na_value=True)
    names = names.where(~blank, default)
    event_names = [str(e) for e in pd.unique(pd.concat([names, pd.Series([default], dtype="str")]))]
    remap = pd.Index(event_names).get_indexer(names)
    valid = codes >= 0
    final = np.full(len(codes), event_names.index(default), dtype=np.int64)
    final[valid] = remap[codes[valid]]
    missing = ~valid
    if blank.any():
        missing[valid] |= blank[codes[valid]]
    ctx.step(table, "event type missing", missing,
             f"Rows without an event type (column '{theirs}') were given the event '{default}'.", action="fixed")
    return final, event_names


def _prepare_interactions(
    ctx: _Context, loaded: LoadedTable, mapping: dict[str, str],
) -> tuple[pd.DataFrame, np.ndarray, dict[str, str], dict[str, tuple[np.ndarray, pd.Index]]] | None:
    """Validate and clean the interactions file; None when it has blocking problems.

    Returns the canonical frame, the mask of kept raw rows, the identifier columns found and the
    codes of the user and item ids (per raw row, with their distinct values) for reuse.
    """
    raw, file, table, opts = loaded.frame, loaded.name, C.Table.INTERACTIONS.value, ctx.options
    n = len(raw)
    errors_before = len(ctx.problems)
    ctx.report.rows_in[table] = n

    user = _id_column(ctx, raw, mapping[C.USER_ID], C.USER_ID, file, table)
    item = _id_column(ctx, raw, mapping[C.ITEM_ID], C.ITEM_ID, file, table)
    quantity = _numeric_column(ctx, raw, mapping, C.QUANTITY, file)
    unit_price = _numeric_column(ctx, raw, mapping, C.UNIT_PRICE, file)
    value = _numeric_column(ctx, raw, mapping, C.VALUE, file)
    weight = _numeric_column(ctx, raw, mapping, C.WEIGHT, file)
    if weight is not None:
        ctx.add(negative_problem(weight, file=file, column=mapping[C.WEIGHT], canonical=C.WEIGHT))
    if user is not None:
        _check_personal_user_ids(ctx, user[0], mapping[C.USER_ID], file)
    identifiers = privacy.find_identifiers(raw, skip=mapping.values())

    drop = np.zeros(n, dtype=bool)
    if user is not None:
        ctx.step(table, "rows without a customer id", user[1],
                 f"Rows with an empty customer id (column '{mapping[C.USER_ID]}') cannot be linked to anyone.")
        drop |= user[1]
    if item is not None:
        ctx.step(table, "rows without an item id", item[1],
                 f"Rows with an empty item id (column '{mapping[C.ITEM_ID]}') cannot be linked to an item.")
        drop |= item[1]

    codes: dict[str, tuple[np.ndarray, pd.Index]] = {}
    known: dict[str, np.ndarray] = {}
    for canonical, ids in ((C.USER_ID, user), (C.ITEM_ID, item)):
        if ids is not None:
            codes[canonical] = _factorize(ids[0])
            known[mapping[canonical]] = codes[canonical][0]
    has_time_or_order = C.TIMESTAMP in mapping or C.ORDER_ID in mapping
    duplicated = _duplicated(raw, known)
    if has_time_or_order:
        ctx.step(table, "exact duplicate rows", duplicated,
                 "Rows identical in every column to an earlier row (sent twice) were dropped; the first copy is kept.")
        drop |= duplicated
    else:
        ctx.step(table, "exact duplicate rows", duplicated,
                 "Rows identical in every column to an earlier row were kept: without a date or order column "
                 "they may be real repeat interactions.", action="kept")

    if C.ORDER_ID in mapping:
        orders = raw[mapping[C.ORDER_ID]]
        if isinstance(orders.dtype, pd.CategoricalDtype):
            orders = orders.astype(orders.cat.categories.dtype)
        orders = orders.astype("str").str.strip()
        prefixed = orders.str.fullmatch(r"[Cc]\d+").to_numpy(dtype=bool, na_value=False)
        numeric_orders = orders.str.fullmatch(r"\d+").to_numpy(dtype=bool, na_value=False)
        cancelled = prefixed if prefixed.any() and numeric_orders.mean() >= 0.5 else np.zeros(n, dtype=bool)
        ctx.step(table, "cancellations", cancelled,
                 f"Order lines whose order id (column '{mapping[C.ORDER_ID]}') starts with 'C' are cancellations.")
        drop |= cancelled
    if quantity is not None:
        q = quantity.to_numpy()
        ctx.step(table, "returns (negative quantity)", q < 0,
                 f"Rows with a negative quantity (column '{mapping[C.QUANTITY]}') are returns or corrections.")
        ctx.step(table, "zero quantity", q == 0,
                 f"Rows with quantity 0 (column '{mapping[C.QUANTITY]}') record nothing bought.")
        drop |= (q <= 0)
    if unit_price is not None:
        p = unit_price.to_numpy()
        ctx.step(table, "negative unit price", p < 0,
                 f"Rows with a negative unit price (column '{mapping[C.UNIT_PRICE]}') are accounting adjustments.")
        ctx.step(table, "zero unit price", p == 0,
                 f"Rows with unit price 0 (column '{mapping[C.UNIT_PRICE]}') were kept (free items or samples).",
                 action="kept")
        drop |= p < 0
    if value is not None:
        v = value.to_numpy()
        ctx.step(table, "negative value (refunds)", v < 0,
                 f"Rows with a negative value (column '{mapping[C.VALUE]}') are refunds or corrections.")
        drop |= v < 0

    timestamps: pd.Series | None = None
    if C.TIMESTAMP in mapping:
        theirs = mapping[C.TIMESTAMP]
        parsed, missing_ts, bad_ts = parse_timestamps(raw[theirs])
        now = pd.Timestamp.now(tz="UTC").tz_localize(None) if opts.now is None else pd.Timestamp(opts.now)
        if now.tzinfo is not None:
            now = now.tz_convert("UTC").tz_localize(None)
        future = (parsed > now + pd.Timedelta(days=1)).to_numpy(dtype=bool, na_value=False)
        unusable = missing_ts | bad_ts
        samples = (", ".join(f"'{v}'" for v in pd.unique(raw[theirs][bad_ts].astype(str).str.slice(0, 30))[:3]))
        ctx.add(bad_share_problem(
            unusable, file=file, column=theirs, canonical=C.TIMESTAMP,
            what=("{have} no date or one that cannot be read as a date" + (f" (e.g. {samples})" if samples else "")),
            max_share=opts.max_bad_share, fix=_DATE_FIX.format(share=opts.max_bad_share)))
        ctx.add(bad_share_problem(
            future, file=file, column=theirs, canonical=C.TIMESTAMP,
            what=f"{{are}} dated in the future (after {now:%Y-%m-%d})",
            max_share=opts.max_bad_share,
            fix=("Check the date format (day and month swapped?) and the year. "
                 + _DATE_FIX.format(share=opts.max_bad_share))))
        ctx.step(table, "missing or unreadable dates", unusable,
                 f"Rows whose date (column '{theirs}') is empty or cannot be read as a date.")
        ctx.step(table, "dates in the future", future,
                 f"Rows dated after {now:%Y-%m-%d} (plus one day of slack; column '{theirs}').")
        drop |= unusable | future
        timestamps = parsed

    if len(ctx.problems) > errors_before or user is None or item is None:
        return None
    keep = ~drop
    if not keep.any():
        ctx.add(Problem(file, None, (), n,
                        f"no usable rows are left after cleaning (all {n:,} rows were dropped; see the cleaning steps)",
                        "Check that the right columns are mapped to the customer id and item id, and the date format."))
        return None

    default_event = C.PURCHASE if (C.VALUE in mapping or C.QUANTITY in mapping) else C.INTERACTION
    event_codes, event_names = _events(ctx, raw, mapping, default_event, table)
    weights = opts.weights()
    per_event = np.array([weights.get(e, 1.0) for e in event_names], dtype="float64")  # one per event type
    if weight is None:
        weight_values = per_event[event_codes]
    else:
        missing_weight = weight.isna().to_numpy()
        weight_values = weight.to_numpy(dtype="float64", copy=True)
        if missing_weight.any():
            weight_values[missing_weight] = per_event[event_codes[missing_weight]]
        ctx.step(table, "weight missing", missing_weight,
                 f"Rows without a weight (column '{mapping[C.WEIGHT]}') got the weight of their event type.",
                 action="fixed")
    if value is not None:
        value_values = value.to_numpy(dtype="float64")
    elif quantity is not None and unit_price is not None:
        value_values = quantity.to_numpy(dtype="float64") * unit_price.to_numpy(dtype="float64")
    else:
        value_values = np.full(n, np.nan)
    if timestamps is None:
        ts_values = np.full(int(keep.sum()), np.datetime64("NaT"), dtype="datetime64[ns]")
    else:
        ts_values = timestamps[keep].to_numpy().astype("datetime64[ns]")
    assert user is not None and item is not None
    out = pd.DataFrame({
        C.USER_ID: user[0][keep].reset_index(drop=True),
        C.ITEM_ID: item[0][keep].reset_index(drop=True),
        C.EVENT: _take_text(event_names, event_codes[keep]),
        C.TIMESTAMP: ts_values,
        C.WEIGHT: weight_values[keep],
        C.VALUE: value_values[keep],
    })
    ctx.report.rows_out[table] = len(out)
    return out, keep, identifiers, codes


_HASH_MIX = np.uint64(0x9E3779B97F4A7C15)
_HASH_MUL = np.uint64(0xBF58476D1CE4E5B9)


def _hash_input(values: pd.Series) -> np.ndarray:
    """One uint64 per row that is equal for equal values (collisions allowed: checked exactly later)."""
    if pd.api.types.is_float_dtype(values) or pd.api.types.is_integer_dtype(values) or \
            pd.api.types.is_bool_dtype(values):
        numbers = values.to_numpy(dtype="float64", na_value=np.nan)
        # one bit pattern for every missing value, and -0.0 == 0.0
        return np.where(np.isnan(numbers), np.nan, numbers + 0.0).view(np.uint64)
    if pd.api.types.is_datetime64_any_dtype(values):
        return _naive_utc(values).to_numpy().view(np.int64).astype(np.uint64)  # NaT is one value too
    codes, _ = _factorize(values)
    return codes.astype(np.uint64)


def _duplicated(frame: pd.DataFrame, known: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
    """Rows identical to an earlier row in every column.

    Each row gets a hash mixed from its columns' codes (vectorised); only rows whose hash occurs
    more than once are compared exactly, so a hash collision can never drop a row. ``known`` gives
    codes already computed for some columns (equal values must have equal codes).
    """
    n = len(frame)
    if frame.shape[1] == 0 or n == 0:
        return np.zeros(n, dtype=bool)
    known = known or {}
    hashed = np.zeros(n, dtype=np.uint64)
    usable = []
    for i, name in enumerate(frame.columns):  # a loop over columns
        try:
            column = known[name].astype(np.uint64) if name in known else _hash_input(frame.iloc[:, i])
        except TypeError:  # unhashable values (lists): compare the other columns
            continue
        usable.append(i)
        salt = np.uint64(((i + 1) * int(_HASH_MIX)) % 2**64)
        hashed = (hashed ^ (column + salt)) * _HASH_MUL  # wraps around modulo 2**64 by design
        hashed ^= hashed >> np.uint64(31)
    if not usable:
        return np.zeros(n, dtype=bool)
    ordered = np.sort(hashed)
    repeated = ordered[1:] == ordered[:-1]
    if not repeated.any():  # the usual case, found by one sort
        return np.zeros(n, dtype=bool)
    candidates = pd.Series(hashed).isin(np.unique(ordered[1:][repeated])).to_numpy()
    result = np.zeros(n, dtype=bool)
    if candidates.any():
        positions = np.flatnonzero(candidates)
        result[positions] = frame.iloc[positions, usable].duplicated(keep="first").to_numpy()
    return result


def _pairs(key_codes: np.ndarray, value_codes: np.ndarray, n_values: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (key, value) code pairs with their row counts."""
    valid = (key_codes >= 0) & (value_codes >= 0)
    pair = key_codes[valid] * max(n_values, 1) + value_codes[valid]
    distinct, counts = np.unique(pair, return_counts=True)
    return distinct // max(n_values, 1), distinct % max(n_values, 1), counts


def _most_frequent(key_codes: np.ndarray, keys: pd.Index, values: pd.Series, key: str) -> pd.DataFrame:
    """Per key, its most frequent non-missing value (ties: the value seen first), vectorised."""
    value_codes, distinct_values = _factorize(values)
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
        value_codes, distinct_values = _factorize(raw[col].iloc[positions])
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


def _facts(
    ctx: _Context, raw: pd.DataFrame, keep: np.ndarray, id_codes: tuple[np.ndarray, pd.Index],
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


def _prepare_entity(
    ctx: _Context, loaded: LoadedTable, table: C.Table, mapping: dict[str, str],
) -> tuple[pd.DataFrame, dict[str, str]] | None:
    """Validate and clean a users or items file; None when it has blocking problems."""
    key = C.TABLE_KEYS[table][0]
    raw, file, name = loaded.frame, loaded.name, table.value
    theirs = mapping[key]
    errors_before = len(ctx.problems)
    ctx.report.rows_in[name] = len(raw)
    result = _id_column(ctx, raw, theirs, key, file, name)
    if result is None:
        return None
    ids, missing = result
    if key == C.USER_ID:
        _check_personal_user_ids(ctx, ids, theirs, file)
    ctx.step(name, f"rows without {'a customer' if key == C.USER_ID else 'an item'} id", missing,
             f"Rows with an empty id (column '{theirs}') cannot be linked to interactions.")
    duplicated = _duplicated(raw)
    ctx.step(name, "exact duplicate rows", duplicated,
             "Rows identical in every column to an earlier row were dropped; the first copy is kept.")
    keep = ~(missing | duplicated)
    kept_ids = ids[keep]
    problem = duplicate_key_problem(ids.where(keep), file=file, column=theirs, canonical=key, table=name)
    ctx.add(problem)
    if len(ctx.problems) > errors_before:
        return None
    frame = raw[keep].drop(columns=[theirs])
    if key in frame.columns:  # a column already called user_id / item_id that is not the mapped one
        frame = frame.rename(columns={key: f"{key} (original)"})
        ctx.add(Problem(file, key, (), 0, f"column '{key}' is not the mapped id column ('{theirs}'); it was renamed "
                        f"'{key} (original)'", "Map the column you mean as the id.", "warning"))
    frame.insert(0, key, kept_ids.to_numpy())
    frame = frame.reset_index(drop=True)
    frame[key] = frame[key].astype("str")
    identifiers = privacy.find_identifiers(frame, skip=[key])
    ctx.report.rows_out[name] = len(frame)
    return frame, identifiers


def _combine(file_frame: pd.DataFrame | None, facts: pd.DataFrame | None, key: str) -> pd.DataFrame:
    if file_frame is None and facts is None:
        return pd.DataFrame({key: pd.Series([], dtype="str")})
    if file_frame is None:
        return facts  # type: ignore[return-value]
    if facts is None:
        return file_frame
    extra = [c for c in facts.columns if c == key or c not in file_frame.columns]
    return file_frame.merge(facts[extra], on=key, how="outer", sort=False)


def _overlap_warning(ctx: _Context, name: str, file: str, ids: pd.Series, known: pd.Index, what: str) -> None:
    """Warn when none of a users/items file's ids occur in the interactions (``known``)."""
    mine = pd.Index(pd.unique(ids.dropna()))
    if len(mine) == 0 or len(known) == 0:
        return
    share = float(mine.isin(known).mean())
    if share == 0.0:
        stripped = float(pd.Index(strip_leading_zeros(pd.Series(mine, dtype="str"))).isin(
            strip_leading_zeros(pd.Series(known, dtype="str"))).mean())
        hint = (" They match once leading zeros are removed: set leading_zero_ids='merge'."
                if stripped > 0.5 else " Check that the right column is mapped as the id.")
        ctx.add(Problem(file, None, (), len(mine),
                        f"none of the {len(mine):,} {what}s in the {name} file appear in the interactions",
                        "Its facts cannot be used until the ids match." + hint, "warning"))


def _dataset_fingerprint(
    sources: list[SourceInfo], mapping: dict[str, dict[str, str]], options: ImportOptions,
) -> str:
    payload = {
        "version": IMPORT_VERSION,
        "sources": [[s.table, s.sha256] for s in sources],
        "mapping": {t: dict(sorted(m.items())) for t, m in sorted(mapping.items())},
        "options": options.fingerprint_dict(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def prepare_dataset(
    interactions: Source,
    users: Source | None = None,
    items: Source | None = None,
    *,
    mapping: Mapping[str, Mapping[str, str | None]] | None = None,
    options: ImportOptions = ImportOptions(),
    names: Mapping[str, str] | None = None,
) -> PreparedDataset:
    """Read, map, validate and clean the files of one dataset.

    Parameters
    ----------
    interactions
        The interactions file (path, bytes or DataFrame): who did what with which item.
    users, items
        Optional files of facts about customers and items.
    mapping
        Overrides of the guessed column mapping: table name -> canonical -> the user's column
        (``None``/``""`` unmaps a guessed column).
    options
        See :class:`ImportOptions`.
    names
        File names to show in messages, per table (e.g. the original names of uploads).

    Returns
    -------
    PreparedDataset

    Raises
    ------
    DataError
        With every blocking problem of every file, when there is any.
    """
    inputs: dict[C.Table, Source] = {C.Table.INTERACTIONS: interactions}
    if users is not None:
        inputs[C.Table.USERS] = users
    if items is not None:
        inputs[C.Table.ITEMS] = items
    names = dict(names or {})
    overrides = {str(k): dict(v) for k, v in (mapping or {}).items()}
    ctx = _Context(options)
    for p in options.problems():
        ctx.add(p)
    unknown_tables = set(overrides) - {t.value for t in C.Table}
    for t in sorted(unknown_tables):
        ctx.add(Problem("column mapping", None, (), 0, f"'{t}' is not a table",
                        "Use 'interactions', 'users' or 'items'."))

    loaded: dict[C.Table, LoadedTable] = {}
    for table, source in inputs.items():
        if table.value in names:
            shown = display_name(names[table.value])
        elif isinstance(source, (str, Path)):
            shown = Path(source).name
        else:
            shown = f"{table.value} table"
        try:
            loaded[table] = _load_any(source, shown, table, overrides.get(table.value), options)
        except DataError as exc:
            for p in exc.problems + exc.warnings:
                ctx.add(p)
            continue
        for w in loaded[table].warnings:
            ctx.add(w)

    resolved: dict[str, dict[str, str]] = {}
    good: dict[C.Table, LoadedTable] = {}
    for table, table_loaded in loaded.items():
        cols = list(table_loaded.frame.columns)
        m = resolve_mapping(cols, table, overrides.get(table.value))
        resolved[table.value] = m
        problems = check_mapping(m, cols, table, table_loaded.name)
        if problems:
            for p in problems:
                ctx.add(p)
        else:
            good[table] = table_loaded

    prepared_interactions = None
    if C.Table.INTERACTIONS in good:
        prepared_interactions = _prepare_interactions(ctx, good[C.Table.INTERACTIONS], resolved["interactions"])
    entities: dict[C.Table, tuple[pd.DataFrame, dict[str, str]] | None] = {}
    for table in (C.Table.USERS, C.Table.ITEMS):
        if table in good:
            entities[table] = _prepare_entity(ctx, good[table], table, resolved[table.value])

    facts: dict[C.Table, pd.DataFrame | None] = {C.Table.USERS: None, C.Table.ITEMS: None}
    identifiers: dict[str, dict[str, str]] = {}
    if prepared_interactions is not None:
        out, keep, inter_identifiers, id_codes = prepared_interactions
        identifiers[C.Table.INTERACTIONS.value] = inter_identifiers
        raw = good[C.Table.INTERACTIONS].frame
        m = resolved["interactions"]
        excluded = set(m.values()) | set(inter_identifiers)
        facts[C.Table.USERS] = _facts(ctx, raw, keep, id_codes[C.USER_ID], options.user_columns, excluded, C.USER_ID,
                                      good[C.Table.INTERACTIONS].name)
        item_excluded = excluded if options.item_columns is None else set(m.values())
        facts[C.Table.ITEMS] = _facts(ctx, raw, keep, id_codes[C.ITEM_ID], options.item_columns, item_excluded,
                                      C.ITEM_ID, good[C.Table.INTERACTIONS].name)

    if ctx.problems:
        raise DataError(ctx.problems, ctx.warnings)
    assert prepared_interactions is not None
    interactions_frame, keep, _, id_codes = prepared_interactions

    for table, entity in entities.items():
        if entity is not None:
            identifiers[table.value] = entity[1]
    for table_name, found in identifiers.items():  # before facts copy interaction identifiers
        file = good[C.Table(table_name)].name
        for column, reason in found.items():
            ctx.add(Problem(file, column, (), 0,
                            f"column '{column}' holds direct identifiers ({reason})",
                            "Nothing to do: it is never used as a model feature and never exported.", "warning"))

    frames: dict[C.Table, pd.DataFrame] = {}
    for table, key, what in ((C.Table.USERS, C.USER_ID, "customer id"), (C.Table.ITEMS, C.ITEM_ID, "item id")):
        entity = entities.get(table)
        if entity is not None:
            codes, distinct = id_codes[key]
            seen = distinct[np.bincount(codes[keep], minlength=len(distinct)) > 0]
            _overlap_warning(ctx, table.value, good[table].name, entity[0][key], seen, what)
        frames[table] = _combine(entity[0] if entity is not None else None, facts[table], key)
        table_ids = identifiers.setdefault(table.value, {})
        for column, reason in identifiers[C.Table.INTERACTIONS.value].items():
            if column in frames[table].columns:  # an identifier the user chose as a fact
                table_ids.setdefault(column, reason)

    if options.pseudonymise_key is not None:
        key = options.pseudonymise_key
        interactions_frame[C.USER_ID] = privacy.pseudonymise(interactions_frame[C.USER_ID], key)
        frames[C.Table.USERS][C.USER_ID] = privacy.pseudonymise(frames[C.Table.USERS][C.USER_ID], key)

    sources = [SourceInfo(t.value, lt.name, lt.sha256, lt.bytes, len(lt.frame)) for t, lt in loaded.items()]
    user_schema = infer_schema(frames[C.Table.USERS], C.USER_ID, set(identifiers.get("users", {})))
    item_schema = infer_schema(frames[C.Table.ITEMS], C.ITEM_ID, set(identifiers.get("items", {})))
    user_facts = tuple(c for c in (facts[C.Table.USERS].columns if facts[C.Table.USERS] is not None else ())
                       if c != C.USER_ID)
    item_facts = tuple(c for c in (facts[C.Table.ITEMS].columns if facts[C.Table.ITEMS] is not None else ())
                       if c != C.ITEM_ID)
    return PreparedDataset(
        interactions=interactions_frame,
        users=frames[C.Table.USERS],
        items=frames[C.Table.ITEMS],
        user_schema=user_schema,
        item_schema=item_schema,
        mapping=resolved,
        report=ctx.report,
        warnings=ctx.warnings,
        sources=sources,
        identifiers=identifiers,
        fingerprint=_dataset_fingerprint(sources, resolved, options),
        user_facts=user_facts,
        item_facts=item_facts,
    )


__all__ = [
    "ReadLimits", "ImportOptions", "LoadedTable", "SourceInfo", "PreparedDataset", "read_table", "load_table",
    "guess_mapping", "resolve_mapping", "file_fingerprint", "frame_fingerprint", "prepare_dataset",
    "normalise_ids", "parse_timestamps", "parquet_memory_estimate", "DataError", "Problem", "display_name",
]
