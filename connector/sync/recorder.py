"""The only code of a run that writes state: outbox, synced records, persons, source rows, rejects.

The engine plans (pure) and the writer talks to Salesforce; whatever either learnt reaches the
state store through a :class:`Recorder`, one per mapping run. Crash safety rests on its order:
an outbox row is written SENT before its write leaves; a record's field hashes
change only after Salesforce accepted the write; what did not land is planned again next run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from connector.records import Reject, WriteResult, WriteStatus
from connector.report import MappingReport
from connector.state import StateStore, anchors
from connector.state.rows import (
    RECORD,
    NewPerson,
    OutboxError,
    OutboxItem,
    OutboxStatus,
    PersonUpdate,
    SourceSeen,
    SyncedUpdate,
)
from connector.state.withdrawals import Stated
from connector.sync.plan import Write

# Salesforce's refusals are stored beside source rejects, so `status` and the run's JSON list
# every one with file, line and field; the reason is the error code, never the message (it may
# quote a value).
REFUSED = "salesforce refused: {code}"
SLICE = 2_000  # writes recorded per transaction
# Recognised records whose last_seen moves in one transaction: a nightly run recognises nearly
# every row, and a commit per 2,000-row batch cost more than the statements (~1.5 ms each).
# Each transaction rewrites most pages of the mapping's part of `seen` (keys come in file order,
# which is random in the key-hash order of the b-tree): 50,000 keys (~4 MB held) in one pass
# cost 0.06 s CPU where five passes of 10,000 cost 0.14 s (49,500 keys, state of a 50k nightly).
SEEN_EVERY = 50_000


class Recorder:
    """Writes what one mapping run learnt into state (nothing, for a dry run).

    Args:
        store: The state store.
        mapping: The mapping's name.
        obj: Its Salesforce object.
        run_id: The run (outbox and rejects are filed under it).
        now: The run's clock.
        report: The mapping's report: counts are kept as results are recorded.
    """

    def __init__(
        self,
        store: StateStore,
        mapping: str,
        obj: str,
        run_id: int,
        now: datetime,
        report: MappingReport,
    ):
        self.store, self.mapping, self.obj = store, mapping, obj
        self.run_id, self.now, self.rep = run_id, now, report
        self._seen: list[str] = []  # key hashes whose last_seen moves at the next flush_seen
        # Told the key hashes of writes that did not land (failed, not sent): the consent
        # stage then never remembers their rows (ConsentStage.defer).
        self.not_landed: Callable[[Sequence[str]], None] | None = None

    def rejects(self, rejects: Sequence[Reject]) -> None:
        """File rejected rows under the run (their count is already in the report)."""
        if rejects:
            self.store.add_rejects(self.run_id, list(rejects))

    def withdrawals(self, stated: Sequence[Stated]) -> None:
        """Remember what a batch's rows withdraw (state/withdrawals.py), as they are planned."""
        self.store.record_withdrawals(self.mapping, stated, at=self.now)

    def unchanged(self, recognised: Sequence[str], mapped: Sequence[SourceSeen]) -> None:
        """Rows that need no write: ``recognised`` (skipped by source hash) get last_seen (by
        :data:`SEEN_EVERY`, see :meth:`flush_seen`); ``mapped`` unchanged records get
        last_seen and their source rows remembered."""
        self._see(recognised)
        if mapped:
            self.store.remember_sources(self.mapping, list(mapped), at=self.now)

    def present(self, key_hashes: Sequence[str]) -> None:
        """Records the source holds that were neither written nor unchanged (rejected, not
        justified, purged, held for review, refused): last_seen moves all the same, so a full
        export does not count them as gone (issue 9.6)."""
        self._see(key_hashes)

    def _see(self, key_hashes: Sequence[str]) -> None:
        self._seen.extend(key_hashes)
        if len(self._seen) >= SEEN_EVERY:
            self.flush_seen()

    def flush_seen(self) -> None:
        """Move last_seen of the records noted by :meth:`unchanged` and :meth:`present`.

        The engine calls it when the source is read, before the export mark
        (:meth:`export_complete`) that makes records not seen count as gone. A run that
        stops before it leaves their last_seen at the previous run: no mark moves then, and
        the next run moves it.
        """
        if self._seen:
            self.store.touch_seen(self.mapping, self._seen, at=self.now)
            self._seen = []

    def source_deleted(self, key_hashes: Sequence[str]) -> None:
        """The source marked these records deleted (OneRoster ``tobedeleted``): their
        lifecycle ends now, so lifecycle_end retention counts (state/anchors.py)."""
        if key_hashes:
            anchors.anchor_end(self.store, self.mapping, key_hashes, self.now)

    def revive(self, key_hashes: Sequence[str]) -> None:
        """Records held again by a source that can mark deletions: lift the end it anchored."""
        if key_hashes:
            anchors.revive(self.store, self.mapping, key_hashes)

    def export_complete(self, rows: int) -> None:
        """A full export passed the size guard: records it did not hold count as gone."""
        self.flush_seen()
        anchors.set_export_mark(self.store, self.mapping, rows, self.now)

    def sending(self, writes: Sequence[Write]) -> list[int]:
        """Outbox rows for ``writes``, marked SENT: call just before they leave."""
        return self.store.add_outbox(
            self.run_id,
            [OutboxItem(self.mapping, w.key_hash, self.obj, w.operation) for w in writes],
            status=OutboxStatus.SENT,
        )

    def sending_keys(self, keys: Sequence[str], operation: str) -> list[int]:
        """:meth:`sending` for writes of one operation known by their key hashes (spooled
        writes are not read from disk for it). In slices of ``SLICE``: a Bulk chunk's 50,000
        outbox items and their statement parameters at once were ~15 MB of a load's peak."""
        ids: list[int] = []
        for start in range(0, len(keys), SLICE):
            part = [
                OutboxItem(self.mapping, k, self.obj, operation)
                for k in keys[start : start + SLICE]
            ]
            ids += self.store.add_outbox(self.run_id, part, status=OutboxStatus.SENT)
        return ids

    def results(
        self, writes: Sequence[Write], results: Sequence[WriteResult | None], ids: Sequence[int]
    ) -> None:
        """Record Salesforce's answers: synced records, persons, outbox, refusals.

        In slices of ``SLICE`` writes: a Bulk job of 50,000 records would otherwise build every
        statement parameter of the job at once, and a run's peak memory with it.
        """
        for start in range(0, len(writes), SLICE):
            end = start + SLICE
            # One transaction a slice (persons, synced, seen, source rows, outbox, rejects):
            # a slice's state lands whole or not at all.
            with self.store.transaction():
                self._results(writes[start:end], results[start:end], ids[start:end])

    def _results(
        self, writes: Sequence[Write], results: Sequence[WriteResult | None], ids: Sequence[int]
    ) -> None:
        store, now, rep = self.store, self.now, self.rep
        ok_ids: list[int] = []
        errors: list[OutboxError] = []
        refused: list[Reject] = []
        unsent: list[str] = []  # still in the source: last_seen moves (present())
        synced: list[tuple[Write, str | None]] = []
        new_people: list[tuple[Write, str | None]] = []
        updates: list[PersonUpdate] = []
        for w, r, oid in zip(writes, results, ids, strict=True):
            status = WriteStatus.NOT_SENT if r is None else r.status
            if r is None or status is WriteStatus.NOT_SENT:
                rep.pending += 1
                unsent.append(w.key_hash)
                continue
            if status is WriteStatus.FAILED:
                code = r.error_code or "UNKNOWN"
                rep.failed += 1
                rep.failures[code] += 1
                errors.append(OutboxError(oid, code, r.message[:255]))
                rej = Reject(w.origin, ",".join(r.fields), REFUSED.format(code=code), self.mapping)
                refused.append(rej)
                rep.add_refusal(rej)
                unsent.append(w.key_hash)
                continue
            ok_ids.append(oid)
            sf_id = r.sf_id or w.row.get("Id")
            # Salesforce's word, not state's: an upsert of a record state did not know (a lost
            # state, a replay after a crash) that matched an existing one is an update
            # ("created": false in the upsert result; sf__Created in a Bulk job's results).
            if status is WriteStatus.UPDATED:
                rep.updated += 1
            else:
                rep.created += 1
            rep.fields_cleared += w.cleared
            if w.new_person is not None:
                new_people.append((w, sf_id))
            elif w.person_id is not None:
                student, email = w.link_person or (None, None)
                updates.append(PersonUpdate(w.person_id, student, email, sf_id))
            synced.append((w, sf_id))
        person_ids: dict[str, int] = {}
        if new_people:
            created = store.add_persons(
                [NewPerson(*w.new_person, sf) for w, sf in new_people if w.new_person], at=now
            )
            person_ids = {w.key_hash: pid for (w, _), pid in zip(new_people, created, strict=True)}
        store.update_persons(updates, at=now)
        emails = [w.new_person[1] for w, _ in new_people if w.new_person and w.new_person[1]]
        emails += [u.email_hash for u in updates if u.email_hash]
        if emails:
            # A new or moved address may now be shared: rows matched by it must be mapped again.
            store.forget_shared_sources(emails)
        store.record_synced(
            [
                SyncedUpdate(
                    self.mapping,
                    w.key_hash,
                    self.obj,
                    sf_id,
                    {RECORD: w.token},
                    field_hashes_json=w.hashes,
                    person_id=w.person_id or person_ids.get(w.key_hash),
                    lifecycle=w.lifecycle,
                    lifecycle_end_at=w.lifecycle_end_at,
                    event_date=w.event_date,
                    consent_withdrawn_at=w.consent_withdrawn_at,
                    source_hash=w.source_hash,
                    recheck_on=w.recheck_on,
                )
                for w, sf_id in synced
            ],
            at=now,
        )
        self.present(unsent)
        if unsent and self.not_landed is not None:
            self.not_landed(unsent)
        store.mark_outbox(ok_ids, OutboxStatus.OK)
        store.fail_outbox(errors, at=now)
        self.rejects(refused)
