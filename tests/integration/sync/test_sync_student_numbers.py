"""Two records of one mapping with one student number never write one student's Contact.

A OneRoster export keys its users on ``sourcedId``; the Contact's external id is the user's
``identifier``. Two users with one identifier used to be two records writing one Contact: in
one request Salesforce refused both (DUPLICATE_EXTERNAL_ID), across requests or runs the later
row overwrote the earlier student's name and e-mail with exit 0. The rule (docs/sync.md, "One
student number, one record"): the record that holds the number first keeps it, the other row
is rejected with both lines; a record that has left the export hands its number over.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.sync.plan_persons import NUMBER_HELD

HEADER = (
    "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,"
    "givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password\n"
)
ANNA = "u-1,,,true,org-1,student,anna,,Anna,Bakker,,100001,anna@school.example,,,,,\n"
BERT = "u-2,,,true,org-1,student,bert,,Bert,Visser,,100001,bert@school.example,,,,,\n"
CLARA = "u-3,,,true,org-1,student,clara,,Clara,Smit,,100003,clara@school.example,,,,,\n"
DUPLICATE_OF_2 = "duplicate student number: line 2 has it under another key"


@pytest.fixture
def users(project, tmp_path):
    """Write users.csv of a OneRoster 1.1 folder the project's oneroster_users mapping reads."""
    folder = tmp_path / "oneroster"
    folder.mkdir()
    (folder / "manifest.csv").write_text(
        "propertyName,value\nmanifest.version,1.0\noneroster.version,1.1\nfile.users,bulk\n"
        "file.orgs,bulk\n"
    )
    (folder / "orgs.csv").write_text(
        "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\n"
        "org-1,,,School,school,S1,\n"
    )
    mapping = project.folder / "mappings" / "oneroster_users.yaml"
    mapping.write_text(mapping.read_text().replace("path: data/oneroster", f"path: {folder}"))

    def write(*rows: str) -> Path:
        path = folder / "users.csv"
        path.write_text(HEADER + "".join(rows))
        return path

    return write


def _run(project, at: str | None = None):
    if at is not None:
        project.env["SIS_SYNC_NOW"] = at
    report = project.run("oneroster_users")
    return report, report.mappings["oneroster_users"]


def _contacts(project) -> list[tuple[str, str]]:
    rows = project.query("SELECT SIS_Student_Number__c, LastName, Email FROM Contact")
    return sorted((r["SIS_Student_Number__c"], r["LastName"]) for r in rows)


def test_the_second_user_with_a_number_is_rejected_with_both_lines(project, users):
    users(ANNA, BERT, CLARA)
    report, m = _run(project)
    assert (m.created, m.rejected, m.failed) == (2, 1, 0), report.summary()
    assert [(r["line"], r["column"], r["reason"]) for r in m.rejects] == [
        (3, "identifier", DUPLICATE_OF_2)
    ]
    assert report.exit_code() == 1
    assert _contacts(project) == [("100001", "Bakker"), ("100003", "Smit")]
    # The next run: Anna is recognised from state, Bert is still refused her Contact.
    report, m = _run(project)
    assert (m.created, m.updated, m.rejected) == (0, 0, 1), report.summary()
    assert [r["reason"] for r in m.rejects] == [DUPLICATE_OF_2]
    assert _contacts(project) == [("100001", "Bakker"), ("100003", "Smit")]


def test_across_batches_the_first_key_keeps_its_number_while_its_write_is_buffered(
    project, users, monkeypatch
):
    # Batches of one row: Anna's write is still buffered (state does not know her yet) when
    # Bert's batch is planned; the run's key ledger remembers that her key claimed the number.
    from connector.sync import engine

    monkeypatch.setattr(engine, "BATCH", 1)
    users(ANNA, CLARA, BERT)
    report, m = _run(project)
    assert (m.created, m.rejected) == (2, 1), report.summary()
    assert [(r["line"], r["reason"]) for r in m.rejects] == [(4, DUPLICATE_OF_2)]
    assert _contacts(project) == [("100001", "Bakker"), ("100003", "Smit")]


