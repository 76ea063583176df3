"""Documents and archives in request bodies: PDF, DOCX, XLSX, ZIP, CSV/TSV.

    handler = handlers(open_entry)["application/pdf"]
    [s.location for s in handler(pdf_bytes, "multipart:scan.pdf", 1, limits).segments]
      -> ["multipart:scan.pdf:page1", "multipart:scan.pdf:page2"]

Locations: the label, then ``:<kind>`` unless the label already ends in that file
extension (``body`` -> ``body:pdf``; ``multipart:scan.pdf`` stays), then the piece:

    body:pdf:page3                            one segment per PDF page
    multipart:letter.docx:document            one per DOCX part (document, header1,
                                              footer1, footnotes, endnotes, comments)
    multipart:orders.xlsx:Sheet1!row7         one per spreadsheet row, cells joined by tabs
    multipart:orders.csv:row12                one per CSV/TSV record, its text as sent
    multipart:export.zip:customers.csv:row2   archive entries by path, nested archives too

Rows are numbered from 1 like a spreadsheet (row1 is usually the header; empty rows
keep their number but give no segment). Every row after the first carries the words of
the first row's cells as ``Segment.context``, e.g. ("customer", "phone"): one segment
per row, so a row is one customer record.

The type comes from the bytes (``sniff``): ``%PDF-``; ``PK\\x03\\x04`` with
``word/document.xml`` (DOCX) or ``xl/workbook.xml`` (XLSX), else a plain ZIP; OLE
``\\xd0\\xcf\\x11\\xe0`` (legacy Office, and every encrypted Office file). Fails closed:
OLE files, encrypted PDFs (unless the empty password opens them) and encrypted ZIP
entries, unreadable files and PDFs without any text layer -> Uninspectable; more than
MAX_ENTRIES entries, an entry expanding more than MAX_RATIO times, more than MAX_CELLS
spreadsheet cells or MAX_PAGES pages, or content past the request's decoded-bytes
budget -> Oversize.

Masking: CSV/TSV keep their format (rows are slices of the text; JSON and text files in
multipart are rewritten by ``proxy.extraction.extract``). PDF, DOCX, XLSX and ZIP cannot be
rewritten: their views raise CannotMask and the proxy blocks instead.

DOCX is read with zipfile + defusedxml rather than python-docx: python-docx reads every
part of the package before we could cap it, and skips headers, footers and footnotes
unless walked part by part anyway.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import defusedxml.ElementTree as SafeXml
import openpyxl
import pypdf
from pypdf import PasswordType

from detectors.model import Segment
from proxy.errors import CannotMask, InspectionError, Oversize, Uninspectable
from proxy.extraction.datanames import withheld
from proxy.extraction.decode import Budget, TextCodec, current_budget
from proxy.extraction.fieldwords import words
from proxy.extraction.layers import Edit, View, apply_edits
from proxy.extraction.limits import Limits

MAX_ENTRIES = 1000  # per archive; the request's Budget also caps them across nesting
MAX_RATIO = 100  # uncompressed / compressed size of one entry (text zips ~5-20x)
RATIO_FLOOR = 1 << 20  # small entries may compress well; their size is capped anyway
MAX_PAGES = 2000
MAX_CELLS = 2_000_000

PDF, ZIP, OLE = "application/pdf", "application/zip", "application/x-ole-storage"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

# (data, entry name, label, depth, limits) -> view of one archive entry; None when empty
OpenEntry = Callable[[bytes, str, str, int, Limits], View | None]
Handler = Callable[[bytes, str, int, Limits], View]


def sniff(data: bytes) -> str | None:
    """The media type the bytes say they are, or None.

    >>> sniff(b"%PDF-1.7 ..."), sniff(b"PK\\x03\\x04..."), sniff(b"name,phone")
    ('application/pdf', 'application/zip', None)
    """
    if data[:1024].lstrip().startswith(b"%PDF-"):
        return PDF
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return ZIP
    if data.startswith(_OLE_MAGIC):
        return OLE
    return None


def handlers(open_entry: OpenEntry) -> dict[str, Handler]:
    """Handlers by media type for ``proxy.extraction.extract.BINARY_HANDLERS``."""

    def package(data: bytes, label: str, depth: int, limits: Limits) -> View:
        return _package_view(data, label, depth, limits, open_entry)

    def ole(data: bytes, label: str, depth: int, limits: Limits) -> View:
        raise Uninspectable("legacy or encrypted Office file (OLE) is not inspected")

    ooxml = "application/vnd.openxmlformats-officedocument."
    return {
        PDF: _pdf_view,
        ZIP: package,
        "application/x-zip-compressed": package,
        ooxml + "wordprocessingml.document": package,
        ooxml + "spreadsheetml.sheet": package,
        OLE: ole,
        "application/msword": ole,
        "application/vnd.ms-excel": ole,
        "application/x-cfb": ole,
    }


def located(label: str, kind: str) -> str:
    """``body`` -> ``body:pdf``; ``multipart:scan.pdf`` stays as it is."""
    last = re.split(r"[:|]", label)[-1].lower()
    return label if last.endswith(_EXTENSIONS[kind]) else f"{label}:{kind}"


_EXTENSIONS = {
    "pdf": (".pdf",),
    "docx": (".docx", ".docm", ".dotx"),
    "xlsx": (".xlsx", ".xlsm", ".xltx"),
    "zip": (".zip",),
    "csv": (".csv",),
    "tsv": (".tsv", ".tab"),
}


@dataclass(frozen=True, slots=True, repr=False)  # holds raw text
class _Document:
    """Text pulled out of a file we cannot write back."""

    segments: tuple[Segment, ...]
    kind: str

    def render(self, edits: tuple[tuple[Edit, ...], ...]) -> bytes:
        raise CannotMask(f"{self.kind} files cannot be masked, only blocked")


def document_view(segments: tuple[Segment, ...], kind: str) -> View:
    """Segments of a file that cannot be written back: masking it raises CannotMask."""
    return _Document(segments, kind)


# ---------------------------------------------------------------- CSV / TSV


@dataclass(frozen=True, slots=True, repr=False)  # holds raw text
class _Table:
    """CSV/TSV records as slices of the text, so masking keeps the file as it was."""

    text: str
    codec: TextCodec
    spans: tuple[tuple[int, int], ...]  # (start, end) of each row in ``text``
    segments: tuple[Segment, ...]

    def render(self, edits: tuple[tuple[Edit, ...], ...]) -> bytes:
        flat = [
            (at + s, at + e, r)
            for (at, _), row in zip(self.spans, edits, strict=True)
            for s, e, r in row
        ]
        return self.codec.encode(apply_edits(self.text, flat))


_RECORD_MARK = re.compile(r'"|\r\n|\n|\r')


def table_view(text: str, codec: TextCodec, label: str, delimiter: str) -> View:
    """CSV (``,``) or TSV (``\\t``) text, one segment per record (see module doc)."""
    where = located(label, "tsv" if delimiter == "\t" else "csv")
    spans, segments, header = [], [], None
    for number, start, end in _records(text):
        row = text[start:end]
        if not row.strip():
            continue
        if header is None:
            header = _header_words(row, delimiter)
            context: tuple[str, ...] = ()
        else:
            context = header
        spans.append((start, end))
        segments.append(Segment(row, f"{where}:row{number}", context))
    return _Table(text, codec, tuple(spans), tuple(segments))


def _records(text: str) -> Iterator[tuple[int, int, int]]:
    """(row number, start, end) of each record; newlines inside quotes do not end one."""
    number, start, quoted = 1, 0, False
    for mark in _RECORD_MARK.finditer(text):
        if mark.group() == '"':
            quoted = not quoted
        elif not quoted:
            yield number, start, mark.start()
            number, start = number + 1, mark.end()
    if start < len(text):
        yield number, start, len(text)


def _header_words(row: str, delimiter: str) -> tuple[str, ...]:
    cells = next(csv.reader([row], delimiter=delimiter), [])
    return tuple(dict.fromkeys(w for cell in cells for w in words(cell)))


# ---------------------------------------------------------------- PDF


def _pdf_view(data: bytes, label: str, depth: int, limits: Limits) -> View:
    budget = current_budget(limits.max_decoded_bytes)
    where = located(label, "pdf")
    segments = []
    for number, text in enumerate(_pdf_pages(data), 1):
        if number > MAX_PAGES:
            raise Oversize(f"PDF with more than {MAX_PAGES} pages")
        budget.spend(len(text.encode("utf-8", "surrogatepass")), "PDF text")
        if text.strip():
            segments.append(Segment(text, f"{where}:page{number}"))
    if not segments:
        raise Uninspectable("PDF without a text layer (scanned images are not inspected)")
    return _Document(tuple(segments), "PDF")


def _pdf_pages(data: bytes) -> Iterator[str]:
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise Uninspectable("encrypted PDF is not inspected")
        pages = reader.pages
        for page in pages:
            yield page.extract_text() or ""
    except InspectionError:
        raise
    except Exception as exc:  # noqa: BLE001 - pypdf raises many kinds on bad files: fail closed
        raise Uninspectable(f"unreadable PDF ({type(exc).__name__})") from None


# ---------------------------------------------------------------- ZIP packages


def _package_view(
    data: bytes, label: str, depth: int, limits: Limits, open_entry: OpenEntry
) -> View:
    """A ZIP file: DOCX, XLSX or a plain archive, told apart by the entries it holds."""
    if sniff(data) != ZIP:
        raise Uninspectable("declared archive or Office file is not a ZIP package")
    budget = current_budget(limits.max_decoded_bytes)
    archive = _open_zip(data, budget)
    names = set(archive.namelist())
    if "word/document.xml" in names:
        return _docx_view(archive, located(label, "docx"), depth, limits, open_entry)
    if "xl/workbook.xml" in names:
        return _xlsx_view(data, archive, located(label, "xlsx"), budget)
    return _zip_view(archive, located(label, "zip"), depth, limits, open_entry)


def _open_zip(data: bytes, budget: Budget) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise Uninspectable(f"unreadable ZIP ({type(exc).__name__})") from None
    files = [info for info in archive.infolist() if not info.is_dir()]
    if len(files) > MAX_ENTRIES:
        raise Oversize(f"ZIP with more than {MAX_ENTRIES} entries")
    budget.count_entries(len(files))
    for info in files:
        _check_entry(info)
    return archive


def _check_entry(info: zipfile.ZipInfo) -> None:
    if info.flag_bits & 0x1:
        raise Uninspectable("encrypted ZIP entry is not inspected")
    if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        raise Oversize(f"ZIP entry expands more than {MAX_RATIO} times")


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: Budget) -> bytes:
    """The entry's bytes; zipfile stops at the declared size and checks the CRC."""
    budget.spend(info.file_size, "ZIP entry")
    try:
        with archive.open(info) as entry:
            data = entry.read(info.file_size + 1)
    except (
        zipfile.BadZipFile,
        NotImplementedError,
        RuntimeError,
        zlib.error,
        EOFError,
        OSError,
    ) as exc:
        raise Uninspectable(f"unreadable ZIP entry ({type(exc).__name__})") from None
    except Exception as exc:  # noqa: BLE001 - lzma/bz2 errors on corrupt data: fail closed
        raise Uninspectable(f"unreadable ZIP entry ({type(exc).__name__})") from None
    if len(data) != info.file_size:
        raise Uninspectable("ZIP entry size does not match its header")
    return data


