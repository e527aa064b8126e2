"""The pure withdrawal rule: a person's newest known withdrawal outweighs an older "ja"."""

from __future__ import annotations

from datetime import UTC, date, datetime

from hypothesis import given
from hypothesis import strategies as st

from connector.privacy.facts import ConsentFact, SubjectFacts
from connector.privacy.withdrawals import moment, stated_withdrawals, with_withdrawals

NOV = datetime(2026, 11, 20, 9, tzinfo=UTC)
SEP = datetime(2026, 9, 1, 8, tzinfo=UTC)
DEC = datetime(2026, 12, 1, 8, tzinfo=UTC)


def _facts(**consents: ConsentFact) -> SubjectFacts:
    return SubjectFacts(consents=consents)


def test_an_older_yes_becomes_the_withdrawal_with_its_moment_and_giver():
    facts = _facts(news=ConsentFact(True, SEP, "parent", "intake"))
    out = with_withdrawals(facts, {"news": NOV})
    assert out is not None
    assert out.consents["news"] == ConsentFact(False, NOV, "parent", None)


def test_a_newer_yes_stands_and_a_tie_goes_to_the_withdrawal():
    assert (
        with_withdrawals(_facts(news=ConsentFact(True, DEC, "self", "form")), {"news": NOV}) is None
    )
    tie = with_withdrawals(_facts(news=ConsentFact(True, NOV, "self", "form")), {"news": NOV})
    assert tie is not None and tie.consents["news"].given is False


def test_a_yes_without_a_moment_a_no_and_silence_are_left_alone_or_withdrawn():
    undated = with_withdrawals(_facts(news=ConsentFact(True, None, "self", "form")), {"news": NOV})
    assert undated is not None and undated.consents["news"].given is False
    assert with_withdrawals(_facts(news=ConsentFact(False)), {"news": NOV}) is None
    assert with_withdrawals(_facts(news=ConsentFact(None)), {"news": NOV}) is None
    assert with_withdrawals(_facts(), {"news": NOV}) is None


def test_only_the_withdrawn_purpose_changes():
    facts = _facts(
        news=ConsentFact(True, SEP, "self", "a"), phone=ConsentFact(True, SEP, "self", "b")
    )
    out = with_withdrawals(facts, {"news": NOV})
    assert out is not None and out.consents["phone"] == facts.consents["phone"]


def test_a_bare_date_counts_from_its_start_in_utc():
    assert moment(date(2026, 11, 20)) == datetime(2026, 11, 20, tzinfo=UTC)
    out = with_withdrawals(_facts(news=ConsentFact(True, date(2026, 11, 20))), {"news": NOV})  # type: ignore[arg-type]
    assert out is not None  # midnight is before 09:00


def test_stated_withdrawals_name_every_no_and_its_moment():
    facts = _facts(
        news=ConsentFact(False, NOV), phone=ConsentFact(False), other=ConsentFact(True, SEP)
    )
    assert stated_withdrawals(facts) == {"news": NOV, "phone": None}


@given(
    at=st.datetimes(timezones=st.just(UTC)),
    withdrawn=st.datetimes(timezones=st.just(UTC)),
)
def test_after_the_rule_no_yes_is_older_than_the_withdrawal(at: datetime, withdrawn: datetime):
    facts = _facts(news=ConsentFact(True, at, "self", "form"))
    out = with_withdrawals(facts, {"news": withdrawn}) or facts
    fact = out.consents["news"]
    assert fact.given is False or (fact.at is not None and fact.at > withdrawn)
