"""Per-object describe data: the single source of truth for describe, validation and SOQL typing.

The default org is a school org as the connector expects it (wire spec §7 plus the custom fields
the README tells an admin to create). ``--schema FILE`` (JSON or YAML) adds fields and objects::

    objects:
      Contact:                      # existing object: fields are added (or replace same-named ones)
        fields:
          - {name: Legacy_Id__c, type: string, length: 40, externalId: true}
      School__c:                    # new object
        label: School
        keyPrefix: a05              # optional; generated when absent
        fields:
          - {name: BRIN__c, type: string, length: 4, externalId: true, unique: true, required: true}

Field keys: name, type, label, length, required, nillable, createable, updateable, externalId,
unique, caseSensitive, defaultValue, picklistValues, restrictedPicklist, referenceTo, and for
lookups ``deleteConstraint`` (SetNull | Restrict | Cascade; Cascade is what a master-detail field
does) and ``relationshipName`` (the child relationship's name, as in a field's metadata XML).
Object keys: label, keyPrefix, fields, ``recordTypes`` (``[{developerName, label, default}]``).
Top level: ``personAccounts: true`` turns person accounts on, like ``--person-accounts``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypedDict

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from connector.emulator.ids import BASE62, id_suffix
from connector.emulator.wire import EmulatorConfigError

FieldType = Literal[
    "id",
    "string",
    "textarea",
    "email",
    "phone",
    "url",
    "picklist",
    "multipicklist",
    "combobox",
    "boolean",
    "int",
    "double",
    "currency",
    "percent",
    "date",
    "datetime",
    "reference",
]
TEXT_TYPES = frozenset(
    {"string", "textarea", "email", "phone", "url", "picklist", "multipicklist", "combobox"}
)
MASTER_RT = "012000000000000AAA"  # the Master record type's id in every org
# Lookups to records the API never deletes (users, record types): no delete semantics.
NON_DELETE_LOOKUPS = frozenset({"OwnerId", "CreatedById", "LastModifiedById", "RecordTypeId"})
SYSTEM_FIELDS = (
    "Id",
    "IsDeleted",
    "CreatedDate",
    "CreatedById",
    "LastModifiedDate",
    "LastModifiedById",
    "SystemModstamp",
)


@dataclass
class FieldDef:
    """One field, with the attributes describe reports and validation uses."""

    name: str
    type: str
    label: str = ""
    length: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    defaulted: bool = False
    default: Any = None
    external_id: bool = False
    unique: bool = False
    case_sensitive: bool = False
    picklist: list[str] = field(default_factory=list)
    restricted: bool = False
    reference_to: list[str] = field(default_factory=list)
    custom: bool = False
    # What deleting the parent does to this lookup: SetNull (a lookup's default), Restrict
    # (the parent cannot be deleted) or Cascade (master-detail: the child goes too) — the
    # ``deleteConstraint`` of CustomField, Metadata API Developer Guide,
    # https://developer.salesforce.com/docs/atlas.en-us.api_meta.meta/api_meta/customfield.htm
    delete_constraint: str = "SetNull"
    child_relationship: str | None = None  # describe's childRelationships name, when not derived

    @property
    def required_on_create(self) -> bool:
        """Salesforce's convention: createable, not nillable and not defaulted on create."""
        return self.createable and not self.nillable and not self.defaulted

    def describe(self) -> dict[str, Any]:
        """The DescribeFieldResult subset clients read."""
        return {
            "name": self.name,
            "label": self.label or self.name,
            "type": self.type,
            "length": self.length,
            "nillable": self.nillable,
            "createable": self.createable,
            "updateable": self.updateable,
            "defaultedOnCreate": self.defaulted,
            "defaultValue": self.default,
            "externalId": self.external_id,
            "idLookup": self.external_id or self.name == "Id" or self.type == "email",
            "unique": self.unique,
            "caseSensitive": self.case_sensitive,
            "custom": self.custom,
            "filterable": True,
            "sortable": self.type != "textarea",
            "picklistValues": [
                {"value": v, "label": v, "active": True, "defaultValue": v == self.default}
                for v in self.picklist
            ],
            "restrictedPicklist": self.restricted,
            "referenceTo": list(self.reference_to),
            "relationshipName": (
                (self.name[:-2] if self.name.endswith("Id") else self.name.replace("__c", "__r"))
                if self.type == "reference"
                else None
            ),
        }


