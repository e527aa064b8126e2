"""Contact-data transforms (phone_e164, mobile_nl, postcode_nl, email) and the keyed hash."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date

import pytest

from connector.hashing import KeyHasher
from connector.mapping.transforms import (
    TransformContext,
    TransformError,
    TransformSpecError,
    compile_chain,
)


@pytest.fixture
def ctx() -> TransformContext:
    return TransformContext(hasher=KeyHasher("test-secret"), today=date(2025, 9, 1))


# ---- phone ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0612345678", "+31612345678"),
        ("06-12345678", "+31612345678"),
        ("+31 6 1234 5678", "+31612345678"),
        ("0031612345678", "+31612345678"),
        ("020-1234567", "+31201234567"),  # landline: valid phone number
        ("+32 470 12 34 56", "+32470123456"),  # Belgian mobile with its own prefix
        ("   ", None),
    ],
)
def test_phone_e164(value, expected, ctx: TransformContext) -> None:
    assert compile_chain(["phone_e164"], ctx=ctx)(value) == expected


@pytest.mark.parametrize("value", ["0671234567", "12345", "bel me maar", "06-1234", "+31"])
def test_phone_e164_refuses(value, ctx: TransformContext) -> None:
    with pytest.raises(TransformError, match=r"^not a valid phone number$"):
        compile_chain(["phone_e164"], ctx=ctx)(value)


def test_phone_region(ctx: TransformContext) -> None:
    assert compile_chain(["phone_e164:BE"], ctx=ctx)("0470 12 34 56") == "+32470123456"
    assert compile_chain(["phone_e164:be"], ctx=ctx)("0470 12 34 56") == "+32470123456"
    with pytest.raises(TransformSpecError, match="region"):
        compile_chain(["phone_e164:XX"], ctx=ctx)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0612345678", "+31612345678"),
        ("06 87654321", "+31687654321"),
        ("+31 6 1234 5678", "+31612345678"),
    ],
)
def test_mobile_nl(value, expected, ctx: TransformContext) -> None:
    assert compile_chain(["mobile_nl"], ctx=ctx)(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "0201234567",  # landline
        "0661234567",  # pager
        "097012345678",  # M2M: phonenumbers says MOBILE, but it is no 06 number
        "0671234567",  # not issued
        "+32470123456",  # foreign mobile
        "geen",
    ],
)
def test_mobile_nl_refuses(value, ctx: TransformContext) -> None:
    with pytest.raises(TransformError, match=r"^not a Dutch mobile number \(06 and 8 digits\)$"):
        compile_chain(["mobile_nl"], ctx=ctx)(value)


# ---- postcode ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["1234ab", "1234 AB", " 1234AB ", "1234  ab", "NL-1234AB", "nl 1234 ab"]
)
def test_postcode_normalised(value, ctx: TransformContext) -> None:
    assert compile_chain(["postcode_nl"], ctx=ctx)(value) == "1234 AB"


@pytest.mark.parametrize("letters", ["SA", "SD", "SS", "sa", "ss"])
def test_postcode_letters_not_issued(letters, ctx: TransformContext) -> None:
    with pytest.raises(TransformError, match=r"^postcode letters SA/SD/SS are not issued$"):
        compile_chain(["postcode_nl"], ctx=ctx)(f"1234 {letters}")


def test_postcode_other_letters_starting_with_s(ctx: TransformContext) -> None:
    assert compile_chain(["postcode_nl"], ctx=ctx)("1234sb") == "1234 SB"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0123 AB", "^a Dutch postcode does not start with 0$"),
        ("123 AB", "four digits and two letters"),
        ("12345 AB", "four digits and two letters"),
        ("1234 A", "four digits and two letters"),
        ("1234 A1", "four digits and two letters"),
        ("B-1000", "four digits and two letters"),
    ],
)
def test_postcode_refused(value, message, ctx: TransformContext) -> None:
    with pytest.raises(TransformError, match=message):
        compile_chain(["postcode_nl"], ctx=ctx)(value)


# ---- email ------------------------------------------------------------------------------------


def test_email_normalised_lower_case(ctx: TransformContext) -> None:
    chain = compile_chain(["email"], ctx=ctx)
    assert chain(" Jan.Jansen@Example.COM ") == "jan.jansen@example.com"
    assert chain("") is None
    keep = compile_chain([{"email": {"lowercase": False}}], ctx=ctx)
    assert keep("Jan.Jansen@Example.COM") == "Jan.Jansen@example.com"


@pytest.mark.parametrize(
    "value", ["jan", "jan@", "@voorbeeld.nl", "jan@@voorbeeld.nl", "jan@voorbeeld", "jan @x.nl"]
)
def test_email_refused(value, ctx: TransformContext) -> None:
    with pytest.raises(TransformError, match=r"^not a valid e-mail address$"):
        compile_chain(["email"], ctx=ctx)(value)


def test_email_does_not_resolve_dns(ctx: TransformContext, monkeypatch) -> None:
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("DNS lookup attempted")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket, "gethostbyname", no_network)
    assert compile_chain(["email"], ctx=ctx)("a@nonexistent-domain-for-tests.nl") == (
        "a@nonexistent-domain-for-tests.nl"
    )


# ---- hash -------------------------------------------------------------------------------------


def test_hash_is_keyed(ctx: TransformContext) -> None:
    expected = hmac.new(b"test-secret", b"email\x1fjan@x.nl", hashlib.sha256).hexdigest()[:32]
    assert compile_chain(["hash:email"], ctx=ctx)("jan@x.nl") == expected
    default = compile_chain(["hash"], ctx=ctx)
    assert default("jan@x.nl") == KeyHasher("test-secret").key("value", "jan@x.nl")
    assert default("jan@x.nl") != expected  # namespaces separate
    assert default(123) == KeyHasher("test-secret").key("value", "123")
    other = TransformContext(hasher=KeyHasher("another-secret"))
    assert compile_chain(["hash"], ctx=other)("jan@x.nl") != default("jan@x.nl")


def test_hash_length(ctx: TransformContext) -> None:
    short = compile_chain([{"hash": {"length": 12}}], ctx=ctx)("x")
    assert len(short) == 12
    assert compile_chain(["hash"], ctx=ctx)("x").startswith(short)
    for bad in (4, 33):
        with pytest.raises(TransformSpecError, match="length"):
            compile_chain([{"hash": {"length": bad}}], ctx=ctx)
    with pytest.raises(TransformSpecError, match="namespace"):
        compile_chain([{"hash": {"namespace": ""}}], ctx=ctx)
