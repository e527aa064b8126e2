"""The schedule: one APScheduler job per cron job in sync.yaml, with its trigger and time zone."""

from __future__ import annotations

import socket
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger
from svcfixtures import make_service

from connector.errors import ConfigError


def _fields(trigger: CronTrigger) -> dict[str, str]:
    return {f.name: str(f) for f in trigger.fields}


def _sync_jobs(service) -> dict:
    return {j.id: j for j in service.scheduler.get_jobs() if not j.id.startswith("_")}


def test_one_job_per_cron_job_with_trigger_timezone_and_limits(project):
    service = make_service(project, misfire_grace_time=900)
    service.start()
    try:
        jobs = _sync_jobs(service)
        # The shipped sync.yaml: nightly and purge have a cron, oneroster has none.
        assert sorted(jobs) == ["nightly", "purge"]
        nightly = jobs["nightly"]
        assert isinstance(nightly.trigger, CronTrigger)
        assert str(nightly.trigger.timezone) == "Europe/Amsterdam"
        assert _fields(nightly.trigger)["hour"] == "4"
        assert _fields(nightly.trigger)["minute"] == "0"
        assert _fields(jobs["purge"].trigger)["minute"] == "30"
        assert nightly.max_instances == 1
        assert nightly.coalesce is True
        assert nightly.misfire_grace_time == 900
        # The next firing is 04:00 wall-clock time in Amsterdam, within a day.
        nxt = nightly.next_run_time.astimezone(ZoneInfo("Europe/Amsterdam"))
        assert (nxt.hour, nxt.minute) == (4, 0)
        assert 0 < (nxt - datetime.now(ZoneInfo("Europe/Amsterdam"))).total_seconds() <= 86400
        assert "nightly (0 4 * * *, Europe/Amsterdam)" in service.scheduled()
    finally:
        service.stop(timeout=5)
    assert not service.scheduler.running


def test_timezone_comes_from_settings(project):
    service = make_service(project, env={"SIS_SYNC_SERVICE__TIMEZONE": "UTC"})
    service.start()
    try:
        nightly = _sync_jobs(service)["nightly"]
        assert str(nightly.trigger.timezone) == "UTC"
        assert nightly.next_run_time.utcoffset().total_seconds() == 0
        assert nightly.next_run_time.hour == 4
    finally:
        service.stop(timeout=5)


def test_only_named_jobs_and_refusals(project):
    service = make_service(project, jobs=["nightly"])
    assert list(service._plan_schedule(service.settings)) == ["nightly"]
    with pytest.raises(ConfigError, match="no job nope"):
        make_service(project, jobs=["nope"])
    with pytest.raises(ConfigError, match="unknown time zone"):
        make_service(project, env={"SIS_SYNC_SERVICE__TIMEZONE": "Mars/Olympus_Mons"})
    # A cron-less job may be run with --once, but there is nothing to schedule.
    with pytest.raises(ConfigError, match="no job has a cron"):
        make_service(project, jobs=["oneroster"])
    assert make_service(project, jobs=["oneroster"], require_schedule=False).only == ["oneroster"]


def test_an_edited_cron_is_rescheduled_and_a_removed_job_unscheduled(project):
    service = make_service(project)
    service.start()
    try:
        cfg = project.folder / "sync.yaml"
        text = cfg.read_text(encoding="utf-8")
        text = text.replace('cron: "0 4 * * *"', 'cron: "15 4 * * 1-5"')
        text = text.replace('  - {name: purge, purge: true, cron: "30 3 * * *"}\n', "")
        cfg.write_text(text, encoding="utf-8")
        service.check_config()  # what the minutely config check does when the file changed
        jobs = _sync_jobs(service)
        assert sorted(jobs) == ["nightly"]
        f = _fields(jobs["nightly"].trigger)
        assert (f["hour"], f["minute"], f["day_of_week"]) == ("4", "15", "1-5")
        assert jobs["nightly"].next_run_time.astimezone(ZoneInfo("Europe/Amsterdam")).hour == 4
    finally:
        service.stop(timeout=5)


def test_a_port_in_use_is_a_configuration_error(project):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        service = make_service(project)
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}"):
            service.serve_http(port=port)
