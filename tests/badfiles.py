"""Builders of bad input files, one per kind of problem an import must refuse with a clear message.

Each ``make_xxx(dir)`` writes its files into ``dir`` and returns a :class:`BadCase`: the bad file,
which input it is, a regex the :class:`~recsys.data.validate.DataError` text must match, and the limits
or options that make it bad. ``ALL_BAD_CASES`` lists every builder; store- and page-level tests reuse
them to check that a refused import changes nothing in the workspace::

    case = make_duplicate_columns(tmp_path)
    with pytest.raises(DataError, match=case.expect):
        case.run()            # or: prepare_dataset(**case.inputs(), options=case.import_options())

Row numbers follow the spreadsheet convention of the messages: header = row 1, first data row = 2.

Every file is generated here, into a temporary directory, at test time: no binary fixture is
committed. ``tests/test_hostile_files.py`` runs every case against every entry point (the Data page,
``promolens import`` and the outcomes upload of ``promolens measure`` / the Measure page) and checks
that the workspace is byte-for-byte unchanged. Besides the problems of the foundation issue the
corpus holds hostile files: 100,000-character cells, control characters and right-to-left marks in
ids, a zip bomb in .xlsx form, an .xlsx with formulas, a CSV with 10,000 columns, path-like upload
names and (:func:`write_pickled_model`) a model file that is a pickle.
"""

from __future__ import annotations

import dataclasses
import functools
import pickle
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from recsys.data.dataset import PreparedDataset
from recsys.data.files import ReadLimits, display_name
from recsys.data.mapping import ImportOptions
from recsys.data.prepare import prepare_dataset


@dataclass
class BadCase:
    """One bad input and what the import must say about it."""

    path: Path
    kind: str  # "interactions", "users" or "items": which input is bad
    expect: str  # a regex that str(DataError) must match
    limits: ReadLimits | None = None
    options: ImportOptions | None = None
    column: str | None = None  # the user's column the problem must name (None: a file-level problem)
    rows: tuple[int, ...] = ()  # example rows the problem must list
    companions: dict[str, Path] = field(default_factory=dict)  # good files needed alongside
    upload_name: str | None = None  # the name a browser sends with the upload (default: the file's)
    outcomes: str | None = None  # regex for the same file uploaded as campaign outcomes (None: not an outcomes problem)
    outcome_column: str = "quantity"  # the outcome measured when the file is uploaded as outcomes
    default_expect: str | None = None  # the message where ``options.now`` cannot be set (page, CLI)
    also: tuple[str, ...] = ()  # regexes of further problems the same report must list

    @property
    def name(self) -> str:
        """The file name every message must show (a path-like upload name shows only its last part,
        with invisible characters written out)."""
        return display_name(self.path.name)

    @property
    def shown_upload_name(self) -> str:
        return self.upload_name if self.upload_name is not None else self.path.name

    def expect_with_default_options(self) -> str:
        """The message where only the limits and the delimiter can be set (the Data page, the CLI)."""
        return self.default_expect or self.expect

    def env(self) -> dict[str, str]:
        """The case's limits as the environment variables the app and the CLI read."""
        if self.limits is None:
            return {}
        default, env = ReadLimits(), {}
        for field_name, variable, scale in (("max_file_bytes", "PROMOLENS_MAX_FILE_MB", 1024**2),
                                            ("max_memory_bytes", "PROMOLENS_MAX_MEMORY_MB", 1024**2),
                                            ("max_rows", "PROMOLENS_MAX_ROWS", 1),
                                            ("max_columns", "PROMOLENS_MAX_COLUMNS", 1)):
            value = getattr(self.limits, field_name)
            if value != getattr(default, field_name):
                env[variable] = repr(value / scale) if scale != 1 else str(value)
        return env

    def cli_options(self) -> list[str]:
        """``promolens import`` flags for the case's options (the limits go through :meth:`env`)."""
        if self.options is not None and self.options.delimiter is not None:
            return ["--delimiter", self.options.delimiter]
        return []

    def page_skip(self) -> str | None:
        """Why the Data page cannot show this case, or None."""
        if self.options is not None and self.options.delimiter is not None:
            return "the Data page always detects the delimiter (forcing a wrong one is a CLI/API option)"
        return None

    def inputs(self) -> dict[str, Path]:
        """Keyword arguments for :func:`prepare_dataset`: the bad file plus its good companions."""
        return {**self.companions, self.kind: self.path}

    def import_options(self) -> ImportOptions:
        options = self.options or ImportOptions()
        if self.limits is not None:
            options = dataclasses.replace(options, limits=self.limits)
        return options

    def upload_names(self) -> dict[str, str]:
        """``names`` for :func:`prepare_dataset`: what a browser sends with each upload."""
        return {**{k: p.name for k, p in self.companions.items()}, self.kind: self.shown_upload_name}

    def run(self) -> PreparedDataset:
        return prepare_dataset(**self.inputs(), options=self.import_options(), names=self.upload_names())


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _outcomes_too(case: BadCase) -> BadCase:
    """The same file uploaded as campaign outcomes gets the same message (a file-level problem)."""
    return dataclasses.replace(case, outcomes=case.expect)


