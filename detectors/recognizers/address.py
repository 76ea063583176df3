"""ADDRESS: Chinese postal addresses and US street addresses.

    北京市朝阳区建国路88号SOHO现代城3号楼1单元1203室     road + number, admin  0.85
    上海市浦东新区张江路123弄4号502室                    0.85
    广东省深圳市南山区科技园南区粤海街道1号              admin levels + number 0.7
    1600 Pennsylvania Ave NW, Washington, DC 20500      0.8
    576 Kayla Ports, Harrisville, MI 03666              0.85 (any street word, state + ZIP)

    河北省保定市涞水县永阳镇北义安村三组                 admin levels + village 0.7
    住在北京市朝阳区建国路88号，明天发货                 -> 北京市朝阳区建国路88号
    文三路478号华星时代广场A座 1203室                    a space before a unit, one address

A Chinese address needs a road/street with a number, or two admin levels
(省/市/区/县/镇...) and a detail (号/栋/单元/室..., a village, an estate), or a
numbered building with its room after an estate's name (保利湾天地二期11幢3150); after
an address cue (寄到, 地址为, 住在...) also admin levels then a named place (寄到|浙江省
湖州市妇幼保健院), a road with a bare number (中兴路1196) or two roads' crossing:
"北京" or "北京市朝阳区" alone is not an address, nor a city's authority in the news.

Boundaries: the address starts where jieba's place words start (客户反馈|温州市,
not 户反馈温州市) and runs on, component by component (admin level, road and
number, estate or building with its suffix, 3-2-501, B座, 15楼, 1203室), across a
space, 、 or comma only when an address component follows: the clause after it
("，明天发货", "的快递没到") is not swallowed. A US street address needs a known street type, or
any capitalised street word when a city, a state code and a ZIP code follow
(USPS lists ~200 street types; the state and ZIP are the stronger evidence).
"""

from __future__ import annotations

import itertools
import re

import jieba
import jieba.posseg
from presidio_analyzer import Pattern

from detectors.recognizers.base import ScoredPatternRecognizer

CJK = "\u4e00-\u9fff"
# A run of characters an address is written with (no spaces or punctuation).
RUN = f"[{CJK}0-9A-Za-z#＃\\-－()（）·](?:[{CJK}0-9A-Za-z#＃\\-－()（）·_]|(?<=[0-9{CJK}]) (?=[0-9])|(?<=[0-9]) (?=[{CJK}])){{3,120}}"
# 本区, 市区, 社区, 灾区, 景区: words for an area, not a district's name (山区 and 城区 are
# both: 南山区, 上城区).
DISTRICT = "(?<![本该此全市小社园景校灾郊分片])区"
# 该县, 全镇, 本市, 各乡 opening a word: a level pointed at, no level's name (该县农村12号文件,
# 走访了全镇12个村); 万全镇, 本溪市 are names.
POINTER = (
    f"(?<![^{CJK}][该本此全各每])(?<![了的在到是和与及对从向有][该本此全各每])(?<!^[该本此全各每])"
)
# 住在|县城, 回到|镇上: a county's or a town's head right after where one goes is no level.
HEAD_ALONE = "(?<![在到往去])"
# 城市, 超市, 股市, 门市 are no city, 市场 no level; 厦门市, 江门市, 荆门市, 天门市 are cities.
CITY = "(?:(?<![城超股门])|(?<=[厦江荆天]门))市(?!场)"
ADMIN = re.compile(
    f"(?<=[{CJK}])(?:特别行政区|自治区|自治州|自治县|省|{CITY}|{DISTRICT}"
    f"|{POINTER}{HEAD_ALONE}县|旗|{POINTER}{HEAD_ALONE}镇|{POINTER}{HEAD_ALONE}乡(?![村下亲])|街道)"
)
# A road's section: 北段, 中段, 四段 (人民南路四段12号, 红星路三段1号).
SEGMENT = "[东西南北中一二三四五六七八九十]?段"
ROAD_NUMBER = re.compile(
    f"(?<=[{CJK}0-9])(?:大街|大道|路|街|道|巷|胡同|里)(?:{SEGMENT}|[东西南北])?"
    f" ?(?:\\d+(?:-\\d+)?|[一二三四五六七八九十百零]{{1,4}}) ?(?:号|弄)"
)
# 城隍中路1168, 明日路80: a road and a number without 号, counted after an admin level.
ROAD_BARE_NUMBER = re.compile(
    f"(?<=[{CJK}])(?:大街|大道|路|街|巷)[东西南北]?\\d{{1,5}}(?![0-9-]|[年月日时点分秒元个人次万千百%.])"
)
# The same after a cue, with a house's second number (振港路172-53), no admin level needed.
CUED_ROAD_NUMBER = re.compile(
    f"(?<=[{CJK}])(?:大街|大道|路|街|巷)[东西南北]?\\d{{2,5}}(?:-\\d{{1,4}})?"
    f"(?![0-9-]|[年月日时点分秒元个人次万千百%.米路站趟班])"
)
# 号楼 of a numbered building, not 楼下/楼上 after a house number (…123号|楼下等你: downstairs).
BUILDING_NO = "号楼(?![下上顶梯])"
DETAIL = re.compile(
    rf"(?:\d+|[A-Za-z]\d*)(?:-\d+)?(?:{BUILDING_NO}|号院|号|弄|栋|幢|座|塔|单元|层|楼|室|户)"
    f"|(?<=[{CJK}])(?<![乡农山渔])村|(?<=[0-9一二三四五六七八九十])(?:组|队)"
    f"|(?<=[{CJK}])(?:社区|居委会|小区|花园|公寓|大厦)"
)
# One component of an address, read left to right from its start (see ``address_end``).
UNIT = (
    f"{BUILDING_NO}|号院|号门(?![卫口前外])|号|弄|栋|幢|座|塔|单元|层|楼|室|房|户|区|组|社|队|排|巷"
    "|栋楼|铺|期"
)
PLACE_SUFFIX = (
    "特别行政区|自治区|自治州|自治县|街道|省|市(?!场)|园区|区(?!域)|县|旗|镇|乡|"
    "大街|大道|路|街|巷|胡同|弄|里|段|"
    "村|组|队|社区|居委会|小区|花园|公寓|大厦|广场|中心|大楼|家园|新村|新城|苑|园|城|庄|"
    "工业区|开发区|市场|商城|公司|厂|医院|学校|大学|学院|宾馆|酒店|店|部|"
    "号楼|号院|栋|幢|座|单元|层|楼|室"
)
# A character of a place's name: no particle or verb of the sentence around it (…成为|台中市).
NAME_CHAR = f"(?:(?![的了与及或是为])[{CJK}A-Za-z])"
# Patterns the helpers below match words and components with, compiled once (not per call).
CJK_LEAD = re.compile(f"[{CJK}]+")  # a component's leading CJK; fullmatch: a word all CJK
CN_NUMBERED_UNIT = re.compile(f"[一二三四五六七八九十]+(?:{UNIT})")  # 三楼, 十二栋
LETTER_UNIT = re.compile(f"[A-Za-z] ?(?:{UNIT})")  # A座, B 栋
LEADING_NUMBER = re.compile(r"[A-Za-z]?\d")
ENDS_WITH_UNIT = re.compile(f"(?:{UNIT})$")
PHONE_DIGITS = re.compile(r"\d{7,}")
ALNUM_WORD = re.compile(r"[A-Za-z0-9]+")
NUMBER = rf"(?:[A-Za-z]{{0,2}}[-－]?\d+[A-Za-z]?(?:[-－_/]{{1,2}}\d+[A-Za-z]?)*(?: ?(?:{UNIT}))?|[一二三四五六七八九十]+(?:{UNIT}))"
# A crossing of the road before with another (…珊瑚沙路|与碧波路交叉口), a bearing from it.
JUNCTION = rf"[与和]{NAME_CHAR}{{1,8}}?(?:大街|大道|路|街)(?:交叉口|交汇处|交界处|路口)"
# …公寓|南大门, …小区|东院, …故居|南450米, …学校|向北300米 (a distance, then the place)
BEARING = r"向?[东西南北]{1,2}(?:侧|大门|门|院|\d{1,4}米)"
COMPONENT = re.compile(
    rf"(?:{JUNCTION}|{BEARING}|{NAME_CHAR}{{1,10}}?(?:{PLACE_SUFFIX})|居委会|村委会|社区|小区|工业区|开发区|园区"
    rf"|[{CJK}]{{1,10}}?(?={BEARING}|[A-Za-z]?\d)|{NUMBER}|之\d+|[-－]\d+|[A-Za-z] ?(?:{UNIT}))"
)
# A building or organisation named after the number, up to the end of the clause:
# ...路166号党校门卫室。 / ...1257号温州奥洋科技有限公司， (nouns only: not 拜访客户, 明天发货).
TRAILING_NAME = re.compile(f"[{CJK}][{CJK}A-Za-z0-9]{{1,11}}(?=[，。；,;！!？?（( \\n]|$)")
# The same, running on into the clause (…号浙味食品的快递三天没到): cut by ``noun_head``.
TRAILING_RUN = re.compile(f"[{CJK}][{CJK}A-Za-z0-9]{{1,19}}")
# What an organisation's or a building's name ends with: a run after the house number that
# ends the clause with one of these is that name, whatever jieba makes of its words.
ORGANISATION_END = re.compile(
    "(?:公司|集团|医院|银行|支行|分行|学校|中学|小学|大学|学院|幼儿园|工厂|厂|商店|店|"
    "所|局|站|馆|院|中心|大厦|公寓|广场|市场|基地|仓库|门市部|部|政府|超市|车行|商行|工地|处|厅)$"
)
# A numbered unit (A座, 12楼, 6栋, B-1616室) right after a building's name.
NEXT_UNIT = re.compile(rf"{NUMBER}|[A-Za-z] ?(?:{UNIT})")
# A building's or estate's whole name before its numbered unit, read when the lazy
# COMPONENT stopped at a suffix inside it (…90号|东部|软件园3号楼: 部 ends a name, 东部 is
# a direction word): ``address_end``.
BUILDING_NAMED = re.compile(
    rf"{NAME_CHAR}{{2,12}}?(?:{PLACE_SUFFIX})(?={NUMBER}|[A-Za-z] ?(?:{UNIT}))"
)
# Hyphens and underscores join an address's parts (浙江-宁波-江东区, 166号_金虹大厦_一楼).
JOINER = re.compile(r"[-_－](?=[^-_－\s])")
NOUN_TAGS = ("n", "nr", "ns", "nt", "nz", "nrt", "ng", "vn", "j", "l", "eng", "m")
GAP_TAGS = ("nr", "ns", "nt", "nz", "nrt", "nrfg", "j", "x", "m", "eng")  # names, no nouns
ESTATE = re.compile(
    f"(?<=[{CJK}])(?:家园|小区|花园|新村|公寓|大厦|山庄|华庭|公馆|广场|苑|大楼|中心|市场|商城"
    "|工业园|产业园|科技园|工业区)"
)
# 123-10-446, 15-12-842: building, unit, room. Not a date (2024-05-20), not a phone (0571-...).
MEASURE = " ?(?:平|㎡|米|元|万|个|岁|%|公斤|kg|cm|mm)"  # after a range of numbers: no room
UNIT_CHAIN = re.compile(
    f"(?<=[{CJK}A-Za-z])(?<!码)(?!0)(?!(?:19|20)\\d\\d-)\\d{{1,4}}-\\d{{1,4}}(?:-\\d{{1,5}})?(?![0-9-]|{MEASURE})"
)
NAMED_PLACE = re.compile(
    f"[{CJK}A-Za-z0-9]{{1,12}}?(?:村|组|社区|居委会|小区|花园|公寓|大厦|广场|中心|家园|新村|苑|"
    "工业区|工业园|园区|开发区|市场|商城|公司|厂|医院|学校|中学|小学|大学|学院|宾馆|酒店|派出所|"
    "政府|机场|大楼|营业处|管理处|办事处|营业厅)"
)
# A 区 that is a zone's, not a district's: its name runs back to the cue like an estate's.
ZONE = re.compile("(?:工业|开发|高新|园|商务|经济|科技)区")
ZONE_MARKS = "东西南北中一二三四五六七八九十ABCDEFGHabcdefgh"  # a zone's name: 西区, 二区, C区
ZONE_PART = re.compile(f"[{ZONE_MARKS}]{{1,2}}区")
# A building or room right after an estate's name: 6栋, A座, 十四幢, 1788号, 33楼.
BUILDING = re.compile(
    rf"(?:[A-Za-z]?\d+|[A-Za-z]|[一二三四五六七八九十]+)(?:{BUILDING_NO}|栋|幢|座|单元)"
    r"|(?:[A-Za-z]?\d+|[A-Za-z])塔|\d+(?:号(?![线口楼])|室|楼|层)"
    r"|[一二三四五六七八九十]{1,3}(?:楼|层)(?![上下梯顶])"  # 温山大厦|四楼 (not 楼下, 楼梯)
)
# A market's or an estate's stall, shop or office number, after its zones, gates, floors
# and aisles (商贸城|四区|44604, 市场|八楼|41777, 商贸城|79号门|二楼|八街|42058, 珠宝城|AB0602-0604,
# 汽配城|D区|9-10, 酒店|2320): what a wholesale market's address ends with.
STALL_PART = (
    r"(?:[一二三四五六七八九十\d]{1,3}期|[A-Za-z东西南北中一二三四五六七八九十\d]{1,3}区"
    r"|[一二三四五六七八九十\d]{1,3}(?:楼|层)|\d{1,3}号门|[东西南北]{1,2}(?:大门|门|厅)"
    r"|[一二三四五六七八九十\d]{1,2}街)"
)
STALL = re.compile(
    rf"{STALL_PART}*(?:[A-Za-z]{{0,2}}\d{{3,6}}(?:-\d{{1,4}})?|(?<=区)\d{{1,4}}-\d{{1,4}})"
    rf"(?:号|室)?(?![0-9年月日时点分秒元个人次万米多余几周%.])"
)
# An estate, a market or a works whose stall or room numbers follow it (…商贸城, …酒店).
STALL_PLACE = re.compile(
    f"(?<=[{CJK}])(?<![座个])(?:城|市场|商场|广场|中心|大厦|大楼|办公楼|酒店|宾馆|工业园|产业园|科技园|工业区)"
)


