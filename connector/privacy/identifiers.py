"""Forbidden identifiers: BSN, onderwijsnummer and the special categories of GDPR art. 9/10.

Two lines of defence (DESIGN §6):

1. By name, when a mapping loads: a source column or target field that names a forbidden
   identifier or a special category is refused (:func:`looks_forbidden`, with its vocabulary in
   :mod:`connector.privacy.forbidden_names`).
2. By value, for every record: a value that passes the BSN or onderwijsnummer 11-check is never
   sent, whichever field it sits in (:func:`contains_forbidden_number`).

The BSN may only be used where a law says so (GDPR art. 87, UAVG art. 46); a CRM for recruitment
is not such a use, and consent does not make it one. The onderwijsnummer is DUO's stand-in for the
BSN and is treated the same way.

Finding a number inside free text has to weigh leaks against false alarms: one in eleven random
8- or 9-digit numbers passes the 11-check, so a naive scan withholds one in eleven Dutch phone
numbers written ``06-12345678`` and one in eleven dates written ``2008-03-14``. The scan therefore
looks at whole numbers, i.e. runs of digit groups joined by single separators (space, dot, dash,
slash, underscore, comma, no-break space), and tests

* a run that is one group of 8 or 9 digits (``123456782``, ``12345678`` = ``012345678``), and
* every span of consecutive groups with 9 digits in total, joined by one kind of separator
  (``1234.56.782``, ``123 456 782``, ``111/222/333``, ``111_222_333``, ``111,222,333``, and a
  BSN typed next to another number with a space), and
* a span of three groups written 3-3-3, 4-2-3 or 2-3-4 with two different separators
  (``111 222-333``, ``1234 56-782``): the ways a BSN is written, which dates (2-2-4, 4-2-2) and
  phone numbers (10 digits) are not.

Before the groups are read, what editors put in place of the ASCII separators becomes the ASCII
one (:data:`_LOOKALIKES`: Word's en dash ``111–222–333``, the em dash, minus sign, figure dash,
non-breaking hyphen, fraction and fullwidth slashes, thin and narrow no-break spaces), and spaces
around a separator go (``111 / 222 / 333`` → ``111/222/333``, two spaces → one).

Mixed separators are a trade-off: any two groupings with different separators would also read a
date followed by a number (``14-03-2008 123``) or a street number beside a postcode as a BSN one
time in eleven. Three groups in the BSN's own groupings catch the notations people type; what
is left to leak is a BSN cut in other places with two separators (``12-3456 782``), and what is
withheld by mistake is text such as ``14 123-4567`` whose 9 digits pass (one in eleven).

An 8-digit group inside a longer run (the subscriber part of ``06 12345678``) and grouped 8-digit
runs (dates such as ``2008/03/14`` and ``14-03-2008``, amounts up to ``99,999,999``) are not
tested. A run of 10 or more digits that is a valid phone number (``+31 6 1234 5678``,
``0031 6 12345678``: its last 9 digits pass the check one time in eleven) is not a BSN either
— as long as the 9 digits end the run (a phone number ends with its subscriber part; in
``010000008 0`` or ``010 000 008 0`` they do not) and the run starts as a phone number is
written, with its trunk ``0``, its ``00`` or a ``+`` (``8 000000012`` is a digit beside a BSN).
What is still withheld by mistake: a grouped amount of 100 million or more whose 9 digits pass
(one in eleven of those), and digit lists such as ``1,2,3,4,5,6,7,8,9``.

Student numbers: 8 and 9 digit student numbers pass the 11-check one time in eleven, so the
field that carries a mapping's declared key may be exempted when its value has the school's
student-number format (``student_number_format``, see :func:`forbidden_fields`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal

import phonenumbers

from connector.privacy.forbidden_names import looks_forbidden

#: Why a record whose key was withheld as a forbidden number is rejected: it names the setting
#: that fixes it for real student numbers, never the value.
KEY_LOOKS_LIKE_BSN = (
    "the key looks like a BSN/onderwijsnummer (it passes the 11-check); if your student numbers "
    "look like this, set student_number_format in the mapping (docs/privacy.md)"
)

_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, -1)
# Characters that look like a separator and stand for it (F4: Word turns "111-222-333" into
# "111–222–333" with an en dash), each mapped to the ASCII separator before a number is read.
_LOOKALIKES = str.maketrans(
    dict.fromkeys("\u00ad\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d", "-")
    | dict.fromkeys("\u2044\u2215\uff0f", "/")
    | {"\uff0c": ",", "\uff0e": ".", "\uff3f": "_"}
    | dict.fromkeys(
        "\u00a0\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000", " "
    )
)
_LOOKALIKE_CHARS = "".join(chr(c) for c in _LOOKALIKES)
_SEPARATOR_CHARS = " .-/_,"
_SEPARATORS = str.maketrans("", "", _SEPARATOR_CHARS)
# A stretch of at least 8 digits and separators with a digit at both ends: every number the
# scan tests lies inside one. A plain regex search for it is cheap (no look-around), and an E.164
# phone number (one group of 11 digits) is dismissed by a length test right after.
_CHUNK = re.compile(rf"\d[\d .\-/_,{_LOOKALIKE_CHARS}]{{6,}}\d")
_CHUNK_ASCII = re.compile(r"[0-9][0-9 .\-/_,]{6,}[0-9]")  # the same for ASCII text, twice as fast
# Spaces around a separator, and runs of spaces, do not part a number: "111 / 222 / 333".
_SPACED = re.compile(r" +(?=[ .\-/_,])|(?<=[.\-/_,]) +")
# Exact types forbidden_fields handles in one pass: text, and what cannot hold such a number.
# Any other type (numbers, subclasses, the unknown) takes the slow, value-by-value path.
_PLAIN_TYPES = frozenset({str, type(None), bool, date, datetime})
_is_str = type.__instancecheck__.__get__(str)  # isinstance(x, str), callable from C by filter()
_RUN = re.compile(r"\d+(?:[ .\-/_,]\d+)*")
_SPLIT = re.compile(r"([ .\-/_,])")
# The groupings in which a BSN is written (123 456 782, 1234.56.782, 12 345 6782): only these
# three-group spans may mix two kinds of separator (``111 222-333``); see the module docstring.
_MIXED_GROUPINGS = frozenset({(3, 3, 3), (4, 2, 3), (2, 3, 4)})


# Target objects that hold special-category data as such (GDPR art. 9): Education Cloud's
# ContactProfile keeps "ethnicity, citizenship, birth place, race" (Education Cloud Developer Guide,
# ContactProfile; UK-compliance page) and PersonDisability health data. Any other object whose
# name the vocabulary refuses (PersonDisability, Health_Condition__c) counts too.
_SPECIAL_OBJECTS = {
    "ContactProfile": "ContactProfile holds ethnicity, citizenship, birth place and race: "
    "special-category data (GDPR art. 9), not synced",
}


def special_category_object(name: str) -> str | None:
    """A reason when a mapping's target object is a special-category object, else None."""
    return _SPECIAL_OBJECTS.get(name) or looks_forbidden(name)


