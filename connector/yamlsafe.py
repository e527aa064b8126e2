"""The one way the project reads YAML: safe tags only, libyaml's speed, aliases bounded.

YAML anchors and aliases make a document a graph: ten lines of nested aliases ("billion
laughs") stand for 10⁹ values. PyYAML shares the aliased objects, so loading is cheap, but
everything that walks the result afterwards (line indexes, pydantic, the register) expands it
and runs out of memory. :func:`compose` measures the document as it would be expanded, from
the composed node graph (each distinct node once: linear in the file's size), and refuses
it beyond :data:`MAX_NODES` with a :class:`AliasLimitError` naming the line, before anything
walks it. A recursive alias (a node inside itself) is refused too.

:class:`AliasLimitError` is a ``yaml.MarkedYAMLError``: callers that report YAML errors with
their line already report it (sync.yaml → ConfigError, mappings → MappingError; exit 2).
"""

from __future__ import annotations

from typing import Any

import yaml

#: The most nodes a document may expand to through its aliases. Shipped mappings and
#: purposes files hold a few hundred; an alias bomb holds billions.
MAX_NODES = 100_000

#: libyaml's loader when PyYAML was built with it (its wheels are): ten times faster.
BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class AliasLimitError(yaml.MarkedYAMLError):
    """A document whose aliases expand it beyond :data:`MAX_NODES`, or into itself."""


def check_expansion(root: yaml.Node, limit: int = MAX_NODES) -> None:
    """Raise AliasLimitError when ``root`` expands to more than ``limit`` nodes (a text counts
    one node per 100 characters).

    Sizes are computed bottom-up once per distinct node (aliases share node objects), so the
    cost is linear in the composed graph, not in its expansion.
    """
    sizes: dict[int, int] = {}
    # Iterative post-order walk: a deep document must not hit Python's recursion limit.
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    open_nodes: set[int] = set()
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            open_nodes.discard(key)
            # A text weighs by its length (one value per 100 characters): ninety thousand
            # aliases of one long string are a bomb too, though they are few values.
            own = 1 + len(node.value) // 100 if isinstance(node, yaml.ScalarNode) else 1
            total = own + sum(sizes[id(c)] for c in _children(node))
            if total > limit:
                raise AliasLimitError(
                    None,
                    None,
                    f"a value of {len(node.value):,} characters is too long"
                    if isinstance(node, yaml.ScalarNode)
                    else f"aliases expand this value to more than {limit:,} values; "
                    "write it out or use fewer nested aliases",
                    node.start_mark,
                )
            sizes[key] = total
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise AliasLimitError(
                None, None, "an alias refers to a value that contains it", node.start_mark
            )
        open_nodes.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in open_nodes:
                raise AliasLimitError(
                    None, None, "an alias refers to a value that contains it", child.start_mark
                )
            if id(child) not in sizes:
                stack.append((child, False))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def compose(
    text: str, loader: type[yaml.SafeLoader] = BaseLoader, *, empty: Any = None
) -> tuple[Any, yaml.Node | None]:
    """Parse ``text`` into ``(data, root node)`` with ``loader`` (a SafeLoader subclass);
    ``(empty, None)`` for a document without content.

    Raises:
        yaml.YAMLError: not valid YAML; AliasLimitError (a MarkedYAMLError) for an alias bomb.
    """
    try:
        parser = loader(text)
    except yaml.reader.ReaderError as exc:
        raise _with_mark(exc, text) from None
    try:
        node = parser.get_single_node()
        if node is None:
            return empty, None
        check_expansion(node)
        try:
            return parser.construct_document(node), node
        except ValueError:
            # int() of a scalar past Python's 4,300-digit limit (docs.python.org/3/library/
            # stdtypes.html#int-max-str-digits): a YAML error with its line, not a crash.
            raise yaml.constructor.ConstructorError(
                None,
                None,
                "a number too long to read (more than 4,300 digits)",
                _long_number(node) or node.start_mark,
            ) from None
    except yaml.reader.ReaderError as exc:
        raise _with_mark(exc, text) from None
    finally:
        parser.dispose()


def _with_mark(exc: yaml.reader.ReaderError, text: str) -> yaml.MarkedYAMLError:
    """A character YAML does not allow (a control character) as an error with a mark: the
    reader reports only its position, and callers report a YAML error by its line."""
    line = text.count("\n", 0, exc.position)
    column = exc.position - (text.rfind("\n", 0, exc.position) + 1)
    char = exc.character
    code = ord(char) if isinstance(char, str) else int(char)
    mark = yaml.Mark(exc.name, exc.position, line, column, None, 0)
    return yaml.MarkedYAMLError(None, None, f"a control character (#x{code:04x})", mark)


def duplicate_keys(root: yaml.Node) -> list[tuple[str, int]]:
    """``(dotted key path, line)`` of every key a mapping of ``root`` holds twice (the later
    one): PyYAML keeps the last of two equal keys without a word."""
    found: list[tuple[str, int]] = []
    stack: list[tuple[yaml.Node, tuple[str, ...]]] = [(root, ())]
    done: set[int] = set()  # an aliased node is looked at once
    while stack:
        node, path = stack.pop()
        if id(node) in done:
            continue
        done.add(id(node))
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
                if key in seen:
                    found.append((".".join((*path, key)), key_node.start_mark.line + 1))
                seen.add(key)
                stack.append((value_node, (*path, key)))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, (*path, str(i))) for i, item in enumerate(node.value))
    return sorted(found, key=lambda kl: kl[1])


def _long_number(root: yaml.Node) -> yaml.Mark | None:
    """Where the first scalar of more than 4,300 digits starts, if any."""
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.ScalarNode):
            if sum(c.isdigit() for c in str(node.value)) > 4300:
                return node.start_mark
        else:
            stack.extend(reversed(_children(node)))
    return None


def safe_load(text: str) -> Any:
    """``yaml.safe_load`` with libyaml's speed and the alias limit."""
    return compose(text)[0]
