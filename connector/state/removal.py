"""What retention purges and erasure read and remove of the synced records.

Mixed into :class:`~connector.state.store.StateStore` (like ``sources.py`` and ``outbox.py``):
the records past a retention anchor, streamed in keyset-paged batches (:meth:`expired`),
records deleted in Salesforce kept as memory (:meth:`mark_deleted`), and the local memory of
records and persons erased (:meth:`forget`, :meth:`forget_person`). The GDPR jobs
(``connector/gdpr``) call these; nothing here talks to Salesforce.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from connector.state import tables as s
from connector.state.db import Database, guard, padded_chunks
from connector.state.rows import Anchor, ExpiredRow, SyncedRow

_in: sa.BindParameter[Any] = sa.bindparam("hashes", expanding=True)


class RemovalMixin:
    """Retention and erasure queries of :class:`~connector.state.store.StateStore`."""

    _db: Database

    def mark_deleted(self, mapping: str, key_hashes: Sequence[str], *, at: datetime) -> None:
        """Note that these records were deleted in Salesforce (purge); the rows stay as memory.

        Their remembered source rows go: a row still in the source is mapped again, so the
        planner can tell an old record (stays purged) from new data (comes back).
        """
        t = s.synced
        stmt = sa.update(t).where(t.c.mapping == mapping, t.c.key_hash.in_(_in))
        with guard("mark deleted"), self._db.writing() as conn:
            r = s.source_rows
            rows = sa.delete(r).where(r.c.mapping == mapping, r.c.key_hash.in_(_in))
            for chunk in padded_chunks(key_hashes):
                conn.execute(stmt.values(deleted_at=at), {"hashes": chunk})
                conn.execute(rows, {"hashes": chunk})

    def expired(
        self,
        mapping: str,
        anchor: Anchor | str,
        cutoff: datetime,
        *,
        purpose: str | None = None,
        lifecycle: str | None = None,
        batch_size: int = 2_000,
    ) -> Iterator[list[ExpiredRow]]:
        """Stream the live records of ``mapping`` whose ``anchor`` lies before ``cutoff``.

        ``event_date`` compares with the cutoff's date; ``consent_withdrawn`` needs ``purpose``.
        ``lifecycle`` narrows to one lifecycle value (e.g. applicants who never enrolled).
        Batches are keyset-paged by key hash, so the caller may purge between batches.
        """
        anchor = Anchor(anchor)
        t = s.synced
        limit: Any = cutoff
        tables: sa.FromClause = t
        if anchor is Anchor.LAST_SEEN:
            col: Any = s.seen.c.last_seen
            tables = s.SYNCED_WITH_SEEN
        elif anchor is Anchor.LIFECYCLE_END:
            col = t.c.lifecycle_end_at
        elif anchor is Anchor.EVENT_DATE:
            col, limit = t.c.event_date, cutoff.astimezone(UTC).date()
        else:
            if not purpose:
                raise ValueError("the consent_withdrawn anchor needs a purpose")
            col = t.c.consent_withdrawn_at[purpose].as_string()
            # ISO text compares correctly as text in SQLite; PostgreSQL compares real times.
            if self._db.dialect == "postgresql":
                col, limit = sa.cast(col, sa.DateTime(timezone=True)), cutoff
            else:
                limit = s.iso_text(cutoff)
        q = (
            sa.select(t.c.key_hash, t.c.object, t.c.sf_id, t.c.person_id, col.label("anchor_at"))
            .select_from(tables)
            .where(t.c.mapping == mapping, t.c.deleted_at.is_(None), col.is_not(None), col < limit)
            .order_by(t.c.key_hash)
            .limit(batch_size)
        )
        if lifecycle is not None:
            q = q.where(t.c.lifecycle == lifecycle)
        after = ""
        while True:
            with guard("find expired records"), self._db.reading() as conn:
                found = conn.execute(q.where(t.c.key_hash > after)).all()
            if not found:
                return
            yield [
                ExpiredRow(mapping, r.key_hash, r.object, r.sf_id, r.person_id, self._anchor(r))
                for r in found
            ]
            if len(found) < batch_size:
                return
            after = found[-1].key_hash

    @staticmethod
    def _anchor(r: Any) -> Any:
        value = r.anchor_at
        if isinstance(value, str):
            return s.from_iso_text(value)
        if isinstance(value, datetime):
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value

    def person_records(self, person_id: int) -> list[SyncedRow]:
        """Every record linked to one person, across mappings (for erasure and purges)."""
        q = s.SELECT_SYNCED.where(s.synced.c.person_id == person_id)
        with guard("read person records"), self._db.reading() as conn:
            return [s.synced_row(r) for r in conn.execute(q)]

    def forget(self, mapping: str, key_hashes: Sequence[str]) -> int:
        """Erase local memory of records (their synced and outbox rows); return rows removed.

        Suppressions stay: add one first so that no later sync recreates the record.
        """
        removed = 0
        with guard("forget records"), self._db.writing() as conn:
            for chunk in padded_chunks(key_hashes):
                for t in (s.outbox, s.source_rows, s.seen, s.synced):
                    res = conn.execute(
                        sa.delete(t).where(t.c.mapping == mapping, t.c.key_hash.in_(_in)),
                        {"hashes": chunk},
                    )
                    removed += res.rowcount if t is s.synced else 0
        return removed

    def forget_person(self, person_id: int) -> int:
        """Erase a person and every record linked to them; return the record rows removed."""
        sy, ob = s.synced, s.outbox
        with guard("forget person"), self._db.writing() as conn:
            keys = conn.execute(
                sa.select(sy.c.mapping, sy.c.key_hash).where(sy.c.person_id == person_id)
            ).all()
            w, pe = s.withdrawals, s.persons
            who = conn.execute(
                sa.select(pe.c.student_hash, pe.c.email_hash).where(pe.c.person_id == person_id)
            ).first()
            student, email = who or (None, None)
            # What the person's rows stated, in any mapping; not a sibling's who shares the
            # address (a row with another student number).
            if student:
                conn.execute(sa.delete(w).where(w.c.student_hash == student))
            if email:
                own = sa.or_(w.c.student_hash.is_(None), w.c.student_hash == student)
                conn.execute(sa.delete(w).where(w.c.email_hash == email, own))
            for t in (ob, s.source_rows, s.seen, w) if keys else ():
                conn.execute(
                    sa.delete(t).where(
                        t.c.mapping == sa.bindparam("m"), t.c.key_hash == sa.bindparam("k")
                    ),
                    [{"m": m, "k": k} for m, k in keys],
                )
            removed = conn.execute(sa.delete(sy).where(sy.c.person_id == person_id)).rowcount
            conn.execute(sa.delete(s.persons).where(s.persons.c.person_id == person_id))
        return removed
