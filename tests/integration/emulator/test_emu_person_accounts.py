"""Person accounts (``--person-accounts``) through the real simple-salesforce client: the hidden
person contact, mirrored fields, record types, and what Salesforce refuses."""

from __future__ import annotations

import csv
import io

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from connector.emulator.testing import running_emulator


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    # A Contact custom field from a schema file is mirrored on Account as __pc too.
    schema = tmp_path_factory.mktemp("schema") / "extra.yaml"
    schema.write_text(
        "objects:\n  Contact:\n    fields:\n"
        "      - {name: Legacy_Id__c, type: string, length: 40, externalId: true, unique: true}\n"
        "    recordTypes:\n      - {developerName: Student}\n"
    )
    with running_emulator(person_accounts=True, schema_file=schema) as e:
        yield e


@pytest.fixture
def sf(emu):
    emu.reset()
    return emu.client()


def _rt(sf, name: str, sobject: str = "Account") -> str:
    soql = f"SELECT Id FROM RecordType WHERE DeveloperName = '{name}' AND SobjectType = '{sobject}'"
    rows = sf.query(soql)["records"]
    assert len(rows) == 1
    return rows[0]["Id"]


def _code(exc_info) -> str:
    return exc_info.value.content[0]["errorCode"]


def _person(sf, key="S1", **extra):
    body = {
        "RecordTypeId": _rt(sf, "PersonAccount"),
        "FirstName": "Eva",
        "LastName": "Jansen",
        "PersonEmail": "eva@example.org",
        "PersonBirthdate": "2008-04-01",
        "PersonMobilePhone": "+31600000000",
        "SIS_Sync_Key__pc": key,
        **extra,
    }
    return sf.Account.create(body)["id"]


def test_record_types_are_queryable_by_developer_name_and_object(sf):
    rows = sf.query(
        "SELECT DeveloperName, SobjectType, IsPersonType FROM RecordType "
        "WHERE SobjectType = 'Account' ORDER BY DeveloperName"
    )["records"]
    assert [(r["DeveloperName"], r["SobjectType"], r["IsPersonType"]) for r in rows] == [
        ("Business_Account", "Account", False),
        ("PersonAccount", "Account", True),
    ]
    infos = sf.Account.describe()["recordTypeInfos"]
    assert [i["developerName"] for i in infos] == ["Business_Account", "PersonAccount", "Master"]
    assert [i["recordTypeId"] for i in infos[:2]] == [
        _rt(sf, "Business_Account"),
        _rt(sf, "PersonAccount"),
    ]


def test_creating_a_person_account_creates_its_person_contact(sf):
    aid = _person(sf)
    acc = sf.Account.get(aid)
    assert acc["IsPersonAccount"] is True and acc["Name"] == "Eva Jansen"
    assert acc["RecordTypeId"] == _rt(sf, "PersonAccount")
    contact = sf.Contact.get(acc["PersonContactId"])
    assert contact["IsPersonAccount"] is True and contact["AccountId"] == aid
    assert (contact["Email"], contact["Birthdate"], contact["MobilePhone"]) == (
        "eva@example.org",
        "2008-04-01",
        "+31600000000",
    )
    assert contact["SIS_Sync_Key__c"] == "S1" and contact["Name"] == "Eva Jansen"
    fields = {f["name"]: f for f in sf.Account.describe()["fields"]}
    for name in ("PersonContactId", "IsPersonAccount"):
        assert not fields[name]["createable"] and not fields[name]["updateable"]
    assert fields["Legacy_Id__pc"]["externalId"] and fields["SIS_Sync_Key__pc"]["externalId"]


def test_person_contact_id_is_read_only(sf):
    aid = _person(sf)
    other = sf.Contact.create({"LastName": "Other"})["id"]
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Account.update(aid, {"PersonContactId": other})
    assert _code(exc) == "INVALID_FIELD_FOR_INSERT_UPDATE"


def test_business_account_needs_name_and_takes_no_person_fields(sf):
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Account.create({"Phone": "010"})
    assert _code(exc) == "REQUIRED_FIELD_MISSING"
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Account.create({"Name": "ROC", "PersonEmail": "x@example.org"})
    assert _code(exc) == "INVALID_FIELD_FOR_INSERT_UPDATE"
    biz = sf.Account.get(sf.Account.create({"Name": "ROC"})["id"])
    assert biz["IsPersonAccount"] is False and biz["PersonContactId"] is None
    assert biz["RecordTypeId"] == _rt(sf, "Business_Account")  # the default record type
    assert sf.query("SELECT Id FROM Contact")["totalSize"] == 0