def stall_after(text: str, lo: int, hi: int) -> re.Match[str] | None:
    """The first market, estate or works name with a stall number right after it (see
    ``STALL``): the name's match, or None.

    >>> text = "义乌国际商贸城一期D区5406拜访客户"
    >>> stall_after(text, 0, len(text)).group(0), stall_after("长城2024年", 0, 8)
    ('城', None)
    """
    for place in STALL_PLACE.finditer(text, lo, hi):
        if STALL.match(text, place.end(), hi):
            return place
    return None


# A building with a room, floor or unit after it (12幢1053, B座2771, 三幢二单元1271, 65栋四楼,
# 3-7-2196): what an estate's address ends with, whatever the estate is called.
CN_DIGITS = "一二三四五六七八九十"
BUILDING_ROOM = re.compile(
    f"(?<=[{CJK}])(?:(?:[A-Za-z]?\\d{{1,4}}|[A-Za-z]|[{CN_DIGITS}]{{1,3}})(?:号楼|栋|幢|座)"
    f"|(?:[A-Za-z]?\\d{{1,4}}|[A-Za-z])塔)"
    f"(?:(?:\\d{{1,2}}|[{CN_DIGITS}]{{1,2}})单元)?"
    f"(?:\\d{{3,5}}(?:室|号)?(?![0-9])|\\d{{1,2}}(?:楼|层)|[{CN_DIGITS}]{{1,3}}(?:楼|层))"
    f"|(?<=[{CJK}])(?<!码)(?!0)(?!(?:19|20)\\d\\d-)\\d{{1,4}}-\\d{{1,3}}-\\d{{2,5}}(?![0-9-]|{MEASURE})"
)  # not a code (取件码8-3-2011: a parcel locker's shelf, layer, number), not sizes (40-50-70平米)


def numbered_building(text: str, lo: int, hi: int) -> re.Match[str] | None:
    """A numbered building with its room or floor (see ``BUILDING_ROOM``) after a name.

    >>> numbered_building("寄到湾天地二期11幢3150", 0, 14).group(0), numbered_building("请于3号楼前集合", 0, 8)
    ('11幢3150', None)
    """
    return BUILDING_ROOM.search(text, lo, hi)


def named_estate(text: str, start: int, estate: re.Match[str]) -> bool:
    """Has the estate ending with ``estate`` (大厦, 市场, 广场...) a name of its own from
    ``start``: two characters or more, not a pointer (这个|市场) and not, with its head, a
    word of jieba's dictionary (批发市场, 购物中心, 服务中心: a kind of place)?

    >>> text = "我们在大厦8楼，这个市场5楼，批发市场二楼，温山大厦四楼"
    >>> [named_estate(text, text.index(a), ESTATE.search(text, text.index(a))) for a in
    ...  ("大厦", "这个", "批发", "温山")]
    [False, False, False, True]
    """
    name = text[start : estate.start()]
    if len(name) < 2 or name.startswith(POINTED):
        return False
    jieba.dt.check_initialized()  # FREQ is empty until the dictionary is loaded
    return not jieba.dt.FREQ.get(text[start : estate.end()])


