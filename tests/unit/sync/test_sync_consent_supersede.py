"""ConsentStage.supersede: a later row of a record drops what an earlier row left queued, and
never runs beside the worker writing that earlier row's consents (the worker would remember
the later row, held back for its own consents, before they are written)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from test_sync_consent_queue import entries, key
from test_sync_planner import COMPILED, HASHER, PROJECT

from connector.report import MappingReport, RunReport
from connector.state.rows import SourceSeen
from connector.sync.consent_stage import ConsentStage
from connector.sync.mapping_setup import mapping_policy

NOW = datetime(2026, 11, 20, 9, tzinfo=UTC)


def stage() -> ConsentStage:
    """A registrants consent stage without store or org: supersede touches neither."""
    name = "registrants"
    policy = mapping_policy(PROJECT.mappings[name], COMPILED[name], PROJECT.purposes)
    report = RunReport(name, NOW)
    return ConsentStage(
        name, policy, PROJECT.purposes, None, None, HASHER, NOW, report,  # type: ignore[arg-type]
        MappingReport(name, "Contact"),
    )  # fmt: skip


def _close(s: ConsentStage) -> None:
    s.chunks.close()
    s.pending.close()
    s.deferred.close()


def test_supersede_drops_the_queued_entries_and_the_held_row():
    s = stage()
    s.pending.add(entries(0, 3))
    s.deferred.put([SourceSeen(key(i), f"h{i}", None, f"t{i}") for i in range(3)])
    s.supersede([key(1)])
    assert s.pending.contact_keys() == {key(0), key(2)}
    assert [r.key_hash for r in s.deferred.pop([key(i) for i in range(3)])] == [key(0), key(2)]
    _close(s)


def test_supersede_waits_for_the_worker_writing_one_of_its_records():
    s = stage()
    release, done = threading.Event(), []

    def chunk() -> None:  # the worker writing an earlier row's consents of key(1)
        release.wait(timeout=30)
        done.append(True)

    s.chunks.start(chunk)
    s._writing = frozenset({key(1)})
    settle = s.chunks.settle

    def releasing_settle() -> None:
        release.set()  # only waiting for the worker lets it finish
        settle()

    s.chunks.settle = releasing_settle  # type: ignore[method-assign]
    drop = s.pending.drop

    def checked_drop(keys) -> None:
        assert done, "supersede ran while the worker still wrote the record's consents"
        drop(keys)

    s.pending.drop = checked_drop  # type: ignore[method-assign]
    s.supersede([key(1)])
    assert done and not s.chunks.busy
    _close(s)


def test_supersede_of_other_records_does_not_wait():
    s = stage()
    release = threading.Event()
    s.chunks.start(lambda: release.wait(timeout=30))
    s._writing = frozenset({key(1)})
    s.supersede([key(2)])
    assert s.chunks.busy  # still writing: the mapping went on
    release.set()
    _close(s)
