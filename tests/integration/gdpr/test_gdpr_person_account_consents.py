"""Erase, export and purge of a person account reach its Individual and consents (issue #9 item 1
for person accounts), against the emulator with ``--person-accounts``, the shipped
education-cloud set and the real simple-salesforce client.

The sync links a person account's Individual through ``Account.PersonIndividualId``; Salesforce
shows it as the person contact's ``IndividualId``, and the erasure graph finds it there
(``connector/gdpr/consent_graph.py``). Deleting the Account does not delete its Individual nor
the consents hanging on it (lookups), so erase and purge delete them themselves."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Any

from connector.commands.mapping import model_folder
from connector.config import Settings, load_settings
from connector.demo import REGISTRATION_COLUMNS, STUDENT_COLUMNS
from connector.demo.org_setup import create_programmes
from connector.emulator.testing import EmulatorHandle
from connector.gdpr.erasure import subject_of
from connector.gdpr.erasure_job import erase_person
from connector.gdpr.export_job import export_person
from connector.gdpr.export_model import ConsentOrigin
from connector.gdpr.purge_job import run_purge
from connector.hashing import KeyHasher
from connector.state import open_existing
from connector.sync.job import run_job

SECRET = "person-account-gdpr-secret-0123456789abcdef"
SYNCED = "2026-12-02T09:00:00+01:00"
PURGED = "2027-03-01T10:00:00+01:00"  # 1 December 2026 + P1M (enrolment) has passed
NEWS = {
    "toestemming_nieuws": "ja",
    "toestemming_nieuws_op": "2026-10-01T12:00:00+02:00",
    "toestemming_nieuws_bron": "aanmeldformulier",
}
PHONE = {
    "toestemming_bellen": "ja",
    "toestemming_bellen_op": "2026-10-01T12:00:00+02:00",
    "toestemming_bellen_door": "self",
    "toestemming_bellen_bron": "aanmeldformulier",
}
WITHDRAWN = {  # "nee" with its date: an OptOut record
    "toestemming_nieuws": "nee",
    "toestemming_nieuws_op": "2026-10-01T12:00:00+02:00",
    "toestemming_nieuws_bron": "aanmeldformulier",
}
# number → (status, status_datum, consents)
PEOPLE = {
    "600001": ("ingeschreven", "01-09-2026", {**NEWS, **PHONE}),  # erased / exported
    "600002": ("ingeschreven", "01-09-2026", NEWS),  # stays
    "600003": ("uitgeschreven", "01-12-2026", WITHDRAWN),  # purged with its OptOut
}
ERASED, KEPT, ENDED = PEOPLE


class Project:
    """The shipped education-cloud set with :data:`PEOPLE`, synced once on a reset org."""

    def __init__(self, emu: EmulatorHandle, folder: Path):
        emu.reset()
        self.emu, self.folder = emu, folder
        shutil.copytree(model_folder("education-cloud"), folder)
        (folder / "data").mkdir(exist_ok=True)
        rows = []
        for number, (status, day, consents) in PEOPLE.items():
            row = {c: "" for c in STUDENT_COLUMNS}
            row.update(
                studentnummer=number, achternaam="Visser", roepnaam="Lotte",
                geboortedatum="01-01-2004", email=f"p{number}@voorbeeld.example",
                crebo="25655", status=status, status_datum=day, **consents,
            )  # fmt: skip
            rows.append(row)
        with (folder / "data" / "studenten.csv").open("w", encoding="utf-8-sig", newline="") as f:
            w = csv.DictWriter(f, STUDENT_COLUMNS, delimiter=";")
            w.writeheader()
            w.writerows(rows)
        with (folder / "data" / "aanmeldingen_opendag.csv").open("w", encoding="utf-8") as f:
            csv.DictWriter(f, REGISTRATION_COLUMNS).writeheader()
        self.sf = emu.client()
        create_programmes(self.sf, "education-cloud")
        report = run_job(self.settings(SYNCED), job="nightly")
        assert report.exit_code() == 0, report.summary()
        assert report.mappings["consent:individual"].created == 3, report.summary()

    def settings(self, now: str = SYNCED) -> Settings:
        env = {
            **self.emu.sync_env(),
            "SIS_SYNC_SECRET": SECRET,
            "SIS_SYNC_NOW": now,
        }
        return load_settings(self.folder / "sync.yaml", env=env)

    def q(self, soql: str) -> list[dict[str, Any]]:
        return self.sf.query_all(soql)["records"]

    def model(self, number: str) -> dict[str, Any]:
        """A person account's Individual, its consents and the keys state remembers."""
        [acc] = self.q(
            f"SELECT Id, PersonIndividualId FROM Account WHERE SIS_Student_Number__pc = '{number}'"
        )
        ind = acc["PersonIndividualId"]
        assert ind, "the sync linked no Individual"
        [individual] = self.q(f"SELECT SIS_Individual_Key__c FROM Individual WHERE Id = '{ind}'")
        consents = self.q(
            "SELECT Id, SIS_Consent_Key__c, DataUsePurpose.Name FROM ContactPointTypeConsent"
            f" WHERE PartyId = '{ind}'"
        )
        assert consents
        return {
            "account": acc["Id"],
            "individual": ind,
            "consents": {c["Id"] for c in consents},
            "keys": {
                ("consent:individual", individual["SIS_Individual_Key__c"]),
                *((f"consent:{c['DataUsePurpose']['Name']}", c["SIS_Consent_Key__c"])
                  for c in consents),
            },
        }  # fmt: skip

    def live(self, obj: str, ids: set[str]) -> set[str]:
        """Which of ``ids`` queryAll still shows as not deleted."""
        quoted = ", ".join(f"'{i}'" for i in ids)
        soql = f"SELECT Id, IsDeleted FROM {obj} WHERE Id IN ({quoted})"
        rows = self.sf.query_all(soql, include_deleted=True)["records"]
        return {r["Id"] for r in rows if not r["IsDeleted"]}

    def remembered(self, model: dict[str, Any]) -> set[tuple[str, str]]:
        """Which of the model's records local state still holds (not deleted)."""
        store = open_existing(self.settings().state.url)
        try:
            return {
                (m, k)
                for m, k in model["keys"]
                if (row := store.lookup(m, [k]).get(k)) is not None and row.deleted_at is None
            }
        finally:
            store.close()


