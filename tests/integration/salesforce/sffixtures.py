"""The emulator and a client on it, shared by the Writer tests over real HTTPS."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tenacity import wait_none

from connector.emulator.testing import running_emulator
from connector.salesforce import SalesforceClient, SalesforceSettings


@pytest.fixture(scope="module")
def emulator() -> Iterator[Any]:
    """One emulator per test module."""
    with running_emulator() as emu:
        yield emu


@pytest.fixture
def emu(emulator: Any) -> Any:
    """The module's emulator, reset and without faults, for one test."""
    emulator.reset()
    emulator.faults(
        http_503_rate=0, lock_error_rate=0, latency_ms=0, daily_api_limit=1_000_000, seed=7
    )
    return emulator


def connect(emu: Any, **overrides: Any) -> SalesforceClient:
    """A client of ``emu`` (client credentials, its CA) that retries without waiting."""
    settings = SalesforceSettings(
        url=emu.url,
        auth="client_credentials",
        client_id="sis-sync-tests",
        client_secret="not-a-real-secret",
        ca_bundle=emu.ca_file,
        **overrides,
    )
    return SalesforceClient(settings, retry_wait=wait_none())
