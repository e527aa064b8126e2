"""Database plumbing for the state store: URLs, engines, and turning driver errors into StateError.

SQLite (the default) gets WAL journaling (readers do not block the writer), a busy timeout (a
second process waits for a lock instead of failing at once) and real transactions: the stdlib
driver's own transaction handling only begins a transaction before DML, so it is switched off
and SQLAlchemy's ``begin`` event emits ``BEGIN`` (or ``BEGIN IMMEDIATE`` for the write engine,
which takes the write lock up front and so cannot fail half-way with "database is locked").

PostgreSQL URLs are rewritten to the psycopg 3 driver (``postgresql+psycopg://``).

Everything sis-sync creates beside the state is owner-only: folders 0700, files 0600 (the SQLite
file, and through it its ``-wal``/``-shm``, lock files, run reports). State and reports hold
keyed hashes and counts, not values, but nothing there is for other local users. Folders that
already exist keep their mode: an admin may have shared them on purpose.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from connector.errors import DAMAGED, RECOVER, StateDamaged, StateError

BUSY_TIMEOUT_MS = 30_000
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600

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
    _unit: threading.local = field(default_factory=threading.local, repr=False, compare=False)

    @contextmanager
    def unit(self) -> Iterator[None]:
        """One write transaction for every store call inside it, on this thread.

        A run records a slice of Salesforce's answers with half a dozen statements (persons,
        synced records, seen, source rows, outbox, rejects). Inside a unit they commit once,
        together: a crash leaves all of a slice or none of it, never persons without their
        records. Reads inside see what the unit wrote. A unit inside a unit joins it. (Speed
        is not the point: a 100k first load measured the same CPU, as the statements dirty
        the pages of different tables and each page is written to the WAL once either way.)
        """
        if getattr(self._unit, "conn", None) is not None:
            yield
            return
        with self.write.begin() as conn:
            self._unit.conn = conn
            try:
                yield
            finally:
                self._unit.conn = None

    def writing(self) -> AbstractContextManager[sa.Connection]:
        """A connection in a write transaction: the open unit's, or a transaction of its own
        (committed when the block ends)."""
        return self._unit_or(self.write.begin)

    def reading(self) -> AbstractContextManager[sa.Connection]:
        """A connection to read with: the open unit's (it sees the unit's writes), or one of
        its own."""
        return self._unit_or(self.engine.connect)

    @contextmanager
    def _unit_or(
        self, own: Callable[[], AbstractContextManager[sa.Connection]]
    ) -> Iterator[sa.Connection]:
        conn: sa.Connection | None = getattr(self._unit, "conn", None)
        if conn is not None:
            yield conn
            return
        with own() as fresh:
            yield fresh


CHUNK = 4_096  # hashes per IN list (a power of two: see padded); a 2,000-row batch fits in one


def chunks(items: Sequence[Any]) -> list[list[Any]]:
    """``items`` without repeats, in lists of at most :data:`CHUNK` (one ``IN`` list each)."""
    unique = list(dict.fromkeys(items))
    return [unique[i : i + CHUNK] for i in range(0, len(unique), CHUNK)]


def padded(chunk: list[Any]) -> list[Any]:
    """``chunk`` filled up to the next power of two with its last item (for an ``IN`` list).

    Every length of an ``IN`` list is another SQL text, so another prepared statement in the
    SQLite driver's cache (128 a connection), which keeps its program and its last bound
    values: batches of any length filled that cache over a large load (memray). Powers of two
    make a dozen texts a statement; a repeated item changes nothing an ``IN`` list matches.
    """
    size = 1 << max(len(chunk) - 1, 0).bit_length()
    return chunk + [chunk[-1]] * (size - len(chunk)) if chunk else chunk


def padded_chunks(items: Sequence[Any]) -> list[list[Any]]:
    """:func:`chunks` of ``items``, each :func:`padded`: the lists to bind to an expanding
    ``IN`` of a statement a run executes batch after batch. Unpadded, every list length is a
    statement text of its own in the SQLite driver's cache (128 a connection, ~0.4 MB prepared
    for a 2,000-value list): a nightly's or a ``serve`` process's batches of every size would
    fill it with them (docs/benchmarks.md, twenty-fourth session)."""
    return [padded(c) for c in chunks(items)]


def rows_in(
    conn: sa.Connection,
    dialect: str,
    sql: str,
    hashes: Sequence[str] | Sequence[int],
    *params: object,
) -> list[Any]:
    """The rows of ``sql`` for ``hashes``, asked in IN lists of :data:`CHUNK` (repeats dropped).

    ``sql`` holds a ``?`` for each of ``params`` (in order, before the list) and ``{in}``
    where the list goes (``key_hash {in}``): SQLite gets ``IN (?,?,…)`` written out,
    PostgreSQL ``= ANY(%s)`` with the list as one array. Raw driver SQL, for the engine's
    per-batch look-ups: SQLAlchemy renders an expanding ``IN`` anew on every execution,
    0.3–0.7 ms a statement at a nightly batch's few keys, more than the look-up itself
    (measured with ``StateStore.known``). Errors still pass through SQLAlchemy (``guard``).
    """
    out: list[Any] = []
    for query, args in _in_statements(dialect, sql, hashes, params):
        out.extend(conn.exec_driver_sql(query, args).all())
    return out


def execute_in(
    conn: sa.Connection,
    dialect: str,
    sql: str,
    hashes: Sequence[str] | Sequence[int],
    *params: object,
) -> None:
    """:func:`rows_in` for a statement that returns no rows (a per-batch ``DELETE``)."""
    for query, args in _in_statements(dialect, sql, hashes, params):
        conn.exec_driver_sql(query, args)


def _in_statements(
    dialect: str, sql: str, hashes: Sequence[Any], params: tuple[object, ...]
) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """The statements and parameters of :func:`rows_in`: one per chunk, SQLite's padded."""
    if dialect == "postgresql":
        query = sql.replace("?", "%s").format(**{"in": "= ANY(%s)"})
        for chunk in chunks(hashes):
            yield query, (*params, chunk)
        return
    for chunk in chunks(hashes):
        chunk = padded(chunk)
        yield sql.format(**{"in": f"IN ({','.join('?' * len(chunk))})"}), (*params, *chunk)


