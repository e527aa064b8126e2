"""Person accounts: an Account with a person record type and the hidden Contact Salesforce
creates with it.

"When a person account is created ..., a corresponding contact record is also created. This
contact record is referred to as a 'person contact.' ... This record is the only contact record
that can be associated directly with the person account. Also, the ID of the corresponding
person contact record is stored in the PersonContactId field on the person account." —
Person Account Record Types, SOAP API Developer Guide,
https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_guidelines_personaccounts.htm

The Account carries the person's fields: FirstName/LastName, ``Person…`` copies of the Contact's
standard fields and every Contact custom field as ``…__pc`` ("the contact fields that the account
change event includes are all custom contact fields and some standard contact fields, which
start with the Person prefix" — Creating and Undeleting a Person Account, Change Data Capture
Developer Guide, https://developer.salesforce.com/docs/atlas.en-us.change_data_capture.meta/change_data_capture/cdc_standard_objects_person_account_create.htm).
Writes go through the Account; the emulator keeps the person contact in step. Writing the person
contact directly is refused with INSUFFICIENT_ACCESS_OR_READONLY, the error Salesforce gives for
it (Knowledge article 005305352, https://help.salesforce.com/s/articleView?id=005305352&type=1)
[unverified for fields other than RecordTypeId].
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from connector.emulator.ids import USER_ID, sf_datetime
from connector.emulator.org_schema import FieldDef, ObjectDef, Schema, _system_fields
from connector.emulator.wire import RecordError

if TYPE_CHECKING:
    from connector.emulator.dml import Dml
    from connector.emulator.org_records import Txn

# Account field → the person contact's field (besides ``X__pc`` → ``X__c``).
_SAME = ("FirstName", "LastName", "MiddleName", "Suffix", "Salutation")
_PERSON = {
    "PersonEmail": "Email",
    "PersonBirthdate": "Birthdate",
    "PersonMobilePhone": "MobilePhone",
    "PersonHomePhone": "HomePhone",
    "PersonOtherPhone": "OtherPhone",
    "PersonTitle": "Title",
    "PersonDepartment": "Department",
    "PersonMailingStreet": "MailingStreet",
    "PersonMailingCity": "MailingCity",
    "PersonMailingState": "MailingState",
    "PersonMailingPostalCode": "MailingPostalCode",
    "PersonMailingCountry": "MailingCountry",
    "PersonLeadSource": "LeadSource",
    "PersonHasOptedOutOfEmail": "HasOptedOutOfEmail",
    "PersonDoNotCall": "DoNotCall",
    "PersonIndividualId": "IndividualId",
}


def _missing(name: str) -> RecordError:
    return RecordError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{name}]", [name])


def _read_only(name: str, typ: str, length: int = 0, **kw: Any) -> FieldDef:
    return FieldDef(name, typ, name, length, createable=False, updateable=False, **kw)


def enable_person_accounts(schema: Schema) -> None:
    """Turn person accounts on: Account record types, ``IsPersonAccount`` on Account and
    Contact, and the Education Cloud objects (education.py)."""
    from connector.emulator.education import ACCOUNT_RECORD_TYPES, EDUCATION_OBJECTS
    from connector.emulator.org_schema import ObjectDef

    schema.person_accounts = True
    account, contact = schema.objects["Account"], schema.objects["Contact"]
    account.record_types.extend(dict(rt) for rt in ACCOUNT_RECORD_TYPES)
    flag = {"nillable": False, "defaulted": True, "default": False}
    for obj in (account, contact):
        obj.fields["IsPersonAccount"] = _read_only("IsPersonAccount", "boolean", **flag)
    account.fields["PersonContactId"] = _read_only(
        "PersonContactId", "reference", 18, reference_to=["Contact"]
    )
    # A business account needs Name; a person account gets it from First/Last name (checked in
    # PersonRules), so Name is no longer required by itself.
    account.fields["Name"] = dataclasses.replace(account.fields["Name"], nillable=True)
    # Field look-ups by name (relationship paths such as ``Contact.IsPersonAccount``, DML
    # checks) read the objects' index, not ``fields``: rebuild it after adding fields.
    for obj in (account, contact):
        obj.reindex()
    for name, (label, prefix, fields) in EDUCATION_OBJECTS.items():
        all_fields = {f.name: f for f in _system_fields(name)}
        all_fields.update({f.name: f for f in fields})
        schema.add_object(ObjectDef(name, label, prefix, all_fields))


def mirror_contact_fields(schema: Schema) -> None:
    """Add the Contact's person fields to Account (after any ``--schema`` file is applied)."""
    account, contact = schema.objects["Account"], schema.objects["Contact"]
    mapping: dict[str, str] = {}
    for name in _SAME:
        if name in contact.fields:
            mapping[name] = name
    for name, source in _PERSON.items():
        if source in contact.fields:
            mapping[name] = source
    for name, f in contact.fields.items():
        if f.custom and name.endswith("__c"):
            mapping[name[:-3] + "__pc"] = name
    for name, source in mapping.items():
        if name not in account.fields:
            account.fields[name] = dataclasses.replace(
                contact.fields[source],
                name=name,
                label=name,
                nillable=True if name == "LastName" else contact.fields[source].nillable,
            )
    account.reindex()
    schema.person_fields = mapping  # type: ignore[attr-defined]


