"""One sync run: every mapping of a job, parents first, source → map → policy → plan → write.

The engine streams: a source is read in batches of ``BATCH`` records, each batch is planned
against state with a few batch queries, and writes are buffered per mapping. Up to the bulk
threshold (default 2,000 changed records per object and run) they go out through sObject
Collections when the mapping ends; once the buffer passes the threshold the mapping switches to
Bulk API 2.0 and flushes a job every ``BULK_CHUNK`` records, so memory stays flat however large
the file.

Crash safety comes from three things together: every write is an upsert by external id (or an
update by Salesforce Id for a known person), so a replay cannot duplicate; the outbox row of each
write moves NEW → SENT → OK | FAILED; and a record's field hashes only change in state after
Salesforce accepted it, so whatever did not land is simply planned again by the next run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import islice
from typing import Any

from connector.clock import school_date
from connector.errors import InputError, LimitReached, SalesforceError
from connector.hashing import KeyHasher
from connector.privacy.policy import Policy
from connector.records import Reject, SourceRecord, WriteResult
from connector.report import MappingReport, RunReport
from connector.sources import open_source
from connector.state import StateStore
from connector.state.rows import (
    NewPerson,
    OutboxError,
    OutboxItem,
    OutboxStatus,
    PersonUpdate,
    SourceSeen,
    SyncedUpdate,
)
from connector.sync.fingerprint import SourceHasher
from connector.sync.plan import Item, Planner, Write

log = logging.getLogger(__name__)

BATCH = 2_000
BULK_CHUNK = 10_000
EXAMPLES = 3

Progress = Callable[[str, int], None]


@dataclass
class RunContext:
    """What every mapping of a run shares."""

    project: Any  # connector.mapping Project
    base_dir: Any  # Path: relative source paths resolve against the folder of sync.yaml
    compiled: dict[str, Any]  # name → CompiledMapping
    store: StateStore
    writer: Any | None  # connector.salesforce.Writer; None for a dry run
    hasher: KeyHasher
    now: datetime
    report: RunReport
    bulk_threshold: int = 2_000
    progress: Progress | None = None
    # Dry run only: key hashes a parent mapping would create, so children count as creates too.
    planned: dict[str, set[str]] = field(default_factory=dict)
    project_digest: bytes = b""  # fingerprint.project_digest(project): keys the source hashes
    # False when the run's clock is ahead of the real one (SIS_SYNC_NOW in the future): what it
    # decides for that day must not let later real runs skip rows.
    remember_sources: bool = True

    @property
    def dry_run(self) -> bool:
        """True for `sis-sync plan`: nothing is written anywhere."""
        return self.writer is None


def _batches(it: Iterator[SourceRecord | Reject], size: int) -> Iterator[list]:
    while batch := list(islice(it, size)):
        yield batch


@dataclass
class Mapped:
    """One batch after mapping.

    ``items``: key hash → the record's last row as an :class:`Item`, or its source hash when
    the row was recognised unchanged; ``tokens``: the record hash of each recognised record;
    ``superseded``: earlier rows of a record (mapped, rememberable) that a later row replaced.
    """

    items: dict[str, Item | str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    superseded: dict[str, list[Item]] = field(default_factory=dict)

    def supersede(self, key_hash: str) -> None:
        """A new row of ``key_hash`` arrives: keep the one it replaces, if worth remembering."""
        old = self.items.get(key_hash)
        if old is not None and not isinstance(old, str) and old.source_hash is not None:
            self.superseded.setdefault(key_hash, []).append(old)


class MappingRun:
    """Runs one mapping: reads, plans and writes its records, and records the outcome."""

    def __init__(self, ctx: RunContext, name: str):
        self.ctx, self.name = ctx, name
        self.spec = ctx.project.mappings[name]
        self.compiled = ctx.compiled[name]
        self.rep = MappingReport(name, self.spec.target.object)
        ctx.report.mappings[name] = self.rep
        # The external id and parent references need no purpose of their own; a generated
        # external id (our keyed hash) is not the source's data and is added after the policy.
        always = {f for f, spec in self.spec.fields.items() if spec.ref is not None}
        if self.spec.target.external_id in self.spec.fields:
            always.add(self.spec.target.external_id)
        self.policy = Policy(
            ctx.project.purposes,
            self.compiled.field_purposes,
            opt_out_fields=self.compiled.opt_out_fields,
            crm_owned=self.compiled.crm_owned,
            always_send=always,
        )
        self.planner = Planner(
            name, self.spec, ctx.compiled, ctx.store, ctx.hasher, planned=ctx.planned, now=ctx.now
        )
        self.fingerprint = SourceHasher(ctx.hasher, ctx.project_digest, name)
        self.buffer: dict[str, Write] = {}
        self.bulk = False

    # -- the run ------------------------------------------------------------------------------

    def execute(self) -> MappingReport:
        """Sync this mapping. Input errors stop it before any write; the rest is counted."""
        ctx = self.ctx
        try:
            source = open_source(self.spec.source, base_dir=ctx.base_dir)
            source.check()
        except InputError as exc:
            self.rep.error = str(exc)
            self.rep.input_error = True
            return self.rep
        if ctx.report.stopped:
            self._count_pending(source)
            return self.rep
        today = school_date(ctx.now)
        rejects: list[Reject] = []
        for batch in _batches(iter(source.read()), BATCH):
            records = [r for r in batch if r.__class__ is not Reject and not r.deleted]
            bad = 0
            if len(records) != len(batch):  # rare: ragged rows, empty keys, delta deletes
                for rec in batch:
                    if isinstance(rec, Reject):
                        self._reject(rejects, rec)
                        bad += 1
                    elif rec.deleted:
                        self.rep.source_deleted += 1
            self.rep.read += len(batch) - bad
            self._plan(self._map(records, today, rejects), rejects)
            log.debug(
                "%s: %d read, %d buffered for writing, %d unchanged, %d rejected so far",
                self.name, self.rep.read, len(self.buffer), self.rep.unchanged, self.rep.rejected,
            )  # fmt: skip
            if ctx.progress:
                ctx.progress(self.name, self.rep.read)
            if rejects and not ctx.dry_run:
                ctx.store.add_rejects(ctx.report.run_id, rejects)
            rejects = []
        self._flush()
        return self.rep

    def _map(self, records: list[SourceRecord], today: date, rejects: list[Reject]) -> Mapped:
        """Map and policy-check one batch (see :class:`Mapped`).

        A row whose source hash state remembers (and whose recheck day has not come) is not
        mapped at all: it is what Salesforce holds (``fingerprint.py``). The same record again
        (one event on many registration rows, a visitor who registered twice): the last row
        wins, as the newest in an export; the rows it supersedes are kept aside, so those that
        come to the same outcome can be remembered too.
        """
        sources = self.fingerprint.of_many(records)
        known = self.ctx.store.unchanged_rows(self.name, sources, today=today) if sources else {}
        out = Mapped()
        items = out.items
        for rec, source_hash in zip(records, sources, strict=True):
            hit = known.get(source_hash)
            if hit is not None:
                key_hash, token = hit
                out.tokens[key_hash] = token
                out.supersede(key_hash)
                items[key_hash] = source_hash
                continue
            res = self.compiled.apply(rec)
            if res is None:
                self.rep.filtered += 1
                continue
            if res.errors:
                for err in res.errors:
                    self._reject(rejects, err, count=False)
                self.rep.rejected += 1
                continue
            for warning in res.warnings:
                self.rep.warnings[warning] += 1
            decision = self.policy.decide(res.values, res.facts, today)
            for reason in decision.withheld.values():
                self.rep.withheld[reason] += 1
            recheck = self.policy.recheck_on(res.facts, today)
            if res.recheck_on is not None and (recheck is None or res.recheck_on < recheck):
                recheck = res.recheck_on
            # A row whose mapping warned is mapped again next run, so the warning is reported
            # again until the source is fixed.
            remember = source_hash if self.ctx.remember_sources and not res.warnings else None
            out.supersede(res.key_hash)
            items[res.key_hash] = Item(rec, res, decision, remember, recheck)
        return out

    def _count_pending(self, source: Any) -> None:
        """The run stopped (daily API share) before this mapping: it all waits for the next run."""
        keys: set[str] = set()
        for rec in source.read():
            if isinstance(rec, Reject):
                continue  # reported when the mapping really runs
            self.rep.read += 1
            res = None if rec.deleted else self.compiled.apply(rec)
            if res is not None and not res.errors:
                keys.add(res.key_hash)
        self.rep.pending += len(keys)

    def _reject(self, rejects: list[Reject], rej: Reject, *, count: bool = True) -> None:
        """Keep a rejected row for state and report; ``count=False`` for a row's second error."""
        rej = Reject(rej.origin, rej.column, rej.reason, self.name)
        rejects.append(rej)
        self.rep.add_reject(rej, count=count)

    def _plan(self, mapped: Mapped, rejects: list[Reject]) -> None:
        items = mapped.items
        skipped = [k for k, v in items.items() if isinstance(v, str)]
        plan = self.planner.plan([v for v in items.values() if not isinstance(v, str)])
        self.rep.suppressed += plan.suppressed
        self.rep.joined += plan.joined
        self.rep.not_justified += plan.not_justified
        for origin, column, reason in plan.rejects:
            self._reject(rejects, Reject(origin, column, reason))
        for origin, candidates in plan.review:
            self.rep.review += 1
            if len(self.rep.review_list) < 50:
                self.rep.review_list.append(
                    {
                        "file": origin.file,
                        "line": origin.line,
                        "reason": f"e-mail matches {candidates} persons",
                    }
                )
        self.rep.unchanged += len(plan.unchanged) + len(skipped)
        self.rep.skipped += len(skipped)
        for key_hash in skipped:
            # A later row equal to what Salesforce holds supersedes an earlier row of the same
            # record still waiting in the buffer: the newest row wins, and it needs no write.
            self.buffer.pop(key_hash, None)
        for seen in plan.unchanged:
            self.buffer.pop(seen.key_hash, None)
        if not self.ctx.dry_run:
            store, now = self.ctx.store, self.ctx.now
            if skipped:
                store.touch_seen(self.name, skipped, at=now)
            store.remember_sources(
                self.name, [*plan.unchanged, *self._alike(mapped, plan.unchanged)], at=now
            )
        for w in plan.writes:
            # A later row of a record still waiting in the buffer replaces it: both were planned
            # against the same state, so the later one is the whole change.
            self.buffer[w.key_hash] = w
        if len(self.buffer) > self.ctx.bulk_threshold:
            self.bulk = True
        if self.bulk and len(self.buffer) >= BULK_CHUNK:
            self._flush()

    def _alike(self, mapped: Mapped, unchanged: list[SourceSeen]) -> list[SourceSeen]:
        """Superseded rows of records that ended unchanged and that map to the same outcome:
        they stand for the record as well as its last row does (the other registration rows of
        one event), so the next run recognises them too."""
        if not mapped.superseded:
            return []
        tokens = dict(mapped.tokens)
        tokens.update((seen.key_hash, seen.token) for seen in unchanged if seen.token)
        return [
            SourceSeen(key, it.source_hash, it.recheck_on, token)
            for key, rows in mapped.superseded.items()
            if (token := tokens.get(key)) is not None
            for it in rows
            if self.planner.outcome(it)[2] == token
        ]

    # -- writing ------------------------------------------------------------------------------

    def _flush(self) -> None:
        writes, self.buffer = list(self.buffer.values()), {}
        if not writes:
            return
        self.rep.strategy = "bulk2" if self.bulk else "collections"
        if self.ctx.dry_run:
            self._count_plan(writes)
            return
        if self.ctx.report.stopped:
            self.rep.pending += len(writes)
            return
        store, obj = self.ctx.store, self.spec.target.object
        log.debug("%s: writing %d %s records through %s", self.name, len(writes), obj,
                  self.rep.strategy)  # fmt: skip
        ids = store.add_outbox(
            self.ctx.report.run_id,
            [OutboxItem(self.name, w.key_hash, obj, w.operation) for w in writes],
        )
        store.mark_outbox(ids, OutboxStatus.SENT)
        results: list[WriteResult | None] = [None] * len(writes)
        index: list[int] = []
        try:
            for operation in ("upsert", "update"):
                index = [i for i, w in enumerate(writes) if w.operation == operation]
                if not index:
                    continue
                rows = [writes[i].row for i in index]
                if operation == "upsert":
                    got = self.ctx.writer.upsert(
                        obj, self.spec.target.external_id, rows, bulk=self.bulk
                    )
                else:
                    got = self.ctx.writer.update(obj, rows, bulk=self.bulk)
                for i, r in zip(index, got, strict=True):
                    results[i] = r
        except (LimitReached, SalesforceError) as exc:
            # Keep what landed: the writer's exception carries the results of the operation
            # that stopped, in its rows' order; what was never sent stays pending.
            if isinstance(exc, LimitReached):
                self.ctx.report.stopped = f"daily API share reached ({exc.code or 'limit'})"
            else:
                self.rep.error = str(exc)
            for i, r in zip(index, getattr(exc, "results", None) or [], strict=False):
                results[i] = r
        self._record(writes, results, ids)

    def _record(self, writes: list[Write], results: list, ids: list[int]) -> None:
        store, now, rep = self.ctx.store, self.ctx.now, self.rep
        ok_ids, errors, synced = [], [], []
        new_people: list[tuple[Write, str]] = []
        updates: list[PersonUpdate] = []
        for w, r, oid in zip(writes, results, ids, strict=True):
            if r is None or (not r.ok and r.error_code == "NOT_SENT"):
                rep.pending += 1
                continue
            if not r.ok:
                rep.failed += 1
                rep.failures[r.error_code or "UNKNOWN"] += 1
                errors.append(OutboxError(oid, r.error_code, r.message[:255]))
                continue
            ok_ids.append(oid)
            sf_id = r.sf_id or w.row.get("Id")
            if w.known and not r.created:
                rep.updated += 1
            else:
                rep.created += 1
            rep.fields_cleared += w.cleared
            if w.new_person is not None:
                new_people.append((w, sf_id))
            elif w.person_id is not None:
                student, email = w.link_person or (None, None)
                updates.append(PersonUpdate(w.person_id, student, email, sf_id))
            synced.append((w, sf_id))
        person_ids: dict[str, int] = {}
        if new_people:
            created = store.add_persons(
                [NewPerson(s, e, sf) for (w, sf) in new_people for s, e in [w.new_person]], at=now
            )
            person_ids = {w.key_hash: pid for (w, _), pid in zip(new_people, created, strict=True)}
        store.update_persons(updates, at=now)
        emails = [e for (w, _) in new_people for _, e in [w.new_person]]
        emails += [u.email_hash for u in updates if u.email_hash]
        if emails:
            # A new or moved address may now be shared: rows matched by it must be mapped again.
            store.forget_shared_sources(emails)
        store.record_synced(
            [
                SyncedUpdate(
                    self.name,
                    w.key_hash,
                    self.spec.target.object,
                    sf_id,
                    w.hashes,
                    person_id=w.person_id or person_ids.get(w.key_hash),
                    lifecycle=w.lifecycle,
                    lifecycle_end_at=w.lifecycle_end_at,
                    event_date=w.event_date,
                    consent_withdrawn_at=w.consent_withdrawn_at,
                    source_hash=w.source_hash,
                    recheck_on=w.recheck_on,
                )
                for w, sf_id in synced
            ],
            at=now,
        )
        store.mark_outbox(ok_ids, OutboxStatus.OK)
        store.fail_outbox(errors, at=now)

    def _count_plan(self, writes: list[Write]) -> None:
        from connector.hashing import mask

        remember = self.ctx.planned.get(self.name)
        for w in writes:
            if remember is not None and not w.known:
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
                        "fields": {
                            k: (mask(str(v)) if v is not None else None)
                            for k, v in sorted(w.row.items())
                            if k != "Id"
                        },
                    }
                )
