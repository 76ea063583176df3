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

The same selector decides in the proxy process whether a request needs a detector
worker at all (``SegmentSelector.for_config``, no Presidio engine built): a segment it
does not select can hold no finding, so a request with none selected is clean.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from functools import lru_cache

from detectors.config import DetectorConfig
from detectors.dictionary import MARKER, Dictionary
from detectors.fieldnames import CONTEXT, is_name_field
from detectors.model import Segment
from detectors.normalize import normalize
from detectors.prefilter import Prefilter

SEPARATOR = "\n"
PERSON_CONTEXT = tuple(w.lower() for w in CONTEXT)


class SegmentSelector:
    """``everything``: select every segment (an admin's recognizer sees them all)."""

    def __init__(self, prefilter: Prefilter, dictionary: Dictionary, everything: bool = False):
        self.prefilter = prefilter
        self.dictionary = dictionary
        self.everything = everything
        self.database = _all_matches_database(prefilter)

    @classmethod
    def for_config(cls, config: DetectorConfig, entities: frozenset[str] | None = None,
                   everything: bool | None = None) -> SegmentSelector:
        """The selector of a ``Detector(config)``; the Detector passes the entities it wants
        and whether an admin's recognizer must see every segment. Without them (the proxy,
        which builds no Detector) it assumes every entity is wanted and any extra recognizer
        sees everything: a superset of the Detector's selection, never less.

        >>> SegmentSelector.for_config(DetectorConfig()).select(
        ...     [Segment("order SO-1", "json:$.id"), Segment("13800138000", "json:$.tel")])
        [1]
        """
        markers = entities is None or MARKER in entities
        dictionary = Dictionary.build(
            markers=config.confidential_markers and markers,
            terms=config.confidential_terms if markers else (),
            deny_values=config.deny_values,
        )
        if everything is None:
            everything = bool(config.extra_recognizers)
        return cls(Prefilter(ner=config.ner), dictionary, everything)

    @property
    def available(self) -> bool:
        return self.database is not None

    def select(self, segments: Sequence[Segment], texts: Sequence[str] | None = None) -> list[int]:
        """Indices of the segments that can hold a finding, sorted; ``texts``: their
        normalised texts (``detectors.normalize``), normalised here when not given. All of
        them when an admin's recognizer must see every segment or hyperscan is missing."""
        if self.everything or not self.available:
            return list(range(len(segments)))
        if texts is None:
            texts = _normalized([s.text for s in segments])
        busy = self.busy(texts)
        busy.update(i for i, s in enumerate(segments) if s.context and person_context(tuple(s.context)))
        return sorted(busy)

    def quiet(self, texts: Sequence[str], contexts: Iterable[Sequence[str]]) -> bool:
        """Would ``select`` of segments with these texts (as sent) select none of them?
        ``contexts``: their field-name contexts, or any superset of their name-ish words.

        >>> SegmentSelector.for_config(DetectorConfig()).quiet(["SO-1", "2 pcs"], [("order",)])
        True
        """
        if self.everything or not self.available:
            return not texts
        if any(c and person_context(tuple(c)) for c in contexts):
            return False
        return not self.busy_as_sent(texts)

    def busy_as_sent(self, texts: Sequence[str]) -> set[int]:
        """``busy`` of texts as sent (normalised here): what ``select`` keeps of segments
        with these texts, but for their field-name contexts.

        >>> SegmentSelector.for_config(DetectorConfig()).busy_as_sent(["SO-1", "13800138000"])
        {1}
        """
        return self.busy(_normalized(list(texts)))

    def busy(self, texts: Sequence[str]) -> set[int]:
        """Indices of ``texts`` (normalised) with at least one signal or dictionary hit.

        One scan collects where matches end; only when there are some is each traced back to
        its text (most requests have none, and a masked one a few)."""
        joined = SEPARATOR.join(texts)
        data = joined.encode("utf-8")
        ends: list[int] = []
        self.database.scan(data, match_event_handler=lambda _i, _s, end, _f, _c: ends.append(end))
        terms = self.dictionary.scan(joined)
        if not ends and not terms:
            return set()
        char_starts, byte_starts = [], []  # where each text starts (in UTF-8 bytes: hyperscan's)
        chars = octets = 0
        for text in texts:
            char_starts.append(chars)
            byte_starts.append(octets)
            chars += len(text) + 1
            octets += (len(text) if text.isascii() else len(text.encode("utf-8"))) + 1
        found = {bisect_right(byte_starts, end - 1) - 1 for end in ends}
        found.update(bisect_right(char_starts, hit.start) - 1 for hit in terms)
        return found


def _normalized(texts: list[str]) -> list[str]:
    """``normalize(t).text`` of each. One pass over all of them first: when normalize()
    leaves the joined text as it is (its fast paths: printable ASCII, or NFKC with nothing
    special), it leaves each piece as it is (a newline composes with nothing), and the
    per-text pass is skipped."""
    if normalize(SEPARATOR.join(texts)).origin is None:
        return texts
    return [normalize(text).text for text in texts]


@lru_cache(maxsize=4096)  # field names repeat from request to request
def person_context(context: tuple[str, ...]) -> bool:
    """Field names that make a person's name likely (``("order", "receiver")``)."""
    fields = [word.lower() for word in context]
    return is_name_field(context) or any(w in f for w in PERSON_CONTEXT for f in fields)


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
