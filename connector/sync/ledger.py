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
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from connector.sync.scratch_db import in_lists, marks, scratch_db

# Keys kept in a dict before the ledger moves to disk. An entry is two ints (~130 bytes with
# its dict slot; a hex key and a hex token in a tuple were ~290): 80,000 keys ≈ 10 MB, a tenth
# of the 100 MB that a million-row load may add to a 10,000-row one (issue 8). A nightly run of
# a large school's export stays in memory — on disk, storing and looking up every key was a
# tenth of its CPU; a lookup on disk is one indexed query per batch.
MEMORY_KEYS = 80_000
_LINE = 1 << 32  # an entry packs (mark, line) as mark * _LINE + line (a line past 2**32 - 1 is
# clipped: no export has that many)


def mark(token: str | None) -> int:
    """What the ledger keeps of a record hash (token): 64 bits that are equal for equal tokens.

    Python's own string hash (SipHash, salted per process): the ledger lives and dies with its
    run, and a str caches its hash, so this is free for a token already used as a dict key.
    Two different tokens share a mark with a chance of 2**-64 — the same odds the key hashes
    are held to here.
    """
    return hash(token)


class Latest(NamedTuple):
    """The latest row of a key read earlier in the run: its line and its token's :func:`mark`."""

    line: int
    mark: int


def _unpack(value: int) -> Latest:
    return Latest(value & (_LINE - 1), value >> 32)


class KeyLedger:
    """Latest line and token mark per key of one mapping run.

    A small export fits in memory (a school's nightly export of tens of thousands of rows);
    past ``memory_keys`` keys the ledger moves to its temporary database, so a run of millions
    of rows stays flat in memory. Keys are held by Python's 64-bit hash of the key hash: the
    database is private to this process (see :func:`mark`).
    """

    def __init__(self, memory_keys: int | None = None) -> None:
        self.memory_keys = MEMORY_KEYS if memory_keys is None else memory_keys
        self._mem: dict[int, int] | None = {}
        self._numbers: dict[str, tuple[str, int]] = {}  # in memory until the spill
        self._db: sqlite3.Connection | None = None

    @property
    def on_disk(self) -> bool:
        """True once the ledger has moved to its temporary database."""
        return self._db is not None

    def lookup(self, keys: Sequence[str]) -> dict[str, Latest]:
        """Key hash → :class:`Latest` row of the key in an earlier batch, for keys seen.

        Compare a token with it as ``latest.mark == mark(token)``."""
        mem = self._mem
        if mem is not None:
            return {k: _unpack(v) for k in keys if (v := mem.get(hash(k))) is not None}
        by_int = {hash(key): key for key in keys}
        rows = self._select("SELECT k, line, mark FROM seen WHERE k IN ({marks})", list(by_int))
        return {by_int[k]: Latest(line, token) for k, line, token in rows}

    def store(self, tokens: Mapping[str, str | None], lines: Mapping[str, int]) -> None:
        """Remember each key of ``tokens`` (key hash → token) with its line in ``lines`` as the
        key's latest row. (Two mappings, no list of tuples: a nightly stores every key.)"""
        mem = self._mem
        if mem is not None:
            top = _LINE - 1
            for key, token in tokens.items():
                line = lines[key]
                mem[hash(key)] = hash(token) * _LINE + (line if line < top else top)
            if len(mem) + len(self._numbers) > self.memory_keys:
                self._spill()
            return
        assert self._db is not None
        self._db.executemany(
            "INSERT OR REPLACE INTO seen VALUES (?, ?, ?)",
            [(hash(key), lines[key], hash(token)) for key, token in tokens.items()],
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
            [(hash(number), key, line) for number, key, line in rows],
        )

    def claims(self, numbers: Sequence[str]) -> dict[str, tuple[str, int]]:
        """Student hash → (key hash, line) of the key that claimed it earlier in this run."""
        if self._db is None:
            mine = self._numbers
            return {n: v for n in numbers if (v := mine.get(n)) is not None}
        by_int = {hash(n): n for n in numbers}
        rows = self._select("SELECT n, k, line FROM numbers WHERE n IN ({marks})", list(by_int))
        return {by_int[n]: (key, line) for n, key, line in rows}

    def _select(self, sql: str, ints: list[int]) -> list[tuple[Any, ...]]:
        """The rows of ``sql`` (``{marks}`` where its IN list goes) for ``ints``, in chunks."""
        assert self._db is not None
        out: list[tuple[Any, ...]] = []
        for chunk in in_lists(ints):
            out.extend(self._db.execute(sql.format(marks=marks(chunk)), chunk))
        return out

    def _spill(self) -> None:
        assert self._mem is not None
        db = scratch_db()
        # A packed entry passes 64 bits, an SQLite integer's size: line and mark apart.
        db.execute("CREATE TABLE seen (k INTEGER PRIMARY KEY, line INTEGER, mark INTEGER)")
        db.execute("CREATE TABLE numbers (n INTEGER PRIMARY KEY, k TEXT NOT NULL, line INTEGER)")
        db.executemany(
            "INSERT OR REPLACE INTO seen VALUES (?, ?, ?)",
            [(k, *_unpack(v)) for k, v in self._mem.items()],
        )
        db.executemany(
            "INSERT OR IGNORE INTO numbers VALUES (?, ?, ?)",
            [(hash(n), key, line) for n, (key, line) in self._numbers.items()],
        )
        self._db, self._mem, self._numbers = db, None, {}

    def close(self) -> None:
        """Drop the temporary database (if any)."""
        if self._db is not None:
            self._db.close()
        self._mem, self._numbers = None, {}