def _zip_view(
    archive: zipfile.ZipFile, where: str, depth: int, limits: Limits, open_entry: OpenEntry
) -> View:
    budget = current_budget(limits.max_decoded_bytes)
    segments: list[Segment] = []
    for info in archive.infolist():
        if info.is_dir():
            continue
        data = _read(archive, info, budget)
        view = open_entry(data, info.filename, f"{where}:{info.filename}", depth + 1, limits)
        if view is not None:
            segments += view.segments
    return _Document(tuple(segments), "ZIP")


# ---------------------------------------------------------------- DOCX

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_DOCX_PART = re.compile(r"word/(document|header\d*|footer\d*|footnotes|endnotes|comments)\.xml\Z")
_DOCX_BREAKS = {_W + "tab": "\t", _W + "br": "\n", _W + "cr": "\n"}


def _docx_view(
    archive: zipfile.ZipFile, where: str, depth: int, limits: Limits, open_entry: OpenEntry
) -> View:
    budget = current_budget(limits.max_decoded_bytes)
    segments: list[Segment] = []
    for info in archive.infolist():
        part = _DOCX_PART.match(info.filename)
        if part:
            text = _docx_text(_read(archive, info, budget))
            if text.strip():
                segments.append(Segment(text, f"{where}:{part.group(1)}"))
        elif info.filename.startswith("word/embeddings/") and not info.is_dir():
            # An embedded workbook is as much data as the letter around it.
            data = _read(archive, info, budget)
            view = open_entry(data, info.filename, f"{where}:{info.filename}", depth + 1, limits)
            segments += view.segments if view else ()
    return _Document(tuple(segments), "DOCX")


