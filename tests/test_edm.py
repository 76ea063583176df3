"""Exact Data Match: the index (no cleartext), the key rules, matching a real customer's pair."""

from __future__ import annotations

import hmac
import os
import random

import pytest

from detectors.edm import EdmError, EdmIndex, Keyed, fingerprint, new_key, normalise, read_key
from detectors.edm_build import build_index, kinds_from_header, parse_columns
from detectors.model import Finding, Segment
from proxy.cli import main

CUSTOMERS = [
    # name, phone, id_no, email, card, address
    (
        "张伟",
        "13800138000",
        "11010519491231002X",
        "zhang.wei@example.com",
        "6222021234567890123",
        "北京市朝阳区建国路88号",
    ),
    (
        "李娜",
        "+86 139-0013-9000",
        "110105199003074514",
        "Li.Na@Example.com",
        "",
        "上海市浦东新区世纪大道100号",
    ),
    ("Wang Fang", "13700137000", "E12345678", "wang.fang@example.org", "4111111111111111", ""),
]
HEADER = "姓名,手机号,身份证号,邮箱,银行卡号,地址"


@pytest.fixture
def files(tmp_path):
    """customers.csv, keys/edm.key (0600) and index/customers.edm: key kept apart."""
    (tmp_path / "keys").mkdir()
    (tmp_path / "index").mkdir()
    csv_path = tmp_path / "customers.csv"
    rows = [HEADER, *(",".join(c) for c in CUSTOMERS)]
    rnd = random.Random(3)
    rows += [
        f"客户{i},1500015{i:04d},,c{i}@example.net,,城{rnd.randrange(99)}路{i}号"
        for i in range(200)
    ]
    csv_path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    key, index = tmp_path / "keys" / "edm.key", tmp_path / "index" / "customers.edm"
    new_key(key)
    build_index(csv_path, read_key(key, index), index)
    return csv_path, key, index


@pytest.fixture
def index(files):
    _, key, path = files
    return EdmIndex.open(path, key)


# -- building -------------------------------------------------------------------------------------


def test_index_holds_no_cleartext(files):
    _, _, path = files
    data = path.read_bytes()
    assert data.startswith(b"BAOMIEDM")
    for customer in CUSTOMERS:
        for cell in customer:
            for form in {cell, normalise("phone", cell) or "", cell.lower(), cell.upper()}:
                if len(form) >= 4:
                    assert form.encode() not in data, "cleartext cell in the index"
    assert b"1500015" not in data and "客户".encode() not in data


def test_build_reports_rows_and_entries(tmp_path, files):
    csv_path, key, _ = files
    out = tmp_path / "index" / "again.edm"
    report = build_index(csv_path, read_key(key, out), out, workers=1)
    assert report.rows == 203
    assert report.columns == ("name", "phone", "id_no", "email", "card", "address")
    assert report.entries + report.skipped_cells == 203 * 6


@pytest.mark.parametrize(
    "header, kinds",
    [
        (["姓名", "手机号", "备注"], ("name", "phone", None)),
        (["Customer Name", "Mobile", "E-mail", "ID No"], ("name", "phone", "email", "id_no")),
        (["收件人", "联系电话", "收货地址", "卡号"], ("name", "phone", "address", "card")),
        (["order", "amount"], (None, None)),
    ],
)
def test_kinds_from_header(header, kinds):
    assert kinds_from_header(header) == kinds


@pytest.mark.parametrize(
    "kind, raw, normalised",
    [
        ("phone", "+86 138-0013-8000", "13800138000"),
        ("phone", "0086 13800138000", "13800138000"),
        ("phone", "１３８００１３８０００", "13800138000"),  # full-width digits
        ("phone", "+86 10 6552 9988", "01065529988"),
        ("phone", "12345", None),
        ("id_no", "11010519491231002x", "11010519491231002X"),
        ("id_no", "1101 0519 4912 3100 2X", "11010519491231002X"),
        ("email", " Li.Lei@Example.COM ", "li.lei@example.com"),
        ("email", "not-an-email", None),
        ("name", " 张 伟 ", "张伟"),
        ("name", "Wang  Fang", "wangfang"),
        ("name", "王", None),
        ("card", "6222 0212 3456 7890 123", "6222021234567890123"),
        ("address", "北京市 朝阳区", "北京市朝阳区"),
    ],
)
def test_normalise(kind, raw, normalised):
    assert normalise(kind, raw) == normalised


def test_keyed_tag_is_hmac_sha256():
    key = os.urandom(32)
    keyed = Keyed(key)
    for value in ("13800138000", "张伟", "a@b.cn", ""):
        expected = hmac.digest(key, b"phone\0" + value.encode(), "sha256")[:8]
        assert keyed.tag("phone", value) == int.from_bytes(expected, "little")
        assert keyed.tag("phone", value) == fingerprint(key, "phone", value)


