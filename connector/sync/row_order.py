"""``newest_by``: a record's rows read oldest first by a column, so the newest row wins.

Several rows of one record: the last row read wins (``map_stage.py``). For an export whose
order means nothing — an event tool that lists registrations by name one day and by date the
next — the place of a row must not decide which of a person's registrations is theirs: found by
an outsider, a reordered registrations export flipped 619 prospects' e-mail consent to an
opt-out that no later run could undo (the CRM owns opt-outs). A mapping that names
``newest_by`` has its rows read in the order of that column's value (ties: file order), so the
row with the newest value is the last one and wins, wherever it stands in the file.

The rows go to a private temporary SQLite file (``scratch_db.py``), pickled with their sort
key, and are read back ordered: memory stays at one batch whatever the size of the export.
Nothing personal is kept beyond the run: the file is unnamed and removed when read.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from connector.clock import SCHOOL_TZ
from connector.mapping.models import NewestBy
from connector.records import Reject, SourceRecord
from connector.sync.scratch_db import scratch_db

OLDEST = ""  # the sort key of a row without a readable moment: before any other


def moment_key(value: object, fmt: str | None) -> str:
    """The sort key of a cell: its moment as sortable text (UTC for a value with an offset),
    or :data:`OLDEST` when the cell is empty or not a date or date-time (in ``fmt``, else
    ISO 8601)."""
    if value is None:
        return OLDEST
    text = str(value).strip()
    if not text:
        return OLDEST
    try:
        # A moment without an offset is the school's time (Europe/Amsterdam), as the
        # transforms read it: compared in UTC with the column's moments that carry one.
        moment = datetime.strptime(text, fmt) if fmt else datetime.fromisoformat(text)  # noqa: DTZ007
    except ValueError:
        return OLDEST
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SCHOOL_TZ)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def newest_last(
    rows: Iterable[SourceRecord | Reject], newest_by: NewestBy
) -> Iterator[SourceRecord | Reject]:
    """``rows`` ordered by ``newest_by.column`` (oldest first; equal or unreadable moments
    keep their file order); rejects come first, as they were read."""
    db = scratch_db(cache_kib=4096)
    try:
        db.execute("CREATE TABLE row (k TEXT NOT NULL, n INTEGER NOT NULL, r BLOB NOT NULL)")
        column, fmt = newest_by.column, newest_by.format
        pending: list[tuple[str, int, bytes]] = []
        for n, rec in enumerate(rows):
            if isinstance(rec, Reject):
                yield rec
                continue
            key = moment_key(rec.fields.get(column), fmt)
            pending.append((key, n, pickle.dumps(rec, pickle.HIGHEST_PROTOCOL)))
            if len(pending) >= 2_000:
                db.executemany("INSERT INTO row VALUES (?, ?, ?)", pending)
                pending.clear()
        db.executemany("INSERT INTO row VALUES (?, ?, ?)", pending)
        for (blob,) in db.execute("SELECT r FROM row ORDER BY k, n"):
            yield pickle.loads(blob)  # noqa: S301 - our own temporary file
    finally:
        db.close()
