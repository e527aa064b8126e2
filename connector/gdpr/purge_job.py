"""Running the retention purge: plan it (dry run) or delete under the run locks, then remember.

The rule and the plan are in :mod:`connector.privacy.retention`; the person graph and the
children-first deletion are erasure's (:mod:`connector.gdpr.erasure`). This module is the
``sis-sync purge`` service around them (state, locks, Salesforce, audit, outcome).

Order, and why: Salesforce first, then - only for what Salesforce confirmed gone - ``mark_deleted``
and one audit line per deleted record. A refused delete leaves the record live in state, so the
next purge finds it again; a person whose child was refused keeps their Contact (erasure's rule).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from connector.clock import school_date
from connector.errors import UsageError
from connector.gdpr.erasure import (
    PERSON_OBJECTS,
    ChildKeys,
    ErasureResult,
    Graph,
    GraphItem,
)
from connector.gdpr.erasure_job import erasure_locks, salesforce_writer
from connector.gdpr.field_minimise import MinimiseOutcome, apply_minimise, summarise
from connector.gdpr.field_minimise import counts as minimise_counts
from connector.gdpr.graph_batch import delete_many, read_graphs
from connector.gdpr.purge_plan import (
    Doomed,
    PurgePlan,
    audit_entries,
    expired_purposes,
    justified_children,
    mapping_rules,
    plan_purge,
)
from connector.hashing import KeyHasher
from connector.privacy.retention import MappingRule, is_expired, reason_of
from connector.state import RunStatus, StateStore, open_existing

EXAMPLES = 3  # Salesforce ids shown per group


@dataclass(slots=True)
class Group:
    """Records of one mapping and object deleted (or to delete) for one reason."""

    mapping: str
    object: str
    reason: str
    count: int = 0
    examples: list[str] = field(default_factory=list)
    until: date | None = None  # the latest day a purpose of the group's records ended


@dataclass(slots=True)
class PurgeOutcome:
    """What ``sis-sync purge`` found and did, for rendering (names, ids and counts only)."""

    on: date
    applied: bool
    groups: list[Group] = field(default_factory=list)
    persons: int = 0
    kept_persons: int = 0
    notes: dict[str, str] = field(default_factory=dict)
    deleted: int = 0
    already_gone: int = 0
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # object, sf_id, code
    run_id: int | None = None
    # Fields cleared on records that stay (art. 5(1)(c)): connector.gdpr.field_minimise.
    minimise: MinimiseOutcome = field(default_factory=MinimiseOutcome)
    report_path: str | None = None

    @property
    def exit_code(self) -> int:
        """0 done or planned; 1 Salesforce refused some deletes or clears."""
        return 1 if self.failed or self.minimise.failed else 0

    @property
    def total(self) -> int:
        """Records deleted (or to delete)."""
        return sum(g.count for g in self.groups)


def _item(d: Doomed) -> GraphItem:
    r = d.row
    return GraphItem(r.object, r.sf_id or "", r.mapping, r.mapping, r.key_hash)


def _add(groups: dict[tuple[str, str, str], Group], mapping: str, obj: str, d: Doomed | None,
         sf_id: str | None) -> None:  # fmt: skip
    # Grouped by purpose and anchor, not by each record's own date (the latest one is shown).
    rule = d.rule if d else "retention: with its person (nothing about them is justified)"
    g = groups.setdefault((mapping, obj, rule), Group(mapping, obj, rule))
    g.count += 1
    if d and d.until and (g.until is None or d.until > g.until):
        g.until = d.until
    if sf_id and len(g.examples) < EXAMPLES:
        g.examples.append(sf_id)


def _person_id(graph: Graph) -> int:
    assert graph.person is not None  # graphs are only built for known persons
    return graph.person.person_id


class _Purge:
    def __init__(self, settings: Any, store: StateStore, project: Any, on: date, **kw: Any):
        self.settings, self.store, self.project, self.on = settings, store, project, on
        self.hasher: KeyHasher | None = kw.get("hasher")
        self.writer_factory = kw.get("writer_factory") or salesforce_writer
        self.hard: bool = kw.get("hard", False)
        self.rules: dict[str, MappingRule] = mapping_rules(store, project)
        self._writer: Any = None

    @property
    def writer(self) -> Any:
        if self._writer is None:
            self._writer = self.writer_factory(self.settings)
        return self._writer

    def api_calls(self) -> int:
        """Salesforce API calls this purge made (graph reads, deletes, clears); 0 when it never
        connected (nothing to read or delete)."""
        return int(getattr(self._writer, "api_calls", 0)) if self._writer is not None else 0

    def _read(self, person_ids: list[int]) -> dict[int, Graph]:
        if self.hasher is None:
            raise UsageError("the purge of persons needs SIS_SYNC_SECRET (to read their graph)")
        compiled = {
            n: self.project.compile(n, hasher=self.hasher, today=self.on)
            for n in self.project.mappings
        }
        keys = ChildKeys(self.project, compiled, self.store)
        persons = self.store.get_persons(person_ids)
        # All persons' graphs in one read: API calls grow with query chunks, not persons.
        return read_graphs(self.store, self.writer, keys, list(persons.values()))

    def followers(self, plan: PurgePlan) -> list[Doomed]:
        """Children of persons who stay that follow their person (no anchor of their own) and
        whose every purpose expired with the person's: an ended student whose news consent
        holds keeps their Account, not their LearnerProgram (retention.py)."""
        if not plan.kept or not any(r.borrowed for r in self.rules.values()):
            return []
        out: list[Doomed] = []
        for graph in self._read(sorted(plan.kept)).values():
            gone = expired_purposes(graph.state_rows, self.rules, self.on)
            own = {r.key_hash for r in graph.state_rows}
            wanted: dict[str, dict[str, str]] = {}  # mapping → key hash → Salesforce id
            for i in graph.items:
                rule = self.rules.get(i.mapping or "")
                if rule and i.key_hash and i.key_hash not in own and rule.borrowed & gone:
                    wanted.setdefault(rule.name, {})[i.key_hash] = i.sf_id
            for mapping, ids in wanted.items():
                rule = self.rules[mapping]
                for key_hash, row in self.store.lookup(mapping, list(ids)).items():
                    expiries = rule.judge_with_person(row, self.on, gone)
                    if row.deleted_at is None and is_expired(expiries):
                        row = replace(row, sf_id=row.sf_id or ids[key_hash])
                        out.append(Doomed(row, reason_of(expiries),
                                          reason_of(expiries, dates=False), None))  # fmt: skip
        return out

    def graphs(self, plan: PurgePlan) -> list[tuple[Graph, dict[str, str]]]:
        """The graph of every person to purge whose Salesforce children are expired too; the
        children that follow a person who stays join ``plan.records`` (:meth:`followers`)."""
        plan.records.extend(self.followers(plan))
        if not plan.persons:
            return []
        found = self._read(list(plan.persons))
        children = [
            (i.mapping, i.key_hash)
            for g in found.values() for i in g.items if i.mapping and i.key_hash
        ]  # fmt: skip
        justified = justified_children(self.store, self.rules, children, self.on, person_goes=True)
        out = []
        for person_id, doomed in plan.persons.items():
            graph = found.get(person_id) or Graph(None)
            own = {r.key_hash for r in graph.state_rows}
            if any(
                i.mapping and i.key_hash and i.key_hash not in own
                and (i.mapping, i.key_hash) in justified
                for i in graph.items
            ):  # fmt: skip
                plan.kept_persons += 1
                continue
            out.append((graph, {d.row.sf_id: d.reason for d in doomed if d.row.sf_id}))
        return out

    def outcome(self, plan: PurgePlan, graphs, *, applied: bool) -> PurgeOutcome:
        groups: dict[tuple[str, str, str], Group] = {}
        in_graphs = {i.sf_id for g, _ in graphs for i in g.items}
        records = [d for d in plan.records if not d.row.sf_id or d.row.sf_id not in in_graphs]
        doomed = {d.row.sf_id: d for d in plan.records if d.row.sf_id}
        for r in records:
            _add(groups, r.row.mapping, r.row.object, r, r.row.sf_id)
        for graph, _ in graphs:
            person = {d.row.sf_id: d for d in plan.persons[_person_id(graph)] if d.row.sf_id}
            for i in graph.items:
                d = doomed.get(i.sf_id) or person.get(i.sf_id)
                _add(groups, i.mapping or i.via, i.object, d, i.sf_id)
        return PurgeOutcome(
            self.on, applied, sorted(groups.values(), key=lambda g: (g.object in PERSON_OBJECTS,
                                                                     g.mapping, g.reason)),
            len(graphs), plan.kept_persons, dict(plan.notes), minimise=summarise(plan.minimise),
        )  # fmt: skip

    def apply(self, plan: PurgePlan, graphs, out: PurgeOutcome) -> None:
        now = self.settings.clock()
        store = self.store
        out.run_id = run_id = store.start_run("purge", now)
        in_graphs = {i.sf_id for g, _ in graphs for i in g.items}
        records = [d for d in plan.records if not d.row.sf_id or d.row.sf_id not in in_graphs]
        reasons = {d.row.sf_id: d.reason for d in plan.records if d.row.sf_id}
        # Records never written to Salesforce (no id) have nothing to delete there.
        no_id = [d for d in records if not d.row.sf_id]
        for mapping in {d.row.mapping for d in no_id}:
            keys = [d.row.key_hash for d in no_id if d.row.mapping == mapping]
            store.mark_deleted(mapping, keys, at=now)
        items = sorted((_item(d) for d in records if d.row.sf_id),
                       key=lambda i: i.object in PERSON_OBJECTS)  # fmt: skip
        # One delete per object across every person (collections or Bulk 2.0), children first;
        # no Salesforce connection when there is nothing to delete.
        units = [items, *(graph.items for graph, _ in graphs)]
        results = delete_many(self.writer, units, hard=self.hard) if items or graphs else []
        # State and audit for all persons at once (a few statements, not a few per person).
        done = ErasureResult()
        owned: dict[str, str] = {}
        complete: dict[str, list[str]] = {}
        for result in results:
            done.deleted += result.deleted
            done.already_gone += result.already_gone
            done.failed += result.failed
        for (graph, own), result in zip(graphs, results[1:], strict=True):
            owned.update(own)
            if result.complete:
                for mapping, keys in graph.keys_by_mapping().items():
                    complete.setdefault(mapping, []).extend(keys)
        self._finish(done, {**owned, **reasons}, out, run_id)
        for mapping, keys in complete.items():
            store.mark_deleted(mapping, keys, at=now)
        # Records of other mappings referring to what was purged must be mapped again next run
        # (their parent is gone), not recognised as unchanged by their source hash.
        purged = {d.row.mapping for d in plan.records}
        purged.update(m for graph, _ in graphs for m in graph.keys_by_mapping())
        for name, spec in self.project.mappings.items():
            if purged.intersection(spec.parents()):
                store.forget_sources(name)
        if plan.minimise:  # the fields of records that stay (field_minimise.py)
            apply_minimise(self.writer, store, plan.minimise, out.minimise, now=now, run_id=run_id)
        status = RunStatus.PARTIAL if out.exit_code else RunStatus.OK
        counts = {"deleted": out.deleted, "already_gone": out.already_gone,
                  "failed": len(out.failed) + len(out.minimise.failed), "persons": out.persons,
                  **minimise_counts(out.minimise)}  # fmt: skip
        from connector.gdpr.purge_report import write_purge_report

        out.report_path = str(write_purge_report(out, self.settings.reports_dir(), now))
        store.finish_run(
            run_id, status=status, counts=counts, api_calls=self.api_calls(),
            report_path=out.report_path,
            finished_at=self.settings.clock(),
        )  # fmt: skip

    def _finish(self, result: ErasureResult, reasons, out: PurgeOutcome, run_id: int) -> None:
        now = self.settings.clock()
        gone = [*result.deleted, *result.already_gone]
        by_mapping: dict[str, list[str]] = {}
        for i in gone:
            if i.mapping and i.key_hash:
                by_mapping.setdefault(i.mapping, []).append(i.key_hash)
        for mapping, keys in by_mapping.items():
            self.store.mark_deleted(mapping, keys, at=now)
        self.store.add_audit(audit_entries(result.deleted, reasons, now=now, run_id=run_id))
        out.deleted += len(result.deleted)
        out.already_gone += len(result.already_gone)
        out.failed.extend((i.object, i.sf_id, code) for i, code in result.failed)


def run_purge(
    settings: Any,
    *,
    apply: bool = False,
    as_of: date | None = None,
    hasher: KeyHasher | None = None,
    writer_factory: Any = None,
    hard: bool = False,
) -> PurgeOutcome:
    """The ``sis-sync purge`` service: plan (dry run) or apply the retention purge.

    Args:
        settings: The loaded configuration (its clock is ``SIS_SYNC_NOW`` when set).
        apply: Delete; without it nothing is written anywhere (Salesforce is only queried, to
            read the graphs of persons to purge).
        as_of: Preview the purge on this date; with ``apply`` it must be today.
        hasher: The keyed hasher (to lead a person's children back to their mappings).
        writer_factory: Builds the Salesforce writer (default: connect to the configured org).
        hard: Bypass Salesforce's recycle bin.

    Raises:
        UsageError: ``apply`` with an ``as_of`` other than today (a future purge must not
            delete now).
    """
    from connector.mapping import load_project

    now = settings.clock()
    today = school_date(now)
    if apply and as_of is not None and as_of != today:
        raise UsageError(
            f"--as-of {as_of} only previews: --apply deletes as of today ({today}); "
            "drop --as-of or --apply"
        )
    on = as_of or today
    project = load_project(settings.mappings)
    store = open_existing(settings.state.url, create=apply)
    try:
        purge = _Purge(settings, store, project, on, hasher=hasher,
                       writer_factory=writer_factory, hard=hard)  # fmt: skip
        if not apply:
            plan = plan_purge(store, project, on)
            graphs = purge.graphs(plan)
            return purge.outcome(plan, graphs, applied=False)
        names = [*project.mappings, *(j.name for j in settings.jobs), "purge"]
        with erasure_locks(store, names):
            # Plan under the locks: what a sync changed since counts.
            plan = plan_purge(store, project, on)
            graphs = purge.graphs(plan)
            out = purge.outcome(plan, graphs, applied=True)
            purge.apply(plan, graphs, out)  # records a run even when nothing expired
            return out
    finally:
        store.close()


def summary(outcome: PurgeOutcome) -> dict[str, int]:
    """Counts per object (for logs and the service): names and numbers only."""
    counts: Counter[str] = Counter()
    for g in outcome.groups:
        counts[g.object] += g.count
    return dict(counts)
