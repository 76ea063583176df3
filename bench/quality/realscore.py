"""Score engines on real labelled text and real clean payloads (``score.py --real``).

Matching, per sentence, inside the segment that carries it (what the wrapper adds
around the sentence is not scored): a prediction is an *exact* hit when a gold span
of its entity has the same start and end, an *overlap* hit when it shares a
character with one. Recall counts gold spans found by such a prediction. A
prediction that touches only NEUTRAL spans (mentions a corpus leaves undecided,
e.g. GUM's ``the astronaut Charles Bolden``) counts neither way. PERSON is
headlined with overlap, ADDRESS with exact boundaries; both rules are reported.
A source scores only the entities it labels (``LABELLED``); other personal-data
findings in its sentences are counted as "other". Groups: each source, each
language (its sources summed), each language over the sources neither trained on (by
the NER model) nor tuned on (by the rules) (``zh-unseen``, ``en-unseen``), all, and
(``--json`` only) each carrier
(chat, form, mail, llm) over all test sentences.

Clean payloads: a payload is *flagged* when any customer-data finding (an entity of
the default policy's ``customer-data`` group, score >= threshold) is raised anywhere in
it; *any* counts every finding (IP addresses, company codes, document markers too).
Finding classes are published as entity, field path and the value's shape (``A9{8}``),
never the value.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.quality.real import Payload, RealSample
from bench.quality.score import SCORED, Analyze, Span, Tally
from detectors.errors import DetectionFailed
from detectors.model import Segment
from policies.load import load_policy
from proxy.extraction.extract import Limits, extract

DEFAULT_POLICY = Path(__file__).resolve().parents[2] / "policies" / "default.yaml"
CUSTOMER_DATA = load_policy(DEFAULT_POLICY).entity_groups["customer-data"]
# The address sources label addresses only: their sentences are ours (textreaders' frames), so a
# name found in them is counted as "other", not against PERSON precision.
LABELLED = {"address": ("ADDRESS",), "address_dev": ("ADDRESS",), "addr_tune": ("ADDRESS",)}  # others: PERSON only
HEADLINE = {"PERSON": "overlap", "ADDRESS": "exact"}
# Corpora whose TRAIN split the shipped NER model learns from (detectors/training/SOURCES.md):
# their test splits are in-domain for it. "<lang>-unseen" groups sum the other sources.
MODEL_CORPORA = frozenset({"weibo", "wnut17", "gsd", "gum"})
# Corpora whose DEV split the rules were tuned looking at, against the rule that dev and test
# splits are never for tuning (PERSON: People's Daily dev sentences, a08fdb6; ADDRESS: the
# address-parsing dev split, 99f8bec ba3a58a 6ad65e1 46b716a): their test splits are not
# unseen either. "<lang>-unseen" groups sum the sources in neither set.
TUNED_CORPORA = frozenset({"msra", "address"})


def labelled(source: str) -> tuple[str, ...]:
    return LABELLED.get(source, ("PERSON",))


def shape(value: str) -> str:
    """A value's character classes with run lengths: never the value itself.

    >>> shape("E00000000"), shape("Idempotency-Key"), shape("司副总")
    ('A9{8}', 'Aa{10}-Aa{2}', '字{3}')
    """

    def cls(c: str) -> str:
        if c.isdigit():
            return "9"
        if c.isascii() and c.isalpha():
            return "A" if c.isupper() else "a"
        return "字" if c.isalpha() else c

    out, previous, run = [], "", 0
    for c in map(cls, value) if value else ():
        if c == previous:
            run += 1
            continue
        if previous:
            out.append(previous + (f"{{{run}}}" if run > 1 else ""))
        previous, run = c, 1
    if previous:
        out.append(previous + (f"{{{run}}}" if run > 1 else ""))
    return "".join(out)


def field_path(location: str) -> str:
    """``json:$.items[3].name`` -> ``json:$.items[].name`` (a class, not one payload)."""
    return re.sub(r"\[\d+\]", "[]", location)


@dataclass
class TextGroup:
    tallies: dict[tuple[str, str], Tally] = field(default_factory=dict)  # (entity, rule)
    sentences: int = 0
    other: Counter = field(default_factory=Counter)  # entity -> findings the sources do not label
    failed: int = 0  # sentences whose detection raised
    # (entity, how a near miss is off): "runs on", "stops short", "starts early", "starts late"
    boundaries: Counter = field(default_factory=Counter)

    def tally(self, entity: str, rule: str) -> Tally:
        return self.tallies.setdefault((entity, rule), Tally())

    def headline(self) -> Tally:
        total = Tally()
        for (entity, rule), t in self.tallies.items():
            if HEADLINE.get(entity) == rule:
                total.add(t)
        return total

    def add(self, other: TextGroup) -> None:
        self.sentences += other.sentences
        self.other.update(other.other)
        self.failed += other.failed
        self.boundaries.update(other.boundaries)
        for key, t in other.tallies.items():
            self.tally(*key).add(t)


def analyze_or_fail(analyze: Analyze, segments: Sequence[Segment]) -> tuple[list[Span], int, bool]:
    """Spans, other findings, and whether detection failed (the proxy would apply its
    failure action; here it finds nothing, and the failure is counted and printed)."""
    try:
        spans, other = analyze(segments)
    except DetectionFailed:
        return [], 0, True
    return spans, other, False


def boundary_errors(gold: tuple[int, int], near: Sequence[tuple[int, int]]) -> list[str]:
    """How the overlapping predictions miss ``gold``'s edges (taken together).

    >>> boundary_errors((4, 20), [(4, 25)]), boundary_errors((4, 20), [(2, 9), (9, 16)])
    (['runs on'], ['starts early', 'stops short'])
    """
    start, end = min(p[0] for p in near), max(p[1] for p in near)
    errors = ["starts early"] if start < gold[0] else ["starts late"] if start > gold[0] else []
    errors += ["runs on"] if end > gold[1] else ["stops short"] if end < gold[1] else []
    return errors or ["split"]  # edges right, but in several pieces


def in_sentence(sample: RealSample, spans: Sequence[Span]) -> list[Span]:
    end = sample.offset + len(sample.text.text)
    return [
        s for s in spans if s.segment == sample.segment and s.start < end and s.end > sample.offset
    ]


def score_sentence(sample: RealSample, spans: Sequence[Span]) -> TextGroup:
    """One sentence's tallies (predictions already cut to the sentence)."""
    group = TextGroup(sentences=1)
    entities = labelled(sample.text.source)
    neutral = [(s, t) for e, s, t in sample.gold if e == "NEUTRAL"]
    for entity in entities:
        gold = [(s, t) for e, s, t in sample.gold if e == entity]
        predicted = [(p.start, p.end) for p in spans if p.entity == entity]
        predicted = [p for p in predicted if not _only_neutral(p, gold, neutral)]
        exact, overlap = group.tally(entity, "exact"), group.tally(entity, "overlap")
        for p in predicted:
            hit = p in gold
            exact.tp, exact.fp = exact.tp + hit, exact.fp + (not hit)
            near = any(p[0] < t and s < p[1] for s, t in gold)
            overlap.tp, overlap.fp = overlap.tp + near, overlap.fp + (not near)
        for g in gold:
            exact.gold += 1
            overlap.gold += 1
            exact.found += g in predicted
            near = [p for p in predicted if p[0] < g[1] and g[0] < p[1]]
            overlap.found += bool(near)
            if near and g not in predicted:
                group.boundaries.update((entity, kind) for kind in boundary_errors(g, near))
    group.other = Counter(
        p.entity for p in spans if p.entity in SCORED and p.entity not in entities
    )
    return group


