"""Benchmarks of issue 8's "Speed and memory" targets: real runs of the ``sis-sync`` CLI at scale.

Every run is the real CLI (``sis-sync run students``) in its own process against an emulator in
another process (``scripts/bench_sync.py`` provides both, and the generated ``studenten.csv`` with
every student enrolled); CPU, wall time and peak RSS are the sis-sync process's own. The bare loop
(``csv.DictReader`` + SHA-256 per row over the same file) is timed in this process, in the same
run, so ratios compare like with like on a busy machine.

    .venv/bin/python scripts/bench_scale.py all [--json FILE] [--check]
    .venv/bin/python scripts/bench_scale.py first-load [--sizes 10000,40000,200000] [--million]
    .venv/bin/python scripts/bench_scale.py bulk-vs-script | nightly-churn | postgres

Prints a Markdown table (figure, value, target, ok, load average) and the details of each figure;
``--json`` also writes them. docs/benchmarks.md ("At scale") describes what each one measures.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import itertools
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench_sync import MAPPING, Emulator, Figure, Project, baseline, route_delta

ROOT = Path(__file__).resolve().parent.parent
# 64 hex characters: a keyed-hash secret of a realistic length (short ones may be refused).
SECRET = hashlib.sha256(b"bench-scale, not a real secret").hexdigest()
MB = 1_000_000

# `sis-sync ARGS…` in this process; at exit, its own figures go to the JSON file named first:
# VmHWM (the kernel's high-water mark of this address space; ru_maxrss would carry the parent's
# across fork), user+sys CPU of all its threads, and the CPU spent importing the CLI.
CLI = """
import atexit, json, os, sys, time
from pathlib import Path
out, mark = Path(sys.argv[1]), {}
def _libraries():
    # Every module not of sis-sync's own code (the standard library's and the packages'): what
    # import_floor loads in a fresh interpreter.
    return sorted(n for n in list(sys.modules) if n.split(".")[0] not in ("connector", "__main__"))
def _done():
    peak = [int(l.split()[1]) for l in Path("/proc/self/status").read_text().splitlines()
            if l.startswith("VmHWM:")]
    t = os.times()
    out.write_text(json.dumps({"vmhwm_kib": peak[0], "cpu_s": t.user + t.system,
                               "import_cpu_s": mark.get("cpu", 0.0),
                               "libraries_at_mark": mark.get("libraries", []),
                               "libraries": _libraries()}))
atexit.register(_done)
sys.argv = ["sis-sync", *sys.argv[2:]]
from connector.cli import main
if os.environ.get("BENCH_WARM"):
    # What a run imports lazily, loaded before the mark: a `serve` tick's CPU (its process has
    # them loaded since its first run), with what a process keeps once loaded: the plugin
    # registries (entry points) and the digest of the connector's own code.
    import connector.gdpr.erasure_retry, connector.salesforce, connector.state.store
    import connector.config, connector.sync.engine, connector.sync.job, connector.sync.recovery
    from connector.mapping.transforms import registry as _transforms
    from connector.sources.base import registry as _sources
    from connector.sync.fingerprint import _code_digest
    _transforms.entries(), _sources.entries(), _code_digest()
t = os.times()
mark["cpu"] = t.user + t.system
mark["libraries"] = _libraries()
if os.environ.get("BENCH_WARM"):
    # What a `serve` tick runs (connector/service.py, _execute): the settings read anew, then
    # run_recovering (run_job after the lost-state check); no command-line layer (its lazy
    # command import, progress bar, row count).
    from connector.config import load_settings
    from connector.sync.recovery import run_recovering
    report = run_recovering(load_settings(sys.argv[2]), job=sys.argv[4], progress=lambda m, n: None)
    sys.exit(report.exit_code())
main()
"""

# The Contact columns the students mapping sends (connector/defaults/project/mappings).
CONTACT_COLUMNS = [
    "SIS_Student_Number__c", "LastName", "FirstName", "Email", "MobilePhone", "Phone",
    "MailingStreet", "MailingPostalCode", "MailingCity", "Birthdate", "Study_Programme__c",
    "Lifecycle_Status__c", "Consent_News__c", "Consent_News_At__c", "Consent_News_Source__c",
]  # fmt: skip


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages of the machine (``/proc/loadavg``)."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def proc_cpu(pid: int) -> float:
    """User+sys CPU seconds of a running process (``/proc/PID/stat``, fields 14 and 15)."""
    rest = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


FLOOR = """
import importlib, json, os, sys
def load(names):
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # a module that imports only as a side effect of another
            pass
