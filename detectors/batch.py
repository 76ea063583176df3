"""Which segments of a request can hold a finding, in one scan of all of them.

A JSON API call is a hundred short values; scanning each on its own costs a hyperscan
call, a dictionary pass and Python overhead per value, which dominates clean traffic.
Here every pre-filter signal and dictionary term is looked for once, over the
segments joined by newlines, and each hit is traced back to its segment:

    busy = SegmentSelector(prefilter, dictionary).busy(["order SO-1", "13800138000"])
    # {1}

Exactness: a signal that matches inside one segment also matches inside the joined
text (a newline stands where ``^``/``$`` or a non-digit did; patterns never need more
context than their segment), and every match is reported (no SINGLEMATCH), so no
segment that the per-segment scan would keep is skipped. A match that runs across a
newline only makes an extra segment busy: it costs time, never a finding.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from detectors.dictionary import Dictionary
from detectors.prefilter import Prefilter

SEPARATOR = "\n"


class SegmentSelector:
    def __init__(self, prefilter: Prefilter, dictionary: Dictionary):
        self.dictionary = dictionary
        self.database = _all_matches_database(prefilter)

    @property
    def available(self) -> bool:
        return self.database is not None

    def busy(self, texts: Sequence[str]) -> set[int]:
        """Indices of ``texts`` (normalised) with at least one signal or dictionary hit."""
        joined = SEPARATOR.join(texts)
        char_starts, byte_starts = [], []
        chars = octets = 0
        for text in texts:
            char_starts.append(chars)
            byte_starts.append(octets)
            chars += len(text) + 1
            octets += len(text.encode("utf-8")) + 1
        found: set[int] = set()

        def on_match(_id: int, _start: int, end: int, _flags: int, _ctx: object) -> None:
            found.add(bisect_right(byte_starts, end - 1) - 1)

        self.database.scan(joined.encode("utf-8"), match_event_handler=on_match)
        for hit in self.dictionary.scan(joined):
            found.add(bisect_right(char_starts, hit.start) - 1)
        return found


def _all_matches_database(prefilter: Prefilter):
    try:
        import hyperscan
    except ImportError:
        return None
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    signals = prefilter.signals
    database.compile(
        expressions=[regex.encode() for regex, _, _ in signals],
        ids=list(range(len(signals))),
        elements=len(signals),
        flags=[
            hyperscan.HS_FLAG_UTF8 | (hyperscan.HS_FLAG_CASELESS if nocase else 0)
            for _, _, nocase in signals
        ],
    )
    return database
