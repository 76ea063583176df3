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
    ("G12345678", "CN_PASSPORT", "G12345678", ()),
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
]


@pytest.mark.parametrize("text", HARD_NEGATIVES)
def test_hard_negative_is_clean(text):
    strong = [f for f in detect(text) if f.score >= 0.5]
    assert strong == []


@pytest.mark.parametrize(
    ("text", "context"),
    [
        ("华为", ("customer_name",)),
        ("李宁", ("收件人",)),
        ("黄山", ("name",)),
        ("张伟", ("remark",)),
        ("张伟", ("username",)),
        ("Premium", ("product_name",)),
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
    ],
)
def test_needs_context(text, context, entity):
    assert not found(text, entity, context)


def test_bare_mobile_scores_lower_than_with_field_context():
    bare = best("13800138000", "PHONE_NUMBER")
    with_field = best("13800138000", "PHONE_NUMBER", ("mobile",))
    assert bare is not None and with_field is not None
    assert with_field.score > bare.score


def test_lone_passport_moderate_score():
    finding = best("E12345678", "CN_PASSPORT")
    assert finding is not None and 0.5 <= finding.score < 0.8


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
