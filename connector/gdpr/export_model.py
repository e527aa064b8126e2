"""What an export holds, as typed values between reading (export_job) and rendering
(export_formats): records as Salesforce holds them, consents with their proof, local state.

Everything here is the data subject's own personal data; it is rendered only to stdout or the
file the privacy officer names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

# One field value as Salesforce returns it in JSON (dates and datetimes are ISO text).
Value = str | int | float | bool | None
# The local-state and purposes parts are nested JSON-ready values (see export_job).
Json = Value | list["Json"] | dict[str, "Json"]


class Section(StrEnum):
    """Where a record sits in the export (and the ``section`` column of the CSV)."""

    SALESFORCE = "salesforce"
    CAMPAIGN_MEMBERSHIP = "campaign_membership"
    ACTIVITY = "activity"
    CONSENT_RECORD = "consent_record"


@dataclass(frozen=True, slots=True)
class RecordExport:
    """One Salesforce record: every readable field (describe), read back now.

    ``mapping`` is the mapping that wrote it; ``None`` for a record staff made that was found
    through the person (a Task logged by hand, the Individual, a consent record).
    """

    section: Section
    object: str
    sf_id: str
    fields: dict[str, Value]
    labels: dict[str, str]
    mapping: str | None = None
    field_purposes: dict[str, list[str]] = field(default_factory=dict)
    exists: bool = True


class ConsentOrigin(StrEnum):
    """Where a consent's proof was read."""

    FIELDS = "salesforce_fields"  # the fields a mapping writes (flag, date, source, given by)
    CONSENT_RECORD = "ContactPointTypeConsent"  # Salesforce's consent model
    LOCAL_STATE = "local_state"  # a withdrawal the connector recorded, no field carries it


@dataclass(frozen=True, slots=True)
class ConsentProof:
    """One consent of the person with its proof (GDPR art. 7(1)): status, when, through which
    channel or form, who gave it (self or parent), the opt-out flag and a withdrawal date.

    ``fields`` names the Salesforce field each part was read from (role → API name).
    """

    purpose: str
    origin: ConsentOrigin
    object: str
    sf_id: str
    status: Value
    given_at: Value = None
    source: Value = None
    given_by: Value = None
    effective_from: Value = None
    opt_out: Value = None
    withdrawn_at: str | None = None
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class PersonExport:
    """Everything held about one person."""

    generated_at: str
    controller: str
    dpo_contact: str | None
    explanation: dict[str, str]
    salesforce: list[RecordExport]
    campaign_memberships: list[RecordExport]
    activities: list[RecordExport]
    consent_records: list[RecordExport]
    consents: list[ConsentProof]
    local_state: dict[str, Json]
    purposes: dict[str, Json]
    notes: list[str] = field(default_factory=list)
