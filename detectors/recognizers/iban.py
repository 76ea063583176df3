"""IBAN_CODE: International Bank Account Numbers, ISO 13616 checksum and country format.

DE89 3704 0044 0532 0130 00   0.9
GB82WEST12345698765432        0.9
"""

from __future__ import annotations

import re

from presidio_analyzer import Pattern
from stdnum import iban

from detectors.recognizers.base import ScoredPatternRecognizer

CODE = (
    r"(?<![0-9A-Za-z])[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]{4}){2,7}(?:[ -]?[A-Z0-9]{1,3})?(?![0-9A-Za-z])"
)


class BaomiIbanRecognizer(ScoredPatternRecognizer):
    ENTITY = "IBAN_CODE"
    PATTERNS = (Pattern("iban", CODE, 0.9),)
    CONTEXT = ("iban", "bank", "account", "账户", "账号", "汇款", "swift")

    def validate_result(self, pattern_text: str) -> bool:
        return bool(iban.is_valid(pattern_text))

    def score_match(self, match: re.Match[str], pattern: Pattern, text: str) -> float:
        return pattern.score if self.validate_result(match.group(0)) else 0.0
