"""Reviewer R4 (session 19): the masked request's new path up to the rewrite (issue 12).

A JSON body whose clean proof fails because a candidate was found is no longer extracted:
``rawscan.scan`` returns ``Scanned``, which names the selected leaves from the text
(``proxy/workers/rawjson.py``) and masks by splicing at the spans it knows. Attacked here
as a hostile sender and as ordinary clients would:

1. leaks: bodies where the new path could send a worker fewer or other segments than
   ``extract`` + ``SegmentSelector.select`` (encodings, BOMs, charset labels, numbers as
   IDs, duplicate keys, name keys, layers a decoder opens, deep nesting);
2. wrong bytes: the masked request differs from the full path's, Content-Length is wrong,
   the JSON is no longer valid, a masked value survives;
3. end to end through a real ``baomi run`` (default policy): what the upstream received.

The full path is ``Triage(selector, raw_scan=False)``. Tests marked ``xfail(strict=True)``
are findings (they fail today and pass once fixed); the others pin what holds.
CPU figures of the cost attacks are in the review report, not asserted here.
"""

from __future__ import annotations

import base64
import gzip
import json
import random
import urllib.parse

import pytest
from fullpath import LIMITS, SELECTOR, URL, assert_agrees, raw_post, which_path

from detectors.batch import SegmentSelector
from detectors.model import Finding, Segment
from proxy.extraction.extract import RawRequest, extract
from proxy.workers.rawscan import Proof, Scanned, prove_clean, read_body, scan
from proxy.workers.triage import Clean, Local, Triage

JSON = (("content-type", "application/json"), ("content-length", "0"))
MOBILE = "13800138000"
OTHER = "13912345678"
ID = "11010519491231002X"


def request(body: bytes | str, headers=JSON, url=URL) -> RawRequest:
    return raw_post(body, headers, url)


def fill(template: str, **values: str) -> str:
    """``template`` with each ``<name>`` replaced by its value."""
    for name, value in values.items():
        template = template.replace(f"<{name}>", value)
    return template


def phone_mask(value: str = MOBILE) -> str:
    return Finding("PHONE_NUMBER", 1.0, 0, len(value), "x", 0, value).masked(fingerprint=False)


# -- the comparison ---------------------------------------------------------------------------

def phone_runs(todo: tuple[tuple[int, Segment], ...]) -> tuple[Finding, ...]:
    """A finding for every run of 11 digits starting with 1 in the selected texts."""
    runs = []
    for i, s in todo:
        at = s.text.find("1")
        while at >= 0 and at + 11 <= len(s.text):
            if s.text[at:at + 11].isdigit():
                runs.append(Finding("PHONE_NUMBER", 1.0, at, at + 11, s.location, i,
                                    s.text[at:at + 11]))
            at = s.text.find("1", at + 11)
    return tuple(runs)


def mask_sets(todo: tuple[tuple[int, Segment], ...]) -> list[tuple[Finding, ...]]:
    """Masks a detector could ask for: every phone-shaped run in each selected text (the same
    value twice, in strings and numbers), the first alone, a piece, overlapping pieces."""
    runs = phone_runs(todo)
    whole = tuple(Finding("PERSON", 0.9, 0, len(s.text), s.location, i, s.text)
                  for i, s in todo if s.text)
    out: list[tuple[Finding, ...]] = [(), whole, whole[:1]]
    if runs:
        out += [runs, runs[:1]]
    if todo and len(todo[-1][1].text) > 4:
        i, s = todo[-1]
        out.append((Finding("PERSON", 0.9, 1, 4, s.location, i, s.text[1:4]),
                    Finding("PHONE_NUMBER", 0.9, 2, len(s.text), s.location, i, s.text[2:])))
    return out


def same(raw: RawRequest, selector: SegmentSelector = SELECTOR) -> str:
    """Triage with the raw scan answers as the full path does (selection, segments sent,
    Inspection facts, masked bytes); returns which path answered."""
    fast = assert_agrees(raw, selector, mask_sets)
    if fast is None or isinstance(fast, Clean):
        return which_path(fast)
    return "scanned" if isinstance(fast, Scanned) else "local"


def scanned(raw: RawRequest) -> Scanned:
    found = Triage(SELECTOR).local(raw, LIMITS)
    assert isinstance(found, Scanned), type(found).__name__
    return found