POINTED = tuple("这那该本此某各每")  # 这个|市场, 该|大厦: a place pointed at, not named


# Words that end the reading back to an estate's start: 客户反馈|…, 地址|…, 发往|….
CUE_WORDS = re.compile("反馈|地址|住址|发往|寄往|搬到|改成|改为|位于|就是")


def estate_start(text: str, lo: int, first: int) -> int:
    """Where an estate's name before its numbered building starts: back over the run to a
    cue (寄到|, 住在|, 反馈|, 地址：) or 20 characters; its admin levels and roads come with it
    (福田区东方时代B座2771, 鸿宁路百富联合国际12幢1053).

    >>> text = "请把合同寄到保利湾天地二期11幢3150"
    >>> text[estate_start(text, 0, text.index("11")) :]
    '保利湾天地二期11幢3150'
    """
    start = first
    while start > max(lo, first - 20) and text[start - 1] not in ESTATE_STOP:
        start -= 1
    cues = list(CUE_WORDS.finditer(text, start, first))
    return cues[-1].end() if cues else start


# Words before an address that say it is one: 寄到, 地址为, 住在, 配送到, 明天去.
ADDRESS_CUE = re.compile("地址|住址|寄|送|发往|发到|住在|搬到|位于|收货|配送|上门|去|到")
PLACE_ENDS = "省市区县旗镇乡道路街"  # an admin level's or a road's last character


# Cues that send or house (寄到, 地址为, 住在), not a visit's (去|, 到|): a visit to a
# government, a court, a hospital or a landmark with its city is news or an errand
# (省委书记去|杭州市西湖区人民政府调研, 明天去|…人民医院看病), no one's address. A school or a
# bureau visited (明天去|…水务局拜访客户) stays one: tests/test_address_boundaries.py.
DELIVERY_CUE = re.compile("地址|住址|寄|送|发往|发到|住在|搬到|位于|收货|配送|上门")
PUBLIC_BODY = re.compile(
    "政府|医院|法院|检察院|博物馆|图书馆|体育馆|委员会|总部|机场|车站|公园|景区"
)


# Cues that send something to the place or say it is one's address (寄到|, 收货地址：|,
# 住在|): after them one admin level is enough before a named place or a road (寄到|玉环县
# 凯门科技工业园, 地址为|…龙港镇港西三街); not 位于 (总部位于|杭州市中心).
SENDING_CUE = re.compile("地址|住址|寄|送|发往|发到|住在|搬到|收货|配送|上门")


def cued_place_end(text: str, admins: list[re.Match[str]]) -> int | None:
    """``place_name_end`` after a cue: any named place after a delivery cue, no public body
    after a visit's cue (去|宁波市镇海区清水浦_贝时特公司 yes, 去|…人民政府 no); after a
    sending cue also one admin level and a named place, or admin levels and a road that
    ends the clause (``SENDING_CUE``).

    >>> text = "请寄到余姚低塘镇姚北工业区，谢谢"
    >>> text[3 : cued_place_end(text, [ADMIN.search(text)])]
    '余姚低塘镇姚北工业区'
    """
    start = admins[0].start()
    joined = joined_levels(text, admins)
    if not (joined or cued(text, start)):
        return None
    sending = joined or cued(text, name_start(text, start, 0, 5), SENDING_CUE)
    end = place_name_end(text, admins, sending=sending)
    visit = not cued(text, start, DELIVERY_CUE)
    if end and visit and PUBLIC_BODY.search(text, admins[-1].end(), end):
        return None
    return end


def joined_levels(text: str, admins: list[re.Match[str]]) -> bool:
    """Admin levels joined by hyphens, as a form's cascading pickers write them
    (广东省-深圳市-福田区…, 河北省-邢台市-清河县-…): the form says an address follows, a cue of
    its own; the levels alone stay none (``place_name_end`` wants a named place after them).

    Each level joined is inside the one before (省 > 市 > 区/县 > 镇; 市 in 市 only after a
    province: 浙江省-宁波市-余姚市): cities of one rank joined are a route, a team or a
    region's towns (北京市-上海市-广州市往返机票, 上海市-苏州市-无锡市三地市场), no address.

    >>> text = "广东省-深圳市-福田区华强北振华手机城"
    >>> joined_levels(text, list(ADMIN.finditer(text))), joined_levels("广东省深圳市", [])
    (True, False)
    >>> text = "北京市-上海市-广州市往返机票"
    >>> joined_levels(text, list(ADMIN.finditer(text)))
    False
    """
    joins = [
        i
        for i, (a, b) in enumerate(itertools.pairwise(admins))
        if JOINER.match(text, a.end()) and nested(admins, i)
    ]
    return len(joins) >= 2 or (len(joins) == 1 and len(admins) == 2)


# An admin level's rank, the larger inside the smaller (joined_levels).
LEVEL_RANK = {"特别行政区": 0, "自治区": 0, "省": 0, "市": 1, "自治州": 1, "街道": 3, "镇": 3, "乡": 3}


def nested(admins: list[re.Match[str]], i: int) -> bool:
    """Is ``admins[i + 1]`` a level inside ``admins[i]`` (深圳市 in 广东省; 余姚市 in 宁波市
    only under a province)?"""
    upper, lower = (LEVEL_RANK.get(admins[j].group(0), 2) for j in (i, i + 1))
    if upper == lower == 1:
        return i > 0 and LEVEL_RANK.get(admins[i - 1].group(0), 2) == 0
    return lower > upper


def cued(text: str, start: int, cues: re.Pattern[str] = ADDRESS_CUE) -> bool:
    """An address cue in the 8 characters before ``start`` (寄到|, 地址：|, 明天去|)."""
    return cues.search(text, max(0, start - 8), start) is not None


def place_name_end(
    text: str, admins: list[re.Match[str]], end: int = -1, sending: bool = False
) -> int | None:
    """The end of a named place (a school, a shop, an authority) right after the admin
    levels, or after a road right after them, up to the clause: two admin levels or one
    and a road first (浙江省湖州市|妇幼保健院, 鲤城街道鲤西路|三合餐厅), else None. Only after
    a cue (``cued``): a city's authority in the news is no one's address.

    >>> text = "寄到浙江省湖州市妇幼保健院，谢谢"
    >>> text[: place_name_end(text, list(ADMIN.finditer(text)))]
    '寄到浙江省湖州市妇幼保健院'
    """
    if not admins:
        return None
    last = max(end, admins[-1].end())
    last += text.startswith("_", last)  # 凤鸣街道_高新东苑
    road = ROAD_NAME.match(text, last)
    if road is not None:
        last = road.end()
        if sending and (last == len(text) or CLAUSE_END.match(text, last)):
            return last  # 寄到|…龙港镇港西三街，: the road ends the clause
    elif len(admins) < 2 and not sending:
        return None
    end = name_end(text, last, len(text))
    if end - last < 2 and (zone := ZONE_PART.match(text, last)) and ZONE.match(text, last - 3):
        return zone.end()  # 姚北工业区|B区: a part of the zone after the zone's name
    if end - last < 2:
        return None
    while text.startswith("_", end) and (after := name_end(text, end + 1, len(text))) > end + 1:
        end = after  # 清水浦_贝时特公司
    return end


LOCAL_ADMINS = frozenset(["区", "县", "镇", "乡", "街道"])  # not 市: 超市, 城市
SUFFIX_AFTER = re.compile(
    f"(?:园|部|店|苑|院|厂|馆|场|大厦|大楼|公寓|广场|花园)(?![{CJK}])|(?:园|部|店|院|馆)(?=[{CJK}])"
)  # 南苑|大厦 5楼: the building's word after the lazy name's
NUMBERED = re.compile(rf"\d+(?:-\d+)*(?:{BUILDING_NO}|号院|号|栋|幢|单元|室)")
SEPARATOR = re.compile(r"[ \u3000]{1,2}|[、，,/][ ]?")
# An admin level written before the address's run, apart from it: 浙江省/杭州市/…, 浙江省 杭州市 …,
# a form's cells (浙江省杭州市西湖区，文三路…, 广东省-深圳市-南山区 粤海街道…, 杭州市\n西湖区…).
ADMIN_APART = re.compile(
    "(?:特别行政区|自治区|自治州|自治县|街道|省|市|区|县|旗|镇|乡)"
    "(?:[ \u3000]{1,2}|[/／、，,|｜\\-－_][ ]?|\r?\n)$"
)
# jieba tags no name after a house number holds: verbs, pronouns, particles, adverbs,
# prepositions, conjunctions, time and direction words (…201室|然后每天去公司, …90号|旁边有个超市,
# …15号|这家公司, …三组|的老乡). 'vn' (服务中心) and 'm' (第一人民医院) are names' words.
_CLAUSE_TAGS = "v r rr rz u uj ul uz ud ug uv d p c t f y e o z zg tg dg"
CLAUSE_TAGS = frozenset(_CLAUSE_TAGS.split())
# Words that start the next field of a record (at a run's start), not a place: …1201室|收件人张伟.
FIELD_CUES = re.compile(
    "收件人|收货人|联系人|寄件人|姓名|电话|手机|座机|邮箱|邮编|微信|备注|身份证|联系方式|号码"
)


