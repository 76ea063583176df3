"""Word lists that ship with baomi (``detectors/data/``), loaded once.

>>> surnames().starts_name("欧阳娜娜"), surnames().starts_name("华为")
(True, True)
>>> "华为" in not_names()
True
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources


def _lines(name: str) -> list[str]:
    text = resources.files("detectors").joinpath("data", name).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines()]


@dataclass(frozen=True, slots=True)
class Surnames:
    single: frozenset[str]
    compound: frozenset[str]
    common: frozenset[str]  # the ~120 most frequent single surnames

    def starts_name(self, word: str) -> bool:
        return word[:2] in self.compound or word[:1] in self.single

    def surname_length(self, word: str) -> int:
        """2 for a compound surname, 1 for a single one, 0 if none."""
        if word[:2] in self.compound:
            return 2
        return 1 if word[:1] in self.single else 0


@cache
def surnames() -> Surnames:
    single: list[str] = []
    compound: list[str] = []
    common: frozenset[str] | None = None
    for line in _lines("cn_surnames.txt"):
        if line == "# --- other ---":
            common = frozenset(single)
        if not line or line.startswith("#"):
            continue
        (compound if len(line) == 2 else single).append(line)
    if common is None:
        raise ValueError("cn_surnames.txt: missing '# --- other ---' marker")
    return Surnames(frozenset(single), frozenset(compound), common)


@cache
def not_names() -> frozenset[str]:
    return frozenset(
        line for line in _lines("cn_not_names.txt") if line and not line.startswith("#")
    )
