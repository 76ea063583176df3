"""Values the corpus is made of: personal data and look-alikes that are not.

    >>> rng = random.Random(1)
    >>> len(resident_id(rng)), resident_id_valid(resident_id(rng))
    (18, True)
    >>> luhn_ok(unionpay_card(rng, 19))
    True

Written here on purpose, apart from ``detectors/``: checksums, ranges and
formats follow the standards (GB 11643, ISO/IEC 7812 Luhn, MIIT mobile
ranges) as read from them, not from baomi's recognizers.
"""

from __future__ import annotations

import random
import string
import uuid
from datetime import date, timedelta

# GB/T 2260 province-level codes, with a few real county codes under each.
REGIONS = (
    "110101", "110105", "110108", "120101", "130102", "130602", "140105", "150102",
    "210102", "210203", "220102", "230103", "310101", "310104", "310115", "320102",
    "320506", "330106", "330203", "340104", "350203", "360102", "370102", "370202",
    "410105", "420106", "430104", "440106", "440305", "440307", "450103", "460105",
    "500103", "510107", "520102", "530102", "540102", "610113", "620102", "630104",
    "640104", "650102",
)  # fmt: skip
WEIGHTS = [pow(2, 17 - i, 11) for i in range(17)]


def mod11_2_check(body: str) -> str:
    """ISO 7064 MOD 11-2 check character of 17 digits."""
    value = (12 - sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True)) % 11) % 11
    return "X" if value == 10 else str(value)


def resident_id_valid(number: str) -> bool:
    return len(number) == 18 and mod11_2_check(number[:17]) == number[17].upper()


def birth(rng: random.Random) -> date:
    return date(1940, 1, 1) + timedelta(days=rng.randint(0, 365 * 66))


def resident_id(rng: random.Random) -> str:
    body = rng.choice(REGIONS) + birth(rng).strftime("%Y%m%d") + f"{rng.randint(0, 999):03d}"
    return body + mod11_2_check(body)


def resident_id_bad_check(rng: random.Random) -> str:
    """Right shape (region, date), wrong check character: not an ID."""
    number = resident_id(rng)
    wrong = rng.choice([c for c in "0123456789X" if c != number[17]])
    return number[:17] + wrong


def luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def with_luhn(body: str) -> str:
    return next(body + c for c in string.digits if luhn_ok(body + c))


def digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def unionpay_card(rng: random.Random, length: int = 16) -> str:
    """A 62-BIN UnionPay card that passes Luhn (ICBC 622202, CCB 621700, ...)."""
    bin_ = rng.choice(["622202", "621700", "622848", "622588", "621483", "622700", "620522"])
    return with_luhn(bin_ + digits(rng, length - 7))


def non_luhn_16(rng: random.Random) -> str:
    """16 digits with a card-like prefix that fail Luhn."""
    number = rng.choice(["4", "5", "62", "35"]) + digits(rng, 14)
    number = number[:15]
    return number + next(c for c in string.digits if not luhn_ok(number + c))


def card_shape(number: str, rng: random.Random) -> str:
    if rng.random() < 0.6:
        return number
    sep = rng.choice([" ", "-"])
    return sep.join(number[i : i + 4] for i in range(0, len(number), 4))


def mobile_shape(number: str, rng: random.Random) -> str:
    """13812345678 as people write it."""
    roll = rng.random()
    if roll < 0.55:
        return number
    if roll < 0.7:
        return f"{number[:3]} {number[3:7]} {number[7:]}"
    if roll < 0.8:
        return f"{number[:3]}-{number[3:7]}-{number[7:]}"
    if roll < 0.9:
        return "+86 " + number
    return rng.choice(["+86-", "0086 ", "+86", "(+86)"]) + number


