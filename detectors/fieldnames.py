"""Field names that hold a person's name: cheap checks the proxy process runs too.

    >>> is_name_field(["order", "receiverName"]), is_name_field(["product", "name"])
    (True, False)

Kept apart from ``detectors.recognizers.person`` (jieba, Presidio, spaCy) so that the
proxy process, which selects the segments worth a detector worker
(``detectors.batch``), does not load the recognizers' dependencies (~100 MB per process).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

CJK = "\u3400-\u4dbf\u4e00-\u9fff"
# Context words of PERSON (field names and labels that make a name likely).
CONTEXT = (
    "姓名",
    "收件人",
    "收货人",
    "联系人",
    "持卡人",
    "寄件人",
    "户名",
    "客户",
    "name",
    "recipient",
    "receiver",
    "consignee",
    "cardholder",
)

# Field names whose value is a person's name. English keys are split into
# words ("customerName" -> customer, name); the last word decides.
NAME_FIELD_TAILS = frozenset(
    [
        "name",
        "fullname",
        "firstname",
        "lastname",
        "surname",
        "givenname",
        "familyname",
        "realname",
        "contact",
        "receiver",
        "recipient",
        "consignee",
        "cardholder",
        "holder",
        "customer",
        "addressee",
        "attn",
        "payee",
        "sender",
        "shipper",
        "signer",
        "passenger",
        "guest",
        "patient",
    ]
)
NOT_PERSON_NAMES = frozenset(
    [
        "user",
        "file",
        "host",
        "nick",
        "domain",
        "display",
        "app",
        "product",
        "company",
        "brand",
        "shop",
        "store",
        "item",
        "sku",
        "class",
        "type",
        "tag",
        "key",
        "field",
        "model",
        "device",
        "server",
        "bucket",
        "project",
        "repo",
        "group",
        "org",
        "organization",
        "team",
        "table",
        "column",
        "event",
        "service",
        "package",
        "module",
        "image",
        "container",
        "queue",
        "topic",
        "channel",
        "city",
        "country",
        "street",
        "province",
        "bank",
        "branch",
        "merchant",
        "plan",
        "category",
        "label",
        "role",
        "account",
        "app",
        "dataset",
        "database",
        "db",
        "schema",
        "index",
        "function",
        "method",
        "variable",
        "header",
        "cookie",
        "param",
        "parameter",
        "argument",
        "attribute",
        "property",
        "option",
        "setting",
        "config",
        "configuration",
        "feature",
        "permission",
        "scope",
        "resource",
        "plugin",
        "extension",
        "webhook",
        "workspace",
        "enterprise",
        "site",
        "page",
        "document",
        "report",
        "job",
        "task",
        "workflow",
        "pipeline",
        "step",
        "metric",
        "alert",
        "dashboard",
        "region",
        "zone",
        "cluster",
        "node",
        "namespace",
        "instance",
        "volume",
        "network",
        "endpoint",
        "route",
        "price",
        "coupon",
        "discount",
        "tax",
        "currency",
        "state",
        "list",
        "rule",
        "usergroup",
        "department",
        "vendor",
        "supplier",
        "provider",
        "issuer",
        "network",
        "institution",
        "business",
        "environment",
        "release",
        "version",
        "branch",
        "commit",
        "label",
        "status",
        "reason",
        "action",
        # abbreviations of things in API field names (BlueKing's bk_biz_name, bk_inst_name)
        "biz",
        "inst",
        "cloud",
        "set",
        "template",
        "tpl",
        "svc",
        "env",
        "proj",
        "dept",
    ]
)
# Words between a generic "name" and the thing it names: {"merchant_data": {"name": ...}}.
QUALIFIERS = frozenset(["data", "details", "detail", "info", "information", "obj", "object"])
CN_NAME_FIELDS = (
    "姓名",
    "名字",
    "收件人",
    "收货人",
    "联系人",
    "持卡人",
    "寄件人",
    "户名",
    "客户",
    "乘客",
    "入住人",
    "申请人",
    "签收人",
    "经办人",
    "负责人",
)


def field_words(field: str) -> list[str]:
    """``"customerName"`` -> ["customer", "name"]; ``"full_name"`` -> ["full", "name"]."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", field)
    return [w for w in re.split(r"[^0-9a-z]+", spaced.lower()) if w]


def is_name_field(context: Iterable[str]) -> bool:
    """True if the nearest field name (last context word) holds a person's name."""
    words = list(context)
    if not words:
        return False
    field = words[-1]
    if re.search(f"[{CJK}]", field):
        return field.endswith(CN_NAME_FIELDS) and not field.endswith(("用户名", "昵称"))
    parts = field_words(field)
    if not parts:
        return False
    joined = "".join(parts)
    if parts[-1] not in NAME_FIELD_TAILS and joined not in NAME_FIELD_TAILS:
        return False
    if parts[-1] != "name":
        return True
    # {"product": {"name": ...}} arrives as ("product", "name"): the word before counts too.
    before = parts[:-1] or [w for word in words[:-1] for w in field_words(word)]
    owner = next((w for w in reversed(before) if w not in QUALIFIERS and not w.isdigit()), None)
    return owner is None or not names_a_thing(owner)


def names_a_thing(word: str) -> bool:
    """``usergroups`` -> group, ``headers`` -> header, ``merchant``: not a person.

    >>> names_a_thing("usergroups"), names_a_thing("customer")
    (True, False)
    """
    for form in (word, word[:-1] if word.endswith("s") else word, word.removesuffix("es")):
        if form in NOT_PERSON_NAMES or any(
            len(thing) >= 4 and form.endswith(thing) for thing in NOT_PERSON_NAMES
        ):
            return True
    return False
