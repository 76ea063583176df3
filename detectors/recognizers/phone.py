"""PHONE_NUMBER: mainland mobiles and landlines, and international ``+`` numbers.

    +86 138 0013 8000 / 0086-138-0013-8000 / (+86)13800138000   mobile, 0.85
    138 0013 8000 / 138-0013-8000                               mobile, 0.55
    13800138000                                                 bare, 0.45 (context lifts)
    "SMS to customer Wang at 13800138000" / "给13800138000发短信"   in a sentence about calling
                                                                or texting someone, 0.6
    "order 13800138000" / "顺丰 13800138000"                     labelled as another number, 0.1
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

A mainland mobile without +86 is judged by its sentence (``sentence_cue``):
Presidio's context step only looks at a few words *before* a match and only
for the listed words, so "SMS to customer Wang at 138..." or "给138...发短信"
stayed at 0.45. The label nearest before the number decides (cues after it
only when nothing before it is a label): a phone word lifts it above the
policies' 0.5, another kind of number ("order number", "tracking", a
carrier) drops it to 0.1 so that no context word can lift it past 0.45.
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

# Words in a sentence that say the number is someone's phone (English words whole, any case).
PHONE_WORDS = re.compile(
    r"(?i:\b(?:(?:tele|cell|smart)?phone[sd]?|mobile|cell|tel|call(?:s|ed|ing)?|ring|dial(?:l?ed)?"
    r"|sms|texts?|text(?:ed|ing)|message[sd]?|whats ?app|we ?chat|signal|reach|contact(?:ed)?"
    r"|number)\b)"
    r"|手机|电话|短信|回电|致电|来电|拨打|打给|联系|号码|微信|通知"
)
# Labels of other numbers: "order number", "tracking", "运单号", a carrier (case kept: "UPS", not
# "ups"). Words that also name people ("card holder", "account owner", "employee", "in case")
# count only with "number"/"no"/"id" after them.
NUMBER_NOUN = r"(?:[ _-]?(?:number|no\.?|num|nr|#|id|code))"
OTHER_NUMBER_WORDS = re.compile(
    r"(?i:\b(?:(?:order|tracking|track|waybill|shipment|parcel|package|invoice|receipt|serial|sn"
    r"|ref(?:erence)?|id|uid|sku|batch|lot|ticket|txn|transaction|build|version|ver|timestamp"
    rf"|epoch|ts|code|pin|otp|imei){NUMBER_NOUN}?"
    rf"|(?:account|acct|card|case|employee|member|customer|user){NUMBER_NOUN})\b)"
    r"|\b(?:SF|EMS|UPS|DHL|USPS|FedEx|JD|YTO|ZTO|STO)\b"
    r"|(?:订单|运单|快递|物流|流水|工号|工单|卡号|账号|帐号|批次|版本|序列|验证码|单号|编号"
    r"|顺丰|圆通|中通|申通|韵达|百世|极兔|京东|邮政)(?:号码|号|编号)?"
)
# Where a sentence ends: the cues that count are in the number's own sentence.
SENTENCE_END = re.compile(r"[。！？!?\n；;]|\.(?:\s|$)")
ABBREVIATIONS = frozenset({"no", "nr", "tel", "ext", "mr", "mrs", "ms", "dr", "e.g", "i.e", "vs", "approx"})
WORD_BEFORE = re.compile(r"[\w.]*$")
SENTENCE_REACH = 80  # characters looked at on each side, at most


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
        "sms",
        "短信",
        "回电",
        "微信",
        "wechat",
    )

    def score_match(self, match: re.Match[str], pattern: Pattern, text: str) -> float:
        value = match.group(0)
        digits = digits_only(value)
        if pattern.name == "cn mobile":
            if not is_cn_mobile(digits):
                return 0.25
            cue = sentence_cue(text, match.start(), match.end())
            if cue == "other":
                return 0.1
            # Written in the 3-4-4 shape people use for phones: a little more sure.
            shaped = 0.55 if len(value) > 11 else pattern.score
            return max(shaped, 0.6) if cue == "phone" else shaped
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


def sentence_cue(text: str, start: int, end: int) -> str | None:
    """What the number's sentence calls it: ``"phone"``, ``"other"`` or None.

    >>> sentence_cue("please call 13800138000 tomorrow", 12, 23)
    'phone'
    >>> sentence_cue("call about order 13800138000", 17, 28)
    'other'

    The label nearest before the number wins ("order number" beats its own
    "number"); words after it count only when none stands before it
    ("给13800138000发短信", "13800138000 is the order number").
    """
    before = text[max(0, start - SENTENCE_REACH) : start]
    ends = _sentence_ends(before)
    if ends:
        before = before[ends[-1].end() :]
    nearest = _last_label(before)
    if nearest is not None:
        return nearest
    after = text[end : end + SENTENCE_REACH]
    stops = _sentence_ends(after)
    return _first_label(after[: stops[0].start()] if stops else after)


def _sentence_ends(text: str) -> list[re.Match[str]]:
    """Sentence ends, not the dot of "No." or "Tel." ("card no. 138...")."""
    return [
        m for m in SENTENCE_END.finditer(text)
        if m.group(0)[0] != "." or _word_before(text, m.start()) not in ABBREVIATIONS
    ]


def _word_before(text: str, pos: int) -> str:
    word = WORD_BEFORE.search(text, 0, pos)
    return word.group(0).lower() if word else ""


def _last_label(words: str) -> str | None:
    phone = max((m.end() for m in PHONE_WORDS.finditer(words)), default=-1)
    other = max((m.end() for m in OTHER_NUMBER_WORDS.finditer(words)), default=-1)
    if phone < 0 and other < 0:
        return None
    return "other" if other >= phone else "phone"


def _first_label(words: str) -> str | None:
    phone = min((m.start() for m in PHONE_WORDS.finditer(words)), default=len(words) + 1)
    other = min((m.start() for m in OTHER_NUMBER_WORDS.finditer(words)), default=len(words) + 1)
    if phone > len(words) and other > len(words):
        return None
    return "other" if other <= phone else "phone"
