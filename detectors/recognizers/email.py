"""EMAIL_ADDRESS: e-mail addresses whose domain ends in a public suffix.

    zhang.san@example.com.cn   0.85
    a=x&email=y@z.com          only ``y@z.com`` ('&' and '=' are not in the local part)

The suffix check uses tldextract's bundled Public Suffix List snapshot:
``suffix_list_urls=()`` and no cache directory, so it never touches the network
or the disk (the default fetches the list on first use and hangs offline).
"""

from __future__ import annotations

import re

import tldextract
from presidio_analyzer import Pattern

from detectors.recognizers.base import ScoredPatternRecognizer

SUFFIXES = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)

LOCAL = r"[A-Za-z0-9_%+\-]+(?:\.[A-Za-z0-9_%+\-]+)*"
LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
ADDRESS = (
    rf"(?<![A-Za-z0-9_%+.\-]){LOCAL}@(?:{LABEL}\.)+[A-Za-z][A-Za-z0-9-]{{1,62}}(?![A-Za-z0-9-])"
)


class BaomiEmailRecognizer(ScoredPatternRecognizer):
    ENTITY = "EMAIL_ADDRESS"
    PATTERNS = (Pattern("email", ADDRESS, 0.85),)
    CONTEXT = ("email", "mail", "邮箱", "邮件", "电邮")

    def __init__(self) -> None:
        super().__init__()
        SUFFIXES("example.com")  # builds the suffix trie now, not on the first request

    def validate_result(self, pattern_text: str) -> bool:
        return SUFFIXES(pattern_text.rsplit("@", 1)[1]).suffix != ""

    def score_match(self, match: re.Match[str], pattern: Pattern, text: str) -> float:
        return pattern.score if self.validate_result(match.group(0)) else 0.0
