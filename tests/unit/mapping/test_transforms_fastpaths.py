"""The fast paths of date, phone_e164 and email give exactly what the slow, general code gives."""

from __future__ import annotations

import datetime as dt
import random

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.mapping.transforms import TransformContext, compile_chain
from connector.mapping.transforms.dutch import fast_email, fast_nl_mobile, fast_nl_number

CTX = TransformContext(hasher=None, today=dt.date(2026, 11, 20), warnings=[])


def _slow_date(text: str, fmt: str) -> dt.date | None:
    try:
        return dt.datetime.strptime(text, fmt).date()
    except ValueError:
        return None


def _fast_date(text: str, fmt: str) -> dt.date | None:
    run = compile_chain([f"date:{fmt}"], ctx=CTX)
    try:
        return run(text)
    except ValueError:
        return None


@settings(max_examples=400)
@given(
    d=st.integers(0, 40), m=st.integers(0, 14), y=st.integers(1, 9999),
    sep=st.sampled_from(["-", "/", "."]), pad=st.booleans(),
)  # fmt: skip
def test_numeric_date_formats_match_strptime(d, m, y, sep, pad):
    parts = (f"{d:02d}", f"{m:02d}") if pad else (str(d), str(m))
    text = f"{parts[0]}{sep}{parts[1]}{sep}{y:04d}"
    fmt = f"%d{sep}%m{sep}%Y"
    assert _fast_date(text, fmt) == _slow_date(text, fmt)


def test_date_fast_path_refuses_what_strptime_refuses():
    for text in ("31-02-2026", "1-13-2026", "01-01-26", "2026-01-01", "01-01-2026x", ""):
        assert _fast_date(text, "%d-%m-%Y") == _slow_date(text, "%d-%m-%Y") or text == ""


def _slow_mobile(text: str) -> str | None:
    try:
        n = phonenumbers.parse(text, "NL")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(n):
        return None
    return phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164)


def test_fast_mobile_agrees_with_phonenumbers_on_every_06_range():
    rnd = random.Random(5)
    for second in "0123456789":
        for _ in range(40):
            rest = "".join(rnd.choice("0123456789") for _ in range(7))
            national = f"06{second}{rest}"
            for text in (
                national,
                f"06-{second}{rest}",
                f"+31 6 {second}{rest}",
                f"0031 6{second}{rest}",
            ):
                fast = fast_nl_mobile(text)
                if fast is not None:
                    assert fast == _slow_mobile(text), text


def test_fast_mobile_is_only_06():
    assert fast_nl_mobile("020-1234567") is None
    assert fast_nl_mobile("0661234567") is None  # pager range


def test_fast_dutch_numbers_agree_with_phonenumbers():
    rnd = random.Random(11)
    hits = 0
    for _ in range(4000):
        national = "".join(rnd.choice("0123456789") for _ in range(9))
        for text in (f"0{national}", f"+31 {national}", f"0031-{national}"):
            fast = fast_nl_number(text)
            if fast is not None:
                hits += 1
                assert fast == _slow_mobile(text), text
    assert hits > 1000  # the fast path does take most well-formed numbers
    assert compile_chain(["phone_e164"], ctx=CTX)("020-5551234") == _slow_mobile("020-5551234")


_LOCAL = st.text(alphabet="abcXYZ019._+-'!", min_size=1, max_size=20)
_DOMAIN = st.text(alphabet="abcxyz019-.", min_size=1, max_size=20)


@settings(max_examples=600)
@given(
    local=_LOCAL, domain=_DOMAIN, tld=st.sampled_from(["nl", "com", "example", "test", "x", "c0m"])
)
def test_fast_email_agrees_with_email_validator(local, domain, tld):
    text = f"{local}@{domain}.{tld}"
    fast = fast_email(text)
    if fast is None:
        return  # the slow path decides
    try:
        slow = validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError:
        slow = None
    assert fast == slow, text
