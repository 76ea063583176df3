"""Reviewer R1 (session 18): inputs where a fast path of issue 12 might answer differently
from the full path it skips, in the direction that leaks.

1. rawscan's clean proof (proxy/workers/rawscan.py) against ``extract`` +
   ``SegmentSelector.select``: a proof of "clean" must mean the full path selects nothing,
   raises nothing and counts the same images.
2. Masking by splicing (proxy/extraction/extract.py ``_spliced``): the output is the input
   with each masked value replaced at its own token, and the masked value is gone.
3. (session 20) flatscan's proof for forms and plain text, against the same full path.

Tests marked ``xfail(strict=True)`` are findings: they fail today and must pass once fixed
(strict: a fix makes them XPASS, which fails the suite until the marker is removed). The
others pin shapes that agree today.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import struct
import zipfile
import zlib
from urllib.parse import quote, quote_plus

import httpx
import pytest
from harness import REPO, BaomiProcess
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detectors.batch import SegmentSelector
from detectors.config import DetectorConfig
from proxy.errors import Uninspectable
from proxy.extraction.extract import Limits, RawRequest, extract
from proxy.workers import flatscan
from proxy.workers.rawscan import Proof, prove_clean
from proxy.workers.triage import Clean, Triage

LIMITS = Limits()
SELECTOR = SegmentSelector.for_config(DetectorConfig())
JSON = (("content-type", "application/json"),)
MOBILE = "13800138000"
ID = "11010519491231002X"


def request(body: bytes | str, headers=JSON, url="https://api.example.com/v1/orders"):
    data = body.encode() if isinstance(body, str) else body
    return RawRequest("POST", url, headers, data, hosts=("api.example.com",))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def zip_of(name: str, text: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(name, text)
    return out.getvalue()


def png() -> bytes:
    """A valid 1x1 grey PNG (its pixels are what baomi cannot inspect)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)
    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b""))


OLE = bytes.fromhex("d0cf11e0a1b11ae1") + bytes(64)  # legacy / encrypted Office file


def fast_and_full(raw: RawRequest):
    """(rawscan's reason, the full path's selected locations or the error it raises)."""
    reason = prove_clean(raw, LIMITS, SELECTOR).reason
    try:
        extraction = extract(raw, LIMITS)
    except Uninspectable as exc:
        return reason, exc
    return reason, [extraction.segments[i].location for i in SELECTOR.select(extraction.segments)]


# -- finding 1: a decoded layer that opens a JSON document or a binary document --------------
#
# rawscan's probe (rawscan.py _Opened/_PROBE) answers "opened" with a view of no segments;
# layers._Node.of keeps only layers that have segments (layers.py `found = ...`), so every
# layer whose child is the probe's JSON or document view is dropped and ``opens`` says False.
# Base64 of JSON, of gzip(JSON), of a ZIP/PDF/DOCX/OLE/7z/RAR/image, and the leaves of a JSON
# document written inside a string are never looked at by the proof.

HIDDEN_IN_A_LAYER = {
    "base64-json": b64(json.dumps({"tel": MOBILE}).encode()),
    "base64-json-id": b64(json.dumps({"id": ID}).encode()),
    "base64url-unpadded-json": base64.urlsafe_b64encode(
        json.dumps({"tel": MOBILE}).encode()).decode().rstrip("="),
    "data-url-json": "data:application/json;base64," + b64(f"[{MOBILE}]".encode()),
    "base64-gzip-json": b64(gzip.compress(json.dumps({"tel": MOBILE}).encode())),
    "base64-zip": b64(zip_of("a.txt", f"tel {MOBILE}")),
}


@pytest.mark.parametrize("value", HIDDEN_IN_A_LAYER.values(), ids=HIDDEN_IN_A_LAYER.keys())
def test_data_under_a_base64_layer_is_never_proved_clean(value):
    raw = request(json.dumps({"payload": value}))
    reason, full = fast_and_full(raw)
    assert full != []  # the full path finds the phone/ID under the layer and selects it
    assert reason is not None
    assert not isinstance(Triage(SELECTOR).local(raw, LIMITS), Clean)


