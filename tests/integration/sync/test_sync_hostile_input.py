"""Hostile and broken source files against the emulator: refused before any write, or
cleaned by the documented rule (docs/sources.md, "Hostile and broken input")."""

from __future__ import annotations

from syncfixtures import student


def test_an_unterminated_quote_stops_the_mapping_before_any_write(project):
    rows = [student(f"80{i:04d}") for i in range(100)]
    path = project.write_students(rows)
    lines = path.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    lines[2] = lines[2].replace(";Sanne;", ';"Sanne;', 1)  # row 2 of 100, on line 3
    path.write_text("".join(lines), encoding="utf-8-sig")
    before = project.api_calls()
    report = project.run("students")
    m = report.mappings["students"]
    assert m.input_error
    assert "studenten.csv:3: unterminated quote starting at line 3" in m.error
    assert report.exit_code() == 2
    assert project.api_calls() == before
    assert project.query("SELECT Id FROM Contact") == []
    assert "Sanne" not in report.summary()


def test_control_characters_never_reach_salesforce(project):
    rows = [student("810001"), student("810002"), student("810003")]
    rows[0]["roepnaam"] = "San\x00ne"  # NUL: the row is rejected, naming line and column
    rows[1]["roepnaam"] = "Pi\x1bet\u2028"  # removed
    rows[2]["woonplaats"] = "Ut\x85recht\x7f"  # removed
    project.write_students(rows)
    report = project.run("students")
    m = report.mappings["students"]
    assert {(r["line"], r["column"]) for r in m.rejects} == {(2, "roepnaam")}
    assert m.created == 2
    contacts = project.query("SELECT FirstName, MailingCity FROM Contact ORDER BY FirstName")
    assert [c["FirstName"] for c in contacts] == ["Piet", "Sanne"]
    assert all(c["MailingCity"] == "Utrecht" for c in contacts)
    assert "San\x00ne" not in report.summary()


def test_a_header_only_export_reads_nothing_and_writes_nothing(project):
    project.write_students([])
    before = project.api_calls()
    report = project.run("students")
    m = report.mappings["students"]
    assert m.read == 0 and not m.input_error and not m.error
    assert project.api_calls() == before


def test_an_empty_export_file_is_an_input_error(project):
    path = project.write_students([])
    path.write_bytes(b"")
    report = project.run("students")
    m = report.mappings["students"]
    assert m.input_error and "studenten.csv: empty file: no header line" in m.error
    assert report.exit_code() == 2
