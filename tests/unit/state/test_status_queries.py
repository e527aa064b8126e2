"""`status`'s lean read path (sqlite3, no SQLAlchemy) gives what the store gives, and only for a
SQLite state of the schema version its SQL was written for."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from connector.records import Origin, Reject
from connector.state import OutboxItem, SyncedUpdate, open_store, status_queries, tables
from connector.state.status_queries import StatusData, read_status

T0 = datetime(2026, 11, 2, 4, 0, tzinfo=UTC)


def _filled_state(path: Path) -> str:
    url = f"sqlite:///{path}"
    store = open_store(url)
    try:
        for i, (status, counts) in enumerate(
            [
                ("ok", {"created": 4, "updated": 1}),
                ("partial", {"created": 1, "rejected": 3, "warnings": ["a warning"]}),
                ("failed", {"cause": "TLS: certificate verify failed for https://x"}),
            ]
        ):
            rid = store.start_run("nightly", T0 + timedelta(days=i))
            store.finish_run(
                rid, status=status, counts=counts, api_calls=i + 2,
                report_path=f"/r/run-{rid}.json", finished_at=T0 + timedelta(days=i, minutes=3),
            )  # fmt: skip
        running = store.start_run("purge", T0 + timedelta(days=5))  # unfinished: no finished_at
        store.add_rejects(
            running,
            [
                Reject(Origin("s.csv", n), "email", "not an e-mail address", "students")
                for n in (2, 3)
            ]
            + [Reject(Origin("s.csv", 9), "postcode", "not a Dutch postcode", "students")],
        )
        ids = store.add_outbox(
            running, [OutboxItem("students", f"k{n}", "Contact", "upsert") for n in range(3)]
        )
        store.mark_outbox(ids[:1], "OK")
        store.record_synced(
            [SyncedUpdate("students", f"k{n}", "Contact", f"003{n:015d}", {"LastName": "h"}) for n in range(3)]
            + [SyncedUpdate("events", "e1", "Campaign", "701000000000001", {"Name": "h"})],
            at=T0,
        )  # fmt: skip
        store.add_request("erase", [("student", "h1")], received_at=T0, due_on=date(2026, 12, 2))
        store.add_request(
            "object", [("email", "h2")], received_at=T0, due_on=date(2026, 12, 2),
            purposes=["newsletter", "events"],
        )  # fmt: skip
        done = store.add_request(
            "export", [("email", "h3")], received_at=T0, due_on=date(2026, 12, 2)
        )
        store.update_request(done.id, status="done", done_at=T0 + timedelta(days=1), receipt="/x")
    finally:
        store.close()
    return url


def test_the_lean_path_reads_what_the_store_reads(tmp_path: Path, monkeypatch) -> None:
    url = _filled_state(tmp_path / "state.db")
    through_store = status_queries._read_store(url, 10)

    def no_store(url: str, limit: int) -> StatusData:
        raise AssertionError("the lean path fell back to the store")

    monkeypatch.setattr(status_queries, "_read_store", no_store)
    lean = read_status(url, 10)

    assert lean == through_store
    assert [r.run_id for r in lean.runs] == [4, 3, 2, 1]
    assert lean.runs[0].finished_at is None and lean.runs[1].finished_at is not None
    assert [(r.column, r.count) for r in lean.rejects] == [("email", 2), ("postcode", 1)]
    assert lean.outbox == {"OK": 1, "NEW": 2} and lean.synced == {"students": 3, "events": 1}
    assert [(r.kind, r.purposes) for r in lean.open_requests] == [
        ("erase", ()),
        ("object", ("newsletter", "events")),
    ]
    assert read_status(url, 2).runs == through_store.runs[:2]


def test_a_state_of_another_schema_version_is_read_through_the_store(
    tmp_path: Path, monkeypatch
) -> None:
    url = _filled_state(tmp_path / "state.db")
    with sqlite3.connect(tmp_path / "state.db") as conn:  # a version this SQL does not know
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    used: list[str] = []
    monkeypatch.setattr(
        status_queries, "_read_store", lambda url, limit: used.append(url) or StatusData()
    )
    assert read_status(url) == StatusData()
    assert used == [url]


def test_no_state_file_is_an_empty_status_and_creates_nothing(tmp_path: Path) -> None:
    assert read_status(f"sqlite:///{tmp_path}/none/state.db") == StatusData()
    assert list(tmp_path.iterdir()) == []


def test_the_queries_follow_the_schema_version() -> None:
    # A schema change must be checked against status_queries.py's SQL before the number moves.
    assert status_queries.SCHEMA_VERSION == tables.SCHEMA_VERSION


def test_status_imports_no_sqlalchemy_and_no_salesforce_client(tmp_path: Path) -> None:
    url = _filled_state(tmp_path / "state.db")
    code = (
        "import sys\n"
        "import connector.commands.sync, connector.cli, connector.config\n"
        "from connector.state.status_queries import read_status\n"
        f"assert read_status({url!r}).runs\n"
        "heavy = sorted(m for m in ('sqlalchemy', 'simple_salesforce', 'requests', 'jwt',\n"
        "    'connector.privacy', 'connector.mapping', 'connector.sync') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_an_unreadable_state_is_a_state_error_not_a_traceback(tmp_path: Path) -> None:
    from connector.errors import StateError

    url = _filled_state(tmp_path / "state.db")
    with sqlite3.connect(tmp_path / "state.db") as conn:
        conn.execute("ALTER TABLE runs RENAME TO gone")
    with pytest.raises(StateError, match="cannot read status"):
        read_status(url)


def test_a_sqlite_store_loads_no_postgresql_dialect(tmp_path: Path) -> None:
    # Its package imports async drivers: ~14 ms of every run's start on SQLite state.
    code = (
        "import sys\n"
        "from connector.state import open_store\n"
        f"store = open_store('sqlite:///{tmp_path / 'state.db'}')\n"
        "store.close()\n"
        "print('sqlalchemy.dialects.postgresql' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
