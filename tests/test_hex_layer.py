"""The hex layer (proxy/extraction/layers.py ``_hex_layers``): hex of text opens, masks back
as hex; digests, uuids and numbers stay closed, and hex is never read as base64.

End-to-end shapes (JSON, form, query, path, header) are in tests/test_evasion.py."""

from __future__ import annotations

import base64
import random
import re
import uuid

import pytest

from detectors.model import Segment
from proxy.extraction.decode import Budget
from proxy.extraction.layers import Openers, Scope, layered, opens

NOTHING = Openers(document=lambda data, label, depth: None, json=lambda text, codec, prefix: None)
RID = "11010519491231002X"
MOBILE = "13800138000"
HEX_ONLY = re.compile(r"[0-9a-fA-FxX-]*")  # what _b64decode no longer tries (layers._HEX_DIGITS)


class _One:
    """A view of one segment, rendered as its text."""

    def __init__(self, text: str) -> None:
        self.segments = (Segment(text, "v"),)

    def render(self, edits):
        text = self.segments[0].text
        for start, end, new in sorted(edits[0], reverse=True):
            text = text[:start] + new + text[end:]
        return text.encode()


def decoded(text: str) -> list[tuple[str, str]]:
    view = layered(_One(text), 0, Scope(NOTHING, 5, Budget(1 << 20)))
    return [(s.location, s.text) for s in view.segments]


def opened(values: list[str]) -> int:
    return sum(opens(value, NOTHING, 5, Budget(1 << 20)) for value in values)


def test_hex_of_chinese_text_opens_in_utf8_only() -> None:
    # UTF-16/32 must be half ASCII (random digests start with FF FE), and GB18030 is not tried
    text = "客户张三丰住北京市朝阳区"
    assert decoded(text.encode().hex())[1:] == [("v|hex", text)]
    for encoding in ("utf-16", "utf-16-le", "gb18030"):
        assert decoded(text.encode(encoding).hex())[1:] == []


@pytest.mark.parametrize("text", [RID, MOBILE, "客户 " + RID, "tel: +86 " + MOBILE])
@pytest.mark.parametrize("case", [str.lower, str.upper])
def test_hex_of_text_opens(text: str, case) -> None:
    run = case(text.encode().hex())
    assert decoded(run) == [("v", run), ("v|hex", text)]
    assert decoded("sig=" + run + "&t=1")[1] == ("v|hex", text)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "utf-8-sig"])
def test_hex_of_wide_text_or_text_after_a_bom_opens(encoding: str) -> None:
    run = ("id " + RID).encode(encoding).hex()
    assert decoded(run) == [("v", run), ("v|hex", "id " + RID)]
    view = layered(_One(run), 0, Scope(NOTHING, 5, Budget(1 << 20)))
    sent = view.render(((), ((3, 21, "*" * 18),))).decode()
    assert sent == ("id " + "*" * 18).encode(encoding).hex()  # the BOM kept


def test_a_mask_is_written_back_as_hex_of_the_masked_text() -> None:
    run = ("id: " + RID).encode().hex().upper()
    view = layered(_One("x " + run), 0, Scope(NOTHING, 5, Budget(1 << 20)))
    sent = view.render(((), ((4, 22, "*" * 18),))).decode()
    assert sent == "x " + b"id: ******************".hex().upper()


@pytest.mark.parametrize("run", [
    MOBILE.encode().hex()[:-2],  # 20 hex digits: under the 11-byte minimum
    MOBILE.encode().hex() + "3",  # odd length
    "g" + MOBILE.encode().hex(),  # part of a longer word
    MOBILE.encode().hex()[:10] + "Ab" + MOBILE.encode().hex()[12:],  # bytes not text (0xab)
])
def test_what_is_not_hex_of_text_stays_closed(run: str) -> None:
    assert decoded(run) == [("v", run)]


# 100,000 seeded draws per length; the figures are today's (0 for 16+ bytes), kept as bounds.
# 11 random bytes (22 hex digits) that happen to be printable UTF-8 open, as they should.
@pytest.mark.parametrize(("size", "bound"), [(11, 10), (16, 0), (20, 0), (32, 0), (64, 0)])
def test_random_digests_do_not_open(size: int, bound: int) -> None:
    rng = random.Random(size)
    digests = [rng.randbytes(size).hex() for _ in range(100_000)]
    assert opened(digests) <= bound
    assert opened([d.upper() for d in digests[:20_000]]) <= bound


def test_uuids_do_not_open() -> None:
    rng = random.Random(36)
    assert opened([str(uuid.UUID(bytes=rng.randbytes(16))) for _ in range(100_000)]) == 0


@pytest.mark.parametrize(("digits", "bound"), [(22, 3), (24, 2), (30, 0)])
def test_long_numbers_open_only_as_hex_of_a_number(digits: int, bound: int) -> None:
    # a run of digits opens only when half of what it decodes to is digits (layers._hex_text)
    rng = random.Random(digits)
    numbers = ["".join(rng.choices("0123456789", k=digits)) for _ in range(100_000)]
    assert opened(numbers) <= bound


FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")
ENCODINGS = ["ascii", "utf-16-le", "utf-16-be", "utf-16", "utf-32-le", "utf-32-be", "utf-32",
             "gb18030"]


@pytest.mark.parametrize("value", [RID, "110105194912310021", MOBILE, "19999999999",
                                   "10000000000"])
@pytest.mark.parametrize("width", ["ascii", "full"])
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_base64_of_digits_is_never_a_run_of_hex_digits(value: str, width: str,
                                                       encoding: str) -> None:
    """Why skipping hex-only runs as base64 hides nothing (layers._HEX_DIGITS): at every
    offset (0-2 bytes before the value), in both alphabets, some character is not hex."""
    text = value.translate(FULL_WIDTH) if width == "full" else value
    encoding = "utf-8" if width == "full" and encoding == "ascii" else encoding
    data = text.encode(encoding)
    rng = random.Random(7)
    for before in range(3):
        for _ in range(20):
            framed = rng.randbytes(before) + data
            for encode in (base64.b64encode, base64.urlsafe_b64encode):
                assert not HEX_ONLY.fullmatch(encode(framed).decode().rstrip("="))
