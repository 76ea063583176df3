"""Refusals through the real proxy, as real clients show them: the OpenAI SDK's exception text,
and the staff page in the language the browser asks for. The upstream receives nothing."""

from __future__ import annotations

import httpx
import openai
import pytest

pytestmark = pytest.mark.e2e

RESIDENT_ID = "11010519491231002X"
PROMPT = f"客户身份证 {RESIDENT_ID}，请核对"


@pytest.fixture(scope="module")
def proxy(default_proxy):
    return default_proxy  # only requests go through it: the session's default-policy baomi


def trusting(proxy) -> httpx.Client:
    return proxy.client(timeout=httpx.Timeout(5.0))  # httpx's default


def sdk(proxy, https_up, **headers) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-test", base_url=https_up.url("/v1"), max_retries=0,
                         default_headers=headers, http_client=trusting(proxy))


@pytest.mark.parametrize(
    ("headers", "words"),
    [({}, "resident ID number (1)"), ({"accept-language": "zh-CN"}, "居民身份证号（1 处）")],
)
def test_openai_sdk_shows_why_and_the_incident(proxy, https_up, headers, words):
    n = len(https_up.received)
    with sdk(proxy, https_up, **headers) as client, pytest.raises(openai.PermissionDeniedError) as raised:
        client.chat.completions.create(model="gpt-4o-mini",
                                       messages=[{"role": "user", "content": PROMPT}])
    error = raised.value
    incident = error.response.headers["x-baomi-incident"]
    assert incident.startswith("BM-") and incident in str(error)
    assert "block-ids-and-cards" in str(error) and words in str(error)
    assert (error.code, error.type) == ("block-ids-and-cards", "policy_violation")
    assert RESIDENT_ID not in str(error)
    assert len(https_up.received) == n


def test_browser_gets_the_chinese_page(proxy, https_up):
    with trusting(proxy) as client:
        r = client.post(https_up.url("/upload"), data={"note": PROMPT}, headers={
            "accept": "text/html,application/xhtml+xml", "accept-language": "zh-TW,zh;q=0.9,en;q=0.8"})
    assert r.status_code == 403
    assert r.headers["content-language"] == "zh-CN"
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert "居民身份证号：1 处" in r.text and r.headers["x-baomi-incident"] in r.text
    assert RESIDENT_ID not in r.text
