"""JSON Lines files (one JSON object per line) as a source, e.g. event-platform exports.

Broken and hostile input: an empty file (or blank lines only) reads zero records without
error, as JSON Lines has no header (the run report warns about an empty export); a line that
is not JSON is rejected with its line; control characters in values follow the rule of
:mod:`connector.sources.base` (a NUL rejects the record, naming the field; the others are
removed), also when they arrive as ``\\u`` escapes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Container, Iterable, Iterator, Mapping
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

KEY_NOT_SCALAR = (
    "the key is not a text or a whole number (a list, an object, true/false, a fraction)"
)


# Lists and objects nested deeper than this reject their record: every helper that walks a
# value (control rule, surrogates, flattening, hashing) recurses, and a line nested ~450 deep
# that json.loads accepts stopped the whole mapping (RecursionError, exit 70). No export
# nests records a tenth as deep.
MAX_DEPTH = 64
TOO_DEEP = f"lists or objects nested deeper than {MAX_DEPTH} levels"
# What a reject shows for a field the mapping does not read: a JSON member name is input, and
# exports key objects by e-mail address, student number or name (the CSV header rule, too).
UNREAD_FIELD = "(a field the mapping does not read)"


def nested_too_deep(value: object) -> bool:
    """True when lists and objects in ``value`` nest deeper than :data:`MAX_DEPTH`
    (iterative: the check itself must not recurse)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        assert isinstance(children, Iterable)
        inner = [c for c in children if isinstance(c, dict | list)]
        if inner and depth >= MAX_DEPTH:
            return True
        stack.extend((c, depth + 1) for c in inner)
    return False


def _has_surrogate(value: object) -> bool:
    """True when a string in ``value`` (also inside lists and objects) holds a lone surrogate."""
    if isinstance(value, str):
        if value.isascii():
            return False
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, list):
        return any(_has_surrogate(v) for v in value)
    if isinstance(value, dict):
        return any(_has_surrogate(v) for v in value.values())
    return False


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


class _Refused(ValueError):
    """A number ``json.loads`` would accept that no record may hold (its text is the reason)."""


def _no_constant(name: str) -> object:
    raise _Refused("NaN and Infinity are no JSON numbers")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400
        raise _Refused("a number too large for a float")
    return value


def loads_line(text: str) -> object:
    """One JSON value, or ValueError with a reason that never quotes the text.

    Stricter than ``json.loads``: ``NaN``/``Infinity`` (not JSON, RFC 8259 §6) and numbers
    that overflow to infinity are refused, and the errors ``json.loads`` raises past its
    syntax errors — an integer of more than 4,300 digits (Python's conversion limit), a
    value nested deeper than the interpreter's recursion limit — become a reason too: the
    line is rejected and reading goes on, where they stopped the whole run.
    """
    try:
        return json.loads(
            text,
            parse_constant=_no_constant,
            parse_float=_finite,
            object_pairs_hook=_unique_members,
        )
    except json.JSONDecodeError as exc:
        # exc.msg names the syntax problem and position, never the content.
        raise ValueError(f"invalid JSON: {exc.msg} at column {exc.colno}") from None
    except _Refused as exc:
        raise ValueError(f"invalid JSON: {exc}") from None
    except NameClash:  # the member's name is input: not in the reason
        raise ValueError(NAME_CLASH) from None
    except RecursionError:
        raise ValueError("invalid JSON: nested too deeply") from None
    except ValueError:  # int() past Python's 4,300-digit limit
        raise ValueError("invalid JSON: a number with too many digits") from None


class NameClash(ValueError):
    """Two values of one object flatten to one dotted name (``name``: that name)."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


NAME_CLASH = "two values for one field name (a dotted name and a nested object, or a repeat)"


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object's members as a dict; :class:`NameClash` on a repeated name (``json``
    keeps the last value of ``{"a": 1, "a": 2}`` without a word: which one a mapping reads
    must not depend on the order of the members)."""
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise NameClash(name)
            seen.add(name)
    return out


