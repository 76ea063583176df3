"""The detection engine: segments in, findings out.

    det = Detector(DetectorConfig())           # slow part, once at start-up
    det.analyze([Segment("13800138000", "json:$.phone", ("phone",))])
    -> [Finding('PHONE_NUMBER', 0.80, 0, 11, 'json:$.phone', '138********')]

Per segment: normalise (NFKC, invisible characters out) -> prefilter (which
entities are possible at all; none -> skip) -> Presidio ``AnalyzerEngine``
restricted to those entities, over <= 8 KB windows, with the segment's field
names as context -> offsets mapped back to the original text -> allow-listed
values dropped. The NER model reads a request's prose windows in one batch, each
window at most once lately (``detectors.ner_cache``). Every segment is also scanned for dictionary terms and
deny-listed values (``detectors.dictionary``, score 1.0). With an Exact Data
Match index, strong fields of a known customer seen with a second field of the
same customer add a CUSTOMER_RECORD finding (``detectors.edm``). Any error
raises ``DetectionFailed`` (the proxy applies the policy's failure action); its
message never holds the text analysed.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator, Sequence

from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerRegistry, RecognizerResult

from detectors.batch import SegmentSelector, person_context
from detectors.config import DetectorConfig
from detectors.context import FieldContextEnhancer, LazyArtifacts
from detectors.dictionary import MARKER, value_form
from detectors.errors import DetectionFailed
from detectors.model import Finding, Segment
from detectors.ner_cache import NerCache
from detectors.nlp import TokenNlpEngine, load_ner
from detectors.normalize import Normalized, normalize
from detectors.prefilter import worth_ner
from detectors.recognizers import RECOGNIZERS
from detectors.recognizers.base import LANGUAGE
from detectors.recognizers.person import novel_names
from detectors.windows import windows

RECOGNIZED = frozenset(r.ENTITY for r in RECOGNIZERS)
EDM_ENTITY = "CUSTOMER_RECORD"
# Found without Presidio: dictionary labels (detectors.dictionary) and exact matches (detectors.edm).
ENTITIES = RECOGNIZED | {MARKER, EDM_ENTITY}
CONTEXT_WORDS = {r.ENTITY: tuple(w.lower() for w in r.CONTEXT) for r in RECOGNIZERS}
# When two entities claim the same span with the same score, the stricter
# check wins: an 18-digit resident ID (date + MOD 11-2) over a Luhn card.
PRIORITY = ("CN_RESIDENT_ID", "CN_USCC", "IBAN_CODE", "CREDIT_CARD", "CN_PASSPORT", "PHONE_NUMBER")
# The NER model reads at most this much prose (UTF-8 bytes of its windows) per request; the
# rest is read by the rules only. Measured on the 2-core box (loaded): the model reads ~70
# KB/s of Chinese prose and ~200 KB/s of English, so 32 KiB costs it <= ~0.5 s, well under
# the 5 s detection timeout (a 470 KB prose body took 14.6 s with the whole body read).
NER_MAX_BYTES = 32 * 1024
LOG = logging.getLogger(__name__)
# One value of every kind, for ``Detector.warm_up``: the first time a recognizer meets its
# kind of value, a library sets itself up (phonenumbers compiles its metadata's regexes,
# jieba loads its tagger, the model allocates), and that should not be a request's. Measured
# (model off): the first 55 bench payloads cost ~15 ms more than the same again; warm_up ~25 ms.
WARM_UP = (
    Segment("手机 13800138000，座机 010-62345678，+1 415-555-0132，+44 20 7946 0958", "warm-up",
            ("phone",)),
    Segment("身份证 11010519491231002X 护照 E12345678 卡号 6222021234567890128 "
            "信用代码 91350100M000100Y43", "warm-up", ("id",)),
    Segment("jane.doe@example.com 192.168.1.20 fe80::1 DE89 3704 0044 0532 0130 00", "warm-up",
            ()),
    Segment("收件人：王小明 上海市浦东新区张江路88号3栋1203室", "warm-up", ("address",)),
    Segment("Ship to Mr. John Smith, 1600 Amphitheatre Parkway, Mountain View, CA 94043",
            "warm-up", ("name",)),
    Segment("会议纪要由赵志刚整理，周一发给全组。I met Alice Walker yesterday to go over the "
            "numbers. 机密", "warm-up", ()),
)


def load_recognizer(spec: str) -> EntityRecognizer:
    """``"package.module:ClassName"`` -> an instance (no arguments)."""
    module_name, _, class_name = spec.partition(":")
    if not module_name or not class_name:
        raise ValueError(f"extra recognizer {spec!r}: expected 'module:Class'")
    recognizer_class = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(recognizer_class, type) and issubclass(recognizer_class, EntityRecognizer)):
        raise TypeError(f"extra recognizer {spec!r}: not a presidio EntityRecognizer subclass")
    return recognizer_class()  # type: ignore[call-arg]  # no-argument classes


class Detector:
    """Build once, then ``analyze`` many times. Not thread-safe (one per worker process)."""

    def __init__(self, config: DetectorConfig = DetectorConfig()) -> None:
        self.config = config
        extra = [load_recognizer(spec) for spec in config.extra_recognizers]
        for recognizer in extra:
            if LANGUAGE not in recognizer.supported_language:
                raise ValueError(
                    # mypy cannot infer presidio's conditionally set name (has-type)
                    f"extra recognizer {recognizer.name}: "  # type: ignore[has-type]
                    f"language must be {LANGUAGE!r}"
                )
        # Admins' recognizers have no prefilter signal: they see every segment.
        self.always = frozenset(e for r in extra for e in r.supported_entities)
        wanted = config.entities if config.entities is not None else ENTITIES | self.always
        unknown = wanted - ENTITIES - self.always
        if unknown:
            raise ValueError(f"unknown entities: {sorted(unknown)}")
        denied = frozenset(entity for entity, _ in config.deny_values)
        if denied - ENTITIES - self.always:
            raise ValueError(f"deny_values for unknown entities: {sorted(denied - ENTITIES)}")
        self.entities = frozenset(wanted) | denied  # a listed value is wanted whatever else is
        self.always &= self.entities
        self.analyzer = self._build_analyzer(extra)
        self.allow = frozenset(value_form(v) for v in config.allow_values)
        # A value both allowed and denied is reported: fail closed.
        self.deny = frozenset(value_form(v) for _, values in config.deny_values for v in values)
        # The proxy selects segments with the same selector (SegmentSelector.for_config).
        self.selector = SegmentSelector.for_config(config, self.entities, bool(self.always))
        self.prefilter, self.dictionary = self.selector.prefilter, self.selector.dictionary
        self.edm = self._load_edm()
        self.ner_max_bytes = NER_MAX_BYTES
        self.ner_skipped_bytes = 0  # prose bytes the model did not read (over budget), ever
        self.ner_cache = NerCache()  # windows read lately: not read again (detectors.ner_cache)

    def _load_edm(self):
        config = self.config
        if (config.edm_index is None) != (config.edm_key_file is None):
            raise ValueError("edm needs both an index and a key file")
        if config.edm_index is None or EDM_ENTITY not in self.entities:
            return None
        from pathlib import Path

        from detectors.edm import EdmIndex  # numpy and the index only when configured

        assert config.edm_key_file is not None
        return EdmIndex.open(Path(config.edm_index), Path(config.edm_key_file))

    def _build_analyzer(self, extra: list[EntityRecognizer]) -> AnalyzerEngine:
        import jieba

        jieba.setLogLevel(60)  # jieba prints its dictionary loading at INFO
        jieba.initialize()
        ours: list[EntityRecognizer] = [cls() for cls in RECOGNIZERS if cls.ENTITY in self.entities]
        # The shipped model, or the admin's pipeline instead (detectors.nlp.load_ner).
        wanted = self.config.ner and "PERSON" in self.entities
        ner = load_ner(self.config.nlp_model) if wanted else None
        if ner is not None and "PERSON" in self.entities:
            from presidio_analyzer.predefined_recognizers import SpacyRecognizer

            ours.append(SpacyRecognizer(supported_language=LANGUAGE, supported_entities=["PERSON"]))
        registry = RecognizerRegistry(recognizers=ours + extra, supported_languages=[LANGUAGE])
        return AnalyzerEngine(
            registry=registry,
            nlp_engine=TokenNlpEngine(ner),
            supported_languages=[LANGUAGE],
            default_score_threshold=self.config.score_threshold,
            context_aware_enhancer=FieldContextEnhancer(
                context_similarity_factor=0.35,
                min_score_with_context_similarity=0.4,
                context_prefix_count=5,
                context_suffix_count=0,
            ),
        )

    def warm_up(self) -> None:
        """Analyse one value of every kind (``WARM_UP``) and forget the findings: what the
        libraries set up on first use is then done before the first request (a detector
        worker calls this before it says it is ready)."""
        self.analyze(list(WARM_UP))

    def analyze(self, segments: Sequence[Segment]) -> list[Finding]:
        """Findings of all segments, sorted by (segment, start)."""
        findings: list[Finding] = []
        normalized = [normalize(segment.text) for segment in segments]
        worth = self._worth_looking_at(segments, normalized)
        try:
            self._prime_ner([normalized[index].text for index in worth])
        except Exception as error:  # noqa: BLE001 - same rule as a segment: our error, no data
            raise DetectionFailed(f"NER model failed: {type(error).__name__}") from None
        for index in worth:
            segment = segments[index]
            try:
                findings.extend(self._segment(index, segment, normalized[index]))
            except Exception as error:  # noqa: BLE001 - re-raised as our error, raw text kept out
                raise DetectionFailed(
                    f"detection failed on segment {index} ({segment.location}): "
                    f"{type(error).__name__}"
                ) from None
        if self.edm is not None and findings:
            try:
                findings.extend(self.edm.match(segments, findings))
            except Exception as error:  # noqa: BLE001 - same: our error, no data in it
                raise DetectionFailed(f"exact data match failed: {type(error).__name__}") from None
        return sorted(findings, key=lambda f: (f.segment, f.start, f.end, f.entity))

    def candidates(self, text: str, context: Sequence[str]) -> frozenset[str]:
        """Entities worth running on ``text`` (normalised); empty: skip the segment."""
        possible = self.prefilter.scan(text)
        wanted = set(possible.entities) | self.always
        fields = [word.lower() for word in context]
        if possible.with_context:
            lowered = text.lower()
            wanted.update(
                entity
                for entity in possible.with_context
                if any(w in lowered or any(w in f for f in fields) for w in CONTEXT_WORDS[entity])
            )
        if "PERSON" not in wanted and context and person_context(tuple(context)):
            wanted.add("PERSON")
        return frozenset(wanted) & self.entities & (RECOGNIZED | self.always)

    def _worth_looking_at(self, segments: Sequence[Segment], normalized: list[Normalized]) -> list[int]:
        """Segment indices that can hold a finding (``SegmentSelector.select``)."""
        if len(segments) < 2:
            return list(range(len(segments)))
        return self.selector.select(segments, [n.text for n in normalized])

    def _segment(self, index: int, segment: Segment, normalized: Normalized) -> list[Finding]:
        listed = [
            RecognizerResult(hit.entity, hit.start, hit.end, 1.0)
            for hit in self.dictionary.scan(normalized.text)
        ]
        entities = self.candidates(normalized.text, segment.context)
        if "PERSON" in entities and self._no_name_in_prose(normalized.text, segment.context):
            entities = entities - {"PERSON"}
        if not entities and not listed:
            return []
        results = self._recognized(normalized, entities, segment.context) if entities else []
        results = _without_covered(results, listed) + listed
        return self._findings(index, segment, normalized, best_per_span(results))

    def _recognized(
        self, normalized: Normalized, entities: frozenset[str], context: Sequence[str]
    ) -> list[RecognizerResult]:
        results = []
        for window in windows(normalized.text):
            text = normalized.text[window.start : window.end]
            found = self.analyzer.analyze(
                text=text,
                language=LANGUAGE,
                entities=sorted(entities),
                context=list(context),
                score_threshold=self.config.score_threshold,
                nlp_artifacts=self._artifacts(text, entities),
            )
            for result in found:
                result.start += window.start
                result.end += window.start
                if window.keep_from <= result.start < window.keep_to:
                    results.append(result)
        return results

    def _artifacts(self, text: str, entities: frozenset[str]) -> LazyArtifacts | None:
        """Tokens on demand; for prose that may name a person, the engine's full artifacts
        (with the NER model's PERSON spans)."""
        nlp_engine = self.analyzer.nlp_engine
        if isinstance(nlp_engine, TokenNlpEngine) and not self._reads_ner(text, entities):
            return LazyArtifacts(text, nlp_engine, LANGUAGE)
        return None

    def _reads_ner(self, text: str, entities: frozenset[str]) -> bool:
        nlp_engine = self.analyzer.nlp_engine
        if not isinstance(nlp_engine, TokenNlpEngine):
            return True
        if "PERSON" not in entities or not nlp_engine.has_read(text):
            return False
        # After a prime the model answers only for the windows primed, all of them prose.
        return nlp_engine.primed_only or worth_ner(text)

    def _no_name_in_prose(self, text: str, context: Sequence[str]) -> bool:
        """PERSON is possible only because ``text`` is prose, and the model found no name in
        it: Presidio need not run for PERSON (clean prose costs the model's pass only)."""
        nlp_engine = self.analyzer.nlp_engine
        if not isinstance(nlp_engine, TokenNlpEngine) or nlp_engine.ner is None:
            return False
        if self.prefilter.person_by_rule(text) or (context and person_context(tuple(context))):
            return False
        if novel_names(text):
            return False  # a name jieba's HMM finds that the model missed (person.novel_names)
        return not any(nlp_engine.people(text[w.start : w.end]) for w in windows(text))

    def _prime_ner(self, texts: list[str]) -> None:
        """One batch through the NER model for the request's prose windows, in order, up to
        ``ner_max_bytes``; the windows after that are read by the rules only. A window the
        model read lately is answered from ``ner_cache`` (it still counts against the
        budget, so what is read never depends on what came before)."""
        nlp_engine = self.analyzer.nlp_engine
        if not isinstance(nlp_engine, TokenNlpEngine) or nlp_engine.ner is None:
            return
        read, budget, skipped = [], self.ner_max_bytes, 0
        for window_text in _prose_windows(texts):
            size = len(window_text.encode("utf-8"))
            if skipped or size > budget:
                skipped += size
            else:
                read.append(window_text)
                budget -= size
        if skipped:
            self.ner_skipped_bytes += skipped
            LOG.info("NER budget spent: %d bytes of prose read by the rules only", skipped)
        model = nlp_engine.ner
        unread, known = self.ner_cache.split(model, read)
        nlp_engine.prime(unread)
        self.ner_cache.keep(model, {text: nlp_engine.primed[text] for text in unread})
        nlp_engine.primed.update(known)

    def _findings(
        self, index: int, segment: Segment, normalized: Normalized, results: list[RecognizerResult]
    ) -> list[Finding]:
        findings = []
        for result in results:
            start, end = normalized.span(result.start, result.end)
            value = segment.text[start:end]
            if self.allow and (key := value_form(value)) in self.allow and key not in self.deny:
                continue
            score = round(float(result.score), 4)
            findings.append(
                Finding(result.entity_type, score, start, end, segment.location, index, value)
            )
        return findings


def _prose_windows(texts: list[str]) -> Iterator[str]:
    """The windows of ``texts`` that are prose (``worth_ner``), in order. A text of one
    window (most are) is its own window: it is not checked twice."""
    for text in texts:
        if not worth_ner(text):
            continue
        spans = list(windows(text))
        if len(spans) == 1:
            yield text
            continue
        yield from filter(worth_ner, (text[w.start : w.end] for w in spans))


def _without_covered(
    results: list[RecognizerResult], listed: list[RecognizerResult]
) -> list[RecognizerResult]:
    """A listed value wins over a recognizer's finding of the same entity inside its span
    ("+86 138..." listed, "138..." recognized): one finding, at score 1.0."""
    if not listed:
        return results
    return [
        r
        for r in results
        if not any(
            d.entity_type == r.entity_type and d.start <= r.start and r.end <= d.end for d in listed
        )
    ]


def best_per_span(results: list[RecognizerResult]) -> list[RecognizerResult]:
    """One result per exact span: highest score, then PRIORITY."""
    rank = {entity: i for i, entity in enumerate(PRIORITY)}
    best: dict[tuple[int, int], RecognizerResult] = {}
    for result in results:
        key = (result.start, result.end)
        held = best.get(key)
        if held is None or (result.score, -rank.get(result.entity_type, 99)) > (
            held.score,
            -rank.get(held.entity_type, 99),
        ):
            best[key] = result
    return list(best.values())
