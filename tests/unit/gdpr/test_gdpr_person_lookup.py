"""Finding a person in Salesforce by the shipped mappings' identifiers: which fields, which
values (raw key, keyed hash, e-mail), SOQL escaping, and the shared-address refusal."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from connector.errors import UsageError
from connector.gdpr.person_lookup import find_in_salesforce, probes_for
from connector.hashing import KeyHasher
from connector.mapping import load_project

ROOT = Path(__file__).resolve().parents[3]
HASHER = KeyHasher("lookup-test")


@pytest.fixture(scope="module")
def shipped() -> tuple[Any, dict[str, Any]]:
    project = load_project(ROOT / "mappings")
    compiled = {
        n: project.compile(n, hasher=HASHER, today=date(2026, 3, 1)) for n in project.mappings
    }
    return project, compiled


class FakeWriter:
    """Answers queries from a list of records per object; keeps the SOQL it was sent."""

    def __init__(self, records: dict[str, list[dict[str, Any]]]):
        self.records = records
        self.soql: list[str] = []

    def query(self, soql: str, *, include_deleted: bool = False) -> Any:
        self.soql.append(soql)
        obj = soql.split(" FROM ")[1].split()[0]
        return iter(self.records.get(obj, []))


def test_student_number_probes_the_mapped_external_id(shipped: Any) -> None:
    project, compiled = shipped
    probes = probes_for(project, compiled, student_number=" 90817263 ")
    assert {(p.object, p.field, p.value, p.hashed) for p in probes} == {
        ("Contact", "SIS_Student_Number__c", "90817263", False)
    }


def test_email_probes_the_generated_key_hash_and_the_email_fields(shipped: Any) -> None:
    project, compiled = shipped
    probes = probes_for(project, compiled, email=" Ann.O'Hara@Example.org ")
    got = {(p.mappings, p.field, p.value, p.hashed) for p in probes}
    key = compiled["registrants"].hash_key("ann.o'hara@example.org")
    assert (("registrants",), "SIS_Sync_Key__c", key, True) in got
    # students, registrants and oneroster_users all map Email from their e-mail column: one
    # probe naming all three (an export credits a record it finds to each)
    [(names, value)] = [(m, v) for m, f, v, h in got if f == "Email"]
    assert value == "ann.o'hara@example.org"
    assert set(names) == {"students", "registrants", "oneroster_users"}
    assert all(p.object == "Contact" for p in probes)


def test_values_are_escaped_in_soql(shipped: Any) -> None:
    project, compiled = shipped
    writer = FakeWriter({})
    probes = probes_for(project, compiled, email="o'brien\\x@example.org")
    find_in_salesforce(writer, probes, project=project, compiled=compiled, hasher=HASHER)
    email_query = next(q for q in writer.soql if "WHERE Email IN" in q)
    assert "('o\\'brien\\\\x@example.org')" in email_query


def test_found_records_carry_their_key_hashes(shipped: Any) -> None:
    project, compiled = shipped
    writer = FakeWriter({"Contact": [{"Id": "003A", "SIS_Student_Number__c": "90817263"}]})
    probes = probes_for(project, compiled, student_number="90817263")
    [found] = find_in_salesforce(writer, probes, project=project, compiled=compiled, hasher=HASHER)
    assert found.sf_id == "003A" and found.via == "Contact.SIS_Student_Number__c"
    assert ("students", compiled["students"].hash_key("90817263")) in found.keys


def test_a_shared_address_in_salesforce_is_refused(shipped: Any) -> None:
    project, compiled = shipped
    writer = FakeWriter({"Contact": [{"Id": "003A"}, {"Id": "003B"}]})
    probes = probes_for(project, compiled, email="gezin@example.org")
    with pytest.raises(UsageError, match="--student-number") as info:
        find_in_salesforce(writer, probes, project=project, compiled=compiled, hasher=HASHER)
    assert "gezin" not in str(info.value)
