"""The mapping language: YAML mapping files → validated models → compiled, fast mappings.

::

    project = load_project(settings.mappings)          # MappingError with every problem at once
    for name in project.order():                        # parents before children
        mapping = project.compile(name, hasher=hasher, today=today)
        result = mapping.apply(record)                  # MapResult | None (filtered out)
"""

from __future__ import annotations

from connector.mapping.compile import CompiledMapping, MapResult, compile_mapping
from connector.mapping.json_schema import mapping_json_schema, purposes_json_schema
from connector.mapping.loader import load_project
from connector.mapping.models import (
    FieldSpec,
    FilterSpec,
    IdentitySpec,
    LifecycleSpec,
    MappingSpec,
    RefSpec,
    TargetSpec,
    ValueFrom,
)
from connector.mapping.project import Project

__all__ = [
    "CompiledMapping",
    "FieldSpec",
    "FilterSpec",
    "IdentitySpec",
    "LifecycleSpec",
    "MapResult",
    "MappingSpec",
    "Project",
    "RefSpec",
    "TargetSpec",
    "ValueFrom",
    "compile_mapping",
    "load_project",
    "mapping_json_schema",
    "purposes_json_schema",
]
