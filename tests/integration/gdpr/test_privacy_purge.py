"""`sis-sync purge` against the emulator: open-day data 4 months after the event (event_registration
keeps P3M after the event) goes, a student and a person with a news consent stay, the dry run
writes nothing, --apply deletes and audits, and a later run does not recreate what was purged."""

from __future__ import annotations

from gdprfixtures import NEEDLES, emulator, invoke, project_fixture
from syncfixtures import SECRET, SyncProject, registration, student

from connector.gdpr.purge_job import run_purge
from connector.hashing import KeyHasher
from connector.records import WriteResult
from connector.state import open_store

__all__ = ["emulator"]

project = project_fixture(SyncProject)

LATER = "2027-03-14T09:00:00+00:00"  # 4 months after the open day of 2026-11-14
VISITOR = "daan.b@bezoeker.example"
FAN = "fenna.nieuws@bezoeker.example"
STUDENT_MAIL = "ermengarde.q@privemail.example"


def _seed(project: SyncProject) -> dict[str, str]:
    """A visitor without consent, a visitor with a news consent and an enrolled student who also
    visited; returns their Contact ids."""
    project.write_students([student("90817263", email=STUDENT_MAIL, achternaam="Quispelhoorn")])
    project.write_registrations(
        [
            registration("R-000001", VISITOR),
            registration(
                "R-000002",
                FAN,
                toestemming_nieuws="ja",
                toestemming_nieuws_op="2026-10-01T12:00:00+02:00",
                toestemming_nieuws_bron="aanmeldformulier",
            ),
            registration("R-000003", STUDENT_MAIL),
        ]
    )
    assert project.run().exit_code() == 0
    contacts = {}
    for mail in (VISITOR, FAN, STUDENT_MAIL):
        contacts[mail] = project.query(f"SELECT Id FROM Contact WHERE Email = '{mail}'")[0]["Id"]
    return contacts


def _ids(project: SyncProject, obj: str) -> set[str]:
    return {r["Id"] for r in project.query(f"SELECT Id FROM {obj}")}


def _children(project: SyncProject, contact: str) -> dict[str, set[str]]:
    return {
        "CampaignMember": {
            r["Id"]
            for r in project.query(f"SELECT Id FROM CampaignMember WHERE ContactId = '{contact}'")
        },
        "Task": {r["Id"] for r in project.query(f"SELECT Id FROM Task WHERE WhoId = '{contact}'")},
    }


def _later(project: SyncProject) -> None:
    project.env["SIS_SYNC_NOW"] = LATER


def _store(project: SyncProject):
    return open_store(f"sqlite:///{project.folder / 'state' / 'sync.db'}")


def test_nothing_expires_before_three_months(project: SyncProject) -> None:
    _seed(project)
    result = invoke(project, "purge", "--as-of", "2027-02-14")  # event + P3M: still kept
    assert result.exit_code == 0, result.output
    assert "nothing has expired" in result.output


def test_dry_run_lists_the_expired_records_and_deletes_nothing(project: SyncProject) -> None:
    contacts = _seed(project)
    visitor = _children(project, contacts[VISITOR])
    before = {o: _ids(project, o) for o in ("Contact", "CampaignMember", "Task", "Campaign")}
    _later(project)

    result = invoke(project, "purge")

    assert result.exit_code == 0, result.output
    assert "Would delete" in result.output
    assert contacts[VISITOR] in result.output
    deletes, _, clears = result.output.partition("Would clear")
    assert contacts[FAN] not in deletes and contacts[STUDENT_MAIL] not in deletes
    # The student's Contact, which her registration joined, stays for her enrolment; of what
    # only the visit justified, the field the enrolment does not need goes (LeadSource), the
    # ones it needs (e-mail, name, lifecycle) stay.
    [student_line] = [line for line in clears.splitlines() if contacts[STUDENT_MAIL] in line]
    assert "fields LeadSource cleared" in student_line
    # The fan stays for her news consent, without what only the visit justified (art. 5(1)(c)).
    assert contacts[FAN] in clears and "FirstName" in clears
    assert "event_registration: event_date + P3M (at the latest on 2027-02-14)" in result.output
    assert "recruitment_news: consent never given" in result.output
    assert "persons purged (planned): 1" in result.output
    assert "kept because something about them is still justified: 1" in result.output
    assert "students: never purged" not in result.output  # enrolment has a retention rule
    assert not [n for n in NEEDLES if n in result.output]
    assert VISITOR not in result.output
    assert {o: _ids(project, o) for o in before} == before
    with _store(project) as store:
        assert store.audit_log() == []
        assert store.recent_runs(job="purge") == []
    # --as-of previews the same from today's clock, and refuses --apply on another day.
    del project.env["SIS_SYNC_NOW"]
    preview = invoke(project, "purge", "--as-of", "2027-03-14")
    assert preview.exit_code == 0 and contacts[VISITOR] in preview.output
    assert all(i in preview.output for ids in visitor.values() for i in list(ids)[:1])
    refused = invoke(project, "purge", "--as-of", "2027-03-14", "--apply")
    assert refused.exit_code == 2
    assert {o: _ids(project, o) for o in before} == before


