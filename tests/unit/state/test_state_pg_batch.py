"""How a batch's columns travel to PostgreSQL (connector/state/pg_batch.py), and that a value
which could split a packed column wrongly goes as a plain array instead."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import psycopg
import pytest

from connector.state import StateStore, SyncedUpdate, open_store, pg_batch
from connector.state.pg_batch import NULL, SEP, column

T0 = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


def test_a_column_is_one_text_split_on_the_server():
    expr, param = column(["a", None, "", "b"])
    assert expr.startswith("string_to_array(")
    assert param == f"a{SEP}{NULL}{SEP}{SEP}b"


def test_typed_values_are_written_as_the_cast_reads_them():
    assert column([1, None], "int")[1] == f"1{SEP}{NULL}"
    assert column([date(2025, 4, 1)], "date")[1] == "2025-04-01"
    assert column([T0], "timestamptz")[1] == "2025-03-01T09:30:00+00:00"
    # Sent in UTC: PostgreSQL reads no sub-second offset, which Python allows.
    odd = datetime(2026, 3, 29, 2, 30, tzinfo=timezone(timedelta(microseconds=7)))
    assert column([odd], "timestamptz")[1] == "2026-03-29T02:29:59.999993+00:00"


def test_a_lifecycle_end_in_any_offset_is_the_same_instant(store: StateStore):
    ends = {
        "a": datetime(2026, 3, 29, 2, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        "b": datetime(2026, 3, 29, 2, 30, tzinfo=timezone(timedelta(microseconds=7))),
    }
    store.record_synced(
        [
            SyncedUpdate("m", k, "Contact", sf_id=None, field_hashes={}, lifecycle_end_at=end)
            for k, end in ends.items()
        ],
        at=T0,
    )
    found = store.lookup("m", list(ends))
    assert {k: r.lifecycle_end_at for k, r in found.items()} == ends


def test_a_value_holding_a_separator_goes_as_an_array():
    for odd in (f"a{SEP}b", f"x{NULL}", ""):
        expr, param = column([odd])
        assert expr == "%s::text[]"
        assert param == [odd]


def test_odd_keys_round_trip_on_both_backends(store: StateStore):
    keys = [f"k{SEP}1", f"k{NULL}2", "k3"]
    store.record_synced(
        [
            SyncedUpdate("students", k, "Contact", sf_id=f"003{i:015d}", field_hashes={"A": "1"})
            for i, k in enumerate(keys)
        ],
        at=T0,
    )
    found = store.lookup("students", keys)
    assert {k: r.sf_id for k, r in found.items()} == {k: f"003{i:015d}" for i, k in enumerate(keys)}
    # One row whose key is empty: a packed column of it would be the empty text, no row at all.
    store.record_synced([SyncedUpdate("solo", "", "Contact", sf_id=None, field_hashes={})], at=T0)
    assert set(store.lookup("solo", [""])) == {""}


@pytest.mark.postgres
def test_forgetting_a_batchs_source_rows_uses_the_key_index_on_postgresql(pg_url: str):
    # A first load forgets each written record's other source rows: a plan that scanned
    # source_rows a batch would make a large load quadratic (SQLite's twin:
    # test_sync_query_plans). On a small table PostgreSQL rightly prefers one pass over it (at
    # 50,000 rows a hash join); on a large one each key must be an index look-up.
    store = open_store(pg_url)
    try:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO source_rows (mapping, source_hash, key_hash, token)"
                " SELECT 'students', md5(i::text), md5('k' || i), md5('t' || i)"
                " FROM generate_series(1, 200000) i"
            )
            conn.execute("ANALYZE source_rows")
            keys = [("students", f"{i:032x}", "token") for i in range(2_000)]
            cols = pg_batch._columns(keys, ("text",) * 3)
            sql = pg_batch._FORGET_OTHER.format(*(expr for expr, _ in cols))
            plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + sql, [p for _, p in cols]))
    finally:
        store.close()
    assert "Index Scan using ix_source_rows_key on source_rows" in plan, plan
    assert "Seq Scan on source_rows" not in plan, plan
