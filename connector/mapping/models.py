"""Pydantic models of one mapping file (DESIGN §5; the keys shown there are a **contract**).

A mapping takes one source to one Salesforce object. The key of ``fields`` is the Salesforce
field (CumulusCI's orientation); the value says where the value comes from: exactly one of
``from`` (a column), ``value`` (a constant), ``template`` (columns joined into a text) or ``ref``
(the Salesforce Id of a parent mapping's record). Every model forbids unknown keys, so a typo is
an error rather than a silently ignored setting.

These models are only the trust boundary: the loader checks what needs the whole project
(purposes, refs, transforms, source options) and :mod:`connector.mapping.compile` turns a spec
into closures for the hot path.
"""

from __future__ import annotations

import re
from string import Formatter
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connector.privacy.purposes import PhaseName

# Salesforce API names: letters, digits and single underscores, starting with a letter, with at
# most a namespace prefix and a suffix such as __c separated by double underscores.
_API_PART = r"[A-Za-z](?:[A-Za-z0-9]|_(?!_))*"
API_NAME = re.compile(rf"^(?:{_API_PART}__)?{_API_PART}(?:__[A-Za-z]+)?$")
MAPPING_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# A record type's DeveloperName: an API name without the __c suffix.
DEVELOPER_NAME = re.compile(rf"^{_API_PART}$")

TransformItem = str | dict[str, Any]


