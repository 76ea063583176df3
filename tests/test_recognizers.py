"""Each entity: positives (Chinese and English text, JSON-field contexts) and hard negatives.

Runs through the shared Detector so normalisation, prefilter and context
enhancement are part of what is tested.
"""

import pytest
from detection_support import best, detect

from detectors.recognizers.cn_resident_id import is_valid_id18
from detectors.recognizers.credit_card import card_brand_fits
from detectors.recognizers.person import is_cn_name, is_name_field


def found(text, entity, context=(), min_score=0.5):
    finding = best(text, entity, context)
    return finding is not None and finding.score >= min_score


# (text, entity, expected value, field context)
POSITIVES = [
    # resident ID
    ("身份证号：11010519491231002X", "CN_RESIDENT_ID", "11010519491231002X", ()),
    ("id 11010519491231002x ok", "CN_RESIDENT_ID", "11010519491231002x", ()),
    ("110105 19491231 002X", "CN_RESIDENT_ID", "110105 19491231 002X", ()),
    ("身份证 110105491231002", "CN_RESIDENT_ID", "110105491231002", ()),
    ("110105491231002", "CN_RESIDENT_ID", "110105491231002", ("idCard",)),
    ("张三,13800138000,11010519640901488X", "CN_RESIDENT_ID", "11010519640901488X", ()),
    # phone
    ("name,mobile\n张三,13800138000,11010519640901488X", "PHONE_NUMBER", "13800138000", ()),
    ("13800138000", "PHONE_NUMBER", "13800138000", ("customer", "phone")),
    ("13800138000", "PHONE_NUMBER", "13800138000", ("手机",)),
    ("请拨打我的手机13800138000", "PHONE_NUMBER", "13800138000", ()),
    ("mobile: 138 0013 8000", "PHONE_NUMBER", "138 0013 8000", ()),
    ("138-0013-8000", "PHONE_NUMBER", "138-0013-8000", ()),
    ("电话 +86 138 0013 8000", "PHONE_NUMBER", "+86 138 0013 8000", ()),
    ("+8613800138000", "PHONE_NUMBER", "+8613800138000", ()),
    ("0086-138-0013-8000", "PHONE_NUMBER", "0086-138-0013-8000", ()),
    ("(+86)13800138000", "PHONE_NUMBER", "(+86)13800138000", ()),
    ("办公电话 010-12345678", "PHONE_NUMBER", "010-12345678", ()),
    ("0755-1234567", "PHONE_NUMBER", "0755-1234567", ()),
    ("tel (021) 1234 5678", "PHONE_NUMBER", "(021) 1234 5678", ()),
    ("call +44 20 7031 3000 today", "PHONE_NUMBER", "+44 20 7031 3000", ()),
    ("call +1 650-253-0000", "PHONE_NUMBER", "+1 650-253-0000", ()),
    ("手机：１３８\u200b0013 8000", "PHONE_NUMBER", "１３８\u200b0013 8000", ()),
    # credit card
    ("card 4111 1111 1111 1111", "CREDIT_CARD", "4111 1111 1111 1111", ()),
    ("5555-5555-5555-4444", "CREDIT_CARD", "5555-5555-5555-4444", ()),
    ("amex 378282246310005", "CREDIT_CARD", "378282246310005", ()),
    ("6222021234567890128", "CREDIT_CARD", "6222021234567890128", ()),
    ("卡号：6222021234567890127", "CREDIT_CARD", "6222021234567890127", ()),
    ("6222021234567890127", "CREDIT_CARD", "6222021234567890127", ("bank_card",)),
    ("JCB 3530111333300000", "CREDIT_CARD", "3530111333300000", ()),
    ("amex 3782 822463 10005", "CREDIT_CARD", "3782 822463 10005", ()),
    ("银行卡 6222 0212 3456 7890 128", "CREDIT_CARD", "6222 0212 3456 7890 128", ()),
    # passport
    ("护照号码 E12345678", "CN_PASSPORT", "E12345678", ()),
    ("passport EA1234567", "CN_PASSPORT", "EA1234567", ()),
    ("G12345678", "CN_PASSPORT", "G12345678", ("passport_no",)),
    ("护照 P1234567", "CN_PASSPORT", "P1234567", ()),
    # USCC
    ("统一社会信用代码：91350100M000100Y43", "CN_USCC", "91350100M000100Y43", ()),
    ("91350100M000100Y43", "CN_USCC", "91350100M000100Y43", ()),
    ("税号 913501001234500041", "CN_USCC", "913501001234500041", ()),
    # email, IP, IBAN
    ("邮箱zhang.san@example.com.cn，谢谢", "EMAIL_ADDRESS", "zhang.san@example.com.cn", ()),
    ("a=x&email=y@z.com", "EMAIL_ADDRESS", "y@z.com", ()),
    (
        "ｚｈａｎｇ＠ｅｘａｍｐｌｅ．ｃｏｍ",
        "EMAIL_ADDRESS",
        "ｚｈａｎｇ＠ｅｘａｍｐｌｅ．ｃｏｍ",
        (),
    ),
    ("client ip 114.114.114.114", "IP_ADDRESS", "114.114.114.114", ()),
    ("from 2400:3200::1:8a2e:370", "IP_ADDRESS", "2400:3200::1:8a2e:370", ()),
    ("IBAN DE89 3704 0044 0532 0130 00", "IBAN_CODE", "DE89 3704 0044 0532 0130 00", ()),
    ("GB82WEST12345698765432", "IBAN_CODE", "GB82WEST12345698765432", ()),
    # person
    ("张伟", "PERSON", "张伟", ("收件人",)),
    ("欧阳娜娜", "PERSON", "欧阳娜娜", ("order", "consignee")),
    ("李小明", "PERSON", "李小明", ("customer_name",)),
    ("John Smith", "PERSON", "John Smith", ("customer", "name")),
    ("Smith", "PERSON", "Smith", ("last_name",)),
    ("姓名：张三，电话：13800138000", "PERSON", "张三", ()),
    ("收件人:李四", "PERSON", "李四", ()),
    ("请王先生到前台", "PERSON", "王", ()),
    ("李明女士您好", "PERSON", "李明", ()),
    ("Name: Jane Doe", "PERSON", "Jane Doe", ()),
    ("Please ask Mr. Smith", "PERSON", "Smith", ()),
    ("Best regards,\nJohn Smith\n", "PERSON", "John Smith", ()),
    # address
    (
        "北京市朝阳区建国路88号SOHO现代城3号楼1单元1203室",
        "ADDRESS",
        "北京市朝阳区建国路88号SOHO现代城3号楼1单元1203室",
        (),
    ),
    (
        "地址：广东省深圳市南山区科技园南区粤海街道1号",
        "ADDRESS",
        "广东省深圳市南山区科技园南区粤海街道1号",
        (),
    ),
    (
        "寄到上海市浦东新区张江路123弄4号502室，谢谢",
        "ADDRESS",
        "上海市浦东新区张江路123弄4号502室",
        (),
    ),
    (
        "1600 Pennsylvania Ave NW, Washington, DC 20500",
        "ADDRESS",
        "1600 Pennsylvania Ave NW, Washington, DC 20500",
        (),
    ),
    # found by the quality benchmark (bench/quality)
    (
        "ship to 576 Kayla Ports, Harrisville, MI 03666.",
        "ADDRESS",
        "576 Kayla Ports, Harrisville, MI 03666",
        (),
    ),
    ("尊敬的刘秀云：\n\n您好！", "PERSON", "刘秀云", ()),
    ("如有问题请致电。\n\n此致\n范丽丽\n", "PERSON", "范丽丽", ()),
    ("您好，我是李文，订单还没发货", "PERSON", "李文", ()),
    ("另外，张飞的手机号是13603000000", "PERSON", "张飞", ()),
    ("请联系张倩（147 9710 7688）确认", "PERSON", "张倩", ()),
    ("手机175-7107-6451，找熊帆。", "PERSON", "熊帆", ()),
    ("Dear Melissa Beasley,\n\nYour order has shipped.", "PERSON", "Melissa Beasley", ()),
    ("Hi, this is Maurice Rush. Call me.", "PERSON", "Maurice Rush", ()),
    (
        "ship it to Larry Franklin, 8327 Caitlyn Isle, Lake Sean, DC 01104.",
        "PERSON",
        "Larry Franklin",
        (),
    ),
    ("萧冬梅", "PERSON", "萧冬梅", ("收件人",)),
    ("高利", "PERSON", "高利", ("sender", "name")),
    ("张三,13800138000", "PERSON", "张三", ("姓名", "手机号")),
    ("请整理：\n姓名,手机号\n王雪,18180280000", "PERSON", "王雪", ()),
    ("请整理：\n姓名,手机号\n王雪,18180280000", "PHONE_NUMBER", "18180280000", ()),
    ('name,address\nAmy Alvarez,"1 Main St, Boston, MA 02101"', "PERSON", "Amy Alvarez", ()),
    ("call 759-774-7984 today", "PHONE_NUMBER", "759-774-7984", ()),
    ("+1-620-831-5118x8543", "PHONE_NUMBER", "+1-620-831-5118x8543", ()),
    ("8174601735", "PHONE_NUMBER", "8174601735", ("phone",)),
    ("diners 38824011301065", "CREDIT_CARD", "38824011301065", ()),
    ("卡号 300213915798537375", "CREDIT_CARD", "300213915798537375", ()),
]


