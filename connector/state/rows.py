"""The immutable values the state store takes and returns.

All times are timezone-aware UTC datetimes; ``event_date`` is a calendar date. Hashes are
``KeyHasher`` outputs; nothing here ever holds a personal value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

# Key of the whole-record hash kept beside the field hashes (no Salesforce field is called "*"):
# it also tells which source rows still stand for what Salesforce holds (``source_rows.token``).
RECORD = "*"
# Key of the fields the retention purge cleared on a record that stays (art. 5(1)(c)), their
# names joined by commas (no Salesforce field name holds one): they stay cleared while the
# source row is the one last written (``field_hashes["#"]``), whatever a mapping edit says.
PURGE_CLEARED = "-"


def purge_cleared(field_hashes: Mapping[str, str]) -> frozenset[str]:
    """The fields the retention purge cleared on this record (see ``PURGE_CLEARED``)."""
    names = field_hashes.get(PURGE_CLEARED, "")
    return frozenset(names.split(",")) if names else frozenset()


class OutboxStatus(StrEnum):
    """Where one planned write stands (DESIGN §9).

    ``SUPERSEDED`` closes a NEW/SENT/FAILED row when a later run plans a write for the same
    record: the newer row carries the retry.
    """

    NEW = "NEW"
    SENT = "SENT"
    OK = "OK"
    FAILED = "FAILED"
    SUPERSEDED = "SUPERSEDED"


PENDING = (OutboxStatus.NEW, OutboxStatus.SENT, OutboxStatus.FAILED)


class RunStatus(StrEnum):
    """How a run ended (``running`` while it goes)."""

    RUNNING = "running"
    OK = "ok"
    PARTIAL = "partial"
    FAILED = "failed"
    ABORTED = "aborted"


class Anchor(StrEnum):
    """The retention anchors of DESIGN §6 (``retention: {after: ANCHOR}``)."""

    LAST_SEEN = "last_seen"
    LIFECYCLE_END = "lifecycle_end"
    EVENT_DATE = "event_date"
    CONSENT_WITHDRAWN = "consent_withdrawn"


@dataclass(frozen=True, slots=True)
class SyncedRow:
    """What the store remembers about one record of one mapping."""

    mapping: str
    key_hash: str
    object: str
    sf_id: str | None
    person_id: int | None
    field_hashes: Mapping[str, str]
    first_seen: datetime
    last_seen: datetime
    last_synced: datetime | None
    lifecycle: str | None
    lifecycle_end_at: datetime | None
    event_date: date | None
    consent_withdrawn_at: Mapping[str, datetime]
    deleted_at: datetime | None


@dataclass(frozen=True, slots=True)
class KnownRow:
    """The diff's lean view of one synced record (no dates to decode: this is the hot path)."""

    sf_id: str | None
    person_id: int | None
    field_hashes: Mapping[str, str]
    purged: bool


@dataclass(frozen=True, slots=True)
class SyncedUpdate:
    """The state of one record after Salesforce accepted its write.

    ``field_hashes`` is the complete target field → value hash map Salesforce now holds (it
    replaces the stored one). ``person_id=None`` keeps an existing person link; every other
    attribute replaces the stored value.
    """

    mapping: str
    key_hash: str
    object: str
    sf_id: str | None
    field_hashes: Mapping[str, str]
    person_id: int | None = None
    lifecycle: str | None = None
    lifecycle_end_at: datetime | None = None
    event_date: date | None = None
    consent_withdrawn_at: Mapping[str, datetime] = field(default_factory=dict)
    source_hash: str | None = None  # the row it came from; None: not remembered
    recheck_on: date | None = None
    # ``field_hashes`` as the JSON text state stores, when the caller has it already (the
    # engine: then ``field_hashes`` need hold only the record hash).
    field_hashes_json: str = ""


@dataclass(frozen=True, slots=True)
class SourceSeen:
    """An unchanged record mapped this run: the row to remember (``source_hash`` None: none),
    its recheck day, and the record hash (``token``) the row produced."""

    key_hash: str
    source_hash: str | None
    recheck_on: date | None
    token: str | None = None


