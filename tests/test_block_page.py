"""Refusals: the OpenAI-style JSON error API clients show, the staff page in Chinese or English,
the language chosen by Accept-Language, and never a value in either."""

from __future__ import annotations

import html
import json
import re
from dataclasses import replace

import httpx
import openai
import pytest
from mitmproxy.test import taddons, tflow

from policies.entities import KNOWN_ENTITIES
from proxy.act import refusal_text
from proxy.act.refusal import block_body
from proxy.hook import websocket_close
from proxy.hook.respond import block
from proxy.record.decisions import DecisionRecord

RESIDENT_ID = "11010519491231002X"
CARD = "6222021234567890126"
INCIDENT = "BM-20261205T213000Z-9f3a1c2b"

RECORD = DecisionRecord(
    time="2026-12-05T21:30:00Z", incident_id=INCIDENT, source="10.0.0.5", user=None,
    scheme="https", host="api.example.com", port=443, method="POST", path="/v1/chat/completions",
    mode="regular", action="block", rule="block-ids-and-cards", enforced=True, would_be=None,
    reason="Resident ID, passport and payment card numbers never leave the company "
           "(CN_RESIDENT_ID x1, CREDIT_CARD x1)",
    entity_counts={"CN_RESIDENT_ID": 1, "CREDIT_CARD": 1}, masked=["11****************"],
    locations=["json:$.messages[0].content"], policy_hash="sha256:0", records=1,
    evidence=({"entity": "CN_RESIDENT_ID", "value": RESIDENT_ID, "context": f"id {RESIDENT_ID}"},
              {"entity": "CREDIT_CARD", "value": CARD, "context": f"card {CARD}"}),
)
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def refused(record=RECORD, accept="application/json", accept_language=None):
    """The response block() puts on a flow with these request headers."""
    flow = tflow.tflow()
    flow.request.headers["accept"] = accept
    if accept_language is not None:
        flow.request.headers["accept-language"] = accept_language
    block(flow, record)
    return flow.response


# -- language ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("header", "lang"),
    [
        ("zh", "zh"),
        ("zh-CN", "zh"),
        ("zh-Hans", "zh"),
        ("zh-TW", "zh"),
        ("zh-Hant-HK,zh;q=0.9", "zh"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        ("en;q=0.9, zh-CN", "zh"),  # q-values decide, not the order
        ("zh-Hans;q=0.9, en;q=0.8", "zh"),
        ("zh;q=0.1, en", "en"),
        ("fr-FR, zh;q=0.5", "zh"),  # the first language we have
        ("zh;q=0, en;q=0.1", "en"),  # q=0: not acceptable
        ("fr, de", "en"),
        ("*", "en"),
        ("", "en"),
        (";;q=x,,", "en"),
    ],
)
def test_language_from_accept_language(header, lang):
    assert refusal_text.language(header) == lang


def test_every_entity_has_words_in_both_languages():
    assert set(refusal_text.ENTITY_WORDS) == set(KNOWN_ENTITIES)
    for entity in KNOWN_ENTITIES:
        english, chinese = refusal_text.ENTITY_WORDS[entity]
        assert english and english != entity
        assert re.search(r"[\u4e00-\u9fff]", chinese), entity


def test_both_languages_fill_the_same_fields():
    en, zh = refusal_text.TEXT["en"], refusal_text.TEXT["zh"]
    for field in en.__dataclass_fields__:
        fields_en = set(re.findall(r"\{(\w+)\}", getattr(en, field)))
        assert fields_en == set(re.findall(r"\{(\w+)\}", getattr(zh, field))), field


# -- JSON ----------------------------------------------------------------------------------------

def test_json_refusal_has_the_openai_error_shape_and_keeps_the_old_fields():
    response = refused()
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.headers["content-language"] == "en"
    assert response.headers["x-baomi-incident"] == INCIDENT
    info = json.loads(response.content)
    error = info.pop("error")
    assert {k: v for k, v in error.items() if k != "message"} == {
        "type": "policy_violation", "code": "block-ids-and-cards", "incident": INCIDENT,
    }
    assert info == {
        "incident": INCIDENT,
        "rule": "block-ids-and-cards",
        "reason": RECORD.reason,
        "data": {"CN_RESIDENT_ID": 1, "CREDIT_CARD": 1},
        "customer_records": 1,
        "how_to_get_approval": (
            "If this transfer is needed for your work, ask your data-protection officer for an "
            "approval (source, destination, data, purpose, agreement) and quote the incident id."),
    }
    assert error["message"] == (
        "Blocked by the data-protection policy (rule block-ids-and-cards): the request contains "
        "resident ID number (1), payment card number (1). Nothing was sent. Incident "
        f"{INCIDENT}: to send this data, ask your data-protection officer for a transfer "
        "approval quoting the incident id; if this is a mistake, contact the data-protection "
        "officer.")


def test_json_message_in_chinese():
    response = refused(accept_language="zh-CN,zh;q=0.9")
    assert response.headers["content-language"] == "zh-CN"
    message = json.loads(response.content)["error"]["message"]
    assert "居民身份证号（1 处）、银行卡号（1 处）" in message
    assert INCIDENT in message and "block-ids-and-cards" in message and "数据保护官" in message


