"""Open days, shadow days and information evenings: registrations and QR check-ins.

Shaped like the export of a ticketing tool (Eventbrite/Weezevent style): one row per person and
event, ISO 8601 dates, the QR code printed on the ticket, and whether it was scanned at the door.
People register for several events, typing their e-mail address a little differently each time;
some of them later apply and turn up in the SIS export with the same address.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from connector.demo import people
from connector.demo.defects import MalformedRow, insert_defects

REGISTRATION_COLUMNS = (
    "registratie_id", "evenement_id", "evenement_naam", "evenement_type", "evenement_datum",
    "locatie", "voornaam", "tussenvoegsel", "achternaam", "email", "mobiel", "geboortedatum",
    "opleiding_interesse", "aangemeld_op", "ingecheckt", "ingecheckt_op", "qr_code",
    "toestemming_nieuws", "toestemming_nieuws_op", "toestemming_nieuws_bron",
)  # fmt: skip
_COL = {name: i for i, name in enumerate(REGISTRATION_COLUMNS)}
REGISTRATIONS_FILE = "aanmeldingen_opendag.csv"

REGISTRATION_DEFECTS = (
    ("bad_date", "geboortedatum"), ("bad_email", "email"), ("empty_key", "registratie_id"),
    ("column_count", ""), ("bad_phone", "mobiel"),
)  # fmt: skip

# (evenement_type, id prefix, weekday it falls on, start time, popularity weight)
EVENT_KINDS = (
    ("Open dag", "OD", 5, time(10, 0), 5),
    ("Meeloopdag", "MD", 2, time(9, 0), 2),
    ("Voorlichting", "VL", 1, time(19, 30), 3),
)
LOCATIONS = (
    ("AMS", "Amsterdam, Campus Noord"),
    ("RTD", "Rotterdam, Zuidplein"),
    ("UTR", "Utrecht, Leidsche Rijn"),
    ("ALM", "Almere, Stadshart"),
)
MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
          "september", "oktober", "november", "december")  # fmt: skip
REGISTRANT_MINOR_SHARE = 0.3  # open days draw 15-year-olds from the VMBO more than the SIS holds
CHECK_IN_SHARE = 0.6
# No 0/O or 1/I: people read these codes off a screen at the door.
QR_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_PENDING_ID = "\0"


@dataclass(frozen=True, slots=True)
class Event:
    """One occurrence of an event at one location (one Campaign in Salesforce)."""

    id: str
    name: str
    kind: str
    day: date
    start: time
    location_code: str
    location: str
    weight: int


@dataclass(frozen=True)
class Registrations:
    """The registration rows (malformed ones in place), the scan log and what tests need to know.

    ``emails`` holds the canonical (stripped, lower-case) addresses of the good rows; ``minors``
    counts good rows whose birth date is given and under 16 on ``today``.
    """

    events: tuple[Event, ...]
    rows: list[list[str]]
    scans: list[dict[str, str]]
    malformed: tuple[MalformedRow, ...]
    emails: frozenset[str]
    minors: int


def make_events(rng: random.Random, today: date) -> tuple[Event, ...]:
    """5–8 events, two or three of them still to come, on the weekday each kind is held."""
    count, upcoming = rng.randint(5, 8), rng.randint(2, 3)
    events: dict[str, Event] = {}
    while len(events) < count:
        future = len(events) < upcoming
        kind = (
            EVENT_KINDS[0]
            if not events
            else rng.choices(EVENT_KINDS, [k[4] for k in EVENT_KINDS])[0]
        )
        label, prefix, weekday, start, weight = kind
        if future:
            day = today + timedelta(days=rng.randint(7, 120))
            day += timedelta(days=(weekday - day.weekday()) % 7)
        else:
            day = today - timedelta(days=rng.randint(3, 150))
            day -= timedelta(days=(day.weekday() - weekday) % 7)
        if _holiday(day):
            continue
        code, location = rng.choice(LOCATIONS)
        event_id = f"{prefix}-{day.isoformat()}-{code}"
        city = location.split(",")[0]
        name = f"{label} {city} {day.day} {MONTHS[day.month - 1]} {day.year}"
        events.setdefault(
            event_id, Event(event_id, name, label, day, start, code, location, weight)
        )
    return tuple(sorted(events.values(), key=lambda e: (e.day, e.id)))


def _holiday(day: date) -> bool:
    """Christmas and summer holidays: no school events then."""
    md = (day.month, day.day)
    return md >= (12, 20) or md <= (1, 4) or (7, 15) <= md <= (8, 20)


def plan_registrations(
    rng: random.Random,
    pools: people.Pools,
    today: date,
    count: int,
    joiners: list[people.Person],
    taken: set[str],
    *,
    malformed: bool,
) -> Registrations:
    """``count`` good registrations: the ``joiners`` first (SIS applicants), then new prospects.

    Args:
        rng: the data set's random source.
        pools: names and places.
        today: events before it are past (and about 60% of their tickets were scanned).
        count: good rows to produce.
        joiners: people from the SIS export who also registered (same e-mail address).
        taken: canonical e-mail addresses in use; new prospects get fresh ones.
        malformed: add one row per ``REGISTRATION_DEFECTS`` entry.

    Returns:
        Rows in ``REGISTRATION_COLUMNS`` order, ordered by registration time, ids assigned.
    """
    events = make_events(rng, today)
    plan: list[tuple[people.Person, list[Event]]] = []
    remaining = count
    for person in joiners:
        if remaining <= 0:
            break
        plan.append((person, _pick(rng, events, min(remaining, rng.choice((1, 1, 2))))))
        remaining -= len(plan[-1][1])
    while remaining > 0:
        person = people.make_person(rng, pools, today, taken, REGISTRANT_MINOR_SHARE, oldest=22)
        how_many = rng.choices((1, 2, 3), (75, 20, 5))[0]
        plan.append((person, _pick(rng, events, min(remaining, how_many))))
        remaining -= len(plan[-1][1])

    codes: set[str] = set()
    good = []
    for person, chosen in plan:
        for nth, event in enumerate(chosen):
            # The first time people type their address carefully; later ones vary more.
            typed = people.as_typed(rng, person.email, messy=0.1 if nth == 0 else 0.6)
            good.append(_row(rng, person, event, typed, today, codes))
    good.sort(
        key=lambda row: (datetime.fromisoformat(row[_COL["aangemeld_op"]]), row[_COL["qr_code"]])
    )

    rows: list[list[str]] = good
    report: tuple[MalformedRow, ...] = ()
    if malformed:
        bad = [_defect(rng, pools, today, taken, events, codes, d[0]) for d in REGISTRATION_DEFECTS]
        rows, report = insert_defects(rng, good, bad, REGISTRATIONS_FILE, REGISTRATION_DEFECTS)
    number = 1000 + rng.randrange(9000)
    for row in rows:
        if row[0] == _PENDING_ID:
            number += rng.choice((1, 1, 1, 2, 3))  # gaps: cancelled registrations
            row[0] = f"REG-{number:06d}"

    checked = sorted(
        (row for row in good if row[_COL["ingecheckt"]] == "ja"),
        key=lambda row: datetime.fromisoformat(row[_COL["ingecheckt_op"]]),
    )
    by_id = {event.id: event for event in events}
    scans = [
        {
            "scan_id": f"SCAN-{n:06d}",
            "qr_code": row[_COL["qr_code"]],
            "evenement_id": row[_COL["evenement_id"]],
            "gescand_op": row[_COL["ingecheckt_op"]],
            "apparaat": f"{by_id[row[_COL['evenement_id']]].location_code.lower()}"
            f"-scanner-{rng.randint(1, 3)}",
        }
        for n, row in enumerate(checked, start=1)
    ]
    births = (row[_COL["geboortedatum"]] for row in good)
    return Registrations(
        events=events,
        rows=rows,
        scans=scans,
        malformed=report,
        emails=frozenset(row[_COL["email"]].strip().lower() for row in good),
        minors=sum(1 for b in births if b and people.age_on(date.fromisoformat(b), today) < 16),
    )


def _pick(rng: random.Random, events: tuple[Event, ...], how_many: int) -> list[Event]:
    """Distinct events, open days more likely, in date order."""
    chosen: dict[str, Event] = {}
    how_many = min(how_many, len(events))
    while len(chosen) < how_many:
        event = rng.choices(events, [e.weight for e in events])[0]
        chosen.setdefault(event.id, event)
    return sorted(chosen.values(), key=lambda e: e.day)


def _qr_code(rng: random.Random, codes: set[str]) -> str:
    """A new 8-character ticket code starting with a letter (never an all-digit number)."""
    while True:
        code = rng.choice(QR_ALPHABET[:24]) + "".join(rng.choices(QR_ALPHABET, k=7))
        if code not in codes:
            codes.add(code)
            return code


def _row(
    rng: random.Random,
    person: people.Person,
    event: Event,
    typed_email: str,
    today: date,
    codes: set[str],
) -> list[str]:
    """One good registration row; the registratie_id is assigned once the file is ordered."""
    latest = min(event.day, today) - timedelta(days=1)
    registered_at = people.local_iso(
        latest - timedelta(days=rng.randint(0, 45)), people.office_time(rng, 7, 23)
    )
    checked_in = event.day < today and rng.random() < CHECK_IN_SHARE
    checked_in_at = ""
    if checked_in:
        scanned = datetime.combine(event.day, event.start) + timedelta(
            minutes=rng.randint(-15, 150)
        )
        checked_in_at = people.local_iso(event.day, scanned.time())
    draw = rng.random()
    if draw < 0.45:
        news, news_at, news_source = "ja", registered_at, "aanmeldformulier"
        if checked_in and rng.random() < 0.2:  # ticked on the tablet at the door instead
            news_at, news_source = checked_in_at, "open dag"
        if rng.random() < 0.05:  # the tool lost the moment: no proof, so no consent
            news_at = ""
    elif draw < 0.8:
        news, news_at, news_source = "nee", "", ""
    else:
        news, news_at, news_source = "", "", ""
    interest = (
        rng.choices(people.PROGRAMMES, people.PROGRAMME_WEIGHTS)[0][0]
        if rng.random() < 0.85
        else ""
    )
    return [
        _PENDING_ID, event.id, event.name, event.kind, event.day.isoformat(), event.location,
        person.roepnaam, person.tussenvoegsel, person.achternaam, typed_email,
        people.mobile(rng) if rng.random() < 0.8 else "",
        person.born.isoformat() if rng.random() < 0.75 else "", interest, registered_at,
        "ja" if checked_in else "nee", checked_in_at, _qr_code(rng, codes),
        news, news_at, news_source,
    ]  # fmt: skip


def _defect(
    rng: random.Random,
    pools: people.Pools,
    today: date,
    taken: set[str],
    events: tuple[Event, ...],
    codes: set[str],
    problem: str,
) -> list[str]:
    """A fresh, not-checked-in registration with exactly the one defect ``problem``."""
    person = people.make_person(rng, pools, today, taken, 0.0, oldest=22)
    future = [e for e in events if e.day >= today] or list(events)
    row = _row(rng, person, rng.choice(future), person.email, today, codes)
    if problem == "bad_date":
        row[_COL["geboortedatum"]] = f"{person.born.year}-02-30"
    elif problem == "bad_email":
        row[_COL["email"]] = person.email.replace("@", ".")
    elif problem == "empty_key":
        row[_COL["registratie_id"]] = ""
    elif problem == "column_count":  # an unquoted "," after the surname: one column too many
        row.insert(_COL["achternaam"] + 1, " jr.")
    elif problem == "bad_phone":
        row[_COL["mobiel"]] = f"06-{rng.randrange(100_000, 1_000_000)}"
    if problem != "bad_date" and not row[_COL["geboortedatum"]]:
        row[_COL["geboortedatum"]] = person.born.isoformat()
    return row
