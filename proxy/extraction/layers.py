"""Values hidden under an encoding, decoded into extra segments (evasion resistance).

    Segment("MTEwMTA1MTk0OTEyMzEwMDJY", "json:$.payload")
      is followed by Segment("11010519491231002X", "json:$.payload|base64")

``layered(view, depth, scope)`` wraps any view: after each of its segments come the
segments decoded from it, recursively; the original segment stays. Locations say how
each one was reached:

    json:$.payload|base64            base64 / base64url runs of 16+ characters, of 12-15
                                     when clearly base64 (padded, or mixed case and
                                     digits) and printable UTF-8 (also MIME line-wrapped
                                     blocks and data: URLs)
    form:data|base64|json:$.phone    ... whose text was a JSON document
    json:$.file|base64:pdf:page1     ... whose bytes were a document (PDF, DOCX, XLSX, ZIP)
    json:$.blob|base64|gzip          ... whose bytes were gzip
    json:$.sign|hex                  22+ hex digits (one run, 0x..., or \\xNN escapes) whose
                                     bytes are printable UTF-8 or mostly-ASCII UTF-16/32;
                                     a run of hex digits only is never tried as base64
    query:q|percent                  percent-encoding left after the usual decoding
    text|html-entities               &#49;  &#x31;  &eacute; (needs one beyond &amp; &lt; ...)
    json:$.s|json-escapes            \\u0031 left in a string (escaped twice)
    json:$.data|json:$.phone         a string that is itself a JSON document

Decoded bytes (base64, percent) are read as ``decode_text`` reads a body: a BOM, UTF-16/32
by its NULs, UTF-8, GB18030. Base64 is decoded only when the bytes are plausible text
(under 1% control characters or unassigned code points; NULs are not counted, the detector
drops them), gzip, or a document with a known magic number; anything else (identifiers,
hashes, encrypted blobs) is left alone. Overlong UTF-8 under either layer makes the
request Uninspectable (``decode.refuse_overlong``). Full-width forms, zero-width characters
and separators inside numbers are left as they are: the detector normalises them, and
offsets must stay those of the text as sent. Invisible characters between the characters
of an encoding (``M\\x00T\\x00M\\x00...``, soft hyphens inside base64) are skipped to find
it, as a receiver that drops them would; its offsets are mapped back.

Caps: each layer is one level of ``Limits.max_depth`` (a plausible layer past it is
Uninspectable) and spends its decoded bytes from the request's ``Budget`` (Oversize).

Masking goes back through every layer. percent, html-entities and json-escapes map each
decoded character to its place in the encoded text and write the mask encoded the same
way; base64 (same alphabet, padding, line width), hex (same case and form), gzip and
embedded JSON are re-encoded whole. A document reached through a layer cannot be rewritten: its view raises CannotMask.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote

from detectors.model import Segment
from detectors.normalize import INVISIBLE
from detectors.normalize import has_invisible as _any_invisible
from proxy.errors import CannotMask, Uninspectable
from proxy.extraction import decode
from proxy.extraction.decode import Budget, TextCodec, decode_content, encode_content

Edit = tuple[int, int, str]  # (start, end, replacement) in Segment.text


class View(Protocol):
    """One inspectable piece of a body: its segments and how to write it back."""

    @property
    def segments(self) -> tuple[Segment, ...]: ...

    def render(self, edits: tuple[tuple[Edit, ...], ...]) -> bytes:
        """The piece's bytes with ``edits[i]`` applied to ``segments[i]``."""
        ...


@dataclass(frozen=True, slots=True)
class Openers:
    """How decoded bytes and text become views; supplied by ``proxy.extraction.extract``.

    ``document(data, label, depth)``: a view when ``data`` has a known magic number, else None.
    ``json(text, codec, prefix)``: a view when ``text`` is a JSON document, else None.
    """

    document: Callable[[bytes, str, int], View | None]
    json: Callable[[str, TextCodec, str], View | None]


@dataclass(frozen=True, slots=True)
class Scope:
    """What every decoder of one request needs."""

    openers: Openers
    max_depth: int
    budget: Budget

    def enter(self, depth: int, what: str, size: int) -> int:
        """The depth of a new layer; Uninspectable past max_depth, Oversize past the budget."""
        if depth + 1 > self.max_depth:
            raise Uninspectable(f"{what} nested deeper than max_depth")
        self.budget.spend(size, what)
        return depth + 1


# ---------------------------------------------------------------- edits


def merge_edits(edits: Sequence[Edit], size: int, location: str) -> tuple[Edit, ...]:
    """Sorted, non-overlapping edits. Two detectors may flag overlapping spans: the
    edit covering the whole union wins; a partial overlap becomes ``*`` over the union."""
    merged: list[Edit] = []
    for start, end, text in sorted(edits, key=lambda e: (e[0], -e[1])):
        if not 0 <= start <= end <= size:
            raise CannotMask(f"edit {start}:{end} outside {location} ({size} characters)")
        if merged and start < merged[-1][1]:
            last_start, last_end, _ = merged[-1]
            if end > last_end:
                merged[-1] = (last_start, end, "*" * (end - last_start))
            continue
        merged.append((start, end, text))
    return tuple(merged)


def apply_edits(text: str, edits: Sequence[Edit]) -> str:
    out, pos = [], 0
    for start, end, replacement in edits:
        out += [text[pos:start], replacement]
        pos = end
    out.append(text[pos:])
    return "".join(out)


# ---------------------------------------------------------------- the tree of layers