def test_a_number_passes_to_a_new_key_once_the_old_record_left_the_export(project, users):
    users(ANNA)
    _run(project, "2026-11-20T09:00:00+00:00")
    # The SIS re-created the student under a new sourcedId: in the first export without Anna's
    # old record, that record still holds the number (it was in the last full export).
    users(BERT)
    report, m = _run(project, "2026-11-21T09:00:00+00:00")
    assert [(r["line"], r["reason"]) for r in m.rejects] == [(2, NUMBER_HELD)]
    assert report.exit_code() == 1
    assert _contacts(project) == [("100001", "Bakker")]
    # One full export later the old record has left: the new key takes the Contact over.
    report, m = _run(project, "2026-11-22T09:00:00+00:00")
    assert (m.updated, m.rejected, m.failed) == (1, 0, 0), report.summary()
    assert report.exit_code() == 0
    assert _contacts(project) == [("100001", "Visser")]


def test_a_renumbered_students_number_stays_held_in_the_next_runs(project, users):
    users(BERT)
    _run(project, "2026-11-20T09:00:00+00:00")
    # The SIS gave Bert a new number, and Dan (another key) the same one: Dan is refused.
    dan = CLARA.replace("u-3", "u-4").replace("100003", "100002").replace("Smit", "Dekker")
    users(BERT.replace("100001", "100002"), dan)
    report, m = _run(project, "2026-11-21T09:00:00+00:00")
    assert [(r["line"], r["reason"]) for r in m.rejects] == [(3, DUPLICATE_OF_2)]
    # The same export again: Bert's row is recognised unchanged (it claims nothing), and his
    # person carries the new number, so Dan is still refused — before, his upsert by that
    # external id overwrote Bert's Contact with exit 0.
    report, m = _run(project, "2026-11-22T09:00:00+00:00")
    assert [(r["line"], r["reason"]) for r in m.rejects] == [(3, DUPLICATE_OF_2)]
    assert (m.updated, m.created) == (0, 0), report.summary()
    assert _contacts(project) == [("100002", "Visser")]


# -- a OneRoster delta: the re-created user before the old user's `tobedeleted` row ------------

DELETED_ANNA = "u-1,tobedeleted,2026-11-21,true,org-1,student,anna,,Anna,Bakker,,100001,,,,,,\n"


@pytest.fixture(params=[1, 2_000], ids=["row-batches", "one-batch"])
def delta(users, monkeypatch, request):
    """A manifest that declares users.csv a delta, read in batches of one row (a new user's
    row is planned before a later deletion is read) and in one batch (the batch's deletions
    are read before its rows are planned): the outcome is the file's order either way."""
    from connector.sync import engine

    monkeypatch.setattr(engine, "BATCH", request.param)

    def write(*rows: str) -> Path:
        path = users(*rows)
        manifest = path.parent / "manifest.csv"
        manifest.write_text(manifest.read_text().replace("file.users,bulk", "file.users,delta"))
        return path

    return write


def test_a_delta_re_creating_a_user_before_deleting_the_old_one_hands_the_number_over(
    project, users, delta
):
    users(ANNA)
    _run(project, "2026-11-20T09:00:00+00:00")
    # The SIS re-created Anna's record as u-2 and deleted u-1; the delta lists the new user
    # first. The held row is planned again once the file is read: u-1 no longer holds the
    # number, and u-2 takes the Contact over in this run (a delta never carries the row again).
    delta(BERT, DELETED_ANNA)
    report, m = _run(project, "2026-11-21T09:00:00+00:00")
    assert (m.updated, m.rejected, m.failed, m.source_deleted) == (1, 0, 0, 1), report.summary()
    assert report.exit_code() == 0
    assert _contacts(project) == [("100001", "Visser")]


def test_a_plan_of_the_delta_shows_the_hand_over_as_the_run_does(project, users, delta):
    users(ANNA)
    _run(project, "2026-11-20T09:00:00+00:00")
    delta(BERT, DELETED_ANNA)
    project.env["SIS_SYNC_NOW"] = "2026-11-21T09:00:00+00:00"
    plan = project.run("oneroster_users", dry_run=True).mappings["oneroster_users"]
    assert (plan.updated, plan.rejected) == (1, 0), plan.rejects
    assert _contacts(project) == [("100001", "Bakker")]  # a plan writes nothing