def mask_every_phone(found: Scanned | Local) -> tuple[tuple[Finding, ...], RawRequest]:
    findings = phone_runs(found.to_detect())
    out = found.inspection(findings).rewrite(findings)
    assert out is not None
    return findings, out


# -- 1. shapes a sender controls: the new path answers as the full path ---------------------

def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# name: (body, headers, which path answers: "scanned" is the new one; None: either)
SHAPES: dict[str, tuple[bytes | str, tuple[tuple[str, str], ...], str | None]] = {
    # encodings and labels
    "utf8-bom": (b"\xef\xbb\xbf" + json.dumps({"tel": MOBILE}).encode(), JSON, "scanned"),
    "utf16-bom": (json.dumps({"tel": MOBILE, "n": "张三"}, ensure_ascii=False).encode("utf-16"),
                  JSON, "scanned"),
    "utf16le-no-bom": (json.dumps({"tel": MOBILE}).encode("utf-16-le"), JSON, "scanned"),
    "utf16be-no-bom": (json.dumps({"tel": MOBILE}).encode("utf-16-be"), JSON, "scanned"),
    "utf32": (json.dumps({"tel": MOBILE}).encode("utf-32"), JSON, "scanned"),
    "utf16-labelled-utf8": (json.dumps({"tel": MOBILE}).encode("utf-16"),
                            (("content-type", "application/json; charset=utf-8"),), "scanned"),
    "gb18030-unlabelled": (json.dumps({"tel": MOBILE, "收件人": "张三"}, ensure_ascii=False)
                           .encode("gb18030"), JSON, "scanned"),
    "gbk-labelled-utf8": (json.dumps({"tel": MOBILE, "n": "王芳"}, ensure_ascii=False)
                          .encode("gbk"), (("content-type", "application/json;charset=utf-8"),),
                          None),
    "charset-upper": (json.dumps({"tel": MOBILE}),
                      (("content-type", "Application/JSON; Charset=UTF-8"),), "scanned"),
    "charset-quoted": (json.dumps({"tel": MOBILE}),
                       (("content-type", 'application/json; charset="utf-8"'),), "local"),
    "charset-latin1": (json.dumps({"tel": MOBILE, "n": "café"}, ensure_ascii=False)
                       .encode("latin-1"), (("content-type", "application/json; charset=latin-1"),),
                       "local"),
    "two-equal-types": (json.dumps({"tel": MOBILE}), (("content-type", "application/json"),
                                                        ("content-type", "application/json")),
                        "scanned"),
    "two-types": (json.dumps({"tel": MOBILE}), (("content-type", "application/json"),
                                                  ("content-type", "text/plain")), "worker"),
    "vendor-json": (json.dumps({"tel": MOBILE}), (("content-type", "application/vnd.x+json"),),
                    "local"),
    "gzip-encoded": (gzip.compress(json.dumps({"tel": MOBILE}).encode()),
                     (("content-type", "application/json"), ("content-encoding", "gzip")),
                     "worker"),
    # numbers as IDs
    "number-ids": ('{"tel": 13800138000, "neg": -13912345678, "s": "13800138000", '
                   '"l": [13800138000,13800138000 , 13912345678]}', JSON, "scanned"),
    "number-lookalikes": ('{"f": 13800138000.0, "e": 1380013800e1, "E": 1E+13800138000, '
                          '"x": NaN, "i": -Infinity, "t": "13800138000"}', JSON, "scanned"),
    "huge-int": ('{"n": ' + "9" * 5000 + ', "t": "13800138000"}', JSON, "local"),
    "root-number": ("  13800138000\r\n", JSON, "scanned"),
    "root-string": ('"13800138000"', JSON, "scanned"),
    # strings
    "same-value-twice-and-in-text": (json.dumps({"a": MOBILE, "b": [MOBILE, f"call {MOBILE} now"],
                                                 "c": {"d": MOBILE}}), JSON, "scanned"),
    "surrogate-pairs": (json.dumps({"e": "😀𠀀", "t": f"😀{MOBILE}😀", "u": "😀"},
                                   ensure_ascii=False), JSON, "scanned"),
    "line-separators": ('{"a": "x\u2028y", "t": "13800138000\u2029", "d": "\x7f"}', JSON, "scanned"),
    "control-char": ('{"a": "x\x01", "t": "13800138000"}', JSON, "worker"),
    "split-by-escape": ('{"t": "138\\u00300138000", "u": "13800138000"}', JSON, "local"),
    "surrogate-escapes": ('{"t": "\\ud83d\\ude00 13800138000"}', JSON, "local"),
    "spaced-and-fullwidth": (json.dumps({"a": "138 0013 8000", "b": "１３８００１３８０００",
                                         "c": "138\u00a00013\u00a08000"}, ensure_ascii=False),
                             JSON, "scanned"),
    # keys
    "duplicate-keys": ('{"t": "13800138000", "t": "x", "t": {"t": "13800138000"}, "t": 13800138000}',
                       JSON, "scanned"),
    "value-is-a-key": ('{"13800138000": "13800138000"}', JSON, "local"),
    "key-has-one-digit": ('{"tel1": "13800138000"}', JSON, "scanned"),  # not data: named
    "key-is-a-separated-phone": ('{"138-0013-8000": {"v": 3}, "t": "13800138000"}', JSON, "local"),
    "key-is-a-name": (json.dumps({"王小明": {"v": 3}, "Alice Walker": 1, "t": MOBILE},
                                 ensure_ascii=False), JSON, "local"),
    "name-keys-nested": (json.dumps({"name": {"": "张三", "_": ["李四"], "$": {"x": "王五"}},
                                     "product": {"name": "Widget"}, "t": MOBILE},
                                    ensure_ascii=False), JSON, "scanned"),
    "name-key-late": (json.dumps({"items": ["a"] * 30, "t": MOBILE, "receiver": "张三",
                                  "after": ["bob", "x"]}, ensure_ascii=False), JSON, "scanned"),
    "cjk-name-key": (json.dumps({"收件人姓名": "张三", "电话": MOBILE}, ensure_ascii=False),
                     JSON, "scanned"),
    "odd-keys": (json.dumps({"x y": {"a-b": [MOBILE]}, "'q'": MOBILE, "": MOBILE}), JSON,
                 "scanned"),
    # layers a decoder opens: never read from the text
    "base64-id": (json.dumps({"t": MOBILE, "p": b64(f"id {ID}".encode())}), JSON, "local"),
    "base64-mobile": (json.dumps({"t": MOBILE, "p": b64(MOBILE.encode())}), JSON, "local"),
    "gzip-in-base64": (json.dumps({"t": MOBILE, "p": b64(gzip.compress(ID.encode()))}), JSON,
                       "local"),
    "percent": (json.dumps({"t": MOBILE, "p": urllib.parse.quote(f"id={ID}")}), JSON, "local"),
    "entity": (json.dumps({"t": MOBILE, "p": "&#49;3800138000"}), JSON, "local"),
    "hex-of-mobile-number": ('{"t": "13800138000", "h": ' + MOBILE.encode().hex() + "}", JSON,
                             None),
    "hex-of-id": (json.dumps({"t": MOBILE, "h": ID.encode().hex()}), JSON, None),
    "json-in-string": ('{"t": "13800138000", "p": "[1, {}]"}', JSON, "local"),
    "zero-width": (json.dumps({"t": MOBILE, "p": "138\u200b00138000"}, ensure_ascii=False), JSON,
                   "scanned"),
}