@dataclass(frozen=True, slots=True, repr=False)  # holds raw text
class _Mapped:
    """Decoded text whose every character has a known place in the parent text."""

    starts: tuple[int, ...]  # parent offset of each decoded character, then the span's end
    child: _Node
    encode: Callable[[str], str]  # a replacement as it must be written in the parent

    @property
    def segments(self) -> tuple[Segment, ...]:
        return self.child.segments

    def parent_edits(self, edits: tuple[tuple[Edit, ...], ...]) -> list[Edit]:
        return [
            (self.starts[s], self.starts[e], self.encode(r)) for s, e, r in self.child.edits(edits)
        ]


@dataclass(frozen=True, slots=True, repr=False)  # holds raw text
class _Whole:
    """``parent[start:end]`` decodes to ``child``; a rewrite re-encodes all of it."""

    start: int
    end: int
    child: View
    encode: Callable[[bytes], str]

    @property
    def segments(self) -> tuple[Segment, ...]:
        return self.child.segments

    def parent_edit(self, edits: tuple[tuple[Edit, ...], ...]) -> Edit:
        return (self.start, self.end, self.encode(self.child.render(edits)))


@dataclass(frozen=True, slots=True, repr=False)  # holds raw text
class _Node:
    """A segment and the layers decoded from it; ``segments`` is it, then theirs."""

    segment: Segment
    layers: tuple[_Mapped | _Whole, ...]
    segments: tuple[Segment, ...]

    @staticmethod
    def of(segment: Segment, layers: list[_Mapped | _Whole]) -> _Node:
        if not layers:  # most segments
            return _Node(segment, (), (segment,))
        found = tuple(layer for layer in layers if layer.segments)
        return _Node(segment, found, (segment,) + tuple(s for la in found for s in la.segments))

    def edits(self, edits: tuple[tuple[Edit, ...], ...]) -> tuple[Edit, ...]:
        """Edits on ``segment.text`` from edits on ``segments`` (own and decoded)."""
        text, location = self.segment.text, self.segment.location
        own, mapped, whole, at = list(edits[0]), [], [], 1
        for layer in self.layers:
            mine = edits[at : at + len(layer.segments)]
            at += len(mine)
            if not any(mine):
                continue
            if isinstance(layer, _Mapped):
                mapped += layer.parent_edits(mine)
            else:
                whole.append(layer.parent_edit(mine))
        for start, end, replacement in whole:
            if any(_overlap(w, (start, end)) for w in whole if w[:2] != (start, end)) or any(
                _overlap(m, (start, end)) for m in mapped
            ):
                raise CannotMask(f"two encodings overlap in {location}")
            own = _covered_by(own, start, end, replacement, text, location)
        return merge_edits(own + mapped + whole, len(text), location)


def _overlap(edit: Edit, span: tuple[int, int]) -> bool:
    return edit[0] < span[1] and span[0] < edit[1]


def _covered_by(
    own: list[Edit], start: int, end: int, replacement: str, text: str, location: str
) -> list[Edit]:
    """Own edits inside a span that is re-encoded whole are dropped, once we know the value
    they mask does not survive in the new encoding (else the mask would be lost)."""
    kept = []
    for edit in own:
        if start <= edit[0] and edit[1] <= end:
            if edit[0] < edit[1] and text[edit[0] : edit[1]] in replacement:
                raise CannotMask(f"a masked value would survive re-encoding {location}")
        else:
            kept.append(edit)
    return kept


@dataclass(frozen=True, slots=True, repr=False)  # holds raw text
class _TextView:
    """Decoded text as a view: its bytes again in the charset it was decoded from."""

    node: _Node
    codec: TextCodec

    @property
    def segments(self) -> tuple[Segment, ...]:
        return self.node.segments

    def render(self, edits: tuple[tuple[Edit, ...], ...]) -> bytes:
        return self.codec.encode(apply_edits(self.node.segment.text, self.node.edits(edits)))


@dataclass(frozen=True, slots=True, repr=False)  # holds raw text
class _Layered:
    inner: View
    nodes: tuple[_Node, ...]  # one per segment of ``inner``
    segments: tuple[Segment, ...]

    def render(self, edits: tuple[tuple[Edit, ...], ...]):
        per, at = [], 0
        for node in self.nodes:
            mine = edits[at : at + len(node.segments)]
            at += len(mine)
            per.append(node.edits(mine) if any(mine) else ())
        return self.inner.render(tuple(per))


@dataclass(frozen=True, slots=True, repr=False)  # holds raw data
class _Gzip:
    """gzip bytes found under another layer; rewritten as gzip again."""

    child: View

    @property
    def segments(self) -> tuple[Segment, ...]:
        return self.child.segments

    def render(self, edits: tuple[tuple[Edit, ...], ...]) -> bytes:
        return encode_content(self.child.render(edits), ("gzip",))


def layered(view: View, depth: int, scope: Scope) -> View:
    """``view`` with every segment followed by what was decoded from it (see module doc)."""
    segments = view.segments
    decoded = {}
    for i, segment in enumerate(segments):
        # most values: no decoder applies, no node built
        if _MAYBE_LAYER.search(segment.text) or has_invisible(segment.text):
            node = _node(segment, depth, scope)
            if node.layers:
                decoded[i] = node
    if not decoded:
        return view
    nodes = tuple(decoded.get(i) or _Node(s, (), (s,)) for i, s in enumerate(segments))
    return _Layered(view, nodes, tuple(s for node in nodes for s in node.segments))


