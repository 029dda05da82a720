"""Many app sessions are threads of one process: they open the workspace catalogue at the same time."""

from __future__ import annotations

import threading
from pathlib import Path

from recsys.workspace.store import Workspace


def test_concurrent_connections_to_one_catalogue_do_not_conflict(tmp_path: Path) -> None:
    # DuckDB 2.0 raised "Unique file handle conflict" for about 2% of simultaneous connects (issue 8).
    ws = Workspace(tmp_path / "ws")
    errors: list[BaseException] = []

    def browse() -> None:
        for _ in range(150):
            try:
                with ws.connect(read_only=True) as con:
                    con.execute("SELECT count(*) FROM datasets").fetchall()
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)

    threads = [threading.Thread(target=browse) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
