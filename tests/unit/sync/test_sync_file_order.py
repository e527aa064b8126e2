"""engine.in_file_order: a batch's deletions are applied before its rows, so a batch is cut
before each deletion that follows a row (a OneRoster delta in any order)."""

from __future__ import annotations

from connector.records import Origin, Reject, SourceRecord
from connector.sync.engine import in_file_order


def row(key: str, line: int, *, deleted: bool = False) -> SourceRecord:
    return SourceRecord(key, {"sourcedId": key}, Origin("users.csv", line), deleted=deleted)


def shape(parts: list[list[SourceRecord | Reject]]) -> list[list[str]]:
    """Each part as ``-key`` for a deletion, ``key`` for a row, ``!`` for a reject."""
    return [
        ["!" if isinstance(r, Reject) else ("-" if r.deleted else "") + r.key for r in part]
        for part in parts
    ]


def test_a_batch_without_a_deletion_after_a_row_is_one_part() -> None:
    rows: list[SourceRecord | Reject] = [row("u-1", 2), row("u-2", 3)]
    assert shape(list(in_file_order(rows))) == [["u-1", "u-2"]]
    first: list[SourceRecord | Reject] = [row("u-1", 2, deleted=True), row("u-2", 3)]
    assert shape(list(in_file_order(first))) == [["-u-1", "u-2"]]


def test_a_deletion_after_rows_starts_a_part_and_deletions_in_a_row_stay_together() -> None:
    batch: list[SourceRecord | Reject] = [
        row("u-1", 2),
        Reject(Origin("users.csv", 3), "sourcedId", "empty key"),
        row("u-2", 4, deleted=True),
        row("u-1", 5, deleted=True),
        row("u-3", 6),
        row("u-4", 7, deleted=True),
    ]
    assert shape(list(in_file_order(batch))) == [
        ["u-1", "!"],
        ["-u-2", "-u-1", "u-3"],
        ["-u-4"],
    ]
    assert sum(len(p) for p in in_file_order(batch)) == len(batch)  # nothing lost or repeated
