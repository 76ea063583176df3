"""PERSON: people's names, Chinese and English, without a NER model.

    {"收件人": "张伟"}            whole value under a name field      0.85
    姓名：李四 / Name: John Smith  inline label                        0.85
    王先生 / 李明女士 / Mr. Smith  salutation                          0.6 / 0.7
    "Best regards,\\nJane Doe"    signature                           0.6
    尊敬的张伟： / Dear Jane Doe,  greeting                            0.75
    我是张伟 / this is Jane Doe   self-introduction                   0.7
    张伟的手机 / 此致\\n张伟       possessive before personal data, sign-off 0.7
    张伟,13800138000 (table row)  a cell under a name column          0.85
    ...张伟（138...）             a name next to other personal data   0.6

A Chinese name is 2-4 CJK characters starting with a known surname
(``detectors/data/cn_surnames.txt``) and is not a brand, place or common
word (``cn_not_names.txt``, or a jieba dictionary word not tagged as a name):
jieba alone calls 华为, 李宁 and 王府井 names. Under a name field only
places, organisations and brands are refused (高利 is a word and a name).

A name next to a phone number, ID, card, e-mail or address (jieba's ``nr``
words in Chinese, two or three capitalised words in English) scores 0.6; on
its own 0.3, and no context word lifts it: "客户反馈高德地图..." must stay clean. English names elsewhere in free text
need the optional spaCy NER pipeline (``DetectorConfig.nlp_model``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

import jieba
import jieba.posseg
from presidio_analyzer import Pattern, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from detectors.cn_foreign import dotted_names, place_word, translit_chars
from detectors.fieldnames import (  # noqa: F401 - re-exported: the recognizer's field rules
    CN_NAME_FIELDS,
    CONTEXT,
    NAME_FIELD_TAILS,
    NOT_PERSON_NAMES,
    QUALIFIERS,
    field_words,
    is_name_field,
    names_a_thing,
)
from detectors.lexicon import not_names, surnames
from detectors.model_names import (
    PLACE_HEADS,
    SHOP_AFTER,
    chinese_name_shaped,
    first_names,
    lower_word_not_subject,
    ner_score,
    on_word_bounds,
    sentence_start,
)
from detectors.prefilter import worth_ner
from detectors.recognizers.base import ScoredPatternRecognizer
from detectors.tables import DELIMITERS, cells, column_header

CJK = "\u3400-\u4dbf\u4e00-\u9fff"
CN_LABELS = (
    "真实姓名|客户姓名|姓名|名字|收件人|收货人|联系人|持卡人|寄件人|开户名|户名|乘车人|乘机人|"
    "入住人|申请人|经办人|负责人|签收人|客户"
)
# A capitalised word, maybe with one inner capital (McDonald, FitzGerald, MaryAnn).
EN_WORD = r"[A-Z][a-z'’-]+(?:[A-Z][a-z'’-]+)?"
EN_NAME = rf"{EN_WORD}(?:\s{EN_WORD}){{0,2}}"
EN_TITLES = r"Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Madam"
CN_TITLES = "先生|女士|小姐|太太|老师|经理|医生|律师|教授"
CN_TITLE_AT = re.compile(CN_TITLES)
# Organisations (招商银行, 金山公司) and roles (管理员, 司机, 车主) start with a surname too.
ORG_ENDINGS = ("银行", "公司", "集团", "大学", "学院", "医院", "中心", "酒店", "商场", "超市", "科技")
ROLE_ENDINGS = tuple("员师者工主客户手监商长机")
SIGN_OFFS = (
    r"Best regards|Kind regards|Warm regards|Regards|Best wishes|Yours sincerely|"
    r"Yours truly|Sincerely|Cheers|Thanks|Thank you|Best"
)

def has_name_column(context: Iterable[str]) -> bool:
    """A table header (all its words as context) with a column of people's names."""
    words = [w for field in context for w in (field_words(field) or [field])]
    for i, word in enumerate(words):
        if re.search(f"[{CJK}]", word):
            if word.endswith(CN_NAME_FIELDS) and not word.endswith(("用户名", "昵称")):
                return True
        elif (word in NAME_FIELD_TAILS and word != "name") or (
            word == "name" and (i == 0 or words[i - 1] not in NOT_PERSON_NAMES)
        ):
            return True
    return False


def is_cn_name(word: str, field: bool = False) -> bool:
    """2-4 CJK chars, a known surname first, not a brand/place/common word.

    ``field``: the value sits under a name field, so only places, organisations
    and brands (jieba ns/nt/nz) are refused, not every dictionary word: 高利
    ("high interest") is a common word and a common name.
    """
    if not 2 <= len(word) <= 4 or not re.fullmatch(f"[{CJK}]+", word):
        return False
    known = surnames()
    surname = known.surname_length(word)
    if surname == 0 or (len(word) == 4 and surname == 1 and word[1] not in known.single):
        return False  # 4 chars: compound surname, or two surnames (张王小明)
    if word in not_names() or (len(word) > 2 and word.endswith(ORG_ENDINGS)):
        return False
    tag = jieba.posseg.dt.word_tag_tab.get(word)
    if field:
        if tag == "n" and word.endswith(ROLE_ENDINGS):
            return False  # 管理员, 司机, 车主: a role, not a person's name
        return tag is None or not tag.startswith(("ns", "nt", "nz"))
    if tag is None and len(word) == 3 and surname == 1 and starts_with_a_word(word):
        return False  # 皮肤学(教授), 马上到, 司机们: a word and one more character
    return tag is None or tag.startswith("nr")


# jieba's tags of a one-character word that cannot open a name found in running text:
# prepositions, conjunctions, particles, adverbs, verbs (向|美方, 和|定位, 都|由, 干|农机).
FUNCTION_TAGS = ("p", "c", "u", "d", "v")


def opens_a_word(text: str, start: int, end: int, cued: bool = False) -> bool:
    """Does a name found by a cue in running text start where jieba's word starts, and
    not with a function word or verb standing alone (unless that is the whole name)?
    ``cued``: a label or a self-introduction ends where the name starts, so the words are
    read from there (客户|王永胜, where jieba reads 客户王|永胜 from further back).

    >>> text = "对方提供的号码，负责人向美方介绍，我叫于小红"
    >>> [opens_a_word(text, a, b) for a, b in ((1, 4), (11, 14), (19, 22))]
    [False, False, True]
    """
    low = start if cued else max(0, start - 6)
    at, first = low, None
    for pair in jieba.posseg.dt.cut(text[low:end]):
        if at == start:
            first = pair
        at += len(pair.word)
    if first is None:
        return False  # the name starts inside a word: 对|方提供, 相|关部门
    alone = len(first.word) == 1 < end - start
    return not (alone and first.flag.startswith(FUNCTION_TAGS))


