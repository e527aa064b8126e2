"""`sis-sync erase` against the emulator: the graph, the dry run, the tombstones, idempotence,
a failure part-way, the ambiguous e-mail and no personal value in what it leaves behind."""

from __future__ import annotations

import pytest
from gdprfixtures import EMAIL, NEEDLES, NUMBER, emulator, invoke, project_fixture, seed
from syncfixtures import SyncProject, registration, student
from tenacity import wait_none

from connector.salesforce import client as sf_client
from connector.salesforce import writer as sf_writer
from connector.state import open_store

__all__ = ["emulator"]

project = project_fixture(SyncProject)


def _ids(project: SyncProject, obj: str) -> set[str]:
    return {r["Id"] for r in project.query(f"SELECT Id FROM {obj}")}


def _store(project: SyncProject):
    return open_store(f"sqlite:///{project.folder / 'state' / 'sync.db'}")


def _graph_ids(project: SyncProject) -> dict[str, str]:
    """The person's Contact, CampaignMember and Task ids, found by the other records' ids."""
    contact = project.query(f"SELECT Id FROM Contact WHERE SIS_Student_Number__c = '{NUMBER}'")[0][
        "Id"
    ]
    member = project.query(f"SELECT Id FROM CampaignMember WHERE ContactId = '{contact}'")[0]["Id"]
    task = project.query(f"SELECT Id FROM Task WHERE WhoId = '{contact}'")[0]["Id"]
    return {"Contact": contact, "CampaignMember": member, "Task": task}


def test_dry_run_shows_the_graph_and_deletes_nothing(project: SyncProject) -> None:
    seed(project)
    graph = _graph_ids(project)
    before = {o: _ids(project, o) for o in ("Contact", "CampaignMember", "Task")}
    # A terminal wide enough for the ContactPointTypeConsent rows (consent model) beside
    # "students, registrants" on one line.
    project.env["COLUMNS"] = "120"

    result = invoke(project, "erase", "--email", EMAIL)

    assert result.exit_code == 0, result.output
    for obj, sf_id in graph.items():
        assert sf_id in result.output and obj in result.output
    assert result.output.count(graph["Contact"]) == 1  # student and registrant: one Contact
    assert "students, registrants" in result.output
    assert "would delete" in result.output
    assert not [n for n in NEEDLES if n in result.output]
    assert {o: _ids(project, o) for o in before} == before
    with _store(project) as store:
        assert not store.has_suppressions()


def test_apply_by_email_erases_the_graph_and_a_run_recreates_nothing(
    project: SyncProject,
) -> None:
    seed(project)
    graph = _graph_ids(project)
    before = {o: _ids(project, o) for o in graph}

    result = invoke(project, "erase", "--email", EMAIL, "--apply")

    assert result.exit_code == 0, result.output
    for obj, sf_id in graph.items():
        assert _ids(project, obj) == before[obj] - {sf_id}  # the other student/visitor stay
    with _store(project) as store:
        assert store.find_persons(student_hashes=[], email_hashes=[]).by_student == {}
        audit = [e for _, e in store.audit_log()]
        erased = {(e.object, e.sf_id) for e in audit if e.action == "erase"}
        assert set(graph.items()) <= erased
        # With the Contact go its Individual and consents (consent_graph.py).
        assert sorted(o for o, _ in erased - set(graph.items())) == [
            "ContactPointTypeConsent", "ContactPointTypeConsent", "Individual",
        ]  # fmt: skip
        assert store.mapping_counts() == {
            "students": 1,
            "events": 1,
            "registrants": 1,
            "registrations": 1,
            "registration_tasks": 1,
            # The other student's and visitor's consent records; the person's are forgotten.
            "consent:individual": 2,
            "consent:recruitment_news": 2,
            "consent:phone_contact": 1,
        }

    report = project.run()  # the source still holds the person: tombstones keep them out

    assert report.exit_code() == 0, report.summary()
    assert {o: _ids(project, o) for o in graph} == {o: before[o] - {graph[o]} for o in graph}
    counts = {name: m.suppressed for name, m in report.mappings.items()}
    assert counts == {
        "students": 1,
        "events": 0,
        "registrants": 1,
        "registrations": 1,
        "registration_tasks": 1,
    }