def _only_neutral(p: tuple[int, int], gold: Sequence[tuple[int, int]], neutral: Sequence[tuple[int, int]]) -> bool:  # fmt: skip
    """A prediction on a NEUTRAL span (a mention the corpus leaves undecided) that touches
    no gold span: neither a hit nor a false hit."""

    def touches(spans: Sequence[tuple[int, int]]) -> bool:
        return any(p[0] < t and s < p[1] for s, t in spans)

    return touches(neutral) and not touches(gold)


@dataclass
class TextReport:
    engine: str
    groups: dict[str, TextGroup] = field(default_factory=dict)  # source, "zh", "en", "all"

    def group(self, name: str) -> TextGroup:
        return self.groups.setdefault(name, TextGroup())


def score_texts(engine: str, analyze: Analyze, samples: Sequence[RealSample]) -> TextReport:
    report = TextReport(engine)
    for sample in samples:
        spans, _, failed = analyze_or_fail(analyze, sample.segments)
        one = score_sentence(sample, in_sentence(sample, spans))
        one.failed = int(failed)
        test = sample.text.split == "test"
        names = (sample.text.source, sample.text.lang, "all", f"carrier:{sample.carrier}") if test else (sample.text.source, f"{sample.text.lang}-{sample.text.split}")  # fmt: skip
        if test and sample.text.source not in MODEL_CORPORA | TUNED_CORPORA:
            names += (f"{sample.text.lang}-unseen",)
        for name in names:
            report.group(name).add(one)
    return report


