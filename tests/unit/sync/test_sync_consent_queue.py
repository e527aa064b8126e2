"""What the consent stage holds while Contacts are on their way (connector/sync/consent_queue.py):
on disk, in order, and little of it in the process."""

from __future__ import annotations

import gc
import hashlib
import threading
import time
import tracemalloc
from datetime import UTC, date, datetime

import pytest

from connector.errors import StateError
from connector.state.rows import SourceSeen
from connector.sync.background import Background
from connector.sync.consent_queue import PIECES, DeferredRows, EntryQueue, pieces
from connector.sync.consent_records import OPT_IN, ConsentEntry

AT = datetime(2026, 9, 1, 8, 30, tzinfo=UTC)


def key(i: int) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest()


def entries(first: int, persons: int, per_person: int = 2) -> list[ConsentEntry]:
    """``per_person`` adjacent entries (purposes) for each of ``persons`` records."""
    return [
        ConsentEntry(key(i), f"purpose{p}", OPT_IN, AT, f"intake form {i}", "self")
        for i in range(first, first + persons)
        for p in range(per_person)
    ]


def test_entries_come_back_in_order_and_whole():
    q = EntryQueue()
    q.add(entries(0, 10))
    q.add([])
    q.add(entries(10, 10))
    assert len(q) == 40
    chunks = list(q.take(len(q), 15))
    # Chunks of about 15 that never split a record's two entries.
    assert [len(c) for c in chunks] == [16, 16, 8]
    assert [e for c in chunks for e in c] == entries(0, 20)
    assert len(q) == 0
    q.close()


def test_ready_stops_at_the_first_blocked_contact_and_the_rest_waits():
    q = EntryQueue()
    q.add(entries(0, 10))
    q.add(entries(10, 10))
    blocked = {key(13), key(15)}
    assert q.ready(blocked, 1000) == 26  # persons 0-12, two entries each
    assert q.ready(set(), 5) == 20  # a whole part, then enough
    taken = [e for c in q.take(26, 100) for e in c]
    assert taken == entries(0, 13)
    assert len(q) == 14 and q.contact_keys() == {key(i) for i in range(13, 20)}
    # A count that ends inside a record takes the rest of it too (persons 13-15).
    assert [e for c in q.take(5, 100) for e in c] == entries(13, 3)
    assert [e for c in q.take(len(q), 100) for e in c] == entries(16, 4)
    q.close()


def test_queued_entries_take_little_memory():
    q = EntryQueue()
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for b in range(20):  # 40,000 entries, made here: what the queue keeps of them counts
            q.add(entries(b * 1000, 1000))
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # The compressed contact keys only (~35 bytes an entry); as objects, ~300 bytes an entry.
    assert held < 50 * len(q), held
    q.close()


def test_deferred_rows_round_trip_and_are_popped_once():
    rows = DeferredRows()
    rows.put([SourceSeen(key(1), "s1", date(2027, 8, 1), "t1"), SourceSeen(key(2), "s2", None)])
    rows.put([SourceSeen(key(1), "s1b", None, "t1b")])  # a later row of the record replaces it
    assert len(rows) == 2
    assert rows.pop([key(3)]) == []
    assert sorted(rows.pop([key(2), key(1)]), key=lambda r: r.key_hash) == sorted(
        [SourceSeen(key(1), "s1b", None, "t1b"), SourceSeen(key(2), "s2", None, None)],
        key=lambda r: r.key_hash,
    )
    assert len(rows) == 0 and rows.pop([key(1)]) == []
    rows.put([SourceSeen(key(4), "s4", date(2027, 8, 1), "t4")])
    assert rows.pop([key(4)]) == [SourceSeen(key(4), "s4", date(2027, 8, 1), "t4")]
    rows.put([SourceSeen(key(5), "s5", None, "t5")])
    rows.clear()
    assert rows.pop([key(5)]) == []
    rows.close()
    assert rows.pop([key(5)]) == []  # after close: nothing held


def test_deferred_rows_take_little_memory():
    rows = DeferredRows()
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for b in range(20):  # 20,000 rows, ~300 bytes each as objects
            rows.put(SourceSeen(key(i), key(-i), date(2027, 8, 1), key(i)[:32])
                     for i in range(b * 1000, b * 1000 + 1000))  # fmt: skip
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(rows) == 20_000
    assert held < 10 * len(rows), held
    rows.close()


class _Store:
    def __init__(self) -> None:
        self.sizes: list[int] = []

    def record_synced(self, rows: list, *, at: datetime) -> None:
        self.sizes.append(len(rows))

    def keep_sources(self, mapping: str, rows: list) -> None:
        self.sizes.append(len(rows))

    def sf_ids(self, mapping: str, keys: list) -> dict:
        self.sizes.append(len(keys))
        return {}

    def known(self, mapping: str, keys: list) -> dict:
        self.sizes.append(len(keys))
        return {}


