"""What a lost state costs in API calls: a first load, the run after the state folder is deleted
(it rebuilds the state from the org first: connector/sync/recovery.py), and an explicit
``sis-sync state rebuild`` — each through the real CLI against an emulator in its own process.

    .venv/bin/python scripts/bench_lost_state.py [--rows 5000]

Prints one line per step: exit code, API calls, and whether a rebuild ran. The students job of
the shipped project (its consent model included); docs/recovery.md quotes the figures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_scale import SECRET
from bench_sync import Emulator, Project

SIS_SYNC = Path(sys.executable).parent / "sis-sync"
REBUILT = "sis-sync state rebuild · job"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000, help="students in the export")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-lost-") as tmp:
        emu = Emulator(Path(tmp) / "emulator")
        try:
            project = Project(Path(tmp) / "project", emu, args.rows, seed=3)
            env = os.environ | project.env(SIS_SYNC_SECRET=SECRET)
            state = project.folder / "state"

            def step(label: str, *command: str) -> None:
                before = emu.stats()["api_calls"]
                done = subprocess.run(
                    [str(SIS_SYNC), "--config", str(project.folder / "sync.yaml"), *command],
                    env=env, cwd=project.folder, capture_output=True, text=True, check=False,
                )  # fmt: skip
                calls = emu.stats()["api_calls"] - before
                rebuilt = "rebuilt first" if command[0] == "run" and REBUILT in done.stdout else ""
                print(f"{label:<34} exit {done.returncode}  {calls:>5} API calls  {rebuilt}")

            step("first load", "run", "students")
            step("next run", "run", "students")
            shutil.rmtree(state)
            step("run after the state is lost", "run", "students")
            step("next run", "run", "students")
            shutil.rmtree(state)
            step("state rebuild (the command)", "state", "rebuild", "students")
            step("run after it", "run", "students")
        finally:
            emu.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
