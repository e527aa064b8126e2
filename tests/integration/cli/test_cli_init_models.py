"""`sis-sync init DIR --model contacts|education-cloud|eda --sample-data` as a new user runs it:
the shipped mapping set validates (offline and against the org), syncs on the emulator with the
matching org shape to programmes the school's admin created beforehand (through the plain
simple-salesforce client, not sis-sync), and a rerun writes nothing. Also `sis-sync demo --model`.
"""

from __future__ import annotations

import csv
import os
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from relfixtures import sis_sync_command

from connector.demo.org_setup import create_programmes, emulator_options
from connector.emulator.testing import EmulatorHandle, running_emulator

SECRET = "init-models-test-secret-0123456789abcdef0123"
WRITE_ROUTES = ("composite", "sobjects", "jobs/ingest")


@pytest.fixture(scope="module", params=["education-cloud", "eda"])
def model_org(request, tmp_path_factory) -> Iterator[tuple[str, EmulatorHandle]]:
    """(model, an emulator with that model's org shape), one per model."""
    model = request.param
    with running_emulator(tmp_path_factory.mktemp(model), **emulator_options(model)) as emu:
        yield model, emu


def _cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
    base.update(COLUMNS="200", NO_COLOR="1", **(env or {}))
    return subprocess.run(
        [*sis_sync_command(), *args],
        cwd=cwd,
        env=base,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _env(emu: EmulatorHandle) -> dict[str, str]:
    return {
        "SIS_SYNC_SALESFORCE__URL": emu.url,
        "SIS_SYNC_SALESFORCE__AUTH": "client_credentials",
        "SIS_SYNC_SALESFORCE__CLIENT_ID": "school",
        "SIS_SYNC_SALESFORCE__CLIENT_SECRET": "school",
        "SIS_SYNC_SALESFORCE__CA_BUNDLE": emu.ca_file,
        "SIS_SYNC_SECRET": SECRET,
        # One clock for both runs (the sample data is dated relative to today), ahead of the
        # real one whatever the hour CI runs at: a run whose clock is ahead remembers no source
        # rows (fingerprint.py), so the rerun maps every row again and must still write
        # nothing. At 09:00 the test took that path only before 09:00 real time, and hid a
        # consent record two mappings rewrote every run.
        "SIS_SYNC_NOW": f"{date.today().isoformat()}T23:59:00+00:00",
    }


def _writes(stats: dict[str, Any]) -> int:
    return sum(
        n
        for route, n in stats.get("requests", {}).items()
        if any(w in route for w in WRITE_ROUTES) and not route.startswith("GET")
    )


def _students(folder: Path) -> dict[str, dict[str, str]]:
    """studentnummer → row of the generated export (good rows only: a number and a crebo)."""
    with (folder / "data" / "studenten.csv").open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f, delimiter=";"))
    return {r["studentnummer"]: r for r in rows if r.get("studentnummer") and r.get("crebo")}


def _synced_project(model: str, emu: EmulatorHandle, tmp_path: Path) -> tuple[Path, Any]:
    """init --model --sample-data, the admin's programmes, validate, one run; (folder, client)."""
    emu.reset()
    folder = tmp_path / "x"
    made = _cli("init", str(folder), "--model", model, "--sample-data", cwd=tmp_path)
    assert made.returncode == 0, made.stdout + made.stderr
    assert f"model {model}" in made.stdout
    sf = emu.client()
    assert create_programmes(sf, model) == 15

    offline = _cli("validate", cwd=folder, env={"SIS_SYNC_SECRET": SECRET})
    assert offline.returncode == 0, offline.stdout + offline.stderr
    online = _cli("validate", "--online", cwd=folder, env=_env(emu))
    assert online.returncode == 0, online.stdout + online.stderr

    first = _cli("run", "nightly", cwd=folder, env=_env(emu))
    # The sample data holds deliberately malformed rows: exit 1, every good row written.
    assert first.returncode == 1, first.stdout + first.stderr
    return folder, sf


