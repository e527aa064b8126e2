"""Runs, rejects and the purge/erasure audit: what happened, for reports and the privacy officer.

Rejects carry file, line, column and a reason, never the rejected value; the audit carries
Salesforce ids, objects, reasons and purposes, never a personal value.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from connector.records import Reject
from connector.state import tables as s
from connector.state.db import Database, guard
from connector.state.rows import AuditEntry, RejectRow, RejectSummary, RunRow, RunStatus

# meta: the mappings whose rebuild of a lost state is under way (sync/recovery.py), one note a
# mapping, keyed "recovery:rebuilding:MAPPING"; the bare key is the note of the first version,
# which did not say whose rebuild it was (read as every mapping's).
REBUILDING = "recovery:rebuilding"


def rebuilding_key(mapping: str) -> str:
    """The ``meta`` key of the note that ``mapping``'s rebuild is under way."""
    return f"{REBUILDING}:{mapping}"


def rebuilds_noted(conn: sa.Connection) -> dict[str | None, str]:
    """The rebuilds under way noted in ``meta``: mapping (None: every mapping, an earlier
    version's note) → when it began (ISO text)."""
    m = s.meta
    q = sa.select(m.c.key, m.c.value).where(
        sa.or_(m.c.key == REBUILDING, m.c.key.startswith(REBUILDING + ":"))
    )
    return {
        (None if key == REBUILDING else key[len(REBUILDING) + 1 :]): value
        for key, value in conn.execute(q)
    }


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


