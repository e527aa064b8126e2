"""Salesforce's consent model after an objection (GDPR art. 21) and after a withdrawal without
its own date (art. 7(3)), against the emulator with the real simple-salesforce client.

The Contact's flags are covered by test_gdpr_objection.py; here: the person's
ContactPointTypeConsents and Individual, which must say the same as the flags.
"""

from __future__ import annotations

import typer
from gdprfixtures import EMAIL, NUMBER, emulator, project_fixture, seed
from syncfixtures import SyncProject, student
from typer.testing import CliRunner

from connector.commands import object as object_command
from connector.errors import ConnectorError
from connector.report import RunReport
from connector.sync.job import run_job

__all__ = ["emulator"]

project = project_fixture(SyncProject)

CPTC = (
    "SELECT Id, PartyId, DataUsePurposeId, PrivacyConsentStatus, CaptureDate, CaptureSource,"
    " EffectiveFrom, Name FROM ContactPointTypeConsent"
)


def _object(project: SyncProject, *args: str) -> None:
    app = typer.Typer()

    @app.callback()
    def main(ctx: typer.Context) -> None:
        ctx.obj = {"config": project.folder / "sync.yaml"}

    object_command.register_commands(app)
    result = CliRunner().invoke(app, ["object", *args, "--apply"], env=project.env)
    if isinstance(result.exception, ConnectorError):
        result.exit_code = result.exception.exit_code
    assert result.exit_code == 0, result.output


def _run_at(project: SyncProject, now: str) -> RunReport:
    report = run_job(project.settings(SIS_SYNC_NOW=now), job="nightly")
    assert report.exit_code() == 0, report.summary()
    return report


def _person_consents(project: SyncProject, number: str) -> tuple[dict, dict[str, dict]]:
    """The student's Individual and their consents by DataUsePurpose Name."""
    [contact] = project.query(
        f"SELECT Id, IndividualId FROM Contact WHERE SIS_Student_Number__c = '{number}'"
    )
    [individual] = project.query(
        f"SELECT Id, HasOptedOutSolicit FROM Individual WHERE Id = '{contact['IndividualId']}'"
    )
    purposes = {p["Id"]: p["Name"] for p in project.query("SELECT Id, Name FROM DataUsePurpose")}
    consents = {
        purposes[c["DataUsePurposeId"]]: c
        for c in project.query(CPTC + f" WHERE PartyId = '{individual['Id']}'")
    }
    return individual, consents


def _ermengarde(**over: str) -> dict[str, str]:
    return student(NUMBER, achternaam="Quispelhoorn", tussenvoegsel="", roepnaam="Ermengarde",
                   email=EMAIL, **over)  # fmt: skip


def test_art21_objection_writes_opt_out_and_solicit_and_holds_through_ja_rows(
    project: SyncProject,
) -> None:
    seed(project)
    individual, consents = _person_consents(project, NUMBER)
    # (The open-day row of the same address says "nee" to the news: phone is the opt-in.)
    assert consents["phone_contact"]["PrivacyConsentStatus"] == "OptIn"
    assert individual["HasOptedOutSolicit"] is False

    _object(project, "--email", EMAIL)
    _run_at(project, "2026-11-21T09:00:00+00:00")
    individual, consents = _person_consents(project, NUMBER)
    assert individual["HasOptedOutSolicit"] is True
    for purpose in ("recruitment_news", "phone_contact"):
        assert consents[purpose]["PrivacyConsentStatus"] == "OptOut", purpose
        assert consents[purpose]["CaptureSource"] == "bezwaar (AVG art. 21)"
    first = consents

    # A later, newer "ja" row and more runs (another clock): still OptOut, nothing rewritten.
    project.write_students([_ermengarde(toestemming_nieuws_op="2026-11-22T10:00:00+01:00")])
    for now in ("2026-11-23T09:00:00+00:00", "2026-11-24T09:00:00+00:00"):
        report = _run_at(project, now)
        individual, consents = _person_consents(project, NUMBER)
        assert individual["HasOptedOutSolicit"] is True
        assert consents == first
        assert not any(n.startswith("consent:") for n in report.mappings), report.summary()
    # The other student is not reached by the objection.
    other, theirs = _person_consents(project, "150001")
    assert other["HasOptedOutSolicit"] is False
    assert theirs["recruitment_news"]["PrivacyConsentStatus"] == "OptIn"


def test_art7_3_undated_withdrawal_keeps_the_date_of_the_first_run_that_saw_it(
    project: SyncProject,
) -> None:
    project.write_students([student("400300")])
    _run_at(project, "2026-11-20T09:00:00+00:00")
    # "nee" without a date of its own.
    nee = student("400300", toestemming_nieuws="nee", toestemming_nieuws_op="")
    project.write_students([nee])
    _run_at(project, "2026-11-21T11:20:28+00:00")
    _, consents = _person_consents(project, "400300")
    news = consents["recruitment_news"]
    assert news["PrivacyConsentStatus"] == "OptOut"
    assert news["CaptureDate"].startswith("2026-11-21T11:20:28")
    assert news["EffectiveFrom"].startswith("2026-11-21T11:20:28")

    # The row mapped again (another field changed; then the same row), later clocks: the
    # withdrawal's date stays the first run's and no consent record is re-sent.
    project.write_students([{**nee, "woonplaats": "Amersfoort"}])
    for now in ("2026-11-21T11:21:04+00:00", "2030-01-01T00:00:00+00:00"):
        report = _run_at(project, now)
        assert not any(n.startswith("consent:") for n in report.mappings), report.summary()
        _, again = _person_consents(project, "400300")
        assert again == consents
