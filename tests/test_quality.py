"""Detection quality goals on a small seeded corpus (bench/quality), baomi only.

Behaviour, not timing: issue 13's goals (overall F2 >= 0.97, PERSON P/R >= 0.95, ADDRESS
exact P/R >= 0.90, PII-free payloads flagged <= 1%, IDs, cards, mobiles recall >= 0.99).
The recognizers were tuned on seed 1; this runs the held-out seed 2 (and a
third seed, so a lucky draw cannot carry the goals).
"""

import json
import sys
from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("faker")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detection_support import shared_detector

from bench.quality.generate import Label, Sample, corpus
from bench.quality.payloadreaders import read_har
from bench.quality.real import DATA, ENTITIES, Payload, Text, load_payloads, load_texts, wrap_text
from bench.quality.realscore import (
    CleanGroup,
    CleanReport,
    TextReport,
    boundary_errors,
    evaluate_real,
    goal_misses,
    score_payload,
    score_sentence,
    score_texts,
    shape,
)
from bench.quality.score import (
    Run,
    Span,
    Tally,
    goal_failures,
    gold_spans,
    run,
    score,
    segments_of,
)
from bench.quality.textreaders import read_address, read_gum, spans_of
from bench.quality.values import (
    luhn_ok,
    non_luhn_16,
    resident_id,
    resident_id_bad_check,
    resident_id_valid,
    unionpay_card,
)
from bench.quality.vendor import SOURCES
from detectors.model import Segment
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


# --- real text and clean payloads (bench/quality/real.py, realscore.py) ---------------


def _text(text, spans, source="weibo", lang="zh"):
    return Text("t-1", source, lang, text, tuple(spans))


# 张三丰 in "今天见了张三丰。" is (4, 7); weibo labels PERSON only (an ADDRESS is "other").
@pytest.mark.parametrize(
    ("predicted", "exact", "overlap"),
    [
        ([("PERSON", 4, 7)], (1, 0, 1), (1, 0, 1)),  # same span: (tp, fp, found)
        ([("PERSON", 4, 6)], (0, 1, 0), (1, 0, 1)),  # stops short: overlap only
        ([("PERSON", 2, 9)], (0, 1, 0), (1, 0, 1)),  # runs on
        ([("PERSON", 0, 2)], (0, 1, 0), (0, 1, 0)),  # elsewhere
        ([("ADDRESS", 4, 7)], (0, 0, 0), (0, 0, 0)),  # an entity weibo does not label
        ([("PERSON", 4, 7), ("PERSON", 4, 5)], (1, 1, 1), (2, 0, 1)),
        ([], (0, 0, 0), (0, 0, 0)),
    ],
)
def test_real_matching_exact_and_overlap(predicted, exact, overlap):
    sample = wrap_text(_text("今天见了张三丰。", [("PERSON", 4, 7)]), 0)
    spans = [Span(e, sample.segment, s + sample.offset, t + sample.offset) for e, s, t in predicted]
    group = score_sentence(sample, spans)
    for rule, want in (("exact", exact), ("overlap", overlap)):
        t = group.tally("PERSON", rule)
        assert (t.tp, t.fp, t.found, t.gold) == (*want, 1)
    assert group.other == Counter(e for e, _, _ in predicted if e == "ADDRESS")


def test_real_scores_per_source_language_and_all():
    texts = [
        _text("见了张三。", [("PERSON", 2, 4)], "weibo", "zh"),
        _text("I met Ann Lee.", [("PERSON", 6, 13)], "wnut17", "en"),
        _text("寄到杭州市西湖区文三路90号，谢谢", [("ADDRESS", 2, 14)], "address", "zh"),
    ]
    samples = [wrap_text(t, i) for i, t in enumerate(texts)]

    def analyze(segments):  # finds the PERSON of the en sentence and half the address
        out = []
        for i, seg in enumerate(segments):
            for word, entity in (("Ann Lee", "PERSON"), ("杭州市西湖区", "ADDRESS")):
                at = seg.text.find(word)
                if at >= 0:
                    out.append(Span(entity, i, at, at + len(word)))
        return out, 0

    report = score_texts("x", analyze, samples)
    assert report.groups["en"].tally("PERSON", "overlap").recall == 1.0
    assert report.groups["weibo"].tally("PERSON", "overlap").recall == 0.0
    zh_address = report.groups["zh"].tally("ADDRESS", "exact")
    assert (zh_address.gold, zh_address.found, zh_address.fp) == (1, 0, 1)
    assert report.groups["zh"].tally("ADDRESS", "overlap").found == 1
    assert report.groups["all"].tally("PERSON", "overlap").gold == 2
    assert report.groups["all"].sentences == 3
    # weibo trains the model; the address rules were tuned on the address corpus's dev split
    assert "zh-unseen" not in report.groups
    assert "en-unseen" not in report.groups  # wnut17 trains it too
    # headline: PERSON by overlap (1 of 2 found, 1 tp) + ADDRESS exact (0 found, 1 fp)
    head = report.groups["all"].headline()
    assert (head.tp, head.fp, head.gold, head.found) == (1, 1, 3, 1)


