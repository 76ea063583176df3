"""CN_PASSPORT: People's Republic of China passport numbers, only with context.

    护照号 E12345678 / {"passport_no": "G12345678"}   0.7 (a context word or field name)
    EA1234567 under a passport field                 0.7 (new format: E + letter)
    P1234567 / S1234567 / D1234567                   older official/service/diplomatic, 0.6
    E12345678 alone, {"id": "E12345678"}             0.35: below the policies' 0.5
    护照号 E00000000 / G11111118                      none: a placeholder (fewer than 3
                                                     distinct digits), even with context

A letter and eight digits is also an enterprise id, a model number, a ticket,
so the number alone is not evidence: real API payloads carry ``E00000000``-like
ids. Only a word such as 护照/passport (in the text or the field name) lifts it.
"""

from __future__ import annotations

import re

from presidio_analyzer import Pattern

from detectors.recognizers.base import NUM_END, ScoredPatternRecognizer

START = r"(?<![0-9A-Za-z])"


def is_placeholder(number: str) -> bool:
    """``E00000000``, ``G11111118``: a body of fewer than three distinct digits.

    >>> is_placeholder("E00000000"), is_placeholder("E12345678")
    (True, False)
    """
    return len(set(re.sub(r"\D", "", number))) < 3


class CnPassportRecognizer(ScoredPatternRecognizer):
    ENTITY = "CN_PASSPORT"
    PATTERNS = (
        Pattern("passport E/G", START + r"[EG]\d{8}" + NUM_END, 0.35),
        Pattern("passport E+letter", START + r"E[A-HJ-NP-Z]\d{7}" + NUM_END, 0.35),
        Pattern("passport P/S/D (context)", START + r"[PSD]\d{7}" + NUM_END, 0.25),
    )
    CONTEXT = ("护照", "passport", "证件", "travel document", "passport_no")

    def validate_result(self, pattern_text: str) -> bool:
        return not is_placeholder(pattern_text)
