"""`sis-sync rejects`: every rejected row and Salesforce refusal of a run, never a value.

The run report lists the first five per mapping and the JSON report the first 50; the rejects
command lists all of them (issue 12, item 2), like Data Loader's error CSV.
"""

from __future__ import annotations

import csv
import io
import json

from relfixtures import CliProject, student

BAD_ROWS = 2000
BAD_EMAIL = "geen-apenstaartje-{n}"
LONG_NAME = "Achternaam" * 9  # Contact.LastName holds 80: Salesforce refuses it (STRING_TOO_LONG)


def _write_bad_export(project: CliProject) -> None:
    rows = [student(f"2{i:05d}", email=BAD_EMAIL.format(n=i)) for i in range(BAD_ROWS)]
    rows.append(student("399998"))  # line 2002: lands
    rows.append(student("399999", achternaam=LONG_NAME))  # line 2003: refused by Salesforce
    project.write_students(rows)


def test_every_one_of_2000_rejected_rows_is_listed_in_csv(project: CliProject) -> None:
    _write_bad_export(project)
    run = project.cli("run", "students", timeout=300)
    assert run.returncode == 1, run.stdout + run.stderr
    # The summary names the command that lists the rest.
    assert f"… {BAD_ROWS - 5} more: sis-sync rejects --run 1" in run.stdout

    result = project.cli("rejects", "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    source = [r for r in rows if r["kind"] == "source"]
    refused = [r for r in rows if r["kind"] == "salesforce"]
    assert len(source) == BAD_ROWS
    # Every bad line once: lines 2 … 2001 of the file (line 1 is the header).
    assert sorted(int(r["line"]) for r in source) == list(range(2, BAD_ROWS + 2))
    assert {(r["run"], r["mapping"], r["column"]) for r in source} == {("1", "students", "email")}
    assert all(r["file"].endswith("studenten.csv") and r["reason"] for r in source)
    assert [(r["line"], r["column"], r["reason"]) for r in refused] == [
        ("2003", "LastName", "salesforce refused: STRING_TOO_LONG")
    ]
    # Never a value: neither a rejected address nor the refused name.
    for text in (result.stdout, result.stderr):
        assert "geen-apenstaartje" not in text and LONG_NAME not in text


def test_json_text_mapping_filter_and_run_choice(project: CliProject) -> None:
    project.write_students([student("410001", email="fout"), student("410002")])
    assert project.cli("run", "students").returncode == 1
    project.write_students([student("410001"), student("410002", email="ook-fout")])
    assert project.cli("run", "students").returncode == 1

    first = json.loads(project.cli("rejects", "--run", "1", "--format", "json").stdout)
    assert [(r["run"], r["line"], r["column"], r["kind"]) for r in first] == [
        (1, 2, "email", "source")
    ]
    last = project.cli("rejects").stdout  # default: the last run, as text
    assert "students: rejected data/studenten.csv:3 [email]:" in last
    assert "1 rejected or refused rows in run 2" in last
    assert "ook-fout" not in last

    other = json.loads(project.cli("rejects", "--mapping", "events", "--format", "json").stdout)
    assert other == []
    missing = project.cli("rejects", "--run", "99")
    assert missing.returncode == 2 and "no run 99" in missing.stderr
