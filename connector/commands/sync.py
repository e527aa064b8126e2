"""Commands of the sync itself: run, plan, status, demo."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from connector.commands.data_model import DataModel
from connector.config import Settings, load_settings
from connector.output import console

if TYPE_CHECKING:
    from connector.mapping.project import Project
    from connector.report import RunReport

out = console()
JobArg = Annotated[
    str | None,
    typer.Argument(help="a job from sync.yaml, or one mapping; default: every mapping"),
]


def _config(ctx: typer.Context) -> Path | None:
    return (ctx.obj or {}).get("config")


PLAIN_EVERY = 10_000  # records between two progress lines when stderr is not a terminal


def count_rows(path: Path) -> int | None:
    """Data rows of a CSV or JSON Lines file, estimated from its line count (header excluded):
    the total of the progress bar. ``None`` when it cannot be read."""
    try:
        with path.open("rb") as fh:
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
            fh.seek(max(0, path.stat().st_size - 1))
            ends_open = fh.read(1) not in (b"\n", b"")
    except OSError:
        return None
    lines += ends_open  # a last line without a newline
    return max(0, lines - (1 if path.suffix.lower() in (".csv", ".tsv", ".txt") else 0))


def source_totals(settings: Settings, job: str | None) -> tuple[dict[str, int], Project | None]:
    """Rows per mapping of ``job`` whose source is a local file (for the ETA; others have no
    total), and the project they were read from (run_job need not load it again). Never raises:
    run_job reports every configuration problem itself."""
    try:
        from connector.mapping import load_project
        from connector.sync.job import job_mappings

        project = load_project(settings.mappings)
        _, names = job_mappings(settings, project, job)
    except Exception:  # noqa: BLE001 - run_job names the problem, with its exit code
        return {}, None
    totals: dict[str, int] = {}
    for name in names:
        path = project.mappings[name].source.get("path")
        if isinstance(path, str) and (settings.project_dir / path).is_file():
            rows = count_rows(settings.project_dir / path)
            if rows is not None:
                totals[name] = rows
    return totals, project


WRITE_LABELS = {"records": "written", "consents": "consents"}  # the write lines' names


class _Progress:
    """Progress of a run: on a terminal a Rich bar per mapping for the records read (count,
    total, percentage, elapsed time, ETA) and one per writing stage for the writes done of
    those submitted (``students written``: its records, Bulk jobs included;
    ``students consents``: Individuals, Contact links and consent records). On a pipe or in
    cron a plain line (or a JSON object with ``--log-format json``) per line of progress at
    its first report, every 10,000 records and at its end, never redrawn or wrapped.

    The engine calls it after each batch with the records read so far, and
    :meth:`written` after each flush, Bulk job recorded or consent write (never per row).
    """

    def __init__(self, totals: dict[str, int] | None = None, *, json_lines: bool = False):
        # --log-format json asks for JSON lines on stderr: no bar, even on a terminal.
        self.tty = sys.stderr.isatty() and not json_lines
        self.totals = dict(totals or {})
        self.json_lines = json_lines
        self.tasks: dict[tuple[str, str], int] = {}  # (mapping, "read" or a write stage)
        self.started: dict[tuple[str, str], float] = {}
        self.mark = time.monotonic()  # a mapping starts when the previous one last reported
        self.last: dict[tuple[str, str], int] = {}
        self.reading: dict[str, int] = {}  # plain mode: records read so far, until reading ends
        self.bar: Any = None
        if self.tty:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=console(stderr=True),
                transient=False,
            )

    def __enter__(self) -> _Progress:
        if self.bar:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.bar:
            self._end_reads(None)  # the run is over: every mapping has read what it will
        if self.bar:
            self._finish_others(None)
            self.bar.stop()

    def _total(self, mapping: str, read: int) -> int | None:
        total = self.totals.get(mapping)
        if total is not None and read > total:  # the estimate was short (quoted line breaks)
            total = self.totals[mapping] = read
        return total

    def _finish_others(self, current: str | None) -> None:
        # A mapping whose successor started has read everything: show its reading complete
        # (the total was a line-count estimate). Write lines keep their own counts: one that
        # stopped short (the run stopped, a write failed) stays short.
        for (name, stage), task in self.tasks.items():
            if name != current and stage == "read":
                done = self.bar.tasks[task].completed
                self.bar.update(task, total=done, completed=done)

    def __call__(self, mapping: str, read: int, /) -> None:
        """Records of ``mapping`` read (and mapped) so far."""
        total = self._total(mapping, read)
        now = time.monotonic()
        self.started.setdefault((mapping, "read"), self.mark)
        self.mark = now
        if self.bar:
            if (mapping, "read") not in self.tasks:
                self._finish_others(mapping)
            self._draw(mapping, "read", mapping, read, total)
            return
        self._end_reads(mapping)
        self.reading[mapping] = read
        if not self._due(mapping, "read", read, total):
            return
        self._read_line(mapping, read, total, self._eta(mapping, "read", read, total, now))

    def _end_reads(self, current: str | None) -> None:
        """Plain mode: the last read line of every mapping but ``current`` whose reading ended
        since its last line. Rejected rows keep ``read`` below the line-count total, so the
        10,000 rule's "the end" (done == total) alone would never log it; the reading ended
        when the next mapping reports or the run is over. Like the bar, the end is 100%."""
        for name, read in list(self.reading.items()):
            if name != current:
                del self.reading[name]
                # Unless its last line already said all of it (read == total, 100%).
                if self.last.get((name, "read")) != read or self.totals.get(name) != read:
                    self.last[(name, "read")] = read
                    self._read_line(name, read, read, 0.0)

    def _read_line(self, mapping: str, read: int, total: int | None, eta: float | None) -> None:
        """One plain line (or JSON object) of ``mapping``'s reading."""
        if self.json_lines:
            line = {"event": "progress", "mapping": mapping, "read": read, "total": total}
            line["eta_seconds"] = round(eta, 1) if eta is not None else None
            sys.stderr.write(json.dumps(line) + "\n")
            return
        text = f"{mapping}: {read} of {total} records" if total else f"{mapping}: {read} records"
        sys.stderr.write(text + self._share(read, total, eta) + "\n")

    def written(self, mapping: str, stage: str, done: int, total: int) -> None:
        """Writes of ``mapping``'s ``stage`` (``records`` or ``consents``) done, accepted or
        refused, of the ``total`` submitted so far (it grows as Bulk chunks are submitted)."""
        now = time.monotonic()
        self.started.setdefault((mapping, stage), now)
        self.mark = now
        label = f"{mapping} {WRITE_LABELS.get(stage, stage)}"
        if not self.bar:
            self._end_reads(mapping)  # another mapping writes: earlier ones have read all
        if self.bar:
            self._draw(mapping, stage, label, done, total)
            return
        if done == 0 or not self._due(mapping, stage, done, total):
            return  # nothing written yet: a line would say nothing
        eta = self._eta(mapping, stage, done, total, now)
        if self.json_lines:
            obj = {"event": "write_progress", "mapping": mapping, "stage": stage, "done": done}
            obj |= {"total": total, "eta_seconds": round(eta, 1) if eta is not None else None}
            sys.stderr.write(json.dumps(obj) + "\n")
            return
        sys.stderr.write(f"{label}: {done} of {total} writes done{self._share(done, total, eta)}\n")

    def _draw(self, mapping: str, stage: str, label: str, done: int, total: int | None) -> None:
        key = (mapping, stage)
        if key not in self.tasks:
            self.tasks[key] = self.bar.add_task(label, total=total)
        self.bar.update(self.tasks[key], completed=done, total=total)

    def _due(self, mapping: str, stage: str, done: int, total: int | None) -> bool:
        """A plain line is due: the first, 10,000 records after the last, or the end."""
        key = (mapping, stage)
        last = self.last.get(key)
        if last is not None and (done == last or (done - last < PLAIN_EVERY and done != total)):
            return False
        self.last[key] = done
        return True

    def _eta(
        self, mapping: str, stage: str, done: int, total: int | None, now: float
    ) -> float | None:
        elapsed = now - self.started[(mapping, stage)]
        return elapsed / done * (total - done) if total and done and elapsed > 0 else None

    @staticmethod
    def _share(done: int, total: int | None, eta: float | None) -> str:
        """`` (96%), ETA 3 s``: whole percents rounded down, as ``quality.percent`` does: 454
        of 456 is 99%, never "100%" before the last record (100 only when done)."""
        if not total:
            return ""
        share = 100 if done >= total else done * 100 // total
        return f" ({share}%)" + (f", ETA {eta:.0f} s" if eta is not None else "")


