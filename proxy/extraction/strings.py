"""Printable text inside binary content: what ``strings(1)`` would show, as segments.

    view = strings_view(b"\\x00\\x01ELF...\\x00id=11010519491231002X\\x00...", "body")
    [(s.location, s.text) for s in view.segments]
      -> [("body:strings", "id=11010519491231002X")]

Used for binaries nobody can parse (executables, SQLite files, octet-stream uploads of
unknown formats, protobuf bytes fields): an ID, phone or card number written inside
them is still found. Runs of at least ``MIN_RUN`` characters are kept:

- UTF-8 runs: printable ASCII, tabs, and well-formed multi-byte sequences (Chinese text);
- UTF-16LE and UTF-16BE runs (Windows binaries, Office, Java class constants): printable
  ASCII and CJK characters. A run of CJK units only must be ``2 * MIN_RUN`` long, since
  about a third of random byte pairs are CJK code units; data without three UTF-16 ASCII
  characters in a row anywhere is not searched for UTF-16 at all (it costs most of the time
  on random or compressed data).

Runs are joined with newlines into segments of at most ``SEGMENT_CHARS`` characters
(the detectors' cost grows faster than linearly with segment size). Byte offsets are
not kept: binaries cannot be rewritten, so the view raises CannotMask (the proxy blocks).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from detectors.model import Segment
from proxy.extraction.decode import current_budget
from proxy.extraction.documents import document_view
from proxy.extraction.layers import View

MIN_RUN = 6  # "1380013" alone is not personal data; 6 keeps short labels like "phone:"
SEGMENT_CHARS = 8192

_UTF8_RUN = re.compile(
    rb"(?:[\x20-\x7e\t]|[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}"
    rb"|[\xf0-\xf4][\x80-\xbf]{3}){%d,}" % MIN_RUN
)
# One UTF-16 unit: printable ASCII, CJK ideographs, CJK punctuation, full-width forms.
_LE_UNIT = rb"(?:[\x20-\x7e]\x00|[\x00-\xff][\x4e-\x9f\x30]|[\x01-\x5e]\xff)"
_BE_UNIT = rb"(?:\x00[\x20-\x7e]|[\x4e-\x9f\x30][\x00-\xff]|\xff[\x01-\x5e])"
_UTF16_RUNS = (
    (re.compile(rb"(?:%s){%d,}" % (_LE_UNIT, MIN_RUN)), "utf-16-le"),
    (re.compile(rb"(?:%s){%d,}" % (_BE_UNIT, MIN_RUN)), "utf-16-be"),
)
_UTF16_HINT = re.compile(rb"(?:[\x20-\x7e]\x00){3}|(?:\x00[\x20-\x7e]){3}")
_ASCII = re.compile(r"[\x20-\x7e]")


def strings_view(data: bytes, label: str, limit: int = 50 << 20) -> View:
    """The printable runs of ``data`` as segments at ``<label>:strings``."""
    runs = list(printable_runs(data))
    current_budget(limit).spend(sum(len(run) for run in runs), "printable strings")
    where = f"{label}:strings"
    return document_view(tuple(Segment(text, where) for text in _joined(runs)), "binary")


def printable_runs(data: bytes) -> Iterator[str]:
    """UTF-8 runs, then UTF-16 runs, in the order found; each at least MIN_RUN characters."""
    for match in _UTF8_RUN.finditer(data):
        text = match.group().decode("utf-8", "replace")
        if text.strip():
            yield text
    yield from _utf16_runs(data)


def _utf16_runs(data: bytes) -> list[str]:
    """Runs in either byte order; where the two readings overlap, the one with more ASCII
    characters wins (text read one byte off turns ASCII into CJK-looking units). A run
    starts wherever the pattern first matches: ASCII read one byte off never matches a
    unit, so junk before a real run stops where the run starts."""
    if not _UTF16_HINT.search(data):
        return []  # no UTF-16 ASCII at all (random or compressed data): skip the costly pass
    candidates = []
    for pattern, codec in _UTF16_RUNS:
        for match in pattern.finditer(data):
            start, end = match.span()
            text = match.group().decode(codec, "replace")
            if _plausible_utf16(text):
                candidates.append((len(_ASCII.findall(text)), len(text), start, end, text))
    taken: list[tuple[int, int, str]] = []
    for _, _, start, end, text in sorted(candidates, reverse=True):
        if not any(s < end and start < e for s, e, _ in taken):
            taken.append((start, end, text))
    return [text for _, _, text in sorted(taken)]


def _plausible_utf16(text: str) -> bool:
    ascii_chars = len(_ASCII.findall(text))
    if ascii_chars == 0:
        return len(text) >= 2 * MIN_RUN
    # ASCII text read one byte off reads as CJK; keep runs that really are ASCII-heavy or long.
    return ascii_chars >= MIN_RUN and bool(text.strip())


def _joined(runs: list[str]) -> Iterator[str]:
    batch: list[str] = []
    size = 0
    for run in runs:
        for start in range(0, len(run), SEGMENT_CHARS):
            piece = run[start : start + SEGMENT_CHARS]
            if batch and size + len(piece) + 1 > SEGMENT_CHARS:
                yield "\n".join(batch)
                batch, size = [], 0
            batch.append(piece)
            size += len(piece) + 1
    if batch:
        yield "\n".join(batch)
