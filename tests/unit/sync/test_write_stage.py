"""The write stage alone (connector/sync/write_stage.py): buffer, Bulk switch, jobs in flight.

No Salesforce and no state: a writer whose jobs finish when the test says so, and a recorder
that keeps what it was told. The engine's integration tests cover the stage end to end.
"""

from __future__ import annotations

from concurrent.futures import Future
from types import SimpleNamespace
from typing import Any

from connector.records import Origin, WriteResult
from connector.report import MappingReport
from connector.sync.plan import Write
from connector.sync.write_stage import WriteStage


def write(i: int, *, person: str | None = None, known: bool = False) -> Write:
    return Write(
        key_hash=f"k{i}",
        origin=Origin("studenten.csv", i + 2),
        operation="upsert",
        row={"SIS_Student_Number__c": f"{i:06d}", "LastName": "x"},
        hashes="{}",
        token=f"t{i}",
        cleared=0,
        known=known,
        new_person=(person, None) if person else None,
    )


class Writer:
    """Jobs that stay out until ``finish()``; Collections writes answer at once."""

    def __init__(self) -> None:
        self.jobs: list[tuple[Future[list[WriteResult]], int]] = []

    def submit(self, op: str, obj: str, rows: Any, **kw: Any) -> Future[list[WriteResult]]:
        rows = list(rows)
        future: Future[list[WriteResult]] = Future()
        if kw["bulk"]:
            self.jobs.append((future, len(rows)))
        else:
            future.set_result([WriteResult(True, f"003{i:015d}") for i in range(len(rows))])
        return future

    def finish(self) -> None:
        for future, n in self.jobs:
            if not future.done():
                future.set_result([WriteResult(True, f"003{i:015d}") for i in range(n)])


class Recorder:
    def __init__(self) -> None:
        self.sent: list[str] = []
        self.recorded: list[str] = []

    def sending_keys(self, keys: list[str], operation: str) -> list[int]:
        self.sent += keys
        return list(range(len(keys)))

    def results(self, writes: Any, results: Any, ids: Any) -> None:
        self.recorded += [w.key_hash for w in writes]


def stage(
    *, threshold: int = 3, chunk: int = 4, dry_run: bool = False
) -> tuple[WriteStage, Writer, Recorder, MappingReport]:
    writer, recorder = Writer(), Recorder()
    ctx: Any = SimpleNamespace(
        writer=None if dry_run else writer,
        dry_run=dry_run,
        bulk_threshold=threshold,
        bulk_chunk=chunk,
        report=SimpleNamespace(stopped=""),
        planned={},
    )
    spec: Any = SimpleNamespace(
        target=SimpleNamespace(object="Contact", external_id="SIS_Student_Number__c",
                               person_account=False)
    )  # fmt: skip
    rep = MappingReport("students", "Contact")
    got = WriteStage(ctx, "students", spec, rep, None if dry_run else recorder, frozenset(), None)  # type: ignore[arg-type]
    return got, writer, recorder, rep


def test_below_the_threshold_writes_go_out_through_collections_when_flushed() -> None:
    writes, _, recorder, rep = stage()
    writes.add([write(1), write(2)])
    assert not writes.to_bulk()
    writes.send_full()
    assert recorder.sent == []  # nothing leaves before the mapping ends
    writes.flush()
    assert (recorder.recorded, rep.strategy) == (["k1", "k2"], "collections")


def test_past_the_threshold_the_stage_switches_once_and_sends_full_chunks_as_jobs() -> None:
    writes, writer, recorder, rep = stage(threshold=3, chunk=4)
    writes.add([write(i) for i in range(4)])
    assert writes.to_bulk()
    assert not writes.to_bulk()  # once
    writes.send_full()
    assert len(writer.jobs) == 1 and recorder.recorded == []  # out, not yet recorded
    assert "k1" in writes.blocked and "k9" not in writes.blocked
    writes.collect(wait=False)
    assert recorder.recorded == []  # the job is not done
    writer.finish()
    writes.collect(wait=False)
    assert sorted(recorder.recorded) == ["k0", "k1", "k2", "k3"]
    assert "k1" not in writes.blocked and rep.strategy == "bulk2"
    writes.close()


def test_a_batch_waits_for_the_job_holding_its_record_or_its_new_person() -> None:
    writes, writer, recorder, _ = stage(threshold=0, chunk=1)
    writes.add([write(1, person="s1")])
    writes.to_bulk()
    writes.send_full()
    writes.settle({"k7"}, ["s9"])
    assert recorder.recorded == []  # unrelated: no wait
    writer.finish()  # the job is done, but only a dependent batch records it now
    writes.settle({"k1"}, [])
    assert recorder.recorded == ["k1"]
    writes.close()


def test_an_unchanged_record_drops_its_buffered_write_and_a_dry_run_counts() -> None:
    writes, _, _, rep = stage(dry_run=True)
    writes.add([write(1), write(2, known=True), write(3)])
    writes.drop(["k3"])
    writes.flush()
    assert (rep.created, rep.updated, len(rep.examples)) == (1, 1, 2)
