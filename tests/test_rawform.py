"""A form or plain-text body read from its bytes (proxy/workers/rawform.py, flatscan.py) is the
full path's: the same decision (clean or not), the same selection, the same segments sent to a
worker (text, location, context), the same Inspection facts, and the same masked request byte
for byte, or the same CannotMask.

The full path is ``Triage(..., raw_scan=False)``: extract, ``SegmentSelector.select``, then
``masked(extraction, findings)``. Forms are drawn as raw fields with names, phones, IDs, escapes
of every kind (``+``, ``%20``, ``%2B``, ``%26``, ``%3D``, ``%00``, a lone ``%``, lower-case hex),
bare fields, duplicate and empty names, name-ish names, non-UTF-8 bytes, BOMs, NULs, base64 /
hex / twice-encoded layers and charset labels; texts likewise, with line breaks, MIME base64
blocks, embedded JSON, entities and invisible characters.
"""

from __future__ import annotations

import base64
import copy
import json
import random
import sys
from pathlib import Path
from urllib.parse import quote, quote_plus, unquote_to_bytes

import pytest
from fullpath import LIMITS, SELECTOR, TERMS, URL, assert_agrees, findings_for, raw_post, which_path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.quality.generate import corpus
from detectors.batch import SegmentSelector, person_context
from detectors.model import Finding, Segment
from proxy.extraction.extract import RawRequest, extract, words
from proxy.workers import rawform
from proxy.workers.flatscan import REASONS, FlatScanned, scan
from proxy.workers.rawform import read_flat
from proxy.workers.triage import Clean, Triage

FORM = (("content-type", "application/x-www-form-urlencoded"), ("content-length", "0"))
TEXT = (("content-type", "text/plain"), ("content-length", "0"))
ID = "11010519491231002X"
MOBILE = "13800138000"


def request(body: bytes | str, headers=FORM, url=URL) -> RawRequest:
    return raw_post(body, headers, url)


# -- what is compared (tests/fullpath.py) --------------------------------------------------

def with_an_edit_past_the_end(segments: tuple[tuple[int, Segment], ...]):
    return findings_for(segments, past_the_end=True)


def assert_same(raw: RawRequest, selector: SegmentSelector = SELECTOR) -> str:
    """Triage's answer for ``raw`` equals the full path's (a clean one's facts too) under
    fullpath.findings_for's mask sets and an edit outside its segment; returns which kind it
    was."""
    return which_path(assert_agrees(raw, selector, with_an_edit_past_the_end, clean_facts=True))


# -- forms, written field by field ----------------------------------------------------------

NAMES = ["sku", "qty", "note", "items[0][sku]", "items[12][desc]", "name", "customerName",
         "receiver", "姓名", "收件人", "contact[mobile]", "tel", "", "a b", "x=y", "a&b",
         MOBILE, "王小明", "Alice Walker", "data", "order_id", "user name", "名"]
# Names that are data (extract.is_data_name): the full path makes each a segment at form:{i}.
DATA_NAMES = [MOBILE, ID, f"c[{MOBILE}]", "138-0013-8000", "a@b.cn", "items1[2][3]x4y5z6",
              "张伟", "Alice Walker"]
