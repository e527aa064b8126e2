"""Writes that got no answer from an unreachable Salesforce are pending again, not left SENT."""

from __future__ import annotations

import json
import sqlite3

from relfixtures import CliProject, student

FAST = {"SIS_SYNC_SALESFORCE__MAX_RETRIES": "1"}  # one retry: the test does not wait 15 s


def _outbox(project: CliProject) -> dict[str, int]:
    result = project.cli("status", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["outbox"]


def test_unanswered_writes_return_to_new_and_the_next_run_sends_them(
    project: CliProject,
) -> None:
    project.write_students([student("310001"), student("310002")])
    project.emulator.faults(http_503_rate=1.0)  # the login works, every API call answers 503
    failed = project.cli("run", "students", **FAST)
    assert failed.returncode == 3, failed.stdout + failed.stderr

    outbox = _outbox(project)
    assert "SENT" not in outbox, outbox  # nothing is left "out" after the run ended
    assert outbox.get("NEW", 0) == 2, outbox
    with sqlite3.connect(project.state_file) as conn:
        [(attempts,)] = conn.execute("SELECT DISTINCT attempts FROM outbox").fetchall()
    assert attempts == 1  # the attempt is still counted

    project.emulator.faults(http_503_rate=0.0)
    again = project.cli("run", "students")
    assert again.returncode == 0, again.stdout + again.stderr
    assert project.live_records("Contact") == 2
    outbox = _outbox(project)
    assert outbox == {"OK": 2, "SUPERSEDED": 2}, outbox
