"""A form or plain-text body's segments read from its bytes, without building its extraction.

    body = read_flat(raw, limits)         # FlatBody, or why the bytes cannot tell (REASONS)
    body.texts        -> ["SO-1", "13800138000"]   the segment texts ``extract`` makes, in order
    body.segment(1)   -> Segment("13800138000", "form:contact[mobile]", ("contact", "mobile"))
    body.render({1: "138****8000"})  -> the body with value 1 rewritten as ``extract`` writes it

``extract`` splits an urlencoded form at ``&`` and ``=``, un-escapes and decodes each name and
value on its own (``_Fields.parse``: ``unquote_to_bytes`` and ``decode_text`` twice per
field, a Python loop per ``%XX``) and names each segment: triage of the bench's 4 KB form
(107 fields, Chinese text escaped) took ~3.0 ms in-process, ~0.45 ms this way (busy box).
When every field decodes alike (no NUL, no BOM, UTF-8 or ASCII: the usual form), one pass
over the whole body does the same: the separators become NULs, ``+`` spaces (one
``bytes.translate``), every ``%XX`` its byte (one C call, ``_unquote``) and the text is
split at the NULs again. A ``text/plain`` body is one segment, decoded by the same
``decode_text``. Either way no value may open a layer (base64, hex, percent left after
decoding, entities, embedded JSON: the proof's probe, ``probe.opens_any``) and no name may
be data (``extract.any_data_name``: there a name is a segment at ``form:{i}``); otherwise the
full path runs. That names, texts, contexts and rewrites equal ``extract``'s is a tested
property (tests/test_rawform.py).
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from itertools import compress, repeat
from urllib.parse import quote_plus, unquote_to_bytes

from detectors.batch import person_context
from detectors.model import Segment
from proxy.extraction.decode import TextCodec, decode_text, parse_content_encoding
from proxy.extraction.extract import (
    Limits,
    RawRequest,
    any_data_name,
    is_data_key,
    sniff,
    words,
)
from proxy.extraction.layers import may_open, openable_lines
from proxy.workers.probe import opens_any

# Content-Type values (lower case) whose parse is known: extract's media type and charset.
FORM_TYPES = {
    "application/x-www-form-urlencoded": None,
    "application/x-www-form-urlencoded; charset=utf-8": "utf-8",
    "application/x-www-form-urlencoded;charset=utf-8": "utf-8",
}
TEXT_TYPES = {"text/plain": None, "text/plain; charset=utf-8": "utf-8",
              "text/plain;charset=utf-8": "utf-8"}
REASONS = ("media-type", "content-encoding", "binary", "nul", "undecodable", "bom", "layer",
           "data-name")
_UTF8 = TextCodec("utf-8")
# "&" and "=" -> NUL, "+" -> " ": a form's separators and its spaces, in one translate.
_SPLIT = bytes(0 if b in b"&=" else 0x20 if b == 0x2B else b for b in range(256))
_PLUS = bytes(0x20 if b == 0x2B else b for b in range(256))
_DIGIT_BYTES = bytes(0x5F if 0x30 <= b <= 0x39 else b for b in range(256))


class FlatBody:
    """A body whose segments are a flat list of values, each at a known byte span: the
    fields of a form, or the whole text of a plain-text body (``fields`` None)."""

    __slots__ = ("_spans", "_values", "codec", "data", "fields", "joined", "kind", "names",
                 "texts")

    def __init__(self, kind: str, data: bytes, codec: TextCodec, texts: list[str],
                 names: list[str], fields: list[bytes] | None = None,
                 values: list[str] | None = None):
        self.kind, self.data, self.codec, self.texts = kind, data, codec, texts
        self.names = names  # per segment: its field's decoded name ("" for text)
        self.fields = fields  # a form's raw fields, as split at "&"
        self._values = values  # per field: its decoded value (to map segments to fields)
        self._spans: list[tuple[int, int]] | None = None
        self.joined = "\n".join(texts)  # as the selector joins them (batch.SEPARATOR)

    def __repr__(self) -> str:  # holds raw text
        return f"FlatBody({self.kind}, {len(self.texts)} segments)"

    def named(self) -> list[int]:
        """The segments whose field name makes a person's name likely (``person_context``
        of the name's words): the selector keeps them whatever they hold."""
        if self.kind == "text" or not self.names:
            return []
        shapes = _shapes(self.names)
        named = {shape for shape in set(shapes) if _named(shape)}
        if not named:
            return []
        return [k for k, shape in enumerate(shapes) if shape in named]

    def segment(self, k: int) -> Segment:
        """Segment ``k`` as ``extract`` makes it."""
        if self.kind == "text":
            return Segment(self.texts[0], "text")
        name = self.names[k]
        return Segment(self.texts[k], "form:" + name, words(name))

    def render(self, new: Mapping[int, str]) -> bytes:
        """The body with segment ``k``'s value written as ``new[k]``, every other byte kept.
        Raises UnicodeEncodeError as ``extract``'s rendering does."""
        if self.kind == "text":
            return self.codec.encode(new[0])
        spans = self._located()
        out, at = [], 0
        for k in sorted(new):
            start, end = spans[k]
            out += [self.data[at:start],
                    quote_plus(self.codec.encode(new[k]), safe="*").encode()]
            at = end
        out.append(self.data[at:])
        return b"".join(out)

    def _located(self) -> list[tuple[int, int]]:
        """Per segment, the raw bytes of its value: after the field's first ``=``, or the
        whole field when it has none (``_Fields._render_field``)."""
        if self._spans is not None:
            return self._spans
        assert self.fields is not None and self._values is not None
        spans, at = [], 0
        for field, value in zip(self.fields, self._values, strict=True):
            if value:
                eq = field.find(b"=")
                spans.append((at + eq + 1 if eq >= 0 else at, at + len(field)))
            at += len(field) + 1
        self._spans = spans
        return spans