before, after = json.loads(sys.stdin.read())
load(before)
t = os.times(); c0 = t.user + t.system
load(after)
t = os.times(); print(t.user + t.system - c0)
"""


def import_floor(libraries: tuple[list[str], list[str]], repeat: int = 3) -> float:
    """CPU seconds a fresh interpreter spends importing the library modules (standard library
    and packages, none of sis-sync's own) a run loaded after its mark, with those loaded before
    the mark loaded first: the least of ``repeat`` rounds. What no code of ours can take off a
    run's CPU, short of not using those libraries."""
    before, after = libraries
    payload = json.dumps([before, [n for n in after if n not in set(before)]])
    rounds = []
    for _ in range(repeat):
        done = subprocess.run(
            [sys.executable, "-c", FLOOR],
            input=payload,
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        rounds.append(float(done.stdout.strip()))
    return min(rounds)


def bare_cpu(path: Path, repeat: int = 3) -> float:
    """CPU seconds of the bare loop over ``path``: the least of ``repeat`` rounds (it is short)."""
    return min(baseline(path)[2] for _ in range(repeat))


class Scale:
    """Shared state of one run: arguments, temporary folder, figures, emulators."""

    def __init__(self, args: argparse.Namespace, tmp: Path):
        self.args, self.tmp = args, tmp
        self.figures: list[Figure] = []
        self._n = 0
        self.libraries: tuple[list[str], list[str]] = ([], [])  # of the last sis_sync run

    def emulator(self, latency_ms: int = 0, *, consent_model: bool = True) -> Emulator:
        """A fresh emulator (an empty org) in its own folder; the caller closes it."""
        self._n += 1
        emu = Emulator(self.tmp / f"emulator-{self._n}", consent_model=consent_model)
        if latency_ms:
            emu.faults(latency_ms=latency_ms)
        return emu

    def project(self, name: str, emu: Emulator | None, rows: int) -> Project:
        """The shipped project with ``rows`` generated students, all enrolled."""
        return Project(self.tmp / name, emu, rows, seed=self.args.seed, enrolled=True)

    def add(
        self,
        bench: str,
        name: str,
        value: float,
        unit: str,
        target: str = "",
        ok: bool | None = None,
        **detail: Any,
    ) -> Figure:
        """Record a figure with the machine's load average, and show it on stderr."""
        fig = Figure(bench, name, value, unit, target, ok, {"load": loadavg(), **detail})
        self.figures.append(fig)
        print(
            f"  {bench}: {name} = {value:,.2f} {unit} (load {fig.detail['load']})", file=sys.stderr
        )
        return fig

    def sis_sync(self, project: Project, *extra_env: tuple[str, str]) -> dict[str, Any]:
        """``sis-sync run students`` in its own process: its CPU, wall time, peak RSS, counts.

        Also the API calls and the CPU the emulator spent meanwhile (from ``/proc`` of its pid).
        """
        emu = project.emulator
        assert emu is not None
        env = os.environ | project.env(**({"SIS_SYNC_SECRET": SECRET} | dict(self.args.env)))
        env |= dict(extra_env)
        out = project.folder / f"cli-{uuid.uuid4().hex[:8]}.json"
        argv = ["--config", str(project.folder / "sync.yaml"), "run", MAPPING]
        before, emu_cpu = emu.stats(), proc_cpu(emu.proc.pid)
        log = project.folder / "sis-sync.log"
        t0 = time.perf_counter()
        with log.open("a") as fh:
            rc = subprocess.run(
                [sys.executable, "-c", CLI, str(out), *argv],
                env=env,
                stdout=fh,
                stderr=subprocess.STDOUT,
                cwd=project.folder,
                check=False,
            ).returncode
        wall = time.perf_counter() - t0
        after, emu_cpu = emu.stats(), proc_cpu(emu.proc.pid) - emu_cpu
        if rc not in (0, 1) or not out.exists():
            tail = log.read_text(errors="replace")[-1500:]
            raise RuntimeError(f"sis-sync run exited {rc}:\n{tail}")
        own = json.loads(out.read_text())
        # The library modules loaded before the mark and by the run (import_floor).
        self.libraries = (own["libraries_at_mark"], own["libraries"])
        return {
            "exit": rc,
            "wall_s": round(wall, 2),
            "cpu_s": round(own["cpu_s"], 2),
            "run_cpu_s": round(own["cpu_s"] - own["import_cpu_s"], 2),  # without imports
            "peak_rss_mb": round(own["vmhwm_kib"] * 1024 / MB, 1),
            "api_calls": after["api_calls"] - before["api_calls"],
            "contacts": after["records"].get("Contact", 0),
            "emulator_cpu_s": round(emu_cpu, 2),
            **last_counts(project.folder),
            "routes": route_delta(before, after),
            "load_after": loadavg(),
        }


def last_counts(folder: Path) -> dict[str, Any]:
    """The students mapping's counts from the newest run report under ``folder`` (no values)."""
    reports = sorted(folder.rglob("run-*.json"), key=lambda p: p.stat().st_mtime)
    if not reports:
        return {}
    m = json.loads(reports[-1].read_text()).get("mappings", {}).get(MAPPING, {})
    keys = ("read", "created", "updated", "unchanged", "skipped", "rejected", "failed", "pending")
    return {k: m.get(k) for k in keys} | {"strategy": m.get("strategy")}


def expect(label: str, got: dict[str, Any], contacts: int, **counts: int) -> None:
    """Stop the benchmark when a run did not do what it is timed for (a wrong figure is worse)."""
    wrong = {k: got.get(k) for k, v in counts.items() if got.get(k) != v}
    if got["contacts"] != contacts or wrong or got["exit"] != 0:
        raise RuntimeError(f"{label}: expected {contacts} Contacts and {counts}, got {got}")


# -- 1. first load ----------------------------------------------------------------------------


def bench_first_load(s: Scale) -> None:
    """A real first load at each size: CPU, wall, peak RSS, linearity and the bare-loop ratio."""
    sizes = sorted(set(s.args.sizes + ([1_000_000] if s.args.million else [])))
    runs: dict[int, dict[str, Any]] = {}
    for n in sizes:
        if len(runs) >= 2 and s.args.budget_s:
            (a, ra), (b, rb) = list(runs.items())[-2:]
            k = math.log(rb["wall_s"] / ra["wall_s"]) / math.log(b / a)  # observed growth
            guess = rb["wall_s"] * (n / b) ** max(k, 1.0)
            if guess > s.args.budget_s:
                print(
                    f"  first-load: {n:,} skipped: ~{guess:,.0f} s expected at the growth "
                    f"seen so far (exponent {k:.2f}) > --budget-s",
                    file=sys.stderr,
                )
                s.add(
                    "first-load",
                    f"{n:,} rows",
                    0,
                    "skipped",
                    f"~{guess:,.0f} s expected",
                    None,
                    exponent=round(k, 2),
                )
                continue
        emu = s.emulator()
        try:
            project = s.project(f"first-{n}", emu, n)
            r = s.sis_sync(project)
            expect(f"first load {n:,}", r, n, created=n)
            r["bare_cpu_s"] = round(bare_cpu(project.csv), 3)
        finally:
            emu.close()
        shutil.rmtree(project.folder, ignore_errors=True)
        runs[n] = r
        s.add(
            "first-load",
            f"CPU per row, {n:,} rows",
            1e6 * r["cpu_s"] / n,
            "µs",
            ratio_to_bare=round(r["run_cpu_s"] / r["bare_cpu_s"], 1),
            **r,
        )
        s.add("first-load", f"wall, {n:,} rows", r["wall_s"], "s")
        s.add("first-load", f"peak RSS, {n:,} rows", r["peak_rss_mb"], "MB")
    done = sorted(runs)
    for a, b in itertools.pairwise(done):
        ratio = runs[b]["cpu_s"] / runs[a]["cpu_s"]
        target = f"≤ {4.5 * b / a / 4:g} (linear {b / a:g})"
        s.add(
            "first-load",
            f"CPU({b // 1000}k) / CPU({a // 1000}k)",
            ratio,
            "×",
            target,
            ratio <= 4.5 * b / a / 4,
        )
    if 10_000 in runs and 1_000_000 in runs:
        grow = runs[1_000_000]["peak_rss_mb"] - runs[10_000]["peak_rss_mb"]
        s.add("first-load", "peak RSS at 1M − at 10k", grow, "MB", "≤ 100", grow <= 100)
    if len(done) >= 2:
        lo, hi = runs[done[0]], runs[done[-1]]
        ratio = (hi["run_cpu_s"] - lo["run_cpu_s"]) / (hi["bare_cpu_s"] - lo["bare_cpu_s"])
        s.add(
            "first-load",
            f"mapped-row CPU ÷ bare loop ({done[0]:,} → {done[-1]:,} rows)",
            ratio,
            "×",
            "≤ 8",
            ratio <= 8,
            note="extra CPU per extra row, start-up cancels",
        )


# -- 2. sis-sync vs a bulk2 script --------------------------------------------------------------


def contacts_csv(export: Path, dst: Path) -> None:
    """The Contact CSV an admin would prepare from the export: the columns the mapping sends.

    Only what Salesforce needs to accept the values is converted (ISO dates, true/false, picklist
    labels); phones and postcodes go as exported, and no consent or privacy rule is applied.
    """
    with (
        export.open(encoding="utf-8-sig", newline="") as fin,
        dst.open("w", encoding="utf-8", newline="") as fout,
    ):
        out = csv.writer(fout, lineterminator="\n")
        out.writerow(CONTACT_COLUMNS)
        for r in csv.DictReader(fin, delimiter=";"):
            d, m, y = r["geboortedatum"].split("-")
            out.writerow(
                [
                    r["studentnummer"].strip(),
                    f"{r['tussenvoegsel']} {r['achternaam']}".strip(),
                    r["roepnaam"].strip(),
                    r["email"].strip().lower(),
                    r["mobiel"],
                    r["telefoon"],
                    f"{r['straat']} {r['huisnummer']}",
                    r["postcode"],
                    r["woonplaats"].strip(),
                    f"{y}-{m}-{d}",
                    f"{r['opleiding']} ({r['crebo']})",
                    r["status"].capitalize(),
                    "true" if r["toestemming_nieuws"] in ("ja", "j") else "false",
                    r["toestemming_nieuws_op"],
                    r["toestemming_nieuws_bron"].strip(),
                ]
            )


def bench_bulk_vs_script(s: Scale) -> None:
    """N new Contacts at a per-call latency: sis-sync beside scripts/bulk2_baseline.py."""
    n, latency = s.args.bulk_records, s.args.latency_ms
    project = s.project("bulk", None, n)
    prepared = s.tmp / "contacts.csv"
    contacts_csv(project.csv, prepared)  # beforehand: not timed
    # The script writes Contacts only. sis-sync into a default org also writes each person's
    # consent model (an Individual, its Contact link, a ContactPointTypeConsent per purpose with
    # proof): measured as it runs, and once into an org without the consent model, where it
    # writes the same Contacts as the script — the like-for-like ratio.
    runs: dict[bool, dict[str, Any]] = {}
    for consent_model in (True, False):
        emu = s.emulator(latency, consent_model=consent_model)
        try:
            project.emulator = emu
            runs[consent_model] = s.sis_sync(project)
            expect("bulk-vs-script, sis-sync", runs[consent_model], n, created=n)
        finally:
            emu.close()
        shutil.rmtree(project.folder / "state", ignore_errors=True)
    ours, contacts_only = runs[True], runs[False]
    emu = s.emulator(latency)
    try:
        env = os.environ | {
            "SF_INSTANCE_URL": emu.url,
            "SF_CLIENT_ID": "admin",
            "SF_CLIENT_SECRET": "admin",
            "REQUESTS_CA_BUNDLE": emu.ca_file,
        }
        before = emu.stats()
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "bulk2_baseline.py"), str(prepared)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        output = proc.communicate()[0]
        wall = time.perf_counter() - t0
        after = emu.stats()
        theirs = {
            "routes": route_delta(before, after),
            "exit": proc.returncode,
            "wall_s": round(wall, 2),
            "output": output.strip()[-300:],
            "api_calls": after["api_calls"] - before["api_calls"],
            "contacts": after["records"].get("Contact", 0),
            "load_after": loadavg(),
        }
        expect("bulk-vs-script, script", theirs, n)
    finally:
        emu.close()
    shutil.rmtree(project.folder, ignore_errors=True)
    s.add(
        "bulk-vs-script",
        f"sis-sync, {n:,} new at {latency} ms/call, with the consent model",
        ours["wall_s"],
        "s",
        **ours,
    )
    s.add(
        "bulk-vs-script", "sis-sync API calls, with the consent model", ours["api_calls"], "calls"
    )
    s.add(
        "bulk-vs-script",
        f"sis-sync, {n:,} new, Contacts only (org without the consent model)",
        contacts_only["wall_s"],
        "s",
        **contacts_only,
    )
    s.add(
        "bulk-vs-script",
        "sis-sync API calls, Contacts only",
        contacts_only["api_calls"],
        "calls",
        "≤ 15",
        contacts_only["api_calls"] <= 15,
    )
    s.add("bulk-vs-script", f"bulk2 script, same {n:,}", theirs["wall_s"], "s", **theirs)
    ratio = contacts_only["wall_s"] / theirs["wall_s"]
    s.add(
        "bulk-vs-script",
        "wall(sis-sync, Contacts only) / wall(script)",
        ratio,
        "×",
        "≤ 1.5",
        ratio <= 1.5,
    )
    s.add(
        "bulk-vs-script",
        "wall(sis-sync, with the consent model) / wall(script)",
        ours["wall_s"] / theirs["wall_s"],
        "×",
    )


# -- 3. nightly churn ---------------------------------------------------------------------------


def churn(path: Path, every: int) -> int:
    """Give every ``every``-th row a new town (a move: a field the mapping always sends)."""
    text = path.read_text(encoding="utf-8-sig")
    rows = list(csv.reader(text.splitlines(), delimiter=";"))
    city = rows[0].index("woonplaats")
    for row in rows[1::every]:
        row[city] += "-Noord"
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh, delimiter=";", lineterminator="\r\n").writerows(rows)
    return len(rows[1::every])


