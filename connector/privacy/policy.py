"""The policy: per record and per field, what may leave the school (DESIGN §6). Pure, no I/O.

A field goes to Salesforce only when at least one of its purposes is active for this record:

* a non-consent purpose (contract, legal obligation, public task, legitimate interest) is active
  in the lifecycle phases it declares (``active_in``; default applied + enrolled), and for a
  purpose retained ``after: lifecycle_end`` also in the ended phase until its retention runs out
  (the purge removes it then); with no lifecycle declared every record is active;
* a consent purpose is active only with a recorded *yes*, a timestamp not in the future, a
  source (the form or channel: art. 7(1) proof), and —
  under the purpose's ``min_age`` (default 16, UAVG art. 5) at the moment of consent, or when the
  age is unknown — a parent as the giver. A recorded *no* is a withdrawal.

A purpose whose retention ran out for the row is not active either (``retention_expired``):
its anchor is one the row carries (``event_date``, or ``lifecycle_end`` in the ended phase) and
anchor + ``keep`` lies before today — the same rule the retention purge applies, so a mapping
edit never sends again what the purge cleared. Such fields are not cleared by the sync (the
purge does that, audited, and keeps what Salesforce requires); they are only no longer sent.

A purpose the person objected to (GDPR art. 21, ``SubjectFacts.objected``) is never active,
whatever the row says: its status is ``objected``, and fields it alone justified are cleared.

On top of that: a value that passes the BSN or onderwijsnummer 11-check is never sent, in any
field; fields the CRM owns are never sent; an opt-out field only ever sends ``True`` (the CRM's
opt-out is one-way: a sync must never re-subscribe someone staff or the person unsubscribed), and
a withheld opt-out field is never cleared. A ``True`` opt-out is sent whatever its purposes'
status: it only ever restricts processing. A consent purpose's own opt-out field
(``consent: {opt_out: FIELD}``, passed as ``purpose_opt_outs``) is sent ``True`` when the consent
is withdrawn (art. 7(3)) or the purpose objected to (art. 21(3)).

Every withheld field carries a stable reason code (see ``REASONS``) for reports and tests.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from operator import itemgetter
from types import MappingProxyType
from typing import Any, TypeAlias

from connector.clock import school_date
from connector.privacy.facts import ConsentFact, Phase, SubjectFacts
from connector.privacy.identifiers import forbidden_fields
from connector.privacy.purposes import Duration, PurposeSpec, PurposesSpec

ACTIVE = "active"
NO_ACTIVE_PURPOSE = "no_active_purpose"
CONSENT_MISSING = "consent_missing"
CONSENT_WITHOUT_TIMESTAMP = "consent_without_timestamp"
CONSENT_WITHOUT_SOURCE = "consent_without_source"
CONSENT_IN_FUTURE = "consent_in_future"
CONSENT_WITHDRAWN = "consent_withdrawn"
MINOR_WITHOUT_PARENT = "minor_without_parent_consent"
FORBIDDEN_NUMBER = "forbidden_number"
CRM_OWNED = "crm_owned"
OPT_OUT_ONE_WAY = "opt_out_one_way"
OBJECTED = "objected"
RETENTION_EXPIRED = "retention_expired"

REASONS = {
    NO_ACTIVE_PURPOSE: "no purpose of the field is active in the record's lifecycle phase",
    CONSENT_MISSING: "the field needs a consent the source does not record",
    CONSENT_WITHOUT_TIMESTAMP: "a consent without a timestamp is no consent (GDPR art. 7(1))",
    CONSENT_WITHOUT_SOURCE: "a consent without a source (form, channel) is no consent (art. 7(1))",
    CONSENT_IN_FUTURE: "the consent is dated after today",
    CONSENT_WITHDRAWN: "the consent was withdrawn; the field is cleared in Salesforce",
    MINOR_WITHOUT_PARENT: "under the minimum age (or age unknown) a parent must give consent",
    FORBIDDEN_NUMBER: "the value passes the BSN/onderwijsnummer 11-check and is never sent",
    CRM_OWNED: "the CRM owns this field; the connector never overwrites it",
    OPT_OUT_ONE_WAY: "an opt-out is one-way: only an opt-out (true) is ever sent",
    OBJECTED: "the person objected to the purpose (GDPR art. 21): never active for them again",
    RETENTION_EXPIRED: "the purpose's retention ran out (event_date or lifecycle_end + keep); "
    "the retention purge clears what Salesforce still holds",
}
# Withheld for these reasons, a field that was sent before is cleared in Salesforce. Not for
# crm_owned and opt_out_one_way: clearing those would overwrite the CRM (re-subscribe someone).
# Nor for retention_expired: the retention purge clears those fields (with an audit line, and
# never the required ones a record that stays needs); the sync only stops sending them.
CLEARING = frozenset(
    {
        NO_ACTIVE_PURPOSE,
        CONSENT_MISSING,
        CONSENT_WITHOUT_TIMESTAMP,
        CONSENT_WITHOUT_SOURCE,
        CONSENT_IN_FUTURE,
        CONSENT_WITHDRAWN,
        MINOR_WITHOUT_PARENT,
        FORBIDDEN_NUMBER,
        OBJECTED,
    }
)
#: Purpose statuses that set the purpose's opt-out field (``consent: {opt_out: FIELD}``) to true.
OPTING_OUT = frozenset({CONSENT_WITHDRAWN, OBJECTED})
# When a field has several inactive purposes, report the most telling reason.
_RANK = {
    OBJECTED: -1,
    CONSENT_WITHDRAWN: 0,
    RETENTION_EXPIRED: 0,
    MINOR_WITHOUT_PARENT: 1,
    CONSENT_WITHOUT_TIMESTAMP: 2,
    CONSENT_WITHOUT_SOURCE: 2,
    CONSENT_IN_FUTURE: 3,
    CONSENT_MISSING: 4,
    NO_ACTIVE_PURPOSE: 5,
}


#: A mapped field value: whatever the field's transforms return (text, bool, number, date,
#: datetime, or a plugin's JSON-able value); ``None`` is empty. Plugins decide, so no narrower
#: type holds.
Value: TypeAlias = Any


@dataclass(frozen=True, slots=True)
class Decision:
    """What the policy allows for one record.

    ``payload`` holds the fields to send with their values (``None`` clears a value the source
    no longer has); ``withheld`` maps every other mapped field to its reason code — the engine
    clears such a field in Salesforce when it was sent before and the reason is in ``CLEARING``.
    """

    payload: dict[str, Value]
    withheld: dict[str, str]
    # Each used purpose's status that decided it (:meth:`Policy.statuses` of the same facts
    # and day), kept so the planner and the consent stage need not work them out again;
    # ``None`` on a decision made without them.
    statuses: Mapping[str, str] | None = None


PurposeRule = Callable[[SubjectFacts, date], str]


def age_on(birthdate: date, day: date) -> int:
    """Completed years on ``day`` (a birthday on 29 February counts from 1 March)."""
    years = day.year - birthdate.year
    if (day.month, day.day) < (birthdate.month, birthdate.day):
        years -= 1
    return years


def _consent_rule(name: str, purpose: PurposeSpec) -> PurposeRule:
    """The status of consent purpose ``name``, compiled once per policy."""
    min_age = purpose.min_age

    def rule(facts: SubjectFacts, today: date) -> str:
        fact = facts.consents.get(name)
        if fact is None or fact.given is None:
            return CONSENT_MISSING
        if not fact.given:
            return CONSENT_WITHDRAWN
        at = fact.at
        if at is None:
            return CONSENT_WITHOUT_TIMESTAMP
        if not fact.source:
            # Art. 7(1): the school must be able to show where the consent was given; a consent
            # purpose without a `source:` column can therefore never be active (validate warns).
            return CONSENT_WITHOUT_SOURCE
        given_on = school_date(at) if isinstance(at, datetime) else at
        if given_on > today:
            return CONSENT_IN_FUTURE
        if min_age > 0 and fact.by != "parent":
            # UAVG art. 5: the age that counts is the age when the consent was given; an unknown
            # birthdate is treated as a minor's (the art. 8(2) "reasonable efforts").
            birthdate = facts.birthdate
            if birthdate is None or age_on(birthdate, given_on) < min_age:
                return MINOR_WITHOUT_PARENT
        return ACTIVE

    return rule


Recheck = Callable[[SubjectFacts, date], date | None]


def _consent_recheck(name: str) -> Recheck:
    """The day a consent dated after ``today`` starts to count (the rule's only use of today)."""

    def recheck(facts: SubjectFacts, today: date) -> date | None:
        fact = facts.consents.get(name)
        if fact is None or not fact.given or fact.at is None:
            return None
        given_on = school_date(fact.at) if isinstance(fact.at, datetime) else fact.at
        return given_on if given_on > today else None

    return recheck


def _kept_after_end(purpose: PurposeSpec) -> Duration | None:
    """The retention duration a purpose stays active for after lifecycle_end, or None.

    A student who leaves is not wiped the same day: a purpose retained after lifecycle_end
    stays active in the ended phase until its retention runs out (then the purge removes it).
    """
    phases = purpose.phases()
    retention = purpose.retention
    if (
        retention is not None
        and retention.after == "lifecycle_end"
        and ("applied" in phases or "enrolled" in phases)
    ):
        return retention.duration
    return None


def _basis_recheck(purpose: PurposeSpec) -> Recheck | None:
    """The day after an ended record's retention runs out (the rule's only use of today)."""
    keep_after_end = _kept_after_end(purpose)
    if keep_after_end is None:
        return None

    def recheck(facts: SubjectFacts, today: date) -> date | None:
        if facts.phase != Phase.ENDED or facts.phase_at is None:
            return None
        until = keep_after_end.after(facts.phase_at)
        return until + timedelta(days=1) if today <= until else None

    return recheck


def _anchor_of(after: str) -> Callable[[SubjectFacts], date | None] | None:
    """The facts' date of a retention anchor the row itself carries, or None for anchors only
    local state knows (``last_seen``: a row in the source is seen now; ``consent_withdrawn``:
    a withdrawal already stops the purpose)."""
    if after == "event_date":
        return lambda facts: facts.event_date
    if after == "lifecycle_end":
        return lambda facts: facts.phase_at if facts.phase == Phase.ENDED else None
    return None


def _retention_window(purpose: PurposeSpec) -> tuple[Callable[[SubjectFacts], date | None],
                                                      Duration] | None:  # fmt: skip
    retention = purpose.retention
    if retention is None:
        return None
    anchor = _anchor_of(retention.after)
    return None if anchor is None else (anchor, retention.duration)


def _with_retention(rule: PurposeRule, purpose: PurposeSpec) -> PurposeRule:
    """``rule``, but ``RETENTION_EXPIRED`` once the purpose's retention ran out for the row.

    The retention purge judges a record by anchor + keep (``connector.privacy.retention``);
    the policy must not send again what the purge has to clear or delete: an open-day
    registration three months after the event is no longer justified by the visit, however
    often the row is mapped again (a mapping edit, a new connector version).
    """
    window = _retention_window(purpose)
    if window is None:
        return rule
    anchor, keep = window

    def guarded(facts: SubjectFacts, today: date) -> str:
        status = rule(facts, today)
        if status != ACTIVE:
            return status
        start = anchor(facts)
        if start is not None and keep.after(start) < today:
            return RETENTION_EXPIRED
        return status

    return guarded


def _retention_recheck(purpose: PurposeSpec) -> Recheck | None:
    """The day after the row's retention runs out (when that is still ahead)."""
    window = _retention_window(purpose)
    if window is None:
        return None
    anchor, keep = window

    def recheck(facts: SubjectFacts, today: date) -> date | None:
        start = anchor(facts)
        if start is None:
            return None
        until = keep.after(start)
        return until + timedelta(days=1) if today <= until else None

    return recheck


def _basis_rule(purpose: PurposeSpec) -> PurposeRule:
    """The status of a purpose on another basis than consent, compiled once per policy."""
    phases = purpose.phases()
    keep_after_end = _kept_after_end(purpose)

    kept_until: dict[date, date] = {}  # end date → last day kept; few distinct dates per run

    def rule(facts: SubjectFacts, today: date) -> str:
        phase = facts.phase
        if phase is None or phase in phases:
            return ACTIVE
        if keep_after_end is not None and phase == Phase.ENDED:
            ended_on = facts.phase_at
            if ended_on is None:
                return ACTIVE
            until = kept_until.get(ended_on)
            if until is None:
                until = kept_until[ended_on] = keep_after_end.after(ended_on)
            if today <= until:
                return ACTIVE
        return NO_ACTIVE_PURPOSE

    return rule


def consent_status(
    purpose: PurposeSpec, fact: ConsentFact | None, facts: SubjectFacts, today: date
) -> str:
    """``ACTIVE`` or the reason code why a consent purpose does not hold for this record.

    ``fact`` is the purpose's consent (``facts.consents`` is not consulted).
    """
    return _consent_rule("_", purpose)(
        replace(facts, consents={} if fact is None else {"_": fact}), today
    )


def basis_status(purpose: PurposeSpec, facts: SubjectFacts, today: date) -> str:
    """``ACTIVE`` or ``NO_ACTIVE_PURPOSE`` for a purpose that rests on another basis."""
    return _basis_rule(purpose)(facts, today)


class Policy:
    """The compiled policy of one mapping.

    Per record the work is one small function per used purpose plus one scan of the text values;
    which fields go and why the rest stay home is cached per combination of purpose statuses.

    Args:
        purposes: The purposes register.
        field_purposes: Target field → the purposes that justify it.
        opt_out_fields: Fields that only ever send ``True``; withheld, they are never cleared.
        crm_owned: Fields the connector never sends (even when listed in ``always_send``).
        always_send: Fields that need no purpose (external id, references to parents); the
            forbidden-number check still applies to them.
        student_numbers: Field → the mapping's ``student_number_format``: such a field is
            exempt from the forbidden-number check while its value has that format.
        purpose_opt_outs: Purpose → its opt-out field (``consent: {opt_out: FIELD}``), for the
            mappings that write persons: sent ``True`` while the purpose is withdrawn or
            objected to; otherwise left alone (never cleared: the CRM owns opt-outs).
    """

    def __init__(
        self,
        purposes: PurposesSpec,
        field_purposes: Mapping[str, Sequence[str]],
        *,
        opt_out_fields: Collection[str] = (),
        crm_owned: Collection[str] = (),
        always_send: Collection[str] = (),
        student_numbers: Mapping[str, re.Pattern[str]] | None = None,
        purpose_opt_outs: Mapping[str, str] | None = None,
    ):
        self.purposes = purposes.purposes
        self.field_purposes = {f: tuple(p) for f, p in field_purposes.items()}
        self.opt_out = frozenset(opt_out_fields)
        self.crm_owned = frozenset(crm_owned)
        self.always = frozenset(always_send)
        self.student_numbers = dict(student_numbers or {})
        self.purpose_opt_outs = {
            p: f for p, f in (purpose_opt_outs or {}).items() if p in self.purposes
        }
        used = sorted(
            ({p for ps in self.field_purposes.values() for p in ps} | set(self.purpose_opt_outs))
            & set(self.purposes)
        )
        self._names = tuple(used)
        #: The consent purposes this mapping's fields (or opt-outs) rest on.
        self.consent_purposes = frozenset(
            n for n in used if self.purposes[n].lawful_basis == "consent"
        )
        self._rules = tuple(
            _with_retention(
                _consent_rule(n, self.purposes[n])
                if self.purposes[n].lawful_basis == "consent"
                else _basis_rule(self.purposes[n]),
                self.purposes[n],
            )
            for n in used
        )
        self._key = _key_function(self._rules)
        self._cache: dict[tuple[str, ...], _Plan] = {}
        rechecks = (
            _consent_recheck(n)
            if self.purposes[n].lawful_basis == "consent"
            else _basis_recheck(self.purposes[n])
            for n in used
        )
        retained = (_retention_recheck(self.purposes[n]) for n in used)
        self._rechecks = tuple(r for r in (*rechecks, *retained) if r is not None)

    def recheck_on(self, facts: SubjectFacts, today: date) -> date | None:
        """The first day after ``today`` on which :meth:`decide` may decide otherwise for the
        same values and facts: a consent dated ahead starts to count, or a purpose's retention
        runs out (an ended record's, an event's). ``None`` when nothing depends on the day."""
        days = [d for r in self._rechecks if (d := r(facts, today)) is not None]
        return min(days) if days else None

    def statuses(self, facts: SubjectFacts, today: date) -> dict[str, str]:
        """Each used purpose's status for this record: ``ACTIVE`` or a reason code."""
        return dict(zip(self._names, self._statuses(facts, today), strict=True))

    def statuses_of(
        self, decision: Decision, facts: SubjectFacts, today: date
    ) -> Mapping[str, str]:
        """:meth:`statuses` of the facts and day ``decision`` was made for: the ones it kept
        (no rule runs again), else worked out."""
        kept = decision.statuses
        return kept if kept is not None else self.statuses(facts, today)

    def _statuses(self, facts: SubjectFacts, today: date) -> tuple[str, ...]:
        key = self._key(facts, today)
        objected = facts.objected
        if objected:
            # Art. 21(3): an objected purpose is never active again, whatever the row says.
            key = tuple(
                OBJECTED if n in objected else s for n, s in zip(self._names, key, strict=True)
            )
        return key

    def active_purposes(self, facts: SubjectFacts, today: date) -> frozenset[str]:
        """The purposes active for this record."""
        return frozenset(n for n, s in self.statuses(facts, today).items() if s == ACTIVE)

    def _plan(self, key: tuple[str, ...]) -> _Plan:
        statuses = dict(zip(self._names, key, strict=True))
        send: list[str] = []
        withheld: dict[str, str] = {}
        for fld in sorted(self.always - self.field_purposes.keys()):
            if fld in self.crm_owned:
                withheld[fld] = CRM_OWNED
            else:
                send.append(fld)
        for fld, purposes in self.field_purposes.items():
            if fld in self.crm_owned:
                withheld[fld] = CRM_OWNED
            elif fld in self.always or any(statuses.get(p) == ACTIVE for p in purposes):
                send.append(fld)
            elif fld in self.opt_out:
                # A true opt-out only restricts processing: it goes whatever the purposes say
                # (decide() drops any other value). Clearing it would re-subscribe the person.
                send.append(fld)
            else:
                reasons = [statuses.get(p, NO_ACTIVE_PURPOSE) for p in purposes]
                withheld[fld] = min(
                    reasons, key=lambda r: _RANK.get(r, 9), default=NO_ACTIVE_PURPOSE
                )
        # Withdrawn or objected: the purpose's own opt-out field is set (art. 7(3), 21(3)).
        opting_out = {
            fld: True
            for p, fld in self.purpose_opt_outs.items()
            if statuses.get(p) in OPTING_OUT and fld not in self.crm_owned
        }
        for fld in opting_out:
            withheld.pop(fld, None)
        plan = _Plan(
            tuple(send),
            _taker(send),
            tuple(f for f in send if f in self.opt_out),
            withheld,
            opting_out,
            MappingProxyType(statuses),  # shared by every decision of this key: read-only
        )
        self._cache[key] = plan
        return plan

    def decide(self, values: Mapping[str, Value], facts: SubjectFacts, today: date) -> Decision:
        """The payload to send and the reason for every field left out.

        Args:
            values: Target field → value from the mapping (``None`` = empty in the source).
            facts: What the policy needs to know about the record's data subject.
            today: The school's date (consents dated later do not count yet).
        """
        key = self._statuses(facts, today) if facts.objected else self._key(facts, today)
        plan = self._cache.get(key) or self._plan(key)
        try:
            payload = dict(zip(plan.send, plan.take(values), strict=True))
        except KeyError:  # a field the mapping did not produce this time
            payload = {f: values[f] for f in plan.send if f in values}
        withheld = plan.withheld.copy()
        for fld in plan.opt_outs:
            if fld in payload and payload[fld] is not True:
                del payload[fld]
                withheld[fld] = OPT_OUT_ONE_WAY
        if plan.opting_out:
            payload.update(plan.opting_out)
            for fld in plan.opting_out:
                withheld.pop(fld, None)
        for fld in forbidden_fields(payload, self.student_numbers):
            del payload[fld]
            withheld[fld] = FORBIDDEN_NUMBER
        return Decision(payload, withheld, plan.statuses)


@dataclass(frozen=True, slots=True)
class _Plan:
    """For one combination of purpose statuses: the fields to take and the ones withheld."""

    send: tuple[str, ...]
    take: Callable[[Mapping[str, Value]], tuple[Value, ...]]
    opt_outs: tuple[str, ...]
    withheld: dict[str, str]
    opting_out: dict[str, bool]  # purpose opt-out fields set to True (withdrawn or objected)
    statuses: Mapping[str, str]  # purpose → status of this combination (Decision.statuses)


def _taker(fields: Sequence[str]) -> Callable[[Mapping[str, Value]], tuple[Value, ...]]:
    """``values → tuple of values[f] for f in fields`` in C (KeyError for a missing field)."""
    if len(fields) > 1:
        return itemgetter(*fields)
    if len(fields) == 1:
        only = fields[0]
        return lambda values: (values[only],)
    return lambda values: ()


def _key_function(rules: Sequence[PurposeRule]) -> Callable[[SubjectFacts, date], tuple[str, ...]]:
    """``(facts, today) → tuple of every rule's status``, unrolled for the usual few purposes."""
    if len(rules) == 1:
        (a,) = rules
        return lambda f, t: (a(f, t),)
    if len(rules) == 2:
        a, b = rules
        return lambda f, t: (a(f, t), b(f, t))
    if len(rules) == 3:
        a, b, c = rules
        return lambda f, t: (a(f, t), b(f, t), c(f, t))
    if len(rules) == 4:
        a, b, c, d = rules
        return lambda f, t: (a(f, t), b(f, t), c(f, t), d(f, t))
    return lambda f, t: tuple([rule(f, t) for rule in rules])
