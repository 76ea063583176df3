"""End to end: the real `baomi run` gives a request body a deadline (proxy/hook/httplayer.py).

One proxy with a short deadline (``--body-timeout 2 --body-min-rate 500``: 2 s after the head,
plus 1 s per 500 bytes received), raw sockets and a raw HTTP/2 client:

- a body trickled a few bytes a second is cut: 408, the connection closed, the upstream got
  nothing, counted (``baomi_connections_timed_out_total{timeout="body"}``) and recorded; so is
  a head followed by silence;
- a steady upload twice as long as the base deadline (its bytes earn it time) arrives whole;
- on HTTP/2 only the late stream gets the 408 and a reset; the connection's next stream works;
- a body streamed upstream as it arrives (over ``max_body_bytes`` with ``on_oversize: allow``,
  a second proxy) is aborted there mid-body: the upstream never gets it whole.

Every wait is for an event (the proxy's answer or EOF); the deadline itself is the only waiting.
"""

from __future__ import annotations

import json
import random
import select
import time

import h2.config
import h2.connection
import h2.events
import pytest
from harness import REPO, BaomiProcess, free_port
from rawhttp import connection, h2_events_until, h2_through, read_response, trickle_until_closed

pytestmark = pytest.mark.e2e

BODY_TIMEOUT, BODY_MIN_RATE = 2, 500
GIVE_UP = 60  # far beyond the deadline here: only a proxy that never cuts reaches it


@pytest.fixture(scope="module")
def proxy(tmp_path_factory, upstream_ca):
    data = tmp_path_factory.mktemp("body-deadline")
    with BaomiProcess(REPO / "policies" / "default.yaml", data, metrics_port=free_port(),
                      upstream_ca=upstream_ca.pem,
                      # lazy: the client is offered HTTP/2 though the upstream speaks only 1.1
                      extra_args=("--body-timeout", str(BODY_TIMEOUT),
                                  "--set", "connection_strategy=lazy"),
                      env={"BAOMI_BODY_MIN_RATE": str(BODY_MIN_RATE)}) as px:
        yield px


def post_head(url: str, length: int) -> bytes:
    return (f"POST {url} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {length}\r\n\r\n").encode()


def records(proxy: BaomiProcess, path: str) -> list[dict]:
    log = proxy.data_dir / "decisions.jsonl"
    lines = log.read_text().splitlines() if log.exists() else []
    return [r for r in map(json.loads, lines) if r.get("path") == path]


def wait_for_records(proxy: BaomiProcess, path: str) -> list[dict]:
    deadline = time.monotonic() + GIVE_UP
    while not (found := records(proxy, path)):
        assert time.monotonic() < deadline, f"no decision record for {path}"
        time.sleep(0.05)
    return found


def test_a_trickled_body_is_cut_with_408_and_nothing_reaches_the_upstream(proxy, https_up,
                                                                             http_up):
    before = proxy.metric("baomi_connections_timed_out_total", timeout="body")
    with connection(proxy) as s:
        s.sendall(post_head(http_up.url("/trickle"), 1000))
        answer = trickle_until_closed(s, b"x" * 1000)
    head = answer.partition(b"\r\n\r\n")[0]
    assert head.startswith(b"HTTP/1.1 408 ")
    assert b"connection: close" in head.lower()
    assert "/trickle" not in [r.path for r in http_up.received]
    assert proxy.metric("baomi_connections_timed_out_total", timeout="body") == before + 1
    (record,) = wait_for_records(proxy, "/trickle")
    assert (record["action"], record["rule"], record["reason"]) == \
        ("block", "on_protocol_error", "malformed request refused: request body timeout")
    assert proxy.metric("baomi_protocol_refusals_total", reason="request body timeout") >= 1


def test_a_head_with_no_body_byte_at_all_is_cut_too(proxy, http_up):
    with connection(proxy) as s:
        s.sendall(post_head(http_up.url("/silent-body"), 10))
        answer = trickle_until_closed(s, b"")  # then silence
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert "/silent-body" not in [r.path for r in http_up.received]