VALUES = [
    MOBILE, ID, "张三", "Mr Smith", "a@b.cn", "138 0013 8000", f"call {MOBILE} now", "", " ",
    "SO-2026-11-27-000123", "标准件 standard part", "deliver to dock 3", "hi", "bob",
    "Project Falcon", "4001234567", "北京市朝阳区建国路88号", "１３８００１３８０００", "a=b", "a&b",
    "x+y", "100%", "50% off", "line one\nline two", "\r\n", "tab\there", "q\\w",
    base64.b64encode(MOBILE.encode()).decode(), base64.b64encode(ID.encode()).decode(),
    base64.b64encode(json.dumps({"tel": MOBILE}).encode()).decode(), '{"tel": "13800138000"}',
    "[13800138000]", ID.encode().hex(), "%31%33%38", "&#49;&#51;&#56;00138000",
    "138\u200b0013\u200b8000", "\ufeffx", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "MTM4MDAxMzgwMDA\nMTM4MDAxMzgwMDA=",
]
# How a value (or name) is written: as a browser does, with %20, as is, GB18030 bytes escaped,
# raw GB18030 / Latin-1 bytes, lower-case escapes, a BOM, a NUL, a stray %.
WRITERS = {
    "plus": lambda t: quote_plus(t, safe="*").encode(),
    "percent": lambda t: quote(t, safe="").encode(),
    "raw": lambda t: t.encode("utf-8", "surrogatepass"),
    "lower": lambda t: quote(t, safe="").lower().encode(),
    "gb18030": lambda t: quote(t, safe="", encoding="gb18030").encode(),
    "gb-bytes": lambda t: t.encode("gb18030", "replace"),
    "latin1": lambda t: t.encode("latin-1", "replace"),
    "bom": lambda t: b"%EF%BB%BF" + quote_plus(t).encode(),
    "nul": lambda t: quote_plus(t).encode() + b"%00",
    "raw-nul": lambda t: quote_plus(t).encode() + b"\x00",
    "stray": lambda t: quote_plus(t).encode() + b"%4",
    "twice": lambda t: quote_plus(quote_plus(t)).encode(),
}
COMMON = ["plus", "plus", "plus", "percent", "raw", "lower"]  # mostly what browsers send

fields = st.one_of(
    st.tuples(st.sampled_from(NAMES), st.sampled_from(VALUES), st.sampled_from(COMMON),
              st.sampled_from(COMMON)),
    st.tuples(st.sampled_from(NAMES), st.sampled_from(VALUES), st.sampled_from(COMMON),
              st.sampled_from(sorted(WRITERS))),
    st.tuples(st.just(None), st.sampled_from(VALUES), st.sampled_from(COMMON),
              st.sampled_from(COMMON)),  # bare: no "="
    st.tuples(st.sampled_from(DATA_NAMES), st.sampled_from(VALUES), st.sampled_from(COMMON),
              st.sampled_from(COMMON)),
    st.tuples(st.text(st.sampled_from(list("ab1_[]=&+%. 名")), max_size=6),
              st.text(st.sampled_from(list("0138 abZ-_+=%&@.张三\n")), max_size=16),
              st.just("raw"), st.just("raw")),
)


def form(drawn) -> bytes:
    out = []
    for name, value, name_writer, value_writer in drawn:
        written = WRITERS[value_writer](value)
        out.append(written if name is None else WRITERS[name_writer](name) + b"=" + written)
    return b"&".join(out)


form_headers = st.sampled_from([
    FORM, (("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8"),),
    (("content-type", "application/x-www-form-urlencoded;charset=utf-8"),),
    (("content-type", "application/x-www-form-urlencoded; charset=gbk"),),
    FORM + (("x-note", "bob"),), FORM + (("x-customer", MOBILE),), FORM + (("x-name", "Alice"),),
    FORM + ((f"x-{MOBILE}", "1"),),
])
urls = st.sampled_from([
    "https://api.example.com/v1/orders", f"https://api.example.com/u?mobile={MOBILE}",
    f"https://api.example.com/u?{ID}=1&page=2",
    "https://api.example.com/name/bob", "https://api.example.com/v1/there?q=Main%20Street",
])


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=st.lists(fields, max_size=8), headers=form_headers, url=urls, terms=st.booleans())
def test_forms_are_the_full_paths(drawn, headers, url, terms):
    assert_same(request(form(drawn), headers, url), TERMS if terms else SELECTOR)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=st.lists(fields, min_size=1, max_size=8))
def test_every_form_segment_is_read_as_extract_makes_it(drawn):
    raw = request(form(drawn))
    body = read_flat(raw, LIMITS)
    if isinstance(body, str):
        return  # not read from its bytes: the full path's alone
    expected = [s for s in extract(raw, LIMITS).segments if s.location.startswith("form:")]
    assert body.texts == [s.text for s in expected]
    assert [body.segment(k) for k in range(len(expected))] == expected
    assert body.named() == [k for k, s in enumerate(expected)
                            if s.context and person_context(s.context)]


