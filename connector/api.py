"""The stable surface for plugin authors: everything a source or transform plugin may import.

Import from here, not from the modules behind it: those are internal and move between
releases; the names below keep their meaning within a major version (semantic versioning of
``sis-sync``). A name leaves this module only after one release that warns about it.

Transforms (see docs/extending.md, "A transform plugin"):

- :func:`transform` / :func:`bound_transform` turn a function into a :class:`Transform`;
  options are a :class:`TransformOptions` subclass (pydantic, ``extra="forbid"``);
- a bad value raises :class:`TransformError` with a message that never holds the value;
- :class:`TransformContext` gives ``hasher``, ``today`` and ``warnings``.

Sources (see docs/extending.md, "A source plugin"):

- subclass :class:`Source` (or :class:`FileSource` for one file named by ``path``), set
  ``kind`` and ``Options`` (a :class:`SourceOptions` subclass: ``key`` comes with it);
- ``check()`` refuses an unusable input with :class:`InputError` before anything is written;
- ``read()`` yields :class:`SourceRecord` per usable row and :class:`Reject` (with an
  :class:`Origin`: file and line) per unusable one;
- the helpers apply the rules every source shares: :func:`build_key`, :func:`empty_key`,
  :func:`require_file`, :func:`scan_decodable`, :func:`scrub_cells`, :func:`scrub_fields`,
  :func:`check_encoding`.

Register either through an entry point (``connector.transforms`` / ``connector.sources``) in
the plugin's pyproject.toml, or in-process with ``transforms.register(...)`` /
``sources.register(...)``. :mod:`connector.testing` holds the pytest helpers.
"""

from __future__ import annotations

from connector.errors import ConfigError, InputError, SourceError
from connector.mapping.transforms import (
    Transform,
    TransformContext,
    TransformError,
    TransformOptions,
    bound_transform,
    transform,
)
from connector.mapping.transforms import registry as transforms
from connector.records import Origin, Reject, SourceRecord
from connector.sources.base import (
    NUL_REASON,
    FileSource,
    Source,
    SourceOptions,
    build_key,
    check_encoding,
    empty_key,
    require_file,
    scan_decodable,
    scrub_cells,
    scrub_fields,
)
from connector.sources.base import registry as sources

API_VERSION = 1
"""Raised only when a name here changes meaning; plugins may check it at import."""

__all__ = [
    "API_VERSION",
    "NUL_REASON",
    "ConfigError",
    "FileSource",
    "InputError",
    "Origin",
    "Reject",
    "Source",
    "SourceError",
    "SourceOptions",
    "SourceRecord",
    "Transform",
    "TransformContext",
    "TransformError",
    "TransformOptions",
    "bound_transform",
    "build_key",
    "check_encoding",
    "empty_key",
    "require_file",
    "scan_decodable",
    "scrub_cells",
    "scrub_fields",
    "sources",
    "transform",
    "transforms",
]
