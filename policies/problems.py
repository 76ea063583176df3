"""Problems found in a policy file, and pydantic's errors turned into words for admins.

Problem(("rules", 2, "action"), "'deny' is not allowed; expected one of ...")
format: "policy.yaml:14:13: rules[2].action: 'deny' is not allowed; expected one of ..."
"""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from policies.strict_yaml import Marks, Path, Position


@dataclass(frozen=True, slots=True)
class Problem:
    path: Path
    message: str
    at_key: bool = False  # point at the key ("unknown key") rather than at its value

    def position(self, marks: Marks) -> Position:
        return marks.key(self.path) if self.at_key else marks.value(self.path)


def dotted(path: Path) -> str:
    """("rules", 2, "data", "entities") -> "rules[2].data.entities"."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def yaml_kind(value: Any) -> str:
    """How a YAML author would name the type of ``value``."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"number {value!r}"
    if isinstance(value, str):
        return f"text {_short(value)}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, datetime):
        return f"date {value.isoformat()}"
    return type(value).__name__


def _short(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:37] + "...")


def from_validation_error(
    error: ValidationError, root: type[BaseModel], data: Any
) -> list[Problem]:
    return [_problem(detail, root, data) for detail in error.errors()]


def _problem(detail: Any, root: type[BaseModel], data: Any) -> Problem:
    path, is_key = _data_path(detail["loc"], data)
    kind, value = detail["type"], detail.get("input")
    if kind == "extra_forbidden":
        return Problem(path, _unknown_key(path, root), at_key=True)
    if kind == "missing":
        expected = describe(_annotation_at(root, path))
        return Problem(path[:-1], f"missing required key {path[-1]!r}; expected {expected}")
    return Problem(path, _value_message(kind, value, detail), at_key=is_key)


def _value_message(kind: str, value: Any, detail: Any) -> str:
    ctx = detail.get("ctx") or {}
    if kind == "value_error":
        return str(ctx.get("error", detail["msg"]))
    if kind == "literal_error":
        return f"{yaml_kind(value)} is not allowed; expected one of {ctx['expected']}"
    if kind == "list_type":
        hint = " (write [x] for a single item)" if isinstance(value, str) else ""
        return f"expected a list, got {yaml_kind(value)}{hint}"
    if kind == "timezone_aware":
        return "date and time has no timezone; expected e.g. 2026-12-31T23:59:59+08:00"
    if kind in ("byte_size", "byte_size_unit"):
        return f"{yaml_kind(value)} is not a size; expected bytes or a size such as 10MiB"
    if kind.endswith("_type"):
        return f"expected {_TYPE_WORDS.get(kind, kind[:-5])}, got {yaml_kind(value)}"
    if kind == "string_too_short":
        return "expected non-empty text"
    if kind == "too_short":
        return "expected at least one item"
    expected = detail["msg"].replace("Input should be ", "")
    return f"{yaml_kind(value)} is out of range; expected a value {expected}"


_TYPE_WORDS = {
    "string_type": "text",
    "int_type": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "datetime_type": "a date and time such as 2026-12-31T23:59:59+08:00",
}


def _data_path(loc: tuple[Any, ...], data: Any) -> tuple[Path, bool]:
    """Pydantic's location -> path into the parsed data (dropping union tags such as 'list[str]')."""
    path: list[str | int] = []
    node, is_key = data, False
    for part in loc:
        if part == "[key]":
            is_key = True
        elif (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        ):
            node = node[part]
            path.append(part)
        elif isinstance(node, dict) and isinstance(part, str):
            path.append(part)  # an extra or missing key: its parent mapping exists
            node = None
    return tuple(path), is_key


def _unknown_key(path: Path, root: type[BaseModel]) -> str:
    name = str(path[-1])
    model = _unwrap(_annotation_at(root, path[:-1]))
    allowed = sorted(model.model_fields) if _is_model(model) else []
    close = difflib.get_close_matches(name, allowed, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown key {name!r}{hint}; expected one of: {', '.join(allowed)}"


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _annotation_at(root: type[BaseModel], path: Path) -> Any:
    """The declared type at ``path``: follows model fields, list items and dict values."""
    tp: Any = root
    for part in path:
        tp = _unwrap(tp)
        origin = typing.get_origin(tp)
        if _is_model(tp) and part in tp.model_fields:
            tp = tp.model_fields[part].annotation
        elif origin in (list, tuple) or origin is dict:
            tp = typing.get_args(tp)[-1]
        else:
            return Any
    return tp


def _unwrap(tp: Any) -> Any:
    """Annotated[X, ...] -> X; X | None -> X."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = args[0]
        else:
            return tp


def describe(tp: Any) -> str:
    """What an admin should write for a declared type: 'one of block, allow', 'a list', ..."""
    tp = _unwrap(tp)
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        return "one of " + ", ".join(str(a) for a in typing.get_args(tp))
    if origin in (list, tuple):
        return "a list"
    if origin is dict or _is_model(tp):
        return "a mapping"
    if isinstance(tp, type) and issubclass(tp, datetime):
        return "a date and time such as 2026-12-31T23:59:59+08:00"
    words = {str: "text", bool: "true or false", int: "a whole number", float: "a number"}
    return words.get(tp, "a value")
