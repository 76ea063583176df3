"""Extraction of request bodies into segments, and rewriting them with masks."""

from __future__ import annotations

import gzip
import json
import tracemalloc
import zlib

import brotli
import pytest
import zstandard

from detectors.model import Segment
from proxy.errors import CannotMask, Oversize, Uninspectable
from proxy.extraction import extract as extract_module
from proxy.extraction.extract import Limits, RawRequest, extract, words

URL = "https://api.example.com/"  # no path segment: body tests see body segments only
PHONE = "13800138000"
SMALL = Limits(max_body_bytes=1 << 20, max_decoded_bytes=1 << 20, max_depth=5)


def post(
    body: bytes, content_type: str | None = None, encoding: str | None = None, url: str = URL
) -> RawRequest:
    headers = [("content-length", str(len(body)))]
    if content_type:
        headers.append(("content-type", content_type))
    if encoding:
        headers.append(("content-encoding", encoding))
    return RawRequest("POST", url, tuple(headers), body)


def found(request: RawRequest, limits: Limits = SMALL) -> list[tuple[str, str]]:
    return [(s.location, s.text) for s in extract(request, limits).segments]


MULTIPART = (
    b"--XyZ\r\n"
    b'Content-Disposition: form-data; name="mobile"\r\n\r\n'
    b"13800138000\r\n"
    b"--XyZ\r\n"
    b'Content-Disposition: form-data; name="upload"; filename="customers.csv"\r\n'
    b"Content-Type: text/csv\r\n\r\n"
    b"name,phone\n\xe5\xbc\xa0\xe4\xb8\x89,13900139000\n\r\n"
    b"--XyZ\r\n"
    b'Content-Disposition: form-data; name="meta"; filename="order.json"\r\n'
    b"Content-Type: application/json\r\n\r\n"
    b'{"buyer": {"idCard": "11010519491231002X"}}\r\n'
    b"--XyZ\r\n"
    b'Content-Disposition: form-data; name="photo"; filename=""\r\n'
    b"Content-Type: application/octet-stream\r\n\r\n"
    b"\r\n"
    b"--XyZ--\r\n"
)


