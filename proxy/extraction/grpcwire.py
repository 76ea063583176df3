"""gRPC requests without a schema: length-prefixed messages, protobuf wire format decoded blind.

    view = grpc_view(body, "application/grpc", "/shop.Orders/Create", (), 0, limits)
    [(s.location, s.text) for s in view.segments]
      -> [("grpc:/shop.Orders/Create:msg0.f1", "张三"), ("grpc:/shop.Orders/Create:msg0.f2.f1", "13800138000")]

A body is messages, each a 1-byte flag (bit 0: compressed with ``grpc-encoding``), a
4-byte big-endian length and the protobuf bytes; grpc-web-text is the same in base64.
Every field is read by its wire type (varint, 64-bit, length-delimited, 32-bit). A
length-delimited field is:

- text, when it is UTF-8 without control characters (other than tab and newlines);
- else a nested message, when it parses completely as one;
- else bytes, whose printable runs are inspected (``...f4:strings``, see proxy.extraction.strings).

Text comes first, unlike ``protoc --decode_raw``: ``13800138000`` also parses as a
message (field 6 fixed64, field 6 varint) and would vanish as one; a message that is
all printable is still inspected whole as text. Varints of 6+ digits are segments too
(phones and IDs sent as int64). Locations: ``grpc:<method path>:msg<i>.f<n>[.f<m>...]``.

Masking re-encodes the lengths of every enclosing message (and compresses a compressed
message again); a masked number or bytes field raises CannotMask (-> block).
Fails closed: a body that is not whole frames, an unknown ``grpc-encoding`` or corrupt
compressed data -> Uninspectable; past the Budget -> Oversize.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from urllib.parse import quote

from detectors.model import Segment
from proxy.errors import CannotMask, Uninspectable
from proxy.extraction.decode import current_budget, decode_content, encode_content
from proxy.extraction.layers import Edit, View, apply_edits
from proxy.extraction.limits import Limits
from proxy.extraction.strings import printable_runs

MAX_NESTING = 32  # deeper bytes are read as bytes (their printable runs), not messages
_ENCODINGS = {"gzip": "gzip", "deflate": "deflate", "zstd": "zstd"}
# gRPC's percent-encoding leaves 0x20-0x7E alone except "%" (PROTOCOL-HTTP2.md)
_UNENCODED = "".join(chr(c) for c in range(0x20, 0x7F) if c != 0x25)


def is_grpc(media: str | None) -> bool:
    return bool(media) and (media == "application/grpc" or media.startswith(  # type: ignore[union-attr]
        ("application/grpc+", "application/grpc-web")))


def grpc_refusal(message: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """A trailers-only answer: HTTP 200, ``grpc-status: 7`` (PERMISSION_DENIED), no body."""
    return 200, [
        ("content-type", "application/grpc"),
        ("grpc-status", "7"),
        ("grpc-message", quote(message, safe=_UNENCODED)),
    ], b""


# ---------------------------------------------------------------- protobuf


@dataclass(frozen=True, slots=True, repr=False)  # holds raw data
class _Field:
    raw: bytes  # the whole field as sent (tag, length, payload)
    tag: bytes  # tag bytes as sent
    kind: str  # "text" | "message" | "number" | "strings" | "other"
    text: str = ""
    child: _Message | None = None

    @property
    def segment_count(self) -> int:
        if self.kind == "message":
            assert self.child is not None
            return len(self.child.segments)
        return 1 if self.kind in ("text", "number", "strings") else 0


@dataclass(frozen=True, slots=True, repr=False)  # holds raw data
class _Message:
    fields: tuple[_Field, ...]
    segments: tuple[Segment, ...]

    def render(self, edits: tuple[tuple[Edit, ...], ...]) -> bytes:
        out, at = [], 0
        for field in self.fields:
            mine = edits[at : at + field.segment_count]
            at += len(mine)
            if not any(mine):
                out.append(field.raw)
            elif field.kind == "text":
                payload = apply_edits(field.text, mine[0]).encode("utf-8")
                out.append(field.tag + _varint(len(payload)) + payload)
            elif field.kind == "message":
                assert field.child is not None
                payload = field.child.render(mine)
                out.append(field.tag + _varint(len(payload)) + payload)
            else:
                raise CannotMask("a number or bytes field of a gRPC message cannot be masked")
        return b"".join(out)


def decode_message(data: bytes, location: str) -> _Message:
    """``data`` as a message; Uninspectable when it is not protobuf at all."""
    message = _parse(data, location, 0)
    if message is None:
        raise Uninspectable("gRPC message is not protobuf")
    return message


def _parse(data: bytes, location: str, depth: int) -> _Message | None:
    fields: list[_Field] = []
    segments: list[Segment] = []
    pos = 0
    while pos < len(data):
        start = pos
        key, pos = _read_varint(data, pos)
        if key is None:
            return None
        number, wire = key >> 3, key & 7
        tag = data[start:pos]
        where = f"{location}.f{number}"
        if number == 0:
            return None
        if wire == 0:
            value, pos = _read_varint(data, pos)
            if value is None:
                return None
            number_text = str(value)
            if len(number_text) >= 6:
                fields.append(_Field(data[start:pos], tag, "number"))
                segments.append(Segment(number_text, where))
                continue
            fields.append(_Field(data[start:pos], tag, "other"))
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
            if pos > len(data):
                return None
            fields.append(_Field(data[start:pos], tag, "other"))
        elif wire == 2:
            size, pos = _read_varint(data, pos)
            if size is None or pos + size > len(data):
                return None
            payload = data[pos : pos + size]
            pos += size
            field, found = _length_delimited(data[start:pos], tag, payload, where, depth)
            fields.append(field)
            segments += found
        else:  # groups (3, 4) are deprecated; 6 and 7 do not exist
            return None
    return _Message(tuple(fields), tuple(segments))


def _length_delimited(
    raw: bytes, tag: bytes, payload: bytes, where: str, depth: int
) -> tuple[_Field, list[Segment]]:
    if not payload:
        return _Field(raw, tag, "other"), []
    text = _as_text(payload)
    if text is not None:
        return _Field(raw, tag, "text", text=text), [Segment(text, where)]
    child = _parse(payload, where, depth + 1) if depth < MAX_NESTING else None
    if child is not None:
        return _Field(raw, tag, "message", child=child), list(child.segments)
    runs = "\n".join(printable_runs(payload))
    if runs:
        return _Field(raw, tag, "strings"), [Segment(runs, f"{where}:strings")]
    return _Field(raw, tag, "other"), []


def _as_text(payload: bytes) -> str | None:
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if _CONTROL.search(text) else text


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # category Cc but \t \n \r


def _read_varint(data: bytes, pos: int) -> tuple[int | None, int]:
    value, shift = 0, 0
    while pos < len(data) and shift < 70:
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return value, pos
        shift += 7
    return None, pos


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


# ---------------------------------------------------------------- frames


@dataclass(frozen=True, slots=True, repr=False)  # holds raw data
class _Frame:
    flag: int
    raw: bytes  # payload as sent
    chain: tuple[str, ...]  # compression applied to the message, for a rewrite
    message: _Message | None  # None for a grpc-web trailer frame (not inspected as protobuf)


@dataclass(frozen=True, slots=True, repr=False)  # holds raw data
class _Stream:
    frames: tuple[_Frame, ...]
    segments: tuple[Segment, ...]
    web_text: bool

    def render(self, edits: tuple[tuple[Edit, ...], ...]) -> bytes:
        out, at = [], 0
        for frame in self.frames:
            count = len(frame.message.segments) if frame.message else 0
            mine = edits[at : at + count]
            at += count
            payload = frame.raw
            if frame.message is not None and any(mine):
                payload = encode_content(frame.message.render(mine), frame.chain)
            out.append(bytes([frame.flag]) + len(payload).to_bytes(4, "big") + payload)
        body = b"".join(out)
        return base64.b64encode(body) if self.web_text else body


def grpc_view(
    data: bytes, media: str | None, method: str, encodings: list[str], depth: int, limits: Limits
) -> View:
    """The messages of a gRPC (or gRPC-web) request body as a view (see module doc)."""
    web_text = bool(media and media.startswith("application/grpc-web-text"))
    if web_text:
        data = _unbase64(data)
    budget = current_budget(limits.max_decoded_bytes)
    frames: list[_Frame] = []
    segments: list[Segment] = []
    pos = 0
    while pos < len(data):
        if pos + 5 > len(data):
            raise Uninspectable("truncated gRPC message prefix")
        flag, size = data[pos], int.from_bytes(data[pos + 1 : pos + 5], "big")
        raw = data[pos + 5 : pos + 5 + size]
        if len(raw) != size:
            raise Uninspectable("truncated gRPC message")
        pos += 5 + size
        location = f"grpc:{method}:msg{len(frames)}"
        if flag & 0x80:  # grpc-web trailers: header lines, not protobuf
            frames.append(_Frame(flag, raw, (), None))
            continue
        plain, chain = _uncompressed(raw, flag, encodings, budget.left)
        budget.spend(len(plain), "gRPC message")
        message = decode_message(plain, location)
        frames.append(_Frame(flag, raw, chain, message))
        segments += message.segments
    return _Stream(tuple(frames), tuple(segments), web_text)


def _uncompressed(
    raw: bytes, flag: int, encodings: list[str], left: int
) -> tuple[bytes, tuple[str, ...]]:
    if not flag & 1:
        return raw, ()
    names = [e.strip().lower() for value in encodings for e in value.split(",") if e.strip()]
    if len(names) != 1 or names[0] not in _ENCODINGS:
        raise Uninspectable("compressed gRPC message with an unsupported grpc-encoding")
    decoded = decode_content(raw, (_ENCODINGS[names[0]],), max(left, 0))
    return decoded.data, decoded.chain


def _unbase64(data: bytes) -> bytes:
    """grpc-web-text: base64 chunks, each padded, back to back."""
    chunks = _B64_CHUNK.findall(b"".join(data.split()))
    if b"".join(chunks) != b"".join(data.split()):
        raise Uninspectable("grpc-web-text body is not base64")
    try:
        return b"".join(base64.b64decode(chunk, validate=True) for chunk in chunks if chunk)
    except (binascii.Error, ValueError):
        raise Uninspectable("grpc-web-text body is not base64") from None


_B64_CHUNK = re.compile(rb"[A-Za-z0-9+/]+={0,2}")
