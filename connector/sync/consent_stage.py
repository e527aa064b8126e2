"""The consent stage of a person mapping: writes consent records where the org models them.

:class:`ConsentStage` collects :class:`~connector.sync.consent_records.ConsentEntry` values from
every batch's accepted records, and writes them once the person records they belong to are in
Salesforce: Individuals (upsert by ``SIS_Individual_Key__c``), the person record's link to it
(``Contact.IndividualId``, or a person account's ``Account.PersonIndividualId``: see
:class:`~connector.salesforce.consent_objects.PersonLink`), DataUsePurposes (found by Name, the
missing ones created) and ContactPointTypeConsents (upsert by ``SIS_Consent_Key__c``). Its counts
appear in the run report as the mappings ``consent:individual`` and ``consent:<purpose>``.

"Contact" below stands for the mapping's person record: a Contact, or a person Account (the
records are keyed by the Id state holds for it, the Account Id; the Account carries the link,
because Salesforce does not let the person contact be updated directly).

It is the recorder of these records: what Salesforce accepted is remembered in state under
those names (keyed hashes and ids only). A consent that did not land has its source rows
forgotten, so the next run maps the row again and retries. That holds for a crash too: the
source row of a record with consent entries is remembered only once its consents are written
(:meth:`ConsentStage.defer`), so a run killed between the Contacts and their consents leaves
those rows to be mapped again — the Contacts unchanged, the consents written. An org without
the consent objects is asked once per run (describe), and only when a consent needs writing;
then nothing is written here and the mapping's flags are all there is.

A chunk is written in a worker thread while the engine maps on (:class:`~connector.sync.background.
Background`, one chunk at a time): its three writes are Bulk jobs that mostly wait on Salesforce,
and a first load of 100,000 persons stood still for ~70 s of its 113 s on them. At the end of the
mapping the chunks left are pipelined: the next chunk's first half (plan, Individuals) on the
run's thread while the worker writes this one's consents and links (``consent_writes.py``).
What must happen on the run's own thread does: the refused consents are filed as rejects, and the
progress is told, when the engine next flushes (or at the end).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Container, Iterable, Sequence
from datetime import date, datetime
from functools import partial

from connector.hashing import KeyHasher
from connector.privacy.policy import Policy
from connector.privacy.purposes import PurposesSpec
from connector.records import WriteResult
from connector.report import MappingReport, RunReport
from connector.salesforce.consent_objects import (
    CONTACT_LINK,
    ConsentOrg,
    PersonLink,
)
from connector.state import StateStore
from connector.state.rows import SourceSeen
from connector.sync.background import Background
from connector.sync.consent_queue import DeferredRows, EntryQueue
from connector.sync.consent_records import (
    ConsentEntry,
    entries_for,
    learnt_in,
)
from connector.sync.consent_writes import Chunk, ChunkWrites
from connector.sync.plan import Item, Write

log = logging.getLogger(__name__)

# Entries written together (Individuals, Contact links and consents of one chunk). Large enough
# that a first load's consent records go through Bulk API 2.0 (a chunk of more than the bulk
# threshold rows per object: ~3 jobs instead of ~30 collections calls per 2,000 persons; a 10k
# load measured 168 collections calls with chunks of 2,000), small enough to bound the memory of
# a chunk's plan: ~1.8 kB an entry (its consent row, its field-hash JSON, state's rows of it,
# the statements that read them), 45 MB of a 100k load's peak with 25,000 (memray). A nightly
# run stays under it and writes at the end of the mapping, through collections.
CHUNK = 10_000


class ConsentStage(ChunkWrites):
    """Consent records of one person mapping's run (see the module docstring).

    Args:
        mapping: The mapping's name.
        policy: Its policy (the purpose statuses decide OptIn / OptOut / nothing).
        purposes: The purposes register.
        store: The state store.
        org: The run's view of the org's consent model (None in a plan: consent_dry_run.py).
        hasher: The keyed hasher.
        now: The run's clock.
        report: The run report (consent counts are filed under their own names).
        mapping_report: The mapping's report (warnings about the org).
        bulk_threshold: More rows than this in one write go through Bulk API 2.0.
        progress: Told ``(done, total)`` writes of this stage (Individuals, Contact links,
            consent records) after its Salesforce writes, never per row, on the run's thread.
        link: Where the mapping's person record points at its Individual (Contact's
            ``IndividualId``, or a person account's ``PersonIndividualId``).
    """

    def __init__(
        self,
        mapping: str,
        policy: Policy,
        purposes: PurposesSpec,
        store: StateStore,
        org: ConsentOrg | None,
        hasher: KeyHasher,
        now: datetime,
        report: RunReport,
        mapping_report: MappingReport,
        bulk_threshold: int = 2_000,
        *,
        progress: Callable[[int, int], None] | None = None,
        link: PersonLink = CONTACT_LINK,
    ):
        self.mapping, self.policy, self.purposes = mapping, policy, purposes
        self.store, self.org, self.hasher, self.now = store, org, hasher, now
        self.report, self.mapping_report = report, mapping_report
        self.bulk_threshold = bulk_threshold
        self.progress = progress
        self.link = link
        self.writes_sent = self.writes_done = 0  # this stage's writes, for the progress
        self.consent_purposes = frozenset(
            n for n, p in purposes.purposes.items() if p.consent is not None
        )
        self.pending = EntryQueue()  # on disk: consent_queue.py
        self.no_model = False  # the org was asked and has no consent model (ask_org)
        self.fallback_source = learnt_in(mapping)
        # Source rows held back until their records' consents are written (see defer).
        self.deferred = DeferredRows()
        # Told the consent records Salesforce refused (contact key, report name, result): the
        # engine files them as rejects at their person's row (file, line, fields, code).
        self.refused: Callable[[Sequence[tuple[str, str, WriteResult]]], None] | None = None
        self._refusals: list[tuple[str, str, WriteResult]] = []  # for refused, on our thread
        self._warnings: list[str] = []
        self._lock = threading.Lock()  # the counts and refusals the worker adds to
        self._report_lock = threading.Lock()  # report entries made on first use
        self._thread = threading.get_ident()  # the run's: progress and refused are told there
        self._told = (0, 0)
        self.chunks = Background("sf-consents")
        self._out: Chunk | None = None  # the chunk whose second half runs in the worker
        self._writing: frozenset[str] = frozenset()  # contact keys of the chunk in the worker

    def ask_org(self) -> None:
        """Ask the org for its consent model now (a large run: the describes its first chunk
        would make anyway). Without one, no more entries are collected: the mapping's flags are
        all there is, and its rows are remembered as they are written."""
        if self.org is None:
            return
        detection = self.org.detection(self.link)
        if detection.model is None:
            self.no_model = True
            if detection.warning and not self.pending:
                self.mapping_report.warnings[detection.warning] += 1

    def add(self, items: Sequence[Item], accepted: Container[str], today: date) -> set[str]:
        """Collect the consent entries of the records of a batch the plan accepted; the key
        hashes of the records that have some."""
        held: set[str] = set()
        if self.no_model:
            return held
        batch: list[ConsentEntry] = []
        for it in items:
            facts = it.res.facts
            if it.res.key_hash not in accepted or not (facts.consents or facts.objected):
                continue
            statuses = self.policy.statuses_of(it.decision, facts, today)
            entries = entries_for(
                it.res.key_hash,
                facts,
                {p: s for p, s in statuses.items() if p in self.consent_purposes},
                self.purposes,
                now=self.now,
                fallback_source=self.fallback_source,
            )
            if entries:
                batch += entries
                held.add(it.res.key_hash)
        self.pending.add(batch)
        return held

    def supersede(self, contact_keys: Iterable[str]) -> None:
        """A later row of each of these records was planned (or recognised unchanged): the
        entries still queued from an earlier batch's row of it, and the source row held back
        for them, are dropped — as the engine's buffer drops that row's write. A record's
        consents are those of its last row, whatever batch its earlier rows fell in: kept, an
        earlier row's entries were written one run late (the first run found the row not
        justified for a record not yet in Salesforce, the next planned it against the record)
        and after every state rebuild again."""
        keys = list(contact_keys)
        if not keys or self.no_model:
            return
        if not self._writing.isdisjoint(keys):
            # The worker is writing an earlier row's consents of one of them: it would
            # remember the row held back for the later one (put below, by defer) before that
            # row's consents are written, and a crash then would leave them unwritten for good.
            self._settle()
        self.pending.drop(keys)
        self.deferred.pop(keys)

    def defer(
        self, writes: Sequence[Write], unchanged: Sequence[SourceSeen], held: Container[str]
    ) -> list[SourceSeen]:
        """Hold back the source rows of the ``held`` records until their consents are written.

        A write then records its Contact without its source row, and an unchanged record
        moves only its last_seen (the returned list replaces ``unchanged``): were the run killed
        before the consents land, the next run maps these rows again instead of skipping them.
        :meth:`_confirm` remembers the rows once the consents are in Salesforce (or need no
        write).
        """
        rows: list[SourceSeen] = []
        for w in writes:
            if w.key_hash in held and w.source_hash is not None:
                rows.append(SourceSeen(w.key_hash, w.source_hash, w.recheck_on, w.token))
                w.source_hash = None
        out: list[SourceSeen] = []
        for seen in unchanged:
            if seen.key_hash in held and seen.token is not None:
                rows.append(seen)
                out.append(SourceSeen(seen.key_hash, None, None, None))
            else:
                out.append(seen)
        self.deferred.put(rows)
        return out

    def not_landed(self, contact_keys: Sequence[str]) -> None:
        """These records' writes did not land (refused, not sent): their rows stay
        unremembered, so the next run maps them again and retries the write."""
        self.deferred.pop(contact_keys)

    def flush(self, blocked: Container[str]) -> None:
        """Write the pending entries whose Contact is in Salesforce, once there are enough.

        Entries arrive in batch order and Contacts are written in that order, so the ready
        ones are the front of the queue: it is read up to the first entry still waiting for
        its Contact, or a chunk's worth (not all of it on every batch, which cost a 200k load
        seconds). A chunk is written at a time; the next batch writes the next.
        """
        if self.chunks.busy:
            self._tell()
            return  # one chunk at a time: the next batch looks again
        self._settle()
        if len(self.pending) < CHUNK:
            return
        if self.pending.ready(blocked, CHUNK) < CHUNK:
            return
        # One whole chunk: a remainder of a few hundred entries would go through collections
        # (below the bulk threshold), ~10 calls per object instead of one Bulk job.
        for chunk in self.pending.take(CHUNK, CHUNK):
            self.chunks.start(partial(self._write, chunk))
            self._writing = frozenset(e.contact_key for e in chunk)

    def finish(self, *, stopped: bool = False) -> None:
        """Write every pending entry (the mapping's own writes are all recorded by now); when
        the run has ``stopped`` (API share, Salesforce unreachable), leave them to the next."""
        try:
            self._settle()  # the chunk in the worker first: the rest follows it here
            if stopped:
                if len(self.pending):
                    self._retry_later(self.pending.contact_keys())
                self.pending.clear()
                self.deferred.clear()  # those rows stay unremembered: the next run maps them
                return
            # Pipelined: this chunk's first half (plan, Individuals) here while the worker
            # writes the previous chunk's consents and links.
            for entries in self.pending.take(len(self.pending), CHUNK):
                if self.report.stopped:  # a chunk ran out of API share: the rest waits
                    self._retry_later({e.contact_key for e in entries})
                    continue
                chunk = self._begin(entries)
                self._settle()
                self._out = chunk
                self.chunks.start(partial(self._complete, chunk))
            self._settle()
        finally:
            self.chunks.close()
            self.pending.close()
            self.deferred.close()

    def close(self) -> None:
        """The run failed: wait for a chunk in the worker (what it wrote is recorded, what
        Salesforce refused is filed), leave the rest to the next run (their source rows are
        not remembered)."""
        self.chunks.close()
        try:
            self._deliver()
        except Exception as exc:  # noqa: BLE001 - the run's own error is on its way up
            log.warning("%s: consent refusals not filed (%s)", self.mapping, type(exc).__name__)

    def _settle(self) -> None:
        """Take the outcome of the chunk written in the worker (its error is raised here)."""
        try:
            self.chunks.settle()
        finally:
            self._out = None
            self._writing = frozenset()
            self._deliver()

    def _before_planning(self, contacts: set[str]) -> None:
        # Two records of one Contact (a registrant who joined a student) share its Individual
        # and consent records: a chunk is planned against state only once the chunk before it
        # has recorded theirs — planned earlier, an older proof could overwrite a newer one.
        if self._out is not None and not self._out.contacts.isdisjoint(contacts):
            self._settle()

    def _deliver(self) -> None:
        """On the run's thread: file the consents Salesforce refused, tell the progress."""
        with self._lock:
            refusals, self._refusals = self._refusals, []
            warnings, self._warnings = self._warnings, []
        for warning in warnings:
            self.mapping_report.warnings[warning] += 1
        if refusals and self.refused is not None:
            self.refused(refusals)
        self._tell()