@pytest.mark.parametrize("name", list(SHAPES))
def test_hostile_shapes_get_the_full_paths_answer(name):
    body, headers, path = SHAPES[name]
    kind = same(request(body, headers))
    if path is not None:  # which path answered: the new one is really exercised
        assert kind == path


@pytest.mark.parametrize("url,headers", [
    (f"https://api.example.com/u?mobile={MOBILE}&n=1", JSON),
    (f"https://api.example.com/{b64(json.dumps({'t': MOBILE}).encode())}", JSON),
    ("https://api.example.com/p", JSON + (("x-data", json.dumps({"tel": MOBILE})),)),
    ("https://api.example.com/p", JSON + (("referer", f"https://a.example/?m={MOBILE}"),)),
    ("https://api.example.com/p", JSON + (("path", MOBILE), ("query:x", MOBILE))),
])
def test_url_and_header_segments_keep_their_indices(url, headers):
    """Body leaves sit between the URL's and the headers' segments; a header named like a
    URL location must not shift them."""
    raw = request(json.dumps({"a": MOBILE, "b": "x", "c": MOBILE}), headers, url)
    assert same(raw) == "scanned"


def test_masking_a_url_and_a_body_leaf_together_is_the_full_paths():
    raw = request(json.dumps({"t": MOBILE}), url=f"https://api.example.com/u?m={MOBILE}")
    found = scanned(raw)
    findings, out = mask_every_phone(found)
    assert len(findings) == 2
    assert MOBILE not in out.url and MOBILE.encode() not in out.body
    full = Triage(SELECTOR, raw_scan=False).local(raw, LIMITS)
    assert isinstance(full, Local)
    assert out == full.inspection(findings).rewrite(findings)


