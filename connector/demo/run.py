"""`sis-sync demo`: the whole product in one command, with nothing set up.

It copies the shipped project of the chosen data model (the same files `sis-sync init --model M`
writes), generates a realistic Dutch data set beside it, starts the emulator on a free port with
that model's org shape, creates the org's programmes as its admin would (through the client, not
through sis-sync: :mod:`connector.demo.org_setup`), runs the nightly job, runs it again to show
that an unchanged source costs no writes, and prints both summaries. The demo uses a random
hashing secret of its own, so it never needs SIS_SYNC_SECRET.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from connector.clock import school_date
from connector.commands.mapping import model_folder
from connector.config import load_settings
from connector.demo import keep as kept
from connector.demo.dataset import generate
from connector.demo.org_setup import Model, create_programmes, emulator_options
from connector.demo.withdrawal import demo_withdrawal
from connector.emulator.testing import running_emulator
from connector.sync.job import run_job

WRITE_ROUTES = ("composite", "sobjects", "jobs/ingest")


def _writes(stats: dict) -> int:
    """API calls that can write: collections, sObject and Bulk ingest routes."""
    return sum(
        n
        for route, n in stats.get("requests", {}).items()
        if any(w in route for w in WRITE_ROUTES) and not route.startswith("GET")
    )


def run_demo(
    *, keep: Path | None = None, students: int = 300, console: Console, model: Model = "contacts"
) -> int:
    """Run the demo on the org shape of ``model``; returns the exit code (0 when both runs
    behaved as expected)."""
    if keep is not None and (refused := kept.prepare(Path(keep))) is not None:
        console.print("[red]error:[/red] " + escape(refused), highlight=False)
        return 2  # never overwrite a folder the demo did not make
    folder = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="sis-sync-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(
        model_folder(model),
        folder,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    today = school_date()
    data = generate(
        folder,
        students=students,
        applicants=students // 2,
        registrations=students + students // 3,
        today=today,
    )
    console.print(f"[bold]sis-sync demo[/bold] ({model}) in {escape(str(folder))}")
    console.print(
        f"  generated {data.students} students, {data.applicants} applicants "
        f"({data.minors} under 16, {data.joins} also registered for an event), "
        f"{data.registrations} registrations for {data.events} events, "
        f"{sum(len(v) for v in data.malformed.values())} deliberately malformed rows",
        highlight=False,
    )
    try:
        (folder / "emulator").mkdir(exist_ok=True)
        with running_emulator(data_dir=folder / "emulator", **emulator_options(model)) as emu:
            env = {
                "SIS_SYNC_SALESFORCE__URL": emu.url,
                "SIS_SYNC_SALESFORCE__AUTH": "client_credentials",
                "SIS_SYNC_SALESFORCE__CLIENT_ID": "sis-sync-demo",
                "SIS_SYNC_SALESFORCE__CLIENT_SECRET": "demo",
                "SIS_SYNC_SALESFORCE__CA_BUNDLE": emu.ca_file,
            }
            settings = load_settings(folder / "sync.yaml", env=env)
            secret = secrets.token_hex(32)
            if keep is not None:  # the state's hashes need this secret to run it again
                env_file = kept.save(
                    folder,
                    secret=secret,
                    url=emu.url,
                    ca_file=emu.ca_file,
                    emulator_flags=kept.emulator_flags(model),
                )
            console.print(f"  emulator: {emu.url} (Salesforce on loopback, real HTTPS)")
            made = create_programmes(emu.client(), model)
            if made:
                console.print(
                    f"  the school's admin created {made} programmes in the org (with their "
                    "crebo); sis-sync looks them up and never creates them"
                )
            console.print("")

            before = emu.stats()
            first = run_job(settings, job="nightly", secret=secret)
            middle = emu.stats()
            console.print(escape(first.summary()), highlight=False)
            console.print(f"  write calls: {_writes(middle) - _writes(before)}\n")

            second = run_job(settings, job="nightly", secret=secret)
            after = emu.stats()
            console.print(escape(second.summary()), highlight=False)
            writes = _writes(after) - _writes(middle)
            console.print(f"  write calls: {writes}\n")
            # A withdrawal sets the opt-out and an OptOut consent record (withdrawal.py).
            withdrawn = demo_withdrawal(emu, folder, settings, secret, console)
            records = emu.stats().get("records", {})
            console.print(
                "Salesforce now holds: "
                + ", ".join(f"{n} {obj}" for obj, n in sorted(records.items()) if n),
                highlight=False,
            )
            where = (
                f"Reports: {escape(str(settings.reports_dir()))} · state: "
                f"{escape(settings.state.url)} · to run it again: {escape(str(env_file))}"
                if keep
                else "The demo folder is removed now; `sis-sync demo --keep DIR` keeps the "
                "project, its data, state and run reports."
            )
            console.print(where, highlight=False)
    finally:
        if keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    t2 = second.totals()
    ok = writes == 0 and t2["created"] + t2["updated"] == 0 and first.totals()["created"] > 0
    if not ok:
        console.print("[red]the second run was expected to write nothing[/red]")
    if not withdrawn:
        console.print("[red]the withdrawal was expected to set the opt-out[/red]")
        ok = False
    return 0 if ok else 1
