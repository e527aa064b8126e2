"""`sis-sync rejects` reads a run's rejects page by page and lists every one, in every format."""

from __future__ import annotations

import csv
import io
import json

import pytest

from connector.commands import rejects as cmd
from connector.state.rows import RejectRow


class _Store:
    """The two store calls the listing uses, over a list of rows."""

    def __init__(self, rows: list[RejectRow]):
        self.rows, self.calls = rows, 0

    def list_rejects(self, run_id: int, *, limit: int = 1000, offset: int = 0) -> list[RejectRow]:
        self.calls += 1
        return [r for r in self.rows if r.run_id == run_id][offset : offset + limit]


ROWS = [
    RejectRow(4, "students" if i % 3 else "registrations", "data/x.csv", i + 2, "email", "bad")
    for i in range(12)
] + [RejectRow(4, "students", "data/x.csv", 99, "LastName", "salesforce refused: STRING_TOO_LONG")]


def test_every_page_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cmd, "PAGE", 5)
    store = _Store(ROWS)
    got = list(cmd.iter_rejects(store, 4, None))  # type: ignore[arg-type]
    assert got == ROWS and store.calls == 3
    students = list(cmd.iter_rejects(store, 4, "students"))  # type: ignore[arg-type]
    assert [r.line for r in students] == [r.line for r in ROWS if r.mapping == "students"]


def test_formats_list_every_row_with_its_kind() -> None:
    out = io.StringIO()
    assert cmd.write_rejects(iter(ROWS), cmd.Format.csv, out) == len(ROWS)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(rows) == len(ROWS) and rows[-1]["kind"] == "salesforce"
    assert {r["kind"] for r in rows[:-1]} == {"source"}
    out = io.StringIO()
    cmd.write_rejects(iter(ROWS), cmd.Format.json, out)
    assert [r["line"] for r in json.loads(out.getvalue())] == [r.line for r in ROWS]
    out = io.StringIO()
    assert (
        cmd.write_rejects(iter([]), cmd.Format.json, out) == 0 and json.loads(out.getvalue()) == []
    )
    out = io.StringIO()
    cmd.write_rejects(iter(ROWS), cmd.Format.text, out)
    assert out.getvalue().splitlines()[-1] == (
        "students: refused data/x.csv:99 [LastName]: salesforce refused: STRING_TOO_LONG"
    )


def test_the_summary_points_to_the_listing_and_a_plan_names_no_run() -> None:
    from datetime import UTC, datetime

    from connector.report import MappingReport, RunReport

    for run_id, dry_run, expected in (
        (3, False, "… 2 more: sis-sync rejects --run 3"),
        (None, True, "… 2 more: a run lists every one (sis-sync rejects)"),
    ):
        report = RunReport(job="nightly", started_at=datetime.now(UTC), dry_run=dry_run)
        report.run_id = run_id
        report.mappings["students"] = MappingReport("students", "Contact", read=9, rejected=7)
        summary = report.summary()
        assert expected in summary and "--run None" not in summary
