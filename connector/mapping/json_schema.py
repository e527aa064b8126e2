"""JSON Schemas of mapping files and purposes.yaml, for integrators' editors.

``sis-sync mapping-schema > mapping.schema.json`` and a ``# yaml-language-server: $schema=…``
line at the top of a mapping give completion and checking while typing. The schema covers the
file's shape; the rules that need the whole project (purposes exist, refs, forbidden columns,
transform options) are checked by ``sis-sync validate``.
"""

from __future__ import annotations

from typing import Any

from connector.mapping.models import MappingSpec
from connector.privacy.purposes import PurposesSpec

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def mapping_json_schema() -> dict[str, Any]:
    """The JSON Schema of one mapping file (keys as written in YAML, e.g. ``from``)."""
    schema = MappingSpec.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = SCHEMA_DIALECT
    schema["title"] = "sis-sync mapping"
    return schema


def purposes_json_schema() -> dict[str, Any]:
    """The JSON Schema of ``purposes.yaml``."""
    schema = PurposesSpec.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = SCHEMA_DIALECT
    schema["title"] = "sis-sync purposes register"
    return schema
