"""Images: their text metadata as segments, and a count of images whose pixels went uninspected.

    with counting() as seen:
        view = handlers(open_entry)[JPEG](photo, "multipart:photo.jpg", 1, limits)
    [(s.location, s.text) for s in view.segments]
      -> [("multipart:photo.jpg:exif:Artist", "张三"), ("multipart:photo.jpg:comment", "...")]
    seen.count -> 1

What is read, by type (sniffed from the bytes):

    PNG    tEXt / zTXt / iTXt chunks (``text:<keyword>``), eXIf (``exif:<tag>``), XMP
    JPEG   APP1 EXIF and XMP, COM segments (``comment``), APP13 IPTC (``iptc``)
    GIF    comment extensions, XMP application extension
    WebP   EXIF and XMP chunks
    TIFF   every text tag of its IFDs (the file is its own EXIF)
    HEIC   / AVIF: printable strings of the file (their EXIF sits in item boxes)

EXIF: every ASCII tag of IFD0, the EXIF IFD and IFD1 by name (Artist, ImageDescription,
Copyright, CameraOwnerName...; unknown ones as ``tag0x…``), UserComment (ASCII /
UNICODE / JIS), the Windows XP tags (XPComment, XPAuthor... UTF-16LE). XMP: each
element's text and attribute by local name (``xmp:creator``). Bytes after the image's
end marker (a ZIP or text appended to a JPEG) are opened like an uploaded file at
``<label>:trailing``.

Hand-written rather than Pillow: only the container structure is walked (chunk and
segment lengths, IFD offsets), pixels are never decoded, so there is no decompression
bomb to cap beyond zTXt/iTXt (capped by the request's Budget) and no new dependency.
A structure that does not hold together (a length past the end, an IFD outside the
file) is Uninspectable. Images cannot be rewritten: masking raises CannotMask.
"""

from __future__ import annotations

import contextlib
import re
import struct
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass

import defusedxml.ElementTree as SafeXml

from detectors.model import Segment
from proxy.errors import InspectionError, Uninspectable
from proxy.extraction.datanames import is_data_key
from proxy.extraction.decode import current_budget, decode_content
from proxy.extraction.documents import OpenEntry, document_view
from proxy.extraction.fieldwords import words
from proxy.extraction.layers import View
from proxy.extraction.limits import Limits
from proxy.extraction.strings import printable_runs

PNG, JPEG, GIF, WEBP, TIFF, HEIC = (
    "image/png", "image/jpeg", "image/gif", "image/webp", "image/tiff", "image/heic",
)
_EXTENSIONS = {
    PNG: ("png", (".png",)),
    JPEG: ("jpeg", (".jpg", ".jpeg", ".jfif")),
    GIF: ("gif", (".gif",)),
    WEBP: ("webp", (".webp",)),
    TIFF: ("tiff", (".tif", ".tiff", ".dng")),
    HEIC: ("heic", (".heic", ".heif", ".avif")),
}
_HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"}

Piece = tuple[str, str]  # (location suffix, text)
Handler = Callable[[bytes, str, int, Limits], View]


def sniff(data: bytes) -> str | None:
    """>>> sniff(b"\\x89PNG\\r\\n\\x1a\\n..."), sniff(b"GIF89a..."), sniff(b"hello")
    ('image/png', 'image/gif', None)
    """
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return WEBP
    if data.startswith((b"II*\x00", b"MM\x00*")):
        return TIFF
    if data[4:8] == b"ftyp" and data[8:12] in _HEIC_BRANDS:
        return HEIC
    return None


# ---------------------------------------------------------------- the count


@dataclass(slots=True)
class ImageCount:
    count: int = 0


_COUNT: ContextVar[ImageCount] = ContextVar("baomi_images")


@contextlib.contextmanager
def counting() -> Iterator[ImageCount]:
    """Images seen while extracting one request (set around ``extract``, like the Budget)."""
    count = ImageCount()
    token = _COUNT.set(count)
    try:
        yield count
    finally:
        _COUNT.reset(token)


def _note_image() -> None:
    count = _COUNT.get(None)
    if count is not None:
        count.count += 1


# ---------------------------------------------------------------- handlers


