"""What ``sis-sync status`` reads from the state, and a lean read-only path for it.

``status`` is run by hand and by monitoring scripts, so it must start fast (issue 12: under
0.5 s). SQLAlchemy's import alone costs about as much as the rest of the command, so over a SQLite
state of the schema version these queries were written for, :func:`read_status` reads the five
things status shows with the standard library's ``sqlite3`` — read-only (``mode=ro``), five
``SELECT``\\ s over the tables of ``tables.py``. Any other state (PostgreSQL, an older or newer
schema, an in-memory URL) goes through the store's own methods, which answer the same
questions; ``tests/unit/state/test_status_queries.py`` checks that both paths give the same
:class:`StatusData` for the same state, and that :data:`SCHEMA_VERSION` follows the store's.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from connector.errors import DAMAGED, StateDamaged, StateError
from connector.state.rows import RejectSummary, RequestRow, RunRow, RunStatus

# The schema version the SQL below was written against (tables.SCHEMA_VERSION when it was); a
# state of any other version is read through the store. A schema change fails a unit test until
# this module is checked against it and the number raised.
SCHEMA_VERSION = 5

_RUNS = (
    "SELECT run_id, job, started_at, finished_at, status, counts, api_calls, report_path"
    " FROM runs ORDER BY run_id DESC LIMIT ?"
)
_REJECTS = (
    'SELECT mapping, "column", reason, count(*) AS n FROM rejects WHERE run_id = ?'
    ' GROUP BY mapping, "column", reason ORDER BY n DESC, mapping, "column", reason'
)
_OUTBOX = "SELECT status, count(*) FROM outbox GROUP BY status"
# Purged and erased records stay in state (deleted_at set) but are not in Salesforce.
_SYNCED = "SELECT mapping, count(*) FROM synced WHERE deleted_at IS NULL GROUP BY mapping"
_OPEN_REQUESTS = (
    "SELECT id, reference, kind, subject, purposes, received_at, due_on, status, attempts,"
    " last_error, done_at, receipt FROM requests WHERE status = 'open' ORDER BY id"
)


@dataclass(frozen=True)
class StatusData:
    """Everything ``status`` shows: recent runs (newest first), the latest run's rejects by
    reason, outbox rows per status, records per mapping and the open data-subject requests."""

    runs: list[RunRow] = field(default_factory=list)
    rejects: list[RejectSummary] = field(default_factory=list)
    outbox: dict[str, int] = field(default_factory=dict)
    synced: dict[str, int] = field(default_factory=dict)
    open_requests: list[RequestRow] = field(default_factory=list)


def read_status(url: str, limit: int = 10) -> StatusData:
    """The status of the state at ``url``; reads only, never creates or migrates anything.

    An absent SQLite file is an empty status. Raises StateError when the state cannot be read.
    """
    path = (
        Path(url.removeprefix("sqlite:///")).expanduser() if url.startswith("sqlite:///") else None
    )
    if path is not None and str(path) != ":memory:":
        if not path.exists():
            return StatusData()
        lean = _read_sqlite(path, limit)
        if lean is not None:
            return lean
    return _read_store(url, limit)


def _read_store(url: str, limit: int) -> StatusData:
    from connector.state import open_existing  # SQLAlchemy: only for the states the lean path skips

    store = open_existing(url)  # reads only: an older schema is migrated in a copy in memory
    try:
        runs = store.recent_runs(limit)
        return StatusData(
            runs=runs,
            rejects=store.reject_summary(runs[0].run_id) if runs else [],
            outbox=store.outbox_counts(),
            synced=store.mapping_counts(),
            open_requests=store.list_requests(status="open"),
        )
    finally:
        store.close()


def _read_sqlite(path: Path, limit: int) -> StatusData | None:
    """The status read with ``sqlite3``; None when the file's schema version is not ours."""
    uri = path.resolve().as_uri() + "?mode=ro"  # read-only: not even a journal is created
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=30)
    except sqlite3.Error as exc:
        raise StateError(f"state store: cannot read {path} ({exc})") from None
    try:
        try:
            version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.OperationalError:
            return None  # no meta table (an empty or foreign file): the store says what it is
        if version is None or int(version[0]) != SCHEMA_VERSION:
            return None
        runs = [_run(r) for r in conn.execute(_RUNS, (limit,))]
        rejects = (
            [RejectSummary(*r) for r in conn.execute(_REJECTS, (runs[0].run_id,))] if runs else []
        )
        return StatusData(
            runs=runs,
            rejects=rejects,
            outbox=dict(conn.execute(_OUTBOX).fetchall()),
            synced=dict(conn.execute(_SYNCED).fetchall()),
            open_requests=[_request(r) for r in conn.execute(_OPEN_REQUESTS)],
        )
    except sqlite3.Error as exc:
        if any(sign in str(exc) for sign in DAMAGED):  # exit 2, as every command says it
            raise StateDamaged.of(path, str(exc)) from None
        raise StateError(f"state store: cannot read status from {path} ({exc})") from None
    finally:
        conn.close()


# SQLite holds UtcDateTime as ISO 8601 text with its offset and Date as YYYY-MM-DD (tables.py).
def _when(text: Any) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _run(r: tuple[Any, ...]) -> RunRow:
    run_id, job, started, finished, status, counts, api_calls, report_path = r
    started_at = _when(started)
    assert started_at is not None  # NOT NULL in the schema
    return RunRow(
        run_id, job, started_at, _when(finished), RunStatus(status), json.loads(counts),
        api_calls, report_path,
    )  # fmt: skip


def _request(r: tuple[Any, ...]) -> RequestRow:
    rid, reference, kind, subject, purposes, received, due, status, attempts, err, done, receipt = r
    received_at = _when(received)
    assert received_at is not None  # NOT NULL in the schema
    return RequestRow(
        rid, reference, kind, tuple((str(k), str(h)) for k, h in json.loads(subject or "[]")),
        tuple(p for p in (purposes or "").split(",") if p), received_at,
        date.fromisoformat(due), status, attempts, err, _when(done), receipt,
    )  # fmt: skip
