"""Data-subject requests without Salesforce: due dates (art. 12(3)), references, attempts,
the deadline in words, and receipts that hold nothing personal and are owner-only."""

from __future__ import annotations

import json
import stat
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from connector.gdpr import requests as dsr
from connector.gdpr.receipts import Receipt
from connector.state import StateStore, open_store

NOW = datetime(2026, 1, 31, 10, 0, tzinfo=UTC)


@pytest.fixture
def store() -> StateStore:
    return open_store("sqlite://")


def test_due_is_one_calendar_month_after_receipt_clamped_to_the_month_end() -> None:
    assert dsr.due_on(NOW) == date(2026, 2, 28)
    assert dsr.due_on(datetime(2026, 3, 15, 12, tzinfo=UTC)) == date(2026, 4, 15)
    # 23:30 UTC on 31 March is 1 April at the school: the school's day counts.
    assert dsr.due_on(datetime(2026, 3, 31, 23, 30, tzinfo=UTC)) == date(2026, 5, 1)


def test_references_number_the_requests_of_each_year(store: StateStore) -> None:
    a = dsr.open_request(store, "erase", [("h1", "student")], now=NOW)
    b = dsr.open_request(store, "export", [("h2", "email")], now=NOW)
    c = dsr.open_request(store, "object", [("h3", "email")], now=datetime(2027, 1, 2, tzinfo=UTC),
                         purposes=["recruitment_news"])  # fmt: skip
    assert [a.reference, b.reference, c.reference] == ["DSR-2026-0001", "DSR-2026-0002",
                                                       "DSR-2027-0001"]  # fmt: skip
    assert (a.status, a.attempts, a.subject) == ("open", 0, (("student", "h1"),))
    assert c.purposes == ("recruitment_news",)


def test_attempts_and_outcomes(store: StateStore, tmp_path: Path) -> None:
    req = dsr.open_request(store, "erase", [("h1", "student")], now=NOW)
    req = dsr.note_attempt(store, req, error="CONNECTION_ERROR")
    req = dsr.note_attempt(store, req, error="CONNECTION_ERROR")
    assert (req.status, req.attempts, req.last_error) == ("open", 2, "CONNECTION_ERROR")
    assert [r.reference for r in dsr.open_erasures(store)] == [req.reference]
    assert dsr.find_open(store, "erase", [("h1", "student")]) == req
    done = dsr.finish(store, req, receipt=Receipt(records={"Contact": 1}), now=NOW,
                      folder=tmp_path / "receipts")  # fmt: skip
    assert (done.status, done.attempts, done.done_at) == ("done", 3, NOW)
    assert dsr.open_erasures(store) == []
    other = dsr.fail(store, dsr.open_request(store, "erase", [("h9", "email")], now=NOW),
                     error="NOT_FOUND", now=NOW)  # fmt: skip
    assert (other.status, other.last_error) == ("failed", "NOT_FOUND")


def test_the_deadline_in_words() -> None:
    req = dsr.open_request(open_store("sqlite://"), "erase", [("h", "student")], now=NOW)
    assert dsr.when_due(req, date(2026, 2, 1)) == "27 days left"
    assert dsr.when_due(req, date(2026, 2, 27)) == "1 day left"
    assert dsr.when_due(req, date(2026, 2, 28)) == "due today"
    assert dsr.when_due(req, date(2026, 3, 3)) == "overdue by 3 days"
    assert dsr.days_left(req, date(2026, 3, 3)) == -3


def test_a_receipt_is_json_and_text_owner_only_with_counts_only(
    store: StateStore, tmp_path: Path
) -> None:
    req = dsr.open_request(store, "erase", [("0123456789abcdef", "student")], now=NOW)
    receipt = Receipt(records={"Contact": 1, "Task": 2}, tombstones={"student": 1, "key": 3},
                      forgotten=4)  # fmt: skip
    done = dsr.finish(store, req, receipt=receipt, now=NOW, folder=tmp_path / "r")
    path = Path(str(done.receipt))
    data = json.loads(path.read_text("utf-8"))
    assert data["reference"] == "DSR-2026-0001" and data["due_on"] == "2026-02-28"
    assert data["removed"] == {"Contact": 1, "Task": 2}
    assert data["tombstones"] == {"key": 3, "student": 1}
    text = path.with_suffix(".txt").read_text("utf-8")
    assert "Records removed in Salesforce: Contact 1, Task 2" in text
    assert "Due:        2026-02-28" in text
    for p in (path, path.with_suffix(".txt")):
        assert stat.S_IMODE(p.stat().st_mode) == 0o600
        assert "0123456789abcdef" not in p.read_text("utf-8")  # not even the keyed hash
    assert stat.S_IMODE((tmp_path / "r").stat().st_mode) == 0o700
