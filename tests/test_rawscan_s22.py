"""A JSON body's leaves read by one C parse (s22) are what the split reading gave.

``read_body`` used to split the text at its quotes (``RawJson.of``), check its keys, then
its validity (the skeleton parsed, the strings' control characters); now ``json_leaves``
parses the text once and walks what it built, and ``RawJson`` is split only when a request
with candidates names or rewrites leaves. Checked against a copy of the old ``read_body``,
kept here as the reference: the same reason, or the same leaves, named keys and joined
text, and a ``RawJson`` with the same leaves.
"""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from test_rawscan_s21 import documents

from detectors.batch import SEPARATOR
from proxy.extraction.decode import BOMS, TextCodec, decode_text, parse_content_encoding
from proxy.extraction.extract import Limits, RawRequest
from proxy.workers import rawscan
from proxy.workers.probe import lines_open
from proxy.workers.rawjson import RawJson

UTF8 = TextCodec("utf-8")

SETTINGS = settings(max_examples=1000, deadline=None, derandomize=True)
LIMITS = Limits()

# ---------------------------------------------------------------- the reference (old code)


def old_valid_json(text: str, body: RawJson, controls: bool | None = None) -> bool:
    """rawscan._valid_json before s22 (json_leaves replaced it): the text with every string
    emptied parses, and no string holds a control character."""
    try:
        json.loads(body.skeleton)
        if controls is None:
            controls = not text.isprintable()
        if controls and not "".join(body.strings).isprintable():
            json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


_NOT_C0 = bytes(range(0x20, 0x100))


def old_controls(data: bytes, codec: str) -> bool | None:
    """rawscan._controls before s22: a C0 control byte in UTF-8 data; None for other codecs."""
    return bool(data.translate(None, _NOT_C0)) if codec == "utf-8" else None


def old_read_body(raw: RawRequest, limits: Limits) -> tuple[list[str], frozenset[str], str] | str:
    """read_body before s22: (texts, named keys, joined) or the reason."""
    types = set(raw.header_values("content-type"))
    if len(types) != 1:
        return "media-type"
    media = types.pop().strip().lower()
    if media not in rawscan.JSON_TYPES:
        return "media-type"
    if parse_content_encoding(raw.header_values("content-encoding")):
        return "content-encoding"
    if b"\\" in raw.body:
        return "backslash"
    try:
        text, codec = decode_text(raw.body, rawscan.JSON_TYPES[media])
    except Exception:  # noqa: BLE001
        return "undecodable"
    if "\\" in text:
        return "backslash"
    if raw.body.count(b"[") + raw.body.count(b"{") >= rawscan.MAX_BRACKETS and (
            text.count("[") + text.count("{") >= rawscan.MAX_BRACKETS):
        return "too-deep"
    body = RawJson.of(text, codec)
    if body is None:
        return "invalid-json"
    named = set()
    for key in body.keys:
        if (why := rawscan._key_reason(key)) == "data-key":
            return why
        if why is not None:
            named.add(key)
    if not old_valid_json(text, body, old_controls(raw.body, codec.name)):
        return "invalid-json"
    joined = SEPARATOR.join(body.texts)
    if lines_open(joined, limits):
        return "layer"
    return body.texts, frozenset(named), joined


# ---------------------------------------------------------------- generated bodies

KEYS = ["sku", "qty", "name", "customer_name", "13800138000", "张伟", "Alice", "a b", "", "x:y",
        "note", "contact"]
SCALARS = st.one_of(
    st.text(st.sampled_from(list("ab 1-_=+/张\x01\x7f\u00a0:,[]{}")), max_size=8),
    st.sampled_from(["SO-2026-11-27-000123", "Kzg2MTM4MDAxMzgwMDA=", "13800138000", "%41",
                     "&amp;", "{\"a\": 1}", "\u200b", "deliver to dock 3"]),
    st.integers(-10**12, 10**12), st.sampled_from([None, True, False, 1.5, -0.0, 1e300]),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)),
    max_leaves=14)
SPACING = st.sampled_from([(", ", ": "), (",", ":"), (" ,\n", " :\t"), (",\r\n ", "\n:")])
WRITTEN = st.builds(lambda v, sep: json.dumps(v, ensure_ascii=False, separators=sep),
                    VALUES, SPACING)