def test_person_account_needs_last_name_and_takes_no_name(sf):
    pa = _rt(sf, "PersonAccount")
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Account.create({"RecordTypeId": pa, "FirstName": "Eva"})
    assert _code(exc) == "REQUIRED_FIELD_MISSING"
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Account.create({"RecordTypeId": pa, "LastName": "J", "Name": "Eva J"})
    assert _code(exc) == "INVALID_FIELD_FOR_INSERT_UPDATE"


def test_record_type_of_another_object_is_refused(sf):
    student = _rt(sf, "Student", "Contact")
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Account.create({"Name": "ROC", "RecordTypeId": student})
    assert _code(exc) == "INVALID_CROSS_REFERENCE_KEY"
    aid = sf.Account.create({"Name": "ROC"})["id"]
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Account.update(aid, {"RecordTypeId": student})
    assert _code(exc) == "INVALID_CROSS_REFERENCE_KEY"
    cid = sf.Contact.create({"LastName": "B", "RecordTypeId": student})["id"]
    assert sf.Contact.get(cid)["RecordTypeId"] == student


def test_updating_mirrored_fields_updates_the_person_contact(sf):
    aid = _person(sf)
    cid = sf.Account.get(aid)["PersonContactId"]
    sf.Account.update(
        aid, {"LastName": "Smit", "PersonEmail": "e2@example.org", "Legacy_Id__pc": "L9"}
    )
    contact = sf.Contact.get(cid)
    assert (contact["LastName"], contact["Name"], contact["Email"], contact["Legacy_Id__c"]) == (
        "Smit",
        "Eva Smit",
        "e2@example.org",
        "L9",
    )
    assert sf.Account.get(aid)["Name"] == "Eva Smit"


def test_writing_the_person_contact_directly_is_refused(sf):
    aid = _person(sf)
    cid = sf.Account.get(aid)["PersonContactId"]
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Contact.update(cid, {"Email": "other@example.org"})
    assert _code(exc) == "INSUFFICIENT_ACCESS_OR_READONLY"
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Contact.delete(cid)
    assert _code(exc) == "INSUFFICIENT_ACCESS_OR_READONLY"
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Contact.create({"LastName": "Second", "AccountId": aid})
    assert _code(exc) == "INVALID_CROSS_REFERENCE_KEY"
    # An upsert by the contact's external id reaches the person contact: refused the same way.
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Contact.upsert("SIS_Sync_Key__c/S1", {"Email": "other@example.org"})
    assert _code(exc) == "INSUFFICIENT_ACCESS_OR_READONLY"
    assert sf.Contact.get(cid)["Email"] == "eva@example.org"


def test_person_contact_is_a_campaign_member_and_task_who(sf):
    aid = _person(sf)
    cid = sf.Account.get(aid)["PersonContactId"]
    camp = sf.Campaign.create({"Name": "Open dag"})["id"]
    sf.CampaignMember.create({"CampaignId": camp, "ContactId": cid, "Status": "Registered"})
    sf.Task.create({"WhoId": cid, "WhatId": camp, "Subject": "Bezoek"})
    rows = sf.query(
        f"SELECT Contact.Account.PersonEmail FROM CampaignMember WHERE ContactId = '{cid}'"
    )["records"]
    assert rows[0]["Contact"]["Account"]["PersonEmail"] == "eva@example.org"


def test_deleting_a_person_account_deletes_its_contact_and_the_contacts_children(sf):
    aid = _person(sf)
    cid = sf.Account.get(aid)["PersonContactId"]
    camp = sf.Campaign.create({"Name": "Open dag"})["id"]
    sf.CampaignMember.create({"CampaignId": camp, "ContactId": cid})
    sf.Task.create({"WhoId": cid, "Subject": "Bezoek"})
    sf.Account.delete(aid)
    for obj in ("Contact", "CampaignMember", "Task"):
        assert sf.query(f"SELECT Id FROM {obj}")["totalSize"] == 0
        gone = sf.query_all(f"SELECT Id, IsDeleted FROM {obj}", include_deleted=True)["records"]
        assert len(gone) == 1 and gone[0]["IsDeleted"] is True
    assert sf.query("SELECT Id FROM Campaign")["totalSize"] == 1


