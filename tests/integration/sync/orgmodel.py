"""A small project of hand-written mappings for the org-model tests (person accounts, lookups,
record types, target.mode), against an emulator started with ``person_accounts=True``."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connector.config import Settings, load_settings
from connector.emulator.testing import EmulatorHandle, running_emulator
from connector.report import RunReport
from connector.sync.job import run_job

NOW = "2026-11-20T09:00:00+00:00"
SECRET = "integration-test-secret-0123456789abcdef"

PURPOSES = """\
controller: ROC Test
purposes:
  enrolment:
    description: Inschrijving
    lawful_basis: contract
    retention: {after: lifecycle_end, keep: P1M}
"""

SYNC = """\
mappings: ./mappings
state: {url: "sqlite:///state/sync.db"}
salesforce: {url: https://login.salesforce.com, auth: client_credentials, client_id: x}
jobs:
  - {name: nightly, mappings: [%s]}
"""

#: Students as person accounts (identity by student number), keyed by ``nr``.
STUDENTS = """\
name: students
source: {kind: csv, path: data/students.csv, key: nr}
target: {object: Account, external_id: SIS_Student_Number__pc, person_account: true}
identity: {student_number: nr}
fields:
  SIS_Student_Number__pc: {from: nr, purposes: [enrolment]}
  LastName: {from: last, required: true, purposes: [enrolment]}
  FirstName: {from: first, purposes: [enrolment]}
"""

EVENTS = """\
name: events
source: {kind: csv, path: data/members.csv, key: event}
duplicates: last_wins
target: {object: Campaign, external_id: Event_Id__c}
fields:
  Event_Id__c: {from: event, purposes: [enrolment]}
  Name: {from: event, purposes: [enrolment]}
"""

MEMBERS = """\
name: members
source: {kind: csv, path: data/members.csv, key: [event, nr]}
target: {object: CampaignMember, external_id: SIS_Sync_Key__c}
fields:
  CampaignId: {ref: {mapping: events, from: event}, required: true, purposes: [enrolment]}
  ContactId: {ref: {mapping: students, from: nr}, required: true, purposes: [enrolment]}
"""

#: LearnerProgram of a person account, its programme looked up by crebo (an org record).
ENROLMENTS = """\
name: enrolments
source: {kind: csv, path: data/enrolments.csv, key: id}
target: {object: LearnerProgram, external_id: SIS_Sync_Key__c}
fields:
  Name: {from: id, purposes: [enrolment]}
  LearnerAccountId: {ref: {mapping: students, from: nr}, required: true, purposes: [enrolment]}
  LearnerContactId: {ref: {mapping: students, from: nr}, purposes: [enrolment]}
  LearningProgramPlanId:
    from: plan
    lookup: {object: LearningProgramPlan, external_id: SIS_Sync_Key__c}
    purposes: [enrolment]
"""

# A Contact mapping with target.mode left to fill in (%s): update_only / insert_only tests.
MODE_CONTACTS = """\
name: contacts
source: {kind: csv, path: data/contacts.csv, key: nr}
target: {object: Contact, external_id: SIS_Student_Number__c, mode: %s}
fields:
  SIS_Student_Number__c: {from: nr, purposes: [enrolment]}
  LastName: {from: last, required: true, purposes: [enrolment]}
"""


@pytest.fixture(scope="module")
def edu_emulator(tmp_path_factory) -> Iterator[EmulatorHandle]:
    """One person-account (Education Cloud) emulator per test module."""
    with running_emulator(tmp_path_factory.mktemp("eduorg"), person_accounts=True) as emu:
        yield emu


@pytest.fixture(scope="module")
def eda_emulator(tmp_path_factory) -> Iterator[EmulatorHandle]:
    """One EDA-schema emulator (Account record types, Crebo__c) per test module."""
    from connector.emulator.org_schema import __file__ as schema_py

    eda = Path(schema_py).parent / "schemas" / "eda.json"
    with running_emulator(tmp_path_factory.mktemp("edaorg"), schema_file=eda) as emu:
        yield emu


class OrgProject:
    """A project folder with the given mapping files, wired to one emulator."""

    def __init__(self, folder: Path, emulator: EmulatorHandle, mappings: dict[str, str]):
        self.folder, self.emulator = folder, emulator
        (folder / "mappings").mkdir(parents=True)
        (folder / "data").mkdir()
        (folder / "mappings" / "purposes.yaml").write_text(PURPOSES, encoding="utf-8")
        for name, text in mappings.items():
            (folder / "mappings" / f"{name}.yaml").write_text(
                textwrap.dedent(text), encoding="utf-8"
            )
        (folder / "sync.yaml").write_text(SYNC % ", ".join(mappings), encoding="utf-8")
        self.env = {
            "SIS_SYNC_SALESFORCE__URL": emulator.url,
            "SIS_SYNC_SALESFORCE__CLIENT_SECRET": "tests",
            "SIS_SYNC_SALESFORCE__CA_BUNDLE": emulator.ca_file,
            "SIS_SYNC_SECRET": SECRET,
            "SIS_SYNC_NOW": NOW,
        }

    def data(self, name: str, header: list[str], rows: list[list[str]]) -> None:
        """Write ``data/<name>.csv`` (comma-separated)."""
        lines = [",".join(header), *(",".join(r) for r in rows)]
        (self.folder / "data" / f"{name}.csv").write_text("\n".join(lines) + "\n", "utf-8")

    def settings(self, **env: str) -> Settings:
        return load_settings(self.folder / "sync.yaml", env={**self.env, **env})

    def run(self, **env: str) -> RunReport:
        return run_job(self.settings(**env), job="nightly")

    def query(self, soql: str) -> list[dict[str, Any]]:
        return self.emulator.client().query_all(soql)["records"]

    def create(self, obj: str, values: dict[str, Any]) -> str:
        """A record made in the org by someone else (not by sis-sync)."""
        return str(getattr(self.emulator.client(), obj).create(values)["id"])


def org_project(emulator: EmulatorHandle, folder: Path, **mappings: str) -> OrgProject:
    """A fresh project on the reset emulator with ``mappings`` (name → YAML text)."""
    emulator.reset()
    emulator.faults(latency_ms=0, http_503_rate=0, lock_error_rate=0, expire_tokens=False)
    return OrgProject(folder, emulator, mappings)
