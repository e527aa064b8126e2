"""Opt-outs against the emulator (GDPR art. 7(3); DESIGN §6 "The CRM owns opt-outs").

A withdrawal sets the purpose's opt-out field; an opt-out staff set in the CRM survives every
sync; a newer opt-in with proof is reported to staff as ``opt_out_conflict`` (and lifts the
opt-out only where the purpose says ``opt_in_lifts_opt_out: true`` and the opt-in is newer than
the Contact's last change); a mapped ``opt_out: true`` field is sent when true.
"""

from __future__ import annotations

import csv
from pathlib import Path

from syncfixtures import SyncProject, registration, student

from connector.demo import STUDENT_COLUMNS
from connector.state import open_store
from connector.sync.job import run_job

NUMBER = "700001"
ANSWER = "toestemming_nieuws_bron\n"


def _opt_out(project: SyncProject, *, lifts: bool = False) -> None:
    """recruitment_news names HasOptedOutOfEmail as its opt-out field."""
    path = project.folder / "mappings" / "purposes.yaml"
    # The shipped purposes.yaml names it already (elsewhere in the block): once is enough.
    text = path.read_text(encoding="utf-8").replace("      opt_out: HasOptedOutOfEmail\n", "")
    extra = "      opt_out: HasOptedOutOfEmail\n"
    if lifts:
        extra += "      opt_in_lifts_opt_out: true\n"
    assert text.count("source: " + ANSWER) == 1
    path.write_text(text.replace("source: " + ANSWER, "source: " + ANSWER + extra), "utf-8")


def _contact(project: SyncProject) -> dict:
    rows = project.query(
        "SELECT Id, LastName, HasOptedOutOfEmail, Consent_News__c FROM Contact "
        f"WHERE SIS_Student_Number__c = '{NUMBER}'"
    )
    assert len(rows) == 1
    return rows[0]


def _rejects(project: SyncProject) -> list:
    with open_store(f"sqlite:///{project.folder / 'state' / 'sync.db'}") as store:
        run_id = store.recent_runs(1)[0].run_id
        return store.list_rejects(run_id)


def test_art7_3_withdrawal_sets_has_opted_out_of_email(project: SyncProject) -> None:
    _opt_out(project)
    project.write_students([student(NUMBER)])
    project.run()
    assert _contact(project)["HasOptedOutOfEmail"] is not True
    assert _contact(project)["Consent_News__c"] is True

    project.write_students(
        [student(NUMBER, toestemming_nieuws="nee", toestemming_nieuws_op="2026-11-01T09:00:00Z")]
    )
    project.run()

    contact = _contact(project)
    assert contact["HasOptedOutOfEmail"] is True
    assert (
        contact["Consent_News__c"] is not True
    )  # the consent itself is cleared (a checkbox: false)
    assert contact["LastName"]  # the person stays


def test_art7_3_staff_opt_out_survives_and_a_newer_opt_in_is_a_conflict(
    project: SyncProject,
) -> None:
    _opt_out(project, lifts=True)  # lifting allowed, but the opt-in is older than the change
    project.write_students([student(NUMBER)])
    project.run()
    client = project.emulator.client()
    client.Contact.update(_contact(project)["Id"], {"HasOptedOutOfEmail": True})  # staff

    # A newer explicit opt-in with proof, dated before the Contact's last change in Salesforce.
    again = student(NUMBER, toestemming_nieuws_op="2026-11-19T09:00:00Z")
    project.write_students([again])
    report = project.run()

    assert _contact(project)["HasOptedOutOfEmail"] is True  # never lifted by a sync
    assert _contact(project)["Consent_News__c"] is True
    assert report.exit_code() == 0  # written; a conflict is for staff, not a failed record
    assert any("opt_out_conflict" in w for w in report.warning_lines())
    conflicts = [r for r in _rejects(project) if r.reason.startswith("opt_out_conflict")]
    assert [(r.column, r.line) for r in conflicts] == [("HasOptedOutOfEmail", 2)]
    assert NUMBER not in conflicts[0].reason
    # The report lists the row as written, for staff to settle, not as a rejected row.
    m = report.mappings["students"]
    assert m.rejects == [] and m.rejected == 0
    assert [(c["line"], c["column"]) for c in m.conflicts] == [(2, "HasOptedOutOfEmail")]
    assert "written, to settle " in report.summary() and "rejected " not in report.summary()

    # Reported again on the next run (the row is not remembered) until staff settle it.
    project.run()
    assert [r.reason for r in _rejects(project) if r.reason.startswith("opt_out_conflict")]
    assert _contact(project)["HasOptedOutOfEmail"] is True