def _strip_keys() -> list[TransformItem]:
    """The default ``key_transform``: strip the key's surrounding white space."""
    return ["strip"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def check_api_name(value: str) -> str:
    """Validator helper: ``value`` looks like a Salesforce API name (``Contact``, ``Foo__c``)."""
    if not API_NAME.match(value) or value.endswith("_"):
        raise ValueError(
            "not a Salesforce API name (letters, digits and single underscores, e.g. "
            "Contact or SIS_Student_Number__c)"
        )
    return value


def template_columns(template: str) -> list[str]:
    """The column names a ``template`` refers to, in order (ValueError for a bad template).

    Only plain ``{column}`` placeholders are allowed: no attribute or index access and no format
    specs, so a template can never reach into Python objects.
    """
    columns: list[str] = []
    try:
        parsed = list(Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"not a valid template: {exc}") from None
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name.strip() or any(c in name for c in "[]{}") or spec or conversion:
            raise ValueError("placeholders must be plain column names, like {achternaam}")
        columns.append(name)
    if not columns:
        raise ValueError("a template needs at least one {column}")
    return columns


TargetMode = Literal["upsert", "update_only", "insert_only"]


class TargetSpec(_Strict):
    """The Salesforce side: the object, the external-id field records are upserted by, and
    how the org's own data model is targeted (DESIGN §11: person accounts, record types, mode)."""

    object: str = Field(description="Salesforce object API name, e.g. Contact")
    external_id: str = Field(
        description="external-id field to upsert by; when no field maps it, the keyed hash of "
        "the record key is sent (e.g. SIS_Sync_Key__c)"
    )
    person_account: bool = Field(
        default=False,
        description="the records are person accounts (object Account): created with the "
        "org's person-account record type; children that need a Contact get its PersonContactId",
    )
    record_type: str | None = Field(
        default=None,
        description="DeveloperName of the record type to write (resolved once per run)",
    )
    mode: TargetMode = Field(
        default="upsert",
        description="upsert (create or update), update_only (never creates: records not "
        "found are skipped) or insert_only (existing records are left alone)",
    )

    _api = field_validator("object", "external_id")(check_api_name)

    @field_validator("record_type")
    @classmethod
    def _developer_name(cls, value: str | None) -> str | None:
        if value is not None and not DEVELOPER_NAME.match(value):
            raise ValueError(
                "not a record type DeveloperName (letters, digits and single underscores, "
                "e.g. PersonAccount or Academic_Program)"
            )
        return value

    @model_validator(mode="after")
    def _person_account(self) -> TargetSpec:
        if self.person_account and self.object != "Account":
            raise ValueError("`person_account: true` needs `object: Account`")
        return self


class LookupSpec(_Strict):
    """A lookup to a record the org already holds (not written by sis-sync), by its external id.

    The field's value (``from``/``value``/``template``) is the parent's external id; Salesforce
    resolves it (relationship syntax, see :func:`relationship_name`).
    """

    object: str = Field(description="the parent object, e.g. LearningProgram")
    external_id: str = Field(description="the parent's external-id field, e.g. Crebo__c")

    _api = field_validator("object", "external_id")(check_api_name)


def relationship_name(field_name: str) -> str | None:
    """The relationship name Salesforce gives a lookup field: ``LearningProgramId`` →
    ``LearningProgram``, ``Programme__c`` → ``Programme__r``; None for a name that is neither
    (a standard lookup ends in ``Id``, a custom one in ``__c``)."""
    if field_name.endswith("__c"):
        return field_name[:-3] + "__r"
    if field_name.endswith("Id") and len(field_name) > 2:
        return field_name[:-2]
    return None


class ValueFrom(_Strict):
    """A value read from one column through a transform chain (``{from, transform}``)."""

    from_: str = Field(alias="from", min_length=1, description="source column")
    transform: list[TransformItem] = Field(default_factory=list)


class RefSpec(_Strict):
    """A lookup to a parent mapping: the parent's record whose key is this record's column(s)."""

    mapping: str = Field(description="name of the parent mapping")
    from_: str | list[str] = Field(
        alias="from", description="column(s) holding the parent's key (a list: composite key)"
    )

    @property
    def columns(self) -> list[str]:
        """The key column(s) as a list."""
        return [self.from_] if isinstance(self.from_, str) else list(self.from_)


class FieldSpec(_Strict):
    """One target field: where its value comes from and which purposes justify sending it."""

    from_: str | None = Field(default=None, alias="from", description="source column")
    fallback: str | None = Field(
        default=None, description="column used when `from` is empty (e.g. identifier → sourcedId)"
    )
    value: Any = Field(default=None, description="a constant")
    template: str | None = Field(
        default=None, description='columns joined into a text, e.g. "{straat} {huisnummer}"'
    )
    ref: RefSpec | None = Field(default=None, description="the Salesforce Id of a parent record")
    lookup: LookupSpec | None = Field(
        default=None,
        description="the value is the external id of an org record this field points at "
        "(sent as Salesforce's relationship syntax)",
    )
    transform: list[TransformItem] = Field(default_factory=list)
    required: bool = Field(default=False, description="reject the record when empty")
    purposes: list[str] = Field(
        default_factory=list, description="purposes (purposes.yaml) that justify sending it"
    )
    opt_out: bool = Field(
        default=False, description="one-way opt-out flag: only `true` is ever sent"
    )
    crm_owned: bool = Field(
        default=False,
        description="staff own the value in the CRM: set on create, never overwritten",
    )
    personal: bool = Field(
        default=True,
        description="false: the value is about no person (a programme's name); `plan` shows it "
        "as sent instead of masked (display only: purposes still decide what is sent)",
    )

    @model_validator(mode="after")
    def _one_origin(self) -> FieldSpec:
        given = [k for k in ("from", "value", "template", "ref") if self._has(k)]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of from, value, template, ref"
                + (f" (found {', '.join(given)})" if given else "")
            )
        if self.required and not (self.from_ or self.template or self.ref):
            raise ValueError("`required` needs `from`, `template` or `ref`")
        if self.fallback and not self.from_:
            raise ValueError("`fallback` only works together with `from`")
        if self.template is not None:
            template_columns(self.template)
        if self.ref is not None and self.transform:
            raise ValueError("a `ref` field takes no transform: Salesforce needs the parent's Id")
        if self.lookup is not None and self.ref is not None:
            raise ValueError("a field is either a `ref` (a sis-sync parent) or a `lookup`")
        if self.lookup is not None and (self.opt_out or self.crm_owned):
            raise ValueError("a `lookup` field cannot be `opt_out` or `crm_owned`")
        return self

    def _has(self, key: str) -> bool:
        if key == "value":
            return "value" in self.model_fields_set
        return getattr(self, {"from": "from_"}.get(key, key)) is not None

    @property
    def origin(self) -> str:
        """Which of from / value / template / ref this field uses."""
        return next(k for k in ("from", "value", "template", "ref") if self._has(k))

    def columns(self) -> list[str]:
        """Every source column this field reads."""
        if self.from_:
            return [self.from_] + ([self.fallback] if self.fallback else [])
        if self.template is not None:
            return template_columns(self.template)
        if self.ref is not None:
            return self.ref.columns
        return []


