"""The URL's and headers' cheaper paths answer exactly as the code they replaced (kept here
as the reference): a path without ``%`` in ASCII is not walked byte by byte, a host name is
told from an IP literal without an exception, and a printable ASCII header value is not
searched for folds and control characters."""

from __future__ import annotations

import ipaddress
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.extraction import decode, extract
from proxy.extraction.extract import _decode_url_bytes, _is_ip_literal, _PercentText, _wire

SETTINGS = settings(max_examples=800, deadline=None, derandomize=True)


def old_parse(raw_path: str) -> _PercentText:
    raw = _wire(raw_path)
    data, origin = bytearray(), []
    i = 0
    while i < len(raw):
        escaped = raw[i] == 0x25 and re.fullmatch(rb"[0-9A-Fa-f]{2}", raw[i + 1 : i + 3])
        data.append(int(raw[i + 1 : i + 3], 16) if escaped else raw[i])
        origin.append(i)
        i += 3 if escaped else 1
    text, codec = _decode_url_bytes(bytes(data))
    starts, at = [], 0
    for char in text:
        starts.append(origin[at])
        at += len(codec.encode(char))
    return _PercentText(raw, text, tuple(starts) + (len(raw),), codec)


def old_is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def outcome(call, *args):
    try:
        return ("ok", call(*args))
    except Exception as e:  # noqa: BLE001 - old and new must raise the same
        return ("raised", type(e).__name__, str(e))


PATHS = st.one_of(
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40),
    st.text(st.sampled_from("/abc019%AFz-._~;=é张\udcff"), max_size=30),
    st.text(max_size=20),
)


@SETTINGS
@given(path=PATHS)
def test_percent_path_is_unchanged(path):
    assert outcome(_PercentText.parse, path) == outcome(old_parse, path)


@SETTINGS
@given(path=PATHS, start=st.integers(0, 40), end=st.integers(0, 40))
def test_a_masked_path_renders_as_before(path, start, end):
    new, old = outcome(_PercentText.parse, path), outcome(old_parse, path)
    if new[0] != "ok" or start > end or end > len(new[1].text):
        return
    edit = ((start, end, "*" * (end - start)),)
    assert new[1].render(edit) == old[1].render(edit)


HOSTS = st.one_of(
    st.text(st.sampled_from("0123456789.:[]abcdefx%-"), max_size=24),
    st.sampled_from(["127.0.0.1", "[::1]", "::ffff:1.2.3.4", "fe80::1%eth0", "10.0.0.1.",
                     "1.2.3", "01.2.3.4", "١٢٧.0.0.1", "1.2.3.4.5", "api.example.com",
                     "[2001:db8::1]", "256.1.1.1", "", "[]", "..."]),
    st.text(max_size=12),
    st.ip_addresses().map(str),
    st.lists(st.one_of(st.integers(0, 300).map(str), st.text("0123456789", max_size=4)),
             min_size=1, max_size=5).map(".".join),
)


@SETTINGS
@given(name=HOSTS)
def test_ip_literal_is_unchanged(name):
    assert _is_ip_literal(name) == old_is_ip_literal(name)


def test_the_path_fast_path_is_taken_for_a_plain_path():
    parsed = _PercentText.parse("/api/orders")
    assert (parsed.text, parsed.starts, parsed.codec) == ("/api/orders", tuple(range(12)),
                                                          extract.TextCodec("utf-8"))


def old_header_text(name: str, value: str) -> str:
    unfolded = decode._OBS_FOLD.sub("", value)
    if decode._HEADER_CONTROLS.search(name) or decode._HEADER_CONTROLS.search(unfolded):
        raise decode.Uninspectable("control characters in a request header")
    return unfolded


HEADER_TEXT = st.one_of(
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30),
    st.text(st.sampled_from("ab 1\t\r\n\x00\x7f\x0b:;=é张"), max_size=20),
    st.text(max_size=16),
)


@SETTINGS
@given(name=HEADER_TEXT, value=HEADER_TEXT)
def test_header_text_is_unchanged(name, value):
    assert outcome(decode.header_text, name, value) == outcome(old_header_text, name, value)
