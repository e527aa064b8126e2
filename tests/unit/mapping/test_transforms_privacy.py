"""Property: a TransformError message never contains the value that caused it."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from connector.hashing import KeyHasher
from connector.mapping.transforms import TransformContext, TransformError, compile_chain

CHAINS = [
    ["date:%d-%m-%Y"],
    [{"date": ["%d-%m-%Y", "%Y%m%d"]}],
    ["datetime_utc"],
    ["datetime_utc:%d-%m-%Y %H:%M"],
    ["birth_year"],
    ["age_band"],
    ["phone_e164"],
    ["mobile_nl"],
    ["postcode_nl"],
    ["strip", "lower", "email"],
    [{"map": {"values": {"ja": True, "nee": False}}}],
]

# Inputs that reach each error branch; their messages form the fixed text a message may contain.
# A random input that happens to be a piece of that text ("not", "%d-") says nothing about leaks.
_PROBES = ["\x00\x01\x02", "0123 AB", "1234 SS", "1234 S", "2024-03-31T02:30", "2999-01-01",
           "06123", "0201234567", "@", "a@b", "zz"]  # fmt: skip

_CTX = TransformContext(hasher=KeyHasher("s"), today=date(2025, 9, 1))


def _message(chain, value) -> str | None:
    try:
        chain(value)
    except TransformError as exc:
        return str(exc)
    return None


def _fixed_text(chain) -> str:
    return "\n".join(m for p in _PROBES if (m := _message(chain, p)) is not None)


# Shapes where a leak would be most tempting for an implementer: digits (phones, postcodes,
# dates), address-like text, and anything at all.
values = st.one_of(
    st.text(min_size=3, max_size=40),
    st.text(alphabet="0123456789 -+/", min_size=3, max_size=16),
    st.from_regex(r"[0-9]{4} ?[A-Za-z]{2}", fullmatch=True),
    st.from_regex(r"[a-z.]{1,10}@[a-z]{1,10}(\.[a-z]{2,3})?", fullmatch=True),
    st.from_regex(r"[0-9]{1,2}[-/][0-9]{1,2}[-/][0-9]{2,4}", fullmatch=True),
)


@pytest.mark.parametrize("specs", CHAINS, ids=lambda s: str(s[-1]))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=values)
def test_error_messages_do_not_contain_the_value(specs, value: str) -> None:
    chain = compile_chain(specs, ctx=_CTX)
    text = value.strip()
    assume(len(text) >= 3 and text not in _fixed_text(chain))
    message = _message(chain, value)
    if message is not None:
        assert text not in message
        assert value not in message


def test_probes_reach_errors() -> None:
    # Guard the guard: the probes must produce messages, or the property above filters nothing.
    for specs in CHAINS:
        assert _fixed_text(compile_chain(specs, ctx=_CTX)), specs
