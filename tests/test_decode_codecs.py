"""``decode_text`` under every charset label a sender can name: a str, or Uninspectable.

A label is the sender's word, so it can be any name Python's codec registry knows: stateful
codecs (ISO-2022) whose decoded text does not encode back, a code page that is not ASCII
compatible (cp864 has no '%'), and codecs that are not text at all (base64, zlib, rot13).
Any other exception still fails closed upstream, but is counted as an error instead of as
undecodable input: the refusal must be Uninspectable.
"""

from __future__ import annotations

import encodings.aliases

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.errors import Uninspectable
from proxy.extraction.decode import decode_text

# every name and alias the registry knows: what codecs.lookup accepts from a Content-Type
LABELS = sorted(set(encodings.aliases.aliases) | set(encodings.aliases.aliases.values()))


@pytest.mark.parametrize(("data", "label"), [
    (b"\x1b\x80", "iso-2022-jp"),  # decodes to '\x1b\x80', which ISO-2022-JP cannot encode
    (b"\x1b$B\x80", "iso-2022-kr"),
    (b"\x80abc", "base64"),        # not a text encoding at all
    (b"\x80abc", "rot13"),
    (b"\x80abc", "zlib"),
    (b"\x80%", "cp864"),           # a code page without '%'
])
def test_a_label_that_cannot_read_the_bytes_is_uninspectable(data: bytes, label: str) -> None:
    with pytest.raises(Uninspectable):
        decode_text(data, label)


@settings(max_examples=3000, deadline=None, derandomize=True)
@given(label=st.sampled_from(LABELS),
       data=st.one_of(st.binary(max_size=24),
                      st.binary(max_size=12).map(lambda b: b"\x1b" + b),  # escape sequences
                      st.binary(max_size=12).map(lambda b: b"\x80" + b)))  # never ASCII
def test_every_label_gives_text_or_uninspectable(label: str, data: bytes) -> None:
    try:
        text, codec = decode_text(data, label)
    except Uninspectable:
        return
    assert isinstance(text, str)
    assert codec.encode(text) == data  # what it read is what a rewrite would write back
