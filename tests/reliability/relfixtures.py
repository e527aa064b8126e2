"""A sync project driven through the real `sis-sync` command, as an admin or cron would run it.

Builds on ``tests/integration/sync/syncfixtures.py`` (a copy of the shipped project, hand-written
CSV rows, the environment that points it at an emulator) and adds what reliability and CLI tests
need: running the command line as a subprocess with exactly the project's environment, killing
it part-way, reading the run reports and the state store, and a throwaway PostgreSQL database.

Tests that race two processes synchronise on events, never on sleeps: ``WriteGate`` holds the
emulator's writes so a run is provably mid-write for as long as the test needs, ``held_run_locks``
tells whether the run locks are free, and ``wait_until`` polls with a deadline that only matters
when the test fails (so a busy machine makes a test slower, not red).
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from connector.emulator.wire import Response, json_response

_SYNC_HELPERS = Path(__file__).resolve().parents[1] / "integration" / "sync"
if str(_SYNC_HELPERS) not in sys.path:
    sys.path.insert(0, str(_SYNC_HELPERS))

from syncfixtures import NOW, SECRET, SyncProject, registration, student  # noqa: E402

__all__ = [
    "NOW",
    "PG_ADMIN",
    "SECRET",
    "CliProject",
    "WriteGate",
    "fresh_pg_database",
    "held_run_locks",
    "registration",
    "sis_sync_command",
    "student",
    "wait_until",
]

PG_ADMIN = os.environ.get("SIS_SYNC_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
# Variables a child process needs to start at all; nothing else leaks in from the test runner
# (in particular no SIS_SYNC_* of the developer's own shell).
_PASS_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ", "SYSTEMROOT")


def sis_sync_command() -> list[str]:
    """The installed console script beside this interpreter, or ``python -m connector``."""
    script = Path(sys.executable).with_name("sis-sync")
    return [str(script)] if script.exists() else [sys.executable, "-m", "connector"]


def wait_until(
    predicate: Callable[[], bool], *, timeout: float = 30.0, interval: float = 0.05
) -> bool:
    """Poll ``predicate`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


_WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})


class WriteGate:
    """Holds one of the emulator's record writes, the one after the first ``passes``.

    The emulator runs in the test process, so the test can stop a run's writes exactly where it
    wants instead of hoping a latency outlasts a second process's start-up. Only writes under
    ``/services/data`` are held: logins, reads (describe, queries) and the control API pass, so a
    second run can start, log in and reach the run lock while the first one waits here.

    ``held`` is set once a write is waiting in the gate: from then on the writing run is inside
    its run lock (it writes only while holding it) and stays there until the gate is released.
    Writes after the held one pass, so a second run that (wrongly) got past the lock finishes and
    the test fails on its outcome instead of hanging on the gate.
    ``release(drop=True)`` answers the held writes with a 503 without applying them, as if the
    requests never reached Salesforce.
    """

    def __init__(self, emulator: Any, *, passes: int = 1):
        self._app = emulator.app
        self._passes = passes
        self._seen = 0
        self._count_lock = threading.Lock()
        self._open = threading.Event()
        self._drop = False
        self.held = threading.Event()

    def __enter__(self) -> WriteGate:
        handle = self._app.handle

        def gated(method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Response:
            if method in _WRITE_METHODS and raw_path.startswith("/services/data/"):
                with self._count_lock:
                    self._seen += 1
                    hold = self._seen == self._passes + 1
                if hold:
                    self.held.set()
                    self._open.wait()
                    if self._drop:
                        return json_response(
                            503, [{"errorCode": "SERVER_UNAVAILABLE", "message": "held by a test"}]
                        )
            return handle(method, raw_path, headers, body)

        # An instance attribute shadows App.handle, which the HTTP handler calls per request.
        self._app.handle = gated
        return self

    def release(self, *, drop: bool) -> None:
        """Let the held writes go on (``drop=False``) or answer them 503 unapplied (``drop=True``)."""
        self._drop = drop
        self._open.set()

    def __exit__(self, *exc: object) -> None:
        self.release(drop=True)
        del self._app.handle


def held_run_locks(state_url: str) -> int:
    """How many run locks (DESIGN §9) are held on this state right now, by anyone.

    SQLite: lock files beside the database that cannot be ``flock``-ed (probed without blocking
    and released at once). PostgreSQL: advisory locks in ``pg_locks`` on the state's database.
    """
    if state_url.startswith("sqlite:///"):
        db = Path(state_url.removeprefix("sqlite:///"))
        held = 0
        for path in db.parent.glob(f"{db.name}.*.lock"):
            fd = os.open(path, os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(fd, fcntl.LOCK_UN)
            except BlockingIOError:
                held += 1
            finally:
                os.close(fd)
        return held
    import psycopg

    with psycopg.connect(state_url, autocommit=True, connect_timeout=10) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
            " WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()"
        ).fetchone()
    return int(row[0]) if row else 0


class CliProject(SyncProject):
    """A project folder wired to one emulator, run through the `sis-sync` command line."""

    def __init__(self, folder: Path, emulator: Any):
        super().__init__(folder, emulator)
        self.logs = folder.parent / "logs"
        self.logs.mkdir(exist_ok=True)

    # -- running the command line ---------------------------------------------------------------

    def command_env(self, **over: str | None) -> dict[str, str]:
        """The child's environment: the project's variables, ``over`` (None removes one)."""
        env = {k: os.environ[k] for k in _PASS_THROUGH if k in os.environ}
        env.update(PYTHONUNBUFFERED="1", COLUMNS="200", NO_COLOR="1")
        env.update(self.env)
        for key, value in over.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def cli(
        self, *args: str, timeout: float = 60, cwd: Path | None = None, **env: str | None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``sis-sync ARGS`` in the project folder and wait for it."""
        return subprocess.run(
            [*sis_sync_command(), *args],
            cwd=cwd or self.folder,
            env=self.command_env(**env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def spawn(self, *args: str, name: str = "run", **env: str | None) -> subprocess.Popen[bytes]:
        """Start ``sis-sync ARGS`` in the background; output goes to ``logs/NAME.out|err``.

        Files, not pipes: a child blocked on a full pipe would stall the test that waits for it.
        """
        with (
            (self.logs / f"{name}.out").open("wb") as out,
            (self.logs / f"{name}.err").open("wb") as err,
        ):
            return subprocess.Popen(
                [*sis_sync_command(), *args],
                cwd=self.folder,
                env=self.command_env(**env),
                stdout=out,
                stderr=err,
            )

    def output(self, name: str) -> str:
        """What a spawned process wrote to stdout and stderr."""
        return (self.logs / f"{name}.out").read_text(encoding="utf-8", errors="replace") + (
            self.logs / f"{name}.err"
        ).read_text(encoding="utf-8", errors="replace")

    # -- what a run left behind -----------------------------------------------------------------

    @property
    def state_dir(self) -> Path:
        """Where the shipped sync.yaml keeps its SQLite state (and, by default, the reports)."""
        return self.folder / "state"

    @property
    def state_file(self) -> Path:
        """The SQLite state file of the shipped sync.yaml."""
        return self.state_dir / "sync.db"

    def report_files(self) -> list[Path]:
        """Every run report file (JSON and text), oldest first."""
        folder = self.state_dir / "reports"
        return sorted(folder.iterdir()) if folder.is_dir() else []

    def reports(self) -> list[dict[str, Any]]:
        """The JSON run reports, oldest first."""
        return [
            json.loads(p.read_text(encoding="utf-8"))
            for p in self.report_files()
            if p.suffix == ".json"
        ]

    def last_report(self) -> dict[str, Any]:
        """The newest JSON run report."""
        reports = self.reports()
        assert reports, "no run report was written"
        return reports[-1]

    # -- what the org holds ---------------------------------------------------------------------

    def live_records(self, obj: str) -> int:
        """Live records of ``obj`` in the emulator (control API: not an API call)."""
        return int(self.emulator.stats()["records"].get(obj, 0))

    def external_ids(self, obj: str, field: str) -> list[str]:
        """Every value of ``field`` on ``obj`` (duplicates kept, so tests can look for them)."""
        return [r[field] for r in self.query(f"SELECT {field} FROM {obj}")]


@contextmanager
def fresh_pg_database(prefix: str = "sis_sync_rel") -> Iterator[str]:
    """A new, empty PostgreSQL database for one test; yields its URL, drops it afterwards.

    A whole database rather than a schema: PostgreSQL advisory locks (the run lock) are scoped to
    a database, so tests in schemas of one database would share their locks.
    """
    import psycopg
    from psycopg import sql

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
