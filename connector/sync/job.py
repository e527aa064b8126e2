"""Running a job: configuration → project → state → Salesforce → every mapping → report.

Everything that can be wrong with the configuration, the mappings, the credentials or the state
store is found before the first record is written (exit 2). A dry run (`sis-sync plan`) reads
the state when it exists but writes nothing anywhere: no state file, no report, no API call.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

from connector.clock import school_date
from connector.config import Settings, require_secret
from connector.errors import (
    ConfigError,
    LockedError,
    MappingError,
    PluginError,
    Problem,
    SalesforceError,
    SalesforceUnreachable,
)
from connector.hashing import KeyHasher
from connector.mapping import load_project
from connector.mapping.project import Project
from connector.report import RunReport
from connector.salesforce.record_types import RecordTypes
from connector.salesforce.writer import Writer
from connector.state import RunStatus, StateStore, open_existing
from connector.sync.engine import MappingRun
from connector.sync.fingerprint import project_digest
from connector.sync.run_context import Progress, RunContext
from connector.sync.withdrawal_learning import learn_withdrawals

log = logging.getLogger(__name__)


def job_mappings(settings: Settings, project: Project, job: str | None) -> tuple[str, list[str]]:
    """The job's name and its mappings, parents first (all mappings when no job is named)."""
    if job is None:
        # Every mapping in the order the jobs list them, then the rest (parents still before
        # children): the SIS export before the event tool's registrants, so a registrant joins
        # the student's Contact by e-mail hash instead of creating a prospect that the student
        # run must then find and update (DESIGN §5: the records join, never duplicate).
        listed = [n for j in settings.jobs for n in (j.mappings or []) if n in project.mappings]
        return "all", project.order(dict.fromkeys([*listed, *project.mappings]))
    if job in project.mappings and not any(j.name == job for j in settings.jobs):
        return job, project.order([job])
    spec = settings.job(job)
    if spec.purge:
        raise ConfigError(f"job {job!r} is a purge job; run it with `sis-sync purge`")
    names = spec.mappings or list(project.mappings)
    unknown = sorted(set(names) - set(project.mappings))
    if unknown:
        raise ConfigError(f"job {job!r} names unknown mappings: {', '.join(unknown)}")
    return job, project.order(names)


@contextlib.contextmanager
def _locks(store: StateStore, job: str, names: list[str], *, dry_run: bool) -> Iterator[None]:
    """The run locks: the job's and every mapping's, so that two jobs sharing a mapping (the
    nightly job and a hand-started `run students`) never write it at the same time. A dry run
    takes none: it writes nothing and must not block a scheduled run."""
    with contextlib.ExitStack() as stack:
        if not dry_run:
            stack.enter_context(store.lock(job))
            for name in sorted(set(names) - {job}):
                try:
                    stack.enter_context(store.lock(name))
                except LockedError as exc:
                    raise LockedError(
                        f"job {job!r} cannot start: another run is syncing mapping {name!r} ({exc})"
                    ) from None
        yield


@contextlib.contextmanager
def _lean_gc() -> Iterator[None]:
    """Fewer garbage collections while a run maps: each mapped row allocates a few dozen
    container objects and gen-0 collections at the default threshold (700) re-scanned them
    all the time — 8–20 % of a first load's CPU. What was loaded before (project, compiled
    mappings, modules) is frozen out of the collector's sight; both are undone afterwards."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def _job_ratio(settings: Settings, job: str) -> float | None:
    """The job's ``min_export_ratio`` from sync.yaml (None: not a job, or not set)."""
    spec = next((j for j in settings.jobs if j.name == job), None)
    return spec.min_export_ratio if spec is not None else None


def _writer(settings: Settings) -> Writer:
    from connector.salesforce import connect

    return connect(settings.salesforce)


def _unreachable(writer: Writer | None) -> SalesforceUnreachable | None:
    """The failure that made Salesforce count as unreachable in this run, if any."""
    found = getattr(getattr(writer, "client", None), "unreachable", None)
    return found if isinstance(found, SalesforceUnreachable) else None