def bench_nightly_churn(s: Scale) -> None:
    """N students synced, 1 % of them changed, then the nightly run: its calls and its CPU."""
    n = s.args.churn_records
    emu = s.emulator()
    try:
        project = s.project("churn", emu, n)
        first = s.sis_sync(project)
        expect("nightly-churn, first run", first, n, created=n)
        changed = churn(project.csv, 100)
        state = project.folder / "state" / "sync.db"
        before = state.with_suffix(".before")
        shutil.copy(state, before)
        night = s.sis_sync(project)
        expect("nightly-churn, nightly run", night, n, updated=changed)
        libraries = s.libraries
        # The same nightly once more from the same state, its modules loaded before the mark:
        # what a tick of `sis-sync serve` costs (the 500 updates are sent again, to the same
        # values).
        shutil.copy(before, state)
        for suffix in ("-wal", "-shm"):
            Path(f"{state}{suffix}").unlink(missing_ok=True)
        warm = s.sis_sync(project, ("BENCH_WARM", "1"))
        expect("nightly-churn, nightly run (warm)", warm, n, updated=changed)
        bare = bare_cpu(project.csv)
    finally:
        emu.close()
    shutil.rmtree(project.folder, ignore_errors=True)
    s.add(
        "nightly-churn",
        f"{changed:,} of {n:,} rows changed: API calls",
        night["api_calls"],
        "calls",
        "≤ 5",
        night["api_calls"] <= 5,
        **night,
        first_load=first,
    )
    floor = import_floor(libraries)
    ratio = night["run_cpu_s"] / bare
    s.add(
        "nightly-churn",
        "run CPU ÷ bare loop",
        ratio,
        "×",
        "≤ 3",
        ratio <= 3,
        bare_cpu_s=round(bare, 3),
        with_imports=round(night["cpu_s"] / bare, 1),
    )
    # The part of a CLI run's CPU that is the libraries' own import (the same modules loaded
    # in a fresh interpreter): beside the bare loop, which a run also cannot go under (it
    # reads and hashes every row to know which changed).
    s.add(
        "nightly-churn",
        "of it: importing the libraries the run loads ÷ bare loop",
        floor / bare,
        "×",
        import_floor_s=round(floor, 3),
        modules=len(libraries[1]) - len(libraries[0]),
    )
    ratio = warm["run_cpu_s"] / bare
    s.add(
        "nightly-churn",
        "run CPU ÷ bare loop, modules loaded (a serve tick)",
        ratio,
        "×",
        "≤ 3",
        ratio <= 3,
        run_cpu_s=warm["run_cpu_s"],
        api_calls=warm["api_calls"],
    )


