"""`sis-sync export` (GDPR art. 15 access, art. 20 portability) against the emulator with the real
simple-salesforce client: every field Salesforce holds (also what staff typed there), campaigns by
name, archived activities, consents with their proof (art. 7(1)), a lost local state, and the CSV
a privacy officer hands over (BOM, quoting, no formulas)."""

from __future__ import annotations

import csv
import io
import json
import shutil
from datetime import UTC, datetime, timedelta
from typing import Any

from gdprfixtures import EMAIL, NEEDLES, NUMBER, emulator, invoke, project_fixture, seed
from syncfixtures import SyncProject

from connector.gdpr.export_formats import CSV_COLUMNS

__all__ = ["emulator"]

project = project_fixture(SyncProject)

STAFF_NOTE = 'Belde 12-11: wil\nmeelopen bij Zorg, "liefst" op dinsdag'
FORMULA = '=HYPERLINK("http://kwaad.example","klik")'


def _contact(project: SyncProject) -> str:
    rows = project.query(f"SELECT Id FROM Contact WHERE SIS_Student_Number__c = '{NUMBER}'")
    return str(rows[0]["Id"])


def _export(project: SyncProject, *args: str) -> dict[str, Any]:
    result = invoke(project, "export", "--student-number", NUMBER, *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _student(data: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in data["salesforce"] if r["mapping"] == "students")


def test_art15_export_holds_every_field_staff_typed_in_salesforce(project: SyncProject) -> None:
    seed(project)
    contact = _contact(project)
    # Staff type into fields no mapping writes, straight through the API.
    project.emulator.client().Contact.update(
        contact, {"Description": STAFF_NOTE, "Department": "Zorg & Welzijn"}
    )

    student = _student(_export(project))

    assert student["fields"]["Description"] == STAFF_NOTE
    assert student["fields"]["Department"] == "Zorg & Welzijn"
    assert student["labels"]["LastName"] == "Last Name"  # describe's label
    assert student["fields"]["CreatedDate"]  # what Salesforce holds about the record itself
    assert student["field_purposes"]["MobilePhone"] == ["phone_contact"]  # still promised


def test_art15_campaign_memberships_name_the_campaign(project: SyncProject) -> None:
    seed(project)
    [campaign] = project.query("SELECT Id, Name FROM Campaign")

    [member] = _export(project)["campaign_memberships"]

    assert member["campaign_name"] == campaign["Name"] == "Open dag Utrecht 14 november"
    assert member["fields"]["CampaignId"] == campaign["Id"]
    assert member["fields"]["Status"] == "Attended"


def test_art15_activities_include_archived_and_staff_logged_tasks(project: SyncProject) -> None:
    seed(project)
    contact = _contact(project)
    old = (datetime.now(UTC).date() - timedelta(days=400)).isoformat()
    # A call staff logged more than a year ago: Salesforce has archived it, query() skips it.
    task = project.emulator.client().Task.create(
        {
            "WhoId": contact,
            "Subject": "Gebeld",
            "Status": "Completed",
            "ActivityDate": old,
            "Description": "Vroeg naar de BBL-route",
        }
    )
    assert not [r for r in project.query("SELECT Id FROM Task") if r["Id"] == task["id"]]

    activities = _export(project)["activities"]

    archived = next(a for a in activities if a["sf_id"] == task["id"])
    assert archived["mapping"] is None
    assert archived["fields"]["IsArchived"] is True
    assert archived["fields"]["Description"] == "Vroeg naar de BBL-route"
    assert [a["mapping"] for a in activities if a["sf_id"] != task["id"]] == ["registration_tasks"]


def _consent_records(project: SyncProject, contact: str) -> str:
    """An Individual with an OptIn ContactPointTypeConsent a parent gave, as staff (or the
    consent-model sync) would write them; returns the consent's Id."""
    sf = project.emulator.client()
    party = sf.Individual.create({"LastName": "Quispelhoorn"})["id"]
    sf.Contact.update(contact, {"IndividualId": party})
    purpose = sf.DataUsePurpose.create({"Name": "recruitment_news"})["id"]
    return str(
        sf.ContactPointTypeConsent.create(
            {
                "Name": "recruitment_news 2026-09-01",
                "PartyId": party,
                "DataUsePurposeId": purpose,
                "ContactPointType": "Email",
                "PrivacyConsentStatus": "OptIn",
                "CaptureDate": "2026-09-01T08:00:00.000+0000",
                "CaptureSource": "aanmeldformulier",
                "CaptureContactPointType": "Web",
                "EffectiveFrom": "2026-09-01T08:00:00.000+0000",
                "Consent_Given_By__c": "parent",
            }
        )["id"]
    )


def test_art7_1_export_shows_consents_with_their_proof(project: SyncProject) -> None:
    seed(project)
    contact = _contact(project)
    consent_id = _consent_records(project, contact)

    data = _export(project)

    fields = next(
        c for c in data["consents"] if c["origin"] == "salesforce_fields" and c["sf_id"] == contact
    )
    assert fields["purpose"] == "recruitment_news"
    assert fields["status"] is True
    assert fields["given_at"].startswith("2026-09-01T08:00:00")
    assert fields["source"] == "intake"
    assert fields["fields"]["status"] == "Consent_News__c"
    record = next(c for c in data["consents"] if c["sf_id"] == consent_id)
    assert record["origin"] == "ContactPointTypeConsent"
    assert record["purpose"] == "recruitment_news"  # DataUsePurpose.Name, not its Id
    assert (record["status"], record["source"], record["given_by"]) == (
        "OptIn",
        "aanmeldformulier",
        "parent",
    )
    assert record["given_at"].startswith("2026-09-01")
    assert {r["object"] for r in data["consent_records"]} == {
        "Individual",
        "ContactPointTypeConsent",
    }
    assert data["purposes"]["recruitment_news"]["lawful_basis"] == "consent"


def test_art7_3_export_shows_a_withdrawal_the_connector_recorded(project: SyncProject) -> None:
    seed(project)
    rows = [
        dict(
            r,
            toestemming_bellen="nee",
            toestemming_bellen_op="2026-11-01T10:00:00+01:00",
        )
        for r in _students(project)
    ]
    project.write_students(rows)
    assert project.run().exit_code() in (0, 1)

    data = _export(project)

    phone = next(c for c in data["consents"] if c["purpose"] == "phone_contact")
    assert phone["withdrawn_at"] is not None
    assert phone["withdrawn_at"].startswith("2026-11-")


def _students(project: SyncProject) -> list[dict[str, str]]:
    path = project.folder / "data" / "studenten.csv"
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh, delimiter=";"))


