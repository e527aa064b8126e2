"""`sis-sync state rebuild`: local state reconstructed from the org, without writing to it.

After a lost or corrupt state, the next run would re-send every record (an upsert by external id:
no duplicates, but one full write of the org). A rebuild instead runs the job exactly as a run
does — source, mapping, policy, planner, recorder — with a :class:`RebuildWriter` in place of the
writer. That writer never writes: for every record the engine would upsert (or update by Id) it
reads the org record by its external id (or Id) and answers as Salesforce would have if the write
had changed nothing:

* the org record holds the row's values → success with its Id: the engine records it (and its
  person) exactly as after a real write, so the next run finds it unchanged;
* the record differs → a failure ``REBUILD_DIFFERS`` naming the differing fields: nothing is
  recorded, and the next run writes the difference by upsert (the same record, no duplicate);
* no record → a failure ``REBUILD_NOT_IN_ORG``: the next run creates it.

What was not matched is listed by file:line and reason (never a value), from the run's outbox
and rejects. The engine is used only through ``run_job``'s writer factory and the run report.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from connector.clock import school_date
from connector.config import Settings, require_secret
from connector.errors import ConfigError
from connector.hashing import KeyHasher
from connector.mapping import load_project
from connector.report import RunReport
from connector.salesforce.client import SalesforceClient
from connector.sources import open_source
from connector.state import OutboxStatus, open_existing
from connector.state.db import make_private_dir, write_private_text
from connector.sync.job import job_mappings, run_job
from connector.sync.rebuild_adopt import Adoption, adopt_left_records, keyed_rows
from connector.sync.rebuild_writer import DIFFERS, NOT_IN_ORG, RebuildWriter

log = logging.getLogger(__name__)

__all__ = [
    "DIFFERS",
    "NOT_IN_ORG",
    "Adoption",
    "RebuildResult",
    "RebuildWriter",
    "Unmatched",
    "rebuild_state",
]


@dataclass(frozen=True, slots=True)
class Unmatched:
    """A source row whose record the rebuild could not record: where and why, never a value."""

    mapping: str
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.file else "(row not found in the source)"
        return f"{self.mapping}  {where}  {self.reason}"


@dataclass
class RebuildResult:
    """The rebuild's run report, the rows it could not match, and what state held before."""

    report: RunReport
    unmatched: list[Unmatched] = field(default_factory=list)
    held_before: dict[str, int] = field(default_factory=dict)
    list_file: Path | None = None
    adopted: list[Adoption] = field(default_factory=list)

    def exit_code(self) -> int:
        """0 when the rebuild went through every mapping (unmatched rows are a result, not an
        error); 2 for configuration or input errors with nothing done; 1 when it stopped."""
        code = self.report.exit_code()
        if code == 2:
            return 2
        maps = self.report.mappings.values()
        if self.report.stopped or any(m.error or m.input_error or m.pending for m in maps):
            return 1
        return 0

    def summary(self, *, show: int = 100) -> str:
        """What was matched and recorded per mapping, and the unmatched rows (``show`` per
        mapping; all of them are in :attr:`list_file`)."""
        rep = self.report
        lines = [f"sis-sync state rebuild · job {rep.job} · nothing was written to Salesforce"]
        if self.held_before:
            held = ", ".join(f"{k} {v}" for k, v in sorted(self.held_before.items()))
            lines.append(
                f"  --force: state already held records ({held}); those it knew unchanged were "
                "kept without a look in the org"
            )
        for m in rep.mappings.values():
            lines.append(f"  {m.mapping} → {m.object}")
            if m.error:
                lines.append(f"      stopped: {m.error}")
            other = sum(n for code, n in m.failures.items() if code not in (DIFFERS, NOT_IN_ORG))
            parts = [
                f"{m.read} read",
                f"matched and recorded {m.created + m.updated}",
                f"differs in the org {m.failures.get(DIFFERS, 0)}",
                f"not in the org {m.failures.get(NOT_IN_ORG, 0)}",
            ]
            for label, n in (
                ("already in state", m.unchanged),
                ("other errors", other),
                ("rejected", m.rejected),
                ("suppressed", m.suppressed),
                ("review", m.review),
                ("filtered", m.filtered),
                ("pending", m.pending),
            ):
                if n:
                    parts.append(f"{label} {n}")
            lines.append("      " + ", ".join(parts))
        lines += _adopted_lines(self.adopted)
        if self.unmatched:
            lines.append("  Not recorded (the next `sis-sync run` writes or reports these):")
            shown: dict[str, int] = {}
            for u in self.unmatched:
                shown[u.mapping] = shown.get(u.mapping, 0) + 1
                if shown[u.mapping] <= show:
                    lines.append(f"    {u}")
            for mapping, n in shown.items():
                if n > show:
                    lines.append(f"    {mapping}: … {n - show} more")
            if self.list_file is not None:
                lines.append(f"  Full list: {self.list_file}")
            if any(u.reason == "not in the org" for u in self.unmatched):
                lines.append(
                    "  A row not in the org may be a person erased earlier: erasure tombstones "
                    "were lost with the state. Check before the next run (docs/recovery.md)."
                )
        lines.append(f"  API calls (queries and describes): {rep.api_calls}")
        return "\n".join(lines)


