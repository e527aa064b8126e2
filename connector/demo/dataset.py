"""A realistic, seeded Dutch school data set: the SIS export, event registrations and QR scans.

:func:`generate` writes what a ROC's systems would hand the connector, into ``OUT/data/``:

* ``studenten.csv`` — an EduArte-style export of students and applicants (``;``, UTF-8 with BOM,
  CRLF, Dutch headers, ``d-m-Y`` dates). It carries a ``bsn`` column because real exports do; the
  mappings must never map it, and the loader must refuse it if they try.
* ``aanmeldingen_opendag.csv`` — registrations for open days, shadow days and information
  evenings with their QR check-ins (``,``, UTF-8, LF, ISO 8601 dates).
* ``checkins.jsonl`` — the scanner log: one JSON object per checked-in registration, no personal
  data.

With ``malformed=True`` a few rows per CSV carry exactly one defect each; the returned
:class:`DatasetSummary` names their line and column, so tests can assert that a sync rejected
exactly those rows. :func:`generate_students_csv` streams a large ``studenten.csv`` for benchmarks.

Same seed and ``today`` → the same bytes (for one installed Faker version).
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from connector.demo import people
from connector.demo.defects import MalformedRow, insert_defects
from connector.demo.events import REGISTRATION_COLUMNS, REGISTRATIONS_FILE, plan_registrations
from connector.demo.students import (
    APPLICANT_STATUSES,
    COL,
    MINOR_SHARE,
    STUDENT_COLUMNS,
    STUDENT_DEFECTS,
    dmy,
    ensure_edge_cases,
    news_consent,
    phone_consent,
    status_of,
    student_defect,
    student_row,
    under_16,
)
from connector.errors import UsageError

STUDENTS_FILE = "studenten.csv"
CHECKINS_FILE = "checkins.jsonl"


@dataclass(frozen=True)
class DatasetSummary:
    """What :func:`generate` wrote: counts, people under 16, joins, and every malformed row.

    ``rows`` counts data rows per file (malformed ones included, header excluded). ``students``,
    ``applicants`` and ``registrations`` count the good rows. ``minors`` counts good
    ``studenten.csv`` rows under 16 on ``today``; ``registration_minors`` good registration rows
    whose (optional) birth date makes them under 16. ``joins`` counts applicants whose normalised
    e-mail address also appears on a good registration row.
    """

    data_dir: Path
    seed: int
    today: date
    rows: dict[str, int]
    students: int
    applicants: int
    registrations: int
    events: int
    checkins: int
    minors: int
    registration_minors: int
    joins: int
    malformed: dict[str, tuple[MalformedRow, ...]] = field(default_factory=dict)

    def malformed_lines(self, file: str) -> list[int]:
        """Line numbers of the malformed rows in ``file`` (a name such as ``studenten.csv``)."""
        return [row.line for row in self.malformed.get(file, ())]


def generate(
    out_dir: Path,
    *,
    students: int = 300,
    applicants: int = 150,
    registrations: int = 400,
    seed: int = 42,
    today: date | None = None,
    malformed: bool = True,
) -> DatasetSummary:
    """Write the demo data set into ``out_dir/data/`` and describe it.

    Args:
        out_dir: project folder; the files go to its ``data/`` sub-folder (created if needed).
        students: good rows with status ingeschreven or uitgeschreven.
        applicants: good rows with status aangemeld or afgewezen; about 30% of them also
            registered for an event with the same e-mail address.
        registrations: good event registration rows.
        seed: the seed for Faker and for every random choice.
        today: the reference day for ages, statuses and past/future events. Pass the run's
            clock (``SIS_SYNC_NOW``) for reproducible files; omitted, the system date.
        malformed: add one row per known defect to each CSV (see ``DatasetSummary.malformed``).

    Returns:
        What was written, including every malformed row's line and column.

    Raises:
        UsageError: a negative count.
    """
    if min(students, applicants, registrations) < 0:
        raise UsageError("students, applicants and registrations must not be negative")
    today = today or date.today()  # noqa: DTZ011 - a calendar day, not a moment
    rng = random.Random(seed)
    pools = people.build_pools(seed)
    taken: set[str] = set()
    numbers: set[str] = set()

    pairs = []
    for i in range(students + applicants):
        person = people.make_person(rng, pools, today, taken, MINOR_SHARE)
        pairs.append(
            (person, student_row(rng, pools, person, today, numbers, applicant=i >= students))
        )
    ensure_edge_cases(rng, [row for _, row in pairs], today)
    applicant_people = [p for p, row in pairs if row[COL["status"]] in APPLICANT_STATUSES]
    joiners = rng.sample(applicant_people, round(len(applicant_people) * 0.3))

    regs = plan_registrations(rng, pools, today, registrations, joiners, taken, malformed=malformed)

    rows = sorted((row for _, row in pairs), key=lambda row: int(row[COL["studentnummer"]]))
    bad_students: tuple[MalformedRow, ...] = ()
    if malformed:
        bad_rows = [student_defect(rng, pools, today, taken, numbers, d) for d in STUDENT_DEFECTS]
        rows, bad_students = insert_defects(rng, rows, bad_rows, STUDENTS_FILE, STUDENT_DEFECTS)

    data_dir = Path(out_dir) / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    write_csv(data_dir / STUDENTS_FILE, STUDENT_COLUMNS, rows, ";", "utf-8-sig", "\r\n")
    write_csv(data_dir / REGISTRATIONS_FILE, REGISTRATION_COLUMNS, regs.rows, ",", "utf-8", "\n")
    with (data_dir / CHECKINS_FILE).open("w", encoding="utf-8", newline="\n") as out:
        out.writelines(json.dumps(scan, ensure_ascii=False) + "\n" for scan in regs.scans)

    bad_lines = {m.line for m in bad_students}
    good = [row for line, row in enumerate(rows, start=2) if line not in bad_lines]
    applicant_emails = {p.email for p in applicant_people}
    return DatasetSummary(
        data_dir=data_dir,
        seed=seed,
        today=today,
        rows={
            STUDENTS_FILE: len(rows),
            REGISTRATIONS_FILE: len(regs.rows),
            CHECKINS_FILE: len(regs.scans),
        },
        students=students,
        applicants=applicants,
        registrations=registrations,
        events=len(regs.events),
        checkins=len(regs.scans),
        minors=sum(under_16(row[COL["geboortedatum"]], today) for row in good),
        registration_minors=regs.minors,
        joins=len(regs.emails & applicant_emails),
        malformed={
            STUDENTS_FILE: bad_students,
            REGISTRATIONS_FILE: regs.malformed,
            CHECKINS_FILE: (),
        },
    )


def write_csv(
    path: Path,
    header: Iterable[str],
    rows: Iterable[list[str]],
    delimiter: str,
    encoding: str,
    newline: str,
) -> None:
    """Write rows with the dialect a given export tool uses (delimiter, BOM or not, line ends)."""
    with path.open("w", encoding=encoding, newline="") as out:
        writer = csv.writer(out, delimiter=delimiter, lineterminator=newline)
        writer.writerow(header)
        writer.writerows(rows)


# Upper bound for generate_students_csv: student numbers stay at 7 digits.
MAX_BULK_ROWS = 8_000_000


def generate_students_csv(
    path: Path, rows: int, *, seed: int = 1, today: date | None = None
) -> None:
    """Stream a large ``studenten.csv``-shaped file for benchmarks, in constant memory.

    Faker runs once (through :func:`people.build_pools`); every row is then combined from those
    pools with one seeded :class:`random.Random` and written at once (1,000,000 rows in about
    20 seconds on one core; Faker calls per row would take many minutes). Student numbers rise
    with a random stride and e-mail addresses carry the row number, which keeps both unique
    without remembering the ones already written. No malformed rows.

    Args:
        path: the file to write (its folder must exist).
        rows: data rows to write.
        seed: seed for the pools and the row choices.
        today: reference day for ages and statuses; the system date when omitted.

    Raises:
        UsageError: ``rows`` negative or above ``MAX_BULK_ROWS``.
    """
    if not 0 <= rows <= MAX_BULK_ROWS:
        raise UsageError(f"rows must be between 0 and {MAX_BULK_ROWS}")
    today = today or date.today()  # noqa: DTZ011 - a calendar day, not a moment
    rng = random.Random(seed)
    pools = people.build_pools(seed)
    firsts = [
        (name, people.ascii_slug(name), pools.first_female, "V") for name in pools.first_female
    ]
    firsts += [(name, people.ascii_slug(name), pools.first_male, "M") for name in pools.first_male]
    lasts = [(tv, name, people.ascii_slug(tv + name)) for tv, name in pools.last]
    # Formatted dates drawn once: per-row date arithmetic would dominate the run time.
    minor_births = [dmy(people.birthdate(rng, today, 15, 16)) for _ in range(2_000)]
    adult_births = [
        dmy(people.birthdate(rng, today, 16, rng.choice((17, 18, 19, 20, 21, 26))))
        for _ in range(8_000)
    ]
    drawn = [status_of(rng, today, applicant=i % 3 == 0) for i in range(4_000)]
    statuses = [(status, dmy(day)) for status, day in drawn]
    domains = [domain for domain, weight in people.EMAIL_DOMAINS for _ in range(weight)]
    stride = max(1, min(8, (9_999_999 - 1_000_000) // max(rows, 1)))

    programmes = [
        p
        for p, w in zip(people.PROGRAMMES, people.PROGRAMME_WEIGHTS, strict=True)
        for _ in range(w)
    ]
    news = [news_consent(rng, today) for _ in range(4_000)]
    postcodes = [people.postcode(rng) for _ in range(20_000)]
    house_numbers = [people.house_number(rng) for _ in range(5_000)]
    phone = {m: [phone_consent(rng, today, m) for _ in range(2_000)] for m in (False, True)}
    rnd = rng.random

    def pick(pool):  # rng.choice costs ~2 µs; at a million rows × a dozen picks that adds up
        return pool[int(rnd() * len(pool))]

    number = 1_000_000
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
        writer.writerow(STUDENT_COLUMNS)
        for index in range(rows):
            number += 1 + int(rnd() * stride)
            while people.passes_11_check(str(number)):
                number += 1
            roepnaam, first_slug, given, geslacht = pick(firsts)
            tussenvoegsel, achternaam, last_slug = pick(lasts)
            minor = rnd() < MINOR_SHARE
            email = f"{first_slug}.{last_slug}.{index}@{pick(domains)}"
            opleiding, crebo, niveau = pick(programmes)
            writer.writerow(
                (
                    number, achternaam, tussenvoegsel, roepnaam,
                    people.initials(rng, roepnaam, given),
                    pick(minor_births if minor else adult_births), geslacht,
                    people.as_typed(rng, email), people.mobile(rng),
                    people.landline(rng) if rnd() < 0.35 else "",
                    pick(pools.streets), pick(house_numbers), pick(postcodes),
                    pick(pools.cities), opleiding, crebo,
                    "BBL" if niveau > 1 and rnd() < 0.2 else "BOL", niveau, *pick(statuses),
                    *pick(news), *pick(phone[minor]), people.bsn(rng),
                )
            )  # fmt: skip
