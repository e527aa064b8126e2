"""Database plumbing for the state store: URLs, engines, and turning driver errors into StateError.

SQLite (the default) gets WAL journaling (readers do not block the writer), a busy timeout (a
second process waits for a lock instead of failing at once) and real transactions: the stdlib
driver's own transaction handling only begins a transaction before DML, so it is switched off
and SQLAlchemy's ``begin`` event emits ``BEGIN`` (or ``BEGIN IMMEDIATE`` for the write engine,
which takes the write lock up front and so cannot fail half-way with "database is locked").

PostgreSQL URLs are rewritten to the psycopg 3 driver (``postgresql+psycopg://``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from connector.errors import StateError

BUSY_TIMEOUT_MS = 30_000

_compact_json = partial(json.dumps, separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True)
class Database:
    """An engine pair and what the lock needs to know about where the data lives.

    ``write`` shares ``engine``'s pool; on SQLite its transactions start with BEGIN IMMEDIATE.
    ``path`` is the SQLite file (None for PostgreSQL and in-memory SQLite).
    """

    engine: Engine
    write: Engine
    dialect: str
    path: Path | None


CHUNK = 5_000  # hashes per IN list; the engine's batches (≤ 2,000) always fit in one


def chunks(items: Sequence[Any]) -> list[list[Any]]:
    """``items`` without repeats, in lists of at most :data:`CHUNK` (one ``IN`` list each)."""
    unique = list(dict.fromkeys(items))
    return [unique[i : i + CHUNK] for i in range(0, len(unique), CHUNK)]


def normalise_url(url: str) -> URL:
    """Parse a state URL; ``postgres://`` and ``postgresql://`` get the psycopg 3 driver."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StateError("state store: the state URL cannot be parsed") from None
    backend = parsed.get_backend_name()
    if backend in ("postgres", "postgresql"):
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+pysqlite")
    raise StateError(f"state store: unsupported database {backend!r} (use sqlite or postgresql)")


def connect(url: str) -> Database:
    """Create the engines for ``url`` (the SQLite parent folder is created if missing)."""
    parsed = normalise_url(url)
    with guard("connect"):
        if parsed.get_backend_name() == "sqlite":
            return _sqlite(parsed)
        engine = sa.create_engine(
            parsed, pool_pre_ping=True, hide_parameters=True, json_serializer=_compact_json
        )
        return Database(engine, engine, "postgresql", None)


def _sqlite(url: URL) -> Database:
    database = url.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
    path: Path | None = None
    kwargs: dict[str, Any] = {"hide_parameters": True, "json_serializer": _compact_json}
    if in_memory:
        # One shared connection, or each pooled connection would see its own empty database.
        kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        path = Path(database).expanduser().resolve()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(
                f"state store: cannot create the folder for {path} ({exc.strerror})"
            ) from None
        url = url.set(database=str(path))
        kwargs["connect_args"] = {"timeout": BUSY_TIMEOUT_MS / 1000}
    engine = sa.create_engine(url, **kwargs)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see module docstring)
        cur = dbapi_conn.cursor()
        if not in_memory:
            cur.execute("PRAGMA journal_mode=WAL")
            # NORMAL is durable across process crashes in WAL mode; only power loss can lose
            # the last commits, which the outbox replays.
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        # 16 MiB page cache (default 2 MiB): keeps the upper b-tree levels of a large state hot
        # while memory stays bounded.
        cur.execute("PRAGMA cache_size=-16384")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    write = engine.execution_options(sqlite_immediate=True)
    return Database(engine, write, "sqlite", path)


@contextmanager
def guard(operation: str) -> Iterator[None]:
    """Turn a database failure into StateError naming ``operation`` and the driver's first line.

    The driver's message names tables, columns and constraints; its parameters (hashes, ids)
    are dropped, as are PostgreSQL's DETAIL lines that would echo a key.
    """
    try:
        yield
    except SQLAlchemyError as exc:
        orig = getattr(exc, "orig", None)
        text = str(orig if orig is not None else exc.__class__.__name__).strip().splitlines()
        detail = text[0][:200] if text else exc.__class__.__name__
        raise StateError(f"state store: {operation} failed: {detail}") from None
    except ValueError as exc:
        raise StateError(f"state store: {operation} failed: {exc}") from None
