"""Fixtures: one emulator per module, a fresh project per test (helpers in syncfixtures.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from syncfixtures import SyncProject

from connector.emulator.testing import EmulatorHandle, running_emulator


@pytest.fixture(scope="module")
def emulator(tmp_path_factory) -> Iterator[EmulatorHandle]:
    with running_emulator(tmp_path_factory.mktemp("org")) as emu:
        yield emu


@pytest.fixture
def project(tmp_path, emulator) -> SyncProject:
    emulator.reset()
    emulator.faults(latency_ms=0, http_503_rate=0, lock_error_rate=0, expire_tokens=False)
    return SyncProject(tmp_path / "project", emulator)
