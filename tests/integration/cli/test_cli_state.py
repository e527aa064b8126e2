"""`sis-sync state rebuild` and `sis-sync state copy` through the real command line."""

from __future__ import annotations

import shutil

import pytest
from relfixtures import CliProject, fresh_pg_database, registration, student

STUDENT_NUMBER = "90817263"
SURNAME = "Zwanenburgh"


def _data(project: CliProject) -> None:
    rows = [student(f"5{i:07d}") for i in range(4)]
    rows.append(student(STUDENT_NUMBER, achternaam=SURNAME, tussenvoegsel=""))
    project.write_students(rows)
    project.write_registrations(
        [registration(f"REG-{i:06d}", f"cli{i}@mail.example") for i in range(3)]
    )


def test_rebuild_after_a_lost_state_then_run_writes_nothing(project: CliProject) -> None:
    _data(project)
    assert project.cli("run", "nightly").returncode == 0
    # A record the org no longer holds: listed by file and line, never by value.
    [gone] = project.query(
        f"SELECT Id FROM Contact WHERE SIS_Student_Number__c = '{STUDENT_NUMBER}'"
    )
    project.emulator.client().Contact.delete(gone["Id"])
    shutil.rmtree(project.state_dir)

    result = project.cli("state", "rebuild", "nightly")

    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "nothing was written to Salesforce" in out
    assert "students  data/studenten.csv:6  not in the org" in out
    assert STUDENT_NUMBER not in out and SURNAME not in out

    run = project.cli("run", "nightly")
    assert run.returncode == 0, run.stdout + run.stderr
    report = project.last_report()
    written = {
        name: m["created"] + m["updated"]
        for name, m in report["mappings"].items()
        if m["created"] + m["updated"]
    }
    # Only the Contact the org lost, and its consent-model records: they are keyed by the
    # Contact's Id, which is new (an Individual, and its two purposes' consents).
    assert written == {
        "students": 1,
        "consent:individual": 1,
        "consent:phone_contact": 1,
        "consent:recruitment_news": 1,
    }
    calls = project.api_calls()
    assert project.cli("run", "nightly").returncode == 0
    assert project.api_calls() == calls


def test_rebuild_refuses_a_state_with_records_exit_2_unless_forced(project: CliProject) -> None:
    _data(project)
    assert project.cli("run", "nightly").returncode == 0

    refused = project.cli("state", "rebuild", "nightly")
    assert refused.returncode == 2
    assert "already holds records of" in refused.stderr

    forced = project.cli("state", "rebuild", "nightly", "--force")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert "--force: state already held records" in forced.stdout


def test_rebuild_without_the_secret_is_a_configuration_error(project: CliProject) -> None:
    result = project.cli("state", "rebuild", SIS_SYNC_SECRET=None)
    assert result.returncode == 2
    assert not project.state_dir.exists()


@pytest.mark.postgres
def test_copy_to_postgresql_then_a_run_on_the_copy_writes_nothing(project: CliProject) -> None:
    _data(project)
    assert project.cli("run", "nightly").returncode == 0

    with fresh_pg_database("sis_sync_copy") as pg_url:
        copied = project.cli("state", "copy", "--to", pg_url)
        out = copied.stdout + copied.stderr
        assert copied.returncode == 0, out
        assert "copied and verified" in out
        assert "synced" in out and "runs" in out

        again = project.cli("state", "copy", "--to", pg_url)
        assert again.returncode == 2
        assert "already holds sis-sync state" in again.stderr

        calls = project.api_calls()
        shutil.rmtree(project.state_dir)  # the copy is all there is now
        run = project.cli("run", "nightly", SIS_SYNC_STATE__URL=pg_url)
        assert run.returncode == 0, run.stdout + run.stderr
        assert project.api_calls() == calls
        assert not project.state_file.exists()
        assert "create 0, update 0" in run.stdout


def test_a_run_on_a_lost_state_rebuilds_it_first_and_the_student_joins_the_visitor(
    project: CliProject,
) -> None:
    """An outsider's F5: with the state lost, a student who had been an open-day visitor got
    a second Contact (state no longer knew the visitor's person to join by e-mail), and her
    registration, matching the student by e-mail, failed on every run with DUPLICATE_VALUE.
    A run on a state that holds nothing while the org holds the job's records rebuilds it
    from the org first (sync/recovery.py)."""
    mail = "bezoeker.f5@mail.example"
    project.write_registrations([registration("REG-000905", mail)])
    assert project.cli("run", "registrants").returncode == 0
    shutil.rmtree(project.state_dir)
    project.write_students([student("59000905", email=mail)])

    run = project.cli("run", "nightly")

    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    assert "sis-sync state rebuild · job nightly · nothing was written to Salesforce" in out
    contacts = project.query(
        f"SELECT Id, SIS_Student_Number__c FROM Contact WHERE Email = '{mail}'"
    )
    assert [c["SIS_Student_Number__c"] for c in contacts] == ["59000905"]
    report = project.last_report()
    assert not any(m["failed"] for m in report["mappings"].values()), report["mappings"]
    again = project.cli("run", "nightly")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "state rebuild" not in again.stdout  # a state that holds records is not rebuilt


