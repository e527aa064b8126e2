"""`sis-sync export` against the emulator: Salesforce values read back, memberships, activities,
local state explained, the purposes behind each field; only to stdout or the named file."""

from __future__ import annotations

import json

from gdprfixtures import EMAIL, NEEDLES, NUMBER, emulator, invoke, project_fixture, seed
from syncfixtures import SyncProject

__all__ = ["emulator"]

project = project_fixture(SyncProject)


def test_export_holds_salesforce_values_memberships_state_and_purposes(
    project: SyncProject,
) -> None:
    seed(project)
    contact = project.query(f"SELECT Id FROM Contact WHERE SIS_Student_Number__c = '{NUMBER}'")[0][
        "Id"
    ]
    # Staff edit in Salesforce: the export shows what Salesforce holds now.
    project.emulator.client().Contact.update(contact, {"MailingCity": "Amersfoort"})

    result = invoke(project, "export", "--student-number", NUMBER)

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    student = next(r for r in data["salesforce"] if r["mapping"] == "students")
    assert student["sf_id"] == contact
    assert student["fields"]["LastName"] == "Quispelhoorn"
    assert student["fields"]["Email"] == EMAIL
    assert student["fields"]["MailingCity"] == "Amersfoort"
    assert student["field_purposes"]["MobilePhone"] == ["phone_contact"]
    assert [m["fields"]["Status"] for m in data["campaign_memberships"]] == ["Attended"]
    assert [a["mapping"] for a in data["activities"]] == ["registration_tasks"]
    assert data["activities"][0]["fields"]["Subject"].startswith("Bezocht: ")
    state = data["local_state"]
    assert state["person"]["sf_id"] == contact
    assert {r["mapping"] for r in state["records"]} == {"students", "registrants"}
    assert all(r["last_synced_run"]["job"] == "nightly" for r in state["records"])
    assert state["suppressed"] is False
    assert data["purposes"]["enrolment"]["lawful_basis"] == "legal_obligation"
    assert data["purposes"]["phone_contact"]["lawful_basis"] == "consent"
    assert "local_state.records" in data["explanation"]


def test_export_by_email_to_a_file_keeps_stdout_and_state_clean(
    project: SyncProject, tmp_path
) -> None:
    seed(project)
    target = tmp_path / "inzage.json"

    result = invoke(project, "export", "--email", EMAIL, "--output", str(target))

    assert result.exit_code == 0, result.output
    data = json.loads(target.read_text(encoding="utf-8"))
    assert data["salesforce"][0]["fields"]["FirstName"] == "Ermengarde"
    assert not [n for n in NEEDLES if n.lower() in result.output.lower()]
    state = project.folder / "state"
    files = "".join(
        p.read_bytes().decode("latin-1") for p in sorted(state.rglob("*")) if p.is_file()
    )
    assert not [n for n in NEEDLES if n.lower() in files.lower()]


def test_export_of_nobody_exits_1_without_the_value(project: SyncProject) -> None:
    seed(project, others=False)

    result = invoke(project, "export", "--email", "niemand@nergens.example")

    assert result.exit_code == 1
    assert "niemand" not in result.output
