"""Objection (GDPR art. 21): ``sis-sync object`` records that a person objects to purposes.

Like an erasure tombstone the objection is a keyed hash of what identifies the person (student
number, e-mail address), but the person stays: only the named purposes are never active for
them again, whatever later rows say (the policy's ``objected`` status, applied by the sync's
planner to every row carrying one of the hashes). Fields those purposes alone justified are
cleared by the next run, and the purposes' opt-out fields (``consent: {opt_out: FIELD}``) are
set to true. Nothing is deleted and nothing else is blocked: registrations, enrolment data and
the other purposes go on as before.

The default purposes are those a person can object to or withdraw from at any time: every
purpose with lawful basis ``consent`` or ``legitimate_interest`` (art. 21(1), 7(3)). A purpose
with basis ``public_task`` may be named (art. 21(1) covers art. 6(1)(e) too); ``contract``,
``legal_obligation`` and ``vital_interest`` are refused: art. 21 gives no right to object to
them.

Who it covers: ``--student-number`` names one student. It is recorded under their student hash
and, as ``own_email``, the address local state knows for them, which holds only for rows without
a student number (their registrations): a sibling sharing the address is never reached.
``--email`` for an address local state knows for several persons is refused (exit 2), as erase
and export refuse it; for one student it records as the student number does; for a prospect or
nobody known yet it holds for every row with the address.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connector.errors import ConfigError, UsageError
from connector.gdpr import requests
from connector.gdpr.erasure import Subject
from connector.gdpr.erasure_job import erasure_locks, run_lock_names
from connector.gdpr.receipts import Receipt
from connector.privacy.purposes import PurposesSpec
from connector.state import StateStore, open_existing
from connector.state.objections import OWN_EMAIL
from connector.state.requests import RequestRow

#: Lawful bases a person can object to (art. 21(1)) or withdraw (art. 7(3)) at any time.
OBJECTABLE = frozenset({"consent", "legitimate_interest"})
#: Lawful bases that may be named: art. 21(1) covers art. 6(1)(e) public task and (f).
NAMEABLE = OBJECTABLE | {"public_task"}


@dataclass(slots=True)
class ObjectionOutcome:
    """What ``sis-sync object`` found and did (keyed hashes, purpose and field names only).

    ``status``: ``planned`` (no --apply), ``recorded``, or ``already`` (every hash already
    carries every named purpose). ``hashes``: (hash, kind) recorded or to record — the given
    identifier plus the other one local state knows for the person. ``persons``: how many
    persons of local state it covers (0 or 1: a shared address is refused). ``reference``:
    the data-subject request it was recorded under, when requests are kept.
    """

    status: str
    hashes: list[tuple[str, str]]
    purposes: tuple[str, ...]
    opt_out_fields: tuple[str, ...]
    persons: int
    reference: str | None = None
    notes: list[str] = field(default_factory=list)


def default_purposes(spec: PurposesSpec) -> tuple[str, ...]:
    """Every purpose with basis consent or legitimate interest, in purposes.yaml's order."""
    return tuple(n for n, p in spec.purposes.items() if p.lawful_basis in OBJECTABLE)


def resolve_purposes(spec: PurposesSpec, names: Sequence[str] | None) -> tuple[str, ...]:
    """The purposes to object to: ``names`` checked against purposes.yaml, or the defaults.

    Raises ConfigError (exit 2, nothing written) for an unknown name or an empty list.
    """
    if names is None:
        chosen = default_purposes(spec)
        if not chosen:
            raise ConfigError(
                "purposes.yaml has no purpose with basis consent or legitimate_interest; "
                "name the purposes with --purposes"
            )
        return chosen
    wanted = [n.strip() for n in names if n.strip()]
    unknown = sorted(set(wanted) - set(spec.purposes))
    if unknown:
        known = ", ".join(spec.purposes)
        raise ConfigError(f"--purposes: unknown purpose(s) {', '.join(unknown)} (known: {known})")
    if not wanted:
        raise ConfigError("--purposes: name at least one purpose")
    refused = [n for n in wanted if spec.purposes[n].lawful_basis not in NAMEABLE]
    if refused:
        bases = ", ".join(f"{n} ({spec.purposes[n].lawful_basis})" for n in refused)
        raise ConfigError(
            f"--purposes: {bases} cannot be objected to: GDPR art. 21(1) covers processing on "
            "public task or legitimate interest (and direct marketing, 21(2)), art. 7(3) "
            "withdraws a consent; a contract, a legal obligation or a vital interest goes on "
            "whatever the person says"
        )
    return tuple(dict.fromkeys(wanted))


