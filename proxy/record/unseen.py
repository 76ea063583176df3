"""The URL path and host name of a request nothing inspected, fit for a record's clear fields.

A request refused before inspection (body deadline, trailers, smuggling, oversize, an error,
a CONNECT whose inspection failed) is still recorded, and its path and host are written in
clear (``decisions.jsonl``, the incident's metadata). No detector ran on them, so
``redact_record`` has no value to mask. The rule (``proxy.record.routewords``): **a path
segment or host label is withheld when the detector's selector finds something in it, when it
is not ASCII, or when one of its words is a name word (census given names and surnames,
Chinese surnames in pinyin); the rest is kept; a host also keeps its last two labels (the
destination) when the selector finds nothing there**::

    uninspected_path("/customers/张伟/orders/13912345678", selector)
    # -> '/customers/[withheld]/orders/[withheld]'
    uninspected_host("11010519491231002x.example.com", selector)  # -> '[withheld].example.com'

Why withhold name words rather than keep only known route words: a reviewer needs the
route's shape (which endpoint, where to), routes are whatever words their authors chose, and
names are what nothing else here would catch; the selector (``detectors.batch``, hyperscan,
microseconds) catches the numbers, mails and IDs among what is left. Why not a worker call:
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
from proxy.record.routewords import name_word

SEGMENT_WITHHELD = "[withheld]"
PATH_UNINSPECTED = "[path withheld: not inspected]"
HOST_UNINSPECTED = "[host withheld: not inspected]"

_WORDS = re.compile(r"[A-Za-z]+")


def is_route_part(text: str) -> bool:
    """Could this segment or label carry nobody's data? ASCII, and no word of it a name.

    >>> [is_route_part(t) for t in ("v1", "orders", "SO-1", "张伟", "zhang.wei.1985", "r5-cut")]
    [True, True, True, False, False, True]
    """
    return text.isascii() and not any(name_word(w) for w in _WORDS.findall(text))


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
