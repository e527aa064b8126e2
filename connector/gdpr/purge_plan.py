"""Finding what the retention purge deletes or clears, in local state (the rule itself is pure,
in :mod:`connector.privacy.retention`; the purge run is :mod:`connector.gdpr.purge_job`).

Besides whole records and persons, the plan lists the records that stay but hold fields no
unexpired purpose justifies (:class:`Minimise`, GDPR art. 5(1)(c)); the purge clears those in
Salesforce (:mod:`connector.gdpr.field_minimise`). Records of a full export that left it count
from their ``last_seen`` (:func:`connector.state.anchors.export_mark`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from connector.privacy.retention import (
    Expiry,
    MappingRule,
    expired_fields,
    is_expired,
    loose_cutoff,
    reason_of,
)
from connector.state import AuditEntry, StateStore, SyncedRow
from connector.state.anchors import export_mark


def expired_candidates(
    rule: MappingRule, store: StateStore, on: date, purposes: list[str] | None = None
) -> Iterator[list[SyncedRow]]:
    """Batches of live records expired under the driving purpose(s) (or ``purposes``), read in
    full. A record that left its full export is a candidate of a lifecycle_end purpose too."""
    seen: set[str] = set()
    for purpose in rule.drivers() if purposes is None else purposes:
        retention = rule.purposes[purpose].retention
        assert retention is not None  # drivers() only returns purposes with retention
        cutoff = loose_cutoff(on, retention.duration)
        queries = [store.expired(rule.name, retention.after, cutoff, purpose=purpose)]
        if rule.left_before is not None and retention.after in ("lifecycle_end", "last_seen"):
            # Left the export before the last guarded full export: ended when last seen.
            gone = min(cutoff, rule.left_before)
            queries.append(store.expired(rule.name, "last_seen", gone, purpose=purpose))
        for query in queries:
            for batch in query:
                keys = [r.key_hash for r in batch if r.key_hash not in seen]
                seen.update(keys)
                rows = store.lookup(rule.name, keys)
                yield [rows[k] for k in keys if k in rows]


def mapping_rules(store: StateStore, project: Any) -> dict[str, MappingRule]:
    """The retention rule of every mapping, with the time of its last guarded full export."""
    out = {}
    for name, spec in project.mappings.items():
        mark = export_mark(store, name)
        out[name] = MappingRule(
            name, spec, project.purposes.purposes, mark.at if mark is not None else None
        )
    return out


@dataclass(slots=True)
class Doomed:
    """One record the purge deletes, with its reason."""

    row: SyncedRow
    reason: str
    rule: str
    until: date | None


@dataclass(slots=True)
class Minimise:
    """A record that stays, with the fields the purge clears (art. 5(1)(c)) and why."""

    row: SyncedRow
    fields: list[str]
    reason: str


@dataclass(slots=True)
class PurgePlan:
    """What a purge on ``on`` deletes: records of child mappings and whole persons."""

    on: date
    records: list[Doomed] = field(default_factory=list)
    persons: dict[int, list[Doomed]] = field(default_factory=dict)
    kept_persons: int = 0
    notes: dict[str, str] = field(default_factory=dict)
    minimise: list[Minimise] = field(default_factory=list)
    # Persons who stay although a purpose of theirs expired: children that follow them may go.
    kept: set[int] = field(default_factory=set)


def plan_purge(store: StateStore, project: Any, on: date) -> PurgePlan:
    """Find what has expired on ``on`` (reads local state only).

    Args:
        store: The state store.
        project: The loaded mapping project (``load_project``).
        on: The purge date: records whose every purpose ended before it are expired.
    """
    rules = mapping_rules(store, project)
    plan = PurgePlan(on)
    candidates: dict[int, list[Doomed]] = {}
    for name, rule in rules.items():
        why = rule.never_expires()
        if why:
            plan.notes[name] = why
            continue
        for rows in expired_candidates(rule, store, on):
            for row in rows:
                expiries = rule.judge(row, on)
                if not is_expired(expiries):
                    continue
                doomed = Doomed(
                    row,
                    reason_of(expiries),
                    reason_of(expiries, dates=False),
                    max((e.expires_on for e in expiries if e.expires_on), default=None),
                )
                if rule.is_person and row.person_id is not None:
                    candidates.setdefault(row.person_id, []).append(doomed)
                else:
                    plan.records.append(doomed)
    for person_id, records in candidates.items():
        if _nothing_justified(store.person_records(person_id), rules, on):
            plan.persons[person_id] = records
        else:
            plan.kept_persons += 1
            plan.kept.add(person_id)
    plan.minimise = plan_minimise(store, rules, on)
    plan.kept.update(
        m.row.person_id
        for m in plan.minimise
        if m.row.person_id is not None and rules[m.row.mapping].is_person
    )
    return plan


def expired_purposes(
    rows: Sequence[SyncedRow], rules: Mapping[str, MappingRule], on: date
) -> frozenset[str]:
    """The purposes expired on every live record of one person that names them: a child record
    that follows its person loses them (:meth:`MappingRule.judge_with_person`)."""
    named: dict[str, bool] = {}
    for row in rows:
        rule = rules.get(row.mapping)
        if row.deleted_at is not None or rule is None:
            continue
        for e in rule.judge(row, on):
            named[e.purpose] = named.get(e.purpose, True) and e.expired
    return frozenset(p for p, gone in named.items() if gone)


def _field_reason(fields: list[str], expiries: list[Expiry]) -> str:
    done = "; ".join(e.reason for e in expiries if e.expired)
    return f"retention: fields {', '.join(fields)} cleared ({done})"


def plan_minimise(store: StateStore, rules: Mapping[str, MappingRule], on: date) -> list[Minimise]:
    """Records that stay although some of their fields are no longer justified (reads state).

    Candidates are the records an expired purpose with a retention could leave fields on.
    A record that goes as a whole (:meth:`MappingRule.fields_to_clear`) is not among them —
    unless another mapping's live record is the same Salesforce record (a student who came to
    an open day: one Contact, written by two mappings), which then stays: its fields no purpose
    of its own justifies are cleared. Either way a field the other mapping still justifies
    stays: the Contact of a student whose enrolment ended keeps the e-mail address their
    registration still needs.
    """
    found: list[tuple[SyncedRow, list[str], list[Expiry]]] = []
    whole: list[tuple[SyncedRow, list[Expiry]]] = []
    for rule in rules.values():
        minimisers = rule.minimisers()
        if not minimisers:
            continue
        for rows in expired_candidates(rule, store, on, minimisers):
            for row in rows:
                if row.sf_id is None:
                    continue  # never reached Salesforce: nothing to clear there
                fields, expiries = rule.fields_to_clear(row, on)
                if fields:
                    found.append((row, fields, expiries))
                elif is_expired(expiries):
                    whole.append((row, expiries))
    rows = [r for r, _, _ in found] + [r for r, _ in whole]
    held, alive = _held_by_others(store, rules, rows, on)
    for row, expiries in whole:
        if (row.sf_id, row.mapping) in alive:  # the record stays for the other mapping
            rule = rules[row.mapping]
            fields = expired_fields(row, expiries, rule.field_purposes, rule.protected)
            found.append((row, fields, expiries))
    out: list[Minimise] = []
    for row, fields, expiries in found:
        others = held.get((row.sf_id or "", row.mapping), set())
        if kept := [f for f in fields if f not in others]:
            out.append(Minimise(row, kept, _field_reason(kept, expiries)))
    return out


def _held_by_others(
    store: StateStore, rules: Mapping[str, MappingRule], rows: Sequence[SyncedRow], on: date
) -> tuple[dict[tuple[str, str], set[str]], set[tuple[str | None, str]]]:
    """For each (Salesforce Id, mapping) of ``rows``: the fields of that record other mappings
    still justify, and whether another mapping's record there is not expired as a whole."""
    ids = [r.sf_id for r in rows if r.sf_id]
    others: dict[str, list[tuple[str, frozenset[str], bool]]] = {}
    for other in store.sharing(ids) if ids else []:
        rule = rules.get(other.mapping)
        if rule is not None and other.sf_id:
            live = bool(rule.never_expires()) or not is_expired(rule.judge(other, on))
            entry = (other.mapping, rule.still_justified(other, on), live)
            others.setdefault(other.sf_id, []).append(entry)
    held: dict[tuple[str, str], set[str]] = {}
    alive: set[tuple[str | None, str]] = set()
    for r in rows:
        for mapping, fields, live in others.get(r.sf_id or "", []):
            if mapping != r.mapping:
                held.setdefault((r.sf_id or "", r.mapping), set()).update(fields)
                if live:
                    alive.add((r.sf_id, r.mapping))
    return held, alive


