"""Masks that cannot be rebuilt: what a mask may show of each entity, plus a keyed fingerprint.

    >>> mask_value("CN_RESIDENT_ID", "11010519491231002X")
    '11****************'
    >>> mask_value("PHONE_NUMBER", "13800138000"), mask_value("PHONE_NUMBER", "+86 138 0013 8000")
    ('138********', '+86 138********')
    >>> mask_value("CREDIT_CARD", "4111 1111 1111 1234"), mask_value("EMAIL_ADDRESS", "zhang@example.com")
    ('**** **** **** 1234', 'z***@example.com')
    >>> mask_value("PERSON", "张小明"), mask_value("ADDRESS", "北京市朝阳区建国路88号")
    ('张**', '北京市***')
    >>> use_fingerprint_key(bytes(32)); mask_value("CN_RESIDENT_ID", "11010519491231002X")
    '11****************#774efd'
    >>> use_fingerprint_key(None)  # (the key is per process: this example leaves none behind)

A mask shows only what easily known facts (birth date, home county, gender, the customer's
bank or city, the check digit) cannot turn back into the value or into a short list of
candidates; policies/REFERENCE.md ("Masks") has the table with the candidates each leaves.
Two values with the same mask are told apart by the fingerprint: the first 6 hex digits of
HMAC-SHA256 under a key that never leaves the proxy host (DATA_DIR/keys/mask-fingerprint.key),
so nobody without the key can test a guess against it.

Records (decision log, incidents, `baomi scan`) carry ``mask_value(entity, value)``: the
fingerprint is added once the process has a key (``use_fingerprint_key``, set by `baomi run`
at start-up). Masked request bodies use ``mask_value(..., fingerprint=False)``: a fingerprint
sent out would give the receiver a stable pseudonym of the customer across requests.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Callable

from detectors.normalize import normalize

MOBILE_TAIL = re.compile(r"1[3-9]\d[ -]?\d{4}[ -]?\d{4}$")
ADMIN_PREFIX = re.compile(r"^(?:.{2,3}?(?:省|自治区|特别行政区))?(?:.{2,8}?(?:市|自治州|地区|盟))?")
FINGERPRINT_HEX = 6  # 16.7 million buckets: distinct enough within any incident, short to read
HIDDEN = "***"  # fixed width for free text: the length of a name or street is a clue too

_key: bytes | None = None


def use_fingerprint_key(key: bytes | None) -> None:
    """Set (or clear) this process's fingerprint key; `baomi run` does it once at start-up."""
    global _key
    _key = key


def keep_ends(value: str, head: int, tail: int) -> str:
    """Mask letters/digits except the first ``head`` and last ``tail`` ones; separators stay."""
    positions = [i for i, ch in enumerate(value) if ch.isalnum()]
    hidden = set(positions[head : len(positions) - tail])
    return "".join("*" if i in hidden else ch for i, ch in enumerate(value))


def phone(value: str) -> str:
    """Carrier prefix (mobile) or the start of the area code; no tail digits at all.

    The 4 digits after a mobile prefix follow the subscriber's city, so ``138****8000``
    plus a known city leaves tens of numbers to dial."""
    mobile = MOBILE_TAIL.search(value)
    if mobile:
        return value[: mobile.start()] + mobile.group(0)[:3] + "*" * 8
    return keep_ends(value, 3, 0)


def resident_id(value: str) -> str:
    """Province only: region, birth date, sequence and check digit all hidden."""
    compact = value.replace(" ", "")
    return compact[:2] + "*" * (len(compact) - 2)


def leading_letters(value: str) -> str:
    """Passports: the type letter(s) (``E``, ``EA``, ``G``) and no digit."""
    letters = len(value) - len(value.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"))
    return keep_ends(value, min(letters, 2), 0)


def email(value: str) -> str:
    local, _, domain = value.rpartition("@")
    return (local[:1] + HIDDEN + "@" + domain) if local else "<EMAIL_ADDRESS>"


def person(value: str) -> str:
    """Chinese: the surname character; other scripts: the last word's initial."""
    if re.search(r"[\u3400-\u9fff]", value):
        name = value.strip()
        return (name[:1] + "**") if len(name) > 1 else "<PERSON>"  # a lone surname is all of it
    words = re.findall(r"[^\W\d_]+", value)
    return (words[-1][:1] + HIDDEN) if words else "<PERSON>"


def address(value: str) -> str:
    """Province and city (Chinese), or town and state with numbers hidden (Western)."""
    if re.search(r"[\u4e00-\u9fff]", value):
        kept = ADMIN_PREFIX.match(value).group(0)  # type: ignore[union-attr]
        kept = kept if len(kept) < len(value) else ""
        return kept + HIDDEN
    _street, comma, rest = value.partition(",")
    return HIDDEN + comma + re.sub(r"\d", "*", rest)


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
    "IBAN_CODE": lambda v: keep_ends(v, 2, 0),
    "CN_PASSPORT": leading_letters,
    "CN_USCC": lambda v: keep_ends(v, 2, 0),
}


def mask_value(entity: str, value: str, *, fingerprint: bool = True) -> str:
    """The safe mask of ``value`` (``<ENTITY>`` when a mask would show it all), then
    ``#fingerprint`` if asked for and this process has a key."""
    value = normalize(value).text  # full-width digits and zero-width tricks shown plainly
    mask = MASKS.get(entity)
    masked = mask(value) if mask else value
    if masked == value or "*" not in masked or (len(value) < 4 and entity != "PERSON"):
        masked = f"<{entity}>"
    if fingerprint and _key is not None:
        masked += "#" + keyed_fingerprint(entity, value, _key)
    return masked


def masked_with(entity: str, value: str, key: bytes) -> str:
    """What a record under ``key`` shows: ``masked_with("PHONE_NUMBER", v, key)`` ->
    ``'138********#9131aa'`` (for tools and tests that hold the key of a data dir)."""
    return mask_value(entity, value, fingerprint=False) + "#" + keyed_fingerprint(entity, value, key)


def keyed_fingerprint(entity: str, value: str, key: bytes) -> str:
    """HMAC-SHA256 over the entity and the value's canonical form, first 6 hex digits.

    Written forms of one value share a fingerprint (``+86 138 0013 8000`` = ``13800138000``,
    ``x`` = ``X`` in an ID), so a reviewer sees one customer, not one per spelling."""
    message = f"{entity}\0{canonical(entity, value)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:FINGERPRINT_HEX]


def canonical(entity: str, value: str) -> str:
    text = unicodedata.normalize("NFKC", normalize(value).text)
    if entity in ("CN_RESIDENT_ID", "CREDIT_CARD", "CN_PASSPORT", "CN_USCC", "IBAN_CODE"):
        return re.sub(r"[\W_]", "", text).upper()
    if entity == "PHONE_NUMBER":
        digits = re.sub(r"\D", "", text)
        national = re.sub(r"^(?:0086|86)(?=1[3-9]\d{9}$)", "", digits)
        return national
    return " ".join(text.casefold().split())
