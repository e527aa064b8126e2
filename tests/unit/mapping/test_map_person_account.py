"""Loader rules of the org-model keys: target.person_account, target.record_type, target.mode
and lookup fields — each refused with file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.errors import MappingError
from connector.mapping import load_project
from connector.mapping.models import relationship_name

PURPOSES = """\
controller: ROC Test
purposes:
  enrolment: {description: x, lawful_basis: contract, retention: {after: lifecycle_end, keep: P1M}}
"""

GOOD = """\
name: students
source: {kind: csv, path: data/s.csv, key: nr}
target: {object: Account, external_id: SIS_Student_Number__pc, person_account: true, mode: upsert}
fields:
  LastName: {from: last, purposes: [enrolment]}
  LearningProgramId:
    from: crebo
    lookup: {object: LearningProgram, external_id: Crebo__c}
    purposes: [enrolment]
"""


def _load(tmp_path: Path, text: str):
    folder = tmp_path / "mappings"
    folder.mkdir(exist_ok=True)
    (folder / "purposes.yaml").write_text(PURPOSES, encoding="utf-8")
    (folder / "students.yaml").write_text(text, encoding="utf-8")
    return load_project(folder)


def _problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(MappingError) as info:
        _load(tmp_path, text)
    return [str(p) for p in info.value.problems]


def test_a_person_account_mapping_with_a_lookup_loads(tmp_path):
    spec = _load(tmp_path, GOOD).mappings["students"]
    assert spec.target.person_account and spec.target.mode == "upsert"
    assert spec.lookups() == {"LearningProgramId": "LearningProgram.Crebo__c"}


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("object: Account,", "object: Contact,", "students.yaml:3: target: `person_account: true` needs `object: Account`"),
        ("  LastName: {", "  Name: {", "students.yaml:5: fields.Name: a person account has no Name"),
        ("  LastName: {", "  FirstName: {", "students.yaml:3: target.person_account: a person account needs LastName"),
        ("mode: upsert", "mode: match", "students.yaml:3: target.mode: Input should be 'upsert', 'update_only' or 'insert_only'"),
        ("mode: upsert", "record_type: Person Account", "students.yaml:3: target.record_type: not a record type DeveloperName"),
        ("  LearningProgramId:", "  LearningProgram:", "students.yaml:8: fields.LearningProgram.lookup: a lookup field is a standard lookup ending in Id"),
        ("    from: crebo\n", "    ref: {mapping: students, from: crebo}\n", "fields.LearningProgramId: a field is either a `ref`"),
        ("  LastName: {from: last,", "  RecordTypeId: {value: '012000000000001', purposes: [enrolment]}\n  LastName: {from: last,", "students.yaml:5: fields.RecordTypeId: RecordTypeId comes from `target.record_type`"),
    ],
)  # fmt: skip
def test_org_model_rules_name_file_line_and_key(tmp_path, old, new, expected):
    assert old in GOOD
    problems = _problems(tmp_path, GOOD.replace(old, new))
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize(
    ("field", "relationship"),
    [("LearningProgramId", "LearningProgram"), ("hed__Account__c", "hed__Account__r"),
     ("Id", None), ("Status", None)],
)  # fmt: skip
def test_relationship_name(field, relationship):
    assert relationship_name(field) == relationship
