"""Attack the recovery of a lost state: SIGKILL the run that rebuilds it, at random moments.

    .venv/bin/python scripts/attack_lost_state.py [--trials 12] [--seed 11] [--kill-max 5]
        [--next-job students]

A demo project (1,500 students, 800 applicants, 2,000 event registrations, no malformed rows) is
loaded into an emulator twice (the reference). Then, per trial: the state folder is deleted,
`sis-sync run nightly` starts (it rebuilds the state from the org first: connector/sync/recovery.py)
and is killed after a random 0.3 s–``--kill-max`` s, then runs again (must exit 0, resuming the
rebuild when it was under way) and a third time (must write 0). After each trial the org must
hold no external id or e-mail twice and exactly the reference's records per object.
``--next-job JOB``: the run after the kill is of another job (it must resume the nightly's
half-done rebuild before it syncs), then the nightly runs once more before the third run.
Prints one line a trial; exit 1 when any trial failed.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

from bench_scale import SECRET
from bench_sync import DEFAULTS, Emulator

from connector.demo.dataset import generate

SIS_SYNC = Path(sys.executable).parent / "sis-sync"
KEYS = {
    "Contact": ("SIS_Student_Number__c", "SIS_Sync_Key__c", "Email"),
    "CampaignMember": ("SIS_Sync_Key__c",),
    "Task": ("SIS_Sync_Key__c",),
}


class Attack:
    """One emulator and one project; runs of the real CLI against them."""

    def __init__(self, tmp: Path):
        self.emu = Emulator(tmp / "emulator")
        self.project = tmp / "project"
        shutil.copytree(DEFAULTS, self.project)
        generate(
            self.project, students=1500, applicants=800, registrations=2000,
            today=date(2026, 11, 20), malformed=False,
        )  # fmt: skip
        self.env = os.environ | {
            "SIS_SYNC_SECRET": SECRET,
            "SIS_SYNC_NOW": "2026-11-20T10:00:00+01:00",
            "SIS_SYNC_SALESFORCE__URL": self.emu.url,
            "SIS_SYNC_SALESFORCE__AUTH": "client_credentials",
            "SIS_SYNC_SALESFORCE__CLIENT_ID": "attack",
            "SIS_SYNC_SALESFORCE__CLIENT_SECRET": "attack",
            "SIS_SYNC_SALESFORCE__CA_BUNDLE": self.emu.ca_file,
        }

    def run(self, kill_after: float | None = None, job: str = "nightly") -> tuple[int, str]:
        """`sis-sync run JOB`: its exit code and output (-9, "" when it was killed)."""
        proc = subprocess.Popen(
            [str(SIS_SYNC), "run", job], cwd=self.project, env=self.env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            out, _ = proc.communicate(timeout=kill_after)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
            return -9, ""
        return proc.returncode, out

    def org(self) -> tuple[dict[str, int], dict[str, int]]:
        """Values held twice per object.field, and the records per object."""
        client, twice = self.emu.client(), {}
        for obj, fields in KEYS.items():
            records = client.query_all(f"SELECT Id, {', '.join(fields)} FROM {obj}")["records"]
            for f in fields:
                counts = collections.Counter(r[f] for r in records if r[f])
                if n := sum(v - 1 for v in counts.values() if v > 1):
                    twice[f"{obj}.{f}"] = n
        return twice, self.emu.stats()["records"]


def _writes(summary: str) -> int:
    total = 0
    for line in summary.splitlines():
        if "create " in line and "update " in line:
            total += int(line.split("create ")[1].split(",")[0])
            total += int(line.split("update ")[1].split(",")[0])
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--kill-max", type=float, default=5.0, help="latest kill, seconds")
    parser.add_argument(
        "--next-job",
        default="nightly",
        help="the job of the run after the kill (another job, e.g. students: it must resume "
        "the nightly's half-done rebuild first); then the nightly once more",
    )
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    failed = 0
    with tempfile.TemporaryDirectory(prefix="attack-lost-") as tmp:
        attack = Attack(Path(tmp))
        try:
            for _ in range(2):
                rc, out = attack.run()
                if rc != 0:
                    print(out[-2000:])
                    return 1
            reference = attack.org()
            print(f"reference: {reference[1]}")
            for trial in range(args.trials):
                shutil.rmtree(attack.project / "state")
                at = rng.uniform(0.3, args.kill_max)
                killed = attack.run(kill_after=at)[0] == -9
                rc1, out1 = attack.run(job=args.next_job)
                if args.next_job != "nightly" and rc1 == 0:
                    rc1, more = attack.run()
                    out1 += more
                rc2, out2 = attack.run()
                twice, counts = attack.org()
                ok = rc1 == 0 and rc2 == 0 and _writes(out2) == 0 and not twice
                ok = ok and counts == reference[1]
                failed += not ok
                print(
                    f"trial {trial}: {'killed' if killed else 'finished'} at {at:.1f} s; next "
                    f"run exit {rc1}{' (rebuilt first)' if 'state rebuild · job' in out1 else ''}"
                    f"{' (resumed the one killed)' if 'resuming it first' in out1 else ''}"
                    f"; third exit {rc2}, {_writes(out2)} writes; held twice {twice or 'none'};"
                    f" records as the reference: {counts == reference[1]}"
                    + ("" if ok else "  <-- FAILED\n" + out1[-2000:])
                )
        finally:
            attack.emu.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
