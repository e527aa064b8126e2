"""Fixtures: one emulator per module, a fresh project per test (helpers in syncfixtures.py)."""

from __future__ import annotations

from syncfixtures import SyncProject, emulator, project_fixture

__all__ = ["emulator", "project"]

project = project_fixture(SyncProject)
