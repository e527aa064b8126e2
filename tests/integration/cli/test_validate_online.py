"""`sis-sync validate --online` refuses, with exit 2 and file/line/key, a lookup field, a
parent external id or a record type the org does not have (EDA-schema emulator)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connector.cli import app

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sync"))
from orgmodel import eda_emulator, org_project

__all__ = ["eda_emulator"]

PROGRAMMES = """\
name: programmes
source: {kind: csv, path: data/programmes.csv, key: crebo}
target: {object: Account, external_id: Crebo__c, record_type: Academic_Program}
fields:
  Crebo__c: {from: crebo, purposes: [enrolment]}
  Name: {from: name, purposes: [enrolment]}
"""

ENROLMENTS = """\
name: enrolments
source: {kind: csv, path: data/enrolments.csv, key: id}
target: {object: hed__Program_Enrollment__c, external_id: SIS_Sync_Key__c}
fields:
  hed__Account__c:
    from: crebo
    lookup: {object: Account, external_id: Crebo__c}
    purposes: [enrolment]
"""


def _validate(project, monkeypatch):
    for key, value in project.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(project.folder)
    return CliRunner().invoke(app, ["validate", "--online"])


@pytest.fixture
def project(eda_emulator, tmp_path):
    return org_project(eda_emulator, tmp_path / "p", programmes=PROGRAMMES, enrolments=ENROLMENTS)


def _edit(project, name, old, new):
    path = project.folder / "mappings" / f"{name}.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")


def test_lookups_and_record_type_that_exist_pass(project, monkeypatch):
    result = _validate(project, monkeypatch)
    assert result.exit_code == 0, result.output


def test_missing_record_type_is_refused(project, monkeypatch):
    _edit(project, "programmes", "record_type: Academic_Program", "record_type: Opleiding")
    result = _validate(project, monkeypatch)
    assert result.exit_code == 2, result.output
    out = " ".join(result.output.split())
    assert "programmes.yaml:3: target.record_type: Account has no record type Opleiding" in out


def test_missing_lookup_field_is_refused(project, monkeypatch):
    _edit(project, "enrolments", "hed__Account__c:", "hed__Programme__c:")
    result = _validate(project, monkeypatch)
    assert result.exit_code == 2, result.output
    out = " ".join(result.output.split())
    assert (
        "enrolments.yaml:7: fields.hed__Programme__c.lookup: "
        "hed__Program_Enrollment__c.hed__Programme__c: no such field in the org" in out
    )


def test_lookup_to_another_object_is_refused(project, monkeypatch):
    _edit(project, "enrolments", "{object: Account,", "{object: Contact,")
    result = _validate(project, monkeypatch)
    assert result.exit_code == 2, result.output
    assert "not a lookup to Contact in the org" in " ".join(result.output.split())


def test_parent_external_id_that_is_no_external_id_is_refused(project, monkeypatch):
    _edit(project, "enrolments", "external_id: Crebo__c}", "external_id: Name}")
    result = _validate(project, monkeypatch)
    assert result.exit_code == 2, result.output
    out = " ".join(result.output.split())
    assert "fields.hed__Account__c.lookup.external_id: Account.Name: not an external id" in out


def test_missing_parent_external_id_is_refused(project, monkeypatch):
    _edit(project, "enrolments", "external_id: Crebo__c}", "external_id: Rio_Code__c}")
    result = _validate(project, monkeypatch)
    assert result.exit_code == 2, result.output
    assert "Account.Rio_Code__c: no such field in the org" in " ".join(result.output.split())
