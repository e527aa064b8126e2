"""A column the mapping reads, renamed or left out of the export (found attacking issue 8).

Read as empty on every row, such a column cleared its field in Salesforce for every student
(an export without ``email``: 382 e-mail addresses set to null and a new Contact; one without
``toestemming_bellen``: every mobile number cleared). A CSV export has a header, so the missing
column is known before the first row: the mapping stops before any write, exit 2, naming the
file, line 1 and the column (never a value), as a missing key column does.
"""

from __future__ import annotations

import csv

import pytest
from syncfixtures import student

ROWS = [student(f"85{i:04d}", email=f"p{i}@school.example") for i in range(4)]


def _rewrite(path, *, drop: str | None = None, rename: tuple[str, str] | None = None) -> None:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter=";"))
    columns = [c for c in rows[0] if c != drop]
    if rename is not None:
        columns = [rename[1] if c == rename[0] else c for c in columns]
        for row in rows:
            row[rename[1]] = row.pop(rename[0])
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.DictWriter(fh, columns, delimiter=";", extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


def _contacts(project) -> dict[str, tuple[str | None, str | None]]:
    rows = project.query("SELECT SIS_Student_Number__c, Email, MobilePhone FROM Contact")
    return {r["SIS_Student_Number__c"]: (r["Email"], r["MobilePhone"]) for r in rows}


@pytest.mark.parametrize(
    ("change", "column"),
    [
        ({"drop": "email"}, "email"),
        ({"rename": ("email", "Email")}, "email"),  # only its capitals changed
        ({"drop": "toestemming_bellen"}, "toestemming_bellen"),  # a consent column (purposes)
    ],
)
def test_a_mapped_column_missing_from_the_header_stops_the_mapping_before_any_write(
    project, change, column
):
    path = project.write_students(ROWS)
    first = project.run("students")
    assert first.mappings["students"].created == len(ROWS), first.summary()
    synced = _contacts(project)
    assert all(email and mobile for email, mobile in synced.values()), synced

    _rewrite(path, **change)
    before = project.api_calls()
    report = project.run("students")
    m = report.mappings["students"]
    assert m.input_error, f"BUG: the run went on without column {column!r}: {report.summary()}"
    assert f"data/studenten.csv:1: {column}: a column the mapping reads is not in the header" in (
        m.error or ""
    )
    assert report.exit_code() == 2
    assert project.api_calls() == before, "nothing may be written when the export is refused"
    assert _contacts(project) == synced


def test_a_column_no_mapping_reads_may_go(project):
    # The boundary: an export may drop what the mapping does not read (bsn is never read).
    path = project.write_students(ROWS)
    _rewrite(path, drop="bsn")
    report = project.run("students")
    m = report.mappings["students"]
    assert not m.input_error, m.error
    assert m.created == len(ROWS)
