"""`state rebuild` finds the records that left their export before the state was lost.

A rebuild matches the org by the rows the exports hold today; without this pass a student who
left the export before the loss was never in state again, and the retention purge never
cleared their Contact (connector/sync/rebuild_adopt.py). Emulator and real client.
"""

from __future__ import annotations

import shutil

from syncfixtures import SECRET, SyncProject, registration, student

from connector.commands.mapping import DEFAULTS
from connector.gdpr.purge_job import run_purge
from connector.hashing import KeyHasher
from connector.mapping import load_project
from connector.mapping.carriers import key_in_external_id
from connector.state import open_existing
from connector.sync.job import run_job
from connector.sync.rebuild import rebuild_state

REBUILT = "2026-12-01T09:00:00+00:00"
NIGHT_AFTER = "2026-12-02T02:00:00+00:00"
TWO_MONTHS_ON = "2027-02-03T09:00:00+00:00"  # after the rebuild + enrolment's P1M
WRITE_VERBS = ("POST sobjects", "PATCH", "PUT", "DELETE", "POST composite", "POST jobs")

# Six students; four leave the export. Two of those four gave the news consent.
STAYING = ["400001", "400002"]
LEFT_WITH_CONSENT = ["400003", "400004"]
LEFT_WITHOUT = ["400005", "400006"]


def _students(numbers: list[str]) -> list[dict[str, str]]:
    ja = set(STAYING) | set(LEFT_WITH_CONSENT)
    return [
        student(n, toestemming_nieuws="ja" if n in ja else "nee", toestemming_bellen="nee")
        for n in numbers
    ]


def _contacts(project: SyncProject) -> dict[str, dict]:
    rows = project.query(
        "SELECT Id, SIS_Student_Number__c, Birthdate, MailingCity, Consent_News__c FROM Contact"
        " WHERE SIS_Student_Number__c != null"
    )
    return {r["SIS_Student_Number__c"]: r for r in rows}


def _left_then_lost(project: SyncProject) -> dict[str, dict]:
    everyone = STAYING + LEFT_WITH_CONSENT + LEFT_WITHOUT
    project.write_students(_students(everyone))
    project.write_registrations([registration("REG-000001", "bezoeker@mail.example")])
    assert project.run().exit_code() == 0
    project.write_students(_students(STAYING))  # four leave the school's export
    assert project.run().exit_code() == 0
    contacts = _contacts(project)
    shutil.rmtree(project.folder / "state")  # … and the state is lost
    return contacts


def test_students_who_left_before_the_loss_are_adopted_and_purged(project: SyncProject) -> None:
    contacts = _left_then_lost(project)
    before = project.emulator.stats()

    result = rebuild_state(project.settings(SIS_SYNC_NOW=REBUILT), job="nightly")

    assert result.exit_code() == 0, result.summary()
    writes = {
        k: n - before["requests"].get(k, 0)
        for k, n in project.emulator.stats()["requests"].items()
        if k.startswith(WRITE_VERBS) and n != before["requests"].get(k, 0)
    }
    assert writes == {}  # the pass only reads
    adopted = {a.mapping: set(a.sf_ids) for a in result.adopted if a.sf_ids}
    gone = {contacts[n]["Id"] for n in LEFT_WITH_CONSENT + LEFT_WITHOUT}
    assert adopted == {"students": gone}
    assert "adopted without a written row: students 4 left their export." in result.summary()
    assert result.list_file is not None
    listed = result.list_file.read_text()
    assert all(i in listed for i in gone) and "400003" not in listed  # Ids, never a value
    store = open_existing(project.settings().state.url)
    try:
        hasher = KeyHasher(SECRET)
        student_hash = hasher.key("student", "400003")
        person = store.find_persons(student_hashes=[student_hash]).by_student[student_hash]
        assert person.sf_id == contacts["400003"]["Id"]  # erasure and export find them too
    finally:
        store.close()

    # The next run writes nothing (the adopted records are in no export) …
    calls = project.api_calls()
    night = run_job(project.settings(SIS_SYNC_NOW=NIGHT_AFTER), job="nightly")
    assert night.exit_code() == 0
    assert night.totals()["created"] + night.totals()["updated"] == 0
    assert project.api_calls() - calls <= 2  # the CRM's opt-out reads at most, no write

    # … and a month after the rebuild the purge does what the lost state would have done.
    outcome = run_purge(
        project.settings(SIS_SYNC_NOW=TWO_MONTHS_ON), apply=True, hasher=KeyHasher(SECRET)
    )
    assert outcome.exit_code == 0
    after = _contacts(project)
    assert set(after) == set(STAYING + LEFT_WITH_CONSENT)  # no consent: the Contact is gone
    for n in LEFT_WITH_CONSENT:  # a consent keeps the person, not their enrolment fields
        assert after[n]["Consent_News__c"] is True
        assert after[n]["Birthdate"] is None and after[n]["MailingCity"] is None
    for n in STAYING:
        assert after[n] == contacts[n]


