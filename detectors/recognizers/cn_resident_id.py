"""CN_RESIDENT_ID: mainland resident identity card numbers (GB 11643).

    110105194912310021   province 11, born 1949-12-31, sequence 002, check 1
    11010519491231002X   'X' (or 'x') is check value 10

18 digits count on their own: province + real birth date + ISO 7064 MOD 11-2
let about 16 in a million random numbers through. 15-digit legacy numbers have
no check digit and need context (身份证 ...).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from presidio_analyzer import Pattern, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from stdnum.iso7064 import mod_11_2

from detectors.fieldnames import field_words, is_name_field
from detectors.recognizers.base import NUM_END, NUM_START, ScoredPatternRecognizer
from detectors.tables import DELIMITERS, cells, column_header

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
# The label or column of another kind of number right before it (合同编号653023577759442117,
# a CSV column 单号): that number, even where an ID's checks pass by chance (about 1 in
# 40,000 random 18-digit numbers: province, birth date, check). The label must name the
# kind: a bare 编号, No. or number says nothing (编号：110101199003074258，姓名：王小明 is an ID).
OTHER_KIND = "合同|订单|工单|运单|快递|物流|发票|交易|支付|退款|批次|商品|产品|设备|资产|项目|票据|凭证|单据|账单|保单|采购"
OTHER_NUMBER = re.compile(
    rf"(?<![A-Za-z])(?i:订单号?|单号|流水号|(?:{OTHER_KIND})编号|运单号|工单号?|参考号|交易号|"
    r"批次号?|合同号|发票号|order(?:[ _-]?(?:no\.?|id|number))?|invoice|tracking|txn|ref|batch|"
    r"sku|serial)[ \t]*[:：#=]?[ \t]*$"
)
# Personal data in the same line or record (a name's label, a mobile number): the number
# sits in a person's record, where an ID is what a valid one most likely is.
PERSONAL_NEARBY = re.compile(
    r"姓名|名字|收件人|收货人|寄件人|联系人|持卡人|户名|申请人|乘客|"
    r"(?i:\b(?:full[ _]?|first[ _]?|last[ _]?|customer[ _]?|contact[ _]?)?name\b)|"
    r"(?<!\d)1[3-9]\d(?:[ -]?\d{4}){2}(?!\d)"
)
ID_WORDS = re.compile(r"(?i:身份|证件|公民|idcard|id_card|id_no|identity|citizen|resident)")
# The same for a field or a CSV column's name: its words (order_no, trackingNumber, ref).
OTHER_FIELD_WORDS = frozenset(
    [
        "order",
        "invoice",
        "tracking",
        "txn",
        "transaction",
        "ref",
        "reference",
        "batch",
        "sku",
        "serial",
        "contract",
        "waybill",
        "shipment",
        "ticket",
        "trace",
    ]
)


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
        if not valid:
            return 0.0
        if labelled_as_other_number(text, match.start()) and not personal_nearby(
            text, match.start(), match.end()
        ):
            return 0.0
        return pattern.score

    def enhance_using_context(
        self,
        text: str,
        raw_recognizer_results: list[RecognizerResult],
        other_raw_recognizer_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        """A number in a field or column of another kind of number ({"order_no": ...}, a
        CSV ``ref`` column) is that number (the label rule of ``score_match``, by field)."""
        for result in raw_recognizer_results:
            fields = list(context or [])
            field = field_of(text, result.start, result.end, fields)
            if field is None or not names_other_number(field):
                continue
            whole_value = text.strip() == text[result.start : result.end]
            row_names = [] if whole_value else fields  # a CSV row: its header's names
            if not personal_nearby(text, result.start, result.end, row_names):
                result.score = 0.0
        return raw_recognizer_results


def field_of(text: str, start: int, end: int, context: list[str]) -> str | None:
    """The field or CSV column a number sits in: the last field name when the number is the
    whole value, the column's name when the text is one row of as many cells as names.

    >>> field_of("2024-11-03,SKU-1,464682192707140185", 17, 35, ["date", "sku", "ref"])
    'ref'
    """
    if not context:
        return None
    if text.strip() == text[start:end]:
        return context[-1]
    for delimiter in DELIMITERS:
        row = cells(text, delimiter) if "\n" not in text else []
        if len(row) == len(context) > 1:
            spans = zip(row, context, strict=True)
            return next((name for (a, b), name in spans if a <= start and end <= b), None)
    return None


def names_other_number(field: str) -> bool:
    """``order_no``, ``trackingNumber``, ``单号``: a field of another kind of number."""
    if ID_WORDS.search(field):
        return False
    return bool(OTHER_NUMBER.search(field)) or any(
        word in OTHER_FIELD_WORDS for word in field_words(field)
    )


def personal_nearby(text: str, start: int, end: int, columns: Sequence[str] = ()) -> bool:
    """A name's label or a mobile number elsewhere on the number's line, in its table's
    header, or a name column among ``columns`` (a CSV row's header as context).

    >>> personal_nearby("编号：110101199003074258，姓名：王小明", 3, 21)
    True
    >>> personal_nearby("合同编号653023577759442117，请在月底前完成验收", 4, 22)
    False
    """
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line = text[line_start : len(text) if line_end < 0 else line_end]
    rest = line[: start - line_start] + " " + line[end - line_start :]
    header = text[: text.find("\n")] if "\n" in text and line_start > 0 else ""
    return bool(PERSONAL_NEARBY.search(rest) or PERSONAL_NEARBY.search(header)) or any(
        is_name_field([column]) for column in columns
    )


def labelled_as_other_number(text: str, start: int) -> bool:
    """Is the number at ``start`` labelled, or under a column named, as another number?

    >>> labelled_as_other_number("合同编号653023577759442117", 4)
    True
    >>> labelled_as_other_number("身份证编号110105194912310021", 5)
    False
    >>> labelled_as_other_number("日期,单号\\n2024-11-03,464682192707140185", 17)
    True
    """
    label = text[max(0, start - 16) : start]
    if OTHER_NUMBER.search(label):
        return not ID_WORDS.search(label)
    header = column_header(text, start) if "\n" in text else None
    return header is not None and bool(OTHER_NUMBER.search(header)) and not ID_WORDS.search(header)
