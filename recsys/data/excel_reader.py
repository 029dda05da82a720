"""Read zip archives and Excel workbooks without letting them exhaust the machine.

A zip archive (an ``.xlsx`` is one) is checked against zip bombs from the sizes it declares,
before anything is unpacked. A workbook's first non-empty sheet is read with openpyxl; formulas
are never run: the results the spreadsheet program saved are read, and a formula without a saved
result is an error naming its cells.
"""

from __future__ import annotations

import io as _io
import re
import warnings as _warnings
import zipfile
from collections.abc import Callable, Collection, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from recsys.data.files import (
    CSV_EXPANSION,
    LIMIT_FIX,
    RawFile,
    ReadLimits,
    file_error,
    size_text,
    tidy_columns,
    too_many_columns,
)
from recsys.data.validate import DataError, Problem, check_duplicate_columns, visible

# Python objects openpyxl creates per Excel cell while reading, roughly.
_EXCEL_BYTES_PER_CELL = 200
# Bytes in memory per byte of sheet XML while openpyxl reads it (a cell is ~40 bytes of XML), roughly.
_EXCEL_XML_EXPANSION = 4.0
# Parts of a zip smaller than this once unpacked are never a threat, whatever their ratio.
_UNPACKED_MIN_BYTES = 1024**2
# Sheet XML is scanned for formulas in pieces of about this size.
_XML_CHUNK = 16 * 1024**2


def unzip_table(raw: RawFile, limits: ReadLimits) -> bytes | None:
    """The CSV inside a zip archive, or None when the archive is an Excel workbook.

    Raises for a zip bomb, a damaged archive, an OpenDocument file or an archive that holds
    anything but exactly one CSV.
    """
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
                    raise file_error(raw.name, "this is an OpenDocument (LibreOffice) file",
                                     "Save it as Excel (.xlsx) or CSV and import that.")
                if len(tables) != 1:
                    raise file_error(raw.name, f"this is a zip archive with {len(names)} files, not one table",
                                     "Unpack it and import the CSV, Parquet or Excel file itself.")
                member = tables[0]
                if member.file_size > limits.max_file_bytes:
                    raise file_error(raw.name, f"the CSV inside the zip is {size_text(member.file_size)}, over the "
                                     f"limit of {size_text(limits.max_file_bytes)}", LIMIT_FIX.format(field="max_file_bytes"))
                if member.file_size * CSV_EXPANSION > limits.max_memory_bytes:
                    raise file_error(raw.name, f"reading the CSV inside the zip would need about "
                                     f"{size_text(member.file_size * CSV_EXPANSION)} of memory, over the limit of "
                                     f"{size_text(limits.max_memory_bytes)}", LIMIT_FIX.format(field="max_memory_bytes"))
                inner = archive.read(member)
    except zipfile.BadZipFile:
        raise file_error(raw.name, "the file looks like a zip archive or Excel workbook but is damaged",
                         "Save or export it again and import the new file.") from None
    return None if is_excel else inner


def _check_unpacked_sizes(name: str, members: Sequence[zipfile.ZipInfo], limits: ReadLimits, excel: bool) -> None:
    """Refuse a zip bomb from the sizes the archive declares, before anything is unpacked.

    Python's zipfile never unpacks more than a part's declared size, so the declared sizes bound
    what reading can cost.
    """
    what = "Excel workbook" if excel else "zip archive"
    for member in members:  # a loop over the archive's parts
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > _UNPACKED_MIN_BYTES and ratio > limits.max_unpacked_ratio:
            raise file_error(
                name,
                f"part '{visible(member.filename)}' of this {what} unpacks from {size_text(member.compress_size)} to "
                f"{size_text(member.file_size)} ({ratio:,.0f} times its packed size; real workbooks pack 5 to 20 times): "
                "it looks like a zip bomb, a file made to exhaust the memory of whoever opens it, and it was not "
                "unpacked",
                ("If you made this file, open it in Excel and save it again, or save the sheet as CSV and import "
                 "that; otherwise delete it. (The limit is ReadLimits.max_unpacked_ratio.)"),
            )
    unpacked = sum(m.file_size for m in members)
    if excel and unpacked * _EXCEL_XML_EXPANSION > limits.max_memory_bytes:
        raise file_error(name, f"the workbook unpacks to {size_text(unpacked)}; reading it would need about "
                         f"{size_text(unpacked * _EXCEL_XML_EXPANSION)} of memory, over the limit of {size_text(limits.max_memory_bytes)}",
                         "Save the sheet as CSV (or Parquet) and import that: both read much faster. "
                         + LIMIT_FIX.format(field="max_memory_bytes"))


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


def _formula_problems(raw: RawFile, sheet: str, sheet_path: str | None, names: Sequence[str]) -> list[Problem]:
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


def read_excel_file(
    raw: RawFile, limits: ReadLimits,
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
        raise file_error(raw.name, f"the Excel file is damaged or protected and cannot be read ({str(exc)[:120]})",
                         "Open it in Excel, save it again as .xlsx (without a password) or as CSV, and import "
                         "that.") from None
    if chosen is None or not any(v is not None for v in header):
        raise file_error(raw.name, "the Excel workbook is empty", "Choose the workbook that holds the data.")
    sheet, n_rows, n_cols = chosen
    width = max((i + 1 for i, v in enumerate(header) if v is not None), default=0)
    if width > limits.max_columns:
        raise too_many_columns(raw.name, width, limits, where=f"sheet '{sheet}'")
    if not any(v is not None for v in second):
        raise file_error(raw.name, f"sheet '{sheet}' has a header row but no data rows",
                         "Put the data under the header row and import again.", rows=(1,))
    others = [s[0] for s in sheets if s[0] != sheet and s[1] > 0]
    if others:
        warnings.append(Problem(raw.name, None, (), 0,
                                f"the workbook has several sheets; sheet '{sheet}' was read and "
                                f"{', '.join(repr(o) for o in others)} ignored",
                                "Put the data in the first sheet, or save that sheet as its own file.", "warning"))
    if n_rows - 1 > limits.max_rows:
        raise file_error(raw.name, f"sheet '{sheet}' has {n_rows - 1:,} rows, over the limit of {limits.max_rows:,}",
                         LIMIT_FIX.format(field="max_rows"))
    estimate = n_rows * max(n_cols, len(header)) * _EXCEL_BYTES_PER_CELL
    if estimate > limits.max_memory_bytes:
        raise file_error(raw.name, f"reading sheet '{sheet}' ({n_rows:,} rows x {n_cols} columns) would need about "
                         f"{size_text(estimate)} of memory, over the limit of {size_text(limits.max_memory_bytes)}",
                         LIMIT_FIX.format(field="max_memory_bytes"))
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
    frame, more = tidy_columns(frame, raw.name)
    frame = frame.dropna(how="all")
    return frame, warnings + more


__all__ = ["unzip_table", "read_excel_file"]
