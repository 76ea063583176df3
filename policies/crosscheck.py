"""References between policy sections: names that must exist, names that must be unique.

    crosscheck({"rules": [{"name": "x", "source": ["ofice"]}], "sources": {"office": ...}}, marks)
      -> [Problem(("rules", 0, "source", 0), "unknown source group 'ofice' (did you mean ...")]

Works on the raw parsed data, next to the schema check, and skips whatever has the wrong shape
(the schema reports that), so one run reports every problem of a file.
"""

from __future__ import annotations

import difflib
import posixpath
from collections.abc import Iterable, Iterator
from typing import Any

from policies.entities import KNOWN_ENTITIES
from policies.problems import Problem
from policies.strict_yaml import Marks, Path

DESTINATION_WORDS = ("internal", "external", "any")
SOURCE_WORDS = ("any", "unauthenticated")  # unauthenticated: the user is unknown
RESERVED_RULE_NAMES = ("default",)  # Decision.rule when no rule matched


def crosscheck(data: Any, marks: Marks) -> list[Problem]:
    if not isinstance(data, dict):
        return []
    names = {
        section: list(data[section]) if isinstance(data.get(section), dict) else []
        for section in ("sources", "destinations", "entity_groups")
    }
    return [
        *_check_groups(data),
        *_check_entity_groups(data),
        *_check_detection(data),
        *_check_rules(data, names, marks),
        *_check_approvals(data, names, marks),
    ]


def _items(data: Any, section: str) -> Iterator[tuple[Path, dict]]:
    """(path, mapping) for each well-shaped item of a list or mapping section."""
    value = data.get(section)
    pairs = (
        enumerate(value)
        if isinstance(value, list)
        else (value.items() if isinstance(value, dict) else ())
    )
    for key, item in pairs:
        if isinstance(item, dict):
            yield (section, key), item


def _strings(item: dict, key: str, path: Path) -> Iterator[tuple[Path, str]]:
    value = item.get(key)
    if isinstance(value, list):
        for i, element in enumerate(value):
            if isinstance(element, str):
                yield path + (key, i), element


def _unknown(kind: str, value: str, defined: Iterable[str], words: Iterable[str] = ()) -> str:
    defined, words = list(defined), list(words)
    close = difflib.get_close_matches(value, words + defined, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    choices = ", ".join([*(repr(w) for w in words), *defined]) or "(none defined)"
    return f"unknown {kind} {value!r}{hint}; expected one of: {choices}"


def _check_groups(data: dict) -> Iterator[Problem]:
    for path, group in _items(data, "destinations"):
        if path[1] in DESTINATION_WORDS:
            yield Problem(path, f"group name {path[1]!r} is reserved; choose another", at_key=True)
        if not group.get("hosts") and not group.get("cidrs"):
            yield Problem(path, "group matches no destination; expected hosts or cidrs")
    for path, _ in _items(data, "sources"):
        if path[1] in SOURCE_WORDS:
            yield Problem(path, f"group name {path[1]!r} is reserved; choose another", at_key=True)


def _check_entity_groups(data: dict) -> Iterator[Problem]:
    groups = data.get("entity_groups")
    if not isinstance(groups, dict):
        return
    for name, members in groups.items():
        for i, entity in enumerate(members if isinstance(members, list) else ()):
            if isinstance(entity, str) and entity not in KNOWN_ENTITIES:
                yield Problem(
                    ("entity_groups", name, i), _unknown("entity", entity, KNOWN_ENTITIES)
                )


def _check_detection(data: dict) -> Iterator[Problem]:
    detection = data.get("detection")
    if not isinstance(detection, dict):
        return
    deny = detection.get("deny_values")
    for entity in deny if isinstance(deny, dict) else ():
        if isinstance(entity, str) and entity not in KNOWN_ENTITIES:
            yield Problem(
                ("detection", "deny_values", entity),
                _unknown("entity", entity, KNOWN_ENTITIES),
                at_key=True,
            )
    edm = detection.get("edm")
    if isinstance(edm, dict) and all(isinstance(edm.get(k), str) for k in ("index", "key_file")):
        index, key = (posixpath.normpath(edm[k]) for k in ("index", "key_file"))
        if posixpath.dirname(index) == posixpath.dirname(key):
            yield Problem(
                ("detection", "edm", "key_file"),
                "key_file is in the same directory as the index; expected the key kept apart "
                "(an index with its key can be brute-forced for phone numbers, see "
                "detectors/EDM.md)",
            )


def _entity_problems(item: dict, key: str, path: Path, groups: list[str]) -> Iterator[Problem]:
    for where, entity in _strings(item, key, path):
        if entity not in KNOWN_ENTITIES and entity not in groups:
            yield Problem(
                where, _unknown("entity or entity group", entity, [*KNOWN_ENTITIES, *groups])
            )


def _duplicate(kind: str, value: str, first: Path, marks: Marks) -> str:
    line = marks.value(first).line
    return f"duplicate {kind} {value!r} (first at line {line}); expected each {kind} once"


def _check_rules(data: dict, names: dict[str, list[str]], marks: Marks) -> Iterator[Problem]:
    seen: dict[str, Path] = {}
    for path, rule in _items(data, "rules"):
        name = rule.get("name")
        if isinstance(name, str):
            if name in RESERVED_RULE_NAMES:
                yield Problem(path + ("name",), f"rule name {name!r} is reserved; choose another")
            elif name in seen:
                yield Problem(path + ("name",), _duplicate("rule name", name, seen[name], marks))
            seen.setdefault(name, path + ("name",))
        for where, value in _strings(rule, "source", path):
            if value not in SOURCE_WORDS and value not in names["sources"]:
                yield Problem(
                    where, _unknown("source group", value, names["sources"], SOURCE_WORDS)
                )
        for where, value in _strings(rule, "destination", path):
            if value not in DESTINATION_WORDS and value not in names["destinations"]:
                message = _unknown("destination", value, names["destinations"], DESTINATION_WORDS)
                yield Problem(where, message)
        selector = rule.get("data")
        if isinstance(selector, dict):
            yield from _entity_problems(
                selector, "entities", path + ("data",), names["entity_groups"]
            )
        elif rule.get("action") == "mask":
            yield Problem(path, "a mask rule needs data.entities; expected the entities to mask")


def _check_approvals(data: dict, names: dict[str, list[str]], marks: Marks) -> Iterator[Problem]:
    seen: dict[str, Path] = {}
    for path, approval in _items(data, "approvals"):
        ident = approval.get("id")
        if isinstance(ident, str):
            if ident in seen:
                yield Problem(path + ("id",), _duplicate("approval id", ident, seen[ident], marks))
            seen.setdefault(ident, path + ("id",))
        source = approval.get("source")
        if isinstance(source, str) and source not in SOURCE_WORDS + tuple(names["sources"]):
            yield Problem(
                path + ("source",), _unknown("source group", source, names["sources"], SOURCE_WORDS)
            )
        destination = approval.get("destination")
        if isinstance(destination, str) and destination not in names["destinations"]:
            message = _unknown("destination group", destination, names["destinations"])
            yield Problem(path + ("destination",), message)
        yield from _entity_problems(approval, "data", path, names["entity_groups"])
