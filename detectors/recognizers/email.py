"""EMAIL_ADDRESS: e-mail addresses whose domain ends in a public suffix.

    zhang.san@example.com.cn                 0.85
    a=x&email=y@z.com                        only ``y@z.com`` ('&' and '=' are not in the local part)
    mailto:zhang.san@example.com             0.85: mailto: names a mailbox
    ?email=zhang.san@example.com             0.85: a mailbox in a URL's query or path

Service addresses are not a customer's mailbox, so they are not reported:

    git@github.com:org/repo.git              scp-like git remote (``host:path`` follows)
    ssh://git@host/repo, https://user@host/  the user part of a URL's authority
    ssh -T git@github.com                    ``git``: the SSH user of a git host
    noreply@github.com, 1+u@users.noreply.github.com, mailer-daemon@...   machine senders

Role mailboxes (``support@``, ``info@``) are kept: they may be a customer company's
contact, and a customer's address is what the policy protects.

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
# "scheme://user@": nothing between :// and the match but RFC 3986 userinfo characters
# (unreserved, %XX, sub-delims but ',' and ';', and ':'); ',', ';', CJK or a space end a
# URL in prose, so "官网http://a.cn，邮箱x@y.com" is a URL, then a mailbox.
URL_USERINFO = re.compile(r"(?i:[a-z][a-z0-9+.-]*)://[A-Za-z0-9\-._~%!$&'()*+=:]*$")
# The address in an authority ends where the URL's host ends: at a path, port, query,
# fragment, the end, a space, a quote or bracket, or sentence punctuation.
HOST_END = re.compile(r"(?:$|[/:?#\s\"'<>()\[\]{},.;!，。；）])")
# "git@host:org/repo(.git)": a colon and an ASCII path right after the host, as scp and git
# write remotes; "a@b.com:13800138000" (a phone) and "a@b.com:VIP/续费" (prose) are no path.
SCP_PATH = re.compile(
    r":(?:[~/]?[\w.~-]+(?:/[\w.~-]+)+/?|[~/][\w.~-]*|[\w.-]+\.git)(?=$|[\s\"'<>),;])",
    re.ASCII,
)
# Only these exact local parts are machines; "git.zhang@", "bounce-alice@" are people.
MACHINE_SENDERS = re.compile(r"(?i)no-?reply|do-?not-?reply|mailer-daemon|postmaster|git")
MACHINE_DOMAIN = re.compile(r"(?i)(?:^|\.)no-?reply\.")
LOOK_BACK = 200  # an authority is shorter than this


def is_service_address(text: str, start: int, end: int) -> bool:
    """An address in a URL's authority or a git remote, or a machine sender's.

    >>> is_service_address("git clone git@github.com:o/r.git", 10, 24)
    True
    >>> is_service_address("mail a.b@example.com: hi", 5, 20)
    False
    >>> is_service_address("详见https://a.cn,contact:li.na@qq.com", 23, 35)
    False
    """
    local, _, domain = text[start:end].rpartition("@")
    if MACHINE_SENDERS.fullmatch(local) or MACHINE_DOMAIN.search(domain):
        return True
    if SCP_PATH.match(text, end):
        return True
    if not HOST_END.match(text, end):
        return False
    return URL_USERINFO.search(text, max(0, start - LOOK_BACK), start) is not None


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
        if is_service_address(text, match.start(), match.end()):
            return 0.0
        return pattern.score if self.validate_result(match.group(0)) else 0.0
