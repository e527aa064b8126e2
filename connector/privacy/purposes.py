"""Models of ``purposes.yaml``: the register of processing purposes the mappings refer to.

Each purpose has a lawful basis (GDPR art. 6). Consent purposes name the source columns that
carry the consent and its proof; under ``min_age`` (default 16, UAVG art. 5) a parent must have
given it. ``retention`` (a **contract**) says how long data kept for the purpose may live after an
anchor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

LawfulBasis = Literal[
    "contract",
    "consent",
    "legal_obligation",
    "public_task",
    "legitimate_interest",
    "vital_interest",
]
Anchor = Literal["last_seen", "lifecycle_end", "event_date", "consent_withdrawn"]
PhaseName = Literal["prospect", "applied", "enrolled", "ended"]
# The picklist values of ContactPointTypeConsent.ContactPointType and CaptureContactPointType
# (Object Reference, ContactPointTypeConsent).
ContactPointType = Literal["Email", "MailingAddress", "Phone", "Social", "Web"]

_DURATION = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Duration:
    """A calendar duration from an ISO 8601 string such as ``P1M``, ``P12M``, ``P7Y``, ``P90D``."""

    years: int = 0
    months: int = 0
    days: int = 0
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> Duration:
        """Parse the date part of an ISO 8601 duration; times of day are not meaningful here."""
        m = _DURATION.match(text or "")
        if not m or not any(m.groups()):
            raise ValueError(f"{text!r} is not an ISO 8601 duration such as P3M, P1Y or P30D")
        y, mo, w, d = (int(g) if g else 0 for g in m.groups())
        return cls(years=y, months=mo, days=d + 7 * w, text=text)

    def after(self, start: date) -> date:
        """The date ``start`` plus this duration (month ends clamp: 31 Jan + P1M = 28/29 Feb)."""
        month_index = start.month - 1 + self.months + 12 * self.years
        year, month = start.year + month_index // 12, month_index % 12 + 1
        day = start.day
        while True:
            try:
                moved = start.replace(year=year, month=month, day=day)
                break
            except ValueError:
                day -= 1
        return moved + timedelta(days=self.days)


class ConsentSpec(_Strict):
    """Where a consent and its proof are in the source record (column names)."""

    field: str = Field(description="column holding yes/no (ja/nee, true/false, 1/0)")
    at: str = Field(description="column holding when it was given; without it there is no consent")
    by: str | None = Field(default=None, description="column holding who gave it: self | parent")
    source: str | None = Field(default=None, description="column naming the form or channel")
    at_format: str | None = Field(
        default=None, description="strptime format of `at`; default ISO 8601"
    )
    opt_out: str | None = Field(
        default=None,
        description="Salesforce field set to true on a withdrawal or objection, "
        "e.g. HasOptedOutOfEmail (the CRM's opt-out; a sync never sets it back to false)",
    )
    contact_point_type: ContactPointType = Field(
        default="Email",
        description="ContactPointTypeConsent.ContactPointType the consent is for, where the org "
        "has Salesforce's consent objects: Email | MailingAddress | Phone | Social | Web",
    )
    captured_via: ContactPointType = Field(
        default="Web",
        description="ContactPointTypeConsent.CaptureContactPointType: how the consent was captured",
    )
    opt_in_lifts_opt_out: bool = Field(
        default=False,
        description="a newer explicit opt-in with proof lifts the opt-out field; without this "
        "it is only reported to staff as a conflict",
    )


class RetentionSpec(_Strict):
    """How long data kept for a purpose may live: ``keep`` after ``after``."""

    after: Anchor
    keep: str = Field(description="ISO 8601 duration, e.g. P3M")

    @field_validator("keep")
    @classmethod
    def _duration(cls, v: str) -> str:
        Duration.parse(v)
        return v

    @property
    def duration(self) -> Duration:
        """``keep`` parsed."""
        return Duration.parse(self.keep)


class PurposeSpec(_Strict):
    """One processing purpose (a row of the GDPR art. 30 record)."""

    description: str = ""
    lawful_basis: LawfulBasis
    consent: ConsentSpec | None = None
    min_age: int = Field(default=16, ge=0, le=21)
    retention: RetentionSpec | None = None
    active_in: list[PhaseName] | None = Field(
        default=None,
        description="lifecycle phases in which a non-consent purpose holds; "
        "default applied + enrolled (+ prospect for legitimate_interest)",
    )
    data_subjects: list[str] = Field(default_factory=list)
    recipients: list[str] = Field(default_factory=list)
    legal_reference: str | None = None

    @model_validator(mode="after")
    def _consent_matches_basis(self) -> PurposeSpec:
        if self.lawful_basis == "consent" and self.consent is None:
            raise ValueError("a purpose with lawful_basis consent needs a `consent:` block")
        if self.lawful_basis != "consent" and self.consent is not None:
            raise ValueError("`consent:` is only meaningful with lawful_basis consent")
        if self.lawful_basis == "consent" and self.retention is None:
            # GDPR art. 5(1)(e): a consent is not a licence to keep data forever; the purpose
            # says how long after its anchor (usually consent_withdrawn or last_seen) it goes.
            raise ValueError(
                "a purpose with lawful_basis consent must declare `retention` "
                "(e.g. retention: {after: consent_withdrawn, keep: P1M})"
            )
        return self

    def phases(self) -> frozenset[str]:
        """The lifecycle phases in which this (non-consent) purpose is active."""
        if self.active_in is not None:
            return frozenset(self.active_in)
        if self.lawful_basis == "legitimate_interest":
            return frozenset({"prospect", "applied", "enrolled"})
        return frozenset({"applied", "enrolled"})


class Party(_Strict):
    """Who someone is and how to reach them (controller, DPO): art. 30(1)(a)."""

    name: str
    contact: str | None = None


class Transfer(_Strict):
    """A transfer to a third country or international organisation: art. 30(1)(e)."""

    recipient: str
    country: str = Field(description="ISO country code or name, e.g. US")
    mechanism: str = Field(
        description="the safeguard, e.g. EU-US Data Privacy Framework, standard contractual clauses"
    )


class PurposesSpec(_Strict):
    """The whole purposes.yaml."""

    controller: str | Party = Field(description="the school: a name, or {name, contact}")
    dpo_contact: str | None = Field(default=None, description="older form of dpo.contact")
    dpo: Party | None = Field(default=None, description="the data protection officer (FG)")
    transfers: list[Transfer] | None = Field(
        default=None, description="art. 30(1)(e): recipients outside the EEA and the safeguard"
    )
    security_measures: list[str] | None = Field(
        default=None, description="art. 30(1)(g): the technical and organisational measures"
    )
    purposes: dict[str, PurposeSpec]

    @property
    def controller_party(self) -> Party:
        """The controller as a :class:`Party` (``controller: NAME`` keeps working)."""
        if isinstance(self.controller, Party):
            return self.controller
        return Party(name=self.controller)

    @property
    def dpo_party(self) -> Party | None:
        """The DPO, from ``dpo`` or the older ``dpo_contact``."""
        if self.dpo is not None:
            return self.dpo
        return Party(name="", contact=self.dpo_contact) if self.dpo_contact else None

    @field_validator("purposes")
    @classmethod
    def _not_empty(cls, v: dict[str, PurposeSpec]) -> dict[str, PurposeSpec]:
        if not v:
            raise ValueError("declare at least one purpose")
        return v
