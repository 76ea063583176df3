"""The entity names a policy may mention: the one list, shared by loader and detectors.

"PHONE_NUMBER" in KNOWN_ENTITIES  ->  True
"""

from __future__ import annotations

KNOWN_ENTITIES: tuple[str, ...] = (
    "CN_RESIDENT_ID",  # 居民身份证号 (GB 11643)
    "PHONE_NUMBER",
    "CREDIT_CARD",  # payment cards, UnionPay included
    "CN_PASSPORT",
    "CN_USCC",  # 统一社会信用代码: identifies a company, not a person
    "EMAIL_ADDRESS",
    "IP_ADDRESS",
    "IBAN_CODE",
    "PERSON",
    "ADDRESS",
    "CUSTOMER_RECORD",  # exact match against the customer database
    "CONFIDENTIAL_MARKER",  # 机密 / "Confidential" labels on documents
)
