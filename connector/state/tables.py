"""The state store's tables, its schema version and the migrations between versions.

The schema is versioned in the ``meta`` table (``key = 'schema_version'``). :func:`migrate` brings
a database to :data:`SCHEMA_VERSION`:

- a database without the ``meta`` table is new: every table is created as it is now and stamped
  with the current version (no replay of old steps);
- an older database runs each step in :data:`STEPS` from its version + 1 up to the current one,
  in one transaction, so a failed migration leaves the old version intact;
- a database newer than this code is refused with :class:`~connector.errors.StateError` (an older
  connector must not write into a schema it does not understand).

To change the schema: edit the tables below, raise :data:`SCHEMA_VERSION` and add a step
``STEPS[n] = _to_vn`` that turns a version n-1 database into version n (``ALTER TABLE`` through
``conn.execute``; both SQLite and PostgreSQL must be able to run it).

Every column holds a keyed hash, a Salesforce id, a date, a status, a count or an error code —
never a personal value (see ``connector/hashing.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect

from connector.errors import StateError
from connector.state.rows import SyncedRow

SCHEMA_VERSION = 5


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A timestamp that only accepts timezone-aware values and always returns UTC.

    SQLite has no timestamp type: values are stored as fixed-width ISO 8601 text in UTC
    (``2025-03-01T09:30:00.000000+00:00``), which sorts and compares correctly as text and
    parses back with the C-fast ``datetime.fromisoformat`` (SQLAlchemy's own SQLite DATETIME
    parses with a regular expression, a third of a look-up's time). PostgreSQL stores
    ``timestamptz``.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String(32))
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("the state store only accepts timezone-aware datetimes")
        value = value.astimezone(UTC)
        return value.isoformat(timespec="microseconds") if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            return datetime.fromisoformat(value)
        return value if value.tzinfo is UTC else value.astimezone(UTC)


def sqlite_datetime(value: datetime | None) -> str | None:
    """A datetime as :class:`UtcDateTime` stores it in SQLite: for statements written out in
    full on the hot path (``exec_driver_sql``), where the type's bind processing would run per
    value; one shared timestamp of a batch is converted once."""
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("the state store only accepts timezone-aware datetimes")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


# Times inside JSON columns (consent_withdrawn_at): ISO text to the second, in UTC.
_ISO = "%Y-%m-%dT%H:%M:%SZ"


def iso_text(value: datetime) -> str:
    """A timezone-aware datetime as the text the JSON columns keep (naive ones are refused)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("the state store only accepts timezone-aware datetimes")
    return value.astimezone(UTC).strftime(_ISO)


def from_iso_text(text: str) -> datetime:
    """The datetime of :func:`iso_text`'s text (UTC)."""
    return datetime.strptime(text, _ISO).replace(tzinfo=UTC)


metadata = sa.MetaData()

HASH = sa.String(64)  # KeyHasher.key() gives 32 hex characters; room for a longer digest
SF_ID = sa.String(18)

meta = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(255), nullable=False),
)

synced = sa.Table(
    "synced",
    metadata,
    sa.Column("mapping", sa.String(100), primary_key=True),
    sa.Column("key_hash", HASH, primary_key=True),
    sa.Column("object", sa.String(80), nullable=False),
    sa.Column("sf_id", SF_ID),
    sa.Column("person_id", sa.Integer),
    sa.Column("field_hashes", sa.Text, nullable=False, default="{}"),
    sa.Column("first_seen", UtcDateTime, nullable=False),
    # last_seen lives in `seen` (v4), beside this table: see there why.
    sa.Column("last_synced", UtcDateTime),
    sa.Column("lifecycle", sa.String(16)),
    sa.Column("lifecycle_end_at", UtcDateTime),
    sa.Column("event_date", sa.Date),
    # purpose → "YYYY-MM-DDTHH:MM:SSZ"; JSON so retention can filter one purpose in SQL.
    sa.Column("consent_withdrawn_at", sa.JSON(none_as_null=True)),
    sa.Column("deleted_at", UtcDateTime),
    # v3: a person account's PersonContactId (children needing a Contact point at it).
    sa.Column("person_contact_id", SF_ID),
    sa.Index("ix_synced_sf_id", "sf_id"),
    sa.Index("ix_synced_person_id", "person_id"),
)