def _docx_text(xml: bytes) -> str:
    try:
        root = SafeXml.fromstring(xml)
    except Exception as exc:  # noqa: BLE001 - defusedxml refusals, expat errors: fail closed
        raise Uninspectable(f"unreadable DOCX part ({type(exc).__name__})") from None
    paragraphs = []
    for paragraph in root.iter(_W + "p"):
        pieces = [
            node.text or "" if node.tag == _W + "t" else _DOCX_BREAKS[node.tag]
            for node in paragraph.iter()
            if node.tag == _W + "t" or node.tag in _DOCX_BREAKS
        ]
        paragraphs.append("".join(pieces))
    return "\n".join(paragraphs)


# ---------------------------------------------------------------- XLSX


def _xlsx_view(data: bytes, archive: zipfile.ZipFile, where: str, budget: Budget) -> View:
    # openpyxl reads the parts itself; what it may read is capped by the entry sizes.
    budget.spend(sum(info.file_size for info in archive.infolist()), "XLSX parts")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "no default style" and similar are harmless
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            return _Document(tuple(_xlsx_rows(book, where)), "XLSX")
        finally:
            book.close()
    except InspectionError:
        raise
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds on bad files: fail closed
        raise Uninspectable(f"unreadable XLSX ({type(exc).__name__})") from None


