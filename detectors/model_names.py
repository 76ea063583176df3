"""What a NER model's PERSON guess must look like to be reported as a name.

Shared by the NLP engine (detectors/nlp.py, which reads the model's guesses) and the person
recognizer (detectors/recognizers/person.py, which adds names beside them), so neither
imports the other's module both ways.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

import jieba
import jieba.posseg

from detectors.cn_foreign import countries, foreign_shaped, names_places
from detectors.lexicon import not_names, surnames

NER_SCORE = 0.7  # a model's guess: above the threshold, below checksummed identifiers
WEAK_NER_SCORE = 0.5  # a guess without the marks of a name (see ner_score)
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# Place and building words end a place's name, not a person's: 杨浦区, 周庄, 黄鹤楼, 陈家祠.
CN_PLACE_END = "省市区县镇乡村街路道州山河湖岛城庄楼祠角界寺庙桥园宫殿门湾港堂院塔关坊汇渡井岭"


# Titles and honorifics after a Chinese surname or name: not part of the name (张总 -> 张,
# 李经理 -> 李, 陈大爷 -> 陈). Kinship words are how news and chats address older people.
CN_TITLE = re.compile(
    "先生|女士|小姐|太太|老师|经理|总监|总裁|总|董事|主任|书记|局长|处长|科长|部长|院长|校长|"
    "医生|大夫|律师|教授|博士|同学|师傅|阿姨|叔叔|老板|老总|大爷|大妈|大娘|大婶|奶奶|爷爷|"
    "婆婆|伯伯|大哥|大姐"
)
# One character that addresses (老, 叔, 姨) or stands for the rest of a name (某, 氏): a
# title only right after a bare surname (林老, 杨叔, 刘某, 杜氏; not 王家卫's 家; not 伯,
# which ends transliterations: 韦伯).
CN_HONORIFIC = "老叔姨某氏"
# The titles that address one person by surname, so the surname before one is a name
# (李经理, 陈老师, 陈大爷: as person.CN_TITLES). Rank words (王总, 张总监, 李局长) name a post
# its holder is known by: no name by themselves (tests/test_review_s19_quality.py).
ADDRESSING = re.compile(
    "先生|女士|小姐|太太|老师|经理|医生|大夫|律师|教授|师傅|阿姨|叔叔|老板|大爷|大妈|大娘|大婶|"
    "奶奶|爷爷|婆婆|伯伯|大哥|大姐"
)


def title_after(text: str, start: int, end: int, titles: re.Pattern[str] = CN_TITLE) -> bool:
    """Is ``text[start:end]`` a bare surname that one of ``titles`` or an honorific follows?

    >>> title_after("李经理负责", 0, 1), title_after("林老百年", 0, 1), title_after("李娜说", 0, 1)
    (True, True, False)
    >>> title_after("李", 0, 1), title_after("欧阳先生", 0, 2), title_after("王总说", 0, 1, ADDRESSING)
    (False, True, False)
    """
    if surnames().surname_length(text[start:end]) != end - start or end == start:
        return False
    after = text[end : end + 1]
    return titles.match(text, end) is not None or (after != "" and after in CN_HONORIFIC)


def span_score(text: str, start: int, end: int) -> float | None:
    """``ner_score`` of a guess in its text: a bare surname is a name where a title that
    addresses a person follows it (李|经理, the model's 李经理 cut by ``nlp._without_titles``).

    >>> span_score("李经理负责", 0, 1), span_score("李说", 0, 1), span_score("王小明来了", 0, 3)
    (0.7, None, 0.7)
    >>> span_score("请王总审批", 1, 2)
    """
    if title_after(text, start, end, ADDRESSING):
        return NER_SCORE
    return ner_score(text[start:end])


# Lower-case particles inside a surname (Marcus du Sautoy, Joaquin de la Pazuela).
_NAME_PARTICLES = "von van de du der da di del della la le y"
NAME_PARTICLES = frozenset(_NAME_PARTICLES.split())


def ner_score(name: str) -> float | None:
    """How much a PERSON guess looks like a name; None: not one.

    >>> ner_score("王小明"), ner_score("小明"), ner_score("Alice Walker"), ner_score("Alice")
    (0.7, 0.5, 0.7, 0.5)
    >>> ner_score("王"), ner_score("alice"), ner_score("2024"), ner_score("李宁"), ner_score("杨浦区")
    (None, None, None, None, None)
    >>> ner_score("欧阳娜娜"), ner_score("张江高科"), ner_score("伊拉克")
    (0.7, None, None)
    >>> ner_score("Marcus du Sautoy"), ner_score("du Sautoy"), ner_score("Marcus du")
    (0.7, None, None)
    """
    if CJK.search(name):
        if "·" in name or "•" in name:  # a transliterated foreign name: 约翰·史密斯
            if not foreign_shaped(name) or names_places(name):
                return None  # not the estate 龙湖·花, nor the places 卡塔尔·多哈, 三亚·亚龙湾
            return NER_SCORE
        if not 2 <= len(name) <= 4 or not all(CJK.match(c) for c in name):
            return None
        if len(name) == 4 and surnames().surname_length(name) != 2:
            return None  # four characters are a name with a compound surname (欧阳娜娜) only
        if name in not_names() or name[-1] in CN_PLACE_END or name in countries():
            return None  # brands, shops and places that read like names (李宁, 周大福, 安哥拉)
        tag = jieba.posseg.dt.word_tag_tab.get(name)
        if tag is not None and not tag.startswith("nr"):
            return None  # a dictionary word that is not a name: 龙井 (ns), 方圆 (n)
        return NER_SCORE if surnames().starts_name(name) else WEAK_NER_SCORE
    parts = name.replace("-", " ").split()
    inner = set(parts[1:-1]) & NAME_PARTICLES  # Marcus du Sautoy, Dorothea von Schlegel
    if not parts or not all(
        p[:1].isupper() and p.isalpha() for p in parts if p.isalpha() and p not in inner
    ):
        return None  # "ray rice", "2024": a name in our traffic is capitalised
    if not any(p.isalpha() and len(p) > 1 for p in parts):
        return None
    return NER_SCORE if len(parts) >= 2 else WEAK_NER_SCORE


def chinese_name_shaped(text: str, start: int, end: int) -> bool:
    """A Chinese guess stands as a word of its own: on jieba's word boundaries (so not inside
    a longer dictionary word: 北京 in 北京大学, 曹家 in 曹家渡) and not the head of a shop or
    brand name (江小白专卖店)."""
    return on_word_bounds(text, start, end) and SHOP_AFTER.match(text, end) is None


# A shop's or brand's name is followed by what it is: 江小白专卖店, 汤臣倍健官网 (the model
# saw 江小白, 汤臣倍; up to two characters of the brand may remain). A person's name is
# not, but may own one through a particle: 张伟的公司 keeps 张伟.
SHOP_AFTER = re.compile(
    "((?![的之和与及在是])[\u4e00-\u9fff]){0,2}"
    "(专卖店|旗舰店|专营店|门店|分店|官网|官方|集团|公司|品牌|连锁)"
)


def on_word_bounds(text: str, start: int, end: int) -> bool:
    """Do jieba's words (read around the span) start at ``start`` and end at ``end``?"""
    low, high = max(0, start - 6), min(len(text), end + 6)
    bounds: set[int] = set()
    for _, a, b in jieba.tokenize(text[low:high], HMM=True):
        bounds.update((low + a, low + b))
    return start in bounds and end in bounds


