"""`sis-sync object --apply` reaches Salesforce at once (GDPR art. 21(3), 7(3)), against the
emulator: the opt-out flags and Individual.HasOptedOutSolicit are set on the records found, also
with a lost state and on a Contact staff made by hand; the receipt counts what changed (nothing
personal); Salesforce down leaves the request open (exit 3) and asking again finishes it."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path
from typing import Any

from gdprfixtures import EMAIL, NEEDLES, NUMBER, _app, emulator, project_fixture
from syncfixtures import SECRET, SyncProject, student
from typer.testing import CliRunner

from connector.errors import ConnectorError
from connector.hashing import KeyHasher
from connector.state import open_store

__all__ = ["emulator"]

project = project_fixture(SyncProject)


def _down() -> dict[str, str]:
    """Settings of an org nobody answers for (a closed loopback port, no retries)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return {
        "SIS_SYNC_SALESFORCE__URL": f"https://127.0.0.1:{port}",
        "SIS_SYNC_SALESFORCE__MAX_RETRIES": "0",
    }


def invoke(project: SyncProject, *args: str, **env: str) -> Any:
    """``sis-sync object ARGS`` in-process, with extra environment."""
    runner = CliRunner()
    app = _app(project.folder / "sync.yaml")
    result = runner.invoke(app, ["object", *args], env={**project.env, **env})
    if isinstance(result.exception, ConnectorError):
        result.exit_code = result.exception.exit_code
    return result


def _store(project: SyncProject):
    return open_store(f"sqlite:///{project.folder / 'state' / 'sync.db'}")


def _contact(project: SyncProject, where: str = f"Email = '{EMAIL}'") -> dict:
    [row] = project.query(f"SELECT Id, HasOptedOutOfEmail, IndividualId FROM Contact WHERE {where}")
    return row


def _solicit(project: SyncProject, individual: str) -> bool:
    [row] = project.query(f"SELECT HasOptedOutSolicit FROM Individual WHERE Id = '{individual}'")
    return row["HasOptedOutSolicit"]


def _students(project: SyncProject) -> None:
    """Two synced students who gave consent (no opt-out set); the first is the one who objects."""
    project.write_students([student(NUMBER, email=EMAIL), student("150001")])
    report = project.run()
    assert report.exit_code() == 0, report.summary()


def _receipt(project: SyncProject) -> tuple[dict, str]:
    [path] = (project.folder / "state" / "receipts").glob("DSR-*.json")
    return json.loads(path.read_text("utf-8")), path.with_suffix(".txt").read_text("utf-8")


def test_art21_objection_with_a_lost_state_sets_the_flags_in_salesforce_now(
    project: SyncProject,
) -> None:
    _students(project)
    contact = _contact(project)
    assert contact["HasOptedOutOfEmail"] is False and contact["IndividualId"]
    shutil.rmtree(project.folder / "state")
    calls = project.api_calls()

    result = invoke(project, "--email", EMAIL, "--apply")

    assert result.exit_code == 0, result.output
    assert "covers nobody" in result.output  # local state knows nobody ...
    assert project.api_calls() > calls  # ... so Salesforce was asked
    after = _contact(project)
    assert after["HasOptedOutOfEmail"] is True  # before any run
    assert _solicit(project, contact["IndividualId"]) is True
    with _store(project) as store:
        [request] = store.list_requests()
        assert request.kind == "object" and request.status == "done"
        assert store.objected([KeyHasher(SECRET).key("email", EMAIL)])
    data, text = _receipt(project)
    assert data["marked"] == {"Contact": 1, "Individual": 1}
    assert "HasOptedOutOfEmail" in text and "HasOptedOutSolicit" in text
    for needle in [*NEEDLES, contact["Id"], contact["IndividualId"]]:
        assert needle not in json.dumps(data) and needle not in text
        assert needle not in result.output

    # Asked again: every flag is set, nothing changes and no second request is recorded.
    again = invoke(project, "--email", EMAIL, "--apply")
    assert again.exit_code == 0, again.output
    assert "already recorded" in again.output
    with _store(project) as store:
        assert len(store.list_requests()) == 1


def test_art21_objection_reaches_a_contact_staff_made_by_hand(project: SyncProject) -> None:
    client = project.emulator.client()
    made = client.Contact.create({"LastName": "Quispelhoorn", "Email": EMAIL})["id"]

    result = invoke(project, "--email", EMAIL.upper(), "--apply")

    assert result.exit_code == 0, result.output
    assert _contact(project, f"Id = '{made}'")["HasOptedOutOfEmail"] is True
    data, _ = _receipt(project)
    assert data["marked"] == {"Contact": 1}


def test_art21_objection_by_student_number_known_locally_is_set_before_any_run(
    project: SyncProject,
) -> None:
    _students(project)

    result = invoke(project, "--student-number", NUMBER, "--apply")

    assert result.exit_code == 0, result.output
    assert _contact(project)["HasOptedOutOfEmail"] is True
    # The other student's Contact is not touched.
    other = _contact(project, "SIS_Student_Number__c = '150001'")
    assert other["HasOptedOutOfEmail"] is False


def test_art21_objection_while_salesforce_is_down_stays_open_and_finishes_later(
    project: SyncProject,
) -> None:
    _students(project)

    down = invoke(project, "--student-number", NUMBER, "--apply", **_down())

    assert down.exit_code == 3, down.output
    assert "could not be reached" in down.output
    assert _contact(project)["HasOptedOutOfEmail"] is False
    with _store(project) as store:
        [request] = store.list_requests()
        assert request.status == "open" and request.last_error
        assert store.objected([KeyHasher(SECRET).key("student", NUMBER)])  # holds locally
    assert not (Path(project.folder) / "state" / "receipts").exists() or not list(
        (project.folder / "state" / "receipts").glob("DSR-*.json")
    )

    up = invoke(project, "--student-number", NUMBER, "--apply")

    assert up.exit_code == 0, up.output
    assert _contact(project)["HasOptedOutOfEmail"] is True
    with _store(project) as store:
        [request] = store.list_requests()  # the same request, continued
        assert request.status == "done"


def test_art21_dry_run_with_a_lost_state_shows_what_it_would_set_and_writes_nothing(
    project: SyncProject,
) -> None:
    _students(project)
    shutil.rmtree(project.folder / "state")

    result = invoke(project, "--email", EMAIL)

    assert result.exit_code == 0, result.output
    assert "would set flags on: Contact 1, Individual 1" in result.output
    assert _contact(project)["HasOptedOutOfEmail"] is False
    assert not (project.folder / "state" / "sync.db").exists()

    down = invoke(project, "--email", EMAIL, **_down())
    assert down.exit_code == 0, down.output  # a dry run: nothing to keep open
    assert "could not be reached" in down.output
