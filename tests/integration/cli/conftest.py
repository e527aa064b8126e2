"""Fixtures for the command-line tests: one emulator per module, a fresh project per test.

The project helpers are shared with the reliability tests (``tests/reliability/relfixtures.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path

_RELIABILITY = Path(__file__).resolve().parents[2] / "reliability"
if str(_RELIABILITY) not in sys.path:
    sys.path.insert(0, str(_RELIABILITY))

from relfixtures import CliProject  # noqa: E402 - found through the path set above
from syncfixtures import emulator, project_fixture  # noqa: E402 - put on the path by relfixtures

__all__ = ["emulator", "project"]

project = project_fixture(CliProject)
