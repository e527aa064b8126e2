"""Whole lines on a pipe (a2-F4): every command's console comes from connector/output.py, which
soft-wraps when its stream is not a terminal, so `plan > f` and `demo > f` never break a line
mid-phrase at 80 columns, while a table still fits 80 columns."""

from __future__ import annotations

import importlib
import io

import yaml
from relfixtures import CliProject
from rich.table import Table

from connector.output import console


def _piped(width: int = 80) -> tuple:
    made = console()
    buffer = io.StringIO()  # not a terminal, like `> file` or cron
    made.file = buffer
    made.width = width
    return made, buffer


def test_a_long_line_stays_one_line_on_a_pipe_and_a_table_fits_80_columns() -> None:
    made, buffer = _piped()
    line = "note: students: Contact.SIS_Student_Number__c will hold the keyed hash " * 2
    made.print(line.strip(), highlight=False)
    table = Table("mapping", "reason")
    table.add_row("students", "x" * 120)
    made.print(table)
    lines = buffer.getvalue().splitlines()
    assert lines[0] == line.strip()
    assert all(len(ln) <= 80 for ln in lines[1:]), lines


def test_every_command_console_is_made_in_one_place() -> None:
    # demo prints through commands.sync's console; run, plan, status, validate, erase too.
    for name in ("sync", "mapping", "state", "person_options"):
        module = importlib.import_module(f"connector.commands.{name}")
        for attr in ("out", "err"):
            made = getattr(module, attr, None)
            if made is not None:
                # stderr's console also writes JSON lines under --log-format json (output.py)
                expected = console(stderr=attr == "err")
                assert type(made) is type(expected), f"connector.commands.{name}.{attr}"


def test_plan_notes_are_whole_lines_on_a_pipe(project: CliProject, tmp_path) -> None:
    folder = tmp_path / "school"
    assert project.cli("init", str(folder), "--sample-data", cwd=tmp_path).returncode == 0
    students = folder / "mappings" / "students.yaml"
    doc = yaml.safe_load(students.read_text("utf-8"))
    del doc["fields"]["SIS_Student_Number__c"]
    students.write_text(yaml.safe_dump(doc, sort_keys=False), "utf-8")
    done = project.cli("plan", "students", cwd=folder, COLUMNS="80")
    assert done.returncode in (0, 1), done.stdout + done.stderr
    notes = [ln for ln in done.stdout.splitlines() if ln.startswith("note: students:")]
    assert len(notes) == 1 and len(notes[0]) > 80, done.stdout
    assert notes[0].endswith("purposes: [...]}`"), notes[0]