def _nothing_justified(rows: Sequence[SyncedRow], rules: Mapping[str, MappingRule], on: date):
    for row in rows:
        if row.deleted_at is not None:
            continue
        rule = rules.get(row.mapping)
        if rule is None or rule.never_expires() or not is_expired(rule.judge(row, on)):
            return False
    return True


def child_still_justified(
    store: StateStore, rules: Mapping[str, MappingRule], mapping: str, key_hash: str, on: date
) -> bool:
    """Whether a child record a mapping wrote (found in a person's graph) is still justified."""
    return bool(justified_children(store, rules, [(mapping, key_hash)], on))


def justified_children(
    store: StateStore,
    rules: Mapping[str, MappingRule],
    children: Sequence[tuple[str, str]],
    on: date,
    *,
    person_goes: bool = False,
) -> set[tuple[str, str]]:
    """The (mapping, key hash) pairs of ``children`` still justified: one look-up per mapping.

    ``person_goes``: the children are in the graph of a person the purge deletes; a purpose
    anchored on what the child's mapping never sets (a LearnerProgram has no lifecycle end of
    its own) follows the person and does not keep them
    (:meth:`~connector.privacy.retention.MappingRule.judge_with_person`)."""
    wanted: dict[str, list[str]] = {}
    for mapping, key_hash in children:
        wanted.setdefault(mapping, []).append(key_hash)
    out: set[tuple[str, str]] = set()
    for mapping, keys in wanted.items():
        rule = rules.get(mapping)
        for key_hash, row in store.lookup(mapping, list(dict.fromkeys(keys))).items():
            if row.deleted_at is not None:
                continue
            if (
                rule is None
                or rule.never_expires() is not None
                or not is_expired(
                    rule.judge_with_person(row, on) if person_goes else rule.judge(row, on)
                )
            ):
                out.add((mapping, key_hash))
    return out


def audit_entries(items: Sequence[Any], reasons: Mapping[str, str], *, now: datetime, run_id=None):
    """Audit lines (action ``purge``) for deleted graph items; ``reasons`` by Salesforce id."""
    return [
        AuditEntry(
            "purge",
            i.object,
            i.sf_id,
            reasons.get(i.sf_id, "retention: with its person (nothing about them justified)"),
            now,
            "",
            run_id,
        )
        for i in items
    ]