def test_apply_by_student_number_twice_is_harmless(project: SyncProject) -> None:
    seed(project, others=False)
    first = invoke(project, "erase", "--student-number", NUMBER, "--apply")
    assert first.exit_code == 0, first.output
    assert _ids(project, "Contact") == set()

    again = invoke(project, "erase", "--student-number", NUMBER, "--apply")

    assert again.exit_code == 0, again.output
    assert "already erased" in again.output
    with _store(project) as store:
        # Contact, CampaignMember, Task, Individual and two ContactPointTypeConsents, once.
        assert len([e for _, e in store.audit_log() if e.action == "erase"]) == 6


def test_a_child_salesforce_refuses_keeps_local_state_so_erase_again_finishes(
    project: SyncProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every retry of a refused write is waited out, not the point here (about 45 s).
    monkeypatch.setattr(sf_client, "default_retry_wait", wait_none)
    monkeypatch.setattr(sf_writer, "LOCK_BACKOFF", 0.0)
    seed(project, others=False)
    graph = _graph_ids(project)
    # Every record write refused with UNABLE_TO_LOCK_ROW (after the writer's retries).
    project.emulator.faults(lock_error_rate=1.0)
    failed = invoke(project, "erase", "--email", EMAIL, "--apply")
    project.emulator.faults(lock_error_rate=0)

    assert failed.exit_code == 1, failed.output
    assert graph["Contact"] in _ids(project, "Contact")  # the parent stays while a child does
    with _store(project) as store:
        assert store.mapping_counts()["students"] == 1  # local state kept for the next attempt

    finished = invoke(project, "erase", "--email", EMAIL, "--apply")

    assert finished.exit_code == 0, finished.output
    assert {o: _ids(project, o) for o in graph} == {o: set() for o in graph}
    with _store(project) as store:
        assert store.mapping_counts().get("students", 0) == 0


def test_a_staff_task_on_the_contact_is_erased_too(project: SyncProject) -> None:
    seed(project, others=False)
    contact = _graph_ids(project)["Contact"]
    staff = project.emulator.client().Task.create({"WhoId": contact, "Subject": "Belnotitie"})

    result = invoke(project, "erase", "--student-number", NUMBER, "--apply")

    assert result.exit_code == 0, result.output
    assert "Task.WhoId" in result.output
    assert staff["id"] not in _ids(project, "Task")


def test_hard_erase_bypasses_the_recycle_bin(project: SyncProject) -> None:
    seed(project, others=False)
    contact = _graph_ids(project)["Contact"]

    result = invoke(project, "erase", "--student-number", NUMBER, "--apply", "--hard")

    assert result.exit_code == 0, result.output
    bin_ = project.emulator.client().query_all(
        f"SELECT Id FROM Contact WHERE Id = '{contact}'",
        include_deleted=True,
    )
    assert bin_["records"] == []


def test_ambiguous_email_is_refused_with_exit_2(project: SyncProject) -> None:
    shared = "familie.jansen@thuis.example"
    project.write_students([student("150001", email=shared), student("150002", email=shared)])
    assert project.run().exit_code() == 0

    result = invoke(project, "erase", "--email", shared, "--apply")

    assert result.exit_code == 2
    assert "--student-number" in str(result.exception)
    assert shared not in str(result.exception)
    assert len(_ids(project, "Contact")) == 2


def test_nobody_known_exits_1_and_suppress_only_keeps_them_out(project: SyncProject) -> None:
    seed(project, others=False)
    newcomer = "150777"

    missing = invoke(project, "erase", "--student-number", newcomer, "--apply")
    assert missing.exit_code == 1
    assert "--suppress-only" in missing.output and newcomer not in missing.output

    added = invoke(project, "erase", "--student-number", newcomer, "--suppress-only", "--apply")
    assert added.exit_code == 0, added.output
    project.write_students([student(newcomer)])
    project.write_registrations([])
    report = project.run()

    assert report.mappings["students"].suppressed == 1
    assert not project.query(f"SELECT Id FROM Contact WHERE SIS_Student_Number__c = '{newcomer}'")


def test_suppress_only_waits_for_runs_and_works_while_a_mapping_file_is_broken(
    project: SyncProject,
) -> None:
    """A run holding a mapping's lock could record the person after the tombstone, so
    suppress-only takes every job's and mapping's lock, as a full erasure does. A person may
    object while an admin is mid-edit: it needs neither Salesforce nor a loadable project."""
    seed(project, others=False)
    broken = project.folder / "mappings" / "registrations.yaml"
    broken.write_text("name: registrations\nfields: [unclosed\n", encoding="utf-8")
    preview = invoke(project, "erase", "--email", EMAIL, "--suppress-only")
    assert preview.exit_code == 0, preview.output
    with _store(project) as store, store.lock("registrations"):
        busy = invoke(project, "erase", "--email", EMAIL, "--suppress-only", "--apply")
        assert busy.exit_code != 0
        assert not store.has_suppressions()
    done = invoke(project, "erase", "--email", EMAIL, "--suppress-only", "--apply")
    assert done.exit_code == 0, done.output
    with _store(project) as store:
        assert store.has_suppressions()


def test_no_personal_value_in_output_audit_reports_or_state(project: SyncProject) -> None:
    seed(project)
    outputs = [
        invoke(project, "erase", "--email", EMAIL).output,
        invoke(project, "erase", "--email", EMAIL, "--apply").output,
    ]
    project.run()
    state = project.folder / "state"
    files = "".join(
        p.read_bytes().decode("latin-1") for p in sorted(state.rglob("*")) if p.is_file()
    )
    with _store(project) as store:
        audit = repr(store.audit_log())

    for text in [*outputs, files, audit]:
        assert not [n for n in NEEDLES if n.lower() in text.lower()]
    assert "erase" in audit


def test_registration_for_a_new_event_after_erasure_is_not_written(project: SyncProject) -> None:
    seed(project, others=False)
    assert invoke(project, "erase", "--email", EMAIL, "--apply").exit_code == 0
    project.write_registrations(
        [registration("R-000009", EMAIL, evenement_id="OD-2026-12-05-UTR", ingecheckt="nee")]
    )
    report = project.run()

    # The membership's person is erased: suppressed, not a rejected row (the run exits 0).
    assert report.exit_code() == 0, report.summary()
    assert report.mappings["registrations"].suppressed == 1
    assert report.mappings["registrations"].rejected == 0
    assert _ids(project, "Contact") == set()
    assert _ids(project, "CampaignMember") == set()


def test_erasing_one_sibling_leaves_the_other_who_shares_the_email(project: SyncProject) -> None:
    project.write_students(
        [
            student("960001", email="gezin@mail.example"),
            student("960002", email="gezin@mail.example"),
        ]
    )
    assert project.run().exit_code() == 0
    assert invoke(project, "erase", "--student-number", "960001", "--apply").exit_code == 0
    project.write_students(
        [
            student("960001", email="gezin@mail.example"),
            student("960002", email="gezin@mail.example", woonplaats="Zeist"),
        ]
    )
    report = project.run()
    m = report.mappings["students"]
    assert (m.suppressed, m.updated) == (1, 1)  # the erased child stays out, the sibling is synced
    [c] = project.query("SELECT MailingCity FROM Contact WHERE SIS_Student_Number__c = '960002'")
    assert c["MailingCity"] == "Zeist"


def test_a_registration_at_an_erased_siblings_shared_address_goes_to_review(
    project: SyncProject,
) -> None:
    """The privacy officer's P3: erasing one sibling tombstones the family address; the other
    sibling's later open-day registration under it was suppressed without a word. Whose it
    is, nobody can tell (as before the erasure, when two students shared it): staff decide."""
    from syncfixtures import registration

    family = "gezin@mail.example"
    project.write_students([student("960011", email=family), student("960012", email=family)])
    assert project.run().exit_code() == 0
    assert invoke(project, "erase", "--student-number", "960011", "--apply").exit_code == 0
    project.write_registrations([registration("R-960012", family)])
    report = project.run()
    m = report.mappings["registrants"]
    assert (m.review, m.suppressed, m.written) == (1, 0, 0)
    assert report.mappings["registrations"].created == 0  # nothing written under anybody
    # Nobody shares it any more: the address is the erased person's alone, silenced as before.
    assert invoke(project, "erase", "--student-number", "960012", "--apply").exit_code == 0
    again = project.run().mappings["registrants"]
    assert (again.review, again.suppressed) == (0, 1)