# A base64 run of 12-15 characters is tried only when it is clearly base64: '=' padding
# that makes it a multiple of 4 (base64 of an 11-digit mobile is "MTM4MDAxMzgwMDA="), or
# digits, upper and lower case mixed ("MTM4MDAxMzgwMDA"). Words, camelCase names and
# lower-case hex or ids of that length are not: most of them would be wasted decodes.
_SHORT_RUN_AT_START = (  # where a run starts
    r"(?:[A-Za-z0-9+/_-]{14}==|[A-Za-z0-9+/_-]{15}="
    r"|(?=[A-Za-z0-9+/_-]{0,14}[0-9])(?=[A-Za-z0-9+/_-]{0,14}[a-z])"
    r"(?=[A-Za-z0-9+/_-]{0,14}[A-Z])[A-Za-z0-9+/_-]{12,15})"
    r"(?![A-Za-z0-9+/_=-])"
)
_SHORT_B64 = r"(?<![A-Za-z0-9+/_-])" + _SHORT_RUN_AT_START
# A superset of what any decoder below starts from: a base64 run, a percent escape, an
# entity, a backslash escape, or JSON text. Most values have none and skip every decoder.
# Runs are tried only where one of 12+ characters starts (the cheap test first: re tries
# every position): ~0.76 us a typical value, against ~1.26 trying both run patterns at
# every position and ~0.55 with 16+ runs only (measured, one core).
_MAYBE_LAYER = re.compile(
    r"(?=[A-Za-z0-9+/_-]{12})(?<![A-Za-z0-9+/_-])(?:[A-Za-z0-9+/_-]{16}|"
    + _SHORT_RUN_AT_START
    + r")|%[0-9A-Fa-f]{2}|&|\\|^\s*[\[{]|" + "[" + "零〇一二三四五六七八九" + "]{7}"
)


def has_invisible(text: str) -> bool:
    r"""``detectors.normalize.has_invisible``; printable ASCII (most URL, header and JSON
    values) holds none, and is told so without its two regex passes.

    >>> has_invisible("SKU-1 x"), has_invisible("a\u00adb"), has_invisible("1\x003")
    (False, True, True)
    """
    return not (text.isascii() and text.isprintable()) and _any_invisible(text)


def may_open(text: str) -> bool:
    """Could any decoder open a layer in ``text``? False: ``layered`` leaves it alone.

    >>> may_open("SKU-00001 standard part"), may_open("Kzg2MTM4MDAxMzgwMDA="), may_open("a%20b")
    (False, True, True)
    >>> may_open("MTM4MDAxMzgwMDA="), may_open("getCustomerName"), may_open("3f2a9b7c1d4e")
    (True, False, False)
    """
    return _MAYBE_LAYER.search(text) is not None or has_invisible(text)


# _MAYBE_LAYER per line: "^" at each line's start, and no "\s" that runs into the next line.
_MAYBE_LINE = re.compile("(?m)" + _MAYBE_LAYER.pattern.replace(r"^\s*", r"^[^\S\n]*"))
assert _MAYBE_LINE.pattern != "(?m)" + _MAYBE_LAYER.pattern  # the start-of-text part moved


def openable_lines(text: str) -> list[str]:
    r"""The lines of ``text`` that ``may_open``, found in one pass (many lines, few hits).

    >>> openable_lines("SKU-1\nKzg2MTM4MDAxMzgwMDA=\n  [1]\nok")
    ['Kzg2MTM4MDAxMzgwMDA=', '  [1]']
    """
    data = text.encode("utf-8", "surrogatepass")
    # An invisible character starts with one of few bytes: most texts hold none (memchr
    # speed), and skip the wide regex of has_invisible.
    if data.translate(None, _NOT_INVISIBLE_LEADS) and _any_invisible(text):
        return [line for line in text.split("\n") if may_open(line)]
    if b"%" in data or b"&" in data or b"\\" in data or b"[" in data or b"{" in data or (
            not data.isascii() and _ZH_RUN.search(text)):
        return _openable_lines(text)
    # Only a base64 run is left to look for: memchr speed on the bytes mapped to "a" (run
    # characters: ASCII, as in _MAYBE_LAYER) or " ", newlines kept; re tries every position.
    runs = data.translate(_RUN_BYTES)
    lines, pos = [], 0
    while (at := runs.find(_SHORT_RUN, pos)) >= 0:  # the start of a run: pos is not in one
        end = runs.find(b"\n", at)
        end = len(runs) if end < 0 else end
        run_end = runs.find(b" ", at, end)
        run_end = end if run_end < 0 else run_end
        # 16 run characters may open; 12-15 only when clearly base64 (what follows matters)
        if run_end - at < 16 and not _SHORT_B64_AT.match(data[at : run_end + 3].decode("latin-1")):
            pos = run_end  # the rest of the line may hold another run
            continue
        start = runs.rfind(b"\n", 0, at) + 1
        lines.append(data[start:end].decode("utf-8", "surrogatepass"))
        pos = end + 1
    return lines


_RUN_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-"  # _MAYBE_LAYER's
_RUN_BYTES = bytes(0x61 if b in _RUN_CHARS else 0x0A if b == 0x0A else 0x20 for b in range(256))
_RUN = b"a" * 16
_SHORT_RUN = b"a" * 12  # the shortest base64 run tried (_SHORT_B64)
_SHORT_B64_AT = re.compile(_SHORT_B64)  # matched where a run starts
# The first byte of every character INVISIBLE matches, in UTF-8 (tests/test_layer_probe_exact
# checks it over every code point): C0 controls and DEL, U+0080-00AD, U+034F, U+061C, and
# the three- and four-byte blocks of the rest.
_INVISIBLE_LEADS = bytes([*range(0x09), *range(0x0E, 0x20), 0x7F, 0xC2, 0xCD, 0xD8, 0xE1, 0xE2,
                          0xE3, 0xEF, 0xF0, 0xF3])
_NOT_INVISIBLE_LEADS = bytes(sorted(set(range(256)) - set(_INVISIBLE_LEADS)))