# -- random documents, larger than the property tests' ---------------------------------------

KEYS = ["a", "name", "tel", "items", "_", "", "x y", "receiver", "contact", "productName",
        "姓名", "list", "$"]
VALUES = [MOBILE, OTHER, "张三", "bob", "SO-1", " ", "", 1234567, -7654321, 13800138000, 12,
          1.5, True, None, f"{MOBILE} x", "１３８００１３８０００", "😀"]


def document(r: random.Random, depth: int = 0):
    roll = r.random()
    if depth > r.randint(2, 12) or roll < 0.3:
        return ("v", r.choice(VALUES))
    if roll < 0.65:
        return ("l", [document(r, depth + 1) for _ in range(r.randint(0, 6))])
    return ("o", [(r.choice(KEYS), document(r, depth + 1)) for _ in range(r.randint(0, 6))])


def dump(node, space: str) -> str:
    kind, value = node
    if kind == "v":
        return json.dumps(value, ensure_ascii=False)
    if kind == "l":
        return "[" + ("," + space).join(dump(v, space) for v in value) + "]"
    return "{" + ("," + space).join(json.dumps(k, ensure_ascii=False) + space + ":" + space
                                    + dump(v, space) for k, v in value) + "}"


def test_random_documents_name_every_leaf_and_any_subset_as_extract():
    r = random.Random(19)
    read = 0
    for _ in range(400):
        raw = request(dump(document(r), r.choice(["", " ", "\n\t"])))
        body = read_body(raw, LIMITS)
        if isinstance(body, str):
            continue
        read += 1
        expected = [s for s in extract(raw, LIMITS).segments if s.location.startswith("json:")]
        assert body.json.texts == [s.text for s in expected]
        if not expected:
            continue
        picks = sorted(r.sample(range(len(expected)), min(len(expected), r.randint(1, 12))))
        fresh = read_body(raw, LIMITS)  # a fresh body: no sums kept yet
        assert not isinstance(fresh, str)
        assert fresh.json.segments(picks) == [expected[k] for k in picks]
    assert read > 150


def test_random_documents_mask_as_the_full_path():
    r = random.Random(1919)
    kinds: dict[str, int] = {}
    for _ in range(150):
        raw = request(dump(document(r), r.choice(["", " "])))
        kind = same(raw)
        kinds[kind] = kinds.get(kind, 0) + 1
    assert kinds.get("scanned", 0) > 20, kinds


# -- 2. the bytes sent ---------------------------------------------------------------------

def test_every_copy_of_a_value_is_masked_and_nothing_else_moves():
    template = ('{"a": "<m>", "b": ["<m>","<m>" ,  "<o>"], "c": {"d": "call <m> now"}, "n": <N>,'
                '\n "other": "<o>", "k": "keep 1380013800"}')
    body = fill(template, m=MOBILE, o=OTHER, N=MOBILE)
    found = scanned(request(body))
    findings, out = mask_every_phone(found)
    assert len(findings) == 7
    m, o = phone_mask(MOBILE), phone_mask(OTHER)
    assert m != MOBILE and o != OTHER
    expected = fill(template, m=m, o=o, N=json.dumps(m))
    assert out.body == expected.encode()
    assert dict(out.headers)["content-length"] == str(len(out.body))
    json.loads(out.body)  # still JSON: the number became a string


@pytest.mark.parametrize("encoding,bom", [("utf-8", b"\xef\xbb\xbf"), ("utf-16", b""),
                                          ("utf-16-le", b""), ("gb18030", b"")])
def test_a_masked_body_keeps_its_encoding_and_bom(encoding, bom):
    doc = {"收件人": "张三", "tel": MOBILE, "list": [MOBILE, 13800138000]}
    text = json.dumps(doc, ensure_ascii=False)
    raw = request(bom + text.encode(encoding))
    found = scanned(raw)
    _, out = mask_every_phone(found)
    m = phone_mask()
    want = text.replace(f'"{MOBILE}"', json.dumps(m, ensure_ascii=False)).replace(
        MOBILE, json.dumps(m, ensure_ascii=False))
    assert out.body == bom + want.encode(encoding)


