"""The transform registry, spec forms and compile_chain."""

from __future__ import annotations

import sys
import textwrap
from datetime import date

import pytest
from pydantic import BaseModel

from connector.errors import UsageError
from connector.hashing import KeyHasher
from connector.mapping.transforms import (
    Transform,
    TransformContext,
    TransformError,
    TransformOptions,
    TransformSpecError,
    compile_chain,
    registry,
    transform,
)
from connector.registry import Registry

BUILT_INS = {
    "strip", "lower", "upper", "title", "collapse_whitespace", "truncate", "default", "map",
    "concat", "date", "datetime_utc", "birth_year", "age_band", "phone_e164", "mobile_nl",
    "postcode_nl", "email", "hash",
}  # fmt: skip


@pytest.fixture
def ctx() -> TransformContext:
    return TransformContext(hasher=KeyHasher("test-secret"), today=date(2025, 9, 1))


@pytest.fixture
def scratch_registry(monkeypatch: pytest.MonkeyPatch) -> Registry[Transform]:
    """The global registry, with in-test registrations undone afterwards."""
    registry.entries()  # load the entry points first, so the copy holds the built-ins
    monkeypatch.setattr(registry, "_entries", dict(registry._entries))
    return registry


def test_built_ins_load_through_entry_points() -> None:
    entries = {e.name: e for e in registry.entries()}
    assert set(entries) >= BUILT_INS
    for name in BUILT_INS:
        assert entries[name].package == "sis-sync"
        assert isinstance(entries[name].value, Transform)
        assert entries[name].value.name == name
        assert entries[name].value.description  # listed by `sis-sync plugins`


def test_contract_names_compile(ctx: TransformContext) -> None:
    # DESIGN §5: these spellings are the contract.
    assert compile_chain(["strip", "lower", "email"], ctx=ctx)(" A@B.NL ") == "a@b.nl"
    assert compile_chain(["phone_e164"], ctx=ctx)("0612345678") == "+31612345678"
    assert compile_chain(["date:%d-%m-%Y"], ctx=ctx)("14-04-2011") == date(2011, 4, 14)


def test_unknown_name_lists_known_names(ctx: TransformContext) -> None:
    with pytest.raises(TransformSpecError) as info:
        compile_chain(["strip", "lowercase"], ctx=ctx)
    assert info.value.index == 1
    assert "lowercase" in info.value.message
    for name in ("lower", "strip", "postcode_nl"):
        assert name in info.value.message
    assert isinstance(info.value, UsageError)  # exit 2 if it ever escapes the loader


def test_bad_options_are_compile_errors(ctx: TransformContext) -> None:
    with pytest.raises(TransformSpecError, match=r"truncate: length: .*integer") as info:
        compile_chain(["strip", {"truncate": {"length": "forty"}}], ctx=ctx)
    assert info.value.index == 1
    assert "forty" not in str(info.value)  # pydantic's input is left out
    with pytest.raises(TransformSpecError, match="length"):
        compile_chain([{"truncate": {"length": 0}}], ctx=ctx)
    with pytest.raises(TransformSpecError, match=r"Field required"):
        compile_chain(["truncate"], ctx=ctx)
    with pytest.raises(TransformSpecError, match=r"extra_key: Extra inputs"):
        compile_chain([{"truncate": {"length": 3, "extra_key": 1}}], ctx=ctx)
    with pytest.raises(TransformSpecError, match="strip takes no options"):
        compile_chain([{"strip": {"chars": "x"}}], ctx=ctx)


def test_shorthand_fills_the_arg_option(ctx: TransformContext) -> None:
    assert compile_chain(["truncate:3"], ctx=ctx)("abcdef") == "abc"
    assert compile_chain(["date:%d/%m/%Y"], ctx=ctx)("1/05/2023") == date(2023, 5, 1)
    # A format with colons splits on the first one only.
    chain = compile_chain(["datetime_utc:%d-%m-%Y %H:%M"], ctx=ctx)
    assert chain("01-01-2024 13:00").isoformat() == "2024-01-01T12:00:00+00:00"
    # A mapping whose value is not a mapping is the arg too, and may be a list.
    chain = compile_chain([{"date": ["%d-%m-%Y", "%Y%m%d"]}], ctx=ctx)
    assert chain("20110414") == chain("14-04-2011") == date(2011, 4, 14)
    with pytest.raises(TransformSpecError, match="strip takes no shorthand argument"):
        compile_chain(["strip:x"], ctx=ctx)


def test_spec_shapes_that_are_refused(ctx: TransformContext) -> None:
    with pytest.raises(TransformSpecError, match="one name"):
        compile_chain([{"strip": None, "lower": None}], ctx=ctx)
    with pytest.raises(TransformSpecError, match="name"):
        compile_chain([42], ctx=ctx)  # type: ignore[list-item]
    # A bare name with options None/empty is fine.
    assert compile_chain([{"strip": None}, {"lower": {}}], ctx=ctx)(" X ") == "x"


