"""Dutch people, addresses and contact details as a school's systems hold them.

Every function here is pure over a seeded :class:`random.Random`, so a data set is the same bytes
for the same seed. Faker (locale ``nl_NL``) is consulted once per seed to fill :class:`Pools`;
after that no Faker call happens per person, which keeps a million rows fast.

Values are written the way people *type* them (``06 1234 5678``, ``1234ab``, ``12-2``), because the
connector's transforms must normalise them. A few things are deliberately safe rather than real:
e-mail domains are under the reserved ``.example`` TLD (RFC 2606) so that demo data pushed into a
sandbox org can never mail a real inbox, and crebo codes are crebo-shaped (5 digits, 25xxx as in
the 2016 qualification structure) without being checked against the SBB register.
"""

from __future__ import annotations

import functools
import random
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from faker import Faker

AMSTERDAM = ZoneInfo("Europe/Amsterdam")

# Lower-case name prefixes as EduArte keeps them apart from the surname (its "voorvoegsel").
TUSSENVOEGSELS = frozenset(
    {"van", "de", "den", "der", "ter", "ten", "te", "van de", "van den", "van der", "van 't",
     "van het", "'t", "de la", "le", "d'", "uit de", "in 't", "op de", "'s"}
)  # fmt: skip

# (opleiding, crebo, niveau): crebo-shaped codes, see the module docstring.
PROGRAMMES: tuple[tuple[str, str, int], ...] = (
    ("Entree - Assistent dienstverlening en zorg", "25252", 1),
    ("Kok", "25180", 2),
    ("Logistiek medewerker", "25396", 2),
    ("Verkoopmedewerker", "25370", 2),
    ("Zelfstandig werkend kok", "25181", 3),
    ("Verzorgende-IG", "25491", 3),
    ("Pedagogisch medewerker kinderopvang", "25486", 3),
    ("Eerste monteur elektrotechnische installaties", "25327", 3),
    ("Mediavormgever", "25591", 4),
    ("Software Developer", "25604", 4),
    ("Verpleegkunde", "25655", 4),
    ("Expert IT systems and devices", "25605", 4),
    ("Juridisch medewerker zakelijke dienstverlening", "25413", 4),
    ("Sport- en bewegingscoördinator", "25409", 4),
    ("Doktersassistent", "25459", 4),
)
# More people apply for care and ICT than for legal work: weights per programme above.
PROGRAMME_WEIGHTS = (4, 6, 5, 4, 4, 9, 8, 5, 7, 9, 10, 6, 3, 5, 5)

EMAIL_DOMAINS = (
    ("gmail.example", 30), ("hotmail.example", 18), ("outlook.example", 14), ("live.example", 6),
    ("ziggo.example", 8), ("kpnmail.example", 6), ("icloud.example", 8), ("home.example", 4),
    ("student.roc-voorbeeld.example", 6),
)  # fmt: skip
_DOMAINS, _DOMAIN_WEIGHTS = zip(*EMAIL_DOMAINS, strict=True)

# Geographic area codes: two-digit areas have 7-digit subscriber numbers, three-digit ones 6.
AREA_CODES_2 = ("010", "013", "015", "020", "023", "024", "026", "030", "033", "035", "036",
                "038", "040", "043", "045", "046", "050", "053", "055", "058", "070", "071",
                "072", "073", "074", "075", "076", "077", "078", "079")  # fmt: skip
AREA_CODES_3 = ("0111", "0172", "0184", "0229", "0251", "0294", "0314", "0343", "0418", "0492",
                "0513", "0546", "0570", "0592", "0597")  # fmt: skip
MOBILE_RANGES = "123458"  # 061–065 and 068; 066 is pagers, 067 is unassigned

# The postcode letter pairs that exist: SA, SD and SS were never issued.
POSTCODE_LETTERS = tuple(
    a + b
    for a in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    for b in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    if a + b not in {"SA", "SD", "SS"}
)
TOEVOEGINGEN = ("A", "a", "B", "-1", "-2", "-3", " bis", "hs", "-H", " II")


def _weighted_sum(head: int) -> int:
    """Σ(9..2 × d1..d8) for the 8 leading digits of a 9-digit number, given as an int.

    Integer arithmetic rather than string digits: the benchmark generator calls this per row.
    """
    total = 0
    for weight in (2, 3, 4, 5, 6, 7, 8, 9):
        head, digit = divmod(head, 10)
        total += weight * digit
    return total


