"""Which words of an uninspected request's URL path and host name may be someone's name.

One rule (``proxy.record.unseen``): **a path segment or host label is kept only when every
word of it is an English dictionary word, a route word or three letters at most, and none is
a name** (``kept_word``); the selector withholds what it finds among the rest, a word not
ASCII is withheld (a name in any script). The dictionary is SCOWL's words that are no shipped
name (``detectors/data/en_words.txt`` and ``en_surname_words.txt``), a word of two such
(``userinfo``) or one with an ``s`` (``summarys``) too. A name word is an English given
name or surname of the US Census lists baomi ships (``detectors/data/en_first_names.txt``,
``en_surnames.txt``) or a Chinese surname in pinyin, alone or followed by one or two pinyin
syllables (``zhang``, ``zhangwei``, ``liuxiaoming``); a route word below (what programs put in
URLs: ``orders``, ``page``, ``bill``...) is never one. Why a deny rule and not an allow-list of
route words: routes are any words their authors chose (``/ldap-hangs``, ``/refused-trailers``),
and withholding every unknown word made most records unreadable; names are the class nothing
else catches (the selector finds numbers, mails and IDs). A name in no list (``okonkwo``,
``nguyenthanh``, ``xiaoming``) is no dictionary word either, so it is withheld too; what it
misses: a name of three letters in no list (``/u/fei``), a name that is an English word in
no name list (``/u/dusty``) or two run together.

  >>> [name_word(w) for w in ("alice", "Walker", "zhang", "zhangwei", "orders", "gzip", "page")]
  [True, True, True, True, False, False, False]
  >>> [kept_word(w) for w in ("okonkwo", "nguyenthanh", "ldap", "hangs", "userinfo", "api")]
  [False, False, True, True, True, True]
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from functools import cache
from hashlib import blake2b
from importlib import resources

_WORDS = """
  about access account accounts action actions activate activity add admin after agent
  agents alert alerts all analytics answer answers api apis app apply apps
  archive archives article articles asset assets assistants attachment attachments audio
  audit auth authorize avatar avatars backup backups balance bank banks batch before beta
  big billing bin blob blobs block blog blogs board body bomb book booking bookings books
  branch branches browse bucket buckets build builds bulk cache cached calendar call
  callback calls campaign campaigns cancel card cards cart carts catalog categories category
  cdn chat chats check checkout checks chunk chunked chunks claim claims clean client
  clients close cloud cluster code codes collect collection collections comment comments
  commit commits companies company completions complaint complaints config configs confirm
  connect contact contacts content contents contract contracts conversation conversations
  count coupon coupons create credit credits crm csv customer customers cut dashboard data
  database day debug default delete deliveries delivery deploy detail details dev device
  devices dist doc docs document documents done download downloads draft drafts edit
  email embeddings employee employees end endpoint engine error errors event events
  expect explore export exports extra feed feedback feeds fetch field fields file files
  filter finance find flow flows folder folders follow form forms full gateway generate get
  git gql graph graphql group groups gz healthz held help history home hook hooks hr html
  id ids image images import imports inbox in index info internal invoice invoices issue
  issues item items job jobs js json key keys label labels latest lead leads ledger list
  lists live load local log login logout logs mail main manage manifest map media member
  members message messages metrics mixed mobile model models new news next note notes
  notification notifications notify oauth object objects offer offers ok old only open
  order orders org orgs out over owner owners pack package packages page pages
  partner partners patch path pay payment payments payroll pdf people permissions photo
  photos plan plans play pod policies policy post posts preview price prices private
  product products profile profiles project projects proxy public pull push put query
  queue quote quotes raw read readyz receipt receipts receive record records redirect
  refund refunds register release releases remote remove render repo report reports repos
  request requests reset resource resources response responses rest result results review
  reviews role roles root rpc rule rules run save schema search secure send server
  service services session sessions set settings setup share shipment shipments shop
  sign signin signup silent site sitemap slow small snapshot source spec start stat static
  stats status steady stock storage store stores stream streamed streams submit
  subscription subscriptions summary support sync system table tables tag tags task tasks
  team teams template templates test text thread threads ticket tickets token tokens
  tool tools track tracking transaction transactions transfer transfers trickle trigger
  txt type types ui update updates upload uploads usage user users validate value
  values verify version versions video view views wallet watch web webhook webhooks
  widget widgets wiki work workers workflow workflows write ws www xml zip
  allow allowed bar baz bill bills blocked br change changes chunk deadline deflate demo example fail foo gzip
  health hello large leak limit limits machine machines mask masked multipart oversize pong probe ready
  refuse refused sample sink timeout world zstd
  css favicon gist gists github href ldap longpoll navbar onboarding permalink polyfill polyfills
  line prefs readme rename sha slowloris svg unarchive webp woff woff2
