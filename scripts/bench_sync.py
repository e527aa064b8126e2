"""Benchmarks of the sync engine against the emulator: API calls, local pipeline, memory, latency.

Every benchmark starts its own emulator in a child process (as a remote Salesforce would be: the
client and the server do not share one interpreter lock), copies the shipped project into a
temporary folder, generates a ``studenten.csv`` with ``connector.demo.dataset`` and runs the
``students`` mapping through ``run_job`` (or the ``sis-sync`` CLI for the memory benchmark).
Everything lives in one temporary directory that is removed at the end.

    .venv/bin/python scripts/bench_sync.py all [--json results.json]
    .venv/bin/python scripts/bench_sync.py api | pipeline | memory | e2e | profile

Prints a Markdown table (figure, value, target, ok); ``--json`` also writes the figures and the
per-route request counts. ``--check`` exits 1 when a target is missed. docs/benchmarks.md
describes each benchmark and the figures measured.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import hashlib
import io
import json
import os
import pstats
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import requests
from simple_salesforce import Salesforce

from connector.commands.mapping import DEFAULTS
from connector.config import Settings, load_settings
from connector.demo.dataset import generate_students_csv
from connector.report import RunReport
from connector.sync.job import run_job

NOW = "2026-11-20T09:00:00+00:00"
TODAY = date(2026, 11, 20)  # the generated statuses and ages are relative to the run's clock
SECRET = "benchmark-only-secret-0123456789abcdef"
MAPPING = "students"
SAMPLE_S = 0.5

# `sis-sync ARGS…` in this process; at exit, its VmHWM (KiB) goes to the file named first.
PEAK = """
import atexit, sys
from pathlib import Path
def _peak(path=sys.argv[1]):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            Path(path).write_text(line.split()[1])
atexit.register(_peak)
sys.argv = ["sis-sync", *sys.argv[2:]]
from connector.cli import main
main()
"""

# The emulator as its own process; it prints its URL once it listens.
SERVER = """
import sys
from pathlib import Path
from connector.emulator import objects_default
from connector.emulator.server import EmulatorConfig, make_server
if sys.argv[2:] == ["flags-only"]:  # an org without the consent model
    objects_default.DEFAULT_OBJECTS = objects_default.without_consent_model(
        objects_default.DEFAULT_OBJECTS
    )
server, app = make_server(EmulatorConfig(data_dir=Path(sys.argv[1]), port=0))
print(app.base_url, flush=True)
try:
    server.serve_forever(poll_interval=0.2)
finally:
    server.server_close()
    app.close()
"""


@dataclass
class Figure:
    """One measured figure and its target."""

    bench: str
    name: str
    value: float
    unit: str
    target: str = ""
    ok: bool | None = None
    detail: dict[str, Any] = field(default_factory=dict)


# -- an emulator in a child process -----------------------------------------------------------


class Emulator:
    """A ``connector.emulator`` server in a child process, with the control calls the bench needs.

    Args:
        data_dir: where the org lives (a fresh, empty folder).
        consent_model: the org has Salesforce's consent model (Individual, DataUsePurpose,
            ContactPointTypeConsent), as a default org has; False: an org without it, where a
            person mapping writes only its Contacts.
    """

    def __init__(self, data_dir: Path, *, consent_model: bool = True):
        data_dir.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-c", SERVER, str(data_dir)]
        if not consent_model:
            argv.append("flags-only")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        self.url = (self.proc.stdout.readline() if self.proc.stdout else "").strip()
        if not self.url:
            self.close()
            raise RuntimeError("the emulator did not start")
        self.ca_file = str(data_dir / "ca.pem")
        self.http = requests.Session()
        # trust_env off: REQUESTS_CA_BUNDLE would otherwise override verify.
        self.http.verify, self.http.trust_env = self.ca_file, False

    def _control(self, method: str, name: str, payload: dict[str, Any] | None = None) -> Any:
        resp = self.http.request(
            method, f"{self.url}/__emulator__/{name}", json=payload, timeout=60
        )
        resp.raise_for_status()
        return resp.json()

    def stats(self) -> dict[str, Any]:
        """API calls, requests per route and records per object."""
        return self._control("GET", "stats")

    def faults(self, **settings: Any) -> dict[str, Any]:
        """Set fault injection (``latency_ms`` …)."""
        return self._control("POST", "faults", settings)

    def client(self) -> Salesforce:
        """A simple-salesforce client with a fresh client-credentials token."""
        s = requests.Session()
        s.verify, s.trust_env = self.ca_file, False
        resp = s.post(
            f"{self.url}/services/oauth2/token",
            data={"grant_type": "client_credentials", "client_id": "b", "client_secret": "b"},
            timeout=30,
        )
        resp.raise_for_status()
        tok = resp.json()
        return Salesforce(
            session_id=tok["access_token"], instance_url=tok["instance_url"], session=s
        )

    def close(self) -> None:
        """Stop the child process."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc.stdout:
            self.proc.stdout.close()


