"""The state store: what the connector remembers between runs, without any personal value.

SQLAlchemy Core over SQLite (default, WAL) or PostgreSQL. Tables (``connector/state/tables.py``):

=============== ==========================================================================
``meta``         ``schema_version`` (see ``schema.migrate``)
``synced``       one row per (mapping, key_hash): object, sf_id, person_id, field_hashes (compact
                 JSON: target field → value hash), first_seen, last_synced, lifecycle,
                 lifecycle_end_at, event_date, consent_withdrawn_at (JSON purpose → time),
                 deleted_at (purged in Salesforce; the row stays so a source still holding the
                 record does not recreate it)
``seen``         (mapping, key_hash) → last_seen: the last run whose source held the record, one
                 row per ``synced`` row, in a narrow table because every run moves it (v4)
``source_rows``  mapping, source_hash → key_hash, token (record hash), recheck_on: source rows
                 that map to what Salesforce holds, and the day the policy may first decide
                 otherwise for them; deleted by whatever could change that (sync/fingerprint.py)
``persons``      person_id, sf_id, student_hash (unique), email_hash (shared = ambiguous)
``outbox``       one row per planned write: NEW → SENT → OK | FAILED (| SUPERSEDED by a newer
                 row for the same record), Salesforce error code + message (field names only)
``runs``         run_id, job, started/finished, status, counts (JSON), api_calls, report_path
``rejects``      run_id, mapping, file, line, column, reason (never the value)
``suppressions`` erasure tombstones: hash (key, student or e-mail hash), kind, reason
``audit``        retention purges and erasures: run_id, action, object, sf_id, reason, purpose
``requests``     data-subject requests (art. 12(3)): reference, kind, subject hashes, due, status
``objections``   art. 21 objections: hash (student or e-mail hash), kind, purposes (objections.py)
``withdrawals``  person_id, purpose → the newest consent withdrawal known of them (v5;
                 withdrawals.py)
=============== ==========================================================================

API (``from connector.state import ...``; times are timezone-aware UTC, naive ones are refused)::

    open_store(url) -> StateStore            # sqlite:///path (default) | postgresql://user@host/db
    store.lock(job)                          # context manager; LockedError if held elsewhere
    # runs, rejects, audit (history.py)
    start_run(job, started_at) -> run_id;  finish_run(run_id, *, status, counts, api_calls,
                                                      report_path, finished_at)
    recent_runs(limit=10, *, job=None) -> list[RunRow]
    add_rejects(run_id, rejects: Sequence[records.Reject]);  list_rejects(run_id, *, limit, offset)
    reject_summary(run_id=None) -> list[RejectSummary(mapping, column, reason, count)]
    add_audit(entries: Sequence[AuditEntry]);  audit_log(*, since, after_id, limit)
    prune_history(before) -> runs removed
    # synced records (here; source rows: sources.py)
    lookup(mapping, key_hashes) -> {key_hash: SyncedRow};  sf_ids(mapping, key_hashes) -> {kh: id}
    record_synced(Sequence[SyncedUpdate], *, at);  touch_seen(mapping, key_hashes, *, at)
    unchanged_rows(mapping, source_hashes, *, today) -> {source_hash: (key_hash, token)}
    unchanged_sources(mapping, source_hashes, *, today) -> {source_hash: key_hash}
    remember_sources(mapping, Sequence[SourceSeen], *, at);  keep_sources(mapping, rows)
    forget_sources(mapping);  mapping_counts() -> {mapping: n}
    # retention purges and erasure (removal.py)
    mark_deleted(mapping, key_hashes, *, at)
    expired(mapping, anchor, cutoff, *, purpose=None, lifecycle=None, batch_size=2000)
        -> Iterator[list[ExpiredRow]]
    person_records(person_id) -> list[SyncedRow];  forget(mapping, key_hashes);  forget_person(pid)
    # persons and suppressions (identity.py)
    find_persons(*, student_hashes=(), email_hashes=()) -> PersonMatches(by_student, by_email)
    add_persons(Sequence[NewPerson], *, at) -> [person_id];  get_persons(ids) -> {id: PersonRow}
    update_persons(Sequence[PersonUpdate], *, at);  link_person(pid, *, at, student_hash,
                                                                email_hash, sf_id)
    suppressed(hashes) -> set;  add_suppression(hash, kind, reason, at)
    # outbox (outbox.py)
    add_outbox(run_id, Sequence[OutboxItem], *, at=None, status=NEW) -> [id]
    mark_outbox(ids, status, *, error_code="", error_message="", at=None)
    fail_outbox(Sequence[OutboxError], *, at=None)
    pending_outbox(mapping=None, *, after_id=0, limit=2000) -> list[OutboxRow];  outbox_counts()
    # data-subject requests (requests.py)
    add_request(kind, subject, *, received_at, due_on) -> RequestRow;  get_request(id)
    list_requests(*, status, kind);  update_request(id, *, status, last_error, done_at, receipt)
    # objections (objections.py)
    has_objections();  objected(hashes) -> {hash: purposes};  objections_of(hashes)
    add_objection([(hash, kind)], purposes, *, at, request_id=None)

``transaction()`` makes the calls inside it one transaction (the recorder's slices).
Every read and write takes a batch (the engine's ≤ 2,000 records) and runs one statement for it
(``IN`` lists of at most ``db.CHUNK`` hashes, ``executemany`` for writes); nothing loads a whole
mapping, and :meth:`StateStore.expired` streams in keyset-paged batches. Database failures
surface as :class:`~connector.errors.StateError` naming the operation, never the data.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from connector.errors import StateDamaged, StateError
from connector.state import pg_batch
from connector.state import tables as s
from connector.state.db import Database, connect, execute_in, guard, padded_chunks, rows_in
from connector.state.history import HistoryMixin, rebuilds_noted
from connector.state.identity import IdentityMixin
from connector.state.lock import run_lock
from connector.state.objections import ObjectionsMixin
from connector.state.outbox import OutboxMixin
from connector.state.person_contacts import PersonContactsMixin
from connector.state.removal import RemovalMixin
from connector.state.requests import RequestsMixin
from connector.state.rows import (
    KnownRow,
    SyncedRow,
    SyncedUpdate,
)
from connector.state.sources import SourcesMixin
from connector.state.withdrawals import WithdrawalsMixin

_in: sa.BindParameter[Any] = sa.bindparam("hashes", expanding=True)


def open_store(url: str) -> StateStore:
    """Open (creating or migrating) the store at ``url``.

    ``sqlite:///path/to/state.db`` (the folder is created) or ``postgresql://user@host/db``.
    Raises StateError when the database cannot be reached or its schema is newer than ours.
    """
    db = connect(url)
    try:
        with guard("open (create or migrate the schema)"), db.write.begin() as conn:
            if db.dialect == "postgresql":
                # Two processes opening a fresh database at once must not both create tables.
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(0x5_15_5_C)))
            s.migrate(conn)
    except StateError as exc:
        db.engine.dispose()
        if db.path is not None and exc.damaged:
            # Before anything is written: exit 2, with the file (a path, no personal data).
            raise StateDamaged.of(db.path, exc.damaged) from None
        raise
    except BaseException:
        db.engine.dispose()
        raise
    return StateStore(db)


def open_existing(url: str, *, create: bool = False) -> StateStore:
    """The store at ``url`` for a command that may only read (unless ``create``).

    Nothing is written: an absent SQLite file is an empty in-memory store, and a state of an
    older schema is not migrated (a migration is a write, and an older connector could no
    longer open it): a SQLite file is copied into memory and migrated there; PostgreSQL is
    refused with StateError until a ``sis-sync run`` migrates it.
    """
    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else None
    if create:
        return open_store(url)
    if path and path != ":memory:" and not Path(path).expanduser().exists():
        return open_store("sqlite://")
    version = _stored_version(url)
    if version is None or version >= s.SCHEMA_VERSION:
        return open_store(url)  # nothing to migrate (a newer schema is refused there)
    if path:
        return _migrated_copy(path)
    raise StateError(
        f"state store: schema version {version} predates this connector's ({s.SCHEMA_VERSION}); "
        "a read-only command does not migrate it: run `sis-sync run` once"
    )


def recovery_facts(url: str) -> tuple[bool, dict[str | None, str]]:
    """Whether the state at ``url`` never sent anything (no record, no outbox row: new, or
    lost), and the rebuilds of a lost state still under way (``sync/recovery.py``): mapping
    (None: every mapping, an earlier version's note) → when it began.

    Runs do not count: a run that failed (Salesforce unreachable, the daily share used up) or a
    purge with nothing to purge records a run on a lost state without changing what it lacks. A
    run killed after it sent anything has outbox rows (written before a write leaves): its
    replay, not a rebuild, is what the next run does.

    Read without creating, migrating or copying anything: a run asks before it logs in, and an
    older schema (migrated by the run itself moments later) is read as it is.
    """
    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else None
    if path and path != ":memory:" and not Path(path).expanduser().exists():
        return True, {}
    with _raw(url, "open (is the state new?)") as conn:
        tables = set(sa.inspect(conn).get_table_names())
        one = sa.select(sa.literal(1))
        used = any(
            conn.execute(one.select_from(t).limit(1)).first() is not None
            for t in (s.synced, s.outbox)
            if t.name in tables
        )
        under_way = rebuilds_noted(conn) if s.meta.name in tables else {}
    return not used, under_way


def _stored_version(url: str) -> int | None:
    with _raw(url, "open (read the schema version)") as conn:
        return s.current_version(conn)


@contextmanager
def _raw(url: str, what: str) -> Iterator[sa.Connection]:
    """A plain connection to the state at ``url``, for reading it as it is (no migration); a
    damaged SQLite file is StateDamaged (exit 2), as open_store says it."""
    db = connect(url)
    try:
        with guard(what), db.engine.connect() as conn:
            yield conn
    except StateError as exc:
        if db.path is not None and exc.damaged:
            raise StateDamaged.of(db.path, exc.damaged) from None
        raise
    finally:
        db.engine.dispose()


def _migrated_copy(path: str) -> StateStore:
    """An in-memory copy of the SQLite state at ``path``, migrated there; the file is untouched."""
    db = connect("sqlite://")  # one shared in-memory connection (StaticPool)
    try:
        with guard("open (copy the state to migrate it in memory)"), db.engine.connect() as c:
            # A URI (percent-encoded: a '#' or '?' in a folder name stays part of the path),
            # read-only: the file is never written, not even created.
            uri = Path(path).expanduser().resolve().as_uri() + "?mode=ro"
            try:
                source = sqlite3.connect(uri, uri=True)
                try:
                    target = c.connection.dbapi_connection
                    assert isinstance(target, sqlite3.Connection)
                    source.backup(target)
                finally:
                    source.close()
            except sqlite3.Error as exc:
                raise StateError(f"state store: cannot read {path} ({exc})") from None
        with guard("open (migrate the schema in memory)"), db.write.begin() as conn:
            s.migrate(conn)
    except BaseException:
        db.engine.dispose()
        raise
    return StateStore(db)


# record_synced on SQLite, written out: SQLAlchemy's per-value bind processing of five
# datetimes a row was a third of a first load's state cost. Same semantics as the generic
# upsert: first_seen kept, person_id kept unless given, deleted_at cleared.
_SQLITE_RECORD = (
    "INSERT INTO synced (mapping, key_hash, object, sf_id, person_id, field_hashes, first_seen,"
    " last_synced, lifecycle, lifecycle_end_at, event_date, deleted_at,"
    " consent_withdrawn_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)"
    " ON CONFLICT (mapping, key_hash) DO UPDATE SET object = excluded.object,"
    " sf_id = excluded.sf_id, person_id = COALESCE(excluded.person_id, synced.person_id),"
    " field_hashes = excluded.field_hashes,"
    " last_synced = excluded.last_synced, lifecycle = excluded.lifecycle,"
    " lifecycle_end_at = excluded.lifecycle_end_at, event_date = excluded.event_date,"
    " deleted_at = NULL, consent_withdrawn_at = excluded.consent_withdrawn_at"
)


def _sqlite_synced(u: SyncedUpdate, when: str | None) -> tuple[Any, ...]:
    """One record of ``record_synced`` as the positional row of ``_SQLITE_RECORD``; ``when``:
    the run's time as SQLite stores it (converted once, not per row)."""
    day = u.event_date
    return (
        u.mapping, u.key_hash, u.object, u.sf_id, u.person_id, _fields_json(u),
        when, when, u.lifecycle, s.sqlite_datetime(u.lifecycle_end_at),
        day.isoformat() if day is not None else None,
        _withdrawn_json(u),
    )  # fmt: skip


def _withdrawn_json(u: SyncedUpdate) -> str | None:
    """The record's withdrawals (purpose → moment) as the JSON text state stores, or None."""
    withdrawn = u.consent_withdrawn_at
    return json.dumps({k: s.iso_text(v) for k, v in withdrawn.items()}) if withdrawn else None


def _fields_json(u: SyncedUpdate) -> str:
    """The record's field hashes as stored (the planner's JSON text when it has one)."""
    return u.field_hashes_json or json.dumps(dict(u.field_hashes), separators=(",", ":"))


_SQLITE_TOUCH = "UPDATE seen SET last_seen = ? WHERE mapping = ? AND key_hash {in}"
_SQLITE_SEEN = (
    "INSERT INTO seen (mapping, key_hash, last_seen) VALUES (?, ?, ?)"
    " ON CONFLICT (mapping, key_hash) DO UPDATE SET last_seen = excluded.last_seen"
)

# The engine's per-batch look-ups, in raw SQL for ``rows_in`` (db.py says why).
_KNOWN = (
    "SELECT key_hash, sf_id, person_id, field_hashes, deleted_at IS NOT NULL FROM synced"
    " WHERE mapping = ? AND key_hash {in}"
)
_SF_IDS = (
    "SELECT key_hash, sf_id FROM synced WHERE mapping = ? AND sf_id IS NOT NULL"
    " AND deleted_at IS NULL AND key_hash {in}"
)


class StateStore(
    HistoryMixin,
    IdentityMixin,
    OutboxMixin,
    SourcesMixin,
    ObjectionsMixin,
    RequestsMixin,
    PersonContactsMixin,
    RemovalMixin,
    WithdrawalsMixin,
):
    """The connector's memory between runs. Create with :func:`open_store`; close when done.

    Runs, rejects and the audit come from :class:`HistoryMixin`, persons and suppressions from
    :class:`IdentityMixin`, the outbox from :class:`OutboxMixin`, the remembered source rows from
    :class:`SourcesMixin`, what purges and erasure remove from :class:`RemovalMixin`; the synced
    records are written and read here.
    """

    def __init__(self, db: Database):
        self._db = db
        # The dialect's own INSERT (ON CONFLICT), imported for the one in use: the PostgreSQL
        # package loads asyncio and its async drivers (~14 ms of every SQLite run's start).
        if db.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            self._insert = pg_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            self._insert = sqlite_insert

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._db.dialect

    def close(self) -> None:
        """Release every connection."""
        self._db.engine.dispose()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def transaction(self) -> AbstractContextManager[None]:
        """Every store call inside is one transaction on this thread: one commit, all or
        nothing (a transaction inside a transaction joins it). See ``Database.unit``."""
        return self._db.unit()

    def lock(self, job: str) -> AbstractContextManager[None]:
        """Hold the run lock of ``job`` (one run per job); raises LockedError if another has it."""
        return run_lock(self._db, job)

    # -- synced records -----------------------------------------------------------------------

    def lookup(self, mapping: str, key_hashes: Sequence[str]) -> dict[str, SyncedRow]:
        """What is known about a batch of records: key hash → row (unknown keys are absent)."""
        t = s.synced
        q = s.SELECT_SYNCED.where(t.c.mapping == mapping, t.c.key_hash.in_(_in))
        out: dict[str, SyncedRow] = {}
        with guard("lookup"), self._db.reading() as conn:
            for chunk in padded_chunks(key_hashes):
                for r in conn.execute(q, {"hashes": chunk}).all():  # fetchall: one C call
                    out[r[1]] = s.synced_row(r)
        return out

    def sharing(self, sf_ids: Sequence[str]) -> list[SyncedRow]:
        """The live records of every mapping with these Salesforce Ids: the mappings that
        write one Salesforce record (a student who registered for an open day)."""
        t = s.synced
        q = s.SELECT_SYNCED.where(t.c.sf_id.in_(_in), t.c.deleted_at.is_(None))
        out: list[SyncedRow] = []
        with guard("lookup"), self._db.reading() as conn:
            for chunk in padded_chunks(sf_ids):
                out += [s.synced_row(r) for r in conn.execute(q, {"hashes": chunk}).all()]
        return out

    def known(self, mapping: str, key_hashes: Sequence[str]) -> dict[str, KnownRow]:
        """What the diff needs of a batch: Salesforce id, person, field hashes, purged or not.

        A lean :meth:`lookup` for the engine's hot path: five columns and no date decoding.
        """
        loads = json.loads
        with guard("lookup"), self._db.reading() as conn:
            rows = rows_in(conn, self._db.dialect, _KNOWN, key_hashes, mapping)
        return {kh: KnownRow(sf_id, pid, loads(f), bool(gone)) for kh, sf_id, pid, f, gone in rows}

    def sf_ids(self, mapping: str, key_hashes: Sequence[str]) -> dict[str, str]:
        """Salesforce ids of a batch of (parent) records: key hash → sf_id, where known.

        Purged records are left out: their Salesforce record is gone.
        """
        with guard("resolve Salesforce ids"), self._db.reading() as conn:
            return dict(rows_in(conn, self._db.dialect, _SF_IDS, key_hashes, mapping))

    def record_synced(self, rows: Sequence[SyncedUpdate], *, at: datetime) -> None:
        """Upsert what Salesforce accepted: first_seen on insert; last_seen = last_synced = at.

        Recording a record again clears ``deleted_at`` (it exists in Salesforce once more).
        """
        latest = {(u.mapping, u.key_hash): u for u in rows}  # one row per key per statement
        if not latest:
            return
        rows_of = latest.values()
        with guard("record synced"), self._db.writing() as conn:
            if self._db.dialect == "sqlite":
                when = s.sqlite_datetime(at)
                conn.exec_driver_sql(_SQLITE_RECORD, [_sqlite_synced(u, when) for u in rows_of])
                conn.exec_driver_sql(_SQLITE_SEEN, [(u.mapping, u.key_hash, when) for u in rows_of])
            else:
                pg_batch.record_synced(
                    conn,
                    [
                        (
                            u.mapping, u.key_hash, u.object, u.sf_id, u.person_id,
                            _fields_json(u), u.lifecycle, pg_batch.utc(u.lifecycle_end_at),
                            u.event_date, _withdrawn_json(u),
                        )
                        for u in rows_of
                    ],
                    at,
                )  # fmt: skip
                pg_batch.seen(conn, [(u.mapping, u.key_hash) for u in rows_of], at)
            self._remember_rows(
                conn,
                [
                    (u.mapping, u.key_hash, u.source_hash, u.recheck_on, u.field_hashes)
                    for u in rows_of
                ],
                written=True,
            )

    def touch_seen(self, mapping: str, key_hashes: Sequence[str], *, at: datetime) -> None:
        """Set last_seen = ``at`` for unchanged records the source still holds."""
        # In key order: the statements walk the b-tree of `seen` from one end to the other,
        # each page read and rewritten once (tables.seen gives the figures).
        key_hashes = sorted(key_hashes)
        t = s.seen
        stmt = sa.update(t).where(t.c.mapping == mapping, t.c.key_hash.in_(_in))
        sqlite = self._db.dialect == "sqlite"
        when = s.sqlite_datetime(at)
        with guard("touch seen"), self._db.writing() as conn:
            if sqlite:
                # The nightly hot path: raw SQL with padded IN lists (an expanding parameter
                # re-renders the statement on every call), the timestamp converted once.
                execute_in(conn, "sqlite", _SQLITE_TOUCH, key_hashes, when, mapping)
            else:
                for chunk in padded_chunks(key_hashes):
                    conn.execute(stmt.values(last_seen=at), {"hashes": chunk})

    def mapping_counts(self) -> dict[str, int]:
        """Number of records in Salesforce per mapping (for ``status``): purged and erased
        records (``deleted_at`` set) are remembered but no longer counted."""
        t = s.synced
        q = (
            sa.select(t.c.mapping, sa.func.count())
            .where(t.c.deleted_at.is_(None))
            .group_by(t.c.mapping)
        )
        with guard("count records"), self._db.reading() as conn:
            return {m: n for m, n in conn.execute(q)}
