"""Replays that converge: run, lose the state folder, run again → exit 0, nothing failed, and not
one duplicate record in the org — for every shipped mapping set, through collections and Bulk.

The second run knows nothing: every record is written again by external id and finds itself in
the org, CampaignMembers included (their CampaignId/ContactId are create-only in Salesforce).
That replay is the engine's (``run_job``): `sis-sync run` and `serve` rebuild a state that never
recorded a run from the org first (sync/recovery.py), and then converge without re-sending —
the third run here.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from connector.cli import app
from connector.demo.dataset import generate
from connector.sync.job import run_job

ONEROSTER = Path(__file__).resolve().parents[3].parent / "shared" / "samples" / "oneroster"
# Every external id the shipped mappings write, per object.
KEYS = {
    "Contact": ("SIS_Student_Number__c", "SIS_Sync_Key__c"),
    "Campaign": ("Event_Id__c",),
    "CampaignMember": ("SIS_Sync_Key__c",),
    "Task": ("SIS_Sync_Key__c",),
}


def _run(project: Any, job: str, monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    for key, value in {**project.env, **env}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(project.folder)
    result = CliRunner().invoke(app, ["run", job])
    assert result.exit_code == 0, result.output
    reports = sorted((project.folder / "state" / "reports").glob("run-*.json"))
    return json.loads(reports[-1].read_text(encoding="utf-8"))


def _replay(project: Any, job: str, **env: str) -> dict[str, Any]:
    """The engine's run on the lost state (no rebuild first: run_job, not `sis-sync run`)."""
    report = run_job(project.settings(**env), job=job)
    assert report.exit_code() == 0, report.summary()
    reports = sorted((project.folder / "state" / "reports").glob("run-*.json"))
    return json.loads(reports[-1].read_text(encoding="utf-8"))


def _org(project: Any) -> dict[str, list[tuple[str | None, ...]]]:
    """Every record's external ids, per object (duplicates kept)."""
    return {
        obj: [
            tuple(r[f] for f in fields)
            for r in project.query(f"SELECT Id, {', '.join(fields)} FROM {obj}")
        ]
        for obj, fields in KEYS.items()
    }


def _point_oneroster_at(project: Any, sample: str) -> None:
    for name in ("oneroster_users.yaml", "oneroster_enrollments.yaml"):
        path = project.folder / "mappings" / name
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("path: data/oneroster", f"path: {ONEROSTER / sample}"))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("job", "threshold"),
    [
        ("nightly", "2000"),  # sObject Collections
        ("nightly", "40"),  # every mapping above 40 records through Bulk API 2.0
        ("oneroster", "2000"),
    ],
)
def test_lost_state_replay_converges(project, monkeypatch, job, threshold):
    # The project `sis-sync init DIR --sample-data` writes, without the deliberately malformed
    # rows (they would make both runs exit 1 for rejects, which is not what is tested here).
    generate(project.folder, today=date(2026, 11, 20), malformed=False)
    if job == "oneroster":
        _point_oneroster_at(project, "oneroster_test_data")  # its rows all map: exit 0
    env = {"SIS_SYNC_SALESFORCE__BULK_THRESHOLD": threshold}

    first = _run(project, job, monkeypatch, **env)
    assert first["totals"]["failed"] == 0, first["totals"]
    assert first["totals"]["created"] > 0
    before = _org(project)

    shutil.rmtree(project.folder / "state")
    second = _replay(project, job, **env)

    assert second["totals"]["failed"] == 0, json.dumps(second["totals"])
    assert second["totals"]["pending"] == 0, json.dumps(second["totals"])
    after = _org(project)
    for obj, keys in after.items():
        assert len(keys) == len(before[obj]), f"{obj}: {len(before[obj])} → {len(keys)} records"
        dupes = [k for k, n in Counter(keys).items() if n > 1]
        assert not dupes, f"{obj}: {len(dupes)} external ids on more than one record"
    if job == "nightly":
        # CampaignMembers were written again, existing, with their create-only fields.
        assert len(after["CampaignMember"]) > 0
        registrations = second["mappings"]["registrations"]
        assert registrations["created"] + registrations["updated"] > 0

    # The command line on a lost state: rebuilt from the org first, then nothing to re-send
    # but what the rebuild found different (no duplicate, nothing failed, nothing pending).
    shutil.rmtree(project.folder / "state")
    third = _run(project, job, monkeypatch, **env)
    assert third["totals"]["failed"] == 0 and third["totals"]["pending"] == 0, third["totals"]
    assert _org(project) == after
    history = sorted((project.folder / "state" / "reports").glob("run-*.json"))
    assert json.loads(history[0].read_text(encoding="utf-8"))["rebuild"] is True
    written = third["totals"]["created"] + third["totals"]["updated"]
    assert written < second["totals"]["created"] + second["totals"]["updated"], third["totals"]
