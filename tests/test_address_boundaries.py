"""Chinese postal addresses with exact boundaries (issue 13 §3), one table per class of
error fixed in detectors/recognizers/address.py, each address alone and inside a sentence
with a clause after it that must not be swallowed; then hard negatives.

The addresses are written here (made-up places and shops of the shapes the address
corpus holds), not copied from any corpus. Runs through the shared Detector
(normalisation, prefilter, context) like tests/test_precision.py.
"""

import pytest
from detection_support import detect

THRESHOLD = 0.5  # the policies' default min_score

# (before, after): a cue before the address and the clause after it.
FRAMES = [
    ("", ""),
    ("请寄到", "，谢谢"),
    ("收货地址：", " 工作日送货"),
    ("客户反馈", "的快递还没到"),
    ("明天去", "拜访客户"),
    ("地址为", "（下午有人）"),
]


def addresses(text: str) -> list[str]:
    return [
        text[f.start : f.end]
        for f in detect(text)
        if f.entity == "ADDRESS" and f.score >= THRESHOLD
    ]


def framed(table: list[str]) -> list[tuple[str, str]]:
    return [(before + a + after, a) for a in table for before, after in FRAMES]


# A shop's or organisation's name after the house number is the address's, whatever verbs
# jieba reads in it (印染, 快递, 联合), up to the clause's first word.
SHOP_AFTER_NUMBER = [
    "浙江省台州市路桥区银安街88号顺达快递",
    "温州市龙湾区永中街道永强大道1200号美华家纺",
    "宁波市北仑区新碶街道明州路57号东升印染有限公司",
    "湖州市德清县武康镇英溪北路66号德清农商银行",
    "杭州市拱墅区莫干山路1001号宏远汽车服务有限公司",
    "金华市婺城区八一北街320号金华邮政中转站",
    "嘉兴市南湖区中环南路1666号丽景家纺",
]


@pytest.mark.parametrize(("text", "value"), framed(SHOP_AFTER_NUMBER))
def test_shop_after_the_number(text, value):
    assert addresses(text) == [value]


# After the number: a clause, a person or a field, never the address's.
CLAUSE_AFTER_NUMBER = [
    ("寄到杭州市西湖区文三路90号马上发货", "杭州市西湖区文三路90号"),
    ("寄到杭州市西湖区文三路90号去公司找我", "杭州市西湖区文三路90号"),
    ("寄到杭州市西湖区文三路90号我们公司", "杭州市西湖区文三路90号"),
    ("寄到杭州市西湖区文三路90号李明收", "杭州市西湖区文三路90号"),
    ("寄到杭州市西湖区文三路90号附近的超市", "杭州市西湖区文三路90号"),
    ("寄到杭州市西湖区文三路90号周六上午有人", "杭州市西湖区文三路90号"),
    ("寄到杭州市西湖区文三路90号收件人李明", "杭州市西湖区文三路90号"),
    ("寄到杭州市西湖区文三路90号离地铁站很近", "杭州市西湖区文三路90号"),
]


@pytest.mark.parametrize(("text", "value"), CLAUSE_AFTER_NUMBER)
def test_clause_after_the_number_is_not_swallowed(text, value):
    assert addresses(text) == [value]


# A numbered building with its room, unit or floor after an estate's name that no estate
# word ends (…天地二期, …国际, …康庄), numbered in digits or in words; the admin levels and
# the road before the estate come with it.
BUILDING_AND_ROOM = [
    "金沙湾天地二期8幢1502",
    "富春山居东区12栋2单元1801",
    "浙江省温州市鹿城区南汇街道锦绣康庄三幢2101",
    "福田区华融时代C座1906",
    "东湖路翠微国际7幢1203室",
    "临江村东头五号楼1108",
    "丽水市莲都区紫金名门9-2-1601",
    "城东工贸园区二区六幢1302",
    "桂花巷七栋三楼",
]


@pytest.mark.parametrize(("text", "value"), framed(BUILDING_AND_ROOM))
def test_numbered_building_after_an_estate(text, value):
    assert addresses(text) == [value]


NOT_ADDRESSES = [
    "请于3号楼前集合，离地铁站走路十分钟",
    "会议在5号楼301室举行",  # a room, no estate's name before it
    "比分定格在3-2，主队晋级",
    "北京市朝阳区",  # a place name alone
    "浙江省杭州市是一座美丽的城市",
    "杭州市西湖区人民政府发布通知",  # an authority with its city
    "阿里巴巴（中国）有限公司杭州分公司今天发布财报",  # a company name with a city
    "中山路上的车流量很大，记者在现场看到",  # a road in a news sentence, no number
    "上海市南京路步行街人很多",
    "他在杭州市西湖区文三路上班",
    "2024-05-20发布的3-7号文件",
    "本次共有三栋楼",
]


@pytest.mark.parametrize("text", NOT_ADDRESSES)
def test_not_addresses(text):
    assert addresses(text) == []


# After a cue, admin levels (two, or one and a road) then a named place with no number:
# a school, an authority, a shop, up to the clause.
CUED = [
    ("请寄到", "，谢谢"),
    ("收货地址：", " 工作日送货"),
    ("配送地址为", "；原地址作废"),
    ("明天去", "拜访客户"),
]
NAMED_PLACE_AFTER_ADMINS = [
    "浙江省丽水市第二中学",
    "江苏省常州市金坛区水务局",
    "福建省泉州市晋江市安海镇卫生院",
    "浙江省台州市黄岩区东城街道青年路华联超市",
    "广西南宁市青秀区民族大道鑫源五金",
]


