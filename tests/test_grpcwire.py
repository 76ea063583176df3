"""gRPC bodies decoded without a schema: frames, protobuf wire format, masking, refusal."""

from __future__ import annotations

import base64
import contextlib
import gzip
import struct
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.errors import CannotMask, Oversize, Uninspectable
from proxy.extraction import grpcwire
from proxy.extraction.extract import Limits, RawRequest, extract

PHONE = "13800138000"
RID = "11010519491231002X"
LIMITS = Limits(max_body_bytes=1 << 20, max_decoded_bytes=1 << 20)
URL = "https://api.example.com/shop.v1.Orders/Create"
AT = "grpc:/shop.v1.Orders/Create:"


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        out.append((value & 0x7F) | (0x80 if value >> 7 else 0))
        value >>= 7
        if not value:
            return bytes(out)


def field(number: int, value: bytes | str | int, wire: int | None = None) -> bytes:
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    data = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(data)) + data


def frame(message: bytes, compressed: bool = False) -> bytes:
    payload = gzip.compress(message) if compressed else message
    return bytes([1 if compressed else 0]) + struct.pack(">I", len(payload)) + payload


def post(body: bytes, ctype: str = "application/grpc", *headers: tuple[str, str]) -> RawRequest:
    return RawRequest("POST", URL, (("content-type", ctype), ("te", "trailers"), *headers), body)


def found(request: RawRequest) -> list[tuple[str, str]]:
    return [(s.location, s.text) for s in extract(request, LIMITS).segments
            if s.location.startswith("grpc:")]


ORDER = (
    field(1, "张三")
    + field(2, field(1, PHONE) + field(2, 7))  # nested contact {phone, kind}
    + field(3, 13900139000)  # int64 phone
    + field(4, b"\x00\x01\x02\xff" + f"id={RID}".encode() + b"\x00")  # bytes with a run
    + struct.pack("<B", 5 << 3 | 5) + struct.pack("<f", 1.5)  # fixed32
    + field(6, 42)  # small number: not a segment
    + field(7, b"")
)


def test_fields_become_segments_by_path() -> None:
    assert found(post(frame(ORDER))) == [
        (AT + "msg0.f1", "张三"),
        (AT + "msg0.f2.f1", PHONE),
        (AT + "msg0.f3", "13900139000"),
        (AT + "msg0.f4:strings", f"id={RID}"),
    ]


def test_a_digit_string_stays_text_though_it_parses_as_a_message() -> None:
    assert grpcwire._parse(PHONE.encode(), "x", 0) is not None  # the trap
    assert found(post(frame(field(1, PHONE)))) == [(AT + "msg0.f1", PHONE)]


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        pytest.param(
            post(frame(field(1, "a")) + frame(field(1, PHONE))),
            [(AT + "msg0.f1", "a"), (AT + "msg1.f1", PHONE)],
            id="two-messages",
        ),
        pytest.param(
            post(frame(field(1, PHONE), compressed=True), "application/grpc+proto",
                 ("grpc-encoding", "gzip")),
            [(AT + "msg0.f1", PHONE)],
            id="gzip-message",
        ),
        pytest.param(
            post(base64.b64encode(frame(field(1, PHONE))) + base64.b64encode(frame(field(2, "x"))),
                 "application/grpc-web-text"),
            [(AT + "msg0.f1", PHONE), (AT + "msg1.f2", "x")],
            id="grpc-web-text",
        ),
        pytest.param(
            post(frame(field(1, PHONE)) + b"\x80" + struct.pack(">I", 4) + b"a:b\n",
                 "application/grpc-web+proto"),
            [(AT + "msg0.f1", PHONE)],
            id="grpc-web-trailer-frame",
        ),
        pytest.param(post(b""), [], id="empty"),
    ],
)
def test_framing(request_: RawRequest, expected: list[tuple[str, str]]) -> None:
    assert found(request_) == expected


