"""Running an erasure: find the person, show the graph (dry run) or erase it under the run locks.

The graph and the deletion itself are in :mod:`connector.gdpr.erasure`; this module is the
``sis-sync erase`` service around them (state, locks, Salesforce connection, outcome).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from connector.clock import school_date
from connector.errors import RunError
from connector.gdpr.erasure import (
    REASON,
    ChildKeys,
    ErasureResult,
    Graph,
    Subject,
    apply_erasure,
    find_person,
    person_graph,
)
from connector.hashing import KeyHasher
from connector.state import StateStore, open_existing


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
    deletes), ``not_found`` (nobody in local state), ``already_erased`` (nobody, but the
    tombstones exist), ``suppressed`` (``--suppress-only``).
    """

    status: str
    subject: Subject
    graph: Graph | None = None
    tombstones: list[tuple[str, str]] = field(default_factory=list)
    result: ErasureResult | None = None

    @property
    def exit_code(self) -> int:
        """0 done or planned; 1 nobody found or the erasure is incomplete."""
        return 1 if self.status in ("not_found", "incomplete") else 0


def salesforce_writer(settings: Any) -> Any:
    """A writer on the configured org (authenticates now: refused credentials are exit 2)."""
    from connector.salesforce import connect

    return connect(settings.salesforce)


def erase_person(
    settings: Any,
    subject: Subject,
    *,
    apply: bool = False,
    hard: bool = False,
    only_suppress: bool = False,
    hasher: KeyHasher,
    writer_factory: Any = None,
) -> ErasureOutcome:
    """The ``sis-sync erase`` service: find, show (dry run) or erase one person.

    Args:
        settings: The loaded configuration.
        subject: From :func:`subject_of`.
        apply: Act; without it nothing is written anywhere (Salesforce is only queried).
        hard: Bypass Salesforce's recycle bin.
        only_suppress: Add the identity tombstones only (no Salesforce call, no forgetting).
        hasher: The keyed hasher (to lead mapped external ids back to key hashes).
        writer_factory: Builds the Salesforce writer (default :func:`salesforce_writer`).
    """
    from connector.mapping import load_project

    now = settings.clock()
    store = open_existing(settings.state.url, create=apply)
    try:
        if only_suppress:
            if apply:
                # The locks of every job and mapping, as for a full erasure: a run that read
                # the person before the tombstone must not record them (and their source
                # hash, which the tombstone clears) after it.
                with erasure_locks(store, run_lock_names(settings)):
                    suppress_only(store, subject, now=now)
            return ErasureOutcome("suppressed" if apply else "planned", subject,
                                  tombstones=subject.hashes)  # fmt: skip
        project = load_project(settings.mappings)
        names = [*project.mappings, *(j.name for j in settings.jobs)]
        person = find_person(store, subject)
        if person is None:
            done = {h for h, _ in subject.hashes} <= store.suppressed(
                [h for h, _ in subject.hashes]
            )
            return ErasureOutcome("already_erased" if done else "not_found", subject)
        compiled = {
            n: project.compile(n, hasher=hasher, today=school_date(now)) for n in project.mappings
        }
        writer = (writer_factory or salesforce_writer)(settings)
        keys = ChildKeys(project, compiled, store)
        if not apply:
            graph = person_graph(store, writer, keys, person)
            return ErasureOutcome("planned", subject, graph, graph.tombstones(subject))
        with erasure_locks(store, names):
            # Read the graph again under the locks: a sync that ran since the look-up counts.
            person = find_person(store, subject)
            if person is None:
                return ErasureOutcome("already_erased", subject)
            graph = person_graph(store, writer, keys, person)
            result = apply_erasure(store, writer, graph, subject, now=now, hard=hard)
        status = "erased" if result.complete else "incomplete"
        return ErasureOutcome(status, subject, graph, graph.tombstones(subject), result)
    finally:
        store.close()
