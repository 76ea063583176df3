"""detectors.records: findings grouped into customer records (people, not matches)."""

from __future__ import annotations

import pytest

from detectors.model import Finding
from detectors.records import group, record_key


def found(entity, value, location="body", start=0, segment=0, score=0.9):
    return Finding(entity, score, start, start + len(value), location, segment, value)


@pytest.mark.parametrize(
    "location, key",
    [
        ("json:$.customers[3].phone", "json:$.customers[3]"),
        ("json:$.customers[3].address.city", "json:$.customers[3]"),
        ("json:$.customers[3].phones[0]", "json:$.customers[3]"),  # scalar list inside a record
        ("json:$[12]", "json:$[12]"),  # a top-level list of phone numbers: one person each
        ("json:$[2][1]", "json:$[2]"),  # rows as arrays: [["张伟", "138..."], ...]
        ("json:$.byPhone{4}.name", "json:$.byPhone{4}"),  # data-valued key
        ("json:$.customer.phone", "json:$"),  # one document, one record
        ("multipart:orders.csv:row12", "multipart:orders.csv:row12"),
        ("multipart:orders.csv:row12:phone", "multipart:orders.csv:row12"),
        ("multipart:orders.xlsx:Sheet1!row7", "multipart:orders.xlsx:Sheet1!row7"),
        ("multipart:export.zip:customers.csv:row2", "multipart:export.zip:customers.csv:row2"),
        ("multipart:a.csv:row3|json:$.x", "multipart:a.csv:row3"),
        ("body|json:$.data.phone", "body|json:$"),
        ("form:mobile", "form:"),
        ("query:id", "query:"),
        ("body", None),
        ("multipart:notes.txt", None),
        ("multipart:scan.pdf:page2", None),
    ],
)
def test_record_key(location, key):
    assert record_key(location) == key


def customers(n, *entities):
    values = {
        "PHONE_NUMBER": "1390013{:04d}",
        "PERSON": "客户{}",
        "ADDRESS": "北京市{}号",
        "EMAIL_ADDRESS": "u{}@example.com",
    }
    return [
        found(e, values[e].format(i), f"json:$.customers[{i}].{e.lower()}")
        for i in range(n)
        for e in entities
    ]


CASES = [
    pytest.param(customers(6, "PERSON", "PHONE_NUMBER"), 6, id="json-export"),
    pytest.param(customers(3, "PERSON", "ADDRESS"), 3, id="name-and-address-identify"),
    pytest.param(customers(4, "PERSON"), 0, id="names-alone-identify-nobody"),
    pytest.param(customers(2, "ADDRESS"), 0, id="addresses-alone"),
    pytest.param(
        [
            found("PHONE_NUMBER", "13800138000", "query:mobile"),
            found("PHONE_NUMBER", "+86 138-0013-8000", "json:$.customer.phone"),
        ],
        1,
        id="same-phone-twice-is-one-person",
    ),
    pytest.param(
        [found("PHONE_NUMBER", f"1390013{i:04d}", f"multipart:c.csv:row{i + 2}") for i in range(5)]
        + [
            found("EMAIL_ADDRESS", "manager@corp.example", f"multipart:c.csv:row{i + 2}")
            for i in range(5)
        ],
        5,
        id="shared-manager-email-does-not-merge-rows",
    ),
    pytest.param(
        [
            found("PERSON", "张伟", start=0),
            found("PHONE_NUMBER", "13800138000", start=3),
            found("PERSON", "李娜", start=15),
            found("PHONE_NUMBER", "13900139000", start=18),
        ],
        2,
        id="free-text-list-split-on-repeat",
    ),
    pytest.param(
        [
            found("PHONE_NUMBER", "13800138000", start=0),
            found("EMAIL_ADDRESS", "a@b.cn", start=500),
        ],
        2,
        id="free-text-split-on-gap",
    ),
    pytest.param(
        [found("PHONE_NUMBER", "13800138000", start=0), found("EMAIL_ADDRESS", "a@b.cn", start=40)],
        1,
        id="free-text-close-together",
    ),
    pytest.param(
        [
            found("PHONE_NUMBER", "13800138000", "body", 0, segment=0),
            found("PHONE_NUMBER", "13900139000", "body", 0, segment=1),
        ],
        2,
        id="segments-apart",
    ),
    pytest.param(
        [found("CN_USCC", "91350100M000100Y43"), found("CONFIDENTIAL_MARKER", "机密")],
        0,
        id="not-personal",
    ),
    pytest.param([found("CUSTOMER_RECORD", "13800138000")], 1, id="exact-match"),
    pytest.param([], 0, id="nothing"),
]


@pytest.mark.parametrize("findings, n", CASES)
def test_group_counts_people(findings, n):
    assert len(group(findings)) == n


def test_record_holds_entity_counts_and_best_scores_not_values():
    records = group(
        [
            found("PERSON", "张伟", "json:$[0].name", score=0.6),
            found("PHONE_NUMBER", "13800138000", "json:$[0].phone", score=0.8),
            found("PHONE_NUMBER", "13900139000", "json:$[0].mobile", score=0.95),
        ]
    )
    (record,) = records
    assert record.key == "json:$[0]"
    assert record.entities == {"PERSON": 1, "PHONE_NUMBER": 2}
    assert record.best["PHONE_NUMBER"] == 0.95
    assert record.has_any(frozenset({"PHONE_NUMBER"}), 0.9)
    assert not record.has_any(frozenset({"PERSON"}), 0.9)
    assert "13800138000" not in repr(record) and "张伟" not in repr(record)
