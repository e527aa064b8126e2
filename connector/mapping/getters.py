"""How a compiled mapping reads a value from a source row: columns, fallbacks, templates, keys.

Each helper builds one closure when the mapping compiles, so reading a row costs a call and a
dict look-up, never a look at the mapping spec. An empty string counts as empty (``None``)
before and after the transform chain.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from string import Formatter
from typing import Any

from connector.hashing import join_key

#: The unit separator a composite key's parts are joined with (``connector.hashing.join_key``).
SEP = "\x1f"
Getter = Callable[[Mapping[str, Any]], Any]


def blank(value: Any) -> bool:
    """True for ``None`` and the empty string (an empty cell)."""
    return value is None or value == ""


def column_getter(column: str, fallback: str | None, chain: Callable[[Any], Any] | None) -> Getter:
    """Read ``column`` (else ``fallback`` when it is empty), then run ``chain`` over the value."""
    if fallback is None and chain is None:

        def plain(f: Mapping[str, Any]) -> Any:
            v = f.get(column)
            return None if v == "" else v

        return plain

    def get(f: Mapping[str, Any]) -> Any:
        v = f.get(column)
        if fallback is not None and (v is None or v == ""):
            v = f.get(fallback)
        if v == "":
            v = None
        if chain is not None:
            v = chain(v)
            if v == "":
                return None
        return v

    return get


def template_getter(template: str, chain: Callable[[Any], Any] | None) -> Getter:
    """Fill ``template`` (``"{tussenvoegsel} {achternaam}"``) from the row; None when all empty."""
    # Literal/column pairs joined, then whitespace collapsed so an empty tussenvoegsel leaves no
    # double or leading space (Dutch name model).
    parts = tuple((lit, name) for lit, name, _s, _c in Formatter().parse(template))

    def get(f: Mapping[str, Any]) -> Any:
        out: list[str] = []
        filled = False
        for lit, name in parts:
            out.append(lit)
            if name is not None:
                v = f.get(name)
                if v is not None and v != "":
                    filled = True
                    out.append(v if isinstance(v, str) else str(v))
        if not filled:
            return None
        text = " ".join("".join(out).split())
        if chain is not None:
            text = chain(text)
        return None if text == "" else text

    return get


def key_normaliser(chain: Callable[[Any], Any]) -> Callable[[str], str]:
    """Normalise a raw key with ``chain`` (a composite key part by part); '' when one is empty."""

    def normalise(raw: str) -> str:
        if SEP in raw:
            parts = [chain(p) for p in raw.split(SEP)]
            if any(blank(p) for p in parts):
                return ""
            return join_key([str(p) for p in parts])
        v = chain(raw)
        return "" if v is None else str(v)

    return normalise
