"""Review R10 (session 21) of the day's name and address rules (issue 13 §3, §4), read as a
hostile user would: e-commerce and service chat, news lines, support tickets and English
business mail, all written for this file (never from a corpus split or the tuning set), each
compared with the morning's main (196b816). Each table is one class of finding; the ones
still open are strict xfails with the reason. Runs through the shared Detector.
"""

from __future__ import annotations

import pytest
from detection_support import detect

THRESHOLD = 0.5  # the policies' default min_score


def values(text: str, entity: str) -> list[str]:
    return [
        text[f.start : f.end] for f in detect(text) if f.entity == entity and f.score >= THRESHOLD
    ]


def xfail(*values, reason: str):
    return pytest.param(*values, marks=pytest.mark.xfail(strict=True, reason=f"R10: {reason}"))


# --- PERSON (zh): a person's document after 的 (5f4d8b1 added 简历, 照片, 护照, 工资, 账号...)
# took whatever stood before 的: a quality (高清), a kind (明星), a pay grade (高薪) or a role
# (申请人). jieba tags these dictionary words nr, so is_cn_name let them through; before a
# document's word the owner is now no dictionary word and no role (person.owner_word_ok).
DOCUMENT_OWNERS_NOT_NAMES = [
    "请上传高清的照片。",
    "明星的照片侵权了。",
    "高薪的工资条。",
    "申请人的护照复印件。",
    "管理员的账号被锁定了。",
]


@pytest.mark.parametrize("text", DOCUMENT_OWNERS_NOT_NAMES)
def test_no_name_before_a_document(text):
    assert values(text, "PERSON") == []


DOCUMENT_OWNERS = [
    ("杨丽的护照过期了。", ["杨丽"]),
    ("请把李伟的简历转给人事。", ["李伟"]),
    ("王磊的工资卡换了。", ["王磊"]),
    ("陈晨的账号被盗了。", ["陈晨"]),
    ("他在看一张黄晓明的照片。", ["黄晓明"]),
]


@pytest.mark.parametrize(("text", "expected"), DOCUMENT_OWNERS)
def test_name_before_a_document(text, expected):
    assert values(text, "PERSON") == expected


# --- PERSON (zh): a service word before a name (person.names_after_roles) must not read the
# next word as one when a surname opens it (周末, 余额, 钱包, 黄金, 管理...). These hold.
SERVICE_WORDS_NO_NAME = [
    "客服周末不上班，请工作日联系。",
    "用户余额不足，请充值后再下单。",
    "同事钱包丢了，在前台登记一下。",
    "会员黄金等级可享九折。",
    "用户高度评价这款产品。",
    "用户管理后台新增了导出功能。",
    "司机师傅说大概十分钟到。",
    "员工宿舍明天停水。",
    "村民委员会换届选举结果公布。",
    "用户名不能为空。",
    "民警提醒：谨防诈骗。",
    "发言人：中方对此表示坚决反对。",
    "审批人：财务部",
]


@pytest.mark.parametrize("text", SERVICE_WORDS_NO_NAME)
def test_no_name_after_a_service_word(text):
    assert values(text, "PERSON") == []


# A common word right after the service word (5f4d8b1 reads the name from the word's end,
# and jieba tags 康复, 龙虾, 胡说 nr): what the patient or member does or has. A word jieba
# counts 100 times or more is none there (person.common_word); a placeholder is lost.
SERVICE_WORD_THEN_A_WORD = [
    ("患者康复出院了。", []),
    ("会员龙虾半价。", []),
    ("网友胡说八道。", []),
    ("村民康能娟家的狗丢了。", ["康能娟"]),
    xfail("用户史上最多的一天。", [], reason="史上 is no word of jieba's dictionary"),
    xfail(
        "用户李四反馈耳机没声音。",
        ["李四"],
        reason="a placeholder's name jieba counts 106 times: a common word to person.common_word",
    ),
]


@pytest.mark.parametrize(("text", "expected"), SERVICE_WORD_THEN_A_WORD)
def test_service_word_then_a_word(text, expected):
    assert values(text, "PERSON") == expected


