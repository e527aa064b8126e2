"""Data quality: what the school's data looks like, to improve it at the source (issue 12).

Three parts, gathered by :func:`gather` and rendered by ``connector/commands/quality.py``:

- **Fields**: per mapping and field, how many rows fill it and how many of those its
  transforms accept (one pass over each mapping's source, no policy, no state, no Salesforce:
  about the CPU of a plan's mapping step), with the last run's rejects by reason from state
  (Salesforce refusals included, as ``salesforce refused: CODE``).
- **Consents without proof**: rows whose consent column says yes but that lack the moment it
  was given (no consent at all, GDPR art. 7(1)) or the form/channel when purposes.yaml names one.
- **Bounced e-mail addresses** read back from Salesforce: Contacts this connector syncs with
  ``IsEmailBounced = true``, counted by reason and age, listed masked with their Salesforce Ids
  and the other channels staff can use. One SOQL query, read in pages of 2,000 records
  (REST query ``batchSize`` maximum), so at most one API call per 2,000 bounced Contacts.

Nothing here holds a value from the data in its output: counts, field names, file and line;
bounce reasons become categories (the reason text often quotes the address); persons appear
as their Salesforce Id and a masked address.

The status page makes no Salesforce call, so ``sis-sync quality`` keeps the last bounce figures
it read, counts by reason and age only (no Id, no address), in ``bounces.json`` beside the run
reports (:func:`save_bounce_figures`, owner-only); the page shows them with their time.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from string import Formatter
from typing import Any

from connector.errors import InputError, SourceError
from connector.hashing import KeyHasher, mask
from connector.mapping.facts_reader import parse_moment, yes_no
from connector.mapping.models import FieldSpec, MappingSpec
from connector.mapping.project import Project
from connector.mapping.transforms import TransformContext, TransformError, compile_chain
from connector.records import Reject
from connector.sources.base import open_source

PAGE = 2000  # records per query page: the REST API's largest batchSize (Sforce-Query-Options)
BOUNCES_FILE = "bounces.json"  # the last bounce figures, in the reports folder


def percent(value: float | None) -> str:
    """A share for people: ``100 %`` only when it is 100, else one decimal rounded down.

    ``99.96`` is ``99.9 %``, never ``100 %``: a field with one bad value in 2,500 must not
    look perfect (issue 12). ``None`` (not checked) is ``n/a``.
    """
    if value is None:
        return "n/a"
    if value >= 100.0:
        return "100 %"
    return f"{math.floor(value * 10) / 10:.1f} %"


@dataclass
class FieldQuality:
    """One target field of one mapping: rows read, filled, and accepted by its transforms."""

    mapping: str
    field: str
    rows: int = 0
    filled: int = 0
    valid: int = 0
    checked: bool = True  # False when the chain cannot run here (e.g. `hash` without a secret)

    @property
    def filled_pct(self) -> float:
        """Filled rows as a percentage of rows read."""
        return 100.0 * self.filled / self.rows if self.rows else 0.0

    @property
    def valid_pct(self) -> float | None:
        """Accepted values as a percentage of filled ones (None when not checked)."""
        if not self.checked:
            return None
        return 100.0 * self.valid / self.filled if self.filled else 100.0


@dataclass
class ConsentGap:
    """Rows of one mapping whose consent for one purpose says yes without its proof."""

    mapping: str
    purpose: str
    missing: str  # "timestamp" (no consent at all) or "source" (where it was given)
    count: int = 0
    lines: list[str] = field(default_factory=list)  # file:line of the first few


@dataclass(frozen=True)
class Bounce:
    """A bounced Contact, as staff may see it: Id, masked address, category, other channels."""

    sf_id: str
    masked_email: str
    reason: str
    bounced_on: date | None
    channels: tuple[str, ...]


@dataclass
class Quality:
    """Everything ``sis-sync quality`` reports."""

    today: date
    fields: list[FieldQuality] = field(default_factory=list)
    rejects: list[tuple[str, str, str, int]] = field(default_factory=list)  # mapping, col, why, n
    consents: list[ConsentGap] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # mapping, why (no value)
    bounces: list[Bounce] | None = None  # None: not read (offline)
    api_calls: int = 0

    def bounce_reasons(self) -> Counter[str]:
        """Bounced Contacts per reason category."""
        return Counter(b.reason for b in self.bounces or [])

    def bounce_ages(self) -> Counter[str]:
        """Bounced Contacts per age of the bounce."""
        return Counter(age_band(b.bounced_on, self.today) for b in self.bounces or [])


# -- fields ------------------------------------------------------------------------------------


def _columns(f: FieldSpec) -> list[str]:
    if f.template is not None:
        return [name for _, name, _, _ in Formatter().parse(f.template) if name]
    return [c for c in (f.from_, f.fallback) if c]


def _raw(f: FieldSpec, row: Any) -> Any:
    """The field's input before transforms: the column (or fallback), or the filled template."""
    if f.template is not None:
        values = {c: ("" if row.get(c) is None else str(row.get(c))) for c in _columns(f)}
        text = f.template.format_map(values).strip()
        return text or None
    for column in _columns(f):
        value = row.get(column)
        if value is not None and str(value).strip():
            return value
    return None