def _good_interactions(dir: Path) -> Path:
    return _write(dir / "good_interactions.csv",
                  "user_id,item_id,event,timestamp\n"
                  "u1,i1,click,2024-01-01\nu2,i2,view,2024-01-02\nu3,i1,redeem,2024-01-03\n")


def make_empty_file(dir: Path) -> BadCase:
    path = dir / "empty.csv"
    path.write_bytes(b"")
    return _outcomes_too(BadCase(path, "interactions", r"empty\.csv: the file is empty"))


def make_header_only(dir: Path) -> BadCase:
    path = _write(dir / "header_only.csv", "user_id,item_id,event\n")
    return _outcomes_too(BadCase(path, "interactions", r"header row but no data rows", rows=(1,)))


def make_wrong_delimiter(dir: Path) -> BadCase:
    path = _write(dir / "colons.csv", "user_id:item_id:event\nu1:i1:click\nu2:i2:view\nu3:i3:click\n")
    return _outcomes_too(BadCase(path, "interactions", r"separated by ':'.*Fix: Save the file as CSV with commas", rows=(1,)))


def make_forced_wrong_delimiter(dir: Path) -> BadCase:
    path = _write(dir / "semicolons.csv", "user_id;item_id;event\nu1;i1;click\nu2;i2;view\n")
    return BadCase(path, "interactions", r"read as a single column 'user_id;item_id;event'.*semicolons",
                   options=ImportOptions(delimiter=","), column="user_id;item_id;event", rows=(1,))


def make_mixed_delimiters(dir: Path) -> BadCase:
    path = _write(dir / "mixed.csv", "user_id;item_id;event\nu1,i1,click\nu2,i2,view\nu3,i3,click\n")
    return _outcomes_too(BadCase(path, "interactions", r"header row is separated by semicolons but the data rows by commas",
                   rows=(1, 2)))


def make_missing_id_column(dir: Path) -> BadCase:
    path = _write(dir / "no_customer.csv", "shopper,product,when\nann,p1,2024-01-01\nbob,p2,2024-01-02\n")
    return BadCase(path, "interactions",
                   r"no customer id column \(user_id\); its columns are 'shopper', 'product', 'when'\. "
                   r"Fix: If 'shopper' holds the customer id",
                   outcomes=r"no_customer\.csv: no customer id column was found\. Fix: Name the column with the customer ids")


def make_duplicate_columns(dir: Path) -> BadCase:
    path = _write(dir / "dup_columns.csv", "user_id,item_id,item_id\nu1,i1,i2\nu2,i2,i3\n")
    return _outcomes_too(BadCase(path, "interactions", r"column 'item_id': the column name 'item_id' occurs 2 times",
                   column="item_id", rows=(1,)))


def make_all_ids_missing(dir: Path) -> BadCase:
    path = _write(dir / "no_ids.csv", "user_id,item_id,event\n,i1,click\n,i2,view\n  ,i3,click\n")
    return BadCase(path, "interactions", r"column 'user_id' .*is empty: none of the 3 rows has a customer id",
                   column="user_id")


def make_leading_zero_ids(dir: Path) -> BadCase:
    path = _write(dir / "zeros.csv", "user_id,item_id\n007,i1\n7,i2\n8,i1\n0008,i3\n9,i1\n")
    return BadCase(path, "interactions",
                   r"with and without leading zeros \(e\.g\. '007' and '7'; '8' and '0008'\).*leading_zero_ids='merge'",
                   column="user_id", rows=(2, 3, 4, 5))


