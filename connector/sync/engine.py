"""One sync run: every mapping of a job, parents first, in typed stages per batch.

A source is read in batches of ``BATCH`` rows. Each batch goes through:

1. **map** (:class:`~connector.sync.map_stage.MapStage`): a row whose keyed source hash state
   remembers is recognised without mapping (``fingerprint.py``); every other row is mapped
   and policy-checked into an :class:`~connector.sync.plan.Item`;
2. **load** (:meth:`BatchState.load`): every state read the batch needs, a few indexed queries;
3. **plan** (:meth:`Planner.plan`, pure): writes, unchanged records, suppressions, rejects;
4. **write** (:class:`~connector.sync.write_stage.WriteStage` over the
   :class:`~connector.salesforce.writer.Writer`): buffered per mapping; up to the bulk
   threshold (default 2,000 changed records per object and run) through sObject Collections
   when the mapping ends, above it as Bulk API 2.0 jobs of ``bulk_chunk`` records that
   Salesforce processes while the next batches are mapped;
5. **record** (:class:`~connector.sync.recorder.Recorder`): the only code that writes state.

Rows whose student number another record holds (in state, or a key read earlier in the run) wait
for the end of a OneRoster source, which may still mark that record deleted, and are planned once
more then (``held_rows.py``).

Crash safety: every write is an upsert by external id (or an update by Salesforce Id for a
known person), so a replay cannot duplicate; the outbox row of each write moves NEW → SENT →
OK | FAILED; a record's field hashes change in state only after Salesforce accepted it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import date
from functools import partial
from itertools import islice

from connector.clock import school_date
from connector.errors import (
    InputError,
    SalesforceError,
)
from connector.mapping.checks import columns_read
from connector.plan_examples import shown_fields
from connector.records import Origin, Reject, SourceRecord, WriteResult
from connector.report import MappingReport
from connector.salesforce.existing import existing_ids
from connector.sources import open_source
from connector.sources.base import Source
from connector.sources.plugin_calls import plugin_call, plugin_rows
from connector.state.anchors import export_mark
from connector.state.rows import SourceSeen
from connector.sync.batch_state import BatchState
from connector.sync.crm_opt_outs import OPT_OUT_CONFLICT, read_crm_opt_outs
from connector.sync.export_guard import DELETES, export_ratio, guard_warning, is_full_export
from connector.sync.fingerprint import SourceHasher
from connector.sync.held_rows import HeldRows
from connector.sync.ledger import KeyLedger
from connector.sync.map_stage import Mapped, MapStage, file_reject
from connector.sync.mapping_setup import consent_stage, mapping_policy, record_type_id
from connector.sync.plan import Item, Planner
from connector.sync.recorder import REFUSED, Recorder
from connector.sync.row_order import newest_last
from connector.sync.run_context import RunContext, WriteProgress
from connector.sync.write_stage import WriteStage

log = logging.getLogger(__name__)


BATCH = 2_000
EMPTY_EXPORT = "the export holds no rows (empty or header only): nothing was changed"


def _batches(it: Iterator[SourceRecord | Reject], size: int) -> Iterator[list]:
    while batch := list(islice(it, size)):
        yield batch


class MappingRun:
    """Runs one mapping: reads, plans and writes its records, and records the outcome."""

    def __init__(self, ctx: RunContext, name: str):
        self.ctx, self.name = ctx, name
        self.spec = ctx.project.mappings[name]
        self.compiled = ctx.compiled[name]
        self.rep = MappingReport(name, self.spec.target.object)
        ctx.report.mappings[name] = self.rep
        self.policy = mapping_policy(self.spec, self.compiled, ctx.project.purposes)
        self.planner = Planner(
            name,
            self.spec,
            ctx.compiled,
            ctx.hasher,
            planned=ctx.planned,
            now=ctx.now,
            check_suppressions=ctx.store.has_suppressions(),
            policy=self.policy,
            check_objections=ctx.store.has_objections(),
            check_withdrawals=ctx.store.has_withdrawals(),
        )
        self.planner.org_asked = ctx.writer is not None  # a plan asks the org nothing
        self.recorder = (
            None
            if ctx.dry_run
            else Recorder(
                ctx.store, name, self.spec.target.object, ctx.report.run_id or 0, ctx.now, self.rep
            )
        )
        self.mapper = MapStage(
            name, self.compiled, self.policy, self.planner,
            SourceHasher(ctx.hasher, ctx.project_digest, name), ctx.store, self.rep,
            remember_sources=ctx.remember_sources,
            report_duplicates=self.spec.duplicates == "report",
            key_column=",".join(self.spec.key_columns),
            replan=ctx.learnt.replan.get(name, frozenset()),
        )  # fmt: skip
        self.shown = shown_fields(ctx.project, name) if ctx.dry_run else frozenset[str]()
        self.ledger: KeyLedger | None = None
        self.held = HeldRows(deletes=self.spec.source_kind in DELETES)
        self.source_full: bool | None = None  # what the source said it read (export_guard.py)
        self.bad_rows = 0  # rows without a usable key (rejected by the source)
        progress = ctx.progress
        self.writes_told = progress if isinstance(progress, WriteProgress) else None
        self.writes = WriteStage(
            ctx, name, self.spec, self.rep, self.recorder, self.shown, self.writes_told
        )
        self.consents = consent_stage(ctx, name, self.spec, self.policy, self.rep, self.writes_told)
        if self.consents is not None and self.recorder is not None:
            self.recorder.not_landed = self.consents.not_landed
            self.consents.refused = self._consents_refused

    # -- the run ------------------------------------------------------------------------------

    def execute(self) -> MappingReport:
        """Sync this mapping. Input errors stop it before any write; the rest is counted."""
        ctx = self.ctx
        try:
            source = open_source(self.spec.source, base_dir=ctx.base_dir)
            plugin_call(source, source.check)
            read = columns_read(self.spec, ctx.project.purposes)
            plugin_call(source, partial(source.require_columns, read))
        except InputError as exc:
            self.rep.error = str(exc)
            self.rep.input_error = True
            return self.rep
        if ctx.report.stopped:
            self._count_pending(source)
            return self.rep
        self.planner.record_type_id, error = record_type_id(ctx, self.spec)
        if error is not None:
            self.rep.error = error
            return self.rep
        self.ledger = KeyLedger()
        try:
            try:
                self._read(source, school_date(ctx.now))
            except InputError as exc:
                if self.rep.read or self.bad_rows:
                    raise
                # Before its first row: a file that changed since check() and is now unusable
                # (a column gone, a bad byte) stops this mapping as check() would have, and
                # the job's other mappings run (no export mark moves: nothing was read).
                self.rep.error = str(exc)
                self.rep.input_error = True
                return self.rep
            self.source_full = source.holds_everything()
            if self.recorder is not None:
                self.recorder.flush_seen()
            self.writes.flush()
            if self.consents is not None:
                # The Contacts first (consents point at them), one job at a time: a chunk of
                # consents whose Contacts are recorded is written while the next job's are.
                while True:
                    if not ctx.report.stopped:
                        self.consents.flush(self.writes.blocked)
                    if not self.writes.in_flight:
                        break
                    self.writes.collect_oldest()
                self.consents.finish(stopped=bool(ctx.report.stopped))
        finally:
            if self.consents is not None:
                self.consents.close()  # a chunk still in its worker: waited for, recorded
            self.ledger.close()
            self.writes.close()
        self._close_export()
        return self.rep

    def _consents_refused(self, refused: Sequence[tuple[str, str, WriteResult]]) -> None:
        """File the consent records Salesforce refused as rejects at their person's row (the
        line the ledger holds for the key), as the recorder files the mapping's own: a
        ``state rebuild`` lists them and ``status`` shows them with file, line and fields."""
        assert self.ledger is not None
        assert self.recorder is not None
        lines = self.ledger.lookup([key for key, _, _ in refused])
        rejects = []
        for key, name, r in refused:
            line = lines[key][0] if key in lines else 0
            reason = REFUSED.format(code=r.error_code or "UNKNOWN")
            rej = Reject(Origin(self.mapper.file, line), ",".join(r.fields), reason, name)
            rejects.append(rej)
            if name in self.ctx.report.mappings:
                self.ctx.report.mappings[name].add_refusal(rej)
        self.recorder.rejects(rejects)

    def _close_export(self) -> None:
        """A full export read to its end: past the size guard, records it no longer holds
        count as gone (retention anchors, issue 9.6); else the run warns (export_guard.py)."""
        rep, ctx = self.rep, self.ctx
        if self.recorder is None or rep.error or ctx.report.stopped:
            return
        if not is_full_export(self.spec, self.source_full):
            return
        rows = rep.read + self.bad_rows
        if rows == 0:
            return  # EMPTY_EXPORT warned: an empty export never moves an anchor
        mark = export_mark(ctx.store, self.name)
        ratio = export_ratio(self.spec, ctx.min_export_ratio)
        warning = guard_warning(rows, mark.rows if mark else None, ratio)
        if warning is not None:
            rep.warnings[warning] += 1
            return
        self.recorder.export_complete(rows)

    def _read(self, source: Source, today: date) -> None:
        rows = 0
        read = plugin_rows(source)
        if self.spec.newest_by is not None:  # a record's newest row last (row_order.py)
            read = newest_last(read, self.spec.newest_by)
        for batch in _batches(read, BATCH):
            rows += len(batch)
            self._batch(batch, today)
        if held := self.held.release():
            # Every deletion of the file is known now (held_rows.py): plan the held rows again.
            rejects: list[Reject] = []
            lines = {it.res.key_hash: it.rec.line for it in held}
            self._plan(Mapped({it.res.key_hash: it for it in held}, lines=lines), rejects)
            if self.recorder is not None:
                self.recorder.rejects(rejects)
        if rows == 0:
            # A header-only or empty export is a warning, never a reason to change anything.
            self.rep.warnings[EMPTY_EXPORT] += 1

    def _batch(self, batch: list[SourceRecord | Reject], today: date) -> None:
        """One batch through the stages (the module docstring): map, load, plan, write."""
        rejects: list[Reject] = []
        records = [r for r in batch if not isinstance(r, Reject) and not r.deleted]
        bad = 0
        after: list[SourceRecord] = []  # deletions below a row of the batch
        if len(records) != len(batch):  # rare: ragged rows, empty keys, delta deletes
            rows = False
            for rec in batch:
                if isinstance(rec, Reject):
                    self._reject(rejects, rec)
                    bad += 1
                elif not rec.deleted:
                    rows = True
                elif rows:
                    after.append(rec)
                else:
                    self._source_deleted(rec)
        self.rep.read += len(batch) - bad
        self.bad_rows += bad
        assert self.ledger is not None
        mapped = self.mapper.map(records, today, rejects, self.ledger)
        self._plan(mapped, rejects)
        for rec in after:
            # The file's order decides, whatever the batch size: a row above a deletion is
            # planned while the deleted record is still live (a row whose number it holds is
            # held, and planned again at the end: held_rows.py); a deletion that a later row
            # of its record lists again is undone by that row.
            self._source_deleted(rec, listed_below=mapped.lines)
        log.debug(
            "%s: %d read, %d buffered for writing, %d unchanged, %d rejected so far",
            self.name, self.rep.read, len(self.writes.buffer), self.rep.unchanged,
            self.rep.rejected,
        )  # fmt: skip
        if self.ctx.progress:
            self.ctx.progress(self.name, self.rep.read)
        if self.recorder is not None:
            self.recorder.rejects(rejects)
        self.writes.collect(wait=False)

    def _source_deleted(
        self, rec: SourceRecord, listed_below: Mapping[str, int] | None = None
    ) -> None:
        """OneRoster ``tobedeleted``: the record's lifecycle ends (lifecycle_end retention),
        unless ``listed_below`` (key hash → line of its last row in the batch) holds it at a
        later line."""
        self.rep.source_deleted += 1
        res = self.compiled.apply(rec)
        if res is None or not res.key_hash:
            return
        if listed_below is None or listed_below.get(res.key_hash, 0) < rec.line:
            self.writes.land(res.key_hash)  # its own write first: state must know it
            self.held.delete(res.key_hash, rec.line)
            if self.recorder is not None:
                self.recorder.source_deleted([res.key_hash])

    def _count_pending(self, source: Source) -> None:
        """The run stopped (daily API share) before this mapping: it all waits for the next run."""
        keys: set[str] = set()
        for rec in source.read():
            if isinstance(rec, Reject):
                continue  # reported when the mapping really runs
            self.rep.read += 1
            res = None if rec.deleted else self.compiled.apply(rec)
            if res is not None and not res.errors:
                keys.add(res.key_hash)
        self.rep.pending += len(keys)

    def _reject(self, rejects: list[Reject], rej: Reject) -> None:
        file_reject(self.rep, self.name, rejects, rej)

    # -- planning -------------------------------------------------------------------------------

    def _plan(self, mapped: Mapped, rejects: list[Reject]) -> None:
        items = list(mapped.items.values())
        recognised = list(mapped.recognised)
        if self.spec.source_kind in DELETES:
            # Held again after a `tobedeleted` (above a row of it in this batch, or in an
            # earlier run): live for this batch's plan, its end anchored in state lifted.
            revived = self.held.revived(mapped.lines)
            if revived and self.recorder is not None:
                self.recorder.revive(revived)
        query = self.planner.query(items)
        # A record or person still on its way to Salesforce: planned once it is recorded.
        self.writes.settle(
            mapped.items.keys() | mapped.recognised.keys(), [*query.students, *query.emails]
        )
        state = BatchState.load(self.ctx.store, query, self.ctx.withheld, self.ctx.learnt)
        if self.ctx.dry_run:
            state = state.with_planned(self.ctx.planned_persons)
        if query.holders:
            # One student number, one record (PersonRules.taken): the keys that claimed this
            # batch's numbers earlier in the run, and the lines the run read the records
            # holding them in state on (a duplicate is reported with both lines).
            assert self.ledger is not None
            holders = sorted({k for keys in state.holders.values() for k in keys})
            lines = {k: latest.line for k, latest in self.ledger.lookup(holders).items()}
            state = replace(
                state,
                holders=self.held.live(state.holders),
                holder_lines=lines,
                claimed=self.held.claims(self.ledger.claims(query.students)),
            )
        wanted = self.planner.opt_out_check(items, state)
        if wanted and self.ctx.writer is not None:
            # A row opts in again where the CRM may hold the opt-out: read it (crm_opt_outs.py).
            found = read_crm_opt_outs(self.ctx.writer, self.spec.target.object, wanted)
            state = replace(state, crm_opt_outs=found)
        match = self.planner.match_values(items, state)
        if match and self.ctx.writer is not None:
            # target.mode update_only / insert_only: which unknown external ids the org holds
            # (modes.py says why this is a query and not an upsert).
            target = self.spec.target
            try:
                exists = existing_ids(
                    self.ctx.writer.query, target.object, target.external_id, match
                )
            except SalesforceError as exc:
                self.rep.error = f"looking up existing records failed: {exc}"
                self.rep.pending += len(items)
                return
            state = replace(state, existing=exists)
        plan = self.planner.plan(items, state)
        self._count_decided_again(items, plan.items)
        if plan.numbers:
            assert self.ledger is not None
            self.ledger.claim([(n, k, line) for n, (k, line) in plan.numbers.items()])
        for origin, column, reason in plan.conflicts:
            conflict = Reject(origin, column, reason, self.name)
            rejects.append(conflict)  # listed by `sis-sync rejects`; the record is written
            self.rep.add_conflict(conflict)
            self.rep.warnings[f"{OPT_OUT_CONFLICT}: {column} (see sis-sync rejects)"] += 1
        if plan.lifted:
            self.rep.warnings["opt-outs lifted by a newer opt-in (opt_in_lifts_opt_out)"] += (
                plan.lifted
            )
        if self.ctx.dry_run:
            for w in plan.writes:
                if w.new_person is not None:
                    self.ctx.planned_persons.add(*w.new_person)
        self.rep.suppressed += plan.suppressed
        self.rep.joined += plan.joined
        self.rep.not_justified += plan.not_justified
        self.ctx.withheld.note(self.name, plan.withheld, (w.key_hash for w in plan.writes))
        self.rep.left_alone.update(plan.mode_skipped)
        for origin, column, reason in plan.rejects:
            self._reject(rejects, Reject(origin, column, reason))
        self.held.superseded(mapped.lines)  # the batch's records (mapped or recognised)
        for it, taken in plan.held:
            if not self.held.hold(it):
                self._reject(rejects, Reject(it.rec.origin, taken.column, taken.reason))
        for origin, candidates in plan.review:
            self.rep.review += 1
            if len(self.rep.review_list) < 50:
                self.rep.review_list.append(
                    {
                        "file": origin.file,
                        "line": origin.line,
                        "reason": f"e-mail matches {candidates} persons",
                    }
                )
        if self.consents is not None:
            accepted = {w.key_hash for w in plan.writes} | {u.key_hash for u in plan.unchanged}
            if mapped.repeated:  # the last row of a record wins, its consents too
                self.consents.supersede(
                    k for k in mapped.repeated if k in accepted or k in mapped.recognised
                )
            # plan.items: decided with the person's objection (art. 21), as the Contact was.
            held = self.consents.add(plan.items, accepted, school_date(self.ctx.now))
            if held:
                plan.unchanged = self.consents.defer(plan.writes, plan.unchanged, held)
        self.rep.unchanged += len(plan.unchanged) + len(recognised)
        self.rep.skipped += len(recognised)
        # A later row equal to what Salesforce holds supersedes an earlier row of the same
        # record still waiting in the buffer: the newest row wins, and it needs no write.
        self.writes.drop(recognised)
        self.writes.drop(seen.key_hash for seen in plan.unchanged)
        if self.recorder is not None:
            self.recorder.unchanged(
                recognised, [*plan.unchanged, *self._alike(mapped, plan.unchanged)]
            )
            if self.name not in self.ctx.learnt.stated:  # learnt: recorded before the plan
                self.recorder.withdrawals(plan.stated)
            # Held by the source, neither written nor unchanged (not justified, purged, review,
            # rejected): last_seen moves too, or a full export would count them as gone.
            settled = {w.key_hash for w in plan.writes}
            settled.update(u.key_hash for u in plan.unchanged)
            present = [*mapped.present, *(k for k in mapped.items if k not in settled)]
            self.recorder.present(present)
        # A later row of a record still waiting in the buffer replaces it: both were planned
        # against the same state, so the later one is the whole change.
        self.writes.add(plan.writes)
        if self.consents is not None:
            self.consents.flush(self.writes.blocked)
        if self.writes.to_bulk() and self.consents is not None:
            # A large run: whether the org models consent is asked now, not after the
            # first chunk of entries was collected for an org that has no model.
            self.consents.ask_org()
        self.writes.send_full()

    def _count_decided_again(self, mapped: Sequence[Item], planned: Sequence[Item]) -> None:
        """The report's withheld reasons for the rows the planner decided again (an objection,
        another record's withdrawal): theirs, not the map stage's first decision's."""
        withheld = self.rep.withheld
        for before, after in zip(mapped, planned, strict=True):
            if after.decision is before.decision:
                continue
            withheld.subtract(before.decision.withheld.values())
            withheld.update(after.decision.withheld.values())
        for reason in [r for r, n in withheld.items() if n <= 0]:
            del withheld[reason]

    def _alike(self, mapped: Mapped, unchanged: list[SourceSeen]) -> list[SourceSeen]:
        """Superseded rows of records that ended unchanged and that map to the same outcome:
        they stand for the record as well as its last row does (the other registration rows of
        one event), so the next run recognises them too."""
        if not mapped.superseded:
            return []
        tokens = dict(mapped.recognised)
        tokens.update((seen.key_hash, seen.token) for seen in unchanged if seen.token)
        return [
            SourceSeen(key, it.source_hash, it.recheck_on, token)
            for key, rows in mapped.superseded.items()
            if (token := tokens.get(key)) is not None
            for it in rows
            if self.planner.outcome(it)[2] == token
        ]
