"""A name the sender chooses (a query or form field's name, a header's name, a multipart part's
name or file name) that may be data is inspected as a segment of its own and never written
into a location: records log locations (decisions.jsonl, incidents), so ``form:13800138000``
would be the raw value in clear (proxy/extraction/extract.py, ``is_data_name``).
"""

from __future__ import annotations

import gzip
import io
import random
import re
import tarfile
from urllib.parse import quote, quote_plus

import pytest
from document_samples import multipart, xlsx_bytes, zip_bytes
from test_binary_uploads import png, png_chunk

from detectors.model import Segment
from proxy.errors import CannotMask
from proxy.extraction.extract import Limits, RawRequest, extract, is_data_name

ID = "11010519491231002X"
MOBILE = "13800138000"
FORM = (("content-type", "application/x-www-form-urlencoded"),)
LIMITS = Limits()


def segments(raw: RawRequest) -> list[tuple[str, str]]:
    return [(s.location, s.text) for s in extract(raw, LIMITS).segments]


def post(body: bytes | str, headers=FORM, url="https://api.example.com/") -> RawRequest:
    return RawRequest("POST", url, headers, body.encode() if isinstance(body, str) else body)


# -- query and form fields ---------------------------------------------------------------------

def test_the_briefs_request_names_every_data_name_by_its_place():
    raw = post(f"{MOBILE}=1&note=hi", url=f"https://api.example.com/api?{ID}=1")
    assert segments(raw) == [
        ("path", "/api"), ("query:{0}", ID), ("query:{0}", "1"),
        ("form:{0}", MOBILE), ("form:{0}", "1"), ("form:note", "hi")]


def test_a_data_name_with_an_empty_value_is_still_inspected():
    assert segments(post(f"a=1&{ID}=&b=")) == [("form:a", "1"), ("form:{1}", ID)]


def test_the_names_words_are_the_context_of_name_and_value():
    found = extract(post(f"tel_{MOBILE}=x"), LIMITS).segments
    assert found == (Segment(f"tel_{MOBILE}", "form:{0}", ("tel",)),
                     Segment("x", "form:{0}", ("tel",)))


def test_plain_names_keep_their_locations():
    assert segments(post("姓名=张三&items[0][sku]=A1&a b=c")) == [
        ("form:姓名", "张三"), ("form:items[0][sku]", "A1"), ("form:a b", "c")]


def test_a_masked_name_is_written_back_percent_encoded_and_the_rest_kept():
    raw = post(f"note=hi&{quote('王小明')}=1&{MOBILE}=2")
    ex = extract(raw, LIMITS)
    assert [(s.location, s.text) for s in ex.segments] == [
        ("form:note", "hi"), ("form:{1}", "王小明"), ("form:{1}", "1"), ("form:{2}", MOBILE),
        ("form:{2}", "2")]
    out = ex.rewrite({1: [(1, 3, "**")], 3: [(3, 11, "********")], 4: [(0, 1, "*")]})
    assert out.body == f"note=hi&{quote_plus('王**', safe='*')}=1&138********=*".encode()


def test_a_masked_query_name_keeps_the_url_around_it():
    ex = extract(RawRequest("GET", f"https://x.example/a/b?{ID}=1&p=2#top"), LIMITS)
    assert ex.segments[1] == Segment(ID, "query:{0}", ("x",))
    assert ex.rewrite({1: [(2, 17, "*" * 15)]}).url == "https://x.example/a/b?11***************X=1&p=2#top"


# -- headers -----------------------------------------------------------------------------------

def test_a_header_named_by_data_is_inspected_at_its_place():
    raw = RawRequest("GET", "https://x.example/", (("x-a", "b"), (f"X-{MOBILE}", "1"), (ID, "")))
    assert segments(raw) == [("header:x-a", "b"), ("header:{1}", f"X-{MOBILE}"),
                             ("header:{1}", "1"), ("header:{2}", ID)]


def test_a_masked_header_name_is_rewritten_unless_it_would_not_be_a_token():
    raw = RawRequest("GET", "https://x.example/", ((f"X-{MOBILE}", "1"), ("x-b", "c")))
    ex = extract(raw, LIMITS)
    assert ex.rewrite({0: [(5, 13, "********")]}).headers == (("X-138********", "1"), ("x-b", "c"))
    with pytest.raises(CannotMask):
        ex.rewrite({0: [(2, 13, "[PHONE]")]})


# -- multipart parts ---------------------------------------------------------------------------

def upload(files: dict[str, tuple[str, bytes]]) -> RawRequest:
    body, content_type = multipart(files)
    return post(body, (("content-type", content_type),))