def opens(text: str, openers: Openers, max_depth: int, budget: Budget) -> bool:
    """Does ``layered`` decode anything from a segment holding ``text`` at the top depth?
    Raises what decoding it raises (Uninspectable, Oversize)."""
    found = _all_layers(Segment(text, "probe"), 0, Scope(openers, max_depth, budget))
    return any(layer.segments for layer in found)  # the layers _Node.of keeps


def _openable_lines(text: str) -> list[str]:
    lines, pos = [], 0
    while (match := _MAYBE_LINE.search(text, pos)) is not None:
        start = text.rfind("\n", 0, match.start()) + 1
        end = text.find("\n", match.start())
        end = len(text) if end < 0 else end
        lines.append(text[start:end])
        pos = end + 1
    return lines


def _node(segment: Segment, depth: int, scope: Scope) -> _Node:
    return _Node.of(segment, _all_layers(segment, depth, scope))


def _all_layers(segment: Segment, depth: int, scope: Scope) -> list[_Mapped | _Whole]:
    layers = _layers(segment, depth, scope)
    visible = _visible(segment.text)
    if visible is not None:  # encodings only whole without the invisible characters
        text, origin = visible
        inner = Segment(text, segment.location, segment.context)
        hidden = [_remapped(layer, origin) for layer in _layers(inner, depth, scope)]
        layers += [layer for layer in hidden if _not_found(layer, layers)]
    return layers


def _not_found(layer: _Mapped | _Whole, found: list[_Mapped | _Whole]) -> bool:
    """A span no layer found as sent covers, or a character-mapped kind not found as sent:
    one value decoded twice would be counted twice."""
    if isinstance(layer, _Whole):
        return not any(
            isinstance(f, _Whole) and f.start < layer.end and layer.start < f.end for f in found
        )
    where = layer.child.segment.location
    return not any(isinstance(f, _Mapped) and f.child.segment.location == where for f in found)


def _layers(segment: Segment, depth: int, scope: Scope) -> list[_Mapped | _Whole]:
    if not _MAYBE_LAYER.search(segment.text):
        return []
    embedded = _embedded_json(segment, depth, scope)
    if embedded:  # its leaves get their own layers; decoding the raw JSON text again adds nothing
        return [embedded]
    layers: list[_Mapped | _Whole] = _base64_layers(segment, depth, scope)
    layers += _hex_layers(segment, layers, depth, scope)
    text = segment.text
    # Each of these starts at its character: most texts hold none, and skip the call.
    for char, find in _MAPPED_LAYERS:
        if char in text and (layer := find(segment, depth, scope)):
            layers.append(layer)
    if not text.isascii() and (layer := _zh_digits_layer(segment, depth, scope)):
        layers.append(layer)
    return layers


# ---------------------------------------------------------------- invisible separators


def _visible(text: str) -> tuple[str, tuple[int, ...]] | None:
    r"""``text`` without invisible characters, and each kept character's offset in ``text``
    (plus ``len(text)``); None when there are none, or nothing to decode without them.
    Both readings are decoded: a NUL may join an encoding or separate two of them.

    >>> _visible("K\x00z\x00g\x002\u00adMTM4MDAxMzgwMDA=")[0]    # base64 of +8613800138000
    'Kzg2MTM4MDAxMzgwMDA='

    A receiver that drops NULs or soft hyphens before decoding reads the encoding whole;
    the detector drops them too (``detectors.normalize``), but only after decoding.
    """
    if not has_invisible(text):
        return None
    pieces: list[str] = []
    origin: list[int] = []
    pos = 0
    for match in INVISIBLE.finditer(text):
        pieces.append(text[pos : match.start()])
        origin.extend(range(pos, match.start()))
        pos = match.end()
    pieces.append(text[pos:])
    origin.extend(range(pos, len(text) + 1))
    visible = "".join(pieces)
    return (visible, tuple(origin)) if _MAYBE_LAYER.search(visible) else None


def _remapped(layer: _Mapped | _Whole, origin: tuple[int, ...]) -> _Mapped | _Whole:
    """A layer found in the visible text, placed in the text as sent (a whole re-encoding
    drops the invisible characters inside its span)."""
    if isinstance(layer, _Mapped):
        return _Mapped(tuple(origin[i] for i in layer.starts), layer.child, layer.encode)
    return _Whole(origin[layer.start], origin[layer.end - 1] + 1, layer.child, layer.encode)


def _text_view(segment: Segment, codec: TextCodec, depth: int, scope: Scope) -> View:
    return _TextView(_node(segment, depth, scope), codec)


# ---------------------------------------------------------------- embedded JSON


def _embedded_json(segment: Segment, depth: int, scope: Scope) -> _Whole | None:
    text = segment.text
    stripped = text.strip()
    if len(stripped) < 2 or stripped[0] + stripped[-1] not in ("{}", "[]"):
        return None
    view = scope.openers.json(text, TextCodec("utf-8"), segment.location + "|json:")
    if view is None:
        return None
    inner = scope.enter(depth, "embedded JSON", len(text))
    return _Whole(0, len(text), layered(view, inner, scope), lambda data: data.decode("utf-8"))


# ---------------------------------------------------------------- base64

_B64_RUN = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}|" + _SHORT_B64)
_B64_PIECE = re.compile(r"[^/]{16,}")  # a run that is a path: try each step
# MIME style: lines of base64 only, the first one 16+ characters long
_B64_BLOCK = re.compile(r"(?m)^[A-Za-z0-9+/]{16,}(?:\r?\n[A-Za-z0-9+/]+={0,2})+(?=\r?$)")
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True, slots=True)
class _Base64Style:
    """How a run was written, so a re-encoded one looks the same."""

    urlsafe: bool
    padded: bool
    line: int = 0  # MIME line width, 0 for one line
    newline: str = "\n"

    def encode(self, data: bytes) -> str:
        text = (base64.urlsafe_b64encode if self.urlsafe else base64.b64encode)(data).decode()
        if not self.padded:
            text = text.rstrip("=")
        if self.line:
            text = self.newline.join(
                text[i : i + self.line] for i in range(0, len(text), self.line)
            )
        return text


