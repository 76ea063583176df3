"""Presidio's lemma context enhancer, without its per-call deep copy, over lazy tokens.

    words before a match (or the segment's field names) contain a recognizer's
    context word  ->  score + 0.35, at least 0.4

Same rule as ``LemmaContextAwareEnhancer`` (substring match of context words in
the lemmas of the 5 preceding tokens and in the field names); it just skips
``copy.deepcopy`` of every result (a third of a short segment's cost) and
tokenises only when some result can be enhanced.

A name from the NER model that structure rules out (an identifier, a log line's label,
a user agent's product token: ``person.plausible_name``; digits: ``MO 14856``) scores 0,
and so does a weak Chinese guess that what follows calls a shop, brand, product or place:
高德|地图的库存, 我们在江小白的门店, 吴江和蒙牛的联名款 (``names_a_thing``). Any PERSON
finding that names a software object ({"name": "Night Shift"}: ``names_an_object``) is 0.

A value in a table pasted as text ("姓名,手机号\n张三,13800138000") has its
column's header as a field name (``detectors.tables``).
"""

from __future__ import annotations

import re
from functools import cached_property

import jieba.posseg
from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts

from detectors.model_names import first_names
from detectors.nlp import STOPWORDS, TOKEN
from detectors.recognizers.person import PersonRecognizer, plausible_name, product_word
from detectors.tables import header_words

# The person recognizer's guesses as weak as the model's (its ``why``): the other items of a
# model name's list (beside_model_names), jieba's name-like words near other data
# (near_other_data: 徐家汇|项目的验收，合同编号…), dotted transliterations (cn_foreign:
# 乔治·阿玛尼|品牌旗舰店).
WEAK_GUESSES = frozenset(["beside model names", "near data", "cn foreign name"])
CJK = "\u3400-\u4dbf\u4e00-\u9fff"
CJK_CHAR = re.compile(f"[{CJK}]")
# What a shop, brand, product, place or project has and a person does not, said right after
# its name or through 的: 汤臣倍健的门店, 高德地图, 康师傅项目, X和Y的联名款. Not what people
# have in business text too (张伟的手机, 张伟的项目, 李娜的销售额).
THING_NOUNS = "库存|门店|专卖店|旗舰店|专营店|分店|店铺|专柜|联名款|包装|官网|总部|股价|市值|新品"
ATTACHED_NOUNS = f"{THING_NOUNS}|项目|地图|品牌|集团|公司|系列|连锁"
# A sports team's name in a match report is followed by its ground, coach, record or rival
# (阿森纳主场让一球, 博尔顿主帅, 莱切队, 沙尔克2胜3负, 阿森纳vs韦冈); a player's takes a verb.
# 队 alone, not a band or an army named after a person (查利·活茨大乐队, 布鲁斯军队).
TEAM_AFTER = "主场|客场|主帅|(?<![乐军车部梯])队(?![员长友伍])|[vV][sS]|[0-9]+胜|连胜|连败"
VERSUS_BEFORE = re.compile(r"[vV][sS]\.?\s*$")
# Counted with a classifier of things (一杯卡布奇诺·拿铁, 这款X, 两辆X: people are counted
# with 个, 位, 名) or placed by what stands only before places (驻安哥拉, 首都莫斯科,
# 新华社莫斯科６月２５日电): not a person.
THING_BEFORE = re.compile(
    "(?:[一二两三四五六七八九十几每这那哪该此0-9０-９]\\s*(?:杯|瓶|台|辆|款|件|盒|罐|碗|份|支|双|套)"
    "|驻|首都|新华社)$"
)
# Sold like goods: 保时捷·卡宴已售罄.
GOODS_AFTER = "已?售罄|缺货|现货|有货"
# After the name: a noun attached to it, or (past the other items of a list: X和Y的联名款)
# 的 + a thing's noun.
THING_AFTER = re.compile(
    f"(?:{ATTACHED_NOUNS}|{TEAM_AFTER}|{GOODS_AFTER})"
    f"|(?:(?:和|与|及|、)[{CJK}]{{1,6}}?)?的(?:{THING_NOUNS})"
)
# The model may leave up to two characters of a brand out (汤臣|倍健的总部); a verb,
# preposition, particle or adverb there starts the sentence's next word instead (李娜在门店).
NOT_LEFTOVER = ("v", "p", "u", "c", "d", "r", "y", "e", "f")


