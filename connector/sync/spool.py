"""Planned writes kept on disk while they wait for, or ride in, a Bulk API 2.0 job.

A Bulk first load holds a buffer of up to ``bulk_chunk`` writes plus the writes of the jobs in
flight (two of 50,000 by default): about 150,000 writes, each with its payload dict, field
hashes and identity hashes (≈ 2.3 kB apiece, measured with ``sys.getsizeof`` over a 3,000-row
plan) — 350 MB of a million-row run's peak. Like the key ledger (``ledger.py``) they move to a
private temporary SQLite database (an empty file name: on disk, deleted on close,
sqlite.org/inmemorydb.html); the process keeps an ``int`` per write. A batch of writes is one
zlib-compressed pickle (a blob); a blob is deleted once none of its writes is queued or out.
Nothing leaves the process: the file is unnamed and removed when the run ends.

``people`` remembers the identity hashes (student, e-mail) of each blob, so the engine can ask
whether a batch's persons are still on their way without loading the writes. It keeps the
first 64 bits of each hash as an integer (an index a sixth of the size of one on the 64-digit
text, which a 1 MiB cache holds; a collision would only make a batch wait for a write it does
not need), and each blob's rows are a rowid range, deleted as a range: ``WHERE blob = ?`` had
no index and read the whole table for every blob released.
"""

from __future__ import annotations

import hashlib
import pickle
import threading
import zlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, overload

from connector.sync.plan import Write
from connector.sync.scratch_db import in_lists, marks, scratch_db

_SLOTS = 4096  # writes per blob at most (the ref is blob * _SLOTS + index)
# Writes per blob as the buffer stores them: what a reader holds loaded at a time (~2.3 kB a
# write unpickled). A batch of 2,000 in one blob was 4.6 MB per reading thread, and a pass of
# 4,096 refs at a time held two or three of them (22 MB of a 200k load's peak, memray).
_BLOB = 500


