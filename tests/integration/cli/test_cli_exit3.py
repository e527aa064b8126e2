"""Exit 3: Salesforce could not be reached or kept failing (issue 12, item 4).

Exit 1 stays "finished, with record-level problems" (test_cli_exit_codes.py). A run that cannot
reach the org — emulator stopped, a CA file that does not sign its certificate, 5xx after the
retries — exits 3 with the cause in words, and is recorded in `status` as failed with that cause.
"""

from __future__ import annotations

import json
from pathlib import Path

import certifi
from relfixtures import CliProject, student

from connector.emulator.testing import running_emulator

FAST = {"SIS_SYNC_SALESFORCE__MAX_RETRIES": "1"}  # one retry: the test does not wait 15 s


def _last_run(project: CliProject) -> dict:
    result = project.cli("status", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["runs"][0]


def _status_text(project: CliProject) -> str:
    result = project.cli("status", COLUMNS="80")
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_stopped_emulator_makes_the_next_run_exit_3_with_the_cause(tmp_path: Path) -> None:
    with running_emulator(tmp_path / "org") as emu:
        project = CliProject(tmp_path / "project", emu)
        project.write_students([student("300001")])
        assert project.cli("run", "students").returncode == 0
        url = emu.url
    # The emulator is stopped now: nothing listens on its port.
    result = project.cli("run", "students", **FAST)
    assert result.returncode == 3, result.stdout + result.stderr
    assert f"connection refused by {url}" in result.stderr
    assert "Traceback" not in result.stderr
    run = _last_run(project)
    assert (run["run_id"], run["status"]) == (2, "failed")
    assert f"connection refused by {url}" in run["counts"]["cause"]
    text = _status_text(project)
    assert "failed" in text and f"run 2 failed: connection refused by {url}" in text


def test_a_wrong_ca_file_gives_the_tls_cause(project: CliProject) -> None:
    project.write_students([student("300002")])
    # A CA bundle that does not hold the emulator's CA (the public roots of certifi).
    result = project.cli("run", "students", SIS_SYNC_SALESFORCE__CA_BUNDLE=certifi.where(), **FAST)
    assert result.returncode == 3, result.stdout + result.stderr
    cause = f"TLS: certificate verify failed for {project.emulator.url}"
    assert cause in result.stderr
    assert "is ca_bundle (cacert.pem) the emulator's ca.pem?" in result.stderr
    # A certificate that does not verify is not retried: it would not verify the next time.
    assert "retrying" not in result.stderr
    run = _last_run(project)
    assert run["status"] == "failed" and cause in run["counts"]["cause"]
    assert project.live_records("Contact") == 0


def test_5xx_after_the_retries_is_exit_3_and_a_failed_run(project: CliProject) -> None:
    project.write_students([student("300003"), student("300004")])
    project.emulator.faults(http_503_rate=1.0)  # the login works, every API call answers 503
    result = project.cli("run", "students", **FAST)
    assert result.returncode == 3, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert "answered HTTP 503 (SERVER_UNAVAILABLE) 2 times in a row" in output
    run = _last_run(project)
    assert run["status"] == "failed"
    assert "answered HTTP 503" in run["counts"]["cause"]


def test_record_level_problems_stay_exit_1(project: CliProject) -> None:
    project.write_students([student("300005"), student("300006", email="geen-adres")])
    result = project.cli("run", "students", **FAST)
    assert result.returncode == 1, result.stdout + result.stderr
    run = _last_run(project)
    assert run["status"] == "partial" and "cause" not in run["counts"]
