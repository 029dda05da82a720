"""Appending data to a stored dataset: validated like an import, atomic, with a history of versions."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys.core import columns as C
from recsys.data import privacy
from recsys.workspace import runs, store
from recsys.cli import main
from recsys.cli.common import EXIT_BAD_INPUT
from recsys.workspace.ingest import append_files, import_files
from recsys.workspace.appends import APPENDS_DIR
from recsys.workspace.records import merge_facts
from recsys.workspace.store import NotFound, Workspace
from recsys.data.validate import DataError
from tests.badfiles import ALL_BAD_CASES, BadCase

# The shop's own column names (mapped on import onto the canonical ones).
HEADER = "customer_id,offer_id,event_type,date\n"


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _digest(ws: Workspace) -> dict[str, str]:
    """sha256 of every file under the workspace (the catalogue included)."""
    return {
        str(p.relative_to(ws.path)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(ws.path.rglob("*")) if p.is_file()
    }


@pytest.fixture()
def shop(tmp_path: Path) -> Path:
    files = tmp_path / "shop"
    files.mkdir()
    _write(files / "orders.csv", HEADER + "u1,o1,click,2026-01-01\nu1,o2,redeem,2026-01-02\nu2,o1,click,2026-01-03\n"
           "u3,o2,purchase,2026-01-04\nu3,o3,click,2026-01-05\n")
    _write(files / "customers.csv", "customer_id,tier,age\nu1,gold,30\nu2,silver,40\nu3,gold,50\nu4,silver,60\n")
    _write(files / "offers.csv", "offer_id,category\no1,shoes\no2,bags\no3,shoes\n")
    return files


@pytest.fixture()
def ws(tmp_path: Path, shop: Path) -> Workspace:
    ws = Workspace(tmp_path / "ws")
    import_files(ws, shop / "orders.csv", shop / "customers.csv", shop / "offers.csv", name="shop")
    return ws


def _batch(tmp_path: Path, name: str, rows: str) -> Path:
    return _write(tmp_path / name, HEADER + rows)


# ------------------------------------------------------------------------------------ round trip
def test_append_then_load_latest_is_the_concatenation_and_version_0_the_original(ws: Workspace, tmp_path: Path) -> None:
    original = ws.load_dataset("d1")
    record, batch = append_files(ws, "d1", _batch(tmp_path, "day2.csv", "u2,o3,click,2026-01-06\nu5,o4,redeem,2026-01-07\n"))
    latest = ws.load_dataset("d1")
    expected = pd.concat([original.interactions, batch.interactions], ignore_index=True)
    pd.testing.assert_frame_equal(latest.interactions, expected)
    assert latest.interactions[C.USER_ID].tolist()[-2:] == ["u2", "u5"]
    again = ws.load_dataset("d1", version=0)
    for table in ("interactions", "users", "items"):
        pd.testing.assert_frame_equal(getattr(again, table), getattr(original, table))
    assert again.info == original.info
    assert (latest.info.version, latest.info.n_interactions, latest.info.n_users, latest.info.n_items) == (1, 7, 5, 4)
    assert record["seq"] == 1 and record["n_rows"] == 2


def test_without_appends_load_is_exactly_the_import(ws: Workspace, shop: Path) -> None:
    data = ws.load_dataset("d1")
    stored = pd.read_parquet(ws.table_path("d1", C.Table.INTERACTIONS))
    pd.testing.assert_frame_equal(data.interactions, stored)
    assert data.info.version == 0 and data.info.fingerprint == data.info.base_fingerprint
    assert ws.appends("d1") == []
    assert ws.load_appended("d1", 0).interactions.empty


def test_fingerprint_and_version_change_on_every_append(ws: Workspace, tmp_path: Path) -> None:
    seen = [ws.dataset("d1").fingerprint]
    for day in (6, 7):
        append_files(ws, "d1", _batch(tmp_path, f"day{day}.csv", f"u1,o3,click,2026-01-0{day}\n"))
        seen.append(ws.dataset("d1").fingerprint)
    assert len(set(seen)) == 3
    assert ws.dataset("d1").version == 2
    assert [ws.load_dataset("d1", version=v).info.fingerprint for v in (0, 1, 2)] == seen
    assert ws.dataset("d1").base_fingerprint == seen[0]
    assert [r["fingerprint"] for r in ws.appends("d1")] == seen[1:]
    expected = hashlib.sha256(f"{seen[0]}\n{ws.appends('d1')[0]['batch_fingerprint']}".encode()).hexdigest()
    assert seen[1] == expected
    assert "2 appends" in ws.dataset("d1").label()


def test_history_is_kept_oldest_first_with_counts(ws: Workspace, tmp_path: Path) -> None:
    append_files(ws, "d1", _batch(tmp_path, "a.csv", "u9,o1,click,2026-01-10\nu1,o9,click,2026-01-12\n"), name="monday")
    users = _write(tmp_path / "new_customers.csv", "customer_id,tier,age\nu2,gold,41\nu10,silver,22\n")
    append_files(ws, "d1", users=users)
    first, second = ws.appends("d1")
    assert (first["seq"], first["name"], second["seq"], second["name"]) == (1, "monday", 2, "new_customers.csv")
    assert (first["n_rows"], first["n_new_users"], first["n_new_items"]) == (2, 1, 1)
    assert (first["first_event"], first["last_event"]) == (pd.Timestamp("2026-01-10"), pd.Timestamp("2026-01-12"))
    assert (second["n_rows"], second["n_new_users"], second["n_updated_users"], second["n_user_rows"]) == (0, 1, 1, 2)
    assert second["first_event"] is None
    assert [s["name"] for s in first["sources"]] == ["a.csv"]
    assert (ws.append_dir("d1", 2) / "users.parquet").exists()


# ------------------------------------------------------------------------------------ facts
def test_later_batches_add_ids_and_replace_facts_latest_non_missing_wins(ws: Workspace, tmp_path: Path) -> None:
    append_files(ws, "d1", users=_write(tmp_path / "c1.csv", "customer_id,tier,age\nu2,platinum,\nu7,gold,33\n"))
    append_files(ws, "d1", users=_write(tmp_path / "c2.csv", "customer_id,tier,age\nu7,silver,34\n"))
    append_files(ws, "d1", items=_write(tmp_path / "o.csv", "offer_id,category\no2,travel\no8,toys\n"))
    users = ws.load_dataset("d1").users.set_index(C.USER_ID)
    assert users.index.tolist() == ["u1", "u2", "u3", "u4", "u7"]  # known ids keep their place, new ones at the end
    assert users.loc["u2", "tier"] == "platinum" and users.loc["u2", "age"] == 40  # an empty cell erases nothing
    assert (users.loc["u7", "tier"], users.loc["u7", "age"]) == ("silver", 34)
    assert users.loc["u1", "tier"] == "gold"
    items = ws.load_dataset("d1").items.set_index(C.ITEM_ID)
    assert items["category"].to_dict() == {"o1": "shoes", "o2": "travel", "o3": "shoes", "o8": "toys"}
    at_1 = ws.load_dataset("d1", version=1).users.set_index(C.USER_ID)
    assert (at_1.loc["u7", "tier"], at_1.loc["u2", "tier"]) == ("gold", "platinum")
    assert ws.load_dataset("d1", version=1).items[C.ITEM_ID].tolist() == ["o1", "o2", "o3"]


def test_merge_facts_is_vectorised_reference() -> None:
    rng = np.random.default_rng(0)
    frames = [pd.DataFrame({C.USER_ID: rng.choice(list("abcdefgh"), 5, replace=False),
                            "x": rng.choice([1.0, np.nan, 3.0], 5)}) for _ in range(4)]
    merged = merge_facts(frames, C.USER_ID).set_index(C.USER_ID)["x"]
    expected: dict[str, float] = {}
    for frame in frames:  # slow reference: walk the rows of the batches in order
        for user, value in zip(frame[C.USER_ID], frame["x"], strict=True):
            if user not in expected or not np.isnan(value):
                expected[user] = value
    assert list(merged.index) == list(dict.fromkeys(pd.concat([f[C.USER_ID] for f in frames])))
    pd.testing.assert_series_equal(merged, pd.Series(expected, name="x").rename_axis(C.USER_ID).loc[merged.index])


def test_load_appended_returns_only_the_new_batches(ws: Workspace, tmp_path: Path) -> None:
    append_files(ws, "d1", _batch(tmp_path, "a.csv", "u1,o1,click,2026-01-10\n"))
    append_files(ws, "d1", _batch(tmp_path, "b.csv", "u6,o2,click,2026-01-11\n"),
                 users=_write(tmp_path / "c.csv", "customer_id,tier,age\nu6,gold,20\n"))
    append_files(ws, "d1", _batch(tmp_path, "c2.csv", "u7,o3,redeem,2026-01-12\n"))
    since_1 = ws.load_appended("d1", 1)
    assert since_1.interactions[C.USER_ID].tolist() == ["u6", "u7"]
    assert since_1.users[C.USER_ID].tolist() == ["u6"] and since_1.info.version == 3
    only_2 = ws.load_appended("d1", 1, 2)
    assert only_2.interactions[C.USER_ID].tolist() == ["u6"] and only_2.info.version == 2
    assert only_2.info.fingerprint == ws.appends("d1")[1]["fingerprint"]
    assert ws.load_appended("d1", 3).interactions.empty
    assert list(ws.load_appended("d1", 3).interactions.columns) == list(C.INTERACTION_COLUMNS)
    with pytest.raises(store.WorkspaceError, match="no version 4"):
        ws.load_dataset("d1", version=4)
    with pytest.raises(store.WorkspaceError, match="since_version 2 is after until_version 1"):
        ws.load_appended("d1", 2, 1)


# ------------------------------------------------------------------------------------ validation
def test_rows_already_in_the_dataset_are_dropped_and_counted(ws: Workspace, tmp_path: Path) -> None:
    record, batch = append_files(ws, "d1", _batch(tmp_path, "resent.csv",
                                                  "u1,o1,click,2026-01-01\nu3,o3,click,2026-01-05\nu4,o1,click,2026-01-08\n"))
    assert batch.report.count("rows already in the dataset") == 2
    assert record["n_rows"] == 1 and batch.interactions[C.USER_ID].tolist() == ["u4"]
    assert ws.dataset("d1").n_interactions == 6


def test_a_batch_with_nothing_new_or_a_file_already_added_is_refused(ws: Workspace, tmp_path: Path, shop: Path) -> None:
    before = _digest(ws)
    with pytest.raises(DataError, match="nothing new: every row is already in dataset 'd1'"):
        append_files(ws, "d1", _batch(tmp_path, "old.csv", "u1,o1,click,2026-01-01\n"))
    with pytest.raises(DataError, match=r"already added to dataset 'd1' \(the import\)"):
        append_files(ws, "d1", users=shop / "customers.csv")
    assert _digest(ws) == before


def test_without_dates_repeats_are_kept_as_on_import(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    import_files(ws, _write(tmp_path / "a.csv", "customer_id,offer_id\nu1,o1\nu2,o2\n"))
    record, batch = append_files(ws, "d1", _write(tmp_path / "b.csv", "customer_id,offer_id\nu1,o1\n"))
    assert record["n_rows"] == 1
    assert any(s.name == "rows already in the dataset" and s.action == "kept" and s.count == 1 for s in batch.report.steps)


def test_new_event_types_are_a_warning_naming_them(ws: Workspace, tmp_path: Path) -> None:
    _, batch = append_files(ws, "d1", _batch(tmp_path, "d.csv", "u1,o1,shre,2026-01-09\nu2,o2,click,2026-01-09\n"))
    [warning] = [w for w in batch.warnings if "never had" in w.message]
    assert warning.file == "d.csv" and warning.column == "event_type" and warning.count == 1
    assert "'shre' (1 row)" in warning.message and "misspelling" in warning.fix
    assert "never had" in json.dumps(ws.appends("d1")[0]["warnings"])


def test_customers_only_and_offers_only_batches_are_allowed(ws: Workspace, tmp_path: Path) -> None:
    append_files(ws, "d1", users=_write(tmp_path / "c.csv", "customer_id,tier,age\nu8,gold,29\n"))
    append_files(ws, "d1", items=_write(tmp_path / "o.csv", "offer_id,category\no8,toys\n"))
    info = ws.dataset("d1")
    assert (info.version, info.n_interactions, info.n_users, info.n_items) == (2, 5, 5, 4)
    assert ws.load_appended("d1", 1).items[C.ITEM_ID].tolist() == ["o8"]


def test_pseudonymised_dataset_gives_new_rows_the_same_pseudonyms(tmp_path: Path, shop: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    import_files(ws, shop / "orders.csv", shop / "customers.csv", pseudonymise=True)
    append_files(ws, "d1", _batch(tmp_path, "b.csv", "u1,o3,click,2026-01-09\nu9,o1,click,2026-01-09\n"))
    inter = ws.load_dataset("d1").interactions
    assert privacy.pseudonymise(pd.Series(["u1"]), ws.secret_key())[0] == inter[C.USER_ID].iloc[0] == inter[C.USER_ID].iloc[-2]
    assert not inter[C.USER_ID].isin(["u1", "u9"]).any()
    assert ws.dataset("d1").n_users == 5  # u1 matched its pseudonym: only u9 is new


# ------------------------------------------------------------------------------------ bad appends
BAD_APPENDS: dict[str, tuple[dict[str, str], str]] = {
    "unreadable date": ({"interactions": HEADER + "u1,o1,click,2026-01-09\n" + "u2,o1,click,someday\n" * 3},
                        r"day\.csv.*column 'date'"),
    "new customer column": ({"users": "customer_id,tier,age,shoe_size\nu1,gold,30,42\n"},
                            r"column 'shoe_size' is not a customer column of this dataset"),
    "missing customer column": ({"users": "customer_id,tier\nu9,gold\n"},
                                r"the users file has no column 'age'"),
    "text in a number column": ({"users": "customer_id,tier,age\nu9,gold,thirty\nu10,gold,31\n"},
                                r"column 'age' holds numbers in this dataset.*\(row 2\)"),
    "event column gone": ({"interactions": "customer_id,offer_id,date\nu1,o1,2026-01-09\n"},
                          r"no such column"),
    "new offer column": ({"items": "offer_id,category,colour\no9,toys,red\n"},
                         r"column 'colour' is not an offer column"),
}


@pytest.mark.parametrize("case", list(BAD_APPENDS), ids=str)
def test_a_bad_append_changes_nothing(case: str, ws: Workspace, tmp_path: Path) -> None:
    append_files(ws, "d1", _batch(tmp_path, "ok.csv", "u1,o3,click,2026-01-08\n"))  # history to keep intact
    texts, expect = BAD_APPENDS[case]
    files = {table: _write(tmp_path / f"day.{table}.csv" if table != "interactions" else tmp_path / "day.csv", text)
             for table, text in texts.items()}
    before, snapshot = _digest(ws), ws.snapshot()
    with pytest.raises(DataError, match=expect):
        append_files(ws, "d1", **files)
    assert _digest(ws) == before and ws.snapshot() == snapshot
    assert ws.dataset("d1").version == 1


@pytest.mark.parametrize("make", ALL_BAD_CASES, ids=lambda f: f.__name__.removeprefix("make_"))
def test_every_bad_file_of_badfiles_is_refused_as_an_append(make: Callable[[Path], BadCase], tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    import_files(ws, _write(tmp_path / "existing.csv", "user_id,item_id,event,timestamp\na,x,click,2024-01-01\n"))
    case_dir = tmp_path / "case"
    case_dir.mkdir()
    case = make(case_dir)
    before = _digest(ws)
    with pytest.raises(DataError) as caught:
        append_files(ws, "d1", **case.inputs(), options=case.import_options())
    assert case.name in str(caught.value)
    assert _digest(ws) == before


def test_unknown_dataset_or_no_file_changes_nothing(ws: Workspace, tmp_path: Path) -> None:
    before = _digest(ws)
    with pytest.raises(NotFound, match=r"No dataset 'd9'.*known: d1"):
        append_files(ws, "d9", _batch(tmp_path, "a.csv", "u1,o1,click,2026-01-09\n"))
    with pytest.raises(DataError, match="no file was given"):
        append_files(ws, "d1")
    assert _digest(ws) == before


def test_a_failed_write_is_undone(ws: Workspace, tmp_path: Path, monkeypatch) -> None:
    before = _digest(ws)

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(store.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        append_files(ws, "d1", _batch(tmp_path, "a.csv", "u1,o3,click,2026-01-09\n"))
    monkeypatch.undo()
    assert _digest(ws) == before
    assert not (ws.dataset_dir("d1") / APPENDS_DIR).exists()
    assert ws.dataset("d1").version == 0


def test_leftovers_of_an_interrupted_append_are_swept_on_open(ws: Workspace, tmp_path: Path) -> None:
    append_files(ws, "d1", _batch(tmp_path, "a.csv", "u1,o3,click,2026-01-09\n"))
    staging = ws.path / "datasets" / ".tmp-cafe01"
    staging.mkdir()
    (staging / "interactions.parquet").write_bytes(b"partial")
    orphan = ws.append_dir("d1", 2)  # moved into place, but the process died before the commit
    orphan.mkdir()
    (orphan / "interactions.parquet").write_bytes(b"never committed")
    reopened = Workspace(ws.path)
    assert not staging.exists() and not orphan.exists()
    assert ws.append_dir("d1", 1).exists()
    record, _ = append_files(reopened, "d1", _batch(tmp_path, "b.csv", "u2,o3,click,2026-01-10\n"))
    assert record["seq"] == 2 and reopened.load_dataset("d1").info.n_interactions == 7


def test_deleting_a_dataset_deletes_its_appends(ws: Workspace, tmp_path: Path) -> None:
    append_files(ws, "d1", _batch(tmp_path, "a.csv", "u1,o3,click,2026-01-09\n"))
    ws.delete_dataset("d1")
    assert ws.snapshot()["tables"]["appends"] == []


# ------------------------------------------------------------------------------------ CLI
def test_cli_append_prints_the_record_and_lists_versions(ws: Workspace, tmp_path: Path, capsys) -> None:
    day = _batch(tmp_path, "day.csv", "u1,o3,click,2026-01-09\nu6,o1,click,2026-01-09\n")
    assert main(["append", "--workspace", str(ws.path), "--dataset", "d1", "--interactions", str(day),
                 "--name", "tuesday", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["append"]["seq"] == 1 and out["append"]["name"] == "tuesday" and out["append"]["n_new_users"] == 1
    assert out["dataset"]["version"] == 1
    users = _write(tmp_path / "c.csv", "customer_id,tier,age\nu11,gold,29\n")
    assert main(["append", "--workspace", str(ws.path), "--dataset", "d1", "--users", str(users)]) == 0
    text = capsys.readouterr().out
    assert "Appended batch 2 'c.csv' to dataset d1 'shop'" in text and "1 new customers" in text
    assert "(version 2)" in text
    assert main(["datasets", "--workspace", str(ws.path)]) == 0
    assert "2 appends" in capsys.readouterr().out


def test_cli_append_fails_cleanly(ws: Workspace, tmp_path: Path, capsys) -> None:
    before = _digest(ws)
    bad = _write(tmp_path / "c.csv", "customer_id,tier,age,shoe_size\nu1,gold,30,42\n")
    assert main(["append", "--workspace", str(ws.path), "--dataset", "d1", "--users", str(bad)]) == EXIT_BAD_INPUT
    captured = capsys.readouterr()
    assert "c.csv, column 'shoe_size'" in captured.err and "Nothing was changed" in captured.err
    assert captured.out == ""
    assert main(["append", "--workspace", str(ws.path), "--dataset", "d1"]) == EXIT_BAD_INPUT
    assert "give --interactions" in capsys.readouterr().err
    assert _digest(ws) == before


# ------------------------------------------------------------------------------------ runs
def _trainable(tmp_path: Path) -> Path:
    rng = np.random.default_rng(7)
    n = 300
    days = pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 60, n), unit="D")
    frame = pd.DataFrame({"customer_id": [f"c{i}" for i in rng.integers(0, 40, n)],
                          "offer_id": [f"o{i}" for i in rng.integers(0, 12, n)],
                          "event_type": rng.choice(["click", "redeem"], n), "date": days.strftime("%Y-%m-%d")})
    frame.to_csv(tmp_path / "train.csv", index=False)
    return tmp_path / "train.csv"


def test_a_run_trained_before_appends_loads_and_says_so(tmp_path: Path, capsys) -> None:
    from recsys.learn.config import ModelConfig
    from recsys.learn.pipeline import TrainConfig

    ws = Workspace(tmp_path / "ws")
    import_files(ws, _trainable(tmp_path), name="shop")
    config = TrainConfig(model=ModelConfig(no_components=4, epochs=2), baselines=())
    run_id = runs.train_run(ws, "d1", config)
    assert ws.run(run_id)["extra"]["dataset_version"] == 0
    assert runs.run_data(ws, ws.run(run_id)).describe() == "trained on the latest data"
    for day in (1, 2):
        append_files(ws, "d1", _batch(tmp_path, f"b{day}.csv", f"c{day},o{day},click,2026-03-0{day}\n"))
    data = runs.run_data(ws, ws.run(run_id))
    assert (data.version, data.latest, data.appends_since) == (0, 2, 2)
    assert data.describe() == "trained before the last 2 appends"
    assert runs.load_model(ws, run_id) is not None
    seen = runs.load_run_dataset(ws, run_id)
    assert seen.info.version == 0 and len(seen.interactions) == len(ws.load_dataset("d1", version=0).interactions)
    # a run recorded before versions existed is matched by its data fingerprint
    legacy = {**ws.run(run_id), "extra": {"dataset_fingerprint": ws.dataset("d1").base_fingerprint}}
    assert runs.run_data(ws, legacy).describe() == "trained before the last 2 appends"
    unknown = {**ws.run(run_id), "extra": {"dataset_fingerprint": "0" * 64}}
    assert runs.run_data(ws, unknown).describe() == "trained on an earlier state of the data"
    assert main(["runs", "--workspace", str(ws.path)]) == 0
    assert "trained before the last 2 appends" in capsys.readouterr().out


def test_sidebar_label_says_how_stale_a_run_is() -> None:
    from pages.shared import _staleness

    assert _staleness(runs.RunData(2, 2)) == ""
    assert _staleness(runs.RunData(1, 2)) == " · trained before the last append"
    assert _staleness(runs.RunData(None, 2)) == " · trained on an earlier state of the data"


def test_pseudonymisation_must_match_the_dataset(ws: Workspace, tmp_path: Path, shop: Path) -> None:
    from dataclasses import replace

    from recsys.data.mapping import ImportOptions
    from recsys.data.prepare import prepare_dataset

    before = _digest(ws)
    batch = _batch(tmp_path, "b.csv", "u1,o3,click,2026-01-09\n")
    with pytest.raises(DataError, match="keeps its customer ids as they are"):
        append_files(ws, "d1", batch, options=replace(ImportOptions(), pseudonymise_key=privacy.new_key()))
    assert _digest(ws) == before
    # a dataset stored before import options were kept: pseudonyms are recognised by their shape
    legacy = ws.save_dataset(prepare_dataset(shop / "orders.csv", options=ImportOptions(
        pseudonymise_key=ws.secret_key())), "legacy")
    assert legacy.import_options == {}
    append_files(ws, legacy.id, batch)
    added = ws.load_appended(legacy.id, 0).interactions[C.USER_ID]
    assert added.tolist() == privacy.pseudonymise(pd.Series(["u1"]), ws.secret_key()).tolist()
