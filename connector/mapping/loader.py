"""Load a mappings folder: YAML → models, with every problem reported at once.

Each problem names the file, the 1-based line of the offending key and its key path
(``fields.Email.transform[1]``). Lines come from the composed YAML node tree, so they point at
the key an editor shows, also for problems found after pydantic (purposes, refs, transforms).

YAML is read with a safe loader (no Python tags) whose booleans are only ``true``/``false``:
YAML 1.1 turns ``yes``, ``no``, ``on`` and ``off`` into booleans, which would silently change a
value list such as ``enrolled: [yes]``. Aliases are bounded (:mod:`connector.yamlsafe`): an
alias bomb is a problem on its line, not an out-of-memory.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from connector import yamlsafe
from connector.clock import school_date
from connector.errors import MappingError, Problem
from connector.hashing import KeyHasher
from connector.mapping.models import MappingSpec
from connector.mapping.project import Project
from connector.privacy.purposes import PurposesSpec

PURPOSES_FILE = "purposes.yaml"
Path_ = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


class _Loader(yamlsafe.BaseLoader):  # type: ignore[misc,valid-type]
    """SafeLoader with YAML 1.2 booleans (only true/false); libyaml's parser when installed
    (PyYAML's wheels bundle it: ten times faster, and every run starts by loading mappings)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


@dataclass
class YamlDoc:
    """One parsed YAML file: its data and the line of every key path."""

    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)

    def line(self, path: Iterable[str | int]) -> int | None:
        """Line of ``path``, or of its nearest ancestor that has one."""
        parts = tuple(path)
        while parts:
            if parts in self.lines:
                return self.lines[parts]
            parts = parts[:-1]
        return self.lines.get((), None)


