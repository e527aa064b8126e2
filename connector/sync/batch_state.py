"""Every state read of one batch, in a few set-based queries: the planner's only view of state.

The engine asks the :class:`~connector.sync.plan.Planner` what it needs to know
(:class:`StateQuery`, pure), loads it here (:meth:`BatchState.load`, the I/O) and hands the
result back to the planner. So the planner's rules — identity, siblings, clears, suppression,
purged records — are tested with a hand-built ``BatchState`` and no database, and a batch costs
the same handful of indexed statements however large the state is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from connector.mapping.compile import CompiledMapping
from connector.state import StateStore
from connector.state.anchors import export_mark, purged_keys
from connector.state.objections import EVERY_ROW, OWN_EMAIL
from connector.state.rows import KnownRow, PersonMatches, PersonRow
from connector.state.withdrawals import KnownWithdrawal, Stated
from connector.sync.crm_opt_outs import CrmOptOut


@dataclass(frozen=True, slots=True)
class StateQuery:
    """What a batch needs to know from state (keyed hashes only).

    Attributes:
        mapping: The mapping being planned.
        keys: The key hashes of the batch's records.
        suppressible: Hashes to test against erasure tombstones (keys, identity hashes,
            parents' key hashes); empty when the store holds no tombstone at all.
        parents: Parent mapping → key hashes whose Salesforce ids the batch's refs need.
        students: Student-number hashes to find persons by (person mappings only).
        emails: E-mail hashes to find persons by (person mappings only).
        persons: True for a mapping that writes persons (it declares ``identity``).
        objectable: Identity hashes to test against art. 21 objections; empty when the store
            holds none.
        contact_parents: Person-account parent mapping → key hashes whose PersonContactId the
            batch's refs need (CampaignMember.ContactId, Task.WhoId).
        holders: True when a record's student number must stay with one record of the
            mapping (``duplicates: report``): the live records of the persons found by
            student number are loaded (:attr:`BatchState.holders`).
        withdrawals: True to load the newest withdrawals of the batch's persons (a person
            mapping with consent purposes, when state holds any).
    """

    mapping: str
    keys: Sequence[str]
    suppressible: Sequence[str] = ()
    parents: Mapping[str, Sequence[str]] = field(default_factory=dict)
    students: Sequence[str] = ()
    emails: Sequence[str] = ()
    persons: bool = False
    objectable: Sequence[str] = ()
    contact_parents: Mapping[str, Sequence[str]] = field(default_factory=dict)
    holders: bool = False
    withdrawals: bool = False


@dataclass
class PlannedPersons:
    """Dry run only: the persons earlier batches would create, by identity hash."""

    by_student: dict[str, PersonRow] = field(default_factory=dict)
    by_email: dict[str, PersonRow] = field(default_factory=dict)

    def add(self, student_hash: str | None, email_hash: str | None) -> None:
        """A person the plan creates (its Salesforce id stands as ``(new)``)."""
        row = PersonRow(-1 - len(self.by_student) - len(self.by_email), "(new)",
                        student_hash, email_hash, None, None)  # fmt: skip
        if student_hash:
            self.by_student.setdefault(student_hash, row)
        if email_hash:
            self.by_email.setdefault(email_hash, row)


@dataclass(frozen=True, slots=True)
class BatchState:
    """What state holds about one batch.

    Attributes:
        known: Key hash → the record as synced before (field hashes, Salesforce id, person).
        parent_ids: (parent mapping, key hash) → the parent's Salesforce id (purged left out).
        persons: Persons matching the batch's identity hashes; ``None`` for other mappings.
        suppressed: The hashes of the query that an erasure tombstone covers.
        parent_contacts: (person-account parent mapping, key hash) → its PersonContactId.
        existing: External id → Salesforce Id of records found in the org (``target.mode``
            update_only / insert_only; filled by the engine, not from state).
        objected: Identity hash → the purposes objected to under it (GDPR art. 21).
        objected_unnumbered: E-mail hash → the purposes its owner objected to by student
            number: they hold only for rows without a student number (a sibling sharing the
            address has their own; ``state/objections.py`` OWN_EMAIL).
        crm_opt_outs: Salesforce id → the opt-out fields Salesforce holds true (read by the
            engine only for records a row would opt in again: ``crm_opt_outs.py``).
        purged_parents: (parent mapping, key hash) of parents the retention purge deleted
            (looked up only for parents without a Salesforce id): their children are skipped
            with that reason, not rejected.
        withheld_parents: (parent mapping, key hash) of parents without a Salesforce id that
            the policy did not write in this run (not justified: :class:`WithheldParents`):
            their children are skipped too.
        holders: Person id → key hashes of this mapping's live records of that person (not
            purged, not left the export), for persons found by student number when the query
            asked (:attr:`StateQuery.holders`).
        holder_lines: Key hash → the line of its row earlier in this run, for holders the run
            has read already (filled by the engine from its key ledger, not from state).
        claimed: Student hash → (key hash, line) of the key that claimed the number in an
            earlier batch of this run (filled by the engine from its key ledger).
        withdrawn: The withdrawals rows carrying the batch's student or e-mail hashes stated
            (``connector/state/withdrawals.py``).
    """

    known: Mapping[str, KnownRow] = field(default_factory=dict)
    parent_ids: Mapping[tuple[str, str], str] = field(default_factory=dict)
    persons: PersonMatches | None = None
    suppressed: frozenset[str] = frozenset()
    parent_contacts: Mapping[tuple[str, str], str] = field(default_factory=dict)
    existing: Mapping[str, str] = field(default_factory=dict)
    objected: Mapping[str, frozenset[str]] = field(default_factory=dict)
    objected_unnumbered: Mapping[str, frozenset[str]] = field(default_factory=dict)
    crm_opt_outs: Mapping[str, CrmOptOut] = field(default_factory=dict)
    purged_parents: frozenset[tuple[str, str]] = frozenset()
    withheld_parents: frozenset[tuple[str, str]] = frozenset()
    holders: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    holder_lines: Mapping[str, int] = field(default_factory=dict)
    claimed: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    withdrawn: Sequence[KnownWithdrawal] = ()

    def with_planned(self, planned: PlannedPersons) -> BatchState:
        """This state plus the persons a dry run would have created before this batch (so
        ``plan`` counts a registrant who shares a planned student's e-mail as the run will)."""
        if self.persons is None or (not planned.by_student and not planned.by_email):
            return self
        by_student = dict(self.persons.by_student)
        for h, row in planned.by_student.items():
            by_student.setdefault(h, row)
        by_email = dict(self.persons.by_email)
        for h, row in planned.by_email.items():
            known = by_email.get(h, ())
            if row not in known:
                by_email[h] = (*known, row)
        return replace(self, persons=PersonMatches(by_student, by_email))

    @classmethod
    def load(
        cls,
        store: StateStore,
        query: StateQuery,
        withheld: WithheldParents | None = None,
        learnt: Learnt | None = None,
    ) -> BatchState:
        """Run the batch's queries: one per question, each over an index (chunked IN lists).

        ``withheld``: what the run's parent mappings did not write; ``learnt``: what the job's
        later mappings withdraw (both in memory, no query)."""
        parent_ids: dict[tuple[str, str], str] = {}
        purged: set[tuple[str, str]] = set()
        held: set[tuple[str, str]] = set()
        for parent, hashes in query.parents.items():
            for key_hash, sf_id in store.sf_ids(parent, list(hashes)).items():
                parent_ids[(parent, key_hash)] = sf_id
            missing = [h for h in hashes if (parent, h) not in parent_ids]
            if missing:  # usually none: one more indexed query only when a parent is missing
                purged.update((parent, h) for h in purged_keys(store, parent, missing))
                if withheld is not None:
                    held.update((parent, h) for h in withheld.among(parent, missing))
        persons = (
            store.find_persons(student_hashes=list(query.students), email_hashes=list(query.emails))
            if query.persons
            else None
        )
        holders: dict[int, tuple[str, ...]] = {}
        if query.holders and persons is not None and persons.by_student:
            mark = export_mark(store, query.mapping)
            ids = sorted({p.person_id for p in persons.by_student.values()})
            holders = store.person_holders(query.mapping, ids, since=mark.at if mark else None)
        suppressed = store.suppressed(list(query.suppressible)) if query.suppressible else set()
        parent_contacts: dict[tuple[str, str], str] = {}
        for parent, hashes in query.contact_parents.items():
            for key_hash, contact_id in store.person_contact_ids(parent, list(hashes)).items():
                parent_contacts[(parent, key_hash)] = contact_id
        known = store.known(query.mapping, list(query.keys))
        withdrawn: list[KnownWithdrawal] = []
        if (query.withdrawals or (learnt and learnt.records)) and (query.students or query.emails):
            if query.withdrawals:
                withdrawn = store.withdrawals(list(query.students), list(query.emails))
            if learnt is not None:
                withdrawn = learnt.among(withdrawn, query.students, query.emails)
        return cls(
            known=known,
            parent_ids=parent_ids,
            persons=persons,
            suppressed=frozenset(suppressed),
            parent_contacts=parent_contacts,
            objected=_objected(store, query.objectable, EVERY_ROW),
            objected_unnumbered=_objected(store, query.objectable, (OWN_EMAIL,)),
            purged_parents=frozenset(purged),
            withheld_parents=frozenset(held),
            holders=holders,
            withdrawn=withdrawn,
        )


@dataclass
class Learnt:
    """What a job's later mappings withdraw that state does not hold yet, learnt before the
    job plans anything (``sync/withdrawal_learning.py``)."""

    # (mapping, key hash) → the record's withdrawals as its row now states them (maybe none).
    records: dict[tuple[str, str], list[KnownWithdrawal]] = field(default_factory=dict)
    # Mapping → key hashes of its records to map again (their persons' withdrawals changed).
    replan: dict[str, set[str]] = field(default_factory=dict)
    # Mapping → what its changed records' last rows state (a real run records these before it
    # plans: the mapping's own batches then record nothing, or a record's earlier row, planned
    # in an earlier batch, would be recorded and replaced again in every run).
    stated: dict[str, list[Stated]] = field(default_factory=dict)
    _by_hash: dict[str, list[KnownWithdrawal]] | None = field(default=None, repr=False)

    def among(
        self, held: Iterable[KnownWithdrawal], students: Iterable[str], emails: Iterable[str]
    ) -> list[KnownWithdrawal]:
        """``held`` (state's, for a batch's hashes) with the learnt records' in their place."""
        if not self.records:
            return list(held)
        if self._by_hash is None:  # indexed once: every batch of the run asks
            self._by_hash = {}
            for found in self.records.values():
                for w in found:
                    for h in {w.student_hash, w.email_hash}:
                        if h:
                            self._by_hash.setdefault(h, []).append(w)
        out = [w for w in held if (w.mapping, w.key_hash) not in self.records]
        seen: set[tuple[str, str, str]] = set()
        for h in {*students, *emails}:
            for w in self._by_hash.get(h, ()):
                if (w.mapping, w.key_hash, w.purpose) not in seen:
                    seen.add((w.mapping, w.key_hash, w.purpose))
                    out.append(w)
        return out


class WithheldParents:
    """Run-wide: the records of parent mappings the policy did not write (not justified).

    State holds nothing of a record that was never written, so a child cannot tell a student
    withheld on purpose (retention ran out before the first sync) from one missing for a real
    problem (a rejected row, a refusal, a key no row has). Mappings run parents first within a
    job: the parent's run notes here what it withheld, and its children's batches read it
    (:meth:`BatchState.load`) to skip those rows instead of rejecting them. Only mappings that
    another mapping refers to are kept (key hashes: no personal value). A child run in a job
    without its parent mapping learns nothing here and rejects such rows.
    """

    def __init__(self, parents: Iterable[str] = ()):
        self._keys: dict[str, set[str]] = {p: set() for p in parents}

    @classmethod
    def of(cls, compiled: Mapping[str, CompiledMapping]) -> WithheldParents:
        """One for a run of ``compiled``: kept for the mappings their refs point at."""
        return cls(p for c in compiled.values() for p in c.parents)

    def note(self, mapping: str, withheld: Iterable[str], written: Iterable[str]) -> None:
        """A batch of ``mapping`` withheld these key hashes and planned writes for those: a
        record a later row of the same run writes is no longer withheld."""
        keys = self._keys.get(mapping)
        if keys is None:
            return
        keys.difference_update(written)
        keys.update(withheld)

    def among(self, mapping: str, key_hashes: Iterable[str]) -> list[str]:
        """The ``key_hashes`` of ``mapping`` it withheld in this run."""
        keys = self._keys.get(mapping)
        return [h for h in key_hashes if h in keys] if keys else []


def _objected(
    store: StateStore, hashes: Sequence[str], kinds: Sequence[str]
) -> dict[str, frozenset[str]]:
    """The objections of ``kinds`` under ``hashes`` (no query when there is no hash)."""
    return store.objected(list(hashes), kinds=kinds) if hashes else {}
