"""A request as text segments for detection, and the same request with values masked.

    req = RawRequest("POST", "https://api.example.com/u?mobile=13800138000",
                     (("content-type", "application/json"),),
                     b'{"customer":{"phone":"13900139000"}}')
    ex = extract(req, Limits())
    [(s.location, s.text) for s in ex.segments]
      -> [("query:mobile", "13800138000"), ("json:$.customer.phone", "13900139000")]
    ex.rewrite({1: [(0, 11, "139****9000")]}).body
      -> b'{"customer":{"phone":"139****9000"}}'

Pure functions over bytes and headers (no mitmproxy objects), so ``baomi scan`` uses
them too. Bodies are decoded by ``proxy.extraction.decode`` (capped), then split by type:
JSON values, form fields, multipart parts, or the whole text. Each kind of body is a
"view" that knows its segments and how to render itself with edits applied; parts
of the request nobody edited are returned byte-identical.

Binary payloads plug in through ``BINARY_HANDLERS``: a media type -> function returning
a view, chosen by the bytes' magic number (``sniff``) before the declared type:
``proxy.extraction.documents`` (PDF, DOCX, XLSX, ZIP, OLE refused), ``proxy.extraction.archives`` (gzip,
bzip2, xz, tar; 7z/RAR refused), ``proxy.extraction.images`` (text metadata; ``Extraction.images``
counts the images whose pixels went uninspected). Any other binary shows its printable
runs (``body:strings``, ``proxy.extraction.strings``). CSV/TSV
bodies and files become one segment per row (``body:csv:row2``,
``multipart:orders.csv:row2``). Every segment is then searched for encoded layers
(base64, percent, HTML entities, escapes, embedded JSON) by ``proxy.extraction.layers``, each
adding segments such as ``json:$.payload|base64``; ``rewrite`` goes back through them.
"""

from __future__ import annotations

import email.message
import email.parser
import email.utils
import ipaddress
import json
import re
from collections.abc import Callable, Mapping, Sequence, Set
from contextvars import ContextVar
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, cast
from urllib.parse import quote, quote_plus, unquote_to_bytes

from detectors.model import Segment
from proxy.errors import CannotMask, Oversize, Uninspectable
from proxy.extraction import archives, documents, gitpack, grpcwire, images, strings
from proxy.extraction.datanames import (
    any_data_name,
    extension,
    is_data_key,
    is_data_name,
    withheld,
)
from proxy.extraction.decode import (
    Budget,
    TextCodec,
    current_budget,
    decode_content,
    decode_text,
    encode_content,
    header_text,
    parse_content_encoding,
    refuse_overlong,
    spending,
)
from proxy.extraction.fieldwords import words
from proxy.extraction.layers import Edit, Openers, Scope, View, layered
from proxy.extraction.layers import apply_edits as _apply
from proxy.extraction.layers import merge_edits as _merged
from proxy.extraction.limits import Limits

__all__ = [
    "BINARY_HANDLERS",
    "Edit",
    "Extraction",
    "Limits",
    "RawRequest",
    "View",
    "extract",
    "json_step",
    "splice",
    "with_length",
    "words",
]


@dataclass(frozen=True, slots=True, repr=False)
class RawRequest:
    """A request as on the wire: body still content-encoded, header names any case."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    # Every name the destination goes by (CONNECT target, SNI, Host header), inspected as
    # ``host`` segments before baomi resolves or connects to any of them (the proxy and
    # ``baomi scan`` fill it; a caller that leaves it empty inspects no host name).
    hosts: tuple[str, ...] = ()

    def __repr__(self) -> str:  # URL paths, queries and bodies carry personal data
        return (
            f"RawRequest({self.method!r}, {len(self.url)} URL chars, {len(self.body)} body bytes)"
        )

    def header_values(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name]


# media type -> handler(data, label, depth, limits) -> View (BINARY_HANDLERS, at the end).
BinaryHandler = Callable[[bytes, str, int, Limits], View]


def extract(request: RawRequest, limits: Limits) -> Extraction:
    """Segments of ``request``: URL path, query values, then the body's pieces.

    Raises Oversize or Uninspectable when the body cannot be inspected in full.
    """
    with spending(Budget(limits.max_decoded_bytes)) as budget, images.counting() as seen:
        return _extract(request, limits, budget, seen)


def _extract(
    request: RawRequest, limits: Limits, budget: Budget, seen: images.ImageCount
) -> Extraction:
    scope = Scope(_openers(limits), limits.max_depth, budget)
    # The URL view renders a str, not bytes; layered() only passes its result through.
    url = layered(cast(View, _url_view(request.url)), 0, scope)
    if len(request.body) > limits.max_body_bytes:
        raise Oversize(f"body of {len(request.body)} bytes exceeds {limits.max_body_bytes}")
    codings = parse_content_encoding(request.header_values("content-encoding"))
    if len(codings) > limits.max_depth:
        raise Uninspectable(f"{len(codings)} Content-Encoding layers exceed max_depth")
    decoded = (
        decode_content(request.body, codings, limits.max_decoded_bytes) if request.body else None
    )
    body = None
    if decoded and decoded.data:
        budget.spend(len(decoded.data), "the decoded body")
        body = layered(
            _body_view(decoded.data, _content_type(request), len(codings), limits, request),
            len(codings),
            scope,
        )
    headers = layered(cast(View, _HeaderView.of(request.headers)), 0, scope)
    hosts = _host_segments(request)
    return Extraction(
        segments=url.segments + (body.segments if body else ()) + headers.segments + hosts,
        bytes_inspected=len(decoded.data) if decoded else 0,
        images=seen.count,
        _request=request,
        _url=url,
        _body=body,
        _headers=headers,
        _chain=decoded.chain if decoded else (),
    )


@dataclass(frozen=True, slots=True, repr=False)
class Extraction:
    segments: tuple[Segment, ...]
    bytes_inspected: int  # decoded body bytes
    images: int  # images seen (bodies, parts, entries, base64): their pixels went uninspected
    _request: RawRequest
    _url: View  # the URL view (renders a str), with its decoded layers
    _body: View | None
    _headers: View  # custom request headers (renders a tuple of headers)
    _chain: tuple[str, ...]

    def __repr__(self) -> str:
        return f"Extraction({len(self.segments)} segments, {self.bytes_inspected} bytes inspected)"

    def rewrite(self, replacements: Mapping[int, Sequence[Edit]]) -> RawRequest:
        """The request with each segment's edits applied; untouched parts stay byte-identical.

        Overlapping edits are merged (see ``_merged``). Raises CannotMask for edits
        outside their segment or text the original charset cannot carry.
        """
        edits = _edits_per_segment(replacements, self.segments)
        try:
            return self._rewritten(edits)
        except UnicodeEncodeError as exc:
            raise CannotMask(f"masked text cannot be encoded as {exc.encoding}") from exc

    def _rewritten(self, edits: tuple[tuple[Edit, ...], ...]) -> RawRequest:
        n_url = len(self._url.segments)
        n_body = len(self._body.segments) if self._body else 0
        url_edits, body_edits = edits[:n_url], edits[n_url : n_url + n_body]
        n_headers = len(self._headers.segments)
        header_edits = edits[n_url + n_body : n_url + n_body + n_headers]
        if any(edits[n_url + n_body + n_headers :]):
            raise CannotMask("a host name cannot be masked: the request would go elsewhere")
        request = self._request
        url = cast(str, self._url.render(url_edits)) if any(url_edits) else request.url
        headers = request.headers
        if any(header_edits):
            headers = cast(tuple, self._headers.render(header_edits))
        if not any(body_edits):
            return RawRequest(request.method, url, headers, request.body)
        assert self._body is not None  # body edits exist only when the body had segments
        body = encode_content(self._body.render(body_edits), self._chain)
        return RawRequest(request.method, url, with_length(headers, len(body)), body)


def _openers(limits: Limits) -> Openers:
    def document(data: bytes, label: str, depth: int) -> View | None:
        media = sniff(data)
        if media is None or media == archives.GZIP:  # layers open gzip themselves (maskable)
            return None
        if depth > limits.max_depth:
            raise Uninspectable("content nested deeper than max_depth")
        return BINARY_HANDLERS[media](data, label, depth, limits)

    def embedded_json(text: str, codec: TextCodec, prefix: str) -> View | None:
        try:
            return _Json.parse(text, codec, prefix)
        except ValueError:
            return None

    return Openers(document, embedded_json)


# ---------------------------------------------------------------- edits


def _edits_per_segment(
    replacements: Mapping[int, Sequence[Edit]], segments: tuple[Segment, ...]
) -> tuple[tuple[Edit, ...], ...]:
    edits: list[tuple[Edit, ...]] = [()] * len(segments)  # most segments have none
    for index, wanted in replacements.items():
        if not 0 <= index < len(segments):
            raise CannotMask(f"no segment {index} (request has {len(segments)})")
        segment = segments[index]
        edits[index] = _merged(wanted, len(segment.text), segment.location)
    return tuple(edits)


def with_length(headers: tuple[tuple[str, str], ...], length: int) -> tuple[tuple[str, str], ...]:
    """``headers`` with Content-Length (when there is one) set to ``length``: a rewritten
    body's length."""
    return tuple(
        (name, str(length)) if name.lower() == "content-length" else (name, value)
        for name, value in headers
    )


