"""JSON Lines files (one JSON object per line) as a source, e.g. event-platform exports.

Broken and hostile input: an empty file (or blank lines only) reads zero records without
error, as JSON Lines has no header (the run report warns about an empty export); a line that
is not JSON is rejected with its line; control characters in values follow the rule of
:mod:`connector.sources.base` (a NUL rejects the record, naming the field; the others are
removed), also when they arrive as ``\\u`` escapes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import field_validator

from connector.errors import InputError, SourceError
from connector.records import Origin, Reject, SourceRecord
from connector.sources.base import (
    NUL_REASON,
    FileSource,
    SourceOptions,
    build_key,
    check_encoding,
    empty_key,
    require_file,
    scan_decodable,
    scrub_fields,
)


class JsonLinesOptions(SourceOptions):
    """Options of ``kind: jsonl``.

    Attributes:
        path: the file, relative to the project directory.
        key: the key field; dotted paths reach into nested objects (``person.email``); a list
            for a composite key.
        encoding: default ``utf-8-sig`` (a BOM is dropped).
    """

    path: str
    encoding: str = "utf-8-sig"

    _check_encoding = field_validator("encoding")(check_encoding)


def flatten(obj: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested objects flattened to dotted names; lists and scalars kept as they are.

    ``{"person": {"email": "x"}, "tags": [1]}`` → ``{"person.email": "x", "tags": [1]}``.
    """
    out: dict[str, Any] = {}
    for name, value in obj.items():
        full = f"{prefix}{name}"
        if isinstance(value, dict):
            out.update(flatten(value, full + "."))
        else:
            out[full] = value
    return out


def record_from_object(
    obj: object, origin: Origin, key_columns: list[str]
) -> SourceRecord | Reject:
    """A SourceRecord from one decoded JSON value (shared with the HTTP source).

    Control characters follow the rule of :mod:`connector.sources.base`.
    """
    if not isinstance(obj, dict):
        return Reject(origin, "", f"not a JSON object (a {type(obj).__name__})")
    scrubbed = scrub_fields(flatten(obj))
    if isinstance(scrubbed, str):
        return Reject(origin, scrubbed, NUL_REASON)
    fields = scrubbed
    key, bad = build_key([fields.get(c) for c in key_columns], key_columns)
    if key is None:
        return empty_key(origin, bad)
    return SourceRecord(key, fields, origin)


class JsonLinesSource(FileSource):
    """One JSON object per line; blank lines are skipped, a bad line is rejected with its line."""

    kind = "jsonl"
    Options = JsonLinesOptions

    options: JsonLinesOptions

    def check(self) -> None:
        """File readable and decodable; the first JSON object has the key field(s)."""
        name = self.display_name(self.path)
        require_file(self.path, name)
        scan_decodable(self.path, self.options.encoding, name)
        with self.path.open(encoding=self.options.encoding) as fh:
            for line, text in enumerate(fh, start=1):
                try:
                    obj = json.loads(text) if text.strip() else None
                except json.JSONDecodeError:
                    continue  # read() rejects this line; a later line may be fine
                if not isinstance(obj, dict):
                    continue
                fields = flatten(obj)
                for col in self.options.key_columns:
                    if col not in fields:
                        raise InputError(
                            name, "key field missing in the first object", line=line, column=col
                        )
                return

    def read(self) -> Iterator[SourceRecord | Reject]:
        """Stream the lines as SourceRecords (Rejects for bad JSON and empty keys)."""
        name = self.display_name(self.path)
        require_file(self.path, name)
        key_cols = self.options.key_columns
        line = 0
        try:
            with self.path.open(encoding=self.options.encoding) as fh:
                for line, text in enumerate(fh, start=1):
                    if not text.strip():
                        continue
                    origin = Origin(name, line)
                    try:
                        obj = json.loads(text)
                    except json.JSONDecodeError as exc:
                        # exc.msg names the syntax problem and position, never the content.
                        yield Reject(origin, "", f"invalid JSON: {exc.msg} at column {exc.colno}")
                        continue
                    yield record_from_object(obj, origin, key_cols)
        except UnicodeDecodeError:
            raise SourceError(f"{name}:{line + 1}: not valid {self.options.encoding}") from None
