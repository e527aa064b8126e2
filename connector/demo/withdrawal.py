"""The demo's withdrawal (GDPR art. 7(3)): one student says "nee" to the news after all.

After the no-op rerun, the demo plays the student-information system once more: a student whose
news consent Salesforce holds (``Consent_News__c`` true, not opted out) withdraws it, with the
moment and where the school learnt it, in ``data/studenten.csv``. The next run then

- sets ``HasOptedOutOfEmail`` on their Contact (the shipped ``recruitment_news`` purpose names it
  as its ``opt_out`` field), or ``PersonHasOptedOutOfEmail`` on their person account (Education
  Cloud), and clears the consent fields, and
- updates the same ``ContactPointTypeConsent`` to ``OptOut`` with the withdrawal's date, so
  Salesforce keeps the history (where the org has the consent objects; a person account's
  through its ``PersonIndividualId``, docs/privacy.md).

:func:`withdraw_one` edits the file; :func:`seen_in_org` reads the outcome back through the
plain client, as a privacy officer would look. Only Salesforce Ids are shown, never the person.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from simple_salesforce import format_soql

from connector.demo.dataset import STUDENTS_FILE, write_csv
from connector.mapping.compile import person_account_field

PURPOSE = "recruitment_news"
SOURCE = "e-mail aan de studentenbalie"


@dataclass(frozen=True, slots=True)
class Target:
    """Where a model's students are: object and the names of the fields the demo reads."""

    object: str  # Contact | Account (person account)
    number: str  # the student number (external id)
    consent: str  # the news consent flag
    opted_out: str  # the news opt-out
    individual: str  # the link to the Individual

    @classmethod
    def of(cls, obj: str, external_id: str, opt_out: str, person_account: bool) -> Target:
        """The fields of a students mapping on ``obj``; ``opt_out`` named as on Contact."""
        if person_account:
            return cls(obj, external_id, "Consent_News__pc", person_account_field(opt_out),
                       "PersonIndividualId")  # fmt: skip
        return cls(obj, external_id, "Consent_News__c", opt_out, "IndividualId")


CONTACT = Target("Contact", "SIS_Student_Number__c", "Consent_News__c", "HasOptedOutOfEmail",
                 "IndividualId")  # fmt: skip


def withdraw_one(
    client: Any, folder: Path, moment: datetime, target: Target = CONTACT
) -> str | None:
    """Make one student with a news consent in the org withdraw it in ``data/studenten.csv``.

    Returns the student number (to look the Contact up again), or None when no Contact holds
    the news consent (another data model, or a data set without one).
    """
    t = target  # field names as literals (format_soql's :literal), from the shipped mappings
    found = client.query(
        format_soql(
            "SELECT {n:literal} FROM {o:literal} WHERE {c:literal} = true AND {x:literal} = false"
            " AND {n:literal} != null ORDER BY {n:literal} LIMIT 1",
            n=t.number,
            o=t.object,
            c=t.consent,
            x=t.opted_out,
        )
    )["records"]
    if not found:
        return None
    number = str(found[0][t.number])
    path = folder / "data" / STUDENTS_FILE
    with path.open(encoding="utf-8-sig", newline="") as fh:
        header, *rows = list(csv.reader(fh, delimiter=";"))
    col = {name: n for n, name in enumerate(header)}
    for row in rows:
        if row[col["studentnummer"]].strip() == number:
            row[col["toestemming_nieuws"]] = "nee"
            row[col["toestemming_nieuws_op"]] = moment.isoformat(timespec="seconds")
            row[col["toestemming_nieuws_bron"]] = SOURCE
    write_csv(path, header, rows, ";", "utf-8-sig", "\r\n")
    return number


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """What Salesforce holds after the withdrawal: the Contact and its news consent record."""

    contact_id: str
    opted_out: bool
    consent_id: str | None  # None where the org has no consent objects
    consent_status: str | None
    object: str = "Contact"
    opt_out_field: str = "HasOptedOutOfEmail"

    @property
    def holds(self) -> bool:
        """The opt-out is set, and the consent record (if the org has one) says OptOut."""
        return self.opted_out and self.consent_status in (None, "OptOut")


def seen_in_org(client: Any, number: str, target: Target = CONTACT) -> Withdrawal:
    """Read the withdrawn student's record and news consent record back from the org."""
    t = target
    [contact] = client.query(
        format_soql(
            "SELECT Id, {x:literal}, {i:literal} FROM {o:literal} WHERE {n:literal} = {v}",
            x=t.opted_out,
            i=t.individual,
            o=t.object,
            n=t.number,
            v=number,
        )
    )["records"]
    consent: dict[str, Any] = {}
    if contact.get(t.individual):
        records = client.query(
            format_soql(
                "SELECT Id, PrivacyConsentStatus FROM ContactPointTypeConsent"
                " WHERE PartyId = {} AND DataUsePurpose.Name = {}",
                contact[t.individual],
                PURPOSE,
            )
        )["records"]
        consent = records[0] if records else {}
    return Withdrawal(
        str(contact["Id"]),
        bool(contact[t.opted_out]),
        consent.get("Id"),
        consent.get("PrivacyConsentStatus"),
        t.object,
        t.opted_out,
    )


def describe(seen: Withdrawal) -> str:
    """One line for the demo's output: Ids and values, no personal data."""
    line = f"{seen.object} {seen.contact_id}: {seen.opt_out_field} = {str(seen.opted_out).lower()}"
    if seen.consent_id:
        line += (
            f"; ContactPointTypeConsent {seen.consent_id} ({PURPOSE}): "
            f"{seen.consent_status} (the same record, updated: Salesforce keeps its history)"
        )
    return line


def demo_withdrawal(emu: Any, folder: Path, settings: Any, secret: str, console: Any) -> bool:
    """The demo's third step: one withdrawal, one run, and what Salesforce holds after it.

    Returns False when the withdrawal did not land as it should (the demo then fails); True
    also when the data model has no Contact with a news consent (nothing to show).
    """
    from rich.markup import escape

    from connector.mapping import load_project
    from connector.sync.job import run_job

    project = load_project(settings.mappings)
    purpose = project.purposes.purposes.get(PURPOSE)
    students = project.mappings.get("students")
    if purpose is None or purpose.consent is None or not purpose.consent.opt_out or not students:
        return True  # a set that names no news opt-out for its students (a custom set)
    tg = students.target
    target = Target.of(tg.object, tg.external_id, purpose.consent.opt_out, tg.person_account)
    number = withdraw_one(emu.client(), folder, settings.clock(), target)
    if number is None:
        return True
    console.print(
        'One student withdraws the news consent ("nee", with its moment and source):',
        highlight=False,
    )
    report = run_job(settings, job="nightly", secret=secret)
    console.print(escape(report.summary()), highlight=False)
    seen = seen_in_org(emu.client(), number, target)
    console.print(f"  {escape(describe(seen))}\n", highlight=False)
    # Exit 1 is expected: the demo data holds deliberately malformed rows.
    return report.status != "failed" and not report.stopped and seen.holds
