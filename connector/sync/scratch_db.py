"""Private temporary SQLite databases: where a run keeps on disk what would not fit in memory.

Three parts of a run hold more than a large first load can keep in the process: the write
spool (``spool.py``), the key ledger past its in-memory limit (``ledger.py``) and the consent
stage's queue and held rows (``consent_queue.py``). Each keeps it in a database of its own
opened here: an empty file name is a temporary database on disk that SQLite deletes when it
is closed (sqlite.org/inmemorydb.html, "Temporary Databases"), so nothing is left behind and
nothing is named. No journal and no syncing: the data lives and dies with the run, a crash
loses nothing that state (``connector/state``) does not hold.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")

# Values bound in one ``IN (…)`` list: below SQLite's default limit of host parameters in one
# statement (999 before 3.32, sqlite.org/limits.html #9).
IN_LIMIT = 900


def scratch_db(*, cache_kib: int | None = None, threads: bool = False) -> sqlite3.Connection:
    """A new private temporary database, deleted when the connection closes.

    ``cache_kib``: its page cache (SQLite's default, 2 MiB, when None); a part that writes
    each row once and reads it once needs little. ``threads``: the connection may be used from
    other threads than the one that opened it — its owner serialises the calls (a lock), the
    module's threadsafe mode serialises the connection besides.
    """
    db = sqlite3.connect("", check_same_thread=not threads)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    if cache_kib is not None:
        db.execute(f"PRAGMA cache_size=-{int(cache_kib)}")
    return db


def in_lists(values: Sequence[T]) -> Iterator[Sequence[T]]:
    """``values`` in slices of at most :data:`IN_LIMIT`, one per ``IN (…)`` statement."""
    for start in range(0, len(values), IN_LIMIT):
        yield values[start : start + IN_LIMIT]


def marks(values: Sequence[object]) -> str:
    """The ``?`` placeholders for ``values`` in an ``IN (…)`` list: ``?,?,?``."""
    return ",".join("?" * len(values))
