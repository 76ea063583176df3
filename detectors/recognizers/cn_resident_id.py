"""CN_RESIDENT_ID: mainland resident identity card numbers (GB 11643).

    110105194912310021   province 11, born 1949-12-31, sequence 002, check 1
    11010519491231002X   'X' (or 'x') is check value 10

18 digits count on their own: province + real birth date + ISO 7064 MOD 11-2
let about 16 in a million random numbers through. 15-digit legacy numbers have
no check digit and need context (身份证 ...).
"""

from __future__ import annotations

import re
from datetime import date

from presidio_analyzer import Pattern
from stdnum.iso7064 import mod_11_2

from detectors.recognizers.base import NUM_END, NUM_START, ScoredPatternRecognizer

# Province-level codes in use (GB/T 2260), 71 Taiwan, 81/82 Hong Kong/Macau.
PROVINCES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
        "83",
    ]
)
EARLIEST_BIRTH = date(1900, 1, 1)


def birth_date(text: str) -> date | None:
    """``"19491231"`` -> date(1949, 12, 31); None if not a real past date."""
    try:
        born = date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None
    return born if EARLIEST_BIRTH <= born <= date.today() else None


def is_valid_id18(number: str) -> bool:
    """Province, birth date and MOD 11-2 check of an 18-character ID."""
    number = number.upper()
    return (
        len(number) == 18
        and number[:2] in PROVINCES
        and birth_date(number[6:14]) is not None
        and mod_11_2.is_valid(number)
    )


def is_plausible_id15(number: str) -> bool:
    """Province and birth date (19YYMMDD) of a legacy 15-digit ID."""
    return number[:2] in PROVINCES and birth_date("19" + number[6:12]) is not None


class CnResidentIdRecognizer(ScoredPatternRecognizer):
    ENTITY = "CN_RESIDENT_ID"
    PATTERNS = (
        Pattern("id18", NUM_START + r"[1-8]\d{5} ?(?:19|20)\d{6} ?\d{3}[0-9Xx]" + NUM_END, 0.9),
        Pattern("id15 (context)", NUM_START + r"[1-8]\d{14}" + NUM_END, 0.2),
    )
    CONTEXT = (
        "身份证",
        "证件",
        "身份",
        "公民",
        "idcard",
        "id_card",
        "id_no",
        "idno",
        "identity",
        "citizen",
        "resident",
        "sfz",
        "national_id",
        "nationalid",
    )

    def score_match(self, match: re.Match[str], pattern: Pattern, text: str) -> float:
        number = match.group(0).replace(" ", "")
        valid = is_valid_id18(number) if len(number) == 18 else is_plausible_id15(number)
        return pattern.score if valid else 0.0