BAD_CSV = [
    pytest.param("", None, "empty file", id="empty"),
    pytest.param("order,amount\n1,2\n", None, "no column header names a known kind", id="no-kinds"),
    pytest.param(
        "姓名,手机\n张伟,13800138000,extra\n", None, ":2: 3 cells, expected 2", id="ragged-row"
    ),
    pytest.param(
        "姓名,手机\n张伟,13800138000\n",
        "name,phone,email",
        "header has 2 cells but --columns names 3",
        id="columns-mismatch",
    ),
    pytest.param("姓名,手机\n,\n ,x\n", None, "no cell could be indexed", id="nothing-to-index"),
    pytest.param('姓名,手机\n"张伟,13800138000\n', None, "not valid CSV", id="open-quote"),
]


@pytest.mark.parametrize("text, columns, message", BAD_CSV)
def test_bad_csv_is_a_clear_error(tmp_path, text, columns, message):
    csv_path = tmp_path / "bad.csv"
    csv_path.write_text(text, encoding="utf-8")
    kinds = parse_columns(columns) if columns else None
    with pytest.raises(EdmError) as caught:
        build_index(csv_path, b"k" * 32, tmp_path / "out" / "x.edm", kinds)
    assert message in str(caught.value)
    assert "13800138000" not in str(caught.value) and "张伟" not in str(caught.value)


def test_gbk_csv_needs_its_encoding(tmp_path):
    csv_path = tmp_path / "gbk.csv"
    csv_path.write_bytes("姓名,手机\n张伟,13800138000\n".encode("gb18030"))
    (tmp_path / "i").mkdir()
    with pytest.raises(EdmError, match="gb18030"):
        build_index(csv_path, b"k" * 32, tmp_path / "i" / "x.edm")
    report = build_index(csv_path, b"k" * 32, tmp_path / "i" / "x.edm", encoding="gb18030")
    assert report.rows == 1 and report.entries == 2


@pytest.mark.parametrize("spec", ["name,phone,passport", "-,-"])
def test_bad_columns(spec):
    with pytest.raises(EdmError):
        parse_columns(spec)


# -- the key and the index ------------------------------------------------------------------------


def test_keygen_is_private_and_never_overwrites(tmp_path):
    key = tmp_path / "edm.key"
    new_key(key)
    assert key.stat().st_mode & 0o777 == 0o600 and len(key.read_bytes()) == 32
    with pytest.raises(EdmError, match="exists"):
        new_key(key)


def test_key_in_the_index_directory_is_refused(files):
    _, key, index = files
    beside = index.parent / "edm.key"
    beside.write_bytes(key.read_bytes())
    beside.chmod(0o600)
    with pytest.raises(EdmError, match="same directory"):
        EdmIndex.open(index, beside)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_readable_key_is_refused(files, mode):
    _, key, index = files
    key.chmod(mode)
    with pytest.raises(EdmError, match="expected 0600 or stricter"):
        EdmIndex.open(index, key)


def test_key_0400_is_accepted(files):
    _, key, index = files
    key.chmod(0o400)
    assert EdmIndex.open(index, key).meta["rows"] == 203


def test_another_key_is_refused(tmp_path, files):
    _, _, index = files
    other = tmp_path / "keys" / "other.key"
    new_key(other)
    with pytest.raises(EdmError, match="another key"):
        EdmIndex.open(index, other)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda data: data[:-3], "truncated"),
        (lambda data: b"NOTANIDX" + data[8:], "not an EDM index"),
        (lambda data: b"", "cannot read"),
    ],
)
def test_damaged_index_is_refused(files, damage, message):
    _, key, index = files
    index.write_bytes(damage(index.read_bytes()))
    with pytest.raises(EdmError, match=message):
        EdmIndex.open(index, key)


# -- matching -------------------------------------------------------------------------------------


def finding(entity, segments, index, value, score=0.9):
    text = segments[index].text
    start = text.index(value)
    return Finding(entity, score, start, start + len(value), segments[index].location, index, value)


def test_csv_row_with_a_name_that_is_no_finding(index):
    segments = [Segment("张伟,13800138000,北京", "multipart:leak.csv:row2", ("name", "phone"))]
    phone = finding("PHONE_NUMBER", segments, 0, "13800138000")
    (match,) = index.match(segments, [phone])
    assert (match.entity, match.score, match.start, match.end) == ("CUSTOMER_RECORD", 1.0, 3, 14)
    assert match.location == phone.location and match.value == phone.value


def test_json_record_pairs_across_segments(index):
    segments = [
        Segment("李娜", "json:$.rows[0].name", ("name",)),
        Segment("139 0013 9000", "json:$.rows[0].tel", ("tel",)),
        Segment("王芳", "json:$.rows[1].name", ("name",)),
        Segment("13800138000", "json:$.rows[1].tel", ("tel",)),  # 张伟's phone with 王芳's name
    ]
    findings = [
        finding("PHONE_NUMBER", segments, 1, "139 0013 9000"),
        finding("PHONE_NUMBER", segments, 3, "13800138000"),
    ]
    matches = index.match(segments, findings)
    assert [(m.segment, m.entity) for m in matches] == [(1, "CUSTOMER_RECORD")]