@pytest.mark.parametrize(("text", "entity", "value", "context"), POSITIVES)
def test_positive(text, entity, value, context):
    finding = best(text, entity, context)
    assert finding is not None, "not found"
    assert finding.value == value
    assert text[finding.start : finding.end] == value
    assert finding.score >= 0.5


HARD_NEGATIVES = [
    "订单号 202611271530001234",  # 18 digits, no province / checksum
    "order 110105194912310021",  # right shape, wrong ID check digit
    "created 20261127153000",  # timestamp
    "顺丰 SF1234567890123",
    "圆通 YT1234567890123",
    "tracking 773123456789012",
    "550e8400-e29b-41d4-a716-446655440000",
    "ref 4111111111111112",  # 16 digits, not Luhn
    "1234567812345678",
    "11012345678 12345678901 10987654321",  # 11 digits starting 10/11/12
    "SKU-2026-000123 SKU88812345",
    "total 12,345.67 元",
    "v1.2.3.4 version 1.2.3.4 build 10.0.19045",
    "sha1 d41d8cd98f00b204e9800998ecf8427e and 9e107d9d372bb6826bd81d3542a419d6",
    "date 2026-11-27 2026/11/27 27.11.2026 2026年11月27日",
    "0.0.0.0 and 1.3.6.1.4.1.2021",
    "price 1380013800.00",
    "我们去了王府井大街和黄山，买了李宁和华为，还有周大福",
    "北京 上海 北京市朝阳区",
    "我在超市买了3号电池",
    "std::vector and a::b and 12:30:45",
    '{"id": 1234567, "count": 42, "ok": true}',
    # found by the quality benchmark (bench/quality)
    "客户反馈高德地图的包装有破损，工单已经登记",
    "客户反馈杨浦区的包装有破损",
    "姓名,手机号,银行卡号,身份证号",
    "Deployed 11.8.2.9 at 20250731102000",
    "版本version 19.14.6.16修复了崩溃问题",
    "Batch 360102196008096001 contains 261 units",  # 18 digits, Luhn by chance
    "单号 621491129304920651",
    "地址：江西省欣市吉区吴路244号孙公寓10号楼462室",  # 吴路 is a road
    "Dear Valued Customer, thanks for your order 2026112712345678.",
    "8174601735",  # 10 digits without a phone field
]


