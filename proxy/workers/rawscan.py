"""A JSON body proved clean from its text, without building its extraction.

    clean = prove_clean(raw, limits, selector)
    clean.reason is None   -> the full path (extract + SegmentSelector) selects nothing
    clean.reason == "name-field"   -> not proved (see REASONS): extract as usual

Extraction walks a parsed JSON document in Python (a few µs per node) and looks for
encoded layers in each value; for a clean 4 KB API call that is most of what baomi adds
to mitmproxy's own cost. When the body's text holds no backslash, every JSON string is the
text between two quotes as sent, so one C parse of the text (``json_leaves``) lists exactly
the leaf texts the full path would make segments of, in document order (``body_texts``). The request is
then clean when, with the URL, header and host segments the full path makes (extracted as
usual, they are small), the segment selector's one hyperscan pass finds nothing.

Exact in one direction: clean here => ``extract`` + ``SegmentSelector.select`` selects
nothing. Every shape this cannot prove falls back to the full path (``REASONS``): another
media type or charset label, a Content-Encoding, a backslash (``\\u`` escapes), anything
a decoder could open (base64/hex runs of 16, ``%XX``, ``&``, a value that starts like
JSON, an invisible character), a key that is data (``extract.is_data_key``: 6+ digits,
``@``, CJK, capitalised words) or names a person (the
selector's field-name rule, checked per key: the nearest key decides, see
``detectors.fieldnames.is_name_field``), JSON that is invalid or nested past what
extraction walks, a decoded size past the budget, or a candidate anywhere.

A body that passes every check but has candidates (or keys that may name a person) is not
extracted either (``scan`` -> ``Scanned``): the selector's ``busy`` over the same texts
says which segments can hold a finding, ``proxy.workers.rawjson`` names just those (and
the leaves under a name-ish key, whose exact context decides whether a name is likely),
and a mask rewrites their tokens where the text holds them. Its selection, segments and
rewrites are the full path's (tests/test_rawjson.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from detectors.batch import SEPARATOR, SegmentSelector, person_context
from detectors.model import Finding, Segment
from proxy.errors import BaomiError, CannotMask
from proxy.extraction.decode import TextCodec, decode_text, parse_content_encoding
from proxy.extraction.extract import (
    Extraction,
    Limits,
    RawRequest,
    extract,
    is_data_key,
    with_length,
)
from proxy.extraction.fieldwords import words
from proxy.extraction.layers import apply_edits, merge_edits
from proxy.workers.inspection import Inspection, edits_of, evidence, masked
from proxy.workers.probe import lines_open
from proxy.workers.rawjson import RawJson

# Content-Type values whose parse is known: media application/json, charset none or utf-8
# (the charset extract decodes with, by the same rule: utf-8 first either way).
JSON_TYPES = {
    "application/json": None, "application/json; charset=utf-8": "utf-8",
    "application/json;charset=utf-8": "utf-8",
}
# extract._JSON_NESTING: deeper documents are refused; a body with fewer brackets in all
# cannot be that deep.
MAX_BRACKETS = 512
REASONS = ("media-type", "content-encoding", "backslash", "undecodable", "invalid-json",
           "too-deep", "data-key", "name-field", "layer", "budget", "candidate")



_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Proof:
    """``reason`` None: clean, and ``inspection`` is the full path's Inspection of it."""

    reason: str | None
    inspection: Inspection | None = None


class JsonBody:
    """A body every check passed: its leaf texts as ``extract`` makes them, in order, the
    keys that may name a person, and its ``RawJson`` (``json``: split at its quotes when
    first asked, for the few requests with candidates, which name and rewrite leaves)."""

    __slots__ = ("_json", "codec", "joined", "keys", "named", "text", "texts")

    def __init__(self, text: str, codec: TextCodec, texts: list[str], keys: set[str],
                 named: frozenset[str], joined: str):
        self.text, self.codec, self.texts, self.keys, self.named = text, codec, texts, keys, named
        self.joined = joined  # the leaf texts joined by newlines (as the selector joins them)
        self._json: RawJson | None = None

    @property
    def json(self) -> RawJson:
        if self._json is None:
            self._json = RawJson.known(self.text, self.codec, self.texts, self.keys)
        return self._json

    def __repr__(self) -> str:  # holds raw text
        return f"JsonBody({len(self.texts)} leaves)"


