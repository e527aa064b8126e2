"""Identity: which person a record from a person mapping belongs to.

Rules (DESIGN §5, peers-and-pitfalls §3.9):

1. A student number identifies a person outright.
2. Without a known student number, a normalised e-mail address (as a keyed hash) may join the
   record to an existing person — the prospect who registered for an open day and now applies.
3. An e-mail never joins two *different* student numbers (siblings often share a parent's
   address), and a match on several persons is ambiguous: the record goes to a review list
   instead of being written, so staff decide rather than the connector guessing.
4. Never phone or name alone.

The resolution is a pure function over the candidates the state store returned for a batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class Match(StrEnum):
    """How a record relates to the persons already known."""

    NEW = "new"  # nobody known: create
    KNOWN = "known"  # same person by the record's strongest key
    JOIN = "join"  # a prospect found by e-mail gets a student number: same Contact, linked
    AMBIGUOUS = "ambiguous"  # several candidates: review, do not write


@dataclass(frozen=True, slots=True)
class Person:
    """A person as the state store knows them (hashes only)."""

    person_id: int
    sf_id: str | None
    student_hash: str | None
    email_hash: str | None


@dataclass(frozen=True, slots=True)
class Resolution:
    """The outcome for one record."""

    match: Match
    person: Person | None = None
    candidates: int = 0


def resolve(
    student_hash: str | None,
    email_hash: str | None,
    by_student: Person | None,
    by_email: Sequence[Person],
) -> Resolution:
    """Decide who a record is, from the persons found by its student-number and e-mail hashes."""
    if by_student is not None:
        return Resolution(Match.KNOWN, by_student, 1)
    if email_hash is None:
        return Resolution(Match.NEW)
    # Someone with another student number is a different person, whatever the e-mail says.
    candidates = [
        p for p in by_email if student_hash is None or p.student_hash in (None, student_hash)
    ]
    if not candidates:
        return Resolution(Match.NEW)
    if len(candidates) > 1:
        return Resolution(Match.AMBIGUOUS, None, len(candidates))
    person = candidates[0]
    if student_hash is not None and person.student_hash is None:
        return Resolution(Match.JOIN, person, 1)  # the prospect becomes a student
    return Resolution(Match.KNOWN, person, 1)
