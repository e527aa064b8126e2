"""A Bulk job's CSV upload is held once, and only until Salesforce has it (bulk.py).

Held twice (line parts and their join) for as long as the job ran, a first load's Contact job
and the consent stage's jobs were tens of MB of a run's peak memory (issue 8: peak RSS at a
million rows at most 100 MB above 10,000).
"""

from __future__ import annotations

import sys
import tracemalloc
from typing import Any

from connector.salesforce.bulk import BulkJob, columns_of, csv_chunks

ROWS = [{"Ext__c": f"E{i:06d}", "LastName": "x" * 40, "City": "y" * 30} for i in range(20_000)]


def test_a_chunk_is_held_once_while_the_caller_uses_it():
    columns = columns_of(ROWS)
    chunks = csv_chunks(ROWS, columns)
    tracemalloc.start()
    try:
        _, end, data = next(chunks)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert end == len(ROWS) and len(data) > 1_500_000
    # The bytes themselves and little else (not a list of the lines as well).
    assert held < 1.2 * len(data)


class _Client:
    """Just enough of SalesforceClient for one clean update job; checks, at the poll, who
    still refers to the uploaded CSV."""

    def __init__(self) -> None:
        self.uploaded: bytes | None = None
        self.refs_at_poll: int | None = None

    def json(self, method: str, path: str, **_: Any) -> dict[str, Any]:
        if method == "POST":
            return {"id": "750J"}
        assert self.uploaded is not None
        # This attribute and getrefcount's argument: nothing of the job holds it any more.
        self.refs_at_poll = sys.getrefcount(self.uploaded)
        return {"state": "JobComplete", "numberRecordsProcessed": 3, "numberRecordsFailed": 0}

    def request(self, method: str, path: str, **kw: Any) -> None:
        if method == "PUT":
            self.uploaded = kw["data"]


def test_the_upload_is_let_go_once_sent():
    client = _Client()
    job = BulkJob(client, sleep=lambda s: None)  # type: ignore[arg-type]
    rows = [{"Id": f"003{i:015d}", "LastName": "x"} for i in range(3)]
    results = job.run("Contact", "update", rows)
    assert [r.sf_id for r in results] == [r["Id"] for r in rows]
    assert client.refs_at_poll == 2
