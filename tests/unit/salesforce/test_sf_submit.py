"""Writer.submit / drain / close: Bulk writes in worker threads, bounded; a thread-safe client."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest
from tenacity import wait_none

from connector import errors
from connector.records import WriteResult, WriteStatus
from connector.salesforce.client import SalesforceClient
from connector.salesforce.steps import Operation
from connector.salesforce.writer import Writer


class GatedWriter(Writer):
    """Every write waits for ``gate`` and is recorded: the seam another writer overrides."""

    def __init__(self, client: SalesforceClient, **kw: Any):
        super().__init__(client, **kw)
        self.gate = threading.Event()
        self.started: list[tuple[str, bool | None, threading.Thread]] = []
        self.fail_with: errors.SalesforceError | None = None

    def _write(self, op: Operation, rows: Sequence[Any], bulk: bool | None) -> list[WriteResult]:
        self.started.append((op.kind, bulk, threading.current_thread()))
        assert self.gate.wait(10)
        if self.fail_with is not None:
            self.fail_with.results = [WriteResult(ok=True, sf_id="003A", created=True)] + [  # type: ignore[attr-defined]
                WriteResult(ok=False, error_code="NOT_SENT")
            ] * (len(rows) - 1)
            raise self.fail_with
        return [WriteResult(ok=True, sf_id=f"003{r['Ext__c']}", created=True) for r in rows]


def rows(n: int, start: int = 0) -> list[dict[str, str]]:
    return [{"Ext__c": f"E{i}"} for i in range(start, start + n)]


def test_bulk_submit_returns_at_once_and_results_come_in_input_order(client):
    writer = GatedWriter(client)
    future = writer.submit("upsert", "Contact", rows(3), external_id_field="Ext__c", bulk=True)
    assert not future.done()  # the caller keeps mapping while the job runs
    writer.gate.set()
    assert [r.sf_id for r in future.result(5)] == ["003E0", "003E1", "003E2"]
    kind, bulk, thread = writer.started[0]
    assert (kind, bulk) == ("upsert", True)
    assert thread is not threading.current_thread()
    writer.close()


def test_submit_blocks_while_max_in_flight_writes_are_outstanding(client):
    writer = GatedWriter(client, max_in_flight=2)
    first = writer.submit("upsert", "Contact", rows(1), external_id_field="Ext__c", bulk=True)
    writer.submit("update", "Contact", [{"Id": "003X"}], external_id_field=None, bulk=True)
    third_returned = threading.Event()

    def third() -> None:
        writer.submit("upsert", "Contact", rows(1, 5), external_id_field="Ext__c", bulk=True)
        third_returned.set()

    threading.Thread(target=third, daemon=True).start()
    assert not third_returned.wait(0.3)  # two outstanding: the third waits
    writer.gate.set()
    assert third_returned.wait(5)
    assert first.result(5)[0].ok
    writer.drain()
    assert len(writer.started) == 3
    writer.close()


def test_collections_submit_runs_now_and_returns_a_done_future(client):
    writer = GatedWriter(client)
    writer.gate.set()
    future = writer.submit("upsert", "Contact", rows(2), external_id_field="Ext__c", bulk=False)
    assert future.done()
    assert writer.started[0][1:] == (False, threading.current_thread())
    assert len(future.result()) == 2


def test_a_stop_reaches_the_caller_through_the_future_with_results(client):
    writer = GatedWriter(client)
    writer.fail_with = errors.LimitReached("daily share used", code="DAILY_API_SHARE")
    future = writer.submit("upsert", "Contact", rows(3), external_id_field="Ext__c", bulk=True)
    writer.gate.set()
    writer.drain()  # never raises
    with pytest.raises(errors.LimitReached) as info:
        future.result()
    statuses = [r.status for r in info.value.results]  # type: ignore[attr-defined]
    assert statuses == [WriteStatus.CREATED, WriteStatus.NOT_SENT, WriteStatus.NOT_SENT]
    writer.close()


def test_submit_checks_rows_at_once(client):
    writer = GatedWriter(client)
    with pytest.raises(ValueError, match="has no Ext__c"):
        writer.submit("upsert", "Contact", [{"Ext__c": ""}], external_id_field="Ext__c", bulk=True)
    with pytest.raises(ValueError, match="has no Id"):
        writer.submit("update", "Contact", [{"Email": None}], external_id_field=None, bulk=True)
    assert writer.started == []


def test_threads_that_meet_one_expired_token_refresh_it_once(org, make_settings):
    """Two Bulk workers get 401 with the same token: one login, both calls go through."""
    both_failed = threading.Barrier(2, timeout=5)

    def answer(request: Any) -> tuple[int, Any]:
        if request.headers["Authorization"].endswith("00Dtoken1"):
            both_failed.wait()  # both threads hold the old token before either refreshes
            return 401, [{"errorCode": "INVALID_SESSION_ID", "message": "Session expired"}]
        return 200, {"done": True, "records": [], "totalSize": 0}

    org.route("GET", "query", answer)
    client = SalesforceClient(make_settings(), retry_wait=wait_none())
    writer = Writer(client)
    outcomes: list[Any] = []

    def call() -> None:
        try:
            outcomes.append(list(writer.query("SELECT Id FROM Contact")))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            outcomes.append(exc)

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert outcomes == [[], []]
    assert org.tokens_issued == 2  # the first login and one refresh, not one per thread
    assert client.refreshes == 1


def test_call_counter_is_exact_under_concurrency(client, org):
    org.route("GET", "limits", lambda r: (200, {}))
    start = client.calls_made

    def calls() -> None:
        for _ in range(40):
            client.json("GET", "limits")

    threads = [threading.Thread(target=calls) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert client.calls_made - start == 160


def test_close_waits_and_a_later_submit_starts_again(client):
    writer = GatedWriter(client)
    future = writer.submit("upsert", "Contact", rows(1), external_id_field="Ext__c", bulk=True)
    threading.Timer(0.1, writer.gate.set).start()
    started = time.monotonic()
    writer.close()
    assert future.done() and time.monotonic() - started >= 0.05
    again = writer.submit("upsert", "Contact", rows(1), external_id_field="Ext__c", bulk=True)
    assert again.result(5)[0].ok
    writer.close()
    assert json.dumps([r.status for r in again.result()]) == '["created"]'
