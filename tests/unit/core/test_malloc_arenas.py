"""The console script caps glibc's malloc arenas (connector/malloc_arenas.py).

Counted for real: a child process starts threads that each allocate, then asks glibc how many
heaps it has (``malloc_info``). Uncapped, every thread gets its own; capped, two at most.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import subprocess
import sys

import pytest

from connector import cli, malloc_arenas

# Six threads hold an allocation each (under the mmap threshold: it comes from an arena) until
# all hold one; then the heaps glibc made are counted from malloc_info's XML.
CHILD = """
import ctypes, ctypes.util, os, sys, tempfile, threading
from connector.malloc_arenas import limit_malloc_arenas
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


def _heaps(mode: str, env: dict[str, str]) -> tuple[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode], capture_output=True, text=True, env=env, check=True
    ).stdout.split()
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


def test_the_console_script_caps_the_arenas_before_the_command_runs(monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(malloc_arenas, "limit_malloc_arenas", lambda: calls.append("cap") or True)
    monkeypatch.setattr(cli, "app", lambda: calls.append("app"))
    cli.main()
    assert calls == ["cap", "app"]
