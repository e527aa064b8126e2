"""`sis-sync serve` as a process: serves, reloads on SIGHUP, exits 0 on SIGTERM; --once exits.

Deterministic under load: waits poll with deadlines that only a failing test reaches (a busy
machine starts the child slowly), and "SIGTERM stops an idle service at once" is told apart from
"it waits for the stop timeout" by making that timeout far longer than any deadline here.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading

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
# Deadlines (seconds) for a failing test only; a passing one never waits them out.
START = 180
RUN = 240


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
    # An idle service must stop at SIGTERM without waiting out --stop-timeout (600 s here, far
    # beyond the deadline below, so a stop that waits fails however busy the machine is).
    proc, err = _spawn(project, "--port", "0", "--stop-timeout", "600")
    try:
        # The port is logged before the scheduler starts: wait for the line after start-up, or
        # a busy machine lets /healthz answer "stopped" in between.
        found = wait_until(lambda: "scheduler started" in _log(project), timeout=START)
        assert found, _log(project)
        base = "http://127.0.0.1:" + re.search(r"on http://127\.0\.0\.1:(\d+)", _log(project))[1]
        code, body = health(base)
        assert code == 200 and body["scheduler"] == "running"
        assert job_health(body, "nightly")["cron"] == "0 4 * * *"
        assert get(base + "/metrics")[0] == 200
        # SIGHUP: sync.yaml is read again now. The edit keeps the file's modification time, so
        # the minutely check (which reloads on a changed time) cannot be what applies it.
        cfg = project.folder / "sync.yaml"
        before = cfg.stat()
        cfg.write_text(cfg.read_text("utf-8").replace('"0 4 * * *"', '"15 4 * * *"'), "utf-8")
        os.utime(cfg, ns=(before.st_atime_ns, before.st_mtime_ns))
        proc.send_signal(signal.SIGHUP)
        assert wait_until(
            lambda: job_health(health(base)[1], "nightly")["cron"] == "15 4 * * *", timeout=START
        ), _log(project)
        assert "SIGHUP received: reloading sync.yaml" in _log(project)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=RUN) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        err.close()
    log = _log(project)
    assert "SIGTERM received: stopping" in log and "stopped" in log
    assert "still running" not in log
    assert "Traceback" not in log


def test_serve_once_runs_the_jobs_and_exits(project):
    project.write_students([student("100001"), student("100002")])
    proc, err = _spawn(project, "--once", "--job", "nightly")
    try:
        assert proc.wait(timeout=RUN) == 0, _log(project)
    finally:
        err.close()
    assert project.live_records("Contact") == 2
    log = _log(project)
    # 2 Contacts, and for each an Individual and 2 ContactPointTypeConsents (the consent model)
    assert "job nightly: run 1 ok: 8 created" in log
    assert leaked(log) == []
    # A job that does not exist is a configuration error: exit 2.
    proc, err = _spawn(project, "--once", "--job", "nope")
    try:
        assert proc.wait(timeout=RUN) == 2
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
                threading.Thread(target=lambda: box.update(clean=service.stop(timeout=RUN))).start()
                assert wait_until(lambda: service.stopping, timeout=START)

        return run_job(settings, job=job, progress=on_batch)

    service = make_service(project, run=stop_during_run)
    result = service.run_now("nightly")
    assert result.status == "aborted" and result.message == "stopped by shutdown"
    assert wait_until(lambda: "clean" in box, timeout=RUN) and box["clean"] is True
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
