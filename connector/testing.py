"""Test helpers for plugin authors: run a transform or a source the way a sync does.

Use them from a plugin's own tests (docs/extending.md, "Testing a plugin")::

    # conftest.py of the plugin
    pytest_plugins = ["connector.testing"]

    # test_my_plugin.py
    from connector.testing import run_transform, read_source

    def test_shout(sis_sync_plugins):
        sis_sync_plugins.transform(shout)            # registered for this test only
        assert run_transform(["strip", "shout"], " hi ") == "HI!"

The helpers go through the same code a run uses (:func:`compile_chain` with its option checks
and error wrapping; ``Source.check()`` before ``read()``), so a test that passes here behaves
the same in a mapping. Nothing here touches Salesforce, state or the network.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from connector.hashing import KeyHasher
from connector.mapping.transforms import Transform, TransformContext, compile_chain
from connector.mapping.transforms import registry as transform_registry
from connector.records import Reject, SourceRecord
from connector.registry import Registry
from connector.sources.base import Source, open_source
from connector.sources.base import registry as source_registry

__all__ = [
    "PluginRegistrations",
    "SourceRun",
    "TransformRun",
    "read_source",
    "run_transform",
    "run_transform_full",
    "sis_sync_plugins",
]

# A transform spec as a mapping's ``transform:`` holds it: one entry, or a list (or tuple) of them.
_Spec = (
    str | Mapping[str, Any] | list[str | Mapping[str, Any]] | tuple[str | Mapping[str, Any], ...]
)

#: A fixed secret for keyed hashes in tests (64 hex characters, like a generated one).
TEST_SECRET = "0" * 64


@dataclass
class TransformRun:
    """The result of :func:`run_transform_full`: the value and the warnings the chain added."""

    value: Any
    warnings: list[str] = field(default_factory=list)


def run_transform_full(
    spec: _Spec,
    value: Any,
    *,
    today: date | None = None,
    secret: str | None = TEST_SECRET,
) -> TransformRun:
    """Compile ``spec`` as a mapping's ``transform:`` entry and apply it to ``value``.

    Args:
        spec: one entry (``"date:%d-%m-%Y"``, ``{"truncate": {"length": 5}}``) or a list.
        value: the input value (``None`` is "no value", as in a run).
        today: the school's date the chain sees (default: the real one).
        secret: the key for ``hash`` and ``ctx.hasher`` (``None``: no hasher, as without
            ``SIS_SYNC_SECRET``).

    Raises:
        TransformSpecError: the spec is wrong (unknown name, bad options), as at mapping load.
        TransformError: the value does not fit, as when a run rejects a row.
    """
    ctx = TransformContext(hasher=KeyHasher(secret) if secret else None, today=today)
    chain = compile_chain(spec if isinstance(spec, list | tuple) else [spec], ctx=ctx)
    out = chain(value)
    return TransformRun(out, list(ctx.warnings))


def run_transform(
    spec: _Spec,
    value: Any,
    *,
    today: date | None = None,
    secret: str | None = TEST_SECRET,
) -> Any:
    """The value ``spec`` turns ``value`` into (see :func:`run_transform_full`)."""
    return run_transform_full(spec, value, today=today, secret=secret).value


@dataclass
class SourceRun:
    """What a source read: its records and rejects, in order."""

    records: list[SourceRecord]
    rejects: list[Reject]

    def fields(self) -> list[dict[str, Any]]:
        """The records' fields as plain dicts (for equality checks)."""
        return [dict(r.fields) for r in self.records]

    def reject_lines(self) -> list[tuple[int, str, str]]:
        """``(line, column, reason)`` per reject: what the run report shows."""
        return [(r.origin.line, r.column, r.reason) for r in self.rejects]


def read_source(
    spec: Mapping[str, Any] | Source,
    base_dir: Path | str = ".",
    env: Mapping[str, str] | None = None,
) -> SourceRun:
    """Build the source a mapping's ``source:`` block describes, check it, and read it all.

    Args:
        spec: the ``source:`` block with ``kind`` (options are validated like at mapping
            load), or a source instance.
        base_dir: the project folder relative paths resolve against.
        env: the environment the source sees (secrets); default: none at all, so a test never
            depends on the developer's shell.

    Raises:
        ConfigError / UnknownPluginError: bad options or unknown kind, as at mapping load.
        InputError: ``check()`` refused the input (nothing would be written).
    """
    source = (
        spec
        if isinstance(spec, Source)
        else open_source(spec, base_dir=Path(base_dir), env={} if env is None else env)
    )
    source.check()
    records: list[SourceRecord] = []
    rejects: list[Reject] = []
    for item in source.read():
        (rejects if isinstance(item, Reject) else records).append(item)  # type: ignore[arg-type]
    return SourceRun(records, rejects)


class PluginRegistrations:
    """Registers plugins in-process for one test; the registries are restored afterwards."""

    def __init__(self) -> None:
        self._saved: list[tuple[Registry[Any], dict[str, Any]]] = []

    def _save(self, registry: Registry[Any]) -> None:
        if all(r is not registry for r, _ in self._saved):
            registry.entries()  # load the entry points first, so restoring keeps them
            self._saved.append((registry, dict(registry._entries)))

    def transform(self, t: Transform, name: str | None = None) -> Transform:
        """Register transform ``t`` (under ``name``, default its own) until the test ends."""
        self._save(transform_registry)
        transform_registry.register(name or t.name, t, package="(test)")
        return t

    def source(self, cls: type[Source], kind: str | None = None) -> type[Source]:
        """Register source class ``cls`` (under ``kind``, default ``cls.kind``) for the test."""
        self._save(source_registry)
        source_registry.register(kind or cls.kind, cls, package="(test)")
        return cls

    def restore(self) -> None:
        """Put every touched registry back as it was."""
        for registry, entries in self._saved:
            registry._entries = entries
        self._saved.clear()


@pytest.fixture
def sis_sync_plugins() -> Iterator[PluginRegistrations]:
    """Register transforms and sources for one test only (``.transform(t)``, ``.source(C)``)."""
    regs = PluginRegistrations()
    try:
        yield regs
    finally:
        regs.restore()
