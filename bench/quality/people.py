"""Made-up customers, Chinese and English, from Faker and ``values``.

    >>> maker = PersonMaker(random.Random(1))
    >>> p = maker.person("zh")
    >>> p.name, p.mobile                          # doctest: +SKIP
    ('梁鑫', '130 1777 6317')

Each field keeps the exact text written into payloads, so the scorer can find
its spans after extraction.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from faker import Faker

from bench.quality import values

EN_CARD_TYPES = ("visa16", "visa13", "visa19", "mastercard", "amex", "discover", "diners", "jcb16")
PHONE_KIND = {"zh": "mobile", "en": "us"}


@dataclass(frozen=True)
class Person:
    lang: str  # "zh" | "en"
    name: str
    mobile: str  # as written: "138 0013 8000", "(513)563-7762"
    resident_id: str
    address: str
    email: str
    card: str
    landline: str
    passport: str
    ip: str

    @property
    def phone_kind(self) -> str:
        return PHONE_KIND[self.lang]


class PersonMaker:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.zh = Faker("zh_CN")
        self.en = Faker("en_US")
        self.de, self.gb = Faker("de_DE"), Faker("en_GB")
        for fake in (self.zh, self.en, self.de, self.gb):
            fake.seed_instance(rng.getrandbits(32))

    def person(self, lang: str) -> Person:
        rng = self.rng
        return Person(
            lang=lang,
            name=self.zh_name() if lang == "zh" else self.en_name(),
            mobile=values.mobile_shape(self.zh.phone_number(), rng)
            if lang == "zh"
            else self.en.phone_number(),
            resident_id=self.resident_id(),
            address=self.zh_address() if lang == "zh" else self.en_address(),
            email=self.zh.email() if lang == "zh" else self.en.email(),
            card=values.card_shape(self.card(lang), rng),
            landline=values.landline(rng),
            passport=values.passport(rng),
            ip=self.en.ipv4_public() if rng.random() < 0.8 else self.en.ipv6(),
        )

    def iban(self) -> str:
        return self.rng.choice([self.en, self.de, self.gb]).iban()

    def zh_name(self) -> str:
        while True:
            name = self.zh.name()
            if name not in values.LOOKALIKE_WORDS:
                return name

    def en_name(self) -> str:
        return f"{self.en.first_name()} {self.en.last_name()}"

    def first_name(self, lang: str) -> str:
        return self.zh.first_name() if lang == "zh" else self.en.first_name()

    def resident_id(self) -> str:
        number = self.zh.ssn() if self.rng.random() < 0.5 else values.resident_id(self.rng)
        return number.lower() if number.endswith("X") and self.rng.random() < 0.3 else number

    def card(self, lang: str) -> str:
        if lang == "zh" and self.rng.random() < 0.7:
            return values.unionpay_card(self.rng, self.rng.choice([16, 19]))
        while True:
            number = self.en.credit_card_number(card_type=self.rng.choice(EN_CARD_TYPES))
            # Faker's jcb16 draws any 35xx; JCB's IIN range is 3528-3589 only.
            if not number.startswith("35") or 3528 <= int(number[:4]) <= 3589:
                return number

    def zh_address(self) -> str:
        rng, zh = self.rng, self.zh
        road = f"{zh.street_name()}{rng.randint(1, 999)}号"
        place = f"{zh.province()}{zh.city()}{zh.district()}区"
        roll = rng.random()
        if roll < 0.35:
            return f"{place}{road}{rng.randint(1, 30)}栋{rng.randint(1, 6)}单元{rng.randint(101, 2808)}室"
        if roll < 0.55:
            return f"{zh.city()}{zh.district()}区{road}"
        if roll < 0.75:
            estate = zh.last_name() + rng.choice(["园", "苑", "花园", "小区", "公寓"])
            return f"{place}{road}{estate}{rng.randint(1, 20)}号楼{rng.randint(101, 2808)}室"
        if roll < 0.9:
            return zh.address().rsplit(" ", 1)[0]  # Faker's own shape, postcode dropped
        return f"{zh.province()}{zh.city()}{zh.district()}区{zh.street_name()}{rng.randint(1, 300)}弄{rng.randint(1, 40)}号{rng.randint(101, 1202)}室"

    def en_address(self) -> str:
        en = self.en
        state = en.state_abbr(include_territories=False)
        return f"{en.street_address()}, {en.city()}, {state} {en.zipcode()}"