def _record_types(project: Project, names: list[str], writer: Writer) -> RecordTypes:
    """Every record type the job's mappings name (or the person-account type), asked once;
    MappingError (exit 2) naming file, line and key when the org lacks one. A query that fails
    is left to the mapping's own run, which reports it."""
    from connector.mapping.online import record_type_problems

    record_types = RecordTypes(writer.query)
    problems: list[Problem] = []
    try:
        for name in names:
            file = project.files.get(name)
            shown = str(file or name)
            problems += record_type_problems(project.mappings[name], file, shown, record_types)
    except SalesforceError:
        return record_types
    if problems:
        raise MappingError(problems)
    return record_types


def _record_unreachable(
    settings: Settings, job: str, now: datetime, exc: SalesforceUnreachable
) -> None:
    """Record a run that could not start because Salesforce could not be reached: failed, with
    its cause in words (``sis-sync status``, ``/healthz``), and a report naming the cause."""
    report = RunReport(job=job, started_at=now)
    report.stopped = str(exc)
    report.finished_at = datetime.now(UTC)
    report.status = RunStatus.FAILED.value
    store = open_existing(settings.state.url, create=True)
    try:
        report.run_id = exc.run_id = store.start_run(job, now)  # /healthz names the run
        path = report.write(settings.reports_dir())
        store.finish_run(
            report.run_id,
            status=RunStatus.FAILED,
            counts={"cause": exc.cause, "warnings": []},
            api_calls=0,
            report_path=str(path),
            finished_at=report.finished_at,
        )
    finally:
        store.close()


def _finish(
    settings: Settings,
    store: StateStore,
    report: RunReport,
    writer: Writer,
    status: RunStatus,
    cause: str = "",
) -> None:
    report.finished_at = datetime.now(UTC)
    report.api_calls = getattr(writer, "api_calls", 0)
    client = getattr(writer, "client", None)
    if client is not None and getattr(client, "api_max", None):
        report.api_usage = f"{client.api_used}/{client.api_max}"
    unreachable = _unreachable(writer)
    counts: dict[str, object] = {**report.totals(), "warnings": report.warning_lines()}
    if cause:
        counts["cause"] = cause
    if report.rebuild:
        counts["rebuild"] = True  # RunRow.rebuild: matched in the org, nothing written
    if unreachable is not None:
        # Salesforce stopped answering part-way: what landed is kept (and counted), the rest is
        # pending; the run is failed, with the cause in words, and the command exits 3.
        status = RunStatus.FAILED
        counts["cause"] = unreachable.cause
        # Writes that got no answer are pending again (NEW), not left SENT: the next run sends them.
        assert report.run_id is not None  # _finish is only called for a run that started
        store.requeue_sent(report.run_id, at=report.finished_at)
        report.stopped = report.stopped or str(unreachable)
    report.status = status.value
    path = report.write(settings.reports_dir())
    assert report.run_id is not None  # _finish is only called for a run that started
    store.finish_run(
        report.run_id,
        status=status,
        counts=counts,
        api_calls=report.api_calls,
        report_path=str(path),
        finished_at=report.finished_at,
    )


