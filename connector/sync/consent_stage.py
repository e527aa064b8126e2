"""The consent stage of a person mapping: writes consent records where the org models them.

:class:`ConsentStage` collects :class:`~connector.sync.consent_records.ConsentEntry` values from
every batch's accepted records, and writes them once the Contacts they belong to are in
Salesforce: Individuals (upsert by ``SIS_Individual_Key__c``), ``Contact.IndividualId``,
DataUsePurposes (found by Name, the missing ones created) and ContactPointTypeConsents (upsert
by ``SIS_Consent_Key__c``). Its counts appear in the run report as the mappings
``consent:individual`` and ``consent:<purpose>``.

It is the recorder of these records: what Salesforce accepted is remembered in state under
those names (keyed hashes and ids only). A consent that did not land has its source rows
forgotten, so the next run maps the row again and retries. An org without the consent objects
is asked once per run (describe), and only when a consent needs writing; then nothing is
written here and the mapping's flags are all there is.
"""

from __future__ import annotations

import logging
from collections.abc import Container, Mapping, Sequence
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
    INDIVIDUAL,
    INDIVIDUAL_KEY,
    ConsentOrg,
)
from connector.state import StateStore
from connector.state.rows import RECORD, SourceSeen, SyncedUpdate
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
from connector.sync.plan import Item

log = logging.getLogger(__name__)

# Entries written together (Individuals, Contact links and consents of one chunk). Large enough
# that a first load's consent records go through Bulk API 2.0 (a chunk of more than the bulk
# threshold rows per object: ~3 jobs instead of ~30 collections calls per 2,000 persons; a 10k
# load measured 168 collections calls with chunks of 2,000), small enough to bound the memory of
# the pending entries (a few hundred bytes each). A nightly run stays under it and writes at the
# end of the mapping, through collections.
CHUNK = 25_000


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
    ):
        self.mapping, self.policy, self.purposes = mapping, policy, purposes
        self.store, self.org, self.hasher, self.now = store, org, hasher, now
        self.report, self.mapping_report = report, mapping_report
        self.bulk_threshold = bulk_threshold
        self.consent_purposes = frozenset(
            n for n, p in purposes.purposes.items() if p.consent is not None
        )
        self.pending: list[ConsentEntry] = []
        self.fallback_source = f"sis-sync {mapping}"

    def add(self, items: Sequence[Item], accepted: Container[str], today: date) -> None:
        """Collect the consent entries of the records of a batch the plan accepted."""
        for it in items:
            facts = it.res.facts
            if it.res.key_hash not in accepted or not (facts.consents or facts.objected):
                continue
            statuses = self.policy.statuses(facts, today)
            self.pending += entries_for(
                it.res.key_hash,
                facts,
                {p: s for p, s in statuses.items() if p in self.consent_purposes},
                self.purposes,
                now=self.now,
                fallback_source=self.fallback_source,
            )

    def flush(self, blocked: Container[str]) -> None:
        """Write the pending entries whose Contact is in Salesforce, once there are enough."""
        if len(self.pending) < CHUNK:
            return
        ready = [e for e in self.pending if e.contact_key not in blocked]
        self.pending = [e for e in self.pending if e.contact_key in blocked]
        for start in range(0, len(ready), CHUNK):
            self._write(ready[start : start + CHUNK])

    def finish(self, *, stopped: bool = False) -> None:
        """Write every pending entry (the mapping's own writes are all recorded by now); when
        the run has ``stopped`` (API share, Salesforce unreachable), leave them to the next."""
        pending, self.pending = self.pending, []
        if stopped:
            if pending:
                self._retry_later({e.contact_key for e in pending})
            return
        for start in range(0, len(pending), CHUNK):
            self._write(pending[start : start + CHUNK])

    # -- one chunk ------------------------------------------------------------------------------

    def _write(self, entries: list[ConsentEntry]) -> None:
        plan = self._plan_chunk(entries)
        if not plan.individuals and not plan.consents:
            return
        self._send_plan(plan, entries)

    def _contact_ids(self, contact_keys: list[str]) -> dict[str, str]:
        """Contact key hash → Contact Id, from state (the Contacts are written by now)."""
        return self.store.sf_ids(self.mapping, contact_keys)

    def _plan_chunk(self, entries: list[ConsentEntry]) -> ConsentPlan:
        """What a chunk of entries needs written, against what state remembers."""
        store, hasher = self.store, self.hasher
        contact_ids = self._contact_ids(sorted({e.contact_key for e in entries}))
        ind_keys = sorted({individual_key(hasher, c) for c in contact_ids.values()})
        known_individuals = store.known(INDIVIDUALS, ind_keys)
        by_purpose: dict[str, list[str]] = {}
        for e in entries:
            cid = contact_ids.get(e.contact_key)
            if cid is not None:
                by_purpose.setdefault(e.purpose, []).append(consent_key(hasher, cid, e.purpose))
        known_consents = {
            (p, k): row
            for p, keys in by_purpose.items()
            for k, row in store.known(state_name(p), sorted(set(keys))).items()
        }
        return plan_consents(
            entries, contact_ids, known_individuals, known_consents, self.purposes, hasher
        )

    def _send_plan(self, plan: ConsentPlan, entries: list[ConsentEntry]) -> None:
        assert self.org is not None  # a plan counts instead (consent_dry_run.py)
        detection = self.org.detection()
        if detection.model is None:
            if detection.warning:
                self.mapping_report.warnings[detection.warning] += 1
            return
        if not detection.model.given_by:
            for w in plan.consents:
                w.row.pop("Consent_Given_By__c", None)
        try:
            self._send(plan)
        except (LimitReached, SalesforceError) as exc:
            if isinstance(exc, LimitReached):
                self.report.stopped = self.report.stopped or f"daily API share reached ({exc})"
            self._report(INDIVIDUALS, INDIVIDUAL).error = str(exc)
            self._retry_later(
                {w.contact_key for w in plan.consents} | {e.contact_key for e in entries}
            )

    def _send(self, plan: ConsentPlan) -> None:
        ids = dict(plan.individual_ids)
        failed_contacts: set[str] = set()
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
                links.append({"Id": w.contact_id, "IndividualId": sf_id})
                linked.append((w, r, sf_id))
            link_results = self._update("Contact", links) if links else []
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
            self.store.record_synced(synced, at=self.now)
        writes = [c for c in plan.consents if c.individual in ids]
        retry = {c.contact_key for c in plan.consents if c.individual not in ids}
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
                else:
                    retry.add(c.contact_key)
            self.store.record_synced(synced, at=self.now)
        if retry:
            self._retry_later(retry)
        if failed_contacts:
            log.debug("%s: %d Individuals not written", self.mapping, len(failed_contacts))

    # -- helpers --------------------------------------------------------------------------------

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