def field_cue(run: str) -> bool:
    """A run that opens with a field's label (…1201室|电话138…, …号|收件人张伟), not a shop
    whose name opens with the same word (…105号|手机店, …号|手机专卖店: it ends like one).

    >>> field_cue("电话13812345678"), field_cue("手机店"), field_cue("手机专卖店")
    (True, False, False)
    """
    cue = FIELD_CUES.match(run)
    if cue is None:
        return False
    lead = CJK_LEAD.match(run)
    name = lead.group(0) if lead else ""
    return not (len(name) > cue.end() and ORGANISATION_END.search(name))


# Words before a place name that end the reading back: 寄到|上海市, 地址：|北京市.
CUES = re.compile(
    r"(?:是|在|于|到|往|至|址|寄|送|住|的|和|与|及|或|为|去|来|从|反馈|搬到了|发往|寄往)$"
)
PROVINCES = (
    "北京|天津|上海|重庆|河北|山西|内蒙古|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东|河南|"
    "湖北|湖南|广东|广西|海南|四川|贵州|云南|西藏|陕西|甘肃|青海|宁夏|新疆|香港|澳门|台湾"
)
PROVINCE_BEFORE = re.compile(f"(?:{PROVINCES})(?:省|市)?$")
PROVINCE_WORD = re.compile(f"(?:{PROVINCES})")
# 贵州|铜仁: a city's name without 市 right after its province (place_start).
CITY_AFTER_PROVINCE = re.compile(f"(?:{PROVINCES})[{CJK}]{{2,3}}$")
# Characters that end a place name when reading backwards: "我的地址是|北京市".
STOP = set("是在于到往至址寄送住的和与及或为了去:：")
ESTATE_STOP = STOP - set("和与及或")  # 庆和路|新城国际花园, 工人路与山阴路交叉口|…公寓
STREET_TYPES = (
    r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Drive|Dr|Lane|Ln|Way|Court|Ct|Place|Pl|"
    r"Parkway|Pkwy|Highway|Hwy|Terrace|Ter|Circle|Cir|Square|Sq"
)
US_ADDRESS = (
    r"\b\d{1,6}\s+(?:[NSEW]\.?\s+)?(?:[A-Z][a-z]+\s+){1,3}(?:" + STREET_TYPES + r")\.?"
    r"(?:\s+(?:NW|NE|SW|SE|N|S|E|W)\b)?(?:,?\s+(?:Apt|Suite|Ste|Unit|#)\.?\s*[\w-]+)?"
    r"(?P<tail>,\s*[A-Z][a-z]+(?:\s[A-Z][a-z]+)*,\s*[A-Z]{2}(?:\s+\d{5}(?:-\d{4})?)?)?"
)

US_STATES = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|"
    "NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|PR|GU|VI|AS|MP|FM|MH|PW"
)
US_ADDRESS_ZIP = (
    r"\b\d{1,6}\s+(?:[NSEW]\.?\s+)?(?:[A-Z][a-z]+\s+){0,3}[A-Z][a-z]+\.?"
    r"(?:,?\s+(?:Apt|Suite|Ste|Unit|#)\.?\s*[\w-]+)?"
    r",\s*[A-Z][a-z]+(?:\s[A-Z][a-z]+)*,\s*(?:" + US_STATES + r")\s+\d{5}(?:-\d{4})?\b"
)


OFFICIAL = re.compile("(?:省|市|区|县|镇|乡)长")  # a level's head: 镇长, 县长


def name_start(text: str, suffix_start: int, floor: int, longest: int) -> int:
    """Start of the place name ending at ``suffix_start``: read back over CJK, stop at STOP."""
    start = suffix_start
    while start > floor and suffix_start - start < longest:
        char = text[start - 1]
        if char == "和" and start == suffix_start and not OFFICIAL.match(text, suffix_start):
            start -= 1  # 仁和|街道, 太和|镇: no conjunction right before a suffix
            continue  # but 肖某和|镇长: a town's head, no town
        if char in STOP or not ("\u4e00" <= char <= "\u9fff" or char.isalnum()):
            break
        if CUES.search(text, max(floor, start - 4), start):
            break  # 客户反馈|仁和街道
        start -= 1
    province = PROVINCE_BEFORE.search(text, floor, start)
    return province.start() if province else start


def address_end(text: str, start: int, limit: int) -> int:
    """Where the address that starts at ``start`` ends: after its last component.

    >>> text = "住在北京市朝阳区建国路88号，明天发货"
    >>> text[2 : address_end(text, 2, len(text))]
    '北京市朝阳区建国路88号'
    """
    end = at = start
    while at < limit:
        component = COMPONENT.match(text, at, limit)
        if component is None or component.end() == at:
            joiner = JOINER.match(text, at, limit)
            if joiner and COMPONENT.match(text, joiner.end(), limit):
                at = joiner.end()
                continue
            separator = SEPARATOR.match(text, at, limit)
            following = separator and COMPONENT.match(text, separator.end(), limit)
            if not (
                separator
                and following
                and (
                    is_detail(following.group(0), separator.group(0))
                    or building_apart(text, at, separator.group(0), following)
                )
            ):
                break
            at = separator.end()
            continue
        if LOCATION_VERB.match(text, at, limit):
            break  # …南岙村|地处山区, …上林村|位于山脚下: the clause says where the place lies
        if component.group(0).endswith("米") and not place_after(text, component.end()):
            break  # …90号|向北300米右转: a way there, no place at the end of it
        if after_number(text, at) and not (
            is_name_run(component.group(0)) or names_a_building(text, component)
        ):
            component = BUILDING_NAMED.match(text, at, limit)  # 90号|东部软件园|3号楼 (东|部)
            if component is None or not names_a_building(text, component):
                break  # 201室|然后每天去公司: a clause, not a building
        at = end = component.end()
        while (tail := SUFFIX_AFTER.match(text, at, limit)) is not None:
            at = end = tail.end()  # 沃华庄|园, 紫金名苑售楼|部: the lazy name stopped early
    return beside_end(text, trailing_name_end(text, end, limit), limit)


AT_THE_DOOR = re.compile("门卫|门口|门前|门外|楼下|楼上|楼顶")  # a spot at the house, no place
# Where a place stands from the one before it: …28号|旁|超市, …纺织|旁边|关严车行, …村|对面|
# 陕西三建工地, …学校|向北300米|中央公园项目部 (a landmark, then the place itself).
BESIDE = re.compile(r"(?:旁边|旁|对面|斜对面|隔壁|向?[东西南北]{1,2}(?:侧|方向)?\d{1,4}米)")


def beside_end(text: str, end: int, limit: int) -> int:
    """``end`` moved past a place named beside or a distance from the address so far, when
    a works or a shop's name follows up to the clause (``named_after``); not a clause
    (…90号旁边|有个超市, …90号附近的超市).

    >>> text = "寄到温州黎明工业区28号旁超市 工作日送货"
    >>> text[2 : beside_end(text, text.index("旁"), len(text))]
    '温州黎明工业区28号旁超市'
    """
    beside = BESIDE.match(text, end, limit)
    if end == 0 or beside is None or not place_after(text, beside.end()):
        return end
    return name_end(text, beside.end(), limit)


# Verbs that say where a place lies: the clause after an address (…村|地处山区).
LOCATION_VERB = re.compile("地处|位于|坐落|处于|地属|靠近|毗邻|紧邻|邻近")


APART_NAME = re.compile(f"[{CJK}]{{2,12}}")  # a building's name written apart (building_apart)
ENDS_AS_PLACE = re.compile(f"(?:{PLACE_SUFFIX})$")


