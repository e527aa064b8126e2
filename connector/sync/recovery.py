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
partly lost one).

A rebuild that has not gone through for a mapping (killed, the daily API share, its export
missing) is noted in state (``meta``, one note a mapping); the run does not sync on the
half-rebuilt state, and the next run of a job holding that mapping resumes it first, keeping
what it recorded. A run also resumes the noted person mappings of other jobs that write the
objects its own person mappings write (their people are its people: the F5 duplicate again);
one whose export is missing cannot be rebuilt, and is warned about instead of holding the job
up (a shipped mapping a school does not use has no export at all). A mapping's note goes when
a rebuild of it goes through, whoever ran it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

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


PersonIds = dict[str, list[tuple[str, str]]]  # object → (person mapping, its external id)


def person_ids(project: Project, names: Sequence[str]) -> PersonIds:
    """The external ids of the person mappings of ``names``, by object. Only persons: they are
    what state matches across mappings (a record of any other object is an upsert by its own
    external id, duplicated by nothing)."""
    ids: PersonIds = {}
    for name in names:
        spec = project.mappings[name]
        if spec.identity is not None:
            ids.setdefault(spec.target.object, []).append((name, spec.target.external_id))
    return ids


def org_holds_records(client: SalesforceClient, ids: PersonIds) -> str | None:
    """The first object of ``ids`` that holds a record carrying one of its external ids (one
    query an object), named with its mappings — "Contact (mappings students, registrants)" —
    or None."""
    for obj, named in ids.items():
        held = " OR ".join(sorted({f"{ext} != null" for _, ext in named}))
        # Names from the validated mappings; no value is in the query.
        soql = f"SELECT Id FROM {obj} WHERE {held} LIMIT 1"  # noqa: S608
        body = client.json("GET", "query", params={"q": soql}) or {}
        if body.get("records"):
            return f"{obj} (mappings {', '.join(n for n, _ in named)})"
    return None


@dataclass
class Recovery:
    """What :func:`rebuild_if_lost` did: the rebuilds, in order, and the one that ends the run
    when the job's state is not rebuilt (it stopped, or an export is missing), if any."""

    rebuilt: list[RebuildResult] = field(default_factory=list)
    stopped: RebuildResult | None = None


def rebuild_if_lost(
    settings: Settings,
    *,
    job: str | None = None,
    progress: Progress | None = None,
    project: Project | None = None,
    probe: _Probe | None = None,
) -> Recovery:
    """Before ``job`` syncs: resume the rebuilds of a lost state that did not go through for
    its mappings and the person mappings that share its people's objects, or rebuild its
    state from the org when state never sent anything and the org holds records of its person
    mappings (the module docstring)."""
    require_secret(settings)  # a run refuses to start without it: before any request
    never_sent, under_way = recovery_facts(settings.state.url)
    if not never_sent and not under_way:
        return Recovery()
    project = project or load_project(settings.mappings)
    _, names = job_mappings(settings, project, job)
    noted = _noted(project, under_way)
    out = Recovery()
    for other in _related(project, names, noted):
        # Another mapping's rebuild stopped half-way, and its people are this job's too: a
        # row of this job matched on its half-rebuilt state could give one of them a second
        # Contact (the F5 duplicate). Its records are matched first.
        _warn_resuming(f"mapping {other}", noted[other])
        result = rebuild_state(settings, job=other, progress=progress, force=True)
        out.rebuilt.append(result)
        if result.exit_code() == 2:
            # Its export is missing: it cannot be rebuilt now, and not holding up this job is
            # the lesser harm (a shipped mapping a school does not use has no export at all).
            log.warning(
                "the rebuild of mapping %s cannot resume: %s. Until it can, a person of its "
                "records who is also in job %s may get a second record; a mapping not in use "
                "can be removed from the project",
                other,
                result.report.input_cause() or "its input is not usable",
                job or "all",
            )
        elif result.exit_code() == 1:
            out.stopped = result
            return out
    pending = [n for n in names if n in noted]
    if not pending:
        if not never_sent:
            return out
        found = (probe or _Probe(settings)).lost_mapping(project, job)
        if found is None:
            return out
        log.warning(
            "the state holds no record, but the org holds records of %s: the state "
            "was lost, or the org was loaded before; rebuilding it from the org first (as "
            "`sis-sync state rebuild`; nothing is written to Salesforce by it)",
            found,
        )
        note_rebuilding(settings.state.url, names, settings.clock())
    else:
        # Killed or stopped half-way (a kill, the daily API share, an export missing): what it
        # recorded is kept, the rest is matched in the org (`state rebuild --force`).
        _warn_resuming(f"job {job or 'all'}", min(noted[n] for n in pending))
    # Each mapping's note goes once its rebuild went through (rebuild.py); the others stay.
    result = rebuild_state(settings, job=job, progress=progress, force=bool(pending or out.rebuilt))
    out.rebuilt.append(result)
    if result.exit_code() != 0:
        out.stopped = result  # nothing is synced on the job's half-rebuilt state
    return out