@pytest.mark.parametrize(
    "request_",
    [
        pytest.param(post(frame(field(1, PHONE))[:-2]), id="truncated-message"),
        pytest.param(post(frame(field(1, PHONE)) + b"\x00\x00"), id="truncated-prefix"),
        pytest.param(post(frame(field(1, PHONE), compressed=True), "application/grpc",
                          ("grpc-encoding", "snappy")), id="unknown-encoding"),
        pytest.param(post(frame(field(1, PHONE), compressed=True)), id="compressed-no-encoding"),
        pytest.param(post(b"\x01\x00\x00\x00\x04abcd", "application/grpc",
                          ("grpc-encoding", "gzip")), id="corrupt-gzip"),
        pytest.param(post(frame(b"\x0f" + PHONE.encode())), id="not-protobuf"),
        pytest.param(post(b"!!!", "application/grpc-web-text"), id="bad-base64"),
    ],
)
def test_fails_closed(request_: RawRequest) -> None:
    with pytest.raises(Uninspectable) as info:
        extract(request_, LIMITS)
    assert PHONE not in str(info.value)


def test_compressed_bomb_is_oversize() -> None:
    bomb = post(frame(field(1, "0" * (4 << 20)), compressed=True), "application/grpc",
                ("grpc-encoding", "gzip"))
    with pytest.raises(Oversize):
        extract(bomb, LIMITS)


def _masked(request: RawRequest, location: str, value: str, mask: str) -> RawRequest:
    ex = extract(request, LIMITS)
    index = next(i for i, s in enumerate(ex.segments) if s.location == location)
    start = ex.segments[index].text.index(value)
    return ex.rewrite({index: [(start, start + len(value), mask)]})


def test_masking_re_encodes_lengths_up_the_nesting() -> None:
    out = _masked(post(frame(ORDER)), AT + "msg0.f2.f1", PHONE, "138****8000 (masked)")
    assert found(out) == [
        (AT + "msg0.f1", "张三"),
        (AT + "msg0.f2.f1", "138****8000 (masked)"),
        (AT + "msg0.f3", "13900139000"),
        (AT + "msg0.f4:strings", f"id={RID}"),
    ]
    expected = ORDER.replace(field(2, field(1, PHONE) + field(2, 7)),
                             field(2, field(1, "138****8000 (masked)") + field(2, 7)))
    assert out.body == frame(expected)


def test_masking_a_compressed_message_compresses_it_again() -> None:
    request = post(frame(field(1, PHONE)) + frame(field(1, f"x {PHONE}"), compressed=True),
                   "application/grpc", ("grpc-encoding", "gzip"))
    out = _masked(request, AT + "msg1.f1", PHONE, "***")
    second = 5 + len(field(1, PHONE))
    assert out.body[second] == 1 and gzip.decompress(out.body[second + 5 :]) == field(1, "x ***")
    assert found(out) == [(AT + "msg0.f1", PHONE), (AT + "msg1.f1", "x ***")]


def test_masking_grpc_web_text_writes_base64_again() -> None:
    out = _masked(post(base64.b64encode(frame(field(1, PHONE))), "application/grpc-web-text"),
                  AT + "msg0.f1", PHONE, "***")
    assert base64.b64decode(out.body) == frame(field(1, "***"))


@pytest.mark.parametrize("location", [AT + "msg0.f3", AT + "msg0.f4:strings"])
def test_numbers_and_bytes_cannot_be_masked(location: str) -> None:
    with pytest.raises(CannotMask):
        _masked(post(frame(ORDER)), location, "1", "*")


def test_refusal_is_trailers_only_permission_denied() -> None:
    message = "blocked by baomi: 身份证 100% (rule r, incident BM-1)"
    status, headers, body = grpcwire.grpc_refusal(message)
    values = dict(headers)
    assert (status, body, values["grpc-status"], values["content-type"]) == (
        200, b"", "7", "application/grpc")
    assert values["grpc-message"].startswith("blocked by baomi: %E8%BA%AB")
    assert "100%25 (rule r" in values["grpc-message"]
    assert values["grpc-message"].isascii() and unquote(values["grpc-message"]) == message


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_crash_the_decoder(data: bytes) -> None:
    try:
        message = grpcwire.decode_message(data, "x")
    except Uninspectable:
        return
    assert message.render(tuple(() for _ in message.segments)) == data


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_random_bodies_fail_only_closed(data: bytes) -> None:
    with contextlib.suppress(Uninspectable, Oversize):
        extract(post(data, "application/grpc", ("grpc-encoding", "gzip")), LIMITS)