def test_the_stage_records_synced_consent_rows_in_slices():
    from connector.state.rows import SyncedUpdate
    from connector.sync import consent_stage, consent_writes

    stage = consent_stage.ConsentStage.__new__(consent_stage.ConsentStage)
    stage.store, stage.now = _Store(), AT  # type: ignore[assignment]
    synced: list[SyncedUpdate] = []
    for i in range(consent_writes.SLICE * 2 + 7):
        synced.append(SyncedUpdate("consent:news", key(i), "ContactPointTypeConsent", "0ZY", {}))
        stage._record_some(synced)
    stage._record_some(synced, last=True)
    slice_ = consent_writes.SLICE
    assert stage.store.sizes == [slice_, slice_, 4, 2, 1]  # type: ignore[attr-defined]
    assert synced == []


def test_the_stage_remembers_confirmed_source_rows_in_slices():
    from connector.sync import consent_stage, consent_writes

    stage = consent_stage.ConsentStage.__new__(consent_stage.ConsentStage)
    stage.store, stage.mapping = _Store(), "students"  # type: ignore[assignment]
    stage.deferred = DeferredRows()
    n = consent_writes.SLICE + 3
    stage.deferred.put(SourceSeen(key(i), key(-i), None, "t") for i in range(n))
    stage._confirm({key(i) for i in range(n)})
    assert stage.store.sizes == [consent_writes.SLICE, 2, 1]  # type: ignore[attr-defined]
    assert len(stage.deferred) == 0
    stage.deferred.close()


def _flushing_stage(monkeypatch, chunk: int = 20):
    """A consent stage with its queue and worker only, chunks of ``chunk`` entries."""
    from connector.sync import consent_stage

    monkeypatch.setattr(consent_stage, "CHUNK", chunk)
    stage = consent_stage.ConsentStage.__new__(consent_stage.ConsentStage)
    stage.pending = EntryQueue()
    stage.chunks = Background("test-consents")
    stage._lock, stage._refusals, stage._thread = threading.Lock(), [], threading.get_ident()
    stage._warnings = []
    stage.refused = stage.progress = None
    stage.writes_sent = stage.writes_done = 0
    stage._told = (0, 0)
    return stage


def test_a_flush_writes_whole_chunks_only(monkeypatch):
    """A remainder below a chunk waits for more (written alone it would go through
    collections, ~10 calls per object instead of one Bulk job)."""
    stage = _flushing_stage(monkeypatch)
    written: list[int] = []
    stage._write = lambda chunk: written.append(len(chunk))  # type: ignore[method-assign]
    for b in range(5):
        stage.pending.add(entries(b * 7, 7))  # 70 entries, all ready
    stage.flush(set())
    stage.chunks.settle()
    assert written == [20]
    stage.flush({key(30)})  # persons 10-29 ready: one chunk of them, not all
    stage.chunks.settle()
    assert written == [20, 20]
    stage.flush({key(20)})  # persons 20-34 wait
    stage.chunks.settle()
    assert written == [20, 20] and len(stage.pending) == 30
    stage.chunks.close()
    stage.pending.close()


def test_a_chunk_is_written_while_the_engine_maps_on(monkeypatch):
    """The chunk's writes run in the worker: flush returns at once, starts no second chunk
    while one is out, and files the worker's refusals and progress on the run's thread."""
    stage = _flushing_stage(monkeypatch)
    release, threads = threading.Event(), []
    told: list[tuple[int, int, int]] = []
    filed: list[tuple[list, int]] = []
    stage.progress = lambda done, total: told.append((done, total, threading.get_ident()))
    stage.refused = lambda refused: filed.append((list(refused), threading.get_ident()))

    def write(chunk: list[ConsentEntry]) -> None:
        threads.append(threading.get_ident())
        stage._tell(sent=len(chunk))
        assert release.wait(10)
        stage._tell(done=len(chunk))
        with stage._lock:
            stage._refusals.append((chunk[0].contact_key, "consent:purpose0", None))

    stage._write = write  # type: ignore[method-assign]
    stage.pending.add(entries(0, 30))  # 60 entries: three chunks
    stage.flush(set())
    stage.flush(set())  # the first chunk is still out: no second one, and no wait
    assert len(stage.pending) == 40 and stage.chunks.busy
    assert filed == [] and told[-1][:2] == (0, 20)  # counts so far, told by the run's thread
    release.set()
    while stage.chunks.busy:
        time.sleep(0.01)
    stage.flush(set())  # settles the first chunk, starts the second
    assert told[-1][:2] == (20, 20) and len(filed) == 1
    assert {t for _, _, t in told} == {threading.get_ident()}
    assert filed[0] == ([(key(0), "consent:purpose0", None)], threading.get_ident())
    assert threads[0] != threading.get_ident()
    stage.chunks.close()
    assert len(stage.pending) == 20
    stage.pending.close()