def test_the_students_still_in_the_export_are_not_adopted(project: SyncProject) -> None:
    # Rows the rebuild could not record (here: changed in the org) are in the export: the next
    # run writes them; they never count as left.
    project.write_students(_students(STAYING))
    assert project.run().exit_code() == 0
    sf_id = _contacts(project)["400001"]["Id"]
    project.emulator.client().Contact.update(sf_id, {"MailingCity": "Elders"})
    shutil.rmtree(project.folder / "state")

    result = rebuild_state(project.settings(SIS_SYNC_NOW=REBUILT), job="nightly")

    assert result.exit_code() == 0, result.summary()
    assert result.report.mappings["students"].failures == {"REBUILD_DIFFERS": 1}
    assert [a for a in result.adopted if a.sf_ids] == []
    assert "adopted without a written row" not in result.summary()


def test_only_mappings_whose_external_id_gives_back_the_key_are_searched() -> None:
    project = load_project(DEFAULTS / "mappings")  # the shipped mappings
    searched = {n: key_in_external_id(s) for n, s in project.mappings.items()}
    assert searched["students"] and searched["registrants"] and searched["registrations"]
    # SIS_Student_Number__c is mapped from `identifier`, the key is `sourcedId`.
    assert not searched["oneroster_users"]


def test_a_mapping_sharing_its_external_id_with_another_in_use_is_not_searched(
    project: SyncProject,
) -> None:
    # oneroster_users writes Contact.SIS_Student_Number__c too: once its export exists, a
    # Contact in neither export could be either mapping's, so students adopts nothing.
    _left_then_lost(project)
    (project.folder / "data" / "oneroster").mkdir()

    result = rebuild_state(project.settings(SIS_SYNC_NOW=REBUILT), job="nightly")

    assert result.exit_code() == 0, result.summary()
    assert [a.mapping for a in result.adopted if a.sf_ids] == []
    assert (
        "not searched for records that left: students (mapping oneroster_users writes "
        "Contact.SIS_Student_Number__c too" in result.summary()
    )


def test_a_record_whose_row_no_purpose_justifies_any_more_is_adopted_too(
    project: SyncProject,
) -> None:
    # Unenrolled on 1 September: written by a run in September, no longer justified a month
    # later. Its row stays in the export, so the rebuild maps it and writes nothing for it:
    # without adoption the state lost it for good and the purge never deleted its Contact.
    ended = student(
        "400009", status="uitgeschreven", toestemming_nieuws="nee", toestemming_bellen="nee"
    )
    project.write_students([*_students(STAYING), ended])
    september = project.settings(SIS_SYNC_NOW="2026-09-15T09:00:00+00:00")
    assert run_job(september, job="nightly").exit_code() == 0
    gone = _contacts(project)["400009"]["Id"]
    assert project.run().exit_code() == 0
    shutil.rmtree(project.folder / "state")

    result = rebuild_state(project.settings(SIS_SYNC_NOW=REBUILT), job="nightly")

    assert result.exit_code() == 0, result.summary()
    [students] = [a for a in result.adopted if a.mapping == "students"]
    assert students.sf_ids == [gone] and students.in_export == [gone]
    assert "students 1 still in it, unwritten" in result.summary()
    assert run_job(project.settings(SIS_SYNC_NOW=NIGHT_AFTER), job="nightly").exit_code() == 0
    outcome = run_purge(
        project.settings(SIS_SYNC_NOW=TWO_MONTHS_ON), apply=True, hasher=KeyHasher(SECRET)
    )
    assert outcome.exit_code == 0
    assert set(_contacts(project)) == set(STAYING)


def test_a_record_whose_row_became_unreadable_takes_its_phase_from_the_org(
    project: SyncProject,
) -> None:
    # Unenrolled on 20 November and written so; then the export garbles its status (the row is
    # rejected every night, its record still "seen"). The lost state knew it ended from that
    # write; the rebuild reads the phase back from the status the org holds, and the purge
    # deletes it as the lost state would have.
    ended = student(
        "400011", status="uitgeschreven", status_datum="20-11-2026",
        toestemming_nieuws="nee", toestemming_bellen="nee",
    )  # fmt: skip
    project.write_students([*_students(STAYING), ended])
    assert project.run().exit_code() == 0
    gone = _contacts(project)["400011"]["Id"]
    project.write_students([*_students(STAYING), dict(ended, status="onbekend")])
    later = project.settings(SIS_SYNC_NOW="2026-11-25T09:00:00+00:00")
    assert run_job(later, job="nightly").mappings["students"].rejected == 1
    shutil.rmtree(project.folder / "state")

    result = rebuild_state(project.settings(SIS_SYNC_NOW=REBUILT), job="nightly")

    [students] = [a for a in result.adopted if a.mapping == "students"]
    assert students.in_export == [gone]
    run_job(project.settings(SIS_SYNC_NOW=NIGHT_AFTER), job="nightly")
    run_purge(project.settings(SIS_SYNC_NOW=TWO_MONTHS_ON), apply=True, hasher=KeyHasher(SECRET))
    assert set(_contacts(project)) == set(STAYING)
