"""The store never holds a personal value: plant some, run them through the API, scan everything."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa

from connector.hashing import KeyHasher
from connector.records import Origin, Reject
from connector.state import (
    AuditEntry,
    NewPerson,
    OutboxError,
    OutboxItem,
    StateStore,
    SyncedUpdate,
    open_store,
)
from connector.state import tables as s
from connector.state.db import connect

AT = datetime(2025, 5, 1, 12, tzinfo=UTC)
EMAIL = "jan.jansen@example.nl"
STUDENT = "4123456"
NAME = "Jansen"
PHONE = "+31612345678"
PLANTED = (EMAIL, STUDENT, NAME, PHONE)


def _one_run(store: StateStore, hasher: KeyHasher) -> dict[str, str]:
    """Do what the engine does for one student and one registration of the same person."""
    student, email = hasher.key("student", STUDENT), hasher.key("email", EMAIL)
    reg_key = hasher.key("registrations", f"openday-2025\x1f{EMAIL}")
    run = store.start_run("nightly", AT)
    pid = store.add_persons([NewPerson(email_hash=email)], at=AT)[0]
    store.link_person(pid, student_hash=student, sf_id="003000000000000001", at=AT)
    fields = {
        f: hasher.value(v)
        for f, v in {
            "LastName": NAME,
            "Email": EMAIL,
            "MobilePhone": PHONE,
            "SIS_Student_Number__c": STUDENT,
        }.items()
    }
    ids = store.add_outbox(
        run,
        [
            OutboxItem("students", student, "Contact", "upsert"),
            OutboxItem("registrations", reg_key, "CampaignMember", "upsert"),
        ],
        at=AT,
    )
    store.mark_outbox(ids, "SENT", at=AT)
    store.mark_outbox(ids[:1], "OK", at=AT)
    store.fail_outbox(
        [OutboxError(ids[1], "INVALID_EMAIL_ADDRESS", "Email: invalid email address")], at=AT
    )
    store.record_synced(
        [
            SyncedUpdate(
                "students",
                student,
                "Contact",
                "003000000000000001",
                fields,
                person_id=pid,
                lifecycle="enrolled",
                consent_withdrawn_at={"recruitment_news": AT},
            )
        ],
        at=AT,
    )
    store.touch_seen("students", [student], at=AT)
    store.add_rejects(
        run, [Reject(Origin("data/studenten.csv", 7), "email", "not an e-mail address", "students")]
    )
    store.add_suppression(email, "email", "erasure request", AT)
    store.add_audit(
        [
            AuditEntry(
                "erase",
                "Contact",
                "003000000000000001",
                "data-subject request",
                AT,
                "enrolment",
                run,
            )
        ]
    )
    store.record_synced(
        [
            SyncedUpdate(
                "registrations",
                reg_key,
                "CampaignMember",
                None,
                {"Status": hasher.value("Attended")},
                person_id=pid,
                event_date=date(2025, 3, 1),
            )
        ],
        at=AT,
    )
    store.finish_run(
        run,
        status="partial",
        counts={"students": {"upserted": 1}},
        api_calls=3,
        report_path="reports/nightly.json",
        finished_at=AT,
    )
    return {"student": student, "email": email, "registration": reg_key}


def _all_text(url: str) -> list[str]:
    db = connect(url)
    out: list[str] = []
    try:
        with db.engine.connect() as conn:
            for table in s.metadata.sorted_tables:
                for row in conn.execute(sa.select(table)):
                    out.extend(str(v) for v in row if v is not None)
    finally:
        db.engine.dispose()
    return out


def test_no_personal_value_reaches_any_column(store_url: str) -> None:
    hasher = KeyHasher("test-secret")
    with open_store(store_url) as store:
        hashes = _one_run(store, hasher)
    text = "\n".join(_all_text(store_url)).lower()
    for planted in PLANTED:
        assert planted.lower() not in text, f"a planted {planted[:1]}*** value is stored"
    for h in hashes.values():  # the scan does see the data
        assert h in text
    assert hasher.value(EMAIL) in text


def test_no_personal_value_in_the_sqlite_files(sqlite_url: str) -> None:
    hasher = KeyHasher("test-secret")
    with open_store(sqlite_url) as store:
        hashes = _one_run(store, hasher)
    folder = Path(sqlite_url.removeprefix("sqlite:///")).parent
    blob = b"".join(p.read_bytes() for p in folder.iterdir() if p.is_file())
    assert hashes["student"].encode() in blob
    for planted in PLANTED:
        assert planted.encode() not in blob
