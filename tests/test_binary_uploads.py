"""Binary uploads: compressed files, tar archives, images' metadata, printable strings of
anything else. The type comes from the bytes, whatever the request says."""

from __future__ import annotations

import base64
import bz2
import gzip
import io
import json
import lzma
import sqlite3
import struct
import tarfile
import zlib
from pathlib import Path

import pytest
from document_samples import SMALL, holding, multipart, post, segments, upload, zip_bytes

from proxy.errors import CannotMask, Oversize, Uninspectable
from proxy.extraction.extract import Limits, RawRequest, extract
from proxy.workers.inspection import Inspection

RID = "11010519491231002X"
PHONE = "13800138000"
CSV = f"name,phone,id_no\n张三,{PHONE},{RID}\n".encode()


# ---------------------------------------------------------------- printable strings

BINARY = bytes(range(32)) * 4 + f"id={RID}".encode() + b"\x00\xff\xfe" * 20


@pytest.mark.parametrize(
    ("request_", "location"),
    [
        pytest.param(post(BINARY, "application/octet-stream"), "body:strings", id="octet-stream"),
        pytest.param(post(BINARY), "body:strings", id="no-type"),
        pytest.param(post(BINARY, "application/x-msdownload"), "body:strings", id="exe-type"),
        pytest.param(upload("tool.bin", BINARY), "multipart:tool.bin:strings", id="part"),
        pytest.param(
            post(b"\x00\x01" + f"客户 {RID}".encode("utf-16-le") + b"\x00\x00\xff", "application/x-foo"),
            "body:strings",
            id="utf-16le",
        ),
        pytest.param(
            post(b"\x01" + f"ID {RID}".encode("utf-16-be") + b"\xff\xff", "application/x-foo"),
            "body:strings",
            id="utf-16be",
        ),
        pytest.param(
            upload("a.zip", zip_bytes({"bin/app.dat": BINARY})),
            "multipart:a.zip:bin/app.dat:strings",
            id="binary-entry-in-zip",
        ),
    ],
)
def test_printable_runs_of_binaries_are_inspected(request_: RawRequest, location: str) -> None:
    assert holding(request_, RID) == [location]


def test_sqlite_file_upload_shows_its_rows(tmp_path: Path) -> None:
    db = tmp_path / "customers.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table c (name text, phone text)")
        conn.execute("insert into c values (?, ?)", ("张三", PHONE))
    conn.close()
    found = segments(upload("customers.db", db.read_bytes()))
    assert [loc for loc, text in found if PHONE in text and "张三" in text] == [
        "multipart:customers.db:strings"
    ]


def test_short_runs_and_junk_are_left_out() -> None:
    assert segments(post(b"\x00abc\x00de\x01" + "一二".encode("utf-16-le") + b"\xff")) == []


def test_long_binaries_are_cut_into_segments_at_run_boundaries() -> None:
    runs = [f"line {i:05d} {RID}".encode() for i in range(2000)]
    found = segments(post(b"\x00".join(runs), "application/octet-stream"))
    assert len(found) > 1 and all(len(text) <= 8192 for _, text in found)
    assert sum(text.count(RID) for _, text in found) == 2000


def test_binaries_cannot_be_masked() -> None:
    ex = extract(post(BINARY, "application/octet-stream"), SMALL)
    text = ex.segments[0].text
    at = text.index(RID)
    with pytest.raises(CannotMask):
        ex.rewrite({0: [(at, at + len(RID), "*" * len(RID))]})


# ---------------------------------------------------------------- gzip, bzip2, xz, tar


