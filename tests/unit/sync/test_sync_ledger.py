"""The key ledger: the same answers in memory and on disk, and it moves to disk past its limit."""

from __future__ import annotations

import hashlib

import pytest

from connector.sync.ledger import KeyLedger, Latest, mark


def rows(ledger: KeyLedger, entries) -> None:
    """Store (key, line, token) entries, in the ledger's two mappings."""
    entries = list(entries)
    ledger.store({k: t for k, _, t in entries}, {k: line for k, line, _ in entries})


def h(i: int) -> str:
    return hashlib.blake2b(str(i).encode(), digest_size=16).hexdigest()


@pytest.mark.parametrize("memory_keys", [1_000_000, 10])
def test_latest_line_and_token_per_key(memory_keys: int) -> None:
    ledger = KeyLedger(memory_keys=memory_keys)
    rows(ledger, [(h(i), i + 2, f"t{i}") for i in range(50)])
    assert ledger.on_disk is (memory_keys == 10)
    rows(ledger, [(h(3), 900, "t-new")])  # a later row of key 3 replaces the remembered one
    found = ledger.lookup([h(3), h(7), h(999)])
    assert found == {h(3): Latest(900, mark("t-new")), h(7): Latest(9, mark("t7"))}
    assert found[h(3)].mark != mark("t3")  # the token it replaced is told apart
    ledger.close()


def test_moving_to_disk_keeps_every_key() -> None:
    ledger = KeyLedger(memory_keys=100)
    rows(ledger, [(h(i), i, "x") for i in range(100)])
    assert not ledger.on_disk
    rows(ledger, [(h(100), 100, "y")])
    assert ledger.on_disk
    assert len(ledger.lookup([h(i) for i in range(101)])) == 101
    ledger.close()


def test_a_default_ledger_moves_to_disk_past_eighty_thousand_keys() -> None:
    """Issue 8: a large load's peak memory stays near a small one's (80,000 keys ≈ 10 MB),
    and a nightly run of a large school's export stays in memory."""
    import hashlib

    def k(i: int) -> str:
        return hashlib.sha256(str(i).encode()).hexdigest()

    ledger = KeyLedger()
    rows(ledger, [(k(i), i, "t") for i in range(80_000)])
    assert not ledger.on_disk
    rows(ledger, [(k(80_000), 80_002, "t")])
    assert ledger.on_disk
    assert ledger.lookup([k(7)]) == {k(7): Latest(7, mark("t"))}
    ledger.close()


@pytest.mark.parametrize("memory_keys", [1_000_000, 10])
def test_a_student_number_keeps_the_first_key_that_claimed_it(memory_keys: int) -> None:
    ledger = KeyLedger(memory_keys=memory_keys)
    ledger.claim([(h(i), f"key{i}", i + 2) for i in range(30)])
    rows(ledger, [(h(1000 + i), i, "x") for i in range(5)])
    assert ledger.on_disk is (memory_keys == 10)
    ledger.claim([(h(4), "another key", 900)])  # a later claim never takes a number over
    assert ledger.claims([h(4), h(29), h(999)]) == {h(4): ("key4", 6), h(29): ("key29", 31)}
    ledger.close()


def test_claims_made_in_memory_survive_the_move_to_disk() -> None:
    ledger = KeyLedger(memory_keys=20)
    ledger.claim([(h(i), f"key{i}", i) for i in range(10)])
    assert not ledger.on_disk
    rows(ledger, [(h(100 + i), i, "x") for i in range(11)])  # 21 entries: to disk
    assert ledger.on_disk
    assert len(ledger.claims([h(i) for i in range(10)])) == 10
    ledger.close()


def test_memory_per_key_stays_small() -> None:
    """The in-memory ledger's budget (MEMORY_KEYS keys ≈ 10 MB) holds: under 160 bytes a key."""
    import tracemalloc

    keys = [h(i) for i in range(50_000)]
    tokens = [h(-i) for i in range(50_000)]
    tracemalloc.start()
    ledger = KeyLedger()
    rows(ledger, list(zip(keys, range(50_000), tokens, strict=True)))
    used = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert not ledger.on_disk
    assert used / 50_000 < 160
    ledger.close()