def _adopted_lines(adopted: Sequence[Adoption]) -> list[str]:
    """What the search for records no export row matched found (rebuild_adopt.py)."""
    lines = []
    if found := [a for a in adopted if a.sf_ids]:
        parts = []
        for a in found:
            left, unwritten = len(a.sf_ids) - len(a.in_export), len(a.in_export)
            says = [f"{left} left their export"] if left else []
            says += [f"{unwritten} still in it, unwritten"] if unwritten else []
            parts.append(f"{a.mapping} {', '.join(says)}")
        lines += [
            f"  In the org, adopted without a written row: {'; '.join(parts)}.",
            "      Their retention counts from today (what the lost state knew of when they "
            "left is gone): `sis-sync purge` clears them when it runs out (docs/recovery.md).",
        ]
    if others := [a for a in adopted if a.others]:
        counts = ", ".join(f"{a.mapping} {len(a.others)}" for a in others)
        lines.append(
            f"  Not adopted, made and last changed by another user than sis-sync's: {counts} "
            "(listed for review; never purged by sis-sync)."
        )
    lines += [
        f"  not searched for records that left: {a.mapping} ({a.skipped})"
        for a in adopted
        if a.skipped and not a.skipped.startswith("the rebuild did not")
    ]
    return lines


# The engine files Salesforce's refusals of a run's writes as rejects with this reason prefix
# (and the refused fields as the column): the rebuild's answers arrive that way too.
_REFUSED = "salesforce refused:"


def _reason(code: str, message: str) -> str:
    if code == NOT_IN_ORG:
        return "not in the org"
    if code == DIFFERS:
        return message or "differs in the org"
    return f"{code}: {message}" if message else code


def held_records(url: str, names: Sequence[str]) -> dict[str, int]:
    """Records the state at ``url`` already holds for each of ``names`` (only those with any)."""
    store = open_existing(url)  # reads only; an absent file is an empty store
    try:
        counts = store.mapping_counts()
    finally:
        store.close()
    return {n: counts[n] for n in names if counts.get(n)}


def note_rebuilding(url: str, mappings: Sequence[str], since: datetime) -> None:
    """Note in the state at ``url`` that the rebuild of ``mappings``' lost state began at
    ``since``; see ``sync/recovery.py``."""
    store = open_existing(url, create=True)
    try:
        store.mark_rebuilding(mappings, since)
    finally:
        store.close()


