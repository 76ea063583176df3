"""Compressed files and tar archives sent as bodies or parts: gzip, bzip2, xz, tar.

    handler = handlers(open_entry)[GZIP]
    [s.location for s in handler(gzip.compress(csv), "multipart:orders.csv.gz", 1, limits).segments]
      -> ["multipart:orders.csv.gz:csv:row1", "multipart:orders.csv.gz:csv:row2"]

The type comes from the bytes (``sniff``), whatever the label says: gzip ``1f 8b``,
bzip2 ``BZh``, xz ``fd 37 7a 58 5a 00``, tar ``ustar`` at offset 257 with a valid
header checksum. 7z and RAR are recognised and refused (no stdlib reader; RAR and 7z
archives are often encrypted). A compressed file is opened like an uploaded file
named after its label without the ``.gz``/``.bz2``/``.xz`` suffix (``orders.csv.gz``
opens as ``orders.csv``; a tar inside opens as a tar); tar members become
``<label>:tar:<member path>``.

Caps: decompression stops at the request's Budget (Oversize); more than
``documents.MAX_ENTRIES`` tar members or a compressed file expanding more than
``documents.MAX_RATIO`` times past ``documents.RATIO_FLOOR`` -> Oversize; corrupt or
truncated data -> Uninspectable. A gzip/bzip2/xz file whose content can be masked is
compressed again after masking; a tar cannot be rewritten (CannotMask -> block).
"""

from __future__ import annotations

import bz2
import io
import lzma
import re
import tarfile
from collections.abc import Callable
from dataclasses import dataclass

from detectors.model import Segment
from proxy.errors import Oversize, Uninspectable
from proxy.extraction.decode import Budget, current_budget, decode_content, encode_content
from proxy.extraction.documents import MAX_ENTRIES, MAX_RATIO, RATIO_FLOOR, OpenEntry, document_view
from proxy.extraction.layers import Edit, View
from proxy.extraction.limits import Limits

GZIP, BZIP2, XZ = "application/gzip", "application/x-bzip2", "application/x-xz"
TAR, SEVEN_ZIP, RAR = "application/x-tar", "application/x-7z-compressed", "application/vnd.rar"
_SUFFIXES = {GZIP: (".gz", ".tgz"), BZIP2: (".bz2", ".tbz2"), XZ: (".xz", ".txz")}
_KINDS = {GZIP: "gzip", BZIP2: "bzip2", XZ: "xz"}
_CHUNK = 64 << 10

Handler = Callable[[bytes, str, int, Limits], View]


def sniff(data: bytes) -> str | None:
    """>>> sniff(gzip.compress(b"x")), sniff(b"name,phone")
    ('application/gzip', None)
    """
    if data.startswith(b"\x1f\x8b"):
        return GZIP
    if re.match(rb"BZh[1-9]1AY&SY", data):
        return BZIP2
    if data.startswith(b"\xfd7zXZ\x00"):
        return XZ
    if data.startswith(b"7z\xbc\xaf\x27\x1c"):
        return SEVEN_ZIP
    if data.startswith(b"Rar!\x1a\x07"):
        return RAR
    if data[257:262] == b"ustar" and _tar_checksum_ok(data[:512]):
        return TAR
    return None


def _tar_checksum_ok(header: bytes) -> bool:
    """A text that happens to hold "ustar" at 257 is not a tar: the header sum must match."""
    try:
        stored = int(header[148:156].replace(b"\x00", b" ").strip() or b"-1", 8)
    except ValueError:
        return False
    unsigned = sum(header[:148]) + sum(header[156:]) + 8 * 0x20
    return len(header) == 512 and stored == unsigned


def handlers(open_entry: OpenEntry) -> dict[str, Handler]:
    """Handlers by media type for ``proxy.extraction.extract.BINARY_HANDLERS``."""

    def compressed(kind: str) -> Handler:
        def handler(data: bytes, label: str, depth: int, limits: Limits) -> View:
            return _compressed_view(kind, data, label, depth, limits, open_entry)

        return handler

    def tar(data: bytes, label: str, depth: int, limits: Limits) -> View:
        return _tar_view(data, label, depth, limits, open_entry)

    def refused(data: bytes, label: str, depth: int, limits: Limits) -> View:
        raise Uninspectable("7z and RAR archives are not inspected")

    table: dict[str, Handler] = {kind: compressed(kind) for kind in _KINDS}
    table.update({
        "application/x-gzip": table[GZIP],
        TAR: tar,
        SEVEN_ZIP: refused,
        RAR: refused,
        "application/x-rar-compressed": refused,
    })
    return table


# ---------------------------------------------------------------- gzip, bzip2, xz


@dataclass(frozen=True, slots=True, repr=False)  # holds raw data
class _Compressed:
    """A compressed file around one view; masked content is compressed the same way again."""

    child: View
    recompress: Callable[[bytes], bytes]

    @property
    def segments(self) -> tuple[Segment, ...]:
        return self.child.segments

    def render(self, edits: tuple[tuple[Edit, ...], ...]) -> bytes:
        return self.recompress(self.child.render(edits))