def _checksum(digits: str) -> int | None:
    """The 11-check sum mod 11 of 8 or 9 decimal digits (8 get their implied leading 0)."""
    if len(digits) == 8:
        digits = "0" + digits
    total = 0
    for weight, digit in zip(_WEIGHTS, digits, strict=True):
        total += weight * int(digit)
    if total == 0 and not digits.strip("0"):
        return None  # 000000000 is no number at all
    return total % 11


def _compact(value: object) -> str | None:
    """The digits of a whole value written as one number (separators dropped), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float | Decimal):
        if not (value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)):
            return None
        if value != int(value):
            return None
        value = int(value)
    if isinstance(value, int):
        text = str(abs(value))
    elif isinstance(value, str):
        text = value.strip()
    else:
        return None  # a date is no number, though "2029-12-31" has 8 digits
    text = text.translate(_LOOKALIKES).translate(_SEPARATORS)
    if not text.isdecimal() or not 8 <= len(text) <= 9:
        return None
    return text


def is_bsn(value: object) -> bool:
    """True when ``value`` is a valid BSN: 9 digits (or 8 with the leading 0 implied), possibly
    written with spaces, dots or dashes, passing the 11-check (``stdnum.nl.bsn``).
    """
    digits = _compact(value)
    return digits is not None and _checksum(digits) == 0


def is_onderwijsnummer(value: object) -> bool:
    """True for a valid onderwijsnummer: 9 digits starting with ``10``, checksum 5.

    Rule from DUO as implemented by ``stdnum/nl/onderwijsnummer.py`` (dutch-rules-and-formats §3).
    """
    digits = _compact(value)
    return (
        digits is not None
        and len(digits) == 9
        and digits.startswith("10")
        and _checksum(digits) == 5
    )


def _forbidden_digits(digits: str) -> bool:
    total = _checksum(digits)
    return total == 0 or (total == 5 and len(digits) == 9 and digits.startswith("10"))


# What _run_forbidden finds in a run of digit groups: no such number; one whose 9 digits end the
# run (a phone number's subscriber part ends it too: "+31 612345678", so the run is asked
# whether it is a phone); one with more groups after it ("010000008 0", "010 000 008 0"): no
# phone is written so, and no phone check may excuse it.
_NONE, _AT_END, _INSIDE = 0, 1, 2


def _run_forbidden(run: str) -> int:
    if run.isdecimal():  # one group
        return _AT_END if 8 <= len(run) <= 9 and _forbidden_digits(run) else _NONE
    parts = _SPLIT.split(run)
    groups, seps = parts[0::2], parts[1::2]
    found = _NONE
    for start in range(len(groups)):
        size = 0
        for end in range(start, len(groups)):
            size += len(groups[end])
            if size > 9:
                break
            if size < 9:
                continue
            span = groups[start : end + 1]
            uniform = len(set(seps[start:end])) <= 1
            if (uniform or tuple(map(len, span)) in _MIXED_GROUPINGS) and _forbidden_digits(
                "".join(span)
            ):
                if end < len(groups) - 1:
                    return _INSIDE
                found = _AT_END
    return found


def _normalise(chunk: str) -> str:
    """``111 – 222 – 333`` → ``111-222-333``: look-alikes made ASCII, no spaces by separators."""
    if not chunk.isascii():
        chunk = chunk.translate(_LOOKALIKES)
    if " " in chunk:
        chunk = _SPACED.sub("", chunk)
    return chunk


def _is_phone(run: str) -> bool:
    """True when a run of 10 or more digits is a valid phone number (``+31 6 1234 5678``)."""
    if sum(c.isdigit() for c in run) < 10:  # a Dutch number has 10 digits, a BSN 9
        return False
    if run[0] not in "0+":
        # A phone number is written with its trunk 0 ("010 …"), its access code ("0031 …") or
        # a "+": "8 000000012" is a digit beside a number of its own, though phonenumbers reads
        # 800 000 0012 (found by test_policy_properties).
        return False
    if _SPLIT.split(run, maxsplit=1)[0] == "0":
        # The trunk 0 is written with its area code ("010 …", "06 …"), never alone: in
        # "0 123456782" the nine digits stand as a number of their own.
        return False
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(run, "NL"))
    except phonenumbers.NumberParseException:
        return False


def _text_is_forbidden(text: str) -> bool:
    for match in (_CHUNK_ASCII if text.isascii() else _CHUNK).finditer(text):
        chunk = match.group()
        if chunk.isdecimal():  # one group: only 8 or 9 digits can be such a number
            if len(chunk) <= 9 and _forbidden_digits(chunk):
                return True
        # Grouped numbers are tested only as 9 digits, so a grouped date (8) is dismissed here
        # (a look-alike still counts here, so this never dismisses what normalising would keep).
        elif len(chunk.translate(_SEPARATORS)) >= 9:
            chunk = _normalise(chunk)
            plus = "+" if text[match.start() - 1 : match.start()] == "+" else ""
            for i, run in enumerate(_RUN.findall(chunk)):
                # Only a run that has 9 digits passing the check is parsed as a phone number,
                # so the hot path stays one regex scan.
                found = _run_forbidden(run)
                if found == _INSIDE or (
                    found == _AT_END and not _is_phone((plus if i == 0 else "") + run)
                ):
                    return True
    return False


def contains_forbidden_number(value: object) -> bool:
    """True when ``value`` is, or contains, a number passing the BSN or onderwijsnummer check.

    Numbers (``int``, integral ``float``/``Decimal``) are tested whole; text is scanned as the
    module docstring explains. Dates, booleans and other types hold no such number.
    """
    if isinstance(value, str):
        return len(value) >= 8 and _text_is_forbidden(value)
    if isinstance(value, int | float | Decimal) and value is not True and value is not False:
        digits = _compact(value)
        return digits is not None and _forbidden_digits(digits)
    return False


def forbidden_fields(
    values: Mapping[str, object], exempt: Mapping[str, re.Pattern[str]] | None = None
) -> list[str]:
    """The keys of ``values`` whose value :func:`contains_forbidden_number`.

    Built for the hot path: the text values of one record are joined (with a NUL, so no number
    spans two values) and scanned once, so an ordinary record costs one regex scan rather than
    one per field. Values of other types than text, dates, booleans and None are tested one by one.

    Args:
        values: Field → value, e.g. a payload about to be sent.
        exempt: Field → format: such a field is not reported when its whole value (as text)
            matches the format (a declared student number, see :func:`has_format`); a value
            that does not match is checked like any other. Other fields are tested without
            the record's own student number in them (an e-mail address made of it).
    """
    plain = values.values()
    # C-level passes only: the exact types, then the joined text (see _PLAIN_TYPES).
    if _PLAIN_TYPES.issuperset(map(type, plain)):
        text = "\0".join(filter(_is_str, plain))
        if len(text) < 8 or not _text_is_forbidden(text):
            return []
    found = [k for k, v in values.items() if contains_forbidden_number(v)]
    if exempt and found:
        own = [str(values[k]) for k in exempt if k in values and has_format(values[k], exempt[k])]
        # Every value is tested without the record's own student number(s): the exempt field
        # itself then holds nothing, and the number inside another value (an e-mail address
        # s123456782@student.roc.nl) is that student number, not a BSN.
        found = [k for k in found if not own or _forbidden_without(values[k], own)]
    return found


def _forbidden_without(value: object, own: list[str]) -> bool:
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return contains_forbidden_number(value)
    for number in own:
        value = value.replace(number, " ")
    return contains_forbidden_number(value)


def has_format(value: object, fmt: re.Pattern[str]) -> bool:
    """True when ``value`` (text or a whole number) matches ``fmt`` in full."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return False
    return fmt.fullmatch(str(value)) is not None


__all__ = [
    "KEY_LOOKS_LIKE_BSN",
    "contains_forbidden_number",
    "forbidden_fields",
    "has_format",
    "is_bsn",
    "is_onderwijsnummer",
    "looks_forbidden",
    "special_category_object",
]
