"""Data-subject requests as records (GDPR art. 12(3), 17), against the emulator: an erasure
while Salesforce is down (tombstones first, open request, exit 3, finished by the next run), its
receipt (no personal value), `requests` and `status`, and an erasure with a lost state."""

from __future__ import annotations

import json
import shutil
import socket
import stat
from pathlib import Path
from typing import Any

import pytest
import typer
from gdprfixtures import EMAIL, NEEDLES, NUMBER, emulator, project_fixture, seed
from syncfixtures import SECRET, SyncProject, registration, student
from typer.testing import CliRunner

from connector.commands import erase, requests, sync
from connector.errors import ConnectorError, SalesforceUnreachable
from connector.hashing import KeyHasher
from connector.state import open_store
from connector.sync.job import run_job

__all__ = ["emulator"]

project = project_fixture(SyncProject)


def _closed_port_url() -> str:
    """An https URL on loopback where nothing listens: Salesforce is down."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"https://127.0.0.1:{port}"


def _down(project: SyncProject) -> dict[str, str]:
    return {"SIS_SYNC_SALESFORCE__URL": _closed_port_url(), "SIS_SYNC_SALESFORCE__MAX_RETRIES": "0"}


def _invoke(project: SyncProject, *args: str, **env: str) -> Any:
    app = typer.Typer()

    @app.callback()
    def main(ctx: typer.Context) -> None:
        ctx.obj = {"config": project.folder / "sync.yaml"}

    for module in (erase, requests, sync):
        module.register_commands(app)
    result = CliRunner().invoke(app, list(args), env={**project.env, **env})
    if isinstance(result.exception, ConnectorError):
        result.exit_code = result.exception.exit_code
    return result


def _store(project: SyncProject):
    return open_store(f"sqlite:///{project.folder / 'state' / 'sync.db'}")


def _ids(project: SyncProject, obj: str) -> set[str]:
    return {r["Id"] for r in project.query(f"SELECT Id FROM {obj}")}


def _hashes() -> list[str]:
    hasher = KeyHasher(SECRET)
    return [hasher.key("email", EMAIL)]


def test_art17_erase_while_salesforce_is_down_is_open_and_the_next_run_finishes_it(
    project: SyncProject,
) -> None:
    seed(project, others=False)
    contact = project.query(f"SELECT Id FROM Contact WHERE SIS_Student_Number__c = '{NUMBER}'")
    assert len(contact) == 1 and len(_ids(project, "CampaignMember")) == 1

    down = _invoke(project, "erase", "--email", EMAIL, "--apply", **_down(project))

    assert down.exit_code == 3, down.output
    assert "DSR-2026-0001: open" in down.output and "due 2026-12-20" in down.output
    with _store(project) as store:
        [req] = store.list_requests()
        assert (req.kind, req.status, req.attempts) == ("erase", "open", 1)
        assert req.last_error  # the cause as a code (CONNECTION_ERROR), never a value
        # Tombstones before anything in Salesforce: the person's identity and every record key.
        person = store.find_persons(email_hashes=_hashes()).by_email[_hashes()[0]][0]
        keys = [r.key_hash for r in store.person_records(person.person_id)]
        wanted = [*_hashes(), str(person.student_hash), *keys]
        assert store.suppressed(wanted) == set(wanted)
    status = json.loads(_invoke(project, "status", "--json").output)["open_requests"]
    assert [(r["reference"], r["due_on"], r["days_left"]) for r in status] == [
        ("DSR-2026-0001", "2026-12-20", 30)
    ]
    text = _invoke(project, "status", COLUMNS="80").output
    assert "open request DSR-2026-0001 erase: due 2026-12-20, 30 days left" in text

    # Still down at the next nightly: exit 3, the request stays open with one more attempt.
    with pytest.raises(SalesforceUnreachable):
        run_job(project.settings(**_down(project)), job="nightly")
    with _store(project) as store:
        assert store.list_requests()[0].attempts == 2

    # Back up: the source still holds the person (changed, and registered for a new event).
    project.write_students([student(NUMBER, email=EMAIL, woonplaats="Zeist")])
    project.write_registrations(
        [
            registration("R-000001", EMAIL),
            registration("R-000009", EMAIL, evenement_id="OD-2026-12-05-UTR"),
        ]
    )
    report = project.run()

    assert report.exit_code() == 0, report.summary()
    assert _ids(project, "Contact") == set()  # erased, and not updated or recreated
    assert _ids(project, "CampaignMember") == set()  # no new membership either
    assert _ids(project, "Task") == set()
    assert report.mappings["students"].suppressed == 1
    assert report.mappings["registrations"].suppressed == 2
    with _store(project) as store:
        [req] = store.list_requests()
        assert (req.status, req.attempts) == ("done", 3)
        receipt = Path(str(req.receipt))
    data = json.loads(receipt.read_text("utf-8"))
    assert data["reference"] == "DSR-2026-0001" and data["due_on"] == "2026-12-20"
    assert data["removed"] == {
        "CampaignMember": 1, "Contact": 1, "Task": 1,
        "Individual": 1, "ContactPointTypeConsent": 2,  # the consent model (consent_graph.py)
    }  # fmt: skip
    assert receipt.parent == project.folder / "state" / "receipts"
    for path in (receipt, receipt.with_suffix(".txt")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        body = path.read_text("utf-8").lower()
        assert not [n for n in NEEDLES if n.lower() in body]
        assert not [h for h in wanted if h in body]  # no keyed hash either
    assert "DSR-2026-0001" in receipt.with_suffix(".txt").read_text("utf-8")

    listed = json.loads(_invoke(project, "requests", "--json").output)
    assert [(r["reference"], r["kind"], r["status"], r["days_left"]) for r in listed] == [
        ("DSR-2026-0001", "erase", "done", None)
    ]
    assert json.loads(_invoke(project, "status", "--json").output)["open_requests"] == []


def test_art17_erase_with_a_lost_state_finds_the_contact_in_salesforce(
    project: SyncProject,
) -> None:
    seed(project)
    contact = project.query(f"SELECT Id FROM Contact WHERE SIS_Student_Number__c = '{NUMBER}'")
    others = _ids(project, "Contact") - {contact[0]["Id"]}
    shutil.rmtree(project.folder / "state")

    result = _invoke(project, "erase", "--student-number", NUMBER, "--apply")

    assert result.exit_code == 0, result.output
    assert "person found in Salesforce" in result.output
    assert _ids(project, "Contact") == others  # the other student and visitor stay
    assert len(_ids(project, "CampaignMember")) == 1 and len(_ids(project, "Task")) == 1
    with _store(project) as store:
        [req] = store.list_requests()
        assert req.status == "done" and req.receipt
    data = json.loads(Path(str(req.receipt)).read_text("utf-8"))
    assert data["removed"] == {
        "CampaignMember": 1, "Contact": 1, "Task": 1,
        "Individual": 1, "ContactPointTypeConsent": 2,  # the consent model (consent_graph.py)
    }  # fmt: skip


def test_art17_erase_by_email_with_a_lost_state_and_a_quote_in_the_address(
    project: SyncProject,
) -> None:
    odd = "o'hara@privemail.example"  # a quote: escaped in SOQL (backslash: unit test)
    project.write_students([student("90817299", email=odd)])
    assert project.run().exit_code() == 0
    shutil.rmtree(project.folder / "state")

    result = _invoke(project, "erase", "--email", odd.upper(), "--apply")

    assert result.exit_code == 0, result.output
    assert _ids(project, "Contact") == set()


def test_nobody_anywhere_is_a_failed_request_and_no_tombstone(project: SyncProject) -> None:
    seed(project, others=False)

    result = _invoke(project, "erase", "--student-number", "150777", "--apply")

    assert result.exit_code == 1, result.output
    assert "NOT_FOUND" in result.output
    with _store(project) as store:
        [req] = store.list_requests()
        assert (req.status, req.last_error) == ("failed", "NOT_FOUND")
        hasher = KeyHasher(SECRET)
        assert not store.suppressed([hasher.key("student", "150777")])