def _base64_layers(segment: Segment, depth: int, scope: Scope) -> list[_Mapped | _Whole]:
    text = segment.text
    layers: list[_Mapped | _Whole] = []
    taken: list[tuple[int, int]] = []
    for match in _B64_BLOCK.finditer(text) if "\n" in text else ():  # lines of base64
        layer = _base64_layer(segment, match.start(), match.end(), depth, scope)
        if layer:
            layers.append(layer)
            taken.append((match.start(), match.end()))
    for match in _B64_RUN.finditer(text):
        if any(start <= match.start() < end for start, end in taken):
            continue
        layer = _base64_layer(segment, match.start(), match.end(), depth, scope) or (
            _base32_layer(segment, match.start(), match.end(), depth, scope))
        if layer:
            layers.append(layer)
        elif "/" in match.group():
            for piece in _B64_PIECE.finditer(match.group()):
                at = match.start() + piece.start()
                layer = _base64_layer(segment, at, at + len(piece.group()), depth, scope)
                if layer:
                    layers.append(layer)
    return layers


def _base64_layer(
    segment: Segment, start: int, end: int, depth: int, scope: Scope
) -> _Whole | None:
    run = segment.text[start:end]
    data = _b64decode(run)
    if data is None:
        return None
    if len(data) < _SHORT_BYTES and not _printable_utf8(data):
        return None
    child = _bytes_view(data, segment.location + "|base64", segment.context, depth, scope)
    return _Whole(start, end, child, _b64style(run).encode) if child else None


# ---------------------------------------------------------------- base32

# RFC 4648 base32: upper-case letters and 2-7, padded to 8 characters. Its runs are base64
# runs too, and decode there to junk; tried after base64 (Python's b32decode, TOTP seeds).
_B32_RUN = re.compile(r"[A-Z2-7]{16,}={0,6}")


def _base32_layer(
    segment: Segment, start: int, end: int, depth: int, scope: Scope
) -> _Whole | None:
    """``parent[start:end]`` (a base64 run, padding up to 6 '=' after it taken in) as base32
    when its bytes are text or a known format.

    >>> seg = Segment(base64.b32encode(b"id 11010519491231002X").decode(), "text")
    >>> _base32_layer(seg, 0, len(seg.text), 0, _probe_scope()).segments[0].location
    'text|base32'
    """
    match = _B32_RUN.match(segment.text, start)
    if match is None or match.end() < end:
        return None
    run = match.group()
    if len(run) % 8 or run.rstrip("=").isdigit():
        return None
    try:
        data = base64.b32decode(run)
    except (binascii.Error, ValueError):
        return None
    child = _bytes_view(data, segment.location + "|base32", segment.context, depth, scope)
    return _Whole(start, match.end(), child, lambda new: base64.b32encode(new).decode()) if (
        child) else None


# ---------------------------------------------------------------- Chinese numerals

# Digits written as Chinese numerals (一三八〇〇一三八〇〇〇: a mobile), 7 or more in a row:
# a receiver maps them one to one. Prose counts with 十/百/千, rarely runs seven numerals.
_ZH_NUMERALS = "零〇一二三四五六七八九"
_ZH_RUN = re.compile(f"[{_ZH_NUMERALS}]{{7,}}")
_ZH_TO_DIGITS = str.maketrans(_ZH_NUMERALS, "00123456789")
_DIGITS_TO_ZH = str.maketrans("0123456789", "〇一二三四五六七八九")


def _zh_digits_layer(segment: Segment, depth: int, scope: Scope) -> _Mapped | None:
    """Runs of Chinese numerals as digits; a mask is written back in numerals.

    >>> _zh_digits_layer(Segment("电话一三八〇〇一三八〇〇〇", "text"), 0, _probe_scope()).segments[0].text
    '电话13800138000'
    """
    text = segment.text
    if not _ZH_RUN.search(text):
        return None
    # One character for one: the decoded text keeps every offset (other numerals too).
    decoded = _ZH_RUN.sub(lambda run: run.group().translate(_ZH_TO_DIGITS), text)
    return _mapped(segment, "zh-digits", decoded, list(range(len(text))),
                   lambda new: new.translate(_DIGITS_TO_ZH), depth, scope)


def _probe_scope() -> Scope:
    """A scope for the examples above: no documents, no JSON, a 1 MB budget."""
    return Scope(Openers(json=lambda *_: None, document=lambda *_: None), 5, Budget(1 << 20))


# Runs under 16 characters (_SHORT_B64) decode to at most 11 bytes; GB18030 reads about
# 1 in 16 random ones as text (identifiers, nonces), UTF-8 almost none. What is that short
# and worth finding (a mobile, an email, a name) is printable UTF-8.
_SHORT_BYTES = 12


def _printable_utf8(data: bytes) -> bool:
    r"""Are the bytes of a short run text worth reading?

    >>> _printable_utf8(b"13800138000"), _printable_utf8("张三丰".encode())
    (True, True)
    >>> _printable_utf8(b"\x81\x30"), _printable_utf8(b"1\x003")
    (False, False)
    """
    try:
        return data.decode("utf-8").isprintable()
    except UnicodeDecodeError:
        return False


