"""The Source contract, the source registry and helpers every source shares.

A source reads one input (a CSV file, a OneRoster folder, a JSON Lines file, a paged HTTP API)
and yields :class:`~connector.records.SourceRecord` for every usable row and
:class:`~connector.records.Reject` for every row it cannot use. ``check()`` runs before anything
is written and refuses a whole input that cannot be used (missing key column, undecodable).

Sources never log or raise with values: messages name the file, line and column only.

Control characters (the one rule every source applies, through :func:`scrub_cells` and
:func:`scrub_fields`): a value holding a NUL character rejects its row, naming file, line and
column (``NUL_REASON``); every other C0 control character except tab, CR and LF, DEL, the C1
controls (U+0080–U+009F), the line/paragraph separators U+2028/U+2029 and the invisible format
characters of :data:`CONTROL` (zero-width space, bidi marks, embeddings, overrides and isolates,
word joiner, a BOM inside text) are removed from the value. Why: none of them is text a person
typed; XML 1.0 (the SOAP API, and Salesforce's own storage of text) cannot carry C0 controls at
all, and the others are invisible in Salesforce's UI while still making two values differ.
Header names follow the same rule (a NUL in a header is an InputError).
"""

from __future__ import annotations

import codecs
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from connector.errors import ConfigError, InputError
from connector.hashing import join_key
from connector.records import Origin, Reject, SourceRecord
from connector.registry import Registry

EMPTY_KEY = "empty key"
NUL_REASON = "NUL character in the value"
#: What is removed from values (tab, CR and LF are kept; NUL rejects the row instead).
# Also the invisible format characters that change what a value looks like or which values
# look alike: zero-width space U+200B, LRM/RLM U+200E/F, the bidi embeddings and overrides
# U+202A-202E ("\u202eaidaN" shows as "Nadia"), the word joiner U+2060, the bidi isolates
# U+2066-2069 and a BOM (U+FEFF) inside the text (a file's own BOM goes with utf-8-sig).
# Zero-width (non-)joiners U+200C/D stay: scripts and emoji sequences need them.
CONTROL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029"
    "\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]"
)
# The same characters in UTF-8 bytes, searched in what is left of a chunk once the plain
# printable ASCII is deleted (bytes.translate runs at memory speed, the str regex does not).
_CONTROL_UTF8 = re.compile(
    rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\xc2[\x80-\x9f]"
    rb"|\xe2\x80[\x8b\x8e\x8f\xa8-\xae]|\xe2\x81[\xa0\xa6-\xa9]|\xef\xbb\xbf"
)
_PLAIN_ASCII = bytes([9, 10, 13, *range(0x20, 0x7F)])


