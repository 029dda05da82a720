"""Import a clean interactions CSV in the engine: DuckDB reads, maps, checks and writes the Parquet.

The pandas path (:func:`~recsys.data.prepare.prepare_dataset`) reads the whole file into a frame,
factorises, de-duplicates by row hashes and writes the frame; at 5M rows that is several times
DuckDB's own ``COPY ... TO parquet`` of the same file. :func:`engine_interactions` does the common
case in DuckDB instead, in one streaming pass over the file plus checks over the Parquet it wrote:

1. The file's first rows (:data:`SAMPLE_BYTES`) go through the real pandas path. That decides the
   format, encoding, delimiter and column mapping, and gives every message, warning and cleaning
   step of the import, so what the engine path reports is what the pandas path reports.
2. ``COPY (SELECT ... FROM read_csv(...)) TO ... (FORMAT parquet)`` maps the columns, normalises the
   event names (the first rows' names looked up as pandas normalised them, others lower case and
   trimmed), gives each row its event weight, parses the dates in the format the pandas path picks
   first (only ``%Y %m %d %H %M %S`` formats) and the revenue as numbers. A date or number it cannot
   take exactly as the pandas path would stops the statement, and so does a date the pandas path
   reports (missing, before 1900, in the future) or a negative revenue: no second scan for them.
   When the first rows' revenue is plain numbers, the CSV reader reads it as numbers (as DuckDB's
   own COPY does); the statement is run again with the revenue as text if that reading met a text
   (``NA``), a very long line, or a row with a ``_`` (``1_000``, which DuckDB reads and pandas not).
3. A few queries over the written Parquet check every rule of the data contract that could find
   something, on distinct values where they can: ids (missing, surrounding spaces, invisible
   characters, too long, ``12.0``, leading zeros), events (names pandas might read otherwise), exact
   duplicate rows (a 64-bit hash of every column per row, sorted by numpy: a collision can only send
   the file to the pandas path, never drop a row), non-product codes, personal data in the customer
   ids (the same checks as :func:`~recsys.data.privacy.id_identifier_reason`, on the same sampled
   rows).

The file's sha256 (for the fingerprint, as the pandas path computes it) is read in a thread that
starts before step 1, so it uses the core the first rows' pandas run leaves idle before it shares
both cores with the COPY; it stops when the engine declines (the pandas path then hashes the file).
The same thread looks for a ``_`` after the header line (a memchr per chunk).

Whenever anything is found, or the file is something this path does not handle (users / items
files, extra columns that become facts, compressed, Excel, Parquet, another encoding than UTF-8,
pseudonymisation, quantity / unit price / order / weight columns, ...), the result says why and the
caller imports with the pandas path, which then produces its exact messages: the engine never
decides anything the pandas path would decide differently.

The Parquet file holds :data:`recsys.core.columns.INTERACTION_COLUMNS` with the dtypes the pandas path
stores (ids and events as dictionary-encoded text, ``timestamp`` in nanoseconds), in file order.
"""

from __future__ import annotations

import csv
import hashlib
import re
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.tseries.api import guess_datetime_format

from recsys.core import columns as C
from recsys.data import privacy
from recsys.data.clean import ImportContext
from recsys.data.dataset import PreparedDataset, SourceInfo
from recsys.data.files import CSV_EXPANSION, SNIFF_BYTES, RawFile
from recsys.data.mapping import ImportOptions, load_source
from recsys.data.prepare import dataset_fingerprint, empty_interactions, prepare_tables
from recsys.data.validate import MAX_CELL_CHARS, MAX_ID_CHARS, DataError

#: Bytes of the file's start read by the pandas path to learn the format, mapping and messages (what it sniffs).
SAMPLE_BYTES = SNIFF_BYTES
#: Canonical columns the engine path maps; a file that maps any other goes the pandas way.
ENGINE_COLUMNS = frozenset({C.USER_ID, C.ITEM_ID, C.EVENT, C.TIMESTAMP, C.VALUE})
#: Longest line DuckDB's CSV reader takes (a longer one stops the statement: the pandas path decides).
MAX_LINE_BYTES = 4_000_000
#: DuckDB's CSV read buffer. Its default is 16 lines of :data:`MAX_LINE_BYTES` (61 MiB, a few alive per
#: thread): most of the COPY's peak memory. Two lines is all the reader needs.
CSV_BUFFER_BYTES = 2 * MAX_LINE_BYTES
#: Most distinct customer ids that may look like phone numbers or e-mails before the engine gives up.
MAX_PERSONAL_CANDIDATES = 100_000
#: Text Arrow's CSV reader reads as a missing value (its default ``null_values``).
ARROW_NULLS = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
               "N/A", "NA", "NULL", "NaN", "n/a", "nan", "null")
