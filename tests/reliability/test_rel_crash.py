"""Crash safety (DESIGN §9): kill `sis-sync run` part-way, run again, and the org ends exactly as
after one clean run — no duplicates, nothing lost — and a further run writes nothing.

The run is a real subprocess killed with SIGKILL (no cleanup handlers run), once while writing
through sObject Collections and once while writing through Bulk API 2.0, and at random moments
while it writes CampaignMembers and Tasks: those that reached Salesforce without the state
knowing are written again with their create-only CampaignId/ContactId, and must still land.
"""

from __future__ import annotations

import json
import random
import signal
from collections import Counter
from collections.abc import Callable

import pytest
from relfixtures import CliProject, registration, student, wait_until

from connector.state import OutboxStatus, open_store

STUDENTS = 1_200
VISITORS = 150


def _write_data(project: CliProject) -> None:
    project.write_students([student(f"8{i:05d}") for i in range(STUDENTS)])
    project.write_registrations(
        [registration(f"REG-{i:06d}", f"bezoeker{i}@mail.example") for i in range(VISITORS)]
    )


def _assert_org_complete(project: CliProject) -> None:
    """Exactly one record per source record, each external id once."""
    students = project.external_ids("Contact", "SIS_Student_Number__c")
    numbers = [n for n in students if n is not None]
    assert len(students) == STUDENTS + VISITORS  # students + prospect Contacts of the visitors
    assert sorted(numbers) == sorted(f"8{i:05d}" for i in range(STUDENTS))
    for obj, expected in (("Contact", VISITORS), ("CampaignMember", VISITORS), ("Task", VISITORS)):
        keys = [k for k in project.external_ids(obj, "SIS_Sync_Key__c") if k is not None]
        dupes = [k for k, n in Counter(keys).items() if n > 1]
        assert not dupes, f"{obj}: duplicate external ids after the replay: {len(dupes)}"
        assert len(keys) == expected, obj
    assert project.live_records("CampaignMember") == VISITORS
    assert project.live_records("Task") == VISITORS
    assert project.live_records("Campaign") == 1


