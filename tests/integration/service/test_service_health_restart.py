"""/healthz after a restart (a2-F5): the service starts from each job's last recorded run, so a
failed run is not forgotten (503 degraded, its run id and cause), and a failed run served live
names the run the state recorded — the one `status` shows."""

from __future__ import annotations

import json
from pathlib import Path

from relfixtures import CliProject, student
from svcfixtures import make_service

from connector.emulator.testing import running_emulator

FAST = {"SIS_SYNC_SALESFORCE__MAX_RETRIES": "1"}  # one retry: the test does not wait 15 s


def _runs(project: CliProject) -> list[dict]:
    result = project.cli("status", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["runs"]


def test_a_failed_run_survives_a_restart_with_its_run_id(tmp_path: Path) -> None:
    with running_emulator(tmp_path / "org") as emu:
        project = CliProject(tmp_path / "project", emu)
        project.write_students([student("310001")])
        first = make_service(project, require_schedule=False)
        assert first.run_now("nightly").status == "ok"
        url = emu.url
    # The emulator is stopped: the next firing cannot reach Salesforce (exit 3).
    failed = make_service(project, env=FAST, require_schedule=False).run_now("nightly")
    recorded = _runs(project)[0]
    assert (recorded["status"], failed.status, failed.exit_code) == ("failed", "failed", 3)
    assert failed.run_id == recorded["run_id"] and failed.run_id is not None

    restarted = make_service(project)  # nothing has run since
    restarted.start()  # the scheduler runs; nightly's cron is hours away
    try:
        code, body = restarted.health()
    finally:
        restarted.stop(timeout=5)
    job = next(j for j in body["jobs"] if j["name"] == "nightly")
    assert (code, body["status"], body["degraded_jobs"]) == (503, "degraded", ["nightly"])
    last = job["last_run"]
    assert (last["status"], last["run_id"], last["exit_code"]) == ("failed", failed.run_id, 3)
    assert f"connection refused by {url}" in last["message"]


def test_a_restart_after_a_good_run_is_ok_with_that_run(tmp_path: Path) -> None:
    with running_emulator(tmp_path / "org") as emu:
        project = CliProject(tmp_path / "project", emu)
        project.write_students([student("310002")])
        assert project.cli("run", "nightly").returncode == 0
        restarted = make_service(project)
        restarted.start()
        try:
            code, body = restarted.health()
        finally:
            restarted.stop(timeout=5)
    job = next(j for j in body["jobs"] if j["name"] == "nightly")
    assert (code, body["status"], job["last_run"]["status"], job["last_run"]["run_id"]) == (
        200,
        "ok",
        "ok",
        1,
    )
