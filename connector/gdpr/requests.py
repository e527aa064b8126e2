"""Data-subject requests as records (GDPR art. 12(3)): erase, export and object with ``--apply``.

Every request gets a reference (``DSR-2026-0007``), a received date and a due date one calendar
month later (art. 12(3): "without undue delay and in any event within one month of receipt";
31 January is due on the last day of February), and a status:

- ``open``: received, not finished (an erasure Salesforce could not be reached for is retried by
  the next ``run`` and each ``serve`` tick; every attempt adds one to ``attempts`` and keeps the
  cause as an error code in ``last_error``);
- ``done``: finished, with a receipt (:mod:`connector.gdpr.receipts`);
- ``failed``: cannot be carried out as asked (e.g. nobody holds the identifier given, or it
  became ambiguous); ``last_error`` says why as a code.

For other commands (export, object), the whole API is::

    req = open_request(store, "export", subject.hashes, now=now)       # or purposes=[...]
    ...                                                                 # the job itself
    finish(store, req, receipt=Receipt(action="exported", records={...}), now=now,
           folder=receipts_dir(settings))                              # done + receipt files
    fail(store, req, error="UNREACHABLE")                              # or: failed, with a code
    note_attempt(store, req, error="UNREACHABLE")                      # or: stays open

or :func:`record_done` for a request that is finished the moment it is received.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from connector.clock import school_date
from connector.gdpr.receipts import Receipt, write_receipt
from connector.privacy.purposes import Duration
from connector.state import StateStore
from connector.state.requests import DONE, FAILED, OPEN, RequestRow

Request = RequestRow
ONE_MONTH = Duration(months=1, text="P1M")

__all__ = [
    "DONE",
    "FAILED",
    "OPEN",
    "Receipt",
    "Request",
    "days_left",
    "due_on",
    "fail",
    "finish",
    "highest_receipt",
    "note_attempt",
    "open_erasures",
    "open_request",
    "receipts_dir",
    "record_done",
    "when_due",
]


def due_on(received_at: datetime) -> date:
    """The last day to answer: the school day of receipt plus one calendar month (art. 12(3))."""
    return ONE_MONTH.after(school_date(received_at))


def receipts_dir(settings: Any) -> Path:
    """The ``receipts/`` folder beside the state: in ``state.dir`` (``SIS_SYNC_STATE__DIR``)
    when set, else ``state/receipts`` for the default SQLite (``Settings.state_dir``)."""
    return Path(settings.state_dir()) / "receipts"


def open_request(
    store: StateStore,
    kind: str,
    hashes: Iterable[tuple[str, str]],
    *,
    now: datetime,
    purposes: Sequence[str] = (),
    folder: Path | None = None,
) -> Request:
    """Record a received request (status open) and return it with its reference.

    With ``folder`` (:func:`receipts_dir`) the number also follows the highest reference of
    the year among the receipts there: after a lost state a reference already quoted to a
    person is not handed out again (:func:`highest_receipt`).

    Args:
        store: The state store.
        kind: ``erase``, ``export`` or ``object``.
        hashes: (keyed hash, kind) pairs that name the subject, as ``Subject.hashes`` gives
            them (kinds ``student``, ``email``; an erasure may add ``probe`` hashes: generated
            external ids to look the person up in Salesforce on a retry).
        now: The moment of receipt (``settings.clock()``).
        purposes: The purposes an objection names.
        folder: The receipts folder, to number past the references issued there.
    """
    subject = [(k, h) for h, k in hashes]
    issued = highest_receipt(folder, now.year) if folder is not None else 0
    return store.add_request(
        kind, subject, received_at=now, due_on=due_on(now), purposes=list(purposes),
        issued=issued,
    )  # fmt: skip


def highest_receipt(folder: Path, year: int) -> int:
    """The highest number of ``year`` among the receipts in ``folder`` (``DSR-2026-0007.json``
    → 7); 0 when there are none (or no folder)."""
    if not folder.is_dir():
        return 0
    stem = f"DSR-{year}-"
    numbers = [
        int(p.stem.removeprefix(stem))
        for p in folder.glob(f"{stem}*")
        if p.stem.removeprefix(stem).isdigit()
    ]
    return max(numbers, default=0)


def subject_hashes(request: Request, *kinds: str) -> list[tuple[str, str]]:
    """(hash, kind) of the request's subject, only of ``kinds`` when given."""
    return [(h, k) for k, h in request.subject if not kinds or k in kinds]


def finish(
    store: StateStore,
    request: Request,
    *,
    receipt: Receipt,
    now: datetime,
    folder: Path,
) -> Request:
    """Mark ``request`` done (one more attempt); write its receipt (JSON + text) to ``folder``."""
    path = write_receipt(folder, request, receipt, completed_at=now)
    return store.update_request(request.id, status=DONE, done_at=now, receipt=str(path))


def fail(store: StateStore, request: Request, *, error: str, now: datetime) -> Request:
    """Mark ``request`` failed with ``error`` (a code such as ``NOT_FOUND``, never a value)."""
    return store.update_request(request.id, status=FAILED, last_error=error, done_at=now)


def note_attempt(store: StateStore, request: Request, *, error: str) -> Request:
    """An attempt that did not finish: the request stays open, attempts + 1, ``error`` kept."""
    return store.update_request(request.id, status=OPEN, last_error=error)


def record_done(
    store: StateStore,
    kind: str,
    hashes: Iterable[tuple[str, str]],
    *,
    receipt: Receipt,
    now: datetime,
    folder: Path,
    purposes: Sequence[str] = (),
) -> Request:
    """Open and finish a request in one go (a job that completes the moment it is received)."""
    request = open_request(store, kind, hashes, now=now, purposes=purposes, folder=folder)
    return finish(store, request, receipt=receipt, now=now, folder=folder)


def open_erasures(store: StateStore) -> list[Request]:
    """Erasure requests still open, oldest first (what ``run`` and ``serve`` retry)."""
    return store.list_requests(status=OPEN, kind="erase")


def find_open(store: StateStore, kind: str, hashes: Iterable[tuple[str, str]]) -> Request | None:
    """The open request of ``kind`` about exactly these identity hashes, if one exists: asking
    again while a request is open continues it instead of opening a second one."""
    wanted = {(k, h) for h, k in hashes}
    for request in store.list_requests(status=OPEN, kind=kind):
        if {(k, h) for k, h in request.subject if k in ("student", "email")} == wanted:
            return request
    return None


def days_left(request: Request, today: date) -> int:
    """Days until the due date (0 on the day itself, negative when overdue)."""
    return (request.due_on - today).days


def when_due(request: Request, today: date) -> str:
    """The deadline in words: ``12 days left``, ``due today``, ``overdue by 3 days``."""
    n = days_left(request, today)
    if n == 0:
        return "due today"
    plural = "" if abs(n) == 1 else "s"
    return f"{n} day{plural} left" if n > 0 else f"overdue by {-n} day{plural}"