def _b64decode(run: str) -> bytes | None:
    compact = "".join(run.splitlines())
    body = compact.rstrip("=")
    if body.isdigit() or len(body) % 4 == 1:  # numbers are numbers; 4n+1 is never base64
        return None
    if _HEX_DIGITS.fullmatch(body):  # hex (_hex_layers), never base64: see _HEX_DIGITS
        return None
    urlsafe = "-" in body or "_" in body
    if urlsafe and ("+" in body or "/" in body):
        return None
    padded_body = (body + "=" * (-len(body) % 4)).encode("ascii")  # run characters only
    try:  # base64.b64decode(..., altchars=b"-_", validate=True) without its Python wrapper
        return binascii.a2b_base64(
            padded_body.translate(_URLSAFE) if urlsafe else padded_body, strict_mode=True
        )
    except (binascii.Error, ValueError):
        return None


_URLSAFE = bytes.maketrans(b"-_", b"+/")


def _b64style(run: str) -> _Base64Style:
    r"""How a run ``_b64decode`` decoded was written (only asked of runs that open).

    >>> _b64style("MTM4MDAx\nMzgwMDA=")
    _Base64Style(urlsafe=False, padded=True, line=8, newline='\n')
    """
    lines = run.splitlines()
    compact = "".join(lines)
    body = compact.rstrip("=")
    padded = compact.endswith("=") or len(body) % 4 == 0
    newline = "\r\n" if "\r\n" in run else "\n"
    return _Base64Style("-" in body or "_" in body, padded,
                        len(lines[0]) if len(lines) > 1 else 0, newline)


def _bytes_view(
    data: bytes, location: str, context: tuple[str, ...], depth: int, scope: Scope
) -> View | None:
    """Decoded bytes as a view, or None when they are neither text nor a known format."""
    document = scope.openers.document(data, location, depth + 1)
    if document is not None:
        inner = scope.enter(depth, "a document under an encoding", len(data))
        return layered(document, inner, scope)
    if data.startswith(_GZIP_MAGIC):
        inner = scope.enter(depth, "gzip under an encoding", len(data))
        plain = decode_content(data, ("gzip",), max(scope.budget.left, 0)).data
        child = _bytes_view(plain, location + "|gzip", context, inner, scope)
        if child is None:
            raise Uninspectable("compressed binary content under an encoding")
        return _Gzip(child)
    text = _plausible_text(data)
    if text is None:
        return None
    inner = scope.enter(depth, "a base64 layer", len(data))
    return _decoded_text_view(text, location, context, inner, scope)


def _decoded_text_view(
    text: tuple[str, TextCodec], location: str, context: tuple[str, ...], depth: int, scope: Scope
) -> View:
    """Decoded text as a view: a JSON document's leaves, else the text itself."""
    stripped = text[0].strip()
    is_document = stripped[:1] + stripped[-1:] in ("{}", "[]")  # a bare number stays text
    json_view = scope.openers.json(text[0], text[1], location + "|json:") if is_document else None
    if json_view is not None:
        return layered(json_view, depth, scope)
    return _text_view(Segment(text[0], location, context), text[1], depth, scope)


_CONTROL_BYTES = bytes(set(range(0x20)) - {0x09, 0x0A, 0x0D}) + b"\x7f"
_OTHER_BYTES = bytes(set(range(256)) - set(_CONTROL_BYTES))
_CONTROL_SHARE = 100  # more than 1 in 100 control bytes: not narrow text


def _plausible_text(data: bytes) -> tuple[str, TextCodec] | None:
    """Text in UTF-8, UTF-16/32 (BOM or NUL pattern) or GB18030 (``decode_text``), else None.

    UTF-16 is tried because NUL bytes are what hide ASCII in it: ``base64("3\x002\x00")``.
    """
    # Most decoded junk fails here, at C speed, before any charset is tried. NULs are left
    # to decode_text: in UTF-16/32 text half the bytes are NUL, and NULs between digits
    # ("1\x003\x008") are dropped by the detectors like by many receivers.
    # UTF-16/32 code units hold control-range bytes (码 is 01 78): those go to decode_text.
    if not data.startswith(_WIDE_BOMS) and not decode.sniff_wide(data):
        controls = data.translate(None, _OTHER_BYTES)
        if len(controls) - controls.count(0) > len(data) // _CONTROL_SHARE:
            return _wide_digits(data) if b"\xff" in data else None
    try:
        decoded = decode.text_of(data, None)  # no exception for junk: most of what gets here
    except Uninspectable:
        if decode.is_overlong_utf8(data):  # text to a lenient receiver: refuse, never skip
            raise
        return None
    if decoded is None:  # (overlong UTF-8 raised above, in refuse_overlong)
        return None
    text, codec = decoded
    if not text.replace("\x00", "").strip():
        return None
    return (text, codec) if decode.is_text_like(text) else None


_WIDE_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)  # the UTF-32 ones start with these
_SEVEN_DIGITS = re.compile(r"\d{7}")  # any script's decimal digits: full-width too


def _wide_digits(data: bytes) -> tuple[str, TextCodec] | None:
    """UTF-16 without a BOM or NULs: full-width digits (１ is FF11, bytes 11 FF) hide no
    NUL and read as control bytes. Taken only when 7 digits in a row appear (random bytes
    decoded as UTF-16 are CJK noise, never that).

    >>> _wide_digits("电话１３８００１３８０００".encode("utf-16-be"))[0]
    '电话１３８００１３８０００'
    >>> _wide_digits(bytes(range(200, 240))) is None
    True
    """
    if len(data) % 2:
        return None
    for name in ("utf-16-le", "utf-16-be"):
        try:
            text = data.decode(name)
        except UnicodeDecodeError:
            continue
        if _SEVEN_DIGITS.search(text) and decode.is_text_like(text):
            return text, TextCodec(name)
    return None