class HistoryMixin:
    """Run, reject and audit queries of :class:`~connector.state.store.StateStore`."""

    _db: Database

    def rebuilds_under_way(self) -> dict[str | None, str]:
        """The mappings whose rebuild a run started on a lost state has not gone through
        (``sync/recovery.py``: the next run resumes them): mapping (None: every mapping, an
        earlier version's note) → when it began."""
        with guard("read recovery"), self._db.reading() as conn:
            return rebuilds_noted(conn)

    def mark_rebuilding(self, mappings: Collection[str], since: datetime) -> None:
        """Note that the rebuild of ``mappings`` began at ``since`` (a note already there
        keeps its time)."""
        m = s.meta
        with guard("note recovery"), self._db.writing() as conn:
            held = rebuilds_noted(conn)
            new = [
                {"key": rebuilding_key(n), "value": since.isoformat()}
                for n in sorted(set(mappings))
                if n not in held
            ]
            if new:
                conn.execute(sa.insert(m), new)

    def mark_rebuilt(self, mappings: Collection[str], every: Collection[str]) -> None:
        """Note that the rebuild of ``mappings`` went through: their notes go. An earlier
        version's note (every mapping's) becomes a note of each of ``every`` (the project's
        mappings) but those."""
        m = s.meta
        done = set(mappings)
        with guard("note recovery"), self._db.writing() as conn:
            held = rebuilds_noted(conn)
            legacy = held.pop(None, None)
            if legacy is not None:
                conn.execute(sa.delete(m).where(m.c.key == REBUILDING))
                rest = [
                    {"key": rebuilding_key(n), "value": legacy}
                    for n in sorted(set(every) - done - set(held))
                ]
                if rest:
                    conn.execute(sa.insert(m), rest)
            gone = [rebuilding_key(n) for n in done if n in held]
            if gone:
                conn.execute(sa.delete(m).where(m.c.key.in_(gone)))

    def start_run(self, job: str, started_at: datetime) -> int:
        """Record the start of a run of ``job``; return its run id."""
        stmt = sa.insert(s.runs).returning(s.runs.c.run_id)
        values = {"job": job, "started_at": started_at, "status": RunStatus.RUNNING.value}
        with guard("start run"), self._db.writing() as conn:
            return conn.execute(stmt, values).scalar_one()

    def finish_run(
        self,
        run_id: int,
        *,
        status: RunStatus | str,
        counts: dict[str, Any],
        api_calls: int,
        report_path: str | None,
        finished_at: datetime,
    ) -> None:
        """Record how run ``run_id`` ended."""
        values = {
            "status": RunStatus(status).value,
            "counts": _compact(counts),
            "api_calls": api_calls,
            "report_path": report_path,
            "finished_at": finished_at,
        }
        with guard("finish run"), self._db.writing() as conn:
            conn.execute(sa.update(s.runs).where(s.runs.c.run_id == run_id).values(**values))

    def abort_stale_runs(self, job: str, *, at: datetime) -> int:
        """Mark runs of ``job`` still "running" as aborted; returns how many.

        Call it while holding the job's run lock: whoever started those runs is gone (the lock
        dies with its process), so they were killed part-way.
        """
        t = s.runs
        stmt = (
            sa.update(t)
            .where(t.c.job == job, t.c.status == RunStatus.RUNNING.value)
            .values(status=RunStatus.ABORTED.value, finished_at=at)
        )
        with guard("abort stale runs"), self._db.writing() as conn:
            return conn.execute(stmt).rowcount

    def recent_runs(self, limit: int = 10, *, job: str | None = None) -> list[RunRow]:
        """The latest runs, newest first (of one job when ``job`` is given)."""
        q = sa.select(s.runs).order_by(s.runs.c.run_id.desc()).limit(limit)
        if job is not None:
            q = q.where(s.runs.c.job == job)
        with guard("read runs"), self._db.reading() as conn:
            return [
                RunRow(
                    r.run_id,
                    r.job,
                    r.started_at,
                    r.finished_at,
                    RunStatus(r.status),
                    json.loads(r.counts),
                    r.api_calls,
                    r.report_path,
                )
                for r in conn.execute(q)
            ]

    def add_rejects(self, run_id: int, rejects: Sequence[Reject]) -> None:
        """Store rejected rows of a run (file, line, column, reason; never the value)."""
        if not rejects:
            return
        params = [
            {
                "run_id": run_id,
                "mapping": r.mapping[:100],
                "file": r.origin.file[:1000],
                "line": r.origin.line,
                "column": r.column[:200],
                "reason": r.reason[:255],
            }
            for r in rejects
        ]
        with guard("add rejects"), self._db.writing() as conn:
            conn.execute(sa.insert(s.rejects), params)

    def reject_summary(self, run_id: int | None = None) -> list[RejectSummary]:
        """Rejects counted per (mapping, column, reason), most frequent first; all runs if None."""
        t = s.rejects
        n = sa.func.count().label("n")
        q = (
            sa.select(t.c.mapping, t.c.column, t.c.reason, n)
            .group_by(t.c.mapping, t.c.column, t.c.reason)
            .order_by(n.desc(), t.c.mapping, t.c.column, t.c.reason)
        )
        if run_id is not None:
            q = q.where(t.c.run_id == run_id)
        with guard("summarise rejects"), self._db.reading() as conn:
            return [RejectSummary(r.mapping, r.column, r.reason, r.n) for r in conn.execute(q)]

    def last_run_with_rejects(self) -> int | None:
        """The newest run that stored a reject or a Salesforce refusal (``sis-sync rejects``
        without ``--run``); None when no run has any. Indexed: the max of ``rejects.run_id``."""
        q = sa.select(sa.func.max(s.rejects.c.run_id))
        with guard("read rejects"), self._db.reading() as conn:
            return conn.execute(q).scalar()

    def list_rejects(self, run_id: int, *, limit: int = 1000, offset: int = 0) -> list[RejectRow]:
        """The rejects of one run in the order they were stored (for the run report)."""
        t = s.rejects
        q = sa.select(t).where(t.c.run_id == run_id).order_by(t.c.id).limit(limit).offset(offset)
        with guard("read rejects"), self._db.reading() as conn:
            return [
                RejectRow(r.run_id, r.mapping, r.file, r.line, r.column, r.reason)
                for r in conn.execute(q)
            ]

    def add_audit(self, entries: Sequence[AuditEntry]) -> None:
        """Append purge/erasure lines to the audit trail."""
        if not entries:
            return
        params = [
            {
                "run_id": e.run_id,
                "action": e.action,
                "object": e.object,
                "sf_id": e.sf_id,
                "reason": e.reason[:255],
                "purpose": e.purpose,
                "at": e.at,
            }
            for e in entries
        ]
        with guard("add audit"), self._db.writing() as conn:
            conn.execute(sa.insert(s.audit), params)

    def audit_log(
        self, *, since: datetime | None = None, after_id: int = 0, limit: int = 1000
    ) -> list[tuple[int, AuditEntry]]:
        """Audit lines in order as (id, entry), one page (pass the last id as ``after_id``)."""
        t = s.audit
        q = sa.select(t).where(t.c.id > after_id).order_by(t.c.id).limit(limit)
        if since is not None:
            q = q.where(t.c.at >= since)
        with guard("read audit"), self._db.reading() as conn:
            return [
                (r.id, AuditEntry(r.action, r.object, r.sf_id, r.reason, r.at, r.purpose, r.run_id))
                for r in conn.execute(q)
            ]

    def prune_history(self, before: datetime) -> int:
        """Drop finished runs that ended before ``before`` with their rejects and settled outbox
        rows (OK, SUPERSEDED); the audit trail is kept. Returns the number of runs removed."""
        r, o, j = s.runs, s.outbox, s.rejects
        old = sa.select(r.c.run_id).where(r.c.finished_at < before)
        settled = ("OK", "SUPERSEDED")
        with guard("prune history"), self._db.writing() as conn:
            conn.execute(sa.delete(j).where(j.c.run_id.in_(old)))
            conn.execute(sa.delete(o).where(o.c.status.in_(settled), o.c.updated_at < before))
            return conn.execute(sa.delete(r).where(r.c.finished_at < before)).rowcount
