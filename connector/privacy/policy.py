"""The policy: per record and per field, what may leave the school (DESIGN §6). Pure, no I/O.

A field goes to Salesforce only when at least one of its purposes is active for this record:

* a non-consent purpose (contract, legal obligation, public task, legitimate interest) is active
  in the lifecycle phases it declares (``active_in``; default applied + enrolled), and for a
  purpose retained ``after: lifecycle_end`` also in the ended phase until its retention runs out
  (the purge removes it then); with no lifecycle declared every record is active;
* a consent purpose is active only with a recorded *yes*, a timestamp not in the future, and —
  under the purpose's ``min_age`` (default 16, UAVG art. 5) at the moment of consent, or when the
  age is unknown — a parent as the giver. A recorded *no* is a withdrawal.

On top of that: a value that passes the BSN or onderwijsnummer 11-check is never sent, in any
field; fields the CRM owns are never sent; an opt-out field only ever sends ``True`` (the CRM's
opt-out is one-way: a sync must never re-subscribe someone staff or the person unsubscribed).

Every withheld field carries a stable reason code (see ``REASONS``) for reports and tests.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from connector.privacy.facts import ConsentFact, Phase, SubjectFacts
from connector.privacy.identifiers import contains_forbidden_number
from connector.privacy.purposes import PurposeSpec, PurposesSpec

ACTIVE = "active"
NO_ACTIVE_PURPOSE = "no_active_purpose"
CONSENT_MISSING = "consent_missing"
CONSENT_WITHOUT_TIMESTAMP = "consent_without_timestamp"
CONSENT_IN_FUTURE = "consent_in_future"
CONSENT_WITHDRAWN = "consent_withdrawn"
MINOR_WITHOUT_PARENT = "minor_without_parent_consent"
FORBIDDEN_NUMBER = "forbidden_number"
CRM_OWNED = "crm_owned"
OPT_OUT_ONE_WAY = "opt_out_one_way"

REASONS = {
    NO_ACTIVE_PURPOSE: "no purpose of the field is active in the record's lifecycle phase",
    CONSENT_MISSING: "the field needs a consent the source does not record",
    CONSENT_WITHOUT_TIMESTAMP: "a consent without a timestamp is no consent (GDPR art. 7(1))",
    CONSENT_IN_FUTURE: "the consent is dated after today",
    CONSENT_WITHDRAWN: "the consent was withdrawn; the field is cleared in Salesforce",
    MINOR_WITHOUT_PARENT: "under the minimum age (or age unknown) a parent must give consent",
    FORBIDDEN_NUMBER: "the value passes the BSN/onderwijsnummer 11-check and is never sent",
    CRM_OWNED: "the CRM owns this field; the connector never overwrites it",
    OPT_OUT_ONE_WAY: "an opt-out is one-way: only an opt-out (true) is ever sent",
}
# Withheld for these reasons, a field that was sent before is cleared in Salesforce. Not for
# crm_owned and opt_out_one_way: clearing those would overwrite the CRM (re-subscribe someone).
CLEARING = frozenset(
    {
        NO_ACTIVE_PURPOSE,
        CONSENT_MISSING,
        CONSENT_WITHOUT_TIMESTAMP,
        CONSENT_IN_FUTURE,
        CONSENT_WITHDRAWN,
        MINOR_WITHOUT_PARENT,
        FORBIDDEN_NUMBER,
    }
)
# When a field has several inactive purposes, report the most telling reason.
_RANK = {
    CONSENT_WITHDRAWN: 0,
    MINOR_WITHOUT_PARENT: 1,
    CONSENT_WITHOUT_TIMESTAMP: 2,
    CONSENT_IN_FUTURE: 3,
    CONSENT_MISSING: 4,
    NO_ACTIVE_PURPOSE: 5,
}


@dataclass(frozen=True, slots=True)
class Decision:
    """What the policy allows for one record.

    ``payload`` holds the fields to send with their values (``None`` clears a value the source
    no longer has); ``withheld`` maps every other mapped field to its reason code — the engine
    clears such a field in Salesforce when it was sent before.
    """

    payload: dict[str, Any]
    withheld: dict[str, str]


def age_on(birthdate: date, day: date) -> int:
    """Completed years on ``day`` (a birthday on 29 February counts from 1 March)."""
    years = day.year - birthdate.year
    if (day.month, day.day) < (birthdate.month, birthdate.day):
        years -= 1
    return years


def consent_status(
    purpose: PurposeSpec, fact: ConsentFact | None, facts: SubjectFacts, today: date
) -> str:
    """``ACTIVE`` or the reason code why a consent purpose does not hold for this record."""
    if fact is None or fact.given is None:
        return CONSENT_MISSING
    if fact.given is False:
        return CONSENT_WITHDRAWN
    if fact.at is None:
        return CONSENT_WITHOUT_TIMESTAMP
    given_on = fact.at.date()
    if given_on > today:
        return CONSENT_IN_FUTURE
    minor = facts.birthdate is None or age_on(facts.birthdate, given_on) < purpose.min_age
    if purpose.min_age > 0 and minor and fact.by != "parent":
        return MINOR_WITHOUT_PARENT
    return ACTIVE


def basis_status(purpose: PurposeSpec, facts: SubjectFacts, today: date) -> str:
    """``ACTIVE`` or ``NO_ACTIVE_PURPOSE`` for a purpose that rests on another basis."""
    if facts.phase is None or facts.phase.value in purpose.phases():
        return ACTIVE
    retention = purpose.retention
    if (
        facts.phase is Phase.ENDED
        and retention is not None
        and retention.after == "lifecycle_end"
        and ("applied" in purpose.phases() or "enrolled" in purpose.phases())
        and (facts.phase_at is None or today <= retention.duration.after(facts.phase_at))
    ):
        return ACTIVE  # kept until the retention purge, not cleared the day the student leaves
    return NO_ACTIVE_PURPOSE


class Policy:
    """The compiled policy of one mapping.

    Args:
        purposes: The purposes register.
        field_purposes: Target field → the purposes that justify it.
        opt_out_fields: Fields that only ever send ``True``.
        crm_owned: Fields the connector never sends.
        always_send: Fields that need no purpose (external id, references to parents); the
            forbidden-number check still applies to them.
    """

    def __init__(
        self,
        purposes: PurposesSpec,
        field_purposes: Mapping[str, Sequence[str]],
        *,
        opt_out_fields: Collection[str] = (),
        crm_owned: Collection[str] = (),
        always_send: Collection[str] = (),
    ):
        self.purposes = purposes.purposes
        self.field_purposes = {f: tuple(p) for f, p in field_purposes.items()}
        self.opt_out = frozenset(opt_out_fields)
        self.crm_owned = frozenset(crm_owned)
        self.always = frozenset(always_send)
        used = {p for ps in self.field_purposes.values() for p in ps}
        self._consent = tuple(
            (n, p) for n, p in self.purposes.items() if n in used and p.lawful_basis == "consent"
        )
        self._basis = tuple(
            (n, p) for n, p in self.purposes.items() if n in used and p.lawful_basis != "consent"
        )
        self._cache: dict[tuple[str, ...], tuple[tuple[str, ...], dict[str, str]]] = {}

    def statuses(self, facts: SubjectFacts, today: date) -> dict[str, str]:
        """Each used purpose's status for this record: ``ACTIVE`` or a reason code."""
        out = {n: basis_status(p, facts, today) for n, p in self._basis}
        consents = facts.consents
        for n, p in self._consent:
            out[n] = consent_status(p, consents.get(n), facts, today)
        return out

    def active_purposes(self, facts: SubjectFacts, today: date) -> frozenset[str]:
        """The purposes active for this record."""
        return frozenset(n for n, s in self.statuses(facts, today).items() if s == ACTIVE)

    def _fields_for(self, statuses: dict[str, str]) -> tuple[tuple[str, ...], dict[str, str]]:
        key = tuple(statuses.values())
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        allowed, withheld = [], {}
        for fld, purposes in self.field_purposes.items():
            if fld in self.crm_owned:
                withheld[fld] = CRM_OWNED
            elif fld in self.always or any(statuses.get(p) == ACTIVE for p in purposes):
                allowed.append(fld)
            else:
                reasons = [statuses.get(p, NO_ACTIVE_PURPOSE) for p in purposes]
                withheld[fld] = min(
                    reasons, key=lambda r: _RANK.get(r, 9), default=NO_ACTIVE_PURPOSE
                )
        hit = (tuple(allowed), withheld)
        self._cache[key] = hit
        return hit

    def decide(self, values: Mapping[str, Any], facts: SubjectFacts, today: date) -> Decision:
        """The payload to send and the reason for every field left out."""
        allowed, withheld_template = self._fields_for(self.statuses(facts, today))
        payload: dict[str, Any] = {}
        withheld = dict(withheld_template)
        for fld in allowed:
            if fld not in values:
                continue
            value = values[fld]
            if value is not None and contains_forbidden_number(value):
                withheld[fld] = FORBIDDEN_NUMBER
            elif fld in self.opt_out and value is not True:
                withheld[fld] = OPT_OUT_ONE_WAY
            else:
                payload[fld] = value
        for fld in self.always:
            if fld in values and fld not in payload and fld not in withheld:
                value = values[fld]
                if value is not None and contains_forbidden_number(value):
                    withheld[fld] = FORBIDDEN_NUMBER
                else:
                    payload[fld] = value
        return Decision(payload, withheld)
