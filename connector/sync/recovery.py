"""A run on a lost state rebuilds it from the org first.

After the state folder is lost (a disk, a move, a restore without it), a run upserts every record
by its external id: no record is duplicated. But people are matched across mappings through
state — a student who was an open-day visitor joins the visitor's Contact by e-mail because
state remembers that Contact's person. With state lost, the student's row found no person, got a
second Contact, and the registration, which then matched the student by e-mail, failed on every
run with ``DUPLICATE_VALUE`` on its key (an outsider's F5).

So a run whose state never sent anything (no record, no outbox row: a failed run or a purge
with nothing to purge leaves none) first asks the org whether it holds records of the job's
person mappings (one ``LIMIT 1`` query an object by their external ids: one for the shipped
jobs; on such a state only). If it does, the state was lost (or the org was loaded before): the
run rebuilds the state from the org as ``sis-sync state rebuild`` does — nothing written to the
org — and then runs. A first load into an org without such records costs that query and nothing
else; a state that sent anything is never second-guessed (``state rebuild --force`` is for a
partly lost one). A rebuild that stopped half-way (killed, the daily API share) is noted in
state (``meta``); the run does not sync on the half-rebuilt state, and the next run resumes the
rebuild, keeping what it recorded. A rebuild that went through clears the note, whoever ran it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from connector.config import Settings, require_secret
from connector.errors import SalesforceError
from connector.mapping import Project, load_project
from connector.report import RunReport
from connector.salesforce.client import SalesforceClient
from connector.state import recovery_facts
from connector.sync.job import job_mappings, run_job
from connector.sync.rebuild import RebuildResult, note_rebuilding, rebuild_state

log = logging.getLogger(__name__)

Progress = Callable[[str, int], None]


def org_holds_records(settings: Settings, project: Project, names: Sequence[str]) -> str | None:
    """The first person mapping of ``names`` whose object holds a record carrying an external
    id of the job's person mappings (one query an object), or None.

    Only persons: they are what state matches across mappings (a record of any other object is
    an upsert by its own external id, duplicated by nothing)."""
    ids: dict[str, list[tuple[str, str]]] = {}
    for name in names:
        spec = project.mappings[name]
        if spec.identity is not None:
            ids.setdefault(spec.target.object, []).append((name, spec.target.external_id))
    if not ids:
        return None
    client = SalesforceClient(settings.salesforce)
    for obj, named in ids.items():
        held = " OR ".join(sorted({f"{ext} != null" for _, ext in named}))
        # Names from the validated mappings; no value is in the query.
        soql = f"SELECT Id FROM {obj} WHERE {held} LIMIT 1"  # noqa: S608
        body = client.json("GET", "query", params={"q": soql}) or {}
        if body.get("records"):
            return named[0][0]
    return None


def rebuild_if_lost(
    settings: Settings,
    *,
    job: str | None = None,
    progress: Progress | None = None,
    project: Project | None = None,
) -> RebuildResult | None:
    """Rebuild the state of ``job`` from the org when state never sent anything and the org holds
    records of the job's mappings (the module docstring); None when nothing was rebuilt."""
    require_secret(settings)  # a run refuses to start without it: before any request
    never_sent, resuming = recovery_facts(settings.state.url)
    if not never_sent and resuming is None:
        return None
    project = project or load_project(settings.mappings)
    _, names = job_mappings(settings, project, job)
    if resuming is None:
        try:
            found = org_holds_records(settings, project, names)
        except SalesforceError as exc:
            # The run meets the same failure and records it (status, /healthz): left to it.
            log.debug("lost-state check skipped: %s", exc)
            return None
        if found is None:
            return None
        log.warning(
            "the state holds no record, but the org holds records of mapping %s: the state "
            "was lost, or the org was loaded before; rebuilding it from the org first (as "
            "`sis-sync state rebuild`; nothing is written to Salesforce by it)",
            found,
        )
    else:
        # Killed or stopped half-way (a kill, the daily API share): what it recorded is kept,
        # the rest is matched in the org (`state rebuild --force`).
        log.warning(
            "the rebuild of the lost state begun %s did not finish: resuming it first", resuming
        )
    if resuming is None:  # (a resumed one is noted already: nothing written before log-in)
        note_rebuilding(settings.state.url, settings.clock())
    # It clears the note once it went through (rebuild.py); stopped, the note stays.
    return rebuild_state(settings, job=job, progress=progress, force=resuming is not None)


def run_recovering(
    settings: Settings,
    *,
    job: str | None = None,
    progress: Progress | None = None,
    project: Project | None = None,
    rebuilt: Callable[[RebuildResult], None] | None = None,
) -> RunReport:
    """``run_job``, after :func:`rebuild_if_lost`; ``rebuilt`` sees a rebuild's result.

    A rebuild that stopped (the daily API share, Salesforce gone, the lock) is the run's
    outcome: its report is returned and nothing is synced on the half-rebuilt state (the next
    run resumes the rebuild)."""
    result = rebuild_if_lost(settings, job=job, progress=progress, project=project)
    if result is not None:
        if rebuilt is not None:
            rebuilt(result)
        if result.exit_code() == 1:
            return result.report
    return run_job(settings, job=job, progress=progress, project=project)