@pytest.mark.parametrize("text", HARD_NEGATIVES)
def test_hard_negative_is_clean(text):
    # The address in "地址：江西省…吴路244号…" is one; the road in it is no person.
    real = "ADDRESS" if text.startswith("地址") else None
    strong = [f for f in detect(text) if f.score >= 0.5 and f.entity != real]
    assert strong == []


def test_card_groups_are_not_a_landline():
    entities = {f.entity for f in detect("卡号 3559 0432 4956 6208") if f.score >= 0.5}
    assert entities == {"CREDIT_CARD"}  # not the landline 0432-4956...


@pytest.mark.parametrize(
    ("text", "context"),
    [("2.18.15.20", ("app", "version")), ("7.20.2.1", ("build",))],
)
def test_version_fields_are_not_ip_addresses(text, context):
    assert not found(text, "IP_ADDRESS", context)


@pytest.mark.parametrize(
    ("text", "context"),
    [
        ("华为", ("customer_name",)),
        ("李宁", ("收件人",)),
        ("黄山", ("name",)),
        ("张伟", ("remark",)),
        ("张伟", ("username",)),
        ("Premium", ("product_name",)),
        ("金龙鱼", ("product", "name")),
        ("海底捞", ("merchant", "name")),
    ],
)
def test_name_field_negatives(text, context):
    assert not found(text, "PERSON", context)