def test_upsert_by_pc_external_id_through_rest_collections_and_composite(sf):
    pa = _rt(sf, "PersonAccount")
    created = sf.Account.upsert("SIS_Sync_Key__pc/K1", {"RecordTypeId": pa, "LastName": "A"})
    assert created == 201
    sf.Account.upsert("SIS_Sync_Key__pc/K1", {"PersonEmail": "a@example.org"})
    res = sf.restful(
        "composite/sobjects/Account/SIS_Sync_Key__pc",
        method="PATCH",
        json={
            "allOrNone": False,
            "records": [
                {
                    "attributes": {"type": "Account"},
                    "SIS_Sync_Key__pc": "K2",
                    "RecordTypeId": pa,
                    "LastName": "B",
                },
                {"attributes": {"type": "Account"}, "SIS_Sync_Key__pc": "K1", "FirstName": "An"},
            ],
        },
    )
    assert [(r["success"], r["created"]) for r in res] == [(True, True), (True, False)]
    comp = sf.restful(
        "composite",
        method="POST",
        json={
            "allOrNone": True,
            "compositeRequest": [
                {
                    "method": "POST",
                    "url": "/services/data/v59.0/sobjects/Account",
                    "referenceId": "acc",
                    "body": {"RecordTypeId": pa, "LastName": "C", "SIS_Sync_Key__pc": "K3"},
                },
                {
                    "method": "GET",
                    "url": "/services/data/v59.0/sobjects/Account/@{acc.id}",
                    "referenceId": "got",
                },
            ],
        },
    )["compositeResponse"]
    assert comp[0]["httpStatusCode"] == 201 and comp[1]["body"]["PersonContactId"]
    rows = sf.query(
        "SELECT SIS_Sync_Key__c, FirstName, Email, IsPersonAccount FROM Contact "
        "ORDER BY SIS_Sync_Key__c"
    )["records"]
    assert [(r["SIS_Sync_Key__c"], r["FirstName"], r["Email"]) for r in rows] == [
        ("K1", "An", "a@example.org"),
        ("K2", None, None),
        ("K3", None, None),
    ]
    assert all(r["IsPersonAccount"] for r in rows)


def test_pc_external_id_is_unique_across_person_contacts_and_contacts(sf):
    sf.Contact.create({"LastName": "Plain", "SIS_Sync_Key__c": "DUP"})
    with pytest.raises(SalesforceMalformedRequest) as exc:
        _person(sf, key="DUP")
    assert _code(exc) == "DUPLICATE_VALUE"
    assert sf.query("SELECT Id FROM Account")["totalSize"] == 0  # nothing half-made


def test_bulk_upsert_by_pc_external_id_creates_person_contacts(sf):
    pa = _rt(sf, "PersonAccount")
    rows = [
        {
            "SIS_Sync_Key__pc": f"B{i}",
            "RecordTypeId": pa,
            "LastName": f"L{i}",
            "PersonEmail": f"p{i}@example.org",
        }
        for i in range(5)
    ]
    res = sf.bulk2.Account.upsert(records=rows, external_id_field="SIS_Sync_Key__pc", wait=0.1)
    assert res[0]["numberRecordsFailed"] == 0
    sf.bulk2.Account.upsert(
        records=[{"SIS_Sync_Key__pc": "B0", "PersonEmail": "new@example.org"}],
        external_id_field="SIS_Sync_Key__pc",
        wait=0.1,
    )
    contacts = sf.query("SELECT SIS_Sync_Key__c, Email, AccountId FROM Contact")["records"]
    assert len(contacts) == 5 and all(c["AccountId"] for c in contacts)
    by_key = {c["SIS_Sync_Key__c"]: c["Email"] for c in contacts}
    assert by_key["B0"] == "new@example.org" and by_key["B1"] == "p1@example.org"
    # The person contact cannot be written through Bulk either.
    job = sf.bulk2.Contact.upsert(
        records=[{"SIS_Sync_Key__c": "B1", "Email": "x@example.org"}],
        external_id_field="SIS_Sync_Key__c",
        wait=0.1,
    )
    failed = list(
        csv.DictReader(io.StringIO(sf.bulk2.Contact.get_failed_records(job[0]["job_id"])))
    )
    assert failed[0]["sf__Error"].startswith("INSUFFICIENT_ACCESS_OR_READONLY")


def test_a_plain_org_has_no_person_accounts(tmp_path):
    with running_emulator(tmp_path / "org") as plain:
        sf = plain.client()
        names = {f["name"] for f in sf.Account.describe()["fields"]}
        assert "IsPersonAccount" not in names and "RecordTypeId" not in names
        globals_ = {o["name"] for o in sf.describe()["sobjects"]}
        assert "LearnerProgram" not in globals_ and "RecordType" in globals_
        assert sf.query("SELECT Id FROM RecordType")["totalSize"] == 0