@pytest.mark.parametrize(
    ("text", "value"),
    [(b + a + e, a) for a in NAMED_PLACE_AFTER_ADMINS for b, e in CUED],
)
def test_named_place_after_admin_levels(text, value):
    assert addresses(text) == [value]


# Without a cue the same shape is an organisation in the news, not someone's address.
@pytest.mark.parametrize(
    "text",
    [
        "浙江省丽水市第二中学今年高考成绩优异",
        "江苏省常州市金坛区水务局发布汛情通报",
        "深圳市腾讯计算机系统有限公司",
        "据杭州市西湖区人民法院消息，案件已审结",
        "批发市场路口的餐厅",
    ],
)
def test_named_place_without_a_cue_is_no_address(text):
    assert addresses(text) == []


# The address starts at the estate's or zone's whole name, with the admin levels and the
# road before it, not at its last common noun (…国际|商务中心, 丽水水阁|工业区), and a place
# name with 和 in it keeps it (仁和街道, 庆和路).
WHOLE_NAME_BEFORE = [
    "宁波市江北区东部国际商务中心8栋1203",
    "衢州东港工业区兴业路18号",
    "台州临海国家高新区纬三路2188",
    "塘下镇环城大道嘉禾国际广场C座6层",
    "瓯海区娄桥水产批发交易中心B区12号",
    "仁和街道东塘路88号",
    "太和镇东岳村黄泥塘66号",
    "庆和路金城国际花园12-1301",
]


@pytest.mark.parametrize(("text", "value"), framed(WHOLE_NAME_BEFORE))
def test_address_starts_at_the_whole_name(text, value):
    assert addresses(text) == [value]


# Two roads' crossing (与/和 …交叉口, 交汇处) with what stands there; a bare house number
# after a road once a cue says it is an address (中兴路1196, 振港路172-53); a name right
# after a house number even when it starts like a place (…95号西城供电所).
CROSSINGS_AND_NUMBERS = [
    ("送到滨江北路与新芜路交汇处世茂滨江中心，谢谢", "滨江北路与新芜路交汇处世茂滨江中心"),
    ("地址为西湖区转塘街道珊瑚沙路与碧波路交叉口文江九里7-4-1942，与身份证登记地址不一致",
     "西湖区转塘街道珊瑚沙路与碧波路交叉口文江九里7-4-1942"),
    ("客户反馈杭州市萧山区工人路与山阴路交叉口新白马公寓的快递没到",
     "杭州市萧山区工人路与山阴路交叉口新白马公寓"),
    ("请寄到中兴路1196宁波市公安局，谢谢", "中兴路1196宁波市公安局"),
    ("新地址是高新南环路116留学生创业大厦2365，以后寄这里", "高新南环路116留学生创业大厦2365"),
    ("收货地址：龙川西路95号西城供电所 工作日送货", "龙川西路95号西城供电所"),
    ("收货地址：振港路172-53 工作日送货", "振港路172-53"),
    ("客户反馈紫宇路852号新晟印花厂的快递没到", "紫宇路852号新晟印花厂"),  # 反馈 is a cue
]  # fmt: skip


@pytest.mark.parametrize(("text", "value"), CROSSINGS_AND_NUMBERS)
def test_crossings_and_bare_house_numbers(text, value):
    assert addresses(text) == [value]


@pytest.mark.parametrize(
    "text",
    [
        "中山路与解放路交叉口发生一起交通事故",  # a crossing in the news, no cue
        "中山路1196年建成的老宅",  # a year, no house number
        "沿中山路100米右转",
        "坐公交到中山路12站下车",
    ],
)
def test_crossings_and_road_numbers_that_are_no_address(text):
    assert addresses(text) == []


# A shop's name whose first word jieba guesses as a verb (an unknown word: 源丰, 悦|府) is a
# name when the whole run up to the clause's end is one; a verb jieba knows opens a clause.
GUESSED_VERB_SHOPS = [
    ("上门地址惠民街道惠通路72号源丰木业（周六有人）", "惠民街道惠通路72号源丰木业"),
    ("请寄到虞山镇深圳路101号中能石化，谢谢", "虞山镇深圳路101号中能石化"),
    ("寄到杭州市西湖区文三路90号拜访客户", "杭州市西湖区文三路90号"),
    ("寄到杭州市西湖区文三路90号取快递，谢谢", "杭州市西湖区文三路90号"),
]


@pytest.mark.parametrize(("text", "value"), GUESSED_VERB_SHOPS)
def test_shop_names_jieba_reads_as_verbs(text, value):
    assert addresses(text) == [value]


# Separators and the last part: names joined by underscores after the number, a gate or a
# yard of the estate (南大门, 东院), an industrial park's whole name (…工业园区).
JOINED_AND_GATES = [
    "经十路88号_万达广场_华联超市",
    "浙江省金华市浦江县仙华街道中山北路8号_华丰布艺",
    "浙江省嘉兴市海盐县城西路海景公寓南大门",
    "北京市朝阳区朝阳路幸福小区东院",
    "浙江省嘉兴市平湖市独山港工业园区",
]


@pytest.mark.parametrize(("text", "value"), framed(JOINED_AND_GATES))
def test_joined_names_and_gates(text, value):
    assert addresses(text) == [value]
