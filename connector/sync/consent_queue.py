"""What the consent stage holds while the Contacts it waits for are on their way: on disk.

A first load's consent entries wait until their Contacts are recorded (``consent_stage.py``):
those of the Bulk buffer and of the jobs in flight, up to ~150,000 persons with two writes in
flight of 50,000 (``run_context.BULK_CHUNK``). Kept as objects, the entries (~300 bytes each, 1.4 a
person) and the source rows held back for them (:class:`DeferredRows`, ~300 bytes a person) were
~100 MB of a large load's peak memory. Like the write spool (``spool.py``) they go to a private
temporary SQLite database (an empty file name: on disk, deleted on close,
sqlite.org/inmemorydb.html), each batch's entries with the compressed list of their key hashes
(read to see which entries are ready); the process keeps a count per batch. Kept in the process,
those lists grew with the backlog of a first load whose mapping runs ahead of its consent chunks
(208,000 entries, 3 MB at 200,000 rows; ~15 MB at 1,000,000). Nothing personal is stored
beyond what the spool holds already: key hashes, purposes, consent moments and sources; the
file is unnamed and removed at the end.
"""

from __future__ import annotations

import pickle
import sqlite3
import threading
import zlib
from collections import deque
from collections.abc import Container, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from connector.state.rows import SourceSeen
from connector.sync.consent_records import ConsentEntry
from connector.sync.scratch_db import in_lists, marks, scratch_db

T = TypeVar("T")
# Lengths of the key lists the consent stage gives the state store (see pieces).
PIECES = (2000, 1000, 500, 250, 128, 64, 32, 16, 8, 4, 2, 1)


def pieces(keys: Sequence[T]) -> Iterator[Sequence[T]]:
    """``keys`` (without repeats) in slices whose lengths are all in :data:`PIECES`.

    Each length of an ``IN`` list is another SQL text, so another prepared statement in the
    SQLite driver's cache (128 per connection), which keeps its program and its last bound
    values: up to ~0.5 MB for a list of thousands. The consent stage's lists have any length
    (per chunk and purpose), and over a large load the cache filled with them; with these
    lengths a query has at most a dozen statements.
    """
    start = 0
    for size in PIECES:
        while len(keys) - start >= size:
            yield keys[start : start + size]
            start += size


def _temp_db() -> sqlite3.Connection:
    # Not bound to its thread: DeferredRows is used by the consent stage's worker too (behind
    # a lock). 1 MiB of cache: each part is written once and read once.
    return scratch_db(cache_kib=1024, threads=True)


@dataclass(slots=True)
class _Part:
    """One batch's entries: their row in the database, how many they are, and the
    :meth:`EntryQueue.drop` generation they were queued in."""

    blob: int
    count: int
    generation: int