# v4: the last run whose source held each record of `synced` (one row per synced row, written
# with it and deleted with it). Its own narrow table because every run moves it for every record
# the export still holds: on the wide `synced` row (~600 bytes with the field hashes) SQLite
# rewrote each page, 0.8-0.9 s CPU for a nightly's 49,500 keys in isolation; here, the rows in
# the primary-key b-tree and the keys sorted (StateStore.touch_seen), 0.05 s. In a real warm
# nightly that is 8 % of its CPU (docs/benchmarks.md, "What last_seen in its own table gave").
seen = sa.Table(
    "seen",
    metadata,
    sa.Column("mapping", sa.String(100), primary_key=True),
    sa.Column("key_hash", HASH, primary_key=True),
    sa.Column("last_seen", UtcDateTime, nullable=False),
    sqlite_with_rowid=False,
)

# v2: one row per source row that maps to what Salesforce holds for its record (an event named
# on many registration rows has many): its keyed hash, the record, the record hash it produced
# and the day the policy or a transform may first decide otherwise for that same row. A row
# here counts as unchanged; whatever could change its outcome deletes it (a write of other
# content, a purge, a tombstone, a shared e-mail address, a forgotten record).
source_rows = sa.Table(
    "source_rows",
    metadata,
    sa.Column("mapping", sa.String(100), primary_key=True),
    sa.Column("source_hash", sa.String(32), primary_key=True),
    sa.Column("key_hash", HASH, nullable=False),
    sa.Column("token", sa.String(32), nullable=False),
    sa.Column("recheck_on", sa.Date),
    sa.Index("ix_source_rows_key", "mapping", "key_hash"),
    # SQLite: the rows live in the primary-key b-tree, so the nightly look-up reads one b-tree.
    sqlite_with_rowid=False,
)

persons = sa.Table(
    "persons",
    metadata,
    sa.Column("person_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("sf_id", SF_ID),
    sa.Column("student_hash", HASH, unique=True),
    sa.Column("email_hash", HASH, index=True),  # not unique: a shared address is an ambiguity
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, nullable=False, index=True),
    sa.Column("mapping", sa.String(100), nullable=False),
    sa.Column("key_hash", HASH, nullable=False),
    sa.Column("object", sa.String(80), nullable=False),
    sa.Column("operation", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("error_code", sa.String(80), nullable=False, default=""),
    sa.Column("error_message", sa.String(255), nullable=False, default=""),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Index("ix_outbox_key", "mapping", "key_hash"),
    sa.Index("ix_outbox_status", "status"),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job", sa.String(100), nullable=False, index=True),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("finished_at", UtcDateTime),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("counts", sa.Text, nullable=False, default="{}"),
    sa.Column("api_calls", sa.Integer, nullable=False, default=0),
    sa.Column("report_path", sa.String(1000)),
)

rejects = sa.Table(
    "rejects",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, nullable=False, index=True),
    sa.Column("mapping", sa.String(100), nullable=False),
    sa.Column("file", sa.String(1000), nullable=False),
    sa.Column("line", sa.Integer, nullable=False),
    sa.Column("column", sa.String(200), nullable=False),
    sa.Column("reason", sa.String(255), nullable=False),
)

