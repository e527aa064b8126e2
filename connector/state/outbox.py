"""The outbox: one row per planned write, so a killed run can be told apart from a clean one.

NEW (planned) → SENT (handed to Salesforce; ``attempts`` counts these) → OK | FAILED (with
Salesforce's errorCode and message, which name fields, never values). The engine writes its
rows SENT at once, just before the writes leave (``add_outbox(status=SENT)``: one statement,
not an insert and an update). When a later run plans a
write for the same record, the older NEW/SENT/FAILED rows become SUPERSEDED: the newer row carries
the retry. Rows left NEW/SENT/FAILED by earlier runs are :meth:`OutboxMixin.pending_outbox`.
A run that lost Salesforce puts its unanswered SENT rows back to NEW (:meth:`requeue_sent`), so
SENT left behind means a run was killed while its writes were out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from connector.state import pg_batch
from connector.state import tables as s
from connector.state.db import Database, guard, padded_chunks
from connector.state.rows import PENDING, OutboxError, OutboxItem, OutboxRow, OutboxStatus

OPERATIONS = ("upsert", "update", "delete")
_in: sa.BindParameter[Any] = sa.bindparam("ids", expanding=True)


def _row(r: sa.Row[Any]) -> OutboxRow:
    return OutboxRow(
        r.id,
        r.run_id,
        r.mapping,
        r.key_hash,
        r.object,
        r.operation,
        OutboxStatus(r.status),
        r.error_code,
        r.error_message,
        r.attempts,
        r.created_at,
        r.updated_at,
    )


class OutboxMixin:
    """Outbox queries of :class:`~connector.state.store.StateStore`."""

    _db: Database

    def add_outbox(
        self,
        run_id: int,
        items: Sequence[OutboxItem],
        *,
        at: datetime | None = None,
        status: OutboxStatus = OutboxStatus.NEW,
    ) -> list[int]:
        """Plan writes (status NEW, or SENT with one attempt for writes that leave now); return
        their ids in order. Older pending rows of the same records become SUPERSEDED in the
        same transaction."""
        if not items:
            return []
        if status not in (OutboxStatus.NEW, OutboxStatus.SENT):
            raise ValueError(f"an outbox row starts NEW or SENT, not {status.value}")
        at = at or datetime.now(UTC)
        for item in items:
            if item.operation not in OPERATIONS:
                raise ValueError(f"unknown outbox operation {item.operation!r}")
        t = s.outbox
        by_mapping: dict[str, list[str]] = {}
        for item in items:
            by_mapping.setdefault(item.mapping, []).append(item.key_hash)
        supersede = (
            sa.update(t)
            .where(
                t.c.mapping == sa.bindparam("m"),
                t.c.key_hash.in_(sa.bindparam("keys", expanding=True)),
                t.c.status.in_([p.value for p in PENDING]),
            )
            .values(status=OutboxStatus.SUPERSEDED.value, updated_at=at)
        )
        with guard("add outbox"), self._db.writing() as conn:
            for mapping, keys in by_mapping.items():
                for part in padded_chunks(keys):
                    if self._db.dialect == "postgresql":
                        _pg_supersede(conn, mapping, part, at)
                    else:
                        conn.execute(supersede, {"m": mapping, "keys": part})
            if self._db.dialect == "sqlite":
                return _sqlite_insert_outbox(conn, run_id, items, at, status)
            return pg_batch.insert_outbox(
                conn,
                run_id,
                [(i.mapping, i.key_hash, i.object, i.operation) for i in items],
                status=status.value,
                attempts=1 if status is OutboxStatus.SENT else 0,
                at=at,
            )

    def mark_outbox(
        self,
        ids: Sequence[int],
        status: OutboxStatus | str,
        *,
        error_code: str = "",
        error_message: str = "",
        at: datetime | None = None,
    ) -> None:
        """Move outbox rows to ``status``; SENT counts one more attempt."""
        status = OutboxStatus(status)
        at = at or datetime.now(UTC)
        t = s.outbox
        bump = 1 if status is OutboxStatus.SENT else 0
        stmt = (
            sa.update(t)
            .where(t.c.id.in_(_in))
            .values(
                status=status.value,
                error_code=error_code[:80],
                error_message=error_message[:255],
                attempts=t.c.attempts + bump,
                updated_at=at,
            )
        )
        with guard("mark outbox"), self._db.writing() as conn:
            for chunk in padded_chunks(ids):
                conn.execute(stmt, {"ids": chunk})

    def requeue_sent(self, run_id: int, *, at: datetime | None = None) -> int:
        """Put run ``run_id``'s rows still SENT back to NEW; returns how many.

        For a run that lost Salesforce (exit 3): a SENT row with no answer was never
        confirmed, so it is pending again, and the next run plans and sends it once more — a
        replay is safe, every write is an upsert by external id or an update by Id (DESIGN §9).
        """
        at = at or datetime.now(UTC)
        t = s.outbox
        stmt = (
            sa.update(t)
            .where(t.c.run_id == run_id, t.c.status == OutboxStatus.SENT.value)
            .values(status=OutboxStatus.NEW.value, updated_at=at)
        )
        with guard("requeue unanswered outbox rows"), self._db.writing() as conn:
            return conn.execute(stmt).rowcount

    def fail_outbox(self, errors: Sequence[OutboxError], *, at: datetime | None = None) -> None:
        """Mark rows FAILED, each with its own Salesforce error code and message."""
        if not errors:
            return
        at = at or datetime.now(UTC)
        t = s.outbox
        stmt = (
            sa.update(t)
            .where(t.c.id == sa.bindparam("b_id"))
            .values(
                status=OutboxStatus.FAILED.value,
                error_code=sa.bindparam("b_code"),
                error_message=sa.bindparam("b_message"),
                updated_at=at,
            )
        )
        params = [
            {"b_id": e.id, "b_code": e.error_code[:80], "b_message": e.error_message[:255]}
            for e in errors
        ]
        with guard("mark outbox failed"), self._db.writing() as conn:
            conn.execute(stmt, params)

    def pending_outbox(
        self, mapping: str | None = None, *, after_id: int = 0, limit: int = 2_000
    ) -> list[OutboxRow]:
        """NEW/SENT/FAILED rows in id order, one page (pass the last id as ``after_id``)."""
        t = s.outbox
        q = (
            sa.select(t)
            .where(t.c.status.in_([p.value for p in PENDING]), t.c.id > after_id)
            .order_by(t.c.id)
            .limit(limit)
        )
        if mapping is not None:
            q = q.where(t.c.mapping == mapping)
        with guard("read pending outbox"), self._db.reading() as conn:
            return [_row(r) for r in conn.execute(q)]

    def outbox_counts(self, run_id: int | None = None) -> dict[str, int]:
        """Outbox rows per status (of one run, or all)."""
        t = s.outbox
        q = sa.select(t.c.status, sa.func.count()).group_by(t.c.status)
        if run_id is not None:
            q = q.where(t.c.run_id == run_id)
        with guard("count outbox"), self._db.reading() as conn:
            return {status: n for status, n in conn.execute(q)}


_SQLITE_OUTBOX = (
    "INSERT INTO outbox (run_id, mapping, key_hash, object, operation, status, error_code,"
    " error_message, attempts, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, '', '', ?, ?, ?)"
)


# One index probe per key on ix_outbox_key: the LATERAL subquery, kept apart by OFFSET 0 (an
# optimisation fence, postgresql.org/docs/current/queries-with.html), cannot be pulled up into
# a join, and without a status condition inside it no other index applies. The plain
# UPDATE ... key_hash IN (...) AND status IN (...) was planned by PostgreSQL as a scan of every
# pending row (ix_outbox_status; a first load's jobs in flight are ~150,000 SENT rows) or of the
# whole table: 25-150 ms a statement, growing with the load (a 100k first load spent ~160 s
# there, 2.06 x the SQLite wall). Probing is ~8 µs a key whatever the table holds.
_PG_PENDING_IDS = (
    "SELECT x.id FROM unnest(%s::text[]) AS k(key_hash) CROSS JOIN LATERAL"
    " (SELECT id, status FROM outbox WHERE mapping = %s AND key_hash = k.key_hash OFFSET 0) AS x"
    " WHERE x.status = ANY(%s)"
)
_PG_SUPERSEDE = "UPDATE outbox SET status = %s, updated_at = %s WHERE id = ANY(%s)"


def _pg_supersede(conn: sa.Connection, mapping: str, keys: list[str], at: datetime) -> None:
    """Close the pending outbox rows of ``keys`` (PostgreSQL): find them key by key, then
    update them by id, if any (a first load finds none)."""
    pending = [p.value for p in PENDING]
    ids = [r[0] for r in conn.exec_driver_sql(_PG_PENDING_IDS, (keys, mapping, pending))]
    if ids:
        conn.exec_driver_sql(_PG_SUPERSEDE, (OutboxStatus.SUPERSEDED.value, at, ids))


def _sqlite_insert_outbox(
    conn: sa.Connection,
    run_id: int,
    items: Sequence[OutboxItem],
    at: datetime,
    status: OutboxStatus,
) -> list[int]:
    """Insert outbox rows in one ``executemany`` (the hot path of a first load: RETURNING in
    insertmanyvalues mode cost 10 µs a row). The ids follow from the rowid: the transaction
    holds SQLite's write lock (BEGIN IMMEDIATE), and an INTEGER PRIMARY KEY without
    AUTOINCREMENT takes max(rowid) + 1 (sqlite.org/autoinc.html), so the rows get consecutive
    ids after the largest one before them."""
    top = conn.exec_driver_sql("SELECT COALESCE(MAX(id), 0) FROM outbox").scalar_one()
    when = s.sqlite_datetime(at)
    st, tries = status.value, 1 if status is OutboxStatus.SENT else 0
    conn.exec_driver_sql(
        _SQLITE_OUTBOX,
        [
            (run_id, i.mapping, i.key_hash, i.object, i.operation, st, tries, when, when)
            for i in items
        ],
    )
    last = conn.exec_driver_sql("SELECT MAX(id) FROM outbox").scalar_one()
    if last != top + len(items):
        raise RuntimeError("outbox ids are not consecutive")  # never: we hold the write lock
    return list(range(top + 1, last + 1))