# -- 4. PostgreSQL state ------------------------------------------------------------------------


def bench_postgres(s: Scale) -> None:
    """The same first load with SQLite state and with PostgreSQL state (a schema of our own)."""
    import psycopg
    from psycopg import sql

    n, admin = s.args.pg_records, s.args.pg_url
    schema = f"h8bench_{uuid.uuid4().hex[:10]}"
    url = f"{admin}?options=-csearch_path%3D{schema}"
    results: dict[str, dict[str, Any]] = {}
    with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        for label, extra in (("SQLite", ()), ("PostgreSQL", (("SIS_SYNC_STATE__URL", url),))):
            emu = s.emulator()
            try:
                project = s.project(f"pg-{label}", emu, n)
                results[label] = s.sis_sync(project, *extra)
                expect(f"postgres, {label}", results[label], n, created=n)
            finally:
                emu.close()
            shutil.rmtree(project.folder, ignore_errors=True)
    finally:
        with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    for label, r in results.items():
        s.add("postgres", f"first load {n:,}, {label} state", r["wall_s"], "s", **r)
    ratio = results["PostgreSQL"]["wall_s"] / results["SQLite"]["wall_s"]
    cpu = results["PostgreSQL"]["cpu_s"] / results["SQLite"]["cpu_s"]
    s.add(
        "postgres",
        "wall(PostgreSQL) / wall(SQLite)",
        ratio,
        "×",
        "≤ 1.5",
        ratio <= 1.5,
        cpu_ratio=round(cpu, 2),
    )


