"""The planner's rules for art. 21 objections, withdrawals and the opt-outs the CRM holds.

Part of the pure planning stage (``plan.py``: :class:`~connector.sync.plan.Planner` mixes
these in): no store, no I/O. An objection decides a person's every record again with the
purposes objected; a withdrawal another row of the person stated outweighs an older "ja"
(``connector/privacy/withdrawals.py``); an opt-in from the source meets an opt-out staff set
in Salesforce (``crm_opt_outs.py`` reads those) and either lifts it or is reported as a
conflict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING, Any

from connector.hashing import KeyHasher
from connector.privacy.policy import ACTIVE, Policy
from connector.privacy.withdrawals import with_withdrawals
from connector.state.rows import KnownRow, PersonMatches
from connector.state.withdrawals import KnownWithdrawal
from connector.sync.batch_state import BatchState
from connector.sync.consent_records import learnt_in
from connector.sync.crm_opt_outs import CONFLICT_TEXT, sent_key
from connector.sync.plan_justified import not_justified

if TYPE_CHECKING:  # plan.py imports this module: its types only for the checker
    from connector.sync.plan import BatchPlan, Item


class OptOutRules:
    """Objection and CRM opt-out rules of :class:`~connector.sync.plan.Planner`.

    The planner sets these attributes; the methods only read them.
    """

    mapping: str
    policy: Policy | None
    opt_outs: Mapping[str, str]  # purpose → its opt-out field (HasOptedOutOfEmail …)
    today: date
    hasher: KeyHasher
    required: list[str]  # fields Salesforce requires (the justification rule reads them)
    content_fields: list[str]

    def with_objections(self, items: Sequence[Item], state: BatchState) -> list[Item]:
        """``items`` with every record of a person who objected (art. 21) decided again with
        those purposes objected: never active, whatever the row says.

        An objection made by e-mail address (nobody known, or a prospect without a student
        number) holds for every row with that address. One made by student number holds for
        the student's rows and, through their address (``objected_unnumbered``), only for rows
        without a student number (their registrations): a sibling who shares the address has
        a student number of their own and is never reached.
        """
        objected, unnumbered = state.objected, state.objected_unnumbered
        if (not objected and not unnumbered) or self.policy is None:
            return list(items)
        out: list[Item] = []
        for it in items:
            res = it.res
            student_hash, email_hash = res.identity
            hits = [objected.get(h, frozenset[str]()) for h in res.identity if h]
            if email_hash and not student_hash:
                hits.append(unnumbered.get(email_hash, frozenset[str]()))
            purposes = frozenset[str]().union(*hits)
            if not purposes or purposes <= res.facts.objected:
                out.append(it)
                continue
            facts = replace(res.facts, objected=res.facts.objected | purposes)
            decision = self.policy.decide(res.values, facts, self.today)
            # Decided anew: the outcome cached for the old decision goes.
            out.append(replace(it, res=replace(res, facts=facts), decision=decision, cached=None))
        return out

    def decided(self, items: Sequence[Item], state: BatchState) -> list[Item]:
        """``items`` decided with what state knows of their persons: objections, then newer
        withdrawals (:meth:`with_withdrawals`)."""
        if state.objected or state.objected_unnumbered:
            items = self.with_objections(items, state)
        if state.withdrawn:
            items = self.with_withdrawals(items, state)
        return list(items)

    def with_withdrawals(self, items: Sequence[Item], state: BatchState) -> list[Item]:
        """``items`` with every "ja" older than a withdrawal another record of the same person
        stated (``state.withdrawn``) decided again as that withdrawal.

        The same person: a row with the same student number; else, where one side has none
        (an open-day registration), the same e-mail address when it is no other student's —
        not in state, not in this batch (a sibling who shares the family address keeps their
        own consent). The record's own earlier row does not count: its row says what it says
        now.
        """
        if self.policy is None or not state.withdrawn:
            return list(items)
        by_student: dict[str, list[KnownWithdrawal]] = {}
        by_email: dict[str, list[KnownWithdrawal]] = {}
        by_key: dict[tuple[str, str], list[KnownWithdrawal]] = {}
        for w in state.withdrawn:
            if w.mapping == self.mapping:
                by_key.setdefault((w.mapping, w.key_hash), []).append(w)
            if w.student_hash:
                by_student.setdefault(w.student_hash, []).append(w)
            if w.email_hash:
                by_email.setdefault(w.email_hash, []).append(w)
        numbers: dict[str, set[str]] = {}  # e-mail hash → student hashes that carry it
        for it in items:
            student_hash, email_hash = it.res.identity
            if student_hash and email_hash:
                numbers.setdefault(email_hash, set()).add(student_hash)
        if state.persons is not None:
            for email_hash, people in state.persons.by_email.items():
                numbers.setdefault(email_hash, set()).update(
                    p.student_hash for p in people if p.student_hash
                )
        out: list[Item] = []
        for it in items:
            student_hash, email_hash = it.res.identity
            found = list(by_student.get(student_hash, ())) if student_hash else []
            if email_hash:
                for w in by_email.get(email_hash, ()):
                    if student_hash and w.student_hash:
                        continue  # two student numbers: the same person only as above
                    students = numbers.get(email_hash, set()) | {
                        h for h in (student_hash, w.student_hash) if h
                    }
                    if len(students) <= 1:  # the address is no other student's
                        found.append(w)
            mine = (self.mapping, it.res.key_hash)
            # When state first learnt this row's own undated "nee" (its consent record's date).
            own = {w.purpose: w.at for w in by_key.get(mine, ()) if w.clocked}
            newest: dict[str, KnownWithdrawal] = {}
            for w in found:
                if (w.mapping, w.key_hash) == mine:
                    continue  # the record's own earlier row: this row says what it says now
                if w.purpose not in newest or w.at > newest[w.purpose].at:
                    newest[w.purpose] = w
            facts = (
                with_withdrawals(
                    it.res.facts,
                    {p: w.at for p, w in newest.items()},
                    undated={p for p, w in newest.items() if w.clocked},
                    # A "nee" without a moment came without a source too, mostly: the consent
                    # record names the mapping that learnt it, as that mapping's would.
                    sources={p: learnt_in(w.mapping) for p, w in newest.items() if w.clocked},
                    own=own,
                )
                if newest or own
                else None
            )
            if facts is None:
                out.append(it)
                continue
            decision = self.policy.decide(it.res.values, facts, self.today)
            out.append(
                replace(it, res=replace(it.res, facts=facts), decision=decision, cached=None)
            )
        return out

    def opt_out_check(self, items: Sequence[Item], state: BatchState) -> dict[str, frozenset[str]]:
        """Salesforce id → the opt-out fields to read from Salesforce before :meth:`plan`: those
        of the known persons in ``items`` whose row opts in to a purpose with an opt-out field.

        Empty (no query) for mappings without such purposes and for new persons.
        """
        if not self.opt_outs or self.policy is None:
            return {}
        wanted: dict[str, frozenset[str]] = {}
        for it in self.decided(items, state):
            prev = state.known.get(it.res.key_hash)
            sf_id = self._known_sf_id(it, prev, state.persons)
            if sf_id is None:
                continue  # a new person: the CRM holds nothing of them (a first load's rows)
            live = prev if prev is None or not prev.purged else None
            if not_justified(it.decision, live, self.required, self.content_fields):
                # Never written (plan says why): its opt-in meets nothing in the CRM. Such rows
                # are not remembered, so a nightly maps them every run; read, they were most of
                # the opt-out queries of an unchanged nightly.
                continue
            marks = self.opt_in_marks(it)
            held = prev.field_hashes if prev is not None and not prev.purged else {}
            # An opt-in this record was written with before is nothing new to the CRM
            # (crm_opt_outs.py): no read.
            fields = frozenset(k[1:] for k, mark in marks.items() if held.get(k) != mark)
            if fields:
                wanted[sf_id] = wanted.get(sf_id, frozenset()) | fields
        return wanted

    def opt_in_marks(self, it: Item) -> dict[str, str]:
        """``sent_key(opt-out field)`` → keyed hash of the active opt-ins behind it (purposes
        and capture moments) for the opt-out fields of the purposes this row opts in to."""
        if not self.opt_outs or self.policy is None:
            return {}
        statuses = self.policy.statuses_of(it.decision, it.res.facts, self.today)
        consents = it.res.facts.consents
        moments: dict[str, list[str]] = {}
        for purpose, fld in self.opt_outs.items():
            if statuses.get(purpose) != ACTIVE:
                continue
            fact = consents.get(purpose)
            at = fact.at.isoformat() if fact is not None and fact.at is not None else ""
            moments.setdefault(fld, []).append(f"{purpose}={at}")
        return {sent_key(fld): self.hasher.value("|".join(sorted(m))) for fld, m in moments.items()}

    def _known_sf_id(
        self, it: Item, prev: KnownRow | None, persons: PersonMatches | None
    ) -> str | None:
        """The record's Salesforce id as state knows it (its own, or its person's)."""
        if prev is not None and prev.sf_id and not prev.purged:
            return prev.sf_id
        if persons is None:
            return None
        student_hash, email_hash = it.res.identity
        row = persons.by_student.get(student_hash) if student_hash else None
        if row is None and email_hash:
            found = persons.by_email.get(email_hash, ())
            row = found[0] if len(found) == 1 else None
        return row.sf_id if row is not None and row.sf_id != "(new)" else None

    def _meet_crm_opt_outs(
        self,
        it: Item,
        prev: KnownRow | None,
        persons: PersonMatches | None,
        state: BatchState,
        payload: dict[str, Any],
        out: BatchPlan,
    ) -> frozenset[str]:
        """A row that opts in where the CRM holds the opt-out: lift it (the purpose allows it
        and the opt-in is newer than the record's last change in Salesforce) or report the
        conflict. Returns the opt-out fields in conflict."""
        sf_id = self._known_sf_id(it, prev, persons)
        crm = state.crm_opt_outs.get(sf_id) if sf_id is not None else None
        if crm is None or not crm.fields:
            return frozenset()
        assert self.policy is not None
        statuses = self.policy.statuses_of(it.decision, it.res.facts, self.today)
        opted_in = {f for p, f in self.opt_outs.items() if statuses.get(p) == ACTIVE}
        conflict: set[str] = set()
        for purpose, fld in sorted(self.opt_outs.items()):
            if fld not in crm.fields or fld not in opted_in or payload.get(fld) is True:
                continue  # not opted out there, no opt-in here, or the row opts out itself
            consent = self.policy.purposes[purpose].consent
            fact = it.res.facts.consents.get(purpose)
            newer = (
                fact is not None
                and fact.at is not None
                and crm.modified is not None
                and fact.at > crm.modified
            )
            if consent is not None and consent.opt_in_lifts_opt_out and newer:
                payload[fld] = False
                out.lifted += 1
            else:
                out.conflicts.append((it.rec.origin, fld, CONFLICT_TEXT))
                conflict.add(fld)
        return frozenset(conflict)
