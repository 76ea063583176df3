"""Foreign names written in Chinese characters: 约翰·史密斯, 萊利·克拉克, 内塔尼亚胡.

    dotted_names("由史蒂芬·奎爾执导")          # [(1, 7)]: 史蒂芬·奎爾
    transliterated("内塔尼亚胡")               # True: every character a transliteration syllable

Such a name has no Chinese surname, so the surname rules never see it, and the NER model
often calls a dotted one a place. Its shape gives it away: transliteration uses a small
set of characters (``data/cn_transliteration.txt``), and the parts of a full name are
joined by a middle dot. A brand or estate with a dot (龙湖·花墅香醍) has parts made of
ordinary characters, so it is not taken.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

import jieba
import jieba.posseg

DOTS = "·・•‧"
JOINERS = DOTS + "-"  # 安托万-让·格罗: a hyphenated given name inside a dotted one
MAX_PART = 6  # 希策尔斯佩格; longer runs are sentences of transliterated words, not a name
# A place's last character (model_names.CN_PLACE_END, which imports this module): 亚龙湾.
PLACE_END = "省市区县镇乡村街路道州山河湖岛城庄楼祠角界寺庙桥园宫殿门湾港堂院塔关坊汇渡井岭"


@cache
def translit_chars() -> frozenset[str]:
    text = resources.files("detectors").joinpath("data", "cn_transliteration.txt")
    lines = text.read_text(encoding="utf-8").splitlines()
    return frozenset("".join(ln.strip() for ln in lines if not ln.startswith("#")))


@cache
def _dotted() -> re.Pattern[str]:
    part = f"[{''.join(sorted(translit_chars()))}]{{1,{MAX_PART}}}"
    return re.compile(f"{part}(?:[{JOINERS}]{part})+")


def transliterated(word: str) -> bool:
    """Three or more characters, all transliteration syllables.

    >>> transliterated("内塔尼亚胡"), transliterated("萨马兰奇"), transliterated("马上会")
    (True, True, False)
    """
    chars = translit_chars()
    return len(word) >= 3 and all(c in chars for c in word)


# What a person's name makes part of a place's, a firm's or a thing's (尼古拉·特斯拉国际机场,
# 安德鲁·梅隆礼堂, 阿斯顿·马丁车队, “德米特里·东斯科伊”号): the name is not a person there.
NAMED_AFTER = re.compile(
    "[”\"」』]?(?:号|號|国际|國際|机场|機場|站|礼堂|禮堂|中心|研究|大学|大學|学院|學院|公司|集团|集團"
    "|车队|車隊|乐团|樂團|乐队|樂隊|球场|球場|体育场|體育場|国家|國家|博物|美术馆|美術館|基金|奖|獎"
    "|杯|大街|街|路|大道|广场|廣場|大厦|大廈|公园|公園|医院|醫院|酒店|银行|銀行|步枪|步槍|汽车|汽車)"
)


def foreign_shaped(name: str) -> bool:
    """At least half of the name's characters are transliteration syllables: a model's
    dotted guess is a foreign name (阿不都·黑力力), not an estate or a brand (龙湖·花).

    >>> foreign_shaped("阿不都·黑力力"), foreign_shaped("龙湖·花")
    (True, False)
    """
    chars = translit_chars()
    letters = [c for c in name if c not in JOINERS]
    return 2 * sum(c in chars for c in letters) >= len(letters)


@cache
def countries() -> frozenset[str]:
    """Country and territory names in Chinese (加拿大, 卡塔尔): libphonenumber's locale
    data, copied into detectors/data/cn_countries.txt (tests/test_cn_countries.py keeps it
    equal to the installed phonenumbers'). Not imported from phonenumbers.geodata: importing
    that package loads all its geocoding tables, ~100 MB in every detector worker."""
    text = resources.files("detectors").joinpath("data", "cn_countries.txt")
    lines = text.read_text(encoding="utf-8").splitlines()
    return frozenset(ln.strip() for ln in lines if ln.strip() and not ln.startswith("#"))


def place_word(word: str) -> bool:
    """A country's name or a word jieba's dictionary tags as a place (ns: 多伦多 is not,
    巴黎, 圣彼得堡, 敦煌 are).

    >>> place_word("加拿大"), place_word("巴黎"), place_word("史密斯")
    (True, True, False)
    """
    return word in countries() or jieba.posseg.dt.word_tag_tab.get(word) == "ns"


def names_places(name: str) -> bool:
    """A dotted run of places, not a person: a country among its parts (加拿大·多伦多,
    卡塔尔·多哈), or three or more parts, every one a place (巴黎·米兰·纽约), or a place's
    last character (三亚·亚龙湾) that transliteration does not use. A first name that is
    also a city stays (亚历山大·曼尼科夫, 希斯·莱杰), and so does a pair of places
    (米兰·昆德拉: jieba tags both ns; chosen on --split tune, where it is a name). A country
    that is also a first name is lost (萨尔瓦多·达利).

    >>> names_places("加拿大·多伦多"), names_places("巴黎·米兰·纽约"), names_places("三亚·亚龙湾")
    (True, True, True)
    >>> names_places("亚历山大·曼尼科夫"), names_places("约翰·史密斯")
    (False, False)
    """
    parts = [part for part in re.split(f"[{JOINERS}]", name) if part]
    if any(part in countries() for part in parts):
        return True
    if name[-1] in PLACE_END and name[-1] not in translit_chars():
        return True  # 湾 ends a place; 塔, 门 end names too (维克多·佩罗塔, 切斯瓦夫·涅门)
    return len(parts) >= 3 and all(place_word(part) for part in parts)


def dotted_names(text: str) -> list[tuple[int, int]]:
    """Spans of transliterated names whose parts are joined by a middle dot; not inside a
    title (《哈利·波特》), not what names a place or thing.

    >>> text = "由史蒂芬·奎爾执导，与龙湖·花墅香醍无关"
    >>> [text[a:b] for a, b in dotted_names(text)]
    ['史蒂芬·奎爾']
    >>> text = "安托万-让·格罗的画, 一些-马克"
    >>> [text[a:b] for a, b in dotted_names(text)]
    ['安托万-让·格罗']
    >>> dotted_names("《哈利·波特》"), dotted_names("飞到尼古拉·特斯拉国际机场")
    ([], [])
    """
    found = []
    words: list[tuple[str, int, int]] | None = None
    for match in _dotted().finditer(text):
        start, end = match.span()
        if not any(dot in match.group(0) for dot in DOTS):
            continue  # a hyphen alone joins words, not names
        words = words if words is not None else list(jieba.tokenize(text))
        start, end = _off_places(text, start, end, words)
        if not any(dot in text[start:end] for dot in DOTS):
            continue  # only a place's tail was left of a part (意大利·罗马 -> 大利|·罗马)
        if _in_title(text, start) or NAMED_AFTER.match(text, end) or names_places(text[start:end]):
            continue
        found.append((start, end))
    return found


def _off_places(
    text: str, start: int, end: int, words: list[tuple[str, int, int]]
) -> tuple[int, int]:
    """Cut a place's word the span only partly covers off its edge: the transliteration
    characters ran into it (吉恩·西斯科尔|芝加哥, 新西|兰·奥克兰, 莫斯科·圣彼得|堡).

    >>> text = "吉恩·西斯科尔芝加哥太陽報"
    >>> text[slice(*_off_places(text, 0, 9, list(jieba.tokenize(text))))]
    '吉恩·西斯科尔'
    """
    for word, a, b in words:
        if a < start < b and place_word(word):
            start = b
        if a < end < b and place_word(word):
            end = a
    while start < end and text[start] in JOINERS:
        start += 1
    while end > start and text[end - 1] in JOINERS:
        end -= 1
    return start, end


def _in_title(text: str, start: int) -> bool:
    return text.rfind("《", 0, start) > text.rfind("》", 0, start)
