"""The private temporary databases a run keeps on disk (connector/sync/scratch_db.py)."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import pytest

from connector.sync.scratch_db import IN_LIMIT, in_lists, marks, scratch_db


def _open_files() -> set[str]:
    """Paths this process has open (``/proc/self/fd``)."""
    fds = Path("/proc/self/fd")
    out = set()
    for fd in fds.iterdir():
        try:
            out.add(os.readlink(fd))
        except OSError:
            continue
    return out


def test_scratch_db_has_no_journal_no_sync_and_the_cache_asked_for() -> None:
    db = scratch_db(cache_kib=1024)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "off"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 0
    assert db.execute("PRAGMA cache_size").fetchone()[0] == -1024
    db.close()


def test_scratch_db_spills_to_an_unnamed_file_gone_when_closed() -> None:
    before = _open_files()
    db = scratch_db(cache_kib=64)  # a small cache: 8 MB of rows must go to the file
    db.execute("CREATE TABLE t (x BLOB)")
    db.executemany("INSERT INTO t VALUES (?)", [(os.urandom(1024),) for _ in range(8000)])
    assert db.execute("PRAGMA database_list").fetchone()[2] == ""  # no file name
    new = _open_files() - before
    # SQLite unlinks the temporary file as it opens it: what the process holds is deleted.
    assert new and all(p.endswith("(deleted)") for p in new if not p.startswith(("pipe:", "anon")))
    db.close()
    assert not {p for p in _open_files() - before if p.endswith("(deleted)")}


def test_threads_flag_lets_another_thread_use_the_connection() -> None:
    shared, bound = scratch_db(threads=True), scratch_db()
    errors: dict[str, BaseException | None] = {}

    def use(name: str, db: sqlite3.Connection) -> None:
        try:
            db.execute("SELECT 1").fetchone()
            errors[name] = None
        except sqlite3.ProgrammingError as exc:
            errors[name] = exc

    for name, db in (("shared", shared), ("bound", bound)):
        t = threading.Thread(target=use, args=(name, db))
        t.start()
        t.join()
    assert errors["shared"] is None
    assert isinstance(errors["bound"], sqlite3.ProgrammingError)


@pytest.mark.parametrize("n", [0, 1, IN_LIMIT, IN_LIMIT + 1, 3 * IN_LIMIT + 7])
def test_in_lists_cover_every_value_in_order_within_the_limit(n: int) -> None:
    values = list(range(n))
    parts = list(in_lists(values))
    assert [v for p in parts for v in p] == values
    assert all(0 < len(p) <= IN_LIMIT for p in parts)
    assert [marks(p).count("?") for p in parts] == [len(p) for p in parts]