# ---------------------------------------------------------------- headers

# Headers that are not the sender's text: the host (a ``host`` segment of its own) and the
# length (digits mitmproxy checks against the body). Every other header reaches the server
# and its logs, and a hostile sender writes there too (a resident ID in Cookie, User-Agent,
# Authorization: Basic, Origin, If-None-Match, a Content-Type parameter: all forwarded as they
# were until session 22). Proxy-Authorization too: baomi removes it before inspection only
# when its policy's identity reads it (proxy.hook.addon.identity_claims); otherwise mitmproxy
# forwards a plain-HTTP request's to the server (a resident ID in it went out, review s22).
PROTOCOL_HEADERS = frozenset({
    "host", "content-length",
    "content-encoding", "transfer-encoding", "grpc-encoding",  # refused unless known
    "grpc-timeout",  # digits and a unit, or the gRPC server refuses the call
})
# A media type with only a charset or a boundary: what decoding the body reads, nothing more.
_PLAIN_MEDIA = re.compile(
    r"[\w.+-]+/[\w.+-]+(?:\s*;\s*(?:charset|boundary)=(?:\"[ -!#-~]{0,70}\"|[\w'()+,./:=?-]{0,70}))*"
    r"\s*;?\s*", re.IGNORECASE)
# Headers made of product tokens and version numbers: ``Chrome/120.0.0.0`` reads as an IP
# address and would send every browser request to a detector worker. Inspected only when a
# value holds what a version string does not (``versions_only``).
VERSION_HEADERS = frozenset({
    "user-agent", "sec-ch-ua", "sec-ch-ua-full-version", "sec-ch-ua-full-version-list",
    "sec-ch-ua-platform-version", "sec-ch-ua-model", "sec-ch-ua-arch", "sec-ch-ua-bitness",
    "sec-ch-ua-platform", "sec-ch-ua-mobile", "sec-ch-ua-wow64", "sec-ch-ua-form-factors",
})
# A version string: printable ASCII without escapes (``%31``, ``=31``, ``=?utf-8?``, ``&#``)
# or an e-mail's ``@``, no run of 5 digits (spaces and dashes between digits count as none:
# ``138-0013-8000``), no long letter-digit run (base64, hex; 12+ when padded:
# ``AppleWebKit/537`` is a product).
_NOT_VERSIONS = re.compile(
    r"[^ -~]|[%&\\@]|=(?:[0-9A-Fa-f]{2}|\?)|\d(?:[ \-]*\d){4}"
    r"|[A-Za-z0-9+/_-]{12,}={1,2}|[A-Za-z0-9+/_-]{16}")


def versions_only(value: str) -> bool:
    """Nothing but product tokens and versions, nothing an entity could hide in.

    >>> versions_only("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0.0.0")
    True
    >>> versions_only("app/1.0 (id 110105 19491231 002X)"), versions_only("app (138-0013-8000)")
    (False, False)
    >>> versions_only("app/1.0 (Zm9vYmFyYmF6cXV4cXV1eA)"), versions_only("app/一〇")
    (False, False)
    """
    return _NOT_VERSIONS.search(value) is None
# Headers that hold a URL of the page the request came from: only its path and query are the
# sender's text; the scheme and host name a site the browser already reached (an IP address
# there is not customer data, and would be a finding on every request to such a site).
URL_HEADERS = frozenset({"referer"})
_URL_ORIGIN = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)")


def _ip_origin(url: str) -> re.Match[str] | None:
    """The scheme and authority of a URL whose host is an IP address (left out); a host
    name or user info is the sender's text (``https://<resident id>.example/``).

    >>> _ip_origin("https://127.0.0.1:8443/x").group(), _ip_origin("https://a.example/x")
    ('https://127.0.0.1:8443', None)
    """
    match = _URL_ORIGIN.match(url)
    if match is None or "@" in match.group(1):
        return None
    host = match.group(1).rsplit(":", 1)[0] if not match.group(1).endswith("]") else match.group(1)
    return match if _is_ip_literal(host.strip("[]")) or not host else None


