"""A masked JSON body is the sent body with only the masked values' tokens changed.

The property test builds documents with its own serializer, which knows where every token
is (random whitespace, escapes, duplicate keys, big numbers), masks random leaves, and
requires the exact splice of those tokens and nothing else; the result also parses to the
same structure as the whole-document re-encoding the rewrite used before splicing.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.extraction import extract as ex
from proxy.extraction.decode import TextCodec
from proxy.extraction.extract import Limits, RawRequest, extract, is_data_key

ID_NUMBER = re.compile(r"-?\d{6,}")  # integers of 6+ digits are values to inspect
WHITESPACE = ["", " ", "  ", "\n", "\n  ", "\t", "\r\n"]

texts = st.one_of(  # the same few values often: repeated values must map to their own token
    st.sampled_from(["13800138000", "a", "x@y", "", "a\\b"]),
    st.text(alphabet=st.sampled_from('ab张@1234567890 "\\/\n\t\u00e9\u2028'), max_size=14),
)
scalars = st.one_of(
    texts,
    st.integers(min_value=-(10**12), max_value=10**12),
    st.sampled_from([True, False, None, 1.5, -0.25]),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(st.tuples(texts, inner), max_size=4).map(lambda pairs: ("object", pairs)),
    ),
    max_leaves=25,
)


class Serializer:
    """JSON text of a drawn document, with the span and value of each leaf token."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.out: list[str] = []
        self.at = 0
        self.leaves: list[tuple[int, int, str]] = []

    def put(self, text: str) -> None:
        self.out.append(text)
        self.at += len(text)

    def space(self) -> None:
        self.put(self.rng.choice(WHITESPACE))

    def string(self, value: str, leaf: bool) -> None:
        token = json.dumps(value, ensure_ascii=self.rng.random() < 0.3)
        if self.rng.random() < 0.2:
            token = token.replace("/", "\\/")  # a legal, unusual escape
        if leaf:
            self.leaves.append((self.at, self.at + len(token), value))
        self.put(token)

    def value(self, node: object) -> None:
        self.space()
        if isinstance(node, tuple):  # ("object", pairs): keys may repeat
            self.put("{")
            for i, (key, item) in enumerate(node[1]):
                self.put("," if i else "")
                self.space()
                self.string(key, leaf=is_data_key(key))
                self.space()
                self.put(":")
                self.value(item)
            self.space()
            self.put("}")
        elif isinstance(node, list):
            self.put("[")
            for i, item in enumerate(node):
                self.put("," if i else "")
                self.value(item)
            self.space()
            self.put("]")
        elif isinstance(node, str):
            self.string(node, leaf=node != "")
        elif isinstance(node, int) and not isinstance(node, bool):
            token = str(node)
            if ID_NUMBER.fullmatch(token):
                self.leaves.append((self.at, self.at + len(token), token))
            self.put(token)
        else:
            self.put(json.dumps(node))
        self.space()


def reencoded(view: ex._Json, new: dict[int, str]) -> str:
    """The rewrite before splicing: the whole document written again, compact."""
    writer = ex._JsonWriter(new)
    writer.write(view.root)
    return "".join(writer.out)


def structure(text: str) -> object:
    return json.loads(text, object_pairs_hook=list, parse_int=str, parse_float=str,
                      parse_constant=str)


@settings(max_examples=300, deadline=None)
@given(documents, st.randoms(use_true_random=False), st.data())
def test_masking_changes_only_the_masked_tokens(document, rng, data) -> None:
    doc = Serializer(rng)
    doc.value(document)
    text = "".join(doc.out)
    view = ex._Json.parse(text, TextCodec("utf-8"), "json:")
    assert [s.text for s in view.segments] == [value for _, _, value in doc.leaves]
    if not doc.leaves:
        return
    chosen = data.draw(st.sets(st.integers(0, len(doc.leaves) - 1), min_size=1))
    new, edits = {}, []
    for i, (_, _, value) in enumerate(doc.leaves):
        if i not in chosen:
            edits.append(())
            continue
        start = data.draw(st.integers(0, len(value)))
        end = data.draw(st.integers(start, len(value)))
        mask = data.draw(st.sampled_from(["", "*", "****", "#7f3a"]))
        new[i] = value[:start] + mask + value[end:]
        edits.append(((start, end, mask),))

    out = view.render(tuple(edits)).decode("utf-8")

    expected, at = [], 0
    for i in sorted(new):
        start, end, _ = doc.leaves[i]
        expected += [text[at:start], json.dumps(new[i], ensure_ascii=False)]
        at = end
    expected.append(text[at:])
    assert out == "".join(expected)
    assert structure(out) == structure(reencoded(view, new))


