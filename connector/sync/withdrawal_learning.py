"""Before a job plans anything: what its later person mappings' rows withdraw.

A person's "nee" on an open-day form outweighs the older "ja" with its proof in the student
export (``connector/privacy/withdrawals.py``). The job maps students before registrants, so
without this the students mapping would plan against what state knew before the run, write the
older "ja", and only the next run would clear it — and ``sis-sync plan`` could never count
what the run does. So the job first reads every person mapping with consent purposes after the
first such one (the first's own rows are planned before anything else needs them) and learns,
in memory, what their rows state that state does not hold yet (rows recognised unchanged are
skipped: what they state is held). Nothing is written: a plan does the same. From it come

* the overlay the planner reads beside state (:meth:`Learnt.among`): the changed records'
  withdrawals, replacing what state holds of those records;
* the records of other mappings whose persons those records identify (``replan``): their rows
  are mapped again, not recognised as unchanged (``sync/map_stage.py``).

A real run records what it learnt before it plans (``sync/job.py``; this module only reads):
a learnt mapping's batches record nothing themselves — a record's earlier row, planned in an
earlier batch (the registrations of one visitor), would be recorded and then replaced by its
last row in every run, and each change would send the person's other records to be mapped
again. The first
mapping that states withdrawals records them as it plans them (``state/withdrawals.py``).
On a ``state rebuild`` nothing is recognised: every later mapping's withdrawals are learnt, so
no student is matched against an older "ja" a registrant's "nee" outweighs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from connector.clock import school_date
from connector.errors import InputError
from connector.privacy.withdrawals import stated_withdrawals
from connector.records import Reject, SourceRecord
from connector.sources import open_source
from connector.sources.plugin_calls import plugin_rows
from connector.state.withdrawals import KnownWithdrawal, Stated, merged
from connector.sync.batch_state import Learnt
from connector.sync.fingerprint import SourceHasher
from connector.sync.mapping_setup import mapping_policy
from connector.sync.row_order import newest_last
from connector.sync.run_context import RunContext

BATCH = 2_000  # rows whose source hashes are looked up at once
# Sources a run may read twice: files. A web service (``http``: incremental, paged) or a
# plugin is read once a run; what its rows withdraw reaches the earlier mappings' records at
# their next run (state forgets their rows: state/withdrawals.py).
FILES = frozenset({"csv", "jsonl", "oneroster"})


def learn_withdrawals(ctx: RunContext, names: Sequence[str]) -> Learnt:
    """Learn what the person mappings of ``names`` after the first state (module docstring).

    A source that cannot be read is left for its mapping's run, which reports it; one that is
    not a file is not read twice (:data:`FILES`).
    """
    learnt = Learnt()
    stating = [n for n in names if _states(ctx, n)]
    for name in stating[1:]:
        if ctx.project.mappings[name].source_kind not in FILES:
            continue  # read once a run (a web service, a plugin): learnt as it is planned
        try:
            found = _read(ctx, name)
        except InputError:
            continue
        learnt.stated[name] = []  # learnt: its batches record nothing (the job records these)
        held = ctx.store.stated_by(name, list(found))
        changed: list[Stated] = []
        for key, stated in found.items():
            new = merged(held.get(key, {}), stated, ctx.now)
            if new == held.get(key, {}):
                continue
            changed.append(stated)
            learnt.stated[name].append(stated)
            learnt.records[(name, key)] = [
                KnownWithdrawal(name, key, p, at, stated.student_hash, stated.email_hash, clocked)
                for p, (at, clocked) in new.items()
            ]
        students = [x.student_hash for x in changed if x.student_hash]
        emails = [x.email_hash for x in changed if x.email_hash]
        if students or emails:
            for mapping, key in ctx.store.records_of(students, emails, besides=name):
                learnt.replan.setdefault(mapping, set()).add(key)
    return learnt


def _states(ctx: RunContext, name: str) -> bool:
    """The mapping writes persons and rests on a consent purpose: its rows state withdrawals."""
    spec = ctx.project.mappings[name]
    if spec.identity is None:
        return False
    return bool(mapping_policy(spec, ctx.compiled[name], ctx.project.purposes).consent_purposes)


def _read(ctx: RunContext, name: str) -> dict[str, Stated]:
    """Key hash → what the record's last row states, for records whose last row is not one
    state recognises unchanged (tombstoned persons left out)."""
    spec = ctx.project.mappings[name]
    rows: Iterable[SourceRecord | Reject] = plugin_rows(
        open_source(spec.source, base_dir=ctx.base_dir)
    )
    if spec.newest_by is not None:
        rows = newest_last(rows, spec.newest_by)
    hasher = SourceHasher(ctx.hasher, ctx.project_digest, name)
    found: dict[str, Stated] = {}
    batch: list[SourceRecord] = []
    for rec in rows:
        if isinstance(rec, Reject) or rec.deleted:
            continue
        batch.append(rec)
        if len(batch) >= BATCH:
            _batch(ctx, name, batch, hasher, found)
            batch = []
    _batch(ctx, name, batch, hasher, found)
    if found and ctx.store.has_suppressions():
        erased = ctx.store.suppressed(
            [h for x in found.values() for h in (x.key_hash, x.student_hash, x.email_hash) if h]
        )
        found = {
            k: x
            for k, x in found.items()
            if not erased & {h for h in (x.key_hash, x.student_hash, x.email_hash) if h}
        }
    return found


def _batch(
    ctx: RunContext, name: str, batch: list[SourceRecord], hasher: SourceHasher,
    found: dict[str, Stated],
) -> None:  # fmt: skip
    if not batch:
        return
    compiled = ctx.compiled[name]
    sources = hasher.of_many(batch)
    known = ctx.store.unchanged_rows(name, sources, today=school_date(ctx.now))
    for rec, source_hash in zip(batch, sources, strict=True):
        hit = known.get(source_hash)
        if hit is not None:
            found.pop(hit[0], None)  # its last row so far is one state holds
            continue
        res = compiled.apply(rec)
        if res is None or res.errors or not res.key_hash:
            continue
        found.pop(res.key_hash, None)
        found[res.key_hash] = Stated(res.key_hash, *res.identity, stated_withdrawals(res.facts))
