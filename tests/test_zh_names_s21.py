"""Chinese names by their cue (session 21, N10): a service word or a role before a name, any
role's label with its colon, a person's document after 的, a transliterated name before a
speech verb or a title, a name jieba's HMM finds that no dictionary holds; and the places,
countries, words and empty labels beside the same cues. Sentences written for this file
(never from a corpus split or the tuning set); through the shared Detector, as
tests/test_review_s20_quality.py.
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
    # a service word, the name read from where the word ends (jieba: 配送|员李|强)
    ("配送员李强已出发，请保持电话畅通。", ["李强"]),
    ("患者王秀兰今天出院。", ["王秀兰"]),
    # a role's label with its colon, not only the listed labels
    ("审批人：刘洋", ["刘洋"]),
    ("业务员：陈晓东，电话稍后给你", ["陈晓东"]),
    # a person's document after 的
    ("附件是赵丽的简历，请查收。", ["赵丽"]),
    # a transliterated name before a speech verb or a title
    ("会后，基里延科表示将继续改革。", ["基里延科"]),
    ("普罗迪总理访问了北京。", ["普罗迪"]),
    ("主教练西蒙尼表示满意。", ["西蒙尼"]),
    # a name no dictionary holds, found by jieba's HMM, with no cue at all (person.novel_names)
    ("上周邹明榕把报销单交上来了，财务还没批。", ["邹明榕"]),
    ("报销单是谭立平昨天交上来的，财务还没批。", ["谭立平"]),
]


@pytest.mark.parametrize(("text", "expected"), NAMES)
def test_names_by_their_cue(text, expected):
    assert names(text) == expected


NO_NAMES = [
    # a place before a speech verb, after 从/在/据 (a place's word, not a person's)
    "记者从莫斯科报道，会谈顺利。",
    "据伦敦透露，双方已达成协议。",
    "巴黎表示欢迎各国游客。",
    # a country before a title
    "阿根廷总统出席了开幕式。",
    # a service word or a label with no name after it
    "用户反馈耳机没声音，司机说路上堵车。",
    "客服：您好，请问有什么可以帮您？",
    "操作员：admin，密码已重置",
    # a department's document: four characters and no compound surname
    "相关部门的档案已经归还。",
    # dictionary words jieba tags nr are no novel names; a game's name is no name
    "新版本的兼容性更好，稳定性也提高了。",
    "这款龙之谷游戏的新版本上线了。",
    # a product line's or a project's name (person.NAMED_THING)
    "下月启动苏雨桐系列的新品。",
]


@pytest.mark.parametrize("text", NO_NAMES)
def test_no_name_beside_the_same_cues(text):
    assert names(text) == []
