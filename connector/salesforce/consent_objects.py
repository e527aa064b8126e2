"""Salesforce's consent model in the org: is it there, and which DataUsePurpose is which.

Where Data Protection and Privacy is enabled, an org has ``Individual``, ``DataUsePurpose`` and
``ContactPointTypeConsent`` (Object Reference: "This object is available if Data Protection
and Privacy is enabled") and ``Contact.IndividualId``. sis-sync writes consents there (DESIGN
§6, GDPR art. 7(1)) only when describe shows all of them *and* the two external-id fields the
README asks an admin to create (``Individual.SIS_Individual_Key__c``,
``ContactPointTypeConsent.SIS_Consent_Key__c``): without them an upsert could not be replayed
without duplicates. ``Consent_Given_By__c`` (self | parent) is sent where the org has it.

:class:`ConsentOrg` asks once per run, and only when a consent record needs writing: a run that
changes no consent makes no call here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from simple_salesforce import format_soql

from connector.salesforce.writer import Writer

INDIVIDUAL = "Individual"
CONSENT = "ContactPointTypeConsent"
PURPOSE = "DataUsePurpose"
INDIVIDUAL_KEY = "SIS_Individual_Key__c"
CONSENT_KEY = "SIS_Consent_Key__c"
GIVEN_BY = "Consent_Given_By__c"
# DataUsePurpose.Description is a string of 255 (Field Reference, DataUsePurpose).
DESCRIPTION_LENGTH = 255


@dataclass(frozen=True, slots=True)
class ConsentModel:
    """The org has Salesforce's consent objects and our external ids on them.

    ``given_by``: the org also has ``ContactPointTypeConsent.Consent_Given_By__c``.
    """

    given_by: bool


@dataclass(frozen=True, slots=True)
class Detection:
    """What describe said: the model, or None with a warning when it is half there."""

    model: ConsentModel | None
    warning: str | None = None


def detect(writer: Writer) -> Detection:
    """Describe Contact, Individual, DataUsePurpose and ContactPointTypeConsent (cached by the
    writer's describer) and say whether consent records can be written."""
    describer = writer.describer
    contact = describer.fields("Contact") or {}
    if "IndividualId" not in contact:
        # Contact.IndividualId exists exactly where Data Protection and Privacy is enabled
        # (Object Reference, Contact): no model, and no describe of the objects the org lacks.
        return Detection(None)
    individual = describer.fields(INDIVIDUAL)
    consent = describer.fields(CONSENT)
    purpose = describer.fields(PURPOSE)
    if individual is None or consent is None or purpose is None or "IndividualId" not in contact:
        return Detection(None)  # no Data Protection and Privacy: the flags, as always
    missing = [
        f"{obj}.{name}"
        for obj, fields, name in (
            (INDIVIDUAL, individual, INDIVIDUAL_KEY),
            (CONSENT, consent, CONSENT_KEY),
        )
        if name not in fields
    ]
    if missing:
        return Detection(
            None,
            "the org has Salesforce's consent objects but not "
            + ", ".join(missing)
            + ": consents are written as flags only (README, Salesforce set-up)",
        )
    return Detection(ConsentModel(given_by=GIVEN_BY in consent))


class ConsentOrg:
    """One run's view of the org's consent model: detected once, purposes looked up once.

    Args:
        writer: The run's writer (its describer caches describe answers).
    """

    def __init__(self, writer: Writer):
        self.writer = writer
        self._detection: Detection | None = None
        self._purpose_ids: dict[str, str] = {}
        self._looked_up = False

    def detection(self) -> Detection:
        """The org's consent model (describe on first use)."""
        if self._detection is None:
            self._detection = detect(self.writer)
        return self._detection

    def purpose_ids(self, purposes: Mapping[str, str]) -> dict[str, str]:
        """DataUsePurpose Id per purpose name; ``purposes`` maps name → description.

        One query by Name for the run (the names are ours, escaped by ``format_soql``); a
        purpose the org lacks is created (Name, Description, CanDataSubjectOptOut: a consent
        can always be withdrawn, art. 7(3)). Raises SalesforceError as the client does.
        """
        wanted = sorted(set(purposes) - set(self._purpose_ids))
        if wanted and not self._looked_up:
            # The names are escaped by format_soql (quotes, backslashes).
            soql = format_soql(
                "SELECT Id, Name FROM DataUsePurpose WHERE Name IN {names}", names=wanted
            )
            for rec in self.writer.query(soql):
                # Staff may have made one by hand: the oldest answer wins, the rest are left be.
                self._purpose_ids.setdefault(str(rec["Name"]), str(rec["Id"]))
            self._looked_up = True
        for name in sorted(set(purposes) - set(self._purpose_ids)):
            created = self.writer.client.json(
                "POST",
                f"sobjects/{PURPOSE}/",
                json={
                    "Name": name,
                    "Description": purposes[name][:DESCRIPTION_LENGTH],
                    "CanDataSubjectOptOut": True,
                },
            )
            self._purpose_ids[name] = str(created["id"])
        return {n: self._purpose_ids[n] for n in purposes}
