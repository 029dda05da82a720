"""The in-memory copy of the catalogue: reads do not open the file, and every write is seen at once."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from recsys.workspace import catalog
from recsys.workspace.store import Workspace

ROOT = Path(__file__).resolve().parents[2]


def _measurement_ids(ws: Workspace) -> list[str]:
    return [m["id"] for m in ws.measurements()]


def _in_another_process(code: str) -> None:
    subprocess.run([sys.executable, "-c", textwrap.dedent(code)], check=True, cwd=ROOT, timeout=120)


def test_reads_use_the_copy_until_a_write_and_see_every_write(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    mirror = catalog.mirror(ws.catalog_path)
    assert _measurement_ids(ws) == []
    before = mirror.refreshes
    for _ in range(5):  # nothing changed: no re-read of the file
        assert _measurement_ids(ws) == [] and ws.datasets() == []
    assert mirror.refreshes == before

    with ws.connect() as con:  # a write in this process
        con.execute("INSERT INTO measurements (id, created_at) VALUES ('m1', TIMESTAMP '2024-01-01')")
    assert _measurement_ids(Workspace(ws.path)) == ["m1"]  # another Workspace object shares the copy
    assert mirror.refreshes == before + 1

    # a PromoLens writer in another process
    _in_another_process(f"""
        from recsys.workspace.store import Workspace
        with Workspace({str(ws.path)!r}).connect() as con:
            con.execute("INSERT INTO measurements (id, created_at) VALUES ('m2', TIMESTAMP '2024-01-02')")
    """)
    assert _measurement_ids(ws) == ["m2", "m1"]

    # a writer that knows nothing of the token (plain DuckDB) is noticed by the file's change
    _in_another_process(f"""
        import duckdb
        with duckdb.connect({str(ws.catalog_path)!r}) as con:
            con.execute("INSERT INTO measurements (id, created_at) VALUES ('m3', TIMESTAMP '2024-01-03')")
    """)
    assert _measurement_ids(ws) == ["m3", "m2", "m1"]


def test_threads_read_while_another_thread_writes(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    errors: list[BaseException] = []
    seen: list[int] = []

    def read() -> None:
        for _ in range(60):
            try:
                seen.append(len(_measurement_ids(ws)))
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(4)]
    for t in readers:
        t.start()
    for i in range(10):
        with ws.connect() as con:
            con.execute("INSERT INTO measurements (id, created_at) VALUES (?, TIMESTAMP '2024-01-01')", [f"m{i}"])
    for t in readers:
        t.join()
    assert errors == []
    assert len(_measurement_ids(ws)) == 10 and max(seen) <= 10


def test_opening_a_current_workspace_writes_nothing(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    key = catalog.catalog_key(ws.catalog_path)
    Workspace(ws.path)
    Workspace(ws.path)
    assert catalog.catalog_key(ws.catalog_path) == key  # no schema write, so no process re-reads


def test_a_saved_dataset_is_returned_as_the_catalogue_holds_it_without_a_re_copy(tmp_path: Path) -> None:
    """``save_dataset`` reads its row back on the writing connection: the same info as a later read,
    and the import itself does not re-copy the catalogue (the next reader does, once)."""
    from recsys.workspace.ingest import ensure_sample_dataset

    ws = Workspace(tmp_path / "ws")
    mirror = catalog.mirror(ws.catalog_path)
    assert ws.datasets() == []
    before = mirror.refreshes
    info = ensure_sample_dataset(ws)
    assert info is not None and mirror.refreshes == before
    assert ws.dataset(info.id) == info and mirror.refreshes == before + 1
    assert info.n_interactions > 0 and info.is_sample
