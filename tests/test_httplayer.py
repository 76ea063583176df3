"""Request bodies are limited, responses never are (proxy.hook.httplayer), through the real proxy.

The first test pins the mitmproxy internals ``proxy.hook.httplayer`` relies on, so an upgrade
that moves them fails here, loudly, instead of silently limiting downloads again.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import httpx
import pytest
from harness import REPO, BaomiProcess
from rawhttp import h11_exchange

LIMIT = 1 << 20  # the test policy's max_body_bytes
BIG = 3 * LIMIT + 12345  # a download well over the request limit
PAYLOAD = os.urandom(BIG)


def test_mitmproxy_internals_httplayer_relies_on() -> None:
    from mitmproxy.proxy.layers import http as http_layers

    from proxy.hook import httplayer

    stream = http_layers.HttpStream
    assert list(inspect.signature(stream.check_body_size).parameters) == ["self", "request"]
    for name in ("send_response", "flow_done", "state_errored", "request_body_buf",
                 "start_request_stream", "check_killed"):
        assert hasattr(stream, name) or name in stream.__init__.__code__.co_names, name
    assert "HttpStream(ctx, stream_id)" in inspect.getsource(http_layers.HttpLayer.make_stream)
    # response trailers: read_body calls its reader on the buffer (and read_eof), and the
    # HTTP/1 server writes the last chunk on ResponseEndOfMessage
    from mitmproxy.proxy.layers.http._http1 import Http1Connection, Http1Server

    source = inspect.getsource(Http1Connection.read_body)
    assert "self.body_reader(self.buf)" in source and "self.body_reader.read_eof()" in source
    assert 'b"0\\r\\n\\r\\n"' in inspect.getsource(Http1Server.send)
    httplayer.install()
    assert http_layers.HttpStream is httplayer.LimitedRequestStream


class _Origin(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    posts: ClassVar[list[int]] = []

    def do_GET(self):
        self.send_response(200)
        self.send_header("content-type", "application/octet-stream")
        self.send_header("content-length", str(len(PAYLOAD)))
        self.end_headers()
        self.wfile.write(PAYLOAD)

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        _Origin.posts.append(length)
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def origin():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Origin)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    data = tmp_path_factory.mktemp("httplayer")
    text = (REPO / "policies" / "default.yaml").read_text()
    policy = data / "policy.yaml"
    policy.write_text(text.replace("max_body_bytes: 10MiB", f"max_body_bytes: {LIMIT}"))
    assert f"max_body_bytes: {LIMIT}" in policy.read_text()
    with BaomiProcess(policy, data / "var") as px:
        yield px


def records(px) -> list[dict]:
    path = px.data_dir / "decisions.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.e2e
def test_download_over_the_request_limit_streams_through_intact(proxy, origin) -> None:
    digest = hashlib.sha256()
    with httpx.stream("GET", origin + "/big", proxy=proxy.url, timeout=30) as r:
        assert r.status_code == 200
        for chunk in r.iter_bytes():
            digest.update(chunk)
    assert digest.hexdigest() == hashlib.sha256(PAYLOAD).hexdigest()


@pytest.mark.e2e
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_oversize_upload_is_refused_at_once_with_an_incident(proxy, origin, chunked) -> None:
    body = b"x" * (LIMIT + 1)
    content = iter([body[i:i + 65536] for i in range(0, len(body), 65536)]) if chunked else body
    before = len(_Origin.posts)
    r = httpx.post(origin + "/up", content=content, proxy=proxy.url, timeout=15,
                   headers={"content-type": "text/plain"})
    assert r.status_code == 403
    info = r.json()
    assert info["rule"] == "on_oversize"
    assert r.headers["x-baomi-incident"] == info["incident"]
    assert len(_Origin.posts) == before  # nothing reached the upstream
    assert any(rec["incident_id"] == info["incident"] and rec["uninspected"] == "oversize"
               for rec in records(proxy))


@pytest.mark.e2e
def test_upload_under_the_limit_still_passes(proxy, origin) -> None:
    r = httpx.post(origin + "/up", content=b"plain text " * 1000, proxy=proxy.url, timeout=15,
                   headers={"content-type": "text/plain"})
    assert r.status_code == 200
    assert _Origin.posts[-1] == 11000


@pytest.mark.e2e
def test_failed_exchange_is_recorded_as_failed_not_only_as_allow(proxy) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    r = httpx.get(f"http://127.0.0.1:{dead}/gone", proxy=proxy.url, timeout=15)
    assert r.status_code == 502
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        mine = [rec for rec in records(proxy) if rec["path"] == "/gone"]
        if len(mine) == 2:
            break
        time.sleep(0.1)
    assert [rec["outcome"] for rec in mine] == [None, "upstream_connect"]
    assert mine[0]["incident_id"] == mine[1]["incident_id"]


@pytest.mark.e2e
def test_set_body_size_limit_that_conflicts_with_the_policy_is_refused(tmp_path) -> None:
    px = BaomiProcess(REPO / "policies" / "default.yaml", tmp_path / "var",
                      extra_args=("--set", "body_size_limit=1k"))
    with pytest.raises(RuntimeError) as e:
        px.start(timeout=60)
    assert "--set body_size_limit=1k: not accepted" in str(e.value)


def raw_exchange(px, data: bytes) -> bytes:
    """Send raw bytes to the proxy; everything it answers until it closes (or 10 s)."""
    out = b""
    with socket.create_connection(("127.0.0.1", px.port), timeout=10) as s:
        s.sendall(data)
        try:
            while chunk := s.recv(65536):
                out += chunk
        except TimeoutError:
            out += b"<timeout: the proxy left the client hanging>"
    return out


ID = "11010519491231002X"


@pytest.mark.e2e
@pytest.mark.parametrize(("name", "head", "body", "status", "reason"), [
    ("trailers", "Transfer-Encoding: chunked",
     f"5\r\nhello\r\n0\r\nX-Customer-Id: {ID}\r\n\r\n", b"HTTP/1.1 400", "chunked trailers"),
    ("cl-and-te", "Content-Length: 5\r\nTransfer-Encoding: chunked", "0\r\n\r\n",
     b"HTTP/1.1 400", "both Content-Length and Transfer-Encoding"),
    ("bad-chunk-size", "Transfer-Encoding: chunked", "zz\r\nhello\r\n0\r\n\r\n", b"",
     "bad chunked framing"),
])
def test_requests_the_parser_refuses_get_an_answer_and_a_record(
        proxy, origin, name, head, body, status, reason) -> None:
    before = len(_Origin.posts)
    target = origin + f"/refused-{name}"
    host = origin.split("//", 1)[1]
    answer = raw_exchange(proxy, f"POST {target} HTTP/1.1\r\nHost: {host}\r\n{head}\r\n\r\n{body}"
                          .encode())
    assert answer.startswith(status) and b"<timeout" not in answer, answer[:120]
    assert ID.encode() not in answer
    assert len(_Origin.posts) == before
    deadline = time.monotonic() + 10
    while not (mine := [r for r in records(proxy) if r["path"] == f"/refused-{name}"]):
        assert time.monotonic() < deadline, "no decision record for the refused request"
        time.sleep(0.1)
    assert [(r["action"], r["rule"], r["reason"]) for r in mine] == \
        [("block", "on_protocol_error", f"malformed request refused: {reason}")]
    assert ID not in json.dumps(records(proxy))


class _TrailerOrigin(BaseHTTPRequestHandler):
    """A chunked response that ends with a trailer field (what gRPC-over-HTTP/1 gateways and
    some CDNs send)."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.send_response(200)
        self.send_header("transfer-encoding", "chunked")
        self.send_header("trailer", "x-checksum")
        self.end_headers()
        self.wfile.write(b"5\r\nhello\r\n6\r\n world\r\n0\r\nx-checksum: abc\r\n\r\n")

    def log_message(self, *args):
        pass


