"""Bound the C allocator's per-thread arenas of a ``sis-sync`` process (glibc only).

glibc's malloc gives each thread that allocates while another holds the main arena a heap of its
own, up to eight per core (mallopt(3), ``M_ARENA_MAX``). What a thread frees there stays in that
heap: it is rarely returned to the system and never reused by the other threads. A run's worker
threads (the consent stage's chunk, the Bulk jobs in flight) allocate megabytes each — SQLite
statements, CSV uploads and results, JSON — so every one of them kept its own high-water mark
resident. A 200,000-row first load with the consent model peaked at 279 MB RSS with the default
and at 245 MB with two arenas, the same run (docs/benchmarks.md, "Memory of the worker
threads"); Python's own objects (pymalloc) are not in those heaps and are unaffected.

Two arenas, not one: the run's thread and the workers then rarely wait on one allocator lock.
An administrator's own setting (``MALLOC_ARENA_MAX``, or ``glibc.malloc.arena_max`` in
``GLIBC_TUNABLES``) is kept. Elsewhere (musl, macOS, Windows) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # glibc's malloc.h
ARENAS = 2


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas at ``arenas`` for threads started from now on; True if set.

    Call it before the process starts threads (the console script does, first thing): an arena
    made before stays. A no-op where the C library is not glibc, or where the administrator set
    the cap already.
    """
    if not sys.platform.startswith("linux") or _set_by_admin():
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt  # only glibc (and a few compatible libraries) has it
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = mallopt(M_ARENA_MAX, arenas) == 1  # mallopt returns 1 on success
    log.debug("malloc arenas capped at %d: %s", arenas, ok)
    return ok


def _set_by_admin() -> bool:
    return "MALLOC_ARENA_MAX" in os.environ or "arena_max" in os.environ.get("GLIBC_TUNABLES", "")