# -- output -------------------------------------------------------------------------------------


def table(figures: list[Figure]) -> str:
    """The figures as a Markdown table, with the load average when each was taken."""
    lines = [
        "| benchmark | figure | value | target | ok | load 1/5/15 |",
        "|---|---|---:|---|---|---|",
    ]
    for f in figures:
        ok = "" if f.ok is None else ("yes" if f.ok else "**no**")
        value = f"{f.value:,.0f}" if abs(f.value) >= 100 else f"{f.value:,.2f}"
        load = f.detail.get("load", "")
        lines.append(f"| {f.bench} | {f.name} | {value} {f.unit} | {f.target} | {ok} | {load} |")
    return "\n".join(lines)


def revision() -> dict[str, str]:
    """The code measured: the commit and its uncommitted changes in connector/, or the folder the
    connector package came from when it is not this tree (``PYTHONPATH`` at a ``git archive``)."""
    import connector

    code = Path(connector.__file__).resolve().parent
    if code != ROOT / "connector":
        return {"code": str(code)}

    def git(*a: str) -> str:
        return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    head = git("rev-parse", "--short", "HEAD")
    if not head:
        return {"code": f"{code} (not a git tree)"}
    dirty = git("status", "--porcelain", "--", "connector").splitlines()
    return {"code": f"{head} (+{len(dirty)} uncommitted in connector/)"}