def post(body: bytes, content_type: str) -> RawRequest:
    return RawRequest("POST", "https://api.example.com/", (  # no path segment
        ("content-type", content_type), ("content-length", str(len(body)))), body)


def test_a_masked_body_keeps_its_layout_charset_and_length() -> None:
    body = (
        '{\r\n\t"客户" : {"手机": "13800138000",  "手机": "13800138000"},\n'
        '  "note": "a\\/b \\u4e2d", "n": 1.50e3 , "13900139000@x": [ null ,true ]\n}   '
    ).encode("gb18030")
    found = extract(post(body, "application/json; charset=gb18030"), Limits())
    texts = [s.text for s in found.segments]
    assert texts == ["13800138000", "13800138000", "a/b 中", "13900139000@x"]
    new = found.rewrite({1: [(3, 7, "****")], 3: [(0, 11, "139****9000")]})
    assert new.body == (
        '{\r\n\t"客户" : {"手机": "13800138000",  "手机": "138****8000"},\n'
        '  "note": "a\\/b \\u4e2d", "n": 1.50e3 , "139****9000@x": [ null ,true ]\n}   '
    ).encode("gb18030")
    assert dict(new.headers)["content-length"] == str(len(new.body))


def test_a_masked_number_becomes_a_string_in_place() -> None:
    found = extract(post(b'[ 13800138000, "13800138000" ]', "application/json"), Limits())
    assert [s.text for s in found.segments] == ["13800138000", "13800138000"]
    assert found.rewrite({0: [(3, 7, "****")]}).body == b'[ "138****8000", "13800138000" ]'
    assert found.rewrite({1: [(3, 7, "****")]}).body == b'[ 13800138000, "138****8000" ]'


def test_a_utf8_bom_stays() -> None:
    body = b'\xef\xbb\xbf{ "tel": "13800138000" }'
    new = extract(post(body, "application/json"), Limits()).rewrite({0: [(3, 7, "****")]})
    assert new.body == b'\xef\xbb\xbf{ "tel": "138****8000" }'


def test_tokens_that_do_not_line_up_fall_back_to_reencoding() -> None:
    """A walk and a text that disagree (here made by hand; JSON that Python's parser reads
    should never cause it) are not spliced: the document is written again, compact."""
    view = ex._Json.parse('{"a": "13800138000", "b": "x"}', TextCodec("utf-8"), "json:")
    assert ex._spliced(view.text, view.segments, {0: "138****8000"}) is not None
    skewed = replace(view, text='{"a": "13800138000", "b": "13800138000"}')
    assert ex._spliced(skewed.text, skewed.segments, {0: "138****8000"}) is None
    assert skewed.render(((( 3, 7, "****"),), ())) == b'{"a":"138****8000","b":"x"}'


class ScanCountingText(str):
    """A document text that counts the scans made of it (find/count/index/split calls)."""

    scans = 0

    def _scan(self, name: str, *args: object) -> object:
        ScanCountingText.scans += 1
        return getattr(str, name)(self, *args)

    def find(self, *args):  # type: ignore[no-untyped-def, override]
        return self._scan("find", *args)

    def count(self, *args):  # type: ignore[no-untyped-def, override]
        return self._scan("count", *args)

    def index(self, *args):  # type: ignore[no-untyped-def, override]
        return self._scan("index", *args)

    def split(self, *args):  # type: ignore[no-untyped-def, override]
        return self._scan("split", *args)


def test_many_equal_masked_values_are_found_in_one_pass(monkeypatch) -> None:
    """A list of 1,150 equal phones, all masked (the default policy masks contacts sent
    outside): the span finder scans the text a fixed number of times, not once per edited
    leaf and per occurrence (that was cubic: 4.4 s of the proxy's event loop for 16 KB)."""
    phones = 1150
    text = json.dumps({"tel": ["13800138000"] * phones, "13800138000": "x"})
    view = ex._Json.parse(text, TextCodec("utf-8"), "json:")
    phone_leaves = [i for i, s in enumerate(view.segments) if s.text == "13800138000"]
    assert len(phone_leaves) == phones + 1  # the data key is a leaf too
    calls = []
    finder = ex._string_leaves
    monkeypatch.setattr(ex, "_string_leaves", lambda *a: calls.append(1) or finder(*a))
    ScanCountingText.scans = 0
    new = dict.fromkeys(phone_leaves, "138****8000")
    out = ex._spliced(ScanCountingText(text), view.segments, new)
    assert len(calls) == 1
    assert ScanCountingText.scans <= 2
    assert out == text.replace("13800138000", "138****8000")
