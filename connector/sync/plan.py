"""Planning one batch: from mapped, policy-checked records to the writes Salesforce needs.

A pure stage. For a batch of ≤ 2,000 records the planner says what it needs to know
(:meth:`Planner.query`: suppressed? synced before, with which field hashes? which parents
exist? which persons?), the engine loads that as a :class:`~connector.sync.batch_state.BatchState`,
and :meth:`Planner.plan` turns every record into one of: a write (upsert by external id, or
update by Salesforce Id for a known person), unchanged, suppressed, rejected (a parent that
never reached Salesforce) or review (an ambiguous person match). No store, no I/O: its rules
are unit-tested with hand-built states (tests/unit/sync/test_sync_planner.py).
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, time
from typing import Any

from connector.clock import school_date
from connector.hashing import KeyHasher, hashes_json
from connector.mapping.compile import CompiledMapping, MapResult
from connector.mapping.models import MappingSpec
from connector.privacy.facts import Phase
from connector.privacy.identifiers import KEY_LOOKS_LIKE_BSN
from connector.privacy.policy import (
    CLEARING,
    FORBIDDEN_NUMBER,
    Decision,
    Policy,
)
from connector.privacy.withdrawals import stated_withdrawals
from connector.records import Origin, SourceRecord
from connector.state.rows import (
    PURGE_CLEARED,
    KnownRow,
    PersonMatches,
    SourceSeen,
    purge_cleared,
)
from connector.state.withdrawals import Stated
from connector.sync.batch_state import BatchState, StateQuery
from connector.sync.crm_opt_outs import OPT_IN_SENT
from connector.sync.diff import RECORD, diff
from connector.sync.modes import ModeAction, decide, needs_person_contact
from connector.sync.plan_justified import not_justified
from connector.sync.plan_opt_outs import OptOutRules
from connector.sync.plan_parents import ParentRules
from connector.sync.plan_persons import PersonRules, Taken, shared_fields, sis_owned_fields
from connector.sync.source_content import SOURCE, ContentHasher


@dataclass(slots=True)
class Item:
    """One usable record on its way through the batch."""

    rec: SourceRecord
    res: MapResult
    decision: Decision
    source_hash: str | None = None  # remembered once synced, so the next run may skip the row
    recheck_on: date | None = None  # the day the same row may be decided otherwise
    # Planner.outcome's answer, computed once (the engine compares rows of one record by it).
    cached: tuple[dict[str, Any], dict[str, str], str] | None = None


@dataclass(slots=True)
class Write:
    """One planned write and what to remember once Salesforce accepts it."""

    key_hash: str
    origin: Origin
    operation: str  # upsert | update
    row: dict[str, Any]
    # The field hashes to remember, as the JSON text state stores (a dict of a dozen hash
    # strings per pending write was a third of a Bulk load's memory), and the record hash.
    hashes: str
    token: str
    cleared: int
    known: bool  # the record or person exists in Salesforce already
    person_id: int | None = None
    new_person: tuple[str | None, str | None] | None = None  # (student hash, e-mail hash)
    link_person: tuple[str | None, str | None] | None = None
    lifecycle: str | None = None
    lifecycle_end_at: datetime | None = None
    event_date: date | None = None
    consent_withdrawn_at: dict[str, datetime] = field(default_factory=dict)
    source_hash: str | None = None
    recheck_on: date | None = None

    def __reduce__(self) -> tuple[type[Write], tuple[Any, ...]]:
        # The write spool (spool.py) pickles every write of a Bulk load: a positional tuple
        # is much cheaper than a slotted dataclass's default state (fields() per object).
        return (Write, _write_state(self))


_write_state = operator.attrgetter(*(f.name for f in fields(Write)))


@dataclass
class BatchPlan:
    """The outcome of planning one batch."""

    writes: list[Write] = field(default_factory=list)
    unchanged: list[SourceSeen] = field(default_factory=list)
    suppressed: int = 0
    not_justified: int = 0
    joined: int = 0
    rejects: list[tuple[Origin, str, str]] = field(default_factory=list)
    review: list[tuple[Origin, int]] = field(default_factory=list)
    # Written anyway, the CRM's opt-out kept: (origin, opt-out field, reason) for staff.
    conflicts: list[tuple[Origin, str, str]] = field(default_factory=list)
    lifted: int = 0  # opt-outs a newer opt-in lifted (opt_in_lifts_opt_out)
    objected: int = 0  # records decided with an art. 21 objection
    # Key hashes of the records the policy does not write (not justified): a child mapping's
    # rows under them are skipped, not rejected (batch_state.WithheldParents).
    withheld: list[str] = field(default_factory=list)
    # target.mode: records left alone, by reason (``update_only: no match`` …).
    mode_skipped: dict[str, int] = field(default_factory=dict)
    # Rows whose student number another record holds (PersonRules.taken): rejected with the
    # Taken's reason by the engine, which may plan them once more when the source is read (a
    # OneRoster delta that marks the holder deleted further down).
    held: list[tuple[Item, Taken]] = field(default_factory=list)
    # Student hash → (key hash, line): the numbers this batch's records hold (PersonRules.taken).
    numbers: dict[str, tuple[str, int]] = field(default_factory=dict)
    # The batch's items as planned: a person who objected (art. 21) decided with the objection.
    # The consent stage reads these, so its records say what the Contact's flags say.
    items: list[Item] = field(default_factory=list)
    # What the batch's rows (not of erased persons) withdraw (state/withdrawals.py).
    stated: list[Stated] = field(default_factory=list)


def _as_utc(day: date | datetime | None) -> datetime | None:
    if day is None:
        return None
    if isinstance(day, datetime):
        return day.astimezone(UTC)
    return datetime.combine(day, time.min, tzinfo=UTC)


class Planner(OptOutRules, PersonRules, ParentRules):
    """Plans the writes of one mapping, batch by batch (pure: no store, no I/O).

    Its person rules live in ``plan_persons.py``, its objection and CRM opt-out rules in
    ``plan_opt_outs.py`` and its parent-record rules in ``plan_parents.py`` (mixed in), each
    a few hundred lines a module.

    Args:
        mapping: The mapping's name.
        spec: The mapping.
        compiled: The compiled mappings of the project, by name (to hash parent keys).
        hasher: The keyed hasher.
        planned: Dry run only: key hashes a parent mapping would create, so children count as
            creates too.
        now: The run's clock.
        check_suppressions: False when state holds no erasure tombstone at all (the batch then
            skips that query).
        policy: The mapping's policy, to decide a record again with the purposes its person
            objected to (art. 21) and to find opt-ins that meet a CRM opt-out; without it
            neither rule applies (unit tests of other rules).
        check_objections: False when state holds no objection at all (no query).
        check_withdrawals: True when state holds withdrawals: a person mapping with consent
            purposes then loads its persons' (``connector/privacy/withdrawals.py``).
        record_type_id: The Id of ``target.record_type`` (or of the person-account record
            type), resolved once per run; sent as ``RecordTypeId``.
    """

    def __init__(
        self,
        mapping: str,
        spec: MappingSpec,
        compiled: dict[str, CompiledMapping],
        hasher: KeyHasher,
        *,
        planned: dict[str, set[str]] | None = None,
        now: datetime | None = None,
        check_suppressions: bool = True,
        policy: Policy | None = None,
        check_objections: bool = False,
        record_type_id: str | None = None,
        check_withdrawals: bool = False,
    ):
        self.mapping, self.spec, self.hasher = mapping, spec, hasher
        self.record_type_id = record_type_id
        self.mode = spec.target.mode
        self.org_asked = True  # False in a plan: target.mode matches are the run's (modes.py)
        self.lookups = compiled[mapping].lookups if mapping in compiled else spec.lookups()
        # Refs to a person-account mapping in a field that wants a Contact: PersonContactId.
        self.contact_refs = frozenset(
            name
            for name, f in spec.fields.items()
            if f.ref is not None
            and f.ref.mapping in compiled
            and compiled[f.ref.mapping].spec.target.person_account
            and needs_person_contact(name)
        )
        self.compiled = compiled
        self.planned = planned if planned is not None else {}
        self.now = now or datetime.now(UTC)
        self.check_suppressions = check_suppressions
        self.policy = policy
        self.check_objections = check_objections and policy is not None
        # A person mapping with consent purposes remembers what its rows withdraw, and reads
        # what its persons' other records withdrew when state holds any.
        self.states_withdrawals = (
            spec.identity is not None and policy is not None and bool(policy.consent_purposes)
        )
        self.check_withdrawals = check_withdrawals and self.states_withdrawals
        self.today = school_date(self.now)
        self.opt_outs: Mapping[str, str] = policy.purpose_opt_outs if policy is not None else {}
        self.external_id = spec.target.external_id
        self.content = ContentHasher(hasher)  # source rows apart from mappings (purged records)
        self.persons = spec.identity is not None
        self.generated_id = self.external_id not in spec.fields
        self.required = [f for f, fs in spec.fields.items() if fs.required]
        # Fields that carry the record's data (not its external id or parent references).
        self.content_fields = [
            f
            for f, fs in spec.fields.items()
            if fs.ref is None and f != self.external_id and fs.purposes
        ]
        # Prospects joined to a student number in this run (person id → student hash): state
        # only learns of a join after the write, and a second student with the same e-mail
        # (a sibling) must not join the same prospect.
        self.claimed: dict[int, str] = {}
        # Fields an SIS mapping writes on the same object: the SIS owns them for a student.
        self.sis_fields = sis_owned_fields(compiled, spec) if self.persons else frozenset()
        # Fields other mappings write on the same object (as sent: lookups by their wire name):
        # on a record one of them wrote, this mapping clears them only when its row withdrew
        # them (_joined_clears).
        self.shared_fields = frozenset(
            self.lookups.get(f, f) for f in shared_fields(compiled, mapping, spec)
        )
        # One student number, one record of the mapping (plan_persons.PersonRules.taken): an
        # export that promises one row per record (`duplicates: report`) and keys its rows on
        # something else than the number (OneRoster's sourcedId) must not let two of its
        # records write one student's Contact.
        # A mapping keyed on the number itself needs no such check (nor its cost: ~4 % of a
        # first load's CPU): the key is the normalised number after key_transform, so two keys
        # never normalise to one number.
        number = spec.identity.student_number if spec.identity is not None else None
        keyed_on_number = spec.key_columns == [number]
        checked = spec.duplicates == "report" and not keyed_on_number
        self.number_column = number if checked else None

    def query(self, items: Sequence[Item]) -> StateQuery:
        """What state must say about ``items`` before :meth:`plan` can decide them."""
        keys = [it.res.key_hash for it in items]
        parents: dict[str, set[str]] = {}
        contacts: dict[str, set[str]] = {}
        for it in items:
            for fld, (parent, key) in it.res.refs.items():
                key_hash = self.compiled[parent].hash_key(key)
                parents.setdefault(parent, set()).add(key_hash)
                if fld in self.contact_refs:
                    contacts.setdefault(parent, set()).add(key_hash)
        suppressible: list[str] = []
        if self.check_suppressions:
            suppressible = keys + [h for it in items for h in it.res.identity if h]
            suppressible += [h for hashes in parents.values() for h in hashes]
        students = [s for it in items if (s := it.res.identity[0])] if self.persons else []
        emails = [e for it in items if (e := it.res.identity[1])] if self.persons else []
        objectable: list[str] = []
        if self.check_objections:
            objectable = [h for it in items for h in it.res.identity if h]
        return StateQuery(
            self.mapping,
            keys,
            suppressible=suppressible,
            parents={p: sorted(h) for p, h in parents.items()},
            students=students,
            emails=emails,
            persons=self.persons,
            contact_parents={p: sorted(h) for p, h in contacts.items()},
            objectable=objectable,
            holders=self.number_column is not None,
            withdrawals=self.check_withdrawals,
        )

    def match_values(self, items: Sequence[Item], state: BatchState) -> list[str]:
        """External ids to look for in the org (``update_only`` / ``insert_only``): those of
        records state knows no Salesforce id of."""
        if self.mode == "upsert":
            return []
        out: list[str] = []
        for it in items:
            prev = state.known.get(it.res.key_hash)
            value = it.res.values.get(self.external_id)
            if (prev is None or prev.sf_id is None or prev.purged) and value not in (None, ""):
                out.append(str(value))
        return out

    def plan(self, items: Sequence[Item], state: BatchState) -> BatchPlan:
        """Plan one batch (keys are unique within it) against what state holds about it."""
        out = BatchPlan()
        suppressed = state.suppressed
        previous = state.known
        parents = self._parents(items, state)
        contacts = self._parents(items, state, contacts=True) if self.contact_refs else {}
        persons = state.persons
        # What each row itself withdraws (before another record's withdrawal changes it), for
        # state to remember (state/withdrawals.py) — whether or not the record is written.
        stated = self.stated(items) if self.states_withdrawals else {}
        items = self.decided(items, state)
        out.items = items
        numbers = out.numbers

        for it in items:
            res = it.res
            if res.facts.objected:
                out.objected += 1
            student_hash, email_hash = res.identity
            if (
                res.key_hash in suppressed
                or (student_hash and student_hash in suppressed)
                # An erased person's e-mail tombstone must not silence a sibling who shares the
                # address but has a student number of their own.
                or (email_hash in suppressed and not student_hash)
            ):
                live = persons.by_email.get(email_hash, ()) if persons and email_hash else ()
                if live and not student_hash:
                    # A row without a student number at an address an erased person shared
                    # with someone still here (a sibling's open-day registration): ambiguous,
                    # as it was before the erasure — staff decide; never silenced, never
                    # joined to the sibling unasked.
                    out.review.append((it.rec.origin, len(live) + 1))
                    continue
                out.suppressed += 1
                continue
            if stated:
                out.stated.append(stated[res.key_hash])
            if suppressed and any(
                self.compiled[parent].hash_key(key) in suppressed
                for parent, key in res.refs.values()
            ):
                out.suppressed += 1  # e.g. a new registration of a person who was erased
                continue
            payload, clear, fingerprint = self.outcome(it)
            payload, clear = dict(payload), dict(clear)  # refs and SIS ownership change them
            prev = previous.get(res.key_hash)
            stale_id = None
            if prev is not None and prev.purged:
                if prev.field_hashes.get(RECORD) == fingerprint or prev.field_hashes.get(
                    SOURCE
                ) == self.content.of(it.rec):
                    # Purged for retention and the source still holds the same old record: it
                    # does not come back, whatever mapping or code now maps it (issue 9.6).
                    out.suppressed += 1
                    continue
                # New data or a new anchor (another event, another status): a new record.
                stale_id, prev = prev.sf_id, None
            if prev is not None:
                self._keep_purge_cleared(it, prev, payload, clear)
            if not_justified(it.decision, prev, self.required, self.content_fields):
                # Before its parents: a record whose required fields no purpose justifies is
                # not (re)written; its old data goes with the retention purge, not through a
                # half-cleared update.
                out.not_justified += 1
                out.withheld.append(res.key_hash)
                continue
            why = self._parent_left_out(res.refs, parents, state)
            if why is not None:
                # The purge deleted its parent, or the policy never wrote it, on purpose:
                # nothing to write it under, and not a problem of the row (a reject would keep
                # every nightly run at exit 1).
                out.mode_skipped[why] = out.mode_skipped.get(why, 0) + 1
                continue
            reject = self._resolve_refs(res.refs, parents, payload, contacts, self.contact_refs)
            if reject is None and payload.get(self.external_id) is None:
                why = it.decision.withheld.get(self.external_id, "empty")
                if why == FORBIDDEN_NUMBER:
                    why = f"{why}: {KEY_LOOKS_LIKE_BSN}"
                reject = (self.external_id, f"external id missing or withheld ({why})")
            if reject is None and self.number_column is not None and student_hash:
                taken = self.taken(it, persons, state, numbers)
                if taken is not None:
                    out.held.append((it, taken))  # rejected, or planned again (engine)
                    continue
            if reject is not None:
                out.rejects.append((it.rec.origin, *reject))
                continue
            marks = self.opt_in_marks(it) if self.opt_outs else {}
            if state.crm_opt_outs:
                conflicts = self._meet_crm_opt_outs(it, prev, persons, state, payload, out)
                if conflicts:
                    # Not remembered, and its opt-in not marked as written: the row is mapped
                    # and read again next run, and the conflict reported again, until staff
                    # settle it.
                    it = replace(it, source_hash=None)
                    marks = {k: v for k, v in marks.items() if k[1:] not in conflicts}
            write = self._plan_one(
                it, payload, prev, persons, out, clear, fingerprint, stale_id, state.existing,
                marks,
            )  # fmt: skip
            if write is not None:
                out.writes.append(write)
        return out

    @staticmethod
    def stated(items: Sequence[Item]) -> dict[str, Stated]:
        """Key hash → what its row withdraws, with its identity hashes."""
        return {
            it.res.key_hash: Stated(
                it.res.key_hash, *it.res.identity, stated_withdrawals(it.res.facts)
            )
            for it in items
        }

    def _keep_purge_cleared(
        self, it: Item, prev: KnownRow, payload: dict[str, Any], clear: dict[str, str]
    ) -> bool:
        """Leave out the fields the retention purge cleared on ``prev`` while the source row is
        the one last written (art. 5(1)(c)): a mapping edit or a new connector version changes
        the record hash, not the data, and must not bring them back. True when some were."""
        gone = purge_cleared(prev.field_hashes)
        if not gone or prev.field_hashes.get(SOURCE) != self.content.of(it.rec):
            return False
        for fld in gone:
            payload.pop(self.lookups.get(fld, fld), None)
            clear.pop(self.lookups.get(fld, fld), None)
        return True

    def outcome(self, it: Item) -> tuple[dict[str, Any], dict[str, str], str]:
        """What one record would send: payload, fields to clear, and its fingerprint — the
        keyed hash of both (parents by key, not by Salesforce id) and its retention anchors.

        Computed once per item; callers that change the payload or clears copy them first.
        """
        if it.cached is not None:
            return it.cached
        res = it.res
        payload = dict(it.decision.payload)
        if self.generated_id:
            # Our own keyed hash, not personal data: added after the policy's value checks.
            payload[self.external_id] = res.values.get(self.external_id)
        clear = {
            f: r for f, r in it.decision.withheld.items() if r in CLEARING and f not in payload
        }
        for fld, wire in self.lookups.items():
            # A lookup to an org record goes by the parent's external id in Salesforce's
            # relationship syntax (``LearningProgram.Crebo__c``; the writer nests it for JSON):
            # "Insert/upsert records using an external ID as a foreign key", REST API
            # Developer Guide, https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_upsert.htm
            # Hashed under that key, so a change or an emptied cell is seen; an empty one is
            # sent as a null lookup field (_lookup_row).
            if fld in payload:
                payload[wire] = payload.pop(fld)
            if fld in clear:
                clear[wire] = clear.pop(fld)
        if self.record_type_id is not None:
            payload["RecordTypeId"] = self.record_type_id
        facts = res.facts
        fingerprint = self.hasher.record(
            payload,
            clear,
            (tuple(sorted(res.refs.items())), facts.event_date, facts.phase, facts.phase_at),
        )
        it.cached = (payload, clear, fingerprint)
        return it.cached

    # -- pieces -------------------------------------------------------------------------------

    def _plan_one(
        self,
        it: Item,
        payload: dict[str, Any],
        prev: KnownRow | None,
        persons: PersonMatches | None,
        out: BatchPlan,
        clear: dict[str, str],
        fingerprint: str,
        stale_id: str | None,
        existing: Mapping[str, str],
        marks: Mapping[str, str],
    ) -> Write | None:
        res = it.res
        who = self._who(it, prev, persons, out, payload, clear, stale_id)
        if who is None:
            return None  # ambiguous: held for review
        person, new_person, link = who.person, who.new_person, who.link
        if prev is None and person is not None and person.sf_id and self.shared_fields:
            clear = self._joined_clears(clear)

        change = diff(payload, clear, prev.field_hashes if prev else None, self.hasher, fingerprint)
        sf_id = (person.sf_id if person else None) or (prev.sf_id if prev else None)
        by_id = self.persons and sf_id is not None
        if change.empty and prev is not None and link is None and new_person is None:
            out.unchanged.append(
                SourceSeen(res.key_hash, it.source_hash, it.recheck_on, fingerprint)
            )
            return None
        ext_value = res.values.get(self.external_id)
        mode = decide(
            self.mode,
            sf_id,
            existing.get(str(ext_value).casefold()) if ext_value not in (None, "") else None,
            asked=self.org_asked or ext_value in (None, ""),  # no external id: never a match
        )
        if mode.action is ModeAction.SKIP:
            out.mode_skipped[mode.reason] = out.mode_skipped.get(mode.reason, 0) + 1
            return None
        if mode.action is ModeAction.UPDATE:
            sf_id, by_id = mode.sf_id, True
        if by_id:
            # A known person is written by Salesforce Id: its Contact may have been created by
            # another mapping under another external id, and an upsert on ours would duplicate it.
            row = dict(change.send)
            row[self.external_id] = payload.get(self.external_id, res.values.get(self.external_id))
            row["Id"] = sf_id
            operation = "update"
        else:
            row = dict(change.send)
            row[self.external_id] = res.values.get(self.external_id)
            operation = "upsert"
        if self.lookups:
            _lookup_row(row, self.lookups)
        facts = res.facts
        phase = facts.phase.value if facts.phase is not None else None
        return Write(
            key_hash=res.key_hash,
            origin=it.rec.origin,
            operation=operation,
            row=row,
            # With the source row's own hash: what a purge compares (source_content.py).
            hashes=hashes_json(_with_source(change.hashes, prev, self.content.of(it.rec), marks)),
            token=fingerprint,
            cleared=len(change.cleared),
            known=prev is not None or sf_id is not None,
            person_id=person.person_id if person else None,
            new_person=new_person,
            link_person=link,
            lifecycle=phase,
            # An end without a date in the source starts retention when the sync first sees it.
            lifecycle_end_at=(_as_utc(facts.phase_at) or self.now)
            if facts.phase is Phase.ENDED
            else None,
            event_date=facts.event_date,
            consent_withdrawn_at={
                p: c.at for p, c in facts.consents.items() if c.given is False and c.at
            },
            source_hash=it.source_hash,
            recheck_on=it.recheck_on,
        )


def _with_source(
    hashes: Mapping[str, str], prev: KnownRow | None, content: str, marks: Mapping[str, str]
) -> dict[str, str]:
    """The field hashes to remember with the source row's hash and the opt-ins written
    (``marks``, crm_opt_outs.py: earlier marks go); fields the purge cleared stay marked only
    while the row is the same (new data may bring their purpose back)."""
    out = {**hashes, SOURCE: content}
    if PURGE_CLEARED in out and (prev is None or prev.field_hashes.get(SOURCE) != content):
        del out[PURGE_CLEARED]
    if prev is not None:
        for key in [k for k in out if k[0] == OPT_IN_SENT]:
            del out[key]
    out.update(marks)
    return out


def _lookup_row(row: dict[str, Any], lookups: Mapping[str, str]) -> None:
    """An emptied lookup goes as the lookup field set to null: a relationship reference
    cannot say "no parent" (``LearningProgram.Crebo__c`` → ``LearningProgramId: None``)."""
    for fld, wire in lookups.items():
        if wire in row and row[wire] is None:
            del row[wire]
            row[fld] = None
