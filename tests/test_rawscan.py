"""A JSON body proved clean from its text (proxy/workers/rawscan.py) is one the full path
(extract + SegmentSelector) selects nothing in, and its Inspection is the full path's.

Property: for generated JSON requests built from the shapes that hide data from a raw scan
(escapes, base64 / percent / entities of an ID, names under name-ish keys, data keys, ID
numbers, full-width and zero-width characters, values that together make a signal, query
strings and headers, UTF-16 bodies), rawscan's "clean" always agrees with the full path.
Then the quality corpus, and one request per reason to fall back.
"""

from __future__ import annotations

import base64
import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.quality.generate import corpus
from detectors.batch import SegmentSelector
from detectors.config import DetectorConfig
from proxy.extraction.extract import Limits, RawRequest, extract, is_data_key
from proxy.workers.rawscan import REASONS, Scanned, body_texts, prove_clean
from proxy.workers.triage import Clean, Local, Triage

LIMITS = Limits()
SELECTOR = SegmentSelector.for_config(DetectorConfig())
TERMS = SegmentSelector.for_config(DetectorConfig(
    confidential_terms=("Project Falcon",), deny_values=(("PHONE_NUMBER", ("4001234567",)),)))
JSON = (("content-type", "application/json"),)


def request(body: bytes | str, headers=JSON, url="https://api.example.com/v1/orders"):
    data = body.encode() if isinstance(body, str) else body
    return RawRequest("POST", url, headers, data, hosts=("api.example.com",))


def full_path(raw: RawRequest, selector: SegmentSelector, limits: Limits = LIMITS):
    """What the full path selects, and the Inspection facts it reports."""
    extraction = extract(raw, limits)
    return selector.select(extraction.segments), extraction


def assert_exact(raw: RawRequest, selector: SegmentSelector = SELECTOR) -> str | None:
    proof = prove_clean(raw, LIMITS, selector)
    if proof.reason is None:
        selected, extraction = full_path(raw, selector)
        assert selected == []
        inspection = proof.inspection
        assert (inspection.findings, inspection.segments, inspection.bytes_inspected,
                inspection.images) == ((), len(extraction.segments), extraction.bytes_inspected,
                                       extraction.images)
    else:
        assert proof.reason in REASONS
    return proof.reason


# -- the property ---------------------------------------------------------------------------

ID = "11010519491231002X"
MOBILE = "13800138000"
DANGEROUS_VALUES = [
    ID, MOBILE, "138 0013 8000", "+86 138-0013-8000", "a@b.cn", "张三", "Mr Smith",
    base64.b64encode(ID.encode()).decode(), base64.b64encode(MOBILE.encode()).decode(),
    base64.urlsafe_b64encode("姓名：张三".encode()).decode(),
    "%31%33%38%30%30%31%33%38%30%30%30", "&#49;&#51;&#56;00138000", "１３８００１３８０００",
    "138\u200b0013\u200b8000", "1\u00ad3800138000", '{"tel": "13800138000"}', "[13800138000]",
    "  [1, 2]", "hi", "there", "dear", "bob", "12", "Main Street", "Best regards,", "name:",
    "Project Falcon", "4001234567", "SO-2026-11-27-000123", "3f2a9c1e-7b4d-4e8a-9c1f-2b3d4e5f6a7b",
    "deliver to dock 3", "标准件 standard part", "北京市朝阳区建国路88号", "", " ", "SKU-00001",
    "2026-11-27T10:00:00Z", "aGVsbG8gd29ybGQgaGVsbG8=", "AAAAAAAAAAAAAAAAAAAA",
    base64.b64encode(json.dumps({"tel": MOBILE}).encode()).decode(),  # a layer that opens JSON
    "data:application/json;base64," + base64.b64encode(f"[{MOBILE}]".encode()).decode(),
    base64.b64encode(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64)).decode(),  # OLE: refused
    "[" + ID.encode().hex() + "]",  # JSON in a string whose leaf is a hex layer
]
KEYS = ["sku", "qty", "note", "id", "items", "data", "name", "customerName", "productName",
        "收件人", "receiver", "holder", "contact", "13800138000", "a@b.cn", "k1", "desc", "tel",
        "payload", "merchant_data", "", "١٣٨٠٠١٣٨٠٠٠", "１３８００１３８０００", "x١٢٣٤٥٦",
        # keys extract inspects (is_data_key) and plain ones around them
        "138-0013-8000", "+86 138 0013 8000", "(138)0013-8000", "王小明", "Alice Walker",
        "约翰·史密斯", "姓名", "金额", "user_id", "createdAt"]
