"""Several processes on one workspace: writers take turns, nobody's staging folder is swept.

Eight imports start at once into one workspace, next to a reader (`promolens datasets`), a
training run and an export. Every process either completes or says plainly that the workspace is
busy (never a traceback); the catalogue lists exactly the completed imports; a staging folder held
by a live writer (this test process) survives every other process's open, and one left by a killed
writer is swept.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from recsys.workspace.locks import WorkspaceBusy, owned_staging, writer_lock
from recsys.workspace.store import Workspace

BUSY = "in use by another PromoLens process"
N_IMPORTS = 8


def _cli(ws: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "recsys.cli", args[0], "--workspace", str(ws), *args[1:]]


def _tiny_files(tmp_path: Path, n: int) -> list[Path]:
    files = []
    for i in range(n):
        path = tmp_path / f"batch{i}.csv"
        rows = "".join(f"c{i}_{u},o{u % 3},purchase,2026-01-{1 + u:02d}\n" for u in range(6))
        path.write_text("customer_id,offer_id,event,timestamp\n" + rows)
        files.append(path)
    return files


def test_concurrent_imports_a_reader_a_train_and_an_export(small_workspace, tmp_path: Path) -> None:
    ws_path = small_workspace.path
    ws = Workspace(ws_path)
    offer = ws.load_dataset(small_workspace.dataset_id).items["item_id"].iloc[0]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    with owned_staging(ws_path / "datasets") as live:  # a live writer's staging folder (this process)
        (live / "interactions.parquet").write_bytes(b"being written")
        commands = {f"import{i}": _cli(ws_path, "import", "--interactions", str(f), "--name", f"import{i}")
                    for i, f in enumerate(_tiny_files(tmp_path, N_IMPORTS))}
        commands["reader"] = _cli(ws_path, "datasets")
        commands["train"] = _cli(ws_path, "train", "--dataset", small_workspace.dataset_id, "--epochs", "2",
                                 "--components", "4", "--no-refit")
        commands["export"] = _cli(ws_path, "export", "--run", small_workspace.run_id, "--item", str(offer),
                                  "--top", "20", "--holdout", "0", "--all-offers", "--out", str(tmp_path / "x.csv"))
        procs = {name: subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for name, cmd in commands.items()}
        results = {name: (p.wait(timeout=600), *p.communicate()) for name, p in procs.items()}
        assert (live / "interactions.parquet").read_bytes() == b"being written"
    completed = set()
    for name, (code, out, err) in results.items():
        assert "Traceback" not in err, f"{name}: {err}"
        assert code == 0 or BUSY in err, f"{name} exited {code}: {err}"
        if code == 0:
            completed.add(name)
    print(f"completed: {sorted(completed)}; busy: {sorted(set(results) - completed)}")
    names = {d.name for d in ws.datasets()}
    imports = {n for n in completed if n.startswith("import")}
    assert names == {"small shop"} | imports
    assert len(imports) >= 1
    if "train" in completed:
        assert len(ws.runs()) == 2
    if "export" in completed:
        assert len(ws.exports()) == 1
    # nothing left behind: no staging folders, no lock files of staging folders
    assert not [p for p in ws_path.rglob(".tmp-*")]


def test_a_killed_writers_staging_is_swept_and_a_live_ones_is_not(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    code = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from recsys.workspace.locks import owned_staging
        with owned_staging(Path({str(ws.path / 'runs')!r})) as folder:
            (folder / 'model.npz').write_bytes(b'half')
            print(folder, flush=True)
            time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    folder = Path(proc.stdout.readline().strip())
    Workspace(ws.path)  # another process's folder, owner alive: kept
    assert (folder / "model.npz").exists()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    Workspace(ws.path)
    assert not folder.exists() and not list((ws.path / "runs").iterdir())


def test_writer_lock_contention_is_a_plain_busy_message(tmp_path: Path, monkeypatch) -> None:
    ws = Workspace(tmp_path / "ws")
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import time
            from pathlib import Path
            from recsys.workspace.locks import writer_lock
            with writer_lock(Path({str(ws.path)!r})):
                print("locked", flush=True)
                time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = ws.snapshot()
        start = time.monotonic()
        with pytest.raises(WorkspaceBusy, match=BUSY), writer_lock(ws.path, wait=0.3):
            pass
        assert time.monotonic() - start < 30
        with writer_lock(ws.path, wait=0) as held:
            assert held is False
        monkeypatch.setattr("recsys.workspace.locks.WRITER_WAIT_SECONDS", 0.3)
        with pytest.raises(WorkspaceBusy, match=BUSY):
            ws.save_measurement({"a": 1}, {"b": 2})
        assert ws.snapshot() == before
    finally:
        holder.kill()
        holder.wait()


def test_disk_full_is_a_plain_message_and_changes_nothing(small_workspace, monkeypatch) -> None:
    import errno

    from recsys.workspace import store
    from recsys.workspace.locks import WorkspaceError

    ws = Workspace(small_workspace.path)
    before = ws.snapshot()
    dataset = ws.load_dataset(small_workspace.dataset_id)

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store.os, "replace", full)
    with pytest.raises(WorkspaceError, match="disk holding the workspace .* is full") as info:
        ws.save_segment(small_workspace.dataset_id, "all", {}, dataset.interactions["user_id"])
    assert "no transaction is active" not in str(info.value)
    monkeypatch.undo()
    assert ws.snapshot() == before


def test_folders_without_a_catalogue_row_are_swept_on_open(small_workspace) -> None:
    ws = Workspace(small_workspace.path)
    before = ws.snapshot()
    for orphan in (ws.path / "runs" / "r7", ws.path / "exports" / "e3", ws.path / "datasets" / "d9"):
        orphan.mkdir()
        (orphan / "part.bin").write_bytes(b"moved into place, killed before COMMIT")
    (ws.path / "segments" / "s4.parquet").write_bytes(b"never committed")
    Workspace(ws.path)
    assert ws.snapshot() == before


def test_catalogue_paths_must_stay_inside_the_workspace(small_workspace, tmp_path: Path) -> None:
    from recsys.workspace.locks import WorkspaceError

    ws = Workspace(small_workspace.path)
    victim = tmp_path / "outside.parquet"
    victim.write_bytes(b"not the workspace's")
    segment_id = ws.save_segment(small_workspace.dataset_id, "a few", {}, ws.load_dataset(
        small_workspace.dataset_id).interactions["user_id"].head(3))
    with ws.connect() as con:  # a tampered (or corrupted) catalogue row
        con.execute("UPDATE segments SET members_file = ? WHERE id = ?", ["../../outside.parquet", segment_id])
    (ws.path / "segments" / f"{segment_id}.parquet").rename(ws.path / "segments" / "kept.parquet")
    with pytest.raises(WorkspaceError, match="points outside it"):
        ws.delete_segment(segment_id)
    with pytest.raises(WorkspaceError, match="points outside it"):
        ws.segment_members(segment_id)
    assert victim.read_bytes() == b"not the workspace's"
    with pytest.raises(WorkspaceError, match="points outside it"):
        ws.run_dir("../../elsewhere")
