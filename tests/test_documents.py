"""Documents and archives in request bodies and uploads: what is read, where, and the caps."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest
from document_samples import (
    OLE_FILE,
    SMALL,
    docx_bytes,
    encrypted_pdf,
    encrypted_zip,
    holding,
    multipart,
    pdf_bytes,
    post,
    segments,
    upload,
    xlsx_bytes,
    zip_bytes,
)

from proxy.errors import CannotMask, Oversize, Uninspectable
from proxy.extraction import documents
from proxy.extraction.extract import Limits, RawRequest, extract

RID = "11010519491231002X"
CARD = "6222021234567890123"
PHONE = "13800138000"
CSV = f"name,phone,id_no\n张三,{PHONE},{RID}\n李四,13900139000,\n".encode()


# ---------------------------------------------------------------- each format, each way in

XLSX = xlsx_bytes({"客户": [["name", "customerPhone", "id"], ["张三", 13800138000, RID]]})
DOCX = docx_bytes(["Dear customer,", f"your card {CARD} is ready."], header=f"ID {RID}")
PDF = pdf_bytes(["Invoice", f"Customer ID {RID}"])


@pytest.mark.parametrize(
    ("request_", "value", "locations"),
    [
        pytest.param(
            upload("orders.csv", CSV), RID, ["multipart:orders.csv:row2"], id="csv-upload"
        ),
        pytest.param(
            post(CSV.replace(b",", b"\t"), "text/tab-separated-values"),
            RID,
            ["body:tsv:row2"],
            id="tsv-body",
        ),
        pytest.param(post(CSV, "text/csv"), RID, ["body:csv:row2"], id="csv-body"),
        pytest.param(
            upload("客户.csv", CSV.decode().encode("gb18030")),
            RID,
            ["multipart:客户.csv:row2"],
            id="csv-in-gb18030",
        ),
        pytest.param(upload("scan.pdf", PDF), RID, ["multipart:scan.pdf:page2"], id="pdf-upload"),
        pytest.param(post(PDF, "application/pdf"), RID, ["body:pdf:page2"], id="pdf-body"),
        pytest.param(post(PDF, None), RID, ["body:pdf:page2"], id="pdf-by-magic-no-type"),
        pytest.param(
            upload("notes.txt", PDF), RID, ["multipart:notes.txt:pdf:page2"], id="pdf-named-txt"
        ),
        pytest.param(
            upload("letter.docx", DOCX), CARD, ["multipart:letter.docx:document"], id="docx"
        ),
        pytest.param(
            upload("letter.docx", DOCX), RID, ["multipart:letter.docx:header1"], id="docx-header"
        ),
        pytest.param(
            post(DOCX, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
            CARD,
            ["body:docx:document"],
            id="docx-body",
        ),
        pytest.param(
            upload("orders.xlsx", XLSX), RID, ["multipart:orders.xlsx:客户!row2"], id="xlsx"
        ),
        pytest.param(
            upload("orders.xlsx", XLSX),
            PHONE,
            ["multipart:orders.xlsx:客户!row2"],
            id="xlsx-number-cell-reads-as-digits",
        ),
        pytest.param(
            post(XLSX, "application/octet-stream"), RID, ["body:xlsx:客户!row2"], id="xlsx-body"
        ),
        pytest.param(
            upload("export.zip", zip_bytes({"customers.csv": CSV, "readme.txt": b"hello"})),
            RID,
            ["multipart:export.zip:customers.csv:row2"],
            id="zip-csv",
        ),
        pytest.param(
            upload("export.zip", zip_bytes({"dir/scan.pdf": PDF, "o.json": b'{"id": "x"}'})),
            RID,
            ["multipart:export.zip:dir/scan.pdf:page2"],
            id="zip-pdf",
        ),
        pytest.param(
            upload("export.zip", zip_bytes({"c.json": json.dumps({"card": CARD}).encode()})),
            CARD,
            ["multipart:export.zip:c.json:$.card"],
            id="zip-json",
        ),
        pytest.param(
            upload("export.zip", zip_bytes({"inner.zip": zip_bytes({"a.csv": CSV})})),
            RID,
            ["multipart:export.zip:inner.zip:a.csv:row2"],
            id="nested-zip",
        ),
        pytest.param(
            upload("export.zip", zip_bytes({"orders.xlsx": XLSX, "l.docx": DOCX})),
            CARD,
            ["multipart:export.zip:l.docx:document"],
            id="office-in-zip",
        ),
        pytest.param(
            upload("data.csv", zip_bytes({"a.csv": CSV})),
            RID,
            ["multipart:data.csv:zip:a.csv:row2"],
            id="zip-named-csv-is-a-zip",
        ),
        pytest.param(
            upload("export.zip", zip_bytes({"a.csv": CSV}, zipfile.ZIP_LZMA)),
            RID,
            ["multipart:export.zip:a.csv:row2"],
            id="zip-lzma",
        ),
    ],
)
def test_documents_are_read_where_the_data_is(
    request_: RawRequest, value: str, locations: list[str]
) -> None:
    assert holding(request_, value) == locations


def test_table_rows_carry_the_header_words_as_context() -> None:
    ex = extract(upload("orders.csv", CSV), SMALL)
    assert [(s.location, s.context) for s in ex.segments] == [
        ("multipart:orders.csv:row1", ()),
        ("multipart:orders.csv:row2", ("name", "phone", "id", "no")),
        ("multipart:orders.csv:row3", ("name", "phone", "id", "no")),
    ]
    sheet = extract(upload("o.xlsx", XLSX), SMALL).segments
    assert [(s.location, s.text, s.context) for s in sheet] == [
        ("multipart:o.xlsx:客户!row1", "name\tcustomerPhone\tid", ()),
        (
            "multipart:o.xlsx:客户!row2",
            f"张三\t{PHONE}\t{RID}",
            ("name", "customer", "phone", "id"),
        ),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a,b\n1,2\n", [("row1", "a,b"), ("row2", "1,2")]),
        ("a,b\r\n1,2", [("row1", "a,b"), ("row2", "1,2")]),
        ('a,b\n"x\ny",2\n', [("row1", "a,b"), ("row2", '"x\ny",2')]),  # newline inside quotes
        ("a,b\n\n\n1,2\n", [("row1", "a,b"), ("row4", "1,2")]),  # empty rows keep numbers
        ("13800138000\n", [("row1", "13800138000")]),  # no header: the first row is data too
    ],
)
def test_csv_records(text: str, expected: list[tuple[str, str]]) -> None:
    found = segments(post(text.encode(), "text/csv"))
    assert found == [(f"body:csv:{loc}", row) for loc, row in expected]


def test_owner_password_only_pdf_is_read() -> None:
    """Anyone can open it (empty user password), so the recipient can read it too."""
    data = encrypted_pdf(["x", f"ID {RID}"], user_password="")
    assert holding(post(data, "application/pdf"), RID) == ["body:pdf:page2"]


# ---------------------------------------------------------------- refused: fail closed


def _bomb() -> bytes:
    return zip_bytes({"zeros.csv": bytes(20 << 20)})  # 20 MiB in ~20 KB


def _wide_zip(count: int) -> bytes:
    return zip_bytes({f"f{i}.txt": b"x" for i in range(count)})


def _past_budget() -> bytes:
    rows = "".join(f"{i},{i * 7919 % 100003}\n" for i in range(400_000))  # compresses ~3x
    return zip_bytes({"big.csv": rows.encode()})


def _nested(depth: int) -> bytes:
    data = zip_bytes({"a.csv": CSV})
    for _ in range(depth):
        data = zip_bytes({"in.zip": data})
    return data


@pytest.mark.parametrize(
    ("request_", "error", "reason"),
    [
        pytest.param(upload("a.zip", _bomb()), Oversize, "expands", id="zip-bomb-ratio"),
        pytest.param(upload("a.zip", _past_budget()), Oversize, "past", id="zip-past-budget"),
        pytest.param(
            upload("a.zip", _wide_zip(documents.MAX_ENTRIES + 1)),
            Oversize,
            "entries",
            id="too-many-entries",
        ),
        pytest.param(upload("a.zip", _nested(6)), Uninspectable, "max_depth", id="zip-too-deep"),
        pytest.param(
            upload("a.zip", encrypted_zip({"a.csv": CSV})),
            Uninspectable,
            "encrypted",
            id="encrypted-zip",
        ),
        pytest.param(
            upload(
                "a.xlsx", encrypted_zip({"[Content_Types].xml": b"<x/>", "xl/workbook.xml": b""})
            ),
            Uninspectable,
            "encrypted",
            id="encrypted-entries-in-xlsx",
        ),
        pytest.param(
            upload("s.pdf", encrypted_pdf(["x", RID])),
            Uninspectable,
            "encrypted",
            id="encrypted-pdf",
        ),
        pytest.param(upload("s.xlsx", OLE_FILE), Uninspectable, "OLE", id="ole-encrypted-office"),
        pytest.param(upload("s.csv", OLE_FILE), Uninspectable, "OLE", id="ole-named-csv"),
        pytest.param(post(OLE_FILE, "application/msword"), Uninspectable, "OLE", id="legacy-doc"),
        pytest.param(
            upload("s.pdf", pdf_bytes(["", ""])), Uninspectable, "text layer", id="pdf-no-text"
        ),
        pytest.param(
            upload("s.pdf", b"%PDF-1.4\n" + RID.encode() + b"\x00\xff garbage"),
            Uninspectable,
            "PDF",
            id="pdf-broken",
        ),
        pytest.param(
            upload("a.zip", zip_bytes({"a.csv": CSV})[:-30]),
            Uninspectable,
            "ZIP",
            id="zip-truncated",
        ),
        pytest.param(
            post(b"not a zip " + RID.encode(), "application/zip"),
            Uninspectable,
            "ZIP",
            id="declared-zip-not-a-zip",
        ),
        pytest.param(
            upload("a.zip", zip_bytes({"photo.png": b"\x89PNG\r\n\x1a\n\x00\x00" + RID.encode()})),
            Uninspectable,
            "corrupt PNG",
            id="corrupt-image-entry-in-zip",
        ),
        pytest.param(
            upload(
                "l.docx",
                zip_bytes(
                    {
                        "[Content_Types].xml": b"<x/>",
                        "word/document.xml": b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>",
                    }
                ),
            ),
            Uninspectable,
            "DOCX",
            id="docx-with-entities",
        ),
    ],
)
def test_refused(request_: RawRequest, error: type[Exception], reason: str) -> None:
    with pytest.raises(error) as info:
        extract(request_, SMALL)
    assert reason in str(info.value)
    assert RID not in str(info.value)


def test_the_budget_is_shared_by_all_entries() -> None:
    """Each entry fits, together they do not: nesting cannot multiply the cap."""
    limits = Limits(max_body_bytes=4 << 20, max_decoded_bytes=300_000, max_depth=5)
    one = zip_bytes({"a.txt": (b"0123456789" * 10_000)})  # 100 kB each, ratio < 100
    extract(upload("a.zip", zip_bytes({"1.zip": one})), limits)
    with pytest.raises(Oversize):
        extract(upload("a.zip", zip_bytes({f"{i}.zip": one for i in range(4)})), limits)


# ---------------------------------------------------------------- masking


def test_masked_csv_upload_keeps_its_format() -> None:
    ex = extract(upload("orders.csv", CSV), SMALL)
    row2 = [s.location for s in ex.segments].index("multipart:orders.csv:row2")
    text = ex.segments[row2].text
    start = text.index(PHONE)
    new = ex.rewrite({row2: [(start, start + 11, "138****8000")]})
    body, _ = multipart({"file": ("orders.csv", CSV.replace(PHONE.encode(), b"138****8000"))})
    assert new.body == body
    part = new.body.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n--", 1)[0]
    assert list(csv.reader(io.StringIO(part.decode())))[1] == ["张三", "138****8000", RID]


def test_masked_gb18030_csv_stays_gb18030() -> None:
    data = CSV.decode().encode("gb18030")
    ex = extract(post(data, "text/csv"), SMALL)
    new = ex.rewrite({1: [(0, 2, "张*")]})
    assert new.body == data.replace("张三".encode("gb18030"), "张*".encode("gb18030"))


@pytest.mark.parametrize(
    ("request_", "kind"),
    [
        pytest.param(upload("s.pdf", PDF), "PDF", id="pdf"),
        pytest.param(upload("l.docx", DOCX), "DOCX", id="docx"),
        pytest.param(upload("o.xlsx", XLSX), "XLSX", id="xlsx"),
        pytest.param(upload("e.zip", zip_bytes({"a.csv": CSV})), "ZIP", id="zip"),
    ],
)
def test_documents_we_cannot_rewrite_raise_cannot_mask(request_: RawRequest, kind: str) -> None:
    ex = extract(request_, SMALL)
    target = next(i for i, s in enumerate(ex.segments) if RID in s.text or CARD in s.text)
    with pytest.raises(CannotMask) as info:
        ex.rewrite({target: [(0, 1, "*")]})
    assert kind in str(info.value) and RID not in str(info.value)


def test_other_parts_still_mask_next_to_a_document() -> None:
    body, ctype = multipart(
        {"file": ("s.pdf", pdf_bytes(["no data here"])), "note": ("n.txt", PHONE.encode())}
    )
    ex = extract(post(body, ctype), SMALL)
    note = [s.location for s in ex.segments].index("multipart:n.txt")
    assert PHONE.encode() not in ex.rewrite({note: [(3, 7, "****")]}).body


@pytest.mark.parametrize(
    ("label", "kind", "expected"),
    [
        ("body", "pdf", "body:pdf"),
        ("multipart:scan.pdf", "pdf", "multipart:scan.pdf"),
        ("multipart:scan.PDF", "pdf", "multipart:scan.PDF"),
        ("multipart:notes.txt", "pdf", "multipart:notes.txt:pdf"),
        ("json:$.file|base64", "zip", "json:$.file|base64:zip"),
    ],
)
def test_located(label: str, kind: str, expected: str) -> None:
    assert documents.located(label, kind) == expected
