"""Which keys a mapping run has seen, with the line and outcome of their latest row.

A file may list one record on several rows: by design (an event named on every registration)
or by an export glitch (``" 100011 "`` beside ``100011``, one key once normalised). The last
row wins; a row it supersedes with other values is reported with both lines (``duplicates:
report``, the default), and a later row that state already holds must still be written when an
earlier row of the run changed the record. For that the engine remembers every key of the run,
also across the batches it has long written. A school's export fits in a dict; a million keys
do not belong in the process's memory (the run's peak memory must stay flat), so past
``MEMORY_KEYS`` they move to a private temporary SQLite database on disk
(sqlite.org/inmemorydb.html: an empty file name is a temporary on-disk database, deleted on
close), keyed by 64 bits of the key hash. Nothing personal is stored: hashes and line numbers.

It also remembers which key claimed each student number in the run (:meth:`KeyLedger.claim`):
two keys of one mapping must not share one (``plan_persons.PersonRules.taken``), also when the
first key's write is still buffered and state does not know it yet.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

_CHUNK = 900  # below SQLite's default limit of host parameters in one statement
# Keys kept in a dict (~200 bytes each: about 4 MB) before the ledger moves to disk. 100,000
# held 20 MB at the peak of every load past that size, a fifth of the 100 MB that a million-row
# load may add to a 10,000-row one (issue 8); a lookup on disk is one indexed query per batch.
MEMORY_KEYS = 20_000


def _int64(hex_hash: str) -> int:
    """The first 64 bits of a hex hash as a signed integer (SQLite's INTEGER PRIMARY KEY)."""
    value = int(hex_hash[:16], 16)
    return value - (1 << 64) if value >= 1 << 63 else value


class KeyLedger:
    """Latest line and record hash (token) per key of one mapping run.

    A small export fits in memory (a school of 10,000 students); past ``memory_keys`` keys the
    ledger moves to its temporary database, so a run of millions of rows stays flat in memory.
    """

    def __init__(self, memory_keys: int | None = None) -> None:
        self.memory_keys = MEMORY_KEYS if memory_keys is None else memory_keys
        self._mem: dict[str, tuple[int, str]] | None = {}
        self._numbers: dict[str, tuple[str, int]] = {}  # in memory until the spill
        self._db: sqlite3.Connection | None = None

    @property
    def on_disk(self) -> bool:
        """True once the ledger has moved to its temporary database."""
        return self._db is not None

    def lookup(self, keys: Sequence[str]) -> dict[str, tuple[int, str]]:
        """Key hash → (line, token) of its latest row in an earlier batch, for keys seen."""
        mem = self._mem
        if mem is not None:
            return {k: v for k in keys if (v := mem.get(k)) is not None}
        by_int = {_int64(key): key for key in keys}
        rows = self._select("SELECT k, line, token FROM seen WHERE k IN ({marks})", list(by_int))
        return {by_int[k]: (line, token) for k, line, token in rows}

    def store(self, rows: Sequence[tuple[str, int, str]]) -> None:
        """Remember (key hash, line, token) as each key's latest row."""
        mem = self._mem
        if mem is not None:
            for key, line, token in rows:
                mem[key] = (line, token)
            if len(mem) + len(self._numbers) > self.memory_keys:
                self._spill()
            return
        assert self._db is not None
        self._db.executemany(
            "INSERT OR REPLACE INTO seen VALUES (?, ?, ?)",
            [(_int64(key), line, token) for key, line, token in rows],
        )

    def claim(self, rows: Sequence[tuple[str, str, int]]) -> None:
        """Remember (student hash, key hash, line): the key that holds a student number in
        this run, and the line it was read on. A number keeps its first key."""
        if self._db is None:
            for number, key, line in rows:
                self._numbers.setdefault(number, (key, line))
            if self._mem is not None and len(self._mem) + len(self._numbers) > self.memory_keys:
                self._spill()
            return
        self._db.executemany(
            "INSERT OR IGNORE INTO numbers VALUES (?, ?, ?)",
            [(_int64(number), key, line) for number, key, line in rows],
        )

    def claims(self, numbers: Sequence[str]) -> dict[str, tuple[str, int]]:
        """Student hash → (key hash, line) of the key that claimed it earlier in this run."""
        if self._db is None:
            mine = self._numbers
            return {n: v for n in numbers if (v := mine.get(n)) is not None}
        by_int = {_int64(n): n for n in numbers}
        rows = self._select("SELECT n, k, line FROM numbers WHERE n IN ({marks})", list(by_int))
        return {by_int[n]: (key, line) for n, key, line in rows}

    def _select(self, sql: str, ints: list[int]) -> list[tuple[Any, ...]]:
        """The rows of ``sql`` (``{marks}`` where its IN list goes) for ``ints``, in chunks."""
        assert self._db is not None
        out: list[tuple[Any, ...]] = []
        for start in range(0, len(ints), _CHUNK):
            chunk = ints[start : start + _CHUNK]
            text = sql.format(marks=",".join("?" * len(chunk)))
            out.extend(self._db.execute(text, chunk))
        return out

    def _spill(self) -> None:
        assert self._mem is not None
        db = sqlite3.connect("")
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        db.execute("CREATE TABLE seen (k INTEGER PRIMARY KEY, line INTEGER NOT NULL, token TEXT)")
        db.execute("CREATE TABLE numbers (n INTEGER PRIMARY KEY, k TEXT NOT NULL, line INTEGER)")
        db.executemany(
            "INSERT OR REPLACE INTO seen VALUES (?, ?, ?)",
            [(_int64(key), line, token) for key, (line, token) in self._mem.items()],
        )
        db.executemany(
            "INSERT OR IGNORE INTO numbers VALUES (?, ?, ?)",
            [(_int64(n), key, line) for n, (key, line) in self._numbers.items()],
        )
        self._db, self._mem, self._numbers = db, None, {}

    def close(self) -> None:
        """Drop the temporary database (if any)."""
        if self._db is not None:
            self._db.close()
        self._mem, self._numbers = None, {}
