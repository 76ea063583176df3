"""End to end, a hostile sender: values a receiver can read back, hidden in encodings a naive
decoder misreads, sent through the real `baomi run` over HTTP and HTTPS.

Each case asserts what the upstream received (nothing) and that the decision record names the
value's entity. Headers that only a raw socket can send (a folded value, a NUL) go over raw
sockets, through a CONNECT tunnel and TLS for HTTPS.
"""

from __future__ import annotations

import base64
import json
import socket
import ssl

import pytest
from harness import BaomiProcess

from detectors.mask import mask_value

pytestmark = pytest.mark.e2e

RID = "320582198604230513"  # valid resident ID (province 32, 1986-04-23, MOD 11-2)
CARD = "6222021234567890123"  # UnionPay 62, Luhn-valid
RID_TEXT = "客户身份证 " + RID
SCHEMES = ("http", "https")


def body(content_type: str, data: bytes) -> dict:
    return {"content": data, "headers": {"content-type": content_type}}


def pct(data: bytes) -> str:
    return "".join(f"%{b:02X}" for b in data)


def overlong(text: str) -> bytes:
    return b"".join(bytes([0xC0 | ord(c) >> 6, 0x80 | ord(c) & 0x3F]) for c in text)


def multipart_txt(data: bytes) -> dict:
    content = (
        b'--b\r\nContent-Disposition: form-data; name="f"; filename="notes.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\n" + data + b"\r\n--b--\r\n"
    )
    return body("multipart/form-data; boundary=b", content)


# (name, request kwargs, entity the decision must name)
LEAKS = [
    ("utf16le-text", body("text/plain", RID_TEXT.encode("utf-16-le")), "CN_RESIDENT_ID"),
    ("utf16be-text", body("text/plain", RID_TEXT.encode("utf-16-be")), "CN_RESIDENT_ID"),
    ("utf32le-text", body("text/plain", RID.encode("utf-32-le")), "CN_RESIDENT_ID"),
    ("utf32be-text", body("text/plain", RID.encode("utf-32-be")), "CN_RESIDENT_ID"),
    (
        "utf16le-labelled-latin1",
        body("text/plain; charset=latin-1", RID.encode("utf-16-le")),
        "CN_RESIDENT_ID",
    ),
    (
        "utf16be-csv",
        body("text/csv", f"name,card\n张三,{CARD}\n".encode("utf-16-be")),
        "CREDIT_CARD",
    ),
    (
        "utf16le-xml",
        body("application/xml", f"<id>{RID}</id>".encode("utf-16-le")),
        "CN_RESIDENT_ID",
    ),
    ("utf16le-multipart-txt", multipart_txt(RID.encode("utf-16-le")), "CN_RESIDENT_ID"),
    (
        "pct-utf16-form",
        body("application/x-www-form-urlencoded", ("id=" + pct(RID.encode("utf-16-le"))).encode()),
        "CN_RESIDENT_ID",
    ),
    (
        "base64-utf16-json",
        body(
            "application/json",
            json.dumps({"blob": base64.b64encode(RID.encode("utf-16-le")).decode()}).encode(),
        ),
        "CN_RESIDENT_ID",
    ),
    ("nul-separated-text", body("text/plain", "\x00".join(RID).encode()), "CN_RESIDENT_ID"),
    (
        "nul-separated-json",
        body("application/json", json.dumps({"cardNo": "\x00".join(CARD)}).encode()),
        "CREDIT_CARD",
    ),
    (
        "soft-hyphens-latin1",
        body("text/plain; charset=latin-1", "\xad".join(RID).encode("latin-1")),
        "CN_RESIDENT_ID",
    ),
    ("zero-width-text", body("text/plain", "\u200b\u2060".join(RID).encode()), "CN_RESIDENT_ID"),
]


@pytest.fixture(params=SCHEMES)
def upstream(request, http_up, https_up):
    return http_up if request.param == "http" else https_up


def assert_blocked(proxy: BaomiProcess, upstream, before: int, status: int, page: bytes) -> dict:
    assert status == 403
    assert len(upstream.received) == before  # the upstream got nothing at all
    record = proxy.last_decision()
    assert record["action"] == "block"
    assert RID.encode() not in page and CARD.encode() not in page
    return record


@pytest.mark.parametrize(("kwargs", "entity"), [pytest.param(k, e, id=n) for n, k, e in LEAKS])
def test_hidden_value_is_blocked_and_named(default_client, default_proxy, upstream, kwargs, entity):
    before = len(upstream.received)
    r = default_client.post(upstream.url("/in"), **kwargs)
    record = assert_blocked(default_proxy, upstream, before, r.status_code, r.content)
    assert entity in record["entity_counts"], record


def test_overlong_utf8_is_blocked_as_uninspectable(default_client, default_proxy, upstream):
    before = len(upstream.received)
    r = default_client.post(upstream.url("/in"), **body("text/plain", b"id " + overlong(RID)))
    record = assert_blocked(default_proxy, upstream, before, r.status_code, r.content)
    assert (record["rule"], record["uninspected"]) == ("on_uninspectable", "undecodable"), record


