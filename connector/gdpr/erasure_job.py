"""Running an erasure: find the person, show the graph (dry run) or erase it under the run locks.

The graph and the deletion itself are in :mod:`connector.gdpr.erasure`; this module is the
``sis-sync erase`` service around them (state, locks, Salesforce connection, request, outcome).

With ``--apply`` every erasure is a data-subject request (:mod:`connector.gdpr.requests`), and
the order is what makes a failure safe (GDPR art. 17, 12(3)):

1. the request is recorded (open, due in one month) and the tombstones of what local state
   knows are written, before anything in Salesforce: a sync after this point cannot send the
   person again, even if Salesforce is down and nothing else happens today;
2. the person is found in local state or, when state does not know them (a lost state), in
   Salesforce by the person mappings' external ids and e-mail fields
   (:mod:`connector.gdpr.person_lookup`); what is found there is tombstoned as well: the keys
   of the records and the identifiers they hold (the e-mail address on a Contact found by
   student number and the other way round, as keyed hashes), so no later sync sends the
   person again by an identifier the request did not name;
3. the graph is deleted children first; then local state forgets the person;
4. the request is done and gets its receipt, or stays open with the cause as a code (Salesforce
   unreachable: exit 3; some deletes refused: exit 1) and the next ``run`` or ``serve`` tick
   tries again (:mod:`connector.gdpr.erasure_retry`).
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from connector.clock import school_date
from connector.errors import RunError, SalesforceUnreachable
from connector.gdpr import requests as dsr
from connector.gdpr.erasure import (
    REASON,
    ChildKeys,
    ErasureResult,
    Graph,
    GraphItem,
    Subject,
    apply_erasure,
    find_person,
    person_graph,
)
from connector.gdpr.person_lookup import FoundRecord, Probe, find_in_salesforce, probes_for
from connector.gdpr.receipts import Receipt
from connector.hashing import KeyHasher
from connector.state import PersonRow, StateStore, open_existing


def suppress_only(store: StateStore, subject: Subject, *, now: datetime) -> int:
    """Add the subject's identity tombstones without deleting anything; return how many.

    For a person who objects before ever being synced: no later run sends them.
    """
    for h, kind in subject.hashes:
        store.add_suppression(h, kind, REASON, now)
    return len(subject.hashes)


def run_lock_names(settings: Any) -> list[str]:
    """The names a sync may hold locks under: every job and every mapping file's name.

    Read from the folder, not from a loaded project: a tombstone must be addable while a
    mapping file is broken (mid-edit), and a run that is going holds exactly these names.
    """
    files = sorted(Path(settings.mappings).glob("*.y*ml"))
    stems = [p.stem for p in files if p.name != "purposes.yaml"]
    return [*stems, *(j.name for j in settings.jobs)]


@contextlib.contextmanager
def erasure_locks(store: StateStore, names: Iterable[str]) -> Iterator[None]:
    """Hold the run lock of every job and mapping name (and ``erase``) for the erasure.

    A sync that read the person before the erasure and wrote them after it would undo it, so
    no sync may run meanwhile; the locks are tried, not waited for (LockedError at once).
    """
    with contextlib.ExitStack() as stack:
        for name in sorted({"erase", "all", *names}):
            stack.enter_context(store.lock(name))
        yield


def require_complete(result: ErasureResult) -> None:
    """Raise RunError (exit 1) naming the refused records by object, id and error code."""
    if result.failed:
        detail = ", ".join(f"{i.object} {i.sf_id}: {code}" for i, code in result.failed)
        raise RunError(
            f"erasure incomplete, Salesforce refused {len(result.failed)} deletes ({detail}); "
            "local state is kept: run erase again to finish"
        )


@dataclass(slots=True)
class ErasureOutcome:
    """What ``sis-sync erase`` found and did, for rendering (hashes and ids only).

    ``status``: ``planned`` (dry run), ``erased``, ``incomplete`` (Salesforce refused some
    deletes), ``open`` (Salesforce could not be reached: tombstones written, request open),
    ``not_found`` (nobody in local state or Salesforce), ``already_erased`` (nobody, but the
    tombstones exist), ``suppressed`` (``--suppress-only``).
    """

    status: str
    subject: Subject
    graph: Graph | None = None
    tombstones: list[tuple[str, str]] = field(default_factory=list)
    result: ErasureResult | None = None
    request: dsr.Request | None = None
    cause: str = ""

    @property
    def exit_code(self) -> int:
        """0 done or planned; 1 nobody found or the erasure is incomplete; 3 unreachable."""
        if self.status == "open":
            return 3
        return 1 if self.status in ("not_found", "incomplete") else 0


def salesforce_writer(settings: Any) -> Any:
    """A writer on the configured org (authenticates now: refused credentials are exit 2)."""
    from connector.salesforce import connect

    return connect(settings.salesforce)


@dataclass(slots=True)
class ErasureContext:
    """What every attempt of an erasure needs: settings, state, project, compiled mappings."""

    settings: Any
    store: StateStore
    project: Any
    compiled: dict[str, Any]
    now: datetime
    hasher: KeyHasher
    hard: bool = False

    @classmethod
    def load(cls, settings: Any, store: StateStore, *, hasher: KeyHasher, hard: bool = False):
        """Load the project and compile its mappings for ``store``."""
        from connector.mapping import load_project

        now = settings.clock()
        project = load_project(settings.mappings)
        compiled = {
            n: project.compile(n, hasher=hasher, today=school_date(now)) for n in project.mappings
        }
        return cls(settings, store, project, compiled, now, hasher, hard)

    @property
    def lock_names(self) -> list[str]:
        """Every mapping and job name (the run locks an erasure holds)."""
        return [*self.project.mappings, *(j.name for j in self.settings.jobs)]


# -- the Salesforce look-up of a person local state does not know ----------------------------


def stored_probes(probes: Sequence[Probe]) -> list[tuple[str, str]]:
    """(hash, kind) of the probes a request may keep: generated external ids (keyed hashes),
    so a retry can still look the person up in Salesforce; raw values are never stored."""
    return [(p.value, f"probe:{p.by}:{p.object}.{p.field}") for p in probes if p.hashed]


def probes_of(request: dsr.Request) -> list[Probe]:
    """The probes a request kept (see :func:`stored_probes`)."""
    out = []
    for kind, h in request.subject:
        if kind.startswith("probe:"):
            _, by, where = kind.split(":", 2)
            obj, _, fld = where.partition(".")
            out.append(Probe((), obj, fld, h, by, hashed=True))
    return out


def found_graph(
    store: StateStore, writer: Any, keys: ChildKeys, found: Sequence[FoundRecord]
) -> tuple[Graph, list[tuple[str, str]]]:
    """The graph of person records found in Salesforce (children first, then the records),
    and (hash, kind) of every mapping key and identifier those records carry, for the
    tombstones (:attr:`~connector.gdpr.person_lookup.FoundRecord.identities`)."""
    graph = Graph(None)
    seen: set[str] = set()
    own: list[GraphItem] = []
    extra: list[tuple[str, str]] = []
    for rec in found:
        # Not in local state: a person row that only names the Salesforce record leads
        # person_graph to its Tasks, Events and CampaignMembers (queryAll, archived too).
        ghost = PersonRow(-1, rec.sf_id, None, None, None, None)
        for item in person_graph(store, writer, keys, ghost).items:
            if item.sf_id not in seen and item.sf_id != rec.sf_id:
                seen.add(item.sf_id)
                graph.items.append(item)
        mapping, key_hash = rec.keys[0] if rec.keys else (None, None)
        own.append(GraphItem(rec.object, rec.sf_id, f"Salesforce {rec.via}", mapping, key_hash))
        extra.extend((kh, "key") for _, kh in rec.keys)
        extra.extend(rec.identities)
    graph.items.extend(i for i in own if i.sf_id not in seen)
    return graph, extra


def _counts(items: Iterable[GraphItem]) -> dict[str, int]:
    return dict(Counter(i.object for i in items))


def erasure_receipt(graph: Graph, result: ErasureResult, tombstones: Sequence[tuple[str, str]]):
    """The receipt of a completed erasure: objects and counts, never an id or hash."""
    return Receipt(
        action="removed",
        records=_counts(result.deleted),
        already_gone=_counts(result.already_gone),
        tombstones=dict(Counter(k for _, k in tombstones)),
        forgotten=result.forgotten,
    )


def local_tombstones(
    store: StateStore, subject: Subject, person: PersonRow | None
) -> list[tuple[str, str]]:
    """(hash, kind) of the tombstones local state alone can name: the subject's identity
    hashes, the person's and the keys of the records state links to them."""
    graph = Graph(person)
    if person is not None:
        graph.state_rows = store.person_records(person.person_id)
    return graph.tombstones(subject)


