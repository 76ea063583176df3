"""Load a policy file strictly, or say exactly what is wrong with it.

    policy = load_policy("policies/default.yaml")
    print(summarize(policy))

A bad file raises ``PolicyError`` listing every problem as ``file:line:column: where: what is
wrong; expected ...``; nothing in a bad file ever falls back to a default.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from pydantic import ValidationError

from policies.build import build
from policies.crosscheck import crosscheck
from policies.errors import PolicyError
from policies.model import Policy
from policies.problems import Problem, dotted, from_validation_error
from policies.schema import PolicyFile
from policies.strict_yaml import Marks, Position, parse_yaml
from policies.summary import summarize

__all__ = ["load_policy", "parse_policy", "summarize"]


def load_policy(path: str | os.PathLike[str]) -> Policy:
    """Read, validate and compile the policy at ``path``; raises PolicyError."""
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise PolicyError([f"{name}: cannot read policy file: {e.strerror or e}"]) from None
    return parse_policy(raw, name)


def parse_policy(raw: bytes, name: str) -> Policy:
    """Validate and compile policy file bytes; ``name`` is used in messages and ``Policy.path``."""
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    text = _decode(raw, name)
    data, marks, yaml_problems = parse_yaml(text)
    errors = [(p.position, p.message) for p in yaml_problems]
    if data is None and not errors:
        errors.append(
            (Position(1, 1), "file is empty; expected a policy starting with 'version: 1'")
        )
    if data is None:
        raise PolicyError(_format(name, errors))
    document, problems = _validate(data, marks)
    errors += [(p.position(marks), _located(p)) for p in problems]
    if errors or document is None:
        raise PolicyError(_format(name, errors))
    return build(document, name, digest)


def _decode(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        column = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise PolicyError(
            [
                f"{name}:{line}:{column}: the file is not UTF-8 text; expected UTF-8 (save it as UTF-8)"
            ]
        ) from None


def _validate(data: object, marks: Marks) -> tuple[PolicyFile | None, list[Problem]]:
    problems = crosscheck(data, marks)
    try:
        return PolicyFile.model_validate(data), problems
    except ValidationError as e:
        return None, from_validation_error(e, PolicyFile, data) + problems


def _located(problem: Problem) -> str:
    where = dotted(problem.path)
    return f"{where}: {problem.message}" if where else problem.message


def _format(name: str, errors: list[tuple[Position, str]]) -> list[str]:
    ordered = sorted(dict.fromkeys(errors), key=lambda e: (e[0].line, e[0].column))
    return [f"{name}:{at.line}:{at.column}: {message}" for at, message in ordered]
