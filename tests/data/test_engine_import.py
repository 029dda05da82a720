"""The engine import (DuckDB) stores what the pandas path stores, and stands aside whenever it must.

Each file is imported twice into one workspace, once with the engine path allowed and once with the
pandas path only; the loaded tables, the catalogue rows (fingerprint, counts, mapping, report,
warnings) must be equal. Files: a clean interactions file (the engine's case), the sample shop's
interactions, and small synthetic files with duplicates, revenue, dates in several formats, events
written in several ways, ids the pandas path cleans.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from recsys.core import columns as C
from recsys.data import engine_import
from recsys.data.engine_import import engine_interactions
from recsys.data.files import RawFile
from recsys.data.mapping import ImportOptions
from recsys.data.validate import DataError
from recsys.workspace import ingest
from recsys.workspace.ingest import SAMPLE_DIR, import_files
from recsys.workspace.store import Workspace

NOW = "2026-07-01"


def clean_frame(n: int = 3_000, seed: int = 0) -> pd.DataFrame:
    """Customer, offer, event, time, revenue: the shape of bench_import's files."""
    rng = np.random.default_rng(seed)
    event = rng.choice(["impression", "click", "redeem", "purchase"], n, p=[0.6, 0.25, 0.08, 0.07])
    seconds = rng.choice(120 * 86_400, n, replace=False)  # distinct times: no duplicate rows
    return pd.DataFrame({
        "customer_id": [f"C{k}" for k in rng.integers(0, n // 5, n)],
        "offer_id": [f"OFF{k}" for k in np.minimum(rng.zipf(1.3, n) - 1, 150)],
        "event_type": event,
        "event_time": (np.datetime64("2026-01-01T00:00:00") + seconds.astype("timedelta64[s]")).astype(str),
        "revenue": np.where(event == "purchase", np.round(rng.gamma(2.0, 20.0, n), 2), np.nan),
    })


def both_ways(ws: Workspace, path: Path, monkeypatch: pytest.MonkeyPatch, **kwargs):
    """(engine-allowed info, pandas-only info), each loaded."""
    options = kwargs.pop("options", ImportOptions(now=NOW))
    monkeypatch.setattr(ingest, "ENGINE_IMPORT", True)
    engine, _ = import_files(ws, path, options=options, **kwargs)
    monkeypatch.setattr(ingest, "ENGINE_IMPORT", False)
    pandas_, _ = import_files(ws, path, options=options, **kwargs)
    return engine, pandas_


def assert_same_dataset(ws: Workspace, a, b) -> None:
    for field in ("fingerprint", "n_interactions", "n_users", "n_items", "mapping", "report", "warnings",
                  "identifiers", "sources"):
        assert getattr(a, field) == getattr(b, field), field
    da, db = ws.load_dataset(a.id), ws.load_dataset(b.id)
    assert dict(da.interactions.dtypes) == dict(db.interactions.dtypes)
    key = list(C.INTERACTION_COLUMNS)
    pd.testing.assert_frame_equal(da.interactions.sort_values(key, ignore_index=True),
                                  db.interactions.sort_values(key, ignore_index=True))
    pd.testing.assert_frame_equal(da.users, db.users)
    pd.testing.assert_frame_equal(da.items, db.items)


def took_engine(path: Path, tmp_path: Path, **options) -> str:
    """Why the engine path stands aside for ``path`` ("" when it takes the file)."""
    folder = tmp_path / f"engine-{path.stem}"
    folder.mkdir(exist_ok=True)
    return engine_interactions(path, path.name, {}, ImportOptions(now=NOW, **options), folder).reason


@pytest.fixture()
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "ws")


def test_clean_file_goes_through_the_engine_and_stores_the_same_dataset(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "orders.csv"
    clean_frame().to_csv(path, index=False)
    assert took_engine(path, tmp_path) == ""
    engine, pandas_ = both_ways(ws, path, monkeypatch)
    assert engine.n_interactions == 3_000
    assert_same_dataset(ws, engine, pandas_)
    # ids and events dictionary-encoded in the stored Parquet, dates in nanoseconds
    stored = pq.ParquetFile(ws.table_path(engine.id, C.Table.INTERACTIONS))
    for name in (C.USER_ID, C.ITEM_ID, C.EVENT):
        column = stored.metadata.row_group(0).column(stored.schema_arrow.get_field_index(name))
        assert column.has_dictionary_page, name
    assert str(stored.schema_arrow.field(C.TIMESTAMP).type) == "timestamp[ns]"


def test_engine_rows_are_in_file_order_with_the_report_of_the_pandas_path(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    frame = clean_frame(500, seed=3)
    frame["event_type"] = frame["event_type"].str.upper().radd(" ")  # " CLICK": trimmed, lower case
    path = tmp_path / "upper.csv"
    frame.to_csv(path, index=False)
    assert took_engine(path, tmp_path) == ""
    engine, pandas_ = both_ways(ws, path, monkeypatch)
    loaded = ws.load_dataset(engine.id).interactions
    assert loaded[C.USER_ID].tolist() == frame["customer_id"].tolist()
    assert set(loaded[C.EVENT]) <= {"impression", "click", "redeem", "purchase"}
    assert_same_dataset(ws, engine, pandas_)


def test_small_csv_buffers_keep_every_row_in_order_and_a_too_long_line_goes_the_pandas_way(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # buffers of a few lines: the 3,000-row file is read in ~50 of them, rows cut at every boundary
    monkeypatch.setattr(engine_import, "MAX_LINE_BYTES", 1_500)
    monkeypatch.setattr(engine_import, "CSV_BUFFER_BYTES", 3_000)
    frame = clean_frame()
    path = tmp_path / "buffers.csv"
    frame.to_csv(path, index=False)
    assert took_engine(path, tmp_path) == ""
    engine, pandas_ = both_ways(ws, path, monkeypatch)
    assert ws.load_dataset(engine.id).interactions[C.USER_ID].tolist() == frame["customer_id"].tolist()
    assert_same_dataset(ws, engine, pandas_)
    frame["offer_id"] = frame["offer_id"].where(frame.index != 2_000, "X" * 2_000)  # a line over MAX_LINE_BYTES
    frame.to_csv(path, index=False)
    assert took_engine(path, tmp_path).startswith("DuckDB stopped")


@pytest.mark.parametrize("fmt", ["%Y-%m-%d %H:%M:%S", "%d/%m/%Y %H:%M", "%m/%d/%Y", "%Y-%m-%d", "%d.%m.%Y %H:%M:%S"])
def test_date_formats_read_as_the_pandas_path_reads_them(
    fmt: str, ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    frame = clean_frame(400, seed=1)
    frame["event_time"] = pd.to_datetime(frame["event_time"]).dt.strftime(fmt)
    path = tmp_path / "dates.csv"
    frame.to_csv(path, index=False)
    engine, pandas_ = both_ways(ws, path, monkeypatch)
    assert_same_dataset(ws, engine, pandas_)


@pytest.mark.parametrize("case", ["duplicates", "revenue text", "refunds", "spaces in ids", "leading zeros",
                                  "missing dates", "future dates", "no date column", "no event column",
                                  "numeric events", "na ids", "short codes"])
def test_files_the_engine_leaves_to_pandas_or_takes_give_the_same_dataset(
    case: str, ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    frame = clean_frame(300, seed=2)
    if case == "duplicates":
        frame = pd.concat([frame, frame.iloc[[5, 17, 17]]], ignore_index=True)
    elif case == "revenue text":
        frame["revenue"] = frame["revenue"].map(lambda v: "" if np.isnan(v) else f"€{v:,.2f}")
    elif case == "refunds":
        frame.loc[[3, 4], "revenue"] = -12.5
    elif case == "spaces in ids":
        frame.loc[[1, 8], "customer_id"] = " C1 "
    elif case == "leading zeros":
        frame["offer_id"] = frame["offer_id"].str.replace("OFF", "0")
    elif case == "missing dates":
        frame.loc[[2], "event_time"] = ""
    elif case == "future dates":
        frame.loc[[2], "event_time"] = "2031-01-01 10:00:00"
    elif case == "no date column":
        frame = frame.drop(columns="event_time")
    elif case == "no event column":
        frame = frame.drop(columns="event_type")
    elif case == "numeric events":
        frame["event_type"] = frame["event_type"].map({"impression": "1", "click": "2", "redeem": "3", "purchase": "4"})
    elif case == "na ids":
        frame.loc[[7], "offer_id"] = "NA"
    elif case == "short codes":
        frame.loc[[9], "offer_id"] = "POST"
    path = tmp_path / "case.csv"
    frame.to_csv(path, index=False)
    engine, pandas_ = both_ways(ws, path, monkeypatch)
    assert_same_dataset(ws, engine, pandas_)
    expected_engine = case == "no event column"  # without dates, repeated rows are reported: pandas
    assert (took_engine(path, tmp_path) == "") is expected_engine, took_engine(path, tmp_path)


@pytest.mark.parametrize(("written", "taken"), [
    (["N/A", "#N/A", "NULL", "nan", "NaN", "-nan", ""], True),  # Arrow's words for missing: no revenue
    (["1e3", "+4.5", "0.25", "12"], True),
    (["NAN", "nAn"], True), (["inf"], False), (["-Infinity"], False), (["1_000"], False), (["1e400"], False),
    (["0x10"], False), (["1,5"], False), (["0." + "1" * 420], True), (["1" * 300 + ".5"], True),
    (["0." + "0" * 33_000 + "1"], False),  # a cell over MAX_CELL_CHARS, which the pandas path reports
])
def test_revenue_as_written_is_read_as_the_pandas_path_reads_it_or_left_to_it(
    written: list[str], taken: bool, ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    frame = clean_frame(3_000, seed=5)
    late = frame.index[frame["event_type"].eq("purchase") & (frame.index > 2_000)][: len(written)]
    frame["revenue"] = frame["revenue"].map(lambda v: "" if np.isnan(v) else f"{v:.2f}").astype(object)
    frame.loc[late, "revenue"] = written  # after the first rows: the engine's own reading decides
    path = tmp_path / "revenue.csv"
    frame.to_csv(path, index=False)
    assert (took_engine(path, tmp_path) == "") is taken, took_engine(path, tmp_path)
    try:
        engine, pandas_ = both_ways(ws, path, monkeypatch)
    except DataError as refused:  # the pandas path refuses some: the same message either way
        assert not taken
        monkeypatch.setattr(ingest, "ENGINE_IMPORT", False)
        with pytest.raises(DataError) as again:
            import_files(ws, path, options=ImportOptions(now=NOW))
        assert str(again.value) == str(refused)
        assert ws.datasets() == []
    else:
        assert_same_dataset(ws, engine, pandas_)


@pytest.mark.parametrize(("case", "copies"), [
    ("clean", [True]),  # the revenue read as numbers by the CSV reader
    ("underscores in the first rows", [False]),  # '_' in the first rows: as text from the start
    ("underscores later", [True, False]),  # the hash thread saw a '_': run again as text
    ("a word for missing later", [True, False]),  # 'NA' is no number to the reader: run again as text
    ("words in the first rows", [False]),
    ("a long line", [True, False]),  # over MAX_CELL_CHARS: the typed reader stops, the text one decides
])
def test_revenue_is_read_typed_only_when_the_text_reading_could_not_differ(
    case: str, copies: list[bool], ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    frame = clean_frame(3_000, seed=8)
    frame["revenue"] = frame["revenue"].map(lambda v: "" if np.isnan(v) else f"{v:.2f}").astype(object)
    if case == "underscores in the first rows":
        frame["customer_id"] = frame["customer_id"].str.replace("C", "C_")
    elif case == "underscores later":
        frame.loc[2_900:, "offer_id"] = frame.loc[2_900:, "offer_id"].str.replace("OFF", "OFF_")
    elif case == "a word for missing later":
        frame.loc[2_900, "revenue"] = "NA"
    elif case == "words in the first rows":
        frame.loc[3, "revenue"] = "NULL"
    elif case == "a long line":  # (a cell that long is reported by the pandas path: a shorter limit here)
        monkeypatch.setattr(engine_import, "MAX_CELL_CHARS", 1_000)
        frame.loc[2_900, "event_type"] = "click" + " " * 1_200  # trimmed by both paths
    path = tmp_path / "typed.csv"
    frame.to_csv(path, index=False)
    seen: list[bool] = []
    sql = engine_import._Copy.sql
    monkeypatch.setattr(engine_import._Copy, "sql", lambda self, typed: seen.append(typed) or sql(self, typed))
    assert took_engine(path, tmp_path) == ""
    assert seen == copies
    engine, pandas_ = both_ways(ws, path, monkeypatch)
    assert_same_dataset(ws, engine, pandas_)


@pytest.mark.parametrize(("column", "written"), [
    ("event_time", ""), ("event_time", "1899-12-31T23:59:59"), ("event_time", "2026-07-03T00:00:00"),
    ("revenue", "-12.5"), ("revenue", "-0.01"),
])
def test_dates_and_refunds_after_the_first_rows_go_the_pandas_way(
    column: str, written: str, ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    frame = clean_frame(3_000, seed=6).astype({"revenue": object})
    frame.loc[2_500, column] = written  # after the first rows: the engine's own checks decide
    path = tmp_path / "late.csv"
    frame.to_csv(path, index=False)
    assert took_engine(path, tmp_path) != ""
    frame.loc[2_500, column] = {"event_time": "2026-07-01T23:00:00", "revenue": "-0.0"}[column]  # just inside
    frame.to_csv(path, index=False)
    assert took_engine(path, tmp_path) == ""
    engine, pandas_ = both_ways(ws, path, monkeypatch)
    assert_same_dataset(ws, engine, pandas_)


@pytest.mark.parametrize("written", ["crlf", "bom", "semicolons", "quoted"])
def test_csv_dialects_go_through_the_engine_and_store_the_same_dataset(
    written: str, ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "dialect.csv"
    frame = clean_frame(300, seed=4)
    frame.loc[[3], "offer_id"] = 'OFF "7", big'  # quotes and the delimiter inside a quoted field
    kwargs = {"crlf": {"lineterminator": "\r\n"}, "bom": {"encoding": "utf-8-sig"}, "semicolons": {"sep": ";"},
              "quoted": {"quoting": 1}}[written]
    frame.to_csv(path, index=False, **kwargs)
    assert took_engine(path, tmp_path) == ""
    engine, pandas_ = both_ways(ws, path, monkeypatch)
    assert_same_dataset(ws, engine, pandas_)


def test_sample_shop_interactions_give_the_same_dataset(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = SAMPLE_DIR / "interactions.csv.gz"
    if not source.exists():
        pytest.skip("the sample shop's interactions.csv.gz is not in sample_data/")
    path = tmp_path / "interactions.csv"
    with gzip.open(source, "rb") as packed, open(path, "wb") as out:
        out.write(b"".join(packed.readline() for _ in range(20_001)))  # header + 20,000 rows: lean
    engine, pandas_ = both_ways(ws, path, monkeypatch, options=ImportOptions())
    assert_same_dataset(ws, engine, pandas_)


def test_bad_files_keep_their_messages_and_leave_no_trace(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    frame = clean_frame(200)
    frame["revenue"] = frame["revenue"].astype(object)
    frame.loc[[4], "revenue"] = "lots"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"bad.csv, column 'revenue'.*text where a number is expected.*'lots'"):
        import_files(ws, path, options=ImportOptions(now=NOW))
    assert ws.datasets() == []
    leftovers = [p for p in (ws.path / "datasets").rglob("*") if p.suffix == ".parquet"]
    assert leftovers == []


def test_gzip_and_frames_go_the_pandas_way(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    clean_frame(100).to_csv(path, index=False)
    packed = tmp_path / "orders.csv.gz"
    with open(path, "rb") as plain, gzip.open(packed, "wb") as out:
        shutil.copyfileobj(plain, out)
    assert "compressed" in took_engine(packed, tmp_path)
    folder = tmp_path / "f"
    folder.mkdir()
    assert engine_interactions(clean_frame(10), "t", {}, ImportOptions(), folder).prepared is None
    assert engine_import.event_names(pd.Series([" Click", "TRUE", "1", "购买", "NA"])) == {
        " Click": "click", "购买": "purchase"}


def test_file_hash_starts_first_and_stops_when_the_engine_declines(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    clean_frame().to_csv(path, index=False)
    raw = RawFile.of(path, path.name)
    whole: list[str] = []
    engine_import._hash_file(raw, whole, threading.Event())
    assert whole == [hashlib.sha256(path.read_bytes()).hexdigest()]
    stopped: list[str] = []
    stop = threading.Event()
    stop.set()
    engine_import._hash_file(raw, stopped, stop)
    assert stopped == []  # a declined import does not finish the hash: the pandas path hashes the file

    threads = threading.active_count()
    late = tmp_path / "late_duplicates.csv"  # declined after the COPY
    frame = clean_frame()
    pd.concat([frame, frame.tail(3)]).to_csv(late, index=False)
    assert took_engine(late, tmp_path) == "duplicate rows (or a hash collision)"
    early = tmp_path / "early_spaces.csv"  # declined on the first rows, while the file is being hashed
    frame.assign(customer_id=" " + frame["customer_id"]).to_csv(early, index=False)
    assert took_engine(early, tmp_path) == "the first rows needed cleaning"
    assert threading.active_count() == threads  # the hash thread ended with each import


@pytest.mark.parametrize("case", ["e-mail in the first rows", "e-mail later", "phone later"])
def test_personal_customer_ids_anywhere_in_the_file_go_the_pandas_way_with_its_message(
    case: str, ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The engine checks the whole file's customer ids (not the first rows' alone): one e-mail or phone
    number among them is found wherever it is, and the pandas path then refuses with its own message."""
    frame = clean_frame(3_000, seed=9)
    row = {"e-mail in the first rows": 3, "e-mail later": 2_950, "phone later": 2_950}[case]
    frame.loc[row, "customer_id"] = "+44 20 7946 0958" if case == "phone later" else "jane.doe@example.com"
    path = tmp_path / "personal.csv"
    frame.to_csv(path, index=False)
    assert took_engine(path, tmp_path) == "ids that look like personal data"
    with pytest.raises(DataError, match=r"personal data"):
        import_files(ws, path, options=ImportOptions(now=NOW))
    assert ws.datasets() == []
