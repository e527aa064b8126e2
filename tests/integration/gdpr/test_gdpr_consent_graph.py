"""The consent model's records through erasure (GDPR art. 17) and purge (art. 5(1)(e)), against
the emulator with the real simple-salesforce client.

Salesforce does not delete an Individual with its Contact (Contact.IndividualId is a lookup) and
the ContactPointTypeConsents hang on the Individual (PartyId): erase and purge delete them
themselves, the Individual after the Contact and only when no other record points at it.
Deleted records are looked for with ``queryAll`` (the recycle bin included)."""

from __future__ import annotations

from typing import Any

from gdprfixtures import EMAIL, NEEDLES, NUMBER, emulator, invoke, project_fixture, seed
from syncfixtures import SyncProject, registration, student

from connector.state import open_store

__all__ = ["emulator"]

project = project_fixture(SyncProject)

LATER = "2027-03-14T09:00:00+00:00"  # 4 months after the open day of 2026-11-14
VISITOR = "daan.b@bezoeker.example"
FAN = "fenna.nieuws@bezoeker.example"


def _all(project: SyncProject, soql: str) -> list[dict[str, Any]]:
    """queryAll: live records and the recycle bin."""
    return project.emulator.client().query_all(soql, include_deleted=True)["records"]


def _consent_model(project: SyncProject, contact_id: str) -> dict[str, Any]:
    """The Individual of a Contact, its consents and the keys state remembers them by."""
    [contact] = project.query(f"SELECT IndividualId FROM Contact WHERE Id = '{contact_id}'")
    ind = contact["IndividualId"]
    assert ind, "the sync wrote no Individual"
    [individual] = project.query(
        f"SELECT Id, SIS_Individual_Key__c FROM Individual WHERE Id = '{ind}'"
    )
    consents = project.query(
        "SELECT Id, SIS_Consent_Key__c, DataUsePurpose.Name FROM ContactPointTypeConsent"
        f" WHERE PartyId = '{ind}'"
    )
    assert consents, "the sync wrote no ContactPointTypeConsent"
    return {
        "individual": ind,
        "individual_key": individual["SIS_Individual_Key__c"],
        "consents": {c["Id"] for c in consents},
        "consent_keys": {
            (f"consent:{c['DataUsePurpose']['Name']}", c["SIS_Consent_Key__c"]) for c in consents
        },
    }


def _live(project: SyncProject, obj: str, ids: set[str]) -> set[str]:
    """Which of ``ids`` queryAll still shows as not deleted."""
    quoted = ", ".join(f"'{i}'" for i in ids)
    rows = _all(project, f"SELECT Id, IsDeleted FROM {obj} WHERE Id IN ({quoted})")
    return {r["Id"] for r in rows if not r["IsDeleted"]}


def _contact(project: SyncProject, where: str) -> str:
    return project.query(f"SELECT Id FROM Contact WHERE {where}")[0]["Id"]


def _store(project: SyncProject):
    return open_store(f"sqlite:///{project.folder / 'state' / 'sync.db'}")


def _state_keys(project: SyncProject, model: dict[str, Any]) -> set[tuple[str, str]]:
    """Which of the model's records local state still remembers (not deleted)."""
    wanted = {("consent:individual", model["individual_key"]), *model["consent_keys"]}
    with _store(project) as store:
        return {
            (m, k)
            for m, k in wanted
            if (row := store.lookup(m, [k]).get(k)) is not None and row.deleted_at is None
        }


# -- erasure (art. 17) ------------------------------------------------------------------------


def test_art_17_erase_deletes_the_individual_and_its_consents_and_forgets_them(
    project: SyncProject,
) -> None:
    seed(project)  # the person, a second student and a second visitor
    person = _consent_model(project, _contact(project, f"SIS_Student_Number__c = '{NUMBER}'"))
    other = _consent_model(project, _contact(project, "SIS_Student_Number__c = '150001'"))
    visitor = _consent_model(project, _contact(project, f"Email = '{VISITOR}'"))
    purposes = {p["Id"] for p in project.query("SELECT Id FROM DataUsePurpose")}
    assert _state_keys(project, person)

    dry = invoke(project, "erase", "--email", EMAIL)

    assert dry.exit_code == 0, dry.output
    for sf_id in (person["individual"], *person["consents"]):
        assert sf_id in dry.output  # shown by Id, nothing deleted yet
    assert _live(project, "Individual", {person["individual"]}) == {person["individual"]}

    result = invoke(project, "erase", "--email", EMAIL, "--apply")

    assert result.exit_code == 0, result.output
    assert not _live(project, "Individual", {person["individual"]})
    assert not _live(project, "ContactPointTypeConsent", person["consents"])
    for kept in (other, visitor):  # other persons' consent records are untouched
        assert _live(project, "Individual", {kept["individual"]}) == {kept["individual"]}
        assert _live(project, "ContactPointTypeConsent", kept["consents"]) == kept["consents"]
    # DataUsePurposes are not personal data: one per purpose, shared by everyone.
    assert {p["Id"] for p in project.query("SELECT Id FROM DataUsePurpose")} == purposes
    assert not _state_keys(project, person)
    assert _state_keys(project, other)
    with _store(project) as store:
        erased = {e.sf_id for _, e in store.audit_log() if e.action == "erase"}
        assert {person["individual"], *person["consents"]} <= erased
        assert not [n for n in NEEDLES if n in repr(store.audit_log())]


