"""recovery_facts: is a state new (or lost), and is a lost state's rebuild under way — read
without creating, migrating or copying anything (a run asks it before it logs in)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from connector.state import OutboxItem, open_store, recovery_facts

AT = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def test_an_absent_sqlite_file_is_new_and_is_not_created(tmp_path: Path):
    path = tmp_path / "state" / "sync.db"
    assert recovery_facts(f"sqlite:///{path}") == (True, {})
    assert not path.exists() and not path.parent.exists()


def test_a_state_is_new_until_it_sends_something_and_says_when_a_rebuild_began(store_url: str):
    assert recovery_facts(store_url) == (True, {})  # no tables yet (a fresh PostgreSQL schema)
    store = open_store(store_url)
    try:
        assert recovery_facts(store_url) == (True, {})  # tables, no run, no record
        store.mark_rebuilding(["students"], AT)
        assert recovery_facts(store_url) == (True, {"students": AT.isoformat()})
        # A run that sent nothing (Salesforce unreachable, a purge with nothing to purge)
        # leaves the state as lost as it was.
        run_id = store.start_run("nightly", AT)
        assert recovery_facts(store_url) == (True, {"students": AT.isoformat()})
        store.add_outbox(run_id, [OutboxItem("students", "9" * 32, "Contact", "upsert")])
        assert recovery_facts(store_url) == (
            False,
            {"students": AT.isoformat()},
        )  # a write left: a replay
        store.mark_rebuilt(["students"], every=["students"])
        assert recovery_facts(store_url) == (False, {})
    finally:
        store.close()
