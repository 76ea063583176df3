"""Bytes on disk: one frame per log entry, self-delimiting from both ends.

    offset 0   magic  b"BMI\\x01"                    4
           4   body length (big-endian u32)          4
           8   body: canonical JSON (seq, prev, kind, time, ...)
     8+n       mac   HMAC-SHA256, forward-secure key  32
    40+n       hash  SHA-256(prev hash + body + mac)  32
    72+n       body length again                      4
    76+n       CRC-32 of everything before it         4
    80+n       end magic b"\\x01IMB"                  4

The CRC and the two lengths tell a torn write (crash mid-append) from a complete frame
without any key; the hash and MAC are checked by ``log``/``verify``. Trailing length and end
magic let a reader find the last frame from the end of the file.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

MAGIC = b"BMI\x01"
END_MAGIC = b"\x01IMB"
_HEAD = struct.Struct(">4sI")
_TAIL = struct.Struct(">32s32sII4s")
OVERHEAD = _HEAD.size + _TAIL.size  # 84 bytes
MAX_BODY = 16 * 1024 * 1024  # far above any real record; bounds what a bad length can claim


@dataclass(frozen=True, slots=True)
class Frame:
    offset: int
    body: bytes
    mac: bytes
    hash: bytes

    @property
    def size(self) -> int:
        return OVERHEAD + len(self.body)

    @property
    def end(self) -> int:
        return self.offset + self.size

    @property
    def fields(self) -> dict:
        return json.loads(self.body)


@dataclass(frozen=True, slots=True)
class Damage:
    """Bytes at ``offset`` that are not a frame. ``incomplete``: they end before a frame could."""

    offset: int
    reason: str
    incomplete: bool


def canonical(fields: dict) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class Encoded(dict):
    """A frame's data that comes with its ``canonical`` bytes, made by whoever built it
    (``Encoded(fields, canonical(fields))``, or spliced from parts encoded anyway): ``body``
    then copies them instead of encoding the data again. Never changed after it is made.

        data = Encoded({"n": 1}, b'{"n":1}')
        body(2, "00", "incident", "t", data) == body(2, "00", "incident", "t", {"n": 1})
    """

    __slots__ = ("json",)

    def __init__(self, fields: dict, encoded: bytes):
        super().__init__(fields)
        self.json = encoded


def body(seq: int, prev_hex: str, kind: str, time: str, data: dict) -> bytes:
    """A frame body: ``canonical({"seq", "prev", "kind", "time", "data"})``; ``data`` as
    ``Encoded`` is copied in, not encoded again (an incident's metadata is encoded once, for
    the evidence's associated data, instead of twice).

    >>> body(7, "ab", "incident", "2026-12-06T12:00:00Z", Encoded({"n": 1}, b'{"n":1}'))
    b'{"data":{"n":1},"kind":"incident","prev":"ab","seq":7,"time":"2026-12-06T12:00:00Z"}'
    """
    if not isinstance(data, Encoded):
        return canonical({"seq": seq, "prev": prev_hex, "kind": kind, "time": time, "data": data})
    # the keys in canonical's (sorted) order: data, kind, prev, seq, time
    return b"".join((b'{"data":', data.json, b',"kind":', _text(kind), b',"prev":',
                     _text(prev_hex), b',"seq":', b"%d" % seq, b',"time":', _text(time), b"}"))


def _text(value: str) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def encode(body: bytes, mac: bytes, chain_hash: bytes) -> bytes:
    head = _HEAD.pack(MAGIC, len(body))
    partial = head + body + mac + chain_hash + struct.pack(">I", len(body))
    return partial + struct.pack(">I", zlib.crc32(partial)) + END_MAGIC


def parse_at(buf: bytes | memoryview, offset: int) -> Frame | Damage:
    remaining = len(buf) - offset
    if remaining < _HEAD.size:
        return Damage(offset, "partial frame header", incomplete=True)
    magic, length = _HEAD.unpack_from(buf, offset)
    if magic != MAGIC:
        return Damage(offset, "no frame header here", incomplete=False)
    if length > MAX_BODY:
        return Damage(offset, f"implausible frame length {length}", incomplete=False)
    if remaining < OVERHEAD + length:
        return Damage(offset, "frame cut short", incomplete=True)
    tail_at = offset + _HEAD.size + length
    mac, chain_hash, length2, crc, end = _TAIL.unpack_from(buf, tail_at)
    if end != END_MAGIC or length2 != length:
        return Damage(offset, "frame trailer damaged", incomplete=False)
    if zlib.crc32(buf[offset : tail_at + 68]) != crc:
        return Damage(offset, "frame checksum mismatch (bytes altered)", incomplete=False)
    body = bytes(buf[offset + _HEAD.size : tail_at])
    try:
        json.loads(body)
    except ValueError:
        return Damage(offset, "frame body is not JSON", incomplete=False)
    return Frame(offset, body, bytes(mac), bytes(chain_hash))


def scan(buf: bytes | memoryview) -> Iterator[Frame | Damage]:
    """Every frame in ``buf`` in order; damaged regions are reported once, then skipped.

    After damage the scan resynchronises on the next offset where a whole valid frame starts,
    so one flipped byte does not hide the records after it.
    """
    offset = 0
    while offset < len(buf):
        item = parse_at(buf, offset)
        if isinstance(item, Frame):
            yield item
            offset = item.end
            continue
        next_frame = _resync(buf, offset + 1)
        if next_frame is None:
            yield Damage(offset, item.reason, item.incomplete or _all_zero(buf, offset))
            return
        yield Damage(offset, item.reason, incomplete=False)
        offset = next_frame


def _resync(buf: bytes | memoryview, start: int) -> int | None:
    data = bytes(buf) if isinstance(buf, memoryview) else buf
    at = data.find(MAGIC, start)
    while at != -1:
        if isinstance(parse_at(data, at), Frame):
            return at
        at = data.find(MAGIC, at + 1)
    return None


def _all_zero(buf: bytes | memoryview, offset: int) -> bool:
    """A power cut can leave a zero-filled tail: treat it like a torn write."""
    return not any(bytes(buf[offset:]))
