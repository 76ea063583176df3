"""Optional NER: an admin-installed spaCy pipeline adds English PERSON in free text.

The tests build their own small pipeline (``spacy.blank("en")`` + an
``entity_ruler``) and save it to a directory, as an admin would install one;
nothing is downloaded. See detectors/NER.md.
"""

import pytest

spacy = pytest.importorskip("spacy")

from detection_support import shared_detector

from detectors.engine import Detector, DetectorConfig
from detectors.model import Segment
from detectors.nlp import NER_SCORE

PATTERNS = [
    {"label": "PERSON", "pattern": [{"LOWER": "alice"}, {"LOWER": "walker"}]},
    {"label": "PER", "pattern": [{"LOWER": "bob"}, {"LOWER": "stone"}]},
    {"label": "ORG", "pattern": [{"LOWER": "acme"}, {"LOWER": "corp"}]},
    {"label": "GPE", "pattern": [{"LOWER": "springfield"}]},
]


@pytest.fixture(scope="module")
def ner_detector(tmp_path_factory):
    path = tmp_path_factory.mktemp("pipeline") / "en_test_ner"
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns(PATTERNS)
    nlp.to_disk(path)
    return Detector(DetectorConfig(nlp_model=str(path)))


def people(detector, text, context=()):
    findings = detector.analyze([Segment(text, "chat", context)])
    return [(f.value, f.score) for f in findings if f.entity == "PERSON"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I met Alice Walker yesterday at the office", [("Alice Walker", NER_SCORE)]),
        ("Bob Stone will sign the contract", [("Bob Stone", NER_SCORE)]),  # "PER" label
        ("Acme Corp opened an office in Springfield", []),  # ORG, GPE: not people
        ("the weather is fine today", []),
    ],
)
def test_pipeline_names_people_in_free_text(ner_detector, text, expected):
    assert people(ner_detector, text) == expected


def test_without_a_pipeline_free_text_names_are_not_found():
    assert people(shared_detector(), "I met Alice Walker yesterday at the office") == []


@pytest.mark.parametrize(
    ("text", "entity", "value"),
    [
        ("客户手机13800138000", "PHONE_NUMBER", "13800138000"),
        ("身份证号：11010519491231002X", "CN_RESIDENT_ID", "11010519491231002X"),
        ("姓名：张三", "PERSON", "张三"),
    ],
)
def test_our_recognizers_still_run_with_a_pipeline(ner_detector, text, entity, value):
    found = [f for f in ner_detector.analyze([Segment(text, "chat", ())]) if f.entity == entity]
    assert [f.value for f in found] == [value]


def test_a_missing_pipeline_fails_at_build(tmp_path):
    with pytest.raises(OSError):
        Detector(DetectorConfig(nlp_model=str(tmp_path / "not-installed")))
