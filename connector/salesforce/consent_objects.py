"""Salesforce's consent model in the org: is it there, and which DataUsePurpose is which.

Where Data Protection and Privacy is enabled, an org has ``Individual``, ``DataUsePurpose`` and
``ContactPointTypeConsent`` (Object Reference: "This object is available if Data Protection
and Privacy is enabled") and the field that links a person record to its Individual:
``Contact.IndividualId``, and for person accounts ``Account.PersonIndividualId``.

"Data privacy records are associated with related leads, contacts, person accounts, and users"
(Object Reference, Individual,
https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_individual.htm);
a person account's link is its ``PersonIndividualId`` ("ID of the data privacy record
associated with this person's account", Object Reference, Account,
https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_account.htm),
the person contact's ``IndividualId`` seen from the Account. It is written on the Account:
the person contact cannot be updated directly (``connector/emulator/person.py``).

sis-sync writes consents there (DESIGN §6, GDPR art. 7(1)) only when describe shows the
objects, the link field of the mapping's person object (:class:`PersonLink`) *and* the two
external-id fields the README asks an admin to create (``Individual.SIS_Individual_Key__c``,
``ContactPointTypeConsent.SIS_Consent_Key__c``): without them an upsert could not be replayed
without duplicates. ``Consent_Given_By__c`` (self | parent) is sent where the org has it.

:class:`ConsentOrg` asks once per run, and only when a consent record needs writing: a run that
changes no consent makes no call here.
"""

from __future__ import annotations

import threading
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
class PersonLink:
    """Where a person record points at its Individual: the object written and its field."""

    object: str
    field: str


#: A Contact's Individual (Object Reference, Contact: ``IndividualId``).
CONTACT_LINK = PersonLink("Contact", "IndividualId")
#: A person account's Individual (Object Reference, Account: ``PersonIndividualId``).
PERSON_ACCOUNT_LINK = PersonLink("Account", "PersonIndividualId")


def link_of(obj: str, person_account: bool) -> PersonLink | None:
    """The link of a person mapping's target: Contact, or a person account; else None."""
    if person_account and obj == PERSON_ACCOUNT_LINK.object:
        return PERSON_ACCOUNT_LINK
    return CONTACT_LINK if obj == CONTACT_LINK.object else None


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


def detect(writer: Writer, link: PersonLink = CONTACT_LINK) -> Detection:
    """Describe the person object of ``link``, Individual, DataUsePurpose and
    ContactPointTypeConsent (cached by the writer's describer) and say whether consent records
    can be written for persons linked through ``link``."""
    describer = writer.describer
    person = describer.fields(link.object) or {}
    if link.field not in person:
        # Contact.IndividualId and Account.PersonIndividualId exist exactly where Data
        # Protection and Privacy is enabled (Object Reference, Contact and Account): no model,
        # and no describe of the objects the org lacks.
        return Detection(None)
    individual = describer.fields(INDIVIDUAL)
    consent = describer.fields(CONSENT)
    purpose = describer.fields(PURPOSE)
    if individual is None or consent is None or purpose is None:
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
    """One run's view of the org's consent model: detected once per person link, purposes
    looked up once.

    Args:
        writer: The run's writer (its describer caches describe answers).
    """

    def __init__(self, writer: Writer):
        self.writer = writer
        self._detections: dict[PersonLink, Detection] = {}
        self._purpose_ids: dict[str, str] = {}
        self._looked_up = False
        # The engine asks for the model while the consent stage's worker writes a chunk: one
        # describe, one purpose look-up, whoever asks first.
        self._lock = threading.Lock()

    def detection(self, link: PersonLink = CONTACT_LINK) -> Detection:
        """The org's consent model for persons linked through ``link`` (describe on first
        use)."""
        with self._lock:
            found = self._detections.get(link)
            if found is None:
                found = self._detections[link] = detect(self.writer, link)
            return found

    def purpose_ids(self, purposes: Mapping[str, str]) -> dict[str, str]:
        """DataUsePurpose Id per purpose name; ``purposes`` maps name → description.

        One query by Name for the run (the names are ours, escaped by ``format_soql``); a
        purpose the org lacks is created (Name, Description, CanDataSubjectOptOut: a consent
        can always be withdrawn, art. 7(3)). Raises SalesforceError as the client does.
        """
        with self._lock:
            return self._purpose_ids_of(purposes)

    def _purpose_ids_of(self, purposes: Mapping[str, str]) -> dict[str, str]:
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