@dataclass(frozen=True, slots=True, repr=False)  # holds raw text
class _HeaderView:
    headers: tuple[tuple[str, str], ...]
    inspected: tuple[int, ...]  # indices into headers
    texts: tuple[str, ...]  # their values as a receiver reads them (decode.header_text)
    origins: tuple[str, ...]  # per inspected header, a leading part left out (URL_HEADERS)
    named: frozenset[int] = frozenset()  # inspected headers whose name is data
    reads: tuple[str, ...] = ()  # what the detector reads of each (``_read``), same lengths

    @classmethod
    def of(cls, headers: tuple[tuple[str, str], ...]) -> _HeaderView:
        """Uninspectable when any header holds control characters (NUL ...); folds removed.
        A name that is data (``is_data_name``: ``X-13800138000``) is a segment of its own at
        ``header:{i}`` (its place among the headers), as is its value: never in a location."""
        texts = [header_text(name, value) for name, value in headers]
        origins = [_ip_origin(text) if name.lower() in URL_HEADERS else None
                   for (name, _), text in zip(headers, texts, strict=True)]
        cut = [m.group() if m else "" for m in origins]
        rest = [text[len(c):] for text, c in zip(texts, cut, strict=True)]
        names = [name for name, _ in headers]
        named = frozenset(i for i, name in enumerate(names) if is_data_name(name)) if (
            any_data_name(names)) else frozenset()
        keep = tuple(i for i, (name, _) in enumerate(headers)
                     if _inspected(name.lower(), rest[i]) and (rest[i].strip() or i in named))
        kept = tuple(rest[i] for i in keep)
        return cls(headers, keep, kept, tuple(cut[i] for i in keep), named,
                   tuple(_read(headers[i][0].lower(), text) for i, text in zip(keep, kept,
                                                                              strict=True)))

    @property
    def segments(self) -> tuple[Segment, ...]:
        if not self.named:
            return tuple(
                Segment(text, *_header_place(self.headers[i][0]))
                for i, text in zip(self.inspected, self.reads, strict=True)
            )
        out = []
        for i, text in zip(self.inspected, self.reads, strict=True):
            name = self.headers[i][0]
            if i not in self.named:
                out.append(Segment(text, f"header:{name.lower()}", words(name)))
                continue
            out.append(Segment(name, f"header:{{{i}}}", words(name)))
            if text.strip():
                out.append(Segment(text, f"header:{{{i}}}", words(name)))
        return tuple(out)

    def render(self, edits: tuple[tuple[Edit, ...], ...]) -> tuple[tuple[str, str], ...]:
        """An edited value is written unfolded (RFC 9112 5.2 lets a proxy replace obs-fold).
        A masked name must still be a header name (a token): else CannotMask."""
        out = list(self.headers)
        each = iter(edits)
        for i, origin, text in zip(self.inspected, self.origins, self.texts, strict=True):
            name_edits = next(each) if i in self.named else ()
            segment_edits = next(each) if i not in self.named or text.strip() else ()
            name = out[i][0]
            if name_edits:
                name = _apply(name, name_edits)
                if not _TOKEN.fullmatch(name):
                    raise CannotMask("a masked header name would not be a header name")
            if segment_edits:
                out[i] = (name, origin + _apply(text, segment_edits))
            elif name_edits:
                out[i] = (name, out[i][1])
        return tuple(out)


# Accept: media ranges with q-values (``application/json, text/plain, */*;q=0.8``).
_PLAIN_ACCEPT = re.compile(
    r"(?:[a-z*][\w.+*-]*/[\w.+*-]+(?:\s*;\s*q=[01](?:\.\d{0,3})?)?(?:\s*,\s*|\s*\Z))+",
    re.IGNORECASE)
_PLAIN = {"content-type": _PLAIN_MEDIA, "accept": _PLAIN_ACCEPT}
_DIGIT_RUN = re.compile(r"\d(?:[ \-]*\d){4}")
# The one charset name with a 5-digit run: a plain GB18030 JSON body's type is no text.
_GB18030 = re.compile(r"charset=\"?gb18030\"?", re.IGNORECASE)


# Browser products with a plain version (``Chrome/120.0.0.0``, ``Mobile Safari/537.36``), read
# as blanks in a version header that is inspected (an app's build number, a phone model's
# digits): their versions read as IP addresses and "Mobile Safari" as a person's name, so
# every plain-HTTP request of Android's in-app browsers (WeChat, Baidu) was blocked
# (review s22). Blanks keep every offset, so a mask found in the rest is written into the
# value as sent. Only a version a value cannot run through is blanked: parts of at most 4
# digits and no leading zero (``138.0013.8000`` stays), no digit after it but across a
# separator (``Safari/138 0013 8000`` stays: the mobile begins in the version).
_BROWSER_PRODUCT = re.compile(
    r"(?<![^\s(;,])(?:Mozilla|AppleWebKit|Chrome|(?:Mobile )?Safari|Version|Gecko|Firefox"
    r"|Edg|EdgA|EdgiOS|OPR|CriOS|FxiOS|SamsungBrowser)/(?:0|[1-9]\d{0,3})(?:\.(?:0|[1-9]\d{0,3}))*"
    r"(?![^\s;),])(?![\s;),-]*\d)")


def _read(name: str, text: str) -> str:
    """What the detector reads of an inspected header: ``text``, with a version header's
    browser products blanked (``_BROWSER_PRODUCT``).

    >>> _read("user-agent", "Mozilla/5.0 (Linux; Android 13; 2211133C) Mobile Safari/537.36")
    '            (Linux; Android 13; 2211133C)                     '
    """
    if name not in VERSION_HEADERS:
        return text
    return _BROWSER_PRODUCT.sub(lambda m: " " * len(m.group()), text)


def _inspected(name: str, text: str) -> bool:
    """Is a header's value the sender's text? ``text/plain; id=...`` is (a server reads
    the parameter); a plain media type or Accept list without a 5-digit run is not."""
    if name in PROTOCOL_HEADERS:
        return False
    if (plain := _PLAIN.get(name)) is not None:
        return plain.fullmatch(text) is None or _DIGIT_RUN.search(
            _GB18030.sub("", text) if "18030" in text else text) is not None
    return name not in VERSION_HEADERS or not versions_only(text)


@lru_cache(maxsize=1024)  # a name that is no data: the same few on every request
def _header_place(name: str) -> tuple[str, tuple[str, ...]]:
    """A header's location and context words (``header:x-customer-phone``)."""
    return f"header:{name.lower()}", words(name)


# RFC 9110 5.6.2: a header name is a token.
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


# ---------------------------------------------------------------- URL


def _host_segments(request: RawRequest) -> tuple[Segment, ...]:
    """The destination's names as text (``host``): a name can carry data out by itself,
    through the DNS lookup, before any byte of the request is sent. IP literals carry none."""
    out: list[Segment] = []
    for name in dict.fromkeys(n.strip().rstrip(".") for n in request.hosts):
        if name and not _is_ip_literal(name):
            out.append(Segment(name, "host"))
    return tuple(out)


