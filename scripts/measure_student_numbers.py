"""How many students with 8-9 digit student numbers the BSN 11-check rejects, before and after
the mapping declares ``student_number_format`` (UAVG art. 46 vs. real student numbers).

    .venv/bin/python scripts/measure_student_numbers.py [--rows 18160] [--seed 1]

Builds a project from ``sis-sync init`` (the shipped mappings), writes a studenten.csv of
``--rows`` demo students (connector.demo, Faker nl_NL) whose student numbers are renumbered the
way an SIS hands them out: rising from 99,950,000 with a small random stride, so 8 and then 9
digits. Each student's e-mail address is made of the number (``s12345678@student.roc.example``),
as many schools do. Then plans the students job (a dry run against the local emulator: nothing
is written) twice: without ``student_number_format`` (the line taken out of the shipped mapping),
and as shipped (with ``student_number_format: "[0-9]{6,9}"``), and prints the rejects and
withheld fields of both. Nothing here is real personal data.
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
import tempfile
from datetime import date
from pathlib import Path

from connector.commands.mapping import DEFAULTS
from connector.config import load_settings
from connector.demo.dataset import generate_students_csv
from connector.emulator.testing import running_emulator
from connector.privacy.identifiers import is_bsn, is_onderwijsnummer
from connector.sync.job import run_job

FORMAT_LINE = 'student_number_format: "[0-9]{6,9}"\n'


def renumber(path: Path, seed: int) -> int:
    """Give every row an SIS-like 8-9 digit number and an e-mail made of it; rows passing."""
    rng = random.Random(seed)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    header, body = rows[0], rows[1:]
    key, email = header.index("studentnummer"), header.index("email")
    number, passing = 99_950_000, 0
    for row in body:
        number += rng.randint(1, 9)
        row[key] = str(number)
        row[email] = f"s{number}@student.roc.example"
        passing += is_bsn(row[key]) or is_onderwijsnummer(row[key])
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh, delimiter=";", lineterminator="\r\n").writerows([header, *body])
    return passing


def plan(folder: Path, env: dict[str, str]) -> tuple[int, int, dict[str, int]]:
    """(read, rejected, withheld by reason) of a dry run of the students job."""
    settings = load_settings(folder / "sync.yaml", env=env)
    report = run_job(settings, job="students", dry_run=True)
    m = report.mappings["students"]
    return m.read, m.rejected, dict(m.withheld)


def main() -> None:
    """Print the reject rate of the students job without and with the declared format."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=18_160)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, running_emulator(Path(tmp) / "org") as emu:
        folder = Path(tmp) / "project"
        shutil.copytree(DEFAULTS, folder)
        (folder / "data").mkdir(exist_ok=True)
        data = folder / "data" / "studenten.csv"
        generate_students_csv(data, args.rows, seed=args.seed, today=date(2026, 11, 20))
        passing = renumber(data, args.seed)
        env = {
            "SIS_SYNC_SALESFORCE__URL": emu.url,
            "SIS_SYNC_SALESFORCE__AUTH": "client_credentials",
            "SIS_SYNC_SALESFORCE__CLIENT_ID": "measure",
            "SIS_SYNC_SALESFORCE__CLIENT_SECRET": "measure",
            "SIS_SYNC_SALESFORCE__CA_BUNDLE": emu.ca_file,
            "SIS_SYNC_SECRET": "measure-student-numbers-0123456789abcdef",
            "SIS_SYNC_NOW": "2026-11-20T09:00:00+00:00",
        }
        print(f"{args.rows} students, {passing} numbers pass the BSN/onderwijsnummer check")
        mapping = folder / "mappings" / "students.yaml"
        shipped = mapping.read_text(encoding="utf-8")
        for label in ("without student_number_format", "as shipped, " + FORMAT_LINE.strip()):
            text = shipped if label.startswith("as shipped") else shipped.replace(FORMAT_LINE, "")
            mapping.write_text(text, encoding="utf-8")
            read, rejected, withheld = plan(folder, env)
            print(
                f"{label}: read {read}, rejected {rejected} ({rejected / read:.1%}), "
                f"forbidden_number withheld {withheld.get('forbidden_number', 0)}"
            )


if __name__ == "__main__":
    main()