class MappingScan:
    """Filled/valid counts per field and consent gaps of one mapping, one source row at a time.

    Streaming: memory stays at the counters whatever the size of the export. Constants
    (``value:``) and references are left out: they say nothing about the source's quality. A
    field whose chain cannot be compiled here (``hash`` without a secret) is counted as filled
    only.
    """

    def __init__(self, spec: MappingSpec, project: Project, ctx: TransformContext):
        self.ctx = ctx
        self.fields: list[tuple[FieldSpec, FieldQuality, Any]] = []
        for name, f in spec.fields.items():
            if f.ref is not None or (f.value is not None and not _columns(f)):
                continue
            q = FieldQuality(spec.name, name)
            try:
                chain = compile_chain(f.transform, ctx=ctx)
            except ValueError:
                chain, q.checked = None, False
            self.fields.append((f, q, chain))
        used = {p for f in spec.fields.values() for p in f.purposes}
        self.consents = []
        for purpose in sorted(used):
            consent = project.purposes.purposes[purpose].consent
            if consent is not None:
                gaps = (
                    ConsentGap(spec.name, purpose, "timestamp"),
                    ConsentGap(spec.name, purpose, "source"),
                )
                self.consents.append((consent, gaps))

    def add(self, row: Any) -> None:
        """Count one source row."""
        for f, q, chain in self.fields:
            q.rows += 1
            raw = _raw(f, row)
            if raw is None:
                continue
            q.filled += 1
            if chain is None:
                continue
            try:
                chain(raw)
            except (TransformError, ValueError):
                continue
            q.valid += 1
        self.ctx.warnings.clear()  # truncation warnings are the run report's business
        for consent, (no_at, no_source) in self.consents:
            gap = _consent_gap(consent, row, no_at, no_source)
            if gap is not None:
                gap.count += 1
                if len(gap.lines) < 5:
                    gap.lines.append(str(row.origin))

    def results(self) -> tuple[list[FieldQuality], list[ConsentGap]]:
        """The field figures and the consent gaps found."""
        gaps = [g for _, pair in self.consents for g in pair if g.count]
        return [q for _, q, _ in self.fields], gaps


def _consent_gap(consent: Any, row: Any, no_at: ConsentGap, no_source: ConsentGap) -> Any:
    """Which proof a yes lacks: the timestamp (then it is no consent), or the source."""
    try:
        if yes_no(row.get(consent.field)) is not True:
            return None
    except ValueError:
        return None  # not yes/no: a reject of the run, not a gap in proof
    try:
        at = parse_moment(row.get(consent.at), consent.at_format)
    except ValueError:
        at = None
    if at is None:
        return no_at
    if consent.source is not None:
        raw = row.get(consent.source)
        if raw is None or not str(raw).strip():
            return no_source
    return None