def add_tombstones(store: StateStore, tombstones: Iterable[tuple[str, str]], now: datetime):
    """Write tombstones (adding one twice is harmless)."""
    for h, kind in tombstones:
        store.add_suppression(h, kind, REASON, now)


def attempt(
    ctx: ErasureContext,
    writer: Any,
    request: dsr.Request,
    subject: Subject,
    probes: Sequence[Probe],
) -> ErasureOutcome:
    """One attempt at an open erasure request, under the caller's erasure locks.

    Finds the person (local state, else Salesforce), deletes the graph, forgets local state and
    finishes the request with its receipt; or leaves it open with the cause as a code.
    Raises SalesforceUnreachable (the request noted) and UsageError (an ambiguous e-mail).
    """
    store, now = ctx.store, ctx.now
    try:
        person = find_person(store, subject)
        keys = ChildKeys(ctx.project, ctx.compiled, store)
        extra: list[tuple[str, str]] = []
        if person is not None:
            graph = person_graph(store, writer, keys, person)
        else:
            found = (
                find_in_salesforce(
                    writer, probes, project=ctx.project, compiled=ctx.compiled, hasher=ctx.hasher
                )
                if probes
                else []
            )
            if not found:
                return _nobody(ctx, request, subject)
            graph, extra = found_graph(store, writer, keys, found)
        add_tombstones(store, extra, now)  # before the deletes, like every tombstone
        result = apply_erasure(store, writer, graph, subject, now=now, hard=ctx.hard)
    except SalesforceUnreachable as exc:
        dsr.note_attempt(store, request, error=exc.code or "UNREACHABLE")
        raise
    tombstones = list(dict([*graph.tombstones(subject), *extra]).items())
    unreachable = getattr(getattr(writer, "client", None), "unreachable", None)
    if result.failed and isinstance(unreachable, SalesforceUnreachable):
        request = dsr.note_attempt(store, request, error=unreachable.code or "UNREACHABLE")
        return ErasureOutcome("open", subject, graph, tombstones, result, request,
                              unreachable.cause)  # fmt: skip
    if result.failed:
        request = dsr.note_attempt(store, request, error=result.failed[0][1])
        return ErasureOutcome("incomplete", subject, graph, tombstones, result, request)
    receipt = erasure_receipt(graph, result, tombstones)
    request = dsr.finish(
        store, request, receipt=receipt, now=now, folder=dsr.receipts_dir(ctx.settings)
    )
    return ErasureOutcome("erased", subject, graph, tombstones, result, request)


