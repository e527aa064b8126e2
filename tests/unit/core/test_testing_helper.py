"""connector.testing: the helpers plugin authors use, and the worked examples of docs/extending.md.

Every ``python`` block of docs/extending.md is executed here, so the guide's plugins and its
example tests work as written.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

import connector.testing as testing_helper
from connector.mapping.transforms import (
    TransformContext,
    TransformError,
    TransformSpecError,
    bound_transform,
    compile_chain,
    transform,
)
from connector.mapping.transforms import registry as transform_registry
from connector.sources.base import registry as source_registry
from connector.testing import (
    read_source,
    run_transform,
    run_transform_full,
)

# The fixture plugin authors get with `pytest_plugins = ["connector.testing"]` in a conftest.
sis_sync_plugins = testing_helper.sis_sync_plugins

GUIDE = Path(__file__).resolve().parents[3] / "docs" / "extending.md"


def _guide_namespace() -> dict:
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text("utf-8"), flags=re.S)
    assert len(blocks) >= 4, "docs/extending.md lost its worked examples"
    ns: dict = {"__name__": "extending_guide"}
    for block in blocks:
        if "pytest_plugins" in block:
            continue  # the conftest line: this module imports the fixture instead
        exec(compile(block, str(GUIDE), "exec"), ns)
    return ns


def test_the_guides_transform_example_passes_its_own_test(sis_sync_plugins):
    ns = _guide_namespace()
    ns["test_initials"](sis_sync_plugins)


def test_the_guides_source_example_passes_its_own_test(sis_sync_plugins, tmp_path):
    ns = _guide_namespace()
    ns["test_json_array"](sis_sync_plugins, tmp_path)


def test_the_guides_source_refuses_a_file_that_is_not_an_array(sis_sync_plugins, tmp_path):
    ns = _guide_namespace()
    sis_sync_plugins.source(ns["JsonArraySource"])
    (tmp_path / "a.json").write_text('{"id": "1"}')
    with pytest.raises(Exception, match=r"a\.json: not a JSON array"):
        read_source({"kind": "json_array", "path": "a.json", "key": "id"}, base_dir=tmp_path)


def test_registrations_last_one_test_only(sis_sync_plugins):
    @transform("h13_probe")
    def probe(value, options, ctx):
        return value

    before_sources = source_registry.names()
    sis_sync_plugins.transform(probe)
    assert "h13_probe" in transform_registry.names()
    sis_sync_plugins.restore()
    assert "h13_probe" not in transform_registry.names()
    # the built-ins, loaded from entry points, are still there
    assert {"strip", "date", "hash"} <= set(transform_registry.names())
    assert source_registry.names() == before_sources


def test_run_transform_checks_options_like_a_mapping_load():
    with pytest.raises(TransformSpecError, match="length"):
        run_transform({"truncate": {"lenght": 3}}, "abcdef")
    with pytest.raises(TransformSpecError, match="unknown transform"):
        run_transform("no_such_transform", "x")


def test_run_transform_reports_warnings_and_rejects_like_a_run():
    out = run_transform_full({"truncate": {"length": 3}}, "abcdef")
    assert out.value == "abc" and out.warnings  # truncate reports a warning
    with pytest.raises(TransformError):
        run_transform("date:%d-%m-%Y", "31-31-2020")
    # hash uses the test secret: stable, and not the value
    assert run_transform("hash", "x") == run_transform("hash", "x") != "x"


def test_read_source_gives_records_and_rejects_of_a_builtin(tmp_path):
    (tmp_path / "s.csv").write_text("nr;naam\n1;An\n;Bo\n", encoding="utf-8")
    run = read_source(
        {"kind": "csv", "path": "s.csv", "key": "nr", "delimiter": ";"}, base_dir=tmp_path
    )
    assert run.fields() == [{"nr": "1", "naam": "An"}]
    assert run.reject_lines() == [(3, "nr", "empty key")]


def test_a_failing_plugin_shows_its_traceback_under_verbose_without_the_value(
    sis_sync_plugins, caplog
):
    @transform("h13_buggy")
    def buggy(value, options, ctx):
        return {}[value]  # KeyError('…the value…'): a bug in the plugin

    sis_sync_plugins.transform(buggy)
    secret_value = "Jansen-Personal-Value"
    chain = compile_chain(["h13_buggy"], ctx=TransformContext())
    with caplog.at_level(logging.DEBUG, logger="connector.plugins"):
        for _ in range(3):
            with pytest.raises(TransformError, match=r"h13_buggy failed \(KeyError\)"):
                chain(secret_value)
    text = caplog.text
    assert "Traceback (most recent call last)" in text
    assert "test_testing_helper.py" in text and "in buggy" in text
    assert "return {}[value]" in text  # the plugin's own source line
    assert secret_value not in text
    # once per compiled field, not once per row
    assert text.count("Traceback") == 1


def test_a_failing_plugin_logs_nothing_without_verbose(sis_sync_plugins, caplog):
    @transform("h13_buggy2")
    def buggy(value, options, ctx):
        raise RuntimeError(value)

    sis_sync_plugins.transform(buggy)
    with (
        caplog.at_level(logging.WARNING, logger="connector.plugins"),
        pytest.raises(TransformError),
    ):
        run_transform("h13_buggy2", "v")
    assert "Traceback" not in caplog.text


def test_a_failing_bound_plugin_is_a_rejected_value_with_its_traceback(sis_sync_plugins, caplog):
    @bound_transform("h13_bound_buggy")
    def make(options, ctx):
        table: dict[str, str] = {}

        def lookup(value):
            return None if value is None else table[value]  # KeyError('…the value…')

        return lookup

    sis_sync_plugins.transform(make)
    chain = compile_chain(["h13_bound_buggy"], ctx=TransformContext())
    with caplog.at_level(logging.DEBUG, logger="connector.plugins"):
        for _ in range(2):
            with pytest.raises(TransformError, match=r"h13_bound_buggy failed \(KeyError\)"):
                chain("Personal-Value-42")
    assert caplog.text.count("Traceback") == 1 and "in lookup" in caplog.text
    assert "Personal-Value-42" not in caplog.text
