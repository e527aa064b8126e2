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
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Container, Mapping, Sequence
from datetime import date, datetime

from connector.errors import LimitReached, SalesforceError
from connector.hashing import KeyHasher
from connector.privacy.policy import Policy
from connector.privacy.purposes import PurposesSpec
from connector.records import WriteResult, WriteStatus
from connector.report import MappingReport, RunReport
from connector.salesforce.consent_objects import (
    CONSENT,
    CONSENT_KEY,
    CONTACT_LINK,
    INDIVIDUAL,
    INDIVIDUAL_KEY,
    ConsentOrg,
    PersonLink,
)
from connector.state import StateStore
from connector.state.rows import RECORD, KnownRow, SourceSeen, SyncedUpdate
from connector.sync.consent_queue import DeferredRows, EntryQueue, pieces
from connector.sync.consent_records import (
    INDIVIDUALS,
    ConsentEntry,
    ConsentPlan,
    consent_key,
    entries_for,
    individual_key,
    plan_consents,
    state_name,
)
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
SLICE = 2_000  # synced rows recorded per state transaction (as the recorder does)


class ConsentStage:
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
            consent records) after each of its Salesforce writes, never per row.
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
        self.fallback_source = f"sis-sync {mapping}"
        # Source rows held back until their records' consents are written (see defer).
        self.deferred = DeferredRows()
        # Told the consent records Salesforce refused (contact key, report name, result): the
        # engine files them as rejects at their person's row (file, line, fields, code).
        self.refused: Callable[[Sequence[tuple[str, str, WriteResult]]], None] | None = None

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
        if len(self.pending) < CHUNK:
            return
        if self.pending.ready(blocked, CHUNK) < CHUNK:
            return
        # One whole chunk: a remainder of a few hundred entries would go through collections
        # (below the bulk threshold), ~10 calls per object instead of one Bulk job.
        for chunk in self.pending.take(CHUNK, CHUNK):
            self._write(chunk)

    def finish(self, *, stopped: bool = False) -> None:
        """Write every pending entry (the mapping's own writes are all recorded by now); when
        the run has ``stopped`` (API share, Salesforce unreachable), leave them to the next."""
        try:
            if stopped:
                if len(self.pending):
                    self._retry_later(self.pending.contact_keys())
                self.pending.clear()
                self.deferred.clear()  # those rows stay unremembered: the next run maps them
                return
            for chunk in self.pending.take(len(self.pending), CHUNK):
                self._write(chunk)
        finally:
            self.pending.close()
            self.deferred.close()

    # -- one chunk ------------------------------------------------------------------------------

    def _write(self, entries: list[ConsentEntry]) -> None:
        plan, landed = self._plan_chunk(entries)
        keys = {e.contact_key for e in entries}
        # Its Contact did not reach Salesforce: the write failed and is retried next run
        # from its row, which therefore must not be remembered.
        self.deferred.pop(keys - landed)
        retry: set[str] = set()
        if plan.individuals or plan.consents:
            retry = self._send_plan(plan, entries)
        self.deferred.pop(retry)
        self._confirm(landed - retry)

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

    def _plan_chunk(self, entries: list[ConsentEntry]) -> tuple[ConsentPlan, set[str]]:
        """What a chunk of entries needs written, against what state remembers; and the
        contact keys whose Contact is in Salesforce (the others wait)."""
        hasher = self.hasher
        contact_ids = self._contact_ids(sorted({e.contact_key for e in entries}))
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
        return plan, set(contact_ids)

    def _send_plan(self, plan: ConsentPlan, entries: list[ConsentEntry]) -> set[str]:
        """Send a chunk's plan; the contact keys whose consents did not land (retried next
        run)."""
        assert self.org is not None  # a plan counts instead (consent_dry_run.py)
        detection = self.org.detection(self.link)
        if detection.model is None:
            if detection.warning:
                self.mapping_report.warnings[detection.warning] += 1
            return set()  # nothing can be written here: the rows may be skipped next time
        if not detection.model.given_by:
            for w in plan.consents:
                w.row.pop("Consent_Given_By__c", None)
        try:
            return self._send(plan)
        except (LimitReached, SalesforceError) as exc:
            if isinstance(exc, LimitReached):
                self.report.stopped = self.report.stopped or f"daily API share reached ({exc})"
            self._report(INDIVIDUALS, INDIVIDUAL).error = str(exc)
            failed = {w.contact_key for w in plan.consents} | {e.contact_key for e in entries}
            self._retry_later(failed)
            return failed

    def _send(self, plan: ConsentPlan) -> set[str]:
        ids = dict(plan.individual_ids)
        failed_contacts: set[str] = set()
        # Individuals, their Contact links, consent records: what this chunk will write.
        self._tell(sent=2 * len(plan.individuals) + len(plan.consents))
        if plan.individuals:
            rep = self._report(INDIVIDUALS, INDIVIDUAL)
            results = self._upsert(INDIVIDUAL, INDIVIDUAL_KEY, [
                {INDIVIDUAL_KEY: w.key, **w.row} for w in plan.individuals
            ])  # fmt: skip
            links, linked = [], []
            for w, r in zip(plan.individuals, results, strict=True):
                sf_id = r.sf_id or w.known_id
                if not r.ok or sf_id is None:
                    self._count(rep, r)
                    failed_contacts.add(w.contact_id)
                    continue
                ids[w.key] = sf_id
                links.append({"Id": w.contact_id, self.link.field: sf_id})
                linked.append((w, r, sf_id))
            self._tell(done=len(results))
            # A person account's link is written on the Account (PersonIndividualId): its person
            # contact refuses updates (PersonLink, consent_objects.py).
            link_results = self._update(self.link.object, links) if links else []
            # A link not sent (its Individual failed) is done too: the stage moves past it.
            self._tell(done=len(plan.individuals))
            synced = []
            for (w, r, sf_id), lr in zip(linked, link_results, strict=True):
                if not lr.ok:
                    self._count(rep, lr)
                    failed_contacts.add(w.contact_id)
                    continue
                self._count(rep, r)
                synced.append(
                    SyncedUpdate(
                        INDIVIDUALS,
                        w.key,
                        INDIVIDUAL,
                        sf_id,
                        {RECORD: ""},
                        field_hashes_json=w.hashes,
                    )
                )
                self._record_some(synced)
            self._record_some(synced, last=True)
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
            synced = []
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
            if refused and self.refused is not None:
                self.refused(refused)
        self._tell(done=len(writes) + skipped)
        if retry:
            self._retry_later(retry)
        if failed_contacts:
            log.debug("%s: %d Individuals not written", self.mapping, len(failed_contacts))
        return retry

    # -- helpers --------------------------------------------------------------------------------

    def _record_some(self, synced: list[SyncedUpdate], *, last: bool = False) -> None:
        """Record ``synced`` in state once it holds :data:`SLICE` rows (all of it: ``last``),
        then empty it: the statement parameters of a whole chunk at once were ~20 MB of a
        first load's peak."""
        if synced and (last or len(synced) >= SLICE):
            for part in pieces(synced):
                self.store.record_synced(list(part), at=self.now)
            synced.clear()

    def _tell(self, *, sent: int = 0, done: int = 0) -> None:
        """Count this stage's writes and tell the progress (once per Salesforce write)."""
        self.writes_sent += sent
        self.writes_done += done
        if self.progress is not None:
            self.progress(self.writes_done, self.writes_sent)

    def _upsert(
        self, obj: str, key: str, rows: Sequence[Mapping[str, object]]
    ) -> list[WriteResult]:
        assert self.org is not None
        return self.org.writer.upsert(obj, key, rows, bulk=len(rows) > self.bulk_threshold)

    def _update(self, obj: str, rows: Sequence[Mapping[str, object]]) -> list[WriteResult]:
        assert self.org is not None
        return self.org.writer.update(obj, rows, bulk=len(rows) > self.bulk_threshold)

    def _report(self, name: str, obj: str) -> MappingReport:
        rep = self.report.mappings.get(name)
        if rep is None:
            rep = self.report.mappings[name] = MappingReport(name, obj)
        return rep

    @staticmethod
    def _count(rep: MappingReport, r: WriteResult) -> None:
        status = r.status
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