"""
ROUTE_WORDS = frozenset(_WORDS.split())  # prose above: easy to read and extend


# Common Chinese surnames in pinyin (the hundred most frequent, as pinyin without tones; lv
# for lü). A word that is one, or one followed by one or two syllables, reads as a name.
_SURNAMES = """
  an bai bao cai cao chang chen cheng cui dai deng ding dong du duan fan fang feng fu gao ge
  gong gu guo han hao he hong hou hu hua huang jia jiang jin kang kong lai lei li liang liao
  lin liu long lu luo lv ma mao meng mo niu pan peng qian qiao qin qiu ren shao shen shi
  song su sun tan tang tao tian wan wang wei wen wu xia xiang xiao xie xiong xu xue yan yang
  yao ye yi yin yu yuan zeng zhang zhao zheng zhong zhou zhu zou
"""
# Any pinyin syllable (a superset: initials times finals, some never spoken; too wide only
# withholds a word more).
_SYLLABLE = (r"(?:zh|ch|sh|[bpmfdtnlgkhjqxrzcsyw])?"
             r"(?:iang|iong|uang|ang|eng|ing|ong|ian|iao|uai|uan|ai|ei|ao|ou|an|en|in|un|er"
             r"|ia|ie|iu|ua|uo|ui|ue|a|o|e|i|u|v)")
_PINYIN_NAME = re.compile(
    rf"(?:{'|'.join(sorted(_SURNAMES.split(), key=len, reverse=True))})(?:{_SYLLABLE}){{0,2}}")


@cache
def _census_names() -> frozenset[str]:
    """English given names and surnames baomi's detectors ship, lower case."""
    data = resources.files("detectors").joinpath("data")
    words: set[str] = set()
    for name in ("en_first_names.txt", "en_surnames.txt"):
        text = data.joinpath(name).read_text("utf-8")
        words.update(line.strip().lower() for line in text.splitlines()
                     if line.strip() and not line.startswith("#"))
    return frozenset(words)


class HashedWords:
    """A set of words held as a sorted array of their 64-bit BLAKE2b hashes: ~0.5 MB for the
    62,000 dictionary words where a frozenset of str takes ~8 MB in each proxy process (a
    false match needs a 64-bit collision).

    >>> words = HashedWords(["orders", "search"])
    >>> ("search" in words, "okonkwo" in words)
    (True, False)
    """

    def __init__(self, words: Iterable[str]):
        self._hashes = array("Q", sorted({_hash(w) for w in words}))

    def __contains__(self, word: str) -> bool:
        h = _hash(word)
        i = bisect_left(self._hashes, h)
        return i < len(self._hashes) and self._hashes[i] == h


def _hash(word: str) -> int:
    return int.from_bytes(blake2b(word.encode(), digest_size=8).digest(), "little")


@cache
def load_dictionary() -> HashedWords:
    """SCOWL's English words of 4+ letters that are no shipped name, lower case: en_words.txt
    (no census surname or first name) and en_surname_words.txt (a rare surname's spelling)."""
    data = resources.files("detectors").joinpath("data")
    return HashedWords(line for name in ("en_words.txt", "en_surname_words.txt")
                       for line in data.joinpath(name).read_text("utf-8").splitlines()
                       if line and not line.startswith("#"))


def _plain(low: str) -> bool:
    """A route word, or a dictionary word that is no name."""
    return low in ROUTE_WORDS or (not name_word(low) and low in load_dictionary())


def kept_word(word: str) -> bool:
    """May this word of a path segment or host label be written in clear? A route word; else
    no name word, and three letters at most, a dictionary word, one with an ``s`` added, or
    two route or dictionary words run together (``userinfo``; not ``dramacat``: the
    dictionary has no word of three letters)."""
    low = word.lower()
    if low in ROUTE_WORDS:
        return True
    if name_word(low):
        return False
    if len(low) <= 3 or low in load_dictionary() or _plain(low.removesuffix("s")):
        return True
    return any(_plain(low[:i]) and _plain(low[i:]) for i in range(3, len(low) - 2))


def name_word(word: str) -> bool:
    """Could this ASCII word be someone's name (see the module docstring)?"""
    low = word.lower()
    if low in ROUTE_WORDS:
        return False
    census = len(low) > 2 and low in _census_names()  # not do, so, le: route-ish words
    return census or _PINYIN_NAME.fullmatch(low) is not None