class LifecycleSpec(_Strict):
    """Where a person stands: a column and which of its values mean which phase.

    Either ``from`` with value lists, or ``phase`` for a source whose every record is in one
    phase (event registrants are prospects).
    """

    from_: str | None = Field(default=None, alias="from", description="the status column")
    phase: PhaseName | None = Field(default=None, description="every record is in this phase")
    prospect: list[str] = Field(default_factory=list)
    applied: list[str] = Field(default_factory=list)
    enrolled: list[str] = Field(default_factory=list)
    ended: list[str] = Field(default_factory=list)
    other: PhaseName | Literal["reject"] = Field(
        default="reject", description="phase of a value not listed; `reject` refuses the record"
    )
    date: ValueFrom | None = Field(default=None, description="when the phase was reached")

    @model_validator(mode="after")
    def _one_form(self) -> LifecycleSpec:
        if (self.from_ is None) == (self.phase is None):
            raise ValueError("give either `from` (a status column) or `phase`")
        lists = self.prospect or self.applied or self.enrolled or self.ended
        if self.phase is not None and (lists or self.date is not None):
            raise ValueError("with `phase`, value lists and `date` have no meaning")
        if self.from_ is not None and not lists:
            raise ValueError("list the column values of at least one phase")
        seen: dict[str, str] = {}
        for phase in ("prospect", "applied", "enrolled", "ended"):
            for raw in getattr(self, phase):
                value = str(raw).strip().casefold()
                if value in seen and seen[value] != phase:
                    raise ValueError(f"a value is listed under both {seen[value]} and {phase}")
                seen[value] = phase
        return self

    @field_validator("prospect", "applied", "enrolled", "ended", mode="before")
    @classmethod
    def _as_text(cls, values: Any) -> Any:
        # YAML reads `ja`/`true`/`1` as booleans or numbers; compare them as the text they were.
        if isinstance(values, list):
            return [_yaml_scalar_text(v) for v in values]
        return values


class FilterSpec(_Strict):
    """Only records whose ``column`` is (or is not) one of the values are mapped."""

    column: str
    in_: list[str] | None = Field(default=None, alias="in")
    not_in: list[str] | None = None

    @field_validator("in_", "not_in", mode="before")
    @classmethod
    def _as_text(cls, values: Any) -> Any:
        if isinstance(values, list):
            return [_yaml_scalar_text(v) for v in values]
        return values

    @model_validator(mode="after")
    def _one_list(self) -> FilterSpec:
        if (self.in_ is None) == (self.not_in is None):
            raise ValueError("give exactly one of `in` or `not_in`")
        return self

    def keeps(self, value: Any) -> bool:
        """Whether a row whose ``column`` holds ``value`` is mapped (trimmed, any case) — the
        rule CompiledMapping.apply runs; `sis-sync quality` counts only these rows."""
        text = "" if value is None else str(value).strip().casefold()
        listed = {
            v.strip().casefold() for v in (self.in_ if self.in_ is not None else self.not_in or [])
        }
        return (text in listed) == (self.in_ is not None)


class NewestBy(_Strict):
    """Which of a record's rows is the newest: the one with the latest moment in ``column``."""

    column: str = Field(description="source column holding the row's moment (a date or date-time)")
    format: str | None = Field(
        default=None,
        description="strptime format of the column, e.g. '%d-%m-%Y %H:%M'; default ISO 8601",
    )


class IdentitySpec(_Strict):
    """How records of a person mapping are matched to a person: SIS number and/or e-mail."""

    student_number: str | None = Field(default=None, description="column with the SIS number")
    email: str | None = Field(default=None, description="column with the e-mail address")

    @model_validator(mode="after")
    def _something(self) -> IdentitySpec:
        if self.student_number is None and self.email is None:
            raise ValueError("name a `student_number` and/or an `email` column")
        return self


