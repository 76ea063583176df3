"""Documents and archives built in memory for tests, with the libraries that write them.

pdf_bytes(["page one text", "page two"])     # minimal hand-made PDF, one font, ASCII
xlsx_bytes({"Sheet1": [["phone"], [13800138000]]})
zip_bytes({"customers.csv": b"..."}), encrypted_zip(...), multipart({...})
holding(upload("orders.csv", CSV), RID) == ["multipart:orders.csv:row2"]   # extracted where
"""

from __future__ import annotations

import io
import struct
import zipfile

import docx
import openpyxl
import pypdf

from proxy.extraction.extract import Limits, RawRequest, extract

URL = "https://upload.example.com/"
SMALL = Limits(max_body_bytes=4 << 20, max_decoded_bytes=4 << 20, max_depth=5)


def pdf_bytes(pages: list[str]) -> bytes:
    """A valid PDF with one text line per page (Helvetica, so ASCII text only)."""
    n = len(pages)
    page_ids = [3 + 2 * i for i in range(n)]
    font_id = 3 + 2 * n
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids ["
        + b" ".join(b"%d 0 R" % p for p in page_ids)
        + b"] /Count %d >>" % n,
        font_id: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    }
    for page_id, text in zip(page_ids, pages, strict=True):
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode()
        stream = b"BT /F1 12 Tf 72 720 Td (" + escaped + b") Tj ET" if text else b""
        objects[page_id] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (page_id + 1, font_id)
        )
        objects[page_id + 1] = b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"
    out, offsets = bytearray(b"%PDF-1.4\n"), {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + objects[number] + b"\nendobj\n"
    xref = len(out)
    size = max(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for number in range(1, size):
        out += b"%010d 00000 n \n" % offsets[number]
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref)
    return bytes(out)


def encrypted_pdf(pages: list[str], user_password: str = "secret") -> bytes:
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(pdf_bytes(pages))))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx_bytes(paragraphs: list[str], table: list[list[str]] = (), header: str = "") -> bytes:  # type: ignore[assignment]
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    if header:
        document.sections[0].header.paragraphs[0].text = header
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def xlsx_bytes(sheets: dict[str, list[list[object]]]) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def zip_bytes(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


def encrypted_zip(entries: dict[str, bytes]) -> bytes:
    """A ZIP whose entries say "encrypted" (general-purpose flag bit 0), as a real one would.

    zipfile cannot write encryption; the flag is what a reader checks first.
    """
    data = bytearray(zip_bytes(entries, zipfile.ZIP_STORED))
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature)
        while at >= 0:
            (flags,) = struct.unpack_from("<H", data, at + flag_at)
            struct.pack_into("<H", data, at + flag_at, flags | 0x1)
            at = data.find(signature, at + 4)
    return bytes(data)


OLE_FILE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + b"EncryptedPackage"


def multipart(files: dict[str, tuple[str, bytes]], boundary: str = "b0undary") -> tuple[bytes, str]:
    """(body, content type) of a form upload: field name -> (file name, content)."""
    out = bytearray()
    for field, (filename, content) in files.items():
        out += (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
                f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
            ).encode()
            + content
            + b"\r\n"
        )
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


# -- a sample as a request, and where extract finds what -----------------------------------------

def post(body: bytes, content_type: str | None = None) -> RawRequest:
    """A POST of ``body`` to upload.example.com (no content type: none sent)."""
    headers = (("content-type", content_type),) if content_type else ()
    return RawRequest("POST", URL, headers, body)


def upload(filename: str, content: bytes) -> RawRequest:
    """A form upload of one file."""
    return post(*multipart({"file": (filename, content)}))


def segments(request: RawRequest, limits: Limits = SMALL) -> list[tuple[str, str]]:
    """(location, text) of every segment extract makes of ``request``."""
    return [(s.location, s.text) for s in extract(request, limits).segments]


def holding(request: RawRequest, value: str) -> list[str]:
    """Locations of the segments whose text holds ``value``."""
    return [loc for loc, text in segments(request) if value in text]
