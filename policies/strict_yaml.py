"""Strict YAML for policy files: plain data plus where every node was written.

    data, marks, problems = parse_yaml("rules:\\n  - name: x\\n")
    data == {"rules": [{"name": "x"}]}
    marks.value(("rules", 0, "name"))  ->  Position(line=2, column=11)

Stricter than ``yaml.safe_load`` on purpose, because a policy that reads differently from what
the admin meant lets data out:
- scalars resolve like YAML 1.2 (core schema): only ``true``/``false`` are booleans, so ``yes``,
  ``on`` and ``no`` stay strings (and are rejected where a boolean is expected); no octal or
  sexagesimal integers;
- duplicate keys are errors (PyYAML silently keeps the last one);
- anchors, aliases and custom tags are errors: they make ``file:line:column`` point at the wrong
  place and are not needed (use ``entity_groups`` to avoid repetition).
Problems come back together as ``YamlProblem`` items; syntax errors stop parsing at the first one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

Path = tuple[str | int, ...]

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"

# YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution), plus timestamps so
# approval dates can be written unquoted.
_CORE_RESOLVERS = (
    (_BOOL, r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    (_NULL, r"^(?:~|null|Null|NULL|)$", "~nN"),
    (_INT, r"^[-+]?[0-9]+$", "-+0123456789"),
    (
        _FLOAT,
        (
            r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
        ),
        "-+0123456789.",
    ),
    (
        _TIMESTAMP,
        (
            r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
            r"(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?"
            r"(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)?$"
        ),
        "0123456789",
    ),
)


@dataclass(frozen=True, slots=True)
class Position:
    """1-based line and column, as editors show them."""

    line: int
    column: int


@dataclass(frozen=True, slots=True)
class YamlProblem:
    position: Position
    message: str


class Marks:
    """Where each value (and each mapping key) of the parsed document was written."""

    def __init__(self) -> None:
        self._values: dict[Path, Position] = {}
        self._keys: dict[Path, Position] = {}

    def add(self, path: Path, value: Position, key: Position | None = None) -> None:
        self._values[path] = value
        if key is not None:
            self._keys[path] = key

    def value(self, path: Path) -> Position:
        """Position of the value at ``path``, or of its nearest written ancestor."""
        for end in range(len(path), -1, -1):
            if path[:end] in self._values:
                return self._values[path[:end]]
        return Position(1, 1)

    def key(self, path: Path) -> Position:
        """Position of the key that names ``path`` (falls back to the value's position)."""
        return self._keys.get(tuple(path)) or self.value(path)


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core scalar resolution and no aliases."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None,
                None,
                "aliases (*name) are not supported; write the value out",
                event.start_mark,
            )
        event = self.peek_event()
        if getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(
                None,
                None,
                "anchors (&name) are not supported; write the value out",
                event.start_mark,
            )
        return super().compose_node(parent, index)


_Loader.yaml_implicit_resolvers = {}  # drop the YAML 1.1 resolvers inherited from SafeLoader
for _tag, _pattern, _first in _CORE_RESOLVERS:
    # "" registers the resolver for empty scalars ("key:" with no value), which are null.
    _Loader.add_implicit_resolver(
        _tag, re.compile(_pattern), [*_first, *([""] if _tag == _NULL else [])]
    )


def parse_yaml(text: str) -> tuple[Any, Marks, list[YamlProblem]]:
    """Parse one YAML document; returns (data, marks, problems). Data is None on a syntax error."""
    marks = Marks()
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as e:
        return None, marks, [_syntax_problem(e)]
    except yaml.YAMLError as e:  # unmarked: reader errors such as control characters
        return None, marks, [YamlProblem(Position(1, 1), f"cannot read YAML: {e}")]
    if root is None:
        return None, marks, []
    problems: list[YamlProblem] = []
    data = _build(root, (), marks, problems, None)
    return data, marks, problems


def _syntax_problem(e: yaml.MarkedYAMLError) -> YamlProblem:
    mark = e.problem_mark or e.context_mark
    where = Position(mark.line + 1, mark.column + 1) if mark else Position(1, 1)
    what = " ".join(p for p in (e.context, e.problem) if p)
    return YamlProblem(where, f"invalid YAML: {what}; check indentation, quotes and brackets")


def _position(node: yaml.Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


def _build(
    node: yaml.Node,
    path: Path,
    marks: Marks,
    problems: list[YamlProblem],
    key_position: Position | None,
) -> Any:
    marks.add(path, _position(node), key_position)
    if not isinstance(node, yaml.ScalarNode) and node.tag not in (_SEQ, _MAP):
        problems.append(
            YamlProblem(_position(node), f"unsupported tag {node.tag!r}; remove the tag")
        )
    if isinstance(node, yaml.MappingNode):
        return _build_mapping(node, path, marks, problems)
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(item, path + (i,), marks, problems, None) for i, item in enumerate(node.value)
        ]
    if isinstance(node, yaml.ScalarNode):
        return _scalar(node, problems)
    raise TypeError(f"unexpected YAML node {type(node).__name__}")  # the composer makes no others


def _build_mapping(
    node: yaml.MappingNode, path: Path, marks: Marks, problems: list[YamlProblem]
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key = _scalar(key_node, problems) if isinstance(key_node, yaml.ScalarNode) else None
        if not isinstance(key, str):
            problems.append(
                YamlProblem(_position(key_node), "mapping keys must be plain text, like 'name:'")
            )
            continue
        if key in result:
            first = marks.key(path + (key,))
            problems.append(
                YamlProblem(
                    _position(key_node),
                    f"duplicate key {key!r} (first at line {first.line}); each key may appear once",
                )
            )
            continue
        result[key] = _build(value_node, path + (key,), marks, problems, _position(key_node))
    return result


def _scalar(node: yaml.ScalarNode, problems: list[YamlProblem]) -> Any:
    tag, value = node.tag, node.value
    if tag == _STR:
        return value
    if tag == _NULL:
        return None
    if tag == _BOOL:
        return value.lower() == "true"
    if tag == _INT:
        return int(value, 10)
    if tag == _FLOAT:
        return _float(value)
    if tag == _TIMESTAMP:
        return yaml.SafeLoader.construct_yaml_timestamp(_Loader(""), node)
    problems.append(YamlProblem(_position(node), f"unsupported tag {tag!r}; remove the tag"))
    return None


def _float(value: str) -> float:
    lowered = value.lower()
    if lowered.endswith(".inf"):
        return float("-inf") if lowered.startswith("-") else float("inf")
    if lowered == ".nan":
        return float("nan")
    return float(value)