def test_the_model_syncs_to_the_admins_programmes_and_a_rerun_writes_nothing(
    model_org, tmp_path
) -> None:
    model, emu = model_org
    folder, sf = _synced_project(model, emu, tmp_path)
    students = _students(folder)

    def q(soql: str) -> list[dict[str, Any]]:
        return sf.query_all(soql)["records"]

    if model == "education-cloud":
        accounts = q(
            "SELECT Id, IsPersonAccount, PersonContactId, SIS_Student_Number__pc FROM Account"
        )
        assert accounts and all(a["IsPersonAccount"] for a in accounts)
        by_id = {a["Id"]: a for a in accounts}
        person_contacts = {a["PersonContactId"] for a in accounts}
        learners = q(
            "SELECT LearnerAccountId, LearnerContactId, LearningProgramPlan.Crebo__c "
            "FROM LearnerProgram"
        )
        assert len(learners) > 20
        for lp in learners:
            account = by_id[lp["LearnerAccountId"]]
            assert lp["LearnerContactId"] == account["PersonContactId"]
            # Linked to the plan of the student's own programme, by crebo.
            crebo = students[account["SIS_Student_Number__pc"]]["crebo"]
            assert lp["LearningProgramPlan"]["Crebo__c"] == crebo
        apps = q("SELECT AccountId, LearningProgram.Crebo__c, Status FROM IndividualApplication")
        assert apps and all(by_id[a["AccountId"]]["IsPersonAccount"] for a in apps)
        for app in apps:
            number = by_id[app["AccountId"]]["SIS_Student_Number__pc"]
            assert app["LearningProgram"]["Crebo__c"] == students[number]["crebo"]
        assert {a["Status"] for a in apps} <= {"Submitted", "Denied", "Withdrawn"}
        members = q("SELECT ContactId FROM CampaignMember")
        assert len(members) > 100
        assert {m["ContactId"] for m in members} <= person_contacts
        # The programmes are the admin's: sis-sync created none.
        assert len(q("SELECT Id FROM LearningProgram")) == 15
        assert len(q("SELECT Id FROM LearningProgramPlan")) == 15
    else:
        contacts = q("SELECT Id, SIS_Student_Number__c, hed__Preferred_Email__c FROM Contact")
        by_id = {c["Id"]: c for c in contacts}
        affiliations = q(
            "SELECT Id, hed__Contact__c, hed__Account__r.Crebo__c, "
            "hed__Account__r.RecordType.DeveloperName FROM hed__Affiliation__c"
        )
        assert len(affiliations) > 20
        for aff in affiliations:
            number = by_id[aff["hed__Contact__c"]]["SIS_Student_Number__c"]
            assert aff["hed__Account__r"]["Crebo__c"] == students[number]["crebo"]
            assert aff["hed__Account__r"]["RecordType"]["DeveloperName"] == "Academic_Program"
        enrolments = q(
            "SELECT hed__Contact__c, hed__Affiliation__c, hed__Account__c "
            "FROM hed__Program_Enrollment__c"
        )
        aff_of = {a["hed__Contact__c"]: a["Id"] for a in affiliations}
        assert enrolments
        assert all(e["hed__Affiliation__c"] == aff_of[e["hed__Contact__c"]] for e in enrolments)
        members = q("SELECT ContactId FROM CampaignMember")
        assert len(members) > 100 and {m["ContactId"] for m in members} <= set(by_id)
        # Only the admin's 15 programme Accounts: sis-sync created no Account.
        assert len(q("SELECT Id FROM Account")) == 15

    before = _writes(emu.stats())
    again = _cli("run", "nightly", cwd=folder, env=_env(emu))
    assert again.returncode == 1, again.stdout + again.stderr  # the same malformed rows
    assert _writes(emu.stats()) == before, again.stdout
    assert "create 0, update 0" in again.stdout
    assert "create 1" not in again.stdout and "update 1" not in again.stdout


def test_a_missing_programme_rejects_only_that_row_with_its_reason(model_org, tmp_path) -> None:
    model, emu = model_org
    emu.reset()
    folder = tmp_path / "y"
    assert (
        _cli("init", str(folder), "--model", model, "--sample-data", cwd=tmp_path).returncode == 0
    )
    sf = emu.client()
    create_programmes(sf, model)
    # The admin has not created the programme with crebo 25655 (Verpleegkunde).
    if model == "education-cloud":
        [plan] = sf.query("SELECT Id FROM LearningProgramPlan WHERE Crebo__c = '25655'")["records"]
        sf.LearningProgramPlan.delete(plan["Id"])
        obj = "learner_programs"
    else:
        [acc] = sf.query("SELECT Id FROM Account WHERE Crebo__c = '25655'")["records"]
        sf.Account.delete(acc["Id"])
        obj = "affiliations"
    run = _cli("run", "nightly", cwd=folder, env=_env(emu))
    assert run.returncode == 1
    rejects = _cli("rejects", "--mapping", obj, "--format", "csv", cwd=folder, env=_env(emu))
    assert rejects.returncode == 0, rejects.stderr
    refused = [r for r in csv.DictReader(rejects.stdout.splitlines()) if r["kind"] == "salesforce"]
    field = "LearningProgramPlanId" if model == "education-cloud" else "hed__Account__c"
    assert refused and {(r["column"], r["reason"]) for r in refused} == {
        (field, "salesforce refused: INVALID_FIELD")
    }
    with (folder / "data" / "studenten.csv").open(encoding="utf-8-sig", newline="") as f:
        crebo_at = {n: row[15] for n, row in enumerate(csv.reader(f, delimiter=";"), 1)}
    assert {crebo_at[int(r["line"])] for r in refused} == {"25655"}
    assert "25655" not in rejects.stdout  # the value is not repeated in the reason
    target = "LearnerProgram" if model == "education-cloud" else "hed__Affiliation__c"
    assert sf.query(f"SELECT COUNT() FROM {target}")["totalSize"] > 20  # the others went


def test_demo_runs_end_to_end_per_model(tmp_path) -> None:
    for model in ("education-cloud", "eda"):
        demo = _cli("demo", "--model", model, "--students", "40", cwd=tmp_path)
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert "created 15 programmes" in demo.stdout
        assert "write calls: 0" in demo.stdout
