"""Bytes to text, with caps: Content-Encoding chains and charsets.

    decoded = decode_content(body, ("gzip", "br"), limit=50 << 20)
    decoded.data                      # the plain bytes (never more than ``limit``)
    encode_content(masked, decoded.chain)   # same chain again, for the rewritten body

    text, codec = decode_text(b"\\xd5\\xc5\\xc8\\xfd", declared=None)   # "张三", GB18030
    codec.encode(text)                # the original bytes again

Every decompressor here is incremental and stops at the cap, so a 1 GB bomb costs
at most ``limit`` bytes of memory (mitmproxy's own decoding has no cap).
Charsets: UTF-8, else the declared one, else GB18030 (``decode_text`` says why UTF-8
comes first). charset-normalizer is not used: its guesses are statistical (a wrong
guess turns personal data into mojibake the detectors miss) and it costs milliseconds
per request; the fixed chain is exact for the traffic we protect, and anything else
fails closed as Uninspectable.
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import io
import zlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

import brotli
import zstandard

from proxy.errors import Oversize, Uninspectable

_CHUNK = 64 << 10
_ZSTD_MAX_WINDOW = 1 << 24  # levels <= 19 use <= 8 MB; larger windows are refused, not honoured
_GZIP_MAGIC = b"\x1f\x8b"
_ALIASES = {"x-gzip": "gzip", "identity": ""}
_BOMS = (  # longest first: the UTF-32 LE BOM starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


@dataclass(frozen=True, slots=True)
class Decoded:
    """Plain bytes and the codings that were removed, in the order they were applied."""

    data: bytes
    chain: tuple[str, ...] = ()  # "gzip", "deflate", "deflate-raw", "br", "zstd"


@dataclass(frozen=True, slots=True)
class TextCodec:
    """How text was decoded, so a rewrite can encode it back the same way."""

    name: str  # Python codec name, e.g. "utf-8", "gb18030"
    bom: bytes = b""

    def encode(self, text: str) -> bytes:
        """Raises UnicodeEncodeError if ``text`` has characters the charset cannot carry."""
        return self.bom + text.encode(self.name)


# ---------------------------------------------------------------- one request's budget


class Budget:
    """Decoded bytes and archive entries one request may still produce.

    Every decoded layer (base64, gzip inside base64...) and every document or archive
    entry spends from it, so nesting cannot multiply the ``max_decoded_bytes`` cap.

    >>> with spending(Budget(100)) as budget:
    ...     budget.spend(60, "base64 layer"); budget.spend(60, "zip entry")
    Traceback (most recent call last):
    proxy.errors.Oversize: zip entry takes decoded content past 100 bytes
    """

    MAX_ENTRIES = 10_000  # archive entries per request, across all nesting

    def __init__(self, limit: int):
        self.limit = limit
        self.left = limit
        self.entries = 0

    def spend(self, size: int, what: str) -> None:
        self.left -= size
        if self.left < 0:
            raise Oversize(f"{what} takes decoded content past {self.limit} bytes")

    def count_entries(self, count: int) -> None:
        self.entries += count
        if self.entries > self.MAX_ENTRIES:
            raise Oversize(f"more than {self.MAX_ENTRIES} archive entries in one request")


# The budget reaches document handlers through a context variable: their signature
# (data, label, depth, limits) is a plug-in seam we keep stable. Extraction is synchronous
# inside one worker call, so the variable is set and reset around exactly one request.
_BUDGET: ContextVar[Budget] = ContextVar("baomi_budget")


@contextlib.contextmanager
def spending(budget: Budget) -> Iterator[Budget]:
    token = _BUDGET.set(budget)
    try:
        yield budget
    finally:
        _BUDGET.reset(token)


def current_budget(limit: int) -> Budget:
    """The request's budget; a fresh one of ``limit`` bytes when called outside ``spending``."""
    return _BUDGET.get(None) or Budget(limit)


# ---------------------------------------------------------------- Content-Encoding