# --- PERSON (zh): names no dictionary holds, found by jieba's HMM (514c9c1 novel_names).
# Three characters and a common surname are a cosmetics or food brand's shape as well; a
# product's word right after (补水, 鸭蛋粉) is no NAMED_THING. Found by the new rule:
NOVEL_NAMES = [
    ("陶华碧创办了老干妈。", ["陶华碧"]),
    ("欧诗漫珍珠霜适合干皮。", []),
    xfail("温碧泉补水效果好，价格也实惠。", [], reason="a brand's name (novel_names)"),
    xfail("谢馥春鸭蛋粉是老字号。", [], reason="a brand's name (novel_names)"),
]


@pytest.mark.parametrize(("text", "expected"), NOVEL_NAMES)
def test_novel_names(text, expected):
    assert values(text, "PERSON") == expected


# --- PERSON (zh): a transliterated word before a speech verb or a title (foreign_by_role,
# 5f4d8b1: 基里延科表示, 普罗迪总理) is as often a company or a university in news and
# business text; jieba tags both kinds nr/nrt, so no tag tells them apart. Kept for its
# tuning recall (+0.009); the false hits it made, against the morning's main:
FOREIGN_BEFORE_SPEECH = [
    ("拜登表示将访问欧洲。", ["拜登"]),
    xfail("特斯拉表示将降价。", [], reason="a company before 表示 (foreign_by_role)"),
    xfail("亚马逊表示不予置评。", [], reason="a company before 表示 (foreign_by_role)"),
    xfail("迪士尼表示乐园暂停开放。", [], reason="a company before 表示 (foreign_by_role)"),
    xfail("尼尔森表示，收视率下降。", [], reason="a company before 表示 (foreign_by_role)"),
    xfail("阿里巴巴表示将继续投资。", [], reason="a company before 表示 (foreign_by_role)"),
    xfail("哈佛教授发表论文。", [], reason="a university before 教授 (foreign_by_role)"),
    xfail("斯坦福教授指出。", [], reason="a university before 教授 (foreign_by_role)"),
]


@pytest.mark.parametrize(("text", "expected"), FOREIGN_BEFORE_SPEECH)
def test_foreign_word_before_speech(text, expected):
    assert values(text, "PERSON") == expected


# --- PERSON (en): a model's guess before a comma and a country (en_names.beside_a_place,
# 8ef480c: Trosten, England) was dropped wherever it stood, so a signature's, a ticket's or
# a list's surname went out in clear. It is a place only where a preposition places it
# (en_names.headed_for: in, to, from...); after by, Regards, or a list's colon a person's.
SURNAMES_BEFORE_A_COUNTRY = [
    ("Submitted by Hernandez, Mexico.", ["Hernandez"]),
    ("Our country leads are Tanaka, Japan, and Schmidt, Germany.", ["Schmidt"]),
    ("Ticket opened by Kowalski, Poland team.", ["Kowalski"]),
    ("Ticket #4411 reported by Dmitri Volkov, Russia.", ["Dmitri Volkov"]),
    ("Regards, Jansen, Netherlands", ["Jansen"]),
    ("The depot moved to Trosten, England in 1945.", []),
    xfail(
        "The award went to Okonkwo, Nigeria, for his work.",
        ["Okonkwo"],
        reason="to| places a word too (moved to Trosten): the model alone reads no name here",
    ),
]


@pytest.mark.parametrize(("text", "expected"), SURNAMES_BEFORE_A_COUNTRY)
def test_surname_before_a_country(text, expected):
    assert values(text, "PERSON") == expected


