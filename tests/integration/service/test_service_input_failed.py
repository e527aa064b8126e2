"""A run with an unusable input (a missing nightly export) is the failed run the state records
(issue #12): /healthz and /metrics say failed, live and after a restart, and the "no good run in
a day" alert is not silenced by it. /metrics lists jobs only, not the service's config check."""

from __future__ import annotations

from relfixtures import CliProject
from svcfixtures import finished_at, get, health, job_health, make_service, metric, serving
from syncfixtures import registration, student


def test_a_missing_export_is_a_failed_run_for_healthz_and_metrics(project: CliProject) -> None:
    project.write_students([student("100001")])
    project.write_registrations([registration("R-000001", "daan.bakker@mail.example")])
    service = make_service(project)
    with serving(service) as base:
        good = service.run_now("nightly")
        assert good.status == "ok"
        last_ok = metric(get(base + "/metrics")[1], "sis_sync_last_success_timestamp_seconds",
                         job="nightly")  # fmt: skip

        (project.folder / "data" / "studenten.csv").unlink()  # the export did not arrive
        bad = service.run_now("nightly")
        assert (bad.status, bad.exit_code) == ("failed", 2)
        assert bad.message.startswith("input error: students: ")
        code, body = health(base)
        assert code == 503 and body["status"] == "degraded"
        assert body["degraded_jobs"] == ["nightly"]
        assert job_health(body, "nightly")["last_run"]["status"] == "failed"
        text = get(base + "/metrics")[1]
        assert metric(text, "sis_sync_last_run_failed", job="nightly") == 1
        assert metric(text, "sis_sync_last_success_timestamp_seconds", job="nightly") == last_ok
        assert metric(text, "sis_sync_runs_total", job="nightly", status="failed") == 1
        # The service's own sync.yaml check is no job: no series for it.
        assert metric(text, "sis_sync_next_run_timestamp_seconds", job="nightly") is not None
        assert 'job="_config"' not in text

    assert good.run_id is not None
    restarted = make_service(project)  # from the run history in the state
    with serving(restarted) as base:
        code, body = health(base)
        last = job_health(body, "nightly")["last_run"]
        assert code == 503 and body["status"] == "degraded"
        assert (last["status"], last["exit_code"], last["run_id"]) == ("failed", 2, bad.run_id)
        text = get(base + "/metrics")[1]
        assert metric(text, "sis_sync_last_run_failed", job="nightly") == 1
        recorded_ok = finished_at(project, good.run_id)  # not the failed run's end
        assert metric(text, "sis_sync_last_success_timestamp_seconds", job="nightly") == recorded_ok