# ---------------------------------------------------------------- segments by body type


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        pytest.param(
            post(
                json.dumps(
                    {
                        "customer": {"phone": PHONE, "customerPhone": 13900139000, "age": 42},
                        "orders": [{"mobile": "13700137000"}, {"total": 12.5, "sku": 123456.0}],
                        "收件人": "张三",
                        "a-b": "x",
                        "it's": "y",
                        "empty": "",
                        "ok": True,
                    },
                    ensure_ascii=False,
                ).encode(),
                "application/json; charset=utf-8",
            ),
            [
                ("json:$.customer.phone", PHONE),
                ("json:$.customer.customerPhone", "13900139000"),
                ("json:$.orders[0].mobile", "13700137000"),
                ("json:$['收件人']", "张三"),
                ("json:$['a-b']", "x"),
                ("json:$['it\\'s']", "y"),
            ],
            id="json-nested",
        ),
        pytest.param(
            post(b'{"p": "x"}', "application/vnd.api+json"), [("json:$.p", "x")], id="plus-json"
        ),
        pytest.param(
            post(b'["a", ["b"]]', "text/json"),
            [("json:$[0]", "a"), ("json:$[1][0]", "b")],
            id="text-json",
        ),
        pytest.param(
            post(b'"13800138000"', "application/json"), [("json:$", PHONE)], id="json-scalar"
        ),
        pytest.param(
            post(b'{"phone": "x"}'), [("json:$.phone", "x")], id="json-sniffed-without-type"
        ),
        pytest.param(post(b'{"phone": x'), [("body", '{"phone": x')], id="not-json-without-type"),
        pytest.param(
            post(b'{"a": "1", "a": "13800138000"}', "application/json"),
            [("json:$.a", "1"), ("json:$.a", PHONE)],
            id="json-duplicate-keys-both-seen",
        ),
        pytest.param(
            post(b'{"13800138000": {"name": "x"}}', "application/json"),
            [("json:${0}", PHONE), ("json:${0}.name", "x")],
            id="json-key-that-is-data-kept-out-of-location",
        ),
        pytest.param(
            post(
                b"name=%E5%BC%A0%E4%B8%89&mobile=13800138000&note=a+b&flag",
                "application/x-www-form-urlencoded",
            ),
            [
                ("form:name", "张三"),
                ("form:mobile", PHONE),
                ("form:note", "a b"),
                ("form:", "flag"),
            ],
            id="form",
        ),
        pytest.param(
            post(b"a=x&email=y@z.com", "application/x-www-form-urlencoded"),
            [("form:a", "x"), ("form:email", "y@z.com")],
            id="form-email-trap",
        ),
        pytest.param(
            post(b"13800138000", "application/x-www-form-urlencoded"),
            [("form:", PHONE)],
            id="form-bare-value",
        ),
        pytest.param(
            post(MULTIPART, "multipart/form-data; boundary=XyZ"),
            [
                ("multipart:mobile", PHONE),
                # CSV files are one segment per row, header words as context (proxy.extraction.documents)
                ("multipart:customers.csv:row1", "name,phone"),
                ("multipart:customers.csv:row2", "张三,13900139000"),
                ("multipart:order.json:$.buyer.idCard", "11010519491231002X"),
            ],
            id="multipart",
        ),
        pytest.param(
            post("你好 13800138000".encode(), "text/plain"),
            [("text", "你好 13800138000")],
            id="text",
        ),
        pytest.param(
            post(b"a,b\n1,2\n", "text/csv"),
            [("body:csv:row1", "a,b"), ("body:csv:row2", "1,2")],
            id="csv",
        ),
        pytest.param(
            post(b"<r><phone>13800138000</phone></r>", "application/xml"),
            [("xml", "<r><phone>13800138000</phone></r>")],
            id="xml",
        ),
        pytest.param(post(b"<r/>", "application/soap+xml"), [("xml", "<r/>")], id="plus-xml"),
        pytest.param(
            post(b"13800138000", "application/octet-stream"),
            [("body", PHONE)],
            id="unknown-type-text",
        ),
        pytest.param(post(b"plain words"), [("body", "plain words")], id="no-type-text"),
        pytest.param(post(b"", "application/json"), [], id="empty-body"),
        pytest.param(RawRequest("GET", URL), [], id="no-body"),
        pytest.param(
            RawRequest(
                "GET",
                "https://h.example/a/13800138000/b%20c?id=1&mobile=138%2000138000&=z&e=a%40b.com#frag",
            ),
            [
                ("path", "/a/13800138000/b c"),
                ("query:id", "1"),
                ("query:mobile", "138 00138000"),
                ("query:", "z"),
                ("query:e", "a@b.com"),
            ],
            id="url-path-and-query",
        ),
        pytest.param(
            RawRequest("GET", "https://h.example/?q=%D5%C5%C8%FD"),
            [("query:q", "张三")],
            id="query-in-gbk",
        ),
        pytest.param(
            RawRequest("GET", "https://h.example/?q=%FF"),
            [("query:q", "\xff")],
            id="query-odd-bytes",
        ),
    ],
)
def test_segments_by_body_type(request_: RawRequest, expected: list[tuple[str, str]]) -> None:
    assert found(request_) == expected


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain; charset=gbk", "张三 13800138000".encode("gbk")),
        (
            "text/plain",
            "张三 13800138000".encode("gbk"),
        ),  # declared nothing: UTF-8 fails, GB18030 works
        ("text/plain; charset=utf-8", "张三 13800138000".encode("gbk")),  # declared wrongly
        (None, "张三 13800138000".encode("gbk")),
        ("text/plain; charset=no-such-charset", "张三 13800138000".encode()),
        ("text/plain", "\ufeff张三 13800138000".encode()),  # BOM
        ("text/plain", "\ufeff张三 13800138000".encode("utf-16-le")),  # UTF-16 with its BOM
        ("text/plain; charset=gbk", "张三 13800138000".encode()),  # UTF-8 labelled GBK
    ],
)
def test_chinese_text_in_any_declared_charset(content_type: str | None, body: bytes) -> None:
    assert [text for _, text in found(post(body, content_type))] == ["张三 13800138000"]


