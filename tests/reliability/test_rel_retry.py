"""Records Salesforce refuses are kept with their error code, retried on later runs, and land
once the source is fixed (DESIGN §7, §9)."""

from __future__ import annotations

from relfixtures import CliProject, student

from connector.state import OutboxStatus, open_store

# 91 characters: over Contact.LastName's 80, so Salesforce answers STRING_TOO_LONG.
LONG_SURNAME = "Oosterwijkvanderhaagenbroek" * 3 + "Langstraatje"


def _outbox(project: CliProject) -> dict[str, int]:
    store = open_store(f"sqlite:///{project.state_file}")
    try:
        return store.outbox_counts()
    finally:
        store.close()


def test_refused_record_is_failed_retried_and_lands_after_fix(project: CliProject) -> None:
    rows = [student(f"5{i:05d}") for i in range(10)]
    rows[4]["achternaam"] = LONG_SURNAME
    rows[4]["tussenvoegsel"] = ""
    project.write_students(rows)

    first = project.cli("run", "students")
    assert first.returncode == 1, first.stdout + first.stderr
    report = project.last_report()
    students = report["mappings"]["students"]
    assert students["failed"] == 1
    assert students["created"] == 9
    assert students["failures"] == {"STRING_TOO_LONG": 1}
    assert "STRING_TOO_LONG" in first.stdout
    assert _outbox(project).get(OutboxStatus.FAILED.value) == 1
    # Salesforce quotes the value in this error; nothing of it reaches output or report.
    written = first.stdout + first.stderr
    written += "".join(p.read_text(encoding="utf-8") for p in project.report_files())
    assert "Oosterwijk" not in written

    # Not fixed yet: the next run sends it again (and it fails again), the rest is unchanged.
    calls = project.api_calls()
    again = project.cli("run", "students")
    assert again.returncode == 1
    students = project.last_report()["mappings"]["students"]
    assert (students["failed"], students["unchanged"]) == (1, 9)
    assert project.api_calls() == calls + 1

    rows[4]["achternaam"] = "Oosterwijk"
    project.write_students(rows)
    fixed = project.cli("run", "students")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    students = project.last_report()["mappings"]["students"]
    assert (students["created"], students["failed"], students["unchanged"]) == (1, 0, 9)
    [contact] = project.query("SELECT LastName FROM Contact WHERE SIS_Student_Number__c = '500004'")
    assert contact["LastName"] == "Oosterwijk"
    assert len(project.query("SELECT Id FROM Contact")) == 10
    outbox = _outbox(project)
    assert outbox.get(OutboxStatus.FAILED.value, 0) == 0, outbox
    assert outbox.get(OutboxStatus.OK.value) == 10

    calls = project.api_calls()
    quiet = project.cli("run", "students")
    assert quiet.returncode == 0
    assert project.api_calls() == calls
