"""How the consent stage writes one chunk of entries, in two halves.

The first half plans the chunk against state, upserts its Individuals and submits their person
records' links; the second writes the consent records (beside the links' Bulk job: a consent
needs its Individual's Id, not the link), records the Individuals whose link landed, and
remembers the source rows of the records whose consents are all in. While the engine maps, a
chunk runs whole in the stage's worker; at the end of the mapping the halves are pipelined —
the next chunk's first half on the run's thread while this chunk's second half runs in the
worker — so two Individual jobs, or two consent jobs, never run at once (an Individual shared
by two records is upserted by one job at a time).

:class:`ChunkWrites` is a mixin of :class:`~connector.sync.consent_stage.ConsentStage` (as the
planner's rule sets are of the planner); it reads the stage's attributes, typed below.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from connector.errors import LimitReached, SalesforceError
from connector.hashing import KeyHasher
from connector.privacy.purposes import PurposesSpec
from connector.records import WriteResult, WriteStatus
from connector.report import MappingReport, RunReport
from connector.salesforce.consent_objects import (
    CONSENT,
    CONSENT_KEY,
    INDIVIDUAL,
    INDIVIDUAL_KEY,
    ConsentOrg,
    PersonLink,
)
from connector.state import StateStore
from connector.state.rows import RECORD, KnownRow, SourceSeen, SyncedUpdate
from connector.sync.consent_queue import DeferredRows, pieces
from connector.sync.consent_records import (
    INDIVIDUALS,
    ConsentEntry,
    ConsentPlan,
    IndividualWrite,
    consent_key,
    individual_key,
    plan_consents,
    state_name,
)

log = logging.getLogger("connector.sync.consent_stage")

SLICE = 2_000  # synced rows recorded per state transaction (as the recorder does)


@dataclass
class Chunk:
    """A chunk of entries between its two halves."""

    entries: list[ConsentEntry]
    plan: ConsentPlan
    contact_ids: dict[str, str]  # contact key → its Contact's Id (Contacts in Salesforce)
    ids: dict[str, str]  # Individual key → Id (known, then upserted)
    linked: list[tuple[IndividualWrite, WriteResult, str]] = field(default_factory=list)
    links: Future[list[WriteResult]] | None = None  # the links' write, submitted
    failed_contacts: set[str] = field(default_factory=set)
    retry: set[str] | None = None  # contact keys retried next run; None: still to send

    @property
    def landed(self) -> set[str]:
        """Contact keys whose Contact is in Salesforce (the others wait for the next run)."""
        return set(self.contact_ids)

    @property
    def contacts(self) -> set[str]:
        """The Ids of those Contacts."""
        return set(self.contact_ids.values())


class ChunkWrites:
    """Writing one chunk (see the module docstring); mixed into the consent stage."""

    mapping: str
    purposes: PurposesSpec
    store: StateStore
    org: ConsentOrg | None
    hasher: KeyHasher
    now: datetime
    report: RunReport
    mapping_report: MappingReport
    bulk_threshold: int
    link: PersonLink
    deferred: DeferredRows
    _lock: threading.Lock  # counts, refusals
    _report_lock: threading.Lock
    _refusals: list[tuple[str, str, WriteResult]]
    _warnings: list[str]  # for the mapping's report, on the run's thread
    progress: Callable[[int, int], None] | None
    writes_sent: int
    writes_done: int
    _thread: int  # the run's thread: the only one that tells the progress
    _told: tuple[int, int]  # the counts it was told last

    def _write(self, entries: list[ConsentEntry]) -> None:
        """Write a chunk whole (in the worker while the engine maps)."""
        self._complete(self._begin(entries))

    def _begin(self, entries: list[ConsentEntry]) -> Chunk:
        """The first half of a chunk: plan it, upsert its Individuals, submit their links."""
        plan, contact_ids = self._plan_chunk(entries)
        keys = {e.contact_key for e in entries}
        # Its Contact did not reach Salesforce: the write failed and is retried next run
        # from its row, which therefore must not be remembered.
        self.deferred.pop(keys - set(contact_ids))
        chunk = Chunk(entries, plan, contact_ids, dict(plan.individual_ids))
        if not (plan.individuals or plan.consents):
            chunk.retry = set()
            return chunk
        self._send(chunk)
        return chunk

    def _send(self, chunk: Chunk) -> None:
        """Start sending a chunk's plan: its Individuals, their links submitted. Sets
        ``chunk.retry`` when nothing more is to be sent (no consent model, or stopped)."""
        plan = chunk.plan
        assert self.org is not None  # a plan counts instead (consent_dry_run.py)
        detection = self.org.detection(self.link)
        if detection.model is None:
            if detection.warning:
                with self._lock:  # counted on the run's thread (_deliver)
                    self._warnings.append(detection.warning)
            chunk.retry = set()  # nothing can be written here: the rows may be skipped
            return
        if not detection.model.given_by:
            for w in plan.consents:
                w.row.pop("Consent_Given_By__c", None)
        # Individuals, their Contact links, consent records: what this chunk will write.
        self._tell(sent=2 * len(plan.individuals) + len(plan.consents))
        if plan.individuals:
            self._guarded(chunk, partial(self._individuals, chunk))

    def _complete(self, chunk: Chunk) -> None:
        """The second half: the consent records (beside the links' job), the Individuals whose
        link landed, and the source rows of the records whose consents are all in."""
        if chunk.retry is None:
            self._guarded(chunk, partial(self._consents_and_links, chunk))
        retry = chunk.retry or set()
        if chunk.failed_contacts:
            # An Individual or a link Salesforce refused: the records of that Contact are
            # mapped again next run (a remembered row is skipped, and its Contact would stay
            # without its Individual for good).
            log.debug("%s: %d Individuals not written", self.mapping, len(chunk.failed_contacts))
            unlinked = {
                k for k, cid in chunk.contact_ids.items() if cid in chunk.failed_contacts
            } - retry
            if unlinked:
                self._retry_later(unlinked)
                retry = retry | unlinked
        self.deferred.pop(retry)
        self._confirm(chunk.landed - retry)

    def _guarded(self, chunk: Chunk, step: Callable[[], None]) -> None:
        """Run a step of ``chunk``; when Salesforce stops it, the chunk's records are retried
        next run (``chunk.retry``), and a reached API share stops the run."""
        try:
            step()
        except (LimitReached, SalesforceError) as exc:
            # No links' job runs on past here: it is submitted as the first half's last step,
            # and the second half waits for it whatever happens (_consents_and_links).
            with self._lock:
                if isinstance(exc, LimitReached):
                    self.report.stopped = self.report.stopped or f"daily API share reached ({exc})"
                self._report(INDIVIDUALS, INDIVIDUAL).error = str(exc)
            failed = {e.contact_key for e in chunk.entries}  # every consent's among them
            self._retry_later(failed)
            chunk.retry = failed

    def _confirm(self, contact_keys: set[str]) -> None:
        """These records' consents are in Salesforce (or need no write): remember the source
        rows held back for them, so the next run may skip the rows."""
        rows = self.deferred.pop(contact_keys)
        # Their last_seen moved when they were written or found unchanged (defer). In slices:
        # a chunk's rows in one statement cost SQLite ~20 MB to compile (memray, 100k load).
        for part in pieces(rows):
            self.store.keep_sources(self.mapping, list(part))

    def _contact_ids(self, contact_keys: list[str]) -> dict[str, str]:
        """Contact key hash → Contact Id, from state (the Contacts are written by now)."""
        out: dict[str, str] = {}
        for part in pieces(contact_keys):
            out.update(self.store.sf_ids(self.mapping, part))
        return out

    def _known(self, name: str, keys: list[str]) -> dict[str, KnownRow]:
        """What state remembers of these records of ``name`` (in :func:`pieces`)."""
        out: dict[str, KnownRow] = {}
        for part in pieces(keys):
            out.update(self.store.known(name, part))
        return out

    def _plan_chunk(self, entries: list[ConsentEntry]) -> tuple[ConsentPlan, dict[str, str]]:
        """What a chunk of entries needs written, against what state remembers; and the Ids
        of the Contacts in Salesforce by contact key (the others wait)."""
        hasher = self.hasher
        contact_ids = self._contact_ids(sorted({e.contact_key for e in entries}))
        contacts = set(contact_ids.values())
        self._before_planning(contacts)
        ind_keys = sorted({individual_key(hasher, c) for c in contact_ids.values()})
        known_individuals = self._known(INDIVIDUALS, ind_keys)
        by_purpose: dict[str, list[str]] = {}
        for e in entries:
            cid = contact_ids.get(e.contact_key)
            if cid is not None:
                by_purpose.setdefault(e.purpose, []).append(consent_key(hasher, cid, e.purpose))
        known_consents = {
            (p, k): row
            for p, keys in by_purpose.items()
            for k, row in self._known(state_name(p), sorted(set(keys))).items()
        }
        plan = plan_consents(
            entries, contact_ids, known_individuals, known_consents, self.purposes, hasher
        )
        return plan, contact_ids

    def _before_planning(self, contacts: set[str]) -> None:
        """Called with a chunk's Contact Ids before it is planned against state (the stage
        waits here for a chunk still writing records of one of them)."""

    def _individuals(self, chunk: Chunk) -> None:
        """Upsert the chunk's Individuals (their Ids join ``chunk.ids``) and submit their
        person records' links (``chunk.links``), which run while the consents are written."""
        rep = self._report(INDIVIDUALS, INDIVIDUAL)
        results = self._upsert(INDIVIDUAL, INDIVIDUAL_KEY, [
            {INDIVIDUAL_KEY: w.key, **w.row} for w in chunk.plan.individuals
        ])  # fmt: skip
        links = []
        for w, r in zip(chunk.plan.individuals, results, strict=True):
            sf_id = r.sf_id or w.known_id
            if not r.ok or sf_id is None:
                self._count(rep, r)
                chunk.failed_contacts.add(w.contact_id)
                continue
            chunk.ids[w.key] = sf_id
            links.append({"Id": w.contact_id, self.link.field: sf_id})
            chunk.linked.append((w, r, sf_id))
        self._tell(done=len(results))
        if links:
            # A person account's link is written on the Account (PersonIndividualId): its
            # person contact refuses updates (PersonLink, consent_objects.py). A Bulk job runs
            # in the writer's worker; collections run here and now.
            assert self.org is not None
            chunk.links = self.org.writer.submit(
                "update",
                self.link.object,
                links,
                external_id_field=None,
                bulk=len(links) > self.bulk_threshold,
            )

    def _consents_and_links(self, chunk: Chunk) -> None:
        try:
            # Beside the links' job: a consent needs its Individual's Id, not the link.
            chunk.retry = self._consents(chunk.plan, chunk.ids)
        finally:
            link_results = chunk.links.result() if chunk.links is not None else []
        if chunk.plan.individuals:
            self._linked(chunk.linked, link_results, chunk.failed_contacts)
            # A link not sent (its Individual failed) is done too: the stage moves past it.
            self._tell(done=len(chunk.plan.individuals))

    def _linked(
        self,
        linked: list[tuple[IndividualWrite, WriteResult, str]],
        link_results: Sequence[WriteResult],
        failed_contacts: set[str],
    ) -> None:
        """Record the Individuals whose link landed (one whose link did not is written again
        next run, with its link)."""
        rep = self._report(INDIVIDUALS, INDIVIDUAL)
        synced: list[SyncedUpdate] = []
        for (w, r, sf_id), lr in zip(linked, link_results, strict=True):
            if not lr.ok:
                self._count(rep, lr)
                failed_contacts.add(w.contact_id)
                continue
            self._count(rep, r)
            synced.append(
                SyncedUpdate(
                    INDIVIDUALS, w.key, INDIVIDUAL, sf_id, {RECORD: ""}, field_hashes_json=w.hashes
                )
            )
            self._record_some(synced)
        self._record_some(synced, last=True)

    def _consents(self, plan: ConsentPlan, ids: Mapping[str, str]) -> set[str]:
        """Upsert the chunk's consent records whose Individual has an Id; the contact keys
        whose consents did not land (retried next run)."""
        writes = [c for c in plan.consents if c.individual in ids]
        retry = {c.contact_key for c in plan.consents if c.individual not in ids}
        skipped = len(plan.consents) - len(writes)  # no Individual: left to the next run
        if writes:
            descriptions = {
                c.purpose: self.purposes.purposes[c.purpose].description or c.purpose
                for c in writes
            }
            assert self.org is not None
            purpose_ids = self.org.purpose_ids(descriptions)
            rows = [
                {
                    CONSENT_KEY: c.key,
                    **c.row,
                    "PartyId": ids[c.individual],
                    "DataUsePurposeId": purpose_ids[c.purpose],
                }
                for c in writes
            ]
            results = self._upsert(CONSENT, CONSENT_KEY, rows)
            synced: list[SyncedUpdate] = []
            refused: list[tuple[str, str, WriteResult]] = []
            for c, r in zip(writes, results, strict=True):
                self._count(self._report(state_name(c.purpose), CONSENT), r)
                if r.ok:
                    synced.append(
                        SyncedUpdate(
                            state_name(c.purpose),
                            c.key,
                            CONSENT,
                            r.sf_id,
                            {RECORD: ""},
                            field_hashes_json=c.hashes,
                        )
                    )
                    self._record_some(synced)
                else:
                    retry.add(c.contact_key)
                    if r.status is WriteStatus.FAILED:
                        refused.append((c.contact_key, state_name(c.purpose), r))
            self._record_some(synced, last=True)
            with self._lock:
                self._refusals += refused
        self._tell(done=len(writes) + skipped)
        if retry:
            self._retry_later(retry)
        return retry

    # -- helpers --------------------------------------------------------------------------------

    def _tell(self, *, sent: int = 0, done: int = 0) -> None:
        """Count this stage's writes, and tell the progress when on the run's thread (a
        progress bar is drawn by one thread; the worker's counts show at the next flush)."""
        with self._lock:
            self.writes_sent += sent
            self.writes_done += done
            counts = (self.writes_done, self.writes_sent)
        if self.progress is None or threading.get_ident() != self._thread:
            return
        if counts != self._told:  # the engine asks at every batch: tell news only
            self._told = counts
            self.progress(*counts)

    def _record_some(self, synced: list[SyncedUpdate], *, last: bool = False) -> None:
        """Record ``synced`` in state once it holds :data:`SLICE` rows (all of it: ``last``),
        then empty it: the statement parameters of a whole chunk at once were ~20 MB of a
        first load's peak."""
        if synced and (last or len(synced) >= SLICE):
            for part in pieces(synced):
                self.store.record_synced(list(part), at=self.now)
            synced.clear()

    def _upsert(
        self, obj: str, key: str, rows: Sequence[Mapping[str, object]]
    ) -> list[WriteResult]:
        assert self.org is not None
        return self.org.writer.upsert(obj, key, rows, bulk=len(rows) > self.bulk_threshold)

    def _report(self, name: str, obj: str) -> MappingReport:
        """The run report's entry for ``name`` (made on first use)."""
        with self._report_lock:
            rep = self.report.mappings.get(name)
            if rep is None:
                rep = self.report.mappings[name] = MappingReport(name, obj)
            return rep

    def _count(self, rep: MappingReport, r: WriteResult) -> None:
        """Count one result (under the lock: the two halves of chunks count at once)."""
        status = r.status
        with self._lock:
            if status is WriteStatus.CREATED:
                rep.created += 1
            elif status is WriteStatus.UPDATED:
                rep.updated += 1
            elif status is WriteStatus.NOT_SENT:
                rep.pending += 1
            else:
                rep.failed += 1
                rep.failures[r.error_code or "UNKNOWN"] += 1

    def _retry_later(self, contact_keys: set[str]) -> None:
        """Forget the source rows of these records: the next run maps them again and retries
        their consents (a remembered row would be skipped)."""
        self.store.remember_sources(
            self.mapping, [SourceSeen(k, None, None, None) for k in sorted(contact_keys)],
            at=self.now,
        )  # fmt: skip
