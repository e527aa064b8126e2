"""When a Bulk 2.0 job is polled (salesforce/bulk.py ``BulkJob._wait``): each poll is an API
call, and the last job of a load is what the run waits for."""

from __future__ import annotations

from typing import Any

from connector.salesforce.bulk import BulkJob


class _Polls:
    """A client whose job info answers come from a script, one per GET."""

    def __init__(self, answers: list[dict[str, Any]]):
        self.answers = answers

    def json(self, method: str, path: str, **_: Any) -> dict[str, Any]:
        assert (method, path) == ("GET", "jobs/ingest/750X")
        return self.answers.pop(0)


def _job(answers: list[dict[str, Any]], sleeps: list[float]) -> BulkJob:
    return BulkJob(_Polls(answers), sleep=sleeps.append)  # type: ignore[arg-type]


def test_the_first_poll_of_a_job_follows_the_pace_of_the_last_one():
    sleeps: list[float] = []
    job = _job(
        [
            {"state": "InProgress", "numberRecordsProcessed": 50_000},
            {
                "state": "JobComplete",
                "numberRecordsProcessed": 50_000,
                "totalProcessingTime": 2_000,
            },
        ],
        sleeps,
    )
    # Nothing known of the org yet: half a second plus a second per 10,000 rows.
    assert job.first_poll(50_000) == 5.5
    job._wait("750X", 50_000)
    # Every record counted but not terminal yet: polled again after poll_initial, not after
    # half the time waited so far.
    assert sleeps == [5.5, 0.5]
    # The org did 50,000 rows in 2 s: the next job of that size is polled after 2 s.
    assert job.rate == 25_000
    assert job.first_poll(50_000) == 2.0
    assert job.first_poll(100) == 0.5  # never sooner than poll_initial
    assert job.first_poll(10_000_000) == 15.0  # nor later than poll_max


def test_small_or_untimed_jobs_teach_nothing():
    job = _job([], [])
    job.learn({"numberRecordsProcessed": 500, "totalProcessingTime": 400})
    job.learn({"numberRecordsProcessed": 50_000, "totalProcessingTime": 0})
    job.learn({"numberRecordsProcessed": "many", "totalProcessingTime": "slow"})
    assert job.rate is None
    assert job.first_poll(20_000) == 2.5


def test_a_failed_job_does_not_set_the_pace():
    sleeps: list[float] = []
    job = _job(
        [{"state": "Failed", "numberRecordsProcessed": 5_000, "totalProcessingTime": 100}], sleeps
    )
    job._wait("750X", 50_000)
    assert job.rate is None
