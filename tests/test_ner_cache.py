"""The detector's NER model reads a prose window once lately (detectors/ner_cache.py), and a
detector worker warms its libraries up before it says it is ready (Detector.warm_up)."""

import threading

import pytest
from detection_support import shared_detector

import detectors.engine
from detectors.engine import WARM_UP
from detectors.model import Segment
from detectors.ner_cache import NerCache
from detectors.normalize import normalize
from proxy.workers import pool

PROSE = [
    Segment("会议纪要由赵志刚整理，周一发给全组。", "json:$.messages[0].content", ("content",)),
    Segment("I met Alice Walker yesterday to go over the numbers.", "json:$.messages[1].content",
            ("content",)),
]


class Counting:
    """The real model, counting what it is given."""

    def __init__(self, model):
        self.model = model
        self.read: list[str] = []

    def __call__(self, text):
        raise AssertionError("the detector reads through one batch per request")

    def pipe(self, texts):
        texts = list(texts)
        self.read.extend(texts)
        return self.model.pipe(texts)


@pytest.fixture
def counting(monkeypatch):
    engine = shared_detector().analyzer.nlp_engine
    model = Counting(engine.ner)
    monkeypatch.setattr(engine, "ner", model)
    return model


def people(findings):
    return [f.value for f in findings if f.entity == "PERSON"]


def test_a_window_read_lately_is_not_read_again_and_finds_the_same(counting):
    detector = shared_detector()
    first = detector.analyze(PROSE)
    assert counting.read == [normalize(s.text).text for s in PROSE]  # "，" -> ","
    second = detector.analyze(PROSE)
    assert counting.read == [normalize(s.text).text for s in PROSE]  # nothing more
    assert second == first
    assert people(second) == ["赵志刚", "Alice Walker"]


def test_only_the_new_window_of_a_request_is_read(counting):
    detector = shared_detector()
    detector.analyze(PROSE[:1])
    new = Segment("Please ask John Peterson to review the pull request before Friday.",
                  "json:$.note", ("note",))
    found = detector.analyze([PROSE[0], new])
    assert counting.read == [normalize(PROSE[0].text).text, new.text]
    assert people(found) == ["赵志刚", "John Peterson"]


def test_a_replaced_model_starts_afresh(monkeypatch):
    detector = shared_detector()
    engine = detector.analyzer.nlp_engine
    detector.analyze(PROSE)  # read by the shipped model (or answered from its cache)
    other = Counting(engine.ner)
    monkeypatch.setattr(engine, "ner", other)
    detector.analyze(PROSE)
    assert other.read == [normalize(s.text).text for s in PROSE]


def test_cached_windows_count_against_the_budget_so_findings_never_depend_on_history(
        monkeypatch):
    """A request over the NER budget gets the same findings and the same skipped bytes
    whether its first windows were read before or not."""
    detector = shared_detector()
    early = Segment("昨天下午王小明和同事一起去上海参加了项目评审会。", "json:$.a", ("a",))
    late = Segment("I met Alice Walker yesterday to go over the numbers.", "json:$.b", ("b",))
    monkeypatch.setattr(detector, "ner_max_bytes", len(normalize(early.text).text.encode()) + 8)
    monkeypatch.setattr(detector, "ner_cache", NerCache())
    before = detector.ner_skipped_bytes
    cold = detector.analyze([early, late])
    skipped_cold = detector.ner_skipped_bytes - before
    warm = detector.analyze([early, late])  # early's window now in the cache
    assert warm == cold
    assert detector.ner_skipped_bytes - before == 2 * skipped_cold == 2 * len(late.text.encode())
    assert people(cold) == ["王小明"]  # Alice Walker: over the budget, no label or cue


def test_a_cache_of_size_zero_keeps_nothing(counting, monkeypatch):
    detector = shared_detector()
    monkeypatch.setattr(detector, "ner_cache", NerCache(size=0))
    detector.analyze(PROSE[:1])
    detector.analyze(PROSE[:1])
    assert counting.read == [normalize(PROSE[0].text).text] * 2


def test_the_cache_keeps_no_text():
    cache = NerCache()
    model = object()
    secret = "王小明的手机号是13800138000"
    cache.split(model, [secret])
    cache.keep(model, {secret: []})
    assert secret not in repr(vars(cache))
    assert all(len(key) == 16 for key in cache._spans)


def test_warm_up_runs_every_recognizer(monkeypatch):
    """The probe reaches each recognizer (one added later and not covered fails here)."""
    detector = shared_detector()
    called = set()
    for recognizer in detector.analyzer.registry.recognizers:
        def spy(*args, _real=recognizer.analyze, _name=recognizer.name, **kwargs):
            called.add(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(recognizer, "analyze", spy)
    detector.warm_up()
    assert called == {r.name for r in detector.analyzer.registry.recognizers}


def test_warm_up_finds_what_it_is_meant_to_find():
    entities = {f.entity for f in shared_detector().analyze(list(WARM_UP))}
    assert entities >= {"PHONE_NUMBER", "CN_RESIDENT_ID", "CN_PASSPORT", "CREDIT_CARD",
                        "CN_USCC", "EMAIL_ADDRESS", "IP_ADDRESS", "IBAN_CODE", "ADDRESS",
                        "PERSON", "CONFIDENTIAL_MARKER"}


@pytest.fixture
def in_process_worker(monkeypatch):
    """``pool._worker_main`` run here with a stand-in Detector; its signal set-up kept off
    this process."""
    monkeypatch.setattr(pool.signal, "signal", lambda *args: None)
    events: list[str] = []

    def run(detector_class):
        monkeypatch.setattr(detectors.engine, "Detector", detector_class)
        parent, child = pool._CTX.Pipe()
        replies = []

        def parent_side():
            replies.append(parent.recv())
            parent.close()  # EOF: the worker loop returns

        reader = threading.Thread(target=parent_side)
        reader.start()
        try:
            pool._worker_main(child, None)
        finally:
            reader.join(10)
            child.close()
        return replies

    return run, events


def test_a_worker_warms_up_before_it_says_ready(in_process_worker):
    run, events = in_process_worker

    class Recording:
        def __init__(self, config):
            events.append("built")

        def warm_up(self):
            events.append("warmed")

    assert run(Recording) == [("ok", "ready")]
    assert events == ["built", "warmed"]


def test_a_worker_whose_warm_up_fails_does_not_start(in_process_worker):
    run, _ = in_process_worker

    class Failing:
        def __init__(self, config):
            pass

        def warm_up(self):
            raise OSError("model file unreadable")

    assert run(Failing) == [("err", "OSError: model file unreadable")]
