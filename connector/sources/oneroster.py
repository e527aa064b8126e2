"""OneRoster 1.1 / 1.2 CSV folders (1EdTech) as a source.

One source reads one entity file (``users``, ``enrollments`` …) of an export folder. The large
files (users, enrollments, roles, demographics) are streamed; the small look-up tables (orgs,
classes, courses, academicSessions, and for 1.2 a user → roles index) are held in memory to
add joined columns with dotted names (``orgs.name``, ``class.title``, ``session.startDate`` …).

Real exports deviate from the spec, so this reader is tolerant where it is safe and strict
where guessing would be wrong:

- columns are taken by header name, never position; unknown columns are kept as they are; the
  typos seen in the wild (``dataLastModified``, ``preffered*``) are read as the spec names;
  empty trailing header names and their cells are ignored;
- a date that is not ISO 8601 (``1/05/2023``) rejects the row: day/month order is never guessed;
- ``status=tobedeleted`` in a ``delta`` file marks the record deleted; in a ``bulk`` file
  (where the spec says status must be blank) the row is rejected rather than deleted or synced;
  a delta file holds changes only, so its read is never a full export: a record it does not
  hold has not left the school (``holds_everything``, export_guard.py);
- a reference to a record not in the export (a dangling org id) leaves the record in and the
  join out; only a count is logged.

Broken and hostile input: an empty entity file (not even a header line) is an InputError
naming the file; a header-only file reads zero records (the run report warns about an empty
export); an unterminated quote in the entity file or a look-up table is an InputError from
``check()``; control characters follow the rule of :mod:`connector.sources.base`.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import field_validator, model_validator

from connector.errors import InputError
from connector.records import Origin, Reject, SourceRecord
from connector.sources.base import (
    FileSource,
    SourceOptions,
    build_key,
    check_encoding,
    empty_key,
)
from connector.sources.csv import key_indices, require_in_header
from connector.sources.oneroster_files import (
    DATE_COLUMNS,
    DATETIME_COLUMNS,
    MODES,
    NON_ISO_DATE,
    Manifest,
    Row,
    Table,
    date_problem,
    find_file,
    read_manifest,
    split_list,
)

__all__ = [
    "BULK_DELETE",
    "NON_ISO_DATE",
    "OneRosterOptions",
    "OneRosterSource",
    "date_problem",
]

log = logging.getLogger(__name__)

Entity = Literal[
    "users", "enrollments", "orgs", "classes", "academicSessions", "courses", "roles",
    "demographics",
]  # fmt: skip
ROLE_ENTITIES = ("users", "enrollments", "roles")
# Columns this reader adds to a row (joins, a user's roles): a mapping may read them although
# the entity file has no such header, so require_columns does not ask the file for them.
ADDED_PREFIXES = ("orgs.", "parent.", "school.", "class.", "course.", "session.")
ADDED_COLUMNS = frozenset({"role", "roles"})
BULK_DELETE = "status tobedeleted in a bulk file (manifest); only a delta file can delete"


class OneRosterOptions(SourceOptions):
    """Options of ``kind: oneroster``.

    Attributes:
        path: the export folder (holding manifest.csv), relative to the project directory.
        entity: which file to read (default ``users``).
        key: default ``sourcedId``.
        roles: only records with one of these roles (users: any of the user's roles;
            enrollments and roles: the row's ``role``), e.g. ``[student]``.
        join: add joined columns from the small tables (default true).
        encoding: default ``utf-8-sig`` (the spec's UTF-8; a BOM is dropped).
    """

    path: str
    entity: Entity = "users"
    key: str | list[str] = "sourcedId"
    roles: list[str] | None = None
    join: bool = True
    encoding: str = "utf-8-sig"

    _check_encoding = field_validator("encoding")(check_encoding)

    @model_validator(mode="after")
    def _roles_need_a_role(self) -> OneRosterOptions:
        if self.roles is not None and self.entity not in ROLE_ENTITIES:
            raise ValueError(f"roles filter applies to {', '.join(ROLE_ENTITIES)} only")
        return self


@dataclass
class _Lookups:
    """The small tables, keyed by sourcedId, with only the non-personal columns joins use."""

    orgs: dict[str, Row]
    classes: dict[str, Row]
    courses: dict[str, Row]
    sessions: dict[str, Row]
    roles: dict[str, list[Row]]
    dangling: int = 0

    def org(self, sid: str | None, prefix: str, out: Row) -> None:
        """Add ``prefix.name`` / ``.identifier`` / ``.type`` when org ``sid`` resolves."""
        if not sid:
            return
        org = self.orgs.get(sid)
        if org is None:
            self.dangling += 1
            return
        for col in ("name", "identifier", "type"):
            out[f"{prefix}.{col}"] = org.get(col)

    def klass(self, sid: str | None, out: Row) -> None:
        """Add ``class.*`` and the class's course, school and session for class ``sid``."""
        cls = self.classes.get(sid or "")
        if cls is None:
            self.dangling += bool(sid)
            return
        out["class.title"], out["class.classCode"] = cls.get("title"), cls.get("classCode")
        self.class_details(cls, out)

    def class_details(self, cls: Row, out: Row) -> None:
        """Add course, school (unless present) and the first resolvable session of ``cls``."""
        course_id = cls.get("courseSourcedId")
        course = self.courses.get(course_id or "")
        if course is not None:
            out["course.sourcedId"] = course_id
            out["course.title"] = course.get("title")
            out["course.courseCode"] = course.get("courseCode")
        else:
            self.dangling += bool(course_id)
        if "school.name" not in out:
            self.org(cls.get("schoolSourcedId"), "school", out)
        terms = split_list(cls.get("termSourcedIds"))
        for term in terms:
            session = self.sessions.get(term)
            if session is not None:
                out["session.sourcedId"] = term
                out.update({f"session.{k}": v for k, v in session.items()})
                return
        self.dangling += bool(terms)


class OneRosterSource(FileSource):
    """One entity file of a OneRoster 1.1 or 1.2 CSV export folder."""

    kind = "oneroster"
    Options = OneRosterOptions

    options: OneRosterOptions

    @property
    def folder(self) -> Path:
        """The export folder (``path``)."""
        return self.path

    _delta = False  # the manifest of the last read declared the entity's file a delta
    _header: list[str] | None = None  # the entity file's header, read by check()
    _display = ""  # the entity file's name as messages show it

    def require_columns(self, columns: Collection[str]) -> None:
        """Every column the mapping reads from the entity file is in its header (InputError;
        :meth:`read` checks again). Joined columns and roles are the reader's own."""
        super().require_columns(
            [c for c in columns if c not in ADDED_COLUMNS and not c.startswith(ADDED_PREFIXES)]
        )
        if self._header is not None:
            require_in_header(self._header, self.read_columns, self._display)

    def holds_everything(self) -> bool | None:
        """False after reading a ``delta`` file (only changes); a ``bulk`` file holds every
        record unless the mapping says ``full_export: false``."""
        return False if self._delta else None

    def _manifest(self) -> Manifest:
        folder = self.folder
        if not folder.is_dir():
            raise InputError(self.display_name(folder), "OneRoster folder not found")
        return read_manifest(
            folder, self.display_name(folder / "manifest.csv"), self.options.encoding
        )

    def _table(self, manifest: Manifest, entity: str, *, required: bool) -> Table | None:
        mode = manifest.mode(entity)
        manifest_name = self.display_name(self.folder / "manifest.csv")
        if mode not in MODES:
            raise InputError(manifest_name, f"unknown mode for file.{entity}", column=entity)
        path = find_file(self.folder, entity) if mode != "absent" else None
        if path is None:
            if required:
                why = "declares it absent" if mode == "absent" else "lists it but it is missing"
                raise InputError(
                    self.display_name(self.folder / f"{entity}.csv"), f"manifest {why}"
                )
            return None
        return Table(path, self.display_name(path), self.options.encoding)

    def _support(self) -> tuple[str, ...]:
        o = self.options
        needs: tuple[str, ...] = ()
        if o.join:
            needs = {
                "users": ("orgs",),
                "orgs": ("orgs",),
                "enrollments": ("orgs", "classes", "courses", "academicSessions"),
                "classes": ("orgs", "courses", "academicSessions"),
            }.get(o.entity, ())
        if o.entity == "users":
            needs += ("roles",)
        return needs

    def check(self) -> None:
        """Manifest, entity file (decodable, key column in the header) and look-up tables."""
        o = self.options
        manifest = self._manifest()
        table = self._table(manifest, o.entity, required=True)
        assert table is not None  # required=True raised otherwise
        table.scan()
        header = self._header = table.header()
        self._display = table.display
        key_indices(header, o.key_columns, table.display)
        roles_table = None
        for entity in self._support():
            support = self._table(manifest, entity, required=False)
            if support is not None:
                support.scan()
                roles_table = support if entity == "roles" else roles_table
        if o.roles is not None and "role" not in header and roles_table is None:
            raise InputError(table.display, "roles filter needs a role column or roles.csv")

    def _lookups(self, manifest: Manifest) -> _Lookups:
        keep = {
            "orgs": ("name", "identifier", "type"),
            "classes": ("title", "classCode", "courseSourcedId", "schoolSourcedId",
                        "termSourcedIds"),
            "courses": ("title", "courseCode"),
            "academicSessions": ("title", "type", "startDate", "endDate", "schoolYear"),
        }  # fmt: skip
        tables: dict[str, dict[str, Row]] = {name: {} for name in keep}
        roles: dict[str, list[Row]] = {}
        for entity in self._support():
            table = self._table(manifest, entity, required=False)
            if table is None:
                continue
            delta = manifest.mode(entity) == "delta"
            for _line, row in table.rows():
                if not isinstance(row, dict) or not row.get("sourcedId"):
                    continue
                if entity == "roles":
                    if not (delta and row.get("status") == "tobedeleted") and row.get("role"):
                        roles.setdefault(row.get("userSourcedId") or "", []).append(
                            {k: row.get(k) for k in ("roleType", "role", "orgSourcedId")}
                        )
                    continue
                # A look-up never carries a date it could not read: it would be a guess.
                tables[entity][row["sourcedId"]] = {
                    k: row.get(k)
                    for k in keep[entity]
                    if not (k in DATE_COLUMNS and row.get(k) and date_problem(row[k], k))
                }
        return _Lookups(
            tables["orgs"], tables["classes"], tables["courses"], tables["academicSessions"], roles
        )

    def read(self) -> Iterator[SourceRecord | Reject]:
        """Stream the entity's rows as SourceRecords (Rejects with column and reason)."""
        o = self.options
        manifest = self._manifest()
        table = self._table(manifest, o.entity, required=True)
        assert table is not None
        header = table.header()
        key_cols = o.key_columns
        key_indices(header, key_cols, table.display)
        require_in_header(header, self.read_columns, table.display)
        delta = manifest.mode(o.entity) == "delta"
        self._delta = delta
        dates = [h for h in header if h in DATE_COLUMNS or h in DATETIME_COLUMNS]
        wanted = set(o.roles) if o.roles is not None else None
        look = self._lookups(manifest)
        for line, row in table.rows():
            origin = Origin(table.display, line)
            if isinstance(row, str):
                yield Reject(origin, "", row)
                continue
            if isinstance(row, tuple):
                yield Reject(origin, *row)
                continue
            if o.entity == "users":
                self._user_roles(row, look)
            if wanted is not None and not self._has_role(row, wanted):
                continue
            key, bad = build_key([row.get(c) for c in key_cols], key_cols)
            if key is None:
                yield empty_key(origin, bad)
                continue
            problem = next(
                ((c, r) for c in dates if row[c] and (r := date_problem(row[c], c))), None
            )
            if problem:
                yield Reject(origin, *problem)
                continue
            deleted = row.get("status") == "tobedeleted"
            if deleted and not delta:
                yield Reject(origin, "status", BULK_DELETE)
                continue
            if o.join:
                self._join(row, look)
            yield SourceRecord(key, row, origin, deleted=deleted)
        if look.dangling:
            log.warning(
                "%s: %d references to records not in the export; those joins are left out",
                table.display,
                look.dangling,
            )

    @staticmethod
    def _user_roles(row: Row, look: _Lookups) -> None:
        """``role`` (the primary role) and ``roles`` (all) from users.csv 1.1 or roles.csv 1.2."""
        if "role" in row:  # OneRoster 1.1: one role column on the user
            row["roles"] = [row["role"]] if row["role"] else []
            return
        entries = look.roles.get(row.get("sourcedId") or "", [])
        primary = next((e for e in entries if e["roleType"] == "primary"), None)
        row["role"] = (primary or entries[0])["role"] if entries else None
        row["roles"] = [e["role"] for e in entries]

    @staticmethod
    def _has_role(row: Row, wanted: set[str]) -> bool:
        roles = row.get("roles")
        if roles is None:
            roles = [row.get("role")]
        return any(r in wanted for r in roles)

    def _join(self, row: Row, look: _Lookups) -> None:
        entity = self.options.entity
        if entity == "users":
            ids = split_list(row.get("orgSourcedIds"))
            ids += [row["primaryOrgSourcedId"]] if row.get("primaryOrgSourcedId") else []
            for entry in look.roles.get(row.get("sourcedId") or "", []):
                ids += [entry["orgSourcedId"]] if entry.get("orgSourcedId") else []
            found = []
            for sid in dict.fromkeys(ids):
                if sid in look.orgs:
                    found.append((sid, look.orgs[sid]))
                else:
                    look.dangling += 1
            row["orgs.sourcedId"] = [sid for sid, _ in found]
            for col in ("name", "identifier", "type"):
                row[f"orgs.{col}"] = [org.get(col) for _, org in found]
        elif entity == "orgs":
            look.org(row.get("parentSourcedId"), "parent", row)
        elif entity == "enrollments":
            look.org(row.get("schoolSourcedId"), "school", row)
            look.klass(row.get("classSourcedId"), row)
        elif entity == "classes":
            look.org(row.get("schoolSourcedId"), "school", row)
            look.class_details(dict(row), row)
