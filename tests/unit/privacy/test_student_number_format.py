"""UAVG art. 46 vs. real student numbers: the mapping's ``student_number_format``.

One 8- or 9-digit student number in eleven passes the BSN 11-check. A mapping may declare the
format of its student numbers; the field that carries the declared key column (or
``identity.student_number``) is then exempt from the 11-check while its value has that format.
A value outside the format, and every other field, is still checked.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from connector.errors import MappingError
from connector.mapping import load_project
from connector.mapping.checks import student_number_warnings
from connector.privacy.facts import SubjectFacts
from connector.privacy.policy import FORBIDDEN_NUMBER, Policy

PASSING = "111222333"  # a 9-digit student number that happens to pass the 11-check
BSN = "123456782"  # another number that passes it

PURPOSES = """\
controller: Testschool
purposes:
  enrolment: {lawful_basis: legal_obligation, retention: {after: last_seen, keep: P1M}}
"""
MAPPING = """\
name: students
source: {kind: csv, path: s.csv, key: studentnummer}
target: {object: Contact, external_id: SIS_Student_Number__c}
identity: {student_number: studentnummer}
FORMAT
fields:
  SIS_Student_Number__c: {from: studentnummer, purposes: [enrolment]}
  Other_Number__c: {from: ander_nummer, purposes: [enrolment]}
  Description: {from: opmerking, purposes: [enrolment]}
"""


def _project(tmp_path: Path, fmt: str | None, mapping: str = MAPPING):
    folder = tmp_path / "mappings"
    folder.mkdir(exist_ok=True)
    (folder / "purposes.yaml").write_text(PURPOSES, encoding="utf-8")
    line = f"student_number_format: '{fmt}'" if fmt is not None else ""
    (folder / "students.yaml").write_text(mapping.replace("FORMAT", line), encoding="utf-8")
    return load_project(folder)


def _policy(project) -> Policy:
    spec = project.mappings["students"]
    purposes = {name: f.purposes for name, f in spec.fields.items()}
    return Policy(
        project.purposes,
        purposes,
        always_send={spec.target.external_id},
        student_numbers=spec.student_number_fields(),
    )


def _decide(policy: Policy, **values: object):
    return policy.decide(values, SubjectFacts(), date(2025, 3, 1))


def test_uavg46_a_student_number_in_the_declared_format_is_sent(tmp_path):
    policy = _policy(_project(tmp_path, "[0-9]{6,9}"))
    decision = _decide(policy, SIS_Student_Number__c=PASSING, Description="")
    assert decision.payload["SIS_Student_Number__c"] == PASSING
    assert "SIS_Student_Number__c" not in decision.withheld


def test_uavg46_without_a_format_the_11_check_still_withholds_it(tmp_path):
    policy = _policy(_project(tmp_path, None))
    decision = _decide(policy, SIS_Student_Number__c=PASSING)
    assert decision.withheld["SIS_Student_Number__c"] == FORBIDDEN_NUMBER


@pytest.mark.parametrize("value", ["111.222.333", "111 222 333", f"nr {PASSING}", "1112223330"])
def test_uavg46_a_value_outside_the_format_is_still_checked(tmp_path, value):
    policy = _policy(_project(tmp_path, "[0-9]{6,9}"))
    decision = _decide(policy, SIS_Student_Number__c=value)
    expected = value != "1112223330"  # 10 digits: outside the format, and no BSN either
    assert (decision.withheld.get("SIS_Student_Number__c") == FORBIDDEN_NUMBER) is expected


def test_uavg46_other_fields_keep_the_11_check(tmp_path):
    policy = _policy(_project(tmp_path, "[0-9]{6,9}"))
    decision = _decide(
        policy, SIS_Student_Number__c=PASSING, Other_Number__c=BSN, Description=f"bsn {BSN}"
    )
    assert "SIS_Student_Number__c" in decision.payload
    assert decision.withheld["Other_Number__c"] == FORBIDDEN_NUMBER
    assert decision.withheld["Description"] == FORBIDDEN_NUMBER


def test_the_fields_that_carry_the_student_number(tmp_path):
    spec = _project(tmp_path, "[0-9]{8}").mappings["students"]
    assert set(spec.student_number_fields()) == {"SIS_Student_Number__c"}
    assert spec.student_number_fields()["SIS_Student_Number__c"].pattern == "[0-9]{8}"
    assert _project(tmp_path, None).mappings["students"].student_number_fields() == {}


def test_a_bad_format_is_refused_naming_file_line_and_key(tmp_path):
    with pytest.raises(MappingError) as info:
        _project(tmp_path, "[0-9")
    text = str(info.value)
    assert "students.yaml" in text and "student_number_format" in text
    assert "not a regular expression" in text
    assert ":5" in text  # the line of the key


def test_a_format_no_field_carries_is_a_warning_not_an_error(tmp_path):
    # DESIGN §5's example leaves the student number unmapped; the shipped format then exempts
    # nothing: validate says so, and the mapping still loads (exit 0, not 2).
    mapping = MAPPING.replace(
        "  SIS_Student_Number__c: {from: studentnummer, purposes: [enrolment]}\n", ""
    )
    project = _project(tmp_path, "[0-9]{6,9}", mapping)
    [warning] = student_number_warnings(project)
    assert warning.startswith("students: student_number_format:")
    assert "exempts nothing" in warning
    (tmp_path / "ok").mkdir()
    assert student_number_warnings(_project(tmp_path / "ok", "[0-9]{6,9}")) == []


def test_uavg46_the_own_student_number_inside_another_value_is_no_bsn(tmp_path):
    # Schools build student e-mail addresses from the student number.
    policy = _policy(_project(tmp_path, "[0-9]{6,9}"))
    email = f"s{PASSING}@student.roc.example"
    decision = _decide(policy, SIS_Student_Number__c=PASSING, Description=email)
    assert decision.payload["Description"] == email
    # ... but only the record's own number: a BSN next to it is still found.
    decision = _decide(policy, SIS_Student_Number__c=PASSING, Description=f"{email} bsn 123456782")
    assert decision.withheld["Description"] == FORBIDDEN_NUMBER
    # and without a declared format the e-mail address is withheld as before
    decision = _decide(_policy(_project(tmp_path, None)), Description=email)
    assert decision.withheld["Description"] == FORBIDDEN_NUMBER
