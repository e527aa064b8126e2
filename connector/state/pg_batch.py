"""A batch's state writes on PostgreSQL as one statement each, over arrays (``unnest``).

SQLite takes its hot writes as raw ``executemany`` (``store.py``, ``sources.py``,
``outbox.py``); PostgreSQL took them through SQLAlchemy's Core statements, which bind every row
through the dialect (``construct_params``, the ``UtcDateTime`` processor) and send them as
long multi-row ``VALUES`` statements whose text psycopg parses anew each time (it caches only
short queries). A 100,000-row first load spent about 60 % more of sis-sync's CPU on PostgreSQL
than on SQLite, most of it there (docs/benchmarks.md, "PostgreSQL state: one statement a batch").

Here every column of a batch is one parameter and the statement reads the columns back as rows
with ``unnest`` (https://www.postgresql.org/docs/current/functions-array.html): one statement
text for any batch size, one round trip. A column goes as *one text*, its values joined by a
unit separator and split on the server by ``string_to_array(text, sep, null_string)``:
psycopg dumps a Python list as an array in Python, value by value with an escaping regular
expression, which cost more than the SQLAlchemy path it replaced; a join is one C call. The
values are hashes, Salesforce ids and API names, ISO dates and JSON text (which escapes control
characters), so a separator in a value does not occur; if one ever did, that column goes as a
plain array instead (``Column``), never split wrongly.

A statement's rows must be distinct on the conflict target — ``ON CONFLICT DO UPDATE`` refuses
to touch a row twice — so the callers pass one row per key, as they already did. Semantics are
those of the SQLite statements beside them, column for column.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

SEP = "\x1f"  # unit separator: between a column's values
NULL = "\x1e"  # record separator: a NULL value

_RECORD = (
    "INSERT INTO synced AS t (mapping, key_hash, object, sf_id, person_id, field_hashes,"
    " first_seen, last_synced, lifecycle, lifecycle_end_at, event_date, deleted_at,"
    " consent_withdrawn_at)"
    " SELECT u.m, u.k, u.o, u.i, u.p, u.f, %s, %s, u.l, u.e, u.d, NULL, u.w::json"
    " FROM unnest({}, {}, {}, {}, {}, {}, {}, {}, {}, {}) AS u(m, k, o, i, p, f, l, e, d, w)"
    " ON CONFLICT (mapping, key_hash) DO UPDATE SET object = excluded.object,"
    " sf_id = excluded.sf_id, person_id = COALESCE(excluded.person_id, t.person_id),"
    " field_hashes = excluded.field_hashes, last_synced = excluded.last_synced,"
    " lifecycle = excluded.lifecycle, lifecycle_end_at = excluded.lifecycle_end_at,"
    " event_date = excluded.event_date, deleted_at = NULL,"
    " consent_withdrawn_at = excluded.consent_withdrawn_at"
)
# The types of _RECORD's columns m, k, o, i, p, f, l, e, d, w (the JSON w is cast after unnest).
_RECORD_TYPES = (
    "text",
    "text",
    "text",
    "text",
    "int",
    "text",
    "text",
    "timestamptz",
    "date",
    "text",
)
_SEEN = (
    "INSERT INTO seen (mapping, key_hash, last_seen) SELECT u.m, u.k, %s FROM unnest({}, {})"
    " AS u(m, k) ON CONFLICT (mapping, key_hash) DO UPDATE SET last_seen = excluded.last_seen"
)
_FORGET_OTHER = (
    "DELETE FROM source_rows r USING unnest({}, {}, {}) AS u(m, k, t)"
    " WHERE r.mapping = u.m AND r.key_hash = u.k AND r.token <> u.t"
)
_REMEMBER = (
    "INSERT INTO source_rows (mapping, source_hash, key_hash, token, recheck_on)"
    " SELECT u.m, u.h, u.k, u.t, u.d FROM unnest({}, {}, {}, {}, {}) AS u(m, h, k, t, d)"
    " ON CONFLICT (mapping, source_hash) DO UPDATE SET key_hash = excluded.key_hash,"
    " token = excluded.token, recheck_on = excluded.recheck_on"
)
# ORDER BY the parameter's position: the serial ids are drawn in that order, so the ids sorted
# are the rows' ids in the order given (SQLAlchemy's insertmanyvalues relies on the same for
# ``sort_by_parameter_order`` on PostgreSQL).
_OUTBOX = (
    "INSERT INTO outbox (run_id, mapping, key_hash, object, operation, status, error_code,"
    " error_message, attempts, created_at, updated_at)"
    " SELECT %s, u.m, u.k, u.o, u.op, %s, '', '', %s, %s, %s"
    " FROM unnest({}, {}, {}, {}) WITH ORDINALITY AS u(m, k, o, op, n) ORDER BY u.n RETURNING id"
)


def utc(value: datetime | None) -> datetime | None:
    """A timestamp for a ``timestamptz`` column: aware only, as ``tables.UtcDateTime`` demands
    (a naive one would be read in the server's time zone)."""
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError("the state store only accepts timezone-aware datetimes")
    return value


def _text(value: object) -> str:
    """A value as PostgreSQL reads it back through the column's cast."""
    if value is None:
        return NULL
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        # In UTC: an offset Python allows (sub-second) may not be one PostgreSQL reads.
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)  # int