def handlers(open_entry: OpenEntry) -> dict[str, Handler]:
    """Handlers by media type for ``proxy.extraction.extract.BINARY_HANDLERS``."""

    def handler_for(media: str) -> Handler:
        def handler(data: bytes, label: str, depth: int, limits: Limits) -> View:
            return _image_view(media, data, label, depth, limits, open_entry)

        return handler

    table = {media: handler_for(media) for media in _EXTENSIONS}
    table.update({"image/jpg": table[JPEG], "image/pjpeg": table[JPEG], "image/avif": table[HEIC],
                  "image/heif": table[HEIC]})
    return table


def _image_view(
    media: str, data: bytes, label: str, depth: int, limits: Limits, open_entry: OpenEntry
) -> View:
    if sniff(data) != media:
        raise Uninspectable(f"declared {media} is not that kind of image")
    _note_image()
    kind, suffixes = _EXTENSIONS[media]
    where = label if label.lower().endswith(suffixes) else f"{label}:{kind}"
    try:
        pieces, trailer = _PARSERS[media](data)
    except InspectionError:
        raise
    except (struct.error, IndexError, ValueError) as exc:
        raise Uninspectable(f"unreadable {kind} image ({type(exc).__name__})") from None
    budget = current_budget(limits.max_decoded_bytes)
    budget.spend(sum(len(text) for _, text in pieces), f"{kind} metadata")
    segments = [
        Segment(text, f"{where}:{name}", words(name.rpartition(":")[2]))
        for name, text in pieces
        if text.strip()
    ]
    if trailer.strip(b"\x00"):
        view = open_entry(trailer, "trailing", f"{where}:trailing", depth + 1, limits)
        segments += view.segments if view else ()
    return document_view(tuple(segments), kind)


def _corrupt(kind: str) -> Uninspectable:
    return Uninspectable(f"corrupt {kind} image structure")


# ---------------------------------------------------------------- PNG


def _png(data: bytes) -> tuple[list[Piece], bytes]:
    pieces: list[Piece] = []
    pos = 8
    while True:
        if pos + 12 > len(data):
            raise _corrupt("PNG")
        length, ctype = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if len(body) != length or pos + 12 + length > len(data):
            raise _corrupt("PNG")
        pos += 12 + length
        if ctype == b"IEND":
            return pieces, data[pos:]
        pieces += _png_chunk(ctype, body)


def _png_chunk(ctype: bytes, body: bytes) -> list[Piece]:
    if ctype == b"eXIf":
        return _exif(body)
    if ctype not in (b"tEXt", b"zTXt", b"iTXt"):
        return []
    keyword, _, rest = body.partition(b"\x00")
    name = _name(keyword.decode("latin-1"))
    if ctype == b"tEXt":
        return [(f"text:{name}", _text(rest))]
    if ctype == b"zTXt":
        return [(f"text:{name}", _text(_inflate(rest[1:])))]
    compressed, rest = rest[:1] == b"\x01", rest[2:]
    _language, _, rest = rest.partition(b"\x00")
    _translated, _, text = rest.partition(b"\x00")
    raw = _inflate(text) if compressed else text
    if keyword == b"XML:com.adobe.xmp":
        return _xmp(raw)
    return [(f"text:{name}", raw.decode("utf-8", "replace"))]


def _inflate(data: bytes) -> bytes:
    return decode_content(data, ("deflate",), max(current_budget(0).left, 0)).data


# ---------------------------------------------------------------- JPEG

_XMP_APP1 = b"http://ns.adobe.com/xap/1.0/\x00"
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def _jpeg(data: bytes) -> tuple[list[Piece], bytes]:
    pieces: list[Piece] = []
    pos = 2
    while pos < len(data):
        if data[pos] != 0xFF:
            raise _corrupt("JPEG")
        while pos + 1 < len(data) and data[pos + 1] == 0xFF:  # fill bytes
            pos += 1
        if pos + 1 >= len(data):
            break
        marker = data[pos + 1]
        if marker == 0xD9:  # end of image
            return pieces, data[pos + 2 :]
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        segment = data[pos + 4 : pos + 2 + length]
        if length < 2 or len(segment) != length - 2:
            raise _corrupt("JPEG")
        pieces += _jpeg_segment(marker, segment)
        pos += 2 + length
        if marker == 0xDA:  # entropy-coded data runs to the next real marker
            found = _NEXT_MARKER.search(data, pos)
            if found is None:
                break  # truncated scan: nothing after it to read
            pos = found.start()
    return pieces, b""