def test_an_error_of_the_worker_is_the_runs(monkeypatch):
    stage = _flushing_stage(monkeypatch)

    def write(chunk: list[ConsentEntry]) -> None:
        raise StateError("state store: disk full")

    stage._write = write  # type: ignore[method-assign]
    stage.pending.add(entries(0, 30))
    stage.flush(set())
    while stage.chunks.busy:
        time.sleep(0.01)
    with pytest.raises(StateError, match="disk full"):
        stage.flush(set())
    stage.chunks.close()
    stage.pending.close()


def test_key_lists_for_state_come_in_a_dozen_lengths():
    """Each IN-list length is a prepared statement the SQLite driver caches with its bound
    values; lists of any length filled that cache over a large load."""
    lengths: set[int] = set()
    for n in (0, 1, 7, 1999, 2000, 6873, 10_001):
        parts = list(pieces(list(range(n))))
        assert [k for p in parts for k in p] == list(range(n))
        lengths.update(len(p) for p in parts)
    assert lengths <= set(PIECES) and len(PIECES) <= 12


def test_the_stage_asks_state_in_pieces():
    from connector.sync import consent_stage

    stage = consent_stage.ConsentStage.__new__(consent_stage.ConsentStage)
    stage.store, stage.mapping = _Store(), "students"  # type: ignore[assignment]
    stage._contact_ids([key(i) for i in range(2_003)])
    stage._known("consent:news", [key(i) for i in range(1_001)])
    assert stage.store.sizes == [2000, 2, 1, 1000, 1]  # type: ignore[attr-defined]


def test_a_chunk_sharing_a_contact_is_planned_after_the_chunk_before_it(monkeypatch):
    """Two records of one Contact share its Individual and consents: the next chunk is planned
    against state only once the chunk in the worker has recorded them (else an older proof
    could overwrite a newer one); a chunk of other Contacts does not wait."""
    from connector.sync.consent_writes import Chunk

    stage = _flushing_stage(monkeypatch)
    release, order = threading.Event(), []

    def second_half() -> None:
        assert release.wait(10)
        order.append("recorded")

    stage._out = Chunk([], None, {"k1": "003A", "k2": "003B"}, {})  # type: ignore[arg-type]
    stage.chunks.start(second_half)
    stage._before_planning({"003C"})  # other Contacts: planned at once
    assert stage.chunks.busy and order == []
    threading.Timer(0.2, release.set).start()
    stage._before_planning({"003C", "003B"})
    order.append("planned")
    assert order == ["recorded", "planned"] and stage._out is None
    stage.chunks.close()
    stage.pending.close()


def test_the_progress_hears_only_news(monkeypatch):
    """The engine flushes at every batch: a mapping without consents shows no consent line, and
    a count is told once."""
    stage = _flushing_stage(monkeypatch)
    told: list[tuple[int, int]] = []
    stage.progress = lambda done, total: told.append((done, total))
    for _ in range(3):
        stage.flush(set())
    assert told == []
    stage._tell(sent=4)
    stage.flush(set())
    stage._tell(done=4)
    stage.flush(set())
    assert told == [(0, 4), (4, 4)]
    stage.chunks.close()
    stage.pending.close()


def test_dropped_entries_are_left_out_and_a_later_rows_entries_stay():
    q = EntryQueue()
    q.add(entries(0, 5))  # persons 0-4
    q.add(entries(5, 5))  # persons 5-9
    q.drop([key(1), key(7), key(99)])  # a later row of each; 99 has nothing queued
    q.add(entries(7, 1))  # the later row of person 7 brings its own entries
    assert q.contact_keys() == {key(i) for i in range(10)} - {key(1)}
    taken = [e for c in q.take(len(q), 100) for e in c]
    earlier = [e for e in entries(0, 10) if e.contact_key not in {key(1), key(7)}]
    assert taken == earlier + entries(7, 1)
    q.close()


def test_take_counts_dropped_entries_as_ready_did():
    """``ready`` counts queued entries, dropped or not: ``take`` of that count never reaches an
    entry past the first blocked one."""
    q = EntryQueue()
    q.add(entries(0, 10))
    q.drop([key(2)])
    ready = q.ready({key(6)}, 1000)
    assert ready == 12  # persons 0-5, two entries each (person 2's among them)
    taken = [e for c in q.take(ready, 100) for e in c]
    assert {e.contact_key for e in taken} == {key(i) for i in (0, 1, 3, 4, 5)}
    assert q.contact_keys() == {key(i) for i in range(6, 10)}
    q.close()