@pytest.mark.parametrize(
    "text",
    [
        "１３８００１３８０００",  # full-width digits
        "138\u200b0013\u200c8000",  # zero-width space and non-joiner
        "张\u00a0三\u3000",  # no-break and ideographic spaces
        "e\u0301",  # combining accent, not composed
    ],
)
@pytest.mark.parametrize(
    "content_type", ["application/json", "text/plain", "application/x-www-form-urlencoded"]
)
def test_unusual_characters_survive_untouched(text: str, content_type: str) -> None:
    if content_type == "application/json":
        body = json.dumps({"v": text}, ensure_ascii=True).encode()  # escaped: \uff11...
    elif content_type == "text/plain":
        body = text.encode()
    else:
        body = b"v=" + "".join(f"%{b:02X}" for b in text.encode()).encode()
    assert [t for _, t in found(post(body, content_type))] == [text]


def test_context_comes_from_the_field_path() -> None:
    body = (
        b'{"customerInfo": {"mobile_no": "1", "IDNumber": "2"}, "list": [{"recipientName": "3"}]}'
    )
    contexts = [s.context for s in extract(post(body, "application/json"), SMALL).segments]
    assert contexts == [
        ("customer", "info", "mobile", "no"),
        ("customer", "info", "id", "number"),
        ("list", "recipient", "name"),
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("customerPhone", ("customer", "phone")),
        ("mobile_no", ("mobile", "no")),
        ("收件人", ("收件人",)),
        ("address2", ("address",)),
        ("HTTPHeader", ("http", "header")),
        ("", ()),
    ],
)
def test_words(name: str, expected: tuple[str, ...]) -> None:
    assert words(name) == expected


# ---------------------------------------------------------------- content encodings


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data)


def _raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-15)
    return c.compress(data) + c.flush()


ENCODERS = {
    "gzip": _gzip,
    "x-gzip": _gzip,
    "deflate": zlib.compress,
    "br": brotli.compress,
    "zstd": lambda d: zstandard.ZstdCompressor().compress(d),
    "identity": lambda d: d,
}
JSON_BODY = json.dumps(
    {"customer": {"name": "张三", "phone": PHONE}, "note": "x" * 500}, ensure_ascii=False
).encode()


def encode(data: bytes, chain: list[str]) -> bytes:
    for name in chain:
        data = ENCODERS[name](data)
    return data


def decode(data: bytes, chain: list[str]) -> bytes:
    for name in reversed(chain):
        if name in ("gzip", "x-gzip"):
            data = gzip.decompress(data)
        elif name == "deflate":
            data = zlib.decompress(data, 15 if data[0] & 0x0F == 8 else -15)
        elif name == "br":
            data = brotli.decompress(data)
        elif name == "zstd":
            data = zstandard.ZstdDecompressor().stream_reader(data).read()
    return data


@pytest.mark.parametrize(
    "chain",
    [
        ["gzip"],
        ["x-gzip"],
        ["deflate"],
        ["br"],
        ["zstd"],
        ["identity"],
        ["gzip", "br"],
        ["zstd", "gzip", "deflate"],
    ],
)
def test_encodings_round_trip(chain: list[str]) -> None:
    request = post(encode(JSON_BODY, chain), "application/json", ", ".join(chain))
    ex = extract(request, SMALL)
    assert [(s.location, s.text) for s in ex.segments][:2] == [
        ("json:$.customer.name", "张三"),
        ("json:$.customer.phone", PHONE),
    ]
    assert ex.bytes_inspected == len(JSON_BODY)
    new = ex.rewrite({1: [(0, 11, "138****8000")]})
    plain = decode(new.body, chain)
    assert json.loads(plain)["customer"] == {"name": "张三", "phone": "138****8000"}
    assert dict(new.headers)["content-length"] == str(len(new.body))
    assert dict(new.headers)["content-encoding"] == ", ".join(chain)