class _Row:
    """A source record's fields with its origin (``row.get`` like a dict)."""

    __slots__ = ("fields", "origin")

    def __init__(self, fields: Any, origin: Any):
        self.fields, self.origin = fields, origin

    def get(self, name: str) -> Any:
        return self.fields.get(name)


def read_rows(spec: MappingSpec, base_dir: Any) -> Iterator[_Row]:
    """The rows the mapping maps: rejected rows are the run's rejects, and rows its ``filter``
    skips are not its data (an application mapping's students are not invalid applications)."""
    source = open_source(spec.source, base_dir=base_dir)
    source.check()
    flt = spec.filter
    for item in source.read():
        if isinstance(item, Reject) or item.deleted:
            continue
        if flt is None or flt.keeps(item.fields.get(flt.column)):
            yield _Row(item.fields, item.origin)


# -- bounces -----------------------------------------------------------------------------------

_CODE = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_WORDS = [  # first match wins: "domain not found" is about the domain
    ("domain does not exist", re.compile(r"domain|host not found|dns", re.I)),
    ("mailbox does not exist",
     re.compile(r"unknown|does not exist|no such|invalid recipient|not found", re.I)),
    ("mailbox full", re.compile(r"full|quota|over.?limit", re.I)),
    ("refused as spam or by policy", re.compile(r"spam|block|policy|reject", re.I)),
]  # fmt: skip


def bounce_category(reason: str | None) -> str:
    """A category for Salesforce's ``EmailBouncedReason`` (the text itself may hold the address).

    Enhanced mail status codes first (RFC 3463: class.subject.detail), then common words.
    """
    text = reason or ""
    if m := _CODE.search(text):
        klass, subject, detail = m.groups()
        if klass == "4":
            return "temporary failure"
        if (subject, detail) in {("1", "1"), ("1", "0"), ("1", "10")}:
            return "mailbox does not exist"
        if (subject, detail) == ("1", "2"):
            return "domain does not exist"
        if (subject, detail) == ("2", "2"):
            return "mailbox full"
        if subject == "7":
            return "refused as spam or by policy"
        return "permanent failure (other)"
    for name, pattern in _WORDS:
        if pattern.search(text):
            return name
    return "other" if text.strip() else "no reason given"


def age_band(day: date | None, today: date) -> str:
    """How long ago the bounce happened, in bands staff act on."""
    if day is None:
        return "date unknown"
    days = (today - day).days
    if days < 30:
        return "under 30 days"
    if days < 90:
        return "30 to 90 days"
    if days < 365:
        return "90 days to 1 year"
    return "over 1 year"


def contact_external_ids(project: Project) -> list[str]:
    """The external id fields of the mappings that write Contacts (whom this connector syncs)."""
    return sorted(
        {s.target.external_id for s in project.mappings.values() if s.target.object == "Contact"}
    )


def bounce_query(project: Project) -> str:
    """The one SOQL query of the read-back: bounced Contacts this connector syncs."""
    ids = contact_external_ids(project)
    mine = " OR ".join(f"{f} != null" for f in ids)
    where = "IsEmailBounced = true" + (f" AND ({mine})" if mine else "")
    # Field names come from validated mappings (API names only); the query holds no value.
    fields = "Id, Email, EmailBouncedReason, EmailBouncedDate, Phone, MobilePhone, MailingStreet"
    return f"SELECT {fields} FROM Contact WHERE {where} ORDER BY EmailBouncedDate DESC"  # noqa: S608


def read_bounces(client: Any, project: Project) -> tuple[list[Bounce], int]:
    """Bounced Contacts from Salesforce and the API calls it took (one per 2,000 records).

    ``client`` is a :class:`~connector.salesforce.client.SalesforceClient`. Values read
    (address, phones, street) are turned into a mask and channel names at once and dropped.
    """
    headers = {"Sforce-Query-Options": f"batchSize={PAGE}"}
    page = client.json("GET", "query/", params={"q": bounce_query(project)}, headers=headers)
    calls, out = 1, []
    while True:
        for r in page.get("records", []):
            out.append(_bounce(r))
        next_url = page.get("nextRecordsUrl")
        if page.get("done", True) or not next_url:
            return out, calls
        page = client.json("GET", next_url, headers=headers)
        calls += 1


