"""Objections (GDPR art. 21): keyed hashes of who objected, and to which purposes.

Like an erasure tombstone an objection names a person by a keyed hash (student number or
e-mail, ``kind``), but the person stays: only the objected purposes are never active for them
again. Kinds: ``student`` and ``email`` hold for every row carrying the hash; ``own_email`` (the
address of a person who objected by student number) holds only for rows that carry no student
number (registrations, prospects), so that a sibling who shares the address is never reached.
The engine reads the objections of a batch's persons in one set query per scope
(:meth:`ObjectionsMixin.objected`); ``sis-sync object --apply`` adds them
(:meth:`ObjectionsMixin.add_objection`). No personal value is stored.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from connector.state import tables as s
from connector.state.db import Database, guard, padded_chunks, rows_in

_in: sa.BindParameter[Any] = sa.bindparam("hashes", expanding=True)

#: Kinds that hold for every row carrying the hash.
EVERY_ROW = ("student", "email")
#: The objector's own address, recorded with their student number: it holds only for rows
#: without a student number (another student number is another person, whatever the address).
OWN_EMAIL = "own_email"


@dataclass(frozen=True, slots=True)
class ObjectionRow:
    """One recorded objection: the hash, its kind, the purposes and when."""

    hash: str
    kind: str
    purposes: frozenset[str]
    created_at: datetime
    request_id: int | None


def _purposes(text: str) -> frozenset[str]:
    return frozenset(p for p in text.split(",") if p)


class ObjectionsMixin:
    """Objection queries of :class:`~connector.state.store.StateStore`."""

    _db: Database

    def has_objections(self) -> bool:
        """True when any objection exists (the engine then skips the batch query otherwise)."""
        with guard("check objections"), self._db.reading() as conn:
            return conn.execute(sa.select(s.objections.c.id).limit(1)).first() is not None

    def objected(
        self, hashes: Sequence[str], *, kinds: Collection[str] | None = None
    ) -> dict[str, frozenset[str]]:
        """Hash → the purposes objected to under it, for the hashes of a batch that have any;
        only objections of ``kinds`` when given."""
        sql, wanted = "SELECT hash, purposes FROM objections WHERE ", sorted(kinds or ())
        if kinds is not None:
            sql += "kind IN (" + ",".join("?" * len(wanted)) + ") AND "
        sql += "hash {in}"
        out: dict[str, frozenset[str]] = {}
        with guard("read objections"), self._db.reading() as conn:
            found = rows_in(conn, self._db.dialect, sql, sorted(set(hashes)), *wanted)
            for h, purposes in found:
                out[h] = out.get(h, frozenset()) | _purposes(purposes)
        return out

    def objections_of(self, hashes: Sequence[str]) -> list[ObjectionRow]:
        """Every objection recorded under one of ``hashes``, oldest first."""
        t = s.objections
        q = sa.select(t).where(t.c.hash.in_(_in)).order_by(t.c.id)
        rows: list[ObjectionRow] = []
        with guard("read objections"), self._db.reading() as conn:
            for chunk in padded_chunks(sorted(set(hashes))):
                for r in conn.execute(q, {"hashes": chunk}).all():
                    rows.append(
                        ObjectionRow(
                            r.hash, r.kind, _purposes(r.purposes), r.created_at, r.request_id
                        )
                    )
        return rows

    def add_objection(
        self,
        hashes: Sequence[tuple[str, str]],
        purposes: Sequence[str],
        *,
        at: datetime,
        request_id: int | None = None,
    ) -> None:
        """Record an objection under each ``(hash, kind)`` (kind: student | email | own_email).

        In the same transaction the remembered source rows of the records the hashes cover
        (through their person, or a record keyed by the hash; an ``own_email`` hash reaches
        its person through the student hash beside it, never a sibling's) are forgotten: the
        next run must map those rows again so the policy sees the objection, instead of
        recognising them as unchanged (``connector/sync/fingerprint.py``).
        """
        if not hashes:
            return
        text = ",".join(sorted(set(purposes)))
        pe, sy, r = s.persons, s.synced, s.source_rows
        values = [
            {"hash": h, "kind": kind, "purposes": text, "created_at": at, "request_id": request_id}
            for h, kind in hashes
        ]
        only = [h for h, _ in hashes]
        students = [h for h, kind in hashes if kind == "student"]
        emails = [h for h, kind in hashes if kind == "email"]
        people = sa.select(pe.c.person_id).where(
            sa.or_(pe.c.student_hash.in_(students), pe.c.email_hash.in_(emails))
        )
        records = sa.select(sy.c.mapping, sy.c.key_hash).where(sy.c.person_id.in_(people))
        forget = sa.delete(r).where(
            sa.or_(r.c.key_hash.in_(only), sa.tuple_(r.c.mapping, r.c.key_hash).in_(records))
        )
        with guard("add objection"), self._db.writing() as conn:
            conn.execute(sa.insert(s.objections), values)
            conn.execute(forget)
