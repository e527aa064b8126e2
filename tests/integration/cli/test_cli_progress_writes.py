"""Progress of the writes (issue 12, item 5): after the records read, each mapping shows its
writes done of those submitted (Bulk jobs included) and the consent stage's writes — as plain
lines on a pipe, JSON objects under ``--log-format json``, and bars on a terminal (a pty).
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import time

import pytest
from relfixtures import CliProject, sis_sync_command, student

from connector.commands import sync as sync_command

ROWS = 2_500
BULK = {"SIS_SYNC_SALESFORCE__BULK_THRESHOLD": "1000"}  # 2,500 Contacts: one Bulk job


def _students(project: CliProject) -> None:
    project.write_students([student(f"7{i:05d}") for i in range(ROWS)])


def test_plain_lines_follow_the_bulk_writes_and_the_consent_stage(project: CliProject) -> None:
    _students(project)
    result = project.cli("run", "students", timeout=300, **BULK)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    read_at = max(i for i, line in enumerate(lines) if line.startswith("students: "))
    written = [(i, line) for i, line in enumerate(lines) if line.startswith("students written:")]
    # Writing ends after reading: one line when the Bulk job's results are recorded.
    assert [line for _, line in written] == [
        f"students written: {ROWS} of {ROWS} writes done (100%), ETA 0 s"
    ], lines
    assert written[0][0] > read_at
    consents = [line for line in lines if line.startswith("students consents:")]
    # Individuals + their Contact links + two consent records per student.
    total = 4 * ROWS
    first = rf"students consents: {ROWS} of {total} writes done \(25%\), ETA \d+ s"
    assert re.fullmatch(first, consents[0]), consents
    assert consents[-1].startswith(f"students consents: {total} of {total} writes done (100%)")
    assert len(consents) == 2  # the links (5,000 done) are under 10,000 after the first line


def test_json_lines_carry_write_progress(project: CliProject) -> None:
    project.write_students([student("710001"), student("710002")])
    result = project.cli("--log-format", "json", "run", "students")
    assert result.returncode == 0, result.stdout + result.stderr
    objects = [json.loads(line) for line in result.stderr.splitlines()]
    writes = [o for o in objects if o.get("event") == "write_progress"]
    assert {"event", "mapping", "stage", "done", "total", "eta_seconds"} == writes[0].keys()
    by_stage = {o["stage"]: (o["done"], o["total"]) for o in writes}
    assert by_stage == {"records": (2, 2), "consents": (8, 8)}
    # The read lines keep their documented shape.
    reads = [o for o in objects if o.get("event") == "progress"]
    assert reads and reads[-1] == reads[-1] | {"mapping": "students", "read": 2, "total": 2}


def test_plain_lines_are_never_repeated_and_every_10000_writes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sync_command.sys.stderr, "isatty", lambda: False, raising=False)
    progress = sync_command._Progress()
    for done, total in [(0, 50_000), (4_000, 50_000), (12_000, 50_000), (50_000, 50_000)]:
        progress.written("students", "records", done, total)
    progress.written("students", "records", 50_000, 50_000)  # a flush that wrote nothing new
    progress.written("students", "records", 50_000, 100_000)  # the next chunk submitted
    progress.written("students", "records", 100_000, 100_000)
    lines = [line.split(" writes")[0] for line in capsys.readouterr().err.splitlines()]
    assert lines == [
        "students written: 4000 of 50000",
        "students written: 50000 of 50000",
        "students written: 100000 of 100000",
    ]


def _pty_run(project: CliProject, *args: str, env: dict[str, str]) -> str:
    """Run ``sis-sync ARGS`` with stderr on a pseudo-terminal; what the terminal showed."""
    primary, secondary = pty.openpty()
    child_env = project.command_env(**env, TERM="xterm", COLUMNS="160")
    child_env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [*sis_sync_command(), *args],
        cwd=project.folder,
        env=child_env,
        stdout=subprocess.DEVNULL,
        stderr=secondary,
        stdin=subprocess.DEVNULL,
    )
    os.close(secondary)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        ready, _, _ = select.select([primary], [], [], 1)
        if ready:
            try:
                data = os.read(primary, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    proc.wait(timeout=60)
    os.close(primary)
    assert proc.returncode == 0
    return b"".join(chunks).decode("utf-8", errors="replace")


def test_terminal_bars_show_writes_and_consents(project: CliProject) -> None:
    _students(project)
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", _pty_run(project, "run", "students", env=BULK))
    # A bar for the records read, then one for the writes and one for the consent stage.
    assert re.search(rf"students\s.*{ROWS}/{ROWS}", shown)
    assert re.search(rf"students written\s.*{ROWS}/{ROWS}\s+100%", shown)
    assert re.search(rf"students consents\s.*{4 * ROWS}/{4 * ROWS}\s+100%", shown)
    # While the Bulk job ran, the write bar stood at 0 of the records submitted.
    assert re.search(rf"students written\s.*\b0/{ROWS}\s+0%", shown)


def test_a_write_bar_that_stopped_short_stays_short(monkeypatch: pytest.MonkeyPatch) -> None:
    # The next mapping starting completes the previous one's read bar (its total was a line
    # count), never its write bars: writes the run did not finish are not shown as done.
    from rich.progress import Progress

    monkeypatch.setattr(sync_command.sys.stderr, "isatty", lambda: False, raising=False)
    progress = sync_command._Progress({"students": 3_000})
    progress.bar = Progress(disable=True)
    progress("students", 2_500)
    progress.written("students", "records", 1_000, 2_500)
    progress.written("students", "consents", 0, 4_000)
    progress("teachers", 10)
    tasks = {t.description: (t.completed, t.total) for t in progress.bar.tasks}
    assert tasks == {
        "students": (2_500, 2_500),
        "students written": (1_000, 2_500),
        "students consents": (0, 4_000),
        "teachers": (10, None),
    }


def test_log_format_json_on_a_terminal_writes_json_lines_not_bars(project: CliProject) -> None:
    # --log-format json is for services and cron that may still hand sis-sync a terminal: every
    # progress line is then a JSON object, never a redrawn bar.
    _students(project)
    shown = _pty_run(project, "--log-format", "json", "run", "students", env=BULK)
    lines = [ln.strip() for ln in shown.splitlines() if ln.strip()]
    progress = [json.loads(ln) for ln in lines if '"progress"' in ln or '"write_progress"' in ln]
    assert progress and all(isinstance(p, dict) for p in progress)
    assert "\x1b[" not in shown  # no cursor movement: nothing redrawn