def test_art15_export_finds_the_person_in_salesforce_with_a_lost_state(
    project: SyncProject,
) -> None:
    seed(project)
    contact = _contact(project)
    project.emulator.client().Contact.update(contact, {"Description": STAFF_NOTE})
    shutil.rmtree(project.folder / "state")

    data = _export(project)

    # One entry per mapping that matched it, as with local state (test_gdpr_lost_state.py).
    assert {r["sf_id"] for r in data["salesforce"]} == {contact}
    assert data["salesforce"][0]["fields"]["Description"] == STAFF_NOTE
    assert [m["campaign_name"] for m in data["campaign_memberships"]] == [
        "Open dag Utrecht 14 november"
    ]
    assert data["local_state"]["person"] is None
    assert data["notes"] and "local state does not know" in data["notes"][0]


def _csv(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")  # Excel reads UTF-8 (accents) only with the BOM
    return list(csv.DictReader(io.StringIO(text[1:], newline="")))


def test_art20_csv_parses_has_a_bom_quotes_newlines_and_defuses_formulas(
    project: SyncProject, tmp_path
) -> None:
    seed(project)
    contact = _contact(project)
    project.emulator.client().Contact.update(
        contact, {"Description": STAFF_NOTE, "Department": FORMULA, "Title": "Coördinator"}
    )
    target = tmp_path / "inzage.csv"

    result = invoke(project, "export", "--email", EMAIL, "--format", "csv", "--output", str(target))

    assert result.exit_code == 0, result.output
    assert target.stat().st_mode & 0o777 == 0o600  # personal data: owner-only
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = _csv(raw.decode("utf-8"))
    assert tuple(rows[0]) == CSV_COLUMNS
    by_field = {(r["object"], r["field_api_name"]): r for r in rows if r["record_id"] == contact}
    assert by_field[("Contact", "Description")]["value"] == STAFF_NOTE  # newline kept, quoted
    assert by_field[("Contact", "Title")]["value"] == "Coördinator"
    assert by_field[("Contact", "Department")]["value"] == "'" + FORMULA
    assert by_field[("Contact", "MobilePhone")]["value"] == "'+31648151623"
    assert by_field[("Contact", "LastName")]["field_label"] == "Last Name"
    assert by_field[("Contact", "LastName")]["purposes"] == "enrolment, event_registration"
    assert not [r for r in rows if r["value"].startswith(("=", "+", "-", "@"))]
    sections = {r["section"] for r in rows}
    assert {"salesforce", "campaign_membership", "activity", "consent", "local_state"} <= sections
    names = [r["value"] for r in rows if r["field_api_name"] == "Campaign.Name"]
    assert names == ["Open dag Utrecht 14 november"]
    # Only the file holds the data: nothing personal on the terminal.
    assert not [n for n in NEEDLES if n.lower() in result.output.lower()]


def test_art20_csv_on_stdout_is_the_same_document(project: SyncProject) -> None:
    seed(project)

    result = invoke(project, "export", "--student-number", NUMBER, "--format", "csv")

    assert result.exit_code == 0, result.output
    rows = _csv(result.stdout)
    assert any(r["value"] == "Quispelhoorn" and r["field_api_name"] == "LastName" for r in rows)
