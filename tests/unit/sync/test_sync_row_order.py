"""row_order.newest_last: a record's rows oldest first by a column; ties and unreadable
moments keep their file order; rejects pass first."""

from __future__ import annotations

import pytest

from connector.mapping.models import NewestBy
from connector.records import Origin, Reject, SourceRecord
from connector.sync.row_order import OLDEST, moment_key, newest_last


def rec(line: int, at: str | None) -> SourceRecord:
    return SourceRecord("k", {"at": at}, Origin("f.csv", line))


@pytest.mark.parametrize(
    ("earlier", "later", "fmt"),
    [
        ("2026-10-01T12:00:00+02:00", "2026-10-01T11:30:00+00:00", None),  # offsets compared in UTC
        ("2026-10-01", "2026-10-01T00:30:00+02:00", None),  # a date: the school's midnight
        ("2026-03-29T01:30:00", "2026-03-29T03:10:00", None),  # across the DST change
        ("09-10-2026 17:00", "10-10-2026 08:00", "%d-%m-%Y %H:%M"),  # the format, not text order
        ("", "2020-01-01", None),  # empty: oldest
        ("gisteren", "2020-01-01", None),  # unreadable: oldest
    ],
)
def test_moments_sort_in_time_order(earlier: str, later: str, fmt: str | None) -> None:
    assert moment_key(earlier, fmt) < moment_key(later, fmt)


def test_unreadable_moments_are_the_oldest() -> None:
    assert moment_key(None, None) == moment_key("  ", None) == moment_key("x", None) == OLDEST


def test_rows_come_back_oldest_first_ties_in_file_order_rejects_first() -> None:
    bad = Reject(Origin("f.csv", 3), "", "row has 3 cells, header has 2")
    rows = [
        rec(2, "2026-10-05T10:00:00+02:00"),
        bad,
        rec(4, "2026-09-01T10:00:00+02:00"),
        rec(5, None),
        rec(6, "2026-10-05T08:00:00+00:00"),  # = line 2's moment: after it, as in the file
        rec(7, "2026-09-01T10:00:00+02:00"),
    ]
    out = list(newest_last(rows, NewestBy(column="at")))
    assert out[0] is bad
    assert [r.line for r in out[1:]] == [5, 4, 7, 2, 6]


def test_a_large_export_streams_through_the_temporary_file() -> None:
    rows = (rec(n, f"2026-01-01T00:00:{59 - n % 60:02d}") for n in range(2, 5_002))
    out = [r.line for r in newest_last(rows, NewestBy(column="at"))]
    assert len(out) == 5_000 and out[0] == 59 and out[-1] == 4_980


def test_a_oneroster_source_cannot_be_reordered() -> None:
    """A OneRoster delta's order is its meaning (a deletion counts from its line on)."""
    from pydantic import ValidationError

    from connector.mapping.models import MappingSpec

    spec = {
        "name": "users",
        "source": {"kind": "oneroster", "path": "x"},
        "target": {"object": "Contact", "external_id": "Ext__c"},
        "fields": {"LastName": {"from": "familyName", "purposes": ["enrolment"]}},
        "newest_by": {"column": "dateLastModified"},
    }
    with pytest.raises(ValidationError, match="cannot reorder a OneRoster source"):
        MappingSpec.model_validate(spec)
    spec["source"] = {"kind": "csv", "path": "x", "key": "id"}
    assert MappingSpec.model_validate(spec).newest_by == NewestBy(column="dateLastModified")
