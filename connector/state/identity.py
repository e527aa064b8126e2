"""Persons and suppressions: who is who (by keyed hashes) and who must never come back.

A person joins what the sources know about one human: a prospect known by e-mail hash from an
event registration, later the same person as a student by SIS-number hash. The student hash is
unique; an e-mail hash is not (family addresses are shared), and several persons behind one
e-mail hash is an ambiguity the engine reports instead of guessing. Suppressions are erasure
tombstones: a keyed hash (record key, student or e-mail) that no later sync may recreate.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from connector.state import tables as s
from connector.state.anchors import ENDED_BY_SOURCE
from connector.state.db import Database, guard, padded_chunks, rows_in
from connector.state.rows import NewPerson, PersonMatches, PersonRow, PersonUpdate
from connector.state.tables import sqlite_datetime

_in: sa.BindParameter[Any] = sa.bindparam("hashes", expanding=True)
# The engine's per-batch look-ups, in raw SQL for ``rows_in`` (db.py says why).
_PERSON = "SELECT person_id, sf_id, student_hash, email_hash FROM persons WHERE "
_BY_STUDENT = _PERSON + "student_hash {in}"
_BY_EMAIL = _PERSON + "email_hash {in}"
_SUPPRESSED = "SELECT hash FROM suppressions WHERE hash {in}"
# Without INDEXED BY, SQLite (no statistics) plans an IN list of several persons on the primary
# key's prefix, `mapping = ?`: every record of the mapping, per batch
# (tests/unit/state/test_state_batch_lookups.py). PostgreSQL has no such clause (nor need).
_HOLDERS = (
    "SELECT sy.person_id, sy.key_hash FROM synced AS sy{hint}"
    " LEFT JOIN seen AS se ON se.mapping = sy.mapping AND se.key_hash = sy.key_hash"
    " WHERE sy.mapping = ? AND sy.deleted_at IS NULL"
    " AND (sy.lifecycle IS NULL OR sy.lifecycle <> ?){since} AND sy.person_id {{in}}"
)
_SQLITE_HINT = " INDEXED BY ix_synced_person_id"
_SINCE = " AND (se.last_seen IS NULL OR se.last_seen >= ?)"


def _forget_rows_of(people: sa.Select[Any], *, key_hash: str | None = None) -> sa.Delete:
    """Delete the remembered source rows of the records of ``people`` (and of ``key_hash``)."""
    sy, r = s.synced, s.source_rows
    records = sa.select(sy.c.mapping, sy.c.key_hash).where(sy.c.person_id.in_(people))
    covered: sa.ColumnElement[bool] = sa.tuple_(r.c.mapping, r.c.key_hash).in_(records)
    if key_hash is not None:
        covered = sa.or_(r.c.key_hash == key_hash, covered)
    return sa.delete(r).where(covered)


def _person(r: sa.Row[Any]) -> PersonRow:
    return PersonRow(r.person_id, r.sf_id, r.student_hash, r.email_hash, r.created_at, r.updated_at)


class IdentityMixin:
    """Person and suppression queries of :class:`~connector.state.store.StateStore`."""

    _db: Database
    _insert: Any

    def find_persons(
        self, *, student_hashes: Sequence[str] = (), email_hashes: Sequence[str] = ()
    ) -> PersonMatches:
        """Persons for a batch of student and e-mail hashes (two queries at most).

        On the engine's hot path: only the four identity columns are read (the rows carry no
        ``created_at``/``updated_at``; use :meth:`get_persons` for those).
        """
        by_student: dict[str, PersonRow] = {}
        by_email: dict[str, list[PersonRow]] = {}
        dialect = self._db.dialect
        with guard("find persons"), self._db.reading() as conn:
            for pid, sf_id, sh, eh in rows_in(conn, dialect, _BY_STUDENT, student_hashes):
                by_student[sh] = PersonRow(pid, sf_id, sh, eh, None, None)
            found = rows_in(conn, dialect, _BY_EMAIL, email_hashes)
            for pid, sf_id, sh, eh in sorted(found):  # by person_id: oldest first
                by_email.setdefault(eh, []).append(PersonRow(pid, sf_id, sh, eh, None, None))
        return PersonMatches(by_student, {h: tuple(rows) for h, rows in by_email.items()})

    def get_persons(self, person_ids: Sequence[int]) -> dict[int, PersonRow]:
        """Persons by id (unknown ids are absent)."""
        p = s.persons
        out: dict[int, PersonRow] = {}
        with guard("read persons"), self._db.reading() as conn:
            for chunk in padded_chunks(person_ids):
                q = sa.select(p).where(p.c.person_id.in_(_in))
                out.update((r.person_id, _person(r)) for r in conn.execute(q, {"hashes": chunk}))
        return out

    def person_holders(
        self, mapping: str, person_ids: Sequence[int], *, since: datetime | None
    ) -> dict[int, tuple[str, ...]]:
        """Person id → key hashes of ``mapping``'s records that stand for that person and are
        still live: not purged, not marked deleted by the source (OneRoster ``tobedeleted``),
        and seen in the source at ``since`` or later (the time of the mapping's last full
        export; None: every record counts as still in the source).
        One statement per chunk of persons, on ``ix_synced_person_id``."""
        dialect = self._db.dialect
        sql = _HOLDERS.format(
            hint=_SQLITE_HINT if dialect == "sqlite" else "", since=_SINCE if since else ""
        )
        params: list[object] = [mapping, ENDED_BY_SOURCE]
        if since is not None:
            # The time as `seen.last_seen` holds it: fixed-width UTC text on SQLite.
            params.append(since if dialect == "postgresql" else sqlite_datetime(since))
        out: dict[int, list[str]] = {}
        with guard("read person holders"), self._db.reading() as conn:
            for pid, key_hash in rows_in(conn, dialect, sql, person_ids, *params):
                out.setdefault(pid, []).append(key_hash)
        return {pid: tuple(sorted(set(keys))) for pid, keys in out.items()}

    def add_persons(self, people: Sequence[NewPerson], *, at: datetime) -> list[int]:
        """Create persons; return their ids in the order given.

        A student hash that already belongs to a person raises StateError (look up first).
        """
        if not people:
            return []
        params = [
            {
                "student_hash": n.student_hash,
                "email_hash": n.email_hash,
                "sf_id": n.sf_id,
                "created_at": at,
                "updated_at": at,
            }
            for n in people
        ]
        stmt = sa.insert(s.persons).returning(s.persons.c.person_id, sort_by_parameter_order=True)
        with guard("add persons"), self._db.writing() as conn:
            if self._db.dialect != "sqlite":
                return list(conn.execute(stmt, params).scalars())
            # One executemany; ids follow from the rowid under the write lock (see
            # outbox._sqlite_insert_outbox for why they are consecutive).
            top = conn.exec_driver_sql("SELECT COALESCE(MAX(person_id), 0) FROM persons")
            first = top.scalar_one() + 1
            when = s.sqlite_datetime(at)
            conn.exec_driver_sql(
                "INSERT INTO persons (student_hash, email_hash, sf_id, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?)",
                [(n.student_hash, n.email_hash, n.sf_id, when, when) for n in people],
            )
            return list(range(first, first + len(people)))

    def update_persons(self, updates: Sequence[PersonUpdate], *, at: datetime) -> None:
        """Change persons in one statement: ``None`` attributes stay as they are.

        Adding a student hash to a prospect is the prospect → student join; setting sf_id
        records the Contact Salesforce created for the person.
        """
        if not updates:
            return
        p = s.persons
        stmt = (
            sa.update(p)
            .where(p.c.person_id == sa.bindparam("b_id"))
            .values(
                student_hash=sa.func.coalesce(
                    sa.bindparam("b_student", type_=s.HASH), p.c.student_hash
                ),
                email_hash=sa.func.coalesce(sa.bindparam("b_email", type_=s.HASH), p.c.email_hash),
                sf_id=sa.func.coalesce(sa.bindparam("b_sf", type_=s.SF_ID), p.c.sf_id),
                updated_at=sa.bindparam("b_at", type_=s.UtcDateTime),
            )
        )
        params = [
            {
                "b_id": u.person_id,
                "b_student": u.student_hash,
                "b_email": u.email_hash,
                "b_sf": u.sf_id,
                "b_at": at,
            }
            for u in updates
        ]
        with guard("update persons"), self._db.writing() as conn:
            conn.execute(stmt, params)

    def link_person(
        self,
        person_id: int,
        *,
        at: datetime,
        student_hash: str | None = None,
        email_hash: str | None = None,
        sf_id: str | None = None,
    ) -> None:
        """Update one person (see :meth:`update_persons`)."""
        self.update_persons([PersonUpdate(person_id, student_hash, email_hash, sf_id)], at=at)

    def has_suppressions(self) -> bool:
        """True when any erasure tombstone exists (most installations have none for a while)."""
        with guard("check suppressions"), self._db.reading() as conn:
            return conn.execute(sa.select(s.suppressions.c.hash).limit(1)).first() is not None

    def suppressed(self, hashes: Sequence[str]) -> set[str]:
        """The hashes of a batch that carry an erasure tombstone."""
        with guard("check suppressions"), self._db.reading() as conn:
            return {h for (h,) in rows_in(conn, self._db.dialect, _SUPPRESSED, hashes)}

    def forget_shared_sources(self, email_hashes: Sequence[str]) -> None:
        """Forget the remembered source rows of every person who shares one of
        ``email_hashes`` with another person.

        A shared address makes a registrant's match ambiguous (the review list): the next run
        must map those rows again to notice, instead of recognising them as unchanged.
        """
        pe = s.persons
        with guard("forget shared sources"), self._db.writing() as conn:
            for chunk in padded_chunks([h for h in email_hashes if h]):
                shared = (
                    sa.select(pe.c.email_hash)
                    .where(pe.c.email_hash.in_(chunk))
                    .group_by(pe.c.email_hash)
                    .having(sa.func.count() > 1)
                )
                people = sa.select(pe.c.person_id).where(pe.c.email_hash.in_(shared))
                conn.execute(_forget_rows_of(people))

    def add_suppression(self, hash: str, kind: str, reason: str, at: datetime) -> None:
        """Add a tombstone (``kind``: key, student or email); adding it twice is harmless.

        The remembered source rows of the records it covers (by key, or through their person)
        are forgotten in the same transaction: the next run must map those rows, so the
        planner sees the tombstone, instead of recognising them as unchanged.
        """
        ins = self._insert(s.suppressions).values(
            hash=hash, kind=kind, reason=reason[:255], created_at=at
        )
        pe = s.persons
        people = sa.select(pe.c.person_id).where(
            sa.or_(pe.c.student_hash == hash, pe.c.email_hash == hash)
        )
        forget_rows = _forget_rows_of(people, key_hash=hash)
        with guard("add suppression"), self._db.writing() as conn:
            conn.execute(ins.on_conflict_do_nothing(index_elements=[s.suppressions.c.hash]))
            conn.execute(forget_rows)
