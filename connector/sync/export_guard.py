"""Full exports and the size guard (issue 9.6, GDPR art. 5(1)(e)): pure rules for the engine.

A **full export** holds every record of its source on every run, so a record missing from it
has left the school's system: its ``last_seen`` stays behind, and from the run whose export
passed the guard it counts as gone (its ``last_seen`` retention anchor starts, and it is ended
on the day it was last seen: :func:`connector.privacy.retention.anchor_value`). By default file
sources (csv, oneroster, jsonl) are full exports and HTTP/API sources (incremental, paged by
``since``) are not; a mapping says otherwise with ``full_export: true | false``.

**The guard.** An export that holds fewer than ``min_export_ratio`` (default 0.9; a mapping's
key, else its job's in sync.yaml) of the rows of the last full export that passed is suspect (a
truncated file, a half-finished export job): the run warns and the anchors do not move — the
reference time and size stay those of the last good export, so no record counts as gone
because of it. An empty export never moves them (the engine warns about it already).
"""

from __future__ import annotations

from typing import Any

FULL_KINDS = frozenset({"csv", "oneroster", "jsonl"})
DEFAULT_RATIO = 0.9
DELETES = frozenset({"oneroster"})  # sources whose rows may say "deleted" (OneRoster delta)


def is_full_export(spec: Any, source_says: bool | None = None) -> bool:
    """Whether this run's read of the mapping's source held every record.

    ``source_says``: the source's own word on what it read (``Source.holds_everything``): a
    OneRoster manifest that declares the file a ``delta`` holds changes only, whatever the
    mapping says — its missing records have not left the school.
    """
    if source_says is False:
        return False
    declared = getattr(spec, "full_export", None)
    if declared is not None:
        return bool(declared)
    return spec.source_kind in FULL_KINDS


def export_ratio(spec: Any, job_ratio: float | None) -> float:
    """The mapping's ``min_export_ratio``, else its job's, else 0.9."""
    own = getattr(spec, "min_export_ratio", None)
    if own is not None:
        return float(own)
    return DEFAULT_RATIO if job_ratio is None else float(job_ratio)


def guard_warning(rows: int, previous: int | None, ratio: float) -> str | None:
    """Why an export of ``rows`` rows must not move the anchors, or None when it may (an
    empty export never does; the engine warns about it already)."""
    if previous is not None and rows < ratio * previous:
        return (
            f"the export holds {rows} rows, fewer than {ratio:.0%} of the {previous} of the last "
            "full export (min_export_ratio): records missing from it do not count as gone, "
            "and retention anchors do not move"
        )
    return None
