"""Objection (GDPR art. 21): ``sis-sync object`` records that a person objects to purposes.

Like an erasure tombstone the objection is a keyed hash of what identifies the person (student
number, e-mail address), but the person stays: only the named purposes are never active for
them again, whatever later rows say (the policy's ``objected`` status, applied by the sync's
planner to every row carrying one of the hashes). Fields those purposes alone justified are
cleared by the next run. The purposes' opt-out fields (``consent: {opt_out: FIELD}``; on a
person account the Account's ``Person…``/``…__pc`` fields, as the sync maps them) and
``Individual.HasOptedOutSolicit`` (behind ``IndividualId``, on a person account
``PersonIndividualId``) are set to true at once, on the person's records in
Salesforce found through local state and, for a person local state does not know (a lost
state, a Contact staff made), by the person mappings' external ids and e-mail fields
(:mod:`connector.gdpr.objection_reach`): the objection reaches Salesforce now, not only when a
later run maps a row. Order, as for an erasure: the request and the local objection are
recorded first; Salesforce unreachable leaves the request open (exit 3), a refused record
leaves it open with the error code (exit 1), and so does a flag that is still not true when
read back, or one the sync sets that the object lacks (``NOT_SET``, ``FIELD_MISSING``): a
request is done only when what it had to set is set. Asking again continues it. Nothing is deleted
and nothing else is blocked: registrations, enrolment data and the other purposes go on as
before.

The default purposes are those a person can object to or withdraw from at any time: every
purpose with lawful basis ``consent`` or ``legitimate_interest`` (art. 21(1), 7(3)). A purpose
with basis ``public_task`` may be named (art. 21(1) covers art. 6(1)(e) too); ``contract``,
``legal_obligation`` and ``vital_interest`` are refused: art. 21 gives no right to object to
them.

Who it covers: ``--student-number`` names one student. It is recorded under their student hash
and, as ``own_email``, the address local state knows for them, which holds only for rows without
a student number (their registrations): a sibling sharing the address is never reached.
``--email`` for an address local state, or Salesforce, knows for several persons is refused
(exit 2), as erase and export refuse it; for one student it records as the student number
does; for a prospect or nobody known yet it holds for every row with the address.
The identifiers held by the records found in Salesforce are recorded too (keyed hashes, as an
erasure tombstones them): after a lost state, the e-mail address on the student's record
(``own_email``) and, for ``--email``, the student number there, so a later registration with
that address is held by the objection instead of raising an opt-out conflict.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connector.clock import school_date
from connector.errors import ConfigError, SalesforceUnreachable, UsageError
from connector.gdpr import requests
from connector.gdpr.erasure import Subject
from connector.gdpr.erasure_job import erasure_locks, run_lock_names, salesforce_writer
from connector.gdpr.objection_reach import (
    Marks,
    ObjectFlags,
    apply_marks,
    flags_set,
    local_targets,
    object_flags,
    plan_marks,
    unset_after,
)
from connector.gdpr.person_lookup import FoundRecord, find_in_salesforce, probes_for
from connector.gdpr.receipts import Receipt
from connector.hashing import KeyHasher
from connector.privacy.purposes import PurposesSpec
from connector.state import PersonRow, StateStore, open_existing
from connector.state.objections import OWN_EMAIL
from connector.state.requests import RequestRow

#: Lawful bases a person can object to (art. 21(1)) or withdraw (art. 7(3)) at any time.
OBJECTABLE = frozenset({"consent", "legitimate_interest"})
#: Lawful bases that may be named: art. 21(1) covers art. 6(1)(e) public task and (f).
NAMEABLE = OBJECTABLE | {"public_task"}


@dataclass(slots=True)
class ObjectionOutcome:
    """What ``sis-sync object`` found and did (keyed hashes, object and field names only).

    ``status``: ``planned`` (no --apply), ``recorded``, ``already`` (every hash already
    carries every named purpose and Salesforce has every flag set), ``open`` (Salesforce
    could not be reached: recorded locally, the request stays open; ``cause`` says why) or
    ``incomplete`` (Salesforce refused a record, or a flag is not set when read back:
    ``failed`` names object and error code). ``hashes``: (hash, kind) recorded or to record —
    the given identifier plus the other one local state knows for the person and those the
    records found in Salesforce hold. ``persons``: how many persons of local state it covers
    (0 or 1: a shared address is refused). ``found``: the person's records in Salesforce per
    object (Individuals included); ``changes``: records whose flags are (to be) set, per
    object; ``flags``: object → the fields set there (a person account's ``Person…`` names).
    ``reference``/``request``: the data-subject request it was recorded under.
    """

    status: str
    hashes: list[tuple[str, str]]
    purposes: tuple[str, ...]
    opt_out_fields: tuple[str, ...]
    persons: int
    reference: str | None = None
    notes: list[str] = field(default_factory=list)
    found: dict[str, int] = field(default_factory=dict)
    changes: dict[str, int] = field(default_factory=dict)
    failed: list[tuple[str, str]] = field(default_factory=list)
    flags: dict[str, tuple[str, ...]] = field(default_factory=dict)
    request: RequestRow | None = None
    cause: str = ""

    @property
    def exit_code(self) -> int:
        """0 recorded, planned or already; 1 a record refused; 3 Salesforce unreachable."""
        return {"open": 3, "incomplete": 1}.get(self.status, 0)


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


def _person_hashes(
    store: StateStore, subject: Subject
) -> tuple[list[tuple[str, str]], list[PersonRow]]:
    """The (hash, kind) pairs to record for ``subject`` and the persons of local state they
    cover (none or one: a shared address is refused).

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
        return hashes, [person] if person is not None else []
    email = subject.email_hash or ""
    found = matches.by_email.get(email, ())
    if len(found) > 1:
        raise UsageError(
            f"the e-mail address (hash {email}) belongs to {len(found)} persons in local state "
            "(a shared family address); an objection must not reach the others: name each "
            "person who objects with --student-number"
        )
    if found and found[0].student_hash:
        return [(found[0].student_hash, "student"), (email, OWN_EMAIL)], list(found)
    # A prospect without a student number, or nobody yet: the address is all there is.
    return [(email, "email")], list(found)


def with_found(
    hashes: Sequence[tuple[str, str]], found: Sequence[FoundRecord]
) -> list[tuple[str, str]]:
    """``hashes`` plus the identifiers the person's records in Salesforce hold (keyed hashes,
    :attr:`~connector.gdpr.person_lookup.FoundRecord.identities`), kinds as for local state:
    with a student number (given or found) an address is ``own_email`` (rows without a student
    number only: a sibling sharing it is never reached), without one it is ``email``. Mapping
    key hashes are not identities a row is matched by and are left out."""
    held = [(h, k) for rec in found for h, k in rec.identities if k in ("student", "email")]
    numbered = any(k == "student" for _, k in [*hashes, *held])
    out = dict(hashes)
    for h, k in held:
        if h not in out or (out[h] == "email" and numbered):
            out[h] = OWN_EMAIL if k == "email" and numbered else k
    if numbered:
        # An address given with --email whose record turned out to be a student's: recorded as
        # local state records it (``_person_hashes``), never for a sibling's numbered rows.
        out = {h: OWN_EMAIL if k == "email" else k for h, k in out.items()}
    # Student hashes first: the request's subject reads as the person, then their address.
    return sorted(out.items(), key=lambda hk: hk[1] != "student")


def object_person(
    settings: Any,
    subject: Subject,
    *,
    purposes: Sequence[str] | None = None,
    apply: bool = False,
    hasher: KeyHasher,
    student_number: str | None = None,
    email: str | None = None,
    writer_factory: Any = None,
) -> ObjectionOutcome:
    """The ``sis-sync object`` job: show (dry run) or record one person's objection, and set
    the opt-out flags on the person's records in Salesforce (:mod:`objection_reach`).

    Args:
        settings: The loaded configuration.
        subject: From :func:`~connector.gdpr.erasure.subject_of`.
        purposes: Purpose names (``--purposes``); None for the default (consent and
            legitimate-interest purposes).
        apply: Record it and mark the records; without it nothing is written anywhere
            (Salesforce is only queried, when it can be reached).
        hasher: The keyed hasher (to compile the mappings for the Salesforce look-up).
        student_number: The identifier as given (memory only), to find the person's records
            in Salesforce by the person mappings' external ids and fields.
        email: Likewise.
        writer_factory: Builds the Salesforce writer (default: the configured org).

    Raises:
        ConfigError: an unknown purpose, or one art. 21 does not cover (exit 2), before
            anything is written.
        UsageError: an e-mail address local state, or Salesforce, knows for several persons
            (exit 2), before anything is written.
        LockedError: a sync is running (the objection must not land between a run's read
            and its write of the same rows).
    """
    from connector.mapping import load_project

    project = load_project(settings.mappings)
    chosen = resolve_purposes(project.purposes, purposes)  # exit 2 before anything is opened
    fields = opt_out_fields(project.purposes, chosen)
    store = open_existing(settings.state.url, create=apply)
    try:
        now = settings.clock()
        compiled = {
            n: project.compile(n, hasher=hasher, today=school_date(now)) for n in project.mappings
        }
        per_object = object_flags(project, compiled, chosen, fields)
        hashes, persons = _person_hashes(store, subject)
        probes = probes_for(project, compiled, student_number=student_number, email=email)
        targets = local_targets(store, project, persons)
        base = ObjectionOutcome("planned", hashes, chosen, fields, len(persons))
        with contextlib.ExitStack() as locks:
            if apply:
                locks.enter_context(erasure_locks(store, run_lock_names(settings)))
            try:
                writer = (writer_factory or salesforce_writer)(settings)
                found = find_in_salesforce(
                    writer, probes, project=project, compiled=compiled, hasher=hasher
                )
                targets += [(r.object, r.sf_id) for r in found]
                marks = plan_marks(writer, targets, fields, per_object)
            except SalesforceUnreachable as exc:
                base.cause = exc.cause
                if not apply:
                    return base
                return _unreachable(settings, store, base, exc, now)
            base.found, base.changes = dict(marks.found), marks.changes()
            base.flags = dict(flags_set(marks))
            base.hashes = with_found(hashes, found)
            have = store.objected([h for h, _ in base.hashes])
            recorded = all(set(chosen) <= have.get(h, frozenset()) for h, _ in base.hashes)
            pending = _pending(store, base.hashes, hashes) if apply else None
            if recorded and not base.changes and not marks.missing and pending is None:
                base.status = "already"
                return base
            if not apply:
                return base
            return _record(
                settings, store, writer, base, marks, pending, now, (targets, per_object)
            )
    finally:
        store.close()


def _pending(
    store: StateStore, hashes: Sequence[tuple[str, str]], local: Sequence[tuple[str, str]]
) -> RequestRow | None:
    """The open request to continue: by every identifier now known, or by those local state
    alone named when it was opened (Salesforce was down then, so it found nothing more)."""
    return requests.find_open(store, "object", _named(hashes)) or requests.find_open(
        store, "object", _named(local)
    )


def _named(hashes: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The hashes an open request is found by (the kinds the officer can name)."""
    return [(h, k) for h, k in hashes if k in ("student", "email")]


def _start(
    settings: Any, store: StateStore, outcome: ObjectionOutcome, pending: RequestRow | None,
    now: datetime,
) -> RequestRow:  # fmt: skip
    """Continue the open request (or open one) and record the durable objection under it,
    before anything in Salesforce changes."""
    request = pending or requests.open_request(
        store, "object", outcome.hashes, now=now, purposes=outcome.purposes,
        folder=requests.receipts_dir(settings),
    )  # fmt: skip
    store.add_objection(outcome.hashes, outcome.purposes, at=now, request_id=request.id)
    outcome.reference = request.reference
    return request


def _unreachable(
    settings: Any, store: StateStore, outcome: ObjectionOutcome, exc: SalesforceUnreachable,
    now: datetime,
) -> ObjectionOutcome:  # fmt: skip
    """Salesforce is down: the objection holds locally, the request stays open (exit 3)."""
    pending = requests.find_open(store, "object", _named(outcome.hashes))
    request = _start(settings, store, outcome, pending, now)
    outcome.request = requests.note_attempt(store, request, error=exc.code or "UNREACHABLE")
    outcome.status = "open"
    return outcome


def _record(
    settings: Any, store: StateStore, writer: Any, outcome: ObjectionOutcome, marks: Marks,
    pending: RequestRow | None, now: datetime,
    reach: tuple[list[tuple[str, str]], dict[str, ObjectFlags]],
) -> ObjectionOutcome:  # fmt: skip
    """Record the objection, set the flags in Salesforce, read them back, and finish the
    request (or keep it open with the cause when Salesforce refused a record, went down
    half-way, or a flag it had to set is not set)."""
    request = _start(settings, store, outcome, pending, now)
    targets, per_object = reach
    try:
        changed, failed = apply_marks(writer, marks)
        if not failed:
            # Done means set: an accepted update a trigger undid, or a flag the sync sets that
            # the object lacks, must not close the request (issue #9: a person account).
            failed = unset_after(writer, targets, outcome.opt_out_fields, per_object)
    except SalesforceUnreachable as exc:
        outcome.cause = exc.cause
        outcome.request = requests.note_attempt(store, request, error=exc.code or "UNREACHABLE")
        outcome.status = "open"
        return outcome
    outcome.changes = changed
    if failed:
        outcome.failed = failed
        outcome.request = requests.note_attempt(store, request, error=failed[0][1])
        outcome.status = "incomplete"
        return outcome
    outcome.status = "recorded"
    outcome.request = _finish_request(settings, store, request, outcome, marks, now)
    return outcome


def _finish_request(
    settings: Any,
    store: StateStore,
    request: RequestRow,
    outcome: ObjectionOutcome,
    marks: Marks,
    now: datetime,
) -> RequestRow:
    """Mark the request done with a receipt: objects, counts and field names, nothing personal."""
    kinds: dict[str, int] = {}
    for _, kind in outcome.hashes:
        kinds[kind] = kinds.get(kind, 0) + 1
    flags = flags_set(marks)
    notes = [
        "the objected purposes are never active again for this person; the next run "
        "clears the fields they alone justified",
        "identifiers recorded (keyed hashes): "
        + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())),
    ]
    if flags:
        notes.append(
            "set to true in Salesforce where not yet: "
            + "; ".join(f"{obj} {', '.join(f)}" for obj, f in sorted(flags.items()))
        )
    if not marks.found:
        notes.append("no record of this person in Salesforce yet: the flags follow their first row")
    receipt = Receipt(
        action="marked", records=outcome.changes, purposes=outcome.purposes, notes=tuple(notes)
    )
    return requests.finish(
        store, request, receipt=receipt, now=now, folder=requests.receipts_dir(settings)
    )
