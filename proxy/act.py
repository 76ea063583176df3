"""Acting on a decision: the block page, applying a masked rewrite, the decision record.

The block page says which rule stopped the request and how to ask for an approval. It
never echoes the data: only entity names and counts.
"""

from __future__ import annotations

import html
import json
import secrets
from collections import Counter
from datetime import UTC, datetime
from urllib.parse import urlsplit

from mitmproxy import http

from policies.facts import Decision, RequestFacts
from proxy.incidents.redact import redact_record
from proxy.record import DecisionRecord

APPROVAL_HINT = (
    "If this transfer is needed for your work, ask your data-protection officer for an approval "
    "(source, destination, data, purpose, agreement) and quote the incident id."
)


def new_incident_id(now: datetime | None = None) -> str:
    """Time-sortable and unguessable: ``BM-20261127T153000Z-9f3a1c2b``."""
    now = now or datetime.now(UTC)
    return f"BM-{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


def decision_record(facts: RequestFacts, decision: Decision, inspection, *, policy_hash: str,
                    mode: str, seconds: float, uninspected: str | None = None,
                    error_stage: str | None = None) -> DecisionRecord:
    findings = inspection.findings if inspection else ()
    counts = Counter(f.entity for f in findings)
    evidence = tuple(
        {"entity": f.entity, "location": f.location, "score": round(f.score, 2), "value": f.value,
         "context": ctx_text}
        for f, ctx_text in zip(findings, inspection.contexts if inspection else (), strict=False)
    )
    masked = sorted({f.masked() for f in findings})
    return redact_record(DecisionRecord(  # clear fields: no raw value even from a URL path
        time=facts.time.isoformat().replace("+00:00", "Z"),
        incident_id=new_incident_id(facts.time),
        source=facts.source_ip,
        user=facts.user,
        scheme=facts.scheme,
        host=facts.host,
        port=facts.port,
        method=facts.method,
        path=facts.path,
        mode=mode,
        action=decision.action,
        rule=decision.rule,
        enforced=decision.would_be is None,
        would_be=decision.would_be,
        reason=decision.reason,
        entity_counts=dict(sorted(counts.items())),
        masked=masked[:50],
        locations=sorted({f.location for f in findings})[:50],
        policy_hash=policy_hash,
        approval=decision.approval,
        uninspected=uninspected,
        error_stage=error_stage,
        bytes_inspected=inspection.bytes_inspected if inspection else 0,
        inspect_seconds=round(seconds, 6),
        records=decision.records,
        evidence=evidence,
    ))


def block(flow: http.HTTPFlow, record: DecisionRecord, status: int = 403) -> None:
    """Answer the client ourselves; the upstream receives nothing."""
    body, ctype = block_body(record, flow.request.headers.get("accept", ""))
    flow.response = http.Response.make(
        status, body,
        {"content-type": ctype, "x-baomi-incident": record.incident_id, "cache-control": "no-store"},
    )


def block_body(record: DecisionRecord, accept: str) -> tuple[bytes, str]:
    info = {
        "error": "blocked by the data-protection policy",
        "incident": record.incident_id,
        "rule": record.rule,
        "reason": record.reason,
        "data": record.entity_counts,
        "customer_records": record.records,
        "how_to_get_approval": APPROVAL_HINT,
    }
    if "html" in accept and "json" not in accept.split(",")[0]:
        rows = "".join(
            f"<li>{html.escape(k)}: {v}</li>" for k, v in record.entity_counts.items()
        ) or "<li>(inspection could not finish)</li>"
        page = (
            "<!doctype html><html><head><meta charset='utf-8'><title>Blocked by baomi</title></head>"
            "<body><h1>Request blocked</h1>"
            f"<p>This request was stopped by the data-protection policy rule "
            f"<code>{html.escape(record.rule)}</code>. {html.escape(record.reason)}</p>"
            f"<p>Data found:</p><ul>{rows}</ul>"
            + (f"<p>Customer records: {record.records}</p>" if record.records else "")
            + f"<p>Incident: <code>{html.escape(record.incident_id)}</code></p>"
            f"<p>{html.escape(APPROVAL_HINT)}</p></body></html>"
        )
        return page.encode(), "text/html; charset=utf-8"
    return json.dumps(info, ensure_ascii=False).encode(), "application/json; charset=utf-8"


def apply_rewrite(flow: http.HTTPFlow, rewritten) -> None:
    """Put the masked request in place: path and query, headers, body bytes as they go out."""
    parts = urlsplit(rewritten.url)
    new_path = parts.path + (f"?{parts.query}" if parts.query else "")
    if new_path and new_path != flow.request.path:
        flow.request.path = new_path
    for name, value in rewritten.headers:  # masked custom headers (X-Customer-Phone: 138****8000)
        if flow.request.headers.get(name) != value and name.lower() != "content-length":
            flow.request.headers[name] = value
    flow.request.raw_content = rewritten.body
    if "content-length" in flow.request.headers:
        flow.request.headers["content-length"] = str(len(rewritten.body))