class WriteSpool:
    """Blobs of planned writes in a temporary database; thread-safe (Bulk workers read rows)."""

    def __init__(self) -> None:
        self._db = scratch_db(cache_kib=1024, threads=True)  # the blobs are read once, in order
        self._db.execute("CREATE TABLE blob (id INTEGER PRIMARY KEY, data BLOB NOT NULL)")
        self._db.execute("CREATE TABLE people (h INTEGER NOT NULL, blob INTEGER NOT NULL)")
        self._db.execute("CREATE INDEX people_h ON people (h)")
        self._lock = threading.Lock()
        self._live: dict[int, int] = {}  # blob → writes of it still queued or out
        self._rows: dict[int, tuple[int, int]] = {}  # blob → its first and last rowid in people
        self._next = 0
        self._local = threading.local()  # each thread's last loaded blob

    def put(self, writes: Sequence[Write]) -> list[int]:
        """Store ``writes`` (at most 4,096) as one blob; their refs, in order."""
        if not 0 < len(writes) <= _SLOTS:
            raise ValueError(f"a blob holds 1-{_SLOTS} writes")
        data = zlib.compress(pickle.dumps(list(writes), pickle.HIGHEST_PROTOCOL), 1)
        people = {
            (_short(h),)
            for w in writes
            for pair in (w.new_person, w.link_person)
            if pair
            for h in pair
            if h
        }
        with self._lock:
            blob = self._next
            self._next += 1
            self._db.execute("INSERT INTO blob VALUES (?, ?)", (blob, data))
            if people:
                self._db.executemany(f"INSERT INTO people VALUES (?, {blob})", people)  # noqa: S608
                # Consecutive rowids under our lock: each insert takes max(rowid) + 1
                # (sqlite.org/autoinc.html), so the blob's rows end at the largest.
                (last,) = self._db.execute("SELECT max(rowid) FROM people").fetchone()
                self._rows[blob] = (last - len(people) + 1, last)
            self._live[blob] = len(writes)
        return [blob * _SLOTS + i for i in range(len(writes))]

    def get(self, refs: Sequence[int], *, keep: bool = True) -> list[Write]:
        """The writes of ``refs``, in order (each blob is read once while refs stay in it).

        ``keep``: the thread keeps the last blob read for its next call (single writes read
        one by one); ``False`` for a pass that reads its blobs once (``Spooled.__iter__``,
        slices): a blob of a batch's writes is ~4.6 MB loaded, and a Bulk worker kept its last
        one for as long as the job ran.
        """
        out: list[Write] = []
        cached = getattr(self._local, "cached", None)
        for ref in refs:
            blob, index = divmod(ref, _SLOTS)
            if cached is None or cached[0] != blob:
                cached = (blob, self._load(blob))
            out.append(cached[1][index])
        self._local.cached = cached if keep else None
        return out

    def _load(self, blob: int) -> list[Write]:
        with self._lock:
            row = self._db.execute("SELECT data FROM blob WHERE id = ?", (blob,)).fetchone()
        if row is None:
            raise KeyError(f"spooled blob {blob} was released")
        writes: list[Write] = pickle.loads(zlib.decompress(row[0]))  # noqa: S301 - our own file
        return writes

    def release(self, refs: Sequence[int]) -> None:
        """These writes are recorded (or superseded): a blob none of whose writes is left goes."""
        gone: list[tuple[int]] = []
        with self._lock:
            for ref in refs:
                blob = ref // _SLOTS
                left = self._live.get(blob, 0) - 1
                if left > 0:
                    self._live[blob] = left
                elif blob in self._live:
                    del self._live[blob]
                    gone.append((blob,))
            if gone:
                self._db.executemany("DELETE FROM blob WHERE id = ?", gone)
                ranges = [self._rows.pop(b) for (b,) in gone if b in self._rows]
                self._db.executemany("DELETE FROM people WHERE rowid BETWEEN ? AND ?", ranges)
        self._local.cached = None

    def blobs_of(self, hashes: Sequence[str]) -> set[int]:
        """Live blobs that create or move a person with one of these identity hashes."""
        found: set[int] = set()
        with self._lock:
            for part in in_lists(hashes):
                chunk = [_short(h) for h in part]
                sql = f"SELECT DISTINCT blob FROM people WHERE h IN ({marks(chunk)})"  # noqa: S608
                found.update(b for (b,) in self._db.execute(sql, chunk))
        return found

    @property
    def live_blobs(self) -> int:
        """Blobs stored (a test checks that recorded writes leave the disk)."""
        return len(self._live)

    def close(self) -> None:
        """Drop the temporary database."""
        with self._lock:
            self._db.close()


