"""A stray opening quote that a later row's stray quote "closes" (found by attacking issue 8).

Python's ``csv`` reader takes every line between the two quotes as one field: the rows in
between vanish, and when the closing quote ends the same column, the joined row has the right
number of cells and the *later* row's values (another person's e-mail, address…) land on the
first row's record. docs/sources.md promises that such a quote stops the mapping before any
write ("unterminated quote starting at line N"), like one that never closes.
"""

from __future__ import annotations

from syncfixtures import student


def _students(project, close_column: str) -> None:
    rows = [
        student(f"83{i:04d}", email=f"p{i}@school.example", woonplaats=f"Stad{i}") for i in range(6)
    ]
    path = project.write_students(rows)
    lines = path.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    # line 3 opens a quote that does not close on its line ...
    lines[2] = lines[2].replace(";Sanne;", ';"Sanne;', 1)
    # ... and a stray quote at the end of a field of line 6 closes it.
    closing = {"roepnaam": (";Sanne;", ';Sanne";'), "woonplaats": (";Stad4;", ';Stad4";')}
    lines[5] = lines[5].replace(*closing[close_column], 1)
    path.write_text("".join(lines), encoding="utf-8-sig")


def test_a_quote_closed_in_the_same_column_of_a_later_row_stops_the_mapping(project):
    _students(project, "roepnaam")
    before = project.api_calls()
    report = project.run("students")
    after = project.api_calls()
    m = report.mappings["students"]
    contacts = {
        c["SIS_Student_Number__c"]: c["Email"]
        for c in project.query("SELECT SIS_Student_Number__c, Email FROM Contact")
    }
    # Today: lines 3-6 are read as one row with 27 cells; 830001 gets line 6's e-mail (p4@…).
    assert contacts.get("830001") != "p4@school.example", (
        "BUG: another row's values were written onto student 830001 (rows joined by a stray quote)"
    )
    assert m.input_error and "unterminated quote starting at line 3" in (m.error or ""), (
        "BUG: a quote closed only by a later row's stray quote did not stop the mapping"
    )
    assert report.exit_code() == 2
    assert after == before, "nothing may be written when the file is refused"


def test_a_quote_closed_in_another_column_of_a_later_row_stops_the_mapping(project):
    _students(project, "woonplaats")
    before = project.api_calls()
    report = project.run("students")
    m = report.mappings["students"]
    # Today: one reject "row has N cells" for line 3; lines 4-6 are silently never read.
    assert m.input_error and "unterminated quote starting at line 3" in (m.error or ""), (
        f"BUG: rows swallowed by a stray quote: {m.read} of 6 rows read, rejects {m.rejects}"
    )
    assert report.exit_code() == 2
    assert project.api_calls() == before


def test_a_quoted_value_with_a_line_break_is_still_one_valid_field(project):
    # The boundary a fix must keep: a properly quoted multi-line value (an address) is data.
    rows = [student("840001"), student("840002", straat="Dorpsstraat\nachterom"), student("840003")]
    project.write_students(rows)
    report = project.run("students")
    m = report.mappings["students"]
    assert not m.input_error, m.error
    assert (m.read, m.created) == (3, 3), report.summary()
