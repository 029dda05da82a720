"""AppTest of the app shell and the Data page: first start, upload good and bad files."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from recsys.workspace.store import Workspace

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120


@pytest.fixture()
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("PROMOLENS_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.chdir(ROOT)
    # The page file itself: AppTest re-runs only the page script after the first run of app.py.
    at = AppTest.from_file(str(ROOT / "pages" / "data.py"), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def _submit(at: AppTest, label: str) -> None:
    next(b for b in at.button if b.label == label).click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def test_first_start_imports_the_sample_and_shows_the_overview(app: AppTest, tmp_path: Path) -> None:
    datasets = Workspace(tmp_path / "ws").datasets()
    assert [d.name for d in datasets] == ["Sample shop"]
    assert app.sidebar.selectbox(key="dataset_id").value == datasets[0].id
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Customers"] == f"{datasets[0].n_users:,}"
    assert metrics["Interactions"] == f"{datasets[0].n_interactions:,}"


def test_upload_good_file_maps_columns_and_saves(app: AppTest, tmp_path: Path) -> None:
    orders = pd.DataFrame({
        "CustomerID": [101, 101, 102, 103, 103, 104],
        "StockCode": ["A1", "B2", "A1", "C3", "A1", "B2"],
        "InvoiceDate": pd.date_range("2026-02-01", periods=6, freq="D").astype(str),
        "Quantity": [1, 2, 1, 3, 1, 1],
        "UnitPrice": [2.5, 4.0, 2.5, 1.0, 2.5, 4.0],
        "Country": ["UK", "UK", "France", "UK", "UK", "Spain"],
    })
    app.file_uploader(key="upload_interactions").set_value(("orders.csv", _csv(orders), "text/csv"))
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    # the guessed mapping is offered for review
    assert app.selectbox(key="map_interactions_user_id").value == "CustomerID"
    assert app.selectbox(key="map_interactions_item_id").value == "StockCode"
    app.text_input[0].set_value("my orders")
    _submit(app, "Check and import")
    datasets = Workspace(tmp_path / "ws").datasets()
    assert datasets[0].name == "my orders" and datasets[0].n_interactions == 6
    assert app.sidebar.selectbox(key="dataset_id").value == datasets[0].id
    assert any("Saved **my orders**" in s.value for s in app.success)


def test_upload_bad_file_shows_every_problem_and_changes_nothing(app: AppTest, tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    before = ws.snapshot()
    bad = pd.DataFrame({"CustomerID": ["1", "2", "3"], "StockCode": ["A", "B", "C"], "weight": [1.0, -2.0, -1.0]})
    app.file_uploader(key="upload_interactions").set_value(("bad.csv", _csv(bad), "text/csv"))
    app.run()
    _submit(app, "Check and import")
    errors = " ".join(e.value for e in app.error)
    assert "not imported" in errors and "Nothing in your workspace changed" in errors
    shown = re.sub(r"\\(.)", r"\1", " ".join(m.value for m in app.markdown))  # as rendered: escapes undone
    assert "bad.csv" in shown and "weight" in shown
    assert ws.snapshot() == before


def test_binary_upload_is_refused_before_mapping(app: AppTest, tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    before = ws.snapshot()
    app.file_uploader(key="upload_interactions").set_value(("photo.csv", bytes(range(256)) * 40, "text/csv"))
    app.run()
    assert not app.exception
    assert any("not imported" in e.value for e in app.error)
    assert not [b for b in app.button if b.label == "Check and import"]
    assert ws.snapshot() == before


def test_marking_a_column_sensitive_is_saved(app: AppTest, tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    info = ws.datasets()[0]
    assert "region" not in info.user_schema.sensitive()
    assert any(b.label == "Save column types" for b in app.button)
    kinds = pd.DataFrame([{"table": "customers", **c.to_dict()} for c in info.user_schema.columns]
                         + [{"table": "offers", **c.to_dict()} for c in info.item_schema.columns])
    row = int(kinds.index[kinds["name"] == "region"][0])
    app.session_state[f"kinds_{info.id}"] = {"edited_rows": {row: {"sensitive": True}}, "added_rows": [], "deleted_rows": []}
    _submit(app, "Save column types")
    assert "region" in ws.dataset(info.id).user_schema.sensitive()


def test_app_entry_routes_to_the_data_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMOLENS_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.title] == ["Data"]
    assert at.sidebar.selectbox(key="dataset_id").value == "d1"


def test_user_text_in_error_messages_is_shown_literally() -> None:
    from pages.shared import md

    # what opens markup is escaped (no link, autolinked URL, emphasis, HTML or maths); ordinary punctuation stays
    assert md("[click](http://evil)") == r"\[click\](http\://evil)"
    assert md("**bold** _x_ `code` $x$ <b>") == r"\*\*bold\*\* \_x\_ \`code\` \$x\$ \<b\>"
    assert md("plain words, file.csv (42)") == "plain words, file.csv (42)"


def test_importing_the_same_files_twice_is_refused_unless_confirmed(app: AppTest, tmp_path: Path) -> None:
    # First start imported the sample shop; a second "Import the sample shop" (a double click) must not
    # make an untrained duplicate: it is refused in plain words, with the dataset it duplicates named.
    ws = Workspace(tmp_path / "ws")
    app.radio(key="import_source").set_value("Use the sample shop")
    app.run()
    _submit(app, "Import the sample shop")
    assert [d.name for d in ws.datasets()] == ["Sample shop"]
    warning = " ".join(w.value for w in app.warning)
    assert "already imported as 'Sample shop'" in warning and "nothing was saved" in warning
    assert any(b.label == "Open 'Sample shop'" for b in app.button)
    # Confirmed on purpose: a second copy is kept.
    app.checkbox(key="sample_again").check()
    app.run()
    _submit(app, "Import the sample shop")
    assert [d.name for d in ws.datasets()] == ["Sample shop", "Sample shop"]


def test_delete_without_the_tick_says_so(app: AppTest, tmp_path: Path) -> None:
    _submit(app, "Delete")
    assert any("Nothing was deleted" in w.value for w in app.warning)
    assert len(Workspace(tmp_path / "ws").datasets()) == 1
