"""Benchmark of issue 9 item 7: the API calls of a retention purge of 10,000 persons.

An emulator runs in a child process (optionally with ``--latency-ms`` per API call, like a
remote org). The shipped project loads N open-day visitors through ``sis-sync run nightly``
(each a Contact, a CampaignMember and a Task), then the clock is moved past the open day's
retention (``SIS_SYNC_NOW``, event date + P3M) and ``sis-sync purge`` (the preview) and
``sis-sync purge --apply`` run as the CLI, each in its own process. API calls are the
emulator's own count (``/__emulator__/stats``), wall time is each command's.

    .venv/bin/python scripts/bench_purge.py [--persons N] [--latency-ms MS] [--json F] [--check]

Prints a Markdown table and the requests per route; ``--check`` exits 1 when preview and
apply together use more than 150 API calls. docs/benchmarks.md ("Purge") has the figures.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_sync import Emulator, route_delta

from connector.commands.mapping import DEFAULTS
from connector.demo import REGISTRATION_COLUMNS, STUDENT_COLUMNS

SECRET = hashlib.sha256(b"bench-purge, not a real secret").hexdigest()
LOADED = "2026-11-20T09:00:00+00:00"  # a week after the open day
LATER = "2027-03-14T09:00:00+00:00"  # four months after it: event_registration keeps P3M
TARGET = 150
OBJECTS = ("Contact", "CampaignMember", "Task")


def write_project(folder: Path, persons: int) -> None:
    """The shipped project with no students and ``persons`` visitors of one open day."""
    shutil.copytree(DEFAULTS, folder)
    data = folder / "data"
    data.mkdir()
    with (data / "studenten.csv").open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh, delimiter=";").writerow(STUDENT_COLUMNS)
    with (data / "aanmeldingen_opendag.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, REGISTRATION_COLUMNS)
        w.writeheader()
        for i in range(persons):
            w.writerow(
                {c: "" for c in REGISTRATION_COLUMNS}
                | {
                    "registratie_id": f"R-{i:07d}", "evenement_id": "OD-2026-11-14-UTR",
                    "evenement_naam": "Open dag Utrecht 14 november", "evenement_type": "Open dag",
                    "evenement_datum": "2026-11-14", "locatie": "Utrecht", "voornaam": "Daan",
                    "achternaam": f"Bezoeker{i}", "email": f"bezoeker{i}@voorbeeld.example",
                    "geboortedatum": "2008-05-01", "opleiding_interesse": "Kok",
                    "aangemeld_op": "2026-10-01T12:00:00+02:00", "ingecheckt": "ja",
                    "ingecheckt_op": "2026-11-14T10:05:00+01:00", "qr_code": f"QR{i:07d}",
                    "toestemming_nieuws": "nee",
                }
            )  # fmt: skip


def sis_sync(folder: Path, env: dict[str, str], *args: str) -> tuple[float, str]:
    """Run the ``sis-sync`` CLI in ``folder``; wall seconds and its output. Fails loudly."""
    exe = Path(sys.executable).parent / "sis-sync"
    t0 = time.perf_counter()
    done = subprocess.run(
        [str(exe), *args], cwd=folder, env={**os.environ, **env}, capture_output=True, text=True
    )
    secs = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"sis-sync {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return secs, done.stdout


def measure(emu: Emulator, folder: Path, env: dict[str, str], *args: str) -> dict[str, Any]:
    """API calls, requests per route and wall seconds of one command."""
    before = emu.stats()
    secs, _ = sis_sync(folder, env, *args)
    after = emu.stats()
    return {
        "api_calls": after["api_calls"] - before["api_calls"],
        "seconds": round(secs, 1),
        "routes": route_delta(before, after),
        "records_after": {o: after["records"].get(o, 0) for o in OBJECTS},
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Load, age and purge; the figures."""
    with tempfile.TemporaryDirectory(prefix="bench-purge-") as tmp:
        emu = Emulator(Path(tmp) / "org")
        try:
            emu.faults(latency_ms=args.latency_ms)
            folder = Path(tmp) / "project"
            write_project(folder, args.persons)
            env = {
                "SIS_SYNC_SECRET": SECRET,
                "SIS_SYNC_NOW": LOADED,
                "SIS_SYNC_SALESFORCE__URL": emu.url,
                "SIS_SYNC_SALESFORCE__AUTH": "client_credentials",
                "SIS_SYNC_SALESFORCE__CLIENT_ID": "bench",
                "SIS_SYNC_SALESFORCE__CLIENT_SECRET": "bench",
                "SIS_SYNC_SALESFORCE__CA_BUNDLE": emu.ca_file,
            }
            load = measure(emu, folder, env, "run", "nightly")
            loaded = load["records_after"]
            if any(loaded[o] != args.persons for o in OBJECTS):
                raise RuntimeError(f"expected {args.persons} of each of {OBJECTS}, got {loaded}")
            later = {**env, "SIS_SYNC_NOW": LATER}
            preview = measure(emu, folder, later, "purge")
            if any(preview["records_after"][o] != args.persons for o in OBJECTS):
                raise RuntimeError("the preview deleted something")
            apply = measure(emu, folder, later, "purge", "--apply")
            if any(apply["records_after"].values()):
                raise RuntimeError(f"the purge left records: {apply['records_after']}")
        finally:
            emu.close()
    total = preview["api_calls"] + apply["api_calls"]
    return {
        "persons": args.persons,
        "latency_ms": args.latency_ms,
        "load": load,
        "preview": preview,
        "apply": apply,
        "total_api_calls": total,
        "target": TARGET,
        "ok": total <= TARGET,
        "loadavg": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
    }


def table(res: dict[str, Any]) -> str:
    """The figures as a Markdown table."""
    n = f"{res['persons']:,}"
    rows = [
        ("load (sis-sync run nightly)", res["load"]),
        ("purge preview (sis-sync purge)", res["preview"]),
        ("purge (sis-sync purge --apply)", res["apply"]),
    ]
    lines = [
        f"{n} persons, each a Contact + CampaignMember + Task; latency {res['latency_ms']} ms/call",
        "",
        "| step | API calls | wall s |",
        "|---|---:|---:|",
        *(f"| {name} | {f['api_calls']} | {f['seconds']} |" for name, f in rows),
        f"| **preview + apply** | **{res['total_api_calls']}** (target ≤ {res['target']}) | |",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--persons", type=int, default=10_000)
    p.add_argument("--latency-ms", type=int, default=0, help="emulator latency per API call")
    p.add_argument("--json", type=Path, help="also write the figures here")
    p.add_argument("--check", action="store_true", help=f"exit 1 above {TARGET} calls")
    args = p.parse_args(argv)
    res = run(args)
    print(table(res))
    for step in ("preview", "apply"):
        print(f"\n{step} requests per route: {json.dumps(res[step]['routes'])}")
    print(f"\nload average: {res['loadavg']}")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))
    return 1 if args.check and not res["ok"] else 0


if __name__ == "__main__":
    sys.exit(main())