def enrol(src: Path, dst: Path) -> None:
    """Copy a generated students file with every status ``ingeschreven`` (enrolled).

    The generator also writes students who left long ago; the policy rightly sends nothing for
    them (no active purpose), so "N new Contacts" needs every row to be a current student.
    """
    with (
        src.open(encoding="utf-8-sig", newline="") as fin,
        dst.open("w", encoding="utf-8-sig", newline="") as fout,
    ):
        reader = csv.reader(fin, delimiter=";")
        writer = csv.writer(fout, delimiter=";", lineterminator="\r\n")
        header = next(reader)
        writer.writerow(header)
        status = header.index("status")
        for row in reader:
            row[status] = "ingeschreven"
            writer.writerow(row)


class Project:
    """A copy of the shipped project with a generated students file, wired to one emulator.

    Args:
        folder: a new folder for the project.
        emulator: the org to sync into (None: plan only).
        rows: rows of ``data/studenten.csv``.
        seed: seed of the generated data.
    """

    def __init__(
        self,
        folder: Path,
        emulator: Emulator | None,
        rows: int,
        *,
        seed: int = 1,
        enrolled: bool = False,
    ):
        self.folder, self.emulator, self.rows = folder, emulator, rows
        shutil.copytree(DEFAULTS, folder)
        (folder / "data").mkdir(exist_ok=True)
        self.csv = folder / "data" / "studenten.csv"
        t0 = time.perf_counter()
        if enrolled:
            raw = folder / "data" / "generated.csv"
            generate_students_csv(raw, rows, seed=seed, today=TODAY)
            enrol(raw, self.csv)
            raw.unlink()
        else:
            generate_students_csv(self.csv, rows, seed=seed, today=TODAY)
        self.generate_s = time.perf_counter() - t0

    def env(self, **extra: str) -> dict[str, str]:
        """The SIS_SYNC_* variables of this project (plus overrides)."""
        env = {"SIS_SYNC_SECRET": SECRET, "SIS_SYNC_NOW": NOW}
        if self.emulator is not None:
            env |= {
                "SIS_SYNC_SALESFORCE__URL": self.emulator.url,
                "SIS_SYNC_SALESFORCE__AUTH": "client_credentials",
                "SIS_SYNC_SALESFORCE__CLIENT_ID": "bench",
                "SIS_SYNC_SALESFORCE__CLIENT_SECRET": "bench",
                "SIS_SYNC_SALESFORCE__CA_BUNDLE": self.emulator.ca_file,
            }
        return env | extra

    def settings(self, **extra: str) -> Settings:
        """Loaded settings for this project."""
        return load_settings(self.folder / "sync.yaml", env=self.env(**extra))

    def run(self, *, dry_run: bool = False, **extra: str) -> tuple[RunReport, float, float]:
        """Run (or plan) the students mapping: the report, wall seconds and CPU seconds."""
        settings = self.settings(**extra)
        t0, c0 = time.perf_counter(), time.process_time()
        report = run_job(settings, job=MAPPING, dry_run=dry_run)
        return report, time.perf_counter() - t0, time.process_time() - c0


def counts(report: RunReport) -> dict[str, Any]:
    """The students mapping's outcome counts (no values)."""
    m = report.mappings[MAPPING]
    return {
        k: getattr(m, k)
        for k in (
            "read",
            "created",
            "updated",
            "unchanged",
            "skipped",
            "rejected",
            "failed",
            "pending",
        )
    } | {"strategy": m.strategy, "error": m.error}


def route_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, int]:
    """Requests per route between two stats snapshots (routes that were called)."""
    a, b = Counter(after.get("requests", {})), Counter(before.get("requests", {}))
    return {route: n for route, n in sorted((a - b).items()) if n}


def is_write(route: str) -> bool:
    """Whether a route changes data (anything but GET, and not a SOQL query sent by POST)."""
    method, _, path = route.partition(" ")
    return method.upper() != "GET" and "/query" not in path and "oauth2" not in path