class RepeatedMembers(dict[str, Any]):
    """A JSON object that named a member twice (the last value kept, as ``json`` does), with
    the names it repeated: :func:`flatten` refuses it, as :func:`loads_line` refuses a line."""

    repeated: frozenset[str] = frozenset()


def marking_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` for a document of many records (an HTTP page): a repeated member
    name marks its object (:class:`RepeatedMembers`) instead of failing the whole page, so
    only the record that holds it is rejected."""
    out = dict(pairs)
    if len(out) == len(pairs):
        return out
    seen: set[str] = set()
    repeated: set[str] = set()
    for name, _ in pairs:
        (repeated if name in seen else seen).add(name)
    marked = RepeatedMembers(out)
    marked.repeated = frozenset(repeated)
    return marked


def flatten(obj: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested objects flattened to dotted names; lists and scalars kept as they are.

    ``{"person": {"email": "x"}, "tags": [1]}`` → ``{"person.email": "x", "tags": [1]}``.
    Raises :class:`NameClash` when two values land on one name (``{"person.email": "a",
    "person": {"email": "b"}}``) or meets an object that named a member twice
    (:class:`RepeatedMembers`): which one a mapping would read must not depend on the order
    of the object's members.
    """
    if isinstance(obj, RepeatedMembers):
        raise NameClash(f"{prefix}{min(obj.repeated)}")
    out: dict[str, Any] = {}
    for name, value in obj.items():
        full = f"{prefix}{name}"
        if isinstance(value, dict):
            for inner, inner_value in flatten(value, full + ".").items():
                if inner in out:
                    raise NameClash(inner)
                out[inner] = inner_value
        elif full in out:
            raise NameClash(full)
        else:
            out[full] = value
    return out


def record_from_object(
    obj: object, origin: Origin, key_columns: list[str], read: Container[str] = ()
) -> SourceRecord | Reject:
    """A SourceRecord from one decoded JSON value (shared with the HTTP source).

    Control characters follow the rule of :mod:`connector.sources.base`. A reject names its
    field when it is one of ``read`` (the fields the mapping reads) or a key field; any other
    name is input (an object keyed by e-mail address) and is shown as :data:`UNREAD_FIELD`.
    """
    if not isinstance(obj, dict):
        return Reject(origin, "", f"not a JSON object (a {type(obj).__name__})")

    def shown(name: str) -> str:
        return name if name in read or name in key_columns else UNREAD_FIELD

    if nested_too_deep(obj):
        return Reject(origin, "", TOO_DEEP)
    try:
        flat = flatten(obj)
    except NameClash as clash:
        return Reject(origin, shown(clash.name), NAME_CLASH)
    scrubbed = scrub_fields(flat)
    if isinstance(scrubbed, str):
        return Reject(origin, shown(scrubbed), NUL_REASON)
    fields = scrubbed
    for name, value in fields.items():
        if not isinstance(value, int | float | None) and _has_surrogate(value):
            # "\ud800" decodes to a str no encoder can write (UTF-8, the hashes, Salesforce).
            return Reject(
                origin, shown(name), "a lone surrogate escape (\\ud800-\\udfff) is no character"
            )
    for column in key_columns:
        value = fields.get(column)
        if value is not None and (isinstance(value, bool) or not isinstance(value, str | int)):
            # str(true) is "True", str([…]) a Python list: no key a person's record has.
            return Reject(origin, column, KEY_NOT_SCALAR)
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
                    obj = loads_line(text) if text.strip() else None
                except ValueError:
                    continue  # read() rejects this line; a later line may be fine
                if not isinstance(obj, dict):
                    continue
                try:
                    fields = flatten(obj)
                except (NameClash, RecursionError):
                    continue  # read() rejects this line
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
                        obj = loads_line(text)
                    except ValueError as exc:
                        yield Reject(origin, "", str(exc))
                        continue
                    yield record_from_object(obj, origin, key_cols, self.read_columns)
        except UnicodeDecodeError:
            raise SourceError(f"{name}:{line + 1}: not valid {self.options.encoding}") from None
