"""The endpoints real clients call around the data API, driven with simple-salesforce:
identity, User, versions, revoke/logout, collections retrieve, relationship SOQL, composite."""

from __future__ import annotations

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceExpiredSession

from connector.emulator.ids import ORG_ID, USER_ID
from connector.emulator.testing import running_emulator


@pytest.fixture(scope="module")
def emu():
    with running_emulator() as handle:
        yield handle


@pytest.fixture
def sf(emu):
    emu.reset()
    return emu.client()


def test_userinfo_identity_and_user_record_on_the_emulators_host(emu, sf):
    tok = emu.token()
    assert tok["id"] == f"{emu.url}/id/{ORG_ID}/{USER_ID}"
    info = sf.session.get(f"{emu.url}/services/oauth2/userinfo", headers=sf.headers).json()
    assert (info["user_id"], info["organization_id"]) == (USER_ID, ORG_ID)
    user = sf.User.get(info["user_id"])
    assert user["Username"] == info["preferred_username"]
    ident = sf.session.get(tok["id"], params={"format": "json", "oauth_token": tok["access_token"]})
    assert ident.status_code == 200 and ident.json()["user_id"] == USER_ID
    assert sf.restful("")["identity"] == tok["id"]  # jsforce's identity() follows this
    emu.reset()
    assert sf.User.get(USER_ID)["Username"] == info["preferred_username"]  # seeded again


def test_identity_needs_a_token_and_is_not_counted(emu):
    s = emu.session()
    assert s.get(f"{emu.url}/services/oauth2/userinfo").status_code == 401
    tok = emu.token(s)
    before = emu.stats()["api_calls"]
    r = s.get(
        f"{emu.url}/services/oauth2/userinfo",
        headers={"Authorization": "Bearer " + tok["access_token"]},
    )
    assert r.status_code == 200 and emu.stats()["api_calls"] == before


def test_versions_without_token_and_retired_versions_gone(emu, sf):
    s = emu.session()
    listed = s.get(f"{emu.url}/services/data")
    assert listed.status_code == 200
    versions = [v["version"] for v in listed.json()]
    assert versions[0] == "31.0" and "59.0" in versions and "30.0" not in versions
    tok = emu.token(s)["access_token"]
    auth = {"Authorization": "Bearer " + tok}
    assert s.get(f"{emu.url}/services/data/v30.0/sobjects", headers=auth).status_code == 410
    newest = versions[-1]
    assert s.get(f"{emu.url}/services/data/v{newest}/sobjects", headers=auth).status_code == 200
    too_new = f"{int(float(newest)) + 1}.0"
    assert s.get(f"{emu.url}/services/data/v{too_new}/sobjects", headers=auth).status_code == 404


def test_revoke_and_soap_logout_end_the_session(emu):
    s = emu.session()
    tok = emu.token(s)["access_token"]
    sf = Salesforce(session_id=tok, instance_url=emu.url, session=s)
    sf.Contact.create({"LastName": "Jansen"})
    assert s.post(f"{emu.url}/services/oauth2/revoke", data={"token": tok}).status_code == 200
    with pytest.raises(SalesforceExpiredSession):
        sf.Contact.create({"LastName": "Weg"})
    again = s.post(f"{emu.url}/services/oauth2/revoke", data={"token": tok})
    assert again.status_code == 400 and again.json()["error"] == "invalid_token"
    tok2 = emu.token(s)["access_token"]
    envelope = (
        '<se:Envelope xmlns:se="http://schemas.xmlsoap.org/soap/envelope/"><se:Header>'
        f'<SessionHeader xmlns="urn:partner.soap.sforce.com"><sessionId>{tok2}</sessionId>'
        '</SessionHeader></se:Header><se:Body><logout xmlns="urn:partner.soap.sforce.com"/>'
        "</se:Body></se:Envelope>"
    )
    out = s.post(f"{emu.url}/services/Soap/u/59.0", data=envelope, headers={"SOAPAction": '""'})
    assert out.status_code == 200 and "logoutResponse" in out.text
    sf2 = Salesforce(session_id=tok2, instance_url=emu.url, session=s)
    with pytest.raises(SalesforceExpiredSession):
        sf2.query("SELECT Id FROM Contact")
    out = s.post(f"{emu.url}/services/Soap/u/59.0", data=envelope)
    assert out.status_code == 500 and "INVALID_SESSION_ID" in out.text