def _is_ip_literal(name: str) -> bool:
    bare = name.strip("[]")
    if ":" not in bare:  # IPv6 needs a colon: ipaddress's IPv4 rule, without its ValueError
        return _IPV4.fullmatch(bare) is not None
    try:
        ipaddress.ip_address(bare)
    except ValueError:
        return False
    return True


# ipaddress.IPv4Address's syntax: four decimal octets in ASCII, 0-255, no leading zero.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")


@dataclass(frozen=True, slots=True, repr=False)  # holds raw text
class _UrlView:
    head: str  # scheme://authority, kept as is
    path: _PercentText | None
    raw_path: str
    query: _Fields | None
    tail: str  # "#fragment" or ""

    @property
    def segments(self) -> tuple[Segment, ...]:
        path = (Segment(self.path.text, "path"),) if self.path else ()
        return path + (self.query.segments if self.query else ())

    def render(self, edits: tuple[tuple[Edit, ...], ...]) -> str:
        n_path = 1 if self.path else 0
        path = self.path.render(edits[0]) if self.path and edits[0] else self.raw_path
        query = ""
        if self.query is not None:
            query = "?" + self.query.render(edits[n_path:]).decode("utf-8", "surrogateescape")
        return self.head + path + query + self.tail


def _url_view(url: str) -> _UrlView:
    """Split by hand: urlsplit/urlunsplit normalise ("?" alone is dropped), a rewrite must not."""
    path_at = _path_start(url)
    rest, hash_, fragment = url[path_at:].partition("#")
    raw_path, has_query, query = rest.partition("?")
    path = _PercentText.parse(raw_path) if raw_path.strip("/") else None
    fields = _Fields.parse(_wire(query), "query", _decode_url_bytes) if has_query else None
    return _UrlView(url[:path_at], path, raw_path, fields, hash_ + fragment)


def _path_start(url: str) -> int:
    scheme_end = url.find("://")
    if scheme_end < 0 or not url[:scheme_end].isalpha():
        return 0
    ends = [i for i in (url.find(c, scheme_end + 3) for c in "/?#") if i >= 0]
    return min(ends, default=len(url))


def _wire(text: str) -> bytes:
    """A URL string back to its bytes (mitmproxy keeps undecodable bytes as surrogates)."""
    return text.encode("utf-8", "surrogateescape")


# Bytes in a URL that are neither UTF-8 nor GB18030 are shown as Latin-1 rather than
# refused: digits and letters stay visible to the detectors, and odd tokens are common.
_URL_CHARSETS = ("utf-8", "gb18030", "latin-1")


def _decode_url_bytes(data: bytes) -> tuple[str, TextCodec]:
    """Every charset here is stateless, so each character has fixed bytes. Overlong UTF-8
    (``%C0%B3`` for "3") is refused: GB18030 would read it as other characters and hide the
    digits a lenient receiver sees (Uninspectable)."""
    refuse_overlong(data)
    for name in _URL_CHARSETS:
        try:
            text = data.decode(name)
        except UnicodeDecodeError:
            continue
        if text.encode(name) == data:
            return text, TextCodec(name)
    raise AssertionError("latin-1 decodes and re-encodes any bytes")


@dataclass(frozen=True, slots=True, repr=False)  # holds raw text
class _PercentText:
    """A percent-encoded path, decoded, with each character's place in the raw bytes."""

    raw: bytes
    text: str
    starts: tuple[int, ...]  # raw offset of each character, plus len(raw) at the end
    codec: TextCodec

    @staticmethod
    def parse(raw_path: str) -> _PercentText:
        raw = _wire(raw_path)
        if "%" not in raw_path and raw_path.isascii():  # most paths: each byte a character
            return _PercentText(raw, raw_path, tuple(range(len(raw) + 1)), TextCodec("utf-8"))
        data, origin = bytearray(), []  # decoded bytes, and where each one starts in raw
        i = 0
        while i < len(raw):
            escaped = raw[i] == 0x25 and re.fullmatch(rb"[0-9A-Fa-f]{2}", raw[i + 1 : i + 3])
            data.append(int(raw[i + 1 : i + 3], 16) if escaped else raw[i])
            origin.append(i)
            i += 3 if escaped else 1
        text, codec = _decode_url_bytes(bytes(data))
        starts, at = [], 0
        for char in text:
            starts.append(origin[at])
            at += len(codec.encode(char))
        return _PercentText(raw, text, tuple(starts) + (len(raw),), codec)

    def render(self, edits: tuple[Edit, ...]) -> str:
        out, pos = [], 0
        for start, end, replacement in edits:
            out += [
                self.raw[pos : self.starts[start]],
                quote(self.codec.encode(replacement), safe="*").encode(),
            ]
            pos = self.starts[end]
        out.append(self.raw[pos:])
        return b"".join(out).decode("utf-8", "surrogateescape")


# ---------------------------------------------------------------- urlencoded fields


@dataclass(frozen=True, slots=True, repr=False)  # holds raw text
class _Field:
    raw: bytes  # "name=value" exactly as sent
    name: str
    value: str
    codec: TextCodec
    bare: bool  # no "=": the whole field is a value
    name_codec: TextCodec | None = None  # set when the name is data (``is_data_name``)


@dataclass(frozen=True, slots=True, repr=False)  # holds raw text
class _Fields:
    """``a=1&b=2`` (query strings and urlencoded forms), split before any detection:
    detecting over the joined string lets the email pattern swallow ``&`` and ``=``.

    A name that may be data itself (``is_data_name``: ``13800138000=1``) is a segment of its
    own and never part of a location (records log locations): the field is ``form:{i}``
    (its place in the body), for its name and its value alike, and a masked name is written
    back percent-encoded like a value. Its words are the context of both (``tel_138...``).

    >>> [(s.location, s.text) for s in _Fields.parse(
    ...     b"13800138000=1&note=hi", "form", _decode_url_bytes).segments]
    [('form:{0}', '13800138000'), ('form:{0}', '1'), ('form:note', 'hi')]
    """

    fields: tuple[_Field, ...]
    prefix: str  # "query" | "form"
    named: bool = False  # some field's name is data

    @staticmethod
    def parse(
        data: bytes, prefix: str, decode: Callable[[bytes], tuple[str, TextCodec]]
    ) -> _Fields:
        fields = []
        codecs = []
        for raw in data.split(b"&"):
            name, eq, value = raw.partition(b"=")
            bare = not eq
            name_text, name_codec = decode(_unplus(b"" if bare else name))
            value_text, codec = decode(_unplus(name if bare else value))
            fields.append(_Field(raw, name_text, value_text, codec, bare))
            codecs.append(name_codec)
        if not any_data_name([f.name for f in fields]):  # one screen for all names
            return _Fields(tuple(fields), prefix)
        return _Fields(tuple(replace(f, name_codec=c) if is_data_name(f.name) else f
                             for f, c in zip(fields, codecs, strict=True)), prefix, True)

    @property
    def segments(self) -> tuple[Segment, ...]:
        prefix = self.prefix
        if not self.named:
            return tuple(Segment(f.value, f"{prefix}:{f.name}", words(f.name))
                         for f in self.fields if f.value)
        out = []
        for i, f in enumerate(self.fields):
            if f.name_codec is None:
                if f.value:
                    out.append(Segment(f.value, f"{prefix}:{f.name}", words(f.name)))
                continue
            here = f"{prefix}:{{{i}}}"
            out.append(Segment(f.name, here, words(f.name)))
            if f.value:
                out.append(Segment(f.value, here, words(f.name)))
        return tuple(out)

    def render(self, edits: tuple[tuple[Edit, ...], ...]) -> bytes:
        each = iter(edits)
        return b"&".join(
            self._render_field(f, next(each) if f.name_codec else (),
                               next(each) if f.value else ())
            for f in self.fields
        )

    @staticmethod
    def _render_field(
        field: _Field, name_edits: tuple[Edit, ...], edits: tuple[Edit, ...]
    ) -> bytes:
        if not edits and not name_edits:
            return field.raw
        name, _, value = field.raw.partition(b"=")
        if edits:
            value = quote_plus(field.codec.encode(_apply(field.value, edits)), safe="*").encode()
        if field.bare:
            return value
        if name_edits and field.name_codec is not None:
            name = quote_plus(field.name_codec.encode(_apply(field.name, name_edits)),
                              safe="*").encode()
        return name + b"=" + value


