"""The shipped EDA schema (``--schema eda``) through the real simple-salesforce client: record
types, hed__ objects, and what a real org leaves behind after a Contact is deleted."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from connector.emulator.schemas import builtin_schema
from connector.emulator.testing import running_emulator


@pytest.fixture(scope="module")
def emu():
    with running_emulator(schema_file=builtin_schema("eda")) as e:
        yield e


@pytest.fixture
def sf(emu):
    emu.reset()
    return emu.client()


def _rt(sf, name: str) -> str:
    rows = sf.query(
        f"SELECT Id FROM RecordType WHERE SobjectType = 'Account' AND DeveloperName = '{name}'"
    )["records"]
    return rows[0]["Id"]


def _student(sf):
    admin = sf.Account.create({"Name": "Jansen Administrative Account"})["id"]
    cid = sf.Contact.create(
        {
            "LastName": "Jansen",
            "AccountId": admin,
            "hed__AlternateEmail__c": "eva@example.org",
            "hed__Preferred_Email__c": "Alternate",
        }
    )["id"]
    prog = sf.Account.create(
        {
            "Name": "Software developer",
            "RecordTypeId": _rt(sf, "Academic_Program"),
            "Crebo__c": "25604",
        }
    )["id"]
    affl = sf.hed__Affiliation__c.create(
        {
            "hed__Contact__c": cid,
            "hed__Account__c": prog,
            "hed__Role__c": "Student",
            "SIS_Sync_Key__c": "S1-25604",
        }
    )["id"]
    pe = sf.hed__Program_Enrollment__c.create(
        {"hed__Contact__c": cid, "hed__Account__c": prog, "hed__Affiliation__c": affl}
    )["id"]
    addr = sf.hed__Address__c.create(
        {"hed__Parent_Contact__c": cid, "hed__MailingCity__c": "Utrecht"}
    )["id"]
    return admin, cid, prog, affl, pe, addr


def test_eda_record_types_and_objects(sf):
    rts = sf.query("SELECT DeveloperName FROM RecordType WHERE SobjectType = 'Account'")
    names = {r["DeveloperName"] for r in rts["records"]}
    assert {"Administrative", "Academic_Program", "Educational_Institution"} <= names
    infos = sf.Account.describe()["recordTypeInfos"]
    default = [i["developerName"] for i in infos if i["defaultRecordTypeMapping"]]
    assert default == ["Administrative"]
    objects = {o["name"] for o in sf.describe()["sobjects"]}
    assert {
        "hed__Affiliation__c",
        "hed__Program_Enrollment__c",
        "hed__Course_Enrollment__c",
        "hed__Address__c",
    } <= objects
    contact = {f["name"] for f in sf.Contact.describe()["fields"]}
    assert {"hed__Preferred_Email__c", "hed__UniversityEmail__c"} <= contact
    assert "IsPersonAccount" not in contact  # EDA is a Contact model, no person accounts


def test_a_new_account_gets_the_default_record_type(sf):
    admin = sf.Account.get(sf.Account.create({"Name": "X Administrative Account"})["id"])
    assert admin["RecordTypeId"] == _rt(sf, "Administrative")


def test_deleting_a_contact_leaves_affiliations_enrolments_addresses_and_admin_account(sf):
    admin, cid, _prog, affl, pe, addr = _student(sf)
    sf.Contact.delete(cid)
    # hed__Contact__c / hed__Parent_Contact__c are Lookups with deleteConstraint SetNull:
    # the records survive with the person's lookup cleared (education-data-models.md §1b).
    assert sf.hed__Affiliation__c.get(affl)["hed__Contact__c"] is None
    assert sf.hed__Program_Enrollment__c.get(pe)["hed__Contact__c"] is None
    assert sf.hed__Address__c.get(addr)["hed__Parent_Contact__c"] is None
    assert sf.Account.get(admin)["IsDeleted"] is False  # the Administrative Account survives
    rows = sf.query_all("SELECT Id, IsDeleted FROM Contact", include_deleted=True)["records"]
    assert [(r["Id"], r["IsDeleted"]) for r in rows] == [(cid, True)]


def test_an_affiliation_cannot_be_deleted_while_an_enrolment_points_at_it(sf):
    _admin, _cid, _prog, affl, pe, _addr = _student(sf)
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.hed__Affiliation__c.delete(affl)
    assert exc.value.content[0]["errorCode"] == "DELETE_FAILED"
    sf.hed__Program_Enrollment__c.delete(pe)
    sf.hed__Affiliation__c.delete(affl)
    assert sf.query("SELECT Id FROM hed__Affiliation__c")["totalSize"] == 0


def test_child_relationship_names_from_the_metadata(sf):
    rows = sf.query("SELECT Name, (SELECT hed__Role__c FROM hed__Affl_Accounts__r) FROM Contact")[
        "records"
    ]
    assert rows == [] or "hed__Affl_Accounts__r" in rows[0]
    _student(sf)
    row = sf.query("SELECT (SELECT hed__Role__c FROM hed__Affl_Accounts__r) FROM Contact")[
        "records"
    ][0]
    assert row["hed__Affl_Accounts__r"]["records"][0]["hed__Role__c"] == "Student"


def test_upsert_affiliation_by_sync_key(sf):
    _admin, _cid, _prog, affl, _pe, _addr = _student(sf)
    sf.hed__Affiliation__c.upsert("SIS_Sync_Key__c/S1-25604", {"hed__Status__c": "Former"})
    assert sf.hed__Affiliation__c.get(affl)["hed__Status__c"] == "Former"