def test_seeded_forms_agree_and_take_every_path():
    """The property's shapes from a fixed seed: each kind of answer is reached."""
    rng = random.Random(8)
    kinds: dict[str, int] = {}
    for _ in range(300):
        drawn = [(rng.choice(NAMES + [None]), rng.choice(VALUES), rng.choice(COMMON),
                  rng.choice(COMMON * 6 + sorted(WRITERS))) for _ in range(rng.randrange(1, 8))]
        kind = assert_same(request(form(drawn)))
        kinds[kind] = kinds.get(kind, 0) + 1
    assert kinds.keys() == {"clean", "scanned", "local"}, kinds
    assert min(kinds.values()) >= 20, kinds


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_each_value_and_way_of_writing_it_agrees(value, writer):
    for name in ("note", "receiver"):
        for body in (f"{name}=".encode() + WRITERS[writer](value),
                     b"a=SO-1&" + f"{name}=".encode() + WRITERS[writer](value) + b"&b=2",
                     WRITERS[writer](value)):
            assert_same(request(body))


def test_the_benchmarks_form_is_scanned_and_masked_in_place():
    body = bench_form(phone=True)
    raw = request(body)
    scanned = Triage(SELECTOR).local(raw, LIMITS)
    assert isinstance(scanned, FlatScanned)
    [(index, segment)] = scanned.to_detect()
    assert segment == Segment(MOBILE, "form:contact[mobile]", ("contact", "mobile"))
    finding = Finding("PHONE_NUMBER", 1.0, 0, 11, segment.location, index, MOBILE)
    out = scanned.inspection((finding,)).rewrite((finding,))
    mask = finding.masked(fingerprint=False)
    assert mask != MOBILE and out.body == body.replace(MOBILE, quote_plus(mask, safe="*")).encode()
    assert dict(out.headers)["content-length"] == str(len(out.body))
    assert_same(raw)
    assert isinstance(Triage(SELECTOR).local(request(bench_form(phone=False)), LIMITS), Clean)


def bench_form(phone: bool) -> str:
    """The form bench/masked_cpu_ab.py --body form sends (a browser's escapes)."""
    from bench.masked_cpu_ab import form_4k

    return form_4k(phone)


def test_many_equal_masked_values_each_keep_their_place():
    body = "&".join(f"tel={MOBILE}" for _ in range(500))
    scanned = Triage(SELECTOR).local(request(body), LIMITS)
    assert isinstance(scanned, FlatScanned) and len(scanned.selected) == 500
    findings = tuple(Finding("PHONE_NUMBER", 1.0, 0, 11, s.location, i, MOBILE)
                     for i, s in scanned.to_detect())
    out = scanned.inspection(findings).rewrite(findings)
    mask = quote_plus(findings[0].masked(fingerprint=False), safe="*")
    assert out.body == body.replace(MOBILE, mask).encode()


def test_a_name_field_is_selected_whatever_it_holds():
    raw = request("items[0][sku]=A-1&receiver[name]=Li+Lei&items[1][sku]=B-2&receiver[name]=")
    scanned = Triage(SELECTOR).local(raw, LIMITS)
    assert isinstance(scanned, FlatScanned)
    assert [s for _, s in scanned.to_detect()] == [
        Segment("Li Lei", "form:receiver[name]", ("receiver", "name"))]
    assert_same(raw)


# -- one request per reason to fall back -----------------------------------------------------

FALLBACKS = {
    "media-type": request("a=1", (("content-type", "application/x-www-form-urlencoded; a=b"),)),
    "content-encoding": request("a=1", FORM + (("content-encoding", "identity, gzip"),)),
    "binary": request(b"%PDF-1.7\n1 0 obj", TEXT),
    "nul": request("a=1%00"),
    "undecodable": request(b"a=%D5%C5%C8%FD"),  # GB18030 张三: decoded field by field
    "bom": request("a=%EF%BB%BF1"),
    "layer": request("a=" + quote_plus(base64.b64encode(ID.encode()).decode())),
    "data-name": request(f"note=hi&{ID}="),  # extract: the name is a segment at form:{1}
    "budget": request("a=1"),  # with max_body_bytes below its size (below)
    "candidate": request("a=1"),  # with a selector that selects everything (below)
}


