"""`baomi scan`: the proxy's extraction, detection and decision, offline.

    baomi scan body.json --content-type application/json
    baomi scan --json capture.har flows.mitm
    cat body.txt | baomi scan -

An INPUT is a raw body file (`-` for stdin), a HAR file, or a mitmproxy flow file; for
HAR and flow files every request in it is scanned with its own URL and headers.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from policies.facts import RequestFacts
from proxy.errors import UsageError
from proxy.extraction.extract import Limits, RawRequest
from proxy.pipeline import process
from proxy.workers.inspection import Inspection, inspect_request


@dataclass(frozen=True)
class ScanResult:
    input: str
    url: str
    findings: tuple
    action: str
    rule: str
    reason: str

    def as_json(self, show_values: bool) -> dict:
        findings = []
        for f in self.findings:
            item = {"entity": f.entity, "score": round(f.score, 2), "location": f.location,
                    "masked": f.masked()}
            if show_values:
                item["value"] = f.value
            findings.append(item)
        return {"input": self.input, "url": self.url, "findings": findings,
                "decision": {"action": self.action, "rule": self.rule, "reason": self.reason}}


def requests_in(path: str, content_type: str | None, url: str) -> Iterator[tuple[str, RawRequest]]:
    """(label, request) for every request an input holds."""
    if path == "-":
        yield "-", _raw_body(sys.stdin.buffer.read(), content_type, url)
        return
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{path}: no such file")
    data = p.read_bytes()
    if p.suffix.lower() == ".har" or _looks_like_har(data):
        yield from _har_requests(path, data)
    elif p.suffix.lower() in (".flow", ".flows", ".mitm", ".mitmproxy") or _looks_like_flows(data):
        yield from _flow_requests(path)
    else:
        yield path, _raw_body(data, content_type, url)


def _raw_body(body: bytes, content_type: str | None, url: str) -> RawRequest:
    headers = (("content-type", content_type),) if content_type else ()
    return RawRequest(method="POST", url=url, headers=headers, body=body, hosts=_hosts(url, headers))


def _hosts(url: str, headers: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    """The names the proxy would inspect: the URL's host and the Host header's."""
    names = [urlsplit(url).hostname or ""]
    names += [v.rsplit(":", 1)[0] if not v.endswith("]") else v for k, v in headers if k == "host"]
    return tuple(n for n in names if n)


def _looks_like_har(data: bytes) -> bool:
    head = data[:200].lstrip()
    if not head.startswith(b"{") or b'"log"' not in data[:4096]:
        return False
    try:
        return "entries" in json.loads(data)["log"]
    except (ValueError, KeyError, TypeError):
        return False


def _looks_like_flows(data: bytes) -> bool:
    # mitmproxy flow files are tnetstrings: "<length>:" then a dict ("}" at the end of the item)
    return data[:12].split(b":", 1)[0].isdigit()


def _har_requests(path: str, data: bytes) -> Iterator[tuple[str, RawRequest]]:
    try:
        entries = json.loads(data)["log"]["entries"]
    except (ValueError, KeyError, TypeError) as e:
        raise UsageError(f"{path}: not a HAR file ({type(e).__name__})") from None
    for i, entry in enumerate(entries):
        req = entry.get("request", {})
        headers = tuple((h["name"].lower(), h["value"]) for h in req.get("headers", ())
                        if not h["name"].startswith(":"))
        post = req.get("postData") or {}
        text = post.get("text", "")
        body = base64.b64decode(text) if post.get("encoding") == "base64" else text.encode()
        if post.get("mimeType") and not any(k == "content-type" for k, _ in headers):
            headers += (("content-type", post["mimeType"]),)
        # HAR bodies are stored decoded: drop Content-Encoding so we do not decode twice.
        headers = tuple((k, v) for k, v in headers if k != "content-encoding")
        url = req.get("url", "")
        yield f"{path}#{i}", RawRequest(req.get("method", "GET"), url, headers, body,
                                        hosts=_hosts(url, headers))


def _flow_requests(path: str) -> Iterator[tuple[str, RawRequest]]:
    from mitmproxy import http, io
    from mitmproxy.exceptions import FlowReadException

    with open(path, "rb") as f:
        try:
            for i, flow in enumerate(io.FlowReader(f).stream()):
                if not isinstance(flow, http.HTTPFlow):
                    continue
                r = flow.request
                headers = tuple((k.lower(), v) for k, v in r.headers.items(multi=True))
                yield f"{path}#{i}", RawRequest(r.method, r.pretty_url, headers, r.raw_content or b"",
                                                hosts=(r.host, r.pretty_host))
        except FlowReadException as e:
            raise UsageError(f"{path}: not a mitmproxy flow file ({e})") from None


def facts_for(raw: RawRequest) -> RequestFacts:
    u = urlsplit(raw.url)
    scheme = u.scheme or "https"
    return RequestFacts(
        source_ip="127.0.0.1", host=(u.hostname or "").lower(),
        port=u.port or (443 if scheme == "https" else 80), scheme=scheme, method=raw.method,
        path=u.path or "/", time=datetime.now(UTC),
    )


def scan(policy, detector, inputs: list[str], content_type: str | None, url: str) -> Iterator[ScanResult]:
    """Each request through ``proxy.pipeline.process``, the function the proxy uses, with
    the detector in this process instead of the worker pool."""

    async def inspect(raw: RawRequest, limits: Limits, timeout: float) -> Inspection:
        return inspect_request(detector, raw, limits)

    for path in inputs:
        for label, raw in requests_in(path, content_type, url):
            facts = facts_for(raw)
            outcome = asyncio.run(process(policy, facts, destination_names(raw), raw, inspect))
            d = outcome.decision
            findings = outcome.inspection.findings if outcome.inspection else ()
            yield ScanResult(label, raw.url, findings, d.would_be or d.action, d.rule, d.reason)


def destination_names(raw: RawRequest) -> tuple[str, ...]:
    """The names the proxy decides on for this request, in its order: the URL's host (in the
    proxy: the SNI), then the Host header's."""
    hosts = tuple(n.lower().rstrip(".") for n in raw.hosts)
    return tuple(dict.fromkeys(hosts)) or ((urlsplit(raw.url).hostname or ""),)


def print_human(result: ScanResult, show_values: bool, out=sys.stdout) -> None:
    print(f"{result.input}  {result.url}", file=out)
    print(f"  decision: {result.action} (rule {result.rule})" + (f": {result.reason}" if result.reason else ""), file=out)
    for f in result.findings:
        shown = f.value if show_values else f.masked()
        print(f"  {f.entity:<16} {f.score:.2f}  {f.location:<32} {shown}", file=out)
    if not result.findings:
        print("  no findings", file=out)
