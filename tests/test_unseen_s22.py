"""Records of uninspected requests: a name in no list is withheld too (session 22, F9).

Session 21's rule withheld a path segment or host label when a word of it was a census name
or a pinyin surname; a name in no list (``/u/okonkwo``, ``/users/nguyenthanh``) was kept as
sent. The rule now keeps a word only when it is an English dictionary word, a route word or
three letters at most (``proxy.record.routewords.kept_word``), and never a name. Records that
tests and reviewers find by their path keep it (``/ldap-hangs``, ``/refused-trailers``).
"""

from __future__ import annotations

import pytest

from detectors.batch import SegmentSelector
from detectors.config import DetectorConfig
from proxy.record.routewords import kept_word
from proxy.record.unseen import SEGMENT_WITHHELD, uninspected_host, uninspected_path

W = SEGMENT_WITHHELD
SELECTOR = SegmentSelector.for_config(DetectorConfig())


@pytest.mark.parametrize("path,expected", [
    ("/u/okonkwo", f"/u/{W}"),  # an Igbo surname in no census list
    ("/users/nguyenthanh/orders", f"/users/{W}/orders"),  # two names run together
    ("/p/Xochitl", f"/p/{W}"),
    ("/u/xiaoming/notes", f"/u/{W}/notes"),  # a pinyin given name alone
    ("/api/customers/okonkwo-adaeze/invoices", f"/api/customers/{W}/invoices"),
    ("/u/Okonkwo1985", f"/u/{W}"),  # a user name: its letters are judged
])
def test_a_name_in_no_list_is_withheld(path, expected):
    assert uninspected_path(path, SELECTOR) == expected


@pytest.mark.parametrize("path", [
    "/ldap-hangs", "/refused-trailers", "/agree/gzip",  # suites find these records by path
    "/v1/orders/SO-1", "/api/v3/userinfo", "/v1/billing.credit_balance_summarys",
    "/archives/C1H9RESGA/threads",  # an opaque id: letters and digits in turn
    "/repos/getUserProfile/search",  # camelCase: get, User, Profile
    "/api/admin.conversations.rename",
])
def test_routes_keep_their_words(path):
    assert uninspected_path(path, SELECTOR) == path


def test_a_host_label_follows_the_same_rule():
    assert uninspected_host("okonkwo.api.example.com", SELECTOR) == f"{W}.api.example.com"
    assert uninspected_host("billing.api.example.com", SELECTOR) == "billing.api.example.com"


@pytest.mark.parametrize("word,kept", [
    ("search", True),  # a rare surname's spelling, a common word (en_surname_words.txt)
    ("grace", False),  # a first name that is a word: still a name
    ("walker", False), ("zhangwei", False),
    ("orders", True), ("api", True), ("tom", False),  # short, but a census first name
])
def test_kept_word(word, kept):
    assert kept_word(word) is kept
