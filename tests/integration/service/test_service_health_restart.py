"""/healthz and /metrics after a restart (a2-F5, issue 12 item 4): the service starts from each
job's last recorded run, so a failed run is not forgotten (503 degraded, its run id and cause;
``sis_sync_last_run_failed`` 1, the alert of docs/operations.md), and a failed run served live
names the run the state recorded — the one `status` shows."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from relfixtures import CliProject, student
from svcfixtures import finished_at, get, health, make_service, serving

from connector.emulator.testing import running_emulator
from connector.service_auth import TOKEN_VAR

FAST = {"SIS_SYNC_SALESFORCE__MAX_RETRIES": "1"}  # one retry: the test does not wait 15 s


def _samples(text: str) -> dict[str, float]:
    """The samples of a /metrics scrape, by name and labels (prometheus_client's own parser)."""
    return {
        s.name
        + (
            "{" + ",".join(f'{k}="{v}"' for k, v in s.labels.items()) + "}" if s.labels else ""
        ): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


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
    with serving(restarted) as base:  # the scheduler runs; nightly's cron is hours away
        code, body = health(base)
        metrics = _samples(get(base + "/metrics")[1])
        page = get(base + "/")[1]
    job = next(j for j in body["jobs"] if j["name"] == "nightly")
    assert (code, body["status"], body["degraded_jobs"]) == (503, "degraded", ["nightly"])
    last = job["last_run"]
    assert (last["status"], last["run_id"], last["exit_code"]) == ("failed", failed.run_id, 3)
    assert f"connection refused by {url}" in last["message"]
    # The metrics remember it too: the alert on sis_sync_last_run_failed keeps firing, and the
    # last success is the good first run, not "never".
    assert metrics['sis_sync_last_run_failed{job="nightly"}'] == 1.0
    ended = datetime.fromisoformat(last["finished_at"]).timestamp()
    assert metrics['sis_sync_last_run_timestamp_seconds{job="nightly"}'] == pytest.approx(
        ended, abs=0.01
    )
    good = finished_at(project, recorded["run_id"] - 1)  # the first, good run
    assert metrics['sis_sync_last_success_timestamp_seconds{job="nightly"}'] == pytest.approx(
        good, abs=0.01
    )
    assert good < ended
    assert not any(k.startswith("sis_sync_runs_total{") for k in metrics)  # counters start at 0
    # The page's header says the word /healthz says (it said "service failed").
    assert re.search(r"service <span [^>]*>degraded</span> scheduler running", page), page[:2000]
    # With a serve token, a caller without it still gets the word (and the 503), nothing else.
    tokened = make_service(project, env={TOKEN_VAR: "t" * 40})
    with serving(tokened) as base:
        code, text = get(base + "/healthz")
    assert (code, json.loads(text)) == (503, {"status": "degraded"})
    # `serve --once` exits with the run's code: 3, Salesforce could not be reached.
    once = project.cli("serve", "--once", "--job", "nightly", **FAST)
    assert once.returncode == 3, once.stderr


def test_a_restart_after_a_good_run_is_ok_with_that_run(tmp_path: Path) -> None:
    with running_emulator(tmp_path / "org") as emu:
        project = CliProject(tmp_path / "project", emu)
        project.write_students([student("310002")])
        assert project.cli("run", "nightly").returncode == 0
        restarted = make_service(project)
        with serving(restarted) as base:
            code, body = health(base)
            metrics = _samples(get(base + "/metrics")[1])
    assert metrics['sis_sync_last_run_failed{job="nightly"}'] == 0.0
    assert (
        metrics['sis_sync_last_success_timestamp_seconds{job="nightly"}']
        == metrics['sis_sync_last_run_timestamp_seconds{job="nightly"}']
    )
    job = next(j for j in body["jobs"] if j["name"] == "nightly")
    assert (code, body["status"], job["last_run"]["status"], job["last_run"]["run_id"]) == (
        200,
        "ok",
        "ok",
        1,
    )
