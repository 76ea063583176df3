"""CREDIT_CARD: payment card numbers, 13-19 digits, real IIN ranges, Luhn.

    4111 1111 1111 1111      Visa, Luhn-valid        0.9
    6222 0212 3456 7890 128  UnionPay 62, no Luhn    0.2 (context 卡号/银行卡/card lifts)
    300213915798537375       17-18 digits            0.4 (an order number as often as a card)

Groups may be separated by single spaces or dashes. Some UnionPay debit
cards do not pass Luhn, so a 62 number that fails it still counts with context.
"""

from __future__ import annotations

import re

from presidio_analyzer import Pattern

from detectors.recognizers.base import (
    NUM_END,
    NUM_START,
    ScoredPatternRecognizer,
    digits_only,
    luhn_valid,
)

# (prefix low, prefix high, lengths) over the first len(str(low)) digits.
IIN_RANGES: tuple[tuple[int, int, frozenset[int]], ...] = (
    (4, 4, frozenset({13, 16, 19})),  # Visa
    (51, 55, frozenset({16})),  # Mastercard
    (2221, 2720, frozenset({16})),  # Mastercard 2-series
    (34, 34, frozenset({15})),  # Amex
    (37, 37, frozenset({15})),
    (3528, 3589, frozenset({16, 17, 18, 19})),  # JCB
    (6011, 6011, frozenset({16, 17, 18, 19})),  # Discover
    (644, 649, frozenset({16, 17, 18, 19})),
    (65, 65, frozenset({16, 17, 18, 19})),
    (300, 305, frozenset({14, 15, 16, 17, 18, 19})),  # Diners
    (36, 36, frozenset({14, 15, 16, 17, 18, 19})),
    (38, 39, frozenset({14, 16, 17, 18, 19})),
    (62, 62, frozenset({16, 17, 18, 19})),  # UnionPay
    (81, 81, frozenset({16, 17, 18, 19})),  # UnionPay 81xx
)


def card_brand_fits(number: str) -> bool:
    """True if ``number`` has the length one of the IIN ranges allows."""
    for low, high, lengths in IIN_RANGES:
        prefix = int(number[: len(str(low))])
        if low <= prefix <= high and len(number) in lengths:
            return True
    return False


CARD = r"(?:\d{13,19}|\d{4}[ -]\d{6}[ -]\d{4,5}|\d{4}(?:[ -]\d{4}){2}[ -]\d{1,4}(?:[ -]\d{1,3})?)"


class BaomiCreditCardRecognizer(ScoredPatternRecognizer):
    ENTITY = "CREDIT_CARD"
    PATTERNS = (
        # Plain, Amex/Diners 4-6-5 / 4-6-4, or 4-4-4-x(-x) groups.
        Pattern("card", NUM_START + CARD + NUM_END, 0.9),
    )
    CONTEXT = (
        "卡号",
        "银行卡",
        "信用卡",
        "储蓄卡",
        "借记卡",
        "银联",
        "账号",
        "card",
        "credit",
        "visa",
        "mastercard",
        "amex",
        "unionpay",
        "debit",
        "cc_number",
        "ccnum",
    )

    def score_match(self, match: re.Match[str], pattern: Pattern, text: str) -> float:
        number = digits_only(match.group(0))
        if not 13 <= len(number) <= 19 or not card_brand_fits(number):
            return 0.0
        if luhn_valid(number):
            # 17-18 digits: a length few cards use (UnionPay issues mostly 16 and 19),
            # and the length of order and ID numbers, a tenth of which pass Luhn.
            # Context (卡号, card...) decides.
            if len(number) in (17, 18):
                return 0.4
            return pattern.score
        return 0.2 if number.startswith("62") and len(number) >= 16 else 0.0