def _unplus(data: bytes) -> bytes:
    return unquote_to_bytes(data.replace(b"+", b" "))


# ---------------------------------------------------------------- whole text


@dataclass(frozen=True, slots=True, repr=False)  # holds raw text
class _Text:
    text: str
    codec: TextCodec
    location: str
    context: tuple[str, ...] = ()

    @property
    def segments(self) -> tuple[Segment, ...]:
        return (Segment(self.text, self.location, self.context),)

    def render(self, edits: tuple[tuple[Edit, ...], ...]) -> bytes:
        return self.codec.encode(_apply(self.text, edits[0]))


# ---------------------------------------------------------------- JSON

_JSON_NESTING = 512  # deeper documents are refused rather than risk a RecursionError mid-walk
_PLAIN_KEY = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*\Z")
_ID_NUMBER = re.compile(r"-?\d{6,}\Z")


class _Number(str):
    """A JSON number kept as its text, so a rewrite writes it back unchanged."""


class _Object(tuple):
    """A JSON object as its (key, value) pairs: duplicates and order survive."""


@dataclass(frozen=True, slots=True, repr=False)  # holds raw text
class _Json:
    """A parsed JSON document. Segments are its leaves in document order, so leaf ``i``
    is ``segments[i]``. Rendering writes each edited leaf over its own token in ``text``
    and keeps every other character (``_spliced``)."""

    root: object
    segments: tuple[Segment, ...]
    codec: TextCodec
    text: str  # the document as parsed

    @staticmethod
    def parse(text: str, codec: TextCodec, prefix: str) -> _Json:
        """Raises ValueError (incl. JSONDecodeError) if ``text`` is not JSON we can walk."""
        try:
            root = json.loads(
                text,
                object_pairs_hook=_Object,
                parse_int=_Number,
                parse_float=_Number,
                parse_constant=_Number,
            )
        except RecursionError as exc:
            raise ValueError("JSON nested too deeply") from exc
        segments: list[Segment] = []
        _walk(root, prefix + "$", (), segments, 0)
        return _Json(root, tuple(segments), codec, text)

    def render(self, edits: tuple[tuple[Edit, ...], ...]) -> bytes:
        new = {
            i: _apply(segment.text, e)
            for i, (segment, e) in enumerate(zip(self.segments, edits, strict=True))
            if e
        }
        spliced = _spliced(self.text, self.segments, new)
        if spliced is not None:
            return self.codec.encode(spliced)
        writer = _JsonWriter(new)  # the tokens did not line up with the walk: re-encode
        writer.write(self.root)
        return self.codec.encode("".join(writer.out))


def _spliced(text: str, segments: tuple[Segment, ...], new: Mapping[int, str]) -> str | None:
    """``text`` with each edited leaf's token replaced by a JSON string of its new value,
    every other character kept; None when the tokens cannot be shown to line up with the
    parsed walk: then the caller re-encodes the whole document, as before splicing existed.

    Byte-identical output for unedited parts (whitespace, key order, duplicate keys, escapes,
    number spelling); an edited leaf's token is rewritten whole (its escapes normalised), and
    a masked number becomes a string, as the re-encoding did.
    """
    spans = _quick_spans(text, segments, new) if "\\" not in text else None
    if spans is None:
        spans = _scanned_spans(text, segments, new)
    if spans is None:
        return None
    return splice(text, [(spans[i], new[i]) for i in sorted(new)])


def splice(text: str, edits: Sequence[tuple[tuple[int, int], str]]) -> str:
    """``text`` with each token span, in order and apart, replaced by a JSON string of its
    new value (the one way a masked JSON leaf is written, here and in proxy.workers.rawjson).

    >>> splice('{"tel": "13800138000", "n": 1}', [((8, 21), "138****8000")])
    '{"tel": "138****8000", "n": 1}'
    """
    out, at = [], 0
    for (start, end), value in edits:
        out += [text[at:start], _string(value)]
        at = end
    out.append(text[at:])
    return "".join(out)


def _quick_spans(
    text: str, segments: tuple[Segment, ...], new: Mapping[int, str]
) -> dict[int, tuple[int, int]] | None:
    """Each edited leaf's token, found by its value; for a text with no backslash.

    Without a backslash no quote is escaped, so every ``"`` delimits a string: one split at
    the quotes gives every string token. Leaves keep document order, so the r-th segment
    with a given text is the r-th leaf token with that text, provided both counts agree (a
    number leaf with the same digits makes them differ: None, and ``_scanned_spans`` decides).
    One pass over the text and one over the segments, however many leaves are edited or
    share a value (a list of 1,000 equal masked phones is common).
    """
    wanted = {segments[i].text for i in new}
    tokens = _string_leaves(text, wanted)
    same: dict[str, list[int]] = {}
    for j, segment in enumerate(segments):
        if segment.text in wanted:
            same.setdefault(segment.text, []).append(j)
    spans: dict[int, tuple[int, int]] = {}
    for value, indices in same.items():
        found = tokens.get(value, [])
        if len(found) != len(indices):
            return None
        spans.update((j, span) for j, span in zip(indices, found, strict=True) if j in new)
    return spans


_COLON = re.compile(r"[ \t\n\r]*:")


