"""``sis-sync object --apply`` on a person account (issue #9 re-audit), against the emulator with
``--person-accounts``, the shipped education-cloud set and the real simple-salesforce client.

An Account has no ``HasOptedOutOfEmail``, ``DoNotCall`` or ``IndividualId``: the objection sets
the person fields the sync writes there (``PersonHasOptedOutOfEmail``, ``PersonDoNotCall``) and
``HasOptedOutSolicit`` on the Individual behind ``PersonIndividualId``, and the request is done
only when they are set. After a lost state it records the e-mail address on the record found
(keyed hash, ``own_email``), so a later registration with that address and an opt-in is held
by the objection instead of raising an ``opt_out_conflict`` for staff."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from connector.commands.mapping import model_folder
from connector.config import Settings, load_settings
from connector.demo import REGISTRATION_COLUMNS, STUDENT_COLUMNS
from connector.demo.org_setup import create_programmes
from connector.emulator.testing import EmulatorHandle
from connector.gdpr.erasure import subject_of
from connector.gdpr.objection import object_person
from connector.hashing import KeyHasher
from connector.state import open_existing
from connector.state.objections import OWN_EMAIL
from connector.sync.job import run_job

SECRET = "person-account-objection-secret-0123456789abcdef"
NOW = "2026-12-02T09:00:00+01:00"
CONSENTS = {
    "toestemming_nieuws": "ja",
    "toestemming_nieuws_op": "2026-10-01T12:00:00+02:00",
    "toestemming_nieuws_bron": "aanmeldformulier",
    "toestemming_bellen": "ja",
    "toestemming_bellen_op": "2026-10-01T12:00:00+02:00",
    "toestemming_bellen_door": "self",
    "toestemming_bellen_bron": "aanmeldformulier",
}
OBJECTS, OTHER = "184714", "141433"
FLAGS = "PersonHasOptedOutOfEmail, PersonDoNotCall, PersonIndividualId"


def _email(number: str) -> str:
    return f"p{number}@voorbeeld.example"


class Project:
    """The shipped education-cloud set with two students who consented, synced once."""

    def __init__(self, emu: EmulatorHandle, folder: Path):
        emu.reset()
        self.emu, self.folder = emu, folder
        shutil.copytree(model_folder("education-cloud"), folder)
        (folder / "data").mkdir(exist_ok=True)
        self.write_students([OBJECTS, OTHER])
        self.write_registrations([])
        self.sf = emu.client()
        create_programmes(self.sf, "education-cloud")
        report = self.run()
        assert report.exit_code() == 0, report.summary()

    def write_students(self, numbers: list[str]) -> None:
        rows = []
        for number in numbers:
            row = {c: "" for c in STUDENT_COLUMNS}
            row.update(
                studentnummer=number, achternaam="Visser", roepnaam="Lotte",
                geboortedatum="01-01-2004", email=_email(number), crebo="25655",
                status="ingeschreven", status_datum="01-09-2026", **CONSENTS,
            )  # fmt: skip
            rows.append(row)
        path = self.folder / "data" / "studenten.csv"
        with path.open("w", encoding="utf-8-sig", newline="") as f:
            w = csv.DictWriter(f, STUDENT_COLUMNS, delimiter=";")
            w.writeheader()
            w.writerows(rows)

    def write_registrations(self, rows: list[dict[str, str]]) -> None:
        path = self.folder / "data" / "aanmeldingen_opendag.csv"
        with path.open("w", encoding="utf-8", newline="") as f:
            w = csv.DictWriter(f, REGISTRATION_COLUMNS)
            w.writeheader()
            w.writerows([{c: r.get(c, "") for c in REGISTRATION_COLUMNS} for r in rows])

    def settings(self) -> Settings:
        env = {
            **self.emu.sync_env(),
            "SIS_SYNC_SECRET": SECRET,
            "SIS_SYNC_NOW": NOW,
        }
        return load_settings(self.folder / "sync.yaml", env=env)

    def run(self) -> Any:
        return run_job(self.settings(), job="nightly")

    def account(self, number: str) -> dict[str, Any]:
        soql = f"SELECT Id, {FLAGS} FROM Account WHERE SIS_Student_Number__pc = '{number}'"
        [acc] = self.sf.query_all(soql)["records"]
        return acc

    def solicit(self, individual: str) -> bool:
        soql = f"SELECT HasOptedOutSolicit FROM Individual WHERE Id = '{individual}'"
        [row] = self.sf.query_all(soql)["records"]
        return bool(row["HasOptedOutSolicit"])

    def object(self, number: str) -> Any:
        hasher = KeyHasher(SECRET)
        return object_person(
            self.settings(), subject_of(hasher, student_number=number), apply=True,
            hasher=hasher, student_number=number,
        )  # fmt: skip


@pytest.mark.parametrize("lost", [False, True], ids=["state", "lost-state"])
def test_objection_sets_the_person_fields_and_the_individual_of_a_person_account(
    ec_org, tmp_path, lost
):
    p = Project(ec_org, tmp_path / "p")
    before, other = p.account(OBJECTS), p.account(OTHER)
    assert before["PersonHasOptedOutOfEmail"] is False and before["PersonDoNotCall"] is False
    assert before["PersonIndividualId"] and not p.solicit(before["PersonIndividualId"])
    if lost:  # the reproducer: no state, the student left the export
        shutil.rmtree(tmp_path / "p" / "state")
        p.write_students([OTHER])

    outcome = p.object(OBJECTS)

    assert outcome.status == "recorded" and outcome.exit_code == 0, outcome
    after = p.account(OBJECTS)
    assert after["PersonHasOptedOutOfEmail"] is True and after["PersonDoNotCall"] is True
    assert p.solicit(before["PersonIndividualId"]) is True
    assert outcome.changes == {"Account": 1, "Individual": 1}
    assert outcome.flags["Account"] == ("PersonDoNotCall", "PersonHasOptedOutOfEmail")
    untouched = p.account(OTHER)
    assert untouched["PersonHasOptedOutOfEmail"] is False and untouched["PersonDoNotCall"] is False
    assert not p.solicit(other["PersonIndividualId"])
    assert outcome.request is not None and outcome.request.status == "done"
    [receipt] = (tmp_path / "p" / "state" / "receipts").glob("DSR-*.json")
    data = json.loads(receipt.read_text("utf-8"))
    assert data["marked"] == {"Account": 1, "Individual": 1}
    text = receipt.with_suffix(".txt").read_text("utf-8")
    assert "PersonHasOptedOutOfEmail" in text and "Records marked in Salesforce: none" not in text
    for needle in (OBJECTS, _email(OBJECTS), after["Id"], before["PersonIndividualId"]):
        assert needle not in json.dumps(data) and needle not in text

    # Asked again: every flag is set, nothing changes, nothing new is recorded.
    again = p.object(OBJECTS)
    assert again.status == "already" and again.changes == {}


def test_objection_after_a_lost_state_holds_a_later_registration_with_that_address(
    ec_org, tmp_path
):
    p = Project(ec_org, tmp_path / "p")
    shutil.rmtree(tmp_path / "p" / "state")
    outcome = p.object(OBJECTS)
    assert outcome.status == "recorded", outcome
    hasher = KeyHasher(SECRET)
    own = hasher.key("email", _email(OBJECTS))
    assert (own, OWN_EMAIL) in outcome.hashes  # read from the record found in Salesforce
    assert p.run().exit_code() == 0

    p.write_registrations([{
        "registratie_id": "R1", "evenement_id": "OD-2026-12-19", "evenement_naam": "Open dag",
        "evenement_type": "Open dag", "evenement_datum": "2026-12-19", "locatie": "Utrecht",
        "voornaam": "Lotte", "achternaam": "Visser", "email": _email(OBJECTS),
        "aangemeld_op": "2026-11-20T10:00:00+01:00", "ingecheckt": "nee",
        "toestemming_nieuws": "ja", "toestemming_nieuws_op": "2026-11-20T10:00:00+01:00",
        "toestemming_nieuws_bron": "aanmeldformulier",
    }])  # fmt: skip
    report = p.run()

    assert report.mappings["registrants"].updated == 1, report.summary()  # joined the account
    assert not any("opt_out_conflict" in w for w in report.warning_lines()), report.summary()
    store = open_existing(p.settings().state.url)
    try:
        run_id = store.recent_runs(1)[0].run_id
        assert not [r for r in store.list_rejects(run_id) if "opt_out_conflict" in r.reason]
        assert {"recruitment_news", "phone_contact"} <= store.objected([own])[own]
    finally:
        store.close()
    after = p.account(OBJECTS)
    assert after["PersonHasOptedOutOfEmail"] is True and after["PersonDoNotCall"] is True
