import socket

import pytest
from detection_support import best, detect, shared_detector
from presidio_analyzer import EntityRecognizer, RecognizerResult

from detectors.engine import Detector, DetectorConfig
from detectors.model import Segment
from proxy.errors import DetectionFailed


class EmployeeIdRecognizer(EntityRecognizer):
    """An admin's custom recognizer: BM-123456 employee numbers."""

    def __init__(self):
        super().__init__(supported_entities=["EMPLOYEE_ID"], name="EmployeeId")

    def load(self):
        pass

    def analyze(self, text, entities, nlp_artifacts=None):
        start = text.find("BM-")
        if start < 0:
            return []
        return [RecognizerResult("EMPLOYEE_ID", start, start + 9, 0.9)]


class ExplodingRecognizer(EmployeeIdRecognizer):
    def analyze(self, text, entities, nlp_artifacts=None):
        raise RuntimeError(f"boom on {text}")  # carries raw text on purpose


class NotARecognizer:
    pass


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_builds_and_detects_offline(no_network):
    detector = Detector(DetectorConfig())
    findings = detector.analyze(
        [Segment("mail zhang@example.com.cn or call +86 138 0013 8000", "body", ())]
    )
    assert {f.entity for f in findings} == {"EMAIL_ADDRESS", "PHONE_NUMBER"}


@pytest.mark.parametrize(
    ("with_context", "without_context", "entity"),
    [
        ("我的手机13800138000", "我的编号13800138000", "PHONE_NUMBER"),
        ("联系电话：13800138000", "数量：13800138000", "PHONE_NUMBER"),
        ("身份证 110105491231002", "序列 110105491231002", "CN_RESIDENT_ID"),
        ("卡号 6222021234567890127", "编号 6222021234567890127", "CREDIT_CARD"),
        ("护照号 E12345678", "型号 E12345678", "CN_PASSPORT"),
        ("phone 13800138000", "count 13800138000", "PHONE_NUMBER"),
    ],
)
def test_context_words_in_text_raise_scores(with_context, without_context, entity):
    lifted = best(with_context, entity)
    plain = best(without_context, entity)
    assert lifted is not None
    assert plain is None or lifted.score > plain.score


@pytest.mark.parametrize(
    ("context", "entity", "text"),
    [
        (("customer", "mobile"), "PHONE_NUMBER", "13800138000"),
        (("手机",), "PHONE_NUMBER", "13800138000"),
        (("idCard",), "CN_RESIDENT_ID", "110105491231002"),
        (("收件人",), "PERSON", "张伟"),
    ],
)
def test_field_names_are_context(context, entity, text):
    lifted = best(text, entity, context)
    plain = best(text, entity, ("value",))
    assert lifted is not None and lifted.score >= 0.5
    assert plain is None or plain.score < 0.5


def test_clean_text_skips_presidio(monkeypatch):
    detector = shared_detector()

    def must_not_run(*args, **kwargs):
        raise AssertionError("prefilter let clean text through")

    monkeypatch.setattr(detector.analyzer, "analyze", must_not_run)
    segments = [
        Segment("今天天气很好，我们下午三点开会。", "chat", ()),
        Segment("The quick brown fox jumps over the lazy dog.", "chat", ()),
        Segment("ok", "json:$.status", ("status",)),
    ]
    assert detector.analyze(segments) == []


def test_findings_sorted_with_segment_index_and_location():
    segments = [
        Segment("nothing here", "a", ()),
        Segment("mail b@example.org then a@example.org", "b", ()),
        Segment("13800138000", "c", ("phone",)),
    ]
    findings = shared_detector().analyze(segments)
    assert [(f.segment, f.location, f.value) for f in findings] == [
        (1, "b", "b@example.org"),
        (1, "b", "a@example.org"),
        (2, "c", "13800138000"),
    ]


def test_offsets_refer_to_original_text():
    text = "电话：\u200b１３８\u200b００１３\u200b８０００，邮箱 ｚｈａｎｇ＠ｅｘａｍｐｌｅ．ｃｏｍ"
    findings = detect(text)
    values = {f.entity: text[f.start : f.end] for f in findings}
    assert values["PHONE_NUMBER"] == "１３８\u200b００１３\u200b８０００"
    assert values["EMAIL_ADDRESS"] == "ｚｈａｎｇ＠ｅｘａｍｐｌｅ．ｃｏｍ"