def key_path(path: Iterable[str | int]) -> str:
    """``("fields", "Email", "transform", 1)`` → ``fields.Email.transform[1]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def parse_yaml(text: str, display: str, problems: list[Problem]) -> YamlDoc | None:
    """Parse ``text``; on a syntax error add a Problem with its line and return None."""
    try:
        data, node = yamlsafe.compose(text, _Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problems.append(Problem(display, line, "", f"not valid YAML: {exc.problem or exc}"))
        return None
    except yaml.YAMLError as exc:
        problems.append(Problem(display, None, "", f"not valid YAML: {exc}"))
        return None
    doc = YamlDoc(data)
    if node is not None:
        doc.lines[()] = node.start_mark.line + 1
        _index(node, (), doc.lines, display, problems)
    return doc


def _index(
    node: yaml.Node, path: Path_, lines: dict[Path_, int], display: str, problems: list[Problem]
) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            child = (*path, key)
            line = key_node.start_mark.line + 1
            if child in lines:
                # PyYAML keeps the last of two equal keys without a word; say so instead.
                problems.append(Problem(display, line, key_path(child), "duplicate key"))
                n = len(child)
                for stale in [p for p in lines if p[:n] == child]:
                    del lines[stale]
            lines[child] = line
            _index(value_node, child, lines, display, problems)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[(*path, i)] = item.start_mark.line + 1
            _index(item, (*path, i), lines, display, problems)


def validation_problems(
    exc: ValidationError, doc: YamlDoc, display: str, prefix: Path_ = ()
) -> list[Problem]:
    """Pydantic errors as Problems with key paths and lines of the YAML document."""
    out = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        path = _data_path(doc.data, prefix, err["loc"], err["type"] == "missing")
        out.append(Problem(display, doc.line(path), key_path(path), _message(err)))
    return out


def _data_path(data: Any, prefix: Path_, loc: tuple[Any, ...], missing: bool) -> Path_:
    # pydantic adds union-member tags ("str", "list[str]", "function-after[…]") to `loc`;
    # keep only the parts that exist in the data, plus the last one of a missing key.
    cur: Any = data
    for part in prefix:
        in_list = isinstance(cur, list) and isinstance(part, int)
        cur = cur[part] if isinstance(cur, dict) or in_list else None
    path: list[str | int] = list(prefix)
    for i, part in enumerate(loc):
        in_dict = isinstance(cur, dict) and part in cur
        if in_dict or (isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur)):
            cur = cur[part]
            path.append(part)
        elif missing and i == len(loc) - 1:
            path.append(part)
    return tuple(path)


def _message(err: Any) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown key"
    if err["type"] == "missing":
        return "required key missing"
    return str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")


def load_project(mappings_dir: Path) -> Project:
    """Read ``purposes.yaml`` and every other ``*.yaml``/``*.yml`` in ``mappings_dir``.

    Args:
        mappings_dir: the mappings folder.

    Returns:
        The validated :class:`Project`.

    Raises:
        MappingError: with every problem found in any file, each naming file, line and key.
    """
    from connector.mapping.checks import check_mapping, check_project, check_purposes
    from connector.mapping.target_checks import check_target

    mappings_dir = Path(mappings_dir)
    problems: list[Problem] = []
    if not mappings_dir.is_dir():
        raise MappingError([Problem(str(mappings_dir), None, "", "mappings folder not found")])
    base = mappings_dir.parent

    def display(path: Path) -> str:
        try:
            return path.resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            return path.as_posix()

    purposes_path = mappings_dir / PURPOSES_FILE
    purposes: PurposesSpec | None = None
    if not purposes_path.is_file():
        problems.append(
            Problem(
                display(purposes_path),
                None,
                "",
                "purposes.yaml is missing: every field must name a purpose from it",
            )
        )
    else:
        doc = _read(purposes_path, display(purposes_path), problems)
        if doc is not None:
            purposes = _validate(PurposesSpec, doc, display(purposes_path), problems)
            if purposes is not None:
                check_purposes(purposes, doc, display(purposes_path), problems)

    files = sorted(
        p
        for p in mappings_dir.iterdir()
        if p.suffix in (".yaml", ".yml") and p.name != PURPOSES_FILE and p.is_file()
    )
    mappings: dict[str, MappingSpec] = {}
    paths: dict[str, Path] = {}
    docs: dict[str, tuple[YamlDoc, str]] = {}
    ctx_hasher = KeyHasher("load-time-check")  # `hash` compiles only with a hasher
    for path in files:
        shown = display(path)
        doc = _read(path, shown, problems)
        if doc is None:
            continue
        spec = _validate(MappingSpec, doc, shown, problems)
        if spec is None:
            continue
        check_mapping(
            spec,
            doc,
            shown,
            problems,
            stem=path.stem,
            purposes=purposes,
            hasher=ctx_hasher,
            today=school_date(),
        )
        check_target(spec, doc, shown, problems)
        if spec.name in mappings:
            problems.append(
                Problem(
                    shown,
                    doc.line(("name",)),
                    "name",
                    f"mapping name already used by {display(paths[spec.name])}",
                )
            )
            continue
        mappings[spec.name] = spec
        paths[spec.name] = path
        docs[spec.name] = (doc, shown)
    check_project(mappings, docs, problems)
    if problems or purposes is None:
        raise MappingError(problems)
    return Project(
        purposes=purposes,
        mappings=mappings,
        files={"purposes": purposes_path, **paths},
        directory=mappings_dir,
    )


def _read(path: Path, shown: str, problems: list[Problem]) -> YamlDoc | None:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        line = path.read_bytes().count(b"\n", 0, exc.start) + 1
        problems.append(Problem(shown, line, "", "not valid UTF-8: save the file as UTF-8"))
        return None
    except OSError as exc:
        problems.append(Problem(shown, None, "", f"cannot read: {type(exc).__name__}"))
        return None
    doc = parse_yaml(text, shown, problems)
    if doc is not None and not isinstance(doc.data, dict):
        problems.append(Problem(shown, doc.line(()), "", "expected a mapping of keys"))
        return None
    return doc


def _validate(model: type[M], doc: YamlDoc, shown: str, problems: list[Problem]) -> M | None:
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        problems.extend(validation_problems(exc, doc, shown))
        return None