def _string_leaves(text: str, values: Set[str]) -> dict[str, list[tuple[int, int]]]:
    """Spans, by value, of the string tokens holding one of ``values`` that ``_walk`` makes
    segments of (values; keys only when they are data), in a ``text`` without backslashes.

    >>> _string_leaves('{"a": "a", "x": ["a"], "y": "ba", "13800138000": 1}', {"a", "13800138000"})
    {'a': [(6, 9), (17, 20)], '13800138000': [(34, 47)]}
    """
    spans: dict[str, list[tuple[int, int]]] = {}
    parts = text.split('"')
    at = 0  # where parts[k] starts in text
    for k, part in enumerate(parts):
        # odd parts lie between an opening and a closing quote; a last odd part has no
        # closing quote (not JSON: the walk would not have parsed it)
        if k % 2 and k < len(parts) - 1 and part in values:
            end = at + len(part) + 1
            key = _COLON.match(text, end) is not None
            if is_data_key(part) if key else part:
                spans.setdefault(part, []).append((at - 1, end))
        at += len(part) + 1
    return spans


# A JSON string or number token (as Python's json module reads them); a string followed by
# ":" is a key. Outside strings JSON has no '"' and no digit but in numbers, so scanning
# left to right meets exactly the document's string and number tokens, in document order.
_JSON_TOKEN = re.compile(
    r'("[^"\\]*(?:\\.[^"\\]*)*")([ \t\n\r]*:)?'
    r"|(-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?|NaN|-?Infinity)",
    re.DOTALL,
)


def _scanned_spans(
    text: str, segments: tuple[Segment, ...], new: Mapping[int, str]
) -> dict[int, tuple[int, int]] | None:
    """Each edited leaf's token from a scan of every token, or None unless the scan's leaves
    match the walk's one for one (count and every value)."""
    leaves = _leaf_tokens(text)
    if len(leaves) != len(segments) or any(
        value != segment.text for (_, _, value), segment in zip(leaves, segments, strict=True)
    ):
        return None
    return {i: leaves[i][:2] for i in new}


def _leaf_tokens(text: str) -> list[tuple[int, int, str]]:
    """(start, end, value) of each token ``_walk`` makes a segment of, in document order:
    non-empty string values, keys that are data, numbers of 6+ digits.

    >>> _leaf_tokens('{"tel": "138", "n": 1234567, "": ""}')
    [(8, 13, '138'), (20, 27, '1234567')]
    """
    leaves = []
    for match in _JSON_TOKEN.finditer(text):
        string, colon, number = match.groups()
        if string is None:
            if _ID_NUMBER.match(number):
                leaves.append((match.start(), match.end(), number))
            continue
        value = string[1:-1] if "\\" not in string else json.loads(string)
        if is_data_key(value) if colon is not None else value:
            leaves.append((match.start(), match.start() + len(string), value))
    return leaves


def _is_leaf_string(node: object) -> bool:
    return type(node) is str and node != ""


def _is_id_number(node: object) -> bool:
    """Integers of 6+ digits: IDs and phones are often sent as numbers."""
    return type(node) is _Number and _ID_NUMBER.match(node) is not None


def _walk(  # node: Any, as json.loads returns it (checked with ``type(...) is``)
    node: Any, path: str, context: tuple[str, ...], out: list[Segment], depth: int
) -> None:
    """Append the leaves of ``node`` (``_is_leaf_string``, ``_is_id_number``) as segments.

    Scalars inside containers are handled in the loops, without a call each: most nodes
    of an API document are scalars, and the walk runs on every extracted JSON body.
    """
    kind = type(node)
    if kind is str:
        if node:
            out.append(Segment(node, path, context))
    elif kind is _Number:
        if _ID_NUMBER.match(node):
            out.append(Segment(str(node), path, context))
    elif kind is _Object:
        if depth >= _JSON_NESTING:
            raise ValueError("JSON nested too deeply")
        for i, (key, value) in enumerate(node):
            step = _STEPS.get(key) or _step(key)
            if step is None:
                # The key is data: never put it in a location (records log locations). Its
                # words stay in the context (detection only, never recorded): 姓名 still
                # names what it holds.
                here = f"{path}{{{i}}}"
                out.append(Segment(key, here, context))
                _walk(value, here, context + words(key), out, depth + 1)
                continue
            inner = type(value)
            if inner is str:
                if value:
                    out.append(Segment(value, path + step[0], context + step[1]))
            elif inner is _Number:
                if _ID_NUMBER.match(value):
                    out.append(Segment(str(value), path + step[0], context + step[1]))
            elif inner is _Object or inner is list:
                _walk(value, path + step[0], context + step[1], out, depth + 1)
    elif kind is list:
        if depth >= _JSON_NESTING:
            raise ValueError("JSON nested too deeply")
        for i, value in enumerate(node):
            if type(value) is str:
                if value:
                    out.append(Segment(value, f"{path}[{i}]", context))
            else:
                _walk(value, f"{path}[{i}]", context, out, depth + 1)


# key -> (path step, key words), for keys that are not data only: a key that is a phone
# number or an email is never kept. Cleared when full (the same keys repeat in every
# record of a list, and across requests to one API).
_STEPS: dict[str, tuple[str, tuple[str, ...]]] = {}
_STEPS_MAX = 4096


def json_step(key: str) -> tuple[str, tuple[str, ...]] | None:
    """The location step and context words of a member under ``key``, as ``extract`` names
    it; None when the key is itself data (then the walk writes ``{i}``).

    >>> json_step("customerPhone"), json_step("odd key"), json_step("13800138000")
    (('.customerPhone', ('customer', 'phone')), ("['odd key']", ('odd', 'key')), None)
    """
    return _STEPS.get(key) or _step(key)


def _step(key: str) -> tuple[str, tuple[str, ...]] | None:
    """``_key_step(key)``, kept in ``_STEPS``; None when the key is itself data."""
    if is_data_key(key):
        return None
    if len(_STEPS) >= _STEPS_MAX:
        _STEPS.clear()
    step = _STEPS[key] = _key_step(key)
    return step


def _key_step(key: str) -> tuple[str, tuple[str, ...]]:
    """``.key`` or ``['odd key']``, and the key's words."""
    if _PLAIN_KEY.match(key):
        return "." + key, words(key)
    return "['" + key.replace("\\", "\\\\").replace("'", "\\'") + "']", words(key)


class _JsonWriter:
    """Compact JSON, non-ASCII kept as is; a masked number becomes a string.

    Visits leaves in the same order as ``_walk`` and counts them to find the edits.
    """

    def __init__(self, new: dict[int, str]):
        self.new = new
        self.out: list[str] = []
        self.leaf = 0

    def _masked(self) -> str | None:
        self.leaf += 1
        return self.new.get(self.leaf - 1)

    def write(self, node: object) -> None:
        if _is_leaf_string(node) or _is_id_number(node):
            masked = self._masked()
            self.out.append(_string(masked) if masked is not None else _scalar(node))
        elif type(node) is _Object:
            self.out.append("{")
            for i, (key, value) in enumerate(node):
                masked = self._masked() if is_data_key(key) else None
                self.out += ["," if i else "", _string(key if masked is None else masked), ":"]
                self.write(value)
            self.out.append("}")
        elif type(node) is list:
            self.out.append("[")
            for i, value in enumerate(node):
                if i:
                    self.out.append(",")
                self.write(value)
            self.out.append("]")
        else:
            self.out.append(_scalar(node))