def make_mixed_types(dir: Path) -> BadCase:
    path = _write(dir / "mixed_types.csv",
                  "user_id,item_id,revenue\nu1,i1,10.5\nu2,i2,abc\nu3,i3,7\nu4,i4,n/a!\n")
    return BadCase(path, "interactions",
                   r"2 rows of column 'revenue' \(used as revenue, value\) hold text where a number is "
                   r"expected \(e\.g\. 'abc', 'n/a!'\) \(rows 3, 5\)",
                   column="revenue", rows=(3, 5), outcome_column="revenue",
                   outcomes=r"mixed_types\.csv, column 'revenue': 2 rows have no number here .*\(rows 3, 5\)")


def make_negative_weights(dir: Path) -> BadCase:
    path = _write(dir / "negative_weights.csv", "user_id,item_id,rating\nu1,i1,3\nu2,i2,-1\nu3,i3,-2.5\n")
    return BadCase(path, "interactions", r"2 rows of column 'rating' \(used as weight\) are negative",
                   column="rating", rows=(3, 4))


def make_unparseable_dates(dir: Path) -> BadCase:
    path = _write(dir / "bad_dates.csv",
                  "user_id,item_id,date\nu1,i1,2024-01-05\nu2,i2,yesterday\nu3,i3,2024-01-07\nu4,i4,31/31/2024\n")
    return BadCase(path, "interactions",
                   r"2 rows \(50\.0% of the file\) of column 'date' .*cannot be read as a date.*bad date that may be dropped",
                   column="date", rows=(3, 5))


def make_future_dates(dir: Path) -> BadCase:
    path = _write(dir / "future.csv",
                  "user_id,item_id,timestamp\nu1,i1,2024-01-05\nu2,i2,2099-01-01\nu3,i3,2024-01-07\n")
    return BadCase(path, "interactions",
                   r"1 row \(33\.3% of the file\) of column 'timestamp' is dated in the future \(after 2024-06-01\)",
                   options=ImportOptions(now=pd.Timestamp("2024-06-01")), column="timestamp", rows=(3,),
                   default_expect=r"1 row \(33\.3% of the file\) of column 'timestamp' is dated in the future "
                                  r"\(after \d{4}-\d{2}-\d{2}\)")