class PersonRules:
    """What Salesforce does around person accounts, for ``Dml`` to call."""

    def __init__(self, dml: Dml):
        self.dml = dml
        self.store = dml.store
        self.schema = dml.store.schema
        self.on = self.schema.person_accounts
        self.mapping: dict[str, str] = getattr(self.schema, "person_fields", {})
        self.person_types = {
            rt["Id"]
            for obj in self.schema.objects.values()
            for rt in obj.record_types
            if rt.get("IsPersonType")
        }

    # -- record types (every org) -------------------------------------------------------------
    def check_record_type(self, obj: ObjectDef, values: dict[str, Any]) -> None:
        """A RecordTypeId must be one of this object's record types.

        Raises:
            RecordError: INVALID_CROSS_REFERENCE_KEY (the message Salesforce gives names the id).
        """
        rtid = values.get("RecordTypeId")
        if rtid is not None and rtid not in {rt["Id"] for rt in obj.record_types}:
            raise RecordError(
                "INVALID_CROSS_REFERENCE_KEY",
                f"Record Type ID: this ID value isn't valid for the user: {rtid}",
                ["RecordTypeId"],
            )

    def is_person(self, obj: ObjectDef, rec: dict[str, Any]) -> bool:
        """Whether ``rec`` (merged values) is a person account."""
        return self.on and obj.name == "Account" and rec.get("RecordTypeId") in self.person_types

    # -- create ---------------------------------------------------------------------------
    def before_create(self, obj: ObjectDef, values: dict[str, Any]) -> None:
        """Check a new record; for a person account, reserve its contact's id in ``values``."""
        if obj.record_types:
            self.check_record_type(obj, values)
        if not self.on:
            return
        if obj.name == "Contact":
            self._refuse_contact_of_person(values.get("AccountId"))
            return
        if obj.name != "Account":
            return
        merged = {**obj.template, **values}
        if self.is_person(obj, merged):
            if merged.get("Name"):
                # CumulusCI "sets Account Name as blank for Person Accounts" (PR #1829): the
                # name of a person account is its person's name [unverified error wording].
                raise RecordError(
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    "Unable to create fields: Name. A person account's name comes from "
                    "FirstName and LastName.",
                    ["Name"],
                )
            if not merged.get("LastName"):
                raise _missing("LastName")
            values["IsPersonAccount"] = True
            values["PersonContactId"] = self.store.ids.new("003")
        else:
            self._business_only(merged, values)

    def _business_only(self, merged: dict[str, Any], values: dict[str, Any]) -> None:
        if not merged.get("Name"):
            raise _missing("Name")
        used = [n for n in values if n in self.mapping and values[n] not in (None, False)]
        if used:
            # [unverified] wording; a business account has no person fields.
            raise RecordError(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {', '.join(used)}. These are person account "
                "fields and this is a business account.",
                used,
            )

    def _refuse_contact_of_person(self, account_id: Any) -> None:
        acc = self.store.get(account_id) if isinstance(account_id, str) else None
        if acc is not None and acc.get("IsPersonAccount"):
            # "This record is the only contact record that can be associated directly with the
            # person account" (module docstring) [unverified error code].
            raise RecordError(
                "INVALID_CROSS_REFERENCE_KEY",
                "Cannot associate a contact with a person account",
                ["AccountId"],
            )

    def derive_name(self, obj: ObjectDef, rec: dict[str, Any]) -> None:
        """A person account's Name is its person's full name."""
        if self.on and obj.name == "Account" and rec.get("IsPersonAccount"):
            first, last = rec.get("FirstName"), rec.get("LastName")
            rec["Name"] = f"{first} {last}" if first and last else (first or last or "")

    def after_create(self, obj: ObjectDef, rec: dict[str, Any], txn: Txn) -> None:
        """Create the person contact of a new person account."""
        if not (self.on and obj.name == "Account" and rec.get("IsPersonAccount")):
            return
        contact = self.schema.objects["Contact"]
        now = rec["CreatedDate"]
        crec = {
            **contact.template,
            **{src: rec.get(acc) for acc, src in self.mapping.items()},
            "Id": rec["PersonContactId"],
            "AccountId": rec["Id"],
            "IsPersonAccount": True,
            "IsDeleted": False,
            "CreatedDate": now,
            "LastModifiedDate": now,
            "SystemModstamp": now,
            "CreatedById": USER_ID,
            "LastModifiedById": USER_ID,
            "OwnerId": rec.get("OwnerId") or USER_ID,
        }
        self.dml._derive(contact, crec)
        self.dml._check_unique(contact, crec, crec)
        self.store.insert("Contact", crec, {k: v for k, v in crec.items() if v is not None}, txn)

    # -- update ---------------------------------------------------------------------------
    def before_update(self, obj: ObjectDef, old: dict[str, Any], values: dict[str, Any]) -> None:
        """Refuse what Salesforce refuses on an update."""
        if obj.record_types and "RecordTypeId" in values:
            self.check_record_type(obj, values)
        if not self.on:
            return
        if obj.name == "Contact":
            if old.get("IsPersonAccount"):
                raise RecordError(
                    "INSUFFICIENT_ACCESS_OR_READONLY",
                    f"insufficient access rights on object id: {old['Id']}",
                    [],
                )
            if "AccountId" in values:
                self._refuse_contact_of_person(values["AccountId"])
            return
        if obj.name != "Account":
            return
        merged = {**old, **values}
        if self.is_person(obj, merged) != bool(old.get("IsPersonAccount")):
            # Salesforce can convert between business and person accounts under conditions the
            # emulator does not model; it refuses the change [unverified error].
            raise RecordError(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                "Unable to update fields: RecordTypeId. Converting between business and person "
                "accounts is not emulated.",
                ["RecordTypeId"],
            )
        if old.get("IsPersonAccount"):
            if values.get("Name"):
                raise RecordError(
                    "INVALID_FIELD_FOR_INSERT_UPDATE", "Unable to update fields: Name", ["Name"]
                )
            if "LastName" in values and not values["LastName"]:
                raise _missing("LastName")
        else:
            if "Name" in values and not values["Name"]:
                raise _missing("Name")
            self._business_only({"Name": True}, values)

    def after_update(
        self, obj: ObjectDef, rec: dict[str, Any], values: dict[str, Any], txn: Txn
    ) -> None:
        """Carry a person account's changed person fields to its contact."""
        if not (self.on and obj.name == "Account" and rec.get("IsPersonAccount")):
            return
        old = self.store.data["Contact"].get(rec["PersonContactId"])
        if old is None:
            return
        contact = self.schema.objects["Contact"]
        now = sf_datetime()
        changes = {self.mapping[n]: rec.get(n) for n in values if n in self.mapping}
        # "Salesforce always updates the LastModifiedDate system field in both the account and
        # contact" — Updating a Person Account, Change Data Capture Developer Guide,
        # https://developer.salesforce.com/docs/atlas.en-us.change_data_capture.meta/change_data_capture/cdc_standard_objects_person_account_update.htm
        changes |= {"LastModifiedDate": now, "SystemModstamp": now, "LastModifiedById": USER_ID}
        new = {**old, **changes}
        self.dml._derive(contact, new)
        if new.get("Name") != old.get("Name"):
            changes["Name"] = new["Name"]
        self.dml._check_unique(contact, new, changes)
        self.store.change("Contact", old, new, changes, txn)

    # -- delete ---------------------------------------------------------------------------
    def before_delete(self, obj: ObjectDef, rec: dict[str, Any]) -> None:
        """A person contact goes with its account, never by itself."""
        if self.on and obj.name == "Contact" and rec.get("IsPersonAccount"):
            raise RecordError(
                "INSUFFICIENT_ACCESS_OR_READONLY",
                f"insufficient access rights on object id: {rec['Id']}",
                [],
            )