@pytest.mark.parametrize("carrier", range(4))
def test_each_carrier_keeps_the_sentence_whole_in_one_segment(carrier):
    text = _text("王小明说：明天 10:00 见 & 不见不散", [("PERSON", 0, 3)])
    sample = wrap_text(text, carrier)
    seg = sample.segments[sample.segment].text
    ((_entity, start, end),) = sample.gold
    assert seg[start:end] == "王小明"
    assert seg[sample.offset : sample.offset + len(text.text)] == text.text


def test_clean_payload_flagged_and_example_data_scored_apart():
    segments = (Segment("order E00000000 ok", "json:$.items[3].ref"),)
    request = RawRequest("POST", "https://x.test/", (), b"{}")
    hit = [Span("CN_PASSPORT", 0, 6, 15)]
    clean = score_payload(Payload("p", "s", "dev", request), segments, hit)
    assert (clean.payloads, clean.flagged) == (1, 1)
    assert list(clean.classes) == [("CN_PASSPORT", "json:$.items[].ref", "A9{8}")]
    # findings that are not customer data in the default policy count as "any" only
    for entity in ("CONFIDENTIAL_MARKER", "IP_ADDRESS", "CN_USCC"):
        other = score_payload(Payload("p", "s", "dev", request), segments, [Span(entity, 0, 0, 5)])
        assert (other.payloads, other.flagged, other.flagged_any, other.classes) == (1, 0, 1, {})
    unmapped = score_payload(Payload("p", "s", "dev", request), segments, [], other=2)
    assert (unmapped.flagged, unmapped.flagged_any) == (0, 1)
    nothing = score_payload(Payload("p", "s", "dev", request), segments, [])
    assert (nothing.payloads, nothing.flagged, nothing.flagged_any) == (1, 0, 0)
    example = score_payload(Payload("p", "s", "dev", request, ("CN_PASSPORT",)), segments, hit)
    counts = (example.payloads, example.flagged, example.expected, example.expected_found)
    assert counts == (0, 0, 1, 1)
    missed = score_payload(Payload("p", "s", "dev", request, ("PERSON",)), segments, hit)
    assert (missed.expected, missed.expected_found) == (1, 0)


def test_shapes_never_hold_the_value():
    assert shape("13800138000") == "9{11}"
    assert shape("张三") == "字{2}"
    assert shape("") == ""


def test_tag_readers_make_spans_over_the_joined_text():
    text, spans = spans_of([("常", "B-NAME"), ("建", "M-NAME"), ("良", "E-NAME"), ("，", "O"), ("男", "S-NAME")], "", lambda t: "PERSON" if t == "NAME" else None)  # fmt: skip
    assert [text[s:e] for _, s, e in spans] == ["常建良", "男"]
    (framed, ((_entity, s, e),)), = read_address("浙 B-prov\n江 I-prov\n省 I-prov\n文 B-road\n三 I-road\n路 I-road\n90号 B-roadno\n张 B-person\n")  # fmt: skip
    assert framed[s:e] == "浙江省文三路90号"


def test_vendored_data_is_well_formed():
    texts = load_texts([DATA])
    names = {s.name for s in SOURCES if s.vendor}
    assert {t.source for t in texts} | {p.source for p in load_payloads([DATA])} == names
    for t in texts:
        assert t.text and t.lang in ("zh", "en")
        for entity, start, end in t.spans:
            assert entity in ENTITIES and 0 <= start < end <= len(t.text)
            assert t.text[start:end].strip() == t.text[start:end]
    payloads = load_payloads([DATA])
    assert {p.collection for p in payloads} == {"dev", "test"}
    dev = {p.source for p in payloads if p.collection == "dev"}
    assert dev and dev.isdisjoint({p.source for p in payloads if p.collection == "test"})
    assert sum(f.stat().st_size for f in DATA.rglob("*") if f.is_file()) <= 5_000_000


