"""Answering a flow: a refusal, a 407 challenge, a masked rewrite put in place.

The words and shapes of refusals are ``proxy.act.refusal`` (pure); this module only puts
them on mitmproxy's flow.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from mitmproxy import http

from proxy.act.refusal import Answer, auth_challenge, refusal
from proxy.record.decisions import DecisionRecord


def block(flow: http.HTTPFlow, record: DecisionRecord, status: int = 403) -> None:
    """Answer the client ourselves; the upstream receives nothing."""
    headers = flow.request.headers
    answer(flow, refusal(record, content_type=headers.get("content-type", ""),
                         path=flow.request.path, body=flow.request.raw_content or b"",
                         accept=headers.get("accept", ""),
                         accept_language=headers.get("accept-language", ""), status=status))


def challenge(flow: http.HTTPFlow, realm: str) -> None:
    answer(flow, auth_challenge(realm))


def answer(flow: http.HTTPFlow, reply: Answer) -> None:
    flow.response = http.Response.make(reply.status, reply.body, reply.headers)


def apply_rewrite(flow: http.HTTPFlow, rewritten) -> None:
    """Put the masked request in place: path and query, headers, body bytes as they go out."""
    parts = urlsplit(rewritten.url)
    new_path = parts.path + (f"?{parts.query}" if parts.query else "")
    if new_path and new_path != flow.request.path:
        flow.request.path = new_path
    for name, value in rewritten.headers:  # masked custom headers (X-Customer-Phone: 138********)
        if flow.request.headers.get(name) != value and name.lower() != "content-length":
            flow.request.headers[name] = value
    flow.request.raw_content = rewritten.body
    if "content-length" in flow.request.headers:
        flow.request.headers["content-length"] = str(len(rewritten.body))