def synced(bench: Bench, emu: Emulator, rows: int, name: str, **extra: str) -> Figure:
    """Sync ``rows`` new (enrolled) students into ``emu``; a figure of the API calls used."""
    folder = bench.tmp / name.replace(" ", "-").replace(",", "").replace("(", "").replace(")", "")
    project = Project(folder, emu, rows, seed=bench.args.seed, enrolled=True)
    before = emu.stats()
    report, secs, cpu = project.run(**extra)
    after = emu.stats()
    c = counts(report)
    if c["created"] != rows:
        raise RuntimeError(f"{name}: expected {rows} created, got {c}")
    fig = Figure(
        "api",
        name,
        after["api_calls"] - before["api_calls"],
        "API calls",
        detail={
            "routes": route_delta(before, after),
            "seconds": round(secs, 2),
            "cpu_seconds": round(cpu, 2),
            **c,
        },
    )
    fig.detail["project"] = project
    return fig


class Bench:
    """Shared state of one script run: arguments, the temp folder and the figures."""

    def __init__(self, args: argparse.Namespace, tmp: Path):
        self.args, self.tmp = args, tmp
        self.figures: list[Figure] = []
        self.synced_project: Project | None = None  # 100k records in state, for `pipeline`
        self._emulators = 0

    def emulator(self) -> Emulator:
        """A new emulator in its own data folder (closed by the caller)."""
        self._emulators += 1
        return Emulator(self.tmp / f"emulator-{self._emulators}")

    def add(self, fig: Figure) -> Figure:
        """Record a figure and show progress on stderr."""
        self.figures.append(fig)
        print(f"  {fig.bench}: {fig.name} = {fig.value:,.2f} {fig.unit}", file=sys.stderr)
        return fig


# -- 1. API calls -----------------------------------------------------------------------------


def bench_api(b: Bench) -> None:
    """API calls for 10k new records by collections and by Bulk 2.0; an unchanged 100k re-run."""
    n = b.args.api_records
    emu = b.emulator()
    try:
        fig = synced(
            b, emu, n, f"{n:,} new via collections", SIS_SYNC_SALESFORCE__BULK_THRESHOLD="1000000"
        )
        fig.target, fig.ok = "≤ 55", fig.value <= 55
        fig.detail.pop("project")
        b.add(fig)
    finally:
        emu.close()
    emu = b.emulator()
    try:
        fig = synced(b, emu, n, f"{n:,} new via Bulk 2.0")
        fig.target, fig.ok = "≤ 10", fig.value <= 10
        fig.detail.pop("project")
        b.add(fig)
    finally:
        emu.close()
    big = b.args.rerun_records
    emu = b.emulator()
    try:
        first = synced(b, emu, big, f"{big:,} new (first run)")
        project = first.detail.pop("project")
        b.add(first)
        before = emu.stats()
        report, secs, cpu = project.run()
        after = emu.stats()
        routes = route_delta(before, after)
        writes = sum(n for r, n in routes.items() if is_write(r))
        reads = {r: n for r, n in routes.items() if not is_write(r)}
        c = counts(report)
        fig = Figure(
            "api",
            f"{big:,} unchanged (re-run)",
            after["api_calls"] - before["api_calls"],
            "API calls",
            target="0 writes, ≤ 1 read per object",
            detail={
                "routes": routes,
                "writes": writes,
                "seconds": round(secs, 2),
                "cpu_seconds": round(cpu, 2),
                **c,
            },
        )
        fig.ok = writes == 0 and all(n <= 1 for n in reads.values()) and c["unchanged"] == big
        b.add(fig)
        b.synced_project = project
    finally:
        emu.close()


# -- 2. local pipeline ------------------------------------------------------------------------


def baseline(path: Path) -> tuple[int, float, float]:
    """Rows, wall and CPU seconds of a bare csv.DictReader + sha256-per-row loop over ``path``."""
    t0, c0 = time.perf_counter(), time.process_time()
    rows = 0
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh, delimiter=";"):
            hashlib.sha256("\x1f".join(row.values()).encode()).digest()
            rows += 1
    return rows, time.perf_counter() - t0, time.process_time() - c0


def pipeline_project(b: Bench) -> Project:
    """A project whose state already holds every record of its CSV (synced once)."""
    if b.synced_project is not None and b.synced_project.rows == b.args.pipeline_records:
        return b.synced_project
    emu = b.emulator()
    try:
        fig = synced(b, emu, b.args.pipeline_records, "pipeline state")
        b.synced_project = fig.detail["project"]
    finally:
        emu.close()
    return b.synced_project