def test_har_requests_keep_headers_but_not_encodings_of_stored_bodies():
    har = {"log": {"entries": [{"request": {
        "method": "POST", "url": "https://x.test/a",
        "headers": [{"name": ":authority", "value": "x.test"},
                    {"name": "Content-Encoding", "value": "gzip"},
                    {"name": "User-Agent", "value": "curl/8"}],
        "postData": {"mimeType": "application/json", "text": "{\"a\": 1}"}}}]}}  # fmt: skip
    assert list(read_har(json.dumps(har))) == [
        ("POST", "https://x.test/a", "application/json", '{"a": 1}', (("User-Agent", "curl/8"),))
    ]
    assert list(read_har("not json")) == []


def test_a_later_data_folder_replaces_a_source_and_adds_labels(tmp_path):
    (tmp_path / "text").mkdir()
    row = {"id": "weibo-0000", "source": "weibo", "lang": "zh", "split": "test",
           "text": "见了张三。", "spans": [["PERSON", 2, 4]]}  # fmt: skip
    (tmp_path / "text" / "weibo.jsonl").write_text(json.dumps(row, ensure_ascii=False) + "\n")
    texts = load_texts([DATA, tmp_path], ["weibo"])
    assert [(t.id, t.text) for t in texts] == [("weibo-0000", "见了张三。")]
    assert {t.source for t in load_texts([DATA, tmp_path])} >= {"weibo", "wnut17", "ewt"}


def test_real_report_end_to_end_on_two_sources():
    """The whole --real path on vendored data; counts are facts of the data, not goals."""
    texts, clean = evaluate_real(["baomi"], {"baomi": baomi}, [DATA], ["weibo", "har"], "")
    # 270 test posts less the 41 that repeat a post of Weibo's TRAIN split (vendor.py)
    assert texts[0].groups["weibo"].tally("PERSON", "overlap").gold == 90
    assert texts[0].groups["weibo"].sentences == 229 == texts[0].groups["all"].sentences
    carriers = {f"carrier:{c}" for c in ("chat", "form", "mail", "llm")}
    assert set(texts[0].groups) == {"weibo", "zh", "all"} | carriers
    assert sum(texts[0].groups[c].sentences for c in carriers) == 229
    har = clean[0].groups["har"]
    assert (har.payloads + har.expected, clean[0].groups["test"].payloads) == (56, har.payloads)
    assert har.expected == 1 and "dev" not in clean[0].groups


@pytest.mark.parametrize(
    ("near", "errors"),
    [
        ([(4, 25)], ["runs on"]),
        ([(4, 15)], ["stops short"]),
        ([(6, 20)], ["starts late"]),
        ([(0, 22)], ["starts early", "runs on"]),
        ([(4, 9), (9, 20)], ["split"]),
    ],
)
def test_boundary_errors_of_near_misses(near, errors):
    assert boundary_errors((4, 20), near) == errors


def test_dev_sentences_are_scored_in_their_own_groups():
    dev = Text("a-1", "address_dev", "zh", "寄到文三路90号，谢谢", (("ADDRESS", 2, 8),), "dev")
    test = Text("a-2", "address", "zh", "寄到文三路91号，谢谢", (("ADDRESS", 2, 8),))
    samples = [wrap_text(t, i) for i, t in enumerate((dev, test))]

    def analyze(segments):  # one near miss in each: runs on into the comma
        return [Span("ADDRESS", i, s.text.find("文三路"), s.text.find("，") + 1)
                for i, s in enumerate(segments) if "文三路" in s.text], 0  # fmt: skip

    report = score_texts("x", analyze, samples)
    assert set(report.groups) == {
        "address_dev",
        "zh-dev",
        "address",
        "zh",
        "all",
        "carrier:form",
    }  # no zh-unseen: the rules were tuned on the address corpus's dev split
    assert report.groups["all"].sentences == 1 == report.groups["zh-dev"].sentences
    assert report.groups["zh-dev"].boundaries == {("ADDRESS", "runs on"): 1}
    assert report.groups["all"].tally("ADDRESS", "exact").found == 0
    assert report.groups["all"].tally("ADDRESS", "overlap").found == 1


