"""Dictionaries: confidentiality labels, deny-listed values, and how values compare.

    book = Dictionary.build(terms=("项目X",), deny_values=(("CN_RESIDENT_ID", ("11010519491231002X",)),))
    book.scan("【绝密】项目X 客户 11010519491231002x")
      -> [Hit("CONFIDENTIAL_MARKER", 1, 3), Hit("CONFIDENTIAL_MARKER", 4, 7),
          Hit("CN_RESIDENT_ID", 11, 29)]
    value_form("+86 138-0013-8000") == value_form("13800138000")   -> True

Markers are literal terms found with one Aho-Corasick pass (pyahocorasick), Latin letters
case-insensitive and only as whole words ("confidential" in "nonconfidential" is not a
label). Deny-listed values are matched in every written form the allow-list accepts:
separators (space, '-', '.') between characters, upper or lower case, and for phone numbers
an optional +86 / 0086 prefix. Both scan normalised text (``detectors.normalize``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import ahocorasick

from detectors.normalize import canonical_value

MARKER = "CONFIDENTIAL_MARKER"

# Labels companies put on documents and exports. Chinese first; Latin ones match any case.
MARKERS: tuple[str, ...] = (
    "绝密",
    "机密",
    "秘密",
    "内部资料",
    "内部使用",
    "内部文件",
    "仅限内部",
    "仅供内部",
    "内部公开",
    "严禁外传",
    "请勿外传",
    "不得外传",
    "客户信息",
    "客户资料",
    "客户名单",
    "商业秘密",
    "保密文件",
    "Confidential",
    "Strictly Confidential",
    "Highly Confidential",
    "Internal Only",
    "Internal Use Only",
    "For Internal Use Only",
    "Restricted",
    "Customer Data",
    "Customer List",
    "Do Not Distribute",
    "Proprietary and Confidential",
    "Trade Secret",
)

_LATIN = re.compile(r"[A-Za-z0-9]")
_SEPARATOR = r"[\s\-.]?"  # one separator between two characters: "138-0013 8000", "A.B"


@dataclass(frozen=True, slots=True)
class Hit:
    entity: str
    start: int  # into the scanned (normalised) text
    end: int


def value_form(value: str) -> str:
    """How listed values compare: case, separators and a China +86/0086 prefix ignored.

    >>> value_form("+86 400-800-8888") == value_form("400 800 8888")
    True
    >>> value_form("+86 10 6552 9988") == value_form("010-6552-9988")
    True
    """
    key = canonical_value(value)  # folds case and separators; strips +86 before a mobile
    for prefix in ("0086", "86"):
        rest = key[len(prefix) :]
        if key.startswith(prefix) and rest.isdigit() and 9 <= len(rest) <= 10 and rest[0] != "0":
            # 400/800 service numbers are dialled as they are; landlines get their trunk 0 back.
            return rest if rest[:3] in ("400", "800") else "0" + rest
    return key


@dataclass(frozen=True, slots=True, repr=False)  # holds deny-listed values
class Dictionary:
    """Compiled once per detector; ``scan`` is called for every segment."""

    automaton: ahocorasick.Automaton | None
    denied: re.Pattern[str] | None
    denied_entities: tuple[str, ...]  # group i+1 of ``denied`` is entity i

    @classmethod
    def build(
        cls,
        *,
        markers: bool = True,
        terms: Iterable[str] = (),
        deny_values: Iterable[tuple[str, Iterable[str]]] = (),
    ) -> Dictionary:
        words = [*(MARKERS if markers else ()), *terms]
        automaton = _automaton(words) if words else None
        entities, patterns = [], []
        for entity, values in deny_values:
            forms = sorted({p for v in values if (p := _value_pattern(v))}, key=len, reverse=True)
            if forms:
                entities.append(entity)
                patterns.append(f"({'|'.join(forms)})")
        denied = (
            re.compile(rf"(?<![A-Za-z0-9])(?:{'|'.join(patterns)})(?![A-Za-z0-9])", re.IGNORECASE)
            if patterns
            else None
        )
        return cls(automaton, denied, tuple(entities))

    def __repr__(self) -> str:
        return f"Dictionary({len(self.denied_entities)} deny-listed entities)"

    def scan(self, text: str) -> list[Hit]:
        """Markers and deny-listed values in ``text`` (already normalised)."""
        return [*self._markers(text), *self._denied(text)]

    def _markers(self, text: str) -> list[Hit]:
        if self.automaton is None:
            return []
        folded = _fold(text)
        hits = []
        for end, length in self.automaton.iter(folded):
            start = end + 1 - length
            if _whole_word(folded, start, end + 1):
                hits.append(Hit(MARKER, start, end + 1))
        return _outermost(hits)

    def _denied(self, text: str) -> list[Hit]:
        if self.denied is None:
            return []
        return [
            Hit(self.denied_entities[match.lastindex - 1], match.start(), match.end())
            for match in self.denied.finditer(text)
            if match.lastindex is not None
        ]


def _automaton(words: list[str]) -> ahocorasick.Automaton:
    automaton = ahocorasick.Automaton()
    for word in words:
        key = _fold(word.strip())
        if key:
            automaton.add_word(key, len(key))
    automaton.make_automaton()
    return automaton


def _fold(text: str) -> str:
    """Lower-case without changing length (offsets must stay valid)."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def _whole_word(text: str, start: int, end: int) -> bool:
    """Latin terms need word edges; Chinese has no spaces, so CJK terms match anywhere."""
    joined_before = start > 0 and _LATIN.match(text[start]) and _LATIN.match(text[start - 1])
    joined_after = end < len(text) and _LATIN.match(text[end - 1]) and _LATIN.match(text[end])
    return not (joined_before or joined_after)


def _outermost(hits: list[Hit]) -> list[Hit]:
    """ "Strictly Confidential" once, not also its "Confidential"."""
    hits.sort(key=lambda h: (h.start, -h.end))
    kept: list[Hit] = []
    for hit in hits:
        if kept and hit.end <= kept[-1].end:
            continue
        kept.append(hit)
    return kept


def _value_pattern(value: str) -> str | None:
    """A regex for every written form of ``value``; None if nothing is left to match."""
    key = value_form(value)
    if not key:
        return None
    body = _SEPARATOR.join(re.escape(ch) for ch in key)
    if key.isdigit() and len(key) == 11 and key[0] == "1":  # a mobile: +86 138 ..., 0086-138...
        return rf"(?:(?:\+|00)?86[\s\-]?)?{body}"
    if key.isdigit() and key[0] == "0" and 10 <= len(key) <= 12:  # a landline: +86 10 ...
        return (
            rf"(?:(?:(?:\+|00)?86[\s\-]?)?{_SEPARATOR.join(re.escape(c) for c in key[1:])}|{body})"
        )
    return body
