"""Erasure, purge and export across the education graph (issue 10.4), against the emulator with
each model's org shape and the real simple-salesforce client: the shipped mapping sets
(``init --model``) synced to programmes the admin created, plus records staff (or EDA's
triggers) made in the org; after ``erase`` queryAll finds none of the person's records alive.
"""

from __future__ import annotations

import csv
import shutil
from datetime import date
from pathlib import Path
from typing import Any

from gdprfixtures import _app
from typer.testing import CliRunner

from connector.commands.mapping import model_folder
from connector.config import Settings, load_settings
from connector.demo.dataset import generate
from connector.demo.org_setup import create_programmes
from connector.emulator.testing import EmulatorHandle
from connector.gdpr.erasure import subject_of
from connector.gdpr.erasure_job import erase_person
from connector.gdpr.export_job import export_person
from connector.hashing import KeyHasher
from connector.sync.job import run_job

SECRET = "education-graph-test-secret-0123456789abcdef"
TODAY = date(2026, 11, 20)
NOW = "2026-11-20T09:00:00+00:00"


class Synced:
    """The shipped set of ``model`` synced once on a fresh org; helpers to look around."""

    def __init__(self, model: str, emu: EmulatorHandle, folder: Path):
        emu.reset()
        self.model, self.emu, self.folder = model, emu, folder
        shutil.copytree(model_folder(model), folder)
        generate(folder, students=8, applicants=4, registrations=10, today=TODAY, malformed=False)
        self.sf = emu.client()
        create_programmes(self.sf, model)
        report = run_job(self.settings(), job="nightly")
        assert report.mappings["students"].created >= 8, report.summary()
        with (folder / "data" / "studenten.csv").open(encoding="utf-8-sig", newline="") as f:
            self.rows = list(csv.DictReader(f, delimiter=";"))

    def env(self) -> dict[str, str]:
        return {
            **self.emu.sync_env(),
            "SIS_SYNC_SECRET": SECRET,
            "SIS_SYNC_NOW": NOW,
        }

    def settings(self) -> Settings:
        return load_settings(self.folder / "sync.yaml", env=self.env())

    def preview(self, number: str) -> list[str]:
        """``sis-sync erase --student-number N`` (dry run): the objects its table lists, in
        order (issue #10: the order they are deleted in)."""
        app = _app(self.folder / "sync.yaml")
        env = {**self.env(), "COLUMNS": "250"}  # no wrapped cells
        result = CliRunner().invoke(app, ["erase", "--student-number", number], env=env)
        assert result.exit_code == 0, result.output
        assert "deleted in this order, top to bottom" in result.output
        rows = [line.split("│") for line in result.output.splitlines() if line.startswith("│")]
        return [cells[1].strip() for cells in rows if len(cells) > 2 and cells[1].strip()]

    def enrolled(self) -> list[str]:
        return [r["studentnummer"] for r in self.rows if r["status"] == "ingeschreven"]

    def q(self, soql: str) -> list[dict[str, Any]]:
        return self.sf.query_all(soql)["records"]

    def erase(self, number: str) -> Any:
        hasher = KeyHasher(SECRET)
        subject = subject_of(hasher, student_number=number)
        return erase_person(
            self.settings(), subject, apply=True, hasher=hasher, student_number=number
        )

    def export(self, number: str) -> Any:
        hasher = KeyHasher(SECRET)
        subject = subject_of(hasher, student_number=number)
        return export_person(self.settings(), subject, hasher=hasher)


def _still_there(s: Synced, by_object: dict[str, list[str]]) -> dict[str, int]:
    """Per object, how many of ``ids`` queryAll finds with IsDeleted = false."""
    out: dict[str, int] = {}
    for obj, ids in by_object.items():
        if not ids:
            continue
        quoted = ", ".join(f"'{i}'" for i in ids)
        soql = f"SELECT Id FROM {obj} WHERE Id IN ({quoted}) AND IsDeleted = false"
        out[obj] = len(s.sf.query_all(soql, include_deleted=True)["records"])
    return {k: v for k, v in out.items() if v}