def _xlsx_rows(book: openpyxl.Workbook, where: str) -> Iterator[Segment]:
    """One segment per row, at ``<sheet title>!row<n>``; a title that may name someone
    (``datanames.withheld``: one sheet per customer) is a segment itself and ``{k}`` (the
    sheet's place) stands for it: ``orders.xlsx:{1}!row2``."""
    cells = 0
    for index, sheet in enumerate(book.worksheets):
        sheet.reset_dimensions()  # a forged dimension must not pad every row to 16384 cells
        title = sheet.title
        if withheld(title, True):
            title = f"{{{index}}}"
            yield Segment(sheet.title, f"{where}:{title}")
        header: tuple[str, ...] | None = None
        for number, row in enumerate(sheet.iter_rows(values_only=True), 1):
            cells += len(row)
            if cells > MAX_CELLS:
                raise Oversize(f"spreadsheet with more than {MAX_CELLS} cells")
            values = [_cell_text(value) for value in row]
            text = "\t".join(values).rstrip("\t")
            if not text.strip():
                continue
            context = () if header is None else header
            if header is None:
                header = tuple(dict.fromkeys(w for v in values for w in words(v)))
            yield Segment(text, f"{where}:{title}!row{number}", context)


def _cell_text(value: object) -> str:
    """Phones and IDs are often stored as numbers: 13800138000.0 reads as 13800138000."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e19:
        return str(int(value))
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    return str(value).replace("\t", " ")