# ---------------------------------------------------------------- raw sockets for headers


def raw_exchange(proxy: BaomiProcess, upstream, head: bytes) -> bytes:
    """Send ``head`` (request line and headers, no body) through the proxy; the response."""
    target = f"{upstream.host}:{upstream.port}"
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=60) as sock:
        if upstream.tls is None:
            return _send(sock, head.replace(b" / ", f" http://{target}/ ".encode(), 1))
        sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        assert _read_head(sock).startswith(b"HTTP/1.1 200")
        context = ssl.create_default_context(cafile=proxy.ca_pem)
        with context.wrap_socket(sock, server_hostname=upstream.host) as tls:
            return _send(tls, head)


def _send(sock: socket.socket, head: bytes) -> bytes:
    sock.sendall(head)
    return _read_head(sock)


def _read_head(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def request_head(upstream, *header_lines: bytes) -> bytes:
    host = f"{upstream.host}:{upstream.port}".encode()
    return (
        b"GET / HTTP/1.1\r\nHost: "
        + host
        + b"\r\n"
        + b"".join(header_lines)
        + (b"Connection: close\r\n\r\n")
    )


def test_folded_header_is_unfolded_found_and_blocked(default_proxy, upstream):
    before = len(upstream.received)
    folded = b"X-Customer-Id: " + RID[:6].encode() + b"\r\n " + RID[6:].encode() + b"\r\n"
    head = request_head(upstream, folded)
    reply = raw_exchange(default_proxy, upstream, head)
    record = assert_blocked(default_proxy, upstream, before, int(reply.split()[1]), reply)
    assert record["entity_counts"].get("CN_RESIDENT_ID") == 1, record
    assert "header:x-customer-id" in record["locations"]


@pytest.mark.parametrize(
    "line",
    [
        pytest.param(b"X-Customer-Id: 320582\x00198604230513\r\n", id="nul-in-value"),
        pytest.param(b"X-Customer-Id: 320582\x01198604230513\r\n", id="control-in-value"),
        pytest.param(b"X-Trace: ok\x00\r\n", id="nul-at-the-end"),
    ],
)
def test_control_characters_in_a_header_value_are_uninspectable(default_proxy, upstream, line):
    """mitmproxy takes these headers and would forward them as they are: extraction refuses."""
    before = len(upstream.received)
    reply = raw_exchange(default_proxy, upstream, request_head(upstream, line))
    record = assert_blocked(default_proxy, upstream, before, int(reply.split()[1]), reply)
    assert (record["rule"], record["uninspected"]) == ("on_uninspectable", "undecodable"), record


def test_nul_in_a_header_name_never_arrives(default_proxy, upstream):
    """mitmproxy's own parser refuses it before any hook: 400, and the upstream gets nothing."""
    before = len(upstream.received)
    reply = raw_exchange(default_proxy, upstream,
                         request_head(upstream, b"X-Cust\x00omer-Id: 3205\r\n"))
    assert reply.startswith(b"HTTP/1.1 400 ")
    assert len(upstream.received) == before
    assert default_proxy.last_decision()["action"] == "block"


def test_clean_wide_text_and_headers_still_arrive(default_client, upstream):
    """The stricter reading must not block ordinary traffic."""
    text = "会议纪要: 周五下午开会, 请准时参加.".encode("utf-16-le")
    before = len(upstream.received)
    headers = {"content-type": "text/plain", "x-trace": "a-b-c"}
    r = default_client.post(upstream.url("/ok"), content=text, headers=headers)
    assert r.status_code == 200
    assert len(upstream.received) == before + 1 and upstream.received[-1].body == text


# ---------------------------------------------------------------- masked, not blocked

MOBILE = "13800138000"
MASKED = mask_value("PHONE_NUMBER", MOBILE, fingerprint=False)  # what a masked body carries


def test_phone_in_utf16_text_arrives_masked_in_utf16(default_client, default_proxy, https_up):
    """Phones are masked over HTTPS by the default policy: the rewrite keeps the encoding."""
    text = f"请回电 {MOBILE} 谢谢"
    before = len(https_up.received)
    r = default_client.post(
        https_up.url("/m"), content=text.encode("utf-16-le"), headers={"content-type": "text/plain"}
    )
    assert r.status_code == 200
    assert len(https_up.received) == before + 1
    assert https_up.received[-1].body == f"请回电 {MASKED} 谢谢".encode("utf-16-le")
    assert default_proxy.last_decision()["action"] == "mask"


def test_folded_phone_header_arrives_masked_and_unfolded(default_proxy, https_up):
    before = len(https_up.received)
    head = request_head(https_up, b"X-Customer-Phone: 138\r\n 0013\r\n 8000\r\n")
    reply = raw_exchange(default_proxy, https_up, head)
    assert reply.startswith(b"HTTP/1.1 200 ")
    assert len(https_up.received) == before + 1
    assert https_up.received[-1].headers["x-customer-phone"] == MASKED
    assert default_proxy.last_decision()["action"] == "mask"
