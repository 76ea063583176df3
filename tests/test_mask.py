"""Masks (detectors/mask.py): what each entity may show, and the keyed fingerprint.

The rule is that mask + easily known facts (birth date, home county, gender, check digit,
carrier, city, bank) must not rebuild a value or narrow it to a few candidates: the tests
below build every candidate those facts allow and require that the mask cannot tell them
apart (only the fingerprint can, and only with the key).
"""

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from detectors import mask
from detectors.mask import keyed_fingerprint, mask_value, use_fingerprint_key
from detectors.model import Finding

KEY = bytes(range(32))


@pytest.fixture(autouse=True)
def no_key():
    use_fingerprint_key(None)
    yield
    use_fingerprint_key(None)


@pytest.mark.parametrize(
    ("entity", "value", "masked"),
    [
        ("PHONE_NUMBER", "13800138000", "138********"),
        ("PHONE_NUMBER", "+86 138 0013 8000", "+86 138********"),
        ("PHONE_NUMBER", "(+86)138-0013-8000", "(+86)138********"),
        ("PHONE_NUMBER", "１３８\u200b0013 8000", "138********"),
        ("PHONE_NUMBER", "010-12345678", "010-********"),
        ("PHONE_NUMBER", "+44 20 7031 3000", "+44 2* **** ****"),
        ("CN_RESIDENT_ID", "11010519491231002X", "11****************"),
        ("CN_RESIDENT_ID", "110105491231002", "11*************"),
        ("CREDIT_CARD", "4111111111111234", "************1234"),
        ("CREDIT_CARD", "4111 1111 1111 1234", "**** **** **** 1234"),
        ("EMAIL_ADDRESS", "zhang@example.com", "z***@example.com"),
        ("EMAIL_ADDRESS", "zhang.wei.1980@example.com", "z***@example.com"),
        ("PERSON", "张三", "张**"),
        ("PERSON", "张小明", "张**"),
        ("PERSON", "John Smith", "S***"),
        ("ADDRESS", "北京市朝阳区建国路88号", "北京市***"),
        ("ADDRESS", "广东省深圳市南山区粤海街道1号", "广东省深圳市***"),
        ("ADDRESS", "建国路88号", "***"),
        ("ADDRESS", "1600 Amphitheatre Pkwy, Mountain View, CA 94043", "***, Mountain View, CA *****"),
        ("IP_ADDRESS", "114.114.114.114", "114.114.*.*"),
        ("CN_PASSPORT", "E12345678", "E********"),
        ("CN_PASSPORT", "EA1234567", "EA*******"),
        ("CN_USCC", "91350100M000100Y43", "91****************"),
        ("IBAN_CODE", "DE89370400440532013000", "DE********************"),
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
    use_fingerprint_key(KEY)
    masked = mask_value(entity, value)
    assert masked != value
    assert value not in masked


# -- mask + known facts leave many candidates ------------------------------------------------------

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def resident_id(first17: str) -> str:
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


def test_resident_id_mask_is_the_same_for_everyone_born_that_day_in_that_county():
    """Who knows birthday, county and gender still faces 500 IDs the mask cannot tell apart."""
    county, birthday = "320582", "19800513"
    male = [resident_id(f"{county}{birthday}{seq:03d}") for seq in range(1, 1000, 2)]
    assert len(male) == 500
    assert {mask_value("CN_RESIDENT_ID", v) for v in male} == {"32****************"}


@given(st.integers(0, 10**8 - 1), st.integers(0, 10**8 - 1))
def test_mobile_mask_shows_only_the_carrier_prefix(a, b):
    """City (the 4 digits after the prefix) and tail are hidden: 10^8 numbers per prefix."""
    assert mask_value("PHONE_NUMBER", f"138{a:08d}") == mask_value("PHONE_NUMBER", f"138{b:08d}")


@given(st.integers(0, 10**5 - 1), st.integers(0, 10**5 - 1))
def test_card_mask_hides_the_bin(a, b):
    """With the customer's bank (BIN) known, every card ending 1234 of that bank looks alike."""
    assert (mask_value("CREDIT_CARD", f"622202{a:05d}1234")
            == mask_value("CREDIT_CARD", f"456789{b:05d}1234") == "*" * 11 + "1234")


# -- fingerprint -----------------------------------------------------------------------------------

def test_fingerprint_is_hmac_sha256_of_entity_and_canonical_value():
    expected = hmac.new(KEY, b"CN_RESIDENT_ID\x0011010519491231002X", hashlib.sha256).hexdigest()
    assert keyed_fingerprint("CN_RESIDENT_ID", "11010519491231002x", KEY) == expected[:6]
    use_fingerprint_key(KEY)
    assert mask_value("CN_RESIDENT_ID", "11010519491231002X") == f"11****************#{expected[:6]}"


@pytest.mark.parametrize(("entity", "a", "b"), [
    ("PHONE_NUMBER", "13800138000", "+86 138 0013 8000"),
    ("PHONE_NUMBER", "13800138000", "0086-138-0013-8000"),
    ("CN_RESIDENT_ID", "11010519491231002X", "110105 19491231 002x"),
    ("CREDIT_CARD", "6222021234567890128", "6222 0212 3456 7890 128"),
    ("EMAIL_ADDRESS", "Zhang@Example.com", "zhang@example.com"),
])
def test_spellings_of_one_value_share_a_fingerprint(entity, a, b):
    assert keyed_fingerprint(entity, a, KEY) == keyed_fingerprint(entity, b, KEY)


def test_fingerprints_tell_values_apart_and_need_the_key():
    ids = [resident_id(f"32058219800513{seq:03d}") for seq in range(1, 200, 2)]
    prints = {keyed_fingerprint("CN_RESIDENT_ID", v, KEY) for v in ids}
    assert len(prints) == len(ids)  # 100 values, 2^24 buckets: no collision for this set
    other_key = {keyed_fingerprint("CN_RESIDENT_ID", v, bytes(32)) for v in ids}
    assert not prints & other_key


def test_body_rewrites_carry_no_fingerprint():
    use_fingerprint_key(KEY)
    f = Finding("PHONE_NUMBER", 0.9, 0, 11, "json:$.phone", 0, "13800138000")
    assert f.masked(fingerprint=False) == "138********"
    assert f.masked() == "138********#" + keyed_fingerprint("PHONE_NUMBER", "13800138000", KEY)
    assert "13800138000" not in repr(f)


def test_without_a_key_there_is_no_fingerprint():
    assert mask._key is None
    assert "#" not in mask_value("CN_RESIDENT_ID", "11010519491231002X")
