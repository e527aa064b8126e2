"""One run per job at a time (DESIGN §9), released by the operating system or server on a crash.

- SQLite file: an exclusive ``fcntl.flock`` on ``<db file>.<job digest>.lock``. The kernel drops
  the lock when the holding process exits for any reason (SIGKILL included), so a crashed run
  never blocks the next one; the file itself stays (deleting it would race with a new holder).
  The holder writes its pid into the file, for the "already running" message only.
- PostgreSQL: ``pg_try_advisory_lock`` on a 64-bit digest of the job name, held on a dedicated
  autocommit connection for the duration. The server releases it when that session ends, also
  when the process dies, so several service instances on one database fail over instead of
  running the same job twice.
- In-memory SQLite (tests): a lock inside this process.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from connector.errors import LockedError, StateError
from connector.state.db import Database, guard

_memory_locks: set[tuple[int, str]] = set()
_memory_guard = threading.Lock()


def job_digest(job: str) -> bytes:
    """A stable digest of a job name, so any name makes a safe file name and lock key."""
    return hashlib.sha256(b"sis-sync:run-lock\x1f" + job.encode("utf-8")).digest()


def advisory_key(job: str) -> int:
    """The signed 64-bit PostgreSQL advisory lock key for ``job``."""
    return int.from_bytes(job_digest(job)[:8], "big", signed=True)


def lock_path(db_path: Path, job: str) -> Path:
    """The lock file for ``job`` next to the SQLite file."""
    return db_path.with_name(f"{db_path.name}.{job_digest(job).hex()[:16]}.lock")


@contextlib.contextmanager
def run_lock(db: Database, job: str) -> Iterator[None]:
    """Hold the run lock of ``job``; raise LockedError at once if another holder has it."""
    if db.dialect == "postgresql":
        cm = _advisory(db, job)
    elif db.path is not None:
        cm = _flock(lock_path(db.path, job), job)
    else:
        cm = _in_process(db, job)
    with cm:
        yield


@contextlib.contextmanager
def _flock(path: Path, job: str) -> Iterator[None]:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise StateError(
            f"state store: cannot open the run lock file {path} ({exc.strerror})"
        ) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            by = f" by pid {holder}" if holder.isdigit() else ""
            raise LockedError(f"job {job!r} is already running (run lock held{by})") from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _advisory(db: Database, job: str) -> Iterator[None]:
    key = advisory_key(job)
    with guard("acquire run lock"):
        conn = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        with guard("acquire run lock"):
            got = conn.execute(sa.select(sa.func.pg_try_advisory_lock(key))).scalar()
        if not got:
            raise LockedError(f"job {job!r} is already running (PostgreSQL advisory lock held)")
        try:
            yield
        finally:
            try:
                conn.execute(sa.select(sa.func.pg_advisory_unlock(key)))
            except SQLAlchemyError:
                # Could not unlock (connection lost?): discard the session so the server drops
                # the lock with it instead of a pooled connection keeping it.
                conn.invalidate()
    finally:
        conn.close()


@contextlib.contextmanager
def _in_process(db: Database, job: str) -> Iterator[None]:
    token = (id(db.engine), job)
    with _memory_guard:
        if token in _memory_locks:
            raise LockedError(f"job {job!r} is already running (run lock held)")
        _memory_locks.add(token)
    try:
        yield
    finally:
        with _memory_guard:
            _memory_locks.discard(token)
