"""The planner's person rules: which person a record belongs to, before its write is planned.

Part of the pure planning stage (``plan.py``: :class:`~connector.sync.plan.Planner` mixes
these in): no store, no I/O. :func:`connector.sync.identity.resolve` matches a record to the
persons state knows by student number and e-mail; these rules add what one batch needs on
top: a sibling who shares an e-mail address is a person of their own, a registration of a
student leaves the SIS's fields alone, a student joining a visitor's record leaves the
visitor's fields alone, and a person whose Contact was purged comes back new.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from connector.mapping.compile import CompiledMapping
from connector.mapping.models import MappingSpec
from connector.privacy.policy import OPTING_OUT
from connector.state.rows import KnownRow, PersonMatches, PersonRow
from connector.sync.identity import Match, Person, resolve

if TYPE_CHECKING:  # plan.py imports this module: its types only for the checker
    from connector.sync.batch_state import BatchState
    from connector.sync.plan import BatchPlan, Item

Hashes = tuple[str | None, str | None]  # (student hash, e-mail hash)

DUPLICATE_NUMBER = "duplicate student number"
NUMBER_HELD = (
    "student number belongs to another record of this mapping (synced before): this row is "
    "written once that record has left the export"
)


@dataclass(frozen=True, slots=True)
class Taken:
    """Another record of the mapping holds a row's student number (:meth:`PersonRules.taken`).

    ``reason`` names the holder's line when the run has read it, else it is
    :data:`NUMBER_HELD` (a live record in state). The row is rejected with it, unless the
    engine plans the row again at the end of a source that may yet mark the holder deleted
    (``held_rows.py``).
    """

    column: str
    reason: str


@dataclass(frozen=True, slots=True)
class Who:
    """The person a record is written for.

    ``person``: a person state knows (None: none, or a new one); ``new_person``: the identity
    of a person this write creates; ``link``: the identity hashes this write adds to
    ``person`` (a prospect joined to a student number, or a new e-mail address).
    """

    person: Person | None
    new_person: Hashes | None = None
    link: Hashes | None = None


class PersonRules:
    """Person rules of :class:`~connector.sync.plan.Planner`; it sets these attributes."""

    # Prospects joined to a student number in this run (person id → student hash).
    claimed: dict[int, str]
    # Fields an SIS mapping writes on the same object: the SIS owns them for a student.
    sis_fields: frozenset[str]
    # Fields other mappings write on the same object, as sent (_joined_clears).
    shared_fields: frozenset[str]
    # identity.student_number of a `duplicates: report` mapping (None: the rule is off).
    number_column: str | None

    def taken(
        self,
        it: Item,
        persons: PersonMatches | None,
        state: BatchState,
        numbers: dict[str, tuple[str, int]],
    ) -> Taken | None:
        """Who else of this mapping holds ``it``'s student number, if anyone does.

        Two records of one mapping (two keys) with one student number would write one
        student's Contact: the upsert by external id or the write by the person's Salesforce
        Id lets the later row overwrite the earlier person's data without a word (a OneRoster
        export keyed on ``sourcedId`` with one ``identifier`` on two users). The record that
        holds the number first keeps it — an earlier row of this run (this batch's, or
        ``state.claimed`` from the run's key ledger), else a live record in state (not purged,
        still in the last full export) — and this row is rejected with the other's line when
        the run has read it. A record that has left the export (or that the source marked
        deleted) no longer holds its number: the SIS re-created the student under a new key,
        who takes it over.
        ``numbers`` collects this batch's claims (student hash → key hash, line); the engine
        keeps them in its ledger for the batches that follow.
        """
        assert self.number_column is not None
        res = it.res
        student_hash = res.identity[0]
        assert student_hash is not None
        other = numbers.get(student_hash) or state.claimed.get(student_hash)
        if other is not None and other[0] != res.key_hash:
            return Taken(
                self.number_column, f"{DUPLICATE_NUMBER}: line {other[1]} has it under another key"
            )
        person = persons.by_student.get(student_hash) if persons is not None else None
        held = state.holders.get(person.person_id, ()) if person is not None else ()
        others = [k for k in held if k != res.key_hash]
        if others:
            lines = [state.holder_lines[k] for k in others if k in state.holder_lines]
            if lines:
                return Taken(
                    self.number_column,
                    f"{DUPLICATE_NUMBER}: line {min(lines)} has it under another key",
                )
            return Taken(self.number_column, NUMBER_HELD)
        numbers[student_hash] = (res.key_hash, it.rec.line)
        return None

    def _who(
        self,
        it: Item,
        prev: KnownRow | None,
        persons: PersonMatches | None,
        out: BatchPlan,
        payload: dict[str, Any],
        clear: dict[str, str],
        stale_id: str | None,
    ) -> Who | None:
        """The person ``it`` is written for; None when the match is ambiguous (the record is
        held for review, in ``out.review``). Drops the SIS's fields from ``payload`` and
        ``clear`` for a registration of a student (but a withdrawal's clear of what this
        mapping wrote); counts joins in ``out.joined``."""
        if persons is None:
            return Who(None)
        res = it.res
        new_person: Hashes | None = None
        link: Hashes | None = None
        student_hash, email_hash = res.identity
        by_student = persons.by_student.get(student_hash) if student_hash else None
        by_email = persons.by_email.get(email_hash, ()) if email_hash else ()
        resolution = resolve(
            student_hash, email_hash, _p(by_student), [_person(p) for p in by_email]
        )
        if resolution.match is Match.AMBIGUOUS:
            out.review.append((it.rec.origin, resolution.candidates))
            return None
        person = resolution.person
        if resolution.match is Match.NEW and prev is not None and prev.person_id is not None:
            # Nothing to match on (no SIS number, no e-mail, or a number no person has: the
            # SIS renumbered the student): the record's own history says who it is.
            person = Person(prev.person_id, prev.sf_id, student_hash, email_hash)
            if student_hash is not None:
                # The person carries the new number from now on, so a later run finds its
                # holder: another key with it is refused, not let to upsert onto this
                # Contact by its external id (PersonRules.taken).
                link = (student_hash, None)
        elif resolution.match is Match.NEW:
            new_person = (student_hash, email_hash)
        elif (
            resolution.match is Match.JOIN
            and person is not None
            and student_hash is not None
            and self.claimed.get(person.person_id, student_hash) != student_hash
        ):
            person, new_person = None, (student_hash, email_hash)  # a sibling: a new person
        elif resolution.match is Match.JOIN and person is not None and student_hash:
            out.joined += 1
            link = (student_hash, email_hash)
            self.claimed[person.person_id] = student_hash
        elif person is not None and email_hash and person.email_hash != email_hash:
            link = (None, email_hash)  # same person, new address: follow it
        if person is not None and person.student_hash and not student_hash and self.sis_fields:
            # An event registration of a student: the SIS is the record of what it holds
            # (name, status, address); this mapping adds only what the SIS does not map. But
            # a withdrawal this row states (`nee`, an objection) still clears what this
            # mapping wrote there itself (diff clears only that): a visitor's consent kept on
            # the Contact a student joined (_joined_clears) is cleared by her own later "nee"
            # — nobody else would. A field this mapping never wrote stays the SIS's: its
            # newer "ja" outweighs an older "nee" by the withdrawal rules (OptOutRules).
            for fld in self.sis_fields:
                payload.pop(fld, None)
                if prev is None or clear.get(fld) not in OPTING_OUT:
                    clear.pop(fld, None)
        if person is not None and stale_id is not None and person.sf_id == stale_id:
            # The person's Contact was purged: they come back as a new Contact.
            person = Person(person.person_id, None, person.student_hash, person.email_hash)
        return Who(person, new_person, link)

    def _joined_clears(self, clear: dict[str, str]) -> dict[str, str]:
        """The withheld fields to send as null on a person's record another mapping wrote.

        This mapping never wrote the record (``prev`` None) but state knows the person's
        Salesforce Id: a student joining an open-day visitor's Contact. A record state does not
        know carries its withheld fields as null (``diff.diff``), which is right for its own
        fields; but a field the other mapping writes holds that mapping's value — the visitor's
        news consent — and this row's lack of an answer says nothing about it. Only a
        withdrawal this row states (``nee``, an objection) clears it: the person's withdrawal
        reaches the shared record (art. 7(3), art. 21); anything else leaves it as the other
        wrote it. (An older ``nee`` than the other record's ``ja`` clears it too: the planner
        knows no other record's consent moment — docs/privacy.md.)
        """
        return {
            f: why for f, why in clear.items() if f not in self.shared_fields or why in OPTING_OUT
        }


def _person(row: PersonRow) -> Person:
    return Person(row.person_id, row.sf_id, row.student_hash, row.email_hash)


def _p(row: PersonRow | None) -> Person | None:
    return None if row is None else _person(row)


def shared_fields(
    compiled: dict[str, CompiledMapping], mapping: str, spec: MappingSpec
) -> frozenset[str]:
    """Fields that other mappings write on ``spec``'s object (not its external id)."""
    return _written_on(spec, (c for name, c in compiled.items() if name != mapping))


def sis_owned_fields(compiled: dict[str, CompiledMapping], spec: MappingSpec) -> frozenset[str]:
    """Fields that mappings identifying people by student number write on ``spec``'s object."""
    if spec.identity is not None and spec.identity.student_number:
        return frozenset()
    sis = (
        c
        for c in compiled.values()
        if c.spec.identity is not None and c.spec.identity.student_number
    )
    return _written_on(spec, sis)


def _written_on(spec: MappingSpec, others: Iterable[CompiledMapping]) -> frozenset[str]:
    """The fields ``others`` write on ``spec``'s object, but ``spec``'s external id."""
    fields = {
        f for c in others if c.spec.target.object == spec.target.object for f in c.spec.fields
    }
    return frozenset(fields - {spec.target.external_id})