def _scalar(node: object) -> str:
    if type(node) is _Number:
        return node  # its original text
    if type(node) is str:
        return _string(node)
    return json.dumps(node)  # true, false, null


_string = json.encoder.encode_basestring  # C-accelerated, keeps non-ASCII


# ---------------------------------------------------------------- multipart

_BLANK = re.compile(rb"\s*\Z")
_TEXT_EXTENSIONS = {
    "csv",
    "tsv",
    "txt",
    "json",
    "xml",
    "log",
    "md",
    "sql",
    "ndjson",
    "jsonl",
    "tab",
    "yaml",
    "yml",
}


@dataclass(frozen=True, slots=True, repr=False)  # holds raw text
class _Multipart:
    """Parts between boundaries. ``frame`` is every byte that is not part content
    (delimiters, part headers), so unedited parts come back byte-identical."""

    frame: tuple[bytes, ...]  # len(contents) + 1 pieces around the contents
    contents: tuple[bytes, ...]
    views: tuple[View | None, ...]  # per part; None for an empty part

    @property
    def segments(self) -> tuple[Segment, ...]:
        return tuple(s for v in self.views if v for s in v.segments)

    def render(self, edits: tuple[tuple[Edit, ...], ...]) -> bytes:
        out, at = [self.frame[0]], 0
        for content, view, piece in zip(self.contents, self.views, self.frame[1:], strict=True):
            mine = edits[at : at + len(view.segments)] if view else ()
            at += len(mine)
            out += [view.render(mine) if view and any(mine) else content, piece]
        return b"".join(out)


def _multipart(data: bytes, boundary: str | None, depth: int, limits: Limits) -> _Multipart:
    if not boundary:
        raise Uninspectable("multipart body without a boundary")
    delimiter = re.compile(
        rb"(?:\A|\r?\n)--" + re.escape(_wire(boundary)) + rb"(--)?[ \t]*(?:\r?\n|\Z)"
    )
    frame: list[bytes] = []
    contents: list[bytes] = []
    views: list[View | None] = []
    at, last = 0, None
    for match in delimiter.finditer(data):
        if last is None and not _BLANK.match(data[: match.start()]):
            raise Uninspectable("multipart body with text before the first boundary")
        if last is not None:
            head_end, body_start = _part_head(data, last.end(), match.start())
            headers = _part_headers(data[last.end() : head_end])
            contents.append(data[body_start : match.start()])
            frame.append(data[at:body_start])
            views.append(_part_view(headers, contents[-1], len(views), depth, limits))
            at = match.start()
        last = match
        if match.group(1):
            break
    if last is None or not last.group(1):
        raise Uninspectable("multipart body without its closing boundary")
    if not _BLANK.match(data[last.end() :]):
        raise Uninspectable("multipart body with text after the closing boundary")
    frame.append(data[at:])
    return _Multipart(tuple(frame), tuple(contents), tuple(views))


def _part_head(data: bytes, start: int, end: int) -> tuple[int, int]:
    """Where a part's headers end and its content starts (a blank line between them)."""
    if data.startswith(b"\r\n", start) or data.startswith(b"\n", start):
        return start, start + (2 if data[start] == 13 else 1)
    for blank in (b"\r\n\r\n", b"\n\n"):
        found = data.find(blank, start, end)
        if found >= 0:
            return found, found + len(blank)
    raise Uninspectable("multipart part without a blank line after its headers")


def _part_headers(raw: bytes) -> email.message.Message:
    # Browsers send file names as raw UTF-8 in the header; decode before parsing.
    text, _ = _decode_url_bytes(raw)
    return email.parser.HeaderParser().parsestr(text)


def _part_view(
    headers: email.message.Message, content: bytes, index: int, depth: int, limits: Limits
) -> View | None:
    transfer = (headers.get("content-transfer-encoding") or "binary").strip().lower()
    if content and transfer not in ("binary", "7bit", "8bit"):
        raise Uninspectable("multipart part with a Content-Transfer-Encoding")
    name = headers.get_param("name", header="content-disposition")
    name = email.utils.collapse_rfc2231_value(name) if name else f"#{index}"
    filename = headers.get_filename()
    shown = filename if filename is not None else name
    if not withheld(shown, filename is not None):
        return _part_content(headers, content, f"multipart:{shown}", name, filename, depth,
                             limits)
    label = f"multipart:{{{index}}}{extension(shown) if filename is not None else ''}"
    view = _part_content(headers, content, label, name, filename, depth, limits)
    return _NamedPart(Segment(shown, label, words(name)), view)


def _part_content(
    headers: email.message.Message, content: bytes, label: str, name: str,
    filename: str | None, depth: int, limits: Limits,
) -> View | None:
    if not content:
        return None
    media = headers.get_content_type() if headers.get("content-type") else None
    charset = headers.get_content_charset()
    if filename is None and not _is_json(media) and sniff(content) is None:
        try:
            text, codec = decode_text(content, charset)
        except Uninspectable:
            return strings.strings_view(content, label, limits.max_decoded_bytes)
        if _looks_binary(text):
            return strings.strings_view(content, label, limits.max_decoded_bytes)
        return _Text(text, codec, label, words(name))
    return _payload_view(
        content, media, charset, label + ":", label, words(name), depth + 1, limits, filename
    )


@dataclass(frozen=True, slots=True, repr=False)  # holds raw text
class _NamedPart:
    """A part whose name or file name is withheld from its location (``_withheld``): the
    name is inspected as a segment of its own, then the content's segments. The name is in
    the part's headers, which are sent as they came: masking it raises CannotMask (block)."""

    name: Segment
    view: View | None  # None for an empty part

    @property
    def segments(self) -> tuple[Segment, ...]:
        return (self.name,) + (self.view.segments if self.view else ())

    def render(self, edits: tuple[tuple[Edit, ...], ...]) -> bytes:
        if edits[0] or self.view is None:
            raise CannotMask("a multipart part's name cannot be masked, only blocked")
        return self.view.render(edits[1:])


# ---------------------------------------------------------------- body dispatch


@dataclass(frozen=True, slots=True)
class _ContentType:
    media: str | None  # "application/json"; None when the header is missing
    charset: str | None
    boundary: str | None


def _content_type(request: RawRequest) -> _ContentType:
    values = set(request.header_values("content-type"))
    if len(values) > 1:  # servers disagree on which one wins: inspect neither
        raise Uninspectable("conflicting Content-Type headers")
    if not values:
        return _ContentType(None, None, None)
    header = email.message.Message()
    header["content-type"] = values.pop()
    media = header.get("content-type", "").split(";")[0].strip().lower() or None
    boundary = header.get_param("boundary")
    boundary = email.utils.collapse_rfc2231_value(boundary) if boundary else None
    return _ContentType(media, header.get_content_charset(), boundary)


