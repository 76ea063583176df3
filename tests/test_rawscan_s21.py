"""The clean JSON proof made cheaper (s21) answers exactly as the code it replaced.

Each changed function is checked against a copy of the code before the change, kept here
as the reference: ``RawJson.of`` (no per-string flag list until a leaf is located), the bracket count
of ``read_body`` taken on the bytes first, the triage's bounded limits and the rest of the
request extracted without ``dataclasses.replace``.
"""

from __future__ import annotations

import json
import operator
from dataclasses import replace
from itertools import compress

from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.extraction.decode import BOMS, TextCodec
from proxy.extraction.extract import Limits, RawRequest, extract, is_data_key
from proxy.workers import rawscan, triage
from proxy.workers.probe import lines_open, opens_any
from proxy.workers.rawjson import _DIGITS, _TOKENS, RawJson, _is_colon

SETTINGS = settings(max_examples=800, deadline=None, derandomize=True)
UTF8 = TextCodec("utf-8")

# ---------------------------------------------------------------- the reference (old code)


def old_of(text: str) -> tuple[list[str], set[str], list[bool] | None] | None:
    """RawJson.of before s21: (texts, keys, is_key), is_key None on the token path."""
    parts = text.split('"')
    strings, glue = parts[1::2], parts[0::2]
    if len(glue) != len(strings) + 1:
        return None
    if b"000000" in "".join(glue).encode("utf-8", "replace").translate(_DIGITS):
        tokens = _TOKENS.findall(text)
        return ([s or n for s, colon, n in tokens if not colon and (s or n)],
                {s for s, colon, _ in tokens if colon}, None)
    kinds = {a: _is_colon(a) for a in set(parts[2::2])}
    is_key = list(map(kinds.__getitem__, parts[2::2]))
    texts = list(filter(None, compress(strings, map(operator.not_, is_key))))
    return texts, set(compress(strings, is_key)), is_key


# ---------------------------------------------------------------- generated JSON-ish text

PIECES = ['"', '"', '"', ":", ": ", ",", ", ", "[", "]", "{", "}", " ", "\n", "\t", "\x01",
          "\x7f", "\u00a0", "\u2028", "a", "张", "1", "123456", "1234567", "-1", "1e9", "null",
          "true", "sku", "13800138000", "\x00", "\r"]
texts = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)


def document(value) -> str:
    return json.dumps(value, ensure_ascii=False)


leaves = st.one_of(st.text(st.sampled_from(list('ab 1张\x01\x1f\x7f\u00a0\u2028:,[]{}')),
                           max_size=6),
                   st.integers(-10**8, 10**8), st.sampled_from([None, True, 1.5]))
values = st.recursive(leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.sampled_from(["sku", "qty", "a:b", "", "x y", "123456"]), inner,
                    max_size=4)), max_leaves=12)
documents = st.one_of(values.map(document), texts)


# ---------------------------------------------------------------- the properties


@SETTINGS
@given(text=documents)
def test_rawjson_of_is_the_old_split(text):
    if "\\" in text:
        return  # never asked: read_body refuses a backslash first
    old, new = old_of(text), RawJson.of(text, UTF8)
    if old is None:
        assert new is None
        return
    assert new is not None
    assert (new.texts, new.keys) == old[:2]
    located = new._located()  # builds the per-string flags the old code built at once
    if old[2] is not None:
        assert new._is_key == old[2]
        again = RawJson.of(text, UTF8)
        assert again is not None and again._located() == located


