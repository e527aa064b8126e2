"""Copying a whole state store to another URL (`sis-sync state copy --to URL`).

The usual move is SQLite → PostgreSQL (several service instances on one database, docs/recovery.md),
but any state URL works in either direction. The copy:

* reads the source in one read transaction, so every table comes from the same moment (SQLite in
  WAL mode gives a reader a consistent snapshot while a writer goes on);
* writes the target in one transaction: the schema, then every table in chunks of
  :data:`CHUNK` rows, then a row count per table that must equal the source's — a mismatch rolls
  everything back, so a target is either a full copy or untouched;
* refuses a target that already holds sis-sync state unless ``force`` (its rows are then
  replaced), and always refuses one whose tables of the same names were not made by sis-sync;
* moves PostgreSQL's id sequences past the copied ids, so the next run's new runs, outbox rows
  and persons do not collide with copied ones.

Nothing read or written here is a personal value (the state holds none, see ``schema.py``), and
errors name tables and operations only.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from connector.errors import ConfigError, StateError
from connector.state import tables as s
from connector.state.db import Database, connect, guard, normalise_url
from connector.state.store import open_existing

CHUNK = 5_000  # rows per INSERT batch (executemany; PostgreSQL folds them into multi-row VALUES)


def copy_state(source_url: str, target_url: str, *, force: bool = False) -> dict[str, int]:
    """Copy every table of the state at ``source_url`` into ``target_url``.

    Args:
        source_url: The state to copy (an older schema is migrated in memory, never in place).
        target_url: Where to copy it; created when it does not exist (SQLite) or is empty.
        force: Replace the sis-sync state the target already holds.

    Returns:
        Table name → rows, as counted in the target after the copy committed.

    Raises:
        ConfigError: Same store, no source state, or a target that holds state (without
            ``force``) or foreign tables of the same names.
        StateError: A database failed, or a count in the target differs from the source's
            (nothing was committed then).
    """
    if _same_store(source_url, target_url):
        raise ConfigError("state copy: the target is the configured state itself")
    src_path = _sqlite_path(source_url)
    if src_path is not None and not src_path.exists():
        raise ConfigError(f"state copy: there is no state at {src_path} to copy")
    source = open_existing(source_url)  # reads only; migrated in memory when older
    try:
        target = connect(target_url)
        try:
            with (
                _read_snapshot(source._db) as src,
                guard("copy (write the target)"),
                target.write.begin() as dst,
            ):
                _prepare_target(dst, target.dialect, force=force)
                expected = {t.name: _count(src, t) for t in s.metadata.sorted_tables}
                for table in s.metadata.sorted_tables:
                    _copy_table(src, dst, table)
                if target.dialect == "postgresql":
                    _advance_sequences(dst)
                _verify(dst, expected)
            with guard("copy (count the target)"), target.engine.connect() as conn:
                return {t.name: _count(conn, t) for t in s.metadata.sorted_tables}
        finally:
            target.engine.dispose()
    finally:
        source.close()


def _sqlite_path(url: str) -> Path | None:
    parsed = normalise_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).expanduser().resolve()


def _same_store(a: str, b: str) -> bool:
    pa, pb = _sqlite_path(a), _sqlite_path(b)
    if pa is not None or pb is not None:
        return pa == pb
    ua, ub = normalise_url(a), normalise_url(b)
    return ua.render_as_string(hide_password=True) == ub.render_as_string(hide_password=True)


@contextmanager
def _read_snapshot(db: Database) -> Iterator[Connection]:
    """One read transaction on the source: every table as of the same moment.

    SQLite in WAL mode gives a read transaction a snapshot; PostgreSQL needs REPEATABLE READ
    for that (READ COMMITTED would see each statement's own moment).
    """
    with guard("copy (read the source)"), db.engine.connect() as conn:
        if db.dialect == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


def _prepare_target(conn: Connection, dialect: str, *, force: bool) -> None:
    """Refuse a target holding state (unless ``force``: then empty it); create the schema."""
    if dialect == "postgresql":
        # Like open_store: two processes preparing one fresh database must not both create it.
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(0x5_15_5_C)))
    version = s.current_version(conn)
    if version is None:
        existing = set(sa.inspect(conn).get_table_names()) & set(s.metadata.tables)
        if existing:
            raise ConfigError(
                "state copy: the target has tables named like sis-sync's but no sis-sync schema "
                f"({', '.join(sorted(existing))}); use an empty database or schema"
            )
    elif not force:
        raise ConfigError(
            f"state copy: the target already holds sis-sync state (schema version {version}); "
            "--force replaces it"
        )
    s.migrate(conn)  # creates the tables (or brings a forced target to our version)
    for table in reversed(s.metadata.sorted_tables):
        conn.execute(sa.delete(table))  # the stamp of migrate too: meta is copied from the source


def _count(conn: Connection, table: sa.Table) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _copy_table(src: Connection, dst: Connection, table: sa.Table) -> None:
    """Stream ``table`` from ``src`` into ``dst`` in chunks (memory stays flat)."""
    order = list(table.primary_key.columns) or list(table.columns)
    result = src.execution_options(yield_per=CHUNK).execute(sa.select(table).order_by(*order))
    for part in result.partitions():
        _insert(dst, table, [dict(row._mapping) for row in part])


def _insert(dst: Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        dst.execute(sa.insert(table), list(rows))


def _advance_sequences(conn: Connection) -> None:
    """PostgreSQL: set each serial column's sequence past the largest copied id."""
    for table in s.metadata.sorted_tables:
        for column in table.primary_key.columns:
            if column.autoincrement is not True and not (
                column.autoincrement == "auto" and isinstance(column.type, sa.Integer)
            ):
                continue
            seq = conn.execute(
                sa.select(sa.func.pg_get_serial_sequence(table.name, column.name))
            ).scalar()
            if seq is None:
                continue
            top = conn.execute(sa.select(sa.func.max(column))).scalar()
            # setval(seq, n, false): the next nextval() returns n.
            conn.execute(sa.select(sa.func.setval(seq, (top or 0) + 1, False)))


def _verify(conn: Connection, expected: dict[str, int]) -> None:
    """Every table of the target holds as many rows as the source's (else roll back)."""
    for table in s.metadata.sorted_tables:
        got = _count(conn, table)
        if got != expected[table.name]:
            raise StateError(
                f"state copy: table {table.name} has {got} rows in the target but "
                f"{expected[table.name]} in the source; nothing was committed"
            )
