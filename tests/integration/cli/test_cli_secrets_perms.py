"""A fresh project through the command line: SIS_SYNC_SECRET's length rule (exit 2, a command to
generate one, never the value) and owner-only state and reports (folders 0700, files 0600)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from relfixtures import student

from connector.config import KEYGEN_COMMAND

SHORT = "Kort-Geheim-31-bytes-0123456789"  # 31 bytes


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The children inherit the common 022, under which Python and SQLite create 0644/0755."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def tree(folder: Path) -> dict[str, int]:
    """Every path under ``folder`` (relative) with its permission bits."""
    return {str(p.relative_to(folder)): mode(p) for p in sorted(folder.rglob("*"))}


def test_a_fresh_run_creates_owner_only_state_and_reports(project, usual_umask):
    project.write_students([student("100001"), student("100002")])
    result = project.cli("run", "nightly")
    assert result.returncode == 0, result.stderr
    found = tree(project.folder / "state")
    assert mode(project.folder / "state") == 0o700
    names = set(found)
    assert "sync.db" in names and "reports" in names
    assert any(n.endswith(".lock") for n in names)
    assert any(n.startswith("reports/run-") and n.endswith(".json") for n in names)
    assert any(n.startswith("reports/run-") and n.endswith(".txt") for n in names)
    wrong = {
        n: oct(m)
        for n, m in found.items()
        if m != (0o700 if (project.folder / "state" / n).is_dir() else 0o600)
    }
    assert wrong == {}


def test_a_state_folder_the_admin_made_keeps_its_mode(project, usual_umask):
    (project.folder / "state").mkdir(mode=0o750)
    (project.folder / "state").chmod(0o750)
    project.write_students([student("100001")])
    assert project.cli("run", "nightly").returncode == 0
    assert mode(project.folder / "state") == 0o750
    assert mode(project.folder / "state" / "reports") == 0o700
    assert mode(project.folder / "state" / "sync.db") == 0o600


@pytest.mark.parametrize("command", [("run", "nightly"), ("validate",), ("status",)])
def test_a_short_secret_is_refused_before_anything_is_written(project, command):
    result = project.cli(*command, SIS_SYNC_SECRET=SHORT)
    shown = result.stdout + result.stderr
    assert result.returncode == 2, shown
    assert "SIS_SYNC_SECRET" in shown and KEYGEN_COMMAND in shown
    assert SHORT not in shown and "Traceback" not in shown
    assert not (project.folder / "state").exists()


def test_a_short_secret_file_is_named_not_shown(project, tmp_path):
    key = tmp_path / "secret"
    key.write_text(SHORT + "\n", encoding="utf-8")
    result = project.cli("run", "nightly", SIS_SYNC_SECRET=None, SIS_SYNC_SECRET_FILE=str(key))
    shown = result.stdout + result.stderr
    assert result.returncode == 2, shown
    assert "SIS_SYNC_SECRET_FILE" in shown and KEYGEN_COMMAND in shown
    assert SHORT not in shown


def test_a_generated_secret_is_accepted(project):
    result = project.cli("run", "nightly", SIS_SYNC_SECRET=os.urandom(32).hex())
    assert result.returncode == 0, result.stderr
