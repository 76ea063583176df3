"""PERSON: people's names, Chinese and English, without a NER model.

    {"收件人": "张伟"}            whole value under a name field      0.85
    姓名：李四 / Name: John Smith  inline label                        0.85
    王先生 / 李明女士 / Mr. Smith  salutation                          0.6 / 0.7
    "Best regards,\\nJane Doe"    signature                           0.6
    ...张伟...                    jieba ``nr`` in free text            0.3 (context lifts)

A Chinese name is 2-4 CJK characters starting with a known surname
(``detectors/data/cn_surnames.txt``) and is not a brand, place or common
word (``cn_not_names.txt``, or a jieba dictionary word not tagged as a name):
jieba alone calls 华为, 李宁 and 王府井 names. English names in free text
need the optional spaCy NER pipeline (``DetectorConfig.nlp_model``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import jieba
import jieba.posseg
from presidio_analyzer import Pattern, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from detectors.lexicon import not_names, surnames
from detectors.recognizers.base import ScoredPatternRecognizer

CJK = "\u3400-\u4dbf\u4e00-\u9fff"
CN_LABELS = (
    "真实姓名|客户姓名|姓名|名字|收件人|收货人|联系人|持卡人|寄件人|开户名|户名|乘车人|乘机人|"
    "入住人|申请人|经办人|负责人|签收人|客户"
)
EN_NAME = r"[A-Z][a-z'’-]+(?:\s[A-Z][a-z'’-]+){0,2}"
EN_TITLES = r"Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Madam"
CN_TITLES = "先生|女士|小姐|太太|老师|经理|医生|律师|教授"
SIGN_OFFS = (
    r"Best regards|Kind regards|Warm regards|Regards|Best wishes|Yours sincerely|"
    r"Yours truly|Sincerely|Cheers|Thanks|Thank you|Best"
)

# Field names whose value is a person's name. English keys are split into
# words ("customerName" -> customer, name); the last word decides.
NAME_FIELD_TAILS = frozenset(
    [
        "name",
        "fullname",
        "firstname",
        "lastname",
        "surname",
        "givenname",
        "familyname",
        "realname",
        "contact",
        "receiver",
        "recipient",
        "consignee",
        "cardholder",
        "holder",
        "customer",
        "addressee",
        "attn",
        "payee",
        "sender",
        "shipper",
        "signer",
        "passenger",
        "guest",
        "patient",
    ]
)
NOT_PERSON_NAMES = frozenset(
    [
        "user",
        "file",
        "host",
        "nick",
        "domain",
        "display",
        "app",
        "product",
        "company",
        "brand",
        "shop",
        "store",
        "item",
        "sku",
        "class",
        "type",
        "tag",
        "key",
        "field",
        "model",
        "device",
        "server",
        "bucket",
        "project",
        "repo",
        "group",
        "org",
        "organization",
        "team",
        "table",
        "column",
        "event",
        "service",
        "package",
        "module",
        "image",
        "container",
        "queue",
        "topic",
        "channel",
        "city",
        "country",
        "street",
        "province",
        "bank",
        "branch",
        "merchant",
        "plan",
        "category",
        "label",
        "role",
        "account",
        "app",
        "dataset",
        "database",
        "db",
        "schema",
        "index",
        "function",
        "method",
        "variable",
    ]
)
CN_NAME_FIELDS = (
    "姓名",
    "名字",
    "收件人",
    "收货人",
    "联系人",
    "持卡人",
    "寄件人",
    "户名",
    "客户",
    "乘客",
    "入住人",
    "申请人",
    "签收人",
    "经办人",
    "负责人",
)


def field_words(field: str) -> list[str]:
    """``"customerName"`` -> ["customer", "name"]; ``"full_name"`` -> ["full", "name"]."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", field)
    return [w for w in re.split(r"[^0-9a-z]+", spaced.lower()) if w]


def is_name_field(context: Iterable[str]) -> bool:
    """True if the nearest field name (last context word) holds a person's name."""
    words = list(context)
    if not words:
        return False
    field = words[-1]
    if re.search(f"[{CJK}]", field):
        return field.endswith(CN_NAME_FIELDS) and not field.endswith(("用户名", "昵称"))
    parts = field_words(field)
    if not parts:
        return False
    joined = "".join(parts)
    if parts[-1] not in NAME_FIELD_TAILS and joined not in NAME_FIELD_TAILS:
        return False
    return parts[-1] != "name" or len(parts) == 1 or parts[-2] not in NOT_PERSON_NAMES


def is_cn_name(word: str) -> bool:
    """2-4 CJK chars, a known surname first, not a brand/place/common word."""
    if not 2 <= len(word) <= 4 or not re.fullmatch(f"[{CJK}]+", word):
        return False
    known = surnames()
    surname = known.surname_length(word)
    if surname == 0 or (len(word) == 4 and surname == 1 and word[1] not in known.single):
        return False  # 4 chars: compound surname, or two surnames (张王小明)
    if word in not_names():
        return False
    tag = jieba.posseg.dt.word_tag_tab.get(word)
    return tag is None or tag.startswith("nr")