HIDDEN_IN_HEX = {
    "hex-id": ID.encode().hex(),
    "hex-upper-mobile": MOBILE.encode().hex().upper(),
    "hex-0x-text": "0x" + f"tel {MOBILE}".encode().hex(),
    "hex-escapes": "".join(f"\\x{b:02x}" for b in ID.encode()),
    "hex-utf16": f"id {ID}".encode("utf-16-le").hex(),
    "hex-json": json.dumps({"id": ID}).encode().hex(),
    "hex-in-a-path": "/u/" + ID.encode().hex() + "/x",
}


@pytest.mark.parametrize("value", HIDDEN_IN_HEX.values(), ids=HIDDEN_IN_HEX.keys())
def test_data_under_a_hex_layer_is_never_proved_clean(value):
    raw = request(json.dumps({"payload": value}))
    reason, full = fast_and_full(raw)
    assert full != [] and all("|hex" in location for location in full)
    assert reason is not None
    assert not isinstance(Triage(SELECTOR).local(raw, LIMITS), Clean)


@pytest.mark.parametrize("value", [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",  # sha256
    "3bbb07c5a9e1d24f6b80c7d2e9f1a3b5", "550e8400-e29b-41d4-a716-446655440000",
    "20261206123456789012345678",
])
def test_digests_uuids_and_numbers_are_still_proved_clean(value):
    assert fast_and_full(request(json.dumps({"sign": value}))) == (None, [])


def test_an_upper_case_digest_opens_no_layer_on_either_path():
    # the selector picks its digit run "95601890" as it did before hex was a layer
    value = "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709"  # sha1
    assert fast_and_full(request(json.dumps({"sign": value}))) == ("candidate", ["json:$.sign"])


@pytest.mark.parametrize("data", [OLE, b"7z\xbc\xaf\x27\x1c" + bytes(64),
                                  b"Rar!\x1a\x07\x00" + bytes(64), gzip.compress(OLE)],
                         ids=["ole", "7z", "rar", "gzip-ole"])
def test_a_refused_file_under_base64_is_never_proved_clean(data):
    raw = request(json.dumps({"file": b64(data)}))
    reason, full = fast_and_full(raw)
    assert isinstance(full, Uninspectable)
    assert reason is not None


def test_an_image_under_base64_is_counted_or_not_proved():
    raw = request(json.dumps({"avatar": b64(png())}))
    assert extract(raw, LIMITS).images == 1
    proof = prove_clean(raw, LIMITS, SELECTOR)
    if proof.reason is None:
        assert proof.inspection is not None and proof.inspection.images == 1


def test_the_leaves_of_json_inside_a_string_are_probed():
    # The number is hex of an ID (all digits: "X" is 58). It was -1922470981961689464, base64url
    # of GB18030 text the selector flags; a run of digits and dashes is no longer base64.
    raw = request('{"a": "[' + ID.encode().hex() + ']"}')
    reason, full = fast_and_full(raw)
    assert full == ["json:$.a|json:$[0]|hex"]
    assert reason is not None


def test_a_negative_number_is_not_read_as_base64url():
    assert fast_and_full(request('{"a": -1922470981961689464}')) == (None, [])


def test_base64_of_a_bare_mobile_is_decoded():
    # R1 side finding (both paths, not the fast path): base64 of an 11-digit mobile is a
    # 15-character run (+ '='), under the 16-character minimum: it was never decoded.
    value = b64(MOBILE.encode())
    assert value == "MTM4MDAxMzgwMDA="
    _, full = fast_and_full(request(json.dumps({"p": value})))
    assert full == ["json:$.p|base64"]


@pytest.mark.parametrize("value", [
    b64(MOBILE.encode()), b64(MOBILE.encode()).rstrip("="), f"tel={b64(MOBILE.encode())}&x=1",
    base64.urlsafe_b64encode(f"{MOBILE}?".encode()).decode(),
])
def test_a_short_base64_run_is_never_proved_clean(value):
    """rawscan's line finder looks for runs of 12+ and keeps those ``may_open`` keeps."""
    assert fast_and_full(request(json.dumps({"p": value}))) == ("layer", ["json:$.p|base64"])


@pytest.mark.parametrize("value", ["getCustomerName", "3f2a9b7c1d4e", "ORD-A1B2C3D4",
                                   "sortByCreatedAt=desc", "QOBdVti9n4dte2"])
def test_a_short_run_that_is_not_base64_is_still_proved_clean(value):
    assert fast_and_full(request(json.dumps({"p": value}))) == (None, [])


# -- shapes that agree today (pins) --------------------------------------------------------------

