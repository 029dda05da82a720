"""Read one CSV file: detect its encoding and delimiter, then read it with Arrow.

UTF-8 with or without BOM, UTF-16/32, GB18030/GBK and Big5 (Chinese Excel), Windows-1252/Latin-1; any of ``, ; tab |``; plain or
compressed (gzip, bz2, zstd). The row and memory guards are checked on the first 64 KB, before
the file is read. Rows with the wrong number of fields become one clear
:class:`~recsys.data.validate.DataError` naming their spreadsheet row numbers.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import struct
from collections.abc import Callable, Collection, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

from recsys.data.files import (
    BINARY_MAGIC,
    CSV_EXPANSION,
    HEADER_BYTES,
    LIMIT_FIX,
    SNIFF_BYTES,
    LoadedTable,
    RawFile,
    ReadLimits,
    file_error,
    size_text,
    tidy_columns,
    too_many_columns,
)
from recsys.data.validate import DataError, Problem, check_duplicate_columns

#: Delimiters recognised in CSV files, in order of preference.
DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
# Characters that separate fields in some exports but that PromoLens does not read.
_FOREIGN_SEPARATORS: tuple[str, ...] = (":", "~", "^", "#", "/")
_DELIMITER_NAMES = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "'|'", ":": "':'", "~": "'~'",
                    "^": "'^'", "#": "'#'", "/": "'/'"}


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
        raise file_error(name, "this is not a text (CSV) file: it holds binary data",
                         "Choose the CSV, Parquet or Excel (.xlsx) file that holds the data; if this is an "
                         "export from another program, export it again as CSV.")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    chinese = _chinese_encoding(head)
    if chinese is not None:
        return chinese
    try:
        head.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


_HAN = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")  # ideographs, CJK punctuation
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _chinese_encoding(head: bytes) -> str | None:
    """``"gb18030"`` (GBK, GB2312) or ``"big5"`` when the (non-UTF-8) bytes read as Chinese text, else None.

    Chinese Excel saves CSV in the system's ANSI code page: GBK (simplified) or Big5 (traditional).
    Nearly any bytes decode in some multi-byte code page, so a code page is taken only when the
    text it gives is Chinese: every non-ASCII character an ideograph or CJK punctuation, and, for
    GB18030, 90% of the ideographs in the common GB2312 set (Big5 or Latin-1 bytes read as GBK give
    rare GBK-extension characters). Latin-1 text ("Café;Müller") fails these tests.
    """
    for encoding in ("gb18030", "big5"):
        try:
            text = codecs.getincrementaldecoder(encoding)().decode(head, final=False)
        except UnicodeDecodeError:
            continue
        non_ascii = len(_NON_ASCII.findall(text))
        han = _HAN.findall(text)
        if non_ascii == 0 or len(han) < non_ascii:
            continue
        if encoding == "gb18030":
            common = len("".join(han).encode("gb2312", errors="ignore")) // 2
            if common < 0.9 * len(han):
                continue
        return encoding
    return None


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
            raise file_error(
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
            raise file_error(
                name,
                f"the file seems to be separated by {_DELIMITER_NAMES[d]}, which is not a CSV delimiter "
                f"(it was read as a single column '{header[:60]}')",
                "Save the file as CSV with commas, semicolons, tabs or '|' between the columns.",
                rows=(1,),
            )
    return ","


def _compressed_stream(raw: RawFile, compression: str | None) -> pa.NativeFile:
    stream = raw.arrow_input()
    return pa.CompressedInputStream(stream, compression) if compression else stream


class UnpackedTooLarge(Exception):
    """Raised inside a read when a compressed file has unpacked more bytes than allowed."""


class _CountingStream(io.RawIOBase):
    """A compressed file's unpacked bytes, counted as they stream; past ``limit`` the read stops.

    The sizes a compressed file declares cannot be trusted (gzip's is modulo 4 GB, bz2 and zstd
    may declare none), so the unpacked bytes are counted while Arrow reads them.
    """

    def __init__(self, inner: pa.NativeFile, limit: int) -> None:
        super().__init__()
        self.inner, self.limit, self.count = inner, limit, 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        data = self.inner.read(self.limit + 1 - self.count if n is None or n < 0 else n)
        self.count += len(data)
        if self.count > self.limit:
            raise UnpackedTooLarge(self.count)
        return data

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.inner.close()
        super().close()


#: In-memory bytes per byte of unpacked text assumed for a compressed CSV. Its size is known only
#: while it streams, so the bound is the worst case of short fields (``1,2,3``: 2 bytes of text
#: become an 8-byte number), not the typical :data:`CSV_EXPANSION`.
UNPACKED_EXPANSION = 4.0


def unpacked_limit(limits: ReadLimits) -> int:
    """Most unpacked bytes of a compressed CSV read before giving up (the memory guard's share)."""
    return int(limits.max_memory_bytes / UNPACKED_EXPANSION)


def _unpacked_too_large(raw: RawFile, compression: str, limits: ReadLimits) -> DataError:
    return file_error(
        raw.name,
        f"this {compression}-compressed file of {size_text(raw.size)} unpacks to more than "
        f"{size_text(unpacked_limit(limits))} of text, which would need more than the memory limit of "
        f"{size_text(limits.max_memory_bytes)}; reading stopped there (it may be a decompression bomb)",
        "Import a smaller file (split it, or keep only the columns you need), or raise the limit "
        "(ReadLimits.max_memory_bytes / PROMOLENS_MAX_MEMORY_MB).",
    )


def _head_bytes(raw: RawFile, compression: str | None, n: int) -> bytes:
    """The first ``n`` bytes of the text, unpacked when compressed."""
    if not compression:
        return raw.head(n)
    with _compressed_stream(raw, compression) as stream:
        return stream.read(n)


def _text_size_estimate(raw: RawFile, compression: str | None) -> int:
    if compression is None:
        return raw.size
    if compression == "gzip" and raw.size >= 18:
        (isize,) = struct.unpack("<I", raw.tail(4))  # the uncompressed size modulo 4 GB
        return max(isize, raw.size * 3) if raw.size > isize else isize
    return raw.size * 6


_ARROW_ENCODING = {"utf-8": "utf8", "utf-8-sig": "utf8"}


def read_csv_file(
    raw: RawFile,
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
            raise file_error(raw.name, f"the {compression} file is damaged and cannot be unpacked ({exc})",
                             "Compress the file again, or import the uncompressed CSV.") from None
        if head.startswith(b"PAR1") or head.startswith(b"PK\x03\x04"):
            raise file_error(raw.name, f"this is a {compression}-compressed Parquet or Excel file",
                             "Unpack it first and import the Parquet or Excel file itself.")
        for magic, what in BINARY_MAGIC:
            if head.startswith(magic):
                raise file_error(raw.name, f"this is not a data table: it is {what}, {compression}-compressed",
                                 "Export the data as CSV, Parquet or Excel (.xlsx) and import that file.")
    text_bytes = _text_size_estimate(raw, compression)
    if text_bytes * CSV_EXPANSION > limits.max_memory_bytes:
        raise file_error(raw.name,
                         f"reading this file would need about {size_text(text_bytes * CSV_EXPANSION)} of memory, over "
                         f"the limit of {size_text(limits.max_memory_bytes)}",
                         LIMIT_FIX.format(field="max_memory_bytes"))
    if not head.strip(b" \t\r\n\x00" + codecs.BOM_UTF8):
        raise file_error(raw.name, "the file is empty", "Choose the file that holds the data, or export it again.")
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
        raise file_error(raw.name, "the file is empty", "Choose the file that holds the data, or export it again.")
    if len(lines) == 1 and complete:
        raise file_error(raw.name, "the file has a header row but no data rows",
                         "Export the data again, including the rows, and import that file.", rows=(1,))
    delim = delimiter or _sniff_delimiter(lines, raw.name)
    header = [h for h in next(csv.reader([lines[0]], delimiter=delim))]
    if len(header) > limits.max_columns:
        raise too_many_columns(raw.name, len(header), limits, at_least=header_cut)
    stripped = [h.strip() for h in header]
    problems = check_duplicate_columns([h for h in stripped if h], raw.name)
    if problems:
        raise DataError(problems)
    # Estimate the rows from the head, to refuse a file over the row limit before reading it.
    if not complete and len(lines) > 10:
        est_rows = text_bytes / (len("\n".join(lines).encode(encoding, errors="replace")) / len(lines))
        if est_rows > 1.5 * limits.max_rows:
            raise file_error(raw.name, f"the file has about {est_rows:,.0f} rows, over the limit of {limits.max_rows:,}",
                             LIMIT_FIX.format(field="max_rows"))
    wanted = text_columns(stripped) if callable(text_columns) else text_columns
    wanted = set(wanted)
    column_types = {raw_name: pa.string() for raw_name, clean in zip(header, stripped, strict=True) if clean in wanted}

    arrow_encoding = _ARROW_ENCODING.get(encoding, encoding)
    warnings: list[Problem] = []
    table = _arrow_read_csv(raw, compression, delim, arrow_encoding, column_types, len(header), limits)
    if any(pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type) for f in table.schema):
        # Not UTF-8 after all (only past the first 64 KB): read again as Windows-1252.
        table = _arrow_read_csv(raw, compression, delim, "cp1252", column_types, len(header), limits)
        encoding = "cp1252"
        warnings.append(Problem(raw.name, None, (), 0,
                                "the file is not valid UTF-8 throughout; it was read as Windows-1252 (Latin-1)",
                                "Check accented letters in the result; save the file as UTF-8 to be sure.",
                                "warning"))
    if table.num_rows == 0:
        raise file_error(raw.name, "the file has a header row but no data rows",
                         "Export the data again, including the rows, and import that file.", rows=(1,))
    if table.num_rows > limits.max_rows:
        raise file_error(raw.name, f"the file has {table.num_rows:,} rows, over the limit of {limits.max_rows:,}",
                         LIMIT_FIX.format(field="max_rows"))
    frame = table.to_pandas(split_blocks=True, self_destruct=True)
    del table
    frame, more = tidy_columns(frame, raw.name)
    warnings += more
    if frame.shape[1] == 1:
        only = str(frame.columns[0])
        found = [d for d in DELIMITERS if d in only and d != delim]
        if found:
            raise file_error(raw.name,
                             f"the file was read as a single column '{only[:60]}': it seems to be separated by "
                             f"{_DELIMITER_NAMES[found[0]]}, not {_DELIMITER_NAMES.get(delim, repr(delim))}",
                             "Choose the right delimiter (or let PromoLens detect it) and import again.",
                             column=only, rows=(1,))
    return LoadedTable(frame, raw.name, "csv", raw.sha256(), raw.size, encoding, delim, warnings)


def _arrow_read_csv(
    raw: RawFile, compression: str | None, delimiter: str, encoding: str,
    column_types: dict[str, pa.DataType], n_header: int, limits: ReadLimits,
) -> pa.Table:
    """Read with pyarrow; rows with a wrong number of fields become one clear DataError.

    A compressed file is read through a counter that stops at :func:`unpacked_limit` bytes of text.
    """
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
        with _compressed_stream(raw, compression) as native:
            stream = _CountingStream(native, unpacked_limit(limits)) if compression else native
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
    except UnpackedTooLarge:
        raise _unpacked_too_large(raw, str(compression), limits) from None
    except (pa.ArrowCapacityError, pa.ArrowInvalid, UnicodeDecodeError, OSError) as exc:
        message = str(exc).split("\n")[0]
        if isinstance(exc, pa.ArrowCapacityError) or "overflow" in message.lower() or "2147483" in message:
            raise file_error(raw.name, "one column of this file holds more than 2 GB of text, more than can be read "
                             "in one piece", "Split the file into smaller files (e.g. one per month) and import the "
                             "first, then add the others with 'Add new data' / promolens append.") from None
        raise file_error(raw.name, f"the file could not be read as CSV ({message})",
                         "Open it in a spreadsheet program and save it again as CSV (UTF-8).") from None
    if invalid:
        numbers = tuple(n for n, _, _ in invalid if n is not None)
        fields = sorted(field_counts)[:4]
        shown = "; ".join(f"'{t}'" for _, _, t in invalid[:2])
        n_bad = counts["rows"]
        raise file_error(
            raw.name,
            f"{n_bad:,} row{'s' if n_bad != 1 else ''} {'has' if n_bad == 1 else 'have'} "
            f"{' or '.join(map(str, fields))} fields but the header has {n_header} (e.g. {shown})",
            (f"Text that contains {_DELIMITER_NAMES.get(delimiter, repr(delimiter))} must be in double quotes; "
             "fix or delete these rows, or save the file again from a spreadsheet program."),
            rows=numbers, count=n_bad,
        )
    return table


__all__ = ["DELIMITERS", "UNPACKED_EXPANSION", "UnpackedTooLarge", "read_csv_file", "unpacked_limit"]