def is_en_name(value: str) -> bool:
    """``"John Smith"``, ``"Mary-Jane O'Neil"``, ``"SMITH"``: 1-4 capitalised words."""
    return bool(re.fullmatch(r"[A-Z][A-Za-z'’-]*\.?(?: [A-Z][A-Za-z'’-]*\.?){0,3}", value))


def cn_name_at(run: str) -> str | None:
    """The name at the start of a CJK run: ``"张三电话"`` -> ``"张三"``."""
    if is_cn_name(run):
        return run
    words = jieba.lcut(run[:8], HMM=True)
    first = words[0]
    if len(words) > 1 and surnames().surname_length(first) == len(first):
        first += words[1]  # jieba split surname from given name: 张 / 三丰
    return first if is_cn_name(first) else None


def cn_name_before(text: str, end: int) -> tuple[int, int] | None:
    """The name just before a title ending at ``end``: 李先生, 李明先生, 欧阳先生."""
    known = surnames()
    before = re.search(f"[{CJK}]{{1,3}}$", text[max(0, end - 3) : end])
    if not before:
        return None
    chars = before.group(0)
    if chars[-2:] in known.compound:
        return end - 2, end
    if chars[-1:] in known.common:
        return end - 1, end
    for size in (2, 3):
        candidate = chars[-size:]
        if len(candidate) == size and is_cn_name(candidate):
            return end - size, end
    return None


class PersonRecognizer(ScoredPatternRecognizer):
    ENTITY = "PERSON"
    WHOLE_VALUE = "baomi_whole_value"
    PATTERNS = (
        Pattern("cn label", f"(?:{CN_LABELS})\\s*[:：]?\\s*(?P<v>[{CJK}]{{2,8}})", 0.85),
        Pattern(
            "en label",
            rf"(?i:\b(?:full name|name|customer|contact|recipient|attn|"
            rf"card ?holder))\s*[:：]\s*(?P<v>{EN_NAME})\b",
            0.85,
        ),
        Pattern("cn title", f"(?P<v>[{CJK}])(?={CN_TITLES})", 0.6),
        Pattern("en title", rf"\b(?:{EN_TITLES})\.?\s+(?P<v>{EN_NAME})\b", 0.7),
        Pattern(
            "signature",
            rf"(?:^|\n)[ \t]*(?:{SIGN_OFFS})[ \t]*[,!.]?[ \t]*\r?\n\s*"
            rf"(?P<v>[A-Z][a-z'’-]+(?:[ \t][A-Z][a-z'’-]+){{1,2}})[ \t]*(?=\r?\n|$)",
            0.6,
        ),
    )
    CONTEXT = (
        "姓名",
        "收件人",
        "收货人",
        "联系人",
        "持卡人",
        "寄件人",
        "户名",
        "客户",
        "name",
        "recipient",
        "receiver",
        "consignee",
        "cardholder",
    )

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
                span = self.name_span(match, pattern)
                if span:
                    results.append(self.result(*span, pattern.score, pattern.name))
        results.extend(self.whole_value(text))
        results.extend(self.jieba_names(text))
        return self.remove_duplicates(results)

    def name_span(self, match: re.Match[str], pattern: Pattern) -> tuple[int, int] | None:
        start = match.start("v")
        if pattern.name == "cn label":
            name = cn_name_at(match.group("v"))
            return (start, start + len(name)) if name else None
        if pattern.name == "cn title":
            return cn_name_before(match.string, match.end("v"))
        return match.span("v")

    def whole_value(self, text: str) -> list[RecognizerResult]:
        """A value that is only a name: scored by ``enhance_using_context`` from its field."""
        value = text.strip()
        if not value or len(value) > 40 or not (is_cn_name(value) or is_en_name(value)):
            return []
        start = text.index(value)
        result = self.result(start, start + len(value), 0.3, "whole value")
        result.recognition_metadata[self.WHOLE_VALUE] = True
        return [result]

    def jieba_names(self, text: str) -> list[RecognizerResult]:
        """jieba's ``nr`` words that pass ``is_cn_name``: a weak signal (0.3).

        Only after the first context word (联系人, 客户 ...): a 0.3 name counts
        only when a context word precedes it, and jieba is the slow part.
        """
        lowered = text.lower()
        first = min((i for i in (lowered.find(w) for w in self.CONTEXT) if i >= 0), default=-1)
        if first < 0:
            return []
        results = []
        for run in re.finditer(f"[{CJK}]{{2,}}", text):
            if run.end() <= first:
                continue
            offset = run.start()
            for word, tag in jieba.posseg.cut(run.group(0), HMM=True):
                if tag.startswith("nr") and is_cn_name(word):
                    results.append(self.result(offset, offset + len(word), 0.3, "jieba nr"))
                offset += len(word)
        return results

    def enhance_using_context(
        self,
        text: str,
        raw_recognizer_results: list[RecognizerResult],
        other_raw_recognizer_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        """Whole values are decided by their field alone; other results by the generic enhancer."""
        name_field = is_name_field(context or [])
        for result in raw_recognizer_results:
            if not result.recognition_metadata.get(self.WHOLE_VALUE):
                continue
            value = text[result.start : result.end]
            if name_field:
                result.score = 0.85 if is_cn_name(value) else 0.8 if " " in value else 0.6
            result.recognition_metadata[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = True
        return raw_recognizer_results
