"""Relationship syntax and the duplicate-rule header in collections; record types asked once;
the existing-id query of target.mode (quoting, chunks, case)."""

from __future__ import annotations

import json

from tenacity import wait_none

from connector.salesforce.bulk import columns_of, to_csv
from connector.salesforce.client import SalesforceClient
from connector.salesforce.existing import CHUNK_CHARS, existing_ids, person_contact_ids
from connector.salesforce.record_types import RecordTypes, record_type_soql, soql_literal
from connector.salesforce.writer import Writer


def _ok(request):
    return 200, [
        {"id": f"0tQ{i:015d}", "success": True, "errors": [], "created": True}
        for i, _ in enumerate(json.loads(request.body)["records"])
    ]


def test_collections_nest_a_relationship_key_and_send_the_duplicate_rule_header(org, make_settings):
    org.route("PATCH", "composite/sobjects/IndividualApplication/Key__c", _ok)
    client = SalesforceClient(make_settings(duplicate_rules="allow_save"), retry_wait=wait_none())
    Writer(client, sleep=lambda s: None).upsert(
        "IndividualApplication", "Key__c", [{"Key__c": "A1", "LearningProgram.Crebo__c": "25604"}]
    )
    [call] = org.calls_to("/composite/sobjects/IndividualApplication/Key__c", "PATCH")
    [record] = json.loads(call.body)["records"]
    assert record["LearningProgram"] == {"Crebo__c": "25604"}
    assert "LearningProgram.Crebo__c" not in record
    assert call.headers["Sforce-Duplicate-Rule-Header"] == "allowSave=true"


def test_duplicate_rules_default_to_enforce(org, client):
    org.route("PATCH", "composite/sobjects/Contact/Key__c", _ok)
    Writer(client, sleep=lambda s: None).upsert("Contact", "Key__c", [{"Key__c": "A1"}])
    [call] = org.calls_to("/composite/sobjects/Contact/Key__c", "PATCH")
    assert call.headers["Sforce-Duplicate-Rule-Header"] == "allowSave=false"


def test_bulk_csv_header_is_the_relationship_column():
    rows = [{"Key__c": "A1", "LearningProgram.Crebo__c": "25604"}]
    assert to_csv(rows, columns_of(rows)).splitlines()[0] == "Key__c,LearningProgram.Crebo__c"


def test_soql_literal_escapes_quote_and_backslash():
    assert soql_literal("O'Brien\\x") == "'O\\'Brien\\\\x'"


def test_record_types_are_asked_once_per_object_and_name():
    asked: list[str] = []

    def query(soql):
        asked.append(soql)
        return iter([{"Id": "012000000000001AAA"}])

    types = RecordTypes(query)
    for _ in range(3):
        assert types.resolve("Account", "Academic_Program") == "012000000000001AAA"
    assert len(asked) == 1
    assert "DeveloperName = 'Academic_Program'" in asked[0]
    types.resolve("Account", None, person=True)
    assert len(asked) == 2 and "IsPersonType = true" in asked[1]
    assert "DeveloperName" not in record_type_soql("Account", None, person=True)


def test_existing_ids_are_case_folded_and_queried_in_chunks():
    seen: list[str] = []

    def query(soql):
        seen.append(soql)
        return iter([{"Id": "003A", "Ext__c": "ABC"}] if "'abc'" in soql else [])

    values = ["abc", *(f"v{i:05d}" for i in range(1000)), "abc"]
    found = existing_ids(query, "Contact", "Ext__c", values)
    assert found == {"abc": "003A"}
    assert len(seen) > 1 and all(len(s) < CHUNK_CHARS + 200 for s in seen)
    assert sum(s.count("'abc'") for s in seen) == 1  # each value asked once
    before = len(seen)
    assert existing_ids(query, "Contact", "Ext__c", ["", ""]) == {}
    assert len(seen) == before  # nothing to ask: no query


def test_person_contact_ids_map_account_to_person_contact():
    def query(soql):
        assert "PersonContactId" in soql and "'001A'" in soql
        return iter([{"Id": "001A", "PersonContactId": "003P"}, {"Id": "001B"}])

    assert person_contact_ids(query, ["001A", "001B"]) == {"001A": "003P"}
