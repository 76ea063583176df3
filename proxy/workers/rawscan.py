"""A JSON body proved clean from its text, without building its extraction.

    clean = prove_clean(raw, limits, selector)
    clean.reason is None   -> the full path (extract + SegmentSelector) selects nothing
    clean.reason == "name-field"   -> not proved (see REASONS): extract as usual

Extraction walks a parsed JSON document in Python (a few µs per node) and looks for
encoded layers in each value; for a clean 4 KB API call that is most of what baomi adds
to mitmproxy's own cost. When the body's text holds no backslash, every JSON string is the
text between two quotes as sent, so one C regex over the text lists exactly the leaf texts
the full path would make segments of, in document order (``body_texts``). The request is
then clean when, with the URL, header and host segments the full path makes (extracted as
usual, they are small), the segment selector's one hyperscan pass finds nothing.

Exact in one direction: clean here => ``extract`` + ``SegmentSelector.select`` selects
nothing. Every shape this cannot prove falls back to the full path (``REASONS``): another
media type or charset label, a Content-Encoding, a backslash (``\\u`` escapes), anything
a decoder could open (base64/hex runs of 16, ``%XX``, ``&``, a value that starts like
JSON, an invisible character), a key that is data (digits, ``@``) or names a person (the
selector's field-name rule, checked per key: the nearest key decides, see
``detectors.fieldnames.is_name_field``), JSON that is invalid or nested past what
extraction walks, a decoded size past the budget, or a candidate anywhere.
"""

from __future__ import annotations

import json
import operator
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import compress

from detectors.batch import SegmentSelector, person_context
from detectors.model import Segment
from proxy.extraction.archives import GZIP
from proxy.extraction.decode import Budget, decode_text, parse_content_encoding
from proxy.extraction.extract import Limits, RawRequest, extract, sniff
from proxy.extraction.fieldwords import words
from proxy.extraction.layers import Openers, openable_lines, opens
from proxy.workers.inspection import Inspection

# Content-Type values whose parse is known: media application/json, charset none or utf-8.
JSON_TYPES = frozenset({
    "application/json", "application/json; charset=utf-8", "application/json;charset=utf-8",
})
# extract._JSON_NESTING: deeper documents are refused; a body with fewer brackets in all
# cannot be that deep.
MAX_BRACKETS = 512
REASONS = ("media-type", "content-encoding", "backslash", "undecodable", "invalid-json",
           "too-deep", "data-key", "name-field", "layer", "budget", "candidate")

# A string (and the colon that makes it a key), or a whole JSON number of 6+ digits and
# nothing else (extract._is_id_number): delimited like a JSON value, so the exponent of
# 1e1234567 or the digits of 1234567.5 never match.
_TOKENS = re.compile(r'"([^"]*)"(\s*:)?|(?<![^\s,:\[])(-?\d{6,})(?![^\s,\]}])')
_DIGITS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))  # digit -> "0"
# extract._DATA_KEY is \d{6}|@; \d is any script's digit (١٢٣, １２３), not just 0-9.
_DATA_KEY_SUPERSET = re.compile(r"\d|@")


_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Proof:
    """``reason`` None: clean, and ``inspection`` is the full path's Inspection of it."""

    reason: str | None
    inspection: Inspection | None = None


def prove_clean(raw: RawRequest, limits: Limits, selector: SegmentSelector) -> Proof:
    """Clean without extracting the body, or why not (see module doc). Raises nothing the
    full path would not: extracting the URL and headers may raise as ``extract`` does."""
    texts = body_texts(raw, limits)
    if isinstance(texts, str):
        return Proof(texts)
    if len(raw.body) > limits.max_body_bytes:
        return Proof("budget")  # extract raises Oversize
    room = limits.max_decoded_bytes - len(raw.body)
    if room < 0:
        return Proof("budget")
    # The same budget: the body spends len(body), the URL's and headers' layers the rest.
    rest = extract(replace(raw, body=b""), replace(limits, max_decoded_bytes=room))
    segments = rest.segments
    n_url = sum(1 for s in segments if s.location.startswith(("path", "query:")))
    every = [s.text for s in segments[:n_url]] + texts + [s.text for s in segments[n_url:]]
    if not selector.quiet(every, (s.context for s in segments)):
        return Proof("candidate")
    return Proof(None, Inspection((), len(every), len(raw.body), (), rest.images))