def make_binary_renamed_csv(dir: Path) -> BadCase:
    path = dir / "binary.csv"
    path.write_bytes(np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    return _outcomes_too(BadCase(path, "interactions", r"binary\.csv: this is not a text \(CSV\) file: it holds binary data"))


def make_pdf_renamed_csv(dir: Path) -> BadCase:
    path = dir / "report.csv"
    path.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n")
    return _outcomes_too(BadCase(path, "interactions", r"report\.csv: this is not a data table: it is a PDF document"))


def make_old_xls(dir: Path) -> BadCase:
    path = dir / "old.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    return _outcomes_too(BadCase(path, "interactions", r"old Excel 97-2003 \(\.xls\).*Fix: Save it from Excel as \.xlsx or CSV"))


def make_parquet_memory_bomb(dir: Path) -> BadCase:
    n = 400_000  # constant columns: a few KB on disk, megabytes once read
    table = pa.table({"user_id": pa.array(np.zeros(n, dtype=np.int64)),
                      "item_id": pa.array(np.ones(n, dtype=np.int64)),
                      "event": pa.array(["view"] * 4).take(pa.array(np.zeros(n, dtype=np.int64)))})
    path = dir / "bomb.parquet"
    pq.write_table(table, path, compression="zstd")
    return _outcomes_too(BadCase(path, "interactions", r"400,000 rows x 3 columns would take about .* of memory once read, over "
                   r"the limit of 1\.0 MB.*ReadLimits\.max_memory_bytes",
                   limits=ReadLimits(max_memory_bytes=1024**2)))


def make_nested_parquet(dir: Path) -> BadCase:
    """A Parquet file whose id is a struct, with a list, a map and a binary column."""
    path = dir / "nested.parquet"
    table = pa.table({
        "user_id": pa.array([{"id": "u0"}, {"id": "u1"}], pa.struct([("id", pa.string())])),
        "item_id": ["i1", "i2"],
        "tags": pa.array([["a", "b"], ["c"]], pa.list_(pa.string())),
        "attrs": pa.array([[("k", "v")], [("k", "w")]], pa.map_(pa.string(), pa.string())),
        "blob": pa.array([b"\x00\x01", b"\x02"], pa.binary()),
    })
    pq.write_table(table, path)
    return _outcomes_too(BadCase(
        path, "interactions",
        r"nested\.parquet, column 'user_id': 4 columns hold nested or binary values, not plain values: 'user_id' "
        r"\(structs\), 'tags' \(lists\), 'attrs' \(maps\), 'blob' \(binary data\)\. Fix: Write one plain value per cell",
        column="user_id"))


def make_file_too_big(dir: Path) -> BadCase:
    path = _write(dir / "big.csv", "user_id,item_id\n" + "".join(f"u{i},i{i}\n" for i in range(100)))
    return _outcomes_too(BadCase(path, "interactions",
                   r"big\.csv: the file is 796 bytes, over the limit of 200 bytes.*ReadLimits\.max_file_bytes",
                   limits=ReadLimits(max_file_bytes=200)))


def make_too_many_rows(dir: Path) -> BadCase:
    path = _write(dir / "many_rows.csv", "user_id,item_id\n" + "".join(f"u{i},i{i}\n" for i in range(20)))
    return _outcomes_too(BadCase(path, "interactions", r"the file has 20 rows, over the limit of 10.*ReadLimits\.max_rows",
                   limits=ReadLimits(max_rows=10)))


def make_ragged_rows(dir: Path) -> BadCase:
    path = _write(dir / "ragged.csv",
                  "user_id,item_id,description\nu1,i1,mug\nu2,i2,mug, red\nu3,i3,plate\nu4,i4,bowl, big, blue\n")
    return _outcomes_too(BadCase(path, "interactions", r"2 rows have 4 or 5 fields but the header has 3.*double quotes",
                   rows=(3, 5)))


def make_no_usable_rows(dir: Path) -> BadCase:
    path = _write(dir / "all_cancelled.csv",
                  "InvoiceNo,StockCode,Quantity,CustomerID\nC1,i1,-1,17850\nC2,i2,-3,17851\n3,i3,-1,17852\n")
    return BadCase(path, "interactions", r"no usable rows are left after cleaning \(all 3 rows were dropped")


def make_email_user_ids(dir: Path) -> BadCase:
    path = _write(dir / "emails.csv",
                  "customer,item_id\nann@example.com,i1\nbob@example.org,i2\ncy@example.net,i1\n")
    return BadCase(path, "interactions",
                   r"customer ids in column 'customer' are personal data .*e-mail addresses.*Turn on pseudonymisation",
                   column="customer")


def make_mixed_identifier_ids(dir: Path) -> BadCase:
    """Customer numbers where 3 of 10 guests checked out with a contact: an <addr>, mailto:, a phone."""
    ids = [f"{17850 + i}" for i in range(7)] + ["Ann <ann@example.com>", "mailto:bo@example.org", "07911 123456"]
    path = _write(dir / "guests.csv", "customer,item_id\n" + "".join(f"{u},i{n % 2}\n" for n, u in enumerate(ids)))
    return BadCase(path, "interactions",
                   r"customer ids in column 'customer' are personal data \(of 10 distinct ids, 2 look like e-mail "
                   r"addresses and 1 looks like a phone number\).*Turn on pseudonymisation", column="customer")


def make_infinite_revenue(dir: Path) -> BadCase:
    path = _write(dir / "inf_revenue.csv", "user_id,item_id,revenue\nu1,i1,12.5\nu2,i2,inf\nu3,i1,-Infinity\n")
    return BadCase(path, "interactions",
                   r"inf_revenue\.csv, column 'revenue': 2 rows of column 'revenue' .*hold text where a number is "
                   r"expected \(e\.g\. 'inf', '-inf'\)", column="revenue", rows=(3, 4))


#: Ids that differ only by Unicode normalisation: imported, with a warning naming them.
CONFUSABLE_IDS = {"Caf\u00e9": "Cafe\u0301", "\uff35\uff33\uff11": "US1", "\u212a1": "K1"}


def write_confusable_ids(dir: Path) -> Path:
    rows = [f"{a},i1\n{b},i2\n" for a, b in CONFUSABLE_IDS.items()]
    return _write(dir / "confusable.csv", "user_id,item_id\n" + "".join(rows) + "plain,i1\n")


CONFUSABLE_WARNING = re.compile(r"confusable\.csv, column 'user_id': 6 rows of column 'user_id' .*hold ids that look the "
                                r"same as other ids but differ in their Unicode characters \(3 such groups, e\.g\. "
                                r"'Caf\\xe9' and 'Cafe\\u0301'.*they are kept as different customer ids")


#: A Markdown image to a tracker: shown on a page, it must stay text (no request to the tracker).
MARKDOWN_IMAGE = "![p](https://tracker.example/p.png)"


def make_markdown_in_header(dir: Path) -> BadCase:
    """A header whose (duplicated) column name is a Markdown tracking image: refused, and the message
    that names it renders as text on the Data page (tests/app/test_app_markdown_injection.py covers
    stored values on every page)."""
    path = _write(dir / "markup.csv", f"user_id,item_id,{MARKDOWN_IMAGE},{MARKDOWN_IMAGE}\nu1,i1,1,2\n")
    shown = re.escape(MARKDOWN_IMAGE)
    return _outcomes_too(BadCase(path, "interactions", rf"markup\.csv, column '{shown}': the column name '{shown}' occurs 2 times",
                                 column=MARKDOWN_IMAGE))


def make_duplicate_user_ids(dir: Path) -> BadCase:
    path = _write(dir / "users_dup.csv",
                  "customer_id,segment\nu1,gold\nu2,silver\nu1,bronze\nu3,gold\nu2,silver \n")
    return BadCase(path, "users",
                   r"2 customer ids \(e\.g\. 'u1', 'u2'\) appear on more than one row of the users file: 4 rows",
                   column="customer_id", rows=(2, 3, 4, 6), companions={"interactions": _good_interactions(dir)})


def make_users_missing_id(dir: Path) -> BadCase:
    path = _write(dir / "users_no_id.csv", "segment,region\ngold,north\nsilver,south\n")
    return BadCase(path, "users", r"users_no_id\.csv: the users file has no customer id column \(user_id\)",
                   companions={"interactions": _good_interactions(dir)})


def make_duplicate_item_ids(dir: Path) -> BadCase:
    path = _write(dir / "items_dup.csv", "offer_id,category\ni1,shoes\ni2,bags\ni1,bags\n")
    return BadCase(path, "items",
                   r"1 item id \(e\.g\. 'i1'\) appears on more than one row of the items file: 2 rows in all",
                   column="offer_id", rows=(2, 4), companions={"interactions": _good_interactions(dir)})


def make_items_missing_id(dir: Path) -> BadCase:
    path = _write(dir / "items_no_id.csv", "category,discount\nshoes,10\nbags,20\n")
    return BadCase(path, "items", r"items_no_id\.csv: the items file has no item id column \(item_id\)",
                   companions={"interactions": _good_interactions(dir)})


# --- hostile files --------------------------------------------------------------------------------


def _rows_csv(header: str, rows: list[str]) -> str:
    return header + "\n" + "".join(r + "\n" for r in rows)


def _filler(n: int, start: int = 100) -> list[str]:
    """``n`` good interaction rows (customers u100.., items i1..i5), with a positive quantity."""
    return [f"u{start + k},i{k % 5 + 1},{k % 3 + 1}" for k in range(n)]


def make_long_cell(dir: Path) -> BadCase:
    """A 100,000-character cell (e.g. a quote that was never closed, or a pasted document)."""
    rows = _filler(3)
    rows[1] += ',"' + "lorem ipsum " * 8_333 + 'dolor"'  # 100,000 characters once unquoted
    rows = [r if r.count(",") == 3 else r + ",mug" for r in rows]
    path = _write(dir / "long_cell.csv", _rows_csv("user_id,item_id,quantity,description", rows))
    return _outcomes_too(BadCase(
        path, "interactions",
        r"long_cell\.csv, column 'description': 1 row of column 'description' holds text longer than 32,767 "
        r"characters \(the longest has 100,001\), more than a spreadsheet cell can hold \(row 3\)\. Fix: .*never closed",
        column="description", rows=(3,)))


def make_long_id(dir: Path) -> BadCase:
    rows = _filler(4)
    rows[2] = "u" + "7" * 4_999 + ",i1,1"
    path = _write(dir / "long_id.csv", _rows_csv("user_id,item_id,quantity", rows))
    expect = (r"long_id\.csv, column 'user_id': 1 row of column 'user_id' holds ids "
              r"longer than 1,000 characters \(the longest has 5,000\) \(row 4\)\. Fix: An id is a short code")
    return BadCase(path, "interactions", expect, column="user_id", rows=(4,), outcomes=expect)


#: Control characters (NUL, ESC of a terminal colour code, BEL, DEL, a tab) and direction marks
#: (right-to-left override, right-to-left mark) inside ids, with the rows they are on.
_HOSTILE_USER_IDS = {3: "u\x00 1", 5: "u\x1b[31m2", 6: "u\x073", 8: "u4\x7f", 9: "u\t5"}
_HOSTILE_ITEM_IDS = {4: "i\u202egpj.exe", 7: "i2\u200f"}


def make_control_characters_in_ids(dir: Path) -> BadCase:
    rows = _filler(40)
    for row, user in _HOSTILE_USER_IDS.items():
        rows[row - 2] = f"{user},i1,1"
    for row, item in _HOSTILE_ITEM_IDS.items():
        rows[row - 2] = f"u{row},{item},1"
    path = dir / "control_ids.csv"
    path.write_bytes(_rows_csv("user_id,item_id,quantity", rows).encode("utf-8"))
    user = (r"control_ids\.csv, column 'user_id': 5 rows of column 'user_id' hold "
            r"control characters or invisible marks \(e\.g\. 'u\\x00 1', 'u\\x1b\[31m2', 'u\\x073'\): .*"
            r"\(rows 3, 5, 6, 8, 9\)\. Fix: Remove these characters")
    item = (r"column 'item_id': 2 rows of column 'item_id' hold control characters or "
            r"invisible marks \(e\.g\. 'i\\u202egpj\.exe', 'i2\\u200f'\).*\(rows 4, 7\)")
    return BadCase(path, "interactions", user, column="user_id", rows=(3, 5, 6, 8, 9), outcomes=user,
                   also=(item,))


def make_ten_thousand_columns(dir: Path) -> BadCase:
    header = ",".join(["user_id", "item_id", "quantity"] + [f"feature_{k:05d}" for k in range(9_997)])
    rows = [",".join([f"u{r}", f"i{r}", "1"] + ["0"] * 9_997) for r in range(3)]
    path = _write(dir / "wide.csv", _rows_csv(header, rows))
    return _outcomes_too(BadCase(path, "interactions",
                                 r"wide\.csv: the file has 10,000 columns, over the limit of 1,000 \(row 1\)\. "
                                 r"Fix: Keep only the columns PromoLens needs.*ReadLimits\.max_columns", rows=(1,)))


_CONTENT_TYPES = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                  '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                  '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                  '<Default Extension="xml" ContentType="application/xml"/>'
                  '<Override PartName="/xl/workbook.xml" '
                  'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
                  '<Override PartName="/xl/worksheets/sheet1.xml" '
                  'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                  '</Types>')
_ROOT_RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
              '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
              '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
              'officeDocument" Target="xl/workbook.xml"/></Relationships>')