def column(values: Sequence[object], pg_type: str = "text") -> tuple[str, Any]:
    """One column of a batch as (SQL expression, parameter): a text split on the server, or,
    when a value holds a separator (or the text would be empty), a plain array."""
    texts = [_text(v) for v in values]
    joined = SEP.join(texts)
    nulls = sum(v is None for v in values)
    if joined and joined.count(SEP) == len(texts) - 1 and joined.count(NULL) == nulls:
        return f"string_to_array(%s, E'\\x1f', E'\\x1e')::{pg_type}[]", joined
    return f"%s::{pg_type}[]", list(values)


def _run(
    conn: sa.Connection, template: str, head: tuple[Any, ...], cols: list[tuple[str, Any]]
) -> sa.CursorResult[Any]:
    """``template`` with its columns' expressions in place, executed with ``head`` first."""
    sql = template.format(*(expr for expr, _ in cols))
    return conn.exec_driver_sql(sql, (*head, *(param for _, param in cols)))


def _columns(rows: Sequence[tuple[Any, ...]], types: Sequence[str]) -> list[tuple[str, Any]]:
    """The columns of ``rows`` (one per type), each as :func:`column` gives it."""
    return [column(values, t) for values, t in zip(zip(*rows, strict=True), types, strict=True)]


def record_synced(
    conn: sa.Connection,
    rows: Sequence[
        tuple[
            str,
            str,
            str,
            str | None,
            int | None,
            str,
            str | None,
            datetime | None,
            date | None,
            str | None,
        ]
    ],
    at: datetime,
) -> None:
    """Upsert ``synced`` rows (mapping, key, object, sf id, person, field hashes JSON,
    lifecycle, its end, event day, withdrawals JSON): what ``_SQLITE_RECORD`` does."""  # fmt: skip
    if rows:
        _run(conn, _RECORD, (utc(at), utc(at)), _columns(rows, _RECORD_TYPES))


def seen(conn: sa.Connection, keys: Sequence[tuple[str, str]], at: datetime) -> None:
    """``seen.last_seen = at`` for (mapping, key) pairs, inserted where missing."""
    if keys:
        _run(conn, _SEEN, (utc(at),), _columns(keys, ("text", "text")))


def forget_other_rows(conn: sa.Connection, rows: Sequence[tuple[str, str, str]]) -> None:
    """Delete the remembered source rows of (mapping, key) whose token is not the one given."""
    if rows:
        _run(conn, _FORGET_OTHER, (), _columns(rows, ("text", "text", "text")))


def remember_rows(
    conn: sa.Connection, rows: Sequence[tuple[str, str, str, str, date | None]]
) -> None:
    """Upsert ``source_rows`` (mapping, source hash, key, token, recheck day)."""
    if rows:
        _run(conn, _REMEMBER, (), _columns(rows, ("text", "text", "text", "text", "date")))


def insert_outbox(
    conn: sa.Connection,
    run_id: int,
    rows: Sequence[tuple[str, str, str, str]],
    *,
    status: str,
    attempts: int,
    at: datetime,
) -> list[int]:
    """Insert outbox rows (mapping, key, object, operation); their ids in the order given."""
    if not rows:
        return []
    when = utc(at)
    head = (run_id, status, attempts, when, when)
    result = _run(conn, _OUTBOX, head, _columns(rows, ("text",) * 4))
    return sorted(r[0] for r in result)