def _bounce(r: dict[str, Any]) -> Bounce:
    when = r.get("EmailBouncedDate")
    try:
        day = datetime.fromisoformat(str(when).replace("+0000", "+00:00")).date() if when else None
    except ValueError:
        day = None
    channels = tuple(
        name
        for name, key in (("mobile", "MobilePhone"), ("phone", "Phone"), ("post", "MailingStreet"))
        if r.get(key)
    )
    return Bounce(
        str(r.get("Id")), mask(r.get("Email")), bounce_category(r.get("EmailBouncedReason")),
        day, channels,
    )  # fmt: skip


# -- the last bounce figures, for the status page ---------------------------------------------


@dataclass(frozen=True)
class BounceFigures:
    """Bounced Contacts counted by reason category and by age band, as read at ``as_of``."""

    as_of: datetime
    total: int
    reasons: dict[str, int]
    ages: dict[str, int]


def bounce_figures(q: Quality, as_of: datetime) -> BounceFigures | None:
    """The counts of ``q``'s bounces (None when they were not read): no Id, no address."""
    if q.bounces is None:
        return None
    return BounceFigures(
        as_of, len(q.bounces), dict(q.bounce_reasons().most_common()),
        dict(q.bounce_ages().most_common()),
    )  # fmt: skip


def save_bounce_figures(figures: BounceFigures, folder: Path) -> Path:
    """Write ``folder/bounces.json`` owner-only (0600), replacing the last one in one step."""
    from connector.state.db import make_private_dir, write_private_text  # SQLAlchemy: late

    make_private_dir(folder)
    path = folder / BOUNCES_FILE
    text = json.dumps(
        {"as_of": figures.as_of.isoformat(), "total": figures.total,
         "reasons": figures.reasons, "ages": figures.ages},
        indent=2,
    )  # fmt: skip
    tmp = path.with_name(f".{BOUNCES_FILE}.{os.getpid()}")
    write_private_text(tmp, text + "\n")
    os.replace(tmp, path)  # the page never reads half a file
    return path


def load_bounce_figures(folder: Path) -> tuple[BounceFigures | None, str]:
    """The figures ``quality`` last kept in ``folder`` and a problem in words; (None, "") when
    it never read bounces."""
    path = folder / BOUNCES_FILE
    try:
        raw = json.loads(path.read_text("utf-8"))
        return BounceFigures(
            datetime.fromisoformat(raw["as_of"]), int(raw["total"]),
            {str(k): int(v) for k, v in raw["reasons"].items()},
            {str(k): int(v) for k, v in raw["ages"].items()},
        ), ""  # fmt: skip
    except FileNotFoundError:
        return None, ""
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return None, f"{path.name} could not be read ({type(exc).__name__})"


# -- everything ----------------------------------------------------------------------------------


def gather(
    project: Project,
    base_dir: Any,
    *,
    today: date,
    secret: str | None,
    store: Any = None,
    client: Any = None,
    mappings: list[str] | None = None,
) -> Quality:
    """Read the sources (and state, and Salesforce when ``client`` is given) into a Quality."""
    q = Quality(today)
    ctx = TransformContext(hasher=KeyHasher(secret) if secret else None, today=today)
    for name in mappings or project.order():
        scan = MappingScan(project.mappings[name], project, ctx)
        try:
            for row in read_rows(project.mappings[name], base_dir):
                scan.add(row)
        except (InputError, SourceError) as exc:
            # The messages name file, line and column, never a value (sources' contract).
            q.unreadable.append((name, str(exc)))
            continue
        figures, gaps = scan.results()
        q.fields += figures
        q.consents += gaps
    if store is not None:
        runs = store.recent_runs(1)
        if runs:
            q.rejects = [
                (r.mapping, r.column, r.reason, r.count)
                for r in store.reject_summary(runs[0].run_id)
                if mappings is None or r.mapping in mappings
            ]
    if client is not None:
        q.bounces, q.api_calls = read_bounces(client, project)
    return q
