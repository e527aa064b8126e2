"""Text transforms: strip, lower, upper, title, collapse_whitespace, truncate, default, map,
concat."""

from __future__ import annotations

from datetime import date

import pytest

from connector.mapping.transforms import (
    TransformContext,
    TransformError,
    TransformSpecError,
    compile_chain,
)
from connector.mapping.transforms.text import title_case


@pytest.fixture
def ctx() -> TransformContext:
    return TransformContext(today=date(2025, 9, 1))


def run(spec, value, ctx):
    return compile_chain([spec], ctx=ctx)(value)


@pytest.mark.parametrize(
    ("spec", "value", "expected"),
    [
        ("strip", "  Jan  ", "Jan"),
        ("strip", "   ", None),
        ("strip", "", None),
        ("strip", 42, "42"),
        ("lower", "JAN", "jan"),
        ("lower", "", None),
        ("lower", True, "true"),
        ("upper", "ab 12", "AB 12"),
        ("upper", 1.5, "1.5"),
        ("collapse_whitespace", "  Jan \t de\n Vries ", "Jan de Vries"),
        ("collapse_whitespace", " \t ", None),
    ],
)
def test_simple_text(spec, value, expected, ctx: TransformContext) -> None:
    assert run(spec, value, ctx) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("de vries", "De Vries"),
        ("jan de vries", "Jan de Vries"),
        ("VAN DER BERG", "Van der Berg"),
        ("pieter van 't hek", "Pieter van 't Hek"),
        ("ijsselstein", "IJsselstein"),
        ("anna jansen-van dijk", "Anna Jansen-van Dijk"),
        ("  MARIE   ", "Marie"),
    ],
)
def test_title_is_dutch_aware(value, expected, ctx: TransformContext) -> None:
    assert run("title", value, ctx) == expected
    assert title_case(value) == expected


def test_truncate_warns_without_the_value(ctx: TransformContext) -> None:
    chain = compile_chain(["truncate:5"], ctx=ctx)
    assert chain("abcde") == "abcde"
    assert ctx.warnings == []
    assert chain("Geheimstraat 12") == "Gehei"
    assert ctx.warnings == ["truncated to 5 characters"]
    assert chain(123456) == "12345"
    assert len(ctx.warnings) == 2


def test_default(ctx: TransformContext) -> None:
    chain = compile_chain([{"default": {"value": "onbekend"}}], ctx=ctx)
    assert chain(None) == "onbekend"
    assert chain("") == "onbekend"
    assert chain("x") == "x"
    assert run({"default": {"value": 0}}, None, ctx) == 0
    with pytest.raises(TransformSpecError, match="value: Field required"):
        compile_chain(["default"], ctx=ctx)


def test_map_for_picklists(ctx: TransformContext) -> None:
    chain = compile_chain([{"map": {"values": {"ja": True, "nee": False}}}], ctx=ctx)
    assert chain("ja") is True
    assert chain(" NEE ") is False
    with pytest.raises(TransformError, match=r"^value not in the map's table$"):
        chain("misschien")


def test_map_keys_from_yaml_scalars(ctx: TransformContext) -> None:
    # YAML turns `1:` and `true:` into int and bool keys; they still match the cell text.
    chain = compile_chain([{"map": {"values": {1: "Man", 2: "Vrouw"}}}], ctx=ctx)
    assert chain("1") == "Man"
    assert chain(2) == "Vrouw"
    chain = compile_chain([{"map": {"values": {True: "Ja", False: "Nee"}}}], ctx=ctx)
    assert chain("TRUE") == "Ja"
    assert chain(True) == "Ja"
    assert chain("false") == "Nee"


def test_map_default_and_case(ctx: TransformContext) -> None:
    values = {"MBO-4": "Level 4"}
    assert run({"map": {"values": values, "default": "Other"}}, "x", ctx) == "Other"
    assert run({"map": {"values": values, "default": None}}, "x", ctx) is None  # explicit null
    exact = compile_chain([{"map": {"values": values, "case_sensitive": True}}], ctx=ctx)
    assert exact("MBO-4") == "Level 4"
    with pytest.raises(TransformError):
        exact("mbo-4")
    with pytest.raises(TransformSpecError, match="differ only in case"):
        compile_chain([{"map": {"values": {"A": 1, "a": 2}}}], ctx=ctx)
    with pytest.raises(TransformSpecError, match="values"):
        compile_chain([{"map": {"values": {}}}], ctx=ctx)
    with pytest.raises(TransformSpecError, match="values: Field required"):
        compile_chain(["map"], ctx=ctx)


def test_concat(ctx: TransformContext) -> None:
    assert run({"concat": {"prefix": "SIS-"}}, 123, ctx) == "SIS-123"
    assert run({"concat": {"suffix": " (SIS)"}}, "x", ctx) == "x (SIS)"
    spec = {"concat": {"parts": ["b", "c"], "separator": "/"}}
    assert run(spec, "a", ctx) == "a/b/c"
    # Several columns arrive as a list from the mapping engine: empty ones drop out.
    spec = {"concat": {"separator": " "}}
    assert run(spec, ["Dorpsstraat", None, "12", ""], ctx) == "Dorpsstraat 12"
    assert run(spec, [None, ""], ctx) is None
    assert run({"concat": {"template": "[{value}]"}}, "x", ctx) == "[x]"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"template": "{value} {other}"}, "no other placeholder"),
        ({"template": "{value", "prefix": ""}, "unbalanced"),
        ({"template": "{value}", "prefix": "x"}, "cannot be combined"),
        ({"template": "no placeholder"}, "must use {value}"),
    ],
)
def test_concat_template_checked_at_compile(options, message, ctx: TransformContext) -> None:
    with pytest.raises(TransformSpecError, match=message):
        compile_chain([{"concat": options}], ctx=ctx)