def prove_clean(raw: RawRequest, limits: Limits, selector: SegmentSelector) -> Proof:
    """Clean without extracting the body, or why not (see module doc). Raises nothing the
    full path would not: extracting the URL and headers may raise as ``extract`` does."""
    found = scan(raw, limits, selector)
    if isinstance(found, Proof):
        return found
    if not found.selected:
        return Proof(None, found.inspection())
    return Proof("name-field" if found.body.named else "candidate")


def scan(raw: RawRequest, limits: Limits, selector: SegmentSelector) -> Proof | Scanned:
    """Clean (``Proof(None, inspection)``), why the text cannot tell (``Proof(reason)``),
    or the full path's selection made from the text (``Scanned``)."""
    body = read_body(raw, limits)
    if isinstance(body, str):
        return Proof(body)
    if len(raw.body) > limits.max_body_bytes:
        return Proof("budget")  # extract raises Oversize
    room = limits.max_decoded_bytes - len(raw.body)
    if room < 0:
        return Proof("budget")
    rest = extract_rest(raw, limits)
    segments = rest.segments
    n_url = sum(1 for s in segments if s.location.startswith(("path", "query:")))
    texts = body.texts
    url, headers = [s.text for s in segments[:n_url]], [s.text for s in segments[n_url:]]
    every = url + texts + headers
    if selector.everything or not selector.available:  # every segment is selected
        return Proof("candidate") if every else Proof(None, _clean(raw, every, rest))
    # One scan: clean, or the candidates. The body's texts were joined once already.
    joined = SEPARATOR.join([*url, body.joined, *headers]) if texts else None
    busy = selector.busy_as_sent(every, joined)
    if not busy and not body.named and not any(
            s.context and person_context(tuple(s.context)) for s in segments):
        return Proof(None, _clean(raw, every, rest))
    return Scanned.select(raw, limits, busy, body, rest, n_url, every)


def extract_rest(raw: RawRequest, limits: Limits) -> Extraction:
    """The extraction of ``raw`` but its body (URL, headers, host names), within the same
    budget: the body spends ``len(raw.body)`` (the caller checked it fits), the URL's and
    headers' layers the rest. Built directly: two ``dataclasses.replace`` cost ~3 us."""
    return extract(RawRequest(raw.method, raw.url, raw.headers, b"", raw.hosts),
                   Limits(limits.max_body_bytes, limits.max_decoded_bytes - len(raw.body),
                          limits.max_depth))


def _clean(raw: RawRequest, every: list[str], rest: Extraction) -> Inspection:
    return Inspection((), len(every), len(raw.body), (), rest.images)


def body_texts(raw: RawRequest, limits: Limits = _LIMITS) -> list[str] | str:
    """The texts of the body's segments as ``extract`` makes them, or a reason (REASONS).

    >>> body_texts(RawRequest("POST", "https://x", (("content-type", "application/json"),),
    ...            b'{"order": "SO-1", "qty": 2, "ref": 12345678, "items": [{"sku": "A 1"}]}'))
    ['SO-1', '12345678', 'A 1']
    """
    body = read_body(raw, limits)
    if isinstance(body, str):
        return body
    return "name-field" if body.named else body.texts


def read_body(raw: RawRequest, limits: Limits = _LIMITS) -> JsonBody | str:
    """The body's leaves as ``extract`` makes them, or why the text cannot tell (REASONS)."""
    types = set(raw.header_values("content-type"))
    if len(types) != 1:
        return "media-type"
    media = types.pop().strip().lower()
    if media not in JSON_TYPES:
        return "media-type"
    if parse_content_encoding(raw.header_values("content-encoding")):
        return "content-encoding"
    if b"\\" in raw.body:
        return "backslash"
    try:
        text, codec = decode_text(raw.body, JSON_TYPES[media])
    except Exception:  # noqa: BLE001 - the full path raises it again and acts on it
        return "undecodable"
    if "\\" in text:  # UTF-16/32 bodies: the bytes held no 0x5C, the text may
        return "backslash"
    # Each "[" holds a 0x5B byte in every codec decode_text reads (ASCII-compatible or
    # UTF-16/32): fewer bytes, fewer brackets; the bytes are counted at memchr speed.
    if raw.body.count(b"[") + raw.body.count(b"{") >= MAX_BRACKETS and (
            text.count("[") + text.count("{") >= MAX_BRACKETS):
        return "too-deep"
    leaves = json_leaves(text)
    if leaves is None:  # not JSON: extract refuses it too
        return _not_json(text, codec)
    texts, keys = leaves
    named = set()
    for key in keys:
        if (why := _key_reason(key)) == "data-key":
            return why
        if why is not None:
            named.add(key)
    joined = SEPARATOR.join(texts)
    if lines_open(joined, limits):  # a value holds no newline: a line each
        return "layer"
    return JsonBody(text, codec, texts, keys, frozenset(named), joined)