def test_a_held_row_whose_old_holder_stays_is_rejected_at_the_end(project, users, delta):
    users(ANNA)
    _run(project, "2026-11-20T09:00:00+00:00")
    delta(CLARA, BERT)  # no deletion of u-1: it still holds the number
    report, m = _run(project, "2026-11-21T09:00:00+00:00")
    assert [(r["line"], r["reason"]) for r in m.rejects] == [(3, NUMBER_HELD)]
    assert (m.created, m.rejected) == (1, 1), report.summary()
    assert _contacts(project) == [("100001", "Bakker"), ("100003", "Smit")]


def test_a_later_row_of_a_held_user_replaces_the_held_one(project, users, delta):
    users(ANNA)
    _run(project, "2026-11-20T09:00:00+00:00")
    # u-2 first with Anna's number (held), then corrected to a number of its own: the later
    # row is written, and the held one is not planned again over it.
    delta(BERT, BERT.replace("100001", "100002"))
    _, m = _run(project, "2026-11-21T09:00:00+00:00")
    assert [(r["line"], r["reason"]) for r in m.rejects] == [
        (2, "duplicate key: superseded by line 3, which has other values")
    ]
    assert _contacts(project) == [("100001", "Bakker"), ("100002", "Visser")]


def test_a_delta_is_never_a_full_export_its_missing_users_keep_their_numbers(project, users, delta):
    from connector.state import open_store
    from connector.state.anchors import export_mark

    users(ANNA, CLARA)
    _run(project, "2026-11-20T09:00:00+00:00")
    # A delta as large as the last full export (past the 90 % guard) lists two new students:
    # it holds changes only, so Anna and Clara have not left the school.
    dan = CLARA.replace("u-3", "u-5").replace("100003", "100005").replace("Smit", "Dekker")
    eva = CLARA.replace("u-3", "u-6").replace("100003", "100006").replace("Smit", "Jansen")
    delta(dan, eva)
    report, m = _run(project, "2026-11-21T09:00:00+00:00")
    assert (m.created, m.rejected) == (2, 0) and not report.warning_lines(), report.summary()
    with open_store(f"sqlite:///{project.folder / 'state' / 'sync.db'}") as store:
        mark = export_mark(store, "oneroster_users")
        assert mark is not None and (mark.rows, mark.at.day) == (2, 20)  # the bulk file's
    # So Anna still holds her number: a new key with it is refused, her Contact kept.
    delta(BERT)
    report, m = _run(project, "2026-11-22T09:00:00+00:00")
    assert [(r["line"], r["reason"]) for r in m.rejects] == [(2, NUMBER_HELD)]
    assert ("100001", "Bakker") in _contacts(project)


DELETED_BERT = "u-2,tobedeleted,2026-11-21,true,org-1,student,bert,,Bert,Visser,,100001,,,,,,\n"


def test_a_chain_of_re_created_users_in_one_delta_ends_with_the_last(project, users, delta):
    users(ANNA)
    _run(project, "2026-11-20T09:00:00+00:00")
    # u-1 → u-2 → u-3 in one delta: u-2's held row is dropped by its own deletion (it was
    # never written), and u-3 takes the Contact over.
    clara_100001 = CLARA.replace("100003", "100001")
    delta(BERT, clara_100001, DELETED_ANNA, DELETED_BERT)
    report, m = _run(project, "2026-11-21T09:00:00+00:00")
    assert (m.updated, m.rejected, m.source_deleted) == (1, 0, 2), report.summary()
    assert report.exit_code() == 0
    assert _contacts(project) == [("100001", "Smit")]