@pytest.mark.parametrize(
    ("text", "context", "entity"),
    [
        ("13800138000", (), "PHONE_NUMBER"),  # bare mobile: reported low, below 0.5
        ("110105491231002", (), "CN_RESIDENT_ID"),  # 15 digits need context
        ("913501001234500041", (), "CN_USCC"),  # all-digit USCC needs context
        ("6222021234567890127", (), "CREDIT_CARD"),  # UnionPay failing Luhn needs context
        ("P1234567", (), "CN_PASSPORT"),
        ("G12345678", (), "CN_PASSPORT"),  # a letter and 8 digits alone is any id
        ("E12345678", ("id",), "CN_PASSPORT"),
    ],
)
def test_needs_context(text, context, entity):
    assert not found(text, entity, context)


def test_bare_mobile_scores_lower_than_with_field_context():
    bare = best("13800138000", "PHONE_NUMBER")
    with_field = best("13800138000", "PHONE_NUMBER", ("mobile",))
    assert bare is not None and with_field is not None
    assert with_field.score > bare.score


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("11010519491231002X", True),
        ("11010519491231002x", True),
        ("110105194912310021", False),
        ("99010519491231002X", False),  # no such province
        ("110105190002300010", False),  # February 30th
        ("110105299901010011", False),  # born in the future
    ],
)
def test_resident_id_validation(number, valid):
    assert is_valid_id18(number) is valid


@pytest.mark.parametrize(
    ("number", "fits"),
    [
        ("4111111111111111", True),
        ("1234567812345678", False),
        ("62220212345678901", True),
        ("341111111111111", True),
        ("3411111111111111", False),
    ],
)
def test_card_iin_and_length(number, fits):
    assert card_brand_fits(number) is fits


@pytest.mark.parametrize(
    ("word", "is_name"),
    [
        ("张伟", True),
        ("欧阳娜娜", True),
        ("华为", False),
        ("王府井", False),
        ("高兴", False),
        ("张", False),
        ("张王小明", True),
        ("abc", False),
    ],
)
def test_cn_name(word, is_name):
    assert is_cn_name(word) is is_name


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        (("customer", "name"), True),
        (("full_name",), True),
        (("firstName",), True),
        (("收件人",), True),
        (("联系人姓名",), True),
        (("username",), False),
        (("hostname",), False),
        (("file_name",), False),
        (("customer_id",), False),
        (("用户名",), False),
        ((), False),
    ],
)
def test_name_field(context, expected):
    assert is_name_field(context) is expected


