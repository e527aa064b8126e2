"""Which Salesforce objects hold a person's data besides the person record: pure data and rules.

The GDPR jobs (:mod:`connector.gdpr.education_graph`, erasure, purge, export) use the table to
find and delete a person's children; the register (:mod:`connector.privacy.register`) uses it to
name the objects erasure and the purge reach. Sources are in :mod:`connector.gdpr.education_graph`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

#: Children every model has: activities and campaign memberships of a Contact/Lead.
ACTIVITY_CHILDREN = ("Task", "Event", "CampaignMember")
#: Salesforce's consent model, where the org has it (DESIGN §6).
CONSENT_OBJECTS = ("ContactPointTypeConsent", "Individual")


@dataclass(frozen=True, slots=True)
class ChildLink:
    """A child object that looks a person up, and what deleting the person does to it."""

    object: str
    field: str
    owner: Literal["Contact", "Account"]
    on_delete: Literal["SetNull", "Restrict", "Cascade"]


#: In deletion order (a child before whatever restricts on it). A required (Restrict) lookup says
#: whose record it is: a LearnerProgram whose LearnerAccountId names another learner is theirs,
#: even when its LearnerContactId names the person (connector.gdpr.education_graph).
EDUCATION_CHILDREN: tuple[ChildLink, ...] = (
    # EDA (hed__)
    ChildLink("hed__Course_Enrollment__c", "hed__Contact__c", "Contact", "SetNull"),
    ChildLink("hed__Program_Enrollment__c", "hed__Contact__c", "Contact", "SetNull"),
    ChildLink("hed__Affiliation__c", "hed__Contact__c", "Contact", "SetNull"),
    ChildLink("hed__Address__c", "hed__Parent_Contact__c", "Contact", "SetNull"),
    ChildLink("hed__Application__c", "hed__Applicant__c", "Contact", "SetNull"),
    ChildLink("hed__Relationship__c", "hed__Contact__c", "Contact", "Restrict"),
    # Education Cloud
    ChildLink("AcademicTermEnrollment", "LearnerAccountId", "Account", "SetNull"),
    ChildLink("AcademicTermEnrollment", "LearnerContactId", "Contact", "SetNull"),
    ChildLink("LearnerProgram", "LearnerAccountId", "Account", "Restrict"),
    ChildLink("LearnerProgram", "LearnerContactId", "Contact", "SetNull"),
    ChildLink("IndividualApplication", "AccountId", "Account", "SetNull"),
    ChildLink("ContactProfile", "ContactId", "Contact", "Restrict"),
)
#: Objects that are a person's own record without being a person object (Contact, Lead): a
#: person account, EDA's Administrative Account. Deleted after the person's Contacts, and kept
#: when one of the person's children was refused (the next attempt finds it through them).
OWNER_OBJECTS = ("Account",)
ADMINISTRATIVE = "Administrative"  # EDA's record type DeveloperName
_AFTER_ALL = len(EDUCATION_CHILDREN) + 1


def education_rank(obj: str) -> int:
    """Deletion rank: education children in table order first, the owner objects last."""
    if obj in OWNER_OBJECTS:
        return _AFTER_ALL
    ranks = [n for n, link in enumerate(EDUCATION_CHILDREN) if link.object == obj]
    return ranks[0] if ranks else len(EDUCATION_CHILDREN)


def active_links(org_objects: Iterable[str] | None, targets: Iterable[str]) -> list[ChildLink]:
    """The links whose object the org has (``org_objects``, None: unknown) or a mapping targets.
    Pure."""
    have = set(targets) | set(org_objects or ())
    return [link for link in EDUCATION_CHILDREN if link.object in have]


def education_model(targets: Iterable[str]) -> bool:
    """True when the mappings target an education org: a person account (Account), an
    education object or an EDA (``hed__``) object. Pure."""
    education = {link.object for link in EDUCATION_CHILDREN} | set(OWNER_OBJECTS)
    return any(t in education or t.startswith("hed__") for t in targets)


def reached_objects(targets: Iterable[str]) -> list[str]:
    """The objects erasure and the purge delete with a person whose mappings write ``targets``
    (the targets themselves, their activities and memberships, the consent model, and for an
    education model its children). Pure; sorted, for the register."""
    wanted = set(targets)
    names = wanted | set(ACTIVITY_CHILDREN) | set(CONSENT_OBJECTS)
    eda = {link.object for link in EDUCATION_CHILDREN if link.object.startswith("hed__")}
    if any(t.startswith("hed__") for t in wanted):
        # EDA: its children, and the Administrative Account erasure and the purge delete.
        names |= eda | set(OWNER_OBJECTS)
    elif education_model(wanted):
        names |= {link.object for link in EDUCATION_CHILDREN} - eda  # Education Cloud
    names.discard("Campaign")  # an event, not a person's data
    return sorted(names)
