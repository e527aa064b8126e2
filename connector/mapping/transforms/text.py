"""Text transforms: strip, lower, upper, title, collapse_whitespace, truncate, default, map, concat.

Common rules:

- A value that is not text is turned into text with ``str()`` first (a number from a JSON source).
- An empty result is ``None``: an empty cell is "no value", not an empty string, so Salesforce
  gets a null and ``required`` fields notice it.
- ``None`` passes through untouched, except in ``default``, whose job it is.

These are the hot path (millions of calls per run on a large export), so each is written as a
small closure without options look-ups per call.
"""

from __future__ import annotations

from string import Formatter
from typing import Any

from pydantic import Field, field_validator, model_validator

from connector.mapping.transforms import (
    Bound,
    TransformContext,
    TransformError,
    TransformOptions,
    bound_transform,
)


def _text(value: Any) -> str:
    return value if value.__class__ is str else str(value)


@bound_transform("strip")
def strip(options: None, ctx: TransformContext) -> Bound:
    """Remove leading and trailing whitespace; an empty result is no value."""

    def run(value: Any) -> Any:
        if value is None:
            return None
        if value.__class__ is not str:
            value = str(value)
        return value.strip() or None

    return run


@bound_transform("lower")
def lower(options: None, ctx: TransformContext) -> Bound:
    """Lower-case the text."""

    def run(value: Any) -> Any:
        if value is None:
            return None
        if value.__class__ is not str:
            value = str(value)
        return value.lower() or None

    return run


@bound_transform("upper")
def upper(options: None, ctx: TransformContext) -> Bound:
    """Upper-case the text."""

    def run(value: Any) -> Any:
        if value is None:
            return None
        if value.__class__ is not str:
            value = str(value)
        return value.upper() or None

    return run


@bound_transform("collapse_whitespace")
def collapse_whitespace(options: None, ctx: TransformContext) -> Bound:
    """Turn every run of whitespace into one space and strip the ends."""

    def run(value: Any) -> Any:
        if value is None:
            return None
        return " ".join(_text(value).split()) or None

    return run


# Dutch surname prefixes (tussenvoegsels) that stay lower-case after the first word. The list is
# the common ones, not a complete table; a rarer prefix is capitalised like any
# word, which is the safe mistake (it is still readable and matching is case-insensitive).
# fmt: off
_PREFIXES = frozenset({
    "van", "de", "der", "den", "het", "'t", "ter", "ten", "te", "in", "op", "aan", "uit", "bij",
    "onder", "over", "voor", "'s", "d'", "da", "del", "della", "di", "du", "des", "la", "le",
    "l'", "von", "vom", "zu", "zum", "zur",
})
# fmt: on


def _capitalise(word: str) -> str:
    # "ij" at the start of a Dutch word is one letter: IJsselmeer, IJzerman.
    if word.startswith("ij"):
        return "IJ" + word[2:]
    return word[:1].upper() + word[1:]


def title_case(text: str) -> str:
    """Dutch-aware title case for names.

    Every word is capitalised and the rest lower-cased (it is meant for ALL-CAPS or all-lower
    exports); known tussenvoegsels after the first word stay lower-case, as in "Jan van der
    Berg" and "Van der Berg" (a surname standing alone capitalises only its first prefix).
    Hyphenated parts are capitalised on their own: "Jansen-van Dijk". Simple by design: no
    "Mc"/"O'" rules, and the caller keeps the tussenvoegsel in its own field when it can.
    """
    out = []
    for i, word in enumerate(text.lower().split()):
        if i > 0 and word in _PREFIXES:
            out.append(word)
            continue
        parts = word.split("-")
        head = _capitalise(parts[0])
        tail = [p if p in _PREFIXES else _capitalise(p) for p in parts[1:]]
        out.append("-".join([head, *tail]))
    return " ".join(out)


@bound_transform("title")
def title(options: None, ctx: TransformContext) -> Bound:
    """Title-case a name, Dutch style: "de vries" → "De Vries", "jan de vries" → "Jan de Vries"."""

    def run(value: Any) -> Any:
        if value is None:
            return None
        return title_case(_text(value)) or None

    return run


class TruncateOptions(TransformOptions):
    """``length``: the most characters to keep (Salesforce field length)."""

    length: int = Field(ge=1)