def elfproef(value: str) -> int | None:
    """The BSN 11-check remainder of ``value`` padded to 9 digits, or ``None`` if not digits.

    A BSN has remainder 0, an onderwijsnummer (starting with ``10``) remainder 5. Shorter numbers
    are padded with leading zeros first, as python-stdnum does, so a 7-digit number can pass too.
    """
    if not value.isascii() or not value.isdigit() or len(value) > 9:
        return None
    number = int(value)
    return (_weighted_sum(number // 10) - number % 10) % 11


def passes_11_check(value: str) -> bool:
    """True when ``value`` is a valid BSN or onderwijsnummer after zero-padding to 9 digits."""
    rest = elfproef(value)
    if rest is None or int(value) == 0:
        return False
    return rest == 0 or (rest == 5 and value.zfill(9).startswith("10"))


def bsn(rng: random.Random) -> str:
    """A 9-digit number that passes the BSN 11-check (never starting with 0)."""
    while True:
        head = rng.randrange(10_000_000, 100_000_000)
        check = _weighted_sum(head) % 11
        if check < 10:  # the check digit would have to be 10: no such BSN, draw again
            return f"{head}{check}"


@dataclass(frozen=True, slots=True)
class Pools:
    """Names and places drawn once from Faker nl_NL, combined per person with a seeded Random."""

    first_female: tuple[str, ...]
    first_male: tuple[str, ...]
    last: tuple[tuple[str, str], ...]  # (tussenvoegsel, achternaam)
    streets: tuple[str, ...]
    cities: tuple[str, ...]


def split_last_name(full: str) -> tuple[str, str] | None:
    """Split ``"van der Berg"`` into ``("van der", "Berg")``; ``None`` for names we cannot split.

    Faker's list also holds medieval nobility (``"Werl-Arnsberg, van"``); those are skipped rather
    than split wrongly.
    """
    if "," in full:
        return None
    words = full.split(" ")
    if len(words) == 1:
        return "", full
    prefix, rest = " ".join(words[:-1]), words[-1]
    if prefix in TUSSENVOEGSELS and rest[:1].isupper():
        return prefix, rest
    return None


@functools.lru_cache(maxsize=4)
def build_pools(seed: int, size: int = 1500) -> Pools:
    """Fill the pools from Faker nl_NL with ``seed`` (cached: Faker starts slowly)."""
    fake = Faker("nl_NL")
    fake.seed_instance(seed)
    last = tuple(
        parts for name in sorted(set(fake.last_name() for _ in range(size)))
        if (parts := split_last_name(name)) is not None
    )  # fmt: skip
    return Pools(
        first_female=tuple(fake.first_name_female() for _ in range(size // 2)),
        first_male=tuple(fake.first_name_male() for _ in range(size // 2)),
        last=last,
        streets=tuple(fake.street_name() for _ in range(size // 2)),
        cities=tuple(fake.city() for _ in range(size // 3)),
    )


def ascii_slug(text: str) -> str:
    """``"Esmée van 't Hof"`` → ``"esmeevanthof"``: what people make of their name in an address."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in plain.lower() if ch.isalnum())


def mobile(rng: random.Random) -> str:
    """A Dutch mobile number (06-1…5/8 + 7 digits) in one of the ways people type one."""
    digits = "6" + rng.choice(MOBILE_RANGES) + f"{rng.randrange(10_000_000):07d}"
    style = rng.random()
    if style < 0.30:
        return f"0{digits[:1]}-{digits[1:]}"  # 06-12345678
    if style < 0.50:
        return f"0{digits}"  # 0612345678
    if style < 0.68:
        return f"0{digits[:1]} {digits[1:5]} {digits[5:]}"  # 06 1234 5678
    if style < 0.82:
        return f"+31 {digits[:1]} {digits[1:5]} {digits[5:]}"  # +31 6 1234 5678
    if style < 0.90:
        return f"+31{digits}"
    if style < 0.96:
        return f"0031{digits}"
    return f"0{digits[:1]} {digits[1:3]} {digits[3:5]} {digits[5:7]} {digits[7:]}"


def landline(rng: random.Random) -> str:
    """A geographic Dutch number such as ``020-1234567`` or ``0592 123456``."""
    if rng.random() < 0.7:
        area, sub = rng.choice(AREA_CODES_2), f"{rng.randint(2, 9)}{rng.randrange(1_000_000):06d}"
    else:
        area, sub = rng.choice(AREA_CODES_3), f"{rng.randint(2, 9)}{rng.randrange(100_000):05d}"
    return f"{area}-{sub}" if rng.random() < 0.6 else f"{area} {sub}"


def postcode(rng: random.Random) -> str:
    """A well-formed postcode (never SA/SD/SS) as ``1234 AB``, ``1234AB`` or ``1234ab``."""
    digits, letters = rng.randint(1000, 9999), rng.choice(POSTCODE_LETTERS)
    style = rng.random()
    if style < 0.6:
        return f"{digits} {letters}"
    if style < 0.85:
        return f"{digits}{letters}"
    return f"{digits}{letters.lower()}" if style < 0.95 else f"{digits} {letters.lower()}"


def house_number(rng: random.Random) -> str:
    """A house number, with a toevoeging (``12A``, ``12-2``, ``12 bis``) about one time in six."""
    # Low numbers are common, three-digit ones rare: a capped Pareto tail.
    number = str(min(int((rng.paretovariate(1.3) - 1) * 15), 349) + 1)
    return number + rng.choice(TOEVOEGINGEN) if rng.random() < 0.17 else number


def email_local(rng: random.Random, roepnaam: str, tussenvoegsel: str, achternaam: str, year: int):
    """The part before the ``@`` as a teenager or their parent would choose it."""
    first, last, prefix = ascii_slug(roepnaam), ascii_slug(achternaam), ascii_slug(tussenvoegsel)
    style = rng.randrange(6)
    if style == 0:
        return f"{first}.{prefix}{last}"
    if style == 1:
        return f"{first[:1]}.{prefix}{last}"
    if style == 2:
        return f"{first}{prefix}{last}{year % 100:02d}"
    if style == 3:
        return f"{first}_{prefix[:1]}{last}"
    if style == 4:
        return f"{prefix}{last}.{first}"
    return f"{first}{year}"


def unique_email(rng: random.Random, local: str, taken: set[str]) -> str:
    """``local@domain`` in lower case, made unique against ``taken`` (which it extends)."""
    domain = rng.choices(_DOMAINS, _DOMAIN_WEIGHTS)[0]
    address, n = f"{local}@{domain}", 1
    while address in taken:
        n += 1
        address = f"{local}{n}@{domain}"
    taken.add(address)
    return address


def as_typed(rng: random.Random, address: str, messy: float = 0.15) -> str:
    """The address as someone typed it: sometimes capitalised or with stray spaces."""
    if rng.random() >= messy:
        return address
    local, _, domain = address.partition("@")
    style = rng.randrange(4)
    if style == 0:
        return f"{local.capitalize()}@{domain}"
    if style == 1:
        return f" {address}"
    if style == 2:
        return f"{address.upper()}"
    return f"{local.title()}@{domain.capitalize()} "


def initials(rng: random.Random, roepnaam: str, names: tuple[str, ...]) -> str:
    """Voorletters like ``S.M.``: the roepnaam's initial first, then up to two more given names."""
    extra = [rng.choice(names) for _ in range(rng.choice((0, 1, 1, 2)))]
    return "".join(f"{name[0].upper()}." for name in (roepnaam, *extra))


def years_before(day: date, years: int) -> date:
    """The same calendar day ``years`` earlier (29 February falls back to the 28th)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def birthdate(rng: random.Random, today: date, low: int, high: int) -> date:
    """A birth date for someone whose age on ``today`` is at least ``low`` and below ``high``."""
    earliest = years_before(today, high) + timedelta(days=1)
    latest = years_before(today, low)
    return earliest + timedelta(days=rng.randrange((latest - earliest).days + 1))


def age_on(born: date, today: date) -> int:
    """Age in whole years on ``today``."""
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def local_iso(day: date, at: time) -> str:
    """An Amsterdam wall-clock moment as ISO 8601 with its offset (``+01:00`` or ``+02:00``)."""
    return datetime.combine(day, at, tzinfo=AMSTERDAM).isoformat(timespec="seconds")


def office_time(rng: random.Random, first_hour: int = 8, last_hour: int = 21) -> time:
    """A time of day at which people fill in forms (whole minutes)."""
    return time(rng.randint(first_hour, last_hour), rng.randrange(60))


def moment(rng: random.Random, today: date, days_back: int = 700) -> str:
    """An ISO 8601 moment with offset in the ``days_back`` days before ``today``."""
    return local_iso(today - timedelta(days=rng.randint(1, days_back)), office_time(rng))


@dataclass(frozen=True, slots=True)
class Person:
    """One person as both the SIS and an event tool know them. ``email`` is in canonical form."""

    roepnaam: str
    tussenvoegsel: str
    achternaam: str
    voorletters: str
    geslacht: str
    born: date
    email: str


def make_person(
    rng: random.Random,
    pools: Pools,
    today: date,
    taken: set[str],
    minor_share: float,
    oldest: int = 25,
) -> Person:
    """A person aged 15 to ``oldest`` on ``today``; under 16 with probability ``minor_share``."""
    female = rng.random() < 0.5
    first_names = pools.first_female if female else pools.first_male
    roepnaam = rng.choice(first_names)
    tussenvoegsel, achternaam = rng.choice(pools.last)
    if rng.random() < minor_share:
        born = birthdate(rng, today, 15, 16)
    else:  # most MBO students are 16–20; a tail of older ones
        born = birthdate(rng, today, 16, rng.choice((17, 18, 19, 20, 21, oldest + 1)))
    local = email_local(rng, roepnaam, tussenvoegsel, achternaam, born.year)
    geslacht = ("V" if female else "M") if rng.random() < 0.98 else "X"
    return Person(
        roepnaam=roepnaam,
        tussenvoegsel=tussenvoegsel,
        achternaam=achternaam,
        voorletters=initials(rng, roepnaam, first_names),
        geslacht=geslacht,
        born=born,
        email=unique_email(rng, local, taken),
    )