values = st.one_of(
    st.sampled_from(DANGEROUS_VALUES),
    st.text(st.sampled_from(list("0123456789 abcXYZ-_+/=%&@.:,[]{}\\\"张三市区号\u200b１")),
            max_size=24),
    st.integers(min_value=-10**19, max_value=10**19),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(), st.none(),
)
documents = st.recursive(
    values,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(st.tuples(st.sampled_from(KEYS), inner), max_size=4).map(dict)),
    max_leaves=12,
)
urls = st.sampled_from([
    "https://api.example.com/v1/orders", "https://api.example.com/v1/orders?page=2",
    f"https://api.example.com/u?mobile={MOBILE}", "https://api.example.com/hi",
    "https://api.example.com/v1/there?q=Main%20Street", "https://api.example.com/name",
    f"https://api.example.com/u?{ID}=1&page=2", f"https://api.example.com/u?note=hi&{MOBILE}=",
])
headers = st.sampled_from([
    JSON, (("Content-Type", "application/json; charset=utf-8"),),
    JSON + (("x-note", "bob"),), JSON + (("x-customer", MOBILE),), JSON + (("x-name", "Alice"),),
    JSON + ((f"x-{MOBILE}", "1"),), JSON + ((ID, ""),),  # names that are data: header:{i}
])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=documents, url=urls, headers=headers, ascii_only=st.booleans(),
       compact=st.booleans(), terms=st.booleans())
def test_proved_clean_means_the_full_path_selects_nothing(document, url, headers, ascii_only,
                                                          compact, terms):
    body = json.dumps(document, ensure_ascii=ascii_only,
                      separators=(",", ":") if compact else None)
    assert_exact(request(body, headers, url), TERMS if terms else SELECTOR)


@pytest.mark.parametrize("value", DANGEROUS_VALUES)
def test_each_dangerous_value_alone_agrees(value):
    for document in ({"note": value}, [value], {"items": [{"sku": "A-1", "desc": value}]}):
        assert_exact(request(json.dumps(document, ensure_ascii=False)))


@settings(max_examples=100, deadline=None)
@given(document=documents)
def test_utf16_and_gb18030_bodies_agree_too(document):
    text = json.dumps(document, ensure_ascii=False)
    for encoded in (text.encode("utf-16"), text.encode("utf-16-le"), text.encode("gb18030")):
        assert_exact(request(encoded))


def test_the_values_listed_are_the_full_paths_body_segments():
    doc = {"order": "SO-1", "n": 1234567, "f": 1234567.5, "e": 1e20, "neg": -7654321, "x": "",
           "items": [{"sku": "A 1", "qty": 2}, "B", [123456]], "t": True, "z": None}
    raw = request(json.dumps(doc))
    body = [s.text for s in extract(raw, LIMITS).segments if s.location.startswith("json:")]
    assert body_texts(raw) == body == ["SO-1", "1234567", "-7654321", "A 1", "B", "123456"]


# -- the quality corpus -----------------------------------------------------------------------

def test_the_quality_corpus_agrees_and_is_mostly_proved_or_busy():
    reasons: dict[str | None, int] = {}
    for sample in corpus(seed=12, payloads=300):
        for selector in (SELECTOR, TERMS):
            reason = assert_exact(sample.request, selector)
            reasons[reason] = reasons.get(reason, 0) + 1
    assert reasons.get(None, 0) > 0 and reasons.get("candidate", 0) > 0, reasons


# -- one request per reason to fall back --------------------------------------------------------

CLEAN = '{"order": "SO-1", "items": [{"sku": "A-1", "qty": 2}]}'
FALLBACKS = {
    "media-type": request(CLEAN, (("content-type", "text/plain"),)),
    "content-encoding": request(CLEAN, JSON + (("content-encoding", "identity, gzip"),)),
    "backslash": request('{"note": "\\u0031\\u0033\\u0038"}'),
    "undecodable": request(b'{"note": "\xc0\xb1"}'),
    "invalid-json": request('{"order": "SO-1",}'),
    "too-deep": request("[" * 600 + "]" * 600),
    "data-key": request('{"13800138000": "x"}'),
    "name-field": request('{"order": {"receiverName": "x"}}'),
    "layer": request(json.dumps({"payload": base64.b64encode(ID.encode()).decode()})),
    "budget": request(CLEAN),  # with max_body_bytes below its size (below)
    "candidate": request(json.dumps({"note": f"call {MOBILE}"})),
}


