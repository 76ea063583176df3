"""Acting on a decision, without mitmproxy: what a refused client is told.

A refusal says which rule stopped the request, the kinds of data in words, the incident
id and what to do next; it never echoes the data (only kinds and counts). API clients get
the OpenAI-style error body SDKs show (``{"error": {"message", "type", "code"}}``),
browsers a page for staff; both in English or Chinese by ``Accept-Language``
(words in ``proxy.act.refusal_text``).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass

from proxy.act import refusal_text
from proxy.act.application_link import application_url
from proxy.extraction import gitpack, grpcwire
from proxy.record.decisions import DecisionRecord

APPROVAL_HINT = (
    "If this transfer is needed for your work, ask your data-protection officer for an approval "
    "(source, destination, data, purpose, agreement) and quote the incident id."
)
# The page loads nothing and runs nothing: only its own <style>.
PAGE_CSP = ("default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'")


@dataclass(frozen=True, slots=True)
class Answer:
    """What baomi answers a refused client with: status, headers, body."""

    status: int
    headers: dict[str, str]
    body: bytes


def refusal(record: DecisionRecord, *, content_type: str, path: str, body: bytes, accept: str,
            accept_language: str, status: int = 403) -> Answer:
    """The refusal in the client's own protocol: gRPC and git clients only show an error they
    can parse; API clients get JSON, browsers a page, in English or Chinese.

    refusal(record, content_type="application/json", path="/v1/chat", body=b"...",
            accept="*/*", accept_language="zh-CN").status -> 403
    """
    lang = refusal_text.language(accept_language)
    if content_type.lower().startswith("application/grpc"):
        protocol = grpcwire.grpc_refusal(refusal_message(record, lang))
    elif path.partition("?")[0].endswith("/git-receive-pack"):
        protocol = gitpack.push_refusal(body, refusal_message(record, lang))
    else:
        protocol = None
    if protocol is not None:
        code, fields, payload = protocol
        return Answer(code, dict(fields) | _incident_header(record), payload)
    page, ctype = block_body(record, accept, lang)
    headers = {"content-type": ctype, "content-language": refusal_text.CONTENT_LANGUAGE[lang],
               **_incident_header(record), "cache-control": "no-store"}
    if ctype.startswith("text/html"):
        headers["content-security-policy"] = PAGE_CSP
    return Answer(status, headers, page)


def auth_challenge(realm: str) -> Answer:
    """407: the proxy wants (other) credentials. Nothing is recorded or forwarded."""
    return Answer(407, {"proxy-authenticate": f'Basic realm="{realm}"',
                        "content-type": "text/plain", "cache-control": "no-store"},
                  b"baomi: proxy authentication required\n")


# A refusal whose record could not be written (disk full) must not quote an id that exists
# nowhere: its incident id is empty, and the answer says it was not recorded.
NOT_RECORDED = {"en": "(not recorded: the incident log cannot write)", "zh": "（未能记录：事件日志无法写入）"}


def _incident(record: DecisionRecord, lang: str) -> str:
    return record.incident_id or NOT_RECORDED.get(lang, NOT_RECORDED["en"])


def _incident_header(record: DecisionRecord) -> dict[str, str]:
    return {"x-baomi-incident": record.incident_id} if record.incident_id else {}


def block_body(record: DecisionRecord, accept: str, lang: str = "en") -> tuple[bytes, str]:
    """The refusal body and its content type: a page for browsers, JSON for everything else.

    ``lang`` is ``refusal_text.language(accept_language)``.
    """
    if "html" in accept and "json" not in accept.split(",")[0]:
        return block_page(record, lang).encode(), "text/html; charset=utf-8"
    error: dict[str, str | None] = {
        "message": refusal_message(record, lang),
        "type": "policy_violation",
        "code": record.rule,
        "incident": record.incident_id or None,
    }
    apply_url = application_url(record)
    if apply_url:  # added, never in place of a field SDKs already read
        error["application_url"] = apply_url
    info = {
        "error": error,
        "incident": record.incident_id or None,
        "rule": record.rule,
        "reason": record.reason,
        "data": record.entity_counts,
        "customer_records": record.records,
        "how_to_get_approval": APPROVAL_HINT,
    }
    return json.dumps(info, ensure_ascii=False).encode(), "application/json; charset=utf-8"


def refusal_message(record: DecisionRecord, lang: str) -> str:
    """One sentence for an SDK's error: rule, kinds of data in words, incident, what to do.

    "Blocked by the data-protection policy (rule block-ids-and-cards): the request contains
    resident ID number (1). Nothing was sent. Incident BM-...: to send this data, ask ..."
    """
    text = refusal_text.TEXT[lang]
    who = text.sender.format(user=record.user) if record.user else ""
    why = refusal_text.failure_words(record.rule, lang)
    if why is None and record.entity_counts:
        data = text.list_separator.join(
            text.count_inline.format(words=refusal_text.entity_words(entity, lang), n=n)
            for entity, n in record.entity_counts.items()
        )
        return who + text.message.format(rule=record.rule, data=data,
                                         incident=_incident(record, lang))
    return who + text.message_failure.format(rule=record.rule, why=why or record.reason,
                                             incident=_incident(record, lang))


def block_page(record: DecisionRecord, lang: str) -> str:
    """The page staff see in a browser: every inserted string escaped, nothing loaded."""
    text = refusal_text.TEXT[lang]
    e = html.escape
    why = refusal_text.failure_words(record.rule, lang)
    lead = text.lead_failure.format(why=why) if why else text.lead_data
    if record.user:  # "You, alice, tried to send this request." (escaped below like the rest)
        lead = text.sender.format(user=record.user) + lead
    rows = "".join(
        f"<li>{e(text.count.format(words=refusal_text.entity_words(entity, lang), n=n))}</li>"
        for entity, n in record.entity_counts.items()
    )
    found = f"<h2>{e(text.data_found)}</h2><ul class='data'>{rows}</ul>" if rows else ""
    people = (f"<p>{e(text.customer_records.format(n=record.records))}</p>"
              if record.records else "")
    incident = e(_incident(record, lang))
    steps = "".join(
        f"<li>{e(step).replace('{incident}', f'<code>{incident}</code>')}</li>"
        for step in (text.ask_approval, text.mistake)
    )
    apply_url = application_url(record)
    if apply_url:  # first step: the pre-filled application (no value in the link)
        steps = (f"<li><a class='apply' href='{e(apply_url)}'>{e(text.apply)}</a></li>"
                 + steps)
    return (
        f"<!doctype html><html lang='{refusal_text.CONTENT_LANGUAGE[lang]}'><head>"
        "<meta charset='utf-8'><meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{e(text.title)}</title><style>{PAGE_STYLE}</style></head><body><main>"
        f"<p class='brand'>baomi</p><h1>{e(text.heading)}</h1><p class='lead'>{e(lead)}</p>"
        f"{found}{people}"
        f"<dl><dt>{e(text.rule)}</dt><dd><code>{e(record.rule)}</code></dd>"
        f"<dt>{e(text.rule_reason)}</dt><dd>{e(refusal_text.in_words(record.reason, lang))}</dd>"
        f"<dt>{e(text.incident)}</dt><dd><code class='incident'>{incident}</code></dd></dl>"
        f"<h2>{e(text.next_steps)}</h2><ol>{steps}</ol>"
        f"<p class='note'>{e(text.not_shown)}</p></main></body></html>"
    )


PAGE_STYLE = (
    "body{margin:0;background:#f4f5f7;color:#1f2328;font:16px/1.6 system-ui,-apple-system,"
    "'Segoe UI','PingFang SC','Hiragino Sans GB','Microsoft YaHei','Noto Sans CJK SC',"
    "'WenQuanYi Micro Hei',sans-serif}"
    "main{max-width:44rem;margin:3rem auto;padding:2rem 2.5rem;background:#fff;"
    "border-top:6px solid #c62828;border-radius:6px;box-shadow:0 1px 4px rgba(0,0,0,.12)}"
    ".brand{margin:0;color:#c62828;font-weight:600;letter-spacing:.05em}"
    "h1{margin:.2rem 0 .6rem;font-size:1.7rem}h2{margin:1.6rem 0 .4rem;font-size:1.15rem}"
    ".lead{font-size:1.05rem}ul.data li{font-weight:600}"
    "dl{display:grid;grid-template-columns:max-content 1fr;gap:.4rem 1.2rem;margin:1.4rem 0;"
    "padding:1rem 1.2rem;background:#f8f9fa;border-radius:4px}dt{color:#59636e}dd{margin:0}"
    "code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.95em}"
    ".incident{font-size:1.05em;font-weight:700;user-select:all}"
    "ol li{margin:.3rem 0}.note{margin-top:1.6rem;color:#59636e;font-size:.9rem}"
    "a.apply{font-weight:600;color:#0b57d0}"
)
