"""A JSON body's leaves read from its text: every leaf's text, and the name, context and
masked rewrite of the few leaves a request needs, without building Python objects.

    body = RawJson.of(text, codec)      # text: JSON with no backslash (rawscan checks it)
    body.texts                -> the leaf texts ``extract`` makes segments of, in order
    body.segments([2])        -> [Segment("13800138000", "json:$.contact.mobile", ("contact", "mobile"))]
    body.render({2: "138****8000"})  -> the text with leaf 2's token rewritten

Extraction parses a body with a Python hook per object and number and walks every node in
Python to name each leaf (``json:$.items[3].sku``): ~250 µs with its layer search for a
4 KB API call, of which a masked request needs one or two leaves. Without a backslash every
quote opens or closes a string, so splitting the text at its quotes gives every string, and
the text with its strings emptied (``skeleton``) holds the whole structure: one pass over
its brackets, with a comma and quote count per step, names the leaves asked for
(``_names``). Hand-written because no library names JSON leaves from text offsets; that
the names, contexts and rewrites equal ``extract``'s is a tested property
(tests/test_rawjson.py).
"""

from __future__ import annotations

import operator
import re
from bisect import bisect_right
from collections.abc import Mapping, Sequence, Set
from itertools import accumulate, compress

from detectors.model import Segment
from proxy.extraction.decode import TextCodec
from proxy.extraction.extract import is_data_key, json_step, splice

# A string (and the colon that makes it a key), or a whole JSON number of 6+ digits and
# nothing else (extract._is_id_number): delimited like a JSON value, so the exponent of
# 1e1234567 or the digits of 1234567.5 never match.
_TOKENS = re.compile(r'"([^"]*)"(\s*:)?|(?<![^\s,:\[])(-?\d{6,})(?![^\s,\]}])')
_DIGITS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))  # digit -> "0"
_BRACKETS = re.compile(r"[\[\]{}]")
ROOT = "json:$"  # the body's JSON root, as extract names it


