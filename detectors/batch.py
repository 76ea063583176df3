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
        # The dictionary's marker terms ride in the same hyperscan pass (ids past the
        # signals'): a text without one skips the Aho-Corasick pass (see ``busy``).
        self.marker_words = _marker_words(dictionary)
        self.database = _all_matches_database(prefilter, self.marker_words or ())
        self.n_signals = len(prefilter.signals)

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

    def busy_as_sent(self, texts: Sequence[str], joined: str | None = None) -> set[int]:
        """``busy`` of texts as sent (normalised here): what ``select`` keeps of segments
        with these texts, but for their field-name contexts; ``joined``:
        ``SEPARATOR.join(texts)`` when the caller has it.

        >>> SegmentSelector.for_config(DetectorConfig()).busy_as_sent(["SO-1", "13800138000"])
        {1}
        """
        if joined is None:
            joined = SEPARATOR.join(texts)
        normal = normalize(joined)
        if normal.origin is None:  # as in _normalized: every text is left as it is
            return self.busy(texts, normal.text)
        return self.busy(_normalized(list(texts)))

    def busy(self, texts: Sequence[str], joined: str | None = None) -> set[int]:
        """Indices of ``texts`` (normalised) with at least one signal or dictionary hit;
        ``joined``: ``SEPARATOR.join(texts)`` when the caller has it.

        One scan collects where matches end; only when there are some is each traced back to
        its text (most requests have none, and a masked one a few). The dictionary's
        markers are in that scan too: only when one is seen (or deny-listed values are set)
        does the dictionary's own pass decide."""
        if joined is None:
            joined = SEPARATOR.join(texts)
        data = joined.encode("utf-8")
        ends: list[int] = []
        marked: list[int] = []
        n = self.n_signals
        self.database.scan(data, match_event_handler=lambda i, _s, end, _f, _c: (
            ends if i < n else marked).append(end))
        terms = self.dictionary.scan(joined) if self._dictionary_may_hit(joined, marked) else ()
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


    def _dictionary_may_hit(self, joined: str, marked: list[int]) -> bool:
        """Can ``dictionary.scan(joined)`` find anything? Not when hyperscan saw none of its
        marker words (case-insensitively: a superset of the automaton's folded matches,
        ``_marker_words`` says when), no deny-listed value is set and no character that
        lower-cases into a word's letters hides in the text (U+212A KELVIN SIGN is "k")."""
        if marked or self.marker_words is None or self.dictionary.denied is not None:
            return True
        return any(c in joined for c in self.marker_words.folding_in)


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


class MarkerWords(tuple[str, ...]):
    """The dictionary's marker words (as its automaton holds them: folded), as hyperscan
    literals; ``folding_in``: the characters outside ASCII whose ``lower()`` is one of the
    words' letters (hyperscan folds ASCII case only)."""

    folding_in: frozenset[str] = frozenset()


def _marker_words(dictionary: Dictionary) -> MarkerWords | None:
    """The marker words, or None when hyperscan cannot stand in for the automaton: no
    automaton needs no stand-in (``()``), but a word with a cased letter outside ASCII
    (hyperscan would not fold it) gets None: the dictionary always scans then.

    >>> sorted(_marker_words(Dictionary.build(markers=False, terms=("项目X",))).folding_in)
    []
    >>> [hex(ord(c)) for c in _marker_words(Dictionary.build(markers=False, terms=("Kilo",))).folding_in]
    ['0x212a']
    >>> _marker_words(Dictionary.build(markers=False, terms=("Ärger",))) is None
    True
    """
    automaton = dictionary.automaton
    if automaton is None:
        return MarkerWords(())
    words = MarkerWords(automaton.keys())
    letters = set("".join(words))
    if any(not c.isascii() and (c.lower() != c or c.upper() != c) for c in letters):
        return None
    words.folding_in = frozenset(FOLDING_IN_ASCII[c] for c in letters if c in FOLDING_IN_ASCII)
    return words


# The characters outside ASCII whose lower() is one ASCII character, by that character:
# Unicode has one (tests/test_batch_markers.py checks the table against every code point).
FOLDING_IN_ASCII = {"k": "\u212a"}  # KELVIN SIGN


def _literal(word: str) -> bytes:
    r"""``word`` as a hyperscan pattern that matches it literally.

    >>> _literal("do not (x)")
    b'do\\x20not\\x20\\x28x\\x29'
    """
    return "".join(c if not c.isascii() or c.isalnum() else f"\\x{ord(c):02x}"
                   for c in word).encode()


def _all_matches_database(prefilter: Prefilter, words: Sequence[str] = ()):
    try:
        import hyperscan
    except ImportError:
        return None
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    signals = prefilter.signals
    expressions = [regex.encode() for regex, _, _ in signals] + [_literal(w) for w in words]
    database.compile(
        expressions=expressions,
        ids=list(range(len(expressions))),
        elements=len(expressions),
        flags=[
            hyperscan.HS_FLAG_UTF8 | (hyperscan.HS_FLAG_CASELESS if nocase else 0)
            for _, _, nocase in signals
        ] + [hyperscan.HS_FLAG_UTF8 | hyperscan.HS_FLAG_CASELESS] * len(words),
    )
    return database