MATCHES = [
    pytest.param("客户张伟的手机是13800138000", "13800138000", True, id="name-in-sentence"),
    pytest.param("Wang Fang, 13700137000", "13700137000", True, id="latin-name"),
    pytest.param(
        "邮箱 LI.NA@example.com 身份证 110105199003074514",
        "110105199003074514",
        True,
        id="id-with-email",
    ),
    pytest.param("13800138000", "13800138000", False, id="phone-alone"),
    pytest.param("李娜 13800138000", "13800138000", False, id="another-customers-name"),
    pytest.param("张伟 13600136000", "13600136000", False, id="not-a-customer-phone"),
    pytest.param("13800138000 / +86 138-0013-8000", "13800138000", False, id="same-phone-twice"),
    pytest.param("张伟" + " " * 150 + "13800138000", "13800138000", False, id="name-too-far"),
]


@pytest.mark.parametrize("text, strong, expected", MATCHES)
def test_match_needs_a_second_field_of_the_same_customer(index, text, strong, expected):
    segments = [Segment(text, "body")]
    entity = "CN_RESIDENT_ID" if len(strong) == 18 else "PHONE_NUMBER"
    found = [finding(entity, segments, 0, strong)]
    if "LI.NA" in text:
        found.append(finding("EMAIL_ADDRESS", segments, 0, "LI.NA@example.com"))
    matches = index.match(segments, found)
    assert (strong in [m.value for m in matches]) is expected
    assert all(m.entity == "CUSTOMER_RECORD" and m.score == 1.0 for m in matches)


def test_person_and_address_findings_are_second_fields(index):
    segments = [Segment("收件人 上海市浦东新区世纪大道100号 电话 13900139000", "body")]
    found = [
        finding("ADDRESS", segments, 0, "上海市浦东新区世纪大道100号"),
        finding("PHONE_NUMBER", segments, 0, "13900139000"),
    ]
    assert len(index.match(segments, found)) == 1


def test_repr_never_shows_the_key(index, files):
    _, key, _ = files
    assert key.read_bytes().hex() not in repr(index) and "rows" in repr(index)


# -- the command line -----------------------------------------------------------------------------


def test_cli_keygen_and_build(tmp_path, capsys):
    (tmp_path / "k").mkdir()
    (tmp_path / "i").mkdir()
    key, out, csv_path = tmp_path / "k" / "edm.key", tmp_path / "i" / "c.edm", tmp_path / "c.csv"
    csv_path.write_text("a,b,c\n张伟,13800138000,x\n", encoding="utf-8")
    assert main(["edm", "keygen", "--out", str(key)]) == 0
    assert (
        main(
            [
                "edm",
                "build",
                str(csv_path),
                "--key-file",
                str(key),
                "--out",
                str(out),
                "--columns",
                "name,phone,-",
                "--json",
            ]
        )
        == 0
    )
    assert '"rows": 1' in capsys.readouterr().out
    assert EdmIndex.open(out, key).meta["entries"] == 2


def test_cli_refuses_key_beside_index(tmp_path, capsys):
    key, out, csv_path = tmp_path / "edm.key", tmp_path / "c.edm", tmp_path / "c.csv"
    csv_path.write_text("姓名,手机\n张伟,13800138000\n", encoding="utf-8")
    assert main(["edm", "keygen", "--out", str(key)]) == 0
    capsys.readouterr()
    code = main(["edm", "build", str(csv_path), "--key-file", str(key), "--out", str(out)])
    assert code == 1 and "same directory" in capsys.readouterr().err
    assert not out.exists()


def test_cli_bad_csv_is_an_error_line(tmp_path, capsys):
    (tmp_path / "k").mkdir()
    key, csv_path = tmp_path / "k" / "edm.key", tmp_path / "c.csv"
    csv_path.write_text("姓名,手机\n张伟,13800138000,多\n", encoding="utf-8")
    main(["edm", "keygen", "--out", str(key)])
    capsys.readouterr()
    code = main(
        ["edm", "build", str(csv_path), "--key-file", str(key), "--out", str(tmp_path / "c.edm")]
    )
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("Error: ") and ":2: 3 cells" in err
    assert "Traceback" not in err


# -- inside the detector --------------------------------------------------------------------------


def test_detector_raises_customer_record(files):
    from detectors.engine import Detector, DetectorConfig

    _, key, path = files
    detector = Detector(DetectorConfig(edm_index=str(path), edm_key_file=str(key)))
    found = detector.analyze(
        [Segment("张伟,13800138000", "multipart:x.csv:row2", ("name", "phone"))]
    )
    assert [(f.entity, f.value) for f in found if f.entity == "CUSTOMER_RECORD"] == [
        ("CUSTOMER_RECORD", "13800138000")
    ]
    other = detector.analyze(
        [Segment("王芳,13800138000", "multipart:x.csv:row2", ("name", "phone"))]
    )
    assert "CUSTOMER_RECORD" not in {f.entity for f in other}


def test_detector_refuses_to_start_with_a_badly_kept_key(files):
    from detectors.engine import Detector, DetectorConfig

    _, key, path = files
    key.chmod(0o644)
    with pytest.raises(EdmError, match="0600"):
        Detector(DetectorConfig(edm_index=str(path), edm_key_file=str(key)))