def tar_bytes(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        archive.addfile(tarfile.TarInfo("empty-dir/"))
    return out.getvalue()


TAR = tar_bytes({"data/customers.csv": CSV, "notes.txt": f"call {PHONE}".encode()})


@pytest.mark.parametrize(
    ("request_", "value", "locations"),
    [
        pytest.param(
            post(gzip.compress(f"phone {PHONE}".encode()), "text/plain; charset=iso-8859-1"),
            PHONE, ["body:gzip"], id="gzip-as-latin1-text",
        ),
        pytest.param(
            post(zip_bytes({"c.csv": CSV}), "text/plain; charset=iso-8859-1"),
            RID, ["body:zip:c.csv:row2"], id="zip-as-latin1-text",
        ),
        pytest.param(
            post(gzip.compress(json.dumps({"phone": PHONE}).encode()), "application/gzip"),
            PHONE, ["body:gzip:$.phone"], id="gzip-json",
        ),
        pytest.param(
            upload("orders.csv.gz", gzip.compress(CSV)),
            RID, ["multipart:orders.csv.gz:csv:row2"], id="gzip-csv-part",
        ),
        pytest.param(
            post(bz2.compress(f"phone {PHONE}".encode()), "application/octet-stream"),
            PHONE, ["body:bzip2"], id="bzip2",
        ),
        pytest.param(
            post(lzma.compress(f"phone {PHONE}".encode())), PHONE, ["body:xz"], id="xz",
        ),
        pytest.param(
            post(bz2.compress(b"a" * 10) + bz2.compress(f" {PHONE}".encode()), "application/x-bzip2"),
            PHONE, ["body:bzip2"], id="bzip2-two-streams",
        ),
        pytest.param(
            upload("export.tar", TAR),
            RID, ["multipart:export.tar:data/customers.csv:row2"], id="tar",
        ),
        pytest.param(
            upload("export.tar.gz", gzip.compress(TAR)),
            PHONE,
            ["multipart:export.tar.gz:tar:data/customers.csv:row2",
             "multipart:export.tar.gz:tar:notes.txt"],
            id="tar-gz",
        ),
        pytest.param(
            post(lzma.compress(TAR), "text/plain"),
            RID, ["body:xz:tar:data/customers.csv:row2"], id="tar-xz-as-text",
        ),
    ],
)
def test_archives_are_opened(request_: RawRequest, value: str, locations: list[str]) -> None:
    assert holding(request_, value) == locations


def field_part(name: str, content: bytes, content_type: str = "text/plain") -> RawRequest:
    body = (f'--b\r\nContent-Disposition: form-data; name="{name}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n").encode() + content + b"\r\n--b--\r\n"
    return post(body, "multipart/form-data; boundary=b")


@pytest.mark.parametrize(
    ("request_", "location"),
    [
        pytest.param(field_part("data", gzip.compress(f"id {RID}".encode())), "multipart:data:gzip",
                     id="gzip-form-field"),
        pytest.param(field_part("blob", b"\x00\x01" + RID.encode() + b"\x00"),
                     "multipart:blob:strings", id="binary-form-field"),
        pytest.param(field_part("x", zip_bytes({"c.csv": CSV}), "text/plain; charset=iso-8859-1"),
                     "multipart:x:zip:c.csv:row2", id="zip-form-field-as-latin1"),
    ],
)
def test_form_fields_without_a_file_name_are_sniffed_too(request_: RawRequest, location: str) -> None:
    assert holding(request_, RID) == [location]


def test_text_with_ustar_at_257_is_still_text() -> None:
    text = b"x" * 257 + b"ustar " + PHONE.encode()
    assert segments(post(text, "text/plain")) == [("text", text.decode())]


def test_gzip_body_is_masked_and_compressed_again() -> None:
    body = gzip.compress(json.dumps({"phone": PHONE, "n": "x"}).encode())
    ex = extract(post(body, "application/gzip"), SMALL)
    assert [s.location for s in ex.segments] == ["body:gzip:$.phone", "body:gzip:$.n"]
    out = ex.rewrite({0: [(3, 7, "****")]})
    assert json.loads(gzip.decompress(out.body)) == {"phone": "138****8000", "n": "x"}


def test_tar_cannot_be_masked() -> None:
    ex = extract(upload("export.tar", TAR), SMALL)
    with pytest.raises(CannotMask):
        ex.rewrite({0: [(0, 1, "*")]})


@pytest.mark.parametrize(
    ("request_", "error", "reason"),
    [
        pytest.param(post(gzip.compress(bytes(16 << 20))), Oversize, "gzip", id="gzip-bomb"),
        pytest.param(post(bz2.compress(bytes(16 << 20))), Oversize, "bzip2", id="bzip2-bomb"),
        pytest.param(post(lzma.compress(bytes(16 << 20))), Oversize, "xz", id="xz-bomb"),
        pytest.param(
            post(gzip.compress(CSV)[:-12], "text/plain"), Uninspectable, "truncated", id="gzip-cut"
        ),
        pytest.param(post(lzma.compress(CSV)[:-9]), Uninspectable, "xz", id="xz-cut"),
        pytest.param(
            post(b"BZh91AY&SY" + b"\x00" * 40), Uninspectable, "bzip2", id="bzip2-corrupt"
        ),
        pytest.param(
            post(b"7z\xbc\xaf\x27\x1c" + bytes(64)), Uninspectable, "7z", id="seven-zip"
        ),
        pytest.param(post(b"Rar!\x1a\x07\x01\x00" + bytes(64)), Uninspectable, "RAR", id="rar"),
        pytest.param(post(TAR[:700]), Uninspectable, "tar", id="tar-cut"),
        pytest.param(
            post(b"not gzip " + PHONE.encode(), "application/gzip"),
            Uninspectable, "not gzip", id="declared-gzip-not-gzip",
        ),
        pytest.param(
            post(gzip.compress(zip_bytes({"c.csv": CSV}, ))[:40] + b"\x00" * 8),
            Uninspectable, "", id="gzip-zip-corrupt",
        ),
    ],
)
def test_archives_fail_closed(request_: RawRequest, error: type[Exception], reason: str) -> None:
    with pytest.raises(error) as info:
        extract(request_, SMALL)
    assert reason in str(info.value)
    assert PHONE not in str(info.value) and RID not in str(info.value)


def test_tar_with_too_many_members_is_oversize() -> None:
    tar = tar_bytes({f"f{i}.txt": b"x" for i in range(1001)})
    with pytest.raises(Oversize, match="members"):
        extract(post(tar), Limits(max_body_bytes=8 << 20, max_decoded_bytes=8 << 20))


# ---------------------------------------------------------------- images


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(*chunks: bytes, trailer: bytes = b"") -> bytes:
    ihdr = png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
    idat = png_chunk(b"IDAT", zlib.compress(b"\x00\x00"))
    return b"\x89PNG\r\n\x1a\n" + ihdr + b"".join(chunks) + idat + png_chunk(b"IEND", b"") + trailer


def tiff(entries: list[tuple[int, int, bytes]], order: str = "<") -> bytes:
    """A TIFF/EXIF block: IFD0 with ``entries`` (tag, type, value), values after the IFD."""
    magic = b"II*\x00" if order == "<" else b"MM\x00*"
    ifd_size = 2 + 12 * len(entries) + 4
    values, table = b"", b""
    for tag, kind, value in entries:
        count = len(value) if kind in (1, 2, 7) else len(value) // 2
        if len(value) <= 4:
            field = value.ljust(4, b"\x00")
        else:
            field = struct.pack(order + "I", 8 + ifd_size + len(values))
            values += value
        table += struct.pack(order + "HHI", tag, kind, count) + field
    return magic + struct.pack(order + "I", 8) + struct.pack(order + "H", len(entries)) + table \
        + struct.pack(order + "I", 0) + values


EXIF = tiff([
    (0x013B, 2, "张三".encode() + b"\x00"),  # Artist
    (0x010E, 2, f"客户身份证 {RID}\x00".encode()),  # ImageDescription
    (0x9286, 7, b"UNICODE\x00" + f"tel {PHONE}".encode("utf-16-le")),  # UserComment
    (0x9C9C, 1, f"XP {PHONE}".encode("utf-16-le") + b"\x00\x00"),  # XPComment
    (0x0112, 3, b"\x01\x00"),  # Orientation: a number, not text
])
XMP = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
    b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" dc:format="image/jpeg">'
    b"<dc:creator><rdf:Seq><rdf:li>" + f"王五 {PHONE}".encode() + b"</rdf:li></rdf:Seq></dc:creator>"
    b'</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)


def jpeg_segment(marker: int, data: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(data) + 2) + data


def jpeg(*segments: bytes, trailer: bytes = b"") -> bytes:
    app0 = jpeg_segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    sos = jpeg_segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
    scan = b"\x12\x34\xff\x00\x56\xff\xd0\x78"  # stuffed 0xFF and a restart marker
    return b"\xff\xd8" + app0 + b"".join(segments) + sos + scan + b"\xff\xd9" + trailer


def gif(comment: bytes) -> bytes:
    header = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\x00" * 6
    extension = b"\x21\xfe" + bytes([len(comment)]) + comment + b"\x00" if comment else b""
    image = b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    return header + extension + image + b"\x3b"


def webp(exif: bytes) -> bytes:
    vp8 = b"VP8L" + struct.pack("<I", 5) + b"\x2f\x00\x00\x00\x00" + b"\x00"
    chunk = b"EXIF" + struct.pack("<I", len(exif)) + exif + b"\x00" * (len(exif) & 1)
    body = b"WEBP" + vp8 + chunk
    return b"RIFF" + struct.pack("<I", len(body)) + body


ZTXT = png_chunk(b"zTXt", b"Author\x00\x00" + zlib.compress(f"李四 {PHONE}".encode()))
ITXT = png_chunk(b"iTXt", b"Description\x00\x01\x00zh\x00\x00" + zlib.compress(RID.encode()))


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        pytest.param(
            post(png(png_chunk(b"tEXt", f"Comment\x00phone {PHONE}".encode("latin-1")), ZTXT, ITXT),
                 "image/png"),
            [("body:png:text:Comment", f"phone {PHONE}"), ("body:png:text:Author", f"李四 {PHONE}"),
             ("body:png:text:Description", RID)],
            id="png-text-chunks",
        ),
        pytest.param(
            upload("photo.jpg", jpeg(jpeg_segment(0xE1, b"Exif\x00\x00" + EXIF),
                                     jpeg_segment(0xFE, f"备注 {PHONE}".encode()))),
            [("multipart:photo.jpg:exif:Artist", "张三"),
             ("multipart:photo.jpg:exif:ImageDescription", f"客户身份证 {RID}"),
             ("multipart:photo.jpg:exif:UserComment", f"tel {PHONE}"),
             ("multipart:photo.jpg:exif:XPComment", f"XP {PHONE}"),
             ("multipart:photo.jpg:comment", f"备注 {PHONE}")],
            id="jpeg-exif-and-comment",
        ),
        pytest.param(
            post(jpeg(jpeg_segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + XMP)),
                 "application/octet-stream"),
            [("body:jpeg:xmp:format", "image/jpeg"), ("body:jpeg:xmp:li", f"王五 {PHONE}")],
            id="jpeg-xmp",
        ),
        pytest.param(
            post(jpeg(trailer=zip_bytes({"c.csv": CSV}))),
            [("body:jpeg:trailing:zip:c.csv:row1", "name,phone,id_no"),
             ("body:jpeg:trailing:zip:c.csv:row2", f"张三,{PHONE},{RID}")],
            id="zip-appended-to-jpeg",
        ),
        pytest.param(
            post(png(trailer=f"\x00\x00secret {PHONE}".encode()), "image/png"),
            [("body:png:trailing:strings", f"secret {PHONE}")],
            id="bytes-appended-to-png",
        ),
        pytest.param(
            post(gif(f"GIF comment {PHONE}".encode()), "image/gif"),
            [("body:gif:comment", f"GIF comment {PHONE}")],
            id="gif-comment",
        ),
        pytest.param(
            upload("a.webp", webp(b"Exif\x00\x00" + EXIF)),
            [("multipart:a.webp:exif:Artist", "张三"),
             ("multipart:a.webp:exif:ImageDescription", f"客户身份证 {RID}"),
             ("multipart:a.webp:exif:UserComment", f"tel {PHONE}"),
             ("multipart:a.webp:exif:XPComment", f"XP {PHONE}")],
            id="webp-exif",
        ),
        pytest.param(
            post(tiff([(0x013B, 2, b"Zhang San\x00")], order=">"), "image/tiff"),
            [("body:tiff:exif:Artist", "Zhang San")],
            id="tiff-big-endian",
        ),
        pytest.param(
            post(png(png_chunk(b"tEXt", f"{PHONE}\x00x".encode()))),
            [("body:png:text:other", "x")],
            id="png-keyword-that-is-data-stays-out-of-the-location",
        ),
    ],
)
def test_image_metadata_is_inspected(request_: RawRequest, expected: list[tuple[str, str]]) -> None:
    ex = extract(request_, SMALL)
    assert [(s.location, s.text) for s in ex.segments] == expected
    assert ex.images == 1