def remapped_state(project: Project, tmp: Path) -> Path:
    """A copy of ``project``'s state without source hashes: every row is mapped and diffed, as
    on the first run after a mapping or purposes change (or an upgrade from schema v1)."""
    src = project.folder / "state" / "sync.db"
    dst = tmp / "remapped-state" / "sync.db"
    dst.parent.mkdir(exist_ok=True)
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as z:
        a.backup(z)
        z.execute("DELETE FROM source_rows")
    return dst


def bench_pipeline(b: Bench) -> None:
    """Records/s of read → map → policy → diff (a dry run), against three states.

    The state of a real run over the file (the nightly case: every row is recognised by its
    source hash and not mapped), the same state without source hashes (every row mapped, checked
    and diffed against the stored field hashes: the first run after a mapping change), and an
    empty state (the first load: every record planned as new).

    Best of ``--repeat`` rounds; each round runs the three loops one after the other so that a
    busy machine slows them alike. CPU seconds are shown beside wall seconds for that reason.
    """
    project = pipeline_project(b)
    n = project.rows
    empty = f"sqlite:///{b.tmp / 'no-state' / 'sync.db'}"  # missing file: in-memory empty state
    runs = {
        "state holds the records": {},
        "state holds the records, every row mapped again": {
            "SIS_SYNC_STATE__URL": f"sqlite:///{remapped_state(project, b.tmp)}"
        },
        "empty state": {"SIS_SYNC_STATE__URL": empty},
    }
    wall: dict[str, float] = {}
    cpu: dict[str, float] = {}
    detail: dict[str, dict[str, Any]] = {}
    load = os.getloadavg()[0]
    for _ in range(b.args.repeat):
        for label, extra in runs.items():
            report, secs, cpus = project.run(dry_run=True, **extra)
            wall[label], cpu[label] = (
                min(secs, wall.get(label, secs)),
                min(cpus, cpu.get(label, cpus)),
            )
            detail[label] = counts(report)
        rows, secs, cpus = baseline(project.csv)
        wall["baseline"] = min(secs, wall.get("baseline", secs))
        cpu["baseline"] = min(cpus, cpu.get("baseline", cpus))
    if rows != n or detail["state holds the records"]["unchanged"] != n:
        raise RuntimeError(f"pipeline: state should hold every record: {detail}")
    if detail["empty state"]["created"] != n:
        raise RuntimeError(f"pipeline: an empty state should plan every record: {detail}")
    if detail["state holds the records"]["skipped"] != n:
        raise RuntimeError(f"pipeline: a nightly re-run should map no row: {detail}")
    if detail["state holds the records, every row mapped again"]["skipped"] != 0:
        raise RuntimeError(f"pipeline: without source hashes every row is mapped: {detail}")
    load = max(load, os.getloadavg()[0])
    for label in runs:
        rate = n / wall[label]
        b.add(
            Figure(
                "pipeline",
                f"{n:,} rows, dry run, {label}",
                rate,
                "records/s",
                target="≥ 30,000",
                ok=rate >= 30_000,
                detail={
                    "seconds": round(wall[label], 2),
                    "cpu_seconds": round(cpu[label], 2),
                    "records_per_cpu_s": round(n / cpu[label]),
                    "load_avg_1m": round(load, 1),
                    **detail[label],
                },
            )
        )
    b.add(
        Figure(
            "pipeline",
            f"{n:,} rows, baseline: csv.DictReader + sha256 per row",
            n / wall["baseline"],
            "records/s",
            detail={
                "seconds": round(wall["baseline"], 2),
                "cpu_seconds": round(cpu["baseline"], 2),
                "records_per_cpu_s": round(n / cpu["baseline"]),
            },
        )
    )
    for label in runs:
        ratio = wall[label] / wall["baseline"]
        b.add(
            Figure(
                "pipeline",
                f"time / baseline time ({label})",
                ratio,
                "×",
                target="≤ 3",
                ok=ratio <= 3,
                detail={"cpu_ratio": round(cpu[label] / cpu["baseline"], 2)},
            )
        )


# -- 3. memory --------------------------------------------------------------------------------


