"""connector.api: the stable surface plugins import (docs/extending.md)."""

from __future__ import annotations

import importlib
from pathlib import Path

import connector
import connector.api as api
from connector import errors, records
from connector.mapping import transforms
from connector.sources import base

ROOT = Path(__file__).resolve().parents[3]

# The promise: these names, meaning these objects. Removing or re-pointing one breaks plugins,
# so it must be a deliberate change here (and an API_VERSION bump), not an accident.
STABLE = {
    "ConfigError": errors.ConfigError,
    "InputError": errors.InputError,
    "SourceError": errors.SourceError,
    "Origin": records.Origin,
    "Reject": records.Reject,
    "SourceRecord": records.SourceRecord,
    "Transform": transforms.Transform,
    "TransformContext": transforms.TransformContext,
    "TransformError": transforms.TransformError,
    "TransformOptions": transforms.TransformOptions,
    "transform": transforms.transform,
    "bound_transform": transforms.bound_transform,
    "transforms": transforms.registry,
    "Source": base.Source,
    "FileSource": base.FileSource,
    "SourceOptions": base.SourceOptions,
    "NUL_REASON": base.NUL_REASON,
    "build_key": base.build_key,
    "check_encoding": base.check_encoding,
    "empty_key": base.empty_key,
    "require_file": base.require_file,
    "scan_decodable": base.scan_decodable,
    "scrub_cells": base.scrub_cells,
    "scrub_fields": base.scrub_fields,
    "sources": base.registry,
}


def test_every_stable_name_is_exported_and_is_the_internal_object():
    assert set(api.__all__) == {*STABLE, "API_VERSION"}
    for name, obj in STABLE.items():
        assert getattr(api, name) is obj, name
    assert api.API_VERSION == 1


def test_the_package_docstring_points_at_a_module_that_exists():
    assert "connector.api" in (connector.__doc__ or "")
    assert importlib.import_module("connector.api") is api


def test_the_guide_named_in_pyproject_exists_and_imports_only_the_stable_surface():
    assert "docs/extending.md" in (ROOT / "pyproject.toml").read_text("utf-8")
    guide = (ROOT / "docs" / "extending.md").read_text("utf-8")
    imports = {
        line.split()[1]
        for line in guide.splitlines()
        if line.startswith(("from connector", "import connector"))
    }
    assert imports <= {"connector.api", "connector.testing"}, imports


def test_a_plugin_registered_through_the_api_is_used_by_a_mapping_chain():
    @api.transform("h13_api_probe")
    def probe(value, options, ctx):
        return value + "!"

    # The built-ins load on first use: load them before the snapshot, or restoring it would
    # leave a loaded registry without them for every later test (an order dependence).
    api.transforms.entries()
    saved = dict(api.transforms._entries)
    try:
        api.transforms.register("h13_api_probe", probe, package="test")
        chain = transforms.compile_chain(["strip", "h13_api_probe"], ctx=api.TransformContext())
        assert chain(" a ") == "a!"
    finally:
        api.transforms._entries = saved
