"""Archived activities, as the SOAP API Developer Guide's "Archived Activities" page documents:
closed Tasks and Events a year old are archived; query() skips them, queryAll() returns them with
IsArchived true; IsArchived is read-only (real simple-salesforce client)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from connector.emulator.archive import is_archived
from connector.emulator.testing import running_emulator


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    with running_emulator(tmp_path_factory.mktemp("org")) as e:
        yield e


@pytest.fixture
def sf(emu):
    emu.reset()
    return emu.client()


def _days_ago(n: int) -> str:
    return (datetime.now(UTC).date() - timedelta(days=n)).isoformat()


def test_old_closed_task_is_left_out_of_query_and_returned_by_query_all(sf) -> None:
    old = sf.Task.create({"Subject": "oud", "Status": "Completed", "ActivityDate": _days_ago(400)})
    sf.Task.create({"Subject": "open", "Status": "Not Started", "ActivityDate": _days_ago(400)})
    sf.Task.create({"Subject": "recent", "Status": "Completed", "ActivityDate": _days_ago(30)})

    plain = sf.query("SELECT Subject FROM Task")["records"]
    every = sf.query_all("SELECT Id, Subject, IsArchived FROM Task", include_deleted=True)

    assert sorted(r["Subject"] for r in plain) == ["open", "recent"]
    archived = [r for r in every["records"] if r["IsArchived"]]
    assert [r["Id"] for r in archived] == [old["id"]]


def test_archived_is_read_only_and_an_archived_task_can_still_be_updated(sf) -> None:
    old = sf.Task.create({"Subject": "oud", "Status": "Completed", "ActivityDate": _days_ago(400)})

    with pytest.raises(SalesforceMalformedRequest):
        sf.Task.update(old["id"], {"IsArchived": False})
    sf.Task.update(old["id"], {"Description": "bijgewerkt"})

    [rec] = sf.query_all("SELECT Description, IsArchived FROM Task", include_deleted=True)[
        "records"
    ]
    assert rec["Description"] == "bijgewerkt" and rec["IsArchived"] is True


def test_archive_criteria_per_object() -> None:
    today = date(2026, 12, 3)
    year_ago = "2025-12-03"
    day_later = "2025-12-04"
    assert is_archived("Event", {"ActivityDate": year_ago}, today)
    assert is_archived("Event", {"ActivityDateTime": "2025-01-01T10:00:00.000+0000"}, today)
    assert not is_archived("Event", {"ActivityDate": day_later}, today)
    assert is_archived("Task", {"Status": "Completed", "ActivityDate": year_ago}, today)
    assert not is_archived("Task", {"Status": "In Progress", "ActivityDate": year_ago}, today)
    assert not is_archived("Task", {"Status": "Completed"}, today)
    assert not is_archived("Contact", {"ActivityDate": year_ago}, today)
