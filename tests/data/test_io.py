"""Reading real-world files and turning them into a clean canonical dataset."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from recsys.core import columns as C
from recsys.data import privacy
from recsys.data.files import ReadLimits, file_fingerprint
from recsys.data.mapping import ImportOptions, guess_mapping, resolve_mapping
from recsys.data.parse import normalise_ids, parse_timestamps
from recsys.data.prepare import prepare_dataset
from recsys.data.read import load_table, parquet_memory_estimate, read_table
from recsys.data.schema import ColumnKind
from recsys.data.validate import DataError

ROWS = [("17850", "Café crème", "2.5"), ("13047", "Thé", "10")]


def _csv_text(delimiter: str = ",") -> str:
    lines = [delimiter.join(("CustomerID", "Description", "Price"))]
    lines += [delimiter.join(row) for row in ROWS]
    return "\r\n".join(lines) + "\r\n"


def _assert_rows(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == ["CustomerID", "Description", "Price"]
    assert frame["Description"].tolist() == ["Café crème", "Thé"]
    assert frame["Price"].tolist() == [2.5, 10.0]


# --- reading ----------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "latin-1", "cp1252"])
def test_csv_encodings_are_detected(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "orders.csv"
    path.write_bytes(_csv_text().encode(encoding))
    loaded = load_table(path)
    _assert_rows(loaded.frame)
    assert loaded.encoding is not None


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_csv_delimiters_are_detected(tmp_path: Path, delimiter: str) -> None:
    path = tmp_path / "orders.txt"
    path.write_text(_csv_text(delimiter), encoding="utf-8")
    loaded = load_table(path)
    _assert_rows(loaded.frame)
    assert loaded.delimiter == delimiter


def test_quoted_delimiters_do_not_confuse_detection(tmp_path: Path) -> None:
    text = 'user;item;note\nu1;i1;"a, b, c"\nu2;i2;"d, e"\n'
    frame = read_table(text.encode(), "notes.csv")
    assert frame["note"].tolist() == ["a, b, c", "d, e"]


def test_quoted_line_breaks_are_read(tmp_path: Path) -> None:
    text = 'user,item,note\nu1,i1,"two\nlines"\nu2,i2,plain\n'
    frame = read_table(text.encode(), "notes.csv")
    assert frame["note"].tolist() == ["two\nlines", "plain"]


def test_gzip_csv_is_read(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv.gz"
    path.write_bytes(gzip.compress(_csv_text(";").encode("utf-16")))
    _assert_rows(read_table(path))


def test_bytes_are_read_like_files() -> None:
    _assert_rows(read_table(_csv_text("|").encode("cp1252"), "upload.csv"))


def test_not_utf8_past_the_sniffed_head_falls_back_to_windows_1252(tmp_path: Path) -> None:
    body = "".join(f"u{i},i{i},plain\n" for i in range(8000))  # > 64 KB of ASCII first
    path = tmp_path / "late.csv"
    path.write_bytes(("user,item,note\n" + body).encode() + "u9,i9,Crème\n".encode("cp1252"))
    loaded = load_table(path)
    assert loaded.frame["note"].iloc[-1] == "Crème"
    assert loaded.encoding == "cp1252"
    assert any("Windows-1252" in w.message for w in loaded.warnings)


def test_id_columns_stay_text_so_leading_zeros_survive() -> None:
    frame = read_table(b"user,item\n007,01\n8,2\n", "a.csv", text_columns=["user"])
    assert frame["user"].tolist() == ["007", "8"]
    assert frame["item"].tolist() == [1, 2]


def test_parquet_is_read_even_when_named_csv(tmp_path: Path) -> None:
    frame = pd.DataFrame({"CustomerID": [17850.0, np.nan], "StockCode": ["85123A", "71053"]})
    good, renamed = tmp_path / "orders.parquet", tmp_path / "orders.csv"
    frame.to_parquet(good)
    frame.to_parquet(renamed)
    assert load_table(good).warnings == []
    loaded = load_table(renamed)
    assert loaded.format == "parquet"
    pd.testing.assert_frame_equal(loaded.frame, frame)
    assert [w.severity for w in loaded.warnings] == ["warning"]
    assert "named '.csv' but is a Parquet file" in loaded.warnings[0].message


def test_excel_is_read_with_text_ids_and_a_sheet_warning(tmp_path: Path) -> None:
    path = tmp_path / "orders.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        pd.DataFrame({"CustomerID": [17850.0, None, 13047.0], "Code": ["007", "7A", "12"],
                      "InvoiceDate": pd.to_datetime(["2011-01-02", "2011-01-03", "2011-01-04"])}
                     ).to_excel(writer, sheet_name="orders", index=False)
        pd.DataFrame({"note": ["x"]}).to_excel(writer, sheet_name="notes", index=False)
    loaded = load_table(path)
    assert loaded.format == "excel"
    assert loaded.frame["Code"].tolist() == ["007", "7A", "12"]
    assert pd.api.types.is_datetime64_any_dtype(loaded.frame["InvoiceDate"])
    assert any("sheet 'orders' was read and 'notes' ignored" in w.message for w in loaded.warnings)
    ids, _ = normalise_ids(loaded.frame["CustomerID"])
    assert ids.tolist()[::2] == ["17850", "13047"] and pd.isna(ids.iloc[1])


def test_excel_header_problems_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "dups.xlsx"
    pd.DataFrame([[1, 2]], columns=["id", "x"]).rename(columns={"x": "id"}).to_excel(path, index=False)
    with pytest.raises(DataError, match=r"column 'id': the column name 'id' occurs 2 times"):
        read_table(path)
    empty = tmp_path / "header.xlsx"
    pd.DataFrame(columns=["user_id", "item_id"]).to_excel(empty, index=False)
    with pytest.raises(DataError, match=r"header row but no data rows"):
        read_table(empty)


def test_zip_with_one_csv_is_read(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("orders.csv", _csv_text())
    _assert_rows(read_table(path))


def test_gzip_expanding_past_the_memory_guard_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.csv.gz"
    path.write_bytes(gzip.compress(b"user,item\n" + b"u1,i1\n" * 200_000))
    with pytest.raises(DataError, match=r"would need about 2\.3 MB of memory, over the limit of 1\.0 MB"):
        read_table(path, limits=ReadLimits(max_memory_bytes=1024**2))


def test_parquet_memory_estimate_counts_compressed_columns_at_full_size(tmp_path: Path) -> None:
    n = 100_000
    path = tmp_path / "constant.parquet"
    pq.write_table(pa.table({"a": np.zeros(n, dtype=np.int64), "b": np.zeros(n, dtype=np.float32)}), path)
    handle = pq.ParquetFile(path)
    estimate = parquet_memory_estimate(handle.metadata, handle.schema_arrow)
    assert path.stat().st_size < 10_000
    assert estimate >= n * (8 + 4)  # the frame's size, not the file's


def test_file_fingerprint_is_the_sha256_of_the_bytes(tmp_path: Path) -> None:
    import hashlib

    path = tmp_path / "a.csv"
    path.write_bytes(b"x" * 3_000_000)
    assert file_fingerprint(path) == hashlib.sha256(b"x" * 3_000_000).hexdigest()
    assert file_fingerprint(b"abc") == hashlib.sha256(b"abc").hexdigest()


# --- mapping ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("column", "canonical"), [
    ("CustomerID", C.USER_ID), ("customer_id", C.USER_ID), ("member", C.USER_ID), ("Client ID", C.USER_ID),
    ("web-customer-id", C.USER_ID),
    ("StockCode", C.ITEM_ID), ("coupon_id", C.ITEM_ID), ("campaign_id", C.ITEM_ID), ("SKU", C.ITEM_ID),
    ("InvoiceDate", C.TIMESTAMP), ("event_time", C.TIMESTAMP), ("Purchase Date", C.TIMESTAMP),
    ("event_type", C.EVENT), ("Action", C.EVENT),
    ("Revenue", C.VALUE), ("Quantity", C.QUANTITY), ("UnitPrice", C.UNIT_PRICE), ("InvoiceNo", C.ORDER_ID),
    ("rating", C.WEIGHT),
])
def test_common_column_names_are_guessed(column: str, canonical: str) -> None:
    others = ["user_id", "item_id"] if canonical not in (C.USER_ID, C.ITEM_ID) else []
    assert guess_mapping([*others, column], C.Table.INTERACTIONS)[canonical] == column


def test_alias_order_wins_over_column_order() -> None:
    mapping = guess_mapping(["customer", "customer_id", "product"], "interactions")
    assert mapping[C.USER_ID] == "customer_id" and mapping[C.ITEM_ID] == "product"


def test_users_and_items_files_map_only_their_key() -> None:
    assert guess_mapping(["member_id", "coupon", "tier"], C.Table.USERS) == {C.USER_ID: "member_id"}
    assert guess_mapping(["coupon_code", "date"], C.Table.ITEMS) == {C.ITEM_ID: "coupon_code"}
    assert guess_mapping(["tier"], C.Table.USERS) == {}


def test_overrides_replace_remove_and_reassign_guesses() -> None:
    columns = ["customer", "offer", "score", "amount"]
    assert resolve_mapping(columns, "interactions")[C.WEIGHT] == "score"
    mapping = resolve_mapping(columns, "interactions", {C.VALUE: "score", C.ITEM_ID: None})
    assert mapping == {C.USER_ID: "customer", C.VALUE: "score"}


def test_mapping_override_is_used_by_prepare(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("who,what,how_much\nu1,i1,3\nu2,i1,4\n")
    data = prepare_dataset(path, mapping={"interactions": {C.USER_ID: "who", C.ITEM_ID: "what",
                                                          C.VALUE: "how_much"}})
    assert data.mapping["interactions"] == {C.USER_ID: "who", C.ITEM_ID: "what", C.VALUE: "how_much"}
    assert data.interactions[C.VALUE].tolist() == [3.0, 4.0]


# --- ids, events, timestamps ------------------------------------------------------------------


def test_ids_are_normalised() -> None:
    ids, stripped = normalise_ids(pd.Series([" 17850 ", "17850.0", None, "", "A1", "7.5"]))
    assert ids.tolist()[:2] == ["17850", "17850"]
    assert pd.isna(ids.iloc[2]) and pd.isna(ids.iloc[3])
    assert ids.tolist()[4:] == ["A1", "7.5"]
    assert stripped.tolist() == [True, False, False, False, False, False]
    floats, _ = normalise_ids(pd.Series([17850.0, np.nan, 12346.0]))
    assert floats.tolist()[::2] == ["17850", "12346"]
    nullable, _ = normalise_ids(pd.Series([1, None], dtype="Int64"))
    assert nullable.iloc[0] == "1" and pd.isna(nullable.iloc[1])


def test_timestamps_day_first_mixed_epoch_and_time_zones() -> None:
    parsed, missing, bad = parse_timestamps(pd.Series(["13/01/2024 10:00", "01/02/2024 09:00", "", "nope"]))
    assert parsed.iloc[0] == pd.Timestamp("2024-01-13 10:00") and parsed.iloc[1] == pd.Timestamp("2024-02-01 09:00")
    assert missing.tolist() == [False, False, True, False] and bad.tolist() == [False, False, False, True]
    mixed, _, bad = parse_timestamps(pd.Series(["2024-03-01", "March 2, 2024", "0001-01-01"]))
    assert mixed.iloc[1] == pd.Timestamp("2024-03-02") and bad.tolist() == [False, False, True]
    zoned, _, _ = parse_timestamps(pd.Series(["2024-01-01T12:00:00+02:00", "2024-01-01T12:00:00Z"]))
    assert zoned.tolist() == [pd.Timestamp("2024-01-01 10:00"), pd.Timestamp("2024-01-01 12:00")]
    epoch, _, _ = parse_timestamps(pd.Series([1_704_067_200, 1_704_153_600]))
    assert epoch.iloc[0] == pd.Timestamp("2024-01-01")


def test_output_contract_without_optional_columns(tmp_path: Path) -> None:
    data = prepare_dataset(pd.DataFrame({"user": [1, 2, 2], "item": ["a", "b", "a"]}))
    frame = data.interactions
    assert tuple(frame.columns) == C.INTERACTION_COLUMNS
    assert frame[C.USER_ID].tolist() == ["1", "2", "2"]
    assert frame[C.EVENT].unique().tolist() == [C.INTERACTION]
    assert frame[C.TIMESTAMP].isna().all() and frame[C.TIMESTAMP].dtype == "datetime64[ns]"
    assert frame[C.WEIGHT].tolist() == [1.0, 1.0, 1.0] and frame[C.WEIGHT].dtype == np.float64
    assert frame[C.VALUE].isna().all() and frame[C.VALUE].dtype == np.float64
    assert pd.api.types.is_string_dtype(frame[C.USER_ID]) and pd.api.types.is_string_dtype(frame[C.EVENT])


def test_events_set_weights_and_revenue_comes_from_quantity_times_price() -> None:
    frame = pd.DataFrame({
        "customer": ["u1", "u1", "u2", "u3"], "offer": ["o1", "o2", "o1", "o1"],
        "Action": ["Click", " REDEEM", "teleport", None], "qty": [1, 2, 1, 1], "price": [2.0, 3.0, 4.0, 5.0],
        "date": ["2024-01-01"] * 4,
    })
    data = prepare_dataset(frame, options=ImportOptions(event_weights={"click": 3, "redeem": 7}))
    out = data.interactions
    assert out[C.EVENT].tolist() == ["click", "redeem", "teleport", C.PURCHASE]
    assert out[C.WEIGHT].tolist() == [3.0, 7.0, 1.0, 1.0]  # unknown events weigh 1
    assert out[C.VALUE].tolist() == [2.0, 6.0, 4.0, 5.0]
    assert data.report.count("event type missing") == 1
    default = prepare_dataset(frame.drop(columns=["Action"])).interactions
    assert default[C.EVENT].unique().tolist() == [C.PURCHASE]
    assert default[C.WEIGHT].unique().tolist() == [C.DEFAULT_EVENT_WEIGHTS[C.PURCHASE]]


def test_a_weight_column_wins_over_event_weights_and_fills_gaps() -> None:
    frame = pd.DataFrame({"user_id": ["u1", "u2", "u3"], "item_id": ["a", "b", "c"],
                          "event": ["click", "click", "view"], "weight": [0.5, None, 4]})
    data = prepare_dataset(frame)
    assert data.interactions[C.WEIGHT].tolist() == [0.5, C.DEFAULT_EVENT_WEIGHTS[C.CLICK], 4.0]
    assert data.report.count("weight missing") == 1


# --- cleaning ---------------------------------------------------------------------------------


def _dirty_orders() -> pd.DataFrame:
    return pd.DataFrame({
        "InvoiceNo": ["1", "1", "1", "C2", "3", "4", "5", "6", "7", "8", "9", "10"],
        "StockCode": ["A", "A", "B", "A", None, "B", "C", "C", "A", "B", "C", "A"],
        "Quantity": [1, 1, 2, -1, 1, -3, 0, 1, 1, 1, 1, 2],
        "UnitPrice": [2.0, 2.0, 1.0, 2.0, 1.0, 1.0, 1.0, -5.0, 0.0, 1.0, 1.0, 1.0],
        "CustomerID": [17850.0, 17850.0, 17850.0, 17850.0, 13047.0, 13047.0, np.nan, 13047.0, 12583.0,
                       12583.0, 12583.0, 12583.0],
        "InvoiceDate": ["2011-01-01 10:00"] * 3 + ["2011-01-02 10:00"] * 6 + ["2011-01-03", "2031-01-01",
                                                                              "2011-01-05"],
    })


def test_cleaning_counts_each_step_on_the_raw_rows() -> None:
    data = prepare_dataset(_dirty_orders(), options=ImportOptions(max_bad_share=0.2, now=pd.Timestamp("2012-01-01")))
    report = data.report
    assert report.rows_in == {"interactions": 12}
    assert report.count("rows without a customer id") == 1
    assert report.count("rows without an item id") == 1
    assert report.count("exact duplicate rows") == 1
    assert report.count("cancellations") == 1
    assert report.count("returns (negative quantity)") == 2
    assert report.count("zero quantity") == 1
    assert report.count("negative unit price") == 1
    assert report.count("zero unit price") == 1
    assert report.count("dates in the future") == 1
    steps = {s.name: s for s in report.steps}
    assert steps["cancellations"].example_rows == (5,)
    assert steps["returns (negative quantity)"].example_rows == (5, 7)
    assert steps["zero unit price"].action == "kept"
    # kept: rows 2 (first copy), 4 (B), 10 (free item, kept), 11 (A), 13 (A)
    assert report.rows_out == {"interactions": 5}
    out = data.interactions
    assert out[C.USER_ID].tolist() == ["17850", "17850", "12583", "12583", "12583"]
    assert out[C.ITEM_ID].tolist() == ["A", "B", "A", "B", "A"]
    assert out[C.VALUE].tolist() == [2.0, 2.0, 0.0, 1.0, 2.0]


def test_duplicates_are_kept_when_nothing_tells_repeats_from_resends() -> None:
    data = prepare_dataset(pd.DataFrame({"user_id": ["u1", "u1", "u2"], "item_id": ["a", "a", "a"]}))
    step = next(s for s in data.report.steps if s.name == "exact duplicate rows")
    assert step.count == 1 and step.action == "kept"
    assert len(data.interactions) == 3


def test_cancellation_prefix_only_counts_for_numeric_order_numbers() -> None:
    frame = pd.DataFrame({"user_id": ["u1", "u2"], "item_id": ["a", "b"], "order_id": ["CA-2016-1", "CA-2016-2"]})
    assert prepare_dataset(frame).report.count("cancellations") == 0


def test_whitespace_ids_are_one_id_and_leading_zero_modes() -> None:
    frame = pd.DataFrame({"user_id": [" 7", "007", "7 ", "8"], "item_id": ["a", "b", "c", "d"]})
    with pytest.raises(DataError, match=r"'007' and '7'"):
        prepare_dataset(frame)
    merged = prepare_dataset(frame, options=ImportOptions(leading_zero_ids="merge"))
    assert merged.interactions[C.USER_ID].tolist() == ["7", "7", "7", "8"]
    assert merged.report.count("customer id: surrounding spaces removed") == 2
    assert merged.report.count("customer id: leading zeros removed") == 1
    kept = prepare_dataset(frame, options=ImportOptions(leading_zero_ids="keep"))
    assert kept.interactions[C.USER_ID].tolist() == ["7", "007", "7", "8"]


# --- users, items and facts -------------------------------------------------------------------


def _orders_with_facts(n_users: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    users = np.repeat(np.arange(n_users), 3)
    items = rng.integers(0, 12, len(users))
    return pd.DataFrame({
        "CustomerID": users,
        "StockCode": [f"P{i}" for i in items],
        "Country": np.where(users % 2 == 0, "United Kingdom", "France"),
        "Description": [f"PRODUCT {i} MUG" for i in items],
        "Channel": rng.choice(["web", "app"], len(users)),
        "Quantity": 1,
    })


def test_user_and_item_facts_are_guessed_from_the_interactions_file() -> None:
    data = prepare_dataset(_orders_with_facts())
    assert data.user_facts == ("Country",) and data.item_facts == ("Description",)
    users = data.users.set_index(C.USER_ID)
    assert users.loc["0", "Country"] == "United Kingdom" and users.loc["1", "Country"] == "France"
    assert len(users) == 40
    items = data.items.set_index(C.ITEM_ID)
    assert items.loc["P3", "Description"] == "PRODUCT 3 MUG"
    assert data.user_schema.kinds() == {"Country": ColumnKind.CATEGORICAL}


def test_chosen_fact_columns_and_turning_them_off() -> None:
    orders = _orders_with_facts()
    data = prepare_dataset(orders, options=ImportOptions(user_columns=("Channel",), item_columns=()))
    assert list(data.users.columns) == [C.USER_ID, "Channel"]
    assert list(data.items.columns) == [C.ITEM_ID] and len(data.items) == 0


def test_fact_value_is_the_most_frequent_one() -> None:
    orders = pd.DataFrame({"user_id": ["u1"] * 3 + ["u2"], "item_id": ["a", "b", "c", "a"],
                           "tier": ["gold", "silver", "silver", "bronze"]})
    data = prepare_dataset(orders, options=ImportOptions(user_columns=("tier",)))
    assert data.users.set_index(C.USER_ID)["tier"].to_dict() == {"u1": "silver", "u2": "bronze"}


def test_users_and_items_files_are_cleaned_and_merged_with_facts(tmp_path: Path) -> None:
    orders = _orders_with_facts()
    users = pd.DataFrame({"customer_id": ["0", "1", "999", None, "1"], "tier": ["gold", "silver", "new", "x", "silver"],
                          "email": ["a@x.com", "b@x.com", "c@x.com", "d@x.com", "b@x.com"]})
    items = pd.DataFrame({"sku": [f"P{i}" for i in range(12)], "category": ["mugs"] * 12})
    data = prepare_dataset(orders, users, items)
    assert data.report.rows_in["users"] == 5 and data.report.rows_out["users"] == 3
    assert data.report.count("rows without a customer id", table="users") == 1
    assert data.report.count("exact duplicate rows", table="users") == 1
    frame = data.users.set_index(C.USER_ID)
    assert set(frame.index) == {str(i) for i in range(40)} | {"999"}  # users without interactions are kept
    assert frame.loc["999", "tier"] == "new" and pd.isna(frame.loc["999", "Country"])
    assert data.identifiers["users"] == {"email": "its name suggests e-mail addresses"}
    assert data.user_schema.kinds()["email"] == ColumnKind.IDENTIFIER
    assert "email" not in data.user_schema.feature_columns()
    assert list(data.items.columns) == [C.ITEM_ID, "category", "Description"]
    assert any(w.column == "email" and w.severity == "warning" for w in data.warnings)


def test_users_file_with_no_matching_ids_warns(tmp_path: Path) -> None:
    orders = pd.DataFrame({"user_id": ["7", "8"], "item_id": ["a", "b"]})
    users = pd.DataFrame({"user_id": ["007", "008"], "tier": ["a", "b"]})
    data = prepare_dataset(orders, users)
    warning = next(w for w in data.warnings if "appear in the interactions" in w.message)
    assert "leading_zero_ids='merge'" in warning.fix


def test_identifier_columns_of_the_interactions_file_never_become_facts() -> None:
    orders = pd.DataFrame({"user_id": np.repeat([f"u{i}" for i in range(40)], 2), "item_id": "a",
                           "email": np.repeat([f"p{i}@shop.com" for i in range(40)], 2)})
    data = prepare_dataset(orders)
    assert "email" not in data.users.columns
    assert data.identifiers["interactions"] == {"email": "its name suggests e-mail addresses"}


def test_pseudonymisation_replaces_customer_ids_everywhere() -> None:
    key = privacy.new_key()
    orders = pd.DataFrame({"customer": ["ann@x.com", "bob@y.org", "ann@x.com"], "item": ["a", "b", "c"]})
    users = pd.DataFrame({"customer": ["ann@x.com", "bob@y.org"], "tier": ["gold", "silver"]})
    data = prepare_dataset(orders, users, options=ImportOptions(pseudonymise_key=key))
    ids = data.interactions[C.USER_ID]
    assert ids.str.match(r"^u_[0-9a-f]{16}$").all()
    assert ids.iloc[0] == ids.iloc[2] != ids.iloc[1]
    assert set(data.users[C.USER_ID]) == set(ids)
    assert not data.interactions.astype(str).apply(lambda col: col.str.contains("@")).any().any()
    other = prepare_dataset(orders, users, options=ImportOptions(pseudonymise_key=privacy.new_key()))
    assert set(other.interactions[C.USER_ID]).isdisjoint(set(ids))


# --- provenance -------------------------------------------------------------------------------


def test_fingerprint_is_stable_and_follows_inputs_mapping_and_options(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("user_id,item_id,amount\nu1,i1,3\nu2,i2,4\n")
    first, again = prepare_dataset(path), prepare_dataset(path)
    assert first.fingerprint == again.fingerprint and len(first.fingerprint) == 64
    assert prepare_dataset(path, options=ImportOptions(event_weights={"purchase": 2})).fingerprint != first.fingerprint
    assert prepare_dataset(path, mapping={"interactions": {C.VALUE: None}}).fingerprint != first.fingerprint
    path.write_text("user_id,item_id,amount\nu1,i1,3\nu2,i2,5\n")
    assert prepare_dataset(path).fingerprint != first.fingerprint
    assert first.sources[0].name == "orders.csv" and first.sources[0].rows == 2


def test_sources_record_hash_size_and_rows(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("user_id,item_id\nu1,i1\nu2,i2\nu3,i3\n")
    source = prepare_dataset(path).sources[0]
    assert (source.table, source.name, source.rows) == ("interactions", "orders.csv", 3)
    assert source.sha256 == file_fingerprint(path) and source.bytes == path.stat().st_size


def test_duplicate_detection_matches_pandas_exactly() -> None:
    from recsys.data.clean import duplicated_rows

    rng = np.random.default_rng(11)
    n = 5_000
    frame = pd.DataFrame({
        "text": pd.Series(rng.choice(["a", "b", "c", None], n), dtype="str"),
        "number": np.where(rng.random(n) < 0.1, np.nan, rng.integers(0, 3, n).astype(float)),
        "when": pd.to_datetime(rng.integers(0, 3, n), unit="D"),
        "count": rng.integers(0, 2, n),
        "raw": pd.Series(rng.choice(["x", "y"], n), dtype=object),
    })
    expected = frame.duplicated(keep="first").to_numpy()
    assert expected.sum() > 0
    assert (duplicated_rows(frame) == expected).all()


def test_semicolon_files_with_decimal_commas_give_numbers(tmp_path: Path) -> None:
    path = tmp_path / "umsatz.csv"
    path.write_text("Kunde;Artikel;Umsatz\nk1;a1;12,50\nk2;a2;1.234,00\nk3;a1;\n", encoding="utf-8")
    data = prepare_dataset(path, mapping={"interactions": {C.USER_ID: "Kunde", C.ITEM_ID: "Artikel",
                                                          C.VALUE: "Umsatz"}})
    assert data.interactions[C.VALUE].tolist()[:2] == [12.5, 1234.0]
    assert np.isnan(data.interactions[C.VALUE].iloc[2])


@pytest.mark.parametrize(("content", "what"), [
    (b"<!DOCTYPE html><html><body>Login</body></html>", "web page"),
    (b'[{"user_id": 1}]', "JSON"),
])
def test_text_that_is_not_a_table_is_named(content: bytes, what: str) -> None:
    with pytest.raises(DataError, match=f"not a CSV table: it looks like .*{what}"):
        read_table(content, "export.csv")