def test_a_name_key_sends_the_leaves_whose_context_names_a_person():
    """No candidate in the names: they are sent for their keys' sake alone."""
    raw = request(json.dumps({"product": {"name": "Widget"}, "contact": {"name": "张三"},
                              "sku": "A-1", "t": MOBILE}, ensure_ascii=False))
    found = scanned(raw)
    assert [s.location for _, s in found.to_detect()] == [
        "json:$.product.name", "json:$.contact.name", "json:$.t"]
    assert same(raw) == "scanned"


# -- cost: deep nesting -----------------------------------------------------------------------

DEEP_LISTS = "[" * 500 + json.dumps(MOBILE) + "]" * 500
DEEP_OBJECTS = '{"a": ' * 500 + json.dumps(MOBILE) + "}" * 500


@pytest.mark.parametrize("body", [DEEP_LISTS, DEEP_OBJECTS], ids=["lists", "objects"])
def test_deep_nesting_still_gets_the_full_paths_answer(body):
    raw = request(body)
    assert same(raw) == "scanned"  # the scan names 500 levels without recursion
    full = Triage(SELECTOR, raw_scan=False).local(raw, LIMITS)
    assert isinstance(full, Local)
    _, out = mask_every_phone(full)
    assert MOBILE.encode() not in out.body and json.loads(out.body) is not None


@pytest.mark.parametrize("body", [DEEP_LISTS, DEEP_OBJECTS], ids=["lists", "objects"])
def test_scan_raises_nothing_extract_does_not_on_deep_nesting(body):
    raw = request(body)
    extract(raw, LIMITS)  # the full path reads it
    found = scan(raw, LIMITS, SELECTOR)
    assert isinstance(found, (Scanned, Proof))
    assert prove_clean(raw, LIMITS, SELECTOR).reason == "candidate"


# -- side finding (extract, not this change): data in a key extract does not read ------------

# R4 side finding, fixed (extract.is_data_key): a key with 6+ digits whatever separates
# them, or a name's writing, is a segment of its own.
@pytest.mark.parametrize("key", ["138-0013-8000", "138 0013 8000", "1101-0519-4912-3100-2X",
                                 "+86 138 0013 8000", "(138)0013-8000", "王小明",
                                 "Alice Walker"])
def test_a_phone_or_id_with_separators_as_a_key_is_a_segment(key):
    raw = request(json.dumps({key: {"visits": 3}}), url="https://api.example.com/p")
    assert key in [s.text for s in extract(raw, LIMITS).segments]


def test_keys_masked_alike_are_sent_as_duplicate_members():
    """A key is rewritten like a value, in place: two phone keys whose masks are equal become
    two members with one key (JSON allows it; a receiver's dict keeps the last). Nothing is
    merged or dropped on the way out."""
    raw = request(json.dumps({"138-0013-8000": {"v": 1}, "138 0013 8000": {"v": 2},
                              "王小明": 3}, ensure_ascii=False))
    todo = tuple(enumerate(extract(raw, LIMITS).segments))
    keys = tuple(Finding("PHONE_NUMBER", 1.0, 0, len(s.text), s.location, i, s.text)
                 for i, s in todo if s.text.startswith("138"))
    name = tuple(Finding("PERSON", 1.0, 0, 3, s.location, i, s.text)
                 for i, s in todo if s.text == "王小明")
    found = Triage(SELECTOR, raw_scan=False).local(raw, LIMITS)
    assert isinstance(found, Local) and len(keys) == 2 and len(name) == 1
    out = found.inspection(keys + name).rewrite(keys + name).body.decode()
    mask = keys[0].masked(fingerprint=False)
    assert mask == keys[1].masked(fingerprint=False)
    assert out == "{" + f'"{mask}": {{"v": 1}}, "{mask}": {{"v": 2}}, ' + (
        f'"{name[0].masked(fingerprint=False)}": 3' + "}")
    assert "138-0013" not in out and "王小明" not in out


# -- 3. end to end: the real `baomi run`, default policy --------------------------------------