AGREEING = {
    "bare-number-layer": ('{"a": ' + ID.encode().hex() + "}", JSON, "layer"),  # hex of an ID
    "base64-text": (json.dumps({"p": b64(ID.encode())}), JSON, "layer"),
    "percent-json": (json.dumps({"p": "%7B%22t%22%3A%2213800138000%22%7D"}), JSON, "layer"),
    "nan-beside-an-id-number": ('{"a": NaN, "b": 13800138000}', JSON, "candidate"),
    "raw-nul": (b'{"a": "1\x003800138000"}', JSON, "invalid-json"),
    "line-separator-inside-digits": ('{"a": "1\u20283800138000"}', JSON, "candidate"),
    "nbsp-inside-digits": ('{"a": "138\u00a00013\u00a08000"}', JSON, "candidate"),
    "gb18030-name": ('{"a": "张三 先生"}'.encode("gb18030"), JSON, "candidate"),
    "vnd-api-json": ('{"a": "x"}', (("content-type", "application/vnd.api+json"),), "media-type"),
    "text-json": ('{"a": "x"}', (("content-type", "text/json"),), "media-type"),
    "utf16-label": ('{"a": "x"}', (("content-type", "application/json; charset=utf-16"),),
                    "media-type"),
    "two-content-types": ('{"a": "x"}', JSON + (("Content-Type", "application/JSON"),),
                          "media-type"),
    "gzip-odd-case": ('{"a": "x"}', JSON + (("Content-Encoding", "GZip"),), "content-encoding"),
    "fullwidth-digit-key": ('{"１２３４５６": "x"}', JSON, "data-key"),
    "cjk-name-key": ('{"订单": {"收件人": "x"}}', JSON, "name-field"),
}


@pytest.mark.parametrize("body,headers,reason", AGREEING.values(), ids=AGREEING.keys())
def test_shapes_that_agree(body, headers, reason):
    assert fast_and_full(request(body, headers))[0] == reason


@pytest.mark.parametrize("url,headers", [
    ("https://api.example.com/x?q=" + b64(json.dumps({"t": MOBILE}).encode()), JSON),
    ("https://api.example.com/x", JSON + (("x-data", b64(json.dumps({"t": MOBILE}).encode())),)),
])
def test_layers_in_the_url_and_headers_are_the_full_paths(url, headers):
    assert prove_clean(request('{"a": "SO-1"}', headers, url), LIMITS, SELECTOR).reason == \
        "candidate"


VALUES = [ID, MOBILE, "张三", "１３８００１３８０００", "138 0013 8000", "١٣٨٠٠١٣٨٠٠٠", "a＠b.cn",
          "\ufeff13800138000", "1\u200d3800138000", "北京市朝阳区建国路88号", "Zhang San", "先生",
          "SO-1", "[1,2]", "MTM4MDAxMzgwMDA", "=31=33=38", "3133383030313338303030",
          ID.encode().hex().upper(), "0x" + json.dumps({"t": MOBILE}).encode().hex(),
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
          "550e8400-e29b-41d4-a716-446655440000", "3133383030313338303030a"]
KEYS = ["a", "note", "手机号", "身份证号", "ｎａｍｅ", "名", "userName", "first", "ｔｅｌ", "addr"]
leaves = st.one_of(st.sampled_from(VALUES), st.integers(-10**19, 10**19),
                   st.sampled_from([1.1e5, -0.0, 1.38001380000e10, 110105194912310020]))
documents = st.recursive(leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)),
    max_leaves=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=documents, compact=st.booleans())
def test_proved_clean_means_the_full_path_selects_nothing_without_layers(document, compact):
    """Full-width, Arabic-Indic and separated digits, invisible characters, keys in other
    scripts and widths, floats/huge ints: no disagreement found in 1,500 runs."""
    body = json.dumps(document, ensure_ascii=False,
                      separators=(",", ":") if compact else None)
    reason, full = fast_and_full(request(body))
    if reason is None:
        assert full == []


# -- 2. masking by splicing ---------------------------------------------------------------------

ESCAPED = "".join(f"\\u{ord(c):04x}" for c in MOBILE)  # the phone written as \u escapes
SPLICE_VALUES = [MOBILE, f"tel {MOBILE}", ESCAPED, MOBILE.replace("0", "\\u0030"), "x", "a\\/b",
                 "13800138000\\n", "", "张三"]
