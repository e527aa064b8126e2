"""Every state statement of a run uses an index: a first load stays linear on SQLite.

SQLite plans without statistics (sis-sync never runs ANALYZE), so a statement that can use
either the primary key's prefix (``mapping = ?``) or a narrower index may pick the prefix and
read every row of the mapping — once per record, which made a first load quadratic (issue 8:
40k rows took 94 CPU-seconds instead of 15). This test records every statement a real run sends
to its SQLite state and asks SQLite for the plan of each: no statement on a table that grows
with the data may scan it, or search it by the mapping alone.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from syncfixtures import registration, student

# Tables whose size grows with the school's data (not runs, meta or locks).
GROWING = ("synced", "seen", "source_rows", "persons", "suppressions", "outbox")
MAPPING_ONLY = re.compile(r"\((?:mapping=\?)\)")


@pytest.fixture
def statements() -> Iterator[list[tuple[str, Any]]]:
    """Every (statement, parameters) any SQLAlchemy engine executes while the test runs."""
    seen: list[tuple[str, Any]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        params = parameters[0] if executemany and parameters else parameters
        seen.append((statement, params))

    sa.event.listen(Engine, "before_cursor_execute", record)
    yield seen
    sa.event.remove(Engine, "before_cursor_execute", record)


def _bad_plans(db: Path, statements: list[tuple[str, Any]]) -> list[str]:
    conn = sqlite3.connect(db)
    bad: list[str] = []
    done: set[str] = set()
    for sql, params in statements:
        head = sql.lstrip().split(None, 1)[0].upper()
        if head not in {"SELECT", "UPDATE", "DELETE", "INSERT"} or sql in done:
            continue
        done.add(sql)
        try:
            plan = conn.execute(f"EXPLAIN QUERY PLAN {sql}", params or ()).fetchall()
        except sqlite3.Error:
            continue  # a statement of another database (the emulator's journal …)
        for *_ids, detail in plan:
            for table in GROWING:
                scans = detail.startswith(f"SCAN {table}") and "COVERING" not in detail
                by_mapping = detail.startswith(f"SEARCH {table} ") and MAPPING_ONLY.search(detail)
                if scans or by_mapping:
                    bad.append(f"{detail}\n    in: {sql.strip()[:300]}")
    conn.close()
    return bad


def test_every_hot_statement_of_a_run_uses_an_index(project, statements) -> None:
    """A first load, a changed rerun and an unchanged rerun of the whole shipped job."""
    students = [student(f"1000{i:02d}") for i in range(40)]
    regs = [registration(f"R-{i:06d}", f"v{i}@example.org") for i in range(30)]
    regs += [registration(f"R-9{i:05d}", students[i]["email"]) for i in range(5)]
    project.write_students(students)
    project.write_registrations(regs)
    assert project.run().exit_code() == 0
    # Several changed students: a look-up of one value (`IN (?)`) is planned as `= ?`, of
    # several as an IN list, which SQLite may plan otherwise.
    for i in (3, 4, 5):
        students[i]["mobiel"] = "06-87654321"
    regs[2]["ingecheckt"] = "nee"
    project.write_students(students)
    project.write_registrations(regs)
    assert project.run().exit_code() == 0
    assert project.run().exit_code() == 0
    state = project.folder / "state" / "sync.db"
    assert statements, "no statement was recorded"
    bad = _bad_plans(state, statements)
    assert not bad, "statements that read a whole mapping:\n" + "\n".join(bad)


_IN_LIST = re.compile(r"IN \(((?:\?\s*,\s*)+\?)\)")


def test_every_in_list_of_a_run_is_padded_to_a_power_of_two(project, statements) -> None:
    """The SQLite driver caches 128 prepared statements a connection, one per SQL text, and
    an IN list of each length is a text of its own (~0.4 MB prepared, at 2,000 values): state
    statements bind their lists padded to a power of two (db.padded_chunks), so a long run or
    a `serve` process holds a dozen texts a statement, not one per batch size."""
    students = [student(f"2000{i:02d}") for i in range(37)]
    regs = [registration(f"R-{i:06d}", f"w{i}@example.org") for i in range(23)]
    regs += [registration(f"R-8{i:05d}", students[i]["email"]) for i in range(3)]
    project.write_students(students)
    project.write_registrations(regs)
    assert project.run().exit_code() == 0
    for i in (1, 2, 3, 4, 5):
        students[i]["mobiel"] = "06-87654321"
    project.write_students(students[:-2])
    assert project.run().exit_code() == 0
    # Per statement and list: a list of constants (the outbox's pending statuses) has one
    # length; a list of the batch's keys has many, each a power of two.
    lengths: dict[tuple[str, int], set[int]] = {}
    for sql, _params in statements:
        text = _IN_LIST.sub("IN (…)", sql.strip())[:200]
        for at, found in enumerate(_IN_LIST.finditer(sql)):
            lengths.setdefault((text, at), set()).add(found.group(1).count("?"))
    varying = {k: n for k, n in lengths.items() if len(n) > 1}
    assert varying, "no IN list of varying length was recorded"
    unpadded = {k: sorted(n) for k, n in varying.items() if any(x & (x - 1) for x in n)}
    assert not unpadded, "IN lists of other lengths than powers of two:\n" + "\n".join(
        f"{n}: {text}" for (text, _at), n in unpadded.items()
    )
