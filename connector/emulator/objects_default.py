"""The built-in school org: standard objects of wire spec §7 and the connector's custom fields.

Lengths and required flags follow the Salesforce Field Reference as quoted in the wire spec; key
prefixes of Individual / ContactPointTypeConsent / DataUsePurpose are [unverified] (a real org's
describe is the truth).
"""

from __future__ import annotations

from typing import Any

from connector.emulator.org_schema import FieldDef


def _s(name: str, length: int, typ: str = "string", *, req: bool = False, **kw: Any) -> FieldDef:
    return FieldDef(
        name,
        typ,
        kw.pop("label", name),
        length,
        nillable=not req,
        custom=name.endswith("__c"),
        **kw,
    )


def _ext(name: str, length: int) -> FieldDef:
    # Custom external ids the README tells an admin to create: unique, case-insensitive.
    return _s(name, length, external_id=True, unique=True)


def _b(name: str, default: bool = False) -> FieldDef:
    return FieldDef(
        name,
        "boolean",
        name,
        0,
        nillable=False,
        defaulted=True,
        default=default,
        custom=name.endswith("__c"),
    )


def _p(
    name: str,
    values: list[str],
    *,
    req: bool = False,
    default: str | None = None,
    restricted: bool = False,
    create_only: bool = False,
) -> FieldDef:
    return FieldDef(
        name,
        "picklist",
        name,
        40 if not name.endswith("__c") else 255,
        nillable=not req,
        defaulted=default is not None,
        default=default,
        picklist=values,
        restricted=restricted,
        updateable=not create_only,
        custom=name.endswith("__c"),
    )


def _r(
    name: str,
    to: list[str],
    *,
    req: bool = False,
    create_only: bool = False,
    on_delete: str | None = None,
) -> FieldDef:
    # A lookup's parent delete clears it (SetNull); one that cannot be null cannot be cleared,
    # so its parent's delete is refused (Restrict) — CustomField.deleteConstraint, Metadata API,
    # https://developer.salesforce.com/docs/atlas.en-us.api_meta.meta/api_meta/customfield.htm
    return FieldDef(
        name,
        "reference",
        name,
        18,
        nillable=not req,
        reference_to=to,
        updateable=not create_only,
        custom=name.endswith("__c"),
        delete_constraint=on_delete or ("Restrict" if req else "SetNull"),
    )


def _t(name: str, typ: str, *, req: bool = False) -> FieldDef:
    return FieldDef(name, typ, name, 0, nillable=not req, custom=name.endswith("__c"))


def _owner() -> FieldDef:
    # Defaulted to the running user, so never "required" on create.
    return FieldDef(
        "OwnerId",
        "reference",
        "Owner ID",
        18,
        nillable=False,
        defaulted=True,
        reference_to=["User"],
    )


def _name(length: int = 121) -> FieldDef:
    # Compound/auto name: read-only, filled by the emulator from First/Last name.
    return FieldDef("Name", "string", "Full Name", length, createable=False, updateable=False)


_ADDRESS = [
    _s("Street", 255, "textarea"),
    _s("City", 40),
    _s("State", 80),
    _s("PostalCode", 20),
    _s("Country", 80),
]
_LEAD_SOURCE = _p("LeadSource", ["Web", "Phone Inquiry", "Partner Referral", "Open dag", "Other"])
_PRIVACY_FLAGS = [
    "HasOptedOutTracking",
    "HasOptedOutProcessing",
    "HasOptedOutProfiling",
    "HasOptedOutSolicit",
    "HasOptedOutGeoTracking",
    "ShouldForget",
    "SendIndividualData",
    "CanStorePiiElsewhere",
]

