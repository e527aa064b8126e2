"""Schema versioning, URLs and error reporting of the state store, on both backends."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from connector.errors import StateError
from connector.state import open_store
from connector.state import tables as s
from connector.state.db import connect, normalise_url


def _version(url: str) -> int | None:
    db = connect(url)
    try:
        with db.engine.connect() as conn:
            return s.current_version(conn)
    finally:
        db.engine.dispose()


def _columns(url: str, table: str) -> set[str]:
    db = connect(url)
    try:
        with db.engine.connect() as conn:
            return {c["name"] for c in sa.inspect(conn).get_columns(table)}
    finally:
        db.engine.dispose()


def _has_table(url: str, table: str) -> bool:
    db = connect(url)
    try:
        with db.engine.connect() as conn:
            return sa.inspect(conn).has_table(table)
    finally:
        db.engine.dispose()


def _add_column_step(conn: sa.Connection) -> None:
    conn.exec_driver_sql("ALTER TABLE runs ADD COLUMN trigger VARCHAR(16)")


def _migrate(url: str, **kw) -> int:
    db = connect(url)
    try:
        with db.write.begin() as conn:
            return s.migrate(conn, **kw)
    finally:
        db.engine.dispose()


def test_a_new_database_gets_every_table_and_the_current_version(store_url: str) -> None:
    open_store(store_url).close()
    assert _version(store_url) == s.SCHEMA_VERSION
    db = connect(store_url)
    with db.engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
    db.engine.dispose()
    assert set(s.metadata.tables) <= tables
    open_store(store_url).close()  # opening again changes nothing
    assert _version(store_url) == s.SCHEMA_VERSION


def test_an_older_database_is_migrated_step_by_step(store_url: str) -> None:
    open_store(store_url).close()
    assert "trigger" not in _columns(store_url, "runs")
    assert (
        _migrate(
            store_url, target=s.SCHEMA_VERSION + 1, steps={s.SCHEMA_VERSION + 1: _add_column_step}
        )
        == s.SCHEMA_VERSION + 1
    )
    assert _version(store_url) == s.SCHEMA_VERSION + 1
    assert "trigger" in _columns(store_url, "runs")


def test_a_newer_database_is_refused(store_url: str) -> None:
    open_store(store_url).close()
    _migrate(store_url, target=s.SCHEMA_VERSION + 1, steps={s.SCHEMA_VERSION + 1: _add_column_step})
    newer, known = s.SCHEMA_VERSION + 1, s.SCHEMA_VERSION
    with pytest.raises(StateError, match=rf"schema version {newer} is newer .*\({known}\)"):
        open_store(store_url)


def test_a_missing_or_failing_step_leaves_the_old_version(store_url: str) -> None:
    open_store(store_url).close()
    nxt = s.SCHEMA_VERSION + 1
    with pytest.raises(StateError, match=f"no migration step to schema version {nxt}"):
        _migrate(store_url, target=nxt, steps={})

    def broken(conn: sa.Connection) -> None:
        _add_column_step(conn)
        conn.exec_driver_sql("ALTER TABLE no_such_table ADD COLUMN x INTEGER")

    with pytest.raises(sa.exc.SQLAlchemyError):
        _migrate(store_url, target=nxt, steps={nxt: broken})
    assert _version(store_url) == s.SCHEMA_VERSION
    assert "trigger" not in _columns(store_url, "runs")  # the whole step rolled back


def _v1_database(url: str) -> None:
    """A database as schema version 1 left it: ``synced`` without the source columns, and with
    its ``last_seen`` (version 4 moved it to the table ``seen``)."""
    v1 = sa.MetaData()
    for table in s.metadata.tables.values():
        if table.name in ("source_rows", "requests", "objections", "seen", "withdrawals"):
            continue  # versions 2, 3, 4, 5
        # synced.person_contact_id came with version 3.
        columns = [c._copy() for c in table.columns if c.name != "person_contact_id"]
        if table.name == "synced":
            columns.append(sa.Column("last_seen", s.UtcDateTime, nullable=False))
        sa.Table(table.name, v1, *columns)
    db = connect(url)
    try:
        with db.write.begin() as conn:
            s.migrate(conn, target=1, steps={}, tables=v1)
            conn.execute(
                sa.insert(v1.tables["synced"]).values(
                    mapping="students",
                    key_hash="k1",
                    object="Contact",
                    field_hashes="{}",
                    first_seen=datetime(2026, 1, 1, tzinfo=UTC),
                    last_seen=datetime(2026, 1, 2, tzinfo=UTC),
                )
            )
    finally:
        db.engine.dispose()


def test_a_version_1_state_gains_the_source_columns_and_keeps_its_records(store_url: str) -> None:
    _v1_database(store_url)
    assert _version(store_url) == 1
    assert not _has_table(store_url, "source_rows")
    with open_store(store_url) as st:  # opening migrates
        assert set(st.lookup("students", ["k1"])) == {"k1"}
        # Version 4: last_seen moved to its own table, the record's value with it.
        assert st.lookup("students", ["k1"])["k1"].last_seen == datetime(2026, 1, 2, tzinfo=UTC)
        # A migrated record has no source hash yet: the next run maps it.
        assert st.unchanged_sources("students", ["h"], today=date(2026, 1, 2)) == {}
    assert _version(store_url) == s.SCHEMA_VERSION
    assert {"source_hash", "key_hash", "token", "recheck_on"} <= _columns(store_url, "source_rows")
    assert _has_table(store_url, "requests") and _has_table(store_url, "objections")  # version 3
    assert "person_contact_id" in _columns(store_url, "synced")  # version 3: person accounts
    assert "last_seen" not in _columns(store_url, "synced")  # version 4
    assert _columns(store_url, "seen") == {"mapping", "key_hash", "last_seen"}


def test_sqlite_folder_is_created_and_wal_is_on(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "state.db"
    open_store(f"sqlite:///{path}").close()
    assert path.exists()
    db = connect(f"sqlite:///{path}")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
    db.engine.dispose()


def test_in_memory_sqlite_works_for_tests() -> None:
    with open_store("sqlite://") as st:
        run = st.start_run("j", datetime(2025, 1, 1, tzinfo=UTC))
        assert [r.run_id for r in st.recent_runs()] == [run]


def test_urls_are_normalised() -> None:
    assert normalise_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("sqlite:///x.db").drivername == "sqlite+pysqlite"
    with pytest.raises(StateError, match="unsupported database 'mysql'"):
        normalise_url("mysql://u@h/db")
    with pytest.raises(StateError, match="cannot be parsed"):
        normalise_url("not a url")


def test_an_unreachable_database_is_a_state_error() -> None:
    with pytest.raises(
        StateError, match=r"state store: open \(create or migrate the schema\) failed"
    ):
        open_store("postgresql://postgres@127.0.0.1:1/nothing?connect_timeout=2")


def test_database_failures_name_the_operation_never_the_data(store_url: str) -> None:
    secret_hash = "0123456789abcdef0123456789abcdef"
    with open_store(store_url) as st:
        db = connect(store_url)
        with db.write.begin() as conn:
            conn.exec_driver_sql("DROP TABLE synced")
        db.engine.dispose()
        with pytest.raises(StateError) as info:
            st.lookup("students", [secret_hash])
    message = str(info.value)
    assert message.startswith("state store: lookup failed: ")
    assert "synced" in message
    assert secret_hash not in message
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_a_read_only_open_of_a_version_1_state_does_not_migrate_it(store_url: str) -> None:
    """`plan`, `export` and purge/erase previews write nothing, not even a migration: an older
    connector must still be able to open the state afterwards."""
    from connector.state import open_existing

    _v1_database(store_url)
    if store_url.startswith("sqlite"):
        with open_existing(store_url) as st:  # migrated in memory, records readable
            assert set(st.lookup("students", ["k1"])) == {"k1"}
            assert st.unchanged_sources("students", ["h"], today=date(2026, 1, 2)) == {}
    else:
        with pytest.raises(StateError, match="does not migrate it: run `sis-sync run` once"):
            open_existing(store_url)
    assert _version(store_url) == 1
    assert not _has_table(store_url, "source_rows")
    with open_existing(store_url, create=True):  # a real run migrates
        pass
    assert _version(store_url) == s.SCHEMA_VERSION


def test_a_read_only_open_finds_a_version_1_state_in_any_folder(tmp_path: Path) -> None:
    """A '#' in a folder name is part of the path, not a URI fragment: the records are read
    and no stray file appears beside the folder."""
    from connector.state import open_existing

    folder = tmp_path / "school #1 state"
    url = f"sqlite:///{folder / 'sync.db'}"
    _v1_database(url)
    with open_existing(url) as st:
        assert set(st.lookup("students", ["k1"])) == {"k1"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["school #1 state"]
    assert _version(url) == 1