def test_real_goal_misses_name_each_missed_figure():
    text, clean = TextReport("x"), CleanReport("x")
    person = text.group("zh").tally("PERSON", "overlap")
    person.tp, person.fp, person.gold, person.found = 9, 1, 10, 9  # P 0.9, R 0.9: met
    address = text.group("zh").tally("ADDRESS", "exact")
    address.tp, address.fp, address.gold, address.found = 8, 2, 10, 8
    english = text.group("en").tally("PERSON", "overlap")
    english.tp, english.gold, english.found = 5, 10, 5
    clean.group("test").add(CleanGroup(payloads=100, flagged=2))
    clean.group("dev").add(CleanGroup(payloads=100, flagged=50))  # dev is not a goal
    assert goal_misses(text, clean) == [
        "en PERSON recall 0.500 < 0.85",
        "zh ADDRESS precision 0.800 < 0.9",
        "zh ADDRESS recall 0.800 < 0.9",
        "clean test payloads flagged 0.020 > 0.01",
    ]
    clean.group("test").add(CleanGroup(payloads=100))
    assert goal_misses(None, clean) == []
    dev_only = TextReport("x")
    dev_only.group("zh-dev").tally("ADDRESS", "exact").gold = 5
    assert goal_misses(dev_only, None) is None


def test_address_sentences_count_names_as_other_not_against_person_precision():
    sample = wrap_text(_text("维修师傅明早到文三路90号", [("ADDRESS", 7, 13)], "address"), 2)
    at = sample.offset
    spans = [Span("PERSON", sample.segment, at + 2, at + 4), Span("ADDRESS", sample.segment, at + 7, at + 13)]  # fmt: skip
    group = score_sentence(sample, spans)
    assert group.other == Counter({"PERSON": 1})
    assert ("PERSON", "overlap") not in group.tallies
    assert group.tally("ADDRESS", "exact").tp == 1


def _conllu(*rows):
    return "\n".join("\t".join(r) for r in rows)


def test_gum_reader_names_neutral_mentions_and_possessives():
    block = "# text = The astronaut Ann Lee's dog met Bob and he left.\n" + _conllu(
        ("1", "The", "the", "DET", "DT", "_", "_", "_", "_", "Entity=(1-person-new"),
        ("2", "astronaut", "_", "NOUN", "NN", "_", "_", "_", "_", "_"),
        ("3", "Ann", "_", "PROPN", "NNP", "_", "_", "_", "_", "_"),
        ("4", "Lee", "_", "PROPN", "NNP", "_", "_", "_", "_", "Entity=1)(2-person-new"),
        ("5", "'s", "_", "PART", "POS", "_", "_", "_", "_", "Entity=2)"),
        ("6", "dog", "_", "NOUN", "NN", "_", "_", "_", "_", "_"),
        ("7", "met", "_", "VERB", "VBD", "_", "_", "_", "_", "_"),
        ("8", "Bob", "_", "PROPN", "NNP", "_", "_", "_", "_", "Entity=(3-person-new)"),
        ("9", "and", "_", "CCONJ", "CC", "_", "_", "_", "_", "_"),
        ("10", "he", "_", "PRON", "PRP", "_", "_", "_", "_", "Entity=(3-person-giv)"),
        ("11", "left", "_", "VERB", "VBD", "_", "_", "_", "_", "SpaceAfter=No"),
        ("12", ".", "_", "PUNCT", ".", "_", "_", "_", "_", "_"),
    )
    ((text, spans),) = list(read_gum(block))
    assert [(label, text[s:e]) for label, s, e in spans] == [
        ("NEUTRAL", "The astronaut Ann Lee"),
        ("PERSON", "Lee"),
        ("PERSON", "Bob"),
    ]


def test_a_prediction_on_a_neutral_mention_is_neither_hit_nor_false_hit():
    text = _text("The astronaut Ann Lee met Bob.", [("NEUTRAL", 0, 21), ("PERSON", 26, 29)], "gum", "en")  # fmt: skip
    sample = wrap_text(text, 0)

    def at(s, e):
        return Span("PERSON", sample.segment, sample.offset + s, sample.offset + e)

    group = score_sentence(sample, [at(14, 21), at(26, 29), at(4, 13)])  # Ann Lee, Bob, astronaut
    t = group.tally("PERSON", "overlap")
    assert (t.tp, t.fp, t.gold, t.found) == (1, 0, 1, 1)
    assert score_sentence(sample, [at(22, 25)]).tally("PERSON", "overlap").fp == 1  # "met"


