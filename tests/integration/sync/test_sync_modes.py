"""target.mode (update_only never creates, insert_only never updates), target.record_type
resolved once per run, and salesforce.duplicate_rules sent as Sforce-Duplicate-Rule-Header."""

from __future__ import annotations

import pytest
from orgmodel import MODE_CONTACTS as CONTACTS
from orgmodel import eda_emulator, edu_emulator, org_project

from connector.errors import MappingError
from connector.salesforce import record_types

__all__ = ["eda_emulator", "edu_emulator"]

SCHOOLS = """\
name: %s
source: {kind: csv, path: data/schools.csv, key: code}
target: {object: Account, external_id: Crebo__c, record_type: %s}
fields:
  Crebo__c: {from: code, purposes: [enrolment]}
  Name: {from: name, purposes: [enrolment]}
"""


def _contacts(edu_emulator, tmp_path, mode):
    p = org_project(edu_emulator, tmp_path / "p", contacts=CONTACTS % mode)
    # A Contact the school made in the org itself, carrying the student number.
    p.create("Contact", {"LastName": "Oud", "SIS_Student_Number__c": "1001"})
    p.data("contacts", ["nr", "last"], [["1001", "Jansen"], ["1002", "Bakker"]])
    return p


def _names(p):
    rows = p.query("SELECT SIS_Student_Number__c, LastName FROM Contact")
    return sorted((r["SIS_Student_Number__c"], r["LastName"]) for r in rows)


def test_update_only_never_creates(edu_emulator, tmp_path):
    p = _contacts(edu_emulator, tmp_path, "update_only")
    report = p.run()
    rep = report.mappings["contacts"]
    assert (rep.created, rep.updated) == (0, 1), report.summary()
    assert rep.left_alone == {"update_only: no match": 1}
    assert "skipped by target.mode: update_only: no match ×1" in report.summary()
    assert _names(p) == [("1001", "Jansen")]
    p.data("contacts", ["nr", "last"], [["1001", "Jansen-Smit"], ["1002", "Bakker"]])
    again = p.run().mappings["contacts"]
    assert (again.created, again.updated) == (0, 1)  # the known record, by its Id
    assert _names(p) == [("1001", "Jansen-Smit")]


def test_insert_only_never_updates(edu_emulator, tmp_path):
    p = _contacts(edu_emulator, tmp_path, "insert_only")
    rep = p.run().mappings["contacts"]
    assert (rep.created, rep.updated) == (1, 0)
    assert rep.left_alone == {"insert_only: exists": 1}
    assert _names(p) == [("1001", "Oud"), ("1002", "Bakker")]
    p.data("contacts", ["nr", "last"], [["1001", "Jansen"], ["1002", "Bakker-Smit"]])
    again = p.run().mappings["contacts"]
    assert (again.created, again.updated) == (0, 0)
    assert again.left_alone == {"insert_only: exists": 2}
    assert _names(p) == [("1001", "Oud"), ("1002", "Bakker")]


def test_record_type_is_resolved_once_per_run(eda_emulator, tmp_path, monkeypatch):
    p = org_project(
        eda_emulator,
        tmp_path / "p",
        schools=SCHOOLS % ("schools", "Academic_Program"),
        campuses=SCHOOLS % ("campuses", "Academic_Program"),
    )
    p.data("schools", ["code", "name"], [["S1", "ROC Midden"], ["S2", "ROC Oost"]])
    asked: list[str] = []
    real = record_types.record_type_soql

    def counting(*args, **kwargs):
        asked.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(record_types, "record_type_soql", counting)
    report = p.run()
    assert report.mappings["schools"].created == 2, report.summary()
    assert asked == ["Academic_Program"]  # two mappings, one query
    rows = p.query("SELECT RecordType.DeveloperName FROM Account")
    assert [r["RecordType"]["DeveloperName"] for r in rows] == ["Academic_Program"] * 2


def test_missing_record_type_is_a_configuration_error_before_writing(eda_emulator, tmp_path):
    # a2-F7: exit 2 (MappingError) naming file, line and key, before anything is written.
    p = org_project(eda_emulator, tmp_path / "p", schools=SCHOOLS % ("schools", "Opleiding"))
    p.data("schools", ["code", "name"], [["S1", "ROC Midden"]])
    with pytest.raises(MappingError) as caught:
        p.run()
    assert caught.value.exit_code == 2
    assert "schools.yaml:3: target.record_type: Account has no record type Opleiding" in str(
        caught.value
    )
    assert p.query("SELECT Id FROM Account") == []


def test_duplicate_rules_header_is_sent(edu_emulator, tmp_path):
    p = _contacts(edu_emulator, tmp_path, "upsert")
    p.run(SIS_SYNC_SALESFORCE__DUPLICATE_RULES="allow_save")
    requests = edu_emulator.stats()["requests"]
    assert requests.get("Sforce-Duplicate-Rule-Header: allowSave=true", 0) >= 1
    assert "Sforce-Duplicate-Rule-Header: allowSave=false" not in requests