def _nobody(ctx: ErasureContext, request: dsr.Request, subject: Subject) -> ErasureOutcome:
    """Nobody in local state or Salesforce: already erased (tombstoned earlier), else not found."""
    hashes = [h for h, _ in subject.hashes]
    if set(hashes) <= ctx.store.suppressed(hashes):
        receipt = Receipt(notes=("The person had been erased before: nothing was left to remove.",))
        folder = dsr.receipts_dir(ctx.settings)
        request = dsr.finish(ctx.store, request, receipt=receipt, now=ctx.now, folder=folder)
        return ErasureOutcome("already_erased", subject, request=request)
    request = dsr.fail(ctx.store, request, error="NOT_FOUND", now=ctx.now)
    return ErasureOutcome("not_found", subject, request=request)


def erase_person(
    settings: Any,
    subject: Subject,
    *,
    apply: bool = False,
    hard: bool = False,
    only_suppress: bool = False,
    hasher: KeyHasher,
    writer_factory: Any = None,
    student_number: str | None = None,
    email: str | None = None,
) -> ErasureOutcome:
    """The ``sis-sync erase`` service: find, show (dry run) or erase one person.

    Args:
        settings: The loaded configuration.
        subject: From :func:`subject_of`.
        apply: Act (a request with a reference and receipt); without it nothing is written
            anywhere (Salesforce is only queried).
        hard: Bypass Salesforce's recycle bin.
        only_suppress: Add the identity tombstones only (no Salesforce call, no forgetting).
        hasher: The keyed hasher (to lead mapped external ids back to key hashes).
        writer_factory: Builds the Salesforce writer (default :func:`salesforce_writer`).
        student_number: The identifier as given (memory only): to look the person up in
            Salesforce when local state does not know them.
        email: Likewise.
    """
    now = settings.clock()
    store = open_existing(settings.state.url, create=apply)
    try:
        if only_suppress:
            return _suppress_only(settings, store, subject, apply=apply, now=now)
        ctx = ErasureContext.load(settings, store, hasher=hasher, hard=hard)
        person = find_person(store, subject)  # an ambiguous e-mail: exit 2, nothing written
        probes = probes_for(ctx.project, ctx.compiled, student_number=student_number, email=email)
        if not apply:
            return _dry_run(ctx, subject, person, probes, writer_factory)
        with erasure_locks(store, ctx.lock_names):
            request = dsr.find_open(store, "erase", subject.hashes) or dsr.open_request(
                store, "erase", [*subject.hashes, *stored_probes(probes)], now=now,
                folder=dsr.receipts_dir(settings),
            )  # fmt: skip
            # Before anything in Salesforce: what local state knows is suppressed from now on.
            tombstones = local_tombstones(store, subject, person)
            if person is not None:
                add_tombstones(store, tombstones, now)
            try:
                writer = (writer_factory or salesforce_writer)(settings)
                return attempt(ctx, writer, request, subject, probes)
            except SalesforceUnreachable as exc:
                # Suppress the person even when nobody knows them yet: they asked to be erased.
                add_tombstones(store, tombstones, now)
                if store.get_request(request.id).attempts == request.attempts:
                    request = dsr.note_attempt(store, request, error=exc.code or "UNREACHABLE")
                return ErasureOutcome(
                    "open", subject, None, tombstones,
                    request=store.get_request(request.id), cause=exc.cause,
                )  # fmt: skip
    finally:
        store.close()


