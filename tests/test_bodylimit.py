"""Request bodies are limited, responses never are (proxy.bodylimit), through the real proxy.

The first test pins the mitmproxy internals ``proxy.bodylimit`` relies on, so an upgrade
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

import httpx
import pytest

from harness import REPO, BaomiProcess

LIMIT = 1 << 20  # the test policy's max_body_bytes
BIG = 3 * LIMIT + 12345  # a download well over the request limit
PAYLOAD = os.urandom(BIG)


def test_mitmproxy_internals_bodylimit_relies_on() -> None:
    from mitmproxy.proxy.layers import http as http_layers

    from proxy import bodylimit

    stream = http_layers.HttpStream
    assert list(inspect.signature(stream.check_body_size).parameters) == ["self", "request"]
    for name in ("send_response", "flow_done", "state_errored", "request_body_buf"):
        assert hasattr(stream, name) or name in stream.__init__.__code__.co_names, name
    assert "HttpStream(ctx, stream_id)" in inspect.getsource(http_layers.HttpLayer.make_stream)
    bodylimit.install()
    assert http_layers.HttpStream is bodylimit.LimitedRequestStream


class _Origin(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    posts: list[int] = []

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


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    data = tmp_path_factory.mktemp("bodylimit")
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
