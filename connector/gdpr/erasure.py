"""Right to erasure (GDPR art. 17): one person's graph out of Salesforce and local state.

The graph of a person (peers-and-pitfalls §3.10) is read from two places, because local state
links only person records (Contacts) to a person, not their children:

- local state: the person row and every synced record linked to it (``person_records``);
- Salesforce: the Tasks and Events whose ``WhoId`` is one of the person's Contacts/Leads and the
  CampaignMembers of those Contacts/Leads, read with ``queryAll`` so archived activities are
  found too (Salesforce archives Tasks/Events older than a year; plain ``query`` skips them).
  A child that one of our mappings wrote carries that mapping's external id, which leads back
  to its record in state, so its key hash can be forgotten and suppressed as well.

Order, and why: tombstones first (from then on no sync writes the person again, even if the
deletion stops half-way), then Salesforce deletes children before parents, then - only for what
Salesforce confirmed gone - local forgetting and one audit line per deleted record. A failure
part-way leaves the person in local state, so running erase again finishes the job; running it
after a completed erasure finds the tombstone and says so.

Nothing here logs or raises a personal value: persons appear as keyed hashes, records as
Salesforce ids (not personal data), mappings and objects by name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email

from connector.errors import UsageError
from connector.hashing import KeyHasher, normalise_key
from connector.salesforce.query_batch import in_list_queries
from connector.state import AuditEntry, PersonRow, StateStore, SyncedRow

# Person objects whose children erasure looks for, and the child relations per object.
PERSON_OBJECTS = ("Contact", "Lead")
_CHILDREN: tuple[tuple[str, str], ...] = (
    ("Task", "WhoId"),
    ("Event", "WhoId"),
    ("CampaignMember", "ContactId"),
    ("CampaignMember", "LeadId"),
)
# A delete refused with one of these means the record is already gone: erasure reached its goal.
GONE_CODES = frozenset({"ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY", "NOT_FOUND"})
REASON = "erasure on request (GDPR art. 17)"


@dataclass(frozen=True, slots=True)
class Subject:
    """Who an erasure or export is about, as the identity hashes the engine uses."""

    student_hash: str | None
    email_hash: str | None

    @property
    def hashes(self) -> list[tuple[str, str]]:
        """(hash, kind) of the identity hashes given."""
        out = [(self.student_hash, "student"), (self.email_hash, "email")]
        return [(h, k) for h, k in out if h]


def subject_of(
    hasher: KeyHasher, *, student_number: str | None = None, email: str | None = None
) -> Subject:
    """The identity hashes of a person, normalised exactly as the mappings' ``identity`` does.

    Raises UsageError unless exactly one of ``student_number`` and ``email`` is given, or when
    ``email`` is not an e-mail address at all (``%``, ``*``): a typo, not a request to record.
    """
    # normalise_key as the mappings do (NFKC, invisible characters, surrounding space): a
    # person exported with a full-width or zero-width character is still found.
    student = normalise_key(student_number or "")
    mail = normalise_key(email or "").lower()
    if bool(student) == bool(mail):
        raise UsageError("give exactly one of --student-number and --email")
    if mail:
        _require_address(mail)
    return Subject(
        hasher.key("student", student) if student else None,
        hasher.key("email", mail) if mail else None,
    )


def _require_address(mail: str) -> None:
    """Raise UsageError (exit 2) unless ``mail`` passes email-validator's syntax check.

    No DNS check, and special-use domains (``school.local``) are allowed: an address a school
    really used must never be refused; the message does not repeat the value (it may be
    personal data, and the library's own message can quote parts of it).
    """
    try:
        validate_email(mail, check_deliverability=False, globally_deliverable=False)
    except EmailNotValidError:
        raise UsageError("--email is not an e-mail address (name@domain)") from None


def find_person(store: StateStore, subject: Subject) -> PersonRow | None:
    """The one person ``subject`` names in local state, or None when nobody is known.

    Raises UsageError when an e-mail hash belongs to several persons (a shared family address):
    erasing all of them would erase the wrong people, so the student number must decide.
    """
    matches = store.find_persons(
        student_hashes=[subject.student_hash] if subject.student_hash else [],
        email_hashes=[subject.email_hash] if subject.email_hash else [],
    )
    if subject.student_hash:
        return matches.by_student.get(subject.student_hash)
    found = matches.by_email.get(subject.email_hash or "", ())
    if len(found) > 1:
        raise UsageError(
            f"the e-mail address (hash {subject.email_hash}) belongs to {len(found)} persons; "
            "name the person with --student-number instead"
        )
    return found[0] if found else None


@dataclass(frozen=True, slots=True)
class GraphItem:
    """One Salesforce record of a person's graph.

    ``via`` says how it was found: a mapping name (known in state) or ``Object.Field`` (a child
    found in Salesforce that no mapping knows, e.g. a Task staff logged on the Contact).
    """

    object: str
    sf_id: str
    via: str
    mapping: str | None = None
    key_hash: str | None = None
    exists: bool = True


@dataclass(slots=True)
class Graph:
    """A person's graph in deletion order (children first, person records last)."""

    person: PersonRow | None
    items: list[GraphItem] = field(default_factory=list)
    state_rows: list[SyncedRow] = field(default_factory=list)
    # State rows (mapping → key hashes) forgotten with the graph but never tombstoned: the
    # consent model's records (connector/gdpr/consent_graph.py).
    forget: dict[str, list[str]] = field(default_factory=dict)

    @property
    def person_ids(self) -> dict[str, list[str]]:
        """Salesforce ids of the person's own records per person object (Contact, Lead)."""
        out: dict[str, list[str]] = {}
        for row in self.state_rows:
            if row.object in PERSON_OBJECTS and row.sf_id:
                out.setdefault(row.object, []).append(row.sf_id)
        return {o: list(dict.fromkeys(ids)) for o, ids in out.items()}

    def tombstones(self, subject: Subject) -> list[tuple[str, str]]:
        """(hash, kind) of every tombstone the erasure adds: identity hashes and record keys."""
        out = dict(subject.hashes)
        if self.person is not None:
            for h, kind in (
                (self.person.student_hash, "student"),
                (self.person.email_hash, "email"),
            ):
                if h:
                    out.setdefault(h, kind)
        for row in self.state_rows:
            out.setdefault(row.key_hash, "key")
        for item in self.items:
            if item.key_hash:
                out.setdefault(item.key_hash, "key")
        return list(out.items())

    def keys_by_mapping(self) -> dict[str, list[str]]:
        """Key hashes of the graph's records per mapping (what local state forgets)."""
        out: dict[str, list[str]] = {}
        for row in self.state_rows:
            out.setdefault(row.mapping, []).append(row.key_hash)
        for item in self.items:
            if item.mapping and item.key_hash:
                out.setdefault(item.mapping, []).append(item.key_hash)
        for mapping, keys in self.forget.items():
            out.setdefault(mapping, []).extend(keys)
        return {m: list(dict.fromkeys(k)) for m, k in out.items()}


def query_all(writer: Any, obj: str, fields: Iterable[str], where: str, ids: Sequence[str]):
    """Live records of ``obj`` with ``where`` (a field name) IN ``ids``, archived ones included.

    ``queryAll`` returns archived activities but also the recycle bin: ``IsDeleted = false``
    keeps the recycle bin out, so an erasure run twice does not try to delete a record again.
    The IN list is cut so that each query's URI stays under Salesforce's limit
    (:func:`connector.salesforce.query_batch.in_list_queries`).
    """
    cols = ", ".join(dict.fromkeys(["Id", *fields]))
    # Object and field names come from validated mappings and constants; values are escaped.
    text = f"SELECT {cols} FROM {obj} WHERE {where} IN {{ids}} AND IsDeleted = false"  # noqa: S608
    for soql in in_list_queries(text, list(dict.fromkeys(ids))):
        yield from writer.query(soql, include_deleted=True)


class ChildKeys:
    """Leads a child record back to the mapping that wrote it, by that mapping's external id."""

    def __init__(self, project: Any, compiled: dict[str, Any], store: StateStore):
        self.store = store
        self.by_object: dict[str, list[tuple[str, str, Any]]] = {}
        for name, spec in project.mappings.items():
            target = spec.target
            generated = target.external_id not in spec.fields
            self.by_object.setdefault(target.object, []).append(
                (name, target.external_id, None if generated else compiled[name])
            )

    def fields(self, obj: str) -> list[str]:
        """The external-id fields to read for ``obj``."""
        return [ext for _, ext, _ in self.by_object.get(obj, [])]

    def resolve(self, obj: str, record: dict[str, Any]) -> tuple[str | None, str | None]:
        """(mapping, key hash) of a Salesforce record a mapping wrote; (None, None) otherwise."""
        return self.resolve_many(obj, [record]).get(record["Id"], (None, None))

    def resolve_many(
        self, obj: str, records: Sequence[dict[str, Any]]
    ) -> dict[str, tuple[str, str]]:
        """Salesforce Id → (mapping, key hash) of the ``records`` a mapping wrote.

        One state look-up per mapping of ``obj`` for all records, not one per record. A record
        two mappings could claim goes to the first that knows it (the order of the project).
        """
        out: dict[str, tuple[str, str]] = {}
        for name, ext, compiled in self.by_object.get(obj, []):
            wanted: dict[str, list[str]] = {}
            for record in records:
                value = record.get(ext)
                if not value or record["Id"] in out:
                    continue
                # A generated external id is the key hash itself; a mapped one is the raw key.
                kh = (
                    str(value)
                    if compiled is None
                    else compiled.hash_key(compiled.normalise_key(str(value)))
                )
                wanted.setdefault(kh, []).append(record["Id"])
            known = self.store.lookup(name, list(wanted)) if wanted else {}
            for kh, sf_ids in wanted.items():
                row = known.get(kh)
                for sf_id in sf_ids:
                    if row is not None and row.sf_id in (None, sf_id) and sf_id not in out:
                        out[sf_id] = (name, kh)
        return out


def person_graph(
    store: StateStore, writer: Any, keys: ChildKeys, person: PersonRow | None
) -> Graph:
    """Read a person's graph from local state and Salesforce (queries only, no writes).

    A batch of one of :func:`connector.gdpr.graph_batch.read_graphs`: erasure and the purge
    share one code path.
    """
    # Imported here: graph_batch builds on this module's types.
    from connector.gdpr.graph_batch import read_graphs

    if person is None:
        return Graph(person)
    return read_graphs(store, writer, keys, [person])[person.person_id]


@dataclass(slots=True)
class ErasureResult:
    """What an applied erasure did: records deleted, already gone, refused (with error codes)."""

    deleted: list[GraphItem] = field(default_factory=list)
    already_gone: list[GraphItem] = field(default_factory=list)
    failed: list[tuple[GraphItem, str]] = field(default_factory=list)
    tombstones: int = 0
    forgotten: int = 0

    @property
    def complete(self) -> bool:
        """True when Salesforce holds nothing of the graph any more."""
        return not self.failed


def delete_in_order(
    writer: Any,
    items: Sequence[GraphItem],
    *,
    hard: bool = False,
    result: ErasureResult | None = None,
) -> ErasureResult:
    """Delete ``items`` (one unit, e.g. a person's graph), one call per object, children first.

    Items marked ``exists=False`` and deletes refused with a :data:`GONE_CODES` code count as
    already gone. Once a child was refused, no person record (Contact, Lead) is deleted: the
    parent stays so that the next attempt still finds the child through it. Shared by erasure
    and the retention purge; many units at once: :func:`connector.gdpr.graph_batch.delete_many`.

    Returns:
        ``result`` (or a new :class:`ErasureResult`) with deleted, already gone and failed items.
    """
    from connector.gdpr.graph_batch import delete_many

    result = result if result is not None else ErasureResult()
    return delete_many(writer, [items], hard=hard, results=[result])[0]


def apply_erasure(
    store: StateStore,
    writer: Any,
    graph: Graph,
    subject: Subject,
    *,
    now: datetime,
    hard: bool = False,
) -> ErasureResult:
    """Erase ``graph``: tombstones, Salesforce deletes (children first), then local forgetting.

    Local state is forgotten only when every Salesforce delete succeeded (or found the record
    gone); otherwise it stays so that erasing again finishes the job.

    Args:
        store: The state store (the caller holds the run locks, see :func:`erasure_locks`).
        writer: The Salesforce writer.
        graph: From :func:`person_graph`.
        subject: The identity hashes the officer named (tombstoned even if nobody is known).
        now: The time of the tombstones and audit lines.
        hard: Bypass the recycle bin (Bulk API ``hardDelete``).
    """
    result = ErasureResult()
    tombstones = graph.tombstones(subject)
    for h, kind in tombstones:
        store.add_suppression(h, kind, REASON, now)
    result.tombstones = len(tombstones)
    delete_in_order(writer, graph.items, hard=hard, result=result)
    store.add_audit(
        [AuditEntry("erase", i.object, i.sf_id, REASON, now, "", None) for i in result.deleted]
    )
    if result.failed:
        return result
    for mapping, keys in graph.keys_by_mapping().items():
        result.forgotten += store.forget(mapping, keys)
    if graph.person is not None:
        result.forgotten += store.forget_person(graph.person.person_id)
    return result
