"""Inter-process safety of a workspace: the writer lock, owned staging folders, disk-full errors.

Several processes may use one workspace at once (the app's sessions, CLI commands, batch jobs).

* **Writers are serialised** by :func:`writer_lock`: an exclusive ``fcntl.flock`` on
  ``<workspace>/.writer.lock`` held while a write moves its files into place and commits its
  catalogue row. Waiting is bounded; contention beyond the bound becomes :class:`WorkspaceBusy`
  with a plain message. The lock is re-entrant inside one thread and serialises threads too.
* **Staging folders are owned**: :func:`owned_staging` creates ``<sub>/.tmp-<pid>-<token>`` only
  after taking an exclusive lock on its sibling ``.tmp-<pid>-<token>.lock``, and removes the folder
  before the lock file. :func:`sweep_staging` removes a staging folder only when it is provably
  abandoned: its lock file is gone or its lock is not held (the kernel releases a dead process's
  locks), so a live writer's staging folder is never touched.
* :func:`disk_errors` turns "no space left on device" (and quota) errors into a plain
  :class:`WorkspaceError` saying the disk is full.

``flock`` locks are advisory and work across processes (and containers) on one local file system;
on a network file system that does not support them, use one workspace per machine.
"""

from __future__ import annotations

import errno
import fcntl
import os
import secrets
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from recsys.core.errors import PromoLensError

TMP_PREFIX = ".tmp-"
LOCK_SUFFIX = ".lock"
WRITER_LOCK_FILE = ".writer.lock"
#: How long a writer waits for another writer before giving up with WorkspaceBusy.
WRITER_WAIT_SECONDS = 30.0


class WorkspaceError(PromoLensError, RuntimeError):
    """A workspace operation could not be done; the message says why and what to do."""


class WorkspaceBusy(WorkspaceError):
    """Another process holds the workspace (its catalogue or its writer lock)."""


def busy_message(path: Path, what: str) -> str:
    return (
        f"The workspace {path} is in use by another PromoLens process ({what}), so nothing was changed. "
        "Wait for it to finish and try again, or use another workspace (--workspace / PROMOLENS_WORKSPACE)."
    )


class _WriterState:
    def __init__(self) -> None:
        self.rlock = threading.RLock()
        self.depth = 0
        self.fd: int | None = None


_STATES: dict[Path, _WriterState] = {}
_STATES_LOCK = threading.Lock()


def _state(path: Path) -> _WriterState:
    with _STATES_LOCK:
        return _STATES.setdefault(path, _WriterState())


@contextmanager
def writer_lock(path: Path, wait: float | None = None) -> Iterator[bool]:
    """Hold the workspace's writer lock; wait at most ``wait`` seconds (default: WRITER_WAIT_SECONDS).

    ``wait=0`` tries once and yields False instead of raising when the lock is taken (used by the
    sweep on open, which simply skips its work then). Otherwise contention beyond the wait raises
    :class:`WorkspaceBusy`.
    """
    limit = WRITER_WAIT_SECONDS if wait is None else wait
    state = _state(path)
    deadline = time.monotonic() + limit
    acquired = state.rlock.acquire(timeout=limit) if limit > 0 else state.rlock.acquire(blocking=False)
    if not acquired:
        if wait == 0:
            yield False
            return
        raise WorkspaceBusy(busy_message(path, "it is saving its own work"))
    try:
        if state.depth == 0:
            fd = os.open(path / WRITER_LOCK_FILE, os.O_CREAT | os.O_RDWR, 0o600)
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        os.close(fd)
                        if wait == 0:
                            yield False
                            return
                        raise WorkspaceBusy(busy_message(path, "it is saving its own work")) from None
                    time.sleep(0.05)
            state.fd = fd
        state.depth += 1
        try:
            yield True
        finally:
            state.depth -= 1
            if state.depth == 0 and state.fd is not None:
                fcntl.flock(state.fd, fcntl.LOCK_UN)
                os.close(state.fd)
                state.fd = None
    finally:
        state.rlock.release()


def _lock_path(folder: Path) -> Path:
    return folder.with_name(folder.name + LOCK_SUFFIX)


@contextmanager
def owned_staging(parent: Path) -> Iterator[Path]:
    """A fresh staging folder in ``parent``, locked by this process while it exists."""
    while True:
        folder = parent / f"{TMP_PREFIX}{os.getpid()}-{secrets.token_hex(6)}"
        lock = _lock_path(folder)
        fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino  # not unlinked by a sweep meanwhile
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        folder.mkdir()
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        lock.unlink(missing_ok=True)
        os.close(fd)


def sweep_staging(parent: Path) -> list[Path]:
    """Remove the abandoned staging folders (and stale lock files) of ``parent``; return them.

    A folder is abandoned when its lock file is missing (owners create it first and remove it last)
    or its lock can be taken at once (no live process holds it). Live writers' folders stay.
    """
    removed = []
    for entry in sorted(parent.glob(TMP_PREFIX + "*")):
        if entry.name.endswith(LOCK_SUFFIX):
            continue
        lock = _lock_path(entry)
        try:
            fd = os.open(lock, os.O_RDWR)
        except FileNotFoundError:
            shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)
            removed.append(entry)
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live writer
            shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)
            lock.unlink(missing_ok=True)
            removed.append(entry)
        finally:
            os.close(fd)
    for lock in parent.glob(TMP_PREFIX + "*" + LOCK_SUFFIX):
        if lock.with_name(lock.name[: -len(LOCK_SUFFIX)]).exists():
            continue
        try:
            fd = os.open(lock, os.O_RDWR)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            lock.unlink(missing_ok=True)  # an owner that had not yet made its folder re-checks the inode
        except BlockingIOError:
            pass
        finally:
            os.close(fd)
    return removed


_DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}


def is_disk_full(exc: BaseException) -> bool:
    """True for "no space left on device" / quota errors, whether from the OS or from DuckDB."""
    if isinstance(exc, OSError) and exc.errno in _DISK_FULL_ERRNOS:
        return True
    text = str(exc).lower()
    return "no space left" in text or "disk quota exceeded" in text


@contextmanager
def disk_errors(path: Path) -> Iterator[None]:
    """Turn a full disk into a plain :class:`WorkspaceError` (the write is undone by its caller)."""
    try:
        yield
    except WorkspaceError:
        raise
    except Exception as exc:
        if is_disk_full(exc):
            raise WorkspaceError(
                f"The disk holding the workspace {path} is full, so nothing was saved and the workspace is "
                "unchanged. Free some space (or move the workspace to a larger disk) and try again."
            ) from exc
        raise


__all__ = [
    "LOCK_SUFFIX", "TMP_PREFIX", "WRITER_LOCK_FILE", "WRITER_WAIT_SECONDS", "WorkspaceBusy", "WorkspaceError",
    "busy_message", "disk_errors", "is_disk_full", "owned_staging", "sweep_staging", "writer_lock",
]
