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
from proxy.extraction.decode import decode_text, parse_content_encoding
from proxy.extraction.extract import Limits, RawRequest, extract
from proxy.extraction.fieldwords import words
from proxy.extraction.layers import openable_lines
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
_DATA_KEY_SUPERSET = re.compile(r"[0-9@]")  # extract._DATA_KEY is \d{6}|@


@dataclass(frozen=True, slots=True)
class Proof:
    """``reason`` None: clean, and ``inspection`` is the full path's Inspection of it."""

    reason: str | None
    inspection: Inspection | None = None


def prove_clean(raw: RawRequest, limits: Limits, selector: SegmentSelector) -> Proof:
    """Clean without extracting the body, or why not (see module doc). Raises nothing the
    full path would not: extracting the URL and headers may raise as ``extract`` does."""
    texts = body_texts(raw)
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


def body_texts(raw: RawRequest) -> list[str] | str:
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
    try:
        json.loads(text)  # what extract would refuse, refused here too (C speed)
    except (ValueError, RecursionError):
        return "invalid-json"
    keys, texts = _leaves(text)
    for key in keys:
        if (why := _key_reason(key)) is not None:
            return why
    suspects = openable_lines("\n".join(texts))  # a value holds no newline: a line each
    if suspects and _opens(suspects):
        return "layer"
    return texts


def _opens(texts: list[str]) -> bool:
    """Does a decoder open a layer in any of ``texts``? Asked of extraction itself: the
    values alone as a JSON array (the same text: they hold no quote or backslash), at the
    body's depth; a layer adds segments. An order number such as SO-2026-11-27-000123 looks
    like base64 to the first glance and decodes to nothing readable."""
    # No Content-Type: a body that starts with "[" is read as JSON (parsing the header's
    # parameters would cost more than the rest).
    probe = RawRequest("POST", "/", (), json.dumps(texts, ensure_ascii=False).encode())
    try:
        return len(extract(probe, Limits()).segments) != len(texts)
    except Exception:  # noqa: BLE001 - refused as a layer: the full path decides
        return True


def _leaves(text: str) -> tuple[set[str], list[str]]:
    """The keys, and the leaf texts in document order, of valid JSON with no backslash.

    Split at the quotes (C speed): odd pieces are the strings, a string followed by a colon
    is a key. Numbers of 6+ digits are leaves too; only when the text between the strings
    has such a run does one regex pass keep their order among the strings."""
    parts = text.split('"')
    strings, after = parts[1::2], parts[2::2]
    # Between the strings is ASCII (valid JSON): digits found by bytes.translate, not re.
    if b"000000" in "".join(parts[0::2]).encode().translate(_DIGITS):
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