def parse_content_encoding(values: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """All Content-Encoding header values as one list, in the order they were applied.

    >>> parse_content_encoding(["gzip, br"])
    ('gzip', 'br')
    """
    names = (name.strip().lower() for value in values for name in value.split(","))
    return tuple(_ALIASES.get(name, name) for name in names if _ALIASES.get(name, name))


def decode_content(body: bytes, codings: tuple[str, ...], limit: int) -> Decoded:
    """Undo ``codings`` (last applied is undone first). Oversize past ``limit`` bytes."""
    data, chain = body, []
    for coding in reversed(codings):
        data, applied = _decode_one(coding, data, limit)
        chain.append(applied)
    return Decoded(data, tuple(reversed(chain)))


def encode_content(data: bytes, chain: tuple[str, ...]) -> bytes:
    """Apply ``chain`` (as returned in ``Decoded.chain``) to ``data``, first one first."""
    for coding in chain:
        data = _ENCODERS[coding](data)
    return data


def _decode_one(coding: str, data: bytes, limit: int) -> tuple[bytes, str]:
    if coding == "gzip":
        return _inflate_members(data, limit), "gzip"
    if coding == "deflate":
        # RFC 9110 says zlib-wrapped; some servers and clients send raw deflate.
        wrapped = _has_zlib_header(data)
        wbits = zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS
        return _inflate_single(data, wbits, limit), "deflate" if wrapped else "deflate-raw"
    if coding == "br":
        return _unbrotli(data, limit), "br"
    if coding == "zstd":
        return _unzstd(data, limit), "zstd"
    raise Uninspectable(f"unsupported Content-Encoding {coding[:40]!r}")


def _has_zlib_header(data: bytes) -> bool:
    return len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0


class _Sink:
    """Collects decompressed output and raises Oversize the moment it passes the cap."""

    def __init__(self, limit: int):
        self.limit = limit
        self.parts: list[bytes] = []
        self.size = 0

    def room(self) -> int:
        """How much to ask for next: one byte past the cap is enough to know it is over."""
        return max(1, min(_CHUNK, self.limit - self.size + 1))

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise Oversize(f"decoded body exceeds {self.limit} bytes")
        self.parts.append(chunk)

    def data(self) -> bytes:
        return b"".join(self.parts)


def _inflate(data: bytes, wbits: int, sink: _Sink) -> bytes:
    """Inflate one zlib/gzip/raw stream into ``sink``; returns the bytes after its end."""
    inflater = zlib.decompressobj(wbits)
    pending = data
    try:
        while not inflater.eof:
            chunk = inflater.decompress(pending, sink.room())
            sink.add(chunk)
            pending = inflater.unconsumed_tail
            if not chunk and not pending:
                raise Uninspectable("truncated compressed body")
    except zlib.error as exc:
        raise Uninspectable("corrupt compressed body") from exc
    return inflater.unused_data


def _inflate_single(data: bytes, wbits: int, limit: int) -> bytes:
    sink = _Sink(limit)
    if _inflate(data, wbits, sink):
        raise Uninspectable("unexpected bytes after the compressed body")
    return sink.data()


def _inflate_members(data: bytes, limit: int) -> bytes:
    """gzip allows several members back to back (RFC 1952 2.2); decoders read all."""
    sink, rest = _Sink(limit), data
    while True:
        rest = _inflate(rest, 16 + zlib.MAX_WBITS, sink)
        if not rest:
            return sink.data()
        if not rest.startswith(_GZIP_MAGIC):
            raise Uninspectable("unexpected bytes after the compressed body")


def _unbrotli(data: bytes, limit: int) -> bytes:
    sink, decoder = _Sink(limit), brotli.Decompressor()
    try:
        # output_buffer_limit is soft (it stops growing the buffer past it): the sink
        # still sees at most one extra buffer before it raises.
        sink.add(decoder.process(data, output_buffer_limit=sink.room()))
        while not decoder.is_finished():
            chunk = decoder.process(b"", output_buffer_limit=sink.room())
            if not chunk:
                break
            sink.add(chunk)
    except brotli.error as exc:
        raise Uninspectable("corrupt compressed body") from exc
    if not decoder.is_finished():
        raise Uninspectable("truncated compressed body")
    return sink.data()


def _unzstd(data: bytes, limit: int) -> bytes:
    """Two passes: a capped stream read (stops bombs), then frame by frame to see truncation.

    zstandard's stream reader returns a truncated frame's output without an error;
    its decompressobj reports ``eof`` but has no output cap. The second pass only
    runs once the first has proven the output fits.
    """
    decompressor = zstandard.ZstdDecompressor(max_window_size=_ZSTD_MAX_WINDOW)
    sink = _Sink(limit)
    try:
        reader = decompressor.stream_reader(io.BytesIO(data), read_across_frames=True)
        while chunk := reader.read(sink.room()):
            sink.add(chunk)
        _check_zstd_frames(decompressor, data)
    except zstandard.ZstdError as exc:
        raise Uninspectable("corrupt compressed body") from exc
    return sink.data()


def _check_zstd_frames(decompressor: zstandard.ZstdDecompressor, data: bytes) -> None:
    rest = data
    while rest:
        frame = decompressor.decompressobj()
        frame.decompress(rest)
        if not frame.eof:
            raise Uninspectable("truncated compressed body")
        rest = frame.unused_data


def _gzip(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)  # mtime 0: output is reproducible
    return compressor.compress(data) + compressor.flush()


def _deflate_raw(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


_ENCODERS = {
    "gzip": _gzip,
    "deflate": zlib.compress,
    "deflate-raw": _deflate_raw,
    "br": brotli.compress,
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
}


# ---------------------------------------------------------------- charsets


def decode_text(data: bytes, declared: str | None) -> tuple[str, TextCodec]:
    """Decode with a BOM's charset, else UTF-8, else ``declared``, else GB18030.

    >>> decode_text("张三".encode("gbk"), "gbk")
    ('张三', TextCodec(name='gbk', bom=b''))

    Valid UTF-8 wins over a declared label: a label is the sender's word, and UTF-8
    bytes labelled GBK would show the detectors mojibake while a UTF-8 server reads
    names in clear. A label that is not ASCII-compatible (UTF-16 without a BOM,
    EBCDIC) is refused: ``1\x003\x00`` read as UTF-8 hides the digits, and ASCII read
    as UTF-16 turns ``13800138000`` into CJK-looking noise.
    """
    for bom, name in _BOMS:
        if data.startswith(bom) and (decoded := _decode_as(data[len(bom) :], name, bom)):
            return decoded
    label = _codec_name(declared) if declared else None
    if label and not _ascii_compatible(label):
        raise Uninspectable(f"declared charset {label[:40]!r} without a byte-order mark")
    if data.isascii():  # the common case, e.g. every urlencoded field
        return data.decode("ascii"), TextCodec(label or "utf-8")
    candidates = tuple(dict.fromkeys(("utf-8", label or "utf-8", "gb18030")))
    for name in candidates:
        if decoded := _decode_as(data, name, b""):
            return decoded
    raise Uninspectable(f"body is not text in {' / '.join(candidates)}")


@functools.lru_cache(maxsize=64)
def _ascii_compatible(name: str) -> bool:
    return _PRINTABLE_ASCII.decode("ascii").encode(name) == _PRINTABLE_ASCII


_PRINTABLE_ASCII = bytes(range(0x20, 0x7F)) + b"\t\n\r"


@functools.lru_cache(maxsize=64)
def _codec_name(label: str) -> str | None:
    try:
        return codecs.lookup(label.strip().strip("\"'")).name
    except LookupError:
        return None  # an unknown label is ignored, the fallbacks still apply


def _decode_as(data: bytes, name: str, bom: bytes) -> tuple[str, TextCodec] | None:
    codec = TextCodec(name, bom)
    try:
        text = data.decode(name)
    except UnicodeDecodeError:
        return None
    # Stateful codecs (UTF-16 without a BOM, ISO-2022) may not give the same bytes back,
    # and a rewrite must not change what it did not mask.
    return (text, codec) if codec.encode(text) == bom + data else None
