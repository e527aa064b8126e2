"""Fixtures for the state store contract suite: one store per test on SQLite and PostgreSQL.

PostgreSQL: a throwaway database per session (``CREATE DATABASE`` through the ``postgres``
database), a fresh schema per test (selected with ``search_path`` in the URL), both dropped
afterwards. Without a server the PostgreSQL tests skip with the reason — or fail when ``CI`` is
set, so a CI machine cannot silently lose half the suite.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from connector.state import StateStore, open_store

PG_ADMIN = os.environ.get("SIS_SYNC_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_unavailable(reason: str) -> None:
    message = f"PostgreSQL at {PG_ADMIN} is not reachable: {reason}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A throwaway database name; dropped (with its sessions) at the end of the session."""
    name = f"sis_sync_state_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        _pg_unavailable(str(exc).splitlines()[0])
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _pg_base(database: str) -> str:
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + database


@pytest.fixture
def pg_url(pg_database: str) -> Iterator[str]:
    """A state URL whose tables land in a fresh schema of the throwaway database."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    base = _pg_base(pg_database)
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A state URL for a SQLite file in a folder that does not exist yet."""
    return f"sqlite:///{tmp_path / 'state' / 'state.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    """The contract suite runs once per backend."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(store_url: str) -> Iterator[StateStore]:
    """An open, empty store on the backend under test."""
    st = open_store(store_url)
    try:
        yield st
    finally:
        st.close()
