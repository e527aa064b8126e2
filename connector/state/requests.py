"""Data-subject requests (GDPR art. 12(3)): erase, export and object, as rows of ``requests``.

A request keeps who it is about only as keyed hashes (``subject``: JSON list of ``[kind,
hash]``), its reference (``DSR-2026-0007``: year received and the request's number in that
year), its dates, status (open | done | failed), attempts, the last error as a code, and the
path of its receipt. The job-level rules (due date, retries, receipts) are in
:mod:`connector.gdpr.requests`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from connector.state import tables as s
from connector.state.db import Database, guard
from connector.state.rows import RequestRow  # defined there: status reads it without SQLAlchemy

OPEN, DONE, FAILED = "open", "done", "failed"
KINDS = frozenset({"erase", "export", "object"})


def _row(r: Any) -> RequestRow:
    subject = tuple((str(k), str(h)) for k, h in json.loads(r.subject or "[]"))
    purposes = tuple(p for p in (r.purposes or "").split(",") if p)
    return RequestRow(
        r.id, r.reference, r.kind, subject, purposes, r.received_at, r.due_on, r.status,
        r.attempts, r.last_error, r.done_at, r.receipt,
    )  # fmt: skip


def _number(reference: str, stem: str) -> int:
    """The number of ``DSR-2026-0007`` (7); 0 for a reference of another shape."""
    tail = reference.removeprefix(stem)
    return int(tail) if tail.isdigit() else 0


class RequestsMixin:
    """Request rows of :class:`~connector.state.store.StateStore`."""

    _db: Database

    def add_request(
        self,
        kind: str,
        subject: Sequence[tuple[str, str]],
        *,
        received_at: datetime,
        due_on: date,
        purposes: Sequence[str] = (),
        prefix: str = "DSR",
        issued: int = 0,
    ) -> RequestRow:
        """Create an open request; its reference numbers the requests of its year from 1.

        The number follows the highest of its year in state and ``issued`` (the highest one
        known elsewhere, e.g. from the receipts files): after a lost state the numbering goes
        on instead of handing out a reference that was already quoted to someone.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown request kind {kind!r}")
        t = s.requests
        stem = f"{prefix}-{received_at.year}-"
        for _ in range(5):  # another process numbered the same reference: take the next
            try:
                with guard("add a request"), self._db.writing() as conn:
                    taken = conn.execute(
                        sa.select(t.c.reference).where(t.c.reference.like(f"{stem}%"))
                    ).scalars()
                    highest = max([issued, *(_number(r, stem) for r in taken)])
                    inserted = conn.execute(
                        sa.insert(t).values(
                            reference=f"{stem}{highest + 1:04d}",
                            kind=kind,
                            subject=json.dumps([list(p) for p in subject]),
                            purposes=",".join(purposes),
                            received_at=received_at,
                            due_on=due_on,
                            status=OPEN,
                            attempts=0,
                            last_error="",
                        )
                    ).inserted_primary_key
                assert inserted is not None
                return self.get_request(int(inserted[0]))
            except IntegrityError:
                continue
        raise ValueError("could not number a new request")  # pragma: no cover

    def get_request(self, request_id: int) -> RequestRow:
        """The request with this id (KeyError when there is none)."""
        t = s.requests
        with guard("read a request"), self._db.reading() as conn:
            r = conn.execute(sa.select(t).where(t.c.id == request_id)).first()
        if r is None:
            raise KeyError(request_id)
        return _row(r)

    def list_requests(
        self, *, status: str | None = None, kind: str | None = None
    ) -> list[RequestRow]:
        """Requests, oldest first; only ``status`` / ``kind`` when given."""
        t = s.requests
        q = sa.select(t).order_by(t.c.id)
        if status is not None:
            q = q.where(t.c.status == status)
        if kind is not None:
            q = q.where(t.c.kind == kind)
        with guard("list requests"), self._db.reading() as conn:
            return [_row(r) for r in conn.execute(q)]

    def update_request(
        self,
        request_id: int,
        *,
        status: str,
        attempted: bool = True,
        last_error: str = "",
        done_at: datetime | None = None,
        receipt: str | None = None,
        subject: Sequence[tuple[str, str]] | None = None,
    ) -> RequestRow:
        """Record an attempt (``attempts + 1`` unless ``attempted`` is False) and its outcome."""
        t = s.requests
        values: dict[str, Any] = {"status": status, "last_error": last_error[:255]}
        if attempted:
            values["attempts"] = t.c.attempts + 1
        if done_at is not None:
            values["done_at"] = done_at
        if receipt is not None:
            values["receipt"] = receipt
        if subject is not None:
            values["subject"] = json.dumps([list(p) for p in subject])
        with guard("update a request"), self._db.writing() as conn:
            conn.execute(sa.update(t).where(t.c.id == request_id).values(**values))
        return self.get_request(request_id)