def names_a_thing(text: str, start: int, end: int) -> bool:
    """Does what follows (or stands before) a Chinese name say it names a shop, brand,
    product, team, place or project?

    >>> names_a_thing("高德地图的库存还剩53台", 0, 2), names_a_thing("吴江和蒙牛的联名款下周上线", 0, 2)
    (True, True)
    >>> names_a_thing("汤臣倍健的总部在珠海", 0, 2), names_a_thing("李娜在门店等你", 0, 2)
    (True, False)
    >>> names_a_thing("张伟的手机坏了", 0, 2), names_a_thing("张伟和李娜的项目下周验收", 3, 5)
    (False, False)
    >>> names_a_thing("阿森纳主场3比0大胜", 0, 3), names_a_thing("阿森纳vs韦冈", 5, 7)
    (True, True)
    >>> names_a_thing("姚明队友传球", 0, 2), names_a_thing("查利·活茨大乐队", 0, 5)
    (False, False)
    >>> names_a_thing("我买了一杯卡布奇诺·拿铁", 5, 12), names_a_thing("美国驻黎巴嫩大使馆", 3, 6)
    (True, True)
    >>> names_a_thing("保时捷·卡宴已售罄", 2, 5), names_a_thing("一位张伟先生", 2, 4)
    (True, False)
    >>> names_a_thing("得到了一份胡佛的行程表", 5, 7)
    False
    """
    if text[start:end].isascii():
        return False
    if VERSUS_BEFORE.search(text, max(0, start - 4), start) is not None:
        return True  # the other team of a fixture
    if THING_BEFORE.search(text, max(0, start - 4), start) and not text.startswith("的", end):
        return True  # not 一份胡佛的行程表: there the classifier counts the owned thing
    for leftover in range(3):
        rest = text[end : end + leftover]
        if leftover and not leftover_of_brand(rest):
            return False
        if THING_AFTER.match(text, end + leftover) is not None:
            return True
    return False


def leftover_of_brand(rest: str) -> bool:
    """CJK characters none of which jieba tags as a function word or verb (倍健, 黑鸭)."""
    tags = jieba.posseg.dt.word_tag_tab
    return all(CJK_CHAR.match(ch) and not tags.get(ch, "x").startswith(NOT_LEFTOVER) for ch in rest)


def weak_guess(result: RecognizerResult, recognizer: EntityRecognizer | None) -> bool:
    """A PERSON guess of the NER model, or one of the person recognizer's ``WEAK_GUESSES``."""
    if not isinstance(recognizer, PersonRecognizer):
        return True
    explanation = result.analysis_explanation
    return explanation is not None and explanation.pattern_name in WEAK_GUESSES


# The head word of a software object's, a setting's or a schedule's name: {"name": "Night
# Shift"}, "Service Runbook", "Generic Webhook", "Internal Status Page" (a person's record
# names first_name, full_name, customer.name; an object's name is the common bare ``name``).
_THING_HEADS = (
    "Policy Policies Schedule Schedules Rotation Shift Page Pages Plugin Plugins Tool Tools "
    "Client Clients Integration Integrations Webhook Webhooks App Apps Application Connection "
    "Connections Cluster Clusters Template Templates Input Output Summary Progress Workflow "
    "Orchestration Runbook Enrichment Pipeline Job Jobs Task Tasks Rule Rules Report Reports "
    "Dashboard Project Projects Module Environment Channel Queue Bucket Settings Status Token "
    "Alert Alerts Incident Monitor Script Demo Sample Payment Payments Plan Plans Campaign"
)
THING_HEADS = frozenset(_THING_HEADS.split())


def names_an_object(value: str) -> bool:
    """Two or more English words, one of them a product's CamelCase word, or ending in an
    object's head word and not opened by a known first name (``model_names.first_names``):
    surnames that are such words stay names (Larry Page).

    >>> names_an_object("Daily Engineering Rotation"), names_an_object("Larry Page")
    (True, False)
    >>> names_an_object("Kyler Kuhn"), names_an_object("Night Shift")
    (False, True)
    >>> names_an_object("Amazon CloudWatch"), names_an_object("LaToya McDonald")
    (True, False)
    """
    words = [word.strip(".,;:!?\"'()") for word in value.split()]
    if len(words) < 2 or not value.isascii():
        return False
    if any(product_word(word) for word in words):
        return True  # a product's name: PagerDuty Admin (not McDonald, FitzGerald, MaryAnn)
    return words[-1] in THING_HEADS and words[0].split("-")[0] not in first_names()


