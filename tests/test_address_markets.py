"""Chinese addresses of issue 13 §3's remaining classes (session 21), one table per class
fixed in detectors/recognizers/address.py, each address alone and inside a sentence with
a clause after it that must not be swallowed; then hard negatives for the same shapes.

The addresses are written here (made-up markets, estates, villages and shops of the
shapes postal addresses take), not copied from any corpus split or the tuning set.
Runs through the shared Detector (normalisation, prefilter, context).
"""

import pytest
from detection_support import detect

THRESHOLD = 0.5  # the policies' default min_score

# (before, after): a cue or none before the address, a clause or a field after it.
FRAMES = [
    ("", ""),
    ("快递寄到", "，谢谢"),
    ("发货地址：", " 周末不收货"),
    ("下周三过去", "看样品"),
    ("", "\n联系人：王先生"),
]


def addresses(text: str) -> list[str]:
    return [
        text[f.start : f.end]
        for f in detect(text)
        if f.entity == "ADDRESS" and f.score >= THRESHOLD
    ]


def framed(table: list[str]) -> list[tuple[str, str]]:
    return [(before + a + after, a) for a in table for before, after in FRAMES]


# A wholesale market's or an estate's stall, shop or office number after its zones,
# gates, floors and aisles (address.STALL); floors written in words after an estate.
MARKET_STALLS = [
    "义乌国际商贸城二区15032",
    "金华市小商品城三期B区2718",
    "常熟服装城东大门二楼六街30112",
    "海宁皮革城C区12-15",
    "杭州四季青服装市场三楼3316",
    "台州市椒江区东海大酒店1208",
    "宁波市海曙区天一广场西二办公楼2206",
    "温州市鹿城区银都大厦五楼",
    "永康五金城南门2号门一楼1053",
]


@pytest.mark.parametrize(("text", "value"), framed(MARKET_STALLS))
def test_market_stall_numbers(text, value):
    assert addresses(text) == [value]


# A shop after the house number whose name opens with a field's word (手机店: 手机 is a
# field label elsewhere) is the address's; a field after the number is not.
SHOP_NAMED_LIKE_A_FIELD = [
    ("寄到金华市婺城区八一北街105号手机店，谢谢", "金华市婺城区八一北街105号手机店"),
    ("收货地址：温州市鹿城区人民路88号手机专卖店 周末不收货", "温州市鹿城区人民路88号手机专卖店"),
    ("寄到金华市婺城区八一北街105号手机13812345678", "金华市婺城区八一北街105号"),
    ("寄到金华市婺城区八一北街105号电话稍后发你", "金华市婺城区八一北街105号"),
]


@pytest.mark.parametrize(("text", "value"), SHOP_NAMED_LIKE_A_FIELD)
def test_shop_named_like_a_field(text, value):
    assert addresses(text) == [value]


# Numbers after a market's or an estate's name that are no stall: years, counts, sizes,
# prices; a hall in the news with no place before it.
NOT_STALLS = [
    "长城2024年修缮完毕，游客很多",
    "万达广场2020年开业",
    "这座城1000多年历史",
    "商贸城3000个摊位全部售罄",
    "市场1200元一吨的价格",
    "该中心1500米外有一个加油站",
    "广场舞大赛二楼报名",
    "大厦三楼下面是停车场",
]


@pytest.mark.parametrize("text", NOT_STALLS)
def test_numbers_after_a_market_that_are_no_stall(text):
    assert addresses(text) == []
