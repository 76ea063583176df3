"""Partial masks for findings: enough to recognise the record, never the whole value.

    >>> mask_value("PHONE_NUMBER", "13800138000"), mask_value("PHONE_NUMBER", "+86 138 0013 8000")
    ('138****8000', '+86 138****8000')
    >>> mask_value("CN_RESIDENT_ID", "11010519491231002X")
    '110105********002X'
    >>> mask_value("CREDIT_CARD", "4111 1111 1111 1234")
    '**** **** **** 1234'
    >>> mask_value("EMAIL_ADDRESS", "zhang@example.com"), mask_value("PERSON", "张三")
    ('z***@example.com', '张*')
    >>> mask_value("PERSON", "John Smith"), mask_value("ADDRESS", "北京市朝阳区建国路88号")
    ('J*** S****', '北京市*********')
    >>> mask_value("SOMETHING_ELSE", "x")
    '<SOMETHING_ELSE>'

Used in block pages, audit records and masked request bodies, so it must
work on any value the engine returns (separators, full-width digits...).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from detectors.normalize import normalize

MOBILE_TAIL = re.compile(r"1[3-9]\d[ -]?\d{4}[ -]?\d{4}$")
ADMIN_PREFIX = re.compile(r"^(?:.{2,3}?(?:省|自治区|特别行政区))?(?:.{2,8}?(?:市|自治州|地区|盟))?")


def keep_ends(value: str, head: int, tail: int) -> str:
    """Mask letters/digits except the first ``head`` and last ``tail`` ones; separators stay."""
    positions = [i for i, ch in enumerate(value) if ch.isalnum()]
    hidden = set(positions[head : len(positions) - tail])
    return "".join("*" if i in hidden else ch for i, ch in enumerate(value))


def phone(value: str) -> str:
    mobile = MOBILE_TAIL.search(value)
    if mobile:
        digits = re.sub(r"\D", "", mobile.group(0))
        return value[: mobile.start()] + digits[:3] + "****" + digits[-4:]
    count = sum(ch.isdigit() for ch in value)
    return keep_ends(value, 3, 4 if count >= 10 else 2)


def resident_id(value: str) -> str:
    compact = value.replace(" ", "")
    if len(compact) == 18:
        return compact[:6] + "*" * 8 + compact[-4:]
    return compact[:6] + "*" * (len(compact) - 9) + compact[-3:]


def email(value: str) -> str:
    local, _, domain = value.rpartition("@")
    return (local[:1] + "***@" + domain) if local else "<EMAIL_ADDRESS>"


def person(value: str) -> str:
    if re.search(r"[\u3400-\u9fff]", value):
        return value[:1] + "*" * (len(value) - 1)
    return re.sub(r"(?<=[A-Za-z])[A-Za-z'’.-]", "*", value)


def address(value: str) -> str:
    if re.search(r"[\u4e00-\u9fff]", value):
        kept = ADMIN_PREFIX.match(value).group(0)  # type: ignore[union-attr]
        kept = kept if len(kept) < len(value) else ""
        return kept + "*" * (len(value) - len(kept))
    street, comma, rest = value.partition(",")
    return re.sub(r"\w", "*", street) + comma + re.sub(r"\d", "*", rest)


def ip(value: str) -> str:
    if "." in value and ":" not in value:
        return ".".join(part if i < 2 else "*" for i, part in enumerate(value.split(".")))
    groups = value.split(":")
    return ":".join(group if i < 2 else "*" for i, group in enumerate(groups))


MASKS: dict[str, Callable[[str], str]] = {
    "PHONE_NUMBER": phone,
    "CN_RESIDENT_ID": resident_id,
    "CREDIT_CARD": lambda v: keep_ends(v, 0, 4),
    "EMAIL_ADDRESS": email,
    "PERSON": person,
    "ADDRESS": address,
    "IP_ADDRESS": ip,
    "IBAN_CODE": lambda v: keep_ends(v, 4, 4),
    "CN_PASSPORT": lambda v: keep_ends(v, 1, 2),
    "CN_USCC": lambda v: keep_ends(v, 2, 2),
}


def mask_value(entity: str, value: str) -> str:
    """A partial mask of ``value``; ``<ENTITY>`` if a partial mask would show it all."""
    value = normalize(value).text  # full-width digits and zero-width tricks shown plainly
    mask = MASKS.get(entity)
    masked = mask(value) if mask else value
    if masked == value or "*" not in masked or len(value) < 4 and entity != "PERSON":
        return f"<{entity}>"
    return masked