suppressions = sa.Table(
    "suppressions",
    metadata,
    sa.Column("hash", HASH, primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # key | student | email
    sa.Column("reason", sa.String(255), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

audit = sa.Table(
    "audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer),
    sa.Column("action", sa.String(16), nullable=False),  # purge | erase
    sa.Column("object", sa.String(80), nullable=False),
    sa.Column("sf_id", SF_ID),
    sa.Column("reason", sa.String(255), nullable=False),
    sa.Column("purpose", sa.String(100), nullable=False, default=""),
    sa.Column("at", UtcDateTime, nullable=False, index=True),
)


requests = sa.Table(
    # Data-subject requests (GDPR art. 12(3)): erase, export, object. The subject is kept only as
    # keyed hashes (``subject``: JSON list of [kind, hash]); ``reference`` is what the privacy
    # officer quotes to the person; the receipt file holds no personal value either.
    "requests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("reference", sa.String(40), nullable=False, unique=True),
    sa.Column("kind", sa.String(16), nullable=False),  # erase | export | object
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("purposes", sa.Text, nullable=False, default=""),  # comma-separated, for object
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Column("due_on", sa.Date, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),  # open | done | failed
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.String(255), nullable=False, default=""),  # a code, never a value
    sa.Column("done_at", UtcDateTime),
    sa.Column("receipt", sa.String(1000)),  # path of the receipt file
)

objections = sa.Table(
    # Objections (GDPR art. 21): like a tombstone, a keyed hash of what identifies the person
    # (``kind``: student | email | key), but the person stays; ``purposes`` are never active again.
    "objections",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("hash", HASH, nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("purposes", sa.Text, nullable=False),  # comma-separated purpose names
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("request_id", sa.Integer),
)

withdrawals = sa.Table(
    # v5: the consent withdrawals each record's row states (connector/privacy/withdrawals.py),
    # with the row's identity hashes: a person's newest one, from any of their records,
    # outweighs an older "ja" in another. The moment only (UTC); an undated "nee" counts from
    # the run that first saw it.
    "withdrawals",
    metadata,
    sa.Column("mapping", sa.String(100), primary_key=True),
    sa.Column("key_hash", HASH, primary_key=True),
    sa.Column("purpose", sa.String(100), primary_key=True),
    sa.Column("student_hash", HASH, index=True),
    sa.Column("email_hash", HASH, index=True),
    sa.Column("withdrawn_at", UtcDateTime, nullable=False),
    # The row gave no moment: ``withdrawn_at`` is the clock of the run that first saw it.
    sa.Column("clocked", sa.Boolean, nullable=False),
)


# A synced record as the store returns it (rows.SyncedRow); last_seen is read from `seen`
# (its table says why it has one of its own).
_SYNCED_COLUMNS = (
    "mapping", "key_hash", "object", "sf_id", "person_id", "field_hashes", "first_seen",
    "last_seen", "last_synced", "lifecycle", "lifecycle_end_at", "event_date",
    "consent_withdrawn_at", "deleted_at",
)  # fmt: skip
SYNCED_WITH_SEEN = synced.join(
    seen, sa.and_(seen.c.mapping == synced.c.mapping, seen.c.key_hash == synced.c.key_hash)
)
SELECT_SYNCED = sa.select(
    *((seen if name == "last_seen" else synced).c[name] for name in _SYNCED_COLUMNS)
).select_from(SYNCED_WITH_SEEN)


def synced_row(r: Any) -> SyncedRow:
    """One row of :data:`SELECT_SYNCED` as a :class:`~connector.state.rows.SyncedRow`."""
    # Positional access: the look-up builds up to 2,000 of these per batch.
    (mapping, key_hash, obj, sf_id, person_id, fields, first_seen, last_seen, last_synced,
     lifecycle, lifecycle_end_at, event_date, consents, deleted_at) = r  # fmt: skip
    return SyncedRow(
        mapping, key_hash, obj, sf_id, person_id, json.loads(fields), first_seen, last_seen,
        last_synced, lifecycle, lifecycle_end_at, event_date,
        {p: from_iso_text(t) for p, t in consents.items()} if consents else {},
        deleted_at,
    )  # fmt: skip


def _to_v2(conn: Connection) -> None:
    """Version 2: source rows that need no mapping (empty until each record's next run)."""
    source_rows.create(conn)


def _to_v3(conn: Connection) -> None:
    """Version 3: data-subject requests and objections (GDPR art. 12(3), 21)."""
    requests.create(conn)
    objections.create(conn)
    # A person account's PersonContactId (connector/state/person_contacts.py).
    if "person_contact_id" not in {c["name"] for c in sa.inspect(conn).get_columns("synced")}:
        conn.execute(sa.text("ALTER TABLE synced ADD COLUMN person_contact_id VARCHAR(18)"))


def _to_v4(conn: Connection) -> None:
    """Version 4: ``synced.last_seen`` moves to the narrow table ``seen`` (see there why)."""
    seen.create(conn)
    conn.execute(
        sa.text(
            "INSERT INTO seen (mapping, key_hash, last_seen)"
            " SELECT mapping, key_hash, last_seen FROM synced"
        )
    )
    conn.execute(sa.text("ALTER TABLE synced DROP COLUMN last_seen"))  # SQLite 3.35 and later


def _to_v5(conn: Connection) -> None:
    """Version 5: the records' withdrawals (``withdrawals``), from the dated ones ``synced``
    kept. Every remembered source row is forgotten: the next run maps every row once more (no
    write where nothing changed) and so learns the undated ones its exports hold too."""
    withdrawals.create(conn)
    t, pe = synced, persons
    found = conn.execute(
        sa.select(
            t.c.mapping, t.c.key_hash, pe.c.student_hash, pe.c.email_hash, t.c.consent_withdrawn_at
        )
        .join(pe, pe.c.person_id == t.c.person_id)
        .where(t.c.consent_withdrawn_at.is_not(None))
    ).all()
    rows = [
        {"mapping": m, "key_hash": k, "purpose": p, "student_hash": sh, "email_hash": eh,
         "withdrawn_at": from_iso_text(text), "clocked": False}
        for m, k, sh, eh, stated in found
        for p, text in (stated or {}).items()
    ]  # fmt: skip
    if rows:
        conn.execute(sa.insert(withdrawals), rows)
    conn.execute(sa.delete(source_rows))


#: Migration steps: ``STEPS[n]`` turns a version n-1 database into version n.
STEPS: Mapping[int, Callable[[Connection], None]] = {
    2: _to_v2,
    3: _to_v3,
    4: _to_v4,
    5: _to_v5,
}


def current_version(conn: Connection) -> int | None:
    """The schema version stored in the database, or None for a database without our tables."""
    if not sa.inspect(conn).has_table("meta"):
        return None
    value = conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
    return int(value) if value is not None else None


def migrate(
    conn: Connection,
    *,
    target: int = SCHEMA_VERSION,
    steps: Mapping[int, Callable[[Connection], None]] = STEPS,
    tables: sa.MetaData = metadata,
) -> int:
    """Create or upgrade the schema inside the caller's transaction; return the version now.

    ``target``, ``steps`` and ``tables`` default to this module's; tests pass others to prove a
    future step runs. Raises StateError for a database newer than ``target`` or a missing step.
    """
    found = current_version(conn)
    if found is None:
        tables.create_all(conn, checkfirst=True)
        _set_version(conn, target, insert=True)
        return target
    if found > target:
        raise StateError(
            f"state store: schema version {found} is newer than this connector knows ({target}); "
            "upgrade sis-sync"
        )
    for version in range(found + 1, target + 1):
        step = steps.get(version)
        if step is None:
            raise StateError(f"state store: no migration step to schema version {version}")
        step(conn)
    if found != target:
        _set_version(conn, target, insert=False)
    return target


def _set_version(conn: Connection, version: int, *, insert: bool) -> None:
    if insert:
        conn.execute(sa.insert(meta).values(key="schema_version", value=str(version)))
    else:
        conn.execute(
            sa.update(meta).where(meta.c.key == "schema_version").values(value=str(version))
        )
