"""IP_ADDRESS: IPv4 and IPv6 addresses.

203.0.113.7 / 2001:db8::8a2e:370:7334      0.6
10.0.0.1 / 127.0.0.1 / fe80::1             0.4 (private, loopback, link-local)
0.0.0.0, "::", v1.2.3.4, version 1.2.3.4, 1.3.6.1.4.1   not reported
{"app_version": "2.18.15.20"}, "deployed 11.8.2.9"       not reported (a version)
"""

from __future__ import annotations

import ipaddress
import re

from presidio_analyzer import Pattern

from detectors.recognizers.base import ScoredPatternRecognizer

OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
IPV4 = rf"(?<![0-9A-Za-z.]){OCTET}(?:\.{OCTET}){{3}}(?![0-9A-Za-z]|\.\d)"
# Candidates only; ipaddress decides. At least two colons, hex groups.
IPV6 = r"(?<![0-9A-Za-z:.])(?:[0-9A-Fa-f]{1,4}:|::?)(?:[0-9A-Fa-f]{0,4}:){1,7}[0-9A-Fa-f]{1,4}(?![0-9A-Za-z:])"
VERSION_WORDS = re.compile(
    r"(?:(?<![A-Za-z])v|(?<![A-Za-z])ver\.?|version|版本|版本号|deployed|deploy|release|build|"
    r"upgraded? to|升级到|发布)\s*[:：]?\s*$",
    re.IGNORECASE,
)
VERSION_FIELDS = frozenset(["version", "ver", "build", "release", "版本", "版本号"])
# Addresses that name no host; skipped values, not binds.
UNREPORTED = {ipaddress.ip_address("0.0.0.0"), ipaddress.ip_address("255.255.255.255")}  # noqa: S104


class BaomiIpRecognizer(ScoredPatternRecognizer):
    ENTITY = "IP_ADDRESS"
    PATTERNS = (Pattern("ipv4", IPV4, 0.6), Pattern("ipv6", IPV6, 0.6))
    CONTEXT = ("ip", "ipv4", "ipv6", "ip地址", "client_addr", "remote_addr")

    def enhance_using_context(
        self,
        text,
        raw_recognizer_results,
        other_raw_recognizer_results,
        nlp_artifacts,
        context=None,
    ):
        """A dotted number under a version field ({"app_version": "2.18.15.20"}) is a version."""
        if VERSION_FIELDS.intersection(word.lower() for word in context or []):
            for result in raw_recognizer_results:
                result.score = 0.0
        return raw_recognizer_results

    def score_match(self, match: re.Match[str], pattern: Pattern, text: str) -> float:
        try:
            address = ipaddress.ip_address(match.group(0))
        except ValueError:
            return 0.0
        if address in UNREPORTED or address.is_unspecified:
            return 0.0
        if VERSION_WORDS.search(text, max(0, match.start() - 12), match.start()):
            return 0.0
        groups = [g for g in match.group(0).split(":") if g]
        if address.version == 6 and len(groups) < 3:  # "ab::cd", "std::a": code, not hosts
            return 0.0
        private = address.is_private or address.is_loopback or address.is_link_local
        return 0.4 if private else pattern.score