@dataclass
class ObjectDef:
    """One sObject type: key prefix, fields by name and the derived lookups validation needs."""

    name: str
    label: str
    key_prefix: str
    fields: dict[str, FieldDef]
    custom: bool = False
    # [{"DeveloperName", "Name", "IsPersonType", "default"}]: filled by ``record_types``.
    record_types: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.reindex()

    def reindex(self) -> None:
        """Recompute the derived lookups after fields change."""
        self.by_lower = {n.lower(): f for n, f in self.fields.items()}
        self.external_ids = [f for f in self.fields.values() if f.external_id or f.unique]
        self.unique_fields = [f.name for f in self.external_ids if f.unique]
        self.required = [f.name for f in self.fields.values() if f.required_on_create]
        self.template = {n: f.default for n, f in self.fields.items()}
        # The defaults a new record starts with, nulls left out (stored records omit nulls).
        self.template_set = {n: v for n, v in self.template.items() if v is not None}
        self.text_limits = {
            n: f.length for n, f in self.fields.items() if f.type in TEXT_TYPES and f.length
        }
        # Lookups whose parent's delete reaches this object (indexed by the store).
        self.lookups = [
            f.name
            for f in self.fields.values()
            if f.type == "reference" and f.name not in NON_DELETE_LOOKUPS
        ]

    def field(self, name: str) -> FieldDef | None:
        """Field by name, case-insensitively (Salesforce field names are case-insensitive)."""
        return self.by_lower.get(name.lower())

    def describe(
        self, version: str, children: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """The per-object describe body (wire spec §2.3); ``children`` its childRelationships."""
        base = f"/services/data/{version}/sobjects/{self.name}"
        return {
            **self.summary(version),
            "fields": [f.describe() for f in self.fields.values()],
            "childRelationships": children or [],
            "recordTypeInfos": self.record_type_infos(),
            "urls": _urls(base),
        }

    def record_type_infos(self) -> list[dict[str, Any]]:
        """Describe's ``recordTypeInfos``: each record type, then the Master one.

        "The master record type is the default record type used when a record has no custom
        record type associated with it" — RecordTypeInfo, SOAP API Developer Guide,
        https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_describesobjects_describesobjectresult.htm
        """
        if not self.record_types:
            return []
        out = [
            {
                "active": True,
                "available": True,
                "defaultRecordTypeMapping": bool(rt.get("default")),
                "developerName": rt["DeveloperName"],
                "master": False,
                "name": rt["Name"],
                "recordTypeId": rt["Id"],
            }
            for rt in self.record_types
        ]
        master = {"developerName": "Master", "name": "Master", "recordTypeId": MASTER_RT}
        return [
            *out,
            {
                **master,
                "active": True,
                "available": True,
                "master": True,
                "defaultRecordTypeMapping": False,
            },
        ]

    def summary(self, version: str) -> dict[str, Any]:
        """The global-describe entry for this object."""
        base = f"/services/data/{version}/sobjects/{self.name}"
        return {
            "name": self.name,
            "label": self.label,
            "labelPlural": self.label + "s",
            "keyPrefix": self.key_prefix,
            "custom": self.custom,
            "createable": True,
            "updateable": True,
            "deletable": True,
            "queryable": True,
            "retrieveable": True,
            "searchable": True,
            "undeletable": True,
            "urls": _urls(base),
        }


def _urls(base: str) -> dict[str, str]:
    return {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"}


class _SystemFlags(TypedDict):
    """The FieldDef flags every system field shares (passed as ``**ro``)."""

    createable: bool
    updateable: bool
    nillable: bool
    defaulted: bool


def _system_fields(obj: str) -> list[FieldDef]:
    ro: _SystemFlags = {
        "createable": False,
        "updateable": False,
        "nillable": False,
        "defaulted": True,
    }
    return [
        FieldDef("Id", "id", f"{obj} ID", 18, **ro),
        FieldDef("IsDeleted", "boolean", "Deleted", default=False, **ro),
        FieldDef("CreatedDate", "datetime", "Created Date", **ro),
        FieldDef("CreatedById", "reference", "Created By ID", 18, reference_to=["User"], **ro),
        FieldDef("LastModifiedDate", "datetime", "Last Modified Date", **ro),
        FieldDef(
            "LastModifiedById", "reference", "Last Modified By ID", 18, reference_to=["User"], **ro
        ),
        FieldDef("SystemModstamp", "datetime", "System Modstamp", **ro),
    ]


class FieldSpec(BaseModel):
    """One field in a ``--schema`` file."""

    model_config = ConfigDict(extra="forbid")
    name: str
    type: FieldType
    label: str | None = None
    length: int | None = None
    required: bool = False
    nillable: bool | None = None
    createable: bool = True
    updateable: bool = True
    externalId: bool = False
    unique: bool = False
    caseSensitive: bool = False
    defaultValue: Any = None
    picklistValues: list[str] = []
    restrictedPicklist: bool = False
    referenceTo: list[str] = []
    deleteConstraint: Literal["SetNull", "Restrict", "Cascade"] = "SetNull"
    relationshipName: str | None = None

    def to_field(self) -> FieldDef:
        """The FieldDef this spec describes."""
        length = self.length or {
            "string": 255,
            "textarea": 32000,
            "email": 80,
            "phone": 40,
            "url": 255,
            "picklist": 255,
            "multipicklist": 4099,
            "combobox": 255,
            "reference": 18,
        }.get(self.type, 0)
        nillable = (not self.required) if self.nillable is None else self.nillable
        return FieldDef(
            self.name,
            self.type,
            self.label or self.name,
            length,
            nillable=nillable,
            createable=self.createable,
            updateable=self.updateable,
            defaulted=self.defaultValue is not None or self.type == "boolean",
            default=False
            if self.type == "boolean" and self.defaultValue is None
            else self.defaultValue,
            external_id=self.externalId,
            unique=self.unique,
            case_sensitive=self.caseSensitive,
            picklist=list(self.picklistValues),
            restricted=self.restrictedPicklist,
            reference_to=list(self.referenceTo),
            custom=self.name.endswith("__c"),
            delete_constraint=self.deleteConstraint,
            child_relationship=self.relationshipName,
        )


class RecordTypeSpec(BaseModel):
    """One record type of an object in a ``--schema`` file."""

    model_config = ConfigDict(extra="forbid")
    developerName: str
    label: str | None = None
    default: bool = False
    isPersonType: bool = False


class ObjectSpec(BaseModel):
    """One object in a ``--schema`` file."""

    model_config = ConfigDict(extra="forbid")
    label: str | None = None
    keyPrefix: str | None = None
    fields: list[FieldSpec] = []
    recordTypes: list[RecordTypeSpec] = []


class SchemaFile(BaseModel):
    """The whole ``--schema`` file."""

    model_config = ConfigDict(extra="forbid")
    description: str | None = None  # what the file is and where its facts come from
    personAccounts: bool = False
    objects: dict[str, ObjectSpec] = {}


class Schema:
    """All objects of the org, by name (case-insensitive lookup) and by key prefix."""

    def __init__(self, objects: list[ObjectDef]):
        self.person_accounts = False
        self.objects = {o.name: o for o in objects}
        self._lower = {o.name.lower(): o for o in objects}
        self.by_prefix = {o.key_prefix: o for o in objects}

    def get(self, name: str) -> ObjectDef | None:
        """Object by name, case-insensitively."""
        return self._lower.get(name.lower())

    def add_object(self, obj: ObjectDef) -> None:
        """Register a new object."""
        self.objects[obj.name] = obj
        self._lower[obj.name.lower()] = obj
        self.by_prefix[obj.key_prefix] = obj


def default_schema() -> Schema:
    """The built-in school org."""
    # Imported here: the table module builds FieldDefs from this module.
    from connector.emulator.objects_default import DEFAULT_OBJECTS

    objects = []
    for name, (label, prefix, fields) in DEFAULT_OBJECTS.items():
        all_fields = {f.name: f for f in _system_fields(name)}
        all_fields.update({f.name: f for f in fields})
        objects.append(ObjectDef(name, label, prefix, all_fields))
    return Schema(objects)


def load_schema(path: Path | None = None, *, person_accounts: bool = False) -> Schema:
    """The default schema, extended with ``path`` (JSON or YAML) when given.

    ``person_accounts`` (or ``personAccounts: true`` in the file) adds person accounts and the
    Education Cloud objects (education.py) before the file is applied, so the file can extend
    them; Contact custom fields (the file's too) are then mirrored on Account as ``__pc``.

    Raises:
        EmulatorConfigError: the file is unreadable or does not follow the documented format.
    """
    schema = default_schema()
    spec = _read_spec(path) if path is not None else SchemaFile()
    if person_accounts or spec.personAccounts:
        from connector.emulator.person import enable_person_accounts

        enable_person_accounts(schema)
    counter = 0
    for obj_name, obj_spec in spec.objects.items():
        obj = schema.get(obj_name)
        if obj is None:
            prefix = obj_spec.keyPrefix
            while prefix is None or prefix in schema.by_prefix:
                counter += 1
                prefix = f"a{counter:02d}"
            fields = {f.name: f for f in _system_fields(obj_name)}
            fields["Name"] = FieldDef("Name", "string", "Name", 80)
            obj = ObjectDef(
                obj_name,
                obj_spec.label or obj_name,
                prefix,
                fields,
                custom=obj_name.endswith("__c"),
            )
            schema.add_object(obj)
        for fspec in obj_spec.fields:
            obj.fields[fspec.name] = fspec.to_field()
        known = {rt["DeveloperName"] for rt in obj.record_types}
        for rts in obj_spec.recordTypes:
            if rts.developerName not in known:
                obj.record_types.append(
                    {
                        "DeveloperName": rts.developerName,
                        "Name": rts.label or rts.developerName.replace("_", " "),
                        "IsPersonType": rts.isPersonType,
                        "default": rts.default,
                    }
                )
        obj.reindex()
    if schema.person_accounts:
        from connector.emulator.person import mirror_contact_fields

        mirror_contact_fields(schema)
    _finish_record_types(schema)
    return schema


def _read_spec(path: Path) -> SchemaFile:
    try:
        text = Path(path).read_text(encoding="utf-8")
        raw = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
        return SchemaFile.model_validate(raw)
    except (OSError, ValueError, yaml.YAMLError, ValidationError) as exc:
        problem = type(exc).__name__
        raise EmulatorConfigError(f"{path}: not a valid emulator schema file ({problem})") from exc


def record_type_id(sobject: str, developer_name: str) -> str:
    """A stable id for a record type: the same org shape gives the same ids on every start
    (clients cache them), and the id counter is not moved (characters 6–14 stay small)."""
    digest = int(hashlib.sha256(f"{sobject}.{developer_name}".encode()).hexdigest(), 16)
    chars = []
    for _ in range(6):
        digest, r = divmod(digest, 62)
        chars.append(BASE62[r])
    head = "012" + "".join(chars[:3]) + "000000" + "".join(chars[3:])
    return head + id_suffix(head)


def _finish_record_types(schema: Schema) -> None:
    """Give every record type its id and object, and its object a ``RecordTypeId`` field
    defaulting to the default record type (the profile's default, in a real org)."""
    for obj in schema.objects.values():
        if not obj.record_types:
            continue
        for rt in obj.record_types:
            rt["Id"] = record_type_id(obj.name, rt["DeveloperName"])
            rt["SobjectType"] = obj.name
        default = next((rt for rt in obj.record_types if rt.get("default")), None)
        default = default or next(
            (rt for rt in obj.record_types if not rt.get("IsPersonType")), obj.record_types[0]
        )
        for rt in obj.record_types:  # one default per object: the first one marked
            rt["default"] = rt is default
        obj.fields["RecordTypeId"] = FieldDef(
            "RecordTypeId",
            "reference",
            "Record Type ID",
            18,
            defaulted=True,
            default=default["Id"],
            reference_to=["RecordType"],
        )
        obj.reindex()
