"""The state store's remembered source rows: what lets a nightly run skip rows it has synced.

Mixed into :class:`~connector.state.store.StateStore`. Table ``source_rows`` (schema v2): per
source row that maps to what Salesforce holds for its record, the row's keyed hash, the record,
the record hash (``token``) it produced and its recheck day. Whatever could change a row's
outcome deletes its rows: a write of other content (``record_synced``), a purge
(``mark_deleted``), a tombstone or a shared e-mail address (``identity.py``), forgetting.
The contract is in ``connector/sync/fingerprint.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from connector.state import pg_batch
from connector.state import tables as s
from connector.state.db import Database, guard, padded_chunks, rows_in
from connector.state.rows import RECORD, SourceSeen

_SOURCES = (
    "SELECT source_hash, key_hash, token FROM source_rows WHERE mapping = ?"
    " AND (recheck_on IS NULL OR recheck_on > ?) AND source_hash {in}"
)
_SQLITE_REMEMBER = (
    "INSERT INTO source_rows (mapping, source_hash, key_hash, token, recheck_on)"
    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (mapping, source_hash) DO UPDATE SET"
    " key_hash = excluded.key_hash, token = excluded.token, recheck_on = excluded.recheck_on"
)


def _day(value: date | None) -> str | None:
    """A date as SQLAlchemy's Date stores it in SQLite (ISO text)."""
    return value.isoformat() if value is not None else None


_SQLITE_FORGET_OTHER = (
    "DELETE FROM source_rows INDEXED BY ix_source_rows_key"
    " WHERE mapping = ? AND key_hash = ? AND token != ?"
)


class SourcesMixin:
    """Remembered source rows (see the module docstring)."""

    _db: Database
    _insert: Any

    def unchanged_sources(
        self, mapping: str, source_hashes: Sequence[str], *, today: date
    ) -> dict[str, str]:
        """Source hash → key hash of rows that need no mapping this run (see
        :meth:`unchanged_rows`)."""
        rows = self.unchanged_rows(mapping, source_hashes, today=today)
        return {h: key for h, (key, _token) in rows.items()}

    def unchanged_rows(
        self, mapping: str, source_hashes: Sequence[str], *, today: date
    ) -> dict[str, tuple[str, str]]:
        """Source hash → (key hash, record hash) of rows that need no mapping this run.

        A row qualifies when it is remembered in ``source_rows`` (a write of other content, a
        purge, a tombstone, a shared address or forgetting deletes it) and its recheck day, if
        any, is after ``today``. The nightly hot path: one statement per batch on the primary
        key (SQLite keeps the table in it: one b-tree), through ``rows_in``.
        """
        with guard("lookup"), self._db.reading() as conn:
            # The day as stored (ISO text on SQLite, a date column on PostgreSQL).
            day: object = today if self._db.dialect == "postgresql" else today.isoformat()
            rows = rows_in(conn, self._db.dialect, _SOURCES, source_hashes, mapping, day)
        return {h: (k, t) for h, k, t in rows}

    def forget_sources(self, mapping: str) -> None:
        """Forget every remembered source row of ``mapping``: its next run maps every row again
        (after something outside its rows changed, e.g. parent records were purged)."""
        r = s.source_rows
        with guard("forget sources"), self._db.writing() as conn:
            conn.execute(sa.delete(r).where(r.c.mapping == mapping))

    def remember_sources(self, mapping: str, rows: Sequence[SourceSeen], *, at: datetime) -> None:
        """For unchanged records mapped this run: last_seen = ``at``, and their source rows
        with the record hash (``token``) and recheck day. A record without a token has its
        remembered rows forgotten (mapped next run)."""
        self._remember_seen(mapping, rows, at)

    def keep_sources(self, mapping: str, rows: Sequence[SourceSeen]) -> None:
        """:meth:`remember_sources` for records whose last_seen this run has moved already
        (written, or unchanged and touched): only their source rows (a consent stage that held
        them back until their consents landed remembers them so)."""
        self._remember_seen(mapping, rows, None)

    def _remember_seen(self, mapping: str, rows: Sequence[SourceSeen], at: datetime | None) -> None:
        if not rows:
            return
        t, r, seen = s.synced, s.source_rows, s.seen
        stmt = (
            sa.update(seen)
            .where(seen.c.mapping == mapping, seen.c.key_hash == sa.bindparam("k"))
            .values(last_seen=at)
        )
        by_key = sa.delete(r).where(r.c.mapping == mapping, r.c.key_hash == sa.bindparam("k"))
        with guard("touch seen"), self._db.writing() as conn:
            if at is not None:
                conn.execute(stmt, [{"k": seen.key_hash} for seen in rows])
            untokened = [{"k": seen.key_hash} for seen in rows if seen.token is None]
            if untokened:
                conn.execute(by_key, untokened)
            # Only records state holds, not purged: a row standing for nothing must never skip.
            alive = sa.select(t.c.key_hash).where(
                t.c.mapping == mapping,
                t.c.key_hash.in_(sa.bindparam("hashes", expanding=True)),
                t.c.deleted_at.is_(None),
            )
            live: set[str] = set()
            for chunk in padded_chunks([seen.key_hash for seen in rows]):
                live.update(conn.execute(alive, {"hashes": chunk}).scalars())
            rows = [seen for seen in rows if seen.key_hash in live]
            self._remember_rows(
                conn,
                [
                    (
                        mapping,
                        seen.key_hash,
                        seen.source_hash,
                        seen.recheck_on,
                        {RECORD: seen.token},
                    )
                    for seen in rows
                    if seen.token is not None
                ],
                written=False,
            )

    def _remember_rows(self, conn: Any, rows: Sequence[tuple], *, written: bool) -> None:
        """Upsert (mapping, key, source hash, recheck day, field hashes) into ``source_rows``.

        For a written record the rows of its old content go first: they can never match again.
        """
        if written:
            # Without statistics SQLite prefers the primary key's prefix (mapping = ?) to the
            # (mapping, key_hash) index and reads every row of the mapping once per record: a
            # first load went quadratic. INDEXED BY pins the index (sqlite.org/lang_indexedby).
            # A token of "" never matches: a record written without one keeps no rows.
            params = [(m, k, f.get(RECORD) or "") for m, k, _h, _d, f in rows]
            if self._db.dialect == "sqlite":
                conn.exec_driver_sql(_SQLITE_FORGET_OTHER, params)
            else:
                pg_batch.forget_other_rows(conn, params)
        # One row per (mapping, source hash), the last one given: a statement's upsert may
        # not touch a row twice (PostgreSQL refuses; SQLite's executemany took the last).
        remembered = {
            (m, h): (m, h, k, f[RECORD], d)
            for m, k, h, d, f in rows
            if h is not None and f.get(RECORD)
        }
        if remembered and self._db.dialect == "sqlite":
            # Written out: SQLAlchemy's per-row parameter processing of this upsert was a tenth
            # of a first load's CPU.
            conn.exec_driver_sql(
                _SQLITE_REMEMBER, [(m, h, k, t, _day(d)) for m, h, k, t, d in remembered.values()]
            )
        elif remembered:
            pg_batch.remember_rows(conn, list(remembered.values()))
