"""Single-record REST, describe, query and error shapes, through the real simple-salesforce."""

from __future__ import annotations

import re

import pytest
from simple_salesforce.exceptions import (
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)

from connector.emulator.ids import id_suffix
from connector.emulator.testing import running_emulator

DT_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    schema = tmp_path_factory.mktemp("schema") / "extra.yaml"
    schema.write_text(
        "objects:\n"
        "  Contact:\n"
        "    fields:\n"
        "      - {name: Legacy_Id__c, type: string, length: 40, externalId: true}\n"
        "  School__c:\n"
        "    label: School\n"
        "    fields:\n"
        "      - {name: BRIN__c, type: string, length: 4, externalId: true, unique: true,"
        " required: true}\n"
    )
    with running_emulator(schema_file=schema) as e:
        yield e


@pytest.fixture
def sf(emu):
    emu.reset()
    return emu.client()


def _code(exc_info) -> str:
    return exc_info.value.content[0]["errorCode"]


def test_create_get_update_delete_round_trip(sf, emu):
    res = sf.Contact.create({"LastName": "Jansen", "FirstName": "Eva", "Email": "e@example.org"})
    rid = res["id"]
    assert res["success"] is True and res["errors"] == []
    assert len(rid) == 18 and rid.startswith("003") and rid[15:] == id_suffix(rid[:15])
    rec = sf.Contact.get(rid)
    assert rec["attributes"] == {
        "type": "Contact",
        "url": f"/services/data/v59.0/sobjects/Contact/{rid}",
    }
    assert rec["Name"] == "Eva Jansen" and rec["HasOptedOutOfEmail"] is False
    assert rec["MobilePhone"] is None  # every field, nulls included
    assert DT_RE.match(rec["CreatedDate"]) and DT_RE.match(rec["SystemModstamp"])
    assert sf.Contact.update(rid, {"FirstName": None, "Email": "new@example.org"}) == 204
    rec2 = sf.Contact.get(rid)
    assert rec2["FirstName"] is None and rec2["Name"] == "Jansen"
    assert rec2["LastModifiedDate"] >= rec["LastModifiedDate"]
    assert sf.Contact.delete(rid) == 204
    with pytest.raises(SalesforceResourceNotFound):
        sf.Contact.get(rid)
    with pytest.raises(SalesforceResourceNotFound) as exc:
        sf.Contact.update(rid, {"FirstName": "X"})
    assert _code(exc) == "ENTITY_IS_DELETED"
    sf.query("SELECT Id FROM Contact")  # Salesforce-level calls record the usage header
    assert sf.api_usage["api-usage"].total == 100_000 and sf.api_usage["api-usage"].used > 5


def test_describe_global_and_object(sf):
    names = {o["name"]: o for o in sf.describe()["sobjects"]}
    assert {
        "Contact",
        "Lead",
        "Account",
        "Campaign",
        "CampaignMember",
        "Task",
        "Event",
        "Individual",
        "ContactPointTypeConsent",
        "DataUsePurpose",
        "School__c",
    } <= set(names)
    assert names["Campaign"]["keyPrefix"] == "701"
    d = sf.Contact.describe()
    fields = {f["name"]: f for f in d["fields"]}
    assert fields["LastName"]["nillable"] is False and fields["LastName"]["length"] == 80
    assert (
        fields["SIS_Student_Number__c"]["externalId"] and fields["SIS_Student_Number__c"]["unique"]
    )
    assert fields["SIS_Sync_Key__c"]["length"] == 64
    assert [p["value"] for p in fields["Lifecycle_Status__c"]["picklistValues"]] == [
        "Prospect",
        "Aangemeld",
        "Ingeschreven",
        "Uitgeschreven",
        "Afgewezen",
    ]
    assert fields["Legacy_Id__c"]["externalId"]  # from --schema
    camp = {f["name"]: f for f in sf.Campaign.describe()["fields"]}
    assert {"Open dag", "Meeloopdag", "Voorlichting"} <= {
        p["value"] for p in camp["Type"]["picklistValues"]
    }
    assert camp["Event_Id__c"]["externalId"] and camp["Event_Id__c"]["length"] == 80
    cm = {f["name"]: f for f in sf.CampaignMember.describe()["fields"]}
    assert [p["value"] for p in cm["Status"]["picklistValues"]] == [
        "Sent",
        "Registered",
        "Attended",
        "Responded",
    ]
    with pytest.raises(SalesforceResourceNotFound):
        sf.Nope__c.describe()


