import pytest

from detectors.normalize import canonical_value, normalize


@pytest.mark.parametrize(
    ("original", "normalised"),
    [
        ("13800138000", "13800138000"),
        ("１３８００１３８０００", "13800138000"),
        ("138\u200b0013\u200c8000", "13800138000"),
        ("\ufeff138-0013-8000\u00ad", "138-0013-8000"),
        ("\u202e13800138000\u202c", "13800138000"),
        ("张三：１３８", "张三:138"),
        ("ｚｈａｎｇ＠ｅｘａｍｐｌｅ．ｃｏｍ", "zhang@example.com"),
        ("㈠", "(一)"),
        ("", ""),
    ],
)
def test_normalize_text(original, normalised):
    assert normalize(original).text == normalised


@pytest.mark.parametrize(
    ("original", "needle"),
    [
        ("电话：１３８\u200b0013 8000。", "1380013 8000"),
        ("a\u200bb 13800138000", "13800138000"),
        ("ﬁ ﬁ １３８００１３８０００ end", "13800138000"),
        ("plain 13800138000 ascii", "13800138000"),
        ("\u00ad\u00ad\u00ad13800138000", "13800138000"),
    ],
)
def test_span_maps_back_to_original(original, needle):
    normalized = normalize(original)
    start = normalized.text.index(needle)
    o_start, o_end = normalized.span(start, start + len(needle))
    # The original slice normalises to exactly the needle: nothing lost at either end.
    assert normalize(original[o_start:o_end]).text == needle
    assert original[o_start] not in "\u200b\u00ad"


def test_expanding_character_maps_to_its_source():
    normalized = normalize("ﬁx")  # one ligature becomes "fi"
    assert normalized.text == "fix"
    assert normalized.span(0, 1) == (0, 1)
    assert normalized.span(1, 3) == (0, 2)


def test_empty_span_is_an_error():
    with pytest.raises(ValueError):
        normalize("１２３").span(1, 1)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("+86 138-0013-8000", "13800138000", True),
        ("0086 13800138000", "13800138000", True),
        ("１３８ ００１３ ８０００", "13800138000", True),
        ("Service@Example.com", "service@example.com", True),
        ("13800138000", "13800138001", False),
        ("8613800138000", "13800138000", True),
        ("400-800-8888", "4008008888", True),
    ],
)
def test_canonical_value(a, b, same):
    assert (canonical_value(a) == canonical_value(b)) is same
