"""Detection quality goals on a small seeded corpus (bench/quality), baomi only.

Behaviour, not timing: precision, recall, F2 and PII-free payloads flagged.
The recognizers were tuned on seed 1; this runs the held-out seed 2 (and a
third seed, so a lucky draw cannot carry the goals).
"""

import sys
from pathlib import Path

import pytest

pytest.importorskip("faker")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detection_support import shared_detector

from bench.quality.generate import Label, Sample, corpus
from bench.quality.score import (
    Run,
    Span,
    goal_failures,
    gold_spans,
    run,
    score,
    segments_of,
)
from bench.quality.values import (
    luhn_ok,
    non_luhn_16,
    resident_id,
    resident_id_bad_check,
    resident_id_valid,
    unionpay_card,
)
from proxy.extraction.extract import RawRequest


def baomi(segments):
    found = [f for f in shared_detector().analyze(segments) if f.score >= 0.5]
    spans = [Span(f.entity, f.segment, f.start, f.end, score=f.score) for f in found]
    keep = [s for s in spans if s.entity != "CONFIDENTIAL_MARKER"]
    return keep, len(spans) - len(keep)


@pytest.mark.parametrize("seed", [2, 3])
def test_goals_on_held_out_seed(seed):
    samples = corpus(seed, 160)
    segment_lists = [segments_of(s) for s in samples]
    golds = [gold_spans(s, segs) for s, segs in zip(samples, segment_lists, strict=True)]
    report = score(samples, golds, run("baomi", baomi, segment_lists))
    assert report.pii_free >= 50 and report.entities["PHONE_NUMBER/mobile"].gold >= 50
    assert goal_failures(report) == []


def test_corpus_is_reproducible():
    first, again = corpus(5, 20), corpus(5, 20)
    assert [s.request.body for s in first] == [s.request.body for s in again]
    assert [s.request.body for s in corpus(6, 20)] != [s.request.body for s in first]


def test_pii_free_payloads_carry_no_labels_and_the_rest_do():
    samples = corpus(4, 80)
    assert {s.kind.startswith("clean_") for s in samples if s.pii_free} == {True}
    assert all(s.labels for s in samples if not s.kind.startswith("clean_"))


@pytest.mark.parametrize("make", [resident_id, lambda rng: resident_id(rng).lower()])
def test_generated_resident_ids_are_valid(make):
    import random

    rng = random.Random(9)
    assert all(resident_id_valid(make(rng)) for _ in range(200))


def test_generated_look_alikes_fail_their_checks():
    import random

    rng = random.Random(9)
    assert not any(resident_id_valid(resident_id_bad_check(rng)) for _ in range(200))
    assert not any(luhn_ok(non_luhn_16(rng)) for _ in range(200))
    assert all(luhn_ok(unionpay_card(rng, n)) for n in (16, 19) for _ in range(100))


def _sample(body, labels):
    request = RawRequest(
        "POST", "https://x.test/", (("content-type", "text/plain"),), body.encode()
    )
    return Sample("chat", "zh", request, tuple(labels))


def test_gold_spans_respect_digit_boundaries():
    sample = _sample(
        "卡号6222021234567890128 手机13800138000", [Label("PHONE_NUMBER", "13800138000")]
    )
    (span,) = gold_spans(sample, segments_of(sample))
    assert segments_of(sample)[0].text[span.start : span.end] == "13800138000"
    assert span.start == len("卡号6222021234567890128 手机")


def test_a_label_missing_from_the_request_is_an_error():
    sample = _sample("nothing here", [Label("PERSON", "张三")])
    with pytest.raises(AssertionError):
        gold_spans(sample, segments_of(sample))


@pytest.mark.parametrize(
    ("predicted", "tp", "fp", "found"),
    [
        ([Span("PHONE_NUMBER", 0, 2, 13)], 1, 0, 1),  # same span
        ([Span("PHONE_NUMBER", 0, 0, 5)], 1, 0, 1),  # overlaps
        ([Span("CREDIT_CARD", 0, 2, 13)], 0, 1, 0),  # overlaps, wrong entity
        ([Span("PHONE_NUMBER", 0, 20, 30)], 0, 1, 0),  # elsewhere
        ([Span("PHONE_NUMBER", 1, 2, 13)], 0, 1, 0),  # other segment
        ([], 0, 0, 0),
    ],
)
def test_matching_rule(predicted, tp, fp, found):
    sample = _sample("手机13800138000", [Label("PHONE_NUMBER", "13800138000", "mobile")])
    gold = [Span("PHONE_NUMBER", 0, 2, 13, "mobile")]
    report = score([sample], [gold], Run("x", [predicted], [0], 1.0, 1))
    tally = report.entities["PHONE_NUMBER"]
    assert (report.overall.tp, report.overall.fp, tally.found) == (tp, fp, found)
    assert report.entities["PHONE_NUMBER/mobile"].found == found


def test_flagged_counts_pii_free_payloads_with_any_finding():
    clean = _sample("订单 2026112712345678", [])
    report = score(
        [clean, clean], [[], []], Run("x", [[Span("PERSON", 0, 0, 2)], []], [0, 1], 1.0, 1)
    )
    assert (report.pii_free, report.flagged) == (2, 2)
    assert goal_failures(report) != []
