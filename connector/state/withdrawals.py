"""Records' consent withdrawals: what lets one mapping's "nee" reach another mapping's "ja".

Mixed into :class:`~connector.state.store.StateStore`. Table ``withdrawals`` (schema v5): per
record (mapping, key hash) and consent purpose, the moment its row withdrew that consent, with
the row's identity hashes (student number, e-mail). A person's newest withdrawal over their
*other* records outweighs an older "ja" in the row being planned
(``connector/privacy/withdrawals.py``, ``sync/plan_opt_outs.py``). The planner reads those of a
batch's identity hashes (:meth:`WithdrawalsMixin.withdrawals`); the engine stores what each
planned row states (:meth:`WithdrawalsMixin.record_withdrawals`) as it plans, before anything is
sent: a withdrawal is a fact of the export, whether or not Salesforce took its record — so a
rebuild, or a record Salesforce refused, still teaches it. Per record, not per person, so that
a record's later row replaces what its earlier row said (the newest registration of a person
wins, its consents too). Only keyed hashes, a purpose name and a moment: no personal value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from connector.state import tables as s
from connector.state.db import Database, execute_in, guard, rows_in


@dataclass(frozen=True, slots=True)
class Stated:
    """What one record's row says: purpose → the moment it withdrew that consent (None: a
    "nee" without a date, counted from the run that first records it), with the row's
    identity hashes."""

    key_hash: str
    student_hash: str | None
    email_hash: str | None
    withdrawn: Mapping[str, datetime | None]


@dataclass(frozen=True, slots=True)
class KnownWithdrawal:
    """A withdrawal a record's row stated, with that row's identity hashes."""

    mapping: str
    key_hash: str
    purpose: str
    at: datetime
    student_hash: str | None = None
    email_hash: str | None = None
    clocked: bool = False  # the row gave no moment: ``at`` is the run's that first saw it


_COLUMNS = (
    "mapping",
    "key_hash",
    "purpose",
    "withdrawn_at",
    "student_hash",
    "email_hash",
    "clocked",
)


Held = dict[str, tuple[datetime, bool]]  # purpose → (moment, clocked)

# The per-batch look-ups, as raw SQL through db.rows_in (see there why).
_BY_HASH = (
    "SELECT mapping, key_hash, purpose, withdrawn_at, student_hash, email_hash, clocked"
    " FROM withdrawals WHERE {column} {in}"
)
_BY_KEY = (
    "SELECT key_hash, purpose, withdrawn_at, clocked FROM withdrawals"
    " WHERE mapping = ? AND key_hash {in}"
)
_DELETE_BY_KEY = "DELETE FROM withdrawals WHERE mapping = ? AND key_hash {in}"
# The records, in other mappings, of the persons with these hashes (``{column}``: student or
# e-mail hash); record_withdrawals forgets their remembered source rows (mapped again).
_THEIRS = (
    "SELECT s.mapping, s.key_hash FROM synced s JOIN persons p ON p.person_id = s.person_id"
    " WHERE s.mapping != ? AND p.{column} {in}"
)
_FORGET_THEIRS = (
    "DELETE FROM source_rows WHERE (mapping, key_hash) IN ("
    "SELECT s.mapping, s.key_hash FROM synced s JOIN persons p ON p.person_id = s.person_id"
    " WHERE s.mapping != ? AND p.{column} {in})"
)  # _THEIRS, in a DELETE


def _moment(value: object) -> datetime:
    """A ``withdrawn_at`` as raw SQL returns it: ISO text (SQLite) or a datetime (PostgreSQL)."""
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.astimezone(UTC)


def merged(held: Mapping[str, tuple[datetime, bool]], stated: Stated, at: datetime) -> Held:
    """What a record's withdrawals are once its row says ``stated``: a dated one takes its
    date, an undated one keeps the moment held for it, else ``at`` (the run's clock)."""
    return {
        p: (when, False) if when is not None else held.get(p) or (at, True)
        for p, when in stated.withdrawn.items()
    }


class WithdrawalsMixin:
    """Withdrawal queries of :class:`~connector.state.store.StateStore` (module docstring)."""

    _db: Database

    def has_withdrawals(self) -> bool:
        """True when any withdrawal is recorded (the engine skips the batch query otherwise)."""
        w = s.withdrawals
        with guard("check withdrawals"), self._db.reading() as conn:
            return conn.execute(sa.select(w.c.key_hash).limit(1)).first() is not None

    def withdrawals(
        self, student_hashes: Sequence[str], email_hashes: Sequence[str]
    ) -> list[KnownWithdrawal]:
        """The withdrawals stated by rows carrying one of these student or e-mail hashes."""
        found: dict[tuple[str, str, str], KnownWithdrawal] = {}
        with guard("look up withdrawals"), self._db.reading() as conn:
            for column, values in (("student_hash", student_hashes), ("email_hash", email_hashes)):
                sql = _BY_HASH.format(column=column, **{"in": "{in}"})
                for m, k, p, at, sh, eh, clocked in rows_in(conn, self._db.dialect, sql, values):
                    found[(m, k, p)] = KnownWithdrawal(m, k, p, _moment(at), sh, eh, bool(clocked))
        return list(found.values())

    def stated_by(self, mapping: str, key_hashes: Sequence[str]) -> dict[str, Held]:
        """Key hash → what state holds of its record's withdrawals, for those that have any."""
        held: dict[str, Held] = {}
        with guard("look up withdrawals"), self._db.reading() as conn:
            for key, purpose, when, clocked in rows_in(
                conn, self._db.dialect, _BY_KEY, key_hashes, mapping
            ):
                held.setdefault(key, {})[purpose] = (_moment(when), bool(clocked))
        return held

    def records_of(
        self, student_hashes: Sequence[str], email_hashes: Sequence[str], *, besides: str
    ) -> set[tuple[str, str]]:
        """(mapping, key hash) of the records, outside mapping ``besides``, of the persons these
        student or e-mail hashes identify."""
        found: set[tuple[str, str]] = set()
        with guard("look up records"), self._db.reading() as conn:
            for column, values in (("student_hash", student_hashes), ("email_hash", email_hashes)):
                sql = _THEIRS.format(column=column, **{"in": "{in}"})
                found.update(
                    (m, k) for m, k in rows_in(conn, self._db.dialect, sql, values, besides)
                )
        return found

    def record_withdrawals(self, mapping: str, stated: Sequence[Stated], *, at: datetime) -> None:
        """Store what these records' rows state (replacing what earlier rows said).

        An undated withdrawal keeps the moment already stored for the record, else takes
        ``at`` (the run's clock), so it does not move run after run (:func:`merged`). Where a
        record's withdrawals changed, the remembered source rows of the records of other
        mappings that share its identity hashes (through their person) are forgotten, so a
        later run of those mappings — in another job — decides them again with it instead of
        recognising them as unchanged (``sync/fingerprint.py``; within a job the engine learns
        them first: ``sync/withdrawal_learning.py``).
        """
        if not stated:
            return
        w = s.withdrawals
        latest = {x.key_hash: x for x in stated}
        held = self.stated_by(mapping, list(latest))
        changed: list[Stated] = []
        rows: list[dict[str, Any]] = []
        for key, x in latest.items():
            new = merged(held.get(key, {}), x, at)
            if new == held.get(key, {}):
                continue
            changed.append(x)
            rows += [
                {"mapping": mapping, "key_hash": key, "purpose": p, "withdrawn_at": when,
                 "clocked": clocked, "student_hash": x.student_hash, "email_hash": x.email_hash}
                for p, (when, clocked) in new.items()
            ]  # fmt: skip
        if not changed:
            return
        # Only records state holds withdrawals of have rows to replace (held: read above; the
        # mapping's lock keeps other runs from writing them meanwhile). A first load has none:
        # its DELETE per batch was 3 % of the load's CPU, for nothing.
        replaced = [x.key_hash for x in changed if x.key_hash in held]
        with guard("record withdrawals"), self._db.writing() as conn:
            execute_in(conn, self._db.dialect, _DELETE_BY_KEY, replaced, mapping)
            if rows:
                conn.execute(sa.insert(w), rows)
            students = [x.student_hash for x in changed if x.student_hash]
            emails = [x.email_hash for x in changed if x.email_hash]
            for column, values in (("student_hash", students), ("email_hash", emails)):
                sql = _FORGET_THEIRS.format(column=column, **{"in": "{in}"})
                execute_in(conn, self._db.dialect, sql, values, mapping)