# --- PERSON (en): after a title one common English word is a thing's name (1a43532: Miss
# Murder); customers' surnames that are English words (Chow, Yap, Said, Lamb) are census
# surnames, which en_words.txt leaves out, so they are kept. Pinned here.
TITLED_WORD_SURNAMES = [
    ("Dear Mr. Chow, your order has shipped.", ["Chow"]),
    ("Dear Ms. Chin, thanks for reaching out.", ["Chin"]),
    ("Dear Mr. Yam, please find the invoice attached.", ["Yam"]),
    ("Dear Ms. Pang, your ticket was escalated.", ["Pang"]),
    ("Dear Mr. Yap, the refund is on its way.", ["Yap"]),
    ("Dear Mr. Said, we received your complaint.", ["Said"]),
    ("Dear Mr. Lamb, welcome aboard.", ["Lamb"]),
    ("Dear Ms. Bliss, thanks for your feedback.", ["Bliss"]),
    ("Dear Mr. Fox, your subscription renews tomorrow.", ["Fox"]),
    ("Dear Mr. Ng, your password was reset.", ["Ng"]),
    ("Dear Mrs. Honey, your booking is confirmed.", ["Honey"]),
]


@pytest.mark.parametrize(("text", "expected"), TITLED_WORD_SURNAMES)
def test_titled_surname_that_is_a_word(text, expected):
    assert values(text, "PERSON") == expected


# --- PERSON (en): a census surname alone as a subject or after a speech verb (4cc4a6e,
# 1a43532) is also how publications, firms and schools named after people are written.
# The ones the morning's main did not flag:
EN_INSTITUTIONS = [
    xfail(
        "The build failed because Jenkins was down again.",
        [],
        reason="old: a CI tool's name that is a census surname, as a clause's subject",
    ),
    xfail(
        "According to Forbes, she is the richest woman in tech.",
        [],
        reason="according to| a publication named after a person (en_names.SPEECH_BEFORE)",
    ),
    ("Hopkins was founded in 1876.", []),  # en_names.FOUNDED_AFTER (session 22)
]


@pytest.mark.parametrize(("text", "expected"), EN_INSTITUTIONS)
def test_institution_is_no_person(text, expected):
    assert values(text, "PERSON") == expected


# --- PERSON (en): a census surname alone as a clause's subject or owner (4cc4a6e) is read
# only where the PERSON pass runs: prefilter.worth_ner's prose signal wanted a capitalised
# word then three lower-case words, so a short ticket line never reached the rule; since
# session 22 two lower-case words (or an owner's 's) are enough.
EN_SURNAME_SUBJECTS = [
    ("Rodriguez signed off on the release.", ["Rodriguez"]),
    ("We sent the invoice to the client yesterday, and Nguyen approved the PR.", ["Nguyen"]),
    ("The office moved to Austin, Texas last year.", []),  # the morning read Austin as a name
    ("Patel's invoice is attached.", ["Patel"]),
    ("Nguyen approved the PR.", ["Nguyen"]),
]


@pytest.mark.parametrize(("text", "expected"), EN_SURNAME_SUBJECTS)
def test_surname_as_a_subject(text, expected):
    assert values(text, "PERSON") == expected


# --- ADDRESS: no finding. An estate's word with a floor after it (0ce11e0 added floors in
# words: 温山大厦|四楼) was an address with no estate's name at all: a kind of place (批发市场,
# 购物中心: jieba's words), one pointed at (这个|市场) or the word alone (在|大厦); the digits'
# form was as old. A county's or a town's head right after where one goes is no level
# (住在|县城, after 2e7a53a's sending cue took one admin level and a named place).
ADDRESS_NEGATIVES = [
    "我们在大厦八楼开会。",
    "这个市场五楼是仓库。",
    "批发市场二楼有卖童装的。",
    "我们在大厦8楼开会。",
    "这个市场5楼是仓库。",
    "公司在中心二楼。",
    "住在县城第一中学附近。",
    "回到镇上的卫生院看病。",
]


@pytest.mark.parametrize("text", ADDRESS_NEGATIVES)
def test_no_address_in_ordinary_text(text):
    assert values(text, "ADDRESS") == []


