"""Open erasures are retried before each sync: ``sis-sync run`` and every ``serve`` tick.

An erasure whose Salesforce part could not be done (the org was down, a delete was refused)
stays an open request; its tombstones already keep the person out of every sync. Before a run
maps anything, :func:`retry_open_erasures` tries each open erasure again under the erasure
locks (so no sync reads the person meanwhile): done requests get their receipt, a still-failing
one stays open with ``attempts + 1`` and the cause as a code. A run that cannot reach
Salesforce at all counts as a failed attempt for each of them (:func:`note_unreachable`).

The subject is what the request kept: identity hashes and, for a person local state did not
know, the generated external ids (keyed hashes) to look them up with in Salesforce.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from connector.errors import LockedError, SalesforceUnreachable, UsageError
from connector.gdpr import requests as dsr
from connector.gdpr.erasure import Subject
from connector.gdpr.erasure_job import ErasureContext, ErasureOutcome, attempt, erasure_locks
from connector.gdpr.erasure_job import probes_of as _probes_of
from connector.hashing import KeyHasher
from connector.state import open_existing

log = logging.getLogger(__name__)


@dataclass(slots=True)
class RetrySummary:
    """What a retry pass did: references done, still open (with the code), failed."""

    done: list[str] = field(default_factory=list)
    still_open: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: str = ""  # why nothing was tried (e.g. the locks are held elsewhere)

    def lines(self) -> list[str]:
        """One line per request, for the run report's warnings (references and codes only)."""
        out = [f"erasure {ref} completed (retried before the run)" for ref in self.done]
        out += [f"erasure {ref} still open: {code}" for ref, code in self.still_open]
        out += [f"erasure {ref} failed: {code}" for ref, code in self.failed]
        return out


def _subject(request: dsr.Request) -> Subject:
    kinds = dict(request.subject)
    return Subject(kinds.get("student"), kinds.get("email"))


def retry_open_erasures(settings: Any, writer: Any, *, hasher: KeyHasher) -> RetrySummary:
    """Try every open erasure again with ``writer``; never raises for one request's failure.

    Stops at the first SalesforceUnreachable (the others would wait through the same retries);
    skips the pass when another process holds a run lock (the next run tries again).
    """
    summary = RetrySummary()
    store = open_existing(settings.state.url, create=True)
    try:
        pending = dsr.open_erasures(store)
        if not pending:
            return summary
        ctx = ErasureContext.load(settings, store, hasher=hasher)
        try:
            with erasure_locks(store, ctx.lock_names):
                for request in pending:
                    outcome = _one(ctx, writer, request, summary)
                    if outcome is None:
                        break
        except LockedError:
            summary.skipped = "another run holds a run lock"
            log.info("open erasures not retried now: another run holds a run lock")
    finally:
        store.close()
    return summary


def _one(
    ctx: ErasureContext, writer: Any, request: dsr.Request, summary: RetrySummary
) -> ErasureOutcome | None:
    """One retry; None when Salesforce is unreachable (stop the pass)."""
    try:
        outcome = attempt(ctx, writer, request, _subject(request), _probes_of(request))
    except SalesforceUnreachable as exc:
        summary.still_open.append((request.reference, exc.code or "UNREACHABLE"))
        return None
    except UsageError:
        # The e-mail hash now belongs to several persons: a person must decide which one.
        dsr.fail(ctx.store, request, error="AMBIGUOUS_EMAIL", now=ctx.now)
        summary.failed.append((request.reference, "AMBIGUOUS_EMAIL"))
        return ErasureOutcome("failed", _subject(request))
    req = outcome.request or request
    if req.status == dsr.DONE:
        summary.done.append(req.reference)
    elif req.status == dsr.FAILED:
        summary.failed.append((req.reference, req.last_error))
    else:
        summary.still_open.append((req.reference, req.last_error))
    log.info("erasure %s retried: %s", req.reference, req.status)
    return None if outcome.status == "open" else outcome


def note_unreachable(settings: Any, exc: SalesforceUnreachable) -> None:
    """A run that could not reach Salesforce: one more failed attempt for each open erasure."""
    store = open_existing(settings.state.url, create=True)
    try:
        for request in dsr.open_erasures(store):
            dsr.note_attempt(store, request, error=exc.code or "UNREACHABLE")
    finally:
        store.close()
