"""An export overwritten between the check and the read (found attacking issue 8).

The SIS export job may rewrite a file while a sync starts. ``read()`` checks the file again
before its first row, but the refusal it raised escaped the mapping: the process exited 2,
the job's later mappings never ran although an earlier one had written, and the run report
named no file. Now the mapping stops as a refusal at check time would stop it.
"""

from __future__ import annotations

import pytest
from syncfixtures import registration, student

from connector.sources.csv import CsvSource

ROWS = [student(f"86{i:04d}", email=f"s{i}@school.example") for i in range(3)]


@pytest.fixture
def swap_after_check(monkeypatch):
    """Make ``CsvSource.check`` of the file named ``name`` rewrite it with ``text`` at once."""

    def arm(name: str, text: bytes) -> None:
        check = CsvSource.check

        def checked_then_swapped(self: CsvSource) -> None:
            check(self)
            if self.path.name == name:
                self.path.write_bytes(text)

        monkeypatch.setattr(CsvSource, "check", checked_then_swapped)

    return arm


def test_a_students_file_renamed_column_after_check_stops_only_that_mapping(
    project, swap_after_check
):
    path = project.write_students(ROWS)
    project.write_registrations([registration("R1", "s0@school.example")])
    first = project.run("nightly")
    assert first.exit_code() == 0, first.summary()
    swapped = path.read_bytes().replace(b";email;", b";e-mail;", 1)
    assert swapped != path.read_bytes()
    project.write_registrations(
        [registration("R1", "s0@school.example"), registration("R2", "s1@school.example")]
    )
    swap_after_check("studenten.csv", swapped)

    report = project.run("nightly")

    m = report.mappings["students"]
    assert m.input_error, report.summary()
    assert "studenten.csv:1: email: a column the mapping reads is not in the header" in m.error
    assert m.written == 0
    # The job went on: the new registration was written after the refused mapping.
    later = [n for n in report.mappings if n != "students"]
    assert later and any(report.mappings[n].written for n in later), report.summary()
    assert report.exit_code() == 1  # another mapping wrote: not the "nothing written" 2
    emails = {r["Email"] for r in project.query("SELECT Email FROM Contact")}
    assert "s0@school.example" in emails  # nothing already synced was cleared