def _jpeg_segment(marker: int, segment: bytes) -> list[Piece]:
    if marker == 0xE1 and segment.startswith(b"Exif\x00\x00"):
        return _exif(segment[6:])
    if marker == 0xE1 and segment.startswith(_XMP_APP1):
        return _xmp(segment[len(_XMP_APP1) :])
    if marker == 0xFE:
        return [("comment", _text(segment))]
    if marker == 0xED:  # APP13: Photoshop resources holding IPTC captions, bylines, keywords
        return [("iptc", "\n".join(printable_runs(segment)))]
    return []


# ---------------------------------------------------------------- GIF


def _gif(data: bytes) -> tuple[list[Piece], bytes]:
    pieces: list[Piece] = []
    flags = data[10]
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    while True:
        if pos >= len(data):
            raise _corrupt("GIF")
        block = data[pos]
        if block == 0x3B:  # trailer
            return pieces, data[pos + 1 :]
        if block == 0x21:
            label, start = data[pos + 1], pos + 2
            content, pos = _sub_blocks(data, start)
            if label == 0xFE:
                pieces.append(("comment", _text(content)))
            elif label == 0xFF and content.startswith(b"XMP DataXMP"):
                # Writers put the packet raw (its bytes read as sub-block lengths, closed by a
                # "magic trailer"), so the packet is the raw bytes, not the joined sub-blocks.
                raw = re.search(rb"<x:xmpmeta.*</x:xmpmeta>", data[start + 12 : pos], re.DOTALL)
                pieces += _xmp(raw.group() if raw else content[11:])
        elif block == 0x2C:  # image: descriptor, local colour table, LZW data
            flags = data[pos + 9]
            pos += 10 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0) + 1
            _, pos = _sub_blocks(data, pos)
        else:
            raise _corrupt("GIF")


def _sub_blocks(data: bytes, pos: int) -> tuple[bytes, int]:
    """GIF data sub-blocks (length byte, bytes) up to the empty one; (content, next pos)."""
    out: list[bytes] = []
    while True:
        if pos >= len(data):
            raise _corrupt("GIF")
        size = data[pos]
        if size == 0:
            return b"".join(out), pos + 1
        out.append(data[pos + 1 : pos + 1 + size])
        pos += 1 + size


# ---------------------------------------------------------------- WebP, TIFF, HEIC


def _webp(data: bytes) -> tuple[list[Piece], bytes]:
    (size,) = struct.unpack("<I", data[4:8])
    end = 8 + size
    if end > len(data):
        raise _corrupt("WebP")
    pieces: list[Piece] = []
    pos = 12
    while pos + 8 <= end:
        fourcc, length = struct.unpack("<4sI", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if pos + 8 + length > end:
            raise _corrupt("WebP")
        if fourcc == b"EXIF":
            pieces += _exif(body[6:] if body.startswith(b"Exif\x00\x00") else body)
        elif fourcc == b"XMP ":
            pieces += _xmp(body)
        pos += 8 + length + (length & 1)
    return pieces, data[end:]


def _tiff(data: bytes) -> tuple[list[Piece], bytes]:
    return _exif(data), b""


def _heic(data: bytes) -> tuple[list[Piece], bytes]:
    return [("strings", "\n".join(printable_runs(data)))], b""


# ---------------------------------------------------------------- EXIF (TIFF structure)

_EXIF_TAGS = {
    0x010D: "DocumentName", 0x010E: "ImageDescription", 0x010F: "Make", 0x0110: "Model",
    0x011D: "PageName", 0x0131: "Software", 0x013B: "Artist", 0x013C: "HostComputer",
    0x8298: "Copyright", 0x9286: "UserComment", 0x9C9B: "XPTitle", 0x9C9C: "XPComment",
    0x9C9D: "XPAuthor", 0x9C9E: "XPKeywords", 0x9C9F: "XPSubject", 0xA420: "ImageUniqueID",
    0xA430: "CameraOwnerName", 0xA431: "BodySerialNumber", 0xA433: "LensMake",
    0xA434: "LensModel", 0xA435: "LensSerialNumber",
}
_SUB_IFDS = {0x8769, 0xA005}  # EXIF IFD, interoperability IFD (GPS holds no text we detect)
_XP_TAGS = range(0x9C9B, 0x9CA0)
_XMP_TAG = 700
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8}
_MAX_IFDS = 16
_MAX_IFD_ENTRIES = 4096