CODECS = ["utf-8", "gb18030", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"]


@SETTINGS
@given(text=st.text(st.sampled_from(list("[{}] a张孩盛\u5b5b\u7b7b\u5b00\u7b00")), max_size=60),
       codec=st.sampled_from(CODECS))
def test_the_bytes_hold_at_least_as_many_brackets_as_the_text(text, codec):
    # read_body counts the bytes first and the text only when the bytes reach the limit:
    # exact because no codec decode_text reads writes "[" or "{" without its ASCII byte.
    data = text.encode(codec)
    assert data.count(b"[") + data.count(b"{") >= text.count("[") + text.count("{")


def test_read_body_refuses_too_deep_json_as_before():
    deep = "[" * rawscan.MAX_BRACKETS + "]" * rawscan.MAX_BRACKETS
    wide = json.dumps({"v": "\u5b5b" * 600}, ensure_ascii=False)  # 1,200 0x5B bytes in UTF-16
    for text, codec, reason in [(deep, "utf-8", "too-deep"), (deep, "utf-16-le", "too-deep"),
                                (wide, "utf-16-le", None)]:
        bom = dict((name, bom) for bom, name in BOMS)[codec] if codec != "utf-8" else b""
        raw = RawRequest("POST", "https://x/", (("content-type", "application/json"),),
                         bom + text.encode(codec))
        body = rawscan.read_body(raw, Limits())
        if reason is None:
            assert isinstance(body, rawscan.JsonBody) and body.json.texts == ["\u5b5b" * 600]
        else:
            assert body == reason


def test_bounded_limits_are_the_replaced_ones():
    for limits in [Limits(), Limits(1, 2, 3), Limits(10, 1 << 30, 1)]:
        want = replace(limits, max_decoded_bytes=min(limits.max_decoded_bytes,
                                                     triage.INLINE_DECODED_BYTES))
        assert triage._bounded(limits) == want
        assert triage._bounded(limits) is triage._bounded(limits)  # one per limits


@SETTINGS
@given(url=st.sampled_from(["https://a.example/api/orders", "https://a.example/u?tel=13800138000",
                            "https://a.example/p/%31%33%38?x=TVRNNE1EQXhNemd3TURBPQ=="]),
       headers=st.lists(st.tuples(st.sampled_from(["x-note", "user-agent", "x-13800138000",
                                                   "content-type", "referer"]),
                                  st.sampled_from(["wrk", "13800138000", "a b", "Zm9vYmFy",
                                                   "https://b.example/?q=1"])), max_size=4),
       body=st.binary(max_size=40), budget=st.integers(0, 200))
def test_the_rest_is_extracted_as_before(url, headers, body, budget):
    raw = RawRequest("POST", url, tuple(headers), body, hosts=("a.example",))
    limits = Limits(max_decoded_bytes=len(body) + budget)
    old = new = None
    try:
        old = extract(replace(raw, body=b""), replace(limits, max_decoded_bytes=budget)).segments
    except Exception as e:  # noqa: BLE001 - the same error either way
        old = type(e)
    try:
        new = rawscan.extract_rest(raw, limits).segments
    except Exception as e:  # noqa: BLE001
        new = type(e)
    assert new == old


def test_the_probe_has_one_public_place():
    assert not opens_any(["SO-2026-11-27-000123", "deliver to dock 3"], Limits())
    assert opens_any(["Kzg2MTM4MDAxMzgwMDA="], Limits())  # base64 of +8613800138000
    assert lines_open("SKU-1\nMTM4MDAxMzgwMDA=", Limits())
    assert not lines_open("SKU-1\nSO-2026-11-27-000123", Limits())


@SETTINGS
@given(value=values, picks=st.lists(st.integers(0, 30), max_size=3))
def test_a_leaf_named_then_rewritten_is_rewritten_as_a_fresh_one(value, picks):
    # RawJson keeps each located leaf's place (_where): naming it (segments) and then
    # rewriting it (render), as a masked request does, equals rewriting it on a fresh read.
    text = document(value)
    if "\\" in text or (body := RawJson.of(text, UTF8)) is None or not body.texts:
        return
    if any(map(is_data_key, body.keys)):
        return  # read_body refuses these first: a key that is data is a segment itself
    leaves = sorted({p % len(body.texts) for p in picks})
    new = {k: f"m{k}" for k in leaves}
    fresh = RawJson.of(text, UTF8)
    assert fresh is not None
    body.segments(leaves)
    assert body.render(new) == fresh.render(new) == body.render(new)