def body_texts(raw: RawRequest, limits: Limits = _LIMITS) -> list[str] | str:
    """The texts of the body's segments as ``extract`` makes them, or a reason (REASONS).

    >>> body_texts(RawRequest("POST", "https://x", (("content-type", "application/json"),),
    ...            b'{"order": "SO-1", "qty": 2, "ref": 12345678, "items": [{"sku": "A 1"}]}'))
    ['SO-1', '12345678', 'A 1']
    """
    types = set(raw.header_values("content-type"))
    if len(types) != 1 or types.pop().strip().lower() not in JSON_TYPES:
        return "media-type"
    if parse_content_encoding(raw.header_values("content-encoding")):
        return "content-encoding"
    if b"\\" in raw.body:
        return "backslash"
    try:
        text, _ = decode_text(raw.body, None)
    except Exception:  # noqa: BLE001 - the full path raises it again and acts on it
        return "undecodable"
    if "\\" in text:  # UTF-16/32 bodies: the bytes held no 0x5C, the text may
        return "backslash"
    if text.count("[") + text.count("{") >= MAX_BRACKETS:
        return "too-deep"
    parts = text.split('"')  # no backslash: every quote opens or closes a string
    glue = parts[0::2]
    if len(glue) != len(parts[1::2]) + 1:
        return "invalid-json"  # an odd number of quotes
    # Keys first (a name-ish key is the commonest way out), validity last: until then the
    # pieces may be wrong, but only a proof that passes every check is used.
    keys, texts = _leaves(text, parts, glue)
    for key in keys:
        if (why := _key_reason(key)) is not None:
            return why
    if not _valid_json(text, glue, parts[1::2]):
        return "invalid-json"  # extract refuses it too
    suspects = openable_lines("\n".join(texts))  # a value holds no newline: a line each
    if suspects and _opens(suspects, limits):
        return "layer"
    return texts


def _opens(texts: list[str], limits: Limits) -> bool:
    """Does a decoder open a layer in any of ``texts`` (``layers.opens``)? Whatever the
    decoded bytes open (a document, JSON) counts as opened: only "nothing" proves clean. An
    order number such as SO-2026-11-27-000123 looks like base64 at a first glance and
    decodes to nothing readable."""
    budget = Budget(limits.max_decoded_bytes)
    try:
        return any(opens(text, _PROBE, limits.max_depth, budget) for text in texts)
    except Exception:  # noqa: BLE001 - Uninspectable, Oversize: the full path decides
        return True


class _Opened:
    """What the probe's openers return: a view with one empty segment. Not none:
    ``layers`` keeps only layers whose view has segments, so an empty view made base64 of a
    JSON document, of a file or of an image look like "nothing opened" (review finding,
    tests/test_fastpath_attacks.py)."""

    segments: tuple[Segment, ...] = (Segment("", "probe"),)

    def render(self, edits) -> bytes:
        raise AssertionError("a probe is never rendered")


_OPENED = _Opened()
_PROBE = Openers(
    document=lambda data, label, depth: _OPENED if sniff(data) not in (None, GZIP) else None,
    json=lambda text, codec, prefix: _OPENED,
)


def _valid_json(text: str, glue: list[str], strings: list[str]) -> bool:
    """Is ``text`` (no backslash, split at its quotes) JSON? It is when the text with every
    string emptied is, and no string holds a control character (JSON's only other rule for
    a string without escapes): a smaller parse, dicts of empty keys (C speed)."""
    try:
        json.loads('""'.join(glue))
        if not "".join(strings).isprintable():  # a control character, or only a rare space
            json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


def _leaves(text: str, parts: list[str], glue: list[str]) -> tuple[set[str], list[str]]:
    """The keys, and the leaf texts in document order, of valid JSON with no backslash
    (``parts``: split at its quotes, ``glue``: the even ones, between the strings).

    Odd pieces are the strings, a string followed by a colon is a key. Numbers of 6+ digits
    are leaves too; only when the glue has such a run does one regex pass keep their order
    among the strings."""
    strings, after = parts[1::2], parts[2::2]
    # The glue is ASCII (valid JSON): digits found by bytes.translate, not re.
    if b"000000" in "".join(glue).encode().translate(_DIGITS):
        tokens = _TOKENS.findall(text)
        return ({s for s, colon, _ in tokens if colon},
                [s or n for s, colon, n in tokens if not colon and (s or n)])
    kinds = {a: _is_colon(a) for a in set(after)}  # a few distinct pieces: ", " ": " "},{"
    is_key = list(map(kinds.__getitem__, after))
    leaves = filter(None, compress(strings, map(operator.not_, is_key)))  # "" is no leaf
    return set(compress(strings, is_key)), list(leaves)


def _is_colon(between: str) -> bool:
    return between[:1] == ":" or (between[:1].isspace() and between.lstrip()[:1] == ":")


@lru_cache(maxsize=4096)  # the same keys in every request
def _key_reason(key: str) -> str | None:
    """Why a key stops the proof: it is data (a segment itself), or it names a person (the
    values under it are selected, whatever they hold)."""
    if _DATA_KEY_SUPERSET.search(key):
        return "data-key"
    if person_context(words(key)):
        return "name-field"
    return None
