"""End to end: personal data hidden under encodings or inside documents, sent through the real
`baomi run` over HTTPS, is blocked and never reaches the upstream; a masked CSV keeps its format.

The assertion is what the upstream received (nothing), not only the status code.
"""

from __future__ import annotations

import base64
import gzip
import json
from urllib.parse import quote

import pytest
from document_samples import docx_bytes, multipart, pdf_bytes, xlsx_bytes, zip_bytes

pytestmark = pytest.mark.e2e

RESIDENT_ID = "11010519491231002X"
CARD = "6222021234567890123"  # UnionPay 62, Luhn-valid
MOBILE = "13800138000"


def b64(data: str | bytes) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def pct(text: str) -> str:
    return "".join(f"%{b:02X}" for b in text.encode())


def as_json(**fields: object) -> dict:
    return {"content": json.dumps(fields).encode(), "headers": {"content-type": "application/json"}}


def as_body(data: bytes, content_type: str) -> dict:
    return {"content": data, "headers": {"content-type": content_type}}


def as_upload(filename: str, data: bytes) -> dict:
    body, content_type = multipart({"file": (filename, data)})
    return as_body(body, content_type)


CSV = f"name,phone,id_no\n张三,{MOBILE},{RESIDENT_ID}\n".encode()

# (name, path-and-query, request kwargs): each carries a resident ID or a card number
BLOCKED = [
    ("base64-json", "/api", as_json(payload=b64(RESIDENT_ID))),
    ("base64url-query", "/s?token=" + base64.urlsafe_b64encode(RESIDENT_ID.encode()).decode(), {}),
    (
        "base64-form-json",
        "/f",
        as_body(
            b"data=" + quote(b64(json.dumps({"idNo": RESIDENT_ID}))).encode(),
            "application/x-www-form-urlencoded",
        ),
    ),
    (
        "base64-whole-body",
        "/raw",
        as_body(b64("身份证 " + RESIDENT_ID).encode(), "application/octet-stream"),
    ),
    ("base64-twice", "/api", as_json(card=b64(b64(CARD)))),
    ("base64-gzip", "/api", as_json(blob=b64(gzip.compress(json.dumps({"card": CARD}).encode())))),
    ("percent-twice-query", "/s?q=" + quote(pct(RESIDENT_ID)), {}),
    ("percent-in-json", "/api", as_json(cardNo=pct(CARD))),
    (
        "html-entities",
        "/t",
        as_body("".join(f"&#{ord(c)};" for c in RESIDENT_ID).encode(), "text/html"),
    ),
    ("html-hex-entities", "/api", as_json(card="".join(f"&#x{ord(c):x};" for c in CARD))),
    ("json-escapes", "/api", as_json(v="".join(f"\\u{ord(c):04x}" for c in RESIDENT_ID))),
    ("embedded-json", "/api", as_json(data=json.dumps({"customer": {"idNo": RESIDENT_ID}}))),
    ("full-width", "/api", as_json(v="１１０１０５１９４９１２３１００２Ｘ")),
    ("zero-width", "/api", as_json(v="110105\u200b19491231\u200b002X")),
    (
        "gbk-no-charset",
        "/t",
        as_body(("客户身份证号码 " + RESIDENT_ID).encode("gbk"), "text/plain"),
    ),
    ("csv-upload", "/upload", as_upload("customers.csv", CSV)),
    ("pdf-upload", "/upload", as_upload("scan.pdf", pdf_bytes(["Invoice", "ID " + RESIDENT_ID]))),
    ("pdf-body", "/upload", as_body(pdf_bytes(["Card " + CARD]), "application/pdf")),
    ("docx-upload", "/upload", as_upload("letter.docx", docx_bytes([f"Card: {CARD}"]))),
    (
        "xlsx-upload",
        "/upload",
        as_upload("orders.xlsx", xlsx_bytes({"Sheet1": [["身份证"], [RESIDENT_ID]]})),
    ),
    ("zip-upload", "/upload", as_upload("export.zip", zip_bytes({"customers.csv": CSV}))),
    ("nested-zip", "/upload", as_upload("e.zip", zip_bytes({"in.zip": zip_bytes({"c.csv": CSV})}))),
    ("pdf-in-base64", "/api", as_json(file=b64(pdf_bytes(["ID " + RESIDENT_ID])))),
    ("hex-json", "/api", as_json(idNo=RESIDENT_ID.encode().hex())),  # Buffer...toString('hex')
    ("hex-upper-query", "/s?q=" + ("id " + RESIDENT_ID).encode().hex().upper(), {}),
    (
        "hex-form",
        "/f",
        as_body(b"card=0x" + CARD.encode().hex().encode(), "application/x-www-form-urlencoded"),
    ),
    ("zip-renamed-txt", "/upload", as_upload("notes.txt", zip_bytes({"c.csv": CSV}))),
]


