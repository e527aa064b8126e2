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
state (``meta``, with its job); the run does not sync on the half-rebuilt state, and the next run
— of any job: jobs share people — resumes it, keeping what it recorded. A rebuild of that job
(or of every mapping) that went through clears the note, whoever ran it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from connector.config import Settings, require_secret
from connector.errors import SalesforceError
from connector.mapping import Project, load_project
from connector.report import RunReport
from connector.salesforce import connect
from connector.salesforce.client import SalesforceClient
from connector.state import recovery_facts
from connector.sync.job import job_mappings, run_job
from connector.sync.rebuild import RebuildResult, note_rebuilding, rebuild_state

log = logging.getLogger(__name__)

Progress = Callable[[str, int], None]


def org_holds_records(
    settings: Settings,
    project: Project,
    names: Sequence[str],
    client: SalesforceClient | None = None,
) -> str | None:
    """The first object of the person mappings of ``names`` that holds a record carrying one
    of their external ids (one query an object), named with those mappings — "Contact
    (mappings students, registrants)" — or None.

    Only persons: they are what state matches across mappings (a record of any other object is
    an upsert by its own external id, duplicated by nothing)."""
    ids: dict[str, list[tuple[str, str]]] = {}
    for name in names:
        spec = project.mappings[name]
        if spec.identity is not None:
            ids.setdefault(spec.target.object, []).append((name, spec.target.external_id))
    if not ids:
        return None
    client = client or SalesforceClient(settings.salesforce)
    for obj, named in ids.items():
        held = " OR ".join(sorted({f"{ext} != null" for _, ext in named}))
        # Names from the validated mappings; no value is in the query.
        soql = f"SELECT Id FROM {obj} WHERE {held} LIMIT 1"  # noqa: S608
        body = client.json("GET", "query", params={"q": soql}) or {}
        if body.get("records"):
            return f"{obj} (mappings {', '.join(n for n, _ in named)})"
    return None


def rebuild_if_lost(
    settings: Settings,
    *,
    job: str | None = None,
    progress: Progress | None = None,
    project: Project | None = None,
    probe: _Probe | None = None,
) -> list[RebuildResult]:
    """Resume the rebuilds of a lost state that did not finish, then rebuild the state of
    ``job`` from the org when state never sent anything and the org holds records of the job's
    person mappings (the module docstring). The results, in order; the last one stopped when
    its exit code is 1 (the rest were not begun); empty when nothing was rebuilt."""
    require_secret(settings)  # a run refuses to start without it: before any request
    never_sent, under_way = recovery_facts(settings.state.url)
    if not never_sent and not under_way:
        return []
    project = project or load_project(settings.mappings)
    results: list[RebuildResult] = []
    # Every job's, not only this one's: a job that shares persons with a half-rebuilt one
    # would match them on a half-rebuilt state (the F5 duplicate).
    for noted, since in sorted(under_way.items(), key=lambda kv: kv[0] or ""):
        known = (
            noted is None
            or noted in project.mappings
            or any(j.name == noted for j in settings.jobs)
        )
        # Killed or stopped half-way (a kill, the daily API share): what it recorded is kept,
        # the rest is matched in the org (`state rebuild --force`). A job since removed from
        # sync.yaml is resumed as every mapping's (a superset; it clears every note).
        log.warning(
            "the rebuild of the lost state of %s begun %s has not finished (it stopped, or "
            "it is running now: then this run stops on its lock): resuming it first",
            f"job {noted}" if noted is not None else "every mapping",
            since,
        )
        result = rebuild_state(
            settings, job=noted if known else None, progress=progress, force=True
        )
        results.append(result)
        if result.exit_code() == 1:
            return results
    covered = None in under_way or (job in under_way)
    if not never_sent or covered:
        return results
    found = (probe or _Probe(settings)).lost_mapping(project, job)
    if found is None:
        return results
    log.warning(
        "the state holds no record, but the org holds records of %s: the state "
        "was lost, or the org was loaded before; rebuilding it from the org first (as "
        "`sis-sync state rebuild`; nothing is written to Salesforce by it)",
        found,
    )
    note_rebuilding(settings.state.url, job, settings.clock())
    # It clears the note once it went through (rebuild.py); stopped, the note stays.
    results.append(rebuild_state(settings, job=job, progress=progress, force=bool(results)))
    return results


class _Probe:
    """The lost-state check: which object of ``job``'s person mappings holds records in the
    org. Its log-in is kept for the run that follows (:func:`run_recovering`): one log-in a
    run, and the check's query counted among the run's API calls."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.client: SalesforceClient | None = None

    def lost_mapping(self, project: Project, job: str | None) -> str | None:
        """:func:`org_holds_records` for ``job``, or None — also when Salesforce cannot be
        asked (the run meets that failure itself and records it: status, /healthz)."""
        _, names = job_mappings(self.settings, project, job)
        if not any(project.mappings[n].identity is not None for n in names):
            return None  # no person mapping: nothing to ask, no log-in
        try:
            client = SalesforceClient(self.settings.salesforce)
            found = org_holds_records(self.settings, project, names, client)
        except SalesforceError as exc:
            log.debug("lost-state check skipped: %s", exc)
            return None
        self.client = client
        return found


def lost_state_note(settings: Settings, *, job: str | None = None) -> str | None:
    """What ``sis-sync plan`` says of a lost state, which ``sis-sync run`` would rebuild
    first (a plan writes nothing, state included, so it plans without that rebuild): None
    when the run would not rebuild. Asks the org only on a state that never sent anything."""
    never_sent, under_way = recovery_facts(settings.state.url)
    if under_way:
        jobs = ", ".join(sorted(f"job {j}" if j else "every mapping" for j in under_way))
        return (
            f"the rebuild of the lost state of {jobs} has not finished: `sis-sync run` resumes "
            "it first; this plan is made on the half-rebuilt state"
        )
    if not never_sent:
        return None
    found = _Probe(settings).lost_mapping(load_project(settings.mappings), job)
    if found is None:
        return None
    return (
        f"the state holds no record, but the org holds records of {found}: the state "
        "was lost (or the org was loaded before). `sis-sync run` rebuilds it from the org "
        "first (as `sis-sync state rebuild`; nothing written to Salesforce by it) and then "
        "sends only what differs; this plan, made without that rebuild, shows the records "
        "as if sent for the first time"
    )


def run_recovering(
    settings: Settings,
    *,
    job: str | None = None,
    progress: Progress | None = None,
    project: Project | None = None,
    rebuilt: Callable[[RebuildResult], None] | None = None,
) -> RunReport:
    """``run_job``, after :func:`rebuild_if_lost`; ``rebuilt`` sees each rebuild's result.

    A rebuild that stopped (the daily API share, Salesforce gone, the lock) is the run's
    outcome: its report is returned and nothing is synced on the half-rebuilt state (the next
    run resumes the rebuild)."""
    probe = _Probe(settings)
    for result in rebuild_if_lost(
        settings, job=job, progress=progress, project=project, probe=probe
    ):
        if rebuilt is not None:
            rebuilt(result)
        if result.exit_code() == 1:
            return result.report
    logged_in = probe.client
    return run_job(
        settings,
        job=job,
        progress=progress,
        project=project,
        # The check's log-in serves the run: one token, its query among the run's API calls.
        writer_factory=None if logged_in is None else lambda s: connect(s.salesforce, logged_in),
    )
