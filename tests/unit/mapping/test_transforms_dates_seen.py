"""The date transform remembers texts it parsed: same answers, same errors, bounded memory."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.mapping.transforms import TransformContext, TransformError, compile_chain
from connector.mapping.transforms import dates as dates_module

CTX = TransformContext(hasher=None, today=dt.date(2026, 12, 3), warnings=[])


def _strptime(text: str, fmt: str) -> dt.date | str:
    try:
        return dt.datetime.strptime(text.strip(), fmt).date() if text.strip() else "empty"
    except ValueError:
        return "error"


def _run(run, text: str) -> dt.date | str:
    try:
        out = run(text)
    except TransformError:
        return "error"
    return "empty" if out is None else out


@settings(deadline=None)  # timing is not the property; the machine may be busy
@given(st.lists(st.sampled_from(["03-04-2008", " 03-04-2008", "31-02-2008", "", "3-4-2008 ",
                                 "2008-04-03", "29-02-2024", "29-02-2023"]), max_size=30))  # fmt: skip
def test_repeated_texts_give_what_a_fresh_parse_gives(texts):
    run = compile_chain(["date:%d-%m-%Y"], ctx=CTX)
    for text in texts:  # the same text twice: the second answer comes from memory
        assert _run(run, text) == _strptime(text, "%d-%m-%Y")


def test_memory_is_bounded(monkeypatch):
    monkeypatch.setattr(dates_module, "_SEEN_MAX", 4)
    run = compile_chain(["date"], ctx=CTX)
    days = [dt.date(2008, 1, 1) + dt.timedelta(days=i) for i in range(10)]
    for day in days * 2:
        assert run(day.isoformat()) == day
    seen = next(c.cell_contents for c in run.__closure__ if isinstance(c.cell_contents, dict))
    assert 0 < len(seen) <= 4


def test_a_bad_text_is_never_remembered_as_a_date():
    run = compile_chain(["date:%d-%m-%Y"], ctx=CTX)
    assert run("03-04-2008") == dt.date(2008, 4, 3)
    for _ in range(2):
        with pytest.raises(TransformError):
            run("2008-04-03")
