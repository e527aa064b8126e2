"""A small generic registry filled from entry points, used for sources and transforms.

Built-ins are registered through the same entry-point groups third parties use
(``connector.transforms``, ``connector.sources``), so the plugin path is exercised on every run.
``register()`` adds an entry in-process (tests, notebooks). Look-ups of unknown names raise
:class:`~connector.errors.UnknownPluginError` listing the known names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from connector.errors import UnknownPluginError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered plugin: its name, the object, and the distribution that provides it."""

    name: str
    value: T
    package: str


class Registry(Generic[T]):
    """Name → plugin, loaded lazily from one entry-point group plus in-process registrations."""

    def __init__(self, kind: str, group: str, check: Callable[[object], bool] | None = None):
        self.kind, self.group, self._check = kind, group, check
        self._entries: dict[str, Entry[T]] = {}
        self._loaded = False

    def register(self, name: str, value: T, *, package: str = "(in-process)") -> None:
        """Add or replace ``name``; rejects a value of the wrong type at once."""
        if self._check is not None and not self._check(value):
            raise TypeError(f"{self.kind} {name!r}: {value!r} is not a valid {self.kind}")
        self._entries[name] = Entry(name, value, package)

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for ep in entry_points(group=self.group):
            if ep.name in self._entries:
                continue
            package = ep.dist.name if ep.dist is not None else "?"
            self.register(ep.name, ep.load(), package=package)

    def get(self, name: str) -> T:
        """The plugin called ``name``; UnknownPluginError with the known names otherwise."""
        self._load()
        try:
            return self._entries[name].value
        except KeyError:
            raise UnknownPluginError(self.kind, name, list(self._entries)) from None

    def entries(self) -> list[Entry[T]]:
        """All registered plugins, sorted by name."""
        self._load()
        return sorted(self._entries.values(), key=lambda e: e.name)

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return [e.name for e in self.entries()]
