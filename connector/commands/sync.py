"""Commands of the sync itself: run, plan, status, demo."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from connector.config import load_settings
from connector.report import RunReport

out = Console()
JobArg = Annotated[
    str | None,
    typer.Argument(help="a job from sync.yaml, or one mapping; default: every mapping"),
]


def _config(ctx: typer.Context) -> Path | None:
    return (ctx.obj or {}).get("config")


class _Progress:
    """A Rich progress display on a terminal, plain lines otherwise (cron, service logs)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.tasks: dict[str, int] = {}
        self.last: dict[str, int] = {}
        self.bar = None
        if self.tty:
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TextColumn("{task.completed:>9,} records"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=False,
            )

    def __enter__(self) -> _Progress:
        if self.bar:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar:
            self.bar.stop()

    def __call__(self, mapping: str, read: int) -> None:
        if self.bar:
            if mapping not in self.tasks:
                self.tasks[mapping] = self.bar.add_task(mapping, total=None)
            self.bar.update(self.tasks[mapping], completed=read)
        elif read - self.last.get(mapping, 0) >= 10_000 or mapping not in self.last:
            self.last[mapping] = read
            sys.stderr.write(f"{mapping}: {read} records read\n")


def _render(report: RunReport) -> None:
    out.print(escape(report.summary()), highlight=False)
    for m in report.mappings.values():
        for ex in m.examples:
            out.print(
                f"    e.g. {ex['action']} {ex['key']}…: " + escape(json.dumps(ex["fields"])),
                highlight=False,
            )


def run(ctx: typer.Context, job: JobArg = None) -> None:
    """Sync now: every mapping of JOB (parents first), with progress and a summary."""
    from connector.sync.job import run_job

    settings = load_settings(_config(ctx))
    with _Progress() as progress:
        report = run_job(settings, job=job, progress=progress)
    _render(report)
    # A run that lost Salesforce part-way is recorded as failed: exit 3, like one that could
    # not log in at all (connector.errors.SalesforceUnreachable).
    raise typer.Exit(3 if report.status == "failed" else report.exit_code())


def plan(ctx: typer.Context, job: JobArg = None) -> None:
    """Dry run: what would be created, updated, cleared, skipped, rejected. Writes nothing."""
    from connector.sync.job import run_job

    settings = load_settings(_config(ctx))
    report = run_job(settings, job=job, dry_run=True)
    _render(report)
    raise typer.Exit(0 if report.exit_code() == 0 else 1)


def status(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="how many recent runs")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    html: Annotated[
        Path | None,
        typer.Option("--html", metavar="FILE", help="write the status page (HTML) to FILE"),
    ] = None,
) -> None:
    """Recent runs, rejected records by reason, pending writes and API usage."""
    from connector.state import open_existing

    settings = load_settings(_config(ctx))
    if html is not None:  # the page `serve` shows at /, without a service (status_page.py)
        from connector.status_page import write_status_page

        out.print(f"status page written to {write_status_page(settings, html)}", highlight=False)
        return
    url = settings.state.url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        out.print("no runs yet (no state file)")
        return
    store = open_existing(url)  # reads only: never migrates
    try:
        runs = store.recent_runs(limit)
        rejects = store.reject_summary(runs[0].run_id) if runs else []
        pending = store.outbox_counts()
        synced = store.mapping_counts()
    finally:
        store.close()
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "runs": [
                        {
                            "run_id": r.run_id,
                            "job": r.job,
                            "started_at": r.started_at.isoformat(),
                            "status": str(r.status),
                            "api_calls": r.api_calls,
                            "counts": dict(r.counts),
                        }
                        for r in runs
                    ],
                    "rejects": [
                        {
                            "mapping": r.mapping,
                            "column": r.column,
                            "reason": r.reason,
                            "count": r.count,
                        }
                        for r in rejects
                    ],
                    "outbox": pending,
                    "synced": synced,
                },
                indent=2,
            )
        )
        return
    _print_status(runs, rejects, synced, pending)


def _print_status(runs: list, rejects: list, synced: dict, pending: dict) -> None:
    """The text of ``status``: fits an 80-column pane (short headers, no year, numbers right),
    and a failed run's cause on its own line, in words."""
    table = Table(title="Recent runs", box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False)
    table.add_column("run", justify="right", no_wrap=True)
    table.add_column("job", overflow="fold", min_width=7, max_width=16)
    table.add_column("started UTC", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for col in ("written", "unchanged", "rejected", "failed", "API"):
        table.add_column(col, justify="right", no_wrap=True)
    for r in runs:
        c = r.counts
        table.add_row(
            str(r.run_id),
            r.job,
            f"{r.started_at:%m-%d %H:%M}",
            str(r.status),
            str(c.get("created", 0) + c.get("updated", 0)),
            str(c.get("unchanged", 0)),
            str(c.get("rejected", 0)),
            str(c.get("failed", 0)),
            str(r.api_calls),
        )
    out.print(table)
    for r in runs:
        if c := r.counts.get("cause"):
            out.print(
                f"run {r.run_id} {r.status}: {escape(str(c))}", highlight=False, soft_wrap=True
            )
    for line in runs[0].counts.get("warnings", []) if runs else []:
        out.print(
            f"warning (run {runs[0].run_id}): {escape(line)}", highlight=False, soft_wrap=True
        )
    if rejects:
        t = Table(
            title=f"Rejected rows of run {runs[0].run_id} by reason",
            box=box.SIMPLE_HEAD,
            collapse_padding=True,
            pad_edge=False,
        )
        t.add_column("mapping", overflow="fold")
        t.add_column("column", overflow="fold")
        t.add_column("reason", overflow="fold")
        t.add_column("rows", justify="right", no_wrap=True)
        for r in rejects:
            t.add_row(r.mapping, r.column, escape(r.reason), str(r.count))
        out.print(t)
        out.print(f"every one: sis-sync rejects --run {runs[0].run_id}", highlight=False)
    out.print(
        "Records synced per mapping: " + ", ".join(f"{k} {v}" for k, v in synced.items()),
        highlight=False,
        soft_wrap=True,
    )
    if pending:
        out.print(
            "Outbox: " + ", ".join(f"{k} {v}" for k, v in sorted(pending.items())),
            highlight=False,
        )


def demo(
    keep: Annotated[Path | None, typer.Option(help="keep the demo folder here")] = None,
    students: Annotated[int, typer.Option(help="students and applicants to generate")] = 300,
) -> None:
    """One command, no set-up: emulator + a Dutch sample data set + a full sync, twice."""
    from connector.demo.run import run_demo

    raise typer.Exit(run_demo(keep=keep, students=students, console=out))


def register_commands(app: typer.Typer) -> None:
    """Mount these commands on the main app."""
    app.command("run")(run)
    app.command("plan")(plan)
    app.command("status")(status)
    app.command("demo")(demo)