SPLICE_KEYS = ["a", MOBILE, f"{MOBILE}@x", "x", "tel", "13800138000\\/"]


def spliced_document(draw_pairs, ws):
    """JSON text from drawn (key, raw-token-text, number?) items, random whitespace."""
    parts = []
    for key, value, number in draw_pairs:
        token = value if number else f'"{value}"'
        parts.append(f'{ws}"{key}"{ws}:{ws}{token}{ws}')
    return "{" + ",".join(parts) + "}"


items = st.lists(st.one_of(
    st.tuples(st.sampled_from(SPLICE_KEYS), st.sampled_from(SPLICE_VALUES), st.just(False)),
    st.tuples(st.sampled_from(SPLICE_KEYS), st.sampled_from([MOBILE, "-" + MOBILE, "1.5"]),
              st.just(True))), min_size=1, max_size=6)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pairs=items, ws=st.sampled_from(["", " ", "\n\t", "\r\n "]),
       charset=st.sampled_from(["utf-8", "utf-16", "gb18030"]))
def test_every_masked_phone_is_gone_and_nothing_else_moves(pairs, ws, charset):
    """Mask every occurrence of the phone in every segment the walk makes (values, data
    keys, numbers; the same value many times, escaped or not, duplicate keys): no form of
    it survives, the other bytes stay, Content-Length follows."""
    text = spliced_document(pairs, ws)
    body = text.encode(charset)
    label = "application/json" + ("" if charset == "utf-8" else f"; charset={charset}")
    raw = RawRequest("POST", "https://api.example.com/", (
        ("content-type", label), ("content-length", str(len(body)))), body)
    extraction = extract(raw, LIMITS)
    edits = {}
    for i, segment in enumerate(extraction.segments):
        at = segment.text.find(MOBILE)
        if at >= 0 and segment.location.startswith("json:"):
            edits[i] = [(at, at + len(MOBILE), "138****8000")]
    if not edits:
        return
    new = extraction.rewrite(edits)
    out = new.body.decode(charset)
    assert MOBILE not in out and ESCAPED not in out and MOBILE.replace("0", "\\u0030") not in out
    assert dict(new.headers)["content-length"] == str(len(new.body))
    # Nothing but the masked tokens changed: the masked output parses to the input's pairs
    # with each masked string (or number, now a string) replaced.
    before = json.loads(text, object_pairs_hook=list, parse_int=str, parse_float=str)
    after = json.loads(out, object_pairs_hook=list, parse_int=str, parse_float=str)
    assert len(before) == len(after)
    for (k0, v0), (k1, v1) in zip(before, after, strict=True):
        assert k1 == k0.replace(MOBILE, "138****8000", 1)
        assert v1 == v0.replace(MOBILE, "138****8000", 1)


# -- finding 1 through the real proxy (`baomi run`, default policy, plain HTTP upstream) ------

E2E_BODIES = {
    "base64-text-id": json.dumps({"payload": b64(f"id {ID}".encode())}),
    "base64-json-id": json.dumps({"payload": b64(json.dumps({"id": ID}).encode())}),
    "base64-ole": json.dumps({"file": b64(OLE)}),
}


@pytest.fixture(scope="module")
def baomi(tmp_path_factory):
    with BaomiProcess(REPO / "policies" / "default.yaml", tmp_path_factory.mktemp("r1")) as proc:
        yield proc


def post_through(baomi, upstream, body: str) -> int:
    with httpx.Client(proxy=baomi.url, timeout=60) as client:
        return client.post(upstream.url("/v1/orders"), content=body,
                           headers={"content-type": "application/json"}).status_code


@pytest.mark.e2e
def test_e2e_an_id_under_base64_text_is_blocked(baomi, http_up):
    """The pin: the default policy blocks an ID sent over plain HTTP, also under base64."""
    assert post_through(baomi, http_up, E2E_BODIES["base64-text-id"]) == 403


@pytest.mark.e2e
@pytest.mark.parametrize("case", ["base64-json-id", "base64-ole"])
def test_e2e_what_hides_under_base64_json_or_a_document_is_blocked(baomi, http_up, case):
    before = len(http_up.received)
    assert post_through(baomi, http_up, E2E_BODIES[case]) == 403
    assert len(http_up.received) == before