class SourceOptions(BaseModel):
    """Options every source has: ``key`` (one column or several for a composite key)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str | list[str]

    @field_validator("key")
    @classmethod
    def _key_not_empty(cls, value: str | list[str]) -> str | list[str]:
        parts = [value] if isinstance(value, str) else value
        if not parts or any(not p.strip() for p in parts):
            raise ValueError("key must name at least one non-empty column")
        return value

    @property
    def key_columns(self) -> list[str]:
        """The key column(s) as a list, stripped."""
        return [self.key.strip()] if isinstance(self.key, str) else [k.strip() for k in self.key]


def check_encoding(value: str) -> str:
    """Validator helper: ``value`` names a codec Python knows (e.g. utf-8-sig, cp1252, latin-1)."""
    try:
        codecs.lookup(value)
    except LookupError:
        raise ValueError(f"unknown encoding {value!r}") from None
    return value


class Source(ABC):
    """One input the connector reads records from.

    Subclasses set ``kind`` and ``Options`` (a pydantic model with ``extra="forbid"``: the
    mapping's ``source:`` block without ``kind``).

    Args:
        options: a validated ``Options`` instance.
        base_dir: the project directory relative paths are resolved against.
        env: environment for secrets (defaults to ``os.environ``).
    """

    kind: ClassVar[str]
    Options: ClassVar[type[BaseModel]]

    def __init__(self, options: BaseModel, *, base_dir: Path, env: Mapping[str, str] | None = None):
        if not isinstance(options, self.Options):
            raise TypeError(f"{type(self).__name__} needs {self.Options.__name__} options")
        self.options = options
        self.base_dir = Path(base_dir)
        self.env: Mapping[str, str] = os.environ if env is None else env

    @abstractmethod
    def check(self) -> None:
        """Refuse an unusable input before anything is written (raises InputError)."""

    @abstractmethod
    def read(self) -> Iterator[SourceRecord | Reject]:
        """Stream the records; a bad row becomes a Reject and reading continues."""

    def holds_everything(self) -> bool | None:
        """After :meth:`read`: False when what was read holds only changes (a OneRoster delta
        file), so a record it did not hold has not left the school's system; None when the
        source cannot tell, and the mapping's ``full_export`` decides (export_guard.py)."""
        return None

    #: The columns the mapping reads, as :meth:`require_columns` was told them: a reject may
    #: name these (they come from the mapping); other field names are input.
    read_columns: tuple[str, ...] = ()

    def require_columns(self, columns: Collection[str]) -> None:
        """Refuse (InputError) an input with a fixed header that lacks one of ``columns``.

        The engine calls it after :meth:`check` with every column the mapping reads: a column
        renamed or left out of an export would otherwise read as empty on every row and clear
        its field in Salesforce for everyone. The default only remembers them
        (:attr:`read_columns`): records of JSON or an API may each hold other fields, and an
        absent one is an empty value.
        """
        self.read_columns = tuple(columns)

    # helpers for file sources -------------------------------------------------------------

    def resolve(self, path: str | Path) -> Path:
        """``path`` relative to the project directory (absolute paths are kept)."""
        p = Path(path)
        return p if p.is_absolute() else self.base_dir / p

    def display_name(self, path: Path) -> str:
        """The file name shown in origins and errors: relative to base_dir when possible."""
        try:
            return Path(os.path.relpath(path.resolve(), self.base_dir.resolve())).as_posix()
        except ValueError:  # another drive (Windows): no relative path exists
            return path.as_posix()
        except (RuntimeError, OSError):  # a symlink loop: require_file names the problem
            return Path(os.path.relpath(path, self.base_dir)).as_posix()


class FileSource(Source):
    """A source that reads the file (or folder) its options name as ``path``."""

    @property
    def path(self) -> Path:
        """``options.path``, resolved against the project directory."""
        return self.resolve(self.options.path)  # type: ignore[attr-defined]


def build_key(values: Sequence[object], columns: list[str]) -> tuple[str | None, str]:
    """The record key from the key column values: ``(key, "")`` or ``(None, bad_column)``.

    Parts are stripped; a composite key is joined with :func:`connector.hashing.join_key`. A
    missing or empty part makes the whole key empty (the row is rejected on that column).
    """
    parts: list[str] = []
    for value, column in zip(values, columns, strict=True):
        text = "" if value is None else (value if isinstance(value, str) else str(value)).strip()
        if not text:
            return None, column
        parts.append(text)
    return (parts[0] if len(parts) == 1 else join_key(parts)), ""


def empty_key(origin: Origin, column: str) -> Reject:
    """The Reject for a row whose key column is empty."""
    return Reject(origin, column, EMPTY_KEY)


def has_controls(text: str) -> bool:
    """True when ``text`` holds a character of the control rule (NUL included).

    Fast for whole chunks of a file: printable ASCII is deleted at memory speed and only the
    rest is searched (a str regex over every character would cost ~7 ms per MB).
    """
    if text.isascii():
        return bool(text.encode("ascii").translate(None, _PLAIN_ASCII))
    rest = text.encode("utf-8", "surrogatepass").translate(None, _PLAIN_ASCII)
    return _CONTROL_UTF8.search(rest) is not None


def scrub_cells(cells: list[str]) -> list[str] | int:
    """Apply the control rule to one row's cells.

    Returns ``cells`` itself when nothing is to be removed, a new list with the control
    characters removed, or the index of the first cell holding a NUL (the row is rejected).
    """
    if not CONTROL.search("".join(cells)):
        return cells
    out: list[str] = []
    for i, cell in enumerate(cells):
        if CONTROL.search(cell):
            if "\x00" in cell:
                return i
            cell = CONTROL.sub("", cell)
        out.append(cell)
    return out


def scrub_fields(fields: dict[str, Any]) -> dict[str, Any] | str:
    """Apply the control rule to decoded JSON fields (strings, also inside lists and objects).

    Returns ``fields`` itself when clean, a cleaned copy, or the name of the first field
    holding a NUL (the record is rejected on that column).
    """
    out: dict[str, Any] | None = None
    for name, value in fields.items():
        clean = _scrub_value(value)
        if clean is _HAS_NUL:
            return name
        if clean is not value:
            if out is None:
                out = dict(fields)
            out[name] = clean
    return fields if out is None else out


_HAS_NUL = object()


def _scrub_value(value: object) -> object:
    """``value`` with the control rule applied; ``_HAS_NUL`` when it holds a NUL."""
    if isinstance(value, str):
        if not CONTROL.search(value):
            return value
        return _HAS_NUL if "\x00" in value else CONTROL.sub("", value)
    if isinstance(value, list):
        items = [_scrub_value(v) for v in value]
        if any(v is _HAS_NUL for v in items):
            return _HAS_NUL
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    if isinstance(value, dict):
        scrubbed = scrub_fields(value)
        return _HAS_NUL if isinstance(scrubbed, str) else scrubbed
    return value


def scan_decodable(
    path: Path,
    encoding: str,
    display: str,
    chunk_size: int = 1 << 20,
    observe: Callable[[str], None] | None = None,
) -> None:
    """Decode the whole file in chunks; InputError naming the line of the first bad byte.

    A streaming byte scan: memory stays at one chunk, and the C decoders make it fast. Run
    from ``check()`` so an undecodable file is refused before any write. ``observe``, when
    given, sees every decoded chunk in order (the CSV pre-scans ride on this one decode).
    """
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    consumed = 0  # bytes read before the current chunk
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(chunk_size):
                pending = decoder.getstate()[0]
                try:
                    text = decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    # Lines are counted only now, on this rare path: counting them in every
                    # chunk cost a nightly ~20 ms of 12 MB (three byte counts a chunk).
                    newlines, after_cr = _breaks_before(path, consumed, chunk_size)
                    seen = _breaks(exc.object[: exc.start], after_cr) - _breaks(pending, after_cr)
                    raise InputError(
                        display,
                        f"not valid {encoding}; set `encoding:` to the file's encoding",
                        line=newlines + seen + 1,
                    ) from None
                consumed += len(chunk)
                if observe is not None and text:
                    observe(text)
            tail = decoder.decode(b"", final=True)
            if observe is not None and tail:
                observe(tail)
    except UnicodeDecodeError:
        raise InputError(display, f"not valid {encoding}: truncated at end of file") from None
    except OSError as exc:
        raise InputError(display, f"cannot read: {exc.strerror or type(exc).__name__}") from None


def _breaks_before(path: Path, size: int, chunk_size: int) -> tuple[int, bool]:
    """Line breaks in the first ``size`` bytes of ``path`` (as :func:`_breaks` counts them),
    and whether those bytes end with a CR."""
    newlines, after_cr = 0, False
    with path.open("rb") as fh:
        while size > 0 and (chunk := fh.read(min(chunk_size, size))):
            newlines += _breaks(chunk, after_cr)
            after_cr = chunk.endswith(b"\r")
            size -= len(chunk)
    return newlines, after_cr


def _breaks(data: bytes, after_cr: bool) -> int:
    """Line breaks in ``data`` as ``csv``'s reader counts them (see ``prescan.line_breaks``)."""
    n = data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")
    return n - 1 if after_cr and data[:1] == b"\n" else n


def require_file(path: Path, display: str) -> None:
    """InputError unless ``path`` is an existing, readable regular file."""
    if not path.is_file():
        if path.exists():
            raise InputError(display, "not a regular file (a folder, device or pipe)")
        if path.is_symlink():
            raise InputError(display, "a symbolic link that leads nowhere (or to itself)")
        raise InputError(display, "file not found")
    if not os.access(path, os.R_OK):
        raise InputError(display, "file not readable")


def _is_source_class(value: object) -> bool:
    return isinstance(value, type) and issubclass(value, Source)


registry: Registry[type[Source]] = Registry("source", "connector.sources", check=_is_source_class)


def options_model(kind: str) -> type[BaseModel]:
    """The Options model of source ``kind`` (UnknownPluginError for an unknown kind)."""
    return registry.get(kind).Options


def open_source(
    spec: Mapping[str, Any], *, base_dir: Path, env: Mapping[str, str] | None = None
) -> Source:
    """Build the source a mapping's ``source:`` block describes.

    Args:
        spec: the ``source:`` block, including ``kind``.
        base_dir: the project directory relative paths are resolved against.
        env: environment for secrets (defaults to ``os.environ``).

    Raises:
        ConfigError: ``kind`` missing or the options are invalid (every problem listed).
        UnknownPluginError: no source of that kind is registered.
    """
    kind = spec.get("kind")
    if not isinstance(kind, str) or not kind:
        raise ConfigError("source: `kind` is required (e.g. csv, oneroster, jsonl, http)")
    cls = registry.get(kind)
    body = {k: v for k, v in spec.items() if k != "kind"}
    try:
        options = cls.Options.model_validate(body)
    except ValidationError as exc:
        raise ConfigError(f"source ({kind}): {describe_validation_error(exc)}") from None
    return cls(options, base_dir=base_dir, env=env)


def describe_validation_error(exc: ValidationError) -> str:
    """A readable, value-free summary of a pydantic ValidationError (``loc: message; …``)."""
    parts = []
    for err in exc.errors(include_input=False, include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "(options)"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)
