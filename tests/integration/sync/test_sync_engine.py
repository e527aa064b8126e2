"""The sync engine end to end against the emulator, with the shipped mappings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from syncfixtures import SECRET, registration, student
from tenacity import wait_none

from connector.hashing import KeyHasher
from connector.salesforce import client as sf_client
from connector.salesforce import writer as sf_writer


def test_full_sync_then_rerun_writes_nothing(project):
    project.write_students([student(f"10{i:04d}") for i in range(20)])
    project.write_registrations(
        [registration(f"REG-{i:06d}", f"bezoeker{i}@mail.example") for i in range(10)]
    )
    first = project.run()
    assert first.exit_code() == 0, first.summary()
    t = first.totals()
    assert first.mappings["students"].created == 20
    assert first.mappings["registrants"].created == 10
    assert first.mappings["events"].created == 1
    assert first.mappings["registrations"].created == 10
    assert first.mappings["registration_tasks"].created == 10
    assert t["rejected"] == t["failed"] == 0
    assert len(project.query("SELECT Id FROM Contact")) == 30
    members = project.query("SELECT Id, Status, ContactId, CampaignId FROM CampaignMember")
    assert {m["Status"] for m in members} == {"Attended"}

    before = project.api_calls()
    second = project.run()
    assert second.exit_code() == 0
    assert second.totals()["created"] + second.totals()["updated"] == 0
    assert second.totals()["unchanged"] == 20 + 10 + 1 + 10 + 10
    # Only the token request: no read, no write.
    assert project.api_calls() - before == 0


def test_one_changed_field_updates_exactly_one_record(project):
    rows = [student(f"20{i:04d}") for i in range(5)]
    project.write_students(rows)
    project.run("students")
    rows[3]["woonplaats"] = "Amersfoort"
    project.write_students(rows)
    stats_before = project.emulator.stats()
    report = project.run("students")
    m = report.mappings["students"]
    assert (m.updated, m.created, m.unchanged) == (1, 0, 4)
    stats_after = project.emulator.stats()
    # One collections call. No read of the opt-out fields the CRM holds: the row's opt-ins
    # are those the Contact was written with, nothing new to the CRM (crm_opt_outs.py).
    assert stats_after["api_calls"] - stats_before["api_calls"] == 1
    [c] = project.query("SELECT MailingCity FROM Contact WHERE SIS_Student_Number__c = '200003'")
    assert c["MailingCity"] == "Amersfoort"


def test_prospect_becomes_student_without_duplicate(project):
    project.write_registrations([registration("REG-000001", "Lotte.Jansen@Mail.example ")])
    project.run()
    [prospect] = project.query("SELECT Id, SIS_Student_Number__c FROM Contact")
    assert prospect["SIS_Student_Number__c"] is None

    project.write_students([student("300001", email="lotte.jansen@mail.example")])
    report = project.run()
    assert report.mappings["students"].joined == 1
    contacts = project.query("SELECT Id, SIS_Student_Number__c, SIS_Sync_Key__c FROM Contact")
    assert len(contacts) == 1
    assert contacts[0]["Id"] == prospect["Id"]
    assert contacts[0]["SIS_Student_Number__c"] == "300001"
    again = project.run()
    assert again.totals()["created"] + again.totals()["updated"] == 0


def test_student_first_then_registration_joins_existing_contact(project):
    project.write_students([student("300002", email="tim@mail.example")])
    project.run()
    project.write_registrations([registration("REG-000002", "TIM@mail.example")])
    report = project.run()
    assert report.mappings["registrants"].created == 0
    assert report.mappings["registrants"].updated == 1
    assert len(project.query("SELECT Id FROM Contact")) == 1
    [member] = project.query("SELECT ContactId FROM CampaignMember")
    [contact] = project.query("SELECT Id FROM Contact")
    assert member["ContactId"] == contact["Id"]


def test_shared_email_of_two_students_never_merges(project):
    project.write_students(
        [
            student("300003", email="ouders@mail.example"),
            student("300004", email="ouders@mail.example"),
        ]
    )
    report = project.run()
    assert report.mappings["students"].created == 2
    assert len(project.query("SELECT Id FROM Contact")) == 2


def test_ambiguous_email_goes_to_review(project):
    project.write_students(
        [
            student("300005", email="gezin@mail.example"),
            student("300006", email="gezin@mail.example"),
        ]
    )
    project.run()
    project.write_registrations([registration("REG-000003", "gezin@mail.example")])
    report = project.run()
    reg = report.mappings["registrants"]
    assert reg.review == 1
    assert reg.created == reg.updated == 0
    assert report.exit_code() == 1
    assert reg.review_list[0]["line"] == 2
    assert "gezin" not in str(reg.review_list)


def test_consent_withdrawn_clears_the_field(project):
    rows = [student("400001")]
    project.write_students(rows)
    project.run("students")
    [c] = project.query("SELECT MobilePhone, Consent_News__c FROM Contact")
    assert c["MobilePhone"] == "+31612345678"
    assert c["Consent_News__c"] is True

    rows[0].update(toestemming_bellen="nee", toestemming_bellen_op="2026-11-01T10:00:00+01:00")
    project.write_students(rows)
    report = project.run("students")
    m = report.mappings["students"]
    assert m.updated == 1
    assert m.fields_cleared == 1  # MobilePhone; Phone never held a value
    [c] = project.query("SELECT MobilePhone, Email FROM Contact")
    assert c["MobilePhone"] is None
    assert c["Email"] == "s400001@school.example"


def test_minor_without_parent_consent_gets_no_phone(project):
    minor = student("400002", geboortedatum="01-06-2011", toestemming_bellen_door="self")
    parent = student("400003", geboortedatum="01-06-2011", toestemming_bellen_door="ouder")
    project.write_students([minor, parent])
    report = project.run("students")
    assert report.mappings["students"].withheld["minor_without_parent_consent"] >= 2
    rows = {
        r["SIS_Student_Number__c"]: r
        for r in project.query("SELECT SIS_Student_Number__c, MobilePhone FROM Contact")
    }
    assert rows["400002"]["MobilePhone"] is None
    assert rows["400003"]["MobilePhone"] == "+31612345678"


def test_bsn_never_reaches_salesforce(project):
    # A BSN typed into a free-text column is withheld by value, whatever the field.
    project.write_students([student("400004", woonplaats="BSN 111222333")])
    report = project.run("students")
    assert report.mappings["students"].withheld["forbidden_number"] == 1
    [c] = project.query("SELECT MailingCity, Description FROM Contact")
    assert c["MailingCity"] is None


def test_bad_rows_rejected_with_line_and_good_rows_synced(project):
    rows = [student(f"50{i:04d}") for i in range(6)]
    rows[1]["geboortedatum"] = "31-02-2007"
    rows[3]["email"] = "geen-email"
    rows[4]["studentnummer"] = ""
    project.write_students(rows)
    report = project.run("students")
    m = report.mappings["students"]
    assert m.created == 3
    assert m.rejected == 3
    assert report.exit_code() == 1
    where = {(r["line"], r["column"]) for r in m.rejects}
    assert (3, "geboortedatum") in where
    assert (5, "email") in where
    assert (6, "studentnummer") in where
    text = report.summary()
    assert "geen-email" not in text
    assert "31-02-2007" not in text
    assert len(project.query("SELECT Id FROM Contact")) == 3


def test_missing_key_column_stops_mapping_before_any_write(project):
    path = project.write_students([student("600001")])
    text = path.read_text(encoding="utf-8-sig").replace("studentnummer", "studentnr", 1)
    path.write_text(text, encoding="utf-8-sig")
    before = project.api_calls()
    report = project.run("students")
    assert "studentnummer" in report.mappings["students"].error
    assert report.exit_code() == 2  # an input error and nothing written (DESIGN §4)
    assert project.api_calls() == before
    assert project.query("SELECT Id FROM Contact") == []


def test_token_expiring_mid_run_is_refreshed(project):
    project.write_students([student(f"70{i:04d}") for i in range(10)])
    project.write_registrations(
        [registration(f"REG-1{i:05d}", f"x{i}@mail.example") for i in range(5)]
    )

    def expire(mapping, _read):
        if mapping == "registrants":
            project.emulator.faults(expire_tokens=True)

    report = project.run(progress=expire)
    assert report.exit_code() == 0, report.summary()
    assert len(project.query("SELECT Id FROM Contact")) == 15


def test_retries_on_503_and_lock_errors(project, monkeypatch):
    # The retries themselves are under test, not their back-off (exponential, up to 30 s each:
    # about 75 s of waiting here).
    monkeypatch.setattr(sf_client, "default_retry_wait", wait_none)
    monkeypatch.setattr(sf_writer, "LOCK_BACKOFF", 0.0)
    project.write_students([student(f"80{i:04d}") for i in range(300)])
    project.emulator.faults(http_503_rate=0.3, lock_error_rate=0.2, seed=7)
    report = project.run("students")
    project.emulator.faults(http_503_rate=0, lock_error_rate=0)
    assert report.exit_code() == 0, report.summary()
    assert report.mappings["students"].created == 300
    assert len(project.query("SELECT Id FROM Contact")) == 300


def test_plan_writes_nothing(project):
    project.write_students([student("900001")])
    before = project.api_calls()
    report = project.run("students", dry_run=True)
    assert report.mappings["students"].created == 1
    assert report.mappings["students"].examples
    example = str(report.mappings["students"].examples)
    assert "Vries" not in example
    assert project.api_calls() == before
    assert not (project.folder / "state").exists()


def test_no_personal_values_in_state_or_report(project):
    project.write_students(
        [student("900002", email="uniek.persoon@mail.example", achternaam="Zzyzx")]
    )
    report = project.run("students")
    state = (project.folder / "state" / "sync.db").read_bytes()
    reports = b"".join(p.read_bytes() for p in (project.folder / "state" / "reports").iterdir())
    for value in (b"uniek.persoon", b"Zzyzx", b"900002", b"+31612345678"):
        assert value not in state
        assert value not in reports
    assert report.exit_code() == 0
    assert KeyHasher("x")  # hashes, not values, are what state holds


def test_purged_record_is_not_recreated(project):
    from datetime import UTC, datetime

    from connector.mapping import load_project
    from connector.state import open_store

    project.write_students([student("910001"), student("910002")])
    project.run("students")
    settings = project.settings()
    key = KeyHasher(SECRET)
    store = open_store(settings.state.url)
    try:
        project_ = load_project(settings.mappings)
        compiled = project_.compile("students", hasher=key, today=datetime.now(UTC).date())
        store.mark_deleted("students", [compiled.hash_key("910001")], at=datetime.now(UTC))
    finally:
        store.close()
    before = project.api_calls()
    report = project.run("students")
    assert report.mappings["students"].suppressed == 1
    assert report.mappings["students"].unchanged == 1
    # Nothing written; the purged row's opt-ins read the CRM's opt-outs (crm_opt_outs.py).
    assert project.api_calls() == before + 1


def test_a_write_stopped_part_way_keeps_each_result_with_its_own_record(project):
    """Upserts (new prospects) and updates (known students) in one flush; the limit hits the
    upserts after their first row: that row is created, every other write stays pending."""
    from connector.errors import LimitReached
    from connector.records import WriteResult
    from connector.salesforce import connect

    project.write_students([student("920001", email="a@mail.example")])
    project.run("students")
    project.write_registrations(
        [
            registration("REG-900002", "a@mail.example"),  # the student: an update by Id
            registration("REG-900001", "new1@mail.example"),
            registration("REG-900003", "new2@mail.example"),
        ]
    )

    def stop_after_one(settings):
        # The real writer, stopped at its one choke point (every write goes through _write).
        writer = connect(settings.salesforce)
        real = writer._write

        def write(op, rows, bulk):
            if op.kind == "update":
                raise AssertionError("updates must not start after the run stopped")
            first = real(op, rows[:1], bulk)
            exc = LimitReached("daily API share reached", code="REQUEST_LIMIT")
            exc.results = first + [WriteResult(ok=False, error_code="NOT_SENT")] * (len(rows) - 1)
            raise exc

        writer._write = write
        return writer

    report = project.run("registrants", writer_factory=stop_after_one)
    m = report.mappings["registrants"]
    assert (m.created, m.updated, m.pending) == (1, 0, 2)
    assert report.stopped
    assert len(project.query("SELECT Id FROM Contact")) == 2
    again = project.run("registrants")
    assert again.mappings["registrants"].created == 1
    assert again.mappings["registrants"].updated == 1
    assert len(project.query("SELECT Id FROM Contact")) == 3


def test_siblings_sharing_a_prospects_email_do_not_merge_into_it(project):
    # A parent's address registered for an open day; then two children apply with it.
    project.write_registrations([registration("REG-930001", "ouders@mail.example")])
    project.run()
    [prospect] = project.query("SELECT Id FROM Contact")
    project.write_students(
        [
            student("930001", email="ouders@mail.example"),
            student("930002", email="ouders@mail.example"),
        ]
    )
    report = project.run("students")
    m = report.mappings["students"]
    assert (m.joined, m.updated, m.created) == (1, 1, 1)
    numbers = {
        c["SIS_Student_Number__c"]: c["Id"]
        for c in project.query(
            "SELECT Id, SIS_Student_Number__c FROM Contact WHERE SIS_Student_Number__c != null"
        )
    }
    assert set(numbers) == {"930001", "930002"}
    assert prospect["Id"] in numbers.values()
    again = project.run("students")
    assert again.mappings["students"].unchanged == 2


def test_an_event_registration_does_not_overwrite_a_students_sis_data(project):
    project.write_students([student("940001", email="kim@mail.example", achternaam="Visser")])
    project.run()
    project.write_registrations(
        [registration("REG-940001", "kim@mail.example", achternaam="Vissertje", voornaam="K.")]
    )
    report = project.run()
    assert report.exit_code() == 0, report.summary()
    [c] = project.query("SELECT LastName, FirstName, Lifecycle_Status__c FROM Contact")
    assert c["LastName"] == "de Visser"  # the SIS's name, not what the visitor typed
    assert c["Lifecycle_Status__c"] == "Ingeschreven"
    assert len(project.query("SELECT Id FROM CampaignMember")) == 1


def test_an_ended_student_without_a_date_gets_a_retention_anchor(project):
    from connector.state import open_store

    project.write_students([student("950001", status="uitgeschreven", status_datum="")])
    project.run("students")
    store = open_store(project.settings().state.url)
    try:
        [row] = [
            r
            for batch in store.expired(
                "students", "lifecycle_end", datetime(2100, 1, 1, tzinfo=UTC)
            )
            for r in batch
        ]
    finally:
        store.close()
    assert row.anchor_at is not None  # the day the sync first saw the end


def test_two_jobs_sharing_a_mapping_never_run_it_at_once(project):
    from connector.errors import LockedError
    from connector.state import open_store

    project.write_students([student("970001")])
    store = open_store(project.settings().state.url)
    try:
        # A hand-started `sis-sync run students` holds the mapping.
        with store.lock("students"), pytest.raises(LockedError, match=r"'nightly' cannot start"):
            project.run("nightly")
    finally:
        store.close()
    assert project.run("nightly").mappings["students"].created == 1
