"""CN_PASSPORT: People's Republic of China passport numbers.

E12345678 / G12345678   ordinary passports        0.5 (护照/passport lifts)
EA1234567               new format (E + letter)   0.5
P1234567 / S1234567 / D1234567   older official/service/diplomatic, context only
"""

from __future__ import annotations

from presidio_analyzer import Pattern

from detectors.recognizers.base import NUM_END, ScoredPatternRecognizer

START = r"(?<![0-9A-Za-z])"


class CnPassportRecognizer(ScoredPatternRecognizer):
    ENTITY = "CN_PASSPORT"
    PATTERNS = (
        Pattern("passport E/G", START + r"[EG]\d{8}" + NUM_END, 0.5),
        Pattern("passport E+letter", START + r"E[A-HJ-NP-Z]\d{7}" + NUM_END, 0.5),
        Pattern("passport P/S/D (context)", START + r"[PSD]\d{7}" + NUM_END, 0.2),
    )
    CONTEXT = ("护照", "passport", "证件", "travel document", "passport_no")
