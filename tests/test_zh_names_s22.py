"""Chinese names in prose (session 22, N13): more roles before a name (a player's position, a
minister, a head of state), words only people stand before (同志, 一行, 等人), any surname
after a role, two-character names jieba's HMM finds with no cue; and the placeholders,
brands and companies beside the same shapes. Sentences written for this file (never from
a corpus split or the tuning set); through the shared Detector, as tests/test_zh_names_s21.py.
"""

from __future__ import annotations

import pytest
from detection_support import detect

THRESHOLD = 0.5  # the policies' default min_score


def names(text: str) -> list[str]:
    return [
        text[f.start : f.end] for f in detect(text) if f.entity == "PERSON" and f.score >= THRESHOLD
    ]


NAMES = [
    # a role the first passes did not list (person.ROLES)
    ("客队门将罗伊斯多次扑出险球。", ["罗伊斯"]),
    ("俄罗斯外长拉夫罗夫抵达北京。", ["拉夫罗夫"]),
    ("新闻发言人韩志强回答了提问。", ["韩志强"]),
    # any surname after a role, not only the common ones (饶, 宣 are listed, not common)
    ("园区管委会主任饶德明出席了仪式。", ["饶德明"]),
    # a word only people stand before (person.PARTY_AFTER)
    ("昨天下午，郑国华一行到厂里参观。", ["郑国华"]),
    # two characters, no dictionary word, a function word after (person.novel_pair)
    ("那天蒋毅在门口等了很久。", ["蒋毅"]),
]


@pytest.mark.parametrize(("text", "expected"), NAMES)
def test_names_in_prose(text, expected):
    assert names(text) == expected


NOT_NAMES = [
    "昨天下午付某在门口等了很久。",  # a placeholder, not a name (novel_pair: 某)
    "客户反馈汤臣倍健的包装有破损。",  # a brand jieba cuts 汤臣|倍|健 (ends_a_name)
    "这家金蒙电力公司今年扩建了厂房。",  # a company's head before 电力 (NAMED_THING)
    "西班牙队代表欧洲出战世界杯。",  # 代表 is no role here
    "大使馆周围的道路今天封闭。",  # 大使 inside 大使馆
]


@pytest.mark.parametrize("text", NOT_NAMES)
def test_no_name(text):
    assert names(text) == []