# A mobile in a sentence, as people write prompts and messages: found at the policies' 0.5.
PHONE_IN_SENTENCES = [
    ("SMS to customer Wang at 15867203941 about the refund", "15867203941"),
    ("please call 15867203941 tomorrow", "15867203941"),
    ("Please text 15867203941 when the parcel arrives.", "15867203941"),
    ("You can reach her on 15867203941 after 6pm", "15867203941"),
    ("Write a polite reminder to the customer whose number is 15867203941", "15867203941"),
    ("Write a polite reminder to the customer whose number is +86 158-6720-3941",
     "+86 158-6720-3941"),
    ("Draft a WhatsApp message for 15867203941 saying the order is late", "15867203941"),
    ("客户的手机是15867203941，请回电", "15867203941"),
    ("联系电话：158 6720 3941", "158 6720 3941"),
    ("给15867203941发短信，告诉他退款已到账", "15867203941"),
    ("麻烦打给15867203941确认地址", "15867203941"),
    ("15867203941 is her mobile, call before noon", "15867203941"),
    ("Call the card holder at 15867203941 to confirm", "15867203941"),  # "card": a person here
    ("contact the account owner at 15867203941", "15867203941"),
    ("Tel. 15867203941", "15867203941"),
]


@pytest.mark.parametrize(("text", "value"), PHONE_IN_SENTENCES)
def test_mobile_in_a_sentence_is_found(text, value):
    finding = best(text, "PHONE_NUMBER")
    assert finding is not None and finding.value == value
    assert finding.score >= 0.5


# Mobile-shaped numbers that a sentence labels as something else stay below 0.5, even with a
# phone word earlier in the sentence (the nearest label decides).
NOT_PHONES_IN_SENTENCES = [
    "order 15867203941 shipped",
    "please call about order 15867203941",
    "the order number is 15867203941, call support if it is late",
    "tracking 15867203941 via SF Express",
    "顺丰 15867203941",
    "运单号15867203941，有问题打电话",
    "订单号码：15867203941",
    "15867203941 is the invoice number",
    "timestamp 1586720394 ms 1586720394123",
    "call 215867203941 and 158672039412",  # inside longer digit runs
    "ticket 11987654321 for the phone team",  # 11 digits not starting 1[3-9]
    "upgrade to version 15.8.67203941",
    "card no. 15867203941, please call the bank",  # "no." does not end the sentence
    "customer number 15867203941 called twice",
]


@pytest.mark.parametrize("text", NOT_PHONES_IN_SENTENCES)
def test_other_numbers_in_sentences_are_not_phones(text):
    assert not found(text, "PHONE_NUMBER")


def test_bare_mobile_without_a_cue_stays_low():
    finding = best("用户15867203941反馈无法登录", "PHONE_NUMBER")
    assert finding is not None and finding.score < 0.5


# --- names from the NER model in prose (tuned on bench/quality --split tune only)
# The model's Chinese guess re-cut on jieba's words: (text, guess start, guess end, name)
MODEL_CUTS = [
    ("罢免曹爽兄弟", 2, 5, "曹爽"),  # ran on into 兄弟
    ("杜宇代表中国出战", 0, 3, "杜宇"),  # ran on into 代表
    ("主人翁高松翔在一次爆炸中", 2, 6, "高松翔"),  # started inside 主人翁
    ("诗人但丁，也象征", 3, 4, "但丁"),  # one character of the name
    ("他和王小明说", 2, 5, "王小明"),  # on word bounds: unchanged
    ("公司副总经理负责此事", 1, 4, ""),  # 司副总: a job title, no name
    ("我们公司总经理明天到", 3, 5, ""),
]


@pytest.mark.parametrize(("text", "start", "end", "name"), MODEL_CUTS)
def test_model_guess_is_recut_on_words(text, start, end, name):
    from detectors.recognizers.person import name_on_words

    a, b = name_on_words(text, start, end)
    assert text[a:b] == name