# First names that are also common words, months, places or brands: a name only with a
# title or a label (person.py), never by this rule.
_COMMON_FIRST = (
    "May Will Bill Mark Grant Rose June April August Joy Hope Faith Art Dawn Sandy Summer "
    "Autumn Winter Spring Sunny Star Golden Glory Honey Lady Queen King Prince Royal Major "
    "Young Long Rich Miles Page Lane Love Chance Destiny Patience Charity Liberty Trinity "
    "Christian Marine Temple Ward Ray Buddy Kitty Sunshine Season Son Guy Man Van Von Del "
    "Don See Many Soon Else Ok Moon Eve Justice Angel Baby Crystal Diamond Ruby Pearl Amber "
    "Ivory Jade Jewel Ebony Cherry Olive Ginger Violet Iris Lily Daisy Holly Heather Hazel "
    "Georgia Virginia Carolina Florida Dakota Nevada Lincoln Austin Dallas Houston Chelsea "
    "Orlando Santa China India Asia America Paris Sydney Cleveland Denver Aurora Madison "
    "Sierra Mercedes Porsche Kent Devon Jersey Victoria Florence Berlin Dublin Vienna "
    "Canada Israel Jordan Sharon Carmel Eden Troy Salem Phoenix Brooklyn Cairo Delta Alpha "
    "Apple Cash Price Story Early Best General Royal Dollar Penny Billie Merry Noble Sterling "
    # nationalities, articles and other words the census lists hold as first names
    "German Irish Roman Nova Forest Laurel Sun January Miss Les Odessa Ivy Mission "
    "Sunday Monday Tuesday Wednesday Thursday Friday Saturday September October November "
    "December France Argentina Kenya Venice Adelaide Alberta Brittany Savannah Columbus "
    "Genesis Isis Sage Raven Hunter Clay Jan Ima Macy"
)
COMMON_FIRST = frozenset(_COMMON_FIRST.split())
# Head words of places and organisations beyond person.py's (which keeps surnames out):
# after a name they make it a place's ("Cal Anderson Park", "Lincoln Reservoir").
_PLACE_HEADS = (
    "Park Lake River Creek Brook Pond Reservoir Railroad Railway Bridge Tower Hall Church "
    "Chapel School Academy Library Field Fields Stadium Province State County City Town "
    "Village Bay Hill Hills Road Way Lane Drive Trail Forest Memorial Award Awards Prize "
    "Foundation Festival Cup Trophy Show Band Orchestra Records Airlines Airways Motors "
    "Brothers Bros Inc Ltd Federation Council Committee Party Junction Siding Playfield "
    "House Dock Gym Casino Estate Times News Story Mills Hollow Complex Cup Cups Grounds "
    "Design Connector Highway Place Corner Society Media Magazine Journal Review Gazette"
)
PLACE_HEADS = frozenset(_PLACE_HEADS.split())