def run_job(
    settings: Settings,
    *,
    job: str | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    secret: str | None = None,
    writer_factory: Callable[[Settings], Writer] | None = None,
    project: Project | None = None,
    rebuild: bool = False,
) -> RunReport:
    """Run (or plan) one job and return its report.

    Args:
        settings: The loaded configuration.
        job: A job name from sync.yaml, a single mapping name, or None for every mapping.
        dry_run: Plan only: no Salesforce call, no state change, no report file.
        progress: Called with (mapping, records read so far) after each batch.
        secret: The keyed-hash secret; default SIS_SYNC_SECRET (required).
        writer_factory: Builds the Salesforce writer (tests and the demo may pass their own).
        project: The project of ``settings.mappings`` when the caller loaded it already.
        rebuild: A ``state rebuild`` (its writer only reads the org): the run is recorded as
            one, so ``status`` does not count its matched records as written.
    """
    hasher = KeyHasher(secret or require_secret(settings))
    if project is None:
        project = load_project(settings.mappings)
    job_name, names = job_mappings(settings, project, job)
    now = settings.clock()
    today = school_date(now)
    compiled = {
        name: project.compile(name, hasher=hasher, today=today) for name in project.mappings
    }
    report = RunReport(job=job_name, started_at=now, dry_run=dry_run, rebuild=rebuild)
    # Log in before the state is touched: refused credentials are exit 2 with nothing written.
    # An org that cannot be reached (connection, TLS, 5xx after the retries) is exit 3, and the
    # run is recorded as failed with its cause, so that `status` and /healthz show it.
    from connector.gdpr.erasure_retry import note_unreachable, retry_open_erasures  # GDPR jobs

    try:
        writer = None if dry_run else (writer_factory or _writer)(settings)
    except SalesforceUnreachable as exc:
        _record_unreachable(settings, job_name, now, exc)
        note_unreachable(settings, exc)  # open erasures: one more failed attempt
        raise
    # A record type or person accounts the org lacks is a configuration error: exit 2, before
    # anything is written (not a run that stops at that mapping after its parents were written).
    record_types = None if writer is None else _record_types(project, names, writer)
    if writer is not None:
        # Open erasures first (GDPR art. 17): their tombstones already hold; this finishes them.
        retry_open_erasures(settings, writer, hasher=hasher)
    # A dry run against a state never written plans on an empty in-memory one: no file appears.
    store = open_existing(settings.state.url, create=not dry_run)
    try:
        with _locks(store, job_name, names, dry_run=dry_run), _lean_gc():
            if not dry_run:
                store.abort_stale_runs(job_name, at=now)  # runs whose process died
                report.run_id = store.start_run(job_name, now)
            ctx = RunContext(
                project=project,
                base_dir=settings.project_dir,
                compiled=compiled,
                store=store,
                writer=writer,
                hasher=hasher,
                now=now,
                report=report,
                bulk_threshold=settings.salesforce.bulk_threshold,
                project_digest=project_digest(project),
                remember_sources=now <= datetime.now(UTC) + timedelta(minutes=5),
                progress=progress,
                min_export_ratio=_job_ratio(settings, job_name),
                record_types=record_types,  # asked before the run: each once
                # In a dry run, remember what parents would create (only mappings others refer to).
                planned={p: set() for n in names for p in compiled[n].parents} if dry_run else {},
            )
            try:
                # What later mappings' rows withdraw, before anything is planned: a person's
                # open-day "nee" must reach the student export's older "ja" in this run, and
                # a plan must count what the run does (withdrawal_learning.py).
                ctx.learnt = learn_withdrawals(ctx, names)
                for name, stated in ctx.learnt.stated.items() if not dry_run else ():
                    # Recorded once, before the plan (its batches then record nothing).
                    store.record_withdrawals(name, stated, at=now)
                for name in names:
                    MappingRun(ctx, name).execute()
                    unreachable = _unreachable(writer)
                    if unreachable is not None and not report.stopped:
                        # Later mappings count their writes as pending instead of each waiting
                        # through the retries again.
                        report.stopped = str(unreachable)
            except BaseException as exc:
                if report.run_id is not None and writer is not None:
                    # Record the run as aborted (with what it did so far), then let it surface;
                    # a plugin bug is a failed run with its value-free cause (status shows it).
                    if isinstance(exc, PluginError):
                        report.stopped = report.stopped or str(exc)
                        _finish(settings, store, report, writer, RunStatus.FAILED, str(exc))
                    else:
                        _finish(settings, store, report, writer, RunStatus.ABORTED)
                raise
            if writer is not None:
                code = report.exit_code()
                status = RunStatus.OK if code == 0 else RunStatus.PARTIAL
                if code == 2:  # an unusable input: nothing written, failed with the cause in words
                    _finish(settings, store, report, writer, RunStatus.FAILED, report.input_cause())
                else:
                    _finish(settings, store, report, writer, status)
            else:
                report.status = "planned"
    finally:
        store.close()
    return report