@pytest.mark.parametrize("reason", REASONS)
def test_each_reason_to_fall_back(reason):
    from dataclasses import replace

    raw = FALLBACKS[reason]
    limits = replace(LIMITS, max_body_bytes=2) if reason == "budget" else LIMITS
    selector = SELECTOR
    if reason == "candidate":  # an admin's recognizer sees every segment
        selector = copy.copy(SELECTOR)
        selector.everything = True
    found = scan(raw, limits, selector)
    assert not isinstance(found, FlatScanned) and found.reason == reason


# -- plain text ----------------------------------------------------------------------------

LINES = [
    "Hello team,", "please call the customer at 13800138000 tomorrow", "order SO-1 shipped",
    "deliver to dock 3", "Tom & Jerry", "AT&T", "&#49;&#51;&#56;00138000", "50% done", "%31%33",
    "MTM4MDAxMzgwMDA=", "aGVsbG8gd29ybGQgaGVsbG8=", "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY",
    "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY", "WVo=", ID, "张三 先生", "Best regards,", "Bob",
    '{"tel": "13800138000"}', "[1, 2]", "  {", "}", ID.encode().hex(), "x\\u0031y",
    "138\u200b0013\u200b8000", "\ufeffhi", "Project Falcon", "", "e3b0c44298fc1c149afbf4c8996fb92",
]
texts = st.lists(st.sampled_from(LINES), max_size=10)
text_headers = st.sampled_from([
    TEXT, (("Content-Type", "text/plain; charset=UTF-8"),), (("content-type", "text/plain"),
                                                           ("x-name", "Alice")),
    (("content-type", "text/plain; charset=gbk"),), (("content-type", "text/markdown"),),
])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=texts, newline=st.sampled_from(["\n", "\r\n", " "]), headers=text_headers,
       encoding=st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16", "gb18030"]),
       terms=st.booleans(), url=urls)
def test_texts_are_the_full_paths(lines, newline, headers, encoding, terms, url):
    body = newline.join(lines).encode(encoding)
    assert_same(request(body, headers, url), TERMS if terms else SELECTOR)


def test_a_text_with_a_phone_is_scanned_and_masked_in_place():
    text = "Hello,\nplease call 13800138000 tomorrow.\n"
    raw = request(text.encode(), TEXT)
    scanned = Triage(SELECTOR).local(raw, LIMITS)
    assert isinstance(scanned, FlatScanned)
    [(index, segment)] = scanned.to_detect()
    assert segment == Segment(text, "text")
    start = text.index(MOBILE)
    finding = Finding("PHONE_NUMBER", 1.0, start, start + 11, "text", index, MOBILE)
    out = scanned.inspection((finding,)).rewrite((finding,))
    assert out.body == text.replace(MOBILE, finding.masked(fingerprint=False)).encode()
    assert_same(raw)
    assert isinstance(Triage(SELECTOR).local(request(b"order SO-1 shipped", TEXT), LIMITS), Clean)


MULTILINE_JSON = ['{\n  "tel": "13800138000"\n}', '{\n  "sku": "A-1",\n  "qty": 2\n}',
                  '[\n  "SO-1"\n]']


@pytest.mark.parametrize("value", MULTILINE_JSON)
def test_json_over_several_lines_is_probed_whole(value):
    """Line by line, ``{`` and ``}`` open nothing; the whole value is a JSON document."""
    for raw in (request("note=" + quote_plus(value) + "&sku=A-1"), request(value.encode(), TEXT),
                request(b"a=1&" + quote_plus(value).encode())):
        assert scan(raw, LIMITS, SELECTOR).reason == "layer"
        assert_same(raw)


def test_a_mime_base64_block_in_a_text_is_not_proved():
    block = base64.encodebytes(f"call {MOBILE} or {ID}, {'x' * 40}".encode()).decode()
    raw = request(("see attached\n" + block).encode(), TEXT)
    assert scan(raw, LIMITS, SELECTOR).reason == "layer"
    assert_same(raw)


# -- the quality corpus, and the pieces ----------------------------------------------------