def make_private_dir(path: Path) -> None:
    """Create folder ``path`` and its missing parents owner-only (0700).

    Only folders this call creates get that mode; one that exists already (or that another
    process creates at the same moment) keeps its own. Raises OSError as ``Path.mkdir`` does.
    """
    missing = []
    while not os.path.lexists(path):
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:
            continue
        # mkdir's mode passes through the umask, which could leave the owner without access.
        os.chmod(folder, PRIVATE_DIR)


def create_private_file(path: Path) -> bool:
    """Create an empty file ``path`` owner-only (0600) unless it exists; True when created here."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, PRIVATE_FILE)  # exactly 0600, whatever the umask
    finally:
        os.close(fd)
    return True


def write_private_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` as an owner-only file (0600), replacing its content."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        os.fchmod(fd, PRIVATE_FILE)
        fh.write(text)


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
    """Create the engines for ``url`` (a missing SQLite file and folder are created owner-only)."""
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
            make_private_dir(path.parent)
        except OSError as exc:
            raise StateError(
                f"state store: cannot create the folder for {path} ({exc.strerror})"
            ) from None
        _refuse_emptied(path)
        if url.query.get("mode") != "ro":
            try:
                # Created here, not by SQLite (0644 less the umask): SQLite's unix VFS gives
                # the -wal and -shm files the database file's permissions (os_unix.c,
                # findCreateFileMode), so all three are 0600.
                create_private_file(path)
            except OSError as exc:
                raise StateError(
                    f"state store: cannot create the state file {path} ({exc.strerror})"
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
        # while memory stays bounded. A run's thread and its consent worker each use a
        # connection: the console script gives all of them one soft heap limit
        # (connector/process_memory.py), under which a cache recycles its pages.
        cur.execute("PRAGMA cache_size=-16384")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    write = engine.execution_options(sqlite_immediate=True)
    return Database(engine, write, "sqlite", path)


def _refuse_emptied(path: Path) -> None:
    """StateDamaged for a state file of 0 bytes beside the reports or receipts of earlier runs.

    SQLite opens an empty file as a new database: a state truncated to nothing (a full disk,
    a bad restore) would pass for a first run, re-send every record and recreate the persons
    erased since (their tombstones were in it). A first run's file is empty only until its
    schema is written, before any report or receipt exists.
    """
    try:
        emptied = path.stat().st_size == 0
    except OSError:
        return  # absent: a first run
    folder = path.parent
    if emptied and any(
        (folder / sub).is_dir() and any((folder / sub).iterdir()) for sub in ("reports", "receipts")
    ):
        raise StateDamaged.of(
            path,
            f"the file is empty (0 bytes) while {folder} holds earlier runs' reports or receipts",
        )


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
        if any(sign in detail for sign in DAMAGED):
            raise StateError(
                f"state store: {operation} failed: {detail} — {RECOVER}", damaged=detail
            ) from None
        raise StateError(f"state store: {operation} failed: {detail}") from None
    except ValueError as exc:
        raise StateError(f"state store: {operation} failed: {exc}") from None