def test_refusal_for_uninspected_content_says_why():
    record = replace(RECORD, rule="on_timeout", reason="detector did not answer in 5 s",
                     entity_counts={}, records=0)
    message = json.loads(refused(record).content)["error"]["message"]
    assert message.startswith("Blocked by the data-protection policy (rule on_timeout): "
                              "inspection took too long. Nothing was sent.")
    assert INCIDENT in message


def test_rule_without_data_quotes_its_reason():
    record = replace(RECORD, rule="block-paste-sites", reason="No uploads to paste sites",
                     entity_counts={}, records=0)
    message = json.loads(refused(record).content)["error"]["message"]
    assert message.startswith("Blocked by the data-protection policy (rule block-paste-sites): "
                              "No uploads to paste sites. Nothing was sent.")


@pytest.mark.parametrize("accept", ["application/json", BROWSER])
@pytest.mark.parametrize("accept_language", ["en", "zh-CN"])
def test_no_value_in_any_refusal(accept, accept_language):
    body = refused(accept=accept, accept_language=accept_language).content.decode()
    for secret in (RESIDENT_ID, RESIDENT_ID[:6], RESIDENT_ID[-8:], CARD, CARD[-8:], *RECORD.masked):
        assert secret not in body


def test_openai_sdk_shows_the_message_and_the_incident():
    """The real SDK parsing our body: its exception text is what a developer sees."""
    response = refused()

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(response.status_code, headers=dict(response.headers),
                              content=response.content)

    client = openai.OpenAI(api_key="sk-test", base_url="https://api.example.com/v1",
                           max_retries=0, http_client=httpx.Client(transport=httpx.MockTransport(answer)))
    with pytest.raises(openai.PermissionDeniedError) as raised:
        client.chat.completions.create(model="gpt-4o-mini",
                                       messages=[{"role": "user", "content": "hi"}])
    error = raised.value
    expected = json.loads(response.content)["error"]["message"]
    assert expected in error.message and expected in str(error)
    assert INCIDENT in str(error)
    assert error.code == "block-ids-and-cards"
    assert error.type == "policy_violation"
    assert error.status_code == 403


# -- HTML ----------------------------------------------------------------------------------------

def test_page_in_chinese_names_the_data_in_words():
    response = refused(accept=BROWSER, accept_language="zh-TW,zh;q=0.9,en;q=0.8")
    page = response.content.decode()
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-language"] == "zh-CN"
    assert "<html lang='zh-CN'>" in page
    assert "<li>居民身份证号：1 处</li><li>银行卡号：1 处</li>" in page
    assert "此请求未发出" in page and "数据保护官" in page and "数据传输审批" in page
    assert f"<code class='incident'>{INCIDENT}</code>" in page
    assert "<code>block-ids-and-cards</code>" in page
    assert "CN_RESIDENT_ID" not in page and "CREDIT_CARD" not in page  # words, not codes


def test_page_in_english_by_default():
    response = refused(accept=BROWSER)
    page = response.content.decode()
    assert response.headers["content-language"] == "en"
    assert "<html lang='en'>" in page
    assert "<li>resident ID number: 1</li><li>payment card number: 1</li>" in page
    assert "transfer approval" in page and f"quote incident <code>{INCIDENT}</code>" in page
    assert "contact the data-protection officer" in page
    assert "CN_RESIDENT_ID" not in page


def test_page_loads_nothing_and_runs_nothing():
    response = refused(accept=BROWSER)
    page = response.content.decode().lower()
    assert "<script" not in page
    assert not re.search(r"<[^>]+\son\w+\s*=", page)  # no event handler attributes
    assert not re.search(r"\b(src|href)\s*=", page)
    assert "http://" not in page and "https://" not in page and "@import" not in page
    assert response.headers["content-security-policy"].startswith("default-src 'none'")


def test_page_escapes_everything_it_is_given():
    hostile = replace(RECORD, rule="<script>alert(1)</script>",
                      reason="<img src=x onerror=alert(1)> & co",
                      entity_counts={"MY_<b>ENTITY</b>": 2})
    page = refused(hostile, accept=BROWSER).content.decode()
    assert "<script>" not in page and "<img" not in page and "<b>" not in page
    assert html.escape("<script>alert(1)</script>") in page
    assert html.escape("<img src=x onerror=alert(1)> & co") in page
    assert html.escape("MY_<b>ENTITY</b>: 2") in page  # an admin's entity: its name, escaped


def test_json_wins_when_the_client_asks_for_it_first():
    body, ctype = block_body(RECORD, "application/json, text/html", "en")
    assert ctype.startswith("application/json") and json.loads(body)["error"]["code"]


# -- WebSocket -----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("incident", "reason"),
    [
        (INCIDENT, f"blocked by baomi, incident {INCIDENT}"),
        (None, "blocked by baomi"),  # inspection failed before an incident id existed
    ],
)
def test_websocket_close_reason(incident, reason):
    assert websocket_close.close_reason(incident) == reason


def test_websocket_close_reason_fits_a_control_frame():
    reason = websocket_close.close_reason("BM-" + "事" * 60)  # 3 bytes each: cut mid-character
    assert len(reason.encode()) <= 123
    assert reason.startswith("blocked by baomi, incident BM-事") and reason.endswith("事")


def test_websocket_close_needs_a_live_layer():
    """No live connection (here: no proxy server at all): the caller must cut the connection."""
    with taddons.context():
        assert websocket_close.close_for_policy(tflow.twebsocketflow(), INCIDENT) is False
