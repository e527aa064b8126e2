"""Remembered source rows in state (SQLite and PostgreSQL, see conftest.py).

``unchanged_sources`` is what lets a nightly run skip a row: it must find a record by the hash
of the row that produced it, only in its own mapping, only before its recheck day, and never a
purged one. ``remember_sources`` and ``record_synced`` set the hash; ``mark_deleted`` clears it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from connector.state import NewPerson, StateStore, SyncedUpdate
from connector.state.db import CHUNK
from connector.state.rows import SourceSeen

T0 = datetime(2025, 3, 1, 2, 15, tzinfo=UTC)
DAY = timedelta(days=1)
TODAY = date(2025, 3, 1)


def h(i: int) -> str:
    """A key hash as KeyHasher.key() makes them: 32 hex characters."""
    return f"{i:032x}"


def src(i: int) -> str:
    """A source hash as SourceHasher.of() makes them: 32 hex characters."""
    return f"5{i:031x}"


def upd(i: int, mapping: str = "students", **kw) -> SyncedUpdate:
    kw.setdefault("sf_id", f"003{i:015d}")
    kw.setdefault("field_hashes", {"LastName": f"v{i}", "*": f"r{i}"})  # "*": record hash
    return SyncedUpdate(mapping=mapping, key_hash=h(i), object="Contact", **kw)


def test_a_synced_row_is_found_by_its_source_hash_before_its_recheck_day(store: StateStore):
    store.record_synced(
        [
            upd(1, source_hash=src(1), recheck_on=date(2025, 3, 10)),
            upd(2, source_hash=src(2)),  # nothing depends on the day
            upd(3),  # no hash: mapped again every run
        ],
        at=T0,
    )
    asked = [src(1), src(2), src(3), src(99)]
    both = {src(1): h(1), src(2): h(2)}
    assert store.unchanged_sources("students", asked, today=TODAY) == both
    assert store.unchanged_sources("students", asked, today=date(2025, 3, 9)) == both
    # On the recheck day and after, the row is mapped again.
    assert store.unchanged_sources("students", asked, today=date(2025, 3, 10)) == {src(2): h(2)}
    assert store.unchanged_sources("students", asked, today=date(2025, 3, 11)) == {src(2): h(2)}
    assert store.unchanged_sources("students", asked, today=date(2031, 1, 1)) == {src(2): h(2)}
    assert store.unchanged_sources("students", [], today=TODAY) == {}


def test_a_source_hash_counts_only_in_its_own_mapping(store: StateStore):
    store.record_synced([upd(1, source_hash=src(1))], at=T0)
    assert store.unchanged_sources("registrants", [src(1)], today=TODAY) == {}
    # The same hash remembered by another mapping for another record stays apart.
    store.record_synced([upd(2, mapping="registrants", source_hash=src(1))], at=T0)
    assert store.unchanged_sources("students", [src(1)], today=TODAY) == {src(1): h(1)}
    assert store.unchanged_sources("registrants", [src(1)], today=TODAY) == {src(1): h(2)}


def test_rows_of_the_same_content_all_count_and_a_new_content_drops_them(store: StateStore):
    """Several rows may stand for one record (an event on many registration rows); a write of
    new content leaves only the row that produced it."""
    store.record_synced([upd(1, source_hash=src(1), recheck_on=date(2025, 3, 5))], at=T0)
    store.record_synced([upd(1, source_hash=src(2))], at=T0 + DAY)  # same content, other row
    asked = [src(1), src(2), src(3)]
    assert store.unchanged_sources("students", asked, today=TODAY) == {
        src(1): h(1),
        src(2): h(1),
    }
    assert store.unchanged_sources("students", asked, today=date(2025, 3, 5)) == {src(2): h(1)}
    new = {"LastName": "v1b", "*": "r1b"}
    store.record_synced([upd(1, field_hashes=new, source_hash=src(3))], at=T0 + 2 * DAY)
    assert store.unchanged_sources("students", asked, today=TODAY) == {src(3): h(1)}
    # Synced from a row that warned (not remembered): no row stands for the new content.
    newer = {"LastName": "v1c", "*": "r1c"}
    store.record_synced([upd(1, field_hashes=newer)], at=T0 + 3 * DAY)
    assert store.unchanged_sources("students", asked, today=TODAY) == {}


def test_remember_sources_sets_hash_recheck_and_last_seen(store: StateStore):
    store.record_synced([upd(1), upd(2), upd(1, mapping="registrants")], at=T0)
    later = T0 + DAY
    store.remember_sources(
        "students",
        [SourceSeen(h(1), src(1), date(2025, 3, 20), "r1"), SourceSeen(h(99), src(99), None, "x")],
        at=later,
    )
    row = store.lookup("students", [h(1)])[h(1)]
    assert row.last_seen == later
    assert row.last_synced == T0  # nothing was written to Salesforce
    assert row.first_seen == T0
    assert store.lookup("students", [h(2)])[h(2)].last_seen == T0  # not named: untouched
    assert store.lookup("registrants", [h(1)])[h(1)].last_seen == T0  # other mapping
    assert store.lookup("students", [h(99)]) == {}  # an unknown key is not created
    assert store.unchanged_sources("students", [src(1), src(99)], today=date(2025, 3, 19)) == {
        src(1): h(1)
    }
    assert store.unchanged_sources("students", [src(1)], today=date(2025, 3, 20)) == {}
    assert store.unchanged_sources("registrants", [src(1)], today=TODAY) == {}

    # Remembered again with a new hash and no recheck day; then with none (mapped next run).
    store.remember_sources("students", [SourceSeen(h(1), src(5), None, "r1")], at=later + DAY)
    assert store.unchanged_sources("students", [src(1), src(5)], today=date(2026, 1, 1)) == {
        src(5): h(1)
    }
    assert store.lookup("students", [h(1)])[h(1)].last_seen == later + DAY
    # No record hash: the record's rows are mapped next run.
    store.remember_sources("students", [SourceSeen(h(1), None, None)], at=later + 2 * DAY)
    assert store.unchanged_sources("students", [src(5)], today=TODAY) == {}
    store.remember_sources("students", [], at=later + 3 * DAY)  # nothing to do
    assert store.lookup("students", [h(1)])[h(1)].last_seen == later + 2 * DAY


def test_a_purged_record_is_not_skipped_until_synced_again(store: StateStore):
    store.record_synced([upd(1, source_hash=src(1)), upd(2, source_hash=src(2))], at=T0)
    store.mark_deleted("students", [h(1)], at=T0 + DAY)
    assert store.unchanged_sources("students", [src(1), src(2)], today=TODAY) == {src(2): h(2)}
    assert store.lookup("students", [h(1)])[h(1)].deleted_at == T0 + DAY
    # Synced again (new data brought it back), it is a live record and its row counts again.
    store.record_synced([upd(1, source_hash=src(1))], at=T0 + 2 * DAY)
    assert store.lookup("students", [h(1)])[h(1)].deleted_at is None
    assert store.unchanged_sources("students", [src(1)], today=TODAY) == {src(1): h(1)}


def test_more_hashes_than_one_statement_takes(store: StateStore):
    n = CHUNK + 2_100  # crosses a chunk boundary (and the engine's 2,000 per batch)
    store.record_synced(
        [upd(i, source_hash=src(i), recheck_on=date(2025, 3, 2) if i % 3 == 0 else None)
         for i in range(n)],
        at=T0,
    )  # fmt: skip
    asked = [src(i) for i in range(n + 50)] + [src(7), src(CHUNK + 1)]  # unknowns and repeats
    found = store.unchanged_sources("students", asked, today=TODAY)
    assert found == {src(i): h(i) for i in range(n)}
    later = store.unchanged_sources("students", asked, today=date(2025, 3, 2))
    assert later == {src(i): h(i) for i in range(n) if i % 3}


def test_a_tombstone_clears_the_source_hashes_of_what_it_covers(store: StateStore):
    """After a tombstone the next run must map the rows, so the planner sees it."""
    (person,) = store.add_persons([NewPerson(h(500), h(501), "003000000000000500")], at=T0)
    store.record_synced(
        [
            upd(1, source_hash=src(1), person_id=person),  # the person's student record
            upd(2, mapping="registrants", source_hash=src(2), person_id=person),
            upd(3, source_hash=src(3)),  # someone else
            upd(4, source_hash=src(4)),  # a record tombstoned by its own key
        ],
        at=T0,
    )
    every = [src(1), src(2), src(3), src(4)]
    store.add_suppression(h(501), "email", "erasure", T0)  # through the person's e-mail hash
    assert store.unchanged_sources("students", every, today=TODAY) == {
        src(3): h(3),
        src(4): h(4),
    }
    assert store.unchanged_sources("registrants", every, today=TODAY) == {}
    store.add_suppression(h(4), "key", "erasure", T0)
    assert store.unchanged_sources("students", every, today=TODAY) == {src(3): h(3)}


def test_keep_sources_remembers_rows_and_leaves_last_seen_where_it_is(store: StateStore):
    """The consent stage's rows: written (or touched) earlier in the run, remembered later."""
    store.record_synced([upd(1), upd(2)], at=T0)
    store.keep_sources(
        "students",
        [SourceSeen(h(1), src(1), None, "r1"), SourceSeen(h(99), src(99), None, "r99")],
    )
    # Only the record state holds is remembered: a row standing for nothing never skips.
    assert store.unchanged_sources("students", [src(1), src(99)], today=TODAY) == {src(1): h(1)}
    seen = {k: row.last_seen for k, row in store.lookup("students", [h(1), h(2)]).items()}
    assert seen == {h(1): T0, h(2): T0}
    store.remember_sources("students", [SourceSeen(h(2), src(2), None, "r2")], at=T0 + DAY)
    assert store.lookup("students", [h(2)])[h(2)].last_seen == T0 + DAY
