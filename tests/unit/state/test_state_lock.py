"""The run lock: one run per job, across processes, and free again when the holder is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from connector.errors import LockedError
from connector.state import StateStore, open_store

REPO = Path(__file__).resolve().parents[3]
HOLDER = """
import sys, time
from connector.state import open_store
store = open_store(sys.argv[1])
with store.lock(sys.argv[2]):
    print("held", flush=True)
    time.sleep(120)
"""


def test_a_second_holder_in_the_same_process_is_refused(store: StateStore) -> None:
    with store.lock("nightly"):
        with (
            pytest.raises(LockedError, match="job 'nightly' is already running"),
            store.lock("nightly"),
        ):
            pass
        with store.lock("events"):  # other jobs run independently
            pass
    with store.lock("nightly"):  # released on exit
        pass


def test_the_lock_is_released_when_the_run_fails(store: StateStore) -> None:
    with pytest.raises(RuntimeError), store.lock("nightly"):
        raise RuntimeError("run failed")
    with store.lock("nightly"):
        pass


def test_in_memory_store_lock() -> None:
    with open_store("sqlite://") as st:
        with st.lock("nightly"), pytest.raises(LockedError), st.lock("nightly"):
            pass
        with st.lock("nightly"):  # released again
            pass


def _acquire_eventually(store: StateStore, job: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with store.lock(job):
                return
        except LockedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_lock_across_processes_and_freed_by_sigkill(store_url: str, store: StateStore) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, store_url, "nightly"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=env,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LockedError, match="already running") as info, store.lock("nightly"):
            pass
        if store.dialect == "sqlite":  # the message helps an admin find the holder
            assert f"pid {holder.pid}" in str(info.value)
        with store.lock("events"):
            pass
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        _acquire_eventually(store, "nightly")  # the OS / server dropped the dead holder's lock
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