# Names beside the model's: (text, the model's guesses, names the rule adds)
BESIDE_MODEL = [
    ("梦鸽、韩红、谭晶、许飞被誉为四大弟子", ["谭晶"], ["韩红", "许飞"]),  # the list's items
    ("李密战败，王世充俘获程知节，任命他为将军", ["王世充"], ["程知节"]),  # 3 characters
    ("王小明说张治中还和周恩来通过电话", ["王小明"], ["张治中"]),
    ("李密战败，王世充俘获程知节", [], []),  # no guess: no prose rule either
    ("北京、上海、王小明都到了", ["王小明"], []),  # places in the list
    ("招商银行、王小明、公司副总经理", ["王小明"], []),  # a bank and a job title
    # what the model's own guesses are refused for: a shop's head, a place's ending
    ("江小白专卖店的店长王小明明天到岗", ["王小明"], []),
    ("张家界和王小明的联名款下周上线", ["王小明"], []),
    ("我们在徐家汇的门店见了王小明", ["王小明"], []),
    # two characters only as an item of the guess's list (李娜 is beside 母亲, not 王小明)
    ("王小明的母亲和李娜都在客户经理那里", ["王小明"], []),
    ("王小明和李娜都在客户经理那里", ["王小明"], ["李娜"]),
]


@pytest.mark.parametrize(("text", "guesses", "names"), BESIDE_MODEL)
def test_names_beside_the_models_guesses(text, guesses, names):
    from types import SimpleNamespace

    from detectors.recognizers.person import PersonRecognizer

    spans = [SimpleNamespace(start_char=text.index(g), end_char=text.index(g) + len(g)) for g in guesses]  # fmt: skip
    found = PersonRecognizer().beside_model_names(text, SimpleNamespace(entities=spans))
    assert [text[r.start : r.end] for r in found] == names
    assert all(r.score == 0.5 for r in found)


# A place's head word says what it is (in prose); surnames that are place words stay names.
@pytest.mark.parametrize(
    ("value", "field", "ok"),
    [
        ("Wembley Stadium", False, False),
        ("Sand Springs", False, False),
        ("Grand Central Station", False, False),
        ("Jane Park", False, True),  # Park, Hall, Church, Lake: surnames too
        ("Arsenio Hall", False, True),
        ("Ricki Lake", False, True),
        ("Sarah Station", True, True),  # under a name field only organisations are refused
    ],
)
def test_place_heads_are_not_names_in_prose(value, field, ok):
    from detectors.recognizers.person import en_words_ok

    assert en_words_ok(value, field) is ok


# The model's Chinese guesses: a transliterated name keeps its dot (CJK on both sides, not
# an ellipsis), a title after the name is not part of it.
@pytest.mark.parametrize(
    ("guess", "foreign"),
    [("马克斯·沃夫", True), ("列夫·达维多维奇·布隆施泰因", True), ("福···", False), ("·沃夫", False)],
)
def test_transliterated_names_are_marked_by_their_dot(guess, foreign):
    from detectors.nlp import FOREIGN_NAME

    assert (FOREIGN_NAME.fullmatch(guess) is not None) is foreign


@pytest.mark.parametrize(
    ("text", "span", "name"),
    [("韦契特博士短暂地任法医师", (0, 5), "韦契特"), ("李明教授说", (0, 4), "李明")],
)
def test_a_title_after_a_chinese_name_is_cut(text, span, name):
    from detectors.nlp import _without_titles

    start, end = _without_titles(text, *span)
    assert text[start:end] == name


# English names in prose by their shape (detectors/en_names.py): a census first name and a
# capitalised word, with a middle initial or not; through the whole detector, so the rule's
# place in the model's pass (nlp.people) is part of what is tested.
EN_PROSE_NAMES = [
    ("Beauford played with Victor Wooten on side projects.", "Victor Wooten"),
    ("Toastmasters have included Raymond E. Feist this year.", "Raymond E. Feist"),
    ("Three players, among them Senior Kory Lichtensteiger, were named.", "Kory Lichtensteiger"),
    ("He married Elizabeth Cronmiller in 1851.", "Elizabeth Cronmiller"),
    ("Although her acting career took off, Ilona decided to open a shop.", "Ilona"),
    ("Mr Grant called about the refund.", "Grant"),  # a common-word name: only with a title
    # a surname with an inner capital: the whole of it after a label (not "Ellen" alone)
    ("Cardholder: Ellen FitzGerald", "Ellen FitzGerald"),
    ("Stan believes the deploy is safe.", "Stan"),  # at a sentence's start: a verb follows
]