CONTACT = [
    _s("LastName", 80, req=True, label="Last Name"),
    _s("FirstName", 40, label="First Name"),
    _s("MiddleName", 40),
    _s("Suffix", 40),
    _name(),
    _p("Salutation", ["Mr.", "Ms.", "Mrs.", "Dr.", "Prof."]),
    _s("Email", 80, "email"),
    _s("Phone", 40, "phone"),
    _s("MobilePhone", 40, "phone"),
    _s("HomePhone", 40, "phone"),
    _s("OtherPhone", 40, "phone"),
    _s("Fax", 40, "phone"),
    _s("Title", 128),
    _s("Department", 80),
    _t("Birthdate", "date"),
    _b("HasOptedOutOfEmail"),
    _b("HasOptedOutOfFax"),
    _b("DoNotCall"),
    # Bounce management (Object Reference, Contact,
    # https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_contact.htm):
    # EmailBouncedReason (string 255) and EmailBouncedDate (dateTime) are Create/Update/Nillable;
    # IsEmailBounced is "Defaulted on create" only, read-only: the emulator derives it from
    # EmailBouncedDate (dml.py), so a test marks a bounce by setting the date and reason.
    _s("EmailBouncedReason", 255),
    _t("EmailBouncedDate", "datetime"),
    FieldDef(
        "IsEmailBounced",
        "boolean",
        "Is Email Bounced",
        0,
        nillable=False,
        createable=False,
        updateable=False,
        defaulted=True,
        default=False,
    ),
    _r("IndividualId", ["Individual"]),
    # "When you delete an account, ... contacts ... are deleted" with it (Salesforce Help,
    # Delete Accounts, https://help.salesforce.com/s/articleView?id=sf.account_delete.htm).
    _r("AccountId", ["Account"], on_delete="Cascade"),
    _s("MailingStreet", 255, "textarea"),
    _s("MailingCity", 40),
    _s("MailingState", 80),
    _s("MailingPostalCode", 20),
    _s("MailingCountry", 80),
    _s("Description", 32000, "textarea"),
    _owner(),
    _LEAD_SOURCE,
    _ext("SIS_Student_Number__c", 40),
    _ext("SIS_Sync_Key__c", 64),
    _b("Consent_News__c"),
    _t("Consent_News_At__c", "datetime"),
    _s("Consent_News_Source__c", 255),
    _p(
        "Lifecycle_Status__c",
        ["Prospect", "Aangemeld", "Ingeschreven", "Uitgeschreven", "Afgewezen"],
        restricted=True,
    ),
    _s("Study_Programme__c", 255),
]

LEAD = [
    _s("LastName", 80, req=True),
    _s("FirstName", 40),
    _name(),
    _s("Company", 255, req=True),
    _p(
        "Status",
        [
            "Open - Not Contacted",
            "Working - Contacted",
            "Closed - Converted",
            "Closed - Not Converted",
        ],
        req=True,
        default="Open - Not Contacted",
    ),
    _s("Email", 80, "email"),
    _s("Phone", 40, "phone"),
    _s("MobilePhone", 40, "phone"),
    _s("Title", 128),
    *_ADDRESS,
    _b("HasOptedOutOfEmail"),
    _b("DoNotCall"),
    _r("IndividualId", ["Individual"]),
    _b("IsConverted"),
    _owner(),
    _LEAD_SOURCE,
    _s("Description", 32000, "textarea"),
]

ACCOUNT = [
    _s("Name", 255, req=True),
    _p("Type", ["Prospect", "Customer - Direct", "Other"]),
    _s("Phone", 40, "phone"),
    _s("Website", 255, "url"),
    _s("BillingStreet", 255, "textarea"),
    _s("BillingCity", 40),
    _s("BillingPostalCode", 20),
    _s("BillingCountry", 80),
    _s("Description", 32000, "textarea"),
    _owner(),
]

CAMPAIGN = [
    _s("Name", 80, req=True),
    _p(
        "Type",
        ["Open dag", "Meeloopdag", "Voorlichting", "Conference", "Webinar", "Email", "Other"],
        restricted=True,
    ),
    _p("Status", ["Planned", "In Progress", "Completed", "Aborted"]),
    _b("IsActive"),
    _t("StartDate", "date"),
    _t("EndDate", "date"),
    _r("ParentId", ["Campaign"]),
    _s("Description", 32000, "textarea"),
    _owner(),
    _ext("Event_Id__c", 80),
]

