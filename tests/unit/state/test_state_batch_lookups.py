"""The engine's per-batch look-ups (``db.rows_in``) on SQLite and PostgreSQL (see conftest.py).

They are raw driver SQL with the IN list written out (SQLite) or passed as one array
(PostgreSQL): each must find exactly the rows of its filter, across chunk boundaries, with
parameters before the list kept in order.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from connector.state import NewPerson, StateStore, SyncedUpdate
from connector.state.db import CHUNK, padded, rows_in
from connector.state.objections import EVERY_ROW, OWN_EMAIL

T0 = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


def h(i: int) -> str:
    return f"{i:032x}"


def test_rows_in_spans_chunks_drops_repeats_and_keeps_leading_parameters(store: StateStore):
    n = CHUNK + 30
    store.record_synced(
        [
            SyncedUpdate(
                "students",
                h(i),
                "Contact",
                field_hashes={},
                sf_id=f"003{i:015d}" if i % 2 else None,
            )
            for i in range(n)
        ],
        at=T0,
    )
    store.record_synced(
        [SyncedUpdate("other", h(1), "Contact", field_hashes={}, sf_id="003OTHEROTHEROTHER")], at=T0
    )
    asked = [h(i) for i in range(n + 10)] + [h(1), h(CHUNK + 1)]  # unknowns and repeats
    sql = "SELECT key_hash, sf_id FROM synced WHERE mapping = ? AND sf_id IS NOT NULL AND key_hash {in}"
    with store._db.engine.connect() as conn:
        rows = rows_in(conn, store._db.dialect, sql, asked, "students")
    assert sorted(rows) == [(h(i), f"003{i:015d}") for i in range(n) if i % 2]
    assert store.sf_ids("students", asked) == dict(rows)
    assert set(store.known("students", asked)) == {h(i) for i in range(n)}
    assert store.known("students", []) == {}


def test_objections_are_read_by_kind(store: StateStore):
    store.add_objection([("s1", "student"), ("e1", OWN_EMAIL)], ["news"], at=T0)
    store.add_objection([("e2", "email")], ["news", "phone"], at=T0)
    hashes = ["s1", "e1", "e2", "x9"]
    assert store.objected(hashes) == {
        "s1": frozenset({"news"}),
        "e1": frozenset({"news"}),
        "e2": frozenset({"news", "phone"}),
    }
    assert set(store.objected(hashes, kinds=EVERY_ROW)) == {"s1", "e2"}
    assert set(store.objected(hashes, kinds=(OWN_EMAIL,))) == {"e1"}
    assert store.objected([], kinds=EVERY_ROW) == {}


def test_persons_behind_one_address_come_oldest_first_and_contacts_only_live(store: StateStore):
    ids = store.add_persons(
        [NewPerson(email_hash="e1"), NewPerson(student_hash="s2", email_hash="e1")], at=T0
    )
    found = store.find_persons(email_hashes=["e1", "e1"], student_hashes=["s2"])
    assert [p.person_id for p in found.by_email["e1"]] == ids
    assert found.by_student["s2"].person_id == ids[1]
    store.record_synced(
        [
            SyncedUpdate("students", h(i), "Account", field_hashes={}, sf_id=f"001{i:015d}")
            for i in (1, 2)
        ],
        at=T0,
    )
    store.set_person_contact_ids(
        "students", {h(1): "003000000000000001", h(2): "003000000000000002"}
    )
    store.mark_deleted("students", [h(2)], at=T0)
    assert store.person_contact_ids("students", [h(1), h(2), h(3)]) == {h(1): "003000000000000001"}


def test_in_lists_come_in_a_dozen_lengths_so_the_driver_caches_few_statements(store: StateStore):
    """Every IN-list length is a statement the SQLite driver caches with its bound values:
    look-ups of 1 … 3,000 keys use at most 13 texts (powers of two), and find the same."""
    store.record_synced(
        [SyncedUpdate("students", h(i), "Contact", field_hashes={}, sf_id=None) for i in range(50)],
        at=T0,
    )
    texts: set[str] = set()

    def seen(conn, cursor, statement, *args):
        if statement.startswith("SELECT key_hash, sf_id, person_id"):
            texts.add(statement)

    sa.event.listen(store._db.engine, "before_cursor_execute", seen)
    try:
        for n in range(1, 3_001, 7):
            assert len(store.known("students", [h(i) for i in range(n)])) == min(n, 50)
    finally:
        sa.event.remove(store._db.engine, "before_cursor_execute", seen)
    if store._db.dialect == "sqlite":
        assert len(texts) <= 13
    assert padded([1, 2, 3]) == [1, 2, 3, 3] and padded([]) == [] and padded([1]) == [1]


def test_person_holders_are_the_live_records_of_a_mapping(store: StateStore):
    # Persons 1 and 2; mapping "users" holds person 1 under keys a (seen late), b (seen early)
    # and c (purged), person 2 under d; another mapping's record of person 1 does not count.
    def synced(mapping: str, key: str, person: int) -> SyncedUpdate:
        return SyncedUpdate(
            mapping, key, "Contact", field_hashes={}, sf_id="003A", person_id=person
        )

    store.record_synced([synced("users", "a", 1), synced("users", "c", 1)], at=T0)
    store.record_synced([synced("users", "b", 1), synced("users", "d", 2)], at=T0)
    store.record_synced([synced("other", "e", 1)], at=T0)
    later = T0.replace(day=5)
    store.touch_seen("users", ["a", "d"], at=later)
    store.mark_deleted("users", ["c"], at=later)
    assert store.person_holders("users", [1, 2, 3], since=None) == {1: ("a", "b"), 2: ("d",)}
    # b was not seen in the last full export (at `later`): it has left and holds nothing.
    assert store.person_holders("users", [1, 2], since=later) == {1: ("a",), 2: ("d",)}
    assert store.person_holders("users", [], since=later) == {}
    # The source marked a deleted (OneRoster tobedeleted): it holds nothing either.
    from connector.state.anchors import anchor_end

    anchor_end(store, "users", ["a"], later)
    assert store.person_holders("users", [1, 2], since=None) == {1: ("b",), 2: ("d",)}


def test_person_holders_are_read_through_the_person_index(tmp_path) -> None:
    # SQLite plans an IN list of several persons on the primary key's prefix (mapping = ?),
    # every record of the mapping, unless told otherwise (identity._HOLDERS).
    import sqlite3

    from connector.state.identity import _HOLDERS, _SINCE, _SQLITE_HINT
    from connector.state.store import open_store

    open_store(f"sqlite:///{tmp_path / 'state.db'}").close()
    sql = _HOLDERS.format(hint=_SQLITE_HINT, since=_SINCE).format(**{"in": "IN (?, ?, ?)"})
    with sqlite3.connect(tmp_path / "state.db") as conn:
        params = ("users", "deleted", "t", 1, 2, 3)
        plan = conn.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
    details = [row[-1] for row in plan]
    assert any(d.startswith("SEARCH sy USING INDEX ix_synced_person_id") for d in details), details
