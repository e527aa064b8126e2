"""Hypothesis properties of the policy over random purpose registers, facts and values.

1. No payload holds a field without an active purpose (``always_send`` excepted). "Active" is
   computed here by an oracle written from DESIGN §6, not by the policy's own code.
2. No payload value passes the BSN or onderwijsnummer check, however the number is embedded
   (free text, ints, grouped with dots, spaces or dashes, 8-digit BSNs with an implied 0).
3. No payload holds a field whose only purposes are consents that were withdrawn.
Plus the bookkeeping: every mapped field is sent or has a reason, never both, and the reasons
for CRM-owned and opt-out fields never clear anything.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.privacy.facts import ConsentFact, Phase, SubjectFacts
from connector.privacy.identifiers import is_bsn, is_onderwijsnummer
from connector.privacy.policy import (
    CLEARING,
    CONSENT_WITHDRAWN,
    CRM_OWNED,
    FORBIDDEN_NUMBER,
    OPT_OUT_ONE_WAY,
    REASONS,
    Policy,
)
from connector.privacy.purposes import Duration, PurposeSpec, PurposesSpec

TODAY = date(2025, 3, 1)
WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2)
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- forbidden numbers -----------------------------------------------------------------------


@st.composite
def bsn_digits(draw) -> str:
    """A valid BSN as 9 digits (sometimes with a leading 0, i.e. an 8-digit BSN)."""
    while True:
        head = draw(st.lists(st.integers(0, 9), min_size=8, max_size=8))
        if draw(st.booleans()):
            head[0] = 0
        last = sum(w * d for w, d in zip(WEIGHTS, head, strict=True)) % 11
        if last < 10 and any([*head, last]):
            return "".join(map(str, head)) + str(last)


@st.composite
def onderwijsnummer_digits(draw) -> str:
    """A valid onderwijsnummer: 10 + 7 digits, checksum 5."""
    while True:
        head = [1, 0, *draw(st.lists(st.integers(0, 9), min_size=6, max_size=6))]
        last = (sum(w * d for w, d in zip(WEIGHTS, head, strict=True)) - 5) % 11
        if last < 10:
            return "".join(map(str, head)) + str(last)


def _grouped(digits: str, sizes: tuple[int, ...], sep: str) -> str:
    parts, i = [], 0
    for size in sizes:
        parts.append(digits[i : i + size])
        i += size
    return sep.join(parts)


FILLER = st.text(max_size=15)


@st.composite
def forbidden_value(draw) -> object:
    """A value that holds a valid BSN or onderwijsnummer, in one of the ways people write one."""
    digits = draw(st.one_of(bsn_digits(), onderwijsnummer_digits()))
    form = draw(st.sampled_from(["int", "plain", "dots", "spaces", "dashes", "short", "nbsp"]))
    if form == "int" and not digits.startswith("00"):  # 000000012 as an int is just 12
        return int(digits)
    if form == "short" and digits.startswith("0"):
        # The 8-digit BSN is a number of its own only when it stands alone.
        return f"{draw(FILLER)}({digits[1:]}){draw(FILLER)}"
    number = {
        "dots": _grouped(digits, (4, 2, 3), "."),
        "spaces": _grouped(digits, (3, 3, 3), " "),
        "dashes": _grouped(digits, (2, 2, 2, 3), "-"),
        "nbsp": _grouped(digits, (3, 3, 3), "\u00a0"),
    }.get(form, digits)
    return f"{draw(FILLER)} {number} {draw(FILLER)}"


ORDINARY = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=30),
    st.integers(-(10**6), 10**6),
    st.dates(date(1990, 1, 1), date(2030, 1, 1)),
    st.sampled_from(["+31612345678", "06-12345678", "1234 AB", "2008-03-14", "Jan de Vries"]),
)

# -- registers, facts and values -------------------------------------------------------------

PHASES = ["prospect", "applied", "enrolled", "ended"]


@st.composite
def purpose(draw, name: str) -> dict:
    basis = draw(
        st.sampled_from(
            ["consent", "contract", "legal_obligation", "public_task", "legitimate_interest"]
        )
    )
    spec: dict = {"lawful_basis": basis}
    if basis == "consent":
        spec["consent"] = {"field": f"{name}_ja", "at": f"{name}_op", "by": f"{name}_door"}
        spec["min_age"] = draw(st.sampled_from([0, 13, 16, 18]))
    elif draw(st.booleans()):
        spec["active_in"] = draw(st.lists(st.sampled_from(PHASES), unique=True))
    if basis == "consent" or draw(st.booleans()):  # a consent purpose must declare one
        spec["retention"] = {
            "after": draw(
                st.sampled_from(["last_seen", "lifecycle_end", "event_date", "consent_withdrawn"])
            ),
            "keep": draw(st.sampled_from(["P1M", "P3M", "P1Y", "P30D", "P2W"])),
        }
    return spec


@st.composite
def scenario(draw):
    names = [f"p{i}" for i in range(draw(st.integers(1, 5)))]
    spec = PurposesSpec.model_validate(
        {"controller": "ROC Test", "purposes": {n: draw(purpose(n)) for n in names}}
    )
    fields = [f"F{i}__c" for i in range(draw(st.integers(1, 8)))]
    field_purposes = {
        f: draw(st.lists(st.sampled_from([*names, "unknown"]), min_size=1, max_size=3, unique=True))
        for f in fields
    }
    extra = ["External_Id__c", "Parent__c"]
    always = set(draw(st.lists(st.sampled_from(fields + extra), unique=True, max_size=3)))
    opt_out = set(draw(st.lists(st.sampled_from(fields), unique=True, max_size=2)))
    crm_owned = set(draw(st.lists(st.sampled_from(fields + extra), unique=True, max_size=2)))
    values: dict[str, object] = {}
    forbidden: set[str] = set()
    for f in fields + extra:
        kind = draw(st.sampled_from(["absent", "ordinary", "ordinary", "forbidden"]))
        if kind == "ordinary":
            values[f] = draw(ORDINARY)
        elif kind == "forbidden":
            values[f] = draw(forbidden_value())
            forbidden.add(f)
    consents = {}
    for n in names:
        if draw(st.booleans()):
            moment = draw(
                st.none()
                | st.datetimes(datetime(2015, 1, 1), datetime(2026, 1, 1), timezones=st.just(UTC))
            )
            consents[n] = ConsentFact(
                draw(st.sampled_from([True, False, None])),
                moment,
                draw(st.sampled_from(["self", "parent", None])),
                draw(st.sampled_from(["aanmeldformulier", None])),
            )
    phase = draw(st.sampled_from([None, *Phase]))
    facts = SubjectFacts(
        birthdate=draw(st.none() | st.dates(date(2000, 1, 1), date(2015, 12, 31))),
        phase=phase,
        phase_at=draw(st.none() | st.dates(date(2024, 1, 1), TODAY)),
        consents=consents,
        event_date=draw(st.none() | st.dates(date(2024, 1, 1), date(2025, 12, 31))),
    )
    policy = Policy(
        spec, field_purposes, opt_out_fields=opt_out, crm_owned=crm_owned, always_send=always
    )
    return spec, field_purposes, always, opt_out, crm_owned, values, forbidden, facts, policy


# -- the oracle (DESIGN §6, written independently of policy.py) ------------------------------


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def oracle_active(p: PurposeSpec, name: str, facts: SubjectFacts) -> bool:
    return _by_basis(p, name, facts) and not _retention_over(p, facts)


def _retention_over(p: PurposeSpec, facts: SubjectFacts) -> bool:
    """DESIGN §6 retention on an anchor the row carries: anchor + keep before today."""
    r = p.retention
    if r is None:
        return False
    if r.after == "event_date":
        start = facts.event_date
    elif r.after == "lifecycle_end" and facts.phase is Phase.ENDED:
        start = facts.phase_at
    else:
        return False
    return start is not None and Duration.parse(r.keep).after(start) < TODAY


def _by_basis(p: PurposeSpec, name: str, facts: SubjectFacts) -> bool:
    if p.lawful_basis == "consent":
        c = facts.consents.get(name)
        if c is None or c.given is not True or c.at is None or c.at.date() > TODAY:
            return False
        if not c.source:  # art. 7(1): no source, no consent
            return False
        if p.min_age == 0 or c.by == "parent":
            return True
        return facts.birthdate is not None and _age(facts.birthdate, c.at.date()) >= p.min_age
    if facts.phase is None:
        return True
    phases = (
        set(p.active_in)
        if p.active_in is not None
        else (
            {"prospect", "applied", "enrolled"}
            if p.lawful_basis == "legitimate_interest"
            else {"applied", "enrolled"}
        )
    )
    if facts.phase.value in phases:
        return True
    r = p.retention
    if (
        facts.phase is Phase.ENDED
        and r is not None
        and r.after == "lifecycle_end"
        and phases & {"applied", "enrolled"}
    ):
        return facts.phase_at is None or Duration.parse(r.keep).after(facts.phase_at) >= TODAY
    return False


# -- properties ------------------------------------------------------------------------------


@PROPERTY
@given(scenario())
def test_no_field_without_an_active_purpose(case):
    spec, field_purposes, always, opt, _crm, values, _forb, facts, policy = case
    decision = policy.decide(values, facts, TODAY)
    active = {n for n, p in spec.purposes.items() if oracle_active(p, n, facts)}
    for field in decision.payload:
        # A true opt-out goes whatever its purposes' status: it only restricts processing.
        true_opt_out = field in opt and decision.payload[field] is True
        assert field in always or true_opt_out or set(field_purposes.get(field, ())) & active
    # and the other way round: a field with an active purpose and an ordinary value is sent
    assert policy.active_purposes(facts, TODAY) == active & {
        p for ps in field_purposes.values() for p in ps
    }


@PROPERTY
@given(scenario())
def test_no_forbidden_number_is_ever_sent(case):
    *_, forbidden, facts, policy = case
    values = case[5]
    decision = policy.decide(values, facts, TODAY)
    assert not forbidden & decision.payload.keys()
    for value in decision.payload.values():
        assert not is_bsn(value) and not is_onderwijsnummer(value)
    for field in forbidden:
        assert decision.withheld.get(field, FORBIDDEN_NUMBER) in REASONS


@PROPERTY
@given(scenario())
def test_withdrawn_consent_stops_a_field(case):
    spec, field_purposes, always, opt_out, crm_owned, values, _forb, facts, policy = case
    decision = policy.decide(values, facts, TODAY)
    for field, purposes in field_purposes.items():
        withdrawn = all(
            p in spec.purposes
            and spec.purposes[p].lawful_basis == "consent"
            and p in facts.consents
            and facts.consents[p].given is False
            for p in purposes
        )
        if withdrawn and field in opt_out and field not in crm_owned and values.get(field) is True:
            assert decision.payload[field] is True  # an opt-out goes, withdrawn or not
        elif withdrawn and field not in always:
            assert field not in decision.payload
            if field in opt_out and field not in crm_owned and field not in values:
                # An opt-out field goes whatever its purposes' status (only a true value is
                # sent, docs/privacy.md "Opt-outs"): one the row does not hold is neither sent
                # nor withheld, so nothing is cleared.
                assert field not in decision.withheld
                continue
            expected = (
                CRM_OWNED
                if field in crm_owned
                else (OPT_OUT_ONE_WAY if field in opt_out else CONSENT_WITHDRAWN)
            )
            assert decision.withheld[field] == expected


@PROPERTY
@given(scenario())
def test_every_field_is_sent_or_explained_and_opt_outs_are_never_cleared(case):
    _spec, field_purposes, always, opt_out, crm_owned, values, _forb, facts, policy = case
    decision = policy.decide(values, facts, TODAY)
    assert not decision.payload.keys() & decision.withheld.keys()
    for field in set(field_purposes) | (always & values.keys()):
        if field in values or field in field_purposes:
            assert field in decision.payload or field in decision.withheld or field not in values
    assert decision.payload.keys() <= set(field_purposes) | always
    for field in crm_owned & (set(field_purposes) | always):
        assert field not in decision.payload
        if field in values or field in field_purposes:
            assert decision.withheld[field] == CRM_OWNED
    for field in opt_out:
        if field in decision.payload:
            assert decision.payload[field] is True
        if field in decision.withheld:
            assert decision.withheld[field] not in CLEARING
    for field, value in decision.payload.items():
        assert values[field] is value  # sent as given, never altered


# decide() keeps the purpose statuses it decided by (Decision.statuses): the planner's opt-in
# marks and the consent stage read them instead of running every purpose rule again, so they
# must be exactly what statuses() says of the same facts and day, objections included.
@PROPERTY
@given(scenario(), scenario(), st.data())
def test_a_decision_keeps_the_statuses_it_was_made_by(case, other, data):
    *_, values, _forb, facts, policy = case
    names = sorted(policy.statuses(facts, TODAY))
    objected = frozenset(data.draw(st.lists(st.sampled_from(names), unique=True)) if names else ())
    facts = replace(facts, objected=objected)
    other_facts = other[-2]
    first = policy.decide(values, facts, TODAY)
    policy.decide(values, other_facts, TODAY)  # another record's decision in between
    policy.decide(values, facts, TODAY + timedelta(days=400))  # and another day's
    assert dict(first.statuses) == policy.statuses(facts, TODAY)
    assert policy.statuses_of(first, facts, TODAY) == policy.statuses(facts, TODAY)
    with pytest.raises(TypeError):
        first.statuses["p0"] = "active"  # shared by every decision of the same statuses


@settings(max_examples=100, deadline=None)
@given(st.dates(date(2001, 1, 1), date(2012, 12, 31)), st.integers(-3, 3))
def test_age_boundary_is_exact(born, offset):
    spec = PurposesSpec.model_validate(
        {
            "controller": "ROC Test",
            "purposes": {
                "news": {
                    "lawful_basis": "consent",
                    "consent": {"field": "a", "at": "b"},
                    "retention": {"after": "consent_withdrawn", "keep": "P1M"},
                }
            },
        }
    )
    sixteenth = (
        born.replace(year=born.year + 16)
        if (born.month, born.day) != (2, 29)
        else date(born.year + 16, 2, 29)
    )
    given_on = sixteenth + timedelta(days=offset)
    fact = ConsentFact(
        True, datetime(given_on.year, given_on.month, given_on.day, tzinfo=UTC), "self", "form"
    )
    d = Policy(spec, {"Email": ["news"]}).decide(
        {"Email": "a@b.nl"}, SubjectFacts(birthdate=born, consents={"news": fact}), date(2030, 1, 1)
    )
    assert ("Email" in d.payload) is (offset >= 0)