def _render(report: RunReport) -> None:
    # soft_wrap: a pipe or a log file gets whole lines (a terminal wraps them itself).
    out.print(escape(report.summary()), highlight=False, soft_wrap=True)
    for m in report.mappings.values():
        for ex in m.examples:
            out.print(
                f"    e.g. {ex['action']} {ex['key']}…: " + escape(json.dumps(ex["fields"])),
                highlight=False,
                soft_wrap=True,
            )


def run(ctx: typer.Context, job: JobArg = None) -> None:
    """Sync now: every mapping of JOB (parents first), with progress and a summary."""
    from connector.sync.recovery import run_recovering

    settings = load_settings(_config(ctx))
    json_lines = (ctx.obj or {}).get("log_format") == "json"
    totals, project = source_totals(settings, job)
    rebuilt: list[str] = []
    with _Progress(totals, json_lines=json_lines) as progress:
        # A state that holds nothing while the org holds the job's records was lost: rebuilt
        # from the org first (sync/recovery.py), its summary shown before the run's.
        report = run_recovering(
            settings,
            job=job,
            progress=progress,
            project=project,
            rebuilt=lambda result: rebuilt.append(result.summary(show=20)),
        )
    for summary in rebuilt:
        out.print(escape(summary), highlight=False, soft_wrap=True)
    _render(report)
    # A run that lost Salesforce part-way is recorded as failed: exit 3, like one that could
    # not log in at all (connector.errors.SalesforceUnreachable). One whose input was unusable
    # is recorded as failed too (with its cause), but stays exit 2.
    code = report.exit_code()
    raise typer.Exit(3 if report.status == "failed" and code != 2 else code)


