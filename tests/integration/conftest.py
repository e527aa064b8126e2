"""Fixtures shared by the integration tests of several packages: the education org shapes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connector.demo.org_setup import emulator_options
from connector.emulator.testing import EmulatorHandle, running_emulator


@pytest.fixture(scope="module")
def ec_org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorHandle]:
    """An Education Cloud org shape: person accounts and Data Protection and Privacy (one per
    test module; tests reset it)."""
    with running_emulator(
        tmp_path_factory.mktemp("ec"), **emulator_options("education-cloud")
    ) as emu:
        yield emu


@pytest.fixture(scope="module")
def eda_org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorHandle]:
    """The shipped EDA schema (one per test module; tests reset it)."""
    with running_emulator(tmp_path_factory.mktemp("eda"), **emulator_options("eda")) as emu:
        yield emu
