"""Builders of bad input files, one per kind of problem an import must refuse with a clear message.

Each ``make_xxx(dir)`` writes its files into ``dir`` and returns a :class:`BadCase`: the bad file,
which input it is, a regex the :class:`~recsys.validate.DataError` text must match, and the limits
or options that make it bad. ``ALL_BAD_CASES`` lists every builder; store- and page-level tests reuse
them to check that a refused import changes nothing in the workspace::

    case = make_duplicate_columns(tmp_path)
    with pytest.raises(DataError, match=case.expect):
        case.run()            # or: prepare_dataset(**case.inputs(), options=case.import_options())

Row numbers follow the spreadsheet convention of the messages: header = row 1, first data row = 2.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from recsys.io import ImportOptions, PreparedDataset, ReadLimits, prepare_dataset


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

    @property
    def name(self) -> str:
        return self.path.name

    def inputs(self) -> dict[str, Path]:
        """Keyword arguments for :func:`prepare_dataset`: the bad file plus its good companions."""
        return {**self.companions, self.kind: self.path}

    def import_options(self) -> ImportOptions:
        options = self.options or ImportOptions()
        if self.limits is not None:
            options = dataclasses.replace(options, limits=self.limits)
        return options

    def run(self) -> PreparedDataset:
        return prepare_dataset(**self.inputs(), options=self.import_options())


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _good_interactions(dir: Path) -> Path:
    return _write(dir / "good_interactions.csv",
                  "user_id,item_id,event,timestamp\n"
                  "u1,i1,click,2024-01-01\nu2,i2,view,2024-01-02\nu3,i1,redeem,2024-01-03\n")


def make_empty_file(dir: Path) -> BadCase:
    path = dir / "empty.csv"
    path.write_bytes(b"")
    return BadCase(path, "interactions", r"empty\.csv: the file is empty")


def make_header_only(dir: Path) -> BadCase:
    path = _write(dir / "header_only.csv", "user_id,item_id,event\n")
    return BadCase(path, "interactions", r"header row but no data rows", rows=(1,))


def make_wrong_delimiter(dir: Path) -> BadCase:
    path = _write(dir / "colons.csv", "user_id:item_id:event\nu1:i1:click\nu2:i2:view\nu3:i3:click\n")
    return BadCase(path, "interactions", r"separated by ':'.*Fix: Save the file as CSV with commas", rows=(1,))


def make_forced_wrong_delimiter(dir: Path) -> BadCase:
    path = _write(dir / "semicolons.csv", "user_id;item_id;event\nu1;i1;click\nu2;i2;view\n")
    return BadCase(path, "interactions", r"read as a single column 'user_id;item_id;event'.*semicolons",
                   options=ImportOptions(delimiter=","), column="user_id;item_id;event", rows=(1,))


def make_mixed_delimiters(dir: Path) -> BadCase:
    path = _write(dir / "mixed.csv", "user_id;item_id;event\nu1,i1,click\nu2,i2,view\nu3,i3,click\n")
    return BadCase(path, "interactions", r"header row is separated by semicolons but the data rows by commas",
                   rows=(1, 2))


def make_missing_id_column(dir: Path) -> BadCase:
    path = _write(dir / "no_customer.csv", "shopper,product,when\nann,p1,2024-01-01\nbob,p2,2024-01-02\n")
    return BadCase(path, "interactions",
                   r"no customer id column \(user_id\); its columns are 'shopper', 'product', 'when'\. "
                   r"Fix: If 'shopper' holds the customer id")


def make_duplicate_columns(dir: Path) -> BadCase:
    path = _write(dir / "dup_columns.csv", "user_id,item_id,item_id\nu1,i1,i2\nu2,i2,i3\n")
    return BadCase(path, "interactions", r"column 'item_id': the column name 'item_id' occurs 2 times",
                   column="item_id", rows=(1,))


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
                   column="revenue", rows=(3, 5))


def make_negative_weights(dir: Path) -> BadCase:
    path = _write(dir / "negative_weights.csv", "user_id,item_id,rating\nu1,i1,3\nu2,i2,-1\nu3,i3,-2.5\n")
    return BadCase(path, "interactions", r"2 rows of column 'rating' \(used as weight\) are negative",
                   column="rating", rows=(3, 4))


def make_unparseable_dates(dir: Path) -> BadCase:
    path = _write(dir / "bad_dates.csv",
                  "user_id,item_id,date\nu1,i1,2024-01-05\nu2,i2,yesterday\nu3,i3,2024-01-07\nu4,i4,31/31/2024\n")
    return BadCase(path, "interactions",
                   r"2 rows \(50\.0% of the file\) of column 'date' .*cannot be read as a date.*max_bad_share",
                   column="date", rows=(3, 5))


def make_future_dates(dir: Path) -> BadCase:
    path = _write(dir / "future.csv",
                  "user_id,item_id,timestamp\nu1,i1,2024-01-05\nu2,i2,2031-01-01\nu3,i3,2024-01-07\n")
    return BadCase(path, "interactions",
                   r"1 row \(33\.3% of the file\) of column 'timestamp' is dated in the future \(after 2024-06-01\)",
                   options=ImportOptions(now=pd.Timestamp("2024-06-01")), column="timestamp", rows=(3,))


def make_binary_renamed_csv(dir: Path) -> BadCase:
    path = dir / "binary.csv"
    path.write_bytes(np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    return BadCase(path, "interactions", r"binary\.csv: this is not a text \(CSV\) file: it holds binary data")


def make_pdf_renamed_csv(dir: Path) -> BadCase:
    path = dir / "report.csv"
    path.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n")
    return BadCase(path, "interactions", r"report\.csv: this is not a data table: it is a PDF document")


def make_old_xls(dir: Path) -> BadCase:
    path = dir / "old.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    return BadCase(path, "interactions", r"old Excel 97-2003 \(\.xls\).*Fix: Save it from Excel as \.xlsx or CSV")


def make_parquet_memory_bomb(dir: Path) -> BadCase:
    n = 400_000  # constant columns: a few KB on disk, megabytes once read
    table = pa.table({"user_id": pa.array(np.zeros(n, dtype=np.int64)),
                      "item_id": pa.array(np.ones(n, dtype=np.int64)),
                      "event": pa.array(["view"] * 4).take(pa.array(np.zeros(n, dtype=np.int64)))})
    path = dir / "bomb.parquet"
    pq.write_table(table, path, compression="zstd")
    return BadCase(path, "interactions", r"400,000 rows x 3 columns would take about .* of memory once read, over "
                   r"the limit of 1\.0 MB.*ReadLimits\.max_memory_bytes",
                   limits=ReadLimits(max_memory_bytes=1024**2))


def make_file_too_big(dir: Path) -> BadCase:
    path = _write(dir / "big.csv", "user_id,item_id\n" + "".join(f"u{i},i{i}\n" for i in range(100)))
    return BadCase(path, "interactions",
                   r"big\.csv: the file is 796 bytes, over the limit of 200 bytes.*ReadLimits\.max_file_bytes",
                   limits=ReadLimits(max_file_bytes=200))


def make_too_many_rows(dir: Path) -> BadCase:
    path = _write(dir / "many_rows.csv", "user_id,item_id\n" + "".join(f"u{i},i{i}\n" for i in range(20)))
    return BadCase(path, "interactions", r"the file has 20 rows, over the limit of 10.*ReadLimits\.max_rows",
                   limits=ReadLimits(max_rows=10))


def make_ragged_rows(dir: Path) -> BadCase:
    path = _write(dir / "ragged.csv",
                  "user_id,item_id,description\nu1,i1,mug\nu2,i2,mug, red\nu3,i3,plate\nu4,i4,bowl, big, blue\n")
    return BadCase(path, "interactions", r"2 rows have 4 or 5 fields but the header has 3.*double quotes",
                   rows=(3, 5))


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
    make_file_too_big,
    make_too_many_rows,
    make_ragged_rows,
    make_no_usable_rows,
    make_email_user_ids,
    make_duplicate_user_ids,
    make_users_missing_id,
    make_duplicate_item_ids,
    make_items_missing_id,
]