def test_exif_sub_ifd_and_thumbnail_ifd_are_read() -> None:
    """Cameras put UserComment in the EXIF sub-IFD; IFD1 (the thumbnail's) has tags too."""
    comment = b"ASCII\x00\x00\x00" + f"owner {PHONE}".encode()
    sub_at, ifd1_at = 8 + 30, 8 + 30 + 18
    values_at = ifd1_at + 18
    ifd0 = struct.pack("<H", 2) + struct.pack("<HHI4s", 0x013B, 2, 3, b"Li\x00\x00") \
        + struct.pack("<HHII", 0x8769, 4, 1, sub_at) + struct.pack("<I", ifd1_at)
    sub = struct.pack("<H", 1) + struct.pack("<HHII", 0x9286, 7, len(comment), values_at) \
        + struct.pack("<I", 0)
    ifd1 = struct.pack("<H", 1) + struct.pack("<HHII", 0x010E, 2, len(RID) + 1,
                                               values_at + len(comment)) + struct.pack("<I", 0)
    exif = b"II*\x00" + struct.pack("<I", 8) + ifd0 + sub + ifd1 + comment + RID.encode() + b"\x00"
    found = segments(post(jpeg(jpeg_segment(0xE1, b"Exif\x00\x00" + exif))))
    assert found == [("body:jpeg:exif:Artist", "Li"), ("body:jpeg:exif:UserComment", f"owner {PHONE}"),
                     ("body:jpeg:exif:ImageDescription", RID)]


