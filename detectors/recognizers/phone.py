"""PHONE_NUMBER: mainland mobiles and landlines, and international ``+`` numbers.

    +86 138 0013 8000 / 0086-138-0013-8000 / (+86)13800138000   mobile, 0.85
    138 0013 8000 / 138-0013-8000                               mobile, 0.55
    13800138000                                                 bare, 0.45 (context lifts)
    010-12345678 / (021) 1234 5678 / 0755-1234567               landline, 0.5
    +44 20 7031 3000                                            phonenumbers-valid, 0.7
    (650) 253-0000 / 650.253.0000 / 001-650-253-0000x12         US shape, 0.4 / 0.6 with +1/001
    6502530000                                                  bare 10 digits, 0.2 (context lifts)

Numbers starting 10/11/12 are never mobiles. Mobiles are checked against
phonenumbers' CN ranges (a number in no allocated range keeps only 0.25,
enough with context). International numbers are parsed only when written with
'+', so phonenumbers runs once per candidate, never once per region. US-shaped
numbers (3-3-4) are judged by shape alone: made-up and new area codes are common
in test data and real traffic alike; without a field name or a word such as
"call" they stay below 0.5. A landline never starts or ends inside a longer group
of digits ("3559 0432 4956 6208" is a card, not 0432-4956...).
"""

from __future__ import annotations

import re

import phonenumbers
from presidio_analyzer import Pattern

from detectors.recognizers.base import NUM_END, NUM_START, ScoredPatternRecognizer, digits_only

CN_PREFIX = r"(?:(?:\+|00)86[ -]?|\(\+?86\) ?|\+86\(0?\)|86[ -])"
MOBILE_BODY = r"1[3-9]\d(?:[ -]?\d{4}){2}"
# Area codes: 010, 02X, then 0[3-9]XX; numbers 7-8 digits, optional spaces.
AREA = r"(?:010|02\d|0[3-9]\d{2})"
LANDLINE = rf"(?<!\d[ -])(?:\({AREA}\) ?|{AREA}[ -])[1-9]\d{{2,3}}[ -]?\d{{4}}(?![ -]\d)"
US = r"(?:(?:\+1|001)[ .-]?|1-)?(?:\(\d{3}\) ?|\d{3}[-.])\d{3}[-.]\d{4}(?: ?(?:x|ext\.?) ?\d{1,5})?"
INTERNATIONAL = r"\+[1-9]\d{0,2}(?:[ .-]?\(?\d{1,5}\)?){2,6}"


def is_cn_mobile(number: str) -> bool:
    """phonenumbers' view of an 11-digit mainland mobile."""
    parsed = phonenumbers.parse("+86" + number)
    return phonenumbers.is_valid_number(parsed)


class BaomiPhoneRecognizer(ScoredPatternRecognizer):
    ENTITY = "PHONE_NUMBER"
    PATTERNS = (
        Pattern("cn mobile +86", NUM_START + CN_PREFIX + MOBILE_BODY + NUM_END, 0.85),
        Pattern("cn mobile", NUM_START + r"(?<![+\d]\d)" + MOBILE_BODY + NUM_END, 0.45),
        Pattern("cn landline", NUM_START + LANDLINE + NUM_END, 0.5),
        Pattern("international", r"(?<![0-9A-Za-z+])" + INTERNATIONAL + NUM_END, 0.7),
        Pattern("us", r"(?<![0-9A-Za-z+(])" + US + NUM_END, 0.4),
        Pattern("us bare (context)", NUM_START + r"[2-9]\d{9}" + NUM_END, 0.2),
    )
    CONTEXT = (
        "phone",
        "mobile",
        "tel",
        "cell",
        "fax",
        "whatsapp",
        "contact",
        "call",
        "手机",
        "电话",
        "联系方式",
        "号码",
        "致电",
        "拨打",
        "热线",
        "传真",
        "联系",
    )

    def score_match(self, match: re.Match[str], pattern: Pattern, text: str) -> float:
        value = match.group(0)
        digits = digits_only(value)
        if pattern.name == "cn mobile":
            if not is_cn_mobile(digits):
                return 0.25
            # Written in the 3-4-4 shape people use for phones: a little more sure.
            return 0.55 if len(value) > 11 else pattern.score
        if pattern.name == "cn mobile +86":
            return pattern.score if is_cn_mobile(digits[-11:]) else 0.6
        if pattern.name == "international":
            return self.international_score(value, pattern.score)
        if pattern.name == "us" and value.startswith(("+1", "001")):
            return 0.6
        return pattern.score

    @staticmethod
    def international_score(value: str, score: float) -> float:
        try:
            parsed = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException:
            return 0.0
        if parsed.country_code == 86 and not phonenumbers.is_valid_number(parsed):
            return 0.0
        return score if phonenumbers.is_valid_number(parsed) else 0.0
