"""Benchmark of `sis-sync state rebuild` after a lost state: API calls, CPU, wall, adopted.

N generated students are synced (a real first load against the emulator), 1 % of them leave
the export, a nightly run records that, and the state is lost. Then `sis-sync state rebuild
students` runs in its own process, ``--rounds`` times (the state deleted before each): its
API calls, CPU (user+sys of the process) and wall time, and the records it adopted as left
their export (connector/sync/rebuild_adopt.py; expected: the 1 % that left).

    .venv/bin/python scripts/bench_rebuild.py [--records 50000] [--rounds 2]
        [--baseline-pythonpath DIR]   # the same rebuild with other code, side by side

``--baseline-pythonpath`` points at another tree's ``connector`` package (``git archive REV
connector | tar -x -C DIR``) to compare with, e.g. the code before the adoption pass.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_scale as b


def rebuild(project: b.Project, emu: b.Emulator, pythonpath: str | None) -> dict[str, object]:
    """One `state rebuild students` from a deleted state, in its own process."""
    shutil.rmtree(project.folder / "state", ignore_errors=True)
    env = os.environ | project.env(SIS_SYNC_SECRET=b.SECRET)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    argv = [sys.executable, "-m", "connector.cli", "--config", str(project.folder / "sync.yaml")]
    before = emu.stats()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [*argv, "state", "rebuild", b.MAPPING],
        env=env,
        cwd=project.folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"state rebuild exited {code}:\n{out[-2000:]}")
    adopted = [line.strip() for line in out.splitlines() if "adopted without a written row" in line]
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "api_calls": emu.stats()["api_calls"] - before["api_calls"],
        "adopted": adopted[0] if adopted else "",
    }


def main() -> int:
    """Set the org up once, then time the rebuilds side by side."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=50_000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--baseline-pythonpath")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-rebuild-"))
    scale = b.Scale(argparse.Namespace(seed=1, env=[]), tmp)
    emu = scale.emulator()
    try:
        project = scale.project("rebuild", emu, args.records)
        b.expect("first load", scale.sis_sync(project), args.records, created=args.records)
        lines = project.csv.read_text(encoding="utf-8-sig").splitlines(keepends=True)
        kept = [lines[0]] + [row for i, row in enumerate(lines[1:]) if i % 100 != 5]
        project.csv.write_text("".join(kept), encoding="utf-8-sig")
        scale.sis_sync(project)  # the nightly run that sees them gone
        print(f"{args.records:,} students, {len(lines) - len(kept):,} left the export", flush=True)
        for n in range(args.rounds):
            sides = [("this code", None)]
            if args.baseline_pythonpath:
                sides.insert(0, ("baseline", args.baseline_pythonpath))
            for label, path in sides:
                print(json.dumps({"round": n + 1, "code": label} | rebuild(project, emu, path)))
    finally:
        emu.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"load average {b.loadavg()}; code {b.revision()['code']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