@dataclass
class CleanGroup:
    payloads: int = 0
    flagged: int = 0  # clean payloads with a customer-data finding
    flagged_any: int = 0  # clean payloads with any finding at all
    failed: int = 0  # payloads whose detection raised
    expected: int = 0  # payloads kept with example personal data, labelled
    expected_found: int = 0
    classes: Counter = field(default_factory=Counter)  # (entity, field path, shape)

    @property
    def share(self) -> float:
        return self.flagged / self.payloads if self.payloads else 0.0

    def add(self, other: CleanGroup) -> None:
        self.payloads += other.payloads
        self.flagged += other.flagged
        self.flagged_any += other.flagged_any
        self.failed += other.failed
        self.expected += other.expected
        self.expected_found += other.expected_found
        self.classes.update(other.classes)


@dataclass
class CleanReport:
    engine: str
    groups: dict[str, CleanGroup] = field(default_factory=dict)  # source, "dev", "test"

    def group(self, name: str) -> CleanGroup:
        return self.groups.setdefault(name, CleanGroup())


def score_payload(
    payload: Payload, segments: Sequence[Segment], spans: Sequence[Span], other: int = 0
) -> CleanGroup:
    """One payload's contribution: flagged (clean) or found (labelled with examples).
    ``other``: how many findings the engine raised that ``spans`` leaves out."""
    group = CleanGroup()
    found = [s for s in spans if s.entity in CUSTOMER_DATA]
    if payload.expected:
        group.expected = 1
        group.expected_found = int(set(payload.expected) <= {s.entity for s in found})
        return group
    group.payloads, group.flagged = 1, int(bool(found))
    group.flagged_any = int(bool(spans) or other > 0)
    for s in found:
        segment = segments[s.segment]
        value = segment.text[s.start : s.end]
        group.classes[(s.entity, field_path(segment.location), shape(value))] += 1
    return group


def score_payloads(engine: str, analyze: Analyze, payloads: Sequence[Payload]) -> CleanReport:
    report = CleanReport(engine)
    for payload in payloads:
        segments = extract(payload.request, Limits()).segments
        spans, other, failed = analyze_or_fail(analyze, segments)
        one = score_payload(payload, segments, spans, other)
        one.failed = int(failed)
        for name in (payload.source, payload.collection):
            report.group(name).add(one)
    return report


# Issue 13's goals on real data: (group, entity) -> (precision, recall); clean test share.
GOALS = {("zh", "PERSON"): (0.90, 0.90), ("en", "PERSON"): (0.90, 0.85), ("zh", "ADDRESS"): (0.90, 0.90)}  # fmt: skip
CLEAN_GOAL = 0.01


def goal_misses(text: TextReport | None, clean: CleanReport | None) -> list[str] | None:
    """Issue 13's real-data goals that a report misses (a bench figure, never a test);
    None when the report holds no test data to measure them on."""
    measured = any(g in text.groups for g, _ in GOALS) if text else False
    if not measured and not (clean and "test" in clean.groups):
        return None
    misses = []
    for (name, entity), (precision, recall) in GOALS.items() if text else ():
        group = text.groups.get(name) if text else None
        t = group.tally(entity, HEADLINE[entity]) if group else None
        if t is None or not t.gold:
            continue
        if t.precision < precision:
            misses.append(f"{name} {entity} precision {t.precision:.3f} < {precision}")
        if t.recall < recall:
            misses.append(f"{name} {entity} recall {t.recall:.3f} < {recall}")
    test = clean.groups.get("test") if clean else None
    if test and test.payloads and test.share > CLEAN_GOAL:
        misses.append(f"clean test payloads flagged {test.share:.3f} > {CLEAN_GOAL}")
    return misses


def evaluate_real(
    engines: Sequence[str],
    analyzers: dict[str, Analyze],
    folders: Sequence,
    sources: Sequence[str],
    split: str,
) -> tuple[list[TextReport], list[CleanReport]]:
    """Both halves for each engine; ``split`` picks the clean collection ("dev", "test", "" both);
    "tune" is text only: the held-out slices of TRAIN splits (``tune.py``), read from the mirrors."""
    from bench.quality.real import load_payloads, load_texts, wrap_text

    if split == "tune":
        from bench.quality.tune import tune_texts

        texts = tune_texts(sources=sources)
    else:
        texts = load_texts(folders, sources, split)
    samples = [wrap_text(t, i) for i, t in enumerate(texts)]
    payloads = load_payloads(folders, sources, split)
    texts = [score_texts(e, analyzers[e], samples) for e in engines] if samples else []
    clean = [score_payloads(e, analyzers[e], payloads) for e in engines] if payloads else []
    return texts, clean
