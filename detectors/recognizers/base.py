"""What our pattern recognizers share.

Presidio's ``PatternRecognizer`` runs patterns with the ``regex`` module and a
timeout; on timeout it logs and *skips* the pattern, so a crafted body would be
let through. Ours compile once with ``re`` (patterns written without nested
quantifiers), let every error propagate, and score each match in
``score_match`` so a recognizer can weigh a checksum, a prefix or a format.
Time limits belong to the caller (the proxy runs detection with a deadline).

Class names must not repeat Presidio's (``PhoneRecognizer``...): Presidio's
default registry looks recognizers up *by class name* among all loaded
subclasses, so a same-named class of ours would replace its own.
"""

from __future__ import annotations

import re
from typing import ClassVar

from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

LANGUAGE = "en"  # one language code for all text; admins' recognizers default to it too

# A number starts where no letter/digit (and no "1.") precedes it, and ends
# where none (and no ".5") follows: not the middle of a longer number or a
# decimal. Commas are separators (CSV "张三,13800138000,110105..."), not
# decimals. ASCII classes on purpose: CJK counts as a boundary, so
# "手机13800138000" still matches.
NUM_START = r"(?<![0-9A-Za-z])(?<![0-9]\.)"
NUM_END = r"(?![0-9A-Za-z])(?!\.[0-9])"


def digits_only(value: str) -> str:
    """``"138-0013 8000"`` -> ``"13800138000"``."""
    return "".join(ch for ch in value if ch.isdigit())


def luhn_valid(number: str) -> bool:
    """Luhn mod-10 over a string of digits."""
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = ord(char) - 48
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


class ScoredPatternRecognizer(PatternRecognizer):
    """A ``PatternRecognizer`` whose matches are scored by ``score_match``.

    Subclasses set ``ENTITY``, ``PATTERNS`` and ``CONTEXT`` and may override
    ``validate_result`` (checksum: False drops the match) or ``score_match``.
    A pattern may capture group ``v`` to report only part of the match.
    """

    # Set by PatternRecognizer.__init__; declared here because mypy cannot infer them
    # through presidio's conditional assignments ("Cannot determine type").
    name: str
    patterns: list[Pattern]

    ENTITY: ClassVar[str]
    PATTERNS: ClassVar[tuple[Pattern, ...]]
    CONTEXT: ClassVar[tuple[str, ...]]
    FLAGS: ClassVar[int] = 0

    def __init__(self) -> None:
        super().__init__(
            supported_entity=self.ENTITY,
            patterns=list(self.PATTERNS),
            context=list(self.CONTEXT),
            supported_language=LANGUAGE,
            name=type(self).__name__,
        )
        self._compiled = [(p, re.compile(p.regex, self.FLAGS)) for p in self.patterns]

    def validate_result(self, pattern_text: str) -> bool | None:
        return None

    def score_match(self, match: re.Match[str], pattern: Pattern, text: str) -> float:
        """Score of one match; 0 drops it. Default: pattern score if it validates."""
        valid = self.validate_result(match.group(0))
        return 0.0 if valid is False else pattern.score

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        results = []
        for pattern, compiled in self._compiled:
            for match in compiled.finditer(text):
                score = self.score_match(match, pattern, text)
                if score <= 0:
                    continue
                group = "v" if "v" in compiled.groupindex else 0
                start, end = match.span(group)
                results.append(self.result(start, end, score, pattern.name))
        return EntityRecognizer.remove_duplicates(results)

    def result(self, start: int, end: int, score: float, why: str) -> RecognizerResult:
        # presidio passes validate_result()'s None here too; its annotation says bool.
        explanation = self.build_regex_explanation(
            self.name, why, "", score, None, 0  # type: ignore[arg-type]
        )
        return RecognizerResult(
            entity_type=self.ENTITY,
            start=start,
            end=end,
            score=min(score, 1.0),
            analysis_explanation=explanation,
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
            },
        )