def test_raw_deflate_is_read_and_written_raw() -> None:
    request = post(_raw_deflate(JSON_BODY), "application/json", "deflate")
    new = extract(request, SMALL).rewrite({1: [(0, 3, "***")]})
    assert json.loads(zlib.decompress(new.body, -15))["customer"]["phone"] == "***00138000"


def test_content_encoding_split_over_two_headers() -> None:
    body = encode(JSON_BODY, ["gzip", "br"])
    request = RawRequest(
        "POST",
        URL,
        (
            ("Content-Encoding", "gzip"),
            ("Content-Encoding", "br"),
            ("Content-Type", "application/json"),
        ),
        body,
    )
    assert found(request)[1] == ("json:$.customer.phone", PHONE)


def _gzip_bomb_one_member(size: int) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(1 << 20)
    return b"".join(c.compress(chunk) for _ in range(size >> 20)) + c.flush()


def _gzip_bomb_many_members(size: int) -> bytes:
    return gzip.compress(bytes(1 << 20), 9) * (size >> 20)  # 1 GB of zeros in ~1 MB


@pytest.mark.parametrize(
    ("encoding", "bomb"),
    [
        ("gzip", lambda: _gzip_bomb_many_members(1 << 30)),
        ("gzip", lambda: _gzip_bomb_one_member(64 << 20)),
        ("deflate", lambda: zlib.compress(bytes(64 << 20), 9)),
        ("br", lambda: brotli.compress(bytes(64 << 20), quality=1)),
        ("zstd", lambda: zstandard.ZstdCompressor().compress(bytes(64 << 20))),
        ("gzip, gzip", lambda: gzip.compress(_gzip_bomb_one_member(64 << 20))),
    ],
    ids=["gzip-1GB-members", "gzip-64MB", "deflate", "br", "zstd", "gzip-in-gzip"],
)
def test_decompression_bomb_stops_at_the_cap(encoding: str, bomb) -> None:  # type: ignore[no-untyped-def]
    body = bomb()
    limits = Limits(max_body_bytes=len(body) + 1, max_decoded_bytes=1 << 20, max_depth=5)
    tracemalloc.start()
    try:
        with pytest.raises(Oversize):
            extract(post(body, "text/plain", encoding), limits)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Python-side memory stays near the 1 MB cap, nowhere near the bomb's size.
    assert peak < 8 << 20


def test_body_at_the_decoded_cap_is_fine_one_byte_more_is_not() -> None:
    limits = Limits(max_body_bytes=1 << 20, max_decoded_bytes=1000, max_depth=5)
    assert found(post(gzip.compress(b"a" * 1000), "text/plain", "gzip"), limits) == [
        ("text", "a" * 1000)
    ]
    with pytest.raises(Oversize):
        extract(post(gzip.compress(b"a" * 1001), "text/plain", "gzip"), limits)


def test_raw_body_over_the_limit_is_oversize() -> None:
    limits = Limits(max_body_bytes=100, max_decoded_bytes=1 << 20, max_depth=5)
    found(post(b"a" * 100, "text/plain"), limits)
    with pytest.raises(Oversize):
        extract(post(b"a" * 101, "text/plain"), limits)


# ---------------------------------------------------------------- what cannot be inspected

SECRET = b"13800138000"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + SECRET + bytes(range(256))  # corrupt PNG
OPAQUE = b"\x00\x01opaque\x02" + SECRET


