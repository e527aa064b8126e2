"""`sis-sync rejects` without --run (a2-F13): the newest run that has rejects or refusals, named
on stderr, not a later run that failed before reading anything; and the run summary names the
command that lists every refused record."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

from relfixtures import CliProject, student

from connector.emulator.testing import running_emulator
from connector.report import MappingReport, RunReport

FAST = {"SIS_SYNC_SALESFORCE__MAX_RETRIES": "1"}  # one retry: the test does not wait 15 s
LONG_NAME = "Achternaam" * 9  # Contact.LastName holds 80: Salesforce refuses it


def test_default_run_is_the_newest_with_rejects(tmp_path: Path) -> None:
    with running_emulator(tmp_path / "org") as emu:
        project = CliProject(tmp_path / "project", emu)
        project.write_students(
            [student("420001", email="fout"), student("420002", achternaam=LONG_NAME)]
        )
        assert (
            project.cli("run", "students", timeout=300).returncode == 1
        )  # run 1: a reject, a refusal
    assert (
        project.cli("run", "students", timeout=300, **FAST).returncode == 3
    )  # run 2: read nothing

    result = project.cli("rejects", "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert sorted((r["run"], r["kind"], r["column"]) for r in rows) == [
        ("1", "salesforce", "LastName"),
        ("1", "source", "email"),
    ]
    assert "rejects of run 1 (the last run, 2, has none)" in result.stderr
    asked = project.cli("rejects", "--run", "2", "--format", "csv")  # still there when asked
    assert asked.returncode == 0 and asked.stdout.strip() == ",".join(
        ("run", "mapping", "kind", "file", "line", "column", "reason")
    )


def test_summary_names_the_command_for_the_refused_records() -> None:
    report = RunReport(job="nightly", started_at=datetime.now(UTC), run_id=8)
    report.mappings["students"] = MappingReport("students", "Contact", read=260, failed=252)
    text = report.summary()
    assert "… 247 more refused records: sis-sync rejects --run 8" in text
    assert "JSON report" not in text
