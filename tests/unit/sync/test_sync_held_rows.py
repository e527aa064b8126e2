"""Rows whose student number a record in state holds, kept for the end of a OneRoster source
(``connector/sync/held_rows.py``), without a database."""

from __future__ import annotations

from test_sync_planner_numbers import user

from connector.sync import held_rows
from connector.sync.held_rows import HeldRows


def test_a_source_that_marks_no_deletions_holds_nothing() -> None:
    assert HeldRows(deletes=False).hold(user("u-2", "100001", "Visser", 2)) is False


def test_rows_are_held_up_to_the_cap_and_released_once(monkeypatch) -> None:
    monkeypatch.setattr(held_rows, "HOLD_MAX", 2)
    rows = HeldRows(deletes=True)
    a, b, c = (user(f"u-{i}", "100001", "Visser", i) for i in (2, 3, 4))
    assert rows.hold(a) and rows.hold(b)
    assert rows.hold(c) is False  # past the cap: the engine rejects it at once
    assert rows.release() == [a, b]
    assert rows.release() == [] and rows.hold(c) is False  # the second pass holds nothing


def test_a_later_row_of_a_record_replaces_its_held_row() -> None:
    rows = HeldRows(deletes=True)
    old, other = user("u-2", "100001", "Visser", 2), user("u-3", "100001", "Smit", 3)
    new = user("u-2", "100001", "Visser", 5)
    assert rows.hold(old) and rows.hold(other) and rows.hold(new)
    assert rows.release() == [other, new]
    rows = HeldRows(deletes=True)
    rows.hold(old)
    rows.superseded([old.res.key_hash])  # a later row of u-2 was planned (written, unchanged)
    assert rows.release() == []


def test_records_deleted_in_this_run_hold_no_number_and_claim_none() -> None:
    rows = HeldRows(deletes=True)
    assert rows.live({5: ("k1", "k2")}) == {5: ("k1", "k2")}
    rows.delete("k1", 7)
    assert rows.live({5: ("k1", "k2"), 6: ("k1",)}) == {5: ("k2",)}
    # A claim of the number by k1's row above its deletion is void; k2's stands.
    assert rows.claims({"s1": ("k1", 3), "s2": ("k2", 4)}) == {"s2": ("k2", 4)}
    assert rows.deleted() == ["k1"]


def test_a_deletion_drops_the_held_row_of_its_record() -> None:
    rows = HeldRows(deletes=True)
    new = user("u-2", "100001", "Visser", 2)
    rows.hold(new)
    rows.delete(new.res.key_hash, 9)  # created and deleted in one delta: never written
    assert rows.release() == []


def test_only_a_row_below_its_deletion_holds_the_record_again() -> None:
    rows = HeldRows(deletes=True)
    rows.delete("k1", 5)
    rows.delete("k2", 5)
    # A row above the deletion (read in the same batch, planned after it) lifts nothing.
    assert rows.revived({"k1": 4, "k2": 6, "k3": 1}) == ["k2", "k3"]
    assert rows.deleted() == ["k1"]
