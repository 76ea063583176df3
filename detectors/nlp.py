"""A light Presidio ``NlpEngine``: regex tokens, ``lemma = lower``, optional spaCy NER.

    >>> TokenNlpEngine().process_text("手机号：13800138000 Mobile", "en").lemmas
    ['手机号', '13800138000', 'mobile']

Presidio's context enhancer looks for its context words *inside* the lemmas
of the few tokens before a match. A CJK run is one token, so "请拨打我的手机"
still contains 手机 and lifts the score; no segmenter or model is needed. A
blank spaCy pipeline would give empty lemmas and silently disable context.

Tokens are plain strings: the enhancer only needs their length and order,
and building a spaCy ``Doc`` per request would cost more than the rest.
An admin-installed spaCy pipeline (``DetectorConfig.nlp_model``) adds
PERSON entities for English free text; it is loaded from a name or directory,
never downloaded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine

from detectors.recognizers.base import LANGUAGE

TOKEN = re.compile(r"[A-Za-z]+|[0-9]+|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "and",
        "or",
        "is",
        "are",
        "was",
        "be",
        "it",
        "this",
        "that",
        "my",
        "your",
        "our",
        "的",
        "了",
        "和",
        "是",
        "在",
    ]
)
NER_LABELS = frozenset({"PERSON", "PER"})
NER_SCORE = 0.7  # a model's guess: above the threshold, below checksummed identifiers


class TokenNlpEngine(NlpEngine):
    """See module docstring. ``ner``: a loaded spaCy ``Language`` or None."""

    def __init__(self, ner: Any = None) -> None:  # a spacy Language; spaCy imported lazily
        self.ner = ner

    def load(self) -> None:
        return None

    def is_loaded(self) -> bool:
        return True

    def process_text(self, text: str, language: str) -> NlpArtifacts:
        tokens, starts = [], []
        for match in TOKEN.finditer(text):
            tokens.append(match.group(0))
            starts.append(match.start())
        entities = self.people(text) if self.ner is not None else []
        return NlpArtifacts(
            entities=entities,
            tokens=tokens,  # type: ignore[arg-type]  # see module docstring
            tokens_indices=starts,
            lemmas=[token.lower() for token in tokens],
            nlp_engine=self,
            language=language,
            scores=[NER_SCORE] * len(entities),
        )

    def people(self, text: str) -> list[Any]:
        from spacy.tokens import Span

        doc = self.ner(text)
        return [
            Span(doc, e.start, e.end, label="PERSON") for e in doc.ents if e.label_ in NER_LABELS
        ]

    def process_batch(
        self, texts: Iterable[str], language: str, batch_size: int = 1, n_process: int = 1, **kwargs
    ) -> Iterator[tuple[str, NlpArtifacts]]:
        for text in texts:
            yield text, self.process_text(text, language)

    def is_stopword(self, word: str, language: str) -> bool:
        return word in STOPWORDS

    def is_punct(self, word: str, language: str) -> bool:
        return False  # punctuation never becomes a token

    def get_supported_entities(self) -> list[str]:
        return ["PERSON"] if self.ner is not None else []

    def get_supported_languages(self) -> list[str]:
        return [LANGUAGE]