TEXTS = st.one_of(WRITTEN, documents,
                  st.sampled_from(['{"a": NaN}', '[Infinity, -Infinity]', '{"a": 1, "a": 2}',
                                   '[0123456]', '[-0, 1234567]', '"lonely"', '1234567', '',
                                   '[1234567e5, -1234567.5, 1E+1234567]', '{"a":1}x',
                                   '\ufeff{"a": 1}', '[' * 20 + ']' * 20, '{"a" "b"}',
                                   '[' * 300 + ']' * 300, '{"a": "x\x1fy"}']))
CODECS = ["utf-8", "gb18030", "utf-16-le", "utf-32-be"]


def post(text: str, codec: str, media: str = "application/json") -> RawRequest:
    bom = dict((name, bom) for bom, name in BOMS).get(codec, b"") if codec != "utf-8" else b""
    charset = "; charset=utf-8" if codec == "utf-8" and media.endswith("json") else ""
    return RawRequest("POST", "https://api.example.com/v1/orders",
                      (("content-type", media + charset),),
                      bom + text.encode(codec, "surrogatepass"))


# ---------------------------------------------------------------- the properties


@SETTINGS
@given(TEXTS, st.sampled_from(CODECS))
def test_read_body_is_the_split_reading(text, codec):
    try:
        raw = post(text, codec)
    except UnicodeEncodeError:
        return  # the codec cannot write it: nobody sends it
    old, new = old_read_body(raw, LIMITS), rawscan.read_body(raw, LIMITS)
    if isinstance(old, str):
        assert new == old
        return
    assert isinstance(new, rawscan.JsonBody)
    assert (new.texts, new.named, new.joined) == old
    assert new.json.texts == new.texts  # the split, when a request with candidates asks
    assert rawscan.body_texts(raw, LIMITS) == ("name-field" if old[1] else old[0])


@SETTINGS
@given(st.one_of(WRITTEN, documents))
def test_json_leaves_are_the_split_leaves_of_valid_json(text):
    if "\\" in text:
        return  # read_body refuses a backslash first
    body = RawJson.of(text, TextCodec("utf-8"))
    valid = body is not None and old_valid_json(text, body)
    found = rawscan.json_leaves(text)
    assert (found is not None) == valid
    if found is not None and body is not None:
        assert found == (body.texts, body.keys)


def test_the_generated_bodies_reach_every_answer():
    """The property above compares more than refusals: the shapes it draws give leaves, a
    data key, a name field, a layer and invalid JSON."""
    answers = {
        '{"sku": "A-1", "qty": 1234567}': (["A-1", "1234567"], frozenset()),
        '{"13800138000": "x"}': "data-key",
        '{"customer_name": "x"}': (["x"], frozenset({"customer_name"})),
        '{"note": "Kzg2MTM4MDAxMzgwMDA="}': "layer",
        '{"13800138000": "x", }': "data-key",  # found before validity, as before
        '{"a": 1, }': "invalid-json",
    }
    for text, want in answers.items():
        new = rawscan.read_body(post(text, "utf-8"), LIMITS)
        got = new if isinstance(new, str) else (new.texts, new.named)
        assert got == want == (old if isinstance(old := old_read_body(post(text, "utf-8"),
                                                                        LIMITS), str)
                               else old[:2])


@SETTINGS
@given(st.one_of(WRITTEN, documents))
def test_the_split_of_known_leaves_is_the_whole_split(text):
    """``RawJson.known`` (the split a request with candidates asks for, with the leaves and
    keys ``json_leaves`` found) names, locates and rewrites leaves as ``RawJson.of``."""
    if "\\" in text or (found := rawscan.json_leaves(text)) is None:
        return
    whole, known = RawJson.of(text, UTF8), RawJson.known(text, UTF8, *found)
    assert whole is not None
    assert (known.strings, known.glue, known.texts, known.keys) == \
        (whole.strings, whole.glue, whole.texts, whole.keys)
    assert known._located() == whole._located()
    assert (known._is_key, known._numbers) == (whole._is_key, whole._numbers)
    every = list(range(len(whole.texts)))
    try:
        expected = whole.segments(every)
    except ValueError:  # a key that is data: read_body refuses such bodies first
        return
    assert known.segments(every) == expected
    new = {k: "*" for k in every[::2]}
    assert known.render(new) == whole.render(new)