@pytest.mark.parametrize(("filename", "location"), [
    (f"{ID}.jpg", "multipart:{0}.jpg"),
    ("张伟身份证.pdf", "multipart:{0}.pdf"),
    ("身份证张伟.txt", "multipart:{0}.txt"),
    ("Alice Walker.docx", "multipart:{0}.docx"),
    (f"{MOBILE}", "multipart:{0}"),
    ("138.0013.8000", "multipart:{0}"),  # no extension: no digit of it comes along
])
def test_a_file_name_that_may_name_someone_is_a_segment_and_out_of_the_location(filename,
                                                                                  location):
    found = segments(upload({"file": (filename, b"hello")}))
    assert found[0] == (location, filename)
    assert all(loc == location or loc.startswith(location + ":") for loc, _ in found)


def test_ordinary_file_names_stay_in_the_location():
    assert segments(upload({"file": ("客户.csv", b"a,b\n1,2\n")})) == [
        ("multipart:客户.csv:row1", "a,b"), ("multipart:客户.csv:row2", "1,2")]


def test_a_withheld_archive_is_still_read_by_its_extension():
    data = gzip.compress(f"name,phone\n张三,{MOBILE}\n".encode())
    found = segments(upload({"a": ("x.txt", b"ok"), "f": (f"{ID}.csv.gz", data)}))
    assert found[1:] == [("multipart:{1}.csv.gz", f"{ID}.csv.gz"),
                         ("multipart:{1}.csv.gz:csv:row1", "name,phone"),
                         ("multipart:{1}.csv.gz:csv:row2", f"张三,{MOBILE}")]


def test_a_zip_under_a_withheld_name_is_opened():
    found = segments(upload({"f": ("张伟.zip", zip_bytes({"c.csv": f"t\n{MOBILE}\n".encode()}))}))
    assert ("multipart:{0}.zip:c.csv:row2", MOBILE) in found


def test_a_part_named_by_data_is_inspected_and_its_value_still_masks():
    body = (f'--b0\r\nContent-Disposition: form-data; name="{MOBILE}"\r\n\r\nhi {MOBILE}\r\n'
            '--b0\r\nContent-Disposition: form-data; name="note"\r\n\r\nok\r\n--b0--\r\n')
    ex = extract(post(body, (("content-type", "multipart/form-data; boundary=b0"),)), LIMITS)
    assert [(s.location, s.text) for s in ex.segments] == [
        ("multipart:{0}", MOBILE), ("multipart:{0}", f"hi {MOBILE}"),
        ("multipart:note", "ok")]
    masked = ex.rewrite({1: [(6, 14, "********")]}).body
    assert masked == body.replace(f"hi {MOBILE}", "hi 138********").encode()
    with pytest.raises(CannotMask, match="name cannot be masked"):
        ex.rewrite({0: [(3, 11, "********")]})


def test_an_empty_part_with_a_data_name_is_inspected_and_cannot_be_masked():
    ex = extract(upload({"f": (f"{ID}.pdf", b"")}), LIMITS)
    assert [(s.location, s.text) for s in ex.segments] == [("multipart:{0}.pdf", f"{ID}.pdf")]
    with pytest.raises(CannotMask):
        ex.rewrite({0: [(0, 18, "*" * 18)]})


# -- archive entries ---------------------------------------------------------------------------

def test_archive_entries_named_after_someone_are_segments_counted_in_the_request():
    """Entries withheld in one request are numbered across every archive in it: two CSVs of
    different people never share a location (their rows would count as one customer)."""
    first = zip_bytes({"张伟/身份证.csv": b"a\n1\n", "ok.csv": b"x\ny\n"})
    second = zip_bytes({f"{ID}.txt": b"hello"})
    found = segments(upload({"a": ("e.zip", first), "b": ("f.zip", second)}))
    assert found == [
        ("multipart:e.zip:{0}.csv", "张伟/身份证.csv"), ("multipart:e.zip:{0}.csv:row1", "a"),
        ("multipart:e.zip:{0}.csv:row2", "1"), ("multipart:e.zip:ok.csv:row1", "x"),
        ("multipart:e.zip:ok.csv:row2", "y"), ("multipart:f.zip:{1}.txt", f"{ID}.txt"),
        ("multipart:f.zip:{1}.txt", "hello")]


def test_the_entry_count_starts_again_with_each_request():
    raw = upload({"a": ("e.zip", zip_bytes({f"{MOBILE}.txt": b"hi"}))})
    assert segments(raw)[0] == segments(raw)[0] == ("multipart:e.zip:{0}.txt", f"{MOBILE}.txt")


