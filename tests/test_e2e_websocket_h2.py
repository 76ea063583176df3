"""WebSocket messages and HTTP/2 requests are inspected like HTTP/1.1 bodies, through the real
proxy: a blocked WebSocket message is dropped, the socket closed with 1008 (policy violation)
and the incident id on both sides, and it is recorded."""

from __future__ import annotations

import json
import ssl
import subprocess

import pytest
from apps import WebSocketAck
from harness import REPO, BaomiProcess, Upstream
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

pytestmark = pytest.mark.e2e

RESIDENT_ID = "11010519491231002X"
MOBILE = "13800138000"


@pytest.fixture(scope="module")
def proxy(default_proxy):
    return default_proxy  # only requests go through it: the session's default-policy baomi


@pytest.fixture(scope="module")
def ws_up(upstream_ca):
    with WebSocketAck(upstream_ca) as up:
        yield up


def ws_connect(proxy, up, path="/chat"):
    ctx = ssl.create_default_context(cafile=proxy.ca_pem)
    return connect(f"wss://127.0.0.1:{up.port}{path}", proxy=proxy.url, ssl=ctx, open_timeout=30)


def test_clean_websocket_messages_pass(proxy, ws_up):
    with ws_connect(proxy, ws_up) as ws:
        ws.send("hello, order SO-2026-1 shipped")
        assert ws.recv(timeout=30) == "ack"
    assert ws_up.received[-1] == "hello, order SO-2026-1 shipped"


def test_websocket_message_with_phone_is_masked(proxy, ws_up):
    with ws_connect(proxy, ws_up) as ws:
        ws.send(json.dumps({"customer": {"phone": MOBILE}}))
        assert ws.recv(timeout=30) == "ack"
    got = ws_up.received[-1]
    assert MOBILE not in got
    assert json.loads(got)["customer"]["phone"] == "138********"


def test_blocked_websocket_message_dropped_and_connection_closed(proxy, ws_up):
    n = len(ws_up.received)
    with ws_connect(proxy, ws_up, "/blocked") as ws:
        ws.send(f"客户身份证 {RESIDENT_ID}")
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=30)
    ws_records = [r for r in proxy.decisions()
                  if r["method"] == "WEBSOCKET" and r["action"] == "block"]
    assert ws_records and "CN_RESIDENT_ID" in ws_records[-1]["entity_counts"]
    reason = f"blocked by baomi, incident {ws_records[-1]['incident_id']}"
    # The client is told why (not a bare 1006), and the upstream socket is closed properly too.
    rcvd = closed.value.rcvd
    assert rcvd is not None, "closed without a close frame (1006)"
    assert (rcvd.code, rcvd.reason) == (1008, reason)
    assert ws_up.close_of("/blocked") == (1008, reason)
    # The server has closed, so it has read everything the proxy sent: the message was not.
    assert len(ws_up.received) == n


@pytest.fixture(scope="module")
def lazy_proxy(tmp_path_factory, upstream_ca):
    """mitmproxy offers the client only what the upstream speaks when it connects upstream first;
    our recording upstream speaks HTTP/1.1, so connect lazily to get HTTP/2 on the client side."""
    data = tmp_path_factory.mktemp("h2-data")
    with BaomiProcess(REPO / "policies" / "default.yaml", data, upstream_ca=upstream_ca.pem,
                      extra_args=("--set", "connection_strategy=lazy")) as px:
        yield px


def curl_h2(proxy, url: str, body: dict) -> tuple[str, str]:
    """(HTTP version line, status) of a curl --http2 POST through the proxy."""
    out = subprocess.run(
        ["curl", "-sS", "--http2", "-o", "/dev/null", "-w", "%{http_version} %{http_code}",
         "-x", proxy.url, "--cacert", proxy.ca_pem, "-H", "content-type: application/json",
         "--data-binary", json.dumps(body), url],
        capture_output=True, text=True, timeout=60,
    )
    version, status = out.stdout.split()
    return version, status


def test_http2_requests_are_inspected(lazy_proxy, upstream_ca):
    with Upstream(tls=upstream_ca) as up:
        assert curl_h2(lazy_proxy, up.url("/h2"), {"note": "clean"}) == ("2", "200")
        assert curl_h2(lazy_proxy, up.url("/h2"), {"id_no": RESIDENT_ID}) == ("2", "403")
        assert curl_h2(lazy_proxy, up.url("/h2"), {"mobile": MOBILE}) == ("2", "200")
        bodies = [r.body for r in up.received]
        assert len(bodies) == 2
        assert json.loads(bodies[0]) == {"note": "clean"}
        assert MOBILE.encode() not in bodies[1] and b"138********" in bodies[1]
