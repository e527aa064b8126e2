"""Fixtures: one emulator per module, reset per test (sffixtures.py)."""

from __future__ import annotations

from sffixtures import emu, emulator

__all__ = ["emu", "emulator"]