def test_a_tar_entry_path_is_withheld_too():
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        info = tarfile.TarInfo(f"scans/{ID}.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"hello"))
    found = segments(upload({"f": ("s.tar", data.getvalue())}))
    assert found == [("multipart:s.tar:{0}.txt", f"scans/{ID}.txt"),
                     ("multipart:s.tar:{0}.txt", "hello")]


def test_a_sheet_titled_after_someone_is_a_segment_and_its_place_in_the_location():
    data = xlsx_bytes({"客户": [["姓名"], ["张三"]], "张伟": [["手机"], [MOBILE]], ID: [["a"]]})
    assert segments(upload({"f": ("o.xlsx", data)})) == [
        ("multipart:o.xlsx:客户!row1", "姓名"), ("multipart:o.xlsx:客户!row2", "张三"),
        ("multipart:o.xlsx:{1}", "张伟"), ("multipart:o.xlsx:{1}!row1", "手机"),
        ("multipart:o.xlsx:{1}!row2", MOBILE), ("multipart:o.xlsx:{2}", ID),
        ("multipart:o.xlsx:{2}!row1", "a")]


def test_an_image_text_keyword_that_names_someone_stays_out_of_the_location():
    raw = post(png(png_chunk(b"tEXt", b"Alice Walker\x00hello"),
                   png_chunk(b"tEXt", b"Comment\x00hi")), (("content-type", "image/png"),))
    assert segments(raw) == [("body:png:text:other", "hello"), ("body:png:text:Comment", "hi")]


# -- no location holds what a name carried ----------------------------------------------------

DATA = [ID, MOBILE, "138-0013-8000", "a@b.cn", "王小明", "Alice Walker", "欧阳娜娜"]
PLAIN = ["sku", "note", "items[0][sku]", "姓名", "tel", "x-trace", "收件人"]


def test_generated_requests_never_write_a_data_name_into_a_location():
    """Requests with data and plain names in the query, the form, the headers and multipart
    parts (fixed draws): every data name is a segment's text, and no location contains one."""
    rng = random.Random(7)
    for _ in range(200):
        names = [rng.choice(DATA + PLAIN) for _ in range(rng.randrange(1, 5))]
        where = rng.choice(["query", "form", "header", "part", "file"])
        raw, names = _request(where, names, rng)
        found = extract(raw, LIMITS).segments
        texts = {s.text for s in found}
        for name in names:
            if name in DATA:
                assert any(name in t for t in texts), (where, name)
            for s in found:
                assert not (name in DATA and name in s.location), (where, s.location)
                assert not re.search(r"\d{6}", s.location), s.location


def _request(where: str, names: list[str], rng: random.Random
             ) -> tuple[RawRequest, list[str]]:
    """A request with ``names`` where it says, and the names it holds."""
    value = rng.choice(["1", "", "hi", "张三"])
    if where in ("query", "form"):
        fields = "&".join(f"{quote_plus(n) if n.isascii() else quote(n)}={quote(value)}"
                          for n in names)
        if where == "query":
            return RawRequest("GET", f"https://x.example/p?{fields}"), names
        return post(fields), names
    if where == "header":  # a header name is a token
        names = [n for n in names if re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", n)]
        return RawRequest("GET", "https://x.example/", tuple((n, value) for n in names)), names
    if where == "part":
        body = "".join(f'--b0\r\nContent-Disposition: form-data; name="{n}"\r\n\r\n{value}\r\n'
                       for n in names) + "--b0--\r\n"
        return post(body, (("content-type", "multipart/form-data; boundary=b0"),)), names
    return upload({f"f{i}": (n + rng.choice(["", ".pdf", ".csv"]), value.encode())
                   for i, n in enumerate(names)}), names


def test_is_data_name_remembers_only_plain_names():
    from proxy.extraction import datanames as module

    assert is_data_name("x-trace-plain") is False and "x-trace-plain" in module._PLAIN_NAMES
    assert is_data_name(f"x-{MOBILE}") is True and f"x-{MOBILE}" not in module._PLAIN_NAMES


def test_any_data_name_is_is_data_name_of_each():
    """The one-pass screen (NUL-joined names, digits counted by bytes.translate) answers as
    asking every name would, over names of digits, separators, @, spaces of every kind,
    capitals, NULs, surnames and kana (fixed draws)."""
    from proxy.extraction import datanames as module

    rng = random.Random(11)
    alphabet = list("0123456789ab@ A\x00\t\x0b\x1c\x1f王小明欧阳·ノx_-[]Z") + ["13800138000"]
    for _ in range(20000):
        names = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 8)))
                 for _ in range(rng.randrange(0, 6))]
        if rng.random() < 0.5:
            names = [n.encode("ascii", "ignore").decode() for n in names]
        if rng.random() < 0.1:
            module._PLAIN_NAMES.clear()
        assert module.any_data_name(names) == any(map(module.is_data_key, names)), names
