"""The outbox rows of a Bulk chunk are written in slices (recorder.py ``sending_keys``) and a
SQLite store builds no statement parameters it does not use (state/outbox.py ``add_outbox``)."""

from __future__ import annotations

import gc
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

from connector.report import MappingReport
from connector.state import OutboxItem, OutboxStatus, open_store
from connector.sync import recorder as recorder_module
from connector.sync.recorder import Recorder

NOW = datetime(2026, 11, 20, 9, tzinfo=UTC)


class _Store:
    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.next = 0

    def add_outbox(self, run_id: int, items: list[OutboxItem], *, status: object) -> list[int]:
        assert status is OutboxStatus.SENT  # the rows of writes that leave now: one statement
        self.sizes.append(len(items))
        ids = list(range(self.next, self.next + len(items)))
        self.next += len(items)
        return ids


def test_sending_keys_writes_the_outbox_in_slices_and_keeps_the_order():
    store = _Store()
    rec = Recorder(store, "students", "Contact", 1, NOW, MappingReport("students", "Contact"))  # type: ignore[arg-type]
    slice_ = recorder_module.SLICE
    keys = [f"{i:064x}" for i in range(2 * slice_ + 5)]
    assert rec.sending_keys(keys, "upsert") == list(range(len(keys)))
    assert store.sizes == [slice_, slice_, 5]


def test_a_sqlite_outbox_insert_builds_no_parameter_dicts(tmp_path: Path):
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        run = store.start_run("students", NOW)
        items = [OutboxItem("students", f"{i:064x}", "Contact", "upsert") for i in range(20_000)]
        store.add_outbox(run, items[:10], at=NOW)  # warm up: statements compiled
        gc.collect()
        tracemalloc.start()
        try:
            store.add_outbox(run, items[10:], at=NOW)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    finally:
        store.close()
    # A tuple per row for executemany (~150 bytes); a dict per row as well was ~650 more.
    assert peak < 400 * len(items), peak
