"""Batched purge and erase against the emulator: API calls grow with chunks, not persons.

300 open-day visitors, each a Contact with a CampaignMember and a Task, expire together. The
preview and the purge read every graph with a handful of queries and delete per object across
persons (sObject Collections; Bulk API 2.0 above ``bulk_threshold``); children go before their
Contact, every deleted record has its audit line, and an erasure (a batch of one) still reads
children with ``queryAll`` (archived activities) and deletes them before the person.
"""

from __future__ import annotations

import math

from gdprfixtures import EMAIL, invoke, project_fixture, seed
from syncfixtures import SECRET, SyncProject, emulator, registration

from connector.gdpr.purge_job import run_purge
from connector.hashing import KeyHasher
from connector.state import open_store

__all__ = ["emulator"]

project = project_fixture(SyncProject)

LATER = "2027-03-14T09:00:00+00:00"  # 4 months after the open day of 2026-11-14 (keeps P3M)
PERSONS = 300


class _Recording:
    """The real writer, noting every query batch and every delete (object, count, hard)."""

    def __init__(self, settings, log: list[tuple]):
        from connector.salesforce import connect

        self.real, self.log = connect(settings.salesforce), log

    def __getattr__(self, name):
        return getattr(self.real, name)

    def query_many(self, soqls, *, include_deleted=False):
        self.log.append(("query", tuple(soqls), include_deleted))
        return self.real.query_many(soqls, include_deleted=include_deleted)

    def delete(self, obj, ids, **kw):
        self.log.append(("delete", obj, len(ids), kw.get("hard", False)))
        return self.real.delete(obj, ids, **kw)


def _visitors(project: SyncProject, n: int) -> None:
    project.write_registrations(
        [registration(f"R-{i:06d}", f"bezoeker{i}@voorbeeld.example") for i in range(n)]
    )
    report = project.run()
    assert report.exit_code() == 0, report.summary()


def _count(project: SyncProject, obj: str) -> int:
    return len(project.query(f"SELECT Id FROM {obj}"))


def _calls(project: SyncProject, fn) -> int:
    before = project.api_calls()
    fn()
    return project.api_calls() - before


def test_purging_300_persons_costs_a_few_calls_not_seven_per_person(project: SyncProject) -> None:
    _visitors(project, PERSONS)
    assert _count(project, "Task") == _count(project, "CampaignMember") == PERSONS
    project.env["SIS_SYNC_NOW"] = LATER

    preview_calls = _calls(project, lambda: invoke(project, "purge"))
    log: list[tuple] = []
    settings = project.settings()
    out = None

    def apply() -> None:
        nonlocal out
        factory = lambda s: _Recording(s, log)  # noqa: E731
        out = run_purge(settings, apply=True, hasher=KeyHasher(SECRET), writer_factory=factory)

    apply_calls = _calls(project, apply)

    assert out is not None and out.exit_code == 0 and out.persons == PERSONS
    # Each visitor's "nee" to the news is an OptOut ContactPointTypeConsent on an Individual
    # (consent model): they go with the person (consent_graph.py).
    assert out.deleted == 5 * PERSONS
    for obj in ("Contact", "Task", "CampaignMember", "Individual", "ContactPointTypeConsent"):
        assert _count(project, obj) == 0, obj
    # Reading: Task, Event, CampaignMember and Contact ids of 300 persons fit one IN list each,
    # and the four queries one /composite call; the consent model adds two describes (cached)
    # and two /composite calls (the Contacts' IndividualId; then other holders, consents and
    # keys). Deleting: ⌈300/200⌉ collections calls per object.
    per_object = math.ceil(PERSONS / 200)
    assert preview_calls <= 1 + 2 + 2, preview_calls
    assert apply_calls <= 1 + 2 + 2 + 5 * per_object, apply_calls
    # Children before their Contact, the Individual after it; one delete per object.
    deletes = [(obj, n) for kind, obj, n, *_ in log if kind == "delete"]
    assert [obj for obj, _ in deletes] == [
        "Task", "CampaignMember", "ContactPointTypeConsent", "Contact", "Individual",
    ]  # fmt: skip
    assert all(n == PERSONS for _, n in deletes)
    with open_store(f"sqlite:///{project.folder / 'state' / 'sync.db'}") as store:
        audit = store.audit_log(limit=10 * PERSONS)
        purged = [e for _, e in audit if e.action == "purge"]
        assert len(purged) == 5 * PERSONS == len({e.sf_id for e in purged})


def test_above_the_bulk_threshold_deletes_go_through_bulk_jobs(project: SyncProject) -> None:
    _visitors(project, 60)
    project.env["SIS_SYNC_NOW"] = LATER
    settings = project.settings(SIS_SYNC_SALESFORCE__BULK_THRESHOLD="50")
    before = project.emulator.stats()["requests"]

    out = run_purge(settings, apply=True, hasher=KeyHasher(SECRET))

    after = project.emulator.stats()["requests"]
    assert out.exit_code == 0 and out.deleted == 5 * 60  # with Individuals and consents
    assert after.get("POST jobs/ingest", 0) - before.get("POST jobs/ingest", 0) == 5
    assert after.get("DELETE composite/sobjects", 0) == before.get("DELETE composite/sobjects", 0)
    # A Bulk "delete" (not hardDelete): the records wait in the recycle bin.
    client = project.emulator.client()
    for obj in ("Task", "CampaignMember", "Contact"):
        binned = client.query_all(f"SELECT Id, IsDeleted FROM {obj}", include_deleted=True)
        assert len(binned["records"]) == 60 and all(r["IsDeleted"] for r in binned["records"])


def test_erase_reads_children_with_query_all_and_deletes_them_before_the_person(
    project: SyncProject,
) -> None:
    seed(project)
    log: list[tuple] = []
    from connector.gdpr.erasure import subject_of
    from connector.gdpr.erasure_job import erase_person

    hasher = KeyHasher(SECRET)
    out = erase_person(
        project.settings(),
        subject_of(hasher, email=EMAIL),
        apply=True,
        hasher=hasher,
        writer_factory=lambda s: _Recording(s, log),
    )

    assert out.result is not None and out.result.complete
    queries = [entry for entry in log if entry[0] == "query"]
    # Archived Tasks and Events are found only by queryAll (Salesforce archives activities
    # older than a year; plain query skips them).
    assert queries and all(include_deleted for _, _, include_deleted in queries)
    soqls = [s for _, batch, _ in queries for s in batch]
    assert any("FROM Task WHERE WhoId IN" in s for s in soqls)
    assert any("FROM Event WHERE WhoId IN" in s for s in soqls)
    objects = [obj for kind, obj, *_ in log if kind == "delete"]
    # The person's Individual after the Contact (its lookup), consents with the children.
    assert objects[-2:] == ["Contact", "Individual"]
    assert {"Task", "CampaignMember", "ContactPointTypeConsent"} <= set(objects[:-2])
    assert not project.query(f"SELECT Id FROM Contact WHERE Email = '{EMAIL}'")