def test_upsert_by_external_id_statuses(sf):
    assert sf.Contact.upsert("SIS_Student_Number__c/S 1", {"LastName": "A"}) == 201
    assert (
        sf.Contact.upsert("SIS_Student_Number__c/s 1", {"LastName": "B"}) == 200
    )  # case-insensitive
    resp = sf.Contact.upsert("SIS_Student_Number__c/S 1", {"LastName": "C"}, raw_response=True)
    assert resp.json()["created"] is False and resp.json()["success"] is True
    rec = sf.Contact.get_by_custom_id("SIS_Student_Number__c", "S 1")
    assert rec["LastName"] == "C" and rec["SIS_Student_Number__c"] == "S 1"
    assert sf.query("SELECT Id FROM Contact")["totalSize"] == 1
    with pytest.raises(SalesforceResourceNotFound):
        sf.Contact.get_by_custom_id("SIS_Student_Number__c", "nobody")
    with pytest.raises(SalesforceResourceNotFound):
        sf.Contact.upsert("LastName/x", {"FirstName": "A"})  # not an external id
    # Legacy_Id__c is external but not unique: two matches → 300 on get and upsert.
    sf.Contact.create({"LastName": "D1", "Legacy_Id__c": "L1"})
    sf.Contact.create({"LastName": "D2", "Legacy_Id__c": "L1"})
    with pytest.raises(SalesforceMoreThanOneRecord) as exc:
        sf.Contact.upsert("Legacy_Id__c/L1", {"LastName": "E"})
    assert len(exc.value.content) == 2 and exc.value.content[0].startswith("/services/data/")
    with pytest.raises(SalesforceMoreThanOneRecord):
        sf.Contact.get_by_custom_id("Legacy_Id__c", "L1")
    school = sf.School__c.upsert("BRIN__c/25AB", {"Name": "ROC"})
    assert school == 201


@pytest.mark.parametrize(
    ("obj", "body", "code", "fields"),
    [
        ("Contact", {"FirstName": "NoLast"}, "REQUIRED_FIELD_MISSING", ["LastName"]),
        ("Contact", {"LastName": "x" * 81}, "STRING_TOO_LONG", ["LastName"]),
        ("Contact", {"LastName": "A", "Email": "not-an-email"}, "INVALID_EMAIL_ADDRESS", ["Email"]),
        ("Contact", {"LastName": "A", "Foo__c": 1}, "INVALID_FIELD", ["Foo__c"]),
        (
            "Contact",
            {"LastName": "A", "Birthdate": "31-01-2005"},
            "INVALID_TYPE_ON_FIELD_IN_RECORD",
            ["Birthdate"],
        ),
        (
            "Contact",
            {"LastName": "A", "Consent_News__c": "yes"},
            "INVALID_TYPE_ON_FIELD_IN_RECORD",
            ["Consent_News__c"],
        ),
        (
            "Contact",
            {"LastName": "A", "Lifecycle_Status__c": "Alumnus"},
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            ["Lifecycle_Status__c"],
        ),
        (
            "Contact",
            {"LastName": "A", "AccountId": "001000000000000AAA"},
            "INVALID_CROSS_REFERENCE_KEY",
            ["AccountId"],
        ),
        ("Contact", {"LastName": "A", "AccountId": "not-an-id"}, "MALFORMED_ID", ["AccountId"]),
        (
            "Contact",
            {"LastName": "A", "CreatedDate": "2024-01-01T00:00:00Z"},
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            ["CreatedDate"],
        ),
        ("Event", {"Subject": "Open dag"}, "REQUIRED_FIELD_MISSING", ["DurationInMinutes"]),
        (
            "ContactPointTypeConsent",
            {"ContactPointType": "Email"},
            "REQUIRED_FIELD_MISSING",
            [
                "Name",
                "PartyId",
                "PrivacyConsentStatus",
                "CaptureDate",
                "CaptureSource",
                "CaptureContactPointType",
            ],
        ),
    ],
)
def test_field_validation_errors(sf, obj, body, code, fields):
    with pytest.raises(SalesforceMalformedRequest) as exc:
        getattr(sf, obj).create(body)
    assert exc.value.status == 400
    assert exc.value.content[0]["errorCode"] == code
    assert exc.value.content[0]["fields"] == fields
    assert sf.query(f"SELECT COUNT() FROM {obj}")["totalSize"] == 0  # nothing was written


