"""Contract suite of the state store, run on SQLite and PostgreSQL (see conftest.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from connector.errors import StateError
from connector.records import Origin, Reject
from connector.state import (
    AuditEntry,
    NewPerson,
    OutboxError,
    OutboxItem,
    OutboxStatus,
    PersonUpdate,
    RunStatus,
    StateStore,
    SyncedUpdate,
    tables,
)
from connector.state import tables as s

T0 = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
DAY = timedelta(days=1)


def h(i: int | str) -> str:
    """A key hash as KeyHasher.key() makes them: 32 hex characters."""
    return f"{i:032x}" if isinstance(i, int) else i


def sf(i: int) -> str:
    """An 18-character Contact id."""
    return f"003{i:015d}"


def upd(i: int, mapping: str = "students", **kw) -> SyncedUpdate:
    kw.setdefault("sf_id", sf(i))
    kw.setdefault("field_hashes", {"LastName": f"v{i}", "Email": "e"})
    return SyncedUpdate(mapping=mapping, key_hash=h(i), object="Contact", **kw)


# -- synced records -------------------------------------------------------------------------


def test_lookup_returns_only_known_records_of_that_mapping(store: StateStore) -> None:
    store.record_synced([upd(1), upd(2), upd(3, mapping="prospects")], at=T0)
    found = store.lookup("students", [h(1), h(3), h(99)])
    assert set(found) == {h(1)}
    row = found[h(1)]
    assert row.sf_id == sf(1)
    assert row.object == "Contact"
    assert dict(row.field_hashes) == {"LastName": "v1", "Email": "e"}
    assert row.first_seen == row.last_seen == row.last_synced == T0
    assert row.first_seen.tzinfo is UTC
    assert row.deleted_at is None
    assert store.lookup("students", []) == {}


def test_known_is_the_lean_lookup(store: StateStore) -> None:
    store.record_synced([upd(1), upd(2), upd(3, mapping="prospects")], at=T0)
    store.mark_deleted("students", [h(2)], at=T0)
    found = store.known("students", [h(1), h(2), h(3), h(99)])
    assert set(found) == {h(1), h(2)}
    assert found[h(1)].sf_id == sf(1)
    assert dict(found[h(1)].field_hashes) == {"LastName": "v1", "Email": "e"}
    assert found[h(1)].purged is False
    assert found[h(2)].purged is True
    assert store.known("students", []) == {}


def test_has_suppressions(store: StateStore) -> None:
    assert store.has_suppressions() is False
    store.add_suppression(h(7), "key", "erased", T0)
    assert store.has_suppressions() is True


def test_record_synced_upserts_keeping_first_seen_and_person_link(store: StateStore) -> None:
    pid = store.add_persons([NewPerson(student_hash=h("s" * 32))], at=T0)[0]
    store.record_synced([upd(1, person_id=pid, lifecycle="applied")], at=T0)
    later = T0 + 3 * DAY
    store.record_synced(
        [
            upd(
                1,
                sf_id="003AAAAAAAAAAAAAAA",
                field_hashes={"LastName": "new"},
                lifecycle="ended",
                lifecycle_end_at=later,
                event_date=date(2025, 4, 1),
                consent_withdrawn_at={"news": later},
            )
        ],
        at=later,
    )
    row = store.lookup("students", [h(1)])[h(1)]
    assert row.first_seen == T0
    assert row.last_seen == row.last_synced == later
    assert row.sf_id == "003AAAAAAAAAAAAAAA"
    assert dict(row.field_hashes) == {"LastName": "new"}
    assert row.person_id == pid  # None in the update keeps the link
    assert (row.lifecycle, row.lifecycle_end_at, row.event_date) == (
        "ended",
        later,
        date(2025, 4, 1),
    )
    assert dict(row.consent_withdrawn_at) == {"news": later}


def test_record_synced_with_duplicate_keys_in_one_batch_keeps_the_last(store: StateStore) -> None:
    store.record_synced([upd(1, field_hashes={"A": "1"}), upd(1, field_hashes={"A": "2"})], at=T0)
    assert dict(store.lookup("students", [h(1)])[h(1)].field_hashes) == {"A": "2"}


def test_touch_seen_moves_last_seen_only_for_the_given_keys(store: StateStore) -> None:
    store.record_synced([upd(1), upd(2), upd(1, mapping="other")], at=T0)
    store.touch_seen("students", [h(1), h(77)], at=T0 + DAY)
    rows = store.lookup("students", [h(1), h(2)])
    assert rows[h(1)].last_seen == T0 + DAY
    assert rows[h(1)].last_synced == T0  # touching is not syncing
    assert rows[h(2)].last_seen == T0
    assert store.lookup("other", [h(1)])[h(1)].last_seen == T0


def test_sf_ids_resolves_parents_with_an_id(store: StateStore) -> None:
    store.record_synced([upd(1), upd(2, sf_id=None)], at=T0)
    assert store.sf_ids("students", [h(1), h(2), h(3)]) == {h(1): sf(1)}


def test_batches_larger_than_one_in_list_work(store: StateStore) -> None:
    rows = [upd(i) for i in range(6_000)]
    for i in range(0, 6_000, 2_000):
        store.record_synced(rows[i : i + 2_000], at=T0)
    keys = [h(i) for i in range(6_100)]
    assert len(store.lookup("students", keys)) == 6_000
    assert len(store.sf_ids("students", keys)) == 6_000
    store.touch_seen("students", keys, at=T0 + DAY)
    assert store.lookup("students", [h(5_999)])[h(5_999)].last_seen == T0 + DAY
    assert store.mapping_counts() == {"students": 6_000}


def test_naive_datetimes_are_refused(store: StateStore) -> None:
    with pytest.raises(StateError, match=r"record synced.*timezone-aware"):
        store.record_synced([upd(1)], at=datetime(2025, 1, 1))
    with pytest.raises(StateError, match="timezone-aware"):
        store.record_synced([upd(1, consent_withdrawn_at={"x": datetime(2025, 1, 1)})], at=T0)


def test_a_naive_lifecycle_end_is_refused(store: StateStore) -> None:
    with pytest.raises(StateError, match="timezone-aware"):
        store.record_synced([upd(1, lifecycle_end_at=datetime(2025, 1, 1))], at=T0)


def test_recording_a_record_again_keeps_its_person_contact_id(store: StateStore) -> None:
    # A person account's PersonContactId is read back once (write_stage._person_contacts); an
    # update of the Account must not forget it — on PostgreSQL the upsert set every column it
    # was not given to NULL, and each later batch asked Salesforce for it again.
    store.record_synced([upd(1)], at=T0)
    store.set_person_contact_ids("students", {h(1): "003PERSONCONTACT01"})
    store.record_synced([upd(1, field_hashes={"LastName": "new"})], at=T0 + DAY)
    assert store.person_contact_ids("students", [h(1)]) == {h(1): "003PERSONCONTACT01"}


def test_mark_deleted_and_resync_clears_it(store: StateStore) -> None:
    store.record_synced([upd(1)], at=T0)
    store.mark_deleted("students", [h(1)], at=T0 + DAY)
    assert store.lookup("students", [h(1)])[h(1)].deleted_at == T0 + DAY
    store.record_synced([upd(1)], at=T0 + 2 * DAY)
    assert store.lookup("students", [h(1)])[h(1)].deleted_at is None


# -- retention queries ----------------------------------------------------------------------


def _keys(batches) -> list[str]:
    return [r.key_hash for batch in batches for r in batch]


def test_expired_by_last_seen_lifecycle_end_and_event_date(store: StateStore) -> None:
    store.record_synced(
        [
            upd(
                1, lifecycle="applied", lifecycle_end_at=T0 - 40 * DAY, event_date=date(2024, 12, 1)
            ),
            upd(2, lifecycle="ended", lifecycle_end_at=T0 - 10 * DAY, event_date=date(2025, 2, 28)),
            upd(3, lifecycle="ended", lifecycle_end_at=T0 - 50 * DAY),
        ],
        at=T0 - 60 * DAY,
    )
    store.touch_seen("students", [h(2)], at=T0)
    cutoff = T0 - 30 * DAY
    assert _keys(store.expired("students", "last_seen", cutoff)) == [h(1), h(3)]
    assert _keys(store.expired("students", "lifecycle_end", cutoff)) == [h(1), h(3)]
    assert _keys(store.expired("students", "lifecycle_end", cutoff, lifecycle="ended")) == [h(3)]
    # event_date compares with the cutoff's date; records without an event never expire by it
    ev = list(store.expired("students", "event_date", T0))
    assert [(r.key_hash, r.anchor_at) for r in ev[0]] == [
        (h(1), date(2024, 12, 1)),
        (h(2), date(2025, 2, 28)),
    ]
    assert list(store.expired("other", "last_seen", T0)) == []


def test_expired_by_consent_withdrawn_per_purpose(store: StateStore) -> None:
    store.record_synced(
        [
            upd(1, consent_withdrawn_at={"news": T0 - 40 * DAY}),
            upd(2, consent_withdrawn_at={"news": T0 - 5 * DAY, "phone": T0 - 90 * DAY}),
            upd(3),
        ],
        at=T0,
    )
    cutoff = T0 - 30 * DAY
    news = list(store.expired("students", "consent_withdrawn", cutoff, purpose="news"))
    assert [(r.key_hash, r.anchor_at) for r in news[0]] == [(h(1), T0 - 40 * DAY)]
    assert _keys(store.expired("students", "consent_withdrawn", cutoff, purpose="phone")) == [h(2)]
    with pytest.raises(ValueError, match="purpose"):
        list(store.expired("students", "consent_withdrawn", cutoff))


def test_expired_streams_keyset_batches_and_skips_deleted(store: StateStore) -> None:
    store.record_synced([upd(i) for i in range(10)], at=T0 - 100 * DAY)
    store.mark_deleted("students", [h(4)], at=T0)
    batches = store.expired("students", "last_seen", T0, batch_size=3)
    first = next(batches)
    assert [r.key_hash for r in first] == [h(0), h(1), h(2)]
    assert first[0].sf_id == sf(0)
    assert first[0].object == "Contact"
    store.forget("students", [r.key_hash for r in first])  # purging between batches is safe
    rest = [r.key_hash for batch in batches for r in batch]
    assert rest == [h(i) for i in (3, 5, 6, 7, 8, 9)]


# -- persons --------------------------------------------------------------------------------


def test_persons_find_join_and_email_ambiguity(store: StateStore) -> None:
    ids = store.add_persons(
        [NewPerson(email_hash="e1"), NewPerson(email_hash="e1"), NewPerson(student_hash="s2")],
        at=T0,
    )
    assert len(set(ids)) == 3
    assert ids == sorted(ids)
    m = store.find_persons(student_hashes=["s1", "s2"], email_hashes=["e1", "e9"])
    assert set(m.by_student) == {"s2"}
    assert m.by_student["s2"].person_id == ids[2]
    assert [p.person_id for p in m.by_email["e1"]] == ids[:2]  # two people behind one address
    assert "e9" not in m.by_email
    # prospect → student join, then Salesforce's Contact id
    store.link_person(ids[0], student_hash="s1", at=T0 + DAY)
    store.update_persons([PersonUpdate(ids[0], sf_id="003JOINEDJOINEDJOI")], at=T0 + 2 * DAY)
    p = store.get_persons([ids[0], 12345])[ids[0]]
    assert (p.student_hash, p.email_hash, p.sf_id) == ("s1", "e1", "003JOINEDJOINEDJOI")
    assert p.created_at == T0
    assert p.updated_at == T0 + 2 * DAY
    assert store.find_persons(student_hashes=["s1"]).by_student["s1"].person_id == ids[0]


def test_a_student_hash_belongs_to_one_person(store: StateStore) -> None:
    store.add_persons([NewPerson(student_hash="s1")], at=T0)
    with pytest.raises(StateError, match="add persons failed") as info:
        store.add_persons([NewPerson(student_hash="s1")], at=T0)
    assert "s1" not in str(info.value).replace("persons", "")
    other = store.add_persons([NewPerson(email_hash="e")], at=T0)[0]
    with pytest.raises(StateError, match="update persons failed"):
        store.link_person(other, student_hash="s1", at=T0)


# -- outbox ---------------------------------------------------------------------------------


def _item(i: int, op: str = "upsert", mapping: str = "students") -> OutboxItem:
    return OutboxItem(mapping, h(i), "Contact", op)


def test_outbox_lifecycle(store: StateStore) -> None:
    run = store.start_run("nightly", T0)
    ids = store.add_outbox(run, [_item(1), _item(2), _item(3, "delete")], at=T0)
    assert ids == sorted(ids)
    assert len(ids) == 3
    store.mark_outbox(ids, OutboxStatus.SENT, at=T0)
    store.mark_outbox(ids[:1], "OK", at=T0)
    long = "Required fields are missing: [LastName] " * 20
    store.fail_outbox(
        [
            OutboxError(ids[1], "REQUIRED_FIELD_MISSING", long),
            OutboxError(ids[2], "ENTITY_IS_DELETED"),
        ],
        at=T0,
    )
    pending = store.pending_outbox()
    assert [r.id for r in pending] == ids[1:]
    failed = pending[0]
    assert failed.status is OutboxStatus.FAILED
    assert failed.attempts == 1
    assert failed.error_code == "REQUIRED_FIELD_MISSING"
    assert failed.error_message == long[:255]
    assert pending[1].operation == "delete"
    assert pending[1].error_code == "ENTITY_IS_DELETED"
    assert store.outbox_counts(run) == {"OK": 1, "FAILED": 2}
    with pytest.raises(ValueError, match="unknown outbox operation"):
        store.add_outbox(run, [_item(4, "insert")])


def test_outbox_ids_are_those_of_the_items_in_the_order_given(store: StateStore) -> None:
    run = store.start_run("nightly", T0)
    store.add_outbox(run, [_item(9_999)], at=T0)
    items = [_item(i) for i in (500, *range(499, 0, -1))]  # keys not in id order
    ids = store.add_outbox(run, items, at=T0, status=OutboxStatus.SENT)
    by_id = {r.id: r for r in store.pending_outbox(limit=1_000)}
    assert [by_id[i].key_hash for i in ids] == [i.key_hash for i in items]
    assert {by_id[i].status for i in ids} == {OutboxStatus.SENT}
    assert {by_id[i].attempts for i in ids} == {1}


def test_outbox_new_plan_supersedes_pending_rows_of_the_same_record(store: StateStore) -> None:
    run1 = store.start_run("nightly", T0)
    old = store.add_outbox(run1, [_item(1), _item(2), _item(1, mapping="other")], at=T0)
    store.mark_outbox(old[:1], "SENT", at=T0)
    run2 = store.start_run("nightly", T0 + DAY)
    new = store.add_outbox(run2, [_item(1)], at=T0 + DAY)
    pending = store.pending_outbox()
    assert [r.id for r in pending] == [old[1], old[2], new[0]]
    assert store.outbox_counts(run1) == {"SUPERSEDED": 1, "NEW": 2}
    assert [r.id for r in store.pending_outbox("other")] == [old[2]]
    page = store.pending_outbox(limit=2)
    assert [r.id for r in store.pending_outbox(after_id=page[-1].id)] == [new[0]]


def test_outbox_supersede_closes_pending_rows_only(store: StateStore) -> None:
    """NEW, SENT and FAILED rows of a record planned again become SUPERSEDED; an OK row is
    history and stays, as do rows of other records (both dialects: PostgreSQL finds the pending
    rows key by key, SQLite in one statement)."""
    run1 = store.start_run("nightly", T0)
    ok, sent, failed, _new, other = store.add_outbox(run1, [_item(i) for i in range(1, 6)], at=T0)
    store.mark_outbox([ok], "OK", at=T0)
    store.mark_outbox([sent], "SENT", at=T0)
    store.mark_outbox([failed], "FAILED", at=T0)
    run2 = store.start_run("nightly", T0 + DAY)
    keys = [_item(i) for i in range(1, 5)] * 2  # a key twice in one plan changes nothing
    store.add_outbox(run2, keys, at=T0 + DAY)
    assert store.outbox_counts(run1) == {"OK": 1, "SUPERSEDED": 3, "NEW": 1}
    assert [r.id for r in store.pending_outbox() if r.run_id == run1] == [other]
    with store._db.write.begin() as conn:  # no reader gives a closed row's time
        when = dict(conn.execute(sa.select(tables.outbox.c.id, tables.outbox.c.updated_at)).all())
    assert (when[sent], when[ok]) == (T0 + DAY, T0)


# -- runs, rejects, audit -------------------------------------------------------------------


def test_runs_are_recorded_and_listed_newest_first(store: StateStore) -> None:
    a = store.start_run("nightly", T0)
    b = store.start_run("events", T0 + DAY)
    store.finish_run(
        a,
        status=RunStatus.PARTIAL,
        counts={"students": {"upserted": 3, "rejected": 1}},
        api_calls=7,
        report_path="reports/run-1.json",
        finished_at=T0 + timedelta(minutes=5),
    )
    runs = store.recent_runs()
    assert [r.run_id for r in runs] == [b, a]
    assert runs[0].status is RunStatus.RUNNING
    assert runs[0].finished_at is None
    done = runs[1]
    assert (done.job, done.status, done.api_calls) == ("nightly", RunStatus.PARTIAL, 7)
    assert done.counts == {"students": {"upserted": 3, "rejected": 1}}
    assert done.finished_at == T0 + timedelta(minutes=5)
    assert done.report_path == "reports/run-1.json"
    assert [r.run_id for r in store.recent_runs(job="nightly")] == [a]
    assert len(store.recent_runs(limit=1)) == 1


def test_rejects_are_summarised_per_mapping_column_and_reason(store: StateStore) -> None:
    r1 = store.start_run("nightly", T0)
    r2 = store.start_run("nightly", T0 + DAY)
    rej = [
        Reject(Origin("data/studenten.csv", 4), "email", "not an e-mail address", "students"),
        Reject(Origin("data/studenten.csv", 9), "email", "not an e-mail address", "students"),
        Reject(Origin("data/studenten.csv", 12), "geboortedatum", "not a date", "students"),
    ]
    store.add_rejects(r1, rej)
    store.add_rejects(r2, rej[:1])
    summary = store.reject_summary(r1)
    assert [(x.mapping, x.column, x.reason, x.count) for x in summary] == [
        ("students", "email", "not an e-mail address", 2),
        ("students", "geboortedatum", "not a date", 1),
    ]
    assert store.reject_summary()[0].count == 3
    rows = store.list_rejects(r1)
    assert next((x.file, x.line, x.column) for x in rows) == ("data/studenten.csv", 4, "email")
    assert len(store.list_rejects(r1, limit=2)) == 2


def test_audit_trail_and_prune_history(store: StateStore) -> None:
    run = store.start_run("purge", T0)
    store.add_audit(
        [
            AuditEntry(
                "purge", "Contact", "003PURGEDPURGEDPUR", "retention expired", T0, "enrolment", run
            ),
            AuditEntry("erase", "CampaignMember", None, "data-subject request", T0 + DAY),
        ]
    )
    log = store.audit_log()
    assert [e.action for _, e in log] == ["purge", "erase"]
    assert log[0][1].purpose == "enrolment"
    assert log[0][1].run_id == run
    assert [e.action for _, e in store.audit_log(since=T0 + DAY)] == ["erase"]
    assert [e.action for _, e in store.audit_log(after_id=log[0][0])] == ["erase"]
    # prune: finished old runs go with their rejects and settled outbox; the audit stays
    old = store.start_run("nightly", T0)
    ids = store.add_outbox(old, [_item(1), _item(2)], at=T0)
    store.mark_outbox(ids[:1], "OK", at=T0)
    store.add_rejects(old, [Reject(Origin("f.csv", 2), "c", "r", "m")])
    store.finish_run(old, status="ok", counts={}, api_calls=1, report_path=None, finished_at=T0)
    assert store.prune_history(T0 + 10 * DAY) == 1
    assert [r.run_id for r in store.recent_runs()] == [old - 1]  # the unfinished purge run stays
    assert store.list_rejects(old) == []
    assert [r.id for r in store.pending_outbox()] == [ids[1]]  # pending rows are never pruned
    assert len(store.audit_log()) == 2


# -- erasure --------------------------------------------------------------------------------


def test_suppressions(store: StateStore) -> None:
    store.add_suppression("s" * 32, "student", "erasure request", T0)
    store.add_suppression("s" * 32, "student", "erasure request", T0)  # idempotent
    store.add_suppression("e" * 32, "email", "erasure request", T0)
    assert store.suppressed(["s" * 32, "x" * 32, "e" * 32]) == {"s" * 32, "e" * 32}
    assert store.suppressed([]) == set()


def test_forget_and_forget_person_remove_local_rows_but_keep_suppressions(
    store: StateStore,
) -> None:
    pid, other = store.add_persons(
        [NewPerson(student_hash="s1"), NewPerson(student_hash="s2")], at=T0
    )
    store.record_synced(
        [
            upd(1, person_id=pid),
            upd(2, mapping="registrations", person_id=pid),
            upd(3, person_id=other),
            upd(4),
        ],
        at=T0,
    )
    run = store.start_run("nightly", T0)
    store.add_outbox(run, [_item(1), _item(2, mapping="registrations"), _item(3), _item(4)], at=T0)
    store.add_suppression("s1", "student", "erasure request", T0)
    assert {r.key_hash for r in store.person_records(pid)} == {h(1), h(2)}
    assert store.forget_person(pid) == 2
    assert store.person_records(pid) == []
    assert store.get_persons([pid]) == {}
    assert store.lookup("students", [h(1), h(3)]).keys() == {h(3)}
    assert {r.key_hash for r in store.pending_outbox()} == {h(3), h(4)}
    assert store.suppressed(["s1"]) == {"s1"}
    assert store.forget("students", [h(4), h(99)]) == 1
    assert {r.key_hash for r in store.pending_outbox()} == {h(3)}
    assert store.lookup("students", [h(4)]) == {}
    # last_seen has a table of its own (tables.seen): its rows go with their records.
    assert _seen_keys(store) == {("students", h(3))}


def _seen_keys(store: StateStore) -> set[tuple[str, str]]:
    with store._db.engine.connect() as conn:
        return {(m, k) for m, k in conn.execute(sa.select(s.seen.c.mapping, s.seen.c.key_hash))}
