"""Duplicate keys, Salesforce's refusals and empty exports: never silent, never a value shown."""

from __future__ import annotations

from syncfixtures import registration, student

from connector.sync.engine import EMPTY_EXPORT


def _contacts(project) -> dict[str, dict]:
    rows = project.query("SELECT SIS_Student_Number__c, MailingCity, LastName FROM Contact")
    return {r["SIS_Student_Number__c"]: r for r in rows}


def test_a_key_written_twice_after_normalisation_is_one_student_and_reported(project):
    # " 100011 " and "100011" (and a zero-width space) are one key once normalised: one Contact,
    # the last row's values, and the first row reported with both lines.
    project.write_students(
        [
            student(" 100011 ", woonplaats="Oudewater", email="s100011@school.example"),
            student("100012"),
            student("100011\u200b", woonplaats="Nieuwegein", email="s100011@school.example"),
        ]
    )
    report = project.run("students")
    m = report.mappings["students"]
    assert (m.created, m.rejected) == (2, 1), m.rejects
    [rej] = m.rejects
    assert (rej["line"], rej["column"]) == (2, "studentnummer")
    assert rej["reason"] == "duplicate key: superseded by line 4, which has other values"
    assert report.exit_code() == 1
    contacts = _contacts(project)
    # The external id holds the normalised number, never the invisible character.
    assert set(contacts) == {"100011", "100012"}
    assert contacts["100011"]["MailingCity"] == "Nieuwegein"


def test_rows_that_repeat_a_record_with_the_same_values_are_not_duplicates(project):
    project.write_students([student("100021"), student("100021")])
    report = project.run("students")
    assert report.mappings["students"].rejected == 0 and report.exit_code() == 0


def test_last_wins_mappings_take_the_newest_row_without_a_report(project):
    # registrants: one person on every registration row; the newest row's name is kept.
    project.write_registrations(
        [
            registration("REG-1", "gast@mail.example", voornaam="Oud", evenement_id="OD-1"),
            registration("REG-2", "gast@mail.example", voornaam="Nieuw", evenement_id="OD-2"),
        ]
    )
    report = project.run()
    assert report.mappings["registrants"].rejected == 0, report.summary()
    assert report.exit_code() == 0, report.summary()
    [c] = project.query("SELECT FirstName FROM Contact")
    assert c["FirstName"] == "Nieuw"


def test_a_record_salesforce_refuses_is_listed_with_file_line_and_field(project):
    # The emulator's Contact.LastName holds 80 characters (as Salesforce's): a longer name is
    # refused with STRING_TOO_LONG; the report names file, line and field, never the value.
    long_name = "Achternaam" * 9
    project.write_students([student("100031"), student("100032", achternaam=long_name)])
    report = project.run("students")
    m = report.mappings["students"]
    assert (m.created, m.failed) == (1, 1), report.summary()
    [refusal] = m.refusals
    assert refusal["line"] == 3 and refusal["file"].endswith("studenten.csv")
    assert refusal["fields"] == "LastName"
    assert refusal["reason"] == "salesforce refused: STRING_TOO_LONG"
    assert long_name not in str(report.to_json()) and long_name not in report.summary()
    assert "refused data/studenten.csv:3 [LastName]: salesforce refused: STRING_TOO_LONG" in (
        report.summary()
    )
    # The state's reject list keeps it too (what `status` and the rejects listing read).
    from connector.state import open_existing

    with open_existing(project.settings().state.url) as store:
        rows = store.list_rejects(report.run_id)
    assert [(r.line, r.column, r.reason) for r in rows] == [
        (3, "LastName", "salesforce refused: STRING_TOO_LONG")
    ]


def test_a_header_only_export_warns_and_changes_nothing(project):
    project.write_students([student("100041")])
    assert project.run("students").exit_code() == 0
    project.write_students([])  # the header only
    report = project.run("students")
    m = report.mappings["students"]
    assert m.warnings[EMPTY_EXPORT] == 1
    assert EMPTY_EXPORT in report.summary()
    assert (m.read, m.created, m.updated) == (0, 0, 0)
    assert len(project.query("SELECT Id FROM Contact")) == 1
    # `sis-sync status` says it too, for the admin who reads no run reports.
    from typer.testing import CliRunner

    from connector.cli import app

    status = CliRunner().invoke(
        app, ["--config", str(project.folder / "sync.yaml"), "status"], env=project.env
    )
    assert status.exit_code == 0, status.output
    assert f"students: {EMPTY_EXPORT}" in " ".join(status.output.split())


def test_duplicates_across_batches_are_found_with_the_ledger_on_disk(project, monkeypatch):
    # Batches of two rows and a ledger that moves to disk at once: the duplicate in the third
    # batch is still reported against its first line, and the last row's values land.
    from connector.sync import engine, ledger

    monkeypatch.setattr(engine, "BATCH", 2)
    monkeypatch.setattr(ledger, "MEMORY_KEYS", 1)
    rows = [student(f"10005{i}") for i in range(5)]
    rows.append(student("100051", woonplaats="Zwolle"))
    project.write_students(rows)
    report = project.run("students")
    m = report.mappings["students"]
    assert m.created == 5
    assert [(r["line"], r["reason"]) for r in m.rejects] == [
        (3, "duplicate key: superseded by line 7, which has other values")
    ]
    assert _contacts(project)["100051"]["MailingCity"] == "Zwolle"
