"""The console script bounds the process's memory (connector/process_memory.py).

Counted for real, in child processes: threads that each allocate, then glibc asked how many
heaps it made (``malloc_info``; uncapped, one per thread); two connections that each read a
table larger than the soft heap limit, then SQLite asked for its heap's high-water mark.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from connector import cli, process_memory

# Six threads hold an allocation each (under the mmap threshold: it comes from an arena) until
# all hold one; then the heaps glibc made are counted from malloc_info's XML.
CHILD = """
import ctypes, ctypes.util, os, sys, tempfile, threading
from connector.process_memory import limit_malloc_arenas
print(limit_malloc_arenas() if sys.argv[1] == "cap" else "-", flush=True)
barrier, held = threading.Barrier(7), []
def work():
    held.append(bytes(100_000) + b"x")
    barrier.wait()
threads = [threading.Thread(target=work) for _ in range(6)]
for t in threads:
    t.start()
barrier.wait()
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
path = os.path.join(tempfile.mkdtemp(), "info.xml")
fp = libc.fopen(path.encode(), b"w")
libc.malloc_info(0, fp)
libc.fclose(fp)
for t in threads:
    t.join()
print(open(path).read().count("<heap nr="))
"""


def _glibc() -> bool:
    try:
        return hasattr(ctypes.CDLL(ctypes.util.find_library("c")), "malloc_info")
    except OSError:
        return False


def _child(code: str, *args: str, env: dict[str, str] | None = None) -> list[str]:
    """What a fresh Python process running ``code`` prints, split into words."""
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=True
    ).stdout.split()


def _heaps(mode: str, env: dict[str, str]) -> tuple[str, int]:
    out = _child(CHILD, mode, env=env)
    return out[0], int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux") or not _glibc(), reason="glibc only")
def test_capped_process_makes_two_heaps_where_an_uncapped_one_makes_one_per_thread():
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    env.pop("GLIBC_TUNABLES", None)
    assert _heaps("cap", env) == ("True", 2)
    _, uncapped = _heaps("free", env)
    assert uncapped >= 5  # the check can tell: each thread got a heap of its own


@pytest.mark.skipif(not sys.platform.startswith("linux") or not _glibc(), reason="glibc only")
def test_an_administrators_own_setting_is_kept():
    env = {**os.environ, "MALLOC_ARENA_MAX": "4"}
    env.pop("GLIBC_TUNABLES", None)
    told, heaps = _heaps("cap", env)
    assert told == "False"
    assert heaps == 4  # glibc's own reading of the variable, not ours


def test_the_console_script_bounds_its_memory_before_the_command_runs(monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(process_memory, "bound_process_memory", lambda: calls.append("bound"))
    monkeypatch.setattr(cli, "app", lambda: calls.append("app"))
    cli.main()
    assert calls == ["bound", "app"]


# Two connections, each with a 48 MiB page cache, read every page of a ~40 MB table; SQLite's
# heap high-water mark is then read from the library Python's sqlite3 module is linked to.
SQLITE_CHILD = """
import ctypes, os, sqlite3, sys, tempfile
from connector.process_memory import limit_sqlite_heap
if sys.argv[1] == "cap":
    limit_sqlite_heap(16 * 1024 * 1024)
path = os.path.join(tempfile.mkdtemp(), "big.db")
db = sqlite3.connect(path)
db.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)")
db.executemany("INSERT INTO t VALUES (?, ?)", ((i, os.urandom(400)) for i in range(100_000)))
db.commit()
db.close()
lib = ctypes.CDLL("libsqlite3.so.0")
lib.sqlite3_memory_highwater.restype = ctypes.c_int64
lib.sqlite3_memory_highwater(1)  # reset: the writing above is not what is measured
readers = [sqlite3.connect(path) for _ in range(2)]
for r in readers:
    r.execute("PRAGMA cache_size=-49152")
    r.execute("SELECT sum(length(v)) FROM t").fetchone()
print(lib.sqlite3_memory_highwater(0))
"""


def _linked_libsqlite() -> bool:
    import _sqlite3  # noqa: F401 - loaded, so its library shows in the maps

    try:
        return "libsqlite3.so.0" in Path("/proc/self/maps").read_text()
    except OSError:
        return False


@pytest.mark.skipif(not _linked_libsqlite(), reason="needs Python's sqlite3 on libsqlite3.so.0")
def test_the_soft_heap_limit_bounds_the_page_caches_of_all_connections_together():
    mb = 1024 * 1024
    # Each reader's cache holds most of the table (~93 MiB in all) …
    assert int(_child(SQLITE_CHILD, "free")[0]) > 60 * mb
    # … both together stay near the 16 MiB limit (~16 MiB).
    assert int(_child(SQLITE_CHILD, "cap")[0]) < 24 * mb


def test_a_lower_soft_heap_limit_is_kept():
    child = (
        "import sqlite3; from connector.process_memory import limit_sqlite_heap as l\n"
        "c = sqlite3.connect(':memory:'); c.execute('PRAGMA soft_heap_limit=1000000')\n"
        "print(l(), l(2_000_000_000))"
    )
    assert _child(child) == ["1000000", "1000000"]
    fresh = "from connector.process_memory import limit_sqlite_heap as l; print(l())"
    assert _child(fresh) == [str(process_memory.SQLITE_SOFT_HEAP)]


def test_bounding_the_process_sets_the_soft_heap_limit():
    child = (
        "import sqlite3; from connector.process_memory import bound_process_memory\n"
        "bound_process_memory()\n"
        "print(sqlite3.connect(':memory:').execute('PRAGMA soft_heap_limit').fetchone()[0])"
    )
    assert _child(child) == [str(process_memory.SQLITE_SOFT_HEAP)]
