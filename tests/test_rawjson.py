"""A JSON body's candidates found from its text (proxy/workers/rawjson.py, rawscan.Scanned)
are the full path's: the same selection, the same segments sent to a worker (text, location,
context), the same Inspection facts, and the same masked request, byte for byte.

The full path is ``Triage(..., raw_scan=False)``: extract, then ``SegmentSelector.select``,
then ``masked(extraction, findings)``. Documents are drawn with names, phones, IDs, escapes,
duplicate keys, name-ish and data keys, numbers of 6+ digits, nested base64/JSON layers and
odd spacing, serialised by hand so duplicate keys and any spacing survive.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import fullpath
import pytest
from fullpath import LIMITS, SELECTOR, TERMS, URL, assert_agrees, findings_for, raw_post, which_path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.quality.generate import corpus
from detectors.batch import SegmentSelector
from detectors.model import Finding, Segment
from proxy.errors import CannotMask
from proxy.extraction.decode import TextCodec
from proxy.extraction.extract import RawRequest, extract
from proxy.workers.rawjson import RawJson
from proxy.workers.rawscan import Scanned, read_body
from proxy.workers.triage import Local, Triage

JSON = (("content-type", "application/json"), ("content-length", "0"))
ID = "11010519491231002X"
MOBILE = "13800138000"


def request(body: bytes | str, headers=JSON, url=URL) -> RawRequest:
    return raw_post(body, headers, url)


# -- documents, serialised by hand ----------------------------------------------------------

VALUES = [
    MOBILE, ID, "张三", "Mr Smith", "a@b.cn", "138 0013 8000", "call 13800138000 now", "",
    " ", "SO-2026-11-27-000123", "标准件 standard part", "deliver to dock 3", "hi", "bob",
    "a,b]{:}", "Project Falcon", "4001234567", "北京市朝阳区建国路88号", "１３８００１３８０００",
    "tel\\u0031", "quote \\\" inside", base64.b64encode(MOBILE.encode()).decode(),
    base64.b64encode(json.dumps({"tel": MOBILE}).encode()).decode(), '{"tel": "13800138000"}',
    ID.encode().hex(), f"tel {MOBILE}".encode().hex().upper(), "0x" + MOBILE.encode().hex(),
    "".join(f"\\\\x{b:02x}" for b in MOBILE.encode()),  # \x31\x33...: written escaped
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
]
KEYS = ["sku", "qty", "note", "items", "contact", "mobile", "name", "customerName",
        "productName", "收件人", "receiver", "odd key", "", "13800138000", "a@b.cn", "tel",
        "merchant_data", "x-y", "_", "desc", "138-0013-8000", "(138)0013-8000", "王小明",
        "Alice Walker", "姓名", "tel1"]
scalars = st.one_of(
    st.sampled_from(VALUES).map(lambda v: ("raw", v)),
    st.text(st.sampled_from(list("0138 abZ-_,:[]{}张三@.")), max_size=16).map(lambda v: ("str", v)),
    st.sampled_from([13800138000, 1234567, -7654321, 12345, 0, 1.5, 1e20, 1234567.25]).map(
        lambda v: ("num", v)),
    st.sampled_from([True, False, None]).map(lambda v: ("num", v)),
)
nodes = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda xs: ("list", xs)),
        st.lists(st.tuples(st.sampled_from(KEYS), inner), max_size=4).map(lambda kv: ("obj", kv))),
    max_leaves=14,
)
styles = st.tuples(st.sampled_from(["", " ", "\n  ", "\t"]), st.booleans())


def dump(node, space: str, ascii_only: bool) -> str:
    """JSON text of ``node``; ("raw", v) values are written with their escapes as given."""
    kind, value = node
    if kind == "raw":
        return '"' + value + '"' if "\\" in value else json.dumps(value, ensure_ascii=ascii_only)
    if kind in ("str", "num"):
        return json.dumps(value, ensure_ascii=ascii_only)
    if kind == "list":
        return "[" + ("," + space).join(dump(v, space, ascii_only) for v in value) + space + "]"
    return "{" + space + ("," + space).join(
        json.dumps(k, ensure_ascii=ascii_only) + space + ":" + space + dump(v, space, ascii_only)
        for k, v in value) + "}"


# -- what is compared (tests/fullpath.py) --------------------------------------------------

def assert_same(raw: RawRequest, selector: SegmentSelector = SELECTOR) -> str:
    """Triage's answer for ``raw`` equals the full path's under fullpath.findings_for's mask
    sets; returns which kind it was."""
    return which_path(assert_agrees(raw, selector, findings_for))


# -- the properties --------------------------------------------------------------------------

@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(node=nodes, style=styles, terms=st.booleans(), url=st.sampled_from([
    "https://api.example.com/v1/orders", f"https://api.example.com/u?mobile={MOBILE}",
    "https://api.example.com/name/bob", f"https://api.example.com/u?{MOBILE}=1&page=2"]))
def test_scanned_requests_are_the_full_paths(node, style, terms, url):
    body = dump(node, *style)
    assert_same(request(body, url=url), TERMS if terms else SELECTOR)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(node=nodes, style=styles)
def test_every_leaf_is_named_as_extract_names_it(node, style):
    raw = request(dump(node, *style))
    body = read_body(raw, LIMITS)
    if isinstance(body, str):
        return  # not read from its text: the full path's alone
    expected = [s for s in extract(raw, LIMITS).segments if s.location.startswith("json:")]
    leaves = body.json
    assert leaves.texts == [s.text for s in expected]
    assert leaves.segments(range(len(leaves.texts))) == expected
    for k in range(0, len(expected), 3):  # alone, as a masked request asks (fresh: no sums)
        fresh = read_body(raw, LIMITS)
        assert not isinstance(fresh, str) and fresh.json.segments([k]) == [expected[k]]


@settings(max_examples=100, deadline=None)
@given(node=nodes, encoding=st.sampled_from(["utf-16", "utf-16-le", "gb18030"]))
def test_other_encodings_agree_too(node, encoding):
    assert_same(request(dump(node, " ", False).encode(encoding)))


def test_the_quality_corpus_agrees_and_takes_the_scanned_path():
    kinds: dict[str, int] = {}
    for sample in corpus(seed=12, payloads=300):
        for selector in (SELECTOR, TERMS):
            kind = assert_same(sample.request, selector)
            kinds[kind] = kinds.get(kind, 0) + 1
    assert kinds.get("scanned", 0) > 0 and kinds.get("clean", 0) > 0, kinds


# -- fixed cases -----------------------------------------------------------------------------

def bench_body() -> str:
    items = [{"sku": f"SKU-{i:05d}", "qty": i % 7 + 1, "price": "129.00",
              "desc": "标准件 standard part"} for i in range(40)]
    doc = {"order_id": "SO-2026-11-27-000123", "items": items, "note": "deliver to dock 3",
           "contact": {"mobile": MOBILE}}
    return json.dumps(doc, ensure_ascii=False) + " " * 500


def test_the_benchmarks_masked_body_is_scanned_and_masked_in_place():
    raw = request(bench_body())
    scanned = Triage(SELECTOR).local(raw, LIMITS)
    assert isinstance(scanned, Scanned)
    [(index, segment)] = scanned.to_detect()
    assert segment == Segment(MOBILE, "json:$.contact.mobile", ("contact", "mobile"))
    finding = Finding("PHONE_NUMBER", 1.0, 0, 11, segment.location, index, MOBILE)
    out = scanned.inspection((finding,)).rewrite((finding,))
    masked = finding.masked(fingerprint=False)
    assert masked != MOBILE and out.body == bench_body().replace(MOBILE, masked).encode()
    assert dict(out.headers)["content-length"] == str(len(out.body))
    assert_same(raw)


@pytest.mark.parametrize("body", [
    '{"a": "x", "a": "13800138000", "a": ["13800138000", 13800138000]}',  # duplicate keys
    '{"tel": 13800138000, "t2": "13800138000"}',  # a number and a string of the same digits
    '["13800138000", "", "13800138000", [], {}, "13800138000"]',
    '{"contact": {"name": "张三", "mobile": "13800138000"}, "product": {"name": "Widget"}}',
    '{"receiver": [["张三"], {"x": "李四"}], "sku": "A-1"}',
    '"13800138000"', '13800138000', '{"odd key": {"x-y": ["bob 13800138000"]}}',
    '{"k": "1\u00a0380 0138 000", "n": "hi", "m": "bob"}',  # signals across neighbours
], ids=["duplicate-keys", "number-and-string", "list-with-empties", "names", "nested-names",
        "root-string", "root-number", "odd-keys", "nbsp-and-greeting"])
def test_fixed_shapes(body):
    assert_same(request(body))


def test_a_mask_in_the_url_is_rendered_by_the_full_path():
    raw = request(bench_body(), url=f"https://api.example.com/u?mobile={MOBILE}")
    scanned = Triage(SELECTOR).local(raw, LIMITS)
    assert isinstance(scanned, Scanned)
    assert [s.location for _, s in scanned.to_detect()] == ["query:mobile", "json:$.contact.mobile"]
    assert_same(raw)


def test_many_equal_masked_values_each_keep_their_place():
    body = json.dumps({"tels": [MOBILE] * 1000})
    raw = request(body)
    scanned = Triage(SELECTOR).local(raw, LIMITS)
    assert isinstance(scanned, Scanned) and len(scanned.selected) == 1000
    findings = tuple(Finding("PHONE_NUMBER", 1.0, 0, 11, s.location, i, MOBILE)
                     for i, s in scanned.to_detect())
    out = scanned.inspection(findings).rewrite(findings)
    assert out.body == body.replace(MOBILE, findings[0].masked(fingerprint=False)).encode()
    assert [s.location for _, s in scanned.to_detect()][-1] == "json:$.tels[999]"


def test_an_edit_outside_its_segment_cannot_mask_on_either_path():
    raw = request('{"tel": "13800138000"}')
    scanned = Triage(SELECTOR).local(raw, LIMITS)
    assert isinstance(scanned, Scanned)
    bad = (Finding("PHONE_NUMBER", 1.0, 0, 40, "json:$.tel", 1, MOBILE),)
    with pytest.raises(CannotMask, match=r"edit 0:40 outside json:\$\.tel"):
        scanned.inspection(bad).rewrite(bad)
    assert fullpath.rewritten(scanned.inspection(bad), bad) == fullpath.rewritten(
        Triage(SELECTOR, raw_scan=False).local(raw, LIMITS).inspection(bad), bad)


def test_text_the_charset_cannot_carry_cannot_mask_on_either_path():
    raw = request('{"tel": "13800138000"}'.encode("utf-16"))
    scanned = Triage(SELECTOR).local(raw, LIMITS)
    assert isinstance(scanned, Scanned)
    [(i, s)] = scanned.to_detect()
    odd = (Finding("PHONE_NUMBER", 1.0, 0, 11, s.location, i, MOBILE),)
    assert fullpath.rewritten(scanned.inspection(odd), odd) == fullpath.rewritten(
        Triage(SELECTOR, raw_scan=False).local(raw, LIMITS).inspection(odd), odd)


def test_an_exact_data_index_gets_every_segment_from_the_full_path():
    raw = request(bench_body())
    local = Triage(SELECTOR, edm=True).local(raw, LIMITS)
    assert isinstance(local, Local)
    assert len(local.to_detect()) == len(extract(raw, LIMITS).segments)


def test_a_data_key_is_never_named_here():
    body = RawJson.of('{"13800138000": "x"}', TextCodec("utf-8"))
    assert body is not None
    with pytest.raises(ValueError, match="a key that is data"):
        body.segments([0])  # "x", under a key rawscan refuses first
    assert read_body(request('{"13800138000": "x"}'), LIMITS) == "data-key"
