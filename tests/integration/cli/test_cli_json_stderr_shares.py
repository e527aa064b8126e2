"""Issue #12: with --log-format json every stderr line is a JSON object (validate's problems,
rejects' note); shares never round up to 100 %; a plain-mode mapping whose rows were rejected
still logs the end of its reading; `status` writes dates day first."""

from __future__ import annotations

import json

import pytest
from relfixtures import CliProject

from connector.commands.sync import _Progress
from connector.status_page_assets import meter


def _json_lines(stderr: str) -> list[dict]:
    lines = stderr.splitlines()
    assert lines, "nothing on stderr"
    return [json.loads(line) for line in lines]  # raises on any plain line


def test_validate_problems_are_json_lines(project: CliProject) -> None:
    students = project.folder / "mappings" / "students.yaml"
    students.write_text(students.read_text(encoding="utf-8") + "colour: blue\n", encoding="utf-8")
    text = project.cli("validate")
    assert text.returncode == 2 and "error:" in text.stderr and "problem(s)" in text.stderr
    done = project.cli("--log-format", "json", "validate")
    assert done.returncode == 2
    lines = _json_lines(done.stderr)
    assert any("colour" in line["message"] and line["level"] == "ERROR" for line in lines)
    assert lines[-1]["message"] == "1 problem(s); nothing was written."
    assert (lines[-1]["level"], lines[-1]["exit_code"]) == ("ERROR", 2)


def test_rejects_note_is_a_json_line_and_status_dates_are_day_first(project: CliProject) -> None:
    project.write_students([])
    # 12 March, 16:52 UTC: day first is 12-03, month first would be 03-12.
    ran = project.cli("run", "students", SIS_SYNC_NOW="2026-03-12T16:52:00+00:00")
    assert ran.returncode in (0, 1), ran.stderr
    done = project.cli("--log-format", "json", "rejects")
    assert done.returncode == 0, done.stderr
    [note] = _json_lines(done.stderr)
    assert note["message"].startswith("rejects of run 1") and note["level"] == "INFO"

    status = project.cli("status")
    assert " 12-03 16:52 " in status.stdout, status.stdout


@pytest.mark.parametrize(
    ("done", "total", "shown"), [(454, 456, " (99%)"), (456, 456, " (100%)"), (1, 3, " (33%)")]
)
def test_progress_share_is_100_only_when_done(done: int, total: int, shown: str) -> None:
    assert _Progress._share(done, total, None) == shown


def test_api_meter_shows_100_only_when_used_up() -> None:
    assert "99.6 % used" in meter("api", "API", 996, 1000)
    assert "100 % used" in meter("api", "API", 1000, 1000)


def test_plain_progress_logs_the_end_of_a_reading_cut_short_by_rejects(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # 456 lines, 2 rejected: reading ends at 454 (never == total), then the next mapping starts.
    with _Progress({"students": 456, "events": 10}) as progress:
        progress("students", 200)
        progress("students", 454)
        assert capsys.readouterr().err.startswith("students: 200 of 456 records (43%)")
        progress("events", 10)
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("students: 454 of 454 records (100%)")
    assert err[1].startswith("events: 10 of 10 records (100%)")
    with _Progress({"oneroster": 9}) as progress:  # the last mapping: ended with the run
        progress("oneroster", 7)
    assert capsys.readouterr().err.splitlines()[-1].startswith("oneroster: 7 of 7 records")