class RawJson:
    """The pieces of JSON text with no backslash, split at its quotes. Only a text that is
    valid JSON gives ``extract``'s leaves (rawscan checks validity after the keys)."""

    __slots__ = (
        "_at",
        "_glen",
        "_is_key",
        "_kinds",
        "_leaves",
        "_numbers",
        "_slen",
        "codec",
        "glue",
        "keys",
        "strings",
        "text",
        "texts",
    )

    def __init__(self, text: str, codec: TextCodec, strings: list[str], glue: list[str],
                 keys: set[str], texts: list[str], kinds: dict[str, bool] | None):
        self.text, self.codec, self.strings, self.glue = text, codec, strings, glue
        self.keys, self.texts = keys, texts  # every key; every leaf's text, in order
        # Per glue after a string: does it make that string a key? None when numbers are
        # leaves too (the token path). ``_is_key``: per string, built when first needed.
        self._kinds = kinds
        self._is_key: list[bool] | None = None
        # Per leaf: its string's index, or -1-n for number n of _numbers (start, end, strings
        # before it). Built when a leaf is first located (a clean request never is).
        self._leaves: list[int] | None = None
        self._numbers: list[tuple[int, int, int]] = []
        self._glen: list[int] = []  # lengths of glue 0..n-1, and of strings 0..n-1, summed
        self._at: dict[int, tuple[int, int, int, int]] = {}  # _where's, per leaf asked
        self._slen: list[int] = []  # (only for many leaves)

    @classmethod
    def of(cls, text: str, codec: TextCodec) -> RawJson | None:
        """``text`` split at its quotes (no backslash in it: every quote is a delimiter); None
        for an odd number of quotes (not JSON).

        >>> RawJson.of('{"order": "SO-1", "qty": 2, "ref": 12345678, "x": [{"sku": "A 1"}]}',
        ...            TextCodec("utf-8")).texts
        ['SO-1', '12345678', 'A 1']
        """
        parts = text.split('"')
        strings, glue = parts[1::2], parts[0::2]
        if len(glue) != len(strings) + 1:
            return None
        if _numbered(glue):
            tokens = _TOKENS.findall(text)
            return cls(text, codec, strings, glue, {s for s, colon, _ in tokens if colon},
                       [s or n for s, colon, n in tokens if not colon and (s or n)], None)
        after = parts[2::2]  # the glue after each string
        kinds = {a: _is_colon(a) for a in set(after)}  # few: ", " ": " "},{"
        # Two lookups per string at C speed (no per-string list of flags: a clean request
        # never needs one; ``_located`` builds it for the few that do).
        values = {a: not key for a, key in kinds.items()}
        texts = list(filter(None, compress(strings, map(values.__getitem__, after))))  # "" no leaf
        keys = set(compress(strings, map(kinds.__getitem__, after)))
        return cls(text, codec, strings, glue, keys, texts, kinds)

    @classmethod
    def known(cls, text: str, codec: TextCodec, texts: list[str], keys: set[str]) -> RawJson:
        """``of`` of valid JSON text whose leaf texts and keys are known already
        (``rawscan.json_leaves``): only the split, for naming and rewriting leaves.

        >>> RawJson.known('{"a": "x"}', TextCodec("utf-8"), ["x"], {"a"}).segments([0])
        [Segment(text='x', location='json:$.a', context=('a',))]
        """
        parts = text.split('"')
        glue = parts[0::2]
        kinds = None if _numbered(glue) else {a: _is_colon(a) for a in set(parts[2::2])}
        return cls(text, codec, parts[1::2], glue, keys, texts, kinds)

    @property
    def skeleton(self) -> str:
        """The text with every string emptied: its structure."""
        return '""'.join(self.glue)

    def after(self, keys: Set[str]) -> int:
        """The first leaf after the first of ``keys`` used as a key (every leaf under such a
        key lies at or after it), or ``len(texts)`` when none is used as a key."""
        order = self._located()
        assert self._is_key is not None  # _located built it
        used = compress(range(len(self.strings)), self._is_key)
        first = next((s for s in used if self.strings[s] in keys), None)
        if first is None:
            return len(self.texts)
        if not self._numbers:
            return bisect_right(order, first)
        before = [x if x >= 0 else self._numbers[-x - 1][2] for x in order]
        return bisect_right(before, first)

    def segments(self, leaves: Sequence[int]) -> list[Segment]:
        """The segments ``extract`` makes of leaves ``leaves`` (indices into ``texts``,
        ascending), with their locations and field-name contexts.

        >>> body = RawJson.of('{"items": [{"sku": "A"}, "B"], "note": "x"}', TextCodec("utf-8"))
        >>> [(s.text, s.location, s.context) for s in body.segments([0, 1, 2])]
        [('A', 'json:$.items[0].sku', ('items', 'sku')), ('B', 'json:$.items[1]', ('items',)), ('x', 'json:$.note', ('note',))]
        """
        self._many(len(leaves))
        where = [self._where(k)[:2] for k in leaves]
        names = _names(self.skeleton, self.strings, where)
        return [Segment(self.texts[k], location, context)
                for k, (location, context) in zip(leaves, names, strict=True)]

    def render(self, new: Mapping[int, str]) -> str:
        """The text with the token of each leaf in ``new`` rewritten as a JSON string of its
        new value, every other character kept (as ``extract``'s rendering splices)."""
        self._many(len(new))
        return splice(self.text, [(self._where(k)[2:], new[k]) for k in sorted(new)])

    def _where(self, k: int) -> tuple[int, int, int, int]:
        """Leaf ``k``: (skeleton offset, strings before it, token start, token end in text).
        Kept: a masked leaf is named (``segments``) and then rewritten (``render``)."""
        where = self._at.get(k)
        if where is None:
            where = self._at[k] = self._find(k)
        return where

    def _find(self, k: int) -> tuple[int, int, int, int]:
        leaf = self._located()[k]
        if leaf >= 0:  # string number ``leaf``: glue 0..leaf and strings 0..leaf-1 before it
            at = self._skeleton_at(leaf)
            start = at + self._chars_before(leaf)
            return at, leaf, start, start + len(self.strings[leaf]) + 2
        start, end, before = self._numbers[-leaf - 1]
        return start - self._chars_before(before), before, start, end

    def _skeleton_at(self, s: int) -> int:
        """Where string ``s`` starts in the skeleton: glue 0..s and a pair of quotes each."""
        return self._glen[s + 1] + 2 * s if self._glen else len('""'.join(self.glue[: s + 1]))

    def _chars_before(self, s: int) -> int:
        """The characters of strings 0..s-1: the skeleton lacks them."""
        return self._slen[s] if self._slen else len("".join(self.strings[:s]))

    def _many(self, leaves: int) -> None:
        """Sums kept for many leaves; a few (a masked request's) are a C join each."""
        if leaves > 8 and not self._glen:
            self._glen = list(accumulate(map(len, self.glue), initial=0))
            self._slen = list(accumulate(map(len, self.strings), initial=0))

    def _located(self) -> list[int]:
        if self._leaves is not None:
            return self._leaves
        if self._kinds is not None:  # strings only: the non-empty values
            self._is_key = list(map(self._kinds.__getitem__, self.glue[1:]))
            self._leaves = list(compress(range(len(self.strings)),
                                         map(operator.gt, map(bool, self.strings), self._is_key)))
            return self._leaves
        leaves: list[int] = []
        is_key: list[bool] = []
        for m in _TOKENS.finditer(self.text):
            if m.group(3) is not None:
                self._numbers.append((m.start(3), m.end(3), len(is_key)))
                leaves.append(-len(self._numbers))
                continue
            if m.group(2) is None and m.group(1):
                leaves.append(len(is_key))
            is_key.append(m.group(2) is not None)
        self._is_key, self._leaves = is_key, leaves
        return leaves