def test_erase_of_a_person_account_deletes_its_individual_and_consents(ec_org, tmp_path):
    p = Project(ec_org, tmp_path / "p")
    person, other = p.model(ERASED), p.model(KEPT)
    assert p.remembered(person) == person["keys"]
    hasher = KeyHasher(SECRET)

    outcome = erase_person(
        p.settings(),
        subject_of(hasher, student_number=ERASED),
        apply=True,
        hasher=hasher,
        student_number=ERASED,
    )

    assert outcome is not None
    assert not p.live("Account", {person["account"]})
    assert not p.live("Individual", {person["individual"]})
    assert not p.live("ContactPointTypeConsent", person["consents"])
    assert p.live("Individual", {other["individual"]}) == {other["individual"]}
    assert p.live("ContactPointTypeConsent", other["consents"]) == other["consents"]
    assert p.remembered(person) == set()
    assert p.remembered(other) == other["keys"]
    # The next run writes nothing of the erased person, consent records included.
    again = run_job(p.settings(), job="nightly")
    assert again.mappings["students"].suppressed == 1, again.summary()
    assert not any(n.startswith("consent:") for n in again.mappings), again.summary()


def test_export_of_a_person_account_holds_its_individual_and_consents(ec_org, tmp_path):
    p = Project(ec_org, tmp_path / "p")
    person = p.model(ERASED)
    hasher = KeyHasher(SECRET)

    export = export_person(p.settings(), subject_of(hasher, student_number=ERASED), hasher=hasher)

    assert export is not None
    held = {(r.object, r.sf_id) for r in export.consent_records}
    assert held == {
        ("Individual", person["individual"]),
        *(("ContactPointTypeConsent", c) for c in person["consents"]),
    }
    proofs = {c.purpose: c for c in export.consents if c.origin is ConsentOrigin.CONSENT_RECORD}
    assert set(proofs) == {"recruitment_news", "phone_contact"}
    assert proofs["recruitment_news"].status == "OptIn"
    assert proofs["recruitment_news"].source == "aanmeldformulier"


def test_purge_of_a_person_account_deletes_its_individual_and_consents(ec_org, tmp_path):
    p = Project(ec_org, tmp_path / "p")
    ended, kept = p.model(ENDED), p.model(KEPT)

    out = run_purge(p.settings(PURGED), apply=True, hasher=KeyHasher(SECRET))

    assert out.exit_code == 0, out
    assert not p.live("Account", {ended["account"]})
    assert not p.live("Individual", {ended["individual"]})
    assert not p.live("ContactPointTypeConsent", ended["consents"])
    assert p.live("Individual", {kept["individual"]}) == {kept["individual"]}
    assert p.live("ContactPointTypeConsent", kept["consents"]) == kept["consents"]
    assert p.remembered(ended) == set()
    assert p.remembered(kept) == kept["keys"]