def read_flat(raw: RawRequest, limits: Limits) -> FlatBody | str:
    """The body's segments as ``extract`` makes them, or why the bytes cannot tell."""
    types = set(raw.header_values("content-type"))
    if len(types) != 1:
        return "media-type"
    media = types.pop().strip().lower()
    if media not in FORM_TYPES and media not in TEXT_TYPES:
        return "media-type"
    if parse_content_encoding(raw.header_values("content-encoding")):
        return "content-encoding"
    body = _read_form(raw.body) if media in FORM_TYPES else _read_text(raw.body, TEXT_TYPES[media])
    if isinstance(body, str):
        return body
    return "layer" if _layered(body.texts, body.joined, limits) else body


def _read_text(data: bytes, charset: str | None) -> FlatBody | str:
    """``extract``'s ``_Text`` of a text/plain body: the whole text, one segment."""
    if sniff(data) is not None:
        return "binary"  # a binary handler reads it, whatever the label says
    try:
        text, codec = decode_text(data, charset)
    except Exception:  # noqa: BLE001 - the full path raises it again and acts on it
        return "undecodable"
    return FlatBody("text", data, codec, [text], [""])


def _read_form(data: bytes) -> FlatBody | str:
    """``extract``'s ``_Fields`` of a form whose fields all decode as UTF-8 (or ASCII)."""
    fields = data.split(b"&")
    if list(map(bytes.count, fields, repeat(b"="))).count(1) == len(fields):
        joined = data.translate(_SPLIT)  # name NUL value NUL name NUL value ...
    else:  # a bare field (the whole field is its value) or a value holding "="
        pieces: list[bytes] = []
        for field in fields:
            name, eq, value = field.partition(b"=")
            pieces += (name, value) if eq else (b"", field)
        joined = b"\x00".join(pieces).translate(_PLUS)
    decoded = _unquote(joined)
    if decoded.count(b"\x00") != 2 * len(fields) - 1:
        return "nul"  # a NUL or %00: decode_text sniffs UTF-16 by them, field by field
    try:
        text = decoded.decode("ascii" if decoded.isascii() else "utf-8")
    except UnicodeDecodeError:
        return "undecodable"  # decode_text would try the label, then GB18030, per field
    if "\ufeff" in text:
        return "bom"  # a field starting with one is decoded without it
    parts = text.split("\x00")
    names, values = parts[0::2], parts[1::2]
    if any_data_name(names):
        return "data-name"  # extract makes the name a segment of its own, at form:{i}
    carrying = list(map(bool, values))
    return FlatBody("form", data, _UTF8, list(compress(values, carrying)),
                    list(compress(names, carrying)), fields, values)


def _unquote(data: bytes) -> bytes:
    """``unquote_to_bytes(data)``: every ``%XX`` its byte. When the bytes hold no backslash,
    ``%XX`` written as ``\\xXX`` is the one escape ``codecs.escape_decode`` (C) reads; it
    raises for a ``%`` without two hex digits after it (then the library's loop decides).
    ``unquote_to_bytes`` loops in Python per escape: a form of Chinese text holds hundreds.

    >>> _unquote(b"a%E5%BC%A0+%5b1%5D %2") == unquote_to_bytes(b"a%E5%BC%A0+%5b1%5D %2")
    True
    """
    if b"%" not in data:
        return data
    if b"\\" not in data:
        try:
            return codecs.escape_decode(data.replace(b"%", b"\\x"))[0]
        except ValueError:
            pass
    return unquote_to_bytes(data)


def _layered(texts: list[str], joined: str, limits: Limits) -> bool:
    """Could ``layered`` open a layer in any of ``texts`` (each a segment; ``joined``: them
    joined by newlines)? A value holding a newline is probed whole (a MIME base64 block,
    embedded JSON), the others as the lines of their join (one pass)."""
    suspects = openable_lines(joined)  # a superset of the lines of the values that may open
    if suspects and joined.count("\n") != len(texts) - 1:
        suspects = [t for t in texts if may_open(t)]
    return bool(suspects) and opens_any(suspects, limits)


def _shapes(names: list[str]) -> list[str]:
    """Each name with its ASCII digits marked ``_`` (one ``bytes.translate`` for all: in
    UTF-8 the bytes of ASCII digits are those digits only).

    >>> _shapes(["items[12][name]", "a1b", "电话2"])
    ['items[__][name]', 'a_b', '电话_']
    """
    joined = "\x00".join(names).encode("utf-8", "surrogatepass")
    return joined.translate(_DIGIT_BYTES).decode("utf-8", "surrogatepass").split("\x00")


def _named(shape: str) -> bool:
    """``person_context(words(name))`` of a name with its digits marked (``words`` reads no
    digit: ``items[3][name]`` and ``items[4][name]`` share one entry); a shape that may be
    data itself (``extract.is_data_key``) is not kept after its request."""
    known = _NAMED.get(shape)
    if known is not None:
        return known
    found = words(shape)
    named = bool(found) and person_context(found)  # as ``s.context and person_context(...)``
    if not is_data_key(shape):
        if len(_NAMED) >= _NAMED_MAX:
            _NAMED.clear()
        _NAMED[shape] = named
    return named


_NAMED: dict[str, bool] = {}
_NAMED_MAX = 4096
