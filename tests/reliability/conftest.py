"""Fixtures: one emulator per module, a fresh project per test, a throwaway PostgreSQL database.

Helpers live in ``relfixtures.py`` (a conftest is not importable by name from other folders).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest
from relfixtures import PG_ADMIN, CliProject, fresh_pg_database
from syncfixtures import emulator, project_fixture  # on the path: relfixtures puts it there

__all__ = ["emulator", "pg_url", "project"]

project = project_fixture(CliProject)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A state URL on a database of its own. Without a server: skip, or fail when ``CI`` is set."""
    try:
        psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL at {PG_ADMIN} is not reachable: {str(exc).splitlines()[0]}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with fresh_pg_database() as url:
        yield url