def _dry_run(
    ctx: ErasureContext,
    subject: Subject,
    person: PersonRow | None,
    probes: Sequence[Probe],
    writer_factory: Any,
) -> ErasureOutcome:
    """Show the graph (Salesforce is queried, nothing is written)."""
    hashes = [h for h, _ in subject.hashes]
    if person is None and not probes:
        done = set(hashes) <= ctx.store.suppressed(hashes)
        return ErasureOutcome("already_erased" if done else "not_found", subject)
    writer = (writer_factory or salesforce_writer)(ctx.settings)
    keys = ChildKeys(ctx.project, ctx.compiled, ctx.store)
    if person is not None:
        graph = person_graph(ctx.store, writer, keys, person)
        return ErasureOutcome("planned", subject, graph, graph.tombstones(subject))
    found = find_in_salesforce(
        writer, probes, project=ctx.project, compiled=ctx.compiled, hasher=ctx.hasher
    )
    if not found:
        done = set(hashes) <= ctx.store.suppressed(hashes)
        return ErasureOutcome("already_erased" if done else "not_found", subject)
    graph, extra = found_graph(ctx.store, writer, keys, found)
    tombstones = list(dict([*graph.tombstones(subject), *extra]).items())
    return ErasureOutcome("planned", subject, graph, tombstones)


def _suppress_only(
    settings: Any, store: StateStore, subject: Subject, *, apply: bool, now: datetime
) -> ErasureOutcome:
    if not apply:
        return ErasureOutcome("planned", subject, tombstones=subject.hashes)
    # The locks of every job and mapping, as for a full erasure: a run that read the person
    # before the tombstone must not record them (and their source hash, which the tombstone
    # clears) after it.
    with erasure_locks(store, run_lock_names(settings)):
        suppress_only(store, subject, now=now)
        receipt = Receipt(
            tombstones=dict(Counter(k for _, k in subject.hashes)),
            notes=("Suppression only: the person is kept out of every later sync; "
                   "nothing was deleted.",),
        )  # fmt: skip
        request = dsr.record_done(
            store, "erase", subject.hashes, receipt=receipt, now=now,
            folder=dsr.receipts_dir(settings),
        )  # fmt: skip
    return ErasureOutcome("suppressed", subject, tombstones=subject.hashes, request=request)
