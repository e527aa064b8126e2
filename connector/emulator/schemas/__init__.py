"""Org shapes shipped for ``sis-sync emulator --schema``: ``eda`` (eda.json)."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).parent


def builtin_schema(name: str) -> Path | None:
    """The shipped schema file called ``name`` (``eda``), or None."""
    path = _HERE / f"{name}.json"
    return path if name.isidentifier() and path.is_file() else None