@pytest.mark.parametrize(
    "request_",
    [
        pytest.param(
            post(gzip.compress(SECRET * 10)[:-12], "text/plain", "gzip"), id="truncated-gzip"
        ),
        pytest.param(
            post(b"\x1f\x8b\x08\x00garbage" + SECRET, "text/plain", "gzip"), id="corrupt-gzip"
        ),
        pytest.param(
            post(gzip.compress(b"a") + SECRET, "text/plain", "gzip"), id="bytes-after-gzip"
        ),
        pytest.param(
            post(zlib.compress(SECRET) + SECRET, "text/plain", "deflate"), id="bytes-after-deflate"
        ),
        pytest.param(
            post(brotli.compress(SECRET * 50)[:-4], "text/plain", "br"), id="truncated-br"
        ),
        pytest.param(post(SECRET, "text/plain", "br"), id="not-br"),
        pytest.param(
            post(zstandard.ZstdCompressor().compress(SECRET * 50)[:-3], "text/plain", "zstd"),
            id="truncated-zstd",
        ),
        pytest.param(
            post(zstandard.ZstdCompressor().compress(SECRET) + SECRET, "text/plain", "zstd"),
            id="bytes-after-zstd",
        ),
        pytest.param(post(SECRET, "text/plain", "compress"), id="unknown-encoding"),
        pytest.param(post(SECRET, "text/plain", "gzip-but-not"), id="made-up-encoding"),
        pytest.param(
            post(SECRET, "text/plain", ", ".join(["identity", "gzip"] * 3)), id="too-many-layers"
        ),
        pytest.param(post(PNG, "image/png"), id="binary-image"),
        pytest.param(post(PNG, "application/octet-stream"), id="binary-octet-stream"),
        pytest.param(post(PNG), id="binary-no-type"),
        pytest.param(post(b'{"phone": ' + SECRET, "application/json"), id="malformed-json"),
        pytest.param(post(b"[" * 100_000, "application/json"), id="json-nested-too-deep-to-parse"),
        pytest.param(
            post(b"[" * 600 + b"]" * 600, "application/json"), id="json-nested-too-deep-to-walk"
        ),
        pytest.param(post(b"\x80\x81" + SECRET + b"\xff", "text/plain"), id="text-not-decodable"),
        pytest.param(post(SECRET, "text/plain; charset=utf-16le"), id="ascii-labelled-utf-16"),
        pytest.param(post(SECRET, "application/json; charset=cp037"), id="ascii-labelled-ebcdic"),
        pytest.param(
            RawRequest(
                "POST",
                URL,
                (("content-type", "text/plain"), ("content-type", "application/json")),
                SECRET,
            ),
            id="conflicting-content-types",
        ),
        pytest.param(post(MULTIPART, "multipart/form-data"), id="multipart-without-boundary"),
        pytest.param(
            post(MULTIPART[:-9], "multipart/form-data; boundary=XyZ"), id="multipart-truncated"
        ),
        pytest.param(
            post(SECRET + b"\r\n" + MULTIPART, "multipart/form-data; boundary=XyZ"),
            id="multipart-preamble",
        ),
        pytest.param(
            post(MULTIPART + SECRET, "multipart/form-data; boundary=XyZ"), id="multipart-epilogue"
        ),
        pytest.param(
            post(
                b'--b\r\nContent-Disposition: form-data; name="f"; filename="scan.pdf"\r\n'
                b"Content-Type: application/pdf\r\n\r\n" + PNG + b"\r\n--b--\r\n",
                "multipart/form-data; boundary=b",
            ),
            id="multipart-binary-file",
        ),
        pytest.param(
            post(
                b'--b\r\nContent-Disposition: form-data; name="f"; filename="x.csv"\r\n\r\n'
                + PNG
                + b"\r\n--b--\r\n",
                "multipart/form-data; boundary=b",
            ),
            id="multipart-csv-that-is-binary",
        ),
        pytest.param(
            post(
                b'--b\r\nContent-Disposition: form-data; name="f"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
                b"MTM4MDAxMzgwMDA=\r\n--b--\r\n",
                "multipart/form-data; boundary=b",
            ),
            id="multipart-base64-part",
        ),
    ],
)
def test_uninspectable_and_the_message_holds_no_body(request_: RawRequest) -> None:
    with pytest.raises(Uninspectable) as info:
        extract(request_, SMALL)
    assert SECRET.decode() not in str(info.value)


