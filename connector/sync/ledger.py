"""Which keys a mapping run has seen, with the line and outcome of their first row.

A file may list one record on several rows: by design (an event named on every registration)
or by an export glitch (``" 100011 "`` beside ``100011``, one key once normalised). The last
row wins; a row it supersedes with other values is reported with both lines (``duplicates:
report``, the default), and a later row that state already holds must still be written when an
earlier row of the run changed the record. For that the engine remembers every key of the run,
also across the batches it has long written. A million keys do not belong in the process's
memory (the run's peak memory must stay flat), so they live in a private temporary SQLite
database on disk (sqlite.org/inmemorydb.html: an empty file name is a temporary on-disk
database, deleted on close), keyed by 64 bits of the key hash. Nothing personal is stored:
hashes and line numbers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

_CHUNK = 900  # below SQLite's default limit of host parameters in one statement


def token_id(token: str) -> int:
    """How the ledger keeps a record hash (its first 64 bits): compare with these."""
    return _int64(token)


def _int64(hex_hash: str) -> int:
    """The first 64 bits of a hex hash as a signed integer (SQLite's INTEGER PRIMARY KEY)."""
    value = int(hex_hash[:16], 16)
    return value - (1 << 64) if value >= 1 << 63 else value


class KeyLedger:
    """Latest line and outcome token per key of one mapping run."""

    def __init__(self) -> None:
        self._db = sqlite3.connect("")
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute(
            "CREATE TABLE seen"
            " (k INTEGER PRIMARY KEY, line INTEGER NOT NULL, token INTEGER NOT NULL)"
        )

    def lookup(self, keys: Sequence[str]) -> dict[str, tuple[int, int]]:
        """Key hash → (line, token as :func:`token_id`) of its latest row in an earlier
        batch, for the keys seen."""
        found: dict[str, tuple[int, int]] = {}
        by_int = {_int64(key): key for key in keys}
        ints = list(by_int)
        for start in range(0, len(ints), _CHUNK):
            chunk = ints[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT k, line, token FROM seen WHERE k IN ({marks})"  # noqa: S608
            for k, line, token in self._db.execute(sql, chunk):
                found[by_int[k]] = (line, token)
        return found

    def store(self, rows: Sequence[tuple[str, int, str]]) -> None:
        """Remember (key hash, line, token) as each key's latest row."""
        self._db.executemany(
            "INSERT OR REPLACE INTO seen VALUES (?, ?, ?)",
            [(_int64(key), line, _int64(token)) for key, line, token in rows],
        )

    def close(self) -> None:
        """Drop the temporary database."""
        self._db.close()