#: A revenue cell the CSV reader may read as a number (:func:`_copy_rows`): plain digits, an exponent,
#: or Arrow's words for NaN; empty cells too.
_PLAIN_NUMBER = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|-?nan|-?NaN|"
_COMPRESSED = (b"\x1f\x8b", b"BZh", b"\x28\xb5\x2f\xfd", b"PAR1", b"PK\x03\x04", b"PK\x05\x06")
# A normalised event name that SQL and pandas agree on (printable ASCII, a letter first).
_EVENT_NORMAL = r"[a-z]([ -~]*[!-~])?"
# Printable ASCII without surrounding spaces: an id pandas keeps as it is.
_CLEAN_ID = r"[!-~]([ -~]*[!-~])?"
# Date directives DuckDB's and Arrow's strptime read alike (not %y's century, month names, zones, %f).
_FORMAT_DIRECTIVES = r"%[YmdHMS]"
# An id that may be an e-mail address, a phone or a bank account number (privacy's checks need an
# @, 7 digits or more, or two capitals and two digits first): a superset, checked by privacy itself.
_MAYBE_PERSONAL = ("contains({x}, '@') OR length({x}) >= 7 AND regexp_matches({x}, '" + "[0-9][^0-9]*" * 6 + "[0-9]') "
                   "OR length({x}) >= 15 AND regexp_full_match({x}, '[A-Z]{{2}}[0-9]{{2}}.*')")


@dataclass
class EngineImport:
    """What :func:`engine_interactions` produced: the prepared dataset (its interactions frame is
    empty: the rows are in ``path``) and the counts the catalogue keeps; or why it stood aside."""

    prepared: PreparedDataset | None
    path: Path | None
    rows: int = 0
    n_users: int = 0
    n_items: int = 0
    reason: str = ""


def _declined(reason: str) -> EngineImport:
    return EngineImport(None, None, reason=reason)


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _sql_list(values) -> str:  # noqa: ANN001 - any iterable of text
    return "(" + ", ".join(_sql_text(v) for v in values) + ")"


def _sample(raw: RawFile) -> bytes:
    """The file's first :data:`SAMPLE_BYTES`, cut after the last complete line."""
    head = raw.head(SAMPLE_BYTES)
    if len(head) < raw.size:
        head = head[: head.rfind(b"\n") + 1]
    return head


def _hash_file(
    raw: RawFile, out: list[str], stop: threading.Event, underscore: threading.Event | None = None,
) -> None:
    """The file's sha256 into ``out``; ``underscore`` is set when a ``_`` follows the header line (or
    the file could not be read to its end): the typed revenue reading must then be checked as text."""
    digest = hashlib.sha256()
    complete = False
    try:
        with open(raw.path, "rb") as fh:  # type: ignore[arg-type]
            in_header = True
            for chunk in iter(lambda: fh.read(4 * 1024 * 1024), b""):
                if stop.is_set():  # the engine declined: the pandas path hashes the file itself
                    return
                digest.update(chunk)  # releases the GIL: runs beside the first rows' pandas run and DuckDB
                if underscore is None or underscore.is_set():
                    continue
                rows_from = 0
                if in_header:
                    newline = chunk.find(b"\n")
                    if newline < 0:
                        continue  # a header line longer than the chunk
                    in_header, rows_from = False, newline + 1
                if chunk.find(b"_", rows_from) >= 0:  # memchr: a few ms per 100 MB
                    underscore.set()
        out.append(digest.hexdigest())
        complete = True
    finally:
        if not complete and underscore is not None:
            underscore.set()