def test_single_transform_is_the_function_itself(ctx: TransformContext) -> None:
    one = compile_chain(["strip"], ctx=ctx)
    assert one.__name__ == "run"  # the built-in's own closure, no chain wrapper around it
    assert compile_chain([], ctx=ctx)("same") == "same"
    assert compile_chain("strip", ctx=ctx)(" x ") == "x"  # a lone entry without brackets


def test_none_passes_through_every_built_in(ctx: TransformContext) -> None:
    specs = [
        "strip", "lower", "upper", "title", "collapse_whitespace", "truncate:3",
        {"map": {"values": {"a": 1}}}, {"concat": {"prefix": "x"}}, "date", "datetime_utc",
        "birth_year", "age_band", "phone_e164", "mobile_nl", "postcode_nl", "email", "hash",
    ]  # fmt: skip
    for spec in specs:
        assert compile_chain([spec], ctx=ctx)(None) is None, spec
    assert compile_chain(["strip", "default:onbekend"], ctx=ctx)("   ") == "onbekend"


def test_long_chains_run_in_order(ctx: TransformContext) -> None:
    chain = compile_chain(
        ["strip", "collapse_whitespace", "lower", "title", {"concat": {"suffix": "!"}}], ctx=ctx
    )
    assert chain("  JAN   DE  VRIES ") == "Jan de Vries!"
    assert compile_chain(["strip", "lower", "title"], ctx=ctx)(" DE VRIES") == "De Vries"


class ShoutOptions(TransformOptions):
    marks: int = 1


@transform("shout", options=ShoutOptions, arg="marks")
def shout(value, options, ctx):
    """Upper-case and add exclamation marks."""
    return str(value).upper() + "!" * options.marks


def test_register_a_custom_transform(
    scratch_registry: Registry[Transform], ctx: TransformContext
) -> None:
    scratch_registry.register("shout", shout)
    assert shout.description == "Upper-case and add exclamation marks."
    assert compile_chain(["strip", "shout:3"], ctx=ctx)(" hoi ") == "HOI!!!"
    assert compile_chain(["shout"], ctx=ctx)(None) is None  # handles_none=False
    with pytest.raises(TransformSpecError, match="marks"):
        compile_chain([{"shout": {"marks": "many"}}], ctx=ctx)
    with pytest.raises(TypeError):
        scratch_registry.register("bad", lambda v: v)  # type: ignore[arg-type]


def test_handles_none_and_plugin_failures_are_value_free(
    scratch_registry: Registry[Transform], ctx: TransformContext
) -> None:
    @transform("explode")
    def explode(value, options, ctx):
        raise KeyError(f"no entry for {value}")

    @transform("seen", handles_none=True)
    def seen(value, options, ctx):
        return "none" if value is None else value

    scratch_registry.register("explode", explode)
    scratch_registry.register("seen", seen)
    with pytest.raises(TransformError) as info:
        compile_chain(["explode"], ctx=ctx)("secret-value")
    assert str(info.value) == "explode failed (KeyError)"
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__
    assert compile_chain(["seen"], ctx=ctx)(None) == "none"


def test_declarations_are_checked_at_import() -> None:
    class Loose(BaseModel):
        length: int = 1

    with pytest.raises(TypeError, match="extra='forbid'"):
        transform("loose", options=Loose)
    with pytest.raises(TypeError, match="arg 'size'"):
        transform("wrong_arg", options=ShoutOptions, arg="size")


def test_hash_needs_the_secret() -> None:
    with pytest.raises(TransformSpecError, match=r"^hash needs SIS_SYNC_SECRET$"):
        compile_chain(["strip", "hash"], ctx=TransformContext(hasher=None))


def test_third_party_package_via_entry_point(
    tmp_path, monkeypatch: pytest.MonkeyPatch, ctx: TransformContext
) -> None:
    """A separately installed distribution declaring the same entry-point group."""
    (tmp_path / "school_plugins.py").write_text(
        textwrap.dedent(
            '''
            from connector.mapping.transforms import transform

            @transform("initials")
            def initials(value, options, ctx):
                """First letters of each word."""
                return "".join(w[0].upper() + "." for w in str(value).split())
            '''
        )
    )
    dist = tmp_path / "school_plugins-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: school-plugins\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[connector.transforms]\ninitials = school_plugins:initials\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "school_plugins", raising=False)

    fresh: Registry[Transform] = Registry(
        "transform", "connector.transforms", check=lambda v: isinstance(v, Transform)
    )
    entries = {e.name: e for e in fresh.entries()}
    assert entries["initials"].package == "school-plugins"
    assert entries["strip"].package == "sis-sync"

    monkeypatch.setattr(registry, "_entries", dict(fresh._entries))
    assert compile_chain(["strip", "initials"], ctx=ctx)(" jan de vries ") == "J.D.V."