@pytest.mark.parametrize(("text", "value"), EN_PROSE_NAMES)
def test_english_names_in_prose(text, value):
    finding = best(text, "PERSON")
    assert finding is not None and finding.value == value and finding.score >= 0.5


EN_PROSE_NOT_NAMES = [
    "Send the Idempotency-Key and Content-Type headers with every call.",
    "Our office moved to New York and then to Santa Clara last spring.",
    "The event was held at George Washington University in the autumn.",
    "They walked along the Jordan River towards Victoria Station.",
    "In May Sandy Hook flooded again after the storm.",  # May, Sandy: common words too
    "Grant money arrived after the Rose Parade ended downtown.",
    "The Project Manager and the Sales Director signed off the release.",
    "The track crossed Sandy River Railroad near Lincoln Reservoir.",
    "Tickets for the St. Louis Cardinals went on sale at the Stanley Casino.",
    "Read The Alfred Phillips House guide before you visit.",
    "Please restart Visual Studio Code and Microsoft Teams before Monday.",  # products
    "Our Senior Software Engineer opened the Pull Request.",  # a job title, a term
]


@pytest.mark.parametrize("text", EN_PROSE_NOT_NAMES)
def test_english_capitalised_terms_in_prose_are_not_names(text):
    assert best(text, "PERSON") is None


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("later Victor Wooten and George Melvin joined", ["Victor Wooten", "George Melvin"]),
        ("as Raymond E. Feist said", ["Raymond E. Feist"]),
        ("X-Victor-Wooten and victor@Wooten.example", []),  # a header name, an address
        ("Senior Kory Lichtensteiger", ["Kory Lichtensteiger"]),  # the word before is no name
        ("the German Senator; Irish News; San Jose Mercury", []),  # census names, not here
        ("Victor WOOTEN and Victor Street", []),  # an acronym, a street
        ("Carter began at nine; in Florence, Ilona's lover", ["Carter", "Ilona"]),  # alone
        ("the Harrison extension reached Florence in June", []),  # after an article; a place
        ("Sunday brought rain and Gloria Estefan sang", ["Gloria Estefan"]),
        ("Ticket Gloria opened", []),  # inside a capitalised run: a product's name
        ("Colonel Clay Tice Jr., Mr. Thomas D. Green", ["Clay Tice", "Thomas D. Green"]),
        ("Governor Wise signed it", ["Wise"]),  # a strong title: one word is enough
        ("Captain Crunch cereal; Captain Beefheart.", ["Beefheart"]),  # a noun after one word
        ("Mayor Calls Emergency Meeting", []),  # a headline: title case, no first name
        ("Sir George Alan Thomas, Betty Uber", ["George Alan Thomas", "Betty Uber"]),
        ("Grace period ends. Chase the bug. Frank said no", ["Frank"]),  # sentence starts
        ("Upgrade Jackson Databind to 2.15; Morgan Stanley cut its rate", []),  # a package, a bank
        ("Travis Build and Marshall Plan", []),  # a product's or a plan's head word
        ("General Motors and Major League Baseball", []),  # a weak title: a first name too
        ("Director General Smith and Father Christmas", []),
    ],
)
def test_en_names_rule(text, names):
    from detectors.en_names import en_names

    assert [text[a:b] for a, b in en_names(text)] == names


@pytest.mark.parametrize(
    ("text", "end", "ok"),
    [
        ("Cal Anderson Park is a park", 17, False),  # three words and a place's head
        ("Linkin Park played", 11, False),  # Linkin is no first name
        ("Grace Park called", 10, True),  # a surname that is a place word
        ("George Washington University", 17, False),  # the head follows the guess
        ("Ann Lee called", 7, True),
        ("Lincoln Reservoir", 17, False),
    ],
)
def test_model_guesses_before_or_ending_in_a_place_head(text, end, ok):
    from detectors.recognizers.person import en_head_ok, plausible_name

    assert en_head_ok(text, 0, end) is ok
    assert plausible_name(text, 0, end) is ok