@cache
def first_names() -> frozenset[str]:
    """The census first names that may open a name here (3+ letters, not common words)."""
    text = resources.files("detectors").joinpath("data", "en_first_names.txt").read_text("utf-8")
    names = (line.strip() for line in text.splitlines() if not line.startswith("#"))
    return frozenset(n for n in names if len(n) >= 3) - COMMON_FIRST


NEXT_LOWER = re.compile(r" ([a-z]+)\b")
# At a sentence's start a capitalised word and a lower-case one are also an imperative
# (Chase the bug, Sue the vendor) or a noun phrase (Gene expression, Grace period): a lone
# name there needs a possessive or a word that says it is the subject (Carter began, Stan
# believes, Angelo now is, Jeff and Hayley), or a particle of a name (Dorothea von Schlegel).
_SUBJECT_NEXT = (
    "is was are were has had have does did will would can could should must may might shall "
    "also now then later never always still soon once often first finally eventually again "
    "just already and or "
    "said told began became came went got made took gave left led won lost met ran sent put "
    "kept held brought thought knew grew wrote spoke stood sat paid built taught fought sold "
    "bought heard fell found saw felt "
    # particles of a name
    "von van de da du der del della di la le bin ibn"
)
SUBJECT_NEXT = frozenset(_SUBJECT_NEXT.split())


def sentence_start(text: str, at: int) -> bool:
    """Does a sentence (or a line, or the text) start at ``at``, past quotes and brackets?
    Not after an initial's or a title's dot (C. H. Douglas, Lt. Gen. Early).

    >>> [sentence_start(t, t.index("X")) for t in ("X", "It ends. X", "a: X", "C. H. X", "Lt. X", "a X")]
    [True, True, True, False, False, False]
    """
    before = text[max(0, at - 80) : at].rstrip(" \t\"“‘'([")
    if before.endswith("."):
        word = ABBREVIATION.search(before)
        return word is None
    return not before or before[-1] in "!?:;\r\n"


# The dot of an initial or a short title (H., Lt., Mrs.), not a sentence's end.
ABBREVIATION = re.compile(r"(?<![\w.])[A-Z][a-z]{0,2}\.$")


def subject_follows(text: str, end: int) -> bool:
    """A possessive or a word that makes the word ending at ``end`` a clause's subject
    (``SUBJECT_NEXT``, a verb's -ed or -s form: joined, believes)."""
    if text.startswith(("'s", "’s"), end):
        return True
    after = NEXT_LOWER.match(text, end)
    return after is not None and (after.group(1) in SUBJECT_NEXT or verb_shaped(after.group(1)))


def lower_word_not_subject(text: str, end: int) -> bool:
    """A lower-case word follows the word ending at ``end`` and does not make it a subject
    (Grace period, Sue the vendor; not Frank said, Stan's, Carter, or Carter Smith)."""
    return NEXT_LOWER.match(text, end) is not None and not subject_follows(text, end)


def verb_shaped(word: str) -> bool:
    """A past (-ed) or third-person (-s) form by its ending: not -eed, -ss, -us, -is (need,
    class, status, analysis).

    >>> [verb_shaped(w) for w in ("joined", "believes", "says", "need", "class", "garden")]
    [True, True, True, False, False, False]
    """
    if len(word) < 4:
        return False
    if word.endswith("ed"):
        return word[-3] != "e"
    return word.endswith("s") and word[-2] not in "sui"
