"""``StateStore.transaction()``: store calls inside it are one transaction (state/db.py
``Database.unit``), on SQLite and PostgreSQL; and outbox rows that start SENT."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connector.state import NewPerson, OutboxItem, OutboxStatus, StateStore, SyncedUpdate

T0 = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


def _synced(i: int, person_id: int | None = None) -> SyncedUpdate:
    return SyncedUpdate(
        mapping="students",
        key_hash=f"{i:032x}",
        object="Contact",
        sf_id=f"003{i:015d}",
        field_hashes={"LastName": f"v{i}"},
        person_id=person_id,
    )


def _half_a_slice(store: StateStore) -> None:
    with store.transaction():
        (pid,) = store.add_persons([NewPerson(student_hash="s1")], at=T0)
        store.record_synced([_synced(1, pid)], at=T0)
        # Reads inside see what the transaction wrote so far.
        assert set(store.lookup("students", [f"{1:032x}"])) == {f"{1:032x}"}
        assert "s1" in store.find_persons(student_hashes=["s1"]).by_student
        raise RuntimeError("killed half-way")


def test_calls_inside_a_transaction_land_together_or_not_at_all(store: StateStore) -> None:
    with pytest.raises(RuntimeError, match="killed"):
        _half_a_slice(store)
    # Nothing of it is left: neither the person nor the record.
    assert store.lookup("students", [f"{1:032x}"]) == {}
    assert store.find_persons(student_hashes=["s1"]).by_student == {}
    with store.transaction():
        (pid,) = store.add_persons([NewPerson(student_hash="s1")], at=T0)
        with store.transaction():  # a transaction inside joins the outer one
            store.record_synced([_synced(1, pid)], at=T0)
    assert store.lookup("students", [f"{1:032x}"])[f"{1:032x}"].person_id == pid


def test_outbox_rows_of_writes_that_leave_now_start_sent(store: StateStore) -> None:
    run = store.start_run("nightly", T0)
    items = [OutboxItem("students", f"{i:032x}", "Contact", "upsert") for i in range(3)]
    ids = store.add_outbox(run, items, at=T0, status=OutboxStatus.SENT)
    rows = store.pending_outbox()
    assert [r.id for r in rows] == ids
    assert {(r.status, r.attempts) for r in rows} == {(OutboxStatus.SENT, 1)}
    with pytest.raises(ValueError, match="starts NEW or SENT"):
        store.add_outbox(run, items, at=T0, status=OutboxStatus.OK)
