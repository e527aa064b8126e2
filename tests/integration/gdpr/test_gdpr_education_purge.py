"""The retention purge across the education graph (issue #10.4), per shipped model.

The child mappings of the Education Cloud and EDA sets (learner_programs, applications,
affiliations, program_enrollments) have no lifecycle of their own: their records follow their
person (:func:`connector.privacy.retention.with_person`). An ended student and a rejected
applicant without consent go, with their education records; a person whose consent still
holds stays (without their education records: enrolment expired for them too); an enrolled
student is untouched. The purge run records the API calls it made.
And erasure leaves another learner's LearnerProgram that only names the person in its
LearnerContactId (Salesforce clears that lookup when the person goes).
"""

from __future__ import annotations

import csv
import shutil
from datetime import date
from pathlib import Path
from typing import Any

from connector.commands.mapping import model_folder
from connector.config import Settings, load_settings
from connector.demo.dataset import generate
from connector.demo.org_setup import create_programmes
from connector.emulator.testing import EmulatorHandle
from connector.gdpr.erasure import subject_of
from connector.gdpr.erasure_job import erase_person
from connector.gdpr.purge_job import run_purge
from connector.gdpr.purge_report import report_data, report_text
from connector.hashing import KeyHasher
from connector.state import open_existing
from connector.sync.job import run_job

SECRET = "education-purge-test-secret-0123456789abcdef"
SYNCED = "2026-12-02T09:00:00+01:00"
PURGED = "2027-03-01T10:00:00+01:00"  # 1 December 2026 + P1M (enrolment) has passed
NEWS = {
    "toestemming_nieuws": "ja",
    "toestemming_nieuws_op": "2026-10-01T12:00:00+02:00",
    "toestemming_nieuws_bron": "aanmeldformulier",
}
NO_CONSENT = {k: "" for k in (*NEWS, "toestemming_bellen", "toestemming_bellen_op",
                              "toestemming_bellen_door", "toestemming_bellen_bron")}  # fmt: skip
# number → (status, status_datum, consent): ended, rejected, ended with news consent, enrolled.
PEOPLE = {
    "100001": ("uitgeschreven", "01-12-2026", {}),
    "100002": ("afgewezen", "01-12-2026", {}),
    "100003": ("uitgeschreven", "01-12-2026", NEWS),
    "100004": ("ingeschreven", "01-09-2026", {}),
}
ENDED, REJECTED, CONSENTED, ENROLLED = PEOPLE


class Project:
    """The shipped set of ``model`` with four made-up persons, synced once on a fresh org."""

    def __init__(self, model: str, emu: EmulatorHandle, folder: Path):
        emu.reset()
        self.emu, self.folder = emu, folder
        shutil.copytree(model_folder(model), folder)
        generate(
            folder,
            students=4,
            applicants=0,
            registrations=0,
            today=date(2026, 12, 1),
            malformed=False,
        )
        path = folder / "data" / "studenten.csv"
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f, delimiter=";")
            header, rows = list(reader.fieldnames or []), list(reader)
        for row, (number, (status, day, consent)) in zip(rows, PEOPLE.items(), strict=True):
            row.update(NO_CONSENT)
            row.update(studentnummer=number, status=status, status_datum=day,
                       geboortedatum="01-01-2004", email=f"p{number}@voorbeeld.example", **consent)  # fmt: skip
        with path.open("w", encoding="utf-8-sig", newline="") as f:
            writer = csv.DictWriter(f, header, delimiter=";")
            writer.writeheader()
            writer.writerows(rows)
        self.sf = emu.client()
        create_programmes(self.sf, model)
        report = run_job(self.settings(SYNCED), job="nightly")
        assert report.exit_code() == 0, report.summary()

    def settings(self, now: str) -> Settings:
        env = {
            **self.emu.sync_env(),
            "SIS_SYNC_SECRET": SECRET,
            "SIS_SYNC_NOW": now,
        }
        return load_settings(self.folder / "sync.yaml", env=env)

    def purge(self) -> Any:
        return run_purge(self.settings(PURGED), apply=True, hasher=KeyHasher(SECRET))

    def q(self, soql: str) -> list[dict[str, Any]]:
        return self.sf.query_all(soql)["records"]

    def alive(self, obj: str, ids: list[str]) -> set[str]:
        quoted = ", ".join(f"'{i}'" for i in ids)
        soql = f"SELECT Id FROM {obj} WHERE Id IN ({quoted}) AND IsDeleted = false"
        return {r["Id"] for r in self.sf.query_all(soql, include_deleted=True)["records"]}


def _by_person(records: list[dict[str, Any]], field: str, owners: dict[str, str]) -> dict:
    """Record ids per student number (``owners``: person Id → number)."""
    out: dict[str, list[str]] = {}
    for r in records:
        out.setdefault(owners[r[field]], []).append(r["Id"])
    return out