def test_exif_ifd_loop_is_read_once() -> None:
    ifd0 = struct.pack("<H", 1) + struct.pack("<HHII", 0x8769, 4, 1, 8) + struct.pack("<I", 8)
    exif = b"II*\x00" + struct.pack("<I", 8) + ifd0
    assert segments(post(png(png_chunk(b"eXIf", exif)))) == []


def test_gif_xmp_and_png_exif_chunk() -> None:
    # As XMP writers do: the packet raw, then a 258-byte "magic trailer" (0x01, FF..00, 0x00).
    app = b"\x21\xff\x0bXMP DataXMP" + XMP + b"\x01" + bytes(range(255, -1, -1)) + b"\x00"
    data = gif(b"")
    data = data[:19] + app + data[19:]
    assert ("body:gif:xmp:li", f"王五 {PHONE}") in segments(post(data))
    assert segments(post(png(png_chunk(b"eXIf", EXIF))))[0] == ("body:png:exif:Artist", "张三")


def test_images_without_metadata_are_counted() -> None:
    body = json.dumps({"a": base64.b64encode(png()).decode(), "b": "x"}).encode()
    request = post(*multipart({"p": ("p.png", png()), "q": ("q.gif", gif(b""))}))
    assert extract(request, SMALL).images == 2
    assert extract(post(body, "application/json"), SMALL).images == 1
    assert extract(post(b"hello", "text/plain"), SMALL).images == 0


