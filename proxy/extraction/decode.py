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

import array
import codecs
import functools
import io
import re
import unicodedata
import zlib
from contextvars import ContextVar
from dataclasses import dataclass

import brotli
import zstandard

from proxy.errors import Oversize, Uninspectable

_CHUNK = 64 << 10
_ZSTD_MAX_WINDOW = 1 << 24  # levels <= 19 use <= 8 MB; larger windows are refused, not honoured
_GZIP_MAGIC = b"\x1f\x8b"
_ALIASES = {"x-gzip": "gzip", "identity": ""}
BOMS = (  # longest first: the UTF-32 LE BOM starts with the UTF-16 LE one
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


def spending(budget: Budget) -> _Spending:
    """``with spending(budget):`` makes ``budget`` the request's (``current_budget``)."""
    return _Spending(budget)


class _Spending:
    """The context manager of ``spending``: a class, at a third of a generator's cost (it is
    entered for every request)."""

    __slots__ = ("budget", "token")

    def __init__(self, budget: Budget):
        self.budget = budget

    def __enter__(self) -> Budget:
        self.token = _BUDGET.set(self.budget)
        return self.budget

    def __exit__(self, *exc: object) -> None:
        _BUDGET.reset(self.token)


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
    """Decode as a receiver would read it: BOM, else UTF-16/32 by its NULs, else UTF-8,
    else ``declared``, else GB18030.

    >>> decode_text("张三".encode("gbk"), "gbk")
    ('张三', TextCodec(name='gbk', bom=b''))
    >>> decode_text("id 1".encode("utf-16-le"), "latin-1")
    ('id 1', TextCodec(name='utf-16-le', bom=b''))

    Valid UTF-8 wins over a declared label: a label is the sender's word, and UTF-8
    bytes labelled GBK would show the detectors mojibake while a UTF-8 server reads
    names in clear. For the same reason NUL bytes decide before any label: ``3\x002\x00``
    read as ASCII or Latin-1 keeps the digits apart, a receiver that sniffs the width
    (browsers, Windows tools, ``file``) reads "32" (``sniff_wide``; other NULs stay in the
    text and the detectors drop them). UTF-8 with overlong forms (``\xc0\xb3`` for "3")
    is Uninspectable (``refuse_overlong`` says why). A label that is not ASCII-compatible
    (UTF-16 without a BOM or NULs, EBCDIC) is refused: ASCII read as UTF-16 turns
    ``13800138000`` into CJK noise.
    """
    decoded = text_of(data, declared)
    if decoded is None:
        charsets = ("utf-8", *_fallbacks(_codec_name(declared) if declared else None))
        raise Uninspectable(f"body is not text in {' / '.join(charsets)}")
    return decoded


def text_of(data: bytes, declared: str | None) -> tuple[str, TextCodec] | None:
    r"""``decode_text``, but None where it would raise "not text": most bytes decoded from
    base64-looking junk are neither UTF-8 nor GB18030, and saying so raises no exception.
    Still raises Uninspectable for a label that is not ASCII-compatible and overlong UTF-8.

    >>> text_of(b"H\xef\xb6\xd3n\xbe", None) is None, text_of(b"id 1", None)[0]
    (True, 'id 1')
    """
    if data.startswith(_BOM_BYTES):
        for bom, name in BOMS:
            if data.startswith(bom) and (decoded := _decode_as(data[len(bom) :], name, bom)):
                return decoded
    if b"\x00" in data and (wide := _decode_wide(data)):
        return wide
    if declared is None and b"<" in data[:_IN_DOCUMENT]:
        declared = in_document_charset(data)
    label = _codec_name(declared) if declared else None
    if label and not _ascii_compatible(label):
        raise Uninspectable(f"declared charset {label[:40]!r} without a byte-order mark")
    if data.isascii():  # the common case, e.g. every urlencoded field
        if b"\x1b" in data or b"~{" in data:
            return _seven_bit(data, label)
        return data.decode("ascii"), TextCodec(label or "utf-8")
    if decoded := _decode_as(data, "utf-8", b""):
        return decoded
    refuse_overlong(data)
    for name in _fallbacks(label):
        if decoded := _decode_as(data, name, b""):
            return decoded
    return None


_IN_DOCUMENT = 1024  # where HTML's <meta charset> must be (WHATWG: the first 1024 bytes)
_DOCUMENT_CHARSET = re.compile(
    rb"<\?xml[^>]{0,200}?encoding\s*=\s*[\"']([A-Za-z0-9._:-]{1,40})"
    rb"|<meta[^>]{0,300}?charset\s*=\s*[\"']?([A-Za-z0-9._:-]{1,40})", re.IGNORECASE)


def in_document_charset(data: bytes) -> str | None:
    """The charset an HTML ``<meta>`` or an XML declaration names, as browsers and XML
    parsers read it when the Content-Type names none.

    >>> in_document_charset(b'<html><meta charset="big5">'), in_document_charset(b"<p>hi</p>")
    ('big5', None)
    >>> in_document_charset(b"<?xml version='1.0' encoding='IBM500'?>")
    'IBM500'
    """
    found = _DOCUMENT_CHARSET.search(data, 0, _IN_DOCUMENT)
    if found is None:
        return None
    return (found.group(1) or found.group(2)).decode("ascii")


# 7-bit charsets that switch with escapes: the bytes are ASCII, the text is not. Their
# escapes (RFC 1468, 1557, 1922; HZ: RFC 1843) name the charset when no label does.
_SEVEN_BIT = {"iso2022_jp", "iso2022_jp_1", "iso2022_jp_2", "iso2022_jp_2004", "iso2022_jp_3",
              "iso2022_jp_ext", "iso2022_kr", "hz"}
_ESCAPES = ((b"\x1b$)C", "iso2022_kr"), (b"\x1b$)A", None), (b"\x1b$)G", None), (b"\x1b$*H", None),
            (b"\x1b$", "iso2022_jp_2"), (b"\x1b(", "iso2022_jp_2"), (b"~{", "hz"))


def _seven_bit(data: bytes, label: str | None) -> tuple[str, TextCodec]:
    """ASCII bytes with ISO-2022 or HZ escapes: the text a receiver decodes, by the label
    or by the escapes. ISO-2022-CN (``ESC $ ) A``) has no Python codec: Uninspectable.

    >>> _seven_bit("１３".encode("iso2022_jp"), None)[0], _seven_bit("１３".encode("hz"), None)[0]
    ('１３', '１３')
    >>> _seven_bit(b"a ~{ b", None)[0]  # not HZ: read as it is
    'a ~{ b'
    """
    names = [label] if label in _SEVEN_BIT else []
    for escape, name in _ESCAPES:
        if escape in data:
            if name is None:
                raise Uninspectable("ISO-2022-CN text (no decoder)")
            names.append(name)
    for name in dict.fromkeys(names):
        if decoded := _decode_as(data, name, b""):
            return decoded
    if names and b"\x1b" in data:
        raise Uninspectable("ISO-2022 escapes that do not decode")
    return data.decode("ascii"), TextCodec(label or "utf-8")


def _fallbacks(label: str | None) -> tuple[str, ...]:
    """The charsets tried after UTF-8: the declared one, then GB18030."""
    if label is None:
        return _GB18030
    return tuple(dict.fromkeys(n for n in (label, "gb18030") if n and n != "utf-8"))


_BOM_BYTES = tuple(bom for bom, _ in BOMS)
_GB18030 = ("gb18030",)


# ------------------------------------------------ UTF-16/32 without a byte-order mark

_ODD_SHARE = 100  # more than 1 in 100 odd characters: not text
# Control, private-use, unassigned and surrogate characters. Format characters (Cf: zero-width
# and the like) are not odd: an evader can add any number of them, and the detector drops them.
_ODD_CATEGORIES = frozenset({"Cc", "Co", "Cn", "Cs"})
_SAMPLE = 65536


def is_text_like(text: str) -> bool:
    r"""At most 1 in 100 characters control (but tab/newline), private-use or unassigned.

    >>> is_text_like("张三 13800138000"), is_text_like("\ue000\x01abc")
    (True, False)
    >>> is_text_like("1\x003\x008")  # NULs are not counted: the detectors drop them
    True
    """
    sample = text[:_SAMPLE]
    nuls = sample.count("\x00")
    odd = sum(
        1 for ch in sample if ch not in "\t\n\r\x00" and unicodedata.category(ch) in _ODD_CATEGORIES
    )
    return odd * _ODD_SHARE <= len(sample) - nuls


def sniff_wide(data: bytes) -> str | None:
    """The UTF-16/32 byte order NUL bytes point to, or None (no NULs, or no clear pattern).

    >>> sniff_wide("13800138000".encode("utf-16-be")), sniff_wide("张三 1".encode("utf-32-le"))
    ('utf-16-be', 'utf-32-le')

    ASCII and Latin characters have a NUL high byte, so NULs gather on one side of each
    code unit; CJK units rarely hold one. NULs on both sides (more than 1 in 4 on the
    lesser side) fit no single width: binary, or bytes built to read differently.
    """
    if b"\x00" not in data:
        return None
    if len(data) % 4 == 0:
        if not any(data[3::4]) and max(data[2::4]) <= 0x10:  # code points <= U+10FFFF
            return "utf-32-le"
        if not any(data[0::4]) and max(data[1::4]) <= 0x10:
            return "utf-32-be"
    if len(data) % 2:
        return None
    # NUL characters (two NUL bytes) fit either order: only units with one NUL byte count.
    nul_units = array.array("H", data).count(0)
    low, high = data[0::2].count(0) - nul_units, data[1::2].count(0) - nul_units
    if not max(low, high) or min(low, high) * 4 > max(low, high):
        return None
    return "utf-16-le" if high > low else "utf-16-be"


def _decode_wide(data: bytes) -> tuple[str, TextCodec] | None:
    """UTF-16/32 text by its NULs, or None.

    None leaves the bytes to the narrow charsets with their NULs in the text: the detectors
    drop NULs (``detectors.normalize``), so digits that any wide reading would show as one
    run (``3\x002\x00`` -> "32") are one run there too; binary stays binary to extraction.
    """
    name = sniff_wide(data)
    decoded = _decode_as(data, name, b"") if name else None
    return decoded if decoded and is_text_like(decoded[0]) else None


# ------------------------------------------------ overlong UTF-8

# Two-, three- and four-byte forms of code points that have a shorter one (RFC 3629 section 3
# forbids decoding them). Every match here stands for an ASCII character.
# Lead byte first, as one class: re then skips to candidate bytes (7x faster on GBK text).
_OVERLONG = re.compile(
    rb"[\xc0\xc1\xe0\xf0](?:(?<=[\xc0\xc1])[\x80-\xbf]|(?<=\xe0)[\x80-\x9f][\x80-\xbf]"
    rb"|(?<=\xf0)[\x80-\x8f][\x80-\xbf]{2})"
)
# A run of letters and digits, some of them overlong: what an ID hidden this way looks like.
_OVERLONG_RUN = re.compile(rb"(?:%s|[0-9A-Za-z])+" % _OVERLONG.pattern)
# Two overlong forms with only letters and digits between: rare, so the runs are rarely scanned.
_OVERLONG_PAIR = re.compile(rb"(?:%s)[0-9A-Za-z]*(?:%s)" % (_OVERLONG.pattern, _OVERLONG.pattern))
_MIN_RUN, _MIN_OVERLONG = 6, 2


def refuse_overlong(data: bytes) -> None:
    """Uninspectable when a lenient UTF-8 decoder would read hidden ASCII.

    Refused rather than decoded: no encoder writes overlong forms (their only use is to get
    past filters, e.g. ``%c0%af`` in the IIS traversal), a lenient decoder maps ``\xc0\xb3``
    to "3" while GB18030 reads the same bytes as "莱", and a masked rewrite could not keep
    the sender's bytes. Two cases:
    - the bytes are UTF-8 but for overlong forms: refused;
    - otherwise (GB18030 text, where C0/C1 lead ideographs such as 来 and 拉), a run of 6+
      letters and digits with 2+ overlong among them: refused. Chinese text does not put
      ideographs from that one row between digits; a hidden number must.
    """
    if not _OVERLONG.search(data):  # never matches valid UTF-8: cheap on clean traffic
        return
    if is_overlong_utf8(data):
        raise Uninspectable("overlong UTF-8 forms in text")
    if not _OVERLONG_PAIR.search(data):
        return
    for run in _OVERLONG_RUN.finditer(data):
        forms = len(_OVERLONG.findall(run.group()))
        plain_chars = len(run.group()) - sum(len(f) for f in _OVERLONG.findall(run.group()))
        if forms >= _MIN_OVERLONG and forms + plain_chars >= _MIN_RUN:
            raise Uninspectable("overlong UTF-8 forms hiding letters or digits")


def is_overlong_utf8(data: bytes) -> bool:
    r"""UTF-8 but for overlong forms: what a lenient decoder reads as text, and no binary is.

    >>> is_overlong_utf8(b"\xc0\xb3\xc0\xb2 ok"), is_overlong_utf8("张三".encode("gbk"))
    (True, False)
    """
    try:
        data.decode("utf-8")
        return False  # strict UTF-8 has no overlong forms
    except UnicodeDecodeError as error:
        if not _OVERLONG.match(data, error.start):  # GB18030 text fails here, at once
            return False
    # Any ASCII stand-in will do: only whether the rest is UTF-8 matters.
    return _decode_as(_OVERLONG.sub(b"a", data), "utf-8", b"") is not None


# ------------------------------------------------ helpers


@functools.lru_cache(maxsize=64)
def _ascii_compatible(name: str) -> bool:
    try:
        return _PRINTABLE_ASCII.decode("ascii").encode(name) == _PRINTABLE_ASCII
    except (UnicodeError, LookupError):  # no '%' in cp864; base64, zlib, rot13: not text
        return False


_PRINTABLE_ASCII = bytes(range(0x20, 0x7F)) + b"\t\n\r"


@functools.lru_cache(maxsize=64)
def _codec_name(label: str) -> str | None:
    try:
        return codecs.lookup(label.strip().strip("\"'")).name
    except LookupError:
        return None  # an unknown label is ignored, the fallbacks still apply


def _decode_as(data: bytes, name: str, bom: bytes) -> tuple[str, TextCodec] | None:
    if name == "utf-8":  # one-to-one: valid UTF-8 encodes back to the same bytes
        text = _utf8(data)
        return None if text is None else (text, TextCodec(name, bom))
    if name == "gb18030":
        # Decoded junk is mostly not GB18030: most of it is not even shaped like it, and
        # for the rest decoding skips what is not GB18030 and the comparison below tells
        # (no text encodes to bytes that are not): no exception either way.
        if not _GB18030_SHAPE.fullmatch(data):
            return None
        text = data.decode(name, "ignore")
    else:
        try:
            text = data.decode(name)
        except UnicodeDecodeError:
            return None
    # Stateful codecs (UTF-16 without a BOM, ISO-2022) may not give the same bytes back,
    # or none at all (b"\x1b\x80" from ISO-2022-JP is text it cannot encode), and a
    # rewrite must not change what it did not mask.
    codec = TextCodec(name, bom)
    try:
        return (text, codec) if codec.encode(text) == bom + data else None
    except UnicodeEncodeError:
        return None


_REPLACEMENT = "\ufffd".encode()
# Every GB18030 byte string has this shape (a superset: some 4-byte codes are unassigned):
# one byte 00-80, a lead 81-FE then a trail 40-7E/80-FE, or 81-FE 30-39 81-FE 30-39.
_GB18030_SHAPE = re.compile(
    rb"(?:[\x00-\x80]|[\x81-\xfe](?:[\x40-\x7e\x80-\xfe]|[\x30-\x39][\x81-\xfe][\x30-\x39]))*"
)


def _utf8(data: bytes) -> str | None:
    r"""``data`` as UTF-8, or None when it is not (without raising: junk is common here).

    >>> _utf8("张 \ufffd".encode()), _utf8(b"\xef\xbf\xbd\xe0"), _utf8(b"\xc0\xb3")
    ('张 \ufffd', None, None)

    Each invalid piece becomes one more U+FFFD than the bytes spell (EF BF BD is never
    part of an invalid piece: EF is no continuation byte and starts a valid sequence).
    """
    text = data.decode("utf-8", "replace")
    if "\ufffd" in text and text.count("\ufffd") != data.count(_REPLACEMENT):
        return None
    return text


# ---------------------------------------------------------------- header fields

# obs-fold (RFC 9112 section 5.2): a line break followed by spaces or tabs continues the value.
# mitmproxy keeps it in the value as "\r\n " (net/http/http1/read.py, _read_headers).
_OBS_FOLD = re.compile(r"\r?\n[ \t]+")
# Control characters but tab (RFC 9110 section 5.5 field-vchar); CR and LF outside a fold.
_HEADER_CONTROLS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def header_text(name: str, value: str) -> str:
    """A header value as a receiver reads it; Uninspectable for control characters.

    >>> header_text("X-Customer-Id", "320582\\r\\n 198604230513")
    '320582198604230513'

    A fold is removed whole (line break and indent): receivers join the lines with
    nothing or one space, and the detectors find a number written either way when it
    is written whole. A NUL or other control character splits a value differently for
    every parser (C string handling stops at NUL, some servers drop it), so the request
    cannot be inspected as any one receiver reads it.
    """
    if value.isascii() and value.isprintable() and name.isascii() and name.isprintable():
        return value  # most headers: no fold (CR, LF) and no control character to look for
    unfolded = _OBS_FOLD.sub("", value)
    if _HEADER_CONTROLS.search(name) or _HEADER_CONTROLS.search(unfolded):
        raise Uninspectable("control characters in a request header")
    return _escaped_bytes(unfolded) if _SURROGATE_ESCAPES.search(unfolded) else unfolded


# mitmproxy gives header bytes that are not UTF-8 as lone surrogates (surrogateescape).
_SURROGATE_ESCAPES = re.compile("[\udc80-\udcff]")


def _escaped_bytes(value: str) -> str:
    r"""Header bytes that are not UTF-8, read as GB18030 (what a Chinese server reads; no
    charset is ever declared for a header), else left as they came.

    >>> _escaped_bytes("１３".encode("gbk").decode("utf-8", "surrogateescape"))
    '１３'
    """
    data = value.encode("utf-8", "surrogateescape")
    decoded = _decode_as(data, "gb18030", b"")
    return decoded[0] if decoded else value