def _exif(tiff: bytes) -> list[Piece]:
    if tiff[:4] == b"II*\x00":
        order = "<"
    elif tiff[:4] == b"MM\x00*":
        order = ">"
    else:
        raise _corrupt("EXIF")
    pieces: list[Piece] = []
    (first,) = struct.unpack(order + "I", tiff[4:8])
    queue, seen = [first], set()
    while queue:
        offset = queue.pop(0)
        if offset == 0 or offset in seen:
            continue
        seen.add(offset)
        if len(seen) > _MAX_IFDS:
            raise _corrupt("EXIF")
        queue += _ifd(tiff, offset, order, pieces, first_ifd=offset == first)
    return pieces


def _ifd(tiff: bytes, offset: int, order: str, pieces: list[Piece], first_ifd: bool) -> list[int]:
    """Read one IFD's text tags into ``pieces``; returns the IFD offsets it points to."""
    (count,) = struct.unpack(order + "H", tiff[offset : offset + 2])
    end = offset + 2 + 12 * count
    if count > _MAX_IFD_ENTRIES or end + 4 > len(tiff):
        raise _corrupt("EXIF")
    more = []
    for at in range(offset + 2, end, 12):
        tag, kind, n, field = struct.unpack(order + "HHI4s", tiff[at : at + 12])
        if tag in _SUB_IFDS:
            more.append(struct.unpack(order + "I", field)[0])
            continue
        size = _TYPE_SIZES.get(kind, 1) * n
        if size <= 4:
            value = field[:size]
        else:
            (start,) = struct.unpack(order + "I", field)
            value = tiff[start : start + size]
            if len(value) != size:
                continue  # a value outside the file: no reader sees it either
        pieces += _tag_text(tag, kind, value, order)
    if first_ifd:  # IFD0 links to IFD1 (the thumbnail's tags)
        more.append(struct.unpack(order + "I", tiff[end : end + 4])[0])
    return more


def _tag_text(tag: int, kind: int, value: bytes, order: str) -> list[Piece]:
    name = _EXIF_TAGS.get(tag, f"tag0x{tag:04x}")
    if tag == _XMP_TAG:
        return _xmp(value)
    if tag == 0x9286:
        return [(f"exif:{name}", _user_comment(value, order))]
    if tag in _XP_TAGS:
        return [(f"exif:{name}", value.decode("utf-16-le", "replace").rstrip("\x00"))]
    if kind == 2:
        return [(f"exif:{name}", _text(value.split(b"\x00", 1)[0]))]
    return []


def _user_comment(value: bytes, order: str) -> str:
    """EXIF 2.3 UserComment: an 8-byte character code, then the text."""
    code, text = value[:8], value[8:]
    if code.startswith(b"UNICODE"):
        return text.decode("utf-16-le" if order == "<" else "utf-16-be", "replace").strip("\x00")
    if code.startswith(b"JIS"):
        return text.decode("shift_jis", "replace").strip("\x00")
    return _text(text.strip(b"\x00 "))


# ---------------------------------------------------------------- XMP and text


def _xmp(packet: bytes) -> list[Piece]:
    """Each element's text and each plain attribute, by local name; unreadable XML as text."""
    try:
        root = SafeXml.fromstring(packet.strip(b"\x00 \r\n\t"))
    except Exception:  # noqa: BLE001 - defusedxml refusals, expat errors: keep the text instead
        return [("xmp", _text(packet))]
    pieces: list[Piece] = []
    for node in root.iter():
        local = _local(node.tag)
        if node.text and node.text.strip():
            pieces.append((f"xmp:{local}", node.text.strip()))
        for key, value in node.attrib.items():
            if "rdf-syntax-ns" not in key and "xmlns" not in key and value.strip():
                pieces.append((f"xmp:{_local(key)}", value))
    return pieces


def _local(tag: object) -> str:
    return _name(str(tag).rpartition("}")[2])


_SAFE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9 _.-]{0,39}\Z")


def _name(name: str) -> str:
    """A keyword or tag name fit for a location: locations are logged, values are not (nor
    a name that may be data: ``datanames.is_data_key``, e.g. a keyword "Alice Walker")."""
    if _SAFE_NAME.match(name) and not re.search(r"\d{5}", name) and not is_data_key(name):
        return name
    return "other"


def _text(raw: bytes) -> str:
    """EXIF says ASCII and PNG says Latin-1, but writers put UTF-8 (or GB18030) there."""
    for charset in ("utf-8", "gb18030"):
        try:
            return raw.decode(charset)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


_PARSERS: dict[str, Callable[[bytes], tuple[list[Piece], bytes]]] = {
    PNG: _png, JPEG: _jpeg, GIF: _gif, WEBP: _webp, TIFF: _tiff, HEIC: _heic,
}
