"""Dictionaries: confidentiality markers, admin terms, deny-listed values, allow-list forms."""

from __future__ import annotations

import pytest

from detectors.dictionary import Dictionary, value_form
from detectors.engine import Detector, DetectorConfig
from detectors.model import Segment

MARKERS = Dictionary.build()


@pytest.mark.parametrize(
    "text, found",
    [
        ("【绝密】2026年客户名单", ["绝密", "客户名单"]),
        ("本文件为内部资料，仅限内部传阅", ["内部资料", "仅限内部"]),
        ("机密 - 客户信息导出", ["机密", "客户信息"]),
        ("This report is STRICTLY CONFIDENTIAL.", ["STRICTLY CONFIDENTIAL"]),
        ("confidential", ["confidential"]),
        ("Internal Only: customer data export", ["Internal Only", "customer data"]),
        ("a nonconfidential note", []),
        ("our customer database schema", []),  # "Customer Data" is not a word of "database"
        ("今天天气很好 the weather is fine", []),
        ("", []),
    ],
)
def test_builtin_markers(text, found):
    hits = MARKERS.scan(text)
    assert [text[h.start : h.end] for h in hits] == found
    assert all(h.entity == "CONFIDENTIAL_MARKER" for h in hits)


def test_case_folding_keeps_offsets():
    text = "İİİ Confidential"  # 'İ'.lower() is two characters
    (hit,) = MARKERS.scan(text)
    assert text[hit.start : hit.end] == "Confidential"


def test_admin_terms_without_builtins():
    book = Dictionary.build(markers=False, terms=("天河项目", "Project Falcon"))
    text = "机密：天河项目 and project falcon"
    assert [text[h.start : h.end] for h in book.scan(text)] == ["天河项目", "project falcon"]


DENIED = Dictionary.build(
    markers=False,
    deny_values=(
        ("CN_RESIDENT_ID", ("11010519491231002X",)),
        ("PHONE_NUMBER", ("13800138000", "010-6552-9988")),
        ("EMAIL_ADDRESS", ("leaked@example.com",)),
    ),
)


@pytest.mark.parametrize(
    "text, entity, value",
    [
        ("身份证11010519491231002x", "CN_RESIDENT_ID", "11010519491231002x"),
        ("id 110105 19491231 002X.", "CN_RESIDENT_ID", "110105 19491231 002X"),
        ("call +86 138-0013-8000 now", "PHONE_NUMBER", "+86 138-0013-8000"),
        ("0086 13800138000", "PHONE_NUMBER", "0086 13800138000"),
        ("tel:138 0013 8000", "PHONE_NUMBER", "138 0013 8000"),
        ("+86 10 6552 9988", "PHONE_NUMBER", "+86 10 6552 9988"),
        ("电话010-65529988", "PHONE_NUMBER", "010-65529988"),
        ("mail LEAKED@example.com", "EMAIL_ADDRESS", "LEAKED@example.com"),
    ],
)
def test_deny_values_in_every_written_form(text, entity, value):
    (hit,) = DENIED.scan(text)
    assert (hit.entity, text[hit.start : hit.end]) == (entity, value)


@pytest.mark.parametrize(
    "text",
    [
        "113800138000",
        "138001380001",
        "11010519491231002X9",
        "notleaked@example.com.cn1",
        "1380013800",
    ],
)
def test_deny_values_need_whole_values(text):
    assert DENIED.scan(text) == []


@pytest.mark.parametrize(
    "a, b",
    [
        ("+86 138-0013-8000", "13800138000"),
        ("0086 138 0013 8000", "13800138000"),
        ("(+86) 400 800 8888", "400-800-8888"),
        ("+86 10 6552 9988", "010-6552-9988"),
        ("Li.Lei@Example.com", "li.lei@example.com"),
        ("１３８００１３８０００", "13800138000"),
    ],
)
def test_value_form_equates_written_forms(a, b):
    assert value_form(a) == value_form(b)


def test_repr_shows_no_values():
    assert "13800138000" not in repr(DENIED)


# -- through the detector -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def detector():
    return Detector(
        DetectorConfig(
            allow_values=("400-800-8888", "13800138000"),
            deny_values=(
                ("CN_RESIDENT_ID", ("11010519491231002X",)),
                ("PHONE_NUMBER", ("13700137000",)),
            ),
            confidential_terms=("天河项目",),
        )
    )


def entities(detector, text, location="body", context=()):
    return [
        (f.entity, f.value, f.score) for f in detector.analyze([Segment(text, location, context)])
    ]


@pytest.mark.parametrize(
    "text",
    [
        "客服电话 +86 138 0013 8000",
        "客服电话 138-0013-8000",
        "客服电话 0086-13800138000",
        "热线 (+86) 400 800 8888",
        "热线 400-800-8888",
    ],
)
def test_allow_listed_values_dropped_in_every_form(detector, text):
    assert [e for e in entities(detector, text, context=("phone",)) if e[0] == "PHONE_NUMBER"] == []


def test_denied_value_reported_at_full_score(detector):
    found = entities(detector, "备注: 11010519491231002X")
    assert ("CN_RESIDENT_ID", "11010519491231002X", 1.0) in found


def test_denied_phone_without_context_and_once(detector):
    found = entities(detector, "ref +86 137-0013-7000")
    assert [e for e in found if e[0] == "PHONE_NUMBER"] == [
        ("PHONE_NUMBER", "+86 137-0013-7000", 1.0)
    ]


def test_markers_and_terms_through_the_detector(detector):
    found = entities(detector, "【机密】天河项目 Q3 plan")
    assert ("CONFIDENTIAL_MARKER", "机密", 1.0) in found
    assert ("CONFIDENTIAL_MARKER", "天河项目", 1.0) in found


def test_markers_can_be_switched_off():
    quiet = Detector(DetectorConfig(confidential_markers=False))
    assert entities(quiet, "【机密】 Confidential") == []


def test_deny_values_for_unknown_entity_refused():
    with pytest.raises(ValueError, match="unknown entities"):
        Detector(DetectorConfig(deny_values=(("UK_NHS", ("123",)),)))
