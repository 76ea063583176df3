"""Reviewer R6 (session 19): issue 13's new name rules read against the issue and its rule.

Hard negatives go through the shared Detector (normalisation, prefilter, model, context) as
tests/test_precision.py does. A false hit found by this review is a strict xfail
(``reason="R6: ..."``): it turns red when fixed, so the fix flips it into a pinned case.
Passing rows pin behaviour the new rules must keep (true names included, so a fix cannot
just drop every name).

"new" in a reason: the hit is absent at a338ff9~1 (before this session's detection
commits) and present now; "old": it was there before.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
from pathlib import Path

import pytest
from detection_support import detect

from detectors import prefilter
from detectors.recognizers import person

ROOT = Path(__file__).resolve().parent.parent
THRESHOLD = 0.5  # the policies' default min_score


def values(text: str, entity: str = "PERSON", context: tuple[str, ...] = ()) -> list[str]:
    return [
        text[f.start : f.end]
        for f in detect(text, context)
        if f.entity == entity and f.score >= THRESHOLD
    ]


def xfail(*values, reason: str):
    return pytest.param(*values, marks=pytest.mark.xfail(strict=True, reason=f"R6: {reason}"))


# --- the issue's own false-hit classes (§4): pinned through the whole detector
ISSUE_NEGATIVES = [
    ("护照号 E00000000", "CN_PASSPORT", ()),
    ('{"enterprise": {"id": "E00000000"}}', "CN_PASSPORT", ()),
    ("git clone git@github.com:org/repo.git", "EMAIL_ADDRESS", ()),
    ("ssh -T git@github.com", "EMAIL_ADDRESS", ()),
    ("Idempotency-Key: 8f14e45f", "PERSON", ()),
    ("Content-Type: application/json", "PERSON", ()),
    ("X-Request-Id: 42", "PERSON", ()),
    ("公司副总经理表示，本季度营收增长。", "PERSON", ()),
    ("公司副总经理", "PERSON", ()),
    ("招商银行表示，利率不变。", "PERSON", ()),
    ("平安银行行长指出，风险可控。", "PERSON", ()),
    ("项目经理表示，进度正常。", "PERSON", ()),
    ("客户经理介绍，理财产品已售罄。", "PERSON", ()),
    ("Chief Technology Officer role is open.", "PERSON", ()),
    ("Director General of the agency spoke.", "PERSON", ()),
    ("General Electric shares rose.", "PERSON", ()),
]


@pytest.mark.parametrize(("text", "entity", "context"), ISSUE_NEGATIVES)
def test_issue_hard_negatives(text, entity, context):
    assert values(text, entity, context) == []


# --- English first names that are common words, sentence-initial (N5's census-name rules)
EN_COMMON_WORD_NEGATIVES = [
    "May I ask when the invoice will be ready?",
    "Will you send the report by Friday?",
    "Rose slightly in the second quarter, revenue did.",
    "Hope this helps with the migration.",
    "Art direction was handled by the design team.",
    "Skip this step if the cache is warm.",
    "Drew a diagram of the pipeline yesterday.",
    "Norm values are normalised before training.",
    "Faith in the process matters.",
    # the census list holds them; model_names.COMMON_FIRST refuses them for en_names, but
    # the model's lone capitalised guess still stands (old)
    "Bill payment failed for account 4021.",
    "Mark as read once the review is done.",
    "Grant access to the staging bucket before the deploy.",
    # en_names.lone_name: a census first name then a lower-case word is 'the subject of a
    # clause'; at a sentence start that is also every imperative and noun phrase (new)
    "Gene expression was measured in all samples.",
    "Herb garden needs water every day.",
    "Grace period ends after thirty days.",
    "Chase the failing tests before release.",
    "Sue the vendor if the SLA is breached.",
    "Pat the dough dry before baking.",
    "Jack the car up before changing the tyre.",
    "Chuck the old logs into the archive.",
    "Cliff edge detection failed on the image.",
    "Frank feedback is welcome on this proposal.",
    "Sally forth and conquer the backlog.",
]


@pytest.mark.parametrize("text", EN_COMMON_WORD_NEGATIVES)
def test_en_common_words_that_are_first_names(text):
    assert values(text) == []


# Title-cased headlines and headings: a title/rank word starts them (en_names.titled_names)
EN_HEADLINE_NEGATIVES = [
    "Release Notes for Version 2",
    "Troubleshooting Guide",
    "Known Issues and Workarounds",
    "Major Release Notes",
    "Father Christmas visited the mall.",
    "Senator Says Budget Will Pass",
    "Mayor Calls Emergency Meeting",
    "President Signs Executive Order",
    "Coach Outlet Opens Downtown",
    "Lord Of The Rings sold out.",
    "Captain Crunch cereal is sweet.",
    # the model's guess opening with a title is read as titled_names reads it (fixed after
    # R6: en_names.model_guess)
    "Judge Rejects Appeal In Fraud Case",
]


@pytest.mark.parametrize("text", EN_HEADLINE_NEGATIVES)
def test_en_title_cased_headlines(text):
    assert values(text) == []


# A census first name + a capitalised word (en_names.full_name) in technical and business text
EN_PRODUCT_NEGATIVES = [
    ("Jenkins Pipeline failed on stage build.", ()),
    ("Kubernetes Dashboard shows errors.", ()),
    ("Spring Boot starters upgraded.", ()),
    ("Goldman Sachs led the round.", ()),
    ("Kelly Services reported earnings.", ()),
    ("Hudson Bay Company", ()),
    ("Travis Build failed on main.", ("text",)),
    ("Upgrade Jackson Databind to 2.15 to fix the CVE.", ("message",)),
    ("Bump Jackson Core from 2.9 to 2.10", ("title",)),
    ("Julia Lang released a new version.", ()),
    ("Marshall Plan documents were archived.", ()),
    ("Morgan Stanley cut its forecast.", ()),
    xfail(
        "Wells Fargo froze the account.", ("memo",), reason="old: a bank read as a person (model)"
    ),
    ("Kafka Streams lag increased on the consumer group.", ("text",)),
    xfail(
        "Jasmine Karma tests pass on the CI runner.", ("body",), reason="old: test tools as a name"
    ),
    # a plural noun and a plural verb after the words: a kind of thing (fixed after R6:
    # en_names.names_a_kind)
    ("Dell Inspiron laptops are on sale.", ("description",)),
]


# One capitalised word right after a preposition that places it (en_names.placed, N9)
EN_PLACE_NEGATIVES = [
    "Shipments leave from Rotterdam every week.",
    "The fossils were found near Haifa last year.",
    "Our office in Leipzig opens at nine.",
]


@pytest.mark.parametrize("text", EN_PLACE_NEGATIVES)
def test_en_one_word_after_a_place_preposition(text):
    assert values(text) == []


@pytest.mark.parametrize(("text", "context"), EN_PRODUCT_NEGATIVES)
def test_en_products_banks_and_tools(text, context):
    assert values(text, "PERSON", context) == []


# What the new English rules are for: they must keep finding these (pinned)
EN_POSITIVES = [
    ("Carter began the deployment at nine.", ["Carter"]),
    ("Victor Wooten joined the band.", ["Victor Wooten"]),
    ("The meeting with Victor Wooten is on Monday.", ["Victor Wooten"]),
    ("Christopher Columbus sailed in 1492.", ["Christopher Columbus"]),
    ("Randall Munroe drew a comic.", ["Randall Munroe"]),
    ("Frank said the build passed.", ["Frank"]),
    # a model guess with its title keeps the name after it (en_names.model_guess)
    ("Judge Jones noted the delay.", ["Jones"]),
    ("Senator Elizabeth Warren spoke on Tuesday.", ["Elizabeth Warren"]),
    ("Victor Wooten says the laptops are fine.", ["Victor Wooten"]),
    # the model stopped at a middle initial or a surname's particle: the surname went out
    # in clear (en_names.rest_of_name, model_names.NAME_PARTICLES)
    ("The report was signed by James W. Hoyt, Secretary.", ["James W. Hoyt"]),
    ("Guests have included Marcus du Sautoy and others.", ["Marcus du Sautoy"]),
    ("The contract went to Victor Wooten in March.", ["Victor Wooten"]),  # two words: a name
]


@pytest.mark.parametrize(("text", "expected"), EN_POSITIVES)
def test_en_names_still_found(text, expected):
    assert values(text) == expected


# Recall the precision rules must not cost (guard rail: names and IDs of customers)
# person.CAMEL_IDENTIFIER (62c9983) calls a word with an inner capital after 3+ lower-case
# letters a product's name and drops the whole value, even under a customer-name field
# (its commit says 4+; `[a-z]{3,}` is 3+). Names are written so too (new):
EN_CAMEL_NAMES = [
    ("Ellen FitzGerald", ("customer_name",), ["Ellen FitzGerald"]),
    ("MaryAnn Smith", ("customer_name",), ["MaryAnn Smith"]),
    ("Hans VanderBerg", ("customer_name",), ["Hans VanderBerg"]),
    ("KellyAnn Jones", ("name",), ["KellyAnn Jones"]),
    ("Dear MaryAnne Brown,", (), ["MaryAnne Brown"]),
    ("Please call Ellen FitzGerald tomorrow.", (), ["Ellen FitzGerald"]),
    ("Larry Page", ("name",), ["Larry Page"]),
    ("Grace Park", ("name",), ["Grace Park"]),
]


@pytest.mark.parametrize(("text", "context", "expected"), EN_CAMEL_NAMES)
def test_names_with_inner_capitals_still_found(text, context, expected):
    assert values(text, "PERSON", context) == expected


# CN_RESIDENT_ID (1a01a1b): a number labelled as another kind of number is that number. A
# bare 编号 or No. names no kind, and a name's label or a phone in the same line or record
# keeps a valid ID whatever its label (fixed after R6); an ID word keeps it (pinned).
CN_ID_RECALL = [
    ("证件号 110101199003074258", ()),
    ("110101199003074258", ("customer_id_no",)),
    ("订单号：20240301123456，身份证：110101199003074258", ()),
    ("收件人：王小明，身份证号：110101199003074258，单号：SF1234567890", ()),
    ("姓名,身份证,单号\n王小明,110101199003074258,SF123456", ()),
    ("编号：110101199003074258，姓名：王小明", ()),
    ("No. 110101199003074258, name: Wang Xiaoming", ()),
    ("合同编号：110101199003074258，联系人：王小明", ()),  # a name's label on the line
    ("订单号 110101199003074258 手机 13800138000", ()),  # a phone on the line
    ("姓名,单号\n王小明,110101199003074258", ()),  # a name column in the header
    ("王小明,110101199003074258", ("name", "order_no")),  # ... or in the row's context
]


@pytest.mark.parametrize(("text", "context"), CN_ID_RECALL)
def test_resident_ids_still_found(text, context):
    assert values(text, "CN_RESIDENT_ID", context) == ["110101199003074258"]


# --- Chinese: titles in roles, places with a surname character, role/speech-verb cues (N6)
CN_NEGATIVES = [
    "请王总审批这个工单。",
    "本项目由李总负责，预算已批。",
    "张总监指出，接口文档需要更新。",
    "黄山风景区门票涨价。",
    "黄石市政府发布通知。",
    "张家口市今天降雪。",
    "李家村修了新路。",
    "王府井大街人很多。",
    "赵县今年丰收。",
    "周口店遗址对外开放。",
    "钱塘江大潮今天出现。",
    "有关方面表示，将加快建设。",
    "相关方面指出，风险可控。",
    "温度表示正常，无需处理。",
    "程序指出，参数错误。",
    "方案指出，预算不足。",
    "公司高层表示，将继续投资。",
    "经理周末表示，会议改期。",
    "记者石家庄报道，天气转冷。",
    "记者于今日表示，地铁将延长运营。",
    "主任何时回来还不确定。",
    "院长方才说，会议推迟。",
    "局长江苏考察。",
    "市长江大桥通车了。",
    "白皮书强调，数据安全很重要。",
    "蓝皮书强调，数据安全很重要。",
    # 白皮书 was fixed by adding it to data/cn_not_names.txt (a list of the example); its
    # siblings show the root is not fixed (old)
    xfail("黄皮书指出，增长放缓。", reason="old: 黄皮书 + speech verb; 白皮书 only listed"),
    # a surname + 总 + 说 read as a three-character name: names_by_role refuses 总 as a
    # name's second character (TITLE_CHARS); the model's guess is cut at its title and a
    # rank word leaves no name (fixed after R6: model_names.ADDRESSING)
    "王总说，下周上线。",
]


@pytest.mark.parametrize("text", CN_NEGATIVES)
def test_cn_hard_negatives(text):
    assert values(text) == []


# A surname before a title is reported as the surname alone (tests/test_precision.py:
# 王经理你好 -> 王); the model's guess took the title with it: jieba's word 李经理 undid the
# cut (fixed after R6: nlp.people cuts titles after name_on_words; honorifics too)
CN_TITLE_SPANS = [
    ("今天王总经理办公室开会。", ["王"]),
    ("李经理负责的项目延期了。", ["李"]),
    ("陈老师布置了作业。", ["陈"]),
    ("家住金陵小区的陈大爷在银行办业务。", ["陈"]),
    ("药政科科长刘某说，门诊已被查封。", ["刘"]),
    ("王家卫导演了这部电影。", ["王家卫"]),  # 家 is no title inside a name
]


@pytest.mark.parametrize(("text", "expected"), CN_TITLE_SPANS)
def test_cn_surname_before_a_title(text, expected):
    assert values(text) == expected


# Dotted transliterations (cn_foreign.dotted_names, ee11e7f) that are places, events,
# brands and products, not people
CN_DOTTED_NEGATIVES = [
    "本次峰会在中国·杭州举办。",
    "北京·上海·广州三地同步发布。",
    "春·夏·秋·冬系列新品上市。",
    "公司总部位于美国·洛杉矶。",
    "展会在德国·慕尼黑举行。",
    "这是一款来自法国·波尔多的红酒。",
    "分店：澳大利亚·悉尼",
    "我们去了维多利亚·港看夜景。",
    "欢迎入住香格里拉·大酒店。",
    "雅诗·兰黛专柜在一楼。",
    "学校地址：加拿大·多伦多",  # fixed after R6: a country among the parts
    "巡演路线：巴黎·米兰·纽约",  # every part a place (jieba: ns)
    "我们从莫斯科·圣彼得堡出发。",  # the place 圣彼得堡 cut off the edge: one part left
    "意大利·罗马旅游团报名中。",
    "阿根廷·布宜诺斯艾利斯的天气很好。",
    "新西兰·奥克兰直飞航线开通。",
    "丝路·敦煌文化节开幕。",
    "保时捷·卡宴已售罄。",  # sold like goods (fixed after R6: context.GOODS_AFTER)
    "乔治·阿玛尼品牌旗舰店开业。",  # the brand rule reaches dotted names (context.WEAK_GUESSES)
    "比赛在卡塔尔·多哈举行。",  # the model's dotted guess: the same check (ner_score)
    "活动地点：三亚·亚龙湾",
    "我买了一杯卡布奇诺·拿铁。",  # counted as a thing (fixed after R6: context.THING_BEFORE)
    xfail("兰博基尼·乌拉卡到店了。", reason="old: a car model"),
]


@pytest.mark.parametrize("text", CN_DOTTED_NEGATIVES)
def test_cn_dotted_places_and_brands(text):
    assert values(text) == []


CN_POSITIVES = [
    ("这是一部关于约翰·史密斯的电影。", ["约翰·史密斯"]),
    ("由史蒂芬·奎爾执导。", ["史蒂芬·奎爾"]),
    ("记者张帆报道，地铁将延长运营。", ["张帆"]),
    ("阿根廷总统梅内姆举行会谈。", ["梅内姆"]),
    # a part that is also a place's name (jieba: ns) keeps a dotted name (cn_foreign.names_places)
    ("钢琴家亚历山大·波波夫今晚演奏。", ["亚历山大·波波夫"]),
    ("演员维多利亚·贝克汉姆出席。", ["维多利亚·贝克汉姆"]),
    ("由乔治·华盛顿签署。", ["乔治·华盛顿"]),
    ("会上一位约翰·史密斯发言。", ["约翰·史密斯"]),  # 位 counts people
]


@pytest.mark.parametrize(("text", "expected"), CN_POSITIVES)
def test_cn_names_still_found(text, expected):
    assert values(text) == expected


# --- N9 (session 20): classes of false names found on --split tune, fixed at their root.
# Sentences written for the test (not taken from the tuning set).
CN_CLASS_NEGATIVES = [
    # a country's name (libphonenumber's Chinese names) is no person
    "伊拉克欢迎邻国提出的倡议。",
    "代表团昨天抵达肯尼亚。",
    # a team: its ground, coach, record or rival follows (context.TEAM_AFTER)
    "切尔西主场2比1取胜。",
    "热那亚队本赛季3胜2负。",
    "米兰vs罗马的比赛推迟了。",
    # counted as a thing, or placed after 驻/首都 (context.THING_BEFORE)
    "他点了两杯摩卡·拿铁。",
    "美国驻秘鲁大使馆发布通知。",
    # a cue word in running text is no cue: the "name" opens with a function word or
    # starts inside a word (person.opens_a_word)
    "负责人向外方通报了进展。",
    "我们把品牌和定价做到了统一。",
    "对方提供的账号无法登录。",
    "相关部门的电话一直占线。",
    "作业都由老师批改。",
    "我是干销售出身的。",
]


@pytest.mark.parametrize("text", CN_CLASS_NEGATIVES)
def test_cn_false_name_classes(text):
    assert values(text) == []


CN_CLASS_POSITIVES = [
    ("我叫于小红，电话13800138000。", ["于小红"]),  # 于 is a surname here: the cue ends there
    ("订货的客户王永胜没有收到货。", ["王永胜"]),
    ("一位乔治·华盛顿的后人来访。", ["乔治·华盛顿"]),
    ("得到了一份胡佛的行程表。", ["胡佛"]),  # the classifier counts the owned thing
]


@pytest.mark.parametrize(("text", "expected"), CN_CLASS_POSITIVES)
def test_cn_names_beside_the_new_rules(text, expected):
    assert values(text) == expected


# --- 36744bf: names_by_role reads only cued runs; same findings as reading every run
def _zh_sentences() -> list[str]:
    rows = (ROOT / "bench" / "quality" / "data" / "text" / "gsd_dev.jsonl").read_text("utf-8")
    texts = [json.loads(line)["text"] for line in rows.splitlines() if line.strip()]
    ours = [text for text, _ in CN_POSITIVES] + [t for t in CN_NEGATIVES if isinstance(t, str)]
    return ours + texts[:200]


def test_names_by_role_cued_runs_change_nothing(monkeypatch):
    recognizer = person.PersonRecognizer()
    texts = _zh_sentences()

    def spans():
        return [
            [(r.start, r.end, r.score) for r in recognizer.names_by_role(t, None)] for t in texts
        ]

    cued = spans()
    monkeypatch.setattr(person, "cued_run", lambda text, run: True)
    assert spans() == cued
    assert any(cued)  # the sentences hold some cued names, so the comparison says something


@functools.cache
def _prefilter() -> prefilter.Prefilter:
    return prefilter.Prefilter()


def _alternatives(pattern: str) -> list[str]:
    return pattern.strip("(?:)").split("|")


@pytest.mark.parametrize("role", _alternatives(person.ROLES))
def test_prefilter_admits_every_role_cue(role):
    """prefilter.py keeps its own copy of person.ROLES: a role missing there skips
    names_by_role for the text."""
    assert "PERSON" in _prefilter().entities(f"今天{role}张帆出席")


@pytest.mark.parametrize("verb", [v for v in person.SPEECH_AFTER.pattern.split("|")])
def test_prefilter_admits_every_speech_verb(verb):
    text = "今天张帆" + verb.replace("[，,：:]", ",")
    assert "PERSON" in _prefilter().entities(text)


# --- the rule: tuning sources and vendored data
def _tracked() -> list[str]:
    out = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "bench/quality", "detectors/data"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return out.stdout.split()


LOCAL_ONLY = re.compile(r"(?i)msra|cluener|multiconer|resume|address|wikigold|lattice")


def test_local_only_sources_are_not_vendored():
    data = [p for p in _tracked() if p.startswith("bench/quality/data/")]
    assert data, "git ls-files found no vendored data at all"
    assert [p for p in data if LOCAL_ONLY.search(p)] == []
    for path in (p for p in data if p.endswith(".jsonl")):
        sources = {
            json.loads(line)["source"] for line in (ROOT / path).read_text("utf-8").splitlines()
        }
        assert not any(LOCAL_ONLY.search(s) for s in sources), path


def test_tuning_samples_are_recorded_with_their_licence():
    from bench.quality import tune

    sources = (ROOT / "bench" / "quality" / "SOURCES.md").read_text("utf-8")
    for sample in tune.SAMPLES.values():
        row = next((ln for ln in sources.splitlines() if ln.startswith(f"| {sample.name}")), "")
        assert sample.repo in row and sample.commit[:8] in row, sample.name
        assert "licence" in row.lower() or "CC BY" in row or "none stated" in row, sample.name
        assert not re.search(r"(?i)\b(test|dev)\b", sample.path), sample.path
    assert "resume" not in " ".join(tune.NAMES)  # Resume stays the zh-unseen corpus


def test_resume_stays_unseen():
    from bench.quality import realscore

    assert "resume" not in realscore.TUNED_CORPORA | realscore.MODEL_CORPORA


@pytest.mark.parametrize(
    "name",
    [
        "en_first_names.txt",
        "cn_transliteration.txt",
    ],
)
def test_vendored_word_lists_have_source_and_licence(name):
    assert name in (ROOT / "detectors" / "data" / "SOURCES.md").read_text("utf-8")


def test_tuning_sources_are_no_evaluation_source():
    from bench.quality import tune, vendor

    assert set(tune.NAMES).isdisjoint(s.name for s in vendor.SOURCES)
    assert all(name.endswith("_tune") for name in tune.NAMES)


# --- the tuning set against every dev/test sentence, by seen.key (needs the local mirrors)
@functools.cache
def _tune_and_evaluation() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    from bench.quality import seen, tune, vendor

    root = tune.default_root()
    try:
        texts = tune.tune_texts(root)
        evaluation = {
            s.name: {seen.key(r["text"]) for r in vendor.records(s, vendor.Mirror(root, s), 0)}
            for s in vendor.SOURCES
            if s.name not in vendor.CLEAN
        }
    except Exception as error:  # noqa: BLE001 - no mirrors here: nothing to compare
        pytest.skip(f"local mirrors unavailable ({type(error).__name__})")
    for path in (ROOT / "bench" / "quality" / "data" / "text").glob("*.jsonl"):
        rows = path.read_text("utf-8").splitlines()
        evaluation[f"vendored {path.stem}"] = {seen.key(json.loads(r)["text"]) for r in rows}
    tuning: dict[str, set[str]] = {}
    for text in texts:
        assert text.split == "tune"
        tuning.setdefault(text.source, set()).add(seen.key(text.text))
    return tuning, {name: keys - {""} for name, keys in evaluation.items()}


def test_no_tuning_sentence_is_a_dev_or_test_sentence():
    tuning, evaluation = _tune_and_evaluation()
    assert {"msra_tune", "cluener_tune", "multiconer_tune", "wikigold_tune"} <= set(tuning)
    overlaps = {
        (t, e): len(keys & ekeys)
        for t, keys in tuning.items()
        for e, ekeys in evaluation.items()
        if keys & ekeys
    }
    assert overlaps == {}


@pytest.mark.xfail(
    strict=True,
    reason="R6: 21 msra_tune sentences contain (or are contained in) a People's Daily test "
    "sentence of the `msra` row: split differently, so seen.key misses them",
)
def test_no_tuning_sentence_contains_a_test_sentence():
    tuning, evaluation = _tune_and_evaluation()
    test_keys = [k for k in evaluation["msra"] if len(k) >= 10]
    nested = [
        k for k in tuning["msra_tune"] if len(k) >= 10 and any(e in k or k in e for e in test_keys)
    ]
    assert nested == []
