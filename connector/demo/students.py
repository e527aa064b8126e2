"""Rows of the EduArte-style ``studenten.csv``: students, applicants, their consents, defects.

A row is a list of strings in ``STUDENT_COLUMNS`` order, values spelled as the export spells
them (``d-m-Y`` dates, ``ja``/``nee`` flags, ISO 8601 consent moments with offset).
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from connector.demo import people

STUDENT_COLUMNS = (
    "studentnummer", "achternaam", "tussenvoegsel", "roepnaam", "voorletters", "geboortedatum",
    "geslacht", "email", "mobiel", "telefoon", "straat", "huisnummer", "postcode", "woonplaats",
    "opleiding", "crebo", "leerweg", "niveau", "status", "status_datum", "toestemming_nieuws",
    "toestemming_nieuws_op", "toestemming_nieuws_bron", "toestemming_bellen",
    "toestemming_bellen_op", "toestemming_bellen_door", "toestemming_bellen_bron", "bsn",
)  # fmt: skip
COL = {name: i for i, name in enumerate(STUDENT_COLUMNS)}

MINOR_SHARE = 0.15  # share of studenten.csv under 16, where a parent's consent is needed
NEWS_SOURCES = ("aanmeldformulier", "aanmeldformulier", "open dag", "intakegesprek", "website")
PHONE_SOURCES = ("aanmeldformulier", "intakegesprek", "telefoon studentenbalie")

# One defect per malformed row: (problem code, column that is wrong; "" = the row's shape).
STUDENT_DEFECTS = (
    ("bad_date", "geboortedatum"), ("bad_email", "email"), ("empty_key", "studentnummer"),
    ("column_count", ""), ("bad_postcode", "postcode"), ("bad_phone", "mobiel"),
)  # fmt: skip


APPLICANT_STATUSES = frozenset({"aangemeld", "afgewezen"})


def student_row(
    rng: random.Random,
    pools: people.Pools,
    person: people.Person,
    today: date,
    numbers: set[str],
    *,
    applicant: bool,
) -> list[str]:
    """One good ``studenten.csv`` row for ``person``, in ``STUDENT_COLUMNS`` order."""
    opleiding, crebo, niveau = rng.choices(people.PROGRAMMES, people.PROGRAMME_WEIGHTS)[0]
    status, status_day = status_of(rng, today, applicant=applicant)
    news, news_at, news_source = news_consent(rng, today)
    phone, phone_at, phone_by, phone_source = phone_consent(
        rng, today, people.age_on(person.born, today) < 16
    )
    return [
        student_number(rng, numbers), person.achternaam, person.tussenvoegsel, person.roepnaam,
        person.voorletters, dmy(person.born), person.geslacht, people.as_typed(rng, person.email),
        people.mobile(rng), people.landline(rng) if rng.random() < 0.35 else "",
        rng.choice(pools.streets), people.house_number(rng), people.postcode(rng),
        rng.choice(pools.cities), opleiding, crebo,
        "BBL" if niveau > 1 and rng.random() < 0.2 else "BOL", str(niveau), status,
        dmy(status_day), news, news_at, news_source, phone, phone_at, phone_by, phone_source,
        people.bsn(rng),
    ]  # fmt: skip


def status_of(rng: random.Random, today: date, *, applicant: bool) -> tuple[str, date]:
    """A lifecycle status and the day it was reached (never after ``today``)."""
    if applicant:
        status = "aangemeld" if rng.random() < 0.85 else "afgewezen"
        return status, today - timedelta(days=rng.randint(1, 240))
    if rng.random() < 0.15:
        return "uitgeschreven", today - timedelta(days=rng.randint(1, 400))
    # Enrolment starts on 1 September of this or an earlier school year; some start mid-year.
    start = date(today.year if today.month >= 9 else today.year - 1, 9, 1)
    start = start.replace(year=start.year - rng.choice((0, 0, 1, 1, 2)))
    if rng.random() < 0.2:
        start += timedelta(days=rng.randint(1, 150))
    return "ingeschreven", min(start, today)


def news_consent(rng: random.Random, today: date) -> tuple[str, str, str]:
    """(toestemming_nieuws, _op, _bron): ja/nee/empty; a "ja" sometimes lacks its timestamp."""
    draw = rng.random()
    if draw < 0.55:
        at = "" if rng.random() < 0.08 else people.moment(rng, today)
        return "ja", at, rng.choice(NEWS_SOURCES)
    if draw < 0.80:  # "nee" sometimes with the moment it was withdrawn
        return (
            ("nee", people.moment(rng, today), rng.choice(NEWS_SOURCES))
            if rng.random() < 0.3
            else ("nee", "", "")
        )
    return "", "", ""


def phone_consent(rng: random.Random, today: date, minor: bool) -> tuple[str, str, str, str]:
    """(toestemming_bellen, _op, _door, _bron): under 16 mostly a parent, sometimes wrongly the
    child; the source (the form or desk where it was given) is the art. 7(1) proof."""
    if rng.random() >= 0.4:
        return "nee", "", "", ""
    at = "" if rng.random() < 0.05 else people.moment(rng, today)
    by = ("parent" if rng.random() < 0.85 else "self") if minor else "self"
    return "ja", at, by, rng.choice(PHONE_SOURCES)


def student_number(rng: random.Random, numbers: set[str]) -> str:
    """A new 6- or 7-digit student number that can never be taken for a BSN or onderwijsnummer."""
    while True:
        value = str(
            rng.randrange(100_000, 1_000_000)
            if rng.random() < 0.1
            else rng.randrange(1_000_000, 10_000_000)
        )
        if value not in numbers and not people.passes_11_check(value):
            numbers.add(value)
            return value


def ensure_edge_cases(rng: random.Random, rows: list[list[str]], today: date) -> None:
    """Make sure the cases the policy must handle occur even in a small data set.

    A minor who consented to calls *themselves* (must be refused), a minor with a parent's
    consent (may be called), and a news "ja" without a timestamp (no consent).
    """
    minors = [row for row in rows if under_16(row[COL["geboortedatum"]], today)]
    cases = (("self", 0), ("parent", 1))
    for by, index in cases:
        if len(minors) > index and not any(
            r[COL["toestemming_bellen"]] == "ja"
            and r[COL["toestemming_bellen_door"]] == by
            and r[COL["toestemming_bellen_op"]]
            for r in minors
        ):
            row = minors[index]
            row[COL["toestemming_bellen"]], row[COL["toestemming_bellen_door"]] = "ja", by
            row[COL["toestemming_bellen_op"]] = people.moment(rng, today)
            row[COL["toestemming_bellen_bron"]] = PHONE_SOURCES[0]
    if rows and not any(
        r[COL["toestemming_nieuws"]] == "ja" and not r[COL["toestemming_nieuws_op"]] for r in rows
    ):
        row = rows[-1]
        row[COL["toestemming_nieuws"]], row[COL["toestemming_nieuws_op"]] = "ja", ""
        row[COL["toestemming_nieuws_bron"]] = "aanmeldformulier"


def student_defect(
    rng: random.Random,
    pools: people.Pools,
    today: date,
    taken: set[str],
    numbers: set[str],
    defect: tuple[str, str],
) -> list[str]:
    """A fresh row (a person nobody else shares) with exactly the one ``defect``."""
    person = people.make_person(rng, pools, today, taken, 0.0)
    row = student_row(rng, pools, person, today, numbers, applicant=rng.random() < 0.5)
    problem = defect[0]
    if problem == "bad_date":
        row[COL["geboortedatum"]] = f"31-02-{person.born.year}"
    elif problem == "bad_email":
        row[COL["email"]] = person.email.replace("@", ".")
    elif problem == "empty_key":
        row[COL["studentnummer"]] = ""
    elif problem == "column_count":  # an unquoted ";" in the street name: one column too many
        row.insert(COL["straat"] + 1, "achterom")
    elif problem == "bad_postcode":
        row[COL["postcode"]] = f"{rng.randint(1000, 9999)} SS"
    elif problem == "bad_phone":
        row[COL["mobiel"]] = f"06-{rng.randrange(100_000, 1_000_000)}"
    return row


def dmy(day: date) -> str:
    """A date as EduArte writes it: ``14-03-2009``."""
    return f"{day.day:02d}-{day.month:02d}-{day.year}"


def under_16(value: str, today: date) -> bool:
    """Whether a ``d-m-Y`` birth date makes someone younger than 16 on ``today``."""
    born = datetime.strptime(value, "%d-%m-%Y").date()  # noqa: DTZ007 - a date, no zone
    return people.age_on(born, today) < 16