def _compressed_view(
    kind: str, data: bytes, label: str, depth: int, limits: Limits, open_entry: OpenEntry
) -> View:
    if sniff(data) != kind:
        raise Uninspectable(f"declared {_KINDS[kind]} file is not {_KINDS[kind]}")
    budget = current_budget(limits.max_decoded_bytes)
    cap = _cap(len(data), budget)
    plain = _decompress(kind, data, cap)
    budget.spend(len(plain), f"{_KINDS[kind]} content")
    where = label if label.lower().endswith(_SUFFIXES[kind]) else f"{label}:{_KINDS[kind]}"
    child = open_entry(plain, _inner_name(label, kind), where, depth + 1, limits)
    if child is None:
        return document_view((), _KINDS[kind])
    return _Compressed(child, _RECOMPRESS[kind])


def _cap(size: int, budget: Budget) -> int:
    """What one compressed file may expand to: the ratio cap, never past the budget."""
    return max(0, min(max(RATIO_FLOOR, MAX_RATIO * size), budget.left))


def _decompress(kind: str, data: bytes, cap: int) -> bytes:
    if kind == GZIP:
        try:
            return decode_content(data, ("gzip",), cap).data
        except Oversize:
            raise Oversize(f"gzip file expands past {cap} bytes") from None
    make = bz2.BZ2Decompressor if kind == BZIP2 else lzma.LZMADecompressor
    out: list[bytes] = []
    rest = data
    while rest:  # pbzip2 and xz --block writers put several streams back to back
        rest = _stream(make(), rest, cap - sum(map(len, out)), _KINDS[kind], out)
        if rest.strip(b"\x00") and sniff(rest) != kind:
            raise Uninspectable(f"unexpected bytes after the {_KINDS[kind]} stream")
        rest = rest if rest.strip(b"\x00") else b""
    return b"".join(out)


def _stream(decompressor: bz2.BZ2Decompressor | lzma.LZMADecompressor, data: bytes, cap: int,
            kind: str, out: list[bytes]) -> bytes:
    """One bzip2/xz stream into ``out``, ``cap`` bytes at most; returns the bytes after it."""
    size = 0
    pending = data
    try:
        while not decompressor.eof:
            chunk = decompressor.decompress(pending, min(_CHUNK, cap - size + 1))
            pending = b""
            size += len(chunk)
            if size > cap:
                raise Oversize(f"{kind} file expands past the cap")
            out.append(chunk)
            if not chunk and decompressor.needs_input:
                raise Uninspectable(f"truncated {kind} file")
    except (OSError, EOFError, lzma.LZMAError, ValueError) as exc:
        raise Uninspectable(f"corrupt {kind} file ({type(exc).__name__})") from None
    return decompressor.unused_data


def _inner_name(label: str, kind: str) -> str:
    """``multipart:orders.csv.gz`` -> ``orders.csv``; ``body`` -> ``body``; ``x.tgz`` -> ``x.tar``."""
    last = re.split(r"[:|]", label)[-1]
    lower = last.lower()
    for suffix in _SUFFIXES[kind]:
        if lower.endswith(suffix):
            return last[: -len(suffix)] + (".tar" if suffix.startswith(".t") else "")
    return last


def _gzip(data: bytes) -> bytes:
    return encode_content(data, ("gzip",))


_RECOMPRESS: dict[str, Callable[[bytes], bytes]] = {
    GZIP: _gzip,
    BZIP2: bz2.compress,
    XZ: lzma.compress,
}


# ---------------------------------------------------------------- tar


def _tar_view(
    data: bytes, label: str, depth: int, limits: Limits, open_entry: OpenEntry
) -> View:
    if sniff(data) != TAR:
        raise Uninspectable("declared tar file is not a tar archive")
    budget = current_budget(limits.max_decoded_bytes)
    where = label if label.lower().endswith(".tar") else f"{label}:tar"
    segments: list[Segment] = []
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
            for count, member in enumerate(archive, 1):
                if count > MAX_ENTRIES:
                    raise Oversize(f"tar with more than {MAX_ENTRIES} members")
                budget.count_entries(1)
                if not member.isfile() or member.size == 0:
                    continue
                content = _member(archive, member, budget)
                entry = f"{where}:{member.name}"
                view = open_entry(content, member.name, entry, depth + 1, limits)
                segments += view.segments if view else ()
    except (tarfile.TarError, EOFError, ValueError, OSError) as exc:
        raise Uninspectable(f"unreadable tar ({type(exc).__name__})") from None
    return document_view(tuple(segments), "tar")


def _member(archive: tarfile.TarFile, member: tarfile.TarInfo, budget: Budget) -> bytes:
    # Sparse members may claim more than the archive holds: the budget caps them first.
    budget.spend(member.size, "tar member")
    reader = archive.extractfile(member)
    if reader is None:
        raise Uninspectable("unreadable tar member")
    content = reader.read(member.size + 1)
    if len(content) != member.size:
        raise Uninspectable("truncated tar member")
    return content