def opt_out_fields(spec: PurposesSpec, purposes: Sequence[str]) -> tuple[str, ...]:
    """The opt-out fields (``consent: {opt_out: FIELD}``) the objection sets to true."""
    fields = {
        p.consent.opt_out
        for n, p in spec.purposes.items()
        if n in purposes and p.consent is not None and p.consent.opt_out
    }
    return tuple(sorted(fields))


def _person_hashes(store: StateStore, subject: Subject) -> tuple[list[tuple[str, str]], int]:
    """The (hash, kind) pairs to record for ``subject`` and how many persons they cover.

    Raises UsageError (exit 2) for an e-mail address local state knows for several persons.
    """
    matches = store.find_persons(
        student_hashes=[subject.student_hash] if subject.student_hash else [],
        email_hashes=[subject.email_hash] if subject.email_hash else [],
    )
    if subject.student_hash:
        person = matches.by_student.get(subject.student_hash)
        hashes = [(subject.student_hash, "student")]
        if person is not None and person.email_hash:
            hashes.append((person.email_hash, OWN_EMAIL))
        return hashes, int(person is not None)
    email = subject.email_hash or ""
    found = matches.by_email.get(email, ())
    if len(found) > 1:
        raise UsageError(
            f"the e-mail address (hash {email}) belongs to {len(found)} persons in local state "
            "(a shared family address); an objection must not reach the others: name each "
            "person who objects with --student-number"
        )
    if found and found[0].student_hash:
        return [(found[0].student_hash, "student"), (email, OWN_EMAIL)], 1
    # A prospect without a student number, or nobody yet: the address is all there is.
    return [(email, "email")], len(found)


def object_person(
    settings: Any,
    subject: Subject,
    *,
    purposes: Sequence[str] | None = None,
    apply: bool = False,
) -> ObjectionOutcome:
    """The ``sis-sync object`` job: show (dry run) or record one person's objection.

    Args:
        settings: The loaded configuration.
        subject: From :func:`~connector.gdpr.erasure.subject_of`.
        purposes: Purpose names (``--purposes``); None for the default (consent and
            legitimate-interest purposes).
        apply: Record it; without it nothing is written anywhere.

    Raises:
        ConfigError: an unknown purpose, or one art. 21 does not cover (exit 2), before
            anything is written.
        UsageError: an e-mail address local state knows for several persons (exit 2).
        LockedError: a sync is running (the objection must not land between a run's read
            and its write of the same rows).
    """
    from connector.mapping import load_project

    project = load_project(settings.mappings)
    chosen = resolve_purposes(project.purposes, purposes)
    fields = opt_out_fields(project.purposes, chosen)
    now = settings.clock()
    store = open_existing(settings.state.url, create=apply)
    try:
        hashes, persons = _person_hashes(store, subject)
        have = store.objected([h for h, _ in hashes])
        if all(set(chosen) <= have.get(h, frozenset()) for h, _ in hashes):
            return ObjectionOutcome("already", hashes, chosen, fields, persons)
        if not apply:
            return ObjectionOutcome("planned", hashes, chosen, fields, persons)
        with erasure_locks(store, run_lock_names(settings)):
            request = _open_request(settings, store, hashes, chosen, now)
            store.add_objection(hashes, chosen, at=now, request_id=request.id)
        outcome = ObjectionOutcome("recorded", hashes, chosen, fields, persons, request.reference)
        _finish_request(settings, store, request, outcome, now)
        return outcome
    finally:
        store.close()


def _open_request(
    settings: Any,
    store: StateStore,
    hashes: list[tuple[str, str]],
    purposes: Sequence[str],
    now: datetime,
) -> RequestRow:
    """The data-subject request the objection is recorded under (``sis-sync requests``)."""
    folder = requests.receipts_dir(settings)
    return requests.open_request(store, "object", hashes, now=now, purposes=purposes, folder=folder)


def _finish_request(
    settings: Any, store: StateStore, request: RequestRow, outcome: ObjectionOutcome, now: datetime
) -> None:
    """Mark the request done with a receipt: the purposes and counts, nothing personal."""
    kinds: dict[str, int] = {}
    for _, kind in outcome.hashes:
        kinds[kind] = kinds.get(kind, 0) + 1
    receipt = Receipt(
        action="objected",
        purposes=outcome.purposes,
        notes=(
            "the objected purposes are never active again for this person; the next run "
            "clears the fields they alone justified"
            + (f" and sets {', '.join(outcome.opt_out_fields)}" if outcome.opt_out_fields else ""),
            "identifiers recorded (keyed hashes): "
            + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())),
        ),
    )
    requests.finish(
        store, request, receipt=receipt, now=now, folder=requests.receipts_dir(settings)
    )