def test_uniqueness_and_campaign_member_rules(sf):
    sf.Contact.create({"LastName": "A", "SIS_Sync_Key__c": "K1"})
    b = sf.Contact.create({"LastName": "B"})["id"]
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Contact.update(b, {"SIS_Sync_Key__c": "k1"})
    assert _code(exc) == "DUPLICATE_VALUE"
    camp = sf.Campaign.create({"Name": "Open dag maart", "Type": "Open dag", "Event_Id__c": "E1"})
    m = sf.CampaignMember.create({"CampaignId": camp["id"], "ContactId": b, "Status": "Registered"})
    assert m["id"].startswith("00v")
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.CampaignMember.create({"CampaignId": camp["id"], "ContactId": b})
    assert exc.value.content[0] == {
        "message": "Already a campaign member.",
        "errorCode": "DUPLICATE_VALUE",
        "fields": [],
    }
    assert sf.CampaignMember.update(m["id"], {"Status": "Attended"}) == 204
    assert sf.CampaignMember.get(m["id"])["HasResponded"] is True
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.CampaignMember.update(m["id"], {"Status": "Maybe"})
    assert _code(exc) == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.CampaignMember.update(m["id"], {"ContactId": b})  # create-only
    assert _code(exc) == "INVALID_FIELD_FOR_INSERT_UPDATE"
    task = sf.Task.create({"Subject": "Bellen", "WhoId": b, "WhatId": camp["id"]})
    t = sf.Task.get(task["id"])
    assert (t["Status"], t["Priority"], t["OwnerId"][:3]) == ("Not Started", "Normal", "005")


def test_request_level_errors(sf, emu):
    s = emu.session()
    headers = {"Authorization": f"Bearer {sf.session_id}", "Content-Type": "application/json"}
    base = f"{emu.url}/services/data/v59.0"
    r = s.post(f"{base}/sobjects/Contact/", data=b"{not json", headers=headers)
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    r = s.get(f"{base}/sobjects/Contact/003abc", headers=headers)
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "MALFORMED_ID"
    r = s.get(f"{base}/sobjects/Contact/001000000000000AAA", headers=headers)  # Account id
    assert r.json()[0]["errorCode"] == "MALFORMED_ID"
    r = s.get(f"{base}/sobjects/Contact/003000000000000AAA", headers=headers)
    assert r.status_code == 404 and r.json()[0]["errorCode"] == "NOT_FOUND"
    r = s.get(f"{base}/no/such/route", headers=headers)
    assert r.status_code == 404 and r.json() == [
        {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}
    ]
    r = s.post(f"{base}/sobjects/Unknown__c", json={}, headers=headers)
    assert r.status_code == 404 and r.json()[0]["errorCode"] == "NOT_FOUND"
    r = s.get(f"{base}/sobjects", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
    assert r.json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]
    assert re.fullmatch(r"api-usage=\d+/100000", r.headers["Sforce-Limit-Info"])
    r = s.get(f"{base}/limits", headers=headers)
    assert r.json()["DailyApiRequests"]["Max"] == 100_000
    r = s.get(f"{base}/query", params={"q": "SELEC Id FROM Contact"}, headers=headers)
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "MALFORMED_QUERY"
    r = s.get(f"{base}/query", params={"q": "SELECT Id FROM Nope"}, headers=headers)
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "INVALID_TYPE"
    r = s.get(f"{base}/query", params={"q": "SELECT Foo FROM Contact"}, headers=headers)
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "INVALID_FIELD"
    r = s.get(f"{base}/query/01gXXXXX-2000", headers=headers)
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_query_pagination_and_recycle_bin(sf):
    for start in range(0, 5000, 200):
        recs = [
            {"attributes": {"type": "Contact"}, "LastName": f"P{i:05d}"}
            for i in range(start, start + 200)
        ]
        res = sf.restful("composite/sobjects", method="POST", json={"records": recs})
        assert all(r["success"] for r in res)
    first = sf.query("SELECT Id, LastName FROM Contact ORDER BY LastName")
    assert first["totalSize"] == 5000 and first["done"] is False and len(first["records"]) == 2000
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/01g")
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert len(second["records"]) == 2000 and second["totalSize"] == 5000
    rows = list(sf.query_all_iter("SELECT Id, LastName FROM Contact ORDER BY LastName"))
    assert [r["LastName"] for r in rows] == [f"P{i:05d}" for i in range(5000)]
    assert rows[0]["attributes"]["type"] == "Contact"
    ids = [r["Id"] for r in rows[:300]]
    for start in range(0, 300, 200):
        sf.restful(
            "composite/sobjects",
            method="DELETE",
            params={"ids": ",".join(ids[start : start + 200]), "allOrNone": "false"},
        )
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 4700
    deleted = sf.query_all("SELECT Id FROM Contact WHERE IsDeleted = true", include_deleted=True)
    assert sorted(r["Id"] for r in deleted["records"]) == sorted(ids)
    live = sf.query_all("SELECT Id FROM Contact WHERE IsDeleted = true")
    assert live["totalSize"] == 0