def _is_json(media: str | None) -> bool:
    return media in ("application/json", "text/json") or bool(media and media.endswith("+json"))


def _is_xml(media: str | None) -> bool:
    return media in ("application/xml", "text/xml") or bool(media and media.endswith("+xml"))


def _body_view(
    data: bytes, ctype: _ContentType, depth: int, limits: Limits, request: RawRequest
) -> View:
    media = ctype.media
    if grpcwire.is_grpc(media):  # framing has no magic number: the declared type decides
        method = request.url[_path_start(request.url) :].split("?")[0].split("#")[0]
        encodings = request.header_values("grpc-encoding")
        return grpcwire.grpc_view(data, media, method, encodings, depth, limits)
    if media == "application/x-www-form-urlencoded":
        return _Fields.parse(data, "form", lambda field: decode_text(field, ctype.charset))
    if media and media.startswith("multipart/"):
        return _multipart(data, ctype.boundary, depth, limits)
    return _payload_view(data, media, ctype.charset, "json:", "", (), depth, limits, None)


def _payload_view(
    data: bytes,
    media: str | None,
    charset: str | None,
    json_prefix: str,
    label: str,
    context: tuple[str, ...],
    depth: int,
    limits: Limits,
    filename: str | None,
) -> View:
    """A body or a file part: JSON, XML, text, or a registered binary handler."""
    if depth > limits.max_depth:
        raise Uninspectable("content nested deeper than max_depth")
    kind = _text_kind(media, filename)
    # The bytes decide before the label: a ZIP named "x.csv" is still a ZIP, gzip sent as
    # text/plain is still gzip.
    handler = BINARY_HANDLERS.get(sniff(data) or "")
    if handler is None and kind is None:
        handler = BINARY_HANDLERS.get(media or "")
    if handler is not None:
        return handler(data, label or "body", depth, limits)
    try:
        text, codec = decode_text(data, charset)
    except Uninspectable:
        if kind:
            raise
        return strings.strings_view(data, label or "body", limits.max_decoded_bytes)
    if kind is None and _looks_binary(text):
        return strings.strings_view(data, label or "body", limits.max_decoded_bytes)
    if kind == "json" or (kind is None and media is None and text.lstrip()[:1] in ("{", "[")):
        try:
            return _Json.parse(text, codec, json_prefix)
        except ValueError:
            if kind == "json" and not filename:
                raise Uninspectable(f"body declared {media} is not valid JSON") from None
    delimiter = _table_delimiter(media, filename) if kind == "text" else None
    if delimiter:
        return documents.table_view(text, codec, label or "body", delimiter)
    return _Text(text, codec, label or _TEXT_LOCATION.get(kind or "", "body"), context)


_TEXT_LOCATION = {"text": "text", "xml": "xml"}
_TABLE_TYPES = {"text/csv": ",", "application/csv": ",", "text/tab-separated-values": "\t"}
_TABLE_EXTENSIONS = {"csv": ",", "tsv": "\t", "tab": "\t"}


def _table_delimiter(media: str | None, filename: str | None) -> str | None:
    if media in _TABLE_TYPES:
        return _TABLE_TYPES[media]
    extension = filename.rpartition(".")[2].lower() if filename and "." in filename else ""
    return _TABLE_EXTENSIONS.get(extension)


def _text_kind(media: str | None, filename: str | None) -> str | None:
    """ "json" | "xml" | "text" by type, then by file extension; None when neither says."""
    if _is_json(media):
        return "json"
    if _is_xml(media):
        return "xml"
    if (media and media.startswith("text/")) or media in ("application/csv", "application/x-ndjson"):
        return "text"
    extension = filename.rpartition(".")[2].lower() if filename and "." in filename else ""
    if extension in _TEXT_EXTENSIONS:
        return {"json": "json", "xml": "xml"}.get(extension, "text")
    return None


_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")


def _looks_binary(text: str) -> bool:
    """NUL, or more than 1 in 100 control characters: not text, whatever it decoded as."""
    return "\x00" in text or len(_CONTROL.findall(text[:65536])) * 100 > min(len(text), 65536)


# ---------------------------------------------------------------- documents and archives


def _entry_view(data: bytes, filename: str, label: str, depth: int, limits: Limits) -> View | None:
    """One file inside an archive or document, opened like an uploaded file. An entry path
    withheld like an upload's file name (``_withheld``: ``export.zip:张伟/身份证.jpg``) is a
    segment and its place is ``{k}`` plus the extensions, ``k`` counting such entries in the
    request (``export.zip:{0}.jpg``): unique, and derived from neither name nor content."""
    if not data:
        return None
    # the entry's path: the file name (zip, tar), or what follows the last ":" (git's blobs
    # are opened by their base name)
    path = filename if label.endswith(":" + filename) else label.rpartition(":")[2]
    if not (filename and path.endswith(filename) and ":" in label and withheld(path, True)):
        return _payload_view(data, None, None, label + ":", label, (), depth, limits, filename)
    label = f"{label[: -len(path) - 1]}:{{{_withheld_entry(limits)}}}{extension(filename)}"
    view = _payload_view(data, None, None, label + ":", label, (), depth, limits, filename)
    return _NamedPart(Segment(path, label), view)


def _withheld_entry(limits: Limits) -> int:
    """How many entries the request being extracted withheld before this one. Counted per
    request by its Budget (``extract`` makes one each time), so only a request with such an
    entry pays for the count."""
    budget = current_budget(limits.max_decoded_bytes)
    seen = _WITHHELD_ENTRIES.get(None)
    if seen is None or seen.budget is not budget:
        seen = _EntryCount(budget)
        _WITHHELD_ENTRIES.set(seen)
    seen.count += 1
    return seen.count - 1


@dataclass(slots=True)
class _EntryCount:
    budget: Budget  # the request's
    count: int = 0  # entries withheld in it so far


_WITHHELD_ENTRIES: ContextVar[_EntryCount] = ContextVar("baomi_withheld_entries")


def sniff(data: bytes) -> str | None:
    """The media type of ``data`` by its magic number, or None (see BINARY_HANDLERS)."""
    return (documents.sniff(data) or archives.sniff(data) or images.sniff(data)
            or gitpack.sniff(data))


# One table, built once from the openers this module imports. Each opener gets _entry_view to
# open what it contains (a ZIP's members, a tar's files): passed in, so no opener imports
# this module and nothing registers itself at import time.
BINARY_HANDLERS: dict[str, BinaryHandler] = {
    **documents.handlers(_entry_view),
    **archives.handlers(_entry_view),
    **images.handlers(_entry_view),
    **gitpack.handlers(_entry_view),
}
