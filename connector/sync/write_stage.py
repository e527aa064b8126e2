"""The write stage of one mapping run: buffered writes, Bulk jobs in flight, their recording.

A batch's planned writes join a buffer (:class:`~connector.sync.spool.WriteBuffer`): a later
row of a record replaces its buffered write, an unchanged one drops it. Up to the bulk
threshold (default 2,000 changed records per object and run) the buffer goes out through
sObject Collections when the mapping ends, and Salesforce's answers are recorded at once. Past
it the stage switches to Bulk API 2.0: the buffer moves to disk (``spool.py``) and leaves in
jobs of ``bulk_chunk`` records that Salesforce processes while the next batches are mapped;
their results are recorded when they are done (:meth:`WriteStage.collect`).

A batch that depends on a write still out waits for it (:meth:`WriteStage.settle`): a record
planned against state must see what its earlier write did, and a person created or moved by a
write in flight is found only once it is recorded. Every write is recorded by the
:class:`~connector.sync.recorder.Recorder` (outbox SENT before it leaves, OK | FAILED after).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING

from connector.errors import LimitReached, SalesforceError, SalesforceUnreachable
from connector.plan_examples import example_values
from connector.records import WriteResult
from connector.salesforce.existing import person_contact_ids
from connector.sync.plan import Write
from connector.sync.spool import Spooled, WriteBuffer, WriteSpool

if TYPE_CHECKING:
    from connector.mapping.models import MappingSpec
    from connector.report import MappingReport
    from connector.sync.recorder import Recorder
    from connector.sync.run_context import RunContext, WriteProgress

log = logging.getLogger("connector.sync.engine")  # one logger name for the run's messages

EXAMPLES = 3  # plan: example records shown per mapping


@dataclass(frozen=True, slots=True)
class Blocked:
    """Records whose write is buffered or in flight: their consents wait."""

    buffer: WriteBuffer
    in_flight: set[str]

    def __contains__(self, key: object) -> bool:
        return key in self.buffer or key in self.in_flight


def _joined(parts: list[Sequence[Write]]) -> Sequence[Write]:
    """Writes of several jobs as one sequence: spooled ones stay on disk (the recorder reads
    them in slices), in-memory ones are one list."""
    spooled = [p for p in parts if isinstance(p, Spooled)]
    if len(spooled) == len(parts) and spooled:
        first = spooled[0]
        refs = [r for p in spooled for r in p.refs]
        keys = [k for p in spooled for k in p.keys]
        return Spooled(first.spool, refs, keys, "")
    return [w for p in parts for w in p]


@dataclass
class _InFlight:
    """Writes submitted to Salesforce whose results are not recorded yet: in memory
    (collections), or on disk (:class:`Spooled`, Bulk) with only their keys in memory."""

    future: Future[list[WriteResult]]
    writes: Sequence[Write]
    ids: list[int]
    keys: list[str]

    def people(self) -> set[str]:
        """Identity hashes of the persons these in-memory writes create or move."""
        if isinstance(self.writes, Spooled):
            return set()  # asked of the spool (WriteStage._people_out)
        return {
            h
            for w in self.writes
            for pair in (w.new_person, w.link_person)
            if pair is not None
            for h in pair
            if h
        }


class WriteStage:
    """Buffer, Bulk switch, jobs in flight and their recording, for one mapping run.

    Args:
        ctx: The run's shared context (writer, store, thresholds, report).
        name: The mapping's name.
        spec: The mapping (target object, external id, person accounts).
        rep: The mapping's report (counts, strategy, errors).
        recorder: Writes state; None for a dry run (writes are counted, not sent).
        shown: Fields a dry run shows in its examples.
        told: Where write progress goes (the CLI's progress line), if anywhere.
    """

    def __init__(
        self,
        ctx: RunContext,
        name: str,
        spec: MappingSpec,
        rep: MappingReport,
        recorder: Recorder | None,
        shown: frozenset[str],
        told: WriteProgress | None,
    ):
        self.ctx, self.name, self.spec, self.rep = ctx, name, spec, rep
        self.recorder, self.shown, self.told = recorder, shown, told
        self.buffer = WriteBuffer()
        self.spool: WriteSpool | None = None  # Bulk writes wait on disk (spool.py)
        self.bulk = False
        self.in_flight: list[_InFlight] = []
        self.in_flight_keys: set[str] = set()
        self.sent = self.done = 0  # records submitted / recorded (progress)

    @property
    def blocked(self) -> Blocked:
        """The records whose write has not been recorded yet (buffered or in flight)."""
        return Blocked(self.buffer, self.in_flight_keys)

    def settle(self, keys: Collection[str], people: Sequence[str]) -> None:
        """Before a batch is planned: wait for the writes still out that it depends on.

        ``keys``: the batch's records (one still on its way is planned against what state
        will hold); ``people``: its identity hashes (a person a write in flight creates or
        moves is found once it is recorded).
        """
        if self.in_flight_keys and not self.in_flight_keys.isdisjoint(keys):
            self.collect(wait=True)
        if self.in_flight and self._people_out(list(people)):
            self.collect(wait=True)

    def land(self, key: str) -> None:
        """Send and record a write of ``key`` still buffered or in flight (with the rest).

        For a record the source deletes in the run that wrote it (a OneRoster delta): its
        number passes to the next key only once state knows the record, or both would go out
        as two upserts of one external id (DUPLICATE_EXTERNAL_ID) — rare, so the cost of an
        early flush does not matter.
        """
        if key in self.buffer or key in self.in_flight_keys:
            self.flush()
            self.collect(wait=True)

    def drop(self, keys: Iterable[str]) -> None:
        """Records that ended unchanged: a buffered write of an earlier row is not needed."""
        for key_hash in keys:
            self.buffer.pop(key_hash, None)

    def add(self, writes: Sequence[Write]) -> None:
        """Buffer a batch's writes (a later row of a buffered record replaces its write)."""
        self.buffer.add(writes)

    def to_bulk(self) -> bool:
        """True once, when the buffer has passed the bulk threshold: the mapping's writes go
        through Bulk API 2.0 from now on (see :meth:`send_full`)."""
        switched = len(self.buffer) > self.ctx.bulk_threshold and not self.bulk
        self.bulk = self.bulk or switched
        return switched

    def send_full(self) -> None:
        """In Bulk mode: keep the buffer on disk, and send a full ``bulk_chunk`` as a job."""
        if not self.bulk:
            return
        if not self.ctx.dry_run and self.spool is None:
            # Up to bulk_chunk buffered plus the jobs in flight: on disk, not in memory.
            self.spool = WriteSpool()
            self.buffer.spill(self.spool)
        if len(self.buffer) >= self.ctx.bulk_chunk:
            self.flush()

    def close(self) -> None:
        """Record whatever is still out, then drop the spool."""
        try:
            self.collect(wait=True)
        finally:
            if self.spool is not None:
                self.spool.close()

    def flush(self) -> None:
        """Send the buffer: Collections (recorded at once) or Bulk jobs (left in flight)."""
        groups = self.buffer.take()  # one sequence of writes per operation
        if not groups:
            return
        self.rep.strategy = "bulk2" if self.bulk else "collections"
        ctx = self.ctx
        if ctx.dry_run:
            for group in groups:
                self._count_plan(list(group))
            return
        if ctx.report.stopped:
            self.rep.pending += sum(len(g) for g in groups)
            self._release(groups)
            return
        assert self.recorder is not None
        assert ctx.writer is not None
        obj = self.spec.target.object
        log.debug("%s: writing %d %s records through %s", self.name,
                  sum(len(g) for g in groups), obj, self.rep.strategy)  # fmt: skip
        jobs: list[_InFlight] = []
        for part in groups:
            spooled = part if isinstance(part, Spooled) else None
            keys = spooled.keys if spooled else [w.key_hash for w in part]
            operation = spooled.operation if spooled else part[0].operation
            part_ids = self.recorder.sending_keys(keys, operation)
            if ctx.report.stopped or any(
                isinstance(j.future.exception(), LimitReached) for j in jobs if j.future.done()
            ):
                # The run stopped on the previous operation: these wait for the next run.
                self.recorder.results(part, [None] * len(part), part_ids)
                self._release([part])
                continue
            future = ctx.writer.submit(
                "upsert" if operation == "upsert" else "update",
                obj,
                spooled.rows() if spooled else [w.row for w in part],
                external_id_field=self.spec.target.external_id if operation == "upsert" else None,
                bulk=self.bulk,
            )
            jobs.append(_InFlight(future, part, part_ids, keys))
            self.in_flight_keys.update(keys)
            self.sent += len(keys)
        if self.told is not None and jobs:
            self.told.written(self.name, "records", self.done, self.sent)
        if self.bulk:
            self.in_flight.extend(jobs)  # Salesforce works on them while we map on
        else:
            self._record(jobs)  # collections answered at once: one record of the whole flush

    def collect(self, *, wait: bool) -> None:
        """Record the results of submitted writes: the finished ones, or all (``wait``)."""
        done = [j for j in self.in_flight if wait or j.future.done()]
        self.in_flight = [j for j in self.in_flight if j not in done]
        self._record(done)

    def collect_oldest(self) -> None:
        """Wait for the write submitted first that is still out, and record it."""
        if self.in_flight:
            first, *self.in_flight = self.in_flight
            self._record([first])

    def _people_out(self, hashes: list[str]) -> bool:
        """True when a write still out creates or moves a person with one of ``hashes``."""
        if not hashes:
            return False
        if set().union(*(job.people() for job in self.in_flight)).intersection(hashes):
            return True
        blobs = set().union(
            *(j.writes.blobs() for j in self.in_flight if isinstance(j.writes, Spooled))
        )
        return bool(blobs) and self.spool is not None and bool(self.spool.blobs_of(hashes) & blobs)

    def _release(self, groups: Sequence[Sequence[Write]]) -> None:
        """Spooled writes that are recorded leave the disk."""
        for group in groups:
            if isinstance(group, Spooled):
                group.spool.release(group.refs)

    def _record(self, jobs: list[_InFlight]) -> None:
        """One recorder call for finished writes (persons they share are recorded together)."""
        if not jobs:
            return
        parts: list[Sequence[Write]] = []
        results: list[WriteResult | None] = []
        ids: list[int] = []
        for job in jobs:
            try:
                got: list[WriteResult | None] = list(job.future.result())
            except (LimitReached, SalesforceError) as exc:
                # Keep what landed: the writer's exception carries the results of the write
                # that stopped, in its rows' order; what was never sent stays pending.
                if isinstance(exc, LimitReached):
                    self.ctx.report.stopped = f"daily API share reached ({exc.code or 'limit'})"
                elif isinstance(exc, SalesforceUnreachable):
                    # Stop here: every later batch would wait through the retries again.
                    self.ctx.report.stopped = self.ctx.report.stopped or str(exc)
                else:
                    self.rep.error = str(exc)
                landed: list[WriteResult] = getattr(exc, "results", None) or []
                got = [*landed, *[None] * (len(job.writes) - len(landed))][: len(job.writes)]
            parts.append(job.writes)
            results += got
            ids += job.ids
            self.in_flight_keys.difference_update(job.keys)
            self.done += len(job.keys)
        assert self.recorder is not None
        writes = _joined(parts)
        self.recorder.results(writes, results, ids)
        if self.spec.target.person_account:
            self._person_contacts(writes, results)
        self._release(parts)
        if self.told is not None:  # per flush or per Bulk job recorded, never per row
            self.told.written(self.name, "records", self.done, self.sent)

    def _person_contacts(self, writes: Sequence[Write], results: list[WriteResult | None]) -> None:
        """Read back and remember the PersonContactId of person accounts this batch created
        (or that state has none of): the upsert answers with the Account id only
        (``connector/state/person_contacts.py``). One query per batch."""
        assert self.ctx.writer is not None
        landed = {w.key_hash: r for w, r in zip(writes, results, strict=True) if r and r.ok}
        ids = {k: r.sf_id for k, r in landed.items() if r.sf_id}
        need = {k: i for k, i in ids.items() if landed[k].created}
        others = [k for k in ids if k not in need]
        if others:
            have = self.ctx.store.person_contact_ids(self.name, others)
            need.update({k: ids[k] for k in others if k not in have})
        if not need:
            return
        try:
            contacts = person_contact_ids(self.ctx.writer.query, list(need.values()))
        except SalesforceError as exc:
            # Children that need it are rejected this run and sent on the next.
            log.warning("%s: reading PersonContactId failed: %s", self.name, exc.code)
            return
        self.ctx.store.set_person_contact_ids(
            self.name, {k: contacts[i] for k, i in need.items() if i in contacts}
        )

    def _count_plan(self, writes: list[Write]) -> None:
        """A dry run: count the writes and keep a few masked examples."""
        remember = self.ctx.planned.get(self.name)
        for w in writes:
            if remember is not None:  # a parent its children may refer to (created or not)
                remember.add(w.key_hash)
            if w.known:
                self.rep.updated += 1
            else:
                self.rep.created += 1
            self.rep.fields_cleared += w.cleared
            if len(self.rep.examples) < EXAMPLES:
                self.rep.examples.append(
                    {
                        "key": w.key_hash[:12],
                        "action": "update" if w.known else "create",
                        # Booleans, picklists, events as they would be sent; personal values
                        # masked (plan_examples.py).
                        "fields": example_values(w.row, self.shown),
                    }
                )
