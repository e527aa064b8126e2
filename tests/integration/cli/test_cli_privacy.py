"""No personal value in anything `sis-sync run` leaves behind: stdout, stderr (also with
--verbose logging), the run reports and the bytes of the state files (DESIGN §6)."""

from __future__ import annotations

from pathlib import Path

from relfixtures import CliProject, registration, student

LONG_SURNAME = "Vanderbrinkhorstoverwater" * 4  # 100 characters: Salesforce answers STRING_TOO_LONG
# Every value below is distinctive, so finding one anywhere can only mean it leaked.
NEEDLES = [
    "Quispelhoorn", "Ermengarde", "ermengarde.q@privemail.example", "90817263", "90817264",
    "48151623", "17-08-2003", "2003-08-17", "Kwakkelsteeg", "9876 ZX", "9876ZX",
    "Vanderbrinkhorst", "Plopperdijk", "onzin-adres-zonder-at", "Florentijn", "Grimbergen",
    "florentijn.g@bezoeker.example", "17-19-2004",
]  # fmt: skip


def _rows() -> list[dict[str, str]]:
    rows = [student(f"15{i:04d}") for i in range(3)]
    rows.append(
        student(
            "90817263",
            achternaam="Quispelhoorn",
            tussenvoegsel="",
            roepnaam="Ermengarde",
            email="ermengarde.q@privemail.example",
            mobiel="06-48151623",
            geboortedatum="17-08-2003",
            straat="Kwakkelsteeg",
            postcode="9876 ZX",
        )
    )
    rows.append(student("90817264", achternaam=LONG_SURNAME, tussenvoegsel=""))  # refused by SF
    rows.append(student("150099", achternaam="Plopperdijk", email="onzin-adres-zonder-at"))
    rows.append(student("150098", geboortedatum="17-19-2004"))  # rejected: no such date
    return rows


def _leaks(text: str) -> list[str]:
    return [n for n in NEEDLES if n.lower() in text.lower()]


def _state_bytes(folder: Path) -> str:
    return "".join(
        p.read_bytes().decode("latin-1") for p in sorted(folder.rglob("*")) if p.is_file()
    )


def test_run_output_reports_and_state_hold_no_personal_values(project: CliProject) -> None:
    rows = _rows()
    project.write_students(rows)
    project.write_registrations(
        [
            registration(
                "REG-000001",
                "florentijn.g@bezoeker.example",
                voornaam="Florentijn",
                achternaam="Grimbergen",
            )
        ]
    )
    first = project.cli("run", "nightly")
    assert first.returncode == 1, first.stdout + first.stderr
    report = project.last_report()["mappings"]["students"]
    assert (report["created"], report["failed"], report["rejected"]) == (4, 1, 2)
    assert report["failures"] == {"STRING_TOO_LONG": 1}
    # The values did travel: they are in Salesforce, where they belong.
    [c] = project.query("SELECT Email, MobilePhone FROM Contact WHERE LastName = 'Quispelhoorn'")
    assert (c["Email"], c["MobilePhone"]) == ("ermengarde.q@privemail.example", "+31648151623")

    # A second run with debug logging, with something to write again.
    rows[3]["woonplaats"] = "Amersfoort"
    project.write_students(rows)
    second = project.cli("--verbose", "run", "nightly")
    assert second.returncode == 1, second.stdout + second.stderr
    assert project.last_report()["mappings"]["students"]["updated"] == 1
    assert " DEBUG " in second.stderr  # the debug log is on, and checked below

    for name, text in (
        ("stdout", first.stdout + second.stdout),
        ("stderr", first.stderr + second.stderr),
        ("reports", "".join(p.read_text(encoding="utf-8") for p in project.report_files())),
        ("state files", _state_bytes(project.state_dir)),
    ):
        assert text, name
        assert _leaks(text) == [], f"personal values in {name}"