@pytest.mark.parametrize(
    ("predicted", "overlap", "exact"),
    [
        ([Span("ADDRESS", 0, 2, 12)], (1, 0, 1), (1, 0, 1)),  # (tp, fp, found)
        ([Span("ADDRESS", 0, 2, 8)], (1, 0, 1), (0, 1, 0)),  # stops short
        ([Span("ADDRESS", 0, 2, 14)], (1, 0, 1), (0, 1, 0)),  # runs on
    ],
)
def test_generated_report_scores_addresses_with_exact_boundaries_apart(predicted, overlap, exact):
    sample = _sample("寄到杭州市文三路90号，谢谢", [Label("ADDRESS", "杭州市文三路90号")])
    gold = [Span("ADDRESS", 0, 2, 12)]
    report = score([sample], [gold], Run("x", [predicted], [0], 1.0, 1))
    for row, want in (("ADDRESS", overlap), ("ADDRESS/exact", exact)):
        t = report.entities[row]
        assert (t.tp, t.fp, t.found, t.gold) == (*want, 1)
    assert (report.overall.tp, report.overall.fp) == (1, 0)  # exact rows stay out of overall


@pytest.mark.parametrize("module", ["textreaders", "payloadreaders", "realscore"])
def test_bench_docstring_examples_hold(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"bench.quality.{module}"))
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize(
    ("source", "unseen"),
    [("resume", True), ("msra", False), ("address", False), ("gsd", False), ("weibo", False)],
)
def test_unseen_means_neither_trained_nor_tuned_on(source, unseen):
    """People's Daily (msra) and the address corpus: their dev splits were looked at while
    tuning the rules (bench/quality/SOURCES.md), so they are not unseen."""
    sample = wrap_text(_text("见了张三。", [("PERSON", 2, 4)], source, "zh"), 0)
    report = score_texts("x", lambda segments: ([], 0), [sample])
    assert ("zh-unseen" in report.groups) is unseen


def test_address_not_measured_is_said_per_language(capsys):
    from bench.quality.realtable import print_texts

    samples = [wrap_text(_text("见了张三。", [("PERSON", 2, 4)], "weibo", "zh"), 0),
               wrap_text(_text("I met Ann Lee.", [("PERSON", 6, 13)], "wnut17", "en"), 1)]
    print_texts([score_texts("x", lambda segments: ([], 0), samples)])
    out = capsys.readouterr().out
    assert "zh: ADDRESS: not measured (no local copy)" in out
    assert "en: ADDRESS: not measured (no English address corpus)" in out


def _report_with(**tallies):
    report = score([], [], Run("x", [], [], 1.0, 1))
    for name, (tp, fp, gold, found) in tallies.items():
        report.entities[name.replace("_exact", "/exact")] = Tally(tp, fp, gold, found)
    return report


def test_generated_goals_are_issue_13s():
    good = dict(PERSON=(95, 5, 100, 95), ADDRESS_exact=(90, 10, 100, 90), CN_RESIDENT_ID=(99, 0, 100, 99),
                CREDIT_CARD=(99, 0, 100, 99), PHONE_NUMBER_mobile=(99, 0, 100, 99))  # fmt: skip
    good = {k.replace("_mobile", "/mobile"): v for k, v in good.items()}
    report = _report_with(**good)
    report.overall = Tally(1000, 0, 1000, 970)  # F2 0.976
    assert goal_failures(report) == []
    report.entities["PERSON"] = Tally(94, 6, 100, 94)
    report.entities["ADDRESS/exact"] = Tally(89, 11, 100, 89)
    report.overall = Tally(1000, 0, 1000, 960)  # F2 0.968
    report.pii_free, report.flagged = 1000, 16
    assert goal_failures(report) == [
        "PERSON precision 0.940 < 0.95",
        "PERSON recall 0.940 < 0.95",
        "ADDRESS/exact precision 0.890 < 0.9",
        "ADDRESS/exact recall 0.890 < 0.9",
        "overall F2 0.968 < 0.97",
        "PII-free flagged 0.016 > 0.01",
    ]


# --- the tuning set (score.py --real --split tune): held-out slices of TRAIN splits only


def test_tune_slice_is_the_one_the_training_recipe_keeps_out():
    """Same sentences as train._add's held-out DocBin (the recipe's own code decides)."""
    import spacy
    from spacy.tokens import DocBin

    from bench.quality.tune import held_out
    from detectors import ner_tokens
    from detectors.training import train

    found = [(f"句子{i}号", []) for i in range(3 * train.HOLD_OUT + 5)]
    trained, held = DocBin(), DocBin()
    tokenizer = ner_tokens.NerTokenizer(spacy.blank("xx").vocab)
    train._add(found, "", tokenizer, trained, held)
    kept_out = [doc.text for doc in held.get_docs(tokenizer.vocab)]
    assert [text for text, _ in held_out(found)] == kept_out
    assert len(kept_out) == 3
    assert set(kept_out).isdisjoint(doc.text for doc in trained.get_docs(tokenizer.vocab))