def test_binary_handlers_plug_in_by_media_type(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []

    def pdf(data: bytes, label: str, depth: int, limits: Limits):  # type: ignore[no-untyped-def]
        seen.append((label, depth))
        return extract_module._Text(
            "text from the pdf", extract_module.TextCodec("utf-8"), label + ":page1"
        )

    # Bytes with no magic number: the declared type picks the handler (a PNG would be a PNG).
    monkeypatch.setitem(extract_module.BINARY_HANDLERS, "application/pdf", pdf)
    assert found(post(OPAQUE, "application/pdf")) == [("body:page1", "text from the pdf")]
    part = (
        b'--b\r\nContent-Disposition: form-data; name="f"; filename="scan.pdf"\r\n'
        b"Content-Type: application/pdf\r\n\r\n" + OPAQUE + b"\r\n--b--\r\n"
    )
    assert found(post(part, "multipart/form-data; boundary=b")) == [
        ("multipart:scan.pdf:page1", "text from the pdf")
    ]
    assert seen == [("body", 0), ("multipart:scan.pdf", 1)]


# ---------------------------------------------------------------- rewriting


def test_rewrite_json_keeps_keys_order_and_validity() -> None:
    body = '{"z": 1, "customer": {"phone": 13800138000, "name": "张三"}, "n": 1.50, "a": [null, true]}'.encode()
    ex = extract(post(body, "application/json; charset=utf-8"), SMALL)
    assert [s.location for s in ex.segments] == ["json:$.customer.phone", "json:$.customer.name"]
    new = ex.rewrite({0: [(3, 7, "****")], 1: [(1, 2, "*")]})
    assert new.body == (  # only the masked values change; a masked number becomes a string
        '{"z": 1, "customer": {"phone": "138****8000", "name": "张*"}, "n": 1.50, "a": [null, true]}'
    ).encode()
    assert list(json.loads(new.body)) == ["z", "customer", "n", "a"]
    assert dict(new.headers)["content-length"] == str(len(new.body))


def test_rewrite_json_key_that_is_data() -> None:
    ex = extract(post(b'{"13800138000": {"name": "x"}}', "application/json"), SMALL)
    new = ex.rewrite({0: [(3, 7, "****")]})
    assert json.loads(new.body) == {"138****8000": {"name": "x"}}


def test_rewrite_form_keeps_fields_in_order() -> None:
    body = b"a=1&email=y%40z.com&name=%E5%BC%A0%E4%B8%89&flag&mobile=13800138000&z="
    ex = extract(post(body, "application/x-www-form-urlencoded"), SMALL)
    by_location = {s.location: i for i, s in enumerate(ex.segments)}
    new = ex.rewrite(
        {by_location["form:mobile"]: [(3, 7, "****")], by_location["form:name"]: [(1, 2, "*")]}
    )
    assert new.body == b"a=1&email=y%40z.com&name=%E5%BC%A0*&flag&mobile=138****8000&z="


def test_rewrite_multipart_leaves_other_parts_byte_identical() -> None:
    ex = extract(post(MULTIPART, "multipart/form-data; boundary=XyZ"), SMALL)
    new = ex.rewrite({3: [(6, 14, "********")]})
    assert new.body == MULTIPART.replace(b"11010519491231002X", b"110105********002X")
    # The mobile field, the CSV file and the empty file part are untouched.
    before, after = MULTIPART.split(b"--XyZ"), new.body.split(b"--XyZ")
    assert [before[i] == after[i] for i in range(len(before))] == [
        True,
        True,
        True,
        False,
        True,
        True,
    ]
    new = ex.rewrite({0: [(3, 7, "****")], 2: [(0, 2, "**")]})
    assert new.body == MULTIPART.replace(b"13800138000", b"138****8000").replace(
        "张三".encode(), b"**"
    )


def test_rewrite_text_in_gbk_stays_gbk() -> None:
    body = "客户 张三 电话 13800138000".encode("gbk")
    ex = extract(post(body, "text/plain; charset=gbk"), SMALL)
    new = ex.rewrite({0: [(3, 5, "张*"), (12, 16, "****")]})
    assert new.body == "客户 张* 电话 138****8000".encode("gbk")


def test_rewrite_gzip_body_decompresses_to_the_masked_body() -> None:
    body = "name=张三&phone=13800138000".encode()
    ex = extract(post(gzip.compress(body), "text/plain; charset=utf-8", "gzip"), SMALL)
    new = ex.rewrite({0: [(17, 21, "****")]})
    assert gzip.decompress(new.body) == "name=张三&phone=138****8000".encode()
    assert dict(new.headers)["content-length"] == str(len(new.body))


def test_rewrite_url_path_and_query() -> None:
    url = "https://h.example/u/%E5%BC%A0%E4%B8%89/13800138000/x%2Fy?mobile=13800138000&q=a+b&keep=%7E#f"
    ex = extract(RawRequest("GET", url), SMALL)
    assert [s.location for s in ex.segments] == ["path", "query:mobile", "query:q", "query:keep"]
    assert ex.segments[0].text == "/u/张三/13800138000/x/y"
    new = ex.rewrite({0: [(4, 5, "*"), (9, 13, "****")], 1: [(3, 7, "****")]})
    assert (
        new.url
        == "https://h.example/u/%E5%BC%A0*/138****8000/x%2Fy?mobile=138****8000&q=a+b&keep=%7E#f"
    )
    assert new.body == b"" and new.headers == ()


def test_rewrite_without_edits_returns_the_request_unchanged() -> None:
    request = post(gzip.compress(JSON_BODY), "application/json", "gzip", url=URL + "?a=%7e&&b")
    new = extract(request, SMALL).rewrite({})
    assert new == request


def test_rewrite_without_content_length_adds_none() -> None:
    request = RawRequest("POST", URL, (("content-type", "text/plain"),), SECRET)
    new = extract(request, SMALL).rewrite({0: [(0, 3, "***")]})
    assert new.headers == (("content-type", "text/plain"),) and new.body == b"***00138000"


@pytest.mark.parametrize(
    ("edits", "expected"),
    [
        ([(0, 3, "AAA"), (0, 3, "BBB")], "AAA00138000"),  # same span twice: first wins
        ([(0, 11, "138****8000"), (3, 7, "####")], "138****8000"),  # nested: the outer covers it
        (
            [(0, 5, "#####"), (3, 8, "#####")],
            "********000",
        ),  # partial overlap: stars over the union
        ([(8, 11, "***"), (0, 3, "***")], "***00138***"),  # any order
        ([(11, 11, "!")], "13800138000!"),  # empty span at the end
    ],
)
def test_overlapping_edits_are_merged(edits: list, expected: str) -> None:  # type: ignore[type-arg]
    assert extract(post(SECRET, "text/plain"), SMALL).rewrite({0: edits}).body == expected.encode()


@pytest.mark.parametrize(
    ("request_", "replacements"),
    [
        pytest.param(post(SECRET, "text/plain"), {0: [(0, 12, "x")]}, id="edit-past-the-end"),
        pytest.param(post(SECRET, "text/plain"), {0: [(-1, 3, "x")]}, id="negative-start"),
        pytest.param(post(SECRET, "text/plain"), {0: [(5, 3, "x")]}, id="end-before-start"),
        pytest.param(post(SECRET, "text/plain"), {1: [(0, 1, "x")]}, id="no-such-segment"),
        pytest.param(
            RawRequest("GET", "https://h.example/?q=%FF" + SECRET.decode()),
            {0: [(0, 1, "张")]},
            id="not-in-the-url-charset",
        ),
        pytest.param(
            post("张三".encode("gbk"), "text/plain; charset=gbk"),
            {0: [(0, 1, "😀")]},
            id="not-in-charset",
        ),
    ],
)
def test_cannot_mask(request_: RawRequest, replacements: dict) -> None:  # type: ignore[type-arg]
    ex = extract(request_, SMALL)
    with pytest.raises(CannotMask) as info:
        ex.rewrite(replacements)
    assert SECRET.decode() not in str(info.value)


def test_segments_are_plain_segments() -> None:
    ex = extract(post(b"x=1", "application/x-www-form-urlencoded"), SMALL)
    assert ex.segments == (Segment("1", "form:x", ("x",)),)


def test_reprs_hold_no_personal_data() -> None:
    request = post(SECRET, "text/plain", url=URL + "?m=" + SECRET.decode())
    ex = extract(request, SMALL)
    assert SECRET.decode() not in repr(request) + repr(ex) + repr(ex._body) + repr(ex._url)


# ---------------------------------------------------------------- custom headers

def test_headers_are_segments_but_the_host_and_version_strings():
    req = RawRequest("GET", "https://api.example.com/x", headers=(
        ("host", "api.example.com"), ("authorization", "Bearer abc"), ("cookie", "sid=1"),
        ("x-customer-phone", "13800138000"), ("user-agent", "curl/8"), ("X-Note", "hello"),
    ))
    segs = extract(req, Limits()).segments
    by_location = {s.location: s for s in segs}
    assert by_location["header:x-customer-phone"].text == "13800138000"
    assert by_location["header:x-customer-phone"].context == ("x", "customer", "phone")
    assert "header:x-note" in by_location
    # Cookie and Authorization reach the server as well (session 22); a User-Agent of
    # product tokens and versions only is not inspected, nor the host (a segment of its own).
    assert by_location["header:cookie"].text == "sid=1"
    assert by_location["header:authorization"].text == "Bearer abc"
    assert not any(s.location in ("header:user-agent", "header:host") for s in segs)


def test_header_rewrite_masks_only_that_header():
    req = RawRequest("POST", "https://api.example.com/x", headers=(
        ("content-type", "text/plain"), ("x-customer-phone", "13800138000"), ("x-trace", "t1"),
    ), body=b"hello")
    ex = extract(req, Limits())
    i = next(n for n, s in enumerate(ex.segments) if s.location == "header:x-customer-phone")
    new = ex.rewrite({i: [(3, 7, "****")]})
    assert dict(new.headers)["x-customer-phone"] == "138****8000"
    assert dict(new.headers)["x-trace"] == "t1"
    assert new.body == b"hello" and new.url == req.url


# -- headers that are URLs; overlong UTF-8 in URLs ------------------------------------------

def test_referer_inspects_path_and_query_not_the_site_it_names() -> None:
    req = RawRequest("GET", "https://app.example.com/x", (
        ("referer", "https://127.0.0.1:8443/customers?mobile=13800138000"),))
    ex = extract(req, Limits())
    [segment] = [s for s in ex.segments if s.location == "header:referer"]
    assert segment.text == "/customers?mobile=13800138000"
    start = segment.text.index("13800138000")
    out = ex.rewrite({ex.segments.index(segment): [(start, start + 11, "138********")]})
    assert dict(out.headers)["referer"] == "https://127.0.0.1:8443/customers?mobile=138********"


def test_grpc_protocol_headers_are_not_inspected() -> None:
    req = RawRequest("POST", "https://api.example.com/pkg.Svc/M",
                     (("grpc-encoding", "gzip"), ("grpc-timeout", "1S")))
    assert not [s for s in extract(req, Limits()).segments if s.location.startswith("header:")]


@pytest.mark.parametrize("url", [
    "https://api.example.com/u?id=%C0%B3%C0%B2%C0%B0",
    "https://api.example.com/u/%C0%B3%C0%B2%C0%B0%C0%B5",
])
def test_overlong_utf8_in_the_url_is_uninspectable(url: str) -> None:
    with pytest.raises(Uninspectable):
        extract(RawRequest("GET", url), Limits())