def test_an_opt_out_staff_set_after_the_opt_in_was_written_is_their_newer_word(
    project: SyncProject,
) -> None:
    """The row still brings the opt-in the Contact was written with: nothing new to the CRM.
    Another change of the row (a new address) writes it without reading the CRM's opt-outs and
    reports no conflict; a new opt-in (another capture moment) reads them again."""
    _opt_out(project, lifts=True)
    project.write_students([student(NUMBER)])
    project.run()
    client = project.emulator.client()
    client.Contact.update(_contact(project)["Id"], {"HasOptedOutOfEmail": True})  # staff

    project.write_students([student(NUMBER, woonplaats="Amersfoort")])
    before = project.api_calls()
    report = project.run()
    assert project.api_calls() - before == 1  # the update; no SOQL read of the opt-outs
    assert not [r for r in _rejects(project) if r.reason.startswith("opt_out_conflict")]
    assert _contact(project)["HasOptedOutOfEmail"] is True
    assert report.exit_code() == 0

    # Withdrawn, then given again: a new opt-in, read against the CRM and reported.
    project.write_students([student(NUMBER, woonplaats="Amersfoort", toestemming_nieuws="nee")])
    project.run()
    again = student(NUMBER, woonplaats="Amersfoort", toestemming_nieuws_op="2026-11-19T09:00:00Z")
    project.write_students([again])
    project.run()
    conflicts = [r for r in _rejects(project) if r.reason.startswith("opt_out_conflict")]
    assert [(r.column, r.line) for r in conflicts] == [("HasOptedOutOfEmail", 2)]
    assert _contact(project)["HasOptedOutOfEmail"] is True


def test_art7_3_a_newer_opt_in_lifts_the_opt_out_only_where_the_purpose_says_so(
    project: SyncProject,
) -> None:
    later = {"SIS_SYNC_NOW": "2027-06-01T09:00:00+00:00"}
    newer = student(NUMBER, toestemming_nieuws_op="2027-05-01T09:00:00Z")  # after the change

    for lifts, expected in ((False, True), (True, False)):
        project.emulator.reset()
        (project.folder / "state" / "sync.db").unlink(missing_ok=True)
        if lifts:
            _opt_out(project, lifts=True)
        else:
            _opt_out(project)
        project.write_students([student(NUMBER)])
        project.run()
        client = project.emulator.client()
        client.Contact.update(_contact(project)["Id"], {"HasOptedOutOfEmail": True})
        project.write_students([newer])
        run_job(project.settings(**later), job="nightly")
        assert _contact(project)["HasOptedOutOfEmail"] is expected, lifts
        path = project.folder / "mappings" / "purposes.yaml"
        path.write_text(
            path.read_text("utf-8")
            .replace("      opt_out: HasOptedOutOfEmail\n", "")
            .replace("      opt_in_lifts_opt_out: true\n", ""),
            "utf-8",
        )


def _students_with_opt_out_column(project: SyncProject, rows: list[dict]) -> None:
    path = project.folder / "data" / "studenten.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.DictWriter(fh, [*STUDENT_COLUMNS, "afmelding"], delimiter=";")
        w.writeheader()
        w.writerows(rows)


def test_a_mapped_opt_out_true_field_is_sent(project: SyncProject) -> None:
    mapping: Path = project.folder / "mappings" / "students.yaml"
    mapping.write_text(
        mapping.read_text("utf-8")
        + "  HasOptedOutOfEmail: {from: afmelding, opt_out: true, purposes: [enrolment]}\n",
        "utf-8",
    )
    _students_with_opt_out_column(project, [{**student(NUMBER), "afmelding": "nee"}])
    project.run()
    assert _contact(project)["HasOptedOutOfEmail"] is not True

    _students_with_opt_out_column(project, [{**student(NUMBER), "afmelding": "ja"}])
    project.run()
    assert _contact(project)["HasOptedOutOfEmail"] is True

    # One-way: the source saying "nee" again never lifts it.
    _students_with_opt_out_column(project, [{**student(NUMBER), "afmelding": "nee"}])
    project.run()
    assert _contact(project)["HasOptedOutOfEmail"] is True


def test_a_row_that_is_never_written_does_not_read_the_crms_opt_outs(
    project: SyncProject,
) -> None:
    """A student row no purpose justifies (left the school long ago) of a person the org knows
    (their open-day registration's Contact) opts in to the news: it is never written, so its
    opt-in meets nothing in the CRM. Such rows are mapped on every run (not remembered); their
    reads were 15 of the 29 queries of an unchanged nightly of the 20,000-student demo."""
    email = f"s{NUMBER}@school.example"
    project.write_registrations([registration("R-700001", email)])
    project.write_students([student(NUMBER, status="uitgeschreven", status_datum="01-01-2025")])
    first = project.run("registrants")
    assert first.mappings["registrants"].created == 1, first.summary()
    before = project.emulator.stats()["requests"].get("GET query", 0)
    report = project.run("students")
    assert report.exit_code() == 0, report.summary()
    assert report.mappings["students"].not_justified == 1, report.summary()
    assert project.emulator.stats()["requests"].get("GET query", 0) == before