def test_collections_retrieve_get_and_post(sf):
    a = sf.Contact.create({"LastName": "A", "FirstName": "Ab"})["id"]
    b = sf.Contact.create({"LastName": "B"})["id"]
    gone = sf.Contact.create({"LastName": "C"})["id"]
    sf.Contact.delete(gone)
    got = sf.restful(
        "composite/sobjects/Contact", params={"ids": f"{a},{gone},{b}", "fields": "LastName,Name"}
    )
    assert [r and r["LastName"] for r in got] == ["A", None, "B"]
    assert got[0]["Name"] == "Ab A" and got[0]["attributes"]["type"] == "Contact"
    posted = sf.restful(
        "composite/sobjects/Contact", method="POST", json={"ids": [b, a], "fields": ["Id"]}
    )
    assert [r["Id"] for r in posted] == [b, a]
    with pytest.raises(Exception, match="INVALID_FIELD"):
        sf.restful("composite/sobjects/Contact", params={"ids": a, "fields": "Nope__c"})


def test_relationship_fields_and_subqueries_in_query_and_query_all(sf):
    acc = sf.Account.create({"Name": "School"})["id"]
    con = sf.Contact.create({"LastName": "Jansen", "AccountId": acc})["id"]
    lone = sf.Contact.create({"LastName": "Alleen"})["id"]
    camp = sf.Campaign.create({"Name": "Open dag"})["id"]
    sf.CampaignMember.create({"CampaignId": camp, "ContactId": con, "Status": "Registered"})
    rows = sf.query(
        "SELECT Id, Contact.LastName, Contact.Account.Name FROM CampaignMember "
        "WHERE Contact.Account.Name = 'school'"
    )["records"]
    assert rows[0]["Contact"]["LastName"] == "Jansen"
    assert rows[0]["Contact"]["Account"]["Name"] == "School"
    assert rows[0]["Contact"]["attributes"]["type"] == "Contact"
    people = sf.query("SELECT LastName, Account.Name FROM Contact ORDER BY Account.Name NULLS LAST")
    assert [(r["LastName"], r["Account"]) for r in people["records"]][1] == ("Alleen", None)
    camps = sf.query(
        "SELECT Name, (SELECT Status, Contact.LastName FROM CampaignMembers) FROM Campaign"
    )["records"]
    members = camps[0]["CampaignMembers"]
    assert members["totalSize"] == 1 and members["records"][0]["Contact"]["LastName"] == "Jansen"
    sf.Contact.delete(lone)
    everyone = sf.query_all(
        "SELECT LastName, (SELECT Id FROM CampaignMembers) FROM Contact ORDER BY LastName",
        include_deleted=True,
    )["records"]
    assert [r["LastName"] for r in everyone] == ["Alleen", "Jansen"]
    assert everyone[0]["CampaignMembers"] is None
    with pytest.raises(Exception, match="INVALID_FIELD"):
        sf.query("SELECT Id, Nope.Name FROM Contact")


def test_columns_metadata(sf):
    meta = sf.restful(
        "query",
        params={
            "q": "SELECT Id, Account.Name, (SELECT Id FROM CampaignMembers) FROM Contact",
            "columns": "true",
        },
    )
    cols = meta["columnMetadata"]
    assert [c["columnName"] for c in cols] == ["Id", "Account", "CampaignMembers"]
    assert cols[1]["joinColumns"][0]["columnName"] == "Name" and not cols[1]["aggregate"]
    assert cols[2]["aggregate"] and meta["entityName"] == "Contact" and meta["idSelected"]