def test_education_cloud_purge_takes_ended_persons_with_their_education_records(
    ec_org, tmp_path
) -> None:
    p = Project("education-cloud", ec_org, tmp_path / "p")
    accounts = p.q("SELECT Id, SIS_Student_Number__pc FROM Account WHERE IsPersonAccount = true")
    owner = {a["Id"]: a["SIS_Student_Number__pc"] for a in accounts}
    account = {n: i for i, n in owner.items()}
    programs = _by_person(p.q("SELECT Id, LearnerAccountId FROM LearnerProgram"),
                          "LearnerAccountId", owner)  # fmt: skip
    apps = _by_person(p.q("SELECT Id, AccountId FROM IndividualApplication"), "AccountId", owner)
    assert set(programs) == {ENDED, CONSENTED, ENROLLED} and set(apps) == {REJECTED}

    out = p.purge()

    assert out.exit_code == 0 and out.persons == 2, out
    assert p.alive("Account", list(account.values())) == {account[CONSENTED], account[ENROLLED]}
    assert not p.alive("LearnerProgram", [*programs[ENDED], *programs[CONSENTED]])
    assert not p.alive("IndividualApplication", apps[REJECTED])
    assert p.alive("LearnerProgram", programs[ENROLLED]) == set(programs[ENROLLED])
    [kept] = p.q(f"SELECT FirstName, PersonEmail, Consent_News__pc FROM Account "
                 f"WHERE Id = '{account[CONSENTED]}'")  # fmt: skip
    assert kept["Consent_News__pc"] is True  # the consent still holds: the person stays
    assert kept["FirstName"] is None and kept["PersonEmail"] is None  # enrolment's fields go
    # The report says what happened to the kept person's LearnerProgram (issue #10 re-audit).
    reasons = {g.reason for g in out.groups if g.object == "LearnerProgram"}
    assert any("expired for its person" in r and "the person stays" in r for r in reasons), reasons
    lines = [x for x in report_text(report_data(out)).splitlines() if "(LearnerProgram)" in x]
    assert any("the person stays" in x and "with its person" not in x for x in lines), lines


def test_eda_purge_takes_ended_persons_with_their_affiliations_and_enrolments(
    eda_org, tmp_path
) -> None:
    p = Project("eda", eda_org, tmp_path / "p")
    contacts = p.q("SELECT Id, SIS_Student_Number__c, AccountId FROM Contact")
    owner = {c["Id"]: c["SIS_Student_Number__c"] for c in contacts}
    contact = {n: i for i, n in owner.items()}
    admin = {c["SIS_Student_Number__c"]: c["AccountId"] for c in contacts}
    affiliations = _by_person(p.q("SELECT Id, hed__Contact__c FROM hed__Affiliation__c"),
                              "hed__Contact__c", owner)  # fmt: skip
    enrolments = _by_person(p.q("SELECT Id, hed__Contact__c FROM hed__Program_Enrollment__c"),
                            "hed__Contact__c", owner)  # fmt: skip
    assert set(affiliations) == set(PEOPLE) and set(enrolments) == {ENDED, CONSENTED, ENROLLED}

    out = p.purge()

    assert out.exit_code == 0 and out.persons == 2, out
    assert p.alive("Contact", list(contact.values())) == {contact[CONSENTED], contact[ENROLLED]}
    gone = [*affiliations[ENDED], *affiliations[REJECTED], *affiliations[CONSENTED]]
    assert not p.alive("hed__Affiliation__c", gone)
    assert not p.alive("hed__Program_Enrollment__c", [*enrolments[ENDED], *enrolments[CONSENTED]])
    assert not p.alive("Account", [admin[ENDED], admin[REJECTED]])  # the Administrative ones
    assert p.alive("hed__Affiliation__c", affiliations[ENROLLED]) == set(affiliations[ENROLLED])
    assert p.alive("hed__Program_Enrollment__c", enrolments[ENROLLED])
    kept_reasons = {g.reason for g in out.groups if g.object == "hed__Affiliation__c"}
    assert any("the person stays" in r for r in kept_reasons), kept_reasons


def test_purge_records_the_api_calls_it_made(ec_org, tmp_path) -> None:
    p = Project("education-cloud", ec_org, tmp_path / "p")
    before = p.emu.stats()["api_calls"]
    out = p.purge()
    used = p.emu.stats()["api_calls"] - before
    assert out.deleted >= 4 and used > 0
    store = open_existing(p.settings(PURGED).state.url)
    try:
        [run] = store.recent_runs(1, job="purge")
    finally:
        store.close()
    assert run.api_calls == used


def test_erase_leaves_another_learners_program_that_names_the_person_as_contact(
    ec_org, tmp_path
) -> None:
    p = Project("education-cloud", ec_org, tmp_path / "p")
    accounts = p.q("SELECT Id, PersonContactId, SIS_Student_Number__pc FROM Account "
                   "WHERE IsPersonAccount = true")  # fmt: skip
    by_number = {a["SIS_Student_Number__pc"]: a for a in accounts}
    erased, other = by_number[ENROLLED], by_number[CONSENTED]
    [plan] = p.q("SELECT LearningProgramPlanId FROM LearnerProgram LIMIT 1")
    # Hand-made and inconsistent: the other learner's programme, the erased one as contact.
    theirs = p.sf.LearnerProgram.create({
        "Name": "x", "LearnerAccountId": other["Id"], "LearnerContactId": erased["PersonContactId"],
        "LearningProgramPlanId": plan["LearningProgramPlanId"],
    })["id"]  # fmt: skip
    hasher = KeyHasher(SECRET)
    out = erase_person(p.settings(SYNCED), subject_of(hasher, student_number=ENROLLED),
                       apply=True, hasher=hasher, student_number=ENROLLED)  # fmt: skip

    assert out.status == "erased", out.cause
    assert not p.alive("Account", [erased["Id"]])
    assert theirs not in {i.sf_id for i in out.graph.items}
    [kept] = p.q(f"SELECT LearnerAccountId, LearnerContactId FROM LearnerProgram "
                 f"WHERE Id = '{theirs}'")  # fmt: skip
    assert kept["LearnerAccountId"] == other["Id"] and kept["LearnerContactId"] is None
