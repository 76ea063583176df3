"""Text normalisation before matching, with a map back to the original offsets.

    >>> n = normalize("手机：１３８\u200b0013 8000")
    >>> n.text
    '手机:1380013 8000'
    >>> n.span(3, 15)          # normalised span -> span in the original text
    (3, 16)
    >>> normalize("a\\ud800b").text == "a\\ufffdb"  # a lone surrogate (JSON's "\\ud800")
    True

Why: full-width digits (``１３８``), other scripts' digits (``١٣٨``), invisible characters
(zero-width space, soft hyphen, bidi marks, tag characters, NUL and other control
characters) and combining marks stacked on digits (``1̀3̀8̀``) are cheap ways to slip a
phone number past a regex while a reader, or a parser such as ``int()``, still sees it.
NFKC folds the first, ``unicodedata.decimal`` the second, the others are dropped.
Findings must still point into the original ``Segment.text`` so the proxy masks the
characters it received.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

# Characters that render as nothing, so a reader (or a receiver that strips them) sees the
# digits on either side as one number: zero-width space/non-joiner/joiner, word joiner,
# invisible operators, BOM, soft hyphen, bidi marks and embeddings, Mongolian vowel
# separator, interlinear annotation marks, combining grapheme joiner, Hangul fillers,
# variation selectors, tag characters, musical formatting marks; and control characters
# (C0 but tab, line feed, vertical tab, form feed, carriage return; DEL; C1): NUL between
# digits is dropped by C string handling, terminals and most text widgets.
INVISIBLE = re.compile(
    "[\x00-\x08\x0e-\x1f\x7f-\x9f"
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
    "\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb"
    "\U0001d173-\U0001d17a\U000e0000-\U000e007f\U000e0100-\U000e01ef]"
)
# The same without the astral ones, and any astral character: searching for these two is
# 2x faster than for INVISIBLE (re scans wide classes slowly), and few texts are astral.
_INVISIBLE_BMP = re.compile(INVISIBLE.pattern.split("\U0001d173")[0] + "]")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
# Combining marks that stack on a letter or digit: "3\u0300" still reads "3" (the common
# blocks; a mark is dropped only after an ASCII letter or digit).
_MARKS = "\u0300-\u036f\u0483-\u0489\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"


def _digit_ranges(low: int, high: int) -> str:
    """Non-ASCII decimal digits (Arabic-Indic ٣, Devanagari ३, ...) as a regex class body:
    ``int()`` and many parsers read them as digits, NFKC does not fold them."""
    codes = [c for c in range(max(low, 0x80), high) if unicodedata.category(chr(c)) == "Nd"]
    starts = [c for c in codes if c - 1 not in codes]
    ends = [c for c in codes if c + 1 not in codes]
    return "".join(f"{chr(a)}-{chr(b)}" for a, b in zip(starts, ends, strict=True))


# A lone surrogate (JSON's "\ud800" decodes to one) is no character: UTF-8 cannot encode it,
# so hyperscan, the segment selector and spaCy would fail on it. It becomes U+FFFD, one
# character for one, so offsets into the original stay exact.
_SURROGATES = "\ud800-\udfff"
REPLACEMENT = "\ufffd"
# Anything the per-character pass changes beyond NFKC. One BMP class compiles to a bitmap
# (fast); astral ranges are slow for re, so they are searched only in astral texts.
_SPECIAL_BMP = re.compile(
    "["
    + _INVISIBLE_BMP.pattern[1:-1]
    + _MARKS
    + _SURROGATES
    + _digit_ranges(0x80, 0x10000)
    + "]"
)
_SPECIAL_ASTRAL = re.compile(
    "[\U0001d173-\U0001d17a\U000e0000-\U000e007f\U000e0100-\U000e01ef"
    + _digit_ranges(0x10000, 0x110000)
    + "]"
)
# Astral characters outside the emoji blocks (1F100-1FAFF): emoji-laden chat text skips
# the slow astral class above.
_ASTRAL_NOT_EMOJI = re.compile("[\U00010000-\U0001f0ff\U0001fb00-\U0010ffff]")
_MARK = re.compile("[" + _MARKS + "]")
# The ASCII ones: an ASCII text without them is already normal (the fast path).
_ASCII_INVISIBLE = re.compile("[\x00-\x08\x0e-\x1f\x7f]")
_ASCII_VISIBLE = bytes(set(range(0x80)) - set(range(0x09)) - set(range(0x0E, 0x20)) - {0x7F})


@dataclass(frozen=True, slots=True)
class Normalized:
    """Normalised text; ``origin[i]`` is the original index of normalised char ``i``."""

    text: str
    origin: tuple[int, ...] | None  # None: identical to the original (the common case)
    original_length: int

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Map a normalised ``[start, end)`` to the original text."""
        if self.origin is None:
            return start, end
        if end <= start:
            raise ValueError("empty span")
        return self.origin[start], self.origin[end - 1] + 1