def test_long_text_is_windowed_and_every_value_found_once():
    filler = "lorem ipsum dolor sit amet 今天天气很好 "
    parts, expected = [], []
    for i in range(60):
        parts.append(filler * (i % 7 + 20))
        value = f"user{i}@example.com"
        parts.append(f"邮箱 {value} ")
        expected.append(value)
    text = "".join(parts)
    assert len(text) > 40_000
    findings = detect(text)
    emails = [f for f in findings if f.entity == "EMAIL_ADDRESS"]
    assert [f.value for f in emails] == expected
    assert all(text[f.start : f.end] == f.value for f in emails)
    assert all(f.score >= 0.85 for f in emails)


def test_allow_values_compare_normalised():
    detector = Detector(DetectorConfig(allow_values=("400-800-8888", "+86 138 0013 8000")))
    findings = detector.analyze([Segment("热线 １３８００１３８０００ 或 13900139000", "chat", ())])
    assert [f.value for f in findings] == ["13900139000"]


def test_entities_restrict_what_is_reported():
    detector = Detector(DetectorConfig(entities=frozenset({"EMAIL_ADDRESS"})))
    findings = detector.analyze([Segment("a@example.com 13800138000 11010519491231002X", "x", ())])
    assert {f.entity for f in findings} == {"EMAIL_ADDRESS"}


def test_score_threshold_drops_low_findings():
    detector = Detector(DetectorConfig(score_threshold=0.7))
    assert detector.analyze([Segment("13800138000", "x", ())]) == []
    assert detector.analyze([Segment("13800138000", "x", ("phone",))]) != []


def test_extra_recognizer_is_loaded_and_runs_on_every_segment():
    detector = Detector(DetectorConfig(extra_recognizers=("test_engine:EmployeeIdRecognizer",)))
    findings = detector.analyze([Segment("员工 BM-123456 请假", "chat", ())])
    assert [(f.entity, f.value) for f in findings] == [("EMPLOYEE_ID", "BM-123456")]


def test_raising_recognizer_makes_analyze_raise_without_raw_text():
    detector = Detector(DetectorConfig(extra_recognizers=("test_engine:ExplodingRecognizer",)))
    with pytest.raises(DetectionFailed) as raised:
        detector.analyze([Segment("13800138000 secret", "json:$.x", ())])
    assert "13800138000" not in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    assert "RuntimeError" in str(raised.value)


@pytest.mark.parametrize(
    ("config", "error"),
    [
        (DetectorConfig(extra_recognizers=("test_engine:NotARecognizer",)), TypeError),
        (DetectorConfig(extra_recognizers=("no_colon_here",)), ValueError),
        (DetectorConfig(extra_recognizers=("no_such_module_xyz:Thing",)), ModuleNotFoundError),
        (DetectorConfig(extra_recognizers=("test_engine:Missing",)), AttributeError),
        (DetectorConfig(entities=frozenset({"UK_NHS"})), ValueError),
        (DetectorConfig(nlp_model="/nonexistent/spacy-model"), OSError),
    ],
)
def test_bad_configuration_fails_at_build(config, error):
    with pytest.raises(error):
        Detector(config)


def test_noisy_presidio_defaults_are_not_registered():
    entities = set(shared_detector().analyzer.get_supported_entities())
    assert entities == {
        "CN_RESIDENT_ID",
        "PHONE_NUMBER",
        "CREDIT_CARD",
        "CN_PASSPORT",
        "CN_USCC",
        "EMAIL_ADDRESS",
        "IP_ADDRESS",
        "IBAN_CODE",
        "PERSON",
        "ADDRESS",
    }
    # UK_NHS would flag this test card number at 1.0; DATE_TIME the timestamp.
    assert {f.entity for f in detect("4111111111111111 at 2026-11-27 15:30")} == {"CREDIT_CARD"}


def test_finding_repr_is_masked():
    finding = best("13800138000", "PHONE_NUMBER", ("phone",))
    assert "13800138000" not in repr(finding)
    assert "138********" in repr(finding)


def test_optional_ner_pipeline_finds_english_names_in_free_text(tmp_path):
    spacy = pytest.importorskip("spacy")
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "PERSON", "pattern": [{"LOWER": "alice"}, {"LOWER": "walker"}]}])
    nlp.to_disk(tmp_path / "ner")
    no_ner = Detector(DetectorConfig(ner=False))  # the default Detector has baomi's own model
    without = no_ner.analyze([Segment("I met Alice Walker yesterday", "chat", ())])
    assert [f for f in without if f.entity == "PERSON"] == []
    detector = Detector(DetectorConfig(nlp_model=str(tmp_path / "ner")))
    findings = detector.analyze([Segment("I met Alice Walker yesterday", "chat", ())])
    assert [(f.entity, f.value) for f in findings] == [("PERSON", "Alice Walker")]
