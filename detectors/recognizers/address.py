"""ADDRESS: Chinese postal addresses and US street addresses.

    北京市朝阳区建国路88号SOHO现代城3号楼1单元1203室     road + number, admin  0.85
    上海市浦东新区张江路123弄4号502室                    0.85
    广东省深圳市南山区科技园南区粤海街道1号              admin levels + number 0.7
    1600 Pennsylvania Ave NW, Washington, DC 20500      0.8
    576 Kayla Ports, Harrisville, MI 03666              0.85 (any street word, state + ZIP)

A Chinese address needs a road/street with a number, or two admin levels
(省/市/区/县/镇...) and a detail (号/栋/单元/室...): "北京" or "北京市朝阳区"
alone is not an address. A US street address needs a known street type, or
any capitalised street word when a city, a state code and a ZIP code follow
(USPS lists ~200 street types; the state and ZIP are the stronger evidence).
"""

from __future__ import annotations

import re

from presidio_analyzer import Pattern

from detectors.recognizers.base import ScoredPatternRecognizer

CJK = "\u4e00-\u9fff"
# A run of characters an address is written with (no spaces or punctuation).
RUN = f"[{CJK}0-9A-Za-z#＃\\-－()（）·]{{4,120}}"
ADMIN = re.compile(f"(?<=[{CJK}])(?:特别行政区|自治区|自治州|自治县|省|市|区|县|旗|镇|乡|街道)")
ROAD_NUMBER = re.compile(
    f"(?<=[{CJK}0-9])(?:大街|大道|路|街|道|巷|胡同|里)(?:[东西南北中]段)?\\d+(?:-\\d+)?(?:号|弄)"
)
DETAIL = re.compile(r"(?:\d+|[A-Za-z]\d*)(?:-\d+)?(?:号楼|号院|号|弄|栋|幢|座|单元|层|楼|室|户)")
PROVINCES = (
    "北京|天津|上海|重庆|河北|山西|内蒙古|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东|河南|"
    "湖北|湖南|广东|广西|海南|四川|贵州|云南|西藏|陕西|甘肃|青海|宁夏|新疆|香港|澳门|台湾"
)
PROVINCE_BEFORE = re.compile(f"(?:{PROVINCES})(?:省|市)?$")
# Characters that end a place name when reading backwards: "我的地址是|北京市".
STOP = set("是在于到往至址寄送住的和与及或为:：")
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


def name_start(text: str, suffix_start: int, floor: int, longest: int) -> int:
    """Start of the place name ending at ``suffix_start``: read back over CJK, stop at STOP."""
    start = suffix_start
    while start > floor and suffix_start - start < longest:
        char = text[start - 1]
        if char in STOP or not ("\u4e00" <= char <= "\u9fff" or char.isalnum()):
            break
        start -= 1
    province = PROVINCE_BEFORE.search(text, floor, start)
    return province.start() if province else start


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
        admins = list(ADMIN.finditer(text, lo, hi))
        roads = list(ROAD_NUMBER.finditer(text, lo, hi))
        details = list(DETAIL.finditer(text, lo, hi))
        if roads:
            score = 0.85 if admins else 0.7
        elif len(admins) >= 2 and details and details[-1].start() > admins[1].start():
            score = 0.7
        else:
            return None
        first = min([m.start() for m in admins[:1] + roads[:1]])
        longest = 8 if text.startswith(("自治", "特别"), first) else 5
        start = name_start(text, first, lo, longest)
        end = max(m.end() for m in roads + details + admins)
        return start, end, score

    @staticmethod
    def us_address(match: re.Match[str]) -> tuple[int, int, float]:
        return match.start(), match.end(), 0.8 if match.group("tail") else 0.6
