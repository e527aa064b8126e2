"""`sis-sync serve` as a process: serves, reloads on SIGHUP, exits 0 on SIGTERM; --once exits."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time

from relfixtures import wait_until
from svcfixtures import get, health, job_health, leaked, make_service
from syncfixtures import registration, student

from connector.state import open_store
from connector.sync.job import run_job

# The command line as installed, with `serve` mounted even before connector/cli.py mounts it.
CHILD = (
    "from connector import cli\n"
    "from connector.commands import service\n"
    "if not any(c.name == 'serve' for c in cli.app.registered_commands):\n"
    "    service.register_commands(cli.app)\n"
    "cli.main()\n"
)


def _spawn(project, *args: str) -> tuple[subprocess.Popen, object]:
    err = (project.logs / "serve.err").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, "serve", *args],
        cwd=project.folder,
        env=project.command_env(),
        stdout=err,
        stderr=err,
    )
    return proc, err


def _log(project) -> str:
    return (project.logs / "serve.err").read_text(encoding="utf-8", errors="replace")


def test_serve_answers_then_stops_on_sigterm_with_exit_0(project):
    project.write_students([student("100001")])
    proc, err = _spawn(project, "--port", "0")
    try:
        found = wait_until(lambda: re.search(r"on http://127\.0\.0\.1:(\d+)", _log(project)))
        assert found, _log(project)
        base = "http://127.0.0.1:" + re.search(r"on http://127\.0\.0\.1:(\d+)", _log(project))[1]
        code, body = health(base)
        assert code == 200 and body["scheduler"] == "running"
        assert job_health(body, "nightly")["cron"] == "0 4 * * *"
        assert get(base + "/metrics")[0] == 200
        # SIGHUP: sync.yaml is read again now (the minutely check would take up to a minute).
        cfg = project.folder / "sync.yaml"
        cfg.write_text(cfg.read_text("utf-8").replace('"0 4 * * *"', '"15 4 * * *"'), "utf-8")
        proc.send_signal(signal.SIGHUP)
        assert wait_until(
            lambda: job_health(health(base)[1], "nightly")["cron"] == "15 4 * * *", timeout=10
        ), _log(project)
        assert "SIGHUP received: reloading sync.yaml" in _log(project)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert time.monotonic() - started < 10
    finally:
        if proc.poll() is None:
            proc.kill()
        err.close()
    log = _log(project)
    assert "SIGTERM received: stopping" in log and "stopped" in log
    assert "Traceback" not in log


def test_serve_once_runs_the_jobs_and_exits(project):
    project.write_students([student("100001"), student("100002")])
    proc, err = _spawn(project, "--once", "--job", "nightly")
    try:
        assert proc.wait(timeout=60) == 0, _log(project)
    finally:
        err.close()
    assert project.live_records("Contact") == 2
    log = _log(project)
    assert "job nightly: run 1 ok: 2 created" in log
    assert leaked(log) == []
    # A job that does not exist is a configuration error: exit 2.
    proc, err = _spawn(project, "--once", "--job", "nope")
    try:
        assert proc.wait(timeout=60) == 2
    finally:
        err.close()
    assert "no job nope" in _log(project)


def test_stop_ends_a_run_at_a_batch_boundary_and_the_next_run_finishes_it(project):
    """What SIGTERM does during a run: the run stops between mappings, the state stays whole."""
    project.write_students([student("100001"), student("100002")])
    project.write_registrations([registration("R-000001", "daan.bakker@mail.example")])
    stopped = threading.Event()
    box = {}

    def stop_during_run(settings, *, job, progress):
        def on_batch(mapping: str, read: int) -> None:
            progress(mapping, read)
            if not stopped.is_set():
                stopped.set()  # first batch seen: stop now, as SIGTERM would
                threading.Thread(target=lambda: box.update(clean=service.stop(timeout=20))).start()
                assert wait_until(lambda: service.stopping, timeout=5)

        return run_job(settings, job=job, progress=on_batch)

    service = make_service(project, run=stop_during_run)
    result = service.run_now("nightly")
    assert result.status == "aborted" and result.message == "stopped by shutdown"
    assert wait_until(lambda: "clean" in box, timeout=10) and box["clean"] is True
    store = open_store(service.settings.state.url)
    try:
        (run,) = store.recent_runs(5)
        assert str(run.status) == "aborted"
    finally:
        store.close()
    # The next run (a restarted service) completes the job without duplicates.
    after = make_service(project)
    assert after.run_now("nightly").status == "ok"
    numbers = project.external_ids("Contact", "SIS_Student_Number__c")
    assert sorted(n for n in numbers if n) == sorted(set(n for n in numbers if n))
    assert project.live_records("Contact") == 3
