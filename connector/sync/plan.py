"""Planning one batch: from mapped, policy-checked records to the writes Salesforce needs.

For a batch of ≤ 2,000 records the planner asks the state store a handful of batch questions
(suppressed? synced before, with which field hashes? which parents exist? which persons?) and
turns every record into one of: a write (upsert by external id, or update by Salesforce Id for a
known person), unchanged, suppressed, rejected (a parent that never reached Salesforce) or
review (an ambiguous person match). It writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from connector.hashing import KeyHasher
from connector.privacy.facts import Phase
from connector.privacy.policy import CLEARING, Decision
from connector.records import Origin, SourceRecord
from connector.state import StateStore
from connector.state.rows import KnownRow, SourceSeen
from connector.sync.diff import RECORD, diff
from connector.sync.identity import Match, Person, resolve


@dataclass(slots=True)
class Item:
    """One usable record on its way through the batch."""

    rec: SourceRecord
    res: Any  # connector.mapping MapResult
    decision: Decision
    source_hash: str | None = None  # remembered once synced, so the next run may skip the row
    recheck_on: date | None = None  # the day the same row may be decided otherwise


@dataclass(slots=True)
class Write:
    """One planned write and what to remember once Salesforce accepts it."""

    key_hash: str
    origin: Origin
    operation: str  # upsert | update
    row: dict[str, Any]
    hashes: dict[str, str]
    cleared: int
    known: bool  # the record or person exists in Salesforce already
    person_id: int | None = None
    new_person: tuple[str | None, str | None] | None = None  # (student hash, e-mail hash)
    link_person: tuple[str | None, str | None] | None = None
    lifecycle: str | None = None
    lifecycle_end_at: datetime | None = None
    event_date: Any = None
    consent_withdrawn_at: dict[str, datetime] = field(default_factory=dict)
    source_hash: str | None = None
    recheck_on: date | None = None


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


def _as_utc(day: Any) -> datetime | None:
    if day is None:
        return None
    if isinstance(day, datetime):
        return day.astimezone(UTC)
    return datetime.combine(day, time.min, tzinfo=UTC)


class Planner:
    """Plans the writes of one mapping, batch by batch.

    Args:
        mapping: The mapping's name.
        spec: The mapping (``MappingSpec``).
        compiled: The compiled mappings of the project, by name (to hash parent keys).
        store: The state store (read only here).
        hasher: The keyed hasher.
        person_object: True when the mapping writes persons (it declares ``identity``).
    """

    def __init__(
        self,
        mapping: str,
        spec: Any,
        compiled: dict[str, Any],
        store: StateStore,
        hasher: KeyHasher,
        *,
        planned: dict[str, set[str]] | None = None,
        now: datetime | None = None,
    ):
        self.mapping, self.spec, self.store, self.hasher = mapping, spec, store, hasher
        self.compiled = compiled
        self.planned = planned if planned is not None else {}
        self.now = now or datetime.now(UTC)
        # Erasure tombstones are rare: when there are none, skip the per-batch query.
        self.check_suppressions = store.has_suppressions()
        self.external_id = spec.target.external_id
        self.persons = spec.identity is not None
        self.generated_id = self.external_id not in spec.fields
        self.required = [f for f, fs in spec.fields.items() if fs.required]
        # Prospects joined to a student number in this run (person id → student hash): state
        # only learns of a join after the write, and a second student with the same e-mail
        # (a sibling) must not join the same prospect.
        self.claimed: dict[int, str] = {}
        # Fields an SIS mapping writes on the same object: the SIS owns them for a student.
        self.sis_fields = sis_owned_fields(compiled, spec) if self.persons else frozenset()

    def plan(self, items: Sequence[Item]) -> BatchPlan:
        """Plan one batch (keys are unique within it)."""
        out = BatchPlan()
        keys = [it.res.key_hash for it in items]
        suppressed: set[str] = set()
        if self.check_suppressions:
            id_hashes = [h for it in items for h in it.res.identity if h]
            parent_hashes = [
                self.compiled[parent].hash_key(key)
                for it in items
                for parent, key in it.res.refs.values()
            ]
            suppressed = self.store.suppressed(keys + id_hashes + parent_hashes)
        previous = self.store.known(self.mapping, keys)
        parents = self._parents(items)
        persons = self._persons(items) if self.persons else None

        for it in items:
            res = it.res
            student_hash, email_hash = res.identity
            if (
                res.key_hash in suppressed
                or (student_hash and student_hash in suppressed)
                # An erased person's e-mail tombstone must not silence a sibling who shares the
                # address but has a student number of their own.
                or (email_hash in suppressed and not student_hash)
            ):
                out.suppressed += 1
                continue
            if suppressed and any(
                self.compiled[parent].hash_key(key) in suppressed
                for parent, key in res.refs.values()
            ):
                out.suppressed += 1  # e.g. a new registration of a person who was erased
                continue
            payload, clear, fingerprint = self.outcome(it)
            prev = previous.get(res.key_hash)
            stale_id = None
            if prev is not None and prev.purged:
                if prev.field_hashes.get(RECORD) == fingerprint:
                    # Purged for retention and the source still holds the same old record: it
                    # does not come back.
                    out.suppressed += 1
                    continue
                # New data or a new anchor (another event, another status): a new record.
                stale_id, prev = prev.sf_id, None
            reject = self._resolve_refs(res.refs, parents, payload)
            if reject is None and payload.get(self.external_id) is None:
                why = it.decision.withheld.get(self.external_id, "empty")
                reject = (self.external_id, f"external id missing or withheld ({why})")
            if reject is not None:
                out.rejects.append((it.rec.origin, *reject))
                continue
            if any(f in it.decision.withheld for f in self.required):
                # A record whose required fields no purpose justifies is not (re)written; its
                # old data goes with the retention purge, not through a half-cleared update.
                out.not_justified += 1
                continue
            write = self._plan_one(it, payload, prev, persons, out, clear, fingerprint, stale_id)
            if write is not None:
                out.writes.append(write)
        return out

    def outcome(self, it: Item) -> tuple[dict[str, Any], dict[str, str], str]:
        """What one record would send: payload, fields to clear, and its fingerprint — the
        keyed hash of both (parents by key, not by Salesforce id) and its retention anchors."""
        res = it.res
        payload = dict(it.decision.payload)
        if self.generated_id:
            # Our own keyed hash, not personal data: added after the policy's value checks.
            payload[self.external_id] = res.values.get(self.external_id)
        clear = {
            f: r for f, r in it.decision.withheld.items() if r in CLEARING and f not in payload
        }
        facts = res.facts
        fingerprint = self.hasher.record(
            payload,
            clear,
            (tuple(sorted(res.refs.items())), facts.event_date, facts.phase, facts.phase_at),
        )
        return payload, clear, fingerprint

    # -- pieces -------------------------------------------------------------------------------

    def _plan_one(
        self,
        it: Item,
        payload: dict[str, Any],
        prev: KnownRow | None,
        persons: Any,
        out: BatchPlan,
        clear: dict[str, str],
        fingerprint: str,
        stale_id: str | None,
    ) -> Write | None:
        res = it.res
        person: Person | None = None
        new_person = link = None
        if persons is not None:
            student_hash, email_hash = res.identity
            by_student = persons.by_student.get(student_hash) if student_hash else None
            by_email = persons.by_email.get(email_hash, ()) if email_hash else ()
            resolution = resolve(
                student_hash, email_hash, _p(by_student), [_p(p) for p in by_email]
            )
            if resolution.match is Match.AMBIGUOUS:
                out.review.append((it.rec.origin, resolution.candidates))
                return None
            person = resolution.person
            if resolution.match is Match.NEW and prev is not None and prev.person_id is not None:
                # Nothing to match on (no SIS number, no e-mail): the record's own history says
                # who it is.
                person = Person(prev.person_id, prev.sf_id, student_hash, email_hash)
            elif resolution.match is Match.NEW:
                new_person = (student_hash, email_hash)
            elif (
                resolution.match is Match.JOIN
                and self.claimed.get(resolution.person.person_id, student_hash) != student_hash
            ):
                person, new_person = None, (student_hash, email_hash)  # a sibling: a new person
            elif resolution.match is Match.JOIN:
                out.joined += 1
                link = (student_hash, email_hash)
                self.claimed[resolution.person.person_id] = student_hash
            elif person is not None and email_hash and person.email_hash != email_hash:
                link = (None, email_hash)  # same person, new address: follow it
            if person is not None and person.student_hash and not student_hash and self.sis_fields:
                # An event registration of a student: the SIS is the record of what it holds
                # (name, status, address); this mapping adds only what the SIS does not map.
                for fld in self.sis_fields:
                    payload.pop(fld, None)
                    clear.pop(fld, None)
            if person is not None and stale_id is not None and person.sf_id == stale_id:
                # The person's Contact was purged: they come back as a new Contact.
                person = Person(person.person_id, None, person.student_hash, person.email_hash)

        change = diff(
            payload, clear, prev.field_hashes if prev else None, self.hasher.value, fingerprint
        )
        sf_id = (person.sf_id if person else None) or (prev.sf_id if prev else None)
        by_id = self.persons and sf_id is not None
        if change.empty and prev is not None and link is None and new_person is None:
            out.unchanged.append(
                SourceSeen(res.key_hash, it.source_hash, it.recheck_on, fingerprint)
            )
            return None
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
        facts = res.facts
        phase = facts.phase.value if facts.phase is not None else None
        return Write(
            key_hash=res.key_hash,
            origin=it.rec.origin,
            operation=operation,
            row=row,
            hashes=change.hashes,
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

    @staticmethod
    def _resolve_refs(
        refs: dict[str, tuple[str, str]],
        parents: dict[tuple[str, str], str],
        payload: dict[str, Any],
    ) -> tuple[str, str] | None:
        """Put the parents' Salesforce ids into the payload; a missing parent rejects the row."""
        for fld, (parent, parent_key) in refs.items():
            sf_id = parents.get((parent, parent_key))
            if sf_id is None:
                return fld, f"parent record of mapping {parent!r} is not in Salesforce"
            payload[fld] = sf_id
        return None

    def _parents(self, items: Sequence[Item]) -> dict[tuple[str, str], str]:
        wanted: dict[str, dict[str, str]] = {}
        for it in items:
            for parent, key in it.res.refs.values():
                wanted.setdefault(parent, {})[self.compiled[parent].hash_key(key)] = key
        found: dict[tuple[str, str], str] = {}
        for parent, by_hash in wanted.items():
            for key_hash, sf_id in self.store.sf_ids(parent, list(by_hash)).items():
                found[(parent, by_hash[key_hash])] = sf_id
            # A dry run never creates the parents: count on the ones it would create.
            for key_hash in self.planned.get(parent, ()) & by_hash.keys():
                found.setdefault((parent, by_hash[key_hash]), "(new)")
        return found

    def _persons(self, items: Sequence[Item]) -> Any:
        students = [it.res.identity[0] for it in items if it.res.identity[0]]
        emails = [it.res.identity[1] for it in items if it.res.identity[1]]
        return self.store.find_persons(student_hashes=students, email_hashes=emails)


def sis_owned_fields(compiled: dict[str, Any], spec: Any) -> frozenset[str]:
    """Fields that mappings identifying people by student number write on ``spec``'s object."""
    if spec.identity is not None and spec.identity.student_number:
        return frozenset()
    return frozenset(
        f
        for c in compiled.values()
        if c.spec.identity is not None
        and c.spec.identity.student_number
        and c.spec.target.object == spec.target.object
        for f in c.spec.fields
    ) - {spec.target.external_id}


def _p(row: Any) -> Person | None:
    if row is None:
        return None
    return Person(row.person_id, row.sf_id, row.student_hash, row.email_hash)
