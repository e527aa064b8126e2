"""Org-model configuration errors (a2-F7): every problem of `validate --online` once, with
file:line:key; and a `run` whose mapping needs a record type or person accounts the org lacks
exits 2 before anything is written (not 1 after its parents were written)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connector.cli import app
from connector.emulator.testing import running_emulator

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sync"))
from orgmodel import EVENTS, STUDENTS, eda_emulator, org_project

__all__ = ["eda_emulator"]

ENROLMENTS = """\
name: enrolments
source: {kind: csv, path: data/enrolments.csv, key: id}
target: {object: hed__Program_Enrollment__c, external_id: SIS_Sync_Key__c}
fields:
  Geen_Veld__c: {from: id, purposes: [enrolment]}
  hed__Programme__c:
    from: crebo
    lookup: {object: Account, external_id: Crebo__c}
    purposes: [enrolment]
"""


def _cli(project, monkeypatch, *args: str):
    for key, value in project.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(project.folder)
    return CliRunner().invoke(app, list(args))


def _errors(project, output: str) -> list[str]:
    """The `error:` lines of ``output``, with paths relative to the mappings folder."""
    folder = str(project.folder / "mappings") + "/"
    return [ln.replace(folder, "") for ln in output.splitlines() if ln.startswith("error:")]


def test_every_online_problem_once_with_file_line_and_key(eda_emulator, tmp_path, monkeypatch):
    project = org_project(eda_emulator, tmp_path / "p", enrolments=ENROLMENTS)
    result = _cli(project, monkeypatch, "validate", "--online")
    assert result.exit_code == 2, result.output
    errors = _errors(project, result.output)
    assert errors == [
        "error: enrolments.yaml:5: fields.Geen_Veld__c: "
        "hed__Program_Enrollment__c.Geen_Veld__c: no such field",
        "error: enrolments.yaml:8: fields.hed__Programme__c.lookup: "
        "hed__Program_Enrollment__c.hed__Programme__c: no such field in the org",
    ], result.output


def test_a_missing_object_is_said_once(eda_emulator, tmp_path, monkeypatch):
    text = ENROLMENTS.replace("hed__Program_Enrollment__c", "Geen_Object__c")
    project = org_project(eda_emulator, tmp_path / "p", enrolments=text)
    result = _cli(project, monkeypatch, "validate", "--online")
    assert result.exit_code == 2, result.output
    errors = _errors(project, result.output)
    assert errors == [
        "error: enrolments.yaml:3: target.object: Geen_Object__c: no such object in the org"
    ], result.output


@pytest.fixture
def plain_org(tmp_path):
    with running_emulator(tmp_path / "org") as emu:  # person accounts not enabled
        yield emu


def test_person_accounts_missing_is_exit_2_before_anything_is_written(
    plain_org, tmp_path, monkeypatch
):
    # events comes first in the job and needs nothing the org lacks: it must not be written.
    project = org_project(plain_org, tmp_path / "p", events=EVENTS, students=STUDENTS)
    project.data("members", ["event", "nr"], [["OD-1", "100001"]])
    project.data("students", ["nr", "last", "first"], [["100001", "Vries", "Sanne"]])
    result = subprocess.run(
        [sys.executable, "-m", "connector", "run", "nightly"],
        cwd=project.folder,
        env={**os.environ, **project.env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    out = " ".join(result.stderr.split())
    assert (
        "students.yaml:3: target.person_account: the org has no person-account record type" in out
    ), out
    assert project.query("SELECT Id FROM Campaign") == []
    assert not (project.folder / "state" / "sync.db").exists()  # no state, no run recorded
    status = _cli(project, monkeypatch, "status", "--json")
    assert (status.exit_code == 0 and "no runs yet" in status.output) or (
        json.loads(status.output)["runs"] == []
    ), status.output