def _numbered(glue: list[str]) -> bool:
    """Does the glue hold a run of 6 digits (a number that may be a leaf)? The glue is ASCII
    in valid JSON: digits found by bytes.translate, not re. Only then does a regex pass keep
    the numbers' order among the strings."""
    return b"000000" in "".join(glue).encode("utf-8", "replace").translate(_DIGITS)


def _is_colon(between: str) -> bool:
    return between[:1] == ":" or (between[:1].isspace() and between.lstrip()[:1] == ":")


def _names(skeleton: str, strings: Sequence[str],
           where: Sequence[tuple[int, int]]) -> list[tuple[str, tuple[str, ...]]]:
    """(location, context) of the leaf at each (skeleton offset, strings before it), offsets
    ascending, as ``extract._walk`` names it.

    One pass over the brackets keeps the open containers (``stack``: their offsets) and, per
    open list, the commas inside its closed members (``inner``: they separate no member of
    its own). A leaf's name is its container's (built once, when a leaf first needs it) and
    one step: the key just before it, or its index (the list's own commas before it).
    """
    out: list[tuple[str, tuple[str, ...]]] = []
    if not where:
        return out
    names = _Names(skeleton, strings)
    stack: list[int] = []
    i = 0
    for m in _BRACKETS.finditer(skeleton, 0, where[-1][0]):
        at = m.start()
        while where[i][0] < at:  # the last leaf lies past every bracket seen here
            out.append(names.member(stack, *where[i]))
            i += 1
        if skeleton[at] in "{[":
            stack.append(at)
        else:
            start = stack.pop()
            if stack and skeleton[stack[-1]] == "[":
                names.inner[stack[-1]] = names.inner.get(stack[-1], 0) + skeleton.count(",", start, at)
    out += [names.member(stack, *w) for w in where[i:]]
    return out


class _Names:
    """The names of the open containers of one pass, and of their members."""

    __slots__ = ("inner", "known", "seen", "skeleton", "strings")

    def __init__(self, skeleton: str, strings: Sequence[str]):
        self.skeleton, self.strings = skeleton, strings
        self.inner: dict[int, int] = {}  # list offset -> commas inside its closed members
        self.known: dict[int, tuple[str, tuple[str, ...]]] = {}  # container offset -> name
        self.seen: dict[int, tuple[int, int, int]] = {}  # list -> last member named: offset,
        # its index, inner[list] then

    def member(self, stack: list[int], at: int, before: int) -> tuple[str, tuple[str, ...]]:
        """The name of the member starting at ``at`` (``before`` strings before it) of the
        innermost open container in ``stack``."""
        if not stack:
            return ROOT, ()
        parent = stack[-1]
        location, context = self.known.get(parent) or self._container(stack)
        if self.skeleton[parent] == "{":
            key = self.strings[before - 1]  # the key: the string just before
            step = None if is_data_key(key) else json_step(key)
            if step is None:
                raise ValueError("a key that is data")  # rawscan refuses these bodies first
            return location + step[0], context + step[1]
        # Counted on from the list's last named member: a long list costs one pass.
        last, index, inner = self.seen.get(parent, (parent, 0, 0))
        now = self.inner.get(parent, 0)
        index += self.skeleton.count(",", last, at) - (now - inner)
        self.seen[parent] = (at, index, now)
        return f"{location}[{index}]", context

    def _container(self, stack: list[int]) -> tuple[str, tuple[str, ...]]:
        """The name of the innermost open container, naming its unnamed outer ones first,
        outermost first (a loop, not recursion: a body may nest 500 deep)."""
        k = len(stack) - 1
        while k and stack[k - 1] not in self.known:
            k -= 1
        for j in range(k, len(stack)):  # each one's parent is named by now (or is the root)
            at = stack[j]
            before = self.skeleton.count('"', 0, at) // 2
            self.known[at] = self.member(stack[:j], at, before)
        return self.known[stack[-1]]