def _noted(project: Project, under_way: Mapping[str | None, str]) -> dict[str, str]:
    """The mappings whose rebuild is under way → since when; an earlier version's note
    (None) is every mapping's."""
    noted = {n: v for n, v in under_way.items() if n is not None}
    if None in under_way:
        noted = dict.fromkeys(project.mappings, under_way[None]) | noted
    return noted


def _related(project: Project, names: Sequence[str], noted: Mapping[str, str]) -> list[str]:
    """The noted mappings outside ``names`` that are person mappings writing an object one of
    ``names``' person mappings writes (their people are matched across mappings)."""
    specs = project.mappings
    objects = set(person_ids(project, names))
    return sorted(
        n
        for n in noted
        if n in specs
        and n not in names
        and specs[n].identity is not None
        and specs[n].target.object in objects
    )


def _warn_resuming(whose: str, since: str) -> None:
    log.warning(
        "the rebuild of the lost state of %s begun %s has not gone through (it stopped, its "
        "export was missing, or it is running now: then this run stops on its lock): resuming "
        "it first",
        whose,
        since,
    )


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
        ids = person_ids(project, job_mappings(self.settings, project, job)[1])
        if not ids:
            return None  # no person mapping: nothing to ask, no log-in
        try:
            client = SalesforceClient(self.settings.salesforce)
            found = org_holds_records(client, ids)
        except SalesforceError as exc:
            log.debug("lost-state check skipped: %s", exc)
            return None
        self.client = client
        return found


def lost_state_note(settings: Settings, *, job: str | None = None) -> str | None:
    """What ``sis-sync plan`` says of a state that ``sis-sync run`` may rebuild first (a plan
    writes nothing, state included, and asks Salesforce nothing, so it plans without that
    rebuild): a half-rebuilt one, which the run resumes; a state that never sent anything,
    which the run rebuilds when the org holds the job's people (a lost state). None otherwise,
    and for a job without person mappings."""
    never_sent, under_way = recovery_facts(settings.state.url)
    if not never_sent and not under_way:
        return None
    project = load_project(settings.mappings)
    _, names = job_mappings(settings, project, job)
    noted = _noted(project, under_way)
    resumed = [n for n in names if n in noted] + _related(project, names, noted)
    if resumed:
        return (
            f"the rebuild of the lost state of {', '.join(resumed)} has not gone through: "
            "`sis-sync run` resumes it first; this plan is made on the half-rebuilt state"
        )
    if not never_sent or not person_ids(project, names):
        return None
    return (
        "the state has never sent anything. If the org already holds this job's people (the "
        "state was lost, or the org was loaded before), `sis-sync run` first rebuilds the "
        "state from the org (as `sis-sync state rebuild`; nothing written to Salesforce by "
        "it) and then sends only what differs, not what this plan shows"
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
    done = rebuild_if_lost(settings, job=job, progress=progress, project=project, probe=probe)
    for result in done.rebuilt:
        if rebuilt is not None:
            rebuilt(result)
    if done.stopped is not None:
        # The job's state is not rebuilt (a rebuild stopped, or an export is missing): nothing
        # is synced on it; the next run resumes the rebuild.
        return done.stopped.report
    logged_in = probe.client
    return run_job(
        settings,
        job=job,
        progress=progress,
        project=project,
        # The check's log-in serves the run: one token, its query among the run's API calls.
        writer_factory=None if logged_in is None else lambda s: connect(s.salesforce, logged_in),
    )
