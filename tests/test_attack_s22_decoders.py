"""The decoders session 22's hostile sender needed, property-tested (fixed hypothesis draws):
7-bit ISO-2022 / HZ text and in-document charsets (``decode.text_of``), base32 and Chinese
numeral layers (``layers``), and which headers are inspected (``extract``)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.errors import Uninspectable
from proxy.extraction.decode import in_document_charset, text_of
from proxy.extraction.extract import Limits, RawRequest, extract, versions_only

SETTINGS = settings(derandomize=True, max_examples=150, deadline=None)
FULL_WIDTH_DIGITS = "０１２３４５６７８９"
DIGITS = st.text("0123456789", min_size=7, max_size=19)
# Text every 7-bit charset below can write: ASCII letters, full-width digits, a few kanji/hanja.
SEVEN_BIT_TEXT = st.text(st.sampled_from(list("ab 1:" + FULL_WIDTH_DIGITS) + ["日", "本"]),
                         min_size=1, max_size=30)


@SETTINGS
@given(text=SEVEN_BIT_TEXT, codec=st.sampled_from(["iso2022_jp", "iso2022_kr"]))
def test_iso_2022_text_is_read_as_its_receiver_reads_it(text, codec):
    data = text.encode(codec)
    assert data.isascii()
    decoded, how = text_of(data, None)  # by its escapes
    assert decoded == text
    assert how.encode(decoded) == data  # a rewrite writes it back the same way
    assert text_of(data, codec.replace("_", "-"))[0] == text  # or by its label


@SETTINGS
@given(digits=DIGITS)
def test_hz_text_is_read_by_its_escapes(digits):
    text = "".join(FULL_WIDTH_DIGITS[int(d)] for d in digits)
    assert text_of(text.encode("hz"), None)[0] == text


def test_iso_2022_cn_is_uninspectable():
    with pytest.raises(Uninspectable):
        text_of(b"\x1b$)A\x0e#1#3\x0f", None)


@SETTINGS
@given(plain=st.text(st.characters(codec="ascii", exclude_categories=("Cc",)), max_size=40))
def test_ascii_without_escapes_is_left_as_it_is(plain):
    assert text_of(plain.encode(), None)[0] == plain


@pytest.mark.parametrize(("head", "charset"), [
    (b'<html><head><meta charset="big5">', "big5"),
    (b"<meta http-equiv='Content-Type' content='text/html; charset=Shift_JIS'>", "Shift_JIS"),
    (b'<?xml version="1.0" encoding="ISO-2022-JP"?>', "ISO-2022-JP"),
    (b"<p>no charset here</p>", None),
    (b" " * 1100 + b'<meta charset="big5">', None),  # past the first 1024 bytes
])
def test_in_document_charset(head, charset):
    assert in_document_charset(head) == charset


def body_segments(text_body: bytes) -> list:
    request = RawRequest("POST", "https://a.example/x", (("content-type", "text/plain"),), text_body)
    return list(extract(request, Limits()).segments)


@SETTINGS
@given(text=st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Cn", "Co")),
                    min_size=10,
                    max_size=60))
def test_base32_layer_reads_back_what_was_encoded(text):
    encoded = base64.b32encode(text.encode()).decode()
    found = [s.text for s in body_segments(encoded.encode()) if s.location.endswith("|base32")]
    assert found == [text]


@SETTINGS
@given(digits=DIGITS)
def test_chinese_numerals_are_read_as_digits_and_masked_back_in_numerals(digits):
    numerals = digits.translate(str.maketrans("0123456789", "〇一二三四五六七八九"))
    request = RawRequest("POST", "https://a.example/x", (("content-type", "text/plain"),),
                         ("号码" + numerals).encode())
    ex = extract(request, Limits())
    (i, seg), = [(i, s) for i, s in enumerate(ex.segments) if s.location.endswith("|zh-digits")]
    assert seg.text == "号码" + digits
    masked = ex.rewrite({i: [(5, 7, "**")]}).body.decode()
    assert masked == "号码" + numerals[:3] + "**" + numerals[5:]


def test_six_numerals_are_prose():
    assert not [s for s in body_segments("一二三四五六".encode()) if "|zh-digits" in s.location]


@SETTINGS
@given(value=st.sampled_from(["11010519491231002X", "13800138000", "138 0013 8000",
                              "138-0013-8000", "6222021234567890123", "MTM4MDAxMzgwMDA=",
                              "%31%33%38", "一三八〇〇一三八〇〇〇", "=?utf-8?b?MTM4?="]),
       before=st.sampled_from(["Mozilla/5.0 (", "app/1.0 ", ""]),
       after=st.sampled_from([")", " Chrome/120.0.0.0", ""]))
def test_a_user_agent_holding_a_value_is_inspected(value, before, after):
    assert not versions_only(before + value + after)
    request = RawRequest("GET", "https://a.example/", (("user-agent", before + value + after),))
    segments = extract(request, Limits()).segments
    # the value as sent, at its offset; browser products (Chrome/120.0.0.0) read as blanks
    (text,) = [s.text for s in segments if s.location == "header:user-agent"]
    assert (len(text), text[len(before):len(before) + len(value)]) == (
        len(before + value + after), value)


@SETTINGS
@given(digits=DIGITS, codec=st.sampled_from(["gbk", "gb18030"]))
def test_header_bytes_that_are_not_utf8_are_read_as_gb18030(digits, codec):
    value = "客户 " + "".join(FULL_WIDTH_DIGITS[int(d)] for d in digits)
    as_mitmproxy_gives_it = value.encode(codec).decode("utf-8", "surrogateescape")
    request = RawRequest("GET", "https://a.example/", (("x-note", as_mitmproxy_gives_it),))
    (segment,) = [s for s in extract(request, Limits()).segments if s.location == "header:x-note"]
    assert segment.text == value


@pytest.mark.parametrize(("referer", "inspected"), [
    ("https://127.0.0.1:8443/customers?id=1", "/customers?id=1"),
    ("https://[::1]:8443/p", "/p"),
    ("https://11010519491231002X.example/page", "https://11010519491231002X.example/page"),
    ("https://u:13800138000@app.example/p", "https://u:13800138000@app.example/p"),
])
def test_a_referer_keeps_its_host_name_and_user_info_leaves_out_an_ip(referer, inspected):
    request = RawRequest("GET", "https://a.example/", (("referer", referer),))
    assert [s.text for s in extract(request, Limits()).segments
            if s.location == "header:referer"] == [inspected]


@SETTINGS
@given(digits=DIGITS, order=st.sampled_from(["utf-16-le", "utf-16-be"]),
       layer=st.sampled_from(["base64", "hex"]))
def test_full_width_digits_in_utf16_under_a_layer_are_read(digits, order, layer):
    """Full-width digits in UTF-16 carry no NUL (１ is FF11): read when 7 digits appear."""
    text = "".join(FULL_WIDTH_DIGITS[int(d)] for d in digits)
    data = text.encode(order)
    encoded = base64.b64encode(data).decode() if layer == "base64" else data.hex()
    found = [s.text for s in body_segments(encoded.encode()) if s.location.endswith("|" + layer)]
    assert found == [text]


def test_digests_are_not_read_as_wide_digits():
    import hashlib

    from proxy.extraction.layers import _wide_digits

    for i in range(20_000):  # md5/sha256 of fixed inputs: deterministic
        for digest in (hashlib.md5(b"%d" % i).digest(), hashlib.sha256(b"%d" % i).digest()):
            assert _wide_digits(digest) is None
