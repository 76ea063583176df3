"""Every byte a receiver could read as text is read as text: UTF-16/32 without a BOM, NULs and
invisible separators between digits, overlong UTF-8, base64 and percent layers in UTF-16,
folded headers and control characters in headers.

Unit level: ``decode_text``, ``sniff_wide``, ``header_text``, ``normalize``; then through
``extract`` and the real detector (the leaks a hostile-sender probe found), and masking back
through each encoding.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, unquote_to_bytes

import pytest
from detection_support import shared_detector

from detectors.normalize import normalize
from proxy.errors import Uninspectable
from proxy.extraction.decode import decode_text, header_text, is_text_like, sniff_wide
from proxy.extraction.extract import Limits, RawRequest, extract

URL = "https://api.example.com/x"
RID = "320582198604230513"  # valid: province 32, born 1986-04-23, MOD 11-2 check 3
RID_TEXT = "客户身份证 " + RID + " 张三"
MOBILE = "13800138000"
CARD = "6222021234567890123"  # UnionPay 62, Luhn-valid
WIDE = ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")


def overlong(text: str) -> bytes:
    """Each ASCII character as its two-byte overlong form (``3`` -> ``\\xc0\\xb3``)."""
    return b"".join(bytes([0xC0 | ord(c) >> 6, 0x80 | ord(c) & 0x3F]) for c in text)


# ---------------------------------------------------------------- decode_text


@pytest.mark.parametrize("encoding", WIDE)
@pytest.mark.parametrize("declared", [None, "latin-1", "utf-8", "gbk", "us-ascii"])
def test_wide_text_without_bom_is_read_by_its_nuls(encoding, declared):
    data = RID_TEXT.encode(encoding)
    text, codec = decode_text(data, declared)
    assert (text, codec.name, codec.bom) == (RID_TEXT, encoding, b"")
    assert codec.encode(text) == data  # a rewrite gives the same bytes back


@pytest.mark.parametrize("encoding", WIDE)
def test_wide_ascii_only_text_is_read_by_its_nuls(encoding):
    assert decode_text(RID.encode(encoding), None)[0] == RID


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("13800138000".encode("utf-16-le"), "utf-16-le"),
        ("13800138000".encode("utf-16-be"), "utf-16-be"),
        ("张三 1".encode("utf-32-le"), "utf-32-le"),
        ("张三 1".encode("utf-32-be"), "utf-32-be"),
        ("张三李四".encode("utf-16-le"), None),  # no NUL: nothing to go by
        (b"13800138000", None),
        (b"3\x002\x00X", None),  # odd length: no width fits
        (b"\x00A" * 8 + b"3\x002\x000\x00", None),  # NULs on both sides: no single width
        (b"\x00\x00\x00\x00", "utf-32-le"),
    ],
)
def test_sniff_wide(data, expected):
    assert sniff_wide(data) == expected


@pytest.mark.parametrize(
    ("data", "declared", "expected"),
    [
        # NULs that fit no width stay in the text; the detectors drop them (normalize below).
        (b"3\x002\x000\x005\x00X", None, "3\x002\x000\x005\x00X"),
        (b"3\x002\x000\x005\x00X", "latin-1", "3\x002\x000\x005\x00X"),
        # Bytes that only look wide (C1 control units) are not read as UTF-16.
        (b"\x81\x00\x82\x00" * 4, "latin-1", "\x81\x00\x82\x00" * 4),
        ("张三".encode("gbk"), None, "张三"),
        ("张三 138".encode(), "gbk", "张三 138"),
        ("张三".encode("utf-16"), None, "张三"),
    ],
)
def test_text_readings(data, declared, expected):
    assert decode_text(data, declared)[0] == expected


@pytest.mark.parametrize(
    ("data", "declared"),
    [
        (overlong(RID), None),  # all overlong
        (overlong(RID), "latin-1"),  # a label does not turn it into text
        (b"id " + overlong("3205") + b"82198604230513", None),  # partly overlong, else ASCII
        ("客户 ".encode() + overlong(MOBILE), None),  # overlong inside UTF-8
        # GB18030 elsewhere in the body: the run of digits still shows two overlong forms
        ("张三 ".encode("gbk") + overlong("13") + b"800138000", None),
        (b"\xe0\x80\xb3\xe0\x80\xb2" + b"0582198604230513", None),  # three-byte forms
        (b"\xf0\x80\x80\xb3\xf0\x80\x80\xb2" + b"0582198604230513", None),  # four-byte forms
    ],
)
def test_overlong_utf8_is_uninspectable(data, declared):
    with pytest.raises(Uninspectable, match="overlong"):
        decode_text(data, declared)


@pytest.mark.parametrize(
    "text",
    [
        "来自北京的客户",  # 来 is C0 B4 in GBK: the overlong form of "4"
        "联系人 来1次 拉13800138000",  # one C0/C1 ideograph next to digits, not two
        "腊月 辣椒 来电 莱阳 赖 蓝 婪 栏 拦",
    ],
)
def test_gbk_text_with_c0_c1_ideographs_is_not_refused(text):
    assert decode_text(text.encode("gbk"), None)[0] == text


def test_is_text_like():
    assert is_text_like("张三 13800138000\n")
    assert not is_text_like("\ue000\ue001abc")
    assert not is_text_like("\x01\x02abc")


# ---------------------------------------------------------------- normalize


@pytest.mark.parametrize(
    "text",
    [
        "\x00".join(RID),
        "\u00ad".join(RID),
        "\u200b".join(RID),
        "\u2060".join(RID),
        "\x7f".join(RID),
        "\x1f".join(RID),
        "\x85".join(RID),  # C1 next line
        "\U000e0020".join(RID),  # tag space
        "\u180e".join(RID),
        "\ufeff".join(RID),
        "id: " + "\x00".join(RID) + "\x00",
    ],
)
def test_separators_a_receiver_drops_are_dropped_and_map_back(text):
    normalized = normalize(text)
    start = normalized.text.index(RID)
    o_start, o_end = normalized.span(start, start + len(RID))
    assert text[o_start] == RID[0] and text[o_end - 1] == RID[-1]
    assert normalize(text[o_start:o_end]).text == RID


@pytest.mark.parametrize(
    "text",
    [
        "\u0300".join(RID),  # combining grave on every digit
        "\u20e3".join(RID),  # combining keycap
        "".join(chr(0x0660 + int(c)) for c in RID),  # Arabic-Indic digits
        "".join(chr(0x0966 + int(c)) for c in RID),  # Devanagari digits
        "".join(chr(0x1E950 + int(c)) for c in RID),  # Adlam digits (astral)
        "id 😀 " + "\U000e0020".join(RID),  # tag characters next to an emoji
    ],
)
def test_digits_a_reader_sees_are_ascii_digits(text):
    normalized = normalize(text)
    start = normalized.text.index(RID)
    o_start, o_end = normalized.span(start, start + len(RID))
    # the original span runs from the first digit to the end (the last digit's marks included)
    assert normalize(text[o_start:o_end]).text == RID and o_end == len(text)
    assert normalize(text[o_start]).text == RID[0]


@pytest.mark.parametrize("text", ["José", "Zoë Smith", "张三的订单 😀", "naïve café"])
def test_ordinary_text_keeps_its_letters(text):
    assert normalize(text).text == text


def test_tab_and_newlines_stay():
    assert normalize("a\tb\r\nc\x0bd").text == "a\tb\r\nc\x0bd"


# ---------------------------------------------------------------- headers


@pytest.mark.parametrize(
    ("value", "seen"),
    [
        ("320582\r\n 198604230513", "320582198604230513"),
        ("320582\r\n\t198604230513", "320582198604230513"),
        ("138\r\n  0013\r\n 8000", "13800138000"),
        ("plain value", "plain value"),
        ("tab\tinside", "tab\tinside"),
    ],
)
def test_header_folds_are_removed(value, seen):
    assert header_text("X-Customer-Id", value) == seen


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("X-Customer-Id", "320582\x00198604230513"),
        ("X-Customer-Id", "3205821986\x0004230513"),
        ("X-Customer-Id", "1\x01"),
        ("X-Customer-Id", "a\rb"),  # a bare CR that is not a fold
        ("X-Customer-Id", "a\nb"),
        ("X-Customer-Id", "a\x7f"),
        ("X-Cus\x00tomer", "1"),
    ],
)
def test_header_control_characters_are_uninspectable(name, value):
    with pytest.raises(Uninspectable) as info:
        header_text(name, value)
    assert "1986" not in str(info.value)


def test_any_header_with_a_nul_makes_the_request_uninspectable():
    # Also a protocol header nobody inspects: a NUL there splits the request for some parser.
    request = RawRequest("GET", URL, (("user-agent", "curl\x00/8"),))
    with pytest.raises(Uninspectable):
        extract(request, Limits())


def test_folded_header_is_found_and_masked_unfolded():
    request = RawRequest("GET", URL, (("x-phone", "138\r\n 0013\r\n 8000"), ("x-other", "a\r\n b")))
    extraction = extract(request, Limits())
    index, segment = next(
        (i, s) for i, s in enumerate(extraction.segments) if s.location == "header:x-phone"
    )
    assert segment.text == MOBILE
    rewritten = extraction.rewrite({index: [(3, 7, "****")]})
    # the edited header is written unfolded; the other one is left exactly as it came
    assert rewritten.headers == (("x-phone", "138****8000"), ("x-other", "a\r\n b"))


# ---------------------------------------------------------------- through extract + detector


def body(content_type: str | None, data: bytes) -> RawRequest:
    return RawRequest("POST", URL, (("content-type", content_type),) if content_type else (), data)


def form_pct(name: str, data: bytes) -> RawRequest:
    value = "".join(f"%{b:02X}" for b in data)
    return body("application/x-www-form-urlencoded", f"{name}={value}".encode())


def multipart_txt(data: bytes) -> RawRequest:
    content = (
        b'--b\r\nContent-Disposition: form-data; name="f"; filename="notes.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\n" + data + b"\r\n--b--\r\n"
    )
    return body("multipart/form-data; boundary=b", content)


def b64json(data: bytes, urlsafe: bool = False) -> RawRequest:
    encoded = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(data).decode()
    return body("application/json", json.dumps({"blob": encoded}).encode())


LEAKS = [
    ("utf16le-text", body("text/plain", RID_TEXT.encode("utf-16-le"))),
    ("utf16be-text", body("text/plain", RID_TEXT.encode("utf-16-be"))),
    ("utf32le-text", body("text/plain", RID.encode("utf-32-le"))),
    ("utf32be-text", body("text/plain", RID.encode("utf-32-be"))),
    ("utf16le-latin1-label", body("text/plain; charset=latin-1", RID.encode("utf-16-le"))),
    ("utf16be-csv", body("text/csv", f"name,id\n张三,{RID}\n".encode("utf-16-be"))),
    ("utf16le-xml", body("application/xml", f"<id>{RID}</id>".encode("utf-16-le"))),
    ("utf32le-xml", body("text/xml", f"<id>{RID}</id>".encode("utf-32-le"))),
    ("utf16le-multipart-txt", multipart_txt(RID.encode("utf-16-le"))),
    ("utf16be-multipart-txt", multipart_txt(RID_TEXT.encode("utf-16-be"))),
    ("pct-utf16le-form", form_pct("v", RID.encode("utf-16-le"))),
    ("pct-utf16be-form", form_pct("v", RID.encode("utf-16-be"))),
    ("pct-utf16-bom-form", form_pct("v", RID.encode("utf-16"))),
    (
        "pct-utf16-in-json",
        body(
            "application/json",
            json.dumps({"v": "".join(f"%{b:02X}" for b in RID.encode("utf-16-le"))}).encode(),
        ),
    ),
    ("b64-utf16le-json", b64json(RID_TEXT.encode("utf-16-le"))),
    ("b64-utf16be-json", b64json(RID.encode("utf-16-be"))),
    ("b64-utf16-bom-json", b64json(RID.encode("utf-16"))),
    ("b64url-utf32le-json", b64json(RID.encode("utf-32-le"), urlsafe=True)),
    ("b64-gb18030-json", b64json(RID_TEXT.encode("gb18030"))),
    ("nul-separated-text", body("text/plain", "\x00".join(RID).encode())),
    ("nul-separated-json", body("application/json", json.dumps({"v": "\x00".join(RID)}).encode())),
    (
        "shy-separated-json",
        body("application/json", json.dumps({"v": "\u00ad".join(RID)}).encode()),
    ),
    (
        "shy-separated-latin1",
        body("text/plain; charset=latin-1", "\xad".join(RID).encode("latin-1")),
    ),
    ("zw-separated-text", body("text/plain", "\u200b".join(RID).encode())),
    ("word-joiner-text", body("text/plain", "\u2060".join(RID).encode())),
    (
        "nul-separated-base64",
        body(
            "application/json",
            json.dumps({"v": "\x00".join(base64.b64encode(RID.encode()).decode())}).encode(),
        ),
    ),
    (
        "shy-separated-percent",
        body(
            "application/json",
            json.dumps({"v": "\u00ad".join("".join(f"%{b:02X}" for b in RID.encode()))}).encode(),
        ),
    ),
    ("nul-entities", body("text/html", "&#0;".join(f"&#{ord(c)};" for c in RID).encode())),
    ("base64-of-nul-separated", b64json("身份证 ".encode() + "\x00".join(RID).encode())),
    ("combining-marks-text", body("text/plain", "\u0301".join(RID).encode())),
    (
        "arabic-indic-json",
        body(
            "application/json",
            json.dumps({"idNo": "".join(chr(0x0660 + int(c)) for c in RID)}).encode(),
        ),
    ),
    ("shy-separated-header", RawRequest("GET", URL, (("x-id", "\u00ad".join(RID)),))),
    ("folded-header", RawRequest("GET", URL, (("x-customer-id", RID[:6] + "\r\n " + RID[6:]),))),
]


@pytest.mark.parametrize("request_", [pytest.param(r, id=n) for n, r in LEAKS])
def test_each_leak_is_found(request_):
    extraction = extract(request_, Limits())
    findings = shared_detector().analyze(extraction.segments)
    assert "CN_RESIDENT_ID" in {f.entity for f in findings}


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le"])
def test_masked_wide_body_keeps_its_encoding(encoding):
    text = f"call {MOBILE} now"
    extraction = extract(body("text/plain", text.encode(encoding)), Limits())
    [index] = [i for i, s in enumerate(extraction.segments) if MOBILE in s.text]
    start = extraction.segments[index].text.index(MOBILE)
    rewritten = extraction.rewrite({index: [(start + 3, start + 7, "****")]})
    assert rewritten.body == "call 138****8000 now".encode(encoding)


def test_masked_percent_utf16_field_is_percent_utf16_again():
    extraction = extract(form_pct("phone", MOBILE.encode("utf-16-le")), Limits())
    [index] = [i for i, s in enumerate(extraction.segments) if s.text == MOBILE]
    rewritten = extraction.rewrite({index: [(3, 7, "****")]})
    value = rewritten.body.partition(b"=")[2]
    assert unquote_to_bytes(value).decode("utf-16-le") == "138****8000"


def test_masked_base64_utf16_is_base64_utf16_again():
    extraction = extract(b64json(f"tel {MOBILE}".encode("utf-16-le")), Limits())
    [index] = [i for i, s in enumerate(extraction.segments) if s.location == "json:$.blob|base64"]
    start = extraction.segments[index].text.index(MOBILE)
    rewritten = extraction.rewrite({index: [(start + 3, start + 7, "****")]})
    sent = json.loads(rewritten.body)["blob"]
    assert base64.b64decode(sent).decode("utf-16-le") == "tel 138****8000"


def test_masked_nul_separated_base64_is_base64_again():
    blob = base64.b64encode(f"tel {MOBILE}".encode()).decode()
    sent = "\x00".join(blob)
    extraction = extract(body("application/json", json.dumps({"v": sent}).encode()), Limits())
    [index] = [i for i, s in enumerate(extraction.segments) if s.location == "json:$.v|base64"]
    start = extraction.segments[index].text.index(MOBILE)
    rewritten = extraction.rewrite({index: [(start + 3, start + 7, "****")]})
    # the span of the base64 run (NULs inside it included) is re-encoded whole
    assert base64.b64decode(json.loads(rewritten.body)["v"]) == b"tel 138****8000"


def test_nul_separated_value_is_masked_over_its_nuls():
    text = "手机 " + "\x00".join(MOBILE)
    request = body("application/json", json.dumps({"phone": text}).encode())
    extraction = extract(request, Limits())
    findings = [
        f for f in shared_detector().analyze(extraction.segments) if f.entity == "PHONE_NUMBER"
    ]
    [finding] = findings
    assert (finding.start, finding.end) == (3, len(text))  # from the first digit to the last
    rewritten = extraction.rewrite({finding.segment: [(finding.start, finding.end, "#")]})
    assert json.loads(rewritten.body) == {"phone": "手机 #"}


@pytest.mark.parametrize(
    "request_",
    [
        pytest.param(body("text/plain", overlong(RID)), id="overlong-text"),
        pytest.param(body("text/csv", b"id\n" + overlong(RID) + b"\n"), id="overlong-csv"),
        pytest.param(multipart_txt(overlong(MOBILE)), id="overlong-multipart"),
        pytest.param(form_pct("v", overlong(RID)), id="overlong-pct-form"),
        pytest.param(b64json(b"id " + overlong(RID)), id="overlong-base64"),
        pytest.param(
            body(
                "application/json",
                json.dumps({"v": "".join(f"%{b:02X}" for b in overlong(RID))}).encode(),
            ),
            id="overlong-pct-in-json",
        ),
        pytest.param(RawRequest("GET", URL, (("x-id", "3205\x00"),)), id="nul-in-header"),
    ],
)
def test_unreadable_the_same_way_by_every_receiver_is_uninspectable(request_):
    with pytest.raises(Uninspectable):
        extract(request_, Limits())


@pytest.mark.parametrize(
    "request_",
    [
        pytest.param(
            body("text/plain", "普通的中文内容, 没有个人信息.".encode("utf-16-le")), id="utf16"
        ),
        pytest.param(b64json("hello world, nothing here".encode("utf-16-le")), id="b64-utf16"),
        pytest.param(body("text/plain", "来自北京的问候".encode("gbk")), id="gbk"),
        pytest.param(
            body("application/json", json.dumps({"v": quote("来自北京".encode("gbk"))}).encode()),
            id="gbk-percent",
        ),
        pytest.param(b64json(bytes(range(256)) * 8), id="binary-base64"),
    ],
)
def test_clean_wide_and_gbk_text_has_no_findings(request_):
    extraction = extract(request_, Limits())
    assert shared_detector().analyze(extraction.segments) == []


def _json_segments(value: str) -> list[tuple[str, str]]:
    request = body("application/json", json.dumps({"v": value}).encode())
    return [(s.location, s.text) for s in extract(request, Limits()).segments[1:]]


def test_nul_between_two_base64_values_separates_them():
    first = base64.b64encode(f"tel {MOBILE}".encode()).decode().rstrip("=")
    second = base64.b64encode(f"id {RID}".encode()).decode().rstrip("=")
    decoded = [text for location, text in _json_segments(first + "\x00" + second)[1:]]
    assert decoded == [f"tel {MOBILE}", f"id {RID}"]


def test_an_encoding_found_as_sent_is_not_decoded_again_without_invisibles():
    blob = base64.b64encode(f"tel {MOBILE}".encode()).decode()
    assert _json_segments(blob + "\u200b") == [
        ("json:$.v", blob + "\u200b"),
        ("json:$.v|base64", f"tel {MOBILE}"),
    ]
