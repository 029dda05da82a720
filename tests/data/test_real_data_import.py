"""The UCI Online Retail data (a real, dirty shop export) imports with its known figures.

Skipped cleanly on machines without ``../shared/data`` (see its README for the figures).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from recsys.core import columns as C
from recsys.data.dataset import PreparedDataset
from recsys.data.clean import NON_PRODUCT_STEP
from recsys.data.prepare import prepare_dataset
from recsys.data.schema import ColumnKind

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "online_retail"
PARQUET = DATA / "online_retail.parquet"
EXCEL = DATA / "Online_Retail_prefix_70051rows.xlsx"
MAPPING = {
    C.USER_ID: "CustomerID", C.ITEM_ID: "StockCode", C.TIMESTAMP: "InvoiceDate",
    C.QUANTITY: "Quantity", C.UNIT_PRICE: "UnitPrice", C.ORDER_ID: "InvoiceNo",
}

pytestmark = pytest.mark.slow


def _skip_unless(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"real data not present: {path} (see shared/data/README.md)")


@pytest.fixture(scope="module")
def parquet() -> PreparedDataset:
    _skip_unless(PARQUET)
    return prepare_dataset(PARQUET)


@pytest.fixture(scope="module")
def excel() -> PreparedDataset:
    _skip_unless(EXCEL)
    return prepare_dataset(EXCEL)


def _check_contract(data: PreparedDataset) -> None:
    out = data.interactions
    assert tuple(out.columns) == C.INTERACTION_COLUMNS
    assert out[C.TIMESTAMP].dtype == "datetime64[ns]" and out[C.TIMESTAMP].notna().all()
    assert out[C.EVENT].unique().tolist() == [C.PURCHASE]
    assert (out[C.VALUE] >= 0).all()
    assert not out[C.USER_ID].str.contains(".", regex=False).any(), "ids like 17850.0 must read 17850"
    assert out[C.USER_ID].str.fullmatch(r"\d{5}").all()
    assert data.mapping["interactions"] == MAPPING
    assert data.user_facts == ("Country",) and data.item_facts == ("Description",)
    assert data.user_schema.kinds() == {"Country": ColumnKind.CATEGORICAL}
    assert data.item_schema.kinds() == {"Description": ColumnKind.TEXT}
    assert all(found == {} for found in data.identifiers.values())


def test_parquet_imports_with_the_known_counts(parquet: PreparedDataset) -> None:
    report = parquet.report
    assert report.rows_in == {"interactions": 541_909}
    assert report.count("rows without a customer id") == 135_080
    assert report.count("cancellations") == 9_288
    assert report.count("returns (negative quantity)") == 10_624
    assert report.count("exact duplicate rows") == 5_268
    assert report.count("negative unit price") == 2
    assert report.count("zero unit price") == 2_515
    # postage, carriage, manual lines and bank charges are not offers: left out, rule and codes reported
    lines = next(s for s in report.steps if s.name == NON_PRODUCT_STEP)
    assert lines.count == 1_549 and lines.action == "dropped"
    assert "codes POST, M, C2, DOT, BANK CHARGES, PADS" in lines.description
    assert report.rows_out == {"interactions": 391_183}  # 392,732 with them
    _check_contract(parquet)
    out = parquet.interactions
    assert not out[C.ITEM_ID].isin(["POST", "DOT", "M", "C2", "BANK CHARGES"]).any()
    assert out[C.USER_ID].nunique() == 4_335 and out[C.ITEM_ID].nunique() == 3_659
    first = out.iloc[0]
    assert (first[C.USER_ID], first[C.ITEM_ID]) == ("17850", "85123A")
    assert first[C.TIMESTAMP] == pd.Timestamp("2010-12-01 08:26") and first[C.VALUE] == pytest.approx(15.3)
    assert parquet.users.set_index(C.USER_ID).loc["12346", "Country"] == "United Kingdom"
    assert len(parquet.users) == 4_335  # 4 customers bought nothing but postage


def test_excel_prefix_imports_with_its_counts_and_matches_the_parquet(excel: PreparedDataset) -> None:
    report = excel.report
    assert report.rows_in == {"interactions": 70_051}
    assert report.count("rows without a customer id") == 27_275
    assert report.count("cancellations") == 1_175
    assert report.count("returns (negative quantity)") == 1_287
    assert report.count("exact duplicate rows") == 666
    assert report.count(NON_PRODUCT_STEP) == 169
    assert report.rows_out == {"interactions": 40_841}  # 41,010 with the non-product lines
    _check_contract(excel)
    # The spreadsheet is the first 70,051 rows of the Parquet file: cleaning both gives the same rows.
    _skip_unless(PARQUET)
    prefix = prepare_dataset(pd.read_parquet(PARQUET).iloc[:70_051]).interactions
    pd.testing.assert_frame_equal(excel.interactions, prefix)


def test_real_orders_as_an_interactions_csv_go_through_the_engine_with_what_pandas_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The UCI orders written as a plain interactions CSV (customer, product, time, revenue), the
    engine import's case: it takes the file with the revenue read as numbers, and stores exactly what
    the pandas path stores."""
    _skip_unless(PARQUET)
    from recsys.data import engine_import
    from recsys.data.mapping import ImportOptions
    from recsys.workspace import ingest
    from recsys.workspace.store import Workspace

    raw = pd.read_parquet(PARQUET).dropna(subset=["CustomerID"])
    raw = raw[(raw["Quantity"] > 0) & (raw["UnitPrice"] > 0) & raw["StockCode"].astype(str).str.contains(r"\d")]
    orders = pd.DataFrame({
        "customer_id": raw["CustomerID"].astype(int).astype(str), "offer_id": raw["StockCode"].astype(str),
        "event_type": "purchase", "event_time": pd.to_datetime(raw["InvoiceDate"]).dt.strftime("%Y-%m-%d %H:%M:%S"),
        "revenue": (raw["Quantity"] * raw["UnitPrice"]).round(2),
    }).drop_duplicates()
    path = tmp_path / "orders.csv"
    orders.to_csv(path, index=False)
    copies: list[bool] = []
    sql = engine_import._Copy.sql
    monkeypatch.setattr(engine_import._Copy, "sql", lambda self, typed: copies.append(typed) or sql(self, typed))
    ws = Workspace(tmp_path / "ws")
    engine, _ = ingest.import_files(ws, path, options=ImportOptions())
    assert copies == [True]  # the engine took it, revenue typed, in one COPY
    monkeypatch.setattr(ingest, "ENGINE_IMPORT", False)
    pandas_, _ = ingest.import_files(ws, path, options=ImportOptions())
    assert engine.n_interactions == pandas_.n_interactions == len(orders)
    for field in ("fingerprint", "n_users", "n_items", "report", "warnings"):
        assert getattr(engine, field) == getattr(pandas_, field), field
    a, b = ws.load_dataset(engine.id).interactions, ws.load_dataset(pandas_.id).interactions
    key = list(C.INTERACTION_COLUMNS)
    pd.testing.assert_frame_equal(a.sort_values(key, ignore_index=True), b.sort_values(key, ignore_index=True))
