"""The withdrawals table: what each record's row withdrew, per person (schema v5)."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from connector.state import StateStore, open_store
from connector.state import tables as s
from connector.state.db import connect
from connector.state.rows import NewPerson, SourceSeen, SyncedUpdate
from connector.state.withdrawals import KnownWithdrawal, Stated
from connector.sync.diff import RECORD

RUN1 = datetime(2026, 11, 20, 9, tzinfo=UTC)
RUN2 = datetime(2026, 11, 21, 9, tzinfo=UTC)
NOV = datetime(2026, 11, 15, 12, tzinfo=UTC)
NEWS = "recruitment_news"


S, E = "s" * 32, "e" * 32  # the person's student number and e-mail hashes


def _person(store: StateStore) -> int:
    [pid] = store.add_persons([NewPerson(S, E, "003000000000001AAA")], at=RUN1)
    return pid


def _says(key: str, withdrawn: dict, student: str | None = None) -> Stated:
    """A registrant's row (no student number, the person's address) or a student's."""
    return Stated(key, student, E, withdrawn)


def _known(store: StateStore) -> list[KnownWithdrawal]:
    return store.withdrawals([S], [E])


def _record(store: StateStore, mapping: str, key: str, pid: int) -> None:
    """A record of the person, its source row remembered (a nightly would skip it)."""
    store.record_synced(
        [SyncedUpdate(mapping, key, "Contact", "003000000000001AAA", {RECORD: "t"}, person_id=pid)],
        at=RUN1,
    )
    store.remember_sources(mapping, [SourceSeen(key, f"src-{key}", None, "t")], at=RUN1)


def _remembered(store: StateStore, mapping: str, key: str) -> bool:
    return bool(store.unchanged_rows(mapping, [f"src-{key}"], today=RUN1.date()))


def test_an_undated_withdrawal_counts_from_the_first_run_and_then_stays(store: StateStore):
    pid = _person(store)
    assert not store.has_withdrawals()
    store.record_withdrawals("registrants", [_says("r1", {NEWS: None})], at=RUN1)
    assert store.has_withdrawals()
    assert _known(store) == [KnownWithdrawal("registrants", "r1", NEWS, RUN1, None, E, True)]
    # The same statement on a later day: nothing new, the moment stays.
    store.record_withdrawals("registrants", [_says("r1", {NEWS: None})], at=RUN2)
    assert _known(store)[0].at == RUN1
    assert pid


def test_a_records_later_row_replaces_what_its_earlier_row_said(store: StateStore):
    pid = _person(store)
    store.record_withdrawals("registrants", [_says("r1", {NEWS: None})], at=RUN1)
    store.record_withdrawals("registrants", [_says("r1", {NEWS: NOV})], at=RUN2)
    assert _known(store)[0].at == NOV  # a date of its own replaces the clock
    store.record_withdrawals("registrants", [_says("r1", {})], at=RUN2)
    assert _known(store) == []  # the row says "ja" now
    assert pid


def test_a_changed_withdrawal_sends_the_persons_other_records_to_be_mapped_again(
    store: StateStore,
):
    pid = _person(store)
    _record(store, "students", "k1", pid)
    _record(store, "registrants", "r2", pid)
    _record(store, "registrants", "r1", pid)
    assert _remembered(store, "students", "k1")
    store.record_withdrawals("registrants", [_says("r1", {NEWS: None})], at=RUN1)
    assert store.records_of([], [E], besides="registrants") == {("students", "k1")}
    assert not _remembered(store, "students", "k1")
    assert _remembered(store, "registrants", "r2")  # its own mapping's rows: not
    _record(store, "students", "k1", pid)
    # The same statement once more: nothing changed, nothing forgotten.
    store.record_withdrawals("registrants", [_says("r1", {NEWS: None})], at=RUN2)
    assert _remembered(store, "students", "k1")


def test_erasing_the_person_removes_their_withdrawals(store: StateStore):
    pid = _person(store)
    _record(store, "registrants", "r1", pid)
    store.record_withdrawals("registrants", [_says("r1", {NEWS: NOV})], at=RUN1)
    # A row of the person's address whose record was never written (not justified): only its
    # hashes tie it to the person.
    store.record_withdrawals("registrants", [_says("r9", {NEWS: NOV})], at=RUN1)
    store.record_withdrawals("students", [_says("k1", {NEWS: NOV}, S)], at=RUN1)
    # A sibling who shares the address: their own student number, their own statement.
    store.record_withdrawals("students", [_says("k2", {NEWS: NOV}, "t" * 32)], at=RUN1)
    store.forget_person(pid)
    assert [w.key_hash for w in _known(store)] == ["k2"]


def test_version_5_learns_the_dated_withdrawals_and_maps_every_row_again(store_url: str):
    st = open_store(store_url)
    try:
        pid = _person(st)
        st.record_synced(
            [
                SyncedUpdate(
                    "registrants", "r1", "Contact", "003000000000001AAA", {RECORD: "t"},
                    person_id=pid, consent_withdrawn_at={NEWS: NOV},
                )
            ],
            at=RUN1,
        )  # fmt: skip
        st.remember_sources("registrants", [SourceSeen("r1", "src-r1", None, "t")], at=RUN1)
    finally:
        st.close()
    db = connect(store_url)
    try:
        with db.write.begin() as conn:  # back to version 4: no withdrawals table
            s.withdrawals.drop(conn)
            conn.execute(sa.update(s.meta).values(value="4"))
    finally:
        db.engine.dispose()
    st = open_store(store_url)
    try:
        assert _known(st) == [KnownWithdrawal("registrants", "r1", NEWS, NOV, S, E)]
        assert not _remembered(st, "registrants", "r1")
    finally:
        st.close()