def landline(rng: random.Random) -> str:
    area = rng.choice(["010", "021", "020", "022", "023", "0755", "0571", "028", "027", "0512"])
    local = str(rng.randint(2, 8)) + digits(rng, 7 if len(area) == 3 else rng.choice([6, 7]))
    shapes = [f"{area}-{local}", f"({area}) {local}"]
    if len(local) == 8:
        shapes.append(f"{area}-{local[:4]} {local[4:]}")
    return rng.choice(shapes)


def passport(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return rng.choice("EG") + digits(rng, 8)
    return "E" + rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") + digits(rng, 7)


# ---------------------------------------------------------------- look-alikes (no PII)


def order_number(rng: random.Random) -> str:
    day = date(2026, 1, 1) + timedelta(days=rng.randint(0, 364))
    return day.strftime("%Y%m%d") + digits(rng, rng.choice([8, 10, 12]))


def timestamp14(rng: random.Random) -> str:
    day = date(2025, 1, 1) + timedelta(days=rng.randint(0, 700))
    return (
        day.strftime("%Y%m%d")
        + f"{rng.randint(0, 23):02d}{rng.randint(0, 59):02d}{rng.randint(0, 59):02d}"
    )


def tracking_number(rng: random.Random) -> str:
    kind = rng.randrange(5)
    if kind == 0:
        return "SF" + digits(rng, 13)
    if kind == 1:
        return "YT" + digits(rng, 13)
    if kind == 2:
        return "JD" + digits(rng, 13)
    if kind == 3:
        return "7" + digits(rng, 11)  # ZTO / STO style all-digit
    return "9" + digits(rng, 14)


def not_mobile_11(rng: random.Random) -> str:
    return rng.choice(["10", "11", "12"]) + digits(rng, 9)


def random_18(rng: random.Random) -> str:
    return str(rng.randint(1, 9)) + digits(rng, 17)


def sku(rng: random.Random) -> str:
    return rng.choice(
        [
            f"SKU-{rng.randint(1000, 9999)}-{rng.randint(100, 999)}",
            f"SKU{digits(rng, 8)}",
            f"{rng.choice('ABCDEFGH')}{rng.choice('XYZ')}-{digits(rng, 5)}",
        ]
    )


def amount(rng: random.Random) -> str:
    value = rng.randint(1, 999999) / 100
    return rng.choice([f"{value:.2f}", f"{value:,.2f}", f"¥{value:.2f}", f"{value:.2f} 元"])


def version(rng: random.Random) -> str:
    parts = [str(rng.randint(0, 20)) for _ in range(rng.choice([3, 4]))]
    return rng.choice(["v", "", "version "]) + ".".join(parts)


def hex_hash(rng: random.Random) -> str:
    return f"{rng.getrandbits(rng.choice([128, 160, 256])):x}"


def uuid4(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def a_date(rng: random.Random) -> str:
    day = date(2024, 1, 1) + timedelta(days=rng.randint(0, 900))
    return rng.choice(
        [day.isoformat(), day.strftime("%Y/%m/%d"), f"{day.year}年{day.month}月{day.day}日",
         day.strftime("%d.%m.%Y"), day.strftime("%Y-%m-%dT%H:%M:%SZ")]
    )  # fmt: skip


# Brands, shops and places that begin with a common surname or look like names.
LOOKALIKE_WORDS = (
    "华为", "李宁", "王府井大街", "周大福", "海底捞", "张江高科", "黄山", "马应龙", "金龙鱼",
    "白象", "康师傅", "江小白", "万科", "钱江", "汤臣倍健", "孔府家酒", "黄鹤楼", "杨浦区",
    "徐家汇", "陆家嘴", "朱家角", "周庄", "张家界", "宋城", "曹家渡", "陈家祠", "林芝", "罗湖",
    "王老吉", "杨国福", "周黑鸭", "李锦记", "宁德时代", "格力", "海尔", "美的", "小米", "蒙牛",
    "伊利", "娃哈哈", "高德地图", "钟薛高", "何首乌", "胡同", "吴江", "武夷山", "龙井",
)  # fmt: skip
