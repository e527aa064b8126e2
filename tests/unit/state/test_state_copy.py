"""`copy_state`: every table, one transaction on the target, counts verified, refusals."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from connector.errors import ConfigError, StateError
from connector.records import Origin, Reject
from connector.state import (
    AuditEntry,
    NewPerson,
    OutboxError,
    OutboxItem,
    OutboxStatus,
    RunStatus,
    SyncedUpdate,
    open_store,
)
from connector.state import copy as state_copy
from connector.state import tables as s
from connector.state.copy import copy_state
from connector.state.withdrawals import Stated
from connector.sync.diff import RECORD

AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _populate(url: str) -> None:
    """A state with rows in every table."""
    st = open_store(url)
    try:
        run_id = st.start_run("nightly", AT)
        [pid, pid2] = st.add_persons(
            [NewPerson("s" * 32, "e" * 32, "003000000000001AAA"), NewPerson(None, "f" * 32)],
            at=AT,
        )
        st.record_synced(
            [
                SyncedUpdate(
                    "students",
                    f"{i:032x}",
                    "Contact",
                    f"003000000000{i:03d}AAA",
                    {"LastName": "ab" * 8, RECORD: f"{i:032x}"},
                    person_id=pid if i == 0 else None,
                    lifecycle="enrolled",
                    event_date=date(2026, 11, 14),
                    consent_withdrawn_at={"recruitment_news": AT} if i == 1 else {},
                    source_hash=f"{i:032x}"[::-1],
                )
                for i in range(7)
            ],
            at=AT,
        )
        ids = st.add_outbox(
            run_id, [OutboxItem("students", f"{i:032x}", "Contact", "upsert") for i in range(3)]
        )
        st.mark_outbox(ids[:2], OutboxStatus.OK)
        st.fail_outbox([OutboxError(ids[2], "REQUIRED_FIELD_MISSING", "LastName")])
        st.add_rejects(run_id, [Reject(Origin("data/s.csv", 3), "email", "bad", "students")])
        st.add_suppression("d" * 32, "student", "erased", AT)
        st.add_audit([AuditEntry("erase", "Contact", None, "erasure", AT, run_id=run_id)])
        with st._db.write.begin() as conn:  # requests and objections: version 3's tables
            conn.execute(
                sa.insert(s.requests).values(
                    reference="DSR-1",
                    kind="object",
                    subject='[["student", "d"]]',
                    purposes="recruitment_news",
                    received_at=AT,
                    due_on=date(2026, 2, 1),
                    status="open",
                    attempts=0,
                    last_error="",
                )
            )
            conn.execute(
                sa.insert(s.objections).values(
                    hash="d" * 32,
                    kind="student",
                    purposes="recruitment_news",
                    created_at=AT,
                    request_id=1,
                )
            )
        st.record_withdrawals(  # version 5's table
            "registrants", [Stated("e" * 32, None, "e" * 32, {"recruitment_news": None})], at=AT
        )
        st.finish_run(
            run_id,
            status=RunStatus.OK,
            counts={"created": 7},
            api_calls=3,
            report_path="r.json",
            finished_at=AT,
        )
        assert pid2 > pid
    finally:
        st.close()


def _dump(url: str) -> dict[str, list[tuple]]:
    st = open_store(url)
    try:
        with st._db.engine.connect() as conn:
            return {
                t.name: sorted(
                    (tuple(str(v) for v in row) for row in conn.execute(sa.select(t))),
                )
                for t in s.metadata.sorted_tables
            }
    finally:
        st.close()


@pytest.fixture
def source(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'src' / 'sync.db'}"
    _populate(url)
    return url


def _targets() -> list:
    return ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=_targets())
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'dst' / 'sync.db'}"
    return request.getfixturevalue("pg_url")


def test_copy_holds_every_row_of_every_table_and_reports_counts(source: str, target: str) -> None:
    counts = copy_state(source, target)

    expected = {name: len(rows) for name, rows in _dump(source).items()}
    assert counts == expected
    assert all(counts[t] > 0 for t in counts)  # the fixture fills every table
    assert _dump(target) == _dump(source)


def test_a_copied_store_goes_on_with_new_ids_after_the_copied_ones(
    source: str, target: str
) -> None:
    # PostgreSQL's sequences start at 1 unless moved past the copied ids: the next run's
    # start_run / add_persons / add_outbox would then collide with copied rows.
    copy_state(source, target)
    st = open_store(target)
    try:
        run_id = st.start_run("nightly", AT)
        [pid] = st.add_persons([NewPerson("n" * 32, None, None)], at=AT)
        [oid] = st.add_outbox(run_id, [OutboxItem("students", "9" * 32, "Contact", "upsert")])
    finally:
        st.close()
    assert (run_id, pid, oid) == (2, 3, 4)


def test_a_target_holding_state_is_refused_unless_forced(source: str, target: str) -> None:
    copy_state(source, target)
    st = open_store(target)
    try:
        st.start_run("extra", AT)  # the target now differs from the source
    finally:
        st.close()

    with pytest.raises(ConfigError, match="already holds sis-sync state"):
        copy_state(source, target)
    assert len(_dump(target)["runs"]) == 2  # untouched

    copy_state(source, target, force=True)
    assert _dump(target) == _dump(source)  # replaced, not merged


def test_foreign_tables_with_our_names_are_refused_even_with_force(
    source: str, tmp_path: Path
) -> None:
    target = f"sqlite:///{tmp_path / 'other.db'}"
    engine = sa.create_engine(target)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE runs (x INTEGER)")
    engine.dispose()

    with pytest.raises(ConfigError, match="no sis-sync schema"):
        copy_state(source, target, force=True)


def test_a_count_that_differs_rolls_the_whole_copy_back(
    source: str, target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = state_copy._insert

    def lossy(dst, table, rows):  # loses the last row of the outbox
        real(dst, table, rows[:-1] if table.name == "outbox" else rows)

    monkeypatch.setattr(state_copy, "_insert", lossy)
    with pytest.raises(StateError, match="table outbox has 2 rows in the target but 3"):
        copy_state(source, target)

    st = open_store(target)  # nothing was committed: a fresh, empty schema
    try:
        assert st.mapping_counts() == {}
        assert st.recent_runs(10) == []
    finally:
        st.close()


def test_the_same_store_or_a_missing_source_is_refused(source: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="the configured state itself"):
        copy_state(source, source.replace("/src/", "/src/../src/"))
    with pytest.raises(ConfigError, match="no state at"):
        copy_state(f"sqlite:///{tmp_path / 'none.db'}", f"sqlite:///{tmp_path / 'x.db'}")
    assert not (tmp_path / "x.db").exists()


@pytest.mark.postgres
def test_a_postgresql_state_copies_back_to_sqlite(pg_url: str, tmp_path: Path) -> None:
    _populate(pg_url)
    target = f"sqlite:///{tmp_path / 'local.db'}"

    copy_state(pg_url, target)

    assert _dump(target) == _dump(pg_url)
