"""Retention that reaches every case (issue 9 item 6), against the emulator, by article.

GDPR art. 5(1)(c) data minimisation and art. 5(1)(e) storage limitation: an ended student with a
consent loses what only the enrolment justified; a student missing from a full export gets a
retention anchor, but a half-size export moves none; OneRoster ``tobedeleted`` ends a record; a
purged prospect stays purged after a mapping edit; a consent purpose without a retention is
refused; validate warns about a purpose that can never be active; the scheduled purge writes a
report and shows in ``status`` with its counts.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from gdprfixtures import emulator, invoke, project_fixture
from syncfixtures import SyncProject, registration, student
from typer.testing import CliRunner

from connector.cli import app
from connector.state import open_store
from connector.state.anchors import export_mark

__all__ = ["emulator"]

project = project_fixture(SyncProject)

ENDED = dict(status="uitgeschreven", status_datum="01-10-2026")


def _store(project: SyncProject):
    return open_store(f"sqlite:///{project.folder / 'state' / 'sync.db'}")


def _contact(project: SyncProject, number: str) -> dict:
    fields = ("Id, LastName, Email, Birthdate, MailingStreet, MailingCity, MailingPostalCode, "
              "Study_Programme__c, Consent_News__c, Consent_News_At__c, Consent_News_Source__c")  # fmt: skip
    rows = project.query(f"SELECT {fields} FROM Contact WHERE SIS_Student_Number__c = '{number}'")
    return rows[0] if rows else {}


def _cli(project: SyncProject, *args: str):
    env = {**project.env}
    return CliRunner().invoke(app, ["--config", str(project.folder / "sync.yaml"), *args], env=env)


def _warnings(report) -> list[str]:
    return [w for w in report.warning_lines() if w.startswith("students:")]


def _no_consent(number: str, **over: str) -> dict[str, str]:
    return student(number, toestemming_nieuws="", toestemming_nieuws_op="",
                   toestemming_nieuws_bron="", toestemming_bellen="", **over)  # fmt: skip


# -- art. 5(1)(c) data minimisation --------------------------------------------------------------


def test_art_5_1_c_an_ended_student_with_a_consent_keeps_only_the_consents_fields(
    project: SyncProject,
) -> None:
    project.env["SIS_SYNC_NOW"] = "2026-10-05T09:00:00+00:00"  # within the month after the end
    project.write_students([student("300001", **ENDED)])
    assert project.run().exit_code() == 0
    before = _contact(project, "300001")
    assert before["Email"] and before["Birthdate"] and before["MailingStreet"]
    assert before["Consent_News__c"] is True

    project.env["SIS_SYNC_NOW"] = "2026-11-20T09:00:00+00:00"  # end + P1M has passed
    preview = invoke(project, "purge")
    assert preview.exit_code == 0, preview.output
    assert "Would clear" in preview.output and before["Id"] in preview.output
    assert "Email" in preview.output and "enrolment: lifecycle_end + P1M" in preview.output
    assert _contact(project, "300001")["Email"] == before["Email"]  # a dry run clears nothing

    result = invoke(project, "purge", "--apply")

    assert result.exit_code == 0, result.output
    after = _contact(project, "300001")
    assert after["Id"] == before["Id"]  # the person stays: the news consent still holds
    for gone in ("Email", "Birthdate", "MailingStreet", "MailingCity", "MailingPostalCode",
                 "Study_Programme__c"):  # fmt: skip
        assert after[gone] is None, gone
    assert after["LastName"] == before["LastName"]  # required: Salesforce refuses it empty
    for kept in ("Consent_News__c", "Consent_News_At__c", "Consent_News_Source__c"):
        assert after[kept] == before[kept], kept
    with _store(project) as store:
        audit = [e for _, e in store.audit_log() if e.action == "minimise"]
        assert [e.sf_id for e in audit] == [before["Id"]]
        assert "Email" in audit[0].reason and before["Email"] not in audit[0].reason
    # A later run of the same export does not bring the cleared fields back.
    assert project.run().exit_code() == 0
    assert _contact(project, "300001")["Email"] is None
    assert "nothing has expired" in invoke(project, "purge").output


# -- art. 5(1)(e) storage limitation -------------------------------------------------------------


def test_art_5_1_e_a_student_missing_from_a_full_export_gets_an_anchor(
    project: SyncProject,
) -> None:
    rows = [_no_consent(f"31{i:04d}") for i in range(10)]
    project.write_students(rows)
    assert project.run().exit_code() == 0
    gone = _contact(project, "310009")["Id"]
    stays = _contact(project, "310000")["Id"]
    assert "nothing has expired" in invoke(project, "purge", "--as-of", "2027-01-01").output

    project.env["SIS_SYNC_NOW"] = "2026-11-21T09:00:00+00:00"
    project.write_students(rows[:9])  # 90 %: passes min_export_ratio
    report = project.run()
    assert report.exit_code() == 0 and not _warnings(report), _warnings(report)

    # Ended on the day last seen (2026-11-20): enrolment keeps it a month, then it goes.
    assert gone not in invoke(project, "purge", "--as-of", "2026-12-20").output
    later = invoke(project, "purge", "--as-of", "2026-12-21")
    assert gone in later.output and stays not in later.output
    # Back in the export: no longer gone.
    project.env["SIS_SYNC_NOW"] = "2026-11-22T09:00:00+00:00"
    project.write_students(rows)
    assert project.run().exit_code() == 0
    assert gone not in invoke(project, "purge", "--as-of", "2026-12-21").output


def test_art_5_1_e_a_half_size_export_moves_no_anchor_and_warns(project: SyncProject) -> None:
    rows = [_no_consent(f"32{i:04d}") for i in range(10)]
    project.write_students(rows)
    assert project.run().exit_code() == 0
    missing = _contact(project, "320009")["Id"]

    project.env["SIS_SYNC_NOW"] = "2026-11-21T09:00:00+00:00"
    project.write_students(rows[:5])  # a truncated export
    report = project.run()

    assert any("min_export_ratio" in w for w in _warnings(report)), report.summary()
    with _store(project) as store:
        mark = export_mark(store, "students")
        assert mark is not None and mark.rows == 10  # the reference did not move
    # Nobody counts as gone: nothing expires even long after.
    assert missing not in invoke(project, "purge", "--as-of", "2027-06-01").output
    # A job may lower the ratio (sync.yaml); then the same export passes.
    path = project.folder / "sync.yaml"
    path.write_text(
        path.read_text().replace('cron: "0 4 * * *"}', 'cron: "0 4 * * *", min_export_ratio: 0.5}')
    )
    project.env["SIS_SYNC_NOW"] = "2026-11-22T09:00:00+00:00"
    assert not _warnings(project.run())
    assert "students (Contact): 5 - " in invoke(project, "purge", "--as-of", "2027-06-01").output


def _oneroster(project: SyncProject, mode: str, rows: list[str]) -> None:
    folder = project.folder / "data" / "oneroster"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.csv").write_text(
        "propertyName,value\nmanifest.version,1.0\noneroster.version,1.1\n"
        f"file.users,{mode}\nfile.enrollments,absent\nfile.orgs,absent\n"
        "file.classes,absent\nfile.academicSessions,absent\n"
    )
    head = ("sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,"
            "givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,"
            "password")  # fmt: skip
    (folder / "users.csv").write_text(head + "\n" + "\n".join(rows) + "\n")


def _user(n: str, status: str = "") -> str:
    mod = "2026-11-20" if status else ""
    return (f"usr-{n},{status},{mod},true,org-1,student,u{n},,Sanne,Vries,,{n},"
            f"u{n}@school.example,,,,12,")  # fmt: skip


def test_art_5_1_e_oneroster_tobedeleted_anchors_an_end(project: SyncProject) -> None:
    _oneroster(project, "bulk", [_user("330001"), _user("330002")])
    assert project.run("oneroster_users").exit_code() == 0
    with _store(project) as store:
        assert all(r.lifecycle_end_at is None
                   for r in store.lookup("oneroster_users", _keys(store)).values())  # fmt: skip

    project.env["SIS_SYNC_NOW"] = "2026-11-21T09:00:00+00:00"
    _oneroster(project, "delta", [_user("330002", "tobedeleted")])
    report = project.run("oneroster_users")

    assert report.mappings["oneroster_users"].source_deleted == 1
    with _store(project) as store:
        rows = store.lookup("oneroster_users", _keys(store))
        ended = {r.lifecycle_end_at.date() for r in rows.values() if r.lifecycle_end_at}
        assert ended == {date(2026, 11, 21)} and len(rows) == 2
    contact = project.query("SELECT Id FROM Contact WHERE SIS_Student_Number__c = '330002'")[0]
    assert contact["Id"] in invoke(project, "purge", "--as-of", "2026-12-22").output


def _keys(store) -> list[str]:
    import sqlalchemy as sa

    with store._db.engine.connect() as conn:
        return list(conn.execute(sa.text("SELECT key_hash FROM synced")).scalars())


def test_art_5_1_e_a_purged_prospect_stays_purged_after_a_mapping_edit(
    project: SyncProject,
) -> None:
    visitor = "vera.p@bezoeker.example"
    project.write_registrations([registration("R-000001", visitor)])
    assert project.run().exit_code() == 0
    project.env["SIS_SYNC_NOW"] = "2027-03-14T09:00:00+00:00"  # event + P3M has passed
    assert invoke(project, "purge", "--apply").exit_code == 0
    assert not project.query(f"SELECT Id FROM Contact WHERE Email = '{visitor}'")

    # The integrator edits the mapping: every row is mapped again, with a new record hash.
    path = project.folder / "mappings" / "registrants.yaml"
    path.write_text(path.read_text().replace("{value: Open dag,", "{value: Open dag 2026,"))
    report = project.run()

    assert report.exit_code() == 0, report.summary()
    assert not project.query(f"SELECT Id FROM Contact WHERE Email = '{visitor}'")
    assert report.mappings["registrants"].created == 0


def test_art_5_1_e_a_consent_purpose_without_retention_is_refused(project: SyncProject) -> None:
    path = project.folder / "mappings" / "purposes.yaml"
    text = path.read_text()
    start = text.index("  recruitment_news:")
    cut = text.index("    retention: {after: consent_withdrawn, keep: P1M}", start)
    path.write_text(text[:cut] + text[cut:].split("\n", 1)[1])

    result = _cli(project, "validate")

    assert result.exit_code == 2, result.output
    assert "mappings/purposes.yaml:" in result.output
    assert "purposes.recruitment_news" in result.output and "retention" in result.output


def test_validate_warns_about_a_purpose_never_active_for_a_mapping(project: SyncProject) -> None:
    purposes = project.folder / "mappings" / "purposes.yaml"
    purposes.write_text(purposes.read_text().replace("\npurposes:\n", (
        "\npurposes:\n  prospect_followup:\n    lawful_basis: legitimate_interest\n"
        "    active_in: [prospect]\n    retention: {after: last_seen, keep: P1Y}\n"), 1))  # fmt: skip
    students = project.folder / "mappings" / "students.yaml"
    students.write_text(students.read_text().replace(
        "  Birthdate:", "  Description: {from: opleiding, purposes: [prospect_followup]}\n"
        "  Birthdate:", 1))  # fmt: skip

    result = _cli(project, "validate")

    assert result.exit_code == 0, result.output
    assert "warning:" in result.output
    assert "'prospect_followup' is never active for mapping 'students'" in result.output
    assert "fields.Description.purposes" in result.output


def test_the_scheduled_purge_writes_a_report_and_shows_in_status(project: SyncProject) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "service"))
    from svcfixtures import make_service

    project.env["SIS_SYNC_NOW"] = "2026-10-05T09:00:00+00:00"
    project.write_students([student("340001", **ENDED), _no_consent("340002", **ENDED)])
    project.write_registrations([registration("R-000001", "kees.v@bezoeker.example")])
    assert project.run().exit_code() == 0
    project.env["SIS_SYNC_NOW"] = "2027-03-14T09:00:00+00:00"
    service = make_service(project)

    result = service.run_now("purge")

    assert result.status == "ok", result
    assert "purged" in result.message and "fields cleared" in result.message
    reports = sorted(project.settings().reports_dir().glob("purge-*.json"))
    assert len(reports) == 1
    data = json.loads(reports[0].read_text())
    assert data["persons"] == 2 and data["minimised"]["records"] == 1
    assert "340001" not in reports[0].read_text() and "bezoeker" not in reports[0].read_text()
    status = _cli(project, "status", "--json")
    run = json.loads(status.stdout)["runs"][0]
    assert run["job"] == "purge" and run["counts"]["deleted"] == data["deleted"] > 0
    assert run["counts"]["minimised"] == 1
    text = _cli(project, "status").stdout
    line = next(ln for ln in text.splitlines() if " purge " in ln)
    assert f" {data['deleted'] + 1} " in line  # written: deleted + minimised, not 0
    assert "report: " in text and "purge-" in text
