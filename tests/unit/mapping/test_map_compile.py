"""Compiled mappings: keys, external ids, refs, lifecycle, consent facts, required, filter."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from connector.hashing import KeyHasher, join_key
from connector.mapping import compile_mapping, load_project
from connector.privacy.facts import Phase
from connector.records import Origin, SourceRecord

VALID = Path(__file__).resolve().parents[2] / "fixtures" / "mappings" / "valid"
HASHER = KeyHasher("test-secret")
TODAY = date(2025, 1, 15)
AMS = ZoneInfo("Europe/Amsterdam")


@pytest.fixture(scope="module")
def project():
    return load_project(VALID)


def compiled(project, name):
    return project.compile(name, hasher=HASHER, today=TODAY)


def rec(key, line=2, **fields):
    return SourceRecord(key=key, fields=fields, origin=Origin("data/x.csv", line))


PERSON = {
    "nummer": " 12345 ",
    "tussenvoegsel": "van",
    "achternaam": "Dijk",
    "email": "  Sanne.VanDijk@Example.NL ",
    "status": "Ingeschreven",
    "status_datum": "01-09-2024",
    "geboortedatum": "03-04-2008",
    "afmelding": "",
}


def test_person_values_key_identity_and_facts(project):
    m = compiled(project, "people")
    r = m.apply(rec(" 12345 ", **PERSON))
    assert r.errors == []
    assert r.key == "12345"
    assert r.key_hash == HASHER.key("people", "12345") == m.hash_key("12345")
    assert r.values == {
        "LeadSource": "SIS",
        "SIS_Student_Number__c": "12345",
        "LastName": "van Dijk",
        "Email": "sanne.vandijk@example.nl",
        "MobilePhone": None,
    }
    assert r.identity == (
        HASHER.key("student", "12345"),
        HASHER.key("email", "sanne.vandijk@example.nl"),
    )
    assert r.facts.phase is Phase.ENROLLED
    assert r.facts.phase_at == date(2024, 9, 1)
    assert r.facts.birthdate == date(2008, 4, 3)
    assert r.facts.consents == {}
    assert r.refs == {}


def test_dutch_name_template_without_tussenvoegsel(project):
    r = compiled(project, "people").apply(rec("1", **{**PERSON, "tussenvoegsel": ""}))
    assert r.values["LastName"] == "Dijk"


def test_required_value_missing_names_column_and_field(project):
    r = compiled(project, "people").apply(
        rec("1", line=7, **{**PERSON, "tussenvoegsel": "", "achternaam": "  "})
    )
    (reject,) = r.errors
    assert reject.origin == Origin("data/x.csv", 7)
    assert reject.column == "tussenvoegsel+achternaam"
    assert reject.reason == "LastName: required value missing"
    assert reject.mapping == "people"


def test_external_id_field_mapped_is_required(project):
    r = compiled(project, "people").apply(rec("1", **{**PERSON, "nummer": ""}))
    assert [(e.column, e.reason) for e in r.errors] == [
        ("nummer", "SIS_Student_Number__c: required value missing")
    ]


def test_bad_value_rejected_without_the_value(project):
    r = compiled(project, "people").apply(rec("1", **{**PERSON, "status_datum": "31-02-2024"}))
    (reject,) = r.errors
    assert reject.column == "status_datum"
    assert reject.reason.startswith("lifecycle.date: ")
    assert "31-02" not in str(reject)


def test_unlisted_lifecycle_value_is_rejected(project):
    r = compiled(project, "people").apply(rec("1", **{**PERSON, "status": "geschorst"}))
    assert [(e.column, "not listed" in e.reason) for e in r.errors] == [("status", True)]
    assert r.facts.phase is None


@pytest.mark.parametrize(
    ("raw", "sent"), [("ja", True), ("J", True), ("1", True), ("nee", None), ("", None)]
)
def test_opt_out_is_one_way(project, raw, sent):
    m = compiled(project, "people")
    r = m.apply(rec("1", **{**PERSON, "afmelding": raw}))
    assert r.errors == []
    assert r.values.get("HasOptedOutOfEmail", None) is sent
    assert ("HasOptedOutOfEmail" in r.values) is (sent is True)
    assert m.opt_out_fields == frozenset({"HasOptedOutOfEmail"})
    # Not CRM-owned: the policy never sends a CRM-owned field, and an opt-out must go (art. 21).
    assert "HasOptedOutOfEmail" not in m.crm_owned


def test_opt_out_garbage_is_a_reject(project):
    r = compiled(project, "people").apply(rec("1", **{**PERSON, "afmelding": "misschien"}))
    assert [e.column for e in r.errors] == ["afmelding"]
    assert "misschien" not in r.errors[0].reason


def test_external_id_is_key_hash_when_not_mapped(project):
    m = compiled(project, "visitors")
    r = m.apply(rec("  Sanne@Example.NL ", email="x", achternaam="Dijk"))
    assert r.key == "sanne@example.nl"
    assert r.values["SIS_Sync_Key__c"] == r.key_hash == HASHER.key("visitors", "sanne@example.nl")
    assert r.facts.phase is Phase.PROSPECT
    assert r.facts.phase_at is None


VISIT = {
    "event": " OD-2025-A ",
    "email": "Sanne@Example.NL",
    "soort": "Bezoek",
    "binnen": "ja",
    "datum": "2025-03-01",
    "naam": "Open dag",
}


def test_refs_normalise_parent_keys_like_the_parent(project):
    m = compiled(project, "visits")
    r = m.apply(rec(join_key([" OD-2025-A ", "Sanne@Example.NL"]), **VISIT))
    assert r.errors == []
    assert r.key == join_key(["od-2025-a", "sanne@example.nl"])
    assert r.refs == {
        "CampaignId": ("trips", "OD-2025-A"),  # trips keeps case (key_transform strip)
        "ContactId": ("visitors", "sanne@example.nl"),  # visitors lower-cases
    }
    assert "CampaignId" not in r.values
    assert r.values == {"Status": "Attended", "SIS_Sync_Key__c": r.key_hash}
    assert r.facts.event_date == date(2025, 3, 1)
    assert m.parents == ["trips", "visitors"]
    assert m.field_purposes["CampaignId"] == ("visits",)


def test_refs_without_parents_strip_only(project):
    m = compile_mapping(project.mappings["visits"], project.purposes, hasher=HASHER, today=TODAY)
    r = m.apply(rec(join_key(["a", "b"]), **VISIT))
    assert r.refs["ContactId"] == ("visitors", "Sanne@Example.NL")


def test_required_ref_missing(project):
    r = compiled(project, "visits").apply(rec(join_key(["a", "b"]), **{**VISIT, "event": " "}))
    assert [(e.column, e.reason) for e in r.errors] == [
        ("event", "CampaignId: required value missing")
    ]
    r = compiled(project, "visits").apply(rec(join_key(["a", "b"]), **{**VISIT, "email": ""}))
    assert r.errors == [] and "ContactId" not in r.refs


def test_filter_skips_silently(project):
    m = compiled(project, "visits")
    assert m.apply(rec(join_key(["a", "b"]), **{**VISIT, "soort": "annulering"})) is None
    assert m.apply(rec(join_key(["a", "b"]), **{**VISIT, "soort": None})) is None
    assert m.apply(rec(join_key(["a", "b"]), **{**VISIT, "soort": " BEZOEK "})) is not None


def test_map_failure_names_field_and_column(project):
    r = compiled(project, "visits").apply(rec(join_key(["a", "b"]), **{**VISIT, "binnen": "later"}))
    (reject,) = r.errors
    assert (reject.column, reject.reason.split(":")[0]) == ("binnen", "Status")
    assert "later" not in reject.reason


def test_empty_key_is_rejected(project):
    r = compiled(project, "visitors").apply(rec("   ", achternaam="Dijk"))
    assert r.key == r.key_hash == ""
    assert [(e.column, e.reason) for e in r.errors] == [("email", "empty key")]
    r = compiled(project, "visits").apply(rec(join_key(["a", " "]), **VISIT))
    assert [e.reason for e in r.errors] == ["empty key"]


CONSENT = {"nieuws": "ja", "nieuws_op": "2024-03-01T10:00:00", "nieuws_bron": " open dag "}


def test_news_consent_naive_timestamp_is_school_time(project):
    r = compiled(project, "people").apply(rec("1", **PERSON, **CONSENT))
    fact = r.facts.consents["news"]
    assert fact.given is True
    assert fact.at == datetime(2024, 3, 1, 10, 0, tzinfo=AMS)
    assert fact.at.utcoffset().total_seconds() == 3600
    assert fact.source == "open dag"
    assert fact.by is None
    assert "calls" not in r.facts.consents  # its columns are not in this record


def test_consent_aware_timestamp_kept_and_no_values(project):
    r = compiled(project, "people").apply(
        rec("1", **PERSON, nieuws="Nee", nieuws_op="2024-03-01T10:00:00Z", nieuws_bron="")
    )
    fact = r.facts.consents["news"]
    assert fact.given is False
    assert fact.at == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    assert fact.source is None


def test_consent_without_anything_is_absent(project):
    r = compiled(project, "people").apply(
        rec("1", **PERSON, nieuws="", nieuws_op="", nieuws_bron="")
    )
    assert r.facts.consents == {}


def test_consent_yes_without_timestamp_is_recorded_as_such(project):
    r = compiled(project, "people").apply(rec("1", **PERSON, nieuws="yes", nieuws_op=""))
    assert r.facts.consents["news"].given is True
    assert r.facts.consents["news"].at is None


def test_unparseable_consent_moment_rejects_that_column(project):
    r = compiled(project, "people").apply(rec("1", **PERSON, nieuws="ja", nieuws_op="gisteren"))
    assert [e.column for e in r.errors] == ["nieuws_op"]
    assert "gisteren" not in r.errors[0].reason
    assert "news" not in r.facts.consents


@pytest.mark.parametrize(
    ("by", "expected"),
    [
        ("Ouder", "parent"),
        ("verzorger", "parent"),
        ("voogd", "parent"),
        ("guardian", "parent"),
        ("zelf", "self"),
        ("Student", "self"),
        ("self", "self"),
        ("", None),
    ],
)
def test_phone_consent_by_and_at_format(project, by, expected):
    r = compiled(project, "people").apply(
        rec("1", **PERSON, bellen="waar", bellen_op="05-01-2025 14:30", bellen_door=by)
    )
    assert r.errors == []
    fact = r.facts.consents["calls"]
    assert (fact.given, fact.by) == (True, expected)
    assert fact.at == datetime(2025, 1, 5, 14, 30, tzinfo=AMS)


def test_consents_of_purposes_the_mapping_does_not_use_are_not_read(project, tmp_path):
    import shutil

    folder = tmp_path / "mappings"
    shutil.copytree(VALID, folder)
    people = folder / "people.yaml"
    text = people.read_text(encoding="utf-8").replace("purposes: [calls]", "purposes: [enrolment]")
    people.write_text(text, encoding="utf-8")
    m = load_project(folder).compile("people", hasher=HASHER, today=TODAY)
    r = m.apply(rec("1", **PERSON, bellen="misschien", bellen_op="gisteren", bellen_door="buurman"))
    assert "calls" not in r.facts.consents
    assert r.errors == []  # nothing this mapping sends depends on those columns


def test_phone_consent_unknown_giver_and_bad_yes_no(project):
    r = compiled(project, "people").apply(
        rec("1", **PERSON, bellen="misschien", bellen_op="2025-01-05", bellen_door="buurman")
    )
    assert sorted(e.column for e in r.errors) == ["bellen", "bellen_door", "bellen_op"]
    assert not any("buurman" in str(e) or "misschien" in str(e) for e in r.errors)


def test_warnings_name_the_field(project, tmp_path):
    import shutil

    folder = tmp_path / "mappings"
    shutil.copytree(VALID, folder)
    (folder / "short.yaml").write_text(
        "name: short\n"
        "source: {kind: csv, path: data/x.csv, key: nummer}\n"
        "target: {object: Contact, external_id: SIS_Sync_Key__c}\n"
        "fields:\n"
        "  LastName: {from: achternaam, transform: [{truncate: 3}], purposes: [enrolment]}\n"
        "  Title: {value: '  Student ', transform: [strip], purposes: [enrolment]}\n"
        "  Description: {template: '{opleiding} ({crebo})', purposes: [enrolment]}\n",
        encoding="utf-8",
    )
    m = load_project(folder).compile("short", hasher=HASHER, today=TODAY)
    r = m.apply(rec("1", achternaam="Jansen", opleiding="Verpleegkunde", crebo="25655"))
    assert r.values["LastName"] == "Jan"
    assert r.warnings == ["LastName: truncated to 3 characters"]
    assert r.values["Title"] == "Student"
    assert r.values["Description"] == "Verpleegkunde (25655)"
    r = m.apply(rec("2", achternaam="Li"))
    assert r.warnings == []
    assert r.values["Description"] is None