# --- ADDRESS: exact spans. Named estates with floors in words, towns whose names hold 城,
# 进 or 镇 (寿县城关镇, 前进镇, 镇海区) are kept; the open ones leave a part in clear or swallow
# a clause.
ADDRESS_SPANS = [
    ("我在温山大厦四楼等你。", ["温山大厦四楼"]),
    ("寄到寿县城关镇东街18号", ["寿县城关镇东街18号"]),
    ("寄到前进镇光明村5组", ["前进镇光明村5组"]),
    ("住在镇海区庄市街道中官西路777号", ["镇海区庄市街道中官西路777号"]),
    (
        "请寄往广州市天河区体育西路191号中石化大厦B座2501，电话联系",
        ["广州市天河区体育西路191号中石化大厦B座2501"],
    ),
    # fixed in session 22 (N15): 有 opens a clause after a floor (address.THERE_IS), 塔 is a
    # building's word, a building named after 90号 is read whole (address.BUILDING_NAMED),
    # levels apart are read with jieba (天津市和平区, 上海市浦东新区), 楼下 is no 号楼
    ("万达广场三楼有电影院。", ["万达广场三楼"]),
    (
        "请寄往广州市天河区体育西路191号中石化大厦B塔2501，电话联系",
        ["广州市天河区体育西路191号中石化大厦B塔2501"],
    ),
    (
        "地址：浙江省杭州市西湖区文三路90号东部软件园3号楼502室，工作日送达",
        ["浙江省杭州市西湖区文三路90号东部软件园3号楼502室"],
    ),
    ("地址：上海市浦东新区 陆家嘴环路 1000号", ["上海市浦东新区 陆家嘴环路 1000号"]),
    ("我在南京市鼓楼区中山北路123号楼下等你。", ["南京市鼓楼区中山北路123号"]),
]


@pytest.mark.parametrize(("text", "expected"), ADDRESS_SPANS)
def test_address_spans(text, expected):
    assert values(text, "ADDRESS") == expected


# --- PERSON (zh): any role's label with its colon (5f4d8b1 "cn role label": 审核人：钱峰)
# must take a name, not what a form writes there instead (法定, 父母, 门卫, 系统).
ROLE_LABEL_VALUES = [
    "受益人：法定",
    "监护人：父母",
    "担保人：配偶",
    "被保险人：本人",
    "见证人：公证处",
    "操作人：系统",
    "签收人：门卫",
    "审核人：高级经理",
    "参与人员：全体员工",
    xfail("会员：金卡", reason="a membership tier after 员：, 金 a surname and 金卡 no word jieba tags"),
]


@pytest.mark.parametrize("text", ROLE_LABEL_VALUES)
def test_no_name_after_a_role_label(text):
    assert values(text, "PERSON") == []


# --- PERSON (en): a first name that is also a word or a month, with its surname, in mail
# (en_names.repeated_parts, 4cc4a6e, reads the word alone later only as the same person's
# when it stands like one: Will you, Mark it, Hunter boots stay words). Older misses pinned.
EN_FIRST_NAMES_THAT_ARE_WORDS = [
    (
        "Will Smith called yesterday about the refund. Will you call him back today?",
        ["Will Smith"],
    ),
    (
        "Hunter Davis reported the bug last week. Hunter boots are out of stock.",
        ["Hunter Davis"],
    ),
    (
        "Jordan Lee ordered two pairs. Jordan shoes ship from the Memphis warehouse.",
        ["Jordan Lee"],  # the morning also read the shoes' Jordan as a person
    ),
    xfail(
        "Grace Park approved the budget for the quarter.",
        ["Grace Park"],
        reason="old: a full name whose surname is a place's word goes out in clear",
    ),
    xfail(
        "April Jones joined the team recently.",
        ["April Jones"],
        reason="old: a month's name opening a full name: no name found",
    ),
    xfail(
        "Chase Miller opened the ticket yesterday.",
        ["Chase Miller"],
        reason="old: the first name (a bank's and a verb's word) is cut off: Chase in clear",
    ),
]


@pytest.mark.parametrize(("text", "expected"), EN_FIRST_NAMES_THAT_ARE_WORDS)
def test_first_name_that_is_a_word(text, expected):
    assert values(text, "PERSON") == expected