BENCHES = {
    "first-load": bench_first_load,
    "bulk-vs-script": bench_bulk_vs_script,
    "nightly-churn": bench_nightly_churn,
    "postgres": bench_postgres,
}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bench", choices=[*BENCHES, "all"])
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--sizes",
        type=lambda v: [int(x) for x in v.split(",")],
        default=[10_000, 40_000, 200_000],
        help="first-load sizes",
    )
    ap.add_argument("--million", action="store_true", help="first-load also at 1,000,000 rows")
    ap.add_argument(
        "--budget-s",
        type=float,
        default=900,
        help="first-load: skip a size expected to take longer (0: never skip)",
    )
    ap.add_argument("--bulk-records", type=int, default=100_000)
    ap.add_argument("--latency-ms", type=int, default=100)
    ap.add_argument("--churn-records", type=int, default=50_000)
    ap.add_argument("--pg-records", type=int, default=100_000)
    ap.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    ap.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        type=lambda v: tuple(v.split("=", 1)),
        help="an extra SIS_SYNC_* setting for every sis-sync run",
    )
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks and print their figures."""
    args = parse(argv)
    names = list(BENCHES) if args.bench == "all" else [args.bench]
    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    scale, started, rev = Scale(args, tmp), time.perf_counter(), revision()
    try:
        for name in names:
            print(f"{name} … (load {loadavg()})", file=sys.stderr)
            BENCHES[name](scale)
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    total = time.perf_counter() - started
    print(table(scale.figures))
    print()
    for f in scale.figures:
        extra = {k: v for k, v in f.detail.items() if k != "load"}
        if extra:
            print(f"- {f.bench} / {f.name}: " + json.dumps(extra, default=str))
    print(
        f"\ncode: {rev['code']}; {total:,.0f} s on {os.cpu_count()} cores; emulator store: in "
        "memory with its on-disk journal (it has no journal-free option)"
    )
    if args.json:
        figs = [asdict(f) for f in scale.figures]
        args.json.write_text(
            json.dumps({**rev, "seconds": round(total, 1), "figures": figs}, indent=2, default=str)
        )
    return 1 if args.check and any(f.ok is False for f in scale.figures) else 0


if __name__ == "__main__":
    sys.exit(main())