_WORKBOOK = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
             '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
             'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
             '<sheets><sheet name="Orders" sheetId="1" r:id="rId1"/></sheets></workbook>')
_WORKBOOK_RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                  '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                  '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
                  'worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
_SHEET_START = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
_SHEET_END = "</sheetData></worksheet>"


def xlsx_cell(ref: str, value: object = None, formula: str | None = None) -> str:
    """One cell of sheet XML: text (inline), a number, or a formula with or without a saved result."""
    if formula is not None:
        kind = ' t="str"' if isinstance(value, str) else ""
        saved = "" if value is None else f"<v>{escape(str(value))}</v>"
        return f'<c r="{ref}"{kind}><f>{escape(formula)}</f>{saved}</c>'
    if isinstance(value, str):
        return f'<c r="{ref}" t="inlineStr"><is><t>{escape(value)}</t></is></c>'
    return f'<c r="{ref}"><v>{value}</v></c>'


def xlsx_row(number: int, cells: list[str]) -> str:
    return f'<row r="{number}">{"".join(cells)}</row>'


def write_xlsx(path: Path, rows: list[str], sheet_parts: tuple[bytes, ...] | None = None) -> Path:
    """A minimal .xlsx written part by part (openpyxl cannot write saved formula results or bombs).

    ``sheet_parts``, when given, are streamed as the sheet's XML instead of ``rows``.
    """
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as book:
        book.writestr("[Content_Types].xml", _CONTENT_TYPES)
        book.writestr("_rels/.rels", _ROOT_RELS)
        book.writestr("xl/workbook.xml", _WORKBOOK)
        book.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        with book.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            for part in sheet_parts or (_SHEET_START.encode(), "".join(rows).encode(), _SHEET_END.encode()):
                sheet.write(part)
    return path


