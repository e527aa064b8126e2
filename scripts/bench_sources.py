"""Measure CsvSource.read() throughput on a generated file.

Usage: .venv/bin/python scripts/bench_sources.py [ROWS] [COLUMNS]

Writes a synthetic `;`-separated file (no real data) to a temporary folder, then times
``check()`` (the full decode scan), ``read()`` alone (records whose fields are built on first
use, as a nightly run recognising rows by their signature sees them) and ``read()`` with every
record's ``fields`` built (as a run that maps every row sees them), and prints rows per second.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from connector.sources import open_source


def generate(path: Path, rows: int, cols: int) -> None:
    """A file with a header ``c0..cN`` and ``rows`` synthetic rows; c0 is a unique key."""
    header = ";".join(f"c{i}" for i in range(cols))
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(header + "\r\n")
        for r in range(rows):
            cells = [f"k{r:07d}"] + [f"value-{r % 97}-{c}" if c % 5 else "" for c in range(1, cols)]
            fh.write(";".join(cells) + "\r\n")


def main() -> None:
    """Generate, check, read and report."""
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    cols = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        generate(base / "bench.csv", rows, cols)
        src = open_source({"kind": "csv", "path": "bench.csv", "key": "c0"}, base_dir=base)
        t0 = time.perf_counter()
        src.check()
        t1 = time.perf_counter()
        n = sum(1 for _ in src.read())
        t2 = time.perf_counter()
        m = sum(1 for rec in src.read() if rec.fields)
        t3 = time.perf_counter()
    assert n == m == rows, (n, m, rows)
    print(f"rows={rows} columns={cols}")
    print(f"check(): {t1 - t0:.3f} s")
    print(f"read():  {t2 - t1:.3f} s  = {rows / (t2 - t1):,.0f} rows/s (fields not built)")
    print(f"read() + fields: {t3 - t2:.3f} s  = {rows / (t3 - t2):,.0f} rows/s")


if __name__ == "__main__":
    main()
