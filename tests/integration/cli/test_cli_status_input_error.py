"""A run whose input was unusable (exit 2) is a failed run in `status`, with its cause in words."""

from __future__ import annotations

import json

from relfixtures import CliProject

SURNAME = "Zwanenburgh"  # in the unusable file: never in any output


def test_a_run_with_an_unusable_input_is_failed_with_the_cause_in_words(
    project: CliProject,
) -> None:
    # A students file without its key column: the run reads nothing and writes nothing (exit 2).
    path = project.folder / "data" / "studenten.csv"
    path.write_text(f"achternaam;email\n{SURNAME};z@mail.example\n", encoding="utf-8")

    ran = project.cli("run", "students")
    assert ran.returncode == 2, ran.stdout + ran.stderr  # an input error, not "unreachable" (3)

    as_json = project.cli("status", "--json")
    assert as_json.returncode == 0, as_json.stderr
    [run] = json.loads(as_json.stdout)["runs"]
    assert run["status"] == "failed"
    cause = run["counts"]["cause"]
    assert cause.startswith("input error: students: ")
    assert "studenten.csv:1" in cause and "studentnummer" in cause and "key column" in cause

    text = project.cli("status")
    assert text.returncode == 0, text.stderr
    assert f"run {run['run_id']} failed: input error: students: " in text.stdout
    assert "partial" not in text.stdout
    for out in (ran.stdout + ran.stderr, text.stdout + text.stderr, as_json.stdout):
        assert SURNAME not in out and "z@mail.example" not in out