# Campaign members and activities go with the campaign, contact or lead they belong to
# (describe's childRelationships of Contact: CampaignMembers, Tasks and Events have
# cascadeDelete true) [unverified against a live describe].
CAMPAIGN_MEMBER = [
    _r("CampaignId", ["Campaign"], req=True, create_only=True, on_delete="Cascade"),
    _r("ContactId", ["Contact"], create_only=True, on_delete="Cascade"),
    _r("LeadId", ["Lead"], create_only=True, on_delete="Cascade"),
    _p("Status", ["Sent", "Registered", "Attended", "Responded"], default="Sent", restricted=True),
    FieldDef(
        "HasResponded",
        "boolean",
        "Responded",
        0,
        nillable=False,
        createable=False,
        updateable=False,
        defaulted=True,
        default=False,
    ),
    _t("FirstRespondedDate", "date"),
    _ext("SIS_Sync_Key__c", 64),
]

_ACTIVITY = [
    _s("Subject", 255, "combobox"),
    _r("WhoId", ["Contact", "Lead"], on_delete="Cascade"),
    _r("WhatId", ["Account", "Campaign"], on_delete="Cascade"),
    _t("ActivityDate", "date"),
    _s("Description", 32000, "textarea"),
    _owner(),
    # Read-only; set for old closed activities, which query() then skips (archive.py).
    FieldDef(
        "IsArchived",
        "boolean",
        "Archived",
        0,
        nillable=False,
        createable=False,
        updateable=False,
        defaulted=True,
        default=False,
    ),
]
TASK = [
    *_ACTIVITY,
    _p(
        "Status",
        ["Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred"],
        req=True,
        default="Not Started",
    ),
    _p("Priority", ["High", "Normal", "Low"], req=True, default="Normal"),
    _p("Type", ["Call", "Email", "Meeting", "Other"]),
    _p("TaskSubtype", ["Task", "Email", "Call"], create_only=True),
    _ext("SIS_Sync_Key__c", 64),
]
EVENT = [
    *_ACTIVITY,
    _t("StartDateTime", "datetime"),
    _t("EndDateTime", "datetime"),
    _t("ActivityDateTime", "datetime"),
    _t("DurationInMinutes", "int"),
    _b("IsAllDayEvent"),
]

# Salesforce's consent model (Data Protection and Privacy), as the Object Reference documents it:
# Individual (FR-Ind), ContactPointTypeConsent
# (https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_contactpointtypeconsent.htm)
# and DataUsePurpose
# (https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_datausepurpose.htm).
# Fields whose description says "Required." are required on create here (the reference lists
# some of them as Nillable as well; a create without them is refused either way). The ``__c``
# fields are the ones the README asks an admin to create for sis-sync: external ids for
# idempotent upserts and who gave a consent.
INDIVIDUAL = [
    _s("LastName", 80, req=True),
    _s("FirstName", 40),
    _name(),
    _t("BirthDate", "date"),
    *[_b(f) for f in _PRIVACY_FLAGS],
    _owner(),
    _ext("SIS_Individual_Key__c", 64),
]

CONTACT_POINT_TYPE_CONSENT = [
    # Name: "Create, Filter, Group, Sort, Update" — not nillable, no default: required.
    _s("Name", 255, req=True),
    _r("PartyId", ["Individual"], req=True),
    _p(
        "ContactPointType",
        ["Email", "MailingAddress", "Phone", "Social", "Web"],
        req=True,
        restricted=True,
    ),
    _p("PrivacyConsentStatus", ["OptIn", "OptOut", "Seen", "NotSeen"], req=True, restricted=True),
    _t("CaptureDate", "datetime", req=True),
    _s("CaptureSource", 255, req=True),
    _p(
        "CaptureContactPointType",
        ["Email", "MailingAddress", "Phone", "Social", "Web"],
        req=True,
        restricted=True,
    ),
    # DataUsePurposeId: "Create, Filter, Group, Nillable, Sort, Update", not described as required.
    _r("DataUsePurposeId", ["DataUsePurpose"]),
    _t("EffectiveFrom", "datetime"),
    _t("EffectiveTo", "datetime"),
    _t("DoubleConsentCaptureDate", "datetime"),
    _owner(),
    _p("Consent_Given_By__c", ["self", "parent"], restricted=True),
    _ext("SIS_Consent_Key__c", 64),
]

