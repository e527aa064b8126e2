"""`state rebuild` against the emulator with the real client: lost state → rebuild → 0 writes.

Also the value comparison and query chunking of the rebuild's read-only writer, without an org.
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from decimal import Decimal
from urllib.parse import quote

import pytest
from syncfixtures import SECRET, SyncProject, registration, student

from connector.errors import ConfigError
from connector.state import open_existing
from connector.sync.job import run_job
from connector.sync.rebuild import DIFFERS, NOT_IN_ORG, rebuild_state
from connector.sync.rebuild_writer import (
    MAX_ENCODED,
    RebuildWriter,
    WriteRefused,
    _chunks,
    differences,
)

# Write routes of the emulator's request counter: a rebuild must never hit one.
WRITE_VERBS = ("POST sobjects", "PATCH", "PUT", "DELETE", "POST composite", "POST jobs")


def _data(project: SyncProject, students: int = 230) -> None:
    project.write_students([student(f"3{i:05d}") for i in range(students)])
    project.write_registrations(
        [
            registration(
                f"REG-{i:06d}", f"bezoeker{i}@mail.example", ingecheckt="ja" if i % 2 else "nee"
            )
            for i in range(6)
        ]
        # A student who came to the open day: the registrant is the student's Contact (update by Id).
        + [registration("REG-000099", "s300001@school.example")]
    )


def _state_counts(project: SyncProject) -> dict[str, int]:
    store = open_existing(project.settings().state.url)
    try:
        return store.mapping_counts()
    finally:
        store.close()


def _writes(before: dict, after: dict) -> dict[str, int]:
    diff = {
        k: after["requests"].get(k, 0) - before["requests"].get(k, 0) for k in after["requests"]
    }
    return {k: n for k, n in diff.items() if n and k.startswith(WRITE_VERBS)}


def _lose_state(project: SyncProject) -> None:
    shutil.rmtree(project.folder / "state")


def test_rebuild_restores_a_state_the_next_run_finds_unchanged(project: SyncProject) -> None:
    _data(project)
    first = project.run()
    assert first.exit_code() == 0
    synced = _state_counts(project)
    _lose_state(project)

    before = project.emulator.stats()
    result = rebuild_state(project.settings(), job="nightly")
    after = project.emulator.stats()

    assert result.exit_code() == 0, result.summary()
    assert result.unmatched == []
    assert _writes(before, after) == {}  # read only
    assert after["records"] == before["records"]
    assert _state_counts(project) == synced  # every record of every mapping is back
    # Queries only: one per mapping, one more for the student's registration (an update by the
    # person's Id), one describe per object; and the consent model's records of both person
    # mappings: per mapping its Individuals and their Contact.IndividualId links (2 + 2), the
    # ContactPointTypeConsents (460 keyed hashes of the students in 2 queries, the registrants'
    # in 1) and the DataUsePurposes by Name once in the run (1): 6 + 8 = 14.
    # And one query per mapping for the records no export holds any more (rebuild_adopt.py): 5.
    assert after["requests"].get("GET query", 0) - before["requests"].get("GET query", 0) == 19

    calls = project.api_calls()
    again = project.run()
    assert again.exit_code() == 0
    totals = again.totals()
    assert totals["created"] + totals["updated"] == 0
    # The mappings' records count as unchanged; the consent records, written by no mapping of
    # their own, are not counted when nothing is written.
    mapped = {name: n for name, n in synced.items() if not name.startswith("consent:")}
    assert totals["unchanged"] == sum(mapped.values())
    assert project.api_calls() == calls  # nothing to write, not one call


def test_a_rebuild_on_a_later_day_keeps_the_date_of_an_undated_withdrawal(
    project: SyncProject,
) -> None:
    # The visitors' "nee" has no date of its own: the first run's clock dates the OptOut.
    _data(project, students=3)
    assert project.run().exit_code() == 0
    dated = {
        r["SIS_Consent_Key__c"]: r["CaptureDate"]
        for r in project.query(
            "SELECT SIS_Consent_Key__c, CaptureDate FROM ContactPointTypeConsent"
        )
    }
    _lose_state(project)
    later = {"SIS_SYNC_NOW": "2027-02-01T09:00:00+00:00"}

    result = rebuild_state(project.settings(**later), job="nightly")
    assert result.exit_code() == 0, result.summary()
    assert result.report.mappings["consent:recruitment_news"].failures == {}
    # Months later some rows are due for a recheck (retention, age) and are mapped again, but
    # nothing is written: the withdrawals keep the date the first run gave them.
    again = run_job(project.settings(**later), job="nightly")
    assert again.exit_code() == 0
    assert again.totals()["created"] + again.totals()["updated"] == 0
    after = project.query("SELECT SIS_Consent_Key__c, CaptureDate FROM ContactPointTypeConsent")
    assert {r["SIS_Consent_Key__c"]: r["CaptureDate"] for r in after} == dated


def test_a_record_changed_in_the_org_is_listed_and_the_next_run_fixes_it(
    project: SyncProject,
) -> None:
    _data(project, students=3)
    assert project.run().exit_code() == 0
    sf = project.emulator.client()
    [contact] = project.query("SELECT Id FROM Contact WHERE SIS_Student_Number__c = '300002'")
    sf.Contact.update(contact["Id"], {"MobilePhone": "+31699999999", "FirstName": "Anders"})
    _lose_state(project)

    result = rebuild_state(project.settings(), job="nightly")

    assert result.exit_code() == 0
    [row] = result.unmatched
    assert (row.mapping, row.file, row.line) == ("students", "data/studenten.csv", 4)
    assert row.reason == "differs in the org: FirstName, MobilePhone"
    assert result.report.mappings["students"].failures[DIFFERS] == 1
    text = result.summary()
    assert "students  data/studenten.csv:4  differs in the org: FirstName, MobilePhone" in text
    assert "Anders" not in text and "+31699999999" not in text and "300002" not in text

    contacts = len(project.query("SELECT Id FROM Contact"))
    fix = project.run()
    assert fix.exit_code() == 0
    # One write: an upsert of the record state did not know, which Salesforce matched to the
    # existing Contact: an update, as Salesforce says, not a creation.
    assert fix.mappings["students"].written == 1
    assert (fix.mappings["students"].created, fix.mappings["students"].updated) == (0, 1)
    [fixed] = project.query(
        f"SELECT FirstName, MobilePhone FROM Contact WHERE Id = '{contact['Id']}'"
    )
    assert fixed["FirstName"] == "Sanne"
    assert len(project.query("SELECT Id FROM Contact")) == contacts  # no duplicate
    final = project.run().totals()
    assert final["created"] + final["updated"] == 0


def test_a_record_deleted_in_the_org_is_listed_and_the_next_run_recreates_it(
    project: SyncProject,
) -> None:
    _data(project, students=3)
    assert project.run().exit_code() == 0
    sf = project.emulator.client()
    [contact] = project.query("SELECT Id FROM Contact WHERE SIS_Student_Number__c = '300000'")
    sf.Contact.delete(contact["Id"])
    _lose_state(project)

    result = rebuild_state(project.settings(), job="nightly")

    assert result.exit_code() == 0
    assert [(u.mapping, u.file, u.line, u.reason) for u in result.unmatched] == [
        ("students", "data/studenten.csv", 2, "not in the org")
    ]
    assert result.report.mappings["students"].failures[NOT_IN_ORG] == 1
    assert "erased earlier" in result.summary()  # the tombstone warning
    assert result.list_file is not None
    assert result.list_file.read_text().splitlines() == [
        "students  data/studenten.csv:2  not in the org"
    ]

    fix = project.run()
    assert fix.exit_code() == 0
    assert fix.mappings["students"].created == 1
    numbers = [
        r["SIS_Student_Number__c"]
        for r in project.query("SELECT SIS_Student_Number__c FROM Contact")
    ]
    assert sorted(n for n in numbers if n) == ["300000", "300001", "300002"]


def test_a_state_holding_records_is_refused_unless_forced(project: SyncProject) -> None:
    _data(project, students=3)
    assert project.run().exit_code() == 0

    with pytest.raises(ConfigError, match="already holds records of"):
        rebuild_state(project.settings(), job="nightly")

    before = project.emulator.stats()
    forced = rebuild_state(project.settings(), job="nightly", force=True)
    assert forced.exit_code() == 0
    assert forced.held_before["students"] == 3
    assert "--force: state already held records" in forced.summary()
    assert _writes(before, project.emulator.stats()) == {}


def test_rebuild_against_an_empty_org_writes_nothing_and_lists_every_record(
    project: SyncProject,
) -> None:
    project.write_students([student("400001"), student("400002")])
    before = project.emulator.stats()

    result = rebuild_state(project.settings(), job="students")

    after = project.emulator.stats()
    assert result.exit_code() == 0
    assert [u.reason for u in result.unmatched] == ["not in the org"] * 2
    assert after["records"] == before["records"]
    assert after["records"]["Contact"] == 0
    assert _writes(before, after) == {}
    assert _state_counts(project) == {}


def test_the_rebuild_writer_refuses_to_delete(project: SyncProject) -> None:
    from connector.salesforce.client import SalesforceClient

    writer = RebuildWriter(SalesforceClient(project.settings().salesforce))
    with pytest.raises(WriteRefused):
        writer.delete("Contact", ["003000000000001AAA"])
    with pytest.raises(WriteRefused):
        writer.delete("Contact", ["003000000000001AAA"], hard=True)


# -- comparison and chunking, no org ----------------------------------------------------------

TYPES = {
    "birthdate": {"type": "date"},
    "consent_at__c": {"type": "datetime"},
    "isactive": {"type": "boolean"},
    "amount__c": {"type": "currency", "scale": 2},
    "type": {"type": "picklist"},
    "tags__c": {"type": "multipicklist"},
    "contactid": {"type": "reference"},
    "firstname": {"type": "string"},
}


_CONSENT_SENT = {
    "SIS_Consent_Key__c": "k1",
    "PrivacyConsentStatus": "OptIn",
    "CaptureDate": "2026-09-01T08:00:00.000Z",
    "EffectiveFrom": "2026-09-01T08:00:00.000Z",
    "CaptureSource": "intake",
    "PartyId": "0PK000000000001",
}


@pytest.mark.parametrize(
    ("held", "matches"),
    [
        # A later capture with the other status: the person's later word (a withdrawal).
        ({"privacyconsentstatus": "OptOut", "capturedate": "2026-11-20T09:00:00.000+0000"}, True),
        # A later capture with the same status (a newer proof of the same consent).
        ({"capturesource": "open dag", "capturedate": "2026-10-01T09:00:00.000+0000"}, True),
        # Only the dates differ (an undated "nee" dated by an earlier run's clock): the same
        # consent, which a rebuild must not re-date.
        (
            {
                "capturedate": "2026-08-01T09:00:00.000+0000",
                "effectivefrom": "2026-08-01T09:00:00.000+0000",
                "name": "recruitment_news 2026-08-01",
            },
            True,
        ),
        # The same moment, another status: a real difference.
        ({"privacyconsentstatus": "OptOut"}, False),
        # An older capture in the org: this mapping's newer proof is to be written.
        ({"privacyconsentstatus": "OptOut", "capturedate": "2026-08-01T09:00:00.000+0000"}, False),
        # Another party: never a match, whatever the dates.
        ({"partyid": "0PK000000000002", "capturedate": "2026-11-20T09:00:00.000+0000"}, False),
    ],
)
def test_a_consent_record_holding_a_newer_proof_matches(held: dict, matches: bool) -> None:
    from connector.sync.rebuild_writer import _answer

    record = {k.lower(): v for k, v in _CONSENT_SENT.items()} | {"id": "0ZY000000000001"} | held
    found = {"k1": [record]}
    result = _answer(_CONSENT_SENT, "SIS_Consent_Key__c", found, {}, obj="ContactPointTypeConsent")
    assert result.ok is matches, result.message
    # Any other object compares field by field: every record here differs from the row.
    assert not _answer(_CONSENT_SENT, "SIS_Consent_Key__c", found, {}, obj="Contact").ok


def test_values_equal_as_salesforce_stores_them() -> None:
    row = {
        "Birthdate": date(2004, 3, 14),
        "Consent_At__c": datetime(2026, 9, 1, 10, 0, 0, 123456, tzinfo=UTC),
        "IsActive": None,  # a cleared checkbox is false
        "Amount__c": Decimal("12.345"),  # stored at scale 2 (half up)
        "Type": "open dag",
        "Tags__c": "b;a",
        "ContactId": "003000000000001",
        "FirstName": "",  # empty is null
    }
    record = {
        "birthdate": "2004-03-14",
        "consent_at__c": "2026-09-01T10:00:00.123+0000",
        "isactive": False,
        "amount__c": 12.35,
        "type": "Open dag",
        "tags__c": "a;b",
        "contactid": "003000000000001AAA",
        "firstname": None,
    }
    assert differences(row, record, TYPES) == []


@pytest.mark.parametrize(
    ("field", "held"),
    [
        ("Birthdate", "2004-03-15"),
        ("Consent_At__c", "2026-09-01T10:00:01.123+0000"),
        ("IsActive", True),
        ("Amount__c", 12.34),
        ("Type", "Meeloopdag"),
        ("Tags__c", "a"),
        ("ContactId", "003000000000002AAA"),
        ("FirstName", "Sanne"),
    ],
)
def test_each_kind_of_difference_is_found(field: str, held: object) -> None:
    row = {
        "Birthdate": date(2004, 3, 14),
        "Consent_At__c": datetime(2026, 9, 1, 10, 0, tzinfo=UTC),
        "IsActive": False,
        "Amount__c": "12.345",
        "Type": "Open dag",
        "Tags__c": "a;b",
        "ContactId": "003000000000001AAA",
        "FirstName": None,
    }
    record = {
        "birthdate": "2004-03-14",
        "consent_at__c": "2026-09-01T10:00:00.000+0000",
        "isactive": False,
        "amount__c": 12.35,
        "type": "Open dag",
        "tags__c": "b;a",
        "contactid": "003000000000001AAA",
        "firstname": None,
    }
    assert differences(row, record, TYPES) == []
    record[field.lower()] = held
    assert differences(row, record, TYPES) == [field]


def test_a_lookup_by_external_id_in_the_bulk_header_form_is_compared_to_the_nested_parent():
    """The planner sends a lookup as ``LearningProgramPlan.Crebo__c`` (Education Cloud's
    learner_programs, EDA's affiliations): SOQL answers the parent as a nested record. Read as
    a flat name it was missing, and a rebuild listed every such record as differing — 17,248
    LearnerPrograms and 25,945 hed__Affiliations of the 20,000-student demo, all written again."""
    row = {"LearningProgramPlan.Crebo__c": "25655", "Status": "Active"}
    record = {
        "learningprogramplan": {"attributes": {"type": "LearningProgramPlan"}, "Crebo__c": "25655"},
        "status": "Active",
    }
    assert differences(row, record, {}) == []
    record["learningprogramplan"]["Crebo__c"] = "25604"
    assert differences(row, record, {}) == ["LearningProgramPlan.Crebo__c"]
    assert differences(row, {"status": "Active", "learningprogramplan": None}, {}) == [
        "LearningProgramPlan.Crebo__c"
    ]


def test_without_describe_the_sent_value_decides_the_comparison() -> None:
    row = {"A": True, "B": date(2026, 1, 2), "C": 3, "D": "x", "E": None}
    record = {"a": True, "b": "2026-01-02", "c": 3.0, "d": "x", "e": ""}
    assert differences(row, record, {}) == []
    assert differences({"D": "x"}, {"d": "X"}, {}) == ["D"]  # text is exact


def test_queries_are_chunked_by_count_and_encoded_length_with_escaped_keys() -> None:
    rows = [{"Ext__c": f"k{i:05d}", "LastName": "x"} for i in range(1100)]
    rows.append({"Ext__c": "O'Brien\\x", "LastName": "x"})
    chunks = list(_chunks("Contact", "Ext__c", rows))
    assert sorted(i for idx, _ in chunks for i in idx) == list(range(len(rows)))
    assert [len(idx) for idx, _ in chunks] == [500, 500, 101]  # at most 500 keys a query
    assert chunks[-1][1].endswith(", 'O\\'Brien\\\\x')")
    long_keys = [{"Ext__c": "é" * 60} for _ in range(100)]  # 60 characters → 720 encoded bytes
    long_chunks = list(_chunks("Contact", "Ext__c", long_keys))
    assert len(long_chunks) > 1
    assert all(len(quote(soql)) <= MAX_ENCODED for _, soql in long_chunks)


def test_unmatched_rows_are_placed_by_their_source_when_the_engine_files_no_refusals(
    project: SyncProject,
) -> None:
    # Engines that count Salesforce's refusals only per error code (no reject with file and
    # line): the rebuild finds the line by reading the source again.
    import sqlalchemy as sa

    from connector.state import tables as s
    from connector.sync import rebuild as rebuild_module

    project.write_students([student("400001"), student("400002"), student("400003")])
    assert project.run(job="students").exit_code() == 0
    [contact] = project.query("SELECT Id FROM Contact WHERE SIS_Student_Number__c = '400002'")
    project.emulator.client().Contact.delete(contact["Id"])
    _lose_state(project)
    result = rebuild_state(project.settings(), job="students")
    expected = [("students", "data/studenten.csv", 3, "not in the org")]
    assert [(u.mapping, u.file, u.line, u.reason) for u in result.unmatched] == expected

    store = open_existing(project.settings().state.url)
    try:
        with store._db.write.begin() as conn:
            conn.execute(sa.delete(s.rejects))
    finally:
        store.close()
    settings = project.settings()
    again = rebuild_module._unmatched(
        settings, rebuild_module.load_project(settings.mappings), result.report, SECRET
    )
    assert [(u.mapping, u.file, u.line, u.reason) for u in again] == expected


def test_a_consent_record_changed_in_the_org_is_listed_at_its_persons_row(
    project: SyncProject,
) -> None:
    # Found attacking issue 8: a rebuild counted consent records that differ in the org
    # ("differs in the org 30") but listed none of them; now each is a refusal filed at the
    # row of its person, as the mapping's own records are.
    _data(project, students=3)
    assert project.run().exit_code() == 0
    sf = project.emulator.client()
    [contact] = project.query(
        "SELECT IndividualId FROM Contact WHERE SIS_Student_Number__c = '300002'"
    )
    consents = project.query(
        "SELECT Id FROM ContactPointTypeConsent "
        f"WHERE PartyId = '{contact['IndividualId']}' AND PrivacyConsentStatus = 'OptIn'"
    )
    assert consents
    sf.ContactPointTypeConsent.update(consents[0]["Id"], {"PrivacyConsentStatus": "OptOut"})
    _lose_state(project)

    result = rebuild_state(project.settings(), job="nightly")

    assert result.exit_code() == 0
    rows = [u for u in result.unmatched if u.mapping.startswith("consent:")]
    assert [(u.file, u.line, u.reason) for u in rows] == [
        ("data/studenten.csv", 4, "differs in the org: PrivacyConsentStatus")
    ]
    assert "300002" not in result.summary()
    fix = project.run()
    assert fix.exit_code() == 0
    assert fix.totals()["updated"] == 1
    final = project.run().totals()
    assert final["created"] + final["updated"] == 0


def test_status_shows_a_rebuild_as_one_that_wrote_nothing(project: SyncProject) -> None:
    # A rebuild's report counts the records it matched as "updated": status and the status
    # page must not show them as writes of the org.
    from typer.testing import CliRunner

    from connector.cli import app
    from connector.status_data import collect
    from connector.status_page import render

    _data(project, students=5)
    assert project.run().exit_code() == 0
    _lose_state(project)
    result = rebuild_state(project.settings(), job="nightly")
    assert result.exit_code() == 0, result.summary()
    assert result.report.rebuild and "state rebuild" in result.report.summary()

    store = open_existing(project.settings().state.url)
    try:
        [run] = store.recent_runs(5)
        assert run.rebuild and run.written == 0 and int(run.counts["updated"]) > 0
        page = render(collect(store))
    finally:
        store.close()
    assert "state rebuild" in page
    status = CliRunner().invoke(
        app, ["--config", str(project.folder / "sync.yaml"), "status"], env=project.env
    )
    assert status.exit_code == 0, status.output
    lines = status.output.splitlines()
    [at] = [i for i, line in enumerate(lines) if line.split()[:2] == ["1", "nightly"]]
    assert lines[at].split()[5] == "0"  # the written column; the label folds under the job
    assert "(rebuild)" in lines[at + 1]
