"""Writer through Bulk API 2.0: CSV shape, #N/A, result mapping, failed jobs, lock follow-up."""

from __future__ import annotations

import csv
import io
import json

import pytest

from connector.salesforce.bulk import cell, parse_error, to_csv
from connector.salesforce.writer import Writer

LOCK_ERROR = (
    "UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record or 1 records: 003xx:--"
)


class FakeBulk:
    """One Bulk 2.0 ingest job at a time; results computed by ``decide(row) -> error | None``."""

    def __init__(
        self, org, *, decide=lambda row: None, final_state="JobComplete", polls_in_progress=1
    ):
        self.org, self.decide = org, decide
        self.final_state, self.polls_left = final_state, polls_in_progress
        self.jobs: list[dict] = []
        self.uploads: list[str] = []
        org.route("POST", "jobs/ingest", self.create)
        org.route("PUT", r"jobs/ingest/750\d+/batches", self.upload)
        org.route("PATCH", r"jobs/ingest/750\d+", self.patch)
        org.route("GET", r"jobs/ingest/750\d+", self.info)
        org.route("GET", r"jobs/ingest/750\d+/successfulResults", self.successes)
        org.route("GET", r"jobs/ingest/750\d+/failedResults", self.failures)
        org.route("GET", r"jobs/ingest/750\d+/unprocessedrecords", self.unprocessed)

    def create(self, request):
        job = json.loads(request.body) | {"id": f"750{len(self.jobs):015d}", "state": "Open"}
        self.jobs.append(job)
        return 200, job

    def upload(self, request):
        self.uploads.append(request.body.decode())
        return 201, None

    def patch(self, request):
        self.jobs[-1]["state"] = json.loads(request.body)["state"]
        return 200, self.jobs[-1]

    def rows(self):
        return list(csv.DictReader(io.StringIO(self.uploads[-1])))

    def info(self, request):
        job = self.jobs[-1]
        if self.polls_left:
            self.polls_left -= 1
            return 200, job | {"state": "InProgress"}
        rows = self.rows()
        done = rows if self.final_state == "JobComplete" else rows[: len(rows) // 2]
        failed = sum(1 for r in done if self.decide(r))
        job = job | {
            "state": self.final_state,
            "numberRecordsProcessed": len(done),
            "numberRecordsFailed": failed,
        }
        if self.final_state == "Failed":
            job["errorMessage"] = "InvalidBatch : something broke"
        return 200, job

    def _csv(self, header, rows):
        out = io.StringIO()
        writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        return 200, out.getvalue()

    def _done(self):
        rows = self.rows()
        return rows if self.final_state == "JobComplete" else rows[: len(rows) // 2]

    def successes(self, request):
        rows = [r for r in self._done() if not self.decide(r)]
        cols = list(self.rows()[0]) if self.rows() else []
        key = self.jobs[-1].get("externalIdFieldName") or "Id"
        # Reverse order: Bulk 2.0 does not promise input order.
        return self._csv(
            ["sf__Id", "sf__Created", *cols],
            [[f"003S{r[key]}", "true", *r.values()] for r in reversed(rows)],
        )

    def failures(self, request):
        rows = [r for r in self._done() if self.decide(r)]
        cols = list(self.rows()[0]) if self.rows() else []
        return self._csv(
            ["sf__Id", "sf__Error", *cols], [["", self.decide(r), *r.values()] for r in rows]
        )

    def unprocessed(self, request):
        rows = self.rows()[len(self._done()) :]
        return self._csv(list(self.rows()[0]), [list(r.values()) for r in rows])


@pytest.fixture
def writer(client):
    return Writer(client, bulk_threshold=5, sleep=lambda s: None, poll_initial=0.0)


def test_csv_cells_clear_with_na_and_leave_missing_keys_empty():
    assert cell(None) == "#N/A"
    assert cell("") == "#N/A"
    assert cell(True) == "true"
    text = to_csv(
        [{"Ext__c": "A", "Email": None}, {"Ext__c": "B", "Phone": "+31 6"}],
        ["Ext__c", "Email", "Phone"],
    )
    assert text == "Ext__c,Email,Phone\nA,#N/A,\nB,,+31 6\n"


def test_parse_error_splits_code_message_and_fields():
    assert parse_error(
        "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --"
    ) == (
        "REQUIRED_FIELD_MISSING",
        "Required fields are missing: [LastName]",
        ("LastName",),
    )
    assert parse_error(LOCK_ERROR) == (
        "UNABLE_TO_LOCK_ROW",
        "unable to obtain exclusive access to this record or 1 records: 003xx",
        (),
    )


def test_bulk_upsert_maps_unordered_results_back_to_input(writer, org):
    bad = "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --"
    bulk = FakeBulk(org, decide=lambda r: bad if r["Ext__c"] == "E3" else None)
    rows = [{"Ext__c": f"E{i}", "LastName": f"L{i}", "Email": None} for i in range(8)]
    results = writer.upsert("Contact", "Ext__c", rows)

    assert bulk.jobs[0]["operation"] == "upsert"
    assert bulk.jobs[0]["externalIdFieldName"] == "Ext__c"
    assert (bulk.jobs[0]["contentType"], bulk.jobs[0]["lineEnding"]) == ("CSV", "LF")
    assert bulk.uploads[0].splitlines()[:2] == ["Ext__c,LastName,Email", "E0,L0,#N/A"]
    assert [r.sf_id for i, r in enumerate(results) if i != 3] == [
        f"003SE{i}" for i in range(8) if i != 3
    ]
    assert all(r.created for i, r in enumerate(results) if i != 3)
    assert (results[3].ok, results[3].error_code, results[3].fields) == (
        False,
        "REQUIRED_FIELD_MISSING",
        ("LastName",),
    )
    # create, upload, close, 2 polls, successful + failed results
    assert writer.api_calls == 7


def test_bulk_delete_without_failures_skips_result_downloads(writer, org):
    bulk = FakeBulk(org, polls_in_progress=0)
    results = writer.delete("Contact", [f"003D{i}" for i in range(6)])
    assert bulk.jobs[0]["operation"] == "delete"
    assert bulk.uploads[0].splitlines()[0] == "Id"
    assert [r.sf_id for r in results] == [f"003D{i}" for i in range(6)]
    assert all(r.ok for r in results)
    assert writer.api_calls == 4
    assert not org.calls_to("Results")


def test_hard_delete_always_goes_through_bulk(writer, org):
    bulk = FakeBulk(org, polls_in_progress=0)
    writer.delete("Contact", ["003D1"], hard=True)
    assert bulk.jobs[0]["operation"] == "hardDelete"


def test_bulk_lock_failures_are_retried_through_collections(writer, org):
    FakeBulk(org, decide=lambda r: LOCK_ERROR if r["Ext__c"] in ("E2", "E5") else None)
    resent: list[list[str]] = []

    def collections(request):
        records = json.loads(request.body)["records"]
        resent.append([r["Ext__c"] for r in records])
        return 200, [
            {"id": "003C" + r["Ext__c"], "success": True, "errors": [], "created": True}
            for r in records
        ]

    org.route("PATCH", "composite/sobjects/Contact/Ext__c", collections)
    results = writer.upsert(
        "Contact", "Ext__c", [{"Ext__c": f"E{i}", "LastName": "x"} for i in range(7)]
    )
    assert resent == [["E2", "E5"]]
    assert all(r.ok for r in results)
    assert results[2].sf_id == "003CE2"
    assert results[3].sf_id == "003SE3"


def test_failed_job_leaves_unprocessed_rows_pending(writer, org):
    FakeBulk(org, final_state="Failed")
    rows = [{"Ext__c": f"E{i}", "LastName": "x"} for i in range(6)]
    results = writer.upsert("Contact", "Ext__c", rows)
    assert [r.ok for r in results[:3]] == [True] * 3
    assert {r.error_code for r in results[3:]} == {"BULK_JOB_FAILED"}
    assert "something broke" in results[3].message


def test_forced_bulk_below_threshold_and_forced_collections_above(writer, org):
    bulk = FakeBulk(org, polls_in_progress=0)
    writer.update("Contact", [{"Id": "003A", "Email": None}], bulk=True)
    assert bulk.uploads[0] == "Id,Email\n003A,#N/A\n"
    org.route(
        "PATCH",
        "composite/sobjects",
        lambda request: (
            200,
            [
                {"id": r["id"], "success": True, "errors": []}
                for r in json.loads(request.body)["records"]
            ],
        ),
    )
    writer.update("Contact", [{"Id": f"003{i}", "Email": None} for i in range(9)], bulk=False)
    assert len(bulk.jobs) == 1