@pytest.mark.parametrize(("path", "kwargs"), [pytest.param(p, k, id=n) for n, p, k in BLOCKED])
def test_hidden_identifiers_are_blocked_and_never_arrive(default_client, https_up, default_proxy,
                                                         path, kwargs):
    before = len(https_up.received)
    method = "POST" if kwargs else "GET"
    r = default_client.request(method, https_up.url(path), **kwargs)
    assert r.status_code == 403, r.text
    assert len(https_up.received) == before
    record = default_proxy.last_decision()
    assert record["action"] == "block"
    assert {"CN_RESIDENT_ID", "CREDIT_CARD"} & set(record["entity_counts"]), record
    assert RESIDENT_ID not in r.text and CARD not in r.text


def test_clean_base64_and_documents_arrive_unchanged(default_client, https_up):
    """Decoding must not turn ordinary traffic into blocks."""
    body = json.dumps(
        {
            "avatar": b64(bytes(range(256)) * 4),
            "note": b64("deliver after 6pm"),
            "sha": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "md5": "d41d8cd98f00b204e9800998ecf8427e",
            "trace": "550e8400-e29b-41d4-a716-446655440000",
            "note_hex": b"deliver after 6pm".hex(),
        }
    )
    before = len(https_up.received)
    r = default_client.post(
        https_up.url("/clean"), content=body.encode(), headers={"content-type": "application/json"}
    )
    assert r.status_code == 200
    assert len(https_up.received) == before + 1 and https_up.received[-1].body == body.encode()
    data, content_type = multipart({"file": ("report.pdf", pdf_bytes(["Quarterly report"]))})
    r = default_client.post(https_up.url("/upload"), content=data,
                            headers={"content-type": content_type})
    assert r.status_code == 200 and https_up.received[-1].body == data


def test_masked_csv_upload_keeps_its_format(default_client, https_up, default_proxy):
    csv = f"name,phone\n王五,{MOBILE}\n赵六,13900139000\n".encode()
    data, content_type = multipart({"file": ("contacts.csv", csv)})
    before = len(https_up.received)
    r = default_client.post(https_up.url("/upload"), content=data,
                            headers={"content-type": content_type})
    assert r.status_code == 200
    assert len(https_up.received) == before + 1
    got = https_up.received[-1].body
    expected, _ = multipart(
        {
            "file": (
                "contacts.csv",
                csv.replace(MOBILE.encode(), b"138********").replace(
                    b"13900139000", b"139********"
                ),
            )
        }
    )
    assert got == expected
    assert default_proxy.last_decision()["action"] == "mask"


def test_masked_base64_value_arrives_re_encoded(default_client, https_up):
    r = default_client.post(https_up.url("/api"),
                            json={"contact": b64("call " + MOBILE + " today")})
    assert r.status_code == 200
    sent = json.loads(https_up.received[-1].body)["contact"]
    assert base64.b64decode(sent).decode() == "call 138******** today"


def test_masked_hex_value_arrives_as_hex(default_client, https_up):
    r = default_client.post(https_up.url("/api"),
                            json={"contact": ("call " + MOBILE).encode().hex()})
    assert r.status_code == 200
    sent = json.loads(https_up.received[-1].body)["contact"]
    assert sent == b"call 138********".hex()


def test_phone_in_a_pdf_cannot_be_masked_so_it_is_blocked(default_client, https_up, default_proxy):
    data, content_type = multipart({"file": ("call.pdf", pdf_bytes(["Call " + MOBILE]))})
    before = len(https_up.received)
    r = default_client.post(https_up.url("/upload"), content=data,
                            headers={"content-type": content_type})
    assert r.status_code == 403
    assert len(https_up.received) == before
    record = default_proxy.last_decision()
    assert record["action"] == "block" and "cannot mask" in record["reason"]
    assert "PDF" in record["reason"]
