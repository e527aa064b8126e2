"""Cells of the CSV files sis-sync writes for people to open in a spreadsheet: never a formula.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as a
formula by Excel, LibreOffice and Google Sheets (CSV injection: OWASP, "CSV Injection"); such a
cell gets a leading ``'``, which the spreadsheet shows as text and which is not part of the
value. Every CSV writer of the connector (the access export, the processing register, the
quality report, the rejects listing) passes its cells through :func:`formula_safe`: names and
texts in them come from configuration and source headers an outsider may have written.
"""

from __future__ import annotations

from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def formula_safe(text: str) -> str:
    """``text``, with a ``'`` in front when a spreadsheet would read it as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def safe_row(cells: Iterable[object]) -> list[str]:
    """A CSV row's cells as formula-safe text (None as an empty cell)."""
    return [formula_safe("" if c is None else str(c)) for c in cells]
