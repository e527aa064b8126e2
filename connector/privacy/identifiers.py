"""Forbidden identifiers: BSN, onderwijsnummer and the special categories of GDPR art. 9/10.

Two lines of defence (DESIGN §6):

1. By name, when a mapping loads: a source column or target field that names a forbidden
   identifier or a special category is refused (:func:`looks_forbidden`).
2. By value, for every record: a value that passes the BSN or onderwijsnummer 11-check is never
   sent, whichever field it sits in (:func:`contains_forbidden_number`).

The BSN may only be used where a law says so (UAVG art. 46); a CRM for recruitment is not such a
use, and consent does not make it one. The onderwijsnummer is DUO's stand-in for the BSN and is
treated the same way.
"""

from __future__ import annotations

import itertools
import re

_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, -1)
_SEPARATORS = str.maketrans("", "", " .-")
# A run of 8 or 9 digits, optionally grouped with single spaces, dots or dashes (1234.56.782).
_RUN = re.compile(r"(?<!\d)\d(?:[ .-]?\d){7,8}(?!\d)")


def _elfproef(value: object) -> int | None:
    """The weighted sum mod 11 of a 9-digit number (8 digits get their leading 0), else None."""
    if isinstance(value, bool):
        return None
    text = str(value).strip().translate(_SEPARATORS)
    if not text.isdigit() or not 8 <= len(text) <= 9 or not text.isascii():
        return None
    text = text.zfill(9)
    if text == "000000000":
        return None
    return sum(w * int(d) for w, d in zip(_WEIGHTS, text, strict=True)) % 11


def is_bsn(value: object) -> bool:
    """True when ``value`` is a valid BSN: 9 digits passing the 11-check (stdnum.nl.bsn)."""
    return _elfproef(value) == 0


def is_onderwijsnummer(value: object) -> bool:
    """True for a valid onderwijsnummer: 9 digits starting with ``10``, checksum 5.

    Rule from DUO as implemented by ``stdnum/nl/onderwijsnummer.py`` (dutch-rules-and-formats §3).
    """
    text = str(value).strip().translate(_SEPARATORS) if not isinstance(value, bool) else ""
    return len(text) == 9 and text.startswith("10") and _elfproef(text) == 5


def contains_forbidden_number(value: object) -> bool:
    """True when ``value`` is, or contains, a number passing the BSN or onderwijsnummer check.

    Cheap for ordinary values: a string without a run of 8 digits never reaches the checks.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return is_bsn(value) or is_onderwijsnummer(value)
    if not isinstance(value, str) or len(value) < 8:
        return False
    for match in _RUN.finditer(value):
        candidate = match.group()
        if is_bsn(candidate) or is_onderwijsnummer(candidate):
            return True
    return False


# Names are split into lower-case tokens (snake_case, kebab-case, camelCase, spaces, `__c`).
_TOKEN = re.compile(r"[A-Z]?[a-zà-ÿ]+|[A-Z]+(?![a-z])|\d+")
_FORBIDDEN: dict[str, str] = {}
_RULES: list[tuple[tuple[str, ...], str]] = [
    (
        (
            "bsn",
            "burgerservicenummer",
            "sofinummer",
            "sofi",
            "socialsecurity",
            "ssn",
            "nationalid",
            "citizenservicenumber",
        ),
        "a BSN may never be processed by the connector (UAVG art. 46; consent cannot change it)",
    ),
    (
        ("onderwijsnummer", "pgn", "persoonsgebondennummer"),
        "the onderwijsnummer is a persoonsgebonden nummer like the BSN and is never synced",
    ),
    (
        (
            "gezondheid",
            "health",
            "medisch",
            "medical",
            "medicatie",
            "medication",
            "allergie",
            "allergy",
            "allergies",
            "dieet",
            "diet",
            "dietary",
            "beperking",
            "handicap",
            "disability",
            "zorgbehoefte",
            "diagnose",
            "diagnosis",
            "ziekte",
            "illness",
        ),
        "health data is a special category (GDPR art. 9) and is not synced",
    ),
    (
        ("etniciteit", "ethnicity", "ethnic", "afkomst", "race", "ras"),
        "racial or ethnic origin is a special category (GDPR art. 9) and is not synced",
    ),
    (
        ("religie", "religion", "geloof", "belief", "levensovertuiging"),
        "religious or philosophical belief is a special category (GDPR art. 9) and is not synced",
    ),
    (
        ("politiek", "political", "politics"),
        "political opinion is a special category (GDPR art. 9) and is not synced",
    ),
    (
        ("vakbond", "union", "tradeunion"),
        "trade-union membership is a special category (GDPR art. 9) and is not synced",
    ),
    (
        ("seksueel", "sexual", "geaardheid", "orientation", "sexuality"),
        "sex life or sexual orientation is a special category (GDPR art. 9) and is not synced",
    ),
    (
        ("biometrisch", "biometric", "vingerafdruk", "fingerprint", "genetisch", "genetic"),
        "biometric and genetic data are special categories (GDPR art. 9) and are not synced",
    ),
    (
        ("strafblad", "criminal", "justitie", "veroordeling", "conviction", "vog"),
        "criminal-conviction data (GDPR art. 10) is not synced",
    ),
]
for _words, _reason in _RULES:
    for _w in _words:
        _FORBIDDEN[_w] = _reason
# Two-token names that only mean something together.
_PAIRS = {
    ("social", "security"): _FORBIDDEN["bsn"],
    ("national", "id"): _FORBIDDEN["bsn"],
    ("trade", "union"): _FORBIDDEN["vakbond"],
    ("sofi", "nummer"): _FORBIDDEN["bsn"],
}
# Tokens too short or too common to stand alone; they count only as a whole name.
_WHOLE_ONLY = {"ras", "race", "union", "diet", "vog", "orientation", "belief"}


_STEMS = tuple(w for w in _FORBIDDEN if len(w) >= 5 and w not in _WHOLE_ONLY)


def _tokens(name: str) -> list[str]:
    name = name.removesuffix("__c").removesuffix("__C")
    return [t.lower() for t in _TOKEN.findall(name)]


def looks_forbidden(name: str) -> str | None:
    """A reason when a column or field name names a forbidden identifier or special category."""
    tokens = _tokens(name)
    if not tokens:
        return None
    joined = "".join(tokens)
    if joined in _FORBIDDEN:
        return _FORBIDDEN[joined]
    for token in tokens:
        if token in _FORBIDDEN and token not in _WHOLE_ONLY:
            return _FORBIDDEN[token]
        # Dutch glues words together (dieetwensen, medischeGegevens, allergieën): match stems.
        for stem in _STEMS:
            if token.startswith(stem):
                return _FORBIDDEN[stem]
    for pair in itertools.pairwise(tokens):
        if pair in _PAIRS:
            return _PAIRS[pair]
    return None