class EntryQueue:
    """Pending consent entries in arrival order, in parts of one batch each (see the module
    docstring). A record's entries are adjacent and never split between parts.

    Entries a later row of their record replaces are dropped (:meth:`drop`) without touching
    the disk: the few keys dropped are kept in the process with the generation they were
    dropped in, and an entry queued before it is left out when its part is taken.
    """

    def __init__(self) -> None:
        self._db = _temp_db()
        # keys: zlib of the entries' contact keys joined by "\n", one per entry, in order.
        self._db.execute(
            "CREATE TABLE part (id INTEGER PRIMARY KEY, data BLOB NOT NULL, keys BLOB NOT NULL)"
        )
        self._parts: deque[_Part] = deque()
        self._next = 0
        self._len = 0
        self._generation = 0  # raised by every drop
        self._dropped: dict[str, int] = {}  # key → the generation that dropped its entries

    def __len__(self) -> int:
        return self._len

    def add(self, entries: Sequence[ConsentEntry]) -> None:
        """Queue ``entries`` (one batch's, in order) behind those queued."""
        if entries:
            self._put(list(entries), self._generation)

    def drop(self, contact_keys: Iterable[str]) -> None:
        """Leave out the entries queued so far for these records: a later row of each
        replaced the row they came from (the entries it has are added after this)."""
        keys = list(contact_keys)
        if keys and self._len:
            self._generation += 1
            self._dropped.update(dict.fromkeys(keys, self._generation))

    def _live(self, entries: list[ConsentEntry], generation: int) -> list[ConsentEntry]:
        """``entries`` (queued in ``generation``) without those a later drop left out."""
        dropped = self._dropped
        if not dropped:
            return entries
        return [e for e in entries if dropped.get(e.contact_key, -1) <= generation]

    def _put(self, entries: list[ConsentEntry], generation: int, *, front: bool = False) -> None:
        rows = [
            (e.contact_key, e.purpose, e.status, e.at, e.source, e.by, e.objected, e.clocked)
            for e in entries
        ]
        data = zlib.compress(pickle.dumps(rows, pickle.HIGHEST_PROTOCOL), 1)
        keys = zlib.compress("\n".join(e.contact_key for e in entries).encode("ascii"), 1)
        blob, self._next = self._next, self._next + 1
        self._db.execute("INSERT INTO part VALUES (?, ?, ?)", (blob, data, keys))
        part = _Part(blob, len(entries), generation)
        if front:
            self._parts.appendleft(part)
        else:
            self._parts.append(part)
        self._len += len(entries)

    def _load(self, part: _Part) -> list[ConsentEntry]:
        (data,) = self._db.execute("SELECT data FROM part WHERE id = ?", (part.blob,)).fetchone()
        self._db.execute("DELETE FROM part WHERE id = ?", (part.blob,))
        rows = pickle.loads(zlib.decompress(data))  # noqa: S301 - our own temporary file
        return [ConsentEntry(*row) for row in rows]

    def _keys(self, part: _Part) -> list[str]:
        (keys,) = self._db.execute("SELECT keys FROM part WHERE id = ?", (part.blob,)).fetchone()
        return zlib.decompress(keys).decode("ascii").split("\n")

    def ready(self, blocked: Container[str], enough: int) -> int:
        """How many entries at the front have no key in ``blocked`` (their Contact is in
        Salesforce): up to the first blocked one, or the first part end at ``enough`` or more
        (the rest is counted on a later call)."""
        ready = 0
        for part in self._parts:
            keys = self._keys(part)
            for index, key in enumerate(keys):
                if key in blocked:
                    return ready + index
            ready += part.count
            if ready >= enough:
                break
        return ready

    def take(self, count: int, size: int) -> Iterator[list[ConsentEntry]]:
        """Remove the first ``count`` entries (and the rest of the last one's record), as lists
        of about ``size`` that never split one record's adjacent entries; each list is loaded
        as it is asked for. ``count`` is in queued entries, as :meth:`ready` counts them:
        dropped entries among them are left out of the lists."""
        out: list[ConsentEntry] = []
        while count > 0 and self._parts:
            part = self._parts.popleft()
            entries = self._load(part)
            self._len -= part.count
            if part.count > count:  # the rest waits at the front (a record is not split)
                while count < part.count and (
                    entries[count].contact_key == entries[count - 1].contact_key
                ):
                    count += 1
                if count < part.count:
                    self._put(entries[count:], part.generation, front=True)
                    entries = entries[:count]
            count -= len(entries)
            out += self._live(entries, part.generation)
            if not self._parts:
                self._dropped.clear()  # nothing left to leave out
            while len(out) >= size:
                end = size
                while end < len(out) and out[end].contact_key == out[end - 1].contact_key:
                    end += 1
                yield out[:end]
                out = out[end:]
        if out:
            yield out

    def contact_keys(self) -> set[str]:
        """The contact keys of every queued entry (not dropped)."""
        dropped = self._dropped
        return {
            k
            for part in self._parts
            for k in self._keys(part)
            if dropped.get(k, -1) <= part.generation
        }

    def clear(self) -> None:
        """Drop every queued entry."""
        self._parts.clear()
        self._len = 0
        self._dropped.clear()
        self._db.execute("DELETE FROM part")

    def close(self) -> None:
        """Drop the temporary database."""
        self._parts.clear()
        self._len = 0
        self._db.close()


class DeferredRows:
    """Source rows held back until their records' consents are written (``ConsentStage.defer``),
    by key hash, in a temporary database (see the module docstring). Thread-safe: the engine
    puts rows while the consent stage's worker pops those its chunk wrote."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._db = _temp_db()
        self._db.execute(
            "CREATE TABLE row (k TEXT PRIMARY KEY, source_hash TEXT, recheck_on TEXT, token TEXT)"
        )
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def put(self, rows: Iterable[SourceSeen]) -> None:
        """Hold these rows (a row replaces the one held for its key)."""
        params = [
            (r.key_hash, r.source_hash, r.recheck_on and r.recheck_on.isoformat(), r.token)
            for r in rows
        ]
        if params:
            with self._lock:
                self._db.executemany("INSERT OR REPLACE INTO row VALUES (?, ?, ?, ?)", params)
                self._len = self._db.execute("SELECT COUNT(*) FROM row").fetchone()[0]

    def pop(self, keys: Iterable[str]) -> list[SourceSeen]:
        """Take out the rows held for ``keys`` (keys without one are ignored)."""
        wanted = list(keys)
        with self._lock:
            return self._pop(wanted)

    def _pop(self, wanted: list[str]) -> list[SourceSeen]:
        if not self._len:
            return []
        out: list[SourceSeen] = []
        for chunk in in_lists(wanted):
            where = f"WHERE k IN ({marks(chunk)})"
            found = self._db.execute(f"SELECT * FROM row {where}", chunk)  # noqa: S608
            out += [
                SourceSeen(k, h, date.fromisoformat(on) if on else None, t) for k, h, on, t in found
            ]
            self._db.execute(f"DELETE FROM row {where}", chunk)  # noqa: S608
        self._len -= len(out)
        return out

    def clear(self) -> None:
        """Drop every held row."""
        with self._lock:
            self._db.execute("DELETE FROM row")
            self._len = 0

    def close(self) -> None:
        """Drop the temporary database (and every row: pop finds none from now on)."""
        with self._lock:
            self._len = 0
            self._db.close()