# ---------------------------------------------------------------- hex

# A run of hex digits only (or with a uuid's dashes, the X of a resident ID, the x of "0x" or
# of a phone's extension) is never base64 (_b64decode skips it), and that cannot hide data:
# base64 of a digit byte (0x30-0x39) at a 0-mod-3 offset
# starts with "M" or "O", and any three digits in a row, in ASCII, GB18030, UTF-16 (a byte
# every 2) or UTF-32 (every 4), put one at such an offset; full-width digits (EF BC 9x,
# A3 Bx, 10 FF) give "y", "o", "/"... (tests/test_hex_layer.py checks it at every offset).
# Read as base64, 5% of random md5 digests, 2% of uuids, IDs ending in X and phones such as
# 001-464-381-0654x26451 decoded to bytes GB18030 or UTF-16 read as text, in which the name
# model sometimes found a "name" (seed 1, 10,000 generated payloads: 444 decoded -> 5).
_HEX_DIGITS = re.compile(r"[0-9a-fA-FxX-]+")
# 22+ hex digits, an even number: 11 bytes, a mainland mobile, the shortest value the
# detectors flag on its own; shorter runs are ids, nonces and colours, not worth decoding.
# One run ("0x" before it allowed), or \xNN escapes. A uuid's dashes split it into runs of
# at most 12. _MAYBE_LAYER (16+ run characters, or a backslash) is a superset.
_HEX_RUN = re.compile(
    r"(?<![A-Za-z0-9_])(0[xX])?((?:[0-9a-fA-F]{2}){11,})(?![A-Za-z0-9_])"
    r"|((?:\\[xX][0-9a-fA-F]{2}){11,})"
)


@dataclass(frozen=True, slots=True)
class _HexStyle:
    """How a run was written ("0x", "\\x" before each byte, upper case), to write it back."""

    prefix: str  # before the run ("0x") or before each byte ("\\x")
    per_byte: bool
    upper: bool

    def encode(self, data: bytes) -> str:
        digits = data.hex().upper() if self.upper else data.hex()
        if not self.per_byte:
            return self.prefix + digits
        return "".join(self.prefix + digits[i : i + 2] for i in range(0, len(digits), 2))


def _hex_layers(
    segment: Segment, found: list[_Mapped | _Whole], depth: int, scope: Scope
) -> list[_Mapped | _Whole]:
    """Hex runs whose bytes are text, outside runs already opened as base64."""
    text = segment.text
    taken = [(layer.start, layer.end) for layer in found if isinstance(layer, _Whole)]
    layers: list[_Mapped | _Whole] = []
    for match in _HEX_RUN.finditer(text):
        if any(start < match.end() and match.start() < end for start, end in taken):
            continue
        layer = _hex_layer(segment, match, depth, scope)
        if layer:
            layers.append(layer)
    return layers


def _hex_layer(segment: Segment, match: re.Match[str], depth: int, scope: Scope) -> _Whole | None:
    prefix, run, escaped = match.groups()
    digits = run if run is not None else _unescaped(escaped)
    data = bytes.fromhex(digits)
    text = _hex_text(data, digits.isdigit())
    if text is None:
        return None
    upper = digits != digits.lower() and digits == digits.upper()
    style = (
        _HexStyle(prefix or "", False, upper) if run is not None
        else _HexStyle(escaped[:2], True, upper)
    )
    inner = scope.enter(depth, "a hex layer", len(data))
    child = _decoded_text_view(text, segment.location + "|hex", segment.context, inner, scope)
    return _Whole(match.start(), match.end(), child, style.encode)


def _unescaped(escaped: str) -> str:
    r"""The hex digits of ``\xNN`` escapes.

    >>> _unescaped(r"\x31\x33\x38")
    '313338'
    """
    return "".join(escaped[i + 2 : i + 4] for i in range(0, len(escaped), 4))


def _hex_text(data: bytes, all_digits: bool) -> tuple[str, TextCodec] | None:
    r"""The text hex bytes carry: printable UTF-8, or UTF-16/32 by its BOM or NULs and half
    of it ASCII (else random digests that start with FF FE read as text); else None. Not GB18030: it reads ~1 in 30 random 16-byte
    digests (md5) as text (NULs make UTF-16 of the rest). A run of digits only stays a
    number unless it is the hex of one (half its characters digits, as ``.hex()`` of an id
    or mobile is): a random 22-digit number is printable ASCII 1 time in 280.

    >>> _hex_text(b"13800138000", True)[0], _hex_text("张三 1".encode("utf-16-le"), False)[0]
    ('13800138000', '张三 1')
    >>> _hex_text(bytes.fromhex("2345672345672345672345"), True)  # '#Eg#Eg...': a number
    >>> _hex_text(b"\x81\x30", False) is None  # GB18030 "0"; no UTF-8
    True
    """
    bom, name = next(((b, n) for b, n in decode.BOMS if data.startswith(b)), (b"", None))
    name = name or decode.sniff_wide(data) or "utf-8"  # "x".encode("utf-16").hex(): a BOM
    if name == "utf-8" and not bom and b"\xff" in data and (wide := _wide_digits(data)):
        return wide  # full-width digits in UTF-16: no NUL, not ASCII (_wide_digits)
    try:
        text = data[len(bom) :].decode(name)
    except UnicodeDecodeError:
        return None
    plain = text.replace("\t", " ").replace("\n", " ").replace("\r", " ")
    if not plain.strip() or not plain.isprintable():
        return None
    if name != "utf-8" and sum(ch < "\x80" for ch in text) * 2 < len(text):
        return None
    if all_digits and sum(ch in "0123456789" for ch in text) * 2 < len(text):
        return None
    return text, TextCodec(name, bom)