def test_education_cloud_erase_leaves_nothing_of_the_person(ec_org, tmp_path) -> None:
    s = Synced("education-cloud", ec_org, tmp_path / "p")
    number, other = s.enrolled()[:2]
    [acc] = s.q(
        f"SELECT Id, PersonContactId FROM Account WHERE SIS_Student_Number__pc = '{number}'"
    )
    account, contact = acc["Id"], acc["PersonContactId"]
    # Staff made these in the org (no mapping knows them).
    term = s.sf.AcademicTerm.create({"Name": "2026-2027"})["id"]
    ate = s.sf.AcademicTermEnrollment.create(
        {"Name": "x", "LearnerAccountId": account, "AcademicTermId": term}
    )["id"]
    profile = s.sf.ContactProfile.create({"Name": "x", "ContactId": contact})["id"]
    app = s.sf.IndividualApplication.create({"AccountId": account, "Category": "Education"})["id"]
    [lp] = s.q(f"SELECT Id FROM LearnerProgram WHERE LearnerAccountId = '{account}'")
    members = [m["Id"] for m in s.q(f"SELECT Id FROM CampaignMember WHERE ContactId = '{contact}'")]

    exported = s.export(number)
    objects = {r.object for r in exported.salesforce}
    assert {"Account", "LearnerProgram", "AcademicTermEnrollment", "ContactProfile",
            "IndividualApplication"} <= objects, objects  # fmt: skip

    shown = s.preview(number)
    # The person account after every education child, the Individual (when any) after it.
    assert shown.index("Account") > max(shown.index(o) for o in ("LearnerProgram",
            "AcademicTermEnrollment", "ContactProfile", "IndividualApplication")), shown  # fmt: skip
    assert all(o == "Individual" for o in shown[shown.index("Account") + 1 :]), shown
    assert "Contact" not in shown  # the person contact goes with the Account

    outcome = s.erase(number)
    assert outcome.status == "erased", outcome.status
    gone = {
        "Account": [account], "Contact": [contact], "LearnerProgram": [lp["Id"]],
        "AcademicTermEnrollment": [ate], "ContactProfile": [profile],
        "IndividualApplication": [app], "CampaignMember": members,
    }  # fmt: skip
    assert _still_there(s, gone) == {}
    # The other student's records stay; the programmes (the admin's) stay.
    assert s.q(f"SELECT Id FROM Account WHERE SIS_Student_Number__pc = '{other}'")
    assert len(s.q("SELECT Id FROM LearningProgram")) == 15
    assert s.q("SELECT Id FROM AcademicTerm")
    again = run_job(s.settings(), job="nightly")
    assert sum(m.written for m in again.mappings.values()) == 0, again.summary()


def _administrative(s: Synced, contact: str, name: str) -> str:
    """Play EDA's trigger: an Administrative Account for the Contact (the emulator runs no TDTM)."""
    [rt] = s.q(
        "SELECT Id FROM RecordType WHERE SobjectType = 'Account' "
        "AND DeveloperName = 'Administrative'"
    )
    account = s.sf.Account.create(
        {"Name": f"{name} Administrative Account", "RecordTypeId": rt["Id"]}
    )
    s.sf.Contact.update(contact, {"AccountId": account["id"]})
    return str(account["id"])


def test_eda_erase_deletes_set_null_children_and_the_administrative_account(
    eda_org, tmp_path
) -> None:
    s = Synced("eda", eda_org, tmp_path / "p")
    number, shared = s.enrolled()[:2]
    [c] = s.q(f"SELECT Id FROM Contact WHERE SIS_Student_Number__c = '{number}'")
    contact = c["Id"]
    admin = _administrative(s, contact, "A")
    address = s.sf.hed__Address__c.create({"hed__Parent_Contact__c": contact})["id"]
    [pe] = s.q(f"SELECT Id FROM hed__Program_Enrollment__c WHERE hed__Contact__c = '{contact}'")
    course = s.sf.hed__Course_Enrollment__c.create(
        {"hed__Contact__c": contact, "hed__Program_Enrollment__c": pe["Id"]}
    )["id"]
    [aff] = s.q(f"SELECT Id FROM hed__Affiliation__c WHERE hed__Contact__c = '{contact}'")
    # A second student whose Administrative Account also holds a parent's Contact: it stays.
    [c2] = s.q(f"SELECT Id FROM Contact WHERE SIS_Student_Number__c = '{shared}'")
    family = _administrative(s, c2["Id"], "B")
    s.sf.Contact.create({"LastName": "Ouder", "AccountId": family})

    exported = s.export(number)
    objects = {r.object for r in exported.salesforce}
    assert {"Contact", "hed__Affiliation__c", "hed__Program_Enrollment__c",
            "hed__Course_Enrollment__c", "hed__Address__c", "Account"} <= objects, objects  # fmt: skip

    shown = s.preview(number)
    # Found after the Contact's children, deleted after the Contact: listed after it too.
    assert shown.index("hed__Affiliation__c") < shown.index("Contact") < shown.index("Account")
    assert shown.index("hed__Program_Enrollment__c") < shown.index("hed__Affiliation__c")

    outcome = s.erase(number)
    assert outcome.status == "erased", outcome.status
    gone = {
        "Contact": [contact], "Account": [admin], "hed__Affiliation__c": [aff["Id"]],
        "hed__Program_Enrollment__c": [pe["Id"]], "hed__Course_Enrollment__c": [course],
        "hed__Address__c": [address],
    }  # fmt: skip
    assert _still_there(s, gone) == {}

    assert s.erase(shared).status == "erased"
    assert _still_there(s, {"Contact": [c2["Id"]]}) == {}
    assert _still_there(s, {"Account": [family]}) == {"Account": 1}  # holds the parent
    assert len(s.q("SELECT Id FROM Account WHERE Crebo__c != null")) == 15  # the programmes
