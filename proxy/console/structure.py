"""Locations of findings as a tree of the request's extracted structure.

    >>> tree = location_tree(["json:$.customer.phone", "json:$.customer.id", "query:mobile"])
    >>> [(n.label, [c.label for c in n.children]) for n in tree]
    [('json', ['$']), ('query', ['mobile'])]
    >>> leaf = tree[0].children[0].children[0].children[1]
    >>> (leaf.label, leaf.hit, leaf.location)
    ('phone', True, 'json:$.customer.phone')

A location is ``kind:path`` (proxy.extraction): ``json:$.a.b[2]``, ``query:mobile``,
``multipart:orders.csv:row2``, ``json:$.payload|base64`` (a decoded layer). Locations hold
field names, never values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_STEP = re.compile(r"\[[^\]]*\]|\|[^.|\[]+|[^.\[|]+")


@dataclass
class Node:
    label: str
    children: list[Node] = field(default_factory=list)
    hit: bool = False
    location: str = ""

    def child(self, label: str) -> Node:
        for c in self.children:
            if c.label == label:
                return c
        node = Node(label)
        self.children.append(node)
        return node


def steps(location: str) -> list[str]:
    """'json:$.a[2].b|base64' -> ['json', '$', 'a', '[2]', 'b', '|base64']."""
    kind, _, rest = location.partition(":")
    parts = [kind]
    for piece in rest.split(":"):  # multipart:file.csv:row2 -> file.csv, row2
        if kind == "json" or piece.startswith("$"):
            parts += _STEP.findall(piece)
        elif piece:
            parts.append(piece)
    return parts


def location_tree(locations: list[str]) -> list[Node]:
    root = Node("")
    for location in sorted(set(locations)):
        node = root
        for step in steps(location):
            node = node.child(step)
        node.hit, node.location = True, location
    return root.children
