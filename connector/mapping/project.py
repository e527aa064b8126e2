"""A loaded mappings folder: purposes.yaml plus every mapping, checked together."""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from connector.errors import ConfigError
from connector.mapping.models import MappingSpec
from connector.privacy.purposes import PurposesSpec

if TYPE_CHECKING:
    from connector.hashing import KeyHasher
    from connector.mapping.compile import CompiledMapping


@dataclass(frozen=True)
class Project:
    """Everything in one mappings folder, validated as a whole.

    Attributes:
        purposes: the purposes register (purposes.yaml).
        mappings: mapping name → spec.
        files: mapping name → the file it came from (``"purposes"`` → purposes.yaml).
        directory: the mappings folder.
    """

    purposes: PurposesSpec
    mappings: dict[str, MappingSpec]
    files: dict[str, Path] = field(default_factory=dict)
    directory: Path | None = None

    def order(self, names: Iterable[str] | None = None) -> list[str]:
        """Mapping names with parents before children (by ``ref``); ties in the given order.

        A job lists its mappings in the order an admin expects them to run (the SIS export
        before the event tool's registrations); refs only move a child after its parents.

        Args:
            names: only these mappings (their relative order still follows the refs); default
                every mapping.

        Raises:
            ConfigError: a name that is not a mapping of this project.
        """
        wanted = set(self.mappings) if names is None else set(names)
        unknown = sorted(wanted - set(self.mappings))
        if unknown:
            known = ", ".join(sorted(self.mappings))
            raise ConfigError(f"unknown mapping(s) {', '.join(unknown)}; known: {known}")
        # Kahn's algorithm over the whole graph (so an indirect parent still orders its
        # descendants), with a heap for a deterministic order; the loader refused cycles.
        children: dict[str, list[str]] = {n: [] for n in self.mappings}
        pending = {n: 0 for n in self.mappings}
        for name, spec in self.mappings.items():
            for parent in spec.parents():
                if parent in self.mappings and parent != name:
                    children[parent].append(name)
                    pending[name] += 1
        given = list(names) if names is not None else []
        rank: dict[str, tuple[int, int] | tuple[int, str]] = {
            n: (0, i) for i, n in enumerate(given)
        }
        rank.update({n: (1, n) for n in sorted(self.mappings) if n not in rank})
        ready = [(rank[n], n) for n, count in pending.items() if count == 0]
        heapq.heapify(ready)
        ordered: list[str] = []
        while ready:
            _, name = heapq.heappop(ready)
            ordered.append(name)
            for child in children[name]:
                pending[child] -= 1
                if pending[child] == 0:
                    heapq.heappush(ready, (rank[child], child))
        return [n for n in ordered if n in wanted]

    def compile(self, name: str, *, hasher: KeyHasher, today: date) -> CompiledMapping:
        """Compile mapping ``name``; its refs normalise parent keys like the parents do."""
        from connector.mapping.compile import compile_mapping

        return compile_mapping(
            self.mappings[name], self.purposes, hasher=hasher, today=today, parents=self.mappings
        )