#: Unpacked size of the sheet of the zip-bomb workbook.
BOMB_UNPACKED_BYTES = 256 * 1024**2


def make_xlsx_zip_bomb(dir: Path) -> BadCase:
    """An .xlsx of about 1 MB whose sheet unpacks to 256 MB (its dimension claims 3 rows)."""
    row = xlsx_row(2, [xlsx_cell("A2", "u1"), xlsx_cell("B2", "i1"), xlsx_cell("C2", 1)]).encode()
    block = row * (1024**2 // len(row))
    header = xlsx_row(1, [xlsx_cell("A1", "user_id"), xlsx_cell("B1", "item_id"), xlsx_cell("C1", "quantity")])
    start = _SHEET_START.replace("<sheetData>", '<dimension ref="A1:C3"/><sheetData>')  # it lies
    parts = (start.encode() + header.encode(), *([block] * (BOMB_UNPACKED_BYTES // len(block))),
             _SHEET_END.encode())
    path = write_xlsx(dir / "bomb.xlsx", [], sheet_parts=parts)
    return _outcomes_too(BadCase(
        path, "interactions",
        r"bomb\.xlsx: part 'xl/worksheets/sheet1\.xml' of this Excel workbook unpacks from [\d.,]+ (KB|MB) to "
        r"256\.0 MB \([\d,]+ times its packed size; .*it looks like a zip bomb.*was not unpacked\. "
        r"Fix: .*ReadLimits\.max_unpacked_ratio"))


def make_xlsx_formulas(dir: Path) -> BadCase:
    """An .xlsx written by a script: formulas without saved results (revenue, and a HYPERLINK)."""
    header = xlsx_row(1, [xlsx_cell(f"{c}1", n) for c, n in zip("ABCDE", ["user_id", "item_id", "quantity",
                                                                        "revenue", "link"], strict=True)])
    rows = [header] + [
        xlsx_row(r, [xlsx_cell(f"A{r}", f"u{r}"), xlsx_cell(f"B{r}", f"i{r % 3}"), xlsx_cell(f"C{r}", r),
                     xlsx_cell(f"D{r}", formula=f"C{r}*2.5"),
                     xlsx_cell(f"E{r}", formula='HYPERLINK("http://example.com/x","open")')])
        for r in range(2, 6)
    ]
    path = write_xlsx(dir / "formulas.xlsx", rows)
    return _outcomes_too(BadCase(
        path, "interactions",
        r"formulas\.xlsx, column 'revenue': sheet 'Orders': 4 cells of column 'revenue' hold a formula "
        r"\(e\.g\. =C2\*2\.5\) with no saved result, so their values are unknown; PromoLens reads the results a "
        r"spreadsheet program saved and never runs formulas \(rows 2, 3, 4, 5\)\. Fix: Open the workbook",
        column="revenue", rows=(2, 3, 4, 5),
        also=(r"formulas\.xlsx, column 'link': .*=HYPERLINK\(\"http://example\.com/x\",\"open\"\)\) with no saved result",)))


def make_path_like_upload_name(dir: Path) -> BadCase:
    """An upload named ``../../x.csv``: only ``x.csv`` may be shown, nothing written outside."""
    path = _write(dir / "x.csv", "user_id,item_id,quantity\n")
    return _outcomes_too(BadCase(path, "interactions", r"^(?![\s\S]*\.\./)[\s\S]*\bx\.csv: the file has a header "
                                 r"row but no data rows", rows=(1,), upload_name="../../x.csv"))


def make_hidden_extension_upload_name(dir: Path) -> BadCase:
    """A Windows path with a right-to-left override hiding the real extension: shown written out."""
    path = dir / "invoice\u202eslx.csv"  # shows as "invoicexls.csv"
    path.write_bytes(b"")
    return _outcomes_too(BadCase(path, "interactions",
                                 r"(?<![\w./\\])invoice\[U\+202E\]slx\.csv: the file is empty",
                                 upload_name="..\\..\\invoice\u202eslx.csv"))


#: Unpacked size of the wrapped gzip: over 4 GiB, so a size field modulo 4 GiB cannot hold it.
WRAPPED_GZIP_UNPACKED_BYTES = 4 * 1024**3 + 4 * 1024**2
#: The memory limit the wrapped-gzip case runs with (the reader must stop at half of it: text x 2).
WRAPPED_GZIP_MEMORY_LIMIT = 64 * 1024**2


@functools.lru_cache(maxsize=1)
def _packed_rows(row: bytes) -> bytes:
    import gzip

    return gzip.compress(row * (4 * 1024**2 // len(row)), 9)


def write_wrapped_gzip(path: Path) -> Path:
    """A valid .csv.gz of about 4 MB that unpacks to over 4 GiB and declares 8 bytes.

    Built cheaply: one gzip member of 4 MiB of identical rows (deflate packs it ~1,000 times) is
    repeated 1,025 times (gzip allows concatenated members, every reader unpacks them all), then a
    last member of one 8-byte row, whose size field is what a reader sees at the end of the file.
    """
    import gzip

    header = gzip.compress(b"user_id,item_id,quantity\n", 6)
    row = b"u1,i1,1\n"
    member = _packed_rows(row)
    with open(path, "wb") as fh:
        fh.write(header)
        for _ in range(WRAPPED_GZIP_UNPACKED_BYTES // (4 * 1024**2)):
            fh.write(member)
        fh.write(gzip.compress(row, 6))
    return path


def make_wrapped_gzip(dir: Path) -> BadCase:
    """A gzip decompression bomb whose declared size (modulo 4 GiB) is tiny: stopped while streaming."""
    path = write_wrapped_gzip(dir / "wrapped.csv.gz")
    return _outcomes_too(BadCase(
        path, "interactions",
        r"wrapped\.csv\.gz: this gzip-compressed file of [\d.]+ MB unpacks to more than 16\.0 MB of text, which "
        r"would need more than the memory limit of 64\.0 MB; reading stopped there .*PROMOLENS_MAX_MEMORY_MB",
        limits=ReadLimits(max_memory_bytes=WRAPPED_GZIP_MEMORY_LIMIT)))


#: What the pickled "model" would do if it were ever unpickled: create this file.
PICKLE_SENTINEL = "unpickled.txt"


class _Payload:
    """Unpickling this calls ``open(sentinel, "w")``: proof that a pickle was (never) loaded."""

    def __init__(self, sentinel: Path) -> None:
        self.sentinel = sentinel

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return open, (str(self.sentinel), "w")


def write_pickled_model(model_path: Path, sentinel: Path) -> None:
    """Replace a run's model file by a pickle (and its metadata by a plausible JSON)."""
    model_path.write_bytes(pickle.dumps({"model": _Payload(sentinel)}, protocol=pickle.HIGHEST_PROTOCOL))


def write_npz_with_pickled_array(model_path: Path, sentinel: Path) -> None:
    """A real .npz archive whose array is an object array, i.e. a pickle inside the zip."""
    array = np.empty(1, dtype=object)
    array[0] = _Payload(sentinel)
    with open(model_path, "wb") as fh:
        np.savez(fh, user_ids=array)


def write_foreign_model(run_dir: Path, other_run_dir: Path) -> None:
    """Copy another run's (valid, untampered) model files over a run's own: a model of other data."""
    for name in ("model.npz", "model.json"):
        (run_dir / name).write_bytes((other_run_dir / name).read_bytes())


FOREIGN_MODEL_MESSAGE = re.compile(r"The model files of run r\d+ are not the ones it saved \(model\.json was changed, "
                                   r"replaced or removed after training\), so they were not used\. Fix: train a new model")
MODEL_JSON_MISSING_KEYS = re.compile(r"model\.json lacks the key\(s\) config, user_builder: it is damaged or not "
                                     r"written by PromoLens")


PICKLED_MODEL_MESSAGE = re.compile(r"model\.npz is a pickle: PromoLens only loads its own \.npz model files \(never pickles\)")
PICKLED_ARRAY_MESSAGE = re.compile(r"model\.npz holds pickled objects and was refused")


ALL_BAD_CASES: list[Callable[[Path], BadCase]] = [
    make_empty_file,
    make_header_only,
    make_wrong_delimiter,
    make_forced_wrong_delimiter,
    make_mixed_delimiters,
    make_missing_id_column,
    make_duplicate_columns,
    make_all_ids_missing,
    make_leading_zero_ids,
    make_mixed_types,
    make_negative_weights,
    make_unparseable_dates,
    make_future_dates,
    make_binary_renamed_csv,
    make_pdf_renamed_csv,
    make_old_xls,
    make_parquet_memory_bomb,
    make_nested_parquet,
    make_file_too_big,
    make_too_many_rows,
    make_ragged_rows,
    make_no_usable_rows,
    make_email_user_ids,
    make_mixed_identifier_ids,
    make_infinite_revenue,
    make_markdown_in_header,
    make_duplicate_user_ids,
    make_users_missing_id,
    make_duplicate_item_ids,
    make_items_missing_id,
    make_long_cell,
    make_long_id,
    make_control_characters_in_ids,
    make_ten_thousand_columns,
    make_xlsx_zip_bomb,
    make_xlsx_formulas,
    make_path_like_upload_name,
    make_hidden_extension_upload_name,
    make_wrapped_gzip,
]
