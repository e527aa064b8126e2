"""The planner's withdrawal rule without a database: one record's "nee" reaches another's "ja".

A student's row says "ja" to news (with its moment and source); the same person's open-day
registration said "nee" later. The students mapping owns the Contact's consent fields, so it
must clear them (and set the opt-out) once state says the person withdrew — the privacy
officer's P1 finding. Hand-built :class:`BatchState`, shipped mappings.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from test_sync_planner import COMPILED, HASHER, NOW, PROJECT, items, registration, student

from connector.state.rows import KnownRow, PersonMatches, PersonRow
from connector.state.withdrawals import KnownWithdrawal
from connector.sync.batch_state import BatchState
from connector.sync.mapping_setup import mapping_policy
from connector.sync.plan import Item, Planner

NEWS = "recruitment_news"
NOV = datetime(2026, 11, 19, 9, tzinfo=UTC)
CONSENT = ("Consent_News__c", "Consent_News_At__c", "Consent_News_Source__c")


def _planner(mapping: str = "students", *, check: bool = True) -> Planner:
    spec = PROJECT.mappings[mapping]
    policy = mapping_policy(spec, COMPILED[mapping], PROJECT.purposes)
    return Planner(mapping, spec, COMPILED, HASHER, now=NOW, policy=policy, check_withdrawals=check)


def _with_policy(mapping: str, rows: list[dict[str, str | None]]) -> list[Item]:
    p = _planner(mapping)
    assert p.policy is not None
    return [
        Item(it.rec, it.res, p.policy.decide(it.res.values, it.res.facts, p.today))
        for it in items(mapping, rows)
    ]


def _yes_row(**over: str) -> dict[str, str | None]:
    row = student(
        "100001",
        toestemming_nieuws="ja",
        toestemming_nieuws_op="2026-09-01T10:00:00+02:00",
        toestemming_nieuws_bron="intakeformulier",
    )
    row.update(over)
    return row


def _known(row: dict[str, str | None]) -> tuple[Item, BatchState]:
    """The row's item and a state in which its record was written as it stands."""
    [it] = _with_policy("students", [row])
    [first] = _planner(check=False).plan([it], BatchState()).writes
    prev = KnownRow("003000000000001AAA", 7, json.loads(first.hashes), False)
    [it] = _with_policy("students", [row])
    return it, BatchState(known={it.res.key_hash: prev})


def _withdrawn(state: BatchState, *found: KnownWithdrawal, persons=None) -> BatchState:
    return BatchState(known=state.known, withdrawn=list(found), persons=persons)


def _by_mail(it: Item, at: datetime = NOV, key: str = "r1") -> KnownWithdrawal:
    """An open-day registration of the row's address (no student number) said "nee"."""
    return KnownWithdrawal("registrants", key, NEWS, at, None, it.res.identity[1])


def test_a_later_withdrawal_of_another_record_clears_the_yes_and_opts_out():
    it, state = _known(_yes_row())
    unchanged = _planner().plan([it], state)
    assert not unchanged.writes  # nothing known: the row stands as written
    plan = _planner().plan([it], _withdrawn(state, _by_mail(it)))
    [write] = plan.writes
    assert all(write.row.get(f, "absent") is None for f in CONSENT), write.row
    assert write.row["HasOptedOutOfEmail"] is True
    [decided] = plan.items  # the consent stage writes the record's OptOut from these
    assert decided.res.facts.consents[NEWS].given is False
    # What the row itself states is remembered, not the withdrawal it took over.
    [stated] = plan.stated
    assert (stated.key_hash, stated.student_hash, dict(stated.withdrawn)) == (
        it.res.key_hash,
        it.res.identity[0],
        {},
    )


def test_a_withdrawal_under_the_same_student_number_counts_too():
    it, state = _known(_yes_row())
    other = KnownWithdrawal("oneroster_users", "u1", NEWS, NOV, it.res.identity[0], None)
    assert _planner().plan([it], _withdrawn(state, other)).writes


def test_the_records_own_earlier_row_does_not_count():
    it, state = _known(_yes_row())
    own = KnownWithdrawal("students", it.res.key_hash, NEWS, NOV, it.res.identity[0], None)
    assert not _planner().plan([it], _withdrawn(state, own)).writes


def test_a_yes_given_after_the_withdrawal_stands():
    it, state = _known(_yes_row(toestemming_nieuws_op="2026-11-25T10:00:00+01:00"))
    assert not _planner().plan([it], _withdrawn(state, _by_mail(it))).writes


def test_the_newest_of_several_withdrawals_counts():
    it, state = _known(_yes_row(toestemming_nieuws_op="2026-11-10T10:00:00+01:00"))
    old = _by_mail(it, datetime(2026, 10, 1, tzinfo=UTC))
    assert not _planner().plan([it], _withdrawn(state, old)).writes
    assert _planner().plan([it], _withdrawn(state, old, _by_mail(it, key="r2"))).writes


def test_a_shared_family_address_reaches_no_student():
    it, state = _known(_yes_row())
    sibling = PersonRow(8, "003000000000002AAA", "other-number", it.res.identity[1], None, None)
    mine = PersonRow(7, "003000000000001AAA", it.res.identity[0], it.res.identity[1], None, None)
    shared = PersonMatches({}, {it.res.identity[1]: (mine, sibling)})
    assert not _planner().plan([it], _withdrawn(state, _by_mail(it), persons=shared)).writes
    # The same in one batch of a first load: two students, one address.
    [a, b] = _with_policy("students", [_yes_row(), _yes_row(studentnummer="100002")])
    plan = _planner().plan([a, b], BatchState(withdrawn=[_by_mail(a)]))
    assert all(w.row.get("Consent_News__c") is True for w in plan.writes)
    alone = _planner().plan([a], BatchState(withdrawn=[_by_mail(a)]))
    assert alone.writes[0].row.get("Consent_News__c") is None
    # Two student numbers are two persons, whatever the address.
    theirs = KnownWithdrawal("students", "k9", NEWS, NOV, "other-number", it.res.identity[1])
    assert not _planner().plan([it], _withdrawn(state, theirs)).writes


def test_a_registrant_row_is_reached_by_its_students_withdrawal():
    row = registration("R-1", "s100001@school.example")
    row.update(
        toestemming_nieuws="ja", toestemming_nieuws_op="2026-10-01T12:00:00+02:00",
        toestemming_nieuws_bron="open dag",
    )  # fmt: skip
    [reg] = _with_policy("registrants", [row])
    theirs = KnownWithdrawal("students", "k1", NEWS, NOV, "some-number", reg.res.identity[1])
    [decided] = _planner("registrants").decided([reg], BatchState(withdrawn=[theirs]))
    assert decided.res.facts.consents[NEWS].given is False


def test_a_row_states_its_own_withdrawals_with_or_without_a_moment():
    row = _yes_row(toestemming_nieuws="nee", toestemming_nieuws_op="", toestemming_nieuws_bron="")
    it, state = _known(row)
    plan = _planner().plan([it], state)
    assert not plan.writes
    [stated] = plan.stated
    assert dict(stated.withdrawn) == {NEWS: None}


def test_without_the_check_nothing_is_read():
    it, _ = _known(_yes_row())
    assert not _planner(check=False).query([it]).withdrawals
    assert _planner().query([it]).withdrawals
    assert not _planner("registrations").states_withdrawals  # no person, no consent purpose
