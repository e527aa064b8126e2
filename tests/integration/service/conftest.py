"""Fixtures for the service tests: one emulator per module, a fresh project per test.

The project is the reliability tests' ``CliProject`` (``tests/reliability/relfixtures.py``), a
``SyncProject`` (``tests/integration/sync/syncfixtures.py``) that can also run the command line.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.emulator.testing import EmulatorHandle, running_emulator

_RELIABILITY = Path(__file__).resolve().parents[2] / "reliability"
if str(_RELIABILITY) not in sys.path:
    sys.path.insert(0, str(_RELIABILITY))

from relfixtures import CliProject  # noqa: E402


@pytest.fixture(scope="module")
def emulator(tmp_path_factory) -> Iterator[EmulatorHandle]:
    with running_emulator(tmp_path_factory.mktemp("org")) as emu:
        yield emu


@pytest.fixture
def project(tmp_path, emulator) -> CliProject:
    emulator.reset()
    emulator.faults(latency_ms=0, http_503_rate=0, lock_error_rate=0, expire_tokens=False)
    return CliProject(tmp_path / "project", emulator)