def building_apart(text: str, at: int, separator: str, following: re.Match[str]) -> bool:
    """After a number, a space, then a building's or estate's name with its numbered unit
    (…90号 东部软件园 3号楼 502): the address's, written apart; not a person (…90号 张伟收).

    >>> text = "文三路 90号 东部软件园 3号楼 502"
    >>> building_apart(text, 7, " ", COMPONENT.match(text, 8))
    True
    """
    run = APART_NAME.match(text, following.start())
    if separator.strip() or not after_number(text, at) or run is None:
        return False
    name = run.group(0)
    if field_cue(name) or not ENDS_AS_PLACE.search(name):
        return False
    words = jieba.posseg.lcut(name, HMM=True)
    if any(
        w.flag.startswith(("r", "u", "p")) or (w.flag == "v" and len(w.word) == 1) for w in words
    ):
        return False  # …90号 去公司 3楼: a clause
    after = run.end() + text.startswith(" ", run.end())
    return NEXT_UNIT.match(text, after) is not None


def estate_zone(text: str, admin: re.Match[str], lo: int) -> bool:
    """A 区 that is a zone of the estate or market named before it (碧水苑小区|西区,
    运新花苑|二区), not a district: the address starts at the estate, not at the zone.

    >>> text = "绍兴柯桥碧水苑小区西区142-7-631"
    >>> estate_zone(text, ADMIN.search(text, 9), 0), estate_zone("河西区", ADMIN.search("河西区"), 0)
    (True, False)
    """
    zone = admin.group(0) == "区" and admin.start() > lo and text[admin.start() - 1] in ZONE_MARKS
    return zone and ESTATE.search(text, lo, admin.start() - 1) is not None


# A shop's or a building's Latin name right after the house number, ending the clause.
# Capitalised (…号CSOL, …号Costa, …室Apple Store), not a word of the sentence (…号thanks),
# nor an English sentence's first word (…号Please call me: a lower-case word follows).
LATIN_NAME = re.compile(
    r"[A-Z][A-Za-z&'.]{2,19}(?: [A-Z][A-Za-z&'.]{1,19}){0,3}(?=[，。；,;！!？?（(]|\s(?![a-z])|$)"
)


def trailing_name_end(text: str, end: int, limit: int) -> int:
    """``end`` moved past a trailing building or organisation name after a number, a
    village or an estate (吕岙村安河电器, 高湾小区极易武道馆): its words up to the clause's
    first word (…762号浙味食品|的快递, …904号沪升电器|拜访, …1553和通家纺|（…）), and the
    names joined to it by underscores (…3号_新天地院内_龙虾第一店).

    >>> text = "寄到温岭市滨海镇新农村762号浙味食品的快递没到"
    >>> text[2 : trailing_name_end(text, text.index("号") + 1, len(text))]
    '温岭市滨海镇新农村762号浙味食品'
    """
    numbered = any(ch.isdigit() for ch in text[max(0, end - 6) : end])  # …95号西城|供电所
    joined = text.startswith("_", end)  # …88号_万达广场|_星巴克
    if end == 0 or not (joined or numbered or text[end - 1] in "号室栋幢座塔层楼村组苑园乡镇"):
        return end
    if OFFICIAL.match(text, end - 1):
        return end  # 镇|长麦达: the town's head and his name, no place after the town
    if text[end - 1] in "号室" and (latin := LATIN_NAME.match(text, end, limit)) is not None:
        from detectors.en_names import common_word  # here: en_names imports recognizers

        if not common_word(latin.group(0)):  # …号|Thanks，: a word of the message, no shop
            return latin.end()  # …1772号|CSOL，: a shop's Latin name up to the clause
    end = name_end(text, end, limit)
    while text.startswith("_", end) and (after := name_end(text, end + 1, limit)) > end + 1:
        end = after
    return end


def name_end(text: str, at: int, limit: int) -> int:
    """The end of the name a run at ``at`` starts with (``name_before_clause``), or ``at``."""
    run = TRAILING_RUN.match(text, at, limit)
    if run is None or field_cue(run.group(0)):
        return at
    closes = run.end() >= limit or CLAUSE_END.match(text, run.end()) is not None
    return at + len(name_before_clause(run.group(0), closes))


# What ends a clause right after a name: punctuation, a space, a line's end.
CLAUSE_END = re.compile(r"[，。；,;！!？?（(）)\s、：:_]")
# Pronouns a shop's name is never cut at (…号我们公司, …号这家店); 偌轩服饰 is a name.
PRONOUNS = frozenset("我你他她它这那哪")


def name_before_clause(run: str, closes: bool) -> str:
    """The name a run after a house number starts with: its words before the first word
    of a clause (a particle, a pronoun, a preposition, a time or direction word, a verb of
    two characters that is not the name's head), and not a person alone (张伟|收).

    >>> name_before_clause("沪升电器拜访客户", False), name_before_clause("安能快递", True)
    ('沪升电器', '安能快递')
    >>> name_before_clause("旁边有个超市", True), name_before_clause("张伟收", True)
    ('', '')
    """
    if BESIDE.match(run) or AT_THE_DOOR.match(run) or LOCATION_VERB.match(run):
        return ""  # …90号|对面, …90号|隔壁张伟收, …8号|门卫: where, not what (``beside_end``)
    words = jieba.posseg.lcut(run, HMM=True)
    if organisation := organisation_name(words, closes):
        return organisation
    if closes and shop_name(words):
        return run
    head = 0
    while head < len(words) and not starts_clause(words, head, closes):
        head += 1
    names = words[:head]
    if head == len(words) and not closes:
        return ""  # the run was cut off by its length: no end seen
    if not names or all(
        w.flag.startswith("nr") or (len(w.word) == 1 and w.flag == "v") for w in names
    ):
        return ""  # 张伟|收: a person, not an organisation
    return "".join(w.word for w in names)


THERE_IS = frozenset(("有", "是"))  # a clause's verb alone at a run's start: there is, it is


def shop_name(words: list) -> bool:
    """A whole run up to the clause's end that ends in a noun with no particle, pronoun,
    preposition, time word or adverb in it is a shop's name, whatever jieba reads its
    first word as (源明|木业, 悦|府|江南, 中|能|石化; not 去|公司, 马上|发货, 拜访|客户).

    >>> shop_name(jieba.posseg.lcut("源明木业")), shop_name(jieba.posseg.lcut("去公司"))
    (True, False)
    """
    last = words[-1]
    if sum(len(w.word) for w in words) < 4 or len(last.word) < 2:
        return False
    if words[0].word in THERE_IS:
        return False  # 万达广场三楼|有电影院: what is there, a clause of its own
    if not ((last.flag.startswith("n") and last.flag != "nr") or last.flag == "j"):
        return False
    jieba.dt.check_initialized()
    return not any(
        w.flag.startswith(("u", "r", "p", "t", "c"))
        or (w.flag in ("f", "d") and len(w.word) >= 2)
        or (w.flag.startswith("v") and len(w.word) >= 2 and jieba.dt.FREQ.get(w.word))
        for w in words
    )  # a verb jieba knows (拜访|客户) is a clause's; one it guessed (源明) a name's


NAME_HEAD_TAGS = ("n", "j", "l")  # a name opens with a noun, a place or an abbreviation (n*)


def whole_organisation(words: list) -> bool:
    """A run up to the clause's end that opens with a noun and ends with an organisation's
    or a building's word is that name whole, whatever adverbs or time words jieba reads
    inside it (杭州华山|连天|美医疗美容医院: 连天 an adverb; 野风|现代|之|窗大厦: 现代 a time
    word); no verb, pronoun, preposition, conjunction or particle but 之 in it.

    >>> whole_organisation(jieba.posseg.lcut("野风现代之窗大厦"))
    True
    >>> whole_organisation(jieba.posseg.lcut("马上到医院")), whole_organisation(jieba.posseg.lcut("我们公司"))
    (False, False)
    """
    last = words[-1]
    if len(words) < 2 or len(last.word) < 2 or not ORGANISATION_END.search(last.word):
        return False
    if not words[0].flag.startswith(NAME_HEAD_TAGS) or words[0].word in PRONOUNS:
        return False
    return not any(
        w.flag.startswith(("v", "r", "p", "c", "y", "e", "o", "f"))
        or (w.flag.startswith("u") and w.word != "之")
        or w.word in PRONOUNS
        for w in words
    )