_PAIRS = json.JSONDecoder(object_pairs_hook=tuple)  # an object: a tuple of (key, value)


def json_leaves(text: str) -> tuple[list[str], set[str]] | None:
    """The leaf texts ``extract`` makes segments of (in document order: strings but "", and
    whole numbers of 6+ digits as written, see ``rawjson._TOKENS``) and every key of JSON
    ``text`` with no backslash, or None when it is not JSON. One C parse and a walk of what
    it built: faster than splitting the text at its quotes and parsing its skeleton (a
    clean request needs no more; ``RawJson`` reads the rest). A JSON whole number is
    written as ``str`` writes it: no leading zero, no plus, no exponent.

    >>> texts, keys = json_leaves('{"order": "SO-1", "qty": 2, "ref": 12345678, "x": [{"sku": "A"}]}')
    >>> texts, sorted(keys)
    (['SO-1', '12345678', 'A'], ['order', 'qty', 'ref', 'sku', 'x'])
    """
    try:
        document = _PAIRS.decode(text)
    except (ValueError, RecursionError):
        return None
    texts: list[str] = []
    keys: set[str] = set()
    append, add = texts.append, keys.add
    stack = [document]  # a loop, not recursion: a body may nest 500 deep
    pop, push = stack.pop, stack.extend
    while stack:
        node = pop()
        kind = type(node)
        if kind is str:
            if node:
                append(node)
        elif kind is tuple:
            for key, _ in node:
                add(key)
            push([value for _, value in reversed(node)])
        elif kind is list:
            push(reversed(node))
        elif kind is int and not -100000 < node < 100000:  # bool is not int here
            append(str(node))
    return texts, keys


def _not_json(text: str, codec: TextCodec) -> str:
    """Why a text ``json`` refuses is not read, as the split reading said it: a key that is
    data is found before validity is asked (rare: no need to be fast)."""
    body = RawJson.of(text, codec)
    if body is not None and any(_key_reason(key) == "data-key" for key in body.keys):
        return "data-key"
    return "invalid-json"