E2E_BODIES = {
    # <P>: the phone inside a string, <N>: the phone as a JSON number. Each phone sits under
    # a phone-ish key or beside "call ...": a bare mobile with no context scores 0.45, under
    # the default policy's min_score (0.5), and is allowed unless another phone makes the
    # rule match (then every phone found is masked, as "twice-and-number" shows).
    "twice-and-number": '{"a": "<P>", "b": [<N>, "<P>"], "c": "call <P> now", "d": "SO-1"}',
    "duplicate-keys": '{"mobile": "<P>", "mobile": "x",  "mobile": <N>}',
    "names-and-phone": '{"contact": {"name": "张三", "mobile": "<P>"}, "product": {"name": "W"}}',
    "emoji": '{"phone": "😀<P>😀", "e": "𠀀"}',
    "deep": "[" * 400 + '{"mobile": "<P>"}' + "]" * 400,
    "value-is-a-key": '{"<P>": "<P>", "mobile": "<P>"}',  # a data key: the full path
}


def sent(template: str) -> str:
    return fill(template, P=MOBILE, N=MOBILE)


def masked_text(template: str) -> str:
    """``template`` with the phone's mask in place of each phone (a number becomes a string)."""
    mask = json.dumps(phone_mask(), ensure_ascii=False)
    return fill(template, P=mask[1:-1], N=mask)


def post(client, upstream, body: bytes, content_type: str = "application/json"):
    before = len(upstream.received)
    response = client.post(upstream.url("/v1/orders"), content=body,
                           headers={"content-type": content_type})
    got = upstream.received[before:]
    return response.status_code, got


@pytest.mark.e2e
@pytest.mark.parametrize("name", list(E2E_BODIES))
def test_e2e_the_upstream_gets_the_masked_body_byte_for_byte(default_client, https_up, name):
    template = E2E_BODIES[name]
    body = sent(template)
    if name not in ("deep", "value-is-a-key"):  # the shape takes the new path in-process
        scanned(request(body))
    status, got = post(default_client, https_up, body.encode())
    assert status == 200 and len(got) == 1
    want = masked_text(template).encode()
    assert got[0].body == want
    assert int(got[0].headers["content-length"]) == len(want)
    assert MOBILE.encode() not in got[0].body


@pytest.mark.e2e
@pytest.mark.parametrize("encoding,bom", [("utf-16", b""), ("utf-8", b"\xef\xbb\xbf"),
                                          ("gb18030", b"")])
def test_e2e_other_encodings_are_masked_in_their_own_encoding(default_client, https_up,
                                                              encoding, bom):
    template = '{"收件人": "张三", "tel": "<P>", "n": <N>}'
    body = bom + sent(template).encode(encoding)
    scanned(request(body))
    status, got = post(default_client, https_up, body)
    assert status == 200 and len(got) == 1
    want = bom + masked_text(template).encode(encoding)
    assert got[0].body == want
    assert int(got[0].headers["content-length"]) == len(want)


@pytest.mark.e2e
@pytest.mark.parametrize("content_type", ["application/json; charset=UTF-8",
                                          "Application/JSON", "application/json;charset=utf-8"])
def test_e2e_charset_parameters_take_the_new_path_and_mask(default_client, https_up,
                                                           content_type):
    template = '{"order": "SO-1", "contact": {"mobile": "<P>"}}'
    body = sent(template).encode()
    scanned(request(body, (("content-type", content_type),)))
    status, got = post(default_client, https_up, body, content_type)
    assert status == 200 and len(got) == 1
    assert got[0].body == masked_text(template).encode()


@pytest.mark.e2e
def test_e2e_an_id_beside_a_phone_is_blocked(default_client, https_up):
    body = json.dumps({"t": MOBILE, "owner": {"id_card": ID}})
    scanned(request(body))
    status, got = post(default_client, https_up, body.encode())
    assert status == 403 and got == []


@pytest.mark.e2e
def test_e2e_a_phone_under_base64_beside_a_phone_is_masked_too(default_client, https_up):
    body = json.dumps({"t": MOBILE, "p": b64(f"tel {OTHER}".encode())})
    status, got = post(default_client, https_up, body.encode())
    assert status == 200 and len(got) == 1
    sent = json.loads(got[0].body)
    assert sent["t"] == phone_mask()
    assert OTHER.encode() not in base64.b64decode(sent["p"])


@pytest.mark.e2e
def test_e2e_a_phone_with_separators_as_a_key_never_arrives_in_the_clear(default_client, https_up):
    body = json.dumps({"mobile": MOBILE, "138-0013-8000": {"visits": 3}})
    status, got = post(default_client, https_up, body.encode())
    assert all(b"138-0013-8000" not in g.body for g in got), status