# -- 3. forms and plain text read from their bytes (proxy/workers/rawform.py, flatscan.py) ----
#
# What a form value or a text can hide that only a decoder shows: each shape must reach the full
# path (a layer, an undecodable field, a NUL), whose answer selects it or refuses the request.

def form_value(value: str, writer=quote_plus) -> bytes:
    return b"order=SO-1&note=" + writer(value).encode() + b"&qty=2"


FORM = (("content-type", "application/x-www-form-urlencoded"),)
TEXT = (("content-type", "text/plain"),)
HIDDEN_IN_A_FORM = {
    "base64-id": form_value(b64(ID.encode())),
    "base64-padding-escaped": form_value(b64(f"id {ID}".encode())),
    "base64-json": form_value(b64(json.dumps({"id": ID}).encode())),
    "base64-gzip": form_value(b64(gzip.compress(f"id {ID}".encode()))),
    "hex-id": form_value(ID.encode().hex()),
    "escaped-twice": form_value("".join(f"%{b:02X}" for b in ID.encode())),  # sent as %2531...
    "entities": form_value("".join(f"&#{ord(c)};" for c in ID)),
    "json-escapes": form_value("".join(f"\\u{ord(c):04x}" for c in ID)),
    "gb18030-name": b"name=" + quote("张三", encoding="gb18030").encode() + b"&m=x",
    "overlong-digits": b"note=" + "".join(f"%C0%{0x80 + ord(c) - 0x20:02X}" for c in ID).encode(),
    "utf16-with-bom": b"note=%FF%FE" + quote(ID.encode("utf-16-le")).encode(),
    "nul-between-digits": b"note=" + quote(ID.encode("utf-16-le")).encode(),
    "mime-base64-textarea": form_value(base64.encodebytes(f"id {ID} {'x' * 60}".encode()).decode()),
    "json-over-lines": form_value('{\n  "id": "' + b64(ID.encode()) + '"\n}'),
}
HIDDEN_IN_A_TEXT = {
    "mime-base64": b"see below\n" + base64.encodebytes(f"id {ID} {'x' * 60}".encode()),
    "entities": ("id " + "".join(f"&#{ord(c)};" for c in ID)).encode(),
    "utf16-no-bom": f"id {ID}".encode("utf-16-le"),
    "base64-json-whole": b64(json.dumps({"id": ID}).encode()).encode(),
}


def flat_fast_and_full(raw: RawRequest):
    """(flatscan's answer, the full path's selected locations or the error it raises)."""
    found = flatscan.scan(raw, LIMITS, SELECTOR)
    try:
        extraction = extract(raw, LIMITS)
    except Uninspectable as exc:
        return found, exc
    return found, [extraction.segments[i].location for i in SELECTOR.select(extraction.segments)]


@pytest.mark.parametrize("body,headers", [(b, FORM) for b in HIDDEN_IN_A_FORM.values()]
                         + [(b, TEXT) for b in HIDDEN_IN_A_TEXT.values()],
                         ids=[f"form-{k}" for k in HIDDEN_IN_A_FORM]
                         + [f"text-{k}" for k in HIDDEN_IN_A_TEXT])
def test_what_a_decoder_shows_in_a_form_or_text_is_never_proved_clean(body, headers):
    raw = request(body, headers)
    found, full = flat_fast_and_full(raw)
    assert isinstance(full, Uninspectable) or full != []
    assert not (isinstance(found, Proof) and found.reason is None)  # never proved clean
    assert not isinstance(Triage(SELECTOR).local(raw, LIMITS), Clean)


@pytest.mark.e2e
@pytest.mark.parametrize("body,content_type", [
    (HIDDEN_IN_A_FORM["base64-padding-escaped"], "application/x-www-form-urlencoded"),
    (HIDDEN_IN_A_FORM["json-over-lines"], "application/x-www-form-urlencoded"),
    (HIDDEN_IN_A_TEXT["mime-base64"], "text/plain"),
], ids=["form-base64", "form-json-over-lines", "text-mime-base64"])
def test_e2e_an_id_under_a_layer_in_a_form_or_text_is_blocked(baomi, http_up, body,
                                                               content_type):
    before = len(http_up.received)
    with httpx.Client(proxy=baomi.url, timeout=60) as client:
        status = client.post(http_up.url("/v1/orders"), content=body,
                             headers={"content-type": content_type}).status_code
    assert status == 403
    assert len(http_up.received) == before