@pytest.mark.e2e
def test_response_with_trailers_is_delivered_whole(proxy) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TrailerOrigin)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for _ in range(2):  # and the proxy is still fine afterwards
            r = httpx.get(f"http://127.0.0.1:{server.server_address[1]}/t", proxy=proxy.url,
                          timeout=10)
            assert (r.status_code, r.content) == (200, b"hello world")
    finally:
        server.shutdown()
        server.server_close()
    log = proxy.log_text()
    assert "has crashed" not in log, log[log.find("has crashed"):][:3000]


@pytest.mark.e2e
def test_response_trailers_reach_an_http1_client(proxy) -> None:
    """The trailer fields of a chunked response arrive after its last chunk, and the kept-alive
    connection goes on (they were dropped: mitmproxy 12.3's HTTP/1 layer cannot send them)."""
    import h11

    server = ThreadingHTTPServer(("127.0.0.1", 0), _TrailerOrigin)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    target = f"http://127.0.0.1:{server.server_address[1]}/t"
    try:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
            client = h11.Connection(h11.CLIENT)
            for _ in range(2):
                request = h11.Request(method="GET", target=target,
                                      headers=[("host", target.split("/")[2]), ("te", "trailers")])
                events = h11_exchange(sock, client, request)
                response, *data, end = events
                assert response.status_code == 200
                assert (b"trailer", b"x-checksum") in response.headers
                assert b"".join(bytes(d.data) for d in data) == b"hello world"
                assert list(end.headers) == [(b"x-checksum", b"abc")]
                client.start_next_cycle()
    finally:
        server.shutdown()
        server.server_close()
    log = proxy.log_text()
    assert "has crashed" not in log, log[log.find("has crashed"):][:3000]
