"""Input rules of a compiled mapping: key normalisation before identity, plausible birth dates."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date
from pathlib import Path

import pytest

from connector.hashing import KeyHasher, join_key
from connector.mapping import MappingSpec, compile_mapping, load_project
from connector.mapping.compile import identity_hashes
from connector.records import Origin, SourceRecord

VALID = Path(__file__).resolve().parents[2] / "fixtures" / "mappings" / "valid"
SECRET = "input-rules-test-secret-of-32-bytes!"
HASHER = KeyHasher(SECRET)
TODAY = date(2026, 12, 3)

LOOKALIKES = [
    " 100011 ",
    "100011\u200b",  # zero-width space
    "\ufeff100011",  # BOM
    "1000\u00ad11",  # soft hyphen
    "\u2060100011\u200d",  # word joiner, zero-width joiner
    "\u00a0100011",  # NBSP
    "\uff11\uff10\uff10\uff10\uff11\uff11",  # full-width digits
]


@pytest.fixture(scope="module")
def project():
    return load_project(VALID)


def rec(key, line=2, **fields):
    return SourceRecord(key=key, fields=fields, origin=Origin("data/x.csv", line))


def person(number="100011", **extra):
    row = {
        "nummer": number,
        "achternaam": "Dijk",
        "email": "sanne@example.nl",
        "status": "ingeschreven",
        "status_datum": "01-09-2024",
        "geboortedatum": "03-04-2008",
    }
    row.update(extra)
    return row


def _old_key_hash(namespace, key):
    """The key hash as state stored it before normalisation existed."""
    message = (namespace + "\x1f" + key).encode()
    return hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()[:32]


# -- key normalisation ------------------------------------------------------------------------


def test_plain_key_hashes_exactly_as_before(project):
    m = project.compile("people", hasher=HASHER, today=TODAY)
    r = m.apply(rec("100011", **person()))
    assert r.errors == []
    assert r.key == "100011"
    assert r.key_hash == _old_key_hash("people", "100011")
    assert r.identity == (
        _old_key_hash("student", "100011"),
        _old_key_hash("email", "sanne@example.nl"),
    )


@pytest.mark.parametrize("raw", LOOKALIKES)
def test_lookalike_keys_are_one_record_and_one_person(project, raw):
    m = project.compile("people", hasher=HASHER, today=TODAY)
    plain = m.apply(rec("100011", **person()))
    odd = m.apply(rec(raw, **person(raw, email="\u200bSanne@Example.NL\u00a0")))
    assert odd.errors == []
    assert odd.key == "100011"
    assert odd.key_hash == plain.key_hash
    assert odd.identity == plain.identity
    assert m.normalise_key(raw) == "100011"


def test_invisible_only_key_is_an_empty_key(project):
    m = project.compile("people", hasher=HASHER, today=TODAY)
    r = m.apply(rec("\u200b\ufeff", **person("\u200b")))
    assert [e.reason for e in r.errors] == ["empty key"]


def test_composite_and_ref_keys_are_normalised_part_by_part(project):
    visits = compile_mapping(
        project.mappings["visits"],
        project.purposes,
        hasher=HASHER,
        today=TODAY,
        parents=project.mappings,
    )
    row = {"event": "E1", "email": "a@b.nl", "datum": "2026-11-01", "soort": "bezoek"}
    plain = visits.apply(rec(join_key(["E1", "a@b.nl"]), **row))
    odd_row = {**row, "event": "\uff25\uff11\u200b", "email": "A@B.nl\u00ad"}
    odd = visits.apply(rec(join_key(["\uff25\uff11\u200b", "A@B.nl\u00ad"]), **odd_row))
    assert plain.errors == odd.errors == []
    assert odd.key == plain.key == join_key(["e1", "a@b.nl"])
    assert odd.key_hash == plain.key_hash
    assert (
        odd.refs
        == plain.refs
        == {"CampaignId": ("trips", "E1"), "ContactId": ("visitors", "a@b.nl")}
    )


def test_identity_hashes_for_commands_match_the_mapping(project):
    m = project.compile("people", hasher=HASHER, today=TODAY)
    r = m.apply(rec("100011", **person()))
    assert identity_hashes(HASHER, "\uff11\uff10\uff10\uff10\uff11\uff11", None) == (
        r.identity[0],
        None,
    )
    assert identity_hashes(HASHER, None, " SANNE@example.nl\u200b") == (None, r.identity[1])
    assert identity_hashes(HASHER, "", "") == (None, None)


# -- plausible birth dates --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("03-04-2030", "birth date after today"),
        ("04-12-2026", "birth date after today"),  # tomorrow
        ("03-04-1826", "birth date more than 120 years ago"),
        ("02-12-1905", "birth date more than 120 years ago"),  # 121 today
    ],
)
def test_implausible_subject_birthdate_rejects_the_row(project, cell, reason):
    m = project.compile("people", hasher=HASHER, today=TODAY)
    r = m.apply(rec("100011", **person(geboortedatum=cell)))
    assert [(e.column, e.reason) for e in r.errors] == [
        ("geboortedatum", f"subject_birthdate: {reason}")
    ]
    assert cell not in r.errors[0].reason and cell[-4:] not in r.errors[0].reason


@pytest.mark.parametrize("cell", ["03-12-2026", "04-12-1905", "03-04-2008"])
def test_plausible_birthdates_pass(project, cell):
    m = project.compile("people", hasher=HASHER, today=TODAY)
    r = m.apply(rec("100011", **person(geboortedatum=cell)))
    assert r.errors == []
    assert r.facts.birthdate == date(int(cell[-4:]), int(cell[3:5]), int(cell[:2]))


def _spec(fields, **extra):
    return MappingSpec.model_validate(
        {
            "name": "kids",
            "source": {"kind": "csv", "path": "x.csv", "key": "nummer"},
            "target": {"object": "Contact", "external_id": "SIS_Student_Number__c"},
            "fields": {
                "SIS_Student_Number__c": {"from": "nummer", "purposes": ["enrolment"]},
                **fields,
            },
            **extra,
        }
    )


@pytest.mark.parametrize("target", ["Birthdate", "PersonBirthdate"])
@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("2030-01-01", "birth date after today"),
        ("1826-06-01", "birth date more than 120 years ago"),
    ],
)
def test_implausible_birthdate_field_rejects_the_row(project, target, cell, reason):
    spec = _spec({target: {"from": "gebdat", "transform": ["date"], "purposes": ["enrolment"]}})
    m = compile_mapping(spec, project.purposes, hasher=HASHER, today=TODAY)
    r = m.apply(rec("1", nummer="1", gebdat=cell))
    assert [(e.column, e.reason) for e in r.errors] == [("gebdat", f"{target}: {reason}")]
    ok = m.apply(rec("1", nummer="1", gebdat="2008-04-03"))
    assert ok.errors == [] and ok.values[target] == date(2008, 4, 3)


def test_birthdate_text_without_a_date_transform_is_checked_too(project):
    spec = _spec({"Birthdate": {"from": "gebdat", "purposes": ["enrolment"]}})
    m = compile_mapping(spec, project.purposes, hasher=HASHER, today=TODAY)
    assert [e.column for e in m.apply(rec("1", nummer="1", gebdat="2030-01-01")).errors] == [
        "gebdat"
    ]
    assert m.apply(rec("1", nummer="1", gebdat="not a date")).errors == []  # Salesforce's call


def test_other_date_fields_are_not_birth_dates(project):
    spec = _spec({"Start__c": {"from": "start", "transform": ["date"], "purposes": ["enrolment"]}})
    m = compile_mapping(spec, project.purposes, hasher=HASHER, today=TODAY)
    assert m.apply(rec("1", nummer="1", start="2030-01-01")).errors == []


def test_subject_birthdate_read_once_with_its_field_and_one_reject(project):
    # subject_birthdate reads the same column with the same transform as Birthdate: one value,
    # one reject for one bad cell; a field that refuses the value still gives the facts' error.
    bd = {"from": "gebdat", "transform": ["date:%d-%m-%Y"]}
    spec = _spec({"Birthdate": {**bd, "purposes": ["enrolment"]}}, subject_birthdate=bd)
    m = compile_mapping(spec, project.purposes, hasher=HASHER, today=TODAY)
    ok = m.apply(rec("1", nummer="1", gebdat="03-04-2008"))
    assert ok.errors == [] and ok.facts.birthdate == ok.values["Birthdate"] == date(2008, 4, 3)
    future = m.apply(rec("1", nummer="1", gebdat="03-04-2030"))
    assert [(e.column, e.reason) for e in future.errors] == [
        ("gebdat", "subject_birthdate: birth date after today")
    ]
    bad = m.apply(rec("1", nummer="1", gebdat="2008-04-03"))
    assert [e.reason.split(":")[0] for e in bad.errors] == ["Birthdate", "subject_birthdate"]