def normalize(text: str) -> Normalized:
    """NFKC per character, any decimal digit as ASCII, invisible characters and combining
    marks on ASCII letters and digits removed; see module docstring."""
    if text.isascii():
        # bytes.translate finds the control characters at C speed (a regex is 15x slower)
        if not text.encode("ascii").translate(None, _ASCII_VISIBLE):
            return Normalized(text, None, len(text))
        return _without_controls(text)
    if unicodedata.is_normalized("NFKC", text) and not _special(text):
        return Normalized(text, None, len(text))
    out: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        folded = _fold(char)
        if not folded or (out and _MARK.match(char) and _ASCII_ALNUM.match(out[-1][-1])):
            continue
        out.append(folded)
        origin.extend([index] * len(folded))
    return Normalized("".join(out), tuple(origin), len(text))


_ASCII_ALNUM = re.compile("[0-9A-Za-z]")


def _special(text: str) -> bool:
    if _SPECIAL_BMP.search(text) is not None:
        return True
    return (
        _ASTRAL.search(text) is not None
        and _ASTRAL_NOT_EMOJI.search(text) is not None
        and _SPECIAL_ASTRAL.search(text) is not None
    )


def has_invisible(text: str) -> bool:
    """``INVISIBLE.search(text) is not None``, faster."""
    if _INVISIBLE_BMP.search(text) is not None:
        return True
    return (
        _ASTRAL.search(text) is not None
        and _ASTRAL_NOT_EMOJI.search(text) is not None
        and INVISIBLE.search(text) is not None
    )


@functools.lru_cache(maxsize=1 << 14)  # texts repeat few distinct characters
def _fold(char: str) -> str:
    """One character's NFKC form without invisible characters ("" for an invisible one).
    Per character, so every output char maps to exactly one input char."""
    if char.isascii():
        return "" if INVISIBLE.match(char) else char
    if "\ud800" <= char <= "\udfff":
        return REPLACEMENT
    digit = unicodedata.decimal(char, None)
    if digit is not None:  # ٣ -> 3
        return str(digit)
    return INVISIBLE.sub("", unicodedata.normalize("NFKC", char))


def _without_controls(text: str) -> Normalized:
    """ASCII text with control characters: only removals, done piecewise (NFKC keeps ASCII)."""
    out: list[str] = []
    origin: list[int] = []
    pos = 0
    for match in _ASCII_INVISIBLE.finditer(text):
        out.append(text[pos : match.start()])
        origin.extend(range(pos, match.start()))
        pos = match.end()
    out.append(text[pos:])
    origin.extend(range(pos, len(text)))
    return Normalized("".join(out), tuple(origin), len(text))


def canonical_value(value: str) -> str:
    """The form allow-lists compare: normalised, separators dropped, case folded.

    >>> canonical_value("+86 138-0013-8000") == canonical_value("13800138000")
    True
    """
    folded = normalize(value).text.casefold()
    key = "".join(ch for ch in folded if ch.isalnum() or ch in "@._")
    # "+86 138..." and "0086 138..." are the same mobile as "138...".
    for prefix in ("0086", "86"):
        if key.startswith(prefix) and len(key) == len(prefix) + 11 and key[len(prefix)] == "1":
            return key[len(prefix) :]
    return key
