"""End to end: the real `baomi run` bounds its client connections (proxy/hook/connections.py).

One proxy with short deadlines (``--head-timeout 1 --idle-timeout 2``) and a small cap
(``--max-connections 4``), raw sockets as clients:

- a slowloris (a request head trickled a byte at a time, never finished) is cut, in plain
  HTTP and for a CONNECT head; a CONNECT tunnel that never starts TLS is cut too;
- a keep-alive connection left idle after its response is closed;
- a slow upload (whole head, body trickled for longer than both deadlines) is not cut;
- over the cap a new connection is closed at once and counted, the open ones keep working.

Every wait is for an event (the server's EOF, a response); the deadlines themselves are the
only waiting.
"""

from __future__ import annotations

import contextlib
import select
import time

import httpx
import pytest
from harness import REPO, BaomiProcess, free_port
from prometheus_client.parser import text_string_to_metric_families
from rawhttp import connection, read_response, trickle_until_closed

pytestmark = pytest.mark.e2e

HEAD_TIMEOUT, IDLE_TIMEOUT, MAX_CONNECTIONS = 1, 2, 4
GIVE_UP = 60  # far beyond any deadline here: only a proxy that never closes reaches it
CLEAN = b'{"order": "SO-2026-000123", "qty": 2}'


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    data = tmp_path_factory.mktemp("connections")
    with BaomiProcess(REPO / "policies" / "default.yaml", data, metrics_port=free_port(),
                      extra_args=("--head-timeout", str(HEAD_TIMEOUT),
                                  "--idle-timeout", str(IDLE_TIMEOUT)),
                      env={"BAOMI_MAX_CONNECTIONS": str(MAX_CONNECTIONS)}) as px:
        yield px


def metric(proxy: BaomiProcess, name: str, **labels: str) -> float:
    text = httpx.get(f"http://127.0.0.1:{proxy.metrics_port}/metrics", timeout=10).text
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


def wait_for_metric(proxy: BaomiProcess, name: str, value: float, **labels: str) -> None:
    deadline = time.monotonic() + GIVE_UP
    while metric(proxy, name, **labels) != value:
        assert time.monotonic() < deadline, f"{name}{labels} never became {value}"
        time.sleep(0.05)


def post_head(http_up, path: str, length: int) -> bytes:
    return (f"POST {http_up.url(path)} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n").encode()


def test_a_slowloris_head_is_cut_after_the_head_timeout(proxy, http_up):
    before = metric(proxy, "baomi_connections_timed_out_total", timeout="head")
    head = f"GET {http_up.url('/slowloris')} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
    with connection(proxy) as s:
        assert trickle_until_closed(s, head + b"X-Padding: " + b"a" * 400) == b""  # no answer, cut
    assert metric(proxy, "baomi_connections_timed_out_total", timeout="head") == before + 1
    assert "/slowloris" not in [r.path for r in http_up.received]


def test_a_slowloris_connect_head_is_cut(proxy):
    with connection(proxy) as s:
        connect = b"CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n"
        assert trickle_until_closed(s, connect + b"X-Padding: " + b"a" * 400) == b""


def test_a_tunnel_that_never_starts_tls_is_cut(proxy, http_up):
    host = http_up.url("/").split("//", 1)[1].rstrip("/")
    with connection(proxy) as s:
        s.sendall(f"CONNECT {host} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        answer = trickle_until_closed(s)  # then silence: no ClientHello, no request
    assert answer.startswith(b"HTTP/1.1 200")


def test_an_idle_keep_alive_connection_is_closed(proxy, http_up):
    before = metric(proxy, "baomi_connections_timed_out_total", timeout="idle")
    with connection(proxy) as s:
        s.sendall(f"GET {http_up.url('/idle')} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        assert read_response(s).startswith(b"HTTP/1.1 200")
        s.sendall(f"GET {http_up.url('/idle/2')} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        assert read_response(s).startswith(b"HTTP/1.1 200")  # kept alive, reused
        assert trickle_until_closed(s) == b""
    assert metric(proxy, "baomi_connections_timed_out_total", timeout="idle") == before + 1


def test_a_slow_upload_with_a_whole_head_is_not_cut(proxy, http_up):
    """Trickled over ~4 s: longer than the head and the idle deadline together."""
    with connection(proxy) as s:
        s.sendall(post_head(http_up, "/slow-upload", len(CLEAN)))
        for i in range(0, len(CLEAN), 2):
            readable, _, _ = select.select([s], [], [], 0.2)
            assert not readable, "the proxy answered or closed during the upload"
            s.sendall(CLEAN[i:i + 2])
        assert read_response(s).startswith(b"HTTP/1.1 200")
    (got,) = [r for r in http_up.received if r.path == "/slow-upload"]
    assert got.body == CLEAN


def test_over_the_cap_a_connection_is_refused_and_the_open_ones_keep_working(proxy, http_up):
    wait_for_metric(proxy, "baomi_connections_open", 0)  # earlier tests' connections are gone
    before = metric(proxy, "baomi_connections_refused_total", reason="limit")
    with contextlib.ExitStack() as stack:
        uploads = [stack.enter_context(connection(proxy)) for _ in range(MAX_CONNECTIONS)]
        for n, s in enumerate(uploads):  # busy: a whole head, the body still to come
            s.sendall(post_head(http_up, f"/held/{n}", len(CLEAN)))
        wait_for_metric(proxy, "baomi_connections_open", MAX_CONNECTIONS)
        with connection(proxy) as extra:
            extra.sendall(f"GET {http_up.url('/extra')} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            assert trickle_until_closed(extra) == b""  # closed at once, nothing read or answered
        assert metric(proxy, "baomi_connections_refused_total", reason="limit") == before + 1
        for s in uploads:
            s.sendall(CLEAN)
            assert read_response(s).startswith(b"HTTP/1.1 200")
    assert "/extra" not in [r.path for r in http_up.received]
    assert {f"/held/{n}" for n in range(MAX_CONNECTIONS)} <= {r.path for r in http_up.received}
