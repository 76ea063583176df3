"""The URL path and host name of a request nothing inspected, fit for a record's clear fields.

A request refused before inspection (body deadline, trailers, smuggling, oversize, an error,
a CONNECT whose inspection failed) is still recorded, and its path and host are written in
clear (``decisions.jsonl``, the incident's metadata). No detector ran on them, so
``redact_record`` has no value to mask. The rule (``proxy.record.routewords``): **a path
segment or host label is kept only when every word of it is an English dictionary word, a
route word or three letters at most, and none is a name; and when the selector finds nothing
in it** (an opaque id, letters and digits in turn, ``C1H9RESGA``, has no words); a host also
keeps its last two labels (the destination) when the selector finds nothing there::

    uninspected_path("/customers/张伟/orders/13912345678", selector)
    # -> '/customers/[withheld]/orders/[withheld]'
    uninspected_path("/u/okonkwo/notes", selector)      # -> '/u/[withheld]/notes'
    uninspected_host("11010519491231002x.example.com", selector)  # -> '[withheld].example.com'

Why a dictionary and not only the name lists (session 21's rule): a name in no list
(``okonkwo``, ``nguyenthanh``) is no dictionary word either. Why not a short route list
(F8's first rule): routes are whatever words their authors chose (``/ldap-hangs``,
``/refused-trailers``), most of them English words. The cost, measured on the URLs of
bench/quality/data/clean (966 paths, API calls and the URLs in their bodies): a path with a
segment withheld 102 -> 445, of which 393 are one GitHub fixture org (``octokit``; 22 -> 53
of the other 573): product names and coined words (``octokit``, ``tqdm``, ``billair``) read
as names would. The selector (``detectors.batch``, hyperscan, microseconds) catches the
numbers, mails and IDs among what is kept. Why not a worker call:
the refusal hooks (``error``) are synchronous, and a refusal may be recorded because the
workers failed. Fail closed: a path that does not decode as UTF-8, or that is still busy once
joined (a value spread over
segments), is withheld whole; so is everything when there is no selector (the detector is
not started yet).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from urllib.parse import unquote

from detectors.batch import SegmentSelector
from proxy.record.routewords import kept_word, load_dictionary

SEGMENT_WITHHELD = "[withheld]"
PATH_UNINSPECTED = "[path withheld: not inspected]"
HOST_UNINSPECTED = "[host withheld: not inspected]"

_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+")  # getUserID: get, User, ID
# An opaque id: letters and digits in turn three times or more (C1H9RESGA, acct_1PgafTB7WZ01);
# no one's name is written so (zhang.wei.1985, alice2 are judged by their words).
_ID = re.compile(r"(?<![A-Za-z0-9])(?=[A-Za-z]*(?:[0-9]+[A-Za-z]+){2}|[0-9]*(?:[A-Za-z]+[0-9]+){2})[A-Za-z0-9]+")


def prepare() -> None:
    """Load the rule's dictionary now (~0.5 s, ~1 MB) rather than in the synchronous hook of
    the first refused request (``proxy.app.run`` calls it at start)."""
    load_dictionary()


def is_route_part(text: str) -> bool:
    """Could this segment or label carry nobody's data? ASCII, and every word of it kept
    (``routewords.kept_word``); an opaque id's letters are no words.

    >>> [is_route_part(t) for t in ("v1", "orders", "SO-1", "张伟", "zhang.wei.1985", "r5-cut")]
    [True, True, True, False, False, True]
    >>> [is_route_part(t) for t in ("okonkwo", "Xochitl", "getUserProfile", "C1H9RESGA")]
    [False, False, True, True]
    """
    return text.isascii() and all(kept_word(w) for w in _WORDS.findall(_ID.sub("", text)))


def uninspected_path(path: str, selector: SegmentSelector | None,
                     opens: Callable[[str], bool] | None = None) -> str:
    """``path`` with every segment the rule does not keep withheld (the module docstring).
    ``opens``: does extraction open a layer in a text (hex, percent again, base64: the proxy
    passes ``workers.probe``'s, which this layer cannot import)? Such a segment is withheld:
    ``/v1/3133383030313338303030`` is 13800138000 in hex, which the selector does not read."""
    if not path.strip("/"):
        return path
    if not _usable(selector):
        return PATH_UNINSPECTED  # nothing can tell a quiet segment here
    assert selector is not None
    segments = path.split("/")
    try:
        texts = [unquote(s, errors="strict") for s in segments]
    except UnicodeDecodeError:  # GB18030 or odd bytes: the detector reads them otherwise
        return PATH_UNINSPECTED
    busy = selector.busy_as_sent(texts)
    kept = [i for i, t in enumerate(texts)
            if i not in busy and is_route_part(t) and not (opens and opens(t))]
    if selector.busy_as_sent(["/".join(texts[i] for i in kept)]):
        return PATH_UNINSPECTED  # a value spread over segments ("/138/0013/8000")
    return "/".join(s if i in kept or not s else SEGMENT_WITHHELD
                    for i, s in enumerate(segments))


def uninspected_host(host: str, selector: SegmentSelector | None,
                     opens: Callable[[str], bool] | None = None) -> str:
    """``host`` with every label the rule does not keep withheld; an IP address as it is;
    ``opens`` as for ``uninspected_path``.

    A host's last two labels are where the request went (``example.com``, ``github.io``),
    which a reviewer needs and the sender chose; names of people ride in the labels before
    them (``11010519491231002x.example.com``, ``zhangwei.github.io``).
    """
    if not host:
        return host
    if not _usable(selector):
        return HOST_UNINSPECTED
    assert selector is not None
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        return host
    labels = host.split(".")
    busy = selector.busy_as_sent(labels)
    last_two = range(max(0, len(labels) - 2), len(labels))
    kept = [i for i, label in enumerate(labels)
            if i not in busy and (i in last_two or is_route_part(label))
            and not (opens and opens(label))]
    if selector.busy_as_sent([".".join(labels[i] for i in kept)]):
        return HOST_UNINSPECTED
    return ".".join(label if i in kept else SEGMENT_WITHHELD for i, label in enumerate(labels))


def _usable(selector: SegmentSelector | None) -> bool:
    return selector is not None and not selector.everything and selector.available
