"""Bulk 2.0 result CSVs are read from the wire as they are parsed (bulk.py ``BulkJob._csv``).

A 50,000-row job's results echo every column sent: read whole, they were ~50 MB held twice at
the peak of a first load. Streamed, a connection lost part-way must not lose or repeat rows.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
import urllib3

from connector import errors
from connector.salesforce.bulk import STREAM_ATTEMPTS, BulkJob

ROWS = [{"sf__Id": f"003{i:015d}", "sf__Created": "true", "Ext__c": f"k{i}"} for i in range(500)]
CSV = ("sf__Id,sf__Created,Ext__c\n" + "".join(
    f"{r['sf__Id']},{r['sf__Created']},{r['Ext__c']}\n" for r in ROWS
)).encode("utf-8")  # fmt: skip


class _Wire(io.RawIOBase):
    """A response body that breaks after ``fail_at`` bytes (a dropped connection)."""

    def __init__(self, data: bytes, fail_at: int | None):
        self.data, self.fail_at, self.pos = data, fail_at, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.fail_at is not None and self.pos >= self.fail_at:
            raise urllib3.exceptions.ProtocolError("Connection broken: IncompleteRead")
        end = len(self.data) if self.fail_at is None else self.fail_at
        chunk = self.data[self.pos : min(end, self.pos + 256)]
        buffer[: len(chunk)] = chunk
        self.pos += len(chunk)
        return len(chunk)


class _Raw(io.BufferedReader):
    """``response.raw`` as urllib3 gives it: a readable stream with these attributes."""

    decode_content = False
    auto_close = True


class _Response:
    def __init__(self, raw: _Raw):
        self.raw, self.closed = raw, False

    def close(self) -> None:
        self.closed = True


class _Client:
    """Answers each result request with the next body; remembers the requests."""

    def __init__(self, breaks: list[int | None]):
        self.breaks, self.calls, self.responses = breaks, [], []

    def request(self, method: str, path: str, **kwargs: Any) -> _Response:
        self.calls.append((method, path, kwargs.get("stream")))
        response = _Response(_Raw(_Wire(CSV, self.breaks.pop(0))))
        self.responses.append(response)
        return response


def _read(client: _Client) -> list[dict[str, str]]:
    job = BulkJob(client, sleep=lambda _s: None)  # type: ignore[arg-type]
    return list(job._csv("750X", "successfulResults"))


def test_results_are_streamed_and_closed() -> None:
    client = _Client([None])
    assert _read(client) == ROWS
    assert client.calls == [("GET", "jobs/ingest/750X/successfulResults", True)]
    assert all(r.closed for r in client.responses)


def test_a_connection_lost_part_way_is_read_again_without_losing_or_repeating_rows() -> None:
    client = _Client([len(CSV) // 3, len(CSV) // 2, None])
    assert _read(client) == ROWS  # every row once, in order
    assert len(client.calls) == 3
    assert all(r.closed for r in client.responses)


def test_a_stream_that_keeps_breaking_is_a_retriable_error() -> None:
    client = _Client([100] * STREAM_ATTEMPTS)
    with pytest.raises(errors.RetriableSalesforceError) as info:
        _read(client)
    assert info.value.code == "BULK_RESULTS_LOST"
    assert len(client.calls) == STREAM_ATTEMPTS
