"""Stage 1 of a batch: recognise the rows state remembers, map and policy-check the rest.

A row whose keyed source hash state remembers (and whose recheck day has not come) is not
mapped at all: it is what Salesforce holds (``fingerprint.py``) — unless an earlier row of the
same record in this run had other values, which then must be undone. Every other row goes
through the compiled mapping and the policy into an :class:`~connector.sync.plan.Item`.

The same record on several rows: the last row wins, as the newest in an export; an earlier
row with other values is reported with both lines (``duplicates: report``), within a batch
here and across batches through the run's :class:`~connector.sync.ledger.KeyLedger`.

The engine (``engine.py``) runs this stage, then loads the batch's state and plans it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date

from connector.mapping.compile import CompiledMapping
from connector.privacy.policy import Policy
from connector.records import Origin, Reject, SourceRecord
from connector.report import MappingReport
from connector.state import StateStore
from connector.sync.fingerprint import SourceHasher
from connector.sync.ledger import KeyLedger, Latest, mark
from connector.sync.plan import Item, Planner


@dataclass
class Mapped:
    """One batch after mapping, one entry per record (the last row of each wins).

    ``items``: records mapped this run; ``recognised``: key hash → record hash (token) of
    records whose last row state recognised unchanged; ``superseded``: earlier rows of a
    record (mapped, rememberable) that a later row replaced; ``lines``: key hash → line of
    the record's last row; ``present``: keys of rows the mapping rejected — still held by the
    source, so a full export must not count them as gone (``export_guard.py``); ``repeated``:
    keys of this batch that an earlier batch of the run had a row of.
    """

    items: dict[str, Item] = field(default_factory=dict)
    recognised: dict[str, str] = field(default_factory=dict)
    superseded: dict[str, list[Item]] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    present: list[str] = field(default_factory=list)
    repeated: frozenset[str] = frozenset()


def file_reject(
    rep: MappingReport, mapping: str, rejects: list[Reject], rej: Reject, *, count: bool = True
) -> None:
    """Keep a rejected row of ``mapping`` for state and report; ``count=False`` for a row's
    second error (a row counts once however many of its fields are wrong)."""
    rej = Reject(rej.origin, rej.column, rej.reason, mapping)
    rejects.append(rej)
    rep.add_reject(rej, count=count)


class MapStage:
    """Maps the batches of one mapping run (see the module docstring)."""

    def __init__(
        self,
        name: str,
        compiled: CompiledMapping,
        policy: Policy,
        planner: Planner,
        fingerprint: SourceHasher,
        store: StateStore,
        rep: MappingReport,
        *,
        remember_sources: bool,
        report_duplicates: bool,
        key_column: str,
        replan: Collection[str] = (),
    ):
        """``replan``: key hashes whose rows are mapped even when recognised unchanged (a
        later mapping of the job changed their person's withdrawals: withdrawal_learning.py)."""
        self.replan = replan
        self.name, self.compiled, self.policy = name, compiled, policy
        self.planner, self.fingerprint, self.store, self.rep = planner, fingerprint, store, rep
        self.remember_sources = remember_sources
        self.report_duplicates = report_duplicates
        self.key_column = key_column
        self.file = ""  # the source file rows come from (reports name it)

    def map(
        self, records: list[SourceRecord], today: date, rejects: list[Reject], ledger: KeyLedger
    ) -> Mapped:
        """Map and policy-check one batch; rejected rows go to ``rejects`` and the report."""
        if records:
            self.file = records[0].origin.file
        sources = self.fingerprint.of_many(records)
        known = self.store.unchanged_rows(self.name, sources, today=today) if sources else {}
        earlier = ledger.lookup([kt[0] for kt in known.values()]) if known else {}
        out = Mapped()
        lines, recognised = out.lines, out.recognised
        for rec, source_hash in zip(records, sources, strict=True):
            hit = known.get(source_hash)
            # Skip it, unless an earlier batch's row of the record had other values.
            seen = earlier.get(hit[0]) if hit is not None else None
            if (
                hit is not None
                and (seen is None or seen.mark == mark(hit[1]))
                and not (self.replan and hit[0] in self.replan)
            ):
                key_hash, token = hit
                if key_hash in lines:
                    self._supersede(out, key_hash, token, rec, rejects)
                else:  # the nightly's common case, inline: the record's first row here
                    lines[key_hash] = rec.line
                recognised[key_hash] = token
                continue
            item = self._map_one(out, rec, source_hash, today, rejects)
            if item is None:
                continue
            token = self.planner.outcome(item)[2]
            self._supersede(out, item.res.key_hash, token, rec, rejects)
            out.items[item.res.key_hash] = item
        self._earlier_batches(out, rejects, earlier, ledger)
        return out

    def _map_one(
        self, out: Mapped, rec: SourceRecord, source_hash: str, today: date, rejects: list[Reject]
    ) -> Item | None:
        res = self.compiled.apply(rec)
        if res is None:
            self.rep.filtered += 1
            return None
        if res.errors:
            if res.key_hash:
                out.present.append(res.key_hash)  # still in the source (export_guard.py)
            for err in res.errors:
                file_reject(self.rep, self.name, rejects, err, count=False)
            self.rep.rejected += 1
            return None
        for warning in res.warnings:
            self.rep.warnings[warning] += 1
        decision = self.policy.decide(res.values, res.facts, today)
        for reason in decision.withheld.values():
            self.rep.withheld[reason] += 1
        recheck = self.policy.recheck_on(res.facts, today)
        if res.recheck_on is not None and (recheck is None or res.recheck_on < recheck):
            recheck = res.recheck_on
        # A row whose mapping warned is mapped again next run, so the warning is reported
        # again until the source is fixed.
        remember = source_hash if self.remember_sources and not res.warnings else None
        return Item(rec, res, decision, remember, recheck)

    def _supersede(
        self, out: Mapped, key_hash: str, token: str, rec: SourceRecord, rejects: list[Reject]
    ) -> None:
        """A new row of ``key_hash`` arrives: what becomes of the earlier row of this batch."""
        line = rec.line
        old_line = out.lines.get(key_hash)
        out.lines[key_hash] = line
        if old_line is None:
            return
        old = out.items.pop(key_hash, None)
        old_token = out.recognised.pop(key_hash, None)
        if old is not None:
            old_token = self.planner.outcome(old)[2]
            if old.source_hash is not None:
                out.superseded.setdefault(key_hash, []).append(old)
        if old_token != token:
            self._duplicate_at(rejects, rec.origin.file, old_line, line)

    def _earlier_batches(
        self, out: Mapped, rejects: list[Reject], earlier: dict[str, Latest], ledger: KeyLedger
    ) -> None:
        """Rows of earlier batches that this batch's rows supersede with other values.

        ``earlier`` holds what the ledger said of the keys state recognised; the keys of
        mapped rows are looked up here (a nightly run maps few rows: one small query).
        """
        tokens = dict(out.recognised)
        mapped = {k: self.planner.outcome(it)[2] for k, it in out.items.items()}
        tokens.update(mapped)
        earlier = {k: v for k, v in earlier.items() if k in tokens}
        if mapped:
            earlier.update(ledger.lookup([k for k in mapped if k not in earlier]))
        out.repeated = frozenset(earlier)
        for key_hash, (old_line, old_mark) in earlier.items():
            if old_mark != mark(tokens[key_hash]):
                self._duplicate_at(rejects, self.file, old_line, out.lines[key_hash])
        ledger.store(tokens, out.lines)

    def _duplicate_at(self, rejects: list[Reject], file: str, old_line: int, line: int) -> None:
        """Report a superseded row: its line is not used; the record is the later line's."""
        if self.report_duplicates:
            reason = f"duplicate key: superseded by line {line}, which has other values"
            rej = Reject(Origin(file, old_line), self.key_column, reason)
            file_reject(self.rep, self.name, rejects, rej)
