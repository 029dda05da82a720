"""The workspace: datasets, runs, segments, atomicity and the one-writer lock."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from recsys.core import columns as C
from recsys.data.dataset import PreparedDataset
from recsys.data.prepare import prepare_dataset
from recsys.workspace import store
from recsys.workspace.store import NotFound, Workspace, WorkspaceBusy


def _write(tmp_path: Path, name: str, frame: pd.DataFrame) -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


@pytest.fixture()
def prepared(tmp_path: Path) -> PreparedDataset:
    inter = pd.DataFrame({
        "customer_id": ["u1", "u1", "u2", "u3", "u3"],
        "offer_id": ["o1", "o2", "o1", "o2", "o3"],
        "event_type": ["click", "redeem", "click", "purchase", "click"],
        "date": ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04", "2026-01-05"],
    })
    users = pd.DataFrame({"customer_id": ["u1", "u2", "u3", "u4"], "segment": ["a", "b", "a", "b"]})
    items = pd.DataFrame({"offer_id": ["o1", "o2", "o3"], "category": ["shoes", "bags", "shoes"]})
    return prepare_dataset(
        _write(tmp_path, "inter.csv", inter), _write(tmp_path, "users.csv", users),
        _write(tmp_path, "items.csv", items),
    )


def test_save_and_load_round_trip(tmp_path: Path, prepared: PreparedDataset) -> None:
    ws = Workspace(tmp_path / "ws")
    info = ws.save_dataset(prepared, "shop")
    assert info.id == "d1"
    assert (info.n_interactions, info.n_users, info.n_items) == (5, 4, 3)
    loaded = ws.load_dataset(info.id)
    pd.testing.assert_frame_equal(loaded.interactions, prepared.interactions, check_dtype=False)
    assert sorted(loaded.users[C.USER_ID]) == ["u1", "u2", "u3", "u4"]
    assert loaded.info.fingerprint == prepared.fingerprint
    assert loaded.info.user_schema == prepared.user_schema


def test_ids_increase_and_listing_is_newest_first(tmp_path: Path, prepared: PreparedDataset) -> None:
    ws = Workspace(tmp_path / "ws")
    first = ws.save_dataset(prepared, "one")
    second = ws.save_dataset(prepared, "two")
    assert (first.id, second.id) == ("d1", "d2")
    assert [d.id for d in ws.datasets()] == ["d2", "d1"]
    ws.delete_dataset("d1")
    assert [d.id for d in ws.datasets()] == ["d2"]
    assert not ws.dataset_dir("d1").exists()
    assert ws.save_dataset(prepared, "three").id == "d3"  # ids are never reused


def test_unknown_dataset_names_the_known_ones(tmp_path: Path, prepared: PreparedDataset) -> None:
    ws = Workspace(tmp_path / "ws")
    ws.save_dataset(prepared, "shop")
    with pytest.raises(NotFound, match=r"No dataset 'd9'.*known: d1"):
        ws.dataset("d9")


def test_failed_write_leaves_workspace_unchanged(tmp_path: Path, prepared: PreparedDataset, monkeypatch) -> None:
    ws = Workspace(tmp_path / "ws")
    ws.save_dataset(prepared, "shop")
    before = ws.snapshot()

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(store.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        ws.save_dataset(prepared, "second")
    monkeypatch.undo()
    assert ws.snapshot() == before


def test_interrupted_write_is_swept_on_open(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    leftover = ws.path / "datasets" / ".tmp-deadbeef"
    leftover.mkdir()
    (leftover / "interactions.parquet").write_bytes(b"partial")
    Workspace(tmp_path / "ws")
    assert not leftover.exists()
    assert ws.datasets() == []


def test_second_process_gets_a_clear_message(tmp_path: Path, monkeypatch) -> None:
    ws = Workspace(tmp_path / "ws")
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import duckdb, time, sys
            con = duckdb.connect({str(ws.catalog_path)!r})
            print("locked", flush=True)
            sys.stdin.readline()
            con.execute("CREATE TABLE held (x INTEGER)")  # changes the catalogue while holding it
            print("written", flush=True)
            time.sleep(30)
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        monkeypatch.setattr(store, "_LOCK_WAIT_SECONDS", 0.5)
        # Nothing changed since this process read the catalogue: its copy answers, the file is not needed.
        assert ws.datasets() == []
        holder.stdin.write("write\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "written"
        # Now the copy is stale and the file is held: a plain message, not a stale answer.
        with pytest.raises(WorkspaceBusy, match="in use by another PromoLens process"):
            ws.datasets()
    finally:
        holder.kill()
        holder.wait()
    deadline = time.monotonic() + 10
    while True:  # the lock goes with the process
        try:
            assert ws.datasets() == []
            break
        except WorkspaceBusy:
            if time.monotonic() > deadline:
                raise


def test_workspace_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "not-a-dir"
    target.write_text("x")
    with pytest.raises(store.WorkspaceError, match="is a file"):
        Workspace(target)


def test_runs_are_recorded_listed_and_deleted(tmp_path: Path, prepared: PreparedDataset) -> None:
    ws = Workspace(tmp_path / "ws")
    info = ws.save_dataset(prepared, "shop")
    record = {"config": {"epochs": 3}, "metrics": {"hybrid": {"precision@10": 0.2}}, "epochs": [], "timings": {"fit": 1.5}}
    run_id = ws.save_run(info.id, record, lambda d: (d / "model.json").write_text("{}"))
    run = ws.run(run_id)
    assert run["config"] == {"epochs": 3} and run["metrics"]["hybrid"]["precision@10"] == 0.2
    assert (ws.run_dir(run_id) / "model.json").exists()
    ws.update_run_extra(run_id, {"rerank": {"kind": "mmr", "strength": 0.3}})
    assert ws.run(run_id)["extra"]["rerank"]["strength"] == 0.3
    assert [r["id"] for r in ws.runs(info.id)] == [run_id]
    ws.delete_run(run_id)
    assert ws.runs() == [] and not ws.run_dir(run_id).exists()


def test_failed_model_write_records_no_run(tmp_path: Path, prepared: PreparedDataset) -> None:
    ws = Workspace(tmp_path / "ws")
    info = ws.save_dataset(prepared, "shop")
    before = ws.snapshot()

    def broken_writer(directory: Path) -> None:
        (directory / "model.npz").write_bytes(b"half")
        raise RuntimeError("crashed while writing")

    with pytest.raises(RuntimeError, match="crashed"):
        ws.save_run(info.id, {"config": {}}, broken_writer)
    assert ws.snapshot() == before


def test_segments_keep_their_members(tmp_path: Path, prepared: PreparedDataset) -> None:
    ws = Workspace(tmp_path / "ws")
    info = ws.save_dataset(prepared, "shop")
    seg = ws.save_segment(info.id, "bargain hunters", {"by": "segment", "value": "a"}, pd.Series(["u1", "u3", "u1"]))
    assert sorted(ws.segment_members(seg)) == ["u1", "u3"]
    assert ws.segments(info.id)[0]["n_members"] == 2
    ws.delete_segment(seg)
    with pytest.raises(NotFound):
        ws.segment_members(seg)


def test_secret_key_is_stable_and_private(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    key = ws.secret_key()
    assert len(key) == 32 and Workspace(tmp_path / "ws").secret_key() == key
    assert (ws.path / store.KEY_FILE).stat().st_mode & 0o077 == 0


def test_stored_tables_keep_one_dictionary_per_text_column(tmp_path: Path, prepared: PreparedDataset) -> None:
    """A stored table's ids keep one whole dictionary (not pyarrow's 1 MB cap and plain text after it),
    so loading gives their codes without hashing; timestamps and amounts are written plain."""
    import numpy as np
    import pyarrow.parquet as pq

    n = 100_000  # 1.4 MB of distinct customer ids: over the writer's default dictionary page
    ids = pd.array([f"{i * 2654435761 % 2 ** 32:08x}{i:06d}" for i in range(n)], dtype="str")
    inter = pd.DataFrame({C.USER_ID: ids, C.ITEM_ID: pd.array(np.array(["o1", "o2", "o3"])[np.arange(n) % 3], dtype="str"),
                          C.EVENT: pd.array(["click"] * n, dtype="str"),
                          C.TIMESTAMP: pd.Timestamp("2026-01-01") + pd.to_timedelta(np.arange(n), unit="s"),
                          C.WEIGHT: np.ones(n), C.VALUE: np.arange(n, dtype=float)})
    ws = Workspace(tmp_path / "ws")
    info = ws.save_dataset(replace(prepared, interactions=inter), "big")
    meta = pq.ParquetFile(ws.table_path(info.id, C.Table.INTERACTIONS)).metadata
    assert meta.num_row_groups == 1
    chunks = {meta.row_group(0).column(i).path_in_schema: meta.row_group(0).column(i) for i in range(meta.num_columns)}
    user = chunks[C.USER_ID]
    assert user.has_dictionary_page and user.data_page_offset - user.dictionary_page_offset > 1 << 20
    assert all(chunks[c].has_dictionary_page for c in (C.ITEM_ID, C.EVENT))
    assert not any(chunks[c].has_dictionary_page for c in (C.TIMESTAMP, C.VALUE))
    loaded = ws.load_dataset(info.id)
    pd.testing.assert_frame_equal(loaded.interactions, inter, check_dtype=False)