def test_the_quality_corpus_agrees_and_takes_the_new_path():
    kinds: dict[str, int] = {}
    for sample in corpus(seed=12, payloads=300):
        if read_flat(sample.request, LIMITS) == "media-type":
            continue
        for selector in (SELECTOR, TERMS):
            kind = assert_same(sample.request, selector)
            kinds[kind] = kinds.get(kind, 0) + 1
    assert kinds.get("scanned", 0) > 0 and kinds.get("clean", 0) > 0, kinds


@settings(max_examples=500, deadline=None)
@given(data=st.binary(max_size=40) | st.text(st.sampled_from(list("%25aF0gz\\+x")), max_size=30)
       .map(str.encode))
def test_unquote_is_the_librarys(data):
    assert rawform._unquote(data) == unquote_to_bytes(data)


@settings(max_examples=300, deadline=None)
@given(name=st.text(st.sampled_from(list("aZ09_[]. -名٣Éé")), max_size=12))
def test_a_names_words_do_not_depend_on_its_digits(name):
    [shape] = rawform._shapes([name])
    assert shape == "".join("_" if c in "0123456789" else c for c in name)
    assert words(shape) == words(name)


def test_field_names_that_are_data_are_not_kept_in_the_name_cache():
    assert rawform._named("receiver[name]") is True
    assert rawform._named("收件人") is True
    assert rawform._named("items[_][sku]") is False
    assert rawform._named("王小明") is False and rawform._named("Alice Walker") is False
    assert "王小明" not in rawform._NAMED and "Alice Walker" not in rawform._NAMED
    assert {"receiver[name]", "收件人", "items[_][sku]"} <= rawform._NAMED.keys()


# -- end to end: `baomi run` (default policy) in front of a recording HTTPS upstream --------

E2E_FORMS = {
    # a phone under a phone-ish name, or beside "call": masked (default policy: phones masked)
    "browser-form": (f"order_id=SO-1&items%5B0%5D%5Bdesc%5D={quote_plus('标准件 part')}"
                     f"&contact%5Bmobile%5D={MOBILE}&note=call+{MOBILE}+now", FORM[0][1]),
    "charset-label": (f"a=1&mobile={MOBILE}&mobile=&bare&b=x%3Dy",
                      "application/x-www-form-urlencoded; charset=UTF-8"),
    "text": (f"Hello,\nplease call the customer at {MOBILE} tomorrow.\n", "text/plain"),
}


def post(client, upstream, body: bytes, content_type: str):
    before = len(upstream.received)
    response = client.post(upstream.url("/v1/orders"), content=body,
                           headers={"content-type": content_type})
    return response.status_code, upstream.received[before:]


@pytest.mark.e2e
@pytest.mark.parametrize("name", list(E2E_FORMS))
def test_e2e_the_upstream_gets_the_masked_body_byte_for_byte(default_client, https_up, name):
    body, content_type = E2E_FORMS[name]
    raw = request(body, (("content-type", content_type),))
    assert isinstance(Triage(SELECTOR).local(raw, LIMITS), FlatScanned)  # the new path
    status, got = post(default_client, https_up, body.encode(), content_type)
    assert status == 200 and len(got) == 1
    mask = Finding("PHONE_NUMBER", 1.0, 0, 11, "x", 0, MOBILE).masked(fingerprint=False)
    written = mask if content_type == "text/plain" else quote_plus(mask, safe="*")
    assert mask != MOBILE and got[0].body == body.replace(MOBILE, written).encode()
    assert int(got[0].headers["content-length"]) == len(got[0].body)


@pytest.mark.e2e
@pytest.mark.parametrize("kind", ["form", "text"])
def test_e2e_a_clean_body_arrives_untouched(default_client, https_up, kind):
    from bench.masked_cpu_ab import CONTENT_TYPES, body_of

    body = body_of(kind, with_phone=False).encode()
    assert isinstance(Triage(SELECTOR).local(request(body, (("content-type", CONTENT_TYPES[kind]),)),
                                             LIMITS), Clean)
    status, got = post(default_client, https_up, body, CONTENT_TYPES[kind])
    assert status == 200 and len(got) == 1 and got[0].body == body
