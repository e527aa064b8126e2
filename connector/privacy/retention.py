"""The retention purge (DESIGN §6): delete what no purpose justifies any longer.

The rule, per record of a mapping, on a date D: the record is expired when **every** purpose its
fields name (the union of ``fields[*].purposes``) has expired, and a purpose has expired when

- its ``retention: {after: ANCHOR, keep: DURATION}`` anchor date + ``keep`` lies before D
  (calendar arithmetic in the school's days, Europe/Amsterdam; month ends clamp: 31 Jan + P1M =
  28/29 Feb), or
- it is a consent purpose whose consent was never given for this record (no field of the
  purpose was sent and no withdrawal is recorded): such a purpose justified nothing.

- it can never be active for the record's mapping (:func:`never_active`: e.g. ``active_in:
  [prospect]`` on a mapping whose lifecycle yields only enrolled and ended): it never sent a
  field, so it justifies nothing and must not keep the record alive for good.

A purpose without ``retention`` never expires by itself, nor does one whose anchor is not set
yet (a student still enrolled has no ``lifecycle_end``, a consent never withdrawn no
``consent_withdrawn``). Anchors come from local state (``last_seen``, ``lifecycle_end_at``,
``event_date``, ``consent_withdrawn_at[purpose]``).

Records of mappings without ``identity`` (CampaignMember, Task, Campaign…) are deleted when they
are expired. A person's own records (mappings with ``identity``: Contacts) go only when every
record of the person across all mappings is expired or already purged, and the Salesforce
children of the person that a mapping wrote are expired too; then the person's whole graph goes,
children first (:func:`connector.gdpr.erasure.person_graph`). Unlike erasure there is no
tombstone: the purged rows are marked deleted in state (a later sync does not recreate them).

**A record without an anchor of its own follows its person** (issue #10.4): a purpose anchored
on ``lifecycle_end`` in a mapping without ``lifecycle:`` (or on ``event_date`` without
``event_date:``) is never reached by the record itself: a LearnerProgram, IndividualApplication,
Affiliation or Program Enrollment learns nothing of the student's end. Such a purpose takes its
person's: on its own the record never expires (nothing to anchor on), and in the graph of a
person the purge deletes it counts as expired with them
(:meth:`MappingRule.judge_with_person`), so it neither keeps its person alive nor stays behind.
A record that does carry the anchor (it left a guarded full export, or its mapping has a
lifecycle) is judged on its own date, and a consent it holds still counts.

**Per-field minimisation** (GDPR art. 5(1)(c)): a record that stays (another purpose still
holds) loses the fields whose every purpose has expired (:func:`expired_fields`): an ended
student with a news consent keeps the consent's fields, not their address or birth date. The
external id, required fields, parent references and the CRM's opt-out and owned fields are
never cleared this way (Salesforce refuses a Contact without LastName; the external id is how
the record is found again).

This module is the pure rule (values in, values out); finding the candidates in local state and
the purge itself are jobs, in :mod:`connector.gdpr.purge_plan` and :mod:`connector.gdpr.purge_job`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from connector.clock import school_date
from connector.privacy.purposes import Duration, PurposeSpec

if TYPE_CHECKING:  # the rule only reads state's row type: importing privacy loads no database
    from connector.state.rows import SyncedRow


@dataclass(frozen=True, slots=True)
class Expiry:
    """Where one purpose of one record stands on a date.

    ``expires_on`` is the last day the purpose still covers (anchor date + keep: the record is
    expired from the day after, as in the policy's ``today <= anchor + keep``); None when it never
    expires by itself (no retention, no anchor yet). ``note`` explains a None or a
    purpose that justified nothing.
    """

    purpose: str
    anchor: str | None
    expires_on: date | None
    expired: bool
    note: str = ""
    keep: str = ""

    @property
    def reason(self) -> str:
        """The reason in words (purpose, anchor and rule; never a personal value)."""
        if self.note:
            return f"{self.purpose}: {self.note}"
        return f"{self.purpose}: {self.anchor} + {self.keep}"


def left_export(row: SyncedRow, left_before: datetime | None) -> bool:
    """Whether a record of a full export has left it: its ``last_seen`` lies before the last run
    whose export passed the size guard (``left_before``; None: not a guarded full export)."""
    return left_before is not None and row.last_seen < left_before


def anchor_value(
    row: SyncedRow, anchor: str, purpose: str, left_before: datetime | None = None
) -> date | None:
    """The date of ``anchor`` for a record (the school's calendar day), or None when not set.

    For a guarded full export (``left_before`` given): ``last_seen`` counts only once the record
    left the export, and a record that left it without a lifecycle end is ended on the day it
    was last seen (a student who disappears does not stay enrolled forever).
    """
    if anchor == "last_seen":
        value: date | datetime | None = row.last_seen
        if left_before is not None and not left_export(row, left_before):
            value = None  # still in the export
    elif anchor == "lifecycle_end":
        value = row.lifecycle_end_at
        if value is None and left_export(row, left_before):
            value = row.last_seen
    elif anchor == "event_date":
        value = row.event_date
    elif anchor == "consent_withdrawn":
        value = row.consent_withdrawn_at.get(purpose)
    else:
        raise ValueError(f"unknown retention anchor {anchor!r}")
    if isinstance(value, datetime):
        return school_date(value)
    return value


def consent_held(row: SyncedRow, purpose: str, fields: frozenset[str]) -> bool:
    """Whether a consent purpose ever covered this record: one of its fields is in Salesforce
    (a non-empty field hash) or a withdrawal is recorded."""
    return purpose in row.consent_withdrawn_at or any(row.field_hashes.get(f) for f in fields)


def own_anchor(mapping: Any, anchor: str) -> bool:
    """Whether records of ``mapping`` can carry ``anchor`` themselves: ``lifecycle_end`` needs a
    ``lifecycle:``, ``event_date`` an ``event_date:`` (``last_seen`` and a withdrawal are always
    the record's own). A purpose anchored elsewhere follows the record's person."""
    if anchor == "lifecycle_end":
        return getattr(mapping, "lifecycle", None) is not None
    if anchor == "event_date":
        return getattr(mapping, "event_date", None) is not None
    return True


def with_person(
    expiries: Sequence[Expiry], borrowed: frozenset[str], *, person_stays: bool = False
) -> list[Expiry]:
    """``expiries`` of a child record whose person the purge deletes: each ``borrowed`` purpose
    (anchored on what the record's mapping never sets) whose anchor the record does not carry
    counts as expired with its person. ``person_stays``: the purpose expired for a person who
    stays (a consent still holds), and the reason says so. Pure."""
    if person_stays:
        note = "expired for its person (no {} of its own); the person stays"
    else:
        note = "with its person (no {} of its own)"
    return [
        Expiry(e.purpose, e.anchor, None, True, note.format(e.anchor))
        if e.purpose in borrowed and not e.expired and e.expires_on is None and e.anchor
        else e
        for e in expiries
    ]


def possible_phases(mapping: Any) -> frozenset[str] | None:
    """The lifecycle phases records of a mapping can be in; None without a lifecycle (every
    record is then in its active phase, DESIGN §6)."""
    life = getattr(mapping, "lifecycle", None)
    if life is None:
        return None
    if life.phase is not None:
        return frozenset({life.phase})
    found = {p for p in ("prospect", "applied", "enrolled", "ended") if getattr(life, p)}
    if life.other != "reject":
        found.add(life.other)
    return frozenset(found)


def never_active(spec: PurposeSpec, mapping: Any) -> str | None:
    """Why purpose ``spec`` can never be active for a record of ``mapping``, or None.

    - a purpose on another basis than consent whose ``active_in`` phases the mapping's
      lifecycle never yields (and that is not kept after lifecycle_end in an ended phase);
    - a consent purpose with a minimum age, without a ``by`` column (so no parent can be
      recorded) while the mapping gives no ``subject_birthdate``: an unknown age counts as a
      minor's, so the consent never counts.
    """
    if spec.lawful_basis == "consent":
        if (
            spec.min_age > 0
            and spec.consent is not None
            and spec.consent.by is None
            and getattr(mapping, "subject_birthdate", None) is None
        ):
            return (
                f"consent under min_age {spec.min_age} needs a parent, but the consent has no "
                "`by` column and the mapping no subject_birthdate"
            )
        return None
    phases = possible_phases(mapping)
    if phases is None:
        return None
    wanted = spec.phases()
    if wanted & phases:
        return None
    kept = spec.retention is not None and spec.retention.after == "lifecycle_end"
    if kept and "ended" in phases and wanted & {"applied", "enrolled"}:
        return None  # active in the ended phase until its retention runs out
    return f"active_in {sorted(wanted)} but the mapping's lifecycle yields only {sorted(phases)}"


def purpose_expiry(
    name: str,
    spec: PurposeSpec,
    row: SyncedRow,
    fields: frozenset[str],
    on: date,
    inert: str | None = None,
    left_before: datetime | None = None,
) -> Expiry:
    """Whether purpose ``name`` still justifies ``row`` on date ``on``.

    ``inert`` says why the purpose can never be active for the row's mapping
    (:func:`never_active`): such a purpose justified nothing.
    """
    if inert:
        return Expiry(name, None, None, True, "never active for this mapping")
    if spec.lawful_basis == "consent" and not consent_held(row, name, fields):
        return Expiry(name, None, None, True, "consent never given")
    retention = spec.retention
    if retention is None:
        return Expiry(name, None, None, False, "no retention set, never expires by itself")
    start = anchor_value(row, retention.after, name, left_before)
    if start is None:
        return Expiry(name, retention.after, None, False, f"{retention.after} not reached")
    until = retention.duration.after(start)
    return Expiry(name, retention.after, until, until < on, keep=retention.keep)


def record_expiries(
    row: SyncedRow,
    purposes: Mapping[str, PurposeSpec],
    fields_by_purpose: Mapping[str, frozenset[str]],
    on: date,
    inert: Mapping[str, str] | None = None,
    left_before: datetime | None = None,
) -> list[Expiry]:
    """Every purpose of the record's mapping, judged on ``on`` (see :func:`is_expired`);
    ``inert``: purposes that can never be active for the mapping, with why."""
    inert = inert or {}
    return [
        purpose_expiry(name, purposes[name], row, fields, on, inert.get(name), left_before)
        for name, fields in sorted(fields_by_purpose.items())
    ]


def expired_fields(
    row: SyncedRow,
    expiries: Sequence[Expiry],
    field_purposes: Mapping[str, Sequence[str]],
    protected: frozenset[str],
) -> list[str]:
    """The fields of a record that stays which no unexpired purpose justifies any longer and
    that Salesforce still holds (a non-empty field hash): the purge clears them (art. 5(1)(c)).

    ``protected`` fields are never cleared here (external id, required fields, references,
    opt-out and CRM-owned fields).
    """
    done = {e.purpose for e in expiries if e.expired}
    if not done:
        return []
    return sorted(
        f
        for f, purposes in field_purposes.items()
        if f not in protected
        and purposes
        and all(p in done for p in purposes)
        and row.field_hashes.get(f)
    )


def is_expired(expiries: Sequence[Expiry]) -> bool:
    """A record is expired when every purpose that could justify it has expired."""
    return bool(expiries) and all(e.expired for e in expiries)


def reason_of(expiries: Sequence[Expiry], *, dates: bool = True) -> str:
    """One line saying why a record expired: purposes, anchors and (with ``dates``) the day each
    purpose stopped covering it. No personal values."""
    parts = []
    for e in expiries:
        parts.append(f"{e.reason} ended {e.expires_on}" if dates and e.expires_on else e.reason)
    return "retention: " + "; ".join(parts)


def fields_by_purpose(spec: Any) -> dict[str, frozenset[str]]:
    """Purpose → the target fields of a mapping that name it."""
    out: dict[str, set[str]] = {}
    for fname, fspec in spec.fields.items():
        for p in fspec.purposes:
            out.setdefault(p, set()).add(fname)
    return {p: frozenset(f) for p, f in out.items()}


def loose_cutoff(on: date, keep: Duration) -> datetime:
    """A cutoff for :meth:`StateStore.expired`: every anchor with anchor + keep < ``on`` lies
    before it (a few days' slack for month-end clamping; the exact rule filters afterwards)."""
    month_index = on.year * 12 + on.month - 1 - keep.months - 12 * keep.years
    year, month = divmod(month_index, 12)
    back = date(year, month + 1, 1) + timedelta(days=on.day - 1 - keep.days + 4)
    return datetime.combine(back, time(), tzinfo=UTC)


class MappingRule:
    """The retention rule of one mapping: its purposes, which of them drive, how a row is judged."""

    def __init__(
        self,
        name: str,
        spec: Any,
        purposes: Mapping[str, PurposeSpec],
        left_before: datetime | None = None,
    ):
        self.name, self.spec = name, spec
        # The time of the last full export that passed the size guard (None: not a full export
        # or none yet): records last seen before it have left the export.
        self.left_before = left_before
        self.fields = fields_by_purpose(spec)
        self.purposes = {p: purposes[p] for p in self.fields if p in purposes}
        self.inert = {
            p: why for p, s in self.purposes.items() if (why := never_active(s, spec)) is not None
        }
        self.is_person = getattr(spec, "identity", None) is not None
        # Purposes anchored on what this (child) mapping never sets: they follow the person.
        self.borrowed = frozenset(
            p
            for p, s in self.purposes.items()
            if not self.is_person
            and s.retention is not None
            and not own_anchor(spec, s.retention.after)
        )
        self.object = spec.target.object
        self.field_purposes = {f: tuple(fs.purposes) for f, fs in spec.fields.items()}
        self.protected = frozenset(
            f
            for f, fs in spec.fields.items()
            if fs.required
            or fs.ref is not None
            or getattr(fs, "opt_out", False)
            or getattr(fs, "crm_owned", False)
        ) | {spec.target.external_id}

    def never_expires(self) -> str | None:
        """Why no record of this mapping can expire, or None."""
        for name, p in sorted(self.purposes.items()):
            if name in self.inert:
                continue  # justifies nothing: does not keep records either
            if p.retention is None and p.lawful_basis != "consent":
                return f"purpose {name} has no retention"
        if not any(p.retention for p in self.purposes.values()):
            return "no purpose has a retention rule"
        return None

    def drivers(self) -> list[str]:
        """Purposes whose expired records are the candidates.

        Every non-consent purpose must have expired, so one of them finds all candidates; with
        consent purposes only, a candidate is expired under at least one of them.
        """
        live = {p: s for p, s in sorted(self.purposes.items()) if p not in self.inert}
        plain = [p for p, s in live.items() if s.lawful_basis != "consent"]
        if plain:
            return plain[:1]
        return [p for p, s in live.items() if s.retention is not None]

    def minimisers(self) -> list[str]:
        """Purposes whose expiry may leave fields to clear on a record that stays: every live
        purpose with a retention (a candidate has at least one of them expired)."""
        return [
            p
            for p, s in sorted(self.purposes.items())
            if p not in self.inert and s.retention is not None
        ]

    def judge(self, row: SyncedRow, on: date) -> list[Expiry]:
        """The record's expiries on ``on``."""
        return record_expiries(row, self.purposes, self.fields, on, self.inert, self.left_before)

    def judge_with_person(
        self, row: SyncedRow, on: date, gone: frozenset[str] | None = None
    ) -> list[Expiry]:
        """The expiries on ``on`` of a record in the graph of a person: purposes without an
        anchor of the record's own go with the person (:func:`with_person`). ``gone``: the
        purposes expired for the person who stays; None: the purge deletes the person."""
        borrowed = self.borrowed if gone is None else self.borrowed & gone
        return with_person(self.judge(row, on), borrowed, person_stays=gone is not None)

    def still_justified(self, row: SyncedRow, on: date) -> frozenset[str]:
        """The fields of this mapping that an unexpired purpose still justifies on ``row``'s
        Salesforce record — whether this mapping sent their value or another did (a student's
        e-mail address on the Contact their registration joined): another mapping writing the
        same record must not clear them."""
        done = {e.purpose for e in self.judge(row, on) if e.expired}
        return frozenset(
            f for f, purposes in self.field_purposes.items() if any(p not in done for p in purposes)
        )

    def fields_to_clear(self, row: SyncedRow, on: date) -> tuple[list[str], list[Expiry]]:
        """Fields of a record that stays to clear on ``on`` (art. 5(1)(c)), with its expiries."""
        expiries = self.judge(row, on)
        if is_expired(expiries):
            return [], expiries  # the whole record goes instead
        return expired_fields(row, expiries, self.field_purposes, self.protected), expiries