DATA_USE_PURPOSE = [
    # Name: "Create, Filter, Group, idLookup, Sort, Update", "Required."
    _s("Name", 255, req=True),
    _s("Description", 255),
    _b("CanDataSubjectOptOut"),
]

# The running (integration) user: ``sf org login access-token`` reads its Username, and every
# OwnerId / CreatedById points at it. Seeded by the store (identity.USER_RECORD).
USER = [
    _s("Username", 80, req=True),
    _s("LastName", 80, req=True),
    _s("FirstName", 40),
    _name(),
    _s("Alias", 8, req=True),
    _s("Email", 128, "email", req=True),
    _b("IsActive", True),
    FieldDef("UserType", "picklist", "User Type", 40, createable=False, updateable=False),
    _s("TimeZoneSidKey", 40, "picklist", req=True),
    _s("LocaleSidKey", 40, "picklist", req=True),
    _s("LanguageLocaleKey", 40, "picklist", req=True),
    _s("EmailEncodingKey", 40, "picklist", req=True),
]

# Every org has RecordType; its records come from the schema's record types (seeded by the
# store). "RecordType: create(), ..., query(), retrieve(), update(), upsert()" — RecordType,
# Object Reference, https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_recordtype.htm
RECORD_TYPE = [
    _s("Name", 80, req=True),
    _s("DeveloperName", 80, req=True),
    _s("SobjectType", 40, req=True),
    _s("Description", 255),
    _b("IsActive", True),
    FieldDef(
        "IsPersonType",
        "boolean",
        "IsPersonType",
        0,
        nillable=False,
        createable=False,
        updateable=False,
        defaulted=True,
        default=False,
    ),
    FieldDef(
        "NamespacePrefix", "string", "NamespacePrefix", 15, createable=False, updateable=False
    ),
]

# name → (label, key prefix, fields)
DEFAULT_OBJECTS: dict[str, tuple[str, str, list[FieldDef]]] = {
    "Account": ("Account", "001", ACCOUNT),
    "Contact": ("Contact", "003", CONTACT),
    "Lead": ("Lead", "00Q", LEAD),
    "Campaign": ("Campaign", "701", CAMPAIGN),
    "CampaignMember": ("Campaign Member", "00v", CAMPAIGN_MEMBER),
    "Task": ("Task", "00T", TASK),
    "Event": ("Event", "00U", EVENT),
    "Individual": ("Individual", "0PK", INDIVIDUAL),
    "ContactPointTypeConsent": ("Contact Point Type Consent", "0ZY", CONTACT_POINT_TYPE_CONSENT),
    "DataUsePurpose": ("Data Use Purpose", "0ZX", DATA_USE_PURPOSE),
    "User": ("User", "005", USER),
    "RecordType": ("Record Type", "012", RECORD_TYPE),
}

# Salesforce's consent model (Data Protection and Privacy): the objects and the lookup to them.
CONSENT_MODEL_OBJECTS = ("Individual", "ContactPointTypeConsent", "DataUsePurpose")


def without_consent_model(
    objects: dict[str, tuple[str, str, list[FieldDef]]],
) -> dict[str, tuple[str, str, list[FieldDef]]]:
    """``objects`` as an org without Data Protection and Privacy has them: no consent objects,
    no ``IndividualId`` on Contact and Lead (tests and benchmarks of such an org)."""
    out = {name: spec for name, spec in objects.items() if name not in CONSENT_MODEL_OBJECTS}
    for name in ("Contact", "Lead"):
        label, prefix, fields = out[name]
        out[name] = (label, prefix, [f for f in fields if f.name != "IndividualId"])
    return out