class BodyScanned:
    """A request whose body passed every check but ``quiet``: the full path's selection
    (``selected``), with only the selected segments built; ``to_detect`` and ``inspection``
    as ``triage.Local``'s. A mask of body values is written over their bytes as sent
    (``_render``, per body kind); any other (a URL or header value) goes through a full
    extraction, as before. ``Scanned`` (JSON) and ``flatscan.FlatScanned`` (forms, text)."""

    __slots__ = ("body", "built", "images", "limits", "n_url", "raw", "selected", "texts")

    def __init__(self, raw: RawRequest, limits: Limits, body: object, texts: list[str],
                 n_url: int, images: int, built: dict[int, Segment]):
        self.raw, self.limits, self.body, self.texts = raw, limits, body, texts
        self.n_url, self.images = n_url, images
        self.built = dict(sorted(built.items()))  # by index: the worker's order
        self.selected = list(self.built)

    def _n_body(self) -> int:
        raise NotImplementedError

    def _render(self, new: dict[int, str]) -> bytes:
        """The body with body segment ``k`` written as ``new[k]``; UnicodeEncodeError when
        a masked text has no encoding in the body's codec."""
        raise NotImplementedError

    def to_detect(self) -> tuple[tuple[int, Segment], ...]:
        return tuple(self.built.items())

    def inspection(self, findings: tuple[Finding, ...] = ()) -> Inspection:
        return Inspection(findings, len(self.texts), len(self.raw.body),
                          evidence(self.texts, findings), self.images, rewriter=self.rewrite)

    def rewrite(self, findings: tuple[Finding, ...]) -> RawRequest:
        """The request with ``findings`` masked, as ``masked(extract(raw), findings)``.
        Raises CannotMask as it does."""
        edits = edits_of(findings)
        n_url, n_body = self.n_url, self._n_body()
        if any(not n_url <= i < n_url + n_body or i not in self.built for i in edits):
            return self._extracted(findings)  # a URL or header value: the full path renders
        raw = self.raw
        if not edits:
            return RawRequest(raw.method, raw.url, raw.headers, raw.body)
        new = {}
        for i, wanted in edits.items():
            segment = self.built[i]
            new[i - n_url] = apply_edits(segment.text, merge_edits(wanted, len(segment.text),
                                                                   segment.location))
        try:
            data = self._render(new)
        except UnicodeEncodeError as exc:
            raise CannotMask(f"masked text cannot be encoded as {exc.encoding}") from exc
        return RawRequest(raw.method, raw.url, with_length(raw.headers, len(data)), data)

    def _extracted(self, findings: tuple[Finding, ...]) -> RawRequest:
        try:
            extraction = extract(self.raw, self.limits)
        except BaomiError as e:  # the bytes said it would not: refuse to send it unmasked
            raise CannotMask(f"extracting again failed ({type(e).__name__})") from e
        return masked(extraction, findings)


def select_rest(built: dict[int, Segment], rest: Extraction, n_url: int, n_body: int,
                busy: set[int]) -> dict[int, Segment]:
    """``built`` with the URL's and headers' segments ``SegmentSelector.select`` keeps: the
    ``busy`` ones and those whose field-name context names a person. Segment ``j`` of
    ``rest`` is request segment ``j`` before the body's, ``j + n_body`` after it."""
    for j, segment in enumerate(rest.segments):
        i = j if j < n_url else j + n_body
        if i in busy or (segment.context and person_context(tuple(segment.context))):
            built[i] = segment
    return built


class Scanned(BodyScanned):
    """A request with a JSON body (``JsonBody``): masks are spliced into the text as sent."""

    __slots__ = ()
    body: JsonBody

    @classmethod
    def select(cls, raw: RawRequest, limits: Limits, busy: set[int], body: JsonBody,
               rest: Extraction, n_url: int, every: list[str]) -> Scanned:
        """``SegmentSelector.select`` of the full path's segments, from their texts: the
        ``busy`` ones, and those whose field-name context names a person (only leaves after
        a name-ish key can have such a context: each key was checked alone, a superset)."""
        n_body = len(body.texts)
        leaves = {i - n_url for i in busy if n_url <= i < n_url + n_body}
        if body.named:
            leaves.update(range(body.json.after(body.named), n_body))
        built = {}
        for k, segment in zip(sorted(leaves), body.json.segments(sorted(leaves)), strict=True):
            if k + n_url in busy or (segment.context and person_context(segment.context)):
                built[k + n_url] = segment
        return cls(raw, limits, body, every, n_url, rest.images,
                   select_rest(built, rest, n_url, n_body, busy))

    def _n_body(self) -> int:
        return len(self.body.texts)

    def _render(self, new: dict[int, str]) -> bytes:
        return self.body.json.codec.encode(self.body.json.render(new))


def _key_reason(key: str) -> str | None:
    """Why a key stops the proof: it is data (a segment itself), or it names a person (the
    values under it are selected, whatever they hold). Field names are kept in
    ``_FIELD_REASONS`` (the same keys in every request); a key that is data never is, so no
    phone or name stays in memory after its request (as extract's ``_STEPS``)."""
    if key in _FIELD_REASONS:
        return _FIELD_REASONS[key]
    if is_data_key(key):  # extract's own rule: a key it inspects is never proved clean
        return "data-key"
    if len(_FIELD_REASONS) >= _FIELD_REASONS_MAX:
        _FIELD_REASONS.clear()
    reason = _FIELD_REASONS[key] = "name-field" if person_context(words(key)) else None
    return reason


_FIELD_REASONS: dict[str, str | None] = {}
_FIELD_REASONS_MAX = 4096