@dataclass(frozen=True, slots=True)
class PersonRow:
    """One person: the identity that joins a prospect (e-mail) and a student (SIS number)."""

    person_id: int
    sf_id: str | None
    student_hash: str | None
    email_hash: str | None
    created_at: datetime | None  # None from find_persons, which reads only the identity columns
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class PersonMatches:
    """Persons found for a batch of hashes.

    ``by_email`` lists every person sharing an e-mail hash: more than one is an ambiguity the
    engine must not resolve by guessing.
    """

    by_student: Mapping[str, PersonRow]
    by_email: Mapping[str, tuple[PersonRow, ...]]


@dataclass(frozen=True, slots=True)
class NewPerson:
    """A person to create."""

    student_hash: str | None = None
    email_hash: str | None = None
    sf_id: str | None = None


@dataclass(frozen=True, slots=True)
class PersonUpdate:
    """Changes to a person; ``None`` leaves an attribute as it is (a join adds a student hash)."""

    person_id: int
    student_hash: str | None = None
    email_hash: str | None = None
    sf_id: str | None = None


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One planned write. ``operation`` is ``upsert``, ``update`` or ``delete``."""

    mapping: str
    key_hash: str
    object: str
    operation: str


@dataclass(frozen=True, slots=True)
class OutboxError:
    """Salesforce's refusal of one outbox item: its errorCode and message (field names only)."""

    id: int
    error_code: str
    error_message: str = ""


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One outbox row as stored."""

    id: int
    run_id: int
    mapping: str
    key_hash: str
    object: str
    operation: str
    status: OutboxStatus
    error_code: str
    error_message: str
    attempts: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class RunRow:
    """One run of a job."""

    run_id: int
    job: str
    started_at: datetime
    finished_at: datetime | None
    status: RunStatus
    counts: Mapping[str, Any]
    api_calls: int
    report_path: str | None

    @property
    def written(self) -> int:
        """Records the run wrote: created, updated, deleted (a purge) and whose fields a purge
        cleared (``minimised``). ``status`` and the status page both show this figure."""
        c = self.counts
        if self.rebuild:
            return 0  # its "updated" are records it found in the org and recorded
        return sum(int(c.get(k, 0)) for k in ("created", "updated", "deleted", "minimised"))

    @property
    def rebuild(self) -> bool:
        """True for a ``state rebuild``: it read the org and wrote only local state."""
        return bool(self.counts.get("rebuild"))

    @property
    def label(self) -> str:
        """The job's name as ``status`` and the status page show it (a rebuild says so)."""
        return f"{self.job} (rebuild)" if self.rebuild else self.job


@dataclass(frozen=True, slots=True)
class RejectRow:
    """One rejected source row: where and why, never the value."""

    run_id: int
    mapping: str
    file: str
    line: int
    column: str
    reason: str


@dataclass(frozen=True, slots=True)
class RejectSummary:
    """How many rows were rejected for one (mapping, column, reason)."""

    mapping: str
    column: str
    reason: str
    count: int


@dataclass(frozen=True, slots=True)
class ExpiredRow:
    """A record whose retention anchor lies before the cutoff."""

    mapping: str
    key_hash: str
    object: str
    sf_id: str | None
    person_id: int | None
    anchor_at: datetime | date


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the purge/erasure audit trail (for the privacy officer)."""

    action: str  # purge | erase
    object: str
    sf_id: str | None
    reason: str
    at: datetime
    purpose: str = ""
    run_id: int | None = None


@dataclass(frozen=True, slots=True)
class RequestRow:
    """One data-subject request as stored (hashes, dates, codes; never a personal value)."""

    id: int
    reference: str
    kind: str
    subject: tuple[tuple[str, str], ...]  # (kind, keyed hash): student | email | probe hashes
    purposes: tuple[str, ...]
    received_at: datetime
    due_on: date
    status: str
    attempts: int
    last_error: str
    done_at: datetime | None
    receipt: str | None