class MappingSpec(_Strict):
    """One mapping file: one source → one Salesforce object."""

    name: str = Field(description="the mapping's name; must equal the file name without .yaml")
    description: str = ""
    source: dict[str, Any] = Field(
        description="`kind` plus that source's options (e.g. csv: path, delimiter, key)"
    )
    target: TargetSpec
    key_transform: list[TransformItem] = Field(
        default_factory=_strip_keys,
        description="normalises the record key before hashing",
    )
    key_namespace: str | None = Field(
        default=None, description="namespace of the key hash; default the mapping name"
    )
    identity: IdentitySpec | None = None
    lifecycle: LifecycleSpec | None = None
    event_date: ValueFrom | None = Field(default=None, description="retention anchor")
    subject_birthdate: ValueFrom | None = Field(
        default=None, description="for age rules; not sent by itself"
    )
    filter: FilterSpec | None = None
    full_export: bool | None = Field(
        default=None,
        description="the source holds every record on every run (default: file sources yes, "
        "http no); a record missing from it then counts as gone for retention. A OneRoster "
        "file its manifest declares `delta` is never a full export",
    )
    min_export_ratio: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="a full export with fewer rows than this share of the last good one warns "
        "and moves no retention anchor (default: the job's, else 0.9)",
    )
    duplicates: Literal["report", "last_wins"] = Field(
        default="report",
        description=(
            "several rows with one key: the last row wins; `report` also rejects every row it "
            "supersedes with other values, naming both lines; `last_wins` is for files that "
            "list one record on many rows by design (event rows, registrations)"
        ),
    )
    newest_by: NewestBy | None = Field(
        default=None,
        description="several rows with one key: the row with the latest moment in this column "
        "wins, not the last in the file (rows without a readable moment count as oldest; equal "
        "moments: the later row) — for exports whose row order means nothing",
    )
    student_number_format: str | None = Field(
        default=None,
        description="regular expression the school's student numbers match in full, e.g. "
        "'[0-9]{6,9}': a field mapped from the key column or identity.student_number is then "
        "exempt from the BSN 11-check when its value matches (any other value is still checked)",
    )
    fields: dict[str, FieldSpec]

    @field_validator("student_number_format")
    @classmethod
    def _student_number_format(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not MAPPING_NAME.match(value):
            raise ValueError("use lower-case letters, digits and underscores, e.g. students")
        return value

    @field_validator("source")
    @classmethod
    def _kind(cls, value: dict[str, Any]) -> dict[str, Any]:
        kind = value.get("kind")
        if not isinstance(kind, str) or not kind:
            raise ValueError("`kind` is required (csv, oneroster, jsonl, http)")
        return value

    @model_validator(mode="after")
    def _newest_by_source(self) -> MappingSpec:
        if self.newest_by is not None and self.source.get("kind") == "oneroster":
            # A OneRoster delta's order is its meaning: a `tobedeleted` row counts from its
            # line on (docs/input-rules.md); read by a moment, deletions would move.
            raise ValueError(
                "`newest_by` cannot reorder a OneRoster source (its row order matters)"
            )
        return self

    @field_validator("fields")
    @classmethod
    def _fields(cls, value: dict[str, FieldSpec]) -> dict[str, FieldSpec]:
        if not value:
            raise ValueError("map at least one field")
        return value

    @property
    def source_kind(self) -> str:
        """The source's ``kind``."""
        return str(self.source["kind"])

    @property
    def key_columns(self) -> list[str]:
        """The source's key column(s)."""
        key = self.source.get("key")
        if isinstance(key, str):
            return [key]
        return [str(k) for k in key] if isinstance(key, list) else []

    def student_number_fields(self) -> dict[str, re.Pattern[str]]:
        """Target field → ``student_number_format`` for the fields that carry the declared
        student number (``from`` the key column or ``identity.student_number``)."""
        if self.student_number_format is None:
            return {}
        columns = set(self.key_columns)
        if self.identity is not None and self.identity.student_number:
            columns.add(self.identity.student_number)
        fmt = re.compile(self.student_number_format)
        return {
            name: fmt
            for name, f in self.fields.items()
            if f.from_ in columns and (f.fallback is None or f.fallback in columns)
        }

    def lookups(self) -> dict[str, str]:
        """Lookup field → the key it is sent under (``LearningProgram.Crebo__c``)."""
        out: dict[str, str] = {}
        for name, f in self.fields.items():
            rel = relationship_name(name) if f.lookup is not None else None
            if f.lookup is not None and rel is not None:
                out[name] = f"{rel}.{f.lookup.external_id}"
        return out

    def parents(self) -> list[str]:
        """Names of the mappings this one refers to, sorted."""
        return sorted({f.ref.mapping for f in self.fields.values() if f.ref is not None})


def _yaml_scalar_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value