def test_a_user_created_and_deleted_in_one_delta_ends_in_state(project, users, delta):
    from connector.state import open_store

    users(ANNA)
    _run(project, "2026-11-20T09:00:00+00:00")
    # Clara's row is written before her deletion is read: her write, still buffered then, is
    # sent and recorded before the deletion ends her (WriteStage.land).
    deleted_clara = CLARA.replace("u-3,,,", "u-3,tobedeleted,2026-11-21,", 1)
    delta(CLARA, deleted_clara)
    report, m = _run(project, "2026-11-21T09:00:00+00:00")
    assert (m.created, m.source_deleted) == (1, 1), report.summary()
    with open_store(f"sqlite:///{project.folder / 'state' / 'sync.db'}") as store:
        import sqlalchemy as sa

        with store._db.engine.connect() as conn:
            ends = conn.execute(sa.text("SELECT lifecycle FROM synced")).scalars().all()
    assert sorted(ends) == ["deleted", "enrolled"]  # Clara ended, Anna as she was


def test_a_plan_agrees_with_the_run_when_a_deleted_user_is_listed_again(project, users, delta):
    users(ANNA)
    _run(project, "2026-11-20T09:00:00+00:00")
    # u-1 deleted, then listed again: it holds its number again, u-2 is refused it.
    delta(BERT, DELETED_ANNA, ANNA)
    project.env["SIS_SYNC_NOW"] = "2026-11-21T09:00:00+00:00"
    plan = project.run("oneroster_users", dry_run=True).mappings["oneroster_users"]
    report, m = _run(project)
    assert (plan.updated, plan.rejected) == (m.updated, m.rejected) == (0, 1), report.summary()
    assert [r["line"] for r in m.rejects] == [2]
    assert _contacts(project) == [("100001", "Bakker")]


def test_a_user_changed_then_deleted_hands_its_number_to_a_user_listed_between(
    project, users, delta
):
    users(ANNA)
    _run(project, "2026-11-20T09:00:00+00:00")
    # Anna's new e-mail, Bert with her number, then Anna's deletion: in file order Anna still
    # holds the number when Bert's row is read (held), and hands it over when she is deleted.
    anna_moved = ANNA.replace("anna@school.example", "anna.b@school.example")
    delta(anna_moved, BERT, DELETED_ANNA)
    report, m = _run(project, "2026-11-21T09:00:00+00:00")
    assert (m.rejected, m.failed, m.source_deleted) == (0, 0, 1), report.summary()
    assert report.exit_code() == 0
    assert _contacts(project) == [("100001", "Visser")]


def test_a_user_created_and_deleted_in_one_delta_hands_its_number_to_the_next(
    project, users, delta
):
    # Anna is new, Bert (listed next, same number) is held, Anna is deleted: Bert takes the
    # Contact Anna's row created. Anna's create is recorded before Bert is planned again, so
    # the two never go out as two upserts of one external id (DUPLICATE_EXTERNAL_ID).
    delta(ANNA, BERT, DELETED_ANNA)
    project.env["SIS_SYNC_NOW"] = "2026-11-21T09:00:00+00:00"
    plan = project.run("oneroster_users", dry_run=True).mappings["oneroster_users"]
    report, m = _run(project)
    assert (m.created, m.updated, m.rejected, m.failed) == (1, 1, 0, 0), report.summary()
    assert (plan.created, plan.updated, plan.rejected) == (1, 1, 0)
    assert report.exit_code() == 0
    assert _contacts(project) == [("100001", "Visser")]


def test_a_deleted_user_listed_again_in_its_batch_keeps_its_number(project, users, delta):
    users(BERT.replace("100001", "100003"))
    _run(project, "2026-11-20T09:00:00+00:00")
    # Bert deleted, listed again with a new number, then Clara with his old one: in file order
    # Bert is live again when Clara's row is read — one Contact never carries two records.
    bert_moved = BERT.replace("100001", "100002")
    deleted_bert = DELETED_BERT.replace("100001", "100003")
    delta(deleted_bert, bert_moved, CLARA)
    report, m = _run(project, "2026-11-21T09:00:00+00:00")
    assert m.failed == 0, report.summary()
    assert ("100003", "Smit") not in _contacts(project)
    from connector.state import open_store

    with open_store(f"sqlite:///{project.folder / 'state' / 'sync.db'}") as store:
        import sqlalchemy as sa

        with store._db.engine.connect() as conn:
            ids = conn.execute(sa.text("SELECT sf_id FROM synced")).scalars().all()
    assert len(ids) == len(set(ids)), ids  # no Salesforce record under two keys
