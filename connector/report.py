"""Run reports: JSON for machines, a short text summary for people.

A report names mappings, objects, files, lines, columns, fields, reasons and Salesforce error
codes; record keys appear only as keyed hashes and example values only masked. It never holds a
personal value.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from connector.records import Reject
from connector.sync.modes import INSERT_ONLY_AT_RUN, UPDATE_ONLY_AT_RUN

# A plan asks Salesforce nothing: records of an update_only / insert_only mapping that state
# knows no Id of are matched by the run (connector/sync/modes.py), said so, not counted as 0.
AT_RUN_WORDS = {
    UPDATE_ONLY_AT_RUN: "update_only: %d records would be matched in Salesforce at run time "
    "(plan makes no call): each is updated when the org holds its external id, skipped otherwise",
    INSERT_ONLY_AT_RUN: "insert_only: %d records would be matched in Salesforce at run time "
    "(plan makes no call): each is created unless the org holds its external id",
}
# left_alone reasons of target.mode (modes.py); the others (a parent purged for retention, plan.py)
# are not the mode's doing.
_MODES = ("update_only", "insert_only")
MAX_LISTED = 50  # rejects/failures listed per mapping in the report; the counts are complete


def _plain(value: Any) -> Any:
    return dict(value) if isinstance(value, Counter) else value


def _keep(listed: list[dict[str, Any]], row: Reject, column_key: str) -> None:
    """Append ``row`` (file, line, its column under ``column_key``, reason) to ``listed``,
    up to :data:`MAX_LISTED` rows; the counts are kept elsewhere."""
    if len(listed) < MAX_LISTED:
        listed.append(
            {
                "file": row.origin.file,
                "line": row.origin.line,
                column_key: row.column,
                "reason": row.reason,
            }
        )


@dataclass
class MappingReport:
    """Counts and findings for one mapping in one run."""

    mapping: str
    object: str
    read: int = 0
    filtered: int = 0
    rejected: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    # Of the unchanged: rows recognised by their source hash and not mapped again (their
    # withheld fields are therefore not counted in ``withheld``: that counts rows mapped).
    skipped: int = 0
    failed: int = 0
    suppressed: int = 0
    not_justified: int = 0
    review: int = 0
    joined: int = 0
    source_deleted: int = 0
    pending: int = 0
    fields_cleared: int = 0
    strategy: str = ""
    error: str = ""
    input_error: bool = False  # the source was unusable: nothing of this mapping was read
    withheld: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)
    warnings: Counter = field(default_factory=Counter)
    # target.mode: changed records left alone, by reason ("update_only: no match", …).
    left_alone: Counter = field(default_factory=Counter)
    rejects: list[dict[str, Any]] = field(default_factory=list)
    # Records Salesforce refused: file, line, field(s) and error code (never the message).
    refusals: list[dict[str, Any]] = field(default_factory=list)
    review_list: list[dict[str, Any]] = field(default_factory=list)
    examples: list[dict[str, Any]] = field(default_factory=list)
    # Rows written whose record staff must settle (a CRM opt-out kept against a newer opt-in):
    # file, line, field and reason, listed apart from the rejected rows (they were written).
    conflicts: list[dict[str, Any]] = field(default_factory=list)

    def add_reject(self, reject: Reject, *, count: bool = True) -> None:
        """Count a rejected row and keep the first few for the report.

        ``count=False`` lists a further problem of a row already counted.
        """
        if count:
            self.rejected += 1
        _keep(self.rejects, reject, "column")

    def add_refusal(self, refusal: Reject) -> None:
        """Keep the first few records Salesforce refused (their count is in ``failures``)."""
        _keep(self.refusals, refusal, "fields")

    def add_conflict(self, conflict: Reject) -> None:
        """Keep the first few rows that were written with a conflict for staff to settle."""
        _keep(self.conflicts, conflict, "column")

    @property
    def written(self) -> int:
        """Records Salesforce accepted in this run."""
        return self.created + self.updated


@dataclass
class RunReport:
    """Everything one run did, per mapping, plus API usage."""

    job: str
    started_at: datetime
    dry_run: bool = False
    rebuild: bool = False  # a `state rebuild`: its "updated" are records matched in the org
    run_id: int | None = None
    finished_at: datetime | None = None
    status: str = "running"
    api_calls: int = 0
    api_usage: str = ""
    stopped: str = ""
    mappings: dict[str, MappingReport] = field(default_factory=dict)

    def totals(self) -> Counter:
        """Counts summed over all mappings."""
        total: Counter = Counter()
        for m in self.mappings.values():
            for name in (
                "read",
                "rejected",
                "created",
                "updated",
                "unchanged",
                "skipped",
                "failed",
                "suppressed",
                "review",
                "joined",
                "fields_cleared",
                "pending",
            ):
                total[name] += getattr(m, name)
        return total

    def exit_code(self) -> int:
        """0 when everything synced or was deliberately skipped, 1 when something did not land,
        2 when an input file was unusable and the run wrote nothing at all."""
        t = self.totals()
        maps = self.mappings.values()
        if any(m.input_error for m in maps) and not any(m.written or m.failed for m in maps):
            return 2
        bad = t["rejected"] + t["failed"] + t["review"] + t["pending"]
        if self.stopped or bad or any(m.error for m in self.mappings.values()):
            return 1
        return 0

    def input_cause(self) -> str:
        """Why a run that exits 2 wrote nothing, in words (for ``status``): every unusable input
        with its mapping, file, line and column and what is wrong — never a value."""
        bad = [f"{name}: {m.error}" for name, m in self.mappings.items() if m.input_error]
        return "input error: " + "; ".join(bad) if bad else ""

    def warning_lines(self) -> list[str]:
        """``mapping: warning`` for every warning of the run (field names, never values), for
        ``status``: an empty export, truncated fields …"""
        return [
            f"{name}: {text}" + (f" ×{times}" if times > 1 else "")
            for name, m in self.mappings.items()
            for text, times in sorted(m.warnings.items())
        ]

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "mappings"}
        # dataclasses.asdict mangles Counters (it rebuilds them from item tuples): go by hand.
        data["mappings"] = {
            name: {f.name: _plain(getattr(m, f.name)) for f in fields(m)}
            for name, m in self.mappings.items()
        }
        data["started_at"] = self.started_at.isoformat()
        data["finished_at"] = self.finished_at.isoformat() if self.finished_at else None
        data["totals"] = dict(self.totals())
        data["exit_code"] = self.exit_code()
        return data

    def summary(self) -> str:
        """A few readable lines per mapping."""
        kind = "plan (dry run, nothing written)" if self.dry_run else "run"
        if self.rebuild:
            kind = "state rebuild (records matched in the org, nothing written)"
        lines = [f"sis-sync {kind} · job {self.job} · {self.started_at:%Y-%m-%d %H:%M} UTC"]
        for m in self.mappings.values():
            head = f"  {m.mapping} → {m.object}"
            if m.strategy:
                head += f" [{m.strategy}]"
            lines.append(head)
            if m.error:
                lines.append(f"      stopped: {m.error}")
            verb = "would " if self.dry_run else ""
            parts = [
                f"{m.read} read",
                f"{verb}create {m.created}",
                f"{verb}update {m.updated}",
                f"unchanged {m.unchanged}"
                + (f" ({m.skipped} recognised without mapping)" if m.skipped else ""),
            ]
            for name in (
                "rejected",
                "failed",
                "suppressed",
                "not_justified",
                "review",
                "joined",
                "filtered",
                "fields_cleared",
                "pending",
                "source_deleted",
            ):
                if getattr(m, name):
                    parts.append(f"{name.replace('_', ' ')} {getattr(m, name)}")
            lines.append("      " + ", ".join(parts))
            if m.withheld:
                held = ", ".join(f"{k} ×{v}" for k, v in sorted(m.withheld.items()))
                lines.append(f"      fields withheld by policy (in rows mapped): {held}")
            if m.failures:
                lines.append(
                    "      Salesforce errors: "
                    + ", ".join(f"{k} ×{v}" for k, v in sorted(m.failures.items()))
                )
            skipped = {k: v for k, v in m.left_alone.items() if k not in AT_RUN_WORDS}
            by_mode = {k: v for k, v in skipped.items() if k.startswith(_MODES)}
            for label, part in (
                ("skipped by target.mode", by_mode),
                ("skipped", {k: v for k, v in skipped.items() if k not in by_mode}),
            ):
                if part:
                    listed = ", ".join(f"{k} ×{v}" for k, v in sorted(part.items()))
                    lines.append(f"      {label}: {listed}")
            for reason, words in AT_RUN_WORDS.items():
                if m.left_alone.get(reason):
                    lines.append(f"      {words % m.left_alone[reason]}")
            for text, times in sorted(m.warnings.items()):
                lines.append(f"      warning: {text}" + (f" ×{times}" if times > 1 else ""))
            for r in m.rejects[:5]:
                lines.append(
                    f"      rejected {r['file']}:{r['line']} [{r['column']}]: {r['reason']}"
                )
            for r in m.conflicts[:5]:
                lines.append(
                    f"      written, to settle {r['file']}:{r['line']} [{r['column']}]: "
                    f"{r['reason']}"
                )
            for r in m.refusals[:5]:
                lines.append(
                    f"      refused {r['file']}:{r['line']} [{r['fields']}]: {r['reason']}"
                )
            if m.failed > 5:
                lines.append(
                    f"      … {m.failed - 5} more refused records: "
                    + (
                        f"sis-sync rejects --run {self.run_id}"
                        if self.run_id
                        else "a run lists every one (sis-sync rejects)"
                    )
                )
            if m.rejected > 5:
                lines.append(
                    f"      … {m.rejected - 5} more: "
                    + (
                        f"sis-sync rejects --run {self.run_id}"
                        if self.run_id
                        else "a run lists every one (sis-sync rejects)"
                    )
                )
        if self.api_usage:
            lines.append(f"  API calls this run: {self.api_calls} (org usage {self.api_usage})")
        if self.stopped:
            lines.append(f"  stopped early: {self.stopped}")
        return "\n".join(lines)

    def write(self, folder: Path) -> Path:
        """Write ``run-<id>.json`` and ``run-<id>.txt`` into ``folder``; returns the JSON path.

        Both files are owner-only (0600), and so is ``folder`` (0700) when this creates it.
        """
        # Imported here: the state layer pulls in SQLAlchemy, which `status` (reading reports'
        # counts only) does not need.
        from connector.state.db import make_private_dir, write_private_text

        make_private_dir(folder)
        stem = f"run-{self.run_id or 0:06d}-{self.started_at:%Y%m%dT%H%M%S}"
        path = folder / f"{stem}.json"
        write_private_text(path, json.dumps(self.to_json(), indent=2, default=str))
        write_private_text(folder / f"{stem}.txt", self.summary() + "\n")
        return path