# ---------------------------------------------------------------- character-mapped layers

_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_PERCENT_CHARSETS = ("utf-8", "gb18030")  # stateless: every character has fixed bytes
# (so are UTF-16/32 with a fixed byte order, tried first when a BOM or NULs say so)


def _percent_layer(segment: Segment, depth: int, scope: Scope) -> _Mapped | None:
    text = segment.text
    if not _PERCENT.search(text):
        return None
    data, origin, i = bytearray(), [], 0
    while i < len(text):
        if _PERCENT.match(text, i):
            data.append(int(text[i + 1 : i + 3], 16))
            origin.append(i)
            i += 3
            continue
        encoded = text[i].encode("utf-8", "surrogatepass")
        data += encoded
        origin += [i] * len(encoded)
        i += 1
    decode.refuse_overlong(bytes(data))  # %C0%B3 is "3" to a lenient receiver
    for name, skip in _percent_charsets(bytes(data)):
        try:
            decoded = bytes(data[skip:]).decode(name)
        except UnicodeDecodeError:
            continue
        codec = TextCodec(name)
        starts: list[int] = []
        at = skip
        for char in decoded:
            starts.append(origin[at])
            at += len(codec.encode(char))
        return _mapped(segment, "percent", decoded, starts, _PercentEncoder(codec), depth, scope)
    return None


def _percent_charsets(data: bytes) -> list[tuple[str, int]]:
    r"""(charset, BOM length) to try: a BOM's, else the width NULs point to, else UTF-8, GB18030.

    >>> _percent_charsets(b"3\x002\x00")
    [('utf-16-le', 0), ('utf-8', 0), ('gb18030', 0)]
    """
    for bom, name in decode.BOMS:
        if data.startswith(bom):
            return [(name, len(bom))] + [(other, 0) for other in _PERCENT_CHARSETS]
    wide = decode.sniff_wide(data)
    return ([(wide, 0)] if wide else []) + [(name, 0) for name in _PERCENT_CHARSETS]




@dataclass(frozen=True, slots=True)
class _PercentEncoder:
    codec: TextCodec

    def __call__(self, replacement: str) -> str:
        return quote(self.codec.encode(replacement), safe="*")


_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});?")
_MARKUP_ENTITIES = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"}  # alone, ordinary HTML/XML


def _entity_layer(segment: Segment, depth: int, scope: Scope) -> _Mapped | None:
    text = segment.text
    matches = [m for m in _ENTITY.finditer(text) if _unentity(m.group()) != m.group()]
    if not any(m.group() not in _MARKUP_ENTITIES for m in matches):
        return None
    return _spliced(segment, "html-entities", matches, _unentity, html.escape, depth, scope)


_NUL_ENTITY = re.compile(r"&#(?:0+|[xX]0+);?\Z")


def _unentity(entity: str) -> str:
    """``html.unescape``, but ``&#0;`` is NUL (browsers show U+FFFD, other decoders NUL):
    the detectors drop NUL, so ``1&#0;3&#0;8`` reads "138" as a lenient receiver does."""
    return "\x00" if _NUL_ENTITY.match(entity) else html.unescape(entity)


_ESCAPE = re.compile(
    r"\\u([dD][89abAB][0-9A-Fa-f]{2})\\u([dD][c-fC-F][0-9A-Fa-f]{2})|\\u([0-9A-Fa-f]{4})"
)


def _escape_layer(segment: Segment, depth: int, scope: Scope) -> _Mapped | None:
    matches = [m for m in _ESCAPE.finditer(segment.text) if _unescape(m) is not None]
    if not matches:
        return None
    return _spliced(segment, "json-escapes", matches, _unescape_text, str, depth, scope)


def _unescape_text(escape: str) -> str | None:
    return _unescape(_ESCAPE.match(escape))


def _unescape(match: re.Match[str] | None) -> str | None:
    """The character of ``\\uXXXX`` (or a surrogate pair); None for a lone surrogate."""
    assert match is not None
    if match.group(3) is None:
        return chr(
            0x10000 + (int(match.group(1), 16) - 0xD800 << 10) + int(match.group(2), 16) - 0xDC00
        )
    char = chr(int(match.group(3), 16))
    return None if 0xD800 <= ord(char) <= 0xDFFF else char


def _spliced(
    segment: Segment,
    kind: str,
    matches: list[re.Match[str]],
    decode: Callable[[str], str | None],
    encode: Callable[[str], str],
    depth: int,
    scope: Scope,
) -> _Mapped:
    """Text with each match replaced by its decoding; other characters stay in place."""
    text, pos = segment.text, 0
    out: list[str] = []
    starts: list[int] = []
    for match in matches:
        out.append(text[pos : match.start()])
        starts += range(pos, match.start())
        decoded = decode(match.group()) or ""
        out.append(decoded)
        starts += [match.start()] * len(decoded)
        pos = match.end()
    out.append(text[pos:])
    starts += range(pos, len(text))
    return _mapped(segment, kind, "".join(out), starts, encode, depth, scope)


def _mapped(
    segment: Segment,
    kind: str,
    decoded: str,
    starts: list[int],
    encode: Callable[[str], str],
    depth: int,
    scope: Scope,
) -> _Mapped:
    inner = scope.enter(depth, f"a {kind} layer", len(decoded))
    child = _node(Segment(decoded, f"{segment.location}|{kind}", segment.context), inner, scope)
    return _Mapped((*starts, len(segment.text)), child, encode)


_MAPPED_LAYERS = (("%", _percent_layer), ("&", _entity_layer), ("\\", _escape_layer))