def _short(identity_hash: str) -> int:
    """64 bits of an identity hash as a signed integer (SQLite's INTEGER): its first 16 hex
    digits, or a digest of a text that is not hex."""
    try:
        return int(identity_hash[:16], 16) - (1 << 63)
    except ValueError:
        digest = hashlib.blake2b(identity_hash.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big", signed=True)


class Spooled(Sequence[Write]):
    """Writes of one operation on disk, in order: a sequence that loads them as it is read.

    Args:
        spool: Where they are.
        refs: Their refs, in order.
        keys: Their key hashes (kept in memory: the outbox and the in-flight set need them).
        operation: ``upsert`` or ``update`` (``""`` for a mix).
        columns: Every payload key of these writes (the Bulk CSV header).
    """

    def __init__(
        self,
        spool: WriteSpool,
        refs: list[int],
        keys: list[str],
        operation: str,
        columns: list[str] | None = None,
    ):
        self.spool, self.refs, self.keys, self.operation = spool, refs, keys, operation
        self.columns = columns or []

    def __len__(self) -> int:
        return len(self.refs)

    @overload
    def __getitem__(self, index: int) -> Write: ...
    @overload
    def __getitem__(self, index: slice) -> list[Write]: ...
    def __getitem__(self, index: int | slice) -> Write | list[Write]:
        if isinstance(index, slice):
            return self.spool.get(self.refs[index], keep=False)
        return self.spool.get([self.refs[index]])[0]

    def __iter__(self) -> Iterator[Write]:
        # One blob's refs at a time (refs of a blob are adjacent, in order): one blob loaded.
        refs, start = self.refs, 0
        while start < len(refs):
            blob, end = refs[start] // _SLOTS, start + 1
            while end < len(refs) and refs[end] // _SLOTS == blob:
                end += 1
            yield from self.spool.get(refs[start:end], keep=False)
            start = end

    def rows(self) -> SpooledRows:
        """The payloads, for the writer (a Bulk job reads them once, in order)."""
        return SpooledRows(self, self.columns)

    def blobs(self) -> set[int]:
        """The blobs these writes are in."""
        return {ref // _SLOTS for ref in self.refs}


class SpooledRows(Sequence[Mapping[str, Any]]):
    """The payload rows of :class:`Spooled` writes, with the CSV columns known up front
    (``columns``: every key any row has, so the Bulk job need not read the rows twice)."""

    def __init__(self, writes: Spooled, columns: list[str]):
        self.writes, self.columns = writes, columns

    def __len__(self) -> int:
        return len(self.writes)

    @overload
    def __getitem__(self, index: int) -> Mapping[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Mapping[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> Mapping[str, Any] | Sequence[Mapping[str, Any]]:
        if isinstance(index, slice):
            refs = self.writes.refs[index]
            part = Spooled(self.writes.spool, refs, self.writes.keys[index], self.writes.operation)
            return SpooledRows(part, self.columns)
        return self.writes[index].row

    def __iter__(self) -> Iterator[Mapping[str, Any]]:
        for w in self.writes:
            yield w.row


class WriteBuffer:
    """Planned writes waiting for the next flush, by key hash: a later row of a record replaces
    its earlier write. In memory until :meth:`spill` (the mapping went Bulk); then on disk.

    ``columns`` per operation: every payload key of the writes added since the last
    :meth:`take` (the Bulk CSV header; a column of a write replaced since is merely empty).
    """

    def __init__(self) -> None:
        self._mem: dict[str, Write] = {}
        self._refs: dict[str, dict[str, int]] = {"upsert": {}, "update": {}}
        self._columns: dict[str, dict[str, None]] = {"upsert": {}, "update": {}}
        self.spool: WriteSpool | None = None

    def __contains__(self, key: object) -> bool:
        return key in self._mem or any(key in refs for refs in self._refs.values())

    def __len__(self) -> int:
        return len(self._mem) + sum(len(refs) for refs in self._refs.values())

    def pop(self, key: str, default: None = None) -> None:
        """Drop the write of ``key`` (a later row needs none), if one is buffered."""
        self._mem.pop(key, default)
        if self.spool is not None:
            for refs in self._refs.values():
                ref = refs.pop(key, None)
                if ref is not None:
                    self.spool.release([ref])

    def add(self, writes: Sequence[Write]) -> None:
        """Buffer ``writes`` (each replaces a buffered write of its key)."""
        if self.spool is None:
            for w in writes:
                self._mem[w.key_hash] = w
            return
        for start in range(0, len(writes), _BLOB):
            part = writes[start : start + _BLOB]
            for w in part:
                self.pop(w.key_hash)
                self._columns[w.operation].update(dict.fromkeys(w.row))
            for w, ref in zip(part, self.spool.put(part), strict=True):
                self._refs[w.operation][w.key_hash] = ref

    def spill(self, spool: WriteSpool) -> None:
        """From now on keep the writes on disk (those buffered so far move there)."""
        if self.spool is None:
            self.spool = spool
            held, self._mem = list(self._mem.values()), {}
            self.add(held)

    def take(self) -> list[Sequence[Write]]:
        """Empty the buffer: its writes, one sequence per operation (upserts first)."""
        if self.spool is None:
            held, self._mem = list(self._mem.values()), {}
            return [
                g for op in ("upsert", "update") if (g := [w for w in held if w.operation == op])
            ]
        out: list[Sequence[Write]] = []
        for op in ("upsert", "update"):
            refs, self._refs[op] = self._refs[op], {}
            columns, self._columns[op] = list(self._columns[op]), {}
            if refs:
                out.append(Spooled(self.spool, list(refs.values()), list(refs), op, columns))
        return out