def starts_with_a_word(word: str) -> bool:
    """The first two characters are a common jieba word that is not a name (皮肤, 马上)."""
    head = word[:2]
    tag = jieba.posseg.dt.word_tag_tab.get(head)
    common = tag is not None and not tag.startswith(("nr", "ns", "nz"))  # 黄海|燕 is a name
    return common and jieba.dt.FREQ.get(head, 0) >= 20


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


def words_around(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """jieba's words of ``text[start:end]`` as (start, end) offsets in ``text``."""
    return [(start + a, start + b) for _, a, b in jieba.tokenize(text[start:end], HMM=True)]


def cn_name_before_title(text: str, title_start: int, title_end: int) -> tuple[int, int] | None:
    """The name a title belongs to, read with jieba's words, not characters.

    A name starts where a word starts: 公司副总经理 is 公司 / 副总经理, so 司副总 is
    no name. A title inside a longer word is a job title (副总经理, 客户经理, 部门经理)
    and a name, if any, stands before that word (张 / 总经理); a word that is a name
    and its title together (王经理, 刘老师, 欧阳先生) gives the name.
    """
    low = max(0, title_start - 8)
    words = words_around(text, low, title_end)
    bounds = {a for a, _ in words} | {title_start}
    fused = next(((a, b) for a, b in words if a < title_start < b), None)
    if fused is not None:
        prefix = text[fused[0] : title_start]
        if prefix in surnames().compound or prefix in surnames().common or is_cn_name(prefix):
            return fused[0], title_start  # 王经理, 欧阳先生, 李明医生
        bounds.discard(title_start)
        title_start = fused[0]  # 张/总经理: the name ends before the job title
    word = next(((a, b) for a, b in words if b == title_start), None)
    if word is not None and is_cn_name(text[word[0] : word[1]]) and (word[0] > low or low == 0):
        return word  # 潘林|女士: the word before the title is a name
    span = cn_name_before(text, title_start)
    if span is None or span[0] not in bounds or (span[0] == low > 0):
        return None
    return span


def cn_name_ending(text: str, end: int, opening: bool = False) -> tuple[int, int] | None:
    """A 2-4 character name ending at ``end``: "另外，张飞" -> 张飞, "客户王小明" -> 王小明.
    ``opening``: the first that also opens a word (一张|王芳, not 张王芳).

    >>> text = "我找到一张王芳的照片，相关部门的电话"
    >>> cn_name_ending(text, 7), cn_name_ending(text, 7, opening=True)
    ((4, 7), (5, 7))
    >>> cn_name_ending(text, 15, opening=True)
    """
    for size in (3, 2, 4):
        candidate = text[max(0, end - size) : end]
        named = len(candidate) == size and is_cn_name(candidate)
        if named and not opening:
            return end - size, end
        # Four characters only with a compound surname when skipping on (相关部门 is no name).
        compound = size < 4 or surnames().surname_length(candidate) == 2
        if named and compound and opens_a_word(text, end - size, end):
            return end - size, end
    return None


def en_words_ok(value: str, field: bool = False) -> bool:
    """Not an organisation ("Umbrella Corporation": its head word), no acronym among
    capitalised words ("Custom IP Blocklist"; "JOHN SMITH" is fine), and, in prose
    (``field`` False), not made only of role, label and technical words ("Project
    Manager"), no header name ("Idempotency-Key"), no street ("Kayla Ports") and no
    sentence word first ("Thanks Jane").

    Under a name field or after a name label the value is a name unless it is an
    organisation: surnames are words too (George Best, Edward Head, Sarah Partner).

    >>> en_words_ok("Jane Doe"), en_words_ok("Project Manager"), en_words_ok("Idempotency-Key")
    (True, False, False)
    >>> en_words_ok("Sarah Partner"), en_words_ok("Best", field=True)
    (True, True)
    >>> en_words_ok("Marketing Team", field=True)
    False
    """
    words = [word.rstrip(".,") for word in value.split()]
    parts = [part for word in words for part in word.split("-")]
    if not parts or parts[-1] in ORG_HEADS or (ACRONYM.search(value) and not value.isupper()):
        return False
    if field:
        return True
    if all(part in EN_NOT_NAMES for part in parts) or words[0] in SENTENCE_WORDS:
        return False
    if parts[-1] in STREET_HEADS:
        return False
    return not any("-" in word and word.split("-")[-1] in EN_NOT_NAMES for word in words)


# Capitalised words that start sentences and labels, not names.
_EN_NOT_NAMES = (
    "The This That These Your Our My Please Dear Hi Hello Hey Thanks Thank Best Kind Warm "
    "Regards Call Contact Email Phone Mobile Name Customer Order Invoice Billing Shipping "
    "Address Questions Team All Valued Sir Madam Support Service Sales Street Avenue Road "
    "Suite Apt Unit Monday Tuesday Wednesday Thursday Friday Saturday Sunday January "
    "February September October November December "  # not April, May, June...: first names too
    "Also Meeting Notes Deploy Deployed Trace Batch Summarise Draft Clean Good Morning "
    # job titles and roles: "Project Manager", "Sales Director", "Account Executive"
    "Manager Director Engineer Officer President Assistant Specialist Consultant Analyst "
    "Developer Administrator Admin Admins Coordinator Representative Agent Supervisor Executive "
    "Chief Head Lead Intern Architect Designer Accountant Owner Owners Member Members Founder "
    "Partner Editor Reviewer Operator Staff Employee Vice Senior Junior Principal Associate "
    "Project Product Account Marketing Finance Operations Engineering Legal Security "
    # organisations and groups: "Umbrella Corporation", "Marketing Team", "Bank of China"
    "Team Teams Group Groups Corporation Corp Inc Ltd LLC Company Co Bank University College "
    "Institute Department Foundation Association Agency Ministry Bureau Office Hospital Store "
    "Industries Industrial Technologies Technology Solutions Systems Services Labs Holdings "
    "Capital Ventures Global International Enterprises Networks Media Consulting Logistics "
    # technical terms: HTTP header names, API and product words ("Idempotency-Key")
    "Key Type Id ID Request Response Content Length Encoding Control Token Api API Version "
    "Forwarded Host Origin Agent Accept Cache Default Custom Test Demo Sample Example Blocklist "
    "Allowlist List Server Client Cloud Platform App Apps Web Mobile Studio Pro Plus Premium"
)
EN_NOT_NAMES = frozenset(_EN_NOT_NAMES.split())
# The head word of an organisation's name: "Umbrella Corporation", "Marketing Team".
_ORG_HEADS = (
    "Team Teams Group Groups Corporation Corp Inc Ltd LLC Company Co Bank University College "
    "Institute Department Foundation Association Agency Ministry Bureau Office Hospital Store "
    "Industries Technologies Solutions Systems Services Labs Holdings Ventures Enterprises "
    "Networks Consulting Logistics"
)
ORG_HEADS = frozenset(_ORG_HEADS.split())
# The head word of a street's or a place's name ("Kayla Ports" is caught by the address
# recognizer; "Wembley Stadium", "Sand Springs"): what it is, not who. Not the place words
# that are common surnames too (Park, Hall, Church, Lake, Bay, Rivers, Castle, Bridges).
_STREET_HEADS = (
    "Street Avenue Road Suite Apt Unit Stadium Springs Museum Square Station Airport Centre "
    "Center Cathedral Palace Hotel Theatre Theater Arena Island Mountain Beach County Valley "
    "Heights Gardens Falls Harbour Harbor Boulevard"
)
STREET_HEADS = frozenset(_STREET_HEADS.split())
# The head word of a product's, a tool's or a plan's name: Travis Build, Jackson Core,
# Julia Lang, Marshall Plan, Kafka Streams (no surname among them in the tuning set).
_PRODUCT_HEADS = (
    "Build Builds Core Plan Lang Language Framework Library Engine Kit Toolkit SDK Plugin "
    "Plugins Runner Suite Stack Stream Streams Compiler Runtime Driver Bot Hub Edition "
    "Console Desktop Scheduler Parser Pipeline Dashboard Module Package Script Scripts"
)
PRODUCT_HEADS = frozenset(_PRODUCT_HEADS.split())
# Every head word of a place's or an organisation's name, and the surnames among them: a
# model's "Grace Park" stays a name, "Cal Anderson Park" and "Linkin Park" do not.
HEADS = ORG_HEADS | STREET_HEADS | PLACE_HEADS
_SURNAME_HEADS = "Park Hall Church Lake Bay Hill Hills Lane Field Fields Bridge Brook"
SURNAME_HEADS = frozenset(_SURNAME_HEADS.split())
NEXT_WORD = re.compile(r" ([A-Z][^\W\d_]+)")
# Words no one is named that start sentences, greetings and thanks ("Thanks Jane").
_SENTENCE_WORDS = "The This That These Your Our My Please Dear Hi Hello Hey Thanks Thank"
SENTENCE_WORDS = frozenset(_SENTENCE_WORDS.split())
ACRONYM = re.compile(r"\b[A-Z]{2,}\b")
# Digits (a phone, an ID, a card), an e-mail, a house number: where other personal data may sit.
ANCHOR = re.compile(
    r"[0-9][0-9 ()+-]{5,}[0-9]|[A-Za-z0-9]@[A-Za-z0-9]|[号室]|\b[0-9]{1,6} [A-Z][a-z]"
)
# Raw scores, before context: a passport scores 0.35 until 护照/passport lifts it, and the
# engine only runs the passport recognizer when such a word is there.
NEIGHBOUR_SCORE = {"CN_PASSPORT": 0.35}
NEAR_BEFORE, NEAR_AFTER = 24, 12  # a name this close before / after other personal data
CJK_RUN = re.compile(f"[{CJK}]{{2,}}")
EN_RUN = re.compile(r"[A-Z][a-z'’-]+(?:[ ][A-Z][a-z'’-]+){1,2}")
NEIGHBOURS = frozenset(
    [
        "PHONE_NUMBER",
        "CN_RESIDENT_ID",
        "CREDIT_CARD",
        "EMAIL_ADDRESS",
        "ADDRESS",
        "CN_PASSPORT",
        "IP_ADDRESS",
        "IBAN_CODE",
    ]
)


class PersonRecognizer(ScoredPatternRecognizer):
    ENTITY = "PERSON"
    WHOLE_VALUE = "baomi_whole_value"
    CELL = "baomi_table_cell"
    NEAR = "baomi_near_other_data"
    PATTERNS = (
        Pattern("cn label", f"(?:{CN_LABELS})\\s*[:：]?\\s*(?P<v>[{CJK}]{{2,8}})", 0.85),
        Pattern(
            "en label",
            rf"(?i:\b(?:full name|name|customer|contact|recipient|attn|"
            rf"card ?holder))\s*[:：]\s*(?P<v>{EN_NAME})\b",
            0.85,
        ),
        Pattern("en holder", rf"(?i:\b(?:account|card) ?holder)\s+(?P<v>{EN_NAME})\b", 0.7),
        Pattern("cn title", f"(?P<v>[{CJK}])(?={CN_TITLES})", 0.6),
        Pattern("en title", rf"\b(?:{EN_TITLES})\.?\s+(?P<v>{EN_NAME})\b", 0.7),
        Pattern(
            "signature",
            rf"(?:^|\n)[ \t]*(?:{SIGN_OFFS})[ \t]*[,!.]?[ \t]*\r?\n\s*"
            rf"(?P<v>[A-Z][a-z'’-]+(?:[ \t][A-Z][a-z'’-]+){{1,2}})[ \t]*(?=\r?\n|$)",
            0.6,
        ),
        Pattern(
            "cn greeting",
            f"(?:尊敬的|亲爱的)\\s*(?P<v>[{CJK}]{{2,4}})(?=\\s*(?:[：:，,！!]|{CN_TITLES}))",
            0.75,
        ),
        Pattern(
            "en greeting",
            rf"\b(?:Dear|Hi|Hello|Hey)\s+(?P<v>{EN_WORD}(?:\s{EN_WORD}){{1,2}})\s*[,!:]",
            0.75,
        ),
        Pattern("cn self", f"(?:我是|我叫|本人|我的名字是|我的名字叫)(?P<v>[{CJK}]{{2,6}})", 0.7),
        # Any role's label with its colon (审核人：钱峰, 业务员：张三), as a form lists them.
        Pattern("cn role label", f"[{CJK}](?:人|员)\\s*[:：]\\s*(?P<v>[{CJK}]{{2,8}})", 0.85),
        Pattern(
            "en self",
            rf"\b(?:[Tt]his is|[Mm]y name is|I am|I'm)\s+(?P<v>{EN_WORD}(?:\s{EN_WORD}){{1,2}})\b",
            0.7,
        ),
        Pattern(
            "cn possessive",
            f"(?P<v>[{CJK}]{{2,4}})(?=的(?:手机|电话|身份证|证件|地址|住址|邮箱|银行卡|卡号|联系方式|微信|"
            "简历|照片|档案|病历|护照|驾照|工资|账户|账号))",
            0.7,
        ),
        Pattern(
            "cn sign-off",
            f"(?:^|\\n)[ \\t]*(?:此致|敬礼|谢谢|多谢|祝好|顺祝商祺|祝商祺)[！!。，,]?[ \\t]*\\r?\\n\\s*"
            f"(?P<v>[{CJK}]{{2,4}})[ \\t]*(?=\\r?\\n|$)",
            0.7,
        ),
    )
    CONTEXT = CONTEXT

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
        results.extend(self.cells(text))
        results.extend(self.near_other_data(text))
        results.extend(self.beside_model_names(text, nlp_artifacts))
        results.extend(self.foreign_names(text))
        results.extend(self.names_by_role(text, nlp_artifacts))
        results.extend(self.novel_names(text, nlp_artifacts))
        return self.remove_duplicates(results)

    def novel_names(self, text: str, nlp_artifacts: NlpArtifacts | None) -> list[RecognizerResult]:
        """Names jieba's HMM finds in prose that no dictionary holds (see ``novel_names``);
        not where the model guessed (scored there)."""
        if nlp_artifacts is None or not worth_ner(text):
            return []  # not prose (a field's value: the field rules decide)
        guesses = [(e.start_char, e.end_char) for e in getattr(nlp_artifacts, "entities", None) or ()]
        return [
            self.result(start, end, PROSE_SCORE, "cn novel name")
            for start, end in novel_names(text)
            if not any(a < end and start < b for a, b in guesses)
        ]

    def names_by_role(self, text: str, nlp_artifacts: NlpArtifacts | None) -> list[RecognizerResult]:
        """jieba's names right after a role (市长郭金龙, 记者张帆, 主任饶贵民), or with a common
        surname right before a speech verb or a party word (黎友焕表示, 谢有福说，, 彭真同志):
        news and reports name people so, and the model misses many of them."""
        guesses = [(e.start_char, e.end_char) for e in getattr(nlp_artifacts, "entities", None) or ()]
        results = []
        for run in CJK_RUN.finditer(text):
            if not cued_run(text, run):
                continue  # no cue, no name here: spares jieba the run (it is the slow part)
            for offset, word in cn_names_in(run.group(0)):
                start = run.start() + offset
                end = start + len(word)
                if any(a < end and start < b for a, b in guesses):
                    continue
                # A role says a person follows: any surname (主任|饶贵民); a verb after a
                # word says less: a common one (谢有福|说).
                role = ROLE_BEFORE.search(text, max(0, start - 4), start) is not None
                cued = role or (
                    word[0] in surnames().common
                    and (SPEECH_AFTER.match(text, end) or PARTY_AFTER.match(text, end))
                    and text[start - 1 : start] not in PLACE_BEFORE
                )  # 记者从|莫斯科|报道: a place
                if cued and word[1:2] not in TITLE_CHARS and kept_as_model_name(text, start, end):
                    results.append(self.result(start, end, ROLE_SCORE, "cn role or speech"))
        for start, end in foreign_by_role(text) + names_after_roles(text):
            if not any(a < end and start < b for a, b in guesses):
                results.append(self.result(start, end, ROLE_SCORE, "cn role or speech"))
        return results

    def foreign_names(self, text: str) -> list[RecognizerResult]:
        """Transliterated names whose parts a middle dot joins (约翰·史密斯, 萊利·克拉克),
        with or without the model: it often calls them places, and they carry no Chinese
        surname for the other rules (detectors/cn_foreign.py)."""
        return [self.result(a, b, FOREIGN_SCORE, "cn foreign name") for a, b in dotted_names(text)]

    def beside_model_names(
        self, text: str, nlp_artifacts: NlpArtifacts | None
    ) -> list[RecognizerResult]:
        """Chinese names in prose where the model found a person (its spans are in the
        artifacts): jieba's three-character names with a common surname (张治中, 程知节),
        and the other items of a list holding a model name (梦鸽、韩红、许飞: 韩红, 许飞)."""
        guesses = [(e.start_char, e.end_char) for e in getattr(nlp_artifacts, "entities", None) or ()]
        if not guesses:
            return []
        results = []
        for run in CJK_RUN.finditer(text):
            for offset, word in cn_names_in(run.group(0)):
                start = run.start() + offset
                end = start + len(word)
                if any(a < end and start < b for a, b in guesses):
                    continue  # the model's own guess: scored there
                beside = prose_name(word) or listed_with(text, start, end, guesses)
                if beside and kept_as_model_name(text, start, end):
                    results.append(self.result(start, end, PROSE_SCORE, "beside model names"))
        return results

    def name_span(self, match: re.Match[str], pattern: Pattern) -> tuple[int, int] | None:
        start = match.start("v")
        if pattern.name in ("cn label", "cn role label", "cn greeting", "cn self"):
            name = cn_name_at(match.group("v"))
            if name is None:
                return None
            end = start + len(name)
            # A label word in running text (名字和定位, 我是干农机出身) is no label.
            colon = any(c in match.group(0) for c in ":：")
            loose = pattern.name == "cn self" or (pattern.name == "cn label" and not colon)
            opens = not loose or opens_a_word(match.string, start, end, cued=True)
            return (start, end) if opens else None
        if pattern.name == "cn title":
            title = CN_TITLE_AT.match(match.string, match.end("v"))
            assert title is not None  # the pattern's lookahead matched it
            found = cn_name_before_title(match.string, *title.span())
            return found if found is None or opens_a_word(match.string, *found) else None
        if pattern.name == "cn possessive":
            found = cn_name_ending(match.string, match.end("v"), opening=True)
            return found if found is None or owner_word_ok(match.string, *found) else None
        if pattern.name == "cn sign-off":
            return match.span("v") if is_cn_name(match.group("v")) else None
        labelled = pattern.name in ("en label", "en holder", "en title")
        if pattern.name.startswith("en") and not en_words_ok(match.group("v"), labelled):
            return None
        return match.span("v")

    def tagged(self, start: int, end: int, why: str, tag: str) -> RecognizerResult:
        """A 0.3 candidate that only ``enhance_using_context`` can lift."""
        result = self.result(start, end, 0.3, why)
        result.recognition_metadata[tag] = True
        return result

    def whole_value(self, text: str) -> list[RecognizerResult]:
        """A value that is only a name: scored by ``enhance_using_context`` from its field."""
        value = text.strip()
        if not value or len(value) > 40:
            return []
        if not (
            is_cn_name(value, field=True) or (is_en_name(value) and en_words_ok(value, field=True))
        ):
            return []
        start = text.index(value)
        return [self.tagged(start, start + len(value), "whole value", self.WHOLE_VALUE)]

    def cells(self, text: str) -> list[RecognizerResult]:
        """Cells of a delimited row that are wholly a name ("张三,13800138000")."""
        results: list[RecognizerResult] = []
        offset = 0
        for line in text.split("\n"):
            delimiter = max(DELIMITERS, key=line.count)
            for start, end in cells(line, delimiter) if delimiter in line else ():
                value = line[start:end].strip().strip('"')
                if value and (
                    is_cn_name(value, field=True)
                    or (" " in value and is_en_name(value) and en_words_ok(value, field=True))
                ):
                    at = offset + line.index(value, start)
                    results.append(self.tagged(at, at + len(value), "table cell", self.CELL))
            offset += len(line) + 1
        return results

    def near_other_data(self, text: str) -> list[RecognizerResult]:
        """Name-like words close to digits or an e-mail: jieba ``nr`` words, capitalised runs."""
        results = []
        for low, high in near_regions(text):
            for run in CJK_RUN.finditer(text, low, high):
                for offset, word in cn_names_in(run.group(0)):
                    start = run.start() + offset
                    results.append(self.tagged(start, start + len(word), "near data", self.NEAR))
            for run in EN_RUN.finditer(text, low, high):
                if en_words_ok(run.group(0)):
                    results.append(self.tagged(*run.span(), "near data", self.NEAR))
        return results

    def enhance_using_context(
        self,
        text: str,
        raw_recognizer_results: list[RecognizerResult],
        other_raw_recognizer_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        """Tagged candidates are decided here, the rest by the generic enhancer."""
        name_field = is_name_field(context or [])
        name_column = has_name_column(context or [])
        neighbours = [
            r
            for r in other_raw_recognizer_results
            if r.entity_type in NEIGHBOURS and r.score >= NEIGHBOUR_SCORE.get(r.entity_type, 0.4)
        ]
        for result in raw_recognizer_results:
            metadata = result.recognition_metadata
            value = text[result.start : result.end]
            cn = is_cn_name(value, field=True)
            if metadata.get(self.WHOLE_VALUE) and name_field:
                result.score = 0.85 if cn else 0.8 if " " in value else single_word(context)
            elif metadata.get(self.CELL) and (name_column or self.in_name_column(text, result)):
                result.score = 0.85 if cn else 0.8
            elif metadata.get(self.NEAR) and near(result, neighbours, text):
                result.score = 0.6
            if any(
                n.entity_type == "ADDRESS" and n.start <= result.start and result.end <= n.end
                for n in neighbours
            ):
                result.score = 0.0  # 吴路 in 江西省…吴路244号 is a road
            if metadata.get(self.WHOLE_VALUE) or metadata.get(self.CELL) or metadata.get(self.NEAR):
                metadata[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = True
        return raw_recognizer_results

    @staticmethod
    def in_name_column(text: str, result: RecognizerResult) -> bool:
        header = column_header(text, result.start) if "\n" in text else None
        return header is not None and is_name_field([header])


PROSE_SCORE = 0.5  # as the model's own guess without a name's marks
FOREIGN_SCORE = 0.6  # a dotted transliteration: the shape of a name, not its context
ROLE_SCORE = 0.6  # a name by its role or speech verb (names_by_role)
FOREIGN_RUN = re.compile(f"[{''.join(sorted(translit_chars()))}]{{2,7}}")
# Roles and jobs news writes right before a name (市长郭金龙, 记者张帆, 教授黎友焕).
ROLES = (
    "(?:记者|通讯员|经理|主任|部长|总统|主席|教练|教授|总理|市长|省长|县长|区长|行长|局长|"
    "董事长|委员|主管|编辑|主编|顾问|作者|书记|院长|校长|处长|厂长|所长|总裁|总监|律师|医生|"
    "法官|队长|会长|社长|导演|演员|歌手|选手|球员|球星|画家|作家|专家|学者|研究员|工程师|负责人|"
    # News on sport and abroad: a player's position, a coach, a minister, a head of state.
    "前锋|后卫|中场|门将|主帅|主教练|外援|老将|国脚|裁判|外长|国务卿|首相|议员|大使|国王|女王|"
    "司长|参谋长|委员长|总司令|总书记|发言人|候选人|领导人|学家|艺术家|音乐家|作曲家|诗人|编剧|"
    "主持人|评论员|分析师)"
)
ROLE_BEFORE = re.compile(ROLES + "$")
ROLE_WORD = re.compile(ROLES)
# Who a service note or a local report names right before a name (快递员周大伟, 用户赵敏,
# 村民康能娟): the name is read from where the word ends (jieba reads 快递|员周|大伟).
SERVICE_ROLE = re.compile(
    "快递员|配送员|送货员|外卖员|业务员|客服|用户|客户|顾客|司机|店员|店主|护士|同事|员工|职工|"
    "学员|会员|队员|选手|患者|病人|家长|老人|村民|居民|市民|网友|民警|交警|工人|农民"
)
# Speech verbs right after a name (黎友焕表示, 谢有福说，); 说 and 称 only before punctuation.
SPEECH_AFTER = re.compile("表示|介绍|告诉|认为|强调|指出|透露|报道|坦言|回忆|说[，,：:]|称[，,：:]")
# Words only people stand before (彭真同志, 马丁一行, 王芳等人): read as a speech verb is.
PARTY_AFTER = re.compile("同志|一行|等人|夫妇")
# A role word's characters that jieba glues into a "name" (张总表示, 李经理说: a title, not a name).
TITLE_CHARS = frozenset("总董局处科")
# Titles after a foreign name (普罗迪总理, 尼克松总统, 布朗先生); not a coach's (a team's).
TITLE_AFTER = re.compile(
    "总统|总理|首相|议长|外长|部长|主席|大使|国务卿|夫人|同志|上将|中将|少将|将军|教授|院士|"
    "博士|先生|女士|小姐"
)
# Between the items of a list of names: 韩红、许飞, 阿宁、阿尧和金宝, 秦艳凤，韦玮.
LIST_SEPARATOR = re.compile("[、，,]|和|与|及")


def cued_run(text: str, run: re.Match[str]) -> bool:
    """Can a name in this CJK run have a role before it or a speech verb after it? Roles and
    verbs are CJK, so a cue of a name in the run lies in the run (说 and 称 with the
    punctuation just after it).

    >>> text = "今天天气不错。市长郭金龙出席，王小明说，好的"
    >>> [run.group(0) for run in CJK_RUN.finditer(text) if cued_run(text, run)]
    ['市长郭金龙出席', '王小明说']
    """
    return bool(ROLE_WORD.search(run.group(0)) or PARTY_AFTER.search(run.group(0))
                or SPEECH_AFTER.search(text, run.start(), min(len(text), run.end() + 1)))


def foreign_by_role(text: str) -> list[tuple[int, int]]:
    """Transliterated names right after a role (总统梅内姆, 部长沙龙): the role says a
    person follows, unless jieba knows the word as something else. Before a speech verb
    (基里延科表示) or a title (普罗迪总理, 布朗先生) a name too, on jieba's word bounds,
    unless it is a place: countries stand there as well (阿根廷|总统, 莫斯科|表示).

    >>> text = "阿根廷总统梅内姆举行会谈，部长沙龙强调，记者从莫斯科报道"
    >>> [text[a:b] for a, b in foreign_by_role(text)]
    ['梅内姆', '沙龙']
    >>> text = "基里延科表示满意，普罗迪总理访华，阿根廷总统出席"
    >>> [text[a:b] for a, b in foreign_by_role(text)]
    ['基里延科', '普罗迪']
    """
    found = []
    for run in FOREIGN_RUN.finditer(text):
        start, end = run.span()
        word = run.group(0)
        role = ROLE_BEFORE.search(text, max(0, start - 4), start) is not None
        if _foreign_word(word) and (role or _cued_after(text, start, end)):
            found.append((start, end))
    return found


# Where a place goes, not a person (从|莫斯科|报道, 在|伦敦|表示).
PLACE_BEFORE = frozenset("从在于到往赴抵自经")


def _cued_after(text: str, start: int, end: int) -> bool:
    """A speech verb or a title follows a word that is no place (see foreign_by_role)."""
    if not (SPEECH_AFTER.match(text, end) or TITLE_AFTER.match(text, end)):
        return False
    if text[start - 1 : start] in PLACE_BEFORE or place_word(text[start:end]):
        return False
    return on_word_bounds(text, start, end)


# What a person's document after 的 follows (一份张伟|的简历): a weaker cue than a phone's or
# an ID's, as a quality or a kind stands there too (高清|的照片, 明星|的照片).
DOCUMENT_AFTER = re.compile("的(?:简历|照片|档案|病历|护照|驾照|工资|账户|账号)")


def owner_word_ok(text: str, start: int, end: int) -> bool:
    """Before a document's word (``DOCUMENT_AFTER``) the owner is no word of jieba's
    dictionary (高清, 明星, 高薪: jieba tags them nr) and no role (申请人, 管理员); names
    are words there only when famous (李娜), which the model reads.

    >>> text = "高清的照片，申请人的护照，张伟的简历，明星的手机"
    >>> [owner_word_ok(text, a, b) for a, b in ((0, 2), (6, 9), (13, 15), (20, 22))]
    [False, False, True, True]
    """
    if DOCUMENT_AFTER.match(text, end) is None:
        return True  # 的手机, 的身份证: the cue of old, kept as it was
    word = text[start:end]
    jieba.dt.check_initialized()  # FREQ is empty until the dictionary is loaded
    return not word.endswith((*ROLE_ENDINGS, "人")) and not jieba.dt.FREQ.get(word)


def common_word(word: str) -> bool:
    """A word jieba's dictionary counts ``COMMON_COUNT`` times or more (康复, 龙虾, 叶子;
    jieba tags many such words nr): after a service word it is what the patient, the member
    or the user does or has (患者|康复出院, 会员|龙虾半价), not a name. Names jieba holds
    are rarer (康能娟: 2, 王师傅: 18); a famous name read so is the model's to find.

    >>> [common_word(w) for w in ("康复", "龙虾", "康能娟", "周大伟")]
    [True, True, False, False]
    """
    jieba.dt.check_initialized()  # FREQ is empty until the dictionary is loaded
    return (jieba.dt.FREQ.get(word) or 0) >= COMMON_COUNT


COMMON_COUNT = 100  # 龙虾 101, 丁香 132; 刘海 65, 贾宝玉 62 stay names


def names_after_roles(text: str) -> list[tuple[int, int]]:
    """Names with a common surname read from where a role's or a service word ends: jieba
    may glue the word's last character to the surname (快递|员周|大伟).

    >>> text = "快递员周大伟打电话说放门卫了，用户赵敏反馈耳机没声音，客户满意"
    >>> [text[a:b] for a, b in names_after_roles(text)]
    ['周大伟', '赵敏']
    """
    found = []
    for cue in (*ROLE_WORD.finditer(text), *SERVICE_ROLE.finditer(text)):
        run = CJK_RUN.match(text, cue.end())
        name = cn_name_at(run.group(0)) if run is not None else None
        if name is None or name[0] not in surnames().common or name[1:2] in TITLE_CHARS:
            continue
        start, end = cue.end(), cue.end() + len(name)
        # Its start is the cue's end, not jieba's (so not chinese_name_shaped's word bounds).
        shaped = ner_score(name) is not None and SHOP_AFTER.match(text, end) is None
        if shaped and not common_word(name) and opens_a_word(text, start, end, cued=True):
            found.append((start, end))
    return sorted(set(found))


def _foreign_word(word: str) -> bool:
    tag = jieba.posseg.dt.word_tag_tab.get(word)
    return 2 <= len(word) <= 6 and (tag is None or tag.startswith("nr"))


def novel_names(text: str) -> list[tuple[int, int]]:
    """Names no dictionary holds that jieba's HMM finds in running text (方英梅, 邹明榕):
    three characters, a common surname first, a given name that is not two transliteration
    syllables (a brand or a team: 高乐氏) and does not open with 小 (江小白: brands and pets
    are named so; a person so named is the model's to find), tagged nr by jieba.posseg over
    its run (tagged_words), and nothing the model's guesses are refused for
    (kept_as_model_name). A word of the dictionary is no novel name: jieba tags many common
    words nr (顾客, 安全性). Two characters too (庄毅, 黎兵: ``novel_pair``).

    >>> text = "据了解，林国英休养两三个月后，她的双眼已经康复；安全性很高，江小白的包装，林清轩项目"
    >>> [text[a:b] for a, b in novel_names(text)]
    ['林国英']
    >>> text = "庄毅的三次单刀赴会破门，付某纵身跳下，金蒙电力城文明小区，客户反馈汤臣倍健的包装"
    >>> [text[a:b] for a, b in novel_names(text)]
    ['庄毅']
    """
    found = []
    for run in CJK_RUN.finditer(text):
        words = tagged_words(run.group(0))
        for i, (a, word, flag) in enumerate(words):
            if not flag.startswith("nr") or word in jieba.dt.FREQ:
                continue
            after = words[i + 1][1:] if i + 1 < len(words) else ("", "")
            if not (novel_triple(word) or (novel_pair(word) and ends_a_name(*after))):
                continue
            start, end = run.start() + a, run.start() + a + len(word)
            if NAMED_THING.match(text, end) is not None:
                continue  # 林清轩|项目, …|牌: a brand's or a project's name
            if kept_as_model_name(text, start, end):
                found.append((start, end))
    return found


# What follows a brand's, a project's or a product's name, not a person's (no model backs a
# novel name, so it is held to more than SHOP_AFTER).
# Not words a verb opens (林国英站起来, 路过, 号召, 店里): a person's name is followed so.
NAMED_THING = re.compile(
    "项目|工程|产品|系列|联名|品牌|牌子|专卖|旗舰|门店|杯赛|"
    "电力|地产|房地产|在线|商业|酒店|集团|公司|俱乐部|影业|传媒|银行|科技|股份|广场"
)


def novel_triple(word: str) -> bool:
    """Three characters, a common surname first, a given name that does not open with 小
    (brands' and pets' names: 江小白) and is not two transliteration syllables (高乐氏)."""
    if not prose_name(word) or word[1] == "小":
        return False
    return not (word[1] in translit_chars() and word[2] in translit_chars())


def ends_a_name(word: str, tag: str) -> bool:
    """What may follow a two-character name: nothing, a function word (庄毅|的, 黎兵|在), or a
    longer word of jieba's dictionary; not a lone character or a word no dictionary holds,
    which say the pair is part of a longer name jieba cut (汤臣|倍|健: a brand).

    >>> ends_a_name("的", "uj"), ends_a_name("倍", "m"), ends_a_name("上半场", "t")
    (True, False, True)
    """
    if len(word) == 1:
        return tag.startswith(FUNCTION_TAGS)
    return not word or bool(jieba.dt.FREQ.get(word))  # FREQ holds prefixes too, at 0


# A second character that makes two no given name: a placeholder (马某), an honorific (沈公),
# a shop's (袁记: X's shop), a style's (刘式) or a title's (吴总: TITLE_CHARS).
NOT_GIVEN = frozenset("某公氏记式") | TITLE_CHARS


def novel_pair(word: str) -> bool:
    """Two characters, a common surname first, a given name that is no transliteration
    syllable (雷丁, 伍顿: a place or a school) nor a placeholder (马某, 付某).

    >>> [novel_pair(w) for w in ("庄毅", "黎兵", "付某", "雷丁", "王小明", "袁记", "吴总")]
    [True, True, False, False, False, False, False]
    """
    return (len(word) == 2 and word[0] in surnames().common and word[1] not in NOT_GIVEN
            and word[1] not in translit_chars())


def prose_name(word: str) -> bool:
    """Three characters, one of the common surnames first (jieba tagged it a name)."""
    return len(word) == 3 and word[0] in surnames().common


def kept_as_model_name(text: str, start: int, end: int) -> bool:
    """Nothing the model's own guesses are refused for: a place's ending (杨浦区, 张家界),
    a brand, the head of a shop's name (江小白|专卖店)."""
    return ner_score(text[start:end]) is not None and chinese_name_shaped(text, start, end)


def listed_with(text: str, start: int, end: int, guesses: list[tuple[int, int]]) -> bool:
    """Is ``text[start:end]`` an item of a list whose next or previous item is a guess?

    >>> listed_with("梦鸽、韩红、谭晶", 3, 5, [(6, 8)]), listed_with("梦鸽说韩红", 3, 5, [(0, 2)])
    (True, False)
    """
    for a, b in guesses:
        between = text[end:a] if a >= end else text[b:start] if start >= b else None
        if between is not None and LIST_SEPARATOR.fullmatch(between.strip()):
            return True
    return False


def name_on_words(text: str, start: int, end: int) -> tuple[int, int]:
    """A Chinese name the model cut apart or ran on, re-cut on jieba's words: an edge inside
    a word moves to that word's start or end, whichever leaves a name (周恩|来 -> 周恩来,
    曹爽兄|弟 -> 曹爽, 主人翁|高松翔 -> 高松翔); ``(start, start)`` when none does
    (公司|副总: no name). Edges already on word bounds are kept; a place that reads like a
    name (曹家|渡 -> 曹家渡) is ``model_names.ner_score``'s to refuse.

    >>> text = "罢免曹爽兄弟，杜宇代表中国出战"
    >>> text[slice(*name_on_words(text, 2, 5))], text[slice(*name_on_words(text, 7, 10))]
    ('曹爽', '杜宇')
    >>> name_on_words("公司副总经理", 1, 4)
    (1, 1)
    """
    low, high = max(0, start - 6), min(len(text), end + 6)
    words = [(low + a, low + b) for _, a, b in jieba.tokenize(text[low:high], HMM=True)]
    bounds = {a for a, _ in words} | {b for _, b in words}
    if start in bounds and end in bounds:
        return start, end

    def edges(at: int, end_edge: bool) -> list[int]:
        """Where an edge inside a word may go: out to the word's far side, or back to its
        near side only when the word is a dictionary word (曹爽|兄弟, 主人翁|高松翔), not a
        guess of jieba's (孔府|家酒: the brand 孔府家酒 is one thing)."""
        if at in bounds:
            return [at]
        found = []
        for a, b in words:
            if a < at < b:
                found.append(b if end_edge else a)
                if jieba.dt.FREQ.get(text[a:b]):
                    found.append(a if end_edge else b)
        return found

    best: tuple[int, int, int] | None = None  # (overlap with the guess, length, start)
    for s in edges(start, False):
        for e in edges(end, True):
            overlap = min(e, end) - max(s, start)
            if e - s < 2 or 2 * overlap < end - start or not model_name(text[s:e]):
                continue
            if best is None or (overlap, e - s) > best[:2]:
                best = (overlap, e - s, s)
    return (best[2], best[2] + best[1]) if best else (start, start)


def model_name(word: str) -> bool:
    """A name by its surname (is_cn_name), or a word jieba knows as a name (但丁, nr)."""
    tag = jieba.posseg.dt.word_tag_tab.get(word, "")
    return is_cn_name(word) or tag.startswith("nr")


# Labels of log and form lines ("Detail: success", "StatusDesc: ok"), not names.
_FIELD_LABELS = (
    "Detail Details Status Desc Description Progress Speed Result Results Message Error "
    "Warning Info Debug Log Time Date Size Type Total Count Source Target Dest Host Path "
    "Output Input Reason Code State Mode Level Summary Note Notes"
)
FIELD_LABELS = frozenset(_FIELD_LABELS.split())
# A word with an inner capital after a capital and 3+ lower-case letters (Pager|Duty,
# Status|Desc); McDonald, MacArthur, LaToya, DeShawn are shorter before theirs.
CAMEL_IDENTIFIER = re.compile(r"[A-Z][a-z]{3,}[A-Z][A-Za-z]*")
CAMEL_PARTS = re.compile(r"[A-Z][a-z'’-]*")
# What opens a surname written with an inner capital: FitzGerald, VanderBerg, DellaValle.
_NAME_PREFIXES = "Fitz Vander Vanden Vande Van Von Della Delle Dela Mac Mc De Di Da Du La Le"
NAME_PREFIXES = frozenset(_NAME_PREFIXES.split())


def product_word(word: str) -> bool:
    """A product's CamelCase word (PagerDuty, CloudWatch, ServiceNow, StatusDesc), not a
    name written so: a surname's prefix first (FitzGerald, VanderBerg) or first names only
    (MaryAnn, KellyAnn).

    >>> [product_word(w) for w in ("PagerDuty", "StatusDesc", "FitzGerald", "KellyAnn", "McDonald")]
    [True, True, False, False, False]
    """
    if CAMEL_IDENTIFIER.fullmatch(word) is None:
        return False
    parts = CAMEL_PARTS.findall(word)
    return parts[0] not in NAME_PREFIXES and not all(part in first_names() for part in parts)


def plausible_name(text: str, start: int, end: int) -> bool:
    """A model's PERSON span that structure says is no name: an identifier (StatusDesc),
    a line's label (Detail: ...), a product token of a user agent ((Macintosh; Intel ...)),
    role, organisation and technical words (en_words_ok).

    >>> plausible_name("StatusDesc: ok", 0, 10), plausible_name("Hi Jane Doe, ok", 3, 11)
    (False, True)
    """
    value = text[start:end]
    if not value.isascii():
        return True  # Chinese names: the model's call
    if product_word(value) or not en_words_ok(value):
        return False
    if " " not in value and sentence_start(text, start) and lower_word_not_subject(text, end):
        return False  # Bill payment failed, Grant access, Frank feedback: no subject
    if not en_head_ok(text, start, end):
        return False  # a place's or an organisation's name
    if " " in value and value.split()[-1] in PRODUCT_HEADS:
        return False  # Travis Build, Kafka Streams: a product's or a tool's name
    if value in FIELD_LABELS or any(word in FIELD_LABELS for word in value.split()):
        return False
    before, after = text[:start].rstrip()[-1:], text[end:].lstrip()[:1]
    return not (before in ("(", ";") and after in (";", ")"))


def en_head_ok(text: str, start: int, end: int) -> bool:
    """No place's or organisation's head word ends ``text[start:end]`` or follows it
    ("Lincoln Reservoir", "George Washington| University"); a head that is also a common
    surname ends a two-word name that opens with a known first name ("Grace Park").

    >>> en_head_ok("Cal Anderson Park", 0, 17), en_head_ok("Grace Park", 0, 10)
    (False, True)
    >>> en_head_ok("Linkin Park", 0, 11), en_head_ok("Ann Lee Hall", 0, 7)
    (False, False)
    """
    after = NEXT_WORD.match(text, end)
    if after is not None and after.group(1) in HEADS:
        return False
    words = text[start:end].split()
    if len(words) < 2 or words[-1] not in HEADS:
        return True
    return len(words) == 2 and words[-1] in SURNAME_HEADS and words[0] in first_names()


def single_word(context: list[str] | None) -> float:
    """One English word is a name under first/last-name fields (0.6), not under a
    generic ``name`` ({"name": "Default"}, {"name": "Content-Type"}): 0.45."""
    words = field_words(context[-1]) if context else []
    return 0.45 if words in (["name"], ["full", "name"], ["fullname"]) else 0.6


def near_regions(text: str) -> list[tuple[int, int]]:
    """Spans around the anchors, overlapping ones merged (CSV rows are full of anchors)."""
    regions: list[tuple[int, int]] = []
    for anchor in ANCHOR.finditer(text):
        low = max(0, anchor.start() - NEAR_BEFORE)
        high = min(len(text), anchor.end() + NEAR_AFTER)
        if regions and low <= regions[-1][1]:
            regions[-1] = (regions[-1][0], max(high, regions[-1][1]))
        else:
            regions.append((low, high))
    return regions


def cn_names_in(run: str) -> tuple[tuple[int, str], ...]:
    """(offset, name) of jieba's ``nr`` words in a CJK run that pass ``is_cn_name``."""
    known = surnames()
    if not any(ch in known.single or run[i : i + 2] in known.compound for i, ch in enumerate(run)):
        return ()  # no surname, no name; jieba's HMM is the slow part
    return tuple((offset, word) for offset, word, tag in tagged_words(run)
                 if tag.startswith("nr") and is_cn_name(word))


@lru_cache(maxsize=512)
def tagged_words(run: str) -> tuple[tuple[int, str, str], ...]:
    """(offset, word, tag) of jieba.posseg over a CJK run, HMM on: one pass per run for every
    rule that reads its names (jieba's HMM is the slow part of the name rules).

    >>> [(o, w, t) for o, w, t in tagged_words("林国英休养") if t.startswith("nr")]
    [(0, '林国英', 'nr')]
    """
    words, offset = [], 0
    for word, tag in jieba.posseg.cut(run, HMM=True):
        words.append((offset, word, tag))
        offset += len(word)
    return tuple(words)


def near(name: RecognizerResult, neighbours: list[RecognizerResult], text: str) -> bool:
    """Other personal data starts just after ``name`` or ends just before it, same line."""
    for other in neighbours:
        if 0 <= other.start - name.end <= NEAR_BEFORE:
            between = text[name.end : other.start]
        elif 0 <= name.start - other.end <= NEAR_AFTER:
            between = text[other.end : name.start]
        else:
            continue
        if "\n" not in between:
            return True
    return False
