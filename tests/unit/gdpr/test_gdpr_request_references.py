"""Request references (GDPR art. 12(3)): unique even after a lost state, and shown whole.

A reference is quoted to the person in the answer: the same reference must never be handed out
for two requests, and ``sis-sync requests`` must never cut it, at 80 columns or on a pipe.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from pathlib import Path

from rich.console import Console

from connector.commands.requests import requests_table
from connector.gdpr import requests as dsr
from connector.gdpr.receipts import Receipt
from connector.state import open_store

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def test_references_go_on_after_a_lost_state_from_the_receipts(tmp_path: Path) -> None:
    folder = tmp_path / "receipts"
    with open_store("sqlite://") as old:
        for n in range(3):
            req = dsr.open_request(old, "export", [(f"h{n}", "email")], now=NOW, folder=folder)
            dsr.finish(old, req, receipt=Receipt(action="exported"), now=NOW, folder=folder)
        assert req.reference == "DSR-2026-0003"
    # The state is lost; the receipts folder is what is left of the references quoted.
    with open_store("sqlite://") as new:
        req = dsr.open_request(new, "erase", [("h9", "student")], now=NOW, folder=folder)
        assert req.reference == "DSR-2026-0004"
        # Another year numbers from 1 again; the state's own numbers still count.
        assert dsr.open_request(new, "object", [("h9", "student")], now=NOW).reference == (
            "DSR-2026-0005"
        )
        later = datetime(2027, 1, 4, tzinfo=UTC)
        assert dsr.open_request(new, "export", [], now=later, folder=folder).reference == (
            "DSR-2027-0001"
        )


def test_highest_receipt_reads_only_references_of_that_year(tmp_path: Path) -> None:
    for name in ("DSR-2026-0007.json", "DSR-2026-0007.txt", "DSR-2026-0002.txt",
                 "DSR-2025-0099.json", "DSR-2026-notes.txt"):  # fmt: skip
        (tmp_path / name).write_text("{}", "utf-8")
    assert dsr.highest_receipt(tmp_path, 2026) == 7
    assert dsr.highest_receipt(tmp_path, 2024) == 0
    assert dsr.highest_receipt(tmp_path / "missing", 2026) == 0


def _rendered(width: int) -> str:
    with open_store("sqlite://") as store:
        for n in range(12):
            req = dsr.open_request(store, "erase", [(f"h{n}", "student")],
                                   now=datetime(2025, 1, 2, tzinfo=UTC))  # fmt: skip
        for _ in range(11):
            req = dsr.note_attempt(store, req, error="CONNECTION_ERROR_WITH_A_LONG_CODE")
        found = store.list_requests()
    buf = io.StringIO()
    Console(file=buf, width=width, force_terminal=False).print(
        requests_table(found, date(2026, 11, 20))
    )
    return buf.getvalue()


def test_requests_table_shows_every_reference_whole_at_80_columns() -> None:
    for width in (80, 60):
        text = _rendered(width)
        assert all(len(line) <= width for line in text.splitlines())
        for n in range(1, 13):
            assert f"DSR-2025-{n:04d}" in text, text
        assert "…" not in text.split()[0]