def test_a_first_load_into_an_empty_org_rebuilds_nothing(project: CliProject) -> None:
    _data(project)
    plan = project.cli("plan", "nightly")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "note: the state has never sent anything." in plan.stdout  # the run will ask
    before = project.emulator.stats()
    run = project.cli("run", "nightly")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "state rebuild" not in run.stdout
    report = project.last_report()
    assert report["rebuild"] is False
    # The lost-state check's log-in serves the run: one token, and its query is one of the
    # run's API calls (it was a log-in and a call of its own).
    after = project.emulator.stats()
    tokens = after["requests"]["POST oauth2/token"] - before["requests"].get("POST oauth2/token", 0)
    assert tokens == 1
    assert report["api_calls"] == after["api_calls"] - before["api_calls"]


def _lost_visitor_state(project: CliProject, mail: str, number: str) -> None:
    project.write_registrations([registration("REG-000910", mail)])
    assert project.cli("run", "registrants").returncode == 0
    shutil.rmtree(project.state_dir)
    project.write_students([student(number, email=mail)])


def test_plan_on_a_lost_state_says_the_run_may_rebuild_it_first(project: CliProject) -> None:
    """A plan writes nothing, state included, and asks Salesforce nothing, so it plans a lost
    state without the rebuild a run does first: every record as if sent anew. It says so,
    instead of letting an admin who restored a server read that as what the run will do."""
    _lost_visitor_state(project, "bezoeker.plan@mail.example", "59000912")
    before = project.emulator.stats()["api_calls"]

    plan = project.cli("plan", "nightly")

    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "note: the state has never sent anything. If the org already holds" in plan.stdout
    assert "`sis-sync run` first rebuilds the state from the org" in plan.stdout
    assert not project.state_dir.exists()  # still nothing written
    assert project.emulator.stats()["api_calls"] == before  # nor asked
    assert project.cli("run", "nightly").returncode == 0
    again = project.cli("plan", "nightly")
    assert "rebuild" not in again.stdout


@pytest.mark.parametrize("first", ["unreachable", "purge"])
def test_a_failed_run_or_a_purge_first_does_not_hide_a_lost_state(
    project: CliProject, first: str
) -> None:
    """A second outsider: a run that could not reach Salesforce (exit 3), or the shipped purge
    job (03:30, before the nightly), recorded a run on the lost state, and the check, which
    then asked "did this state ever run?", let the nightly sync without a rebuild: the visitor
    who became a student got a second Contact again. What counts is whether the state ever
    sent anything (a record, an outbox row)."""
    mail = "bezoeker.f5b@mail.example"
    _lost_visitor_state(project, mail, "59000910")
    if first == "unreachable":
        down = project.cli("run", "nightly", SIS_SYNC_SALESFORCE__URL="https://127.0.0.1:9")
        assert down.returncode == 3, down.stdout + down.stderr
    else:
        assert project.cli("purge", "--apply").returncode == 0

    run = project.cli("run", "nightly")

    assert run.returncode == 0, run.stdout + run.stderr
    assert "nothing was written to Salesforce" in run.stdout
    contacts = project.query(f"SELECT SIS_Student_Number__c FROM Contact WHERE Email = '{mail}'")
    assert [c["SIS_Student_Number__c"] for c in contacts] == ["59000910"]


def test_a_rebuild_that_stops_syncs_nothing_and_the_next_run_resumes_it(
    project: CliProject,
) -> None:
    """The daily API share used up half-way through the rebuild: the run stops there (exit 1,
    the rebuild's summary shown), writes nothing on the half-rebuilt state, and the next run
    resumes the rebuild and then syncs (a second outsider's F2)."""
    _data(project)
    assert project.cli("run", "nightly").returncode == 0
    shutil.rmtree(project.state_dir)
    used = project.emulator.stats()["api_calls"]
    project.emulator.faults(daily_api_limit=used + 4)  # the check, then a little of the rebuild
    contacts = project.live_records("Contact")

    stopped = project.cli("run", "nightly")

    assert stopped.returncode == 1, stopped.stdout + stopped.stderr
    assert "sis-sync state rebuild · job nightly" in stopped.stdout
    assert project.last_report()["rebuild"] is True  # the run's outcome is the rebuild's
    project.emulator.faults(daily_api_limit=1_000_000)
    resumed = project.cli("run", "nightly")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "sis-sync state rebuild · job nightly" in resumed.stdout
    assert project.live_records("Contact") == contacts
    assert "state rebuild" not in project.cli("run", "nightly").stdout  # the note is gone
