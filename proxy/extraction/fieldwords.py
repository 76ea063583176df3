"""Words of a field name, for detection context.

words("customerPhone") -> ("customer", "phone")
words("收件人")          -> ("收件人",)
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[^\W\d_A-Za-z]+")


def words(name: str) -> tuple[str, ...]:
    """Words of a field name, lower case: ``customerPhone`` -> ("customer", "phone")."""
    return tuple(w.lower() for w in _WORD.findall(name))