def test_tune_texts_keep_persons_of_the_held_out_sentences_only(monkeypatch):
    from bench.quality import tune
    from detectors.training import corpora, train

    rows = [(f"张三{i}说", [(0, 2, "PERSON"), (2, 3, "LOC")]) for i in range(2 * train.HOLD_OUT)]
    monkeypatch.setattr(corpora, "sentences", lambda source, root: iter(rows))
    monkeypatch.setattr(corpora, "gum_sentences", lambda source, root: iter(()))
    monkeypatch.setattr(tune, "evaluation_keys", lambda root: frozenset())
    texts = tune.tune_texts(Path("/nowhere"), sources=("weibo_tune", "btc_tune"))
    assert [(t.id, t.source, t.lang, t.split) for t in texts] == [
        ("weibo_tune-0000", "weibo_tune", "zh", "tune"),
        ("weibo_tune-0001", "weibo_tune", "zh", "tune"),
        ("btc_tune-0000", "btc_tune", "en", "tune"),
        ("btc_tune-0001", "btc_tune", "en", "tune"),
    ]
    assert texts[0].text == rows[train.HOLD_OUT - 1][0] and texts[1].text == rows[-1][0]
    assert {t.spans for t in texts} == {(("PERSON", 0, 2),)}  # LOC is not scored


def test_tune_slice_drops_sentences_trained_on_or_evaluated_and_keeps_the_rest(monkeypatch):
    """Held-out sentences that repeat a trained sentence (other case, spacing, full-width
    punctuation) or a dev/test sentence are dropped; the others stay, ids unchanged."""
    import spacy
    from spacy.tokens import DocBin

    from bench.quality import seen, tune
    from detectors import ner_tokens
    from detectors.training import corpora, train

    found = [(f"句子{i}号", []) for i in range(4 * train.HOLD_OUT)]
    found[3] = ("转发微博 张三", [])  # trained on
    found[train.HOLD_OUT - 1] = ("转发微博，张三！", [(5, 7, "PERSON")])  # held out: the same
    found[2 * train.HOLD_OUT - 1] = ("测试集的句子", [])  # held out, also a test sentence
    monkeypatch.setattr(corpora, "sentences", lambda source, root: iter(found))
    monkeypatch.setattr(corpora, "gum_sentences", lambda source, root: iter(()))
    monkeypatch.setattr(tune, "evaluation_keys", lambda root: frozenset({"测试集的句子"}))
    texts = tune.tune_texts(Path("/nowhere"), sources=("weibo_tune",))
    held = [text for text, _ in tune.held_out(found)]
    assert [t.text for t in texts] == held[2:]
    assert [t.id for t in texts] == ["weibo_tune-0002", "weibo_tune-0003"]
    # the dropped one really is in what the recipe trains on (its own _add decides)
    trained, kept_out = DocBin(), DocBin()
    tokenizer = ner_tokens.NerTokenizer(spacy.blank("xx").vocab)
    train._add(found, "", tokenizer, trained, kept_out)
    trained_keys = {seen.key(doc.text) for doc in trained.get_docs(tokenizer.vocab)}
    assert seen.key(held[0]) in trained_keys and held[0] not in trained_keys
    assert seen.key(held[2]) not in trained_keys


def test_vendor_drops_sampled_sentences_seen_in_training_and_keeps_the_other_ids():
    from bench.quality import seen, vendor

    class Mirror:
        def paths(self, patterns):
            return [patterns]

        def read(self, path):
            return "Thank\tO\nyou\tO\n.\tO\n\nAnn\tB-person\nsaid\tO\nso\tO\n\nYes\tO\n.\tO\n"

    source = vendor.BY_NAME["wnut17"]
    trained = seen.keys(["thank you!", "Yes"])
    rows, dropped = vendor.unseen_records(source, Mirror(), 0, trained)  # type: ignore[arg-type]
    assert dropped == 2
    assert [(r["id"], r["text"], r["spans"]) for r in rows] == [
        ("wnut17-0001", "Ann said so", [["PERSON", 0, 3]])
    ]
    assert len(vendor.records(source, Mirror(), 0)) == 3  # type: ignore[arg-type]