def organisation_name(words: list, closes: bool) -> str:
    """The words before the first particle, pronoun, preposition, time or direction word
    when they end like an organisation's name, whatever verbs jieba reads in it
    (宁波远成设备制造有限公司, 杭州联合银行, 中国银行温岭支行|的快递); not after a verb of
    one character (…号去公司).

    >>> organisation_name(jieba.posseg.lcut("圆通速递中转站"), True)
    '圆通速递中转站'
    """
    if closes and whole_organisation(words):
        return "".join(w.word for w in words)
    head = 0
    while head < len(words) and not starts_clause(words, head, closes, verbs=False):
        head += 1
    if head == 0 or (words[0].flag.startswith("v") and len(words[0].word) == 1):
        return ""
    if head == len(words) and closes:  # the run is the name: ends like one, or not
        name = "".join(w.word for w in words)
        if ORGANISATION_END.search(name):
            return name
        for last in range(head - 1, 0, -1):  # …人民医院|看病, …公司|拜访客户: a verb opens it
            name = "".join(w.word for w in words[:last])
            verb = words[last].flag == "v" and (len(words[last].word) >= 2 or last < head - 1)
            if verb and ORGANISATION_END.search(name):
                return name  # …汽修店|看|样品: a verb of one character with its object
        return ""
    for last in range(head, 0, -1):  # no end seen: the longest, …包装公司|拜访客户
        name = "".join(w.word for w in words[:last])
        if ORGANISATION_END.search(name) and last < len(words):
            return name
    return ""


def starts_clause(words: list, at: int, closes: bool, verbs: bool = True) -> bool:
    """``words[at]`` is a clause's word, not part of a name after a house number."""
    word, tag = words[at].word, words[at].flag
    last = at == len(words) - 1
    if tag in ("uv", "ud") and last and closes:
        return False  # …三建工|地: 地 and 得 join a verb after them, none comes: a name's end
    if tag in ("u", "uj", "ul", "uz", "ug", "uv") or word in PRONOUNS:
        return True  # 的, 了, 着, 地, 等; 我, 这
    if tag.startswith("r") and len(word) >= 2:
        return True  # 我们, 这家, 有个, 每天
    if tag in ("p", "t", "tg", "f") and (len(word) >= 2 or at == 0):
        return True  # 离, 在; 明天, 周六; 旁边, 以后, 附近
    if tag in ("c", "d") and (len(word) >= 2 or at == 0):
        return True  # 然后, 但是; 马上; 和|我们
    if not verbs or not tag.startswith("v") or tag == "vn":
        return False
    after = words[at + 1] if not last else None
    if len(word) >= 2:  # 拜访, 上班; not a shop's head: 安能快递|, 顺达快递|的, 顺达快递|拜访
        if at == 0:
            return True
        if after is None:
            return not closes
        return not (starts_clause(words, at + 1, closes, verbs=False) or after.flag.startswith("v"))
    if at == 0:  # 去|公司, 取|快递, 离|地铁站; a shop's first characters read as verbs: 安|能|快递
        return after is None or not (after.flag.startswith("v") and len(after.word) == 1)
    return last and closes and words[at - 1].flag.startswith("nr")  # 张伟|收


def names_a_building(text: str, component: re.Match[str]) -> bool:
    """A component after a number with a numbered unit right after it names a building,
    whatever jieba makes of its words (雍和|大厦 A座: 和 is a conjunction, 九天|国际 12楼: 九天
    a time word), unless a verb, pronoun, particle or preposition is in it (…去公司3楼).

    >>> text = "东大街101号雍和大厦A座926室"
    >>> names_a_building(text, COMPONENT.match(text, 9))
    True
    """
    if NEXT_UNIT.match(text, component.end()) is None:
        return False
    lead = CJK_LEAD.match(component.group(0))
    if lead is None:
        return True
    if field_cue(lead.group(0)):
        return False
    words = jieba.posseg.lcut(lead.group(0), HMM=True)
    return not any(
        w.flag.startswith(("r", "u", "p")) or (w.flag == "v" and len(w.word) == 1) for w in words
    )  # 创意|产业园 5号楼: a verb of two characters is a name's word


def after_number(text: str, at: int) -> bool:
    """The address so far ends in a number or a numbered unit (90号, 201室, 三组)."""
    return at > 0 and (text[at - 1].isdigit() or text[at - 1] in "号室栋幢座塔层楼组队")


def is_name_run(component: str) -> bool:
    """A component after a number is a building's or organisation's name: no field cue and
    no word of a clause in its leading CJK (华星时代广场A座 yes; 旁边有个超市, 电话138… no).

    >>> is_name_run("华星时代广场A座"), is_name_run("我们明天上午去医院"), is_name_run("5幢")
    (True, False, True)
    """
    lead = CJK_LEAD.match(component)
    if lead is None:
        return True
    if field_cue(lead.group(0)):
        return False  # …1201室|电话138…; 阿旺手机专卖店 is a shop
    words = jieba.posseg.lcut(lead.group(0), HMM=True)
    if (
        len(words) > 1
        and words[0].flag == "v"
        and len(words[0].word) == 1
        and starts_clause(words, 0, False)
    ):
        return False  # …90号|去公司: a verb of one character opens a clause
    return not any(is_clause_word(w.word, w.flag) for w in words)


def is_clause_word(word: str, tag: str) -> bool:
    """A word of a clause: a one-character word only as a particle, pronoun, preposition
    or conjunction (的, 他, 在, 和); jieba tags a surname alone as anything (刘|小区: zg,
    涂|小区: v)."""
    return tag in CLAUSE_TAGS and (len(word) >= 2 or tag[0] in "urpc")


def admins_apart(text: str, start: int) -> int:
    """``start`` moved back over admin levels written apart, with '/', '、', a comma, a
    hyphen, a line break or spaces between (浙江省/杭州市/西湖区/文三路90号 starts at 浙江省,
    not 文三路; 上海市浦东新区 陆家嘴环路… at 上海市, not 海市).

    >>> text = "浙江省 杭州市 西湖区 文三路90号"
    >>> text[admins_apart(text, 12) :]
    '浙江省 杭州市 西湖区 文三路90号'
    """
    while (apart := ADMIN_APART.search(text, max(0, start - 8), start)) is not None:
        suffix = apart.start()
        if not ADMIN.match(text, suffix):
            break  # 超市, 本区: no admin level
        cell = suffix  # the level's own cell: jieba's place words, not across a separator
        while cell > max(0, suffix - 12) and (
            text[cell - 1].isalnum() or CJK_LEAD.match(text, cell - 1)
        ):
            cell -= 1
        name = place_start(text, suffix, cell)  # 天津市和平区 (和 no conjunction), 上海市浦东新区
        if name == suffix:
            break
        start = name
    return start


def is_detail(component: str, separator: str) -> bool:
    """A component worth crossing a separator for: a number with its unit (1203室), a short
    bare number after a space (A座 1203), or an admin level. Not a road ("，离地铁站走路"
    is a clause) and not a bare number after a comma (",610430196409299716" is the next
    CSV cell)."""
    if ADMIN.search(component[-3:]) or CN_NUMBERED_UNIT.fullmatch(component):
        return True
    if LETTER_UNIT.fullmatch(component):
        return True  # A 座
    if not LEADING_NUMBER.match(component):
        return False
    with_unit = ENDS_WITH_UNIT.search(component) is not None
    return with_unit or (separator.strip() == "" and len(component) <= 6)


