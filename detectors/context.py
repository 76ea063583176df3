"""Presidio's lemma context enhancer, without its per-call deep copy, over lazy tokens.

    words before a match (or the segment's field names) contain a recognizer's
    context word  ->  score + 0.35, at least 0.4

Same rule as ``LemmaContextAwareEnhancer`` (substring match of context words in
the lemmas of the 5 preceding tokens and in the field names); it just skips
``copy.deepcopy`` of every result (a third of a short segment's cost) and
tokenises only when some result can be enhanced.

A name from the NER model that structure rules out (an identifier, a log line's label,
a user agent's product token: ``person.plausible_name``) scores 0.

A value in a table pasted as text ("姓名,手机号\n张三,13800138000") has its
column's header as a field name (``detectors.tables``).
"""

from __future__ import annotations

from functools import cached_property

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts

from detectors.nlp import STOPWORDS, TOKEN
from detectors.recognizers.person import PersonRecognizer, plausible_name
from detectors.tables import header_words


class LazyArtifacts(NlpArtifacts):
    """NlpArtifacts whose tokens are computed on first use. No NER entities."""

    def __init__(self, text: str, nlp_engine: object, language: str) -> None:
        self.text = text
        self.entities = []
        self.scores = []
        self.nlp_engine = nlp_engine
        self.language = language

    @cached_property
    def _tokens(self) -> tuple[list[str], list[int]]:
        matches = list(TOKEN.finditer(self.text))
        return [m.group(0) for m in matches], [m.start() for m in matches]

    @property
    def tokens(self) -> list[str]:  # type: ignore[override]
        return self._tokens[0]

    @property
    def tokens_indices(self) -> list[int]:  # type: ignore[override]
        return self._tokens[1]

    @cached_property
    def lemmas(self) -> list[str]:  # type: ignore[override]
        return [token.lower() for token in self.tokens]

    @cached_property
    def keywords(self) -> frozenset[str]:  # type: ignore[override]
        # A set, not Presidio's list: the enhancer only tests membership.
        return frozenset(self.lemmas) - STOPWORDS


class FieldContextEnhancer(LemmaContextAwareEnhancer):
    def enhance_using_context(
        self,
        text: str,
        raw_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        recognizers: list[EntityRecognizer],
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        by_id = {recognizer.id: recognizer for recognizer in recognizers}
        field_words = [word.lower() for word in context or []]
        addresses = [(r.start, r.end) for r in raw_results if r.entity_type == "ADDRESS" and r.score >= 0.4]
        for result in raw_results:
            metadata = result.recognition_metadata or {}
            recognizer = by_id.get(metadata.get(RecognizerResult.RECOGNIZER_IDENTIFIER_KEY))
            if (
                result.entity_type == "PERSON"
                and not isinstance(recognizer, PersonRecognizer)
                and (
                    not plausible_name(text, result.start, result.end)
                    or any(a <= result.start and result.end <= b for a, b in addresses)
                )
            ):
                # A model's name that structure rules out (person.py), or a street or town
                # inside an address ("57562 Vicki Hills, Johnmouth, AZ").
                result.score = 0.0
                continue
            if recognizer is None or not recognizer.context:
                continue
            if metadata.get(RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY):
                continue
            words = self._extract_surrounding_words(
                nlp_artifacts=nlp_artifacts,
                word=text[result.start : result.end],
                start=result.start,
            )
            supportive = self._find_supportive_word_in_context(
                words + field_words + header_words(text, result.start),
                recognizer.context,
                self.context_matching_mode,
            )
            if supportive:
                result.score = min(
                    max(
                        result.score + self.context_similarity_factor,
                        self.min_score_with_context_similarity,
                    ),
                    self.MAX_SCORE,
                )
                result.analysis_explanation.set_supportive_context_word(supportive)
                result.analysis_explanation.set_improved_score(result.score)
        return raw_results