# Other personal data that makes a thing-shaped name a person's (王芳的门店电话13800138000).
PERSONAL = frozenset(
    ["PHONE_NUMBER", "CN_RESIDENT_ID", "EMAIL_ADDRESS", "CREDIT_CARD", "CN_PASSPORT", "IBAN_CODE"]
)


def beside_personal_data(
    text: str, name: RecognizerResult, results: list[RecognizerResult]
) -> bool:
    """Is other personal data (score >= 0.5) on the same line as ``name``? Then 的门店 is a
    person's shop: next to a customer's phone the name reading wins, and such a request is
    acted on for the phone anyway, so brand talk pays nothing for it."""
    line_start = text.rfind("\n", 0, name.start) + 1
    line_end = text.find("\n", name.end)
    line_end = len(text) if line_end < 0 else line_end
    return any(
        r.entity_type in PERSONAL and r.score >= 0.5 and line_start <= r.start and r.end <= line_end
        for r in results
    )


class LazyArtifacts(NlpArtifacts):
    """NlpArtifacts whose tokens are computed on first use. No NER entities."""

    def __init__(self, text: str, nlp_engine: object, language: str) -> None:
        self.text = text
        self.entities = []
        self.scores = []
        self.nlp_engine = nlp_engine
        self.language = language

    @cached_property
    def _tokens(self) -> tuple[list[str], list[int]]:
        matches = list(TOKEN.finditer(self.text))
        return [m.group(0) for m in matches], [m.start() for m in matches]

    @property
    def tokens(self) -> list[str]:  # type: ignore[override]
        return self._tokens[0]

    @property
    def tokens_indices(self) -> list[int]:  # type: ignore[override]
        return self._tokens[1]

    @cached_property
    def lemmas(self) -> list[str]:  # type: ignore[override]
        return [token.lower() for token in self.tokens]

    @cached_property
    def keywords(self) -> frozenset[str]:  # type: ignore[override]
        # A set, not Presidio's list: the enhancer only tests membership.
        return frozenset(self.lemmas) - STOPWORDS


class FieldContextEnhancer(LemmaContextAwareEnhancer):
    def enhance_using_context(
        self,
        text: str,
        raw_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        recognizers: list[EntityRecognizer],
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        by_id = {recognizer.id: recognizer for recognizer in recognizers}
        field_words = [word.lower() for word in context or []]
        addresses = [
            (r.start, r.end) for r in raw_results if r.entity_type == "ADDRESS" and r.score >= 0.4
        ]
        for result in raw_results:
            metadata = result.recognition_metadata or {}
            recognizer = by_id.get(metadata.get(RecognizerResult.RECOGNIZER_IDENTIFIER_KEY))
            if (
                result.entity_type == "PERSON"
                and not isinstance(recognizer, PersonRecognizer)
                and (
                    not plausible_name(text, result.start, result.end)
                    or any(a <= result.start and result.end <= b for a, b in addresses)
                    or any(ch.isdigit() for ch in text[result.start : result.end])
                )
            ):
                # A model's name that structure rules out (person.py), a street or town
                # inside an address ("57562 Vicki Hills, Johnmouth, AZ"), a span with digits
                # (a state and its ZIP code: "Lake Isabella, MO 14856.").
                result.score = 0.0
                continue
            if result.entity_type == "PERSON" and names_an_object(text[result.start : result.end]):
                result.score = 0.0  # {"name": "Night Shift"}, "Generic Webhook"
                continue
            if (
                result.entity_type == "PERSON"
                and weak_guess(result, recognizer)
                and names_a_thing(text, result.start, result.end)
                and not beside_personal_data(text, result, raw_results)
            ):
                result.score = 0.0  # 高德|地图的库存, 我们在江小白的门店: a brand or a place
                continue
            if recognizer is None or not recognizer.context:
                continue
            if metadata.get(RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY):
                continue
            words = self._extract_surrounding_words(
                nlp_artifacts=nlp_artifacts,
                word=text[result.start : result.end],
                start=result.start,
            )
            supportive = self._find_supportive_word_in_context(
                words + field_words + header_words(text, result.start),
                recognizer.context,
                self.context_matching_mode,
            )
            if supportive:
                result.score = min(
                    max(
                        result.score + self.context_similarity_factor,
                        self.min_score_with_context_similarity,
                    ),
                    self.MAX_SCORE,
                )
                result.analysis_explanation.set_supportive_context_word(supportive)
                result.analysis_explanation.set_improved_score(result.score)
        return raw_results
