"""One file before it is read: the guards, the raw bytes and what reading produced.

Every reader (:mod:`recsys.data.csv_reader`, :mod:`recsys.data.excel_reader`,
:mod:`recsys.data.read`) starts from a :class:`RawFile` and the :class:`ReadLimits`, refuses with
:func:`file_error` (one :class:`~recsys.data.validate.DataError` that names the file and the fix)
and returns a :class:`LoadedTable`. File names shown to the user go through :func:`display_name`.
"""

from __future__ import annotations

import hashlib
import io as _io
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from recsys.data.validate import INVISIBLE_CHARACTERS, DataError, Problem, check_duplicate_columns

#: Bytes inspected to find the format, encoding and delimiter.
SNIFF_BYTES = 64 * 1024
#: Most bytes read to find the end of a very long header row (thousands of columns).
HEADER_BYTES = 16 * 1024**2
#: In-memory bytes per byte of CSV text (Arrow table + frame while converting).
CSV_EXPANSION = 2.0

#: What an import accepts for one table: a path, the file's bytes or a DataFrame.
Source = str | Path | bytes | pd.DataFrame


def size_text(n: float) -> str:
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


def file_error(name: str, message: str, fix: str, column: str | None = None,
               rows: tuple[int, ...] = (), count: int = 0) -> DataError:
    """One blocking problem of file ``name`` as a :class:`DataError`, ready to raise."""
    return DataError([Problem(name, column, rows, count, message, fix)])


LIMIT_FIX = ("Split the file into smaller ones, drop columns you do not need, or raise the limit "
             "(ReadLimits.{field}).")


@dataclass
class RawFile:
    """A source as bytes on disk or in memory, with cheap access to its first bytes."""

    name: str
    path: Path | None
    data: bytes | None
    size: int

    @classmethod
    def of(cls, source: str | Path | bytes, name: str | None) -> RawFile:
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
            return cls(display_name(name), None, data, len(data))
        path = Path(source)
        shown = display_name(name) if name else display_name(path.name, default=str(path))
        if not path.exists():
            raise file_error(shown, f"the file {path} does not exist", "Check the path and try again.")
        if path.is_dir():
            raise file_error(shown, f"{path} is a folder, not a file", "Choose a CSV, Parquet or Excel file.")
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


BINARY_MAGIC: tuple[tuple[bytes, str], ...] = (
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


def too_many_columns(
    name: str, n_columns: int, limits: ReadLimits, where: str = "the file", at_least: bool = False,
) -> DataError:
    """The error for a table over ``limits.max_columns`` (``at_least``: the header was cut short)."""
    count = f"more than {n_columns:,}" if at_least else f"{n_columns:,}"
    return file_error(name, f"{where} has {count} columns, over the limit of {limits.max_columns:,}",
                      ("Keep only the columns PromoLens needs (customer id, item id, event, date, revenue and the facts "
                       "you want as features) and import again, or raise the limit (ReadLimits.max_columns)."),
                      rows=(1,))


def tidy_columns(frame: pd.DataFrame, name: str) -> tuple[pd.DataFrame, list[Problem]]:
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


__all__ = [
    "SNIFF_BYTES", "HEADER_BYTES", "CSV_EXPANSION", "BINARY_MAGIC", "LIMIT_FIX", "Source", "ReadLimits", "LoadedTable",
    "RawFile", "display_name", "size_text", "file_fingerprint", "frame_fingerprint", "file_error", "too_many_columns",
    "tidy_columns",
]