def test_tune_gum_mentions_with_common_nouns_are_neutral(monkeypatch):
    """GUM's train documents are labelled as its test split is: ``the astronaut Charles
    Bolden`` is NEUTRAL there, not an unlabelled sentence where a found name is a false hit."""
    from bench.quality import tune
    from detectors.training import corpora, train

    text = "the astronaut Charles Bolden’s talk"
    found = [("x", [])] * (train.HOLD_OUT - 1) + [("the astronaut Charles Bolden ’s talk", [])]
    monkeypatch.setattr(corpora, "gum_sentences", lambda source, root: iter(found))
    monkeypatch.setattr(corpora, "sentences", lambda source, root: iter(()))
    monkeypatch.setattr(tune, "evaluation_keys", lambda root: frozenset())
    labels = {tune.unspaced(text): (text, [["NEUTRAL", 0, 28]])}
    monkeypatch.setattr(tune, "gum_labels", lambda root: labels)
    [only] = tune.tune_texts(Path("/nowhere"), sources=("gum_tune",))
    assert (only.text, only.spans, only.lang) == (text, (("NEUTRAL", 0, 28),), "en")


def test_tune_addresses_come_from_the_train_file_in_dev_frames(monkeypatch):
    from bench.quality import tune
    from bench.quality.textreaders import DEV_FRAMES, TEST_FRAMES

    query = "浙 B-prov\n江 I-prov\n省 I-prov\n文 B-road\n三 I-road\n路 I-road\n9 B-roadno\n0 I-roadno\n号 I-roadno\n"  # fmt: skip
    read: list[str] = []

    class Mirror:
        def __init__(self, root, source):
            assert source.path == "data/train.txt" and not source.vendor

        def paths(self, patterns):
            return [patterns]

        def read(self, path):
            read.append(path)
            return query

    monkeypatch.setattr(tune.vendor, "Mirror", Mirror)
    monkeypatch.setattr(tune, "seen_keys", lambda root: frozenset())
    [text] = tune.tune_texts(Path("/nowhere"), sources=("addr_tune",))
    assert read == ["data/train.txt"] and (text.source, text.split) == ("addr_tune", "tune")
    start, end = text.spans[0][1:]
    assert text.text[start:end] == "浙江省文三路90号"
    assert (text.text[:start], text.text[end:]) in DEV_FRAMES
    assert (text.text[:start], text.text[end:]) not in TEST_FRAMES


def test_tune_sentences_are_scored_in_their_own_groups(monkeypatch):
    from bench.quality import tune

    tuned = Text("a-1", "addr_tune", "zh", "寄到文三路90号，谢谢", (("ADDRESS", 2, 8),), "tune")
    monkeypatch.setattr(tune, "tune_texts", lambda sources=(): [tuned])

    def analyze(segments):
        return [Span("ADDRESS", i, s.text.find("文三路"), s.text.find("，"))
                for i, s in enumerate(segments) if "文三路" in s.text], 0  # fmt: skip

    texts, clean = evaluate_real(["x"], {"x": analyze}, [DATA], [], "tune")
    assert clean == []  # no clean payloads to tune on
    assert set(texts[0].groups) == {"addr_tune", "zh-tune"}
    assert texts[0].groups["zh-tune"].tally("ADDRESS", "exact").found == 1
    assert goal_misses(texts[0], None) is None  # a tuning figure is never a goal figure


# --- the Chinese tuning sources: seeded samples of TRAIN splits the model never reads


def _tune_sample(read):
    from bench.quality.tune import Sample

    return Sample("cluener_tune", "o/r", "0" * 40, "train.json", "none stated", 3, read)


def test_tune_samples_are_seeded_deduplicated_and_drop_evaluation_sentences():
    import random

    from bench.quality import seen, tune

    rows = [(f"张{i}说话", [["PERSON", 0, 2]]) for i in range(8)]
    rows.insert(4, ("张1说话！", [["PERSON", 0, 2]]))  # the same sentence again: drawn once
    sample = _tune_sample(lambda root: rows)
    drawn = sorted(random.Random("cluener_tune").sample(range(8), 3))
    assert [t.text for t in tune.sample_texts(sample, Path("/nowhere"))] == [
        f"张{i}说话" for i in drawn
    ]
    excluded = seen.keys([f"张{drawn[1]}说话"])
    texts = tune.sample_texts(sample, Path("/nowhere"), excluded)
    assert [t.id for t in texts] == ["cluener_tune-0000", "cluener_tune-0002"]  # a gap
    assert {(t.source, t.lang, t.split, t.spans) for t in texts} == {
        ("cluener_tune", "zh", "tune", (("PERSON", 0, 2),))
    }


