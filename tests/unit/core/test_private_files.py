"""Owner-only files and folders beside the state: the SQLite file with its -wal/-shm, created
folders 0700 (existing ones keep their mode), reports 0600, whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from connector.report import MappingReport, RunReport
from connector.state.db import connect, create_private_file, make_private_dir, write_private_text


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most permissive umask: what sis-sync creates must be owner-only anyway."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_created_folders_and_their_parents_are_0700(tmp_path, open_umask):
    target = tmp_path / "a" / "b" / "state"
    make_private_dir(target)
    assert [mode(p) for p in (tmp_path / "a", tmp_path / "a" / "b", target)] == [0o700] * 3


def test_existing_folders_keep_their_mode(tmp_path, open_umask):
    shared, before = tmp_path / "shared", mode(tmp_path)
    shared.mkdir(mode=0o755)
    make_private_dir(shared / "state")
    make_private_dir(shared)
    assert mode(shared) == 0o755
    assert mode(shared / "state") == 0o700
    assert mode(tmp_path) == before


def test_a_created_folder_is_usable_under_a_strict_umask(tmp_path):
    old = os.umask(0o277)  # would leave mkdir's 0700 as 0500: no way to write into it
    try:
        make_private_dir(tmp_path / "state")
    finally:
        os.umask(old)
    assert mode(tmp_path / "state") == 0o700


def test_private_files_are_0600_and_existing_ones_untouched(tmp_path, open_umask):
    new, old = tmp_path / "new", tmp_path / "old"
    old.write_text("kept")
    old.chmod(0o640)
    assert create_private_file(new) is True
    assert create_private_file(old) is False
    assert (mode(new), mode(old), old.read_text()) == (0o600, 0o640, "kept")
    write_private_text(tmp_path / "report.txt", "text\n")
    assert mode(tmp_path / "report.txt") == 0o600


def test_a_rewritten_report_file_becomes_0600(tmp_path, open_umask):
    # A report of the same run id and second written again (a file sis-sync made earlier, when
    # reports were 0644): the new content is owner-only too.
    path = tmp_path / "run-000000-20261203T040000.json"
    path.write_text("old, longer content")
    path.chmod(0o644)
    write_private_text(path, "new")
    assert (mode(path), path.read_text()) == (0o600, "new")


def test_sqlite_state_file_wal_and_shm_are_0600(tmp_path, open_umask):
    path = tmp_path / "fresh" / "state" / "sync.db"
    db = connect(f"sqlite:///{path}")
    try:
        with db.write.begin() as conn:
            conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
            conn.execute(sa.text("INSERT INTO t VALUES (1)"))
        with db.engine.connect() as conn:  # the connection is open: -wal and -shm exist
            assert conn.execute(sa.text("SELECT x FROM t")).scalar() == 1
            files = {p.name: mode(p) for p in path.parent.iterdir()}
            assert files == {"sync.db": 0o600, "sync.db-wal": 0o600, "sync.db-shm": 0o600}
    finally:
        db.engine.dispose()
    assert mode(path.parent) == 0o700 and mode(path.parent.parent) == 0o700


def test_an_existing_state_file_keeps_its_mode(tmp_path, open_umask):
    path = tmp_path / "sync.db"
    path.touch(mode=0o640)
    path.chmod(0o640)
    db = connect(f"sqlite:///{path}")
    try:
        with db.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    finally:
        db.engine.dispose()
    assert mode(path) == 0o640


def test_reports_and_their_folder_are_owner_only(tmp_path, open_umask):
    report = RunReport(job="nightly", started_at=datetime(2026, 12, 3, 4, tzinfo=UTC), run_id=7)
    report.mappings["students"] = MappingReport(mapping="students", object="Contact")
    json_path = report.write(tmp_path / "state" / "reports")
    written = sorted(p.name for p in json_path.parent.iterdir())
    assert written == [json_path.name, json_path.with_suffix(".txt").name]
    assert {mode(p) for p in json_path.parent.iterdir()} == {0o600}
    assert mode(tmp_path / "state" / "reports") == mode(tmp_path / "state") == 0o700