def _first_format(first: str) -> str | None:
    """The date format the pandas path tries first (:func:`recsys.data.parse.parse_timestamps`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "parsing dates in %d/%m/%Y format when dayfirst=False": as parse.py
        fmt = guess_datetime_format(first.strip(), dayfirst=False)
    if not fmt or "%" in re.sub(_FORMAT_DIRECTIVES, "", fmt):
        return None
    return fmt


def engine_interactions(
    source: object, shown: str, overrides: Mapping[str, Mapping[str, str | None]], options: ImportOptions,
    folder: Path, *, threads: int = 2, memory_limit: str = "1GB",
) -> EngineImport:
    """Import an interactions CSV in DuckDB into ``folder / "interactions.parquet"``, or say why not.

    Parameters
    ----------
    source
        The interactions file (only a path to a plain CSV is handled).
    shown
        The file name used in messages.
    overrides, options
        As for :func:`~recsys.data.prepare.prepare_dataset`.
    folder
        Where the Parquet file (and DuckDB's spill files) go.

    Returns
    -------
    EngineImport
        ``prepared`` is None (with ``reason``) when the pandas path must import the file.
    """
    if not isinstance(source, (str, Path)):
        return _declined("not a file path")
    if options.pseudonymise_key is not None or options.user_columns or options.item_columns:
        return _declined("pseudonymisation or chosen fact columns")
    if options.problems() or set(overrides) - {C.Table.INTERACTIONS.value}:
        return _declined("problems with the options or the mapping")
    try:
        raw = RawFile.of(source, shown)
    except DataError:
        return _declined("no such file")
    limits = options.limits
    if raw.size == 0 or raw.size > limits.max_file_bytes or raw.size * CSV_EXPANSION > limits.max_memory_bytes:
        return _declined("file size outside the limits")
    if raw.head(8).startswith(_COMPRESSED):
        return _declined("compressed, Parquet, Excel or zip")
    # The file's sha256 from the start, beside the first rows' pandas run (one core) and the COPY.
    digest: list[str] = []
    stop, underscore = threading.Event(), threading.Event()
    hasher = threading.Thread(target=_hash_file, args=(raw, digest, stop, underscore), daemon=True)
    hasher.start()
    try:
        return _import(raw, shown, overrides, options, folder, threads, memory_limit, hasher, digest, underscore)
    finally:
        stop.set()  # stops the hash only if it is still running: the engine declined
        hasher.join()


def _import(
    raw: RawFile, shown: str, overrides: Mapping[str, Mapping[str, str | None]], options: ImportOptions,
    folder: Path, threads: int, memory_limit: str, hasher: threading.Thread, digest: list[str],
    underscore: threading.Event,
) -> EngineImport:
    """:func:`engine_interactions` after its cheap checks; ``hasher`` puts the file's sha256 in ``digest``
    and sets ``underscore`` when a row holds a ``_``."""
    limits = options.limits

    # 1. The first rows through the pandas path: format, mapping, every message and report step.
    table = C.Table.INTERACTIONS
    sample = _sample(raw)
    # (not the personal-data check of the first rows' customer ids: _personal_ids does the whole file's,
    # as the pandas path would; the first rows' could only decline files the pandas path then takes)
    ctx = ImportContext(options, check_personal_ids=False)
    try:
        loaded = load_source(sample, shown, table, overrides.get(table.value), options)
        for w in loaded.warnings:
            ctx.add(w)
        prepared = prepare_tables({table: loaded}, overrides, options, context=ctx)
    except DataError:
        return _declined("the first rows have problems")
    if loaded.format != "csv" or loaded.encoding not in ("utf-8", "utf-8-sig") or loaded.delimiter is None:
        return _declined("not a UTF-8 CSV")
    mapping = prepared.mapping[table.value]
    header = [str(c) for c in loaded.frame.columns]
    first_line = sample.decode("utf-8-sig", errors="replace").splitlines()[0]
    if len(next(csv.reader([first_line], delimiter=loaded.delimiter))) != len(header):
        return _declined("unnamed or empty columns")
    if set(mapping) - ENGINE_COLUMNS or set(mapping.values()) != set(header):
        return _declined("columns the engine does not map (facts, quantity, price, order, weight)")
    if any(w.count or w.rows not in ((), (1,)) for w in prepared.warnings):
        return _declined("the first rows have warnings")
    if any(step.count for step in prepared.report.steps):
        return _declined("the first rows needed cleaning")
    if list(prepared.users.columns) != [C.USER_ID] or list(prepared.items.columns) != [C.ITEM_ID]:
        return _declined("facts found in the interactions")

    rows_as_written = list(csv.reader(sample.decode("utf-8-sig", errors="replace").splitlines()[1:],
                                      delimiter=loaded.delimiter))

    def written(canonical: str) -> pd.Series:  # the sample's cells of one column, as text
        position = header.index(mapping[canonical])
        return pd.Series([r[position] if len(r) > position else "" for r in rows_as_written], dtype="str")

    fmt = None
    if C.TIMESTAMP in mapping:
        dates = written(C.TIMESTAMP).str.strip()
        dates = dates[(dates != "") & ~dates.isin(ARROW_NULLS)]
        fmt = _first_format(str(dates.iloc[0])) if len(dates) else None
        if fmt is None or dates.str.fullmatch(r"[0-9.eE+-]+").any():
            return _declined("dates the engine does not parse like the pandas path")
    events = event_names(written(C.EVENT)) if C.EVENT in mapping else {}
    # Revenue read as numbers by the CSV reader when the first rows hold only plain numbers and no row
    # so far holds a '_' (DuckDB reads 1_000 as 1000; pandas does not): see _copy_rows.
    typed = (C.VALUE in mapping and written(C.VALUE).str.strip().str.fullmatch(_PLAIN_NUMBER).all()
             and sample.find(b"_", sample.find(b"\n") + 1) < 0)

    # 2. One streaming pass: map, normalise, parse, write.
    import duckdb

    target = folder / f"{table.value}.parquet"
    try:
        with duckdb.connect(config={"threads": threads, "memory_limit": memory_limit,
                                    "temp_directory": str(folder / "duckdb.tmp")}) as con:
            copy = _Copy(raw, header, mapping, loaded.delimiter, fmt, events, options, target)
            counts = _copy_and_check(con, copy, typed, hasher, underscore)
            if isinstance(counts, str):
                return _declined(counts)
            rows, n_users, n_items, personal = counts
            reason = _personal_ids(con, target, mapping[C.USER_ID], rows, personal)
            if reason:
                return _declined(reason)
    except duckdb.Error as exc:
        return _declined(f"DuckDB stopped: {str(exc).splitlines()[0][:200]}")
    if rows > limits.max_rows:
        return _declined("over the row limit")
    hasher.join()  # not stopped: the whole file's digest
    if not digest:
        return _declined("the file could not be hashed")

    prepared.report.rows_in[table.value] = rows
    prepared.report.rows_out[table.value] = rows
    prepared.sources = [SourceInfo(table.value, loaded.name, digest[0], raw.size, rows)]
    prepared.fingerprint = dataset_fingerprint(prepared.sources, prepared.mapping, options)
    prepared = replace(prepared, interactions=empty_interactions())
    return EngineImport(prepared, target, rows, n_users, n_items)


def event_names(raw: pd.Series) -> dict[str, str]:
    """Event names as written -> as the pandas path stores them (trimmed, lower case, aliases).

    Only names Arrow reads as text and pandas and SQL compare alike: a letter first, no control
    characters, not a word Arrow reads as missing, true/false or a number.
    """
    odd = {v.lower() for v in ARROW_NULLS} | {"true", "false", "inf", "infinity"}
    names = {}
    for value in pd.unique(raw.dropna()):  # the distinct names of the sample: a handful
        text = str(value)
        clean = text.strip().lower()
        if clean and clean[0].isalpha() and text.isprintable() and clean not in odd and len(text) < MAX_CELL_CHARS:
            names[text] = C.EVENT_ALIASES.get(clean, clean)
    return names


def _event_sql(column: str | None, mapping: dict[str, str], events: dict[str, str]) -> str:
    """The normalised event of a row: the sample's names by lookup, others lower case and trimmed
    (those are checked afterwards)."""
    default = C.PURCHASE if (C.VALUE in mapping or C.QUANTITY in mapping) else C.INTERACTION
    if column is None:
        return _sql_text(default)
    lowered = f"lower(trim({column}))"
    if not events:
        return lowered
    cases = " ".join(f"WHEN {_sql_text(k)} THEN {_sql_text(v)}" for k, v in events.items())
    return f"CASE {column} {cases} ELSE {lowered} END"


def _value_sql(column: str | None, typed: bool = False) -> str:
    """Revenue as a number, or NULL; NaN and infinities are left for :data:`_REVENUE_SQL` to stop.

    As text (``typed`` False): a number DuckDB reads and Arrow or pandas read alike (no '_', under
    400 characters); Arrow's words for missing are missing (none of them is a finite number); any
    other text (such as '1,5' or '€3', which pandas reads with a report) stops the statement, so the
    pandas path decides. The words are tested first and the text is cast only in its own ``CASE``
    branch: the common missing revenue costs one lookup, not a cast.

    Typed (the CSV reader read the column as ``DOUBLE``; :func:`_copy_rows` says when): any NaN is
    missing, as in the numeric column Arrow then reads (its ``nan`` in any case, like DuckDB's).
    """
    if column is None:
        return "CAST(NULL AS DOUBLE)"
    if typed:
        return f"CASE WHEN isnan({column}) THEN CAST(NULL AS DOUBLE) ELSE {column} END"
    return (f"CASE WHEN {column} IS NULL OR {column} IN {_sql_list(ARROW_NULLS)} THEN CAST(NULL AS DOUBLE) "
            f"WHEN strlen({column}) < 400 AND NOT contains({column}, '_') THEN CAST({column} AS DOUBLE) "
            "ELSE error('value') END")


#: SQL: the revenue ``xv`` (:func:`_value_sql`) if missing or finite and not negative; NaN, infinite or
#: negative (refunds, which the pandas path reports) stops the statement.
_REVENUE_SQL = "CASE WHEN xv IS NULL OR isfinite(xv) AND xv >= 0 THEN xv ELSE error('value') END"


def _bad_id(x: str, options: ImportOptions) -> str:
    """SQL: the id ``x`` is one the pandas path would clean, refuse or check further."""
    return (f"{x} IS NULL OR NOT regexp_full_match({x}, '{_CLEAN_ID}') OR length({x}) > {MAX_ID_CHARS} "
            f"OR {x} IN {_sql_list(ARROW_NULLS)} OR contains({x}, '.') AND regexp_full_match({x}, '-?[0-9]+\\.0+')"
            + (f" OR starts_with({x}, '0')" if options.leading_zero_ids != "keep" else ""))


@dataclass
class _Copy:
    """The COPY of the CSV into the interactions Parquet (:func:`_copy_rows`)."""

    raw: RawFile
    header: list[str]
    mapping: dict[str, str]
    delimiter: str
    fmt: str | None
    events: dict[str, str]
    options: ImportOptions
    target: Path

    def sql(self, typed: bool) -> str:
        """The statement; ``typed``: the revenue column read as numbers by the CSV reader."""
        names = {theirs: f"c{i}" for i, theirs in enumerate(self.header)}
        col = {canonical: names[theirs] for canonical, theirs in self.mapping.items()}
        value = col.get(C.VALUE)
        columns = "{" + ", ".join(f"'c{i}': '{'DOUBLE' if typed and f'c{i}' == value else 'VARCHAR'}'"
                                  for i in range(len(self.header))) + "}"
        # typed: a line the pandas path may report as too long (a cell over MAX_CELL_CHARS) stops it
        line = min(MAX_LINE_BYTES, MAX_CELL_CHARS) if typed else MAX_LINE_BYTES
        reader = (f"read_csv({_sql_text(str(self.raw.path))}, columns={columns}, header=true, "
                  f"delim={_sql_text(self.delimiter)}, quote='\"', escape='\"', strict_mode=true, null_padding=false, "
                  f"ignore_errors=false, auto_detect=false, encoding='utf-8', max_line_size={line}, "
                  f"buffer_size={CSV_BUFFER_BYTES})")
        weights = self.options.weights()
        weight = ("CASE e " + " ".join(f"WHEN {_sql_text(k)} THEN {float(v)!r}" for k, v in weights.items())
                  + " ELSE 1.0 END") if weights else "1.0"
        fmt = self.fmt
        ts = (f"CAST(strptime({col[C.TIMESTAMP]}, {_sql_text(fmt)}) AS TIMESTAMP_NS)" if fmt is not None
              else "CAST(NULL AS TIMESTAMP_NS)")
        given = self.options.now
        now = pd.Timestamp.now(tz="UTC").tz_localize(None) if given is None else pd.Timestamp(given)
        if now.tzinfo is not None:
            now = now.tz_convert("UTC").tz_localize(None)
        latest = now + pd.Timedelta(days=1)
        # a missing, old or future date stops the statement, as a negative revenue does (_REVENUE_SQL)
        dated = (f"CASE WHEN xt >= TIMESTAMP '1900-01-01' AND xt <= TIMESTAMP '{latest:%Y-%m-%d %H:%M:%S.%f}' "
                 "THEN xt ELSE error('date') END") if fmt is not None else "xt"
        return (
            f"COPY (SELECT u AS {C.USER_ID}, i AS {C.ITEM_ID}, e AS {C.EVENT}, t AS {C.TIMESTAMP}, "
            f"CAST({weight} AS DOUBLE) AS {C.WEIGHT}, x AS {C.VALUE} FROM ("
            f"SELECT u, i, e, {dated} AS t, {_REVENUE_SQL} AS x FROM ("
            f"SELECT {col[C.USER_ID]} AS u, {col[C.ITEM_ID]} AS i, "
            f"{_event_sql(col.get(C.EVENT), self.mapping, self.events)} AS e, "
            f"{ts} AS xt, {_value_sql(value, typed)} AS xv FROM {reader}))) "
            f"TO {_sql_text(str(self.target))} (FORMAT parquet)"
        )


def _copy_rows(
    con, copy: _Copy, typed: bool, hasher: threading.Thread, underscore: threading.Event,  # noqa: ANN001
) -> int:
    """Run the COPY; the rows written.

    Typed first when ``typed`` (the revenue column then costs what it costs DuckDB's own COPY: at 5M
    rows 0.1 s less of a 1.5 s statement than as text): DuckDB's number reader and the pandas path agree on
    every text both read, except digits grouped by '_'. So the typed COPY counts only when no row
    holds a '_' (``underscore``, from the file's hash thread: done by the time the COPY is) and no
    line is longer than :data:`~recsys.data.validate.MAX_CELL_CHARS`; otherwise, or when the reader
    meets a text it cannot read as a number ('NA', '1,5', ...), the COPY is run again with the
    revenue as text, which decides exactly as before.
    """
    import duckdb

    if typed:
        try:
            rows = int(con.execute(copy.sql(typed=True)).fetchall()[0][0])
        except duckdb.ConversionException:
            pass
        except duckdb.InvalidInputException as exc:
            if "maximum line size" not in str(exc).lower():
                raise  # a date, a refund, the file's layout: the text COPY would stop there too
        else:
            hasher.join()
            if not underscore.is_set():
                return rows
    return int(con.execute(copy.sql(typed=False)).fetchall()[0][0])  # COPY's answer: the rows written


def _copy_and_check(
    con, copy: _Copy, typed: bool, hasher: threading.Thread, underscore: threading.Event,  # noqa: ANN001
) -> tuple[int, int, int, int] | str:
    """Write the interactions Parquet; (rows, customers, offers, ids maybe personal), or why the pandas path must decide."""
    rows = _copy_rows(con, copy, typed, hasher, underscore)
    events, options, target = copy.events, copy.options, copy.target
    odd = _sql_list(sorted({v.lower() for v in ARROW_NULLS} | {"true", "false", "inf", "infinity"}))
    known = _sql_list(sorted(set(events.values()))) if events else "('')"
    parquet = f"read_parquet({_sql_text(str(target))})"
    if rows == 0:
        return "no rows"
    # Exact duplicates: a 64-bit hash of every column per row, sorted (cheaper than DuckDB's hash set);
    # equal hashes (a duplicate, or a collision) send the file to the pandas path, which compares rows.
    hashes = con.execute(
        f"SELECT hash({C.USER_ID}, {C.ITEM_ID}, {C.EVENT}, {C.TIMESTAMP}, {C.VALUE}) AS h FROM {parquet}"
    ).fetchnumpy()["h"]
    repeated: list[bool] = []
    sorter = threading.Thread(target=lambda: repeated.append(_any_repeated(hashes)), daemon=True)
    sorter.start()  # numpy sorts beside DuckDB's next queries (both release the GIL)

    def distinct(column: str, *conditions: str) -> list[int]:  # one scan of one column, checks on its distinct values
        counts = ", ".join(f"count(*) FILTER ({c})" for c in conditions)
        sql = f"SELECT count(*), {counts} FROM (SELECT DISTINCT {column} AS x FROM {parquet})"
        return [int(v) for v in con.execute(sql).fetchall()[0]]

    n_users, bad_users, personal = distinct(C.USER_ID, _bad_id("x", options), _MAYBE_PERSONAL.format(x="x"))
    n_items, bad_items, digits, short = distinct(
        C.ITEM_ID, _bad_id("x", options), "regexp_matches(x, '[0-9]')",
        "NOT regexp_matches(x, '[0-9]') AND length(x) <= 4")
    _, bad_events = distinct(C.EVENT, f"x IS NULL OR x NOT IN {known} AND (NOT regexp_full_match(x, '{_EVENT_NORMAL}') "
                                      f"OR length(x) > {MAX_CELL_CHARS} OR x IN {odd})")
    sorter.join()
    del hashes
    if repeated[0]:
        return "duplicate rows (or a hash collision)"
    if bad_users or bad_items:
        return "ids that need cleaning or checking"
    if personal > MAX_PERSONAL_CANDIDATES:
        return "many ids that may be personal data"
    if bad_events:
        return "event names the engine does not normalise like the pandas path"
    if not options.keep_non_product_lines and n_items and digits / n_items >= 0.8 and short:
        return "non-product lines"
    return rows, n_users, n_items, personal


def _any_repeated(hashes: np.ndarray) -> bool:
    hashes.sort()
    return bool((hashes[1:] == hashes[:-1]).any())


def _personal_ids(con, target: Path, column: str, rows: int, personal: int) -> str | None:  # noqa: ANN001
    """Why the customer ids may be personal data (the pandas path then decides), or None.

    The same checks as :func:`~recsys.data.privacy.id_identifier_reason`: every distinct id that
    could be an e-mail, phone or bank account number (found by SQL; the few candidates checked by
    :func:`~recsys.data.privacy.identifier_values`), and the content check on the same rows
    :func:`~recsys.data.privacy.identifier_reason` samples.
    """
    parquet = f"read_parquet({_sql_text(str(target))})"
    if personal:  # a few distinct ids that might be e-mails, phones or accounts: privacy's own checks
        candidates = con.execute(
            f"SELECT DISTINCT {C.USER_ID} AS x FROM {parquet} WHERE {_MAYBE_PERSONAL.format(x=C.USER_ID)}"
        ).fetchnumpy()["x"]
        if privacy.identifier_values(pd.Series(candidates, dtype="str")).notna().any():
            return "ids that look like personal data"
    size = privacy.SAMPLE_SIZE
    if rows > 4 * size:  # the positions privacy's sample takes
        positions = np.sort(np.random.default_rng(0).choice(rows, size=4 * size, replace=False))
        con.register("engine_positions", pd.DataFrame({"n": positions}))
        picked = con.execute(
            f"SELECT {C.USER_ID} AS x FROM read_parquet({_sql_text(str(target))}, file_row_number=true) "
            "SEMI JOIN engine_positions ON file_row_number = n ORDER BY file_row_number"
        ).fetchnumpy()["x"]
        con.unregister("engine_positions")
    else:
        picked = con.execute(f"SELECT {C.USER_ID} AS x FROM {parquet}").fetchnumpy()["x"]
    if len(picked) != min(rows, 4 * size):
        return "the sampled rows could not be read back"
    if privacy.identifier_reason(column, pd.Series(picked, dtype="str")) is not None:
        return "ids that look like personal data"
    return None


__all__ = ["EngineImport", "engine_interactions", "event_names", "SAMPLE_BYTES", "ENGINE_COLUMNS", "ARROW_NULLS"]