def test_tune_chinese_sources_are_train_splits_never_evaluated_and_not_resume():
    from bench.quality import tune, vendor
    from detectors.training import corpora

    assert set(tune.SAMPLES) == {"msra_tune", "cluener_tune", "multiconer_tune"}
    assert set(tune.SAMPLES) <= set(tune.NAMES)
    assert not set(tune.SAMPLES) & set(vendor.BY_NAME)  # never in zh / en / all
    # MSRA's "val" is a seeded slice of its train file (NER-BERT-pytorch's split script)
    assert {s.path.rpartition("/")[2] for s in tune.SAMPLES.values()} == {
        "{sentences,tags}.txt", "train.json", "zh-train.conll"
    }
    assert corpora.MULTICONER_ZH not in corpora.SOURCES  # the shipped model never read it


def test_tune_multiconer_keeps_persons_only(monkeypatch):
    from bench.quality import tune
    from detectors.training import corpora

    rows = [("朴槿惠领导新国家党.", [(0, 3, "PERSON"), (5, 9, "ORG")])]
    monkeypatch.setattr(corpora, "sentences", lambda source, root: iter(rows))
    [text] = tune.sample_texts(tune.SAMPLES["multiconer_tune"], Path("/nowhere"))
    assert (text.text, text.spans) == (rows[0][0], (("PERSON", 0, 3),))


def test_tune_cluener_reads_pretty_printed_objects_and_only_names():
    from bench.quality.tune import read_cluener

    pretty = json.dumps({"text": "浙商银行叶老桂说", "label": {"company": {"浙商银行": [[0, 3]]},
                         "name": {"叶老桂": [[4, 6]]}}}, ensure_ascii=False, indent=2)  # fmt: skip
    line = json.dumps({"text": "游戏", "label": {"game": {"游戏": [[0, 1]]}}}, ensure_ascii=False)
    assert list(read_cluener(pretty + "\n" + line + "\n")) == [
        ("浙商银行叶老桂说", [["PERSON", 4, 7]]),
        ("游戏", []),
    ]


def test_tune_chinese_samples_are_scored_in_zh_tune_only(monkeypatch):
    from bench.quality import tune

    tuned = Text("msra_tune-0000", "msra_tune", "zh", "王小明说", (("PERSON", 0, 3),), "tune")
    monkeypatch.setattr(tune, "tune_texts", lambda sources=(): [tuned])

    def analyze(segments):
        return [Span("PERSON", i, s.text.find("王小明"), s.text.find("王小明") + 3)
                for i, s in enumerate(segments) if "王小明" in s.text], 0  # fmt: skip

    texts, _ = evaluate_real(["x"], {"x": analyze}, [DATA], [], "tune")
    assert set(texts[0].groups) == {"msra_tune", "zh-tune"}
    assert texts[0].groups["zh-tune"].tally("PERSON", "overlap").found == 1


def test_tune_wikigold_is_read_whole_by_the_recipe_reader_and_never_trained_on(monkeypatch):
    """WikiGold (the shipped model never reads it) is a tuning source in full, not a
    held-out slice; its persons come through the recipe's own CoNLL reader."""
    from bench.quality import tune, vendor
    from detectors.training import corpora

    lines = ["-DOCSTART- O", "", "Founding O", "member O", "Kojima I-PER", "Minoru I-PER",
             "played O", "in O", "Osaka I-LOC", ". O", "", "It O", "sold O", ". O"]  # fmt: skip
    monkeypatch.setattr(corpora, "read_lines", lambda source, root: lines)
    monkeypatch.setattr(tune, "seen_keys", lambda root: frozenset({"itsold"}))
    texts = tune.tune_texts(Path("/nowhere"), sources=("wikigold_tune",))
    assert [(t.id, t.text, t.spans, t.lang, t.split) for t in texts] == [
        ("wikigold_tune-0000", "Founding member Kojima Minoru played in Osaka.",
         (("PERSON", 16, 29),), "en", "tune"),
    ]  # fmt: skip
    assert corpora.WIKIGOLD not in corpora.SOURCES  # the model's TRAIN sources
    assert not any(s.name.startswith("wikigold") for s in vendor.SOURCES)  # no dev/test group
