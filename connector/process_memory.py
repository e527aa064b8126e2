"""Bounds on a ``sis-sync`` process's memory that no single object of it owns.

The console script calls :func:`bound_process_memory` first thing. A run writes consent chunks
and Bulk jobs in worker threads beside the mapping, and two costs came with those threads
that no code of ours holds (docs/benchmarks.md, "Memory of the worker threads"):

- **glibc's malloc arenas.** A thread that allocates while another holds the main arena gets a
  heap of its own, up to eight per core (mallopt(3), ``M_ARENA_MAX``). What it frees stays in that
  heap, resident and unused by the other threads. A 200,000-row first load with the consent model
  peaked at 279 MB RSS uncapped, 243 MB with two arenas (one run after the other). Two, not one:
  the run's thread and a worker then rarely wait on one allocator lock. An administrator's own
  setting (``MALLOC_ARENA_MAX``, or ``glibc.malloc.arena_max`` in ``GLIBC_TUNABLES``) is kept;
  elsewhere (musl, macOS, Windows) nothing is done.
- **SQLite's page caches.** Each state connection may cache 16 MiB of pages (db.py); with the
  consent worker using a second one beside the run's thread, both filled on a large state:
  SQLite's heap high-water went from 32 MB to 54 MB at 200,000 rows. A soft heap limit is one
  budget for every SQLite connection of the process (state, spool, queues): over it, a page
  cache recycles its own pages instead of growing (https://www.sqlite.org/c3ref/hard_heap_limit64.html,
  ``PRAGMA soft_heap_limit``). With 32 MiB: 34 MB high-water, 226 MB RSS for that load.

Code that calls :mod:`connector.api` in its own process decides these for itself.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sqlite3
import sys
from contextlib import closing

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # glibc's malloc.h
ARENAS = 2
SQLITE_SOFT_HEAP = 32 * 1024 * 1024  # twice a state connection's page cache (db.py)


def bound_process_memory() -> None:
    """Cap the malloc arenas and SQLite's heap (see the module docstring); before any thread."""
    limit_malloc_arenas()
    limit_sqlite_heap()


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas at ``arenas`` for threads started from now on; True if set.

    An arena made before stays. A no-op where the C library is not glibc, or where the
    administrator set the cap already.
    """
    if not sys.platform.startswith("linux") or _arenas_set_by_admin():
        return False
    try:
        # The process's own symbols, libc's among them: find_library would run ldconfig, a
        # subprocess of ~17 ms on every command's start-up.
        mallopt = ctypes.CDLL(None).mallopt  # only glibc (and a few compatible ones) has it
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = mallopt(M_ARENA_MAX, arenas) == 1  # mallopt returns 1 on success
    log.debug("malloc arenas capped at %d: %s", arenas, ok)
    return ok


def limit_sqlite_heap(limit: int = SQLITE_SOFT_HEAP) -> int:
    """Set SQLite's soft heap limit for the process to ``limit`` bytes unless a lower one is
    set; the limit in force.

    Through the pragma, so it reaches the SQLite library Python's ``sqlite3`` module uses
    (linked in or shared), whatever the platform.
    """
    with closing(sqlite3.connect(":memory:")) as db:
        current = int(db.execute("PRAGMA soft_heap_limit").fetchone()[0])
        if 0 < current <= limit:
            return current
        # The pragma answers the limit now in force (sqlite3_soft_heap_limit64(-1)).
        return int(db.execute(f"PRAGMA soft_heap_limit={int(limit)}").fetchone()[0])


def _arenas_set_by_admin() -> bool:
    return "MALLOC_ARENA_MAX" in os.environ or "arena_max" in os.environ.get("GLIBC_TUNABLES", "")