@bound_transform("truncate", options=TruncateOptions, arg="length")
def truncate(options: TruncateOptions, ctx: TransformContext) -> Bound:
    """Cut the text to ``length`` characters and warn that it did (the warning has no value)."""
    length = options.length
    warning = f"truncated to {length} characters"
    warnings = ctx.warnings

    def run(value: Any) -> Any:
        if value is None:
            return None
        text = _text(value)
        if len(text) > length:
            warnings.append(warning)
            text = text[:length]
        return text or None

    return run


class DefaultOptions(TransformOptions):
    """``value``: what to use when there is no value."""

    value: Any


@bound_transform("default", options=DefaultOptions, arg="value", handles_none=True)
def default(options: DefaultOptions, ctx: TransformContext) -> Bound:
    """Use ``value`` when the incoming value is missing (``None`` or an empty string)."""
    fallback = options.value

    def run(value: Any) -> Any:
        return fallback if value is None or value == "" else value

    return run


def _key(value: Any) -> str:
    # YAML reads `true:` / `1:` keys as bool / int and JSON sources send bools and numbers;
    # compare everything as its text so `{values: {1: ja}}` matches the cell "1" and the int 1.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


class MapOptions(TransformOptions):
    """``values``: table of source value → target value; ``default``: for a value not in it;
    ``case_sensitive``: compare exactly (default: ignore case and surrounding spaces)."""

    values: dict[str, Any] = Field(min_length=1)
    default: Any = None
    case_sensitive: bool = False

    @field_validator("values", mode="before")
    @classmethod
    def _keys_as_text(cls, v: Any) -> Any:
        return {_key(k): val for k, val in v.items()} if isinstance(v, dict) else v


@bound_transform("map", options=MapOptions)
def map_values(options: MapOptions, ctx: TransformContext) -> Bound:
    """Translate a code via a table (picklists, ja/nee); a value not in it is an error
    unless ``default`` is given (an explicit ``default: null`` counts)."""
    fold = (lambda s: s) if options.case_sensitive else str.casefold
    table = {fold(k): v for k, v in options.values.items()}
    if len(table) != len(options.values):
        raise ValueError("values has keys that differ only in case; set case_sensitive: true")
    has_default = "default" in options.model_fields_set
    fallback = options.default
    get = table.get
    missing = object()

    def run(value: Any) -> Any:
        if value is None:
            return None
        hit = get(fold(_key(value)), missing)
        if hit is missing:
            if has_default:
                return fallback
            raise TransformError("value not in the map's table")
        return hit

    return run


class ConcatOptions(TransformOptions):
    """Literal text around the incoming value: ``prefix``, ``suffix``, ``parts`` (appended after
    the value), ``separator`` (between value and parts, and between list items); or a
    ``template`` with a single ``{value}`` placeholder instead."""

    prefix: str = ""
    suffix: str = ""
    parts: list[str] = Field(default_factory=list)
    separator: str = ""
    template: str | None = None

    @model_validator(mode="after")
    def _template_alone(self) -> ConcatOptions:
        if self.template is None:
            return self
        if self.prefix or self.suffix or self.parts or self.separator:
            raise ValueError("template cannot be combined with prefix, suffix, parts, separator")
        try:
            fields = {f for _, f, _, _ in Formatter().parse(self.template) if f is not None}
        except ValueError:
            raise ValueError("template has an unbalanced { or }") from None
        if fields != {"value"}:
            raise ValueError("template must use {value} and no other placeholder")
        return self


@bound_transform("concat", options=ConcatOptions)
def concat(options: ConcatOptions, ctx: TransformContext) -> Bound:
    """Join the incoming value with literal text.

    ``concat`` only sees this field's value. When ``from:`` names several columns the mapping
    engine passes their values as a list, and ``concat`` joins the non-empty ones with
    ``separator``. A template over several *columns* (``"{straat} {huisnummer}"``) is compiled
    by the mapping engine itself, not by this transform.
    """
    template, sep = options.template, options.separator
    prefix, suffix, parts = options.prefix, options.suffix, list(options.parts)

    def run(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, list | tuple):
            items = [_text(v) for v in value if v is not None and v != ""]
            if not items:
                return None
            text = sep.join(items)
        else:
            text = _text(value)
        if template is not None:
            return template.format(value=text)
        return prefix + sep.join([text, *parts]) + suffix

    return run