def _vm_rss_mib(pid: int) -> float | None:
    """The current RSS of a process in MiB (Linux /proc), None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def peak_rss(project: Project, command: str) -> tuple[float, float, list[tuple[float, float]]]:
    """Peak RSS (MiB), wall seconds and RSS samples of ``sis-sync <command> students``.

    The CLI runs under :data:`PEAK`, which writes the process's own VmHWM (the kernel's
    high-water mark of this address space) when it exits. Not ``ru_maxrss``: Linux carries that
    across fork and exec, so a child started from this (large) process would report our RSS.
    The samples (seconds since start, MiB; every ``SAMPLE_S``) show whether memory grows with the
    records read or levels off.
    """
    env = os.environ | project.env()
    log = project.folder / f"{command}.log"
    peak_file = project.folder / f"{command}.peak"
    samples: list[tuple[float, float]] = []
    argv = ["--config", str(project.folder / "sync.yaml"), command, MAPPING]
    t0 = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", PEAK, str(peak_file), *argv],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=project.folder,
        )
        while proc.poll() is None:
            rss = _vm_rss_mib(proc.pid)
            if rss is not None:
                samples.append((round(time.perf_counter() - t0, 1), round(rss, 1)))
            time.sleep(SAMPLE_S)
    secs = time.perf_counter() - t0
    if proc.returncode != 0 or not peak_file.exists():
        tail = log.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"sis-sync {command} exited {proc.returncode}:\n{tail}")
    return int(peak_file.read_text()) / 1024, secs, samples


def bench_memory(b: Bench) -> None:
    """Peak RSS of a whole ``sis-sync run`` (or ``plan``) at a small and a large file."""
    command = b.args.memory_command
    peaks: dict[int, float] = {}
    for rows in (b.args.memory_small, b.args.memory_large):
        emu = b.emulator() if command == "run" else None
        try:
            project = Project(b.tmp / f"memory-{rows}", emu, rows, seed=b.args.seed, enrolled=True)
            before = emu.stats() if emu else {}
            peak, secs, samples = peak_rss(project, command)
            after = emu.stats() if emu else {}
        finally:
            if emu:
                emu.close()
        peaks[rows] = peak
        detail: dict[str, Any] = {
            "seconds": round(secs, 1),
            "generate_s": round(project.generate_s, 1),
            # RSS at a tenth, a quarter, half, three quarters and the end of the run: flat or not.
            "rss_mib_at": {
                f"{int(q * 100)}%": samples[min(len(samples) - 1, int(q * len(samples)))][1]
                for q in (0.1, 0.25, 0.5, 0.75, 1.0)
            }
            if samples
            else {},
        }
        if emu:
            detail |= {
                "api_calls": after["api_calls"] - before["api_calls"],
                "contacts": after["records"].get("Contact", 0),
            }
            if detail["contacts"] != rows:
                raise RuntimeError(f"memory: {rows} rows but {detail['contacts']} Contacts")
        b.add(
            Figure(
                "memory", f"peak RSS, sis-sync {command}, {rows:,} rows", peak, "MiB", detail=detail
            )
        )
        shutil.rmtree(project.folder, ignore_errors=True)
    small, large = b.args.memory_small, b.args.memory_large
    growth = peaks[large] - peaks[small]
    b.add(
        Figure(
            "memory",
            f"peak RSS growth {small:,} → {large:,} rows",
            growth,
            "MiB",
            target="≤ 100",
            ok=growth <= 100,
        )
    )


# -- 4. end to end at 100 ms per call ---------------------------------------------------------


def naive_payload(row: dict[str, str]) -> dict[str, Any]:
    """The students row as a Contact, the way a hand-written script would send it."""
    return {
        "SIS_Student_Number__c": row["studentnummer"],
        "LastName": f"{row['tussenvoegsel']} {row['achternaam']}".strip(),
        "FirstName": row["roepnaam"],
        "Email": row["email"].strip().lower(),
        "MobilePhone": row["mobiel"],
        "MailingStreet": f"{row['straat']} {row['huisnummer']}",
        "MailingPostalCode": row["postcode"],
        "MailingCity": row["woonplaats"],
    }


def bench_e2e(b: Bench) -> None:
    """A sync of new records at ``--latency-ms`` per call, beside a one-call-per-record loop."""
    n, latency = b.args.e2e_records, b.args.latency_ms
    emu = b.emulator()
    try:
        emu.faults(latency_ms=latency)
        fig = synced(b, emu, n, f"{n:,} new, sync engine")
        project = fig.detail.pop("project")
        secs = fig.detail["seconds"]
        b.add(
            Figure(
                "e2e",
                f"{n:,} new records, sync engine ({latency} ms/call)",
                secs,
                "s",
                target="< 120",
                ok=secs < 120,
                detail=fig.detail | {"api_calls": fig.value},
            )
        )
        k = b.args.naive_records
        with project.csv.open(encoding="utf-8-sig", newline="") as fh:
            text = "".join(line for _, line in zip(range(k + 1), fh, strict=False))
        payloads = [naive_payload(r) for r in csv.DictReader(io.StringIO(text), delimiter=";")]
        for p in payloads:  # new records, not the ones the engine just created
            p["SIS_Student_Number__c"] = "N" + p["SIS_Student_Number__c"]
        sf = emu.client()
        t0 = time.perf_counter()
        for p in payloads:
            sf.Contact.create(p)
        naive = time.perf_counter() - t0
        b.add(
            Figure(
                "e2e",
                f"{k:,} new records, one sf.Contact.create per record ({latency} ms/call)",
                naive,
                "s",
                detail={"per_record_ms": round(1000 * naive / k, 1)},
            )
        )
        b.add(
            Figure(
                "e2e",
                f"naive loop extrapolated to {n:,} records",
                naive * n / k,
                "s",
                detail={"speed-up of the engine": round(naive * n / k / secs, 1)},
            )
        )
    finally:
        emu.close()


# -- profile ----------------------------------------------------------------------------------


def bench_profile(b: Bench) -> None:
    """cProfile of the dry-run pipeline against a full state: the top functions by own time."""
    project = pipeline_project(b)
    settings = project.settings()
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    run_job(settings, job=MAPPING, dry_run=True)
    prof.disable()
    secs = time.perf_counter() - t0
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("tottime").print_stats(b.args.top)
    stats.sort_stats("cumulative").print_stats(b.args.top)
    print(out.getvalue(), file=sys.stderr)
    b.add(Figure("profile", "dry run under cProfile", secs, "s"))


# -- output -----------------------------------------------------------------------------------


def table(figures: list[Figure]) -> str:
    """The figures as a Markdown table."""
    lines = ["| benchmark | figure | value | target | ok |", "|---|---|---:|---|---|"]
    for f in figures:
        ok = "" if f.ok is None else ("yes" if f.ok else "**no**")
        value = f"{f.value:,.0f}" if abs(f.value) >= 100 else f"{f.value:,.2f}"
        lines.append(f"| {f.bench} | {f.name} | {value} {f.unit} | {f.target} | {ok} |")
    return "\n".join(lines)


def details(figures: list[Figure]) -> str:
    """Per-figure details (routes, counts, seconds) as Markdown bullet lines."""
    lines = []
    for f in figures:
        if f.detail:
            lines.append(f"- {f.bench} / {f.name}: " + json.dumps(f.detail, default=str))
    return "\n".join(lines)


BENCHES = {
    "api": bench_api,
    "pipeline": bench_pipeline,
    "memory": bench_memory,
    "e2e": bench_e2e,
    "profile": bench_profile,
}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bench", choices=[*BENCHES, "all"], help="which benchmark; all = the four")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--api-records", type=int, default=10_000)
    ap.add_argument("--rerun-records", type=int, default=100_000)
    ap.add_argument("--pipeline-records", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=2, help="pipeline: best of this many")
    ap.add_argument("--memory-small", type=int, default=10_000)
    ap.add_argument("--memory-large", type=int, default=1_000_000)
    ap.add_argument("--memory-command", choices=["run", "plan"], default="run")
    ap.add_argument("--e2e-records", type=int, default=100_000)
    ap.add_argument("--latency-ms", type=int, default=100)
    ap.add_argument("--naive-records", type=int, default=1_000)
    ap.add_argument("--top", type=int, default=25, help="profile: functions to list")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks and print their figures."""
    args = parse(argv)
    names = ["api", "pipeline", "memory", "e2e"] if args.bench == "all" else [args.bench]
    tmp = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    bench = Bench(args, tmp)
    started = time.perf_counter()
    try:
        for name in names:
            print(f"{name} …", file=sys.stderr)
            BENCHES[name](bench)
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    total = time.perf_counter() - started
    print(table(bench.figures))
    print()
    print(details(bench.figures))
    print(f"\n(total {total:,.0f} s on {os.cpu_count()} cores)")
    if args.json:
        figs = [asdict(f) for f in bench.figures]
        args.json.write_text(
            json.dumps({"seconds": round(total, 1), "figures": figs}, indent=2, default=str)
        )
    missed = [f for f in bench.figures if f.ok is False]
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