def test_inspection_carries_the_image_count() -> None:
    from proxy.workers.inspection import inspect_request

    class NoFindings:
        def analyze(self, segments):  # type: ignore[no-untyped-def]
            return []

    inspection = inspect_request(NoFindings(), upload("p.png", png()), SMALL)
    assert isinstance(inspection, Inspection) and inspection.images == 1


def test_heic_strings_are_inspected() -> None:
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00\x01" + f"Exif {PHONE}".encode()
    ex = extract(post(heic, "application/octet-stream"), SMALL)
    assert [s.location for s in ex.segments if PHONE in s.text] == ["body:heic:strings"]
    assert ex.images == 1


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(png()[:40], id="png-cut"),
        pytest.param(b"\xff\xd8\xff\xe1\x10\x00Exif", id="jpeg-segment-past-end"),
        pytest.param(jpeg(jpeg_segment(0xE1, b"Exif\x00\x00II*\x00\xff\xff\x00\x00")), id="exif-ifd-outside"),
        pytest.param(gif(b"x")[:-4], id="gif-cut"),
        pytest.param(b"RIFF\xff\x00\x00\x00WEBPVP8 ", id="webp-size-past-end"),
        pytest.param(png(png_chunk(b"zTXt", b"k\x00\x00not zlib")), id="png-ztxt-corrupt"),
    ],
)
def test_corrupt_images_are_uninspectable(body: bytes) -> None:
    with pytest.raises(Uninspectable):
        extract(post(body, "image/png"), SMALL)


def test_ztxt_bomb_is_oversize() -> None:
    bomb = png(png_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(bytes(32 << 20))))
    with pytest.raises(Oversize):
        extract(post(bomb), SMALL)


def test_images_cannot_be_masked() -> None:
    ex = extract(post(png(png_chunk(b"tEXt", f"Comment\x00{PHONE}".encode()))), SMALL)
    with pytest.raises(CannotMask):
        ex.rewrite({0: [(0, 3, "***")]})