# --- Chinese: foreign names in transliteration (detectors/cn_foreign.py), tuned on --split tune
CN_FOREIGN_NAMES = [
    ("德国塔宾根大学的乌里奇·韦塞尔等人对此做了研究", "乌里奇·韦塞尔"),  # the model says LOC
    ("有一条腿的美国人托·怀塔克今天征服了雪山", "托·怀塔克"),
    ("迭戈·米利托重归之后，球队完成逆转", "迭戈·米利托"),
    ("由史蒂芬·奎爾执导的电影", "史蒂芬·奎爾"),  # traditional characters
    ("该画由安托万-让·格罗完成", "安托万-让·格罗"),  # a hyphenated given name
]


@pytest.mark.parametrize(("text", "value"), CN_FOREIGN_NAMES)
def test_chinese_dotted_foreign_names_in_prose(text, value):
    assert [f.value for f in detect(text) if f.entity == "PERSON" and f.score >= 0.5] == [value]


CN_FOREIGN_NOT_NAMES = [
    "龙湖·花墅香醍营销中心开放",  # an estate: its parts are ordinary words
    "我们在读《哈利·波特与魔法石》这本书",  # a title
    "航班降落在尼古拉·特斯拉国际机场",  # a name naming a place
    "该活动在安德鲁·梅隆礼堂举行",
    "“德米特里·东斯科伊”号核潜艇发射了导弹",  # a ship
    "公司副总经理在会上发言",
    "本产品·规格说明·售后服务",  # dots between ordinary words
]


@pytest.mark.parametrize("text", CN_FOREIGN_NOT_NAMES)
def test_chinese_dots_that_are_not_foreign_names(text):
    assert [f for f in detect(text) if f.entity == "PERSON" and f.score >= 0.5] == []


# --- Chinese: a name by the role before it or the speech verb after it (person.names_by_role)
CN_ROLE_NAMES = [
    ("快报讯记者张帆报道：总投资过亿的项目开工", "张帆"),
    ("广东省社科院教授黎友焕表示深圳现金投放减少", "黎友焕"),
    ("国务院发展研究中心副部长林家彬在峰会上发言", "林家彬"),
    ("谢有福表示：“我们欢迎非洲企业。”", "谢有福"),
]


@pytest.mark.parametrize(("text", "value"), CN_ROLE_NAMES)
def test_chinese_names_by_role_or_speech_verb(text, value):
    assert value in [f.value for f in detect(text) if f.entity == "PERSON" and f.score >= 0.5]


CN_ROLE_NOT_NAMES = [
    "公司副总经理表示将加快进度",  # a job title, no name
    "日本科学技术白皮书强调要依靠科技",  # 白皮书 is a document
    "招商银行表示将下调利率",  # a bank
    "有关专家认为市场将回暖",
]


@pytest.mark.parametrize("text", CN_ROLE_NOT_NAMES)
def test_chinese_roles_and_speech_verbs_without_a_name(text):
    found = [f for f in detect(text) if f.entity == "PERSON" and f.score >= 0.5]
    assert found == []


CN_FOREIGN_BY_ROLE = [
    ("今天同来访的阿根廷总统梅内姆举行会谈", ["梅内姆"]),  # 阿根廷 before 总统 is a country
    ("德国教练福格茨对老将克林斯曼很满意", ["福格茨", "克林斯曼"]),  # 老将: a veteran player
    ("由球星巴蒂斯图塔射门成功", ["巴蒂斯图塔"]),
    ("荷兰队前锋克鲁伊维特在下半场被罚下", ["克鲁伊维特"]),
    ("美国国务卿奥尔布赖特访华", ["奥尔布赖特"]),
]


@pytest.mark.parametrize(("text", "values"), CN_FOREIGN_BY_ROLE)
def test_chinese_foreign_names_after_a_role(text, values):
    found = [f.value for f in detect(text) if f.entity == "PERSON" and f.score >= 0.5]
    assert found == values
