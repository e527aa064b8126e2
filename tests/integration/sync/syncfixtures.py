"""A small sync project against a real emulator: the shipped mappings, hand-written data files.

Also the emulator fixture and project set-up that the sync, CLI, service and reliability
conftests share: each imports ``emulator`` and makes its ``project`` with :func:`project_fixture`.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from connector.commands.mapping import DEFAULTS
from connector.config import Settings, load_settings
from connector.demo import REGISTRATION_COLUMNS, STUDENT_COLUMNS
from connector.emulator.testing import EmulatorHandle, running_emulator
from connector.report import RunReport
from connector.sync.job import run_job

NOW = "2026-11-20T09:00:00+00:00"
SECRET = "integration-test-secret-0123456789abcdef"
P = TypeVar("P")


@pytest.fixture(scope="module")
def emulator(tmp_path_factory) -> Iterator[EmulatorHandle]:
    """One emulator per test module (each ``project`` resets it)."""
    with running_emulator(tmp_path_factory.mktemp("org")) as emu:
        yield emu


def project_fixture(cls: Callable[[Path, EmulatorHandle], P]) -> Any:
    """A conftest's ``project`` fixture: a new ``cls`` project per test on the reset emulator.

    Use as ``project = project_fixture(SyncProject)`` beside an imported ``emulator``.
    """

    @pytest.fixture(name="project")
    def project(tmp_path: Path, emulator: EmulatorHandle) -> P:
        emulator.reset()
        emulator.faults(latency_ms=0, http_503_rate=0, lock_error_rate=0, expire_tokens=False)
        return cls(tmp_path / "project", emulator)

    return project


def student(number: str, **over: Any) -> dict[str, str]:
    """A valid adult student row; override any column."""
    row = {c: "" for c in STUDENT_COLUMNS}
    row.update(
        studentnummer=number, achternaam="Vries", tussenvoegsel="de", roepnaam="Sanne",
        voorletters="S.", geboortedatum="14-03-2004", geslacht="V",
        email=f"s{number}@school.example", mobiel="06-12345678", telefoon="",
        straat="Dorpsstraat", huisnummer="1", postcode="1234 AB", woonplaats="Utrecht",
        opleiding="Verpleegkunde", crebo="25655", leerweg="BOL", niveau="4",
        status="ingeschreven", status_datum="01-09-2026", toestemming_nieuws="ja",
        toestemming_nieuws_op="2026-09-01T10:00:00+02:00", toestemming_nieuws_bron="intake",
        toestemming_bellen="ja", toestemming_bellen_op="2026-09-01T10:00:00+02:00",
        toestemming_bellen_door="self", toestemming_bellen_bron="intake", bsn="111222333",
    )  # fmt: skip
    row.update(over)
    return row


def registration(reg_id: str, email: str, **over: Any) -> dict[str, str]:
    """A valid open-day registration row; override any column."""
    row = {c: "" for c in REGISTRATION_COLUMNS}
    row.update(
        registratie_id=reg_id, evenement_id="OD-2026-11-14-UTR",
        evenement_naam="Open dag Utrecht 14 november", evenement_type="Open dag",
        evenement_datum="2026-11-14", locatie="Utrecht", voornaam="Daan", achternaam="Bakker",
        email=email, mobiel="", geboortedatum="2008-05-01", opleiding_interesse="Kok",
        aangemeld_op="2026-10-01T12:00:00+02:00", ingecheckt="ja",
        ingecheckt_op="2026-11-14T10:05:00+01:00", qr_code="QR" + reg_id[-6:],
        toestemming_nieuws="nee",
    )  # fmt: skip
    row.update(over)
    return row


class SyncProject:
    """A project folder wired to one emulator."""

    def __init__(self, folder: Path, emulator: EmulatorHandle):
        self.folder, self.emulator = folder, emulator
        shutil.copytree(DEFAULTS, folder, dirs_exist_ok=True)
        (folder / "data").mkdir(exist_ok=True)
        self.env = {
            "SIS_SYNC_SALESFORCE__URL": emulator.url,
            "SIS_SYNC_SALESFORCE__AUTH": "client_credentials",
            "SIS_SYNC_SALESFORCE__CLIENT_ID": "tests",
            "SIS_SYNC_SALESFORCE__CLIENT_SECRET": "tests",
            "SIS_SYNC_SALESFORCE__CA_BUNDLE": emulator.ca_file,
            "SIS_SYNC_SECRET": SECRET,
            "SIS_SYNC_NOW": NOW,
        }
        self.write_students([])
        self.write_registrations([])

    def write_students(self, rows: list[dict[str, str]]) -> Path:
        path = self.folder / "data" / "studenten.csv"
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            w = csv.DictWriter(fh, STUDENT_COLUMNS, delimiter=";")
            w.writeheader()
            w.writerows(rows)
        return path

    def write_registrations(self, rows: list[dict[str, str]]) -> Path:
        path = self.folder / "data" / "aanmeldingen_opendag.csv"
        with path.open("w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, REGISTRATION_COLUMNS)
            w.writeheader()
            w.writerows(rows)
        return path

    def settings(self, **env: str) -> Settings:
        return load_settings(self.folder / "sync.yaml", env={**self.env, **env})

    def run(self, job: str | None = "nightly", **kwargs: Any) -> RunReport:
        return run_job(self.settings(), job=job, **kwargs)

    def query(self, soql: str) -> list[dict[str, Any]]:
        return self.emulator.client().query_all(soql)["records"]

    def api_calls(self) -> int:
        return self.emulator.stats()["api_calls"]
