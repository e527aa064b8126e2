"""What the command line prints (issue 12, item 5): progress with total and ETA, JSON log lines,
`status` at 80 columns, whole summary lines on a pipe, and a start-up that imports nothing heavy.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from relfixtures import CliProject, student

from connector.cli import COMMANDS

# Imported by the commands themselves, never by `sis-sync --help` (each costs 0.1–0.5 s).
HEAVY = (
    "sqlalchemy",
    "simple_salesforce",
    "pydantic",
    "pydantic_settings",
    "requests",
    "jwt",
    "apscheduler",
    "connector.emulator",
    "connector.config",
    "connector.state",
    "connector.commands.sync",
)


def _modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code``."""
    script = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=60
    )
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def test_help_imports_no_heavy_module() -> None:
    loaded = _modules_after(
        "import sys\nsys.argv = ['sis-sync', '--help']\nfrom connector.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass"
    )
    assert "connector.cli" in loaded
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY or m in HEAVY)
    heavy += sorted(m for m in loaded if any(m.startswith(h + ".") for h in HEAVY))
    assert heavy == [], heavy


def test_help_lists_every_command_with_its_own_help_line() -> None:
    # The table the program's --help is drawn from says what each command's docstring says.
    from typer.testing import CliRunner

    from connector.cli import app

    runner = CliRunner()
    for name, (_, _, line) in COMMANDS.items():
        result = runner.invoke(app, [name, "--help"], env={"COLUMNS": "300"})
        assert result.exit_code == 0, (name, result.output)
        words = " ".join(result.output.split())
        assert " ".join(line.split()) in words, name
    listing = runner.invoke(app, ["--help"], env={"COLUMNS": "300"}).output
    assert all(re.search(rf"│ {re.escape(n)} ", listing) for n in COMMANDS)


def test_progress_lines_have_total_and_eta_and_summary_lines_are_whole(
    project: CliProject,
) -> None:
    rows = [student(f"6{i:05d}") for i in range(12_500)]
    project.write_students(rows)
    result = project.cli("run", "students", timeout=300, COLUMNS="80")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("students:")]
    # Not a terminal: one plain line at the first batch, every 10,000 records, and at the end.
    assert re.fullmatch(r"students: 2000 of 12500 records \(16%\)(, ETA \d+ s)?", lines[0])
    assert re.fullmatch(r"students: 12000 of 12500 records \(96%\), ETA \d+ s", lines[1])
    assert lines[-1].startswith("students: 12500 of 12500 records (100%)")
    # No summary line is cut at 80 columns: each is whole, however long.
    head = next(line for line in result.stdout.splitlines() if "12500 read" in line)
    assert head.strip().startswith("12500 read, create 12500, update 0, unchanged 0")


def test_log_format_json_makes_every_stderr_line_a_json_object(project: CliProject) -> None:
    project.write_students([student("610001"), student("610002", email="fout-adres")])
    result = project.cli("--log-format", "json", "-v", "run", "students")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert lines, "expected log lines under -v"
    objects = [json.loads(line) for line in lines]  # every line parses
    assert all(isinstance(o, dict) for o in objects)
    logs = [o for o in objects if "level" in o]
    assert logs and all({"time", "level", "logger", "message"} <= o.keys() for o in logs)
    assert any(o.get("event") == "progress" and o["total"] == 2 for o in objects)
    assert "fout-adres" not in result.stderr


def test_an_error_is_a_json_object_too(project: CliProject) -> None:
    result = project.cli("--log-format", "json", "run", "students", SIS_SYNC_SECRET=None)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    error = json.loads(line)
    assert error["level"] == "ERROR" and error["exit_code"] == 2
    assert "SIS_SYNC_SECRET" in error["message"]


@pytest.mark.parametrize("job", ["a-rather-long-job-name-for-the-nightly-sync"])
def test_status_is_readable_at_80_columns(project: CliProject, job: str) -> None:
    sync_yaml = project.folder / "sync.yaml"
    text = sync_yaml.read_text(encoding="utf-8")
    sync_yaml.write_text(text.replace("name: nightly", f"name: {job}"), encoding="utf-8")
    project.write_students([student("620001"), student("620002", email="fout")])
    assert project.cli("run", job).returncode == 1
    result = project.cli("status", COLUMNS="80")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for line in lines:
        if line.startswith(" "):  # table lines (text lines are left whole, for the terminal)
            assert len(line) <= 80, line
    at = next(i for i, line in enumerate(lines) if re.match(r"\s+1\s", line))
    # created 4: the Contact, its Individual and two ContactPointTypeConsents (the consent
    # model's records count in the run, docs/privacy.md "Consent in Salesforce's consent model").
    assert re.search(r"\d\d-\d\d \d\d:\d\d\s+partial\s+4\s+0\s+1\s+0\s+\d+\s*$", lines[at])
    # A long job name folds inside its column, whole, instead of being cut to "a-rath…".
    folded = [lines[at].split()[1]]
    for line in lines[at + 1 :]:
        if not line.strip():
            break
        folded.append(line.strip())
    assert "".join(folded) == job
    assert "…" not in result.stdout
    assert "every one: sis-sync rejects --run 1" in result.stdout
    assert "fout" not in result.stdout


def test_status_starts_without_the_salesforce_client(tmp_path: Path) -> None:
    loaded = _modules_after(
        "import sys\nsys.argv = ['sis-sync', '--config', 'missing.yaml', 'status']\n"
        "from connector.cli import main\ntry:\n    main()\nexcept SystemExit:\n    pass"
    )
    assert "connector.commands.sync" in loaded
    # Reading the state needs SQLAlchemy and the settings, not the HTTP client stack.
    for module in ("simple_salesforce", "requests", "tenacity", "jwt", "connector.emulator"):
        assert module not in loaded, module


def test_summary_lines_are_whole_on_a_pipe_at_80_columns(project: CliProject) -> None:
    project.write_students([student("630001")])
    result = project.cli("run", "nightly", COLUMNS="80")
    assert result.returncode == 0, result.stdout + result.stderr
    # Longer than 80 columns, and still one line: a pipe or a log file gets whole lines.
    warning = "      warning: the export holds no rows (empty or header only): nothing was changed"
    assert len(warning) > 80
    assert warning in result.stdout.splitlines()