def test_bulk2_query_with_parent_fields(emu, sf):
    acc = sf.Account.create({"Name": "School"})["id"]
    sf.Contact.create({"LastName": "Jansen", "AccountId": acc})
    csv_text = "".join(sf.bulk2.Contact.query("SELECT LastName, Account.Name FROM Contact"))
    assert csv_text.splitlines() == ['"LastName","Account.Name"', '"Jansen","School"']


def test_composite_with_references_counts_one_call(emu, sf):
    body = {
        "compositeRequest": [
            {"method": "POST", "url": "/services/data/v59.0/sobjects/Account", "referenceId": "acc", "body": {"Name": "School"}},
            {"method": "POST", "url": "/services/data/v59.0/sobjects/Contact", "referenceId": "con", "body": {"LastName": "Jansen", "AccountId": "@{acc.id}"}},
            {"method": "GET", "url": "/services/data/v59.0/sobjects/Contact/@{con.id}?fields=AccountId", "referenceId": "get"},
            {"method": "GET", "url": "/services/data/v59.0/query?q=SELECT+Id+FROM+Contact", "referenceId": "q"},
        ]
    }  # fmt: skip
    before = emu.stats()["api_calls"]
    out = sf.restful("composite", method="POST", json=body)["compositeResponse"]
    assert emu.stats()["api_calls"] == before + 1
    assert [e["httpStatusCode"] for e in out] == [201, 201, 200, 200]
    assert out[2]["body"]["AccountId"] == out[0]["body"]["id"]
    assert out[1]["httpHeaders"]["Location"].endswith(out[1]["body"]["id"])


def test_composite_all_or_none_rolls_back_and_dependents_fail(sf):
    subs = [
        {"method": "POST", "url": "/services/data/v59.0/sobjects/Account", "referenceId": "acc", "body": {"Name": "School"}},
        {"method": "POST", "url": "/services/data/v59.0/sobjects/Contact", "referenceId": "bad", "body": {"FirstName": "no last name"}},
        {"method": "POST", "url": "/services/data/v59.0/sobjects/Contact", "referenceId": "dep", "body": {"LastName": "X", "AccountId": "@{bad.id}"}},
    ]  # fmt: skip
    out = sf.restful("composite", method="POST", json={"allOrNone": True, "compositeRequest": subs})
    codes = [e["body"][0]["errorCode"] for e in out["compositeResponse"]]
    assert codes == ["PROCESSING_HALTED", "REQUIRED_FIELD_MISSING", "PROCESSING_HALTED"]
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0
    out = sf.restful("composite", method="POST", json={"compositeRequest": subs})
    statuses = [e["httpStatusCode"] for e in out["compositeResponse"]]
    assert statuses == [201, 400, 400]
    assert out["compositeResponse"][2]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 1


def test_composite_tree_all_or_none(sf):
    tree = {
        "records": [
            {
                "attributes": {"type": "Account", "referenceId": "a1"},
                "Name": "School",
                "Contacts": {
                    "records": [
                        {"attributes": {"type": "Contact", "referenceId": "c1"}, "LastName": "A"},
                        {"attributes": {"type": "Contact", "referenceId": "c2"}, "LastName": "B"},
                    ]
                },
            }
        ]
    }
    out = sf.restful("composite/tree/Account", method="POST", json=tree)
    assert not out["hasErrors"] and [r["referenceId"] for r in out["results"]] == ["a1", "c1", "c2"]
    rows = sf.query("SELECT LastName, Account.Name FROM Contact ORDER BY LastName")["records"]
    assert [r["Account"]["Name"] for r in rows] == ["School", "School"]
    tree["records"][0]["attributes"]["referenceId"] = "a2"
    tree["records"][0]["Contacts"]["records"][1] = {
        "attributes": {"type": "Contact", "referenceId": "c3"},
        "FirstName": "no last name",
    }
    resp = sf.session.post(f"{sf.base_url}composite/tree/Account", json=tree, headers=sf.headers)
    assert resp.status_code == 400 and resp.json()["hasErrors"]
    assert resp.json()["results"][0]["referenceId"] == "c3"
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 1  # nothing of it kept
