"""Which entities a text can possibly contain, in one fast pass.

    >>> sorted(Prefilter().entities("call 138 0013 8000 or mail a@b.cn"))
    ['EMAIL_ADDRESS', 'PHONE_NUMBER']
    >>> Prefilter().entities("今天天气很好 the weather is fine")
    frozenset()

Most traffic holds no personal data; the recognizers (and Presidio around
them) cost far more than one scan. Each signal is a loose superset of what a
recognizer can match, so a skipped text can hold no finding of that entity.
Hyperscan scans all signals at once (hundreds of MB/s); Python's ``re`` is
the fallback where hyperscan is not installed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NUMBERS = ("PHONE_NUMBER", "CREDIT_CARD", "CN_RESIDENT_ID", "CN_USCC")
CN_TITLES = "先生|女士|小姐|太太|老师|经理|医生|律师|教授"
CN_LABELS = "姓名|名字|收件人|收货人|联系人|持卡人|寄件人|户名|客户|乘车人|乘机人|乘客|入住人|申请人|签收人|经办人|负责人"
CN_CUES = (
    "尊敬的|亲爱的|我是|我叫|本人|我的名字|此致|敬礼|的手机|的电话|的身份证|的证件|的地址|的住址|"
    "的邮箱|的银行卡|的卡号|的联系方式|的微信|的简历|的照片|的档案|的病历|的护照|的驾照|的工资|"
    "的账户|的账号|人：|员：|人:|员:|"
    # person.SERVICE_ROLE: a name follows these words in service notes (快递员周大伟, 用户赵敏)
    "快递员|配送员|送货员|外卖员|业务员|客服|用户|顾客|司机|店员|店主|护士|同事|员工|职工|"
    "学员|会员|队员|选手|患者|病人|家长|老人|村民|居民|市民|网友|民警|交警|工人|农民"
)
STREET_TYPES = (
    "Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Drive|Dr|Lane|Ln|Way|Court|Ct|Place|Pl|"
    "Parkway|Pkwy|Highway|Hwy|Terrace|Ter|Circle|Cir|Square|Sq"
)

# (signal, entities it makes possible, case-insensitive). "(^|[^0-9])" anchors a
# number's first digit (hyperscan has no lookbehind), so an 18-digit order
# number does not look like a mobile or an ID from its middle.
N = "(^|[^0-9])"
E = "([^0-9]|$)"
SIGNALS: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    (rf"{N}1[3-9][0-9]([ -]?[0-9]{{4}}){{2}}{E}", ("PHONE_NUMBER",), False),
    (r"0[0-9]{2,3}(\) ?|[ -])[1-9][0-9]{2}", ("PHONE_NUMBER",), False),
    (r"[0-9]{3}[-.)] ?[0-9]{3}[-.][0-9]{4}", ("PHONE_NUMBER",), False),
    (r"\+ ?\(?[0-9]", ("PHONE_NUMBER",), False),
    (rf"{N}(2[2-7]|3[0-9]|4|5[1-5]|6|8)[0-9]{{12,18}}{E}", ("CREDIT_CARD",), False),
    (
        r"[0-9]{4}[ -][0-9]{6}[ -][0-9]{4}|[0-9]{4}[ -][0-9]{4}[ -][0-9]{4}[ -][0-9]",
        ("CREDIT_CARD",),
        False,
    ),
    (
        r"[1-8][0-9]{5} ?(19|20)[0-9]{2}[01][0-9][0-3][0-9] ?[0-9]{3}[0-9Xx]",
        ("CN_RESIDENT_ID",),
        False,
    ),
    (r"[1-9A-GY][0-9A-Z][0-9]{6}[0-9A-Z]{0,9}[A-Z]", ("CN_USCC",), False),
    (r"[A-Za-z0-9]@[A-Za-z0-9]", ("EMAIL_ADDRESS",), False),
    (r"[0-9]\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]", ("IP_ADDRESS",), False),
    (r"[0-9A-Fa-f]:[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:|::[0-9A-Fa-f]", ("IP_ADDRESS",), False),
    (r"[A-Z]{2}[0-9]{2}[ -]?[A-Z0-9]{4}", ("IBAN_CODE",), False),
    (r"[0-9A-Za-z] ?(号|弄|栋|幢|座|单元|层|楼|室|户)", ("ADDRESS",), False),
    (r"[一-鿿][A-Za-z]?[1-9][0-9]{0,3}-[0-9]{1,4}", ("ADDRESS",), False),  # 新村123-10-446, 苑A11-12
    # (the letter only after a CJK character: a uuid or a digest has letter-digits-digits too)
    # Buildings numbered in words (三幢2151, 七栋六楼), a road or an estate and a bare number
    # (震元路1194, 置信广场2514), a road then a named place (…文昌路新文化广场; address.py).
    (r"[一二三四五六七八九十](号楼|栋|幢|座|单元)", ("ADDRESS",), False),
    (r"(路|街|大道|巷)[东西南北]?[0-9]{2}", ("ADDRESS",), False),
    (r"(广场|大厦|大楼|中心|花园|公寓|家园|小区|苑|国际|酒店|楼)[0-9]{3}", ("ADDRESS",), False),
    # A market's stall after its zone, aisle or floor (商贸城四区44604, 珠宝城AB0602), an
    # estate's floor in words (温山大厦四楼): address.STALL, address.BUILDING.
    (r"(城|区|街|层)[A-Za-z]{0,2}[0-9]{3}", ("ADDRESS",), False),
    (r"(城|场|厦|楼|心)[一二三四五六七八九十]{1,2}(楼|层)", ("ADDRESS",), False),
    (
        r"(市|区|县|镇|乡|街道)[^\n]{0,12}(路|街|大道)[^\n]{0,16}"
        r"(广场|中心|大厦|大楼|酒店|宾馆|工业园|工业区|开发区|政府|市场|商城|医院|学校|公司|厂)",
        ("ADDRESS",),
        False,
    ),
    (r"(街道|镇|乡)[^\n]{0,12}(工业园|工业区|开发区)", ("ADDRESS",), False),
    (r"(路|街|大道)[与和][^\n]{1,10}(路|街|大道)(交叉口|交汇处|交界处|路口)", ("ADDRESS",), False),
    # A cue, then two admin levels or one and a road: a named place may follow (寄到…市…局).
    (
        r"(地址|住址|寄|送|发往|发到|住在|搬到|位于|收货|配送|上门|去|到)[^\n]{0,8}"
        r"(省|市|区|县|旗|镇|乡|街道)[^\n]{0,12}(省|市|区|县|旗|镇|乡|街道|路|街|大道)",
        ("ADDRESS",),
        False,
    ),
    # A sending cue, one admin level, then a named place (寄到玉环县凯门科技工业园; address.SENDING_CUE).
    (
        r"(地址|住址|寄|送|发往|发到|住在|搬到|收货|配送|上门)[^\n]{0,8}(市|区|县|镇|乡|街道)[^\n]{0,16}"
        r"(园|区|市场|中心|大厦|大楼|花园|公寓|广场|学校|中学|小学|医院|公司|厂|店|局|所|部|苑|街|路)",
        ("ADDRESS",),
        False,
    ),
    (r"(市|区|县|镇)[^\n]{0,24}(路|街|大道)[东西南北]?[0-9]", ("ADDRESS",), False),  # …城隍中路1168
    (r"(路|街|道|巷)[东西南北]?[一二三四五六七八九十百零]{1,4}号", ("ADDRESS",), False),  # 新安西路七号
    # An admin level and a village or estate, no number (…永阳镇北义安村三组).
    (
        r"(省|市|区|县|旗|镇|乡|街道)[^\n]{0,24}(村|组|社区|居委会|小区|花园|公寓|大厦)",
        ("ADDRESS",),
        False,
    ),
    # Admin levels, then a works or institution (…温岭市太平街道第一人民医院).
    (
        r"(省|市|区|县)[^\n]{0,12}(市|区|县|镇|乡|街道)[^\n]{0,24}"
        r"(中心|家园|新村|苑|工业区|工业园|园区|开发区|市场|商城|公司|厂|医院|学校|中学|小学|大学|学院|宾馆|酒店|派出所)",
        ("ADDRESS",),
        False,
    ),
    # Admin levels joined by hyphens, as a form's cascading pickers write them
    # (广东省-深圳市-福田区华强北振华手机城): a cue of their own (address.joined_levels).
    (r"(省|市|区)[-－_][^\n]{1,8}(市|区|县)[-－_]", ("ADDRESS",), False),
    (rf"[0-9]\s+([A-Z][a-z]*\.?\s+)+({STREET_TYPES})\b", ("ADDRESS",), False),
    (r", ?[A-Z]{2} [0-9]{5}([^0-9]|$)", ("ADDRESS",), False),  # ", MI 03666": state and ZIP
    (rf"{CN_LABELS}|{CN_TITLES}", ("PERSON",), False),
    (r"\b(full name|name|customer|contact|recipient|attn|card ?holder)\s*[:：]", ("PERSON",), True),
    (r"\b(name|recipient|receiver|consignee|cardholder|account holder)\b", ("PERSON",), True),
    (r"\b(Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Madam)\.?\s+[A-Z]", ("PERSON",), False),
    (rf"{CN_CUES}", ("PERSON",), False),
    (r"[一-鿿][·・•‧][一-鿿]", ("PERSON",), False),  # 约翰·史密斯 (detectors/cn_foreign.py)
    # A role before a name or a speech verb after one (person.names_by_role).
    (
        r"(记者|通讯员|经理|主任|部长|总统|主席|教练|教授|总理|市长|省长|县长|区长|行长|局长|"
        r"董事长|委员|主管|编辑|主编|顾问|作者|书记|院长|校长|处长|厂长|所长|总裁|总监|律师|医生|"
        r"法官|队长|会长|社长|导演|演员|歌手|选手|球员|球星|画家|作家|专家|学者|研究员|工程师|负责人|"
        r"前锋|后卫|中场|门将|主帅|主教练|外援|老将|国脚|裁判|外长|国务卿|首相|议员|大使|国王|女王|"
        r"司长|参谋长|委员长|总司令|总书记|发言人|候选人|领导人|学家|艺术家|音乐家|作曲家|诗人|编剧|"
        r"主持人|评论员|分析师)[一-鿿]{2}|"
        r"[一-鿿]{2}(表示|介绍|告诉|认为|强调|指出|透露|报道|坦言|回忆|说[，,：:]|称[，,：:]|"
        r"同志|一行|等人|夫妇)",
        ("PERSON",),
        False,
    ),
    (r"\b(dear|hi|hello|hey|this is|my name is|i am|i'm)\s+[a-z]", ("PERSON",), True),
    # A name next to other personal data (see detectors/recognizers/person.py).
    (
        (
            r"[一-鿿][^\n]{0,24}([0-9]{7}|1[3-9][0-9][ -]?[0-9]{4})|"
            r"([0-9]{7}|[0-9]{4}[ -][0-9]{4})[^\n]{0,12}[一-鿿]"
        ),
        ("PERSON",),
        False,
    ),
    (r"[A-Z][a-z]+ [A-Z][a-z]+[^\n]{0,24}([0-9]{3}|@)", ("PERSON",), False),
    (
        r"(regards|sincerely|cheers|thanks|thank you|best|wishes|truly)[ \t]*[,!.]?[ \t]*\r?\n",
        ("PERSON",),
        True,
    ),
)
# Candidates that score below the threshold unless a context word is present
# (legacy 15-digit IDs, all-digit USCC, passports): the engine keeps these
# entities only when the text or the field names hold one of their context words.
WEAK_SIGNALS: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    (rf"{N}[1-8][0-9]{{14}}{E}", ("CN_RESIDENT_ID",), False),
    (rf"{N}[1-9][0-9]{{17}}{E}", ("CN_USCC",), False),
    (rf"{N}[2-9][0-9]{{9}}{E}", ("PHONE_NUMBER",), False),  # US number without separators
    (r"[EG][0-9]{8}|E[A-Z][0-9]{7}|[PSD][0-9]{7}", ("CN_PASSPORT",), False),
)
# Prose worth the NER model (detectors.nlp): two capitalised words, a capitalised word after
# a lower-case one ("met Alice"), a sentence that starts with a capitalised word and runs on
# in lower case for two words or more ("Jennifer called about her refund", "Nguyen approved
# the PR.", "Patel's invoice is attached": a ticket line's surname for en_names), or six CJK
# characters close together, a separator between any two allowed ("王小明,李娜,张伟:明天开会").
# Short values such as "标准件 standard part" are not prose: a request without prose never
# pays for the model.
# No lookbehind (hyperscan): "(^|[\n.!?] +)" starts a sentence; the segment selector joins
# segments with newlines, so "\n" stands for each segment's start there.
CJK_SEPARATORS = " ,.:;!?、。·"
NER_SIGNALS: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    (r"[A-Z][a-z]+ +[A-Z][a-z]+", ("PERSON",), False),
    (r"[a-z]{2,}[,:]? [A-Z][a-z]", ("PERSON",), False),
    (r"(^|\n|[.!?] +)[A-Z][a-z]+(['’]s)? [a-z]{2,} [a-z]+", ("PERSON",), False),
    (rf"[一-鿿]([{CJK_SEPARATORS}]?[一-鿿]){{5}}", ("PERSON",), False),
)
_PROSE = re.compile("|".join(regex for regex, _, _ in NER_SIGNALS))


def worth_ner(text: str) -> bool:
    """Is ``text`` prose the NER model should read?

    >>> worth_ner("I met Alice at the station"), worth_ner("标准件 standard part")
    (True, False)
    >>> worth_ner("昨天下午我和同事去开会"), worth_ner("SKU-00001 129.00")
    (True, False)
    >>> worth_ner("Jennifer called about her refund."), worth_ner("王小明,李娜,张伟:明天开会")
    (True, True)
    >>> worth_ner("Patel's invoice is attached."), worth_ner("Invalid token")
    (True, False)
    """
    return _PROSE.search(text) is not None


@dataclass(frozen=True, slots=True)
class Possible:
    entities: frozenset[str]  # may be in the text
    with_context: frozenset[str]  # may be in the text, but only count with a context word


class Prefilter:
    """Built once; ``scan(text)`` is the hot path. ``ner``: add the NER signal."""

    def __init__(self, ner: bool = False) -> None:
        strong = SIGNALS + (NER_SIGNALS if ner else ())
        self.signals = strong + WEAK_SIGNALS
        self.weak_ids = frozenset(range(len(strong), len(self.signals)))
        self.by_id = [frozenset(entities) for _, entities, _ in self.signals]
        # PERSON's own signals (labels, titles, cues), not the NER model's prose signals.
        self.person_rules = frozenset(i for i, s in enumerate(SIGNALS) if "PERSON" in s[1])
        self.hits = self._hyperscan() or self._python_re()

    def scan(self, text: str) -> Possible:
        hits = self.hits(text)
        strong = frozenset().union(*(self.by_id[i] for i in hits if i not in self.weak_ids))
        weak = frozenset().union(*(self.by_id[i] for i in hits if i in self.weak_ids))
        return Possible(strong, weak - strong)

    def person_by_rule(self, text: str) -> bool:
        """Does a rule's signal (a label, a title, a cue) make a name possible in ``text``?

        >>> Prefilter(ner=True).person_by_rule("姓名：张三"), Prefilter(ner=True).person_by_rule(
        ...     "会议纪要由赵志刚整理")
        (True, False)
        """
        return not self.person_rules.isdisjoint(self.hits(text))

    def entities(self, text: str) -> frozenset[str]:
        """All entities ``text`` may hold, context or not."""
        possible = self.scan(text)
        return possible.entities | possible.with_context

    def _hyperscan(self):
        try:
            import hyperscan
        except ImportError:
            return None
        database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        base = hyperscan.HS_FLAG_SINGLEMATCH | hyperscan.HS_FLAG_UTF8
        database.compile(
            expressions=[regex.encode() for regex, _, _ in self.signals],
            ids=list(range(len(self.signals))),
            elements=len(self.signals),
            flags=[
                base | (hyperscan.HS_FLAG_CASELESS if nocase else 0)
                for _, _, nocase in self.signals
            ],
        )

        def hits(text: str) -> set[int]:
            found: set[int] = set()
            database.scan(text.encode("utf-8"), match_event_handler=lambda i, *_: found.add(i))
            return found

        return hits

    def _python_re(self):
        compiled = [
            re.compile(regex, re.ASCII | (re.IGNORECASE if nocase else 0))
            for regex, _, nocase in self.signals
        ]

        def hits(text: str) -> set[int]:
            return {i for i, pattern in enumerate(compiled) if pattern.search(text)}

        return hits
