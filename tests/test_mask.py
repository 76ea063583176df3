import pytest

from detectors.mask import mask_value


@pytest.mark.parametrize(
    ("entity", "value", "masked"),
    [
        ("PHONE_NUMBER", "13800138000", "138****8000"),
        ("PHONE_NUMBER", "+86 138 0013 8000", "+86 138****8000"),
        ("PHONE_NUMBER", "(+86)138-0013-8000", "(+86)138****8000"),
        ("PHONE_NUMBER", "１３８\u200b0013 8000", "138****8000"),
        ("PHONE_NUMBER", "010-12345678", "010-****5678"),
        ("CN_RESIDENT_ID", "11010519491231002X", "110105********002X"),
        ("CN_RESIDENT_ID", "110105491231002", "110105******002"),
        ("CREDIT_CARD", "4111111111111234", "************1234"),
        ("CREDIT_CARD", "4111 1111 1111 1234", "**** **** **** 1234"),
        ("EMAIL_ADDRESS", "zhang@example.com", "z***@example.com"),
        ("PERSON", "张三", "张*"),
        ("PERSON", "张小明", "张**"),
        ("PERSON", "John Smith", "J*** S****"),
        ("ADDRESS", "北京市朝阳区建国路88号", "北京市*********"),
        ("ADDRESS", "广东省深圳市南山区粤海街道1号", "广东省深圳市*********"),
        ("ADDRESS", "建国路88号", "******"),
        ("IP_ADDRESS", "114.114.114.114", "114.114.*.*"),
        ("CN_PASSPORT", "E12345678", "E******78"),
        ("IBAN_CODE", "DE89370400440532013000", "DE89**************3000"),
        ("UNKNOWN_THING", "secret", "<UNKNOWN_THING>"),
        ("PERSON", "王", "<PERSON>"),
        ("PHONE_NUMBER", "123", "<PHONE_NUMBER>"),
    ],
)
def test_mask_value(entity, value, masked):
    assert mask_value(entity, value) == masked


@pytest.mark.parametrize(
    ("entity", "value"),
    [
        ("PHONE_NUMBER", "13800138000"),
        ("CN_RESIDENT_ID", "11010519491231002X"),
        ("CREDIT_CARD", "6222021234567890128"),
        ("EMAIL_ADDRESS", "a@b.cn"),
        ("PERSON", "李四"),
        ("ADDRESS", "北京市"),
        ("CN_USCC", "91350100M000100Y43"),
        ("IP_ADDRESS", "8.8.8.8"),
        ("PHONE_NUMBER", "+44 20 7031 3000"),
    ],
)
def test_mask_never_shows_the_whole_value(entity, value):
    masked = mask_value(entity, value)
    assert masked != value
    assert value not in masked