def place_start(text: str, first: int, floor: int, road: bool = False) -> int:
    """Start of the place words before ``first`` (the first admin level or road suffix).

    Reads jieba's words backwards from the one holding ``first``: place words (ns),
    province names and words ending in an admin suffix belong to the address; a cue
    (地址：, 寄到, 客户反馈) or any other word ends it.
    """
    low = max(floor, first - 16)
    # Read a few characters past ``first`` too: cut at the suffix's first character, jieba
    # reads 仁和街 for 仁和|街道 and 为长|水街 for 为|长水|街道.
    words = [
        (low + a, low + b)
        for _, a, b in jieba.tokenize(text[low : first + 4], HMM=True)
        if low + a <= first
    ]
    holder = next((a for a, b in words if a <= first < b), first)
    if holder < first and glued_cue(text[holder : first + 1]):
        holder += 1  # 为宗汉街|道: jieba's guess glued the cue 为 to the place name
    # 振兴|西路, 凤鸣|街道: a road's name, or a suffix that is a word of its own, takes the
    # word before whatever it is; an admin word such as 温州市 needs nothing more.
    start, name_words = holder, 1 if road or holder == first else 0
    weak = 2
    for a, b in reversed(words):
        word = text[a:b]
        if a >= start:
            continue
        if CUE_WORDS.fullmatch(word) or PHONE_DIGITS.fullmatch(word):
            break  # 客户反馈|紫宇路852号: a cue is no road's name; 张伟 138…|浙江省: a phone
        if name_words > 0 and word in ("和", "与") and CUES.search(text, max(floor, a - 4), a):
            start = a  # 地址为|和|义路: after a cue 和 opens the road's name, joins nothing
            break
        if name_words > 0 and CJK_LEAD.fullmatch(word) and word[-1] not in STOP:
            if word[0] in STOP:
                start = a + 1  # 地址为|南大路: jieba joined the particle to the name
                break
            start, name_words = a, name_words - 1  # 振兴|西路: a road's name is any word
            if word in ROAD_SUFFIXES:
                name_words = 1  # 化工|路|32巷9号: the lane's road has a name too
        elif is_place_word(word):
            start = a
        elif weak > 0 and is_name_like(word):
            start, weak = a, weak - 1  # 温州|乐清|柳市镇: jieba tags some towns as names
        elif len(word) == 1 and word not in STOP and a == start - 1 and not CUES.search(word):
            start = a  # 安徽阜阳|颖|东区: jieba split a place name's first character off
            name_words = 1 if word in ROAD_SUFFIXES else 0  # 化工|路|321巷: the road's name
        elif glued_cue(word):
            start = a + 1  # 地址是靖城|街道, 去皋|埠镇: a cue and a name's first character
            break
        else:
            break
    # 地址：|北下|朱振兴西路: the run up to the cue is the place (names only), or the nouns after
    # the cue are (地址是|花样|年美年广场)
    while start < first and text[start].isspace():
        start += 1  # 张伟 138…| 浙江省: the space before the place is not the address's
    gap = text[floor:start]
    start = floor if names_the_place(gap) else nouns_after_cue(text, floor, start)
    province = PROVINCE_BEFORE.search(text, floor, start)
    if province is None:  # 贵州|铜仁|松桃县: a city's name without 市 between province and start
        city = CITY_AFTER_PROVINCE.search(text[max(floor, start - 6) : start])
        if city and not any(ch in STOP for ch in city.group(0)):
            word = next((text[a:b] for a, b in words if b == start), "")
            if 2 <= len(word) <= 3 and city.group(0).endswith(word):
                province = PROVINCE_BEFORE.search(text, floor, start - len(word))
    return province.start() if province else start


ROAD_SUFFIXES = frozenset("路街道巷弄里")


def glued_cue(word: str) -> bool:
    """A word jieba made up (no dictionary word) of a cue and a place name's first
    characters: 是靖城, 为园, 去皋 (cut from 是|靖城街道, 为|园岭街道, 去|皋埠镇).

    >>> glued_cue("是靖城"), glued_cue("去皋"), glued_cue("和平"), glued_cue("和平路")
    (True, True, False, False)
    """
    jieba.dt.check_initialized()  # FREQ is empty until jieba has loaded its dictionary
    return (
        len(word) >= 2
        and word[0] in STOP
        and bool(CJK_LEAD.fullmatch(word[1:]))
        and not jieba.dt.FREQ.get(word)
    )


def named_place_after_admins(text: str, admins: list[re.Match[str]], hi: int) -> bool:
    """Three admin levels, or two with a town (镇/乡/街道), then a named estate, village,
    works or institution right after the last one. Two levels alone are a district
    (北京市朝阳区人民医院 in the news is no one's address)."""
    towns = [a for a in admins if a.group(0) in ("镇", "乡", "街道")]
    if len(admins) < 3 and not (len(admins) == 2 and towns):
        return False
    # After any level but the first: 柳市镇|柳黄路曹田工业区 (whose 区 is an admin match too).
    for admin in admins[1:]:
        place = NAMED_PLACE.match(text, admin.end(), hi)
        if place is not None and not any(ch in STOP for ch in place.group(0)):
            return True
    return False


# A village (…村: not 农村, 山村; not 村民, 村委) and what makes it an address: a house number
# right after it or after a hamlet's name (金家村1058号, 万众村王家74号); after an admin level, a
# group (横蓬村23组), a works or shop named up to the clause (新华村|博悦服饰), or a cue.
VILLAGE = re.compile(f"(?<=[{CJK}]{{2}})(?<![乡农山渔])村(?![村民委长里子庄落镇])")
VILLAGE_NUMBER = re.compile(f"[{CJK}]{{0,4}}?\\d{{1,5}}号(?![楼院门线口])")
GROUP = re.compile(r"(?:\d{1,3}|[一二三四五六七八九十]{1,3})(?:组|队|社)")


def village_address(
    text: str, admins: list[re.Match[str]], lo: int, hi: int
) -> re.Match[str] | None:
    """The village that makes the run an address (see ``VILLAGE``), or None.

    >>> text = "宁围镇新华村杭州博悦服饰"
    >>> village_address(text, list(ADMIN.finditer(text)), 0, len(text)).start()
    5
    >>> text = "记者来到灵溪镇上林村采访"
    >>> village_address(text, list(ADMIN.finditer(text)), 0, len(text)) is None
    True
    """
    for village in VILLAGE.finditer(text, lo, hi):
        after = village.end()
        if VILLAGE_NUMBER.match(text, after, hi):
            return village
        levels = [a for a in admins if a.end() <= village.start()]
        between = text[levels[-1].end() : village.start() - 2] if levels else ""
        if not levels or len(between) > 8 or not is_name_run(between or "-"):
            continue  # 昆明市|启动了子君村: a clause between the level and the village
        if any(ch in STOP or not "\u4e00" <= ch <= "\u9fff" for ch in between):
            continue
        if GROUP.match(text, after, hi) or named_after(text, after):
            return village
        if cued(text, name_start(text, levels[0].start(), lo, 5), DELIVERY_CUE):
            return village
    return None


def place_after(text: str, at: int) -> bool:
    """``named_after`` with a name that ends like an organisation's or a shop's (…旁|超市,
    …300米|中央公园项目部; not …300米|右转).

    >>> place_after("南450米宇航塑业包装公司拜访客户", 5), place_after("向北300米右转", 6)
    (True, False)
    """
    name = text[at : name_end(text, at, len(text))]
    return named_after(text, at) and ORGANISATION_END.search(name) is not None


def named_after(text: str, at: int) -> bool:
    """A works or a shop named right after ``at``, up to the clause (…村|杭州博悦服饰), not a
    clause (…村|有300户人家: a verb of one character, a count).

    >>> named_after("新华村杭州博悦服饰", 3), named_after("上林村有300户人家", 3)
    (True, False)
    """
    name = text[at : name_end(text, at, len(text))]
    if len(name) < 2 or any(ch.isdigit() for ch in name):
        return False
    words = jieba.posseg.lcut(name, HMM=True)
    first = words[0]
    if first.flag.startswith(("m", "q")) or starts_clause(words, 0, True, verbs=False):
        return False  # …村|一个贫苦农民家庭, …村|和蒜村: a count, a conjunction
    return not (first.flag.startswith("v") and len(first.word) == 1)


# A road's name ending in its suffix (建国北路, 环城大道), then what stands on it.
ROAD_NAME = re.compile(f"{NAME_CHAR}{{1,8}}?(?:大街|大道|路|街|巷)(?:{SEGMENT})?")
# Two roads' crossing, the road before it included (滨江北路与新芜路交汇处).
CROSSING = re.compile(f"(?:大街|大道|路|街){JUNCTION}")


def named_place_on_road(text: str, at: int, hi: int) -> re.Match[str] | None:
    """A road right after an admin level with a named building, estate or institution right
    after the road (…街道|建国北路|华源发展大厦): the road's match, or None.

    >>> text = "潮鸣街道建国北路华源发展大厦"
    >>> named_place_on_road(text, 4, len(text)).group(0)
    '建国北路'
    """
    road = ROAD_NAME.match(text, at, hi)
    if road is None:
        return None
    place = NAMED_PLACE.match(text, road.end(), hi)
    if place is None or any(ch in STOP for ch in place.group(0)):
        return None
    return road


# The end of a cue before an address: 地址, 地址为, 是, 到, 反馈 (CUES), or a STOP character.
CUE_END = re.compile(
    r"(?:地址|住址|反馈|[是在于到往至址寄送住为去])(?=[^是在于到往至址寄送住为去]*$)"
)
PLACE_NOUN_TAGS = frozenset(("n", "ns", "nt", "nz", "nr", "nrt", "j", "vn", "l"))


