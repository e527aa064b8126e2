"""Firing jobs: the sync runs, /healthz and /metrics follow, config edits and failures are handled.

Waits for the scheduler's own thread poll with a deadline that only a failing test reaches.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta

from relfixtures import wait_until
from svcfixtures import get, health, job_health, leaked, make_service, metric, serving
from syncfixtures import registration, student

# A full nightly run on a busy machine may take a minute; this only bounds a failing test.
FIRED = 180


def _data(project) -> None:
    project.write_students([student("100001"), student("100002"), student("100003")])
    project.write_registrations([registration("R-000001", "daan.bakker@mail.example")])


def test_a_run_syncs_and_shows_in_healthz_and_metrics(project, caplog):
    caplog.set_level(logging.DEBUG, logger="connector")
    _data(project)
    service = make_service(project)
    with serving(service) as base:
        code, body = health(base)
        assert code == 200 and body["status"] == "ok" and body["scheduler"] == "running"
        assert job_health(body, "nightly")["last_run"] is None

        first = service.run_now("nightly")
        assert first.status == "ok" and first.exit_code == 0 and first.run_id
        assert project.live_records("Contact") >= 3

        code, body = health(base)
        nightly = job_health(body, "nightly")
        assert code == 200 and body["failing_jobs"] == []
        assert nightly["last_run"]["status"] == "ok"
        assert nightly["last_run"]["run_id"] == first.run_id
        assert nightly["running"] is False
        assert datetime.fromisoformat(nightly["next_run"]).hour == 4

        second = service.run_now("nightly")
        assert second.status == "ok" and second.run_id == first.run_id + 1
        code, text = get(base + "/metrics")
        assert code == 200
        assert metric(text, "sis_sync_runs_total", job="nightly", status="ok") == 2
        created = metric(text, "sis_sync_records_total", job="nightly", action="created")
        unchanged = metric(text, "sis_sync_records_total", job="nightly", action="unchanged")
        # The first run created every record, the second found the mappings' records unchanged;
        # the consent model's records (an Individual and a ContactPointTypeConsent per person
        # and purpose) are written only with their person's row, so they are not counted again.
        consent_records = project.live_records("Individual") + project.live_records(
            "ContactPointTypeConsent"
        )
        assert consent_records > 0 and unchanged >= 4
        assert created == unchanged + consent_records
        assert metric(text, "sis_sync_records_total", job="nightly", action="failed") == 0
        assert metric(text, "sis_sync_api_calls_total", job="nightly") >= 1
        assert metric(text, "sis_sync_run_duration_seconds_count", job="nightly") == 2
        last_ok = metric(text, "sis_sync_last_success_timestamp_seconds", job="nightly")
        assert abs(last_ok - second.finished_at.timestamp()) < 1e-3
        assert metric(text, "sis_sync_last_run_timestamp_seconds", job="nightly") == last_ok
        assert metric(text, "sis_sync_scheduler_running") == 1
        assert metric(text, "sis_sync_next_run_timestamp_seconds", job="nightly") > time.time()
        assert metric(text, "sis_sync_job_running", job="nightly") == 0
        # Nothing personal anywhere an operator looks.
        assert leaked(text) == []
        assert leaked(json.dumps(body)) == []
        assert leaked(caplog.text) == []
        assert "job nightly: run" in caplog.text
    code, body = service.health()  # after stop: the scheduler is down
    assert code == 503 and body["scheduler"] == "stopped"


def test_the_scheduler_fires_the_job(project):
    _data(project)
    service = make_service(project)
    with serving(service) as base:
        job = service.scheduler.get_job("nightly")
        # Move the next firing to now: the scheduler's own thread runs it, as at 04:00.
        job.modify(next_run_time=datetime.now(job.trigger.timezone))
        assert wait_until(lambda: "nightly" in service.results, timeout=FIRED)
        assert service.results["nightly"].status == "ok"
        code, body = health(base)
        nightly = job_health(body, "nightly")
        assert code == 200 and nightly["last_run"]["status"] == "ok"
        # Back on the cron after the firing.
        assert datetime.fromisoformat(nightly["next_run"]).hour == 4
        assert project.live_records("Contact") >= 3


def test_a_broken_edit_keeps_the_previous_settings(project, caplog):
    caplog.set_level(logging.INFO, logger="connector.service")
    _data(project)
    service = make_service(project)
    cfg = project.folder / "sync.yaml"
    good = cfg.read_text(encoding="utf-8")
    with serving(service) as base:
        cfg.write_text(good + "jobs: [unclosed\n", encoding="utf-8")
        service.fire("nightly")
        assert "sync.yaml did not load; keeping the previous settings" in caplog.text
        result = service.results["nightly"]
        assert result.status == "ok"  # ran with the settings that loaded before the edit
        mappings = project.last_report()["mappings"]
        # The five mappings of the job, and the consent model's consent:* records beside them
        assert len([m for m in mappings if not m.startswith("consent:")]) == 5
        code, body = health(base)
        assert code == 200 and "not valid YAML" in body["config"]["error"]
        text = get(base + "/metrics")[1]
        assert metric(text, "sis_sync_config_reload_errors_total") == 1
        # A setting that does not validate is refused the same way.
        cfg.write_text(good.replace("daily_api_share: 0.8", "daily_api_share: lots"), "utf-8")
        service.fire("nightly")
        assert service.results["nightly"].status == "ok"
        assert metric(get(base + "/metrics")[1], "sis_sync_config_reload_errors_total") == 2

        # A good edit is used by the next firing: nightly now syncs students only.
        cfg.write_text(
            good.replace(
                "mappings: [students, events, registrants, registrations, registration_tasks]",
                "mappings: [students]",
            ),
            encoding="utf-8",
        )
        service.fire("nightly")
        assert list(project.last_report()["mappings"]) == ["students"]
        code, body = health(base)
        assert code == 200 and body["config"]["error"] is None


def test_a_run_that_raises_turns_healthz_503_until_one_succeeds(project, caplog):
    caplog.set_level(logging.INFO, logger="connector.service")
    _data(project)
    service = make_service(project)
    mapping = project.folder / "mappings" / "students.yaml"
    good = mapping.read_text(encoding="utf-8")
    with serving(service) as base:
        mapping.write_text(good + "\nnot_a_key: [\n", encoding="utf-8")
        result = service.run_now("nightly")
        assert result.status == "error" and result.exit_code == 2
        assert "students.yaml" in result.message
        code, body = health(base)
        assert code == 503
        assert body["status"] == "failing" and body["failing_jobs"] == ["nightly"]
        text = get(base + "/metrics")[1]
        assert metric(text, "sis_sync_runs_total", job="nightly", status="error") == 1
        assert metric(text, "sis_sync_last_success_timestamp_seconds", job="nightly") is None
        assert "job nightly: run failed" in caplog.text

        mapping.write_text(good, encoding="utf-8")
        assert service.run_now("nightly").status == "ok"
        assert health(base)[0] == 200


def test_an_unexpected_error_is_named_by_type_only(project, caplog):
    caplog.set_level(logging.INFO, logger="connector")

    def broken(settings, **kwargs):
        raise ValueError("Sanne de Vries, 06-12345678")

    service = make_service(project, run=broken)
    result = service.run_now("nightly")
    assert result.status == "error"
    assert "ValueError" in result.message and "ValueError" in caplog.text
    assert leaked(result.message) == [] and leaked(caplog.text) == []


def test_purge_jobs_run_the_retention_purge(project, caplog):
    caplog.set_level(logging.INFO, logger="connector.service")
    service = make_service(project)
    with serving(service) as base:
        result = service.run_now("purge")
        assert result.status == "ok" and result.message.startswith("purged 0 records")
        assert result.run_id is not None
        assert "job purge: purge ok" in caplog.text
        code, body = health(base)
        assert code == 200 and job_health(body, "purge")["last_run"]["status"] == "ok"
        text = get(base + "/metrics")[1]
        assert metric(text, "sis_sync_runs_total", job="purge", status="ok") == 1
        assert metric(text, "sis_sync_last_run_timestamp_seconds", job="purge") is not None
        assert get(base + "/nothing")[0] == 404


def test_run_once_runs_the_named_jobs(project):
    _data(project)
    service = make_service(project, jobs=["nightly", "purge"], require_schedule=False)
    results = service.run_once()
    assert [(r.job, r.status) for r in results] == [("nightly", "ok"), ("purge", "ok")]
    assert project.live_records("Contact") >= 3


def test_a_firing_later_than_the_grace_time_is_missed_not_run(project, caplog):
    caplog.set_level(logging.INFO, logger="connector.service")
    _data(project)
    service = make_service(project, misfire_grace_time=1)
    with serving(service) as base:
        job = service.scheduler.get_job("nightly")
        # As after a suspend: the firing is due, but 30 s ago.
        job.modify(next_run_time=datetime.now(job.trigger.timezone) - timedelta(seconds=30))
        assert wait_until(lambda: "missed the run due at" in caplog.text, timeout=FIRED)
        assert "job nightly: missed the run due at" in caplog.text
        assert "nightly" not in service.results  # nothing ran
        text = get(base + "/metrics")[1]
        assert metric(text, "sis_sync_runs_total", job="nightly", status="missed") == 1
        assert project.live_records("Contact") == 0
        assert datetime.fromisoformat(job_health(health(base)[1], "nightly")["next_run"]).hour == 4


def test_a_run_on_a_lost_state_rebuilds_it_first(project, caplog):
    """`serve` recovers a lost state as `run` does (sync/recovery.py): the visitor who became
    a student keeps one Contact, and her registration does not fail (an outsider's F5)."""
    import shutil

    caplog.set_level(logging.WARNING, logger="connector")
    mail = "bezoeker.svc@mail.example"
    project.write_registrations([registration("R-000905", mail)])
    project.write_students([])
    service = make_service(project, require_schedule=False)
    assert service.run_now("nightly").exit_code == 0
    shutil.rmtree(project.state_dir)
    project.write_students([student("59000906", email=mail)])

    result = make_service(project, require_schedule=False).run_now("nightly")

    assert result.status == "ok" and result.exit_code == 0, result
    assert "rebuilding it from the org first" in caplog.text
    contacts = project.query(f"SELECT SIS_Student_Number__c FROM Contact WHERE Email = '{mail}'")
    assert [c["SIS_Student_Number__c"] for c in contacts] == ["59000906"]
