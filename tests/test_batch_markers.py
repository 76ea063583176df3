"""The segment selector's one hyperscan pass also looks for the dictionary's marker words
(detectors/batch.py): a text without one skips the Aho-Corasick pass. The selection must
stay what the dictionary's own pass gives, whatever the case, neighbours or characters
that lower-case into a word's letters.
"""

from __future__ import annotations

import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.batch import FOLDING_IN_ASCII, SegmentSelector
from detectors.config import DetectorConfig
from detectors.dictionary import MARKERS

ADMIN_TERMS = ("Project Falcon", "项目X", "Kilo Deal", "Ärger-Liste")
SELECTORS = {
    "markers": SegmentSelector.for_config(DetectorConfig()),
    "terms": SegmentSelector.for_config(DetectorConfig(confidential_terms=ADMIN_TERMS[:3])),
    "cased term outside ASCII": SegmentSelector.for_config(
        DetectorConfig(confidential_terms=ADMIN_TERMS)),
    "deny list": SegmentSelector.for_config(
        DetectorConfig(deny_values=(("PHONE_NUMBER", ("4001234567",)),))),
}


def reference_busy(selector: SegmentSelector, texts: list[str]) -> set[int]:
    """``busy`` with the dictionary's pass always run (before the markers joined hyperscan)."""
    selector._dictionary_may_hit = lambda _joined, _marked: True  # type: ignore[method-assign]
    try:
        return selector.busy(texts)
    finally:
        del selector._dictionary_may_hit


def test_folding_table_is_unicode_s():
    """Every character outside ASCII that lower-cases to one ASCII character is listed."""
    found = {}
    for code in range(0x80, sys.maxunicode + 1):
        lower = chr(code).lower()
        if len(lower) == 1 and lower.isascii():
            found[lower] = chr(code)
    assert found == FOLDING_IN_ASCII


def test_only_ascii_or_uncased_words_stand_in():
    assert SELECTORS["markers"].marker_words is not None
    assert set(SELECTORS["markers"].marker_words) == {m.lower() for m in MARKERS}
    assert SELECTORS["cased term outside ASCII"].marker_words is None  # Ä: hyperscan would not fold it


def test_markers_in_any_case_and_the_kelvin_sign():
    selector = SELECTORS["terms"]
    texts = ["order SO-1", "STRICTLY confidential", "nonconfidential", "项目x 的进展",
             "\u212ailo deal", "kilo dealer", "SKU-1"]
    assert selector.busy(texts) == reference_busy(selector, texts) == {1, 3, 4}


def test_no_marker_skips_nothing_a_deny_list_finds():
    selector = SELECTORS["deny list"]
    texts = ["call 400-123-4567 now", "SKU-1"]
    assert selector.busy(texts) == reference_busy(selector, texts) == {0}


_PIECES = st.sampled_from([
    *MARKERS, *ADMIN_TERMS, "K", "\u212a", "İ", "ß", "ilo", " ", "-", "x", "2", "confidentially",
    "in", "SKU-00001", "标准件", "\n", "Deal", "ärger", "ÄRGER-LISTE", "13800138000",
])


@settings(max_examples=400, deadline=None, derandomize=True)
@given(texts=st.lists(
    st.lists(st.one_of(_PIECES, st.text(max_size=4)), max_size=6).map("".join),
    min_size=1, max_size=5))
def test_selection_is_the_dictionary_s(texts):
    for selector in SELECTORS.values():
        assert selector.busy(texts) == reference_busy(selector, texts)
        assert selector.busy_as_sent(texts) == reference_busy(selector, _as_sent(texts))


def _as_sent(texts: list[str]) -> list[str]:
    from detectors.normalize import normalize
    return [normalize(t).text for t in texts]