def nouns_after_cue(text: str, floor: int, start: int) -> int:
    """``start`` moved back to a cue when only place nouns stand between (地址|桃花工业园管委会|
    经济开发区…, 地址是|花样|年美年广场): jieba's place words stopped at a common noun.

    >>> text = "新地址是花样年美年广场7栋708"
    >>> nouns_after_cue(text, 0, 6)
    4
    """
    if ADMIN.search(text, start, start + 7):
        return start  # 订单|温州市…, 公司宿舍|杭州市…: nothing bigger comes before an admin level
    cue = CUE_END.search(text, max(floor, start - 12), start)
    if cue is None or not 0 < start - cue.end() <= 8:
        return start
    words = jieba.posseg.lcut(text[cue.end() : start], HMM=True)
    return cue.end() if all(w.flag in PLACE_NOUN_TAGS for w in words) else start


def names_the_place(gap: str) -> bool:
    """The characters between a run's start and the place words found: part of the place
    when short, or made only of names (jieba), with no cue or particle in them."""
    if not 0 < len(gap) <= 10 or any(ch in STOP for ch in gap) or CUES.search(gap):
        return False
    return all(w.flag in GAP_TAGS for w in jieba.posseg.lcut(gap, HMM=True))


def is_name_like(word: str) -> bool:
    """A 2-3 character word jieba calls a name, a proper noun or does not know (乐清, 柯桥)."""
    tag = jieba.posseg.dt.word_tag_tab.get(word)
    return (
        2 <= len(word) <= 3
        and bool(CJK_LEAD.fullmatch(word))
        and (tag is None or tag in ("nr", "nz", "nrt", "nrfg"))
        and not any(ch in STOP for ch in word)
    )


def is_place_word(word: str) -> bool:
    tag = jieba.posseg.dt.word_tag_tab.get(word, "")
    return (
        tag.startswith("ns")
        or bool(PROVINCE_WORD.fullmatch(word))
        or (len(word) >= 2 and bool(ADMIN.search(word[-3:])) and word[0] not in STOP)
        or bool(ALNUM_WORD.fullmatch(word))
        or word in GENERIC_PLACE_WORDS
    )


# Words inside place names that jieba tags as common words (温州经济技术开发区).
GENERIC_PLACE_WORDS = frozenset(["经济", "技术", "高新", "工业", "商务", "科技"])


class AddressRecognizer(ScoredPatternRecognizer):
    ENTITY = "ADDRESS"
    PATTERNS = (
        Pattern("cn address", RUN, 0.85),
        Pattern("us address", US_ADDRESS, 0.6),
        Pattern("us address zip", US_ADDRESS_ZIP, 0.85),
    )
    CONTEXT = ("地址", "住址", "收货地址", "address", "addr", "寄往", "送至", "shipping", "billing")

    def analyze(self, text, entities, nlp_artifacts=None, regex_flags=None):
        results = []
        for pattern, compiled in self._compiled:
            for match in compiled.finditer(text):
                if pattern.name == "cn address":
                    found = self.cn_address(match)
                elif pattern.name == "us address":
                    found = self.us_address(match)
                else:
                    found = (match.start(), match.end(), pattern.score)
                if found:
                    start, end, score = found
                    results.append(self.result(start, end, score, pattern.name))
        return self.remove_duplicates(results)

    @staticmethod
    def cn_address(match: re.Match[str]) -> tuple[int, int, float] | None:
        text, lo, hi = match.string, match.start(), match.end()
        admins = [a for a in ADMIN.finditer(text, lo, hi) if not estate_zone(text, a, lo)]
        bare = False  # found by a numbered building alone: an estate's name must come before
        named = False  # found by admin levels with a town and a named place after them
        roads = list(ROAD_NUMBER.finditer(text, lo, hi))
        if admins and not roads:
            roads = [
                r for r in ROAD_BARE_NUMBER.finditer(text, lo, hi) if r.start() > admins[0].start()
            ]
        if not roads:  # 寄到|中兴路1196, 地址为|振港路172-53: a cue says the number is a house's
            stall = stall_after(text, lo, hi)  # 寄到|…服装城二楼六街30112: an aisle, no road
            roads = [
                r
                for r in CUED_ROAD_NUMBER.finditer(text, lo, hi)
                if cued(text, name_start(text, r.start(), lo, 8))  # 地址为|义乌廿三里金鳞北|路313
                and (stall is None or stall.start() > r.start())
            ]
        details = list(DETAIL.finditer(text, lo, hi))
        if roads:
            score = 0.85 if admins else 0.7
        elif len(admins) >= 2 and details and details[-1].start() > admins[1].start():
            score = 0.7
        elif any(a.group(0) in LOCAL_ADMINS for a in admins) and NUMBERED.search(
            text, admins[0].end(), hi
        ):
            score = 0.6  # 海曙区维科上院13-52-972室, 江东街道上麻车411号
        elif admins and UNIT_CHAIN.search(text, admins[0].end(), hi):
            score = 0.6  # 江干区五福新村123-10-446: building-unit-room
        elif (stall := stall_after(text, lo, hi)) is not None:
            score = 0.6  # 义乌国际商贸城四区44604, …酒店2320; from its admin levels if any
            if not admins or admins[0].start() > stall.start():
                admins, bare = [stall], True
        elif (
            (estate := ESTATE.search(text, lo, hi))
            and (
                UNIT_CHAIN.search(text, estate.end(), hi)
                or BUILDING.search(text, estate.end(), hi)
            )
            # not 在|大厦8楼, 这个|市场五楼, 批发市场|二楼: no estate's name (R10)
            and named_estate(text, estate_start(text, lo, estate.start()), estate)
        ):
            score, admins, bare = 0.6, [estate], True  # 湖景家园6栋4单元2057, 福田大厦A座3775
        elif (unit := numbered_building(text, lo, hi)) is not None:
            score, admins, bare = 0.6, [unit], True  # 保利湾天地二期11幢3150, 某某国际B座2771
        elif named_place_after_admins(text, admins, hi):
            score, named = 0.6, True  # 江苏省宜兴市丁蜀镇第二人民医院: a town level and a place
        elif admins and (on_road := named_place_on_road(text, admins[0].end(), hi)) is not None:
            score, roads = 0.6, [on_road]  # 潮鸣街道建国北路华源发展大厦: admin, road, building
        elif admins and cued_place_end(text, admins):
            score = 0.6  # 寄到|浙江省湖州市妇幼保健院, 送到|鲤城街道鲤西路三合餐厅
            named = joined_levels(text, admins)  # 广东省-深圳市-福田区|华强北振华手机城
        elif (crossing := CROSSING.search(text, lo, hi)) and cued(text, crossing.start()):
            score, admins, bare = 0.6, [crossing], True  # 送到|滨江北路与新芜路交汇处…
        elif (village := village_address(text, admins, lo, hi)) is not None:
            score, roads = 0.6, [village]  # 金家村1058号, 街道横蓬村23组…伞厂, 镇新华村…服饰
        else:
            return None
        first = min([m.start() for m in admins[:1] + roads[:1]])
        road = bool(roads) and (not admins or roads[0].start() < admins[0].start())
        if bare:
            start = estate_start(text, lo, first)
            if first - start < 2 and not ESTATE.match(text, first):
                return None  # 在|5号楼301室: a room with no estate's name before it
        else:
            start = place_start(text, first, lo, road=road)
            if ZONE.match(text, max(lo, first - 2)):  # 丽水水阁|工业区: a zone, no district
                start = min(start, estate_start(text, lo, first))
        if start == first:  # no place word before the suffix: read back over characters
            longest = 8 if text.startswith(("自治", "特别"), first) else 5
            start = name_start(text, first, lo, longest)
        # Parse on from the start and from each part found; the furthest chain ends it
        # (浙江-宁波- is no component, 江东区江南路1226号… is).
        end = address_end(text, start, len(text))
        for part in sorted(roads + details + admins, key=lambda m: m.end()):
            between = text[end : part.start()]
            if (
                part.end() > end
                and is_name_run(between or "-")
                and not LOCATION_VERB.search(between)
            ):
                # a part past the chain so far, no clause between: parse on from it
                # (三组|的老|乡 is a clause: 老乡 is a fellow villager, no township)
                end = max(end, address_end(text, part.end(), len(text)))
        if text[end - 1] in PLACE_ENDS and (named or cued(text, start)):
            end = max(end, place_name_end(text, admins, end) or end)  # …蕲春县|刘华中学
        apart = admins_apart(text, start)
        if apart < start and roads:
            score = 0.85
        if end <= apart:
            return None  # nothing address-like after the start: never an empty span
        return apart, end, score

    @staticmethod
    def us_address(match: re.Match[str]) -> tuple[int, int, float]:
        return match.start(), match.end(), 0.8 if match.group("tail") else 0.6