@pytest.mark.parametrize("reason", REASONS)
def test_each_reason_to_fall_back(reason):
    raw = FALLBACKS[reason]
    limits = replace(LIMITS, max_body_bytes=10) if reason == "budget" else LIMITS
    assert prove_clean(raw, limits, SELECTOR).reason == reason


@settings(max_examples=300, deadline=None)
@given(key=st.one_of(
    st.sampled_from(KEYS),
    st.text(st.sampled_from(list("0138 -+()@aAbZ_王小明欧阳姓名金额·ア한\u00a0")), max_size=16)))
def test_a_key_the_full_path_inspects_is_never_proved_clean(key):
    """The very same rule (extract.is_data_key): the key is a segment there, a way out here."""
    raw = request(json.dumps({"order": {key: ""}}, ensure_ascii=False))  # "": no leaf
    keys = [s.text for s in extract(raw, LIMITS).segments if s.location.startswith("json:")]
    assert keys == ([key] if is_data_key(key) else [])
    if is_data_key(key):
        assert prove_clean(raw, LIMITS, SELECTOR).reason == "data-key"


def test_a_request_clean_only_by_its_body_is_not_clean_by_its_url_or_headers():
    assert prove_clean(request(CLEAN, url=f"https://a.example/u?m={MOBILE}"), LIMITS,
                       SELECTOR).reason == "candidate"
    assert prove_clean(request(CLEAN, JSON + (("x-recipient", "Alice"),)), LIMITS,
                       SELECTOR).reason == "candidate"


def test_values_that_make_a_signal_only_together_are_not_proved_clean():
    # "hi" then "bob" as neighbouring segments: the greeting signal runs across the newline.
    raw = request(json.dumps({"a": "hi", "b": "bob"}))
    assert full_path(raw, SELECTOR)[0] != []
    assert prove_clean(raw, LIMITS, SELECTOR).reason == "candidate"


def test_triage_answers_clean_without_extracting_and_extracts_otherwise():
    triage = Triage(SELECTOR)
    assert isinstance(triage.local(request(CLEAN), LIMITS), Clean)
    scanned = triage.local(FALLBACKS["name-field"], LIMITS)  # candidates found unextracted
    assert isinstance(scanned, Scanned)
    assert [s.location for _, s in scanned.to_detect()] == ["json:$.order.receiverName"]
    local = triage.local(FALLBACKS["layer"], LIMITS)
    assert isinstance(local, Local)
    assert [local.extraction.segments[i].location for i in local.selected] == [
        "json:$.payload|base64"]
    off = Triage(SELECTOR, raw_scan=False).local(request(CLEAN), LIMITS)
    assert isinstance(off, Local) and off.selected == []


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(st.text(st.sampled_from(list("aZ09+/_-=%&[{ \t\\张\u200b.")), max_size=30),
                      max_size=6))
def test_openable_lines_are_the_lines_that_may_open(lines):
    from proxy.extraction.layers import may_open, openable_lines

    assert openable_lines("\n".join(lines)) == [line for line in lines if may_open(line)]


@pytest.mark.parametrize("body", [
    '{"a": "x",}', '{"a": "x\ty"}', '{"a": "x}', '{"a" "b"}', '{"a": nope}', '["a"] ["b"]',
    '{"a": "\x01"}', '   ', '{"a": "x"} "',
], ids=["trailing-comma", "raw-tab", "odd-quotes", "no-colon", "bare-word", "two-documents",
        "control", "blank", "stray-quote"])
def test_what_extraction_refuses_as_json_is_never_proved(body):
    with pytest.raises(Exception, match="not valid JSON"):
        extract(request(body), LIMITS)
    assert prove_clean(request(body), LIMITS, SELECTOR).reason == "invalid-json"


def test_keys_that_are_data_are_not_kept_in_the_key_cache():
    """rawscan remembers field names across requests, never a key that is data (a phone, a
    name): it would stay in the proxy's memory after its request."""
    from proxy.workers import rawscan

    assert rawscan._key_reason("138-0013-8000") == "data-key"
    assert rawscan._key_reason("customerName") == "name-field"
    assert rawscan._key_reason("sku") is None
    assert "138-0013-8000" not in rawscan._FIELD_REASONS
    assert {"customerName", "sku"} <= rawscan._FIELD_REASONS.keys()