def test_art_17_hard_erase_leaves_nothing_for_query_all(project: SyncProject) -> None:
    seed(project, others=False)
    person = _consent_model(project, _contact(project, f"SIS_Student_Number__c = '{NUMBER}'"))

    result = invoke(project, "erase", "--student-number", NUMBER, "--apply", "--hard")

    assert result.exit_code == 0, result.output
    assert not _all(project, "SELECT Id FROM Individual")
    assert not _all(project, "SELECT Id FROM ContactPointTypeConsent")
    assert person["individual"] in result.output  # listed among what was deleted


def test_art_17_an_individual_another_contact_points_at_stays(project: SyncProject) -> None:
    seed(project)
    person = _consent_model(project, _contact(project, f"SIS_Student_Number__c = '{NUMBER}'"))
    # Staff linked another Contact to the same Individual (the same human, they say).
    staff_made = project.emulator.client().Contact.create(
        {"LastName": "Dubbel", "IndividualId": person["individual"]}
    )["id"]

    result = invoke(project, "erase", "--email", EMAIL, "--apply")

    assert result.exit_code == 0, result.output
    assert not project.query(f"SELECT Id FROM Contact WHERE SIS_Student_Number__c = '{NUMBER}'")
    assert _live(project, "Individual", {person["individual"]}) == {person["individual"]}
    assert _live(project, "ContactPointTypeConsent", person["consents"]) == person["consents"]
    [linked] = project.query(f"SELECT IndividualId FROM Contact WHERE Id = '{staff_made}'")
    assert linked["IndividualId"] == person["individual"]


# -- purge (art. 5(1)(e)) ---------------------------------------------------------------------


def test_art_5_1_e_purge_deletes_the_individual_and_consents_with_the_person(
    project: SyncProject,
) -> None:
    project.write_students([student("90817263", email="ermengarde.q@privemail.example")])
    project.write_registrations(
        [
            registration("R-000001", VISITOR),  # "nee": an OptOut consent, an Individual
            registration(
                "R-000002", FAN, toestemming_nieuws="ja",
                toestemming_nieuws_op="2026-10-01T12:00:00+02:00",
                toestemming_nieuws_bron="aanmeldformulier",
            ),
        ]
    )  # fmt: skip
    assert project.run().exit_code() == 0
    visitor = _consent_model(project, _contact(project, f"Email = '{VISITOR}'"))
    fan = _consent_model(project, _contact(project, f"Email = '{FAN}'"))
    project.env["SIS_SYNC_NOW"] = LATER

    preview = invoke(project, "purge")
    assert preview.exit_code == 0, preview.output
    assert "ContactPointTypeConsent" in preview.output and "Individual" in preview.output
    assert _live(project, "Individual", {visitor["individual"]})

    result = invoke(project, "purge", "--apply")

    assert result.exit_code == 0, result.output
    assert not _live(project, "Individual", {visitor["individual"]})
    assert not _live(project, "ContactPointTypeConsent", visitor["consents"])
    # The fan's consent still holds: their Contact, Individual and consent stay.
    assert _live(project, "Individual", {fan["individual"]}) == {fan["individual"]}
    assert _live(project, "ContactPointTypeConsent", fan["consents"]) == fan["consents"]
    assert not _state_keys(project, visitor)
    assert _state_keys(project, fan)
    with _store(project) as store:
        purged = {e.sf_id for _, e in store.audit_log() if e.action == "purge"}
        assert {visitor["individual"], *visitor["consents"]} <= purged
    # A later run with the same source recreates neither the visitor nor their consent records.
    assert project.run().exit_code() == 0
    assert len(project.query("SELECT Id FROM Individual")) == 2  # the fan's and the student's


# -- the emulator, as Salesforce documents the lookups -----------------------------------------


def test_emulator_deleting_a_contact_leaves_its_individual(project: SyncProject) -> None:
    client = project.emulator.client()
    ind = client.Individual.create({"LastName": "x"})["id"]
    contact = client.Contact.create({"LastName": "y", "IndividualId": ind})["id"]
    purpose = client.DataUsePurpose.create({"Name": "p"})["id"]
    consent = client.ContactPointTypeConsent.create(
        {
            "Name": "p", "PartyId": ind, "DataUsePurposeId": purpose, "ContactPointType": "Email",
            "PrivacyConsentStatus": "OptIn", "CaptureDate": "2026-01-01T00:00:00.000Z",
            "CaptureSource": "web", "CaptureContactPointType": "Web",
        }
    )["id"]  # fmt: skip

    client.Contact.delete(contact)

    # Contact.IndividualId is a lookup: the Individual and its consent stay.
    assert _live(project, "Individual", {ind}) == {ind}
    assert _live(project, "ContactPointTypeConsent", {consent}) == {consent}
