"""CN_USCC: Unified Social Credit Code of organisations (GB 32100).

    91350100M000100Y43   18 chars, check character per GB 32100

The check is weak (~3% of random 18-digit numbers pass), so all-digit
candidates need context (统一社会信用代码, 税号 ...); codes with letters in
them are rare by chance and count on their own. Characters 3-8 are the
registering office's region (GB/T 2260; 10xxxx for central bodies), so its
province must be one: a resident ID with a wrong check (15010219740104360X)
reads as region 010219 and is no code.
"""

from __future__ import annotations

import re

from presidio_analyzer import Pattern
from stdnum.cn import uscc

from detectors.recognizers.base import NUM_END, ScoredPatternRecognizer
from detectors.recognizers.cn_resident_id import PROVINCES

REGION_PROVINCES = PROVINCES | {"10"}  # 100000: central government bodies

CHARS = "[0-9A-HJ-NPQRTUWXY]"
# Registration authority (1-9, A-G, Y), organisation type, 6-digit region, 10 more.
CODE = rf"(?<![0-9A-Za-z])[1-9A-GY]{CHARS}\d{{6}}{CHARS}{{10}}" + NUM_END


class CnUsccRecognizer(ScoredPatternRecognizer):
    ENTITY = "CN_USCC"
    PATTERNS = (Pattern("uscc", CODE, 0.85),)
    CONTEXT = (
        "统一社会信用代码",
        "信用代码",
        "社会信用",
        "uscc",
        "税号",
        "纳税人识别号",
        "credit_code",
        "creditcode",
        "tax",
        "营业执照",
        "企业代码",
    )

    def score_match(self, match: re.Match[str], pattern: Pattern, text: str) -> float:
        code = match.group(0)
        if not uscc.is_valid(code) or code[2:4] not in REGION_PROVINCES:
            return 0.0
        return 0.2 if code.isdigit() else pattern.score