def plan(ctx: typer.Context, job: JobArg = None) -> None:
    """Dry run: what would be created, updated, cleared, skipped, rejected. Writes nothing."""
    from connector.mapping import load_project
    from connector.plan_examples import generated_external_id_notes
    from connector.sync.job import run_job
    from connector.sync.recovery import lost_state_note

    settings = load_settings(_config(ctx))
    report = run_job(settings, job=job, dry_run=True)
    _render(report)
    # Say in words where an external id will hold the keyed hash of the key (DESIGN §5).
    for note in generated_external_id_notes(load_project(settings.mappings)):
        out.print(f"note: {note}", highlight=False)
    if report.exit_code() != 2 and (lost := lost_state_note(settings, job=job)):
        # A run would rebuild a lost state first (sync/recovery.py): this plan did not.
        out.print(f"note: {escape(lost)}", highlight=False, soft_wrap=True)
    # The exit code the run would give (DESIGN §4): 2 for an unusable input, as `run`.
    raise typer.Exit(report.exit_code())


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
    settings = load_settings(_config(ctx))
    if html is not None:  # the page `serve` shows at /, without a service (status_page.py)
        from connector.status_page import write_status_page

        out.print(f"status page written to {write_status_page(settings, html)}", highlight=False)
        return
    url = settings.state.url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        out.print("no runs yet (no state file)")
        return
    # sqlite3 over a SQLite state, the store (SQLAlchemy) otherwise: status starts fast.
    from connector.state.status_queries import read_status

    data = read_status(url, limit)
    runs, rejects, pending, synced = data.runs, data.rejects, data.outbox, data.synced
    requests = data.open_requests  # data-subject requests (art. 12(3))
    from connector.clock import school_date

    today = school_date(settings.clock())
    if requests:  # the request rules pull in the privacy package: only when there are some
        from connector.commands.requests import open_request_lines, request_json
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
                    "open_requests": [request_json(r, today) for r in requests] if requests else [],
                },
                indent=2,
            )
        )
        return
    _print_status(runs, rejects, synced, pending)
    for line in open_request_lines(requests, today) if requests else []:
        out.print(f"open request {line}", highlight=False, soft_wrap=True)


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
            r.label,
            f"{r.started_at:%d-%m %H:%M}",  # day first, as the status page and Dutch readers
            str(r.status),
            # A purge writes deletes and cleared fields (issue 9.6), not creates or updates.
            str(r.written),
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
    for r in runs[:1] if runs and runs[0].job == "purge" else []:
        c = r.counts
        out.print(
            f"purge {r.run_id}: deleted {c.get('deleted', 0)} ({c.get('persons', 0)} persons), "
            f"fields cleared {c.get('fields_cleared', 0)} on {c.get('minimised', 0)} records; "
            f"report: {escape(str(r.report_path))}",
            highlight=False,
            soft_wrap=True,
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
        "Records in Salesforce per mapping: " + ", ".join(f"{k} {v}" for k, v in synced.items()),
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
    model: Annotated[
        DataModel,
        typer.Option("--model", help="the org's data model: contacts, education-cloud or eda"),
    ] = DataModel.contacts,
) -> None:
    """One command, no set-up: emulator + a Dutch sample data set + a full sync, twice."""
    from connector.demo.run import run_demo

    raise typer.Exit(run_demo(keep=keep, students=students, console=out, model=model.value))


def register_commands(app: typer.Typer) -> None:
    """Mount these commands on the main app."""
    app.command("run")(run)
    app.command("plan")(plan)
    app.command("status")(status)
    app.command("demo")(demo)
