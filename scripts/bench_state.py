"""Benchmark the state store the way the engine uses it: batches of lookup + record_synced.

Usage::

    .venv/bin/python scripts/bench_state.py                       # 100,000 records, SQLite tmp file
    .venv/bin/python scripts/bench_state.py --records 1000000     # memory must stay flat
    .venv/bin/python scripts/bench_state.py --url postgresql://postgres@127.0.0.1:5432/bench

Three passes over the same keys: a first sync (every lookup misses, every record is inserted),
an unchanged re-run (lookups hit, touch_seen), and a re-run where 10 % changed (record_synced
updates). Reports records/s per operation and the process RSS after the first batch and at the
end: the store reads one batch at a time, so RSS must not grow with the record count.
``--check`` exits 1 when lookups of known records are slower than the engine's 50,000 keys/s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from connector.hashing import KeyHasher
from connector.state import SyncedUpdate, open_store

FIELDS = ("LastName", "FirstName", "Email", "MobilePhone", "Birthdate", "MailingPostalCode")


def rss_mb() -> float:
    """Resident set size of this process in MiB (Linux)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096 / 2**20


def update(hasher: KeyHasher, key: str, i: int, generation: int) -> SyncedUpdate:
    hashes = {f: hasher.value(f"{f}-{i}-{generation}") for f in FIELDS}
    return SyncedUpdate("students", key, "Contact", f"003{i:015d}", hashes, lifecycle="enrolled")


def main() -> int:
    """Run the benchmark and print a table; see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=2_000)
    ap.add_argument("--url", default="")
    ap.add_argument("--check", action="store_true", help="fail below 50,000 lookups/s")
    args = ap.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="bench-state-")
    url = args.url or f"sqlite:///{tmp.name}/state.db"
    hasher = KeyHasher("bench-secret")
    store = open_store(url)
    seconds: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    t0 = datetime.now(UTC)
    rss_first = 0.0
    rss_peak = 0.0

    def timed(name: str, n: int, fn, *a, **kw):
        start = time.perf_counter()
        result = fn(*a, **kw)
        seconds[name] += time.perf_counter() - start
        counts[name] += n
        return result

    for generation, label in enumerate(("first sync", "unchanged", "10% changed")):
        at = t0 + timedelta(days=generation)
        for start in range(0, args.records, args.batch):
            idx = range(start, min(start + args.batch, args.records))
            keys = [hasher.key("student", str(i)) for i in idx]
            kind = "lookup (miss)" if generation == 0 else "lookup (hit)"
            known = timed(kind, len(keys), store.lookup, "students", keys)
            if generation == 0:
                rows = [update(hasher, k, i, 0) for k, i in zip(keys, idx, strict=True)]
                timed("record_synced (insert)", len(rows), store.record_synced, rows, at=at)
            else:
                changed = [
                    update(hasher, k, i, generation)
                    for k, i in zip(keys, idx, strict=True)
                    if generation == 2 and i % 10 == 0
                ]
                same = [k for k in keys if k in known]
                if changed:
                    timed(
                        "record_synced (update)", len(changed), store.record_synced, changed, at=at
                    )
                timed("touch_seen", len(same), store.touch_seen, "students", same, at=at)
            if not rss_first:
                rss_first = rss_mb()
            rss_peak = max(rss_peak, rss_mb())
        print(f"pass done: {label}", file=sys.stderr)

    store.close()
    print(f"backend: {url.split(':', 1)[0]}  records: {args.records:,}  batch: {args.batch:,}")
    print(f"{'operation':<26}{'records':>12}{'seconds':>10}{'records/s':>14}")
    for name in seconds:
        rate = counts[name] / seconds[name] if seconds[name] else float("inf")
        print(f"{name:<26}{counts[name]:>12,}{seconds[name]:>10.2f}{rate:>14,.0f}")
    print(f"RSS after first batch: {rss_first:.1f} MiB; peak: {rss_peak:.1f} MiB")
    tmp.cleanup()
    lookup_rate = counts["lookup (hit)"] / seconds["lookup (hit)"]
    if args.check and lookup_rate < 50_000:
        print(f"FAIL: lookups at {lookup_rate:,.0f}/s, below 50,000/s", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