def test_apply_deletes_audits_and_a_run_does_not_recreate(project: SyncProject) -> None:
    contacts = _seed(project)
    visitor = _children(project, contacts[VISITOR])
    student_children = _children(project, contacts[STUDENT_MAIL])
    fan = _children(project, contacts[FAN])
    assert visitor["CampaignMember"] and visitor["Task"]
    # The visitor's "nee" is an OptOut consent on their Individual: both go with them.
    [link] = project.query(f"SELECT IndividualId FROM Contact WHERE Id = '{contacts[VISITOR]}'")
    ind = link["IndividualId"]
    consent_model = {ind} | {
        r["Id"]
        for r in project.query(f"SELECT Id FROM ContactPointTypeConsent WHERE PartyId = '{ind}'")
    }
    _later(project)

    result = invoke(project, "purge", "--apply")

    assert result.exit_code == 0, result.output
    assert contacts[VISITOR] not in _ids(project, "Contact")
    assert {contacts[FAN], contacts[STUDENT_MAIL]} <= _ids(project, "Contact")
    for obj in ("CampaignMember", "Task"):
        assert not visitor[obj] & _ids(project, obj)
        # Children go when expired even when the person stays (the fan, the student).
        assert not (fan[obj] | student_children[obj]) & _ids(project, obj)
    assert len(_ids(project, "Campaign")) == 1  # event_administration keeps it 2 years
    gone = {contacts[VISITOR]} | set().union(*visitor.values(), *fan.values(),
                                              *student_children.values(), consent_model)  # fmt: skip
    with _store(project) as store:
        audit = [e for _, e in store.audit_log()]
        assert {e.sf_id for e in audit if e.action == "purge"} == gone
        assert all("retention" in e.reason for e in audit)
        assert not [n for n in [*NEEDLES, VISITOR, FAN] if n in repr(audit)]
        assert store.recent_runs(job="purge")[0].status == "ok"

    report = project.run()  # the same source still holds the visitor and the registrations

    assert report.exit_code() == 0, report.summary()
    assert contacts[VISITOR] not in _ids(project, "Contact")
    assert not project.query(f"SELECT Id FROM Contact WHERE Email = '{VISITOR}'")
    assert not set().union(*visitor.values()) & (_ids(project, "CampaignMember") | _ids(
        project, "Task"))  # fmt: skip
    again = invoke(project, "purge", "--apply")
    assert again.exit_code == 0 and "nothing has expired" in again.output


class _RefusingTasks:
    """The real writer, except that Salesforce refuses every Task delete (a locked row)."""

    def __init__(self, settings):
        from connector.salesforce import connect

        self.real = connect(settings.salesforce)

    def __getattr__(self, name):
        return getattr(self.real, name)

    def delete(self, obj, ids, **kw):
        if obj == "Task":
            return [WriteResult(ok=False, sf_id=i, error_code="UNABLE_TO_LOCK_ROW") for i in ids]
        return self.real.delete(obj, ids, **kw)


def test_a_refused_delete_is_retried_by_the_next_purge(project: SyncProject) -> None:
    contacts = _seed(project)
    tasks = _children(project, contacts[VISITOR])["Task"]
    _later(project)
    settings = project.settings()
    hasher = KeyHasher(SECRET)

    failed = run_purge(settings, apply=True, hasher=hasher, writer_factory=_RefusingTasks)

    assert failed.exit_code == 1
    assert {sf_id for _, sf_id, _ in failed.failed} >= tasks
    assert contacts[VISITOR] in _ids(project, "Contact")  # the parent stays while a child does
    assert tasks <= _ids(project, "Task")
    assert not _ids(project, "CampaignMember")  # what Salesforce accepted is gone
    with _store(project) as store:
        assert store.recent_runs(job="purge")[0].status == "partial"

    finished = invoke(project, "purge", "--apply")

    assert finished.exit_code == 0, finished.output
    assert contacts[VISITOR] not in _ids(project, "Contact")
    assert not tasks & _ids(project, "Task")


def test_a_purged_visitor_who_registers_again_comes_back_as_new(project: SyncProject) -> None:
    contacts = _seed(project)
    _later(project)
    assert invoke(project, "purge", "--apply").exit_code == 0
    assert contacts[VISITOR] not in _ids(project, "Contact")

    # The old row is still in the export; a new registration for a later open day arrives.
    rows = [
        registration("R-000001", VISITOR),
        registration(
            "R-000007",
            VISITOR,
            evenement_id="OD-2027-03-20-UTR",
            evenement_naam="Open dag Utrecht 20 maart",
            evenement_datum="2027-03-20",
            ingecheckt="nee",
        ),
    ]
    project.write_students([])
    project.write_registrations(rows)
    report = project.run()

    assert report.exit_code() == 0, report.summary()
    [back] = project.query(f"SELECT Id FROM Contact WHERE Email = '{VISITOR}'")
    assert back["Id"] != contacts[VISITOR]  # a new Contact, not a write to the purged one
    members = project.query(
        f"SELECT Id, CampaignId FROM CampaignMember WHERE ContactId = '{back['Id']}'"
    )
    assert len(members) == 1  # the new event only: the purged membership stays purged
    again = project.run()
    assert again.totals()["created"] + again.totals()["updated"] == 0
