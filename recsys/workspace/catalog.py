"""Reading the catalogue without opening it: one in-memory copy per process, refreshed when it changes.

Opening the DuckDB catalogue file costs 30-50 ms (attach, read, close), and a page run reads it
dozens of times. The file cannot stay open: DuckDB lets one process at a time have it, and other
processes (CLI commands, batch jobs, other app workers) take turns with short-lived connections.
So every process keeps a :class:`CatalogMirror` per catalogue file: an in-memory DuckDB database
holding a copy of every catalogue table. Reads run on a cursor of that copy (well under a
millisecond); the copy is refreshed, by one short-lived connection to the file, only when the
catalogue has changed.

"Changed" is decided by a key read before the copy is made (so the copy is never older than its
key): the content of ``<catalogue>.version``, a random token that every writer of every process
rewrites after its writing connection closed on a successful write, while it still holds the
writer lock (a failed write is rolled back and leaves every file as it was), plus the
size, modification and change times and inode of the catalogue file and of its write-ahead log (so a writer
that does not know about the token, e.g. an older PromoLens, is noticed too). Checking the key
costs one small read and two ``stat`` calls. A write in this process or another is therefore seen
by the next read of every process; a reader holds the file only for the moment of a refresh, so
other processes' writers rarely wait for readers.

Threads (Streamlit sessions) share the copy: each read takes its own cursor; one thread refreshes
at a time, under the mirror's lock, and a refresh replaces the copy as a whole, so a cursor taken
before it keeps reading a consistent older copy.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import cache
from pathlib import Path

import duckdb

#: The writers' token lives beside the catalogue (``catalog.duckdb.version``).
VERSION_SUFFIX = ".version"
_WAL_SUFFIX = ".wal"

OpenCatalog = Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]


def version_path(catalog: Path) -> Path:
    return catalog.with_name(catalog.name + VERSION_SUFFIX)


def bump_version(catalog: Path) -> None:
    """Tell every process's mirror that the catalogue changed (call after a writing connection closed).

    Written in place: a reader that catches it half-written sees a different key and refreshes,
    which is harmless.
    """
    version_path(catalog).write_text(secrets.token_hex(8))


def catalog_key(catalog: Path) -> tuple[object, ...]:
    """What identifies the catalogue's current content: the writers' token and the files' stats."""
    try:
        token = version_path(catalog).read_text()
    except FileNotFoundError:
        token = None
    stats: list[object] = [token]
    for path in (catalog, catalog.with_name(catalog.name + _WAL_SUFFIX)):
        try:
            st = os.stat(path)
            stats.append((st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
        except FileNotFoundError:
            stats.append(None)
    return tuple(stats)


class CatalogMirror:
    """The in-memory copy of one catalogue file, shared by the threads of this process."""

    def __init__(self, catalog: Path) -> None:
        self.catalog = catalog
        self._lock = threading.Lock()
        self._key: tuple[object, ...] | None = None
        self._con: duckdb.DuckDBPyConnection | None = None
        #: How many times the copy was (re)built: for tests and benchmarks.
        self.refreshes = 0

    @contextmanager
    def cursor(self, open_catalog: OpenCatalog) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor on an up-to-date copy; ``open_catalog`` opens the file when a refresh is needed."""
        with self._lock:
            key = catalog_key(self.catalog)
            if self._con is None or key != self._key:
                self._con = self._copy(open_catalog)
                self._key = key
                self.refreshes += 1
            copy = self._con  # kept alive while this cursor reads, even if a refresh replaces it
            cur = copy.cursor()
        try:
            yield cur
        finally:
            cur.close()
            del copy

    def _copy(self, open_catalog: OpenCatalog) -> duckdb.DuckDBPyConnection:
        with open_catalog() as con:
            tables = [r[0] for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
                "AND table_type = 'BASE TABLE'"
            ).fetchall()]
            data = {t: con.sql(f'SELECT * FROM "{t}"').to_arrow_table() for t in tables}
        copy = duckdb.connect()  # in memory, private to this mirror
        for table, arrow in data.items():
            copy.register("_source", arrow)
            copy.execute(f'CREATE TABLE "{table}" AS SELECT * FROM _source')
            copy.unregister("_source")
        return copy


_MIRRORS: dict[Path, CatalogMirror] = {}
_MIRRORS_LOCK = threading.Lock()


def mirror(catalog: Path) -> CatalogMirror:
    """This process's mirror of ``catalog`` (one per resolved path)."""
    with _MIRRORS_LOCK:
        return _MIRRORS.setdefault(catalog, CatalogMirror(catalog))


@cache
def schema_columns(schema_sql: str) -> frozenset[tuple[str, str]]:
    """(table, column) pairs that ``schema_sql`` creates, from a throwaway in-memory database."""
    with duckdb.connect() as con:
        con.execute(schema_sql)
        return columns_of(con)


def columns_of(con: duckdb.DuckDBPyConnection) -> frozenset[tuple[str, str]]:
    rows = con.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'main'"
    ).fetchall()
    return frozenset((str(t), str(c)) for t, c in rows)


__all__ = ["CatalogMirror", "mirror", "bump_version", "catalog_key", "version_path", "schema_columns", "columns_of",
           "VERSION_SUFFIX"]