def test_a_steady_upload_longer_than_the_base_deadline_arrives_whole(proxy, http_up):
    """64 KiB at ~16 KiB/s: ~4 s, twice the base deadline; each 500 bytes earn 1 s more."""
    body = random.Random(12).randbytes(64 << 10)
    with connection(proxy) as s:
        s.sendall(post_head(http_up.url("/steady"), len(body)))
        started = time.monotonic()
        for i in range(0, len(body), 4096):
            readable, _, _ = select.select([s], [], [], 0.25)
            assert not readable, "the proxy answered or closed during the upload"
            s.sendall(body[i:i + 4096])
        assert time.monotonic() - started > BODY_TIMEOUT  # it really outlasted the base
        assert read_response(s).startswith(b"HTTP/1.1 200")
    (got,) = [r for r in http_up.received if r.path == "/steady"]
    assert got.body == body


# -- a body streamed upstream as it arrives ----------------------------------------------------

STREAM_OVER = 1024  # max_body_bytes of the streaming proxy's policy; on_oversize: allow


@pytest.fixture(scope="module")
def streaming_proxy(tmp_path_factory):
    """Over max_body_bytes with on_oversize allow, mitmproxy streams a body upstream as it
    arrives (stream_large_bodies); the deadline here is a fixed total (--body-min-rate 0)."""
    data = tmp_path_factory.mktemp("body-deadline-streaming")
    text = (REPO / "policies" / "default.yaml").read_text()
    policy = data / "policy.yaml"
    policy.write_text(text.replace("max_body_bytes: 10MiB", f"max_body_bytes: {STREAM_OVER}")
                      .replace("on_oversize: block", "on_oversize: allow"))
    assert "on_oversize: allow" in policy.read_text()
    with BaomiProcess(policy, data / "var", extra_args=(
            "--body-timeout", str(BODY_TIMEOUT), "--body-min-rate", "0")) as px:
        yield px


def test_a_late_streamed_body_is_aborted_upstream_never_complete(streaming_proxy, http_up):
    declared, sent_at_once = 5000, 1100  # over the limit: streamed from the first byte
    with connection(streaming_proxy) as s:
        s.sendall(post_head(http_up.url("/streamed"), declared) + b"y" * sent_at_once)
        answer = trickle_until_closed(s, b"y" * (declared - sent_at_once))
    assert answer.startswith(b"HTTP/1.1 408 ")  # the upstream had not answered yet
    # The upstream saw the head and part of the body, then its connection closed: a request
    # it can only read as cut short, never as complete.
    deadline = time.monotonic() + GIVE_UP  # the upstream's handler reads until that close
    while not (got := [len(r.body) for r in http_up.received if r.path == "/streamed"]):
        assert time.monotonic() < deadline, "the upstream never saw the streamed request"
        time.sleep(0.05)
    (length,) = got
    assert sent_at_once <= length < declared


# -- HTTP/2: the late stream alone -------------------------------------------------------------

def test_http2_a_late_stream_gets_408_and_a_reset_and_the_connection_goes_on(proxy, https_up):
    authority = f"localhost:{https_up.port}"
    head = [(":method", "POST"), (":scheme", "https"), (":authority", authority),
            (":path", "/h2-trickle"), ("content-type", "application/octet-stream"),
            ("content-length", "100")]
    before = proxy.metric("baomi_connections_timed_out_total", timeout="body")
    with h2_through(proxy, authority) as (tls, conn):
        conn.send_headers(1, head)
        conn.send_data(1, b"x")  # then nothing more on this stream
        tls.sendall(conn.data_to_send())
        events = h2_events_until(tls, conn, lambda seen: any(
            isinstance(e, h2.events.StreamReset) and e.stream_id == 1 for e in seen))
        (response,) = [e for e in events if isinstance(e, h2.events.ResponseReceived)]
        assert (response.stream_id, dict(response.headers)[b":status"]) == (1, b"408")
        conn.send_headers(3, [(":method", "GET"), (":scheme", "https"),
                              (":authority", authority), (":path", "/h2-after")],
                          end_stream=True)
        tls.sendall(conn.data_to_send())
        events = h2_events_until(tls, conn, lambda seen: any(
            isinstance(e, h2.events.StreamEnded) and e.stream_id == 3 for e in seen))
        (after,) = [e for e in events if isinstance(e, h2.events.ResponseReceived)]
        assert (after.stream_id, dict(after.headers)[b":status"]) == (3, b"200")
    assert [r.path for r in https_up.received if r.path.startswith("/h2-")] == ["/h2-after"]
    assert proxy.metric("baomi_connections_timed_out_total", timeout="body") == before + 1
