"""Pending Bulk writes on disk (connector/sync/spool.py): what the process keeps per write."""

from __future__ import annotations

import gc
import hashlib
import json
import tracemalloc
from datetime import date

from connector.records import Origin
from connector.sync.plan import Write
from connector.sync.spool import Spooled, WriteBuffer, WriteSpool

FIELDS = ["LastName", "FirstName", "Email", "MailingStreet", "MailingPostalCode", "MailingCity"]


def h(i: int, n: int = 32) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest()[:n]


def write(i: int, *, operation: str = "upsert", city: str = "Utrecht") -> Write:
    """A write shaped like a first-load Contact: a dozen fields, their hashes, a new person."""
    row: dict[str, object] = {f: f"{f.lower()} value {i:07d}" for f in FIELDS}
    row |= {"MailingCity": city, "SIS_Student_Number__c": f"{i:07d}", "Birthdate": date(2004, 5, 1)}
    if operation == "update":
        row["Id"] = f"003{i:015d}"
    hashes = json.dumps({f: h(i * 31 + n, 16) for n, f in enumerate(row)}, separators=(",", ":"))
    return Write(
        key_hash=h(i),
        origin=Origin("studenten.csv", i + 2),
        operation=operation,
        row=row,
        hashes=hashes,
        token=h(-i, 16),
        cleared=0,
        known=operation == "update",
        new_person=(h(10**9 + i), h(2 * 10**9 + i)),
        lifecycle="enrolled",
        source_hash=h(3 * 10**9 + i),
    )


def test_a_spilled_buffer_keeps_no_payload_in_memory() -> None:
    """4,000 buffered writes cost under 400 bytes each in the process (in memory ≈ 2.3 kB:
    the payload dict, the hashes text, the identity hashes)."""
    buffer, spool = WriteBuffer(), WriteSpool()
    buffer.spill(spool)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for start in range(0, 4_000, 2_000):
            batch = [write(i) for i in range(start, start + 2_000)]
            buffer.add(batch)
            del batch
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
        spool.close()
    assert len(buffer) == 4_000
    assert grown / 4_000 < 400, f"{grown / 4_000:.0f} bytes per pending write"


def test_spooled_writes_come_back_in_order_latest_row_of_a_key_wins() -> None:
    buffer, spool = WriteBuffer(), WriteSpool()
    buffer.add([write(i) for i in range(3)])  # in memory until the mapping goes Bulk
    buffer.spill(spool)
    buffer.add([write(i) for i in range(3, 6)] + [write(7, operation="update")])
    buffer.add([write(1, city="Zwolle")])  # a later row of record 1 replaces its write
    buffer.pop(h(4))  # a later row recognised unchanged: no write
    assert h(1) in buffer and h(4) not in buffer and len(buffer) == 6
    upserts, updates = buffer.take()
    assert isinstance(upserts, Spooled) and upserts.operation == "upsert"
    assert upserts.keys == [h(0), h(2), h(3), h(5), h(1)]
    assert [w.key_hash for w in upserts] == upserts.keys
    assert upserts[4].row["MailingCity"] == "Zwolle"
    assert [w.row for w in upserts[1:3]] == [write(2).row, write(3).row]
    assert updates[0].row["Id"] == f"003{7:015d}"
    rows = upserts.rows()
    assert "Id" not in rows.columns and "Birthdate" in rows.columns
    assert list(rows) == [w.row for w in upserts]
    assert len(buffer) == 0


def test_recorded_writes_leave_the_disk_and_persons_out_are_found() -> None:
    buffer, spool = WriteBuffer(), WriteSpool()
    buffer.spill(spool)
    buffer.add([write(i) for i in range(50)])
    buffer.add([write(i) for i in range(50, 100)])
    (part,) = buffer.take()
    assert isinstance(part, Spooled)
    student = h(10**9 + 60)
    assert spool.blobs_of([student, "unknown"]) & part.blobs()
    assert spool.live_blobs == 2
    spool.release(part.refs)
    assert spool.live_blobs == 0
    assert not spool.blobs_of([student])
    spool.close()


def test_reading_spooled_writes_through_keeps_no_blob_loaded() -> None:
    """A Bulk worker reads its job's writes once (the CSV), then waits for the job: it must not
    keep the last blob it loaded (~4.6 MB for a batch of 2,000 writes) all that time."""
    buffer, spool = WriteBuffer(), WriteSpool()
    buffer.spill(spool)
    buffer.add([write(i) for i in range(2_000)])
    (part,) = buffer.take()
    assert isinstance(part, Spooled)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        assert sum(1 for _ in part.rows()) == 2_000  # as the Bulk CSV reads them
        reading = tracemalloc.get_traced_memory()[1] - before
        assert len(part[100:1_900]) == 1_800  # as the recorder reads its slices
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
        spool.close()
    assert kept < 200_000, f"{kept:,} bytes kept after reading"
    # A pass holds one blob of 500 writes at a time (~1.2 MB), not the batch's 2,000.
    assert reading < 2_000_000, f"{reading:,} bytes at the peak of a pass"


def test_releasing_one_blob_forgets_its_persons_only() -> None:
    """Each blob's persons are a rowid range of ``people``: releasing a blob in the middle
    removes exactly its rows; the persons of the blobs before and after are still found."""
    spool = WriteSpool()
    first = spool.put([write(i) for i in range(10)])
    middle = spool.put([write(i) for i in range(10, 20)])
    last = spool.put([write(i) for i in range(20, 30)])
    student, email = h(10**9 + 15), h(2 * 10**9 + 15)  # persons of the middle blob
    assert spool.blobs_of([student]) == {middle[0] // 4096}
    spool.release(middle)
    assert spool.blobs_of([student, email]) == set()
    for i in [*range(10), *range(20, 30)]:  # every person of the other two, one by one
        blob = (first if i < 10 else last)[0] // 4096
        assert spool.blobs_of([h(10**9 + i)]) == spool.blobs_of([h(2 * 10**9 + i)]) == {blob}
    spool.release(first + last)
    assert spool.blobs_of([h(10**9 + 9), h(2 * 10**9 + 20)]) == set()
    spool.close()