def _note_rebuilt(url: str, report: RunReport, every: Sequence[str]) -> None:
    """The mappings of ``report`` that went through are no longer under rebuild, whoever ran it
    (sync/recovery.py resumes the others); none when it stopped part-way (the daily share,
    Salesforce gone: what it did is kept, and the next rebuild takes it up with --force)."""
    if report.stopped:
        return
    done = [n for n, m in report.mappings.items() if not (m.error or m.input_error or m.pending)]
    store = open_existing(url, create=True)
    try:
        store.mark_rebuilt(done, every)
    finally:
        store.close()


def rebuild_state(
    settings: Settings,
    *,
    job: str | None = None,
    force: bool = False,
    secret: str | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> RebuildResult:
    """Rebuild the state of ``job``'s mappings from the org (see the module docstring).

    Args:
        settings: The loaded configuration.
        job: A job from sync.yaml, one mapping, or None for every mapping.
        force: Rebuild into a state that already holds records of these mappings.
        secret: The keyed-hash secret; default SIS_SYNC_SECRET.
        progress: Called with (mapping, records read so far), as for a run.

    Raises:
        ConfigError: The state already holds records of these mappings and ``force`` is off;
            or any configuration error a run would raise (nothing is done then).
    """
    secret = secret or require_secret(settings)
    project = load_project(settings.mappings)
    _, names = job_mappings(settings, project, job)
    held = held_records(settings.state.url, names)
    if held and not force:
        listed = ", ".join(f"{k} ({v} records)" for k, v in sorted(held.items()))
        raise ConfigError(
            f"state rebuild: the state already holds records of {listed}. A rebuild fills an "
            "empty or lost state; `sis-sync run` is what brings a kept state up to date. "
            "--force rebuilds anyway: records state knows unchanged are kept as they are, the "
            "others are matched in the org"
        )

    writers: list[RebuildWriter] = []

    def writer_factory(s: Settings) -> RebuildWriter:
        writers.append(RebuildWriter(SalesforceClient(s.salesforce)))
        return writers[-1]

    report = run_job(
        settings,
        job=job,
        secret=secret,
        progress=progress,
        writer_factory=writer_factory,
        rebuild=True,
    )
    result = RebuildResult(report, held_before=held)
    if report.run_id is not None:
        failed = _failed_writes(settings, report.run_id)
        result.unmatched = _unmatched(settings, project, report, secret, failed)
        if writers and not report.stopped:
            result.adopted = _adopt(settings, project, names, report, writers[-1], secret, failed)
        if result.unmatched or any(a.sf_ids or a.others for a in result.adopted):
            result.list_file = _write_list(settings, report, result.unmatched, result.adopted)
    _note_rebuilt(settings.state.url, report, list(project.mappings))
    return result


def _adopt(
    settings: Settings,
    project: Any,
    names: Sequence[str],
    report: RunReport,
    writer: RebuildWriter,
    secret: str,
    failed: Mapping[str, Mapping[str, tuple[str, str]]],
) -> list[Adoption]:
    """The org records the exports no longer hold, recorded as left (rebuild_adopt.py)."""
    finished = [
        n for n, m in report.mappings.items() if not (m.error or m.input_error or m.pending)
    ]
    store = open_existing(settings.state.url)
    try:
        return adopt_left_records(
            store,
            writer,
            settings,
            project,
            [n for n in names if n in project.mappings],
            hasher=KeyHasher(secret),
            finished=finished,
            writes_next=failed,
        )
    finally:
        store.close()


def _failed_writes(settings: Settings, run_id: int) -> dict[str, dict[str, tuple[str, str]]]:
    """Mapping → key hash → (error code, message) of the rebuild's writes that failed: the
    records found missing or different in the org (the next run writes them)."""
    store = open_existing(settings.state.url)
    try:
        failed: dict[str, dict[str, tuple[str, str]]] = {}
        after = 0
        while page := store.pending_outbox(after_id=after):
            after = page[-1].id
            for row in page:
                if row.run_id == run_id and row.status is OutboxStatus.FAILED:
                    reason = (row.error_code, row.error_message)
                    failed.setdefault(row.mapping, {})[row.key_hash] = reason
    finally:
        store.close()
    return failed


def _unmatched(
    settings: Settings,
    project: Any,
    report: RunReport,
    secret: str,
    failed: Mapping[str, Mapping[str, tuple[str, str]]] | None = None,
) -> list[Unmatched]:
    """The rows of this rebuild that were not recorded: failed writes (``failed``, read from
    the outbox when not given, placed by a second read of their source) and rejected rows (the
    run's rejects)."""
    if failed is None:
        failed = _failed_writes(settings, report.run_id)  # type: ignore[arg-type]
    store = open_existing(settings.state.url)
    try:
        rejects = []
        offset = 0
        while chunk := store.list_rejects(report.run_id, offset=offset):  # type: ignore[arg-type]
            rejects.extend(chunk)
            offset += len(chunk)
    finally:
        store.close()
    out: list[Unmatched] = []
    hasher = KeyHasher(secret)
    today = school_date(settings.clock())
    for name in report.mappings:
        mine = [r for r in rejects if r.mapping == name]
        refusals = [r for r in mine if r.reason.startswith(_REFUSED)]
        wanted = failed.get(name)
        if wanted and len(refusals) < len(wanted):
            # This engine does not file Salesforce's refusals as rejects (with their line):
            # place the failed writes by reading their source once more.
            compiled = project.compile(name, hasher=hasher, today=today)
            where = _locate(project.mappings[name].source, settings.project_dir, compiled, wanted)
            for key_hash, (code, message) in wanted.items():
                file, line = where.get(key_hash, ("", 0))
                out.append(Unmatched(name, file, line, _reason(code, message)))
            mine = [r for r in mine if not r.reason.startswith(_REFUSED)]
        for r in mine:
            if r.reason.startswith(_REFUSED):
                code = r.reason.removeprefix(_REFUSED).strip()
                fields = ", ".join(f.strip() for f in r.column.split(",") if f.strip())
                text = f"differs in the org: {fields}" if code == DIFFERS and fields else ""
                out.append(Unmatched(name, r.file, r.line, _reason(code, text)))
            else:
                column = f" [{r.column}]" if r.column else ""
                out.append(Unmatched(name, r.file, r.line, f"rejected{column}: {r.reason}"))
    order = {name: i for i, name in enumerate(report.mappings)}
    out.sort(key=lambda u: (order.get(u.mapping, 0), u.file, u.line))
    return out


def _locate(
    source_spec: Any, base_dir: Path, compiled: Any, wanted: Mapping[str, object]
) -> dict[str, tuple[str, int]]:
    """key hash → (file, line) of the last source row of each wanted record (the row a run
    plans from: the newest in an export)."""
    found: dict[str, tuple[str, int]] = {}
    for key_hash, rec in keyed_rows(open_source(source_spec, base_dir=base_dir), compiled):
        if key_hash in wanted and not rec.deleted:
            found[key_hash] = (rec.origin.file, rec.origin.line)
    return found


def _write_list(
    settings: Settings,
    report: RunReport,
    unmatched: list[Unmatched],
    adopted: Sequence[Adoption] = (),
) -> Path:
    """The full list beside the run report: unmatched rows (file:line and reason only), then
    the Salesforce Ids of the records adopted as left their export (no value)."""
    folder = settings.reports_dir()
    make_private_dir(folder)
    path = folder / f"rebuild-{report.run_id or 0:06d}-unmatched.txt"
    lines = [f"{u}\n" for u in unmatched]
    day = school_date(settings.clock()).isoformat()
    for a in adopted:
        kept = set(a.in_export)
        lines += [
            f"{a.mapping}  {a.object} {i}  "
            + ("its row is in the export, unwritten" if i in kept else "left the export")
            + f": adopted {day}\n"
            for i in a.sf_ids
        ]
        lines += [
            f"{a.mapping}  {a.object} {i}  carries the key, made by another user: not adopted\n"
            for i in a.others
        ]
    write_private_text(path, "".join(lines))  # owner-only, like reports
    return path