def _kill_part_way(project: CliProject, landed: Callable[[], bool], **env: str) -> None:
    """Start a run, SIGKILL it once ``landed()`` holds, and check it really was part-way."""
    proc = project.spawn("run", "nightly", name="killed", **env)
    try:
        reached = wait_until(lambda: landed() or proc.poll() is not None, timeout=40)
        assert reached and proc.poll() is None, (
            "the run ended before it could be killed part-way:\n" + project.output("killed")
        )
        proc.send_signal(signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL


def _replay_and_check(project: CliProject, strategy: str, **env: str) -> None:
    project.emulator.faults(latency_ms=0)
    second = project.cli("run", "nightly", **env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert project.last_report()["mappings"]["students"]["strategy"] == strategy
    _assert_org_complete(project)

    # Every outbox row of the killed run was closed by the replay: nothing is left NEW or SENT.
    store = open_store(f"sqlite:///{project.state_file}")
    try:
        counts = store.outbox_counts()
    finally:
        store.close()
    assert counts.get(OutboxStatus.NEW.value, 0) == 0, counts
    assert counts.get(OutboxStatus.SENT.value, 0) == 0, counts

    before = project.api_calls()
    third = project.cli("run", "nightly", **env)
    assert third.returncode == 0, third.stdout + third.stderr
    assert project.api_calls() == before  # not one read or write
    totals = project.last_report()["totals"]
    assert totals["created"] + totals["updated"] == 0, json.dumps(totals)
    _assert_org_complete(project)


@pytest.mark.slow
def test_killed_collections_run_replays_without_duplicates(project: CliProject) -> None:
    _write_data(project)
    # Every record through sObject Collections (6 calls of 200 students), slowed so the kill
    # lands between two calls of the students' upsert.
    env = {"SIS_SYNC_SALESFORCE__BULK_THRESHOLD": "1000000"}
    project.emulator.faults(latency_ms=250)
    _kill_part_way(project, lambda: project.live_records("Contact") >= 400, **env)
    assert project.live_records("Contact") < STUDENTS + VISITORS
    _replay_and_check(project, "collections", **env)


@pytest.mark.slow
def test_killed_bulk_run_replays_without_duplicates(project: CliProject) -> None:
    _write_data(project)
    # The students (above the threshold) go through Bulk API 2.0. Kill once their job has
    # landed in the org: the client is still polling it (the first poll always reports
    # InProgress), so the state knows nothing of those records yet.
    env = {"SIS_SYNC_SALESFORCE__BULK_THRESHOLD": "500"}
    project.emulator.faults(latency_ms=50)
    _kill_part_way(project, lambda: project.live_records("Contact") >= STUDENTS, **env)
    assert project.live_records("CampaignMember") == 0
    _replay_and_check(project, "bulk2", **env)


def _consent_model(project: CliProject) -> dict[str, int]:
    """Individuals, their Contact links and ContactPointTypeConsents, and the duplicates."""
    individuals = project.external_ids("Individual", "SIS_Individual_Key__c")
    consents = project.external_ids("ContactPointTypeConsent", "SIS_Consent_Key__c")
    linked = [r["IndividualId"] for r in project.query("SELECT IndividualId FROM Contact")]
    return {
        "Individual": len(individuals),
        "linked": sum(1 for i in linked if i),
        "ContactPointTypeConsent": len(consents),
        "duplicates": len(individuals) - len(set(individuals)) + len(consents) - len(set(consents)),
    }


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["Individual", "ContactPointTypeConsent"])
def test_killed_while_writing_consents_converges(project: CliProject, moment: str) -> None:
    _write_data(project)
    # Every student has both consents with proof (OptIn ×2), every visitor said "nee" to the
    # news (OptOut ×1): one Individual each. The Contacts land first, then the consent model:
    # kill once its first Bulk job (Individuals, or the consents) has landed, before the run
    # records it — the Contacts' rows were already synced.
    persons = STUDENTS + VISITORS
    expected = {
        "Individual": persons,
        "linked": persons,
        "ContactPointTypeConsent": 2 * STUDENTS + VISITORS,
        "duplicates": 0,
    }
    env = {"SIS_SYNC_SALESFORCE__BULK_THRESHOLD": "500"}
    project.emulator.faults(latency_ms=50)
    _kill_part_way(project, lambda: project.live_records(moment) >= 1, **env)
    assert _consent_model(project) != expected  # really part-way

    project.emulator.faults(latency_ms=0)
    again = project.cli("run", "nightly", **env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert _consent_model(project) == expected
    before = project.api_calls()
    assert project.cli("run", "nightly", **env).returncode == 0
    assert project.api_calls() == before  # converged: nothing left to write


def test_killed_run_is_not_reported_as_running_after_the_next_run(project: CliProject) -> None:
    # The run lock is free again once its holder died, so a run row still "running" without a
    # holder is a dead run; `sis-sync status` must not keep showing it as in progress.
    project.write_students([student(f"8{i:05d}") for i in range(400)])
    project.emulator.faults(latency_ms=500)
    _kill_part_way(project, lambda: project.live_records("Contact") > 0)
    project.emulator.faults(latency_ms=0)
    assert project.cli("run", "nightly").returncode == 0
    status = project.cli("status", "--json")
    assert status.returncode == 0, status.stderr
    runs = json.loads(status.stdout)["runs"]
    assert len(runs) == 2
    assert [r["status"] for r in runs].count("ok") == 1
    assert "running" not in [r["status"] for r in runs], runs


MEMBERS = 120


def _visits(project: CliProject, *, all_attended: bool) -> None:
    """MEMBERS visitors of one open day; every other one checked in, or all of them."""
    project.write_students([student(f"7{i:05d}") for i in range(40)])
    project.write_registrations(
        [
            registration(
                f"REG-{i:06d}",
                f"gast{i}@mail.example",
                ingecheckt="ja" if all_attended or i % 2 == 0 else "nee",
            )
            for i in range(MEMBERS)
        ]
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("obj", "threshold", "seed"),
    [
        ("CampaignMember", "1000000", 1),
        ("CampaignMember", "1000000", 2),
        ("Task", "1000000", 3),
        ("CampaignMember", "100", 4),  # the members through Bulk API 2.0
    ],
)
def test_killed_while_writing_members_and_tasks_converges(
    project: CliProject, obj: str, threshold: str, seed: int
) -> None:
    _visits(project, all_attended=False)
    # 20 records per collections call and 150 ms per call: the kill lands between two calls,
    # after some records reached Salesforce and before the state recorded them.
    env = {
        "SIS_SYNC_SALESFORCE__BULK_THRESHOLD": threshold,
        "SIS_SYNC_SALESFORCE__BATCH_SIZE": "20",
    }
    written = MEMBERS if obj == "CampaignMember" else MEMBERS // 2
    # Bulk lands a whole job at once; collections leave at least one call after the kill.
    moment = written if threshold == "100" else random.Random(seed).randrange(1, written - 20)
    project.emulator.faults(latency_ms=150)
    _kill_part_way(project, lambda: project.live_records(obj) >= moment, **env)

    # Everyone attended by now: Registered → Attended must land on members the state lost.
    _visits(project, all_attended=True)
    project.emulator.faults(latency_ms=0)
    again = project.cli("run", "nightly", **env)
    assert again.returncode == 0, again.stdout + again.stderr
    totals = project.last_report()["totals"]
    assert totals["failed"] == 0, json.dumps(totals)

    for name in ("Contact", "CampaignMember", "Task"):
        keys = [k for k in project.external_ids(name, "SIS_Sync_Key__c") if k is not None]
        dupes = [k for k, n in Counter(keys).items() if n > 1]
        assert not dupes, f"{name}: {len(dupes)} duplicate external ids"
    members = project.query("SELECT Status FROM CampaignMember")
    assert len(members) == MEMBERS
    assert {m["Status"] for m in members} == {"Attended"}
    assert project.live_records("Task") == MEMBERS
